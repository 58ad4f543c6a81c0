//! The checks and the effect of one transaction: `check` lists every rule it breaks and computes
//! the change it would make; `apply` makes that change once the transaction is accepted.
//!
//! Every check is O(1) or O(log n) in the number of participants and pending consents: a few
//! map lookups and decimal comparisons, no scan of history. `check` allocates nothing.
//!
//! How transactions are classed, which several rules read (docs/sandbox.md, "Exit
//! transactions"):
//! - *regulator* transactions (`participant.admit`, `trial.status`) are the trial's own
//!   administration; window, status, report, KYC, consent and allowed-types rules do not apply;
//! - *exit* transactions wind positions down: `redeem`, and a `transfer` to an issuer (buyback);
//! - *filings*: `report`;
//! - everything else is *new business*: `issue`, a transfer between investors,
//!   `issuer.consent`, `disclosure.consent`.

use rust_decimal::Decimal;
use time::{Date, Duration, OffsetDateTime};

use crate::domain::money::AMOUNT_UNITS_MAX;
use crate::domain::party::{InvestorCategory, Role};
use crate::sandbox::rulebook::{
    BuiltinRule, CapBasis, Ix, OfferingType, ReportDue, Rulebook, category_ix,
};
use crate::sandbox::state::{ConsentTerms, DayTotal, Participant, State, Status, TOTAL_UNITS_MAX};
use crate::sandbox::tx::{Tx, TxBody, TxType};
use crate::sandbox::{ID_LEN_MAX, PARTICIPANTS_MAX, PENDING_CONSENTS_MAX, trial_date};

/// A rule a transaction broke: built in, or the rulebook's rule at an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleRef {
    Builtin(BuiltinRule),
    Book(Ix),
}

/// The change an accepted transaction makes, computed by [`check`].
#[derive(Debug)]
pub(crate) enum Effect<'t> {
    Nothing,
    Admit {
        party: &'t str,
        role: Role,
        category: Option<InvestorCategory>,
        kyc_expires_on: Option<Date>,
    },
    Status(Status),
    Consent {
        version: &'t str,
    },
    Move(Move<'t>),
    IssuerConsent(&'t str, ConsentTerms),
    Report(Date),
}

/// Tokens changing hands: new values, checked to be within every limit.
#[derive(Debug)]
pub(crate) struct Move<'t> {
    /// The sender and its new position.
    from: Option<Decimal>,
    to: Option<Receipt<'t>>,
    outstanding: Decimal,
    day: Option<DayTotal>,
    /// The issuer consent this transfer uses up.
    consume: Option<&'t str>,
}

#[derive(Debug)]
struct Receipt<'t> {
    party: &'t str,
    position: Decimal,
    acquired: Decimal,
    issued_on: Option<Date>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Regulator,
    Exit,
    Filing,
    NewBusiness,
}

/// Who a party id names.
#[derive(Clone, Copy)]
enum Who<'s> {
    Regulator,
    Participant(&'s Participant),
    Unknown,
}

struct Check<'a, 't> {
    book: &'a Rulebook,
    state: &'a State,
    tx: &'t Tx,
    date: Date,
    out: &'a mut Vec<RuleRef>,
}

/// Pushes every rule `tx` breaks onto `out` (unsorted, possibly repeated) and returns the
/// change it would make; the change is meaningful only if `out` stayed empty.
pub(crate) fn check<'t>(
    book: &Rulebook,
    state: &State,
    tx: &'t Tx,
    out: &mut Vec<RuleRef>,
) -> Effect<'t> {
    // A time that cannot be placed on the Tokyo calendar cannot be judged by any dated rule.
    let Some(date) = trial_date(tx.time) else {
        out.push(RuleRef::Builtin(BuiltinRule::Time));
        return Effect::Nothing;
    };
    Check {
        book,
        state,
        tx,
        date,
        out,
    }
    .run()
}

/// Applies an accepted transaction's effect and advances the trial's clock.
pub(crate) fn apply(state: &mut State, tx: &Tx, effect: Effect<'_>) {
    match effect {
        Effect::Nothing => {}
        Effect::Admit {
            party,
            role,
            category,
            kyc_expires_on,
        } => match state.participants.get_mut(party) {
            Some(participant) => {
                participant.investor_category = category;
                participant.kyc_expires_on = kyc_expires_on;
            }
            None => {
                state.participants.insert(
                    party.to_owned(),
                    Participant::admitted(role, category, kyc_expires_on),
                );
            }
        },
        Effect::Status(status) => {
            if status == Status::Exiting && state.exiting_since.is_none() {
                state.exiting_since = Some(tx.time);
            }
            state.status = status;
        }
        Effect::Consent { version } => {
            if let Some(participant) = state.participants.get_mut(tx.actor.as_str())
                && participant.consented.as_deref() != Some(version)
            {
                participant.consented = Some(version.to_owned());
            }
        }
        Effect::Move(movement) => {
            if let Some(position) = movement.from
                && let Some(sender) = state.participants.get_mut(tx.actor.as_str())
            {
                let before = sender.position;
                sender.position = position;
                state.holders = count_holder(state.holders, before, position);
            }
            if let Some(receipt) = movement.to
                && let Some(receiver) = state.participants.get_mut(receipt.party)
            {
                let before = receiver.position;
                receiver.position = receipt.position;
                receiver.acquired = receipt.acquired;
                if let Some(day) = receipt.issued_on {
                    receiver.last_issued_on = Some(day);
                }
                if !receiver.ever_held {
                    receiver.ever_held = true;
                    state.offerees = state.offerees.saturating_add(1);
                }
                state.holders = count_holder(state.holders, before, receipt.position);
            }
            state.outstanding = movement.outstanding;
            if movement.day.is_some() {
                state.day = movement.day;
            }
            if let Some(transfer_id) = movement.consume {
                state.pending_consents.remove(transfer_id);
            }
        }
        Effect::IssuerConsent(transfer_id, terms) => {
            state.pending_consents.insert(transfer_id.to_owned(), terms);
        }
        Effect::Report(period_end) => {
            state.last_report_period_end = state.last_report_period_end.max(Some(period_end));
            state.reports_filed = state.reports_filed.saturating_add(1);
        }
    }
    state.clock = Some(tx.time);
}

/// The last day on which transactions other than closing are allowed, for a trial exiting
/// since `since` with `exit_days` to wind down.
pub(crate) fn exit_deadline(since: OffsetDateTime, exit_days: u32) -> Option<Date> {
    trial_date(since)?.checked_add(Duration::days(i64::from(exit_days)))
}

/// The due date of the next report: the first period boundary (`start` + k × `every_days`, k ≥ 1)
/// after the latest reported `period_end`. `None` only past the end of the calendar.
pub(crate) fn next_report_due(rule: &ReportDue, last_period_end: Option<Date>) -> Option<Date> {
    let every = i64::from(rule.every_days);
    let periods = match last_period_end {
        Some(end) if end >= rule.start => (end - rule.start).whole_days() / every + 1,
        _ => 1,
    };
    rule.start
        .checked_add(Duration::days(periods.checked_mul(every)?))
}

/// Whether a report is overdue on `date`: past the next due date and its grace days.
pub(crate) fn report_overdue(rule: &ReportDue, last_period_end: Option<Date>, date: Date) -> bool {
    next_report_due(rule, last_period_end)
        .and_then(|due| due.checked_add(Duration::days(i64::from(rule.grace_days))))
        .is_some_and(|limit| date > limit)
}

/// The day until which (exclusive) an investor's tokens are locked up.
pub(crate) fn lock_up_end(last_issued_on: Date, lock_up_days: u32) -> Option<Date> {
    last_issued_on.checked_add(Duration::days(i64::from(lock_up_days)))
}

/// The participant a party id names, if it is an investor: only investors hold and acquire, so
/// the holding rules are judged only for them (a wrong role is `SBX-ROLE` already).
fn investor(who: Who<'_>) -> Option<&Participant> {
    who.participant().filter(|p| p.role == Role::Investor)
}

/// The holder count after a position changes from `before` to `after`.
fn count_holder(holders: u64, before: Decimal, after: Decimal) -> u64 {
    match (before.is_zero(), after.is_zero()) {
        (true, false) => holders.saturating_add(1),
        (false, true) => holders.saturating_sub(1),
        _ => holders,
    }
}

/// `a + b`, if it stays within [`TOTAL_UNITS_MAX`].
fn total(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_add(b)
        .filter(|sum| *sum <= Decimal::from(TOTAL_UNITS_MAX))
}

fn transition_allowed(from: Status, to: Status) -> bool {
    use Status::*;
    match (from, to) {
        (Closed, _) => false,
        (from, to) if from == to => false,
        (Active, _) => true,
        (Suspended, Active | Exiting | Closed) => true,
        (Exiting, Closed) => true,
        _ => false,
    }
}

impl<'s> Who<'s> {
    fn of(state: &'s State, party: &str) -> Who<'s> {
        if let Some(participant) = state.participants.get(party) {
            Who::Participant(participant)
        } else if state.regulators.contains(party) {
            Who::Regulator
        } else {
            Who::Unknown
        }
    }

    fn participant(self) -> Option<&'s Participant> {
        match self {
            Who::Participant(participant) => Some(participant),
            _ => None,
        }
    }

    fn has_role(self, role: Role) -> bool {
        self.participant().is_some_and(|p| p.role == role)
    }
}

impl<'a, 't> Check<'a, 't> {
    fn builtin(&mut self, rule: BuiltinRule) {
        self.out.push(RuleRef::Builtin(rule));
    }

    fn rule(&mut self, ix: Ix) {
        self.out.push(RuleRef::Book(ix));
    }

    fn run(mut self) -> Effect<'t> {
        let (state, tx) = (self.state, self.tx);
        if state.clock.is_some_and(|clock| tx.time < clock) {
            self.builtin(BuiltinRule::Time);
        }
        let actor = Who::of(state, &tx.actor);
        if let Who::Unknown = actor {
            self.builtin(BuiltinRule::Party);
        }
        let receiver = match &tx.body {
            TxBody::Issue { to, .. } | TxBody::Transfer { to, .. } => Some(Who::of(state, to)),
            _ => None,
        };
        let class = match &tx.body {
            TxBody::Admit { .. } | TxBody::Status { .. } => Class::Regulator,
            TxBody::Redeem { .. } => Class::Exit,
            TxBody::Transfer { .. } if receiver.is_some_and(|r| r.has_role(Role::Issuer)) => {
                Class::Exit
            }
            // A consent to the disclosure document is a declaration, like a report, not new
            // business: were it blocked while a report is overdue, an issuer that had not yet
            // consented could file neither (the report needs the consent) and the trial would
            // be stuck for good.
            TxBody::Report { .. } | TxBody::Consent { .. } => Class::Filing,
            _ => Class::NewBusiness,
        };

        let effect = match &tx.body {
            TxBody::Admit {
                party,
                role,
                investor_category,
                kyc_expires_on,
            } => self.admit(actor, party, *role, *investor_category, *kyc_expires_on),
            TxBody::Status { status } => {
                self.require_regulator(actor);
                if !transition_allowed(state.status, *status) {
                    self.builtin(BuiltinRule::Transition);
                }
                Effect::Status(*status)
            }
            TxBody::Consent { disclosure_version } => {
                if let Who::Regulator = actor {
                    self.builtin(BuiltinRule::Role);
                }
                if disclosure_version.is_empty() || disclosure_version.len() > ID_LEN_MAX {
                    self.builtin(BuiltinRule::Format);
                }
                if let Some(ix) = self.book.set.consent
                    && disclosure_version != self.book.disclosure_version()
                {
                    self.rule(ix);
                }
                Effect::Consent {
                    version: disclosure_version,
                }
            }
            TxBody::Issue {
                to,
                amount,
                use_of_proceeds,
            } => self.issue(actor, receiver, to, *amount, use_of_proceeds),
            TxBody::Transfer { to, amount } => self.transfer(actor, receiver, to, *amount),
            TxBody::Redeem { amount } => self.redeem(actor, *amount),
            TxBody::IssuerConsent {
                transfer_id,
                from,
                to,
                amount,
            } => {
                self.require_role(actor, Role::Issuer);
                if [transfer_id, from, to]
                    .iter()
                    .any(|id| id.is_empty() || id.len() > ID_LEN_MAX)
                {
                    self.builtin(BuiltinRule::Format);
                }
                if *amount <= Decimal::ZERO {
                    self.builtin(BuiltinRule::Amount);
                }
                if !state.pending_consents.contains_key(transfer_id.as_str())
                    && state.pending_consents.len() >= PENDING_CONSENTS_MAX
                {
                    self.builtin(BuiltinRule::Limit);
                }
                Effect::IssuerConsent(
                    transfer_id,
                    ConsentTerms {
                        from: from.clone(),
                        to: to.clone(),
                        amount: *amount,
                    },
                )
            }
            TxBody::Report { period_end } => {
                self.require_role(actor, Role::Issuer);
                if let Some((ix, _)) = self.book.set.report_due
                    && *period_end > self.date
                {
                    self.rule(ix);
                }
                Effect::Report(*period_end)
            }
        };

        self.cross_cutting(class, actor, receiver);
        effect
    }

    /// Rules that apply to transactions of any type, by class.
    fn cross_cutting(&mut self, class: Class, actor: Who<'_>, receiver: Option<Who<'_>>) {
        let (set, state, tx, date) = (&self.book.set, self.state, self.tx, self.date);
        let administration = class == Class::Regulator;
        if let Some((ix, window)) = set.window
            && !administration
            && (tx.time < window.start || (tx.time >= window.until && class == Class::NewBusiness))
        {
            self.rule(ix);
        }
        let tx_type = tx.body.tx_type();
        if let Some((ix, allowed)) = set.allowed_types
            && !tx_type.is_regulator()
            && allowed & tx_type.bit() == 0
        {
            self.rule(ix);
        }
        if let Some(ix) = set.status
            && class == Class::NewBusiness
            && state.status != Status::Active
        {
            self.rule(ix);
        }
        if let Some((ix, exit_days)) = set.exit
            && let Some(since) = state.exiting_since
            && !matches!(
                tx.body,
                TxBody::Status {
                    status: Status::Closed
                }
            )
            && exit_deadline(since, exit_days).is_none_or(|deadline| date > deadline)
        {
            self.rule(ix);
        }
        if let Some((ix, report)) = set.report_due
            && class == Class::NewBusiness
            && report_overdue(&report, state.last_report_period_end, date)
        {
            self.rule(ix);
        }
        if administration {
            return;
        }
        let parties = [actor.participant(), receiver.and_then(Who::participant)];
        if let Some(ix) = set.kyc
            && parties
                .iter()
                .flatten()
                .any(|party| !party.kyc_valid_on(date))
        {
            self.rule(ix);
        }
        if let Some(ix) = set.consent
            && tx_type != TxType::Consent
            && parties
                .iter()
                .flatten()
                .any(|party| party.consented() != Some(self.book.disclosure_version()))
        {
            self.rule(ix);
        }
    }

    fn require_regulator(&mut self, actor: Who<'_>) {
        if let Who::Participant(_) = actor {
            self.builtin(BuiltinRule::Role);
        }
    }

    /// The actor must be a participant with `role` (an unknown actor is already refused).
    fn require_role(&mut self, actor: Who<'_>, role: Role) {
        match actor {
            Who::Participant(participant) if participant.role == role => {}
            Who::Unknown => {}
            _ => self.builtin(BuiltinRule::Role),
        }
    }

    /// The receiver of tokens must be an admitted participant with `role`.
    fn require_receiver(&mut self, receiver: Option<Who<'_>>, roles: &[Role]) {
        match receiver {
            Some(Who::Participant(participant)) if roles.contains(&participant.role) => {}
            Some(Who::Unknown) | None => self.builtin(BuiltinRule::Party),
            _ => self.builtin(BuiltinRule::Role),
        }
    }

    fn check_amount(&mut self, amount: Decimal) {
        let minor_units = self.book.currency().minor_units();
        let ok = amount > Decimal::ZERO
            && amount <= Decimal::from(AMOUNT_UNITS_MAX)
            && (amount.scale() <= minor_units || amount.normalize().scale() <= minor_units);
        if !ok {
            self.builtin(BuiltinRule::Amount);
        }
    }

    fn check_balance(&mut self, sender: Option<&Participant>, amount: Decimal) -> Option<Decimal> {
        let position = sender?.position;
        if position < amount {
            self.builtin(BuiltinRule::Balance);
            return None;
        }
        position.checked_sub(amount)
    }

    fn admit(
        &mut self,
        actor: Who<'_>,
        party: &'t str,
        role: Role,
        category: Option<InvestorCategory>,
        kyc_expires_on: Option<Date>,
    ) -> Effect<'t> {
        self.require_regulator(actor);
        let shape_ok = match role {
            Role::Issuer => category.is_none(),
            Role::Investor => category.is_some(),
            _ => false,
        };
        if !shape_ok || party.is_empty() || party.len() > ID_LEN_MAX {
            self.builtin(BuiltinRule::Format);
        }
        match Who::of(self.state, party) {
            Who::Regulator => self.builtin(BuiltinRule::Party),
            Who::Participant(existing) if existing.role != role => self.builtin(BuiltinRule::Party),
            Who::Participant(_) => {}
            Who::Unknown => {
                let admitted = self.state.participants.len();
                if admitted >= PARTICIPANTS_MAX {
                    self.builtin(BuiltinRule::Limit);
                }
                if let Some((ix, max)) = self.book.set.participants
                    && admitted >= max
                {
                    self.rule(ix);
                }
            }
        }
        Effect::Admit {
            party,
            role,
            category,
            kyc_expires_on,
        }
    }

    fn issue(
        &mut self,
        actor: Who<'_>,
        receiver: Option<Who<'_>>,
        to: &'t str,
        amount: Decimal,
        use_of_proceeds: &str,
    ) -> Effect<'t> {
        let set = &self.book.set;
        self.require_role(actor, Role::Issuer);
        self.require_receiver(receiver, &[Role::Investor]);
        self.check_amount(amount);
        if let Some((ix, allowed)) = &set.use_of_proceeds {
            let stated = crate::domain::bond::Category::ALL
                .iter()
                .find(|category| category.as_str() == use_of_proceeds);
            if !stated.is_some_and(|category| allowed.contains(category)) {
                self.rule(*ix);
            }
        }
        let outstanding = total(self.state.outstanding, amount);
        if let Some((ix, max)) = set.aggregate_cap
            && outstanding.is_none_or(|after| after > max)
        {
            self.rule(ix);
        }
        let Some(receiver) = investor(receiver.unwrap_or(Who::Unknown)) else {
            return Effect::Nothing;
        };
        self.acquisition(receiver, None, amount);
        let receipt = self.receipt(receiver, to, amount, Some(self.date));
        let day = self.day_after(amount);
        match (outstanding, receipt, day) {
            (Some(outstanding), Some(receipt), Some(day)) => Effect::Move(Move {
                from: None,
                to: Some(receipt),
                outstanding,
                day: Some(day),
                consume: None,
            }),
            _ => {
                self.builtin(BuiltinRule::Amount);
                Effect::Nothing
            }
        }
    }

    fn transfer(
        &mut self,
        actor: Who<'_>,
        receiver: Option<Who<'_>>,
        to: &'t str,
        amount: Decimal,
    ) -> Effect<'t> {
        let set = &self.book.set;
        self.require_role(actor, Role::Investor);
        self.require_receiver(receiver, &[Role::Investor, Role::Issuer]);
        if to == self.tx.actor {
            self.builtin(BuiltinRule::Party);
        }
        self.check_amount(amount);
        let sender = investor(actor);
        let from = self.check_balance(sender, amount);
        let Some(receiver) = receiver
            .and_then(Who::participant)
            .filter(|r| matches!(r.role, Role::Investor | Role::Issuer))
        else {
            return Effect::Nothing;
        };
        if receiver.role == Role::Issuer {
            // A buyback: the tokens leave circulation, like a redemption.
            return match (from, self.state.outstanding.checked_sub(amount)) {
                (Some(from), Some(outstanding)) => Effect::Move(Move {
                    from: Some(from),
                    to: None,
                    outstanding,
                    day: None,
                    consume: None,
                }),
                _ => Effect::Nothing,
            };
        }
        self.acquisition(receiver, sender, amount);
        if let Some((ix, allowed)) = set.transfer_category
            && !receiver
                .investor_category
                .is_some_and(|category| allowed.contains(category))
        {
            self.rule(ix);
        }
        // The consent names this transfer's id and its exact terms.
        if let Some(ix) = set.issuer_consent
            && !self
                .state
                .pending_consents
                .get(self.tx.id.as_str())
                .is_some_and(|c| c.from == self.tx.actor && c.to == to && c.amount == amount)
        {
            self.rule(ix);
        }
        if let Some((ix, lock_up_days)) = set.lock_up
            && let Some(issued_on) = sender.and_then(|s| s.last_issued_on)
            && lock_up_end(issued_on, lock_up_days).is_none_or(|end| self.date < end)
        {
            self.rule(ix);
        }
        let receipt = self.receipt(receiver, to, amount, None);
        let day = self.day_after(amount);
        match (from, receipt, day) {
            (Some(from), Some(receipt), Some(day)) => Effect::Move(Move {
                from: Some(from),
                to: Some(receipt),
                outstanding: self.state.outstanding,
                day: Some(day),
                consume: Some(self.tx.id.as_str()),
            }),
            (Some(_), _, _) => {
                self.builtin(BuiltinRule::Amount);
                Effect::Nothing
            }
            _ => Effect::Nothing,
        }
    }

    fn redeem(&mut self, actor: Who<'_>, amount: Decimal) -> Effect<'t> {
        self.require_role(actor, Role::Investor);
        self.check_amount(amount);
        let from = self.check_balance(investor(actor), amount);
        match (from, self.state.outstanding.checked_sub(amount)) {
            (Some(from), Some(outstanding)) => Effect::Move(Move {
                from: Some(from),
                to: None,
                outstanding,
                day: None,
                consume: None,
            }),
            _ => Effect::Nothing,
        }
    }

    /// Rules on an investor acquiring tokens, by issue or by transfer from `sender`.
    fn acquisition(
        &mut self,
        receiver: &Participant,
        sender: Option<&Participant>,
        amount: Decimal,
    ) {
        let (set, state) = (&self.book.set, self.state);
        if let Some((ix, max)) = set.transaction_cap
            && amount > max
        {
            self.rule(ix);
        }
        if let Some((ix, cap)) = set.investor_cap {
            let base = match cap.basis {
                CapBasis::Holding => receiver.position,
                CapBasis::Acquired => receiver.acquired,
            };
            let limit = receiver
                .investor_category
                .and_then(|category| cap.caps[category_ix(category)]);
            let within = match (limit, base.checked_add(amount)) {
                (Some(limit), Some(after)) => after <= limit,
                _ => false,
            };
            if !within {
                self.rule(ix);
            }
        }
        if let Some((ix, max)) = set.daily_cap
            && state
                .day_total(self.date)
                .checked_add(amount)
                .is_none_or(|after| after > max)
        {
            self.rule(ix);
        }
        if let Some((ix, offering)) = set.offering {
            let category = receiver.investor_category;
            let allowed = match offering.offering {
                OfferingType::QiiOnly => {
                    category.is_some_and(|c| c.satisfies(InvestorCategory::Qii))
                }
                OfferingType::ProfessionalOnly => {
                    category.is_some_and(|c| c.satisfies(InvestorCategory::Professional))
                }
                OfferingType::SmallNumber => {
                    receiver.ever_held || state.offerees < offering.max_offerees
                }
                OfferingType::Public => true,
            };
            if !allowed {
                self.rule(ix);
            }
        }
        if let Some((ix, max)) = set.holder_cap
            && receiver.position.is_zero()
        {
            // A sender that hands over its whole position stops being a holder, so a transfer
            // at the cap that only replaces one holder by another passes.
            let leaving = sender.is_some_and(|s| s.position == amount);
            let after = state.holders.saturating_add(1) - u64::from(leaving);
            if after > max {
                self.rule(ix);
            }
        }
    }

    fn receipt(
        &self,
        receiver: &Participant,
        party: &'t str,
        amount: Decimal,
        issued_on: Option<Date>,
    ) -> Option<Receipt<'t>> {
        Some(Receipt {
            party,
            position: total(receiver.position, amount)?,
            acquired: total(receiver.acquired, amount)?,
            issued_on,
        })
    }

    fn day_after(&self, amount: Decimal) -> Option<DayTotal> {
        Some(DayTotal {
            date: self.date,
            total: total(self.state.day_total(self.date), amount)?,
        })
    }
}
