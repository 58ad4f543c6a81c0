//! The service's side of C2SP tlog-witness: every ledger's latest checkpoint is submitted to
//! each configured witness with a consistency proof from the size that witness last cosigned;
//! the cosignatures that come back are verified and kept, and served appended to the
//! checkpoint's note. Runs in rounds, apart from writes: a witness that is down delays its
//! cosignatures, never an entry.

use std::collections::HashMap;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use hyper::body::Bytes;

use super::{App, AppError, AppResult};
use crate::ledger::canon::b64url_decode;
use crate::ledger::merkle::Hash;
use crate::ledger::witness::{self, AddCheckpoint, SIZE_CONTENT_TYPE};

/// How long one submission may take.
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A witness the service must reach: its name and cosignature key (from its vkey), and its
/// submission prefix (`http://host:port[/path]`; `add-checkpoint` is appended).
#[derive(Clone, Debug)]
pub struct WitnessTarget {
    pub name: String,
    pub key: VerifyingKey,
    pub url: String,
}

impl WitnessTarget {
    /// Parse `VKEY=URL`.
    pub fn parse(spec: &str) -> Result<WitnessTarget, String> {
        let (vkey, url) = spec
            .split_once('=')
            .ok_or("a witness is given as VKEY=URL")?;
        let (name, key) = witness::parse_witness_vkey(vkey).map_err(|e| e.to_string())?;
        if !url.starts_with("http://") {
            return Err(format!(
                "witness URL {url:?}: only http:// is spoken (put a TLS-terminating proxy in \
                 front of a witness served over https)"
            ));
        }
        Ok(WitnessTarget {
            name,
            key,
            url: url.trim_end_matches('/').to_owned(),
        })
    }
}

/// What one round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Checkpoints newly cosigned (ledger × witness).
    pub cosigned: usize,
    /// Submissions refused or failed, with why.
    pub failed: Vec<String>,
}

impl App {
    /// Start submitting checkpoints to `witnesses`, a round every `every`. Once per process.
    pub fn spawn_witnessing(
        self: &std::sync::Arc<Self>,
        witnesses: Vec<WitnessTarget>,
        every: Duration,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if witnesses.is_empty() || self.witnesses.set(witnesses.clone()).is_err() {
            return None;
        }
        let app = self.clone();
        Some(tokio::spawn(async move {
            let mut last = HashMap::new();
            loop {
                if let Err(e) = app.witness_round(&witnesses, &mut last).await {
                    tracing::warn!(error = %e, "witness round");
                }
                tokio::time::sleep(every).await;
            }
        }))
    }

    /// A ledger's signed checkpoint (latest, or of `size`) with the witnesses' cosignatures it
    /// has gathered appended. With `witnessed`, only one cosigned by every witness the service
    /// submits to: the latest such, or the one of `size` if it is.
    pub(super) async fn served_checkpoint(
        &self,
        ledger_id: &str,
        size: Option<u64>,
        witnessed: bool,
    ) -> AppResult<crate::store::CheckpointRow> {
        let size = if witnessed {
            let wanted = self.witnesses.get().map(Vec::len).unwrap_or(0);
            if wanted == 0 {
                return Err(AppError::NotFound(
                    "witnessed checkpoint: this service submits to no witness".into(),
                ));
            }
            let found = match size {
                // That size, if every witness cosigned it.
                Some(size) => (self.store.cosignatures(ledger_id, size).await?.len() >= wanted)
                    .then_some(size),
                None => self.store.latest_cosigned(ledger_id, wanted).await?,
            };
            Some(found.ok_or_else(|| {
                AppError::NotFound(match size {
                    Some(size) => format!(
                        "witnessed checkpoint: the one of size {size} is not cosigned by every witness"
                    ),
                    None => "witnessed checkpoint: none is cosigned by every witness yet".into(),
                })
            })?)
        } else {
            size
        };
        let mut row = self
            .store
            .checkpoint(ledger_id, size)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::NotFound => {
                    AppError::NotFound("checkpoint for that tree size".into())
                }
                other => other.into(),
            })?;
        for line in self.store.cosignatures(ledger_id, row.size).await? {
            row.note.push_str(&line);
        }
        Ok(row)
    }

    /// Submit every ledger's latest checkpoint to every witness that has not cosigned it.
    /// `last` remembers, per (witness, ledger), the size the witness last cosigned.
    pub async fn witness_round(
        &self,
        witnesses: &[WitnessTarget],
        last: &mut HashMap<(String, String), u64>,
    ) -> AppResult<Round> {
        let mut round = Round::default();
        for (ledger_id, size) in self.store.ledger_sizes().await? {
            // An empty ledger, or one every witness has cosigned at its size: nothing to read.
            let done = witnesses
                .iter()
                .all(|w| last.get(&(w.name.clone(), ledger_id.clone())) == Some(&size));
            if size == 0 || done {
                continue;
            }
            let Ok(head) = self.store.checkpoint(&ledger_id, None).await else {
                continue;
            };
            for w in witnesses {
                let key = (w.name.clone(), ledger_id.clone());
                let old = match last.get(&key) {
                    Some(size) => *size,
                    None => self
                        .store
                        .last_cosigned(&ledger_id, &w.name)
                        .await?
                        .unwrap_or(0),
                };
                if old == head.size {
                    last.insert(key, old);
                    continue;
                }
                // Twice at most: a 409 tells the size the witness holds, to prove from.
                let mut from = old;
                for _ in 0..2 {
                    match self.submit(w, &ledger_id, from, &head).await? {
                        Ok(Submitted::Cosigned(line)) => {
                            self.store
                                .add_cosignature(&ledger_id, head.size, &w.name, &line)
                                .await?;
                            last.insert(key.clone(), head.size);
                            round.cosigned += 1;
                            break;
                        }
                        Ok(Submitted::Holds(size)) if size != from && size <= head.size => {
                            from = size;
                        }
                        Ok(Submitted::Holds(size)) => {
                            round.failed.push(format!(
                                "{} on {ledger_id}: the witness holds size {size}, beyond ours \
                                 or not provable",
                                w.name
                            ));
                            break;
                        }
                        Err(why) => {
                            round
                                .failed
                                .push(format!("{} on {ledger_id}: {why}", w.name));
                            break;
                        }
                    }
                }
            }
        }
        for failure in &round.failed {
            tracing::warn!(failure, "witness");
        }
        Ok(round)
    }

    async fn submit(
        &self,
        w: &WitnessTarget,
        ledger_id: &str,
        old_size: u64,
        head: &crate::store::CheckpointRow,
    ) -> AppResult<Result<Submitted, String>> {
        let proof: Vec<Hash> = if old_size == 0 || old_size == head.size {
            Vec::new()
        } else {
            let p = self
                .consistency_proof_in(ledger_id, old_size, Some(head.size))
                .await?;
            p.proof
                .iter()
                .map(|h| {
                    b64url_decode(h)
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| AppError::Internal("a proof hash".into()))
                })
                .collect::<AppResult<_>>()?
        };
        let body = AddCheckpoint {
            old_size,
            proof,
            checkpoint: head.note.clone(),
        }
        .to_text();
        let (status, content_type, text) =
            match post(&format!("{}/add-checkpoint", w.url), body).await {
                Ok(answer) => answer,
                Err(why) => return Ok(Err(why)),
            };
        Ok(match status {
            200 => {
                // Keep only the line of the witness we asked, once it verifies on this note.
                let line = text.lines().map(|l| format!("{l}\n")).find(|l| {
                    witness::verify_cosignature(&format!("{}{l}", head.note), &w.name, &w.key)
                        .is_ok()
                });
                match line {
                    Some(line) => Ok(Submitted::Cosigned(line)),
                    None => Err("answered 200 without a valid cosignature".into()),
                }
            }
            409 if content_type.starts_with(SIZE_CONTENT_TYPE) => {
                match crate::ledger::entry::parse_index(text.trim_end_matches('\n')) {
                    Ok(size) => Ok(Submitted::Holds(size)),
                    Err(_) => Err(format!("409 with a size that is not one: {text:?}")),
                }
            }
            _ => Err(format!("refused with {status}: {}", text.trim())),
        })
    }
}

enum Submitted {
    Cosigned(String),
    /// The witness last cosigned this size.
    Holds(u64),
}

/// POST `body` to an `http://` URL; the status, content type and body of the answer.
async fn post(url: &str, body: String) -> Result<(u16, String, String), String> {
    let answer = crate::http::client::request(
        hyper::Method::POST,
        url,
        None,
        Some(("text/plain; charset=utf-8", Bytes::from(body))),
        64 * 1024,
        SUBMIT_TIMEOUT,
    )
    .await?;
    Ok((
        answer.status,
        answer.content_type,
        String::from_utf8_lossy(&answer.body).into_owned(),
    ))
}
