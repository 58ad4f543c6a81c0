//! The regulator's audit (`GET /v1/audit/ledgers`) goes on from where its last successful audit
//! of each ledger stopped, as an auditor keeping its last verified checkpoint would, and still
//! catches what is forged after that point; `full=true` starts again from entry 0 and catches
//! what was forged before it.

use midori::domain::party::Role;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::*;

const V1: &str = include_str!("../../sandbox/osaka-ifc-green-st-v1.toml");

/// The audit's line for ledger `id`.
async fn audit(t: &TestApp, regulator: &Party, id: &str, full: bool) -> Value {
    let path = match full {
        true => "/v1/audit/ledgers?full=true",
        false => "/v1/audit/ledgers",
    };
    let reply = t.get(path, Some(&regulator.token)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not audited"))
        .clone()
}

async fn transfer(t: &TestApp, from: &Party, to: &Party, bond: &str, quantity: &str) {
    created(
        &t.op(
            from,
            bond,
            json!({"type": "token.transfer", "to": to.id, "quantity": quantity}),
        )
        .await,
    );
}

on_both!(
    the_audit_reads_only_what_was_appended_since_it_last_verified,
    |t: TestApp| async move {
        let regulator = t.party(Role::Regulator, "Kinki Local Finance Bureau").await;
        let (issuer, bond, a, b) = t.bond_with_two_holders().await;
        transfer(&t, &a, &b, &bond, "100").await;

        // The first audit reads the whole ledger: registration, issuance, transfer.
        let first = audit(&t, &regulator, &bond, false).await;
        assert_eq!(first["verified"], true, "{first}");
        assert_eq!(first["size"], "3");
        assert_eq!(first["already_verified"], "0");
        assert!(
            first["detail"]
                .as_str()
                .unwrap()
                .starts_with("3 entries verified against the signed checkpoint; token invariants hold; the state served matches the replay"),
            "{first}"
        );

        // Nothing appended: nothing read again, and still verified.
        let again = audit(&t, &regulator, &bond, false).await;
        assert_eq!(again["verified"], true, "{again}");
        assert_eq!(again["already_verified"], "3");

        // Two more entries, one giving a new investor a first position, one a freeze.
        let c = t.party(Role::Investor, "Sakai Credit Union").await;
        transfer(&t, &b, &c, &bond, "40").await;
        created(&t.op(&issuer, &bond, json!({"type": "token.freeze", "holder": a.id, "quantity": "50", "reason": "court order"})).await);
        let next = audit(&t, &regulator, &bond, false).await;
        assert_eq!(next["verified"], true, "{next}");
        assert_eq!(next["size"], "5");
        assert_eq!(next["already_verified"], "3");
        assert!(
            next["detail"]
                .as_str()
                .unwrap()
                .contains("(3 verified by an earlier audit, not read again)"),
            "{next}"
        );

        // A position forged in the maintained state after the last audit is caught, naming
        // the entry; and the audit after that reads from entry 0 (a failed ledger keeps
        // failing until it is put right, whatever was verified before).
        transfer(&t, &c, &a, &bond, "10").await;
        t.sql(
            "UPDATE entry_parties SET balance = balance + 1000 WHERE idx = 5 AND balance IS NOT NULL \
             AND ledger_id = (SELECT ledger_id FROM bonds WHERE id = $1)",
            &[SqlArg::Text(&bond)],
        )
        .await;
        for already in ["5", "0"] {
            let forged = audit(&t, &regulator, &bond, false).await;
            assert_eq!(forged["verified"], false, "{forged}");
            assert_eq!(forged["already_verified"], already);
            assert!(
                forged["detail"].as_str().unwrap().starts_with(
                    "entry 5: maintained state: the positions after the entry differ from the replay"
                ),
                "{forged}"
            );
        }
        t.sql(
            "UPDATE entry_parties SET balance = balance - 1000 WHERE idx = 5 AND balance IS NOT NULL \
             AND ledger_id = (SELECT ledger_id FROM bonds WHERE id = $1)",
            &[SqlArg::Text(&bond)],
        )
        .await;
        assert_eq!(audit(&t, &regulator, &bond, false).await["verified"], true);

        // A forgery before the last audited checkpoint is not read again by the incremental
        // audit; the full one reads every entry and catches it.
        t.sql(
            "UPDATE entry_parties SET balance = balance + 7 WHERE idx = 2 AND balance IS NOT NULL \
             AND ledger_id = (SELECT ledger_id FROM bonds WHERE id = $1)",
            &[SqlArg::Text(&bond)],
        )
        .await;
        assert_eq!(audit(&t, &regulator, &bond, false).await["verified"], true);
        let full = audit(&t, &regulator, &bond, true).await;
        assert_eq!(full["verified"], false, "{full}");
        assert_eq!(full["already_verified"], "0");
        assert!(
            full["detail"]
                .as_str()
                .unwrap()
                .starts_with("entry 2: maintained state"),
            "{full}"
        );
        let after = audit(&t, &regulator, &bond, false).await;
        assert_eq!(after["verified"], false, "{after}");
        assert_eq!(after["already_verified"], "0");

        // A state document that is not the replay's (a redemption no entry recorded).
        t.sql(
            "UPDATE entry_parties SET balance = balance - 7 WHERE idx = 2 AND balance IS NOT NULL \
             AND ledger_id = (SELECT ledger_id FROM bonds WHERE id = $1)",
            &[SqlArg::Text(&bond)],
        )
        .await;
        assert_eq!(audit(&t, &regulator, &bond, true).await["verified"], true);

        // A holder's latest row is what reads serve: forged before the last audited
        // checkpoint, the incremental audit still finds it, comparing the register at the head.
        let b_row = |delta: &str| {
            format!(
                "UPDATE entry_parties SET balance = balance {delta} WHERE idx = 3 AND party_id = $2 \
                 AND ledger_id = (SELECT ledger_id FROM bonds WHERE id = $1)"
            )
        };
        t.sql(&b_row("+ 3"), &[SqlArg::Text(&bond), SqlArg::Text(&b.id)])
            .await;
        let head = audit(&t, &regulator, &bond, false).await;
        assert_eq!(head["verified"], false, "{head}");
        assert_eq!(head["already_verified"], "6");
        assert_eq!(
            head["detail"],
            "maintained state: the register at the head differs from the replay"
        );
        t.sql(&b_row("- 3"), &[SqlArg::Text(&bond), SqlArg::Text(&b.id)])
            .await;
        assert_eq!(audit(&t, &regulator, &bond, false).await["verified"], true);
        t.sql(
            "UPDATE bond_states SET state = replace(state, '\"redeemed_on\":null', '\"redeemed_on\":\"2030-01-01\"') \
             WHERE ledger_id = (SELECT ledger_id FROM bonds WHERE id = $1)",
            &[SqlArg::Text(&bond)],
        )
        .await;
        let doc = audit(&t, &regulator, &bond, false).await;
        assert_eq!(doc["verified"], false, "{doc}");
        assert!(
            doc["detail"]
                .as_str()
                .unwrap()
                .contains("the state document"),
            "{doc}"
        );
    }
);

on_both!(
    a_trial_audit_goes_on_from_its_last_replay,
    |t: TestApp| async move {
        t.set_time(time::macros::datetime!(2026-10-01 01:00 UTC));
        let regulator = t.party(Role::Regulator, "Kinki Local Finance Bureau").await;
        let issuer = t.party(Role::Issuer, "Osaka Green Energy K.K.").await;
        let create = regulator.sign(json!({"type": "trial.create", "trial": {"title": "Osaka IFC ST green bond trial", "rulebook": V1}}));
        let reply = t.post("/v1/trials", Some(&regulator.token), create).await;
        let trial = created(&reply)["trial"]["id"].as_str().unwrap().to_owned();
        let tx = |party: &Party, id: &str, body: Value| {
            party.sign(json!({"type": "sandbox.tx", "trial_id": trial, "tx_id": id, "body": body}))
        };
        let path = format!("/v1/trials/{trial}/transactions");
        let admit = json!({"type": "participant.admit", "party": issuer.id, "role": "issuer", "kyc_expires_on": "2027-12-31"});
        created(
            &t.post(
                &path,
                Some(&regulator.token),
                tx(&regulator, "admit", admit),
            )
            .await,
        );

        let first = audit(&t, &regulator, &trial, false).await;
        assert_eq!(first["verified"], true, "{first}");
        assert_eq!(first["already_verified"], "0");
        assert!(
            first["detail"].as_str().unwrap().ends_with(
                "; 1 recorded verdicts confirmed by replay; the state served matches the replay"
            ),
            "{first}"
        );

        // A refused transaction (no consent yet) and a consent: judged from the kept replay.
        let issue = json!({"type": "issue", "to": issuer.id, "amount": "1000", "use_of_proceeds": "renewable_energy"});
        created(
            &t.post(&path, Some(&issuer.token), tx(&issuer, "early", issue))
                .await,
        );
        let consent = json!({"type": "disclosure.consent", "disclosure_version": "OIFC-GST-DISCLOSURE-2026-09"});
        created(
            &t.post(&path, Some(&issuer.token), tx(&issuer, "consent", consent))
                .await,
        );
        let next = audit(&t, &regulator, &trial, false).await;
        assert_eq!(next["verified"], true, "{next}");
        assert_eq!(next["already_verified"], "2");
        assert!(
            next["detail"].as_str().unwrap().ends_with(
                "(2 verified by an earlier audit, not read again); 3 recorded verdicts confirmed \
                 by replay; the state served matches the replay"
            ),
            "{next}"
        );
        // The rule state the report is read from, forged: caught.
        t.sql(
            "UPDATE trial_states SET state = replace(state, '\"refused\":1', '\"refused\":0') \
             WHERE ledger_id = (SELECT ledger_id FROM trials WHERE id = $1)",
            &[SqlArg::Text(&trial)],
        )
        .await;
        let forged = audit(&t, &regulator, &trial, false).await;
        assert_eq!(forged["verified"], false, "{forged}");
        assert_eq!(
            forged["detail"],
            "maintained state: the rule state and verdict counts the report is read from differ from the replay"
        );
        t.sql(
            "UPDATE trial_states SET state = replace(state, '\"refused\":0', '\"refused\":1') \
             WHERE ledger_id = (SELECT ledger_id FROM trials WHERE id = $1)",
            &[SqlArg::Text(&trial)],
        )
        .await;

        // The full audit says the same of the whole ledger.
        let full = audit(&t, &regulator, &trial, true).await;
        assert_eq!(full["verified"], true, "{full}");
        assert!(
            full["detail"]
                .as_str()
                .unwrap()
                .starts_with("4 entries verified against the signed checkpoint; 3 recorded"),
            "{full}"
        );

        // Entry 0 names the trial and its rulebook; a resumed audit reads it again, and a
        // different entry 0 (here its title changed in the database) is refused.
        let export = t
            .get(
                &format!("/v1/trials/{trial}/ledger/export"),
                Some(&regulator.token),
            )
            .await
            .text();
        let zero = export.lines().next().unwrap();
        let forged = zero.replace("green bond trial", "green bond trial (amended)");
        assert_ne!(forged, zero);
        t.sql(
            "UPDATE entries SET leaf = $2 WHERE idx = 0 \
             AND ledger_id = (SELECT ledger_id FROM trials WHERE id = $1)",
            &[SqlArg::Text(&trial), SqlArg::Bytes(forged.as_bytes())],
        )
        .await;
        let resumed = audit(&t, &regulator, &trial, false).await;
        assert_eq!(resumed["verified"], false, "{resumed}");
        assert_eq!(resumed["already_verified"], "4");
        assert_eq!(
            resumed["detail"],
            "entry 0: not the entry an earlier audit verified"
        );
    }
);
