#![allow(dead_code)] // each benchmark uses its own part of what they share
//! What the benchmarks share: a bond's ledger grown through the application by signed
//! transfers among investors, as a service would have written it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use midori::app::{App, CreateParty, SystemClock};
use midori::domain::party::{PartyAttributes, Role};
use midori::ledger::canon::{b64url, jwk_thumbprint, sign_jcs};
use midori::ledger::entry::{ServiceSigner, SignedRequest};
use midori::store::{Store, StoreOptions};
use serde_json::{Value, json};

/// Investors trading on the bench bond.
pub const INVESTORS: usize = 64;

pub async fn fresh_pg(admin: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("PostgreSQL reachable");
    let name = format!("midori_bench_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    format!(
        "{}/{name}",
        admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin)
    )
}

pub async fn open(url: &str) -> Arc<App> {
    let options = StoreOptions {
        max_connections: std::env::var("BENCH_POOL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(16),
        ..StoreOptions::default()
    };
    let store = Store::connect(url, &options).await.unwrap();
    Arc::new(
        App::new(
            store,
            ServiceSigner::new(SigningKey::from_bytes(&[9; 32])),
            "bench.local".into(),
            Arc::new(SystemClock),
        )
        .await
        .unwrap(),
    )
}

pub fn investor_key(i: usize) -> SigningKey {
    SigningKey::from_bytes(&[(i as u8).wrapping_add(100); 32])
}

/// Nonces are unique per party (not ordered): each process draws from its own range.
pub fn signed(key: &SigningKey, nonce: u64, mut payload: Value) -> Value {
    payload["kid"] = json!(jwk_thumbprint(&key.verifying_key()));
    payload["nonce"] = json!(nonce.to_string());
    let signature = sign_jcs(&payload, key).unwrap();
    json!({"payload": payload, "signature": signature})
}

pub fn transfer(bond: &str, k: u64, nonce: u64) -> (usize, Value) {
    let from = (k as usize) % INVESTORS;
    let to = (from + 1) % INVESTORS;
    let body = signed(
        &investor_key(from),
        nonce,
        json!({"type": "token.transfer", "bond_id": bond, "operation_id": format!("t-{nonce}"),
               "to": party_id_placeholder(to), "quantity": "1"}),
    );
    (from, body)
}

/// Transfers name parties by id; the ids are filled in by the caller (see `with_ids`).
pub fn party_id_placeholder(i: usize) -> String {
    format!("@{i}")
}

pub fn with_ids(mut body: Value, ids: &[String], key: &SigningKey) -> Value {
    let to = body["payload"]["to"].as_str().unwrap().to_owned();
    if let Some(i) = to.strip_prefix('@') {
        body["payload"]["to"] = json!(ids[i.parse::<usize>().unwrap()]);
        let payload = body["payload"].clone();
        body["signature"] = json!(sign_jcs(&payload, key).unwrap());
    }
    body
}

pub async fn party(app: &App, role: Role, name: &str, key: &SigningKey) -> (String, String) {
    let attributes: PartyAttributes = serde_json::from_value(match role {
        Role::Investor => json!({"name": name, "country": "JP", "investor_category": "qii", "kyc_status": "verified", "kyc_expires_on": "2099-12-31"}),
        _ => json!({"name": name, "country": "JP"}),
    })
    .unwrap();
    let created = app
        .create_party(
            None,
            CreateParty {
                role,
                attributes,
                public_key: Some(b64url(key.verifying_key().as_bytes())),
            },
        )
        .await
        .unwrap();
    (created.party.id, created.api_key)
}

/// The first process: a bond, 64 investors holding tokens, and transfers until the ledger
/// holds `n` entries.
pub async fn build(url: &str, n: usize, world: &str) {
    let started = Instant::now();
    let app = open(url).await;
    let issuer_key = SigningKey::from_bytes(&[1; 32]);
    let (issuer_id, issuer_token) = party(&app, Role::Issuer, "Bench Issuer", &issuer_key).await;
    let issuer = app.authenticate(&issuer_token).await.unwrap();
    let mut spec = serde_json::to_value(midori::domain::bond::examples::green()).unwrap();
    spec["issue_size"] = json!("1000000000");
    spec["denomination"] = json!("1000");
    let request: SignedRequest = serde_json::from_value(signed(
        &issuer_key,
        1,
        json!({"type": "bond.register", "bond": spec}),
    ))
    .unwrap();
    let bond = app.register_bond(&issuer, request).await.unwrap().bond.id;
    let mut investors = Vec::new();
    for i in 0..INVESTORS {
        investors.push(
            party(
                &app,
                Role::Investor,
                &format!("Investor {i}"),
                &investor_key(i),
            )
            .await,
        );
    }
    let allocations: Vec<Value> = investors
        .iter()
        .map(|(id, _)| json!({"investor": id, "quantity": "1000000"}))
        .collect();
    let issue: SignedRequest = serde_json::from_value(signed(
        &issuer_key,
        2,
        json!({"type": "token.issue", "bond_id": bond, "operation_id": "issue-1", "allocations": allocations}),
    ))
    .unwrap();
    app.operate(&issuer, &bond, issue).await.unwrap();
    let ids: Arc<Vec<String>> = Arc::new(investors.iter().map(|(id, _)| id.clone()).collect());
    let mut callers = Vec::new();
    for (_, token) in &investors {
        callers.push(app.authenticate(token).await.unwrap());
    }
    let callers = Arc::new(callers);
    // Entries 0 (registration) and 1 (issuance) are there; transfers make the rest.
    let transfers = n.saturating_sub(2) as u64;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (app, ids, callers, next, bond) = (
            app.clone(),
            ids.clone(),
            callers.clone(),
            next.clone(),
            bond.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= transfers {
                    return;
                }
                let (from, body) = transfer(&bond, k, 1_000 + k);
                let body = with_ids(body, &ids, &investor_key(from));
                let request: SignedRequest = serde_json::from_value(body).unwrap();
                // A refusal (busy) is tried again: the ledger must reach its size.
                let mut tries = 0;
                while app
                    .operate(&callers[from], &bond, request.clone())
                    .await
                    .is_err()
                {
                    tries += 1;
                    assert!(tries < 100, "transfer {k} keeps failing");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let size = app
        .store
        .ledger(&format!("bonds/{bond}"))
        .await
        .unwrap()
        .size;
    std::fs::write(
        world,
        serde_json::to_vec(&json!({
            "bond": bond, "issuer": [issuer_id, issuer_token], "investors": investors, "size": size,
        }))
        .unwrap(),
    )
    .unwrap();
    eprintln!(
        "built {size} entries in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// The machine's Ed25519 batch-verify rate on `threads` threads, 1,024 signatures a batch.
pub fn batch_verify_rate(threads: usize) -> f64 {
    let keys: Vec<SigningKey> = (0..64u8)
        .map(|i| SigningKey::from_bytes(&[i; 32]))
        .collect();
    let items: Vec<(Vec<u8>, Signature, VerifyingKey)> = (0..8_192usize)
        .map(|i| {
            let key = &keys[i % keys.len()];
            let message = format!("{{\"nonce\":\"{i}\",\"type\":\"sandbox.tx\"}}").into_bytes();
            let signature = key.sign(&message);
            (message, signature, key.verifying_key())
        })
        .collect();
    let rounds = 8;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for part in items.chunks(items.len() / threads) {
            scope.spawn(move || {
                for _ in 0..rounds {
                    for batch in part.chunks(1024) {
                        let m: Vec<&[u8]> = batch.iter().map(|x| x.0.as_slice()).collect();
                        let s: Vec<Signature> = batch.iter().map(|x| x.1).collect();
                        let k: Vec<VerifyingKey> = batch.iter().map(|x| x.2).collect();
                        ed25519_dalek::verify_batch(&m, &s, &k).unwrap();
                    }
                }
            });
        }
    });
    (items.len() * rounds) as f64 / started.elapsed().as_secs_f64()
}
