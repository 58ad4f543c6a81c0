//! The bond registry: signed registration, validation that names every bad field, replay
//! and signature refusals, public reads with filters and cursors.

use midori::domain::party::Role;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::*;

on_both!(
    an_issuer_registers_a_signed_green_bond_as_entry_zero_of_its_ledger,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let reply = t
            .post(
                "/v1/bonds",
                Some(&issuer.token),
                issuer.sign(json!({"type": "bond.register", "bond": green_spec()})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let body = reply.json();
        assert_eq!(body["entry_index"], "0");
        assert_eq!(body["bond"]["issuer_id"], issuer.id);
        assert_eq!(body["bond"]["ledger"]["size"], "1");
        assert_eq!(body["bond"]["terms"]["kind"], "green");
        let id = body["bond"]["id"].as_str().unwrap();
        assert!(
            body["checkpoint"]
                .as_str()
                .unwrap()
                .starts_with(&format!("midori.test/bonds/{id}\n1\n"))
        );

        let entries = t
            .get(
                &format!("/v1/bonds/{id}/ledger/entries"),
                Some(&issuer.token),
            )
            .await
            .json();
        let entry = &entries["entries"][0];
        assert_eq!(entry["type"], "bond.registered");
        assert_eq!(entry["index"], "0");
        assert_eq!(entry["actor"]["party"], issuer.id);
        assert_eq!(entry["actor"]["jwk"]["kid"], issuer.kid());
        assert_eq!(
            entry["request"]["payload"]["bond"]["name"],
            green_spec()["name"]
        );
        assert!(entry["countersignature"]["sig"].is_string());

        let public = t.get(&format!("/v1/bonds/{id}"), None).await;
        assert_eq!(public.status, 200);
        assert_eq!(public.json()["terms"], body["bond"]["terms"]);
    }
);

on_both!(
    an_invalid_bond_is_refused_with_every_offending_field_named,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let mut spec = green_spec();
        spec["maturity_date"] = json!("2020-01-01"); // before the issue date
        spec["isin"] = json!("JP3633400002"); // wrong check digit
        spec["denomination"] = json!("1000.125"); // JPY has no minor unit
        spec["framework"]["categories"] = json!(["affordable_housing"]); // social category on a green bond
        spec["framework"]["sdg_targets"] = json!(["7.9"]); // no such target
        let reply = t
            .post(
                "/v1/bonds",
                Some(&issuer.token),
                issuer.sign(json!({"type": "bond.register", "bond": spec})),
            )
            .await;
        let problem = reply.problem(422, "validation-failed");
        let pointers: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap())
            .collect();
        for expected in [
            "/payload/bond/maturity_date",
            "/payload/bond/isin",
            "/payload/bond/denomination",
            "/payload/bond/framework/categories/0",
            "/payload/bond/framework/sdg_targets/0",
        ] {
            assert!(
                pointers.contains(&expected),
                "{expected} missing from {pointers:?}"
            );
        }
        // Nothing was written.
        assert_eq!(
            t.get("/v1/bonds", None).await.json()["items"]
                .as_array()
                .unwrap()
                .len(),
            0
        );
    }
);

on_both!(
    a_social_bond_without_target_population_is_refused,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka City").await;
        let mut spec: Value =
            serde_json::to_value(midori::domain::bond::examples::social()).unwrap();
        spec["framework"]["target_populations"] = json!([]);
        let reply = t
            .post(
                "/v1/bonds",
                Some(&issuer.token),
                issuer.sign(json!({"type": "bond.register", "bond": spec})),
            )
            .await;
        let problem = reply.problem(422, "validation-failed");
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["code"] == "social_without_target_population"),
            "{problem}"
        );
    }
);

on_both!(
    a_replayed_request_is_refused_and_not_applied_twice,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let signed = issuer.sign(json!({"type": "bond.register", "bond": green_spec()}));
        assert_eq!(
            t.post("/v1/bonds", Some(&issuer.token), signed.clone())
                .await
                .status,
            201
        );
        t.post("/v1/bonds", Some(&issuer.token), signed)
            .await
            .problem(409, "nonce-replayed");
        assert_eq!(
            t.get("/v1/bonds", None).await.json()["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
);

on_both!(
    a_tampered_or_foreign_signature_is_refused,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let other = t.party(Role::Issuer, "Sakai City").await;
        let mut signed = issuer.sign(json!({"type": "bond.register", "bond": green_spec()}));
        signed["payload"]["bond"]["issue_size"] = json!("99999");
        t.post("/v1/bonds", Some(&issuer.token), signed)
            .await
            .problem(422, "signature-invalid");
        // Signed by another party's key, sent with this party's API key.
        let foreign = other.sign(json!({"type": "bond.register", "bond": green_spec()}));
        t.post("/v1/bonds", Some(&issuer.token), foreign)
            .await
            .problem(422, "signature-invalid");
        // The wrong operation type for the endpoint.
        let wrong = issuer.sign(json!({"type": "bond.add_document", "bond": green_spec()}));
        t.post("/v1/bonds", Some(&issuer.token), wrong)
            .await
            .problem(422, "validation-failed");
        // Unknown fields in the signed payload.
        let extra =
            issuer.sign(json!({"type": "bond.register", "bond": green_spec(), "extra": "1"}));
        t.post("/v1/bonds", Some(&issuer.token), extra)
            .await
            .problem(422, "validation-failed");
    }
);

on_both!(a_duplicate_isin_is_a_conflict, |t: TestApp| async move {
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
    let mut spec = green_spec();
    spec["isin"] = json!("JP3633400001");
    t.register(&issuer, spec.clone()).await;
    let reply = t
        .post(
            "/v1/bonds",
            Some(&issuer.token),
            issuer.sign(json!({"type": "bond.register", "bond": spec})),
        )
        .await;
    reply.problem(409, "conflict");
});

on_both!(
    bonds_are_listed_with_filters_and_cursor_pages,
    |t: TestApp| async move {
        let osaka = t.party(Role::Issuer, "Osaka Prefecture").await;
        let city = t.party(Role::Issuer, "Osaka City").await;
        let examples = midori::domain::bond::examples::all();
        for spec in &examples {
            t.register(&osaka, serde_json::to_value(spec).unwrap())
                .await;
        }
        t.register(&city, green_spec()).await;
        let total = examples.len() + 1;

        let all = t.get("/v1/bonds?limit=200", None).await.json();
        assert_eq!(all["items"].as_array().unwrap().len(), total);
        let green = t.get("/v1/bonds?kind=green", None).await.json();
        assert!(
            green["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["terms"]["kind"] == "green")
        );
        assert_eq!(
            green["items"].as_array().unwrap().len(),
            examples
                .iter()
                .filter(|s| s.kind == midori::domain::bond::BondKind::Green)
                .count()
                + 1
        );
        let by_city = t
            .get(&format!("/v1/bonds?issuer={}", city.id), None)
            .await
            .json();
        assert_eq!(by_city["items"].as_array().unwrap().len(), 1);
        let renewable = t
            .get("/v1/bonds?category=renewable_energy", None)
            .await
            .json();
        assert!(!renewable["items"].as_array().unwrap().is_empty());
        assert!(renewable["items"].as_array().unwrap().iter().all(|b| {
            b["terms"]["framework"]["categories"]
                .as_array()
                .unwrap()
                .contains(&json!("renewable_energy"))
        }));
        let goal7 = t.get("/v1/bonds?sdg_goal=7", None).await.json();
        assert!(goal7["items"].as_array().unwrap().iter().all(|b| {
            b["terms"]["framework"]["sdg_targets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s.as_str().unwrap().starts_with("7."))
        }));

        // Walk the pages two at a time: every bond once, in order.
        let mut seen = Vec::new();
        let mut path = "/v1/bonds?limit=2".to_owned();
        loop {
            let page = t.get(&path, None).await.json();
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b["id"].as_str().unwrap().to_owned()),
            );
            match page["next"].as_str() {
                Some(next) => path = format!("/v1/bonds?limit=2&after={next}"),
                None => break,
            }
        }
        let ids: Vec<String> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(seen, ids);

        t.get("/v1/bonds?kind=brown", None)
            .await
            .problem(400, "bad-request");
        t.get("/v1/bonds?sdg_goal=18", None)
            .await
            .problem(400, "bad-request");
    }
);
