//! The application layer: turns authenticated, parsed requests into domain decisions and ledger
//! appends. Knows the domain, the ledger and the store's interface; knows nothing of HTTP.

mod audit;
mod bonds;
pub mod cache;
pub mod engine;
mod error;
pub mod keyfile;
mod keylog;
mod ledgers;
mod monitoring;
mod parties;
pub mod state;
mod tokens;
mod trials;
pub mod witnessing;

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::ledger::entry::ServiceSigner;
use crate::ledger::note;
use crate::store::Store;

pub use audit::LedgerAudit;
pub use bonds::*;
pub use error::{AppError, AppResult};
pub use ledgers::*;
pub use monitoring::*;
pub use parties::*;
pub use tokens::*;
pub use trials::*;

/// The source of "now". Production reads the system clock; tests drive their own.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// RFC 3339 UTC with microseconds at most, the only time format that is signed or stored
/// (PostgreSQL keeps microseconds; anything finer would not round-trip).
pub fn format_time(t: OffsetDateTime) -> String {
    // Always six fractional digits, so that times compare correctly as strings (entry times
    // never go backwards; histories sort by time).
    let t = t.to_offset(time::UtcOffset::UTC);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    t.format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000000Z".into())
}

/// Everything a request handler needs, shared behind an `Arc`.
pub struct App {
    pub store: Arc<Store>,
    engine: engine::Engine,
    callers: cache::TtlCache<Vec<u8>, Caller>,
    keys: cache::TtlCache<String, (crate::store::KeyRow, ed25519_dalek::VerifyingKey)>,
    bonds: cache::TtlCache<String, crate::store::BondRow>,
    /// Per bond ledger, its facts as last loaded, with the state document they were loaded
    /// for: a read whose state document is the same uses them as they are (see
    /// `App::bond_facts`).
    facts: std::sync::Mutex<HashMap<String, (String, Arc<state::Loaded>)>>,
    signer: ServiceSigner,
    /// Deployment name: the signed-note key name and the prefix of every ledger's origin.
    origin: String,
    clock: Arc<dyn Clock>,
    /// The witnesses checkpoints are submitted to (set once, when witnessing starts).
    witnesses: std::sync::OnceLock<Vec<witnessing::WitnessTarget>>,
}

/// Who is calling: established from a bearer API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub party_id: String,
    pub role: crate::domain::party::Role,
}

impl App {
    /// Wire the application and record the service key as the active one.
    pub async fn new(
        store: Store,
        signer: ServiceSigner,
        origin: String,
        clock: Arc<dyn Clock>,
    ) -> AppResult<App> {
        // Recovery: a bond ledger without maintained state (written by an older build) gets it
        // from its entries before anything is served.
        state::rebuild_missing(&store).await?;
        let store = Arc::new(store);
        let engine =
            engine::Engine::start(store.clone(), signer.clone(), origin.clone(), clock.clone());
        let app = App {
            store,
            engine,
            callers: cache::TtlCache::new(),
            keys: cache::TtlCache::new(),
            bonds: cache::TtlCache::new(),
            facts: std::sync::Mutex::new(HashMap::new()),
            signer,
            origin,
            clock,
            witnesses: std::sync::OnceLock::new(),
        };
        let now = app.now();
        app.store
            .record_service_key(
                app.signer.kid(),
                app.signer.verifying_key().as_bytes(),
                &now,
            )
            .await?;
        app.open_key_log().await?;
        Ok(app)
    }

    /// Make sure the key log exists. A database from before the key log has keys the log does
    /// not show: each is recorded once, as a `backfill` with the times the database held for
    /// it, so that the log covers every key from then on and an auditor sees which keys rest on
    /// the database's word rather than on a logged event.
    async fn open_key_log(&self) -> AppResult<()> {
        use crate::ledger::keylog::{KEY_LOG_ID, KeyEvent, Via};
        self.store
            .ensure_ledger(
                KEY_LOG_ID,
                &format!("{}/{KEY_LOG_ID}", self.origin),
                &self.now(),
            )
            .await?;
        if self.store.ledger(KEY_LOG_ID).await?.size > 0 {
            return Ok(());
        }
        for row in self.store.all_party_keys().await? {
            let key = parties::stored_key(&row)?;
            let event = KeyEvent::Registered {
                party: row.party_id.clone(),
                key,
                via: Via::Backfill,
                times: Some((row.created_at.clone(), row.retired_at.clone())),
            };
            match self.engine.record_key(event).await {
                // Another process recorded it first.
                Ok(_) | Err(AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn now(&self) -> String {
        format_time(self.clock.now())
    }

    pub fn today(&self) -> time::Date {
        self.clock.now().date()
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn engine(&self) -> &engine::Engine {
        &self.engine
    }

    pub fn signer(&self) -> &ServiceSigner {
        &self.signer
    }

    /// The C2SP verifier key for checkpoints: `<name>+<key id>+<base64 key>`.
    pub fn note_verifier_key(&self) -> String {
        note::verifier_key(&self.origin, &self.signer.verifying_key())
    }
}
