//! The key log: every party key event — a first key, a rotation, a key recorded when the log
//! was introduced — as an entry on one public, append-only ledger with the same tree,
//! checkpoints and proofs as every other (DESIGN.md, "Party keys are public history").
//!
//! [`KeyLog`] is the state the log's entries build: which key each party had, from when until
//! when. The engine checks each new event against it before appending; `midori verify` rebuilds
//! it from an export and checks that every signer of a bond's or a trial's entries signed with
//! the key the log shows active for that party at that entry's time. An operator who slipped a
//! key into the database without the log (to sign as someone else) is caught there.
//!
//! Pure: no I/O, no clock.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::audit::{AuditFailure, verify_export};
use super::canon::{Jwk, b64url_decode, jwk_thumbprint, verify_jcs};
use super::entry::Entry;

/// The key log's ledger id (its origin is `<deployment>/keys`).
pub const KEY_LOG_ID: &str = "keys";
/// Entry type: a key registered (a party's first key, or one recorded when the log began).
pub const REGISTERED: &str = "key.registered";
/// Entry type: a rotation, signed by the previous key (the entry's request) and the new one.
pub const ROTATED: &str = "key.rotated";
/// Entry type: an operator asks to give a party that lost its key a new one (with a reason).
pub const RECOVERY_REQUESTED: &str = "key.recovery_requested";
/// Entry type: a regulator approves a recovery, signing it; the new key replaces the old.
pub const RECOVERED: &str = "key.recovered";

/// How a key came to be a party's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Given when the operator created the party.
    Creation,
    /// Registered later by a party that had none, with proof of possession.
    FirstKey,
    /// A rotation signed by the previous key and the new one.
    Rotation,
    /// A key that existed before the key log did, recorded when the log was introduced, with
    /// the times the database held for it. Loud: an auditor sees which keys rest on that.
    Backfill,
    /// Installed by an operator's recovery that a regulator approved (the party had lost its
    /// key). Loud: every entry signed with it is flagged by the audit.
    Recovery,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Creation => "creation",
            Via::FirstKey => "first_key",
            Via::Rotation => "rotation",
            Via::Backfill => "backfill",
            Via::Recovery => "recovery",
        }
    }

    fn parse(text: &str) -> Option<Via> {
        [
            Via::Creation,
            Via::FirstKey,
            Via::Rotation,
            Via::Backfill,
            Via::Recovery,
        ]
        .into_iter()
        .find(|v| v.as_str() == text)
    }
}

/// One key's life on the log.
#[derive(Clone, Debug)]
pub struct KeyLife {
    pub party: String,
    pub kid: String,
    pub key: VerifyingKey,
    /// Signs from this time on (the event's entry time; for a backfill, the recorded time).
    pub from: OffsetDateTime,
    /// Retired at this time (by a rotation), if it was.
    pub until: Option<OffsetDateTime>,
    pub via: Via,
    /// The key log entry that made it the party's key.
    pub index: u64,
}

/// A key event to record, as the service asks the engine for it.
#[derive(Clone, Debug)]
pub enum KeyEvent {
    /// A first key (at the party's creation, or later), or a key recorded when the log began.
    Registered {
        party: String,
        key: VerifyingKey,
        via: Via,
        /// For a backfill: the key's creation and retirement times as the database held them.
        times: Option<(String, Option<String>)>,
    },
    /// A rotation: the entry carries the signed request (by `previous`), and the new key's
    /// signature over the same payload.
    Rotated {
        party: String,
        previous: String,
        key: VerifyingKey,
        new_key_signature: String,
    },
    /// An operator's request to recover a party's signing (it lost its key): nothing changes
    /// until a regulator approves. `possession` is the new key's proof (as for a first key).
    RecoveryRequested {
        party: String,
        key: VerifyingKey,
        recovery_id: String,
        reason: String,
        requested_by: String,
        possession: String,
    },
    /// A regulator's approval of a pending recovery (the entry carries its signed request):
    /// the requested key becomes the party's, retiring the active one if any.
    Recovered {
        party: String,
        recovery_id: String,
        key: VerifyingKey,
        /// The key it retires, as the log stood when approved.
        previous: Option<String>,
    },
}

impl KeyEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            KeyEvent::Registered { .. } => REGISTERED,
            KeyEvent::Rotated { .. } => ROTATED,
            KeyEvent::RecoveryRequested { .. } => RECOVERY_REQUESTED,
            KeyEvent::Recovered { .. } => RECOVERED,
        }
    }

    pub fn party(&self) -> &str {
        match self {
            KeyEvent::Registered { party, .. }
            | KeyEvent::Rotated { party, .. }
            | KeyEvent::RecoveryRequested { party, .. }
            | KeyEvent::Recovered { party, .. } => party,
        }
    }

    pub fn key(&self) -> &VerifyingKey {
        match self {
            KeyEvent::Registered { key, .. }
            | KeyEvent::Rotated { key, .. }
            | KeyEvent::RecoveryRequested { key, .. }
            | KeyEvent::Recovered { key, .. } => key,
        }
    }

    /// The key this event retires, if any.
    pub fn retires(&self) -> Option<&str> {
        match self {
            KeyEvent::Rotated { previous, .. } => Some(previous),
            KeyEvent::Recovered { previous, .. } => previous.as_deref(),
            KeyEvent::Registered { .. } | KeyEvent::RecoveryRequested { .. } => None,
        }
    }

    /// Whether the event makes a key the party's (a request alone does not).
    pub fn installs(&self) -> bool {
        !matches!(self, KeyEvent::RecoveryRequested { .. })
    }

    /// The entry's `data`.
    pub fn data(&self) -> Value {
        let jwk = Jwk::from_key(self.key());
        match self {
            KeyEvent::Registered {
                party, via, times, ..
            } => {
                let mut data = json!({
                    "party_id": party, "kid": jwk_thumbprint(self.key()), "jwk": jwk,
                    "via": via.as_str(),
                });
                if let Some((created, retired)) = times {
                    data["created_at"] = json!(created);
                    if let Some(retired) = retired {
                        data["retired_at"] = json!(retired);
                    }
                }
                data
            }
            KeyEvent::Rotated {
                party,
                previous,
                new_key_signature,
                ..
            } => json!({
                "party_id": party, "kid": jwk_thumbprint(self.key()), "jwk": jwk,
                "via": Via::Rotation.as_str(), "previous_kid": previous,
                "new_key_signature": new_key_signature,
            }),
            KeyEvent::RecoveryRequested {
                party,
                recovery_id,
                reason,
                requested_by,
                possession,
                ..
            } => json!({
                "party_id": party, "kid": jwk_thumbprint(self.key()), "jwk": jwk,
                "via": Via::Recovery.as_str(), "recovery_id": recovery_id, "reason": reason,
                "requested_by": requested_by, "possession": possession,
            }),
            KeyEvent::Recovered {
                party,
                recovery_id,
                previous,
                ..
            } => {
                let mut data = json!({
                    "party_id": party, "kid": jwk_thumbprint(self.key()), "jwk": jwk,
                    "via": Via::Recovery.as_str(), "recovery_id": recovery_id,
                });
                if let Some(previous) = previous {
                    data["previous_kid"] = json!(previous);
                }
                data
            }
        }
    }
}

/// A recovery an operator asked for, waiting for a regulator.
#[derive(Clone, Debug)]
pub struct PendingRecovery {
    pub party: String,
    pub key: VerifyingKey,
    /// The key log entry of the request.
    pub index: u64,
}

/// Every key the log has recorded, each party's active one, and the recoveries waiting.
#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    keys: HashMap<String, KeyLife>,
    active: HashMap<String, String>,
    recoveries: HashMap<String, PendingRecovery>,
}

/// What a possession proof of a key for `party` signs (a first key, a recovery's new key).
pub fn possession_statement(party: &str) -> Value {
    json!({"type": "key.possession", "party_id": party})
}

fn time_of(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| format!("time {text:?} is not RFC 3339"))
}

impl KeyLog {
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    /// Whether `event` may be recorded now: a kid is registered once, ever; a first key only
    /// for a party without an active key; a rotation only from the party's active key.
    pub fn check(&self, event: &KeyEvent) -> Result<(), String> {
        let kid = jwk_thumbprint(event.key());
        if let KeyEvent::Recovered {
            recovery_id,
            party,
            key,
            previous,
        } = event
        {
            let pending = self
                .recoveries
                .get(recovery_id)
                .ok_or_else(|| format!("no recovery {recovery_id} is waiting for approval"))?;
            if pending.party != *party || pending.key != *key {
                return Err(format!(
                    "recovery {recovery_id} is for another party or key"
                ));
            }
            if self.active.get(party) != previous.as_ref() {
                return Err("the party's key changed since; ask again".into());
            }
            return Ok(());
        }
        if let KeyEvent::RecoveryRequested { recovery_id, .. } = event
            && self.recoveries.contains_key(recovery_id)
        {
            return Err(format!("recovery {recovery_id} exists already"));
        }
        if self.keys.contains_key(&kid)
            || self
                .recoveries
                .values()
                .any(|r| jwk_thumbprint(&r.key) == kid)
        {
            return Err(format!(
                "key {kid} is on the key log already: a key is registered once"
            ));
        }
        let active = self.active.get(event.party());
        match event {
            KeyEvent::Registered {
                via: Via::Backfill, ..
            } => Ok(()),
            KeyEvent::Registered { .. } => match active {
                Some(current) => Err(format!(
                    "the party has an active key ({current}): change it by a rotation signed with it"
                )),
                None => Ok(()),
            },
            KeyEvent::Rotated { previous, .. } => match active {
                Some(current) if current == previous => Ok(()),
                _ => Err(format!(
                    "key {previous} is no longer the party's active key on the key log"
                )),
            },
            KeyEvent::RecoveryRequested { .. } | KeyEvent::Recovered { .. } => Ok(()),
        }
    }

    /// The pending recovery `id`, if any.
    pub fn recovery(&self, id: &str) -> Option<&PendingRecovery> {
        self.recoveries.get(id)
    }

    /// Apply a recorded entry of the key log (its index, time and data), checking it as the
    /// engine did: offline, a rotation's two signatures are checked here too.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), String> {
        let at = |what: &str| format!("key log entry {}: {what}", entry.index);
        let index: u64 = entry.index.parse().map_err(|_| at("bad index"))?;
        let text = |field: &str| {
            entry
                .data
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| at(&format!("no {field}")))
        };
        let party = text("party_id")?;
        let jwk: Jwk = serde_json::from_value(entry.data.get("jwk").cloned().unwrap_or_default())
            .map_err(|_| at("no jwk"))?;
        let key = jwk_key(&jwk).ok_or_else(|| at("the jwk is not an Ed25519 public key"))?;
        let kid = jwk_thumbprint(&key);
        if text("kid")? != kid {
            return Err(at("kid is not the jwk's thumbprint"));
        }
        let via = Via::parse(&text("via")?).ok_or_else(|| at("unknown via"))?;
        let mut from = time_of(&entry.time).map_err(|e| at(&e))?;
        let mut until = None;
        let event = match entry.kind.as_str() {
            REGISTERED => {
                if via == Via::Backfill {
                    from = time_of(&text("created_at")?).map_err(|e| at(&e))?;
                    if let Some(retired) = entry.data.get("retired_at").and_then(Value::as_str) {
                        until = Some(time_of(retired).map_err(|e| at(&e))?);
                    }
                }
                KeyEvent::Registered {
                    party: party.clone(),
                    key,
                    via,
                    times: None,
                }
            }
            ROTATED => {
                let previous = text("previous_kid")?;
                let new_key_signature = text("new_key_signature")?;
                let (Some(actor), Some(request)) = (&entry.actor, &entry.request) else {
                    return Err(at("a rotation carries the signed request"));
                };
                // The request is the party's, signed by the previous key (the entry's actor
                // key, whose signature the ledger audit checks) and names the new key...
                let actor_key = jwk_key(&actor.jwk).ok_or_else(|| at("bad actor jwk"))?;
                if actor.party != party || jwk_thumbprint(&actor_key) != previous {
                    return Err(at("the rotation is not signed by the previous key"));
                }
                let named = request.payload.get("new_key").and_then(Value::as_str);
                let named = named
                    .and_then(|k| super::canon::parse_public_key(k).ok())
                    .map(|k| jwk_thumbprint(&k));
                if named.as_deref() != Some(kid.as_str()) {
                    return Err(at("the signed request names another new key"));
                }
                // ...and the new key signed the same bytes (proof of possession).
                verify_jcs(&request.payload, &new_key_signature, &key)
                    .map_err(|_| at("the new key's signature does not verify"))?;
                KeyEvent::Rotated {
                    party: party.clone(),
                    previous,
                    key,
                    new_key_signature,
                }
            }
            RECOVERY_REQUESTED => {
                let possession = text("possession")?;
                verify_jcs(&possession_statement(&party), &possession, &key)
                    .map_err(|_| at("the new key's possession proof does not verify"))?;
                KeyEvent::RecoveryRequested {
                    party: party.clone(),
                    key,
                    recovery_id: text("recovery_id")?,
                    reason: text("reason")?,
                    requested_by: text("requested_by")?,
                    possession,
                }
            }
            RECOVERED => {
                let recovery_id = text("recovery_id")?;
                // Approved by a regulator's signature over the recovery it names.
                let (Some(actor), Some(request)) = (&entry.actor, &entry.request) else {
                    return Err(at("an approval carries the regulator's signed request"));
                };
                if actor.role != "regulator"
                    || request.payload.get("recovery_id").and_then(Value::as_str)
                        != Some(recovery_id.as_str())
                {
                    return Err(at(
                        "the recovery is not approved by a regulator's signature",
                    ));
                }
                // With the regulator's own key of the moment, on this log.
                let approver = jwk_key(&actor.jwk).ok_or_else(|| at("bad actor jwk"))?;
                self.signing_key_at(&actor.party, &jwk_thumbprint(&approver), from)
                    .map_err(|why| at(&format!("the approver's key: {why}")))?;
                KeyEvent::Recovered {
                    party: party.clone(),
                    recovery_id,
                    key,
                    previous: entry
                        .data
                        .get("previous_kid")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                }
            }
            other => return Err(at(&format!("unknown entry type {other}"))),
        };
        self.check(&event).map_err(|e| at(&e))?;
        self.record(&event, index, from, until);
        Ok(())
    }

    /// Record an event the engine has just appended at `index`, time `at`.
    pub fn record_new(&mut self, event: &KeyEvent, index: u64, at: OffsetDateTime) {
        let (from, until) = match event {
            KeyEvent::Registered {
                times: Some((created, retired)),
                ..
            } => (
                time_of(created).unwrap_or(at),
                retired.as_deref().and_then(|r| time_of(r).ok()),
            ),
            _ => (at, None),
        };
        self.record(event, index, from, until);
    }

    fn record(
        &mut self,
        event: &KeyEvent,
        index: u64,
        from: OffsetDateTime,
        until: Option<OffsetDateTime>,
    ) {
        match event {
            KeyEvent::RecoveryRequested {
                party,
                key,
                recovery_id,
                ..
            } => {
                self.recoveries.insert(
                    recovery_id.clone(),
                    PendingRecovery {
                        party: party.clone(),
                        key: *key,
                        index,
                    },
                );
                return;
            }
            KeyEvent::Recovered { recovery_id, .. } => {
                self.recoveries.remove(recovery_id);
            }
            _ => {}
        }
        let kid = jwk_thumbprint(event.key());
        let party = event.party().to_owned();
        if let Some(previous) = event.retires()
            && let Some(life) = self.keys.get_mut(previous)
        {
            life.until = Some(from);
        }
        let via = match event {
            KeyEvent::Registered { via, .. } => *via,
            KeyEvent::Rotated { .. } => Via::Rotation,
            KeyEvent::RecoveryRequested { .. } | KeyEvent::Recovered { .. } => Via::Recovery,
        };
        if until.is_none() {
            self.active.insert(party.clone(), kid.clone());
        }
        self.keys.insert(
            kid.clone(),
            KeyLife {
                party,
                kid,
                key: *event.key(),
                from,
                until,
                via,
                index,
            },
        );
    }

    /// The party's active key, if it has one.
    pub fn active(&self, party: &str) -> Option<&KeyLife> {
        self.active.get(party).and_then(|kid| self.keys.get(kid))
    }

    /// The key `kid`, if the log has it.
    pub fn key(&self, kid: &str) -> Option<&KeyLife> {
        self.keys.get(kid)
    }

    /// The life of `kid` if it was `party`'s key at `time`; otherwise why not.
    pub fn signing_key_at(
        &self,
        party: &str,
        kid: &str,
        time: OffsetDateTime,
    ) -> Result<&KeyLife, String> {
        let life = self
            .keys
            .get(kid)
            .ok_or_else(|| format!("key {kid} is not on the key log"))?;
        if life.party != party {
            return Err(format!(
                "key {kid} belongs to party {} on the key log, not {party}",
                life.party
            ));
        }
        if time < life.from {
            return Err(format!(
                "key {kid} became the party's key only at {} (key log entry {})",
                life.from.format(&Rfc3339).unwrap_or_default(),
                life.index
            ));
        }
        if let Some(until) = life.until
            && time >= until
        {
            return Err(format!(
                "key {kid} was retired at {}",
                until.format(&Rfc3339).unwrap_or_default()
            ));
        }
        Ok(life)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The Ed25519 key of an OKP JWK.
fn jwk_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
        return None;
    }
    let bytes: [u8; 32] = b64url_decode(&jwk.x).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// What [`verify_signers`] found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SignerReport {
    /// Entries of the key log, all verified.
    pub log_entries: u64,
    /// Signed entries of the ledger, each signed with its party's key of the moment.
    pub checked: u64,
    /// Of those, how many were signed with keys the log recorded as a backfill.
    pub backfilled: u64,
    /// Entries signed with keys installed by a recovery: (entry index, key log entry of the
    /// approval). Flagged, every one: the party did not hold these keys from the start.
    pub recovered: Vec<(u64, u64)>,
}

/// The auditor's check of who signed: verify the key log itself (`log_lines` against
/// `log_checkpoint`, like any ledger), rebuild it, then check that every signed entry of
/// `lines` (a bond's or a trial's export) was signed with the key the log shows as its party's
/// at that entry's time. The first entry that fails is named.
pub fn verify_signers(
    lines: &[&[u8]],
    log_lines: &[&[u8]],
    log_checkpoint: &str,
    service_keys: &[Jwk],
) -> Result<SignerReport, AuditFailure> {
    let mut check = SignerCheck::open(log_lines.iter().copied(), log_checkpoint, service_keys)?;
    for (n, line) in lines.iter().enumerate() {
        let (entry, _) = Entry::from_leaf(line).map_err(|e| AuditFailure {
            index: Some(n as u64),
            reason: e.to_string(),
        })?;
        check.check(&entry)?;
    }
    Ok(check.report)
}

/// [`verify_signers`] one entry at a time: the key log verified and rebuilt once, then each
/// entry of the audited ledger checked as it streams past.
pub struct SignerCheck {
    log: KeyLog,
    pub report: SignerReport,
}

impl SignerCheck {
    /// Verify the key log's export against its checkpoint and rebuild it.
    pub fn open<'a>(
        log_lines: impl IntoIterator<Item = &'a [u8]> + Clone,
        log_checkpoint: &str,
        service_keys: &[Jwk],
    ) -> Result<SignerCheck, AuditFailure> {
        let failure = |index: Option<u64>, reason: String| AuditFailure { index, reason };
        verify_export(log_lines.clone(), log_checkpoint, service_keys)
            .map_err(|f| failure(f.index, format!("key log: {}", f.reason)))?;
        let mut log = KeyLog::new();
        let mut entries = 0u64;
        for (n, line) in log_lines.into_iter().enumerate() {
            let (entry, _) = Entry::from_leaf(line)
                .map_err(|e| failure(Some(n as u64), format!("key log: {e}")))?;
            log.apply(&entry)
                .map_err(|reason| failure(Some(n as u64), format!("key log: {reason}")))?;
            entries += 1;
        }
        Ok(SignerCheck {
            log,
            report: SignerReport {
                log_entries: entries,
                checked: 0,
                backfilled: 0,
                recovered: Vec::new(),
            },
        })
    }

    /// Check that `entry`, if signed, was signed with its party's key of the moment.
    pub fn check(&mut self, entry: &Entry) -> Result<(), AuditFailure> {
        let Some(actor) = &entry.actor else {
            return Ok(());
        };
        let index = entry.index.parse().ok();
        let signer = |reason: String| AuditFailure {
            index,
            reason: format!("signer: {reason}"),
        };
        let key =
            jwk_key(&actor.jwk).ok_or_else(|| signer("the actor's key is not Ed25519".into()))?;
        let kid = jwk_thumbprint(&key);
        let time = time_of(&entry.time).map_err(&signer)?;
        let life = self
            .log
            .signing_key_at(&actor.party, &kid, time)
            .map_err(|why| {
                signer(format!(
                    "signed by party {} with key {kid}, which the key log does not show as its key \
                 then: {why}",
                    actor.party
                ))
            })?;
        self.report.checked += 1;
        match life.via {
            Via::Backfill => self.report.backfilled += 1,
            Via::Recovery => self
                .report
                .recovered
                .push((entry.index.parse().unwrap_or(0), life.index)),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    fn key(n: u8) -> VerifyingKey {
        SigningKey::from_bytes(&[n; 32]).verifying_key()
    }

    fn registered(party: &str, n: u8) -> KeyEvent {
        KeyEvent::Registered {
            party: party.into(),
            key: key(n),
            via: Via::Creation,
            times: None,
        }
    }

    #[test]
    fn a_key_signs_from_its_event_until_the_rotation_that_retires_it() {
        let t0 = datetime!(2026-04-01 09:00 UTC);
        let t1 = t0 + Duration::hours(1);
        let mut log = KeyLog::new();
        log.record_new(&registered("a", 1), 0, t0);
        let rotation = KeyEvent::Rotated {
            party: "a".into(),
            previous: jwk_thumbprint(&key(1)),
            key: key(2),
            new_key_signature: String::new(),
        };
        log.check(&rotation).unwrap();
        log.record_new(&rotation, 1, t1);
        let (old, new) = (jwk_thumbprint(&key(1)), jwk_thumbprint(&key(2)));
        let us = Duration::microseconds(1);
        // Just inside and just outside each bound.
        assert!(log.signing_key_at("a", &old, t0 - us).is_err());
        assert!(log.signing_key_at("a", &old, t0).is_ok());
        assert!(log.signing_key_at("a", &old, t1 - us).is_ok());
        assert!(log.signing_key_at("a", &old, t1).is_err());
        assert!(log.signing_key_at("a", &new, t1 - us).is_err());
        assert!(log.signing_key_at("a", &new, t1).is_ok());
        // Another party's key, or one the log never saw.
        assert!(log.signing_key_at("b", &new, t1).is_err());
        assert!(
            log.signing_key_at("a", &jwk_thumbprint(&key(3)), t1)
                .unwrap_err()
                .contains("not on the key log")
        );
        assert_eq!(log.active("a").unwrap().kid, new);
    }

    #[test]
    fn the_log_refuses_a_second_first_key_a_stale_rotation_and_a_reused_key() {
        let t0 = datetime!(2026-04-01 09:00 UTC);
        let mut log = KeyLog::new();
        log.record_new(&registered("a", 1), 0, t0);
        assert!(
            log.check(&registered("a", 2)).is_err(),
            "a second first key"
        );
        assert!(
            log.check(&registered("b", 1)).is_err(),
            "a key used by another party"
        );
        assert!(log.check(&registered("b", 2)).is_ok());
        let stale = KeyEvent::Rotated {
            party: "a".into(),
            previous: jwk_thumbprint(&key(9)),
            key: key(3),
            new_key_signature: String::new(),
        };
        assert!(
            log.check(&stale).is_err(),
            "a rotation from a key that is not active"
        );
        // A backfill records what the database held, even beside an active key.
        let backfill = KeyEvent::Registered {
            party: "a".into(),
            key: key(4),
            via: Via::Backfill,
            times: Some((
                "2025-01-01T00:00:00.000000Z".into(),
                Some("2025-06-01T00:00:00.000000Z".into()),
            )),
        };
        assert!(log.check(&backfill).is_ok());
        log.record_new(&backfill, 1, t0);
        let kid = jwk_thumbprint(&key(4));
        assert!(
            log.signing_key_at("a", &kid, datetime!(2025-03-01 00:00 UTC))
                .is_ok()
        );
        assert!(
            log.signing_key_at("a", &kid, datetime!(2025-06-01 00:00 UTC))
                .is_err()
        );
        // The retired backfilled key did not replace the active one.
        assert_eq!(log.active("a").unwrap().kid, jwk_thumbprint(&key(1)));
    }
}
