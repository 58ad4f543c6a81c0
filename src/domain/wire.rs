//! Wire formats shared by the domain types: calendar dates, string-typed OpenAPI schemas and the
//! `wire_enum!` macro that keeps an enumeration's Rust names, JSON names and parser in step.
//!
//! Everything here ends up inside signed payloads, which are compared byte for byte after RFC 8785
//! canonicalisation; so each value has exactly one accepted spelling.

use std::borrow::Cow;

use time::{Date, Month};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::domain::error::{ErrorCode, quoted};

/// A date was not a valid `YYYY-MM-DD` calendar date (ISO 8601 extended format, RFC 3339
/// `full-date`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a calendar date written YYYY-MM-DD (e.g. \"2025-06-20\")", quoted(.input))]
pub struct DateError {
    input: String,
}

/// Parses an RFC 3339 `full-date`: exactly four digits of year, two of month, two of day.
///
/// `time`'s own parsers also accept other spellings of the same day (a sign, more year digits);
/// a signed payload must have one spelling, so the shape is checked here by hand.
pub fn parse_date(text: &str) -> Result<Date, DateError> {
    let error = || DateError {
        input: text.to_owned(),
    };
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return Err(error());
    }
    let number = |range: std::ops::Range<usize>| -> u16 {
        bytes[range]
            .iter()
            .fold(0u16, |n, b| n * 10 + u16::from(b - b'0'))
    };
    let year = i32::from(number(0..4));
    let month = u8::try_from(number(5..7)).map_err(|_| error())?;
    let day = u8::try_from(number(8..10)).map_err(|_| error())?;
    let month = Month::try_from(month).map_err(|_| error())?;
    Date::from_calendar_date(year, month, day).map_err(|_| error())
}

/// Formats a date as `YYYY-MM-DD`, the only spelling [`parse_date`] accepts.
pub fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

impl ErrorCode for DateError {
    fn code(&self) -> &'static str {
        "invalid_date"
    }
}

/// An OpenAPI schema for a value that travels as a JSON string.
pub(crate) fn string_schema(
    description: &str,
    pattern: Option<&str>,
    example: &str,
) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(pattern)
        .examples([serde_json::Value::String(example.to_owned())])
        .into()
}

/// The type name a hand-written `ToSchema` impl registers under.
pub(crate) fn schema_name(name: &'static str) -> Cow<'static, str> {
    Cow::Borrowed(name)
}

/// Declares a fieldless enumeration that travels as a snake_case JSON string.
///
/// One list of `Variant = "wire_name"` pairs drives the serde names, the OpenAPI enumeration,
/// `as_str`, `parse` and `ALL`, so they cannot drift apart.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $wire:tt
            ),+ $(,)?
        }
    ) => {
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $wire)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The JSON name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            /// The value whose JSON name is `text` (exact, case-sensitive match).
            pub fn parse(text: &str) -> Result<Self, $crate::domain::error::UnknownVariant> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == text)
                    .ok_or_else(|| {
                        let names: Vec<&'static str> =
                            Self::ALL.iter().map(|value| value.as_str()).collect();
                        $crate::domain::error::UnknownVariant::new($what, text, &names)
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::error::UnknownVariant;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }
    };
}

pub(crate) use wire_enum;

/// Implements `Display`, `FromStr`, `Serialize` and `Deserialize` for a type with
/// `fn as_str(&self) -> &str` and `fn parse(&str) -> Result<Self, E>`: the value travels as its
/// string, and deserialising runs the same checks as parsing.
macro_rules! string_wire {
    ($name:ident, $error:ty) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text =
                    <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use string_wire;

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn a_plain_date_parses() {
        assert_eq!(parse_date("2025-06-20"), Ok(date!(2025 - 06 - 20)));
    }

    #[test]
    fn a_leap_day_parses_only_in_a_leap_year() {
        assert_eq!(parse_date("2028-02-29"), Ok(date!(2028 - 02 - 29)));
        assert!(parse_date("2027-02-29").is_err());
    }

    #[test]
    fn other_spellings_of_a_date_are_refused() {
        for text in [
            "2025-6-20",
            "20250620",
            "+2025-06-20",
            "02025-06-20",
            "2025-06-20T00:00:00Z",
            " 2025-06-20",
            "2025/06/20",
            "2025-13-01",
            "2025-00-10",
            "2025-06-31",
            "2025-06-00",
            "",
            "２０２５-06-20",
        ] {
            assert!(parse_date(text).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn format_date_pads_to_the_accepted_spelling() {
        assert_eq!(format_date(date!(0999 - 01 - 02)), "0999-01-02");
        assert_eq!(
            parse_date(&format_date(date!(2030 - 12 - 31))),
            Ok(date!(2030 - 12 - 31))
        );
    }

    #[test]
    fn a_date_error_has_a_stable_code() {
        assert_eq!(parse_date("x").unwrap_err().code(), "invalid_date");
    }
}
