//! Storage: the only module with SQL in it. SQLite (embedded, the default) and PostgreSQL behind
//! one narrow interface.
//!
//! Invariants kept here:
//! - ledger entries are written only through a [`Batch`]: one transaction (`BEGIN IMMEDIATE`
//!   plus one in-process writer on SQLite) that writes entries, Merkle nodes, the new head
//!   (only if it has not moved since the batch read it, else the batch fails whole) and a signed
//!   checkpoint; the engine (`app::engine`) is the one place that assigns indices;
//! - a write returns only after its transaction committed (SQLite `synchronous=FULL` in WAL
//!   mode; PostgreSQL's default `synchronous_commit=on`);
//! - uniqueness lives in the schema: we insert and map the constraint violation;
//! - SQLite's WAL is checkpointed by a background task every [`SQLITE_CHECKPOINT_EVERY_MS`]
//!   (PASSIVE), not inside commits, except past [`SQLITE_WAL_AUTOCHECKPOINT_PAGES`]; durability
//!   does not depend on it (the WAL is fsynced at every commit).

mod rows;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Sqlite, SqlitePool};
use tokio::sync::Mutex;

use crate::ledger::merkle::{Hash, NodeId};

pub use rows::*;

/// How long a request may wait for a pooled connection before it is told to retry (503).
pub const POOL_ACQUIRE_TIMEOUT_MS: u64 = 3_000;
/// SQLite waits this long on a locked database (another process, e.g. the admin CLI).
pub const SQLITE_BUSY_TIMEOUT_MS: u64 = 5_000;
/// SQLite: how often the background task checkpoints the WAL.
pub const SQLITE_CHECKPOINT_EVERY_MS: u64 = 250;
/// SQLite: a commit checkpoints the WAL itself only past this many pages (64 MiB of 4 KiB
/// pages), i.e. when the background checkpointer has fallen far behind.
pub const SQLITE_WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;
/// Connections of the engine's own pool, at most (opened as needed; the writer's and the
/// reader's that prepares the next batch meanwhile are the ones in use). Three measured a few
/// percent slower than sixteen on `benches/transfers.rs`, within the machine's noise.
pub const ENGINE_CONNECTIONS: u32 = 16;
/// Upper bound on entries returned by one range read.
pub const ENTRIES_PAGE_MAX: u64 = 1_000;

/// Errors of the storage layer. The HTTP layer maps them once to problems.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness constraint refused the write (the constraint's name is kept for the message).
    #[error("conflict: {0}")]
    Conflict(String),
    /// No connection could be had in time; the caller should retry later.
    #[error("database busy")]
    Busy,
    /// A batch found a ledger's head no longer where it read it (another process appended):
    /// nothing of the batch was written; it can be applied again from what is stored.
    #[error("ledger {0} moved during the batch")]
    HeadMoved(String),
    /// Another process holds the database (SQLite busy or locked; PostgreSQL serialization
    /// failure, deadlock, lock not available): nothing was written; retry.
    #[error("another writer holds the database")]
    Contended,
    /// The database cannot grow (SQLite `SQLITE_FULL`, PostgreSQL `disk_full` or insufficient
    /// resources): nothing was written; writes succeed again once space is freed.
    #[error("the database is full")]
    Full,
    /// A stored invariant did not hold (a bug or tampering); never shown to clients in detail.
    #[error("storage invariant violated: {0}")]
    Corrupt(String),
    /// The database refused a value as data (e.g. PostgreSQL rejects NUL in text, SQLSTATE
    /// class 22); the input was not acceptable.
    #[error("value not acceptable to the database: {0}")]
    InvalidInput(String),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut => StoreError::Busy,
            sqlx::Error::Database(db) if classify(db.code().as_deref()).is_some() => {
                classify(db.code().as_deref()).unwrap_or(StoreError::Busy)
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")) => {
                StoreError::InvalidInput(db.message().to_owned())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or(db.message()).to_owned())
            }
            _ => StoreError::Database(err),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Whether a SQLite connection going back to the pool is out of every transaction. A dropped
/// transaction queues its rollback, which the ping waits for; a transaction whose COMMIT failed
/// (a full disk: SQLite has already rolled it back, so the queued ROLLBACK fails too) leaves the
/// connection counting one open transaction, and every later BEGIN on it would fail. Such a
/// connection is closed instead of reused, so writes recover by themselves.
pub async fn still_clean(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

/// What a database error code says about the database rather than the request: full, or held
/// by another writer. SQLite codes are its (extended) result codes as decimal strings,
/// PostgreSQL's are SQLSTATEs; the two sets do not overlap.
pub fn classify(code: Option<&str>) -> Option<StoreError> {
    match code? {
        // SQLITE_FULL; PostgreSQL class 53, insufficient resources (53100 disk_full).
        "13" | "53000" | "53100" | "53200" | "53300" => Some(StoreError::Full),
        // SQLITE_BUSY and its extended codes, SQLITE_LOCKED; PostgreSQL serialization failure,
        // deadlock, lock not available.
        "5" | "261" | "517" | "773" | "6" | "262" | "40001" | "40P01" | "55P03" => {
            Some(StoreError::Contended)
        }
        _ => None,
    }
}

/// Pool sizes and timeouts, named and documented (README, "Configuration").
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// SQLite only: the most pages (of 4 KiB) the database may grow to (`PRAGMA
    /// max_page_count`); a write past it fails as on a full disk (503 `storage-full`). `None`:
    /// SQLite's own limit.
    pub sqlite_max_pages: Option<u32>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_millis(POOL_ACQUIRE_TIMEOUT_MS),
            sqlite_max_pages: None,
        }
    }
}

#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database: one of the two backends, chosen by URL.
pub struct Store {
    db: Db,
    /// The ledger engine's own connections (its batch writes and the reads that prepare
    /// them): however many requests read at once, the engine never waits for a connection
    /// behind them.
    engine: Db,
    /// SQLite allows one writer at a time; queueing writers here is cheaper and fairer than
    /// letting them spin on `SQLITE_BUSY`.
    writer: Mutex<()>,
    /// SQLite: the background WAL checkpointer, stopped with the store.
    _checkpointer: Option<AbortOnDrop>,
}

/// A task that ends when its owner is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// SQLite: copy the WAL's committed pages into the database file every
/// [`SQLITE_CHECKPOINT_EVERY_MS`] on a connection of its own, instead of inside whichever commit
/// crosses SQLite's default threshold (1,000 pages). A PASSIVE checkpoint waits for no reader
/// and no writer; committed transactions are durable in the WAL either way (it is fsynced at
/// every commit), so this moves work off the commit path without weakening anything.
fn checkpoint_in_background(pool: SqlitePool) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(SQLITE_CHECKPOINT_EVERY_MS));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&pool)
                .await
            {
                Ok((busy, log, checkpointed)) => {
                    tracing::trace!(busy, log, checkpointed, "background WAL checkpoint")
                }
                // `Store::close` ends the checkpointer too.
                Err(sqlx::Error::PoolClosed) => break,
                Err(e) => tracing::debug!(error = %e, "background WAL checkpoint"),
            }
        }
    }))
}

/// Where a [`Batch`] runs its statements: a transaction, or (for reads that need no common
/// snapshot) a plain pooled connection, each statement its own implicit transaction.
enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
    SqlitePlain(sqlx::pool::PoolConnection<Sqlite>),
    PostgresPlain(sqlx::pool::PoolConnection<Postgres>),
}

/// The connection under a [`Tx`], by backend.
enum Conn<'t> {
    Sqlite(&'t mut sqlx::SqliteConnection),
    Postgres(&'t mut sqlx::PgConnection),
}

impl Tx {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(t) => Conn::Sqlite(t),
            Tx::SqlitePlain(c) => Conn::Sqlite(c),
            Tx::Postgres(t) => Conn::Postgres(t),
            Tx::PostgresPlain(c) => Conn::Postgres(c),
        }
    }
}

/// Run the same statement on whichever pool backs the store. The SQL is written once with
/// `$N` placeholders, which both drivers accept.
macro_rules! on_pool {
    ($store:expr, $c:ident => $body:expr) => {
        match &$store.db {
            Db::Sqlite($c) => $body,
            Db::Postgres($c) => $body,
        }
    };
}

/// Same as [`on_pool!`] inside a transaction.
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx.conn() {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

mod batch;
pub use batch::*;
mod state;
pub use state::*;

impl Store {
    /// Connect to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file if missing,
    /// and apply the migrations.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Store> {
        let (db, engine) = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await?;
            sqlx::migrate!("migrations/postgres")
                .run(&pool)
                .await
                .map_err(|e| StoreError::Database(e.into()))?;
            let engine = PgPoolOptions::new()
                .max_connections(ENGINE_CONNECTIONS)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            (Db::Postgres(pool), Db::Postgres(engine))
        } else {
            // Durability: WAL with synchronous=FULL fsyncs the WAL on every commit, so an
            // acknowledged write survives power loss (https://sqlite.org/pragma.html#pragma_synchronous).
            let connect = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                // Statement journals of the multi-row batch inserts in memory, not in temporary
                // files (they only serve to undo one statement; durability is the WAL's).
                .pragma("temp_store", "memory")
                // 32 MiB of page cache per connection (the default is 2 MiB): the batch writer
                // touches index pages all over the party-keyed tables.
                .pragma("cache_size", "-32768")
                // Checkpoints run beside the writer (see `checkpoint_in_background`): a commit
                // checkpoints only when the WAL has outgrown what the background task keeps up
                // with, and a reset WAL file is cut back to the same bound.
                .pragma(
                    "wal_autocheckpoint",
                    SQLITE_WAL_AUTOCHECKPOINT_PAGES.to_string(),
                )
                .pragma(
                    "journal_size_limit",
                    (u64::from(SQLITE_WAL_AUTOCHECKPOINT_PAGES) * 4096).to_string(),
                )
                .busy_timeout(Duration::from_millis(SQLITE_BUSY_TIMEOUT_MS));
            let connect = match options.sqlite_max_pages {
                Some(pages) => connect.pragma("max_page_count", pages.to_string()),
                None => connect,
            };
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .after_release(|conn, _| Box::pin(still_clean(conn)))
                .connect_with(connect.clone())
                .await?;
            sqlx::migrate!("migrations/sqlite")
                .run(&pool)
                .await
                .map_err(|e| StoreError::Database(e.into()))?;
            let engine = SqlitePoolOptions::new()
                .max_connections(ENGINE_CONNECTIONS)
                .acquire_timeout(options.acquire_timeout)
                .after_release(|conn, _| Box::pin(still_clean(conn)))
                .connect_with(connect)
                .await?;
            (Db::Sqlite(pool), Db::Sqlite(engine))
        };
        let checkpointer = match &db {
            Db::Sqlite(pool) => Some(checkpoint_in_background(pool.clone())),
            Db::Postgres(_) => None,
        };
        Ok(Store {
            db,
            engine,
            writer: Mutex::new(()),
            _checkpointer: checkpointer,
        })
    }

    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Readiness: one round trip to the database.
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await);
        match &self.engine {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    async fn begin(&self) -> StoreResult<Tx> {
        Self::begin_on(&self.db).await
    }

    async fn begin_on(db: &Db) -> StoreResult<Tx> {
        Ok(match db {
            // IMMEDIATE takes the write lock up front, so a transaction that reads the head
            // and then writes cannot be overtaken by another process between the two.
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A transaction for reading only: DEFERRED on SQLite, so that it takes no write lock.
    async fn begin_snapshot(db: &Db) -> StoreResult<Tx> {
        Ok(match db {
            Db::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A pooled connection outside any transaction, for reads that need no common snapshot.
    async fn plain(db: &Db) -> StoreResult<Tx> {
        Ok(match db {
            Db::Sqlite(p) => Tx::SqlitePlain(p.acquire().await?),
            Db::Postgres(p) => Tx::PostgresPlain(p.acquire().await?),
        })
    }

    async fn commit(tx: Tx) -> StoreResult<()> {
        match tx {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
            Tx::SqlitePlain(_) | Tx::PostgresPlain(_) => {
                return Err(StoreError::Corrupt("a commit outside a transaction".into()));
            }
        }
        Ok(())
    }

    /// Serialise writers on SQLite; PostgreSQL relies on row locks instead.
    async fn write_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.db {
            Db::Sqlite(_) => Some(self.writer.lock().await),
            Db::Postgres(_) => None,
        }
    }

    // ---------------------------------------------------------------- parties and keys

    /// Create a party with its first API key and, optionally, its first (active) signing key.
    pub async fn insert_party(&self, party: &NewParty) -> StoreResult<()> {
        let _guard = self.write_guard().await;
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, c => sqlx::query(
            "INSERT INTO parties (id, role, name, attributes, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&party.id).bind(&party.role).bind(&party.name).bind(&party.attributes).bind(&party.created_at)
            .execute(c).await.map(|r| r.rows_affected()))?;
        if let Some(key) = &party.key {
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO party_keys (kid, party_id, public_key, active, created_at) VALUES ($1, $2, $3, TRUE, $4)")
                .bind(&key.kid).bind(&party.id).bind(&key.public_key).bind(&party.created_at)
                .execute(c).await.map(|r| r.rows_affected()))?;
        }
        Self::insert_api_key_in(&mut tx, &party.api_key, &party.id, &party.created_at).await?;
        Self::commit(tx).await
    }

    async fn insert_api_key_in(
        tx: &mut Tx,
        key: &NewApiKey,
        party_id: &str,
        now: &str,
    ) -> StoreResult<()> {
        on_tx!(tx, c => sqlx::query(
            "INSERT INTO api_keys (id, token_hash, party_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.id).bind(&key.token_hash).bind(party_id).bind(now)
            .execute(c).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn insert_api_key(
        &self,
        key: &NewApiKey,
        party_id: &str,
        now: &str,
    ) -> StoreResult<()> {
        let _guard = self.write_guard().await;
        let mut tx = self.begin().await?;
        let exists: Option<(String,)> = on_tx!(&mut tx, c => sqlx::query_as("SELECT id FROM parties WHERE id = $1")
            .bind(party_id).fetch_optional(c).await)?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        Self::insert_api_key_in(&mut tx, key, party_id, now).await?;
        Self::commit(tx).await
    }

    /// Revoke an API key; revoking twice is harmless. Returns NotFound for an unknown id.
    pub async fn revoke_api_key(&self, key_id: &str, now: &str) -> StoreResult<()> {
        let _guard = self.write_guard().await;
        let done = on_pool!(self, p => sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(key_id).bind(now).execute(p).await.map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The party an unrevoked API key belongs to.
    pub async fn caller_by_token_hash(&self, token_hash: &[u8]) -> StoreResult<Option<CallerRow>> {
        let caller = on_pool!(self, p => sqlx::query(
            "SELECT p.id, p.role FROM api_keys a JOIN parties p ON p.id = a.party_id \
             WHERE a.token_hash = $1 AND a.revoked_at IS NULL")
            .bind(token_hash).fetch_optional(p).await.map_err(StoreError::from)
            .and_then(|row| row.map(|r| CallerRow::from_row(&r)).transpose()))?;
        Ok(caller)
    }

    pub async fn party(&self, id: &str) -> StoreResult<PartyRow> {
        let row = on_pool!(self, p => sqlx::query(
            "SELECT id, role, name, attributes, created_at FROM parties WHERE id = $1")
            .bind(id).fetch_one(p).await.map_err(StoreError::from).and_then(|r| PartyRow::from_row(&r)))?;
        Ok(row)
    }

    pub async fn parties(&self, after: Option<&str>, limit: u32) -> StoreResult<Vec<PartyRow>> {
        let rows = on_pool!(self, p => sqlx::query(
            "SELECT id, role, name, attributes, created_at FROM parties \
             WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.unwrap_or("")).bind(i64::from(limit)).fetch_all(p).await.map_err(StoreError::from)
            .and_then(|rows| rows.iter().map(PartyRow::from_row).collect::<StoreResult<Vec<_>>>()))?;
        Ok(rows)
    }

    /// Whether any party has `role` (the first start tells an operator how to create one).
    pub async fn any_party_with_role(&self, role: &str) -> StoreResult<bool> {
        let found = on_pool!(self, p => sqlx::query("SELECT 1 FROM parties WHERE role = $1 LIMIT 1")
            .bind(role).fetch_optional(p).await.map(|row| row.is_some()).map_err(StoreError::from))?;
        Ok(found)
    }

    /// Create an empty ledger (the key log) unless it exists.
    pub async fn ensure_ledger(&self, ledger_id: &str, origin: &str, now: &str) -> StoreResult<()> {
        let empty_root = crate::ledger::merkle::empty_root();
        on_pool!(self, p => sqlx::query(
            "INSERT INTO ledgers (id, origin, size, root, created_at) VALUES ($1, $2, 0, $3, $4) \
             ON CONFLICT (id) DO NOTHING")
            .bind(ledger_id).bind(origin).bind(empty_root.to_vec()).bind(now)
            .execute(p).await.map(|r| r.rows_affected()).map_err(StoreError::from))?;
        Ok(())
    }

    /// Every party key row, oldest first (to record them on a new key log).
    pub async fn all_party_keys(&self) -> StoreResult<Vec<KeyRow>> {
        let rows = on_pool!(self, p => sqlx::query(
            "SELECT kid, party_id, public_key, active, created_at, retired_at FROM party_keys \
             ORDER BY created_at, kid")
            .fetch_all(p).await.map_err(StoreError::from)
            .and_then(|rows| rows.iter().map(KeyRow::from_row).collect::<StoreResult<Vec<_>>>()))?;
        Ok(rows)
    }

    pub async fn party_keys(&self, party_id: &str) -> StoreResult<Vec<KeyRow>> {
        let rows = on_pool!(self, p => sqlx::query(
            "SELECT kid, party_id, public_key, active, created_at, retired_at FROM party_keys \
             WHERE party_id = $1 ORDER BY created_at, kid")
            .bind(party_id).fetch_all(p).await.map_err(StoreError::from)
            .and_then(|rows| rows.iter().map(KeyRow::from_row).collect::<StoreResult<Vec<_>>>()))?;
        Ok(rows)
    }

    pub async fn party_key(&self, kid: &str) -> StoreResult<KeyRow> {
        let row = on_pool!(self, p => sqlx::query(
            "SELECT kid, party_id, public_key, active, created_at, retired_at FROM party_keys WHERE kid = $1")
            .bind(kid).fetch_one(p).await.map_err(StoreError::from).and_then(|r| KeyRow::from_row(&r)))?;
        Ok(row)
    }

    /// Record the service's public key. A new kid becomes the active one and retires the
    /// previous; a known kid is left as it is (restarting with the same key file).
    pub async fn record_service_key(
        &self,
        kid: &str,
        public_key: &[u8],
        now: &str,
    ) -> StoreResult<()> {
        let _guard = self.write_guard().await;
        let mut tx = self.begin().await?;
        let known: Option<(String,)> = on_tx!(&mut tx, c => sqlx::query_as(
            "SELECT kid FROM service_keys WHERE kid = $1").bind(kid).fetch_optional(c).await)?;
        if known.is_none() {
            on_tx!(&mut tx, c => sqlx::query(
                "UPDATE service_keys SET active = FALSE, retired_at = $1 WHERE active")
                .bind(now).execute(c).await.map(|r| r.rows_affected()))?;
            on_tx!(&mut tx, c => sqlx::query(
                "INSERT INTO service_keys (kid, public_key, active, created_at) VALUES ($1, $2, TRUE, $3)")
                .bind(kid).bind(public_key).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        } else {
            // Restarting with an older key file after a rotation would sign with a retired
            // key; make the loaded key the active one again, explicitly.
            on_tx!(&mut tx, c => sqlx::query(
                "UPDATE service_keys SET active = FALSE, retired_at = $2 WHERE active AND kid <> $1")
                .bind(kid).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
            on_tx!(&mut tx, c => sqlx::query(
                "UPDATE service_keys SET active = TRUE, retired_at = NULL WHERE kid = $1")
                .bind(kid).execute(c).await.map(|r| r.rows_affected()))?;
        }
        Self::commit(tx).await
    }

    pub async fn service_keys(&self) -> StoreResult<Vec<KeyRow>> {
        let rows = on_pool!(self, p => sqlx::query(
            "SELECT kid, '' AS party_id, public_key, active, created_at, retired_at FROM service_keys \
             ORDER BY created_at, kid").fetch_all(p).await.map_err(StoreError::from)
            .and_then(|rows| rows.iter().map(KeyRow::from_row).collect::<StoreResult<Vec<_>>>()))?;
        Ok(rows)
    }

    // ---------------------------------------------------------------- ledgers

    async fn nodes_in(
        tx: &mut Tx,
        ledger_id: &str,
        ids: &[NodeId],
    ) -> StoreResult<HashMap<NodeId, Hash>> {
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            let row: Option<(Vec<u8>,)> = on_tx!(&mut *tx, c => sqlx::query_as(
                "SELECT hash FROM tree_nodes WHERE ledger_id = $1 AND level = $2 AND idx = $3")
                .bind(ledger_id).bind(i16::from(id.level)).bind(id.index as i64)
                .fetch_optional(c).await)?;
            if let Some((hash,)) = row {
                out.insert(*id, to_hash(hash)?);
            }
        }
        Ok(out)
    }

    /// Hashes of the given perfect subtrees (for proofs): one round trip.
    pub async fn nodes(
        &self,
        ledger_id: &str,
        ids: &[NodeId],
    ) -> StoreResult<HashMap<NodeId, Hash>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = nodes_sql(ids);
        let rows: Vec<(i16, i64, Vec<u8>)> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.clone())).bind(ledger_id).fetch_all(p).await)?;
        let mut out = HashMap::with_capacity(rows.len());
        for (level, index, hash) in rows {
            let id = NodeId {
                level: u8::try_from(level).map_err(|_| StoreError::Corrupt("node level".into()))?,
                index: u64::try_from(index)
                    .map_err(|_| StoreError::Corrupt("node index".into()))?,
            };
            out.insert(id, to_hash(hash)?);
        }
        Ok(out)
    }

    /// The node hashes at `level` with indices in `range`, in index order (a tile: one range
    /// scan of the primary key).
    pub async fn node_range(
        &self,
        ledger_id: &str,
        level: u8,
        range: std::ops::Range<u64>,
    ) -> StoreResult<Vec<Hash>> {
        let rows: Vec<(Vec<u8>,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT hash FROM tree_nodes WHERE ledger_id = $1 AND level = $2 AND idx >= $3 AND idx < $4 ORDER BY idx")
            .bind(ledger_id).bind(i16::from(level)).bind(range.start as i64).bind(range.end as i64)
            .fetch_all(p).await)?;
        rows.into_iter().map(|(h,)| to_hash(h)).collect()
    }

    pub async fn ledger(&self, ledger_id: &str) -> StoreResult<LedgerRow> {
        let row = on_pool!(self, p => sqlx::query(
            "SELECT id, origin, size, root, created_at FROM ledgers WHERE id = $1")
            .bind(ledger_id).fetch_one(p).await.map_err(StoreError::from).and_then(|r| LedgerRow::from_row(&r)))?;
        Ok(row)
    }

    /// Entries `[start, end)` in leaf order, at most [`ENTRIES_PAGE_MAX`].
    pub async fn entries(
        &self,
        ledger_id: &str,
        start: u64,
        end: u64,
    ) -> StoreResult<Vec<EntryRow>> {
        let end = end.min(start.saturating_add(ENTRIES_PAGE_MAX));
        let rows = on_pool!(self, p => sqlx::query(
            "SELECT idx, kind, leaf, leaf_hash, created_at FROM entries \
             WHERE ledger_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx")
            .bind(ledger_id).bind(start as i64).bind(end as i64).fetch_all(p).await.map_err(StoreError::from)
            .and_then(|rows| rows.iter().map(EntryRow::from_row).collect::<StoreResult<Vec<_>>>()))?;
        Ok(rows)
    }

    /// The latest checkpoint (largest size), or a specific one.
    pub async fn checkpoint(
        &self,
        ledger_id: &str,
        size: Option<u64>,
    ) -> StoreResult<CheckpointRow> {
        let row = match size {
            Some(size) => on_pool!(self, p => sqlx::query(
                "SELECT size, root, note FROM checkpoints WHERE ledger_id = $1 AND size = $2")
                .bind(ledger_id).bind(size as i64).fetch_one(p).await.map_err(StoreError::from).and_then(|r| CheckpointRow::from_row(&r)))?,
            None => on_pool!(self, p => sqlx::query(
                "SELECT size, root, note FROM checkpoints WHERE ledger_id = $1 ORDER BY size DESC LIMIT 1")
                .bind(ledger_id).fetch_one(p).await.map_err(StoreError::from).and_then(|r| CheckpointRow::from_row(&r)))?,
        };
        Ok(row)
    }

    // ---------------------------------------------------------------- cosignatures

    /// Keep a witness's cosignature line on the checkpoint of `size` (once; a repeat is ignored).
    pub async fn add_cosignature(
        &self,
        ledger_id: &str,
        size: u64,
        witness: &str,
        line: &str,
    ) -> StoreResult<()> {
        on_pool!(self, p => sqlx::query(
            "INSERT INTO cosignatures (ledger_id, size, witness, line) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING")
            .bind(ledger_id).bind(size as i64).bind(witness).bind(line)
            .execute(p).await.map(|_| ()).map_err(StoreError::from))?;
        Ok(())
    }

    /// The cosignature lines on the checkpoint of `size`, by witness name.
    pub async fn cosignatures(&self, ledger_id: &str, size: u64) -> StoreResult<Vec<String>> {
        let rows: Vec<String> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT line FROM cosignatures WHERE ledger_id = $1 AND size = $2 ORDER BY witness")
            .bind(ledger_id).bind(size as i64).fetch_all(p).await.map_err(StoreError::from))?;
        Ok(rows)
    }

    /// The largest size `witness` cosigned on this ledger.
    pub async fn last_cosigned(&self, ledger_id: &str, witness: &str) -> StoreResult<Option<u64>> {
        let size: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT size FROM cosignatures WHERE ledger_id = $1 AND witness = $2 \
             ORDER BY size DESC LIMIT 1")
            .bind(ledger_id).bind(witness).fetch_optional(p).await.map_err(StoreError::from))?;
        Ok(size.map(|s| s as u64))
    }

    /// The largest size cosigned by at least `witnesses` witnesses.
    pub async fn latest_cosigned(
        &self,
        ledger_id: &str,
        witnesses: usize,
    ) -> StoreResult<Option<u64>> {
        let size: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT size FROM cosignatures WHERE ledger_id = $1 GROUP BY size \
             HAVING COUNT(*) >= $2 ORDER BY size DESC LIMIT 1")
            .bind(ledger_id).bind(witnesses as i64).fetch_optional(p).await.map_err(StoreError::from))?;
        Ok(size.map(|s| s as u64))
    }

    /// Every ledger's id and size (the witnessing round's work list).
    pub async fn ledger_sizes(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, size FROM ledgers ORDER BY id")
            .fetch_all(p).await.map_err(StoreError::from))?;
        Ok(rows
            .into_iter()
            .map(|(id, size)| (id, size as u64))
            .collect())
    }

    // ---------------------------------------------------------------- bonds

    pub async fn bond(&self, id: &str) -> StoreResult<BondRow> {
        let row = on_pool!(self, p => sqlx::query(
            "SELECT b.id, b.issuer_id, b.ledger_id, b.kind, b.name, b.isin, b.currency, b.spec, b.created_at, l.size \
             FROM bonds b JOIN ledgers l ON l.id = b.ledger_id WHERE b.id = $1")
            .bind(id).fetch_one(p).await.map_err(StoreError::from).and_then(|r| BondRow::from_row(&r)))?;
        Ok(row)
    }

    /// A trial by id.
    pub async fn trial(&self, id: &str) -> StoreResult<TrialRow> {
        let row: TrialTuple = on_pool!(self, p => sqlx::query_as(
            "SELECT t.id, t.ledger_id, t.title, t.regulator_id, t.rulebook_id, t.rulebook_version, t.rulebook_sha256, t.rulebook, t.created_at, l.size \
             FROM trials t JOIN ledgers l ON l.id = t.ledger_id WHERE t.id = $1")
            .bind(id).fetch_one(p).await.map_err(StoreError::from))?;
        TrialRow::from_tuple(row)
    }

    /// Every trial, in creation order.
    pub async fn trials(&self) -> StoreResult<Vec<TrialRow>> {
        let rows: Vec<TrialTuple> = on_pool!(self, p => sqlx::query_as(
            "SELECT t.id, t.ledger_id, t.title, t.regulator_id, t.rulebook_id, t.rulebook_version, t.rulebook_sha256, t.rulebook, t.created_at, l.size \
             FROM trials t JOIN ledgers l ON l.id = t.ledger_id ORDER BY t.id")
            .fetch_all(p).await.map_err(StoreError::from))?;
        rows.into_iter().map(TrialRow::from_tuple).collect()
    }

    /// Bonds in id order (ids are UUIDv7, so that is registration order), filtered.
    pub async fn bonds(
        &self,
        filter: &BondFilter,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<BondRow>> {
        let mut sql = String::from(
            "SELECT b.id, b.issuer_id, b.ledger_id, b.kind, b.name, b.isin, b.currency, b.spec, b.created_at, l.size \
             FROM bonds b JOIN ledgers l ON l.id = b.ledger_id WHERE b.id > $1",
        );
        let mut binds: Vec<String> = vec![after.unwrap_or("").to_owned()];
        // Only placeholders are appended to the SQL; every value is bound.
        let mut add = |clause: &str, value: String| {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(kind) = &filter.kind {
            add(" AND b.kind = ?", kind.clone());
        }
        if let Some(issuer) = &filter.issuer_id {
            add(" AND b.issuer_id = ?", issuer.clone());
        }
        if let Some(category) = &filter.category {
            add(" AND b.categories LIKE ?", format!("%,{category},%"));
        }
        if let Some(goal) = filter.sdg_goal {
            add(" AND b.sdg_goals LIKE ?", format!("%,{goal},%"));
        }
        binds.push(i64::from(limit).to_string());
        let limit_pos = binds.len();
        sql.push_str(&format!(" ORDER BY b.id LIMIT ${limit_pos}"));
        let rows = on_pool!(self, p => {
            let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
            for (i, b) in binds.iter().enumerate() {
                q = if i + 1 == limit_pos { q.bind(i64::from(limit)) } else { q.bind(b.clone()) };
            }
            q.fetch_all(p).await.map_err(StoreError::from)
                .and_then(|rows| rows.iter().map(BondRow::from_row).collect::<StoreResult<Vec<_>>>())
        })?;
        Ok(rows)
    }

    /// Ledgers with any entry that concerns this party.
    pub async fn ledgers_of_party(&self, party_id: &str) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT DISTINCT ledger_id FROM entry_parties WHERE party_id = $1 ORDER BY ledger_id")
            .bind(party_id).fetch_all(p).await)?;
        Ok(rows.into_iter().map(|(l,)| l).collect())
    }

    /// Entries that concern this party, by ledger and index, at most [`ENTRIES_PAGE_MAX`].
    pub async fn entries_of_party(&self, party_id: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let rows: Vec<(String, Vec<u8>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT e.ledger_id, e.leaf FROM entry_parties x \
             JOIN entries e ON e.ledger_id = x.ledger_id AND e.idx = x.idx \
             WHERE x.party_id = $1 ORDER BY e.created_at, e.ledger_id, e.idx LIMIT $2")
            .bind(party_id).bind(ENTRIES_PAGE_MAX as i64).fetch_all(p).await)?;
        Ok(rows)
    }
}

fn to_hash(bytes: Vec<u8>) -> StoreResult<Hash> {
    Hash::try_from(bytes.as_slice())
        .map_err(|_| StoreError::Corrupt("stored hash is not 32 bytes".into()))
}

type TrialTuple = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    i64,
);

/// A trial as registered, with its ledger's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrialRow {
    pub id: String,
    pub ledger_id: String,
    pub title: String,
    pub regulator_id: String,
    pub rulebook_id: String,
    pub rulebook_version: u32,
    pub rulebook_sha256: String,
    pub rulebook: String,
    pub created_at: String,
    pub ledger_size: u64,
}

impl TrialRow {
    fn from_tuple(t: TrialTuple) -> StoreResult<TrialRow> {
        Ok(TrialRow {
            id: t.0,
            ledger_id: t.1,
            title: t.2,
            regulator_id: t.3,
            rulebook_id: t.4,
            rulebook_version: u32::try_from(t.5)
                .map_err(|_| StoreError::Corrupt("rulebook version".into()))?,
            rulebook_sha256: t.6,
            rulebook: t.7,
            created_at: t.8,
            ledger_size: u64::try_from(t.9)
                .map_err(|_| StoreError::Corrupt("ledger size".into()))?,
        })
    }
}

/// The query for the hashes of perfect subtrees `ids` of one ledger (bound as `$1`): the wanted
/// (level, index) pairs as a VALUES list joined on the whole primary key, so that each node is
/// one indexed look-up on both backends (an `OR` of pairs makes SQLite scan every node of the
/// ledger). Built from integers only.
pub fn nodes_sql(ids: &[NodeId]) -> String {
    let wanted: Vec<String> = ids
        .iter()
        .map(|id| format!("({}, {})", id.level, id.index))
        .collect();
    format!(
        "WITH wanted (level, idx) AS (VALUES {}) \
         SELECT tree_nodes.level, tree_nodes.idx, tree_nodes.hash FROM wanted JOIN tree_nodes \
         ON tree_nodes.ledger_id = $1 AND tree_nodes.level = wanted.level \
         AND tree_nodes.idx = wanted.idx",
        wanted.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_and_another_writer_are_told_apart_from_other_errors() {
        for code in ["13", "53100", "53000"] {
            assert!(
                matches!(classify(Some(code)), Some(StoreError::Full)),
                "{code}"
            );
        }
        for code in ["5", "517", "6", "40001", "40P01", "55P03"] {
            assert!(
                matches!(classify(Some(code)), Some(StoreError::Contended)),
                "{code}"
            );
        }
        for code in [None, Some("2067"), Some("23505"), Some("22021")] {
            assert!(classify(code).is_none(), "{code:?}");
        }
    }
}
