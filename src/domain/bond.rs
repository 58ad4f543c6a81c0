//! Bond specifications: what an issuer signs when it registers a bond, and the validated terms
//! the rest of midori works with.
//!
//! [`BondSpec`] is the wire form (strings, as signed); [`BondSpec::validate`] checks it against
//! the rules below and returns [`BondTerms`], which cannot be built any other way. Validation
//! reports *every* problem, each with an RFC 6901 JSON Pointer relative to the spec.
//!
//! Sources of the rules:
//! - ICMA Green Bond Principles (GBP, June 2021 with June 2022 Appendix 1): use of proceeds in
//!   the ten green categories, a framework, external review;
//! - ICMA Social Bond Principles (SBP, June 2023): the six social categories and a target
//!   population for each social project;
//! - ICMA Sustainability Bond Guidelines (SBG, June 2021): a mix of green and social projects;
//! - ICMA Sustainability-Linked Bond Principles (SLBP, June 2024): KPIs, sustainability
//!   performance targets (SPTs) observed on set dates, a variation of the bond's characteristics
//!   (usually a coupon step-up) if a target is missed;
//! - UNDP SDG Impact Standards for Bond Issuers and UN General Assembly resolution A/RES/70/1
//!   ("Transforming our world: the 2030 Agenda"), which lists the 169 SDG targets.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::domain::calendar::{BusinessDayConvention, Calendar};
use crate::domain::error::{ErrorCode, FieldError, FieldErrors, all_parsed, quoted};
use crate::domain::ids::{Currency, Isin};
use crate::domain::label::YearEnd;
use crate::domain::money::{
    AMOUNT_UNITS_MAX, Amount, DecimalFormat, Rate, TokenQuantity, parse_decimal, parse_whole_number,
};
use crate::domain::party::InvestorCategory;
use crate::domain::taxonomy::Eligible;
use crate::domain::text::{Name, TextError, parse_text};
use crate::domain::wire::{
    format_date, parse_date, schema_name, string_schema, string_wire, wire_enum,
};

/// The example specifications, also reachable here next to the type they build.
#[doc(hidden)]
pub use crate::domain::examples;

/// Most use-of-proceeds categories on one bond: all sixteen GBP and SBP categories, once each.
pub const CATEGORIES_MAX: usize = 16;

/// Most named target populations (SBP) on one bond.
pub const TARGET_POPULATIONS_MAX: usize = 32;

/// Most SDG targets on one bond. A bond that claims more than this is not telling investors
/// which targets its projects serve.
pub const SDG_TARGETS_MAX: usize = 64;

/// Most KPIs on one sustainability-linked bond. The SLBP asks for a few material KPIs; 32 is
/// far above any issued bond.
pub const KPIS_MAX: usize = 32;

/// Most documents attached to one bond specification.
pub const DOCUMENTS_MAX: usize = 64;

/// Longest document URI, in bytes (URIs are ASCII): the de-facto limit of browsers and HTTP
/// servers.
pub const URI_LEN_MAX: usize = 2048;

/// Largest coupon step-up after a missed SPT, in basis points. Step-ups seen in the market are
/// 12.5–75 bp (25 bp typical); 500 bp is a ceiling that catches a unit mistake (percent written
/// as basis points).
pub const STEP_UP_BP_MAX: u16 = 500;

/// Largest holder cap. A private placement to fewer than 50 offerees is far below it; the cap
/// bounds what a holder count can be compared against.
pub const MAX_HOLDERS_MAX: u64 = 1_000_000;

/// Longest term from issue to maturity, in years: century bonds exist, longer ones do not.
pub const TERM_YEARS_MAX: i32 = 100;

/// Longest refinancing look-back, in years. Common choices are 3 years for operating and 7 for
/// capital expenditure (market practice reported by the Climate Bonds Initiative and JP MoE
/// Green Bond Guidelines 2022); 10 is a ceiling, not a recommendation.
pub const REFINANCING_LOOK_BACK_YEARS_MAX: u8 = 10;

/// Longest KPI identifier.
pub const KPI_ID_CHARS_MAX: usize = 64;

/// Longest KPI unit ("tCO2e", "kWh/m²/yr").
pub const KPI_UNIT_CHARS_MAX: usize = 32;

/// Most decimals in a KPI baseline or target.
pub const KPI_VALUE_DECIMALS_MAX: u32 = 6;

/// Largest magnitude of a KPI baseline or target (10^15, as for amounts).
pub const KPI_VALUE_MAGNITUDE_MAX: u64 = 1_000_000_000_000_000;

wire_enum! {
    /// The label a bond is issued under.
    pub enum BondKind ("bond kind") {
        /// Proceeds finance green projects (ICMA GBP).
        Green = "green",
        /// Proceeds finance social projects (ICMA SBP).
        Social = "social",
        /// Proceeds finance a mix of green and social projects (ICMA SBG).
        Sustainability = "sustainability",
        /// General-purpose proceeds; the coupon depends on KPIs (ICMA SLBP).
        SustainabilityLinked = "sustainability_linked",
        /// Proceeds finance projects mapped to UN SDG targets (UNDP SDG Impact Standards).
        Sdg = "sdg",
    }
}

wire_enum! {
    /// Eligible project categories: the ten of the GBP (§1, "Use of Proceeds") and the six of
    /// the SBP (§1).
    pub enum Category ("category") {
        RenewableEnergy = "renewable_energy",
        EnergyEfficiency = "energy_efficiency",
        PollutionPreventionAndControl = "pollution_prevention_and_control",
        /// GBP: "environmentally sustainable management of living natural resources and land use".
        LivingNaturalResourcesAndLandUse = "living_natural_resources_and_land_use",
        TerrestrialAndAquaticBiodiversity = "terrestrial_and_aquatic_biodiversity",
        CleanTransportation = "clean_transportation",
        SustainableWaterAndWastewaterManagement = "sustainable_water_and_wastewater_management",
        ClimateChangeAdaptation = "climate_change_adaptation",
        /// GBP: "circular economy adapted products, production technologies and processes".
        CircularEconomy = "circular_economy",
        GreenBuildings = "green_buildings",
        AffordableBasicInfrastructure = "affordable_basic_infrastructure",
        AccessToEssentialServices = "access_to_essential_services",
        AffordableHousing = "affordable_housing",
        /// SBP: "employment generation, including through SME financing and microfinance".
        EmploymentGeneration = "employment_generation",
        FoodSecurityAndSustainableFoodSystems = "food_security_and_sustainable_food_systems",
        SocioeconomicAdvancementAndEmpowerment = "socioeconomic_advancement_and_empowerment",
    }
}

wire_enum! {
    /// How often the coupon is paid.
    pub enum CouponFrequency ("coupon frequency") {
        Annual = "annual",
        SemiAnnual = "semi_annual",
        Quarterly = "quarterly",
        Monthly = "monthly",
        /// No periodic coupon: the bond is issued at a discount; the rate must be 0.
        Zero = "zero",
    }
}

wire_enum! {
    /// Day-count convention for accrued interest (ISDA 2006 Definitions §4.16; ICMA Rule 251).
    pub enum DayCount ("day count") {
        /// Actual/365 (Fixed): the usual convention for yen bonds.
        Act365F = "act_365f",
        /// 30/360 (bond basis).
        Thirty360 = "thirty_360",
        /// Actual/Actual (ICMA), as for euro government bonds.
        ActActIcma = "act_act_icma",
    }
}

wire_enum! {
    /// What a document attached to a bond is.
    pub enum DocumentKind ("document kind") {
        /// The issuer's green/social/sustainability/SDG bond framework (GBP key recommendation).
        Framework = "framework",
        /// Pre-issuance external review (GBP key recommendation, ICMA External Review
        /// Guidelines).
        SecondPartyOpinion = "second_party_opinion",
        Prospectus = "prospectus",
        Other = "other",
    }
}

/// One of the 169 targets of the UN Sustainable Development Goals, e.g. `7.2` ("increase
/// substantially the share of renewable energy") or `7.a`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SdgTarget {
    goal: u8,
    index: TargetIndex,
}

/// An identifier for a KPI, unique within a bond: 1 to 64 ASCII letters, digits, '.', '_' or '-'.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KpiId(String);

/// An absolute URI of a document: `https`, `http`, `ipfs` or `urn` scheme, ASCII without
/// whitespace, at most [`URI_LEN_MAX`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentUri(String);

/// A SHA-256 digest (FIPS 180-4) of a document's bytes; written as 64 lowercase hex digits, the
/// way `sha256sum` prints it, so anyone can check a document with standard tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest([u8; 32]);

/// A string is not one of the 169 SDG targets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} is not one of the 169 UN SDG targets (A/RES/70/1): {hint}", quoted(.input))]
pub struct SdgTargetError {
    input: String,
    hint: String,
}

/// A document's URI or digest is not acceptable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("uri is {got} bytes long; at most {max} are allowed")]
    UriTooLong { got: usize, max: usize },
    #[error("uri {} {rule}", quoted(.input))]
    InvalidUri { input: String, rule: &'static str },
    #[error("uri {} must use the https, http, ipfs or urn scheme", quoted(.input))]
    UnsupportedScheme { input: String },
    #[error("sha256 {} must be 64 lowercase hexadecimal digits", quoted(.input))]
    InvalidDigest { input: String },
}

/// The bond as the issuer signs it. Validate with [`BondSpec::validate`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = crate::domain::examples::green)]
pub struct BondSpec {
    pub kind: BondKind,
    /// 1 to 200 characters.
    #[schema(example = "Osaka Prefecture Green Bond 2025 (5-year)")]
    pub name: String,
    /// ISO 6166; may be absent before a numbering agency assigns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "JP3633400001")]
    pub isin: Option<String>,
    /// ISO 4217 alphabetic code.
    #[schema(example = "JPY")]
    pub currency: String,
    /// Face value of one token, in `currency`, with at most the currency's minor-unit decimals.
    #[schema(example = "1000000")]
    pub denomination: String,
    /// Number of tokens issued (whole number).
    #[schema(example = "10000")]
    pub issue_size: String,
    pub coupon: CouponSpec,
    /// `YYYY-MM-DD`.
    #[schema(example = "2025-06-20")]
    pub issue_date: String,
    /// `YYYY-MM-DD`, after `issue_date`.
    #[schema(example = "2030-06-20")]
    pub maturity_date: String,
    pub framework: FrameworkSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentSpec>,
    pub transfer_restrictions: TransferRestrictionsSpec,
    /// The label schemes the bond is labelled under (`GET /v1/label-schemes`), each a scheme id;
    /// `["icma-gbp"]` when absent. The bond holds one label per scheme.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["icma-gbp", "osaka-ifc"]))]
    pub label_schemes: Vec<String>,
    /// The issuer's fiscal year end, `MM-DD`; reporting years follow it. `03-31` when absent
    /// (Japanese local governments and most companies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "03-31")]
    pub fiscal_year_end: Option<String>,
    /// Issuance costs the issuer declares (underwriting, listing, legal), in `currency`: net
    /// proceeds = amount raised − issuance costs. 0 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "50000000")]
    pub issuance_costs: Option<String>,
}

/// Coupon terms as signed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponSpec {
    /// Percent per annum, 0 to 100, at most 6 decimals.
    #[schema(example = "0.3")]
    pub rate: String,
    pub frequency: CouponFrequency,
    pub day_count: DayCount,
    /// How a payment date that is not a business day moves: `following`, `modified_following`,
    /// `preceding` (common in Japanese bond terms: 「前銀行営業日に繰り上げる」) or
    /// `unadjusted`. `modified_following` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_day_convention: Option<BusinessDayConvention>,
    /// Whose business days: `JP` (Japanese bank holidays: weekends, national holidays and
    /// 31 December to 3 January) or `weekends` (Saturdays and Sundays only, the default when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<Calendar>,
}

/// The sustainability framework of the bond as signed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FrameworkSpec {
    /// Eligible project categories; required for green, social and sustainability bonds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    /// Populations the social projects serve (SBP); required for social bonds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["Low-income households in Osaka City"]))]
    pub target_populations: Vec<String>,
    /// UN SDG targets such as "7.2"; required for SDG bonds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["7.2", "11.2", "13.1"]))]
    pub sdg_targets: Vec<String>,
    /// KPIs and their targets; required for sustainability-linked bonds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kpis: Vec<KpiSpec>,
    /// How many years before issue an expenditure may be refinanced (whole number, 0 to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "3")]
    pub refinancing_look_back_years: Option<String>,
    /// Sub-categories the framework names, `category/sub` (`renewable_energy/hydro`), each under
    /// one of `categories`. Where a category has some listed, its projects are in one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["renewable_energy/hydro", "climate_change_adaptation/flood_control"]))]
    pub subcategories: Vec<String>,
}

/// A key performance indicator with its sustainability performance target (ICMA SLBP §1–§2).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiSpec {
    /// Unique within the bond: ASCII letters, digits, '.', '_', '-'.
    #[schema(example = "ghg-scope-1-2")]
    pub id: String,
    #[schema(example = "Scope 1 and 2 GHG emissions")]
    pub name: String,
    #[schema(example = "tCO2e")]
    pub unit: String,
    /// Baseline value (decimal string, may be negative).
    #[schema(example = "1200000")]
    pub baseline: String,
    /// The sustainability performance target (decimal string, different from the baseline).
    #[schema(example = "840000")]
    pub target: String,
    /// When the target is tested, `YYYY-MM-DD`, within the bond's term.
    #[schema(example = "2029-03-31")]
    pub observation_date: String,
    /// Coupon step-up if the target is missed, in basis points (whole number, 0 to 500). Zero
    /// is allowed because the SLBP also admits structural variations instead of a coupon one.
    #[schema(example = "25")]
    pub step_up_bp: String,
}

/// A document the bond refers to, pinned by its digest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    pub kind: DocumentKind,
    #[schema(example = "https://www.pref.osaka.example/green-bond/framework-2025.pdf")]
    pub uri: String,
    /// SHA-256 of the document's bytes, 64 lowercase hex digits.
    #[schema(example = "ae642421d1f5d69c555a0f8c2a59bad892194d59bab27e58af39ea823db51f77")]
    pub sha256: String,
}

/// Technical transfer restrictions of the token (FIEA private-placement rules; DOMAIN.md,
/// "Security tokens in Japan").
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRestrictionsSpec {
    /// Who may hold the token; an investor qualifies if its category satisfies any of these
    /// (a QII satisfies "professional").
    pub allowed_investor_categories: Vec<InvestorCategory>,
    /// Last day of the lock-up, `YYYY-MM-DD`: no transfers on or before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "2026-03-31")]
    pub lock_up_until: Option<String>,
    /// Most distinct holders at any time (whole number, 1 to 1,000,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "49")]
    pub max_holders: Option<String>,
    /// Whether every transfer needs the issuer's recorded consent.
    pub issuer_approval_required: bool,
}

/// Validated bond terms. Built only by [`BondSpec::validate`]; [`BondTerms::to_spec`] gives the
/// normalised wire form back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BondTerms {
    kind: BondKind,
    name: Name,
    isin: Option<Isin>,
    denomination: Amount,
    issue_size: TokenQuantity,
    principal: Amount,
    coupon: Coupon,
    issue_date: Date,
    maturity_date: Date,
    framework: Framework,
    documents: Vec<Document>,
    restrictions: TransferRestrictions,
    /// As given (empty: the default scheme).
    label_schemes: Vec<String>,
    fiscal_year_end: Option<YearEnd>,
    issuance_costs: Option<Amount>,
}

/// At most this many label schemes a bond.
pub const LABEL_SCHEMES_MAX: usize = 5;

/// Validated coupon terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coupon {
    rate: Rate,
    frequency: CouponFrequency,
    day_count: DayCount,
    business_day_convention: Option<BusinessDayConvention>,
    calendar: Option<Calendar>,
}

/// Validated framework.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framework {
    categories: Vec<Category>,
    subcategories: Vec<Eligible>,
    target_populations: Vec<Name>,
    sdg_targets: Vec<SdgTarget>,
    kpis: Vec<Kpi>,
    refinancing_look_back_years: Option<u8>,
}

/// A validated KPI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kpi {
    id: KpiId,
    name: Name,
    unit: String,
    baseline: Decimal,
    target: Decimal,
    observation_date: Date,
    step_up_bp: u16,
}

/// A validated document reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    kind: DocumentKind,
    uri: DocumentUri,
    sha256: Sha256Digest,
}

/// Validated transfer restrictions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferRestrictions {
    allowed_investor_categories: Vec<InvestorCategory>,
    lock_up_until: Option<Date>,
    max_holders: Option<u32>,
    issuer_approval_required: bool,
}

/// Numbered targets are outcome targets, lettered ones means of implementation (A/RES/70/1,
/// §59); the derived order puts `7.3` before `7.a`, as the resolution does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum TargetIndex {
    Outcome(u8),
    /// 1 for `a`, 2 for `b`, …
    MeansOfImplementation(u8),
}

impl BondKind {
    /// Whether proceeds are earmarked for eligible projects (every kind except
    /// sustainability-linked, whose proceeds are for general purposes).
    pub fn is_use_of_proceeds(self) -> bool {
        self != BondKind::SustainabilityLinked
    }

    /// Whether at least one category is required (GBP, SBP, SBG).
    pub fn requires_category(self) -> bool {
        matches!(
            self,
            BondKind::Green | BondKind::Social | BondKind::Sustainability
        )
    }

    /// Whether `category` may finance a bond of this kind: only green categories for a green
    /// bond, only social ones for a social bond, any for the others.
    pub fn allows(self, category: Category) -> bool {
        match self {
            BondKind::Green => category.is_green(),
            BondKind::Social => category.is_social(),
            _ => true,
        }
    }
}

impl Category {
    /// One of the ten GBP categories.
    pub fn is_green(self) -> bool {
        !self.is_social()
    }

    /// One of the six SBP categories.
    pub fn is_social(self) -> bool {
        matches!(
            self,
            Category::AffordableBasicInfrastructure
                | Category::AccessToEssentialServices
                | Category::AffordableHousing
                | Category::EmploymentGeneration
                | Category::FoodSecurityAndSustainableFoodSystems
                | Category::SocioeconomicAdvancementAndEmpowerment
        )
    }

    /// The category's name as ICMA writes it.
    pub fn title(self) -> &'static str {
        match self {
            Category::RenewableEnergy => "Renewable energy",
            Category::EnergyEfficiency => "Energy efficiency",
            Category::PollutionPreventionAndControl => "Pollution prevention and control",
            Category::LivingNaturalResourcesAndLandUse => {
                "Environmentally sustainable management of living natural resources and land use"
            }
            Category::TerrestrialAndAquaticBiodiversity => "Terrestrial and aquatic biodiversity",
            Category::CleanTransportation => "Clean transportation",
            Category::SustainableWaterAndWastewaterManagement => {
                "Sustainable water and wastewater management"
            }
            Category::ClimateChangeAdaptation => "Climate change adaptation",
            Category::CircularEconomy => {
                "Circular economy adapted products, production technologies and processes"
            }
            Category::GreenBuildings => "Green buildings",
            Category::AffordableBasicInfrastructure => "Affordable basic infrastructure",
            Category::AccessToEssentialServices => "Access to essential services",
            Category::AffordableHousing => "Affordable housing",
            Category::EmploymentGeneration => {
                "Employment generation, including through SME financing and microfinance"
            }
            Category::FoodSecurityAndSustainableFoodSystems => {
                "Food security and sustainable food systems"
            }
            Category::SocioeconomicAdvancementAndEmpowerment => {
                "Socioeconomic advancement and empowerment"
            }
        }
    }
}

impl CouponFrequency {
    /// Coupon payments per year; 0 for a zero-coupon bond.
    pub fn payments_per_year(self) -> u32 {
        match self {
            CouponFrequency::Annual => 1,
            CouponFrequency::SemiAnnual => 2,
            CouponFrequency::Quarterly => 4,
            CouponFrequency::Monthly => 12,
            CouponFrequency::Zero => 0,
        }
    }
}

impl SdgTarget {
    /// Parses a target as the UN writes it: goal, '.', then the target's number or lowercase
    /// letter (`"7.2"`, `"7.a"`), without leading zeros. Goals alone (`"7"`) are refused: the
    /// UNDP SDG Impact Standards ask for targets, not goals.
    pub fn parse(text: &str) -> Result<Self, SdgTargetError> {
        let error = |hint: String| SdgTargetError {
            input: text.to_owned(),
            hint,
        };
        let Some((goal_text, target_text)) = text.split_once('.') else {
            return Err(error(
                "write a target as goal.target, e.g. \"7.2\" or \"7.a\"".to_owned(),
            ));
        };
        let goal = small_number(goal_text)
            .filter(|goal| (1..=17).contains(goal))
            .ok_or_else(|| error("there are 17 goals, numbered 1 to 17".to_owned()))?;
        let (outcomes, means) = targets_of_goal(goal);
        let index = if let Some(number) = small_number(target_text) {
            (1..=outcomes)
                .contains(&number)
                .then_some(TargetIndex::Outcome(number))
        } else if let [letter @ b'a'..=b'z'] = target_text.as_bytes() {
            let ordinal = letter - b'a' + 1;
            (ordinal <= means).then_some(TargetIndex::MeansOfImplementation(ordinal))
        } else {
            None
        };
        let index = index.ok_or_else(|| error(describe_goal(goal)))?;
        Ok(Self { goal, index })
    }

    /// The goal, 1 to 17.
    pub fn goal(&self) -> u8 {
        self.goal
    }

    /// Every target, in the order of A/RES/70/1 (169 of them).
    pub fn all() -> impl Iterator<Item = SdgTarget> {
        (1..=17u8).flat_map(|goal| {
            let (outcomes, means) = targets_of_goal(goal);
            (1..=outcomes)
                .map(TargetIndex::Outcome)
                .chain((1..=means).map(TargetIndex::MeansOfImplementation))
                .map(move |index| SdgTarget { goal, index })
        })
    }
}

impl KpiId {
    /// Parses a KPI identifier: 1 to [`KPI_ID_CHARS_MAX`] ASCII letters, digits, '.', '_', '-'.
    /// Identifiers appear in ledger entries and URLs, so they are kept to characters that need
    /// no escaping.
    pub fn parse(text: &str) -> Result<Self, TextError> {
        const WHAT: &str = "KPI id";
        if text.is_empty() {
            return Err(TextError::Empty { what: WHAT });
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(TextError::Format {
                what: WHAT,
                rule: "may contain only ASCII letters, digits, '.', '_' and '-'",
            });
        }
        if text.len() > KPI_ID_CHARS_MAX {
            return Err(TextError::TooLong {
                what: WHAT,
                got: text.len(),
                max: KPI_ID_CHARS_MAX,
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl DocumentUri {
    /// Parses an absolute URI (RFC 3986 §4.3) whose scheme is `https`, `http`, `ipfs` or `urn`
    /// (RFC 8141). These are the schemes an auditor can resolve; the digest pins the content
    /// whatever the scheme. Only the shape is checked, not reachability (that would be I/O).
    pub fn parse(text: &str) -> Result<Self, DocumentError> {
        if text.len() > URI_LEN_MAX {
            return Err(DocumentError::UriTooLong {
                got: text.len(),
                max: URI_LEN_MAX,
            });
        }
        let invalid = |rule| DocumentError::InvalidUri {
            input: text.to_owned(),
            rule,
        };
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "must be ASCII without spaces or control characters; percent-encode the rest \
                 (RFC 3986 §2.1)",
            ));
        }
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(invalid(
                "must be absolute, starting with a scheme such as https:",
            ));
        };
        let well_formed = match scheme {
            "https" | "http" | "ipfs" => rest.strip_prefix("//").is_some_and(|rest| {
                let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
                !authority.is_empty()
            }),
            "urn" => rest.split_once(':').is_some_and(|(nid, nss)| {
                // RFC 8141 §2: NID is 2–32 letters, digits or hyphens, starting with neither a
                // hyphen nor ending with one; NSS is non-empty.
                (2..=32).contains(&nid.len())
                    && nid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !nid.starts_with('-')
                    && !nid.ends_with('-')
                    && !nss.is_empty()
            }),
            _ => {
                return Err(DocumentError::UnsupportedScheme {
                    input: text.to_owned(),
                });
            }
        };
        if !well_formed {
            return Err(invalid(
                "is not well formed: https, http and ipfs need \"//\" and a host or CID, urn \
                 needs \"urn:<nid>:<nss>\"",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The URI as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Sha256Digest {
    /// Parses 64 lowercase hexadecimal digits. Uppercase is refused so that each digest has one
    /// spelling in signed payloads.
    pub fn parse_hex(text: &str) -> Result<Self, DocumentError> {
        let invalid = || DocumentError::InvalidDigest {
            input: text.to_owned(),
        };
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(invalid());
        }
        let nibble = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        let mut digest = [0u8; 32];
        for (byte, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
            let (Some(high), Some(low)) = (nibble(pair[0]), nibble(pair[1])) else {
                return Err(invalid());
            };
            *byte = (high << 4) | low;
        }
        Ok(Self(digest))
    }

    /// The digest's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

impl DocumentSpec {
    /// Checks a document reference; pointers are relative to this object.
    pub fn validate(&self) -> Result<Document, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let uri = errors.check("/uri", DocumentUri::parse(&self.uri));
        let sha256 = errors.check("/sha256", Sha256Digest::parse_hex(&self.sha256));
        let document = (|| {
            Some(Document {
                kind: self.kind,
                uri: uri?,
                sha256: sha256?,
            })
        })();
        errors.into_result(document)
    }
}

impl BondSpec {
    /// Checks every rule and returns the typed terms, or every problem found, each with a JSON
    /// Pointer relative to the spec (e.g. `/coupon/rate`, `/framework/categories/0`).
    pub fn validate(&self) -> Result<BondTerms, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let kind = self.kind;

        let name = errors.check("/name", Name::parse(&self.name));
        let isin = self
            .isin
            .as_deref()
            .map(|text| errors.check("/isin", Isin::parse(text)));
        let currency = errors.check("/currency", Currency::parse(&self.currency));
        let denomination = currency
            .and_then(|currency| {
                errors.check("/denomination", Amount::parse(&self.denomination, currency))
            })
            .filter(|denomination| {
                let positive = !denomination.is_zero();
                if !positive {
                    errors.push(
                        "/denomination",
                        "not_positive",
                        "denomination must be greater than zero",
                    );
                }
                positive
            });
        let issue_size = errors.check("/issue_size", TokenQuantity::parse(&self.issue_size));
        let principal = match (denomination, issue_size) {
            (Some(denomination), Some(issue_size)) => match denomination.checked_mul(issue_size) {
                Ok(principal) => Some(principal),
                Err(_) => {
                    errors.push(
                        "/issue_size",
                        "principal_too_large",
                        format!(
                            "denomination × issue_size exceeds {AMOUNT_UNITS_MAX} {}; issue fewer \
                             tokens or a smaller denomination",
                            denomination.currency()
                        ),
                    );
                    None
                }
            },
            _ => None,
        };
        let coupon = check_coupon(&self.coupon, &mut errors);

        let issue_date = errors.check("/issue_date", parse_date(&self.issue_date));
        let maturity_date = errors.check("/maturity_date", parse_date(&self.maturity_date));
        let term = match (issue_date, maturity_date) {
            (Some(issue), Some(maturity)) if maturity <= issue => {
                errors.push(
                    "/maturity_date",
                    "maturity_before_issue",
                    format!(
                        "maturity_date {} must be after issue_date {}",
                        format_date(maturity),
                        format_date(issue)
                    ),
                );
                None
            }
            (Some(issue), Some(maturity)) if !within_years(issue, maturity, TERM_YEARS_MAX) => {
                errors.push(
                    "/maturity_date",
                    "term_too_long",
                    format!(
                        "the term from issue to maturity may be at most {TERM_YEARS_MAX} years"
                    ),
                );
                None
            }
            (Some(issue), Some(maturity)) => Some(Term { issue, maturity }),
            _ => None,
        };

        let framework = check_framework(kind, &self.framework, term, &mut errors);
        let documents = check_documents(kind, &self.documents, &mut errors);
        let restrictions = check_restrictions(&self.transfer_restrictions, term, &mut errors);
        let mut label_schemes_ok = true;
        if self.label_schemes.len() > LABEL_SCHEMES_MAX {
            errors.push(
                "/label_schemes",
                "too_many_schemes",
                format!("at most {LABEL_SCHEMES_MAX} label schemes a bond"),
            );
            label_schemes_ok = false;
        }
        for (i, id) in self.label_schemes.iter().enumerate() {
            if crate::domain::scheme::latest(id).is_none() {
                errors.push(
                    format!("/label_schemes/{i}"),
                    "unknown_scheme",
                    format!("{id:?} is not a label scheme (GET /v1/label-schemes lists them)"),
                );
                label_schemes_ok = false;
            } else if self.label_schemes[..i].contains(id) {
                errors.push(
                    format!("/label_schemes/{i}"),
                    "duplicate_scheme",
                    format!("{id} is named twice"),
                );
                label_schemes_ok = false;
            }
        }
        let issuance_costs = match (&self.issuance_costs, currency) {
            (None, _) => Some(None),
            (Some(text), Some(currency)) => errors
                .check("/issuance_costs", Amount::parse(text, currency))
                .filter(|costs| {
                    let below = principal.is_none_or(|p| costs.value() < p.value());
                    if !below {
                        errors.push(
                            "/issuance_costs",
                            "costs_exceed_principal",
                            "issuance costs are less than the principal",
                        );
                    }
                    below
                })
                .map(Some),
            (Some(_), None) => None,
        };
        let fiscal_year_end = match self.fiscal_year_end.as_deref().map(YearEnd::parse) {
            None => Some(None),
            Some(Ok(end)) => Some(Some(end)),
            Some(Err(e)) => {
                errors.push("/fiscal_year_end", "invalid_year_end", e.to_string());
                None
            }
        };

        let terms = (|| {
            let term = term?;
            Some(BondTerms {
                kind,
                name: name?,
                isin: all_parsed(isin)?,
                denomination: denomination?,
                issue_size: issue_size?,
                principal: principal?,
                coupon: coupon?,
                issue_date: term.issue,
                maturity_date: term.maturity,
                framework: framework?,
                documents: documents?,
                restrictions: restrictions?,
                label_schemes: label_schemes_ok.then(|| self.label_schemes.clone())?,
                fiscal_year_end: fiscal_year_end?,
                issuance_costs: issuance_costs?,
            })
        })();
        errors.into_result(terms)
    }
}

impl BondTerms {
    /// The label the bond is issued under.
    pub fn kind(&self) -> BondKind {
        self.kind
    }

    /// The bond's name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The ISIN, once assigned.
    pub fn isin(&self) -> Option<&Isin> {
        self.isin.as_ref()
    }

    /// The currency of every amount of the bond.
    pub fn currency(&self) -> Currency {
        self.denomination.currency()
    }

    /// Face value of one token.
    pub fn denomination(&self) -> Amount {
        self.denomination
    }

    /// Number of tokens issued.
    pub fn issue_size(&self) -> TokenQuantity {
        self.issue_size
    }

    /// Denomination × issue size: the face value of the whole issue.
    pub fn principal(&self) -> Amount {
        self.principal
    }

    /// Coupon terms.
    pub fn coupon(&self) -> Coupon {
        self.coupon
    }

    /// Issue date.
    pub fn issue_date(&self) -> Date {
        self.issue_date
    }

    /// Maturity date (after the issue date).
    pub fn maturity_date(&self) -> Date {
        self.maturity_date
    }

    /// The whole framework.
    pub fn framework(&self) -> &Framework {
        &self.framework
    }

    /// Eligible project categories, in the order given.
    pub fn categories(&self) -> &[Category] {
        &self.framework.categories
    }

    /// Target populations of the social projects.
    pub fn target_populations(&self) -> &[Name] {
        &self.framework.target_populations
    }

    /// SDG targets, in the order given.
    pub fn sdg_targets(&self) -> &[SdgTarget] {
        &self.framework.sdg_targets
    }

    /// The goals of the SDG targets, ascending, each once.
    pub fn sdg_goals(&self) -> Vec<u8> {
        let goals: BTreeSet<u8> = self
            .framework
            .sdg_targets
            .iter()
            .map(SdgTarget::goal)
            .collect();
        goals.into_iter().collect()
    }

    /// KPIs (sustainability-linked bonds).
    pub fn kpis(&self) -> &[Kpi] {
        &self.framework.kpis
    }

    /// Documents, in the order given.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// Transfer restrictions.
    pub fn restrictions(&self) -> &TransferRestrictions {
        &self.restrictions
    }

    /// The ids of the label schemes the bond is labelled under, the default if none is named.
    pub fn label_schemes(&self) -> Vec<String> {
        if self.label_schemes.is_empty() {
            vec![crate::domain::scheme::DEFAULT_SCHEME.to_owned()]
        } else {
            self.label_schemes.clone()
        }
    }

    /// The issuance costs the issuer declared (0 if none).
    pub fn issuance_costs(&self) -> Decimal {
        self.issuance_costs
            .as_ref()
            .map_or(Decimal::ZERO, Amount::value)
    }

    /// The issuer's fiscal year end (31 March if the terms name none).
    pub fn fiscal_year_end(&self) -> YearEnd {
        self.fiscal_year_end.unwrap_or(YearEnd::MARCH_31)
    }

    /// The normalised wire form: amounts and rates as `Decimal::normalize()` prints them, names
    /// trimmed, empty lists and absent options left out when serialised.
    /// `to_spec().validate()` gives these terms back.
    pub fn to_spec(&self) -> BondSpec {
        BondSpec {
            kind: self.kind,
            name: self.name.as_str().to_owned(),
            isin: self.isin.as_ref().map(|isin| isin.as_str().to_owned()),
            currency: self.currency().as_str().to_owned(),
            denomination: self.denomination.to_wire(),
            issue_size: self.issue_size.to_wire(),
            coupon: CouponSpec {
                rate: self.coupon.rate.to_wire(),
                frequency: self.coupon.frequency,
                day_count: self.coupon.day_count,
                business_day_convention: self.coupon.business_day_convention,
                calendar: self.coupon.calendar,
            },
            issue_date: format_date(self.issue_date),
            maturity_date: format_date(self.maturity_date),
            framework: FrameworkSpec {
                categories: self.framework.categories.clone(),
                target_populations: self
                    .framework
                    .target_populations
                    .iter()
                    .map(|name| name.as_str().to_owned())
                    .collect(),
                sdg_targets: self
                    .framework
                    .sdg_targets
                    .iter()
                    .map(SdgTarget::to_string)
                    .collect(),
                kpis: self.framework.kpis.iter().map(Kpi::to_spec).collect(),
                refinancing_look_back_years: self
                    .framework
                    .refinancing_look_back_years
                    .map(|years| years.to_string()),
                subcategories: self
                    .framework
                    .subcategories
                    .iter()
                    .map(Eligible::path)
                    .collect(),
            },
            documents: self.documents.iter().map(Document::to_spec).collect(),
            transfer_restrictions: TransferRestrictionsSpec {
                allowed_investor_categories: self.restrictions.allowed_investor_categories.clone(),
                lock_up_until: self.restrictions.lock_up_until.map(format_date),
                max_holders: self
                    .restrictions
                    .max_holders
                    .map(|holders| holders.to_string()),
                issuer_approval_required: self.restrictions.issuer_approval_required,
            },
            label_schemes: self.label_schemes.clone(),
            fiscal_year_end: self.fiscal_year_end.map(|end| end.as_string()),
            issuance_costs: self.issuance_costs.as_ref().map(Amount::to_wire),
        }
    }
}

impl Coupon {
    /// Rate in percent per annum.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Payment frequency.
    pub fn frequency(&self) -> CouponFrequency {
        self.frequency
    }

    /// Day-count convention.
    pub fn day_count(&self) -> DayCount {
        self.day_count
    }

    /// How payment dates move off non-business days (modified following if the terms name
    /// none).
    pub fn business_day_convention(&self) -> BusinessDayConvention {
        self.business_day_convention
            .unwrap_or(BusinessDayConvention::ModifiedFollowing)
    }

    /// Whose business days (weekends only if the terms name none).
    pub fn calendar(&self) -> Calendar {
        self.calendar.unwrap_or(Calendar::Weekends)
    }
}

impl Framework {
    /// Eligible project categories.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The sub-categories the framework names.
    pub fn subcategories(&self) -> &[Eligible] {
        &self.subcategories
    }

    /// Target populations of the social projects.
    pub fn target_populations(&self) -> &[Name] {
        &self.target_populations
    }

    /// SDG targets.
    pub fn sdg_targets(&self) -> &[SdgTarget] {
        &self.sdg_targets
    }

    /// KPIs.
    pub fn kpis(&self) -> &[Kpi] {
        &self.kpis
    }

    /// Refinancing look-back in years, if the framework sets one.
    pub fn refinancing_look_back_years(&self) -> Option<u8> {
        self.refinancing_look_back_years
    }
}

impl Kpi {
    /// Identifier, unique within the bond.
    pub fn id(&self) -> &KpiId {
        &self.id
    }

    /// Name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Unit of the baseline and target.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    /// Baseline value.
    pub fn baseline(&self) -> Decimal {
        self.baseline
    }

    /// Sustainability performance target.
    pub fn target(&self) -> Decimal {
        self.target
    }

    /// When the target is tested (within the bond's term).
    pub fn observation_date(&self) -> Date {
        self.observation_date
    }

    /// Coupon step-up if the target is missed, in basis points.
    pub fn step_up_bp(&self) -> u16 {
        self.step_up_bp
    }

    fn to_spec(&self) -> KpiSpec {
        KpiSpec {
            id: self.id.as_str().to_owned(),
            name: self.name.as_str().to_owned(),
            unit: self.unit.clone(),
            baseline: self.baseline.normalize().to_string(),
            target: self.target.normalize().to_string(),
            observation_date: format_date(self.observation_date),
            step_up_bp: self.step_up_bp.to_string(),
        }
    }
}

impl Document {
    /// What the document is.
    pub fn kind(&self) -> DocumentKind {
        self.kind
    }

    /// Where it can be fetched.
    pub fn uri(&self) -> &DocumentUri {
        &self.uri
    }

    /// SHA-256 of its bytes.
    pub fn sha256(&self) -> Sha256Digest {
        self.sha256
    }

    /// The wire form.
    pub fn to_spec(&self) -> DocumentSpec {
        DocumentSpec {
            kind: self.kind,
            uri: self.uri.as_str().to_owned(),
            sha256: self.sha256.to_hex(),
        }
    }
}

impl TransferRestrictions {
    /// Categories allowed to hold, as given.
    pub fn allowed_investor_categories(&self) -> &[InvestorCategory] {
        &self.allowed_investor_categories
    }

    /// Whether an investor of `category` may hold the token: its category must satisfy one of
    /// the allowed ones (FIEA categories nest, see [`InvestorCategory::satisfies`]).
    pub fn admits(&self, category: InvestorCategory) -> bool {
        self.allowed_investor_categories
            .iter()
            .any(|&allowed| category.satisfies(allowed))
    }

    /// Last day of the lock-up, if any.
    pub fn lock_up_until(&self) -> Option<Date> {
        self.lock_up_until
    }

    /// Whether transfers are still locked up on `date` (the lock-up's last day included).
    pub fn is_locked_up_on(&self, date: Date) -> bool {
        self.lock_up_until.is_some_and(|last| date <= last)
    }

    /// Most distinct holders, if capped.
    pub fn max_holders(&self) -> Option<u32> {
        self.max_holders
    }

    /// Whether every transfer needs the issuer's recorded consent.
    pub fn issuer_approval_required(&self) -> bool {
        self.issuer_approval_required
    }
}

impl fmt::Display for SdgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            TargetIndex::Outcome(number) => write!(f, "{}.{number}", self.goal),
            TargetIndex::MeansOfImplementation(ordinal) => {
                write!(f, "{}.{}", self.goal, char::from(b'a' + ordinal - 1))
            }
        }
    }
}

impl std::str::FromStr for SdgTarget {
    type Err = SdgTargetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl Serialize for SdgTarget {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SdgTarget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str> as Deserialize>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for SdgTarget {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "One of the 169 UN SDG targets, written goal.target",
            Some("^[1-9][0-9]?\\.([1-9][0-9]?|[a-z])$"),
            "7.2",
        )
    }
}

impl utoipa::ToSchema for SdgTarget {
    fn name() -> Cow<'static, str> {
        schema_name("SdgTarget")
    }
}

string_wire!(KpiId, TextError);
string_wire!(DocumentUri, DocumentError);

impl ErrorCode for SdgTargetError {
    fn code(&self) -> &'static str {
        "unknown_sdg_target"
    }
}

impl ErrorCode for DocumentError {
    fn code(&self) -> &'static str {
        match self {
            DocumentError::UriTooLong { .. } => "too_long",
            DocumentError::InvalidUri { .. } => "invalid_uri",
            DocumentError::UnsupportedScheme { .. } => "unsupported_uri_scheme",
            DocumentError::InvalidDigest { .. } => "invalid_sha256",
        }
    }
}

/// Issue and maturity dates that passed their checks.
#[derive(Clone, Copy)]
struct Term {
    issue: Date,
    maturity: Date,
}

/// Outcome and means-of-implementation target counts of each goal, from A/RES/70/1 (goal 1 has
/// 1.1–1.5 and 1.a–1.b, …, goal 17 has 17.1–17.19).
const SDG_TARGET_COUNTS: [(u8, u8); 17] = [
    (5, 2),
    (5, 3),
    (9, 4),
    (7, 3),
    (6, 3),
    (6, 2),
    (3, 2),
    (10, 2),
    (5, 3),
    (7, 3),
    (7, 3),
    (8, 3),
    (3, 2),
    (7, 3),
    (9, 3),
    (10, 2),
    (19, 0),
];

/// (outcome targets, means-of-implementation targets) of `goal`, 1 to 17.
fn targets_of_goal(goal: u8) -> (u8, u8) {
    SDG_TARGET_COUNTS
        .get(usize::from(goal).wrapping_sub(1))
        .copied()
        .unwrap_or((0, 0))
}

fn describe_goal(goal: u8) -> String {
    let (outcomes, means) = targets_of_goal(goal);
    let mut text = format!("goal {goal} has targets {goal}.1–{goal}.{outcomes}");
    if means > 0 {
        let last = char::from(b'a' + means - 1);
        text.push_str(&format!(" and {goal}.a–{goal}.{last}"));
    }
    text
}

/// A number of one or two digits without a leading zero.
fn small_number(text: &str) -> Option<u8> {
    match text.as_bytes() {
        [first @ b'1'..=b'9'] => Some(first - b'0'),
        [first @ b'1'..=b'9', second @ b'0'..=b'9'] => Some((first - b'0') * 10 + (second - b'0')),
        _ => None,
    }
}

/// Whether `later` is at most `years` calendar years after `earlier`.
fn within_years(earlier: Date, later: Date, years: i32) -> bool {
    let span = later.year() - earlier.year();
    span < years
        || (span == years
            && (u8::from(later.month()), later.day()) <= (u8::from(earlier.month()), earlier.day()))
}

fn too_many(errors: &mut FieldErrors, pointer: &str, what: &str, len: usize, max: usize) -> bool {
    if len > max {
        errors.push(
            pointer,
            "too_many_items",
            format!("{what} has {len} entries; at most {max} are allowed"),
        );
        return true;
    }
    false
}

fn check_coupon(spec: &CouponSpec, errors: &mut FieldErrors) -> Option<Coupon> {
    let rate = errors.check("/coupon/rate", Rate::parse(&spec.rate))?;
    if spec.frequency == CouponFrequency::Zero && !rate.is_zero() {
        errors.push(
            "/coupon/rate",
            "zero_coupon_with_rate",
            format!(
                "a zero-coupon bond pays no coupon, so its rate must be \"0\", not {}",
                quoted(&spec.rate)
            ),
        );
        return None;
    }
    Some(Coupon {
        rate,
        frequency: spec.frequency,
        day_count: spec.day_count,
        business_day_convention: spec.business_day_convention,
        calendar: spec.calendar,
    })
}

fn check_framework(
    kind: BondKind,
    spec: &FrameworkSpec,
    term: Option<Term>,
    errors: &mut FieldErrors,
) -> Option<Framework> {
    let categories = check_categories(kind, &spec.categories, errors);
    let target_populations = check_target_populations(kind, spec, errors);
    let sdg_targets = check_sdg_targets(kind, &spec.sdg_targets, errors);
    let kpis = check_kpis(kind, &spec.kpis, term, errors);
    let refinancing_look_back_years = spec.refinancing_look_back_years.as_deref().map(|text| {
        errors.check(
            "/framework/refinancing_look_back_years",
            parse_whole_number(
                text,
                "refinancing look-back in years",
                u64::from(REFINANCING_LOOK_BACK_YEARS_MAX),
            )
            .map(|years| u8::try_from(years).unwrap_or(REFINANCING_LOOK_BACK_YEARS_MAX)),
        )
    });
    let mut subcategories = Vec::new();
    let mut subcategories_ok = true;
    for (i, text) in spec
        .subcategories
        .iter()
        .enumerate()
        .take(CATEGORIES_MAX * 4)
    {
        let pointer = format!("/framework/subcategories/{i}");
        match Eligible::parse(text) {
            Ok(e) if e.sub.is_none() => {
                errors.push(
                    pointer,
                    "not_a_subcategory",
                    "name a sub-category: category/sub",
                );
                subcategories_ok = false;
            }
            Ok(e) if !spec.categories.contains(&e.category) => {
                errors.push(
                    pointer,
                    "category_not_in_framework",
                    format!("{} is not one of the framework's categories", e.category),
                );
                subcategories_ok = false;
            }
            Ok(e) if subcategories.contains(&e) => {
                errors.push(
                    pointer,
                    "duplicate_subcategory",
                    format!("{text} is listed twice"),
                );
                subcategories_ok = false;
            }
            Ok(e) => subcategories.push(e),
            Err(err) => {
                errors.push(pointer, "unknown_subcategory", err.to_string());
                subcategories_ok = false;
            }
        }
    }
    if spec.subcategories.len() > CATEGORIES_MAX * 4 {
        errors.push(
            "/framework/subcategories",
            "too_many_subcategories",
            format!("at most {} sub-categories", CATEGORIES_MAX * 4),
        );
        subcategories_ok = false;
    }
    Some(Framework {
        subcategories: subcategories_ok.then_some(subcategories)?,
        categories: categories?,
        target_populations: target_populations?,
        sdg_targets: sdg_targets?,
        kpis: kpis?,
        refinancing_look_back_years: all_parsed(refinancing_look_back_years)?,
    })
}

fn check_categories(
    kind: BondKind,
    categories: &[Category],
    errors: &mut FieldErrors,
) -> Option<Vec<Category>> {
    const POINTER: &str = "/framework/categories";
    if too_many(
        errors,
        POINTER,
        "categories",
        categories.len(),
        CATEGORIES_MAX,
    ) {
        return None;
    }
    let before = errors.len();
    let mut seen = BTreeSet::new();
    for (i, &category) in categories.iter().enumerate() {
        if !seen.insert(category) {
            errors.push(
                format!("{POINTER}/{i}"),
                "duplicate_category",
                format!("category {category} is listed more than once"),
            );
        } else if !kind.allows(category) {
            let family = if category.is_green() {
                "green (GBP)"
            } else {
                "social (SBP)"
            };
            errors.push(
                format!("{POINTER}/{i}"),
                "category_not_allowed_for_kind",
                format!(
                    "{category} is a {family} category and cannot finance a {kind} bond; \
                     use a sustainability bond for a mix"
                ),
            );
        }
    }
    if categories.is_empty() && kind.requires_category() {
        errors.push(
            POINTER,
            "category_required",
            format!("a {kind} bond must name at least one eligible project category"),
        );
    }
    (errors.len() == before).then(|| categories.to_vec())
}

fn check_target_populations(
    kind: BondKind,
    spec: &FrameworkSpec,
    errors: &mut FieldErrors,
) -> Option<Vec<Name>> {
    const POINTER: &str = "/framework/target_populations";
    let populations = &spec.target_populations;
    if too_many(
        errors,
        POINTER,
        "target_populations",
        populations.len(),
        TARGET_POPULATIONS_MAX,
    ) {
        return None;
    }
    let before = errors.len();
    let mut parsed = Vec::with_capacity(populations.len());
    for (i, text) in populations.iter().enumerate() {
        let pointer = format!("{POINTER}/{i}");
        if let Some(name) =
            errors.check(pointer.as_str(), Name::parse_as(text, "target population"))
        {
            if parsed.contains(&name) {
                errors.push(
                    pointer,
                    "duplicate_target_population",
                    format!(
                        "target population {} is listed more than once",
                        quoted(name.as_str())
                    ),
                );
            } else {
                parsed.push(name);
            }
        }
    }
    // SBP §1: social projects address a target population. A sustainability bond's social
    // projects are under the SBP too (SBG), so the rule applies when it has a social category.
    let has_social_projects = kind == BondKind::Social
        || (kind == BondKind::Sustainability
            && spec.categories.iter().any(|category| category.is_social()));
    if populations.is_empty() && has_social_projects {
        errors.push(
            POINTER,
            "social_without_target_population",
            "social projects must name at least one target population (ICMA SBP), e.g. \
             \"Low-income households in Osaka City\"",
        );
    }
    (errors.len() == before).then_some(parsed)
}

fn check_sdg_targets(
    kind: BondKind,
    targets: &[String],
    errors: &mut FieldErrors,
) -> Option<Vec<SdgTarget>> {
    const POINTER: &str = "/framework/sdg_targets";
    if too_many(
        errors,
        POINTER,
        "sdg_targets",
        targets.len(),
        SDG_TARGETS_MAX,
    ) {
        return None;
    }
    let before = errors.len();
    let mut parsed = Vec::with_capacity(targets.len());
    for (i, text) in targets.iter().enumerate() {
        let pointer = format!("{POINTER}/{i}");
        if let Some(target) = errors.check(pointer.as_str(), SdgTarget::parse(text)) {
            if parsed.contains(&target) {
                errors.push(
                    pointer,
                    "duplicate_sdg_target",
                    format!("SDG target {target} is listed more than once"),
                );
            } else {
                parsed.push(target);
            }
        }
    }
    if targets.is_empty() && kind == BondKind::Sdg {
        errors.push(
            POINTER,
            "sdg_target_required",
            "an SDG bond must name at least one UN SDG target, e.g. \"7.2\" (a target, not \
             just a goal)",
        );
    }
    (errors.len() == before).then_some(parsed)
}

fn check_kpis(
    kind: BondKind,
    kpis: &[KpiSpec],
    term: Option<Term>,
    errors: &mut FieldErrors,
) -> Option<Vec<Kpi>> {
    const POINTER: &str = "/framework/kpis";
    if too_many(errors, POINTER, "kpis", kpis.len(), KPIS_MAX) {
        return None;
    }
    let before = errors.len();
    let mut parsed: Vec<Kpi> = Vec::with_capacity(kpis.len());
    let mut ids = BTreeSet::new();
    for (i, spec) in kpis.iter().enumerate() {
        let prefix = format!("{POINTER}/{i}");
        if !ids.insert(spec.id.as_str()) {
            errors.push(
                format!("{prefix}/id"),
                "duplicate_kpi_id",
                format!("KPI id {} is used more than once", quoted(&spec.id)),
            );
        }
        if let Some(kpi) = check_kpi(spec, &prefix, term, errors) {
            parsed.push(kpi);
        }
    }
    if kpis.is_empty() && kind == BondKind::SustainabilityLinked {
        errors.push(
            POINTER,
            "kpi_required",
            "a sustainability-linked bond must have at least one KPI with a sustainability \
             performance target (ICMA SLBP)",
        );
    }
    (errors.len() == before).then_some(parsed)
}

fn check_kpi(
    spec: &KpiSpec,
    prefix: &str,
    term: Option<Term>,
    errors: &mut FieldErrors,
) -> Option<Kpi> {
    let decimals_rule = || format!("KPI values allow at most {KPI_VALUE_DECIMALS_MAX}");
    let format = DecimalFormat {
        what: "KPI value",
        signed: true,
        decimals_max: KPI_VALUE_DECIMALS_MAX,
        decimals_rule: &decimals_rule,
        magnitude_max: Decimal::from(KPI_VALUE_MAGNITUDE_MAX),
    };
    let id = errors.check(format!("{prefix}/id"), KpiId::parse(&spec.id));
    let name = errors.check(format!("{prefix}/name"), Name::parse(&spec.name));
    let unit = errors.check(
        format!("{prefix}/unit"),
        parse_text(&spec.unit, "unit", KPI_UNIT_CHARS_MAX),
    );
    let baseline = errors.check(
        format!("{prefix}/baseline"),
        parse_decimal(&spec.baseline, &format),
    );
    let target = errors
        .check(
            format!("{prefix}/target"),
            parse_decimal(&spec.target, &format),
        )
        .filter(|&target| {
            // SLBP §2: an SPT must be ambitious, "beyond a business as usual trajectory"; a target
            // equal to the baseline cannot be.
            let differs = baseline != Some(target);
            if !differs {
                errors.push(
                    format!("{prefix}/target"),
                    "target_equals_baseline",
                    "the sustainability performance target must differ from the baseline",
                );
            }
            differs
        });
    let observation_date = errors
        .check(
            format!("{prefix}/observation_date"),
            parse_date(&spec.observation_date),
        )
        .filter(|&date| {
            let Some(term) = term else { return true };
            let (code, detail) = if date < term.issue {
                ("observation_before_issue", "before the issue date")
            } else if date > term.maturity {
                ("observation_after_maturity", "after the maturity date")
            } else {
                return true;
            };
            errors.push(
                format!("{prefix}/observation_date"),
                code,
                format!(
                    "observation_date {} is {detail}; a target must be tested while the bond is \
                     outstanding",
                    format_date(date)
                ),
            );
            false
        });
    let step_up_bp = errors.check(
        format!("{prefix}/step_up_bp"),
        parse_whole_number(&spec.step_up_bp, "step_up_bp", u64::from(STEP_UP_BP_MAX))
            .map(|bp| u16::try_from(bp).unwrap_or(STEP_UP_BP_MAX)),
    );
    Some(Kpi {
        id: id?,
        name: name?,
        unit: unit?,
        baseline: baseline?,
        target: target?,
        observation_date: observation_date?,
        step_up_bp: step_up_bp?,
    })
}

fn check_documents(
    kind: BondKind,
    documents: &[DocumentSpec],
    errors: &mut FieldErrors,
) -> Option<Vec<Document>> {
    const POINTER: &str = "/documents";
    if too_many(errors, POINTER, "documents", documents.len(), DOCUMENTS_MAX) {
        return None;
    }
    let before = errors.len();
    let mut parsed = Vec::with_capacity(documents.len());
    let mut uris = BTreeSet::new();
    for (i, spec) in documents.iter().enumerate() {
        let prefix = format!("{POINTER}/{i}");
        if !uris.insert(spec.uri.as_str()) {
            errors.push(
                format!("{prefix}/uri"),
                "duplicate_document",
                format!("document {} is listed more than once", quoted(&spec.uri)),
            );
        }
        match spec.validate() {
            Ok(document) => parsed.push(document),
            Err(found) => errors.extend_prefixed(&prefix, found),
        }
    }
    // GBP key recommendation "Green Bond Frameworks": the issuer explains its alignment with the
    // four core components in a public framework; the same holds under the SBP, SBG and the
    // UNDP SDG Impact Standards.
    let has_framework = documents
        .iter()
        .any(|document| document.kind == DocumentKind::Framework);
    if kind.is_use_of_proceeds() && !has_framework {
        errors.push(
            POINTER,
            "framework_document_missing",
            format!("a {kind} bond must attach its framework document (kind \"framework\")"),
        );
    }
    (errors.len() == before).then_some(parsed)
}

fn check_restrictions(
    spec: &TransferRestrictionsSpec,
    term: Option<Term>,
    errors: &mut FieldErrors,
) -> Option<TransferRestrictions> {
    const POINTER: &str = "/transfer_restrictions";
    let categories = &spec.allowed_investor_categories;
    let before = errors.len();
    let too_many_categories = too_many(
        errors,
        &format!("{POINTER}/allowed_investor_categories"),
        "allowed_investor_categories",
        categories.len(),
        InvestorCategory::ALL.len(),
    );
    if !too_many_categories {
        let mut seen = BTreeSet::new();
        for (i, category) in categories.iter().enumerate() {
            if !seen.insert(category) {
                errors.push(
                    format!("{POINTER}/allowed_investor_categories/{i}"),
                    "duplicate_investor_category",
                    format!("investor category {category} is listed more than once"),
                );
            }
        }
    }
    if categories.is_empty() {
        errors.push(
            format!("{POINTER}/allowed_investor_categories"),
            "investor_category_required",
            "name at least one investor category allowed to hold the token: qii, professional \
             or general",
        );
    }
    let max_holders = spec.max_holders.as_deref().map(|text| {
        errors
            .check(
                format!("{POINTER}/max_holders"),
                parse_whole_number(text, "max_holders", MAX_HOLDERS_MAX),
            )
            .filter(|&holders| {
                if holders == 0 {
                    errors.push(
                        format!("{POINTER}/max_holders"),
                        "not_positive",
                        "max_holders must be at least 1; leave it out for no cap",
                    );
                }
                holders > 0
            })
            .and_then(|holders| u32::try_from(holders).ok())
    });
    let lock_up_until = spec.lock_up_until.as_deref().map(|text| {
        errors
            .check(format!("{POINTER}/lock_up_until"), parse_date(text))
            .filter(|&date| {
                let Some(term) = term else { return true };
                let inside = term.issue <= date && date <= term.maturity;
                if !inside {
                    errors.push(
                        format!("{POINTER}/lock_up_until"),
                        "lock_up_outside_term",
                        format!(
                            "lock_up_until {} must fall between issue_date {} and maturity_date \
                             {}",
                            format_date(date),
                            format_date(term.issue),
                            format_date(term.maturity)
                        ),
                    );
                }
                inside
            })
    });
    let restrictions = (|| {
        Some(TransferRestrictions {
            allowed_investor_categories: categories.clone(),
            lock_up_until: all_parsed(lock_up_until)?,
            max_holders: all_parsed(max_holders)?,
            issuer_approval_required: spec.issuer_approval_required,
        })
    })();
    restrictions.filter(|_| errors.len() == before)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    /// (pointer, code) of every error, for compact assertions.
    fn problems(spec: &BondSpec) -> Vec<(String, String)> {
        match spec.validate() {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| (e.pointer, e.code)).collect(),
        }
    }

    fn only(pointer: &str, code: &str) -> Vec<(String, String)> {
        vec![(pointer.to_owned(), code.to_owned())]
    }

    fn all_examples() -> Vec<BondSpec> {
        examples::all()
    }

    fn document(kind: DocumentKind, uri: &str) -> DocumentSpec {
        DocumentSpec {
            kind,
            uri: uri.to_owned(),
            sha256: "1c2af623a13390e4499cf017863cbfa16bd4793e9cf3ca64576aa5ad6a4f3279".to_owned(),
        }
    }

    // --- The examples -------------------------------------------------------------------------

    #[test]
    fn every_example_is_valid_and_of_its_kind() {
        let kinds: Vec<_> = all_examples()
            .iter()
            .map(|spec| spec.validate().map(|terms| terms.kind()))
            .collect();
        assert_eq!(
            kinds,
            [
                Ok(BondKind::Green),
                Ok(BondKind::Social),
                Ok(BondKind::Sustainability),
                Ok(BondKind::SustainabilityLinked),
                Ok(BondKind::Sdg),
            ]
        );
    }

    #[test]
    fn validating_the_normalised_spec_gives_the_same_terms() {
        for spec in all_examples() {
            let terms = spec.validate().unwrap();
            assert_eq!(terms.to_spec().validate(), Ok(terms.clone()));
            assert_eq!(terms.to_spec(), spec, "examples are already normalised");
        }
    }

    #[test]
    fn every_example_survives_a_json_round_trip() {
        for spec in all_examples() {
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(serde_json::from_str::<BondSpec>(&json).unwrap(), spec);
        }
    }

    #[test]
    fn the_osaka_green_bond_raises_ten_billion_yen() {
        let terms = examples::green().validate().unwrap();
        assert_eq!(terms.currency(), Currency::JPY);
        assert_eq!(terms.principal().to_wire(), "10000000000");
        assert_eq!(terms.coupon().rate().to_wire(), "0.3");
        assert_eq!(terms.coupon().frequency(), CouponFrequency::SemiAnnual);
        assert_eq!(terms.coupon().day_count(), DayCount::Act365F);
        assert_eq!(terms.sdg_goals(), [7, 9, 11, 13]);
    }

    #[test]
    fn the_wire_form_uses_snake_case_names_and_strings_for_numbers() {
        let json = serde_json::to_value(examples::sustainability_linked()).unwrap();
        assert_eq!(json["kind"], "sustainability_linked");
        assert_eq!(json["denomination"], "100000000");
        assert_eq!(json["coupon"]["rate"], "0.85");
        assert_eq!(json["coupon"]["day_count"], "act_365f");
        assert_eq!(json["coupon"]["frequency"], "semi_annual");
        assert_eq!(json["framework"]["kpis"][0]["step_up_bp"], "25");
        assert_eq!(
            json["transfer_restrictions"]["allowed_investor_categories"][0],
            "qii"
        );
        let green = serde_json::to_value(examples::green()).unwrap();
        assert_eq!(green["framework"]["categories"][0], "renewable_energy");
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        let mut json = serde_json::to_value(examples::green()).unwrap();
        json["coupon"]["currency"] = "JPY".into();
        assert!(serde_json::from_value::<BondSpec>(json).is_err());
        let mut json = serde_json::to_value(examples::green()).unwrap();
        json["documents"][0]["title"] = "Framework".into();
        assert!(serde_json::from_value::<BondSpec>(json).is_err());
        let mut json = serde_json::to_value(examples::green()).unwrap();
        json["extra"] = true.into();
        assert!(serde_json::from_value::<BondSpec>(json).is_err());
    }

    #[test]
    fn to_spec_normalises_amounts_rates_and_names() {
        let mut spec = examples::green();
        spec.name = "  Osaka Prefecture Green Bond  ".to_owned();
        spec.coupon.rate = "0.300".to_owned();
        spec.currency = "USD".to_owned();
        spec.denomination = "1000.50".to_owned();
        let normal = spec.validate().unwrap().to_spec();
        assert_eq!(normal.name, "Osaka Prefecture Green Bond");
        assert_eq!(normal.coupon.rate, "0.3");
        assert_eq!(normal.denomination, "1000.5");
    }

    // --- One test per rule --------------------------------------------------------------------

    #[test]
    fn a_five_mistake_spec_reports_all_five_pointers() {
        let mut spec = examples::green();
        spec.name = String::new();
        spec.denomination = "1000000.5".to_owned();
        spec.coupon.rate = "101".to_owned();
        spec.maturity_date = "2024-06-20".to_owned();
        spec.framework.categories.push(Category::AffordableHousing);
        let pointers: Vec<_> = problems(&spec)
            .into_iter()
            .map(|(pointer, _)| pointer)
            .collect();
        assert_eq!(
            pointers,
            [
                "/name",
                "/denomination",
                "/coupon/rate",
                "/maturity_date",
                "/framework/categories/4",
            ]
        );
    }

    #[test]
    fn an_empty_name_is_refused() {
        let mut spec = examples::green();
        spec.name = " ".to_owned();
        assert_eq!(problems(&spec), only("/name", "empty"));
    }

    #[test]
    fn a_name_of_201_characters_is_refused() {
        use crate::domain::text::NAME_CHARS_MAX;

        let mut spec = examples::green();
        spec.name = "x".repeat(NAME_CHARS_MAX);
        assert!(spec.validate().is_ok());
        spec.name.push('x');
        assert_eq!(problems(&spec), only("/name", "too_long"));
    }

    #[test]
    fn an_isin_with_a_wrong_check_digit_is_refused() {
        let mut spec = examples::green();
        spec.isin = Some("JP3633400001".to_owned());
        assert!(spec.validate().is_ok());
        spec.isin = Some("JP3633400002".to_owned());
        assert_eq!(problems(&spec), only("/isin", "check_digit_mismatch"));
    }

    #[test]
    fn an_unknown_currency_is_refused() {
        let mut spec = examples::green();
        spec.currency = "YEN".to_owned();
        assert_eq!(problems(&spec), only("/currency", "unknown_currency"));
    }

    #[test]
    fn a_zero_denomination_is_refused() {
        let mut spec = examples::green();
        spec.denomination = "0".to_owned();
        assert_eq!(problems(&spec), only("/denomination", "not_positive"));
    }

    #[test]
    fn a_denomination_finer_than_the_minor_unit_is_refused() {
        let mut spec = examples::green();
        spec.denomination = "1000000.5".to_owned();
        assert_eq!(problems(&spec), only("/denomination", "too_many_decimals"));
    }

    #[test]
    fn a_zero_or_oversized_issue_size_is_refused() {
        let mut spec = examples::green();
        spec.issue_size = "0".to_owned();
        assert_eq!(problems(&spec), only("/issue_size", "not_positive"));
        spec.issue_size = "1000000000001".to_owned();
        assert_eq!(problems(&spec), only("/issue_size", "too_large"));
    }

    #[test]
    fn a_principal_past_the_amount_limit_is_refused() {
        let mut spec = examples::green();
        spec.denomination = "1000000".to_owned();
        spec.issue_size = "1000000000".to_owned();
        assert!(spec.validate().is_ok(), "10^15 exactly is allowed");
        spec.issue_size = "1000000001".to_owned();
        assert_eq!(problems(&spec), only("/issue_size", "principal_too_large"));
    }

    #[test]
    fn a_rate_above_one_hundred_percent_is_refused() {
        let mut spec = examples::green();
        spec.coupon.rate = "100".to_owned();
        assert!(spec.validate().is_ok());
        spec.coupon.rate = "100.000001".to_owned();
        assert_eq!(problems(&spec), only("/coupon/rate", "too_large"));
    }

    #[test]
    fn a_zero_coupon_bond_with_a_rate_is_refused() {
        let mut spec = examples::green();
        spec.coupon.frequency = CouponFrequency::Zero;
        spec.coupon.rate = "0".to_owned();
        assert!(spec.validate().is_ok());
        spec.coupon.rate = "0.000001".to_owned();
        assert_eq!(
            problems(&spec),
            only("/coupon/rate", "zero_coupon_with_rate")
        );
    }

    #[test]
    fn a_malformed_date_is_refused() {
        let mut spec = examples::green();
        spec.issue_date = "2025-02-30".to_owned();
        assert_eq!(problems(&spec), only("/issue_date", "invalid_date"));
    }

    #[test]
    fn maturity_on_or_before_the_issue_date_is_refused() {
        let mut spec = examples::green();
        spec.maturity_date = spec.issue_date.clone();
        assert_eq!(
            problems(&spec),
            only("/maturity_date", "maturity_before_issue")
        );
        spec.maturity_date = "2025-06-21".to_owned();
        assert!(
            spec.validate().is_ok(),
            "one day after issue is a valid term"
        );
    }

    #[test]
    fn a_term_one_day_past_one_hundred_years_is_refused() {
        let mut spec = examples::green();
        spec.maturity_date = "2125-06-20".to_owned();
        assert!(spec.validate().is_ok());
        spec.maturity_date = "2125-06-21".to_owned();
        assert_eq!(problems(&spec), only("/maturity_date", "term_too_long"));
    }

    #[test]
    fn a_green_bond_without_categories_is_refused() {
        let mut spec = examples::green();
        spec.framework.categories.clear();
        assert_eq!(
            problems(&spec),
            only("/framework/categories", "category_required")
        );
    }

    #[test]
    fn a_social_category_on_a_green_bond_is_refused() {
        let mut spec = examples::green();
        spec.framework.categories = vec![Category::RenewableEnergy, Category::AffordableHousing];
        assert_eq!(
            problems(&spec),
            only("/framework/categories/1", "category_not_allowed_for_kind")
        );
    }

    #[test]
    fn a_green_category_on_a_social_bond_is_refused() {
        let mut spec = examples::social();
        spec.framework
            .categories
            .insert(0, Category::GreenBuildings);
        assert_eq!(
            problems(&spec),
            only("/framework/categories/0", "category_not_allowed_for_kind")
        );
    }

    #[test]
    fn a_social_bond_without_categories_is_refused() {
        let mut spec = examples::social();
        spec.framework.categories.clear();
        assert_eq!(
            problems(&spec),
            only("/framework/categories", "category_required")
        );
    }

    #[test]
    fn a_social_bond_without_target_population_is_refused() {
        let mut spec = examples::social();
        spec.framework.target_populations.clear();
        assert_eq!(
            problems(&spec),
            only(
                "/framework/target_populations",
                "social_without_target_population"
            )
        );
    }

    #[test]
    fn a_sustainability_bond_with_social_projects_needs_a_target_population() {
        let mut spec = examples::sustainability();
        spec.framework.target_populations.clear();
        assert_eq!(
            problems(&spec),
            only(
                "/framework/target_populations",
                "social_without_target_population"
            )
        );
        spec.framework
            .categories
            .retain(|category| category.is_green());
        assert!(
            spec.validate().is_ok(),
            "green-only projects need no target population"
        );
    }

    #[test]
    fn a_sustainability_bond_may_mix_green_and_social_but_not_have_none() {
        let mut spec = examples::sustainability();
        assert!(spec.framework.categories.iter().any(|c| c.is_green()));
        assert!(spec.framework.categories.iter().any(|c| c.is_social()));
        spec.framework.categories.clear();
        assert_eq!(
            problems(&spec),
            only("/framework/categories", "category_required")
        );
    }

    #[test]
    fn a_blank_or_duplicate_target_population_is_refused() {
        let mut spec = examples::social();
        spec.framework.target_populations = vec![
            "Single-parent families".to_owned(),
            " ".to_owned(),
            "Single-parent families ".to_owned(),
        ];
        assert_eq!(
            problems(&spec),
            [
                (
                    "/framework/target_populations/1".to_owned(),
                    "empty".to_owned()
                ),
                (
                    "/framework/target_populations/2".to_owned(),
                    "duplicate_target_population".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_duplicate_category_is_refused() {
        let mut spec = examples::green();
        spec.framework.categories.push(Category::RenewableEnergy);
        assert_eq!(
            problems(&spec),
            only("/framework/categories/4", "duplicate_category")
        );
    }

    #[test]
    fn a_sustainability_linked_bond_without_kpi_is_refused() {
        let mut spec = examples::sustainability_linked();
        spec.framework.kpis.clear();
        assert_eq!(problems(&spec), only("/framework/kpis", "kpi_required"));
    }

    #[test]
    fn a_sustainability_linked_bond_needs_no_category() {
        let spec = examples::sustainability_linked();
        assert!(spec.framework.categories.is_empty());
        assert!(spec.validate().is_ok());
    }

    #[test]
    fn a_kpi_observed_after_maturity_or_before_issue_is_refused() {
        let mut spec = examples::sustainability_linked();
        spec.framework.kpis[0].observation_date = spec.maturity_date.clone();
        assert!(
            spec.validate().is_ok(),
            "observation on the maturity date is allowed"
        );
        spec.framework.kpis[0].observation_date = "2032-09-11".to_owned();
        assert_eq!(
            problems(&spec),
            only(
                "/framework/kpis/0/observation_date",
                "observation_after_maturity"
            )
        );
        spec.framework.kpis[0].observation_date = "2025-09-09".to_owned();
        assert_eq!(
            problems(&spec),
            only(
                "/framework/kpis/0/observation_date",
                "observation_before_issue"
            )
        );
    }

    #[test]
    fn a_step_up_of_501_basis_points_is_refused() {
        let mut spec = examples::sustainability_linked();
        spec.framework.kpis[0].step_up_bp = "500".to_owned();
        assert!(spec.validate().is_ok());
        spec.framework.kpis[0].step_up_bp = "0".to_owned();
        assert!(spec.validate().is_ok());
        spec.framework.kpis[0].step_up_bp = "501".to_owned();
        assert_eq!(
            problems(&spec),
            only("/framework/kpis/0/step_up_bp", "too_large")
        );
        spec.framework.kpis[0].step_up_bp = "12.5".to_owned();
        assert_eq!(
            problems(&spec),
            only("/framework/kpis/0/step_up_bp", "not_an_integer")
        );
    }

    #[test]
    fn a_kpi_target_equal_to_its_baseline_is_refused() {
        let mut spec = examples::sustainability_linked();
        spec.framework.kpis[0].target = "1200000.0".to_owned();
        assert_eq!(
            problems(&spec),
            only("/framework/kpis/0/target", "target_equals_baseline")
        );
    }

    #[test]
    fn kpi_fields_are_each_checked() {
        let mut spec = examples::sustainability_linked();
        let kpi = &mut spec.framework.kpis[0];
        kpi.id = "ghg scope 1".to_owned();
        kpi.name = String::new();
        kpi.unit = "t".repeat(KPI_UNIT_CHARS_MAX + 1);
        kpi.baseline = "1e6".to_owned();
        kpi.target = "-0.1234567".to_owned();
        assert_eq!(
            problems(&spec),
            [
                (
                    "/framework/kpis/0/id".to_owned(),
                    "invalid_format".to_owned()
                ),
                ("/framework/kpis/0/name".to_owned(), "empty".to_owned()),
                ("/framework/kpis/0/unit".to_owned(), "too_long".to_owned()),
                (
                    "/framework/kpis/0/baseline".to_owned(),
                    "not_a_decimal".to_owned()
                ),
                (
                    "/framework/kpis/0/target".to_owned(),
                    "too_many_decimals".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_negative_kpi_target_is_accepted() {
        let mut spec = examples::sustainability_linked();
        spec.framework.kpis[0].baseline = "0".to_owned();
        spec.framework.kpis[0].target = "-30.5".to_owned();
        let terms = spec.validate().unwrap();
        assert_eq!(terms.kpis()[0].target(), Decimal::new(-305, 1));
    }

    #[test]
    fn a_duplicate_kpi_id_is_refused() {
        let mut spec = examples::sustainability_linked();
        let mut second = spec.framework.kpis[0].clone();
        second.name = "Renewable share of supply".to_owned();
        spec.framework.kpis.push(second);
        assert_eq!(
            problems(&spec),
            only("/framework/kpis/1/id", "duplicate_kpi_id")
        );
    }

    #[test]
    fn a_kpi_id_of_65_characters_is_refused() {
        let mut spec = examples::sustainability_linked();
        spec.framework.kpis[0].id = "k".repeat(KPI_ID_CHARS_MAX);
        assert!(spec.validate().is_ok());
        spec.framework.kpis[0].id.push('k');
        assert_eq!(problems(&spec), only("/framework/kpis/0/id", "too_long"));
    }

    #[test]
    fn thirty_three_kpis_are_too_many() {
        let mut spec = examples::sustainability_linked();
        let template = spec.framework.kpis[0].clone();
        spec.framework.kpis = (0..KPIS_MAX)
            .map(|i| KpiSpec {
                id: format!("kpi-{i}"),
                ..template.clone()
            })
            .collect();
        assert!(spec.validate().is_ok());
        spec.framework.kpis.push(KpiSpec {
            id: "one-more".to_owned(),
            ..template
        });
        assert_eq!(problems(&spec), only("/framework/kpis", "too_many_items"));
    }

    #[test]
    fn an_sdg_bond_without_targets_is_refused() {
        let mut spec = examples::sdg();
        spec.framework.sdg_targets.clear();
        assert_eq!(
            problems(&spec),
            only("/framework/sdg_targets", "sdg_target_required")
        );
    }

    #[test]
    fn an_sdg_target_that_does_not_exist_is_refused() {
        let mut spec = examples::sdg();
        spec.framework.sdg_targets = vec!["7.2".to_owned(), "7.9".to_owned(), "7".to_owned()];
        assert_eq!(
            problems(&spec),
            [
                (
                    "/framework/sdg_targets/1".to_owned(),
                    "unknown_sdg_target".to_owned()
                ),
                (
                    "/framework/sdg_targets/2".to_owned(),
                    "unknown_sdg_target".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_duplicate_sdg_target_is_refused() {
        let mut spec = examples::sdg();
        spec.framework
            .sdg_targets
            .push(spec.framework.sdg_targets[0].clone());
        let last = spec.framework.sdg_targets.len() - 1;
        assert_eq!(
            problems(&spec),
            only(
                &format!("/framework/sdg_targets/{last}"),
                "duplicate_sdg_target"
            )
        );
    }

    #[test]
    fn sixty_five_sdg_targets_are_too_many() {
        let mut spec = examples::sdg();
        spec.framework.sdg_targets = SdgTarget::all()
            .take(SDG_TARGETS_MAX)
            .map(|t| t.to_string())
            .collect();
        assert!(spec.validate().is_ok());
        spec.framework.sdg_targets.push("17.19".to_owned());
        assert_eq!(
            problems(&spec),
            only("/framework/sdg_targets", "too_many_items")
        );
    }

    #[test]
    fn a_refinancing_look_back_of_eleven_years_is_refused() {
        let mut spec = examples::green();
        spec.framework.refinancing_look_back_years = Some("10".to_owned());
        assert!(spec.validate().is_ok());
        spec.framework.refinancing_look_back_years = Some("11".to_owned());
        assert_eq!(
            problems(&spec),
            only("/framework/refinancing_look_back_years", "too_large")
        );
    }

    #[test]
    fn a_use_of_proceeds_bond_without_framework_document_is_refused() {
        for mut spec in [
            examples::green(),
            examples::social(),
            examples::sustainability(),
            examples::sdg(),
        ] {
            spec.documents
                .retain(|document| document.kind != DocumentKind::Framework);
            assert_eq!(
                problems(&spec),
                only("/documents", "framework_document_missing")
            );
        }
        let mut spec = examples::sustainability_linked();
        spec.documents.clear();
        assert!(
            spec.validate().is_ok(),
            "an SLB's proceeds are not earmarked"
        );
    }

    #[test]
    fn document_uris_must_be_absolute_with_a_known_scheme() {
        let mut spec = examples::green();
        spec.documents = vec![
            document(
                DocumentKind::Framework,
                "https://www.pref.osaka.example/framework.pdf",
            ),
            document(
                DocumentKind::Other,
                "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
            ),
            document(DocumentKind::Other, "urn:isbn:9784000000000"),
            document(DocumentKind::Other, "http://example.jp/a.pdf"),
            document(DocumentKind::Other, "ftp://example.jp/a.pdf"),
            document(DocumentKind::Other, "/framework.pdf"),
            document(DocumentKind::Other, "https://example.jp/a b.pdf"),
            document(DocumentKind::Other, "https:///no-host"),
            document(DocumentKind::Other, "urn:x:"),
            document(DocumentKind::Other, "HTTPS://example.jp/a.pdf"),
            document(DocumentKind::Other, "https://例え.jp/a.pdf"),
        ];
        assert_eq!(
            problems(&spec),
            [
                (
                    "/documents/4/uri".to_owned(),
                    "unsupported_uri_scheme".to_owned()
                ),
                ("/documents/5/uri".to_owned(), "invalid_uri".to_owned()),
                ("/documents/6/uri".to_owned(), "invalid_uri".to_owned()),
                ("/documents/7/uri".to_owned(), "invalid_uri".to_owned()),
                ("/documents/8/uri".to_owned(), "invalid_uri".to_owned()),
                (
                    "/documents/9/uri".to_owned(),
                    "unsupported_uri_scheme".to_owned()
                ),
                ("/documents/10/uri".to_owned(), "invalid_uri".to_owned()),
            ]
        );
    }

    #[test]
    fn a_uri_of_2049_bytes_is_refused() {
        let base = "https://example.jp/";
        let at_limit = format!("{base}{}", "a".repeat(URI_LEN_MAX - base.len()));
        assert!(DocumentUri::parse(&at_limit).is_ok());
        let past = format!("{at_limit}a");
        assert_eq!(DocumentUri::parse(&past).unwrap_err().code(), "too_long");
    }

    #[test]
    fn a_digest_must_be_64_lowercase_hex_digits() {
        let good = "ae642421d1f5d69c555a0f8c2a59bad892194d59bab27e58af39ea823db51f77";
        let digest = Sha256Digest::parse_hex(good).unwrap();
        assert_eq!(digest.to_hex(), good);
        assert_eq!(digest.as_bytes()[0], 0xae);
        for bad in [
            &good[..63],
            &format!("{good}0"),
            &good.to_uppercase(),
            &format!("{}g", &good[..63]),
            "",
        ] {
            assert_eq!(
                Sha256Digest::parse_hex(bad).unwrap_err().code(),
                "invalid_sha256",
                "{bad}"
            );
        }
        let mut spec = examples::green();
        spec.documents[0].sha256 = good.to_uppercase();
        assert_eq!(
            problems(&spec),
            only("/documents/0/sha256", "invalid_sha256")
        );
    }

    #[test]
    fn a_duplicate_document_is_refused() {
        let mut spec = examples::green();
        spec.documents.push(spec.documents[0].clone());
        let last = spec.documents.len() - 1;
        assert_eq!(
            problems(&spec),
            only(&format!("/documents/{last}/uri"), "duplicate_document")
        );
    }

    #[test]
    fn sixty_five_documents_are_too_many() {
        let mut spec = examples::green();
        spec.documents = (0..DOCUMENTS_MAX)
            .map(|i| {
                document(
                    DocumentKind::Framework,
                    &format!("https://example.jp/{i}.pdf"),
                )
            })
            .collect();
        assert!(spec.validate().is_ok());
        spec.documents
            .push(document(DocumentKind::Other, "https://example.jp/more.pdf"));
        assert_eq!(problems(&spec), only("/documents", "too_many_items"));
    }

    #[test]
    fn transfer_restrictions_need_an_investor_category() {
        let mut spec = examples::green();
        spec.transfer_restrictions
            .allowed_investor_categories
            .clear();
        assert_eq!(
            problems(&spec),
            only(
                "/transfer_restrictions/allowed_investor_categories",
                "investor_category_required"
            )
        );
    }

    #[test]
    fn a_duplicate_investor_category_is_refused() {
        let mut spec = examples::green();
        spec.transfer_restrictions.allowed_investor_categories =
            vec![InvestorCategory::Qii, InvestorCategory::Qii];
        assert_eq!(
            problems(&spec),
            only(
                "/transfer_restrictions/allowed_investor_categories/1",
                "duplicate_investor_category"
            )
        );
        spec.transfer_restrictions.allowed_investor_categories = vec![InvestorCategory::Qii; 4];
        assert_eq!(
            problems(&spec),
            only(
                "/transfer_restrictions/allowed_investor_categories",
                "too_many_items"
            )
        );
    }

    #[test]
    fn max_holders_ranges_from_one_to_a_million() {
        let mut spec = examples::green();
        for ok in ["1", "1000000"] {
            spec.transfer_restrictions.max_holders = Some(ok.to_owned());
            assert!(spec.validate().is_ok(), "{ok}");
        }
        spec.transfer_restrictions.max_holders = Some("0".to_owned());
        assert_eq!(
            problems(&spec),
            only("/transfer_restrictions/max_holders", "not_positive")
        );
        spec.transfer_restrictions.max_holders = Some("1000001".to_owned());
        assert_eq!(
            problems(&spec),
            only("/transfer_restrictions/max_holders", "too_large")
        );
    }

    #[test]
    fn a_lock_up_outside_the_term_is_refused() {
        let mut spec = examples::sustainability_linked();
        for ok in [spec.issue_date.clone(), spec.maturity_date.clone()] {
            spec.transfer_restrictions.lock_up_until = Some(ok);
            assert!(spec.validate().is_ok());
        }
        for bad in ["2025-09-09", "2032-09-11"] {
            spec.transfer_restrictions.lock_up_until = Some(bad.to_owned());
            assert_eq!(
                problems(&spec),
                only(
                    "/transfer_restrictions/lock_up_until",
                    "lock_up_outside_term"
                )
            );
        }
    }

    // --- Behaviour of the validated terms -----------------------------------------------------

    #[test]
    fn a_professional_only_bond_admits_qiis_but_not_general_investors() {
        let terms = examples::social().validate().unwrap();
        let restrictions = terms.restrictions();
        assert!(restrictions.admits(InvestorCategory::Qii));
        assert!(restrictions.admits(InvestorCategory::Professional));
        assert!(!restrictions.admits(InvestorCategory::General));
    }

    #[test]
    fn a_lock_up_includes_its_last_day() {
        let terms = examples::sustainability_linked().validate().unwrap();
        assert!(terms.restrictions().is_locked_up_on(date!(2026 - 03 - 31)));
        assert!(!terms.restrictions().is_locked_up_on(date!(2026 - 04 - 01)));
    }

    // --- SDG targets, categories and enums ----------------------------------------------------

    #[test]
    fn there_are_169_sdg_targets_and_each_parses_back() {
        let targets: Vec<SdgTarget> = SdgTarget::all().collect();
        assert_eq!(targets.len(), 169);
        assert!(targets.windows(2).all(|pair| pair[0] < pair[1]));
        for target in targets {
            assert_eq!(SdgTarget::parse(&target.to_string()), Ok(target));
        }
    }

    #[test]
    fn the_boundary_targets_of_each_goal_parse() {
        for text in [
            "1.5", "1.b", "3.9", "3.d", "8.10", "16.10", "16.b", "17.1", "17.19",
        ] {
            assert_eq!(
                SdgTarget::parse(text).map(|t| t.to_string()),
                Ok(text.to_owned())
            );
        }
        assert_eq!(SdgTarget::parse("7.2").unwrap().goal(), 7);
    }

    #[test]
    fn targets_just_past_each_goal_do_not_parse() {
        for text in [
            "7.9", "7.4", "7.c", "1.6", "1.c", "3.10", "3.e", "8.11", "8.c", "17.20", "17.a",
            "18.1", "0.1", "7", "7.", ".2", "07.2", "7.02", "7.A", "7.2.1", "", "7.0", "１.1",
        ] {
            let error = SdgTarget::parse(text).unwrap_err();
            assert_eq!(error.code(), "unknown_sdg_target", "{text}");
        }
    }

    #[test]
    fn an_unknown_target_message_lists_the_goals_targets() {
        let error = SdgTarget::parse("7.9").unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"7.9\" is not one of the 169 UN SDG targets (A/RES/70/1): goal 7 has targets \
             7.1–7.3 and 7.a–7.b"
        );
        let error = SdgTarget::parse("17.20").unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("goal 17 has targets 17.1–17.19")
        );
    }

    #[test]
    fn sdg_targets_travel_as_strings() {
        let target: SdgTarget = serde_json::from_str("\"7.a\"").unwrap();
        assert_eq!(serde_json::to_string(&target).unwrap(), "\"7.a\"");
        assert!(serde_json::from_str::<SdgTarget>("\"7.9\"").is_err());
    }

    #[test]
    fn there_are_ten_green_and_six_social_categories() {
        assert_eq!(Category::ALL.iter().filter(|c| c.is_green()).count(), 10);
        assert_eq!(Category::ALL.iter().filter(|c| c.is_social()).count(), 6);
        assert_eq!(Category::ALL.len(), CATEGORIES_MAX);
    }

    #[test]
    fn enums_use_their_snake_case_wire_names() {
        assert_eq!(
            BondKind::parse("sustainability_linked"),
            Ok(BondKind::SustainabilityLinked)
        );
        assert_eq!(
            Category::parse("renewable_energy"),
            Ok(Category::RenewableEnergy)
        );
        assert_eq!(DayCount::Act365F.as_str(), "act_365f");
        assert_eq!(DayCount::Thirty360.as_str(), "thirty_360");
        assert_eq!(DayCount::ActActIcma.as_str(), "act_act_icma");
        assert_eq!(CouponFrequency::SemiAnnual.to_string(), "semi_annual");
        assert_eq!(
            DocumentKind::SecondPartyOpinion.as_str(),
            "second_party_opinion"
        );
        for kind in BondKind::ALL {
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert!(serde_json::from_str::<BondKind>("\"Green\"").is_err());
    }

    #[test]
    fn the_openapi_schema_of_a_spec_shows_the_green_example_and_string_amounts() {
        let schema = serde_json::to_string(&<BondSpec as utoipa::PartialSchema>::schema()).unwrap();
        assert!(
            schema.contains("Osaka Prefecture Green Bond 2025"),
            "{schema}"
        );
        let sdg = serde_json::to_value(<SdgTarget as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(sdg["type"], "string");
    }

    #[test]
    fn coupon_frequencies_give_payments_per_year() {
        let payments: Vec<_> = CouponFrequency::ALL
            .iter()
            .map(|f| f.payments_per_year())
            .collect();
        assert_eq!(payments, [1, 2, 4, 12, 0]);
    }

    #[test]
    fn arbitrary_specs_never_panic() {
        use proptest::test_runner::{Config, RngSeed, TestRunner};

        let mut runner = TestRunner::new(Config {
            rng_seed: RngSeed::Fixed(11),
            cases: 256,
            ..Config::default()
        });
        let text = "\\PC{0,12}|[0-9.\\-]{0,8}";
        let strategy = (text, text, text, text, text, text, text, text);
        runner
            .run(&strategy, |(a, b, c, d, e, f, g, h)| {
                let mut spec = examples::sustainability_linked();
                spec.name = a;
                spec.denomination = b;
                spec.issue_size = c;
                spec.coupon.rate = d;
                spec.issue_date = e;
                spec.framework.kpis[0].observation_date = f;
                spec.framework.sdg_targets = vec![g];
                spec.transfer_restrictions.max_holders = Some(h);
                let _ = spec.validate();
                Ok(())
            })
            .unwrap();
    }
}
