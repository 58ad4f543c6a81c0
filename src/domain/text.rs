//! Free text that people type: names of parties, bonds, KPIs and target populations.
//!
//! Leading and trailing whitespace (Unicode `White_Space`, which includes the ideographic space
//! U+3000 common in Japanese input) is dropped: it is never meaningful in a name and would make
//! two names that look the same compare different. Control characters are refused because they
//! can hide text in logs, terminals and PDFs generated from these values.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::domain::error::{ErrorCode, FieldError};
use crate::domain::wire::{schema_name, string_schema, string_wire};

/// Longest name, in Unicode scalar values (characters, not bytes, so that a Japanese name gets
/// the same room as a Latin one); generous for any registered legal name.
pub const NAME_CHARS_MAX: usize = 200;

/// A name: trimmed, 1 to [`NAME_CHARS_MAX`] characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

/// Why a string is not acceptable text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} has {got} characters; at most {max} are allowed")]
    TooLong {
        what: &'static str,
        got: usize,
        max: usize,
    },
    #[error("{what} contains a control character (such as a newline or tab); remove it")]
    ControlCharacter { what: &'static str },
    #[error("{what} {rule}")]
    Format {
        what: &'static str,
        rule: &'static str,
    },
}

impl Name {
    /// Parses a name; see the module documentation for why it is trimmed.
    pub fn parse(text: &str) -> Result<Self, TextError> {
        Self::parse_as(text, "name")
    }

    /// Parses with the same rules, naming the value `what` in messages ("target population").
    pub fn parse_as(text: &str, what: &'static str) -> Result<Self, TextError> {
        parse_text(text, what, NAME_CHARS_MAX).map(Self)
    }

    /// The name, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ErrorCode for TextError {
    fn code(&self) -> &'static str {
        match self {
            TextError::Empty { .. } => "empty",
            TextError::TooLong { .. } => "too_long",
            TextError::ControlCharacter { .. } => "control_character",
            TextError::Format { .. } => "invalid_format",
        }
    }
}

impl TextError {
    /// This error as a [`FieldError`] at `pointer`.
    pub fn at(&self, pointer: impl Into<String>) -> FieldError {
        FieldError::from_error(pointer, self)
    }
}

string_wire!(Name, TextError);

impl utoipa::PartialSchema for Name {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "Name, 1 to 200 characters after trimming, no control characters",
            None,
            "Osaka Prefecture",
        )
    }
}

impl utoipa::ToSchema for Name {
    fn name() -> Cow<'static, str> {
        schema_name("Name")
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Trims `text` and checks it is 1 to `chars_max` characters without control characters.
/// `what` names the value in messages.
pub fn parse_text(text: &str, what: &'static str, chars_max: usize) -> Result<String, TextError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty { what });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter { what });
    }
    let got = trimmed.chars().count();
    if got > chars_max {
        return Err(TextError::TooLong {
            what,
            got,
            max: chars_max,
        });
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(Name::parse("  大阪府 \u{3000}").unwrap().as_str(), "大阪府");
    }

    #[test]
    fn a_blank_name_is_refused() {
        assert_eq!(Name::parse("").unwrap_err().code(), "empty");
        assert_eq!(Name::parse(" \t\u{3000}").unwrap_err().code(), "empty");
    }

    #[test]
    fn a_name_of_200_characters_is_accepted_and_201_is_not() {
        assert!(Name::parse(&"大".repeat(NAME_CHARS_MAX)).is_ok());
        let error = Name::parse(&"大".repeat(NAME_CHARS_MAX + 1)).unwrap_err();
        assert_eq!(error.code(), "too_long");
        assert_eq!(
            error.to_string(),
            "name has 201 characters; at most 200 are allowed"
        );
    }

    #[test]
    fn a_name_with_a_control_character_inside_is_refused() {
        assert_eq!(
            Name::parse("Osaka\nPrefecture").unwrap_err().code(),
            "control_character"
        );
        assert_eq!(
            Name::parse("Osaka\u{7}").unwrap_err().code(),
            "control_character"
        );
    }

    #[test]
    fn names_deserialise_through_the_same_checks() {
        let name: Name = serde_json::from_str("\" Osaka \"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"Osaka\"");
        assert!(serde_json::from_str::<Name>("\"\"").is_err());
    }
}
