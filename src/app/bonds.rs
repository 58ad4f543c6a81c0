//! Signed requests and the bond registry.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::engine::{Action, Append};
use super::parties::{not_found, require_role};
use super::{App, AppError, AppResult, Caller};
use crate::domain::bond::{BondSpec, DocumentSpec};
use crate::domain::book::BookTerms;
use crate::domain::error::FieldError;
use crate::domain::party::Role;
use crate::ledger::canon::{Jwk, verify_jcs};
use crate::ledger::entry::{Actor, SignedRequest, parse_index};
use crate::store::{BondFilter, BondRow, NewBond};

/// Bonds per page at most, and by default.
pub const BONDS_PAGE_MAX: u32 = 200;
pub const BONDS_PAGE_DEFAULT: u32 = 50;

/// A signed request whose signature verified with the caller's active key.
#[derive(Clone, Debug)]
pub struct Verified {
    pub request: SignedRequest,
    pub actor: Actor,
    pub nonce: u64,
}

/// The payload an issuer signs to register a bond.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBondPayload {
    /// Always `bond.register`.
    #[serde(rename = "type")]
    pub kind: String,
    pub kid: String,
    pub nonce: String,
    pub bond: BondSpec,
}

/// A registered bond: its terms as signed, and where its ledger stands.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BondView {
    pub id: String,
    pub issuer_id: String,
    pub ledger: LedgerRef,
    pub terms: BondSpec,
    pub registered_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerRef {
    /// The checkpoint origin of this bond's ledger.
    pub origin: String,
    /// Entries on the ledger now.
    pub size: String,
}

/// What registration returns: the bond, the entry index and the checkpoint that covers it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    pub bond: BondView,
    pub entry_index: String,
    pub checkpoint: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BondPage {
    pub items: Vec<BondView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next: Option<String>,
}

fn invalid(pointer: &str, code: &str, detail: impl Into<String>) -> AppError {
    AppError::Validation(vec![FieldError {
        pointer: pointer.into(),
        code: code.into(),
        detail: detail.into(),
    }])
}

impl App {
    async fn party_key_cached(
        &self,
        kid: &str,
    ) -> Result<(crate::store::KeyRow, ed25519_dalek::VerifyingKey), crate::store::StoreError> {
        if let Some(found) = self.keys.get(&kid.to_owned()) {
            return Ok(found);
        }
        let row = self.store.party_key(kid).await?;
        // Decoded once (a point decompression costs a sixth of a signature check).
        let key = <[u8; 32]>::try_from(row.public_key.as_slice())
            .ok()
            .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
            .ok_or_else(|| crate::store::StoreError::Corrupt(format!("stored key {kid}")))?;
        self.keys.put(kid.to_owned(), (row.clone(), key));
        Ok((row, key))
    }

    /// Check a signed request: it names one of the caller's keys, that key is active, the nonce
    /// is a canonical decimal, the operation type is the expected one, and the Ed25519
    /// signature over the payload's JCS bytes verifies (strictly).
    pub async fn verify_signed(
        &self,
        caller: &Caller,
        request: SignedRequest,
        operation: &str,
    ) -> AppResult<Verified> {
        let Some(payload) = request.payload.as_object() else {
            return Err(invalid(
                "/payload",
                "payload_not_object",
                "the payload must be a JSON object",
            ));
        };
        let kind = payload
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind != operation {
            return Err(invalid(
                "/payload/type",
                "wrong_operation",
                format!("this endpoint takes a signed {operation:?} payload"),
            ));
        }
        let kid = payload.get("kid").and_then(Value::as_str).ok_or_else(|| {
            invalid(
                "/payload/kid",
                "kid_missing",
                "the payload must name the signing key's kid",
            )
        })?;
        // A kid is an RFC 7638 thumbprint: 43 base64url characters. Anything else names no key.
        if kid.len() != 43
            || !kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(AppError::Signature(format!(
                "no registered key has kid {kid:?}"
            )));
        }
        let nonce = payload
            .get("nonce")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid(
                    "/payload/nonce",
                    "nonce_missing",
                    "the payload must carry a nonce as a decimal string",
                )
            })?;
        let nonce = parse_index(nonce)
            .ok()
            .filter(|n| *n > 0 && *n <= i64::MAX as u64)
            .ok_or_else(|| invalid("/payload/nonce", "nonce_invalid", "the nonce must be a decimal string between 1 and 2^63-1, without leading zeros"))?;
        let (key_row, key) =
            self.party_key_cached(kid)
                .await
                .map_err(|e| match not_found(e, "key") {
                    AppError::NotFound(_) => {
                        AppError::Signature(format!("no registered key has kid {kid:?}"))
                    }
                    other => other,
                })?;
        if key_row.party_id != caller.party_id {
            return Err(AppError::Signature(
                "the signing key belongs to another party than this API key".into(),
            ));
        }
        if !key_row.active {
            return Err(AppError::Signature(format!(
                "key {kid} was retired at {}; sign with the party's active key",
                key_row.retired_at.as_deref().unwrap_or("?")
            )));
        }
        verify_jcs(&request.payload, &request.signature, &key).map_err(|_| {
            AppError::Signature(
                "the signature does not verify over the RFC 8785 canonical bytes of the payload"
                    .into(),
            )
        })?;
        Ok(Verified {
            actor: Actor {
                party: caller.party_id.clone(),
                role: caller.role.as_str().to_owned(),
                jwk: Jwk::from_key(&key),
            },
            request,
            nonce,
        })
    }

    /// Register a bond: validate the signed terms, then create its ledger with the signed
    /// registration as entry 0.
    pub async fn register_bond(
        &self,
        caller: &Caller,
        request: SignedRequest,
    ) -> AppResult<Registered> {
        require_role(caller, &[Role::Issuer], "only issuers register bonds")?;
        let verified = self.verify_signed(caller, request, "bond.register").await?;
        let payload: RegisterBondPayload = serde_json::from_value(verified.request.payload.clone())
            .map_err(|e| invalid("/payload", "payload_invalid", e.to_string()))?;
        let terms = payload.bond.validate().map_err(|errors| {
            AppError::Validation(
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        pointer: format!("/payload/bond{}", e.pointer),
                        ..e
                    })
                    .collect(),
            )
        })?;
        let id = uuid::Uuid::now_v7().to_string();
        let ledger_id = format!("bonds/{id}");
        let origin = format!("{}/{ledger_id}", self.origin());
        let spec = terms.to_spec();
        let list = |items: Vec<String>| format!(",{},", items.join(","));
        let bond = NewBond {
            id: id.clone(),
            issuer_id: caller.party_id.clone(),
            ledger_id: ledger_id.clone(),
            kind: enum_str(&spec.kind)?,
            name: spec.name.clone(),
            isin: spec.isin.clone(),
            currency: spec.currency.clone(),
            // Categories and sub-categories, so that either filters the list.
            categories: list(
                spec.framework
                    .categories
                    .iter()
                    .map(enum_str)
                    .chain(spec.framework.subcategories.iter().cloned().map(Ok))
                    .collect::<AppResult<_>>()?,
            ),
            sdg_goals: list(terms.sdg_goals().iter().map(|g| g.to_string()).collect()),
            spec: serde_json::to_string(&spec).map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let append = Append {
            actor: verified.actor,
            request: verified.request,
            nonce: verified.nonce,
            operation_id: None,
            action: Action::Plain {
                kind: "bond.registered".into(),
                data: json!({ "bond_id": id, "issuer_id": caller.party_id }),
                parties: vec![],
                once: None,
            },
        };
        let book = BookTerms::from_bond(&caller.party_id, &terms);
        let accepted = self
            .engine()
            .create(ledger_id, origin, Some((bond, book)), append)
            .await?;
        Ok(Registered {
            bond: self.bond(&id).await?,
            entry_index: accepted.receipt.entry_index,
            checkpoint: accepted.receipt.checkpoint,
        })
    }

    pub async fn bond(&self, id: &str) -> AppResult<BondView> {
        let row = self.bond_row_fresh(id).await?;
        self.bond_view(row)
    }

    fn bond_view(&self, row: BondRow) -> AppResult<BondView> {
        Ok(BondView {
            ledger: LedgerRef {
                origin: format!("{}/{}", self.origin(), row.ledger_id),
                size: row.ledger_size.to_string(),
            },
            terms: serde_json::from_str(&row.spec)
                .map_err(|e| AppError::Internal(format!("stored spec: {e}")))?,
            id: row.id,
            issuer_id: row.issuer_id,
            registered_at: row.created_at,
        })
    }

    /// Public list of bonds, filtered, in registration order, by cursor.
    pub async fn bonds(
        &self,
        filter: &BondFilter,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> AppResult<BondPage> {
        let limit = super::parties::page_limit(limit, BONDS_PAGE_DEFAULT, BONDS_PAGE_MAX)?;
        let after = super::parties::page_cursor(after)?;
        for (value, what) in [(filter.issuer_id.as_deref(), "issuer")] {
            if let Some(v) = value
                && uuid::Uuid::try_parse(v).is_err()
            {
                return Err(AppError::BadRequest(format!(
                    "`{what}` must be an id (a UUID), got {v:?}"
                )));
            }
        }
        let mut rows = self.store.bonds(filter, after, limit + 1).await?;
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id.clone())
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(|r| self.bond_view(r))
            .collect::<AppResult<_>>()?;
        Ok(BondPage { items, next })
    }
}

/// The snake_case wire name of a serde enum value.
pub(crate) fn enum_str<T: Serialize>(value: &T) -> AppResult<String> {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => Ok(s),
        _ => Err(AppError::Internal(
            "enum did not serialize to a string".into(),
        )),
    }
}

/// The payload an issuer signs to attach a further document to a bond (an updated framework,
/// a second-party opinion, an annual report): an append to the bond's ledger.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDocumentPayload {
    /// Always `bond.add_document`.
    #[serde(rename = "type")]
    pub kind: String,
    pub kid: String,
    pub nonce: String,
    /// The bond the document is for: a signature binds the document to one bond, so that it
    /// cannot be attached to another of the issuer's bonds.
    pub bond_id: String,
    pub document: DocumentSpec,
}

/// A document of a bond: one of its registration, or one its issuer added later.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BondDocument {
    pub document: DocumentSpec,
    /// The ledger entry that recorded it (`0`: the registration).
    pub entry_index: String,
    /// When that entry was appended (RFC 3339, UTC).
    pub recorded_at: String,
}

/// Every document of a bond, in ledger order.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BondDocuments {
    pub bond_id: String,
    pub documents: Vec<BondDocument>,
}

/// Where an append landed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AppendReceipt {
    pub entry_index: String,
    pub tree_size: String,
    pub checkpoint: String,
}

impl App {
    /// Every document of a bond (public): those of its registration, then those its issuer
    /// added (`bond.document_added` entries), from the bond's facts as maintained — O(facts),
    /// never a replay of its ledger.
    pub async fn bond_documents(&self, bond_id: &str) -> AppResult<BondDocuments> {
        let row = self.bond_row_fresh(bond_id).await?;
        let (loaded, _) = self.bond_facts(&row).await?;
        let mut documents = Vec::new();
        for entry in &loaded.facts {
            let specs: Vec<DocumentSpec> = match (entry.index.as_str(), entry.kind.as_str()) {
                ("0", _) => {
                    let terms: BondSpec = serde_json::from_str(&row.spec)
                        .map_err(|e| AppError::Internal(format!("stored spec: {e}")))?;
                    terms.documents
                }
                (_, "bond.document_added") => {
                    let document = entry
                        .request
                        .as_ref()
                        .and_then(|r| r.payload.get("document"))
                        .cloned()
                        .ok_or_else(|| {
                            AppError::Internal(format!("entry {}: no document", entry.index))
                        })?;
                    vec![serde_json::from_value(document).map_err(|e| {
                        AppError::Internal(format!("entry {}: document: {e}", entry.index))
                    })?]
                }
                _ => continue,
            };
            documents.extend(specs.into_iter().map(|document| BondDocument {
                document,
                entry_index: entry.index.clone(),
                recorded_at: entry.time.clone(),
            }));
        }
        Ok(BondDocuments {
            bond_id: row.id,
            documents,
        })
    }

    /// Attach a document to a bond (its issuer only), as a signed entry on the bond's ledger.
    pub async fn add_document(
        &self,
        caller: &Caller,
        bond_id: &str,
        request: SignedRequest,
    ) -> AppResult<AppendReceipt> {
        require_role(
            caller,
            &[Role::Issuer],
            "only a bond's issuer adds documents",
        )?;
        let bond = self
            .store
            .bond(bond_id)
            .await
            .map_err(|e| not_found(e, "bond"))?;
        if bond.issuer_id != caller.party_id {
            return Err(AppError::Forbidden(
                "this bond belongs to another issuer".into(),
            ));
        }
        let verified = self
            .verify_signed(caller, request, "bond.add_document")
            .await?;
        let payload: AddDocumentPayload = serde_json::from_value(verified.request.payload.clone())
            .map_err(|e| invalid("/payload", "payload_invalid", e.to_string()))?;
        if payload.bond_id != bond.id {
            return Err(invalid(
                "/payload/bond_id",
                "bond_mismatch",
                "the signed bond_id differs from the bond in the URL",
            ));
        }
        payload.document.validate().map_err(|errors| {
            AppError::Validation(
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        pointer: format!("/payload/document{}", e.pointer),
                        ..e
                    })
                    .collect(),
            )
        })?;
        let append = Append {
            actor: verified.actor,
            request: verified.request,
            nonce: verified.nonce,
            operation_id: None,
            action: Action::Plain {
                kind: "bond.document_added".into(),
                data: json!({ "bond_id": bond.id }),
                parties: vec![],
                once: None,
            },
        };
        let accepted = self.engine().append(bond.ledger_id, append).await?;
        Ok(AppendReceipt {
            entry_index: accepted.receipt.entry_index,
            tree_size: accepted.receipt.tree_size,
            checkpoint: accepted.receipt.checkpoint,
        })
    }
}
