//! The log core: canonical JSON, signatures, the RFC 9162 Merkle tree, proofs and checkpoints.
//! Pure: no I/O, no clock, no HTTP, no SQL.

pub mod canon;
pub mod merkle;
pub mod note;

use merkle::NodeId;

/// Everything that can go wrong in the log core. Every variant is caused by the input (a proof, a
/// note, a key, a JSON value) or by a caller passing inconsistent tree state; none is a bug, so
/// callers map them to 4xx answers or to a failed offline verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// A leaf index at or beyond the tree size (RFC 9162 §2.1.3.1 needs `0 <= m < n`).
    #[error("leaf index {index} is outside a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    /// Consistency between these sizes is undefined (RFC 9162 §2.1.4 needs `0 < m <= n`).
    #[error("no consistency proof exists from tree size {old} to tree size {new}")]
    InvalidSizes { old: u64, new: u64 },
    /// The tree already holds `u64::MAX` leaves.
    #[error("the tree is full")]
    TreeFull,
    /// The frontier passed in does not belong to a tree of this size.
    #[error("a tree of {size} leaves has {expected} frontier hashes, {got} were given")]
    FrontierMismatch {
        size: u64,
        expected: usize,
        got: usize,
    },
    /// A node needed for a proof or a root was not supplied.
    #[error("node at level {} index {} is missing", .0.level, .0.index)]
    MissingNode(NodeId),
    /// An inclusion proof did not verify (RFC 9162 §2.1.3.2).
    #[error("inclusion proof does not verify: {0}")]
    InclusionProof(&'static str),
    /// A consistency proof did not verify (RFC 9162 §2.1.4.2).
    #[error("consistency proof does not verify: {0}")]
    ConsistencyProof(&'static str),
    /// The text is not a well-formed C2SP signed note.
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// The note body is not a well-formed C2SP tlog-checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// The text is not a well-formed note verifier key (`name+keyid+base64key`).
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    /// A key name that the signed-note format cannot carry.
    #[error("invalid key name {0:?}: it must be non-empty, without spaces or '+'")]
    InvalidKeyName(String),
    /// Two different known keys share this name and key id, so a signature cannot be attributed.
    #[error("two different known keys are named {0} with the same key id")]
    AmbiguousKey(String),
    /// A signature from a known key did not verify: the whole note is rejected.
    #[error("the signature by {0} does not verify")]
    BadNoteSignature(String),
    /// The note carries no signature from any known key.
    #[error("the note has no valid signature from a known key")]
    UnverifiedNote,
    /// Bytes that should be base64 (RFC 4648) are not.
    #[error("invalid base64: {0}")]
    Base64(&'static str),
    /// JSON that cannot be parsed, or cannot be canonicalised the same way by every JCS library.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A public key that is not a usable Ed25519 key.
    #[error("invalid public key: {0}")]
    InvalidKey(&'static str),
    /// A detached signature that does not verify.
    #[error("the signature does not verify")]
    BadSignature,
}
pub mod audit;
pub mod entry;
pub mod jws;
pub mod keylog;
pub mod tiles;
pub mod witness;
