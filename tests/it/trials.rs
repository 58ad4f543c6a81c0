//! Regulatory sandbox trials through the API, on SQLite and PostgreSQL: every transaction is
//! judged and recorded (refusals too), the verdict recorded online is the offline replay's,
//! and a regulator replays the trial under another rulebook version to see what would change.

use midori::domain::party::Role;
use midori::sandbox::Rulebook;
use midori::sandbox::ledger::{replay_export, replay_export_from};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::on_both;
use crate::support::*;

const V1: &str = include_str!("../../sandbox/osaka-ifc-green-st-v1.toml");
const V2: &str = include_str!("../../sandbox/osaka-ifc-green-st-v2.toml");
const DISCLOSURE: &str = "OIFC-GST-DISCLOSURE-2026-09";

async fn tx(t: &TestApp, party: &Party, trial: &str, id: &str, body: Value) -> Reply {
    t.post(
        &format!("/v1/trials/{trial}/transactions"),
        Some(&party.token),
        party.sign(json!({"type": "sandbox.tx", "trial_id": trial, "tx_id": id, "body": body})),
    )
    .await
}

/// The rule ids a recorded verdict names (empty when accepted).
#[track_caller]
fn verdict(reply: &Reply) -> (String, Vec<String>) {
    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    let rules = body["verdict"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap().to_owned())
        .collect();
    (body["status"].as_str().unwrap().to_owned(), rules)
}

fn accepted() -> (String, Vec<String>) {
    ("accepted".to_owned(), vec![])
}

fn refused(rules: &[&str]) -> (String, Vec<String>) {
    (
        "refused".to_owned(),
        rules.iter().map(|r| r.to_string()).collect(),
    )
}

on_both!(
    a_trial_records_every_verdict_and_its_replay_confirms_them,
    |t: TestApp| async move {
        t.set_time(datetime!(2026-10-01 01:00 UTC));
        let regulator = t.party(Role::Regulator, "Kinki Local Finance Bureau").await;
        let issuer = t.party(Role::Issuer, "Osaka Green Energy K.K.").await;
        let a = t.party(Role::Investor, "Kansai Pension Fund").await;
        let b = t.party(Role::Investor, "Naniwa Securities").await;

        // Only a regulator creates a trial; the rulebook is pinned by its SHA-256.
        let create = |party: &Party| {
            party.sign(json!({"type": "trial.create", "trial": {"title": "Osaka IFC ST green bond trial", "rulebook": V1}}))
        };
        t.post("/v1/trials", Some(&issuer.token), create(&issuer))
            .await
            .problem(403, "forbidden");
        let created = t
            .post("/v1/trials", Some(&regulator.token), create(&regulator))
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let trial = created.json()["trial"]["id"].as_str().unwrap().to_owned();
        let sha = Rulebook::parse(V1.as_bytes()).unwrap().sha256().to_owned();
        assert_eq!(created.json()["trial"]["rulebook"]["sha256"], sha.as_str());

        // The regulator admits participants; they consent to the disclosure.
        for (n, (p, role, category)) in [
            (&issuer, "issuer", None),
            (&a, "investor", Some("qii")),
            (&b, "investor", Some("professional")),
        ]
        .into_iter()
        .enumerate()
        {
            let mut body = json!({"type": "participant.admit", "party": p.id, "role": role, "kyc_expires_on": "2027-12-31"});
            if let Some(c) = category {
                body["investor_category"] = json!(c);
            }
            assert_eq!(
                verdict(&tx(&t, &regulator, &trial, &format!("admit-{n}"), body).await),
                accepted()
            );
        }
        // A transaction before consenting is refused, and recorded.
        assert_eq!(
            verdict(&tx(&t, &issuer, &trial, "early", json!({"type": "issue", "to": a.id, "amount": "1000000", "use_of_proceeds": "renewable_energy"})).await),
            refused(&["SBX-CONSENT"])
        );
        for (n, p) in [&issuer, &a, &b].into_iter().enumerate() {
            let body = json!({"type": "disclosure.consent", "disclosure_version": DISCLOSURE});
            assert_eq!(
                verdict(&tx(&t, p, &trial, &format!("consent-{n}"), body).await),
                accepted()
            );
        }

        // Per-transaction cap ¥10,000,000: just inside, just outside.
        let issue = |amount: &str, to: &Party| json!({"type": "issue", "to": to.id, "amount": amount, "use_of_proceeds": "renewable_energy"});
        assert_eq!(
            verdict(&tx(&t, &issuer, &trial, "issue-1", issue("8000000", &a)).await),
            accepted()
        );
        assert_eq!(
            verdict(&tx(&t, &issuer, &trial, "issue-2", issue("10000001", &a)).await),
            refused(&["SBX-CAP-TX"])
        );
        // An ineligible use of proceeds.
        let farm = json!({"type": "issue", "to": a.id, "amount": "1000", "use_of_proceeds": "affordable_housing"});
        assert_eq!(
            verdict(&tx(&t, &issuer, &trial, "issue-3", farm).await),
            refused(&["SBX-USE-OF-PROCEEDS"])
        );

        // A transfer inside the lock-up and without the issuer's consent: both rules at once.
        let transfer = json!({"type": "transfer", "to": b.id, "amount": "1000000"});
        assert_eq!(
            verdict(&tx(&t, &a, &trial, "t-1", transfer.clone()).await),
            refused(&["SBX-ISSUER-CONSENT", "SBX-LOCKUP"])
        );

        // 35 days later (lock-up over), with a report filed and the issuer's consent: accepted.
        t.set_time(datetime!(2026-11-05 01:00 UTC));
        assert_eq!(
            verdict(
                &tx(
                    &t,
                    &issuer,
                    &trial,
                    "report-1",
                    json!({"type": "report", "period_end": "2026-10-31"})
                )
                .await
            ),
            accepted()
        );
        assert_eq!(
            verdict(
                &tx(
                    &t,
                    &issuer,
                    &trial,
                    "consent-t-2",
                    json!({"type": "issuer.consent", "transfer_id": "t-2", "from": a.id, "to": b.id, "amount": "1000000"})
                )
                .await
            ),
            accepted()
        );
        let signed = a.sign(
            json!({"type": "sandbox.tx", "trial_id": trial, "tx_id": "t-2", "body": transfer}),
        );
        let path = format!("/v1/trials/{trial}/transactions");
        let reply = t.post(&path, Some(&a.token), signed.clone()).await;
        assert_eq!(verdict(&reply), accepted());
        // The transaction id is the idempotency key: the same signed request again gets the
        // original answer; the same id with another body is a conflict.
        let again = t.post(&path, Some(&a.token), signed).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.headers.get("idempotent-replay").unwrap(), "true");
        assert_eq!(again.json()["entry_index"], reply.json()["entry_index"]);
        tx(
            &t,
            &a,
            &trial,
            "t-2",
            json!({"type": "transfer", "to": b.id, "amount": "2"}),
        )
        .await
        .problem(409, "conflict");

        // Suspended: no new business, but exits pass.
        assert_eq!(
            verdict(
                &tx(
                    &t,
                    &regulator,
                    &trial,
                    "suspend",
                    json!({"type": "trial.status", "status": "suspended"})
                )
                .await
            ),
            accepted()
        );
        assert_eq!(
            verdict(&tx(&t, &issuer, &trial, "issue-4", issue("1000", &b)).await),
            refused(&["SBX-STATUS"])
        );
        assert_eq!(
            verdict(
                &tx(
                    &t,
                    &b,
                    &trial,
                    "exit-b",
                    json!({"type": "redeem", "amount": "1000000"})
                )
                .await
            ),
            accepted()
        );

        // The regulator's report: violations by rule, exposure against caps.
        let report = t
            .get(
                &format!("/v1/trials/{trial}/report"),
                Some(&regulator.token),
            )
            .await;
        assert_eq!(report.status, 200, "{}", report.text());
        let report = report.json();
        assert_eq!(report["violations"]["SBX-LOCKUP"], 1);
        assert_eq!(report["violations"]["SBX-CAP-TX"], 1);
        assert_eq!(report["status"], "suspended");
        t.get(&format!("/v1/trials/{trial}/report"), Some(&a.token))
            .await
            .problem(403, "forbidden");

        // Replay under the rulebook it ran with confirms every recorded verdict...
        let replay = t
            .post(
                &format!("/v1/trials/{trial}/replay"),
                Some(&regulator.token),
                json!({}),
            )
            .await;
        assert_eq!(replay.status, 200, "{}", replay.text());
        let replay = replay.json();
        assert_eq!(replay["result"]["mode"], "confirm");
        assert_eq!(replay["result"]["consistent"], true);
        assert_eq!(replay["result"]["transactions"], 17);
        // The report read from the state the service keeps is the replay's, to the letter;
        // after a restart too (the state is in the database, not only in memory).
        assert_eq!(report, replay["result"]["report"]);
        let restarted = t.second_process().await;
        let again = restarted
            .get(
                &format!("/v1/trials/{trial}/report"),
                Some(&regulator.token),
            )
            .await;
        assert_eq!(again.json(), replay["result"]["report"]);

        // ...and offline, from the export, byte for byte the same result.
        let export = t
            .get(
                &format!("/v1/trials/{trial}/ledger/export"),
                Some(&regulator.token),
            )
            .await
            .text();
        let offline = replay_export(
            export.lines().map(str::as_bytes),
            &Rulebook::parse(V1.as_bytes()).unwrap(),
            2,
        )
        .unwrap();
        assert_eq!(serde_json::to_value(&offline).unwrap(), replay["result"]);
        // Split into chunks of any size, the same again (the replay streams).
        let one_thread = replay_export(
            export.lines().map(str::as_bytes),
            &Rulebook::parse(V1.as_bytes()).unwrap(),
            1,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_vec(&one_thread).unwrap(),
            serde_json::to_vec(&offline).unwrap()
        );
        // Stopped after any entry and resumed with entry 0 and the rest, the same again (the
        // regulator's audit goes on from where its last audit of the trial stopped).
        let lines: Vec<&str> = export.lines().collect();
        let v1 = Rulebook::parse(V1.as_bytes()).unwrap();
        for cut in [1, 2, 9, lines.len()] {
            let (_, stopped) =
                replay_export_from(lines[..cut].iter().map(|l| l.as_bytes()), &v1, 1, None)
                    .unwrap();
            assert_eq!(stopped.entries, cut as u64);
            let (resumed, end) = replay_export_from(
                std::iter::once(lines[0])
                    .chain(lines[cut..].iter().copied())
                    .map(str::as_bytes),
                &v1,
                2,
                Some(&stopped),
            )
            .unwrap();
            assert_eq!(
                serde_json::to_value(&resumed).unwrap(),
                replay["result"],
                "cut at {cut}"
            );
            assert_eq!(end.entries, lines.len() as u64);
        }

        // What-if under v2 (¥5,000,000 per transaction, 60-day lock-up): the ¥8,000,000
        // issuance would have been refused, and so would the transfer on day 35.
        let what_if = t
            .post(
                &format!("/v1/trials/{trial}/replay"),
                Some(&regulator.token),
                json!({"rulebook": V2}),
            )
            .await
            .json();
        assert_eq!(what_if["result"]["mode"], "what_if");
        let changed: Vec<&str> = what_if["result"]["mismatches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["tx_id"].as_str().unwrap())
            .collect();
        assert!(changed.contains(&"issue-1"), "{changed:?}");
        assert!(changed.contains(&"t-2"), "{changed:?}");
        assert!(
            what_if["summary"]
                .as_str()
                .unwrap()
                .contains("would change")
        );

        // A tampered verdict in the export is caught by the replay.
        let tampered = export.replacen(
            "\"accepted\":true,\"tx_id\":\"issue-1\"",
            "\"accepted\":false,\"tx_id\":\"issue-1\"",
            1,
        );
        assert_ne!(tampered, export);
        let caught = replay_export(
            tampered.lines().map(str::as_bytes),
            &Rulebook::parse(V1.as_bytes()).unwrap(),
            2,
        )
        .unwrap();
        assert!(!caught.consistent);

        // A bad signature on line 3 and an unparseable line 10: the first problem is named,
        // however the lines are split between threads.
        let mut lines: Vec<String> = export.lines().map(str::to_owned).collect();
        let sig_at = lines[3].find("\"signature\":\"").unwrap() + 13;
        let flipped = if &lines[3][sig_at..sig_at + 1] == "A" {
            "B"
        } else {
            "A"
        };
        lines[3].replace_range(sig_at..sig_at + 1, flipped);
        lines[10] = "{not json".to_owned();
        let rb = Rulebook::parse(V1.as_bytes()).unwrap();
        let errors: Vec<String> = [1, 2, 3]
            .into_iter()
            .map(|threads| {
                replay_export(lines.iter().map(String::as_bytes), &rb, threads)
                    .unwrap_err()
                    .to_string()
            })
            .collect();
        assert!(errors[0].starts_with("entry 3:"), "{errors:?}");
        assert!(errors.iter().all(|e| e == &errors[0]), "{errors:?}");

        // The regulator's audit re-verifies every ledger.
        let audit = t.get("/v1/audit/ledgers", Some(&regulator.token)).await;
        assert_eq!(audit.status, 200, "{}", audit.text());
        let audit = audit.json();
        let trial_audit = audit
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == trial.as_str())
            .unwrap();
        assert_eq!(trial_audit["verified"], true, "{trial_audit}");
        t.get("/v1/audit/ledgers", Some(&issuer.token))
            .await
            .problem(403, "forbidden");

        // The trial ledger verifies like any other.
        let checkpoint = t
            .get(&format!("/v1/trials/{trial}/ledger/checkpoint"), None)
            .await
            .text();
        midori::ledger::audit::verify_export(
            export.lines().map(str::as_bytes),
            &checkpoint,
            &t.jwks().await,
        )
        .unwrap();

        // The restarted service judges from the kept state, not from an empty one (which would
        // turn a participant away as an outsider), and its report is still the replay's.
        let after = tx(
            &restarted,
            &a,
            &trial,
            "after-restart",
            json!({"type": "redeem", "amount": "1"}),
        )
        .await;
        assert_eq!(after.status, 201, "{}", after.text());
        let replay_after = restarted
            .post(
                &format!("/v1/trials/{trial}/replay"),
                Some(&regulator.token),
                json!({}),
            )
            .await
            .json();
        assert_eq!(replay_after["result"]["consistent"], true);
        let before: u64 = replay["result"]["transactions"].as_u64().unwrap();
        assert!(replay_after["result"]["transactions"].as_u64().unwrap() > before);
        let report_after = restarted
            .get(
                &format!("/v1/trials/{trial}/report"),
                Some(&regulator.token),
            )
            .await
            .json();
        assert_eq!(report_after, replay_after["result"]["report"]);
    }
);

on_both!(
    only_the_trials_regulator_and_admitted_parties_write_to_its_ledger,
    |t: TestApp| async move {
        // Arrange
        t.set_time(datetime!(2026-10-01 01:00 UTC));
        let regulator = t.party(Role::Regulator, "Kinki Local Finance Bureau").await;
        let other_regulator = t.party(Role::Regulator, "Kanto Local Finance Bureau").await;
        let issuer = t.party(Role::Issuer, "Osaka Green Energy K.K.").await;
        let outsider = t.party(Role::Investor, "Sakai Credit Union").await;
        let created = t
            .post(
                "/v1/trials",
                Some(&regulator.token),
                regulator.sign(json!({"type": "trial.create", "trial": {"title": "Osaka IFC ST green bond trial", "rulebook": V1}})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let trial = created.json()["trial"]["id"].as_str().unwrap().to_owned();
        let admit = json!({"type": "participant.admit", "party": issuer.id, "role": "issuer", "kyc_expires_on": "2027-12-31"});
        assert_eq!(
            verdict(&tx(&t, &regulator, &trial, "admit-issuer", admit).await),
            accepted()
        );
        let export = format!("/v1/trials/{trial}/ledger/export");
        let size = || async {
            t.get(&export, Some(&regulator.token))
                .await
                .text()
                .lines()
                .count()
        };
        let before = size().await;

        // Act / Assert: an outsider and another regulator are refused, and nothing is recorded.
        let consent = json!({"type": "disclosure.consent", "disclosure_version": DISCLOSURE});
        tx(&t, &outsider, &trial, "spam-1", consent.clone())
            .await
            .problem(403, "forbidden");
        tx(
            &t,
            &other_regulator,
            &trial,
            "spam-2",
            json!({"type": "trial.status", "status": "suspended"}),
        )
        .await
        .problem(403, "forbidden");
        assert_eq!(size().await, before);
        // An admitted party's transaction is recorded, refused or not.
        assert_eq!(
            verdict(&tx(&t, &issuer, &trial, "consent-1", consent).await),
            accepted()
        );
        assert_eq!(size().await, before + 1);
        // A regulator admits only parties the service knows.
        let ghost = uuid::Uuid::now_v7().to_string();
        let reply = tx(
            &t,
            &regulator,
            &trial,
            "admit-ghost",
            json!({"type": "participant.admit", "party": ghost, "role": "investor", "investor_category": "qii"}),
        )
        .await;
        let problem = reply.problem(422, "validation-failed");
        assert_eq!(problem["errors"][0]["pointer"], "/payload/body/party");
        assert_eq!(problem["errors"][0]["code"], "unknown_party");
    }
);
