//! Witnesses (C2SP tlog-witness): the service submits each ledger's checkpoints to a witness
//! and serves the cosignatures; the witness refuses a checkpoint that forks from what it
//! cosigned, also after a restart, so an operator cannot show two histories.

use std::collections::HashMap;
use std::sync::Arc;

use midori::app::witnessing::WitnessTarget;
use midori::domain::party::Role;
use midori::http::witness::{Witness, router};
use midori::ledger::note::{self, Checkpoint};
use midori::ledger::witness::{self, AddCheckpoint, Refusal, TrustedLog};
use serde_json::json;

use crate::on_both;
use crate::support::*;

const WITNESS: &str = "witness.fsa.test/1";

fn open_witness(t: &TestApp, dir: &std::path::Path) -> Arc<Witness> {
    let vkey = t.app.note_verifier_key();
    let (name, key) = note::parse_verifier_key(&vkey).unwrap();
    Arc::new(
        Witness::open(
            WITNESS.into(),
            ed25519_dalek::SigningKey::from_bytes(&[42; 32]),
            vec![TrustedLog {
                origin_prefix: format!("{name}/"),
                keys: vec![(name, key)],
            }],
            dir.join("witness.json"),
        )
        .unwrap(),
    )
}

async fn serve(witness: Arc<Witness>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(witness)).await });
    format!("http://{addr}")
}

on_both!(
    checkpoints_are_cosigned_by_a_witness_that_refuses_a_fork_even_after_a_restart,
    |t: TestApp| async move {
        let dir = std::env::temp_dir().join(format!("midori-witness-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let witness = open_witness(&t, &dir);
        let target = WitnessTarget::parse(&format!(
            "{}={}",
            witness.vkey(),
            serve(witness.clone()).await
        ))
        .unwrap();
        let (name, key) = (target.name.clone(), target.key);

        let issuer = t.party(Role::Issuer, "Osaka Prefecture").await;
        let bond = t.register(&issuer, green_spec()).await;
        let path = format!("/v1/bonds/{bond}/ledger/checkpoint");
        // Before any witness is configured, asking for a witnessed checkpoint is a 404.
        t.get(&format!("{path}?witnessed=true"), None)
            .await
            .problem(404, "not-found");

        // The service's first round submits every ledger (the bond's and the key log).
        t.app
            .spawn_witnessing(vec![target.clone()], std::time::Duration::from_secs(3600))
            .unwrap();
        // The round goes through the ledgers one by one: wait for each.
        let witnessed = |path: String| {
            let t = &t;
            async move {
                for _ in 0..200 {
                    let reply = t.get(&format!("{path}?witnessed=true"), None).await;
                    if reply.status == 200 {
                        return reply.text();
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                panic!("{path} is not cosigned within 10 s");
            }
        };
        let cosigned = witnessed(path.clone()).await;
        assert!(
            witness::verify_cosignature(&cosigned, &name, &key).is_ok(),
            "{cosigned}"
        );
        // The note still opens with the service's key alone: the cosignature is one more line.
        let vkey = t.app.note_verifier_key();
        let log = note::parse_verifier_key(&vkey).unwrap();
        let first = note::open_checkpoint(&cosigned, std::slice::from_ref(&log)).unwrap();
        let keys = witnessed("/v1/keys/ledger/checkpoint".to_owned()).await;
        assert!(
            witness::verify_cosignature(&keys, &name, &key).is_ok(),
            "the key log is witnessed too: {keys}"
        );

        // The ledger grows; the next round proves consistency from the size last cosigned.
        for n in 0..3 {
            let body = issuer.sign(
                json!({"type": "bond.add_document", "bond_id": bond, "document": {
                "kind": "other", "uri": format!("https://example.org/r/{n}.pdf"),
                "sha256": format!("{:064x}", n + 1)}}),
            );
            let reply = t
                .post(
                    &format!("/v1/bonds/{bond}/documents"),
                    Some(&issuer.token),
                    body,
                )
                .await;
            assert_eq!(reply.status, 201, "{}", reply.text());
        }
        let mut last = HashMap::new();
        let round = t
            .app
            .witness_round(std::slice::from_ref(&target), &mut last)
            .await
            .unwrap();
        assert!(round.failed.is_empty(), "{:?}", round.failed);
        assert!(round.cosigned >= 1);
        // Nothing appended since: the next round submits nothing.
        let again = t
            .app
            .witness_round(std::slice::from_ref(&target), &mut last)
            .await
            .unwrap();
        assert_eq!(again, Default::default());
        let latest = t.get(&path, None).await.text();
        let grown = note::open_checkpoint(&latest, std::slice::from_ref(&log)).unwrap();
        assert_eq!(grown.size, first.size + 3);
        assert!(
            witness::verify_cosignature(&latest, &name, &key).is_ok(),
            "{latest}"
        );
        // A size can be asked for witnessed: served if every witness cosigned it, else 404.
        let at = |size: u64| format!("{path}?size={size}&witnessed=true");
        assert_eq!(t.get(&at(grown.size), None).await.text(), latest);
        t.get(&at(first.size + 1), None)
            .await
            .problem(404, "not-found");

        // Offline: `midori verify --witness` accepts the cosigned checkpoint, refuses when the
        // cosignature of another witness is required; `--save` then `--since` agree with it.
        let files = dir.join("audit");
        std::fs::create_dir_all(&files).unwrap();
        let export = t
            .get(
                &format!("/v1/bonds/{bond}/ledger/export"),
                Some(&issuer.token),
            )
            .await
            .text();
        std::fs::write(files.join("export.jsonl"), &export).unwrap();
        std::fs::write(files.join("checkpoint.txt"), &latest).unwrap();
        let jwks = t.get("/.well-known/jwks.json", None).await.text();
        std::fs::write(files.join("jwks.json"), jwks).unwrap();
        let verify = |extra: Vec<String>| {
            let files = files.clone();
            async move {
                let mut args: Vec<String> = ["midori", "verify", "--export"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                for (flag, name) in [
                    ("", "export.jsonl"),
                    ("--checkpoint", "checkpoint.txt"),
                    ("--keys", "jwks.json"),
                ] {
                    if !flag.is_empty() {
                        args.push(flag.into());
                    }
                    args.push(files.join(name).display().to_string());
                }
                args.extend(extra);
                use clap::Parser;
                midori::cli::run(midori::cli::Cli::parse_from(args))
                    .await
                    .unwrap()
            }
        };
        let ok = std::process::ExitCode::SUCCESS;
        assert_eq!(verify(vec!["--witness".into(), witness.vkey()]).await, ok);
        let stranger = witness::witness_vkey(
            "witness.other.test/1",
            &ed25519_dalek::SigningKey::from_bytes(&[43; 32]).verifying_key(),
        );
        assert_ne!(verify(vec!["--witness".into(), stranger]).await, ok);
        let record = files.join("record.json").display().to_string();
        assert_eq!(verify(vec!["--save".into(), record.clone()]).await, ok);
        // Nothing appended since: the same checkpoint verifies from the record with no entry.
        std::fs::write(files.join("export.jsonl"), "").unwrap();
        assert_eq!(verify(vec!["--since".into(), record]).await, ok);

        // A split view: the operator signs another history of the same size with the service
        // key. The witness refuses it, and still does after a restart.
        let fork = Checkpoint {
            root: [7; 32],
            ..grown.clone()
        };
        let forged = note::sign_checkpoint(&fork, &log.0, t.service_key());
        let same_size = AddCheckpoint {
            old_size: grown.size,
            proof: vec![],
            checkpoint: forged.clone(),
        };
        assert_eq!(
            witness.add_checkpoint(&same_size.to_text()).await,
            Err(Refusal::Fork)
        );
        let restarted = open_witness(&t, &dir);
        assert_eq!(
            restarted.add_checkpoint(&same_size.to_text()).await,
            Err(Refusal::Fork)
        );
        // Nor can it be made to forget: a submission from 0 is told the size it holds.
        let from_zero = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: forged.clone(),
        };
        assert_eq!(
            restarted.add_checkpoint(&from_zero.to_text()).await,
            Err(Refusal::StaleSize(grown.size))
        );
        // A larger forked tree with a made-up proof does not verify either.
        let bigger = Checkpoint {
            size: grown.size + 1,
            root: [8; 32],
            ..grown.clone()
        };
        let longer = AddCheckpoint {
            old_size: grown.size,
            proof: vec![[9; 32]],
            checkpoint: note::sign_checkpoint(&bigger, &log.0, t.service_key()),
        };
        assert!(matches!(
            restarted.add_checkpoint(&longer.to_text()).await,
            Err(Refusal::Inconsistent(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
);
