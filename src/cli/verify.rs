//! `midori verify`: a ledger export checked offline in one streaming pass — signatures in
//! batches on every core, the Merkle root against the signed checkpoint, the bond's token
//! invariants, and (given the key log) who signed — optionally resuming after an earlier audit.

use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::VerifyArgs;

mod tiles;
use crate::app::engine::{BookAudit, BookSnapshot};
use crate::ledger::audit::{self, AuditFailure, Options, TreeFrontier, Verified};
use crate::ledger::canon::Jwk;
use crate::ledger::keylog::SignerCheck;

/// What `--save` writes and `--since` reads: an auditor's record of one ledger.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// The checkpoint verified and the tree's frontier at its size.
    tree: TreeFrontier,
    /// For a bond, its audited state at that size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bond: Option<BookSnapshot>,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let checkpoint = match (&args.checkpoint, &args.tiles) {
        (Some(path), _) => read(path)?,
        (None, Some(url)) => tiles::fetch(url, "checkpoint", None)?,
        (None, None) => anyhow::bail!("--checkpoint is required without --tiles"),
    };
    let checkpoint = String::from_utf8(checkpoint).context("the checkpoint is not UTF-8 text")?;
    let keys: Value =
        serde_json::from_slice(&read(&args.keys)?).context("the key set is not JSON")?;
    let keys: Vec<Jwk> = serde_json::from_value(keys.get("keys").cloned().unwrap_or(Value::Null))
        .context("the key set has no `keys` array of Ed25519 JWKs")?;
    let since: Option<Record> = match &args.since {
        Some(path) => Some(
            serde_json::from_slice(&read(path)?)
                .with_context(|| format!("{} is not a record written by --save", path.display()))?,
        ),
        None => None,
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let mut witnesses = Vec::new();
    for vkey in &args.witnesses {
        witnesses.push(
            crate::ledger::witness::parse_witness_vkey(vkey)
                .with_context(|| format!("--witness {vkey:?}"))?,
        );
    }
    let verified = verify(args, &checkpoint, &keys, since, threads)?.and_then(|ok| {
        // The checkpoint verified; now the cosignatures required of it.
        for (name, key) in &witnesses {
            crate::ledger::witness::verify_cosignature(&checkpoint, name, key)
                .map_err(|why| audit::fail(None, format!("checkpoint: {why}")))?;
        }
        Ok(ok)
    });
    match verified {
        Ok((report, book, signers, record)) => {
            if let Some(path) = &args.save {
                let text = serde_json::to_vec_pretty(&record)?;
                write_durably(path, &text)?;
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report, book.as_ref(), signers.as_ref());
                for (name, _) in &witnesses {
                    println!("OK: the checkpoint is cosigned by witness {name}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&failure)?);
            }
            eprintln!("FAILED: {failure}");
            Ok(ExitCode::from(1))
        }
    }
}

type Verdict = Result<
    (
        audit::AuditReport,
        Option<BookSnapshot>,
        Option<crate::ledger::keylog::SignerReport>,
        Record,
    ),
    AuditFailure,
>;

fn verify(
    args: &VerifyArgs,
    checkpoint: &str,
    keys: &[Jwk],
    since: Option<Record>,
    threads: usize,
) -> anyhow::Result<Verdict> {
    let mut signers = match (&args.key_log, &args.key_log_checkpoint) {
        (Some(log), Some(log_checkpoint)) => {
            let log_bytes = read(log)?;
            let log_checkpoint = String::from_utf8(read(log_checkpoint)?)
                .context("the key log's checkpoint is not UTF-8 text")?;
            let lines = log_bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty());
            match SignerCheck::open(lines, &log_checkpoint, keys) {
                Ok(check) => Some(check),
                Err(failure) => return Ok(Err(failure)),
            }
        }
        _ => None,
    };
    let (mut book, options) = match since {
        Some(Record { tree, bond }) => {
            let book = match &bond {
                Some(snapshot) => match BookAudit::resume(snapshot) {
                    Ok(book) => book,
                    Err(why) => return Ok(Err(audit::fail(None, format!("--since: {why}")))),
                },
                None => BookAudit::default(),
            };
            let options = Options {
                threads,
                since: Some(tree),
            };
            (book, options)
        }
        None => (
            BookAudit::keeping_facts(),
            Options {
                threads,
                since: None,
            },
        ),
    };
    let first = options.since.as_ref().map_or(0, |t| t.size);
    let (mut source, what): (Box<dyn Iterator<Item = anyhow::Result<Vec<u8>>>>, String) =
        match (&args.export, &args.tiles) {
            (Some(path), _) => {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
                let lines = std::iter::from_fn(move || next_line(&mut reader).transpose())
                    .map(|line| line.map_err(anyhow::Error::from));
                (Box::new(lines), path.display().to_string())
            }
            (None, Some(url)) => {
                let size = tiles::checkpoint_size(checkpoint)?;
                let entries = tiles::entries(url, args.token.clone(), first, size);
                (Box::new(entries), format!("the tiles at {url}"))
            }
            (None, None) => anyhow::bail!("--export or --tiles is required"),
        };
    let mut io_error = None;
    let lines = std::iter::from_fn(|| match source.next()? {
        Ok(line) => Some(line),
        Err(e) => {
            io_error = Some(e);
            None
        }
    });
    let verified = audit::verify_stream(lines, checkpoint, keys, &options, |v: Verified<'_>| {
        // The ledger's own rules first, then who signed.
        book.apply_leaf(v.index, v.entry, v.leaf)
            .map_err(|reason| audit::fail(Some(v.index), format!("invariant: {reason}")))?;
        if let Some(check) = signers.as_mut() {
            check.check(v.entry)?;
        }
        Ok(())
    });
    if let Some(e) = io_error {
        return Err(e).with_context(|| format!("reading {what}"));
    }
    Ok(verified.map(|(report, tree)| {
        let snapshot = book.snapshot();
        let record = Record {
            tree,
            bond: snapshot.clone(),
        };
        (report, snapshot, signers.map(|s| s.report), record)
    }))
}

/// The next line (without its newline), allocated once at its length.
fn next_line(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut line: Vec<u8> = Vec::new();
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok((!line.is_empty()).then_some(line));
        }
        match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => {
                if line.is_empty() {
                    line = buffer[..end].to_vec();
                } else {
                    line.extend_from_slice(&buffer[..end]);
                }
                reader.consume(end + 1);
                return Ok(Some(line));
            }
            None => {
                let n = buffer.len();
                line.extend_from_slice(buffer);
                reader.consume(n);
            }
        }
    }
}

/// Write `bytes` to `path` so that a crash leaves either the old record or the new one.
fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn print_report(
    report: &audit::AuditReport,
    book: Option<&BookSnapshot>,
    signers: Option<&crate::ledger::keylog::SignerReport>,
) {
    if report.already_verified > 0 {
        println!(
            "OK: {} new entries of {} verified after the {} of the earlier audit; root {} matches \
             the signed checkpoint of size {}, which extends the earlier one",
            report.entries - report.already_verified,
            report.origin,
            report.already_verified,
            report.root,
            report.checkpoint_size
        );
    } else {
        println!(
            "OK: {} entries of {} verified; root {} matches the signed checkpoint of size {}",
            report.entries, report.origin, report.root, report.checkpoint_size
        );
    }
    if let Some(book) = book {
        let totals = book.totals();
        println!(
            "OK: supply conserved: issued {} − redeemed {} = outstanding {} across {} holders",
            totals.issued,
            totals.redeemed,
            totals.issued - totals.redeemed,
            book.holder_count()
        );
    }
    if let Some(crate::ledger::keylog::SignerReport {
        log_entries,
        checked,
        backfilled,
        recovered,
    }) = signers
    {
        for (entry, approval) in recovered {
            println!(
                "FLAG: entry {entry} is signed with a key installed by a recovery \
                 (key log entry {approval}): an operator's request a regulator approved"
            );
        }
        println!(
            "OK: key log of {log_entries} entries verified; each of {checked} signed \
             entries was signed with its party's active key on the key log"
        );
        if *backfilled > 0 {
            println!(
                "note: {backfilled} of them were signed with keys recorded on the key \
                 log when it was introduced (backfill), on the database's word"
            );
        }
    }
    if report.beyond_checkpoint > 0 {
        println!(
            "note: {} entries lie beyond the checkpoint and are not covered by it",
            report.beyond_checkpoint
        );
    }
}
