//! Domain types: identifiers, money, parties and bonds. Pure: no I/O, no clock.
//!
//! Raw strings from a request become these types at the edge (`parse`, `validate`), and nothing
//! unchecked goes further. Functions that need "today" take it as a `time::Date` argument.

pub mod bond;
pub mod book;
pub mod calendar;
pub mod coupon;
pub mod error;
#[doc(hidden)]
pub mod examples;
pub mod ids;
pub mod indicators;
pub mod label;
pub mod money;
pub mod monitor;
pub mod party;
pub mod record;
pub mod scheme;
pub mod taxonomy;
pub mod text;
pub mod wire;
