//! A bond's ledger: checkpoints, entries, proofs and the export.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{ConsistencyProof, EntryPage, InclusionProof};
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::problem::{ApiResult, Json, Path, Problem, Query};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(checkpoint))
        .routes(routes!(entries))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
        .routes(routes!(export))
}

// Tree sizes and indices are at most 2^53 − 1 (`ledger::canon::MAX_SAFE_INTEGER`, the largest
// integer every JSON reader keeps exactly); larger ones are a 400.

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SizeQuery {
    /// A tree size; the latest when absent.
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub(crate) size: Option<u64>,
    /// `true`: only a checkpoint cosigned by every witness the service submits to — the latest
    /// such, or the one of `size` if it is (404 when there is none yet, or no witness).
    #[serde(default)]
    pub(crate) witnessed: bool,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First index (default 0). Past the end, the page is empty.
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub(crate) start: Option<u64>,
    /// One past the last index (default: the ledger's size). At most 1,000 entries a page.
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub(crate) end: Option<u64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The entry's index; one the tree does not hold is a 404.
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub(crate) index: u64,
    /// Tree size the proof is for (default: the latest).
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub(crate) size: Option<u64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The earlier tree size, at least 1 (RFC 9162 §2.1.4); one past the new size is a 404.
    #[param(minimum = 1, maximum = 9007199254740991_u64)]
    pub(crate) old_size: u64,
    /// Default: the latest size.
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub(crate) new_size: Option<u64>,
}

/// The ledger's signed checkpoint (C2SP tlog-checkpoint as a signed note), latest or by size.
#[utoipa::path(get, path = "/v1/bonds/{id}/ledger/checkpoint", tag = "ledger", params(SizeQuery),
    responses((status = 200, content_type = "text/plain", body = String),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn checkpoint(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SizeQuery>,
) -> ApiResult<Response> {
    let row = state.app.checkpoint(&id, q.size, q.witnessed).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        row.note,
    )
        .into_response())
}

/// Entries by index range (the bond's issuer, operators, regulators).
#[utoipa::path(get, path = "/v1/bonds/{id}/ledger/entries", tag = "ledger", security(("bearer" = [])), params(RangeQuery),
    responses((status = 200, body = EntryPage),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn entries(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<EntryPage>> {
    Ok(Json(
        state
            .app
            .entries(&caller, &id, q.start.unwrap_or(0), q.end)
            .await?,
    ))
}

/// RFC 9162 §2.1.3 inclusion proof of entry `index` in the tree of `size` (public).
#[utoipa::path(get, path = "/v1/bonds/{id}/ledger/proofs/inclusion", tag = "ledger", params(InclusionQuery),
    responses((status = 200, body = InclusionProof),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn inclusion(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    Ok(Json(state.app.inclusion_proof(&id, q.index, q.size).await?))
}

/// RFC 9162 §2.1.4 consistency proof between two tree sizes (public).
#[utoipa::path(get, path = "/v1/bonds/{id}/ledger/proofs/consistency", tag = "ledger", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn consistency(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    Ok(Json(
        state
            .app
            .consistency_proof(&id, q.old_size, q.new_size)
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// First entry (default 0): an auditor who verified the ledger up to a checkpoint of this
    /// size fetches only what follows (`midori verify --since`).
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub(crate) from: Option<u64>,
}

/// The whole ledger (or the entries from `from`) as JSON Lines, one canonical entry (leaf
/// bytes) a line, in leaf order; streamed page by page (the bond's issuer, operators,
/// regulators).
#[utoipa::path(get, path = "/v1/bonds/{id}/ledger/export", tag = "ledger", security(("bearer" = [])), params(ExportQuery),
    responses((status = 200, content_type = "application/jsonl", body = String),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn export(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    // The first page is read before answering, so that access and existence errors are
    // proper problems; later pages stream. The size read first bounds the export, so a
    // concurrent append cannot tear it.
    let permit = state.limits.heavy_read()?;
    let from = q.from.unwrap_or(0);
    let (first, size) = state.app.export_page(&caller, &id, from).await?;
    let next = from + first.len() as u64;
    let stream = futures_util::stream::unfold(Some((first, next)), move |cursor| {
        // Held until the stream ends: an export counts against the heavy-read limit.
        let _permit = &permit;
        let state = state.clone();
        let id = id.clone();
        let caller = caller.clone();
        async move {
            let (page, next) = cursor?;
            let mut chunk = Vec::new();
            for leaf in &page {
                chunk.extend_from_slice(leaf);
                chunk.push(b'\n');
            }
            let following = if page.is_empty() || next >= size {
                None
            } else {
                match state.app.export_page(&caller, &id, next).await {
                    Ok((mut rows, _)) => {
                        rows.truncate((size - next) as usize);
                        let after = next + rows.len() as u64;
                        Some((rows, after))
                    }
                    Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
                }
            };
            Some((Ok::<_, std::io::Error>(chunk), following))
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/jsonl")],
        Body::from_stream(stream),
    )
        .into_response())
}
