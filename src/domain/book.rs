//! The holder book of one bond: who holds how many tokens, what is held for pending transfers,
//! frozen, paused or redeemed — and the rules every movement must pass.
//!
//! Pure and deterministic. [`Book::check`] reports *every* rule an operation breaks (each with a
//! stable code and a sentence a person can act on), without changing anything; [`Book::apply`]
//! changes the state of an operation that passed, and asserts the ledger's invariants:
//! outstanding = issued − redeemed = Σ balances; holds ≤ balance; frozen + held ≤ balance.
//!
//! Sources: transfer restrictions of private placements under the FIEA (QII-only and
//! professional-only offerings must make transfers to others impossible), KYC of every holder,
//! ERC-3643 compliance controls (freeze, partial freeze, pause, forced transfer), ERC-1400
//! pre-transfer checks with reason codes, and BOOSTRY ibet's issuer-approval transfers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use super::bond::BondTerms;
use super::party::{InvestorCategory, Kyc, KycStatus, Role};

/// Holders of one bond, at most (a book is held in memory per bond).
pub const HOLDERS_MAX: usize = 1_000_000;
/// Allocations in one issuance or redemption entry, at most.
pub const ALLOCATIONS_MAX: usize = 1_000;

/// What the rules need to know about a party, as the registry says at the time of the operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyFacts {
    pub role: Role,
    pub category: Option<InvestorCategory>,
    pub kyc: Option<Kyc>,
}

impl PartyFacts {
    fn kyc_valid_on(&self, today: Date) -> bool {
        self.kyc
            .is_some_and(|k| k.status == KycStatus::Verified && k.is_valid_on(today))
    }
}

/// One broken rule.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub struct Violation {
    /// Stable code, e.g. `receiver_category_not_allowed`.
    pub code: String,
    /// What is wrong and what would make it pass.
    pub detail: String,
}

/// An operation on the book, with parties by id and quantities in whole tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Allocate newly issued tokens to subscribers.
    Issue {
        allocations: Vec<(String, u64)>,
    },
    /// No more issuance, ever.
    CloseIssuance,
    /// A holder moves tokens; becomes pending when the bond requires issuer approval.
    Transfer {
        from: String,
        to: String,
        quantity: u64,
    },
    /// The issuer consents to a pending transfer (by its operation id).
    Approve {
        pending: String,
    },
    /// The issuer refuses a pending transfer; the hold is released.
    Cancel {
        pending: String,
    },
    /// Freeze a whole position (`None`) or a further amount of it.
    Freeze {
        holder: String,
        quantity: Option<u64>,
    },
    /// Lift a whole freeze (`None`) or part of a partial one.
    Unfreeze {
        holder: String,
        quantity: Option<u64>,
    },
    Pause,
    Unpause,
    /// Move tokens without the holder's signature (court order, lost-key recovery).
    ForcedTransfer {
        from: String,
        to: String,
        quantity: u64,
    },
    /// Redeem part of a holding before maturity.
    Redeem {
        holder: String,
        quantity: u64,
    },
    /// Redeem every holding at maturity; the bond accepts no movement afterwards.
    RedeemAll,
}

/// What applying an operation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// A transfer now waits for the issuer; its amount is held.
    Pending,
    /// Full redemption: every holding, as it was redeemed.
    Redeemed(Vec<(String, u64)>),
}

/// A broken invariant: a bug or a tampered ledger, never a client error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ledger invariant broken: {0}")]
pub struct InvariantBroken(pub String);

/// One holder's position.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub balance: u64,
    /// Held for pending outgoing transfers.
    pub held: u64,
    /// Frozen amount (a partial freeze); `frozen_all` freezes the whole position.
    pub frozen: u64,
    pub frozen_all: bool,
}

impl Position {
    /// What the holder can move now.
    pub fn spendable(&self) -> u64 {
        if self.frozen_all {
            return 0;
        }
        self.balance
            .saturating_sub(self.held)
            .saturating_sub(self.frozen)
    }
}

/// A book's totals and flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub issued: u64,
    pub redeemed: u64,
    pub issuance_closed: bool,
    pub paused: bool,
    pub fully_redeemed: bool,
}

/// A transfer waiting for the issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub from: String,
    pub to: String,
    pub quantity: u64,
}

/// The terms the book enforces, copied from the bond at registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookTerms {
    pub issuer: String,
    pub issue_size: u64,
    /// The issue (settlement) date: tokens are issued from that day on.
    pub issue_date: Date,
    pub maturity: Date,
    pub allowed: Vec<InvestorCategory>,
    pub lock_up_until: Option<Date>,
    pub max_holders: Option<u64>,
    pub approval_required: bool,
}

impl BookTerms {
    pub fn from_bond(issuer: &str, terms: &BondTerms) -> BookTerms {
        let r = terms.restrictions();
        BookTerms {
            issuer: issuer.to_owned(),
            issue_size: terms.issue_size().get(),
            issue_date: terms.issue_date(),
            maturity: terms.maturity_date(),
            allowed: r.allowed_investor_categories().to_vec(),
            lock_up_until: r.lock_up_until(),
            max_holders: r.max_holders().map(u64::from),
            approval_required: r.issuer_approval_required(),
        }
    }
}

/// The state of one bond's tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Book {
    terms: BookTerms,
    issued: u64,
    redeemed: u64,
    issuance_closed: bool,
    paused: bool,
    fully_redeemed: bool,
    positions: BTreeMap<String, Position>,
    pending: BTreeMap<String, Pending>,
}

fn v(code: &str, detail: impl Into<String>) -> Violation {
    Violation {
        code: code.into(),
        detail: detail.into(),
    }
}

/// Codes whose detail names another party, its holdings or the register (a count of holders,
/// what is issued): a caller who may not read the register gets a detail without them.
const REGISTER_CODES: &[(&str, &str)] = &[
    ("holder_unknown", "that party holds no tokens of this bond"),
    ("max_holders", "the bond cannot take another holder"),
    (
        "unknown_pending",
        "there is no pending transfer of yours with that id",
    ),
    ("transfers_pending", "transfers are pending on this bond"),
    (
        "exceeds_issue_size",
        "the quantity exceeds what remains of the issue size",
    ),
];

/// Codes about the receiver, which only the receiver, the issuer and the authorities may know
/// apart (whether the party exists, its role, its KYC, its investor category).
const RECEIVER_CODES: &[&str] = &[
    "receiver_unknown",
    "receiver_not_investor",
    "receiver_kyc_invalid",
    "receiver_category_not_allowed",
];

/// The violations of an operation as a caller sees them who may not read the bond's register
/// (an investor checking its own transfer, or a party that may not perform the operation at
/// all): the same decision, but nothing about another party — its balance, freezes, KYC,
/// pending transfers, or whether it exists.
///
/// - An operation the caller may not perform (`not_issuer`, `not_holder`) is answered with that
///   alone: the other checks would describe the register.
/// - Every receiver code becomes `receiver_not_eligible`.
/// - Codes that count the register keep their code with a detail that does not.
/// - The caller's own position (balance, freezes, lock-up, KYC) and the bond's public state
///   (paused, redeemed, issuance closed, maturity) are shown as they are.
pub fn as_seen_by_outsider(violations: Vec<Violation>) -> Vec<Violation> {
    if let Some(refusal) = violations
        .iter()
        .find(|x| x.code == "not_issuer" || x.code == "not_holder")
    {
        return vec![refusal.clone()];
    }
    let mut out: Vec<Violation> = violations
        .into_iter()
        .map(|x| {
            if RECEIVER_CODES.contains(&x.code.as_str()) {
                v(
                    "receiver_not_eligible",
                    "the receiver cannot take these tokens (ask the receiver or the issuer why)",
                )
            } else if let Some((_, detail)) = REGISTER_CODES.iter().find(|(c, _)| *c == x.code) {
                v(&x.code, *detail)
            } else if x.code == "quantity_zero" || x.code == "duplicate_allocation" {
                // Issuance details name investors; an outsider never gets this far (not_issuer).
                v(&x.code, "an allocation is zero or repeated")
            } else {
                x
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Book {
    pub fn new(terms: BookTerms) -> Book {
        Book {
            terms,
            issued: 0,
            redeemed: 0,
            issuance_closed: false,
            paused: false,
            fully_redeemed: false,
            positions: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    /// A book as maintained state describes it (a restart loads it instead of replaying the
    /// ledger): totals, every position (zero ones included) and the pending transfers.
    pub fn restore(
        terms: BookTerms,
        totals: Totals,
        positions: BTreeMap<String, Position>,
        pending: BTreeMap<String, Pending>,
    ) -> Book {
        Book {
            terms,
            issued: totals.issued,
            redeemed: totals.redeemed,
            issuance_closed: totals.issuance_closed,
            paused: totals.paused,
            fully_redeemed: totals.fully_redeemed,
            positions,
            pending,
        }
    }

    /// The book's totals and flags.
    pub fn totals(&self) -> Totals {
        Totals {
            issued: self.issued,
            redeemed: self.redeemed,
            issuance_closed: self.issuance_closed,
            paused: self.paused,
            fully_redeemed: self.fully_redeemed,
        }
    }

    /// Whether the party has a position on the book (even a zero one: a position, once
    /// given, stays).
    pub fn has_position(&self, party: &str) -> bool {
        self.positions.contains_key(party)
    }

    /// Every position, zero ones included, by party id.
    pub fn positions(&self) -> &BTreeMap<String, Position> {
        &self.positions
    }

    pub fn terms(&self) -> &BookTerms {
        &self.terms
    }
    pub fn issued(&self) -> u64 {
        self.issued
    }
    pub fn redeemed(&self) -> u64 {
        self.redeemed
    }
    pub fn outstanding(&self) -> u64 {
        self.issued - self.redeemed
    }
    pub fn is_paused(&self) -> bool {
        self.paused
    }
    pub fn is_issuance_closed(&self) -> bool {
        self.issuance_closed
    }
    pub fn is_fully_redeemed(&self) -> bool {
        self.fully_redeemed
    }
    pub fn position(&self, holder: &str) -> Position {
        self.positions.get(holder).cloned().unwrap_or_default()
    }
    /// Holders with a non-zero balance, by party id.
    pub fn holders(&self) -> impl Iterator<Item = (&String, &Position)> {
        self.positions.iter().filter(|(_, p)| p.balance > 0)
    }
    pub fn holder_count(&self) -> usize {
        self.holders().count()
    }
    pub fn pending(&self) -> &BTreeMap<String, Pending> {
        &self.pending
    }

    /// Every rule `op` breaks, sorted by code; empty when it may be applied. `actor` is the
    /// signing party; `facts` looks parties up in the registry; `today` is the entry's date.
    pub fn check(
        &self,
        op: &Op,
        actor: &str,
        today: Date,
        facts: &dyn Fn(&str) -> Option<PartyFacts>,
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        let issuer_only = |out: &mut Vec<Violation>, what: &str| {
            if actor != self.terms.issuer {
                out.push(v(
                    "not_issuer",
                    format!("only the bond's issuer may {what}"),
                ));
            }
        };
        if self.fully_redeemed {
            out.push(v(
                "bond_redeemed",
                "the bond is fully redeemed; its tokens no longer move",
            ));
        }
        // The bond's life (its terms): tokens are issued from the issue (settlement) date on,
        // and from maturity on the bond only winds down — redemption, the cancellation of
        // transfers left pending, and the issuer's controls (freezes, pauses, transfers
        // ordered by a court) — nothing is issued or traded any more.
        if matches!(op, Op::Issue { .. }) && today < self.terms.issue_date {
            out.push(v(
                "before_issue_date",
                format!(
                    "tokens are issued from the issue date, {}",
                    self.terms.issue_date
                ),
            ));
        }
        if matches!(
            op,
            Op::Issue { .. } | Op::Transfer { .. } | Op::Approve { .. }
        ) && today >= self.terms.maturity
        {
            out.push(v(
                "matured",
                format!(
                    "the bond matures on {}; from then on it is only redeemed",
                    self.terms.maturity
                ),
            ));
        }
        match op {
            Op::Issue { allocations } => {
                issuer_only(&mut out, "issue tokens");
                if self.issuance_closed {
                    out.push(v(
                        "issuance_closed",
                        "issuance of this bond was closed; no further tokens can be issued",
                    ));
                }
                if allocations.is_empty() || allocations.len() > ALLOCATIONS_MAX {
                    out.push(v(
                        "allocations_invalid",
                        format!("an issuance allocates to 1 to {ALLOCATIONS_MAX} investors"),
                    ));
                }
                let total: u128 = allocations.iter().map(|(_, q)| u128::from(*q)).sum();
                if total > u128::from(self.terms.issue_size - self.issued) {
                    out.push(v(
                        "exceeds_issue_size",
                        format!("{total} tokens would exceed the issue size: {} of {} are already issued", self.issued, self.terms.issue_size),
                    ));
                }
                let mut new_holders = 0usize;
                let mut seen = std::collections::BTreeSet::new();
                for (investor, quantity) in allocations {
                    if *quantity == 0 {
                        out.push(v(
                            "quantity_zero",
                            format!("the allocation to {investor} is zero tokens"),
                        ));
                    }
                    if !seen.insert(investor) {
                        out.push(v(
                            "duplicate_allocation",
                            format!("{investor} appears twice; allocate once per investor"),
                        ));
                    }
                    self.check_receiver(&mut out, investor, today, facts);
                    if self.position(investor).balance == 0 {
                        new_holders += 1;
                    }
                }
                self.check_max_holders(&mut out, new_holders);
            }
            Op::CloseIssuance => {
                issuer_only(&mut out, "close issuance");
                if self.issuance_closed {
                    out.push(v("issuance_closed", "issuance is already closed"));
                }
            }
            Op::Transfer { from, to, quantity } => {
                if actor != from {
                    out.push(v(
                        "not_holder",
                        "a transfer must be signed by the holder whose tokens move",
                    ));
                }
                if self.paused {
                    out.push(v(
                        "bond_paused",
                        "the bond is paused; transfers resume when the issuer unpauses it",
                    ));
                }
                if from == to {
                    out.push(v("same_party", "sender and receiver are the same party"));
                }
                if *quantity == 0 {
                    out.push(v("quantity_zero", "a transfer moves at least one token"));
                }
                match facts(from) {
                    Some(f) if f.kyc_valid_on(today) => {}
                    _ => out.push(v("sender_kyc_invalid", "the sender's KYC is not verified or has expired; renew it before transferring")),
                }
                self.check_receiver(&mut out, to, today, facts);
                if let Some(until) = self.terms.lock_up_until
                    && today <= until
                {
                    out.push(v(
                        "lock_up",
                        format!("the tokens are locked up until {until} inclusive"),
                    ));
                }
                if self.position(to).balance == 0 && from != to {
                    // A new holder, unless the sender leaves at the same moment (only without
                    // approval: a pending transfer leaves the sender on the register until the
                    // issuer decides).
                    let sender_leaves =
                        !self.terms.approval_required && self.position(from).balance == *quantity;
                    self.check_max_holders(&mut out, usize::from(!sender_leaves));
                }
                self.check_spend(&mut out, from, *quantity);
            }
            Op::Approve { pending } | Op::Cancel { pending } => {
                issuer_only(&mut out, "approve or cancel a pending transfer");
                match self.pending.get(pending) {
                    None => out.push(v(
                        "unknown_pending",
                        format!("no transfer {pending} is pending"),
                    )),
                    Some(p) if matches!(op, Op::Approve { .. }) => {
                        if self.paused {
                            out.push(v(
                                "bond_paused",
                                "the bond is paused; approve after it is unpaused",
                            ));
                        }
                        // The transfer takes effect now: the receiver must still qualify, the
                        // sender's KYC must still be valid and no lock-up may have begun.
                        self.check_receiver(&mut out, &p.to, today, facts);
                        match facts(&p.from) {
                            Some(f) if f.kyc_valid_on(today) => {}
                            _ => out.push(v(
                                "sender_kyc_invalid",
                                "the sender's KYC is not verified or has expired",
                            )),
                        }
                        if let Some(until) = self.terms.lock_up_until
                            && today <= until
                        {
                            out.push(v(
                                "lock_up",
                                format!("the tokens are locked up until {until} inclusive"),
                            ));
                        }
                        if self.position(&p.to).balance == 0 {
                            let sender_leaves = self.position(&p.from).balance == p.quantity;
                            self.check_max_holders(&mut out, usize::from(!sender_leaves));
                        }
                        let position = self.position(&p.from);
                        if position.frozen_all {
                            out.push(v(
                                "position_frozen",
                                format!("the position of {} is frozen", p.from),
                            ));
                        }
                    }
                    Some(_) => {}
                }
            }
            Op::Freeze { holder, quantity } => {
                issuer_only(&mut out, "freeze a position");
                let position = self.position(holder);
                if position.balance == 0 {
                    // A freeze is of tokens held (ERC-3643 freezes an address's tokens); an id
                    // that holds nothing, or names nobody, has nothing to freeze.
                    out.push(v(
                        "holder_unknown",
                        format!("{holder} holds no tokens of this bond"),
                    ));
                } else if let Some(q) = quantity {
                    if *q == 0 {
                        out.push(v("quantity_zero", "freeze at least one token, or omit the quantity to freeze the whole position"));
                    }
                    if position
                        .frozen
                        .saturating_add(*q)
                        .saturating_add(position.held)
                        > position.balance
                    {
                        out.push(v(
                            "exceeds_balance",
                            format!(
                                "{holder} holds {} tokens, {} already frozen",
                                position.balance, position.frozen
                            ),
                        ));
                    }
                } else if position.frozen_all {
                    out.push(v(
                        "already_frozen",
                        format!("the position of {holder} is already frozen"),
                    ));
                }
            }
            Op::Unfreeze { holder, quantity } => {
                issuer_only(&mut out, "unfreeze a position");
                let position = self.position(holder);
                match quantity {
                    None if !position.frozen_all && position.frozen == 0 => {
                        out.push(v(
                            "not_frozen",
                            format!("nothing of {holder}'s position is frozen"),
                        ));
                    }
                    Some(q) if *q == 0 || *q > position.frozen => {
                        out.push(v(
                            "exceeds_frozen",
                            format!(
                                "{} tokens of {holder} are frozen; unfreeze 1 to that many",
                                position.frozen
                            ),
                        ));
                    }
                    _ => {}
                }
            }
            Op::Pause => {
                issuer_only(&mut out, "pause the bond");
                if self.paused {
                    out.push(v("already_paused", "the bond is already paused"));
                }
            }
            Op::Unpause => {
                issuer_only(&mut out, "unpause the bond");
                if !self.paused {
                    out.push(v("not_paused", "the bond is not paused"));
                }
            }
            Op::ForcedTransfer { from, to, quantity } => {
                issuer_only(&mut out, "force a transfer");
                if from == to {
                    out.push(v("same_party", "sender and receiver are the same party"));
                }
                if *quantity == 0 {
                    out.push(v(
                        "quantity_zero",
                        "a forced transfer moves at least one token",
                    ));
                }
                // A forced transfer overrides freezes and pauses (that is its purpose: a court
                // order, a lost key), but never creates tokens, nor moves held ones, and the
                // receiver must still be an eligible, known holder.
                self.check_receiver(&mut out, to, today, facts);
                let position = self.position(from);
                let movable = position.balance.saturating_sub(position.held);
                if *quantity > movable {
                    out.push(v(
                        "insufficient_balance",
                        format!("{from} has {movable} tokens not held for pending transfers"),
                    ));
                }
                if self.position(to).balance == 0 && from != to {
                    let sender_leaves = position.balance == *quantity;
                    self.check_max_holders(&mut out, usize::from(!sender_leaves));
                }
            }
            Op::Redeem { holder, quantity } => {
                issuer_only(&mut out, "redeem tokens");
                if *quantity == 0 {
                    out.push(v("quantity_zero", "redeem at least one token"));
                }
                let position = self.position(holder);
                let movable = position.balance.saturating_sub(position.held);
                if *quantity > movable {
                    out.push(v(
                        "insufficient_balance",
                        format!("{holder} has {movable} tokens not held for pending transfers"),
                    ));
                }
            }
            Op::RedeemAll => {
                issuer_only(&mut out, "redeem the bond");
                if today < self.terms.maturity {
                    out.push(v(
                        "not_matured",
                        format!(
                            "full redemption is due at maturity, {}",
                            self.terms.maturity
                        ),
                    ));
                }
                if !self.pending.is_empty() {
                    out.push(v(
                        "transfers_pending",
                        "approve or cancel every pending transfer before the final redemption",
                    ));
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn check_receiver(
        &self,
        out: &mut Vec<Violation>,
        to: &str,
        today: Date,
        facts: &dyn Fn(&str) -> Option<PartyFacts>,
    ) {
        let Some(f) = facts(to) else {
            out.push(v(
                "receiver_unknown",
                format!("no party {to} is registered"),
            ));
            return;
        };
        if f.role != Role::Investor {
            out.push(v(
                "receiver_not_investor",
                "tokens can only be held by investors",
            ));
            return;
        }
        if !f.kyc_valid_on(today) {
            out.push(v(
                "receiver_kyc_invalid",
                "the receiver's KYC is not verified or has expired",
            ));
        }
        let admitted = f
            .category
            .is_some_and(|c| self.terms.allowed.iter().any(|a| c.satisfies(*a)));
        if !admitted {
            let allowed: Vec<&str> = self.terms.allowed.iter().map(|c| c.as_str()).collect();
            out.push(v(
                "receiver_category_not_allowed",
                format!(
                    "this bond may only be held by investors of category {}",
                    allowed.join(" or ")
                ),
            ));
        }
    }

    fn check_max_holders(&self, out: &mut Vec<Violation>, new_holders: usize) {
        if let Some(max) = self.terms.max_holders
            && (self.holder_count() + new_holders) as u64 > max
        {
            out.push(v(
                "max_holders",
                format!(
                    "the bond may have at most {max} holders; it has {}",
                    self.holder_count()
                ),
            ));
        }
        if self.holder_count() + new_holders > HOLDERS_MAX {
            out.push(v(
                "max_holders",
                format!("midori keeps at most {HOLDERS_MAX} holders per bond"),
            ));
        }
    }

    fn check_spend(&self, out: &mut Vec<Violation>, from: &str, quantity: u64) {
        let position = self.position(from);
        if position.frozen_all {
            out.push(v("position_frozen", "the sender's position is frozen"));
        } else if quantity > position.spendable() {
            let detail = format!(
                "the sender holds {} tokens, of which {} are held for pending transfers and {} frozen; {} can move",
                position.balance,
                position.held,
                position.frozen,
                position.spendable()
            );
            out.push(v(
                if position.frozen > 0 && quantity <= position.balance - position.held {
                    "partially_frozen"
                } else {
                    "insufficient_balance"
                },
                detail,
            ));
        }
    }

    /// Apply an operation that passed [`Book::check`] (or that a verified ledger recorded).
    /// `pending_id` names a transfer that becomes pending (its operation id).
    pub fn apply(&mut self, op: &Op, pending_id: Option<&str>) -> Result<Outcome, InvariantBroken> {
        let broken = |what: &str| InvariantBroken(what.to_owned());
        if self.fully_redeemed {
            return Err(broken("movement after full redemption"));
        }
        let outcome = match op {
            Op::Issue { allocations } => {
                let total = allocations
                    .iter()
                    .try_fold(0u64, |acc, (_, q)| acc.checked_add(*q))
                    .ok_or_else(|| broken("issuance overflows"))?;
                if self.issuance_closed
                    || self
                        .issued
                        .checked_add(total)
                        .is_none_or(|t| t > self.terms.issue_size)
                {
                    return Err(broken("issuance beyond the issue size or after closing"));
                }
                for (investor, quantity) in allocations {
                    self.positions.entry(investor.clone()).or_default().balance += quantity;
                }
                self.issued += total;
                Outcome::Applied
            }
            Op::CloseIssuance => {
                self.issuance_closed = true;
                Outcome::Applied
            }
            Op::Transfer { from, to, quantity } => {
                if self.terms.approval_required {
                    let id = pending_id.ok_or_else(|| broken("pending transfer without id"))?;
                    let position = self
                        .positions
                        .get_mut(from)
                        .ok_or_else(|| broken("transfer from an empty position"))?;
                    if position.spendable() < *quantity {
                        return Err(broken("hold beyond the spendable balance"));
                    }
                    position.held += quantity;
                    if self
                        .pending
                        .insert(
                            id.to_owned(),
                            Pending {
                                from: from.clone(),
                                to: to.clone(),
                                quantity: *quantity,
                            },
                        )
                        .is_some()
                    {
                        return Err(broken("pending id reused"));
                    }
                    Outcome::Pending
                } else {
                    if self.position(from).spendable() < *quantity {
                        return Err(broken("transfer beyond the spendable balance"));
                    }
                    self.move_tokens(from, to, *quantity)?;
                    Outcome::Applied
                }
            }
            Op::Approve { pending } => {
                let p = self.release(pending, "approval of an unknown pending transfer")?;
                self.move_tokens(&p.from, &p.to, p.quantity)?;
                Outcome::Applied
            }
            Op::Cancel { pending } => {
                self.release(pending, "cancellation of an unknown pending transfer")?;
                Outcome::Applied
            }
            Op::Freeze { holder, quantity } => {
                let position = self.positions.entry(holder.clone()).or_default();
                match quantity {
                    None => position.frozen_all = true,
                    Some(q) => position.frozen += q,
                }
                Outcome::Applied
            }
            Op::Unfreeze { holder, quantity } => {
                let position = self.positions.entry(holder.clone()).or_default();
                match quantity {
                    None => {
                        position.frozen_all = false;
                        position.frozen = 0;
                    }
                    Some(q) => {
                        position.frozen = position
                            .frozen
                            .checked_sub(*q)
                            .ok_or_else(|| broken("unfreeze beyond the frozen amount"))?
                    }
                }
                Outcome::Applied
            }
            Op::Pause => {
                self.paused = true;
                Outcome::Applied
            }
            Op::Unpause => {
                self.paused = false;
                Outcome::Applied
            }
            Op::ForcedTransfer { from, to, quantity } => {
                let position = self.position(from);
                if position.balance.saturating_sub(position.held) < *quantity {
                    return Err(broken("forced transfer of held or missing tokens"));
                }
                // A frozen amount moves with a forced transfer only as far as it must.
                let p = self
                    .positions
                    .get_mut(from)
                    .ok_or_else(|| broken("forced transfer from an empty position"))?;
                p.frozen = p.frozen.min(p.balance - quantity - p.held);
                self.move_tokens(from, to, *quantity)?;
                Outcome::Applied
            }
            Op::Redeem { holder, quantity } => {
                let p = self
                    .positions
                    .get_mut(holder)
                    .ok_or_else(|| broken("redemption from an empty position"))?;
                if p.balance.saturating_sub(p.held) < *quantity {
                    return Err(broken("redemption of held or missing tokens"));
                }
                p.balance -= quantity;
                p.frozen = p.frozen.min(p.balance - p.held);
                self.redeemed += quantity;
                Outcome::Applied
            }
            Op::RedeemAll => {
                if !self.pending.is_empty() {
                    return Err(broken("final redemption with pending transfers"));
                }
                let mut redeemed = Vec::new();
                for (holder, p) in self.positions.iter_mut() {
                    if p.balance > 0 {
                        redeemed.push((holder.clone(), p.balance));
                        self.redeemed += p.balance;
                        *p = Position::default();
                    }
                }
                self.fully_redeemed = true;
                Outcome::Redeemed(redeemed)
            }
        };
        self.assert_invariants()?;
        Ok(outcome)
    }

    fn move_tokens(&mut self, from: &str, to: &str, quantity: u64) -> Result<(), InvariantBroken> {
        let source = self
            .positions
            .get_mut(from)
            .ok_or_else(|| InvariantBroken("move from an empty position".into()))?;
        source.balance = source
            .balance
            .checked_sub(quantity)
            .ok_or_else(|| InvariantBroken("negative balance".into()))?;
        let target = self.positions.entry(to.to_owned()).or_default();
        target.balance = target
            .balance
            .checked_add(quantity)
            .ok_or_else(|| InvariantBroken("balance overflow".into()))?;
        Ok(())
    }

    /// Supply is conserved and no position is inconsistent. Cheap enough to run on every
    /// append (O(holders)); kept on in release builds, like TigerBeetle's assertions.
    /// Take a pending transfer off the book and release the hold it placed on its sender.
    fn release(
        &mut self,
        pending: &str,
        unknown: &'static str,
    ) -> Result<Pending, InvariantBroken> {
        let p = self
            .pending
            .remove(pending)
            .ok_or_else(|| InvariantBroken(unknown.to_owned()))?;
        let position = self
            .positions
            .get_mut(&p.from)
            .ok_or_else(|| InvariantBroken("pending from an empty position".into()))?;
        position.held = position
            .held
            .checked_sub(p.quantity)
            .ok_or_else(|| InvariantBroken("hold underflow".into()))?;
        Ok(p)
    }

    pub fn assert_invariants(&self) -> Result<(), InvariantBroken> {
        let sum = self
            .positions
            .values()
            .try_fold(0u64, |acc, p| acc.checked_add(p.balance));
        if self.redeemed > self.issued || sum != Some(self.issued - self.redeemed) {
            return Err(InvariantBroken(format!(
                "supply not conserved: issued {} − redeemed {} ≠ Σ balances {sum:?}",
                self.issued, self.redeemed
            )));
        }
        for (holder, p) in &self.positions {
            if p.held > p.balance || p.frozen.saturating_add(p.held) > p.balance && p.frozen > 0 {
                return Err(InvariantBroken(format!(
                    "position of {holder}: held {} / frozen {} exceed balance {}",
                    p.held, p.frozen, p.balance
                )));
            }
        }
        let held: u64 = self.pending.values().map(|p| p.quantity).sum();
        let holds: u64 = self.positions.values().map(|p| p.held).sum();
        if held != holds {
            return Err(InvariantBroken(format!(
                "pending transfers total {held} but holds total {holds}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const ISSUER: &str = "issuer";

    fn terms() -> BookTerms {
        BookTerms {
            issuer: ISSUER.into(),
            issue_size: 1_000,
            issue_date: date!(2025 - 06 - 20),
            maturity: date!(2030 - 06 - 20),
            allowed: vec![InvestorCategory::Professional],
            lock_up_until: Some(date!(2026 - 01 - 31)),
            max_holders: Some(3),
            approval_required: false,
        }
    }

    fn facts(id: &str) -> Option<PartyFacts> {
        let kyc = |status, expires| {
            Some(Kyc {
                status,
                expires_on: Some(expires),
            })
        };
        let investor = |category, kyc| {
            Some(PartyFacts {
                role: Role::Investor,
                category: Some(category),
                kyc,
            })
        };
        match id {
            "qii" | "qii2" | "qii3" | "qii4" => investor(
                InvestorCategory::Qii,
                kyc(KycStatus::Verified, date!(2030 - 12 - 31)),
            ),
            "pro" => investor(
                InvestorCategory::Professional,
                kyc(KycStatus::Verified, date!(2030 - 12 - 31)),
            ),
            "general" => investor(
                InvestorCategory::General,
                kyc(KycStatus::Verified, date!(2030 - 12 - 31)),
            ),
            "expired" => investor(
                InvestorCategory::Qii,
                kyc(KycStatus::Verified, date!(2026 - 01 - 31)),
            ),
            "pending_kyc" => investor(
                InvestorCategory::Qii,
                kyc(KycStatus::Pending, date!(2030 - 12 - 31)),
            ),
            "issuer" => Some(PartyFacts {
                role: Role::Issuer,
                category: None,
                kyc: None,
            }),
            _ => None,
        }
    }

    const DAY: Date = date!(2026 - 03 - 02);

    fn issued() -> Book {
        let mut book = Book::new(terms());
        let op = Op::Issue {
            allocations: vec![("qii".into(), 600), ("pro".into(), 300)],
        };
        assert_eq!(book.check(&op, ISSUER, DAY, &facts), vec![]);
        book.apply(&op, None).unwrap();
        book
    }

    fn transfer(from: &str, to: &str, quantity: u64) -> Op {
        Op::Transfer {
            from: from.into(),
            to: to.into(),
            quantity,
        }
    }

    fn codes(violations: Vec<Violation>) -> Vec<String> {
        violations.into_iter().map(|v| v.code).collect()
    }

    #[test]
    fn issuance_never_exceeds_the_issue_size_and_closing_is_final() {
        let mut book = issued();
        let too_much = Op::Issue {
            allocations: vec![("qii".into(), 101)],
        };
        assert_eq!(
            codes(book.check(&too_much, ISSUER, DAY, &facts)),
            ["exceeds_issue_size"]
        );
        let exact = Op::Issue {
            allocations: vec![("qii".into(), 100)],
        };
        assert!(book.check(&exact, ISSUER, DAY, &facts).is_empty());
        book.apply(&Op::CloseIssuance, None).unwrap();
        assert_eq!(
            codes(book.check(&exact, ISSUER, DAY, &facts)),
            ["issuance_closed"]
        );
        assert!(
            book.apply(&exact, None).is_err(),
            "apply refuses too: closing is one-way"
        );
    }

    #[test]
    fn every_broken_rule_of_a_transfer_is_reported_at_once() {
        let book = issued();
        // Inside the lock-up, to a general investor (not allowed), more than held, signed by someone else.
        let op = transfer("qii", "general", 601);
        let found = codes(book.check(&op, "pro", date!(2026 - 01 - 15), &facts));
        assert_eq!(
            found,
            [
                "insufficient_balance",
                "lock_up",
                "not_holder",
                "receiver_category_not_allowed"
            ]
        );
    }

    #[test]
    fn a_transfer_just_inside_the_rules_passes_and_just_outside_fails() {
        let book = issued();
        let ok = transfer("qii", "qii2", 600);
        assert!(
            book.check(&ok, "qii", date!(2026 - 02 - 01), &facts)
                .is_empty(),
            "the day after the lock-up"
        );
        assert_eq!(
            codes(book.check(&ok, "qii", date!(2026 - 01 - 31), &facts)),
            ["lock_up"],
            "the last lock-up day"
        );
        let over = transfer("qii", "qii2", 601);
        assert_eq!(
            codes(book.check(&over, "qii", DAY, &facts)),
            ["insufficient_balance"]
        );
    }

    #[test]
    fn kyc_must_be_verified_and_unexpired_on_both_sides() {
        let mut book = issued();
        let to_expired = transfer("qii", "expired", 1);
        assert_eq!(
            codes(book.check(&to_expired, "qii", DAY, &facts)),
            ["receiver_kyc_invalid"]
        );
        let to_pending = transfer("qii", "pending_kyc", 1);
        assert_eq!(
            codes(book.check(&to_pending, "qii", DAY, &facts)),
            ["receiver_kyc_invalid"]
        );
        book.apply(
            &Op::Issue {
                allocations: vec![("expired".into(), 10)],
            },
            None,
        )
        .unwrap();
        let from_expired = transfer("expired", "qii", 1);
        assert_eq!(
            codes(book.check(&from_expired, "expired", DAY, &facts)),
            ["sender_kyc_invalid"]
        );
    }

    #[test]
    fn the_holder_cap_counts_new_holders_only() {
        let book = issued(); // qii and pro hold; the cap is 3
        let third = transfer("qii", "qii2", 1);
        assert!(book.check(&third, "qii", DAY, &facts).is_empty());
        let mut book = book;
        book.apply(&third, None).unwrap();
        let fourth = transfer("qii", "qii3", 1);
        assert_eq!(
            codes(book.check(&fourth, "qii", DAY, &facts)),
            ["max_holders"]
        );
        let existing = transfer("qii", "pro", 1);
        assert!(book.check(&existing, "qii", DAY, &facts).is_empty());
    }

    #[test]
    fn frozen_positions_and_paused_bonds_do_not_move_but_forced_transfers_do() {
        let mut book = issued();
        book.apply(
            &Op::Freeze {
                holder: "qii".into(),
                quantity: Some(500),
            },
            None,
        )
        .unwrap();
        let t = |q| transfer("qii", "qii2", q);
        assert!(
            book.check(&t(100), "qii", DAY, &facts).is_empty(),
            "100 of 600 are not frozen"
        );
        assert_eq!(
            codes(book.check(&t(101), "qii", DAY, &facts)),
            ["partially_frozen"]
        );
        book.apply(
            &Op::Freeze {
                holder: "qii".into(),
                quantity: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(
            codes(book.check(&t(1), "qii", DAY, &facts)),
            ["position_frozen"]
        );
        book.apply(&Op::Pause, None).unwrap();
        assert_eq!(
            codes(book.check(&t(1), "qii", DAY, &facts)),
            ["bond_paused", "position_frozen"]
        );
        let forced = Op::ForcedTransfer {
            from: "qii".into(),
            to: "qii2".into(),
            quantity: 600,
        };
        assert!(book.check(&forced, ISSUER, DAY, &facts).is_empty());
        book.apply(&forced, None).unwrap();
        assert_eq!(book.position("qii2").balance, 600);
        assert_eq!(
            book.position("qii").frozen,
            0,
            "a freeze never exceeds what is left"
        );
    }

    #[test]
    fn a_pending_transfer_holds_its_amount_so_it_cannot_be_spent_twice() {
        let mut t = terms();
        t.approval_required = true;
        let mut book = Book::new(t);
        book.apply(
            &Op::Issue {
                allocations: vec![("qii".into(), 100)],
            },
            None,
        )
        .unwrap();
        let first = transfer("qii", "qii2", 80);
        assert_eq!(book.apply(&first, Some("op-1")).unwrap(), Outcome::Pending);
        assert_eq!(book.position("qii").held, 80);
        let second = transfer("qii", "qii3", 30);
        assert_eq!(
            codes(book.check(&second, "qii", DAY, &facts)),
            ["insufficient_balance"]
        );
        assert_eq!(
            codes(book.check(
                &Op::Approve {
                    pending: "op-1".into()
                },
                "qii",
                DAY,
                &facts
            )),
            ["not_issuer"]
        );
        book.apply(
            &Op::Approve {
                pending: "op-1".into(),
            },
            None,
        )
        .unwrap();
        assert_eq!(
            (
                book.position("qii").balance,
                book.position("qii2").balance,
                book.position("qii").held
            ),
            (20, 80, 0)
        );
        assert_eq!(
            codes(book.check(
                &Op::Cancel {
                    pending: "op-1".into()
                },
                ISSUER,
                DAY,
                &facts
            )),
            ["unknown_pending"]
        );
    }

    #[test]
    fn full_redemption_waits_for_maturity_and_then_nothing_moves() {
        let mut book = issued();
        assert_eq!(
            codes(book.check(&Op::RedeemAll, ISSUER, date!(2030 - 06 - 19), &facts)),
            ["not_matured"]
        );
        book.apply(
            &Op::Redeem {
                holder: "pro".into(),
                quantity: 100,
            },
            None,
        )
        .unwrap();
        assert_eq!(
            (book.issued(), book.redeemed(), book.outstanding()),
            (900, 100, 800)
        );
        let outcome = book.apply(&Op::RedeemAll, None).unwrap();
        assert_eq!(
            outcome,
            Outcome::Redeemed(vec![("pro".into(), 200), ("qii".into(), 600)])
        );
        assert_eq!(book.outstanding(), 0);
        let t = transfer("qii", "qii2", 1);
        assert!(
            codes(book.check(&t, "qii", date!(2030 - 06 - 21), &facts))
                .contains(&"bond_redeemed".to_owned())
        );
        assert!(book.apply(&t, None).is_err());
    }

    #[test]
    fn tokens_are_issued_from_the_issue_date_on() {
        let book = Book::new(terms());
        let op = Op::Issue {
            allocations: vec![("pro".into(), 10)],
        };
        assert_eq!(
            codes(book.check(&op, ISSUER, date!(2025 - 06 - 19), &facts)),
            ["before_issue_date"]
        );
        assert!(
            book.check(&op, ISSUER, date!(2025 - 06 - 20), &facts)
                .is_empty()
        );
    }

    #[test]
    fn from_maturity_on_the_bond_is_only_redeemed() {
        let book = issued();
        let eve = date!(2030 - 06 - 19);
        let maturity = date!(2030 - 06 - 20);
        let t = transfer("qii", "qii2", 1);
        assert!(book.check(&t, "qii", eve, &facts).is_empty());
        assert_eq!(codes(book.check(&t, "qii", maturity, &facts)), ["matured"]);
        let more = Op::Issue {
            allocations: vec![("pro".into(), 1)],
        };
        assert!(book.check(&more, ISSUER, eve, &facts).is_empty());
        assert_eq!(
            codes(book.check(&more, ISSUER, maturity, &facts)),
            ["matured"]
        );
        // Winding down stays possible: redemption and the issuer's controls.
        assert!(
            book.check(&Op::RedeemAll, ISSUER, maturity, &facts)
                .is_empty()
        );
        let redeem = Op::Redeem {
            holder: "pro".into(),
            quantity: 1,
        };
        assert!(book.check(&redeem, ISSUER, maturity, &facts).is_empty());
        assert!(book.check(&Op::Pause, ISSUER, maturity, &facts).is_empty());
    }

    #[test]
    fn only_investors_of_an_allowed_category_can_receive() {
        let book = issued();
        let to_issuer = transfer("qii", "issuer", 1);
        assert_eq!(
            codes(book.check(&to_issuer, "qii", DAY, &facts)),
            ["receiver_not_investor"]
        );
        let to_nobody = transfer("qii", "ghost", 1);
        assert_eq!(
            codes(book.check(&to_nobody, "qii", DAY, &facts)),
            ["receiver_unknown"]
        );
        // QII ⊂ professional: a QII may hold a professional-only bond.
        let to_qii = transfer("pro", "qii2", 1);
        assert!(book.check(&to_qii, "pro", DAY, &facts).is_empty());
    }

    #[test]
    fn at_the_holder_cap_a_whole_position_may_move_but_a_forced_split_may_not() {
        let mut book = issued(); // qii 600, pro 300; cap 3
        book.apply(&transfer("qii", "qii2", 100), None).unwrap();
        assert_eq!(book.holder_count(), 3);
        let whole = transfer("pro", "qii3", 300);
        assert!(
            book.check(&whole, "pro", DAY, &facts).is_empty(),
            "the sender leaves: still 3 holders"
        );
        let split = Op::ForcedTransfer {
            from: "qii".into(),
            to: "qii4".into(),
            quantity: 1,
        };
        assert_eq!(
            codes(book.check(&split, ISSUER, DAY, &facts)),
            ["max_holders"]
        );
    }
}
