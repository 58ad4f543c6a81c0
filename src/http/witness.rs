//! `midori witness`: a C2SP tlog-witness of its own, for a regulator or an exchange to run with
//! its own key and its own state. `POST /add-checkpoint` cosigns a checkpoint of a log it
//! follows only if it is consistent with the last one it cosigned for that origin; that record
//! is written to disk (fsync, then rename) before the cosignature is returned, so a restart
//! never forgets a size and cannot be led to cosign a fork.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::ledger::canon::{b64url, b64url_decode};
use crate::ledger::merkle::Hash;
use crate::ledger::witness::{self, AddCheckpoint, Refusal, SIZE_CONTENT_TYPE, TrustedLog};

/// Largest request body (a checkpoint and 63 proof lines fit many times over).
const BODY_BYTES_MAX: usize = 16 * 1024;

/// What the witness keeps: per origin, the size and root it last cosigned.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    logs: BTreeMap<String, (u64, String)>,
}

/// A witness: its name and key, the logs it follows, and its record on disk.
pub struct Witness {
    name: String,
    key: SigningKey,
    logs: Vec<TrustedLog>,
    path: PathBuf,
    record: Mutex<Record>,
}

impl Witness {
    /// Open the witness's record at `path` (created empty if absent).
    pub fn open(
        name: String,
        key: SigningKey,
        logs: Vec<TrustedLog>,
        path: PathBuf,
    ) -> anyhow::Result<Witness> {
        let record = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Record::default(),
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
        };
        Ok(Witness {
            name,
            key,
            logs,
            path,
            record: Mutex::new(record),
        })
    }

    /// The witness's verifier key, for logs and clients to configure.
    pub fn vkey(&self) -> String {
        witness::witness_vkey(&self.name, &self.key.verifying_key())
    }

    /// Judge, record, cosign: the whole of `add-checkpoint`, atomically per witness.
    pub async fn add_checkpoint(&self, body: &str) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body).map_err(Refusal::BadRequest)?;
        let mut record = self.record.lock().await;
        let checkpoint = witness::judge(
            &self.logs,
            |origin| {
                let (size, root) = record.logs.get(origin)?;
                let root: Hash = b64url_decode(root).ok()?.try_into().ok()?;
                Some((*size, root))
            },
            &request,
        )?;
        record.logs.insert(
            checkpoint.origin.clone(),
            (checkpoint.size, b64url(&checkpoint.root)),
        );
        if let Err(e) = persist(&self.path, &record) {
            // Not recorded, not cosigned: forget it in memory too.
            *record = Record {
                logs: serde_json::from_slice(&std::fs::read(&self.path).unwrap_or_default())
                    .map(|r: Record| r.logs)
                    .unwrap_or_default(),
            };
            tracing::error!(error = %e, "witness record");
            return Err(Refusal::BadRequest(
                "the witness could not record the checkpoint; try again".into(),
            ));
        }
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
        Ok(witness::cosign(
            &checkpoint.body(),
            &self.name,
            &self.key,
            timestamp,
        ))
    }
}

/// Write the record so that a crash leaves the old one or the new one, never a mix.
fn persist(path: &Path, record: &Record) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The witness's HTTP interface: `POST /add-checkpoint`.
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_BYTES_MAX))
        .with_state(witness)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: String) -> Response {
    match witness.add_checkpoint(&body).await {
        Ok(line) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            line,
        )
            .into_response(),
        Err(Refusal::StaleSize(size)) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
            format!("{size}\n"),
        )
            .into_response(),
        Err(refusal) => (
            StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{refusal}\n"),
        )
            .into_response(),
    }
}
