//! Regulatory sandbox trials: a regulator creates a trial under a rulebook; participants sign
//! transactions; each is judged by the rulebook and recorded — accepted or refused — on the
//! trial's own ledger with its verdict. Regulators replay a trial (confirm, or what-if under
//! another rulebook) and audit every ledger.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::engine::{Accepted, Action, Append};
use super::parties::{not_found, require_role};
use super::{App, AppError, AppResult, Caller};
use crate::domain::error::FieldError;
use crate::domain::party::Role;
use crate::ledger::entry::SignedRequest;
use crate::sandbox::ledger::{ExportReplay, TRIAL_CREATED, replay_export};
use crate::sandbox::{Rulebook, TxBody};
use crate::store::{NewTrial, TrialRow};

/// Longest rulebook accepted in a request, in bytes.
/// Longest rulebook accepted in a request, in bytes: well inside the default request body limit
/// (the request also carries the envelope, and JSON escapes the text).
pub const RULEBOOK_BYTES_MAX: usize = 128 * 1024;

/// What a regulator signs to create a trial.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialSpec {
    pub title: String,
    /// The rulebook, as the TOML text of a file under `sandbox/`; pinned by its SHA-256.
    pub rulebook: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTrialPayload {
    /// Always `trial.create`.
    #[serde(rename = "type")]
    pub kind: String,
    pub kid: String,
    pub nonce: String,
    pub trial: TrialSpec,
}

/// What a participant (or the regulator) signs to submit a trial transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrialTxPayload {
    /// Always `sandbox.tx`.
    #[serde(rename = "type")]
    pub kind: String,
    pub kid: String,
    pub nonce: String,
    pub trial_id: String,
    /// Client-chosen, unique in the trial: the idempotency key, and what issuer consents name.
    pub tx_id: String,
    /// The transaction (docs/sandbox.md): `{"type": "transfer", "to": …, "amount": "…"}`, …
    #[schema(value_type = Object)]
    pub body: Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RulebookView {
    pub id: String,
    pub version: u32,
    pub sha256: String,
}

/// A trial as registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrialView {
    pub id: String,
    pub title: String,
    pub regulator: String,
    pub rulebook: RulebookView,
    /// The origin line of the trial ledger's checkpoints.
    pub ledger: String,
    pub ledger_size: String,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrialCreated {
    pub trial: TrialView,
    pub entry_index: String,
    pub checkpoint: String,
}

fn invalid(pointer: &str, code: &str, detail: impl Into<String>) -> AppError {
    AppError::Validation(vec![FieldError {
        pointer: pointer.into(),
        code: code.into(),
        detail: detail.into(),
    }])
}

pub(super) fn parse_rulebook(text: &str, pointer: &str) -> AppResult<Rulebook> {
    if text.len() > RULEBOOK_BYTES_MAX {
        return Err(invalid(
            pointer,
            "rulebook_too_large",
            format!("a rulebook is at most {RULEBOOK_BYTES_MAX} bytes"),
        ));
    }
    Rulebook::parse(text.as_bytes())
        .map_err(|e| invalid(pointer, "rulebook_invalid", e.to_string()))
}

fn trial_view(row: &TrialRow, origin: &str) -> TrialView {
    TrialView {
        id: row.id.clone(),
        title: row.title.clone(),
        regulator: row.regulator_id.clone(),
        rulebook: RulebookView {
            id: row.rulebook_id.clone(),
            version: row.rulebook_version,
            sha256: row.rulebook_sha256.clone(),
        },
        ledger: format!("{origin}/trials/{}", row.id),
        ledger_size: row.ledger_size.to_string(),
        created_at: row.created_at.clone(),
    }
}

pub(super) fn regulator_only(caller: &Caller) -> AppResult<()> {
    require_role(
        caller,
        &[Role::Regulator],
        "sandbox trials are run and audited by regulators",
    )
}

impl App {
    /// A regulator creates a trial: its ledger's entry 0 records the whole rulebook.
    pub async fn create_trial(
        &self,
        caller: &Caller,
        request: SignedRequest,
    ) -> AppResult<TrialCreated> {
        regulator_only(caller)?;
        let verified = self.verify_signed(caller, request, "trial.create").await?;
        let payload: CreateTrialPayload = serde_json::from_value(verified.request.payload.clone())
            .map_err(|e| invalid("/payload", "payload_invalid", e.to_string()))?;
        let title = crate::domain::text::parse_text(&payload.trial.title, "title", 200)
            .map_err(|e| invalid("/payload/trial/title", "invalid_text", e.to_string()))?;
        let rulebook = parse_rulebook(&payload.trial.rulebook, "/payload/trial/rulebook")?;
        let id = uuid::Uuid::now_v7().to_string();
        let ledger_id = uuid::Uuid::now_v7().to_string();
        let origin = format!("{}/trials/{id}", self.origin());
        let now = self.now();
        let trial = NewTrial {
            id: id.clone(),
            ledger_id: ledger_id.clone(),
            title: title.clone(),
            regulator_id: caller.party_id.clone(),
            rulebook_id: rulebook.id().to_owned(),
            rulebook_version: rulebook.version(),
            rulebook_sha256: rulebook.sha256().to_owned(),
            rulebook: payload.trial.rulebook.clone(),
            created_at: now.clone(),
        };
        let data = json!({
            "trial_id": id,
            "title": title,
            "rulebook": {
                "id": rulebook.id(),
                "version": rulebook.version(),
                "sha256": rulebook.sha256(),
                "currency": rulebook.currency().as_str(),
            },
        });
        let append = Append {
            actor: verified.actor,
            request: verified.request,
            nonce: verified.nonce,
            operation_id: None,
            action: Action::Plain {
                kind: TRIAL_CREATED.into(),
                data,
                parties: vec![],
                once: None,
            },
        };
        let accepted = self
            .engine()
            .create_trial(ledger_id, origin, trial, Arc::new(rulebook), append)
            .await?;
        let row = self.store.trial(&id).await?;
        Ok(TrialCreated {
            trial: trial_view(&row, self.origin()),
            entry_index: accepted.receipt.entry_index,
            checkpoint: accepted.receipt.checkpoint,
        })
    }

    /// The ledger id of a trial (404 if there is no such trial).
    pub(super) async fn trial_ledger_id(&self, id: &str) -> AppResult<String> {
        Ok(self.trial_row(id).await?.ledger_id)
    }

    async fn trial_row(&self, id: &str) -> AppResult<TrialRow> {
        super::parties::check_id(id, "trial")?;
        self.store
            .trial(id)
            .await
            .map_err(|e| not_found(e, "trial"))
    }

    /// Submit a signed trial transaction: judged, and recorded whatever the verdict.
    pub async fn trial_tx(
        &self,
        caller: &Caller,
        trial_id: &str,
        request: SignedRequest,
    ) -> AppResult<Accepted> {
        require_role(
            caller,
            &[Role::Issuer, Role::Investor, Role::Regulator],
            "trial transactions are signed by participants and the regulator",
        )?;
        let trial = self.trial_row(trial_id).await?;
        let verified = self.verify_signed(caller, request, "sandbox.tx").await?;
        let payload: TrialTxPayload = serde_json::from_value(verified.request.payload.clone())
            .map_err(|e| invalid("/payload", "payload_invalid", e.to_string()))?;
        let mut errors = Vec::new();
        if payload.trial_id != trial.id {
            errors.push(FieldError::new(
                "/payload/trial_id",
                "trial_mismatch",
                "the signed trial_id differs from the trial in the URL",
            ));
        }
        let tx_id_ok = !payload.tx_id.is_empty()
            && payload.tx_id.len() <= super::OPERATION_ID_CHARS_MAX
            && payload
                .tx_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if !tx_id_ok {
            errors.push(FieldError::new(
                "/payload/tx_id",
                "invalid_tx_id",
                "a transaction id is 1 to 64 of A–Z a–z 0–9 . _ : -",
            ));
        }
        let body: Option<TxBody> = match serde_json::from_value(payload.body.clone()) {
            Ok(b) => Some(b),
            Err(e) => {
                errors.push(FieldError::new(
                    "/payload/body",
                    "invalid_transaction",
                    e.to_string(),
                ));
                None
            }
        };
        // The body is recorded as replay re-serialises it; it must be what was signed.
        if let Some(b) = &body
            && serde_json::to_value(b).ok().as_ref() != Some(&payload.body)
        {
            errors.push(FieldError::new(
                "/payload/body",
                "non_canonical_transaction",
                "write amounts and dates exactly as docs/sandbox.md shows (no leading zeros, no optional fields set to null)",
            ));
        }
        let Some(body) = body.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        // A regulator admits parties the service knows, not ids that name nobody.
        if let TxBody::Admit { party, .. } = &body {
            let known = uuid::Uuid::try_parse(party).is_ok()
                && match self.store.party(party).await {
                    Ok(_) => true,
                    Err(crate::store::StoreError::NotFound) => false,
                    Err(e) => return Err(e.into()),
                };
            if !known {
                return Err(AppError::Validation(vec![FieldError::new(
                    "/payload/body/party",
                    "unknown_party",
                    "no party with this id is registered with the service",
                )]));
            }
        }
        let append = Append {
            actor: verified.actor,
            request: verified.request,
            nonce: verified.nonce,
            operation_id: Some(payload.tx_id),
            action: Action::Sandbox { body },
        };
        self.engine().append(trial.ledger_id, append).await
    }

    pub async fn trials(&self, caller: &Caller) -> AppResult<Vec<TrialView>> {
        regulator_only(caller)?;
        Ok(self
            .store
            .trials()
            .await?
            .iter()
            .map(|r| trial_view(r, self.origin()))
            .collect())
    }

    pub async fn trial(&self, caller: &Caller, id: &str) -> AppResult<TrialView> {
        regulator_only(caller)?;
        Ok(trial_view(&self.trial_row(id).await?, self.origin()))
    }

    /// The trial's ledger as JSON Lines (regulators).
    pub async fn trial_export(&self, caller: &Caller, id: &str) -> AppResult<Vec<u8>> {
        regulator_only(caller)?;
        let trial = self.trial_row(id).await?;
        let mut out = Vec::new();
        for leaf in self.ledger_leaves(&trial.ledger_id).await? {
            out.extend_from_slice(&leaf);
            out.push(b'\n');
        }
        Ok(out)
    }

    /// A signed checkpoint of a trial's ledger, latest or for `size` (public, like a bond's).
    pub async fn trial_checkpoint(
        &self,
        id: &str,
        size: Option<u64>,
        witnessed: bool,
    ) -> AppResult<String> {
        let trial = self.trial_row(id).await?;
        Ok(self
            .served_checkpoint(&trial.ledger_id, size, witnessed)
            .await?
            .note)
    }

    /// Entries of a trial's ledger by index range (regulators).
    pub async fn trial_entries(
        &self,
        caller: &Caller,
        id: &str,
        start: u64,
        end: Option<u64>,
    ) -> AppResult<super::EntryPage> {
        regulator_only(caller)?;
        let trial = self.trial_row(id).await?;
        self.entries_in(&trial.ledger_id, start, end).await
    }

    /// RFC 9162 inclusion proof in a trial's ledger (public: it reveals only hashes).
    pub async fn trial_inclusion_proof(
        &self,
        id: &str,
        index: u64,
        size: Option<u64>,
    ) -> AppResult<super::InclusionProof> {
        let trial = self.trial_row(id).await?;
        self.inclusion_proof_in(&trial.ledger_id, index, size).await
    }

    /// RFC 9162 consistency proof in a trial's ledger (public).
    pub async fn trial_consistency_proof(
        &self,
        id: &str,
        old_size: u64,
        new_size: Option<u64>,
    ) -> AppResult<super::ConsistencyProof> {
        let trial = self.trial_row(id).await?;
        self.consistency_proof_in(&trial.ledger_id, old_size, new_size)
            .await
    }

    /// Replay a trial under the rulebook it ran with, or under `rulebook` (what-if).
    pub async fn replay_trial(
        &self,
        caller: &Caller,
        id: &str,
        rulebook: Option<&str>,
    ) -> AppResult<ExportReplay> {
        regulator_only(caller)?;
        let trial = self.trial_row(id).await?;
        let rulebook = parse_rulebook(rulebook.unwrap_or(&trial.rulebook), "/rulebook")?;
        let leaves = self.ledger_leaves(&trial.ledger_id).await?;
        tokio::task::spawn_blocking(move || {
            replay_export(leaves.iter().map(Vec::as_slice), &rulebook, 2)
                .map_err(|e| AppError::Internal(format!("trial ledger: {e}")))
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
    }

    /// The trial's report as it stands (regulators), from the rule state and verdict counts
    /// the engine keeps at each batch: O(participants), whatever the ledger's length, never a
    /// replay. `None` for a trial not written to since this build began keeping them (the
    /// caller replays it instead, `replay_trial`).
    pub async fn kept_trial_report(
        &self,
        caller: &Caller,
        id: &str,
    ) -> AppResult<Option<crate::sandbox::replay::Report>> {
        regulator_only(caller)?;
        let trial = self.trial_row(id).await?;
        let Some(text) = self.store.trial_state(&trial.ledger_id).await?.state else {
            return Ok(None);
        };
        let rulebook = parse_rulebook(&trial.rulebook, "/rulebook")?;
        let progress: crate::sandbox::Progress = serde_json::from_str(&text)
            .map_err(|e| AppError::Internal(format!("stored trial state: {e}")))?;
        Ok(Some(
            crate::sandbox::Replayer::resume(&rulebook, progress).report(),
        ))
    }

    /// How the trial's report moved (regulators): the report after each of up to `points`
    /// evenly spaced prefixes of its ledger, the last being the whole ledger, each from a replay
    /// of that prefix under the rulebook the trial ran with. Costs `points` replays; for the
    /// console's chart of exposure against caps over time.
    pub async fn trial_history(
        &self,
        caller: &Caller,
        id: &str,
        points: usize,
    ) -> AppResult<Vec<(u64, crate::sandbox::replay::Report)>> {
        regulator_only(caller)?;
        let trial = self.trial_row(id).await?;
        let rulebook = parse_rulebook(&trial.rulebook, "/rulebook")?;
        let leaves = self.ledger_leaves(&trial.ledger_id).await?;
        tokio::task::spawn_blocking(move || {
            let size = leaves.len();
            let points = points.clamp(1, size.max(1));
            let mut ends: Vec<usize> = (1..=points).map(|k| (size * k).div_ceil(points)).collect();
            ends.dedup();
            ends.into_iter()
                .filter(|end| *end > 0)
                .map(|end| {
                    replay_export(leaves[..end].iter().map(Vec::as_slice), &rulebook, 1)
                        .map(|r| (end as u64, r.report))
                        .map_err(|e| AppError::Internal(format!("trial ledger: {e}")))
                })
                .collect()
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
    }
}
