//! Group commit: one transaction that appends many entries, possibly to many ledgers, with
//! multi-row statements, so that one durable commit acknowledges a whole batch
//! (sqlx spends ~50 µs per statement on SQLite). On SQLite each table's rows travel as one
//! JSON array and its blobs as one concatenation cut with `substr`.
//!
//! The engine's reads go through a [`Batch`] too: a reading transaction
//! ([`Store::begin_read`]) or, when no common snapshot is needed, a plain pooled connection
//! ([`Store::read_plain`]).

use std::collections::{HashMap, HashSet};

use sqlx::AssertSqlSafe;
use tokio::sync::MutexGuard;

use super::{
    Conn, EntryRow, LedgerRow, NewBond, PositionRow, Store, StoreError, StoreResult, TotalsRow, Tx,
    to_hash,
};
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
    /// On a bond's ledger, the position after the entry of each of those parties that has one.
    pub positions: Vec<(String, PositionRow)>,
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
    /// Parties given their first position on the bond, with the entry that gave it.
    pub holders: Vec<(String, u64)>,
    /// The bond's book totals after each entry of the batch that changed them.
    pub totals: Vec<(u64, TotalsRow)>,
    /// The bond's state document at the batch's end, if it changed.
    pub state: Option<String>,
    /// A trial's rule state and verdict counts at the batch's end (JSON).
    pub trial_state: Option<String>,
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

/// A ledger to create (with, for a bond, its registry row).
#[derive(Clone, Debug)]
pub struct NewLedger {
    pub id: String,
    pub origin: String,
    pub created_at: String,
    pub bond: Option<NewBond>,
}

/// A party's key rows as a key log entry changes them (in the entry's transaction).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyWrite {
    pub party_id: String,
    pub kid: String,
    pub public_key: Vec<u8>,
    /// The key retired by this event (a rotation's previous key).
    pub retire: Option<String>,
    /// Whether the key row is new (a backfilled key's row exists already).
    pub insert: bool,
    pub time: String,
}

/// Everything one batch writes, in one transaction.
#[derive(Clone, Debug, Default)]
pub struct BatchWrites {
    pub creates: Vec<NewLedger>,
    pub trials: Vec<NewTrial>,
    /// Party key rows changed by key log entries of the batch, in order.
    pub keys: Vec<KeyWrite>,
    /// What each ledger gained, in the order the batch first touched them.
    pub ledgers: Vec<(String, LedgerWrite)>,
    pub projects: Vec<IssuerProjectRow>,
    pub nonces: Vec<(String, u64)>,
    /// Bond ledgers' heads after the batch (size, state document), published to reads once it
    /// committed; not written.
    pub heads: Vec<(String, u64, std::sync::Arc<String>)>,
}

/// The ledger engine's access to the database: a writing transaction (inside
/// [`Store::write_batch`]), a reading one ([`Store::begin_read`]) or a plain connection for
/// reads ([`Store::read_plain`]). Dropping a transaction without committing rolls back.
pub struct Batch<'a> {
    pub(super) tx: Tx,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl Store {
    /// Write a batch in one transaction and commit it. When it fails because another process
    /// appended to one of its ledgers since the batch read it (the heads, read again after the
    /// rollback, are no longer where the batch started), the error is
    /// [`StoreError::HeadMoved`]: nothing was written and the batch can be applied again.
    pub async fn write_batch(&self, writes: &BatchWrites) -> StoreResult<()> {
        let written = async {
            let started = std::time::Instant::now();
            let mut batch = self.begin_batch().await?;
            let begun = std::time::Instant::now();
            batch.write(writes).await?;
            let wrote = std::time::Instant::now();
            let committed = batch.commit().await;
            tracing::trace!(
                begin_us = (begun - started).as_micros() as u64,
                write_us = (wrote - begun).as_micros() as u64,
                commit_us = wrote.elapsed().as_micros() as u64,
                "batch written"
            );
            committed
        }
        .await;
        match written {
            Err(e) if !matches!(e, StoreError::HeadMoved(_)) => {
                for (id, write) in &writes.ledgers {
                    if let Ok(head) = self.ledger(id).await
                        && head.size != write.old_size
                    {
                        return Err(StoreError::HeadMoved(id.clone()));
                    }
                }
                Err(e)
            }
            other => other,
        }
    }

    /// Begin a writing batch: takes the SQLite writer lock (held until commit or drop).
    pub(super) async fn begin_batch(&self) -> StoreResult<Batch<'_>> {
        let guard = self.write_guard().await;
        let tx = Self::begin_on(&self.engine).await?;
        Ok(Batch { tx, _guard: guard })
    }

    /// Begin a reading transaction (one consistent snapshot of what is committed; on SQLite it
    /// runs beside the writer, WAL readers do not block it). It must not write.
    pub async fn begin_read(&self) -> StoreResult<Batch<'_>> {
        let tx = Self::begin_snapshot(&self.db).await?;
        Ok(Batch { tx, _guard: None })
    }

    /// [`Store::begin_read`] on the engine's own connections.
    pub async fn engine_read(&self) -> StoreResult<Batch<'_>> {
        let tx = Self::begin_snapshot(&self.engine).await?;
        Ok(Batch { tx, _guard: None })
    }

    /// [`Store::read_plain`] on the engine's own connections.
    pub async fn engine_plain(&self) -> StoreResult<Batch<'_>> {
        let tx = Self::plain(&self.engine).await?;
        Ok(Batch { tx, _guard: None })
    }

    /// Reads without a common snapshot, each statement seeing what is committed when it runs
    /// (two round trips fewer than [`Store::begin_read`]: no BEGIN, no ROLLBACK). For callers
    /// whose reads do not depend on each other. It must not write.
    pub async fn read_plain(&self) -> StoreResult<Batch<'_>> {
        let tx = Self::plain(&self.db).await?;
        Ok(Batch { tx, _guard: None })
    }
}

/// Rows as one JSON array of arrays, for SQLite's `json_each`.
fn json_rows<T: serde::Serialize>(rows: &T) -> StoreResult<String> {
    serde_json::to_string(rows).map_err(|e| StoreError::Corrupt(format!("rows as JSON: {e}")))
}

/// SQLite: every ledger's rows, heads and checkpoints and the used nonces in one multi-statement
/// query (one round trip to the connection's worker thread instead of a dozen), each table's
/// rows as one JSON array and its blobs as one concatenation, so that the text stays the same
/// and stays prepared.
/// The row count must be exactly what was sent: a head that moved updates no row (and the
/// entries at its indices collide first); [`Store::write_batch`] tells that case apart.
async fn write_sqlite(
    c: &mut sqlx::SqliteConnection,
    ledgers: &[(String, LedgerWrite)],
    nonces: &[(String, u64)],
) -> StoreResult<()> {
    let mut sql = String::new();
    let mut expected: u64 = 0;
    let mut args = sqlx::sqlite::SqliteArguments::default();
    for (ledger_id, write) in ledgers {
        if write.entries.is_empty() {
            continue;
        }
        let root = write
            .new_root
            .ok_or_else(|| StoreError::Corrupt("a batch without a new root".into()))?;
        let o = {
            use sqlx::Arguments as _;
            args.len()
        };
        let p = |n: usize| o + n;
        // Blobs travel as one concatenation per column, cut with `substr` (1-based, in bytes
        // for a blob): no hex text to encode, parse as JSON and decode per row.
        sql.push_str(&format!(
            "INSERT INTO entries (ledger_id, idx, kind, leaf, leaf_hash, created_at) \
             SELECT ${}, value->>0, value->>1, substr(${}, value->>2, value->>3), substr(${}, key * 32 + 1, 32), value->>4 FROM json_each(${});\n\
             INSERT INTO entry_parties (party_id, ledger_id, idx, balance, held, frozen, frozen_all) \
             SELECT value->>0, ${}, value->>1, value->>2, value->>3, value->>4, value->>5 FROM json_each(${});\n\
             INSERT INTO tree_nodes (ledger_id, level, idx, hash) SELECT ${}, value->>0, value->>1, substr(${}, key * 32 + 1, 32) FROM json_each(${});\n\
             INSERT INTO operations (ledger_id, operation_id, request_hash, entry_index, result) \
             SELECT ${}, value->>0, substr(${}, key * 32 + 1, 32), value->>1, value->>2 FROM json_each(${});\n\
             UPDATE ledgers SET size = ${}, root = ${} WHERE id = ${} AND size = ${};\n\
             INSERT INTO checkpoints (ledger_id, size, root, note, created_at) \
             SELECT ${}, ${}, ${}, ${}, ${} WHERE ${} IS NOT NULL;\n",
            p(1), p(3), p(4), p(2),
            p(1), p(5),
            p(1), p(7), p(6),
            p(1), p(9), p(8),
            p(10), p(11), p(1), p(12),
            p(1), p(10), p(11), p(13), p(14), p(13),
        ));
        let mut leaves = Vec::with_capacity(write.entries.iter().map(|e| e.leaf.len()).sum());
        let mut leaf_hashes = Vec::with_capacity(32 * write.entries.len());
        let mut entries: Vec<(i64, &str, usize, usize, &str)> =
            Vec::with_capacity(write.entries.len());
        for e in &write.entries {
            entries.push((
                e.index as i64,
                e.kind.as_str(),
                leaves.len() + 1,
                e.leaf.len(),
                e.time.as_str(),
            ));
            leaves.extend_from_slice(&e.leaf);
            leaf_hashes.extend_from_slice(&e.leaf_hash);
        }
        let parties = entry_parties(write);
        type PartyRow<'r> = (
            &'r str,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<bool>,
        );
        let parties: Vec<PartyRow> = parties
            .iter()
            .map(|(p, i, pos)| {
                (
                    *p,
                    *i as i64,
                    pos.map(|x| x.balance as i64),
                    pos.map(|x| x.held as i64),
                    pos.map(|x| x.frozen as i64),
                    pos.map(|x| x.frozen_all),
                )
            })
            .collect();
        let nodes: Vec<(u8, i64)> = write
            .nodes
            .iter()
            .map(|(id, _)| (id.level, id.index as i64))
            .collect();
        let node_hashes: Vec<u8> = write.nodes.iter().flat_map(|(_, h)| *h).collect();
        let operations: Vec<(&str, i64, &str)> = write
            .operations
            .iter()
            .map(|o| {
                (
                    o.operation_id.as_str(),
                    o.entry_index as i64,
                    o.result.as_str(),
                )
            })
            .collect();
        let request_hashes: Vec<u8> = write
            .operations
            .iter()
            .flat_map(|o| o.request_hash)
            .collect();
        let time = write
            .entries
            .last()
            .map(|e| e.time.clone())
            .unwrap_or_default();
        expected += (entries.len() + parties.len() + nodes.len() + operations.len() + 1) as u64
            + u64::from(write.checkpoint.is_some());
        push(&mut args, ledger_id.clone())?;
        push(&mut args, json_rows(&entries)?)?;
        push(&mut args, leaves)?;
        push(&mut args, leaf_hashes)?;
        push(&mut args, json_rows(&parties)?)?;
        push(&mut args, json_rows(&nodes)?)?;
        push(&mut args, node_hashes)?;
        push(&mut args, json_rows(&operations)?)?;
        push(&mut args, request_hashes)?;
        push(&mut args, write.new_size as i64)?;
        push(&mut args, root.to_vec())?;
        push(&mut args, write.old_size as i64)?;
        push(&mut args, write.checkpoint.clone())?;
        push(&mut args, time)?;
    }
    if !nonces.is_empty() {
        let n = {
            use sqlx::Arguments as _;
            args.len() + 1
        };
        sql.push_str(&format!(
            "INSERT INTO party_nonces (party_id, nonce) SELECT value->>0, value->>1 FROM json_each(${n});\n"
        ));
        let rows: Vec<(&str, i64)> = nonces
            .iter()
            .map(|(p, n)| (p.as_str(), *n as i64))
            .collect();
        expected += rows.len() as u64;
        push(&mut args, json_rows(&rows)?)?;
    }
    if sql.is_empty() {
        return Ok(());
    }
    let written = sqlx::query_with(AssertSqlSafe(sql), args)
        .execute(c)
        .await?
        .rows_affected();
    if written != expected {
        return Err(StoreError::Corrupt(format!(
            "a batch wrote {written} rows, {expected} expected"
        )));
    }
    Ok(())
}

/// PostgreSQL: per ledger, the head (only if it is still where the batch started), then one
/// statement per table with one array per column (`unnest`), so that the statement texts never
/// change and stay prepared, and the checkpoint; then the used nonces.
async fn write_postgres(
    c: &mut sqlx::PgConnection,
    ledgers: &[(String, LedgerWrite)],
    nonces: &[(String, u64)],
) -> StoreResult<()> {
    for (ledger_id, write) in ledgers {
        if write.entries.is_empty() {
            continue;
        }
        // The head first: the update locks its row (another writer waits for our commit) and
        // finds it moved before any row of ours collides with another writer's.
        let root = write
            .new_root
            .ok_or_else(|| StoreError::Corrupt("a batch without a new root".into()))?;
        let moved =
            sqlx::query("UPDATE ledgers SET size = $2, root = $3 WHERE id = $1 AND size = $4")
                .bind(ledger_id)
                .bind(write.new_size as i64)
                .bind(root.to_vec())
                .bind(write.old_size as i64)
                .execute(&mut *c)
                .await?
                .rows_affected();
        if moved != 1 {
            return Err(StoreError::HeadMoved(ledger_id.clone()));
        }
        let parties = entry_parties(write);
        let (entries, nodes, ops) = (&write.entries, &write.nodes, &write.operations);
        sqlx::query(
            "INSERT INTO entries (ledger_id, idx, kind, leaf, leaf_hash, created_at) \
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bytea[], $5::bytea[], $6::text[])")
            .bind(ledger_id)
            .bind(column(entries, |e| e.index as i64))
            .bind(column(entries, |e| e.kind.as_str()))
            .bind(column(entries, |e| e.leaf.as_slice()))
            .bind(column(entries, |e| e.leaf_hash.as_slice()))
            .bind(column(entries, |e| e.time.as_str()))
            .execute(&mut *c).await?;
        sqlx::query(
            "INSERT INTO entry_parties (party_id, ledger_id, idx, balance, held, frozen, frozen_all) \
             SELECT p, $1, i, b, h, f, a FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::boolean[]) AS r(p, i, b, h, f, a)",
        )
        .bind(ledger_id)
        .bind(column(&parties, |(p, _, _)| *p))
        .bind(column(&parties, |(_, i, _)| *i as i64))
        .bind(column(&parties, |(_, _, x)| x.map(|x| x.balance as i64)))
        .bind(column(&parties, |(_, _, x)| x.map(|x| x.held as i64)))
        .bind(column(&parties, |(_, _, x)| x.map(|x| x.frozen as i64)))
        .bind(column(&parties, |(_, _, x)| x.map(|x| x.frozen_all)))
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO tree_nodes (ledger_id, level, idx, hash) \
             SELECT $1, * FROM unnest($2::smallint[], $3::bigint[], $4::bytea[])",
        )
        .bind(ledger_id)
        .bind(column(nodes, |(id, _)| i16::from(id.level)))
        .bind(column(nodes, |(id, _)| id.index as i64))
        .bind(column(nodes, |(_, h)| h.as_slice()))
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO operations (ledger_id, operation_id, request_hash, entry_index, result) \
             SELECT $1, * FROM unnest($2::text[], $3::bytea[], $4::bigint[], $5::text[])",
        )
        .bind(ledger_id)
        .bind(column(ops, |o| o.operation_id.as_str()))
        .bind(column(ops, |o| o.request_hash.as_slice()))
        .bind(column(ops, |o| o.entry_index as i64))
        .bind(column(ops, |o| o.result.as_str()))
        .execute(&mut *c)
        .await?;
        if let Some(note) = &write.checkpoint {
            let time = write
                .entries
                .last()
                .map(|e| e.time.clone())
                .unwrap_or_default();
            sqlx::query("INSERT INTO checkpoints (ledger_id, size, root, note, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(ledger_id)
                .bind(write.new_size as i64)
                .bind(root.to_vec())
                .bind(note)
                .bind(&time)
                .execute(&mut *c)
                .await?;
        }
    }
    if !nonces.is_empty() {
        sqlx::query("INSERT INTO party_nonces (party_id, nonce) SELECT * FROM unnest($1::text[], $2::bigint[])")
            .bind(column(nonces, |(p, _)| p.as_str()))
            .bind(column(nonces, |(_, n)| *n as i64))
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// One column of `rows`, as PostgreSQL's `unnest` takes it.
fn column<'r, T, U>(rows: &'r [T], f: impl FnMut(&'r T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

fn push<'q, T>(args: &mut sqlx::sqlite::SqliteArguments, value: T) -> StoreResult<()>
where
    T: sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + 'q,
{
    use sqlx::Arguments as _;
    args.add(value)
        .map_err(|e| StoreError::Corrupt(format!("binding a batch: {e}")))
}

/// The (party, index, position) rows of a ledger write: each entry once per party it
/// concerns, with the party's position after it where it has one.
fn entry_parties(write: &LedgerWrite) -> Vec<(&str, u64, Option<PositionRow>)> {
    write
        .entries
        .iter()
        .flat_map(|e| {
            let mut ps: Vec<&str> = e.parties.iter().map(String::as_str).collect();
            ps.sort_unstable();
            ps.dedup();
            ps.into_iter().map(move |p| {
                let position = e.positions.iter().find(|(q, _)| q == p).map(|(_, x)| *x);
                (p, e.index, position)
            })
        })
        .collect()
}

impl Batch<'_> {
    /// A ledger's head. It takes no lock: a batch writes a ledger only if its head is still
    /// the size the batch started from ([`Store::write_batch`]), so whoever moved it first wins
    /// and the other batch fails whole.
    pub async fn head(&mut self, ledger_id: &str) -> StoreResult<LedgerRow> {
        let row = on_tx!(&mut self.tx, c => sqlx::query(
            "SELECT id, origin, size, root, created_at FROM ledgers WHERE id = $1")
            .bind(ledger_id).fetch_one(c).await
            .map_err(StoreError::from).and_then(|r| LedgerRow::from_row(&r)))?;
        Ok(row)
    }

    /// Write everything a batch gained: new ledgers and trials, then each ledger's entries,
    /// nodes, operations, head and checkpoint, the issuer projects and the used nonces.
    async fn write(&mut self, w: &BatchWrites) -> StoreResult<()> {
        for l in &w.creates {
            self.create_ledger(&l.id, &l.origin, &l.created_at, l.bond.as_ref())
                .await?;
        }
        for t in &w.trials {
            self.insert_trial(t).await?;
        }
        self.upsert_issuer_projects(&w.projects).await?;
        self.write_party_keys(&w.keys).await?;
        match &mut self.tx {
            Tx::Sqlite(t) => write_sqlite(t, &w.ledgers, &w.nonces).await?,
            Tx::Postgres(t) => write_postgres(t, &w.ledgers, &w.nonces).await?,
            Tx::SqlitePlain(_) | Tx::PostgresPlain(_) => {
                return Err(StoreError::Corrupt(
                    "a batch written outside a transaction".into(),
                ));
            }
        }
        self.write_state(&w.ledgers).await
    }

    /// Party key rows as the batch's key log entries change them. A retirement must find the
    /// key active: anything else means the rows and the key log disagree, and the batch fails.
    async fn write_party_keys(&mut self, keys: &[KeyWrite]) -> StoreResult<()> {
        for k in keys {
            if let Some(retire) = &k.retire {
                let retired = on_tx!(&mut self.tx, c => sqlx::query(
                    "UPDATE party_keys SET active = FALSE, retired_at = $3 \
                     WHERE party_id = $1 AND kid = $2 AND active")
                    .bind(&k.party_id).bind(retire).bind(&k.time)
                    .execute(c).await.map(|r| r.rows_affected()).map_err(StoreError::from))?;
                if retired != 1 {
                    return Err(StoreError::Corrupt(format!(
                        "key {retire} of party {} is not active in party_keys",
                        k.party_id
                    )));
                }
            }
            if k.insert {
                on_tx!(&mut self.tx, c => sqlx::query(
                    "INSERT INTO party_keys (kid, party_id, public_key, active, created_at) \
                     VALUES ($1, $2, $3, TRUE, $4)")
                    .bind(&k.kid).bind(&k.party_id).bind(&k.public_key).bind(&k.time)
                    .execute(c).await.map(|r| r.rows_affected()).map_err(StoreError::from))?;
            }
        }
        Ok(())
    }

    /// End a reading transaction.
    pub async fn finish(self) {
        let _ = match self.tx {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
            Tx::SqlitePlain(_) | Tx::PostgresPlain(_) => Ok(()),
        };
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
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        // Fixed statement texts (the ids travel as one JSON array, or one PostgreSQL array),
        // so that they stay prepared whatever the batch size.
        let rows: Vec<(String, Vec<u8>, String)> = match self.tx.conn() {
            Conn::Sqlite(t) => {
                sqlx::query_as(
                    "SELECT operation_id, request_hash, result FROM operations \
                 WHERE ledger_id = $1 AND operation_id IN (SELECT value FROM json_each($2))",
                )
                .bind(ledger_id)
                .bind(json_rows(&ids)?)
                .fetch_all(t)
                .await?
            }
            // Planned at each execution, for the rows the table has then (see `Batch::
            // used_nonces`).
            Conn::Postgres(t) => {
                sqlx::query_as(
                    "SELECT operation_id, request_hash, result FROM operations \
                 WHERE ledger_id = $1 AND operation_id = ANY($2)",
                )
                .persistent(false)
                .bind(ledger_id)
                .bind(ids)
                .fetch_all(t)
                .await?
            }
        };
        let mut out = HashMap::new();
        for (id, hash, result) in rows {
            out.insert(
                id,
                StoredOperation {
                    request_hash: to_hash(hash)?,
                    result,
                },
            );
        }
        Ok(out)
    }

    /// Which of these (party, nonce) pairs were used before.
    pub async fn used_nonces(
        &mut self,
        pairs: &[(String, u64)],
    ) -> StoreResult<HashSet<(String, u64)>> {
        if pairs.is_empty() {
            return Ok(HashSet::new());
        }
        let rows: Vec<(String, i64)> =
            match self.tx.conn() {
                Conn::Sqlite(t) => {
                    let wanted: Vec<(&str, i64)> =
                        pairs.iter().map(|(p, n)| (p.as_str(), *n as i64)).collect();
                    sqlx::query_as(
                        "SELECT n.party_id, n.nonce FROM json_each($1) AS w \
                     JOIN party_nonces AS n ON n.party_id = w.value->>0 AND n.nonce = w.value->>1",
                    )
                    .bind(json_rows(&wanted)?)
                    .fetch_all(t)
                    .await?
                }
                // Not a prepared statement: PostgreSQL would keep the plan it made while the
                // table was small (a sequential scan) for the connection's life wherever
                // nothing analyzes the table (autovacuum off), and the look-up would grow with
                // the table (measured: a 1M-entry build falling to ~400 transfers/s).
                Conn::Postgres(t) => sqlx::query_as(
                    "SELECT n.party_id, n.nonce FROM unnest($1::text[], $2::bigint[]) AS w(p, k) \
                 JOIN party_nonces AS n ON n.party_id = w.p AND n.nonce = w.k",
                )
                .persistent(false)
                .bind(pairs.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>())
                .bind(pairs.iter().map(|(_, n)| *n as i64).collect::<Vec<_>>())
                .fetch_all(t)
                .await?,
            };
        Ok(rows.into_iter().map(|(p, n)| (p, n as u64)).collect())
    }

    /// Role and attributes of these parties.
    pub async fn party_facts(
        &mut self,
        ids: &[String],
    ) -> StoreResult<HashMap<String, PartyFactsRow>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, String, String)> = match self.tx.conn() {
            Conn::Sqlite(t) => sqlx::query_as(
                "SELECT id, role, attributes FROM parties WHERE id IN (SELECT value FROM json_each($1))")
                .bind(json_rows(&ids)?).fetch_all(t).await?,
            Conn::Postgres(t) => sqlx::query_as(
                "SELECT id, role, attributes FROM parties WHERE id = ANY($1)")
                .bind(ids).fetch_all(t).await?,
        };
        Ok(rows
            .into_iter()
            .map(|(id, role, attributes)| (id, PartyFactsRow { role, attributes }))
            .collect())
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
    async fn upsert_issuer_projects(&mut self, rows: &[IssuerProjectRow]) -> StoreResult<()> {
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
    async fn create_ledger(
        &mut self,
        ledger_id: &str,
        origin: &str,
        now: &str,
        bond: Option<&NewBond>,
    ) -> StoreResult<()> {
        let empty_root = crate::ledger::merkle::empty_root();
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
    async fn insert_trial(&mut self, t: &NewTrial) -> StoreResult<()> {
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

    /// Make the batch durable. Only after this returns may any of its writes be acknowledged.
    pub(super) async fn commit(self) -> StoreResult<()> {
        Store::commit(self.tx).await
    }
}
