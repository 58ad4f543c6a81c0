//! Liveness, readiness, metrics and the service's published keys.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppError;
use crate::app::require_role;
use crate::domain::party::Role;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::problem::{ApiError, ApiResult, Json, Problem};
use crate::ledger::canon::Jwk;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(jwks))
        .routes(routes!(checkpoint_key))
}

/// Liveness or readiness.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(as = Health)]
pub struct Status {
    pub status: String,
}

/// Alive: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Status)))]
async fn healthz() -> Json<Status> {
    Json(Status {
        status: "ok".into(),
    })
}

/// Ready: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "system", responses(
    (status = 200, body = Status),
    (status = 503, body = Problem, content_type = "application/problem+json")))]
async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Status>> {
    state
        .app
        .store
        .ping()
        .await
        .map_err(|_| ApiError::App(AppError::Busy))?;
    Ok(Json(Status {
        status: "ready".into(),
    }))
}

/// Prometheus text exposition: requests and latency by route and status, ledger appends.
/// Operators and regulators only (route names and volumes describe the business); a scraper
/// without a key reads it on the separate metrics listener (`MIDORI_METRICS_BIND`).
#[utoipa::path(get, path = "/metrics", tag = "system", security(("bearer" = [])), responses(
    (status = 200, content_type = "text/plain", body = String),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn metrics(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Response> {
    require_role(
        &caller,
        &[Role::Operator, Role::Regulator],
        "metrics are for operators and regulators",
    )?;
    let body = state
        .metrics
        .as_ref()
        .map(|h| h.render())
        .unwrap_or_default();
    Ok(metrics_text(body))
}

/// A Prometheus text exposition answer.
pub fn metrics_text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct JwkSet {
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<Jwk>,
}

/// The service's public keys (active and retired) as an RFC 7517 JWK Set. They verify entry
/// countersignatures, checkpoints and labels.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "system", responses((status = 200, body = JwkSet)))]
async fn jwks(State(state): State<AppState>) -> ApiResult<Json<JwkSet>> {
    let keys = state
        .app
        .service_keys()
        .await?
        .into_iter()
        .map(|k| k.jwk)
        .collect();
    Ok(Json(JwkSet { keys }))
}

/// The C2SP signed-note verifier key of the active service key: `<name>+<key id>+<key>`.
#[utoipa::path(get, path = "/.well-known/checkpoint-key", tag = "system", responses((status = 200, content_type = "text/plain", body = String)))]
async fn checkpoint_key(State(state): State<AppState>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        state.app.note_verifier_key() + "\n",
    )
        .into_response()
}
