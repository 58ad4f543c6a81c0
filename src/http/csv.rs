//! CSV renderings of the public allocation and impact views (`Accept: text/csv` or
//! `?format=csv`), with the columns an issuer's report table has: one row a report line or a
//! figure, amounts and figures exactly as the JSON view gives them.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::{AllocationView, AppError, ImpactView};

/// The media type of the CSV renderings (RFC 4180, UTF-8, with a header row).
pub const TEXT_CSV: &str = "text/csv; charset=utf-8";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` (the default) or `csv`; `Accept: text/csv` asks for CSV too.
    format: Option<Format>,
}

/// A view's representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

/// Whether the request asks for CSV: `?format=csv`, or an `Accept` header that names `text/csv`
/// and not JSON first.
pub fn wants_csv(query: &FormatQuery, headers: &HeaderMap) -> bool {
    match query.format {
        Some(Format::Csv) => return true,
        Some(Format::Json) => return false,
        None => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first = accept
        .split(',')
        .map(|m| m.split(';').next().unwrap_or("").trim())
        .find(|m| {
            matches!(
                *m,
                "text/csv" | "application/json" | "*/*" | "application/*"
            )
        });
    first == Some("text/csv")
}

/// A CSV body as a response, or a 500 problem if it could not be written.
pub fn respond(body: Result<String, AppError>) -> Response {
    match body {
        Ok(text) => {
            let mut response = text.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_CSV));
            response
        }
        Err(e) => crate::http::problem::ApiError::from(e).into_response(),
    }
}

fn finish(writer: csv::Writer<Vec<u8>>) -> Result<String, AppError> {
    let bytes = writer
        .into_inner()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(format!("csv: {e}")))
}

fn row<const N: usize>(w: &mut csv::Writer<Vec<u8>>, cells: [&str; N]) -> Result<(), AppError> {
    w.write_record(cells)
        .map_err(|e| AppError::Internal(format!("csv: {e}")))
}

/// One row a line of every allocation report (and one for each report's unallocated balance).
pub fn allocation(view: &AllocationView) -> Result<String, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    row(
        &mut w,
        [
            "report",
            "period_start",
            "period_end",
            "published_on",
            "in_force",
            "row",
            "project_id",
            "project_name",
            "category",
            "use_of_funds",
            "expense",
            "value_date",
            "amount",
            "currency",
            "published_amount",
            "published_currency",
            "exchange_rate",
            "placement",
        ],
    )?;
    for report in &view.reports {
        let in_force = if report.in_force { "true" } else { "false" };
        let rate = report
            .exchange_rate
            .as_ref()
            .and_then(|r| r.get("rate"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned();
        for line in &report.lines {
            let project = view
                .projects
                .iter()
                .find(|p| p.project_id == line.project_id);
            row(
                &mut w,
                [
                    &report.entry_index,
                    &report.period_start,
                    &report.period_end,
                    &report.published_on,
                    in_force,
                    "line",
                    &line.project_id,
                    project.map_or("", |p| p.name.as_str()),
                    project.map_or("", |p| p.category.as_str()),
                    &line.use_of_funds,
                    &line.expense,
                    &line.value_date,
                    &line.amount,
                    &view.currency,
                    line.published_amount.as_deref().unwrap_or(""),
                    report.stated_currency.as_deref().unwrap_or(""),
                    &rate,
                    "",
                ],
            )?;
        }
        row(
            &mut w,
            [
                &report.entry_index,
                &report.period_start,
                &report.period_end,
                &report.published_on,
                in_force,
                "unallocated",
                "",
                "",
                "",
                "",
                "",
                "",
                &report.unallocated,
                &view.currency,
                report.published_unallocated.as_deref().unwrap_or(""),
                report.stated_currency.as_deref().unwrap_or(""),
                &rate,
                &report.placement,
            ],
        )?;
    }
    finish(w)
}

/// One row a figure of every impact report, as published and in the catalogue's unit.
pub fn impact(view: &ImpactView) -> Result<String, AppError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    row(
        &mut w,
        [
            "report",
            "period_start",
            "period_end",
            "published_on",
            "in_force",
            "projects",
            "indicator",
            "published_value",
            "published_unit",
            "value",
            "unit",
            "basis",
            "attribution",
            "bond_share",
            "emission_factor",
            "emission_factor_unit",
            "emission_factor_source",
            "methodology",
            "baseline",
            "target_population",
        ],
    )?;
    for f in &view.figures {
        let factor = |key: &str| {
            f.emission_factor
                .as_ref()
                .and_then(|e| e.get(key))
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let projects = f.projects.join(";");
        let (ef_value, ef_unit, ef_source) = (factor("value"), factor("unit"), factor("source"));
        row(
            &mut w,
            [
                &f.report,
                &f.period_start,
                &f.period_end,
                &f.published_on,
                if f.in_force { "true" } else { "false" },
                &projects,
                &f.indicator,
                &f.published_value,
                &f.published_unit,
                &f.value,
                &f.unit,
                &f.basis,
                &f.attribution,
                f.bond_share.as_deref().unwrap_or(""),
                &ef_value,
                &ef_unit,
                &ef_source,
                &f.methodology,
                &f.baseline,
                f.target_population.as_deref().unwrap_or(""),
            ],
        )?;
    }
    finish(w)
}
