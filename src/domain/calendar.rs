//! Business-day calendars and business-day conventions: whether money can move on a day, and
//! where a scheduled date that is not a business day moves to.
//!
//! Pure and deterministic: no I/O, no clock, no table fetched at run time. Whether a day is a
//! business day is a function of the day alone, so a schedule computed today and one computed in
//! ten years agree (until the law changes: see the last paragraph).
//!
//! **Japanese bank holidays** ([`Calendar::Jp`]) are the days a bank may close under 銀行法第15条
//! and 銀行法施行令第5条第1項: Sundays; the 休日 of the Act on National Holidays (国民の祝日に関する
//! 法律, 昭和23年法律第178号); 12-31, 01-02 and 01-03; Saturdays. A payment due on one of them
//! cannot settle through a bank that day, which is why bond terms move it.
//!
//! The national holidays are computed **by rule** for every year from 2000, each rule as the law
//! stood in that year:
//! - **国民の祝日** (Article 2): fixed dates, and the "Happy Monday" dates: 成人の日 and 体育の日
//!   (スポーツの日 from 2020) on the 2nd Monday of January and October from 2000; 海の日 and 敬老の日
//!   on the 3rd Monday of July and September from 2003 (07-20 and 09-15 before). 山の日 (08-11)
//!   from 2016. 天皇誕生日 on 12-23 until 2018, none in 2019, 02-23 from 2020. From 2007 04-29 is
//!   昭和の日 and みどりの日 moves to 05-04 (until 2006 04-29 was みどりの日).
//! - **春分の日 and 秋分の日** fall on the 春分日 and 秋分日, which the law leaves to astronomy: the
//!   National Astronomical Observatory publishes them in its 暦要項 in the 官報 each February for
//!   the *next* year only. Here they come from the usual approximation, valid 1980–2099, day of
//!   March (September) = ⌊20.8431 (23.2488) + 0.242194 (y − 1980) − ⌊(y − 1980) / 4⌋⌋, computed in
//!   millionths so no float is involved. It gives the published dates for every year 2000–2027;
//!   later years are a forecast until the 官報 confirms them.
//! - **振替休日** (Article 3(2)): from 2007, when a 国民の祝日 falls on a Sunday, the first following
//!   day that is not a 国民の祝日 is a 休日 (05-03 on a Sunday gives 05-06); until 2006 the text was
//!   "the next day".
//! - **国民の休日** (Article 3(3)): a day that is not a 国民の祝日 but whose previous and next days
//!   are (2026-09-22, between 敬老の日 and 秋分の日); until 2006 a Sunday or a 振替休日 was excluded.
//! - **One-off laws** (the `ONE_OFF_HOLIDAYS` table): the enthronement of 2019, and the moves of
//!   海の日, スポーツの日 and 山の日 for the Tokyo Olympics in 2020 and 2021.
//!
//! Sources: the Act; the Cabinet Office's 「国民の祝日について」
//! (<https://www8.cao.go.jp/chosei/shukujitsu/gaiyou.html>) and its list of every holiday since
//! 1955, syukujitsu.csv (<https://www8.cao.go.jp/chosei/shukujitsu/syukujitsu.csv>). Checked against
//! the Cabinet Office list through 2027 (every year 2000–2027 is a test); last updated 2026-12.
//!
//! Limits: before 2000 the rules above are applied as they stood in 2000, which is wrong for the
//! 1990s (成人の日 was 01-15 and 体育の日 10-10 until 1999; 海の日 began in 1996); from 2100 the
//! equinox approximation drifts. A new law (a new holiday, another one-off) needs this file
//! updated and a release: the Cabinet Office list is the thing to compare against each February.

use time::{Date, Month, Weekday};

use crate::domain::wire::wire_enum;

wire_enum! {
    /// Where a scheduled date that is not a business day moves to: the business day conventions
    /// of the ISDA 2006 Definitions §4.12. A business day never moves.
    ///
    /// Japanese bond terms usually bring a payment date that falls on a bank holiday *forward*
    /// to the previous bank business day (「その前銀行営業日にこれを繰り上げる」, in corporate
    /// bond terms and 公募地方債 terms alike), which is [`Preceding`](Self::Preceding); each
    /// bond's terms decide.
    pub enum BusinessDayConvention ("business day convention") {
        /// "Following": the first following business day.
        Following = "following",
        /// "Modified Following": the first following business day, unless that is in the next
        /// calendar month; then the first preceding business day. Keeps a date at the end of a
        /// month in its month.
        ModifiedFollowing = "modified_following",
        /// "Preceding": the first preceding business day. The usual rule for Japanese corporate
        /// and municipal bond payments: the holder is paid early rather than late.
        Preceding = "preceding",
        /// No adjustment: the date stays as scheduled even when it is not a business day (FpML
        /// `NONE`).
        Unadjusted = "unadjusted",
    }
}

wire_enum! {
    /// Which days are business days.
    #[schema(as = BusinessDayCalendar)]
    pub enum Calendar ("calendar") {
        /// Japanese bank business days: every day except Saturdays, Sundays, the 休日 of the Act
        /// on National Holidays (国民の祝日, 振替休日, 国民の休日) and 12-31, 01-02 and 01-03
        /// (銀行法施行令第5条第1項). Computed by rule; see the module documentation for the
        /// rules, their sources and the years they are checked for.
        Jp = "JP",
        /// Saturdays and Sundays only: every weekday is a business day, holidays included.
        Weekends = "weekends",
    }
}

/// The name [`Calendar::holiday_name`] gives a 振替休日 (Article 3(2)); the Cabinet Office list
/// writes it "休日".
const SUBSTITUTE_HOLIDAY: &str = "振替休日";

/// The name [`Calendar::holiday_name`] gives a 国民の休日 (Article 3(3)); the Cabinet Office list
/// writes it "休日".
const CITIZENS_HOLIDAY: &str = "国民の休日";

/// The name [`Calendar::holiday_name`] gives 12-31, 01-02 and 01-03 when no national holiday
/// falls on them: banks close (銀行法施行令第5条第1項第2号), though they are not national holidays.
const YEAR_END_BANK_HOLIDAY: &str = "年末年始休業日";

/// Holidays set by a law of their own for one day: (year, month, day, name).
///
/// - 2019-05-01 and 2019-10-22: 天皇の即位の日及び即位礼正殿の儀の行われる日を休日とする法律
///   (promulgated 2018-12-14) makes both days 国民の祝日 for the purposes of the Act (the Cabinet
///   Office list writes each "休日（祝日扱い）"). 2019-04-30 and 2019-05-02, each between two
///   国民の祝日, then become 国民の休日 by Article 3(3): the rule gives them, not this table.
/// - 2020 and 2021: the Tokyo Olympic special measures act (平成三十二年東京オリンピック競技大会・
///   東京パラリンピック競技大会特別措置法, amended in 2018 for 2020 and again in November 2020
///   for 2021) moved 海の日, スポーツの日 and 山の日 to the days around the opening and closing
///   ceremonies; their usual dates were ordinary days in those years
///   (`MOVED_FOR_THE_OLYMPICS`). 2021-08-09 is the 振替休日 of 山の日 on Sunday 2021-08-08, by
///   the rule.
const ONE_OFF_HOLIDAYS: [(i32, Month, u8, &str); 8] = [
    (2019, Month::May, 1, "天皇の即位の日"),
    (2019, Month::October, 22, "即位礼正殿の儀の行われる日"),
    (2020, Month::July, 23, "海の日"),
    (2020, Month::July, 24, "スポーツの日"),
    (2020, Month::August, 10, "山の日"),
    (2021, Month::July, 22, "海の日"),
    (2021, Month::July, 23, "スポーツの日"),
    (2021, Month::August, 8, "山の日"),
];

/// Years in which 海の日, スポーツの日 and 山の日 are not on their usual dates, but on the dates
/// of `ONE_OFF_HOLIDAYS`.
const MOVED_FOR_THE_OLYMPICS: [i32; 2] = [2020, 2021];

/// The equinox approximation works in millionths of a day.
const MICRODAYS: i64 = 1_000_000;

/// 20.8431: the day of March of the 春分日 in 1980, in millionths.
const VERNAL_EQUINOX_1980: i64 = 20_843_100;

/// 23.2488: the day of September of the 秋分日 in 1980, in millionths.
const AUTUMNAL_EQUINOX_1980: i64 = 23_248_800;

/// 0.242194 day, in millionths: how much later on the calendar the equinox falls each year (the
/// tropical year is 365.242194 days); a leap day takes it back by one day every four years.
const EQUINOX_DRIFT_PER_YEAR: i64 = 242_194;

impl Calendar {
    /// Whether `day` is a business day: not a Saturday or Sunday, and not a holiday of this
    /// calendar.
    pub fn is_business_day(self, day: Date) -> bool {
        !is_weekend(day) && self.holiday_name(day).is_none()
    }

    /// The holiday on `day` under this calendar, by name; `None` on a business day and on a
    /// Saturday or Sunday that is not also a holiday (a weekend is closed, but not a holiday).
    ///
    /// [`Calendar::Jp`]: the 国民の祝日's name as the Act spells it (e.g. "憲法記念日"),
    /// "振替休日" or "国民の休日" for the two 休日 of Article 3 (the Cabinet Office list calls both
    /// "休日"), and "年末年始休業日" for 12-31, 01-02 and 01-03 unless a national holiday falls
    /// there (2023-01-02 is a 振替休日). A holiday on a Saturday or Sunday is named too.
    /// [`Calendar::Weekends`] has no holidays: always `None`.
    pub fn holiday_name(self, day: Date) -> Option<&'static str> {
        match self {
            Calendar::Jp => national_holiday(day).or_else(|| year_end_bank_holiday(day)),
            Calendar::Weekends => None,
        }
    }
}

impl BusinessDayConvention {
    /// `day` moved to a business day of `calendar` by this convention; a business day is returned
    /// as it is.
    ///
    /// Never panics: where the business day sought would lie beyond the last (or before the
    /// first) date `time` can represent, `day` itself is returned.
    pub fn adjust(self, day: Date, calendar: Calendar) -> Date {
        match self {
            BusinessDayConvention::Unadjusted => day,
            BusinessDayConvention::Following => following(day, calendar).unwrap_or(day),
            BusinessDayConvention::Preceding => preceding(day, calendar).unwrap_or(day),
            BusinessDayConvention::ModifiedFollowing => match following(day, calendar) {
                Some(next) if next.year() == day.year() && next.month() == day.month() => next,
                // In the next month, or beyond the last representable date (whose next month
                // would be too): the first preceding business day.
                _ => preceding(day, calendar).unwrap_or(day),
            },
        }
    }
}

/// The first business day on or after `day`; `None` if it would lie past `Date::MAX`.
fn following(day: Date, calendar: Calendar) -> Option<Date> {
    let mut candidate = day;
    while !calendar.is_business_day(candidate) {
        candidate = candidate.next_day()?;
    }
    Some(candidate)
}

/// The last business day on or before `day`; `None` if it would lie before `Date::MIN`.
fn preceding(day: Date, calendar: Calendar) -> Option<Date> {
    let mut candidate = day;
    while !calendar.is_business_day(candidate) {
        candidate = candidate.previous_day()?;
    }
    Some(candidate)
}

fn is_weekend(day: Date) -> bool {
    matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The 休日 of the Act on National Holidays on `day` (Article 3), by name: a 国民の祝日, a
/// 振替休日 or a 国民の休日.
fn national_holiday(day: Date) -> Option<&'static str> {
    if let Some(name) = shukujitsu(day) {
        Some(name)
    } else if is_substitute_holiday(day) {
        Some(SUBSTITUTE_HOLIDAY)
    } else if is_citizens_holiday(day) {
        Some(CITIZENS_HOLIDAY)
    } else {
        None
    }
}

/// The 国民の祝日 on `day`, by name: Article 2 of the Act as it stood in `day`'s year, and the
/// one-off laws.
fn shukujitsu(day: Date) -> Option<&'static str> {
    let (year, month, dom) = (day.year(), day.month(), day.day());
    if let Some(&(.., name)) = ONE_OFF_HOLIDAYS
        .iter()
        .find(|&&(y, m, d, _)| y == year && m == month && d == dom)
    {
        return Some(name);
    }
    let moved = MOVED_FOR_THE_OLYMPICS.contains(&year);
    // The nth Monday of the month: a Monday in the month's nth run of seven days.
    let nth_monday = |n: u8| day.weekday() == Weekday::Monday && (dom - 1) / 7 + 1 == n;
    // 海の日 and 敬老の日: the 3rd Monday from 2003, a fixed day of the month before.
    let third_monday_from_2003 = |fixed: u8| {
        if year >= 2003 {
            nth_monday(3)
        } else {
            dom == fixed
        }
    };
    let equinox = |base: i64| i64::from(dom) == equinox_day(year, base);
    let name = match month {
        Month::January if dom == 1 => "元日",
        Month::January if nth_monday(2) => "成人の日",
        Month::February if dom == 11 => "建国記念の日",
        Month::February if dom == 23 && year >= 2020 => "天皇誕生日",
        Month::March if equinox(VERNAL_EQUINOX_1980) => "春分の日",
        Month::April if dom == 29 && year >= 2007 => "昭和の日",
        Month::April if dom == 29 => "みどりの日",
        Month::May if dom == 3 => "憲法記念日",
        Month::May if dom == 4 && year >= 2007 => "みどりの日",
        Month::May if dom == 5 => "こどもの日",
        Month::July if third_monday_from_2003(20) && !moved => "海の日",
        Month::August if dom == 11 && year >= 2016 && !moved => "山の日",
        Month::September if third_monday_from_2003(15) => "敬老の日",
        Month::September if equinox(AUTUMNAL_EQUINOX_1980) => "秋分の日",
        Month::October if nth_monday(2) && !moved && year >= 2020 => "スポーツの日",
        Month::October if nth_monday(2) && !moved => "体育の日",
        Month::November if dom == 3 => "文化の日",
        Month::November if dom == 23 => "勤労感謝の日",
        Month::December if dom == 23 && year <= 2018 => "天皇誕生日",
        _ => return None,
    };
    Some(name)
}

/// The day of March (`base` [`VERNAL_EQUINOX_1980`]) or September ([`AUTUMNAL_EQUINOX_1980`])
/// of the equinox in `year`: ⌊base + 0.242194 (year − 1980) − ⌊(year − 1980) / 4⌋⌋, in integers.
fn equinox_day(year: i32, base: i64) -> i64 {
    let since_1980 = i64::from(year) - 1980;
    (base + EQUINOX_DRIFT_PER_YEAR * since_1980 - MICRODAYS * since_1980.div_euclid(4))
        .div_euclid(MICRODAYS)
}

/// Whether `day`, not itself a 国民の祝日, is a 振替休日 (Article 3(2)).
fn is_substitute_holiday(day: Date) -> bool {
    if day.year() >= 2007 {
        // The first day after a 国民の祝日 on a Sunday that is not itself a 国民の祝日: walk back
        // over the 国民の祝日 just before `day`, looking for a Sunday among them.
        let mut earlier = day.previous_day();
        while let Some(before) = earlier {
            if shukujitsu(before).is_none() {
                return false;
            }
            if before.weekday() == Weekday::Sunday {
                return true;
            }
            earlier = before.previous_day();
        }
        false
    } else {
        // Until 2006: the day after a 国民の祝日 on a Sunday.
        day.previous_day().is_some_and(|before| {
            before.weekday() == Weekday::Sunday && shukujitsu(before).is_some()
        })
    }
}

/// Whether `day`, neither a 国民の祝日 nor a 振替休日, is a 国民の休日 (Article 3(3)): its previous
/// and next days are 国民の祝日. Until 2006 the Article excluded a Sunday.
fn is_citizens_holiday(day: Date) -> bool {
    let between = day.previous_day().and_then(shukujitsu).is_some()
        && day.next_day().and_then(shukujitsu).is_some();
    between && (day.year() >= 2007 || day.weekday() != Weekday::Sunday)
}

/// 12-31, 01-02 and 01-03, when banks close (銀行法施行令第5条第1項第2号).
fn year_end_bank_holiday(day: Date) -> Option<&'static str> {
    matches!(
        (day.month(), day.day()),
        (Month::December, 31) | (Month::January, 2 | 3)
    )
    .then_some(YEAR_END_BANK_HOLIDAY)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    use super::BusinessDayConvention::{Following, ModifiedFollowing, Preceding, Unadjusted};

    /// Every 休日 of the Act on National Holidays in `year` (国民の祝日, 振替休日, 国民の休日),
    /// in date order, without the year-end bank holidays.
    fn national_holidays(year: i32) -> Vec<(Date, &'static str)> {
        let mut day = Date::from_calendar_date(year, Month::January, 1).unwrap();
        let mut holidays = Vec::new();
        while day.year() == year {
            if let Some(name) = national_holiday(day) {
                holidays.push((day, name));
            }
            day = day.next_day().unwrap();
        }
        holidays
    }

    // The lists of 2024–2027 are the Cabinet Office's (syukujitsu.csv, and its announcements of
    // each year's holidays every February), where 振替休日 and 国民の休日 are both "休日".

    #[test]
    fn the_holidays_of_2024_are_the_cabinet_offices() {
        assert_eq!(
            national_holidays(2024),
            vec![
                (date!(2024 - 01 - 01), "元日"),
                (date!(2024 - 01 - 08), "成人の日"),
                (date!(2024 - 02 - 11), "建国記念の日"),
                (date!(2024 - 02 - 12), "振替休日"),
                (date!(2024 - 02 - 23), "天皇誕生日"),
                (date!(2024 - 03 - 20), "春分の日"),
                (date!(2024 - 04 - 29), "昭和の日"),
                (date!(2024 - 05 - 03), "憲法記念日"),
                (date!(2024 - 05 - 04), "みどりの日"),
                (date!(2024 - 05 - 05), "こどもの日"),
                (date!(2024 - 05 - 06), "振替休日"),
                (date!(2024 - 07 - 15), "海の日"),
                (date!(2024 - 08 - 11), "山の日"),
                (date!(2024 - 08 - 12), "振替休日"),
                (date!(2024 - 09 - 16), "敬老の日"),
                (date!(2024 - 09 - 22), "秋分の日"),
                (date!(2024 - 09 - 23), "振替休日"),
                (date!(2024 - 10 - 14), "スポーツの日"),
                (date!(2024 - 11 - 03), "文化の日"),
                (date!(2024 - 11 - 04), "振替休日"),
                (date!(2024 - 11 - 23), "勤労感謝の日"),
            ]
        );
    }

    #[test]
    fn the_holidays_of_2025_are_the_cabinet_offices() {
        assert_eq!(
            national_holidays(2025),
            vec![
                (date!(2025 - 01 - 01), "元日"),
                (date!(2025 - 01 - 13), "成人の日"),
                (date!(2025 - 02 - 11), "建国記念の日"),
                (date!(2025 - 02 - 23), "天皇誕生日"),
                (date!(2025 - 02 - 24), "振替休日"),
                (date!(2025 - 03 - 20), "春分の日"),
                (date!(2025 - 04 - 29), "昭和の日"),
                (date!(2025 - 05 - 03), "憲法記念日"),
                (date!(2025 - 05 - 04), "みどりの日"),
                (date!(2025 - 05 - 05), "こどもの日"),
                (date!(2025 - 05 - 06), "振替休日"),
                (date!(2025 - 07 - 21), "海の日"),
                (date!(2025 - 08 - 11), "山の日"),
                (date!(2025 - 09 - 15), "敬老の日"),
                (date!(2025 - 09 - 23), "秋分の日"),
                (date!(2025 - 10 - 13), "スポーツの日"),
                (date!(2025 - 11 - 03), "文化の日"),
                (date!(2025 - 11 - 23), "勤労感謝の日"),
                (date!(2025 - 11 - 24), "振替休日"),
            ]
        );
    }

    #[test]
    fn the_holidays_of_2026_are_the_cabinet_offices() {
        assert_eq!(
            national_holidays(2026),
            vec![
                (date!(2026 - 01 - 01), "元日"),
                (date!(2026 - 01 - 12), "成人の日"),
                (date!(2026 - 02 - 11), "建国記念の日"),
                (date!(2026 - 02 - 23), "天皇誕生日"),
                (date!(2026 - 03 - 20), "春分の日"),
                (date!(2026 - 04 - 29), "昭和の日"),
                (date!(2026 - 05 - 03), "憲法記念日"),
                (date!(2026 - 05 - 04), "みどりの日"),
                (date!(2026 - 05 - 05), "こどもの日"),
                (date!(2026 - 05 - 06), "振替休日"),
                (date!(2026 - 07 - 20), "海の日"),
                (date!(2026 - 08 - 11), "山の日"),
                (date!(2026 - 09 - 21), "敬老の日"),
                // Between 敬老の日 and 秋分の日: Article 3(3).
                (date!(2026 - 09 - 22), "国民の休日"),
                (date!(2026 - 09 - 23), "秋分の日"),
                (date!(2026 - 10 - 12), "スポーツの日"),
                (date!(2026 - 11 - 03), "文化の日"),
                (date!(2026 - 11 - 23), "勤労感謝の日"),
            ]
        );
    }

    #[test]
    fn the_holidays_of_2027_are_the_cabinet_offices() {
        assert_eq!(
            national_holidays(2027),
            vec![
                (date!(2027 - 01 - 01), "元日"),
                (date!(2027 - 01 - 11), "成人の日"),
                (date!(2027 - 02 - 11), "建国記念の日"),
                (date!(2027 - 02 - 23), "天皇誕生日"),
                (date!(2027 - 03 - 21), "春分の日"),
                (date!(2027 - 03 - 22), "振替休日"),
                (date!(2027 - 04 - 29), "昭和の日"),
                (date!(2027 - 05 - 03), "憲法記念日"),
                (date!(2027 - 05 - 04), "みどりの日"),
                (date!(2027 - 05 - 05), "こどもの日"),
                (date!(2027 - 07 - 19), "海の日"),
                (date!(2027 - 08 - 11), "山の日"),
                (date!(2027 - 09 - 20), "敬老の日"),
                (date!(2027 - 09 - 23), "秋分の日"),
                (date!(2027 - 10 - 11), "スポーツの日"),
                (date!(2027 - 11 - 03), "文化の日"),
                (date!(2027 - 11 - 23), "勤労感謝の日"),
            ]
        );
    }

    #[test]
    fn the_enthronement_year_has_its_one_off_holidays_and_no_birthday_of_the_emperor() {
        assert_eq!(
            national_holidays(2019),
            vec![
                (date!(2019 - 01 - 01), "元日"),
                (date!(2019 - 01 - 14), "成人の日"),
                (date!(2019 - 02 - 11), "建国記念の日"),
                (date!(2019 - 03 - 21), "春分の日"),
                (date!(2019 - 04 - 29), "昭和の日"),
                (date!(2019 - 04 - 30), "国民の休日"),
                (date!(2019 - 05 - 01), "天皇の即位の日"),
                (date!(2019 - 05 - 02), "国民の休日"),
                (date!(2019 - 05 - 03), "憲法記念日"),
                (date!(2019 - 05 - 04), "みどりの日"),
                (date!(2019 - 05 - 05), "こどもの日"),
                (date!(2019 - 05 - 06), "振替休日"),
                (date!(2019 - 07 - 15), "海の日"),
                (date!(2019 - 08 - 11), "山の日"),
                (date!(2019 - 08 - 12), "振替休日"),
                (date!(2019 - 09 - 16), "敬老の日"),
                (date!(2019 - 09 - 23), "秋分の日"),
                (date!(2019 - 10 - 14), "体育の日"),
                (date!(2019 - 10 - 22), "即位礼正殿の儀の行われる日"),
                (date!(2019 - 11 - 03), "文化の日"),
                (date!(2019 - 11 - 04), "振替休日"),
                (date!(2019 - 11 - 23), "勤労感謝の日"),
            ]
        );
    }

    #[test]
    fn the_olympic_years_move_three_holidays_and_drop_their_usual_dates() {
        assert_eq!(
            national_holidays(2020),
            vec![
                (date!(2020 - 01 - 01), "元日"),
                (date!(2020 - 01 - 13), "成人の日"),
                (date!(2020 - 02 - 11), "建国記念の日"),
                (date!(2020 - 02 - 23), "天皇誕生日"),
                (date!(2020 - 02 - 24), "振替休日"),
                (date!(2020 - 03 - 20), "春分の日"),
                (date!(2020 - 04 - 29), "昭和の日"),
                (date!(2020 - 05 - 03), "憲法記念日"),
                (date!(2020 - 05 - 04), "みどりの日"),
                (date!(2020 - 05 - 05), "こどもの日"),
                (date!(2020 - 05 - 06), "振替休日"),
                (date!(2020 - 07 - 23), "海の日"),
                (date!(2020 - 07 - 24), "スポーツの日"),
                (date!(2020 - 08 - 10), "山の日"),
                (date!(2020 - 09 - 21), "敬老の日"),
                (date!(2020 - 09 - 22), "秋分の日"),
                (date!(2020 - 11 - 03), "文化の日"),
                (date!(2020 - 11 - 23), "勤労感謝の日"),
            ]
        );
        assert_eq!(
            national_holidays(2021),
            vec![
                (date!(2021 - 01 - 01), "元日"),
                (date!(2021 - 01 - 11), "成人の日"),
                (date!(2021 - 02 - 11), "建国記念の日"),
                (date!(2021 - 02 - 23), "天皇誕生日"),
                (date!(2021 - 03 - 20), "春分の日"),
                (date!(2021 - 04 - 29), "昭和の日"),
                (date!(2021 - 05 - 03), "憲法記念日"),
                (date!(2021 - 05 - 04), "みどりの日"),
                (date!(2021 - 05 - 05), "こどもの日"),
                (date!(2021 - 07 - 22), "海の日"),
                (date!(2021 - 07 - 23), "スポーツの日"),
                (date!(2021 - 08 - 08), "山の日"),
                (date!(2021 - 08 - 09), "振替休日"),
                (date!(2021 - 09 - 20), "敬老の日"),
                (date!(2021 - 09 - 23), "秋分の日"),
                (date!(2021 - 11 - 03), "文化の日"),
                (date!(2021 - 11 - 23), "勤労感謝の日"),
            ]
        );
    }

    /// syukujitsu.csv for 2000–2023: the days of each year's 休日, written as the CSV writes
    /// them (month/day, unpadded).
    const CABINET_OFFICE_2000_2023: &str = "
2000 1/1 1/10 2/11 3/20 4/29 5/3 5/4 5/5 7/20 9/15 9/23 10/9 11/3 11/23 12/23
2001 1/1 1/8 2/11 2/12 3/20 4/29 4/30 5/3 5/4 5/5 7/20 9/15 9/23 9/24 10/8 11/3 11/23 12/23 12/24
2002 1/1 1/14 2/11 3/21 4/29 5/3 5/4 5/5 5/6 7/20 9/15 9/16 9/23 10/14 11/3 11/4 11/23 12/23
2003 1/1 1/13 2/11 3/21 4/29 5/3 5/5 7/21 9/15 9/23 10/13 11/3 11/23 11/24 12/23
2004 1/1 1/12 2/11 3/20 4/29 5/3 5/4 5/5 7/19 9/20 9/23 10/11 11/3 11/23 12/23
2005 1/1 1/10 2/11 3/20 3/21 4/29 5/3 5/4 5/5 7/18 9/19 9/23 10/10 11/3 11/23 12/23
2006 1/1 1/2 1/9 2/11 3/21 4/29 5/3 5/4 5/5 7/17 9/18 9/23 10/9 11/3 11/23 12/23
2007 1/1 1/8 2/11 2/12 3/21 4/29 4/30 5/3 5/4 5/5 7/16 9/17 9/23 9/24 10/8 11/3 11/23 12/23 12/24
2008 1/1 1/14 2/11 3/20 4/29 5/3 5/4 5/5 5/6 7/21 9/15 9/23 10/13 11/3 11/23 11/24 12/23
2009 1/1 1/12 2/11 3/20 4/29 5/3 5/4 5/5 5/6 7/20 9/21 9/22 9/23 10/12 11/3 11/23 12/23
2010 1/1 1/11 2/11 3/21 3/22 4/29 5/3 5/4 5/5 7/19 9/20 9/23 10/11 11/3 11/23 12/23
2011 1/1 1/10 2/11 3/21 4/29 5/3 5/4 5/5 7/18 9/19 9/23 10/10 11/3 11/23 12/23
2012 1/1 1/2 1/9 2/11 3/20 4/29 4/30 5/3 5/4 5/5 7/16 9/17 9/22 10/8 11/3 11/23 12/23 12/24
2013 1/1 1/14 2/11 3/20 4/29 5/3 5/4 5/5 5/6 7/15 9/16 9/23 10/14 11/3 11/4 11/23 12/23
2014 1/1 1/13 2/11 3/21 4/29 5/3 5/4 5/5 5/6 7/21 9/15 9/23 10/13 11/3 11/23 11/24 12/23
2015 1/1 1/12 2/11 3/21 4/29 5/3 5/4 5/5 5/6 7/20 9/21 9/22 9/23 10/12 11/3 11/23 12/23
2016 1/1 1/11 2/11 3/20 3/21 4/29 5/3 5/4 5/5 7/18 8/11 9/19 9/22 10/10 11/3 11/23 12/23
2017 1/1 1/2 1/9 2/11 3/20 4/29 5/3 5/4 5/5 7/17 8/11 9/18 9/23 10/9 11/3 11/23 12/23
2018 1/1 1/8 2/11 2/12 3/21 4/29 4/30 5/3 5/4 5/5 7/16 8/11 9/17 9/23 9/24 10/8 11/3 11/23 12/23 12/24
2019 1/1 1/14 2/11 3/21 4/29 4/30 5/1 5/2 5/3 5/4 5/5 5/6 7/15 8/11 8/12 9/16 9/23 10/14 10/22 11/3 11/4 11/23
2020 1/1 1/13 2/11 2/23 2/24 3/20 4/29 5/3 5/4 5/5 5/6 7/23 7/24 8/10 9/21 9/22 11/3 11/23
2021 1/1 1/11 2/11 2/23 3/20 4/29 5/3 5/4 5/5 7/22 7/23 8/8 8/9 9/20 9/23 11/3 11/23
2022 1/1 1/10 2/11 2/23 3/21 4/29 5/3 5/4 5/5 7/18 8/11 9/19 9/23 10/10 11/3 11/23
2023 1/1 1/2 1/9 2/11 2/23 3/21 4/29 5/3 5/4 5/5 7/17 8/11 9/18 9/23 10/9 11/3 11/23
";

    #[test]
    fn every_year_from_2000_to_2023_has_the_cabinet_offices_holidays() {
        let mut years = 0;
        for line in CABINET_OFFICE_2000_2023.lines().filter(|l| !l.is_empty()) {
            let mut fields = line.split_whitespace();
            let year: i32 = fields.next().unwrap().parse().unwrap();
            let expected: Vec<Date> = fields
                .map(|month_day| {
                    let (month, day) = month_day.split_once('/').unwrap();
                    let month = Month::try_from(month.parse::<u8>().unwrap()).unwrap();
                    Date::from_calendar_date(year, month, day.parse().unwrap()).unwrap()
                })
                .collect();
            let computed: Vec<Date> = national_holidays(year)
                .into_iter()
                .map(|(day, _)| day)
                .collect();
            assert_eq!(computed, expected, "{year}");
            years += 1;
        }
        assert_eq!(years, 24);
    }

    #[test]
    fn the_names_follow_the_law_of_their_year() {
        let jp = Calendar::Jp;
        assert_eq!(jp.holiday_name(date!(2006 - 04 - 29)), Some("みどりの日"));
        assert_eq!(jp.holiday_name(date!(2007 - 04 - 29)), Some("昭和の日"));
        assert_eq!(jp.holiday_name(date!(2007 - 05 - 04)), Some("みどりの日"));
        assert_eq!(jp.holiday_name(date!(2018 - 12 - 23)), Some("天皇誕生日"));
        assert_eq!(jp.holiday_name(date!(2019 - 12 - 23)), None);
        assert_eq!(jp.holiday_name(date!(2019 - 10 - 14)), Some("体育の日"));
        assert_eq!(jp.holiday_name(date!(2022 - 10 - 10)), Some("スポーツの日"));
        // 海の日 and 敬老の日 were fixed dates until 2002.
        assert_eq!(jp.holiday_name(date!(2002 - 07 - 20)), Some("海の日"));
        assert_eq!(jp.holiday_name(date!(2002 - 09 - 15)), Some("敬老の日"));
        assert_eq!(jp.holiday_name(date!(2003 - 07 - 21)), Some("海の日"));
        // Until 2006 the day between 憲法記念日 and こどもの日 was a 国民の休日, even on a
        // Saturday, but not on a Sunday.
        assert_eq!(jp.holiday_name(date!(2002 - 05 - 04)), Some("国民の休日"));
        assert_eq!(jp.holiday_name(date!(2003 - 05 - 04)), None);
        // Until 2006 the 振替休日 was simply the Monday.
        assert_eq!(jp.holiday_name(date!(2005 - 03 - 21)), Some("振替休日"));
    }

    #[test]
    fn the_equinox_formula_gives_the_published_days() {
        // (year, 春分日 in March, 秋分日 in September), from syukujitsu.csv.
        let published = [
            (2000, 20, 23),
            (2004, 20, 23),
            (2008, 20, 23),
            (2011, 21, 23),
            (2012, 20, 22),
            (2016, 20, 22),
            (2019, 21, 23),
            (2020, 20, 22),
            (2023, 21, 23),
            (2024, 20, 22),
            (2025, 20, 23),
            (2026, 20, 23),
            (2027, 21, 23),
        ];
        for (year, vernal, autumnal) in published {
            assert_eq!(equinox_day(year, VERNAL_EQUINOX_1980), vernal, "{year}");
            assert_eq!(equinox_day(year, AUTUMNAL_EQUINOX_1980), autumnal, "{year}");
        }
    }

    #[test]
    fn banks_close_from_the_31st_of_december_to_the_3rd_of_january() {
        let jp = Calendar::Jp;
        assert_eq!(
            jp.holiday_name(date!(2024 - 12 - 31)),
            Some("年末年始休業日")
        );
        assert_eq!(jp.holiday_name(date!(2025 - 01 - 01)), Some("元日"));
        assert_eq!(
            jp.holiday_name(date!(2025 - 01 - 02)),
            Some("年末年始休業日")
        );
        assert_eq!(
            jp.holiday_name(date!(2025 - 01 - 03)),
            Some("年末年始休業日")
        );
        for day in [
            date!(2024 - 12 - 31),
            date!(2025 - 01 - 01),
            date!(2025 - 01 - 02),
            date!(2025 - 01 - 03),
        ] {
            assert!(!jp.is_business_day(day), "{day}");
        }
        // The days around them are ordinary weekdays.
        assert!(jp.is_business_day(date!(2024 - 12 - 30)));
        assert!(jp.is_business_day(date!(2026 - 01 - 05)));
        // A national holiday on one of those days keeps its own name.
        assert_eq!(jp.holiday_name(date!(2023 - 01 - 02)), Some("振替休日"));
        // Not national holidays: the Act's list leaves them out.
        assert_eq!(national_holiday(date!(2024 - 12 - 31)), None);
        assert_eq!(national_holiday(date!(2025 - 01 - 02)), None);
    }

    #[test]
    fn weekends_are_closed_but_unnamed_and_the_weekends_calendar_has_no_holidays() {
        let (jp, weekends) = (Calendar::Jp, Calendar::Weekends);
        // An ordinary Saturday and Sunday.
        assert_eq!(jp.holiday_name(date!(2025 - 05 - 10)), None);
        assert!(!jp.is_business_day(date!(2025 - 05 - 10)));
        assert!(!jp.is_business_day(date!(2025 - 05 - 11)));
        // A national holiday on a Saturday is named.
        assert_eq!(jp.holiday_name(date!(2025 - 05 - 03)), Some("憲法記念日"));
        assert!(!weekends.is_business_day(date!(2025 - 05 - 03)));
        assert!(!weekends.is_business_day(date!(2025 - 05 - 04)));
        for day in [
            date!(2025 - 05 - 05),
            date!(2025 - 05 - 06),
            date!(2024 - 12 - 31),
            date!(2025 - 01 - 02),
        ] {
            assert!(!jp.is_business_day(day), "{day}");
            assert!(weekends.is_business_day(day), "{day}");
            assert_eq!(weekends.holiday_name(day), None, "{day}");
        }
    }

    #[test]
    fn golden_week_2025_moves_a_saturday_holiday_past_the_whole_run() {
        // 05-03 (Sat) 憲法記念日, 05-04 (Sun) みどりの日, 05-05 (Mon) こどもの日, 05-06 (Tue)
        // 振替休日 for みどりの日 on a Sunday.
        let (day, jp) = (date!(2025 - 05 - 03), Calendar::Jp);
        assert_eq!(Following.adjust(day, jp), date!(2025 - 05 - 07));
        assert_eq!(ModifiedFollowing.adjust(day, jp), date!(2025 - 05 - 07));
        assert_eq!(Preceding.adjust(day, jp), date!(2025 - 05 - 02));
        assert_eq!(Unadjusted.adjust(day, jp), day);
        for holiday in [
            date!(2025 - 05 - 04),
            date!(2025 - 05 - 05),
            date!(2025 - 05 - 06),
        ] {
            assert_eq!(Following.adjust(holiday, jp), date!(2025 - 05 - 07));
            assert_eq!(Preceding.adjust(holiday, jp), date!(2025 - 05 - 02));
        }
        // Weekends only: the Monday, which is こどもの日.
        let weekends = Calendar::Weekends;
        assert_eq!(Following.adjust(day, weekends), date!(2025 - 05 - 05));
        assert_eq!(
            ModifiedFollowing.adjust(day, weekends),
            date!(2025 - 05 - 05)
        );
        assert_eq!(Preceding.adjust(day, weekends), date!(2025 - 05 - 02));
        assert_eq!(Unadjusted.adjust(day, weekends), day);
    }

    #[test]
    fn modified_following_stays_in_the_month() {
        // 2026-01-31 is a Saturday; 02-01 a Sunday.
        let day = date!(2026 - 01 - 31);
        for calendar in Calendar::ALL.iter().copied() {
            assert_eq!(Following.adjust(day, calendar), date!(2026 - 02 - 02));
            assert_eq!(
                ModifiedFollowing.adjust(day, calendar),
                date!(2026 - 01 - 30)
            );
            assert_eq!(Preceding.adjust(day, calendar), date!(2026 - 01 - 30));
            assert_eq!(Unadjusted.adjust(day, calendar), day);
        }
    }

    #[test]
    fn the_year_end_closes_banks_until_the_first_business_day_of_january() {
        // 12-31 to 01-03 closed, 01-04 and 01-05 a weekend; 成人の日 2025 is 01-13, not 01-06.
        let (day, jp) = (date!(2024 - 12 - 31), Calendar::Jp);
        assert!(jp.is_business_day(date!(2025 - 01 - 06)));
        assert_eq!(jp.holiday_name(date!(2025 - 01 - 13)), Some("成人の日"));
        assert_eq!(Following.adjust(day, jp), date!(2025 - 01 - 06));
        assert_eq!(Preceding.adjust(day, jp), date!(2024 - 12 - 30));
        // Following would be in January: modified following stays in December.
        assert_eq!(ModifiedFollowing.adjust(day, jp), date!(2024 - 12 - 30));
        assert_eq!(Unadjusted.adjust(day, jp), day);
        // A Tuesday: a business day when only weekends close.
        for convention in BusinessDayConvention::ALL.iter().copied() {
            assert_eq!(convention.adjust(day, Calendar::Weekends), day);
        }
    }

    #[test]
    fn a_business_day_never_moves() {
        let day = date!(2025 - 06 - 20);
        for calendar in Calendar::ALL.iter().copied() {
            assert!(calendar.is_business_day(day));
            for convention in BusinessDayConvention::ALL.iter().copied() {
                assert_eq!(convention.adjust(day, calendar), day);
            }
        }
    }

    #[test]
    fn the_ends_of_the_representable_range_do_not_panic() {
        for calendar in Calendar::ALL.iter().copied() {
            for convention in BusinessDayConvention::ALL.iter().copied() {
                for day in [Date::MIN, Date::MAX] {
                    let adjusted = convention.adjust(day, calendar);
                    assert!(adjusted == day || calendar.is_business_day(adjusted));
                }
            }
        }
        // Date::MAX is a 31st of December, a bank holiday with no day after it; Date::MIN a 1st
        // of January, 元日, with no day before it.
        let jp = Calendar::Jp;
        assert_eq!(Following.adjust(Date::MAX, jp), Date::MAX);
        assert!(ModifiedFollowing.adjust(Date::MAX, jp) < Date::MAX);
        assert_eq!(Preceding.adjust(Date::MIN, jp), Date::MIN);
        assert!(Following.adjust(Date::MIN, jp) > Date::MIN);
    }

    #[test]
    fn wire_names() {
        assert_eq!(
            BusinessDayConvention::ALL
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>(),
            ["following", "modified_following", "preceding", "unadjusted"]
        );
        assert_eq!(
            Calendar::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            ["JP", "weekends"]
        );
        assert_eq!(serde_json::to_string(&Calendar::Jp).unwrap(), "\"JP\"");
        assert_eq!(
            serde_json::from_str::<BusinessDayConvention>("\"modified_following\"").unwrap(),
            ModifiedFollowing
        );
        assert_eq!(Calendar::parse("weekends"), Ok(Calendar::Weekends));
        assert!(Calendar::parse("jp").is_err());
        assert!(BusinessDayConvention::parse("Following").is_err());
    }
}
