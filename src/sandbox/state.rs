//! A trial's state: who takes part, who holds what, the trial's status and the few running
//! figures the rules need. Only facts live here; what a rule derives from them (a deadline, a
//! due date, a cap) is computed from the rulebook, so the same state can be judged under another
//! rulebook version.
//!
//! Memory is what the rules genuinely need: one record per participant, the pending issuer
//! consents, and the total of the current day only. Nothing grows with the number of
//! transactions.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::domain::money::AMOUNT_UNITS_MAX;
use crate::domain::party::{InvestorCategory, Kyc, KycStatus, Role};
use crate::domain::wire::wire_enum;
use crate::sandbox::wire;
use crate::sandbox::{ID_LEN_MAX, PARTICIPANTS_MAX, PENDING_CONSENTS_MAX, SandboxError};

/// Largest value of any running total (outstanding amount, an investor's cumulative
/// acquisitions, a day's total), in currency units: the domain's [`AMOUNT_UNITS_MAX`] (10^15).
/// A transaction that would take a total past it is refused (`SBX-AMOUNT`), so `Decimal`'s 28
/// digits are never at risk.
pub const TOTAL_UNITS_MAX: u64 = AMOUNT_UNITS_MAX;

wire_enum! {
    /// Where a trial stands. Only `active` admits new business; in every other status only exit
    /// transactions, reports and the regulator's own transactions pass (rule kind `status`).
    #[schema(as = TrialStatus)]
    pub enum Status ("trial status") {
        Active = "active",
        /// Paused by the regulator; may resume.
        Suspended = "suspended",
        /// Winding down: positions must be gone within the exit rule's `exit_days`.
        Exiting = "exiting",
        /// Over. Final.
        Closed = "closed",
    }
}

/// One admitted issuer or investor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    pub(super) role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) investor_category: Option<InvestorCategory>,
    #[serde(default, with = "wire::opt_date")]
    pub(super) kyc_expires_on: Option<Date>,
    /// The disclosure version it last consented to.
    #[serde(default)]
    pub(super) consented: Option<String>,
    /// Tokens held, in currency units (always zero for an issuer).
    #[serde(with = "wire::amount")]
    pub(super) position: Decimal,
    /// Everything it ever acquired (issues and transfers received), for caps on purchases.
    #[serde(with = "wire::amount")]
    pub(super) acquired: Decimal,
    /// Whether it ever held tokens: an offeree of a small-number offering.
    pub(super) ever_held: bool,
    /// Day of its latest acquisition by issuance, from which its lock-up runs.
    #[serde(default, with = "wire::opt_date")]
    pub(super) last_issued_on: Option<Date>,
}

/// The running total of the current calendar day (Asia/Tokyo).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayTotal {
    #[serde(with = "wire::date")]
    pub date: Date,
    #[serde(with = "wire::amount")]
    pub total: Decimal,
}

/// The state of a trial. Build a fresh one with [`State::new`]; deserialising one checks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StateWire")]
pub struct State {
    pub(super) status: Status,
    /// When the status became `exiting`: the exit deadline runs from it.
    #[serde(with = "wire::opt_time_utc")]
    pub(super) exiting_since: Option<OffsetDateTime>,
    /// Time of the latest accepted transaction; no later transaction may be earlier.
    #[serde(with = "wire::opt_time_utc")]
    pub(super) clock: Option<OffsetDateTime>,
    pub(super) regulators: BTreeSet<String>,
    pub(super) participants: BTreeMap<String, Participant>,
    pub(super) day: Option<DayTotal>,
    /// Transfers an issuer has consented to (by transfer id, with their terms) that no accepted
    /// transfer has used yet.
    pub(super) pending_consents: BTreeMap<String, ConsentTerms>,
    #[serde(with = "wire::opt_date")]
    pub(super) last_report_period_end: Option<Date>,
    pub(super) reports_filed: u64,
    /// Σ positions. Derived; kept for O(1) checks.
    #[serde(skip)]
    pub(super) outstanding: Decimal,
    /// Participants with a non-zero position. Derived.
    #[serde(skip)]
    pub(super) holders: u64,
    /// Participants that ever held tokens. Derived.
    #[serde(skip)]
    pub(super) offerees: u64,
}

/// The serialised form of [`State`], checked on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateWire {
    status: Status,
    #[serde(default, with = "wire::opt_time_utc")]
    exiting_since: Option<OffsetDateTime>,
    #[serde(default, with = "wire::opt_time_utc")]
    clock: Option<OffsetDateTime>,
    regulators: BTreeSet<String>,
    #[serde(default)]
    participants: BTreeMap<String, Participant>,
    #[serde(default)]
    day: Option<DayTotal>,
    #[serde(default)]
    pending_consents: BTreeMap<String, ConsentTerms>,
    #[serde(default, with = "wire::opt_date")]
    last_report_period_end: Option<Date>,
    #[serde(default)]
    reports_filed: u64,
}

impl Participant {
    /// `issuer` or `investor`.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The investor's category (investors only).
    pub fn investor_category(&self) -> Option<InvestorCategory> {
        self.investor_category
    }

    /// Last day its KYC check is valid; `None`: it does not lapse.
    pub fn kyc_expires_on(&self) -> Option<Date> {
        self.kyc_expires_on
    }

    /// Whether its KYC check is valid on `day`. Admission by the regulator records a verified
    /// check, valid through `kyc_expires_on`.
    pub fn kyc_valid_on(&self, day: Date) -> bool {
        Kyc {
            status: KycStatus::Verified,
            expires_on: self.kyc_expires_on,
        }
        .is_valid_on(day)
    }

    /// The disclosure version it last consented to.
    pub fn consented(&self) -> Option<&str> {
        self.consented.as_deref()
    }

    /// Tokens held, in currency units.
    pub fn position(&self) -> Decimal {
        self.position
    }

    /// Everything it ever acquired, in currency units.
    pub fn acquired(&self) -> Decimal {
        self.acquired
    }

    /// Whether it ever held tokens.
    pub fn ever_held(&self) -> bool {
        self.ever_held
    }

    /// Day of its latest acquisition by issuance.
    pub fn last_issued_on(&self) -> Option<Date> {
        self.last_issued_on
    }

    pub(super) fn admitted(
        role: Role,
        investor_category: Option<InvestorCategory>,
        kyc_expires_on: Option<Date>,
    ) -> Participant {
        Participant {
            role,
            investor_category,
            kyc_expires_on,
            consented: None,
            position: Decimal::ZERO,
            acquired: Decimal::ZERO,
            ever_held: false,
            last_issued_on: None,
        }
    }
}

impl State {
    /// An active trial with no participants, run by `regulators` (party ids that may admit
    /// participants and change the status).
    pub fn new<I, S>(regulators: I) -> State
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        State {
            status: Status::Active,
            exiting_since: None,
            clock: None,
            regulators: regulators.into_iter().map(Into::into).collect(),
            participants: BTreeMap::new(),
            day: None,
            pending_consents: BTreeMap::new(),
            last_report_period_end: None,
            reports_filed: 0,
            outstanding: Decimal::ZERO,
            holders: 0,
            offerees: 0,
        }
    }

    /// The trial's status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// When the trial started exiting.
    pub fn exiting_since(&self) -> Option<OffsetDateTime> {
        self.exiting_since
    }

    /// Time of the latest accepted transaction.
    pub fn clock(&self) -> Option<OffsetDateTime> {
        self.clock
    }

    /// Whether `party` is one of the trial's regulators.
    pub fn is_regulator(&self, party: &str) -> bool {
        self.regulators.contains(party)
    }

    /// The regulators' party ids.
    pub fn regulators(&self) -> impl Iterator<Item = &str> {
        self.regulators.iter().map(String::as_str)
    }

    /// An admitted participant.
    pub fn participant(&self, party: &str) -> Option<&Participant> {
        self.participants.get(party)
    }

    /// Every admitted participant, by party id.
    pub fn participants(&self) -> impl Iterator<Item = (&str, &Participant)> {
        self.participants.iter().map(|(id, p)| (id.as_str(), p))
    }

    /// Number of admitted participants (issuers and investors).
    pub fn participant_count(&self) -> usize {
        self.participants.len()
    }

    /// Sum of all positions, in currency units.
    pub fn outstanding(&self) -> Decimal {
        self.outstanding
    }

    /// Participants holding a non-zero position.
    pub fn holders(&self) -> u64 {
        self.holders
    }

    /// Participants that ever held tokens.
    pub fn offerees(&self) -> u64 {
        self.offerees
    }

    /// The total of non-exit movements on the current day.
    pub fn day(&self) -> Option<DayTotal> {
        self.day
    }

    /// The total of non-exit movements on `date`: zero unless `date` is the current day.
    pub fn day_total(&self, date: Date) -> Decimal {
        match self.day {
            Some(day) if day.date == date => day.total,
            _ => Decimal::ZERO,
        }
    }

    /// Whether an issuer consent waits for the transfer with this id.
    pub fn has_pending_consent(&self, transfer_id: &str) -> bool {
        self.pending_consents.contains_key(transfer_id)
    }

    /// Issuer consents not yet used.
    pub fn pending_consents(&self) -> usize {
        self.pending_consents.len()
    }

    /// The latest `period_end` of an accepted report.
    pub fn last_report_period_end(&self) -> Option<Date> {
        self.last_report_period_end
    }

    /// Reports accepted.
    pub fn reports_filed(&self) -> u64 {
        self.reports_filed
    }

    /// Recomputes the derived figures and checks that the state could have come from a replay.
    fn checked(mut self) -> Result<State, SandboxError> {
        let error = |text: String| Err(SandboxError::State(text));
        let total_max = Decimal::from(TOTAL_UNITS_MAX);
        if self.participants.len() > PARTICIPANTS_MAX {
            return error(format!("more than {PARTICIPANTS_MAX} participants"));
        }
        if self.pending_consents.len() > PENDING_CONSENTS_MAX {
            return error(format!("more than {PENDING_CONSENTS_MAX} pending consents"));
        }
        let bad_id = |id: &String| id.is_empty() || id.len() > ID_LEN_MAX;
        if let Some(id) = self
            .regulators
            .iter()
            .chain(self.participants.keys())
            .chain(self.pending_consents.keys())
            .chain(
                self.pending_consents
                    .values()
                    .flat_map(|c| [&c.from, &c.to]),
            )
            .find(|id| bad_id(id))
        {
            return error(format!(
                "id {id:?} is empty or longer than {ID_LEN_MAX} bytes"
            ));
        }
        let mut outstanding = Decimal::ZERO;
        let (mut holders, mut offerees) = (0u64, 0u64);
        for (id, p) in &self.participants {
            if self.regulators.contains(id) {
                return error(format!("{id} is both a regulator and a participant"));
            }
            let shape_ok = match p.role {
                Role::Investor => p.investor_category.is_some(),
                Role::Issuer => {
                    p.investor_category.is_none() && p.position.is_zero() && p.acquired.is_zero()
                }
                _ => false,
            };
            if !shape_ok {
                return error(format!(
                    "participant {id}: a {} must be an issuer without category or position, or \
                     an investor with a category",
                    p.role
                ));
            }
            if p.consented.as_ref().is_some_and(bad_id) {
                return error(format!("participant {id}: consented version is too long"));
            }
            if !p.position.is_zero() && !p.ever_held {
                return error(format!("participant {id} holds tokens but never held any"));
            }
            if p.acquired > total_max || p.position > p.acquired {
                return error(format!(
                    "participant {id} holds more than it acquired, or acquired more than \
                     {TOTAL_UNITS_MAX}"
                ));
            }
            outstanding = match outstanding.checked_add(p.position) {
                Some(sum) if sum <= total_max => sum,
                _ => return error(format!("positions add up to more than {TOTAL_UNITS_MAX}")),
            };
            holders += u64::from(!p.position.is_zero());
            offerees += u64::from(p.ever_held);
        }
        if self.day.is_some_and(|day| day.total > total_max) {
            return error(format!("the day's total is more than {TOTAL_UNITS_MAX}"));
        }
        if (self.status == Status::Exiting) && self.exiting_since.is_none() {
            return error("an exiting trial needs exiting_since".to_owned());
        }
        self.outstanding = outstanding;
        self.holders = holders;
        self.offerees = offerees;
        Ok(self)
    }
}

impl TryFrom<StateWire> for State {
    type Error = SandboxError;

    fn try_from(wire: StateWire) -> Result<State, SandboxError> {
        State {
            status: wire.status,
            exiting_since: wire.exiting_since,
            clock: wire.clock,
            regulators: wire.regulators,
            participants: wire.participants,
            day: wire.day,
            pending_consents: wire.pending_consents,
            last_report_period_end: wire.last_report_period_end,
            reports_filed: wire.reports_filed,
            outstanding: Decimal::ZERO,
            holders: 0,
            offerees: 0,
        }
        .checked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_state_is_active_and_empty_and_round_trips_through_json() {
        let state = State::new(["fsa"]);
        assert_eq!(state.status(), Status::Active);
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<State>(&json).unwrap(), state);
    }

    #[test]
    fn a_deserialised_state_recomputes_its_totals() {
        let json = r#"{"status":"active","regulators":["fsa"],"participants":{
            "a":{"role":"investor","investor_category":"general","position":"5","acquired":"7","ever_held":true},
            "b":{"role":"investor","investor_category":"qii","position":"0","acquired":"3","ever_held":true},
            "i":{"role":"issuer","position":"0","acquired":"0","ever_held":false}}}"#;
        let state: State = serde_json::from_str(json).unwrap();
        assert_eq!(state.outstanding(), Decimal::from(5));
        assert_eq!(state.holders(), 1);
        assert_eq!(state.offerees(), 2);
    }

    #[test]
    fn an_impossible_state_is_refused() {
        for json in [
            // holds more than it ever acquired
            r#"{"status":"active","regulators":["fsa"],"participants":{"a":{"role":"investor","investor_category":"general","position":"5","acquired":"1","ever_held":true}}}"#,
            // an investor without category
            r#"{"status":"active","regulators":["fsa"],"participants":{"a":{"role":"investor","position":"0","acquired":"0","ever_held":false}}}"#,
            // a regulator as a participant
            r#"{"status":"active","regulators":["a"],"participants":{"a":{"role":"issuer","position":"0","acquired":"0","ever_held":false}}}"#,
            // exiting without a start
            r#"{"status":"exiting","regulators":["fsa"]}"#,
            // a negative position
            r#"{"status":"active","regulators":["fsa"],"participants":{"a":{"role":"investor","investor_category":"general","position":"-5","acquired":"1","ever_held":true}}}"#,
        ] {
            assert!(serde_json::from_str::<State>(json).is_err(), "{json}");
        }
    }
}

/// The terms of a transfer an issuer consented to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentTerms {
    pub from: String,
    pub to: String,
    #[serde(with = "wire::amount")]
    pub amount: Decimal,
}
