//! Field-level validation errors, shared by every parser in `domain`.
//!
//! A request is checked as a whole and *every* problem is reported at once, each pointing at the
//! offending value with an RFC 6901 JSON Pointer, so that an issuer fixes a bond specification in
//! one round trip instead of one error at a time. The HTTP layer turns a `Vec<FieldError>` into
//! the `errors` member of an RFC 9457 problem document.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest excerpt of user input repeated in an error message: enough to recognise the value,
/// short enough that a megabyte of garbage does not come back in the response.
pub const QUOTED_INPUT_CHARS_MAX: usize = 40;

/// Most errors reported for one document. Lists in a document have their own limits, but a
/// document built to fail everywhere must still get a bounded answer; past this many, the last
/// entry says that more were left out.
pub const FIELD_ERRORS_MAX: usize = 100;

/// One problem with one value of a request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    /// RFC 6901 JSON Pointer to the value, relative to the document that was validated
    /// (`"/coupon/rate"`); the caller prefixes it with where that document sits in the request.
    #[schema(example = "/maturity_date")]
    pub pointer: String,
    /// Stable snake_case identifier of the rule that failed; clients may match on it.
    #[schema(example = "maturity_before_issue")]
    pub code: String,
    /// A sentence a person can act on.
    #[schema(example = "maturity_date 2025-01-01 must be after issue_date 2025-06-20")]
    pub detail: String,
}

/// An error that carries a stable code, so that it can become a [`FieldError`].
pub trait ErrorCode: fmt::Display {
    /// Stable snake_case identifier of the rule that failed.
    fn code(&self) -> &'static str;
}

/// Collects [`FieldError`]s while a document is validated field by field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors {
    errors: Vec<FieldError>,
}

/// A value was not one of the names an enumeration accepts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be one of {}; got {}", .expected.join(", "), quoted(.got))]
pub struct UnknownVariant {
    what: &'static str,
    got: String,
    expected: Vec<&'static str>,
}

impl FieldError {
    /// A field error from its three parts.
    pub fn new(
        pointer: impl Into<String>,
        code: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            pointer: pointer.into(),
            code: code.into(),
            detail: detail.into(),
        }
    }

    /// A field error at `pointer` from a coded parse error; the detail is the error's message.
    pub fn from_error(pointer: impl Into<String>, error: &impl ErrorCode) -> Self {
        Self::new(pointer, error.code(), error.to_string())
    }

    /// The same error, with `prefix` (itself a JSON Pointer, e.g. `"/payload/bond"`) in front.
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.pointer = format!("{prefix}{}", self.pointer);
        self
    }
}

impl FieldErrors {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem.
    pub fn push(
        &mut self,
        pointer: impl Into<String>,
        code: impl Into<String>,
        detail: impl Into<String>,
    ) {
        match self.errors.len() {
            n if n + 1 < FIELD_ERRORS_MAX => {
                self.errors.push(FieldError::new(pointer, code, detail));
            }
            n if n + 1 == FIELD_ERRORS_MAX => self.errors.push(FieldError::new(
                "",
                "too_many_errors",
                format!(
                    "further problems were left out after the first {}; fix these and submit again",
                    FIELD_ERRORS_MAX - 1
                ),
            )),
            _ => {}
        }
    }

    /// Records a coded parse error at `pointer`.
    pub fn push_error(&mut self, pointer: impl Into<String>, error: &impl ErrorCode) {
        self.push(pointer, error.code(), error.to_string());
    }

    /// Passes a parse result through: the value if it parsed, otherwise `None` with the error
    /// recorded at `pointer`. This is what lets one validation pass report every problem.
    pub fn check<T, E: ErrorCode>(
        &mut self,
        pointer: impl Into<String>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push_error(pointer, &error);
                None
            }
        }
    }

    /// Adds errors found in a nested document that sits at `prefix`.
    pub fn extend_prefixed(&mut self, prefix: &str, errors: impl IntoIterator<Item = FieldError>) {
        for error in errors {
            let error = error.prefixed(prefix);
            self.push(error.pointer, error.code, error.detail);
        }
    }

    /// The same errors, each with `prefix` in front of its pointer.
    pub fn prefix(self, prefix: &str) -> Self {
        Self {
            errors: self
                .errors
                .into_iter()
                .map(|error| error.prefixed(prefix))
                .collect(),
        }
    }

    /// Whether no problem was recorded.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// How many problems were recorded.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// The recorded problems, in the order found.
    pub fn as_slice(&self) -> &[FieldError] {
        &self.errors
    }

    /// The recorded problems, in the order found.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.errors
    }

    /// `Ok(value)` when nothing was recorded and the value could be built, otherwise every
    /// recorded problem.
    ///
    /// `value` is `None` exactly when some part failed to parse, which always records an error;
    /// should that ever not hold, a generic error is returned rather than a panic or an `Err`
    /// with an empty list, which a client could not act on.
    pub fn into_result<T>(mut self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => {
                if self.errors.is_empty() {
                    self.push("", "invalid", "the document is invalid");
                }
                Err(self.errors)
            }
        }
    }
}

impl From<FieldErrors> for Vec<FieldError> {
    fn from(errors: FieldErrors) -> Self {
        errors.errors
    }
}

impl UnknownVariant {
    /// `got` is not one of `expected`, the wire names of the enumeration `what`.
    pub fn new(what: &'static str, got: &str, expected: &[&'static str]) -> Self {
        Self {
            what,
            got: got.to_owned(),
            expected: expected.to_vec(),
        }
    }
}

impl ErrorCode for UnknownVariant {
    fn code(&self) -> &'static str {
        "unknown_value"
    }
}

/// The input, quoted and cut to [`QUOTED_INPUT_CHARS_MAX`] characters, for error messages.
pub fn quoted(input: &str) -> String {
    let mut chars = input.chars();
    let head: String = chars.by_ref().take(QUOTED_INPUT_CHARS_MAX).collect();
    if chars.next().is_some() {
        format!("{:?}…", head)
    } else {
        format!("{:?}", head)
    }
}

/// For an optional field whose value went through [`FieldErrors::check`]: `None` if it was given
/// but failed to parse (so the whole document fails), otherwise whether it was given.
pub fn all_parsed<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    match field {
        None => Some(None),
        Some(parsed) => parsed.map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn into_result_returns_the_value_when_nothing_was_recorded() {
        assert_eq!(FieldErrors::new().into_result(Some(7)), Ok(7));
    }

    #[test]
    fn into_result_returns_every_recorded_error_in_order() {
        let mut errors = FieldErrors::new();
        errors.push("/a", "first", "first problem");
        errors.push("/b", "second", "second problem");
        let result = errors.into_result(Some(7));
        let codes: Vec<_> = result.unwrap_err().into_iter().map(|e| e.code).collect();
        assert_eq!(codes, ["first", "second"]);
    }

    #[test]
    fn into_result_never_returns_an_empty_error_list() {
        let result: Result<(), _> = FieldErrors::new().into_result(None);
        assert_eq!(result.unwrap_err().len(), 1);
    }

    #[test]
    fn errors_past_the_limit_are_summarised_in_one_entry() {
        let mut errors = FieldErrors::new();
        for i in 0..FIELD_ERRORS_MAX - 1 {
            errors.push(format!("/{i}"), "bad", "bad");
        }
        assert_eq!(errors.as_slice().last().unwrap().code, "bad");
        errors.push("/next", "bad", "bad");
        errors.push("/after", "bad", "bad");
        assert_eq!(errors.len(), FIELD_ERRORS_MAX);
        assert_eq!(errors.as_slice().last().unwrap().code, "too_many_errors");
    }

    #[test]
    fn prefix_puts_the_outer_pointer_in_front() {
        let mut errors = FieldErrors::new();
        errors.push("/maturity_date", "maturity_before_issue", "…");
        let errors = errors.prefix("/payload/bond").into_vec();
        assert_eq!(errors[0].pointer, "/payload/bond/maturity_date");
    }

    #[test]
    fn check_records_the_error_and_yields_none() {
        let mut errors = FieldErrors::new();
        let parsed: Result<u8, _> = Err(UnknownVariant::new("role", "king", &["issuer"]));
        assert_eq!(errors.check("/role", parsed), None);
        assert_eq!(errors.as_slice()[0].code, "unknown_value");
        assert_eq!(errors.as_slice()[0].pointer, "/role");
    }

    #[test]
    fn unknown_variant_lists_the_accepted_names() {
        let error = UnknownVariant::new("role", "king", &["issuer", "investor"]);
        assert_eq!(
            error.to_string(),
            "role must be one of issuer, investor; got \"king\""
        );
    }

    #[test]
    fn quoted_cuts_long_input() {
        let long = "x".repeat(QUOTED_INPUT_CHARS_MAX + 1);
        let quoted = quoted(&long);
        assert!(quoted.ends_with('…'));
        assert_eq!(
            quoted.chars().filter(|c| *c == 'x').count(),
            QUOTED_INPUT_CHARS_MAX
        );
    }

    #[test]
    fn quoted_keeps_input_at_the_limit_whole() {
        let exact = "x".repeat(QUOTED_INPUT_CHARS_MAX);
        assert!(!quoted(&exact).ends_with('…'));
    }

    #[test]
    fn field_error_json_uses_snake_case_names() {
        let json = serde_json::to_value(FieldError::new("/a", "b", "c")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"pointer": "/a", "code": "b", "detail": "c"})
        );
    }
}
