//! What a caller may not read never reaches it: the dry-run and a party's history as seen by
//! parties that may not read the bond's register (regressions of the probes in the trust
//! issue: balances, freezes, KYC, pending transfers and the existence of other parties).

use midori::domain::party::Role;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::*;

/// A bond with holders A (5,500) and B (3,500), an outsider investor O holding nothing, another
/// issuer and an unengaged verifier.
struct World {
    issuer: Party,
    bond: String,
    a: Party,
    b: Party,
    outsider: Party,
    other_issuer: Party,
    verifier: Party,
}

async fn world(t: &TestApp) -> World {
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
    let bond = t.register(&issuer, green_spec()).await;
    let a = t.party(Role::Investor, "Kansai Pension Fund").await;
    let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
    let reply = t
        .op(
            &issuer,
            &bond,
            json!({"type": "token.issue", "allocations": [
                {"investor": a.id, "quantity": "5500"}, {"investor": b.id, "quantity": "3500"}]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    World {
        outsider: t.party(Role::Investor, "Sakai Credit Union").await,
        other_issuer: t.party(Role::Issuer, "Kobe City").await,
        verifier: t.party(Role::Verifier, "Kansai Green Review").await,
        issuer,
        bond,
        a,
        b,
    }
}

/// Everything another party's figures or ids could show up as, and `words` besides.
#[track_caller]
fn names_nobody_else(answer: &Value, others: &[&Party], words: &[&str]) {
    let text = answer.to_string();
    for party in others {
        assert!(!text.contains(&party.id), "{} named in {text}", party.id);
    }
    for figure in ["5500", "3500", "9000"].iter().chain(words) {
        assert!(!text.contains(figure), "{figure:?} in {text}");
    }
}

/// What an answer about someone else's position or identity would mention.
const ABOUT_OTHERS: &[&str] = &["holders", "frozen", "kyc", "KYC", "registered", "category"];

on_both!(
    a_dry_run_by_a_party_that_may_not_read_the_register_names_no_other_party,
    |t: TestApp| async move {
        let w = world(&t).await;
        let unknown = uuid::Uuid::now_v7().to_string();
        for caller in [&w.outsider, &w.other_issuer, &w.verifier, &w.a] {
            // Issuer-only operations about A's position: refused as such, and nothing else.
            for payload in [
                json!({"type": "token.freeze", "holder": w.a.id, "quantity": "6000", "reason": "court order"}),
                json!({"type": "token.force_transfer", "from": w.a.id, "to": w.b.id, "quantity": "9999", "reason": "court order"}),
                json!({"type": "token.issue", "allocations": [{"investor": w.a.id, "quantity": "1"}, {"investor": w.a.id, "quantity": "1"}]}),
            ] {
                let verdict = t.check(caller, &w.bond, payload.clone()).await;
                assert_eq!(verdict["allowed"], false, "{payload}");
                let codes: Vec<&str> = verdict["violations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["code"].as_str().unwrap())
                    .collect();
                assert_eq!(codes, ["not_issuer"], "{verdict}");
                names_nobody_else(&verdict, &[&w.b, &w.outsider], ABOUT_OTHERS);
            }
        }
        // The caller's own transfer to a party that does not exist, and to one that does:
        // the same answer, about the receiver, naming neither.
        let to_nobody = t
            .check(
                &w.outsider,
                &w.bond,
                json!({"type": "token.transfer", "to": unknown, "quantity": "1"}),
            )
            .await;
        let to_verifier = t
            .check(
                &w.outsider,
                &w.bond,
                json!({"type": "token.transfer", "to": w.verifier.id, "quantity": "1"}),
            )
            .await;
        assert_eq!(to_nobody["violations"], to_verifier["violations"]);
        let codes: Vec<&str> = to_nobody["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["insufficient_balance", "receiver_not_eligible"]);
        // Its own position it may read ("0 frozen"); about the receiver, nothing.
        names_nobody_else(
            &to_nobody,
            &[&w.a, &w.b, &w.verifier],
            &["kyc", "KYC", "registered", "category", "investor"],
        );

        // A holder learns about its own position, as before.
        let own = t
            .check(
                &w.a,
                &w.bond,
                json!({"type": "token.transfer", "to": w.b.id, "quantity": "7000"}),
            )
            .await;
        assert!(own.to_string().contains("5500"), "{own}");

        // The issuer, who may read the register, gets every detail.
        let full = t
            .check(
                &w.issuer,
                &w.bond,
                json!({"type": "token.freeze", "holder": w.a.id, "quantity": "6000", "reason": "court order"}),
            )
            .await;
        assert!(full.to_string().contains("5500"), "{full}");
    }
);

on_both!(
    an_investors_history_shows_its_own_lines_and_not_other_holders,
    |t: TestApp| async move {
        let w = world(&t).await;
        let operator = t.party(Role::Operator, "Exchange operations").await;

        let own = t
            .get(&format!("/v1/parties/{}/history", w.a.id), Some(&w.a.token))
            .await;
        assert_eq!(own.status, 200, "{}", own.text());
        let own = own.json();
        let issued = own
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["entry_type"] == "token.issued")
            .expect("the issuance concerns A");
        assert_eq!(
            issued["data"]["allocations"],
            json!([{"investor": w.a.id, "quantity": "5500"}])
        );
        assert_eq!(issued["redacted"], true);
        assert!(!own.to_string().contains(&w.b.id), "{own}");
        assert!(!own.to_string().contains("3500"), "{own}");

        // An operator reads the whole entry.
        let full = t
            .get(
                &format!("/v1/parties/{}/history", w.a.id),
                Some(&operator.token),
            )
            .await
            .json();
        let issued = full
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["entry_type"] == "token.issued")
            .unwrap();
        assert_eq!(issued["data"]["allocations"].as_array().unwrap().len(), 2);
        assert_eq!(issued["redacted"], false);
    }
);

on_both!(
    operation_ids_belong_to_the_party_that_signs_them,
    |t: TestApp| async move {
        // Arrange: two holders on a bond whose transfers need the issuer's approval.
        let issuer = t.party(Role::Issuer, "Osaka City").await;
        let mut spec = green_spec();
        spec["transfer_restrictions"]["issuer_approval_required"] = json!(true);
        let bond = t.register(&issuer, spec).await;
        let a = t.party(Role::Investor, "Kansai Pension Fund").await;
        let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
        let c = t.party(Role::Investor, "Sakai Credit Union").await;
        let issued = t
            .op(
                &issuer,
                &bond,
                json!({"type": "token.issue", "allocations": [
                {"investor": a.id, "quantity": "100"}, {"investor": b.id, "quantity": "100"}]}),
            )
            .await;
        assert_eq!(issued.status, 201, "{}", issued.text());
        let close = |id: &str| json!({"type": "token.transfer", "to": c.id, "quantity": "10", "operation_id": id});

        // Act / Assert: B's use of an id does not block or reveal A's use of it.
        let b_first = t.op(&b, &bond, close("close-1")).await;
        assert_eq!(b_first.status, 201, "{}", b_first.text());
        let mut own = close("close-2");
        own["bond_id"] = json!(bond);
        let signed = a.sign(own);
        let path = format!("/v1/bonds/{bond}/operations");
        let a_own = t.post(&path, Some(&a.token), signed.clone()).await;
        assert_eq!(a_own.status, 201, "{}", a_own.text());
        // The same id by another party is that party's own. Here both transfers would wait for
        // approval under one name, so it is refused, telling nothing more.
        t.op(&a, &bond, close("close-1"))
            .await
            .problem(409, "conflict");
        // A retry of A's own request is answered with A's own receipt.
        let again = t.post(&path, Some(&a.token), signed).await;
        assert_eq!(again.status, 201, "{}", again.text());
        assert_eq!(again.headers["idempotent-replay"], "true");
        assert_eq!(again.json()["entry_index"], a_own.json()["entry_index"]);
    }
);
