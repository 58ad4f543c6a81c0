//! The key log: every party key event, public like checkpoints and proofs (party keys are
//! public history; DESIGN.md, "Keys and signatures").

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ledger::{ConsistencyQuery, InclusionQuery, RangeQuery, SizeQuery};
use crate::app::{
    ConsistencyProof, EntryPage, InclusionProof, KeyView, RecoveryRequested, RequestRecovery,
};
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::problem::{ApiResult, Json, Path, Problem, Query};
use crate::ledger::entry::SignedRequest;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(checkpoint))
        .routes(routes!(entries))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
        .routes(routes!(export))
        .routes(routes!(request_recovery))
        .routes(routes!(approve_recovery))
}

/// The key log's signed checkpoint, latest or by size.
#[utoipa::path(get, path = "/v1/keys/ledger/checkpoint", tag = "parties", params(SizeQuery),
    responses((status = 200, content_type = "text/plain", body = String),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn checkpoint(
    State(state): State<AppState>,
    Query(q): Query<SizeQuery>,
) -> ApiResult<Response> {
    let text = state.app.key_log_checkpoint(q.size, q.witnessed).await?;
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

/// An operator asks to give a party that lost its key a new one, with the new key's proof of
/// possession and a reason. Recorded on the key log at once; the key signs nothing until a
/// regulator approves (`POST /v1/keys/recoveries/{id}/approve`).
#[utoipa::path(post, path = "/v1/parties/{id}/keys/recoveries", tag = "parties", security(("bearer" = [])), request_body = RequestRecovery,
    responses((status = 201, body = RecoveryRequested),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn request_recovery(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<RequestRecovery>,
) -> ApiResult<(StatusCode, Json<RecoveryRequested>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .app
                .request_key_recovery(&caller, &id, request)
                .await?,
        ),
    ))
}

/// A regulator approves a pending recovery: a signed `key.recovery_approve` naming
/// `recovery_id`, `party_id` and `new_key`. The new key becomes the party's; every entry it
/// signs is flagged by `midori verify --key-log`.
#[utoipa::path(post, path = "/v1/keys/recoveries/{id}/approve", tag = "parties", security(("bearer" = [])), request_body = SignedRequest,
    responses((status = 201, body = KeyView),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
async fn approve_recovery(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<SignedRequest>,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .app
                .approve_key_recovery(&caller, &id, request)
                .await?,
        ),
    ))
}
