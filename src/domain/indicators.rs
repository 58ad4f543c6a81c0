//! The impact indicator catalogue, the unit spellings issuers publish, and exact unit conversion.
//!
//! Pure: no I/O. Each [`Indicator`] has one canonical unit; a figure published in another
//! spelling of that unit (`t-CO2/年`, `万kWh/年`, `千m3`) is converted with [`convert`] by an
//! exact decimal factor ([`SPELLINGS`]) and back with [`back`]. Conversion is exact: mantissa
//! arithmetic on [`Decimal`], no floating point and no rounding. A product that `Decimal` cannot
//! hold exactly (more than 28 decimal places or a 96-bit mantissa) is refused, never rounded.
//!
//! Sources. Environmental indicators follow the ICMA *Handbook – Harmonised Framework for Impact
//! Reporting* (June 2024), "ICMA HFIR" below; social ones the ICMA *Harmonised Framework for Impact
//! Reporting for Social Bonds* (2024 edition), "ICMA HFIR Social". Each entry's `source` names the
//! Handbook chapter (a GBP / SBP project category) its metric comes from. Descriptions paraphrase
//! the Handbook; where an entry is not one of the chapter's core indicators but a metric of that
//! chapter that issuers commonly publish, `source` says so.
//!
//! Issuer-defined indicators (`issuer:<name>`, [`is_issuer_defined`]) are not in the catalogue:
//! they carry their own unit, and are never converted or aggregated across bonds.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::quoted;

/// A core indicator of the catalogue, with its canonical unit.
#[derive(Debug, PartialEq, Eq)]
pub struct Indicator {
    /// Stable id, written in impact figures.
    pub id: &'static str,
    /// Project category the indicator belongs to; one of [`GROUPS`].
    pub group: &'static str,
    /// Canonical unit: every figure of this indicator is stored (and summed) in it.
    pub unit: &'static str,
    pub description: &'static str,
    /// Where the indicator comes from (document, edition, chapter).
    pub source: &'static str,
    /// Social figures must name the target population.
    pub needs_target_population: bool,
    /// A GHG figure: stating the emission factor it was computed with is recommended, and its
    /// absence is shown.
    pub ghg: bool,
}

/// Indicator groups, in catalogue order.
pub const GROUPS: &[&str] = &[
    "cross_cutting",
    "renewable_energy",
    "energy_efficiency",
    "green_buildings",
    "clean_transportation",
    "water",
    "pollution_prevention",
    "biodiversity_land",
    "climate_adaptation",
    "social",
];

/// The built-in indicator catalogue.
pub const INDICATORS: &[Indicator] = &[
    // --- cross-cutting --------------------------------------------------------------------------
    Indicator {
        id: "ghg_avoided",
        group: "cross_cutting",
        unit: "tCO2e/yr",
        description: "annual GHG emissions reduced or avoided",
        source: "ICMA HFIR June 2024: core indicator of the Renewable Energy, Energy Efficiency, \
                 Green Buildings and Clean Transportation chapters (annual GHG emissions \
                 reduced/avoided in tCO2e)",
        needs_target_population: false,
        ghg: true,
    },
    // --- renewable energy -------------------------------------------------------------------------
    Indicator {
        id: "renewable_generation",
        group: "renewable_energy",
        unit: "MWh/yr",
        description: "annual renewable energy generation",
        source: "ICMA HFIR June 2024, Renewable Energy: core indicator (annual renewable energy \
                 generation in MWh/GWh)",
        needs_target_population: false,
        ghg: false,
    },
    Indicator {
        id: "renewable_capacity",
        group: "renewable_energy",
        unit: "MW",
        description: "capacity of renewable energy plants constructed or rehabilitated",
        source: "ICMA HFIR June 2024, Renewable Energy: core indicator (capacity of renewable \
                 energy plant(s) constructed or rehabilitated in MW)",
        needs_target_population: false,
        ghg: false,
    },
    // --- energy efficiency ------------------------------------------------------------------------
    Indicator {
        id: "energy_savings",
        group: "energy_efficiency",
        unit: "MWh/yr",
        description: "annual energy savings",
        source: "ICMA HFIR June 2024, Energy Efficiency: core indicator (annual energy savings in \
                 MWh/GWh)",
        needs_target_population: false,
        ghg: false,
    },
    // --- green buildings --------------------------------------------------------------------------
    Indicator {
        id: "energy_intensity",
        group: "green_buildings",
        unit: "kWh/m2/yr",
        description: "energy use intensity of buildings",
        source: "ICMA HFIR June 2024, Green Buildings: energy performance of the building(s) in \
                 kWh/m2 per year",
        needs_target_population: false,
        ghg: false,
    },
    Indicator {
        id: "floor_area",
        group: "green_buildings",
        unit: "m2",
        description: "floor area of the buildings financed",
        source: "ICMA HFIR June 2024, Green Buildings: floor area in m2 (reporting template; not a \
                 core indicator, the denominator of energy intensity)",
        needs_target_population: false,
        ghg: false,
    },
    // --- clean transportation ---------------------------------------------------------------------
    Indicator {
        id: "passengers",
        group: "clean_transportation",
        unit: "passengers/yr",
        description: "annual number of passengers carried",
        source: "ICMA HFIR June 2024, Clean Transportation: number of passengers per year",
        needs_target_population: false,
        ghg: false,
    },
    Indicator {
        id: "passenger_km",
        group: "clean_transportation",
        unit: "pkm/yr",
        description: "annual passenger-kilometres travelled",
        source: "ICMA HFIR June 2024, Clean Transportation: passenger-km per year",
        needs_target_population: false,
        ghg: false,
    },
    // --- sustainable water and wastewater management ----------------------------------------------
    Indicator {
        id: "water_saved",
        group: "water",
        unit: "m3/yr",
        description: "annual absolute water savings",
        source: "ICMA HFIR June 2024, Sustainable Water and Wastewater Management: core indicator \
                 (annual absolute (gross) water use before and after the project in m3/a)",
        needs_target_population: false,
        ghg: false,
    },
    Indicator {
        id: "water_use_reduction",
        group: "water",
        unit: "%",
        description: "reduction in water use, as a percentage of use before the project",
        source: "ICMA HFIR June 2024, Sustainable Water and Wastewater Management: core indicator \
                 (reduction in water use in %)",
        needs_target_population: false,
        ghg: false,
    },
    Indicator {
        id: "water_treated",
        group: "water",
        unit: "m3/yr",
        description: "annual volume of wastewater treated or reused",
        source: "ICMA HFIR June 2024, Sustainable Water and Wastewater Management: core indicator \
                 (annual volume of wastewater treated, reused or avoided in m3/a)",
        needs_target_population: false,
        ghg: false,
    },
    Indicator {
        id: "water_access",
        group: "water",
        unit: "people",
        description: "people with access to clean drinking water or adequate sanitation",
        source: "ICMA HFIR June 2024, Sustainable Water and Wastewater Management: number of \
                 people with access to clean drinking water / adequate sanitation",
        needs_target_population: false,
        ghg: false,
    },
    // --- pollution prevention and control, waste --------------------------------------------------
    Indicator {
        id: "waste_recycled",
        group: "pollution_prevention",
        unit: "t/yr",
        description: "annual waste prevented, reused or recycled",
        source: "ICMA HFIR June 2024, Waste Management and Resource-Efficiency (Pollution \
                 Prevention and Control): core indicator (waste prevented, minimised, reused or \
                 recycled in tonnes p.a.)",
        needs_target_population: false,
        ghg: false,
    },
    // --- biodiversity, living natural resources and land use --------------------------------------
    Indicator {
        id: "area_protected",
        group: "biodiversity_land",
        unit: "ha",
        description: "area of land protected or restored",
        source: "ICMA HFIR June 2024, Terrestrial and Aquatic Biodiversity; Environmentally \
                 Sustainable Management of Living Natural Resources and Land Use: area protected, \
                 restored or under sustainable management in ha",
        needs_target_population: false,
        ghg: false,
    },
    // --- climate change adaptation and resilience -------------------------------------------------
    Indicator {
        id: "storage_capacity",
        group: "climate_adaptation",
        unit: "m3",
        description: "storage or retention capacity built or restored (e.g. a reservoir or a \
                      flood-retention basin)",
        source: "ICMA HFIR June 2024, Climate Change Adaptation: water storage / retention \
                 capacity in m3 (metric of the chapter issuers commonly publish)",
        needs_target_population: false,
        ghg: false,
    },
    Indicator {
        id: "flood_area_protected",
        group: "climate_adaptation",
        unit: "ha",
        description: "area protected from flooding (with reduced exposure to flood risk)",
        source: "ICMA HFIR June 2024, Climate Change Adaptation: area with reduced exposure to \
                 climate hazards (flooding)",
        needs_target_population: false,
        ghg: false,
    },
    Indicator {
        id: "length_improved",
        group: "climate_adaptation",
        unit: "km",
        description: "length of river embankment, coastal defence or line infrastructure built or \
                      improved for resilience",
        source: "ICMA HFIR June 2024, Climate Change Adaptation: length of infrastructure made \
                 resilient in km (metric of the chapter issuers commonly publish)",
        needs_target_population: false,
        ghg: false,
    },
    Indicator {
        id: "people_protected",
        group: "climate_adaptation",
        unit: "people",
        description: "people protected from flooding (with reduced exposure to climate hazards)",
        source: "ICMA HFIR June 2024, Climate Change Adaptation: number of people with reduced \
                 exposure to climate hazards (flooding)",
        needs_target_population: false,
        ghg: false,
    },
    // --- social -----------------------------------------------------------------------------------
    Indicator {
        id: "beneficiaries",
        group: "social",
        unit: "people",
        description: "number of beneficiaries in the target population",
        source: "ICMA HFIR Social 2024: number of beneficiaries, by target population",
        needs_target_population: true,
        ghg: false,
    },
    Indicator {
        id: "units_delivered",
        group: "social",
        unit: "units",
        description: "units delivered (e.g. affordable homes, school places)",
        source: "ICMA HFIR Social 2024: output indicators (number of units delivered), by target \
                 population",
        needs_target_population: true,
        ghg: false,
    },
    Indicator {
        id: "affordable_housing_units",
        group: "social",
        unit: "units",
        description: "affordable housing units provided",
        source: "ICMA HFIR Social 2024, Affordable Housing: number of affordable housing units",
        needs_target_population: true,
        ghg: false,
    },
];

/// The catalogue entry for `id` (`None` for an unknown or issuer-defined id).
pub fn indicator(id: &str) -> Option<&'static Indicator> {
    INDICATORS.iter().find(|i| i.id == id)
}

// ---------------------------------------------------------------------------------------------
// Unit spellings

/// One way issuers write a unit, with the exact factor that turns a value in it into the
/// canonical unit: `canonical value = published value × factor`.
#[derive(Debug, PartialEq, Eq)]
pub struct Spelling {
    /// As published, with no whitespace (lookup removes whitespace from the published unit).
    pub spelling: &'static str,
    /// One of the catalogue's canonical units.
    pub canonical: &'static str,
    /// An exact decimal, parsed with `Decimal::from_str`.
    pub factor: &'static str,
}

impl Spelling {
    /// The factor as a decimal.
    pub fn factor(&self) -> Decimal {
        Decimal::from_str(self.factor).expect("SPELLINGS factors are decimals (tested)")
    }
}

/// Unit spellings issuers use, each mapped to a canonical unit by an exact decimal factor.
///
/// A text may appear under several canonical units (`m2` is a floor area in m2 and an area in
/// ha): lookup is by the indicator's canonical unit as well as by the text. Lookup is
/// case-sensitive (`mW` is not `MW`).
///
/// GHG: CO2-only figures (`t-CO2/年`) are treated as CO2e, as issuers report them: Japanese
/// issuers in particular publish avoided emissions in t-CO2 computed with CO2 emission factors.
/// The published value and spelling are kept beside the canonical value, so nothing is lost.
///
/// Japanese multipliers: 千 = 10^3, 万 = 10^4 of the unit that follows (千kWh = 1 MWh,
/// 万kWh = 10 MWh, 万kW = 10 MW, 万m3 = 10,000 m3).
pub const SPELLINGS: &[Spelling] = &[
    // --- tCO2e/yr ---------------------------------------------------------------------------------
    s("tCO2e/yr", "tCO2e/yr", "1"),
    s("tCO2e/y", "tCO2e/yr", "1"),
    s("tCO2e/年", "tCO2e/yr", "1"),
    s("tCO₂e/yr", "tCO2e/yr", "1"),
    s("t-CO2e/yr", "tCO2e/yr", "1"),
    s("t-CO2e/y", "tCO2e/yr", "1"),
    s("t-CO2e/年", "tCO2e/yr", "1"),
    s("tCO2eq/yr", "tCO2e/yr", "1"),
    s("t-CO2eq/yr", "tCO2e/yr", "1"),
    s("t-CO2eq/年", "tCO2e/yr", "1"),
    s("tCO2/yr", "tCO2e/yr", "1"),
    s("tCO2/y", "tCO2e/yr", "1"),
    s("tCO2/年", "tCO2e/yr", "1"),
    s("tCO₂/yr", "tCO2e/yr", "1"),
    s("t-CO2/yr", "tCO2e/yr", "1"),
    s("t-CO2/y", "tCO2e/yr", "1"),
    s("t-CO2/年", "tCO2e/yr", "1"),
    s("t-CO₂/年", "tCO2e/yr", "1"),
    s("ktCO2e/yr", "tCO2e/yr", "1000"),
    s("kt-CO2e/yr", "tCO2e/yr", "1000"),
    s("ktCO2/yr", "tCO2e/yr", "1000"),
    s("kt-CO2/yr", "tCO2e/yr", "1000"),
    s("kt-CO2/年", "tCO2e/yr", "1000"),
    s("kgCO2e/yr", "tCO2e/yr", "0.001"),
    s("kgCO2/yr", "tCO2e/yr", "0.001"),
    s("kg-CO2/yr", "tCO2e/yr", "0.001"),
    s("kg-CO2/年", "tCO2e/yr", "0.001"),
    // --- MWh/yr -----------------------------------------------------------------------------------
    s("MWh/yr", "MWh/yr", "1"),
    s("MWh/y", "MWh/yr", "1"),
    s("MWh/年", "MWh/yr", "1"),
    s("MWh", "MWh/yr", "1"),
    s("kWh/yr", "MWh/yr", "0.001"),
    s("kWh/y", "MWh/yr", "0.001"),
    s("kWh/年", "MWh/yr", "0.001"),
    s("千kWh/年", "MWh/yr", "1"),
    s("万kWh/年", "MWh/yr", "10"),
    s("GWh/yr", "MWh/yr", "1000"),
    s("GWh/y", "MWh/yr", "1000"),
    s("GWh/年", "MWh/yr", "1000"),
    // --- MW ---------------------------------------------------------------------------------------
    s("MW", "MW", "1"),
    s("kW", "MW", "0.001"),
    s("千kW", "MW", "1"),
    s("万kW", "MW", "10"),
    s("GW", "MW", "1000"),
    // --- kWh/m2/yr --------------------------------------------------------------------------------
    s("kWh/m2/yr", "kWh/m2/yr", "1"),
    s("kWh/m²/yr", "kWh/m2/yr", "1"),
    s("kWh/㎡/yr", "kWh/m2/yr", "1"),
    s("kWh/m2/年", "kWh/m2/yr", "1"),
    s("kWh/m²/年", "kWh/m2/yr", "1"),
    s("kWh/㎡/年", "kWh/m2/yr", "1"),
    s("kWh/m2・年", "kWh/m2/yr", "1"),
    s("kWh/㎡・年", "kWh/m2/yr", "1"),
    // --- m2 (floor area) --------------------------------------------------------------------------
    s("m2", "m2", "1"),
    s("m²", "m2", "1"),
    s("㎡", "m2", "1"),
    // --- passengers/yr ----------------------------------------------------------------------------
    s("passengers/yr", "passengers/yr", "1"),
    s("passengers/y", "passengers/yr", "1"),
    s("人/年", "passengers/yr", "1"),
    s("千人/年", "passengers/yr", "1000"),
    s("万人/年", "passengers/yr", "10000"),
    // --- pkm/yr -----------------------------------------------------------------------------------
    s("pkm/yr", "pkm/yr", "1"),
    s("passenger-km/yr", "pkm/yr", "1"),
    s("passenger-km/y", "pkm/yr", "1"),
    s("人キロ/年", "pkm/yr", "1"),
    s("千人キロ/年", "pkm/yr", "1000"),
    s("万人キロ/年", "pkm/yr", "10000"),
    // --- m3/yr ------------------------------------------------------------------------------------
    s("m3/yr", "m3/yr", "1"),
    s("m3/y", "m3/yr", "1"),
    s("m³/yr", "m3/yr", "1"),
    s("m³/y", "m3/yr", "1"),
    s("m3/年", "m3/yr", "1"),
    s("m³/年", "m3/yr", "1"),
    s("㎥/年", "m3/yr", "1"),
    s("千m3/年", "m3/yr", "1000"),
    s("千m³/年", "m3/yr", "1000"),
    s("万m3/年", "m3/yr", "10000"),
    s("万m³/年", "m3/yr", "10000"),
    // --- % ----------------------------------------------------------------------------------------
    s("%", "%", "1"),
    s("％", "%", "1"),
    // --- people -----------------------------------------------------------------------------------
    s("people", "people", "1"),
    s("人", "people", "1"),
    s("名", "people", "1"),
    s("千人", "people", "1000"),
    s("万人", "people", "10000"),
    // --- t/yr -------------------------------------------------------------------------------------
    s("t/yr", "t/yr", "1"),
    s("t/y", "t/yr", "1"),
    s("t/年", "t/yr", "1"),
    s("トン/年", "t/yr", "1"),
    s("kt/yr", "t/yr", "1000"),
    s("kt/年", "t/yr", "1000"),
    s("千t/年", "t/yr", "1000"),
    s("千トン/年", "t/yr", "1000"),
    s("kg/yr", "t/yr", "0.001"),
    s("kg/年", "t/yr", "0.001"),
    // --- ha ---------------------------------------------------------------------------------------
    s("ha", "ha", "1"),
    s("ヘクタール", "ha", "1"),
    s("km2", "ha", "100"),
    s("km²", "ha", "100"),
    s("㎢", "ha", "100"),
    s("m2", "ha", "0.0001"),
    s("m²", "ha", "0.0001"),
    s("㎡", "ha", "0.0001"),
    // --- m3 (storage) -----------------------------------------------------------------------------
    s("m3", "m3", "1"),
    s("m³", "m3", "1"),
    s("㎥", "m3", "1"),
    s("立方メートル", "m3", "1"),
    s("千m3", "m3", "1000"),
    s("千m³", "m3", "1000"),
    s("万m3", "m3", "10000"),
    s("万m³", "m3", "10000"),
    // --- km ---------------------------------------------------------------------------------------
    s("km", "km", "1"),
    s("キロメートル", "km", "1"),
    s("m", "km", "0.001"),
    s("メートル", "km", "0.001"),
    // --- units ------------------------------------------------------------------------------------
    s("units", "units", "1"),
    s("戸", "units", "1"),
    s("件", "units", "1"),
    s("台", "units", "1"),
];

const fn s(spelling: &'static str, canonical: &'static str, factor: &'static str) -> Spelling {
    Spelling {
        spelling,
        canonical,
        factor,
    }
}

/// A published unit as looked up: trimmed, with every whitespace character removed (so
/// `" t-CO2 /年 "` is `t-CO2/年`; full-width spaces count as whitespace).
pub fn normalize_unit(published_unit: &str) -> String {
    published_unit
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The spelling `published_unit` (whitespace removed) under the canonical unit `canonical`.
pub fn spelling(canonical: &str, published_unit: &str) -> Option<&'static Spelling> {
    let unit = normalize_unit(published_unit);
    SPELLINGS
        .iter()
        .find(|s| s.canonical == canonical && s.spelling == unit)
}

/// Every spelling accepted for the canonical unit `canonical`, in table order (the canonical
/// spelling first).
pub fn accepted_units(canonical: &str) -> Vec<&'static str> {
    SPELLINGS
        .iter()
        .filter(|s| s.canonical == canonical)
        .map(|s| s.spelling)
        .collect()
}

/// A figure's unit cannot be converted to its indicator's canonical unit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// The spelling is not one of those accepted for the indicator.
    #[error(
        "unit {} is not accepted for indicator {indicator} (canonical unit {canonical}); accepted: {}",
        quoted(.published),
        .accepted.join(", ")
    )]
    NotAccepted {
        indicator: &'static str,
        canonical: &'static str,
        published: String,
        accepted: Vec<&'static str>,
    },
    /// The converted value does not fit a decimal exactly (28 decimal places, 96-bit mantissa).
    #[error(
        "{value} {} does not convert to {canonical} exactly (indicator {indicator})",
        quoted(.published)
    )]
    Inexact {
        indicator: &'static str,
        canonical: &'static str,
        published: String,
        value: String,
    },
}

/// `value`, published in `published_unit`, in the indicator's canonical unit: `value × factor`,
/// exact. Whitespace around and inside the unit is ignored (`"t-CO2 /年"` is `t-CO2/年`).
///
/// The result's scale is the sum of the value's and the factor's (as `Decimal` multiplication
/// does): `49.0` MW stays `49.0`, `624770` kWh/年 is `624.770` MWh/yr, equal to `624.77`.
/// Unlike `Decimal`'s `*`, zero keeps its scale (`0.0` stays `0.0`) and nothing is ever rounded.
/// Keep the published string beside the result: it is the figure as published.
pub fn convert(
    indicator: &Indicator,
    value: Decimal,
    published_unit: &str,
) -> Result<Decimal, UnitError> {
    let found = lookup(indicator, published_unit)?;
    exact_mul(value, found.factor()).ok_or_else(|| inexact(indicator, value, published_unit))
}

/// The inverse of [`convert`]: `canonical`, in the indicator's canonical unit, expressed in
/// `published_unit` (`canonical ÷ factor`, exact). `back(i, convert(i, v, u)?, u)` is `v`, with
/// the same scale, for every factor of [`SPELLINGS`].
pub fn back(
    indicator: &Indicator,
    canonical: Decimal,
    published_unit: &str,
) -> Result<Decimal, UnitError> {
    let found = lookup(indicator, published_unit)?;
    exact_div(canonical, found.factor())
        .ok_or_else(|| inexact(indicator, canonical, published_unit))
}

fn lookup(indicator: &Indicator, published_unit: &str) -> Result<&'static Spelling, UnitError> {
    spelling(indicator.unit, published_unit).ok_or_else(|| UnitError::NotAccepted {
        indicator: indicator.id,
        canonical: indicator.unit,
        published: published_unit.to_string(),
        accepted: accepted_units(indicator.unit),
    })
}

fn inexact(indicator: &Indicator, value: Decimal, published_unit: &str) -> UnitError {
    UnitError::Inexact {
        indicator: indicator.id,
        canonical: indicator.unit,
        published: published_unit.to_string(),
        value: value.to_string(),
    }
}

/// Largest scale a `Decimal` holds.
const SCALE_MAX: u32 = 28;

/// Largest mantissa a `Decimal` holds (2^96 − 1).
const MANTISSA_MAX: u128 = (1u128 << 96) - 1;

/// `mantissa × 10^-scale` as a `Decimal`, dropping trailing zeros only while it does not fit;
/// `None` if it cannot be held exactly.
fn exact_decimal(mut mantissa: i128, mut scale: i64) -> Option<Decimal> {
    if scale < 0 {
        let up = 10i128.checked_pow(u32::try_from(-scale).ok()?)?;
        mantissa = mantissa.checked_mul(up)?;
        scale = 0;
    }
    loop {
        if scale <= i64::from(SCALE_MAX) && mantissa.unsigned_abs() <= MANTISSA_MAX {
            return Decimal::try_from_i128_with_scale(mantissa, u32::try_from(scale).ok()?).ok();
        }
        if scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        } else {
            return None;
        }
    }
}

/// `a × b`, exact.
fn exact_mul(a: Decimal, b: Decimal) -> Option<Decimal> {
    let mantissa = a.mantissa().checked_mul(b.mantissa())?;
    exact_decimal(mantissa, i64::from(a.scale()) + i64::from(b.scale()))
}

/// `a ÷ b`, exact: the fewest extra decimal places that make the quotient exact, `None` if
/// there are none (a factor with a prime other than 2 or 5 in its mantissa, e.g. 3).
fn exact_div(a: Decimal, b: Decimal) -> Option<Decimal> {
    let divisor = b.mantissa();
    if divisor == 0 {
        return None;
    }
    let mut numerator = a.mantissa();
    let mut extra: i64 = 0;
    while numerator % divisor != 0 {
        numerator = numerator.checked_mul(10)?;
        extra += 1;
    }
    exact_decimal(
        numerator / divisor,
        i64::from(a.scale()) + extra - i64::from(b.scale()),
    )
}

// ---------------------------------------------------------------------------------------------
// Issuer-defined indicators

/// Prefix of an issuer-defined indicator id: `issuer:<name>`.
pub const ISSUER_PREFIX: &str = "issuer:";

/// Longest name after [`ISSUER_PREFIX`].
pub const ISSUER_NAME_CHARS_MAX: usize = 64;

/// The name of an issuer-defined indicator id `issuer:<name>` (1 to 64 ASCII letters, digits,
/// `_`, `-` or `.`); `None` if `id` is not one.
pub fn issuer_defined_name(id: &str) -> Option<&str> {
    let name = id.strip_prefix(ISSUER_PREFIX)?;
    let valid = !name.is_empty()
        && name.len() <= ISSUER_NAME_CHARS_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    valid.then_some(name)
}

/// Whether `id` names an issuer-defined indicator (`issuer:<name>`). Such a figure carries its
/// own unit, is never converted, and is never aggregated across bonds.
pub fn is_issuer_defined(id: &str) -> bool {
    issuer_defined_name(id).is_some()
}

// ---------------------------------------------------------------------------------------------
// Views

/// A unit spelling accepted for an indicator, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SpellingView {
    /// As published (whitespace is ignored on lookup).
    pub spelling: String,
    /// Exact decimal: canonical value = published value × factor.
    pub factor: String,
}

/// A catalogue entry as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IndicatorView {
    pub id: String,
    pub group: String,
    /// Canonical unit.
    pub unit: String,
    pub description: String,
    pub source: String,
    pub needs_target_population: bool,
    /// A GHG figure: an emission factor is recommended, and its absence is shown.
    pub ghg: bool,
    /// Unit spellings accepted for this indicator, the canonical one first.
    pub accepted_units: Vec<SpellingView>,
}

impl From<&Indicator> for IndicatorView {
    fn from(i: &Indicator) -> Self {
        IndicatorView {
            id: i.id.to_string(),
            group: i.group.to_string(),
            unit: i.unit.to_string(),
            description: i.description.to_string(),
            source: i.source.to_string(),
            needs_target_population: i.needs_target_population,
            ghg: i.ghg,
            accepted_units: SPELLINGS
                .iter()
                .filter(|s| s.canonical == i.unit)
                .map(|s| SpellingView {
                    spelling: s.spelling.to_string(),
                    factor: s.factor.to_string(),
                })
                .collect(),
        }
    }
}

/// The whole catalogue as the API shows it, in catalogue order.
pub fn catalogue() -> Vec<IndicatorView> {
    INDICATORS.iter().map(IndicatorView::from).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    /// Some indicator whose canonical unit is `canonical`.
    fn indicator_in(canonical: &str) -> &'static Indicator {
        INDICATORS
            .iter()
            .find(|i| i.unit == canonical)
            .unwrap_or_else(|| panic!("no indicator in {canonical}"))
    }

    #[test]
    fn existing_ids_keep_their_units() {
        for (id, unit) in [
            ("ghg_avoided", "tCO2e/yr"),
            ("renewable_generation", "MWh/yr"),
            ("renewable_capacity", "MW"),
            ("energy_savings", "MWh/yr"),
            ("energy_intensity", "kWh/m2/yr"),
            ("water_saved", "m3/yr"),
            ("water_treated", "m3/yr"),
            ("waste_recycled", "t/yr"),
            ("area_protected", "ha"),
            ("beneficiaries", "people"),
            ("units_delivered", "units"),
        ] {
            let found = indicator(id).unwrap_or_else(|| panic!("{id} missing"));
            assert_eq!(found.unit, unit, "{id}");
        }
        assert!(indicator("ghg_avoided").unwrap().ghg);
        assert!(indicator("beneficiaries").unwrap().needs_target_population);
        assert!(
            indicator("units_delivered")
                .unwrap()
                .needs_target_population
        );
        assert!(indicator("nope").is_none());
        assert!(indicator("issuer:nox_reduced").is_none());
    }

    #[test]
    fn catalogue_is_well_formed() {
        let mut ids = BTreeSet::new();
        for i in INDICATORS {
            assert!(ids.insert(i.id), "duplicate id {}", i.id);
            assert!(GROUPS.contains(&i.group), "{}: group {}", i.id, i.group);
            assert!(
                !i.description.is_empty() && !i.source.is_empty(),
                "{}",
                i.id
            );
            assert!(!is_issuer_defined(i.id), "{}", i.id);
            assert!(
                i.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                i.id
            );
        }
        for group in GROUPS {
            assert!(
                INDICATORS.iter().any(|i| i.group == *group),
                "empty {group}"
            );
        }
    }

    #[test]
    fn every_canonical_unit_has_its_own_spelling_first() {
        for i in INDICATORS {
            let accepted = accepted_units(i.unit);
            assert_eq!(accepted.first(), Some(&i.unit), "{}", i.id);
            let own = spelling(i.unit, i.unit).unwrap();
            assert_eq!(own.factor(), Decimal::ONE, "{}", i.id);
        }
    }

    #[test]
    fn every_spelling_belongs_to_a_canonical_unit_once() {
        let mut pairs = BTreeSet::new();
        for sp in SPELLINGS {
            assert!(
                pairs.insert((sp.spelling, sp.canonical)),
                "{} -> {} twice",
                sp.spelling,
                sp.canonical
            );
            assert!(
                INDICATORS.iter().any(|i| i.unit == sp.canonical),
                "{}: no indicator in {}",
                sp.spelling,
                sp.canonical
            );
            assert!(!sp.spelling.is_empty(), "empty spelling");
            assert_eq!(normalize_unit(sp.spelling), sp.spelling, "whitespace");
            let factor = Decimal::from_str(sp.factor).unwrap();
            assert!(factor > Decimal::ZERO, "{}", sp.spelling);
            assert_eq!(
                factor.to_string(),
                sp.factor,
                "{} factor not canonical",
                sp.spelling
            );
        }
    }

    #[test]
    fn every_spelling_converts_and_back_exactly() {
        for value in [
            "624.77",
            "1056500",
            "49.0",
            "0",
            "0.000001",
            "325964",
            "123456789.123456",
        ] {
            for sp in SPELLINGS {
                let i = indicator_in(sp.canonical);
                let v = d(value);
                let c = convert(i, v, sp.spelling).unwrap();
                assert_eq!(c, v * sp.factor(), "{value} {}", sp.spelling);
                let b = back(i, c, sp.spelling).unwrap();
                assert_eq!(b, v, "{value} {}", sp.spelling);
                assert_eq!(
                    b.to_string(),
                    value,
                    "{value} {} keeps its scale",
                    sp.spelling
                );
            }
        }
    }

    #[test]
    fn brief_examples() {
        let generation = indicator("renewable_generation").unwrap();
        assert_eq!(
            convert(generation, d("624.77"), "MWh").unwrap().to_string(),
            "624.77"
        );
        let kwh = convert(generation, d("624770"), "kWh/年").unwrap();
        assert_eq!(kwh, d("624.77"));
        assert_eq!(kwh.to_string(), "624.770");
        assert_eq!(
            convert(generation, d("12.5"), "万kWh/年")
                .unwrap()
                .to_string(),
            "125.0"
        );
        assert_eq!(
            convert(generation, d("3"), "千kWh/年").unwrap().to_string(),
            "3"
        );

        let storage = indicator("storage_capacity").unwrap();
        assert_eq!(
            convert(storage, d("1056500"), "m³").unwrap().to_string(),
            "1056500"
        );
        assert_eq!(convert(storage, d("105.65"), "万m3").unwrap(), d("1056500"));

        let ghg = indicator("ghg_avoided").unwrap();
        assert_eq!(
            convert(ghg, d("325964"), "t-CO2/y").unwrap().to_string(),
            "325964"
        );
        assert_eq!(convert(ghg, d("1.5"), "kt-CO2/yr").unwrap(), d("1500"));
        assert_eq!(convert(ghg, d("2500"), "kg-CO2/yr").unwrap(), d("2.5"));

        let capacity = indicator("renewable_capacity").unwrap();
        assert_eq!(
            convert(capacity, d("49.0"), "MW").unwrap().to_string(),
            "49.0"
        );
        assert_eq!(convert(capacity, d("1990"), "kW").unwrap(), d("1.99"));
        assert_eq!(convert(capacity, d("2"), "万kW").unwrap(), d("20"));

        let flood = indicator("flood_area_protected").unwrap();
        assert_eq!(convert(flood, d("25000"), "m2").unwrap(), d("2.5"));
        assert_eq!(convert(flood, d("1.2"), "km²").unwrap(), d("120"));
        let floor = indicator("floor_area").unwrap();
        assert_eq!(convert(floor, d("25000"), "㎡").unwrap(), d("25000"));

        let length = indicator("length_improved").unwrap();
        assert_eq!(convert(length, d("850"), "m").unwrap(), d("0.85"));

        let people = indicator("people_protected").unwrap();
        assert_eq!(convert(people, d("12.3"), "千人").unwrap(), d("12300"));
    }

    #[test]
    fn decimal_keeps_the_scale_when_multiplied_by_one() {
        let v = d("49.0");
        assert_eq!(v.to_string(), "49.0");
        // `Decimal`'s own product: scale = sum of scales, so ×1 keeps "49.0" ...
        assert_eq!((v * Decimal::ONE).to_string(), "49.0");
        assert_eq!((v * d("1")).to_string(), "49.0");
        // ... but a zero product loses its scale there; `convert` keeps it.
        assert_eq!((d("0.0") * Decimal::ONE).to_string(), "0");
        let capacity = indicator("renewable_capacity").unwrap();
        assert_eq!(
            convert(capacity, d("0.0"), "MW").unwrap().to_string(),
            "0.0"
        );
        // A factor other than 1 changes the scale: keep the published string separately.
        assert_eq!(
            convert(capacity, d("49.0"), "kW").unwrap().to_string(),
            "0.0490"
        );
    }

    #[test]
    fn whitespace_in_the_unit_is_ignored() {
        let ghg = indicator("ghg_avoided").unwrap();
        assert_eq!(convert(ghg, d("10"), "  t-CO2 /年 ").unwrap(), d("10"));
        assert_eq!(
            convert(ghg, d("10"), "t-CO2\u{3000}/\t年").unwrap(),
            d("10")
        );
        let storage = indicator("storage_capacity").unwrap();
        assert_eq!(convert(storage, d("3"), "万 m3").unwrap(), d("30000"));
    }

    #[test]
    fn unknown_or_foreign_spelling_is_refused_with_the_accepted_list() {
        let capacity = indicator("renewable_capacity").unwrap();
        let err = convert(capacity, d("5"), "MWp").unwrap_err();
        let UnitError::NotAccepted { accepted, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(accepted, &accepted_units("MW"));
        let message = err.to_string();
        assert!(message.contains("\"MWp\""), "{message}");
        assert!(message.contains("renewable_capacity"), "{message}");
        for sp in ["MW", "kW", "千kW", "万kW", "GW"] {
            assert!(message.contains(sp), "{message}");
        }
        // A known spelling of another canonical unit is refused too.
        assert!(convert(capacity, d("5"), "MWh").is_err());
        assert!(back(capacity, d("5"), "MWh").is_err());
        // Case matters.
        assert!(convert(capacity, d("5"), "mw").is_err());
        // m3 is storage, not an annual volume.
        assert!(convert(indicator("water_saved").unwrap(), d("5"), "m3").is_err());
    }

    #[test]
    fn a_result_that_does_not_fit_is_refused_not_rounded() {
        let capacity = indicator("renewable_capacity").unwrap();
        // 28 decimal places × 0.001 needs 31.
        let tiny = d("0.0000000000000000000000000001");
        assert!(matches!(
            convert(capacity, tiny, "kW"),
            Err(UnitError::Inexact { .. })
        ));
        // Trailing zeros are dropped when that is enough, exactly.
        // 1000 × 10^-28 × 0.001: mantissa 1000, scale 31, held as 1 × 10^-28.
        let thousand = Decimal::new(1000, 28);
        assert_eq!(
            convert(capacity, thousand, "kW").unwrap(),
            Decimal::new(1, 28)
        );
        // 10 × 10^-28 × 0.001 = 10^-30: no.
        assert!(convert(capacity, Decimal::new(10, 28), "kW").is_err());
        // A mantissa beyond 96 bits.
        let big = Decimal::MAX;
        assert!(matches!(
            convert(capacity, big, "GW"),
            Err(UnitError::Inexact { .. })
        ));
        assert!(matches!(
            back(capacity, big, "kW"),
            Err(UnitError::Inexact { .. })
        ));
    }

    #[test]
    fn exact_division_finds_the_decimal_places_it_needs() {
        assert_eq!(exact_div(d("1"), d("8")).unwrap().to_string(), "0.125");
        assert_eq!(
            exact_div(d("1500.0"), d("1000")).unwrap().to_string(),
            "1.5"
        );
        assert_eq!(exact_div(d("1.5"), d("0.001")).unwrap().to_string(), "1500");
        assert!(exact_div(d("1"), d("3")).is_none());
        assert!(exact_div(d("1"), Decimal::ZERO).is_none());
    }

    #[test]
    fn issuer_defined_ids() {
        assert!(is_issuer_defined("issuer:nox_reduced"));
        assert!(is_issuer_defined("issuer:a"));
        assert!(is_issuer_defined("issuer:t-NOx.v2"));
        assert!(is_issuer_defined(&format!("issuer:{}", "x".repeat(64))));
        assert!(!is_issuer_defined(&format!("issuer:{}", "x".repeat(65))));
        assert!(!is_issuer_defined("issuer:"));
        assert!(!is_issuer_defined("issuer:a b"));
        assert!(!is_issuer_defined("issuer:a:b"));
        assert!(!is_issuer_defined("issuer:窒素"));
        assert!(!is_issuer_defined("Issuer:x"));
        assert!(!is_issuer_defined("ghg_avoided"));
        assert_eq!(issuer_defined_name("issuer:nox"), Some("nox"));
    }

    #[test]
    fn catalogue_view_lists_accepted_units() {
        let views = catalogue();
        assert_eq!(views.len(), INDICATORS.len());
        let ghg = views.iter().find(|v| v.id == "ghg_avoided").unwrap();
        assert!(ghg.ghg);
        assert_eq!(ghg.accepted_units[0].spelling, "tCO2e/yr");
        assert!(
            ghg.accepted_units
                .iter()
                .any(|s| s.spelling == "kt-CO2/yr" && s.factor == "1000")
        );
    }
}
