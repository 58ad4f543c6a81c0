//! The RFC 9162 §2.1 Merkle tree (the hashing of RFC 6962), shaped for storage that keeps only the
//! hashes of *perfect* subtrees: complete, aligned subtrees of `2^level` leaves.
//!
//! Every subtree the RFC's recursion ever names is either perfect, or sits on the right edge of the
//! tree; a right-edge subtree `[a, n)` is the right-to-left fold of the perfect subtrees that
//! decompose it (the same largest-power-of-two split, applied again). So proofs and roots cost
//! O(log n) node look-ups and never rebuild the tree; `*_ids` say which nodes to fetch, the proof
//! functions fold them.

use std::collections::HashMap;
use std::ops::Range;

use sha2::{Digest, Sha256};

use super::LedgerError;

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Perfect subtree covering leaves [index << level, (index + 1) << level).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

/// What one `append` produced: the perfect nodes to store and the frontier of the grown tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Every perfect node completed by the new leaf, the leaf itself (level 0) first.
    pub nodes: Vec<(NodeId, Hash)>,
    /// The frontier of the tree after the append, in `frontier_ids(size + 1)` order.
    pub frontier: Vec<Hash>,
}

/// RFC 9162 §2.1.1: the leaf hash `SHA-256(0x00 || leaf)`. The prefix keeps a leaf from ever
/// being mistaken for an interior node (second-preimage resistance).
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// RFC 9162 §2.1.1: the interior node hash `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// RFC 9162 §2.1.1: the hash of the empty tree is the hash of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The reference Merkle Tree Hash of RFC 9162 §2.1.1, computed recursively from all leaf hashes.
/// Offline verification uses it as the independent second implementation of the root.
pub fn root_of(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes {
        [] => empty_root(),
        [only] => *only,
        _ => {
            // The split point k is the largest power of two smaller than n; `len` fits u64.
            let k = largest_power_of_two_below(leaf_hashes.len() as u64) as usize;
            node_hash(&root_of(&leaf_hashes[..k]), &root_of(&leaf_hashes[k..]))
        }
    }
}

/// The perfect subtrees that decompose `[0, size)`, left to right (largest first): one per set
/// bit of `size`. Their hashes are all a writer needs to keep to append and to compute the root.
pub fn frontier_ids(size: u64) -> Vec<NodeId> {
    let mut ids = Vec::with_capacity(size.count_ones() as usize);
    push_range_ids(0, size, &mut ids);
    ids
}

/// The root from a frontier: fold right to left, `node_hash(f[i], acc)`. This is RFC 9162
/// §2.1.1's recursion unrolled, because its split always puts the largest perfect subtree on the
/// left. An empty frontier is the empty tree.
pub fn root_from_frontier(frontier: &[Hash]) -> Hash {
    match frontier.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

/// Append one leaf to a tree of `size` whose frontier hashes (in frontier_ids(size) order) are given.
/// Returns every perfect node completed by this leaf (level 0 included) and the new frontier.
pub fn append(size: u64, frontier: &[Hash], leaf_hash: Hash) -> Result<Appended, LedgerError> {
    check_frontier(size, frontier)?;
    if size == u64::MAX {
        return Err(LedgerError::TreeFull);
    }
    // The new leaf completes one perfect node per trailing one bit of `size`: those are the last
    // (smallest) frontier entries, levels 0, 1, ... read from the end.
    let merges = size.trailing_ones() as usize;
    let keep = frontier.len() - merges;
    let mut id = NodeId::leaf(size);
    let mut hash = leaf_hash;
    let mut nodes = Vec::with_capacity(merges + 1);
    nodes.push((id, hash));
    for left in frontier[keep..].iter().rev() {
        hash = node_hash(left, &hash);
        id = NodeId {
            level: id.level + 1,
            index: id.index >> 1,
        };
        nodes.push((id, hash));
    }
    let mut new_frontier = Vec::with_capacity(keep + 1);
    new_frontier.extend_from_slice(&frontier[..keep]);
    new_frontier.push(hash);
    Ok(Appended {
        nodes,
        frontier: new_frontier,
    })
}

/// The root of the tree of `size` leaves, from stored perfect nodes (its frontier).
pub fn root_at(size: u64, nodes: &HashMap<NodeId, Hash>) -> Result<Hash, LedgerError> {
    let frontier = frontier_ids(size)
        .into_iter()
        .map(|id| lookup(nodes, id))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(root_from_frontier(&frontier))
}

/// Node ids whose hashes are needed for an inclusion proof of leaf `index` in a tree of `size`.
pub fn inclusion_proof_ids(index: u64, size: u64) -> Result<Vec<NodeId>, LedgerError> {
    Ok(ids_of(&inclusion_ranges(index, size)?))
}

/// RFC 9162 §2.1.3.1: the inclusion proof (audit path) of leaf `index` in a tree of `size`,
/// from the leaf's sibling up to the root's child. `nodes` must hold `inclusion_proof_ids`.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    nodes: &HashMap<NodeId, Hash>,
) -> Result<Vec<Hash>, LedgerError> {
    hashes_of(&inclusion_ranges(index, size)?, nodes)
}

/// Node ids whose hashes are needed for a consistency proof from `old_size` to `new_size`.
pub fn consistency_proof_ids(old_size: u64, new_size: u64) -> Result<Vec<NodeId>, LedgerError> {
    Ok(ids_of(&consistency_ranges(old_size, new_size)?))
}

/// RFC 9162 §2.1.4.1: the consistency proof from the tree of `old_size` to the tree of
/// `new_size`. Equal sizes give the empty proof (`SUBPROOF(m, D[m], true) = {}`); `old_size` 0 is
/// an error, as the RFC defines proofs only for `0 < m`: every tree extends the empty tree, so
/// there is nothing to prove. `nodes` must hold `consistency_proof_ids`.
pub fn consistency_proof(
    old_size: u64,
    new_size: u64,
    nodes: &HashMap<NodeId, Hash>,
) -> Result<Vec<Hash>, LedgerError> {
    hashes_of(&consistency_ranges(old_size, new_size)?, nodes)
}

/// RFC 9162 §2.1.3.2: check that `leaf_hash` is leaf `index` of the tree of `size` with `root`.
///
/// The proof binds the leaf to the root; it does not on its own pin the size (trees of other
/// sizes can share the path's shape), so `size` and `root` must come from the same signed
/// checkpoint, as the RFC verifies against a signed tree head.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LedgerError> {
    // Step 1: the index must be inside the tree.
    if index >= size {
        return Err(LedgerError::IndexOutOfRange { index, size });
    }
    // Not in the RFC's steps, but implied by them: a proof of any other length cannot end with
    // sn == 0. Checking first gives a clearer error and bounds the work on hostile input.
    if proof.len() != inclusion_ranges(index, size)?.len() {
        return Err(LedgerError::InclusionProof(
            "the proof has the wrong number of hashes",
        ));
    }
    // Steps 2-4.
    let mut fnode = index;
    let mut snode = size - 1;
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(LedgerError::InclusionProof("the proof is too long"));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 5.
    if snode != 0 {
        return Err(LedgerError::InclusionProof("the proof is too short"));
    }
    if r != *root {
        return Err(LedgerError::InclusionProof("the computed root differs"));
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: check that the tree of `old_size` with `old_root` is a prefix of the tree of
/// `new_size` with `new_root`. Equal sizes need an empty proof and equal roots; `old_size` 0 is an
/// error, matching `consistency_proof`. As for inclusion, the sizes must come from the signed
/// checkpoints that carry the roots.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), LedgerError> {
    if old_size == 0 || old_size > new_size {
        return Err(LedgerError::InvalidSizes {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(LedgerError::ConsistencyProof(
                "equal sizes need an empty proof",
            ));
        }
        if old_root != new_root {
            return Err(LedgerError::ConsistencyProof(
                "equal sizes with different roots",
            ));
        }
        return Ok(());
    }
    // Step 1: an empty path proves nothing.
    if proof.is_empty() {
        return Err(LedgerError::ConsistencyProof("the proof is empty"));
    }
    // As for inclusion, a proof of the wrong length cannot pass step 7: say so up front.
    if proof.len() != consistency_ranges(old_size, new_size)?.len() {
        return Err(LedgerError::ConsistencyProof(
            "the proof has the wrong number of hashes",
        ));
    }
    // Step 2: when the old tree is perfect its root is itself a node of the new tree, and the
    // proof omits it.
    let (first, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    // Step 3.
    let mut fnode = old_size - 1;
    let mut snode = new_size - 1;
    // Step 4.
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 5.
    let mut fr = first;
    let mut sr = first;
    // Step 6.
    for c in rest {
        if snode == 0 {
            return Err(LedgerError::ConsistencyProof("the proof is too long"));
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 7.
    if snode != 0 {
        return Err(LedgerError::ConsistencyProof("the proof is too short"));
    }
    if fr != *old_root {
        return Err(LedgerError::ConsistencyProof(
            "the computed old root differs",
        ));
    }
    if sr != *new_root {
        return Err(LedgerError::ConsistencyProof(
            "the computed new root differs",
        ));
    }
    Ok(())
}

impl NodeId {
    /// The node of leaf `index` (level 0).
    pub const fn leaf(index: u64) -> NodeId {
        NodeId { level: 0, index }
    }

    /// The leaves this node covers; `None` when the range does not fit in u64 (no such node
    /// exists in any tree a u64 size can describe).
    pub fn leaves(&self) -> Option<Range<u64>> {
        if self.level >= 64 {
            return None;
        }
        let start = self.index.checked_mul(1u64 << self.level)?;
        let end = (self.index.checked_add(1)?).checked_mul(1u64 << self.level)?;
        Some(start..end)
    }
}

/// The largest power of two strictly smaller than `n`; `n` must be at least 2 (RFC 9162 §2.1.1's
/// split point `k`).
fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Decompose `[start, end)` into perfect, aligned subtrees, largest first. For the subtrees the
/// RFC recursion names (perfect, or `[a, n)` with `a` a multiple of a power of two at least
/// `n - a`) this is exactly the split the RFC would make, so folding the hashes right to left
/// gives the subtree's MTH.
fn push_range_ids(mut start: u64, end: u64, out: &mut Vec<NodeId>) {
    while start < end {
        let len = end - start;
        let mut level = 63 - len.leading_zeros();
        if start != 0 {
            level = level.min(start.trailing_zeros());
        }
        out.push(NodeId {
            level: level as u8,
            index: start >> level,
        });
        // Cannot overflow: start + 2^level <= end.
        start += 1u64 << level;
    }
}

fn check_frontier(size: u64, frontier: &[Hash]) -> Result<(), LedgerError> {
    let expected = size.count_ones() as usize;
    if frontier.len() != expected {
        return Err(LedgerError::FrontierMismatch {
            size,
            expected,
            got: frontier.len(),
        });
    }
    Ok(())
}

/// The subtrees of RFC 9162 §2.1.3.1 `PATH(m, D[n])`, as leaf ranges, leaf level first.
fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, LedgerError> {
    if index >= size {
        return Err(LedgerError::IndexOutOfRange { index, size });
    }
    // Walk down from the root; each level contributes the subtree on the other side of the
    // split. PATH lists them bottom-up, hence the reverse.
    let (mut lo, mut hi) = (0u64, size);
    let mut out = Vec::new();
    while hi - lo > 1 {
        let k = largest_power_of_two_below(hi - lo);
        if index - lo < k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
        }
    }
    out.reverse();
    Ok(out)
}

/// The subtrees of RFC 9162 §2.1.4.1 `PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`, as leaf ranges,
/// in proof order.
fn consistency_ranges(old_size: u64, new_size: u64) -> Result<Vec<(u64, u64)>, LedgerError> {
    if old_size == 0 || old_size > new_size {
        return Err(LedgerError::InvalidSizes {
            old: old_size,
            new: new_size,
        });
    }
    // Invariant: the current subtree is D[lo:hi] and the old tree ends inside it (lo < m <= hi).
    let m = old_size;
    let (mut lo, mut hi) = (0u64, new_size);
    let mut whole_old_subtree = true; // the RFC's `b`
    let mut out = Vec::new();
    loop {
        if m == hi {
            // SUBPROOF(m, D[m], b): nothing if this is the whole old tree (the verifier has its
            // root), else the hash of this subtree, which both trees share.
            if !whole_old_subtree {
                out.push((lo, hi));
            }
            break;
        }
        let k = largest_power_of_two_below(hi - lo);
        if m - lo <= k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            whole_old_subtree = false;
        }
    }
    // SUBPROOF appends each level's sibling after the deeper result: collected top-down, the
    // list reads in reverse.
    out.reverse();
    Ok(out)
}

fn ids_of(ranges: &[(u64, u64)]) -> Vec<NodeId> {
    let mut ids = Vec::new();
    for &(start, end) in ranges {
        push_range_ids(start, end, &mut ids);
    }
    ids
}

fn hashes_of(
    ranges: &[(u64, u64)],
    nodes: &HashMap<NodeId, Hash>,
) -> Result<Vec<Hash>, LedgerError> {
    let mut ids = Vec::new();
    ranges
        .iter()
        .map(|&(start, end)| {
            ids.clear();
            push_range_ids(start, end, &mut ids);
            let hashes = ids
                .iter()
                .map(|&id| lookup(nodes, id))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(root_from_frontier(&hashes))
        })
        .collect()
}

fn lookup(nodes: &HashMap<NodeId, Hash>, id: NodeId) -> Result<Hash, LedgerError> {
    nodes.get(&id).copied().ok_or(LedgerError::MissingNode(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ct_merkle::mem_backed_tree::MemoryBackedTree;
    use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn h(s: &str) -> Hash {
        hex(s).try_into().unwrap()
    }

    fn concat(hashes: &[Hash]) -> Vec<u8> {
        hashes.iter().flatten().copied().collect()
    }

    /// A store built only through `append`, as the database would be.
    struct Store {
        size: u64,
        frontier: Vec<Hash>,
        nodes: HashMap<NodeId, Hash>,
        leaves: Vec<Hash>,
    }

    impl Store {
        fn new() -> Store {
            Store {
                size: 0,
                frontier: Vec::new(),
                nodes: HashMap::new(),
                leaves: Vec::new(),
            }
        }

        fn push(&mut self, leaf: &[u8]) {
            let lh = leaf_hash(leaf);
            let appended = append(self.size, &self.frontier, lh).unwrap();
            self.nodes.extend(appended.nodes);
            self.frontier = appended.frontier;
            self.size += 1;
            self.leaves.push(lh);
        }

        fn root(&self) -> Hash {
            root_from_frontier(&self.frontier)
        }
    }

    fn store_of(n: u64) -> Store {
        let mut store = Store::new();
        for i in 0..n {
            store.push(&i.to_be_bytes());
        }
        store
    }

    // transparency-dev/merkle testonly/constants.go: leaves and the root for each size 0..=8.
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    // (index, size, proof) and (old, new, proof) from the same reference test.
    const INCLUSION_VECTORS: [(u64, u64, &[&str]); 7] = [
        (0, 1, &[]),
        (
            0,
            2,
            &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
        ),
        (
            1,
            2,
            &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    const CONSISTENCY_VECTORS: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    fn reference_store() -> Store {
        let mut store = Store::new();
        for leaf in LEAVES {
            store.push(&hex(leaf));
        }
        store
    }

    #[test]
    fn the_empty_root_is_the_hash_of_the_empty_string() {
        assert_eq!(empty_root(), h(ROOTS[0]));
        assert_eq!(root_of(&[]), h(ROOTS[0]));
        assert_eq!(root_from_frontier(&[]), h(ROOTS[0]));
    }

    #[test]
    fn roots_match_the_published_rfc_6962_vectors_for_every_size_up_to_eight() {
        let leaves: Vec<Hash> = LEAVES.iter().map(|l| leaf_hash(&hex(l))).collect();
        let mut store = Store::new();
        assert_eq!(store.root(), h(ROOTS[0]));
        for (n, leaf) in LEAVES.iter().enumerate() {
            store.push(&hex(leaf));
            assert_eq!(
                root_of(&leaves[..=n]),
                h(ROOTS[n + 1]),
                "root_of size {}",
                n + 1
            );
            assert_eq!(store.root(), h(ROOTS[n + 1]), "frontier size {}", n + 1);
            assert_eq!(
                root_at(n as u64 + 1, &store.nodes).unwrap(),
                h(ROOTS[n + 1])
            );
        }
    }

    #[test]
    fn inclusion_proofs_match_the_published_vectors_and_verify() {
        let store = reference_store();
        for (index, size, expected) in INCLUSION_VECTORS {
            let expected: Vec<Hash> = expected.iter().map(|s| h(s)).collect();
            let proof = inclusion_proof(index, size, &store.nodes).unwrap();
            assert_eq!(proof, expected, "index {index} size {size}");
            let leaf = store.leaves[index as usize];
            verify_inclusion(&leaf, index, size, &proof, &h(ROOTS[size as usize])).unwrap();
        }
    }

    #[test]
    fn consistency_proofs_match_the_published_vectors_and_verify() {
        let store = reference_store();
        for (old, new, expected) in CONSISTENCY_VECTORS {
            let expected: Vec<Hash> = expected.iter().map(|s| h(s)).collect();
            let proof = consistency_proof(old, new, &store.nodes).unwrap();
            assert_eq!(proof, expected, "{old} -> {new}");
            verify_consistency(
                old,
                new,
                &proof,
                &h(ROOTS[old as usize]),
                &h(ROOTS[new as usize]),
            )
            .unwrap();
        }
    }

    #[test]
    fn a_consistency_proof_fails_against_the_wrong_old_root() {
        let proof: Vec<Hash> = CONSISTENCY_VECTORS[2].2.iter().map(|s| h(s)).collect();
        let err = verify_consistency(6, 8, &proof, &h(ROOTS[5]), &h(ROOTS[8])).unwrap_err();
        assert!(matches!(err, LedgerError::ConsistencyProof(_)));
    }

    #[test]
    fn roots_and_proofs_agree_with_ct_merkle_for_every_size_up_to_seventy() {
        let mut theirs = MemoryBackedTree::<sha2::Sha256, Vec<u8>>::new();
        let mut ours = Store::new();
        for n in 1..=70u64 {
            let leaf = format!("leaf {n}").into_bytes();
            theirs.push(leaf.clone());
            ours.push(&leaf);
            let their_root = theirs.root();
            assert_eq!(
                their_root.as_bytes().as_slice(),
                ours.root(),
                "root at size {n}"
            );
            assert_eq!(
                root_of(&ours.leaves),
                ours.root(),
                "reference root at size {n}"
            );

            for index in 0..n {
                let proof = inclusion_proof(index, n, &ours.nodes).unwrap();
                let their_proof = theirs.prove_inclusion(index as usize);
                assert_eq!(
                    their_proof.as_bytes(),
                    concat(&proof),
                    "inclusion {index} in {n}"
                );
                let leaf_bytes = theirs.get(index as usize).unwrap();
                their_root
                    .verify_inclusion(
                        leaf_bytes,
                        index,
                        &InclusionProof::from_bytes(concat(&proof)),
                    )
                    .unwrap();
                verify_inclusion(&ours.leaves[index as usize], index, n, &proof, &ours.root())
                    .unwrap();
            }

            for old in 1..=n {
                let proof = consistency_proof(old, n, &ours.nodes).unwrap();
                let their_proof = theirs.prove_consistency((n - old) as usize);
                assert_eq!(
                    their_proof.as_bytes(),
                    concat(&proof),
                    "consistency {old} -> {n}"
                );
                let old_root = root_at(old, &ours.nodes).unwrap();
                assert_eq!(old_root, root_of(&ours.leaves[..old as usize]));
                let their_old = RootHash::<sha2::Sha256>::new(old_root.into(), old);
                their_root
                    .verify_consistency(
                        &their_old,
                        &ConsistencyProof::try_from_bytes(concat(&proof)).unwrap(),
                    )
                    .unwrap();
                verify_consistency(old, n, &proof, &old_root, &ours.root()).unwrap();
            }
        }
    }

    #[test]
    fn proof_ids_name_only_perfect_nodes_that_exist_in_the_tree() {
        for n in 1..=70u64 {
            let store = store_of(n);
            for index in 0..n {
                for id in inclusion_proof_ids(index, n).unwrap() {
                    assert!(
                        store.nodes.contains_key(&id),
                        "{id:?} for inclusion {index} in {n}"
                    );
                    assert!(id.leaves().unwrap().end <= n);
                }
            }
            for old in 1..=n {
                for id in consistency_proof_ids(old, n).unwrap() {
                    assert!(
                        store.nodes.contains_key(&id),
                        "{id:?} for consistency {old} -> {n}"
                    );
                    assert!(id.leaves().unwrap().end <= n);
                }
            }
        }
    }

    #[test]
    fn proofs_need_only_the_nodes_their_ids_name() {
        let store = store_of(45);
        for index in [0, 17, 31, 32, 44] {
            let ids = inclusion_proof_ids(index, 45).unwrap();
            let subset: HashMap<_, _> = ids.iter().map(|id| (*id, store.nodes[id])).collect();
            assert_eq!(
                inclusion_proof(index, 45, &subset).unwrap(),
                inclusion_proof(index, 45, &store.nodes).unwrap()
            );
        }
        for old in [1, 7, 16, 33, 44] {
            let ids = consistency_proof_ids(old, 45).unwrap();
            let subset: HashMap<_, _> = ids.iter().map(|id| (*id, store.nodes[id])).collect();
            assert_eq!(
                consistency_proof(old, 45, &subset).unwrap(),
                consistency_proof(old, 45, &store.nodes).unwrap()
            );
        }
    }

    #[test]
    fn a_missing_node_is_reported_not_guessed() {
        let mut store = store_of(13);
        let ids = inclusion_proof_ids(3, 13).unwrap();
        store.nodes.remove(&ids[1]);
        assert_eq!(
            inclusion_proof(3, 13, &store.nodes),
            Err(LedgerError::MissingNode(ids[1]))
        );
        assert!(matches!(
            root_at(13, &HashMap::new()),
            Err(LedgerError::MissingNode(_))
        ));
    }

    #[test]
    fn the_frontier_of_thirteen_is_eight_four_and_one() {
        assert_eq!(
            frontier_ids(13),
            vec![
                NodeId { level: 3, index: 0 },
                NodeId { level: 2, index: 2 },
                NodeId {
                    level: 0,
                    index: 12
                },
            ]
        );
        assert!(frontier_ids(0).is_empty());
        assert_eq!(frontier_ids(64), vec![NodeId { level: 6, index: 0 }]);
    }

    #[test]
    fn the_frontier_of_the_largest_tree_has_sixty_four_nodes() {
        let ids = frontier_ids(u64::MAX);
        assert_eq!(ids.len(), 64);
        assert_eq!(
            ids[0],
            NodeId {
                level: 63,
                index: 0
            }
        );
        assert_eq!(
            ids[63],
            NodeId {
                level: 0,
                index: u64::MAX - 1
            }
        );
    }

    #[test]
    fn appending_to_seven_leaves_completes_four_nodes() {
        let store = store_of(7);
        let appended = append(7, &store.frontier, leaf_hash(b"eighth")).unwrap();
        let ids: Vec<NodeId> = appended.nodes.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            vec![
                NodeId { level: 0, index: 7 },
                NodeId { level: 1, index: 3 },
                NodeId { level: 2, index: 1 },
                NodeId { level: 3, index: 0 },
            ]
        );
        assert_eq!(appended.frontier.len(), 1);
        assert_eq!(appended.frontier[0], appended.nodes[3].1);
    }

    #[test]
    fn appending_to_an_even_tree_completes_only_the_leaf() {
        let store = store_of(6);
        let appended = append(6, &store.frontier, leaf_hash(b"x")).unwrap();
        assert_eq!(appended.nodes, vec![(NodeId::leaf(6), leaf_hash(b"x"))]);
        assert_eq!(appended.frontier.len(), 3);
    }

    #[test]
    fn append_rejects_a_frontier_of_the_wrong_length() {
        let store = store_of(5);
        assert_eq!(
            append(7, &store.frontier, leaf_hash(b"x")),
            Err(LedgerError::FrontierMismatch {
                size: 7,
                expected: 3,
                got: 2
            })
        );
        assert!(append(0, &store.frontier, leaf_hash(b"x")).is_err());
    }

    #[test]
    fn append_refuses_to_grow_a_full_tree() {
        let frontier = vec![[0u8; 32]; 64];
        assert_eq!(
            append(u64::MAX, &frontier, [0; 32]),
            Err(LedgerError::TreeFull)
        );
    }

    #[test]
    fn appending_to_the_last_possible_size_does_not_overflow() {
        // size u64::MAX - 1 has 63 frontier nodes; the new leaf completes only itself.
        let frontier = vec![[7u8; 32]; 63];
        let appended = append(u64::MAX - 1, &frontier, [1; 32]).unwrap();
        assert_eq!(appended.nodes, vec![(NodeId::leaf(u64::MAX - 1), [1; 32])]);
        assert_eq!(appended.frontier.len(), 64);
    }

    #[test]
    fn proofs_for_out_of_range_sizes_are_errors() {
        let nodes = HashMap::new();
        assert_eq!(
            inclusion_proof_ids(5, 5),
            Err(LedgerError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert!(inclusion_proof(0, 0, &nodes).is_err());
        assert_eq!(
            consistency_proof_ids(0, 5),
            Err(LedgerError::InvalidSizes { old: 0, new: 5 })
        );
        assert_eq!(
            consistency_proof_ids(6, 5),
            Err(LedgerError::InvalidSizes { old: 6, new: 5 })
        );
        assert_eq!(
            consistency_proof_ids(0, 0),
            Err(LedgerError::InvalidSizes { old: 0, new: 0 })
        );
        assert_eq!(consistency_proof(5, 5, &nodes), Ok(vec![]));
    }

    #[test]
    fn proof_ids_for_the_largest_sizes_do_not_overflow() {
        let ids = inclusion_proof_ids(u64::MAX - 1, u64::MAX).unwrap();
        assert!(ids.len() >= 63);
        // 63 perfect siblings, then the right edge [2^63, 2^64 - 1) in 63 perfect pieces.
        assert_eq!(inclusion_proof_ids(0, u64::MAX).unwrap().len(), 126);
        assert_eq!(inclusion_ranges(0, u64::MAX).unwrap().len(), 64);
        assert!(
            !consistency_proof_ids(u64::MAX - 1, u64::MAX)
                .unwrap()
                .is_empty()
        );
        assert!(!consistency_proof_ids(1, u64::MAX).unwrap().is_empty());
        assert!(!consistency_proof_ids(1 << 63, u64::MAX).unwrap().is_empty());
    }

    #[test]
    fn node_leaf_ranges_are_checked_for_overflow() {
        assert_eq!(NodeId { level: 3, index: 2 }.leaves(), Some(16..24));
        assert_eq!(
            NodeId {
                level: 63,
                index: 1
            }
            .leaves(),
            None
        );
        assert_eq!(
            NodeId {
                level: 64,
                index: 0
            }
            .leaves(),
            None
        );
        assert_eq!(NodeId::leaf(u64::MAX).leaves(), None);
    }

    /// Whether leaf `index` takes the same left/right turns in trees of `a` and `b` leaves.
    fn same_directions(index: u64, a: u64, b: u64) -> bool {
        let turns = |size: u64| -> Vec<bool> {
            inclusion_ranges(index, size)
                .unwrap()
                .iter()
                .map(|r| r.0 > index)
                .collect()
        };
        turns(a) == turns(b)
    }

    #[test]
    fn a_proof_does_not_bind_the_tree_size_on_its_own() {
        // Leaf 0 of 21 and of 32 leaves has siblings of the same shape on the same side, so the
        // proof checks against the size-21 root with either size: the size is bound by the
        // signed checkpoint that carries the root, not by the proof (as RFC 9162 §2.1.3.2
        // verifies against a signed tree head).
        let store = store_of(21);
        let proof = inclusion_proof(0, 21, &store.nodes).unwrap();
        verify_inclusion(&store.leaves[0], 0, 32, &proof, &store.root()).unwrap();
        let proof = consistency_proof(8, 27, &store_of(27).nodes).unwrap();
        let big = store_of(27);
        verify_consistency(8, 28, &proof, &root_at(8, &big.nodes).unwrap(), &big.root()).unwrap();
    }

    #[test]
    fn verify_inclusion_rejects_every_flipped_bit_wrong_index_and_wrong_size() {
        let store = store_of(21);
        let root = store.root();
        for index in [0u64, 5, 16, 19, 20] {
            let leaf = store.leaves[index as usize];
            let proof = inclusion_proof(index, 21, &store.nodes).unwrap();
            verify_inclusion(&leaf, index, 21, &proof, &root).unwrap();
            for i in 0..proof.len() {
                for bit in 0..256 {
                    let mut bad = proof.clone();
                    bad[i][bit / 8] ^= 1 << (bit % 8);
                    assert!(verify_inclusion(&leaf, index, 21, &bad, &root).is_err());
                }
            }
            for bit in 0..256 {
                let mut bad_leaf = leaf;
                bad_leaf[bit / 8] ^= 1 << (bit % 8);
                assert!(verify_inclusion(&bad_leaf, index, 21, &proof, &root).is_err());
                let mut bad_root = root;
                bad_root[bit / 8] ^= 1 << (bit % 8);
                assert!(verify_inclusion(&leaf, index, 21, &proof, &bad_root).is_err());
            }
            for wrong_index in [index.wrapping_sub(1), index + 1, index ^ 1, u64::MAX] {
                assert!(verify_inclusion(&leaf, wrong_index, 21, &proof, &root).is_err());
            }
            // A size giving the path another shape fails; see
            // a_proof_does_not_bind_the_tree_size_on_its_own for the others.
            for wrong_size in [0, 1, 6, 17, 20, 22, 42, 64, u64::MAX] {
                let same_shape = inclusion_ranges(index, wrong_size).is_ok_and(|r| {
                    r.len() == proof.len() && same_directions(index, 21, wrong_size)
                });
                if !same_shape {
                    assert!(verify_inclusion(&leaf, index, wrong_size, &proof, &root).is_err());
                }
            }
            let mut longer = proof.clone();
            longer.push(root);
            assert!(verify_inclusion(&leaf, index, 21, &longer, &root).is_err());
            let mut prepended = vec![leaf];
            prepended.extend_from_slice(&proof);
            assert!(verify_inclusion(&leaf, index, 21, &prepended, &root).is_err());
            assert!(verify_inclusion(&leaf, index, 21, &proof[1..], &root).is_err());
            assert!(verify_inclusion(&leaf, index, 21, &[], &root).is_err());
        }
    }

    #[test]
    fn the_only_leaf_of_a_one_leaf_tree_is_its_root() {
        let leaf = leaf_hash(b"only");
        verify_inclusion(&leaf, 0, 1, &[], &leaf).unwrap();
        assert!(verify_inclusion(&leaf, 0, 1, &[leaf], &leaf).is_err());
        assert!(verify_inclusion(&leaf, 0, 1, &[], &empty_root()).is_err());
    }

    #[test]
    fn verify_consistency_rejects_flipped_bits_swapped_roots_and_wrong_sizes() {
        let store = store_of(27);
        let new_root = store.root();
        for old in [1u64, 2, 3, 8, 13, 16, 26] {
            let old_root = root_at(old, &store.nodes).unwrap();
            let proof = consistency_proof(old, 27, &store.nodes).unwrap();
            verify_consistency(old, 27, &proof, &old_root, &new_root).unwrap();
            for i in 0..proof.len() {
                for bit in 0..256 {
                    let mut bad = proof.clone();
                    bad[i][bit / 8] ^= 1 << (bit % 8);
                    assert!(verify_consistency(old, 27, &bad, &old_root, &new_root).is_err());
                }
            }
            for bit in [0, 77, 255] {
                let mut bad_old = old_root;
                bad_old[bit / 8] ^= 1 << (bit % 8);
                assert!(verify_consistency(old, 27, &proof, &bad_old, &new_root).is_err());
                let mut bad_new = new_root;
                bad_new[bit / 8] ^= 1 << (bit % 8);
                assert!(verify_consistency(old, 27, &proof, &old_root, &bad_new).is_err());
            }
            assert!(verify_consistency(old, 27, &proof, &new_root, &old_root).is_err());
            for wrong_old in [0, old - 1, old + 1, 27, 28] {
                if wrong_old != old {
                    assert!(
                        verify_consistency(wrong_old, 27, &proof, &old_root, &new_root).is_err()
                    );
                }
            }
            for wrong_new in [old, 26, 28, 54, u64::MAX] {
                // Only a size that changes the proof length is sure to fail (see
                // a_proof_does_not_bind_the_tree_size_on_its_own).
                let same_shape =
                    consistency_ranges(old, wrong_new).is_ok_and(|r| r.len() == proof.len());
                if !same_shape {
                    assert!(
                        verify_consistency(old, wrong_new, &proof, &old_root, &new_root).is_err(),
                        "{old} -> {wrong_new}"
                    );
                }
            }
            let mut longer = proof.clone();
            longer.push(new_root);
            assert!(verify_consistency(old, 27, &longer, &old_root, &new_root).is_err());
            assert!(verify_consistency(old, 27, &proof[1..], &old_root, &new_root).is_err());
            assert!(verify_consistency(old, 27, &[], &old_root, &new_root).is_err());
        }
    }

    #[test]
    fn consistency_between_equal_sizes_needs_an_empty_proof_and_equal_roots() {
        let root = leaf_hash(b"a");
        verify_consistency(4, 4, &[], &root, &root).unwrap();
        assert!(verify_consistency(4, 4, &[root], &root, &root).is_err());
        assert!(verify_consistency(4, 4, &[], &root, &empty_root()).is_err());
    }

    #[test]
    fn consistency_from_the_empty_tree_is_an_error() {
        let root = empty_root();
        assert_eq!(
            verify_consistency(0, 3, &[], &root, &root),
            Err(LedgerError::InvalidSizes { old: 0, new: 3 })
        );
        assert_eq!(
            verify_consistency(0, 0, &[], &root, &root),
            Err(LedgerError::InvalidSizes { old: 0, new: 0 })
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn appending_leaf_by_leaf_gives_the_reference_root(leaves in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..300)) {
            let mut store = Store::new();
            for leaf in &leaves {
                store.push(leaf);
                prop_assert_eq!(store.root(), root_of(&store.leaves));
            }
            prop_assert_eq!(store.root(), root_of(&store.leaves));
            // The stored frontier is exactly the stored nodes frontier_ids names.
            let named: Vec<Hash> = frontier_ids(store.size).iter().map(|id| store.nodes[id]).collect();
            prop_assert_eq!(named, store.frontier.clone());
            // Every stored node is the reference root of the leaves it covers.
            for (id, hash) in &store.nodes {
                let range = id.leaves().unwrap();
                prop_assert_eq!(*hash, root_of(&store.leaves[range.start as usize..range.end as usize]));
            }
        }

        #[test]
        fn proofs_from_random_trees_verify(n in 1u64..400, a in any::<u64>(), b in any::<u64>()) {
            let store = store_of(n);
            let index = a % n;
            let old = 1 + b % n;
            let proof = inclusion_proof(index, n, &store.nodes).unwrap();
            prop_assert!(verify_inclusion(&store.leaves[index as usize], index, n, &proof, &store.root()).is_ok());
            let old_root = root_at(old, &store.nodes).unwrap();
            let proof = consistency_proof(old, n, &store.nodes).unwrap();
            prop_assert!(verify_consistency(old, n, &proof, &old_root, &store.root()).is_ok());
        }

        #[test]
        fn verifiers_never_panic_on_arbitrary_input(
            leaf in any::<[u8; 32]>(),
            root in any::<[u8; 32]>(),
            a in any::<u64>(),
            b in any::<u64>(),
            proof in prop::collection::vec(any::<[u8; 32]>(), 0..70),
        ) {
            let _ = verify_inclusion(&leaf, a, b, &proof, &root);
            let _ = verify_inclusion(&leaf, a % 1000, b % 1000, &proof, &root);
            let _ = verify_consistency(a, b, &proof, &leaf, &root);
            let _ = verify_consistency(a % 1000, b % 1000, &proof, &leaf, &root);
            let _ = inclusion_proof_ids(a, b);
            let _ = consistency_proof_ids(a, b);
            let _ = append(a, &proof, leaf);
        }
    }
}
