//! Security tokens on the bond ledger: issuance, restricted transfers, approvals, controls,
//! redemption, coupons — through the API, on SQLite and PostgreSQL.

use std::sync::Arc;

use midori::domain::party::Role;
use serde_json::{Value, json};
use time::macros::datetime;

use crate::on_both;
use crate::support::*;

/// Osaka green bond with 10,000 tokens, an issuer and three QII-verified investors holding
/// 6,000 / 3,000 / 0 after issuance.
async fn issued(t: &TestApp) -> (Party, String, Party, Party, Party) {
    let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
    let bond = t.register(&issuer, green_spec()).await;
    let a = t.party(Role::Investor, "Kansai Pension Fund").await;
    let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
    let c = t.party(Role::Investor, "Sakai Credit Union").await;
    let reply = t
        .op(
            &issuer,
            &bond,
            json!({"type": "token.issue", "allocations": [
            {"investor": a.id, "quantity": "6000"}, {"investor": b.id, "quantity": "3000"}]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["entry_type"], "token.issued");
    (issuer, bond, a, b, c)
}

fn transfer(to: &Party, quantity: u64) -> Value {
    json!({"type": "token.transfer", "to": to.id, "quantity": quantity.to_string()})
}

on_both!(
    issued_tokens_move_by_signed_transfers_and_the_register_follows,
    |t: TestApp| async move {
        let (issuer, bond, a, b, c) = issued(&t).await;
        let reply = t.op(&a, &bond, transfer(&c, 1_500)).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        assert_eq!(reply.json()["status"], "applied");

        let balances = t.balances(&issuer, &bond).await;
        assert_eq!(balances[&a.id], 4_500);
        assert_eq!(balances[&b.id], 3_000);
        assert_eq!(balances[&c.id], 1_500);
        let register = t
            .get(&format!("/v1/bonds/{bond}/holders"), Some(&issuer.token))
            .await
            .json();
        assert_eq!(
            (
                register["issued"].as_str(),
                register["outstanding"].as_str()
            ),
            (Some("9000"), Some("9000"))
        );

        // As of the issuance entry (size 2: registration + issuance), C held nothing.
        let before = t
            .get(
                &format!("/v1/bonds/{bond}/holders?as_of_size=2"),
                Some(&issuer.token),
            )
            .await
            .json();
        let holders: Vec<&str> = before["holders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["holder"].as_str().unwrap())
            .collect();
        assert!(!holders.contains(&c.id.as_str()));
        let csv = t
            .get(
                &format!("/v1/bonds/{bond}/holders?format=csv"),
                Some(&issuer.token),
            )
            .await;
        assert!(csv.content_type().starts_with("text/csv"));
        assert!(
            csv.text()
                .starts_with("holder,balance,held,frozen,frozen_all\n")
        );
        assert!(csv.text().contains(&format!("{},1500,0,0,false", c.id)));

        // Each investor sees its own positions and history, not others'.
        let mine = t
            .get(&format!("/v1/parties/{}/positions", c.id), Some(&c.token))
            .await
            .json();
        assert_eq!(mine[0]["balance"], "1500");
        assert_eq!(mine[0]["bond_id"], bond);
        t.get(&format!("/v1/parties/{}/positions", a.id), Some(&c.token))
            .await
            .problem(403, "forbidden");
        t.get(&format!("/v1/bonds/{bond}/holders"), Some(&c.token))
            .await
            .problem(403, "forbidden");
        let history = t
            .get(&format!("/v1/parties/{}/history", c.id), Some(&c.token))
            .await
            .json();
        assert_eq!(history.as_array().unwrap().len(), 1);
        assert_eq!(history[0]["entry_type"], "token.transferred");

        // The export still verifies offline.
        t.export_and_verify(&bond, &issuer.token).await.1.unwrap();
    }
);

on_both!(
    every_broken_rule_is_reported_at_once_and_the_dry_run_agrees,
    |t: TestApp| async move {
        let (issuer, bond, a, _b, _c) = issued(&t).await;
        let outsider = t.party(Role::Issuer, "Not an investor").await;
        let too_much = json!({"type": "token.transfer", "to": outsider.id, "quantity": "6001"});
        let verdict = t.check(&a, &bond, too_much.clone()).await;
        assert_eq!(verdict["allowed"], false);
        let reply = t.op(&a, &bond, too_much).await;
        let codes = violation_codes(&reply);
        // The investor may not read the register: the receiver's problem is one code to it.
        assert_eq!(codes, ["insufficient_balance", "receiver_not_eligible"]);
        let dry: Vec<&str> = verdict["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["code"].as_str().unwrap())
            .collect();
        assert_eq!(dry, codes);
        // Nothing was written by either.
        assert_eq!(t.balances(&issuer, &bond).await[&a.id], 6_000);
        // A well-formed operation the book gives no verdict for cannot be checked in advance.
        let reply = t
            .post(
                &format!("/v1/bonds/{bond}/operations/check"),
                Some(&issuer.token),
                json!({"type": "coupon.pay", "bond_id": bond}),
            )
            .await;
        let problem = reply.problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["code"], "not_checkable", "{problem}");
        // An allowed transfer's dry run says so.
        let fine = t
            .check(
                &a,
                &bond,
                json!({"type": "token.transfer", "to": _b.id, "quantity": "6000"}),
            )
            .await;
        assert_eq!(
            (fine["allowed"].as_bool(), fine["outcome"].as_str()),
            (Some(true), Some("applied"))
        );
    }
);

on_both!(
    a_retried_operation_gets_the_original_receipt_and_a_reused_id_is_refused,
    |t: TestApp| async move {
        let (issuer, bond, a, b, _c) = issued(&t).await;
        let mut payload = transfer(&b, 100);
        payload["bond_id"] = json!(bond);
        payload["operation_id"] = json!("kansai-2026-0001");
        let signed = a.sign(payload.clone());
        let path = format!("/v1/bonds/{bond}/operations");
        let first = t.post(&path, Some(&a.token), signed.clone()).await;
        assert_eq!(first.status, 201, "{}", first.text());
        let again = t.post(&path, Some(&a.token), signed).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.headers.get("idempotent-replay").unwrap(), "true");
        assert_eq!(again.json(), first.json());
        assert_eq!(
            t.balances(&issuer, &bond).await[&b.id],
            3_100,
            "applied once"
        );
        // Same id, different body.
        payload["quantity"] = json!("200");
        t.post(&path, Some(&a.token), a.sign(payload))
            .await
            .problem(409, "conflict");
    }
);

on_both!(
    two_transfers_spending_the_same_balance_in_parallel_one_succeeds,
    |t: TestApp| async move {
        let t = Arc::new(t);
        let (issuer, bond, a, b, c) = issued(&t).await;
        let mut tasks = Vec::new();
        for to in [b.clone(), c.clone()] {
            let (t, a, bond) = (t.clone(), a.clone(), bond.clone());
            tasks.push(tokio::spawn(async move {
                t.op(&a, &bond, transfer(&to, 4_000)).await
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            let reply = task.await.unwrap();
            if reply.status == 422 {
                assert_eq!(violation_codes(&reply), ["insufficient_balance"]);
            }
            statuses.push(reply.status.as_u16());
        }
        statuses.sort();
        assert_eq!(statuses, [201, 422]);
        let balances = t.balances(&issuer, &bond).await;
        assert_eq!(balances[&a.id], 2_000);
        assert_eq!(balances.values().sum::<u64>(), 9_000, "supply conserved");
    }
);

on_both!(
    transfers_needing_approval_hold_their_amount_until_the_issuer_decides,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka City").await;
        let mut spec = green_spec();
        spec["transfer_restrictions"]["issuer_approval_required"] = json!(true);
        let bond = t.register(&issuer, spec).await;
        let a = t.party(Role::Investor, "Kansai Pension Fund").await;
        let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
        assert_eq!(t.op(&issuer, &bond, json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "100"}]})).await.status, 201);

        let mut first = transfer(&b, 80);
        first["operation_id"] = json!("t-1");
        let reply = t.op(&a, &bond, first).await;
        assert_eq!(reply.json()["status"], "pending");
        assert_eq!(reply.json()["entry_type"], "token.transfer_pending");
        // The held 80 cannot be spent again.
        assert_eq!(
            violation_codes(&t.op(&a, &bond, transfer(&b, 30)).await),
            ["insufficient_balance"]
        );
        // Only the issuer approves.
        t.op(
            &a,
            &bond,
            json!({"type": "token.approve", "pending_id": "t-1"}),
        )
        .await
        .problem(403, "forbidden");
        let approved = t
            .op(
                &issuer,
                &bond,
                json!({"type": "token.approve", "pending_id": "t-1"}),
            )
            .await;
        assert_eq!(approved.status, 201, "{}", approved.text());
        let balances = t.balances(&issuer, &bond).await;
        assert_eq!((balances[&a.id], balances[&b.id]), (20, 80));

        let mut second = transfer(&b, 20);
        second["operation_id"] = json!("t-2");
        assert_eq!(t.op(&a, &bond, second).await.json()["status"], "pending");
        assert_eq!(
            t.op(
                &issuer,
                &bond,
                json!({"type": "token.cancel", "pending_id": "t-2"})
            )
            .await
            .status,
            201
        );
        let register = t
            .get(&format!("/v1/bonds/{bond}/holders"), Some(&issuer.token))
            .await
            .json();
        let a_line = register["holders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["holder"] == a.id)
            .unwrap()
            .clone();
        assert_eq!(
            (a_line["balance"].as_str(), a_line["held"].as_str()),
            (Some("20"), Some("0"))
        );
    }
);

on_both!(
    controls_need_a_reason_and_freezes_pauses_and_forced_transfers_behave,
    |t: TestApp| async move {
        let (issuer, bond, a, b, c) = issued(&t).await;
        let no_reason = t
            .op(
                &issuer,
                &bond,
                json!({"type": "token.freeze", "holder": a.id, "quantity": "5000"}),
            )
            .await;
        let problem = no_reason.problem(422, "validation-failed");
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["code"] == "reason_required")
        );
        let freeze = json!({"type": "token.freeze", "holder": a.id, "quantity": "5000", "reason": "Osaka District Court order 2026(ヨ)17"});
        assert_eq!(t.op(&issuer, &bond, freeze).await.status, 201);
        assert_eq!(
            violation_codes(&t.op(&a, &bond, transfer(&b, 1_001)).await),
            ["partially_frozen"]
        );
        assert_eq!(t.op(&a, &bond, transfer(&b, 1_000)).await.status, 201);

        assert_eq!(
            t.op(
                &issuer,
                &bond,
                json!({"type": "bond.pause", "reason": "system migration"})
            )
            .await
            .status,
            201
        );
        assert_eq!(
            violation_codes(&t.op(&b, &bond, transfer(&c, 1)).await),
            ["bond_paused"]
        );
        assert_eq!(
            t.op(
                &issuer,
                &bond,
                json!({"type": "bond.unpause", "reason": "migration done"})
            )
            .await
            .status,
            201
        );

        // Lost-key recovery: the issuer moves the frozen position, with the reason on the ledger.
        let forced = json!({"type": "token.force_transfer", "from": a.id, "to": c.id, "quantity": "5000", "reason": "lost key recovery, ticket 4411"});
        let reply = t.op(&issuer, &bond, forced).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let balances = t.balances(&issuer, &bond).await;
        assert_eq!(
            (balances.get(&a.id).copied().unwrap_or(0), balances[&c.id]),
            (0, 5_000)
        );
        // An investor cannot use issuer controls.
        t.op(&a, &bond, json!({"type": "bond.pause", "reason": "x"}))
            .await
            .problem(403, "forbidden");
        // Entries carry the reasons.
        let entries = t
            .get(
                &format!("/v1/bonds/{bond}/ledger/entries"),
                Some(&issuer.token),
            )
            .await
            .json();
        let forced_entry = entries["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "token.forced_transfer")
            .unwrap()
            .clone();
        assert_eq!(
            forced_entry["data"]["reason"],
            "lost key recovery, ticket 4411"
        );
    }
);

on_both!(
    redemption_is_partial_before_maturity_and_total_at_maturity_then_nothing_moves,
    |t: TestApp| async move {
        let (issuer, bond, a, b, _c) = issued(&t).await;
        assert_eq!(
            t.op(
                &issuer,
                &bond,
                json!({"type": "token.redeem", "holder": b.id, "quantity": "1000"})
            )
            .await
            .status,
            201
        );
        assert_eq!(
            violation_codes(
                &t.op(&issuer, &bond, json!({"type": "token.redeem_all"}))
                    .await
            ),
            ["not_matured"]
        );
        t.set_time(datetime!(2030-06-20 01:00:00 UTC)); // maturity day in Japan
        let reply = t
            .op(&issuer, &bond, json!({"type": "token.redeem_all"}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let register = t
            .get(&format!("/v1/bonds/{bond}/holders"), Some(&issuer.token))
            .await
            .json();
        assert_eq!(
            (
                register["outstanding"].as_str(),
                register["redeemed"].as_str()
            ),
            (Some("0"), Some("9000"))
        );
        assert_eq!(register["fully_redeemed"], true);
        assert!(
            violation_codes(&t.op(&a, &bond, transfer(&b, 1)).await)
                .contains(&"bond_redeemed".to_owned())
        );
        // Issuance beyond the issue size was never possible either.
        assert!(violation_codes(&t.op(&issuer, &bond, json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "1"}]})).await)
        .contains(&"bond_redeemed".to_owned()));
    }
);

on_both!(
    issuance_never_exceeds_the_issue_size_and_closing_it_is_final,
    |t: TestApp| async move {
        let (issuer, bond, a, _b, _c) = issued(&t).await;
        let over =
            json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "1001"}]});
        assert_eq!(
            violation_codes(&t.op(&issuer, &bond, over).await),
            ["exceeds_issue_size"]
        );
        let tap =
            json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "1000"}]});
        assert_eq!(
            t.op(&issuer, &bond, tap.clone()).await.status,
            201,
            "a tap up to the issue size"
        );
        assert_eq!(
            t.op(&issuer, &bond, json!({"type": "token.close_issuance"}))
                .await
                .status,
            201
        );
        assert_eq!(
            violation_codes(&t.op(&issuer, &bond, tap).await),
            ["exceeds_issue_size", "issuance_closed"]
        );
    }
);

on_both!(
    a_coupon_is_paid_from_the_register_at_its_record_date,
    |t: TestApp| async move {
        // Worked example (ACT/365F, semi-annual 0.3%, ¥1,000,000 per token):
        // period 1 runs 2025-06-20 → 2025-12-20 = 183 days; per token 1,000,000 × 0.003 × 183/365
        // = 1,504.109589… → ¥1,504 (rounded down). 2025-12-20 is a Saturday: paid Monday
        // 2025-12-22 (modified following); the record date is the day before, 2025-12-21.
        t.set_time(datetime!(2025-07-01 00:00:00 UTC));
        let (issuer, bond, a, b, c) = issued(&t).await;
        let schedule = t
            .get(&format!("/v1/bonds/{bond}/coupons"), None)
            .await
            .json();
        let first = &schedule[0];
        assert_eq!(schedule.as_array().unwrap().len(), 10);
        assert_eq!(
            (first["year_fraction"].as_str(), first["per_token"].as_str()),
            (Some("183/365"), Some("1504"))
        );
        assert_eq!(
            (
                first["payment_date"].as_str(),
                first["record_date"].as_str()
            ),
            (Some("2025-12-22"), Some("2025-12-21"))
        );

        // Before the record date the coupon cannot be paid; B sells 500 to C in between.
        assert_eq!(
            violation_codes(
                &t.op(&issuer, &bond, json!({"type": "coupon.pay", "period": "1"}))
                    .await
            ),
            ["before_record_date"]
        );
        t.set_time(datetime!(2025-12-01 00:00:00 UTC));
        assert_eq!(t.op(&b, &bond, transfer(&c, 500)).await.status, 201);
        t.set_time(datetime!(2025-12-22 00:30:00 UTC)); // 09:30 in Osaka on the payment date
        // A transfer after the record date does not change who is paid.
        assert_eq!(t.op(&a, &bond, transfer(&c, 1_000)).await.status, 201);

        let paid = t
            .op(&issuer, &bond, json!({"type": "coupon.pay", "period": "1"}))
            .await;
        assert_eq!(paid.status, 201, "{}", paid.text());
        let entitlements = t
            .get(
                &format!("/v1/bonds/{bond}/coupons/1/entitlements"),
                Some(&issuer.token),
            )
            .await
            .json();
        let amount = |p: &Party| {
            entitlements["holders"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["holder"] == p.id)
                .unwrap()["amount"]
                .clone()
        };
        // A: 6,000 × 1,504.109589… = 9,024,657.53… → ¥9,024,657
        // B: 2,500 → 3,760,273.97… → ¥3,760,273;  C: 500 → 752,054.79… → ¥752,054
        assert_eq!(amount(&a), "9024657");
        assert_eq!(amount(&b), "3760273");
        assert_eq!(amount(&c), "752054");
        assert_eq!(entitlements["total"], "13536984");
        let schedule = t
            .get(&format!("/v1/bonds/{bond}/coupons"), None)
            .await
            .json();
        assert!(schedule[0]["paid_at_index"].is_string());
        // Paid once only.
        assert_eq!(
            violation_codes(
                &t.op(&issuer, &bond, json!({"type": "coupon.pay", "period": "1"}))
                    .await
            ),
            ["already_recorded"]
        );
    }
);

on_both!(
    a_missed_kpi_steps_the_coupon_up_from_the_next_period,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Kansai Electric Example").await;
        let spec =
            serde_json::to_value(midori::domain::bond::examples::sustainability_linked()).unwrap();
        let kpi = spec["framework"]["kpis"][0].clone();
        let bond = t.register(&issuer, spec.clone()).await;
        let before = t
            .get(&format!("/v1/bonds/{bond}/coupons"), None)
            .await
            .json();
        let observe = json!({"type": "kpi.observe", "kpi_id": kpi["id"], "value": kpi["baseline"], "met": false});
        // Not before the observation date (2029-03-31 in Japan).
        assert_eq!(
            violation_codes(&t.op(&issuer, &bond, observe.clone()).await),
            ["before_observation_date"]
        );
        t.set_time(datetime!(2029-04-01 00:00:00 UTC));
        let reply = t.op(&issuer, &bond, observe).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let after = t
            .get(&format!("/v1/bonds/{bond}/coupons"), None)
            .await
            .json();
        let observation = kpi["observation_date"].as_str().unwrap();
        for (old, new) in before
            .as_array()
            .unwrap()
            .iter()
            .zip(after.as_array().unwrap())
        {
            if new["accrual_start"].as_str().unwrap() > observation {
                assert_eq!(
                    new["step_up_bp"], kpi["step_up_bp"],
                    "period {} steps up",
                    new["period"]
                );
                assert_ne!(new["rate"], old["rate"]);
            } else {
                assert_eq!(
                    new["rate"], old["rate"],
                    "period {} does not",
                    new["period"]
                );
            }
        }
        assert!(
            after
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["step_up_bp"] != "0")
        );
    }
);

on_both!(
    a_second_process_appending_to_the_same_ledger_forks_nothing_and_loses_nothing,
    |t: TestApp| async move {
        let t = Arc::new(t);
        let (issuer, bond, a, b, c) = issued(&t).await;
        let u = Arc::new(t.second_process().await);

        // In turns: each service's cached ledger is one entry behind the other's append.
        for (n, service) in [&t, &u, &t, &u].into_iter().enumerate() {
            let reply = service.op(&a, &bond, transfer(&c, 10)).await;
            assert_eq!(reply.status, 201, "turn {n}: {}", reply.text());
            assert_eq!(reply.json()["entry_index"], (2 + n).to_string());
        }

        // At once: both services append to the ledger concurrently. Each request is either
        // acknowledged or refused as busy (503); none is half-done.
        let mut tasks = Vec::new();
        for n in 0..40 {
            let service = if n % 2 == 0 { t.clone() } else { u.clone() };
            let from = if n % 4 < 2 { a.clone() } else { b.clone() };
            let (to, bond) = (c.clone(), bond.clone());
            tasks.push(tokio::spawn(async move {
                service.op(&from, &bond, transfer(&to, 1)).await
            }));
        }
        let mut accepted = 0u64;
        let mut indices = std::collections::BTreeSet::new();
        for task in tasks {
            let reply = task.await.unwrap();
            match reply.status.as_u16() {
                201 => {
                    accepted += 1;
                    let index: u64 = reply.json()["entry_index"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    assert!(indices.insert(index), "index {index} acknowledged twice");
                }
                // The other process wrote the same ledger meanwhile: said as such, not as the
                // service being at capacity.
                503 => {
                    reply.problem(503, "contention");
                }
                other => panic!("unexpected {other}: {}", reply.text()),
            }
        }
        assert!(accepted > 0);
        // Every acknowledged transfer is on the ledger, at the index it was given, and nothing
        // else is: indices contiguous, balances as the acknowledged transfers make them.
        assert_eq!(
            indices.into_iter().collect::<Vec<_>>(),
            (6..6 + accepted).collect::<Vec<_>>()
        );
        for service in [&t, &u] {
            let balances = service.balances(&issuer, &bond).await;
            assert_eq!(balances[&c.id], 40 + accepted);
            assert_eq!(balances.values().sum::<u64>(), 9_000, "supply conserved");
        }
        for service in [&t, &u] {
            let (export, verified) = service.export_and_verify(&bond, &issuer.token).await;
            assert_eq!(export.lines().count() as u64, 6 + accepted);
            verified.unwrap();
        }
    }
);

on_both!(
    the_register_as_of_a_time_holds_every_entry_up_to_that_instant_and_none_after,
    |t: TestApp| async move {
        use time::macros::datetime;
        t.set_time(datetime!(2026-07-01 00:00:00 UTC));
        let (issuer, bond, a, b, c) = issued(&t).await; // entries 0 and 1
        t.set_time(datetime!(2026-07-01 00:00:10 UTC));
        created(&t.op(&a, &bond, transfer(&c, 100)).await); // entry 2
        t.set_time(datetime!(2026-07-01 00:00:20 UTC));
        created(&t.op(&b, &bond, transfer(&c, 50)).await); // entry 3
        let (t, issuer, bond, c) = (&t, &issuer, &bond, &c);
        let as_of = |time: &'static str| async move {
            let reply = t
                .get(
                    &format!("/v1/bonds/{bond}/holders?as_of_time={time}"),
                    Some(&issuer.token),
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let body = reply.json();
            let c_balance = body["holders"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["holder"] == c.id.as_str())
                .map(|h| h["balance"].as_str().unwrap().to_owned());
            (body["as_of_size"].as_str().unwrap().to_owned(), c_balance)
        };
        // An entry's own instant includes it; a microsecond before does not.
        assert_eq!(
            as_of("2026-07-01T00:00:10Z").await,
            ("3".into(), Some("100".into()))
        );
        assert_eq!(
            as_of("2026-07-01T00:00:09.999999Z").await,
            ("2".into(), None)
        );
        assert_eq!(
            as_of("2026-07-01T09:00:15%2B09:00").await,
            ("3".into(), Some("100".into()))
        );
        assert_eq!(
            as_of("2026-07-01T00:00:20Z").await,
            ("4".into(), Some("150".into()))
        );
        assert_eq!(
            as_of("2030-01-01T00:00:00Z").await,
            ("4".into(), Some("150".into()))
        );
        assert_eq!(as_of("2020-01-01T00:00:00Z").await.0, "0");
    }
);
