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
use serde_json::{Map, Value};

use super::LedgerError;
use super::canon::{Jwk, jcs, jwk_thumbprint, sign_jcs, verify_jcs};

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

impl Draft {
    /// Fix the index and time, countersign, and return the entry with its leaf bytes.
    pub fn seal(
        &self,
        ledger: &str,
        index: u64,
        time: &str,
        signer: &ServiceSigner,
    ) -> Result<(Entry, Vec<u8>), LedgerError> {
        let mut object = Map::new();
        object.insert("ledger".into(), Value::String(ledger.to_owned()));
        object.insert("index".into(), Value::String(index.to_string()));
        object.insert("time".into(), Value::String(time.to_owned()));
        object.insert("type".into(), Value::String(self.kind.clone()));
        if let Some(actor) = &self.actor {
            object.insert("actor".into(), to_value(actor)?);
        }
        if let Some(request) = &self.request {
            object.insert("request".into(), to_value(request)?);
        }
        object.insert("data".into(), self.data.clone());
        let unsigned = Value::Object(object);
        let sig = sign_jcs(&unsigned, &signer.key)?;
        let Value::Object(mut object) = unsigned else {
            unreachable!("built as an object above")
        };
        let countersignature = Countersignature {
            alg: "EdDSA".into(),
            kid: signer.kid.clone(),
            sig,
        };
        object.insert(COUNTERSIGNATURE.into(), to_value(&countersignature)?);
        let value = Value::Object(object);
        let leaf = jcs(&value)?;
        let entry: Entry =
            serde_json::from_value(value).map_err(|e| LedgerError::Json(e.to_string()))?;
        Ok((entry, leaf))
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
    use crate::ledger::canon::b64url;
    use serde_json::json;

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
