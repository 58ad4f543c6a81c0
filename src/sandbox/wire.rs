//! JSON spellings of the values in transactions, states and reports: amounts as plain decimal
//! strings, times as RFC 3339 UTC with microseconds, dates as `YYYY-MM-DD` (DESIGN.md,
//! "Ledgers": no floats, one spelling per value).

use rust_decimal::Decimal;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::domain::money::{AMOUNT_UNITS_MAX, DecimalFormat, MoneyError, parse_decimal};

/// Most decimals an amount may carry on the wire: the largest ISO 4217 minor unit (4, CLF).
/// Whether an amount fits the trial's currency is a rule (`SBX-AMOUNT`), judged in replay.
pub const AMOUNT_DECIMALS_MAX: u32 = 4;

/// Parses a non-negative plain decimal of at most [`AMOUNT_DECIMALS_MAX`] decimals and at most
/// [`AMOUNT_UNITS_MAX`], normalised (`"100.50"` becomes 100.5).
pub fn parse_amount(text: &str) -> Result<Decimal, MoneyError> {
    let rule = || format!("an amount has at most {AMOUNT_DECIMALS_MAX} decimals");
    parse_decimal(
        text,
        &DecimalFormat {
            what: "amount",
            signed: false,
            decimals_max: AMOUNT_DECIMALS_MAX,
            decimals_rule: &rule,
            magnitude_max: Decimal::from(AMOUNT_UNITS_MAX),
        },
    )
    .map(|value| value.normalize())
}

/// The canonical spelling of an amount: `Decimal::normalize()` (`"100.5"`, `"1000000"`).
pub fn format_amount(value: Decimal) -> String {
    value.normalize().to_string()
}

/// RFC 3339 UTC with exactly six fractional digits, as the ledger writes entry times
/// (`app::format_time`), so that times compare correctly as strings.
pub fn format_time(time: OffsetDateTime) -> String {
    let t = time.checked_to_offset(UtcOffset::UTC).unwrap_or(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Parses an RFC 3339 time in UTC (`Z` or `+00:00`) with at most microsecond precision.
pub fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| format!("{text:?} is not an RFC 3339 time such as 2026-10-01T00:00:00Z"))?;
    if time.offset() != UtcOffset::UTC {
        return Err(format!("{text:?} is not in UTC; write it with Z"));
    }
    if time.nanosecond() % 1_000 != 0 {
        return Err(format!("{text:?} is finer than a microsecond"));
    }
    Ok(time)
}

/// `#[serde(with)]` for an amount as a string.
pub mod amount {
    use std::borrow::Cow;

    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_amount(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        super::parse_amount(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with)]` for an optional amount as a string or null.
pub mod opt_amount {
    use std::borrow::Cow;

    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_str(&super::format_amount(*value)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        match Option::<Cow<'de, str>>::deserialize(deserializer)? {
            Some(text) => super::parse_amount(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// `#[serde(with)]` for a time as RFC 3339 UTC.
pub mod time_utc {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(
        value: &OffsetDateTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_time(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        super::parse_time(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with)]` for an optional time as RFC 3339 UTC or null.
pub mod opt_time_utc {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(
        value: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_str(&super::format_time(*value)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        match Option::<Cow<'de, str>>::deserialize(deserializer)? {
            Some(text) => super::parse_time(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

/// `#[serde(with)]` for a date as `YYYY-MM-DD`.
pub mod date {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    use crate::domain::wire::{format_date, parse_date};

    pub fn serialize<S: Serializer>(value: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_date(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        parse_date(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with)]` for an optional date as `YYYY-MM-DD` or null.
pub mod opt_date {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    use crate::domain::wire::{format_date, parse_date};

    pub fn serialize<S: Serializer>(
        value: &Option<Date>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_str(&format_date(*value)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Date>, D::Error> {
        match Option::<Cow<'de, str>>::deserialize(deserializer)? {
            Some(text) => parse_date(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn times_are_written_in_utc_with_six_fractional_digits() {
        assert_eq!(
            format_time(datetime!(2026-10-01 09:00 +09:00)),
            "2026-10-01T00:00:00.000000Z"
        );
        assert_eq!(
            parse_time("2026-10-01T00:00:00.000001Z"),
            Ok(datetime!(2026-10-01 00:00:00.000001 UTC))
        );
    }

    #[test]
    fn times_with_an_offset_or_nanoseconds_are_refused() {
        assert!(parse_time("2026-10-01T09:00:00+09:00").is_err());
        assert!(parse_time("2026-10-01T00:00:00.0000001Z").is_err());
        assert!(parse_time("2026-10-01").is_err());
    }

    #[test]
    fn amounts_are_plain_decimals_and_come_back_normalised() {
        assert_eq!(
            parse_amount("100.50").map(format_amount).as_deref(),
            Ok("100.5")
        );
        for text in ["1e3", "-1", "1.23456", "", "01", "1,000"] {
            assert!(parse_amount(text).is_err(), "{text} was accepted");
        }
    }
}
