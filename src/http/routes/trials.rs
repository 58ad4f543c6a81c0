//! Regulatory sandbox trials and the regulator's audit of every ledger.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ledger::{ConsistencyQuery, InclusionQuery, RangeQuery, SizeQuery};
use crate::app::engine::Receipt;
use crate::app::{ConsistencyProof, EntryPage, InclusionProof};
use crate::app::{LedgerAudit, TrialCreated, TrialView};
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::problem::{ApiResult, Json, Path, Problem, Query};
use crate::ledger::entry::SignedRequest;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_trial, list_trials))
        .routes(routes!(get_trial))
        .routes(routes!(submit))
        .routes(routes!(checkpoint))
        .routes(routes!(entries))
        .routes(routes!(inclusion))
        .routes(routes!(consistency))
        .routes(routes!(export))
        .routes(routes!(replay))
        .routes(routes!(report))
        .routes(routes!(audit_ledgers))
}

/// Create a trial (regulators). The body is a signed `trial.create` payload carrying the
/// rulebook's TOML text; the trial's ledger starts with it, pinned by its SHA-256.
#[utoipa::path(post, path = "/v1/trials", tag = "sandbox", security(("bearer" = [])), request_body = SignedRequest,
    responses((status = 201, body = TrialCreated),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_trial(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(request): Json<SignedRequest>,
) -> ApiResult<(StatusCode, Json<TrialCreated>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.create_trial(&caller, request).await?),
    ))
}

/// Every trial (regulators).
#[utoipa::path(get, path = "/v1/trials", tag = "sandbox", security(("bearer" = [])),
    responses((status = 200, body = Vec<TrialView>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_trials(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<TrialView>>> {
    Ok(Json(state.app.trials(&caller).await?))
}

/// One trial (regulators).
#[utoipa::path(get, path = "/v1/trials/{id}", tag = "sandbox", security(("bearer" = [])),
    responses((status = 200, body = TrialView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_trial(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TrialView>> {
    Ok(Json(state.app.trial(&caller, &id).await?))
}

/// Submit a signed trial transaction (`sandbox.tx`). It is judged by the trial's rulebook and
/// recorded on the trial's ledger either way: `status` is `accepted` or `refused`, and
/// `verdict` lists every broken rule id (sorted) with its reason. `tx_id` is the idempotency
/// key.
#[utoipa::path(post, path = "/v1/trials/{id}/transactions", tag = "sandbox", security(("bearer" = [])),
    request_body(content = SignedRequest, description = "`payload` is a TrialTxPayload"),
    responses((status = 201, body = Receipt),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn submit(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<SignedRequest>,
) -> ApiResult<Response> {
    let accepted = state.app.trial_tx(&caller, &id, request).await?;
    let mut response = (StatusCode::CREATED, Json(accepted.receipt)).into_response();
    if accepted.replayed {
        response.headers_mut().insert(
            "idempotent-replay",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// The trial ledger's signed checkpoint, latest or by size (public).
#[utoipa::path(get, path = "/v1/trials/{id}/ledger/checkpoint", tag = "sandbox", params(SizeQuery),
    responses((status = 200, content_type = "text/plain", body = String),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn checkpoint(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SizeQuery>,
) -> ApiResult<Response> {
    let text = state.app.trial_checkpoint(&id, q.size, q.witnessed).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// The trial's ledger as JSON Lines, refusals included (regulators).
#[utoipa::path(get, path = "/v1/trials/{id}/ledger/export", tag = "sandbox", security(("bearer" = [])),
    responses((status = 200, content_type = "application/jsonl", body = String),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn export(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let _permit = state.limits.heavy_read()?;
    let bytes = state.app.trial_export(&caller, &id).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/jsonl")],
        Body::from(bytes),
    )
        .into_response())
}

#[derive(Deserialize, Serialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Another rulebook's TOML text (what-if); absent: the rulebook the trial ran with.
    #[serde(default)]
    pub rulebook: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayResponse {
    /// `mode` (confirm / what_if), `mismatches`, `consistent` and the `report`.
    #[schema(value_type = Object)]
    pub result: Value,
    /// The same, as text.
    pub summary: String,
}

/// Replay the trial deterministically from its ledger (regulators): under the rulebook it ran
/// with, confirming every recorded verdict or listing each mismatch; under another rulebook
/// version, listing the verdicts that would change.
#[utoipa::path(post, path = "/v1/trials/{id}/replay", tag = "sandbox", security(("bearer" = [])),
    request_body = ReplayRequest,
    responses((status = 200, body = ReplayResponse),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn replay(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<ReplayRequest>,
) -> ApiResult<Json<ReplayResponse>> {
    let _permit = state.limits.heavy_read()?;
    let outcome = state
        .app
        .replay_trial(&caller, &id, request.rulebook.as_deref())
        .await?;
    Ok(Json(ReplayResponse {
        summary: outcome.summary(),
        result: serde_json::to_value(&outcome)
            .map_err(|e| crate::app::AppError::Internal(e.to_string()))?,
    }))
}

/// The trial's report (regulators): transactions accepted and refused, violations by rule,
/// each participant's exposure against its caps, outstanding against the aggregate cap,
/// holders, exit and reporting status.
#[utoipa::path(get, path = "/v1/trials/{id}/report", tag = "sandbox", security(("bearer" = [])),
    responses((status = 200, body = Object),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn report(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    // Read from the state kept for the trial; a trial not written to since that state was
    // kept is replayed, and that, like any replay, under the heavy-read limit.
    let report = match state.app.kept_trial_report(&caller, &id).await? {
        Some(report) => report,
        None => {
            let _permit = state.limits.heavy_read()?;
            state.app.replay_trial(&caller, &id, None).await?.report
        }
    };
    Ok(Json(serde_json::to_value(&report).map_err(|e| {
        crate::app::AppError::Internal(e.to_string())
    })?))
}

/// Every ledger — bonds and trials — audited now (regulators): signatures, canonical form
/// and Merkle root against the latest signed checkpoint, token invariants and the state served
/// (bonds), recorded verdicts (trials). Each ledger from where its last successful audit
/// stopped (that checkpoint proven a prefix of the new one), or from entry 0 with `full=true`.
#[utoipa::path(get, path = "/v1/audit/ledgers", tag = "sandbox", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Vec<LedgerAudit>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn audit_ledgers(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<LedgerAudit>>> {
    let _permit = state.limits.heavy_read()?;
    Ok(Json(state.app.audit_ledgers(&caller, q.full).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `true`: re-verify every ledger from entry 0, ignoring what earlier audits verified.
    #[serde(default)]
    full: bool,
}

/// Entries of the trial's ledger by index range (regulators).
#[utoipa::path(get, path = "/v1/trials/{id}/ledger/entries", tag = "sandbox", security(("bearer" = [])), params(RangeQuery),
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
            .trial_entries(&caller, &id, q.start.unwrap_or(0), q.end)
            .await?,
    ))
}

/// RFC 9162 §2.1.3 inclusion proof of entry `index` in the trial ledger's tree of `size`
/// (public).
#[utoipa::path(get, path = "/v1/trials/{id}/ledger/proofs/inclusion", tag = "sandbox", params(InclusionQuery),
    responses((status = 200, body = InclusionProof),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn inclusion(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    Ok(Json(
        state
            .app
            .trial_inclusion_proof(&id, q.index, q.size)
            .await?,
    ))
}

/// RFC 9162 §2.1.4 consistency proof between two sizes of the trial ledger (public).
#[utoipa::path(get, path = "/v1/trials/{id}/ledger/proofs/consistency", tag = "sandbox", params(ConsistencyQuery),
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
            .trial_consistency_proof(&id, q.old_size, q.new_size)
            .await?,
    ))
}
