//! The public pages: the bond directory, one bond for an investor, and the label checker. They
//! read only what the API serves anonymously.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::HeaderMap;
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::chart::{self, Bar};
use super::i18n::Lang;
use super::{Ctx, PageError, PageResult, layout, percent_encode};
use crate::app::{
    AllocationView, AppError, BondDocument, BondView, CouponLine, ImpactView, LabelView, ReviewView,
};
use crate::domain::label::Status;
use crate::http::AppState;
use crate::store::BondFilter;

/// The directory's filters, as the form sends them (empty fields mean "any").
#[derive(Deserialize, Default)]
pub struct DirectoryQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    scheme: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    after: String,
}

fn some(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

/// Bonds a directory page shows.
const PAGE_ROWS: usize = 50;
/// Label pages read at most for one directory page.
const SCAN_PAGES: usize = 10;

const KINDS: &[&str] = &[
    "green",
    "social",
    "sustainability",
    "sustainability_linked",
    "sdg",
];

/// `/`: every bond with its label, searchable and filtered.
pub async fn directory(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<DirectoryQuery>,
) -> PageResult {
    let ctx = Ctx::new(&headers, &uri);
    let lang = ctx.lang;
    let fail = |e: AppError| PageError::from_app(lang, e);
    let kind = match some(&q.kind) {
        Some(k) if KINDS.contains(&k) => Some(k.to_owned()),
        Some(_) => return Err(fail(AppError::BadRequest("kind".into()))),
        None => None,
    };
    let filter = BondFilter {
        kind,
        issuer_id: some(&q.issuer).map(str::to_owned),
        category: crate::domain::taxonomy::filter_path(some(&q.category))
            .map_err(|e| fail(AppError::BadRequest(e.to_string())))?,
        sdg_goal: None,
    };
    // The search text and the currency are not filters of the store: bonds are read page by
    // page until a page of the directory is full, at most SCAN_PAGES label pages a request
    // (then "more" goes on from the last bond read).
    let needle = q.q.trim().to_lowercase();
    let mut rows = Vec::new();
    let mut cursor = some(&q.after).map(str::to_owned);
    let mut next: Option<String> = None;
    'scan: for _ in 0..SCAN_PAGES {
        let page = state
            .app
            .labels(
                &filter,
                some(&q.scheme),
                some(&q.status),
                cursor.as_deref(),
                Some(PAGE_ROWS as u32),
            )
            .await
            .map_err(fail)?;
        for item in page.items {
            if rows.len() == PAGE_ROWS {
                break 'scan;
            }
            next = Some(item.bond_id.clone());
            let bond = state.app.bond(&item.bond_id).await.map_err(fail)?;
            let isin = bond.terms.isin.clone().unwrap_or_default();
            let currency_ok =
                some(&q.currency).is_none_or(|c| c.eq_ignore_ascii_case(&bond.terms.currency));
            let text_ok = needle.is_empty()
                || bond.terms.name.to_lowercase().contains(&needle)
                || isin.to_lowercase().contains(&needle);
            if currency_ok && text_ok {
                rows.push((item, bond));
            }
        }
        match page.next {
            Some(more) => cursor = Some(more),
            None => {
                next = None;
                break;
            }
        }
    }
    let mut next_query = format!(
        "/?q={}&kind={}&category={}&status={}&scheme={}&issuer={}&currency={}",
        percent_encode(&q.q),
        percent_encode(&q.kind),
        percent_encode(&q.category),
        percent_encode(&q.status),
        percent_encode(&q.scheme),
        percent_encode(&q.issuer),
        percent_encode(&q.currency)
    );
    if let Some(next) = &next {
        next_query.push_str(&format!("&after={}", percent_encode(next)));
    }
    let title = ctx.t("directory.title");
    let body = html! {
        h1 { (title) }
        p.lead { (ctx.t("directory.lead")) }
        form.filters method="get" action="/" {
            label { (ctx.t("directory.search")) input type="search" name="q" value=(q.q); }
            label { (ctx.t("directory.kind"))
                select name="kind" {
                    option value="" { (ctx.t("directory.any")) }
                    @for k in KINDS {
                        option value=(k) selected[q.kind == *k] { (lang.code_text("kind", k)) }
                    }
                }
            }
            label { (ctx.t("directory.category"))
                select name="category" {
                    option value="" { (ctx.t("directory.any")) }
                    @for (cat, subs) in crate::domain::taxonomy::SUBCATEGORIES {
                        @let c = cat.as_str();
                        option value=(c) selected[q.category == c] { (lang.code_text("category", c)) }
                        @for sub in subs.iter() {
                            @let path = format!("{c}/{sub}");
                            option value=(path) selected[q.category == path] {
                                "— " (lang.code_text("subcategory", sub))
                            }
                        }
                    }
                }
            }
            label { (ctx.t("directory.status"))
                select name="status" {
                    option value="" { (ctx.t("directory.any")) }
                    @for s in Status::ALL {
                        option value=(s.as_str()) selected[q.status == s.as_str()] { (lang.code_text("status", s.as_str())) }
                    }
                }
            }
            label { (ctx.t("directory.scheme"))
                select name="scheme" {
                    option value="" { (ctx.t("directory.any")) }
                    @for id in scheme_ids() {
                        option value=(id) selected[q.scheme == id] { (id) }
                    }
                }
            }
            label { (ctx.t("directory.issuer")) input type="text" name="issuer" value=(q.issuer) placeholder=(ctx.t("directory.issuer_hint")); }
            label { (ctx.t("directory.currency")) input type="text" name="currency" value=(q.currency) size="4" maxlength="3"; }
            button type="submit" { (ctx.t("directory.apply")) }
        }
        @if rows.is_empty() {
            p.empty { (ctx.t("directory.none")) }
        } @else {
            table.bonds {
                thead { tr {
                    th { (ctx.t("directory.col.bond")) }
                    th { (ctx.t("directory.col.label")) }
                    th.num { (ctx.t("directory.col.size")) }
                    th { (ctx.t("directory.col.maturity")) }
                } }
                tbody {
                    @for (item, bond) in &rows {
                        tr {
                            td {
                                a href={ "/bonds/" (bond.id) } { (bond.terms.name) }
                                br;
                                small { (lang.code_text("kind", bond.terms.kind.as_str()))
                                    @if let Some(isin) = &bond.terms.isin { " · " (isin) } }
                            }
                            td { (badge(lang, &item.status)) br; small { (item.scheme) " · " (ctx.tf("label.since", &[("date", &lang.date(&item.since))])) } }
                            td.num { (lang.amount(&bond.terms.currency, &issue_amount(bond))) }
                            td { (lang.date(&bond.terms.maturity_date)) }
                        }
                    }
                }
            }
        }
        @if next.is_some() {
            p { a.next href=(next_query) { (ctx.t("directory.more")) } }
        }
    };
    Ok(layout(&ctx, &title, body))
}

/// The label schemes midori ships, each once.
fn scheme_ids() -> Vec<&'static str> {
    let mut ids: Vec<&str> = crate::domain::scheme::all()
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The bond's issue amount: tokens issued times the denomination.
fn issue_amount(bond: &BondView) -> String {
    let size = bond.terms.issue_size.parse::<Decimal>().unwrap_or_default();
    let denomination = bond
        .terms
        .denomination
        .parse::<Decimal>()
        .unwrap_or_default();
    (size * denomination).normalize().to_string()
}

/// A label status as a coloured badge with its words.
fn badge(lang: Lang, status: &str) -> Markup {
    html! { span class={ "badge status-" (status) } data-status=(status) { (lang.code_text("status", status)) } }
}

/// `/bonds/{id}`: one bond for an investor.
pub async fn bond(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> PageResult {
    let ctx = Ctx::new(&headers, &uri);
    let lang = ctx.lang;
    let fail = |e: AppError| PageError::from_app(lang, e);
    let bond = state.app.bond(&id).await.map_err(fail)?;
    let mut schemes = bond.terms.label_schemes.clone();
    let mut labels = Vec::new();
    if schemes.is_empty() {
        let label = state.app.label(&id, None, None).await.map_err(fail)?;
        schemes.push(label.scheme.id.clone());
        labels.push(label);
    } else {
        for scheme in &schemes {
            labels.push(
                state
                    .app
                    .label(&id, None, Some(scheme))
                    .await
                    .map_err(fail)?,
            );
        }
    }
    let allocation = state.app.allocation(&id).await.map_err(fail)?;
    let impact = state.app.impact(&id).await.map_err(fail)?;
    let reviews = state.app.reviews(&id).await.map_err(fail)?;
    let documents = state.app.bond_documents(&id).await.map_err(fail)?;
    let coupons = state.app.coupons(&id).await.map_err(fail)?;
    let checkpoint = state.app.checkpoint(&id, None, false).await.map_err(fail)?;
    let t = &bond.terms;
    let body = html! {
        h1 { (t.name) }
        p.lead {
            (lang.code_text("kind", t.kind.as_str()))
            @if let Some(isin) = &t.isin { " · ISIN " (isin) }
            " · " (lang.amount(&t.currency, &issue_amount(&bond)))
        }
        @for label in &labels { (label_section(&ctx, label)) }
        section id="terms" {
            h2 { (ctx.t("bond.terms")) }
            dl.terms {
                dt { (ctx.t("bond.issue_date")) } dd { (lang.date(&t.issue_date)) }
                dt { (ctx.t("bond.maturity_date")) } dd { (lang.date(&t.maturity_date)) }
                dt { (ctx.t("bond.currency")) } dd { (t.currency) }
                dt { (ctx.t("bond.denomination")) } dd { (lang.amount(&t.currency, &t.denomination)) }
                dt { (ctx.t("bond.tokens")) } dd { (lang.number(&t.issue_size)) }
                dt { (ctx.t("bond.coupon")) } dd { (t.coupon.rate) "% · " (lang.code_text("frequency", t.coupon.frequency.as_str())) }
                dt { (ctx.t("bond.categories")) } dd {
                    @for (i, c) in t.framework.categories.iter().enumerate() {
                        @if i > 0 { (ctx.t("list.separator")) } (lang.code_text("category", c.as_str()))
                    }
                }
                dt { (ctx.t("bond.issuer")) } dd { code { (bond.issuer_id) } }
            }
        }
        (allocation_section(&ctx, &allocation))
        (impact_section(&ctx, &impact))
        (reviews_section(&ctx, &reviews, &documents.documents))
        (coupons_section(&ctx, &coupons))
        section id="ledger" {
            h2 { (ctx.t("bond.ledger")) }
            p { (ctx.tf("bond.ledger_size", &[("size", &lang.number(&bond.ledger.size))])) }
            pre.note { (checkpoint.note) }
            ul.links {
                li { a href={ "/v1/bonds/" (bond.id) "/ledger/checkpoint" } { (ctx.t("bond.link_checkpoint")) } }
                li { a href="/.well-known/jwks.json" { (ctx.t("bond.link_jwks")) } }
                li { a href={ "/v1/bonds/" (bond.id) "/ledger/tile/" (first_tile(&bond.ledger.size)) } { (ctx.t("bond.link_tiles")) } }
                li { a href={ "/v1/bonds/" (bond.id) "/ledger/export" } { (ctx.t("bond.link_export")) } }
                li { a href={ "/v1/bonds/" (bond.id) } { "JSON" } }
            }
            h3 { (ctx.t("bond.verify_yourself")) }
            p { (ctx.t("bond.verify_how")) }
            pre.recipe { (verify_recipe(state.app.origin(), &bond.id)) }
        }
    };
    Ok(layout(&ctx, &t.name, body))
}

/// The path of the first level-0 hash tile a ledger of `size` entries has: full from 256 on,
/// else partial (a full tile that does not exist yet is not found).
fn first_tile(size: &str) -> String {
    let size: u64 = size.parse().unwrap_or(0);
    if size >= 256 {
        "0/000".into()
    } else {
        format!("0/000.p/{}", size.max(1))
    }
}

fn verify_recipe(_origin: &str, id: &str) -> String {
    format!(
        "curl -s $MIDORI/v1/bonds/{id}/ledger/checkpoint > checkpoint.txt\n\
         curl -s $MIDORI/.well-known/jwks.json > jwks.json\n\
         curl -s -H \"authorization: Bearer $TOKEN\" $MIDORI/v1/bonds/{id}/ledger/export > export.jsonl\n\
         midori verify --export export.jsonl --checkpoint checkpoint.txt --keys jwks.json\n\
         # {}\n\
         midori label verify --keys jwks.json label.jws",
        "or with any JOSE library: EdDSA (Ed25519) over the compact JWS, key by kid from jwks.json"
    )
}

fn label_section(ctx: &Ctx, label: &LabelView) -> Markup {
    let lang = ctx.lang;
    html! {
        section.label data-scheme=(label.scheme.id) {
            h2 { (ctx.tf("label.heading", &[("scheme", &label.scheme.id)])) " " (badge(lang, &label.status)) }
            p {
                (ctx.tf("label.since_date", &[("date", &lang.date(&label.since))]))
                @if let Some(next) = &label.next_change {
                    " " (ctx.tf("label.next_change", &[("date", &lang.date(next))]))
                }
            }
            p.explain { (lang.code_text("status_explained", &label.status)) }
            @if !label.obligations.is_empty() {
                h3 { (ctx.t("label.obligations")) }
                ol.timeline {
                    @for o in &label.obligations {
                        @let state = obligation_state(o);
                        li class=(state) {
                            strong { (lang.code_text("obligation", &o.kind)) }
                            @if let Some(y) = &o.year_end { " (" (ctx.tf("label.year_to", &[("date", &lang.date(y))])) ")" }
                            " — " (ctx.tf("label.due", &[("date", &lang.date(&o.due))])) " · "
                            @match (&o.met_on, state) {
                                (Some(on), _) => {
                                    (ctx.tf("label.met_on", &[("date", &lang.date(on))]))
                                    @if o.days_late > 0 { " " (ctx.tf("label.days_late", &[("days", &o.days_late.to_string())])) }
                                }
                                (None, "late") => { (ctx.tf("label.outstanding_late", &[("days", &o.days_late.to_string())])) }
                                _ => { (ctx.t("label.not_yet_due")) }
                            }
                        }
                    }
                }
            }
            @if let Some(jws) = &label.jws {
                details.jws {
                    summary { (ctx.t("label.jws")) }
                    p { (ctx.t("label.jws_how")) }
                    textarea readonly rows="4" spellcheck="false" aria-label=(ctx.t("label.jws")) { (jws) }
                }
            }
            @if !label.reasons.is_empty() {
                details.reasons {
                    summary { (ctx.t("label.reasons")) }
                    ul { @for r in &label.reasons { li lang="en" { (r) } } }
                }
            }
        }
    }
}

fn obligation_state(o: &crate::app::ObligationView) -> &'static str {
    match (&o.met_on, o.days_late) {
        (Some(_), 0) => "met",
        (Some(_), _) => "met-late",
        (None, 0) => "due",
        (None, _) => "late",
    }
}

fn allocation_section(ctx: &Ctx, a: &AllocationView) -> Markup {
    let lang = ctx.lang;
    let money = |v: &str| lang.amount(&a.currency, v);
    let dec = |v: &str| v.parse::<Decimal>().unwrap_or_default();
    let bar = |label: String, v: &str, class: &'static str| Bar {
        label,
        value: dec(v),
        shown: money(v),
        class,
    };
    let use_bars = vec![
        bar(ctx.t("allocation.financing"), &a.financing, "c1"),
        bar(ctx.t("allocation.refinancing"), &a.refinancing, "c2"),
        bar(ctx.t("allocation.unallocated"), &a.unallocated, "c3"),
    ];
    let project_bars: Vec<Bar> = a
        .projects
        .iter()
        .map(|p| bar(p.name.clone(), &p.allocated, "c1"))
        .collect();
    let mut by_category: BTreeMap<String, Decimal> = BTreeMap::new();
    for p in &a.projects {
        let top = p
            .category
            .split('/')
            .next()
            .unwrap_or(&p.category)
            .to_owned();
        *by_category.entry(top).or_default() += dec(&p.allocated);
    }
    let category_bars: Vec<Bar> = by_category
        .iter()
        .map(|(c, v)| Bar {
            label: lang.code_text("category", c),
            value: *v,
            shown: money(&v.to_string()),
            class: "c4",
        })
        .collect();
    html! {
        section id="allocation" {
            h2 { (ctx.t("allocation.heading")) }
            dl.figures {
                dt { (ctx.t("allocation.raised")) } dd { (money(&a.amount_raised)) }
                dt { (ctx.t("allocation.costs")) } dd { (money(&a.issuance_costs)) }
                dt { (ctx.t("allocation.net")) } dd { (money(&a.net_proceeds)) }
                dt { (ctx.t("allocation.allocated")) } dd { (money(&a.allocated)) }
                dt { (ctx.t("allocation.unallocated")) } dd { (money(&a.unallocated))
                    @if let Some(p) = &a.placement { " (" (p) ")" } }
            }
            @if a.reports.is_empty() {
                p.empty { (ctx.t("allocation.none")) }
            } @else {
                (chart::bars("chart-allocation-use", &ctx.t("allocation.chart_use"), &use_bars))
                @if !project_bars.is_empty() {
                    (chart::bars("chart-allocation-projects", &ctx.t("allocation.chart_projects"), &project_bars))
                    (chart::bars("chart-allocation-categories", &ctx.t("allocation.chart_categories"), &category_bars))
                }
                h3 { (ctx.t("allocation.reports")) }
                ul {
                    @for r in &a.reports {
                        li {
                            (ctx.tf("allocation.report_line", &[
                                ("start", &lang.date(&r.period_start)),
                                ("end", &lang.date(&r.period_end)),
                                ("published", &lang.date(&r.published_on)),
                            ]))
                            @if !r.in_force { " " small { (ctx.t("allocation.superseded")) } }
                        }
                    }
                }
                p { a href={ "/v1/bonds/" (a.bond_id) "/allocation?format=csv" } { (ctx.t("allocation.csv")) } }
            }
        }
    }
}

fn impact_section(ctx: &Ctx, impact: &ImpactView) -> Markup {
    let lang = ctx.lang;
    // Per indicator and unit, the figures in force by reporting period.
    let mut series: BTreeMap<(String, String), Vec<&crate::app::ImpactFigureView>> =
        BTreeMap::new();
    for f in impact.figures.iter().filter(|f| f.in_force) {
        series
            .entry((f.indicator.clone(), f.unit.clone()))
            .or_default()
            .push(f);
    }
    html! {
        section id="impact" {
            h2 { (ctx.t("impact.heading")) }
            @if series.is_empty() {
                p.empty { (ctx.t("impact.none")) }
            }
            @for (i, ((indicator, unit), figures)) in series.iter().enumerate() {
                @let bars: Vec<Bar> = figures.iter().map(|f| Bar {
                    label: format!("{} – {}", lang.date(&f.period_start), lang.date(&f.period_end)),
                    value: f.value.parse().unwrap_or_default(),
                    shown: format!("{} {}", lang.number(&f.value), unit),
                    class: "c5",
                }).collect();
                @let caption = format!("{} ({})", lang.code_text("indicator", indicator), unit);
                (chart::bars(&format!("chart-impact-{i}"), &caption, &bars))
                ul.published {
                    @for f in figures {
                        li { (ctx.tf("impact.as_published", &[
                            ("value", &f.published_value), ("unit", &f.published_unit),
                            ("published", &lang.date(&f.published_on))]))
                            " · " (lang.code_text("basis", &f.basis))
                        }
                    }
                }
            }
            @if !impact.figures.is_empty() {
                p { a href={ "/v1/bonds/" (impact.bond_id) "/impact?format=csv" } { (ctx.t("impact.csv")) } }
            }
        }
    }
}

fn reviews_section(ctx: &Ctx, reviews: &[ReviewView], documents: &[BondDocument]) -> Markup {
    let lang = ctx.lang;
    html! {
        section id="reviews" {
            h2 { (ctx.t("reviews.heading")) }
            @if reviews.is_empty() { p.empty { (ctx.t("reviews.none")) } }
            ul {
                @for r in reviews {
                    li {
                        strong { (lang.code_text("review_kind", &r.kind)) } " — "
                        (lang.code_text("conclusion", &r.conclusion)) " · " (lang.date(&r.on))
                        @if let Some(w) = &r.withdrawn_on { " · " (ctx.tf("reviews.withdrawn", &[("date", &lang.date(w))])) }
                        br; small lang="en" { (r.summary) }
                    }
                }
            }
            h3 { (ctx.t("documents.heading")) }
            @if documents.is_empty() { p.empty { (ctx.t("documents.none")) } }
            ul.documents {
                @for d in documents {
                    li data-entry=(d.entry_index) {
                        (lang.code_text("document", d.document.kind.as_str())) ": "
                        a href=(d.document.uri) rel="noopener noreferrer" { (d.document.uri) }
                        @if d.entry_index != "0" {
                            " · " (ctx.tf("documents.added", &[("date", &lang.date_jst(&d.recorded_at))]))
                        }
                        br; small { "SHA-256 " code { (d.document.sha256) } }
                    }
                }
            }
        }
    }
}

fn coupons_section(ctx: &Ctx, coupons: &[CouponLine]) -> Markup {
    let lang = ctx.lang;
    html! {
        section id="coupons" {
            h2 { (ctx.t("coupons.heading")) }
            table.coupons {
                thead { tr {
                    th { (ctx.t("coupons.period")) }
                    th { (ctx.t("coupons.payment_date")) }
                    th.num { (ctx.t("coupons.rate")) }
                    th.num { (ctx.t("coupons.per_token")) }
                    th { (ctx.t("coupons.paid")) }
                } }
                tbody {
                    @for c in coupons {
                        tr {
                            td { (c.period) }
                            td { (lang.date(&c.payment_date)) }
                            td.num { (c.rate) "%" }
                            td.num { (lang.amount(&c.currency, &c.per_token)) }
                            td { @if c.paid_at_index.is_some() { (ctx.t("coupons.yes")) } @else { "—" } }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    jws: String,
}

/// `/labels/verify`: the form.
pub async fn verify_form(headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Markup {
    let ctx = Ctx::new(&headers, &uri);
    verify_page(&ctx, "", None)
}

/// `/labels/verify` posted: the check, as the API's `POST /v1/labels/verify` does it.
pub async fn verify_label(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Form(form): Form<VerifyForm>,
) -> PageResult {
    let ctx = Ctx::new(&headers, &uri);
    let jws = form.jws.trim();
    let check = state
        .app
        .verify_label(jws)
        .await
        .map_err(|e| PageError::from_app(ctx.lang, e))?;
    Ok(verify_page(&ctx, jws, Some(check)))
}

fn verify_page(ctx: &Ctx, jws: &str, check: Option<crate::app::LabelCheck>) -> Markup {
    let lang = ctx.lang;
    let title = ctx.t("verify.title");
    let body = html! {
        h1 { (title) }
        p.lead { (ctx.t("verify.lead")) }
        form.verify method="post" action="/labels/verify" {
            label for="jws" { (ctx.t("verify.paste")) }
            textarea id="jws" name="jws" rows="6" spellcheck="false" { (jws) }
            button type="submit" { (ctx.t("verify.check")) }
        }
        @if let Some(c) = check {
            @let valid = c.signature_valid && !c.expired;
            @let claims = c.claims.clone().unwrap_or_default();
            section class={ "result " (if valid { "valid" } else { "invalid" }) } data-valid=(valid) {
                h2 {
                    @if valid { (ctx.t("verify.valid")) }
                    @else if c.signature_valid { (ctx.t("verify.expired")) }
                    @else { (ctx.t("verify.invalid")) }
                }
                @if let Some(p) = &c.problem { p lang="en" { (p) } }
                @if c.signature_valid {
                    dl {
                        @if let Some(kid) = &c.kid { dt { (ctx.t("verify.key")) } dd { code { (kid) } } }
                        @if let Some(name) = claims.pointer("/label/bond/name").and_then(|v| v.as_str()) {
                            dt { (ctx.t("verify.bond")) } dd {
                                @if let Some(id) = claims.pointer("/label/bond/id").and_then(|v| v.as_str()) {
                                    a href={ "/bonds/" (id) } { (name) }
                                } @else { (name) }
                            }
                        }
                        @if let Some(s) = claims.pointer("/label/status").and_then(|v| v.as_str()) {
                            dt { (ctx.t("verify.certifies")) } dd { (badge(lang, s))
                                @if let Some(scheme) = claims.pointer("/label/scheme/id").and_then(|v| v.as_str()) { " · " (scheme) } }
                        }
                        @if let Some(since) = claims.pointer("/label/since").and_then(|v| v.as_str()) {
                            dt { (ctx.t("verify.since")) } dd { (lang.date(since)) }
                        }
                        @if let Some(iat) = claims.get("iat").and_then(|v| v.as_i64()) {
                            dt { (ctx.t("verify.issued")) } dd { (lang.moment(iat)) }
                        }
                        @if let Some(exp) = claims.get("exp").and_then(|v| v.as_i64()) {
                            dt { (ctx.t("verify.until")) } dd { (lang.moment(exp)) }
                        }
                        dt { (ctx.t("verify.current")) } dd {
                            @if c.current { (ctx.t("verify.current_yes")) }
                            @else if let Some(s) = &c.current_status { (ctx.tf("verify.current_no", &[("status", &lang.code_text("status", s))])) }
                            @else { "—" }
                        }
                    }
                }
            }
        }
    };
    layout(ctx, &title, body)
}
