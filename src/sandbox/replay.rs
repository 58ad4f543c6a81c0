//! Replay: the verdict on every transaction of a trial, the final state and a report.
//!
//! Replay is a pure function of (rulebook, start state, ordered transactions) (DESIGN.md,
//! "Sandbox"). [`Replayer`] holds the state and judges one transaction per [`Replayer::step`],
//! in O(log n) of the participants; [`replay`] runs it over a whole sequence. Feeding the
//! transactions in chunks through one replayer gives exactly what one pass gives, and the same
//! input gives the same `serde_json` bytes: every map is a `BTreeMap`, every amount a normalised
//! decimal string.
//!
//! [`compare`] lines up recorded and replayed verdicts: to confirm a ledger's recorded verdicts
//! under the rulebook it ran with, or to see what another rulebook version would have changed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::domain::party::{InvestorCategory, Role};
use crate::domain::wire::{format_date, wire_enum};
use crate::sandbox::rulebook::{CapBasis, OfferingType, Rulebook, category_ix};
use crate::sandbox::rules::{self, RuleRef};
use crate::sandbox::state::{State, Status};
use crate::sandbox::tx::Tx;
use crate::sandbox::{trial_date, wire};

/// The judgement on one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub tx_id: String,
    /// Whether the transaction took effect: exactly when `violations` is empty.
    pub accepted: bool,
    /// Every rule it broke, sorted by rule id, each once.
    pub violations: Vec<Violation>,
}

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Violation {
    /// The rule's id (`"SBX-WINDOW"`, or a built-in such as `"SBX-BALANCE"`).
    pub rule: String,
    /// The rule's reason text.
    pub reason: String,
}

/// Everything a replay produces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub verdicts: Vec<Verdict>,
    pub final_state: State,
    pub report: Report,
}

/// What a [`Replayer`] has seen so far: its state and its counts (kept by an auditor between
/// two audits of the same trial).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    pub state: State,
    pub accepted: u64,
    pub refused: u64,
    pub violations: BTreeMap<String, u64>,
    #[serde(with = "wire::opt_time_utc")]
    pub latest: Option<OffsetDateTime>,
}

impl Progress {
    /// Before any transaction, from `state`.
    pub fn start(state: State) -> Progress {
        Progress {
            state,
            accepted: 0,
            refused: 0,
            violations: BTreeMap::new(),
            latest: None,
        }
    }
}

/// Judges the transactions of one trial one at a time.
#[derive(Clone, Debug)]
pub struct Replayer<'r> {
    rulebook: &'r Rulebook,
    state: State,
    accepted: u64,
    refused: u64,
    violations: BTreeMap<String, u64>,
    /// Latest transaction time seen, accepted or not: the report's "as of".
    latest: Option<OffsetDateTime>,
    /// Reused for every step, so that accepting a transaction allocates nothing but its id.
    scratch: Vec<RuleRef>,
}

wire_enum! {
    /// How a recorded verdict differs from a replayed one.
    pub enum MismatchKind ("mismatch kind") {
        /// Recorded, but the replay has no verdict at this position.
        Missing = "missing",
        /// Replayed, but nothing was recorded at this position.
        Extra = "extra",
        /// The verdicts at this position are about different transactions.
        TxId = "tx_id",
        /// One accepted the transaction and the other refused it.
        Acceptance = "acceptance",
        /// Both refused it, for different rules.
        Rules = "rules",
    }
}

/// A position where recorded and replayed verdicts differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mismatch {
    /// Position in the sequence, from 0.
    pub index: usize,
    /// The transaction's id (the recorded one where both exist).
    pub tx_id: String,
    pub kind: MismatchKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed: Option<Verdict>,
}

/// What a replay found, for a regulator: deterministic JSON (maps sorted, amounts strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub rulebook: RulebookRef,
    /// The latest transaction time seen; dated figures below are as of its Tokyo date.
    #[serde(with = "wire::opt_time_utc")]
    pub as_of: Option<OffsetDateTime>,
    pub status: Status,
    pub transactions: Counts,
    /// Refused transactions per broken rule id (a transaction counts once per rule).
    pub violations: BTreeMap<String, u64>,
    pub participants: BTreeMap<String, ParticipantReport>,
    pub outstanding: AmountAgainstCap,
    pub holders: CountAgainstCap,
    /// Investors that ever held tokens, against a small-number offering's `max_offerees`.
    pub offerees: CountAgainstCap,
    pub exit: ExitReport,
    pub reports: FilingReport,
    pub pending_issuer_consents: u64,
}

/// Which rulebook a report was made under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulebookRef {
    pub id: String,
    pub version: u32,
    pub sha256: String,
    pub currency: String,
}

/// Transactions judged by this replayer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub total: u64,
    pub accepted: u64,
    pub refused: u64,
}

/// One participant's standing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantReport {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub investor_category: Option<InvestorCategory>,
    #[serde(with = "wire::amount")]
    pub position: Decimal,
    #[serde(with = "wire::amount")]
    pub acquired: Decimal,
    /// What the per-investor cap measures (position or acquisitions); investors under an
    /// `investor_cap` rule only.
    #[serde(
        default,
        with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub exposure: Option<Decimal>,
    #[serde(
        default,
        with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub cap: Option<Decimal>,
    /// Whether it consented to the rulebook's current disclosure version.
    pub consented: bool,
    /// Whether its KYC is valid on the report's date (`None` before any transaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kyc_valid: Option<bool>,
    /// First day its tokens may be transferred, under a lock-up rule.
    #[serde(
        default,
        with = "wire::opt_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub locked_until: Option<Date>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountAgainstCap {
    #[serde(with = "wire::amount")]
    pub amount: Decimal,
    #[serde(default, with = "wire::opt_amount")]
    pub cap: Option<Decimal>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountAgainstCap {
    pub count: u64,
    #[serde(default)]
    pub cap: Option<u64>,
}

wire_enum! {
    /// Where the trial's exit stands.
    pub enum ExitState ("exit state") {
        /// The trial has not started exiting.
        NotStarted = "not_started",
        /// Exiting, positions remain, the deadline has not passed.
        InProgress = "in_progress",
        /// Exiting or closed with no positions left.
        Complete = "complete",
        /// Closed with positions left, or exiting past the deadline with positions left.
        Incomplete = "incomplete",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitReport {
    pub state: ExitState,
    #[serde(default, with = "wire::opt_time_utc")]
    pub since: Option<OffsetDateTime>,
    /// Last day of the exit period, under an exit rule.
    #[serde(default, with = "wire::opt_date")]
    pub deadline: Option<Date>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilingReport {
    pub filed: u64,
    #[serde(default, with = "wire::opt_date")]
    pub last_period_end: Option<Date>,
    /// Under a report rule: the next due date (its grace days come on top).
    #[serde(default, with = "wire::opt_date")]
    pub next_due: Option<Date>,
    pub overdue: bool,
}

impl<'r> Replayer<'r> {
    /// A replayer for a trial under `rulebook`, starting from `start`.
    pub fn new(rulebook: &'r Rulebook, start: State) -> Replayer<'r> {
        Replayer {
            rulebook,
            state: start,
            accepted: 0,
            refused: 0,
            violations: BTreeMap::new(),
            latest: None,
            scratch: Vec::new(),
        }
    }

    /// Judges `tx` against the rules and the state so far; applies it if accepted. A refused
    /// transaction changes nothing in the state (not even the trial's clock).
    pub fn step(&mut self, tx: &Tx) -> Verdict {
        if trial_date(tx.time).is_some() {
            self.latest = self.latest.max(Some(tx.time));
        }
        self.scratch.clear();
        let effect = rules::check(self.rulebook, &self.state, tx, &mut self.scratch);
        if self.scratch.is_empty() {
            rules::apply(&mut self.state, tx, effect);
            self.accepted += 1;
            return Verdict {
                tx_id: tx.id.clone(),
                accepted: true,
                violations: Vec::new(),
            };
        }
        let rulebook = self.rulebook;
        let mut broken: Vec<(&str, &str)> = self
            .scratch
            .iter()
            .map(|rule| match *rule {
                RuleRef::Builtin(builtin) => (builtin.id(), builtin.reason()),
                RuleRef::Book(ix) => rulebook
                    .at(ix)
                    .map_or(("SBX-UNKNOWN", ""), |rule| (rule.id(), rule.reason())),
            })
            .collect();
        broken.sort_unstable();
        broken.dedup_by(|a, b| a.0 == b.0);
        self.refused += 1;
        for (id, _) in &broken {
            match self.violations.get_mut(*id) {
                Some(count) => *count += 1,
                None => {
                    self.violations.insert((*id).to_owned(), 1);
                }
            }
        }
        Verdict {
            tx_id: tx.id.clone(),
            accepted: false,
            violations: broken
                .into_iter()
                .map(|(rule, reason)| Violation {
                    rule: rule.to_owned(),
                    reason: reason.to_owned(),
                })
                .collect(),
        }
    }

    /// Where it stands, giving up the replayer: to go on later from there
    /// ([`Replayer::resume`]).
    pub fn into_progress(self) -> Progress {
        Progress {
            state: self.state,
            accepted: self.accepted,
            refused: self.refused,
            violations: self.violations,
            latest: self.latest,
        }
    }

    /// A replayer that goes on where [`Replayer::into_progress`] stood, under the same rulebook.
    pub fn resume(rulebook: &'r Rulebook, progress: Progress) -> Replayer<'r> {
        Replayer {
            rulebook,
            state: progress.state,
            accepted: progress.accepted,
            refused: progress.refused,
            violations: progress.violations,
            latest: progress.latest,
            scratch: Vec::new(),
        }
    }

    /// The state after the transactions so far.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The rulebook it judges by.
    pub fn rulebook(&self) -> &'r Rulebook {
        self.rulebook
    }

    /// The state, giving up the replayer.
    pub fn into_state(self) -> State {
        self.state
    }

    /// The report on the trial as it stands. O(participants).
    pub fn report(&self) -> Report {
        let (book, state) = (self.rulebook, &self.state);
        let set = &book.set;
        let as_of = self.latest.or(state.clock());
        let today = as_of.and_then(trial_date);
        let investor_cap = set.investor_cap.map(|(_, cap)| cap);
        let participants = state
            .participants()
            .map(|(id, p)| {
                let capped = investor_cap.filter(|_| p.role() == Role::Investor);
                let report = ParticipantReport {
                    role: p.role(),
                    investor_category: p.investor_category(),
                    position: p.position(),
                    acquired: p.acquired(),
                    exposure: capped.map(|cap| match cap.basis {
                        CapBasis::Holding => p.position(),
                        CapBasis::Acquired => p.acquired(),
                    }),
                    cap: capped.and_then(|cap| {
                        p.investor_category()
                            .and_then(|category| cap.caps[category_ix(category)])
                    }),
                    consented: p.consented() == Some(book.disclosure_version()),
                    kyc_valid: today.map(|day| p.kyc_valid_on(day)),
                    locked_until: set.lock_up.and_then(|(_, days)| {
                        p.last_issued_on()
                            .and_then(|day| rules::lock_up_end(day, days))
                    }),
                };
                (id.to_owned(), report)
            })
            .collect();

        let deadline = set
            .exit
            .and_then(|(_, days)| rules::exit_deadline(state.exiting_since()?, days));
        let positions_left = !state.outstanding().is_zero();
        let exit_state = match state.status() {
            Status::Active | Status::Suspended if state.exiting_since().is_none() => {
                ExitState::NotStarted
            }
            _ if !positions_left => ExitState::Complete,
            Status::Closed => ExitState::Incomplete,
            _ if deadline.zip(today).is_some_and(|(last, day)| day > last) => ExitState::Incomplete,
            _ => ExitState::InProgress,
        };

        let report_rule = set.report_due.map(|(_, rule)| rule);
        let last_period_end = state.last_report_period_end();
        Report {
            rulebook: RulebookRef {
                id: book.id().to_owned(),
                version: book.version(),
                sha256: book.sha256().to_owned(),
                currency: book.currency().as_str().to_owned(),
            },
            as_of,
            status: state.status(),
            transactions: Counts {
                total: self.accepted + self.refused,
                accepted: self.accepted,
                refused: self.refused,
            },
            violations: self.violations.clone(),
            participants,
            outstanding: AmountAgainstCap {
                amount: state.outstanding(),
                cap: set.aggregate_cap.map(|(_, cap)| cap),
            },
            holders: CountAgainstCap {
                count: state.holders(),
                cap: set.holder_cap.map(|(_, cap)| cap),
            },
            offerees: CountAgainstCap {
                count: state.offerees(),
                cap: set
                    .offering
                    .filter(|(_, o)| o.offering == OfferingType::SmallNumber)
                    .map(|(_, o)| o.max_offerees),
            },
            exit: ExitReport {
                state: exit_state,
                since: state.exiting_since(),
                deadline,
            },
            reports: FilingReport {
                filed: state.reports_filed(),
                last_period_end,
                next_due: report_rule
                    .and_then(|rule| rules::next_report_due(&rule, last_period_end)),
                overdue: report_rule
                    .zip(today)
                    .is_some_and(|(rule, day)| rules::report_overdue(&rule, last_period_end, day)),
            },
            pending_issuer_consents: u64::try_from(state.pending_consents()).unwrap_or(u64::MAX),
        }
    }
}

/// Replays `txs` in order under `rulebook` from `start`.
pub fn replay(rulebook: &Rulebook, start: State, txs: impl IntoIterator<Item = Tx>) -> Outcome {
    let mut replayer = Replayer::new(rulebook, start);
    let verdicts = txs.into_iter().map(|tx| replayer.step(&tx)).collect();
    let report = replayer.report();
    Outcome {
        verdicts,
        final_state: replayer.into_state(),
        report,
    }
}

/// Lines up `recorded` and `replayed` verdicts position by position and lists where they
/// differ. Verdicts agree when they are about the same transaction id, agree on acceptance and
/// name the same set of rule ids; reason texts are not compared, since a new rulebook version may
/// reword a rule without changing it.
pub fn compare(recorded: &[Verdict], replayed: &[Verdict]) -> Vec<Mismatch> {
    let mut mismatches = Vec::new();
    for index in 0..recorded.len().max(replayed.len()) {
        let (old, new) = (recorded.get(index), replayed.get(index));
        let kind = match (old, new) {
            (Some(_), None) => MismatchKind::Missing,
            (None, Some(_)) => MismatchKind::Extra,
            (Some(old), Some(new)) if old.tx_id != new.tx_id => MismatchKind::TxId,
            (Some(old), Some(new)) if old.accepted != new.accepted => MismatchKind::Acceptance,
            (Some(old), Some(new)) if rule_ids(old) != rule_ids(new) => MismatchKind::Rules,
            _ => continue,
        };
        let tx_id = old.or(new).map(|v| v.tx_id.clone()).unwrap_or_default();
        mismatches.push(Mismatch {
            index,
            tx_id,
            kind,
            recorded: old.cloned(),
            replayed: new.cloned(),
        });
    }
    mismatches
}

fn rule_ids(verdict: &Verdict) -> Vec<&str> {
    let mut ids: Vec<&str> = verdict.violations.iter().map(|v| v.rule.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

impl Report {
    /// A readable text version, for a terminal or an e-mail.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        let currency = &self.rulebook.currency;
        let amount = |value: Decimal| wire::format_amount(value);
        let cap_amount = |cap: Option<Decimal>| {
            cap.map_or("no cap".to_owned(), |c| format!("cap {}", amount(c)))
        };
        let cap_count = |cap: Option<u64>| cap.map_or("no cap".to_owned(), |c| format!("cap {c}"));
        let date = |d: Option<Date>| d.map_or("-".to_owned(), format_date);
        let _ = writeln!(
            text,
            "Trial under rulebook {} v{} (sha256 {})",
            self.rulebook.id, self.rulebook.version, self.rulebook.sha256
        );
        let _ = writeln!(
            text,
            "Status: {}, as of {}",
            self.status,
            self.as_of.map_or("-".to_owned(), wire::format_time)
        );
        let t = self.transactions;
        let _ = writeln!(
            text,
            "Transactions: {} ({} accepted, {} refused)",
            t.total, t.accepted, t.refused
        );
        if self.violations.is_empty() {
            let _ = writeln!(text, "Violations: none");
        } else {
            let list: Vec<String> = self
                .violations
                .iter()
                .map(|(rule, count)| format!("{rule} × {count}"))
                .collect();
            let _ = writeln!(text, "Violations: {}", list.join(", "));
        }
        let _ = writeln!(
            text,
            "Outstanding: {} {currency} ({})",
            amount(self.outstanding.amount),
            cap_amount(self.outstanding.cap)
        );
        let _ = writeln!(
            text,
            "Holders: {} ({}); offerees: {} ({})",
            self.holders.count,
            cap_count(self.holders.cap),
            self.offerees.count,
            cap_count(self.offerees.cap)
        );
        let _ = writeln!(
            text,
            "Exit: {} (since {}, deadline {})",
            self.exit.state,
            self.exit.since.map_or("-".to_owned(), wire::format_time),
            date(self.exit.deadline)
        );
        let _ = writeln!(
            text,
            "Reports: {} filed, last period end {}, next due {}{}",
            self.reports.filed,
            date(self.reports.last_period_end),
            date(self.reports.next_due),
            if self.reports.overdue {
                ", OVERDUE"
            } else {
                ""
            }
        );
        let _ = writeln!(
            text,
            "Pending issuer consents: {}",
            self.pending_issuer_consents
        );
        let _ = writeln!(text, "Participants: {}", self.participants.len());
        for (id, p) in &self.participants {
            let category = p
                .investor_category
                .map_or(String::new(), |c| format!(" ({c})"));
            let exposure = match (p.exposure, p.cap) {
                (Some(exposure), cap) => {
                    format!(", exposure {} ({})", amount(exposure), cap_amount(cap))
                }
                (None, _) => String::new(),
            };
            let kyc = match p.kyc_valid {
                Some(false) => ", KYC lapsed",
                _ => "",
            };
            let consent = if p.consented { "" } else { ", no consent" };
            let _ = writeln!(
                text,
                "  {id}: {}{category}, position {}{exposure}{kyc}{consent}",
                p.role,
                amount(p.position)
            );
        }
        text
    }
}
