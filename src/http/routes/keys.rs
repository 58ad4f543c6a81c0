//! The key log: every party key event, public like checkpoints and proofs (party keys are
//! public history; DESIGN.md, "Keys and signatures").

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ledger::{ConsistencyQuery, InclusionQuery, RangeQuery, SizeQuery};
use crate::app::{ConsistencyProof, EntryPage, InclusionProof};
use crate::http::AppState;
use crate::http::problem::{ApiResult, Json, Problem, Query};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(checkpoint))
        .routes(routes!(entries))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
        .routes(routes!(export))
}

/// The key log's signed checkpoint, latest or by size.
#[utoipa::path(get, path = "/v1/keys/ledger/checkpoint", tag = "parties", params(SizeQuery),
    responses((status = 200, content_type = "text/plain", body = String),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn checkpoint(
    State(state): State<AppState>,
    Query(q): Query<SizeQuery>,
) -> ApiResult<Response> {
    let text = state.app.key_log_checkpoint(q.size).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// Key log entries by index range: `key.registered` and `key.rotated`, each with the party,
/// the key (JWK) and, for a rotation, the signed request and the new key's signature.
#[utoipa::path(get, path = "/v1/keys/ledger/entries", tag = "parties", params(RangeQuery),
    responses((status = 200, body = EntryPage)))]
async fn entries(
    State(state): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<EntryPage>> {
    Ok(Json(
        state
            .app
            .key_log_entries(q.start.unwrap_or(0), q.end)
            .await?,
    ))
}

/// RFC 9162 §2.1.3 inclusion proof of entry `index` in the key log's tree of `size`.
#[utoipa::path(get, path = "/v1/keys/ledger/proofs/inclusion", tag = "parties", params(InclusionQuery),
    responses((status = 200, body = InclusionProof),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn inclusion(
    State(state): State<AppState>,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    Ok(Json(
        state.app.key_log_inclusion_proof(q.index, q.size).await?,
    ))
}

/// RFC 9162 §2.1.4 consistency proof between two sizes of the key log.
#[utoipa::path(get, path = "/v1/keys/ledger/proofs/consistency", tag = "parties", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn consistency(
    State(state): State<AppState>,
    Query(q): Query<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    Ok(Json(
        state
            .app
            .key_log_consistency_proof(q.old_size, q.new_size)
            .await?,
    ))
}

/// The whole key log as JSON Lines, for `midori verify --key-log`.
#[utoipa::path(get, path = "/v1/keys/ledger/export", tag = "parties",
    responses((status = 200, content_type = "application/jsonl", body = String)))]
async fn export(State(state): State<AppState>) -> ApiResult<Response> {
    let bytes = state.app.key_log_export().await?;
    Ok((
        [(header::CONTENT_TYPE, "application/jsonl")],
        Body::from(bytes),
    )
        .into_response())
}
