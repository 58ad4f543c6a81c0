//! Valid, realistic bond specifications, one per kind, for tests, API documentation and demos.
//!
//! Osaka-flavoured and in yen. The public bodies (Osaka Prefecture, Osaka City, Sakai City) are
//! real but these bonds are illustrations, not their actual issues; the companies are fictional.
//! Documents live under `.example` domains (RFC 2606) so that no example points at a real file;
//! their digests are of placeholder text. Every spec is already in normalised form, so
//! `spec.validate()?.to_spec() == spec`.

use crate::domain::bond::{
    BondKind, BondSpec, Category, CouponFrequency, CouponSpec, DayCount, DocumentKind,
    DocumentSpec, FrameworkSpec, KpiSpec, TransferRestrictionsSpec,
};
use crate::domain::party::InvestorCategory;

/// A five-year green bond of Osaka Prefecture: ¥10bn in 10,000 tokens of ¥1,000,000, 0.3 %
/// semi-annual, Actual/365 (Fixed); flood defences, EV buses, renewable power and efficient
/// public buildings; open to all investors.
pub fn green() -> BondSpec {
    BondSpec {
        kind: BondKind::Green,
        name: "Osaka Prefecture Green Bond 2025 (5-year)".to_owned(),
        isin: None,
        currency: "JPY".to_owned(),
        denomination: "1000000".to_owned(),
        issue_size: "10000".to_owned(),
        coupon: CouponSpec {
            rate: "0.3".to_owned(),
            frequency: CouponFrequency::SemiAnnual,
            day_count: DayCount::Act365F,
            business_day_convention: None,
            calendar: None,
        },
        issue_date: "2025-06-20".to_owned(),
        maturity_date: "2030-06-20".to_owned(),
        framework: FrameworkSpec {
            categories: vec![
                Category::RenewableEnergy,
                Category::CleanTransportation,
                Category::ClimateChangeAdaptation,
                Category::GreenBuildings,
            ],
            target_populations: Vec::new(),
            sdg_targets: strings(&["7.2", "9.1", "11.2", "13.1"]),
            kpis: Vec::new(),
            refinancing_look_back_years: Some("3".to_owned()),
            subcategories: Vec::new(),
        },
        documents: vec![
            DocumentSpec {
                kind: DocumentKind::Framework,
                uri: "https://www.pref.osaka.example/green-bond/framework-2025.pdf".to_owned(),
                sha256: "ae642421d1f5d69c555a0f8c2a59bad892194d59bab27e58af39ea823db51f77"
                    .to_owned(),
            },
            DocumentSpec {
                kind: DocumentKind::SecondPartyOpinion,
                uri: "https://reviews.example/spo/osaka-prefecture-green-2025.pdf".to_owned(),
                sha256: "d1a8e7cf606c3f9920c86e95e5a9fa35af87937ab04b27428a7e2ae46093f05d"
                    .to_owned(),
            },
        ],
        transfer_restrictions: TransferRestrictionsSpec {
            allowed_investor_categories: vec![InvestorCategory::General],
            lock_up_until: None,
            max_holders: None,
            issuer_approval_required: false,
        },
        // The International Finance City's own label first, and the ICMA Principles.
        label_schemes: vec!["osaka-ifc".to_owned(), "icma-gbp".to_owned()],
        fiscal_year_end: None,
        issuance_costs: None,
    }
}

/// A ten-year social bond of Osaka City: ¥5bn for affordable housing and childcare places,
/// 0.45 % semi-annual; professional investors only.
pub fn social() -> BondSpec {
    BondSpec {
        kind: BondKind::Social,
        name: "Osaka City Social Bond 2025 (10-year)".to_owned(),
        isin: None,
        currency: "JPY".to_owned(),
        denomination: "1000000".to_owned(),
        issue_size: "5000".to_owned(),
        coupon: CouponSpec {
            rate: "0.45".to_owned(),
            frequency: CouponFrequency::SemiAnnual,
            day_count: DayCount::Act365F,
            business_day_convention: None,
            calendar: None,
        },
        issue_date: "2025-07-25".to_owned(),
        maturity_date: "2035-07-25".to_owned(),
        framework: FrameworkSpec {
            categories: vec![
                Category::AffordableHousing,
                Category::AccessToEssentialServices,
            ],
            target_populations: strings(&[
                "Low-income households in Osaka City",
                "Families with children under school age",
            ]),
            sdg_targets: strings(&["1.4", "4.2", "11.1"]),
            kpis: Vec::new(),
            refinancing_look_back_years: None,
            subcategories: Vec::new(),
        },
        documents: vec![DocumentSpec {
            kind: DocumentKind::Framework,
            uri: "https://www.city.osaka.example/social-bond/framework.pdf".to_owned(),
            sha256: "1c2af623a13390e4499cf017863cbfa16bd4793e9cf3ca64576aa5ad6a4f3279".to_owned(),
        }],
        transfer_restrictions: TransferRestrictionsSpec {
            allowed_investor_categories: vec![InvestorCategory::Professional],
            lock_up_until: None,
            max_holders: None,
            issuer_approval_required: false,
        },
        label_schemes: Vec::new(),
        fiscal_year_end: None,
        issuance_costs: None,
    }
}

/// A seven-year sustainability bond of a (fictional) Osaka railway: ¥20bn for electric trains,
/// energy-efficient stations and step-free access; professional investors only.
pub fn sustainability() -> BondSpec {
    BondSpec {
        kind: BondKind::Sustainability,
        name: "Naniwa Rapid Transit Sustainability Bond 2025".to_owned(),
        isin: None,
        currency: "JPY".to_owned(),
        denomination: "1000000".to_owned(),
        issue_size: "20000".to_owned(),
        coupon: CouponSpec {
            rate: "0.62".to_owned(),
            frequency: CouponFrequency::SemiAnnual,
            day_count: DayCount::Act365F,
            business_day_convention: None,
            calendar: None,
        },
        issue_date: "2025-08-28".to_owned(),
        maturity_date: "2032-08-27".to_owned(),
        framework: FrameworkSpec {
            categories: vec![
                Category::CleanTransportation,
                Category::GreenBuildings,
                Category::AccessToEssentialServices,
            ],
            target_populations: strings(&["Elderly passengers and passengers with disabilities"]),
            sdg_targets: strings(&["9.1", "11.2"]),
            kpis: Vec::new(),
            refinancing_look_back_years: Some("2".to_owned()),
            subcategories: Vec::new(),
        },
        documents: vec![DocumentSpec {
            kind: DocumentKind::Framework,
            uri: "https://ir.naniwa-rapid.example/sustainability-framework.pdf".to_owned(),
            sha256: "d4fadd2bb1b7b0221b4cd3b111b6fb362bc2b62896a31bed63ce2179d1177be4".to_owned(),
        }],
        transfer_restrictions: TransferRestrictionsSpec {
            allowed_investor_categories: vec![InvestorCategory::Professional],
            lock_up_until: None,
            max_holders: None,
            issuer_approval_required: false,
        },
        label_schemes: Vec::new(),
        fiscal_year_end: None,
        issuance_costs: None,
    }
}

/// A seven-year sustainability-linked bond of a (fictional) Osaka gas utility: ¥10bn in 100
/// tokens of ¥100m, 0.85 % semi-annual, +25 bp if Scope 1 and 2 emissions are not cut 30 % by
/// March 2029; a QII-only private placement with fewer than 50 holders, a six-month lock-up and
/// issuer consent to every transfer.
pub fn sustainability_linked() -> BondSpec {
    BondSpec {
        kind: BondKind::SustainabilityLinked,
        name: "Naniwa Gas Sustainability-Linked Bond 2025".to_owned(),
        isin: None,
        currency: "JPY".to_owned(),
        denomination: "100000000".to_owned(),
        issue_size: "100".to_owned(),
        coupon: CouponSpec {
            rate: "0.85".to_owned(),
            frequency: CouponFrequency::SemiAnnual,
            day_count: DayCount::Act365F,
            business_day_convention: None,
            calendar: None,
        },
        issue_date: "2025-09-10".to_owned(),
        maturity_date: "2032-09-10".to_owned(),
        framework: FrameworkSpec {
            categories: Vec::new(),
            target_populations: Vec::new(),
            sdg_targets: strings(&["7.2", "13.2"]),
            kpis: vec![KpiSpec {
                id: "ghg-scope-1-2".to_owned(),
                name: "Scope 1 and 2 GHG emissions".to_owned(),
                unit: "tCO2e".to_owned(),
                baseline: "1200000".to_owned(),
                target: "840000".to_owned(),
                observation_date: "2029-03-31".to_owned(),
                step_up_bp: "25".to_owned(),
            }],
            refinancing_look_back_years: None,
            subcategories: Vec::new(),
        },
        documents: vec![
            DocumentSpec {
                kind: DocumentKind::Framework,
                uri: "https://ir.naniwa-gas.example/slb-framework-2025.pdf".to_owned(),
                sha256: "ff44933e8b8048c541e298327b0721304192a99343ecab8b712f9cb8e23c52f7"
                    .to_owned(),
            },
            DocumentSpec {
                kind: DocumentKind::SecondPartyOpinion,
                uri: "https://reviews.example/spo/naniwa-gas-slb-2025.pdf".to_owned(),
                sha256: "834a10eff216abe4f0c1a13e8a2a44c96cd76d364e141cec8930816e6defec07"
                    .to_owned(),
            },
        ],
        transfer_restrictions: TransferRestrictionsSpec {
            allowed_investor_categories: vec![InvestorCategory::Qii],
            lock_up_until: Some("2026-03-31".to_owned()),
            max_holders: Some("49".to_owned()),
            issuer_approval_required: true,
        },
        label_schemes: Vec::new(),
        fiscal_year_end: None,
        issuance_costs: None,
    }
}

/// A five-year SDG bond of Sakai City: ¥3bn for community clinics, early-childhood education,
/// solar power on schools and accessible buses, each mapped to an SDG target; open to all.
pub fn sdg() -> BondSpec {
    BondSpec {
        kind: BondKind::Sdg,
        name: "Sakai City SDG Bond 2025".to_owned(),
        isin: None,
        currency: "JPY".to_owned(),
        denomination: "1000000".to_owned(),
        issue_size: "3000".to_owned(),
        coupon: CouponSpec {
            rate: "0.4".to_owned(),
            frequency: CouponFrequency::SemiAnnual,
            day_count: DayCount::Act365F,
            business_day_convention: None,
            calendar: None,
        },
        issue_date: "2025-10-15".to_owned(),
        maturity_date: "2030-10-15".to_owned(),
        framework: FrameworkSpec {
            categories: Vec::new(),
            target_populations: Vec::new(),
            sdg_targets: strings(&["3.8", "4.2", "7.2", "11.2"]),
            kpis: Vec::new(),
            refinancing_look_back_years: None,
            subcategories: Vec::new(),
        },
        documents: vec![DocumentSpec {
            kind: DocumentKind::Framework,
            uri: "https://www.city.sakai.example/sdg-bond/framework.pdf".to_owned(),
            sha256: "834a10eff216abe4f0c1a13e8a2a44c96cd76d364e141cec8930816e6defec07".to_owned(),
        }],
        transfer_restrictions: TransferRestrictionsSpec {
            allowed_investor_categories: vec![InvestorCategory::General],
            lock_up_until: None,
            max_holders: None,
            issuer_approval_required: false,
        },
        label_schemes: Vec::new(),
        fiscal_year_end: None,
        issuance_costs: None,
    }
}

/// One example of each kind: green, social, sustainability, sustainability-linked, SDG.
pub fn all() -> Vec<BondSpec> {
    vec![
        green(),
        social(),
        sustainability(),
        sustainability_linked(),
        sdg(),
    ]
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|&item| item.to_owned()).collect()
}
