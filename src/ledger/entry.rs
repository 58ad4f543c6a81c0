//! Ledger entries: the JSON objects whose JCS bytes are the Merkle leaves.
//!
//! An entry is
//! ```json
//! { "ledger": "<origin>", "index": "0", "time": "2026-11-28T13:00:00.123456Z",
//!   "type": "bond.registered",
//!   "actor": { "party": "<id>", "role": "issuer", "jwk": { "kty": "OKP", "crv": "Ed25519", "x": "…", "kid": "…" } },
//!   "request": { "payload": { …, "kid": "…", "nonce": "…" }, "signature": "<b64url>" },
//!   "data": { … },
//!   "countersignature": { "alg": "EdDSA", "kid": "<service kid>", "sig": "<b64url>" } }
//! ```
//! The client's `signature` is over JCS(`request.payload`); the service's countersignature is
//! over JCS(entry without `countersignature`); the leaf is JCS(whole entry). All three can be
//! checked with any RFC 8785 library and Ed25519, without midori code. The signer's public key
//! travels in `actor.jwk`, attested by the countersignature, so an export verifies on its own.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::LedgerError;
use ed25519_dalek::Signer;

use super::canon::{Jwk, b64url, jcs, jwk_thumbprint, verify_jcs};

/// Name of the countersignature member, removed before the service's signature is checked.
pub const COUNTERSIGNATURE: &str = "countersignature";

/// A request as clients send it: a payload and their signature over its JCS bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedRequest {
    /// The operation; must carry `kid` (the signing key's RFC 7638 thumbprint) and `nonce`
    /// (a decimal string the party never uses twice: the replay guard).
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Ed25519 signature over the RFC 8785 canonical bytes of `payload`, base64url.
    pub signature: String,
}

/// Who signed the request that an entry records, as the service knew them when appending.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub party: String,
    pub role: String,
    pub jwk: Jwk,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Countersignature {
    pub alg: String,
    pub kid: String,
    pub sig: String,
}

/// An entry as stored and exported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub ledger: String,
    pub index: String,
    pub time: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<SignedRequest>,
    pub data: Value,
    pub countersignature: Countersignature,
}

/// Everything about an entry that is known before its index and time are.
#[derive(Clone, Debug)]
pub struct Draft {
    pub kind: String,
    pub actor: Option<Actor>,
    pub request: Option<SignedRequest>,
    pub data: Value,
}

/// The service's signing identity.
#[derive(Clone)]
pub struct ServiceSigner {
    key: SigningKey,
    kid: String,
}

impl ServiceSigner {
    pub fn new(key: SigningKey) -> Self {
        let kid = jwk_thumbprint(&key.verifying_key());
        ServiceSigner { key, kid }
    }
    pub fn kid(&self) -> &str {
        &self.kid
    }
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

impl SignedRequest {
    /// The RFC 8785 bytes of the request, `{"payload":…,"signature":…}`, built from the
    /// payload's own canonical bytes (the members are already in JCS order).
    pub fn canonical(&self) -> Result<Vec<u8>, LedgerError> {
        let payload = jcs(&self.payload)?;
        let signature = jcs_string(&self.signature)?;
        let mut out = Vec::with_capacity(payload.len() + signature.len() + 24);
        out.extend_from_slice(b"{\"payload\":");
        out.extend_from_slice(&payload);
        out.extend_from_slice(b",\"signature\":");
        out.extend_from_slice(&signature);
        out.push(b'}');
        Ok(out)
    }
}

/// The RFC 8785 form of a JSON string.
fn jcs_string(text: &str) -> Result<Vec<u8>, LedgerError> {
    jcs(&Value::String(text.to_owned()))
}

impl Draft {
    /// Fix the index and time, countersign, and return the entry with its leaf bytes.
    pub fn seal(
        &self,
        ledger: &str,
        index: u64,
        time: &str,
        signer: &ServiceSigner,
    ) -> Result<(Entry, Vec<u8>), LedgerError> {
        let leaf = self.seal_leaf(ledger, index, time, signer, None)?;
        let entry: Entry =
            serde_json::from_slice(&leaf).map_err(|e| LedgerError::Json(e.to_string()))?;
        Ok((entry, leaf))
    }

    /// [`Draft::seal`] without building the entry: only the leaf bytes, written member by
    /// member in JCS order from each member's canonical bytes (`request_jcs`, when given, must
    /// be [`SignedRequest::canonical`] of the draft's request: callers that hashed it already
    /// pass it instead of canonicalising it again). The same bytes as canonicalising the whole
    /// entry, at a fraction of the cost: this runs once per entry on the engine's hot path.
    pub fn seal_leaf(
        &self,
        ledger: &str,
        index: u64,
        time: &str,
        signer: &ServiceSigner,
        request_jcs: Option<&[u8]>,
    ) -> Result<Vec<u8>, LedgerError> {
        let actor = match &self.actor {
            Some(actor) => Some(jcs(&to_value(actor)?)?),
            None => None,
        };
        let request = match (&self.request, request_jcs) {
            (Some(_), Some(bytes)) => Some(bytes.to_vec()),
            (Some(request), None) => Some(request.canonical()?),
            (None, _) => None,
        };
        let data = jcs(&self.data)?;
        let index = jcs_string(&index.to_string())?;
        let ledger = jcs_string(ledger)?;
        let time = jcs_string(time)?;
        let kind = jcs_string(&self.kind)?;
        // Members in RFC 8785 order (all names are ASCII, so byte order is UTF-16 order).
        let object = |countersignature: Option<&[u8]>| -> Vec<u8> {
            let mut out = Vec::with_capacity(
                data.len()
                    + actor.as_ref().map_or(0, Vec::len)
                    + request.as_ref().map_or(0, Vec::len)
                    + 256,
            );
            out.push(b'{');
            let mut member = |name: &str, value: &[u8]| {
                if out.len() > 1 {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
                out.extend_from_slice(value);
            };
            if let Some(actor) = &actor {
                member("actor", actor);
            }
            if let Some(cs) = countersignature {
                member(COUNTERSIGNATURE, cs);
            }
            member("data", &data);
            member("index", &index);
            member("ledger", &ledger);
            if let Some(request) = &request {
                member("request", request);
            }
            member("time", &time);
            member("type", &kind);
            out.push(b'}');
            out
        };
        let unsigned = object(None);
        let sig = b64url(&signer.key.sign(&unsigned).to_bytes());
        let countersignature = format!(
            "{{\"alg\":\"EdDSA\",\"kid\":{},\"sig\":{}}}",
            String::from_utf8_lossy(&jcs_string(&signer.kid)?),
            String::from_utf8_lossy(&jcs_string(&sig)?)
        );
        Ok(object(Some(countersignature.as_bytes())))
    }
}

impl Entry {
    /// Parse leaf bytes, insisting that they are exactly the canonical form of what they hold.
    pub fn from_leaf(leaf: &[u8]) -> Result<(Entry, Value), LedgerError> {
        let value: Value = serde_json::from_slice(leaf)
            .map_err(|e| LedgerError::Json(format!("not JSON: {e}")))?;
        if jcs(&value)? != leaf {
            return Err(LedgerError::Json(
                "entry is not in RFC 8785 canonical form".into(),
            ));
        }
        let entry: Entry =
            serde_json::from_value(value.clone()).map_err(|e| LedgerError::Json(e.to_string()))?;
        Ok((entry, value))
    }

    /// [`Entry::from_leaf`] for a caller that does not need the JSON value (no copy of it).
    /// The canonical form is checked on the bytes ([`crate::ledger::canon::is_canonical`], no
    /// re-serialisation); only a leaf that fails it is parsed again, to say why.
    pub fn from_leaf_only(leaf: &[u8]) -> Result<Entry, LedgerError> {
        if !crate::ledger::canon::is_canonical(leaf) {
            return Entry::from_leaf(leaf).map(|(entry, _)| entry);
        }
        serde_json::from_slice(leaf).map_err(|e| LedgerError::Json(e.to_string()))
    }

    pub fn index(&self) -> Result<u64, LedgerError> {
        parse_index(&self.index)
    }

    /// Check the service's countersignature over the entry (as JSON `value`), with `key`.
    pub fn verify_countersignature(value: &Value, key: &VerifyingKey) -> Result<(), LedgerError> {
        let mut object = value
            .as_object()
            .cloned()
            .ok_or_else(|| LedgerError::Json("entry is not an object".into()))?;
        let countersignature = object
            .remove(COUNTERSIGNATURE)
            .ok_or_else(|| LedgerError::Json("entry has no countersignature".into()))?;
        let sig = countersignature
            .get("sig")
            .and_then(Value::as_str)
            .ok_or_else(|| LedgerError::Json("countersignature has no sig".into()))?;
        verify_jcs(&Value::Object(object), sig, key)
    }

    /// Check the client's signature over the recorded request with the key named in `actor`,
    /// and that the payload names that key.
    pub fn verify_request(&self) -> Result<(), LedgerError> {
        let (Some(actor), Some(request)) = (&self.actor, &self.request) else {
            return Ok(());
        };
        let key = actor.jwk.to_key()?;
        let kid = jwk_thumbprint(&key);
        if request.payload.get("kid").and_then(Value::as_str) != Some(kid.as_str()) {
            return Err(LedgerError::Json(
                "request payload does not name the actor's key".into(),
            ));
        }
        verify_jcs(&request.payload, &request.signature, &key)
    }
}

/// Decimal string without sign or leading zeros, as every index and quantity is written.
pub fn parse_index(text: &str) -> Result<u64, LedgerError> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(LedgerError::Json(format!(
            "{text:?} is not a canonical decimal"
        )));
    }
    text.parse()
        .map_err(|_| LedgerError::Json(format!("{text:?} is out of range")))
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, LedgerError> {
    serde_json::to_value(value).map_err(|e| LedgerError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::canon::{b64url, sign_jcs};
    use serde_json::{Map, json};

    /// The reference: the entry as one JSON value, canonicalised whole, countersigned over the
    /// canonical bytes without the countersignature (what DESIGN.md specifies).
    fn sealed_the_long_way(
        draft: &Draft,
        ledger: &str,
        index: u64,
        time: &str,
        signer: &ServiceSigner,
    ) -> Vec<u8> {
        let mut object = Map::new();
        object.insert("ledger".into(), json!(ledger));
        object.insert("index".into(), json!(index.to_string()));
        object.insert("time".into(), json!(time));
        object.insert("type".into(), json!(draft.kind));
        if let Some(actor) = &draft.actor {
            object.insert("actor".into(), serde_json::to_value(actor).unwrap());
        }
        if let Some(request) = &draft.request {
            object.insert("request".into(), serde_json::to_value(request).unwrap());
        }
        object.insert("data".into(), draft.data.clone());
        let sig = sign_jcs(&Value::Object(object.clone()), signer.signing_key()).unwrap();
        object.insert(
            COUNTERSIGNATURE.into(),
            json!({"alg": "EdDSA", "kid": signer.kid(), "sig": sig}),
        );
        jcs(&Value::Object(object)).unwrap()
    }

    #[test]
    fn sealing_member_by_member_gives_the_bytes_of_canonicalising_the_whole_entry() {
        let service = signer(1);
        let client = SigningKey::from_bytes(&[2; 32]);
        let mut drafts = vec![signed_draft(&client)];
        let mut awkward = signed_draft(&client);
        awkward.kind = "doc\"quoted\"\n".into();
        awkward.data = json!({"z": [1, 20, -3, 0], "é": "line\u{2028}sep", "a": {"\u{1f600}": null, "B": true, "b": "\u{7}"}});
        awkward.request.as_mut().unwrap().payload["memo"] = json!("caf\u{e9} \\ \u{0}");
        drafts.push(awkward);
        drafts.push(Draft {
            kind: "label.changed".into(),
            actor: None,
            request: None,
            data: json!({"status": "verified"}),
        });
        for draft in &drafts {
            for (ledger, index, time) in [
                ("midori.test/bonds/b1", 0, "2026-11-28T00:00:00Z"),
                ("l\u{e9}\"x", 12345, "t"),
            ] {
                let expected = sealed_the_long_way(draft, ledger, index, time, &service);
                assert_eq!(
                    String::from_utf8(
                        draft
                            .seal_leaf(ledger, index, time, &service, None)
                            .unwrap()
                    )
                    .unwrap(),
                    String::from_utf8(expected.clone()).unwrap()
                );
                let request = draft.request.as_ref().map(|r| r.canonical().unwrap());
                assert_eq!(
                    draft
                        .seal_leaf(ledger, index, time, &service, request.as_deref())
                        .unwrap(),
                    expected
                );
                if let Some(r) = &draft.request {
                    assert_eq!(
                        r.canonical().unwrap(),
                        jcs(&serde_json::to_value(r).unwrap()).unwrap()
                    );
                }
            }
        }
    }

    fn signer(seed: u8) -> ServiceSigner {
        ServiceSigner::new(SigningKey::from_bytes(&[seed; 32]))
    }

    fn signed_draft(client: &SigningKey) -> Draft {
        let jwk = Jwk::from_key(&client.verifying_key());
        let payload = json!({"type": "bond.register", "kid": jwk_thumbprint(&client.verifying_key()), "nonce": "7"});
        let signature = sign_jcs(&payload, client).unwrap();
        Draft {
            kind: "bond.registered".into(),
            actor: Some(Actor {
                party: "p1".into(),
                role: "issuer".into(),
                jwk,
            }),
            request: Some(SignedRequest { payload, signature }),
            data: json!({"bond": "b1"}),
        }
    }

    #[test]
    fn a_sealed_entry_round_trips_through_its_canonical_leaf_and_verifies() {
        let service = signer(1);
        let client = SigningKey::from_bytes(&[2; 32]);
        let (entry, leaf) = signed_draft(&client)
            .seal("midori.test/bonds/b1", 0, "2026-11-28T00:00:00Z", &service)
            .unwrap();
        let (parsed, value) = Entry::from_leaf(&leaf).unwrap();
        assert_eq!(parsed, entry);
        assert_eq!(parsed.index().unwrap(), 0);
        Entry::verify_countersignature(&value, &service.verifying_key()).unwrap();
        parsed.verify_request().unwrap();
    }

    #[test]
    fn a_changed_byte_breaks_the_countersignature() {
        let service = signer(1);
        let client = SigningKey::from_bytes(&[2; 32]);
        let (_, leaf) = signed_draft(&client)
            .seal("midori.test/bonds/b1", 3, "2026-11-28T00:00:00Z", &service)
            .unwrap();
        let tampered = String::from_utf8(leaf)
            .unwrap()
            .replace("\"b1\"}", "\"b2\"}");
        let (_, value) = Entry::from_leaf(tampered.as_bytes()).unwrap();
        assert!(Entry::verify_countersignature(&value, &service.verifying_key()).is_err());
    }

    #[test]
    fn a_leaf_that_is_not_canonical_is_refused() {
        let service = signer(1);
        let client = SigningKey::from_bytes(&[2; 32]);
        let (_, leaf) = signed_draft(&client).seal("l", 0, "t", &service).unwrap();
        let mut spaced = b" ".to_vec();
        spaced.extend_from_slice(&leaf);
        assert!(Entry::from_leaf(&spaced).is_err());
    }

    #[test]
    fn a_request_signed_by_another_key_than_the_actor_is_refused() {
        let service = signer(1);
        let client = SigningKey::from_bytes(&[2; 32]);
        let mut draft = signed_draft(&client);
        draft.request.as_mut().unwrap().signature =
            b64url(&SigningKey::from_bytes(&[3; 32]).sign_bytes(b"x"));
        let (entry, _) = draft.seal("l", 0, "t", &service).unwrap();
        assert!(entry.verify_request().is_err());
    }

    #[test]
    fn indices_are_canonical_decimals() {
        assert_eq!(parse_index("0").unwrap(), 0);
        assert_eq!(parse_index("42").unwrap(), 42);
        for bad in ["", "01", "-1", "+1", "1.0", "18446744073709551616"] {
            assert!(parse_index(bad).is_err(), "{bad}");
        }
    }

    trait SignBytes {
        fn sign_bytes(&self, msg: &[u8]) -> [u8; 64];
    }
    impl SignBytes for SigningKey {
        fn sign_bytes(&self, msg: &[u8]) -> [u8; 64] {
            use ed25519_dalek::Signer;
            self.sign(msg).to_bytes()
        }
    }
}
