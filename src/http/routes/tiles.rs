//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>) for bond and trial ledgers and the key log: each is a
//! tiled log whose prefix is its `…/ledger` path (its checkpoint is `<prefix>/checkpoint`).
//! Tiles never change once served, so they carry long-lived caching headers; a mirror or a CDN
//! can keep them. The index `N` travels in three-digit groups (`x001/x234/067`), so the routes
//! take the rest of the path; the OpenAPI document describes them with one `{index}` parameter.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;
use crate::http::auth::Auth;
use crate::http::problem::{ApiResult, Path, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route(
            "/v1/bonds/{id}/ledger/tile/entries/{*index}",
            get(bond_entries),
        )
        .route(
            "/v1/bonds/{id}/ledger/tile/{level}/{*index}",
            get(bond_hashes),
        )
        .route(
            "/v1/keys/ledger/tile/entries/{*index}",
            get(key_log_entries),
        )
        .route("/v1/keys/ledger/tile/{level}/{*index}", get(key_log_hashes))
        .route(
            "/v1/trials/{id}/ledger/tile/entries/{*index}",
            get(trial_entries),
        )
        .route(
            "/v1/trials/{id}/ledger/tile/{level}/{*index}",
            get(trial_hashes),
        )
}

/// A hash tile of a trial's ledger (public, as its checkpoint and proofs are).
#[utoipa::path(get, path = "/v1/trials/{id}/ledger/tile/{level}/{index}", tag = "sandbox",
    params(("id" = String, Path, description = "The trial"),
           ("level" = u8, Path, minimum = 0, maximum = 63, description = "Tile level: tree level 8 × level"),
           ("index" = String, Path, description = "Tile index in three-digit groups, then `.p/<W>` for a partial tile")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn trial_hashes(
    State(state): State<AppState>,
    Path((id, level, index)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let path = format!("{level}/{index}");
    Ok(tile(state.app.trial_tile(None, &id, &path).await?))
}

/// An entry bundle of a trial's ledger (regulators, as its entries are).
#[utoipa::path(get, path = "/v1/trials/{id}/ledger/tile/entries/{index}", tag = "sandbox", security(("bearer" = [])),
    params(("id" = String, Path, description = "The trial"),
           ("index" = String, Path, description = "Bundle index in three-digit groups, then `.p/<W>` for a partial bundle")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn trial_entries(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, index)): Path<(String, String)>,
) -> ApiResult<Response> {
    let path = format!("entries/{index}");
    Ok(tile(state.app.trial_tile(Some(&caller), &id, &path).await?))
}

/// A tile's answer: its bytes, immutable.
fn tile(bytes: Vec<u8>) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=604800, immutable"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// A hash tile of a bond's ledger (public, as proofs are): the 32-byte node hashes at tree level
/// 8·`level`, `index` as three-digit groups with an optional partial width (`x001/067.p/8`).
#[utoipa::path(get, path = "/v1/bonds/{id}/ledger/tile/{level}/{index}", tag = "ledger",
    params(("id" = String, Path, description = "The bond"),
           ("level" = u8, Path, minimum = 0, maximum = 63, description = "Tile level: tree level 8 × level"),
           ("index" = String, Path, description = "Tile index in three-digit groups, every one but the last prefixed with x (1234067 → x001/x234/067), then `.p/<W>` for a partial tile of width W (1–255)")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn bond_hashes(
    State(state): State<AppState>,
    Path((id, level, index)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let path = format!("{level}/{index}");
    Ok(tile(state.app.bond_tile(None, &id, &path).await?))
}

/// An entry bundle of a bond's ledger: its entries (leaf bytes), each prefixed with its length
/// as a big-endian u16 (the bond's issuer, operators, regulators).
#[utoipa::path(get, path = "/v1/bonds/{id}/ledger/tile/entries/{index}", tag = "ledger", security(("bearer" = [])),
    params(("id" = String, Path, description = "The bond"),
           ("index" = String, Path, description = "Bundle index in three-digit groups (as for hash tiles), then `.p/<W>` for a partial bundle")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn bond_entries(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, index)): Path<(String, String)>,
) -> ApiResult<Response> {
    let path = format!("entries/{index}");
    Ok(tile(state.app.bond_tile(Some(&caller), &id, &path).await?))
}

/// A hash tile of the key log (public).
#[utoipa::path(get, path = "/v1/keys/ledger/tile/{level}/{index}", tag = "parties",
    params(("level" = u8, Path, minimum = 0, maximum = 63, description = "Tile level: tree level 8 × level"),
           ("index" = String, Path, description = "Tile index in three-digit groups, then `.p/<W>` for a partial tile")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn key_log_hashes(
    State(state): State<AppState>,
    Path((level, index)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(tile(
        state.app.key_log_tile(&format!("{level}/{index}")).await?,
    ))
}

/// An entry bundle of the key log (public).
#[utoipa::path(get, path = "/v1/keys/ledger/tile/entries/{index}", tag = "parties",
    params(("index" = String, Path, description = "Bundle index in three-digit groups, then `.p/<W>` for a partial bundle")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub(crate) async fn key_log_entries(
    State(state): State<AppState>,
    Path(index): Path<String>,
) -> ApiResult<Response> {
    Ok(tile(
        state.app.key_log_tile(&format!("entries/{index}")).await?,
    ))
}
