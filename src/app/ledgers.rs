//! Reading a bond's ledger: checkpoints, entries, proofs and the export.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::parties::{not_found, require_role};
use super::{App, AppError, AppResult, Caller};
use crate::domain::party::Role;
use crate::ledger::canon::b64url;
use crate::ledger::merkle;
use crate::ledger::tiles::{Tile, TileKind, bundle};
use crate::store::{BondRow, CheckpointRow, ENTRIES_PAGE_MAX};

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    pub index: String,
    pub tree_size: String,
    /// SHA-256(0x00 || leaf), base64url.
    pub leaf_hash: String,
    /// RFC 9162 §2.1.3 inclusion path, base64url hashes, leaf to root.
    pub proof: Vec<String>,
    /// Root of the tree of `tree_size`, base64url (the checkpoint for that size carries it too).
    pub root: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    pub old_size: String,
    pub new_size: String,
    /// RFC 9162 §2.1.4 consistency proof, base64url hashes.
    pub proof: Vec<String>,
    pub old_root: String,
    pub new_root: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EntryPage {
    /// Entries as they are hashed (each is the JSON of one leaf).
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Value>,
    pub start: String,
    /// The ledger's size when read.
    pub tree_size: String,
}

/// Who may read a bond ledger's entries: they can name investors and their holdings, so not
/// the public (checkpoints and proofs are public; they reveal only hashes).
fn may_read_entries(caller: &Caller, bond: &BondRow) -> AppResult<()> {
    if caller.role == Role::Issuer && caller.party_id == bond.issuer_id {
        return Ok(());
    }
    require_role(
        caller,
        &[Role::Regulator, Role::Operator],
        "a bond ledger's entries are readable by its issuer, operators and regulators",
    )
}

impl App {
    /// A bond's registry row, possibly cached: its terms, issuer and ledger never change, but
    /// `ledger_size` may be stale — read the ledger for that.
    pub(super) async fn bond_row(&self, bond_id: &str) -> AppResult<BondRow> {
        super::parties::check_id(bond_id, "bond")?;
        if let Some(row) = self.bonds.get(&bond_id.to_owned()) {
            return Ok(row);
        }
        let row = self.bond_row_fresh(bond_id).await?;
        self.bonds.put(bond_id.to_owned(), row.clone());
        Ok(row)
    }

    /// A bond's registry row as stored now (with the current ledger size).
    pub(super) async fn bond_row_fresh(&self, bond_id: &str) -> AppResult<BondRow> {
        super::parties::check_id(bond_id, "bond")?;
        self.store
            .bond(bond_id)
            .await
            .map_err(|e| not_found(e, "bond"))
    }

    /// The latest signed checkpoint of a bond's ledger, or the one for `size`.
    pub async fn checkpoint(
        &self,
        bond_id: &str,
        size: Option<u64>,
        witnessed: bool,
    ) -> AppResult<CheckpointRow> {
        let bond = self.bond_row(bond_id).await?;
        self.served_checkpoint(&bond.ledger_id, size, witnessed)
            .await
    }

    pub async fn entries(
        &self,
        caller: &Caller,
        bond_id: &str,
        start: u64,
        end: Option<u64>,
    ) -> AppResult<EntryPage> {
        let bond = self.bond_row(bond_id).await?;
        may_read_entries(caller, &bond)?;
        self.entries_in(&bond.ledger_id, start, end).await
    }

    /// Entries of any ledger by index range (the caller's access is checked by the caller).
    pub(super) async fn entries_in(
        &self,
        ledger_id: &str,
        start: u64,
        end: Option<u64>,
    ) -> AppResult<EntryPage> {
        tree_number(start, "start")?;
        if let Some(end) = end {
            tree_number(end, "end")?;
        }
        let size = self.store.ledger(ledger_id).await?.size;
        let end = end.unwrap_or(size).min(size);
        // A range that starts at or past its end is empty, not an error.
        let start = start.min(end);
        let rows = self
            .store
            .entries(
                ledger_id,
                start,
                end.min(start.saturating_add(ENTRIES_PAGE_MAX)),
            )
            .await?;
        let entries = rows
            .iter()
            .map(|r| {
                serde_json::from_slice(&r.leaf)
                    .map_err(|e| AppError::Internal(format!("stored leaf: {e}")))
            })
            .collect::<AppResult<_>>()?;
        Ok(EntryPage {
            entries,
            start: start.to_string(),
            tree_size: size.to_string(),
        })
    }

    /// The whole ledger as JSON Lines, read in pages so that memory stays bounded per page.
    pub async fn export_page(
        &self,
        caller: &Caller,
        bond_id: &str,
        start: u64,
    ) -> AppResult<(Vec<Vec<u8>>, u64)> {
        tree_number(start, "from")?;
        let bond = self.bond_row(bond_id).await?;
        may_read_entries(caller, &bond)?;
        let size = self.store.ledger(&bond.ledger_id).await?.size;
        let rows = self.store.entries(&bond.ledger_id, start, size).await?;
        Ok((rows.into_iter().map(|r| r.leaf).collect(), size))
    }

    /// Every entry of a ledger as stored (leaf bytes), read in pages, up to its size now.
    pub(super) async fn ledger_leaves(&self, ledger_id: &str) -> AppResult<Vec<Vec<u8>>> {
        let size = self.store.ledger(ledger_id).await?.size;
        let mut out = Vec::new();
        while (out.len() as u64) < size {
            let rows = self
                .store
                .entries(ledger_id, out.len() as u64, size)
                .await?;
            if rows.is_empty() {
                break;
            }
            out.extend(rows.into_iter().map(|r| r.leaf));
        }
        Ok(out)
    }

    /// A tree size to prove against: the latest by default; never past the ledger's end.
    async fn proof_size(&self, ledger_id: &str, size: Option<u64>) -> AppResult<u64> {
        if let Some(size) = size {
            tree_number(size, "size")?;
        }
        let current = self.store.ledger(ledger_id).await?.size;
        match size {
            None => Ok(current),
            Some(s) if s <= current => Ok(s),
            Some(s) => Err(AppError::NotFound(format!(
                "tree of size {s} (the ledger has {current} entries)"
            ))),
        }
    }

    /// Proofs for any tree size up to the current one: roots are computed from the stored
    /// perfect subtrees (checkpoints are signed per batch, not per entry).
    pub async fn inclusion_proof(
        &self,
        bond_id: &str,
        index: u64,
        size: Option<u64>,
    ) -> AppResult<InclusionProof> {
        let bond = self.bond_row(bond_id).await?;
        self.inclusion_proof_in(&bond.ledger_id, index, size).await
    }

    /// An inclusion proof in any ledger (bonds and trials).
    pub(super) async fn inclusion_proof_in(
        &self,
        ledger_id: &str,
        index: u64,
        size: Option<u64>,
    ) -> AppResult<InclusionProof> {
        tree_number(index, "index")?;
        let size = self.proof_size(ledger_id, size).await?;
        // An index the tree does not hold names no entry.
        let mut wanted = merkle::inclusion_proof_ids(index, size)
            .map_err(|e| AppError::NotFound(format!("entry: {e}")))?;
        let leaf_id = merkle::NodeId { level: 0, index };
        wanted.push(leaf_id);
        wanted.extend(merkle::frontier_ids(size));
        let nodes = self.store.nodes(ledger_id, &wanted).await?;
        let proof = merkle::inclusion_proof(index, size, &nodes)?;
        let root = merkle::root_at(size, &nodes)?;
        let leaf_hash = nodes
            .get(&leaf_id)
            .ok_or_else(|| AppError::Internal("leaf node missing".into()))?;
        Ok(InclusionProof {
            index: index.to_string(),
            tree_size: size.to_string(),
            leaf_hash: b64url(leaf_hash),
            proof: proof.iter().map(|h| b64url(h)).collect(),
            root: b64url(&root),
        })
    }

    pub async fn consistency_proof(
        &self,
        bond_id: &str,
        old_size: u64,
        new_size: Option<u64>,
    ) -> AppResult<ConsistencyProof> {
        let bond = self.bond_row(bond_id).await?;
        self.consistency_proof_in(&bond.ledger_id, old_size, new_size)
            .await
    }

    /// A consistency proof in any ledger (bonds and trials).
    pub(super) async fn consistency_proof_in(
        &self,
        ledger_id: &str,
        old_size: u64,
        new_size: Option<u64>,
    ) -> AppResult<ConsistencyProof> {
        tree_number(old_size, "old_size")?;
        if old_size == 0 {
            return Err(AppError::BadRequest(
                "old_size is at least 1: no consistency proof exists from an empty tree (RFC 9162 §2.1.4)".into(),
            ));
        }
        let new_size = self.proof_size(ledger_id, new_size).await?;
        // An old size past the new one names no tree this ledger had then.
        let mut wanted = merkle::consistency_proof_ids(old_size, new_size)
            .map_err(|e| AppError::NotFound(format!("tree: {e}")))?;
        wanted.extend(merkle::frontier_ids(old_size));
        wanted.extend(merkle::frontier_ids(new_size));
        let nodes = self.store.nodes(ledger_id, &wanted).await?;
        let proof = merkle::consistency_proof(old_size, new_size, &nodes)?;
        Ok(ConsistencyProof {
            old_size: old_size.to_string(),
            new_size: new_size.to_string(),
            proof: proof.iter().map(|h| b64url(h)).collect(),
            old_root: b64url(&merkle::root_at(old_size, &nodes)?),
            new_root: b64url(&merkle::root_at(new_size, &nodes)?),
        })
    }
}

/// A tree size or index as asked for: at most 2^53 − 1 (`MAX_SAFE_INTEGER`, as documented).
fn tree_number(n: u64, what: &str) -> AppResult<u64> {
    if n > crate::ledger::canon::MAX_SAFE_INTEGER {
        return Err(AppError::BadRequest(format!(
            "`{what}` is at most 2^53 − 1, got {n}"
        )));
    }
    Ok(n)
}

impl App {
    /// A C2SP tlog-tiles tile of a bond's ledger (`path` is what follows `tile/`): hash tiles
    /// are public, as proofs are; entry bundles are the entries, readable by whom may read them.
    pub async fn bond_tile(
        &self,
        caller: Option<&Caller>,
        bond_id: &str,
        path: &str,
    ) -> AppResult<Vec<u8>> {
        let bond = self.bond_row(bond_id).await?;
        let tile = parse_tile(path)?;
        if tile.kind == TileKind::Entries {
            let caller = caller.ok_or(AppError::Unauthenticated)?;
            may_read_entries(caller, &bond)?;
        }
        self.tile_in(&bond.ledger_id, tile).await
    }

    /// A tile of a trial's ledger: hash tiles public (as its checkpoint and proofs are), entry
    /// bundles for regulators (as its entries are).
    pub async fn trial_tile(
        &self,
        caller: Option<&Caller>,
        trial_id: &str,
        path: &str,
    ) -> AppResult<Vec<u8>> {
        let ledger_id = self.trial_ledger_id(trial_id).await?;
        let tile = parse_tile(path)?;
        if tile.kind == TileKind::Entries {
            let caller = caller.ok_or(AppError::Unauthenticated)?;
            super::trials::regulator_only(caller)?;
        }
        self.tile_in(&ledger_id, tile).await
    }

    /// A tile of the key log (public).
    pub async fn key_log_tile(&self, path: &str) -> AppResult<Vec<u8>> {
        let tile = parse_tile(path)?;
        self.tile_in(crate::ledger::keylog::KEY_LOG_ID, tile).await
    }

    /// A tile of any ledger, if the tree holds all of it now.
    async fn tile_in(&self, ledger_id: &str, tile: Tile) -> AppResult<Vec<u8>> {
        let size = self.store.ledger(ledger_id).await?.size;
        let nodes = tile
            .nodes()
            .filter(|_| tile.within(size))
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "tile {tile} (the tree has {size} entries; tiles are served once complete, partial ones up to the tree's edge)"
                ))
            })?;
        let bytes = match tile.kind {
            TileKind::Hashes { .. } => {
                let hashes = self
                    .store
                    .node_range(ledger_id, tile.tree_level(), nodes.clone())
                    .await?;
                if hashes.len() as u64 != nodes.end - nodes.start {
                    return Err(AppError::Internal(format!(
                        "ledger {ledger_id}: tile {tile} is missing stored nodes"
                    )));
                }
                hashes.concat()
            }
            TileKind::Entries => {
                let rows = self
                    .store
                    .entries(ledger_id, nodes.start, nodes.end)
                    .await?;
                if rows.len() as u64 != nodes.end - nodes.start {
                    return Err(AppError::Internal(format!(
                        "ledger {ledger_id}: entries of tile {tile} missing"
                    )));
                }
                bundle(rows.iter().map(|r| r.leaf.as_slice())).map_err(|i| {
                    AppError::Validation(vec![super::tokens::field(
                        "",
                        "entry_too_large_for_a_bundle",
                        format!(
                            "entry {} is longer than the {} bytes a tlog-tiles entry bundle can carry; read it from the ledger's entries",
                            nodes.start + i as u64,
                            crate::ledger::tiles::BUNDLE_ENTRY_BYTES_MAX
                        ),
                    )])
                })?
            }
        };
        Ok(bytes)
    }
}

fn parse_tile(path: &str) -> AppResult<Tile> {
    Tile::parse(path).map_err(|e| AppError::NotFound(e.to_string()))
}
