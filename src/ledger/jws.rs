//! Labels as compact JWS (RFC 7515) with `alg: EdDSA` (RFC 8037), signed by the service key.
//!
//! Signing and verification both go through `jsonwebtoken`, an off-the-shelf JOSE library, so
//! what midori produces is what a third party's JOSE library accepts: the header is
//! `{"alg":"EdDSA","typ":"JWT","kid":<service kid>}` and the key is the one published in the
//! JWK Set at `/.well-known/jwks.json`.

use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::Value;

use super::LedgerError;
use super::canon::b64url;
use super::entry::ServiceSigner;

/// The JWS `typ` of a midori label.
pub const LABEL_TYP: &str = "JWT";

/// Sign `claims` as a compact JWS with the service key.
pub fn sign(claims: &Value, signer: &ServiceSigner) -> Result<String, LedgerError> {
    let der = signer
        .signing_key()
        .to_pkcs8_der()
        .map_err(|e| LedgerError::Json(format!("service key to PKCS#8: {e}")))?;
    let key = EncodingKey::from_ed_der(der.as_bytes());
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(signer.kid().to_owned());
    header.typ = Some(LABEL_TYP.to_owned());
    jsonwebtoken::encode(&header, claims, &key).map_err(|e| LedgerError::Json(e.to_string()))
}

/// Why a token did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("not a compact JWS: {0}")]
    Malformed(String),
    #[error("the JWS names no key id (kid)")]
    NoKid,
    #[error("no published service key has kid {0:?}")]
    UnknownKey(String),
    #[error("the signature does not verify: {0}")]
    BadSignature(String),
}

/// The claims of `token` if its EdDSA signature verifies with the key its header names among
/// `keys` (kid, public key). Expiry is not judged here: the caller compares `exp` with its
/// own notion of now, so that a replayed check at a past time gives the same answer.
pub fn verify(token: &str, keys: &[(String, VerifyingKey)]) -> Result<(String, Value), JwsError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| JwsError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::EdDSA {
        return Err(JwsError::Malformed(format!(
            "alg is {:?}; midori labels use EdDSA",
            header.alg
        )));
    }
    let kid = header.kid.ok_or(JwsError::NoKid)?;
    let key = keys
        .iter()
        .find(|(k, _)| *k == kid)
        .map(|(_, key)| key)
        .ok_or_else(|| JwsError::UnknownKey(kid.clone()))?;
    let decoding = DecodingKey::from_ed_components(&b64url(key.as_bytes()))
        .map_err(|e| JwsError::Malformed(e.to_string()))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = ["iss", "sub", "iat", "exp"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let data = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .map_err(|e| JwsError::BadSignature(e.to_string()))?;
    Ok((kid, data.claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    fn signer(seed: u8) -> ServiceSigner {
        ServiceSigner::new(SigningKey::from_bytes(&[seed; 32]))
    }

    #[test]
    fn a_signed_label_verifies_with_its_key_and_no_other() {
        let s = signer(7);
        let claims = json!({ "iss": "midori.example", "sub": "bond-1", "iat": 1, "exp": 2, "label": { "status": "verified" } });
        let token = sign(&claims, &s).unwrap();
        assert_eq!(token.split('.').count(), 3);
        let keys = vec![(s.kid().to_owned(), s.verifying_key())];
        let (kid, back) = verify(&token, &keys).unwrap();
        assert_eq!(kid, s.kid());
        assert_eq!(back, claims);

        let other = signer(8);
        let wrong_key = vec![(s.kid().to_owned(), other.verifying_key())];
        assert!(matches!(
            verify(&token, &wrong_key),
            Err(JwsError::BadSignature(_))
        ));
        assert!(matches!(verify(&token, &[]), Err(JwsError::UnknownKey(_))));
    }

    #[test]
    fn a_changed_claim_breaks_the_signature() {
        let s = signer(9);
        let token = sign(&json!({ "iss": "a", "sub": "b", "iat": 1, "exp": 2, "label": { "status": "verified" } }), &s).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let forged = super::super::canon::b64url(
            br#"{"iss":"a","sub":"b","iat":1,"exp":2,"label":{"status":"monitoring"}}"#,
        );
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        let keys = vec![(s.kid().to_owned(), s.verifying_key())];
        assert!(matches!(
            verify(&tampered, &keys),
            Err(JwsError::BadSignature(_))
        ));
        assert!(matches!(
            verify("not a jws", &keys),
            Err(JwsError::Malformed(_))
        ));
    }
}
