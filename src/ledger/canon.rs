//! Canonical JSON (RFC 8785, JCS), Ed25519 signatures over it, and Ed25519 public keys as JWKs
//! (RFC 8037) with RFC 7638 thumbprints as their stable `kid`.
//!
//! Anyone holding the JSON and the public key verifies with an off-the-shelf JCS library and
//! Ed25519. That only holds if every JCS implementation produces the same bytes, so numbers are
//! restricted to integers that IEEE 754 doubles represent exactly (RFC 8785 §3.2.2.3 serialises
//! numbers as doubles; RFC 7493 §2.2 I-JSON names the ±(2^53−1) range). Amounts and ids are
//! strings.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use super::LedgerError;

/// The largest integer magnitude a JSON number may have here: 2^53 − 1 (RFC 7493 §2.2).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// How deep `jcs` lets arrays and objects nest (serde_json's own parser stops at 128 too); the
/// bound keeps canonicalisation, which recurses, away from the stack limit.
pub const MAX_DEPTH: usize = 128;

/// An Ed25519 public key as a JSON Web Key (RFC 8037 §2, RFC 7517 §4).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "use")]
    pub use_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
}

/// Base64url without padding (RFC 4648 §5), the encoding of bytes in all midori JSON.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decode base64url without padding. Strict: padding, the standard alphabet and non-zero
/// trailing bits are rejected, so each byte string has exactly one accepted text.
pub fn b64url_decode(s: &str) -> Result<Vec<u8>, LedgerError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| LedgerError::Base64("expected unpadded base64url"))
}

/// The RFC 8785 canonical bytes of `value`, via `serde_json_canonicalizer`. Rejects values that
/// JCS implementations could disagree on: non-integer numbers (floats) and integers outside
/// ±(2^53−1), which some canonicalisers round silently. Also rejects nesting deeper than
/// `MAX_DEPTH`.
pub fn jcs(value: &serde_json::Value) -> Result<Vec<u8>, LedgerError> {
    check_portable(value)?;
    serde_json_canonicalizer::to_vec(value).map_err(|e| LedgerError::Json(e.to_string()))
}

/// Parse JSON text strictly: like `serde_json::from_str`, but a repeated member name is an error
/// (RFC 7493 §2.3: I-JSON objects have unique names) instead of silently keeping the last one,
/// so two parsers can never read two different documents out of one signed text.
pub fn parse_json(text: &str) -> Result<Value, LedgerError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue::deserialize(&mut de).map_err(|e| LedgerError::Json(e.to_string()))?;
    de.end().map_err(|e| LedgerError::Json(e.to_string()))?;
    Ok(value.0)
}

/// The JSON pointer (RFC 6901) of the first repeated member name in the JSON text `bytes`, at
/// any depth, or `None` when every object's names are unique. serde_json (and so every typed
/// body) keeps the last of repeated members silently, while another parser might keep the
/// first: a signed body with a repeated name could read one way to the signer's tools and
/// another to the service, so it is refused before it is read (RFC 8259 §4, RFC 7493 §2.3).
/// Text that is not JSON is the caller's to report: it yields `Ok(None)` here only if valid.
pub fn first_repeated_member(bytes: &[u8]) -> Result<Option<String>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = de::DeserializeSeed::deserialize(RepeatSeek(String::new()), &mut de)?;
    de.end()?;
    Ok(found)
}

/// Walks a JSON value at pointer `.0`, yielding the pointer of its first repeated member name.
struct RepeatSeek(String);

impl<'de> de::DeserializeSeed<'de> for RepeatSeek {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RepeatSeek {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut index = 0usize;
        while let Some(inner) = seq.next_element_seed(RepeatSeek(format!("{}/{index}", self.0)))? {
            found = found.or(inner);
            index += 1;
        }
        Ok(found)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut names = std::collections::HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            // RFC 6901 §3: `~` and `/` in a member name are escaped.
            let pointer = format!("{}/{}", self.0, name.replace('~', "~0").replace('/', "~1"));
            let inner = map.next_value_seed(RepeatSeek(pointer.clone()))?;
            if !names.insert(name) {
                found = found.or(Some(pointer));
            }
            found = found.or(inner);
        }
        Ok(found)
    }
}

/// Sign the JCS bytes of `value`; the signature is returned as base64url.
pub fn sign_jcs(value: &serde_json::Value, key: &SigningKey) -> Result<String, LedgerError> {
    let bytes = jcs(value)?;
    Ok(b64url(&key.sign(&bytes).to_bytes()))
}

/// Verify a base64url Ed25519 signature over the JCS bytes of `value`. Uses `verify_strict`,
/// which rejects small-order keys and non-canonical signatures (malleability).
pub fn verify_jcs(
    value: &serde_json::Value,
    sig_b64url: &str,
    key: &VerifyingKey,
) -> Result<(), LedgerError> {
    let signature = decode_signature(sig_b64url)?;
    let bytes = jcs(value)?;
    key.verify_strict(&bytes, &signature)
        .map_err(|_| LedgerError::BadSignature)
}

/// Decode a base64url Ed25519 signature (64 bytes).
pub fn decode_signature(sig_b64url: &str) -> Result<Signature, LedgerError> {
    let bytes = b64url_decode(sig_b64url)?;
    Signature::from_slice(&bytes).map_err(|_| LedgerError::Base64("a signature is 64 bytes"))
}

/// RFC 7638 thumbprint of an Ed25519 key: SHA-256 over the required members in lexicographic
/// order with no whitespace (§3.2; for OKP keys the members are crv, kty, x per RFC 8037 §2),
/// base64url. This is the stable `kid` everywhere.
pub fn jwk_thumbprint(key: &VerifyingKey) -> String {
    // The x value is base64url, which never needs JSON escaping, so formatting is exact.
    let members = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        b64url(key.as_bytes())
    );
    b64url(&Sha256::digest(members.as_bytes()))
}

/// Parse a public key given either as a JWK JSON object string or a bare base64url (or standard base64) 32-byte key.
/// A JWK carrying a private key (`d`) is refused, so that it is never stored as if public.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, LedgerError> {
    let text = text.trim();
    if text.starts_with('{') {
        let value = parse_json(text)?;
        if value.get("d").is_some() {
            return Err(LedgerError::InvalidKey(
                "the JWK holds a private key ('d'); send only the public part",
            ));
        }
        let jwk: Jwk =
            serde_json::from_value(value).map_err(|e| LedgerError::Json(e.to_string()))?;
        return jwk.to_key();
    }
    let bytes = [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or(LedgerError::Base64("expected a base64url or base64 key"))?;
    key_from_bytes(&bytes)
}

impl Jwk {
    /// The public JWK of `key`: kty OKP, crv Ed25519 (RFC 8037 §2), kid its RFC 7638 thumbprint,
    /// use "sig" and alg "EdDSA" (RFC 8037 §3.1).
    pub fn from_key(key: &VerifyingKey) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: b64url(key.as_bytes()),
            kid: Some(jwk_thumbprint(key)),
            use_: Some("sig".into()),
            alg: Some("EdDSA".into()),
        }
    }

    /// The Ed25519 key this JWK describes. Checks kty OKP and crv Ed25519 (RFC 8037 §2), a
    /// 32-byte x that is a valid, non-weak point, `use` "sig" and `alg` EdDSA (or the fully
    /// specified "Ed25519") when present, and that a present `kid` is the key's thumbprint.
    pub fn to_key(&self) -> Result<VerifyingKey, LedgerError> {
        if self.kty != "OKP" {
            return Err(LedgerError::InvalidKey("kty must be OKP"));
        }
        if self.crv != "Ed25519" {
            return Err(LedgerError::InvalidKey("crv must be Ed25519"));
        }
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(LedgerError::InvalidKey("use must be sig"));
        }
        if self
            .alg
            .as_deref()
            .is_some_and(|a| a != "EdDSA" && a != "Ed25519")
        {
            return Err(LedgerError::InvalidKey("alg must be EdDSA"));
        }
        let key = key_from_bytes(&b64url_decode(&self.x)?)?;
        if self
            .kid
            .as_deref()
            .is_some_and(|kid| kid != jwk_thumbprint(&key))
        {
            return Err(LedgerError::InvalidKey(
                "kid is not the RFC 7638 thumbprint of the key",
            ));
        }
        Ok(key)
    }
}

fn key_from_bytes(bytes: &[u8]) -> Result<VerifyingKey, LedgerError> {
    let bytes: &[u8; 32] = bytes
        .try_into()
        .map_err(|_| LedgerError::InvalidKey("an Ed25519 key is 32 bytes"))?;
    let key = VerifyingKey::from_bytes(bytes)
        .map_err(|_| LedgerError::InvalidKey("not an Ed25519 point"))?;
    // verify_strict refuses small-order keys anyway; refusing them here means they are never
    // registered in the first place.
    if key.is_weak() {
        return Err(LedgerError::InvalidKey("weak (small-order) Ed25519 key"));
    }
    Ok(key)
}

/// Walk the value without recursion and refuse what JCS libraries may serialise differently.
/// Whether `bytes` are exactly the RFC 8785 form of the JSON they hold, within the portable
/// subset [`jcs`] accepts (integers within ±(2^53−1), no fractions or exponents, nesting below
/// [`MAX_DEPTH`]): the same answer as `jcs(&parse(bytes)?) == bytes`, in one pass over the bytes
/// without building or writing anything (`midori verify` checks every entry this way; a
/// property test holds the two equal). Checks: no insignificant whitespace; object members
/// sorted by the UTF-16 code units of their names, none repeated; strings escape exactly what
/// JCS escapes (`"`, `\\`, control characters; `\b \t \n \f \r` by name, others as
/// lowercase `\u00xx`); integers without sign `+`, leading zeros or `-0`.
pub fn is_canonical(bytes: &[u8]) -> bool {
    if std::str::from_utf8(bytes).is_err() {
        return false;
    }
    let mut at = 0;
    canonical_value(bytes, &mut at, 0) && at == bytes.len()
}

fn canonical_value(b: &[u8], at: &mut usize, depth: usize) -> bool {
    match b.get(*at) {
        Some(b'{') => {
            if depth >= MAX_DEPTH {
                return false;
            }
            *at += 1;
            if b.get(*at) == Some(&b'}') {
                *at += 1;
                return true;
            }
            let mut previous: Option<&[u8]> = None;
            loop {
                let start = *at;
                if !canonical_string(b, at) {
                    return false;
                }
                let name = &b[start + 1..*at - 1];
                if let Some(before) = previous
                    && utf16_order(before, name) != std::cmp::Ordering::Less
                {
                    return false;
                }
                previous = Some(name);
                if b.get(*at) != Some(&b':') {
                    return false;
                }
                *at += 1;
                if !canonical_value(b, at, depth + 1) {
                    return false;
                }
                match b.get(*at) {
                    Some(b',') => *at += 1,
                    Some(b'}') => {
                        *at += 1;
                        return true;
                    }
                    _ => return false,
                }
            }
        }
        Some(b'[') => {
            if depth >= MAX_DEPTH {
                return false;
            }
            *at += 1;
            if b.get(*at) == Some(&b']') {
                *at += 1;
                return true;
            }
            loop {
                if !canonical_value(b, at, depth + 1) {
                    return false;
                }
                match b.get(*at) {
                    Some(b',') => *at += 1,
                    Some(b']') => {
                        *at += 1;
                        return true;
                    }
                    _ => return false,
                }
            }
        }
        Some(b'"') => canonical_string(b, at),
        Some(b't') => literal(b, at, b"true"),
        Some(b'f') => literal(b, at, b"false"),
        Some(b'n') => literal(b, at, b"null"),
        Some(b'-' | b'0'..=b'9') => canonical_integer(b, at),
        _ => false,
    }
}

fn literal(b: &[u8], at: &mut usize, word: &[u8]) -> bool {
    if b[*at..].starts_with(word) {
        *at += word.len();
        true
    } else {
        false
    }
}

fn canonical_integer(b: &[u8], at: &mut usize) -> bool {
    let negative = b[*at] == b'-';
    if negative {
        *at += 1;
    }
    let start = *at;
    while matches!(b.get(*at), Some(b'0'..=b'9')) {
        *at += 1;
    }
    let digits = &b[start..*at];
    // A fraction or an exponent makes a float, which `jcs` refuses.
    if digits.is_empty() || matches!(b.get(*at), Some(b'.' | b'e' | b'E')) {
        return false;
    }
    if digits[0] == b'0' {
        // "0" alone; never "-0" (JCS writes 0) or a leading zero.
        return digits.len() == 1 && !negative;
    }
    digits.len() <= 16
        && digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
            <= MAX_SAFE_INTEGER
}

/// A string at `b[*at]` (its opening quote) escaped as JCS escapes; moves past the closing quote.
fn canonical_string(b: &[u8], at: &mut usize) -> bool {
    if b.get(*at) != Some(&b'"') {
        return false;
    }
    *at += 1;
    loop {
        match b.get(*at) {
            None => return false,
            Some(b'"') => {
                *at += 1;
                return true;
            }
            Some(b'\\') => {
                match b.get(*at + 1) {
                    Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => *at += 2,
                    Some(b'u') => {
                        // Only control characters without a short form, in lowercase hex.
                        let Some(hex) = b.get(*at + 2..*at + 6) else {
                            return false;
                        };
                        if !hex
                            .iter()
                            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
                        {
                            return false;
                        }
                        let code = hex
                            .iter()
                            .fold(0u32, |n, c| n * 16 + (*c as char).to_digit(16).unwrap_or(0));
                        if code >= 0x20 || matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                            return false;
                        }
                        *at += 6;
                    }
                    _ => return false,
                }
            }
            Some(c) if *c < 0x20 => return false,
            Some(_) => *at += 1,
        }
    }
}

/// The UTF-16 code units of a string's content as written canonically (escapes decoded).
fn utf16_units(raw: &[u8]) -> impl Iterator<Item = u16> + '_ {
    let text = std::str::from_utf8(raw).unwrap_or("");
    let mut chars = text.chars();
    std::iter::from_fn(move || {
        let c = chars.next()?;
        if c != '\\' {
            return Some(c);
        }
        Some(match chars.next()? {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let code: String = chars.by_ref().take(4).collect();
                char::from_u32(u32::from_str_radix(&code, 16).ok()?)?
            }
            other => other,
        })
    })
    .flat_map(|c| {
        let mut units = [0u16; 2];
        let n = c.encode_utf16(&mut units).len();
        (0..n).map(move |i| units[i])
    })
}

/// RFC 8785 §3.2.3: member names sort by their UTF-16 code units.
fn utf16_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    if !a.contains(&b'\\') && !b.contains(&b'\\') && a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    utf16_units(a).cmp(utf16_units(b))
}

fn check_portable(value: &Value) -> Result<(), LedgerError> {
    let mut stack = vec![(value, 0usize)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Number(n) => check_number(n)?,
            Value::Array(items) => {
                if depth >= MAX_DEPTH {
                    return Err(LedgerError::Json(format!("nested deeper than {MAX_DEPTH}")));
                }
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            Value::Object(members) => {
                if depth >= MAX_DEPTH {
                    return Err(LedgerError::Json(format!("nested deeper than {MAX_DEPTH}")));
                }
                stack.extend(members.values().map(|v| (v, depth + 1)));
            }
            Value::Null | Value::Bool(_) | Value::String(_) => {}
        }
    }
    Ok(())
}

fn check_number(n: &Number) -> Result<(), LedgerError> {
    let magnitude = if let Some(i) = n.as_i64() {
        i.unsigned_abs()
    } else if let Some(u) = n.as_u64() {
        u
    } else {
        return Err(LedgerError::Json(format!(
            "number {n} is not an integer: write amounts and quantities as strings"
        )));
    };
    if magnitude > MAX_SAFE_INTEGER {
        return Err(LedgerError::Json(format!(
            "integer {n} is outside ±(2^53−1): write it as a string"
        )));
    }
    Ok(())
}

/// A `Value` whose deserialisation fails on a repeated object member name.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // serde_json never yields a non-finite float from text; `Null` mirrors serde_json.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format!("duplicate member name {name:?}")));
            }
            let StrictValue(value) = map.next_value()?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    mod canonical_check {
        use super::*;
        use proptest::prelude::*;

        /// The slow definition `is_canonical` must agree with.
        fn oracle(bytes: &[u8]) -> bool {
            serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|v| jcs(&v).ok())
                .is_some_and(|c| c == bytes)
        }

        fn text() -> impl Strategy<Value = String> {
            let c = prop_oneof![
                4 => proptest::char::range('a', 'e'),
                1 => proptest::char::range('\u{0}', '\u{20}'),
                1 => Just('"'),
                1 => Just('\\'),
                1 => Just('\u{7f}'),
                1 => proptest::char::range('\u{e000}', '\u{e002}'),
                1 => proptest::char::range('\u{ff5e}', '\u{ff60}'),
                1 => proptest::char::range('\u{1f600}', '\u{1f602}'),
                1 => Just('é'),
            ];
            proptest::collection::vec(c, 0..4).prop_map(|v| v.into_iter().collect())
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (-20i64..20).prop_map(|n| json!(n)),
                prop_oneof![
                    Just(json!(MAX_SAFE_INTEGER)),
                    Just(json!(MAX_SAFE_INTEGER + 1)),
                    Just(json!(-(MAX_SAFE_INTEGER as i64))),
                    Just(json!(1.5)),
                ],
                text().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::vec((text(), inner), 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            #[test]
            fn agrees_with_parse_then_canonicalise(
                v in value(),
                edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..12), 0..3),
            ) {
                let mut texts = vec![serde_json::to_vec(&v).unwrap(), serde_json::to_vec_pretty(&v).unwrap()];
                if let Ok(canonical) = jcs(&v) {
                    prop_assert!(is_canonical(&canonical), "{}", String::from_utf8_lossy(&canonical));
                    texts.push(canonical);
                }
                // Small edits of each: a byte removed or one of JSON's own characters inserted.
                let inserts: [&[u8]; 11] = [b" ", b",", b"\"", b"\\", b"0", b"-", b"u", b".", b"e", b"\\u0041", b"\\u001F"];
                for base in texts.clone() {
                    let mut edited = base.clone();
                    for (at, what) in &edits {
                        if edited.is_empty() { break; }
                        let i = at.index(edited.len());
                        if *what == 11 {
                            edited.remove(i);
                        } else {
                            let bytes = inserts[*what];
                            edited.splice(i..i, bytes.iter().copied());
                        }
                    }
                    texts.push(edited);
                }
                for t in &texts {
                    prop_assert_eq!(is_canonical(t), oracle(t), "{}", String::from_utf8_lossy(t));
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(20_000))]

            #[test]
            fn agrees_on_short_texts_of_json_characters(
                t in proptest::collection::vec(proptest::sample::select(
                    b"{}[]\":,-019.eEu\\ tnrfa".to_vec()), 1..10)
            ) {
                prop_assert_eq!(is_canonical(&t), oracle(&t), "{}", String::from_utf8_lossy(&t));
            }
        }

        #[test]
        fn names_sort_by_utf16_code_units_not_by_code_points() {
            // U+FF61 sorts after U+1F600 in code points, before it in UTF-16 (a surrogate).
            assert!(is_canonical("{\"😀\":1,\"｡\":2}".as_bytes()));
            assert!(!is_canonical("{\"｡\":2,\"😀\":1}".as_bytes()));
            assert!(oracle("{\"😀\":1,\"｡\":2}".as_bytes()));
        }
    }

    // RFC 8037 Appendix A.1: the Ed25519 private key d and public key x.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    // RFC 8037 Appendix A.3: its RFC 7638 thumbprint.
    const RFC8037_KID: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    fn rfc8037_key() -> SigningKey {
        SigningKey::from_bytes(&b64url_decode(RFC8037_D).unwrap().try_into().unwrap())
    }

    fn canonical(text: &str) -> String {
        String::from_utf8(jcs(&parse_json(text).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn b64url_round_trips_without_padding() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            let text = b64url(&bytes);
            assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
            assert_eq!(b64url_decode(&text).unwrap(), bytes);
        }
        assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn b64url_decode_rejects_padding_other_alphabets_and_loose_bits() {
        assert!(b64url_decode("-_8").is_ok());
        assert!(b64url_decode("-_8=").is_err());
        assert!(b64url_decode("+/8").is_err());
        assert!(b64url_decode("-_9").is_err()); // non-zero trailing bits
        assert!(b64url_decode("A").is_err());
        assert!(b64url_decode("AA AA").is_err());
    }

    #[test]
    fn the_rfc_8785_string_and_literal_sample_canonicalises_exactly() {
        // RFC 8785 §3.2.3 input without its float row (floats are refused here, see below).
        let input = r#"{
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        assert_eq!(
            canonical(input),
            "{\"literals\":[null,true,false],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    #[test]
    fn the_rfc_8785_number_sample_is_refused_because_it_holds_floats() {
        let input =
            r#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001]}"#;
        assert!(matches!(
            jcs(&parse_json(input).unwrap()),
            Err(LedgerError::Json(_))
        ));
    }

    #[test]
    fn members_are_sorted_by_utf16_code_units_as_in_rfc_8785() {
        // RFC 8785 §3.2.3 sorting example ("weird.json" in the reference test data).
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\u000a": "Newline",
          "1": "One",
          "\u0080": "Control\u007f",
          "\ud83d\ude02": "Smiley",
          "\u00f6": "Latin Small Letter O With Diaeresis",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "</script>": "Browser Challenge"
        }"#;
        assert_eq!(
            canonical(input),
            "{\"\\n\":\"Newline\",\"\\r\":\"Carriage Return\",\"1\":\"One\",\"</script>\":\"Browser Challenge\",\
             \"\u{80}\":\"Control\u{7f}\",\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f602}\":\"Smiley\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    #[test]
    fn the_reference_arrays_structures_french_and_unicode_samples_canonicalise() {
        assert_eq!(
            canonical(r#"[56, {"d": true, "10": null, "1": [ ]}]"#),
            r#"[56,{"1":[],"10":null,"d":true}]"#
        );
        // structures.json, with its 56.0 written as the integer 56.
        assert_eq!(
            canonical(
                r#"{"1": {"f": {"f": "hi","F": 5} ,"\n": 56}, "10": { }, "": "empty", "a": { }, "111": [ {"e": "yes","E": "no" } ], "A": { }}"#
            ),
            r#"{"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{"E":"no","e":"yes"}],"A":{},"a":{}}"#
        );
        assert_eq!(
            canonical(
                r#"{"peach": "This sorting order", "péché": "is wrong according to French", "pêche": "but canonicalization MUST", "sin": "ignore locale"}"#
            ),
            r#"{"peach":"This sorting order","péché":"is wrong according to French","pêche":"but canonicalization MUST","sin":"ignore locale"}"#
        );
        // No Unicode normalisation.
        assert_eq!(
            canonical(r#"{"Unnormalized Unicode":"A\u030a"}"#),
            "{\"Unnormalized Unicode\":\"A\u{30a}\"}"
        );
    }

    #[test]
    fn integers_up_to_two_to_the_53_minus_one_are_accepted() {
        let max = MAX_SAFE_INTEGER as i64;
        assert_eq!(
            jcs(&json!([0, -1, max, -max])).unwrap(),
            b"[0,-1,9007199254740991,-9007199254740991]"
        );
    }

    #[test]
    fn floats_and_unsafe_integers_are_refused() {
        for value in [
            json!(1.5),
            json!(1.0),
            json!({"amount": 0.1}),
            json!([9007199254740992u64]),
            json!(-9007199254740992i64),
            json!(u64::MAX),
            json!(i64::MIN),
        ] {
            assert!(matches!(jcs(&value), Err(LedgerError::Json(_))), "{value}");
        }
        for text in ["1e2", "-0", "1.0", "[12345678901234567890123]"] {
            let value = serde_json::from_str::<Value>(text).unwrap();
            assert!(jcs(&value).is_err(), "{text}");
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_without_overflowing_the_stack() {
        let mut deep = json!("leaf");
        for _ in 0..10_000 {
            deep = Value::Array(vec![deep]);
        }
        assert!(matches!(jcs(&deep), Err(LedgerError::Json(_))));
        // Dropping a deep Value recurses in serde_json; leak it rather than test serde_json.
        std::mem::forget(deep);
        let mut ok = json!(1);
        for _ in 0..MAX_DEPTH {
            ok = json!({ "a": ok });
        }
        assert!(jcs(&ok).is_ok());
        assert!(jcs(&json!([ok])).is_err());
    }

    #[test]
    fn the_first_repeated_member_is_named_by_its_pointer_at_any_depth() {
        let at = |text: &str| first_repeated_member(text.as_bytes()).unwrap();
        assert_eq!(at(r#"{"a":1,"b":{"c":[1,{"d":2}]}}"#), None);
        assert_eq!(at(r#"{"a":1,"a":1}"#).as_deref(), Some("/a"));
        assert_eq!(
            at(r#"{"payload":{"quantity":"1","quantity":"100"}}"#).as_deref(),
            Some("/payload/quantity")
        );
        assert_eq!(
            at(r#"{"x":[{"b":1},{"c":2,"c":3}],"y":{"y":1,"y":2}}"#).as_deref(),
            Some("/x/1/c")
        );
        assert_eq!(at(r#"{"a/b":{"~":1,"~":2}}"#).as_deref(), Some("/a~1b/~0"));
        // The same name at different depths is no repetition.
        assert_eq!(at(r#"{"a":{"a":{"a":1}}}"#), None);
        assert!(first_repeated_member(b"{\"a\":").is_err());
        assert!(first_repeated_member(b"{} {}").is_err());
    }

    #[test]
    fn parse_json_refuses_repeated_member_names_at_any_depth() {
        assert!(parse_json(r#"{"a":1,"a":1}"#).is_err());
        assert!(parse_json(r#"{"x":[{"b":1,"c":2,"b":3}]}"#).is_err());
        assert!(parse_json(r#"{"a":1} trailing"#).is_err());
        assert!(parse_json(r#"{"a":"\ud800"}"#).is_err()); // lone surrogate
        assert_eq!(
            parse_json(r#"{"a":{"a":1},"b":[1,"x",null,true]}"#).unwrap(),
            json!({"a":{"a":1},"b":[1,"x",null,true]})
        );
        assert_eq!(parse_json("2.5").unwrap(), json!(2.5));
        assert_eq!(parse_json("-7").unwrap(), json!(-7));
    }

    #[test]
    fn a_jcs_signature_verifies_whatever_the_member_order() {
        let key = rfc8037_key();
        let value = json!({"b": "2", "a": {"y": [1, 2], "x": "é"}, "nonce": "7"});
        let sig = sign_jcs(&value, &key).unwrap();
        verify_jcs(&value, &sig, &key.verifying_key()).unwrap();
        let reordered = parse_json(r#"{"nonce":"7","a":{"x":"é","y":[1,2]},"b":"2"}"#).unwrap();
        verify_jcs(&reordered, &sig, &key.verifying_key()).unwrap();
        // Ed25519 is deterministic (RFC 8032 §5.1.6): the same value gives the same signature.
        assert_eq!(sign_jcs(&reordered, &key).unwrap(), sig);
    }

    #[test]
    fn a_tampered_value_key_or_signature_fails() {
        let key = rfc8037_key();
        let value = json!({"amount": "100", "to": "alice"});
        let sig = sign_jcs(&value, &key).unwrap();
        let vk = key.verifying_key();
        assert_eq!(
            verify_jcs(&json!({"amount": "1000", "to": "alice"}), &sig, &vk),
            Err(LedgerError::BadSignature)
        );
        assert_eq!(
            verify_jcs(
                &json!({"amount": "100", "to": "alice", "x": null}),
                &sig,
                &vk
            ),
            Err(LedgerError::BadSignature)
        );
        let other = SigningKey::from_bytes(&[5; 32]).verifying_key();
        assert_eq!(
            verify_jcs(&value, &sig, &other),
            Err(LedgerError::BadSignature)
        );
        let mut bytes = b64url_decode(&sig).unwrap();
        for i in [0, 31, 32, 63] {
            bytes[i] ^= 0x40;
            assert!(verify_jcs(&value, &b64url(&bytes), &vk).is_err());
            bytes[i] ^= 0x40;
        }
        assert!(matches!(
            verify_jcs(&value, &sig[..sig.len() - 2], &vk),
            Err(LedgerError::Base64(_))
        ));
        assert!(matches!(
            verify_jcs(&value, "not base64!", &vk),
            Err(LedgerError::Base64(_))
        ));
        assert!(matches!(
            verify_jcs(&value, &b64url(&[0; 65]), &vk),
            Err(LedgerError::Base64(_))
        ));
        assert!(sign_jcs(&json!({"amount": 1.5}), &key).is_err());
    }

    #[test]
    fn the_rfc_8037_key_has_the_published_x_and_thumbprint() {
        let vk = rfc8037_key().verifying_key();
        assert_eq!(b64url(vk.as_bytes()), RFC8037_X);
        assert_eq!(jwk_thumbprint(&vk), RFC8037_KID);
        let jwk = Jwk::from_key(&vk);
        assert_eq!(jwk.kid.as_deref(), Some(RFC8037_KID));
        assert_eq!(jwk.to_key().unwrap(), vk);
    }

    #[test]
    fn the_rfc_8037_jws_signature_is_reproduced_and_verifies() {
        // RFC 8037 A.4: header {"alg":"EdDSA"}, payload "Example of Ed25519 signing".
        let header = b64url(&jcs(&json!({"alg": "EdDSA"})).unwrap());
        assert_eq!(header, "eyJhbGciOiJFZERTQSJ9");
        let input = format!("{header}.{}", b64url(b"Example of Ed25519 signing"));
        assert_eq!(
            input,
            "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        );
        let expected = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
        assert_eq!(
            b64url(&rfc8037_key().sign(input.as_bytes()).to_bytes()),
            expected
        );
        let jwk: Jwk = serde_json::from_str(&format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}"}}"#
        ))
        .unwrap();
        let vk = jwk.to_key().unwrap();
        vk.verify_strict(input.as_bytes(), &decode_signature(expected).unwrap())
            .unwrap();
    }

    #[test]
    fn a_jwk_serialises_with_use_and_without_absent_members() {
        let vk = rfc8037_key().verifying_key();
        let text = serde_json::to_value(Jwk::from_key(&vk)).unwrap();
        assert_eq!(
            text,
            json!({"kty":"OKP","crv":"Ed25519","x":RFC8037_X,"kid":RFC8037_KID,"use":"sig","alg":"EdDSA"})
        );
        let bare = Jwk {
            kid: None,
            use_: None,
            alg: None,
            ..Jwk::from_key(&vk)
        };
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"kty":"OKP","crv":"Ed25519","x":RFC8037_X})
        );
        assert_eq!(bare.to_key().unwrap(), vk);
    }

    #[test]
    fn a_jwk_that_is_not_a_usable_ed25519_key_is_refused() {
        let good = Jwk::from_key(&rfc8037_key().verifying_key());
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let cases = [
            Jwk {
                kty: "EC".into(),
                ..good.clone()
            },
            Jwk {
                crv: "X25519".into(),
                ..good.clone()
            },
            Jwk {
                x: b64url(&[1; 31]),
                kid: None,
                ..good.clone()
            },
            Jwk {
                x: format!("{RFC8037_X}="),
                kid: None,
                ..good.clone()
            },
            Jwk {
                x: b64url(&identity),
                kid: None,
                ..good.clone()
            },
            Jwk {
                kid: Some("someone-else".into()),
                ..good.clone()
            },
            Jwk {
                use_: Some("enc".into()),
                ..good.clone()
            },
            Jwk {
                alg: Some("ES256".into()),
                ..good.clone()
            },
        ];
        for jwk in cases {
            assert!(jwk.to_key().is_err(), "{jwk:?}");
        }
        assert!(
            Jwk {
                alg: Some("Ed25519".into()),
                ..good
            }
            .to_key()
            .is_ok()
        );
    }

    #[test]
    fn a_public_key_parses_from_a_jwk_or_from_bare_base64() {
        let vk = rfc8037_key().verifying_key();
        let jwk = serde_json::to_string(&Jwk::from_key(&vk)).unwrap();
        assert_eq!(parse_public_key(&jwk).unwrap(), vk);
        assert_eq!(parse_public_key(&format!("  {jwk}\n")).unwrap(), vk);
        assert_eq!(
            parse_public_key(&format!(
                r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","key_ops":["verify"]}}"#
            ))
            .unwrap(),
            vk
        );
        assert_eq!(parse_public_key(RFC8037_X).unwrap(), vk);
        assert_eq!(parse_public_key(&format!("{RFC8037_X}=")).unwrap(), vk);
        let standard = STANDARD.encode(vk.as_bytes());
        assert!(standard.contains('/') || standard.contains('+'));
        assert_eq!(parse_public_key(&standard).unwrap(), vk);
        assert_eq!(
            parse_public_key(standard.trim_end_matches('=')).unwrap(),
            vk
        );
    }

    #[test]
    fn parse_public_key_refuses_private_jwks_garbage_and_wrong_lengths() {
        let with_d =
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{RFC8037_X}","d":"{RFC8037_D}"}}"#);
        assert!(matches!(
            parse_public_key(&with_d),
            Err(LedgerError::InvalidKey(_))
        ));
        assert!(parse_public_key(r#"{"kty":"OKP","crv":"Ed25519"}"#).is_err());
        assert!(parse_public_key(r#"{"kty":"OKP","crv":"Ed25519","x":"a","x":"b"}"#).is_err());
        assert!(parse_public_key("{").is_err());
        assert!(parse_public_key("").is_err());
        assert!(parse_public_key("not a key!").is_err());
        assert!(parse_public_key(&b64url(&[9; 31])).is_err());
        assert!(parse_public_key(&b64url(&[9; 33])).is_err());
    }
}
