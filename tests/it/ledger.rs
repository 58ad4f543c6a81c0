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

on_both!(
    a_bond_ledger_served_as_c2sp_tiles_verifies_against_its_checkpoint_from_tiles_alone,
    |t: TestApp| async move {
        // A ledger of 259 entries: one full level-0 tile and a partial one of width 3.
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        let a = t.party(Role::Investor, "Kansai Pension Fund").await;
        let b = t.party(Role::Investor, "Naniwa Trust Bank").await;
        created(&t.op(&issuer, &bond, json!({"type": "token.issue", "allocations": [{"investor": a.id, "quantity": "1000"}]})).await);
        for n in 0..257 {
            let (from, to) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
            created(
                &t.op(
                    from,
                    &bond,
                    json!({"type": "token.transfer", "to": to.id, "quantity": "1"}),
                )
                .await,
            );
        }
        let prefix = format!("/v1/bonds/{bond}/ledger");

        // What an outsider does: the checkpoint, then tiles only.
        let checkpoint = t.get(&format!("{prefix}/checkpoint"), None).await.text();
        let body: Vec<&str> = checkpoint.lines().collect();
        let size: u64 = body[1].parse().unwrap();
        assert_eq!(size, 259);
        let root: Hash = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(body[2])
                .unwrap()
                .try_into()
                .unwrap()
        };
        let tile = |path: String| {
            let t = &t;
            async move {
                let reply = t.get(&path, None).await;
                assert_eq!(reply.status, 200, "{path}: {}", reply.text());
                assert_eq!(reply.content_type(), "application/octet-stream");
                assert_eq!(
                    reply.headers["cache-control"],
                    "public, max-age=604800, immutable"
                );
                reply
                    .body
                    .chunks(32)
                    .map(|c| Hash::try_from(c).unwrap())
                    .collect::<Vec<Hash>>()
            }
        };
        let full = tile(format!("{prefix}/tile/0/000")).await;
        let partial = tile(format!("{prefix}/tile/0/001.p/3")).await;
        let upper = tile(format!("{prefix}/tile/1/000.p/1")).await;
        assert_eq!((full.len(), partial.len(), upper.len()), (256, 3, 1));
        // The level-1 tile holds the full level-0 tile's root, and the two make the root the
        // service signed.
        assert_eq!(merkle::root_of(&full), upper[0]);
        assert_eq!(
            merkle::node_hash(&upper[0], &merkle::root_of(&partial)),
            root
        );

        // The entries hash to the leaves (entry bundles: u16 length, then the entry).
        for (path, leaves) in [("000", &full), ("001.p/3", &partial)] {
            let reply = t
                .get(
                    &format!("{prefix}/tile/entries/{path}"),
                    Some(&issuer.token),
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let entries = midori::ledger::tiles::unbundle(&reply.body).unwrap();
            assert_eq!(entries.len(), leaves.len());
            for (entry, leaf) in entries.iter().zip(leaves.iter()) {
                assert_eq!(merkle::leaf_hash(entry), *leaf);
            }
        }

        // Entries stay with whom may read them; tiles the tree does not hold yet, and paths not
        // in the specification's form, are not found.
        t.get(&format!("{prefix}/tile/entries/000"), None)
            .await
            .problem(401, "unauthenticated");
        t.get(&format!("{prefix}/tile/entries/000"), Some(&a.token))
            .await
            .problem(403, "forbidden");
        for path in [
            "0/001",
            "0/001.p/4",
            "1/000",
            "2/000.p/1",
            "0/0",
            "0/x000/000",
            "0/000.p/256",
            "64/000",
        ] {
            t.get(&format!("{prefix}/tile/{path}"), None)
                .await
                .problem(404, "not-found");
        }
        // The key log is a tiled log too.
        let keys = t.get("/v1/keys/ledger/checkpoint", None).await.text();
        let key_log_size: u64 = keys.lines().nth(1).unwrap().parse().unwrap();
        let reply = t
            .get(
                &format!("/v1/keys/ledger/tile/0/000.p/{key_log_size}"),
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.body.len() as u64, 32 * key_log_size);

        // `midori verify --tiles`: the same ledger read from its tiles over HTTP, the checkpoint
        // from `URL/checkpoint`; then, after more entries, only what was appended since.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = t.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let dir = std::env::temp_dir().join(format!("midori-tiles-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let jwks = dir.join("jwks.json");
        std::fs::write(&jwks, t.get("/.well-known/jwks.json", None).await.text()).unwrap();
        let record = dir.join("record.json");
        let url = format!("http://{addr}{prefix}");
        let verify = |extra: Vec<String>| {
            let mut args: Vec<String> = vec![
                "midori".into(),
                "verify".into(),
                "--tiles".into(),
                url.clone(),
            ];
            args.extend(["--keys".into(), jwks.display().to_string()]);
            args.extend(extra);
            async move {
                use clap::Parser;
                midori::cli::run(midori::cli::Cli::parse_from(args)).await
            }
        };
        let ok = std::process::ExitCode::SUCCESS;
        let token = || vec!["--token".to_owned(), issuer.token.clone()];
        let saving = [token(), vec!["--save".into(), record.display().to_string()]].concat();
        assert_eq!(verify(saving).await.unwrap(), ok);
        // The entry bundles are the issuer's to read: without the key, the fetch is refused.
        let refused = verify(vec![]).await.unwrap_err();
        assert!(format!("{refused:#}").contains("HTTP 401"), "{refused:#}");
        for _ in 0..3 {
            created(
                &t.op(
                    &a,
                    &bond,
                    json!({"type": "token.transfer", "to": b.id, "quantity": "1"}),
                )
                .await,
            );
        }
        let since = [
            token(),
            vec!["--since".into(), record.display().to_string()],
        ]
        .concat();
        assert_eq!(verify(since).await.unwrap(), ok);
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
        assert_eq!(saved["tree"]["size"], 259);
        std::fs::remove_dir_all(&dir).ok();
    }
);

on_both!(
    an_auditor_verifies_in_two_steps_reading_only_what_was_appended_since_its_last_checkpoint,
    |t: TestApp| async move {
        use midori::ledger::audit::{Options, verify_stream};
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        let add = |n: usize| {
            let body = issuer.sign(document(&bond, n));
            let (t, token, bond) = (&t, issuer.token.clone(), bond.clone());
            async move {
                let reply = t
                    .post(&format!("/v1/bonds/{bond}/documents"), Some(&token), body)
                    .await;
                assert_eq!(reply.status, 201, "{}", reply.text());
            }
        };
        for n in 0..5 {
            add(n).await;
        }
        let keys = t.jwks().await;
        let path = format!("/v1/bonds/{bond}/ledger/checkpoint");
        let first = t.get(&path, None).await.text();
        let whole = export(&t, &issuer.token, &bond).await;
        let options = Options {
            threads: 2,
            since: None,
        };
        let (report, frontier) =
            verify_stream(whole.lines(), &first, &keys, &options, |_| Ok(())).unwrap();
        assert_eq!((report.entries, frontier.size), (6, 6));

        for n in 5..12 {
            add(n).await;
        }
        let second = t.get(&path, None).await.text();
        // Only what follows the first checkpoint's size is fetched and read.
        let tail = t
            .get(
                &format!("/v1/bonds/{bond}/ledger/export?from=6"),
                Some(&issuer.token),
            )
            .await
            .text();
        assert_eq!(tail.lines().count(), 7);
        let since = Options {
            threads: 2,
            since: Some(frontier.clone()),
        };
        let (report, next) =
            verify_stream(tail.lines(), &second, &keys, &since, |_| Ok(())).unwrap();
        assert_eq!(
            (
                report.entries,
                report.already_verified,
                report.checkpoint_size,
                next.size
            ),
            (13, 6, 13, 13)
        );

        // The same tail against a record whose frontier was tampered with: refused.
        let mut bad = frontier.clone();
        bad.frontier[0] = midori::ledger::canon::b64url(&[0; 32]);
        let refused = verify_stream(
            tail.lines(),
            &second,
            &keys,
            &Options {
                threads: 1,
                since: Some(bad),
            },
            |_| Ok(()),
        )
        .unwrap_err();
        assert!(refused.reason.contains("frontier"), "{refused}");
        // A tail that does not start where the record ends: the first entry is named.
        let refused = verify_stream(
            tail.lines().skip(1),
            &second,
            &keys,
            &Options {
                threads: 2,
                since: Some(frontier),
            },
            |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(refused.index, Some(6), "{refused}");
        // A from beyond 2^53 − 1 is a clear 400.
        t.get(
            &format!("/v1/bonds/{bond}/ledger/export?from=9007199254740992"),
            Some(&issuer.token),
        )
        .await
        .problem(400, "bad-request");
    }
);

on_both!(
    documents_added_after_registration_are_listed_with_the_entry_that_recorded_them,
    |t: TestApp| async move {
        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let spec = green_spec();
        let bond = t.register(&issuer, spec.clone()).await;
        for n in [1, 2] {
            let reply = t
                .post(
                    &format!("/v1/bonds/{bond}/documents"),
                    Some(&issuer.token),
                    issuer.sign(document(&bond, n)),
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text());
        }

        // Anyone may read them: the registration's first, then the two added, in ledger order.
        let reply = t.get(&format!("/v1/bonds/{bond}/documents"), None).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let listed = reply.json();
        assert_eq!(listed["bond_id"], bond.as_str());
        let documents = listed["documents"].as_array().unwrap();
        let registered = spec["documents"].as_array().unwrap();
        assert_eq!(documents.len(), registered.len() + 2);
        for (d, r) in documents.iter().zip(registered) {
            assert_eq!(d["entry_index"], "0");
            for field in ["kind", "uri", "sha256"] {
                assert_eq!(d["document"][field], r[field], "{field}");
            }
        }
        let entries = t
            .get(
                &format!("/v1/bonds/{bond}/ledger/entries"),
                Some(&issuer.token),
            )
            .await
            .json();
        for (n, d) in [1, 2].into_iter().zip(&documents[registered.len()..]) {
            let added = &document(&bond, n)["document"];
            for field in ["kind", "uri", "sha256"] {
                assert_eq!(d["document"][field], added[field], "{field}");
            }
            assert_eq!(d["entry_index"], n.to_string());
            assert_eq!(d["recorded_at"], entries["entries"][n]["time"]);
        }
        t.get(
            "/v1/bonds/00000000-0000-7000-8000-000000000000/documents",
            None,
        )
        .await
        .problem(404, "not-found");
    }
);
