//! Offline verification at scale (issue #17): `midori verify` over a bond's export of N entries
//! against its signed checkpoint and the published keys — every countersignature and client
//! signature, the canonical form, the Merkle root and the token invariants — next to the
//! machine's two-thread Ed25519 batch-verify rate measured in the same run; then the same
//! ledger audited in two steps (`--save` at about 90%, then `--since` for the rest).
//!
//!     cargo bench --bench verify -- [N ...]        # default 100,000 and 1,000,000
//!
//! The ledger is grown through the application on SQLite by signed transfers among 64
//! investors (as `benches/reads.rs` does) and exported once into `target/bench-data/verify-N/`;
//! later runs reuse it. Each verification runs the `midori verify` command in a child process,
//! so that its peak memory (VmHWM) is its own. Each entry carries two signatures (the client's
//! and the service's countersignature), so the rate to compare with the batch-verify rate is
//! signatures per second, twice the entries per second.
//! The figures go into docs/benchmarks.md by hand, with the command and the machine.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use serde_json::{Value, json};

/// As the `midori` binary allocates.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const THREADS: usize = 2;

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some("verify-child") {
        child(&raw[1..]);
        return;
    }
    // `cargo bench` passes `--bench`.
    let args: Vec<String> = raw.into_iter().filter(|a| !a.starts_with("--")).collect();
    let sizes: Vec<usize> = if args.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        args.iter().map(|a| a.parse().unwrap()).collect()
    };
    let batch = support::batch_verify_rate(THREADS);
    println!(
        "machine: {} cores; ed25519 batch verify (1024 a batch, {THREADS} threads): {batch:.0} signatures/s",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    for n in sizes {
        let dir = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from("target"))
            .join("bench-data")
            .join(format!("verify-{n}"));
        if !dir.join("done").exists() {
            prepare(&dir, n);
        }
        let entries = std::fs::read_to_string(dir.join("size")).unwrap();
        let bytes = std::fs::metadata(dir.join("export.jsonl")).unwrap().len();
        println!(
            "== {} entries, {:.0} MB export",
            entries.trim(),
            bytes as f64 / 1e6
        );
        for threads in [THREADS, 1] {
            let r = run_child(&[
                "verify",
                "--export",
                path(&dir, "export.jsonl"),
                "--checkpoint",
                path(&dir, "checkpoint.txt"),
                "--keys",
                path(&dir, "jwks.json"),
                "--threads",
                &threads.to_string(),
            ]);
            let entries: f64 = entries.trim().parse().unwrap();
            let rate = entries / r.seconds;
            println!(
                "verify, {threads} thread(s): {:.2} s, {rate:.0} entries/s = {:.0} signatures/s = {:.0}% of the batch-verify rate; peak memory (VmHWM) {} MB",
                r.seconds,
                2.0 * rate,
                200.0 * rate / batch,
                r.hwm_kib / 1024
            );
        }
        // In two steps: the first ~90% with --save, then the rest with --since.
        let record = dir.join("record.json");
        let _ = std::fs::remove_file(&record);
        let first = run_child(&[
            "verify",
            "--export",
            path(&dir, "head.jsonl"),
            "--checkpoint",
            path(&dir, "head-checkpoint.txt"),
            "--keys",
            path(&dir, "jwks.json"),
            "--save",
            record.to_str().unwrap(),
        ]);
        let second = run_child(&[
            "verify",
            "--export",
            path(&dir, "tail.jsonl"),
            "--checkpoint",
            path(&dir, "checkpoint.txt"),
            "--keys",
            path(&dir, "jwks.json"),
            "--since",
            record.to_str().unwrap(),
        ]);
        let head = std::fs::read_to_string(dir.join("head-size")).unwrap();
        println!(
            "in two steps: entries [0, {}) with --save in {:.2} s; the rest with --since in {:.2} s ({} MB peak); record {} kB",
            head.trim(),
            first.seconds,
            second.seconds,
            second.hwm_kib / 1024,
            std::fs::metadata(&record).unwrap().len() / 1000
        );
    }
}

fn path<'a>(dir: &Path, name: &str) -> &'a str {
    Box::leak(dir.join(name).to_str().unwrap().to_owned().into_boxed_str())
}

struct Run {
    seconds: f64,
    hwm_kib: u64,
}

fn run_child(args: &[&str]) -> Run {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .arg("verify-child")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    let result: Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("child: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(result["exit"], "0", "{stdout}");
    Run {
        seconds: result["seconds"].as_f64().unwrap(),
        hwm_kib: result["hwm_kib"].as_u64().unwrap(),
    }
}

/// In the child: run the `midori verify` command itself, then report its time and peak memory.
fn child(args: &[String]) {
    let cli = midori::cli::Cli::parse_from(
        std::iter::once("midori".to_owned()).chain(args.iter().cloned()),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let code = runtime.block_on(midori::cli::run(cli)).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let exit = if code == std::process::ExitCode::SUCCESS {
        "0"
    } else {
        "1"
    };
    println!(
        "{}",
        json!({"seconds": seconds, "hwm_kib": hwm_kib, "exit": exit})
    );
}

/// Grow a bond's ledger to `n` entries through the application, then write its export, its
/// latest checkpoint, the key set, and a head (up to a checkpoint near 90%) and tail of it.
fn prepare(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}", dir.join("bench.db").display());
        let world = dir.join("world.json");
        support::build(&url, n, world.to_str().unwrap()).await;
        let world: Value = serde_json::from_slice(&std::fs::read(&world).unwrap()).unwrap();
        let ledger = format!("bonds/{}", world["bond"].as_str().unwrap());
        let app = support::open(&url).await;
        let checkpoint = app.store.checkpoint(&ledger, None).await.unwrap();
        let size = checkpoint.size;
        // A checkpoint near 90%: one is signed after each batch, so one lies within a few
        // hundred entries below any size.
        let mut head = size * 9 / 10;
        let head_checkpoint = loop {
            if let Ok(c) = app.store.checkpoint(&ledger, Some(head)).await {
                break c;
            }
            head -= 1;
        };
        let mut export = Vec::new();
        let mut start = 0;
        while start < size {
            let rows = app.store.entries(&ledger, start, size).await.unwrap();
            for row in &rows {
                export.extend_from_slice(&row.leaf);
                export.push(b'\n');
                if row.index + 1 == head {
                    std::fs::write(dir.join("head.jsonl"), &export).unwrap();
                    std::fs::write(dir.join("tail.jsonl"), b"").unwrap();
                }
            }
            start += rows.len() as u64;
        }
        let head_bytes = std::fs::metadata(dir.join("head.jsonl")).unwrap().len() as usize;
        std::fs::write(dir.join("tail.jsonl"), &export[head_bytes..]).unwrap();
        std::fs::write(dir.join("export.jsonl"), &export).unwrap();
        std::fs::write(dir.join("checkpoint.txt"), &checkpoint.note).unwrap();
        std::fs::write(dir.join("head-checkpoint.txt"), &head_checkpoint.note).unwrap();
        let keys: Vec<Value> = app
            .service_keys()
            .await
            .unwrap()
            .into_iter()
            .map(|k| serde_json::to_value(k.jwk).unwrap())
            .collect();
        std::fs::write(
            dir.join("jwks.json"),
            serde_json::to_vec(&json!({"keys": keys})).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join("size"), size.to_string()).unwrap();
        std::fs::write(dir.join("head-size"), head.to_string()).unwrap();
        let _ = std::fs::remove_file(dir.join("bench.db"));
        std::fs::write(dir.join("done"), b"").unwrap();
    });
}
