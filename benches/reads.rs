//! Reads on a long ledger, a restart, and writes under read load (issue #14).
//!
//! For each size N (default 10,000 and 1,000,000) and each backend (SQLite; PostgreSQL when
//! `MIDORI_BENCH_POSTGRES_URL` is set), one bond's ledger is grown to N entries by signed
//! transfers straight through the application (no HTTP, for speed) in a first process. A
//! second process then opens the same database — that is the restart: its start-up and its
//! first write are timed, and nothing is replayed — serves it over HTTP on loopback and reads
//! every maintained view 1,000 times on one keep-alive connection (p50/p99): the label and the
//! coupons (anonymous), the holder register now and as of the middle of the ledger, the
//! entitlements of coupon period 1, an investor's positions, an inclusion proof and a
//! consistency proof. Then transfer throughput over HTTP with 32 writers, alone and with 32
//! clients looping on the public label. RSS (idle after the reads, and peak) is the second
//! process's own. Last, the regulator's audit of every ledger: in full, then only what 1,000
//! more transfers appended.
//!
//!     cargo bench --bench reads -- [N ...]
//!
//! The figures go into docs/benchmarks.md by hand, with the command and the machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use midori::http::{AppState, Limits};
use midori::ledger::entry::SignedRequest;
use serde_json::Value;

mod support;

use midori::domain::party::Role;
use support::{build, fresh_pg, investor_key, open, party, transfer, with_ids};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const READS: usize = 1_000;
const WRITERS: usize = 32;
const READERS: usize = 32;
const WRITES: usize = 10_000;
const ROUNDS: usize = 3;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match args.first().map(String::as_str) {
        Some("build") => runtime.block_on(build(&args[1], args[2].parse().unwrap(), &args[3])),
        Some("serve") => runtime.block_on(serve(&args[1], &args[2])),
        _ => {
            let sizes: Vec<usize> = if args.is_empty() {
                vec![10_000, 1_000_000]
            } else {
                args.iter().map(|a| a.parse().unwrap()).collect()
            };
            let mut backends = vec!["sqlite".to_owned()];
            if std::env::var("MIDORI_BENCH_POSTGRES_URL").is_ok() {
                backends.push("postgres".to_owned());
            }
            // BENCH_ONLY=sqlite|postgres: one backend.
            if let Ok(only) = std::env::var("BENCH_ONLY") {
                backends.retain(|b| *b == only);
            }
            for backend in &backends {
                for n in &sizes {
                    let dir =
                        std::env::temp_dir().join(format!("midori-reads-{}", uuid::Uuid::now_v7()));
                    std::fs::create_dir_all(&dir).unwrap();
                    let url = match backend.as_str() {
                        "sqlite" => format!("sqlite://{}", dir.join("bench.db").display()),
                        _ => runtime.block_on(fresh_pg(
                            &std::env::var("MIDORI_BENCH_POSTGRES_URL").unwrap(),
                        )),
                    };
                    let world = dir.join("world.json");
                    let me = std::env::current_exe().unwrap();
                    let status = std::process::Command::new(&me)
                        .args(["build", &url, &n.to_string(), world.to_str().unwrap()])
                        .status()
                        .unwrap();
                    assert!(status.success());
                    println!("== {backend}, {n} entries");
                    let status = std::process::Command::new(&me)
                        .args(["serve", &url, world.to_str().unwrap()])
                        .status()
                        .unwrap();
                    assert!(status.success());
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
    }
}

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The second process: restart, first write, reads, writes under read load.
async fn serve(url: &str, world: &str) {
    let world: Value = serde_json::from_slice(&std::fs::read(world).unwrap()).unwrap();
    let bond = world["bond"].as_str().unwrap().to_owned();
    let size = world["size"].as_u64().unwrap();
    let issuer_token = world["issuer"][1].as_str().unwrap().to_owned();
    let investors: Vec<(String, String)> = world["investors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i[0].as_str().unwrap().to_owned(),
                i[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let ids: Vec<String> = investors.iter().map(|(id, _)| id.clone()).collect();
    let rss_before = rss_kib("VmRSS:");

    // The restart: open the database, then the first write (which loads the bond's state).
    let t0 = Instant::now();
    let app = open(url).await;
    let start_up = t0.elapsed();
    let caller = app.authenticate(&investors[0].1).await.unwrap();
    let (from, body) = transfer(&bond, 0, 1_000_000_000);
    let request: SignedRequest =
        serde_json::from_value(with_ids(body, &ids, &investor_key(from))).unwrap();
    let t1 = Instant::now();
    app.operate(&caller, &bond, request).await.unwrap();
    let first_write = t1.elapsed();
    println!(
        "restart: start-up {:.1} ms, first write {:.1} ms, RSS {} MiB after it (process began at {} MiB)",
        start_up.as_secs_f64() * 1e3,
        first_write.as_secs_f64() * 1e3,
        rss_kib("VmRSS:") / 1024,
        rss_before / 1024
    );

    let state = AppState {
        app: app.clone(),
        metrics: None,
        limits: Limits::new(1 << 20, Duration::from_secs(30), 4096),
    };
    let listener = midori::http::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { midori::http::serve(listener, state).await.unwrap() });
    let size = size + 1;
    let middle = size / 2;
    let reads: Vec<(&str, String, Option<String>)> = vec![
        ("label (anonymous)", format!("/v1/bonds/{bond}/label"), None),
        (
            "coupons (anonymous)",
            format!("/v1/bonds/{bond}/coupons"),
            None,
        ),
        (
            "holders now",
            format!("/v1/bonds/{bond}/holders"),
            Some(issuer_token.clone()),
        ),
        (
            "holders as of the middle",
            format!("/v1/bonds/{bond}/holders?as_of_size={middle}"),
            Some(issuer_token.clone()),
        ),
        (
            "entitlements, period 1",
            format!("/v1/bonds/{bond}/coupons/1/entitlements"),
            Some(issuer_token.clone()),
        ),
        (
            "positions",
            format!("/v1/parties/{}/positions", ids[1]),
            Some(investors[1].1.clone()),
        ),
        (
            "inclusion proof",
            format!("/v1/bonds/{bond}/ledger/proofs/inclusion?index={middle}"),
            Some(issuer_token.clone()),
        ),
        (
            "consistency proof",
            format!("/v1/bonds/{bond}/ledger/proofs/consistency?old_size={middle}"),
            Some(issuer_token.clone()),
        ),
    ];
    let reads_started = Instant::now();
    let mut worst_p99 = Duration::ZERO;
    for (name, path, token) in &reads {
        let path = path.clone();
        let token = token.clone();
        let mut latencies = tokio::task::spawn_blocking(move || {
            let mut conn = Conn::open(addr);
            let mut out = Vec::with_capacity(READS);
            for _ in 0..READS {
                let t = Instant::now();
                let (status, _) = conn.exchange("GET", &path, token.as_deref(), b"");
                assert_eq!(status, 200, "{path}");
                out.push(t.elapsed());
            }
            out
        })
        .await
        .unwrap();
        latencies.sort();
        let p =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        worst_p99 = worst_p99.max(p(0.99));
        println!(
            "  {name:<26} p50 {:>6.2} ms  p99 {:>6.2} ms",
            p(0.5).as_secs_f64() * 1e3,
            p(0.99).as_secs_f64() * 1e3
        );
    }
    println!(
        "reads: {} requests in {:.1} s, worst p99 {:.2} ms; RSS idle {} MiB",
        READS * reads.len(),
        reads_started.elapsed().as_secs_f64(),
        worst_p99.as_secs_f64() * 1e3,
        rss_kib("VmRSS:") / 1024
    );

    // Writes, alone and under 32 clients looping on the public label.
    let tokens: Arc<Vec<String>> = Arc::new(investors.iter().map(|(_, t)| t.clone()).collect());
    let mut nonce = 2_000_000_000u64;
    let mut batch = |count: usize| -> Vec<(usize, Vec<u8>)> {
        (0..count)
            .map(|_| {
                nonce += 1;
                let (from, body) = transfer(&bond, nonce, nonce);
                let body = with_ids(body, &ids, &investor_key(from));
                (from, serde_json::to_vec(&body).unwrap())
            })
            .collect()
    };
    // Alternating rounds, so that drift (the WAL, the page cache) weighs on both alike; the
    // medians are reported.
    let mut alone = Vec::new();
    let mut loaded = Vec::new();
    for _ in 0..ROUNDS {
        alone.push(write_rate(addr, &bond, tokens.clone(), batch(WRITES), 0).0);
        loaded.push(write_rate(
            addr,
            &bond,
            tokens.clone(),
            batch(WRITES),
            READERS,
        ));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let alone_rate = median(alone.clone());
    let loaded_rate = median(loaded.iter().map(|l| l.0).collect());
    println!(
        "transfers, {WRITERS} writers (median of {ROUNDS} rounds): {alone_rate:.0}/s alone, {loaded_rate:.0}/s with {READERS} label readers ({:.0}%); rounds alone {:?}, with readers {:?}",
        100.0 * loaded_rate / alone_rate,
        alone.iter().map(|r| r.round() as u64).collect::<Vec<_>>(),
        loaded
            .iter()
            .map(|l| l.0.round() as u64)
            .collect::<Vec<_>>(),
    );
    println!(
        "  label reads meanwhile: {} answered, worst p99 {:.2} ms",
        loaded.iter().map(|l| l.1).sum::<usize>(),
        loaded
            .iter()
            .map(|l| l.2)
            .max()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3
    );
    println!("RSS peak {} MiB", rss_kib("VmHWM:") / 1024);

    // The regulator's audit (issue #17): every entry (`full`), then only the 1,000 transfers
    // appended since (what a regulator calling it regularly pays).
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let (_, token) = party(&app, Role::Regulator, "Bench Regulator", &key).await;
    let regulator = app.authenticate(&token).await.unwrap();
    let t = Instant::now();
    let audit = app.audit_ledgers(&regulator, true).await.unwrap();
    let full = t.elapsed();
    assert!(audit.iter().all(|l| l.verified), "{audit:?}");
    let entries: u64 = audit.iter().map(|l| l.size.parse::<u64>().unwrap()).sum();
    let bodies = batch(1_000);
    write_rate(addr, &bond, tokens.clone(), bodies, 0);
    let t = Instant::now();
    let audit = app.audit_ledgers(&regulator, false).await.unwrap();
    let since = t.elapsed();
    assert!(audit.iter().all(|l| l.verified), "{audit:?}");
    let new: u64 = audit
        .iter()
        .map(|l| l.size.parse::<u64>().unwrap() - l.already_verified.parse::<u64>().unwrap())
        .sum();
    println!(
        "audit: full {entries} entries in {:.2} s ({:.0}/s); then {new} appended since in {:.1} ms; RSS peak {} MiB",
        full.as_secs_f64(),
        entries as f64 / full.as_secs_f64(),
        since.as_secs_f64() * 1e3,
        rss_kib("VmHWM:") / 1024
    );
}

/// Transfers per second with `WRITERS` connections, while `readers` connections loop on the
/// label; also how many label reads were answered and their p99.
fn write_rate(
    addr: std::net::SocketAddr,
    bond: &str,
    tokens: Arc<Vec<String>>,
    bodies: Vec<(usize, Vec<u8>)>,
    readers: usize,
) -> (f64, usize, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let label = format!("/v1/bonds/{bond}/label");
    let reader_threads: Vec<_> = (0..readers)
        .map(|_| {
            let (stop, label) = (stop.clone(), label.clone());
            std::thread::spawn(move || {
                // The readers stand for clients on other machines: with
                // BENCH_READER_NICE=N their threads here take CPU at nice N, so that the load
                // generator's own HTTP work weighs on the writers less.
                if let Some(nice) = std::env::var("BENCH_READER_NICE")
                    .ok()
                    .and_then(|n| n.parse::<i32>().ok())
                {
                    // SAFETY: changes the calling thread's nice value only.
                    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
                }
                let mut conn = Conn::open(addr);
                let mut lat = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let (status, _) = conn.exchange("GET", &label, None, b"");
                    assert_eq!(status, 200);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut chunks: Vec<Vec<(usize, Vec<u8>)>> = (0..WRITERS).map(|_| Vec::new()).collect();
    for (k, b) in bodies.into_iter().enumerate() {
        chunks[k % WRITERS].push(b);
    }
    let path = format!("/v1/bonds/{bond}/operations");
    let started = Instant::now();
    let writers: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (tokens, path) = (tokens.clone(), path.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                let mut ok = 0usize;
                for (who, body) in chunk {
                    if conn.exchange("POST", &path, Some(&tokens[who]), &body).0 == 201 {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let accepted: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut lat: Vec<Duration> = reader_threads
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    lat.sort();
    let p99 = lat
        .get(((lat.len() as f64 * 0.99) as usize).min(lat.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    (accepted as f64 / elapsed.as_secs_f64(), lat.len(), p99)
}

/// A minimal blocking HTTP/1.1 keep-alive client.
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

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let auth = token
            .map(|t| format!("authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: bench\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n",
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
        let mut chunked = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if l.starts_with("transfer-encoding:") && l.contains("chunked") {
                chunked = true;
            }
        }
        if chunked {
            let mut out = Vec::new();
            loop {
                line.clear();
                self.reader.read_line(&mut line).unwrap();
                let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                self.reader.read_exact(&mut chunk).unwrap();
                if n == 0 {
                    return (status, out);
                }
                out.extend_from_slice(&chunk[..n]);
            }
        }
        let mut out = vec![0; length];
        self.reader.read_exact(&mut out).unwrap();
        (status, out)
    }
}
