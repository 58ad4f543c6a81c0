//! The bond registry.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{AppendReceipt, BondDocuments, BondPage, BondView, Registered, enum_str};
use crate::domain::bond::BondKind;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::problem::{ApiResult, Json, Path, Problem, Query};
use crate::ledger::entry::SignedRequest;
use crate::store::BondFilter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_bond, list_bonds))
        .routes(routes!(get_bond))
        .routes(routes!(add_document, list_documents))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BondQuery {
    kind: Option<BondKind>,
    /// Issuer party id.
    #[param(format = Uuid)]
    issuer: Option<String>,
    /// An ICMA category in the bond's framework, or a sub-category it names
    /// (`renewable_energy/hydro`).
    #[param(schema_with = super::category_path_schema)]
    category: Option<String>,
    /// A UN SDG goal (1–17) any of whose targets the bond names.
    #[param(minimum = 1, maximum = 17)]
    sdg_goal: Option<u8>,
    /// Cursor: the `next` of the previous page (an id).
    #[param(format = Uuid)]
    after: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// Register a bond (issuers). The body is a signed `bond.register` payload; the bond's ledger
/// is created with this request as entry 0, countersigned by the service.
#[utoipa::path(post, path = "/v1/bonds", tag = "bonds", security(("bearer" = [])), request_body = SignedRequest,
    responses((status = 201, body = Registered),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn register_bond(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(request): Json<SignedRequest>,
) -> ApiResult<(StatusCode, Json<Registered>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.register_bond(&caller, request).await?),
    ))
}

/// List bonds (public), filtered, in registration order.
#[utoipa::path(get, path = "/v1/bonds", tag = "bonds", params(BondQuery),
    responses((status = 200, body = BondPage),
              (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn list_bonds(
    State(state): State<AppState>,
    Query(query): Query<BondQuery>,
) -> ApiResult<Json<BondPage>> {
    if let Some(goal) = query.sdg_goal
        && !(1..=17).contains(&goal)
    {
        return Err(crate::app::AppError::BadRequest(format!(
            "sdg_goal must be between 1 and 17, got {goal}"
        ))
        .into());
    }
    let filter = BondFilter {
        kind: query.kind.as_ref().map(enum_str).transpose()?,
        issuer_id: query.issuer,
        category: crate::domain::taxonomy::filter_path(query.category.as_deref())
            .map_err(|e| crate::app::AppError::BadRequest(e.to_string()))?,
        sdg_goal: query.sdg_goal,
    };
    Ok(Json(
        state
            .app
            .bonds(&filter, query.after.as_deref(), query.limit)
            .await?,
    ))
}

/// One bond: its terms as signed and its ledger's origin and size (public).
#[utoipa::path(get, path = "/v1/bonds/{id}", tag = "bonds",
    responses((status = 200, body = BondView),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_bond(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<BondView>> {
    Ok(Json(state.app.bond(&id).await?))
}

/// Every document of a bond (public): those of its registration, then those its issuer added
/// since, each with the ledger entry that recorded it and its SHA-256.
#[utoipa::path(get, path = "/v1/bonds/{id}/documents", tag = "bonds",
    responses((status = 200, body = BondDocuments),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_documents(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<BondDocuments>> {
    Ok(Json(state.app.bond_documents(&id).await?))
}

/// Attach a document to a bond (its issuer). The body is a signed `bond.add_document`
/// payload; it becomes the next entry of the bond's ledger.
#[utoipa::path(post, path = "/v1/bonds/{id}/documents", tag = "bonds", security(("bearer" = [])), request_body = SignedRequest,
    responses((status = 201, body = AppendReceipt),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn add_document(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<SignedRequest>,
) -> ApiResult<(StatusCode, Json<AppendReceipt>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.add_document(&caller, &id, request).await?),
    ))
}
