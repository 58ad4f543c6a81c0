//! Group commit: one transaction that appends many entries, possibly to many ledgers, with
//! multi-row statements, so that one durable commit acknowledges a whole batch
//! (sqlx spends ~50 µs per statement on SQLite; CRATES.md).

use std::collections::{HashMap, HashSet};

use sqlx::AssertSqlSafe;
use tokio::sync::MutexGuard;

use super::{EntryRow, LedgerRow, NewBond, Store, StoreError, StoreResult, Tx, to_hash};
use crate::ledger::merkle::{Hash, NodeId};

/// Rows per multi-row INSERT: well under SQLite's 32,766 bound variables with 7 columns.
pub const ROWS_PER_STATEMENT: usize = 500;

/// One entry to write.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub index: u64,
    pub kind: String,
    pub leaf: Vec<u8>,
    pub leaf_hash: Hash,
    pub time: String,
    /// Parties the entry concerns (for their operation history).
    pub parties: Vec<String>,
}

/// The idempotency record of an accepted operation.
#[derive(Clone, Debug)]
pub struct NewOperation {
    pub operation_id: String,
    pub request_hash: Hash,
    pub entry_index: u64,
    /// The answer given, replayed on a retry (JSON).
    pub result: String,
}

/// Everything one ledger gains in a batch.
#[derive(Clone, Debug, Default)]
pub struct LedgerWrite {
    pub old_size: u64,
    pub new_size: u64,
    pub new_root: Option<Hash>,
    pub entries: Vec<NewEntry>,
    pub nodes: Vec<(NodeId, Hash)>,
    pub operations: Vec<NewOperation>,
    pub checkpoint: Option<String>,
}

/// A stored operation found by its id.
#[derive(Clone, Debug)]
pub struct StoredOperation {
    pub request_hash: Hash,
    pub result: String,
}

/// A parties row for the rules: role and attributes JSON.
#[derive(Clone, Debug)]
pub struct PartyFactsRow {
    pub role: String,
    pub attributes: String,
}

/// A trial to register with its ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTrial {
    pub id: String,
    pub ledger_id: String,
    pub title: String,
    pub regulator_id: String,
    pub rulebook_id: String,
    pub rulebook_version: u32,
    pub rulebook_sha256: String,
    pub rulebook: String,
    pub created_at: String,
}

/// One bond's record of one of its issuer's projects (derived from its ledger).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerProjectRow {
    pub issuer_id: String,
    pub project_id: String,
    pub ledger_id: String,
    pub total_cost: String,
    pub financing_share: String,
    pub allocated: String,
}

/// An open batch transaction. Dropping it without [`Batch::commit`] rolls back.
pub struct Batch<'a> {
    tx: Tx,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl Store {
    /// Begin a batch: takes the SQLite writer lock (held until commit or drop).
    pub async fn begin_batch(&self) -> StoreResult<Batch<'_>> {
        let guard = self.write_guard().await;
        let tx = self.begin().await?;
        Ok(Batch { tx, _guard: guard })
    }
}

fn placeholders(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", r * columns + c + 1));
        }
        sql.push(')');
    }
    sql
}

impl Batch<'_> {
    /// Lock a ledger's head for the rest of the batch and read it.
    pub async fn lock_head(&mut self, ledger_id: &str) -> StoreResult<LedgerRow> {
        let sql = match self.tx {
            Tx::Sqlite(_) => "SELECT id, origin, size, root, created_at FROM ledgers WHERE id = $1",
            Tx::Postgres(_) => {
                "SELECT id, origin, size, root, created_at FROM ledgers WHERE id = $1 FOR UPDATE"
            }
        };
        let row = on_tx!(&mut self.tx, c => sqlx::query(sql).bind(ledger_id).fetch_one(c).await
            .map_err(StoreError::from).and_then(|r| LedgerRow::from_row(&r)))?;
        Ok(row)
    }

    /// Entries from `start` to the end, in order (to rebuild a ledger's cached state).
    pub async fn entries_from(
        &mut self,
        ledger_id: &str,
        start: u64,
    ) -> StoreResult<Vec<EntryRow>> {
        let rows = on_tx!(&mut self.tx, c => sqlx::query(
            "SELECT idx, kind, leaf, leaf_hash, created_at FROM entries WHERE ledger_id = $1 AND idx >= $2 ORDER BY idx")
            .bind(ledger_id).bind(start as i64).fetch_all(c).await.map_err(StoreError::from)
            .and_then(|rows| rows.iter().map(EntryRow::from_row).collect::<StoreResult<Vec<_>>>()))?;
        Ok(rows)
    }

    /// The given perfect-subtree hashes of a ledger.
    pub async fn nodes(
        &mut self,
        ledger_id: &str,
        ids: &[NodeId],
    ) -> StoreResult<HashMap<NodeId, Hash>> {
        Store::nodes_in(&mut self.tx, ledger_id, ids).await
    }

    /// Operations already recorded under these ids.
    pub async fn operations(
        &mut self,
        ledger_id: &str,
        ids: &[String],
    ) -> StoreResult<HashMap<String, StoredOperation>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT operation_id, request_hash, result FROM operations WHERE ledger_id = $1 AND operation_id IN ({})",
                list.join(",")
            );
            let rows: Vec<(String, Vec<u8>, String)> = on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.clone())).bind(ledger_id);
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(c).await
            })?;
            for (id, hash, result) in rows {
                out.insert(
                    id,
                    StoredOperation {
                        request_hash: to_hash(hash)?,
                        result,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Which of these (party, nonce) pairs were used before.
    pub async fn used_nonces(
        &mut self,
        pairs: &[(String, u64)],
    ) -> StoreResult<HashSet<(String, u64)>> {
        let mut out = HashSet::new();
        for chunk in pairs.chunks(ROWS_PER_STATEMENT) {
            let list: Vec<String> = (0..chunk.len())
                .map(|i| format!("(party_id = ${} AND nonce = ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = format!(
                "SELECT party_id, nonce FROM party_nonces WHERE {}",
                list.join(" OR ")
            );
            let rows: Vec<(String, i64)> = on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.clone()));
                for (party, nonce) in chunk {
                    q = q.bind(party).bind(*nonce as i64);
                }
                q.fetch_all(c).await
            })?;
            out.extend(rows.into_iter().map(|(p, n)| (p, n as u64)));
        }
        Ok(out)
    }

    /// Role and attributes of these parties.
    pub async fn party_facts(
        &mut self,
        ids: &[String],
    ) -> StoreResult<HashMap<String, PartyFactsRow>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 1)).collect();
            let sql = format!(
                "SELECT id, role, attributes FROM parties WHERE id IN ({})",
                list.join(",")
            );
            let rows: Vec<(String, String, String)> = on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(c).await
            })?;
            for (id, role, attributes) in rows {
                out.insert(id, PartyFactsRow { role, attributes });
            }
        }
        Ok(out)
    }

    /// Whether a bond with this ISIN exists (checked before insert, so that one duplicate does
    /// not abort a whole batch).
    pub async fn isin_taken(&mut self, isin: &str) -> StoreResult<bool> {
        let row: Option<(String,)> = on_tx!(&mut self.tx, c => sqlx::query_as("SELECT id FROM bonds WHERE isin = $1")
            .bind(isin).fetch_optional(c).await)?;
        Ok(row.is_some())
    }

    /// How the issuer's bonds record these projects: (project, ledger) → row.
    pub async fn issuer_projects(
        &mut self,
        issuer: &str,
        projects: &[String],
    ) -> StoreResult<Vec<IssuerProjectRow>> {
        let mut out = Vec::new();
        for chunk in projects.chunks(ROWS_PER_STATEMENT) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT project_id, ledger_id, total_cost, financing_share, allocated \
                 FROM issuer_projects WHERE issuer_id = $1 AND project_id IN ({})",
                list.join(", ")
            );
            let rows: Vec<(String, String, String, String, String)> = on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.clone())).bind(issuer);
                for p in chunk {
                    q = q.bind(p);
                }
                q.fetch_all(c).await
            })?;
            out.extend(rows.into_iter().map(
                |(project_id, ledger_id, total_cost, financing_share, allocated)| {
                    IssuerProjectRow {
                        issuer_id: issuer.to_owned(),
                        project_id,
                        ledger_id,
                        total_cost,
                        financing_share,
                        allocated,
                    }
                },
            ));
        }
        Ok(out)
    }

    /// Insert or update these (issuer, project, ledger) rows.
    pub async fn upsert_issuer_projects(&mut self, rows: &[IssuerProjectRow]) -> StoreResult<()> {
        for r in rows {
            on_tx!(&mut self.tx, c => sqlx::query(
                "INSERT INTO issuer_projects (issuer_id, project_id, ledger_id, total_cost, financing_share, allocated) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (issuer_id, project_id, ledger_id) DO UPDATE SET \
                 total_cost = excluded.total_cost, financing_share = excluded.financing_share, allocated = excluded.allocated")
                .bind(&r.issuer_id).bind(&r.project_id).bind(&r.ledger_id)
                .bind(&r.total_cost).bind(&r.financing_share).bind(&r.allocated)
                .execute(c).await.map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// The issuer and stored spec of the bond whose ledger this is, if it is a bond's.
    pub async fn bond_by_ledger(
        &mut self,
        ledger_id: &str,
    ) -> StoreResult<Option<(String, String)>> {
        let row: Option<(String, String)> = on_tx!(&mut self.tx, c => sqlx::query_as(
            "SELECT issuer_id, spec FROM bonds WHERE ledger_id = $1").bind(ledger_id).fetch_optional(c).await)?;
        Ok(row)
    }

    /// Create an empty ledger (and, for a bond, its registry row).
    pub async fn create_ledger(
        &mut self,
        ledger_id: &str,
        origin: &str,
        empty_root: &Hash,
        now: &str,
        bond: Option<&NewBond>,
    ) -> StoreResult<()> {
        on_tx!(&mut self.tx, c => sqlx::query(
            "INSERT INTO ledgers (id, origin, size, root, created_at) VALUES ($1, $2, 0, $3, $4)")
            .bind(ledger_id).bind(origin).bind(empty_root.to_vec()).bind(now)
            .execute(c).await.map(|r| r.rows_affected()))?;
        if let Some(bond) = bond {
            on_tx!(&mut self.tx, c => sqlx::query(
                "INSERT INTO bonds (id, issuer_id, ledger_id, kind, name, isin, currency, categories, sdg_goals, spec, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
                .bind(&bond.id).bind(&bond.issuer_id).bind(&bond.ledger_id).bind(&bond.kind).bind(&bond.name)
                .bind(&bond.isin).bind(&bond.currency).bind(&bond.categories).bind(&bond.sdg_goals)
                .bind(&bond.spec).bind(now)
                .execute(c).await.map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Register a trial (its ledger must exist).
    pub async fn insert_trial(&mut self, t: &NewTrial) -> StoreResult<()> {
        on_tx!(&mut self.tx, c => sqlx::query(
            "INSERT INTO trials (id, ledger_id, title, regulator_id, rulebook_id, rulebook_version, rulebook_sha256, rulebook, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&t.id).bind(&t.ledger_id).bind(&t.title).bind(&t.regulator_id).bind(&t.rulebook_id)
            .bind(i64::from(t.rulebook_version)).bind(&t.rulebook_sha256).bind(&t.rulebook).bind(&t.created_at)
            .execute(c).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The rulebook text and regulator of the trial whose ledger this is, if it is a trial's.
    pub async fn trial_by_ledger(
        &mut self,
        ledger_id: &str,
    ) -> StoreResult<Option<(String, String)>> {
        let row: Option<(String, String)> = on_tx!(&mut self.tx, c => sqlx::query_as(
            "SELECT rulebook, regulator_id FROM trials WHERE ledger_id = $1").bind(ledger_id).fetch_optional(c).await)?;
        Ok(row)
    }

    /// Record used nonces (the replay guard), many rows per statement.
    pub async fn insert_nonces(&mut self, pairs: &[(String, u64)]) -> StoreResult<()> {
        for chunk in pairs.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO party_nonces (party_id, nonce) VALUES {}",
                placeholders(chunk.len(), 2)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                for (party, nonce) in chunk {
                    q = q.bind(party).bind(*nonce as i64);
                }
                q.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }

    /// Write what a ledger gained: entries, nodes, operations, its new head (only if the head
    /// is still where it was read) and its checkpoint.
    pub async fn write_ledger(&mut self, ledger_id: &str, write: &LedgerWrite) -> StoreResult<()> {
        if write.entries.is_empty() {
            return Ok(());
        }
        for chunk in write.entries.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO entries (ledger_id, idx, kind, leaf, leaf_hash, created_at) VALUES {}",
                placeholders(chunk.len(), 6)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                for e in chunk {
                    q = q.bind(ledger_id).bind(e.index as i64).bind(&e.kind).bind(&e.leaf).bind(e.leaf_hash.to_vec()).bind(&e.time);
                }
                q.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
        let parties: Vec<(&str, u64)> = write
            .entries
            .iter()
            .flat_map(|e| {
                let mut ps: Vec<&str> = e.parties.iter().map(String::as_str).collect();
                ps.sort_unstable();
                ps.dedup();
                ps.into_iter().map(move |p| (p, e.index))
            })
            .collect();
        for chunk in parties.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO entry_parties (party_id, ledger_id, idx) VALUES {}",
                placeholders(chunk.len(), 3)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                for (party, index) in chunk {
                    q = q.bind(*party).bind(ledger_id).bind(*index as i64);
                }
                q.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
        for chunk in write.nodes.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO tree_nodes (ledger_id, level, idx, hash) VALUES {}",
                placeholders(chunk.len(), 4)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                for (id, hash) in chunk {
                    q = q.bind(ledger_id).bind(i16::from(id.level)).bind(id.index as i64).bind(hash.to_vec());
                }
                q.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
        for chunk in write.operations.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO operations (ledger_id, operation_id, request_hash, entry_index, result) VALUES {}",
                placeholders(chunk.len(), 5)
            );
            on_tx!(&mut self.tx, c => {
                let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                for o in chunk {
                    q = q.bind(ledger_id).bind(&o.operation_id).bind(o.request_hash.to_vec()).bind(o.entry_index as i64).bind(&o.result);
                }
                q.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
        let root = write
            .new_root
            .ok_or_else(|| StoreError::Corrupt("a batch without a new root".into()))?;
        let moved = on_tx!(&mut self.tx, c => sqlx::query(
            "UPDATE ledgers SET size = $2, root = $3 WHERE id = $1 AND size = $4")
            .bind(ledger_id).bind(write.new_size as i64).bind(root.to_vec()).bind(write.old_size as i64)
            .execute(c).await.map(|r| r.rows_affected()))?;
        if moved != 1 {
            return Err(StoreError::Corrupt(format!(
                "ledger {ledger_id} head moved during a batch"
            )));
        }
        if let Some(note) = &write.checkpoint {
            let time = write
                .entries
                .last()
                .map(|e| e.time.clone())
                .unwrap_or_default();
            on_tx!(&mut self.tx, c => sqlx::query(
                "INSERT INTO checkpoints (ledger_id, size, root, note, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(ledger_id).bind(write.new_size as i64).bind(root.to_vec()).bind(note).bind(&time)
                .execute(c).await.map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Make the batch durable. Only after this returns may any of its writes be acknowledged.
    pub async fn commit(self) -> StoreResult<()> {
        Store::commit(self.tx).await
    }
}
