//! The two-level taxonomy of eligible projects: the ICMA Green and Social Bond Principles'
//! categories ([`Category`]) and, under each, the sub-categories that the Principles' examples
//! and the Japan Ministry of the Environment's Green Bond Guidelines (2022, Appendix 1: examples
//! of green projects, 別表1) name — written `category/sub` (`renewable_energy/hydro`,
//! `climate_change_adaptation/flood_control`). A bond's framework may list sub-categories; a
//! project names one or only its category (a line that mixes several, as issuers that report
//! "hydro and solar" together do).

use crate::domain::bond::Category;

/// Every sub-category, by category. Sources: ICMA GBP (June 2021) §1 "Use of Proceeds" and SBP
/// (June 2021) §1 (the examples listed under each category); MoE Green Bond Guidelines 2022,
/// 付属書1 (check: the appendix's own wording was not read; the sub-categories follow the
/// examples the guidelines' summary lists).
pub const SUBCATEGORIES: &[(Category, &[&str])] = &[
    (
        Category::RenewableEnergy,
        &[
            "solar",
            "onshore_wind",
            "offshore_wind",
            "hydro",
            "geothermal",
            "biomass",
            "ocean",
            "renewable_heat",
            "transmission",
            "storage",
        ],
    ),
    (
        Category::EnergyEfficiency,
        &[
            "buildings",
            "industry",
            "lighting",
            "smart_grid",
            "district_heating",
            "appliances",
        ],
    ),
    (
        Category::PollutionPreventionAndControl,
        &[
            "air",
            "waste_to_energy",
            "waste_management",
            "soil_remediation",
            "emissions",
        ],
    ),
    (
        Category::LivingNaturalResourcesAndLandUse,
        &["agriculture", "forestry", "fisheries", "aquaculture"],
    ),
    (
        Category::TerrestrialAndAquaticBiodiversity,
        &["coastal_and_marine", "watershed", "protected_areas"],
    ),
    (
        Category::CleanTransportation,
        &[
            "rail",
            "electric_vehicles",
            "charging",
            "public_transport",
            "hydrogen",
            "cycling",
        ],
    ),
    (
        Category::SustainableWaterAndWastewaterManagement,
        &[
            "drinking_water",
            "wastewater",
            "water_efficiency",
            "sustainable_drainage",
        ],
    ),
    (
        Category::ClimateChangeAdaptation,
        &[
            "flood_control",
            "sediment_control",
            "coastal_protection",
            "drought",
            "heat",
            "early_warning",
            "resilient_infrastructure",
        ],
    ),
    (
        Category::CircularEconomy,
        &["recycling", "reuse", "eco_design", "resource_efficiency"],
    ),
    (
        Category::GreenBuildings,
        &["new_construction", "renovation"],
    ),
    (
        Category::AffordableBasicInfrastructure,
        &[
            "water_and_sanitation",
            "transport",
            "energy",
            "connectivity",
        ],
    ),
    (
        Category::AccessToEssentialServices,
        &[
            "health",
            "education",
            "financial_services",
            "childcare",
            "elderly_care",
        ],
    ),
    (Category::AffordableHousing, &["rental", "ownership"]),
    (
        Category::EmploymentGeneration,
        &["sme_financing", "microfinance"],
    ),
    (
        Category::FoodSecurityAndSustainableFoodSystems,
        &["food_access", "food_waste"],
    ),
    (
        Category::SocioeconomicAdvancementAndEmpowerment,
        &["equal_access", "inclusion"],
    ),
];

/// A category with, possibly, one of its sub-categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Eligible {
    pub category: Category,
    pub sub: Option<&'static str>,
}

/// A path that is not `category` or `category/sub` of the taxonomy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a category or category/sub-category ({hint})")]
pub struct TaxonomyError {
    input: String,
    hint: String,
}

impl Eligible {
    /// `renewable_energy` or `renewable_energy/hydro`.
    pub fn parse(text: &str) -> Result<Eligible, TaxonomyError> {
        let (top, sub) = match text.split_once('/') {
            Some((top, sub)) => (top, Some(sub)),
            None => (text, None),
        };
        let category = Category::parse(top).map_err(|_| TaxonomyError {
            input: text.to_owned(),
            hint: "the category is one of the ICMA GBP and SBP categories".to_owned(),
        })?;
        let sub =
            match sub {
                None => None,
                Some(sub) => {
                    let known = subcategories(category);
                    Some(known.iter().copied().find(|s| *s == sub).ok_or_else(|| {
                        TaxonomyError {
                            input: text.to_owned(),
                            hint: format!(
                                "the sub-categories of {} are {}",
                                category.as_str(),
                                known.join(", ")
                            ),
                        }
                    })?)
                }
            };
        Ok(Eligible { category, sub })
    }

    /// The path: `category` or `category/sub`.
    pub fn path(&self) -> String {
        match self.sub {
            Some(sub) => format!("{}/{sub}", self.category.as_str()),
            None => self.category.as_str().to_owned(),
        }
    }
}

/// A list filter's `category=`: either level, as the path the bond list indexes.
pub fn filter_path(text: Option<&str>) -> Result<Option<String>, TaxonomyError> {
    text.map(|c| Eligible::parse(c).map(|e| e.path()))
        .transpose()
}

/// Every path of the taxonomy: each category, then each of its sub-categories.
pub fn all_paths() -> Vec<String> {
    Category::ALL
        .iter()
        .flat_map(|c| {
            std::iter::once(c.as_str().to_owned()).chain(
                subcategories(*c)
                    .iter()
                    .map(move |sub| format!("{}/{sub}", c.as_str())),
            )
        })
        .collect()
}

/// The sub-categories of `category`.
pub fn subcategories(category: Category) -> &'static [&'static str] {
    SUBCATEGORIES
        .iter()
        .find(|(c, _)| *c == category)
        .map_or(&[], |(_, subs)| subs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_sub_categories_named_once() {
        for category in Category::ALL {
            let subs = subcategories(*category);
            assert!(!subs.is_empty(), "{category}");
            let mut sorted = subs.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), subs.len(), "{category}");
        }
    }

    #[test]
    fn paths_parse_both_levels_and_round_trip() {
        let hydro = Eligible::parse("renewable_energy/hydro").unwrap();
        assert_eq!(hydro.category, Category::RenewableEnergy);
        assert_eq!(hydro.path(), "renewable_energy/hydro");
        let flood = Eligible::parse("climate_change_adaptation/flood_control").unwrap();
        assert_eq!(flood.sub, Some("flood_control"));
        assert_eq!(Eligible::parse("green_buildings").unwrap().sub, None);
        for bad in [
            "renewable_energy/coal",
            "renewables/hydro",
            "renewable_energy/",
            "/hydro",
            "",
        ] {
            assert!(Eligible::parse(bad).is_err(), "{bad}");
        }
    }
}
