//! Load generator: signed token transfers over HTTP against a real midori server.
//!
//! Starts the service in-process on a loopback port with durable commits (SQLite by default,
//! PostgreSQL when `MIDORI_BENCH_POSTGRES_URL` is set), registers a bond, issues tokens to K
//! investors, pre-signs N transfers, then sends them with C concurrent keep-alive connections.
//! Reports accepted transfers per second and p50/p99 latency, next to the machine's raw
//! single-thread Ed25519 `verify_strict` rate measured in the same run.
//!
//!     cargo bench --bench transfers -- [N] [C]
//!
//! The figures go into docs/benchmarks.md by hand, with the command and the machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use midori::app::{App, CreateParty, SystemClock};
use midori::domain::party::{PartyAttributes, Role};
use midori::http::{AppState, Limits};
use midori::ledger::canon::{b64url, jwk_thumbprint, sign_jcs};
use midori::ledger::entry::ServiceSigner;
use midori::store::{Store, StoreOptions};
use serde_json::{Value, json};

/// The allocator the service binary uses (src/main.rs), so that the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const INVESTORS: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let c: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(64);
    if let Ok(filter) = std::env::var("MIDORI_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let raw = raw_verify_rate();
    println!(
        "machine: {} cores; raw single-thread ed25519 verify_strict: {raw:.0}/s",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::env::var("BENCH_WORKERS")
                .ok()
                .and_then(|w| w.parse().ok())
                .unwrap_or(2),
        )
        .enable_all()
        .build()
        .unwrap();
    let backends: Vec<(String, String)> = {
        let mut b = Vec::new();
        let dir = std::env::temp_dir().join(format!("midori-bench-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        b.push((
            "sqlite".to_owned(),
            format!("sqlite://{}", dir.join("bench.db").display()),
        ));
        if let Ok(url) = std::env::var("MIDORI_BENCH_POSTGRES_URL") {
            b.push(("postgres".to_owned(), runtime.block_on(fresh_pg(&url))));
        }
        b
    };
    for (name, url) in backends {
        let (rate, p50, p99, accepted) = runtime.block_on(run(&url, n, c));
        println!(
            "{name}: {accepted}/{n} transfers accepted, {rate:.0}/s end to end ({:.0}% of raw verify), p50 {:.2} ms, p99 {:.2} ms, concurrency {c}",
            100.0 * rate / raw,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
}

fn raw_verify_rate() -> f64 {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let messages: Vec<Vec<u8>> = (0..1_000u32)
        .map(|i| format!("transfer {i}").into_bytes())
        .collect();
    let signatures: Vec<_> = messages.iter().map(|m| key.sign(m)).collect();
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        for (m, s) in messages.iter().zip(&signatures) {
            public.verify_strict(m, s).unwrap();
            count += 1;
        }
    }
    count as f64 / started.elapsed().as_secs_f64()
}

async fn fresh_pg(admin: &str) -> String {
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

struct Investor {
    id: String,
    token: String,
    key: SigningKey,
}

async fn run(url: &str, n: usize, c: usize) -> (f64, Duration, Duration, usize) {
    let options = StoreOptions {
        max_connections: 16,
        ..StoreOptions::default()
    };
    let store = Store::connect(url, &options).await.unwrap();
    let app = Arc::new(
        App::new(
            store,
            ServiceSigner::new(SigningKey::from_bytes(&[9; 32])),
            "bench.local".into(),
            Arc::new(SystemClock),
        )
        .await
        .unwrap(),
    );
    let state = AppState {
        app: app.clone(),
        metrics: None,
        limits: Limits::new(1 << 20, Duration::from_secs(30), 4096),
    };
    let listener = midori::http::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { midori::http::serve(listener, state).await.unwrap() });

    // A bond large enough for the run, and investors holding tokens.
    let issuer_key = SigningKey::from_bytes(&[1; 32]);
    let issuer = party(&app, Role::Issuer, "Bench Issuer", &issuer_key).await;
    let mut spec = serde_json::to_value(midori::domain::bond::examples::green()).unwrap();
    spec["issue_size"] = json!("1000000000");
    spec["denomination"] = json!("1000");
    let mut nonce = 0u64;
    let mut sign = |key: &SigningKey, mut payload: Value| {
        nonce += 1;
        payload["kid"] = json!(jwk_thumbprint(&key.verifying_key()));
        payload["nonce"] = json!(nonce.to_string());
        let signature = sign_jcs(&payload, key).unwrap();
        json!({"payload": payload, "signature": signature})
    };
    let mut conn = Conn::open(addr);
    let registered = conn.post(
        "/v1/bonds",
        &issuer.1,
        &sign(&issuer_key, json!({"type": "bond.register", "bond": spec})),
    );
    let bond = registered.1["bond"]["id"].as_str().unwrap().to_owned();
    let mut investors = Vec::new();
    for i in 0..INVESTORS {
        let key = SigningKey::from_bytes(&[(i as u8).wrapping_add(100); 32]);
        let (id, token) = party(&app, Role::Investor, &format!("Investor {i}"), &key).await;
        investors.push(Investor { id, token, key });
    }
    let allocations: Vec<Value> = investors
        .iter()
        .map(|i| json!({"investor": i.id, "quantity": "1000000"}))
        .collect();
    let issue = sign(
        &issuer_key,
        json!({"type": "token.issue", "bond_id": bond, "operation_id": "issue-1", "allocations": allocations}),
    );
    assert_eq!(
        conn.post(&format!("/v1/bonds/{bond}/operations"), &issuer.1, &issue)
            .0,
        201
    );

    // Pre-sign every transfer: investor i sends 1 token to investor i+1.
    let mut bodies: Vec<(usize, Vec<u8>)> = Vec::with_capacity(n);
    for k in 0..n {
        let from = &investors[k % INVESTORS];
        let to = &investors[(k + 1) % INVESTORS];
        let body = sign(
            &from.key,
            json!({"type": "token.transfer", "bond_id": bond, "operation_id": format!("t-{k}"), "to": to.id, "quantity": "1"}),
        );
        bodies.push((k % INVESTORS, serde_json::to_vec(&body).unwrap()));
    }
    let tokens: Arc<Vec<String>> = Arc::new(investors.iter().map(|i| i.token.clone()).collect());
    let path = format!("/v1/bonds/{bond}/operations");

    if std::env::var("BENCH_MODE").as_deref() == Ok("direct") {
        // Diagnostic: the same requests straight into the application, no HTTP.
        let callers: Vec<_> =
            futures_util::future::join_all(tokens.iter().map(|t| app.authenticate(t)))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        let callers = Arc::new(callers);
        let per_task: Vec<Vec<(usize, Vec<u8>)>> = {
            let mut v: Vec<Vec<_>> = (0..c).map(|_| Vec::new()).collect();
            for (k, b) in bodies.into_iter().enumerate() {
                v[k % c].push(b);
            }
            v
        };
        let started = Instant::now();
        let mut tasks = Vec::new();
        for chunk in per_task {
            let (app, callers, bond) = (app.clone(), callers.clone(), bond.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut ok = 0;
                for (who, body) in chunk {
                    let t0 = Instant::now();
                    let request: midori::ledger::entry::SignedRequest =
                        serde_json::from_slice(&body).unwrap();
                    if app.operate(&callers[who], &bond, request).await.is_ok() {
                        ok += 1;
                    }
                    lat.push(t0.elapsed());
                }
                (lat, ok)
            }));
        }
        let mut latencies = Vec::new();
        let mut accepted = 0;
        for t in tasks {
            let (l, a) = t.await.unwrap();
            latencies.extend(l);
            accepted += a;
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        return (
            accepted as f64 / elapsed.as_secs_f64(),
            pct(0.5),
            pct(0.99),
            accepted,
        );
    }

    // Send with C connections, each on its own thread (blocking keep-alive HTTP/1.1).
    let chunks: Vec<Vec<(usize, Vec<u8>)>> = {
        let mut chunks: Vec<Vec<_>> = (0..c).map(|_| Vec::new()).collect();
        for (k, b) in bodies.into_iter().enumerate() {
            chunks[k % c].push(b);
        }
        chunks
    };
    let started = Instant::now();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let tokens = tokens.clone();
            let path = path.clone();
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                let mut latencies = Vec::with_capacity(chunk.len());
                let mut accepted = 0usize;
                for (who, body) in chunk {
                    let t0 = Instant::now();
                    let status = conn.post_raw(&path, &tokens[who], &body);
                    latencies.push(t0.elapsed());
                    if status == 201 {
                        accepted += 1;
                    }
                }
                (latencies, accepted)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(n);
    let mut accepted = 0;
    for h in handles {
        let (l, a) = h.join().unwrap();
        latencies.extend(l);
        accepted += a;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    (
        accepted as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        accepted,
    )
}

async fn party(app: &App, role: Role, name: &str, key: &SigningKey) -> (String, String) {
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

/// A minimal blocking HTTP/1.1 keep-alive client: enough for fixed JSON POSTs on loopback.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: std::net::SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn post(&mut self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let (status, body) = self.exchange(path, token, &bytes);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn post_raw(&mut self, path: &str, token: &str, body: &[u8]) -> u16 {
        self.exchange(path, token, body).0
    }

    fn exchange(&mut self, path: &str, token: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        self.writer.write_all(head.as_bytes()).unwrap();
        self.writer.write_all(body).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut out = vec![0; length];
        self.reader.read_exact(&mut out).unwrap();
        (status, out)
    }
}
