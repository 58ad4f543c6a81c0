//! Sandbox replay benchmark (issue #5): generate a signed trial export of N transactions, then
//! replay it as `midori sandbox replay` does — stream the lines, check every client signature
//! in batches on two threads, judge every transaction again under the rulebook, compare with
//! the recorded verdicts — and report transactions per second and peak memory, next to the
//! machine's two-thread Ed25519 batch-verify rate measured in the same run.
//!
//!     cargo bench --bench sandbox_replay -- [N]        # default 1,000,000
//!
//! The replay runs in a child process so that its peak memory (VmHWM) is its own; it replays
//! the first 10% of the export too, to show that memory does not grow with the ledger.
//! The figures go into docs/benchmarks.md by hand, with the command and the machine.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ed25519_dalek::{Signer, SigningKey};
use midori::app::format_time;
use midori::domain::party::{InvestorCategory, Role};
use midori::ledger::canon::{Jwk, jcs, sign_jcs};
use midori::ledger::entry::{Actor, Draft, ServiceSigner, SignedRequest};
use midori::sandbox::ledger::replay_export;
use midori::sandbox::{Replayer, Rulebook, State, Tx, TxBody};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

mod support;

const RULEBOOK: &[u8] = include_bytes!("../sandbox/osaka-ifc-green-st-v1.toml");
const INVESTORS: usize = 40;
const THREADS: usize = 2;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with("--")).collect();
    if args.get(1).map(String::as_str) == Some("replay-child") {
        let path = PathBuf::from(&args[2]);
        let limit: usize = args[3].parse().unwrap();
        child(&path, limit);
        return;
    }
    let n: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target"))
        .join("bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("trial-{n}.jsonl"));

    let batch = support::batch_verify_rate(THREADS);
    println!(
        "machine: {} cores; ed25519 batch verify (1024 a batch, {THREADS} threads): {batch:.0}/s",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let started = Instant::now();
    let (accepted, refused, bytes) = generate(&path, n);
    println!(
        "generated {n} transactions ({accepted} accepted, {refused} refused), {:.0} MB, in {:.1} s: {}",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        path.display()
    );
    for limit in [n / 10, n + 1] {
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args(["replay-child", path.to_str().unwrap(), &limit.to_string()])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&out.stdout);
        let result: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|_| panic!("child: {line} {}", String::from_utf8_lossy(&out.stderr)));
        let rate = result["tx_per_s"].as_f64().unwrap();
        println!(
            "replayed {} transactions: {:.2} s, {rate:.0} tx/s = {:.0}% of the batch-verify rate; peak memory (VmHWM) {} MB; verdicts confirmed: {}",
            result["transactions"],
            result["seconds"].as_f64().unwrap(),
            100.0 * rate / batch,
            result["peak_mb"],
            result["consistent"],
        );
    }
}

/// The replay as `midori sandbox replay` runs it, on the first `limit` lines.
fn child(path: &Path, limit: usize) {
    let rulebook = Rulebook::parse(RULEBOOK).unwrap();
    let file = std::fs::File::open(path).unwrap();
    let lines = std::io::BufReader::with_capacity(1 << 20, file)
        .split(b'\n')
        .map_while(Result::ok)
        .take(limit);
    let started = Instant::now();
    let outcome = replay_export(lines, &rulebook, THREADS).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    println!(
        "{}",
        json!({
            "transactions": outcome.transactions,
            "seconds": seconds,
            "tx_per_s": outcome.transactions as f64 / seconds,
            "peak_mb": peak_kb / 1024,
            "consistent": outcome.consistent,
        })
    );
}

struct Participant {
    id: String,
    key: SigningKey,
    actor: Actor,
    nonce: u64,
}

fn participant(n: u8, role: Role) -> Participant {
    let key = SigningKey::from_bytes(&[n; 32]);
    let id = format!("00000000-0000-7000-8000-{:012}", n);
    Participant {
        actor: Actor {
            party: id.clone(),
            role: role.as_str().to_owned(),
            jwk: Jwk::from_key(&key.verifying_key()),
        },
        id,
        key,
        nonce: 0,
    }
}

/// One transaction to seal: who signs it, its payload, and its recorded data.
struct Pending {
    signer: usize,
    nonce: u64,
    tx: Tx,
    verdict: Value,
}

/// Write a trial export of `n` transactions: a realistic six-month Osaka trial (admissions,
/// consents, issuance spread over days under the daily cap, then transfers each preceded by
/// the issuer's consent, one in twenty without it, and a report every 30 days).
fn generate(path: &Path, n: usize) -> (u64, u64, u64) {
    let rulebook = Rulebook::parse(RULEBOOK).unwrap();
    let service = ServiceSigner::new(SigningKey::from_bytes(&[200; 32]));
    let trial_id = "01000000-0000-7000-8000-000000000001";
    let origin = format!("midori.bench/trials/{trial_id}");
    let mut parties = vec![
        participant(1, Role::Regulator),
        participant(2, Role::Issuer),
    ];
    for i in 0..INVESTORS {
        parties.push(participant(10 + i as u8, Role::Investor));
    }
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let start = time::macros::datetime!(2026-10-01 00:00 UTC);
    let mut written = 0u64;

    // Entry 0: the regulator creates the trial.
    let mut payload = json!({"type": "trial.create", "trial": {"title": "Benchmark trial",
        "rulebook": String::from_utf8_lossy(RULEBOOK)}});
    let reg = &mut parties[0];
    reg.nonce += 1;
    payload["kid"] = json!(reg.actor.jwk.kid);
    payload["nonce"] = json!(reg.nonce.to_string());
    let signature = sign_jcs(&payload, &reg.key).unwrap();
    let draft = Draft {
        kind: "trial.created".into(),
        actor: Some(reg.actor.clone()),
        request: Some(SignedRequest { payload, signature }),
        data: json!({"trial_id": trial_id, "title": "Benchmark trial", "rulebook": {
            "id": rulebook.id(), "version": rulebook.version(), "sha256": rulebook.sha256(),
            "currency": rulebook.currency().as_str()}}),
    };
    let (_, leaf) = draft
        .seal(&origin, 0, &format_time(start), &service)
        .unwrap();
    out.write_all(&leaf).unwrap();
    out.write_all(b"\n").unwrap();
    written += leaf.len() as u64 + 1;

    let mut replayer = Replayer::new(&rulebook, State::new([parties[0].id.clone()]));
    let (mut accepted, mut refused) = (0u64, 0u64);
    let mut index = 1u64;
    let mut time = start;
    let mut pending: Vec<Pending> = Vec::with_capacity(8_192);
    let step_us = (150 * 86_400 * 1_000_000i64) / n.max(1) as i64;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut last_report = start.date();
    let mut count = 0usize;
    let mut push = |signer: usize,
                    id: String,
                    body: TxBody,
                    time: OffsetDateTime,
                    parties: &mut Vec<Participant>,
                    pending: &mut Vec<Pending>| {
        parties[signer].nonce += 1;
        let tx = Tx {
            id,
            time,
            actor: parties[signer].id.clone(),
            body,
        };
        let verdict = replayer.step(&tx);
        if verdict.accepted {
            accepted += 1;
        } else {
            refused += 1;
        }
        pending.push(Pending {
            signer,
            nonce: parties[signer].nonce,
            tx,
            verdict: serde_json::to_value(&verdict).unwrap(),
        });
    };
    let tick = |time: &mut OffsetDateTime| *time += Duration::microseconds(1);
    // Admissions and consents.
    let ids: Vec<String> = parties.iter().map(|p| p.id.clone()).collect();
    let admit = |party: &str, role: Role| TxBody::Admit {
        party: party.to_owned(),
        role,
        investor_category: (role == Role::Investor).then_some(InvestorCategory::Qii),
        kyc_expires_on: Some(time::macros::date!(2027 - 12 - 31)),
    };
    push(
        0,
        "admit-issuer".into(),
        admit(&ids[1], Role::Issuer),
        time,
        &mut parties,
        &mut pending,
    );
    for i in 0..INVESTORS {
        tick(&mut time);
        push(
            0,
            format!("admit-{i}"),
            admit(&ids[2 + i], Role::Investor),
            time,
            &mut parties,
            &mut pending,
        );
    }
    for (p, _) in ids.iter().enumerate().skip(1) {
        tick(&mut time);
        let body = TxBody::Consent {
            disclosure_version: rulebook.disclosure_version().to_owned(),
        };
        push(
            p,
            format!("consent-{p}"),
            body,
            time,
            &mut parties,
            &mut pending,
        );
    }
    // Issuance: ¥10,000,000 to each investor, ten a day (the daily cap is ¥100,000,000).
    for i in 0..INVESTORS {
        let day = start
            + Duration::days((i / 10) as i64)
            + Duration::minutes(1)
            + Duration::seconds(i as i64);
        let body = TxBody::Issue {
            to: ids[2 + i].clone(),
            amount: Decimal::from(10_000_000),
            use_of_proceeds: "renewable_energy".into(),
        };
        push(
            1,
            format!("issue-{i}"),
            body,
            day,
            &mut parties,
            &mut pending,
        );
    }
    count += pending.len();
    time = start + Duration::days(31);
    let mut k = 0u64;
    while count < n {
        // A report for each 30-day period, the day after it ends.
        let due = last_report + Duration::days(30);
        if time.date() > due {
            push(
                1,
                format!("report-{due}"),
                TxBody::Report { period_end: due },
                time,
                &mut parties,
                &mut pending,
            );
            last_report = due;
            count += 1;
        } else {
            let from = 2 + (next() as usize % INVESTORS);
            let to = 2 + ((from - 2 + 1 + next() as usize % (INVESTORS - 1)) % INVESTORS);
            let id = format!("tr-{k}");
            k += 1;
            if !k.is_multiple_of(20) && count + 1 < n {
                push(
                    1,
                    format!("ok-{id}"),
                    TxBody::IssuerConsent {
                        transfer_id: id.clone(),
                        from: ids[from].clone(),
                        to: ids[to].clone(),
                        amount: Decimal::from(1_000),
                    },
                    time,
                    &mut parties,
                    &mut pending,
                );
                count += 1;
                time += Duration::microseconds(step_us);
            }
            let body = TxBody::Transfer {
                to: ids[to].clone(),
                amount: Decimal::from(1_000),
            };
            push(from, id, body, time, &mut parties, &mut pending);
            count += 1;
        }
        time += Duration::microseconds(step_us);
        if pending.len() >= 8_192 {
            written += seal(
                &mut pending,
                &parties,
                &service,
                &origin,
                trial_id,
                &mut index,
                &mut out,
            );
        }
    }
    written += seal(
        &mut pending,
        &parties,
        &service,
        &origin,
        trial_id,
        &mut index,
        &mut out,
    );
    out.flush().unwrap();
    (accepted, refused, written)
}

/// Sign each pending transaction's request as its actor, seal the entries (countersignature)
/// on two threads, and write them in order.
fn seal(
    pending: &mut Vec<Pending>,
    parties: &[Participant],
    service: &ServiceSigner,
    origin: &str,
    trial: &str,
    index: &mut u64,
    out: &mut impl Write,
) -> u64 {
    let first = *index;
    let per = pending.len().div_ceil(THREADS).max(1);
    let leaves: Vec<Vec<Vec<u8>>> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            pending
                .chunks(per)
                .enumerate()
                .map(|(c, part)| {
                    scope.spawn(move || {
                        part.iter()
                        .enumerate()
                        .map(|(j, p)| {
                            let signer = &parties[p.signer];
                            let payload = json!({"type": "sandbox.tx", "kid": signer.actor.jwk.kid,
                                "nonce": p.nonce.to_string(), "trial_id": trial, "tx_id": p.tx.id,
                                "body": p.tx.body});
                            let signature = midori::ledger::canon::b64url(
                                &signer.key.sign(&jcs(&payload).unwrap()).to_bytes(),
                            );
                            let draft = Draft {
                                kind: "sandbox.tx".into(),
                                actor: Some(signer.actor.clone()),
                                request: Some(SignedRequest { payload, signature }),
                                data: json!({"tx": p.tx, "verdict": p.verdict}),
                            };
                            let i = first + (c * per + j) as u64;
                            draft.seal(origin, i, &format_time(p.tx.time), service).unwrap().1
                        })
                        .collect()
                    })
                })
                .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut written = 0;
    for leaf in leaves.into_iter().flatten() {
        out.write_all(&leaf).unwrap();
        out.write_all(b"\n").unwrap();
        written += leaf.len() as u64 + 1;
        *index += 1;
    }
    pending.clear();
    written
}
