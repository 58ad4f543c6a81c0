//! Monitoring after issuance (projects, allocation, impact, reviews) and certified labels.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::engine::Receipt;
use crate::app::{
    AllocationView, ImpactView, InvestorImpact, LabelChange, LabelCheck, LabelPage, LabelView,
    MonitoringType as T, ProjectView, ReviewView, enum_str,
};
use crate::domain::bond::BondKind;
use crate::domain::label::Status;
use crate::domain::scheme::Scheme;
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::csv::{FormatQuery, wants_csv};
use crate::http::problem::{ApiResult, Json, Path, Problem, Query};
use crate::ledger::entry::SignedRequest;
use crate::store::BondFilter;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_project, list_projects))
        // One `routes!` per path: handlers of different paths in one call would each be
        // served on both paths, outside the OpenAPI document.
        .routes(routes!(post_allocation_report))
        .routes(routes!(get_allocation))
        .routes(routes!(post_impact_report))
        .routes(routes!(get_impact))
        .routes(routes!(post_review, list_reviews))
        .routes(routes!(engage_reviewer))
        .routes(routes!(get_label))
        .routes(routes!(get_label_history))
        .routes(routes!(list_labels))
        .routes(routes!(verify_label))
        .routes(routes!(list_schemes))
        .routes(routes!(get_scheme))
        .routes(routes!(party_impact))
        .routes(routes!(indicators))
}

async fn monitor(
    state: AppState,
    caller: crate::app::Caller,
    id: String,
    request: SignedRequest,
    allowed: &[T],
) -> ApiResult<(StatusCode, Json<Receipt>)> {
    let accepted = state.app.monitor(&caller, &id, request, allowed).await?;
    Ok((StatusCode::CREATED, Json(accepted.receipt)))
}

/// Register an eligible project on the bond (`project.register`), or change a registered
/// project's status (`project.update_status`). Signed by the bond's issuer.
#[utoipa::path(post, path = "/v1/bonds/{id}/projects", tag = "monitoring", security(("bearer" = [])),
    request_body(content = SignedRequest, description = "`payload` is a MonitoringPayload"),
    responses((status = 201, body = Receipt),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn post_project(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<SignedRequest>,
) -> ApiResult<(StatusCode, Json<Receipt>)> {
    monitor(
        state,
        caller,
        id,
        request,
        &[T::RegisterProject, T::UpdateProjectStatus],
    )
    .await
}

/// The bond's eligible projects, with what the bond has allocated to each (public).
#[utoipa::path(get, path = "/v1/bonds/{id}/projects", tag = "monitoring",
    responses((status = 200, body = Vec<ProjectView>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_projects(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ProjectView>>> {
    Ok(Json(state.app.projects(&id).await?))
}

/// File an allocation report (`allocation.report`), signed by the issuer. Refused with every
/// broken rule: over-allocation, double counting across bonds, refinancing beyond the
/// look-back, non-contiguous or over-long periods, a wrong unallocated balance.
#[utoipa::path(post, path = "/v1/bonds/{id}/allocation-reports", tag = "monitoring", security(("bearer" = [])),
    request_body(content = SignedRequest, description = "`payload` is a MonitoringPayload"),
    responses((status = 201, body = Receipt),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn post_allocation_report(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<SignedRequest>,
) -> ApiResult<(StatusCode, Json<Receipt>)> {
    monitor(state, caller, id, request, &[T::ReportAllocation]).await
}

/// Where the bond's proceeds stand: amount raised, issuance costs, net proceeds, allocated
/// (financing and refinancing), unallocated and its placement, per project, and every report
/// as published with the version in force (public). `Accept: text/csv` or `?format=csv` gives
/// the reports' lines as CSV.
#[utoipa::path(get, path = "/v1/bonds/{id}/allocation", tag = "monitoring", params(FormatQuery),
    responses((status = 200, content((AllocationView = "application/json"), (String = "text/csv"))),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_allocation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(format): Query<FormatQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let csv = wants_csv(&format, &headers);
    let view = state.app.allocation(&id).await?;
    Ok(if csv {
        crate::http::csv::respond(crate::http::csv::allocation(&view))
    } else {
        Json(view).into_response()
    })
}

/// File an impact report (`impact.report`), signed by the issuer.
#[utoipa::path(post, path = "/v1/bonds/{id}/impact-reports", tag = "monitoring", security(("bearer" = [])),
    request_body(content = SignedRequest, description = "`payload` is a MonitoringPayload"),
    responses((status = 201, body = Receipt),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn post_impact_report(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<SignedRequest>,
) -> ApiResult<(StatusCode, Json<Receipt>)> {
    monitor(state, caller, id, request, &[T::ReportImpact]).await
}

/// The bond's impact: every figure as published (value and unit as given, the canonical value,
/// basis, attribution, the bond's share), and the bond's pro-rated totals per indicator,
/// category and SDG goal (public). `Accept: text/csv` or `?format=csv` gives the figures as CSV.
#[utoipa::path(get, path = "/v1/bonds/{id}/impact", tag = "monitoring", params(FormatQuery),
    responses((status = 200, content((ImpactView = "application/json"), (String = "text/csv"))),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_impact(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(format): Query<FormatQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let csv = wants_csv(&format, &headers);
    let view = state.app.impact(&id).await?;
    Ok(if csv {
        crate::http::csv::respond(crate::http::csv::impact(&view))
    } else {
        Json(view).into_response()
    })
}

/// Record an external review (`review.submit`) or withdraw one's own (`review.withdraw`).
/// Verifiers only: a reviewer can review, never change a report.
#[utoipa::path(post, path = "/v1/bonds/{id}/reviews", tag = "monitoring", security(("bearer" = [])),
    request_body(content = SignedRequest, description = "`payload` is a MonitoringPayload"),
    responses((status = 201, body = Receipt),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn post_review(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<SignedRequest>,
) -> ApiResult<(StatusCode, Json<Receipt>)> {
    monitor(
        state,
        caller,
        id,
        request,
        &[T::SubmitReview, T::WithdrawReview],
    )
    .await
}

/// Engage an external reviewer for the bond (`review.engage`, signed by the issuer): only
/// engaged verifiers may review it (ICMA: the issuer appoints its reviewer).
#[utoipa::path(post, path = "/v1/bonds/{id}/reviewers", tag = "monitoring", security(("bearer" = [])),
    request_body(content = SignedRequest, description = "`payload` is a MonitoringPayload"),
    responses((status = 201, body = Receipt),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn engage_reviewer(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<SignedRequest>,
) -> ApiResult<(StatusCode, Json<Receipt>)> {
    monitor(state, caller, id, request, &[T::EngageReviewer]).await
}

/// The bond's external reviews (public).
#[utoipa::path(get, path = "/v1/bonds/{id}/reviews", tag = "monitoring",
    responses((status = 200, body = Vec<ReviewView>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn list_reviews(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ReviewView>>> {
    Ok(Json(state.app.reviews(&id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelAtQuery {
    /// The day (Japan), `YYYY-MM-DD`: the standing as it was then, or — for a day after today —
    /// as it will be if no new fact is recorded; unsigned. Today if absent.
    #[param(format = Date)]
    on: Option<String>,
    /// The scheme id (one of the bond's `label_schemes`); the bond's first if absent.
    #[param(schema_with = super::scheme_id_schema)]
    scheme: Option<String>,
}

/// The bond's label under one of its schemes — evaluated from the ledger at this read,
/// deadlines included — today with its compact JWS (EdDSA), verifiable with
/// `/.well-known/jwks.json`, or on a past day (`?on=`) unsigned (public).
#[utoipa::path(get, path = "/v1/bonds/{id}/label", tag = "labels", params(LabelAtQuery),
    responses((status = 200, body = LabelView),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_label(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<LabelAtQuery>,
) -> ApiResult<Json<LabelView>> {
    let on = query
        .on
        .as_deref()
        .map(crate::domain::wire::parse_date)
        .transpose()
        .map_err(|e| crate::app::AppError::BadRequest(format!("on: {e}")))?;
    Ok(Json(
        state.app.label(&id, on, query.scheme.as_deref()).await?,
    ))
}

/// Every label change recorded on the bond's ledger, with the date it took effect (public).
#[utoipa::path(get, path = "/v1/bonds/{id}/label/history", tag = "labels", params(SchemeQuery),
    responses((status = 200, body = Vec<LabelChange>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_label_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<SchemeQuery>,
) -> ApiResult<Json<Vec<LabelChange>>> {
    Ok(Json(
        state
            .app
            .label_history(&id, query.scheme.as_deref())
            .await?,
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchemeQuery {
    /// Only the changes of the label under this scheme id; every label's if absent.
    #[param(schema_with = super::scheme_id_schema)]
    scheme: Option<String>,
}

/// The label schemes midori awards labels under, each a versioned rulebook pinned by its
/// SHA-256, every parameter with its source (public).
#[utoipa::path(get, path = "/v1/label-schemes", tag = "labels",
    responses((status = 200, body = Vec<Scheme>)))]
async fn list_schemes() -> Json<Vec<Scheme>> {
    Json(crate::domain::scheme::all().to_vec())
}

/// One label scheme, its latest version (public).
#[utoipa::path(get, path = "/v1/label-schemes/{id}", tag = "labels",
    params(("id" = String, Path, description = "scheme id, e.g. `icma-gbp`")),
    responses((status = 200, body = Scheme),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_scheme(Path(id): Path<String>) -> ApiResult<Json<Scheme>> {
    crate::domain::scheme::latest(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| crate::app::AppError::NotFound(format!("no label scheme {id:?}")).into())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelQuery {
    /// Bonds labelled under this scheme id, with their status under it; each bond's first
    /// scheme if absent.
    #[param(schema_with = super::scheme_id_schema)]
    scheme: Option<String>,
    status: Option<Status>,
    kind: Option<BondKind>,
    /// An ICMA category in the bond's framework, or a sub-category it names
    /// (`renewable_energy/hydro`).
    #[param(schema_with = super::category_path_schema)]
    category: Option<String>,
    #[param(minimum = 1, maximum = 17)]
    sdg_goal: Option<u8>,
    /// Cursor: the `next` of the previous page (an id).
    #[param(format = Uuid)]
    after: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// Bonds with their label status now, filtered by status, kind, category, SDG goal (public).
#[utoipa::path(get, path = "/v1/labels", tag = "labels", params(LabelQuery),
        responses((status = 200, body = LabelPage),
              (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn list_labels(
    State(state): State<AppState>,
    Query(query): Query<LabelQuery>,
) -> ApiResult<Json<LabelPage>> {
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
        issuer_id: None,
        category: crate::domain::taxonomy::filter_path(query.category.as_deref())
            .map_err(|e| crate::app::AppError::BadRequest(e.to_string()))?,
        sdg_goal: query.sdg_goal,
    };
    let status = query.status.map(|s| s.as_str());
    Ok(Json(
        state
            .app
            .labels(
                &filter,
                query.scheme.as_deref(),
                status,
                query.after.as_deref(),
                query.limit,
            )
            .await?,
    ))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelToken {
    /// A label's compact JWS.
    pub jws: String,
}

/// Check a label JWS: its signature against the published service keys, its expiry, and
/// whether the bond's label is still what it says (public).
#[utoipa::path(post, path = "/v1/labels/verify", tag = "labels", request_body = LabelToken,
    responses((status = 200, body = LabelCheck),
              (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn verify_label(
    State(state): State<AppState>,
    Json(token): Json<LabelToken>,
) -> ApiResult<Json<LabelCheck>> {
    Ok(Json(state.app.verify_label(&token.jws).await?))
}

/// An investor's share of the impact of each bond it holds: holding ÷ issue size × the bond's
/// pro-rated impact (the investor itself, or a regulator).
#[utoipa::path(get, path = "/v1/parties/{id}/impact", tag = "monitoring", security(("bearer" = [])),
    responses((status = 200, body = Vec<InvestorImpact>),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn party_impact(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<InvestorImpact>>> {
    Ok(Json(state.app.party_impact(&caller, &id).await?))
}

/// The impact indicator catalogue (ICMA Harmonised Framework core indicators, adaptation and
/// resilience among them), each with its canonical unit and every unit spelling accepted for it
/// with its exact factor (public).
#[utoipa::path(get, path = "/v1/impact/indicators", tag = "monitoring",
    responses((status = 200, body = Vec<crate::domain::indicators::IndicatorView>)))]
async fn indicators() -> Json<Vec<crate::domain::indicators::IndicatorView>> {
    Json(crate::domain::indicators::catalogue())
}
