//! Offline verification of a ledger export against a signed checkpoint and the service's
//! published keys: what `midori verify` runs, and what an auditor can re-implement with a JCS
//! library, Ed25519 and SHA-256.
//!
//! Streaming and parallel: lines are taken in chunks of [`CHUNK`]; each chunk is split between
//! `threads` threads that parse every entry, check its canonical form, index and ledger, hash
//! it, and verify its signatures in one Ed25519 batch (falling back to one signature at a time
//! only to name the first bad entry). The caller's thread folds the leaf hashes into the tree's
//! frontier (O(log n) hashes) and hands each entry, in order, to the caller's own checks (the
//! token invariants, the key log). Memory holds one chunk, whatever the ledger's length.

use std::borrow::Cow;
use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::canon::{Jwk, b64url, b64url_decode, jwk_thumbprint};
use super::entry::{COUNTERSIGNATURE, Entry};
use super::merkle::{self, Hash};
use super::note::{self, Checkpoint};

/// Lines parsed and verified together (split between the threads).
pub const CHUNK: usize = 512;

/// What a successful audit established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub origin: String,
    /// Entries in the export.
    pub entries: u64,
    /// Tree size of the checkpoint; the first `checkpoint_size` entries hash to its root.
    pub checkpoint_size: u64,
    pub root: String,
    /// Entries past the checkpoint: signed and well-formed, but not covered by it.
    pub beyond_checkpoint: u64,
    /// Entries that an earlier audit had verified (`--since`): not read again; the new
    /// checkpoint's root was computed from the old tree's frontier, which proves the old
    /// checkpoint a prefix of the new one.
    #[serde(skip_serializing_if = "is_zero")]
    pub already_verified: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where and why an audit failed. `index` names the first bad entry, if the fault is in one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", match .index { Some(i) => format!("entry {i}: {}", .reason), None => .reason.clone() })]
pub struct AuditFailure {
    pub index: Option<u64>,
    pub reason: String,
}

pub fn fail(index: Option<u64>, reason: impl Into<String>) -> AuditFailure {
    AuditFailure {
        index,
        reason: reason.into(),
    }
}

/// What an auditor keeps of a verified tree to check only what is appended later: the signed
/// checkpoint it verified, and the frontier of the tree at that size (the perfect subtrees that
/// decompose it, RFC 9162 §2.1; at most 64 hashes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeFrontier {
    /// The signed checkpoint, as served.
    pub checkpoint: String,
    /// Leaves covered by the frontier (the checkpoint's size).
    pub size: u64,
    /// The frontier's hashes, base64url, largest subtree first.
    pub frontier: Vec<String>,
}

impl TreeFrontier {
    fn hashes(&self) -> Result<Vec<Hash>, AuditFailure> {
        let bad = || fail(None, "the saved frontier is not a list of 32-byte hashes");
        let hashes = self
            .frontier
            .iter()
            .map(|h| {
                b64url_decode(h)
                    .ok()
                    .and_then(|b| <Hash>::try_from(b.as_slice()).ok())
                    .ok_or_else(bad)
            })
            .collect::<Result<Vec<Hash>, _>>()?;
        if hashes.len() != self.size.count_ones() as usize {
            return Err(fail(
                None,
                "the saved frontier does not fit its size (one hash per set bit)",
            ));
        }
        Ok(hashes)
    }
}

/// A verified entry, handed to the caller's checks in ledger order.
pub struct Verified<'a> {
    pub index: u64,
    pub entry: &'a Entry,
    pub leaf: &'a [u8],
}

/// How to verify.
#[derive(Clone, Debug)]
pub struct Options {
    /// Threads that parse and verify (at least one).
    pub threads: usize,
    /// Resume after an earlier audit of the same ledger: the export starts at `since.size`.
    pub since: Option<TreeFrontier>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: 1,
            since: None,
        }
    }
}

/// Verify `lines` (the export, one canonical entry a line, in leaf order) against the signed
/// `checkpoint` text, trusting only `keys` (the service's JWK Set members).
///
/// Checks, in order: the checkpoint's signature; then for every entry its canonical form, its
/// index and ledger, the service's countersignature and the client's signature; and finally that
/// the first `size` leaves hash to the checkpoint's root (RFC 9162 §2.1.1).
pub fn verify_export<'a>(
    lines: impl IntoIterator<Item = &'a [u8]>,
    checkpoint: &str,
    keys: &[Jwk],
) -> Result<AuditReport, AuditFailure> {
    verify_stream(lines, checkpoint, keys, &Options::default(), |_| Ok(())).map(|(r, _)| r)
}

/// [`verify_export`], streaming, on `options.threads` threads, resuming after an earlier audit
/// when `options.since` is given; each verified entry is passed to `each` in ledger order (its
/// error names the entry). Returns the report and the frontier to resume from next time.
pub fn verify_stream<I, L, F>(
    lines: I,
    checkpoint: &str,
    keys: &[Jwk],
    options: &Options,
    mut each: F,
) -> Result<(AuditReport, TreeFrontier), AuditFailure>
where
    I: IntoIterator<Item = L>,
    L: AsRef<[u8]> + Send,
    F: FnMut(Verified<'_>) -> Result<(), AuditFailure>,
{
    let mut by_kid: HashMap<String, VerifyingKey> = HashMap::new();
    for jwk in keys {
        let key = jwk
            .to_key()
            .map_err(|e| fail(None, format!("key set: {e}")))?;
        by_kid.insert(jwk_thumbprint(&key), key);
    }
    let cp = open_checkpoint(checkpoint, &by_kid)?;
    let (start, mut frontier) = match &options.since {
        None => (0, Vec::new()),
        Some(old) => {
            let old_cp = open_checkpoint(&old.checkpoint, &by_kid)
                .map_err(|f| fail(None, format!("the earlier checkpoint: {}", f.reason)))?;
            if old_cp.origin != cp.origin {
                return Err(fail(
                    None,
                    format!(
                        "the earlier checkpoint is of ledger {:?}, this one of {:?}",
                        old_cp.origin, cp.origin
                    ),
                ));
            }
            let hashes = old.hashes()?;
            if old.size != old_cp.size || merkle::root_from_frontier(&hashes) != old_cp.root {
                return Err(fail(
                    None,
                    "the saved frontier does not hash to the earlier checkpoint's root",
                ));
            }
            if cp.size < old_cp.size {
                return Err(fail(
                    None,
                    format!(
                        "the checkpoint (size {}) is older than the one already verified (size {})",
                        cp.size, old_cp.size
                    ),
                ));
            }
            (old_cp.size, hashes)
        }
    };
    let mut size = start;
    if cp.size == size && merkle::root_from_frontier(&frontier) != cp.root {
        return Err(fail(
            None,
            format!(
                "the first {} entries do not hash to the checkpoint's root",
                cp.size
            ),
        ));
    }
    let mut covered: Option<Vec<Hash>> = (cp.size == size).then(|| frontier.clone());
    let threads = options.threads.max(1);
    let context = Context {
        origin: &cp.origin,
        by_kid: &by_kid,
    };
    let context = &context;
    let mut lines = lines.into_iter();
    std::thread::scope(|scope| -> Result<(), AuditFailure> {
        // Helpers live as long as the audit (one heap each, no thread started per chunk). Each
        // chunk is split between them, part `k` to helper `k`; while this thread folds one
        // chunk into the tree and the caller's checks, they already check the next.
        let mut helpers = Vec::new();
        for _ in 0..threads {
            let (to_helper, jobs) = std::sync::mpsc::sync_channel::<Job<L>>(4);
            let (done, from_helper) = std::sync::mpsc::sync_channel(2);
            scope.spawn(move || {
                for job in jobs {
                    match job {
                        Job::Check(first, part) => {
                            let checked = check_part(&part, first, context);
                            if done.send((part, checked)).is_err() {
                                break;
                            }
                        }
                        // Freed by the thread that allocated them, which reuses their memory.
                        Job::Drop(part, checked) => drop((part, checked)),
                    }
                }
            });
            helpers.push((to_helper, from_helper));
        }
        let lost = || fail(None, "a verifier thread failed");
        let mut in_flight: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
        let mut read = size;
        let mut exhausted = false;
        loop {
            while !exhausted && in_flight.len() < 2 {
                let mut chunk: Vec<L> = lines
                    .by_ref()
                    .filter(|l| !l.as_ref().is_empty())
                    .take(CHUNK)
                    .collect();
                if chunk.is_empty() {
                    exhausted = true;
                    break;
                }
                let per = chunk.len().div_ceil(threads);
                let mut parts = 0;
                for (to_helper, _) in &helpers {
                    if chunk.is_empty() {
                        break;
                    }
                    let rest = chunk.split_off(per.min(chunk.len()));
                    let n = chunk.len() as u64;
                    to_helper
                        .send(Job::Check(read, chunk))
                        .map_err(|_| lost())?;
                    read += n;
                    parts += 1;
                    chunk = rest;
                }
                in_flight.push_back(parts);
            }
            let Some(parts) = in_flight.pop_front() else {
                return Ok(());
            };
            let mut checked_parts = Vec::with_capacity(parts);
            for (_, from_helper) in helpers.iter().take(parts) {
                checked_parts.push(from_helper.recv().map_err(|_| lost())?);
            }
            // The first failure by entry index wins, whichever thread found it.
            if let Some(e) = checked_parts
                .iter()
                .filter_map(|(_, p)| p.as_ref().err())
                .min_by_key(|e| e.index)
            {
                return Err(e.clone());
            }
            for ((part_lines, checked), (to_helper, _)) in checked_parts.into_iter().zip(&helpers) {
                let checked = checked?;
                for (line, checked) in part_lines.iter().zip(&checked) {
                    let index = size;
                    frontier = merkle::append(index, &frontier, checked.hash)
                        .map_err(|e| fail(Some(index), e.to_string()))?
                        .frontier;
                    size += 1;
                    each(Verified {
                        index,
                        entry: &checked.entry,
                        leaf: line.as_ref(),
                    })?;
                    if size == cp.size {
                        if merkle::root_from_frontier(&frontier) != cp.root {
                            // A root names no leaf: the range is all that can be said.
                            return Err(fail(
                                None,
                                format!(
                                    "the first {} entries do not hash to the checkpoint's root",
                                    cp.size
                                ),
                            ));
                        }
                        covered = Some(frontier.clone());
                    }
                }
                let _ = to_helper.send(Job::Drop(part_lines, checked));
            }
        }
    })?;
    let Some(covered) = covered else {
        return Err(fail(
            None,
            format!("export has {size} entries, checkpoint covers {}", cp.size),
        ));
    };
    let report = AuditReport {
        origin: cp.origin.clone(),
        entries: size,
        checkpoint_size: cp.size,
        root: b64url(&cp.root),
        beyond_checkpoint: size - cp.size,
        already_verified: start,
    };
    let resume = TreeFrontier {
        checkpoint: checkpoint.to_owned(),
        size: cp.size,
        frontier: covered.iter().map(|h| b64url(h)).collect(),
    };
    Ok((report, resume))
}

enum Job<L> {
    /// Check these lines, the first being entry `.0`.
    Check(u64, Vec<L>),
    /// Done with: free them.
    Drop(Vec<L>, Vec<Checked>),
}

struct Context<'a> {
    origin: &'a str,
    by_kid: &'a HashMap<String, VerifyingKey>,
}

/// One entry, parsed and hashed; its signatures verified with the rest of its part.
struct Checked {
    entry: Entry,
    hash: Hash,
}

/// The parts of a leaf whose bytes are signed: the client's payload (a canonical member of a
/// canonical object is itself canonical, so its bytes are a slice of the leaf) and the
/// countersignature member (the service signed the leaf without it).
#[derive(Deserialize)]
struct SignedParts<'a> {
    #[serde(borrow)]
    countersignature: &'a RawValue,
    #[serde(borrow, default)]
    request: Option<RawRequest<'a>>,
}

#[derive(Deserialize)]
struct RawRequest<'a> {
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// Parse, hash and verify `lines` (entries `first`, `first + 1`, …).
fn check_part<L: AsRef<[u8]>>(
    lines: &[L],
    first: u64,
    context: &Context<'_>,
) -> Result<Vec<Checked>, AuditFailure> {
    let mut out = Vec::with_capacity(lines.len());
    // Messages, signatures, keys, and which entry each signature belongs to.
    let mut messages: Vec<Cow<'_, [u8]>> = Vec::with_capacity(lines.len() * 2);
    let mut signatures: Vec<Signature> = Vec::with_capacity(lines.len() * 2);
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(lines.len() * 2);
    let mut owners: Vec<(u64, &'static str)> = Vec::with_capacity(lines.len() * 2);
    let mut clients: HashMap<String, (VerifyingKey, String)> = HashMap::new();
    let mut parse_error = None;
    for (n, line) in lines.iter().enumerate() {
        let index = first + n as u64;
        let line = line.as_ref();
        match check_line(line, index, context, &mut clients) {
            Ok((entry, signed)) => {
                for (message, signature, key, what) in signed {
                    messages.push(message);
                    signatures.push(signature);
                    keys.push(key);
                    owners.push((index, what));
                }
                out.push(Checked {
                    entry,
                    hash: merkle::leaf_hash(line),
                });
            }
            Err(e) => {
                parse_error = Some(e);
                break;
            }
        }
    }
    let refs: Vec<&[u8]> = messages.iter().map(|m| m.as_ref()).collect();
    if ed25519_dalek::verify_batch(&refs, &signatures, &keys).is_err() {
        for (((message, signature), key), (index, what)) in
            refs.iter().zip(&signatures).zip(&keys).zip(&owners)
        {
            if key.verify_strict(message, signature).is_err() {
                return Err(fail(Some(*index), format!("{what}: bad signature")));
            }
        }
    }
    match parse_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

type ToVerify<'l> = (Cow<'l, [u8]>, Signature, VerifyingKey, &'static str);

/// One line: canonical form, index, ledger, keys; returns the entry and its signatures to check.
fn check_line<'l>(
    line: &'l [u8],
    index: u64,
    context: &Context<'_>,
    clients: &mut HashMap<String, (VerifyingKey, String)>,
) -> Result<(Entry, Vec<ToVerify<'l>>), AuditFailure> {
    let entry = Entry::from_leaf_only(line).map_err(|e| fail(Some(index), e.to_string()))?;
    let at = entry
        .index()
        .map_err(|e| fail(Some(index), e.to_string()))?;
    if at != index {
        return Err(fail(
            Some(index),
            format!("entry says index {at}, found at position {index}"),
        ));
    }
    if entry.ledger != context.origin {
        return Err(fail(
            Some(index),
            format!(
                "entry belongs to ledger {:?}, checkpoint to {:?}",
                entry.ledger, context.origin
            ),
        ));
    }
    let service = context
        .by_kid
        .get(&entry.countersignature.kid)
        .ok_or_else(|| {
            fail(
                Some(index),
                format!(
                    "countersigned by unknown key {}",
                    entry.countersignature.kid
                ),
            )
        })?;
    let parts: SignedParts<'l> =
        serde_json::from_slice(line).map_err(|e| fail(Some(index), e.to_string()))?;
    let mut signed = Vec::with_capacity(2);
    signed.push((
        Cow::Owned(without_member(line, parts.countersignature.get())),
        signature(&entry.countersignature.sig)
            .map_err(|why| fail(Some(index), format!("countersignature: {why}")))?,
        *service,
        "countersignature",
    ));
    if let (Some(actor), Some(request), Some(raw)) = (&entry.actor, &entry.request, &parts.request)
    {
        let client = |why: String| fail(Some(index), format!("client signature: {why}"));
        let (key, kid) = match clients.get(actor.jwk.x.as_str()) {
            Some(found) => found.clone(),
            None => {
                let key = actor.jwk.to_key().map_err(|e| client(e.to_string()))?;
                let found = (key, jwk_thumbprint(&key));
                clients.insert(actor.jwk.x.clone(), found.clone());
                found
            }
        };
        if request
            .payload
            .get("kid")
            .and_then(serde_json::Value::as_str)
            != Some(kid.as_str())
        {
            return Err(client(
                "request payload does not name the actor's key".into(),
            ));
        }
        signed.push((
            Cow::Borrowed(raw.payload.get().as_bytes()),
            signature(&request.signature).map_err(client)?,
            key,
            "client signature",
        ));
    }
    Ok((entry, signed))
}

fn signature(b64: &str) -> Result<Signature, String> {
    let bytes = b64url_decode(b64).map_err(|e| e.to_string())?;
    Signature::from_slice(&bytes).map_err(|_| "a signature is 64 bytes".to_owned())
}

/// The canonical bytes of the leaf's object without its countersignature member, whose value
/// is the slice `value` of `line`. Removing one member (and one comma) from a canonical object
/// leaves the canonical form of the rest, so this is what the service signed.
fn without_member(line: &[u8], value: &str) -> Vec<u8> {
    let value_start = value.as_ptr() as usize - line.as_ptr() as usize;
    let value_end = value_start + value.len();
    let key_start = value_start - COUNTERSIGNATURE.len() - 3; // `"countersignature":`
    let (cut_start, cut_end) = if line[key_start - 1] == b',' {
        (key_start - 1, value_end)
    } else if line.get(value_end) == Some(&b',') {
        (key_start, value_end + 1)
    } else {
        (key_start, value_end)
    };
    let mut out = Vec::with_capacity(line.len() - (cut_end - cut_start));
    out.extend_from_slice(&line[..cut_start]);
    out.extend_from_slice(&line[cut_end..]);
    out
}

/// Open a signed checkpoint with any of `keys`, under the key names its signature lines carry
/// (the C2SP key id binds name and key, so a forged name cannot match).
pub fn open_checkpoint(
    text: &str,
    keys: &HashMap<String, VerifyingKey>,
) -> Result<Checkpoint, AuditFailure> {
    let names: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("\u{2014} "))
        .filter_map(|rest| rest.split(' ').next())
        .map(str::to_owned)
        .collect();
    let verifiers: Vec<(String, VerifyingKey)> = names
        .iter()
        .flat_map(|name| keys.values().map(move |key| (name.clone(), *key)))
        .collect();
    note::open_checkpoint(text, &verifiers).map_err(|e| fail(None, format!("checkpoint: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::canon::jcs;

    #[test]
    fn removing_the_countersignature_member_leaves_the_canonical_rest() {
        for text in [
            r#"{"a":1,"countersignature":{"sig":"x"},"z":2}"#,
            r#"{"countersignature":{"sig":"x"},"z":2}"#,
            r#"{"a":1,"countersignature":{"sig":"x"}}"#,
        ] {
            let line = text.as_bytes();
            let parts: SignedParts<'_> = serde_json::from_slice(line).unwrap();
            let mut value: serde_json::Value = serde_json::from_slice(line).unwrap();
            value.as_object_mut().unwrap().remove(COUNTERSIGNATURE);
            assert_eq!(
                without_member(line, parts.countersignature.get()),
                jcs(&value).unwrap(),
                "{text}"
            );
        }
    }
}
