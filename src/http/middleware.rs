//! Cross-cutting middleware: metrics, load shedding, timeouts, panics, request ids and the
//! response headers every answer carries.

use std::any::Any;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::limits::Limits;
use super::problem::{ApiError, problem_response};

/// Count requests and observe latency by route template (never the raw path, which would
/// make one series per bond id) and status.
pub async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("midori_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.clone())
        .increment(1);
    metrics::histogram!("midori_http_request_duration_seconds", "method" => method, "route" => route, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Refuse at once when too many requests are in flight, and bound each request's time.
pub async fn shed_and_time_out(
    State(limits): State<Limits>,
    mut request: Request,
    next: Next,
) -> Response {
    request
        .extensions_mut()
        .insert(super::problem::BodyLimit(limits.body_bytes_max));
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        metrics::counter!("midori_http_shed_total").increment(1);
        return ApiError::App(crate::app::AppError::Busy).into_response();
    };
    let safe = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let served = async move {
        if safe {
            super::priority::as_read(next.run(request)).await
        } else {
            next.run(request).await
        }
    };
    match tokio::time::timeout(limits.request_timeout, served).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// A panic is a bug: log it, answer a generic 500 problem, keep serving.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(non-string panic)");
    tracing::error!(panic = %message, "handler panicked");
    problem_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "an internal error occurred; it has been logged with this request's id".into(),
        vec![],
    )
}

/// Longest request id taken from a client (`x-request-id`); longer ones are replaced.
pub const REQUEST_ID_CHARS_MAX: usize = 64;

/// Keep a client's `x-request-id` only when it is short and plain (`[A-Za-z0-9._:-]`, at most
/// [`REQUEST_ID_CHARS_MAX`]); otherwise drop it, so that the service makes a fresh one. An id
/// is echoed back and written into every log line: it must not carry a payload.
pub async fn bound_request_id(mut request: Request, next: Next) -> Response {
    let plain = |v: &axum::http::HeaderValue| {
        let bytes = v.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= REQUEST_ID_CHARS_MAX
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    };
    let headers = request.headers_mut();
    if headers.get_all("x-request-id").iter().count().ne(&1)
        || !headers.get("x-request-id").is_some_and(plain)
    {
        headers.remove("x-request-id");
    }
    next.run(request).await
}

/// Headers on every answer: `X-Content-Type-Options: nosniff` (a JSON body is never run as a
/// script or a page), and for a request that carried credentials `Cache-Control: no-store`
/// (what one caller may read must not be served to another from a shared cache).
pub async fn response_headers(request: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let authenticated = request.headers().contains_key(header::AUTHORIZATION);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if authenticated {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Problems in the reader's language: to a request that prefers Japanese (`Accept-Language`,
/// or the pages' language cookie), a problem's `title` is the Japanese one for its type, with
/// `Content-Language: ja`; the type, status, detail and field errors are unchanged, so programs
/// keep matching on the stable codes. Every problem answer says it varies by `Accept-Language`.
pub async fn localize_problems(request: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, header};
    let lang = super::pages::i18n::Lang::from_headers(request.headers());
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts.headers.append(
        header::VARY,
        HeaderValue::from_static("accept-language, cookie"),
    );
    if lang != super::pages::i18n::Lang::Ja {
        return Response::from_parts(parts, body);
    }
    // Problem bodies are small (a few fields and the offending ones); bounded all the same.
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let Ok(mut problem) = serde_json::from_slice::<super::problem::Problem>(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let slug = problem
        .kind
        .strip_prefix(super::problem::PROBLEM_BASE)
        .unwrap_or("");
    let title = super::pages::i18n::Lang::Ja.t(&format!("problem.{slug}"));
    if title.starts_with("problem.") {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    problem.title = title;
    let Ok(body) = serde_json::to_vec(&problem) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_LANGUAGE, HeaderValue::from_static("ja"));
    Response::from_parts(parts, axum::body::Body::from(body))
}
