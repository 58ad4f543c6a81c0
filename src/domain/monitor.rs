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
use super::label::{self, Conclusion, ReportFact, ReviewFact, ReviewKind, YearEnd, add_months};
use super::money::Amount;
use super::taxonomy::Eligible;
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
/// Longest first period, from the issue date: a label scheme may join a short first fiscal year
/// to the next (`reporting_year.short_first_year_months`), so the first report may cover up to
/// two years.
pub const FIRST_PERIOD_MONTHS_MAX: u32 = 24;
/// Longest unit of an issuer-defined indicator.
pub const UNIT_CHARS_MAX: usize = 32;
/// Largest figure or factor in an impact report (far above any real one; keeps every product
/// of figures and shares inside Decimal's range).
pub const FIGURE_MAX: u64 = 1_000_000_000_000_000;
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

pub use super::indicators::{INDICATORS, Indicator, indicator};

crate::domain::wire::wire_enum! {
    /// What a registered allocation target is.
    pub enum ProjectKind ("project kind") {
        /// One project or asset.
        Project = "project",
        /// An eligible portfolio (ICMA portfolio approach): the assets or loans of one category
        /// or sub-category, allocated and reported as a whole; its `total_cost` is the
        /// portfolio's size.
        Portfolio = "portfolio",
    }
}

crate::domain::wire::wire_enum! {
    /// Whose figure a published impact figure is.
    pub enum Attribution ("attribution") {
        /// The figure is for the whole project (or group of projects), as published: shown as
        /// it is, never pro-rated, never counted in the bond's share.
        WholeProject = "whole_project",
        /// The figure is the project's; the bond's share is computed (financed ÷ total cost).
        ProRata = "pro_rata",
    }
}

// ---------------------------------------------------------------------------------------------
// Wire forms: what an issuer or verifier signs. Amounts, ids and dates are strings.

/// An eligible project, as registered by the issuer on a bond's ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectSpec {
    /// Issuer-chosen id, the same on every bond that finances the project.
    pub project_id: String,
    /// `project` (the default) or `portfolio`: an eligible portfolio reported as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
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

/// The exchange rate a report in another currency than the bond's was converted at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRateSpec {
    /// Units of the report's currency per one unit of the bond's, as issuers print it (for a
    /// euro bond reported in yen: `"161.25"` yen per euro).
    pub rate: String,
    /// The day of the rate, `YYYY-MM-DD`.
    pub on: String,
    /// Where the rate comes from (e.g. the rate at issue, a central bank reference rate).
    pub source: String,
}

/// The published document a fact cites: where it is, and the SHA-256 of its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishedDocumentSpec {
    pub uri: String,
    /// Lowercase hex SHA-256 of the document as published.
    pub sha256: String,
}

/// An allocation report for one period (or the correction of one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationReportSpec {
    pub period_start: String,
    pub period_end: String,
    pub lines: Vec<AllocationLineSpec>,
    pub unallocated: UnallocatedSpec,
    /// The unit the report's amounts are published in, when they are rounded (e.g.
    /// `"100000000"` for a table in 億円, `"1000000"` for 百万円): each printed figure may be off by
    /// less than one unit, so the unallocated balance may differ from net proceeds − Σ by that
    /// much per figure, and the report may declare full allocation within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding_unit: Option<String>,
    /// The report says the proceeds are fully allocated (exactly, or within its rounding unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_fully_allocated: Option<bool>,
    /// ISO 4217 code of the currency the report's amounts (lines, unallocated, rounding unit)
    /// are stated in, when it is not the bond's; `exchange_rate` then says how they convert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange_rate: Option<ExchangeRateSpec>,
    /// The day the issuer published it, `YYYY-MM-DD` (required on new reports; deadlines are
    /// judged on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_on: Option<String>,
    /// The document as published; required when the fact is recorded late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_document: Option<PublishedDocumentSpec>,
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
    /// An id from the indicator catalogue (`GET /v1/impact/indicators`), or an issuer-defined
    /// indicator `issuer:<name>` (its own unit; never converted, never aggregated across bonds).
    pub indicator: String,
    /// The figure as published (kept exactly, trailing zeros included: `"49.0"` stays `"49.0"`).
    pub value: String,
    /// The unit as published: any spelling the catalogue accepts for the indicator (`t-CO2/年`,
    /// `kWh/yr`, `m³`, …), converted exactly to the canonical unit.
    pub unit: String,
    /// `ex_ante` or `ex_post` for this figure; the report's `basis` if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// `pro_rata` (the default: the bond's share is computed) or `whole_project` (the published
    /// figure is for the whole project and is shown as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
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
    /// The day the issuer published it, `YYYY-MM-DD` (required on new reports; deadlines are
    /// judged on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_on: Option<String>,
    /// The document as published; required when the fact is recorded late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_document: Option<PublishedDocumentSpec>,
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
    /// The day the reviewer published (signed) it, `YYYY-MM-DD` (required on new reviews; deadlines are
    /// judged on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_on: Option<String>,
    /// The document as published; required when the fact is recorded late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_document: Option<PublishedDocumentSpec>,
}

/// The issuer engages a verifier (a party id) to review the bond.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngagementSpec {
    pub verifier: String,
}

impl EngagementSpec {
    pub fn validate(&self) -> Result<MonitorOp, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        if uuid::Uuid::try_parse(&self.verifier).is_err() {
            e.push(
                "/verifier",
                "invalid_party",
                "name the verifier by its party id",
            );
        }
        finish(e, || MonitorOp::Engage {
            verifier: self.verifier.clone(),
        })
    }
}

/// A verifier withdraws its own review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalSpec {
    pub review_id: String,
    pub reason: String,
    /// The day the withdrawal was published; the day it is recorded if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_on: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Validated forms.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    /// `None`: a project (the default when registered).
    pub kind: Option<ProjectKind>,
    pub name: String,
    pub category: Category,
    /// A sub-category of `category`, if the project names one.
    pub subcategory: Option<&'static str>,
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
    /// `category` or `category/sub`.
    pub fn category_path(&self) -> String {
        Eligible {
            category: self.category,
            sub: self.subcategory,
        }
        .path()
    }

    /// Most that all bonds together may allocate to the project: cost × financing share.
    pub fn financeable(&self) -> Decimal {
        self.total_cost * self.financing_share
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocationLine {
    pub project: String,
    /// In the bond's currency (converted, rounded to its minor unit, for a report in another).
    pub amount: Decimal,
    /// As published, in the report's currency, when it is not the bond's.
    pub published_amount: Option<Decimal>,
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
    /// In the bond's currency (converted for a report in another).
    pub rounding_unit: Option<Decimal>,
    pub declared_fully_allocated: bool,
    /// A report in another currency: the currency, the published unallocated balance and
    /// rounding unit, and the rate.
    pub foreign: Option<Foreign>,
    /// When it was published, and the document cited; `None` on entries recorded before
    /// facts carried their own dates (they count from the day recorded).
    pub published: Option<Published>,
    pub amends: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpactFigure {
    pub projects: Vec<String>,
    /// A catalogue id or `issuer:<name>`.
    pub indicator: String,
    /// In the canonical unit, exactly.
    pub value: Decimal,
    /// The canonical unit (the published one for an issuer-defined indicator).
    pub unit: String,
    /// As published.
    pub published_value: String,
    pub published_unit: String,
    /// The figure's own basis, if it states one (else the report's).
    pub basis: Option<Basis>,
    /// `None`: pro rata, the default.
    pub attribution: Option<Attribution>,
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
    /// When it was published, and the document cited; `None` on entries recorded before
    /// facts carried their own dates (they count from the day recorded).
    pub published: Option<Published>,
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
    /// When it was published, and the document cited; `None` on entries recorded before
    /// facts carried their own dates (they count from the day recorded).
    pub published: Option<Published>,
}

/// The currency a report states its amounts in, when it is not the bond's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign {
    pub currency: Currency,
    /// Report currency per unit of bond currency.
    pub rate: Decimal,
    pub rate_on: Date,
    pub rate_source: String,
    /// As published, in the report's currency.
    pub unallocated: Decimal,
    pub rounding_unit: Option<Decimal>,
}

/// The day a fact was published, and the published document it cites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub on: Date,
    /// `(uri, sha256)`.
    pub document: Option<(String, String)>,
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
        published_on: Option<Date>,
    },
    /// The issuer engages an external reviewer for the bond: only engaged verifiers review it.
    Engage {
        verifier: String,
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
    "reviewer.engaged",
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
        Ok(d) if shaped && d.scale() <= 18 && d <= Decimal::from(FIGURE_MAX) => d,
        _ => {
            errors.push(
                pointer,
                "invalid_number",
                format!(
                    "{} is not a non-negative decimal number (at most {FIGURE_MAX}, 18 decimals) written as a string",
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

/// The publication of a fact: its date and, if cited, the document (a URI and a SHA-256).
fn published(
    on: Option<&str>,
    document: Option<&PublishedDocumentSpec>,
    errors: &mut FieldErrors,
) -> Option<Published> {
    let document = document.map(|d| {
        let uri = text(&d.uri, "/published_document/uri", "document URI", errors);
        let hex = d.sha256.len() == 64
            && d.sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            errors.push(
                "/published_document/sha256",
                "invalid_sha256",
                "the SHA-256 of the document: 64 lowercase hex digits",
            );
        }
        (uri, d.sha256.clone())
    });
    match on {
        Some(on) => Some(Published {
            on: date(on, "/published_on", errors),
            document,
        }),
        None => {
            if document.is_some() {
                errors.push(
                    "/published_on",
                    "required",
                    "a fact that cites its published document says when it was published",
                );
            }
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
        let kind = self
            .kind
            .as_deref()
            .and_then(|k| enum_value(k, "/kind", ProjectKind::parse, &mut e));
        let name = text(&self.name, "/name", "name", &mut e);
        let eligible = match Eligible::parse(&self.category) {
            Ok(eligible) => Some(eligible),
            Err(err) => {
                e.push("/category", "invalid_value", err.to_string());
                None
            }
        };
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
            kind,
            name,
            category: eligible.map_or(Category::RenewableEnergy, |c| c.category),
            subcategory: eligible.and_then(|c| c.sub),
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
    /// Field checks; `currency` is the bond's. A report stated in another currency has its
    /// amounts converted at its exchange rate (report amount ÷ rate, rounded half to even to the
    /// bond currency's minor unit); the published amounts are kept beside.
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
        // The currency the amounts are stated in, and the rate to the bond's.
        let foreign = match (&self.currency, &self.exchange_rate) {
            (None, None) => None,
            (Some(code), rate) => match Currency::parse(code) {
                Err(err) => {
                    e.push("/currency", "invalid_currency", err.to_string());
                    None
                }
                Ok(c) if c == currency => {
                    e.push(
                        "/currency",
                        "same_currency",
                        "state `currency` only for a report in another currency than the bond's",
                    );
                    None
                }
                Ok(c) => match rate {
                    None => {
                        e.push(
                            "/exchange_rate",
                            "required",
                            "a report in another currency states the exchange rate it used",
                        );
                        None
                    }
                    Some(rate) => {
                        let value = figure(&rate.rate, "/exchange_rate/rate", &mut e);
                        if value.is_zero() {
                            e.push(
                                "/exchange_rate/rate",
                                "invalid_number",
                                "an exchange rate is more than zero",
                            );
                        }
                        Some(Foreign {
                            currency: c,
                            rate: value,
                            rate_on: date(&rate.on, "/exchange_rate/on", &mut e),
                            rate_source: text(
                                &rate.source,
                                "/exchange_rate/source",
                                "source",
                                &mut e,
                            ),
                            unallocated: Decimal::ZERO,
                            rounding_unit: None,
                        })
                    }
                },
            },
            (None, Some(_)) => {
                e.push(
                    "/exchange_rate",
                    "not_allowed",
                    "an exchange rate goes with the `currency` the report is stated in",
                );
                None
            }
        };
        // Amounts are read in the currency the report names, even when its rate is missing.
        let stated = self
            .currency
            .as_deref()
            .and_then(|code| Currency::parse(code).ok())
            .unwrap_or(currency);
        // Report amount → bond currency (identity when the report is in the bond's currency).
        let rate = foreign.as_ref().map(|f| f.rate);
        let convert = move |amount: Decimal| match rate {
            Some(rate) if !rate.is_zero() => (amount / rate).round_dp_with_strategy(
                currency.minor_units(),
                rust_decimal::RoundingStrategy::MidpointNearestEven,
            ),
            _ => amount,
        };
        let mut lines = Vec::new();
        for (i, l) in self.lines.iter().enumerate().take(LINES_MAX) {
            let p = format!("/lines/{i}");
            let published_amount = money(&l.amount, stated, &format!("{p}/amount"), &mut e);
            if published_amount.is_zero() {
                e.push(
                    format!("{p}/amount"),
                    "invalid_amount",
                    "an allocated amount is more than zero",
                );
            }
            lines.push(AllocationLine {
                project: id(&l.project_id, &format!("{p}/project_id"), "project", &mut e),
                amount: convert(published_amount),
                published_amount: foreign.as_ref().map(|_| published_amount),
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
        let published_unallocated = money(
            &self.unallocated.amount,
            stated,
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
        let published = published(
            self.published_on.as_deref(),
            self.published_document.as_ref(),
            &mut e,
        );
        let published_rounding_unit = self.rounding_unit.as_deref().map(|u| {
            let unit = money(u, stated, "/rounding_unit", &mut e);
            if unit.is_zero() {
                e.push(
                    "/rounding_unit",
                    "invalid_amount",
                    "a rounding unit is more than zero",
                );
            }
            unit
        });
        // Converted amounts are each off by at most half a minor unit of the bond's currency:
        // a report in another currency always carries at least that rounding.
        let rounding_unit = match &foreign {
            None => published_rounding_unit,
            Some(_) => {
                let minor = Decimal::new(1, currency.minor_units());
                Some(published_rounding_unit.map_or(minor, |u| convert(u).max(minor)))
            }
        };
        let unallocated = convert(published_unallocated);
        let foreign = foreign.map(|f| Foreign {
            unallocated: published_unallocated,
            rounding_unit: published_rounding_unit,
            ..f
        });
        finish(e, || AllocationReport {
            period_start,
            period_end,
            lines,
            unallocated,
            placement,
            rounding_unit,
            declared_fully_allocated: self.declared_fully_allocated.unwrap_or(false),
            foreign,
            published,
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
            let issuer_defined = super::indicators::is_issuer_defined(&f.indicator);
            let published_value = figure(&f.value, &format!("{p}/value"), &mut e);
            let (value, unit) = match ind {
                None if issuer_defined => {
                    let unit = text(&f.unit, &format!("{p}/unit"), "unit", &mut e);
                    if unit.chars().count() > UNIT_CHARS_MAX {
                        e.push(
                            format!("{p}/unit"),
                            "invalid_unit",
                            format!("a unit is at most {UNIT_CHARS_MAX} characters"),
                        );
                    }
                    (published_value, unit)
                }
                None => {
                    e.push(
                        format!("{p}/indicator"),
                        "unknown_indicator",
                        format!(
                            "indicator must be one of {}, or issuer:<name> for an indicator of the issuer's own",
                            INDICATORS
                                .iter()
                                .map(|i| i.id)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    (Decimal::ZERO, String::new())
                }
                Some(ind) => match super::indicators::convert(ind, published_value, &f.unit) {
                    Ok(value) => (value, ind.unit.to_owned()),
                    Err(err) => {
                        e.push(format!("{p}/unit"), "wrong_unit", err.to_string());
                        (Decimal::ZERO, String::new())
                    }
                },
            };
            let figure_basis = f
                .basis
                .as_deref()
                .and_then(|b| enum_value(b, &format!("{p}/basis"), Basis::parse, &mut e));
            let attribution = f.attribution.as_deref().and_then(|a| {
                enum_value(a, &format!("{p}/attribution"), Attribution::parse, &mut e)
            });
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
                // Recommended, not required: the views show a GHG figure without one as such.
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
                indicator: f.indicator.clone(),
                value,
                unit,
                published_value: f.value.clone(),
                published_unit: f.unit.clone(),
                basis: figure_basis,
                attribution,
                methodology,
                baseline,
                emission_factor,
                target_population,
            });
        }
        let amends = self.amends.as_deref().map(|a| index(a, "/amends", &mut e));
        let published = published(
            self.published_on.as_deref(),
            self.published_document.as_ref(),
            &mut e,
        );
        finish(e, || ImpactReport {
            period_start,
            period_end,
            basis: basis.unwrap_or(Basis::ExPost),
            figures,
            published,
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
        let published = published(
            self.published_on.as_deref(),
            self.published_document.as_ref(),
            &mut e,
        );
        finish(e, || Review {
            published,
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
        let published_on = self
            .published_on
            .as_deref()
            .map(|d| date(d, "/published_on", &mut e));
        finish(e, || MonitorOp::Withdraw {
            review,
            reason,
            published_on,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// State.

/// What monitoring needs to know of the bond.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorTerms {
    pub kind: BondKind,
    pub currency: Currency,
    /// Face value of one token: amount raised = tokens issued × denomination.
    pub denomination: Decimal,
    /// Issuance costs the issuer declared (0 if none): net proceeds = amount raised − costs.
    pub issuance_costs: Decimal,
    pub issue_date: Date,
    pub maturity_date: Date,
    pub categories: Vec<Category>,
    pub target_populations: Vec<String>,
    pub kpis: Vec<String>,
    pub look_back_years: Option<u8>,
    /// The issuer's fiscal year end: reporting years follow it.
    pub fiscal_year_end: YearEnd,
    /// The ids of the label schemes the bond is labelled under, in the order its terms give.
    pub label_schemes: Vec<String>,
    /// The sub-categories the framework names.
    pub subcategories: Vec<Eligible>,
}

impl MonitorTerms {
    /// The face value of `issued` tokens.
    pub fn amount_raised(&self, issued: u64) -> Decimal {
        Decimal::from(issued) * self.denomination
    }

    /// Net proceeds once `issued` tokens are issued: the amount raised less the declared
    /// issuance costs, never below zero.
    pub fn net_proceeds(&self, issued: u64) -> Decimal {
        (self.amount_raised(issued) - self.issuance_costs).max(Decimal::ZERO)
    }

    pub fn from_bond(terms: &BondTerms) -> Self {
        MonitorTerms {
            kind: terms.kind(),
            currency: terms.currency(),
            denomination: terms.denomination().value(),
            issuance_costs: terms.issuance_costs(),
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
            fiscal_year_end: terms.fiscal_year_end(),
            label_schemes: terms.label_schemes(),
            subcategories: terms.framework().subcategories().to_vec(),
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
    /// Net proceeds so far: the face value of the tokens issued less the issuance costs the
    /// bond's terms declare (docs/labels.md, section 7).
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
    /// Verifiers the issuer engaged: only they review the bond.
    reviewers: std::collections::BTreeSet<String>,
}

/// The day a fact counts from (its publication, or today when it states none), after checking
/// that it is not after today and, for a fact about the bond after issue, not before the issue
/// date.
fn check_published(
    published: Option<&Published>,
    post_issuance: bool,
    terms: &MonitorTerms,
    ctx: &Context<'_>,
    v: &mut Vec<Violation>,
) -> Date {
    let Some(p) = published else {
        return ctx.today;
    };
    if p.on > ctx.today {
        v.push(violation(
            "published_in_future",
            format!(
                "published_on {} is after today {} (Japan time): record a fact once it is published",
                format_date(p.on),
                format_date(ctx.today)
            ),
        ));
    }
    if post_issuance && p.on < terms.issue_date {
        v.push(violation(
            "published_before_issue",
            format!(
                "published_on {} is before the issue date {}: a report or review of the proceeds comes after issue",
                format_date(p.on),
                format_date(terms.issue_date)
            ),
        ));
    }
    p.on
}

/// The longest a reporting period starting on `start` may be.
fn period_months_max(start: Date, terms: &MonitorTerms) -> u32 {
    if start <= terms.issue_date {
        FIRST_PERIOD_MONTHS_MAX
    } else {
        PERIOD_MONTHS_MAX
    }
}

fn violation(code: &str, detail: impl Into<String>) -> Violation {
    Violation {
        code: code.into(),
        detail: detail.into(),
    }
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
            reviewers: std::collections::BTreeSet::new(),
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
    pub fn reviewers(&self) -> &std::collections::BTreeSet<String> {
        &self.reviewers
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

    /// Σ allocated per project over the reports in force: (financing, refinancing).
    pub fn allocated_by_use(&self) -> BTreeMap<String, (Decimal, Decimal)> {
        let mut out: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
        for r in self.reports_in_force() {
            for l in &r.report.lines {
                let entry = out.entry(l.project.clone()).or_default();
                match l.use_of_funds {
                    UseOfFunds::Financing => entry.0 += l.amount,
                    UseOfFunds::Refinancing => entry.1 += l.amount,
                }
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
                // A framework that lists categories binds its projects to them; one that lists
                // none (an SDG bond maps projects to SDG targets instead) takes any category
                // its kind allows.
                let listed = if t.categories.is_empty() {
                    t.kind.allows(p.category)
                } else {
                    t.categories.contains(&p.category)
                };
                if !listed {
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
                // A framework that lists sub-categories of a category binds that category's
                // projects to them.
                let listed_subs: Vec<&'static str> = t
                    .subcategories
                    .iter()
                    .filter(|e| e.category == p.category)
                    .filter_map(|e| e.sub)
                    .collect();
                if !listed_subs.is_empty()
                    && p.subcategory.is_none_or(|sub| !listed_subs.contains(&sub))
                {
                    v.push(violation(
                        "subcategory_not_in_framework",
                        format!(
                            "the framework's {} projects are in one of its sub-categories: {}",
                            p.category,
                            listed_subs.join(", ")
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
            MonitorOp::Engage { verifier } => {
                if self.reviewers.contains(verifier) {
                    v.push(violation(
                        "already_engaged",
                        format!("verifier {verifier} is already engaged for this bond"),
                    ));
                }
            }
            MonitorOp::Withdraw {
                review,
                published_on,
                ..
            } => match self.reviews.get(review) {
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
                Some(r) => {
                    if let Some(day) = *published_on {
                        let given = r.review.published.as_ref().map_or(r.on, |p| p.on);
                        if day > ctx.today {
                            v.push(violation(
                                "published_in_future",
                                format!(
                                    "published_on {} is after today {} (Japan time)",
                                    format_date(day),
                                    format_date(ctx.today)
                                ),
                            ));
                        }
                        if day < given {
                            v.push(violation(
                                "withdrawn_before_given",
                                format!(
                                    "review {review} was published on {}: it cannot be withdrawn before that",
                                    format_date(given)
                                ),
                            ));
                        }
                    }
                }
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
        } else if let Some(limit) = add_months(r.period_start, period_months_max(r.period_start, t))
            && r.period_end >= limit
        {
            // No limit past the last representable date: such a period cannot be too long.
            v.push(violation(
                "period_too_long",
                format!(
                    "a reporting period is at most {PERIOD_MONTHS_MAX} months (ICMA GBP: annually; EU GBS Art. 11), the first one from the issue date at most {FIRST_PERIOD_MONTHS_MAX}; this one ends on or after {}",
                    format_date(limit)
                ),
            ));
        }
        let published_on = check_published(r.published.as_ref(), true, t, ctx, v);
        if r.period_end > published_on {
            v.push(violation(
                "period_not_ended",
                format!(
                    "the period ends {}, after the report's publication {}: report a period once it has ended",
                    format_date(r.period_end),
                    format_date(published_on)
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
                        // The same day `years` earlier; 29 February falls back to the 28th.
                        let earliest = t
                            .issue_date
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
        // A report published in a rounding unit: every printed figure (each line and the
        // unallocated balance) may be off by less than one unit.
        let tolerance = |figures: usize| {
            r.rounding_unit
                .map_or(Decimal::ZERO, |unit| unit * Decimal::from(figures))
        };
        let unallocated_tolerance = tolerance(r.lines.len() + 1);
        if total <= ctx.net_proceeds
            && (r.unallocated - expected_unallocated).abs() > unallocated_tolerance
        {
            v.push(violation(
                "unallocated_mismatch",
                if unallocated_tolerance.is_zero() {
                    format!(
                        "the unallocated balance is net proceeds {} minus Σ allocated {total} = {expected_unallocated}, not {}",
                        ctx.net_proceeds, r.unallocated
                    )
                } else {
                    format!(
                        "the unallocated balance is net proceeds {} minus Σ allocated {total} = {expected_unallocated}; {} is further from it than the rounding allows ({unallocated_tolerance}: one rounding unit per printed figure)",
                        ctx.net_proceeds, r.unallocated
                    )
                },
            ));
        }
        if r.declared_fully_allocated && total <= ctx.net_proceeds {
            // The residual comes from every line in force being rounded.
            let lines_in_force: usize = self
                .reports_in_force()
                .filter(|a| replaced.is_none_or(|old| old.index != a.index))
                .map(|a| a.report.lines.len())
                .sum::<usize>()
                + r.lines.len();
            let allowed = tolerance(lines_in_force);
            if expected_unallocated > allowed || ctx.net_proceeds.is_zero() {
                v.push(violation(
                    "not_fully_allocated",
                    format!(
                        "the report declares full allocation, but net proceeds {} less Σ allocated {total} leaves {expected_unallocated}, more than the rounding of its figures allows ({allowed})",
                        ctx.net_proceeds
                    ),
                ));
            }
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
        } else if add_months(
            r.period_start,
            period_months_max(r.period_start, &self.terms),
        )
        .is_some_and(|limit| r.period_end >= limit)
        {
            v.push(violation(
                "period_too_long",
                format!("an impact reporting period is at most {PERIOD_MONTHS_MAX} months (ICMA Harmonised Framework: annual), the first one, from the issue date or before, at most {FIRST_PERIOD_MONTHS_MAX}"),
            ));
        }
        let published_on = check_published(r.published.as_ref(), true, &self.terms, ctx, v);
        if r.basis == Basis::ExPost && r.period_end > published_on {
            v.push(violation(
                "period_not_ended",
                "ex-post figures are measured: report them once the period has ended",
            ));
        }
        match r.amends {
            // A correction replaces a report in force, for the same period.
            Some(a) => match self.impacts_in_force().find(|i| i.index == a) {
                None => v.push(violation(
                    "unknown_report",
                    format!("entry {a} is not an impact report of this bond in force (a correction amends the latest version)"),
                )),
                Some(old) => {
                    if old.report.period_start != r.period_start
                        || old.report.period_end != r.period_end
                    {
                        v.push(violation(
                            "period_mismatch",
                            format!(
                                "a correction covers the period of the report it amends: {} to {}",
                                format_date(old.report.period_start),
                                format_date(old.report.period_end)
                            ),
                        ));
                    }
                }
            },
            // A new period may not overlap one already reported: a second report of the same
            // figures would count them twice (a correction names what it amends instead).
            None => {
                if let Some(other) = self.impacts_in_force().find(|i| {
                    i.report.period_start <= r.period_end && r.period_start <= i.report.period_end
                }) {
                    v.push(violation(
                        "period_overlaps",
                        format!(
                            "impact report at entry {} already covers {} to {}; correct it with `amends` instead",
                            other.index,
                            format_date(other.report.period_start),
                            format_date(other.report.period_end)
                        ),
                    ));
                }
            }
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
        // ICMA GBP external review guidelines: the issuer appoints its reviewer. A verifier the
        // issuer did not engage cannot move a label or a coupon.
        if !self.reviewers.contains(ctx.actor) {
            v.push(violation(
                "reviewer_not_engaged",
                "the bond's issuer has not engaged this verifier (review.engage)",
            ));
        }
        let post_issuance = matches!(r.scope, ReviewScope::Allocation | ReviewScope::Impact);
        check_published(r.published.as_ref(), post_issuance, &self.terms, ctx, v);
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
                // Exactly, or as the report declares (within its rounding, checked by the rules).
                let fully = !net_proceeds.is_zero()
                    && (allocated == net_proceeds || r.declared_fully_allocated);
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
            MonitorOp::Engage { verifier } => {
                self.reviewers.insert(verifier.clone());
                ("reviewer.engaged".into(), json!({ "verifier": verifier }))
            }
            MonitorOp::Withdraw {
                review,
                reason,
                published_on,
            } => {
                if let Some(r) = self.reviews.get_mut(review) {
                    r.withdrawn_on = Some(published_on.unwrap_or(on));
                }
                let mut data = json!({ "review_id": review, "reason": reason });
                if let Some(day) = published_on {
                    data["published_on"] = Value::String(format_date(*day));
                }
                ("review.withdrawn".into(), data)
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

    /// The facts the label lifecycle is judged on, each dated by the day it was published (the
    /// day recorded for entries that predate `published_on`).
    pub fn facts(&self, fully_redeemed_on: Option<Date>) -> label::Facts {
        let day = |published: &Option<Published>, recorded: Date| {
            published.as_ref().map_or(recorded, |p| p.on)
        };
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
                on: day(&r.review.published, r.on),
                recorded_on: r.on,
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
                published_on: day(&a.report.published, a.on),
                recorded_on: a.on,
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
                published_on: day(&a.report.published, a.on),
                recorded_on: a.on,
                fully_allocated: false,
            })
            .collect();
        label::Facts {
            issue_date: self.terms.issue_date,
            maturity_date: self.terms.maturity_date,
            fully_redeemed_on,
            fiscal_year_end: self.terms.fiscal_year_end,
            reviews,
            allocation_reports,
            impact_reports,
        }
    }

    /// Impact reports not replaced by a correction (a correction of a correction replaces
    /// both).
    pub fn impacts_in_force(&self) -> impl Iterator<Item = &RecordedImpact> {
        let replaced: std::collections::BTreeSet<u64> = self
            .impacts
            .iter()
            .filter_map(|i| i.report.amends)
            .collect();
        self.impacts
            .iter()
            .filter(move |i| !replaced.contains(&i.index))
    }

    /// The bond's share of a pro-rata figure: what it financed of the figure's projects ÷ their
    /// cost, at most 1; `None` for a whole-project figure, or projects without a cost.
    pub fn share_of(
        &self,
        f: &ImpactFigure,
        allocated: &BTreeMap<String, Decimal>,
    ) -> Option<Decimal> {
        if f.attribution == Some(Attribution::WholeProject) {
            return None;
        }
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
        (!cost.is_zero()).then(|| (funded / cost).min(Decimal::ONE))
    }

    /// The bond's impact, pro-rated to its financing share: the figures of the latest reporting
    /// period in force (figures are annual rates or stocks, so periods are never added up;
    /// corrections replace what they amend), per indicator, per category, per SDG goal.
    pub fn impact(&self) -> ImpactTotals {
        let allocated = self.allocated_by_project();
        let mut totals = ImpactTotals::default();
        let latest = self.impacts_in_force().map(|i| i.report.period_end).max();
        for report in self
            .impacts_in_force()
            .filter(|i| Some(i.report.period_end) == latest)
        {
            for f in &report.report.figures {
                // A whole-project figure is shown as published, never as the bond's share.
                if f.attribution == Some(Attribution::WholeProject) {
                    continue;
                }
                totals.units.insert(f.indicator.clone(), f.unit.clone());
                let Some(share) = self.share_of(f, &allocated) else {
                    continue;
                };
                let funded: Decimal = f
                    .projects
                    .iter()
                    .map(|p| allocated.get(p).copied().unwrap_or_default())
                    .sum();
                let bond_value = f.value * share;
                *totals.by_indicator.entry(f.indicator.clone()).or_default() += bond_value;
                for p in &f.projects {
                    let Some(project) = self.projects.get(p) else {
                        continue;
                    };
                    let part = if funded.is_zero() {
                        Decimal::ZERO
                    } else {
                        // The project's part of what the bond funded (≤ 1) first, so that the
                        // product stays far inside Decimal's range.
                        bond_value * (allocated.get(p).copied().unwrap_or_default() / funded)
                    };
                    *totals
                        .by_category
                        .entry(project.category.as_str().to_owned())
                        .or_default()
                        .entry(f.indicator.clone())
                        .or_default() += part;
                    let mut goals: Vec<u8> = project.sdg_targets.iter().map(|t| t.goal()).collect();
                    goals.sort_unstable();
                    goals.dedup();
                    for g in goals {
                        *totals
                            .by_sdg_goal
                            .entry(g)
                            .or_default()
                            .entry(f.indicator.clone())
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
    /// The unit of each indicator in the totals.
    pub units: BTreeMap<String, String>,
    pub by_indicator: BTreeMap<String, Decimal>,
    pub by_category: BTreeMap<String, BTreeMap<String, Decimal>>,
    pub by_sdg_goal: BTreeMap<u8, BTreeMap<String, Decimal>>,
}

fn d(x: Decimal) -> String {
    x.normalize().to_string()
}

fn project_data(p: &Project) -> Value {
    let mut v = json!({
        "project_id": p.id,
        "name": p.name,
        "category": p.category_path(),
        "sdg_targets": p.sdg_targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "country": p.country.as_str(),
        "location": p.location,
        "total_cost": d(p.total_cost),
        "financing_share": d(p.financing_share * Decimal::ONE_HUNDRED),
        "status": p.status.as_str(),
        "useful_life_years": p.useful_life_years.to_string(),
    });
    if let Some(kind) = p.kind {
        v["kind"] = Value::String(kind.as_str().to_owned());
    }
    v
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
            "amount": d(l.published_amount.unwrap_or(l.amount)),
            "use_of_funds": l.use_of_funds.as_str(),
            "expense": l.expense.as_str(),
            "value_date": format_date(l.value_date),
        })).collect::<Vec<_>>(),
        "unallocated": {
            "amount": d(r.foreign.as_ref().map_or(r.unallocated, |f| f.unallocated)),
            "placement": r.placement,
        },
        "net_proceeds": d(net_proceeds),
        "allocated_total": d(allocated),
        "fully_allocated": fully,
    });
    if let Some(f) = &r.foreign {
        v["currency"] = Value::String(f.currency.as_str().to_owned());
        v["exchange_rate"] = json!({
            "rate": d(f.rate),
            "on": format_date(f.rate_on),
            "source": f.rate_source,
        });
        if let Some(unit) = f.rounding_unit {
            v["rounding_unit"] = Value::String(d(unit));
        }
        // In the bond's currency: what the converted figures leave unaccounted for.
        v["residual"] = Value::String(d(net_proceeds - allocated));
    } else if let Some(unit) = r.rounding_unit {
        v["rounding_unit"] = Value::String(d(unit));
        // What the rounded figures leave unaccounted for, exactly.
        v["residual"] = Value::String(d(net_proceeds - allocated));
    }
    if r.declared_fully_allocated {
        v["declared_fully_allocated"] = Value::Bool(true);
    }
    if let Some(a) = r.amends {
        v["amends"] = Value::String(a.to_string());
    }
    if let Some(p) = &r.published {
        put_published(&mut v, p);
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
                "value": f.published_value,
                "unit": f.published_unit,
                "methodology": f.methodology,
                "baseline": f.baseline,
            });
            if let Some(b) = f.basis {
                x["basis"] = Value::String(b.as_str().to_owned());
            }
            if let Some(a) = f.attribution {
                x["attribution"] = Value::String(a.as_str().to_owned());
            }
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
    if let Some(p) = &r.published {
        put_published(&mut v, p);
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
    if let Some(p) = &r.published {
        put_published(&mut v, p);
    }
    v
}

fn put_published(v: &mut Value, p: &Published) {
    v["published_on"] = Value::String(format_date(p.on));
    if let Some((uri, sha256)) = &p.document {
        v["published_document"] = json!({ "uri": uri, "sha256": sha256 });
    }
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
                o.remove("residual");
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
        "reviewer.engaged" => parse::<EngagementSpec>(data)?.validate().map_err(errors)?,
        other => return Err(format!("{other} is not a monitoring entry")),
    })
}

#[cfg(test)]
mod tests {
    //! The monitoring rules as a specification: for each violation code, a case just inside
    //! and just outside its limit. Bonds are the examples of `domain::examples`; the green one
    //! is Osaka's ¥10bn (10,000 tokens of ¥1m) issued 2025-06-20 with a 3-year look-back.

    use time::macros::date;

    use super::*;
    use crate::domain::bond::BondSpec;
    use crate::domain::examples;

    const ISSUER: &str = "issuer-osaka-prefecture";
    const VERIFIER: &str = "verifier-kansai-review";
    const OTHER_VERIFIER: &str = "verifier-naniwa-assurance";
    /// The green bond's net proceeds once all 10,000 tokens of ¥1m are issued.
    const NET: &str = "10000000000";

    /// (entry type, data, index, date, actor, net proceeds): what the ledger keeps of an entry.
    type Recorded = (String, Value, u64, Date, String, Decimal);

    fn dec(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    fn jpy() -> Currency {
        Currency::parse("JPY").expect("JPY")
    }

    fn terms(spec: BondSpec) -> MonitorTerms {
        MonitorTerms::from_bond(&spec.validate().expect("the example bond validates"))
    }

    fn nowhere(_: &str) -> Option<Elsewhere> {
        None
    }

    fn codes(violations: Vec<Violation>) -> Vec<String> {
        violations.into_iter().map(|v| v.code).collect()
    }

    fn field_codes(result: Result<impl std::fmt::Debug, Vec<FieldError>>) -> Vec<(String, String)> {
        match result {
            Ok(_) => Vec::new(),
            Err(errors) => {
                // A malformed amount is also reported as not more than zero: each (pointer,
                // code) is read once here.
                let mut list: Vec<_> = errors.into_iter().map(|e| (e.pointer, e.code)).collect();
                list.dedup();
                list
            }
        }
    }

    /// One bond's monitoring state with the entries recorded so far.
    struct Bond {
        monitor: Monitor,
        /// The next entry index: 0 is the registration and 1 the issuance of the tokens.
        next: u64,
        log: Vec<Recorded>,
    }

    impl Bond {
        fn new(terms: MonitorTerms) -> Self {
            Bond {
                monitor: engaged(Monitor::new(terms)),
                next: 2,
                log: Vec::new(),
            }
        }

        /// What `actor` doing `op` on `today` breaks, with every token issued and no other
        /// bond financing the projects.
        fn check(&self, op: &MonitorOp, actor: &str, today: Date) -> Vec<String> {
            self.check_with(op, actor, today, dec(NET), &nowhere)
        }

        fn check_with(
            &self,
            op: &MonitorOp,
            actor: &str,
            today: Date,
            net_proceeds: Decimal,
            elsewhere: &dyn Fn(&str) -> Option<Elsewhere>,
        ) -> Vec<String> {
            let ctx = Context {
                net_proceeds,
                actor,
                today,
                elsewhere,
            };
            codes(self.monitor.check(op, &ctx))
        }

        /// Check `op` (it must pass) and record it as the next entry; its index.
        #[track_caller]
        fn record(&mut self, op: MonitorOp, actor: &str, on: Date) -> u64 {
            assert_eq!(self.check(&op, actor, on), Vec::<String>::new(), "{op:?}");
            let index = self.next;
            let net = dec(NET);
            let (kind, data) = self.monitor.apply(&op, index, on, actor, net);
            self.log
                .push((kind, data, index, on, actor.to_owned(), net));
            self.next += 1;
            index
        }
    }

    fn project_spec(id: &str, category: &str, cost: &str, share: &str) -> ProjectSpec {
        ProjectSpec {
            project_id: id.to_owned(),
            kind: None,
            name: format!("Project {id}"),
            category: category.to_owned(),
            sdg_targets: vec!["7.2".to_owned(), "13.1".to_owned()],
            country: "JP".to_owned(),
            location: "Osaka Bay, Osaka".to_owned(),
            total_cost: cost.to_owned(),
            financing_share: share.to_owned(),
            status: "building".to_owned(),
            useful_life_years: "25".to_owned(),
        }
    }

    fn project(id: &str, category: &str, cost: &str, share: &str) -> MonitorOp {
        MonitorOp::RegisterProject(
            project_spec(id, category, cost, share)
                .validate(jpy())
                .expect("a valid project"),
        )
    }

    fn status(project: &str, status: &str) -> MonitorOp {
        ProjectStatusSpec {
            project_id: project.to_owned(),
            status: status.to_owned(),
            reason: "Sold to a municipal utility (material change)".to_owned(),
        }
        .validate()
        .expect("a valid status change")
    }

    fn line(
        project: &str,
        amount: &str,
        use_of_funds: &str,
        value_date: &str,
    ) -> AllocationLineSpec {
        AllocationLineSpec {
            project_id: project.to_owned(),
            amount: amount.to_owned(),
            use_of_funds: use_of_funds.to_owned(),
            expense: "capex".to_owned(),
            value_date: value_date.to_owned(),
        }
    }

    fn allocation_spec(
        start: &str,
        end: &str,
        lines: Vec<AllocationLineSpec>,
        unallocated: &str,
    ) -> AllocationReportSpec {
        AllocationReportSpec {
            period_start: start.to_owned(),
            period_end: end.to_owned(),
            lines,
            unallocated: UnallocatedSpec {
                amount: unallocated.to_owned(),
                placement: "Japanese government bonds and bank deposits".to_owned(),
            },
            rounding_unit: None,
            declared_fully_allocated: None,
            currency: None,
            exchange_rate: None,
            published_on: None,
            published_document: None,
            amends: None,
        }
    }

    fn allocation(
        start: &str,
        end: &str,
        lines: Vec<AllocationLineSpec>,
        unallocated: &str,
    ) -> MonitorOp {
        MonitorOp::ReportAllocation(
            allocation_spec(start, end, lines, unallocated)
                .validate(jpy())
                .expect("a valid allocation report"),
        )
    }

    fn correction(
        amends: u64,
        start: &str,
        end: &str,
        lines: Vec<AllocationLineSpec>,
        unallocated: &str,
    ) -> MonitorOp {
        let mut spec = allocation_spec(start, end, lines, unallocated);
        spec.amends = Some(amends.to_string());
        MonitorOp::ReportAllocation(spec.validate(jpy()).expect("a valid correction"))
    }

    /// A figure with the catalogue's unit, and the emission factor or target population its
    /// indicator needs.
    fn figure(projects: &[&str], indicator_id: &str, value: &str) -> ImpactFigureSpec {
        let ind = indicator(indicator_id).expect("a catalogue indicator");
        ImpactFigureSpec {
            projects: projects.iter().map(|p| (*p).to_owned()).collect(),
            indicator: indicator_id.to_owned(),
            value: value.to_owned(),
            unit: ind.unit.to_owned(),
            basis: None,
            attribution: None,
            methodology: "Metered at the site".to_owned(),
            baseline: "Kansai grid mix 2024".to_owned(),
            emission_factor: ind.ghg.then(|| EmissionFactorSpec {
                value: "0.44".to_owned(),
                unit: "tCO2e/MWh".to_owned(),
                source: "Kansai Electric Power FY2022 adjusted factor".to_owned(),
            }),
            target_population: ind
                .needs_target_population
                .then(|| "Low-income households in Osaka City".to_owned()),
        }
    }

    fn impact_spec(
        start: &str,
        end: &str,
        basis: &str,
        figures: Vec<ImpactFigureSpec>,
    ) -> ImpactReportSpec {
        ImpactReportSpec {
            period_start: start.to_owned(),
            period_end: end.to_owned(),
            basis: basis.to_owned(),
            figures,
            published_on: None,
            published_document: None,
            amends: None,
        }
    }

    fn impact(start: &str, end: &str, figures: Vec<ImpactFigureSpec>) -> MonitorOp {
        MonitorOp::ReportImpact(
            impact_spec(start, end, "ex_post", figures)
                .validate()
                .expect("a valid impact report"),
        )
    }

    fn review_spec(id: &str, kind: &str, conclusion: &str, report: Option<u64>) -> ReviewSpec {
        ReviewSpec {
            review_id: id.to_owned(),
            kind: kind.to_owned(),
            conclusion: conclusion.to_owned(),
            report_index: report.map(|i| i.to_string()),
            kpi: None,
            summary: "Reviewed against ICMA GBP 2021 and the issuer's framework".to_owned(),
            document_uri: None,
            published_on: None,
            published_document: None,
        }
    }

    fn review(id: &str, kind: &str, conclusion: &str, report: Option<u64>) -> MonitorOp {
        MonitorOp::Review(
            review_spec(id, kind, conclusion, report)
                .validate()
                .expect("a valid review"),
        )
    }

    fn kpi_review(id: &str, kpi: &str, value: &str, met: bool) -> MonitorOp {
        let mut spec = review_spec(id, "kpi", if met { "positive" } else { "negative" }, None);
        spec.kpi = Some(KpiFindingSpec {
            kpi_id: kpi.to_owned(),
            value: value.to_owned(),
            met,
        });
        MonitorOp::Review(spec.validate().expect("a valid KPI review"))
    }

    fn withdraw(id: &str) -> MonitorOp {
        WithdrawalSpec {
            review_id: id.to_owned(),
            reason: "Issued in error".to_owned(),
            published_on: None,
        }
        .validate()
        .expect("a valid withdrawal")
    }

    /// The green bond with a solar plant (¥8bn, all financeable by bonds) and electric buses
    /// (¥4bn, at most 50% from bonds: ¥2bn), registered on 2025-06-25.
    fn green() -> Bond {
        let mut bond = Bond::new(terms(examples::green()));
        for op in [
            project("SOLAR-1", "renewable_energy", "8000000000", "100"),
            project("EVBUS-1", "clean_transportation", "4000000000", "50"),
        ] {
            bond.record(op, ISSUER, date!(2025 - 06 - 25));
        }
        bond
    }

    /// The first allocation period of the green bond, with its one line (and the rest
    /// unallocated).
    fn first_period(project: &str, amount: &str) -> MonitorOp {
        let rest = dec(NET) - dec(amount);
        allocation(
            "2025-06-20",
            "2026-03-31",
            vec![line(project, amount, "financing", "2025-09-01")],
            &rest.to_string(),
        )
    }

    const AFTER_FIRST_PERIOD: Date = date!(2026 - 04 - 30);

    // -----------------------------------------------------------------------------------------
    // Field validation (`*Spec::validate`).

    #[test]
    fn a_project_spec_becomes_a_project_with_its_financing_share_as_a_fraction() {
        let p = project_spec("EVBUS-1", "clean_transportation", "4000000000", "60")
            .validate(jpy())
            .unwrap();
        assert_eq!(p.financing_share, dec("0.6"));
        assert_eq!(p.financeable(), dec("2400000000"));
        assert_eq!(p.category, Category::CleanTransportation);
        assert_eq!(p.status, ProjectStatus::Building);
        assert_eq!(p.useful_life_years, 25);
        assert_eq!(p.sdg_targets.len(), 2);
    }

    #[test]
    fn project_ids_are_1_to_64_characters_of_a_safe_alphabet() {
        let with_id = |id: &str| {
            field_codes(project_spec(id, "renewable_energy", "1", "100").validate(jpy()))
        };
        assert_eq!(with_id(&"A".repeat(ID_CHARS_MAX)), []);
        assert_eq!(with_id("SOLAR-1.b_2:x"), []);
        let refused = [("/project_id".to_owned(), "invalid_id".to_owned())];
        assert_eq!(with_id(&"A".repeat(ID_CHARS_MAX + 1)), refused);
        assert_eq!(with_id(""), refused);
        assert_eq!(with_id("SOLAR 1"), refused);
    }

    #[test]
    fn the_financing_share_is_a_percentage_above_0_and_at_most_100() {
        let with_share = |share: &str| {
            field_codes(project_spec("P", "renewable_energy", "1", share).validate(jpy()))
                .into_iter()
                .map(|(_, code)| code)
                .collect::<Vec<_>>()
        };
        assert_eq!(with_share("100"), Vec::<String>::new());
        assert_eq!(with_share("0.01"), Vec::<String>::new());
        assert_eq!(with_share("100.01"), ["invalid_share"]);
        assert_eq!(with_share("0"), ["invalid_share"]);
        assert_eq!(with_share("-5"), ["invalid_number", "invalid_share"]);
    }

    #[test]
    fn the_useful_life_is_1_to_100_whole_years() {
        let with_life = |life: &str| {
            let mut spec = project_spec("P", "renewable_energy", "1", "100");
            spec.useful_life_years = life.to_owned();
            field_codes(spec.validate(jpy()))
        };
        assert_eq!(with_life(&USEFUL_LIFE_YEARS_MAX.to_string()), []);
        assert_eq!(with_life("1"), []);
        let refused = [(
            "/useful_life_years".to_owned(),
            "invalid_useful_life".to_owned(),
        )];
        assert_eq!(with_life(&(USEFUL_LIFE_YEARS_MAX + 1).to_string()), refused);
        assert_eq!(with_life("0"), refused);
        assert_eq!(with_life("2.5"), refused);
    }

    #[test]
    fn a_project_costs_a_positive_amount_in_the_bond_currency() {
        let with_cost = |cost: &str| {
            field_codes(project_spec("P", "renewable_energy", cost, "100").validate(jpy()))
        };
        assert_eq!(with_cost("1"), []);
        let refused = [("/total_cost".to_owned(), "invalid_amount".to_owned())];
        assert_eq!(with_cost("0"), refused);
        // The yen has no minor unit (ISO 4217).
        assert_eq!(with_cost("1.5"), refused);
    }

    #[test]
    fn every_field_error_of_a_project_is_reported_at_once_with_its_pointer() {
        let mut spec = project_spec("P", "forestry", "1", "100");
        spec.sdg_targets = vec!["7.2".to_owned(), "7".to_owned()];
        spec.country = "XX".to_owned();
        spec.status = "closed".to_owned();
        spec.name = "  ".to_owned();
        assert_eq!(
            field_codes(spec.validate(jpy())),
            [
                ("/name".to_owned(), "invalid_text".to_owned()),
                ("/category".to_owned(), "invalid_value".to_owned()),
                ("/sdg_targets/1".to_owned(), "invalid_sdg_target".to_owned()),
                ("/country".to_owned(), "invalid_country".to_owned()),
                ("/status".to_owned(), "invalid_value".to_owned()),
            ]
        );
    }

    #[test]
    fn a_status_change_and_a_withdrawal_name_their_subject_and_give_a_reason() {
        let change = ProjectStatusSpec {
            project_id: "SOLAR-1".to_owned(),
            status: "closed".to_owned(),
            reason: "".to_owned(),
        };
        assert_eq!(
            field_codes(change.validate()),
            [
                ("/status".to_owned(), "invalid_value".to_owned()),
                ("/reason".to_owned(), "invalid_text".to_owned()),
            ]
        );
        let withdrawal = WithdrawalSpec {
            review_id: "".to_owned(),
            reason: "x".repeat(TEXT_CHARS_MAX + 1),
            published_on: None,
        };
        assert_eq!(
            field_codes(withdrawal.validate()),
            [
                ("/review_id".to_owned(), "invalid_id".to_owned()),
                ("/reason".to_owned(), "invalid_text".to_owned()),
            ]
        );
        let withdrawal = WithdrawalSpec {
            review_id: "SPO-2025".to_owned(),
            reason: "x".repeat(TEXT_CHARS_MAX),
            published_on: None,
        };
        assert_eq!(field_codes(withdrawal.validate()), []);
    }

    #[test]
    fn an_allocation_report_has_at_most_500_lines() {
        let lines = |n: usize| vec![line("SOLAR-1", "1", "financing", "2025-09-01"); n];
        let report = |n: usize| allocation_spec("2025-06-20", "2026-03-31", lines(n), "0");
        assert_eq!(field_codes(report(LINES_MAX).validate(jpy())), []);
        assert_eq!(
            field_codes(report(LINES_MAX + 1).validate(jpy())),
            [("/lines".to_owned(), "too_many_lines".to_owned())]
        );
    }

    #[test]
    fn every_field_error_of_an_allocation_report_is_reported_with_its_pointer() {
        let mut spec = allocation_spec(
            "2025-06-20",
            "2026-02-30",
            vec![
                line("SOLAR-1", "0", "grant", "2025-09-01"),
                line("SOLAR-1", "1.5", "financing", "yesterday"),
            ],
            "-1",
        );
        spec.lines[0].expense = "capital".to_owned();
        spec.amends = Some("first".to_owned());
        assert_eq!(
            field_codes(spec.validate(jpy())),
            [
                ("/period_end".to_owned(), "invalid_date".to_owned()),
                ("/lines/0/amount".to_owned(), "invalid_amount".to_owned()),
                (
                    "/lines/0/use_of_funds".to_owned(),
                    "invalid_value".to_owned()
                ),
                ("/lines/0/expense".to_owned(), "invalid_value".to_owned()),
                ("/lines/1/amount".to_owned(), "invalid_amount".to_owned()),
                ("/lines/1/value_date".to_owned(), "invalid_date".to_owned()),
                (
                    "/unallocated/amount".to_owned(),
                    "invalid_amount".to_owned()
                ),
                ("/amends".to_owned(), "invalid_index".to_owned()),
            ]
        );
    }

    #[test]
    fn an_impact_report_has_1_to_500_figures() {
        let report = |n: usize| {
            impact_spec(
                "2025-06-20",
                "2026-03-31",
                "ex_post",
                vec![figure(&["SOLAR-1"], "renewable_generation", "12000"); n],
            )
        };
        assert_eq!(field_codes(report(1).validate()), []);
        assert_eq!(field_codes(report(LINES_MAX).validate()), []);
        assert_eq!(
            field_codes(report(LINES_MAX + 1).validate()),
            [("/figures".to_owned(), "too_many_figures".to_owned())]
        );
        assert_eq!(
            field_codes(report(0).validate()),
            [("/figures".to_owned(), "required".to_owned())]
        );
    }

    #[test]
    fn a_figure_keeps_what_was_published_and_converts_it_exactly() {
        let mut kwh = figure(&["SOLAR-1"], "renewable_generation", "624770");
        kwh.unit = "kWh/年".to_owned();
        let mut capacity = figure(&["SOLAR-1"], "renewable_capacity", "49.0");
        capacity.unit = "MW".to_owned();
        capacity.attribution = Some("whole_project".to_owned());
        capacity.basis = Some("ex_ante".to_owned());
        let mut own = figure(&["SOLAR-1"], "renewable_generation", "1200");
        own.indicator = "issuer:households_powered".to_owned();
        own.unit = "世帯".to_owned();
        let spec = impact_spec(
            "2025-06-20",
            "2026-03-31",
            "ex_post",
            vec![kwh, capacity, own],
        );
        let report = spec.validate().unwrap();
        let [kwh, capacity, own] = &report.figures[..] else {
            panic!("three figures")
        };
        assert_eq!(
            (kwh.published_value.as_str(), kwh.published_unit.as_str()),
            ("624770", "kWh/年")
        );
        assert_eq!((kwh.value, kwh.unit.as_str()), (dec("624.77"), "MWh/yr"));
        assert_eq!(capacity.published_value, "49.0");
        assert_eq!(capacity.value.to_string(), "49.0");
        assert_eq!(capacity.attribution, Some(Attribution::WholeProject));
        assert_eq!(capacity.basis, Some(Basis::ExAnte));
        assert_eq!((own.unit.as_str(), own.value), ("世帯", dec("1200")));
        // The ledger keeps the figure as published; replaying it gives the same figure.
        let data = impact_data(&report);
        assert_eq!(data["figures"][1]["value"], "49.0");
        assert_eq!(data["figures"][0]["unit"], "kWh/年");
        assert_eq!(data["figures"][1]["attribution"], "whole_project");
        let replayed = recorded_op("impact.reported", &data, jpy()).unwrap();
        assert_eq!(replayed, MonitorOp::ReportImpact(report));
    }

    #[test]
    fn a_whole_project_figure_is_shown_but_never_counted_as_the_bonds_share() {
        let mut bond = green();
        let today = AFTER_FIRST_PERIOD;
        bond.record(
            allocation(
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", "4000000000", "financing", "2025-09-01")],
                "6000000000",
            ),
            ISSUER,
            today,
        );
        let pro_rata = figure(&["SOLAR-1"], "renewable_generation", "12000");
        let mut whole = figure(&["SOLAR-1"], "renewable_capacity", "47.5");
        whole.attribution = Some("whole_project".to_owned());
        let report = MonitorOp::ReportImpact(
            impact_spec("2025-06-20", "2026-03-31", "ex_post", vec![pro_rata, whole])
                .validate()
                .unwrap(),
        );
        bond.record(report, ISSUER, today);
        let totals = bond.monitor.impact();
        // Half the ¥8bn plant financed: half its generation; its capacity is not pro-rated.
        assert_eq!(
            totals.by_indicator.get("renewable_generation"),
            Some(&dec("6000"))
        );
        assert_eq!(totals.by_indicator.get("renewable_capacity"), None);
    }

    #[test]
    fn an_impact_figure_uses_a_unit_of_its_indicator_and_names_its_population() {
        let mut wrong_unit = figure(&["SOLAR-1"], "renewable_generation", "12000");
        // Capacity is not energy.
        wrong_unit.unit = "MW".to_owned();
        // Recommended, not required: accepted, and shown as not stated.
        let mut no_factor = figure(&["SOLAR-1"], "ghg_avoided", "5280");
        no_factor.emission_factor = None;
        let mut no_population = figure(&["HOUSING-1"], "beneficiaries", "1200");
        no_population.target_population = None;
        let mut unknown = figure(&["SOLAR-1"], "renewable_generation", "1");
        unknown.indicator = "trees_planted".to_owned();
        let nobody = figure(&[], "renewable_generation", "1");
        let twice = figure(&["SOLAR-1", "SOLAR-1"], "renewable_generation", "1");
        let spec = impact_spec(
            "2025-06-20",
            "2026-03-31",
            "measured",
            vec![wrong_unit, no_factor, no_population, unknown, nobody, twice],
        );
        assert_eq!(
            field_codes(spec.validate()),
            [
                ("/basis".to_owned(), "invalid_value".to_owned()),
                ("/figures/0/unit".to_owned(), "wrong_unit".to_owned()),
                (
                    "/figures/2/target_population".to_owned(),
                    "target_population_required".to_owned()
                ),
                (
                    "/figures/3/indicator".to_owned(),
                    "unknown_indicator".to_owned()
                ),
                (
                    "/figures/4/projects".to_owned(),
                    "invalid_projects".to_owned()
                ),
                (
                    "/figures/5/projects".to_owned(),
                    "duplicate_project".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_review_names_a_report_or_a_kpi_exactly_when_its_kind_needs_one() {
        let check = |spec: ReviewSpec| field_codes(spec.validate());
        assert_eq!(
            check(review_spec("SPO", "pre_issuance", "positive", None)),
            []
        );
        assert_eq!(
            check(review_spec("VER", "allocation", "positive", Some(4))),
            []
        );
        assert_eq!(
            check(review_spec("VER", "allocation", "positive", None)),
            [("/report_index".to_owned(), "required".to_owned())]
        );
        assert_eq!(
            check(review_spec("IMP", "impact", "positive", None)),
            [("/report_index".to_owned(), "required".to_owned())]
        );
        assert_eq!(
            check(review_spec("SPO", "pre_issuance", "positive", Some(4))),
            [(
                "/report_index".to_owned(),
                "not_allowed_for_kind".to_owned()
            )]
        );
        assert_eq!(
            check(review_spec("KPI", "kpi", "positive", None)),
            [("/kpi".to_owned(), "required".to_owned())]
        );
        let mut spo_with_kpi = review_spec("SPO", "pre_issuance", "positive", None);
        spo_with_kpi.kpi = Some(KpiFindingSpec {
            kpi_id: "ghg-scope-1-2".to_owned(),
            value: "830000".to_owned(),
            met: true,
        });
        assert_eq!(
            check(spo_with_kpi),
            [("/kpi".to_owned(), "not_allowed_for_kind".to_owned())]
        );
        assert_eq!(
            check(review_spec("X", "audit", "mixed", None)),
            [
                ("/kind".to_owned(), "invalid_value".to_owned()),
                ("/conclusion".to_owned(), "invalid_value".to_owned()),
            ]
        );
    }

    // -----------------------------------------------------------------------------------------
    // Projects.

    #[test]
    fn a_project_outside_the_framework_categories_is_refused() {
        let bond = green();
        let today = date!(2025 - 07 - 01);
        let register = |category| project("P-1", category, "1000000", "100");
        assert_eq!(
            bond.check(&register("green_buildings"), ISSUER, today),
            Vec::<String>::new()
        );
        // A green category, but not one of this framework's four.
        assert_eq!(
            bond.check(&register("energy_efficiency"), ISSUER, today),
            ["category_not_in_framework"]
        );
        assert_eq!(
            bond.check(&register("affordable_housing"), ISSUER, today),
            ["category_not_in_framework"]
        );
    }

    #[test]
    fn every_project_of_an_sdg_bond_maps_to_an_sdg_target() {
        // The Sakai example's framework lists no category; give it two so that only the SDG
        // rule is at stake here.
        let mut spec = examples::sdg();
        spec.framework.categories = vec![
            Category::AccessToEssentialServices,
            Category::RenewableEnergy,
        ];
        let bond = Bond::new(terms(spec));
        let today = date!(2025 - 11 - 01);
        let mut clinic = project_spec(
            "CLINIC-1",
            "access_to_essential_services",
            "900000000",
            "100",
        );
        clinic.sdg_targets = vec!["3.8".to_owned()];
        let op = MonitorOp::RegisterProject(clinic.validate(jpy()).unwrap());
        assert_eq!(bond.check(&op, ISSUER, today), Vec::<String>::new());
        clinic.sdg_targets.clear();
        let op = MonitorOp::RegisterProject(clinic.validate(jpy()).unwrap());
        assert_eq!(bond.check(&op, ISSUER, today), ["sdg_target_required"]);
        // A green bond's projects need no SDG target.
        let mut solar = project_spec("SOLAR-2", "renewable_energy", "1000000", "100");
        solar.sdg_targets.clear();
        let op = MonitorOp::RegisterProject(solar.validate(jpy()).unwrap());
        assert_eq!(green().check(&op, ISSUER, today), Vec::<String>::new());
    }

    #[test]
    fn a_project_is_registered_once_per_bond() {
        let bond = green();
        let again = project("SOLAR-1", "renewable_energy", "8000000000", "100");
        assert_eq!(
            bond.check(&again, ISSUER, date!(2025 - 07 - 01)),
            ["project_exists"]
        );
    }

    #[test]
    fn a_project_other_bonds_finance_is_registered_with_the_same_cost_and_share() {
        let bond = Bond::new(terms(examples::green()));
        let today = date!(2025 - 07 - 01);
        let buses = |_: &str| {
            Some(Elsewhere {
                total_cost: dec("4000000000"),
                financing_share: dec("0.5"),
                allocated: dec("1500000000"),
            })
        };
        let register = |cost, share| project("EVBUS-1", "clean_transportation", cost, share);
        let check = |op: &MonitorOp| bond.check_with(op, ISSUER, today, dec(NET), &buses);
        assert_eq!(check(&register("4000000000", "50")), Vec::<String>::new());
        assert_eq!(
            check(&register("4000000001", "50")),
            ["project_differs_elsewhere"]
        );
        assert_eq!(
            check(&register("4000000000", "50.01")),
            ["project_differs_elsewhere"]
        );
    }

    #[test]
    fn only_a_registered_project_changes_status() {
        let bond = green();
        let today = date!(2025 - 07 - 01);
        assert_eq!(
            bond.check(&status("SOLAR-1", "operating"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&status("WIND-9", "operating"), ISSUER, today),
            ["unknown_project"]
        );
    }

    #[test]
    fn a_sustainability_linked_bond_has_no_projects_allocation_or_project_impact() {
        let bond = Bond::new(terms(examples::sustainability_linked()));
        let today = date!(2026 - 10 - 01);
        let register = project("PLANT-1", "renewable_energy", "1000000", "100");
        assert!(
            bond.check(&register, ISSUER, today)
                .contains(&"no_use_of_proceeds".to_owned())
        );
        let report = allocation("2025-09-10", "2026-08-31", vec![], "10000000000");
        assert_eq!(bond.check(&report, ISSUER, today), ["no_use_of_proceeds"]);
        let report = impact(
            "2025-09-10",
            "2026-08-31",
            vec![figure(&["PLANT-1"], "renewable_generation", "1")],
        );
        assert_eq!(bond.check(&report, ISSUER, today), ["no_use_of_proceeds"]);
    }

    // -----------------------------------------------------------------------------------------
    // Allocation periods.

    #[test]
    fn a_period_ends_on_or_after_the_day_it_starts() {
        let bond = green();
        let today = AFTER_FIRST_PERIOD;
        let report = |end| allocation("2025-06-20", end, vec![], NET);
        assert_eq!(
            bond.check(&report("2025-06-20"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("2025-06-19"), ISSUER, today),
            ["period_reversed"]
        );
    }

    #[test]
    fn the_first_period_is_at_most_twenty_four_months() {
        // A scheme may join a short first fiscal year to the next: the first report, from the
        // issue date, may cover up to two years; every later one at most twelve months.
        let bond = green();
        let today = date!(2027 - 07 - 01);
        let report = |end| allocation("2025-06-20", end, vec![], NET);
        assert_eq!(
            bond.check(&report("2027-06-19"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("2027-06-20"), ISSUER, today),
            ["period_too_long"]
        );
    }

    #[test]
    fn twelve_months_from_29_february_end_on_28_february() {
        let mut spec = examples::green();
        spec.issue_date = "2028-02-29".to_owned();
        spec.maturity_date = "2033-02-28".to_owned();
        let bond = Bond::new(terms(spec));
        let today = date!(2030 - 03 - 31);
        let report = |end| allocation("2028-02-29", end, vec![], NET);
        // Twenty-four months, the first period's limit, end the same way.
        assert_eq!(
            bond.check(&report("2030-02-27"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("2030-02-28"), ISSUER, today),
            ["period_too_long"]
        );
    }

    /// `op` with `published_on` (and no document).
    fn published(op: MonitorOp, on: &str) -> MonitorOp {
        let p = Some(Published {
            on: crate::domain::wire::parse_date(on).unwrap(),
            document: None,
        });
        match op {
            MonitorOp::ReportAllocation(mut r) => {
                r.published = p;
                MonitorOp::ReportAllocation(r)
            }
            MonitorOp::ReportImpact(mut r) => {
                r.published = p;
                MonitorOp::ReportImpact(r)
            }
            MonitorOp::Review(mut r) => {
                r.published = p;
                MonitorOp::Review(r)
            }
            other => other,
        }
    }

    #[test]
    fn a_fact_is_judged_on_its_publication_day_which_is_not_after_today() {
        let bond = green();
        let report = allocation("2025-06-20", "2026-03-31", vec![], NET);
        // Recorded years later, published the day the period ended: accepted.
        let today = date!(2029 - 01 - 10);
        assert_eq!(
            bond.check(&published(report.clone(), "2026-03-31"), ISSUER, today),
            Vec::<String>::new()
        );
        // Published before the period ended.
        assert_eq!(
            bond.check(&published(report.clone(), "2026-03-30"), ISSUER, today),
            ["period_not_ended"]
        );
        // Published after today (Japan).
        assert_eq!(
            bond.check(&published(report.clone(), "2029-01-10"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&published(report, "2029-01-11"), ISSUER, today),
            ["published_in_future"]
        );
    }

    #[test]
    fn a_post_issuance_fact_is_not_published_before_the_issue_date_but_an_opinion_may_be() {
        let bond = green();
        let today = date!(2026 - 05 - 01);
        let spo = review("SPO-2025", "pre_issuance", "positive", None);
        assert_eq!(
            bond.check(&published(spo, "2025-05-30"), VERIFIER, today),
            Vec::<String>::new()
        );
        let impact_report = impact("2025-06-20", "2026-03-31", solar_generation());
        let mut ex_ante = impact_spec("2025-06-20", "2026-03-31", "ex_ante", solar_generation());
        ex_ante.published_on = Some("2025-06-19".to_owned());
        let ex_ante = MonitorOp::ReportImpact(ex_ante.validate().unwrap());
        assert_eq!(
            bond.check(&ex_ante, ISSUER, today),
            ["published_before_issue"]
        );
        assert_eq!(
            bond.check(&published(impact_report, "2026-04-30"), ISSUER, today),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_withdrawal_comes_after_the_review_and_not_after_today() {
        let mut bond = green();
        let spo = published(
            review("SPO-2025", "pre_issuance", "positive", None),
            "2025-05-30",
        );
        bond.record(spo, VERIFIER, date!(2026 - 01 - 10));
        let withdraw_on = |day: &str| {
            WithdrawalSpec {
                review_id: "SPO-2025".to_owned(),
                reason: "Issued in error".to_owned(),
                published_on: Some(day.to_owned()),
            }
            .validate()
            .unwrap()
        };
        let today = date!(2026 - 02 - 01);
        assert_eq!(
            bond.check(&withdraw_on("2025-05-30"), VERIFIER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&withdraw_on("2025-05-29"), VERIFIER, today),
            ["withdrawn_before_given"]
        );
        assert_eq!(
            bond.check(&withdraw_on("2026-02-02"), VERIFIER, today),
            ["published_in_future"]
        );
    }

    #[test]
    fn a_published_document_names_its_digest_and_its_day() {
        let mut spec = allocation_spec("2025-06-20", "2026-03-31", vec![], NET);
        spec.published_document = Some(PublishedDocumentSpec {
            uri: "https://issuer.example/report.pdf".to_owned(),
            sha256: "AB".repeat(32),
        });
        assert_eq!(
            field_codes(spec.validate(jpy())),
            [
                (
                    "/published_document/sha256".to_owned(),
                    "invalid_sha256".to_owned()
                ),
                ("/published_on".to_owned(), "required".to_owned()),
            ]
        );
        spec.published_on = Some("2026-06-30".to_owned());
        spec.published_document = Some(PublishedDocumentSpec {
            uri: "https://issuer.example/report.pdf".to_owned(),
            sha256: "ab".repeat(32),
        });
        assert_eq!(field_codes(spec.validate(jpy())), []);
    }

    #[test]
    fn a_report_rounded_to_its_unit_may_declare_full_allocation_within_the_rounding() {
        let bond = green();
        let today = AFTER_FIRST_PERIOD;
        // Published in 億円 (¥100m): 79.6 + 19.9 = 99.5 of 100 (the printed figures are
        // truncated); ¥50m of the ¥10bn is not in any printed line.
        let report = |unit: Option<&str>, solar: &str, declared: bool| {
            let mut spec = allocation_spec(
                "2025-06-20",
                "2026-03-31",
                vec![
                    line("SOLAR-1", solar, "financing", "2025-09-01"),
                    line("EVBUS-1", "1990000000", "financing", "2025-11-15"),
                ],
                "0",
            );
            spec.rounding_unit = unit.map(str::to_owned);
            spec.declared_fully_allocated = Some(declared);
            MonitorOp::ReportAllocation(spec.validate(jpy()).unwrap())
        };
        let rounded = report(Some("100000000"), "7960000000", true);
        assert_eq!(bond.check(&rounded, ISSUER, today), Vec::<String>::new());
        // Without a rounding unit the same figures are ¥50m short.
        assert_eq!(
            bond.check(&report(None, "7960000000", true), ISSUER, today),
            ["not_fully_allocated", "unallocated_mismatch"]
        );
        // Two rounded lines explain at most ¥200m: ¥300m short is not fully allocated. The
        // unallocated balance printed as 0 is still within three figures' rounding (¥300m).
        assert_eq!(
            bond.check(
                &report(Some("100000000"), "7710000000", true),
                ISSUER,
                today
            ),
            ["not_fully_allocated"]
        );
        assert_eq!(
            bond.check(
                &report(Some("100000000"), "7810000000", true),
                ISSUER,
                today
            ),
            Vec::<String>::new()
        );
        // Recorded: fully allocated, with the exact residual beside the rounded figures.
        let mut bond = bond;
        let index = bond.record(rounded, ISSUER, today);
        let recorded = bond.monitor.allocation_reports().last().unwrap();
        assert_eq!(recorded.index, index);
        assert!(recorded.fully_allocated);
        let (_, data, ..) = bond.log.last().unwrap();
        assert_eq!(data["residual"], "50000000");
        assert_eq!(data["rounding_unit"], "100000000");
        assert_eq!(data["declared_fully_allocated"], true);
    }

    #[test]
    fn a_report_in_another_currency_converts_at_its_rate_and_keeps_what_it_published() {
        let bond = green();
        let today = AFTER_FIRST_PERIOD;
        // The yen bond reported in euro at €0.005 per yen (¥200 per euro; an illustration of a
        // report in another currency than the bond's): €40,000,000.00 is ¥8,000,000,000.
        let report = |currency: Option<&str>, rate: Option<&str>| {
            let mut spec = allocation_spec(
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", "40000000.00", "financing", "2025-09-01")],
                "10000000.00",
            );
            spec.currency = currency.map(str::to_owned);
            spec.exchange_rate = rate.map(|rate| ExchangeRateSpec {
                rate: rate.to_owned(),
                on: "2025-06-20".to_owned(),
                source: "rate at issue".to_owned(),
            });
            spec.validate(jpy())
        };
        let converted = report(Some("EUR"), Some("0.005")).unwrap();
        assert_eq!(converted.lines[0].amount, dec("8000000000"));
        assert_eq!(
            converted.lines[0].published_amount,
            Some(dec("40000000.00"))
        );
        assert_eq!(converted.unallocated, dec("2000000000"));
        let op = MonitorOp::ReportAllocation(converted.clone());
        assert_eq!(bond.check(&op, ISSUER, today), Vec::<String>::new());
        // The ledger keeps the report as published; replay gives the same report.
        let data = allocation_data(&converted, dec(NET), dec("8000000000"), false);
        assert_eq!(data["lines"][0]["amount"], "40000000");
        assert_eq!(data["currency"], "EUR");
        assert_eq!(data["exchange_rate"]["rate"], "0.005");
        let replayed = recorded_op("allocation.reported", &data, jpy()).unwrap();
        assert_eq!(replayed, op);
        // A currency without its rate, a rate without a currency, the bond's own currency.
        let codes = |r: Result<AllocationReport, Vec<FieldError>>| field_codes(r);
        assert_eq!(
            codes(report(Some("EUR"), None)),
            [("/exchange_rate".to_owned(), "required".to_owned())]
        );
        assert_eq!(
            codes(report(None, Some("0.005"))),
            [
                ("/exchange_rate".to_owned(), "not_allowed".to_owned()),
                ("/lines/0/amount".to_owned(), "invalid_amount".to_owned()),
                (
                    "/unallocated/amount".to_owned(),
                    "invalid_amount".to_owned()
                ),
            ]
        );
        assert_eq!(
            codes(report(Some("JPY"), Some("1"))),
            [
                ("/currency".to_owned(), "same_currency".to_owned()),
                ("/lines/0/amount".to_owned(), "invalid_amount".to_owned()),
                (
                    "/unallocated/amount".to_owned(),
                    "invalid_amount".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn net_proceeds_are_the_amount_raised_less_the_declared_issuance_costs() {
        let mut spec = examples::green();
        spec.issuance_costs = Some("50000000".to_owned());
        let terms = terms(spec.clone());
        assert_eq!(terms.net_proceeds(10_000), dec("9950000000"));
        assert_eq!(terms.amount_raised(10_000), dec("10000000000"));
        assert_eq!(terms.net_proceeds(0), Decimal::ZERO);
        spec.issuance_costs = Some("10000000000".to_owned());
        let codes: Vec<String> = spec
            .validate()
            .unwrap_err()
            .iter()
            .map(|e| e.code.clone())
            .collect();
        assert_eq!(codes, ["costs_exceed_principal"]);
    }

    #[test]
    fn a_period_is_reported_once_it_has_ended() {
        let bond = green();
        let report = allocation("2025-06-20", "2026-03-31", vec![], NET);
        assert_eq!(
            bond.check(&report, ISSUER, date!(2026 - 03 - 31)),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report, ISSUER, date!(2026 - 03 - 30)),
            ["period_not_ended"]
        );
    }

    #[test]
    fn the_first_period_starts_on_the_issue_date_and_each_next_the_day_after_the_last() {
        let mut bond = green();
        let today = date!(2026 - 05 - 01);
        for start in ["2025-06-21", "2025-06-19"] {
            let report = allocation(start, "2026-03-31", vec![], NET);
            assert_eq!(
                bond.check(&report, ISSUER, today),
                ["period_not_contiguous"],
                "{start}"
            );
        }
        bond.record(
            allocation("2025-06-20", "2026-03-31", vec![], NET),
            ISSUER,
            today,
        );
        let next = |start| allocation(start, "2026-04-30", vec![], NET);
        assert_eq!(
            bond.check(&next("2026-04-01"), ISSUER, today),
            Vec::<String>::new()
        );
        // A gap of one day, and an overlap of one day.
        assert_eq!(
            bond.check(&next("2026-04-02"), ISSUER, today),
            ["period_not_contiguous"]
        );
        assert_eq!(
            bond.check(&next("2026-03-31"), ISSUER, today),
            ["period_not_contiguous"]
        );
    }

    // -----------------------------------------------------------------------------------------
    // Allocation lines.

    #[test]
    fn a_line_names_a_registered_project_that_is_not_divested() {
        let mut bond = green();
        let today = AFTER_FIRST_PERIOD;
        let unknown = bond.check(&first_period("WIND-9", "1000000000"), ISSUER, today);
        assert!(
            unknown.contains(&"unknown_project".to_owned()),
            "{unknown:?}"
        );
        assert_eq!(
            bond.check(&first_period("EVBUS-1", "1000000000"), ISSUER, today),
            Vec::<String>::new()
        );
        bond.record(status("EVBUS-1", "divested"), ISSUER, date!(2026 - 01 - 15));
        assert_eq!(
            bond.check(&first_period("EVBUS-1", "1000000000"), ISSUER, today),
            ["project_divested"]
        );
    }

    #[test]
    fn a_value_date_is_within_the_period_reported() {
        let bond = green();
        let report = |value_date| {
            allocation(
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", "1000000000", "financing", value_date)],
                "9000000000",
            )
        };
        let today = AFTER_FIRST_PERIOD;
        assert_eq!(
            bond.check(&report("2026-03-31"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("2026-04-01"), ISSUER, today),
            ["value_date_after_period"]
        );
    }

    #[test]
    fn spending_before_the_issue_date_is_refinancing_not_financing() {
        let bond = green();
        let report = |use_of_funds, value_date| {
            allocation(
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", "1000000000", use_of_funds, value_date)],
                "9000000000",
            )
        };
        let today = AFTER_FIRST_PERIOD;
        assert_eq!(
            bond.check(&report("financing", "2025-06-20"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("financing", "2025-06-19"), ISSUER, today),
            ["financing_before_issue"]
        );
        assert_eq!(
            bond.check(&report("refinancing", "2025-06-19"), ISSUER, today),
            Vec::<String>::new()
        );
    }

    #[test]
    fn refinancing_reaches_back_at_most_the_framework_look_back() {
        // Osaka's framework: three years before the issue date of 2025-06-20.
        let bond = green();
        let report = |value_date| {
            allocation(
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", "1000000000", "refinancing", value_date)],
                "9000000000",
            )
        };
        let today = AFTER_FIRST_PERIOD;
        assert_eq!(
            bond.check(&report("2022-06-20"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("2022-06-19"), ISSUER, today),
            ["refinancing_beyond_look_back"]
        );
    }

    #[test]
    fn three_years_before_29_february_is_28_february() {
        let mut spec = examples::green();
        spec.issue_date = "2028-02-29".to_owned();
        spec.maturity_date = "2033-02-28".to_owned();
        let mut bond = Bond::new(terms(spec));
        bond.record(
            project("SOLAR-1", "renewable_energy", "8000000000", "100"),
            ISSUER,
            date!(2028 - 03 - 01),
        );
        let report = |value_date| {
            allocation(
                "2028-02-29",
                "2029-01-31",
                vec![line("SOLAR-1", "1000000000", "refinancing", value_date)],
                "9000000000",
            )
        };
        let today = date!(2029 - 03 - 31);
        assert_eq!(
            bond.check(&report("2025-02-28"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("2025-02-27"), ISSUER, today),
            ["refinancing_beyond_look_back"]
        );
    }

    #[test]
    fn a_framework_without_a_look_back_allows_no_refinancing() {
        let mut spec = examples::green();
        spec.framework.refinancing_look_back_years = None;
        let mut bond = Bond::new(terms(spec));
        bond.record(
            project("SOLAR-1", "renewable_energy", "8000000000", "100"),
            ISSUER,
            date!(2025 - 06 - 25),
        );
        let report = |use_of_funds, value_date| {
            allocation(
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", "1000000000", use_of_funds, value_date)],
                "9000000000",
            )
        };
        let today = AFTER_FIRST_PERIOD;
        assert_eq!(
            bond.check(&report("financing", "2025-07-01"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("refinancing", "2025-06-01"), ISSUER, today),
            ["refinancing_not_in_framework"]
        );
    }

    // -----------------------------------------------------------------------------------------
    // Allocation totals.

    #[test]
    fn the_allocated_total_is_at_most_the_net_proceeds() {
        // 6,000 of the 10,000 tokens issued so far: ¥6bn of net proceeds.
        let bond = green();
        let net = dec("6000000000");
        let report = |amount| {
            allocation(
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", amount, "financing", "2025-09-01")],
                "0",
            )
        };
        let check = |op: &MonitorOp| bond.check_with(op, ISSUER, AFTER_FIRST_PERIOD, net, &nowhere);
        assert_eq!(check(&report("6000000000")), Vec::<String>::new());
        // Over-allocated: the unallocated balance (which would be negative) is not judged.
        assert_eq!(check(&report("6000000001")), ["over_allocated"]);
    }

    #[test]
    fn the_unallocated_balance_is_net_proceeds_minus_the_allocated_total() {
        let bond = green();
        let report = |unallocated| {
            allocation(
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", "1000000000", "financing", "2025-09-01")],
                unallocated,
            )
        };
        let today = AFTER_FIRST_PERIOD;
        assert_eq!(
            bond.check(&report("9000000000"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("9000000001"), ISSUER, today),
            ["unallocated_mismatch"]
        );
        assert_eq!(
            bond.check(&report("8999999999"), ISSUER, today),
            ["unallocated_mismatch"]
        );
    }

    #[test]
    fn a_project_receives_at_most_cost_times_financing_share() {
        // EVBUS-1: ¥4bn × 50% = ¥2bn from all bonds together.
        let bond = green();
        let today = AFTER_FIRST_PERIOD;
        assert_eq!(
            bond.check(&first_period("EVBUS-1", "2000000000"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&first_period("EVBUS-1", "2000000001"), ISSUER, today),
            ["double_counting"]
        );
    }

    #[test]
    fn the_cap_of_a_project_counts_every_report_of_the_bond() {
        let mut bond = green();
        bond.record(
            first_period("EVBUS-1", "1500000000"),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let next = |amount: &str| {
            let rest = dec("8500000000") - dec(amount);
            allocation(
                "2026-04-01",
                "2027-03-31",
                vec![line("EVBUS-1", amount, "financing", "2026-09-01")],
                &rest.to_string(),
            )
        };
        let today = date!(2027 - 04 - 30);
        assert_eq!(
            bond.check(&next("500000000"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&next("500000001"), ISSUER, today),
            ["double_counting"]
        );
    }

    #[test]
    fn the_cap_of_a_project_counts_what_the_issuers_other_bonds_allocated() {
        // The issuer's 2026 bond has already put ¥1.5bn into the buses: ¥0.5bn is left.
        let bond = green();
        let other_bonds = |project: &str| {
            (project == "EVBUS-1").then(|| Elsewhere {
                total_cost: dec("4000000000"),
                financing_share: dec("0.5"),
                allocated: dec("1500000000"),
            })
        };
        let check = |op: &MonitorOp| {
            bond.check_with(op, ISSUER, AFTER_FIRST_PERIOD, dec(NET), &other_bonds)
        };
        assert_eq!(
            check(&first_period("EVBUS-1", "500000000")),
            Vec::<String>::new()
        );
        assert_eq!(
            check(&first_period("EVBUS-1", "500000001")),
            ["double_counting"]
        );
        // The solar plant is financed by no other bond.
        assert_eq!(
            check(&first_period("SOLAR-1", "8000000000")),
            Vec::<String>::new()
        );
    }

    // -----------------------------------------------------------------------------------------
    // Corrections.

    #[test]
    fn a_correction_replaces_the_report_in_force_for_its_period() {
        let mut bond = green();
        let original = bond.record(
            first_period("SOLAR-1", "1000000000"),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let today = date!(2026 - 05 - 15);
        let fix = |amount: &str| {
            let rest = dec(NET) - dec(amount);
            correction(
                original,
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", amount, "financing", "2025-09-01")],
                &rest.to_string(),
            )
        };
        let first_fix = bond.record(fix("1200000000"), ISSUER, today);
        assert_eq!(bond.monitor.allocated(), dec("1200000000"));
        let in_force: Vec<u64> = bond.monitor.reports_in_force().map(|r| r.index).collect();
        assert_eq!(in_force, [first_fix]);
        assert_eq!(bond.monitor.allocation_reports().len(), 2);

        // A second correction names the original too, and replaces the first correction.
        let second_fix = bond.record(fix("900000000"), ISSUER, today);
        assert_eq!(bond.monitor.allocated(), dec("900000000"));
        let in_force: Vec<u64> = bond.monitor.reports_in_force().map(|r| r.index).collect();
        assert_eq!(in_force, [second_fix]);

        // The next period still starts the day after the corrected one.
        let next = allocation("2026-04-01", "2026-04-30", vec![], "9100000000");
        assert_eq!(bond.check(&next, ISSUER, today), Vec::<String>::new());
    }

    #[test]
    fn a_correction_is_judged_as_replacing_not_adding_to_what_it_amends() {
        // EVBUS-1 is at its ¥2bn cap; restating the same ¥2bn is not double counting.
        let mut bond = green();
        let original = bond.record(
            first_period("EVBUS-1", "2000000000"),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let fix = correction(
            original,
            "2025-06-20",
            "2026-03-31",
            vec![
                line("EVBUS-1", "2000000000", "financing", "2025-11-15"),
                line("SOLAR-1", "8000000000", "financing", "2025-09-01"),
            ],
            "0",
        );
        let index = bond.record(fix, ISSUER, date!(2026 - 05 - 15));
        assert_eq!(bond.monitor.allocated(), dec(NET));
        let fixed = bond
            .monitor
            .allocation_reports()
            .iter()
            .find(|r| r.index == index)
            .unwrap();
        assert!(fixed.fully_allocated);
        assert_eq!(bond.log.last().unwrap().1["fully_allocated"], true);
    }

    #[test]
    fn a_correction_covers_the_period_of_an_original_report_of_this_bond() {
        let mut bond = green();
        let original = bond.record(
            first_period("SOLAR-1", "1000000000"),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let today = date!(2026 - 05 - 15);
        let fix = |amends, end| {
            correction(
                amends,
                "2025-06-20",
                end,
                vec![line("SOLAR-1", "1000000000", "financing", "2025-09-01")],
                "9000000000",
            )
        };
        assert_eq!(
            bond.check(&fix(original, "2026-03-31"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&fix(original, "2026-03-30"), ISSUER, today),
            ["period_mismatch"]
        );
        // Not a report at all (a project registration), no entry, and a correction (which is
        // not the original) — the correction names nothing the rules can replace.
        let with_nothing_replaced =
            |amends| correction(amends, "2025-06-20", "2026-03-31", vec![], "9000000000");
        let registration = 2;
        assert_eq!(
            bond.check(&with_nothing_replaced(registration), ISSUER, today),
            ["unknown_report"]
        );
        assert_eq!(
            bond.check(&with_nothing_replaced(999), ISSUER, today),
            ["unknown_report"]
        );
        let fixed = bond.record(fix(original, "2026-03-31"), ISSUER, today);
        assert_eq!(
            bond.check(&with_nothing_replaced(fixed), ISSUER, today),
            ["unknown_report"]
        );
    }

    // -----------------------------------------------------------------------------------------
    // Impact reports.

    fn solar_generation() -> Vec<ImpactFigureSpec> {
        vec![figure(&["SOLAR-1"], "renewable_generation", "12000")]
    }

    #[test]
    fn an_impact_period_is_at_most_twelve_months_and_does_not_end_before_it_starts() {
        let bond = green();
        let today = date!(2027 - 07 - 01);
        let report = |start, end| impact(start, end, solar_generation());
        assert_eq!(
            bond.check(&report("2026-04-01", "2027-03-31"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("2026-04-01", "2027-04-01"), ISSUER, today),
            ["period_too_long"]
        );
        // A first period, starting on or before the issue date, may run to twenty-four months.
        assert_eq!(
            bond.check(&report("2025-04-01", "2027-03-31"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("2025-04-01", "2027-04-01"), ISSUER, today),
            ["period_too_long"]
        );
        assert_eq!(
            bond.check(&report("2025-04-01", "2025-04-01"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("2025-04-01", "2025-03-31"), ISSUER, today),
            ["period_reversed"]
        );
    }

    #[test]
    fn measured_impact_is_reported_once_the_period_has_ended_expected_impact_at_any_time() {
        let bond = green();
        let today = AFTER_FIRST_PERIOD;
        let report = |basis, end| {
            MonitorOp::ReportImpact(
                impact_spec("2025-06-20", end, basis, solar_generation())
                    .validate()
                    .unwrap(),
            )
        };
        assert_eq!(
            bond.check(&report("ex_post", "2026-04-30"), ISSUER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("ex_post", "2026-05-01"), ISSUER, today),
            ["period_not_ended"]
        );
        assert_eq!(
            bond.check(&report("ex_ante", "2026-05-01"), ISSUER, today),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_impact_figure_names_registered_projects() {
        let bond = green();
        let report = impact(
            "2025-06-20",
            "2026-03-31",
            vec![figure(&["SOLAR-1", "WIND-9"], "renewable_generation", "1")],
        );
        assert_eq!(
            bond.check(&report, ISSUER, AFTER_FIRST_PERIOD),
            ["unknown_project"]
        );
    }

    #[test]
    fn an_impact_correction_names_an_impact_report_of_this_bond() {
        let mut bond = green();
        let allocation_index = bond.record(
            first_period("SOLAR-1", "1000000000"),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let report = bond.record(
            impact("2025-06-20", "2026-03-31", solar_generation()),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let fix = |amends: u64| {
            let mut spec = impact_spec("2025-06-20", "2026-03-31", "ex_post", solar_generation());
            spec.amends = Some(amends.to_string());
            MonitorOp::ReportImpact(spec.validate().unwrap())
        };
        assert_eq!(
            bond.check(&fix(report), ISSUER, AFTER_FIRST_PERIOD),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&fix(allocation_index), ISSUER, AFTER_FIRST_PERIOD),
            ["unknown_report"]
        );
        assert_eq!(
            bond.check(&fix(999), ISSUER, AFTER_FIRST_PERIOD),
            ["unknown_report"]
        );
    }

    #[test]
    fn a_social_figure_counts_one_of_the_framework_target_populations() {
        let mut bond = Bond::new(terms(examples::social()));
        bond.record(
            project("HOUSING-1", "affordable_housing", "2000000000", "100"),
            ISSUER,
            date!(2025 - 08 - 01),
        );
        let report = |population: &str| {
            let mut f = figure(&["HOUSING-1"], "units_delivered", "120");
            f.target_population = Some(population.to_owned());
            impact("2025-07-25", "2026-03-31", vec![f])
        };
        let today = date!(2026 - 04 - 30);
        assert_eq!(
            bond.check(
                &report("Low-income households in Osaka City"),
                ISSUER,
                today
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&report("University students"), ISSUER, today),
            ["unknown_target_population"]
        );
    }

    /// The worked example of pro-rating (ICMA Harmonised Framework: report only the share the
    /// bond financed).
    ///
    /// Projects: SOLAR-1 costs ¥8bn (SDG targets 7.2, 7.3, 13.1), EVBUS-1 ¥4bn (11.2, 13.1),
    /// BUILD-1 ¥1bn (7.3). The bond allocated ¥6bn to SOLAR-1, ¥1.5bn to EVBUS-1, nothing to
    /// BUILD-1.
    ///
    /// Figure 1, GHG avoided, 8,000 tCO2e/yr for the group {SOLAR-1, EVBUS-1}:
    ///   the bond's share of the group = (6 + 1.5) / (8 + 4) = 7.5 / 12 = 62.5 %
    ///   → the bond's figure            = 8,000 × 62.5 % = 5,000 tCO2e/yr
    ///   split by what the bond put in:  SOLAR-1 6 / 7.5 = 80 % → 4,000 (renewable energy)
    ///                                   EVBUS-1 1.5 / 7.5 = 20 % → 1,000 (clean transportation)
    ///   by SDG goal: 7 ← SOLAR-1 4,000 (7.2 and 7.3 are one goal: counted once);
    ///                11 ← EVBUS-1 1,000; 13 ← both, 4,000 + 1,000 = 5,000.
    /// Figure 2, renewable generation, 12,000 MWh/yr for SOLAR-1 alone:
    ///   6 / 8 = 75 % → 9,000 MWh/yr, in renewable energy and in goals 7 and 13.
    /// Figure 3, energy savings, 500 MWh/yr for BUILD-1: the bond financed none of it → 0.
    /// The financing share (the part of the cost that bonds may finance) plays no part: what
    /// counts is what this bond allocated.
    #[test]
    fn impact_is_pro_rated_to_what_the_bond_financed_of_each_project_or_group() {
        let mut bond = Bond::new(terms(examples::green()));
        let on = date!(2025 - 06 - 25);
        let mut solar = project_spec("SOLAR-1", "renewable_energy", "8000000000", "100");
        solar.sdg_targets = vec!["7.2".to_owned(), "7.3".to_owned(), "13.1".to_owned()];
        let mut buses = project_spec("EVBUS-1", "clean_transportation", "4000000000", "50");
        buses.sdg_targets = vec!["11.2".to_owned(), "13.1".to_owned()];
        let mut building = project_spec("BUILD-1", "green_buildings", "1000000000", "100");
        building.sdg_targets = vec!["7.3".to_owned()];
        for spec in [solar, buses, building] {
            bond.record(
                MonitorOp::RegisterProject(spec.validate(jpy()).unwrap()),
                ISSUER,
                on,
            );
        }
        bond.record(
            allocation(
                "2025-06-20",
                "2026-03-31",
                vec![
                    line("SOLAR-1", "6000000000", "financing", "2025-09-01"),
                    line("EVBUS-1", "1500000000", "financing", "2025-11-15"),
                ],
                "2500000000",
            ),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        bond.record(
            impact(
                "2025-06-20",
                "2026-03-31",
                vec![
                    figure(&["SOLAR-1", "EVBUS-1"], "ghg_avoided", "8000"),
                    figure(&["SOLAR-1"], "renewable_generation", "12000"),
                    figure(&["BUILD-1"], "energy_savings", "500"),
                ],
            ),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );

        let totals = bond.monitor.impact();
        let of = |map: &BTreeMap<String, Decimal>, indicator: &str| map.get(indicator).copied();
        assert_eq!(of(&totals.by_indicator, "ghg_avoided"), Some(dec("5000")));
        assert_eq!(
            of(&totals.by_indicator, "renewable_generation"),
            Some(dec("9000"))
        );
        assert_eq!(
            of(&totals.by_indicator, "energy_savings"),
            Some(Decimal::ZERO)
        );

        let category = |c: &str, indicator: &str| of(&totals.by_category[c], indicator);
        assert_eq!(
            category("renewable_energy", "ghg_avoided"),
            Some(dec("4000"))
        );
        assert_eq!(
            category("clean_transportation", "ghg_avoided"),
            Some(dec("1000"))
        );
        assert_eq!(
            category("renewable_energy", "renewable_generation"),
            Some(dec("9000"))
        );
        assert_eq!(
            category("green_buildings", "energy_savings"),
            Some(Decimal::ZERO)
        );

        let goal = |g: u8, indicator: &str| of(&totals.by_sdg_goal[&g], indicator);
        assert_eq!(goal(7, "ghg_avoided"), Some(dec("4000")));
        assert_eq!(goal(11, "ghg_avoided"), Some(dec("1000")));
        assert_eq!(goal(13, "ghg_avoided"), Some(dec("5000")));
        assert_eq!(goal(7, "renewable_generation"), Some(dec("9000")));
        assert_eq!(goal(13, "renewable_generation"), Some(dec("9000")));
        assert_eq!(goal(11, "renewable_generation"), None);
    }

    #[test]
    fn an_impact_correction_replaces_the_figures_it_amends() {
        let mut bond = green();
        bond.record(
            first_period("SOLAR-1", "8000000000"),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let first = bond.record(
            impact("2025-06-20", "2026-03-31", solar_generation()),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let mut fix = impact_spec(
            "2025-06-20",
            "2026-03-31",
            "ex_post",
            vec![figure(&["SOLAR-1"], "renewable_generation", "11000")],
        );
        fix.amends = Some(first.to_string());
        bond.record(
            MonitorOp::ReportImpact(fix.validate().unwrap()),
            ISSUER,
            date!(2026 - 05 - 15),
        );
        // The bond financed all of SOLAR-1 (¥8bn of ¥8bn): the corrected figure, not the sum.
        assert_eq!(
            bond.monitor
                .impact()
                .by_indicator
                .get("renewable_generation"),
            Some(&dec("11000"))
        );
    }

    // -----------------------------------------------------------------------------------------
    // Reviews.

    #[test]
    fn a_review_id_is_used_once_on_a_bond() {
        let mut bond = green();
        let today = date!(2025 - 06 - 25);
        bond.record(
            review("SPO-2025", "pre_issuance", "positive", None),
            VERIFIER,
            today,
        );
        let again = review("SPO-2025", "pre_issuance", "positive", None);
        assert_eq!(bond.check(&again, OTHER_VERIFIER, today), ["review_exists"]);
    }

    #[test]
    fn a_report_review_names_a_report_of_its_kind() {
        let mut bond = green();
        let allocated = bond.record(
            first_period("SOLAR-1", "8000000000"),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let impacted = bond.record(
            impact("2025-06-20", "2026-03-31", solar_generation()),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        let today = date!(2026 - 06 - 30);
        let check = |kind, index| {
            bond.check(
                &review("VER-1", kind, "positive", Some(index)),
                VERIFIER,
                today,
            )
        };
        assert_eq!(check("allocation", allocated), Vec::<String>::new());
        assert_eq!(check("allocation", impacted), ["unknown_report"]);
        assert_eq!(check("impact", impacted), Vec::<String>::new());
        assert_eq!(check("impact", allocated), ["unknown_report"]);
        assert_eq!(check("allocation", 999), ["unknown_report"]);
    }

    #[test]
    fn a_kpi_review_is_for_a_kpi_of_a_sustainability_linked_bond() {
        let slb = Bond::new(terms(examples::sustainability_linked()));
        let today = date!(2029 - 05 - 31);
        let on = |kpi| kpi_review("KPI-2029", kpi, "910000", false);
        assert_eq!(
            slb.check(&on("ghg-scope-1-2"), VERIFIER, today),
            Vec::<String>::new()
        );
        assert_eq!(
            slb.check(&on("ghg-scope-3"), VERIFIER, today),
            ["unknown_kpi"]
        );
        assert_eq!(
            green().check(&on("ghg-scope-1-2"), VERIFIER, today),
            ["not_sustainability_linked", "unknown_kpi"]
        );
    }

    #[test]
    fn a_kpi_has_one_verification_in_force_until_it_is_withdrawn() {
        let mut slb = Bond::new(terms(examples::sustainability_linked()));
        let today = date!(2029 - 05 - 31);
        slb.record(
            kpi_review("KPI-2029", "ghg-scope-1-2", "910000", false),
            VERIFIER,
            today,
        );
        let second = kpi_review("KPI-2029-B", "ghg-scope-1-2", "830000", true);
        assert_eq!(
            slb.check(&second, OTHER_VERIFIER, today),
            ["kpi_already_verified"]
        );
        slb.record(withdraw("KPI-2029"), VERIFIER, date!(2029 - 06 - 15));
        assert_eq!(
            slb.check(&second, OTHER_VERIFIER, date!(2029 - 06 - 15)),
            Vec::<String>::new()
        );
        // The recorded finding carries `met`, which the coupon schedule reads for a step-up.
        let recorded = &slb.log[0].1;
        assert_eq!(
            recorded["kpi"],
            json!({ "kpi_id": "ghg-scope-1-2", "value": "910000", "met": false })
        );
    }

    #[test]
    fn only_the_verifier_that_signed_a_review_withdraws_it_and_only_once() {
        let mut bond = green();
        let today = date!(2025 - 06 - 25);
        bond.record(
            review("SPO-2025", "pre_issuance", "positive", None),
            VERIFIER,
            today,
        );
        assert_eq!(
            bond.check(&withdraw("SPO-2024"), VERIFIER, today),
            ["unknown_review"]
        );
        assert_eq!(
            bond.check(&withdraw("SPO-2025"), OTHER_VERIFIER, today),
            ["not_your_review"]
        );
        assert_eq!(
            bond.check(&withdraw("SPO-2025"), VERIFIER, today),
            Vec::<String>::new()
        );
        bond.record(withdraw("SPO-2025"), VERIFIER, date!(2025 - 07 - 01));
        assert_eq!(
            bond.check(&withdraw("SPO-2025"), VERIFIER, today),
            ["already_withdrawn"]
        );
        assert_eq!(
            bond.monitor.reviews()["SPO-2025"].withdrawn_on,
            Some(date!(2025 - 07 - 01))
        );
    }

    #[test]
    fn violations_are_listed_once_each_sorted_by_code() {
        let bond = green();
        // Reversed, not contiguous, not ended, two unknown projects, and a wrong balance.
        let report = allocation(
            "2025-07-01",
            "2025-06-30",
            vec![
                line("WIND-9", "1", "financing", "2025-06-30"),
                line("WIND-9", "1", "financing", "2025-06-30"),
            ],
            "1",
        );
        assert_eq!(
            bond.check(&report, ISSUER, date!(2025 - 06 - 29)),
            [
                "period_not_contiguous",
                "period_not_ended",
                "period_reversed",
                "unallocated_mismatch",
                "unknown_project",
                "unknown_project",
            ]
        );
    }

    // -----------------------------------------------------------------------------------------
    // The ledger is the source of truth: replay.

    /// A green bond through its first two years: every kind of monitoring entry, corrections
    /// and a withdrawal included.
    fn a_lived_bond() -> Bond {
        let mut bond = green();
        bond.record(
            review("SPO-2025", "pre_issuance", "positive", None),
            VERIFIER,
            date!(2025 - 06 - 25),
        );
        let first = bond.record(
            first_period("SOLAR-1", "5000000000"),
            ISSUER,
            AFTER_FIRST_PERIOD,
        );
        bond.record(
            correction(
                first,
                "2025-06-20",
                "2026-03-31",
                vec![
                    line("SOLAR-1", "5000000000", "financing", "2025-09-01"),
                    line("EVBUS-1", "1000000000", "refinancing", "2024-11-15"),
                ],
                "4000000000",
            ),
            ISSUER,
            date!(2026 - 05 - 15),
        );
        bond.record(
            status("EVBUS-1", "operating"),
            ISSUER,
            date!(2026 - 06 - 01),
        );
        let second = bond.record(
            allocation(
                "2026-04-01",
                "2027-02-28",
                vec![
                    line("SOLAR-1", "3000000000", "financing", "2026-06-30"),
                    line("EVBUS-1", "1000000000", "financing", "2026-10-01"),
                ],
                "0",
            ),
            ISSUER,
            date!(2027 - 03 - 15),
        );
        bond.record(
            review("VER-2027", "allocation", "positive", Some(second)),
            VERIFIER,
            date!(2027 - 05 - 31),
        );
        let report = bond.record(
            impact(
                "2026-04-01",
                "2027-03-31",
                vec![
                    figure(&["SOLAR-1"], "renewable_generation", "12000"),
                    figure(&["SOLAR-1", "EVBUS-1"], "ghg_avoided", "6880"),
                ],
            ),
            ISSUER,
            date!(2027 - 09 - 30),
        );
        let mut fix = impact_spec("2026-04-01", "2027-03-31", "ex_post", solar_generation());
        fix.amends = Some(report.to_string());
        bond.record(
            MonitorOp::ReportImpact(fix.validate().unwrap()),
            ISSUER,
            date!(2027 - 10 - 15),
        );
        bond.record(withdraw("VER-2027"), VERIFIER, date!(2027 - 11 - 01));
        let engage = EngagementSpec {
            verifier: "0190a000-0000-7000-8000-00000000000c".to_owned(),
        };
        bond.record(engage.validate().unwrap(), ISSUER, date!(2027 - 11 - 02));
        bond
    }

    /// Both test verifiers engaged by the issuer (as `review.engage` entries would do before the
    /// entries these tests record).
    fn engaged(mut monitor: Monitor) -> Monitor {
        monitor
            .reviewers
            .extend([VERIFIER.to_owned(), OTHER_VERIFIER.to_owned()]);
        monitor
    }

    fn replay(terms: MonitorTerms, log: &[Recorded]) -> Result<Monitor, (u64, String)> {
        let mut monitor = engaged(Monitor::new(terms));
        for (kind, data, index, on, actor, net) in log {
            monitor
                .apply_recorded(kind, data, *index, *on, actor, *net)
                .map_err(|e| (*index, e))?;
        }
        Ok(monitor)
    }

    #[test]
    fn replaying_the_recorded_entries_rebuilds_the_same_monitor() {
        let bond = a_lived_bond();
        let kinds: Vec<&str> = bond.log.iter().map(|r| r.0.as_str()).collect();
        for kind in ENTRY_TYPES {
            assert!(kinds.contains(kind), "the scenario records a {kind} entry");
        }
        let replayed = replay(bond.monitor.terms().clone(), &bond.log).unwrap();
        assert_eq!(replayed, bond.monitor);
        assert_eq!(replayed.impact(), bond.monitor.impact());
    }

    #[test]
    fn entries_other_than_monitoring_are_ignored_by_replay() {
        let mut log = a_lived_bond().log;
        let issued = json!({ "allocations": [{ "investor": "x", "quantity": "10000" }] });
        log.insert(
            0,
            (
                "token.issued".to_owned(),
                issued,
                1,
                date!(2025 - 06 - 20),
                ISSUER.to_owned(),
                Decimal::ZERO,
            ),
        );
        log.push((
            "label.changed".to_owned(),
            json!({ "status": "verified" }),
            99,
            date!(2027 - 12 - 01),
            String::new(),
            dec(NET),
        ));
        let bond = a_lived_bond();
        assert_eq!(
            replay(bond.monitor.terms().clone(), &log).unwrap(),
            bond.monitor
        );
    }

    #[test]
    fn a_recorded_entry_whose_data_differs_from_what_replay_computes_is_refused() {
        let bond = a_lived_bond();
        let terms = bond.monitor.terms().clone();
        let position = |kind: &str| bond.log.iter().position(|r| r.0 == kind).unwrap();
        let tampered = |at: usize, change: &dyn Fn(&mut Value)| {
            let mut log = bond.log.clone();
            change(&mut log[at].1);
            replay(terms.clone(), &log)
                .map(|_| ())
                .map_err(|(index, _)| index)
        };
        let allocation = position("allocation.reported");
        let index = bond.log[allocation].2;
        // A derived figure that disagrees with the lines.
        assert_eq!(
            tampered(allocation, &|d| d["allocated_total"] = json!("6000000000")),
            Err(index)
        );
        assert_eq!(
            tampered(allocation, &|d| d["fully_allocated"] = json!(true)),
            Err(index)
        );
        // A line amount changed (the total recorded no longer adds up).
        assert_eq!(
            tampered(allocation, &|d| d["lines"][0]["amount"] =
                json!("5000000001")),
            Err(index)
        );
        // A value not in the normal form that applying writes.
        let project = position("project.registered");
        let index = bond.log[project].2;
        assert_eq!(
            tampered(project, &|d| d["financing_share"] = json!("100.0")),
            Err(index)
        );
        // A field that no operation has.
        assert_eq!(
            tampered(project, &|d| d["note"] = json!("edited")),
            Err(index)
        );
        // A review of a kind that does not exist.
        let review = position("review.recorded");
        assert_eq!(
            tampered(review, &|d| d["kind"] = json!("audit")),
            Err(bond.log[review].2)
        );
        // The untouched log replays.
        assert_eq!(tampered(0, &|_| {}), Ok(()));
    }

    #[test]
    fn the_label_facts_are_the_recorded_reviews_and_reports() {
        let bond = a_lived_bond();
        let facts = bond.monitor.facts(Some(date!(2030 - 06 - 20)));
        assert_eq!(facts.issue_date, date!(2025 - 06 - 20));
        assert_eq!(facts.maturity_date, date!(2030 - 06 - 20));
        assert_eq!(facts.fully_redeemed_on, Some(date!(2030 - 06 - 20)));

        let reviews: Vec<(&str, ReviewKind, Option<Date>)> = facts
            .reviews
            .iter()
            .map(|r| (r.id.as_str(), r.kind, r.withdrawn_on))
            .collect();
        assert_eq!(
            reviews,
            [
                ("SPO-2025", ReviewKind::PreIssuance, None),
                (
                    "VER-2027",
                    ReviewKind::AllocationVerification,
                    Some(date!(2027 - 11 - 01))
                ),
            ]
        );
        // Every allocation report, corrections included, by entry index; the second period's
        // report allocates the last ¥4bn.
        let reports: Vec<(String, Date, bool)> = facts
            .allocation_reports
            .iter()
            .map(|r| (r.id.clone(), r.published_on, r.fully_allocated))
            .collect();
        let indices: Vec<String> = bond
            .monitor
            .allocation_reports()
            .iter()
            .map(|r| r.index.to_string())
            .collect();
        assert_eq!(
            reports,
            [
                (indices[0].clone(), AFTER_FIRST_PERIOD, false),
                (indices[1].clone(), date!(2026 - 05 - 15), false),
                (indices[2].clone(), date!(2027 - 03 - 15), true),
            ]
        );
        assert_eq!(facts.impact_reports.len(), 2);
        assert!(facts.impact_reports.iter().all(|r| !r.fully_allocated));
        assert_eq!(facts.impact_reports[0].period_end, date!(2027 - 03 - 31));
    }

    #[test]
    fn nothing_issued_is_never_fully_allocated() {
        let mut bond = green();
        let report = allocation("2025-06-20", "2026-03-31", vec![], "0");
        assert_eq!(
            bond.check_with(&report, ISSUER, AFTER_FIRST_PERIOD, Decimal::ZERO, &nowhere),
            Vec::<String>::new()
        );
        let (_, data) = bond
            .monitor
            .apply(&report, 4, AFTER_FIRST_PERIOD, ISSUER, Decimal::ZERO);
        assert_eq!(data["fully_allocated"], false);
        assert_eq!(data["net_proceeds"], "0");
    }

    #[test]
    fn a_figure_is_at_most_figure_max_so_pro_rating_cannot_overflow() {
        let at = figure(&["P1"], "renewable_generation", &FIGURE_MAX.to_string());
        let over = figure(
            &["P1"],
            "renewable_generation",
            &(FIGURE_MAX + 1).to_string(),
        );
        let spec = |f| impact_spec("2026-01-01", "2026-12-31", "ex_post", vec![f]);
        assert!(spec(at).validate().is_ok());
        let errors = spec(over).validate().unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].pointer.as_str(), errors[0].code.as_str()),
            ("/figures/0/value", "invalid_number")
        );
    }

    #[test]
    fn only_a_verifier_the_issuer_engaged_reviews_and_engaging_is_once() {
        let mut bond = green();
        let outsider = "0190a000-0000-7000-8000-0000000000ff";
        let spo = MonitorOp::Review(
            review_spec("SPO-X", "pre_issuance", "positive", None)
                .validate()
                .unwrap(),
        );
        assert_eq!(
            bond.check(&spo, outsider, date!(2025 - 06 - 01)),
            ["reviewer_not_engaged"]
        );
        let engage = EngagementSpec {
            verifier: outsider.to_owned(),
        }
        .validate()
        .unwrap();
        bond.record(engage.clone(), ISSUER, date!(2025 - 06 - 01));
        assert_eq!(
            bond.check(&spo, outsider, date!(2025 - 06 - 02)),
            Vec::<String>::new()
        );
        assert_eq!(
            bond.check(&engage, ISSUER, date!(2025 - 06 - 02)),
            ["already_engaged"]
        );
        assert!(
            EngagementSpec {
                verifier: "not-a-party".into()
            }
            .validate()
            .is_err()
        );
    }
}
