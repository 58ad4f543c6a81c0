//! The ledger core through the API: contiguous indices under concurrency, proofs that verify
//! against signed checkpoints, and exports that verify offline — and fail on a changed byte.

use std::sync::Arc;

use midori::domain::party::Role;
use midori::ledger::audit::verify_export;
use midori::ledger::canon::b64url_decode;
use midori::ledger::merkle::{self, Hash};
use midori::ledger::note;
use serde_json::{Value, json};

use crate::on_both;
use crate::support::*;

fn hash(text: &Value) -> Hash {
    b64url_decode(text.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn document(bond: &str, n: usize) -> Value {
    json!({"type": "bond.add_document", "bond_id": bond, "document": {
        "kind": "other",
        "uri": format!("https://example.org/osaka/reports/{n}.pdf"),
        "sha256": format!("{:064x}", n + 1),
    }})
}

async fn export(t: &TestApp, token: &str, bond: &str) -> String {
    let reply = t
        .get(&format!("/v1/bonds/{bond}/ledger/export"), Some(token))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/jsonl");
    reply.text()
}

on_both!(
    fifty_concurrent_appends_get_contiguous_indices_and_consistent_checkpoints,
    |t: TestApp| async move {
        let t = Arc::new(t);
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;

        // Sign all 50 first, then send them at once.
        let bodies: Vec<Value> = (0..50).map(|n| issuer.sign(document(&bond, n))).collect();
        let mut tasks = Vec::new();
        for body in bodies {
            let (t, token, bond) = (t.clone(), issuer.token.clone(), bond.clone());
            tasks.push(tokio::spawn(async move {
                t.post(&format!("/v1/bonds/{bond}/documents"), Some(&token), body)
                    .await
            }));
        }
        let mut indices = Vec::new();
        let mut receipts = Vec::new();
        for task in tasks {
            let reply = task.await.unwrap();
            assert_eq!(reply.status, 201, "{}", reply.text());
            let receipt = reply.json();
            let index = receipt["entry_index"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap();
            indices.push(index);
            receipts.push((index, receipt["checkpoint"].as_str().unwrap().to_owned()));
        }
        indices.sort();
        let expected: Vec<u64> = (1..=50).collect();
        assert_eq!(
            indices, expected,
            "indices are contiguous from 1, none skipped or reused"
        );

        let size = 51;
        let latest = t
            .get(&format!("/v1/bonds/{bond}/ledger/checkpoint"), None)
            .await
            .text();
        let verifier = note::parse_verifier_key(
            t.get("/.well-known/checkpoint-key", None)
                .await
                .text()
                .trim(),
        )
        .unwrap();
        let latest = note::open_checkpoint(&latest, std::slice::from_ref(&verifier)).unwrap();
        assert_eq!(latest.size, size);

        // Every checkpoint handed out is signed, covers its entry, and is consistent with the latest.
        for (index, text) in &receipts {
            let cp = note::open_checkpoint(text, std::slice::from_ref(&verifier)).unwrap();
            assert!(cp.size > *index, "a receipt's checkpoint covers its entry");
            let proof = t
                .get(
                    &format!(
                        "/v1/bonds/{bond}/ledger/proofs/consistency?old_size={}&new_size={size}",
                        cp.size
                    ),
                    None,
                )
                .await
                .json();
            let path: Vec<Hash> = proof["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(hash)
                .collect();
            merkle::verify_consistency(cp.size, size, &path, &cp.root, &latest.root)
                .unwrap_or_else(|e| panic!("checkpoint {} inconsistent with {size}: {e}", cp.size));
        }
        // Every entry is included in the latest tree.
        let lines = export(&t, &issuer.token, &bond).await;
        for (index, line) in lines.lines().enumerate() {
            let proof = t
                .get(
                    &format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index={index}&size={size}"),
                    None,
                )
                .await
                .json();
            let path: Vec<Hash> = proof["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(hash)
                .collect();
            assert_eq!(
                hash(&proof["leaf_hash"]),
                merkle::leaf_hash(line.as_bytes())
            );
            merkle::verify_inclusion(
                &merkle::leaf_hash(line.as_bytes()),
                index as u64,
                size,
                &path,
                &latest.root,
            )
            .unwrap();
        }
    }
);

on_both!(
    an_export_verifies_offline_and_any_changed_byte_is_named_by_index,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        for n in 0..3 {
            let reply = t
                .post(
                    &format!("/v1/bonds/{bond}/documents"),
                    Some(&issuer.token),
                    issuer.sign(document(&bond, n)),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text());
        }
        let lines = export(&t, &issuer.token, &bond).await;
        let checkpoint = t
            .get(&format!("/v1/bonds/{bond}/ledger/checkpoint"), None)
            .await
            .text();
        let keys = t.jwks().await;
        let leaves: Vec<&[u8]> = lines.lines().map(str::as_bytes).collect();
        let report = verify_export(leaves.clone(), &checkpoint, &keys).unwrap();
        assert_eq!((report.entries, report.checkpoint_size), (4, 4));

        // Change one byte inside each entry in turn: the failure names that entry.
        for (victim, line) in lines.lines().enumerate() {
            let at = line.find("\"time\":\"").unwrap() + 8 + 3; // a digit of the year
            let mut bytes = line.as_bytes().to_vec();
            bytes[at] = if bytes[at] == b'7' { b'8' } else { b'7' };
            let mut tampered = leaves.clone();
            tampered[victim] = &bytes;
            let failure = verify_export(tampered, &checkpoint, &keys).unwrap_err();
            assert_eq!(failure.index, Some(victim as u64), "{failure}");
        }
        // A changed checkpoint fails on its signature.
        let tampered = checkpoint.replacen("\n4\n", "\n3\n", 1);
        assert!(
            verify_export(leaves.clone(), &tampered, &keys)
                .unwrap_err()
                .reason
                .contains("checkpoint")
        );
        // A dropped entry is caught too.
        assert!(verify_export(leaves[..3].to_vec(), &checkpoint, &keys).is_err());
    }
);

on_both!(
    proofs_for_sizes_that_do_not_exist_are_clear_problems,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        // An index the tree does not hold names no entry.
        t.get(
            &format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index=5&size=1"),
            None,
        )
        .await
        .problem(404, "not-found");
        t.get(
            &format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index=0&size=9"),
            None,
        )
        .await
        .problem(404, "not-found");
        t.get(&format!("/v1/bonds/{bond}/ledger/checkpoint?size=9"), None)
            .await
            .problem(404, "not-found");
        t.get(
            &format!("/v1/bonds/{bond}/ledger/proofs/consistency?old_size=0&new_size=1"),
            None,
        )
        .await
        .problem(400, "bad-request");
        t.get(
            &format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index=x"),
            None,
        )
        .await
        .problem(400, "bad-request");
        t.get("/v1/bonds/nope/ledger/checkpoint", None)
            .await
            .problem(404, "not-found");
    }
);

on_both!(
    entry_times_never_go_backwards_even_when_the_clock_does,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        t.set_time(time::macros::datetime!(2026-04-01 09:00:00.123456 UTC));
        let bond = t.register(&issuer, green_spec()).await;
        t.set_time(time::macros::datetime!(2026-04-01 08:00:00 UTC)); // an hour back (NTP step)
        let reply = t
            .post(
                &format!("/v1/bonds/{bond}/documents"),
                Some(&issuer.token),
                issuer.sign(document(&bond, 1)),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let entries = t
            .get(
                &format!("/v1/bonds/{bond}/ledger/entries"),
                Some(&issuer.token),
            )
            .await
            .json();
        assert_eq!(entries["entries"][0]["time"], "2026-04-01T09:00:00.123456Z");
        assert_eq!(entries["entries"][1]["time"], "2026-04-01T09:00:00.123456Z");
    }
);
