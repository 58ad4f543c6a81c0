//! Regulatory sandbox: rulebooks and the deterministic replay of trials. Pure: no I/O, no clock.
//!
//! A *trial* (Japan's Regulatory Sandbox, 新技術等実証制度; the FCA and MAS sandboxes) runs under a
//! versioned [`Rulebook`] (TOML under `sandbox/`, pinned by the SHA-256 of its bytes). Its
//! ledger is a sequence of [`Tx`]s; [`replay()`] judges each against the rulebook and the
//! [`State`] the earlier ones left, giving a [`Verdict`] per transaction (the ids of every rule
//! it broke), the final state and a [`Report`]. Time comes only from the transactions, so the
//! same rulebook, start state and transactions give the same output byte for byte
//! (DESIGN.md, "Sandbox"). docs/sandbox.md describes every rule and the formats.
//!
//! Layout: [`rulebook`] parses and validates rulebooks; [`tx`] is the transaction format;
//! [`state`] the trial's state; `rules` the checks and effects of one transaction; [`mod@replay`]
//! the replayer, verdicts, comparisons and reports; [`ledger`] the replay of a trial's signed
//! ledger export (client signatures checked in batches, streaming); `wire` the string forms of
//! amounts, dates and times.
//!
//! **Invariants:** nothing here reads a clock, a file or a random number; no input makes it
//! panic (every sum is checked, every lookup may miss); a refused transaction changes nothing in
//! the state; positions are never negative and their sum is the outstanding amount.

pub mod ledger;
pub mod replay;
pub mod rulebook;
mod rules;
pub mod state;
pub mod tx;
mod wire;

#[cfg(test)]
mod tests;

use time::{Date, OffsetDateTime, UtcOffset};

pub use replay::{
    AmountAgainstCap, CountAgainstCap, Counts, ExitReport, ExitState, FilingReport, Mismatch,
    MismatchKind, Outcome, ParticipantReport, Progress, Replayer, Report, RulebookRef, Verdict,
    Violation, compare, replay,
};
pub use rulebook::{BuiltinRule, CapBasis, OfferingType, Rule, RuleKind, Rulebook};
pub use state::{ConsentTerms, DayTotal, Participant, State, Status, TOTAL_UNITS_MAX};
pub use tx::{Tx, TxBody, TxType};

/// Hours east of UTC of the zone in which a trial's calendar days are counted: Asia/Tokyo
/// (UTC+9, no daylight saving). The same offset as the token rules use
/// (`app::engine::RULES_UTC_OFFSET_HOURS`); a test keeps the two in step.
pub const TRIAL_UTC_OFFSET_HOURS: i8 = 9;

/// Longest party id, transaction id, disclosure version or use-of-proceeds slug a transaction
/// may carry. These strings are kept in the state (participants, pending consents), so they are
/// bounded; the ledger's own ids are far shorter.
pub const ID_LEN_MAX: usize = 200;

/// Most parties a trial's state can hold (issuers and investors), whatever the rulebook allows:
/// a bound on the state's memory, far above any sandbox's participant cap.
pub const PARTICIPANTS_MAX: usize = 100_000;

/// Most issuer consents that may wait for their transfer at once: a bound on the state's memory.
pub const PENDING_CONSENTS_MAX: usize = 100_000;

/// Everything that can go wrong while reading a rulebook or a start state. A transaction never
/// causes an error: whatever is wrong with it is a violation in its verdict.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    #[error("the rulebook is {size} bytes; the limit is {max}")]
    TooLarge { size: usize, max: usize },
    #[error("the rulebook is not valid TOML: {0}")]
    Toml(String),
    #[error("rulebook field `{field}`: {problem}")]
    Field {
        field: &'static str,
        problem: String,
    },
    #[error("rule {rule}: {problem}")]
    Rule { rule: String, problem: String },
    #[error("rule {rule}: unknown kind \"{kind}\"; known kinds: {known}")]
    UnknownKind {
        rule: String,
        kind: String,
        known: String,
    },
    #[error("rule id {0} appears more than once; every rule needs its own id")]
    DuplicateId(String),
    #[error(
        "rules {first} and {second} are both of kind {kind}; a rulebook has at most one rule of \
         each kind"
    )]
    DuplicateKind {
        kind: &'static str,
        first: String,
        second: String,
    },
    #[error("rule id {0} is reserved for a built-in rule; choose another id")]
    ReservedId(String),
    #[error("invalid start state: {0}")]
    State(String),
}

/// The offset of [`TRIAL_UTC_OFFSET_HOURS`].
pub(crate) const TRIAL_OFFSET: UtcOffset = time::macros::offset!(+9);

/// The calendar day (Asia/Tokyo) on which a transaction at `time` is judged, or `None` for a
/// time too close to the ends of the representable range to have one.
pub fn trial_date(time: OffsetDateTime) -> Option<Date> {
    time.checked_to_offset(TRIAL_OFFSET).map(|t| t.date())
}
