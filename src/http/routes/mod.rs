//! Route handlers, one file per resource. Each handler is registered through `routes!`, so
//! the OpenAPI document cannot drift from the router.

mod bonds;
mod keys;
mod ledger;
mod monitoring;
mod parties;
mod system;
mod tokens;
mod trials;

use utoipa_axum::router::OpenApiRouter;

pub use system::metrics_text;

use super::AppState;
use super::problem::ApiError;

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
}

pub async fn fallback() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
