//! Plain records read from and written to the database. Decoding uses only types that both
//! drivers support (TEXT, BIGINT, BLOB/BYTEA, BOOLEAN), so each struct is read the same way
//! from either backend.

use sqlx::Row;

use super::{StoreError, StoreResult, to_hash};
use crate::ledger::merkle::Hash;

/// A new party with its first API key and (optionally) its first signing key.
#[derive(Clone, Debug)]
pub struct NewParty {
    pub id: String,
    pub role: String,
    pub name: String,
    /// Validated attributes as JSON text.
    pub attributes: String,
    pub key: Option<NewKey>,
    pub api_key: NewApiKey,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct NewKey {
    pub kid: String,
    pub public_key: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct NewApiKey {
    pub id: String,
    /// SHA-256 of the bearer token; the token itself is never stored.
    pub token_hash: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct NewBond {
    pub id: String,
    pub issuer_id: String,
    pub ledger_id: String,
    pub kind: String,
    pub name: String,
    pub isin: Option<String>,
    pub currency: String,
    /// `,a,b,` so that `LIKE '%,a,%'` finds a category without a join table.
    pub categories: String,
    pub sdg_goals: String,
    /// The normalized bond spec as JSON text.
    pub spec: String,
}

#[derive(Clone, Debug, Default)]
pub struct BondFilter {
    pub kind: Option<String>,
    pub issuer_id: Option<String>,
    pub category: Option<String>,
    pub sdg_goal: Option<u8>,
}

#[derive(Clone, Debug)]
pub struct CallerRow {
    pub party_id: String,
    pub role: String,
}

#[derive(Clone, Debug)]
pub struct PartyRow {
    pub id: String,
    pub role: String,
    pub name: String,
    pub attributes: String,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct KeyRow {
    pub kid: String,
    pub party_id: String,
    pub public_key: Vec<u8>,
    pub active: bool,
    pub created_at: String,
    pub retired_at: Option<String>,
}

#[derive(Clone, Debug)]
pub struct LedgerRow {
    pub id: String,
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct EntryRow {
    pub index: u64,
    pub kind: String,
    pub leaf: Vec<u8>,
    pub leaf_hash: Hash,
    pub created_at: String,
}

#[derive(Clone, Debug)]
pub struct CheckpointRow {
    pub size: u64,
    pub root: Hash,
    pub note: String,
}

#[derive(Clone, Debug)]
pub struct BondRow {
    pub id: String,
    pub issuer_id: String,
    pub ledger_id: String,
    pub kind: String,
    pub name: String,
    pub isin: Option<String>,
    pub currency: String,
    pub spec: String,
    pub created_at: String,
    pub ledger_size: u64,
}

fn non_negative(value: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}")))
}

impl CallerRow {
    pub(super) fn from_row<R: Row>(row: &R) -> StoreResult<Self>
    where
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(CallerRow {
            party_id: row.try_get("id")?,
            role: row.try_get("role")?,
        })
    }
}

impl PartyRow {
    pub(super) fn from_row<R: Row>(row: &R) -> StoreResult<Self>
    where
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(PartyRow {
            id: row.try_get("id")?,
            role: row.try_get("role")?,
            name: row.try_get("name")?,
            attributes: row.try_get("attributes")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl KeyRow {
    pub(super) fn from_row<R: Row>(row: &R) -> StoreResult<Self>
    where
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(KeyRow {
            kid: row.try_get("kid")?,
            party_id: row.try_get("party_id")?,
            public_key: row.try_get("public_key")?,
            active: row.try_get("active")?,
            created_at: row.try_get("created_at")?,
            retired_at: row.try_get("retired_at")?,
        })
    }
}

impl LedgerRow {
    pub(super) fn from_row<R: Row>(row: &R) -> StoreResult<Self>
    where
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(LedgerRow {
            id: row.try_get("id")?,
            origin: row.try_get("origin")?,
            size: non_negative(row.try_get("size")?, "size")?,
            root: to_hash(row.try_get("root")?)?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl EntryRow {
    pub(super) fn from_row<R: Row>(row: &R) -> StoreResult<Self>
    where
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(EntryRow {
            index: non_negative(row.try_get("idx")?, "index")?,
            kind: row.try_get("kind")?,
            leaf: row.try_get("leaf")?,
            leaf_hash: to_hash(row.try_get("leaf_hash")?)?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl CheckpointRow {
    pub(super) fn from_row<R: Row>(row: &R) -> StoreResult<Self>
    where
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(CheckpointRow {
            size: non_negative(row.try_get("size")?, "size")?,
            root: to_hash(row.try_get("root")?)?,
            note: row.try_get("note")?,
        })
    }
}

impl BondRow {
    pub(super) fn from_row<R: Row>(row: &R) -> StoreResult<Self>
    where
        for<'r> &'r str: sqlx::ColumnIndex<R>,
        for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        Ok(BondRow {
            id: row.try_get("id")?,
            issuer_id: row.try_get("issuer_id")?,
            ledger_id: row.try_get("ledger_id")?,
            kind: row.try_get("kind")?,
            name: row.try_get("name")?,
            isin: row.try_get("isin")?,
            currency: row.try_get("currency")?,
            spec: row.try_get("spec")?,
            created_at: row.try_get("created_at")?,
            ledger_size: non_negative(row.try_get("size")?, "size")?,
        })
    }
}
