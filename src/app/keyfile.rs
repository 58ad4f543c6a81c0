//! Private key files: an RFC 8037 private JWK (`{"kty":"OKP","crv":"Ed25519","x":…,"d":…}`)
//! written with mode 0600. Used for the service key and by `midori keygen` / `midori sign`.

use std::io::Write;
use std::path::Path;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::ledger::canon::{b64url, b64url_decode, jwk_thumbprint};

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    // `error`, not `source`: the message already carries it, and a source would print it
    // twice in `{:#}` chains.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{0}: not an Ed25519 private JWK (kty OKP, crv Ed25519, 32-byte d)")]
    Format(String),
    #[error("{0}: the public part x does not match the private key d")]
    Mismatch(String),
}

#[derive(Serialize, Deserialize)]
struct PrivateJwk {
    kty: String,
    crv: String,
    x: String,
    d: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
}

/// A fresh key from the operating system's randomness.
pub fn generate() -> Result<SigningKey, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The private JWK text of `key`.
pub fn to_private_jwk(key: &SigningKey) -> String {
    let jwk = PrivateJwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: b64url(key.verifying_key().as_bytes()),
        d: b64url(&key.to_bytes()),
        kid: Some(jwk_thumbprint(&key.verifying_key())),
    };
    serde_json::to_string_pretty(&jwk).unwrap_or_default() + "\n"
}

/// Parse a private JWK, or a bare base64url 32-byte seed (for `MIDORI_SERVICE_KEY`).
pub fn parse_private(text: &str, what: &str) -> Result<SigningKey, KeyFileError> {
    let text = text.trim();
    let (d, x) = if text.starts_with('{') {
        let jwk: PrivateJwk =
            serde_json::from_str(text).map_err(|_| KeyFileError::Format(what.into()))?;
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(KeyFileError::Format(what.into()));
        }
        (jwk.d, Some(jwk.x))
    } else {
        (text.to_owned(), None)
    };
    let seed: [u8; 32] = b64url_decode(&d)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| KeyFileError::Format(what.into()))?;
    let key = SigningKey::from_bytes(&seed);
    if let Some(x) = x
        && x != b64url(key.verifying_key().as_bytes())
    {
        return Err(KeyFileError::Mismatch(what.into()));
    }
    Ok(key)
}

pub fn read(path: &Path) -> Result<SigningKey, KeyFileError> {
    let text = std::fs::read_to_string(path).map_err(|error| KeyFileError::Io {
        path: path.display().to_string(),
        error,
    })?;
    parse_private(&text, &path.display().to_string())
}

/// Write `key` to a new file readable by its owner only. Refuses to overwrite.
pub fn write_new(path: &Path, key: &SigningKey) -> Result<(), KeyFileError> {
    let io = |error: std::io::Error| KeyFileError::Io {
        path: path.display().to_string(),
        error: if error.kind() == std::io::ErrorKind::AlreadyExists {
            std::io::Error::new(error.kind(), "exists already; refusing to overwrite a key")
        } else {
            error
        },
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(to_private_jwk(key).as_bytes()).map_err(io)?;
    // The key must survive a crash right after first start, like any acknowledged write.
    file.sync_all().map_err(io)?;
    Ok(())
}

/// Load the key at `path`, creating it on first start.
pub fn load_or_create(path: &Path) -> Result<(SigningKey, bool), KeyFileError> {
    match read(path) {
        Ok(key) => Ok((key, false)),
        Err(KeyFileError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = generate().map_err(|e| KeyFileError::Io {
                path: path.display().to_string(),
                error: std::io::Error::other(e.to_string()),
            })?;
            write_new(path, &key)?;
            Ok((key, true))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_key_file_reads_back_and_is_private_to_its_owner() {
        let dir = std::env::temp_dir().join(format!("midori-keyfile-{}", uuid::Uuid::now_v7()));
        let path = dir.join("k.jwk");
        let (key, created) = load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(key.to_bytes(), again.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(
            write_new(&path, &key).is_err(),
            "an existing key file is never overwritten"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_jwk_whose_public_part_does_not_match_is_refused() {
        let a = SigningKey::from_bytes(&[1; 32]);
        let b = SigningKey::from_bytes(&[2; 32]);
        let text = to_private_jwk(&a).replace(
            &b64url(a.verifying_key().as_bytes()),
            &b64url(b.verifying_key().as_bytes()),
        );
        assert!(matches!(
            parse_private(&text, "t"),
            Err(KeyFileError::Mismatch(_))
        ));
        assert_eq!(
            parse_private(&b64url(&[1; 32]), "t").unwrap().to_bytes(),
            a.to_bytes()
        );
    }
}
