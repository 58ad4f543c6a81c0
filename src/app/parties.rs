//! Parties, their signing keys and their API keys.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::Verified;
use super::engine::{Action, Append};
use super::{App, AppError, AppResult, Caller};
use crate::domain::error::FieldError;
use crate::domain::party::{PartyAttributes, Role};
use crate::ledger::canon::{Jwk, b64url, jwk_thumbprint, parse_public_key, verify_jcs};
use crate::ledger::keylog::{KEY_LOG_ID, KeyEvent, Via};
use crate::store::{NewApiKey, NewParty, StoreError};

/// Prefix of every bearer token, so that leaked tokens are easy to recognise and scan for.
pub const API_KEY_PREFIX: &str = "mdr_";
/// Random bytes in a bearer token (256 bits: a fast hash is then enough to store it).
pub const API_KEY_BYTES: usize = 32;
/// Parties per page at most.
pub const PARTIES_PAGE_MAX: u32 = 200;

/// A request to create a party.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateParty {
    pub role: Role,
    pub attributes: PartyAttributes,
    /// The party's first Ed25519 public key: a JWK object as a string, or base64url of the
    /// 32 raw bytes. Optional for roles that never sign (a regulator reading only).
    #[serde(default)]
    pub public_key: Option<String>,
}

/// A created party, with its bearer API key: shown once, stored only as a hash.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedParty {
    pub party: PartyView,
    pub api_key: String,
    pub api_key_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PartyView {
    pub id: String,
    pub role: Role,
    pub name: String,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub keys: Vec<KeyView>,
    pub created_at: String,
}

/// A public key of a party or of the service.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyView {
    pub kid: String,
    #[schema(value_type = Object)]
    pub jwk: Jwk,
    /// The key that signs new requests; retired keys still verify old signatures.
    pub active: bool,
    pub created_at: String,
    pub retired_at: Option<String>,
}

/// A party's first signing key, for a party created without one: registered by the party
/// itself or an operator, with proof that the key's holder asked for it.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddKey {
    /// JWK object as a string, or base64url of the 32 raw bytes.
    pub public_key: String,
    /// Proof of possession: the new key's Ed25519 signature (base64url) over the RFC 8785
    /// bytes of `{"type":"key.possession","party_id":"<this party>"}`.
    pub possession: String,
}

/// A key rotation: `payload` (`type` `key.rotate`, the current `kid`, a `nonce`, `party_id` and
/// `new_key`) signed by the party's current key (`signature`) and by the new key
/// (`new_key_signature`), both over the same RFC 8785 bytes. A bearer API key alone can never
/// change what a party signs with.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The current key's signature, base64url.
    pub signature: String,
    /// The new key's signature over the same bytes (proof of possession), base64url.
    pub new_key_signature: String,
}

pub use crate::ledger::keylog::possession_statement;

/// Longest reason an operator gives for a key recovery.
pub const RECOVERY_REASON_CHARS_MAX: usize = 1_000;

/// An operator's request to give a party that lost its key a new one: recorded on the key log
/// at once (loud, with the reason), effective only when a regulator approves it.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestRecovery {
    /// The new public key: a JWK object as a string, or base64url of the 32 raw bytes.
    pub public_key: String,
    /// The new key's signature over `{"type":"key.possession","party_id":"<party>"}`.
    pub possession: String,
    /// Why (the party's report of the loss, the ticket, the identity checks made): 1 to 1,000
    /// characters, public on the key log.
    pub reason: String,
}

/// A recovery waiting for a regulator.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct RecoveryRequested {
    pub recovery_id: String,
    pub party_id: String,
    pub kid: String,
    /// The key log entry that records the request.
    pub entry_index: String,
}

/// The new key's proof of possession for `party` (a first key, a recovery's key).
fn check_possession(
    party: &str,
    key: &ed25519_dalek::VerifyingKey,
    proof: &str,
) -> Result<(), FieldError> {
    verify_jcs(&possession_statement(party), proof, key).map_err(|_| FieldError {
        pointer: "/possession".into(),
        code: "possession_invalid".into(),
        detail: "sign the RFC 8785 bytes of {\"type\":\"key.possession\",\"party_id\":\"<party id>\"} with the new key".into(),
    })
}

/// Roles whose actions are signed ledger operations, and so need a key from the start.
fn signs(role: Role) -> bool {
    matches!(role, Role::Issuer | Role::Investor | Role::Verifier)
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    pub api_key: String,
    pub api_key_id: String,
}

fn new_api_key() -> AppResult<(String, NewApiKey)> {
    let mut secret = [0u8; API_KEY_BYTES];
    getrandom::fill(&mut secret).map_err(|e| AppError::Internal(format!("randomness: {e}")))?;
    let token = format!("{API_KEY_PREFIX}{}", b64url(&secret));
    let key = NewApiKey {
        id: uuid::Uuid::now_v7().to_string(),
        token_hash: hash_token(&token),
    };
    Ok((token, key))
}

fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The Ed25519 key of a stored key row.
pub(super) fn stored_key(row: &crate::store::KeyRow) -> AppResult<ed25519_dalek::VerifyingKey> {
    let bytes: [u8; 32] = row
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| AppError::Internal("stored key is not 32 bytes".into()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes)
        .map_err(|_| AppError::Internal("stored key is not a valid point".into()))
}

fn key_view(row: &crate::store::KeyRow) -> AppResult<KeyView> {
    let key = stored_key(row)?;
    Ok(KeyView {
        kid: row.kid.clone(),
        jwk: Jwk::from_key(&key),
        active: row.active,
        created_at: row.created_at.clone(),
        retired_at: row.retired_at.clone(),
    })
}

pub(super) fn parse_key_field(
    text: &str,
    pointer: &str,
) -> Result<ed25519_dalek::VerifyingKey, Vec<FieldError>> {
    parse_public_key(text).map_err(|e| {
        vec![FieldError {
            pointer: pointer.into(),
            code: "invalid_public_key".into(),
            detail: format!("not an Ed25519 public key as a JWK or base64url: {e}"),
        }]
    })
}

impl App {
    /// Create a party with its first API key (and signing key). Used by the admin CLI (no
    /// caller) and by operators over the API.
    pub async fn create_party(
        &self,
        caller: Option<&Caller>,
        request: CreateParty,
    ) -> AppResult<CreatedParty> {
        if let Some(caller) = caller {
            require_role(
                caller,
                &[Role::Operator],
                "only an operator creates parties",
            )?;
        }
        let (valid, mut errors) = match request.attributes.validate(request.role) {
            Ok(valid) => (Some(valid), Vec::new()),
            Err(errors) => (
                None,
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        pointer: format!("/attributes{}", e.pointer),
                        ..e
                    })
                    .collect(),
            ),
        };
        let key = match request
            .public_key
            .as_deref()
            .map(|k| parse_key_field(k, "/public_key"))
        {
            None => None,
            Some(Ok(key)) => Some(key),
            Some(Err(mut e)) => {
                errors.append(&mut e);
                None
            }
        };
        if key.is_none() && signs(request.role) && errors.is_empty() {
            errors.push(FieldError {
                pointer: "/public_key".into(),
                code: "public_key_required".into(),
                detail: format!(
                    "a party with role {} signs ledger operations and needs a public key",
                    request.role.as_str()
                ),
            });
        }
        let Some(valid) = valid.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let now = self.now();
        let (token, api_key) = new_api_key()?;
        let api_key_id = api_key.id.clone();
        // Store the normalized attributes, not the raw input.
        let attributes = serde_json::to_value(valid.to_attributes())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let party = NewParty {
            id: uuid::Uuid::now_v7().to_string(),
            role: request.role.as_str().to_owned(),
            name: valid.name().as_str().to_owned(),
            attributes: attributes.to_string(),
            // The key goes on the key log, and from there into the party's key rows.
            key: None,
            api_key,
            created_at: now,
        };
        self.store.insert_party(&party).await?;
        if let Some(key) = key {
            self.engine()
                .record_key(KeyEvent::Registered {
                    party: party.id.clone(),
                    key,
                    via: Via::Creation,
                    times: None,
                })
                .await?;
        }
        let view = self.party_view(&party.id).await?;
        Ok(CreatedParty {
            party: view,
            api_key: token,
            api_key_id,
        })
    }

    /// Resolve a bearer token to its party.
    pub async fn authenticate(&self, token: &str) -> AppResult<Caller> {
        if !token.starts_with(API_KEY_PREFIX) {
            return Err(AppError::Unauthenticated);
        }
        let hash = hash_token(token);
        if let Some(caller) = self.callers.get(&hash) {
            return Ok(caller);
        }
        let row = self
            .store
            .caller_by_token_hash(&hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let role = Role::parse(&row.role)
            .map_err(|_| AppError::Internal(format!("stored role {:?}", row.role)))?;
        let caller = Caller {
            party_id: row.party_id,
            role,
        };
        self.callers.put(hash, caller.clone());
        Ok(caller)
    }

    async fn party_view(&self, id: &str) -> AppResult<PartyView> {
        check_id(id, "party")?;
        let row = self
            .store
            .party(id)
            .await
            .map_err(|e| not_found(e, "party"))?;
        let keys = self.store.party_keys(id).await?;
        Ok(PartyView {
            id: row.id,
            role: Role::parse(&row.role)
                .map_err(|_| AppError::Internal(format!("stored role {:?}", row.role)))?,
            name: row.name,
            attributes: serde_json::from_str(&row.attributes)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            keys: keys.iter().map(key_view).collect::<AppResult<_>>()?,
            created_at: row.created_at,
        })
    }

    /// A party's full record: to itself, the operator and the regulator.
    pub async fn party(&self, caller: &Caller, id: &str) -> AppResult<PartyView> {
        if caller.party_id != id {
            require_role(
                caller,
                &[Role::Operator, Role::Regulator],
                "a party's record is visible to itself, operators and regulators",
            )?;
        }
        self.party_view(id).await
    }

    pub async fn parties(
        &self,
        caller: &Caller,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> AppResult<Vec<PartyView>> {
        require_role(
            caller,
            &[Role::Operator, Role::Regulator],
            "only operators and regulators list parties",
        )?;
        let after = page_cursor(after)?;
        let limit = page_limit(limit, PARTIES_PAGE_MAX, PARTIES_PAGE_MAX)?;
        let rows = self.store.parties(after, limit).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.party_view(&row.id).await?);
        }
        Ok(out)
    }

    /// A party's public keys, current and retired: public, so anyone can check old signatures.
    pub async fn party_keys(&self, id: &str) -> AppResult<Vec<KeyView>> {
        self.existing_party(id).await?;
        self.store
            .party_keys(id)
            .await?
            .iter()
            .map(key_view)
            .collect()
    }

    /// Register the first signing key of a party that has none (the party itself or an
    /// operator), with the key's proof of possession. A party that has a key changes it only by
    /// a rotation signed with that key ([`App::rotate_party_key`]).
    pub async fn add_party_key(
        &self,
        caller: &Caller,
        party_id: &str,
        request: AddKey,
    ) -> AppResult<KeyView> {
        if caller.party_id != party_id {
            require_role(
                caller,
                &[Role::Operator],
                "a party registers its own first key, or an operator does",
            )?;
        }
        self.existing_party(party_id).await?;
        let key =
            parse_key_field(&request.public_key, "/public_key").map_err(AppError::Validation)?;
        check_possession(party_id, &key, &request.possession)
            .map_err(|e| AppError::Validation(vec![e]))?;
        let kid = jwk_thumbprint(&key);
        self.keys.clear();
        self.engine()
            .record_key(KeyEvent::Registered {
                party: party_id.to_owned(),
                key,
                via: Via::FirstKey,
                times: None,
            })
            .await
            .map_err(|e| match e {
                AppError::Conflict(why) => {
                    AppError::Conflict(format!("{why} (POST /v1/parties/{{id}}/keys/rotate)"))
                }
                other => other,
            })?;
        self.installed_key(&kid).await
    }

    /// Refuse an id that names no party.
    async fn existing_party(&self, id: &str) -> AppResult<()> {
        check_id(id, "party")?;
        self.store
            .party(id)
            .await
            .map(|_| ())
            .map_err(|e| not_found(e, "party"))
    }

    /// A key a key log entry has just installed, as the party's key rows show it (the decoded
    /// key cache is emptied first: the party's active key has changed).
    async fn installed_key(&self, kid: &str) -> AppResult<KeyView> {
        self.keys.clear();
        key_view(&self.store.party_key(kid).await?)
    }

    /// Rotate a party's signing key: the request is signed by the current key and by the new
    /// one; the current key is retired (its signatures stay verifiable) and the new one signs
    /// from then on. Only the party itself rotates. A captured rotation cannot be replayed: it
    /// retires the key that signed it, and a kid is never registered twice.
    pub async fn rotate_party_key(
        &self,
        caller: &Caller,
        party_id: &str,
        request: RotateKey,
    ) -> AppResult<KeyView> {
        if caller.party_id != party_id {
            return Err(AppError::Forbidden(
                "only the party itself rotates its key, signing with the current one".into(),
            ));
        }
        let RotateKey {
            payload,
            signature,
            new_key_signature,
        } = request;
        let verified = self
            .verify_signed(
                caller,
                crate::ledger::entry::SignedRequest { payload, signature },
                "key.rotate",
            )
            .await?;
        let payload = &verified.request.payload;
        if payload.get("party_id").and_then(serde_json::Value::as_str) != Some(party_id) {
            return Err(AppError::Validation(vec![FieldError {
                pointer: "/payload/party_id".into(),
                code: "party_mismatch".into(),
                detail: "the signed party_id differs from the party in the URL".into(),
            }]));
        }
        let new_key = payload
            .get("new_key")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                AppError::Validation(vec![FieldError {
                    pointer: "/payload/new_key".into(),
                    code: "new_key_missing".into(),
                    detail: "name the new public key (a JWK as a string, or base64url)".into(),
                }])
            })?;
        let new_key = parse_key_field(new_key, "/payload/new_key").map_err(AppError::Validation)?;
        verify_jcs(payload, &new_key_signature, &new_key).map_err(|_| {
            AppError::Signature(
                "new_key_signature does not verify: the new key signs the same RFC 8785 bytes \
                 as the current one (proof of possession)"
                    .into(),
            )
        })?;
        let current = payload
            .get("kid")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let kid = jwk_thumbprint(&new_key);
        if kid == current {
            return Err(AppError::Validation(vec![FieldError {
                pointer: "/payload/new_key".into(),
                code: "same_key".into(),
                detail: "the new key is the current key".into(),
            }]));
        }
        self.append_key_event(
            verified,
            KeyEvent::Rotated {
                party: party_id.to_owned(),
                previous: current,
                key: new_key,
                new_key_signature,
            },
        )
        .await
        .map_err(|e| match e {
            AppError::Conflict(_) => AppError::Conflict(
                "that key was registered before, or the signing key is no longer the party's \
                 active key: a key is used once"
                    .into(),
            ),
            other => other,
        })
    }

    /// Append a key event carried by a party's signed request to the key log, and answer with
    /// the key it installs as the party's key rows now show it.
    async fn append_key_event(&self, verified: Verified, event: KeyEvent) -> AppResult<KeyView> {
        let kid = jwk_thumbprint(event.key());
        let Verified {
            actor,
            request,
            nonce,
        } = verified;
        self.keys.clear();
        self.engine()
            .append(
                KEY_LOG_ID.to_owned(),
                Append {
                    actor,
                    request,
                    nonce,
                    operation_id: None,
                    action: Action::Key(event),
                },
            )
            .await?;
        self.installed_key(&kid).await
    }

    /// An operator asks to recover a party's signing with a new key (the party lost its own).
    /// Recorded on the key log now; the key signs nothing until a regulator approves.
    pub async fn request_key_recovery(
        &self,
        caller: &Caller,
        party_id: &str,
        request: RequestRecovery,
    ) -> AppResult<RecoveryRequested> {
        require_role(
            caller,
            &[Role::Operator],
            "only an operator asks for a key recovery",
        )?;
        self.existing_party(party_id).await?;
        let mut errors = Vec::new();
        let reason = request.reason.trim();
        if reason.is_empty() || reason.chars().count() > RECOVERY_REASON_CHARS_MAX {
            errors.push(FieldError {
                pointer: "/reason".into(),
                code: "reason_required".into(),
                detail: format!(
                    "say why, in 1 to {RECOVERY_REASON_CHARS_MAX} characters: it is public on the key log"
                ),
            });
        }
        let key = match parse_key_field(&request.public_key, "/public_key") {
            Ok(key) => Some(key),
            Err(mut e) => {
                errors.append(&mut e);
                None
            }
        };
        if let Some(key) = key
            && let Err(e) = check_possession(party_id, &key, &request.possession)
        {
            errors.push(e);
        }
        let Some(key) = key.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let recovery_id = uuid::Uuid::now_v7().to_string();
        let accepted = self
            .engine()
            .record_key(KeyEvent::RecoveryRequested {
                party: party_id.to_owned(),
                key,
                recovery_id: recovery_id.clone(),
                reason: reason.to_owned(),
                requested_by: caller.party_id.clone(),
                possession: request.possession,
            })
            .await?;
        Ok(RecoveryRequested {
            recovery_id,
            party_id: party_id.to_owned(),
            kid: jwk_thumbprint(&key),
            entry_index: accepted.receipt.entry_index,
        })
    }

    /// A regulator approves a pending recovery with a signed `key.recovery_approve` naming the
    /// recovery, the party and the new key: the key becomes the party's, retiring its old one.
    pub async fn approve_key_recovery(
        &self,
        caller: &Caller,
        recovery_id: &str,
        request: crate::ledger::entry::SignedRequest,
    ) -> AppResult<KeyView> {
        require_role(
            caller,
            &[Role::Regulator],
            "only a regulator approves a key recovery",
        )?;
        check_id(recovery_id, "recovery")?;
        let verified = self
            .verify_signed(caller, request, "key.recovery_approve")
            .await?;
        let payload = &verified.request.payload;
        let text = |field: &str| {
            payload
                .get(field)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    AppError::Validation(vec![FieldError {
                        pointer: format!("/payload/{field}"),
                        code: "field_missing".into(),
                        detail: format!("the approval names the recovery's {field}"),
                    }])
                })
        };
        if text("recovery_id")? != recovery_id {
            return Err(AppError::Validation(vec![FieldError {
                pointer: "/payload/recovery_id".into(),
                code: "recovery_mismatch".into(),
                detail: "the signed recovery_id differs from the recovery in the URL".into(),
            }]));
        }
        let party = text("party_id")?;
        check_id(&party, "party")?;
        let key =
            parse_key_field(&text("new_key")?, "/payload/new_key").map_err(AppError::Validation)?;
        let previous = self
            .store
            .party_keys(&party)
            .await?
            .into_iter()
            .find(|k| k.active)
            .map(|k| k.kid);
        self.append_key_event(
            verified,
            KeyEvent::Recovered {
                party,
                recovery_id: recovery_id.to_owned(),
                key,
                previous,
            },
        )
        .await
    }

    pub async fn create_api_key(
        &self,
        caller: Option<&Caller>,
        party_id: &str,
    ) -> AppResult<CreatedApiKey> {
        if let Some(caller) = caller {
            require_role(
                caller,
                &[Role::Operator],
                "only an operator issues API keys",
            )?;
        }
        check_id(party_id, "party")?;
        let (token, key) = new_api_key()?;
        self.store
            .insert_api_key(&key, party_id, &self.now())
            .await
            .map_err(|e| not_found(e, "party"))?;
        Ok(CreatedApiKey {
            api_key: token,
            api_key_id: key.id,
        })
    }

    pub async fn revoke_api_key(&self, caller: Option<&Caller>, key_id: &str) -> AppResult<()> {
        check_id(key_id, "API key")?;
        // Revocation takes effect at once in this process.
        self.callers.clear();
        if let Some(caller) = caller {
            require_role(
                caller,
                &[Role::Operator],
                "only an operator revokes API keys",
            )?;
        }
        self.store
            .revoke_api_key(key_id, &self.now())
            .await
            .map_err(|e| not_found(e, "API key"))
    }

    /// The service's keys, active and retired, as JWKs.
    pub async fn service_keys(&self) -> AppResult<Vec<KeyView>> {
        self.store
            .service_keys()
            .await?
            .iter()
            .map(key_view)
            .collect()
    }
}

/// Refuse unless the caller holds one of `roles`.
pub fn require_role(caller: &Caller, roles: &[Role], why: &str) -> AppResult<()> {
    if roles.contains(&caller.role) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "{why}; this API key belongs to a {}",
            caller.role.as_str()
        )))
    }
}

/// A page size as asked for: `default` when absent, refused (not clamped) outside 1..=`max`,
/// so that what the OpenAPI document declares is what the service does.
pub(super) fn page_limit(limit: Option<u32>, default: u32, max: u32) -> AppResult<u32> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(AppError::BadRequest(format!(
            "`limit` is a page size from 1 to {max}, got {n}"
        ))),
    }
}

/// A list cursor: absent, or an id (a UUID), the `next` of the previous page; anything else
/// (an empty string included) is a bad request on every list.
pub(super) fn page_cursor(after: Option<&str>) -> AppResult<Option<&str>> {
    match after {
        Some(a) if uuid::Uuid::try_parse(a).is_err() => Err(AppError::BadRequest(format!(
            "`after` must be an id (a UUID): the `next` of the previous page, got {a:?}"
        ))),
        other => Ok(other),
    }
}

/// Ids are UUIDs; anything else names nothing (and never reaches the database, where e.g. a
/// NUL byte would be refused by PostgreSQL).
pub(super) fn check_id(id: &str, what: &str) -> AppResult<()> {
    if uuid::Uuid::try_parse(id).is_ok() {
        Ok(())
    } else {
        Err(AppError::NotFound(what.into()))
    }
}

pub(super) fn not_found(err: StoreError, what: &str) -> AppError {
    match err {
        StoreError::NotFound => AppError::NotFound(what.into()),
        other => other.into(),
    }
}
