//! Parties, keys and API keys.

use midori::domain::party::Role;
use midori::ledger::canon::{b64url, jwk_thumbprint, sign_jcs};
use serde_json::{Value, json};

use crate::on_both;
use crate::support::*;

on_both!(
    an_operator_creates_a_party_whose_api_key_then_works,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let key = fresh_key();
        let reply = t
        .post(
            "/v1/parties",
            Some(&operator.token),
            json!({"role": "investor", "attributes": default_attributes(Role::Investor, "Kansai Pension Fund"),
                   "public_key": b64url(key.verifying_key().as_bytes())}),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let created = reply.json();
        let token = created["api_key"].as_str().unwrap();
        assert!(token.starts_with("mdr_"));
        let id = created["party"]["id"].as_str().unwrap();
        assert_eq!(created["party"]["attributes"]["investor_category"], "qii");
        let me = t.get(&format!("/v1/parties/{id}"), Some(token)).await;
        assert_eq!(me.status, 200, "{}", me.text());
        assert_eq!(me.json()["keys"][0]["active"], true);
    }
);

on_both!(
    party_attributes_are_validated_field_by_field,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let reply = t
        .post(
            "/v1/parties",
            Some(&operator.token),
            json!({"role": "issuer", "attributes": {"name": "Bad Corp", "lei": "5493001KJTIIGC8Y1R13", "country": "XX"},
                   "public_key": "not-a-key"}),
        )
        .await;
        let problem = reply.problem(422, "validation-failed");
        let pointers: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap())
            .collect();
        assert!(
            pointers.contains(&"/public_key"),
            "/public_key missing in {pointers:?}"
        );
        assert!(pointers.iter().any(|p| p.ends_with("lei")), "{pointers:?}");
        assert!(
            pointers.iter().any(|p| p.ends_with("country")),
            "{pointers:?}"
        );
    }
);

on_both!(
    a_revoked_api_key_no_longer_authenticates,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let investor = t.party(Role::Investor, "Kansai Pension Fund").await;
        let extra = t
            .post(
                &format!("/v1/parties/{}/api-keys", investor.id),
                Some(&operator.token),
                json!({}),
            )
            .await;
        assert_eq!(extra.status, 201, "{}", extra.text());
        let extra = extra.json();
        let token = extra["api_key"].as_str().unwrap();
        assert_eq!(
            t.get(&format!("/v1/parties/{}", investor.id), Some(token))
                .await
                .status,
            200
        );
        let revoked = t
            .send(
                axum::http::Method::DELETE,
                &format!("/v1/api-keys/{}", extra["api_key_id"].as_str().unwrap()),
                Some(&operator.token),
                None,
            )
            .await;
        assert_eq!(revoked.status, 204, "{}", revoked.text());
        t.get(&format!("/v1/parties/{}", investor.id), Some(token))
            .await
            .problem(401, "unauthenticated");
        // The party's first key still works.
        assert_eq!(
            t.get(
                &format!("/v1/parties/{}", investor.id),
                Some(&investor.token)
            )
            .await
            .status,
            200
        );
    }
);

on_both!(
    rotating_a_key_retires_the_old_one_and_keeps_its_signatures_verifiable,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let first = t.register(&issuer, green_spec()).await;

        let new_key = fresh_key();
        let rotation = rotation(&issuer, &new_key);
        let reply = t
            .post(
                &format!("/v1/parties/{}/keys/rotate", issuer.id),
                Some(&issuer.token),
                rotation.clone(),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        // A captured rotation cannot be played again: the key that signed it is retired.
        t.post(
            &format!("/v1/parties/{}/keys/rotate", issuer.id),
            Some(&issuer.token),
            rotation,
        )
        .await
        .problem(422, "signature-invalid");
        let keys = t
            .get(&format!("/v1/parties/{}/keys", issuer.id), None)
            .await
            .json();
        let keys = keys.as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.iter().filter(|k| k["active"] == true).count(), 1);

        // The retired key can no longer sign new requests...
        let stale = issuer.sign(json!({"type": "bond.register", "bond": green_spec()}));
        t.post("/v1/bonds", Some(&issuer.token), stale)
            .await
            .problem(422, "signature-invalid");
        // ...the new one can...
        let mut payload = json!({"type": "bond.register", "bond": green_spec()});
        let fresh = issuer.sign_with(&mut payload, &new_key, issuer.next_nonce());
        assert_eq!(
            t.post("/v1/bonds", Some(&issuer.token), fresh).await.status,
            201
        );
        // ...and what the old key signed still verifies offline.
        t.export_and_verify(&first, &issuer.token).await.1.unwrap();
    }
);

on_both!(
    the_service_publishes_its_keys_as_a_jwk_set_and_a_note_verifier,
    |t: TestApp| async move {
        let keys = t.jwks().await;
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kty, "OKP");
        assert_eq!(keys[0].crv, "Ed25519");
        assert_eq!(keys[0].kid.as_deref(), Some(t.app.signer().kid()));
        let vkey = t.get("/.well-known/checkpoint-key", None).await.text();
        assert!(vkey.starts_with("midori.test+"), "{vkey}");
    }
);

/// A `key.rotate` to `new_key`, signed by the party's current key and by the new one.
fn rotation(party: &Party, new_key: &ed25519_dalek::SigningKey) -> Value {
    let mut signed = party.sign(json!({"type": "key.rotate", "party_id": party.id,
        "new_key": b64url(new_key.verifying_key().as_bytes())}));
    signed["new_key_signature"] = json!(sign_jcs(&signed["payload"], new_key).unwrap());
    signed
}

on_both!(
    a_bearer_token_alone_never_changes_what_a_party_signs_with,
    |t: TestApp| async move {
        // Arrange: the operator (who can mint API keys for anyone) and a thief holding the
        // investor's API key, each with a key pair of their own.
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let investor = t.party(Role::Investor, "Kansai Pension Fund").await;
        let theirs = fresh_key();
        let possession = |key: &ed25519_dalek::SigningKey| {
            json!({"public_key": b64url(key.verifying_key().as_bytes()),
                   "possession": sign_jcs(&midori::app::possession_statement(&investor.id), key).unwrap()})
        };

        // Act / Assert: no first-key registration over an existing key, by anyone.
        for token in [&operator.token, &investor.token] {
            t.post(
                &format!("/v1/parties/{}/keys", investor.id),
                Some(token),
                possession(&theirs),
            )
            .await
            .problem(409, "conflict");
        }
        // No rotation without the current key's signature (the thief signs with its own).
        let thief = investor.with_key(theirs.clone());
        t.post(
            &format!("/v1/parties/{}/keys/rotate", investor.id),
            Some(&investor.token),
            rotation(&thief, &fresh_key()),
        )
        .await
        .problem(422, "signature-invalid");
        // The operator may not rotate another party's key at all.
        t.post(
            &format!("/v1/parties/{}/keys/rotate", investor.id),
            Some(&operator.token),
            rotation(&investor, &theirs),
        )
        .await
        .problem(403, "forbidden");
        // Without the new key's signature, the current key alone does not rotate either.
        let mut unproven = rotation(&investor, &theirs);
        unproven["new_key_signature"] = json!(b64url(&[1u8; 64]));
        t.post(
            &format!("/v1/parties/{}/keys/rotate", investor.id),
            Some(&investor.token),
            unproven,
        )
        .await
        .problem(422, "signature-invalid");
        let keys = t
            .get(&format!("/v1/parties/{}/keys", investor.id), None)
            .await
            .json();
        assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
        assert_eq!(keys[0]["kid"], investor.kid());
    }
);

on_both!(
    a_party_created_without_a_key_registers_its_first_with_proof_of_possession,
    |t: TestApp| async move {
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let regulator = t
            .post(
                "/v1/parties",
                Some(&operator.token),
                json!({"role": "regulator", "attributes": {"name": "Kinki Local Finance Bureau", "country": "JP"}}),
            )
            .await;
        assert_eq!(regulator.status, 201, "{}", regulator.text());
        let id = regulator.json()["party"]["id"].as_str().unwrap().to_owned();
        let key = fresh_key();
        let statement = midori::app::possession_statement(&id);
        // A proof made for another party does not do.
        let wrong = sign_jcs(&midori::app::possession_statement(&operator.id), &key).unwrap();
        t.post(
            &format!("/v1/parties/{id}/keys"),
            Some(&operator.token),
            json!({"public_key": b64url(key.verifying_key().as_bytes()), "possession": wrong}),
        )
        .await
        .problem(422, "validation-failed");
        let reply = t
            .post(
                &format!("/v1/parties/{id}/keys"),
                Some(&operator.token),
                json!({"public_key": b64url(key.verifying_key().as_bytes()),
                       "possession": sign_jcs(&statement, &key).unwrap()}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        assert_eq!(reply.json()["active"], true);
    }
);

on_both!(
    every_key_event_is_on_the_key_log_and_every_signer_is_checked_against_it,
    |t: TestApp| async move {
        use midori::ledger::keylog::verify_signers;
        // Arrange: an issued bond; the investor transfers, rotates its key, transfers again.
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        let a = t.party(Role::Investor, "Kansai Pension Fund").await;
        let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
        let issued = t
            .op(&issuer, &bond, json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "100"}]}))
            .await;
        assert_eq!(issued.status, 201, "{}", issued.text());
        let transfer = json!({"type": "token.transfer", "to": b.id, "quantity": "10"});
        assert_eq!(t.op(&a, &bond, transfer.clone()).await.status, 201);
        let new_key = fresh_key();
        let rotated = t
            .post(
                &format!("/v1/parties/{}/keys/rotate", a.id),
                Some(&a.token),
                rotation(&a, &new_key),
            )
            .await;
        assert_eq!(rotated.status, 201, "{}", rotated.text());
        let a2 = a.with_key(new_key);
        let after = t.op(&a2, &bond, transfer.clone()).await;
        assert_eq!(after.status, 201, "{}", after.text());
        let after_index: u64 = after.json()["entry_index"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();

        // The key log holds every key event, publicly.
        let log = t.get("/v1/keys/ledger/export", None).await.text();
        let kinds: Vec<String> = log
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(kinds.iter().filter(|k| *k == "key.registered").count(), 3);
        assert_eq!(kinds.iter().filter(|k| *k == "key.rotated").count(), 1);
        let log_checkpoint = t.get("/v1/keys/ledger/checkpoint", None).await.text();
        let (export, verified) = t.export_and_verify(&bond, &issuer.token).await;
        verified.unwrap();
        let lines: Vec<&[u8]> = export.lines().map(str::as_bytes).collect();
        let log_lines: Vec<&[u8]> = log.lines().map(str::as_bytes).collect();
        let jwks = t.jwks().await;

        // Act / Assert: every signer checks out against the whole log...
        let report = verify_signers(&lines, &log_lines, &log_checkpoint, &jwks).unwrap();
        assert_eq!(report.checked, 4, "registration, issuance, two transfers");
        assert_eq!(report.backfilled, 0);

        // ...but not against a log that stops before the rotation (what a server hiding a key
        // change would show): the entry signed with the new key is named.
        let before = log_lines.len() - 1;
        let short_checkpoint = t
            .get(&format!("/v1/keys/ledger/checkpoint?size={before}"), None)
            .await
            .text();
        let failure =
            verify_signers(&lines, &log_lines[..before], &short_checkpoint, &jwks).unwrap_err();
        assert_eq!(failure.index, Some(after_index), "{failure}");
        assert!(failure.reason.contains("not on the key log"), "{failure}");

        // Someone with write access to the database slips a key of its own in for the investor:
        // the service refuses what it signs, because the key log does not show that key.
        let evil = fresh_key();
        t.sql(
            "UPDATE party_keys SET active = FALSE WHERE party_id = $1",
            &[SqlArg::Text(&a.id)],
        )
        .await;
        t.sql(
            "INSERT INTO party_keys (kid, party_id, public_key, active, created_at) VALUES ($1, $2, $3, TRUE, '2026-04-01T09:00:00.000000Z')",
            &[
                SqlArg::Text(&jwk_thumbprint(&evil.verifying_key())),
                SqlArg::Text(&a.id),
                SqlArg::Bytes(evil.verifying_key().as_bytes()),
            ],
        )
        .await;
        let forged = t.op(&a.with_key(evil), &bond, transfer).await;
        forged.problem(422, "signature-invalid");
        let (export_after, _) = t.export_and_verify(&bond, &issuer.token).await;
        assert_eq!(export_after.lines().count(), export.lines().count());
    }
);

on_both!(
    a_lost_key_is_recovered_only_by_an_operator_and_a_regulator_together_and_loudly,
    |t: TestApp| async move {
        use midori::ledger::keylog::verify_signers;
        // Arrange: the investor holds tokens, then loses its key.
        let operator = t.party(Role::Operator, "Exchange operations").await;
        let regulator = t.party(Role::Regulator, "Kinki Local Finance Bureau").await;
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        let a = t.party(Role::Investor, "Kansai Pension Fund").await;
        let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
        let issued = t
            .op(&issuer, &bond, json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "100"}]}))
            .await;
        assert_eq!(issued.status, 201, "{}", issued.text());
        let new_key = fresh_key();
        let proof = sign_jcs(&midori::app::possession_statement(&a.id), &new_key).unwrap();
        let ask = json!({"public_key": b64url(new_key.verifying_key().as_bytes()),
                         "possession": proof, "reason": "Ticket OPS-2026-114: the fund's HSM failed; identity re-verified in person"});
        let path = format!("/v1/parties/{}/keys/recoveries", a.id);

        // Only an operator asks, with a reason.
        t.post(&path, Some(&a.token), ask.clone())
            .await
            .problem(403, "forbidden");
        t.post(&path, Some(&regulator.token), ask.clone())
            .await
            .problem(403, "forbidden");
        let mut no_reason = ask.clone();
        no_reason["reason"] = json!(" ");
        t.post(&path, Some(&operator.token), no_reason)
            .await
            .problem(422, "validation-failed");
        let asked = t.post(&path, Some(&operator.token), ask).await;
        assert_eq!(asked.status, 201, "{}", asked.text());
        let recovery = asked.json()["recovery_id"].as_str().unwrap().to_owned();

        // Asked is not done: the new key signs nothing yet.
        let a2 = a.with_key(new_key.clone());
        let transfer = json!({"type": "token.transfer", "to": b.id, "quantity": "10"});
        t.op(&a2, &bond, transfer.clone())
            .await
            .problem(422, "signature-invalid");

        // The operator cannot approve its own request; a regulator signs the approval.
        let approval = |who: &Party| {
            who.sign(
                json!({"type": "key.recovery_approve", "recovery_id": recovery,
                "party_id": a.id, "new_key": b64url(new_key.verifying_key().as_bytes())}),
            )
        };
        let approve = format!("/v1/keys/recoveries/{recovery}/approve");
        t.post(&approve, Some(&operator.token), approval(&operator))
            .await
            .problem(403, "forbidden");
        let approved = t
            .post(&approve, Some(&regulator.token), approval(&regulator))
            .await;
        assert_eq!(approved.status, 201, "{}", approved.text());
        // Once only.
        t.post(&approve, Some(&regulator.token), approval(&regulator))
            .await
            .problem(409, "conflict");

        // The recovered key signs; the lost one no longer does.
        let moved = t.op(&a2, &bond, transfer.clone()).await;
        assert_eq!(moved.status, 201, "{}", moved.text());
        let moved_index: u64 = moved.json()["entry_index"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        t.op(&a, &bond, transfer)
            .await
            .problem(422, "signature-invalid");

        // Everyone sees it on the key log; the audit flags what the recovered key signed.
        let log = t.get("/v1/keys/ledger/export", None).await.text();
        assert!(log.contains("key.recovery_requested") && log.contains("key.recovered"));
        assert!(log.contains("HSM failed"));
        let log_checkpoint = t.get("/v1/keys/ledger/checkpoint", None).await.text();
        let (export, verified) = t.export_and_verify(&bond, &issuer.token).await;
        verified.unwrap();
        let lines: Vec<&[u8]> = export.lines().map(str::as_bytes).collect();
        let log_lines: Vec<&[u8]> = log.lines().map(str::as_bytes).collect();
        let report = verify_signers(&lines, &log_lines, &log_checkpoint, &t.jwks().await).unwrap();
        assert_eq!(report.recovered.len(), 1, "{report:?}");
        assert_eq!(report.recovered[0].0, moved_index);
    }
);

on_both!(
    a_key_another_process_recorded_signs_at_once,
    |t: TestApp| async move {
        // `midori admin create-party` runs its own engine on the service's database: the
        // running service learns the new key from the stored key log, not from its cache.
        let early = t.party(Role::Issuer, "Kobe City").await;
        t.register(&early, green_spec()).await; // the service's engine has the key log cached
        let admin = t.second_process().await;
        let issuer = admin.party(Role::Issuer, "Osaka Prefecture").await;
        let reply = t
            .post(
                "/v1/bonds",
                Some(&issuer.token),
                issuer.sign(json!({"type": "bond.register", "bond": green_spec()})),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
);
