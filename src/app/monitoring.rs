//! Monitoring after issuance and certified labels: signed projects, allocation and impact
//! reports and external reviews on a bond's ledger; the label's standing on any read, its JWS,
//! its recorded history; investors' share of a bond's impact.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time};
use utoipa::ToSchema;

use super::engine::{
    Accepted, Action, Append, BondReplay, label_scheme_of, monitor_terms, rules_date,
};
use super::parties::require_role;
use super::tokens::field;
use super::{App, AppError, AppResult, Caller};
use crate::domain::error::FieldError;
use crate::domain::ids::Currency;
use crate::domain::label::{self, Standing, Status};
use crate::domain::monitor::{
    self, AllocationReportSpec, EngagementSpec, ImpactReportSpec, MonitorOp, MonitorTerms,
    ProjectSpec, ProjectStatusSpec, ReviewSpec, WithdrawalSpec,
};
use crate::domain::party::Role;
use crate::domain::scheme::{self, Scheme};
use crate::domain::wire::format_date;
use crate::ledger::entry::SignedRequest;
use crate::ledger::jws;
use crate::store::{BondFilter, BondRow};

/// How long a label JWS is valid at most; sooner if the status can change sooner.
pub const LABEL_VALIDITY_HOURS: i64 = 24;
/// Evaluations of one bond's label in a row when the ledger keeps moving under them.
const LABEL_REFRESH_ATTEMPTS: usize = 3;
/// Bonds evaluated per page by the background label watch and the label list.
const BONDS_PER_PAGE: u32 = 100;
/// Bonds listed by `GET /v1/labels` per page, by default and at most (each is evaluated from its
/// ledger at the read).
pub const LABELS_PAGE_DEFAULT: u32 = 50;
pub const LABELS_PAGE_MAX: u32 = 200;
/// Decimal places of pro-rated impact figures.
pub const IMPACT_DECIMALS: u32 = 6;

/// Every monitoring operation a signed payload may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum MonitoringType {
    #[serde(rename = "project.register")]
    RegisterProject,
    #[serde(rename = "project.update_status")]
    UpdateProjectStatus,
    #[serde(rename = "allocation.report")]
    ReportAllocation,
    #[serde(rename = "impact.report")]
    ReportImpact,
    #[serde(rename = "review.submit")]
    SubmitReview,
    #[serde(rename = "review.withdraw")]
    WithdrawReview,
    #[serde(rename = "review.engage")]
    EngageReviewer,
}

impl MonitoringType {
    fn member(self) -> &'static str {
        match self {
            MonitoringType::RegisterProject => "project",
            MonitoringType::UpdateProjectStatus => "project_status",
            MonitoringType::ReportAllocation => "allocation",
            MonitoringType::ReportImpact => "impact",
            MonitoringType::SubmitReview => "review",
            MonitoringType::WithdrawReview => "withdrawal",
            MonitoringType::EngageReviewer => "engagement",
        }
    }
    fn by_verifier(self) -> bool {
        matches!(
            self,
            MonitoringType::SubmitReview | MonitoringType::WithdrawReview
        )
    }
}

/// The payload of a signed monitoring operation: the envelope and exactly the member that its
/// `type` takes (docs/labels.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringPayload {
    #[serde(rename = "type")]
    pub kind: MonitoringType,
    pub kid: String,
    pub nonce: String,
    /// The bond; must match the URL.
    pub bond_id: String,
    #[serde(default)]
    pub project: Option<ProjectSpec>,
    #[serde(default)]
    pub project_status: Option<ProjectStatusSpec>,
    #[serde(default)]
    pub allocation: Option<AllocationReportSpec>,
    #[serde(default)]
    pub impact: Option<ImpactReportSpec>,
    #[serde(default)]
    pub review: Option<ReviewSpec>,
    #[serde(default)]
    pub withdrawal: Option<WithdrawalSpec>,
    #[serde(default)]
    pub engagement: Option<EngagementSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectView {
    pub project_id: String,
    /// `project`, or `portfolio` (an eligible portfolio reported as a whole).
    pub kind: String,
    pub name: String,
    pub category: String,
    pub sdg_targets: Vec<String>,
    pub country: String,
    pub location: String,
    pub total_cost: String,
    /// Percent of the cost that bonds may finance.
    pub financing_share: String,
    pub status: String,
    pub useful_life_years: String,
    /// Σ this bond has allocated to the project (reports in force).
    pub allocated: String,
    /// Of which new financing (spending on or after the issue date)…
    pub financing: String,
    /// …and refinancing (spending before it, within the framework's look-back).
    pub refinancing: String,
}

/// One line of an allocation report, as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AllocationLineView {
    pub project_id: String,
    /// In the bond's currency.
    pub amount: String,
    /// As published, in the report's currency, when it is not the bond's (`amount` is then
    /// converted at the report's exchange rate).
    pub published_amount: Option<String>,
    /// `financing` or `refinancing`.
    pub use_of_funds: String,
    pub expense: String,
    pub value_date: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AllocationReportView {
    pub entry_index: String,
    pub period_start: String,
    pub period_end: String,
    /// The day the issuer published it.
    pub published_on: String,
    /// The day it was recorded on the ledger.
    pub filed_on: String,
    pub amends: Option<String>,
    /// Whether this version is the one in force for its period (not amended since).
    pub in_force: bool,
    pub fully_allocated: bool,
    /// The report itself declared full allocation (within its rounding unit).
    pub declared_fully_allocated: bool,
    /// The unit its figures are published in (rounded), if any.
    pub rounding_unit: Option<String>,
    pub lines: Vec<AllocationLineView>,
    /// The unallocated balance as the report states it (in the bond's currency), and where it
    /// is placed meanwhile.
    pub unallocated: String,
    pub placement: String,
    /// The currency the report states its amounts in, when it is not the bond's, with the
    /// published unallocated balance and the rate (`{rate, on, source}`: report currency per
    /// unit of the bond's).
    pub stated_currency: Option<String>,
    pub published_unallocated: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub exchange_rate: Option<Value>,
}

/// Where the proceeds of a bond stand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AllocationView {
    pub bond_id: String,
    pub currency: String,
    /// Face value of the tokens issued.
    pub amount_raised: String,
    /// As the bond's terms declare them (0 if none).
    pub issuance_costs: String,
    /// Amount raised less issuance costs.
    pub net_proceeds: String,
    pub allocated: String,
    /// Of `allocated`: new financing…
    pub financing: String,
    /// …and refinancing.
    pub refinancing: String,
    /// How many years before issue the framework lets the proceeds refinance (`null`: none).
    pub look_back_years: Option<String>,
    /// Net proceeds less allocated, exactly.
    pub unallocated: String,
    /// Where the unallocated balance is placed meanwhile, as the latest report says.
    pub placement: Option<String>,
    pub fully_allocated: bool,
    /// When the proceeds are fully allocated within a report's rounding unit: what its rounded
    /// figures leave unaccounted for, exactly (0 when allocated to the yen).
    pub residual: Option<String>,
    pub projects: Vec<ProjectView>,
    pub reports: Vec<AllocationReportView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Figure {
    pub indicator: String,
    pub unit: String,
    pub value: String,
}

/// One figure of an impact report, as published and in the catalogue's unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImpactFigureView {
    /// The report (entry index) and its period.
    pub report: String,
    pub period_start: String,
    pub period_end: String,
    pub published_on: String,
    /// Whether the report is in force (not replaced by a correction).
    pub in_force: bool,
    pub projects: Vec<String>,
    pub indicator: String,
    /// Exactly as published.
    pub published_value: String,
    pub published_unit: String,
    /// In the canonical unit, converted exactly.
    pub value: String,
    pub unit: String,
    /// `ex_ante` or `ex_post`: the figure's own, else its report's.
    pub basis: String,
    /// `pro_rata` or `whole_project`.
    pub attribution: String,
    /// The bond's share of the figure (financed ÷ project cost, pro rata); `null` for a
    /// whole-project figure, which is shown as published.
    pub bond_share: Option<String>,
    pub methodology: String,
    pub baseline: String,
    /// `null`: the figure does not state its emission factor (recommended for GHG figures).
    #[schema(value_type = Option<Object>)]
    pub emission_factor: Option<Value>,
    pub target_population: Option<String>,
}

/// A bond's impact, pro-rated to the share of each project it financed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImpactView {
    pub bond_id: String,
    pub reports: Vec<String>,
    /// Every figure of every report, as published, per project (group).
    pub figures: Vec<ImpactFigureView>,
    pub total: Vec<Figure>,
    pub by_category: BTreeMap<String, Vec<Figure>>,
    /// Keyed by SDG goal number; a project serving two goals counts in both.
    pub by_sdg_goal: BTreeMap<String, Vec<Figure>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewView {
    pub review_id: String,
    pub entry_index: String,
    pub verifier: String,
    pub kind: String,
    pub conclusion: String,
    pub on: String,
    pub report_index: Option<String>,
    pub summary: String,
    pub withdrawn_on: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ObligationView {
    pub kind: String,
    /// The end of the reporting year a report is due on (`null` for a one-off obligation).
    pub year_end: Option<String>,
    pub due: String,
    /// The report (entry index) or review (id) that met it.
    pub met_by: Option<String>,
    /// When that report or review was published.
    pub met_on: Option<String>,
    /// When it was recorded on the ledger.
    pub met_recorded_on: Option<String>,
    /// It was recorded more than the scheme's `recording.late_after_days` after publication.
    pub recorded_late: bool,
    pub days_late: u32,
}

/// The scheme a label is awarded under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SchemeRef {
    pub id: String,
    pub version: u32,
    /// SHA-256 of the scheme file (`GET /v1/label-schemes/{id}`).
    pub sha256: String,
}

/// A bond's label under one scheme on a day: the standing computed from its ledger, and (for
/// today) the signed JWS of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LabelView {
    pub bond_id: String,
    pub scheme: SchemeRef,
    /// Every scheme the bond is labelled under (ask for another with `?scheme=`).
    pub schemes: Vec<String>,
    /// The day the standing is for (Japan): today unless `?on=` asked for another.
    pub on: String,
    pub status: String,
    pub since: String,
    pub next_change: Option<String>,
    pub obligations: Vec<ObligationView>,
    #[schema(value_type = Object)]
    pub evidence: Value,
    pub reasons: Vec<String>,
    /// Size of the bond's ledger that the evaluation read.
    pub checkpoint_size: String,
    /// Compact JWS (EdDSA) of the label today; verify with `/.well-known/jwks.json`. `null` for
    /// a standing on a past day (`?on=`): only today's standing is signed.
    pub jws: Option<String>,
}

/// One recorded label change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LabelChange {
    pub entry_index: String,
    /// The scheme id of the label that changed.
    pub scheme: String,
    pub time: String,
    pub previous: Option<String>,
    pub status: String,
    pub effective_on: String,
    pub reasons: Vec<String>,
}

/// One bond in the list of labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LabelSummary {
    pub bond_id: String,
    /// The scheme the status is under.
    pub scheme: String,
    pub name: String,
    pub kind: String,
    pub isin: Option<String>,
    pub status: String,
    pub since: String,
}

/// A page of bonds with their label status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LabelPage {
    pub items: Vec<LabelSummary>,
    /// Cursor for the next page (`after`), if there may be more.
    pub next: Option<String>,
}

/// What a label check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LabelCheck {
    /// The signature verifies with a published service key.
    pub signature_valid: bool,
    /// `exp` is in the past.
    pub expired: bool,
    pub kid: Option<String>,
    /// The token's claims, or `null` when it does not verify.
    #[schema(value_type = Option<Object>)]
    pub claims: Option<Value>,
    /// The bond's status now, re-evaluated from its ledger.
    pub current_status: Option<String>,
    /// The token's status is the bond's status now.
    pub current: bool,
    pub problem: Option<String>,
}

/// An investor's share of one bond's impact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvestorImpact {
    pub bond_id: String,
    pub bond_name: String,
    pub holding: String,
    pub issue_size: String,
    /// holding ÷ issue size × the bond's pro-rated impact.
    pub figures: Vec<Figure>,
}

fn prefixed(errors: Vec<FieldError>, member: &str) -> AppError {
    AppError::Validation(
        errors
            .into_iter()
            .map(|e| e.prefixed(&format!("/payload/{member}")))
            .collect(),
    )
}

fn figures(
    values: &BTreeMap<String, Decimal>,
    units: &BTreeMap<String, String>,
    factor: Decimal,
) -> Vec<Figure> {
    values
        .iter()
        .map(|(indicator, value)| Figure {
            indicator: indicator.clone(),
            unit: units.get(indicator).cloned().unwrap_or_default(),
            value: (value * factor)
                .round_dp(IMPACT_DECIMALS)
                .normalize()
                .to_string(),
        })
        .collect()
}

fn obligation_view(o: &label::Obligation, scheme: &Scheme) -> ObligationView {
    ObligationView {
        kind: o.kind.as_str().to_owned(),
        year_end: o.year_end.map(format_date),
        due: format_date(o.due),
        met_by: o.met.as_ref().map(|m| m.id.clone()),
        met_on: o.met.as_ref().map(|m| format_date(m.on)),
        met_recorded_on: o.met.as_ref().map(|m| format_date(m.recorded_on)),
        recorded_late: o
            .met
            .as_ref()
            .is_some_and(|m| recorded_late(m.on, m.recorded_on, scheme)),
        days_late: o.days_late,
    }
}

/// Whether a fact published on `published` and recorded on `recorded` was recorded late under
/// `scheme`.
fn recorded_late(published: Date, recorded: Date, scheme: &Scheme) -> bool {
    (recorded - published).whole_days() > i64::from(scheme.recording.late_after_days)
}

fn scheme_ref(scheme: &Scheme) -> SchemeRef {
    SchemeRef {
        id: scheme.id.clone(),
        version: scheme.version,
        sha256: scheme.sha256.clone(),
    }
}

fn evidence_json(s: &Standing) -> Value {
    let report = |r: &Option<label::ReportRef>| {
        r.as_ref().map(|r| {
            json!({ "entry_index": r.id, "period_start": format_date(r.period_start), "period_end": format_date(r.period_end), "published_on": format_date(r.published_on) })
        })
    };
    json!({
        "pre_issuance_review": s.evidence.pre_issuance_review,
        "allocation_report": report(&s.evidence.allocation_report),
        "verification": s.evidence.verification,
        "impact_report": report(&s.evidence.impact_report),
        "revoked_by": s.evidence.revoked_by,
    })
}

/// Midnight (Japan) starting `date`, as Unix seconds.
fn start_of_day_jst(date: Date) -> i64 {
    let offset = time::UtcOffset::from_hms(super::engine::RULES_UTC_OFFSET_HOURS, 0, 0)
        .unwrap_or(time::UtcOffset::UTC);
    date.with_time(Time::MIDNIGHT)
        .assume_offset(offset)
        .unix_timestamp()
}

impl App {
    /// Perform a signed monitoring operation on a bond.
    pub async fn monitor(
        &self,
        caller: &Caller,
        bond_id: &str,
        request: SignedRequest,
        allowed: &[MonitoringType],
    ) -> AppResult<Accepted> {
        let bond = self.bond_row(bond_id).await?;
        let expected = request
            .payload
            .get("type")
            .cloned()
            .and_then(|t| serde_json::from_value::<MonitoringType>(t).ok())
            .filter(|t| allowed.contains(t))
            .ok_or_else(|| {
                let names: Vec<String> = allowed
                    .iter()
                    .filter_map(|t| super::bonds::enum_str(t).ok())
                    .collect();
                AppError::Validation(vec![field(
                    "/type",
                    "wrong_operation",
                    format!(
                        "this endpoint takes a signed payload of type {}",
                        names.join(" or ")
                    ),
                )])
            })?;
        if expected.by_verifier() {
            require_role(
                caller,
                &[Role::Verifier],
                "reviews are signed by an external reviewer (a verifier party)",
            )?;
        } else {
            require_role(
                caller,
                &[Role::Issuer],
                "only the bond's issuer reports on it",
            )?;
            if bond.issuer_id != caller.party_id {
                return Err(AppError::Forbidden(
                    "this bond belongs to another issuer".into(),
                ));
            }
        }
        let type_name = super::bonds::enum_str(&expected)?;
        let verified = self.verify_signed(caller, request, &type_name).await?;
        let payload: MonitoringPayload = serde_json::from_value(verified.request.payload.clone())
            .map_err(|e| {
            AppError::Validation(vec![field("", "payload_invalid", e.to_string())])
        })?;
        let mut errors = Vec::new();
        if payload.bond_id != bond.id {
            errors.push(field(
                "/bond_id",
                "bond_mismatch",
                "the signed bond_id differs from the bond in the URL",
            ));
        }
        let present = [
            ("project", payload.project.is_some()),
            ("project_status", payload.project_status.is_some()),
            ("allocation", payload.allocation.is_some()),
            ("impact", payload.impact.is_some()),
            ("review", payload.review.is_some()),
            ("withdrawal", payload.withdrawal.is_some()),
            ("engagement", payload.engagement.is_some()),
        ];
        for (name, is) in present {
            if is && name != expected.member() {
                errors.push(field(
                    &format!("/{name}"),
                    "not_allowed_for_type",
                    format!("`{name}` is not part of a {type_name} payload"),
                ));
            }
            if !is && name == expected.member() {
                errors.push(field(
                    &format!("/{name}"),
                    "required",
                    format!("a {type_name} payload carries `{name}`"),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let currency = Currency::parse(&bond.currency)
            .map_err(|_| AppError::Internal("stored currency".into()))?;
        let member = expected.member();
        let op = match expected {
            MonitoringType::RegisterProject => payload
                .project
                .as_ref()
                .map(|p| p.validate(currency).map(MonitorOp::RegisterProject)),
            MonitoringType::UpdateProjectStatus => {
                payload.project_status.as_ref().map(|p| p.validate())
            }
            MonitoringType::ReportAllocation => payload
                .allocation
                .as_ref()
                .map(|p| p.validate(currency).map(MonitorOp::ReportAllocation)),
            MonitoringType::ReportImpact => payload
                .impact
                .as_ref()
                .map(|p| p.validate().map(MonitorOp::ReportImpact)),
            MonitoringType::SubmitReview => payload
                .review
                .as_ref()
                .map(|p| p.validate().map(MonitorOp::Review)),
            MonitoringType::WithdrawReview => payload.withdrawal.as_ref().map(|p| p.validate()),
            MonitoringType::EngageReviewer => payload.engagement.as_ref().map(|p| p.validate()),
        }
        .ok_or_else(|| AppError::Internal("member checked above".into()))?
        .map_err(|e| prefixed(e, member))?;
        let mut op = op;
        self.check_publication(&bond, &mut op, member)?;
        if let MonitorOp::Engage { verifier } = &op {
            let is_verifier = self
                .store
                .party(verifier)
                .await
                .is_ok_and(|p| p.role == Role::Verifier.as_str());
            if !is_verifier {
                return Err(AppError::Validation(vec![field(
                    "/engagement/verifier",
                    "not_a_verifier",
                    "name a party whose role is verifier",
                )]));
            }
        }
        let append = Append {
            actor: verified.actor,
            request: verified.request,
            nonce: verified.nonce,
            operation_id: None,
            action: Action::Monitor { op },
        };
        let accepted = self.engine().append(bond.ledger_id.clone(), append).await?;
        // The label follows from the new fact at once (the watch would record it later too).
        if let Err(e) = self.refresh_label(&bond.id).await {
            tracing::warn!(bond = %bond.id, error = %e, "label refresh after a monitoring entry");
        }
        Ok(accepted)
    }

    /// A report or review says when it was published (the day it is recorded if it does not
    /// say); one recorded more than the bond's schemes allow after that (the strictest
    /// `recording.late_after_days`) cites its published document, so nobody can quietly backdate
    /// a fact to cure a missed deadline.
    fn check_publication(&self, bond: &BondRow, op: &mut MonitorOp, member: &str) -> AppResult<()> {
        let today = self.rules_today();
        let published = match op {
            MonitorOp::ReportAllocation(r) => &mut r.published,
            MonitorOp::ReportImpact(r) => &mut r.published,
            MonitorOp::Review(r) => &mut r.published,
            _ => return Ok(()),
        };
        let published = published.get_or_insert_with(|| monitor::Published {
            on: today,
            document: None,
        });
        let terms = monitor_terms(&bond.spec)?;
        let registered = self.registered_on(bond);
        let allowed = terms
            .label_schemes
            .iter()
            .filter_map(|id| scheme::for_bond(id, registered))
            .map(|s| s.recording.late_after_days)
            .min()
            .unwrap_or(0);
        let after = (today - published.on).whole_days();
        if after > i64::from(allowed) && published.document.is_none() {
            return Err(AppError::Validation(vec![field(
                &format!("/{member}/published_document"),
                "required_when_recorded_late",
                format!(
                    "published on {} and recorded {after} days later, more than the {allowed} days the bond's label schemes allow: cite the published document ({{uri, sha256}}); the fact is shown as recorded late",
                    format_date(published.on)
                ),
            )]));
        }
        Ok(())
    }

    /// A bond's monitoring, labels and totals at its head, from its maintained state (its
    /// facts, not its whole ledger), and the ledger's size. The book carries no positions.
    async fn bond_replay(&self, bond: &BondRow) -> AppResult<(Arc<super::state::Loaded>, u64)> {
        self.bond_facts(bond).await
    }

    fn rules_today(&self) -> Date {
        rules_date(self.clock.now())
    }

    pub async fn projects(&self, bond_id: &str) -> AppResult<Vec<ProjectView>> {
        let bond = self.bond_row(bond_id).await?;
        let (r, _) = self.bond_replay(&bond).await?;
        Ok(project_views(&r))
    }

    pub async fn allocation(&self, bond_id: &str) -> AppResult<AllocationView> {
        let bond = self.bond_row(bond_id).await?;
        let (r, _) = self.bond_replay(&bond).await?;
        let terms = r.monitor.terms();
        let raised = terms.amount_raised(r.book.issued());
        let net = terms.net_proceeds(r.book.issued());
        let allocated = r.monitor.allocated();
        let (financing, refinancing) = r
            .monitor
            .allocated_by_use()
            .into_iter()
            .fold((Decimal::ZERO, Decimal::ZERO), |(f, rf), (_, (a, b))| {
                (f + a, rf + b)
            });
        let in_force: Vec<u64> = r.monitor.reports_in_force().map(|a| a.index).collect();
        let full = r
            .monitor
            .allocation_reports()
            .iter()
            .filter(|a| in_force.contains(&a.index))
            .find(|a| a.fully_allocated);
        let latest = r.monitor.allocation_reports().last();
        let d = |x: Decimal| x.normalize().to_string();
        Ok(AllocationView {
            bond_id: bond.id,
            currency: bond.currency,
            amount_raised: d(raised),
            issuance_costs: d(terms.issuance_costs),
            net_proceeds: d(net),
            allocated: d(allocated),
            financing: d(financing),
            refinancing: d(refinancing),
            look_back_years: terms.look_back_years.map(|y| y.to_string()),
            unallocated: d(net - allocated),
            placement: latest.map(|a| a.report.placement.clone()),
            fully_allocated: full.is_some(),
            residual: full
                .filter(|a| a.report.rounding_unit.is_some())
                .map(|_| d(net - allocated)),
            projects: project_views(&r),
            reports: r
                .monitor
                .allocation_reports()
                .iter()
                .map(|a| AllocationReportView {
                    entry_index: a.index.to_string(),
                    period_start: format_date(a.report.period_start),
                    period_end: format_date(a.report.period_end),
                    published_on: format_date(a.report.published.as_ref().map_or(a.on, |p| p.on)),
                    filed_on: format_date(a.on),
                    amends: a.report.amends.map(|x| x.to_string()),
                    in_force: in_force.contains(&a.index),
                    fully_allocated: a.fully_allocated,
                    declared_fully_allocated: a.report.declared_fully_allocated,
                    rounding_unit: a.report.rounding_unit.map(d),
                    lines: a
                        .report
                        .lines
                        .iter()
                        .map(|l| AllocationLineView {
                            project_id: l.project.clone(),
                            amount: d(l.amount),
                            published_amount: l.published_amount.map(d),
                            use_of_funds: l.use_of_funds.as_str().to_owned(),
                            expense: l.expense.as_str().to_owned(),
                            value_date: format_date(l.value_date),
                        })
                        .collect(),
                    unallocated: d(a.report.unallocated),
                    placement: a.report.placement.clone(),
                    stated_currency: a
                        .report
                        .foreign
                        .as_ref()
                        .map(|f| f.currency.as_str().to_owned()),
                    published_unallocated: a.report.foreign.as_ref().map(|f| d(f.unallocated)),
                    exchange_rate: a.report.foreign.as_ref().map(|f| {
                        json!({ "rate": d(f.rate), "on": format_date(f.rate_on), "source": f.rate_source })
                    }),
                })
                .collect(),
        })
    }

    pub async fn impact(&self, bond_id: &str) -> AppResult<ImpactView> {
        let bond = self.bond_row(bond_id).await?;
        let (r, _) = self.bond_replay(&bond).await?;
        let totals = r.monitor.impact();
        let units = &totals.units;
        Ok(ImpactView {
            bond_id: bond.id,
            reports: r
                .monitor
                .impact_reports()
                .iter()
                .map(|i| i.index.to_string())
                .collect(),
            figures: impact_figure_views(&r),
            total: figures(&totals.by_indicator, units, Decimal::ONE),
            by_category: totals
                .by_category
                .iter()
                .map(|(k, v)| (k.clone(), figures(v, units, Decimal::ONE)))
                .collect(),
            by_sdg_goal: totals
                .by_sdg_goal
                .iter()
                .map(|(k, v)| (k.to_string(), figures(v, units, Decimal::ONE)))
                .collect(),
        })
    }

    pub async fn reviews(&self, bond_id: &str) -> AppResult<Vec<ReviewView>> {
        let bond = self.bond_row(bond_id).await?;
        let (r, _) = self.bond_replay(&bond).await?;
        let mut out: Vec<ReviewView> = r
            .monitor
            .reviews()
            .values()
            .map(|x| ReviewView {
                review_id: x.review.id.clone(),
                entry_index: x.index.to_string(),
                verifier: x.verifier.clone(),
                kind: x.review.scope.as_str().to_owned(),
                conclusion: x.review.conclusion.as_str().to_owned(),
                on: format_date(x.on),
                report_index: x.review.report_index.map(|i| i.to_string()),
                summary: x.review.summary.clone(),
                withdrawn_on: x.withdrawn_on.map(format_date),
            })
            .collect();
        out.sort_by_key(|r| r.entry_index.parse::<u64>().unwrap_or(0));
        Ok(out)
    }

    /// The label schemes of a bond, each at the version in effect when it was registered.
    fn bond_schemes(
        &self,
        bond: &BondRow,
        terms: &MonitorTerms,
    ) -> AppResult<Vec<&'static Scheme>> {
        let registered = self.registered_on(bond);
        terms
            .label_schemes
            .iter()
            .map(|id| {
                scheme::for_bond(id, registered)
                    .ok_or_else(|| AppError::Internal(format!("label scheme {id} is not shipped")))
            })
            .collect()
    }

    /// The day (Japan) the bond was registered.
    fn registered_on(&self, bond: &BondRow) -> Date {
        OffsetDateTime::parse(&bond.created_at, &Rfc3339)
            .map(rules_date)
            .unwrap_or_else(|_| self.rules_today())
    }

    /// The scheme `requested` among the bond's, or its first.
    fn bond_scheme(
        &self,
        bond: &BondRow,
        terms: &MonitorTerms,
        requested: Option<&str>,
    ) -> AppResult<&'static Scheme> {
        let schemes = self.bond_schemes(bond, terms)?;
        match requested {
            None => schemes
                .first()
                .copied()
                .ok_or_else(|| AppError::Internal("a bond has at least one scheme".into())),
            Some(id) => {
                if scheme::latest(id).is_none() {
                    return Err(AppError::BadRequest(format!(
                        "scheme {id:?} is not a label scheme (GET /v1/label-schemes lists them)"
                    )));
                }
                schemes.into_iter().find(|s| s.id == id).ok_or_else(|| {
                    AppError::NotFound(format!(
                        "bond {} is not labelled under scheme {id}",
                        bond.id
                    ))
                })
            }
        }
    }

    /// The label's standing under one scheme (the bond's first if `scheme` is `None`) on `on`
    /// (today if `None`; after today, as it will be if no new fact is recorded), computed from
    /// the ledger at this read; signed as a JWS for today only.
    pub async fn label(
        &self,
        bond_id: &str,
        on: Option<Date>,
        scheme: Option<&str>,
    ) -> AppResult<LabelView> {
        let bond = self.bond_row(bond_id).await?;
        let (r, size) = self.bond_replay(&bond).await?;
        let scheme = self.bond_scheme(&bond, r.monitor.terms(), scheme)?;
        let facts = r.monitor.facts(r.redeemed_on);
        let today = self.rules_today();
        // A day after today: the standing then if no new fact is recorded (every fact known is
        // published by today).
        let day = on.unwrap_or(today);
        let standing = label::evaluate(&facts, day, &scheme.rules());
        let evidence = evidence_json(&standing);
        let jws = if day == today {
            let now = self.clock.now();
            let iat = now.unix_timestamp();
            let cap = iat + LABEL_VALIDITY_HOURS * 3600;
            let exp = standing
                .next_change
                .map(|d| start_of_day_jst(d).min(cap))
                .unwrap_or(cap)
                .max(iat + 1);
            let claims = json!({
                "iss": self.origin(),
                "sub": bond.id,
                "iat": iat,
                "exp": exp,
                "label": {
                    "status": standing.status.as_str(),
                    "since": format_date(standing.since),
                    "scheme": scheme_ref(scheme),
                    "bond": { "id": bond.id, "name": bond.name, "kind": bond.kind, "isin": bond.isin },
                    "evidence": evidence,
                    "checkpoint_size": size.to_string(),
                    "ledger": format!("{}/bonds/{}", self.origin(), bond.id),
                    "next_change": standing.next_change.map(format_date),
                },
            });
            Some(jws::sign(&claims, self.signer())?)
        } else {
            None
        };
        Ok(LabelView {
            bond_id: bond.id,
            scheme: scheme_ref(scheme),
            schemes: r.monitor.terms().label_schemes.clone(),
            on: format_date(day),
            status: standing.status.as_str().to_owned(),
            since: format_date(standing.since),
            next_change: standing.next_change.map(format_date),
            obligations: standing
                .obligations
                .iter()
                .map(|o| obligation_view(o, scheme))
                .collect(),
            evidence,
            reasons: standing.reasons.clone(),
            checkpoint_size: size.to_string(),
            jws,
        })
    }

    /// The label changes recorded on the bond's ledger, of one scheme or all.
    pub async fn label_history(
        &self,
        bond_id: &str,
        scheme: Option<&str>,
    ) -> AppResult<Vec<LabelChange>> {
        let bond = self.bond_row(bond_id).await?;
        // Label changes are facts of the bond.
        let (loaded, _) = self.bond_facts(&bond).await?;
        let entries = &loaded.facts;
        if let Some(id) = scheme {
            self.bond_scheme(&bond, &monitor_terms(&bond.spec)?, Some(id))?;
        }
        Ok(entries
            .iter()
            .filter(|e| e.kind == "label.changed")
            .filter(|e| scheme.is_none_or(|id| label_scheme_of(&e.data) == id))
            .map(|e| {
                let text = |k: &str| e.data.get(k).and_then(Value::as_str).map(str::to_owned);
                LabelChange {
                    entry_index: e.index.clone(),
                    scheme: label_scheme_of(&e.data).to_owned(),
                    time: e.time.clone(),
                    previous: text("previous"),
                    status: text("status").unwrap_or_default(),
                    effective_on: text("effective_on").unwrap_or_default(),
                    reasons: e
                        .data
                        .get("reasons")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Record on the bond's ledger every label change since the last recorded one, each with
    /// the date it took effect, under every scheme of the bond. Returns how many were recorded.
    pub async fn refresh_label(&self, bond_id: &str) -> AppResult<usize> {
        // An entry appended between reading the ledger and recording a change makes the engine
        // refuse the change (it rests on facts that are no longer the latest): read again.
        let mut recorded = 0;
        for _ in 0..LABEL_REFRESH_ATTEMPTS {
            match self.refresh_label_once(bond_id).await? {
                (n, true) => return Ok(recorded + n),
                (n, false) => recorded += n,
            }
        }
        Ok(recorded)
    }

    /// One evaluation: the changes recorded, and whether it ran to the end.
    ///
    /// A change takes effect on the day the evaluation says, but never before the last recorded
    /// change of the same label: a fact published long before it was recorded (a bond brought on
    /// after issue) changes the label from the day it is recorded, and `?on=` gives the standing
    /// as it was on any earlier day.
    async fn refresh_label_once(&self, bond_id: &str) -> AppResult<(usize, bool)> {
        let bond = self.bond_row(bond_id).await?;
        let (r, size) = self.bond_replay(&bond).await?;
        let facts = r.monitor.facts(r.redeemed_on);
        let today = self.rules_today();
        let registered = self.registered_on(&bond);
        let mut recorded = 0;
        for scheme in self.bond_schemes(&bond, r.monitor.terms())? {
            let rules = scheme.rules();
            let last = r.labels.get(&scheme.id);
            let from = last
                .and_then(|(_, since)| crate::domain::wire::parse_date(since).ok())
                .unwrap_or(registered)
                .min(today);
            let mut current = last.map(|(status, _)| status.clone());
            let mut changes: Vec<(Date, Status)> = Vec::new();
            let first = label::evaluate(&facts, from, &rules).status;
            if current.as_deref() != Some(first.as_str()) {
                changes.push((from, first));
            }
            changes.extend(label::history(&facts, from, today, &rules));
            for (on, status) in changes {
                if current.as_deref() == Some(status.as_str()) {
                    continue;
                }
                let standing = label::evaluate(&facts, on, &rules);
                let data = json!({
                    "scheme": scheme_ref(scheme),
                    "status": status.as_str(),
                    "previous": current,
                    "effective_on": format_date(on),
                    "reasons": standing.reasons,
                    "evidence": evidence_json(&standing),
                });
                match self
                    .engine()
                    .record_label(
                        bond.ledger_id.clone(),
                        current.clone(),
                        size + recorded as u64,
                        data,
                    )
                    .await
                {
                    Ok(_) => recorded += 1,
                    // The ledger moved on (a new fact, or another evaluation): start again.
                    Err(AppError::Conflict(_)) => return Ok((recorded, false)),
                    Err(e) => return Err(e),
                }
                current = Some(status.as_str().to_owned());
            }
        }
        Ok((recorded, true))
    }

    /// Refresh every bond's label (the background watch; also `midori` operators' tool).
    pub async fn refresh_all_labels(&self) -> AppResult<usize> {
        let mut after: Option<String> = None;
        let mut recorded = 0;
        loop {
            let rows = self
                .store
                .bonds(&BondFilter::default(), after.as_deref(), BONDS_PER_PAGE)
                .await?;
            for row in &rows {
                match self.refresh_label(&row.id).await {
                    Ok(n) => recorded += n,
                    Err(e) => tracing::warn!(bond = %row.id, error = %e, "label refresh"),
                }
            }
            match rows.last() {
                Some(last) if rows.len() == BONDS_PER_PAGE as usize => {
                    after = Some(last.id.clone())
                }
                _ => return Ok(recorded),
            }
        }
    }

    /// Evaluate deadlines in the background, recording each label change as a ledger entry.
    pub fn spawn_label_watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(app) = app.upgrade() else { return };
                match app.refresh_all_labels().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(changes = n, "label changes recorded"),
                    Err(e) => tracing::warn!(error = %e, "label watch"),
                }
            }
        })
    }

    /// Bonds with their label status now, filtered like the bond list plus by status.
    pub async fn labels(
        &self,
        filter: &BondFilter,
        scheme: Option<&str>,
        status: Option<&str>,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> AppResult<LabelPage> {
        if let Some(s) = status {
            Status::parse(s).map_err(|e| AppError::BadRequest(e.to_string()))?;
        }
        if let Some(id) = scheme
            && scheme::latest(id).is_none()
        {
            return Err(AppError::BadRequest(format!(
                "scheme {id:?} is not a label scheme (GET /v1/label-schemes lists them)"
            )));
        }
        let after = super::parties::page_cursor(after)?;
        let limit =
            super::parties::page_limit(limit, LABELS_PAGE_DEFAULT, LABELS_PAGE_MAX)? as usize;
        let today = self.rules_today();
        let mut out = Vec::new();
        let mut after: Option<String> = after.map(str::to_owned);
        loop {
            let rows = self
                .store
                .bonds(filter, after.as_deref(), BONDS_PER_PAGE)
                .await?;
            for row in &rows {
                if out.len() == limit {
                    // A full page: the next one starts after the last bond listed.
                    let next = out.last().map(|l: &LabelSummary| l.bond_id.clone());
                    return Ok(LabelPage { items: out, next });
                }
                let (r, _) = self.bond_replay(row).await?;
                // A bond not labelled under the scheme asked for is not listed.
                let label_scheme = match self.bond_scheme(row, r.monitor.terms(), scheme) {
                    Ok(s) => s,
                    Err(AppError::NotFound(_)) => continue,
                    Err(e) => return Err(e),
                };
                let standing = label::evaluate(
                    &r.monitor.facts(r.redeemed_on),
                    today,
                    &label_scheme.rules(),
                );
                if status.is_some_and(|s| s != standing.status.as_str()) {
                    continue;
                }
                out.push(LabelSummary {
                    bond_id: row.id.clone(),
                    scheme: label_scheme.id.clone(),
                    name: row.name.clone(),
                    kind: row.kind.clone(),
                    isin: row.isin.clone(),
                    status: standing.status.as_str().to_owned(),
                    since: format_date(standing.since),
                });
            }
            match rows.last() {
                Some(last) if rows.len() == BONDS_PER_PAGE as usize => {
                    after = Some(last.id.clone())
                }
                _ => {
                    return Ok(LabelPage {
                        items: out,
                        next: None,
                    });
                }
            }
        }
    }

    /// Check a label JWS: signature against the published service keys, expiry, and whether
    /// its status is still the bond's status.
    pub async fn verify_label(&self, token: &str) -> AppResult<LabelCheck> {
        let keys = self
            .service_keys()
            .await?
            .into_iter()
            .map(|k| Ok((k.kid, k.jwk.to_key()?)))
            .collect::<AppResult<Vec<_>>>()?;
        let (kid, claims) = match jws::verify(token.trim(), &keys) {
            Ok(x) => x,
            Err(e) => {
                return Ok(LabelCheck {
                    signature_valid: false,
                    expired: false,
                    kid: None,
                    claims: None,
                    current_status: None,
                    current: false,
                    problem: Some(e.to_string()),
                });
            }
        };
        let now = self.clock.now().unix_timestamp();
        let expired = claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|exp| exp <= now);
        let token_status = claims
            .pointer("/label/status")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let bond_id = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let current_status = match self.bond_row(bond_id).await {
            Ok(bond) => {
                let (r, _) = self.bond_replay(&bond).await?;
                let facts = r.monitor.facts(r.redeemed_on);
                let requested = claims.pointer("/label/scheme/id").and_then(Value::as_str);
                match self.bond_scheme(&bond, r.monitor.terms(), requested) {
                    Ok(scheme) => Some(
                        label::evaluate(&facts, self.rules_today(), &scheme.rules())
                            .status
                            .as_str()
                            .to_owned(),
                    ),
                    Err(AppError::NotFound(_) | AppError::BadRequest(_)) => None,
                    Err(e) => return Err(e),
                }
            }
            Err(_) => None,
        };
        let current = current_status.is_some() && current_status == token_status && !expired;
        Ok(LabelCheck {
            signature_valid: true,
            expired,
            kid: Some(kid),
            claims: Some(claims),
            current_status,
            current,
            problem: None,
        })
    }

    /// An investor's share of the impact of every bond it holds (itself, or a regulator).
    pub async fn party_impact(
        &self,
        caller: &Caller,
        party_id: &str,
    ) -> AppResult<Vec<InvestorImpact>> {
        let positions = self.positions(caller, party_id).await?;
        let mut out = Vec::new();
        for p in positions {
            let bond = self.bond_row(&p.bond_id).await?;
            let (r, _) = self.bond_replay(&bond).await?;
            let issue_size = r.book.terms().issue_size;
            let holding: u64 = p.holding.balance.parse().unwrap_or(0);
            if issue_size == 0 || holding == 0 {
                continue;
            }
            let factor = Decimal::from(holding) / Decimal::from(issue_size);
            let totals = r.monitor.impact();
            // An issuer's own indicators are never added up across bonds.
            let comparable: BTreeMap<String, Decimal> = totals
                .by_indicator
                .iter()
                .filter(|(id, _)| !crate::domain::indicators::is_issuer_defined(id))
                .map(|(id, v)| (id.clone(), *v))
                .collect();
            out.push(InvestorImpact {
                bond_id: bond.id,
                bond_name: bond.name,
                holding: holding.to_string(),
                issue_size: issue_size.to_string(),
                figures: figures(&comparable, &totals.units, factor),
            });
        }
        Ok(out)
    }
}

/// Every figure of every impact report, as published, with the bond's share where it is pro
/// rata.
fn impact_figure_views(r: &BondReplay) -> Vec<ImpactFigureView> {
    let allocated = r.monitor.allocated_by_project();
    let in_force: Vec<u64> = r.monitor.impacts_in_force().map(|i| i.index).collect();
    let mut out = Vec::new();
    for report in r.monitor.impact_reports() {
        for f in &report.report.figures {
            let share = r.monitor.share_of(f, &allocated).map(|share| {
                (f.value * share)
                    .round_dp(IMPACT_DECIMALS)
                    .normalize()
                    .to_string()
            });
            out.push(ImpactFigureView {
                report: report.index.to_string(),
                period_start: format_date(report.report.period_start),
                period_end: format_date(report.report.period_end),
                published_on: format_date(
                    report.report.published.as_ref().map_or(report.on, |p| p.on),
                ),
                in_force: in_force.contains(&report.index),
                projects: f.projects.clone(),
                indicator: f.indicator.clone(),
                published_value: f.published_value.clone(),
                published_unit: f.published_unit.clone(),
                value: f.value.to_string(),
                unit: f.unit.clone(),
                basis: f.basis.unwrap_or(report.report.basis).as_str().to_owned(),
                attribution: f
                    .attribution
                    .unwrap_or(monitor::Attribution::ProRata)
                    .as_str()
                    .to_owned(),
                bond_share: share,
                methodology: f.methodology.clone(),
                baseline: f.baseline.clone(),
                emission_factor: f.emission_factor.as_ref().map(|(value, unit, source)| {
                    json!({ "value": value.normalize().to_string(), "unit": unit, "source": source })
                }),
                target_population: f.target_population.clone(),
            });
        }
    }
    out
}

fn project_views(r: &BondReplay) -> Vec<ProjectView> {
    let allocated = r.monitor.allocated_by_project();
    let by_use = r.monitor.allocated_by_use();
    r.monitor
        .projects()
        .values()
        .map(|p| ProjectView {
            project_id: p.id.clone(),
            kind: p
                .kind
                .unwrap_or(monitor::ProjectKind::Project)
                .as_str()
                .to_owned(),
            name: p.name.clone(),
            category: p.category_path(),
            sdg_targets: p.sdg_targets.iter().map(|t| t.to_string()).collect(),
            country: p.country.as_str().to_owned(),
            location: p.location.clone(),
            total_cost: p.total_cost.normalize().to_string(),
            financing_share: (p.financing_share * Decimal::ONE_HUNDRED)
                .normalize()
                .to_string(),
            status: p.status.as_str().to_owned(),
            useful_life_years: p.useful_life_years.to_string(),
            allocated: allocated
                .get(&p.id)
                .copied()
                .unwrap_or_default()
                .normalize()
                .to_string(),
            financing: by_use
                .get(&p.id)
                .map_or(Decimal::ZERO, |u| u.0)
                .normalize()
                .to_string(),
            refinancing: by_use
                .get(&p.id)
                .map_or(Decimal::ZERO, |u| u.1)
                .normalize()
                .to_string(),
        })
        .collect()
}
