//! C2SP `signed-note` (v1.0.0) with Ed25519 signatures, and C2SP `tlog-checkpoint` bodies.
//!
//! A checkpoint is the text an auditor compares across time: `origin\nsize\nbase64(root)\n`, signed
//! as a note so that any Go `sumdb/note` verifier (and the witnesses built on it) accepts it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::LedgerError;
use super::merkle::Hash;

/// A C2SP tlog-checkpoint: the tree head of one log at one size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Names the log (tlog-checkpoint "origin" line), e.g. `midori.example/bonds/<bond-id>`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 9162 root hash of the first `size` leaves.
    pub root: Hash,
}

/// The C2SP signed-note signature type byte for Ed25519 ("Signature types").
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;

/// The most signature lines `open_note` reads. C2SP signed-note "Format" says verifiers SHOULD
/// bound this and MUST accept at least 16; Go's `sumdb/note` uses 100, as we do.
pub const MAX_SIGNATURES: usize = 100;

/// C2SP signed-note "Signatures": key ID = first 4 bytes of SHA-256(name || 0x0A || 0x01 || pubkey).
pub fn note_key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    typed_key_id(name, ED25519_SIGNATURE_TYPE, key)
}

/// The key ID of a key of signature type `kind` (0x01 note signatures, 0x04 cosignatures).
pub fn typed_key_id(name: &str, kind: u8, key: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', kind]);
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The verifier key text of Go's `sumdb/note`: `<name>+<hex keyid>+<base64std(0x01||pubkey)>`.
/// `name` should satisfy the signed-note rules (see `try_sign_note`); `parse_verifier_key` rejects
/// a text whose name does not.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    let mut typed = Vec::with_capacity(33);
    typed.push(ED25519_SIGNATURE_TYPE);
    typed.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        hex_lower(&note_key_id(name, key)),
        STANDARD.encode(typed)
    )
}

/// Parse a verifier key written by `verifier_key` (or Go's `note.NewEd25519VerifierKey`). The key
/// id must match the name and key, the key type must be Ed25519, and the key must not be weak.
pub fn parse_verifier_key(vkey: &str) -> Result<(String, VerifyingKey), LedgerError> {
    parse_typed_verifier_key(vkey, ED25519_SIGNATURE_TYPE)
}

/// [`parse_verifier_key`] for a key of signature type `kind` (0x04: a witness's cosignature key).
pub fn parse_typed_verifier_key(
    vkey: &str,
    kind: u8,
) -> Result<(String, VerifyingKey), LedgerError> {
    // Names cannot contain '+', base64 can: split at the first two.
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(LedgerError::MalformedVerifierKey("expected name+keyid+key"));
    };
    if !is_valid_key_name(name) {
        return Err(LedgerError::MalformedVerifierKey("invalid key name"));
    }
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LedgerError::MalformedVerifierKey(
            "key id is not 8 hex digits",
        ));
    }
    let typed = STANDARD
        .decode(key_b64)
        .map_err(|_| LedgerError::MalformedVerifierKey("key is not standard base64"))?;
    let [found, rest @ ..] = typed.as_slice() else {
        return Err(LedgerError::MalformedVerifierKey("key is empty"));
    };
    if *found != kind {
        return Err(LedgerError::MalformedVerifierKey(
            "key type is not the one expected (0x01 a log's, 0x04 a witness's)",
        ));
    }
    let bytes: &[u8; 32] = rest
        .try_into()
        .map_err(|_| LedgerError::MalformedVerifierKey("Ed25519 key is not 32 bytes"))?;
    let key = VerifyingKey::from_bytes(bytes)
        .map_err(|_| LedgerError::MalformedVerifierKey("not an Ed25519 point"))?;
    // A small-order key would let anyone forge signatures under verify (not verify_strict);
    // refuse it at the door.
    if key.is_weak() {
        return Err(LedgerError::MalformedVerifierKey("weak Ed25519 key"));
    }
    if !id_hex.eq_ignore_ascii_case(&hex_lower(&typed_key_id(name, kind, &key))) {
        return Err(LedgerError::MalformedVerifierKey(
            "key id does not match name and key",
        ));
    }
    Ok((name.to_owned(), key))
}

/// Sign `body` as a C2SP signed note: `body + "\n" + "— <name> <base64std(keyid||sig)>\n"`.
///
/// The body must be a valid note text and the name a valid key name (see `try_sign_note`, which
/// reports violations). Given invalid input this still returns, without panicking, a text that
/// `open_note` will reject.
pub fn sign_note(body: &str, name: &str, key: &SigningKey) -> String {
    match try_sign_note(body, name, key) {
        Ok(note) => note,
        Err(_) => format!("{body}\n{}", signature_line(body, name, key)),
    }
}

/// `sign_note`, checking first that the result will open: C2SP signed-note "Format" requires the
/// text to end in a newline and to hold no ASCII control character but newline, and key names to
/// be non-empty without Unicode spaces or '+'.
pub fn try_sign_note(body: &str, name: &str, key: &SigningKey) -> Result<String, LedgerError> {
    sign_note_multi(body, &[(name, key)])
}

/// Sign `body` with several keys (e.g. the outgoing and incoming service keys during a rotation),
/// one signature line each, in the order given.
pub fn sign_note_multi(body: &str, signers: &[(&str, &SigningKey)]) -> Result<String, LedgerError> {
    check_note_text(body)?;
    if signers.is_empty() {
        return Err(LedgerError::MalformedNote(
            "a signed note needs at least one signature",
        ));
    }
    if signers.len() > MAX_SIGNATURES {
        return Err(LedgerError::MalformedNote("too many signatures"));
    }
    let mut note = String::with_capacity(body.len() + 1 + signers.len() * 120);
    note.push_str(body);
    note.push('\n');
    for (name, key) in signers {
        if !is_valid_key_name(name) {
            return Err(LedgerError::InvalidKeyName((*name).to_owned()));
        }
        note.push_str(&signature_line(body, name, key));
    }
    Ok(note)
}

/// Verify a signed note against known (name, key) verifiers; returns the body text on success. Unknown signatures are ignored, at least one known valid one required, a known-but-bad signature is an error.
///
/// C2SP signed-note "Signatures": a signature is attributed to a verifier only when both the key
/// name and the key id match; every such signature must verify (`verify_strict`).
pub fn open_note(text: &str, verifiers: &[(String, VerifyingKey)]) -> Result<String, LedgerError> {
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(LedgerError::MalformedNote("control character"));
    }
    // The body ends at the last blank line; it keeps its final newline, not the blank line.
    let Some(split) = text.rfind("\n\n") else {
        return Err(LedgerError::MalformedNote(
            "no blank line before the signatures",
        ));
    };
    let body = &text[..split + 1];
    let Some(sigs) = text[split + 2..].strip_suffix('\n') else {
        return Err(LedgerError::MalformedNote(
            "signatures must end with a newline",
        ));
    };
    if sigs.is_empty() {
        return Err(LedgerError::MalformedNote("no signature line"));
    }
    let mut verified = 0usize;
    for (count, line) in sigs.split('\n').enumerate() {
        if count >= MAX_SIGNATURES {
            return Err(LedgerError::MalformedNote("too many signatures"));
        }
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(LedgerError::MalformedNote(
                "a signature line must start with an em dash",
            ));
        };
        let Some((name, sig_b64)) = rest.split_once(' ') else {
            return Err(LedgerError::MalformedNote(
                "a signature line needs a name and a signature",
            ));
        };
        if !is_valid_key_name(name) {
            return Err(LedgerError::MalformedNote(
                "invalid key name in a signature line",
            ));
        }
        let blob = STANDARD
            .decode(sig_b64)
            .map_err(|_| LedgerError::MalformedNote("signature is not standard base64"))?;
        if blob.len() < 5 {
            return Err(LedgerError::MalformedNote("signature is too short"));
        }
        let id = [blob[0], blob[1], blob[2], blob[3]];
        let candidates = verifiers
            .iter()
            .map(|(n, k)| (n.as_str(), note_key_id(n, k), k));
        let Some(key) = known_key(name, id, candidates)? else {
            // An unknown key, even one sharing the name or the id (but not both) of a known key,
            // is ignored: it may be a witness cosignature or a key we do not follow.
            continue;
        };
        let signature = Signature::from_slice(&blob[4..])
            .map_err(|_| LedgerError::BadNoteSignature(name.to_owned()))?;
        key.verify_strict(body.as_bytes(), &signature)
            .map_err(|_| LedgerError::BadNoteSignature(name.to_owned()))?;
        verified += 1;
    }
    if verified == 0 {
        return Err(LedgerError::UnverifiedNote);
    }
    Ok(body.to_owned())
}

/// Sign a checkpoint's body as a note. Like `sign_note`, an invalid checkpoint (empty origin, or
/// one holding a newline or a control character) yields a note that will not open;
/// `try_sign_checkpoint` reports it instead.
pub fn sign_checkpoint(cp: &Checkpoint, name: &str, key: &SigningKey) -> String {
    sign_note(&cp.body(), name, key)
}

/// `sign_checkpoint`, checking the checkpoint and the key name first.
pub fn try_sign_checkpoint(
    cp: &Checkpoint,
    name: &str,
    key: &SigningKey,
) -> Result<String, LedgerError> {
    let body = cp.body();
    // Only a body that parses back to the same checkpoint may be signed: an origin holding a
    // newline would otherwise let the signer vouch for a different size or root.
    if Checkpoint::parse_body(&body)? != *cp {
        return Err(LedgerError::MalformedCheckpoint(
            "the checkpoint does not round-trip",
        ));
    }
    try_sign_note(&body, name, key)
}

/// Open a signed checkpoint: verify the note, then parse its body. The caller must still check
/// that `origin` names the log it expected, since one key may sign many logs.
pub fn open_checkpoint(
    text: &str,
    verifiers: &[(String, VerifyingKey)],
) -> Result<Checkpoint, LedgerError> {
    Checkpoint::parse_body(&open_note(text, verifiers)?)
}

impl Checkpoint {
    /// The note text: "origin\nsize\nbase64std(root)\n" (C2SP tlog-checkpoint "Note text").
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Parse a checkpoint note text. Strict, per C2SP tlog-checkpoint "Note text": non-empty lines,
    /// a non-empty origin, a decimal size without sign or leading zeros, a standard-base64 root of
    /// 32 bytes, and a final newline. Extension lines are rejected: midori never writes them and
    /// this type cannot carry them, so `body()` could not reproduce what was signed.
    pub fn parse_body(text: &str) -> Result<Self, LedgerError> {
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(LedgerError::MalformedCheckpoint("control character"));
        }
        let Some(text) = text.strip_suffix('\n') else {
            return Err(LedgerError::MalformedCheckpoint(
                "the text must end with a newline",
            ));
        };
        let lines: Vec<&str> = text.split('\n').collect();
        let [origin, size, root] = lines.as_slice() else {
            return Err(LedgerError::MalformedCheckpoint(if lines.len() < 3 {
                "expected origin, size and root lines"
            } else {
                "extension lines are not supported"
            }));
        };
        if origin.is_empty() {
            return Err(LedgerError::MalformedCheckpoint("empty origin"));
        }
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size: parse_size(size)?,
            root: parse_root(root)?,
        })
    }
}

/// The signature line for one key: "— <name> <base64std(keyid||sig)>\n" (C2SP signed-note "Format").
fn signature_line(body: &str, name: &str, key: &SigningKey) -> String {
    let signature = key.sign(body.as_bytes());
    let mut blob = Vec::with_capacity(4 + 64);
    blob.extend_from_slice(&note_key_id(name, &key.verifying_key()));
    blob.extend_from_slice(&signature.to_bytes());
    format!("\u{2014} {name} {}\n", STANDARD.encode(blob))
}

/// C2SP signed-note "Format": the text ends in a newline and has no control character but newline.
fn check_note_text(body: &str) -> Result<(), LedgerError> {
    if !body.ends_with('\n') {
        return Err(LedgerError::MalformedNote(
            "the text must end with a newline",
        ));
    }
    if body.chars().any(|c| c < ' ' && c != '\n') {
        return Err(LedgerError::MalformedNote("control character"));
    }
    Ok(())
}

/// C2SP signed-note "Format": key names are non-empty and contain no Unicode space and no '+'.
/// `char::is_whitespace` is the Unicode White_Space property, the set Go's `unicode.IsSpace` uses.
pub(crate) fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The one known key with this name and id; an error when two different keys claim both.
fn known_key<'a>(
    name: &str,
    id: [u8; 4],
    verifiers: impl IntoIterator<Item = (&'a str, [u8; 4], &'a VerifyingKey)>,
) -> Result<Option<&'a VerifyingKey>, LedgerError> {
    let mut found: Option<&VerifyingKey> = None;
    for (vname, vid, vkey) in verifiers {
        if vname == name && vid == id {
            match found {
                Some(other) if other != vkey => {
                    return Err(LedgerError::AmbiguousKey(name.to_owned()));
                }
                _ => found = Some(vkey),
            }
        }
    }
    Ok(found)
}

/// tlog-checkpoint: "the ASCII decimal representation ... with no leading zeroes (unless the tree
/// is empty, in which case the tree size is `0`)". `u64::from_str` alone would accept "+5".
fn parse_size(text: &str) -> Result<u64, LedgerError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LedgerError::MalformedCheckpoint(
            "size is not a decimal number",
        ));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(LedgerError::MalformedCheckpoint("size has a leading zero"));
    }
    text.parse()
        .map_err(|_| LedgerError::MalformedCheckpoint("size does not fit 64 bits"))
}

/// The root line: standard base64 (padded, canonical) of exactly 32 bytes.
fn parse_root(text: &str) -> Result<Hash, LedgerError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| LedgerError::MalformedCheckpoint("root is not standard base64"))?;
    bytes
        .try_into()
        .map_err(|_| LedgerError::MalformedCheckpoint("root is not 32 bytes"))
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // golang.org/x/mod/sumdb/note note_test.go: the published example keys, text and signatures.
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> (String, VerifyingKey) {
        parse_verifier_key(PETER_VKEY).unwrap()
    }

    fn enoch() -> (String, VerifyingKey) {
        parse_verifier_key(ENOCH_VKEY).unwrap()
    }

    fn peter_signing_key() -> SigningKey {
        // Go's signer key: PRIVATE+KEY+<name>+<id>+base64(0x01 || 32-byte seed).
        let typed = STANDARD
            .decode(PETER_SKEY.splitn(5, '+').nth(4).unwrap())
            .unwrap();
        assert_eq!(typed[0], 0x01);
        SigningKey::from_bytes(&typed[1..].try_into().unwrap())
    }

    fn test_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "midori.example/bonds/b-1".into(),
            size: 20852163,
            root: [7; 32],
        }
    }

    #[test]
    fn the_published_verifier_key_parses_and_formats_back_identically() {
        let (name, key) = peter();
        assert_eq!(name, "PeterNeumann");
        assert_eq!(note_key_id(&name, &key), [0xc7, 0x4f, 0x20, 0xa3]);
        assert_eq!(verifier_key(&name, &key), PETER_VKEY);
        assert_eq!(peter_signing_key().verifying_key(), key);
        let (name, key) = enoch();
        assert_eq!(verifier_key(&name, &key), ENOCH_VKEY);
    }

    #[test]
    fn signing_the_published_text_reproduces_the_go_note_byte_for_byte() {
        let note = sign_note(TEXT, "PeterNeumann", &peter_signing_key());
        assert_eq!(note, format!("{TEXT}\n{PETER_SIG}"));
    }

    #[test]
    fn the_published_note_opens_and_any_one_byte_change_fails() {
        let note = format!("{TEXT}\n{PETER_SIG}");
        assert_eq!(open_note(&note, &[peter()]).unwrap(), TEXT);
        let bytes = note.as_bytes();
        for i in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[i] ^= 0x01;
            // A change may break UTF-8; a &str cannot hold that, and the caller's decoding fails.
            if let Ok(changed) = String::from_utf8(changed) {
                assert!(
                    open_note(&changed, &[peter()]).is_err(),
                    "byte {i} changed still opens"
                );
            }
        }
        assert!(open_note(&note.replace("cryptography", "cryptographY"), &[peter()]).is_err());
    }

    #[test]
    fn an_unknown_signature_is_ignored_when_a_known_one_verifies() {
        let note = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        assert_eq!(open_note(&note, &[peter()]).unwrap(), TEXT);
        assert_eq!(open_note(&note, &[enoch()]).unwrap(), TEXT);
        assert_eq!(open_note(&note, &[peter(), enoch()]).unwrap(), TEXT);
    }

    #[test]
    fn a_note_without_a_known_signature_is_unverified() {
        let note = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        assert_eq!(open_note(&note, &[]), Err(LedgerError::UnverifiedNote));
        // Same name, other key: a different key id, so it is someone else's signature.
        let other = (String::from("PeterNeumann"), test_key(9).verifying_key());
        assert_eq!(open_note(&note, &[other]), Err(LedgerError::UnverifiedNote));
    }

    #[test]
    fn a_bad_signature_from_a_known_key_rejects_the_whole_note() {
        let bad = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let note = format!("{TEXT}\n{bad}");
        assert_eq!(
            open_note(&note, &[peter()]),
            Err(LedgerError::BadNoteSignature("PeterNeumann".into()))
        );
        // Even when another known key signed correctly.
        let note = format!("{TEXT}\n{ENOCH_SIG}{bad}");
        assert!(matches!(
            open_note(&note, &[peter(), enoch()]),
            Err(LedgerError::BadNoteSignature(_))
        ));
        // But it does not matter when the key is unknown.
        assert_eq!(open_note(&note, &[enoch()]).unwrap(), TEXT);
    }

    #[test]
    fn repeated_signatures_are_accepted() {
        let note = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}");
        assert_eq!(open_note(&note, &[peter()]).unwrap(), TEXT);
    }

    #[test]
    fn identical_duplicate_verifiers_are_harmless() {
        let note = format!("{TEXT}\n{ENOCH_SIG}");
        assert_eq!(
            open_note(&note, &[enoch(), peter(), enoch()]).unwrap(),
            TEXT
        );
    }

    #[test]
    fn two_different_keys_with_the_same_name_and_id_are_ambiguous() {
        // A real collision needs a 32-bit key-id match; the lookup rule is tested directly.
        let (name, key) = enoch();
        let other = test_key(3).verifying_key();
        let id = [1, 2, 3, 4];
        let list = [(name.as_str(), id, &key), (name.as_str(), id, &other)];
        assert_eq!(
            known_key(&name, id, list),
            Err(LedgerError::AmbiguousKey(name.clone()))
        );
        assert_eq!(known_key(&name, [9, 9, 9, 9], list), Ok(None));
        assert_eq!(known_key("nobody", id, list), Ok(None));
        let same = [(name.as_str(), id, &key), (name.as_str(), id, &key)];
        assert_eq!(known_key(&name, id, same), Ok(Some(&key)));
    }

    #[test]
    fn the_go_malformed_notes_are_rejected() {
        let bad_msgs = [
            TEXT.to_string(),
            format!("{TEXT}\n"),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
            format!("\x01{TEXT}\n{PETER_SIG}"),
            format!(
                "{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
            ),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        ];
        for msg in bad_msgs {
            assert!(
                matches!(
                    open_note(&msg, &[peter()]),
                    Err(LedgerError::MalformedNote(_))
                ),
                "{msg:?}"
            );
        }
    }

    #[test]
    fn other_malformed_signature_lines_are_rejected() {
        for line in [
            "- PeterNeumann AAAAAAAA\n",
            "\u{2014}PeterNeumann AAAAAAAA\n",
            "\u{2014} PeterNeumann\n",
            "\u{2014}  AAAAAAAA\n",
            "\u{2014} Peter+Neumann AAAAAAAA\n",
            "\u{2014} PeterNeumann AAAA\n",
            "\u{2014} PeterNeumann !!!!\n",
            "\u{2014} PeterNeumann AAAAAAAA \n",
            "\u{2014} Peter\u{a0}Neumann AAAAAAAA\n",
        ] {
            let note = format!("{TEXT}\n{line}");
            assert!(
                matches!(
                    open_note(&note, &[peter()]),
                    Err(LedgerError::MalformedNote(_))
                ),
                "{line:?}"
            );
        }
    }

    #[test]
    fn more_than_a_hundred_signatures_are_rejected() {
        let note = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
        assert!(matches!(
            open_note(&note, &[peter()]),
            Err(LedgerError::MalformedNote(_))
        ));
        assert!(matches!(
            open_note(&note, &[]),
            Err(LedgerError::MalformedNote(_))
        ));
        let note = format!("{TEXT}\n{}", PETER_SIG.repeat(100));
        assert_eq!(open_note(&note, &[peter()]).unwrap(), TEXT);
    }

    #[test]
    fn a_body_may_contain_empty_lines_and_the_last_blank_line_separates_signatures() {
        let key = test_key(1);
        let vk = ("midori.example".to_string(), key.verifying_key());
        for body in ["a\n\nb\n", "a\n\n", "\n", "x\n"] {
            let note = sign_note(body, "midori.example", &key);
            assert_eq!(open_note(&note, std::slice::from_ref(&vk)).unwrap(), body);
        }
    }

    #[test]
    fn the_c2sp_example_note_is_well_formed_but_unverified_without_its_key() {
        let note = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
        assert_eq!(
            open_note(note, &[peter()]),
            Err(LedgerError::UnverifiedNote)
        );
    }

    #[test]
    fn signing_rejects_bodies_and_names_the_format_cannot_carry() {
        let key = test_key(1);
        assert!(matches!(
            try_sign_note("no newline", "n", &key),
            Err(LedgerError::MalformedNote(_))
        ));
        assert!(matches!(
            try_sign_note("", "n", &key),
            Err(LedgerError::MalformedNote(_))
        ));
        assert!(matches!(
            try_sign_note("tab\there\n", "n", &key),
            Err(LedgerError::MalformedNote(_))
        ));
        for name in ["", "a b", "a+b", "a\u{2003}b", "a\nb"] {
            assert_eq!(
                try_sign_note("ok\n", name, &key),
                Err(LedgerError::InvalidKeyName(name.into()))
            );
        }
        assert!(sign_note_multi("ok\n", &[]).is_err());
        // The infallible form still returns something, and it does not open.
        let vk = ("a b".to_string(), key.verifying_key());
        assert!(open_note(&sign_note("ok\n", "a b", &key), &[vk]).is_err());
        assert!(
            open_note(
                &sign_note("no newline", "n", &key),
                &[("n".into(), key.verifying_key())]
            )
            .is_err()
        );
    }

    #[test]
    fn a_note_signed_by_two_keys_opens_with_either() {
        let old = test_key(1);
        let new = test_key(2);
        let note = sign_note_multi("rotation\n", &[("svc", &old), ("svc", &new)]).unwrap();
        assert_eq!(
            open_note(&note, &[("svc".into(), old.verifying_key())]).unwrap(),
            "rotation\n"
        );
        assert_eq!(
            open_note(&note, &[("svc".into(), new.verifying_key())]).unwrap(),
            "rotation\n"
        );
    }

    #[test]
    fn every_mangling_of_the_published_verifier_key_is_rejected() {
        let bytes = PETER_VKEY.as_bytes();
        for i in 0..=bytes.len() {
            for j in i + 1..=bytes.len() {
                if i == 0 && j == bytes.len() {
                    continue;
                }
                let sub = std::str::from_utf8(&bytes[i..j]).unwrap();
                assert!(parse_verifier_key(sub).is_err(), "{sub:?} parsed");
            }
        }
        for i in 0..bytes.len() {
            let mut changed = bytes.to_vec();
            changed[i] += 1;
            let changed = String::from_utf8(changed).unwrap();
            assert!(parse_verifier_key(&changed).is_err(), "{changed:?} parsed");
        }
        // Go's two extra cases: wrong key length and unknown algorithm, each with a matching id.
        assert!(
            parse_verifier_key(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            )
            .is_err()
        );
        assert!(
            parse_verifier_key(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            )
            .is_err()
        );
    }

    #[test]
    fn a_weak_verifier_key_is_rejected() {
        // The identity point (y = 1) has small order: verify() would accept forged signatures.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let key = VerifyingKey::from_bytes(&identity).unwrap();
        assert!(key.is_weak());
        let text = verifier_key("weak", &key);
        assert_eq!(
            parse_verifier_key(&text),
            Err(LedgerError::MalformedVerifierKey("weak Ed25519 key"))
        );
    }

    #[test]
    fn a_verifier_key_id_may_be_written_in_upper_case() {
        let upper = PETER_VKEY.replace("c74f20a3", "C74F20A3");
        assert_eq!(parse_verifier_key(&upper).unwrap(), peter());
    }

    #[test]
    fn a_checkpoint_body_is_origin_size_and_base64_root() {
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 0,
            root: [0; 32],
        };
        assert_eq!(
            cp.body(),
            "example.com/log\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        );
        assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
    }

    #[test]
    fn the_c2sp_checkpoint_example_body_parses() {
        let body =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let cp = Checkpoint::parse_body(body).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert_eq!(
            STANDARD.encode(cp.root),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert_eq!(cp.body(), body);
    }

    #[test]
    fn checkpoint_sizes_are_strict_decimal() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let parse = |size: &str| Checkpoint::parse_body(&format!("o\n{size}\n{root}\n"));
        assert_eq!(parse("0").unwrap().size, 0);
        assert_eq!(parse("18446744073709551615").unwrap().size, u64::MAX);
        for bad in [
            "",
            "01",
            "00",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1.0",
            "0x10",
            "18446744073709551616",
            "\u{0661}",
        ] {
            assert!(
                matches!(parse(bad), Err(LedgerError::MalformedCheckpoint(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn checkpoint_roots_must_be_32_bytes_of_canonical_standard_base64() {
        let parse = |root: &str| Checkpoint::parse_body(&format!("o\n1\n{root}\n"));
        for bad in [
            "",
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I", // no padding
            "CsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=", // url alphabet
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=", // non-canonical trailing bits
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", // 31 bytes
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", // 34 bytes
        ] {
            assert!(
                matches!(parse(bad), Err(LedgerError::MalformedCheckpoint(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn checkpoint_bodies_with_missing_extra_or_empty_lines_are_rejected() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        for bad in [
            format!("o\n1\n{root}"),
            format!("o\n1\n{root}\nextension\n"),
            format!("o\n1\n{root}\n\n"),
            format!("\n1\n{root}\n"),
            "o\n1\n".to_string(),
            String::new(),
            format!("o\r\n1\n{root}\n"),
        ] {
            assert!(
                matches!(
                    Checkpoint::parse_body(&bad),
                    Err(LedgerError::MalformedCheckpoint(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_signed_checkpoint_opens_to_the_same_checkpoint() {
        let key = test_key(4);
        let note = sign_checkpoint(&checkpoint(), "midori.example", &key);
        assert_eq!(
            note,
            try_sign_checkpoint(&checkpoint(), "midori.example", &key).unwrap()
        );
        let verifiers =
            [parse_verifier_key(&verifier_key("midori.example", &key.verifying_key())).unwrap()];
        assert_eq!(open_checkpoint(&note, &verifiers).unwrap(), checkpoint());
        assert!(open_checkpoint(&note.replace("20852163", "20852164"), &verifiers).is_err());
        assert_eq!(
            open_checkpoint(
                &note,
                &[("midori.example".into(), test_key(5).verifying_key())]
            ),
            Err(LedgerError::UnverifiedNote)
        );
    }

    #[test]
    fn a_checkpoint_whose_origin_would_forge_lines_cannot_be_signed() {
        let key = test_key(4);
        let mut cp = checkpoint();
        cp.origin = "evil\n1".into();
        assert!(try_sign_checkpoint(&cp, "midori.example", &key).is_err());
        let note = sign_checkpoint(&cp, "midori.example", &key);
        assert!(open_checkpoint(&note, &[("midori.example".into(), key.verifying_key())]).is_err());
        cp.origin = String::new();
        assert!(try_sign_checkpoint(&cp, "midori.example", &key).is_err());
    }

    #[test]
    fn open_note_never_panics_on_odd_text() {
        let key = test_key(1);
        let verifiers = [("n".to_string(), key.verifying_key())];
        for text in [
            "",
            "\n",
            "\n\n",
            "\n\n\n",
            "\n\n\u{2014}",
            "\n\n\u{2014} \n",
            "\u{2014}\n\n\u{2014} n \n",
            "a\n\n\u{2014} n AAAAAA==\n",
        ] {
            assert!(open_note(text, &verifiers).is_err(), "{text:?}");
        }
    }
}
