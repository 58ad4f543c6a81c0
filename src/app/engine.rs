//! The ledger engine: the one place where ledger indices are assigned.
//!
//! Requests are verified (signatures, payload shape) concurrently by their handlers, then queued
//! here. The engine, on a thread of its own, takes whatever is queued (up to [`BATCH_MAX`]),
//! reads what it needs (idempotency records, used nonces, party facts) on a reading
//! transaction, or on a plain pooled connection while a batch is in flight, applies each
//! operation's rules to the ledger's in-memory state *in queue order*, seals the accepted
//! entries and signs one checkpoint per ledger; a writer thread then writes the batch in one
//! transaction and commits. Only after the commit is any request answered (group commit: many
//! acknowledgements share one durable flush; none comes before it). While one batch is being
//! written the next is applied on top of it (`InFlight::blocks` says what waits).
//!
//! The in-memory state of a ledger (its Merkle frontier and its holder book) is a cache of
//! what the database holds: it is checked against the stored head whenever no batch is in
//! flight and rebuilt by replaying the ledger when they differ (another process wrote) or after
//! a failed batch; a write whose ledger head moved under it fails whole.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime, UtcOffset};
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;

use super::{AppError, AppResult, Clock, format_time};
use crate::domain::bond::BondSpec;
use crate::domain::book::{Book, BookTerms, Op, Outcome, PartyFacts, Violation};
use crate::domain::monitor::{
    Context as MonitorContext, Elsewhere, Monitor, MonitorOp, MonitorTerms,
};
use crate::domain::party::{InvestorCategory, Kyc, KycStatus, Role};
use crate::domain::record;
use crate::ledger::canon::b64url;
use crate::ledger::entry::{Actor, Draft, Entry, ServiceSigner, SignedRequest};
use crate::ledger::keylog::{KEY_LOG_ID, KeyEvent, KeyLog};
use crate::ledger::merkle::{self, Hash};
use crate::ledger::note::{self, Checkpoint};
use crate::sandbox::ledger::SANDBOX_TX;
use crate::sandbox::{
    Progress, Replayer, Rulebook, State as SandboxState, Tx, TxBody, Verdict as SandboxVerdict,
};
use crate::store::{
    Batch, BatchWrites, IssuerProjectRow, KeyWrite, LedgerWrite, NewBond, NewEntry, NewLedger,
    NewOperation, NewTrial, PartyFactsRow, Store, StoreError,
};
use rust_decimal::Decimal;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

/// Requests waiting for the engine at most; past this, callers get 503 at once.
pub const QUEUE_MAX: usize = 16_384;
/// Requests handled in one transaction at most.
pub const BATCH_MAX: usize = 2_048;
/// Dates in rules (lock-up, KYC expiry, maturity) are calendar days in Japan (UTC+9, no DST).
pub const RULES_UTC_OFFSET_HOURS: i8 = 9;

/// What the engine answers for an accepted operation; replayed verbatim on an idempotent retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    /// The client's operation id (empty for registration and documents).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation_id: String,
    /// `applied`, or `pending` for a transfer awaiting the issuer's approval.
    pub status: String,
    pub entry_type: String,
    pub entry_index: String,
    /// Size of the tree that the checkpoint below signs (it includes this entry).
    pub tree_size: String,
    pub checkpoint: String,
    /// A trial transaction's verdict: every rule it broke (it is recorded either way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub verdict: Option<Value>,
}

/// A receipt, and whether it is the replay of an earlier identical request.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub receipt: Receipt,
    pub replayed: bool,
}

/// What the rules say of an operation without performing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Verdict {
    /// Whether the operation would be accepted now.
    pub allowed: bool,
    /// `applied` or `pending` when allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    pub violations: Vec<Violation>,
}

/// What an accepted append writes besides the book: plain facts (documents, coupons, KPIs).
#[derive(Clone, Debug)]
pub enum Action {
    Book {
        op: Op,
        reason: Option<String>,
    },
    Plain {
        kind: String,
        data: Value,
        parties: Vec<String>,
        /// A fact that a ledger may record once only (a coupon period paid, a KPI observed).
        once: Option<String>,
    },
    /// Monitoring: projects, allocation and impact reports, reviews (checked against the
    /// bond's monitoring state, like token operations against its book).
    Monitor {
        op: MonitorOp,
    },
    /// A sandbox trial transaction: judged by the trial's rulebook and recorded either way,
    /// with its verdict (the operation id is the transaction id).
    Sandbox {
        body: TxBody,
    },
    /// A party key event on the key log (ledger [`KEY_LOG_ID`]), checked against the log; the
    /// party's key rows change in the same transaction.
    Key(KeyEvent),
}

/// A trial ledger's rulebook, the rule state its transactions have built and their counts
/// (what its report is made of: kept in `trial_states` at each batch, so that the report is
/// read, not replayed).
#[derive(Clone)]
struct TrialState {
    rulebook: Arc<Rulebook>,
    progress: Progress,
}

impl TrialState {
    /// Judge `tx` and apply it when accepted (the same code offline replay runs).
    fn step(&mut self, tx: &Tx) -> SandboxVerdict {
        let empty = Progress::start(SandboxState::new(Vec::<String>::new()));
        let start = std::mem::replace(&mut self.progress, empty);
        let mut replayer = Replayer::resume(&self.rulebook, start);
        let verdict = replayer.step(tx);
        self.progress = replayer.into_progress();
        verdict
    }
}

/// Rebuild a trial's rule state from its ledger entries, insisting that every recorded verdict
/// is what the rulebook gives (a ledger cannot claim one verdict and hold another).
pub fn replay_trial<'a>(
    rulebook: Arc<Rulebook>,
    regulator: &str,
    entries: impl IntoIterator<Item = &'a Entry>,
) -> Result<Progress, String> {
    let mut trial = TrialState {
        rulebook,
        progress: Progress::start(SandboxState::new([regulator.to_owned()])),
    };
    for entry in entries {
        if entry.kind != SANDBOX_TX {
            continue;
        }
        let tx: Tx = serde_json::from_value(entry.data.get("tx").cloned().unwrap_or_default())
            .map_err(|e| format!("entry {}: tx: {e}", entry.index))?;
        let recorded: SandboxVerdict =
            serde_json::from_value(entry.data.get("verdict").cloned().unwrap_or_default())
                .map_err(|e| format!("entry {}: verdict: {e}", entry.index))?;
        let replayed = trial.step(&tx);
        if replayed != recorded {
            return Err(format!(
                "entry {}: the recorded verdict differs from the rulebook's",
                entry.index
            ));
        }
    }
    Ok(trial.progress)
}

/// A verified, parsed request for the engine.
pub struct Append {
    pub actor: Actor,
    pub request: SignedRequest,
    pub nonce: u64,
    /// Client-chosen id (the idempotency key) and the hash of the signed request.
    pub operation_id: Option<String>,
    pub action: Action,
}

impl Append {
    /// The key of this request's idempotency record: the client's operation id within the
    /// signing party's own namespace, so that no party can take, or probe, another's ids.
    fn idempotency_key(&self) -> Option<String> {
        self.operation_id
            .as_ref()
            .map(|id| format!("{}/{id}", self.actor.party))
    }
}

enum Work {
    Create {
        origin: String,
        bond: Box<Option<(NewBond, BookTerms)>>,
        trial: Option<Box<(NewTrial, Arc<Rulebook>)>>,
        append: Append,
    },
    Append(Append),
    DryRun {
        actor: String,
        op: Op,
    },
    /// An entry the service records on a party's behalf, without a signed request of its own
    /// (a key registered when an operator creates a party).
    Record(Action),
    /// A label change the service records (no client request): appended only if the last
    /// recorded label status is still `from`.
    Label {
        from: Option<String>,
        /// The ledger size the evaluation read: nothing may have been appended since.
        at_size: u64,
        data: Value,
    },
}

struct Job {
    ledger_id: String,
    work: Work,
    reply: Reply,
    /// Sent back once already because another process moved its ledger: a second time, the
    /// request is refused as busy rather than applied again and again.
    again: bool,
}

enum Reply {
    Accepted(oneshot::Sender<AppResult<Accepted>>),
    Verdict(oneshot::Sender<AppResult<Verdict>>),
}

/// The handle that request handlers hold.
#[derive(Clone)]
pub struct Engine {
    queue: mpsc::Sender<Job>,
    heads: Heads,
}

/// How long a bond's head as this process last committed it answers reads without asking the
/// database: another process writing the same database (which the engine learns of only at
/// its next batch) is seen by reads at most this late.
pub const HEAD_FRESH_MS: u64 = 1_000;

/// A bond ledger's head as this process's engine last committed it: its size and its state
/// document.
#[derive(Clone, Debug)]
pub struct Head {
    pub size: u64,
    pub doc: Arc<String>,
    pub at: std::time::Instant,
}

/// Per bond ledger, the head the engine last committed (published by the writer after each
/// commit, in commit order).
#[derive(Clone, Default)]
pub struct Heads(Arc<std::sync::RwLock<HashMap<String, Head>>>);

impl Heads {
    /// The ledger's head, if this process committed it within [`HEAD_FRESH_MS`].
    pub fn fresh(&self, ledger_id: &str) -> Option<Head> {
        let heads = self.0.read().ok()?;
        heads
            .get(ledger_id)
            .filter(|h| h.at.elapsed() < std::time::Duration::from_millis(HEAD_FRESH_MS))
            .cloned()
    }

    fn publish(&self, committed: &[(String, u64, Arc<String>)]) {
        if committed.is_empty() {
            return;
        }
        if let Ok(mut heads) = self.0.write() {
            let at = std::time::Instant::now();
            for (ledger, size, doc) in committed {
                heads.insert(
                    ledger.clone(),
                    Head {
                        size: *size,
                        doc: doc.clone(),
                        at,
                    },
                );
            }
        }
    }
}

/// Everything the engine owns (on its own thread).
struct Committer {
    store: Arc<Store>,
    signer: ServiceSigner,
    note_name: String,
    clock: Arc<dyn Clock>,
    cache: HashMap<String, LedgerState>,
    writer: Writer,
    /// Per party, the time of its latest signed entry or key event in this process. A key
    /// event is timed strictly after the party's entries before it, and the party's entries
    /// after it no earlier than it, so that an auditor orders a party's signatures and its key
    /// changes by time alone (`ledger::keylog::KeyLog::signing_key_at`).
    party_times: HashMap<String, String>,
}

/// A ledger as the engine knows it between batches.
#[derive(Clone)]
struct LedgerState {
    origin: String,
    size: u64,
    frontier: Vec<Hash>,
    last_time: String,
    book: Option<Book>,
    /// Facts recorded once only, by key (see [`Action::Plain`]).
    once: HashSet<String>,
    monitor: Option<Monitor>,
    /// Per label scheme, the status last recorded by a `label.changed` entry and the day it
    /// took effect.
    label: BTreeMap<String, (String, String)>,
    /// A bond's day of full redemption (Japan).
    redeemed_on: Option<String>,
    /// A bond's facts: its entries that are not token operations, with the net proceeds
    /// monitoring judged each against (see `state::BondDoc`).
    facts: Vec<(u64, String)>,
    /// The bond's state document as last written (a batch writes it only when it changed).
    doc_text: Arc<String>,
    /// Whether an entry since the document was last built may have changed it (every entry
    /// but an applied transfer, which moves positions only).
    doc_dirty: bool,
    trial: Option<TrialState>,
    /// The key log's state, on the key log's ledger.
    keys: Option<KeyLog>,
}

/// The once-only key an entry of `kind` with `data` carries, if any.
pub fn once_key(kind: &str, data: &Value) -> Option<String> {
    let field = match kind {
        "coupon.paid" => "period",
        "kpi.observed" => "kpi_id",
        _ => return None,
    };
    data.get(field)
        .and_then(Value::as_str)
        .map(|v| format!("{kind}:{v}"))
}

impl Engine {
    /// Start the engine on a thread of its own (see `on_own_thread`).
    pub fn start(
        store: Arc<Store>,
        signer: ServiceSigner,
        note_name: String,
        clock: Arc<dyn Clock>,
    ) -> Engine {
        let (queue, jobs) = mpsc::channel(QUEUE_MAX);
        let heads = Heads::default();
        let committer = Committer {
            store,
            signer,
            note_name,
            clock,
            cache: HashMap::new(),
            writer: Writer::start(queue.downgrade(), heads.clone()),
            party_times: HashMap::new(),
        };
        if let Err((task, e)) = on_own_thread("midori-engine", committer.run(jobs)) {
            // Still correct, only slower.
            tracing::warn!(error = %e, "no engine thread; running on the shared runtime");
            tokio::spawn(task);
        }
        Engine { queue, heads }
    }

    /// The bond heads this process committed (see [`Heads::fresh`]).
    pub fn heads(&self) -> &Heads {
        &self.heads
    }

    fn enqueue(&self, job: Job) -> AppResult<()> {
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => AppError::Busy,
            mpsc::error::TrySendError::Closed(_) => {
                AppError::Internal("the ledger engine has stopped".into())
            }
        })
    }

    async fn accepted(&self, ledger_id: String, work: Work) -> AppResult<Accepted> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Job {
            ledger_id,
            work,
            reply: Reply::Accepted(reply),
            again: false,
        })?;
        answer
            .await
            .map_err(|_| AppError::Internal("the ledger engine dropped a request".into()))?
    }

    /// Create a ledger whose entry 0 is `append` (a bond registration, with the bond's row).
    pub async fn create(
        &self,
        ledger_id: String,
        origin: String,
        bond: Option<(NewBond, BookTerms)>,
        append: Append,
    ) -> AppResult<Accepted> {
        self.accepted(
            ledger_id,
            Work::Create {
                origin,
                bond: Box::new(bond),
                trial: None,
                append,
            },
        )
        .await
    }

    /// Create a trial's ledger whose entry 0 is `append` (the regulator's signed creation).
    pub async fn create_trial(
        &self,
        ledger_id: String,
        origin: String,
        trial: NewTrial,
        rulebook: Arc<Rulebook>,
        append: Append,
    ) -> AppResult<Accepted> {
        self.accepted(
            ledger_id,
            Work::Create {
                origin,
                bond: Box::new(None),
                trial: Some(Box::new((trial, rulebook))),
                append,
            },
        )
        .await
    }

    /// Append to an existing ledger.
    pub async fn append(&self, ledger_id: String, append: Append) -> AppResult<Accepted> {
        self.accepted(ledger_id, Work::Append(append)).await
    }

    /// Record a key event that no signed request of its own carries (a first key given at a
    /// party's creation, a key recorded when the key log began) on the key log.
    pub async fn record_key(&self, event: KeyEvent) -> AppResult<Accepted> {
        self.accepted(KEY_LOG_ID.to_owned(), Work::Record(Action::Key(event)))
            .await
    }

    /// Record a label change on a bond's ledger, unless the last recorded status is no longer
    /// `from` (another evaluation recorded it first).
    pub async fn record_label(
        &self,
        ledger_id: String,
        from: Option<String>,
        at_size: u64,
        data: Value,
    ) -> AppResult<Accepted> {
        self.accepted(
            ledger_id,
            Work::Label {
                from,
                at_size,
                data,
            },
        )
        .await
    }

    /// The verdict on `op` by `actor` against the ledger's current state, without writing.
    pub async fn dry_run(&self, ledger_id: String, actor: String, op: Op) -> AppResult<Verdict> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Job {
            ledger_id,
            work: Work::DryRun { actor, op },
            reply: Reply::Verdict(reply),
            again: false,
        })?;
        answer
            .await
            .map_err(|_| AppError::Internal("the ledger engine dropped a request".into()))?
    }
}

/// The hash that identifies a signed request for idempotency: SHA-256 of its canonical bytes
/// (returned too: the entry that records the request reuses them).
pub fn request_hash(request: &SignedRequest) -> AppResult<(Hash, Vec<u8>)> {
    let bytes = request.canonical()?;
    Ok((Sha256::digest(&bytes).into(), bytes))
}

/// The date on which rules are judged for an entry time (see [`RULES_UTC_OFFSET_HOURS`]).
pub fn rules_date(time: OffsetDateTime) -> Date {
    let offset = UtcOffset::from_hms(RULES_UTC_OFFSET_HOURS, 0, 0).unwrap_or(UtcOffset::UTC);
    time.to_offset(offset).date()
}

/// Party facts from a stored row (attributes as validated at creation).
pub fn party_facts(row: &PartyFactsRow) -> Option<PartyFacts> {
    let role = Role::parse(&row.role).ok()?;
    let attributes: Value = serde_json::from_str(&row.attributes).ok()?;
    let text = |key: &str| attributes.get(key).and_then(Value::as_str);
    let category = text("investor_category").and_then(|c| InvestorCategory::parse(c).ok());
    let kyc = text("kyc_status")
        .and_then(|s| KycStatus::parse(s).ok())
        .map(|status| Kyc {
            status,
            expires_on: text("kyc_expires_on")
                .and_then(|d| crate::domain::wire::parse_date(d).ok()),
        });
    Some(PartyFacts {
        role,
        category,
        kyc,
    })
}

/// Apply one recorded entry to a book, and insist that what the entry states as its effect
/// (parties, quantities, the redemptions of a final redemption) is exactly what replaying the
/// operation computes: a ledger cannot claim one effect and cause another.
pub fn apply_recorded(book: &mut Book, kind: &str, data: &Value) -> Result<(), String> {
    let Some((op, pending_id)) = record::replay(kind, data)? else {
        return Ok(());
    };
    let pending_before = match &op {
        Op::Approve { pending } | Op::Cancel { pending } => book.pending().get(pending).cloned(),
        _ => None,
    };
    let outcome = book
        .apply(&op, pending_id.as_deref())
        .map_err(|e| e.to_string())?;
    let operation_id = data
        .get("operation_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let reason = data.get("reason").and_then(Value::as_str);
    let (expected_kind, expected_data, _) =
        record::record(&op, &outcome, operation_id, reason, pending_before.as_ref());
    if expected_kind != kind || expected_data != *data {
        return Err(format!(
            "{kind}: the recorded effect differs from what replaying it computes"
        ));
    }
    Ok(())
}

/// The label scheme a `label.changed` entry is about: entries recorded before labels had
/// schemes are the default scheme's.
pub fn label_scheme_of(data: &Value) -> &str {
    data.get("scheme")
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str)
        .unwrap_or(crate::domain::scheme::DEFAULT_SCHEME)
}

/// A bond's state rebuilt from its ledger: tokens, monitoring, last recorded label.
#[derive(Debug)]
pub struct BondReplay {
    pub book: Book,
    pub monitor: Monitor,
    /// Per label scheme, the status last recorded by a `label.changed` entry, and the day it
    /// says the status took effect.
    pub labels: BTreeMap<String, (String, String)>,
    /// Date (Japan) on which the bond was fully redeemed, if it was.
    pub redeemed_on: Option<Date>,
}

impl BondReplay {
    /// A bond before any entry.
    pub fn new(book_terms: BookTerms, monitor_terms: MonitorTerms) -> BondReplay {
        BondReplay {
            book: Book::new(book_terms),
            monitor: Monitor::new(monitor_terms),
            labels: BTreeMap::new(),
            redeemed_on: None,
        }
    }

    /// Apply the next recorded entry: its recorded effect on tokens and monitoring must be
    /// what replaying it computes.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), String> {
        let r = self;
        let index = crate::ledger::entry::parse_index(&entry.index).unwrap_or(0);
        let on = OffsetDateTime::parse(&entry.time, &time::format_description::well_known::Rfc3339)
            .map(rules_date)
            .map_err(|e| format!("entry {index}: time: {e}"))?;
        let context = |e: String| format!("entry {index}: {e}");
        apply_recorded(&mut r.book, &entry.kind, &entry.data).map_err(context)?;
        if r.redeemed_on.is_none() && r.book.is_fully_redeemed() {
            r.redeemed_on = Some(on);
        }
        let actor = entry.actor.as_ref().map(|a| a.party.as_str()).unwrap_or("");
        let net = r.monitor.terms().net_proceeds(r.book.issued());
        r.monitor
            .apply_recorded(&entry.kind, &entry.data, index, on, actor, net)
            .map_err(context)?;
        if entry.kind == "label.changed" {
            let text = |key: &str| entry.data.get(key).and_then(Value::as_str);
            if let (Some(status), Some(since)) = (text("status"), text("effective_on")) {
                r.labels.insert(
                    label_scheme_of(&entry.data).to_owned(),
                    (status.to_owned(), since.to_owned()),
                );
            }
        }
        Ok(())
    }
}

/// The monitoring terms of a bond from its stored spec.
pub fn monitor_terms(spec: &str) -> AppResult<MonitorTerms> {
    let spec: BondSpec =
        serde_json::from_str(spec).map_err(|e| AppError::Internal(format!("stored spec: {e}")))?;
    let terms = spec
        .validate()
        .map_err(|_| AppError::Internal("stored spec no longer validates".into()))?;
    Ok(MonitorTerms::from_bond(&terms))
}

/// The book terms of a bond from its stored spec.
pub fn book_terms(issuer: &str, spec: &str) -> AppResult<BookTerms> {
    let spec: BondSpec =
        serde_json::from_str(spec).map_err(|e| AppError::Internal(format!("stored spec: {e}")))?;
    let terms = spec
        .validate()
        .map_err(|_| AppError::Internal("stored spec no longer validates".into()))?;
    Ok(BookTerms::from_bond(issuer, &terms))
}

/// A batch applied and sealed, waiting to be written: its jobs and their answers (sent only
/// after the commit).
struct Prepared {
    jobs: Vec<Job>,
    answers: Vec<Option<AppResult<Answer>>>,
    touched: Vec<String>,
}

/// What a batch being written has claimed and the database does not show yet.
#[derive(Default)]
struct Claims {
    operations: HashSet<(String, String)>,
    nonces: HashSet<(String, u64)>,
}

impl Prepared {
    fn claims(&self) -> Claims {
        let mut claims = Claims::default();
        for job in &self.jobs {
            if let Work::Create { append, .. } | Work::Append(append) = &job.work {
                if let Some(key) = append.idempotency_key() {
                    claims.operations.insert((job.ledger_id.clone(), key));
                }
                claims
                    .nonces
                    .insert((append.actor.party.clone(), append.nonce));
            }
        }
        claims
    }
}

/// The batch being written while the next one is applied.
struct InFlight {
    /// Whether it committed, once it is over.
    done: oneshot::Receiver<bool>,
    touched: Vec<String>,
    claims: Claims,
}

impl InFlight {
    /// Whether `jobs` must wait for this batch to be durable before they are applied: when
    /// they read what it writes (a ledger the cache does not hold, the issuer's projects, an
    /// ISIN) or may repeat one of its operation ids or nonces (a retry of a request it holds:
    /// the answer must be its stored one).
    fn blocks(&self, jobs: &[Job], cache: &HashMap<String, LedgerState>) -> bool {
        jobs.iter().any(|job| {
            if !cache.contains_key(&job.ledger_id) {
                return true;
            }
            // A signer the cached key log does not know (a key another process recorded, the
            // `admin` command's) is checked against the stored log once no batch is in flight.
            if let Work::Create { append, .. } | Work::Append(append) = &job.work
                && signer_key_current(cache, &append.actor).is_err()
            {
                return true;
            }
            match &job.work {
                // Key events are rare: they wait for the batch in flight.
                Work::Create { .. } | Work::Record(_) => true,
                Work::Append(append) => {
                    matches!(append.action, Action::Monitor { .. } | Action::Key(_))
                        || append.idempotency_key().is_some_and(|key| {
                            self.claims
                                .operations
                                .contains(&(job.ledger_id.clone(), key))
                        })
                        || self
                            .claims
                            .nonces
                            .contains(&(append.actor.party.clone(), append.nonce))
                }
                Work::DryRun { .. } | Work::Label { .. } => false,
            }
        })
    }
}

/// Whether `actor` signs with its party's active key on the cached key log.
fn signer_key_current(cache: &HashMap<String, LedgerState>, actor: &Actor) -> Result<(), String> {
    let Some(log) = cache.get(KEY_LOG_ID).and_then(|s| s.keys.as_ref()) else {
        return Err("the key log is not loaded".into());
    };
    match log.active(&actor.party) {
        Some(life) if b64url(life.key.as_bytes()) == actor.jwk.x => Ok(()),
        Some(life) => Err(format!(
            "the signing key is not the party's active key on the key log ({}); sign with that one",
            life.kid
        )),
        None => Err("the party has no active key on the key log".into()),
    }
}

/// Run `task` to completion on a new thread with a single-threaded runtime of its own, so that
/// it is never queued behind request handling on the shared workers: the engine and the
/// writer are the two stages of the ledger pipeline, and a wake-up that waits for a busy worker
/// leaves the other stage idle. When no thread can be had, the task comes back with why.
fn on_own_thread<F>(name: &str, task: F) -> Result<(), (F, String)>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Err((task, e.to_string())),
    };
    let (give, take) = std::sync::mpsc::channel::<F>();
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Ok(task) = take.recv() {
                runtime.block_on(task);
            }
        });
    match spawned {
        Ok(_) => {
            // The thread waits for the task, so the receiver is there to take it.
            let _ = give.send(task);
            Ok(())
        }
        Err(e) => Err((task, e.to_string())),
    }
}

type WriteJob = (Arc<Store>, Prepared, BatchWrites, oneshot::Sender<bool>);

/// Where prepared batches are written: a thread of its own with a single-threaded runtime, so
/// that the writer's round trips to the database (begin, write, commit) are never queued
/// behind request handling on the shared workers. Batches are written in the order sent.
struct Writer {
    queue: mpsc::UnboundedSender<WriteJob>,
}

impl Writer {
    fn start(requeue: mpsc::WeakSender<Job>, heads: Heads) -> Writer {
        let (queue, mut jobs) = mpsc::unbounded_channel::<WriteJob>();
        let task = async move {
            while let Some((store, prepared, writes, finished)) = jobs.recv().await {
                let written = write_and_answer(store, prepared, writes, &requeue, &heads).await;
                let _ = finished.send(written);
            }
        };
        if let Err((task, e)) = on_own_thread("midori-writer", task) {
            // Still correct, only slower: write on the shared runtime.
            tracing::warn!(error = %e, "no writer thread; writing on the shared runtime");
            tokio::spawn(task);
        }
        Writer { queue }
    }

    fn send(
        &self,
        store: Arc<Store>,
        prepared: Prepared,
        writes: BatchWrites,
        finished: oneshot::Sender<bool>,
    ) {
        // The writer ends only when the engine drops it; a failed send drops `finished`,
        // which the engine reads as "not committed".
        let _ = self.queue.send((store, prepared, writes, finished));
    }
}

/// Write a prepared batch in one transaction, commit, and only then answer its jobs. When
/// another process moved one of its ledgers, nothing was written: its jobs go back to the
/// engine's queue, once, to be applied again from what is stored. Returns whether it committed.
async fn write_and_answer(
    store: Arc<Store>,
    prepared: Prepared,
    writes: BatchWrites,
    requeue: &mpsc::WeakSender<Job>,
    heads: &Heads,
) -> bool {
    let started = std::time::Instant::now();
    let result = store.write_batch(&writes).await;
    let Prepared { jobs, answers, .. } = prepared;
    match result {
        Ok(()) => {
            // Before any answer: whoever is told its write is done reads it.
            heads.publish(&writes.heads);
            tracing::debug!(
                jobs = jobs.len(),
                total_us = started.elapsed().as_micros() as u64,
                "batch committed"
            );
            for answer in answers.iter().flatten() {
                if let Ok(Answer::Accepted(Accepted {
                    receipt,
                    replayed: false,
                })) = answer
                {
                    metrics::counter!("midori_ledger_appends_total", "type" => receipt.entry_type.clone()).increment(1);
                }
            }
            reply_all(jobs, Some(answers), None);
            true
        }
        Err(StoreError::HeadMoved(ledger)) => {
            tracing::info!(%ledger, jobs = jobs.len(), "another process appended: applying the batch again");
            let queue = requeue.upgrade();
            let mut refused = Vec::new();
            for job in jobs {
                match &queue {
                    Some(queue) if !job.again => {
                        if let Err(
                            mpsc::error::TrySendError::Full(job)
                            | mpsc::error::TrySendError::Closed(job),
                        ) = queue.try_send(Job { again: true, ..job })
                        {
                            refused.push(job);
                        }
                    }
                    _ => refused.push(job),
                }
            }
            // Applied again once already, or no room to queue it again: another process keeps
            // writing the same ledgers.
            reply_all(refused, None, Some(&AppError::Contention));
            false
        }
        Err(e) => {
            let e = AppError::from(e);
            tracing::warn!(error = %e, jobs = jobs.len(), "ledger batch failed");
            reply_all(jobs, Some(answers), Some(&e));
            false
        }
    }
}

/// Send each job its answer; when the batch `failed`, whatever it accepted is refused instead
/// (nothing of it is durable).
fn reply_all(
    jobs: Vec<Job>,
    answers: Option<Vec<Option<AppResult<Answer>>>>,
    failed: Option<&AppError>,
) {
    let answers = answers.unwrap_or_else(|| (0..jobs.len()).map(|_| None).collect());
    for (job, answer) in jobs.into_iter().zip(answers) {
        let answer = match (answer, failed) {
            (Some(Ok(Answer::Accepted(_))) | None, Some(e)) => Err(clone_error(e)),
            (Some(answer), _) => answer,
            (None, None) => Err(AppError::Internal("no answer".into())),
        };
        match job.reply {
            Reply::Accepted(tx) => {
                let _ = tx.send(answer.and_then(|a| match a {
                    Answer::Accepted(a) => Ok(a),
                    Answer::Verdict(_) => Err(AppError::Internal("verdict for an append".into())),
                }));
            }
            Reply::Verdict(tx) => {
                let _ = tx.send(answer.and_then(|a| match a {
                    Answer::Verdict(v) => Ok(v),
                    Answer::Accepted(_) => Err(AppError::Internal("receipt for a dry run".into())),
                }));
            }
        }
    }
}

struct Pending {
    job_index: usize,
    ledger_id: String,
    receipt: Receipt,
    request_hash: Option<Hash>,
    /// Where the idempotency record is kept ([`Append::idempotency_key`]).
    op_key: Option<String>,
}

impl Committer {
    async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        let mut in_flight: Option<InFlight> = None;
        while let Some(first) = jobs.recv().await {
            let mut batch = vec![first];
            while batch.len() < BATCH_MAX {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            metrics::histogram!("midori_engine_batch_size").record(batch.len() as f64);
            self.process(batch, &mut in_flight).await;
        }
        if let Some(f) = in_flight {
            self.settle(f).await;
        }
    }

    /// Apply `jobs` to the cached state while the previous batch is still being written, then
    /// hand them to the writer thread once that batch is durable (a pipeline of depth one: at most
    /// one batch is being written while the next is applied). Answers go out from the writer,
    /// after the commit.
    async fn process(&mut self, mut jobs: Vec<Job>, in_flight: &mut Option<InFlight>) {
        if in_flight
            .as_ref()
            .is_some_and(|f| f.blocks(&jobs, &self.cache))
            && let Some(f) = in_flight.take()
        {
            self.settle(f).await;
        }
        loop {
            let t0 = std::time::Instant::now();
            let prepared = self.prepare(jobs, in_flight.is_some()).await;
            let t1 = std::time::Instant::now();
            let (prepared, writes) = match prepared {
                Ok(p) => p,
                Err((jobs, e)) => {
                    // Nothing of this batch was written: refuse what it accepted, at once.
                    reply_all(jobs, None, Some(&e));
                    break;
                }
            };
            if let Some(f) = in_flight.take()
                && !self.settle(f).await
            {
                // The batch this one was applied on top of never became durable: apply this
                // one again from what the database holds.
                for ledger in &prepared.touched {
                    self.cache.remove(ledger);
                }
                jobs = prepared.jobs;
                continue;
            }
            tracing::trace!(
                prepare_us = (t1 - t0).as_micros() as u64,
                waited_us = t1.elapsed().as_micros() as u64,
                "batch handed to the writer"
            );
            let claims = prepared.claims();
            let touched = prepared.touched.clone();
            let (finished, done) = oneshot::channel();
            self.writer
                .send(self.store.clone(), prepared, writes, finished);
            *in_flight = Some(InFlight {
                done,
                touched,
                claims,
            });
            break;
        }
    }

    /// Wait for the batch being written; if it did not commit, forget the cached state it
    /// touched (it is ahead of the database). Returns whether it committed.
    async fn settle(&mut self, f: InFlight) -> bool {
        let committed = f.done.await.unwrap_or(false);
        if !committed {
            for ledger in &f.touched {
                self.cache.remove(ledger);
            }
        }
        committed
    }

    /// Read what `jobs` need (on a reading connection: the batch in flight is not visible
    /// there, see [`InFlight::blocks`]), apply them in queue order to the cached state and
    /// seal their entries. `Err` hands the jobs back with the error that failed them all.
    async fn prepare(
        &mut self,
        jobs: Vec<Job>,
        pipelined: bool,
    ) -> Result<(Prepared, BatchWrites), (Vec<Job>, AppError)> {
        let touched: Vec<String> = {
            let mut seen = HashSet::new();
            jobs.iter()
                .filter(|j| seen.insert(j.ledger_id.clone()))
                .map(|j| j.ledger_id.clone())
                .collect()
        };
        let mut answers: Vec<Option<AppResult<Answer>>> = (0..jobs.len()).map(|_| None).collect();
        let store = self.store.clone();
        // With a batch in flight, every ledger these jobs touch is cached and none of them
        // creates a ledger or reads projects ([`InFlight::blocks`]): what remains to read
        // (party facts, operation ids, nonces) needs no common snapshot, only what is
        // committed. Otherwise ledgers may be loaded, and heads and entries must agree.
        let reader = if pipelined {
            store.engine_plain().await
        } else {
            store.engine_read().await
        };
        let result = match reader {
            Ok(mut reader) => {
                let result = self
                    .run_batch(&mut reader, &jobs, &mut answers, pipelined)
                    .await;
                reader.finish().await;
                result
            }
            Err(e) => Err(AppError::from(e)),
        };
        match result {
            Ok(writes) => Ok((
                Prepared {
                    jobs,
                    answers,
                    touched,
                },
                writes,
            )),
            Err(e) => {
                for ledger in &touched {
                    self.cache.remove(ledger);
                }
                tracing::warn!(error = %e, jobs = jobs.len(), "ledger batch failed");
                Err((jobs, e))
            }
        }
    }

    /// Everything between BEGIN and COMMIT. Per-job refusals go into `answers`; an `Err` fails
    /// the whole batch.
    async fn run_batch(
        &mut self,
        batch: &mut Batch<'_>,
        jobs: &[Job],
        answers: &mut [Option<AppResult<Answer>>],
        pipelined: bool,
    ) -> AppResult<BatchWrites> {
        let mut out = BatchWrites::default();
        let mut isins: HashSet<String> = HashSet::new();
        // 1. Load every touched ledger that the cache cannot vouch for, creating new ones.
        let started = std::time::Instant::now();
        let mut creating: HashSet<&str> = HashSet::new();
        for job in jobs {
            if let Work::Create { .. } = job.work {
                creating.insert(&job.ledger_id);
            }
        }
        let mut order: Vec<String> = Vec::new();
        for job in jobs {
            if order.contains(&job.ledger_id) {
                continue;
            }
            order.push(job.ledger_id.clone());
            // With a batch in flight the database is behind the cache by that batch: trust the
            // cache (the writer's head check catches any other writer).
            let cached = pipelined && self.cache.contains_key(&job.ledger_id);
            if !creating.contains(job.ledger_id.as_str()) && !cached {
                self.load(batch, &job.ledger_id).await?;
            }
        }
        // Every signer is checked against the key log: its state is kept once loaded (every
        // key event of this process goes through this engine), and read again when a signer
        // is not on it (another process, such as `midori admin`, may have recorded its key).
        let unknown_signer = jobs.iter().any(|job| match &job.work {
            Work::Create { append, .. } | Work::Append(append) => {
                signer_key_current(&self.cache, &append.actor).is_err()
            }
            _ => false,
        });
        if !self.cache.contains_key(KEY_LOG_ID) || (unknown_signer && !pipelined) {
            self.load(batch, KEY_LOG_ID).await?;
        }

        let t_load = std::time::Instant::now();
        // 2. Facts about every party the batch names, idempotency records and used nonces.
        let mut party_ids: BTreeSet<String> = BTreeSet::new();
        let mut op_ids: HashMap<&str, Vec<String>> = HashMap::new();
        let mut nonces: Vec<(String, u64)> = Vec::new();
        for job in jobs {
            match &job.work {
                Work::Create { append, .. } | Work::Append(append) => {
                    party_ids.insert(append.actor.party.clone());
                    if let Action::Book { op, .. } = &append.action {
                        named_parties(op, &mut party_ids);
                    }
                    if let Some(key) = append.idempotency_key() {
                        op_ids.entry(&job.ledger_id).or_default().push(key);
                    }
                    nonces.push((append.actor.party.clone(), append.nonce));
                }
                Work::DryRun { actor, op } => {
                    party_ids.insert(actor.clone());
                    named_parties(op, &mut party_ids);
                }
                Work::Label { .. } | Work::Record(_) => {}
            }
        }
        // Projects that monitoring operations name, as the issuer's other bonds record them.
        let mut wanted: HashMap<String, BTreeSet<String>> = HashMap::new();
        for job in jobs {
            if let Work::Append(Append {
                action: Action::Monitor { op },
                ..
            }) = &job.work
                && let Some(state) = self.cache.get(&job.ledger_id)
            {
                let Some(book) = state.book.as_ref() else {
                    continue;
                };
                let names = wanted.entry(book.terms().issuer.clone()).or_default();
                match op {
                    MonitorOp::RegisterProject(p) => {
                        names.insert(p.id.clone());
                    }
                    MonitorOp::ReportAllocation(r) => {
                        names.extend(r.lines.iter().map(|l| l.project.clone()));
                    }
                    _ => {}
                }
            }
        }
        let mut projects: HashMap<(String, String), HashMap<String, IssuerProjectRow>> =
            HashMap::new();
        for (issuer, names) in &wanted {
            let names: Vec<String> = names.iter().cloned().collect();
            for row in batch.issuer_projects(issuer, &names).await? {
                projects
                    .entry((issuer.clone(), row.project_id.clone()))
                    .or_default()
                    .insert(row.ledger_id.clone(), row);
            }
        }
        let mut project_writes: HashMap<(String, String, String), IssuerProjectRow> =
            HashMap::new();
        // Pending transfers name their parties only in the book: add them for approvals.
        for job in jobs {
            let pending = match &job.work {
                Work::Append(Append {
                    action:
                        Action::Book {
                            op: Op::Approve { pending },
                            ..
                        },
                    ..
                }) => Some(pending),
                Work::DryRun {
                    op: Op::Approve { pending },
                    ..
                } => Some(pending),
                _ => None,
            };
            if let Some(pending) = pending
                && let Some(p) = self
                    .cache
                    .get(&job.ledger_id)
                    .and_then(|s| s.book.as_ref())
                    .and_then(|b| b.pending().get(pending))
            {
                party_ids.insert(p.to.clone());
                party_ids.insert(p.from.clone());
            }
        }
        let ids: Vec<String> = party_ids.into_iter().collect();
        let facts: HashMap<String, PartyFacts> = batch
            .party_facts(&ids)
            .await?
            .iter()
            .filter_map(|(id, row)| party_facts(row).map(|f| (id.clone(), f)))
            .collect();
        let mut stored_ops = HashMap::new();
        for (ledger, ids) in &op_ids {
            for (id, op) in batch.operations(ledger, ids).await? {
                stored_ops.insert((ledger.to_string(), id), op);
            }
        }
        let t_ops = std::time::Instant::now();
        let used = batch.used_nonces(&nonces).await?;
        let t_nonces = std::time::Instant::now();

        // 3. Each job, in queue order, against the state the jobs before it left.
        let mut fresh_nonces: HashSet<(String, u64)> = HashSet::new();
        let mut batch_ops: HashMap<(String, String), (Hash, usize)> = HashMap::new();
        let mut writes: HashMap<String, LedgerWrite> = HashMap::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut retries: Vec<(usize, usize)> = Vec::new();
        let lookup = |id: &str| facts.get(id).cloned();
        for (i, job) in jobs.iter().enumerate() {
            let (append, create, label_from) = match &job.work {
                Work::DryRun { actor, op } => {
                    answers[i] = Some(
                        self.verdict(&job.ledger_id, actor, op, &lookup)
                            .map(Answer::Verdict),
                    );
                    continue;
                }
                Work::Create {
                    origin,
                    bond,
                    trial,
                    append,
                } => (Some(append), Some((origin, bond.as_ref(), trial)), None),
                Work::Append(append) => (Some(append), None, None),
                Work::Label { from, at_size, .. } => (None, None, Some((from, *at_size))),
                Work::Record(_) => (None, None, None),
            };
            let mut hash = None;
            let mut request_bytes = None;
            let mut nonce_key = None;
            if let Some(append) = append {
                let (h, bytes) = request_hash(&append.request)?;
                hash = Some(h);
                request_bytes = Some(bytes);
                if let (Some(id), Some(op_key)) = (&append.operation_id, append.idempotency_key()) {
                    let key = (job.ledger_id.clone(), op_key);
                    if let Some(stored) = stored_ops.get(&key) {
                        answers[i] =
                            Some(replay_answer(&stored.request_hash, &h, &stored.result, id));
                        continue;
                    }
                    if let Some((earlier_hash, earlier)) = batch_ops.get(&key) {
                        if *earlier_hash == h {
                            // Answered with the earlier job's receipt once the batch has one.
                            retries.push((i, *earlier));
                        } else {
                            answers[i] = Some(Err(reused_id(id)));
                        }
                        continue;
                    }
                }
                let key = (append.actor.party.clone(), append.nonce);
                if used.contains(&key) || fresh_nonces.contains(&key) {
                    answers[i] = Some(Err(AppError::Replay(format!(
                        "nonce {} was already used by this party: a replayed request is never applied twice; sign a new request with a fresh nonce",
                        append.nonce
                    ))));
                    continue;
                }
                nonce_key = Some(key);
            }
            // Every signer signs with its active key on the key log, at the moment its entry is
            // appended (a rotation may have landed since the request was verified).
            if let Some(append) = append
                && let Err(why) = signer_key_current(&self.cache, &append.actor)
            {
                answers[i] = Some(Err(AppError::Signature(why)));
                continue;
            }
            if let Some((origin, bond, trial)) = create {
                if let Some((new_bond, _)) = bond
                    && let Some(isin) = &new_bond.isin
                    && (isins.contains(isin) || batch.isin_taken(isin).await?)
                {
                    answers[i] = Some(Err(AppError::Conflict(
                        "a bond with this ISIN is already registered".into(),
                    )));
                    continue;
                }
                let now = format_time(self.clock.now());
                if let Some(isin) = bond.as_ref().and_then(|(b, _)| b.isin.clone()) {
                    isins.insert(isin);
                }
                out.creates.push(NewLedger {
                    id: job.ledger_id.clone(),
                    origin: origin.clone(),
                    created_at: now,
                    bond: bond.as_ref().map(|(b, _)| b.clone()),
                });
                let trial = match trial {
                    Some(t) => {
                        let (new_trial, rulebook) = t.as_ref();
                        out.trials.push(new_trial.clone());
                        Some(TrialState {
                            rulebook: rulebook.clone(),
                            progress: Progress::start(SandboxState::new([new_trial
                                .regulator_id
                                .clone()])),
                        })
                    }
                    None => None,
                };
                let (book, monitor) = match bond {
                    Some((new_bond, terms)) => (
                        Some(Book::new(terms.clone())),
                        Some(Monitor::new(monitor_terms(&new_bond.spec)?)),
                    ),
                    None => (None, None),
                };
                self.cache.insert(
                    job.ledger_id.clone(),
                    LedgerState {
                        origin: origin.clone(),
                        size: 0,
                        frontier: Vec::new(),
                        last_time: String::new(),
                        book,
                        once: HashSet::new(),
                        monitor,
                        label: BTreeMap::new(),
                        redeemed_on: None,
                        facts: Vec::new(),
                        doc_text: Arc::default(),
                        doc_dirty: true,
                        trial,
                        keys: None,
                    },
                );
            }
            let Some(state) = self.cache.get_mut(&job.ledger_id) else {
                answers[i] = Some(Err(AppError::NotFound("ledger".into())));
                continue;
            };
            // Entry times never go backwards along a ledger, nor along a party's signatures,
            // whatever the wall clock does; a party's key event comes strictly after the
            // party's entries before it (see `party_times`).
            let now = self.clock.now();
            let mut time = format_time(now);
            if time < state.last_time {
                time = state.last_time.clone();
            }
            if let Some(floor) = append.and_then(|a| self.party_times.get(&a.actor.party))
                && time < *floor
            {
                time = floor.clone();
            }
            let key_party = match (&job.work, append) {
                (Work::Record(Action::Key(event)), _) => Some(event.party().to_owned()),
                (_, Some(a)) if matches!(a.action, Action::Key(_)) => Some(a.actor.party.clone()),
                _ => None,
            };
            if let Some(last) = key_party.as_ref().and_then(|p| self.party_times.get(p))
                && time <= *last
            {
                time = OffsetDateTime::parse(last, &time::format_description::well_known::Rfc3339)
                    .map(|t| format_time(t + time::Duration::microseconds(1)))
                    .unwrap_or(time);
            }
            let today = rules_date(
                OffsetDateTime::parse(&time, &time::format_description::well_known::Rfc3339)
                    .unwrap_or(now),
            );
            let action = match (append, &job.work) {
                (Some(append), _) => &append.action,
                (None, Work::Label { data, .. }) => {
                    let (from, at_size) = match label_from {
                        Some((from, at_size)) => (from.as_ref(), at_size),
                        None => (None, u64::MAX),
                    };
                    let scheme = label_scheme_of(data).to_owned();
                    if state.label.get(&scheme).map(|(s, _)| s) != from || state.size != at_size {
                        answers[i] = Some(Err(AppError::Conflict(
                            "the label changed meanwhile; evaluate it again".into(),
                        )));
                        continue;
                    }
                    let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
                    if let (Some(status), Some(since)) = (text("status"), text("effective_on")) {
                        state.label.insert(scheme, (status, since));
                    }
                    &Action::Plain {
                        kind: "label.changed".into(),
                        data: data.clone(),
                        parties: vec![],
                        once: None,
                    }
                }
                (None, Work::Record(action)) => action,
                (None, _) => continue,
            };
            let actor = append.map(|a| a.actor.party.as_str()).unwrap_or_default();
            let mut verdict_out: Option<Value> = None;
            // A bond's state before the entry, for what it changes in the maintained state.
            let before = match (state.book.as_ref(), state.monitor.as_ref()) {
                (Some(book), Some(monitor)) => Some((
                    book.totals(),
                    match action {
                        Action::Book { op, .. } => super::state::without_position_before(op, book),
                        _ => Vec::new(),
                    },
                    monitor.terms().net_proceeds(book.issued()),
                    matches!(action, Action::Book { .. }),
                )),
                _ => None,
            };
            let (kind, data, parties, status) = match action {
                Action::Plain {
                    kind,
                    data,
                    parties,
                    once,
                } => {
                    if let Some(key) = once {
                        if state.once.contains(key) {
                            answers[i] = Some(Err(AppError::Rules(vec![Violation {
                                code: "already_recorded".into(),
                                detail: format!(
                                    "{key} is already on this ledger; it is recorded once"
                                ),
                            }])));
                            continue;
                        }
                        state.once.insert(key.clone());
                    }
                    (kind.clone(), data.clone(), parties.clone(), "applied")
                }
                Action::Monitor { op } => {
                    let (Some(monitor), Some(book)) = (state.monitor.as_mut(), state.book.as_ref())
                    else {
                        answers[i] = Some(Err(AppError::Conflict(
                            "this ledger is not a bond's".into(),
                        )));
                        continue;
                    };
                    let net_proceeds = monitor.terms().net_proceeds(book.issued());
                    let issuer = book.terms().issuer.clone();
                    let ledger = job.ledger_id.clone();
                    let elsewhere = |project: &str| -> Option<Elsewhere> {
                        let rows = projects.get(&(issuer.clone(), project.to_owned()))?;
                        let mut out: Option<Elsewhere> = None;
                        for (l, row) in rows {
                            if *l == ledger {
                                continue;
                            }
                            let num = |t: &str| t.parse::<Decimal>().unwrap_or_default();
                            let e = out.get_or_insert_with(|| Elsewhere {
                                total_cost: num(&row.total_cost),
                                financing_share: num(&row.financing_share),
                                allocated: Decimal::ZERO,
                            });
                            e.allocated += num(&row.allocated);
                        }
                        out
                    };
                    let ctx = MonitorContext {
                        net_proceeds,
                        actor,
                        today,
                        elsewhere: &elsewhere,
                    };
                    let violations = monitor.check(op, &ctx);
                    if !violations.is_empty() {
                        answers[i] = Some(Err(AppError::Rules(violations)));
                        continue;
                    }
                    let (kind, data) = monitor.apply(op, state.size, today, actor, net_proceeds);
                    if matches!(
                        op,
                        MonitorOp::RegisterProject(_) | MonitorOp::ReportAllocation(_)
                    ) {
                        let allocated = monitor.allocated_by_project();
                        for (id, p) in monitor.projects() {
                            let row = IssuerProjectRow {
                                issuer_id: issuer.clone(),
                                project_id: id.clone(),
                                ledger_id: ledger.clone(),
                                total_cost: p.total_cost.normalize().to_string(),
                                financing_share: p.financing_share.normalize().to_string(),
                                allocated: allocated
                                    .get(id)
                                    .copied()
                                    .unwrap_or_default()
                                    .normalize()
                                    .to_string(),
                            };
                            projects
                                .entry((issuer.clone(), id.clone()))
                                .or_default()
                                .insert(ledger.clone(), row.clone());
                            project_writes
                                .insert((issuer.clone(), id.clone(), ledger.clone()), row);
                        }
                    }
                    (kind, data, vec![], "applied")
                }
                Action::Key(event) => {
                    let Some(log) = state.keys.as_mut() else {
                        answers[i] = Some(Err(AppError::Conflict(
                            "this ledger is not the key log".into(),
                        )));
                        continue;
                    };
                    if let Err(why) = log.check(event) {
                        answers[i] = Some(Err(AppError::Conflict(why)));
                        continue;
                    }
                    log.record_new(
                        event,
                        state.size,
                        OffsetDateTime::parse(
                            &time,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .unwrap_or(now),
                    );
                    if event.installs() {
                        out.keys.push(KeyWrite {
                            party_id: event.party().to_owned(),
                            kid: crate::ledger::canon::jwk_thumbprint(event.key()),
                            public_key: event.key().as_bytes().to_vec(),
                            retire: event.retires().map(str::to_owned),
                            insert: !matches!(
                                event,
                                KeyEvent::Registered {
                                    via: crate::ledger::keylog::Via::Backfill,
                                    ..
                                }
                            ),
                            time: time.clone(),
                        });
                    }
                    (
                        event.kind().to_owned(),
                        event.data(),
                        vec![event.party().to_owned()],
                        "applied",
                    )
                }
                Action::Sandbox { body } => {
                    let Some(trial) = state.trial.as_mut() else {
                        answers[i] = Some(Err(AppError::Conflict(
                            "this ledger is not a trial's".into(),
                        )));
                        continue;
                    };
                    // Only the trial's regulator and the participants it admitted write to
                    // the trial's ledger: an outsider's transaction is refused, not recorded
                    // (it would otherwise let anyone grow any trial's ledger).
                    let rules = &trial.progress.state;
                    if !rules.is_regulator(actor) && rules.participant(actor).is_none() {
                        answers[i] = Some(Err(AppError::Forbidden(
                            "only the trial's regulator and the participants it admitted submit \
                             transactions to this trial"
                                .into(),
                        )));
                        continue;
                    }
                    let tx = Tx {
                        id: append
                            .and_then(|a| a.operation_id.clone())
                            .unwrap_or_default(),
                        time: OffsetDateTime::parse(
                            &time,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .unwrap_or(now),
                        actor: actor.to_owned(),
                        body: body.clone(),
                    };
                    let verdict = trial.step(&tx);
                    let status = if verdict.accepted {
                        "accepted"
                    } else {
                        "refused"
                    };
                    verdict_out = Some(
                        serde_json::to_value(&verdict)
                            .map_err(|e| AppError::Internal(e.to_string()))?,
                    );
                    let data = json!({ "tx": tx, "verdict": verdict });
                    (SANDBOX_TX.to_owned(), data, vec![], status)
                }
                Action::Book { op, reason } => {
                    let Some(book) = state.book.as_mut() else {
                        answers[i] = Some(Err(AppError::Conflict(
                            "this ledger holds no tokens".into(),
                        )));
                        continue;
                    };
                    let violations = book.check(op, actor, today, &lookup);
                    if !violations.is_empty() {
                        answers[i] = Some(Err(AppError::Rules(violations)));
                        continue;
                    }
                    let pending_before = match op {
                        Op::Approve { pending } | Op::Cancel { pending } => {
                            book.pending().get(pending).cloned()
                        }
                        _ => None,
                    };
                    let op_id = append
                        .and_then(|a| a.operation_id.clone())
                        .unwrap_or_default();
                    // A transfer waiting for approval is named by its operation id on the
                    // bond; ids are per party, so another party's pending transfer may hold it.
                    if matches!(op, Op::Transfer { .. })
                        && book.terms().approval_required
                        && book.pending().contains_key(&op_id)
                    {
                        answers[i] = Some(Err(AppError::Conflict(
                            "this operation id already names a transfer waiting for approval on \
                             this bond; choose another id"
                                .into(),
                        )));
                        continue;
                    }
                    let outcome = book
                        .apply(op, Some(&op_id))
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    let (kind, data, parties) = record::record(
                        op,
                        &outcome,
                        &op_id,
                        reason.as_deref(),
                        pending_before.as_ref(),
                    );
                    (
                        kind,
                        data,
                        parties,
                        if outcome == Outcome::Pending {
                            "pending"
                        } else {
                            "applied"
                        },
                    )
                }
            };
            let draft = Draft {
                kind: kind.clone(),
                actor: append.map(|a| a.actor.clone()),
                request: append.map(|a| a.request.clone()),
                data,
            };
            let index = state.size;
            let leaf = draft.seal_leaf(
                &state.origin,
                index,
                &time,
                &self.signer,
                request_bytes.as_deref(),
            )?;
            let leaf_hash = merkle::leaf_hash(&leaf);
            let appended = merkle::append(state.size, &state.frontier, leaf_hash)?;
            state.size += 1;
            state.frontier = appended.frontier;
            state.last_time = time.clone();
            if let Some(party) = key_party.or_else(|| append.map(|a| a.actor.party.clone())) {
                self.party_times.insert(party, time.clone());
            }
            let write = writes
                .entry(job.ledger_id.clone())
                .or_insert_with(|| LedgerWrite {
                    old_size: index,
                    ..Default::default()
                });
            write.new_size = state.size;
            write.nodes.extend(appended.nodes);
            let mut involved = parties;
            if let Some(a) = append {
                involved.push(a.actor.party.clone());
            }
            let mut positions = Vec::new();
            if let (Some(book), Some((totals_before, without, net, token_op))) =
                (state.book.as_ref(), before)
            {
                let fx = super::state::effects(book, &involved, &without, totals_before)?;
                positions = fx.positions;
                write
                    .holders
                    .extend(fx.holders.into_iter().map(|p| (p, index)));
                if let Some(t) = fx.totals {
                    write.totals.push((index, t));
                }
                if !token_op {
                    state.facts.push((index, net.normalize().to_string()));
                }
                let plain_transfer = matches!(
                    action,
                    Action::Book {
                        op: Op::Transfer { .. },
                        ..
                    }
                ) && status == "applied";
                if !plain_transfer {
                    state.doc_dirty = true;
                }
                if state.redeemed_on.is_none() && book.is_fully_redeemed() {
                    state.redeemed_on = Some(crate::domain::wire::format_date(today));
                }
            }
            write.entries.push(NewEntry {
                index,
                kind: kind.clone(),
                leaf,
                leaf_hash,
                time,
                parties: involved,
                positions,
            });
            if let Some(key) = nonce_key {
                fresh_nonces.insert(key);
            }
            let operation_id = append.and_then(|a| a.operation_id.clone());
            let op_key = append.and_then(Append::idempotency_key);
            if let (Some(key), Some(h)) = (&op_key, hash) {
                batch_ops.insert((job.ledger_id.clone(), key.clone()), (h, i));
            }
            pending.push(Pending {
                job_index: i,
                ledger_id: job.ledger_id.clone(),
                receipt: Receipt {
                    operation_id: operation_id.clone().unwrap_or_default(),
                    status: status.into(),
                    entry_type: kind,
                    entry_index: index.to_string(),
                    tree_size: String::new(),
                    checkpoint: String::new(),
                    verdict: verdict_out,
                },
                request_hash: operation_id.as_ref().and(hash),
                op_key,
            });
        }

        let t_apply = std::time::Instant::now();
        // 4. One signed checkpoint per ledger, covering the whole batch; then write.
        let mut checkpoints: HashMap<String, (u64, String)> = HashMap::new();
        for (ledger_id, write) in writes.iter_mut() {
            let state = self
                .cache
                .get_mut(ledger_id)
                .ok_or_else(|| AppError::Internal("state vanished".into()))?;
            if let Some(book) = state.book.as_ref() {
                if state.doc_dirty {
                    let doc = super::state::BondDoc {
                        totals: book.totals(),
                        pending: book.pending().clone(),
                        once: state.once.iter().cloned().collect(),
                        labels: state.label.clone(),
                        redeemed_on: state.redeemed_on.clone(),
                        facts: state.facts.clone(),
                    };
                    let text = doc.to_text()?;
                    if text != *state.doc_text {
                        write.state = Some(text.clone());
                        state.doc_text = Arc::new(text);
                    }
                    state.doc_dirty = false;
                }
                out.heads
                    .push((ledger_id.clone(), state.size, state.doc_text.clone()));
            }
            if let Some(trial) = state.trial.as_ref() {
                write.trial_state = Some(
                    serde_json::to_string(&trial.progress)
                        .map_err(|e| AppError::Internal(format!("trial state: {e}")))?,
                );
            }
            let root = merkle::root_from_frontier(&state.frontier);
            let cp = Checkpoint {
                origin: state.origin.clone(),
                size: state.size,
                root,
            };
            let text = note::sign_checkpoint(&cp, &self.note_name, self.signer.signing_key());
            write.new_root = Some(root);
            write.checkpoint = Some(text.clone());
            checkpoints.insert(ledger_id.clone(), (state.size, text));
        }
        for p in pending.iter_mut() {
            let (size, text) = &checkpoints[&p.ledger_id];
            p.receipt.tree_size = size.to_string();
            p.receipt.checkpoint = text.clone();
            if let (Some(hash), Some(op_key)) = (p.request_hash, &p.op_key) {
                let result = serde_json::to_string(&p.receipt)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                if let Some(w) = writes.get_mut(&p.ledger_id) {
                    w.operations.push(NewOperation {
                        operation_id: op_key.clone(),
                        request_hash: hash,
                        entry_index: p.receipt.entry_index.parse().unwrap_or(0),
                        result,
                    })
                }
            }
            answers[p.job_index] = Some(Ok(Answer::Accepted(Accepted {
                receipt: p.receipt.clone(),
                replayed: false,
            })));
        }
        for (retry, earlier) in retries {
            answers[retry] = Some(match &answers[earlier] {
                Some(Ok(Answer::Accepted(a))) => Ok(Answer::Accepted(Accepted {
                    receipt: a.receipt.clone(),
                    replayed: true,
                })),
                _ => Err(AppError::Busy),
            });
        }
        for ledger_id in order {
            if let Some(write) = writes.remove(&ledger_id) {
                out.ledgers.push((ledger_id, write));
            }
        }
        out.projects = project_writes.into_values().collect();
        out.nonces = fresh_nonces.into_iter().collect();
        tracing::trace!(
            load_us = (t_load - started).as_micros() as u64,
            facts_and_ops_us = (t_ops - t_load).as_micros() as u64,
            nonces_us = (t_nonces - t_ops).as_micros() as u64,
            apply_us = (t_apply - t_nonces).as_micros() as u64,
            checkpoint_us = t_apply.elapsed().as_micros() as u64,
            "batch prepared"
        );
        Ok(out)
    }

    fn verdict(
        &self,
        ledger_id: &str,
        actor: &str,
        op: &Op,
        facts: &dyn Fn(&str) -> Option<PartyFacts>,
    ) -> AppResult<Verdict> {
        let book = self
            .cache
            .get(ledger_id)
            .and_then(|s| s.book.as_ref())
            .ok_or_else(|| AppError::NotFound("bond".into()))?;
        let today = rules_date(self.clock.now());
        let violations = book.check(op, actor, today, facts);
        let outcome = violations.is_empty().then(|| {
            if matches!(op, Op::Transfer { .. }) && book.terms().approval_required {
                "pending"
            } else {
                "applied"
            }
            .to_owned()
        });
        Ok(Verdict {
            allowed: violations.is_empty(),
            outcome,
            violations,
        })
    }

    /// Make the cached state of `ledger_id` match the stored head, rebuilding it if needed.
    async fn load(&mut self, batch: &mut Batch<'_>, ledger_id: &str) -> AppResult<()> {
        // On PostgreSQL each read sees what is committed when it runs: another process may
        // append between reading the head and reading the state. Read both again then.
        let mut attempts = 0;
        loop {
            match self.load_once(batch, ledger_id).await {
                Err(AppError::Contention) if attempts < 3 => attempts += 1,
                other => return other,
            }
        }
    }

    async fn load_once(&mut self, batch: &mut Batch<'_>, ledger_id: &str) -> AppResult<()> {
        let head = batch.head(ledger_id).await.map_err(|e| match e {
            StoreError::NotFound => AppError::NotFound("ledger".into()),
            other => other.into(),
        })?;
        if self
            .cache
            .get(ledger_id)
            .is_some_and(|s| s.size == head.size)
        {
            return Ok(());
        }
        let ids = merkle::frontier_ids(head.size);
        let nodes = batch.nodes(ledger_id, &ids).await?;
        let frontier: Vec<Hash> = ids
            .iter()
            .map(|id| {
                nodes
                    .get(id)
                    .copied()
                    .ok_or_else(|| AppError::Internal(format!("missing node {id:?}")))
            })
            .collect::<AppResult<_>>()?;
        // Never sign a checkpoint that is inconsistent with the stored tree.
        if merkle::root_from_frontier(&frontier) != head.root {
            return Err(AppError::Internal(format!(
                "ledger {ledger_id}: stored nodes disagree with the head"
            )));
        }
        if let Some((issuer, spec)) = batch.bond_by_ledger(ledger_id).await? {
            // A bond: its maintained state, never a replay of its entries.
            let loaded = super::state::load(
                batch,
                ledger_id,
                book_terms(&issuer, &spec)?,
                monitor_terms(&spec)?,
                true,
            )
            .await?
            .ok_or_else(|| {
                AppError::Internal(format!(
                    "ledger {ledger_id} has no maintained state (a restart rebuilds it)"
                ))
            })?;
            if loaded.size != head.size {
                // Another process appended between the two reads.
                return Err(AppError::Contention);
            }
            let doc_text = loaded.doc.to_text()?;
            let super::state::BondDoc {
                once,
                labels,
                redeemed_on,
                facts,
                ..
            } = loaded.doc;
            self.cache.insert(
                ledger_id.to_owned(),
                LedgerState {
                    origin: head.origin,
                    size: head.size,
                    frontier,
                    last_time: loaded.last_time,
                    book: Some(loaded.bond.book),
                    once: once.into_iter().collect(),
                    monitor: Some(loaded.bond.monitor),
                    label: labels,
                    redeemed_on,
                    facts,
                    doc_text: Arc::new(doc_text),
                    doc_dirty: false,
                    trial: None,
                    keys: None,
                },
            );
            return Ok(());
        }
        let trial_row = batch.trial_by_ledger(ledger_id).await?;
        let rulebook = trial_row
            .as_ref()
            .map(|(text, _)| {
                Rulebook::parse(text.as_bytes())
                    .map(Arc::new)
                    .map_err(|e| AppError::Internal(format!("stored rulebook: {e}")))
            })
            .transpose()?;
        // A trial: its kept rule state and counts, when they are of this head.
        let kept = match &rulebook {
            Some(_) => {
                let row = batch.trial_state(ledger_id).await?;
                row.state.filter(|_| row.size == head.size)
            }
            None => None,
        };
        let (last_time, once, trial, keys) = match (kept, rulebook) {
            (Some(state), Some(rulebook)) => {
                let progress: Progress = serde_json::from_str(&state)
                    .map_err(|e| AppError::Internal(format!("stored trial state: {e}")))?;
                let last_time = match head.size.checked_sub(1) {
                    Some(last) => batch.entry_time(ledger_id, last).await?,
                    None => String::new(),
                };
                let trial = TrialState { rulebook, progress };
                (last_time, HashSet::new(), Some(trial), None)
            }
            // A trial written before its state was kept, or the key log: from its entries.
            (_, rulebook) => {
                let rows = batch.entries_from(ledger_id, 0).await?;
                let last_time = rows
                    .last()
                    .map(|r| r.created_at.clone())
                    .unwrap_or_default();
                // Each stored leaf is parsed (and its canonical form checked) once.
                let entries: Vec<Entry> = rows
                    .iter()
                    .map(|r| Entry::from_leaf(&r.leaf).map(|(e, _)| e))
                    .collect::<Result<_, _>>()?;
                let once: HashSet<String> = entries
                    .iter()
                    .filter_map(|e| once_key(&e.kind, &e.data))
                    .collect();
                let trial = match (rulebook, &trial_row) {
                    (Some(rulebook), Some((_, regulator))) => {
                        let progress = replay_trial(rulebook.clone(), regulator, &entries)
                            .map_err(AppError::Internal)?;
                        Some(TrialState { rulebook, progress })
                    }
                    _ => None,
                };
                let keys = if ledger_id == KEY_LOG_ID {
                    let mut log = KeyLog::new();
                    for entry in &entries {
                        log.apply(entry).map_err(AppError::Internal)?;
                    }
                    Some(log)
                } else {
                    None
                };
                (last_time, once, trial, keys)
            }
        };
        self.cache.insert(
            ledger_id.to_owned(),
            LedgerState {
                origin: head.origin,
                size: head.size,
                frontier,
                last_time,
                book: None,
                once,
                monitor: None,
                label: BTreeMap::new(),
                redeemed_on: None,
                facts: Vec::new(),
                doc_text: Arc::default(),
                doc_dirty: false,
                trial,
                keys,
            },
        );
        Ok(())
    }
}

enum Answer {
    Accepted(Accepted),
    Verdict(Verdict),
}

fn named_parties(op: &Op, out: &mut BTreeSet<String>) {
    match op {
        Op::Issue { allocations } => out.extend(allocations.iter().map(|(p, _)| p.clone())),
        Op::Transfer { from, to, .. } | Op::ForcedTransfer { from, to, .. } => {
            out.insert(from.clone());
            out.insert(to.clone());
        }
        Op::Freeze { holder, .. } | Op::Unfreeze { holder, .. } | Op::Redeem { holder, .. } => {
            out.insert(holder.clone());
        }
        Op::Approve { .. }
        | Op::Cancel { .. }
        | Op::CloseIssuance
        | Op::Pause
        | Op::Unpause
        | Op::RedeemAll => {}
    }
}

fn reused_id(id: &str) -> AppError {
    AppError::Conflict(format!(
        "operation id {id:?} was already used for a different request; choose a new id"
    ))
}

fn replay_answer(stored_hash: &Hash, hash: &Hash, result: &str, id: &str) -> AppResult<Answer> {
    if stored_hash != hash {
        return Err(reused_id(id));
    }
    let receipt: Receipt = serde_json::from_str(result)
        .map_err(|e| AppError::Internal(format!("stored receipt: {e}")))?;
    Ok(Answer::Accepted(Accepted {
        receipt,
        replayed: true,
    }))
}

fn clone_error(e: &AppError) -> AppError {
    match e {
        AppError::Busy => AppError::Busy,
        AppError::Contention => AppError::Contention,
        AppError::StorageFull => AppError::StorageFull,
        AppError::Conflict(d) => AppError::Conflict(d.clone()),
        AppError::NotFound(d) => AppError::NotFound(d.clone()),
        other => AppError::Internal(other.to_string()),
    }
}

/// A bond ledger's rule-independent invariants, checked offline one entry at a time in ledger
/// order (what `midori verify` folds into its single pass over the export): replaying every
/// token entry from the registered terms never makes a balance negative, a hold or freeze
/// exceed its balance, or supply differ from issued − redeemed; and every token and monitoring
/// entry records exactly the effect that replaying it computes. A ledger whose first entry is
/// not a bond's registration (a trial's, the key log) has none to check.
#[derive(Debug, Default)]
pub struct BookAudit {
    bond: Option<BondReplay>,
    /// What a snapshot needs to rebuild the monitor: the registration and each fact entry
    /// (not a token operation) with the net proceeds it was judged against. Kept only when
    /// asked for (`keep_facts`); their number grows with reports, not with transfers.
    kept: Option<Kept>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Kept {
    registration: String,
    facts: Vec<(u64, String, String)>,
}

/// A bond's audited state at some size, enough to go on checking from there
/// (`midori verify --since`): the registration (its terms), the book, the labels, and the fact
/// entries the monitor is rebuilt from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookSnapshot {
    registration: String,
    totals: crate::domain::book::Totals,
    positions: BTreeMap<String, crate::domain::book::Position>,
    pending: BTreeMap<String, crate::domain::book::Pending>,
    labels: BTreeMap<String, (String, String)>,
    redeemed_on: Option<String>,
    /// (index, net proceeds then, leaf) of every entry that is not a token operation.
    facts: Vec<(u64, String, String)>,
}

impl BookAudit {
    /// An audit that can end in a [`BookSnapshot`].
    pub fn keeping_facts() -> BookAudit {
        BookAudit {
            bond: None,
            kept: Some(Kept::default()),
        }
    }

    /// Go on from a snapshot taken by an earlier audit.
    pub fn resume(snapshot: &BookSnapshot) -> Result<BookAudit, String> {
        let mut audit = BookAudit::keeping_facts();
        let registration = Entry::from_leaf_only(snapshot.registration.as_bytes())
            .map_err(|e| format!("the saved registration: {e}"))?;
        audit.apply_leaf(0, &registration, snapshot.registration.as_bytes())?;
        let Some(bond) = audit.bond.as_mut() else {
            return Err("the saved registration is not a bond's".into());
        };
        let terms = bond.book.terms().clone();
        let redeemed_on = snapshot
            .redeemed_on
            .as_deref()
            .map(crate::domain::wire::parse_date)
            .transpose()
            .map_err(|_| "the saved redemption day".to_owned())?;
        for (index, net, leaf) in &snapshot.facts {
            let entry = Entry::from_leaf_only(leaf.as_bytes())
                .map_err(|e| format!("saved entry {index}: {e}"))?;
            let on = OffsetDateTime::parse(&entry.time, &Rfc3339)
                .map(rules_date)
                .map_err(|e| format!("saved entry {index}: time: {e}"))?;
            let net: Decimal = net
                .parse()
                .map_err(|_| format!("saved entry {index}: net proceeds {net:?}"))?;
            let actor = entry.actor.as_ref().map(|a| a.party.as_str()).unwrap_or("");
            bond.monitor
                .apply_recorded(&entry.kind, &entry.data, *index, on, actor, net)
                .map_err(|e| format!("saved entry {index}: {e}"))?;
        }
        bond.book = Book::restore(
            terms,
            snapshot.totals,
            snapshot.positions.clone(),
            snapshot.pending.clone(),
        );
        bond.book
            .assert_invariants()
            .map_err(|e| format!("the saved book: {e}"))?;
        bond.labels = snapshot.labels.clone();
        bond.redeemed_on = redeemed_on;
        audit.kept = Some(Kept {
            registration: snapshot.registration.clone(),
            facts: snapshot.facts.clone(),
        });
        Ok(audit)
    }
}

impl BookSnapshot {
    /// The book's totals and flags.
    pub fn totals(&self) -> crate::domain::book::Totals {
        self.totals
    }

    /// Holders with tokens (a non-zero balance).
    pub fn holder_count(&self) -> usize {
        self.positions.values().filter(|p| p.balance > 0).count()
    }
}

impl BookAudit {
    /// The state reached, to resume from (`None` if not a bond ledger or facts were not kept).
    pub fn snapshot(&self) -> Option<BookSnapshot> {
        let (bond, kept) = (self.bond.as_ref()?, self.kept.as_ref()?);
        Some(BookSnapshot {
            registration: kept.registration.clone(),
            totals: bond.book.totals(),
            positions: bond.book.positions().clone(),
            pending: bond.book.pending().clone(),
            labels: bond.labels.clone(),
            redeemed_on: bond.redeemed_on.map(crate::domain::wire::format_date),
            facts: kept.facts.clone(),
        })
    }

    /// [`BookAudit::apply`], keeping what a snapshot needs of the entry (its `leaf`).
    pub fn apply_leaf(&mut self, index: u64, entry: &Entry, leaf: &[u8]) -> Result<(), String> {
        let net = self
            .bond
            .as_ref()
            .map(|b| b.monitor.terms().net_proceeds(b.book.issued()));
        self.apply(index, entry)?;
        if let (Some(kept), Ok(text)) = (self.kept.as_mut(), std::str::from_utf8(leaf)) {
            if index == 0 {
                kept.registration = text.to_owned();
            } else if let Some(net) = net
                && crate::domain::record::replay(&entry.kind, &entry.data)
                    .map_err(|e| format!("entry {index}: {e}"))?
                    .is_none()
            {
                kept.facts
                    .push((index, net.normalize().to_string(), text.to_owned()));
            }
        }
        Ok(())
    }

    /// Check entry `index` (entries must come in order, from 0).
    pub fn apply(&mut self, index: u64, entry: &Entry) -> Result<(), String> {
        if index == 0 {
            if entry.kind != "bond.registered" {
                return Ok(());
            }
            let issuer = entry
                .actor
                .as_ref()
                .map(|a| a.party.clone())
                .ok_or("registration without an actor")?;
            let spec = entry
                .request
                .as_ref()
                .and_then(|r| r.payload.get("bond"))
                .cloned()
                .ok_or("registration without bond terms")?;
            let spec: BondSpec =
                serde_json::from_value(spec).map_err(|e| format!("bond terms: {e}"))?;
            let terms = spec
                .validate()
                .map_err(|e| format!("bond terms do not validate: {} error(s)", e.len()))?;
            self.bond = Some(BondReplay::new(
                BookTerms::from_bond(&issuer, &terms),
                MonitorTerms::from_bond(&terms),
            ));
            return Ok(());
        }
        match self.bond.as_mut() {
            Some(bond) => bond.apply(entry),
            None => Ok(()),
        }
    }

    /// The bond as replayed so far (`None` if not a bond ledger, or before its entry 0).
    pub fn bond(&self) -> Option<&BondReplay> {
        self.bond.as_ref()
    }

    /// The state document the engine should be keeping for the bond at this point (the
    /// audit compares the two): totals, pending transfers, facts recorded once, labels, the
    /// redemption day, and every fact entry (entry 0 first) with the net proceeds it was
    /// judged against. `None` if not a bond ledger or facts were not kept.
    pub fn maintained_doc(&self) -> Option<Result<super::state::BondDoc, String>> {
        let (bond, kept) = (self.bond.as_ref()?, self.kept.as_ref()?);
        let registration = bond.monitor.terms().net_proceeds(0);
        let mut doc = super::state::BondDoc {
            totals: bond.book.totals(),
            pending: bond.book.pending().clone(),
            once: BTreeSet::new(),
            labels: bond.labels.clone(),
            redeemed_on: bond.redeemed_on.map(crate::domain::wire::format_date),
            facts: vec![(0, registration.normalize().to_string())],
        };
        for (index, net, leaf) in &kept.facts {
            let entry = match Entry::from_leaf_only(leaf.as_bytes()) {
                Ok(entry) => entry,
                Err(e) => return Some(Err(format!("kept entry {index}: {e}"))),
            };
            if let Some(key) = once_key(&entry.kind, &entry.data) {
                doc.once.insert(key);
            }
            doc.facts.push((*index, net.clone()));
        }
        Some(Ok(doc))
    }

    /// The book after the last entry applied (`None` if not a bond ledger).
    pub fn into_book(self) -> Option<Book> {
        self.bond.map(|b| b.book)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn book() -> Book {
        Book::new(BookTerms {
            issuer: "issuer".into(),
            issue_size: 100,
            issue_date: date!(2025 - 06 - 20),
            maturity: date!(2030 - 06 - 20),
            allowed: vec![InvestorCategory::General],
            lock_up_until: None,
            max_holders: None,
            approval_required: false,
        })
    }

    #[test]
    fn a_recorded_effect_that_differs_from_its_replay_is_refused() {
        let mut b = book();
        let issue =
            json!({"allocations": [{"investor": "a", "quantity": "60"}], "operation_id": "i-1"});
        apply_recorded(&mut b, "token.issued", &issue).unwrap();
        // A final redemption that claims to have redeemed less than the holder held.
        let claimed =
            json!({"redemptions": [{"holder": "a", "quantity": "50"}], "operation_id": "r-1"});
        let err = apply_recorded(&mut b.clone(), "bond.redeemed", &claimed).unwrap_err();
        assert!(err.contains("differs"), "{err}");
        let honest =
            json!({"redemptions": [{"holder": "a", "quantity": "60"}], "operation_id": "r-1"});
        apply_recorded(&mut b, "bond.redeemed", &honest).unwrap();
        assert_eq!(b.outstanding(), 0);
    }
}
