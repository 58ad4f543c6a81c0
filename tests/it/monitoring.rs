//! Monitoring after issuance and certified labels, through the API on SQLite and PostgreSQL,
//! with the service's clock under the test's control (never the wall clock).

use midori::domain::party::Role;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::on_both;
use crate::support::*;

/// Send a signed monitoring payload (`type`, with `member` set to `value`) to `path`.
async fn monitor(
    t: &TestApp,
    party: &Party,
    bond: &str,
    path: &str,
    kind: &str,
    member: &str,
    value: Value,
) -> Reply {
    t.monitor(party, bond, path, kind, member, value).await
}

fn project(id: &str, category: &str, cost: &str, share: &str) -> Value {
    json!({
        "project_id": id, "name": format!("Project {id}"), "category": category,
        "sdg_targets": ["7.2", "13.1"], "country": "JP", "location": "Osaka Bay, Osaka",
        "total_cost": cost, "financing_share": share, "status": "building",
        "useful_life_years": "25"
    })
}

fn line(project: &str, amount: &str, use_of_funds: &str, value_date: &str) -> Value {
    json!({ "project_id": project, "amount": amount, "use_of_funds": use_of_funds,
            "expense": "capex", "value_date": value_date })
}

fn allocation(start: &str, end: &str, lines: Vec<Value>, unallocated: &str) -> Value {
    json!({ "period_start": start, "period_end": end, "lines": lines,
            "unallocated": { "amount": unallocated, "placement": "Japanese government bonds and bank deposits" } })
}

fn review(id: &str, kind: &str, conclusion: &str, report: Option<&str>) -> Value {
    let mut r = json!({ "review_id": id, "kind": kind, "conclusion": conclusion,
                        "summary": "Reviewed against ICMA GBP 2021 and the issuer's framework." });
    if let Some(i) = report {
        r["report_index"] = Value::String(i.to_owned());
    }
    r
}

fn impact(start: &str, end: &str) -> Value {
    json!({ "period_start": start, "period_end": end, "basis": "ex_post", "figures": [
        { "projects": ["SOLAR-1"], "indicator": "renewable_generation", "value": "12000",
          "unit": "MWh/yr", "methodology": "Metered generation at the grid connection point",
          "baseline": "No generation before commissioning" },
        { "projects": ["SOLAR-1"], "indicator": "ghg_avoided", "value": "5280", "unit": "tCO2e/yr",
          "methodology": "Generation × grid emission factor", "baseline": "Kansai grid mix",
          "emission_factor": { "value": "0.44", "unit": "tCO2e/MWh", "source": "Kansai Electric Power FY2022 adjusted factor" } },
        { "projects": ["EVBUS-1"], "indicator": "ghg_avoided", "value": "1600", "unit": "tCO2e/yr",
          "methodology": "Diesel bus emissions avoided per km", "baseline": "Diesel fleet 2024",
          "emission_factor": { "value": "0.00258", "unit": "tCO2e/l", "source": "MoE Japan calculation manual" } }
    ]})
}

async fn label(t: &TestApp, bond: &str) -> Value {
    let reply = t.get(&format!("/v1/bonds/{bond}/label"), None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

/// Osaka's ¥10bn green bond (10,000 tokens of ¥1m, issued 2025-06-20, maturing 2030-06-20),
/// with two investors holding 6,000 and 4,000 tokens.
async fn green_bond(t: &TestApp) -> (Party, String, Party, Party, Party) {
    t.set_time(datetime!(2025-05-01 01:00 UTC));
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
    let verifier = t.party(Role::Verifier, "Kansai Rating Review").await;
    let a = t.party(Role::Investor, "Kansai Pension Fund").await;
    let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
    let bond = t.register(&issuer, green_spec()).await;
    t.set_time(datetime!(2025-06-20 01:00 UTC));
    created(
        &t.op(
            &issuer,
            &bond,
            json!({"type": "token.issue", "allocations": [
                {"investor": a.id, "quantity": "6000"}, {"investor": b.id, "quantity": "4000"}]}),
        )
        .await,
    );
    (issuer, bond, verifier, a, b)
}

on_both!(
    a_green_label_follows_the_ledger_through_its_whole_life,
    |t: TestApp| async move {
        let (issuer, bond, verifier, a, _b) = green_bond(&t).await;
        assert_eq!(label(&t, &bond).await["status"], "draft");

        // A verifier the issuer has not engaged cannot review the bond.
        t.set_time(datetime!(2025-06-25 01:00 UTC));
        let reply = monitor(
            &t,
            &verifier,
            &bond,
            "reviews",
            "review.submit",
            "review",
            review("SPO-2025", "pre_issuance", "positive", None),
        )
        .await;
        assert_eq!(violation_codes(&reply), ["reviewer_not_engaged"]);
        created(
            &monitor(
                &t,
                &issuer,
                &bond,
                "reviewers",
                "review.engage",
                "engagement",
                json!({"verifier": verifier.id}),
            )
            .await,
        );

        // Second-party opinion before the label can be anything.
        created(
            &monitor(
                &t,
                &verifier,
                &bond,
                "reviews",
                "review.submit",
                "review",
                review("SPO-2025", "pre_issuance", "positive", None),
            )
            .await,
        );
        assert_eq!(label(&t, &bond).await["status"], "reviewed");

        // Projects: a solar plant (¥8bn, all financeable) and electric buses (¥4bn, at most
        // 50% from bonds: ¥2bn).
        for p in [
            project("SOLAR-1", "renewable_energy", "8000000000", "100"),
            project("EVBUS-1", "clean_transportation", "4000000000", "50"),
        ] {
            created(
                &monitor(
                    &t,
                    &issuer,
                    &bond,
                    "projects",
                    "project.register",
                    "project",
                    p,
                )
                .await,
            );
        }

        // First annual allocation report: ¥5bn + ¥1bn of ¥10bn; ¥4bn unallocated.
        t.set_time(datetime!(2026-04-30 01:00 UTC));
        let first = created(
            &monitor(
                &t,
                &issuer,
                &bond,
                "allocation-reports",
                "allocation.report",
                "allocation",
                allocation(
                    "2025-06-20",
                    "2026-03-31",
                    vec![
                        line("SOLAR-1", "5000000000", "financing", "2025-09-01"),
                        line("EVBUS-1", "1000000000", "financing", "2025-11-15"),
                    ],
                    "4000000000",
                ),
            )
            .await,
        );
        assert_eq!(first["entry_type"], "allocation.reported");
        assert_eq!(label(&t, &bond).await["status"], "allocating");
        // The Osaka IFC label asks for impact every fiscal year from the first (within six
        // months of its end), so the first annual report carries expected figures too.
        created(
            &monitor(
                &t,
                &issuer,
                &bond,
                "impact-reports",
                "impact.report",
                "impact",
                impact("2025-06-20", "2026-03-31"),
            )
            .await,
        );
        assert_eq!(label(&t, &bond).await["status"], "allocating");

        // Second report allocates the remaining ¥4bn: fully allocated.
        t.set_time(datetime!(2027-03-15 01:00 UTC));
        let second = created(
            &monitor(
                &t,
                &issuer,
                &bond,
                "allocation-reports",
                "allocation.report",
                "allocation",
                allocation(
                    "2026-04-01",
                    "2027-02-28",
                    vec![
                        line("SOLAR-1", "3000000000", "financing", "2026-06-30"),
                        line("EVBUS-1", "1000000000", "financing", "2026-10-01"),
                    ],
                    "0",
                ),
            )
            .await,
        );
        let allocation_view = t
            .get(&format!("/v1/bonds/{bond}/allocation"), None)
            .await
            .json();
        assert_eq!(allocation_view["net_proceeds"], "10000000000");
        assert_eq!(allocation_view["allocated"], "10000000000");
        assert_eq!(allocation_view["fully_allocated"], true);
        assert_eq!(label(&t, &bond).await["status"], "fully_allocated");

        // Post-issuance verification of the allocation, within 24 months of issue.
        t.set_time(datetime!(2027-05-31 01:00 UTC));
        let second_index = second["entry_index"].as_str().unwrap().to_owned();
        created(
            &monitor(
                &t,
                &verifier,
                &bond,
                "reviews",
                "review.submit",
                "review",
                review("VER-2027", "allocation", "positive", Some(&second_index)),
            )
            .await,
        );
        assert_eq!(label(&t, &bond).await["status"], "verified");

        // Impact report after full allocation: monitoring.
        t.set_time(datetime!(2027-09-30 01:00 UTC));
        created(
            &monitor(
                &t,
                &issuer,
                &bond,
                "impact-reports",
                "impact.report",
                "impact",
                impact("2026-04-01", "2027-03-31"),
            )
            .await,
        );
        assert_eq!(label(&t, &bond).await["status"], "monitoring");

        // The bond financed all of SOLAR-1's ¥8bn and ¥2bn of EVBUS-1's ¥4bn: it claims
        // 100% of the plant's figures and 50% of the buses'.
        let bond_impact = t
            .get(&format!("/v1/bonds/{bond}/impact"), None)
            .await
            .json();
        let total = |j: &Value, indicator: &str| -> String {
            j.as_array()
                .unwrap()
                .iter()
                .find(|f| f["indicator"] == indicator)
                .unwrap()["value"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            total(&bond_impact["total"], "renewable_generation"),
            "12000"
        );
        // 5,280 (solar, 8bn/8bn) + 1,600 × 2bn/4bn (buses) = 6,080 tCO2e/yr.
        assert_eq!(total(&bond_impact["total"], "ghg_avoided"), "6080");
        assert_eq!(
            total(
                &bond_impact["by_category"]["clean_transportation"],
                "ghg_avoided"
            ),
            "800"
        );
        // Investor A holds 6,000 of 10,000 tokens: 60% of 6,080 = 3,648 tCO2e/yr.
        let mine = t
            .get(&format!("/v1/parties/{}/impact", a.id), Some(&a.token))
            .await;
        assert_eq!(mine.status, 200, "{}", mine.text());
        assert_eq!(total(&mine.json()[0]["figures"], "ghg_avoided"), "3648");

        // The next impact report, on the fiscal year to 2028-03-31, is due six months after it
        // ends (2028-09-30). Nothing arrives: overdue the day after, suspended after 90 days
        // of grace.
        t.set_time(datetime!(2028-10-15 01:00 UTC));
        let now = label(&t, &bond).await;
        assert_eq!(now["status"], "overdue", "{now}");
        assert_eq!(now["scheme"]["id"], "osaka-ifc");
        t.app.refresh_all_labels().await.unwrap();
        // Under the ICMA Principles nothing is due once the proceeds are allocated.
        let icma = t
            .get(&format!("/v1/bonds/{bond}/label?scheme=icma-gbp"), None)
            .await
            .json();
        assert_eq!(icma["status"], "monitoring", "{icma}");
        t.set_time(datetime!(2029-01-10 01:00 UTC));
        assert_eq!(label(&t, &bond).await["status"], "suspended");
        t.app.refresh_all_labels().await.unwrap();
        // The standing on a past day, unsigned.
        let then = t
            .get(&format!("/v1/bonds/{bond}/label?on=2027-10-01"), None)
            .await
            .json();
        assert_eq!(
            (
                then["status"].clone(),
                then["on"].clone(),
                then["jws"].clone()
            ),
            (json!("monitoring"), json!("2027-10-01"), Value::Null)
        );

        // A late report cures it.
        t.set_time(datetime!(2029-01-15 01:00 UTC));
        created(
            &monitor(
                &t,
                &issuer,
                &bond,
                "impact-reports",
                "impact.report",
                "impact",
                impact("2027-04-01", "2028-03-31"),
            )
            .await,
        );
        assert_eq!(label(&t, &bond).await["status"], "monitoring");
        // Figures are annual: the bond's impact is the latest year's, never a sum of years.
        let bond_impact = t
            .get(&format!("/v1/bonds/{bond}/impact"), None)
            .await
            .json();
        assert_eq!(total(&bond_impact["total"], "ghg_avoided"), "6080");
        // A second report of the same year is refused: it would count the figures twice.
        let reply = monitor(
            &t,
            &issuer,
            &bond,
            "impact-reports",
            "impact.report",
            "impact",
            impact("2027-04-01", "2028-03-31"),
        )
        .await;
        assert_eq!(violation_codes(&reply), ["period_overlaps"]);

        // A verifier finds misallocation: revoked, and revocation is final.
        t.set_time(datetime!(2029-02-01 01:00 UTC));
        created(
            &monitor(
                &t,
                &verifier,
                &bond,
                "reviews",
                "review.submit",
                "review",
                review("VER-2028", "allocation", "negative", Some(&second_index)),
            )
            .await,
        );
        let revoked = label(&t, &bond).await;
        assert_eq!(revoked["status"], "revoked");

        // Every change is a ledger entry, with the date it took effect; each label (scheme) has
        // its own.
        let history = t
            .get(
                &format!("/v1/bonds/{bond}/label/history?scheme=osaka-ifc"),
                None,
            )
            .await
            .json();
        let steps: Vec<(String, String)> = history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["status"].as_str().unwrap().to_owned(),
                    h["effective_on"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = [
            ("draft", "2025-05-01"),
            ("reviewed", "2025-06-25"),
            ("allocating", "2026-04-30"),
            ("fully_allocated", "2027-03-15"),
            ("verified", "2027-05-31"),
            ("monitoring", "2027-09-30"),
            ("overdue", "2028-10-01"),
            ("suspended", "2028-12-30"),
            ("monitoring", "2029-01-15"),
            ("revoked", "2029-02-01"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(steps, expected);
        let icma_history = t
            .get(
                &format!("/v1/bonds/{bond}/label/history?scheme=icma-gbp"),
                None,
            )
            .await
            .json();
        let icma_steps: Vec<&str> = icma_history
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            icma_steps,
            [
                "draft",
                "declared",
                "reviewed",
                "allocating",
                "fully_allocated",
                "verified",
                "monitoring",
                "revoked"
            ]
        );

        // The JWS verifies with an off-the-shelf JOSE library and the published JWK Set...
        let token = revoked["jws"].as_str().unwrap();
        let jwks = t.jwks().await;
        let header = jsonwebtoken::decode_header(token).unwrap();
        let jwk = jwks
            .iter()
            .find(|k| k.kid.as_deref() == header.kid.as_deref())
            .unwrap();
        let key = jsonwebtoken::DecodingKey::from_ed_components(&jwk.x).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], bond.as_str());
        assert_eq!(claims["label"]["status"], "revoked");
        assert_eq!(claims["label"]["evidence"]["revoked_by"], "VER-2028");
        assert_eq!(claims["label"]["scheme"]["id"], "osaka-ifc");
        assert_eq!(
            claims["label"]["scheme"]["sha256"].as_str().unwrap().len(),
            64
        );
        assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());

        // ...and the service's own check agrees; an altered token does not verify.
        let check = t
            .post("/v1/labels/verify", None, json!({ "jws": token }))
            .await
            .json();
        assert_eq!(
            (check["signature_valid"].clone(), check["current"].clone()),
            (json!(true), json!(true))
        );
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = midori::ledger::canon::b64url(
            serde_json::to_string(&json!({"iss": claims["iss"], "sub": bond, "iat": 1, "exp": 9_999_999_999i64, "label": {"status": "monitoring"}})).unwrap().as_bytes());
        let forged = t
            .post("/v1/labels/verify", None, json!({ "jws": parts.join(".") }))
            .await
            .json();
        assert_eq!(forged["signature_valid"], false);

        // Public lists by label status.
        let revoked_list = t.get("/v1/labels?status=revoked", None).await.json();
        assert_eq!(revoked_list["items"].as_array().unwrap().len(), 1);
        assert_eq!(revoked_list["items"][0]["bond_id"], bond.as_str());
        assert_eq!(
            t.get("/v1/labels?status=monitoring", None).await.json()["items"],
            json!([])
        );

        // The export, with its monitoring and label entries, still verifies offline.
        let (export, verified) = t.export_and_verify(&bond, &issuer.token).await;
        verified.unwrap();
        // registration, issuance, the engagement, 3 reviews, 2 projects, 2 allocation and 3 impact reports,
        // and the 10 + 8 label changes of the two labels.
        assert_eq!(export.lines().count(), 31);
    }
);

on_both!(
    allocation_rules_refuse_what_the_standards_forbid,
    |t: TestApp| async move {
        let (issuer, bond, verifier, _a, _b) = green_bond(&t).await;
        for p in [
            project("SOLAR-1", "renewable_energy", "8000000000", "100"),
            project("EVBUS-1", "clean_transportation", "4000000000", "50"),
        ] {
            created(
                &monitor(
                    &t,
                    &issuer,
                    &bond,
                    "projects",
                    "project.register",
                    "project",
                    p,
                )
                .await,
            );
        }
        // A category outside the framework.
        let reply = monitor(
            &t,
            &issuer,
            &bond,
            "projects",
            "project.register",
            "project",
            project("FARM-1", "affordable_housing", "1000000", "100"),
        )
        .await;
        assert_eq!(violation_codes(&reply), ["category_not_in_framework"]);

        t.set_time(datetime!(2026-04-30 01:00 UTC));
        let send = |a: Value| {
            monitor(
                &t,
                &issuer,
                &bond,
                "allocation-reports",
                "allocation.report",
                "allocation",
                a,
            )
        };
        // Every broken rule at once: EVBUS-1 beyond cost × share (¥2bn), refinancing beyond
        // the framework's 3-year look-back, a period that does not start on the issue date,
        // and an unallocated balance that does not add up.
        let reply = send(allocation(
            "2025-07-01",
            "2026-03-31",
            vec![
                line("EVBUS-1", "2500000000", "financing", "2025-08-01"),
                line("SOLAR-1", "100000000", "refinancing", "2021-01-01"),
            ],
            "0",
        ))
        .await;
        assert_eq!(
            violation_codes(&reply),
            [
                "double_counting",
                "period_not_contiguous",
                "refinancing_beyond_look_back",
                "unallocated_mismatch",
            ]
        );
        // More than the ¥10bn of net proceeds.
        let reply = send(allocation(
            "2025-06-20",
            "2026-03-31",
            vec![
                line("SOLAR-1", "8000000000", "financing", "2025-08-01"),
                line("EVBUS-1", "2000000000", "financing", "2025-08-01"),
                line("SOLAR-1", "500000000", "financing", "2025-09-01"),
            ],
            "0",
        ))
        .await;
        assert!(violation_codes(&reply).contains(&"over_allocated".to_owned()));
        // A first period longer than twenty-four months, and one not yet ended.
        let reply = send(allocation(
            "2025-06-20",
            "2027-06-20",
            vec![],
            "10000000000",
        ))
        .await;
        assert_eq!(
            violation_codes(&reply),
            ["period_not_ended", "period_too_long"]
        );

        // A valid report, then its correction: the correction replaces it.
        let first = created(
            &send(allocation(
                "2025-06-20",
                "2026-03-31",
                vec![line("SOLAR-1", "1000000000", "financing", "2025-08-01")],
                "9000000000",
            ))
            .await,
        );
        let index = first["entry_index"].as_str().unwrap();
        let mut fix = allocation(
            "2025-06-20",
            "2026-03-31",
            vec![line("SOLAR-1", "1200000000", "financing", "2025-08-01")],
            "8800000000",
        );
        fix["amends"] = json!(index);
        created(&send(fix).await);
        let view = t
            .get(&format!("/v1/bonds/{bond}/allocation"), None)
            .await
            .json();
        assert_eq!(view["allocated"], "1200000000");
        let in_force: Vec<bool> = view["reports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["in_force"].as_bool().unwrap())
            .collect();
        assert_eq!(in_force, [false, true]);

        // A second bond of the same issuer cannot finance the same buses beyond ¥2bn in all,
        // nor register the project with another cost.
        t.set_time(datetime!(2026-05-01 01:00 UTC));
        let mut spec = green_spec();
        spec["name"] = json!("Osaka Prefecture Green Bond 2026");
        spec["issue_date"] = json!("2026-05-01");
        spec["maturity_date"] = json!("2031-05-01");
        let other = t.register(&issuer, spec).await;
        created(&t.op(&issuer, &other, json!({"type": "token.issue", "allocations": [{"investor": _a.id, "quantity": "5000"}]})).await);
        let reply = monitor(
            &t,
            &issuer,
            &other,
            "projects",
            "project.register",
            "project",
            project("EVBUS-1", "clean_transportation", "5000000000", "50"),
        )
        .await;
        assert_eq!(violation_codes(&reply), ["project_differs_elsewhere"]);
        created(
            &monitor(
                &t,
                &issuer,
                &other,
                "projects",
                "project.register",
                "project",
                project("EVBUS-1", "clean_transportation", "4000000000", "50"),
            )
            .await,
        );
        created(
            &monitor(
                &t,
                &issuer,
                &bond,
                "allocation-reports",
                "allocation.report",
                "allocation",
                allocation(
                    "2026-04-01",
                    "2026-04-30",
                    vec![line("EVBUS-1", "1500000000", "financing", "2026-04-10")],
                    "7300000000",
                ),
            )
            .await,
        );
        t.set_time(datetime!(2026-06-01 01:00 UTC));
        let reply = monitor(
            &t,
            &issuer,
            &other,
            "allocation-reports",
            "allocation.report",
            "allocation",
            allocation(
                "2026-05-01",
                "2026-05-31",
                vec![line("EVBUS-1", "600000000", "financing", "2026-05-10")],
                "4400000000",
            ),
        )
        .await;
        assert_eq!(violation_codes(&reply), ["double_counting"]);
        created(
            &monitor(
                &t,
                &issuer,
                &other,
                "allocation-reports",
                "allocation.report",
                "allocation",
                allocation(
                    "2026-05-01",
                    "2026-05-31",
                    vec![line("EVBUS-1", "500000000", "financing", "2026-05-10")],
                    "4500000000",
                ),
            )
            .await,
        );

        // The label list pages by cursor.
        let first = t.get("/v1/labels?limit=1", None).await.json();
        assert_eq!(first["items"].as_array().unwrap().len(), 1);
        let next = first["next"].as_str().unwrap();
        let second = t
            .get(&format!("/v1/labels?limit=1&after={next}"), None)
            .await
            .json();
        let ids = [
            &first["items"][0]["bond_id"],
            &second["items"][0]["bond_id"],
        ];
        assert_eq!(ids, [&json!(bond), &json!(other)]);

        // Roles: a verifier cannot report, an issuer cannot review, an investor neither.
        let reply = monitor(
            &t,
            &verifier,
            &bond,
            "allocation-reports",
            "allocation.report",
            "allocation",
            allocation("2026-05-01", "2026-05-31", vec![], "7300000000"),
        )
        .await;
        reply.problem(403, "forbidden");
        let reply = monitor(
            &t,
            &issuer,
            &bond,
            "reviews",
            "review.submit",
            "review",
            review("SELF", "pre_issuance", "positive", None),
        )
        .await;
        reply.problem(403, "forbidden");

        // Unit-checked impact figures.
        let reply = monitor(&t, &issuer, &bond, "impact-reports", "impact.report", "impact", json!({
            "period_start": "2025-06-20", "period_end": "2026-03-31", "basis": "ex_post", "figures": [
            { "projects": ["SOLAR-1"], "indicator": "renewable_generation", "value": "1", "unit": "MW",
              "methodology": "m", "baseline": "b" },
            { "projects": ["SOLAR-1"], "indicator": "ghg_avoided", "value": "1", "unit": "tCO2e/yr",
              "methodology": "m", "baseline": "b" }]})).await;
        let body = reply.problem(422, "validation-failed");
        let codes: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        // Energy in a unit of power is refused; a GHG figure without its emission factor is
        // accepted (recommended, not required) and shown as such.
        assert_eq!(codes, ["wrong_unit"]);
    }
);

/// The (pointer, code) pairs of a 422 validation-failed problem.
#[track_caller]
fn field_errors(reply: &Reply) -> Vec<(String, String)> {
    reply.problem(422, "validation-failed")["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

on_both!(
    label_schemes_are_published_rulebooks_and_a_bond_names_its_own,
    |t: TestApp| async move {
        let schemes = t.get("/v1/label-schemes", None).await;
        assert_eq!(schemes.status, 200, "{}", schemes.text());
        let ids: Vec<String> = schemes
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, ["icma-gbp", "jp-moe", "eu-gbs", "cbi", "osaka-ifc"]);
        let osaka = t.get("/v1/label-schemes/osaka-ifc", None).await.json();
        assert_eq!(osaka["pre_issuance_review"]["required"], true);
        assert_eq!(
            osaka["impact_reporting"]["frequency"],
            "annually_until_maturity"
        );
        assert_eq!(osaka["sha256"].as_str().unwrap().len(), 64);
        assert!(!osaka["grace"]["source"].as_str().unwrap().is_empty());
        t.get("/v1/label-schemes/nope", None)
            .await
            .problem(404, "not-found");

        // Unknown, repeated and malformed scheme terms are refused field by field.
        t.set_time(datetime!(2025-05-01 01:00 UTC));
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let mut spec = green_spec();
        spec["label_schemes"] = json!(["osaka-ifc", "gold-standard", "osaka-ifc"]);
        spec["fiscal_year_end"] = json!("02-29");
        let reply = t
            .post(
                "/v1/bonds",
                Some(&issuer.token),
                issuer.sign(json!({"type": "bond.register", "bond": spec})),
            )
            .await;
        assert_eq!(
            field_errors(&reply),
            [
                (
                    "/payload/bond/label_schemes/1".to_owned(),
                    "unknown_scheme".to_owned()
                ),
                (
                    "/payload/bond/label_schemes/2".to_owned(),
                    "duplicate_scheme".to_owned()
                ),
                (
                    "/payload/bond/fiscal_year_end".to_owned(),
                    "invalid_year_end".to_owned()
                ),
            ]
        );
    }
);

on_both!(
    a_bond_issued_years_ago_is_brought_on_with_its_real_dates,
    |t: TestApp| async move {
        // Registered in 2027, two years after its issue on 2025-06-20.
        let (issuer, bond, verifier, _a, _b) = green_bond(&t).await;
        t.set_time(datetime!(2027-07-01 01:00 UTC));
        created(
            &monitor(
                &t,
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
            &monitor(
                &t,
                &issuer,
                &bond,
                "projects",
                "project.register",
                "project",
                project("SOLAR-1", "renewable_energy", "8000000000", "100"),
            )
            .await,
        );
        // A second-party opinion published two years ago, recorded now without its document:
        // refused, naming the field.
        let mut spo = review("SPO-2025", "pre_issuance", "positive", None);
        spo["published_on"] = json!("2025-05-30");
        let reply = monitor(
            &t,
            &verifier,
            &bond,
            "reviews",
            "review.submit",
            "review",
            spo.clone(),
        )
        .await;
        assert_eq!(
            field_errors(&reply),
            [(
                "/payload/review/published_document".to_owned(),
                "required_when_recorded_late".to_owned()
            )]
        );
        let document = json!({"uri": "https://review.example/spo-2025.pdf",
                              "sha256": "5f".repeat(32)});
        spo["published_document"] = document.clone();
        created(
            &monitor(
                &t,
                &verifier,
                &bond,
                "reviews",
                "review.submit",
                "review",
                spo,
            )
            .await,
        );

        // The first annual report, published 2026-06-30 (within six months of the fiscal year
        // end), allocating everything.
        let mut report = allocation(
            "2025-06-20",
            "2026-03-31",
            vec![line("SOLAR-1", "8000000000", "financing", "2025-09-01")],
            "2000000000",
        );
        report["published_on"] = json!("2026-06-30");
        report["published_document"] = document.clone();
        created(
            &monitor(
                &t,
                &issuer,
                &bond,
                "allocation-reports",
                "allocation.report",
                "allocation",
                report,
            )
            .await,
        );
        // Published before the period ended, or after today: refused.
        let mut early = allocation("2026-04-01", "2027-03-31", vec![], "2000000000");
        early["published_on"] = json!("2027-03-30");
        early["published_document"] = document.clone();
        let reply = monitor(
            &t,
            &issuer,
            &bond,
            "allocation-reports",
            "allocation.report",
            "allocation",
            early.clone(),
        )
        .await;
        assert_eq!(violation_codes(&reply), ["period_not_ended"]);
        early["published_on"] = json!("2027-07-02");
        let reply = monitor(
            &t,
            &issuer,
            &bond,
            "allocation-reports",
            "allocation.report",
            "allocation",
            early,
        )
        .await;
        assert_eq!(violation_codes(&reply), ["published_in_future"]);

        // The standing on past days, as if each fact had been recorded on its day.
        let on = |day: &'static str| {
            let t = &t;
            let bond = bond.clone();
            async move {
                let reply = t
                    .get(&format!("/v1/bonds/{bond}/label?on={day}"), None)
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.text());
                reply.json()
            }
        };
        assert_eq!(on("2025-05-29").await["status"], "draft");
        assert_eq!(on("2025-05-30").await["status"], "reviewed");
        let year_one = on("2026-06-30").await;
        assert_eq!(year_one["status"], "allocating");
        assert_eq!(year_one["jws"], Value::Null);
        let met = &year_one["obligations"][0];
        assert_eq!(
            (
                met["kind"].clone(),
                met["year_end"].clone(),
                met["due"].clone(),
                met["met_on"].clone(),
                met["met_recorded_on"].clone(),
                met["recorded_late"].clone(),
                met["days_late"].clone()
            ),
            (
                json!("allocation_report"),
                json!("2026-03-31"),
                json!("2026-09-30"),
                json!("2026-06-30"),
                json!("2027-07-01"),
                json!(true),
                json!(0)
            )
        );
        // The Osaka IFC label wanted an impact report on that year by 2026-09-30: none.
        assert_eq!(on("2026-10-01").await["status"], "overdue");
        assert_eq!(on("2026-12-30").await["status"], "suspended");
        // Under the ICMA Principles the bond has been in good standing throughout.
        let icma = t
            .get(
                &format!("/v1/bonds/{bond}/label?on=2026-12-30&scheme=icma-gbp"),
                None,
            )
            .await
            .json();
        assert_eq!(icma["status"], "allocating", "{icma}");
        assert_eq!(icma["scheme"]["id"], "icma-gbp");

        // Days and schemes that cannot be asked for.

        t.get(&format!("/v1/bonds/{bond}/label?on=2027-02-30"), None)
            .await
            .problem(400, "bad-request");
        t.get(&format!("/v1/bonds/{bond}/label?scheme=cbi"), None)
            .await
            .problem(404, "not-found");
        t.get(&format!("/v1/bonds/{bond}/label?scheme=nope"), None)
            .await
            .problem(400, "bad-request");
        // Today's standing is signed and names its scheme.
        let today = label(&t, &bond).await;
        assert!(today["jws"].is_string());
        assert_eq!(today["schemes"], json!(["osaka-ifc", "icma-gbp"]));
        // The list filters by scheme.
        let listed = t.get("/v1/labels?scheme=icma-gbp", None).await.json();
        assert_eq!(listed["items"][0]["scheme"], "icma-gbp");
        assert_eq!(
            t.get("/v1/labels?scheme=cbi", None).await.json()["items"],
            json!([])
        );
    }
);
