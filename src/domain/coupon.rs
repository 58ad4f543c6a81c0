//! Coupon schedules, day-count fractions and what each holder is owed on a coupon date. Pure: no
//! I/O, no clock.
//!
//! Conventions (each is explained where it is applied):
//! - **Schedule**: accrual dates roll backward from maturity by the coupon frequency and are never
//!   business-day adjusted; a maturity on the last day of a month puts every accrual date on a
//!   month end (the end-of-month rule). When the issue date is not on that grid the first period
//!   is a *short* stub from the issue date to the first regular date.
//! - **Payment dates** move off non-business days by the bond's [`BusinessDayConvention`] on its
//!   [`Calendar`] (Japanese bank holidays, or weekends only); the amount still accrues to the
//!   unadjusted date.
//! - **Record date**: [`RECORD_DATE_DAYS_BEFORE`] calendar days before the (adjusted) payment
//!   date.
//! - **Day counts**: Actual/365 (Fixed) and 30/360 (bond basis) as ISDA 2006 Definitions §4.16(d)
//!   and §4.16(f) define them; Actual/Actual (ICMA) as ICMA Rule 251 defines it, stubs measured
//!   against their notional regular period.
//! - **Rounding**: each holder's coupon is the exact amount rounded *down* to the currency's
//!   ISO 4217 minor unit, so the issuer never pays more than the sum of the exact amounts.
//!
//! Year fractions are exact ratios ([`YearFraction`]), not `Decimal`s: 182/365 has no finite
//! decimal expansion, and a rounded-down 28-digit approximation makes 365 tokens of ¥1,000,000 at
//! 0.3 % earn ¥545,999 instead of exactly ¥546,000. Amounts are computed in integers (minor units)
//! with one division at the end.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use time::{Date, Month};

pub use crate::domain::calendar::{BusinessDayConvention, Calendar};

use crate::domain::bond::{BondTerms, CouponFrequency, DayCount, Kpi};
use crate::domain::ids::Currency;
use crate::domain::money::{AMOUNT_UNITS_MAX, Amount, MoneyError, RATE_DECIMALS_MAX, Rate};

/// The record date is this many calendar days before the payment date: whoever holds the tokens
/// at the end of that day is paid.
///
/// One day is midori's choice, following the Japanese corporate-bond practice of paying the
/// holders recorded on the day before the payment date *(check against each bond's terms and
/// the paying agent's rules)*. Calendar days, not business days, so the record date needs no
/// calendar and a token ledger, which never closes, has an unambiguous cut-off. A bond whose
/// terms say otherwise needs this to become a term of the bond.
pub const RECORD_DATE_DAYS_BEFORE: i64 = 1;

/// Significant digits `rust_decimal` can hold; [`YearFraction::to_decimal`] truncates to them.
const DECIMAL_DIGITS_MAX: u32 = 28;

/// A day-count fraction kept as the exact ratio the convention defines (for example 183/365),
/// always in lowest terms, so that equal fractions compare equal and a coupon computed from it
/// rounds the same way on every machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct YearFraction {
    numerator: u128,
    /// Never zero.
    denominator: u128,
}

/// A coupon step-up of a sustainability-linked bond (ICMA SLBP 2024, "Bond characteristics"),
/// recorded after a sustainability performance target was missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepUp {
    /// The step-up applies to every period whose accrual start is on or after this date.
    pub effective_from: Date,
    /// Added to the coupon rate, in basis points (1 bp = 0.01 %).
    pub basis_points: u32,
}

/// One coupon period of a bond.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CouponPeriod {
    /// 1 for the first period.
    pub number: u32,
    /// First day of accrual (unadjusted): the issue date or the previous coupon date.
    pub accrual_start: Date,
    /// Accrual runs up to this date, excluded (unadjusted): the scheduled coupon date.
    pub accrual_end: Date,
    /// Start of the regular period the accrual falls in: equal to `accrual_start` except for a
    /// short first stub, where it is the coupon date before the issue date that the schedule
    /// would have had. Actual/Actual (ICMA) needs it.
    pub notional_start: Date,
    /// When the coupon is paid: `accrual_end` moved by the business-day rule.
    pub payment_date: Date,
    /// Holders at the end of this day are paid: [`RECORD_DATE_DAYS_BEFORE`] days before payment.
    pub record_date: Date,
    /// Coupon rate for the period in percent per annum, step-ups included.
    pub rate: Rate,
    /// Year fraction of the accrual period under the bond's day count.
    pub fraction: YearFraction,
    /// Sum of the step-ups included in `rate`, in basis points.
    pub step_up_bp: u32,
}

/// What one holder is paid for one coupon period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entitlement {
    pub holder: String,
    /// Tokens held on the record date.
    pub quantity: u64,
    /// The coupon, rounded down to the currency's minor unit.
    pub amount: Amount,
}

/// The coupon periods of a bond, earliest first; empty for a zero-coupon bond.
///
/// Accrual dates are the regular schedule rolled backward from maturity by the frequency,
/// unadjusted; when the maturity is the last day of its month every date is a month end (the
/// bond market's end-of-month rule: a bond maturing on 31 August pays on 28 or 29 February and
/// 31 August). If the issue date is not on that grid the first period is a short stub from the
/// issue date, however short (no merging into a long first period). Payment dates are moved by
/// `rule` on `calendar`; the record date is [`RECORD_DATE_DAYS_BEFORE`] calendar days before the payment date.
///
/// Each period's rate is the bond's rate plus every step-up effective on or before the period's
/// accrual start. Fails only if that rate exceeds the 100 % ceiling of [`Rate`].
/// The schedule under the bond's own business-day convention and calendar.
pub fn schedule_of(
    terms: &BondTerms,
    step_ups: &[StepUp],
) -> Result<Vec<CouponPeriod>, MoneyError> {
    schedule(
        terms,
        terms.coupon().business_day_convention(),
        terms.coupon().calendar(),
        step_ups,
    )
}

pub fn schedule(
    terms: &BondTerms,
    rule: BusinessDayConvention,
    calendar: Calendar,
    step_ups: &[StepUp],
) -> Result<Vec<CouponPeriod>, MoneyError> {
    let coupon = terms.coupon();
    let frequency = coupon.frequency();
    let Some(months) = months_per_period(frequency) else {
        return Ok(Vec::new());
    };
    let issue = terms.issue_date();
    let maturity = terms.maturity_date();
    let end_of_month = is_month_end(maturity);

    // Coupon dates from maturity backward, each computed from maturity itself rather than from
    // the previous date, so that a short month does not pull later dates off the 30th or 31st.
    let mut coupon_dates = vec![maturity];
    let notional_start = loop {
        let back = -months * i32::try_from(coupon_dates.len()).unwrap_or(i32::MAX);
        // A date before year -9999 cannot be represented; the first period is then treated as
        // regular. Validated terms are in years 0000–9999, so this cannot happen for them.
        let Some(date) = roll(maturity, back, end_of_month) else {
            break issue;
        };
        if date <= issue {
            break date;
        }
        coupon_dates.push(date);
    };
    coupon_dates.push(issue);
    coupon_dates.reverse();

    let mut periods = Vec::with_capacity(coupon_dates.len() - 1);
    for (index, pair) in coupon_dates.windows(2).enumerate() {
        let (accrual_start, accrual_end) = (pair[0], pair[1]);
        let notional_start = if index == 0 {
            notional_start
        } else {
            accrual_start
        };
        let step_up_bp = step_ups
            .iter()
            .filter(|step_up| step_up.effective_from <= accrual_start)
            .fold(0u32, |total, step_up| {
                total.saturating_add(step_up.basis_points)
            });
        let payment_date = rule.adjust(accrual_end, calendar);
        periods.push(CouponPeriod {
            number: u32::try_from(index + 1).unwrap_or(u32::MAX),
            accrual_start,
            accrual_end,
            notional_start,
            payment_date,
            record_date: add_days(payment_date, -RECORD_DATE_DAYS_BEFORE).unwrap_or(payment_date),
            rate: coupon.rate().plus_basis_points(step_up_bp)?,
            fraction: year_fraction(
                coupon.day_count(),
                accrual_start,
                accrual_end,
                notional_start,
                accrual_end,
                frequency,
            ),
            step_up_bp,
        });
    }
    Ok(periods)
}

/// The year fraction from `start` to `end` (end excluded) under `day_count`; zero if `end` is
/// not after `start`.
///
/// `period_start`..`period_end` is the regular coupon period the accrual falls in, and
/// `frequency` the bond's; only Actual/Actual (ICMA) uses them (ICMA Rule 251): days in the
/// regular period count 1 / (frequency × its actual days) each, so a regular period is exactly
/// 1/frequency and a short stub is days / (frequency × days of its notional regular period).
/// Days before `period_start` or after `period_end` (a long stub) count in the regular periods
/// they fall in, found by rolling `period_end` by the frequency, as Rule 251 does for long
/// periods. A zero-coupon frequency has no regular period, so Actual/Actual (ICMA) gives zero.
pub fn year_fraction(
    day_count: DayCount,
    start: Date,
    end: Date,
    period_start: Date,
    period_end: Date,
    frequency: CouponFrequency,
) -> YearFraction {
    if end <= start {
        return YearFraction::ZERO;
    }
    match day_count {
        // ISDA 2006 §4.16(d): actual days / 365, whatever the year's length.
        DayCount::Act365F => YearFraction::ratio(days_between(start, end), 365),
        // ISDA 2006 §4.16(f): 30/360 (bond basis).
        DayCount::Thirty360 => YearFraction::ratio(thirty_360_days(start, end), 360),
        DayCount::ActActIcma => act_act_icma(start, end, period_start, period_end, frequency),
    }
}

/// The coupon on `quantity` tokens: quantity × denomination × rate / 100 × fraction, rounded
/// **down** (toward zero) to the currency's ISO 4217 minor unit.
///
/// Rounding down, per holder, is the rule: a holder never receives more than the exact amount,
/// so the issuer never pays more than the total of the exact amounts, and the sub-unit rest stays
/// with the issuer. The product is computed exactly, in integer minor units, before the single
/// division that rounds.
///
/// Fails with `too_large` if the coupon exceeds [`AMOUNT_UNITS_MAX`], which valid terms and
/// holdings reach only with a rate near 100 % on an issue near the limit.
pub fn coupon_amount(
    denomination: &Amount,
    quantity: u64,
    rate: &Rate,
    fraction: YearFraction,
) -> Result<Amount, MoneyError> {
    let currency = denomination.currency();
    let too_large = || MoneyError::TooLarge {
        what: "coupon",
        input: format!(
            "{quantity} × {denomination} {currency} × {rate} % × {fraction}",
            currency = currency.as_str()
        ),
        max: AMOUNT_UNITS_MAX.to_string(),
    };
    let units = coupon_minor_units(denomination, quantity, rate, fraction).ok_or_else(too_large)?;
    let limit = u128::from(AMOUNT_UNITS_MAX) * 10u128.pow(currency.minor_units());
    if units > limit {
        return Err(too_large());
    }
    amount_from_minor_units(units, currency)
}

/// What each holder is paid for `period`: one entitlement per holder with tokens, sorted by
/// holder; a holder listed more than once is paid on the sum of its lines, and zero holdings are
/// left out. Each amount is rounded down on its own ([`coupon_amount`]), so the total paid is at
/// most the exact total and may be a few minor units below the rounded total.
pub fn entitlements(
    holders: &[(String, u64)],
    denomination: &Amount,
    period: &CouponPeriod,
) -> Result<Vec<Entitlement>, MoneyError> {
    let mut holdings: BTreeMap<&str, u64> = BTreeMap::new();
    for (holder, quantity) in holders.iter().filter(|(_, quantity)| *quantity > 0) {
        let total = holdings.entry(holder.as_str()).or_default();
        *total = total
            .checked_add(*quantity)
            .ok_or_else(|| MoneyError::TooLarge {
                what: "token quantity",
                input: format!("the holdings of {holder}"),
                max: u64::MAX.to_string(),
            })?;
    }
    let entitlements = holdings
        .into_iter()
        .map(|(holder, quantity)| {
            Ok(Entitlement {
                holder: holder.to_owned(),
                quantity,
                amount: coupon_amount(denomination, quantity, &period.rate, period.fraction)?,
            })
        })
        .collect::<Result<Vec<_>, MoneyError>>()?;
    assert_not_above_exact_total(&entitlements, denomination, period);
    Ok(entitlements)
}

impl YearFraction {
    /// Zero: no accrual.
    pub const ZERO: YearFraction = YearFraction {
        numerator: 0,
        denominator: 1,
    };

    /// `numerator / denominator` in lowest terms; `None` if the denominator is zero.
    pub fn new(numerator: u64, denominator: u64) -> Option<Self> {
        (denominator != 0).then(|| Self::ratio(u128::from(numerator), u128::from(denominator)))
    }

    /// The numerator, in lowest terms.
    pub fn numerator(&self) -> u128 {
        self.numerator
    }

    /// The denominator, in lowest terms (never zero).
    pub fn denominator(&self) -> u128 {
        self.denominator
    }

    /// Whether the fraction is zero.
    pub fn is_zero(&self) -> bool {
        self.numerator == 0
    }

    /// The fraction as a decimal, truncated to the 28 significant digits `Decimal` holds: for
    /// display. Amounts are computed from the exact ratio.
    pub fn to_decimal(&self) -> Decimal {
        let whole = self.numerator / self.denominator;
        let whole_digits = whole.checked_ilog10().map_or(0, |log| log + 1);
        let scale = DECIMAL_DIGITS_MAX.saturating_sub(whole_digits);
        let mut mantissa = whole;
        let mut remainder = self.numerator % self.denominator;
        for _ in 0..scale {
            // remainder < denominator, which stays far below u128::MAX / 10 (see `plus`).
            remainder *= 10;
            mantissa = mantissa * 10 + remainder / self.denominator;
            remainder %= self.denominator;
        }
        // At most 28 digits, below Decimal's 96-bit mantissa; `whole` fits because every
        // constructor bounds the value (`new` by u64::MAX, day counts by the days between two
        // representable dates).
        let mantissa = i128::try_from(mantissa).expect("a mantissa of at most 28 digits");
        Decimal::from_i128_with_scale(mantissa, scale)
    }

    /// `numerator / denominator` in lowest terms. `denominator` must not be zero.
    fn ratio(numerator: u128, denominator: u128) -> Self {
        assert!(denominator != 0, "a year fraction needs a denominator");
        let divisor = gcd(numerator, denominator);
        Self {
            numerator: numerator / divisor,
            denominator: denominator / divisor,
        }
    }

    /// The sum of two fractions, over the least common multiple of their denominators. The
    /// denominators are frequency × the days of a regular period, which take a handful of
    /// values for a given frequency, so the sum stays small.
    fn plus(self, other: Self) -> Self {
        let denominator =
            self.denominator / gcd(self.denominator, other.denominator) * other.denominator;
        let numerator = self.numerator * (denominator / self.denominator)
            + other.numerator * (denominator / other.denominator);
        Self::ratio(numerator, denominator)
    }
}

impl StepUp {
    /// The step-up owed after `kpi`'s target was missed: its `step_up_bp`, from the first period
    /// that starts after the observation date, since a miss is known only once observed.
    ///
    /// Bonds that tie the step-up to a later date (the verification report, a notice to
    /// holders) should build a [`StepUp`] with that date instead.
    pub fn after_missed_target(kpi: &Kpi) -> StepUp {
        let observed = kpi.observation_date();
        StepUp {
            effective_from: observed.next_day().unwrap_or(observed),
            basis_points: u32::from(kpi.step_up_bp()),
        }
    }
}

impl CouponPeriod {
    /// Whether this is a short first stub rather than a regular period.
    pub fn is_stub(&self) -> bool {
        self.notional_start != self.accrual_start
    }
}

/// Written as a ratio, e.g. `183/365`.
impl fmt::Display for YearFraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

/// Months between coupon dates; `None` for a zero-coupon bond.
fn months_per_period(frequency: CouponFrequency) -> Option<i32> {
    match frequency {
        CouponFrequency::Annual => Some(12),
        CouponFrequency::SemiAnnual => Some(6),
        CouponFrequency::Quarterly => Some(3),
        CouponFrequency::Monthly => Some(1),
        CouponFrequency::Zero => None,
    }
}

/// The date `months` months after `anchor` (before it if negative), on the anchor's day of the
/// month, or on the month's last day when that day does not exist or `end_of_month` is set.
/// `None` if the date cannot be represented.
fn roll(anchor: Date, months: i32, end_of_month: bool) -> Option<Date> {
    let index =
        (anchor.year() * 12 + i32::from(u8::from(anchor.month())) - 1).checked_add(months)?;
    let year = index.div_euclid(12);
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let last = month.length(year);
    let day = if end_of_month {
        last
    } else {
        anchor.day().min(last)
    };
    Date::from_calendar_date(year, month, day).ok()
}

fn is_month_end(date: Date) -> bool {
    date.day() == date.month().length(date.year())
}

/// Actual days from `start` to `end` (negative if `end` is earlier).
fn days_between(start: Date, end: Date) -> u128 {
    u128::try_from(i64::from(end.to_julian_day()) - i64::from(start.to_julian_day())).unwrap_or(0)
}

fn add_days(date: Date, days: i64) -> Option<Date> {
    let julian_day = i32::try_from(i64::from(date.to_julian_day()).checked_add(days)?).ok()?;
    Date::from_julian_day(julian_day).ok()
}

/// Days between two dates under 30/360 (bond basis), ISDA 2006 §4.16(f):
/// 360 × (Y2 − Y1) + 30 × (M2 − M1) + (D2 − D1), where D1 = 31 becomes 30, and D2 = 31 becomes
/// 30 only if D1 (so adjusted) is 30. The end of February is *not* adjusted (unlike the US
/// SIA/SIFMA 30/360 and 30E/360 (ISDA)): 28 February to 31 August counts 183 days.
fn thirty_360_days(start: Date, end: Date) -> u128 {
    let d1 = i64::from(start.day().min(30));
    let d2 = if end.day() == 31 && d1 == 30 {
        30
    } else {
        i64::from(end.day())
    };
    let days = 360 * (i64::from(end.year()) - i64::from(start.year()))
        + 30 * (i64::from(u8::from(end.month())) - i64::from(u8::from(start.month())))
        + (d2 - d1);
    u128::try_from(days).unwrap_or(0)
}

/// Actual/Actual (ICMA), ICMA Rule 251: each day of the accrual counts 1 / (frequency × the
/// actual days of the regular period it falls in). `start` < `end`.
fn act_act_icma(
    start: Date,
    end: Date,
    period_start: Date,
    period_end: Date,
    frequency: CouponFrequency,
) -> YearFraction {
    let Some(months) = months_per_period(frequency) else {
        return YearFraction::ZERO;
    };
    if period_end <= period_start {
        return YearFraction::ZERO;
    }
    let per_year = u128::from(frequency.payments_per_year());
    let share = |from: Date, to: Date| {
        let overlap = days_between(start.max(from), end.min(to));
        YearFraction::ratio(overlap, per_year * days_between(from, to))
    };
    let end_of_month = is_month_end(period_end);
    let mut total = share(period_start, period_end);

    // Regular periods before the given one, rolled from `period_end`, where the schedule is
    // anchored. If a boundary is not representable (before year -9999), the outermost period
    // takes the remaining days.
    let mut later = period_start;
    let mut step = 2;
    while start < later {
        let earlier = roll(period_end, -months * step, end_of_month).unwrap_or(start);
        step += 1;
        if earlier < later {
            total = total.plus(share(earlier, later));
            later = earlier;
        }
    }
    // And after it.
    let mut earlier = period_end;
    let mut step = 1;
    while end > earlier {
        let later = roll(period_end, months * step, end_of_month).unwrap_or(end);
        step += 1;
        if later > earlier {
            total = total.plus(share(earlier, later));
            earlier = later;
        }
    }
    total
}

/// floor(quantity × denomination × rate / 100 × fraction) in minor units, in exact integer
/// arithmetic; `None` if an intermediate product overflows u128 (far beyond any valid coupon).
fn coupon_minor_units(
    denomination: &Amount,
    quantity: u64,
    rate: &Rate,
    fraction: YearFraction,
) -> Option<u128> {
    let denomination_units = scaled(
        denomination.value(),
        denomination.currency().minor_units(),
        "an amount has at most its currency's minor-unit decimals",
    );
    let rate_units = scaled(
        rate.percent(),
        RATE_DECIMALS_MAX,
        "a rate has at most RATE_DECIMALS_MAX decimals",
    );
    let numerator = u128::from(quantity)
        .checked_mul(denomination_units)?
        .checked_mul(rate_units)?
        .checked_mul(fraction.numerator)?;
    // The rate is in percent (÷ 100) and in units of 10^-RATE_DECIMALS_MAX.
    let denominator = (100 * 10u128.pow(RATE_DECIMALS_MAX)).checked_mul(fraction.denominator)?;
    // Integer division of non-negative integers is the floor: the round-down rule.
    Some(numerator / denominator)
}

/// A non-negative decimal with at most `decimals` decimals, as an integer count of
/// 10^-`decimals`.
fn scaled(value: Decimal, decimals: u32, invariant: &str) -> u128 {
    let value = value.normalize();
    assert!(
        value.scale() <= decimals && !value.is_sign_negative(),
        "{invariant}"
    );
    let mantissa = u128::try_from(value.mantissa()).expect("checked non-negative above");
    mantissa * 10u128.pow(decimals - value.scale())
}

/// An amount of `units` minor units of `currency`. `units` is at most the amount limit.
fn amount_from_minor_units(units: u128, currency: Currency) -> Result<Amount, MoneyError> {
    let units = i128::try_from(units).expect("at most AMOUNT_UNITS_MAX × 10^4");
    let value = Decimal::from_i128_with_scale(units, currency.minor_units());
    // `Amount::parse` is the only constructor, so the value goes through it and is checked
    // again: at most the minor unit's decimals (true by construction) and within the limit.
    Amount::parse(&value.to_string(), currency)
}

/// Rounding down per holder pays at most the exact total: Σ floor(xᵢ) ≤ Σ xᵢ. Checked whenever
/// the exact total is representable, kept on in release builds.
fn assert_not_above_exact_total(
    entitlements: &[Entitlement],
    denomination: &Amount,
    period: &CouponPeriod,
) {
    let decimals = denomination.currency().minor_units();
    let paid: u128 = entitlements
        .iter()
        .map(|entitlement| scaled(entitlement.amount.value(), decimals, "a coupon amount"))
        .sum();
    let quantity = entitlements.iter().try_fold(0u64, |total, entitlement| {
        total.checked_add(entitlement.quantity)
    });
    if let Some(exact_floor) = quantity.and_then(|quantity| {
        coupon_minor_units(denomination, quantity, &period.rate, period.fraction)
    }) {
        assert!(
            paid <= exact_floor,
            "entitlements total {paid} minor units, more than the exact total"
        );
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::domain::bond::BondSpec;
    use crate::domain::examples;

    fn yen(text: &str) -> Amount {
        Amount::parse(text, Currency::JPY).unwrap()
    }

    fn rate(text: &str) -> Rate {
        Rate::parse(text).unwrap()
    }

    fn fraction(numerator: u64, denominator: u64) -> YearFraction {
        YearFraction::new(numerator, denominator).unwrap()
    }

    fn green_schedule(rule: BusinessDayConvention, step_ups: &[StepUp]) -> Vec<CouponPeriod> {
        schedule(
            &examples::green().validate().unwrap(),
            rule,
            Calendar::Weekends,
            step_ups,
        )
        .unwrap()
    }

    /// The green example with other coupon terms or dates.
    fn green_with(change: impl FnOnce(&mut BondSpec)) -> BondTerms {
        let mut spec = examples::green();
        change(&mut spec);
        spec.validate().unwrap()
    }

    // --- The worked example -------------------------------------------------------------------

    #[test]
    fn payment_dates_follow_the_bonds_convention_on_the_japanese_bank_calendar() {
        let on = |convention, calendar| {
            let terms = green_with(|s| {
                s.issue_date = "2026-11-03".to_owned();
                s.maturity_date = "2030-11-03".to_owned();
                s.coupon.business_day_convention = Some(convention);
                s.coupon.calendar = Some(calendar);
            });
            let periods = schedule(
                &terms,
                terms.coupon().business_day_convention(),
                terms.coupon().calendar(),
                &[],
            )
            .unwrap();
            let pay = |end: Date| {
                periods
                    .iter()
                    .find(|p| p.accrual_end == end)
                    .map(|p| p.payment_date)
                    .unwrap()
            };
            // 2027-05-03 is 憲法記念日 (a Monday, then みどりの日 and こどもの日); 2030-11-03 is
            // 文化の日 on a Sunday, with its 振替休日 on Monday 11-04.
            (pay(date!(2027 - 05 - 03)), pay(date!(2030 - 11 - 03)))
        };
        use BusinessDayConvention::*;
        assert_eq!(
            on(Preceding, Calendar::Jp),
            (date!(2027 - 04 - 30), date!(2030 - 11 - 01))
        );
        assert_eq!(
            on(Following, Calendar::Jp),
            (date!(2027 - 05 - 06), date!(2030 - 11 - 05))
        );
        // Weekends only: the holidays are paid on.
        assert_eq!(
            on(Following, Calendar::Weekends),
            (date!(2027 - 05 - 03), date!(2030 - 11 - 04))
        );
        assert_eq!(
            on(Unadjusted, Calendar::Jp),
            (date!(2027 - 05 - 03), date!(2030 - 11 - 03))
        );
        // The terms' defaults are the schedule midori always used.
        let terms = examples::green().validate().unwrap();
        assert_eq!(
            (
                terms.coupon().business_day_convention(),
                terms.coupon().calendar()
            ),
            (ModifiedFollowing, Calendar::Weekends)
        );
    }

    #[test]
    fn the_green_example_has_ten_semi_annual_periods_from_issue_to_maturity() {
        let periods = green_schedule(BusinessDayConvention::Following, &[]);
        assert_eq!(periods.len(), 10);
        assert_eq!(periods[0].accrual_start, date!(2025 - 06 - 20));
        assert_eq!(periods[9].accrual_end, date!(2030 - 06 - 20));
        assert!(periods.iter().all(|period| !period.is_stub()));
        assert!(
            periods
                .windows(2)
                .all(|pair| pair[0].accrual_end == pair[1].accrual_start)
        );
        assert_eq!(
            periods.iter().map(|p| p.number).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_green_example_first_coupon_is_1504_yen_per_token_rounded_down() {
        let period = green_schedule(BusinessDayConvention::Following, &[])[0];
        // 2025-06-20 → 2025-12-20: 30 + 31 + 31 + 30 + 31 + 30 = 183 days; ACT/365F: 183/365.
        assert_eq!(period.accrual_end, date!(2025 - 12 - 20));
        assert_eq!(period.fraction, fraction(183, 365));
        assert_eq!(period.rate, rate("0.3"));
        // 1 token: 1,000,000 × 0.3/100 × 183/365 = 549,000/365 = 1,504.109589… → ¥1,504.
        assert_eq!(
            coupon_amount(&yen("1000000"), 1, &period.rate, period.fraction),
            Ok(yen("1504"))
        );
        // 2,500 tokens: 2,500 × 549,000/365 = 3,760,273.972602… → ¥3,760,273.
        assert_eq!(
            coupon_amount(&yen("1000000"), 2500, &period.rate, period.fraction),
            Ok(yen("3760273"))
        );
    }

    #[test]
    fn a_saturday_coupon_date_is_paid_the_next_monday_and_recorded_the_day_before() {
        // 2025-12-20 is a Saturday; Monday 2025-12-22 is still in December, so Following and
        // ModifiedFollowing agree. Accrual stays on the 20th.
        for rule in [
            BusinessDayConvention::Following,
            BusinessDayConvention::ModifiedFollowing,
        ] {
            let period = green_schedule(rule, &[])[0];
            assert_eq!(period.accrual_end, date!(2025 - 12 - 20));
            assert_eq!(period.payment_date, date!(2025 - 12 - 22));
            assert_eq!(period.record_date, date!(2025 - 12 - 21));
            assert_eq!(period.fraction, fraction(183, 365));
        }
        let unadjusted = green_schedule(BusinessDayConvention::Unadjusted, &[])[0];
        assert_eq!(unadjusted.payment_date, date!(2025 - 12 - 20));
        assert_eq!(unadjusted.record_date, date!(2025 - 12 - 19));
    }

    #[test]
    fn every_green_payment_date_falls_on_a_weekday_under_following() {
        let payments: Vec<Date> = green_schedule(BusinessDayConvention::Following, &[])
            .iter()
            .map(|period| period.payment_date)
            .collect();
        // 2026-06-20 Sat, 2026-12-20 Sun, 2027-06-20 Sun move to Monday; the rest are weekdays.
        assert_eq!(
            payments[..5],
            [
                date!(2025 - 12 - 22),
                date!(2026 - 06 - 22),
                date!(2026 - 12 - 21),
                date!(2027 - 06 - 21),
                date!(2027 - 12 - 20),
            ]
        );
        assert_eq!(payments[9], date!(2030 - 06 - 20));
        assert!(
            payments
                .iter()
                .all(|&day| Calendar::Weekends.is_business_day(day))
        );
    }

    #[test]
    fn an_exact_ratio_pays_365_tokens_exactly_546000_yen_for_182_days() {
        // Period 2: 2025-12-20 → 2026-06-20 = 31 + 31 + 28 + 31 + 30 + 31 = 182 days.
        // 365 × 1,000,000 × 0.3/100 × 182/365 = 3,000 × 182 = 546,000 exactly. A Decimal
        // 182/365 = 0.4986301369863013698630136986 (rounded down at 28 digits) would give
        // 545,999.99… and round down to ¥545,999.
        let period = green_schedule(BusinessDayConvention::Following, &[])[1];
        assert_eq!(period.fraction, fraction(182, 365));
        assert_eq!(
            coupon_amount(&yen("1000000"), 365, &period.rate, period.fraction),
            Ok(yen("546000"))
        );
    }

    // --- Day counts ---------------------------------------------------------------------------

    #[test]
    fn act_365f_counts_actual_days_over_365_even_in_a_leap_year() {
        // 2028-01-01 → 2029-01-01 is 366 days: 366/365, more than a year.
        let f = year_fraction(
            DayCount::Act365F,
            date!(2028 - 01 - 01),
            date!(2029 - 01 - 01),
            date!(2028 - 01 - 01),
            date!(2029 - 01 - 01),
            CouponFrequency::Annual,
        );
        assert_eq!(f, fraction(366, 365));
    }

    fn thirty_360(start: Date, end: Date) -> YearFraction {
        year_fraction(
            DayCount::Thirty360,
            start,
            end,
            start,
            end,
            CouponFrequency::SemiAnnual,
        )
    }

    #[test]
    fn thirty_360_counts_31_january_to_31_july_as_half_a_year() {
        // D1 = 31 → 30; D2 = 31 and D1 > 29 → 30: 30 × (7 − 1) + (30 − 30) = 180; 180/360 = 1/2.
        assert_eq!(
            thirty_360(date!(2025 - 01 - 31), date!(2025 - 07 - 31)),
            fraction(1, 2)
        );
        assert_eq!(
            thirty_360(date!(2025 - 01 - 31), date!(2025 - 07 - 31)).to_decimal(),
            Decimal::new(5, 1)
        );
    }

    #[test]
    fn thirty_360_bond_basis_does_not_adjust_the_end_of_february() {
        // 28 Feb → 31 Aug: D1 = 28 stays (no February rule in ISDA §4.16(f)); D2 = 31 stays
        // because D1 ≤ 29: 30 × 6 + (31 − 28) = 183 → 183/360.
        assert_eq!(
            thirty_360(date!(2025 - 02 - 28), date!(2025 - 08 - 31)),
            fraction(183, 360)
        );
        // 31 Aug → 28 Feb: D1 = 31 → 30, D2 = 28: 360 × 1 + 30 × (2 − 8) + (28 − 30) = 178.
        assert_eq!(
            thirty_360(date!(2025 - 08 - 31), date!(2026 - 02 - 28)),
            fraction(178, 360)
        );
        // Leap year: 29 Feb → 31 Aug: 30 × 6 + (31 − 29) = 182.
        assert_eq!(
            thirty_360(date!(2024 - 02 - 29), date!(2024 - 08 - 31)),
            fraction(182, 360)
        );
        // 30 → 31 of the same month: D1 = 30, D2 = 31 → 30: no day.
        assert!(thirty_360(date!(2025 - 03 - 30), date!(2025 - 03 - 31)).is_zero());
    }

    fn act_act(start: Date, end: Date, period_start: Date, period_end: Date) -> YearFraction {
        year_fraction(
            DayCount::ActActIcma,
            start,
            end,
            period_start,
            period_end,
            CouponFrequency::SemiAnnual,
        )
    }

    #[test]
    fn act_act_icma_gives_exactly_a_half_for_every_regular_semi_annual_period() {
        // 183 days / (2 × 183) and 182 days / (2 × 182): both 1/2 (ICMA Rule 251).
        let (june, december, next_june) = (
            date!(2025 - 06 - 20),
            date!(2025 - 12 - 20),
            date!(2026 - 06 - 20),
        );
        assert_eq!(act_act(june, december, june, december), fraction(1, 2));
        assert_eq!(
            act_act(december, next_june, december, next_june),
            fraction(1, 2)
        );
        let terms = green_with(|spec| spec.coupon.day_count = DayCount::ActActIcma);
        let periods = schedule(
            &terms,
            BusinessDayConvention::Following,
            Calendar::Weekends,
            &[],
        )
        .unwrap();
        assert!(
            periods
                .iter()
                .all(|period| period.fraction == fraction(1, 2))
        );
    }

    #[test]
    fn act_act_icma_measures_a_short_first_stub_against_its_notional_period() {
        // Issued 2025-09-15, coupons on 20 June and 20 December: the schedule rolls back to
        // 2025-12-20 then 2025-06-20, before the issue date, so period 1 is a short stub.
        // Stub: 2025-09-15 → 2025-12-20 = 30 + 31 + 30 + 5 = 96 days; notional period
        // 2025-06-20 → 2025-12-20 = 183 days; 96 / (2 × 183) = 96/366 = 16/61.
        let terms = green_with(|spec| {
            spec.issue_date = "2025-09-15".to_owned();
            spec.coupon.day_count = DayCount::ActActIcma;
        });
        let periods = schedule(
            &terms,
            BusinessDayConvention::Following,
            Calendar::Weekends,
            &[],
        )
        .unwrap();
        assert_eq!(periods.len(), 10);
        let stub = periods[0];
        assert!(stub.is_stub());
        assert_eq!(
            (stub.accrual_start, stub.accrual_end, stub.notional_start),
            (
                date!(2025 - 09 - 15),
                date!(2025 - 12 - 20),
                date!(2025 - 06 - 20)
            )
        );
        assert_eq!(stub.fraction, fraction(16, 61));
        assert!(!periods[1].is_stub());
        assert_eq!(periods[1].fraction, fraction(1, 2));
    }

    #[test]
    fn act_act_icma_counts_a_long_period_in_each_regular_period_it_spans() {
        // 2025-03-01 → 2025-12-20 with regular period 2025-06-20 → 2025-12-20: 111 days fall in
        // 2024-12-20 → 2025-06-20 (182 days), the rest is a whole regular period:
        // 111 / (2 × 182) + 1/2 = 111/364 + 182/364 = 293/364.
        assert_eq!(
            act_act(
                date!(2025 - 03 - 01),
                date!(2025 - 12 - 20),
                date!(2025 - 06 - 20),
                date!(2025 - 12 - 20)
            ),
            fraction(293, 364)
        );
    }

    #[test]
    fn an_empty_or_reversed_accrual_has_no_year_fraction() {
        let day = date!(2025 - 06 - 20);
        for day_count in DayCount::ALL {
            let f = year_fraction(
                *day_count,
                day,
                date!(2025 - 01 - 01),
                day,
                date!(2025 - 12 - 20),
                CouponFrequency::SemiAnnual,
            );
            assert!(f.is_zero(), "{day_count}");
        }
    }

    #[test]
    fn a_year_fraction_shows_as_a_ratio_and_a_truncated_decimal() {
        let f = fraction(366, 730);
        assert_eq!(f, fraction(183, 365));
        assert_eq!(f.to_string(), "183/365");
        // 183/365 = 0.50136986301369863013698630136…, truncated at 28 decimals.
        assert_eq!(f.to_decimal().to_string(), "0.5013698630136986301369863013");
        assert_eq!(
            fraction(366, 365).to_decimal().to_string(),
            "1.002739726027397260273972602"
        );
        assert_eq!(YearFraction::new(1, 0), None);
    }

    // --- Schedules ----------------------------------------------------------------------------

    #[test]
    fn a_month_end_maturity_keeps_every_coupon_date_on_a_month_end() {
        let terms = green_with(|spec| {
            spec.issue_date = "2025-08-31".to_owned();
            spec.maturity_date = "2030-08-31".to_owned();
            spec.coupon.day_count = DayCount::Thirty360;
        });
        let periods = schedule(
            &terms,
            BusinessDayConvention::Unadjusted,
            Calendar::Weekends,
            &[],
        )
        .unwrap();
        let ends: Vec<Date> = periods.iter().map(|p| p.accrual_end).collect();
        assert_eq!(
            ends[..6],
            [
                date!(2026 - 02 - 28),
                date!(2026 - 08 - 31),
                date!(2027 - 02 - 28),
                date!(2027 - 08 - 31),
                date!(2028 - 02 - 29),
                date!(2028 - 08 - 31),
            ]
        );
        // Under bond basis the February periods are short and the August ones long (see above).
        assert_eq!(periods[0].fraction, fraction(178, 360));
        assert_eq!(periods[1].fraction, fraction(183, 360));
    }

    #[test]
    fn a_maturity_on_the_30th_does_not_drift_after_february() {
        // Rolled from maturity each time: 30 Aug, 28 Feb, 30 Aug — not 28 Aug after February.
        let terms = green_with(|spec| {
            spec.issue_date = "2025-08-30".to_owned();
            spec.maturity_date = "2027-08-30".to_owned();
        });
        let ends: Vec<Date> = schedule(
            &terms,
            BusinessDayConvention::Unadjusted,
            Calendar::Weekends,
            &[],
        )
        .unwrap()
        .iter()
        .map(|p| p.accrual_end)
        .collect();
        assert_eq!(
            ends,
            [
                date!(2026 - 02 - 28),
                date!(2026 - 08 - 30),
                date!(2027 - 02 - 28),
                date!(2027 - 08 - 30),
            ]
        );
    }

    #[test]
    fn a_zero_coupon_bond_has_no_coupon_periods() {
        let terms = green_with(|spec| {
            spec.coupon.frequency = CouponFrequency::Zero;
            spec.coupon.rate = "0".to_owned();
        });
        assert_eq!(
            schedule(
                &terms,
                BusinessDayConvention::Following,
                Calendar::Weekends,
                &[]
            ),
            Ok(Vec::new())
        );
    }

    // --- Business days ------------------------------------------------------------------------

    #[test]
    fn modified_following_rolls_back_when_following_would_leave_the_month() {
        // 2026-05-30 is a Saturday; the next business day is Monday 2026-06-01, in June, so
        // ModifiedFollowing pays on Friday 2026-05-29.
        let saturday = date!(2026 - 05 - 30);
        assert_eq!(
            BusinessDayConvention::Following.adjust(saturday, Calendar::Weekends),
            date!(2026 - 06 - 01)
        );
        assert_eq!(
            BusinessDayConvention::ModifiedFollowing.adjust(saturday, Calendar::Weekends),
            date!(2026 - 05 - 29)
        );
        assert_eq!(
            BusinessDayConvention::Preceding.adjust(saturday, Calendar::Weekends),
            date!(2026 - 05 - 29)
        );
        assert_eq!(
            BusinessDayConvention::Unadjusted.adjust(saturday, Calendar::Weekends),
            saturday
        );
        // A weekday never moves.
        let friday = date!(2026 - 05 - 29);
        for rule in BusinessDayConvention::ALL {
            assert_eq!(rule.adjust(friday, Calendar::Weekends), friday, "{rule}");
        }
    }

    // --- Step-ups -----------------------------------------------------------------------------

    #[test]
    fn a_25_bp_step_up_raises_the_coupon_only_from_its_effective_date() {
        let step_up = StepUp {
            effective_from: date!(2027 - 06 - 20),
            basis_points: 25,
        };
        let periods = green_schedule(BusinessDayConvention::Following, &[step_up]);
        // Periods 1–4 start before 2027-06-20; periods 5–10 start on or after it.
        for period in &periods[..4] {
            assert_eq!((period.rate, period.step_up_bp), (rate("0.3"), 0));
        }
        for period in &periods[4..] {
            // 0.3 % + 25 bp = 0.3 % + 0.25 % = 0.55 %.
            assert_eq!((period.rate, period.step_up_bp), (rate("0.55"), 25));
        }
        assert_eq!(periods[4].accrual_start, date!(2027 - 06 - 20));
        // 2027-06-20 → 2027-12-20 = 183 days: 1,000,000 × 0.55/100 × 183/365
        // = 1,006,500/365 = 2,757.534… → ¥2,757.
        assert_eq!(
            coupon_amount(&yen("1000000"), 1, &periods[4].rate, periods[4].fraction),
            Ok(yen("2757"))
        );
    }

    #[test]
    fn a_missed_kpi_steps_up_the_first_period_starting_after_its_observation_date() {
        // The example SLB pays on 10 March and 10 September; its KPI is observed 2029-03-31 with
        // a 25 bp step-up, so periods from 2029-09-10 pay 0.85 % + 0.25 % = 1.1 %.
        let terms = examples::sustainability_linked().validate().unwrap();
        let step_up = StepUp::after_missed_target(&terms.kpis()[0]);
        assert_eq!(
            step_up,
            StepUp {
                effective_from: date!(2029 - 04 - 01),
                basis_points: 25
            }
        );
        let periods = schedule(
            &terms,
            BusinessDayConvention::Following,
            Calendar::Weekends,
            &[step_up],
        )
        .unwrap();
        let first_stepped = periods.iter().position(|p| p.step_up_bp == 25).unwrap();
        assert_eq!(periods[first_stepped].accrual_start, date!(2029 - 09 - 10));
        assert_eq!(periods[first_stepped - 1].rate, rate("0.85"));
        assert!(
            periods[first_stepped..]
                .iter()
                .all(|p| p.rate == rate("1.1"))
        );
    }

    #[test]
    fn a_step_up_past_the_rate_ceiling_is_refused() {
        let step_up = StepUp {
            effective_from: date!(2025 - 01 - 01),
            basis_points: 10_000,
        };
        let terms = examples::green().validate().unwrap();
        let error = schedule(
            &terms,
            BusinessDayConvention::Following,
            Calendar::Weekends,
            &[step_up],
        )
        .unwrap_err();
        assert!(matches!(error, MoneyError::TooLarge { what: "rate", .. }));
    }

    // --- Rounding in other currencies ---------------------------------------------------------

    #[test]
    fn a_usd_coupon_is_rounded_down_to_the_cent() {
        // $1,000 × 5/100 × 181/365 = 9,050/365 = 24.794520… → $24.79 (not $24.80).
        let dollars = Amount::parse("1000", Currency::USD).unwrap();
        let amount = coupon_amount(&dollars, 1, &rate("5"), fraction(181, 365)).unwrap();
        assert_eq!(amount, Amount::parse("24.79", Currency::USD).unwrap());
        // Exact amounts are kept: 3 × $1,000 × 4.125/100 × 1/2 = $61.875 → $61.87.
        let amount = coupon_amount(&dollars, 3, &rate("4.125"), fraction(1, 2)).unwrap();
        assert_eq!(amount.to_wire(), "61.87");
    }

    #[test]
    fn a_kwd_coupon_is_rounded_down_to_the_fils() {
        // KWD has 3 minor units: KWD 1,000 × 2.5/100 × 181/365 = 4,525/365 = 12.397260… →
        // KWD 12.397.
        let kwd = Currency::parse("KWD").unwrap();
        let denomination = Amount::parse("1000", kwd).unwrap();
        let amount = coupon_amount(&denomination, 1, &rate("2.5"), fraction(181, 365)).unwrap();
        assert_eq!(amount, Amount::parse("12.397", kwd).unwrap());
        assert_eq!(amount.currency(), kwd);
    }

    #[test]
    fn no_tokens_or_no_rate_earn_nothing_and_a_coupon_past_the_amount_limit_is_refused() {
        let f = fraction(183, 365);
        assert_eq!(
            coupon_amount(&yen("1000000"), 0, &rate("0.3"), f),
            Ok(yen("0"))
        );
        assert_eq!(
            coupon_amount(&yen("1000000"), 5, &Rate::ZERO, f),
            Ok(yen("0"))
        );
        // 10^15 × 100/100 × 366/365 is just over 10^15.
        let error = coupon_amount(
            &yen("1000000000000000"),
            1,
            &rate("100"),
            fraction(366, 365),
        );
        assert!(matches!(
            error,
            Err(MoneyError::TooLarge { what: "coupon", .. })
        ));
        let error = coupon_amount(&yen("1000000000000000"), u64::MAX, &rate("100"), f);
        assert!(matches!(
            error,
            Err(MoneyError::TooLarge { what: "coupon", .. })
        ));
    }

    // --- Entitlements -------------------------------------------------------------------------

    #[test]
    fn entitlements_are_rounded_down_per_holder_sorted_and_skip_empty_holdings() {
        let period = green_schedule(BusinessDayConvention::Following, &[])[0];
        let holders = vec![
            ("carol".to_owned(), 3),
            ("dave".to_owned(), 0),
            ("alice".to_owned(), 2500),
            ("bob".to_owned(), 1),
        ];
        let paid = entitlements(&holders, &yen("1000000"), &period).unwrap();
        // Per token 549,000/365 = 1,504.109589…:
        //   alice 2,500 → 3,760,273.97… → 3,760,273
        //   bob       1 →     1,504.10… →     1,504
        //   carol     3 →     4,512.32… →     4,512
        let expected = [
            ("alice", 2500, "3760273"),
            ("bob", 1, "1504"),
            ("carol", 3, "4512"),
        ];
        assert_eq!(
            paid,
            expected
                .iter()
                .map(|(holder, quantity, amount)| Entitlement {
                    holder: (*holder).to_owned(),
                    quantity: *quantity,
                    amount: yen(amount),
                })
                .collect::<Vec<_>>()
        );
        // Paid 3,766,289; exact total 2,504 × 549,000/365 = 3,766,290.41…: one yen stays with the
        // issuer because each holder is rounded separately.
        let total: Decimal = paid.iter().map(|e| e.amount.value()).sum();
        assert_eq!(total, Decimal::from(3_766_289));
        assert!(total <= Decimal::from(1_374_696_000u64) / Decimal::from(365));
    }

    #[test]
    fn a_holder_listed_twice_is_paid_once_on_the_sum() {
        let period = green_schedule(BusinessDayConvention::Following, &[])[0];
        let holders = vec![("alice".to_owned(), 5), ("alice".to_owned(), 5)];
        // One rounding on 10 tokens: 10 × 549,000/365 = 15,041.09… → ¥15,041. Rounding each line
        // (5 × 549,000/365 = 7,520.54… → ¥7,520, twice) would pay ¥15,040.
        assert_eq!(
            entitlements(&holders, &yen("1000000"), &period),
            Ok(vec![Entitlement {
                holder: "alice".to_owned(),
                quantity: 10,
                amount: yen("15041"),
            }])
        );
        assert_eq!(entitlements(&[], &yen("1000000"), &period), Ok(Vec::new()));
    }
}
