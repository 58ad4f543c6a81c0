//! The regulators' console: sign in with an API key into a session, then trials, a trial's
//! report as charts, the replay and what-if form, and the audit of every ledger.
//!
//! Sessions live in memory (a restart signs everyone out; nothing of the ledgers is in them).
//! The cookie holds only a random session id: `HttpOnly`, `SameSite=Strict`, `Secure` when
//! served over TLS, expiring with the session. The API key stays on the server and is checked
//! again on every request, so a revoked key ends its sessions at once. Every form carries a CSRF
//! token: the session's own once signed in, and before that one the sign-in page sets in a
//! cookie of its own (double submit); a post without the right one is refused with 403.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use base64::Engine as _;
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::chart::{self, Bar, Series};
use super::i18n::Lang;
use super::{Ctx, PageError, cookie, layout, set_cookie};
use crate::app::{AppError, Caller};
use crate::domain::party::Role;
use crate::http::AppState;
use crate::sandbox::replay::{ParticipantReport, Report};

/// How long a console session lasts from sign-in.
pub const SESSION_SECS: u64 = 60 * 60;
const SESSION_COOKIE: &str = "midori_session";
const CSRF_COOKIE: &str = "midori_csrf";
/// Most sessions kept at once; the oldest go first beyond it.
const SESSIONS_MAX: usize = 10_000;

struct Session {
    api_key: String,
    csrf: String,
    expires: Instant,
}

/// The console's sessions, by session id.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn open(&self, api_key: String) -> (String, String) {
        let id = random_token();
        let csrf = random_token();
        let mut sessions = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= SESSIONS_MAX
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                api_key,
                csrf: csrf.clone(),
                expires: now + Duration::from_secs(SESSION_SECS),
            },
        );
        (id, csrf)
    }

    /// The API key and CSRF token of the live session named by the request's cookie.
    fn get(&self, headers: &HeaderMap) -> Option<(String, String, String)> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let mut sessions = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(&id) {
            Some(s) if s.expires > Instant::now() => Some((id, s.api_key.clone(), s.csrf.clone())),
            Some(_) => {
                sessions.remove(&id);
                None
            }
            None => None,
        }
    }

    fn close(&self, id: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // getrandom fails only where the OS has no randomness source; there no session is safe.
    getrandom::fill(&mut bytes).expect("the OS random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time equality of two tokens.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/regulator", get(|| async { Redirect::to("/regulator/") }))
        .route("/regulator/", get(home))
        .route("/regulator/sign-in", post(sign_in))
        .route("/regulator/sign-out", post(sign_out))
        .route("/regulator/trials/{id}", get(trial))
        .route("/regulator/trials/{id}/replay", post(replay))
        .route("/regulator/audit", get(audit))
}

/// A signed-in regulator on a page.
struct Console {
    ctx: Ctx,
    caller: Caller,
    session: String,
    csrf: String,
}

/// The signed-in regulator, or the sign-in page (401) for anyone else.
async fn console(
    state: &AppState,
    sessions: &Sessions,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<Console, Response> {
    let ctx = Ctx::new(headers, uri);
    let Some((session, api_key, csrf)) = sessions.get(headers) else {
        return Err(sign_in_page(&ctx, headers, StatusCode::UNAUTHORIZED, None));
    };
    let caller = match state.app.authenticate(&api_key).await {
        Ok(c) if c.role == Role::Regulator => c,
        // Revoked since sign-in, or no longer a regulator: the session ends here.
        Ok(_) | Err(AppError::Unauthenticated) => {
            sessions.close(&session);
            return Err(sign_in_page(&ctx, headers, StatusCode::UNAUTHORIZED, None));
        }
        Err(e) => return Err(PageError::from_app(ctx.lang, e).into_response()),
    };
    Ok(Console {
        ctx,
        caller,
        session,
        csrf,
    })
}

fn sign_in_page(
    ctx: &Ctx,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    // Keep the pre-session CSRF token if the browser has one, so two tabs agree.
    let csrf = cookie(headers, CSRF_COOKIE)
        .filter(|c| c.len() == 43)
        .unwrap_or_else(random_token);
    let title = ctx.t("regulator.sign_in_title");
    let page = layout(
        ctx,
        &title,
        html! {
            h1 { (title) }
            p.lead { (ctx.t("regulator.sign_in_lead")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.sign-in method="post" action="/regulator/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="api_key" { (ctx.t("regulator.api_key")) }
                input id="api_key" type="password" name="api_key" autocomplete="off" required;
                button type="submit" { (ctx.t("regulator.sign_in")) }
            }
        },
    );
    let mut response = (status, page).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(headers, CSRF_COOKIE, &csrf, SESSION_SECS as i64),
    );
    response
}

/// The console's frame: who is signed in, the sections, sign-out.
fn frame(c: &Console, title: &str, body: Markup) -> Markup {
    let ctx = &c.ctx;
    layout(
        ctx,
        title,
        html! {
            nav.console {
                a href="/regulator/" { (ctx.t("regulator.trials")) }
                a href="/regulator/audit" { (ctx.t("regulator.audit")) }
                span.who { (ctx.tf("regulator.signed_in_as", &[("party", &c.caller.party_id)])) }
                form.sign-out method="post" action="/regulator/sign-out" {
                    input type="hidden" name="csrf" value=(c.csrf);
                    button type="submit" { (ctx.t("regulator.sign_out")) }
                }
            }
            (body)
        },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    csrf: String,
}

async fn sign_in(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Form(form): Form<SignInForm>,
) -> Response {
    let mut ctx = Ctx::new(&headers, &uri);
    // The language switch leads back to the console (this address only takes posts).
    ctx.here = "/regulator/".into();
    let expected = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(&expected, &form.csrf) {
        return csrf_refused(ctx.lang);
    }
    let refused =
        |key: &str| sign_in_page(&ctx, &headers, StatusCode::UNAUTHORIZED, Some(ctx.t(key)));
    match state.app.authenticate(form.api_key.trim()).await {
        Ok(c) if c.role == Role::Regulator => {
            let (id, _) = sessions.open(form.api_key.trim().to_owned());
            let mut response = Redirect::to("/regulator/").into_response();
            let headers_out = response.headers_mut();
            headers_out.append(
                header::SET_COOKIE,
                set_cookie(&headers, SESSION_COOKIE, &id, SESSION_SECS as i64),
            );
            // The pre-session token has done its job.
            headers_out.append(header::SET_COOKIE, set_cookie(&headers, CSRF_COOKIE, "", 0));
            response
        }
        Ok(_) => refused("regulator.not_regulator"),
        Err(AppError::Unauthenticated) => refused("regulator.bad_key"),
        Err(e) => PageError::from_app(ctx.lang, e).into_response(),
    }
}

fn csrf_refused(lang: Lang) -> Response {
    PageError {
        status: StatusCode::FORBIDDEN,
        lang,
        message: lang.t("regulator.csrf"),
    }
    .into_response()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Form(form): Form<CsrfForm>,
) -> Response {
    let c = match console(&state, &sessions, &headers, &uri).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !same(&c.csrf, &form.csrf) {
        return csrf_refused(c.ctx.lang);
    }
    sessions.close(&c.session);
    let mut response = Redirect::to("/regulator/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&headers, SESSION_COOKIE, "", 0),
    );
    response
}

#[derive(Deserialize, Default)]
struct TrialFilter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    rulebook: String,
}

/// `/regulator/`: the trials, filtered by title and rulebook.
async fn home(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(filter): Query<TrialFilter>,
) -> Response {
    let c = match console(&state, &sessions, &headers, &uri).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let ctx = &c.ctx;
    let lang = ctx.lang;
    let trials = match state.app.trials(&c.caller).await {
        Ok(t) => t,
        Err(e) => return PageError::from_app(lang, e).into_response(),
    };
    let needle = filter.q.trim().to_lowercase();
    let mut rulebooks: Vec<&str> = trials.iter().map(|t| t.rulebook.id.as_str()).collect();
    rulebooks.sort_unstable();
    rulebooks.dedup();
    let shown: Vec<_> = trials
        .iter()
        .filter(|t| needle.is_empty() || t.title.to_lowercase().contains(&needle))
        .filter(|t| filter.rulebook.is_empty() || t.rulebook.id == filter.rulebook)
        .collect();
    // Each trial's standing from the state kept for it (no replay; none for a trial not
    // written to since that state was kept).
    let mut standing = Vec::with_capacity(shown.len());
    for t in &shown {
        match state.app.kept_trial_report(&c.caller, &t.id).await {
            Ok(r) => standing.push(r),
            Err(e) => return PageError::from_app(lang, e).into_response(),
        }
    }
    let title = ctx.t("regulator.trials");
    frame(
        &c,
        &title,
        html! {
            h1 { (title) }
            form.filters method="get" action="/regulator/" {
                label { (ctx.t("regulator.search")) input type="search" name="q" value=(filter.q); }
                label { (ctx.t("regulator.rulebook"))
                    select name="rulebook" {
                        option value="" { (ctx.t("directory.any")) }
                        @for r in &rulebooks { option value=(r) selected[filter.rulebook == *r] { (r) } }
                    }
                }
                button type="submit" { (ctx.t("directory.apply")) }
            }
            @if shown.is_empty() { p.empty { (ctx.t("regulator.no_trials")) } }
            @else {
                table.trials {
                    thead { tr {
                        th { (ctx.t("regulator.trial")) }
                        th { (ctx.t("regulator.rulebook")) }
                        th { (ctx.t("regulator.status")) }
                        th.num { (ctx.t("report.accepted")) }
                        th.num { (ctx.t("report.refused")) }
                        th.num { (ctx.t("regulator.entries")) }
                        th { (ctx.t("regulator.created")) }
                    } }
                    tbody {
                        @for (t, r) in shown.iter().zip(&standing) {
                            tr {
                                td { a href={ "/regulator/trials/" (t.id) } { (t.title) } }
                                td { (t.rulebook.id) " v" (t.rulebook.version) }
                                @if let Some(r) = r {
                                    td.status data-status=(r.status.as_str()) {
                                        (lang.code_text("trial_status", r.status.as_str()))
                                    }
                                    td.num { (lang.number(&r.transactions.accepted.to_string())) }
                                    td.num { (lang.number(&r.transactions.refused.to_string())) }
                                } @else {
                                    td { "—" } td.num { "—" } td.num { "—" }
                                }
                                td.num { (lang.number(&t.ledger_size)) }
                                td { (lang.date_jst(&t.created_at)) }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

/// `/regulator/trials/{id}`: the trial's report as charts, and the replay form.
async fn trial(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let c = match console(&state, &sessions, &headers, &uri).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let lang = c.ctx.lang;
    let outcome = async {
        let trial = state.app.trial(&c.caller, &id).await?;
        let _permit = state.limits.heavy_read()?;
        let replay = state.app.replay_trial(&c.caller, &id, None).await?;
        let history = state
            .app
            .trial_history(&c.caller, &id, HISTORY_POINTS)
            .await?;
        Ok::<_, AppError>((trial, replay, history))
    }
    .await;
    let (trial, replay, history) = match outcome {
        Ok(x) => x,
        Err(e) => return PageError::from_app(lang, e).into_response(),
    };
    trial_page(&c, &trial, &replay, &history, None).into_response()
}

/// What the replay form was last sent with, and what came of it.
enum WhatIf<'a> {
    Ran(&'a crate::sandbox::ledger::ExportReplay),
    /// The rulebook given is not one (the text comes back in the form).
    Refused(&'a str),
}

/// Points on the exposure-over-time chart (each a replay of a prefix of the trial's ledger).
const HISTORY_POINTS: usize = 12;
/// Participants drawn on it: those with the largest exposure now.
const HISTORY_PARTICIPANTS: usize = 5;

/// Exposure against cap over the ledger's history, for the participants with a cap and the
/// largest exposure now.
fn exposure_history(ctx: &Ctx, history: &[(u64, Report)]) -> (Vec<String>, Vec<Series>) {
    let lang = ctx.lang;
    let Some((_, last)) = history.last() else {
        return (vec![], vec![]);
    };
    let mut capped: Vec<(&String, Decimal)> = last
        .participants
        .iter()
        .filter(|(_, p)| p.cap.is_some())
        .map(|(id, p)| (id, p.exposure.unwrap_or_default()))
        .collect();
    capped.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    capped.truncate(HISTORY_PARTICIPANTS);
    let labels = history
        .iter()
        .map(|(size, report)| match report.as_of {
            Some(t) => lang.date_jst(&crate::app::format_time(t)),
            None => format!("#{size}"),
        })
        .collect();
    let classes = ["c1", "c4", "c5", "c2", "c3"];
    let mut series = Vec::new();
    for (k, (party, _)) in capped.iter().enumerate() {
        fn at<'r>(report: &'r Report, party: &str) -> Option<&'r ParticipantReport> {
            report.participants.get(party)
        }
        series.push(Series {
            label: ctx.tf("report.exposure_of", &[("party", party)]),
            values: history
                .iter()
                .map(|(_, r)| at(r, party).and_then(|p| p.exposure).unwrap_or_default())
                .collect(),
            class: classes[k % classes.len()],
            dashed: false,
        });
        series.push(Series {
            label: ctx.tf("report.cap_of", &[("party", party)]),
            values: history
                .iter()
                .map(|(_, r)| at(r, party).and_then(|p| p.cap).unwrap_or_default())
                .collect(),
            class: "cap",
            dashed: true,
        });
    }
    (labels, series)
}

fn trial_page(
    c: &Console,
    trial: &crate::app::TrialView,
    replay: &crate::sandbox::ledger::ExportReplay,
    history: &[(u64, Report)],
    what_if: Option<WhatIf<'_>>,
) -> Markup {
    let ctx = &c.ctx;
    let lang = ctx.lang;
    let r = &replay.report;
    let currency = r.rulebook.currency.as_str();
    let posted = match &what_if {
        Some(WhatIf::Refused(text)) => *text,
        _ => "",
    };
    let number = |v: u64| Decimal::from(v);
    let violation_bars: Vec<Bar> = r
        .violations
        .iter()
        .map(|(rule, n)| Bar {
            label: rule.clone(),
            value: number(*n),
            shown: n.to_string(),
            class: "c2",
        })
        .collect();
    let mut exposure_bars = Vec::new();
    for (party, p) in &r.participants {
        if let Some(exposure) = p.exposure {
            exposure_bars.push(Bar {
                label: ctx.tf("report.exposure_of", &[("party", party)]),
                value: exposure,
                shown: lang.amount(currency, &exposure.to_string()),
                class: "c1",
            });
            if let Some(cap) = p.cap {
                exposure_bars.push(Bar {
                    label: ctx.tf("report.cap_of", &[("party", party)]),
                    value: cap,
                    shown: lang.amount(currency, &cap.to_string()),
                    class: "cap",
                });
            }
        }
    }
    let mut outstanding_bars = vec![Bar {
        label: ctx.t("report.outstanding"),
        value: r.outstanding.amount,
        shown: lang.amount(currency, &r.outstanding.amount.to_string()),
        class: "c1",
    }];
    if let Some(cap) = r.outstanding.cap {
        outstanding_bars.push(Bar {
            label: ctx.t("report.aggregate_cap"),
            value: cap,
            shown: lang.amount(currency, &cap.to_string()),
            class: "cap",
        });
    }
    let title = trial.title.clone();
    frame(
        c,
        &title,
        html! {
            h1 { (title) }
            p.lead {
                (trial.rulebook.id) " v" (trial.rulebook.version) " · "
                (ctx.tf("regulator.entries_n", &[("n", &lang.number(&trial.ledger_size))])) " · "
                (lang.code_text("trial_status", r.status.as_str()))
            }
            section id="verdicts" {
                h2 { (ctx.t("report.verdicts")) }
                dl.figures data-total=(r.transactions.total) data-accepted=(r.transactions.accepted) data-refused=(r.transactions.refused) {
                    dt { (ctx.t("report.total")) } dd { (r.transactions.total) }
                    dt { (ctx.t("report.accepted")) } dd { (r.transactions.accepted) }
                    dt { (ctx.t("report.refused")) } dd { (r.transactions.refused) }
                }
                p { (ctx.tf("report.replayed", &[
                    ("n", &replay.transactions.to_string()),
                    ("sigs", &replay.signatures_verified.to_string())]))
                    " "
                    @if replay.consistent { strong.ok { (ctx.t("report.consistent")) } }
                    @else { strong.bad { (ctx.t("report.inconsistent")) } }
                }
                @if violation_bars.is_empty() { p.empty { (ctx.t("report.no_violations")) } }
                @else { (chart::bars("chart-violations", &ctx.t("report.violations_by_rule"), &violation_bars)) }
            }
            section id="exposure" {
                h2 { (ctx.t("report.exposure")) }
                @if exposure_bars.is_empty() { p.empty { (ctx.t("report.no_exposure")) } }
                @else { (chart::bars("chart-exposure", &ctx.t("report.exposure_caption"), &exposure_bars)) }
                (chart::bars("chart-outstanding", &ctx.t("report.outstanding_caption"), &outstanding_bars))
                @let (times, series) = exposure_history(ctx, history);
                @if !series.is_empty() {
                    (chart::lines("chart-exposure-history", &ctx.t("report.exposure_history"), &times, &series))
                }
                p { (ctx.tf("report.holders", &[
                    ("n", &r.holders.count.to_string()),
                    ("cap", &r.holders.cap.map(|c| c.to_string()).unwrap_or_else(|| "—".into()))])) }
            }
            section id="replay" {
                h2 { (ctx.t("report.what_if")) }
                p { (ctx.t("report.what_if_lead")) }
                form.replay method="post" action={ "/regulator/trials/" (trial.id) "/replay" } {
                    input type="hidden" name="csrf" value=(c.csrf);
                    label for="rulebook" { (ctx.t("report.rulebook_toml")) }
                    textarea id="rulebook" name="rulebook" rows="8" spellcheck="false" { (posted) }
                    button type="submit" { (ctx.t("report.replay")) }
                }
                @if let Some(WhatIf::Refused(_)) = what_if {
                    p.error role="alert" data-status="422" { (ctx.t("report.bad_rulebook")) }
                }
                @if let Some(WhatIf::Ran(w)) = what_if {
                    section.replay-result data-mismatches=(w.mismatches.len()) data-consistent=(w.consistent) {
                        h3 { (ctx.t("report.replay_result")) }
                        pre lang="en" { (w.summary()) }
                        @if !w.mismatches.is_empty() {
                            table {
                                thead { tr { th { "#" } th { (ctx.t("report.tx")) } th { (ctx.t("report.change")) } } }
                                tbody {
                                    @for m in &w.mismatches {
                                        tr {
                                            td { (m.index) }
                                            td { code { (m.tx_id) } }
                                            td { (lang.code_text("mismatch", m.kind.as_str())) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct ReplayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rulebook: String,
}

/// The replay form posted: under the trial's own rulebook when the field is empty, else the
/// rulebook given (what-if).
async fn replay(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Form(form): Form<ReplayForm>,
) -> Response {
    let mut c = match console(&state, &sessions, &headers, &uri).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if !same(&c.csrf, &form.csrf) {
        return csrf_refused(c.ctx.lang);
    }
    // The language switch leads back to the trial's page (this address only takes posts).
    c.ctx.here = format!("/regulator/trials/{id}");
    let lang = c.ctx.lang;
    let rulebook = form.rulebook.trim();
    let outcome = async {
        let trial = state.app.trial(&c.caller, &id).await?;
        let _permit = state.limits.heavy_read()?;
        let own = state.app.replay_trial(&c.caller, &id, None).await?;
        let history = state
            .app
            .trial_history(&c.caller, &id, HISTORY_POINTS)
            .await?;
        let what_if = state
            .app
            .replay_trial(&c.caller, &id, (!rulebook.is_empty()).then_some(rulebook))
            .await;
        Ok::<_, AppError>((trial, own, history, what_if))
    }
    .await;
    match outcome {
        Ok((trial, own, history, Ok(what_if))) => {
            trial_page(&c, &trial, &own, &history, Some(WhatIf::Ran(&what_if))).into_response()
        }
        Ok((trial, own, history, Err(AppError::Validation(_) | AppError::BadRequest(_)))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            trial_page(&c, &trial, &own, &history, Some(WhatIf::Refused(rulebook))),
        )
            .into_response(),
        Ok((_, _, _, Err(e))) | Err(e) => PageError::from_app(lang, e).into_response(),
    }
}

/// `/regulator/audit`: every ledger re-verified now.
async fn audit(
    State(state): State<AppState>,
    Extension(sessions): Extension<Arc<Sessions>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let c = match console(&state, &sessions, &headers, &uri).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let lang = c.ctx.lang;
    let audits = async {
        let _permit = state.limits.heavy_read()?;
        state.app.audit_ledgers(&c.caller, false).await
    }
    .await;
    let audits = match audits {
        Ok(a) => a,
        Err(e) => return PageError::from_app(lang, e).into_response(),
    };
    let ctx = &c.ctx;
    let title = ctx.t("regulator.audit");
    let failed = audits.iter().filter(|a| !a.verified).count();
    frame(
        &c,
        &title,
        html! {
            h1 { (title) }
            p.lead data-failed=(failed) {
                @if failed == 0 { strong.ok { (ctx.tf("audit.all_ok", &[("n", &audits.len().to_string())])) } }
                @else { strong.bad { (ctx.tf("audit.some_failed", &[("n", &failed.to_string())])) } }
            }
            table.audit {
                thead { tr {
                    th { (ctx.t("audit.kind")) }
                    th { (ctx.t("audit.ledger")) }
                    th.num { (ctx.t("regulator.entries")) }
                    th { (ctx.t("audit.status")) }
                } }
                tbody {
                    @for a in &audits {
                        tr class=(if a.verified { "ok" } else { "bad" }) {
                            td { (lang.code_text("ledger_kind", &a.kind)) }
                            td {
                                @if a.kind == "bond" { a href={ "/bonds/" (a.id) } { code { (a.id) } } }
                                @else { a href={ "/regulator/trials/" (a.id) } { code { (a.id) } } }
                            }
                            td.num { (lang.number(&a.size)) }
                            td {
                                @if a.verified { (ctx.t("audit.verified")) } @else { (ctx.t("audit.failed")) }
                                br; small lang="en" { (a.detail) }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_in_full() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_gone_once_closed() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.open("mdr_key".into());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("lang=ja; {SESSION_COOKIE}={id}").parse().unwrap(),
        );
        let (found, key, token) = sessions.get(&headers).unwrap();
        assert_eq!(
            (found.as_str(), key.as_str(), token.as_str()),
            (id.as_str(), "mdr_key", csrf.as_str())
        );
        sessions.close(&id);
        assert!(sessions.get(&headers).is_none());
    }
}
