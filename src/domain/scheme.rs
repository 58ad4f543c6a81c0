//! Label schemes: the rulebook a label is awarded under, one versioned TOML file a standard
//! (`src/domain/schemes/*.toml`), pinned by the SHA-256 of its exact bytes and embedded in the
//! binary. A bond names the schemes it is labelled under in its terms (`label_schemes`); each
//! label carries its scheme's id, version and hash, so a new version never changes a label
//! granted under the old one.
//!
//! Every parameter names its source (standard and article); `docs/labels.md` cites them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use time::Date;

use crate::domain::label::{ImpactFrequency, LabelRules, ReportingUntil, VerificationDue};
use crate::domain::wire::parse_date;

/// The schemes midori ships, oldest version first within a scheme id.
const FILES: &[(&str, &[u8])] = &[
    (
        "icma-gbp-v1.toml",
        include_bytes!("schemes/icma-gbp-v1.toml"),
    ),
    ("jp-moe-v1.toml", include_bytes!("schemes/jp-moe-v1.toml")),
    ("eu-gbs-v1.toml", include_bytes!("schemes/eu-gbs-v1.toml")),
    ("cbi-v1.toml", include_bytes!("schemes/cbi-v1.toml")),
    (
        "osaka-ifc-v1.toml",
        include_bytes!("schemes/osaka-ifc-v1.toml"),
    ),
];

/// The scheme a bond is labelled under when its terms name none.
pub const DEFAULT_SCHEME: &str = "icma-gbp";

/// At most this many months in any month parameter (ten years).
const MONTHS_MAX: u32 = 120;
/// At most this many days of grace or of late recording (ten years).
const DAYS_MAX: u32 = 3_650;

/// A label scheme, as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scheme {
    /// Lowercase letters, digits and hyphens.
    #[schema(example = "icma-gbp")]
    pub id: String,
    pub version: u32,
    /// `YYYY-MM-DD`: bonds registered on or after it are labelled under this version.
    #[schema(example = "2026-12-07")]
    pub effective_from: String,
    pub title: String,
    pub publisher: String,
    pub edition: String,
    #[serde(default)]
    pub uri: Option<String>,
    /// Lowercase hex SHA-256 of the scheme file's exact bytes (not part of the file).
    #[serde(default)]
    pub sha256: String,
    pub pre_issuance_review: Required,
    pub post_issuance_verification: Verification,
    pub reporting_year: ReportingYear,
    pub allocation_reporting: AllocationReporting,
    pub impact_reporting: ImpactReporting,
    pub grace: Grace,
    pub revocation: Revocation,
    pub recording: Recording,
}

/// Whether a review is required (no label without it) or only recommended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Required {
    pub required: bool,
    /// The standard and article this comes from.
    pub source: String,
}

/// The post-issuance verification of the allocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    /// `false`: recommended, no obligation.
    pub required: bool,
    /// `months_after_issue` or `months_after_full_allocation`.
    pub due: VerificationBasis,
    pub months: u32,
    pub source: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationBasis {
    MonthsAfterIssue,
    MonthsAfterFullAllocation,
}

/// How reporting years are cut from the issuer's fiscal year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportingYear {
    /// A first fiscal year that ends less than this many months after the issue date is joined
    /// to the next.
    pub short_first_year_months: u32,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationReporting {
    /// `full_allocation` or `maturity`.
    #[schema(value_type = String)]
    pub until: ReportingUntil,
    /// A report on a reporting year is due this many months after the year ends.
    pub publication_lag_months: u32,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactReporting {
    /// `none`, `once_after_full_allocation`, `annually_until_full_allocation` or
    /// `annually_until_maturity`.
    #[schema(value_type = String)]
    pub frequency: ImpactFrequency,
    /// An annual report is due this long after its year ends; a single report after full
    /// allocation, this long after the full-allocation report is published.
    pub publication_lag_months: u32,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grace {
    /// An overdue label is suspended once an obligation is more than this many days late.
    pub days: u32,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    pub on_negative_review: bool,
    pub on_withdrawn_review: bool,
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// A fact recorded more than this many days after its `published_on` must cite its published
    /// document, and is shown as recorded late.
    pub late_after_days: u32,
    pub source: String,
}

/// Why a scheme file is not a scheme.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("{file}: {problem}")]
    Invalid { file: String, problem: String },
}

impl Scheme {
    /// Parses and checks a scheme from the exact bytes of its file.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Scheme, SchemeError> {
        let invalid = |problem: String| SchemeError::Invalid {
            file: file.to_owned(),
            problem,
        };
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8".into()))?;
        let mut scheme: Scheme =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim().to_owned()))?;
        if !scheme.sha256.is_empty() {
            return Err(invalid(
                "`sha256` is computed from the file, not written in it".into(),
            ));
        }
        scheme.sha256 = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let id_ok = !scheme.id.is_empty()
            && scheme.id.len() <= 32
            && scheme
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            return Err(invalid(format!(
                "id {:?}: 1 to 32 lowercase letters, digits and hyphens",
                scheme.id
            )));
        }
        if scheme.version == 0 {
            return Err(invalid("version is 1 or more".into()));
        }
        parse_date(&scheme.effective_from).map_err(|e| invalid(format!("effective_from: {e}")))?;
        let months = [
            (
                "post_issuance_verification.months",
                scheme.post_issuance_verification.months,
            ),
            (
                "reporting_year.short_first_year_months",
                scheme.reporting_year.short_first_year_months,
            ),
            (
                "allocation_reporting.publication_lag_months",
                scheme.allocation_reporting.publication_lag_months,
            ),
            (
                "impact_reporting.publication_lag_months",
                scheme.impact_reporting.publication_lag_months,
            ),
        ];
        for (name, value) in months {
            if value > MONTHS_MAX {
                return Err(invalid(format!("{name} is at most {MONTHS_MAX}")));
            }
        }
        if scheme.reporting_year.short_first_year_months >= 12 {
            return Err(invalid(
                "reporting_year.short_first_year_months is less than 12".into(),
            ));
        }
        for (name, value) in [
            ("grace.days", scheme.grace.days),
            (
                "recording.late_after_days",
                scheme.recording.late_after_days,
            ),
        ] {
            if value > DAYS_MAX {
                return Err(invalid(format!("{name} is at most {DAYS_MAX}")));
            }
        }
        let sources = [
            &scheme.pre_issuance_review.source,
            &scheme.post_issuance_verification.source,
            &scheme.reporting_year.source,
            &scheme.allocation_reporting.source,
            &scheme.impact_reporting.source,
            &scheme.grace.source,
            &scheme.revocation.source,
            &scheme.recording.source,
        ];
        if sources.iter().any(|s| s.trim().is_empty()) {
            return Err(invalid("every parameter names its source".into()));
        }
        Ok(scheme)
    }

    /// The parameters the label evaluation needs.
    pub fn rules(&self) -> LabelRules {
        let v = &self.post_issuance_verification;
        LabelRules {
            pre_issuance_review_required: self.pre_issuance_review.required,
            verification: v.required.then_some(match v.due {
                VerificationBasis::MonthsAfterIssue => VerificationDue::MonthsAfterIssue(v.months),
                VerificationBasis::MonthsAfterFullAllocation => {
                    VerificationDue::MonthsAfterFullAllocation(v.months)
                }
            }),
            allocation_until: self.allocation_reporting.until,
            allocation_lag_months: self.allocation_reporting.publication_lag_months,
            impact: self.impact_reporting.frequency,
            impact_lag_months: self.impact_reporting.publication_lag_months,
            short_first_year_months: self.reporting_year.short_first_year_months,
            grace_days: self.grace.days,
            revoke_on_negative_review: self.revocation.on_negative_review,
            revoke_on_withdrawn_review: self.revocation.on_withdrawn_review,
        }
    }
}

/// Every scheme midori ships, parsed once.
pub fn all() -> &'static [Scheme] {
    static SCHEMES: std::sync::OnceLock<Vec<Scheme>> = std::sync::OnceLock::new();
    SCHEMES.get_or_init(|| {
        FILES
            .iter()
            .filter_map(|(file, bytes)| match Scheme::parse(file, bytes) {
                Ok(scheme) => Some(scheme),
                // A test parses every file; a broken one is never shipped.
                Err(e) => {
                    tracing::error!(error = %e, "label scheme");
                    None
                }
            })
            .collect()
    })
}

/// The latest version of scheme `id`.
pub fn latest(id: &str) -> Option<&'static Scheme> {
    all()
        .iter()
        .filter(|s| s.id == id)
        .max_by_key(|s| s.version)
}

/// The version of scheme `id` a bond registered on `registered_on` is labelled under: the
/// latest in effect on that day, or the first version for a bond registered before any was.
/// A later version never changes the label of a bond registered before it took effect.
pub fn for_bond(id: &str, registered_on: Date) -> Option<&'static Scheme> {
    let versions = || all().iter().filter(move |s| s.id == id);
    versions()
        .filter(|s| parse_date(&s.effective_from).is_ok_and(|from| from <= registered_on))
        .max_by_key(|s| s.version)
        .or_else(|| versions().min_by_key(|s| s.version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scheme_parses_and_ids_are_unique_per_version() {
        for (file, bytes) in FILES {
            let scheme = Scheme::parse(file, bytes).unwrap();
            assert_eq!(
                *file,
                format!("{}-v{}.toml", scheme.id, scheme.version),
                "the file is named after its id and version"
            );
        }
        assert_eq!(all().len(), FILES.len());
        for id in ["icma-gbp", "jp-moe", "eu-gbs", "cbi", "osaka-ifc"] {
            assert!(latest(id).is_some(), "{id} ships");
        }
    }

    #[test]
    fn the_hash_is_of_the_exact_bytes() {
        let (file, bytes) = FILES[0];
        let a = Scheme::parse(file, bytes).unwrap();
        let mut changed = bytes.to_vec();
        changed.extend_from_slice(b"\n# one more comment\n");
        let b = Scheme::parse(file, &changed).unwrap();
        assert_eq!(a.rules(), b.rules());
        assert_ne!(a.sha256, b.sha256);
        assert_eq!(a.sha256.len(), 64);
    }

    #[test]
    fn a_scheme_without_a_source_or_with_an_unknown_key_is_refused() {
        let (file, bytes) = FILES[0];
        let text = std::str::from_utf8(bytes).unwrap();
        let unknown = format!("{text}\n[extra]\nx = 1\n");
        assert!(Scheme::parse(file, unknown.as_bytes()).is_err());
        let written_hash = text.replacen("version = 1", "version = 1\nsha256 = \"00\"", 1);
        assert!(Scheme::parse(file, written_hash.as_bytes()).is_err());
    }
}
