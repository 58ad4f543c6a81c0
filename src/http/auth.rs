//! Bearer API keys: the extractor that turns `Authorization: Bearer …` into a [`Caller`].

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::problem::ApiError;
use crate::app::{AppError, Caller};

/// An authenticated caller; rejects with 401 when the key is missing, unknown or revoked.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or(ApiError::App(AppError::Unauthenticated))?;
        Ok(Auth(state.app.authenticate(token).await?))
    }
}
