//! Security-token operations and the reads over them.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::engine::{Receipt, Verdict};
use crate::app::{
    CouponLine, Entitlements, HistoryItem, OperationPayload, PartyPosition, Register,
};
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::problem::{ApiResult, Json, Path, Problem, Query};
use crate::ledger::entry::SignedRequest;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(operate))
        .routes(routes!(check))
        .routes(routes!(holders))
        .routes(routes!(positions))
        .routes(routes!(history))
        .routes(routes!(coupons))
        .routes(routes!(entitlements))
}

/// Perform a signed token operation (issue, transfer, approve, cancel, freeze, unfreeze, pause,
/// unpause, forced transfer, redeem, redeem all, pay a coupon, record a KPI observation). The
/// payload's `operation_id` is the idempotency key: a retry of the same request gets the
/// original receipt (with `idempotent-replay: true`); the same id with another body is a 409.
/// A refusal by the rules is a 422 `rule-violation` listing every broken rule.
#[utoipa::path(post, path = "/v1/bonds/{id}/operations", tag = "tokens", security(("bearer" = [])),
    request_body(content = SignedRequest, description = "`payload` is an OperationPayload"),
    responses((status = 201, body = Receipt),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn operate(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<SignedRequest>,
) -> ApiResult<Response> {
    let accepted = state.app.operate(&caller, &id, request).await?;
    let mut response = (StatusCode::CREATED, Json(accepted.receipt)).into_response();
    if accepted.replayed {
        response
            .headers_mut()
            .insert("idempotent-replay", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The verdict the rules would give an operation by the caller now, without writing
/// (ERC-1400 `canTransfer`): every broken rule with its code. No signature needed.
#[utoipa::path(post, path = "/v1/bonds/{id}/operations/check", tag = "tokens", security(("bearer" = [])),
    request_body = OperationPayload,
    responses((status = 200, body = Verdict),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn check(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(payload): Json<Value>,
) -> ApiResult<Json<Verdict>> {
    Ok(Json(
        state.app.check_operation(&caller, &id, payload).await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    /// The register after the first N entries (at most 2^53 − 1).
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    as_of_size: Option<u64>,
    /// The register at this instant (RFC 3339).
    #[param(format = DateTime)]
    as_of_time: Option<String>,
    /// `json` (default) or `csv`.
    #[param(inline)]
    format: Option<RegisterFormat>,
}

/// How the register is written.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegisterFormat {
    Json,
    Csv,
}

/// The holder register (社債原簿), current or as of a ledger size or a time, as JSON or CSV
/// (the bond's issuer, operators, regulators).
#[utoipa::path(get, path = "/v1/bonds/{id}/holders", tag = "tokens", security(("bearer" = [])), params(RegisterQuery),
    responses((status = 200, description = "The register, as JSON or (`format=csv`) CSV",
                content((Register = "application/json"), (String = "text/csv"))),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn holders(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<RegisterQuery>,
) -> ApiResult<Response> {
    let register = state
        .app
        .register(&caller, &id, q.as_of_size, q.as_of_time.as_deref())
        .await?;
    match q.format {
        None | Some(RegisterFormat::Json) => Ok(Json(register).into_response()),
        Some(RegisterFormat::Csv) => {
            let mut csv = String::from("holder,balance,held,frozen,frozen_all\n");
            for h in &register.holders {
                csv.push_str(&format!(
                    "{},{},{},{},{}\n",
                    h.holder, h.balance, h.held, h.frozen, h.frozen_all
                ));
            }
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
        }
    }
}

/// A party's positions across bonds (the party itself, operators, regulators).
#[utoipa::path(get, path = "/v1/parties/{id}/positions", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Vec<PartyPosition>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn positions(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<PartyPosition>>> {
    Ok(Json(state.app.positions(&caller, &id).await?))
}

/// Every ledger entry that concerns a party (the party itself, operators, regulators).
#[utoipa::path(get, path = "/v1/parties/{id}/history", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Vec<HistoryItem>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn history(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<HistoryItem>>> {
    Ok(Json(state.app.history(&caller, &id).await?))
}

/// The coupon schedule: accrual and payment dates, rate with step-ups after recorded KPI
/// misses, coupon per token, and which periods are paid (public).
#[utoipa::path(get, path = "/v1/bonds/{id}/coupons", tag = "tokens",
    responses((status = 200, body = Vec<CouponLine>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn coupons(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<CouponLine>>> {
    Ok(Json(state.app.coupons(&id).await?))
}

/// Per-holder entitlements of a coupon period, from the register at its record date (the
/// bond's issuer, operators, regulators).
#[utoipa::path(get, path = "/v1/bonds/{id}/coupons/{period}/entitlements", tag = "tokens", security(("bearer" = [])),
    responses((status = 200, body = Entitlements),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn entitlements(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, period)): Path<(String, u32)>,
) -> ApiResult<Json<Entitlements>> {
    Ok(Json(state.app.entitlements(&caller, &id, period).await?))
}
