//! Route handlers, one file per resource. Each handler is registered through `routes!`, so
//! the OpenAPI document cannot drift from the router.

mod bonds;
mod keys;
mod ledger;
mod monitoring;
mod parties;
mod system;
pub(crate) mod tiles;
mod tokens;
mod trials;

use utoipa_axum::router::OpenApiRouter;

pub use system::metrics_text;

use super::AppState;
use super::problem::ApiError;

/// The values `?category=` takes: every category, and every `category/sub` of the taxonomy.
pub(crate) fn category_path_schema() -> utoipa::openapi::schema::Object {
    let paths = crate::domain::taxonomy::all_paths();
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(paths))
        .build()
}

/// The values `?scheme=` takes: the ids of the label schemes midori ships.
pub(crate) fn scheme_id_schema() -> utoipa::openapi::schema::Object {
    let mut ids: Vec<String> = crate::domain::scheme::all()
        .iter()
        .map(|s| s.id.clone())
        .collect();
    ids.dedup();
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ids))
        .build()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(system::router())
        .merge(parties::router())
        .merge(keys::router())
        .merge(bonds::router())
        .merge(ledger::router())
        .merge(tokens::router())
        .merge(monitoring::router())
        .merge(trials::router())
        .merge(tiles::router())
}

pub async fn fallback() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
