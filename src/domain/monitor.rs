//! Monitoring after issuance: eligible projects, allocation of proceeds, impact, external reviews.
//!
//! Pure: a [`Monitor`] is the monitoring state of one bond, built by applying its ledger's
//! monitoring entries in order. [`Monitor::check`] lists every rule an operation breaks (nothing
//! is written when the list is not empty); [`Monitor::apply`] records an accepted operation and
//! returns the entry's type and data. Replaying those entries with [`Monitor::apply_recorded`]
//! rebuilds the same state: the ledger is the only source of truth.
//!
//! Sources (see docs/labels.md): ICMA Green Bond Principles (2021) and Harmonised Framework for
//! Impact Reporting (2024); Japan Ministry of the Environment Green Bond Guidelines (2022);
//! EU Green Bond Standard, Regulation (EU) 2023/2631, Arts. 11–12.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::Date;
use utoipa::ToSchema;

use super::bond::{BondKind, BondTerms, Category, SdgTarget};
use super::book::Violation;
use super::error::{FieldError, FieldErrors};
use super::ids::{Country, Currency};
use super::label::{self, Conclusion, ReportFact, ReviewFact, ReviewKind};
use super::money::Amount;
use super::text::parse_text;
use super::wire::{format_date, parse_date};

/// Longest id a client chooses for a project or a review.
pub const ID_CHARS_MAX: usize = 64;
/// Longest free text (names, methodology, placement, summaries).
pub const TEXT_CHARS_MAX: usize = 2_000;
/// Most lines in one allocation report, figures in one impact report, projects in one figure.
pub const LINES_MAX: usize = 500;
/// Longest reporting period: twelve months (ICMA GBP "annually"; EU GBS Art. 11).
pub const PERIOD_MONTHS_MAX: u32 = 12;
/// Longest useful life of a project, in years.
pub const USEFUL_LIFE_YEARS_MAX: u32 = 100;

crate::domain::wire::wire_enum! {
    /// Where a project stands.
    pub enum ProjectStatus ("project status") {
        Planned = "planned",
        Building = "building",
        Operating = "operating",
        Divested = "divested",
    }
}

crate::domain::wire::wire_enum! {
    /// ICMA: each allocation says whether it finances new spending or refinances past spending.
    pub enum UseOfFunds ("use of funds") {
        Financing = "financing",
        Refinancing = "refinancing",
    }
}

crate::domain::wire::wire_enum! {
    /// Capital or operating expenditure (the look-back of refinancing differs in practice).
    pub enum Expense ("expense kind") {
        Capex = "capex",
        Opex = "opex",
    }
}

crate::domain::wire::wire_enum! {
    /// Ex-ante (expected) or ex-post (measured) figures (ICMA Harmonised Framework).
    pub enum Basis ("basis") {
        ExAnte = "ex_ante",
        ExPost = "ex_post",
    }
}

crate::domain::wire::wire_enum! {
    /// What an external review covers.
    pub enum ReviewScope ("review kind") {
        /// Second-party opinion on the framework, before issuance.
        PreIssuance = "pre_issuance",
        /// Verification of the allocation of proceeds, after issuance.
        Allocation = "allocation",
        /// Verification of an impact report.
        Impact = "impact",
        /// Verification of a sustainability-linked bond's KPI against its SPT.
        Kpi = "kpi",
    }
}

crate::domain::wire::wire_enum! {
    /// A reviewer's conclusion. `negative` on allocation means misallocation or ineligible use.
    pub enum ReviewConclusion ("conclusion") {
        Positive = "positive",
        Negative = "negative",
    }
}

/// A core indicator of the ICMA Harmonised Framework for Impact Reporting, with its unit.
pub struct Indicator {
    pub id: &'static str,
    pub unit: &'static str,
    pub description: &'static str,
    /// GHG figures must state the emission factor they were computed with.
    pub needs_emission_factor: bool,
    /// Social figures must name the target population.
    pub needs_target_population: bool,
}

/// The built-in indicator catalogue (ICMA Harmonised Framework core indicators).
pub const INDICATORS: &[Indicator] = &[
    Indicator {
        id: "ghg_avoided",
        unit: "tCO2e/yr",
        description: "annual GHG emissions reduced or avoided",
        needs_emission_factor: true,
        needs_target_population: false,
    },
    Indicator {
        id: "renewable_generation",
        unit: "MWh/yr",
        description: "annual renewable energy generation",
        needs_emission_factor: false,
        needs_target_population: false,
    },
    Indicator {
        id: "renewable_capacity",
        unit: "MW",
        description: "capacity of renewable energy plants constructed or rehabilitated",
        needs_emission_factor: false,
        needs_target_population: false,
    },
    Indicator {
        id: "energy_savings",
        unit: "MWh/yr",
        description: "annual energy savings",
        needs_emission_factor: false,
        needs_target_population: false,
    },
    Indicator {
        id: "energy_intensity",
        unit: "kWh/m2/yr",
        description: "energy use intensity of buildings",
        needs_emission_factor: false,
        needs_target_population: false,
    },
    Indicator {
        id: "water_saved",
        unit: "m3/yr",
        description: "annual absolute water savings",
        needs_emission_factor: false,
        needs_target_population: false,
    },
    Indicator {
        id: "water_treated",
        unit: "m3/yr",
        description: "annual volume of wastewater treated or reused",
        needs_emission_factor: false,
        needs_target_population: false,
    },
    Indicator {
        id: "waste_recycled",
        unit: "t/yr",
        description: "annual waste prevented, reused or recycled",
        needs_emission_factor: false,
        needs_target_population: false,
    },
    Indicator {
        id: "area_protected",
        unit: "ha",
        description: "area of land protected or restored",
        needs_emission_factor: false,
        needs_target_population: false,
    },
    Indicator {
        id: "beneficiaries",
        unit: "people",
        description: "number of beneficiaries in the target population",
        needs_emission_factor: false,
        needs_target_population: true,
    },
    Indicator {
        id: "units_delivered",
        unit: "units",
        description: "units delivered (e.g. affordable homes, school places)",
        needs_emission_factor: false,
        needs_target_population: true,
    },
];

/// The catalogue entry for `id`.
pub fn indicator(id: &str) -> Option<&'static Indicator> {
    INDICATORS.iter().find(|i| i.id == id)
}

// ---------------------------------------------------------------------------------------------
// Wire forms: what an issuer or verifier signs. Amounts, ids and dates are strings.

/// An eligible project, as registered by the issuer on a bond's ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    /// Issuer-chosen id, the same on every bond that finances the project.
    pub project_id: String,
    pub name: String,
    /// One of the bond framework's categories.
    pub category: String,
    /// UN SDG targets (`"7.2"`); at least one on an SDG bond.
    #[serde(default)]
    pub sdg_targets: Vec<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub location: String,
    /// Total cost in the bond's currency.
    pub total_cost: String,
    /// Percent of the total cost that bonds may finance (e.g. `"60"`); the rest is other money.
    pub financing_share: String,
    pub status: String,
    pub useful_life_years: String,
}

/// A status change of a registered project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectStatusSpec {
    pub project_id: String,
    pub status: String,
    /// Why (a material change such as a sale must be reported promptly).
    pub reason: String,
}

/// One line of an allocation report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationLineSpec {
    pub project_id: String,
    pub amount: String,
    /// `financing` or `refinancing`.
    pub use_of_funds: String,
    /// `capex` or `opex`.
    pub expense: String,
    pub value_date: String,
}

/// The proceeds not yet allocated, and where they are placed meanwhile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnallocatedSpec {
    pub amount: String,
    pub placement: String,
}

/// An allocation report for one period (or the correction of one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationReportSpec {
    pub period_start: String,
    pub period_end: String,
    pub lines: Vec<AllocationLineSpec>,
    pub unallocated: UnallocatedSpec,
    /// Entry index of the report this one corrects (same period); it replaces that report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amends: Option<String>,
}

/// The emission factor behind a GHG figure (grid factors change: it is stored with the figure).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmissionFactorSpec {
    pub value: String,
    /// e.g. `tCO2e/MWh`.
    pub unit: String,
    pub source: String,
}

/// One figure of an impact report; it may cover a group of projects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactFigureSpec {
    pub projects: Vec<String>,
    /// An id from the indicator catalogue (`GET /v1/impact/indicators`).
    pub indicator: String,
    /// The figure for the whole project (group), before pro-rating to the bond's share.
    pub value: String,
    /// Must be the catalogue's unit for the indicator.
    pub unit: String,
    pub methodology: String,
    /// The baseline the figure is measured against.
    pub baseline: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emission_factor: Option<EmissionFactorSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_population: Option<String>,
}

/// An impact report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactReportSpec {
    pub period_start: String,
    pub period_end: String,
    /// `ex_ante` or `ex_post`.
    pub basis: String,
    pub figures: Vec<ImpactFigureSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amends: Option<String>,
}

/// A KPI as verified (sustainability-linked bonds): drives the coupon step-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiFindingSpec {
    pub kpi_id: String,
    pub value: String,
    pub met: bool,
}

/// An external review, signed by a verifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewSpec {
    /// Verifier-chosen id, unique on the bond's ledger.
    pub review_id: String,
    /// `pre_issuance`, `allocation`, `impact` or `kpi`.
    pub kind: String,
    /// `positive`, or `negative` (for allocation: misallocation or ineligible use found).
    pub conclusion: String,
    /// Entry index of the report reviewed (allocation and impact reviews).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_index: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpi: Option<KpiFindingSpec>,
    pub summary: String,
    /// Where the full review is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_uri: Option<String>,
}

/// A verifier withdraws its own review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalSpec {
    pub review_id: String,
    pub reason: String,
}

// ---------------------------------------------------------------------------------------------
// Validated forms.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub category: Category,
    pub sdg_targets: Vec<SdgTarget>,
    pub country: Country,
    pub location: String,
    pub total_cost: Decimal,
    /// A fraction in (0, 1].
    pub financing_share: Decimal,
    pub status: ProjectStatus,
    pub useful_life_years: u32,
}

impl Project {
    /// Most that all bonds together may allocate to the project: cost × financing share.
    pub fn financeable(&self) -> Decimal {
        self.total_cost * self.financing_share
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationLine {
    pub project: String,
    pub amount: Decimal,
    pub use_of_funds: UseOfFunds,
    pub expense: Expense,
    pub value_date: Date,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationReport {
    pub period_start: Date,
    pub period_end: Date,
    pub lines: Vec<AllocationLine>,
    pub unallocated: Decimal,
    pub placement: String,
    pub amends: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpactFigure {
    pub projects: Vec<String>,
    pub indicator: &'static str,
    pub value: Decimal,
    pub methodology: String,
    pub baseline: String,
    pub emission_factor: Option<(Decimal, String, String)>,
    pub target_population: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpactReport {
    pub period_start: Date,
    pub period_end: Date,
    pub basis: Basis,
    pub figures: Vec<ImpactFigure>,
    pub amends: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub id: String,
    pub scope: ReviewScope,
    pub conclusion: ReviewConclusion,
    pub report_index: Option<u64>,
    pub kpi: Option<(String, Decimal, bool)>,
    pub summary: String,
    pub document_uri: Option<String>,
}

/// A monitoring operation, validated field by field (state rules come in [`Monitor::check`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitorOp {
    RegisterProject(Project),
    ProjectStatus {
        project: String,
        status: ProjectStatus,
        reason: String,
    },
    ReportAllocation(AllocationReport),
    ReportImpact(ImpactReport),
    Review(Review),
    Withdraw {
        review: String,
        reason: String,
    },
}

/// Entry types that monitoring writes.
pub const ENTRY_TYPES: &[&str] = &[
    "project.registered",
    "project.status_changed",
    "allocation.reported",
    "impact.reported",
    "review.recorded",
    "review.withdrawn",
];

fn id(text: &str, pointer: &str, what: &str, errors: &mut FieldErrors) -> String {
    let ok = !text.is_empty()
        && text.len() <= ID_CHARS_MAX
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if !ok {
        errors.push(
            pointer,
            "invalid_id",
            format!("a {what} id is 1 to {ID_CHARS_MAX} of A–Z a–z 0–9 . _ : -"),
        );
    }
    text.to_owned()
}

fn text(value: &str, pointer: &str, what: &'static str, errors: &mut FieldErrors) -> String {
    match parse_text(value, what, TEXT_CHARS_MAX) {
        Ok(t) => t,
        Err(e) => {
            errors.push(pointer, "invalid_text", e.to_string());
            String::new()
        }
    }
}

fn date(value: &str, pointer: &str, errors: &mut FieldErrors) -> Date {
    match parse_date(value) {
        Ok(d) => d,
        Err(e) => {
            errors.push(pointer, "invalid_date", e.to_string());
            Date::MIN
        }
    }
}

/// A non-negative amount in `currency` with at most its minor-unit digits.
fn money(value: &str, currency: Currency, pointer: &str, errors: &mut FieldErrors) -> Decimal {
    match Amount::parse(value, currency) {
        Ok(a) => a.value(),
        Err(e) => {
            errors.push(pointer, "invalid_amount", e.to_string());
            Decimal::ZERO
        }
    }
}

/// A plain non-negative decimal (figures, factors), at most 18 fractional digits.
fn figure(value: &str, pointer: &str, errors: &mut FieldErrors) -> Decimal {
    let shaped = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && value.bytes().filter(|b| *b == b'.').count() <= 1
        && !value.starts_with('.')
        && !value.ends_with('.');
    match value.parse::<Decimal>() {
        Ok(d) if shaped && d.scale() <= 18 => d.normalize(),
        _ => {
            errors.push(
                pointer,
                "invalid_number",
                format!(
                    "{} is not a non-negative decimal number written as a string",
                    crate::domain::error::quoted(value)
                ),
            );
            Decimal::ZERO
        }
    }
}

fn index(value: &str, pointer: &str, errors: &mut FieldErrors) -> u64 {
    match crate::ledger::entry::parse_index(value) {
        Ok(n) => n,
        Err(_) => {
            errors.push(
                pointer,
                "invalid_index",
                "an entry index is a decimal string",
            );
            0
        }
    }
}

fn enum_value<T>(
    value: &str,
    pointer: &str,
    parse: impl Fn(&str) -> Result<T, crate::domain::error::UnknownVariant>,
    errors: &mut FieldErrors,
) -> Option<T> {
    match parse(value) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(pointer, "invalid_value", e.to_string());
            None
        }
    }
}

fn finish<T>(errors: FieldErrors, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
    let list = errors.into_vec();
    if list.is_empty() {
        Ok(value())
    } else {
        Err(list)
    }
}

impl ProjectSpec {
    pub fn validate(&self, currency: Currency) -> Result<Project, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let id = id(&self.project_id, "/project_id", "project", &mut e);
        let name = text(&self.name, "/name", "name", &mut e);
        let category = enum_value(&self.category, "/category", Category::parse, &mut e);
        let mut sdg_targets = Vec::new();
        for (i, t) in self.sdg_targets.iter().enumerate() {
            match SdgTarget::parse(t) {
                Ok(t) => sdg_targets.push(t),
                Err(err) => e.push(
                    format!("/sdg_targets/{i}"),
                    "invalid_sdg_target",
                    err.to_string(),
                ),
            }
        }
        let country = match Country::parse(&self.country) {
            Ok(c) => Some(c),
            Err(err) => {
                e.push("/country", "invalid_country", err.to_string());
                None
            }
        };
        let location = text(&self.location, "/location", "location", &mut e);
        let total_cost = money(&self.total_cost, currency, "/total_cost", &mut e);
        if total_cost.is_zero() {
            e.push(
                "/total_cost",
                "invalid_amount",
                "a project's total cost is more than zero",
            );
        }
        let share = figure(&self.financing_share, "/financing_share", &mut e);
        if share.is_zero() || share > Decimal::ONE_HUNDRED {
            e.push(
                "/financing_share",
                "invalid_share",
                "the financing share is a percentage above 0 and at most 100",
            );
        }
        let status = enum_value(&self.status, "/status", ProjectStatus::parse, &mut e);
        let life = crate::domain::money::parse_whole_number(
            &self.useful_life_years,
            "useful life",
            u64::from(USEFUL_LIFE_YEARS_MAX),
        );
        let useful_life_years = match life {
            Ok(n) if n > 0 => n as u32,
            _ => {
                e.push(
                    "/useful_life_years",
                    "invalid_useful_life",
                    format!("useful life is 1 to {USEFUL_LIFE_YEARS_MAX} whole years"),
                );
                0
            }
        };
        finish(e, || Project {
            id,
            name,
            category: category.unwrap_or(Category::RenewableEnergy),
            sdg_targets,
            country: country.unwrap_or_else(|| Country::all().next().expect("countries")),
            location,
            total_cost,
            financing_share: (share / Decimal::ONE_HUNDRED).normalize(),
            status: status.unwrap_or(ProjectStatus::Planned),
            useful_life_years,
        })
    }
}

impl ProjectStatusSpec {
    pub fn validate(&self) -> Result<MonitorOp, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let project = id(&self.project_id, "/project_id", "project", &mut e);
        let status = enum_value(&self.status, "/status", ProjectStatus::parse, &mut e);
        let reason = text(&self.reason, "/reason", "reason", &mut e);
        finish(e, || MonitorOp::ProjectStatus {
            project,
            status: status.unwrap_or(ProjectStatus::Planned),
            reason,
        })
    }
}

impl AllocationReportSpec {
    pub fn validate(&self, currency: Currency) -> Result<AllocationReport, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let period_start = date(&self.period_start, "/period_start", &mut e);
        let period_end = date(&self.period_end, "/period_end", &mut e);
        if self.lines.len() > LINES_MAX {
            e.push(
                "/lines",
                "too_many_lines",
                format!("at most {LINES_MAX} lines a report"),
            );
        }
        let mut lines = Vec::new();
        for (i, l) in self.lines.iter().enumerate().take(LINES_MAX) {
            let p = format!("/lines/{i}");
            let amount = money(&l.amount, currency, &format!("{p}/amount"), &mut e);
            if amount.is_zero() {
                e.push(
                    format!("{p}/amount"),
                    "invalid_amount",
                    "an allocated amount is more than zero",
                );
            }
            lines.push(AllocationLine {
                project: id(&l.project_id, &format!("{p}/project_id"), "project", &mut e),
                amount,
                use_of_funds: enum_value(
                    &l.use_of_funds,
                    &format!("{p}/use_of_funds"),
                    UseOfFunds::parse,
                    &mut e,
                )
                .unwrap_or(UseOfFunds::Financing),
                expense: enum_value(&l.expense, &format!("{p}/expense"), Expense::parse, &mut e)
                    .unwrap_or(Expense::Capex),
                value_date: date(&l.value_date, &format!("{p}/value_date"), &mut e),
            });
        }
        let unallocated = money(
            &self.unallocated.amount,
            currency,
            "/unallocated/amount",
            &mut e,
        );
        let placement = text(
            &self.unallocated.placement,
            "/unallocated/placement",
            "placement",
            &mut e,
        );
        let amends = self.amends.as_deref().map(|a| index(a, "/amends", &mut e));
        finish(e, || AllocationReport {
            period_start,
            period_end,
            lines,
            unallocated,
            placement,
            amends,
        })
    }
}

impl ImpactReportSpec {
    pub fn validate(&self) -> Result<ImpactReport, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let period_start = date(&self.period_start, "/period_start", &mut e);
        let period_end = date(&self.period_end, "/period_end", &mut e);
        let basis = enum_value(&self.basis, "/basis", Basis::parse, &mut e);
        if self.figures.is_empty() {
            e.push(
                "/figures",
                "required",
                "an impact report has at least one figure",
            );
        }
        if self.figures.len() > LINES_MAX {
            e.push(
                "/figures",
                "too_many_figures",
                format!("at most {LINES_MAX} figures a report"),
            );
        }
        let mut figures = Vec::new();
        for (i, f) in self.figures.iter().enumerate().take(LINES_MAX) {
            let p = format!("/figures/{i}");
            if f.projects.is_empty() || f.projects.len() > LINES_MAX {
                e.push(
                    format!("{p}/projects"),
                    "invalid_projects",
                    format!("a figure covers 1 to {LINES_MAX} projects"),
                );
            }
            let projects: Vec<String> = f
                .projects
                .iter()
                .enumerate()
                .take(LINES_MAX)
                .map(|(j, id_)| id(id_, &format!("{p}/projects/{j}"), "project", &mut e))
                .collect();
            let mut sorted = projects.clone();
            sorted.sort();
            sorted.dedup();
            if sorted.len() != projects.len() {
                e.push(
                    format!("{p}/projects"),
                    "duplicate_project",
                    "a figure names each project once",
                );
            }
            let ind = indicator(&f.indicator);
            match ind {
                None => e.push(
                    format!("{p}/indicator"),
                    "unknown_indicator",
                    format!(
                        "indicator must be one of {}",
                        INDICATORS
                            .iter()
                            .map(|i| i.id)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some(ind) if ind.unit != f.unit => e.push(
                    format!("{p}/unit"),
                    "wrong_unit",
                    format!("{} is reported in {}, not {:?}", ind.id, ind.unit, f.unit),
                ),
                Some(_) => {}
            }
            let value = figure(&f.value, &format!("{p}/value"), &mut e);
            let methodology = text(
                &f.methodology,
                &format!("{p}/methodology"),
                "methodology",
                &mut e,
            );
            let baseline = text(&f.baseline, &format!("{p}/baseline"), "baseline", &mut e);
            let emission_factor = match (&f.emission_factor, ind) {
                (Some(ef), _) => Some((
                    figure(&ef.value, &format!("{p}/emission_factor/value"), &mut e),
                    text(
                        &ef.unit,
                        &format!("{p}/emission_factor/unit"),
                        "unit",
                        &mut e,
                    ),
                    text(
                        &ef.source,
                        &format!("{p}/emission_factor/source"),
                        "source",
                        &mut e,
                    ),
                )),
                (None, Some(ind)) if ind.needs_emission_factor => {
                    e.push(
                        format!("{p}/emission_factor"),
                        "emission_factor_required",
                        "a GHG figure states the emission factor it was computed with (ICMA Harmonised Framework)",
                    );
                    None
                }
                (None, _) => None,
            };
            let target_population = match (&f.target_population, ind) {
                (Some(t), _) => Some(text(
                    t,
                    &format!("{p}/target_population"),
                    "target population",
                    &mut e,
                )),
                (None, Some(ind)) if ind.needs_target_population => {
                    e.push(
                        format!("{p}/target_population"),
                        "target_population_required",
                        "a social figure names the target population it counts",
                    );
                    None
                }
                (None, _) => None,
            };
            figures.push(ImpactFigure {
                projects,
                indicator: ind.map(|i| i.id).unwrap_or(""),
                value,
                methodology,
                baseline,
                emission_factor,
                target_population,
            });
        }
        let amends = self.amends.as_deref().map(|a| index(a, "/amends", &mut e));
        finish(e, || ImpactReport {
            period_start,
            period_end,
            basis: basis.unwrap_or(Basis::ExPost),
            figures,
            amends,
        })
    }
}

impl ReviewSpec {
    pub fn validate(&self) -> Result<Review, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let review_id = id(&self.review_id, "/review_id", "review", &mut e);
        let scope = enum_value(&self.kind, "/kind", ReviewScope::parse, &mut e);
        let conclusion = enum_value(
            &self.conclusion,
            "/conclusion",
            ReviewConclusion::parse,
            &mut e,
        );
        let report_index = self
            .report_index
            .as_deref()
            .map(|r| index(r, "/report_index", &mut e));
        match (scope, report_index.is_some()) {
            (Some(ReviewScope::Allocation | ReviewScope::Impact), false) => e.push(
                "/report_index",
                "required",
                "an allocation or impact review names the report it reviews",
            ),
            (Some(ReviewScope::PreIssuance | ReviewScope::Kpi), true) => e.push(
                "/report_index",
                "not_allowed_for_kind",
                "only allocation and impact reviews name a report",
            ),
            _ => {}
        }
        let kpi = match (&self.kpi, scope) {
            (Some(k), Some(ReviewScope::Kpi)) => Some((
                id(&k.kpi_id, "/kpi/kpi_id", "KPI", &mut e),
                figure(&k.value, "/kpi/value", &mut e),
                k.met,
            )),
            (Some(_), _) => {
                e.push(
                    "/kpi",
                    "not_allowed_for_kind",
                    "only a KPI review carries a KPI finding",
                );
                None
            }
            (None, Some(ReviewScope::Kpi)) => {
                e.push(
                    "/kpi",
                    "required",
                    "a KPI review states the KPI, its value and whether the target was met",
                );
                None
            }
            (None, _) => None,
        };
        let summary = text(&self.summary, "/summary", "summary", &mut e);
        let document_uri = self
            .document_uri
            .as_deref()
            .map(|u| text(u, "/document_uri", "document URI", &mut e));
        finish(e, || Review {
            id: review_id,
            scope: scope.unwrap_or(ReviewScope::PreIssuance),
            conclusion: conclusion.unwrap_or(ReviewConclusion::Positive),
            report_index,
            kpi,
            summary,
            document_uri,
        })
    }
}

impl WithdrawalSpec {
    pub fn validate(&self) -> Result<MonitorOp, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let review = id(&self.review_id, "/review_id", "review", &mut e);
        let reason = text(&self.reason, "/reason", "reason", &mut e);
        finish(e, || MonitorOp::Withdraw { review, reason })
    }
}

// ---------------------------------------------------------------------------------------------
// State.

/// What monitoring needs to know of the bond.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorTerms {
    pub kind: BondKind,
    pub currency: Currency,
    /// Face value of one token: net proceeds = tokens issued × denomination.
    pub denomination: Decimal,
    pub issue_date: Date,
    pub maturity_date: Date,
    pub categories: Vec<Category>,
    pub target_populations: Vec<String>,
    pub kpis: Vec<String>,
    pub look_back_years: Option<u8>,
}

impl MonitorTerms {
    pub fn from_bond(terms: &BondTerms) -> Self {
        MonitorTerms {
            kind: terms.kind(),
            currency: terms.currency(),
            denomination: terms.denomination().value(),
            issue_date: terms.issue_date(),
            maturity_date: terms.maturity_date(),
            categories: terms.categories().to_vec(),
            target_populations: terms
                .target_populations()
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
            kpis: terms
                .kpis()
                .iter()
                .map(|k| k.id().as_str().to_owned())
                .collect(),
            look_back_years: terms.framework().refinancing_look_back_years(),
        }
    }
}

/// An allocation report as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedAllocation {
    pub index: u64,
    pub on: Date,
    pub report: AllocationReport,
    pub fully_allocated: bool,
}

/// An impact report as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedImpact {
    pub index: u64,
    pub on: Date,
    pub report: ImpactReport,
}

/// A review as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedReview {
    pub index: u64,
    pub on: Date,
    pub verifier: String,
    pub review: Review,
    pub withdrawn_on: Option<Date>,
}

/// What the rules need from outside this bond's monitoring state.
pub struct Context<'a> {
    /// Net proceeds so far: the face value of the tokens issued (midori records no issuance
    /// costs; see docs/labels.md).
    pub net_proceeds: Decimal,
    /// The signer of the operation.
    pub actor: &'a str,
    /// The date the operation is judged on.
    pub today: Date,
    /// The same project as other bonds of the issuer know it: (cost × share, Σ they allocated),
    /// or `None` when no other bond finances it.
    pub elsewhere: &'a dyn Fn(&str) -> Option<Elsewhere>,
}

/// A project as the issuer's other bonds record it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Elsewhere {
    pub total_cost: Decimal,
    pub financing_share: Decimal,
    pub allocated: Decimal,
}

/// The monitoring state of one bond.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Monitor {
    terms: MonitorTerms,
    projects: BTreeMap<String, Project>,
    allocations: Vec<RecordedAllocation>,
    /// Per original report index: the index of the version in force (itself or a correction).
    in_force: BTreeMap<u64, u64>,
    impacts: Vec<RecordedImpact>,
    reviews: BTreeMap<String, RecordedReview>,
}

fn violation(code: &str, detail: impl Into<String>) -> Violation {
    Violation {
        code: code.into(),
        detail: detail.into(),
    }
}

/// `date` plus `months`, the day clamped to the month's end.
pub fn add_months(date: Date, months: u32) -> Date {
    let total = date.year() * 12 + (u8::from(date.month()) as i32 - 1) + months as i32;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = time::Month::try_from(month0 as u8 + 1).unwrap_or(time::Month::December);
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

impl Monitor {
    pub fn new(terms: MonitorTerms) -> Self {
        Monitor {
            terms,
            projects: BTreeMap::new(),
            allocations: Vec::new(),
            in_force: BTreeMap::new(),
            impacts: Vec::new(),
            reviews: BTreeMap::new(),
        }
    }

    pub fn terms(&self) -> &MonitorTerms {
        &self.terms
    }
    pub fn projects(&self) -> &BTreeMap<String, Project> {
        &self.projects
    }
    pub fn allocation_reports(&self) -> &[RecordedAllocation] {
        &self.allocations
    }
    pub fn impact_reports(&self) -> &[RecordedImpact] {
        &self.impacts
    }
    pub fn reviews(&self) -> &BTreeMap<String, RecordedReview> {
        &self.reviews
    }

    fn allocation(&self, index: u64) -> Option<&RecordedAllocation> {
        self.allocations.iter().find(|a| a.index == index)
    }

    /// The versions in force of every period's report.
    pub fn reports_in_force(&self) -> impl Iterator<Item = &RecordedAllocation> {
        self.in_force.values().filter_map(|i| self.allocation(*i))
    }

    /// Σ allocated per project over the reports in force.
    pub fn allocated_by_project(&self) -> BTreeMap<String, Decimal> {
        let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
        for r in self.reports_in_force() {
            for l in &r.report.lines {
                *out.entry(l.project.clone()).or_default() += l.amount;
            }
        }
        out
    }

    pub fn allocated(&self) -> Decimal {
        self.allocated_by_project().values().copied().sum()
    }

    /// The report `amends` names, if it is an original allocation report of this bond.
    fn original_of(&self, amends: u64) -> Option<u64> {
        self.in_force.contains_key(&amends).then_some(amends)
    }

    /// Every rule `op` breaks, sorted by code; empty when it may be recorded.
    pub fn check(&self, op: &MonitorOp, ctx: &Context<'_>) -> Vec<Violation> {
        let mut v = Vec::new();
        let t = &self.terms;
        match op {
            MonitorOp::RegisterProject(p) => {
                if !t.kind.is_use_of_proceeds() {
                    v.push(violation(
                        "no_use_of_proceeds",
                        "a sustainability-linked bond's proceeds are for general purposes: it has no eligible projects",
                    ));
                }
                if self.projects.contains_key(&p.id) {
                    v.push(violation(
                        "project_exists",
                        format!("project {} is already registered on this bond; change its status instead", p.id),
                    ));
                }
                if !t.categories.contains(&p.category) {
                    v.push(violation(
                        "category_not_in_framework",
                        format!(
                            "category {} is not in the bond's framework ({})",
                            p.category,
                            t.categories
                                .iter()
                                .map(|c| c.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                if t.kind == BondKind::Sdg && p.sdg_targets.is_empty() {
                    v.push(violation(
                        "sdg_target_required",
                        "every project of an SDG bond maps to at least one SDG target (UNDP SDG Impact Standards)",
                    ));
                }
                if let Some(other) = (ctx.elsewhere)(&p.id)
                    && (other.total_cost != p.total_cost
                        || other.financing_share != p.financing_share)
                {
                    v.push(violation(
                        "project_differs_elsewhere",
                        format!(
                            "another bond of this issuer finances project {} with total cost {} and financing share {}%: one project has one cost",
                            p.id,
                            other.total_cost,
                            (other.financing_share * Decimal::ONE_HUNDRED).normalize()
                        ),
                    ));
                }
            }
            MonitorOp::ProjectStatus { project, .. } => {
                if !self.projects.contains_key(project) {
                    v.push(violation(
                        "unknown_project",
                        format!("project {project} is not registered on this bond"),
                    ));
                }
            }
            MonitorOp::ReportAllocation(r) => self.check_allocation(r, ctx, &mut v),
            MonitorOp::ReportImpact(r) => self.check_impact(r, ctx, &mut v),
            MonitorOp::Review(r) => self.check_review(r, ctx, &mut v),
            MonitorOp::Withdraw { review, .. } => match self.reviews.get(review) {
                None => v.push(violation(
                    "unknown_review",
                    format!("no review {review} on this bond"),
                )),
                Some(r) if r.verifier != ctx.actor => v.push(violation(
                    "not_your_review",
                    "only the verifier that signed a review withdraws it",
                )),
                Some(r) if r.withdrawn_on.is_some() => v.push(violation(
                    "already_withdrawn",
                    format!("review {review} is already withdrawn"),
                )),
                Some(_) => {}
            },
        }
        v.sort_by(|a, b| a.code.cmp(&b.code).then(a.detail.cmp(&b.detail)));
        v.dedup();
        v
    }

    fn check_allocation(&self, r: &AllocationReport, ctx: &Context<'_>, v: &mut Vec<Violation>) {
        let t = &self.terms;
        if !t.kind.is_use_of_proceeds() {
            v.push(violation(
                "no_use_of_proceeds",
                "a sustainability-linked bond's proceeds are for general purposes: nothing to allocate",
            ));
            return;
        }
        if r.period_end < r.period_start {
            v.push(violation(
                "period_reversed",
                "the period ends before it starts",
            ));
        } else if r.period_end >= add_months(r.period_start, PERIOD_MONTHS_MAX) {
            v.push(violation(
                "period_too_long",
                format!(
                    "a reporting period is at most {PERIOD_MONTHS_MAX} months (ICMA GBP: annually; EU GBS Art. 11); this one ends on or after {}",
                    format_date(add_months(r.period_start, PERIOD_MONTHS_MAX))
                ),
            ));
        }
        if r.period_end > ctx.today {
            v.push(violation(
                "period_not_ended",
                format!(
                    "the period ends {}, after today {}: report a period once it has ended",
                    format_date(r.period_end),
                    format_date(ctx.today)
                ),
            ));
        }
        // Periods are contiguous: each starts the day after the previous one ended; the first
        // starts on the issue date. A correction covers the same period as what it amends.
        let mut replaced: Option<&RecordedAllocation> = None;
        match r.amends {
            Some(a) => match self.original_of(a) {
                None => v.push(violation(
                    "unknown_report",
                    format!("entry {a} is not an original allocation report of this bond"),
                )),
                Some(orig) => {
                    let current = self.in_force.get(&orig).and_then(|i| self.allocation(*i));
                    if let Some(c) = current
                        && (c.report.period_start != r.period_start
                            || c.report.period_end != r.period_end)
                    {
                        v.push(violation(
                            "period_mismatch",
                            format!(
                                "a correction covers the period of the report it amends: {} to {}",
                                format_date(c.report.period_start),
                                format_date(c.report.period_end)
                            ),
                        ));
                    }
                    replaced = current;
                }
            },
            None => {
                let expected = self
                    .in_force
                    .keys()
                    .filter_map(|i| self.allocation(*i))
                    .map(|a| a.report.period_end)
                    .max()
                    .map(|end| end.next_day().unwrap_or(end))
                    .unwrap_or(t.issue_date);
                if r.period_start != expected {
                    v.push(violation(
                        "period_not_contiguous",
                        format!(
                            "periods are contiguous: this report starts on {}",
                            format_date(expected)
                        ),
                    ));
                }
            }
        }
        // Lines.
        let mut this_report: BTreeMap<&str, Decimal> = BTreeMap::new();
        for (i, l) in r.lines.iter().enumerate() {
            let Some(p) = self.projects.get(&l.project) else {
                v.push(violation(
                    "unknown_project",
                    format!(
                        "line {i}: project {} is not registered on this bond",
                        l.project
                    ),
                ));
                continue;
            };
            if p.status == ProjectStatus::Divested {
                v.push(violation(
                    "project_divested",
                    format!("line {i}: project {} is divested", p.id),
                ));
            }
            *this_report.entry(&l.project).or_default() += l.amount;
            if l.value_date > r.period_end {
                v.push(violation(
                    "value_date_after_period",
                    format!("line {i}: the value date is after the period's end"),
                ));
            }
            match l.use_of_funds {
                UseOfFunds::Financing => {
                    if l.value_date < t.issue_date {
                        v.push(violation(
                            "financing_before_issue",
                            format!("line {i}: spending before the issue date is refinancing"),
                        ));
                    }
                }
                UseOfFunds::Refinancing => match t.look_back_years {
                    None => v.push(violation(
                        "refinancing_not_in_framework",
                        format!("line {i}: the bond's framework sets no refinancing look-back, so it allows no refinancing"),
                    )),
                    Some(years) => {
                        let earliest = add_months(t.issue_date, 0)
                            .replace_year(t.issue_date.year() - i32::from(years))
                            .unwrap_or_else(|_| {
                                Date::from_calendar_date(
                                    t.issue_date.year() - i32::from(years),
                                    time::Month::February,
                                    28,
                                )
                                .unwrap_or(t.issue_date)
                            });
                        if l.value_date < earliest {
                            v.push(violation(
                                "refinancing_beyond_look_back",
                                format!(
                                    "line {i}: refinancing reaches back to {} at most ({years}-year look-back of the framework)",
                                    format_date(earliest)
                                ),
                            ));
                        }
                    }
                },
            }
        }
        // Totals after this report.
        let mut by_project = self.allocated_by_project();
        if let Some(old) = replaced {
            for l in &old.report.lines {
                if let Some(x) = by_project.get_mut(&l.project) {
                    *x -= l.amount;
                }
            }
        }
        for (p, a) in &this_report {
            *by_project.entry((*p).to_owned()).or_default() += *a;
        }
        let total: Decimal = by_project.values().copied().sum();
        if total > ctx.net_proceeds {
            v.push(violation(
                "over_allocated",
                format!(
                    "Σ allocated would be {total}, more than the net proceeds {} (face value of tokens issued)",
                    ctx.net_proceeds
                ),
            ));
        }
        for p in this_report.keys() {
            let Some(project) = self.projects.get(*p) else {
                continue;
            };
            let here = by_project.get(*p).copied().unwrap_or_default();
            let elsewhere = (ctx.elsewhere)(p).map(|e| e.allocated).unwrap_or_default();
            if here + elsewhere > project.financeable() {
                v.push(violation(
                    "double_counting",
                    format!(
                        "project {p} may receive at most {} from all bonds (cost {} × financing share); this bond would hold {here} and the issuer's other bonds {elsewhere}",
                        project.financeable().normalize(),
                        project.total_cost
                    ),
                ));
            }
        }
        let expected_unallocated = ctx.net_proceeds - total;
        if total <= ctx.net_proceeds && r.unallocated != expected_unallocated {
            v.push(violation(
                "unallocated_mismatch",
                format!(
                    "the unallocated balance is net proceeds {} minus Σ allocated {total} = {expected_unallocated}, not {}",
                    ctx.net_proceeds, r.unallocated
                ),
            ));
        }
    }

    fn check_impact(&self, r: &ImpactReport, ctx: &Context<'_>, v: &mut Vec<Violation>) {
        if !self.terms.kind.is_use_of_proceeds() {
            v.push(violation(
                "no_use_of_proceeds",
                "a sustainability-linked bond reports KPIs, not project impact",
            ));
            return;
        }
        if r.period_end < r.period_start {
            v.push(violation(
                "period_reversed",
                "the period ends before it starts",
            ));
        } else if r.period_end >= add_months(r.period_start, PERIOD_MONTHS_MAX) {
            v.push(violation(
                "period_too_long",
                format!("an impact reporting period is at most {PERIOD_MONTHS_MAX} months (ICMA Harmonised Framework: annual)"),
            ));
        }
        if r.basis == Basis::ExPost && r.period_end > ctx.today {
            v.push(violation(
                "period_not_ended",
                "ex-post figures are measured: report them once the period has ended",
            ));
        }
        if let Some(a) = r.amends
            && !self.impacts.iter().any(|i| i.index == a)
        {
            v.push(violation(
                "unknown_report",
                format!("entry {a} is not an impact report of this bond"),
            ));
        }
        for (i, f) in r.figures.iter().enumerate() {
            for p in &f.projects {
                if !self.projects.contains_key(p) {
                    v.push(violation(
                        "unknown_project",
                        format!("figure {i}: project {p} is not registered on this bond"),
                    ));
                }
            }
            if let Some(tp) = &f.target_population
                && !self.terms.target_populations.is_empty()
                && !self.terms.target_populations.contains(tp)
            {
                v.push(violation(
                    "unknown_target_population",
                    format!("figure {i}: {tp:?} is not one of the framework's target populations"),
                ));
            }
        }
    }

    fn check_review(&self, r: &Review, ctx: &Context<'_>, v: &mut Vec<Violation>) {
        if self.reviews.contains_key(&r.id) {
            v.push(violation(
                "review_exists",
                format!("review {} is already recorded", r.id),
            ));
        }
        match r.scope {
            ReviewScope::PreIssuance => {}
            ReviewScope::Allocation => {
                if let Some(i) = r.report_index
                    && self.allocation(i).is_none()
                {
                    v.push(violation(
                        "unknown_report",
                        format!("entry {i} is not an allocation report of this bond"),
                    ));
                }
            }
            ReviewScope::Impact => {
                if let Some(i) = r.report_index
                    && !self.impacts.iter().any(|x| x.index == i)
                {
                    v.push(violation(
                        "unknown_report",
                        format!("entry {i} is not an impact report of this bond"),
                    ));
                }
            }
            ReviewScope::Kpi => {
                if self.terms.kind != BondKind::SustainabilityLinked {
                    v.push(violation(
                        "not_sustainability_linked",
                        "KPI reviews are for sustainability-linked bonds",
                    ));
                }
                if let Some((kpi, _, _)) = &r.kpi {
                    if !self.terms.kpis.contains(kpi) {
                        v.push(violation(
                            "unknown_kpi",
                            format!("the bond has no KPI {kpi}"),
                        ));
                    }
                    if self.reviews.values().any(|x| {
                        x.withdrawn_on.is_none()
                            && x.review.kpi.as_ref().is_some_and(|k| &k.0 == kpi)
                    }) {
                        v.push(violation(
                            "kpi_already_verified",
                            format!(
                                "KPI {kpi} already has a verification in force; withdraw it first"
                            ),
                        ));
                    }
                }
            }
        }
        let _ = ctx;
    }

    /// Record an accepted operation at entry `index` on date `on`; the entry's type and data.
    pub fn apply(
        &mut self,
        op: &MonitorOp,
        index: u64,
        on: Date,
        actor: &str,
        net_proceeds: Decimal,
    ) -> (String, Value) {
        match op {
            MonitorOp::RegisterProject(p) => {
                self.projects.insert(p.id.clone(), p.clone());
                ("project.registered".into(), project_data(p))
            }
            MonitorOp::ProjectStatus {
                project,
                status,
                reason,
            } => {
                if let Some(p) = self.projects.get_mut(project) {
                    p.status = *status;
                }
                (
                    "project.status_changed".into(),
                    json!({ "project_id": project, "status": status.as_str(), "reason": reason }),
                )
            }
            MonitorOp::ReportAllocation(r) => {
                let original = r.amends.and_then(|a| self.original_of(a)).unwrap_or(index);
                self.in_force.insert(original, index);
                // Fully allocated is computed before pushing so the report reads its own total.
                self.allocations.push(RecordedAllocation {
                    index,
                    on,
                    report: r.clone(),
                    fully_allocated: false,
                });
                let allocated = self.allocated();
                let fully = !net_proceeds.is_zero() && allocated == net_proceeds;
                if let Some(last) = self.allocations.last_mut() {
                    last.fully_allocated = fully;
                }
                (
                    "allocation.reported".into(),
                    allocation_data(r, net_proceeds, allocated, fully),
                )
            }
            MonitorOp::ReportImpact(r) => {
                self.impacts.push(RecordedImpact {
                    index,
                    on,
                    report: r.clone(),
                });
                ("impact.reported".into(), impact_data(r))
            }
            MonitorOp::Review(r) => {
                self.reviews.insert(
                    r.id.clone(),
                    RecordedReview {
                        index,
                        on,
                        verifier: actor.to_owned(),
                        review: r.clone(),
                        withdrawn_on: None,
                    },
                );
                ("review.recorded".into(), review_data(r))
            }
            MonitorOp::Withdraw { review, reason } => {
                if let Some(r) = self.reviews.get_mut(review) {
                    r.withdrawn_on = Some(on);
                }
                (
                    "review.withdrawn".into(),
                    json!({ "review_id": review, "reason": reason }),
                )
            }
        }
    }

    /// Apply a recorded monitoring entry (replay). Entries of other types are ignored. The
    /// recorded data must be exactly what applying its operation computes.
    pub fn apply_recorded(
        &mut self,
        kind: &str,
        data: &Value,
        index: u64,
        on: Date,
        actor: &str,
        net_proceeds: Decimal,
    ) -> Result<(), String> {
        if !ENTRY_TYPES.contains(&kind) {
            return Ok(());
        }
        let op = recorded_op(kind, data, self.terms.currency)?;
        let (k, d) = self.apply(&op, index, on, actor, net_proceeds);
        if k != kind || d != *data {
            return Err(format!(
                "{kind}: the recorded data differs from what replaying it computes"
            ));
        }
        Ok(())
    }

    /// The facts the label lifecycle is judged on.
    pub fn facts(&self, fully_redeemed_on: Option<Date>) -> label::Facts {
        let reviews = self
            .reviews
            .values()
            .map(|r| ReviewFact {
                id: r.review.id.clone(),
                kind: match r.review.scope {
                    ReviewScope::PreIssuance => ReviewKind::PreIssuance,
                    ReviewScope::Allocation => ReviewKind::AllocationVerification,
                    ReviewScope::Impact => ReviewKind::ImpactVerification,
                    ReviewScope::Kpi => ReviewKind::KpiVerification,
                },
                conclusion: match r.review.conclusion {
                    ReviewConclusion::Positive => Conclusion::Positive,
                    ReviewConclusion::Negative => Conclusion::Negative,
                },
                on: r.on,
                withdrawn_on: r.withdrawn_on,
            })
            .collect();
        let allocation_reports = self
            .allocations
            .iter()
            .map(|a| ReportFact {
                id: a.index.to_string(),
                period_start: a.report.period_start,
                period_end: a.report.period_end,
                filed_on: a.on,
                fully_allocated: a.fully_allocated,
            })
            .collect();
        let impact_reports = self
            .impacts
            .iter()
            .map(|a| ReportFact {
                id: a.index.to_string(),
                period_start: a.report.period_start,
                period_end: a.report.period_end,
                filed_on: a.on,
                fully_allocated: false,
            })
            .collect();
        label::Facts {
            issue_date: self.terms.issue_date,
            maturity_date: self.terms.maturity_date,
            fully_redeemed_on,
            reviews,
            allocation_reports,
            impact_reports,
        }
    }

    /// The bond's impact, pro-rated to its financing share, from the latest report per period
    /// (corrections replace what they amend): per indicator, per category, per SDG goal.
    pub fn impact(&self) -> ImpactTotals {
        let allocated = self.allocated_by_project();
        let mut totals = ImpactTotals::default();
        let replaced: std::collections::BTreeSet<u64> = self
            .impacts
            .iter()
            .filter_map(|i| i.report.amends)
            .collect();
        for report in self.impacts.iter().filter(|i| !replaced.contains(&i.index)) {
            for f in &report.report.figures {
                let cost: Decimal = f
                    .projects
                    .iter()
                    .filter_map(|p| self.projects.get(p))
                    .map(|p| p.total_cost)
                    .sum();
                let funded: Decimal = f
                    .projects
                    .iter()
                    .map(|p| allocated.get(p).copied().unwrap_or_default())
                    .sum();
                if cost.is_zero() {
                    continue;
                }
                let share = (funded / cost).min(Decimal::ONE);
                let bond_value = f.value * share;
                *totals
                    .by_indicator
                    .entry(f.indicator.to_owned())
                    .or_default() += bond_value;
                for p in &f.projects {
                    let Some(project) = self.projects.get(p) else {
                        continue;
                    };
                    let part = if funded.is_zero() {
                        Decimal::ZERO
                    } else {
                        bond_value * allocated.get(p).copied().unwrap_or_default() / funded
                    };
                    *totals
                        .by_category
                        .entry(project.category.as_str().to_owned())
                        .or_default()
                        .entry(f.indicator.to_owned())
                        .or_default() += part;
                    let mut goals: Vec<u8> = project.sdg_targets.iter().map(|t| t.goal()).collect();
                    goals.sort_unstable();
                    goals.dedup();
                    for g in goals {
                        *totals
                            .by_sdg_goal
                            .entry(g)
                            .or_default()
                            .entry(f.indicator.to_owned())
                            .or_default() += part;
                    }
                }
            }
        }
        totals
    }
}

/// A bond's pro-rated impact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImpactTotals {
    pub by_indicator: BTreeMap<String, Decimal>,
    pub by_category: BTreeMap<String, BTreeMap<String, Decimal>>,
    pub by_sdg_goal: BTreeMap<u8, BTreeMap<String, Decimal>>,
}

fn d(x: Decimal) -> String {
    x.normalize().to_string()
}

fn project_data(p: &Project) -> Value {
    json!({
        "project_id": p.id,
        "name": p.name,
        "category": p.category.as_str(),
        "sdg_targets": p.sdg_targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "country": p.country.as_str(),
        "location": p.location,
        "total_cost": d(p.total_cost),
        "financing_share": d(p.financing_share * Decimal::ONE_HUNDRED),
        "status": p.status.as_str(),
        "useful_life_years": p.useful_life_years.to_string(),
    })
}

fn allocation_data(
    r: &AllocationReport,
    net_proceeds: Decimal,
    allocated: Decimal,
    fully: bool,
) -> Value {
    let mut v = json!({
        "period_start": format_date(r.period_start),
        "period_end": format_date(r.period_end),
        "lines": r.lines.iter().map(|l| json!({
            "project_id": l.project,
            "amount": d(l.amount),
            "use_of_funds": l.use_of_funds.as_str(),
            "expense": l.expense.as_str(),
            "value_date": format_date(l.value_date),
        })).collect::<Vec<_>>(),
        "unallocated": { "amount": d(r.unallocated), "placement": r.placement },
        "net_proceeds": d(net_proceeds),
        "allocated_total": d(allocated),
        "fully_allocated": fully,
    });
    if let Some(a) = r.amends {
        v["amends"] = Value::String(a.to_string());
    }
    v
}

fn impact_data(r: &ImpactReport) -> Value {
    let mut v = json!({
        "period_start": format_date(r.period_start),
        "period_end": format_date(r.period_end),
        "basis": r.basis.as_str(),
        "figures": r.figures.iter().map(|f| {
            let mut x = json!({
                "projects": f.projects,
                "indicator": f.indicator,
                "value": d(f.value),
                "unit": indicator(f.indicator).map(|i| i.unit).unwrap_or(""),
                "methodology": f.methodology,
                "baseline": f.baseline,
            });
            if let Some((value, unit, source)) = &f.emission_factor {
                x["emission_factor"] = json!({ "value": d(*value), "unit": unit, "source": source });
            }
            if let Some(t) = &f.target_population {
                x["target_population"] = Value::String(t.clone());
            }
            x
        }).collect::<Vec<_>>(),
    });
    if let Some(a) = r.amends {
        v["amends"] = Value::String(a.to_string());
    }
    v
}

fn review_data(r: &Review) -> Value {
    let mut v = json!({
        "review_id": r.id,
        "kind": r.scope.as_str(),
        "conclusion": r.conclusion.as_str(),
        "summary": r.summary,
    });
    if let Some(i) = r.report_index {
        v["report_index"] = Value::String(i.to_string());
    }
    if let Some((kpi, value, met)) = &r.kpi {
        v["kpi"] = json!({ "kpi_id": kpi, "value": d(*value), "met": met });
    }
    if let Some(u) = &r.document_uri {
        v["document_uri"] = Value::String(u.clone());
    }
    v
}

/// The operation a recorded entry states (its data is a normalised wire form).
fn recorded_op(kind: &str, data: &Value, currency: Currency) -> Result<MonitorOp, String> {
    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
    let errors = |e: Vec<FieldError>| {
        e.iter()
            .map(|e| format!("{}: {}", e.pointer, e.detail))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut data = data.clone();
    Ok(match kind {
        "project.registered" => MonitorOp::RegisterProject(
            parse::<ProjectSpec>(data)?
                .validate(currency)
                .map_err(errors)?,
        ),
        "project.status_changed" => parse::<ProjectStatusSpec>(data)?
            .validate()
            .map_err(errors)?,
        "allocation.reported" => {
            if let Some(o) = data.as_object_mut() {
                o.remove("net_proceeds");
                o.remove("allocated_total");
                o.remove("fully_allocated");
            }
            MonitorOp::ReportAllocation(
                parse::<AllocationReportSpec>(data)?
                    .validate(currency)
                    .map_err(errors)?,
            )
        }
        "impact.reported" => MonitorOp::ReportImpact(
            parse::<ImpactReportSpec>(data)?
                .validate()
                .map_err(errors)?,
        ),
        "review.recorded" => {
            MonitorOp::Review(parse::<ReviewSpec>(data)?.validate().map_err(errors)?)
        }
        "review.withdrawn" => parse::<WithdrawalSpec>(data)?.validate().map_err(errors)?,
        other => return Err(format!("{other} is not a monitoring entry")),
    })
}
