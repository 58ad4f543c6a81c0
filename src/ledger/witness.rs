//! Witnesses (C2SP tlog-witness, tlog-cosignature): an independent party that cosigns a
//! ledger's checkpoint only if it is consistent with every checkpoint of that ledger it
//! cosigned before, so that a service cannot show two histories (a split view) to two
//! auditors who each require the witness's cosignature.
//!
//! Pure: the request and cosignature formats, and the witness's decision given what it last
//! cosigned. The HTTP service (`midori witness`) and the service's submissions are elsewhere.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::LedgerError;
use super::merkle::{self, Hash};
use super::note::{self, Checkpoint};

/// Signature type of an Ed25519 cosignature (tlog-cosignature, "Format").
pub const COSIGNATURE_TYPE: u8 = 0x04;
/// Most consistency proof lines a request may carry (tlog-witness).
pub const PROOF_LINES_MAX: usize = 63;
/// Content type of a 409 answer's body: the size the witness last cosigned.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The verifier key of a witness: `<name>+<hex key id>+base64(0x04 || public key)`.
pub fn witness_vkey(name: &str, key: &VerifyingKey) -> String {
    let mut typed = Vec::with_capacity(33);
    typed.push(COSIGNATURE_TYPE);
    typed.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        note::hex_lower(&note::typed_key_id(name, COSIGNATURE_TYPE, key)),
        STANDARD.encode(typed)
    )
}

/// Parse a witness's verifier key (type 0x04).
pub fn parse_witness_vkey(vkey: &str) -> Result<(String, VerifyingKey), LedgerError> {
    note::parse_typed_verifier_key(vkey, COSIGNATURE_TYPE)
}

/// The message a v1 cosignature signs: a header line, the time line, the checkpoint's body.
fn signed_message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// A cosignature line (ending in a newline) over a checkpoint's note `body`, made at
/// `timestamp` (POSIX seconds).
pub fn cosign(body: &str, name: &str, key: &SigningKey, timestamp: u64) -> String {
    let signature = key.sign(signed_message(body, timestamp).as_bytes());
    let mut blob = Vec::with_capacity(4 + 8 + 64);
    blob.extend_from_slice(&note::typed_key_id(
        name,
        COSIGNATURE_TYPE,
        &key.verifying_key(),
    ));
    blob.extend_from_slice(&timestamp.to_be_bytes());
    blob.extend_from_slice(&signature.to_bytes());
    format!("\u{2014} {name} {}\n", STANDARD.encode(blob))
}

/// The body of a signed note (up to and including the newline before the blank line).
fn note_body(text: &str) -> Result<&str, LedgerError> {
    text.rfind("\n\n")
        .map(|split| &text[..split + 1])
        .ok_or(LedgerError::MalformedNote(
            "no blank line before the signatures",
        ))
}

/// Find the cosignature of witness (`name`, `key`) on the signed checkpoint `text` and verify
/// it; returns its timestamp. Lines of other keys are ignored.
pub fn verify_cosignature(text: &str, name: &str, key: &VerifyingKey) -> Result<u64, String> {
    let body = note_body(text).map_err(|e| e.to_string())?;
    let id = note::typed_key_id(name, COSIGNATURE_TYPE, key);
    let prefix = format!("\u{2014} {name} ");
    for line in text[body.len()..].lines() {
        let Some(b64) = line.strip_prefix(&prefix) else {
            continue;
        };
        let Ok(blob) = STANDARD.decode(b64) else {
            continue;
        };
        if blob.len() != 4 + 8 + 64 || blob[..4] != id {
            continue;
        }
        let timestamp = u64::from_be_bytes(blob[4..12].try_into().expect("8 bytes"));
        let signature = Signature::from_slice(&blob[12..]).expect("64 bytes");
        return key
            .verify_strict(signed_message(body, timestamp).as_bytes(), &signature)
            .map(|()| timestamp)
            .map_err(|_| format!("the cosignature of witness {name} does not verify"));
    }
    Err(format!("no cosignature of witness {name}"))
}

/// An `add-checkpoint` request: the size of the checkpoint the witness last cosigned (as the
/// log believes), a consistency proof from it, and the new signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// The request body.
    pub fn to_text(&self) -> String {
        let mut text = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            text.push_str(&STANDARD.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parse a request body, strictly.
    pub fn parse(text: &str) -> Result<AddCheckpoint, String> {
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or("no empty line before the checkpoint")?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or("the first line is not `old <size>`")?;
        let old_size = crate::ledger::entry::parse_index(old)
            .map_err(|_| "the old size is not a decimal without leading zeros")?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == PROOF_LINES_MAX {
                return Err(format!("more than {PROOF_LINES_MAX} proof lines"));
            }
            let hash: Hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or("a proof line is not a base64 hash of 32 bytes")?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

/// Why a witness refuses a checkpoint, with the HTTP status tlog-witness prescribes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("400: {0}")]
    BadRequest(String),
    #[error("403: no signature of a key trusted for this origin verifies")]
    Forbidden,
    #[error("404: unknown origin {0:?}")]
    UnknownOrigin(String),
    /// The old size is not the size last cosigned, which is given.
    #[error("409: the witness last cosigned size {0}")]
    StaleSize(u64),
    /// Same size as last cosigned, another root: a fork.
    #[error("409: same size as the checkpoint last cosigned, another root")]
    Fork,
    #[error("422: the consistency proof does not verify: {0}")]
    Inconsistent(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Forbidden => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::StaleSize(_) | Refusal::Fork => 409,
            Refusal::Inconsistent(_) => 422,
        }
    }
}

/// The logs a witness follows: an origin prefix (a service's host, `midori.example/`, covers
/// every ledger it serves) and the log keys trusted for it.
#[derive(Clone, Debug)]
pub struct TrustedLog {
    pub origin_prefix: String,
    pub keys: Vec<(String, VerifyingKey)>,
}

/// The witness's decision on `request`, given the checkpoint it last cosigned for the origin
/// (size and root; `None` if never): the checkpoint to record and cosign, or a refusal. The
/// caller must record it durably, atomically with reading `last`, before answering.
pub fn judge(
    logs: &[TrustedLog],
    last: impl FnOnce(&str) -> Option<(u64, Hash)>,
    request: &AddCheckpoint,
) -> Result<Checkpoint, Refusal> {
    let body = note_body(&request.checkpoint).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    let origin = body.split('\n').next().unwrap_or("");
    let log = logs
        .iter()
        .find(|l| origin.starts_with(&l.origin_prefix))
        .ok_or_else(|| Refusal::UnknownOrigin(origin.to_owned()))?;
    let checkpoint = match note::open_checkpoint(&request.checkpoint, &log.keys) {
        Ok(c) => c,
        Err(LedgerError::UnverifiedNote) | Err(LedgerError::BadNoteSignature(_)) => {
            return Err(Refusal::Forbidden);
        }
        Err(e) => return Err(Refusal::BadRequest(e.to_string())),
    };
    if request.old_size > checkpoint.size {
        return Err(Refusal::BadRequest(format!(
            "old size {} is beyond the checkpoint's size {}",
            request.old_size, checkpoint.size
        )));
    }
    let (last_size, last_root) = match last(&checkpoint.origin) {
        Some((size, root)) => (size, Some(root)),
        None => (0, None),
    };
    if request.old_size != last_size {
        return Err(Refusal::StaleSize(last_size));
    }
    if request.old_size == checkpoint.size {
        // Nothing appended: the same tree, or a fork.
        if last_root.is_some_and(|root| root != checkpoint.root) {
            return Err(Refusal::Fork);
        }
        if !request.proof.is_empty() {
            return Err(Refusal::Inconsistent(
                "a proof between equal sizes must be empty".into(),
            ));
        }
    } else if let Some(root) = last_root.filter(|_| request.old_size > 0) {
        merkle::verify_consistency(
            request.old_size,
            checkpoint.size,
            &request.proof,
            &root,
            &checkpoint.root,
        )
        .map_err(|e| Refusal::Inconsistent(e.to_string()))?;
    } else if !request.proof.is_empty() {
        return Err(Refusal::Inconsistent(
            "a proof from size 0 must be empty".into(),
        ));
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::merkle::leaf_hash;
    use crate::ledger::note::sign_checkpoint;

    fn log_key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn checkpoint(leaves: &[&[u8]], size: usize) -> (String, Checkpoint) {
        let hashes: Vec<Hash> = leaves[..size].iter().map(|l| leaf_hash(l)).collect();
        let cp = Checkpoint {
            origin: "midori.test/bonds/b1".into(),
            size: size as u64,
            root: merkle::root_of(&hashes),
        };
        (sign_checkpoint(&cp, "midori.test", &log_key()), cp)
    }

    fn logs() -> Vec<TrustedLog> {
        vec![TrustedLog {
            origin_prefix: "midori.test/".into(),
            keys: vec![("midori.test".into(), log_key().verifying_key())],
        }]
    }

    fn proof(leaves: &[&[u8]], old: usize, new: usize) -> Vec<Hash> {
        let hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let mut nodes = std::collections::HashMap::new();
        let mut frontier = Vec::new();
        for (i, h) in hashes[..new].iter().enumerate() {
            let appended = merkle::append(i as u64, &frontier, *h).unwrap();
            nodes.extend(appended.nodes);
            frontier = appended.frontier;
        }
        merkle::consistency_proof(old as u64, new as u64, &nodes).unwrap()
    }

    #[test]
    fn a_cosignature_verifies_under_its_witness_key_and_no_other() {
        let (text, _) = checkpoint(&[b"a", b"b"], 2);
        let witness = SigningKey::from_bytes(&[9; 32]);
        let line = cosign(
            note_body(&text).unwrap(),
            "w.test/1",
            &witness,
            1_700_000_000,
        );
        let cosigned = format!("{text}{line}");
        assert_eq!(
            verify_cosignature(&cosigned, "w.test/1", &witness.verifying_key()),
            Ok(1_700_000_000)
        );
        let other = SigningKey::from_bytes(&[10; 32]).verifying_key();
        assert!(verify_cosignature(&cosigned, "w.test/1", &other).is_err());
        // The log's own signature still opens: a cosignature is one more line it ignores.
        note::open_checkpoint(
            &cosigned,
            &[("midori.test".into(), log_key().verifying_key())],
        )
        .unwrap();
        // The vkey round-trips and says it is a cosignature key.
        let vkey = witness_vkey("w.test/1", &witness.verifying_key());
        assert_eq!(
            parse_witness_vkey(&vkey).unwrap(),
            ("w.test/1".to_owned(), witness.verifying_key())
        );
        assert!(note::parse_verifier_key(&vkey).is_err());
    }

    #[test]
    fn the_request_body_round_trips_as_the_specification_writes_it() {
        let leaves: [&[u8]; 5] = [b"a", b"b", b"c", b"d", b"e"];
        let (text, _) = checkpoint(&leaves, 5);
        let request = AddCheckpoint {
            old_size: 3,
            proof: proof(&leaves, 3, 5),
            checkpoint: text,
        };
        let body = request.to_text();
        assert!(body.starts_with("old 3\n"));
        assert_eq!(AddCheckpoint::parse(&body).unwrap(), request);
        assert!(AddCheckpoint::parse("old 03\n\nx").is_err());
        assert!(AddCheckpoint::parse("new 3\n\nx").is_err());
    }

    #[test]
    fn a_witness_cosigns_growth_and_refuses_a_fork_a_stale_size_and_a_stranger() {
        let leaves: [&[u8]; 6] = [b"a", b"b", b"c", b"d", b"e", b"f"];
        let (three, cp3) = checkpoint(&leaves, 3);
        let first = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: three.clone(),
        };
        assert_eq!(judge(&logs(), |_| None, &first).unwrap(), cp3);
        let last = Some((3, cp3.root));
        // Growth with a proof from 3.
        let (six, cp6) = checkpoint(&leaves, 6);
        let grow = AddCheckpoint {
            old_size: 3,
            proof: proof(&leaves, 3, 6),
            checkpoint: six.clone(),
        };
        assert_eq!(judge(&logs(), |_| last, &grow).unwrap(), cp6);
        // A fork: another sixth leaf, with a proof that is honest for the forked tree.
        let forked: [&[u8]; 6] = [b"a", b"b", b"c", b"d", b"e", b"X"];
        let (fork, _) = checkpoint(&forked, 6);
        let mut request = AddCheckpoint {
            old_size: 3,
            proof: proof(&forked, 3, 6),
            checkpoint: fork.clone(),
        };
        assert_eq!(
            judge(&logs(), |_| Some((6, cp6.root)), &request),
            Err(Refusal::StaleSize(6))
        );
        request.old_size = 6;
        request.proof = vec![];
        assert_eq!(
            judge(&logs(), |_| Some((6, cp6.root)), &request),
            Err(Refusal::Fork)
        );
        // A rewritten prefix: the forked history at 3 differs from what was cosigned.
        let rewritten: [&[u8]; 6] = [b"a", b"Y", b"c", b"d", b"e", b"f"];
        let (rw, _) = checkpoint(&rewritten, 6);
        let request = AddCheckpoint {
            old_size: 3,
            proof: proof(&rewritten, 3, 6),
            checkpoint: rw,
        };
        assert!(matches!(
            judge(&logs(), |_| last, &request),
            Err(Refusal::Inconsistent(_))
        ));
        // Old size 0 when the witness has a record: told the size.
        assert_eq!(judge(&logs(), |_| last, &first), Err(Refusal::StaleSize(3)));
        // Signed by a key the witness does not trust; an origin it does not follow.
        let stranger = SigningKey::from_bytes(&[8; 32]);
        let cp = Checkpoint::parse_body(note_body(&three).unwrap()).unwrap();
        let forged = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: sign_checkpoint(&cp, "midori.test", &stranger),
        };
        assert_eq!(judge(&logs(), |_| None, &forged), Err(Refusal::Forbidden));
        let elsewhere = Checkpoint {
            origin: "other.test/x".into(),
            ..cp
        };
        let unknown = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: sign_checkpoint(&elsewhere, "midori.test", &log_key()),
        };
        assert!(matches!(
            judge(&logs(), |_| None, &unknown),
            Err(Refusal::UnknownOrigin(_))
        ));
    }
}
