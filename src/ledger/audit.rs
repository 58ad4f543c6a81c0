//! Offline verification of a ledger export against a signed checkpoint and the service's
//! published keys: what `midori verify` runs, and what an auditor can re-implement with a JCS
//! library, Ed25519 and SHA-256.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::canon::Jwk;
use super::entry::Entry;
use super::merkle::{self, Hash};
use super::note::{self, Checkpoint};

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
}

/// Where and why an audit failed. `index` names the first bad entry, if the fault is in one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", match .index { Some(i) => format!("entry {i}: {}", .reason), None => .reason.clone() })]
pub struct AuditFailure {
    pub index: Option<u64>,
    pub reason: String,
}

fn fail(index: Option<u64>, reason: impl Into<String>) -> AuditFailure {
    AuditFailure {
        index,
        reason: reason.into(),
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
    let mut by_kid: HashMap<String, VerifyingKey> = HashMap::new();
    for jwk in keys {
        let key = jwk
            .to_key()
            .map_err(|e| fail(None, format!("key set: {e}")))?;
        by_kid.insert(super::canon::jwk_thumbprint(&key), key);
    }
    let checkpoint = open_checkpoint(checkpoint, &by_kid)?;

    let mut hashes: Vec<Hash> = Vec::new();
    for (i, line) in lines.into_iter().enumerate() {
        let i = i as u64;
        let (entry, value) = Entry::from_leaf(line).map_err(|e| fail(Some(i), e.to_string()))?;
        let index = entry.index().map_err(|e| fail(Some(i), e.to_string()))?;
        if index != i {
            return Err(fail(
                Some(i),
                format!("entry says index {index}, found at position {i}"),
            ));
        }
        if entry.ledger != checkpoint.origin {
            return Err(fail(
                Some(i),
                format!(
                    "entry belongs to ledger {:?}, checkpoint to {:?}",
                    entry.ledger, checkpoint.origin
                ),
            ));
        }
        let key = by_kid.get(&entry.countersignature.kid).ok_or_else(|| {
            fail(
                Some(i),
                format!(
                    "countersigned by unknown key {}",
                    entry.countersignature.kid
                ),
            )
        })?;
        Entry::verify_countersignature(&value, key)
            .map_err(|e| fail(Some(i), format!("countersignature: {e}")))?;
        entry
            .verify_request()
            .map_err(|e| fail(Some(i), format!("client signature: {e}")))?;
        hashes.push(merkle::leaf_hash(line));
    }

    let entries = hashes.len() as u64;
    if entries < checkpoint.size {
        return Err(fail(
            None,
            format!(
                "export has {entries} entries, checkpoint covers {}",
                checkpoint.size
            ),
        ));
    }
    let root = merkle::root_of(&hashes[..checkpoint.size as usize]);
    if root != checkpoint.root {
        // Find the first entry whose leaf is not the one the checkpoint committed to is not
        // possible from a root alone; name the range instead.
        return Err(fail(
            None,
            format!(
                "the first {} entries do not hash to the checkpoint's root",
                checkpoint.size
            ),
        ));
    }
    Ok(AuditReport {
        origin: checkpoint.origin,
        entries,
        checkpoint_size: checkpoint.size,
        root: super::canon::b64url(&root),
        beyond_checkpoint: entries - checkpoint.size,
    })
}

/// Open a signed checkpoint with any of `keys`, under the key names its signature lines carry
/// (the C2SP key id binds name and key, so a forged name cannot match).
fn open_checkpoint(
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
