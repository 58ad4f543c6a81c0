//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): a ledger's Merkle tree served as immutable
//! tiles of 256 hashes and its entries as bundles of 256, so that any static file server or
//! CDN can mirror it and any tlog-tiles client can verify it against a signed checkpoint.
//!
//! A hash tile at level `L` holds the tree's node hashes at tree level `8·L`: hash `i` of tile
//! `N` is the root of the perfect subtree over leaves `[(N·256+i)·256^L, (N·256+i+1)·256^L)`.
//! A partial tile holds the first `W` (1–255) of them; its content never changes either. An
//! entry bundle holds the entries (leaf bytes) of a level-0 tile, each prefixed with its length
//! as a big-endian `u16`.

use std::fmt;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;
/// Highest tile level.
pub const LEVEL_MAX: u8 = 63;
/// Longest entry an entry bundle can carry (its length is a `u16`).
pub const BUNDLE_ENTRY_BYTES_MAX: usize = u16::MAX as usize;

/// What a tile path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileKind {
    /// Node hashes at tree level `8 · level`.
    Hashes { level: u8 },
    /// The entries of the level-0 tile with the same index.
    Entries,
}

/// A tile: its kind, index, and width (256 for a full tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tile {
    pub kind: TileKind,
    pub index: u64,
    pub width: u16,
}

/// A path that is not a tile path of the specification.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a tlog-tiles path: {0}")]
pub struct BadTilePath(pub String);

impl Tile {
    /// Parse the part of a tile URL after `tile/`: `<L>/<N>[.p/<W>]` or
    /// `entries/<N>[.p/<W>]`. Only the canonical form is accepted (the path must be what
    /// [`Tile::path`] writes).
    pub fn parse(path: &str) -> Result<Tile, BadTilePath> {
        let bad = |why: &str| BadTilePath(format!("{path:?}: {why}"));
        let (head, rest) = path.split_once('/').ok_or_else(|| bad("no index"))?;
        let kind = if head == "entries" {
            TileKind::Entries
        } else {
            let level: u8 = head.parse().map_err(|_| bad("the level is 0–63"))?;
            if level > LEVEL_MAX {
                return Err(bad("the level is 0–63"));
            }
            TileKind::Hashes { level }
        };
        let (groups, width) = match rest.split_once(".p/") {
            Some((groups, w)) => {
                let width: u16 = w.parse().map_err(|_| bad("a partial width is 1–255"))?;
                if !(1..TILE_WIDTH as u16).contains(&width) {
                    return Err(bad("a partial width is 1–255"));
                }
                (groups, width)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let parts: Vec<&str> = groups.split('/').collect();
        let mut index: u64 = 0;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let digits = if last {
                *part
            } else {
                part.strip_prefix('x')
                    .ok_or_else(|| bad("every index group but the last begins with x"))?
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("index groups are three digits"));
            }
            let group: u64 = digits
                .parse()
                .map_err(|_| bad("index groups are three digits"))?;
            index = index
                .checked_mul(1_000)
                .and_then(|n| n.checked_add(group))
                .ok_or_else(|| bad("index too large"))?;
        }
        let tile = Tile { kind, index, width };
        if tile.path() != path {
            return Err(bad("not in canonical form"));
        }
        Ok(tile)
    }

    /// The path after `tile/`.
    pub fn path(&self) -> String {
        let head = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let mut n = self.index;
        let mut out = format!("{:03}", n % 1_000);
        n /= 1_000;
        while n > 0 {
            out = format!("x{:03}/{out}", n % 1_000);
            n /= 1_000;
        }
        if u64::from(self.width) < TILE_WIDTH {
            out = format!("{out}.p/{}", self.width);
        }
        format!("{head}/{out}")
    }

    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tree level of the hashes (0, the leaves, for an entry bundle).
    pub fn tree_level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes { level } => level.saturating_mul(8),
            TileKind::Entries => 0,
        }
    }

    /// The node indices (at [`Tile::tree_level`]) the tile holds: `index·256 .. +width`.
    pub fn nodes(&self) -> Option<std::ops::Range<u64>> {
        let start = self.index.checked_mul(TILE_WIDTH)?;
        Some(start..start.checked_add(u64::from(self.width))?)
    }

    /// Whether a tree of `size` leaves holds every hash (or entry) of the tile. A partial tile
    /// of any width up to what the tree holds is served: its content is the same whichever
    /// checkpoint made it.
    pub fn within(&self, size: u64) -> bool {
        let Some(nodes) = self.nodes() else {
            return false;
        };
        // Nodes at tree level h with index < size >> h are complete subtrees.
        let level = u32::from(self.tree_level());
        let complete = if level >= 64 { 0 } else { size >> level };
        nodes.end <= complete
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// An entry bundle: each entry prefixed with its length (big-endian `u16`). `Err` names the
/// first entry (its position in the bundle) too long for one.
pub fn bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, usize> {
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let len = u16::try_from(entry.len()).map_err(|_| i)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// The entries of a bundle, or `None` if it is not one.
pub fn unbundle(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_at_checked(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (entry, rest) = rest.split_at_checked(len)?;
        out.push(entry);
        bytes = rest;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(level: u8, index: u64, width: u16) -> Tile {
        Tile {
            kind: TileKind::Hashes { level },
            index,
            width,
        }
    }

    #[test]
    fn paths_are_the_specifications_examples() {
        for (index, path) in [
            (0, "0/000"),
            (5, "0/005"),
            (999, "0/999"),
            (1_000, "0/x001/000"),
            (1_234_067, "0/x001/x234/067"),
            (123_456_789, "0/x123/x456/789"),
        ] {
            let tile = hashes(0, index, 256);
            assert_eq!(tile.path(), path);
            assert_eq!(Tile::parse(path), Ok(tile));
        }
        assert_eq!(hashes(0, 1_234_067, 8).path(), "0/x001/x234/067.p/8");
        assert_eq!(hashes(2, 0, 1).path(), "2/000.p/1");
        let entries = Tile {
            kind: TileKind::Entries,
            index: 1_234_067,
            width: 256,
        };
        assert_eq!(entries.path(), "entries/x001/x234/067");
        assert_eq!(Tile::parse("entries/x001/x234/067"), Ok(entries));
        assert_eq!(Tile::parse("2/000.p/1"), Ok(hashes(2, 0, 1)));
    }

    #[test]
    fn only_canonical_paths_parse() {
        for path in [
            "",
            "0",
            "0/",
            "00/000",
            "64/000",
            "0/0",
            "0/0000",
            "0/x000",
            "0/001/000",
            "0/x001/x000",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/08",
            "0/000.p/",
            "0/00a",
            "data/000",
            "0/x001/000/",
            "-1/000",
            "0/x01/000",
        ] {
            assert!(Tile::parse(path).is_err(), "{path:?} parsed");
        }
        // A leading zero group is not canonical: 1 is `001`, not `x000/001`.
        assert!(Tile::parse("0/x000/001").is_err());
    }

    #[test]
    fn a_tree_of_70000_holds_the_tiles_the_specification_lists() {
        let size = 70_000;
        // 273 full level-0 tiles and a partial one of width 112.
        assert!(hashes(0, 272, 256).within(size));
        assert!(!hashes(0, 273, 256).within(size));
        assert!(hashes(0, 273, 112).within(size));
        assert!(!hashes(0, 273, 113).within(size));
        // One full level-1 tile, a partial one of width 17; a partial level-2 tile of width 1.
        assert!(hashes(1, 0, 256).within(size));
        assert!(hashes(1, 1, 17).within(size));
        assert!(!hashes(1, 1, 18).within(size));
        assert!(hashes(2, 0, 1).within(size));
        assert!(!hashes(2, 0, 2).within(size));
        assert!(!hashes(3, 0, 1).within(size));
    }

    #[test]
    fn bundles_round_trip_and_refuse_entries_a_u16_cannot_measure() {
        let entries: Vec<&[u8]> = vec![b"a", b"", b"{\"k\":1}"];
        let bytes = bundle(entries.iter().copied()).unwrap();
        assert_eq!(&bytes[..3], &[0, 1, b'a']);
        assert_eq!(unbundle(&bytes), Some(entries));
        let long = vec![0u8; BUNDLE_ENTRY_BYTES_MAX + 1];
        assert_eq!(bundle([b"ok".as_slice(), long.as_slice()]), Err(1));
        assert_eq!(unbundle(&[0, 5, 1]), None);
    }
}
