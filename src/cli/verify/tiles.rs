//! `midori verify --tiles URL`: a ledger read from its C2SP tlog-tiles (the service's, or any
//! static mirror of them) instead of an export. The entry bundles are fetched in order on a
//! thread of their own, a few ahead of the verifier, so memory stays flat in the ledger's size.

use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;

use crate::ledger::tiles::{TILE_WIDTH, Tile, TileKind, unbundle};

/// How long one tile may take to arrive.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer read: a full bundle of the longest entries.
const TILE_BYTES_MAX: usize = 256 * (2 + u16::MAX as usize);
/// Bundles fetched ahead of the verifier.
const AHEAD: usize = 4;

/// GET `URL/path` (with the API key when given); the body of a 200 answer.
pub(super) fn fetch(url: &str, path: &str, token: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let full = format!("{}/{path}", url.trim_end_matches('/'));
    // A runtime of its own on a thread of its own: the CLI may already be inside a runtime,
    // where another can be neither blocked on nor dropped.
    let answer = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                runtime.block_on(crate::http::client::request(
                    hyper::Method::GET,
                    &full,
                    token,
                    None,
                    TILE_BYTES_MAX,
                    FETCH_TIMEOUT,
                ))
            })
            .join()
            .map_err(|_| anyhow::anyhow!("fetching {full}: the fetching thread failed"))
    })?
    .map_err(|e| anyhow::anyhow!(e))
    .with_context(|| format!("fetching {full}"))?;
    if answer.status != 200 {
        anyhow::bail!(
            "fetching {full}: HTTP {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
                .chars()
                .take(300)
                .collect::<String>()
        );
    }
    Ok(answer.body.to_vec())
}

/// The tree size a checkpoint names (its second line). The checkpoint's signature and root are
/// checked by the verifier; a size that lies makes the root fail.
pub(super) fn checkpoint_size(checkpoint: &str) -> anyhow::Result<u64> {
    checkpoint
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .context("the checkpoint has no tree size on its second line")
}

/// The entries `[first, size)` from the entry bundles under `URL/tile/entries/`, in order.
pub(super) fn entries(
    url: &str,
    token: Option<String>,
    first: u64,
    size: u64,
) -> impl Iterator<Item = anyhow::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::sync_channel::<anyhow::Result<Vec<Vec<u8>>>>(AHEAD);
    let url = url.to_owned();
    std::thread::spawn(move || {
        let mut index = first / TILE_WIDTH;
        while index * TILE_WIDTH < size {
            let width = (size - index * TILE_WIDTH).min(TILE_WIDTH) as u16;
            let tile = Tile {
                kind: TileKind::Entries,
                index,
                width,
            };
            let bundle =
                fetch(&url, &format!("tile/{}", tile.path()), token.as_deref()).and_then(|bytes| {
                    let entries = unbundle(&bytes)
                        .with_context(|| format!("tile/{}: not an entry bundle", tile.path()))?;
                    if entries.len() != usize::from(width) {
                        anyhow::bail!(
                            "tile/{}: {} entries where the checkpoint needs {width}",
                            tile.path(),
                            entries.len()
                        );
                    }
                    // The first bundle may start before `first` (an earlier audit's size).
                    let skip = (first.saturating_sub(index * TILE_WIDTH)) as usize;
                    Ok(entries[skip..].iter().map(|e| e.to_vec()).collect())
                });
            let failed = bundle.is_err();
            if tx.send(bundle).is_err() || failed {
                return;
            }
            index += 1;
        }
    });
    rx.into_iter().flat_map(|bundle| match bundle {
        Ok(entries) => entries.into_iter().map(Ok).collect::<Vec<_>>(),
        Err(e) => vec![Err(e)],
    })
}
