//! Security-token operations on a bond's ledger, and the reads over them: the holder register
//! (current and as of any index or time), a party's positions and history, coupons.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use super::engine::{Accepted, Action, Append, Verdict, book_terms, rules_date};
use super::parties::{check_id, require_role};
use super::state::position_of;
use super::{App, AppError, AppResult, Caller};
use crate::domain::bond::{BondSpec, BondTerms};
use crate::domain::book::{Op, Position};
use crate::domain::coupon::{self, CouponPeriod, StepUp};
use crate::domain::error::FieldError;
use crate::domain::party::Role;
use crate::ledger::entry::{Entry, SignedRequest};
use crate::store::{BondRow, PositionRow, TotalsRow};

/// Bonds whose loaded facts are kept for reads at most (past it, the cache starts over).
const FACTS_CACHED_MAX: usize = 4_096;

/// Longest reason text on a control operation.
pub const REASON_CHARS_MAX: usize = 500;
/// Longest client-chosen operation id.
pub const OPERATION_ID_CHARS_MAX: usize = 64;

/// Every operation type a signed payload may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum OperationType {
    #[serde(rename = "token.issue")]
    Issue,
    #[serde(rename = "token.close_issuance")]
    CloseIssuance,
    #[serde(rename = "token.transfer")]
    Transfer,
    #[serde(rename = "token.approve")]
    Approve,
    #[serde(rename = "token.cancel")]
    Cancel,
    #[serde(rename = "token.freeze")]
    Freeze,
    #[serde(rename = "token.unfreeze")]
    Unfreeze,
    #[serde(rename = "bond.pause")]
    Pause,
    #[serde(rename = "bond.unpause")]
    Unpause,
    #[serde(rename = "token.force_transfer")]
    ForceTransfer,
    #[serde(rename = "token.redeem")]
    Redeem,
    #[serde(rename = "token.redeem_all")]
    RedeemAll,
    #[serde(rename = "coupon.pay")]
    PayCoupon,
    #[serde(rename = "kpi.observe")]
    ObserveKpi,
}

/// One allocation of an issuance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    pub investor: String,
    pub quantity: String,
}

/// The payload of a signed token operation. Which fields are required depends on `type`
/// (docs/tokens.md); a field that the type does not take is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationPayload {
    #[serde(rename = "type")]
    pub kind: OperationType,
    /// The signing key (omit in a dry run).
    #[serde(default)]
    pub kid: Option<String>,
    /// The replay guard (omit in a dry run).
    #[serde(default)]
    pub nonce: Option<String>,
    /// The bond the operation is for; must match the URL.
    pub bond_id: String,
    /// Client-chosen id, the idempotency key: 1–64 of `A–Z a–z 0–9 . _ : -` (omit in a dry run).
    #[serde(default)]
    pub operation_id: Option<String>,
    #[serde(default)]
    pub allocations: Option<Vec<Allocation>>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub holder: Option<String>,
    /// Whole tokens, as a decimal string.
    #[serde(default)]
    pub quantity: Option<String>,
    /// The operation id of a pending transfer (approve, cancel).
    #[serde(default)]
    pub pending_id: Option<String>,
    /// Why (mandatory for freeze, unfreeze, pause, unpause, forced transfer).
    #[serde(default)]
    pub reason: Option<String>,
    /// Coupon period number (coupon.pay).
    #[serde(default)]
    pub period: Option<String>,
    /// KPI id, observed value and whether its target was met (kpi.observe).
    #[serde(default)]
    pub kpi_id: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub met: Option<bool>,
}

/// One line of the holder register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Holding {
    pub holder: String,
    pub balance: String,
    /// Held for pending outgoing transfers.
    pub held: String,
    pub frozen: String,
    pub frozen_all: bool,
}

/// The holder register (社債原簿) of a bond at a ledger position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Register {
    pub bond_id: String,
    /// Entries replayed: the register is as of the entry `as_of_size - 1`.
    pub as_of_size: String,
    pub as_of_time: Option<String>,
    pub issued: String,
    pub redeemed: String,
    pub outstanding: String,
    pub paused: bool,
    pub issuance_closed: bool,
    pub fully_redeemed: bool,
    pub holders: Vec<Holding>,
}

/// A party's position in one bond.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartyPosition {
    pub bond_id: String,
    pub bond_name: String,
    #[serde(flatten)]
    pub holding: Holding,
}

/// One entry of a party's operation history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryItem {
    pub bond_id: String,
    pub entry_index: String,
    pub entry_type: String,
    pub time: String,
    #[schema(value_type = Object)]
    pub data: Value,
    /// Whether lines about other parties (their allocations, redemptions, coupon payments)
    /// were taken out of `data`: the caller may not read the bond's register. The whole entry
    /// is in the ledger export, for those who may.
    pub redacted: bool,
}

/// One coupon period with its status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CouponLine {
    pub period: String,
    pub accrual_start: String,
    pub accrual_end: String,
    pub record_date: String,
    pub payment_date: String,
    /// Annual rate in percent, step-ups included.
    pub rate: String,
    pub step_up_bp: String,
    /// Exact year fraction, e.g. `183/365`.
    pub year_fraction: String,
    /// Coupon per token, rounded down to the currency's minor unit.
    pub per_token: String,
    pub currency: String,
    /// Index of the `coupon.paid` entry, once paid.
    pub paid_at_index: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EntitlementLine {
    pub holder: String,
    pub quantity: String,
    pub amount: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Entitlements {
    pub period: String,
    pub record_date: String,
    pub payment_date: String,
    pub currency: String,
    pub total: String,
    pub holders: Vec<EntitlementLine>,
}

/// A field error at `pointer` inside the signed `payload`.
pub(super) fn field(pointer: &str, code: &str, detail: impl Into<String>) -> FieldError {
    FieldError {
        pointer: format!("/payload{pointer}"),
        code: code.into(),
        detail: detail.into(),
    }
}

fn holding(holder: &str, p: &Position) -> Holding {
    Holding {
        holder: holder.to_owned(),
        balance: p.balance.to_string(),
        held: p.held.to_string(),
        frozen: p.frozen.to_string(),
        frozen_all: p.frozen_all,
    }
}

/// A quantity: a positive whole number of tokens without sign or leading zeros.
fn quantity(text: &Option<String>, pointer: &str, errors: &mut Vec<FieldError>) -> u64 {
    match text.as_deref() {
        None => {
            errors.push(field(
                pointer,
                "required",
                "a quantity of whole tokens is required, as a decimal string",
            ));
            0
        }
        Some(t) => match crate::ledger::entry::parse_index(t) {
            Ok(n) if n > 0 && n <= crate::domain::money::TOKEN_QUANTITY_MAX => n,
            _ => {
                errors.push(field(
                    pointer,
                    "invalid_quantity",
                    format!("{t:?} is not a positive whole number of tokens"),
                ));
                0
            }
        },
    }
}

fn party_id(text: &Option<String>, pointer: &str, errors: &mut Vec<FieldError>) -> String {
    match text.as_deref() {
        Some(t) if uuid::Uuid::try_parse(t).is_ok() => t.to_owned(),
        Some(t) => {
            errors.push(field(
                pointer,
                "invalid_party",
                format!("{t:?} is not a party id"),
            ));
            String::new()
        }
        None => {
            errors.push(field(pointer, "required", "a party id is required"));
            String::new()
        }
    }
}

/// The book operation (or plain fact) a payload asks for, with every field problem named.
/// `actor` is the signer; transfers move the signer's own tokens.
fn parse_operation(
    p: &OperationPayload,
    actor: &str,
) -> Result<(Option<Op>, Option<String>), Vec<FieldError>> {
    use OperationType as T;
    let mut errors = Vec::new();
    let needs_reason = matches!(
        p.kind,
        T::Freeze | T::Unfreeze | T::Pause | T::Unpause | T::ForceTransfer
    );
    let reason = match (&p.reason, needs_reason) {
        (Some(r), _)
            if r.trim().is_empty()
                || r.chars().count() > REASON_CHARS_MAX
                || r.chars().any(char::is_control) =>
        {
            errors.push(field(
                "/reason",
                "invalid_reason",
                format!("a reason is 1 to {REASON_CHARS_MAX} characters of text"),
            ));
            None
        }
        (Some(r), _) => Some(r.trim().to_owned()),
        (None, true) => {
            errors.push(field(
                "/reason",
                "reason_required",
                "this control needs a reason (e.g. the court order or the ticket number)",
            ));
            None
        }
        (None, false) => None,
    };
    // Fields a type does not take are refused, so a signature never covers ignored data.
    let allowed: &[&str] = match p.kind {
        T::Issue => &["allocations"],
        T::CloseIssuance | T::Pause | T::Unpause | T::RedeemAll => &[],
        T::Transfer => &["to", "quantity"],
        T::Approve | T::Cancel => &["pending_id"],
        T::Freeze | T::Unfreeze => &["holder", "quantity"],
        T::ForceTransfer => &["from", "to", "quantity"],
        T::Redeem => &["holder", "quantity"],
        T::PayCoupon => &["period"],
        T::ObserveKpi => &["kpi_id", "value", "met"],
    };
    let present = [
        ("allocations", p.allocations.is_some()),
        ("from", p.from.is_some()),
        ("to", p.to.is_some()),
        ("holder", p.holder.is_some()),
        ("quantity", p.quantity.is_some()),
        ("pending_id", p.pending_id.is_some()),
        ("period", p.period.is_some()),
        ("kpi_id", p.kpi_id.is_some()),
        ("value", p.value.is_some()),
        ("met", p.met.is_some()),
    ];
    for (name, is) in present {
        if is && !allowed.contains(&name) {
            errors.push(field(
                &format!("/{name}"),
                "not_allowed_for_type",
                format!("`{name}` is not part of this operation type"),
            ));
        }
    }
    let op = match p.kind {
        T::Issue => {
            let allocations = match &p.allocations {
                Some(list) => list
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        (
                            party_id(
                                &Some(a.investor.clone()),
                                &format!("/allocations/{i}/investor"),
                                &mut errors,
                            ),
                            quantity(
                                &Some(a.quantity.clone()),
                                &format!("/allocations/{i}/quantity"),
                                &mut errors,
                            ),
                        )
                    })
                    .collect(),
                None => {
                    errors.push(field(
                        "/allocations",
                        "required",
                        "an issuance lists its allocations",
                    ));
                    Vec::new()
                }
            };
            Some(Op::Issue { allocations })
        }
        T::CloseIssuance => Some(Op::CloseIssuance),
        T::Transfer => Some(Op::Transfer {
            from: actor.to_owned(),
            to: party_id(&p.to, "/to", &mut errors),
            quantity: quantity(&p.quantity, "/quantity", &mut errors),
        }),
        T::Approve | T::Cancel => {
            let pending = match &p.pending_id {
                Some(id) if valid_operation_id(id) => id.clone(),
                _ => {
                    errors.push(field(
                        "/pending_id",
                        "invalid_pending_id",
                        "name the pending transfer by its operation id",
                    ));
                    String::new()
                }
            };
            Some(if p.kind == T::Approve {
                Op::Approve { pending }
            } else {
                Op::Cancel { pending }
            })
        }
        T::Freeze | T::Unfreeze => {
            let holder = party_id(&p.holder, "/holder", &mut errors);
            let q = p
                .quantity
                .as_ref()
                .map(|_| quantity(&p.quantity, "/quantity", &mut errors));
            Some(if p.kind == T::Freeze {
                Op::Freeze {
                    holder,
                    quantity: q,
                }
            } else {
                Op::Unfreeze {
                    holder,
                    quantity: q,
                }
            })
        }
        T::Pause => Some(Op::Pause),
        T::Unpause => Some(Op::Unpause),
        T::ForceTransfer => Some(Op::ForcedTransfer {
            from: party_id(&p.from, "/from", &mut errors),
            to: party_id(&p.to, "/to", &mut errors),
            quantity: quantity(&p.quantity, "/quantity", &mut errors),
        }),
        T::Redeem => Some(Op::Redeem {
            holder: party_id(&p.holder, "/holder", &mut errors),
            quantity: quantity(&p.quantity, "/quantity", &mut errors),
        }),
        T::RedeemAll => Some(Op::RedeemAll),
        T::PayCoupon | T::ObserveKpi => None,
    };
    if errors.is_empty() {
        Ok((op, reason))
    } else {
        Err(errors)
    }
}

fn valid_operation_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= OPERATION_ID_CHARS_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn parse_payload(value: &Value) -> AppResult<OperationPayload> {
    serde_json::from_value(value.clone()).map_err(|e| {
        AppError::Validation(vec![FieldError {
            pointer: "/payload".into(),
            code: "payload_invalid".into(),
            detail: e.to_string(),
        }])
    })
}

fn time_of(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

impl App {
    /// Perform a signed token operation on a bond.
    pub async fn operate(
        &self,
        caller: &Caller,
        bond_id: &str,
        request: SignedRequest,
    ) -> AppResult<Accepted> {
        let bond = self.bond_row(bond_id).await?;
        let payload = parse_payload(&request.payload)?;
        let role_needed = if payload.kind == OperationType::Transfer {
            Role::Investor
        } else {
            Role::Issuer
        };
        require_role(
            caller,
            &[role_needed],
            if role_needed == Role::Investor {
                "transfers are signed by the holding investor"
            } else {
                "only the bond's issuer performs this operation"
            },
        )?;
        if role_needed == Role::Issuer && bond.issuer_id != caller.party_id {
            return Err(AppError::Forbidden(
                "this bond belongs to another issuer".into(),
            ));
        }
        let type_name = super::bonds::enum_str(&payload.kind)?;
        let verified = self.verify_signed(caller, request, &type_name).await?;
        let mut errors = Vec::new();
        if payload.bond_id != bond.id {
            errors.push(field(
                "/bond_id",
                "bond_mismatch",
                "the signed bond_id differs from the bond in the URL",
            ));
        }
        let operation_id = match &payload.operation_id {
            Some(id) if valid_operation_id(id) => id.clone(),
            _ => {
                errors.push(field("/operation_id", "invalid_operation_id", format!("choose an operation id of 1 to {OPERATION_ID_CHARS_MAX} characters A–Z a–z 0–9 . _ : -")));
                String::new()
            }
        };
        let parsed = parse_operation(&payload, &caller.party_id);
        if let Err(mut e) = parsed.clone() {
            errors.append(&mut e);
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let (op, reason) = parsed.map_err(AppError::Validation)?;
        let action = match op {
            Some(op) => Action::Book { op, reason },
            None if payload.kind == OperationType::PayCoupon => {
                self.coupon_action(&bond, &payload).await?
            }
            None => kpi_action(&bond, &payload, rules_date(self.clock.now()))?,
        };
        let append = Append {
            actor: verified.actor,
            request: verified.request,
            nonce: verified.nonce,
            operation_id: Some(operation_id),
            action,
        };
        let sees_register = may_see_holders(caller, &bond).is_ok();
        self.engine()
            .append(bond.ledger_id.clone(), append)
            .await
            .map_err(|e| match e {
                // A refusal tells no more than the dry run would have.
                AppError::Rules(violations) if !sees_register => {
                    AppError::Rules(crate::domain::book::as_seen_by_outsider(violations))
                }
                other => other,
            })
    }

    /// What the rules would say of an operation now, without signing or writing (ERC-1400's
    /// `canTransfer`). The caller is the actor.
    pub async fn check_operation(
        &self,
        caller: &Caller,
        bond_id: &str,
        payload: Value,
    ) -> AppResult<Verdict> {
        let bond = self.bond_row(bond_id).await?;
        let payload = parse_payload(&payload)?;
        if payload.bond_id != bond.id {
            return Err(AppError::Validation(vec![field(
                "/bond_id",
                "bond_mismatch",
                "bond_id differs from the bond in the URL",
            )]));
        }
        let (op, _) = parse_operation(&payload, &caller.party_id).map_err(AppError::Validation)?;
        // A well-formed payload of a type the book has no verdict for (a coupon payment, a
        // pause): the request is understood, the operation cannot be checked.
        let op = op.ok_or_else(|| {
            AppError::Validation(vec![field(
                "/type",
                "not_checkable",
                "only token operations (issue, transfer, redeem, freeze, …) can be checked in advance",
            )])
        })?;
        let mut verdict = self
            .engine()
            .dry_run(bond.ledger_id.clone(), caller.party_id.clone(), op)
            .await?;
        // Only those who may read the register learn about other parties from the answer.
        if may_see_holders(caller, &bond).is_err() {
            verdict.violations = crate::domain::book::as_seen_by_outsider(verdict.violations);
        }
        Ok(verdict)
    }

    /// The register of a bond as of its first `size` entries (all when `None`), or as of a
    /// time: every party with a position then, the book's totals then, and the size it is as
    /// of. Index lookups on the maintained state, O(holders · log n).
    async fn register_as_of(
        &self,
        bond: &BondRow,
        size: Option<u64>,
        at: Option<OffsetDateTime>,
    ) -> AppResult<(Vec<(String, PositionRow)>, TotalsRow, u64)> {
        let mut batch = self.store.begin_read().await?;
        let read = async {
            let current = batch.head(&bond.ledger_id).await?.size;
            let mut n = size.unwrap_or(current).min(current);
            if let Some(at) = at {
                n = batch
                    .size_at_time(&bond.ledger_id, n, &super::format_time(at))
                    .await?;
            }
            let holders = batch.register_at(&bond.ledger_id, n).await?;
            let totals = batch.totals_at(&bond.ledger_id, n).await?;
            Ok::<_, crate::store::StoreError>((holders, totals, n))
        }
        .await;
        batch.finish().await;
        Ok(read?)
    }

    /// A bond's facts (its entries that are not token operations), monitoring, labels and
    /// totals from its maintained state, and the ledger's size: one indexed read of the state
    /// row; the facts are read and replayed again only when the state document changed since
    /// they were last (token operations other than issuance, redemption, pause and approvals
    /// leave it as it is). The book carries no positions.
    pub(super) async fn bond_facts(
        &self,
        bond: &BondRow,
    ) -> AppResult<(Arc<super::state::Loaded>, u64)> {
        // The head this process committed a moment ago, with facts already loaded for its
        // document: no database read at all.
        if let Some(head) = self.engine().heads().fresh(&bond.ledger_id)
            && let Some(loaded) = self.facts.lock().ok().and_then(|c| {
                c.get(&bond.ledger_id)
                    .filter(|(t, _)| *t == *head.doc)
                    .map(|(_, l)| l.clone())
            })
        {
            return Ok((loaded, head.size));
        }
        let mut batch = self.store.read_plain().await?;
        let row = batch.bond_state(&bond.ledger_id).await;
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                batch.finish().await;
                return Err(e.into());
            }
        };
        let Some(text) = row.state else {
            batch.finish().await;
            return Err(AppError::Internal(format!(
                "bond {} has no maintained state (a restart rebuilds it)",
                bond.id
            )));
        };
        let cached = self.facts.lock().ok().and_then(|c| {
            c.get(&bond.ledger_id)
                .filter(|(t, _)| *t == text)
                .map(|(_, l)| l.clone())
        });
        if let Some(loaded) = cached {
            batch.finish().await;
            return Ok((loaded, row.size));
        }
        // The entries a state row names are committed with it: read on the same connection,
        // they are there whatever was appended since.
        let loaded = super::state::load(
            &mut batch,
            &bond.ledger_id,
            book_terms(&bond.issuer_id, &bond.spec)?,
            super::engine::monitor_terms(&bond.spec)?,
            false,
        )
        .await;
        batch.finish().await;
        let loaded = Arc::new(loaded?.ok_or_else(|| {
            AppError::Internal(format!("bond {} has no maintained state", bond.id))
        })?);
        // The size and document read first are the ones to answer with: `load` may have seen
        // a later head.
        let answer = if loaded.doc.to_text()? == text {
            if let Ok(mut cache) = self.facts.lock() {
                if cache.len() >= FACTS_CACHED_MAX {
                    cache.clear();
                }
                cache.insert(bond.ledger_id.clone(), (text, loaded.clone()));
            }
            (loaded.clone(), row.size)
        } else {
            let size = loaded.size;
            (loaded, size)
        };
        Ok(answer)
    }

    /// The holder register, current or as of a ledger size or a time (issuer, operator, regulator).
    pub async fn register(
        &self,
        caller: &Caller,
        bond_id: &str,
        as_of_size: Option<u64>,
        as_of_time: Option<&str>,
    ) -> AppResult<Register> {
        let bond = self.bond_row(bond_id).await?;
        may_see_holders(caller, &bond)?;
        if as_of_size.is_some_and(|n| n > crate::ledger::canon::MAX_SAFE_INTEGER) {
            return Err(AppError::BadRequest(
                "`as_of_size` is at most 2^53 − 1".into(),
            ));
        }
        let at = match as_of_time {
            Some(t) => Some(time_of(t).ok_or_else(|| {
                AppError::BadRequest(format!("as_of_time {t:?} is not an RFC 3339 time"))
            })?),
            None => None,
        };
        let (holders, totals, n) = self.register_as_of(&bond, as_of_size, at).await?;
        Ok(Register {
            bond_id: bond.id,
            as_of_size: n.to_string(),
            as_of_time: as_of_time.map(str::to_owned),
            issued: totals.issued.to_string(),
            redeemed: totals.redeemed.to_string(),
            outstanding: (totals.issued - totals.redeemed.min(totals.issued)).to_string(),
            paused: totals.paused,
            issuance_closed: totals.issuance_closed,
            fully_redeemed: totals.fully_redeemed,
            holders: holders
                .iter()
                .filter(|(_, p)| p.balance > 0)
                .map(|(h, p)| holding(h, &position_of(p)))
                .collect(),
        })
    }

    /// A party's positions across bonds (the party itself, operators, regulators).
    pub async fn positions(
        &self,
        caller: &Caller,
        party_id: &str,
    ) -> AppResult<Vec<PartyPosition>> {
        check_id(party_id, "party")?;
        may_see_party(caller, party_id)?;
        let mut out = Vec::new();
        for (ledger_id, row) in self.store.positions_of(party_id).await? {
            let Some(bond_id) = ledger_id.strip_prefix("bonds/") else {
                continue;
            };
            let bond = self.bond_row(bond_id).await?;
            let p = position_of(&row);
            if p != Position::default() {
                out.push(PartyPosition {
                    bond_id: bond.id.clone(),
                    bond_name: bond.name.clone(),
                    holding: holding(party_id, &p),
                });
            }
        }
        Ok(out)
    }

    /// Every entry that concerns a party, newest last (the party itself, operators, regulators).
    pub async fn history(&self, caller: &Caller, party_id: &str) -> AppResult<Vec<HistoryItem>> {
        check_id(party_id, "party")?;
        may_see_party(caller, party_id)?;
        let rows = self.store.entries_of_party(party_id).await?;
        let mut out = Vec::with_capacity(rows.len());
        for (ledger_id, leaf) in rows {
            // Key events are public history of their own (the key log), not holdings.
            if ledger_id == crate::ledger::keylog::KEY_LOG_ID {
                continue;
            }
            let (entry, _) = Entry::from_leaf(&leaf)?;
            let bond_id = ledger_id.strip_prefix("bonds/").unwrap_or(&ledger_id);
            // An entry can list other holders (an issuance, a redemption, a coupon payment):
            // only those who may read the bond's register see them.
            let sees_register = match ledger_id.strip_prefix("bonds/") {
                Some(id) => may_see_holders(caller, &self.bond_row(id).await?).is_ok(),
                None => matches!(caller.role, Role::Operator | Role::Regulator),
            };
            let (data, redacted) = if sees_register {
                (entry.data, false)
            } else {
                crate::domain::record::only_lines_of(entry.data, party_id)
            };
            out.push(HistoryItem {
                bond_id: bond_id.to_owned(),
                entry_index: entry.index,
                entry_type: entry.kind,
                time: entry.time,
                data,
                redacted,
            });
        }
        Ok(out)
    }

    async fn terms_and_step_ups(
        &self,
        bond: &BondRow,
    ) -> AppResult<(BondTerms, Vec<StepUp>, Vec<Entry>)> {
        let spec: BondSpec =
            serde_json::from_str(&bond.spec).map_err(|e| AppError::Internal(e.to_string()))?;
        let terms = spec
            .validate()
            .map_err(|_| AppError::Internal("stored spec no longer validates".into()))?;
        // KPI findings, their withdrawals and coupon payments are all facts of the bond.
        let (loaded, _) = self.bond_facts(bond).await?;
        let entries = loaded.facts.clone();
        let mut step_ups = Vec::new();
        // A miss is recorded by the issuer's KPI observation or by a verifier's KPI review
        // (docs/labels.md); either one steps the coupon up once per KPI.
        let mut missed: Vec<&str> = Vec::new();
        // A withdrawn KPI review no longer counts.
        let withdrawn: Vec<&str> = entries
            .iter()
            .filter(|e| e.kind == "review.withdrawn")
            .filter_map(|e| e.data.get("review_id").and_then(Value::as_str))
            .collect();
        for e in &entries {
            if e.kind == "review.recorded"
                && e.data
                    .get("review_id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| withdrawn.contains(&id))
            {
                continue;
            }
            let finding = match e.kind.as_str() {
                "kpi.observed" => Some(&e.data),
                "review.recorded" => e.data.get("kpi"),
                _ => None,
            };
            let Some(finding) = finding else { continue };
            if finding.get("met") != Some(&Value::Bool(false)) {
                continue;
            }
            let kpi_id = finding
                .get("kpi_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if missed.contains(&kpi_id) {
                continue;
            }
            if let Some(kpi) = terms.kpis().iter().find(|k| k.id().as_str() == kpi_id) {
                missed.push(kpi_id);
                step_ups.push(StepUp::after_missed_target(kpi));
            }
        }
        Ok((terms, step_ups, entries))
    }

    /// The coupon schedule with step-ups from recorded KPI misses, and what is paid (public).
    pub async fn coupons(&self, bond_id: &str) -> AppResult<Vec<CouponLine>> {
        let bond = self.bond_row(bond_id).await?;
        let (terms, step_ups, entries) = self.terms_and_step_ups(&bond).await?;
        let periods = coupon::schedule_of(&terms, &step_ups)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let paid = |n: u32| {
            entries
                .iter()
                .find(|e| {
                    e.kind == "coupon.paid"
                        && e.data.get("period").and_then(Value::as_str) == Some(&n.to_string())
                })
                .map(|e| e.index.clone())
        };
        periods
            .iter()
            .map(|p| {
                let per_token =
                    coupon::coupon_amount(&terms.denomination(), 1, &p.rate, p.fraction)
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                Ok(CouponLine {
                    period: p.number.to_string(),
                    accrual_start: date(p.accrual_start),
                    accrual_end: date(p.accrual_end),
                    record_date: date(p.record_date),
                    payment_date: date(p.payment_date),
                    rate: p.rate.to_wire(),
                    step_up_bp: p.step_up_bp.to_string(),
                    year_fraction: p.fraction.to_string(),
                    per_token: per_token.to_wire(),
                    currency: terms.currency().as_str().to_owned(),
                    paid_at_index: paid(p.number),
                })
            })
            .collect()
    }

    async fn period(&self, bond: &BondRow, number: u32) -> AppResult<(BondTerms, CouponPeriod)> {
        let (terms, step_ups, _) = self.terms_and_step_ups(bond).await?;
        let periods = coupon::schedule_of(&terms, &step_ups)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let period = periods
            .into_iter()
            .find(|p| p.number == number)
            .ok_or_else(|| AppError::NotFound(format!("coupon period {number}")))?;
        Ok((terms, period))
    }

    /// Per-holder entitlements of a period, from the register at the end of its record date
    /// (Japan time). Issuer, operators, regulators.
    pub async fn entitlements(
        &self,
        caller: &Caller,
        bond_id: &str,
        number: u32,
    ) -> AppResult<Entitlements> {
        let bond = self.bond_row(bond_id).await?;
        may_see_holders(caller, &bond)?;
        let (terms, period) = self.period(&bond, number).await?;
        self.compute_entitlements(&bond, &terms, &period).await
    }

    /// Entitlements of `period`, from the register at the end of its record date. Takes the
    /// period already derived, since deriving it replays the ledger.
    async fn compute_entitlements(
        &self,
        bond: &BondRow,
        terms: &BondTerms,
        period: &CouponPeriod,
    ) -> AppResult<Entitlements> {
        let number = period.number;
        let end_of_record_date = record_cutoff(period.record_date);
        let (register, _, _) = self
            .register_as_of(bond, None, Some(end_of_record_date))
            .await?;
        let holders: Vec<(String, u64)> = register
            .into_iter()
            .filter(|(_, p)| p.balance > 0)
            .map(|(h, p)| (h, p.balance))
            .collect();
        let lines = coupon::entitlements(&holders, &terms.denomination(), period)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let mut total = crate::domain::money::Amount::zero(terms.currency());
        for l in &lines {
            total = total
                .checked_add(&l.amount)
                .map_err(|e| AppError::Internal(e.to_string()))?;
        }
        Ok(Entitlements {
            period: number.to_string(),
            record_date: date(period.record_date),
            payment_date: date(period.payment_date),
            currency: terms.currency().as_str().to_owned(),
            total: total.to_wire(),
            holders: lines
                .iter()
                .map(|l| EntitlementLine {
                    holder: l.holder.clone(),
                    quantity: l.quantity.to_string(),
                    amount: l.amount.to_wire(),
                })
                .collect(),
        })
    }

    /// A `coupon.paid` entry: the entitlements computed here, from the register as it was at
    /// the record date — never from figures the client sends.
    async fn coupon_action(&self, bond: &BondRow, payload: &OperationPayload) -> AppResult<Action> {
        let number: u32 = payload
            .period
            .as_deref()
            .and_then(|p| crate::ledger::entry::parse_index(p).ok())
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                AppError::Validation(vec![field(
                    "/period",
                    "invalid_period",
                    "name the coupon period by its number, e.g. \"1\"",
                )])
            })?;
        let (terms, period) = self.period(bond, number).await?;
        let today = rules_date(self.clock.now());
        if today <= period.record_date {
            return Err(AppError::Rules(vec![crate::domain::book::Violation {
                code: "before_record_date".into(),
                detail: format!(
                    "period {number} can be paid after its record date {}",
                    date(period.record_date)
                ),
            }]));
        }
        let e = self.compute_entitlements(bond, &terms, &period).await?;
        let parties = e.holders.iter().map(|h| h.holder.clone()).collect();
        Ok(Action::Plain {
            kind: "coupon.paid".into(),
            data: json!({
                "period": e.period, "record_date": e.record_date, "payment_date": e.payment_date,
                "rate": period.rate.to_wire(), "year_fraction": period.fraction.to_string(),
                "currency": e.currency, "total": e.total,
                "rounding": "each holder's amount rounded down to the currency's minor unit",
                "payments": e.holders.iter().map(|h| json!({"holder": h.holder, "quantity": h.quantity, "amount": h.amount})).collect::<Vec<_>>(),
                "operation_id": payload.operation_id, "reason": payload.reason,
            }),
            parties,
            once: Some(format!("coupon.paid:{number}")),
        })
    }
}

/// A KPI observation, once its observation date has come (Japan time). SLBP: the step-up
/// follows a verified miss of the sustainability performance target at the observation date.
fn kpi_action(bond: &BondRow, payload: &OperationPayload, today: Date) -> AppResult<Action> {
    let spec: BondSpec =
        serde_json::from_str(&bond.spec).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut errors = Vec::new();
    let kpi = payload
        .kpi_id
        .as_deref()
        .and_then(|id| spec.framework.kpis.iter().find(|k| k.id == id));
    if kpi.is_none() {
        errors.push(field(
            "/kpi_id",
            "unknown_kpi",
            "name one of the bond's KPIs",
        ));
    }
    let decimals_rule = || {
        format!(
            "KPI values allow at most {} decimals",
            crate::domain::bond::KPI_VALUE_DECIMALS_MAX
        )
    };
    let format = crate::domain::money::DecimalFormat {
        what: "KPI value",
        signed: true,
        decimals_max: crate::domain::bond::KPI_VALUE_DECIMALS_MAX,
        decimals_rule: &decimals_rule,
        magnitude_max: rust_decimal::Decimal::from(crate::domain::bond::KPI_VALUE_MAGNITUDE_MAX),
    };
    let value = payload
        .value
        .as_deref()
        .and_then(|v| crate::domain::money::parse_decimal(v, &format).ok());
    if value.is_none() {
        errors.push(field(
            "/value",
            "invalid_value",
            "the observed value is a decimal string",
        ));
    }
    if payload.met.is_none() {
        errors.push(field(
            "/met",
            "required",
            "state whether the sustainability performance target was met",
        ));
    }
    let (Some(kpi), Some(value), Some(met)) = (kpi, value, payload.met) else {
        return Err(AppError::Validation(errors));
    };
    if crate::domain::wire::parse_date(&kpi.observation_date).is_ok_and(|d| today < d) {
        return Err(AppError::Rules(vec![crate::domain::book::Violation {
            code: "before_observation_date".into(),
            detail: format!(
                "KPI {} is observed on {}; record the observation from that day on",
                kpi.id, kpi.observation_date
            ),
        }]));
    }
    Ok(Action::Plain {
        kind: "kpi.observed".into(),
        data: json!({"kpi_id": kpi.id, "observation_date": kpi.observation_date, "value": value.normalize().to_string(),
                     "target": kpi.target, "met": met, "operation_id": payload.operation_id, "reason": payload.reason}),
        parties: vec![],
        once: Some(format!("kpi.observed:{}", kpi.id)),
    })
}

/// The end of a record date in Japan time, as an instant.
fn record_cutoff(day: Date) -> OffsetDateTime {
    let offset = time::UtcOffset::from_hms(super::engine::RULES_UTC_OFFSET_HOURS, 0, 0)
        .unwrap_or(time::UtcOffset::UTC);
    day.with_hms_micro(23, 59, 59, 999_999)
        .map(|t| t.assume_offset(offset))
        .unwrap_or_else(|_| day.midnight().assume_utc())
}

fn date(d: Date) -> String {
    crate::domain::wire::format_date(d)
}

fn may_see_holders(caller: &Caller, bond: &BondRow) -> AppResult<()> {
    if caller.role == Role::Issuer && caller.party_id == bond.issuer_id {
        return Ok(());
    }
    require_role(
        caller,
        &[Role::Operator, Role::Regulator],
        "a bond's holders are visible to its issuer, operators and regulators",
    )
}

fn may_see_party(caller: &Caller, party_id: &str) -> AppResult<()> {
    if caller.party_id == party_id {
        return Ok(());
    }
    require_role(
        caller,
        &[Role::Operator, Role::Regulator],
        "a party's positions and history are visible to itself, operators and regulators",
    )
}
