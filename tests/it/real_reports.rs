//! Real published Japanese green-bond reports (`tests/fixtures/real/`, each with its sources),
//! entered through the API as published and read back: every published figure — value, unit,
//! category, currency, financing and refinancing — comes back exactly from the public views and
//! their CSV.
//!
//! What the fixtures do not publish is marked where the test supplies it: token denominations
//! where none is printed, project costs (required by midori to pro-rate; the figures here are
//! whole-project or allocation amounts, which costs do not touch), value dates of allocation
//! lines (the day before issue for refinancing, the period end for new financing: true bounds,
//! not published days), and document digests (the documents' bytes were not retrieved: the
//! digest used is of the document's URI, which pins nothing and says so).

use midori::domain::party::Role;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::macros::datetime;

use crate::on_both;
use crate::support::*;

fn fixture(id: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/real/{id}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("a string, got {v}"))
}

/// A stand-in digest for a document whose bytes were not retrieved: of its URI.
fn stand_in_digest(uri: &str) -> String {
    Sha256::digest(uri.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bond of a fixture as midori terms: its published amount, dates, coupon and fiscal year;
/// `denomination` when the fixture prints none; labelled under the ICMA Principles and the
/// Osaka IFC label.
fn spec(f: &Value, denomination: &str, categories: &[&str], costs: Option<&str>) -> Value {
    let bond = &f["bond"];
    let denomination = bond["denomination"].as_str().unwrap_or(denomination);
    let amount: u128 = text(&bond["amount"]).parse().unwrap();
    let size = amount / denomination.parse::<u128>().unwrap();
    let framework_uri = f["sources"][0]["uri"].as_str().unwrap();
    let mut spec = green_spec();
    spec["name"] = bond["name_en"].clone();
    spec["denomination"] = json!(denomination);
    spec["issue_size"] = json!(size.to_string());
    spec["coupon"]["rate"] = bond["coupon_rate_percent"].clone();
    // Japanese bond terms move a payment date off a bank holiday to the business day before.
    spec["coupon"]["business_day_convention"] = json!("preceding");
    spec["coupon"]["calendar"] = json!("JP");
    spec["issue_date"] = bond["issue_date"].clone();
    spec["maturity_date"] = bond["maturity_date"].clone();
    spec["framework"] = json!({
        "categories": categories,
        "sdg_targets": ["7.2", "13.1"],
        "refinancing_look_back_years": "3",
    });
    spec["documents"] = json!([{ "kind": "framework", "uri": framework_uri,
                                 "sha256": stand_in_digest(framework_uri) }]);
    spec["label_schemes"] = json!(["icma-gbp", "osaka-ifc"]);
    spec["fiscal_year_end"] = f["issuer"]["fiscal_year_end"].clone();
    if let Some(costs) = costs {
        spec["issuance_costs"] = json!(costs);
    }
    spec
}

/// Register a project (or, for a line that is not itemised, a portfolio) for a published line or
/// fleet: its category, and a cost (not published) of `cost`, all of it financeable.
async fn project(
    t: &TestApp,
    issuer: &Party,
    bond: &str,
    id: &str,
    name: &str,
    category: &str,
    cost: &str,
) {
    // A line that is not itemised ("hydro and solar of the group") is a portfolio.
    let kind = if id == "ELIGIBLE" {
        "portfolio"
    } else {
        "project"
    };
    created(
        &t.monitor(
            issuer,
            bond,
            "projects",
            "project.register",
            "project",
            json!({
            "project_id": id, "kind": kind, "name": name, "category": category, "sdg_targets": ["7.2"],
            "country": "JP", "location": "Japan", "total_cost": cost, "financing_share": "100",
            "status": "operating", "useful_life_years": "40" }),
        )
        .await,
    );
}

fn csv_rows(body: &str) -> Vec<Vec<String>> {
    body.lines()
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

/// Hokkaido Electric's green bonds: one allocation line for the whole ¥5bn (of which the
/// printed refinancing amount), fully allocated, amounts printed in 億円 to one decimal; impact
/// figures for the whole renewable fleet by energy type (whole project, not pro-rated) in
/// t-CO2/y and MW.
async fn hokkaido(t: &TestApp, id: &str) {
    let f = fixture(id);
    let alloc = &f["allocation_reports"][0];
    let line = &alloc["lines"][0];
    t.set_time(datetime!(2021-10-28 01:00 UTC));
    let issuer = t.party(Role::Issuer, "Hokkaido Electric Power").await;
    let investor = t.party(Role::Investor, "Investor").await;
    let bond = t
        .register(&issuer, spec(&f, "1000000", &["renewable_energy"], None))
        .await;
    let issue_date = text(&f["bond"]["issue_date"]).to_owned();
    let tokens: u64 = text(&f["bond"]["amount"]).parse::<u64>().unwrap() / 1_000_000;
    // Tokens issued on the issue date.
    t.set_time(
        midori::domain::wire::parse_date(&issue_date)
            .unwrap()
            .with_hms(1, 0, 0)
            .unwrap()
            .assume_utc(),
    );
    created(
        &t.op(
            &issuer,
            &bond,
            json!({"type": "token.issue",
        "allocations": [{"investor": investor.id, "quantity": tokens.to_string()}]}),
        )
        .await,
    );
    // The reports carry no publication date: they are recorded on the day they were read
    // (their published_on is then that day, a no-later-than bound).
    t.set_time(datetime!(2026-12-07 01:00 UTC));
    project(
        t,
        &issuer,
        &bond,
        "ELIGIBLE",
        text(&line["project_ja"]),
        "renewable_energy",
        text(&line["amount_yen"]),
    )
    .await;
    let mut fleets = Vec::new();
    for report in f["impact_reports"].as_array().unwrap() {
        for figure in report["figures"].as_array().unwrap() {
            let fleet = text(&figure["projects"][0]).to_owned();
            if !fleets.contains(&fleet) {
                fleets.push(fleet);
            }
        }
    }
    for (i, fleet) in fleets.iter().enumerate() {
        let sub = if fleet.starts_with("水力") {
            "renewable_energy/hydro"
        } else if fleet.starts_with("太陽光") {
            "renewable_energy/solar"
        } else {
            "renewable_energy/geothermal"
        };
        project(
            t,
            &issuer,
            &bond,
            &format!("FLEET-{i}"),
            fleet,
            sub,
            text(&f["bond"]["amount"]),
        )
        .await;
    }
    // The printed refinancing amount, and the rest of the line as new financing.
    let total: u64 = text(&line["amount_yen"]).parse().unwrap();
    let refinancing: u64 = text(&alloc["refinancing_total_yen"]).parse().unwrap();
    let day_before_issue = midori::domain::wire::format_date(
        midori::domain::wire::parse_date(&issue_date)
            .unwrap()
            .previous_day()
            .unwrap(),
    );
    let period_end = text(&alloc["period_end"]).to_owned();
    created(&t.monitor(&issuer, &bond, "allocation-reports", "allocation.report", "allocation", json!({
        "period_start": issue_date, "period_end": period_end,
        "lines": [
            { "project_id": "ELIGIBLE", "amount": refinancing.to_string(), "use_of_funds": "refinancing",
              "expense": "capex", "value_date": day_before_issue },
            { "project_id": "ELIGIBLE", "amount": (total - refinancing).to_string(), "use_of_funds": "financing",
              "expense": "capex", "value_date": period_end },
        ],
        "unallocated": { "amount": "0", "placement": "none (全額充当済み)" },
        // 億円 printed to one decimal: ¥10m.
        "rounding_unit": "10000000",
        "declared_fully_allocated": alloc["fully_allocated"],
    })).await);
    let report = &f["impact_reports"][0];
    let figures: Vec<Value> = report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|figure| {
            let fleet = fleets.iter().position(|x| x == text(&figure["projects"][0])).unwrap();
            json!({ "projects": [format!("FLEET-{fleet}")], "indicator": figure["indicator"],
                    "value": figure["value"], "unit": figure["unit_printed"], "basis": figure["basis"],
                    "attribution": figure["attribution"],
                    "methodology": figure["method_printed"], "baseline": "as published (not stated)" })
        })
        .collect();
    created(&t.monitor(&issuer, &bond, "impact-reports", "impact.report", "impact", json!({
        "period_start": report["period_start"], "period_end": report["period_end"], "basis": "ex_post",
        "figures": figures })).await);

    // Allocation, as published.
    let view = t
        .get(&format!("/v1/bonds/{bond}/allocation"), None)
        .await
        .json();
    assert_eq!(view["currency"], "JPY");
    assert_eq!(view["net_proceeds"], text(&f["bond"]["amount"]));
    assert_eq!(view["allocated"], text(&line["amount_yen"]));
    assert_eq!(view["refinancing"], text(&alloc["refinancing_total_yen"]));
    assert_eq!(view["financing"], (total - refinancing).to_string());
    assert_eq!(view["fully_allocated"], true, "{view}");
    assert_eq!(view["residual"], "0");
    assert_eq!(view["reports"][0]["period_end"], text(&alloc["period_end"]));
    // Impact, figure by figure: the value and unit as printed, the canonical value, the figure
    // as the whole fleet's (never pro-rated), no emission factor stated.
    let impact = t
        .get(&format!("/v1/bonds/{bond}/impact"), None)
        .await
        .json();
    let shown = impact["figures"].as_array().unwrap();
    let printed = report["figures"].as_array().unwrap();
    assert_eq!(shown.len(), printed.len());
    for (shown, printed) in shown.iter().zip(printed) {
        assert_eq!(shown["published_value"], printed["value"], "{shown}");
        assert_eq!(shown["published_unit"], printed["unit_printed"]);
        assert_eq!(shown["value"], printed["value"]);
        assert_eq!(shown["indicator"], printed["indicator"]);
        assert_eq!(shown["basis"], "ex_post");
        assert_eq!(shown["attribution"], "whole_project");
        assert_eq!(shown["bond_share"], Value::Null);
        assert_eq!(shown["emission_factor"], Value::Null);
        let unit = if printed["indicator"] == "ghg_avoided" {
            "tCO2e/yr"
        } else {
            "MW"
        };
        assert_eq!(shown["unit"], unit);
    }
    // Whole-fleet figures are not the bond's share: nothing is added up.
    assert_eq!(impact["total"], json!([]));
    // The projects keep their sub-categories.
    let projects = t
        .get(&format!("/v1/bonds/{bond}/projects"), None)
        .await
        .json();
    assert!(
        projects
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["category"] == "renewable_energy/hydro")
    );
    let eligible = projects
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["project_id"] == "ELIGIBLE")
        .unwrap();
    assert_eq!(
        (eligible["kind"].clone(), eligible["name"].clone()),
        (json!("portfolio"), line["project_ja"].clone())
    );

    // The same, as CSV.
    let csv = t
        .get(&format!("/v1/bonds/{bond}/allocation?format=csv"), None)
        .await;
    assert_eq!(csv.status, 200);
    let rows = csv_rows(&csv.text());
    assert!(
        rows.iter()
            .any(|r| r.contains(&refinancing.to_string()) && r.contains(&"refinancing".to_owned()))
    );
    let csv = t
        .get(&format!("/v1/bonds/{bond}/impact?format=csv"), None)
        .await
        .text();
    for printed in printed {
        assert!(
            csv.lines().any(|l| l.contains(&format!(
                ",{},{},",
                text(&printed["value"]),
                text(&printed["unit_printed"])
            ))),
            "{} {} in\n{csv}",
            printed["value"],
            printed["unit_printed"]
        );
    }
}

on_both!(
    hokkaido_electric_first_green_bond_reads_back_as_published,
    |t: TestApp| async move {
        hokkaido(&t, "hokkaido-electric-gb-1").await;
    }
);

on_both!(
    hokkaido_electric_second_green_bond_reads_back_as_published,
    |t: TestApp| async move {
        hokkaido(&t, "hokkaido-electric-gb-2").await;
    }
);

on_both!(
    hokkaido_electric_third_green_bond_reads_back_as_published,
    |t: TestApp| async move {
        hokkaido(&t, "hokkaido-electric-gb-3").await;
    }
);

on_both!(
    gunma_bank_green_bond_reads_back_as_published_on_its_real_dates,
    |t: TestApp| async move {
        let f = fixture("gunma-bank-gb-5");
        let alloc = &f["allocation_reports"][0];
        let spo = &f["reviews"][0];
        // Announced (and its second-party opinion cited) 2019-10-24.
        t.set_time(datetime!(2019-10-24 01:00 UTC));
        let issuer = t.party(Role::Issuer, "The Gunma Bank").await;
        let verifier = t.party(Role::Verifier, "Sustainalytics").await;
        let investor = t.party(Role::Investor, "Investor").await;
        // 手取金 9,950百万円 of 100億円: ¥50m of issuance costs (derived from the printed net
        // proceeds).
        let bond = t
            .register(
                &issuer,
                spec(
                    &f,
                    "100000000",
                    &[
                        "renewable_energy",
                        "energy_efficiency",
                        "clean_transportation",
                    ],
                    Some("50000000"),
                ),
            )
            .await;
        created(
            &t.monitor(
                &issuer,
                &bond,
                "reviewers",
                "review.engage",
                "engagement",
                json!({"verifier": verifier.id}),
            )
            .await,
        );
        created(
            &t.monitor(
                &verifier,
                &bond,
                "reviews",
                "review.submit",
                "review",
                json!({
            "review_id": "SPO-2019", "kind": "pre_issuance", "conclusion": "positive",
            "summary": spo["summary"], "published_on": spo["published_on"] }),
            )
            .await,
        );
        t.set_time(datetime!(2019-11-26 01:00 UTC));
        created(
            &t.op(
                &issuer,
                &bond,
                json!({"type": "token.issue",
            "allocations": [{"investor": investor.id, "quantity": "100"}]}),
            )
            .await,
        );
        let lines = alloc["lines"].as_array().unwrap();
        for (i, line) in lines.iter().enumerate() {
            project(
                &t,
                &issuer,
                &bond,
                &format!("LINE-{i}"),
                text(&line["project_ja"]),
                text(&line["category"]),
                text(&line["amount_yen"]),
            )
            .await;
        }
        // Published 2020-11-20 (TDnet), recorded that day.
        t.set_time(datetime!(2020-11-20 06:30 UTC));
        let period_end = text(&alloc["period_end"]);
        created(&t.monitor(&issuer, &bond, "allocation-reports", "allocation.report", "allocation", json!({
            "period_start": f["bond"]["issue_date"], "period_end": period_end,
            "lines": lines.iter().enumerate().map(|(i, l)| json!({
                "project_id": format!("LINE-{i}"), "amount": l["amount_yen"], "use_of_funds": l["use_of_funds"],
                "expense": "capex", "value_date": period_end })).collect::<Vec<_>>(),
            "unallocated": { "amount": alloc["unallocated_yen"], "placement": "not stated" },
            // 百万円.
            "rounding_unit": "1000000",
            "published_on": alloc["published_on"],
        })).await);

        let view = t
            .get(&format!("/v1/bonds/{bond}/allocation"), None)
            .await
            .json();
        assert_eq!(view["amount_raised"], "10000000000");
        assert_eq!(view["issuance_costs"], "50000000");
        assert_eq!(
            view["net_proceeds"], "9950000000",
            "the printed 手取金 9,950百万円"
        );
        let report = &view["reports"][0];
        assert_eq!(report["published_on"], "2020-11-20");
        assert_eq!(
            report["unallocated"],
            text(&alloc["unallocated_yen"]),
            "未充当残高 1,436百万円"
        );
        assert_eq!(report["rounding_unit"], "1000000");
        for (shown, printed) in report["lines"].as_array().unwrap().iter().zip(lines) {
            assert_eq!(shown["amount"], printed["amount_yen"]);
            assert_eq!(shown["use_of_funds"], printed["use_of_funds"]);
        }
        // The printed figures are each rounded: the exact balance differs from the printed one
        // by ¥2m, within one unit per figure.
        assert_eq!(view["unallocated"], "1438000000");
        assert_eq!(view["fully_allocated"], false);
        let projects = t
            .get(&format!("/v1/bonds/{bond}/projects"), None)
            .await
            .json();
        let categories: Vec<&str> = projects
            .as_array()
            .unwrap()
            .iter()
            .map(|p| text(&p["category"]))
            .collect();
        assert_eq!(
            categories,
            lines
                .iter()
                .map(|l| text(&l["category"]))
                .collect::<Vec<_>>()
        );
        let csv = t
            .get(&format!("/v1/bonds/{bond}/allocation?format=csv"), None)
            .await
            .text();
        for line in lines {
            assert!(
                csv.contains(&format!(",{},JPY,", text(&line["amount_yen"]))),
                "{csv}"
            );
        }

        // Its first anniversary, 2020-11-26, on the real timeline.
        t.set_time(datetime!(2020-11-26 01:00 UTC));
        let icma = t
            .get(&format!("/v1/bonds/{bond}/label?scheme=icma-gbp"), None)
            .await
            .json();
        // Reviewed before issue; its first allocation report, on the year to 2020-03-31, was
        // due 2021-03-31 and came 2020-11-20.
        assert_eq!(icma["status"], "allocating", "{icma}");
        let met = &icma["obligations"][0];
        assert_eq!(
            (
                met["year_end"].clone(),
                met["met_on"].clone(),
                met["days_late"].clone()
            ),
            (json!("2020-03-31"), json!("2020-11-20"), json!(0))
        );
        // The Osaka IFC label wants that report within six months of the fiscal year end
        // (2020-09-30): it came 51 days late.
        let osaka = t
            .get(&format!("/v1/bonds/{bond}/label?scheme=osaka-ifc"), None)
            .await
            .json();
        let allocation_report = osaka["obligations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == "allocation_report")
            .unwrap();
        assert_eq!(
            (
                allocation_report["due"].clone(),
                allocation_report["days_late"].clone()
            ),
            (json!("2020-09-30"), json!(51))
        );
    }
);
