//! The HTTP personality: axum handlers, extractors, middleware, OpenAPI, and the listener
//! ([`bind`], with a backlog of [`LISTEN_BACKLOG`]). Handlers are thin:
//! parse, call the application, shape the answer. Errors become problems in one place
//! ([`problem`]).

pub mod auth;
pub mod client;
mod csv;
pub mod limits;
mod middleware;
pub mod pages;
pub mod priority;
pub mod problem;
mod routes;
pub mod witness;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, Request};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::app::App;

pub use limits::Limits;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub limits: Limits,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "midori",
        description = "Green and SDG bonds as security tokens on signed, verifiable ledgers. \
            Errors are RFC 9457 problems (`application/problem+json`). Ledger-changing requests \
            are signed: Ed25519 over the RFC 8785 (JCS) bytes of `payload`, which carries `kid` and a \
            `nonce` that the party never reuses (the replay guard).",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    // The tile routes take the rest of the path (an index in three-digit groups); they are
    // routed by `routes::tiles::router` and described here.
    paths(
        routes::tiles::bond_hashes,
        routes::tiles::bond_entries,
        routes::tiles::key_log_hashes,
        routes::tiles::key_log_entries,
        routes::tiles::trial_hashes,
        routes::tiles::trial_entries,
    ),
    // Types that only query parameters name (parameters do not register their schemas).
    components(schemas(crate::domain::label::Status)),
    tags(
        (name = "system", description = "Health, readiness, metrics, keys"),
        (name = "parties", description = "Parties, their keys and API keys"),
        (name = "bonds", description = "The bond registry"),
        (name = "ledger", description = "A bond's signed, verifiable ledger: checkpoints, entries, proofs, export"),
        (name = "tokens", description = "Security-token operations, the holder register, positions, history and coupons"),
        (name = "monitoring", description = "After issuance: eligible projects, allocation of proceeds, impact, external reviews"),
        (name = "sandbox", description = "Regulatory sandbox trials: rulebooks, signed transactions with verdicts, deterministic replay, audit of every ledger"),
        (name = "labels", description = "Certified labels: status from ledger facts and deadlines, signed as JWS, verifiable by anyone"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("mdr_…")
                    .build(),
            ),
        );
    }
}

/// The answers any operation can give besides its own, documented on every operation so that
/// the document describes what the wire does: `503` (overloaded or timed out, with
/// `Retry-After`) everywhere; `404` where the path names an id; `400` where there are
/// parameters or a body; `413`, `415` and `422` where there is a body; `401` and `403` where an
/// API key is accepted. Every one is a problem (RFC 9457).
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_path_id = path.contains('{');
            let operations = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for operation in operations.into_iter().flatten() {
                let has_body = operation.request_body.is_some();
                let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |status: &str, description: &str| {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                };
                add(
                    "503",
                    "Overloaded or timed out: retry after the `Retry-After` seconds",
                );
                if has_path_id {
                    add(
                        "404",
                        "The id in the path names nothing this caller can see",
                    );
                }
                if has_body || has_params {
                    add("400", "A malformed parameter or body");
                }
                if has_body {
                    add("413", "The body exceeds the service's limit");
                    add("415", "The body is not `application/json`");
                    add("422", "Invalid fields, each named by JSON pointer");
                }
                if secured {
                    add("401", "No API key, or an unknown or revoked one");
                    add("403", "The API key's party may not do this");
                }
            }
        }
    }
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(routes::router())
}

/// The OpenAPI document, as committed under `openapi/` and served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    with_common_responses(api_router().into_openapi())
}

/// `doc` with [`CommonResponses`] (applied once the routes have added their paths).
fn with_common_responses(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::Modify;
    CommonResponses.modify(&mut doc);
    doc
}

/// Pretty JSON of the OpenAPI document, with a final newline (the committed file's form).
pub fn openapi_json() -> String {
    openapi().to_pretty_json().unwrap_or_default() + "\n"
}

/// The whole service as a router: API, docs, system endpoints and the middleware stack.
pub fn router(state: AppState) -> Router {
    let limits = state.limits.clone();
    let (api, spec) = api_router().split_for_parts();
    let spec = with_common_responses(spec);
    let request_id = HeaderName::from_static("x-request-id");
    let api = api
        .merge(SwaggerUi::new("/docs").url("/openapi.json", spec))
        .merge(pages::router(Arc::new(pages::Sessions::default())))
        .fallback(routes::fallback)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state.clone());
    api.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(middleware::response_headers))
            .layer(axum::middleware::from_fn(middleware::localize_problems))
            .layer(axum::middleware::from_fn(middleware::bound_request_id))
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path())
                })
                // One line per request at INFO, inside the span, so it carries the request id.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(CatchPanicLayer::custom(middleware::panic_response))
            .layer(axum::middleware::from_fn(middleware::record_metrics))
            .layer(axum::middleware::from_fn_with_state(limits.clone(), middleware::shed_and_time_out))
            .layer(axum::extract::DefaultBodyLimit::max(limits.body_bytes_max)),
    )
}

/// A router with `/metrics` alone, unauthenticated, for a separate listener
/// (`MIDORI_METRICS_BIND`) that only a monitoring network reaches; on the API's listener
/// `/metrics` needs an operator's or a regulator's key.
pub fn metrics_router(handle: metrics_exporter_prometheus::PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let body = handle.render();
            async move { routes::metrics_text(body) }
        }),
    )
}

/// Connections a listener queues before they are accepted. The operating system's usual default
/// (128, which tokio and the standard library use) drops connections when a few hundred clients
/// connect at once (as after a failover) while the accept loop waits for a busy worker; the
/// kernel caps this at `net.core.somaxconn`.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Bind a listening socket on `addr` (`host:port`) with [`LISTEN_BACKLOG`].
pub async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

/// Serve until SIGINT or SIGTERM; in-flight requests are finished before returning.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let router = router(state);
    // Without TCP_NODELAY a response written in two segments waits for the client's delayed
    // ACK (~40 ms on Linux): that alone capped throughput at concurrency / 40 ms.
    let listener = listener.tap_io(|stream| {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
