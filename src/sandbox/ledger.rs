//! Replaying a trial's ledger export: from signed entries to transactions, verdicts and a
//! report. Pure (lines in, a result out) and streaming: memory stays flat in the ledger's
//! length — entries are taken in chunks, their client signatures checked in batches on
//! `threads` threads, and the rule state kept incrementally by [`Replayer`].
//!
//! What this checks: each transaction entry's client signature over the RFC 8785 bytes of its
//! signed payload; that the recorded transaction is exactly what was signed (id, actor, body)
//! at the entry's time; and every recorded verdict against the rulebook. What it leaves to
//! `midori verify`: the service's countersignatures and the Merkle root against a signed
//! checkpoint, i.e. that the export is the ledger the service signed.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::replay::{Mismatch, Replayer, Report, RulebookRef, Verdict, compare};
use super::rulebook::Rulebook;
use super::state::State;
use super::tx::Tx;
use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::value::RawValue;

use super::tx::TxBody;
use crate::ledger::canon::{b64url_decode, parse_public_key};
use crate::ledger::entry::Entry;

/// Entry type of a trial's first entry.
pub const TRIAL_CREATED: &str = "trial.created";
/// Entry type of a judged transaction.
pub const SANDBOX_TX: &str = "sandbox.tx";
/// Lines parsed and verified together.
pub const CHUNK: usize = 4_096;

/// Whether a replay confirms the recorded verdicts or asks what another rulebook would say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The rulebook is the one the trial ran with (same SHA-256): every verdict must match.
    Confirm,
    /// Another rulebook: the mismatches are the verdicts that would change.
    WhatIf,
}

/// The outcome of replaying an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportReplay {
    pub mode: Mode,
    /// The rulebook the trial ran with, as entry 0 records it.
    pub recorded_rulebook: RulebookRef,
    pub transactions: u64,
    pub signatures_verified: u64,
    /// Positions where the replayed verdict differs from the recorded one.
    pub mismatches: Vec<Mismatch>,
    /// True when there are no mismatches (in confirm mode: every recorded verdict holds).
    pub consistent: bool,
    pub report: Report,
}

impl ExportReplay {
    /// A readable summary.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        let r = &self.report.rulebook;
        let rec = &self.recorded_rulebook;
        match self.mode {
            Mode::Confirm => text.push_str(&format!(
                "Replayed {} transactions under the rulebook the trial ran with ({} v{}, sha256 {}).\n",
                self.transactions, r.id, r.version, r.sha256
            )),
            Mode::WhatIf => text.push_str(&format!(
                "What-if: replayed {} transactions under {} v{} (sha256 {}); the trial ran with {} v{} (sha256 {}).\n",
                self.transactions, r.id, r.version, r.sha256, rec.id, rec.version, rec.sha256
            )),
        }
        text.push_str(&format!(
            "{} client signatures verified.\n",
            self.signatures_verified
        ));
        if self.mismatches.is_empty() {
            text.push_str(match self.mode {
                Mode::Confirm => "Every recorded verdict is confirmed.\n",
                Mode::WhatIf => "No verdict would change.\n",
            });
        } else {
            text.push_str(&format!(
                "{} verdict(s) {}:\n",
                self.mismatches.len(),
                match self.mode {
                    Mode::Confirm => "differ from the record",
                    Mode::WhatIf => "would change",
                }
            ));
            for m in self.mismatches.iter().take(50) {
                let rules = |v: &Option<Verdict>| {
                    v.as_ref()
                        .map(|v| {
                            if v.accepted {
                                "accepted".to_owned()
                            } else {
                                let ids: Vec<&str> =
                                    v.violations.iter().map(|x| x.rule.as_str()).collect();
                                format!("refused ({})", ids.join(", "))
                            }
                        })
                        .unwrap_or_else(|| "-".into())
                };
                text.push_str(&format!(
                    "  #{} {}: recorded {} → replayed {}\n",
                    m.index,
                    m.tx_id,
                    rules(&m.recorded),
                    rules(&m.replayed)
                ));
            }
            if self.mismatches.len() > 50 {
                text.push_str(&format!("  … and {} more\n", self.mismatches.len() - 50));
            }
        }
        text.push('\n');
        text.push_str(&self.report.summary());
        text
    }
}

/// Why an export cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("the export is empty")]
    Empty,
    #[error("entry {index}: {reason}")]
    Entry { index: u64, reason: String },
}

fn bad(index: u64, reason: impl Into<String>) -> ExportError {
    ExportError::Entry {
        index,
        reason: reason.into(),
    }
}

/// One transaction entry, parsed and ready to verify and judge.
struct Judged {
    index: u64,
    tx: Tx,
    recorded: Verdict,
    message: Vec<u8>,
    signature: Signature,
    key: VerifyingKey,
}

/// The trial's first entry: the recorded rulebook and the regulator that created it.
fn created(line: &[u8]) -> Result<(RulebookRef, String, String), ExportError> {
    let (entry, _) = Entry::from_leaf(line).map_err(|e| bad(0, e.to_string()))?;
    if entry.kind != TRIAL_CREATED {
        return Err(bad(
            0,
            format!(
                "a trial ledger starts with {TRIAL_CREATED}, not {}",
                entry.kind
            ),
        ));
    }
    let regulator = entry
        .actor
        .map(|a| a.party)
        .ok_or_else(|| bad(0, "the creation names no regulator"))?;
    let rulebook: RulebookRef =
        serde_json::from_value(entry.data.get("rulebook").cloned().unwrap_or(Value::Null))
            .map_err(|e| bad(0, format!("rulebook reference: {e}")))?;
    // The rulebook the regulator signed must be the one the entry says the trial runs under.
    let signed = entry
        .request
        .as_ref()
        .and_then(|r| r.payload.pointer("/trial/rulebook"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad(0, "the creation carries no signed rulebook"))?;
    let signed = Rulebook::parse(signed.as_bytes())
        .map_err(|e| bad(0, format!("the signed rulebook does not parse: {e}")))?;
    if signed.sha256() != rulebook.sha256 {
        return Err(bad(
            0,
            "the signed rulebook's SHA-256 is not the one the entry records",
        ));
    }
    let trial = entry
        .data
        .get("trial_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok((rulebook, regulator, trial))
}

/// The parts of an export line that replay reads, borrowed where the JSON allows. The line is
/// the entry's RFC 8785 form, so the raw bytes of `request.payload` are the canonical bytes its
/// signer signed (a line that is not canonical fails the signature check: `midori verify`
/// names it).
#[derive(Deserialize)]
struct LineRef<'a> {
    #[serde(borrow)]
    index: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    actor: Option<ActorRef<'a>>,
    #[serde(default, borrow)]
    request: Option<RequestRef<'a>>,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct ActorRef<'a> {
    #[serde(borrow)]
    party: Cow<'a, str>,
    #[serde(borrow)]
    jwk: JwkRef<'a>,
}

#[derive(Deserialize)]
struct JwkRef<'a> {
    #[serde(borrow)]
    x: Cow<'a, str>,
}

#[derive(Deserialize)]
struct RequestRef<'a> {
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(borrow)]
    signature: Cow<'a, str>,
}

#[derive(Deserialize)]
struct PayloadRef<'a> {
    #[serde(borrow)]
    trial_id: Cow<'a, str>,
    #[serde(borrow)]
    tx_id: Cow<'a, str>,
    body: TxBody,
}

#[derive(Deserialize)]
struct DataRef {
    tx: Tx,
    verdict: Verdict,
}

/// Public keys already decoded (a trial has few signers; decoding a point is not free).
type KeyCache = HashMap<String, VerifyingKey>;

/// Parse one transaction entry and check it records exactly what its actor signed.
/// `line_no` is the line's position in the export, which is the entry's index in a sound export;
/// errors name it.
fn parse(
    line: &[u8],
    line_no: u64,
    trial: &str,
    keys: &mut KeyCache,
) -> Result<Option<Judged>, ExportError> {
    let entry: LineRef =
        serde_json::from_slice(line).map_err(|e| bad(line_no, format!("not an entry: {e}")))?;
    let index = line_no;
    if entry.index != index.to_string() {
        return Err(bad(
            index,
            format!("the line holds entry {:?}", entry.index),
        ));
    }
    if entry.kind != SANDBOX_TX {
        return Ok(None);
    }
    let e = |reason: &str| bad(index, reason.to_owned());
    let DataRef {
        tx,
        verdict: recorded,
    } = serde_json::from_str(entry.data.get()).map_err(|x| bad(index, format!("data: {x}")))?;
    let actor = entry.actor.ok_or_else(|| e("no actor"))?;
    let request = entry.request.ok_or_else(|| e("no signed request"))?;
    let payload: PayloadRef = serde_json::from_str(request.payload.get())
        .map_err(|x| bad(index, format!("payload: {x}")))?;
    if tx.actor != actor.party {
        return Err(e("the transaction's actor is not the signer"));
    }
    if payload.tx_id != tx.id {
        return Err(e("the transaction id is not the one signed"));
    }
    if payload.trial_id != trial {
        return Err(e("the request was signed for another trial"));
    }
    if payload.body != tx.body {
        return Err(e("the transaction body is not the one signed"));
    }
    let time =
        time::OffsetDateTime::parse(&entry.time, &time::format_description::well_known::Rfc3339)
            .map_err(|x| bad(index, format!("entry time: {x}")))?;
    if tx.time != time {
        return Err(e("the transaction time is not the entry's time"));
    }
    let key = match keys.get(actor.jwk.x.as_ref()) {
        Some(k) => *k,
        None => {
            let k = parse_public_key(&actor.jwk.x).map_err(|x| bad(index, x.to_string()))?;
            keys.insert(actor.jwk.x.clone().into_owned(), k);
            k
        }
    };
    let sig: [u8; 64] = b64url_decode(&request.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| e("the signature is not 64 bytes of base64url"))?;
    let message = request.payload.get().as_bytes().to_vec();
    Ok(Some(Judged {
        index,
        tx,
        recorded,
        message,
        signature: Signature::from_bytes(&sig),
        key,
    }))
}

/// Parse and verify one slice of lines: batch verification, and on failure the first entry
/// whose signature is bad.
/// The first problem (by entry index) wins, whichever check finds it, so the answer does not
/// depend on how lines are split between threads.
fn parse_and_verify<L: AsRef<[u8]>>(
    lines: &[L],
    first_line: u64,
    trial: &str,
) -> Result<Vec<Judged>, ExportError> {
    let mut out = Vec::with_capacity(lines.len());
    let mut keys = KeyCache::new();
    let mut parse_error = None;
    for (i, line) in lines.iter().enumerate() {
        match parse(line.as_ref(), first_line + i as u64, trial, &mut keys) {
            Ok(Some(j)) => out.push(j),
            Ok(None) => {}
            Err(e) => {
                parse_error = Some(e);
                break;
            }
        }
    }
    let messages: Vec<&[u8]> = out.iter().map(|j| j.message.as_slice()).collect();
    let signatures: Vec<Signature> = out.iter().map(|j| j.signature).collect();
    let keys: Vec<VerifyingKey> = out.iter().map(|j| j.key).collect();
    if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_err() {
        for j in &out {
            if j.key.verify_strict(&j.message, &j.signature).is_err() {
                return Err(bad(
                    j.index,
                    "the client signature does not verify over the RFC 8785 bytes of its payload",
                ));
            }
        }
    }
    match parse_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn error_index(e: &ExportError) -> u64 {
    match e {
        ExportError::Empty => 0,
        ExportError::Entry { index, .. } => *index,
    }
}

/// Replay an export (an iterator of lines, entry 0 first) under `rulebook`, verifying client
/// signatures in batches on `threads` threads.
pub fn replay_export<I, L>(
    lines: I,
    rulebook: &Rulebook,
    threads: usize,
) -> Result<ExportReplay, ExportError>
where
    I: IntoIterator<Item = L>,
    L: AsRef<[u8]> + Sync,
{
    replay_export_from(lines, rulebook, threads, None).map(|(replay, _)| replay)
}

/// Where a replay of an export stopped: enough to go on with the entries appended since
/// (the regulator's audit keeps one per trial, written only after a consistent replay).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayProgress {
    /// Entries read, entry 0 included: the index of the next one.
    pub entries: u64,
    /// Transactions judged.
    pub transactions: u64,
    pub signatures_verified: u64,
    pub replayer: super::replay::Progress,
}

/// [`replay_export`], going on from `from` when given: `lines` then hold entry 0 (which
/// names the trial, its regulator and recorded rulebook) followed by entries `from.entries`
/// onwards; the counts, report and mismatch positions are those of the whole ledger. Returns
/// where it stopped, to go on from next time.
pub fn replay_export_from<I, L>(
    lines: I,
    rulebook: &Rulebook,
    threads: usize,
    from: Option<&ReplayProgress>,
) -> Result<(ExportReplay, ReplayProgress), ExportError>
where
    I: IntoIterator<Item = L>,
    L: AsRef<[u8]> + Sync,
{
    let mut lines = lines.into_iter();
    let first = lines.next().ok_or(ExportError::Empty)?;
    let (recorded_rulebook, regulator, trial) = created(first.as_ref())?;
    let mode = if recorded_rulebook.sha256 == rulebook.sha256() {
        Mode::Confirm
    } else {
        Mode::WhatIf
    };
    let mut replayer = match from {
        Some(p) => Replayer::resume(rulebook, p.replayer.clone()),
        None => Replayer::new(rulebook, State::new([regulator])),
    };
    let mut mismatches = Vec::new();
    let mut position = from.map_or(0, |p| p.transactions as usize);
    let mut signatures = from.map_or(0, |p| p.signatures_verified);
    let threads = threads.max(1);
    let mut chunk: Vec<L> = Vec::with_capacity(CHUNK);
    // Entry 0 was the first line; a resumed replay goes on at the entry it stopped before.
    let mut line_no = from.map_or(1, |p| p.entries.max(1));
    let mut flush = |chunk: &mut Vec<L>| -> Result<(), ExportError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let per = chunk.len().div_ceil(threads);
        let base = line_no;
        let parts: Vec<Result<Vec<Judged>, ExportError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .chunks(per)
                .enumerate()
                .map(|(k, part)| {
                    let first = base + (k * per) as u64;
                    let trial = &trial;
                    scope.spawn(move || parse_and_verify(part, first, trial))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(bad(0, "a verifier thread failed")))
                })
                .collect()
        });
        line_no += chunk.len() as u64;
        if let Some(e) = parts
            .iter()
            .filter_map(|p| p.as_ref().err())
            .min_by_key(|e| error_index(e))
        {
            return Err(e.clone());
        }
        for part in parts {
            for j in part? {
                signatures += 1;
                let replayed = replayer.step(&j.tx);
                if replayed != j.recorded {
                    for mut m in compare(
                        std::slice::from_ref(&j.recorded),
                        std::slice::from_ref(&replayed),
                    ) {
                        m.index = position;
                        mismatches.push(m);
                    }
                }
                position += 1;
            }
        }
        chunk.clear();
        Ok(())
    };
    for line in lines {
        if line.as_ref().is_empty() {
            continue;
        }
        chunk.push(line);
        if chunk.len() == CHUNK {
            flush(&mut chunk)?;
        }
    }
    flush(&mut chunk)?;
    let report = replayer.report();
    let progress = ReplayProgress {
        entries: line_no,
        transactions: position as u64,
        signatures_verified: signatures,
        replayer: replayer.into_progress(),
    };
    Ok((
        ExportReplay {
            mode,
            recorded_rulebook,
            transactions: position as u64,
            signatures_verified: signatures,
            consistent: mismatches.is_empty(),
            mismatches,
            report,
        },
        progress,
    ))
}
