//! Reading the key log: public, like checkpoints and proofs (party keys are public history).

use super::{App, AppResult, ConsistencyProof, EntryPage, InclusionProof};
use crate::ledger::keylog::KEY_LOG_ID;

impl App {
    /// A signed checkpoint of the key log, latest or for `size`.
    pub async fn key_log_checkpoint(
        &self,
        size: Option<u64>,
        witnessed: bool,
    ) -> AppResult<String> {
        Ok(self
            .served_checkpoint(KEY_LOG_ID, size, witnessed)
            .await?
            .note)
    }

    /// Key log entries by index range.
    pub async fn key_log_entries(&self, start: u64, end: Option<u64>) -> AppResult<EntryPage> {
        self.entries_in(KEY_LOG_ID, start, end).await
    }

    /// The whole key log as JSON Lines.
    pub async fn key_log_export(&self) -> AppResult<Vec<u8>> {
        let mut out = Vec::new();
        for leaf in self.ledger_leaves(KEY_LOG_ID).await? {
            out.extend_from_slice(&leaf);
            out.push(b'\n');
        }
        Ok(out)
    }

    /// RFC 9162 inclusion proof in the key log.
    pub async fn key_log_inclusion_proof(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> AppResult<InclusionProof> {
        self.inclusion_proof_in(KEY_LOG_ID, index, size).await
    }

    /// RFC 9162 consistency proof in the key log.
    pub async fn key_log_consistency_proof(
        &self,
        old_size: u64,
        new_size: Option<u64>,
    ) -> AppResult<ConsistencyProof> {
        self.consistency_proof_in(KEY_LOG_ID, old_size, new_size)
            .await
    }
}
