//! RFC 9457 problem details: the one place where errors become HTTP responses.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;
use crate::domain::book::Violation;
use crate::domain::error::FieldError;

/// Every problem type's URI starts with this; the suffix is a stable slug (docs/errors.md).
pub const PROBLEM_BASE: &str = "urn:midori:problem:";
/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_S: u32 = 1;

/// `application/problem+json` body.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Stable URI naming the kind of problem, `urn:midori:problem:<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
    /// For validation problems: every offending field, by JSON pointer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For rule violations: every broken rule, by stable code, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
}

/// The HTTP layer's error: an application error, or a refusal made before the application was
/// reached (malformed body, overload).
#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    NotFound,
    MethodNotAllowed,
    Timeout,
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        ApiError::App(err)
    }
}

impl ApiError {
    fn parts(
        &self,
    ) -> (
        StatusCode,
        &'static str,
        &'static str,
        String,
        Vec<FieldError>,
    ) {
        use AppError as A;
        match self {
            ApiError::App(err) => match err {
                A::Validation(errors) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation-failed",
                    "The request has invalid fields",
                    format!(
                        "{} field(s) are invalid; each is named in `errors` by JSON pointer",
                        errors.len()
                    ),
                    errors.clone(),
                ),
                A::Rules(violations) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "rule-violation",
                    "The operation breaks the ledger's rules",
                    format!(
                        "{} rule(s) refuse this operation; each is listed in `violations` with a stable code",
                        violations.len()
                    ),
                    vec![],
                ),
                A::BadRequest(d) => (
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    "The request is malformed",
                    d.clone(),
                    vec![],
                ),
                A::Unauthenticated => (
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "Authentication required",
                    "send `Authorization: Bearer <api key>`; the key may be unknown or revoked"
                        .into(),
                    vec![],
                ),
                A::Forbidden(d) => (
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "Not allowed for this party",
                    d.clone(),
                    vec![],
                ),
                A::Signature(d) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "signature-invalid",
                    "The request signature is not acceptable",
                    d.clone(),
                    vec![],
                ),
                A::NotFound(what) => (
                    StatusCode::NOT_FOUND,
                    "not-found",
                    "Not found",
                    format!("no such {what}"),
                    vec![],
                ),
                A::Conflict(d) => (
                    StatusCode::CONFLICT,
                    "conflict",
                    "Conflicts with existing state",
                    d.clone(),
                    vec![],
                ),
                A::Replay(d) => (
                    StatusCode::CONFLICT,
                    "nonce-replayed",
                    "Replayed or reordered request",
                    d.clone(),
                    vec![],
                ),
                A::Busy => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "Service busy",
                    format!("the service is at capacity; retry after {RETRY_AFTER_S} s"),
                    vec![],
                ),
                A::Contention => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "contention",
                    "Another writer holds the database",
                    format!(
                        "another process wrote to the same database at the same time; nothing was written; retry after {RETRY_AFTER_S} s"
                    ),
                    vec![],
                ),
                A::StorageFull => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage-full",
                    "The database is full",
                    format!(
                        "the database cannot grow (its disk is full); nothing was written; retry after {RETRY_AFTER_S} s, writes resume once space is freed"
                    ),
                    vec![],
                ),
                A::Internal(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "an internal error occurred; it has been logged with this request's id".into(),
                    vec![],
                ),
            },
            ApiError::PayloadTooLarge(d) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
                d.clone(),
                vec![],
            ),
            ApiError::UnsupportedMediaType(d) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                d.clone(),
                vec![],
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not-found",
                "Not found",
                "no route matches this path; see /openapi.json".into(),
                vec![],
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this path does not take this method; see /openapi.json".into(),
                vec![],
            ),
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "Request timed out",
                format!("the request did not finish in time; retry after {RETRY_AFTER_S} s"),
                vec![],
            ),
        }
    }
}

/// Build a problem response. Used by the error type and by middleware that refuses early.
pub fn problem_response(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: String,
    errors: Vec<FieldError>,
) -> Response {
    problem_with_violations(status, slug, title, detail, errors, vec![])
}

fn problem_with_violations(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: String,
    errors: Vec<FieldError>,
    violations: Vec<Violation>,
) -> Response {
    let body = Problem {
        kind: format!("{PROBLEM_BASE}{slug}"),
        title: title.into(),
        status: status.as_u16(),
        detail,
        errors,
        violations,
    };
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_S));
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::App(AppError::Internal(message)) = &self {
            // The full chain goes to the log (with the request id from the span); the client
            // gets a generic body.
            tracing::error!(error = %message, "internal error");
        }
        let (status, slug, title, detail, errors) = self.parts();
        let violations = match self {
            ApiError::App(AppError::Rules(violations)) => violations,
            _ => vec![],
        };
        problem_with_violations(status, slug, title, detail, errors, violations)
    }
}

impl ApiError {
    fn from_json_rejection(rejection: JsonRejection, body_limit: Option<usize>) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ),
            JsonRejection::BytesRejection(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge(match body_limit {
                    Some(limit) => {
                        format!("the body exceeds this service's limit of {limit} bytes")
                    }
                    None => "the body exceeds this service's size limit".into(),
                })
            }
            JsonRejection::JsonDataError(e) => {
                ApiError::App(AppError::Validation(vec![FieldError {
                    pointer: String::new(),
                    code: "invalid_structure".into(),
                    detail: e.body_text(),
                }]))
            }
            other => ApiError::App(AppError::BadRequest(other.body_text())),
        }
    }
}

/// The configured body limit, put into each request's extensions by the middleware so that
/// a 413 names the limit in force.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::App(AppError::BadRequest(rejection.body_text()))
    }
}

/// `axum::Json` whose rejections are problems.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = request.extensions().get::<BodyLimit>().map(|l| l.0);
        // The content type and the size are axum's to check; the text is ours, whole, first.
        let raw = axum::Json::<Box<serde_json::value::RawValue>>::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::from_json_rejection(rejection, limit))?;
        let text = raw.0.get().as_bytes();
        if let Ok(Some(pointer)) = crate::ledger::canon::first_repeated_member(text) {
            return Err(ApiError::App(AppError::Validation(vec![FieldError {
                detail: format!(
                    "the member name at {pointer} appears more than once in its object; \
                     each name may appear once (RFC 8259 §4)"
                ),
                pointer,
                code: "duplicate_member".into(),
            }])));
        }
        axum::Json::<T>::from_bytes(text)
            .map(|axum::Json(value)| Json(value))
            .map_err(|rejection| ApiError::from_json_rejection(rejection, limit))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` whose rejections are problems.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::App(AppError::BadRequest(rejection.body_text()))
    }
}

/// `axum::extract::Query` whose rejections are problems.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    async fn problem_of(error: AppError) -> (StatusCode, Option<String>, serde_json::Value) {
        let response = ApiError::App(error).into_response();
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_full_disk_and_another_writer_are_503s_that_say_so() {
        for (error, slug) in [
            (AppError::StorageFull, "storage-full"),
            (AppError::Contention, "contention"),
            (AppError::Busy, "overloaded"),
        ] {
            let (status, retry, body) = problem_of(error).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{slug}");
            assert_eq!(retry.as_deref(), Some("1"), "{slug}");
            assert_eq!(body["type"], format!("urn:midori:problem:{slug}"));
        }
        // What the store reports maps to them.
        assert!(matches!(
            AppError::from(crate::store::StoreError::Full),
            AppError::StorageFull
        ));
        assert!(matches!(
            AppError::from(crate::store::StoreError::HeadMoved("l".into())),
            AppError::Contention
        ));
    }
}
