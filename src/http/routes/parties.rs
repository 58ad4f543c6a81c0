//! Parties, their public keys and API keys.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::{AddKey, CreateParty, CreatedApiKey, CreatedParty, KeyView, PartyView, RotateKey};
use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::problem::{ApiResult, Json, Path, Problem, Query};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_party, list_parties))
        .routes(routes!(get_party))
        .routes(routes!(party_keys, add_party_key))
        .routes(routes!(rotate_party_key))
        .routes(routes!(create_api_key))
        .routes(routes!(revoke_api_key))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Cursor: the last id of the previous page.
    #[param(format = Uuid)]
    after: Option<String>,
    /// Page size, 1–200 (default 200).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// Create a party (operators only). The API key in the answer is shown once.
#[utoipa::path(post, path = "/v1/parties", tag = "parties", security(("bearer" = [])), request_body = CreateParty,
    responses((status = 201, body = CreatedParty),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_party(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(request): Json<CreateParty>,
) -> ApiResult<(StatusCode, Json<CreatedParty>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.create_party(Some(&caller), request).await?),
    ))
}

/// List parties (operators and regulators).
#[utoipa::path(get, path = "/v1/parties", tag = "parties", security(("bearer" = [])), params(Page),
    responses((status = 200, body = Vec<PartyView>),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn list_parties(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(page): Query<Page>,
) -> ApiResult<Json<Vec<PartyView>>> {
    Ok(Json(
        state
            .app
            .parties(&caller, page.after.as_deref(), page.limit)
            .await?,
    ))
}

/// One party's record (itself, operators, regulators).
#[utoipa::path(get, path = "/v1/parties/{id}", tag = "parties", security(("bearer" = [])),
    responses((status = 200, body = PartyView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_party(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<PartyView>> {
    Ok(Json(state.app.party(&caller, &id).await?))
}

/// A party's public keys, active and retired (public: anyone may check a signature).
#[utoipa::path(get, path = "/v1/parties/{id}/keys", tag = "parties",
    responses((status = 200, body = Vec<KeyView>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn party_keys(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<KeyView>>> {
    Ok(Json(state.app.party_keys(&id).await?))
}

/// Register the first signing key of a party created without one (the party itself or an
/// operator), with the key's proof of possession. A party that has a key changes it only by a
/// signed rotation (`POST /v1/parties/{id}/keys/rotate`): 409 here.
#[utoipa::path(post, path = "/v1/parties/{id}/keys", tag = "parties", security(("bearer" = [])), request_body = AddKey,
    responses((status = 201, body = KeyView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn add_party_key(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<AddKey>,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.add_party_key(&caller, &id, request).await?),
    ))
}

/// Rotate the party's signing key: `key.rotate` signed by the current key and by the new key.
/// The current key is retired (what it signed stays verifiable); only the party itself rotates.
#[utoipa::path(post, path = "/v1/parties/{id}/keys/rotate", tag = "parties", security(("bearer" = [])), request_body = RotateKey,
    responses((status = 201, body = KeyView),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn rotate_party_key(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(request): Json<RotateKey>,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.rotate_party_key(&caller, &id, request).await?),
    ))
}

/// Issue another API key for a party (operators only); shown once.
#[utoipa::path(post, path = "/v1/parties/{id}/api-keys", tag = "parties", security(("bearer" = [])),
    responses((status = 201, body = CreatedApiKey),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn create_api_key(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.app.create_api_key(Some(&caller), &id).await?),
    ))
}

/// Revoke an API key (operators only). Idempotent.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "parties", security(("bearer" = [])),
    responses((status = 204),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn revoke_api_key(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.revoke_api_key(Some(&caller), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
