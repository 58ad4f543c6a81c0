//! Pages for people, served by the same binary: investors browse bonds, labels, allocation and
//! impact; anyone checks a label; regulators work trials and audits after signing in. Japanese
//! and English ([`i18n`]), HTML from compile-time-checked templates (maud), charts as SVG drawn
//! on the server ([`chart`]), no script, every asset embedded, a strict
//! Content-Security-Policy. The pages call the same application functions as the API with the
//! same caller, so they are bound by the same authorisation rules.

mod chart;
pub mod i18n;
mod public;
mod regulator;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use crate::app::AppError;
use crate::http::AppState;
use i18n::Lang;

pub use regulator::Sessions;

/// The pages' routes; `sessions` keeps the regulators' console sessions.
pub fn router(sessions: Arc<Sessions>) -> Router<AppState> {
    Router::new()
        .route("/", get(public::directory))
        .route("/bonds/{id}", get(public::bond))
        .route(
            "/labels/verify",
            get(public::verify_form).post(public::verify_label),
        )
        // Addresses a person tries by hand lead to the page that answers them.
        .route("/bonds", get(|| async { Redirect::to("/") }))
        .route("/labels", get(|| async { Redirect::to("/") }))
        .route("/audit", get(|| async { Redirect::to("/regulator/audit") }))
        .route("/lang", get(switch_language))
        .route("/assets/midori.css", get(stylesheet))
        .merge(regulator::router())
        .layer(axum::Extension(sessions))
        .layer(axum::middleware::from_fn(page_headers))
}

/// Headers every page carries: a Content-Security-Policy that allows this origin's stylesheet
/// and form posts and nothing else (no script at all, no framing), no referrer beyond this
/// origin, and no caching of anything a signed-in regulator sees.
async fn page_headers(request: Request, next: Next) -> Response {
    let private = request.uri().path().starts_with("/regulator");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The same address reads in the language the request asks for, by header or cookie.
    headers.append(
        header::VARY,
        HeaderValue::from_static("accept-language, cookie"),
    );
    if private {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The value of cookie `name` in the request, if any.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// Whether the request came over TLS (directly or through a proxy that says so), for the
/// `Secure` attribute of the cookies the pages set.
pub(crate) fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: path `/`, `HttpOnly`, `SameSite=Strict`, `Secure` over TLS.
pub(crate) fn set_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    build_cookie(headers, name, value, max_age_secs, cookie::SameSite::Strict)
}

/// A preference cookie: as [`set_cookie`] but `SameSite=Lax`, so that a reader who follows a
/// link from another site keeps the language chosen.
fn preference_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age_secs: i64,
) -> HeaderValue {
    build_cookie(headers, name, value, max_age_secs, cookie::SameSite::Lax)
}

fn build_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age_secs: i64,
    same_site: cookie::SameSite,
) -> HeaderValue {
    let cookie = cookie::Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(same_site)
        .secure(over_tls(headers))
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
}

#[derive(Deserialize)]
struct SwitchQuery {
    to: String,
    #[serde(default)]
    back: Option<String>,
}

/// A path on this site and nothing else: it starts with one `/`, and every byte is a visible
/// ASCII character other than `\` (browsers drop tabs and newlines and read `\` as `/`, which
/// would turn `/\t/evil.example` into another site).
fn local_path(back: &str) -> bool {
    back.starts_with('/')
        && !back.starts_with("//")
        && back
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && b != b'\\')
        && !back.starts_with("/\\")
}

/// The language switch: remember the choice for a year and go back to the page (only ever a
/// path on this site).
async fn switch_language(headers: HeaderMap, Query(q): Query<SwitchQuery>) -> Response {
    let lang = Lang::parse(&q.to).unwrap_or(Lang::En);
    let back = q
        .back
        .filter(|b| local_path(b))
        .unwrap_or_else(|| "/".into());
    let mut response = Redirect::to(&back).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        preference_cookie(&headers, "lang", lang.code(), 365 * 24 * 3600),
    );
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("midori.css"),
    )
        .into_response()
}

/// What a page is drawn with: the language, and the path and query it was asked at (for the
/// language switch to come back to).
pub(crate) struct Ctx {
    pub lang: Lang,
    pub here: String,
}

impl Ctx {
    pub fn new(headers: &HeaderMap, uri: &axum::http::Uri) -> Ctx {
        Ctx {
            lang: Lang::from_headers(headers),
            here: uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into()),
        }
    }

    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.lang.tf(key, args)
    }
}

/// A whole page: header with the site's navigation and the language switch, the body, a footer.
pub(crate) fn layout(ctx: &Ctx, title: &str, body: Markup) -> Markup {
    let lang = ctx.lang;
    let other = lang.other();
    let switch = format!(
        "/lang?to={}&back={}",
        other.code(),
        percent_encode(&ctx.here)
    );
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — midori" }
                link rel="stylesheet" href="/assets/midori.css";
                // No icon to fetch (a browser would otherwise ask for /favicon.ico).
                link rel="icon" href="data:,";
            }
            body {
                header.site {
                    a.brand href="/" { "midori" }
                    nav {
                        a href="/" { (ctx.t("nav.bonds")) }
                        a href="/labels/verify" { (ctx.t("nav.verify")) }
                        a href="/regulator/" { (ctx.t("nav.regulator")) }
                        a href="/docs" { (ctx.t("nav.api")) }
                    }
                    a.lang-switch href=(switch) hreflang=(other.code()) lang=(other.code()) {
                        (lang.t("lang.switch"))
                    }
                }
                main { (body) }
                footer.site {
                    p { (ctx.t("footer.trust")) }
                }
            }
        }
    }
}

/// Percent-encoding for a query value (the back link of the language switch).
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A page's failure, drawn as a page with the status the API would answer.
pub(crate) struct PageError {
    pub status: StatusCode,
    pub lang: Lang,
    pub message: String,
}

impl PageError {
    pub fn from_app(lang: Lang, error: AppError) -> PageError {
        use crate::http::problem::ApiError;
        let status = ApiError::App(error).into_response().status();
        let key = match status {
            StatusCode::NOT_FOUND => "error.not_found",
            StatusCode::FORBIDDEN => "error.forbidden",
            StatusCode::UNAUTHORIZED => "error.unauthorized",
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => "error.busy",
            s if s.is_client_error() => "error.bad_request",
            _ => "error.internal",
        };
        if status.is_server_error() {
            tracing::warn!(%status, "page failed");
        }
        PageError {
            status,
            lang,
            message: lang.t(key),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let ctx = Ctx {
            lang: self.lang,
            here: "/".into(),
        };
        let title = self.lang.t("error.title");
        let page = layout(
            &ctx,
            &title,
            html! {
                h1 { (title) }
                p.error data-status=(self.status.as_u16()) { (self.message) }
                p { a href="/" { (ctx.t("error.back")) } }
            },
        );
        let mut response = (self.status, page).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

pub(crate) type PageResult = Result<Markup, PageError>;
