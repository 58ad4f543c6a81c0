//! Japanese and English for the pages: the language a request asks for, the catalogues
//! (`i18n/en.toml`, `i18n/ja.toml`, compiled in), and dates and amounts as each language writes
//! them (7 Dec 2026 / 2026年12月7日; ¥20,000,000,000 / 200億円).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use rust_decimal::Decimal;

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            _ => None,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Ja,
            Lang::Ja => Lang::En,
        }
    }

    /// The reader's choice (the `lang` cookie the switch sets), else the best of
    /// `Accept-Language` by q-value, else English.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        if let Some(lang) = super::cookie(headers, "lang").and_then(|v| Lang::parse(&v)) {
            return lang;
        }
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(accept_language)
            .unwrap_or(Lang::En)
    }

    /// The text for `key`; a key missing from the catalogue shows as itself (the catalogue
    /// test makes sure none is).
    pub fn t(self, key: &str) -> String {
        catalogue(self)
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }

    /// The text for `key` with `{name}` placeholders filled.
    pub fn tf(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut text = self.t(key);
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// The text for a code under `prefix` (a status, a kind, a category), or the code itself
    /// with underscores as spaces when the catalogue has none (codes are an open set in places,
    /// such as `issuer:` indicators).
    pub fn code_text(self, prefix: &str, code: &str) -> String {
        catalogue(self)
            .get(&format!("{prefix}.{code}"))
            .cloned()
            .unwrap_or_else(|| code.replace('_', " "))
    }

    /// A `YYYY-MM-DD` date (or the date part of an RFC 3339 time) as the language writes it;
    /// anything else as given.
    pub fn date(self, iso: &str) -> String {
        let day = iso.get(..10).unwrap_or(iso);
        let Ok(date) = time::Date::parse(
            day,
            time::macros::format_description!("[year]-[month]-[day]"),
        ) else {
            return iso.to_owned();
        };
        match self {
            Lang::En => format!(
                "{} {} {}",
                date.day(),
                &MONTHS[usize::from(u8::from(date.month())) - 1],
                date.year()
            ),
            Lang::Ja => format!(
                "{}年{}月{}日",
                date.year(),
                u8::from(date.month()),
                date.day()
            ),
        }
    }

    /// An amount in `currency` as a reader of the language expects it: grouped digits with the
    /// currency's sign in English; in Japanese, yen in 兆・億・万 where the amount is round in
    /// them (200億円), else with digits grouped (12,345,678円). Every digit is kept.
    pub fn amount(self, currency: &str, value: &str) -> String {
        let Ok(amount) = value.parse::<Decimal>() else {
            return format!("{value} {currency}");
        };
        // The sign goes before the currency's sign: -¥1,234, -1,234円.
        let sign = if amount.is_sign_negative() && !amount.is_zero() {
            "-"
        } else {
            ""
        };
        let amount = amount.abs();
        let text = match (self, currency) {
            (Lang::Ja, "JPY") => yen_ja(amount),
            (Lang::Ja, _) => format!("{} {currency}", group(amount)),
            (Lang::En, "JPY") => format!("¥{}", group(amount)),
            (Lang::En, "USD") => format!("${}", group(amount)),
            (Lang::En, "EUR") => format!("€{}", group(amount)),
            (Lang::En, "GBP") => format!("£{}", group(amount)),
            (Lang::En, _) => format!("{currency} {}", group(amount)),
        };
        format!("{sign}{text}")
    }

    /// A moment given in Unix seconds, in Japan's time (the bonds' market), as the language
    /// writes it: `8 Dec 2026, 09:00 JST` / `2026年12月8日 9:00（日本時間）`.
    pub fn moment(self, unix: i64) -> String {
        let Ok(utc) = time::OffsetDateTime::from_unix_timestamp(unix) else {
            return unix.to_string();
        };
        let jst = utc.to_offset(time::macros::offset!(+9));
        let day = self.date(&format!(
            "{:04}-{:02}-{:02}",
            jst.year(),
            u8::from(jst.month()),
            jst.day()
        ));
        match self {
            Lang::En => format!("{day}, {:02}:{:02} JST", jst.hour(), jst.minute()),
            Lang::Ja => format!("{day} {}:{:02}（日本時間）", jst.hour(), jst.minute()),
        }
    }

    /// The Japan date of an RFC 3339 time (when a trial was created, say), as the language
    /// writes dates; anything else as [`Lang::date`] reads it.
    pub fn date_jst(self, rfc3339: &str) -> String {
        match time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339) {
            Ok(t) => {
                let jst = t.to_offset(time::macros::offset!(+9));
                self.date(&format!(
                    "{:04}-{:02}-{:02}",
                    jst.year(),
                    u8::from(jst.month()),
                    jst.day()
                ))
            }
            Err(_) => self.date(rfc3339),
        }
    }

    /// A plain number with grouped digits.
    pub fn number(self, value: &str) -> String {
        value
            .parse::<Decimal>()
            .map(group)
            .unwrap_or_else(|_| value.to_owned())
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The first language of `header` (by q-value, then order) that the pages are written in.
fn accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32, usize)> = None;
    for (order, item) in header.split(',').enumerate() {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let primary = tag.split('-').next().unwrap_or("");
        let Some(lang) = Lang::parse(primary) else {
            continue;
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        if best.is_none_or(|(_, bq, bo)| q > bq || (q == bq && order < bo)) {
            best = Some((lang, q, order));
        }
    }
    best.map(|(lang, _, _)| lang)
}

/// Digits grouped by three with commas; the fraction as given (trailing zeros kept).
fn group(amount: Decimal) -> String {
    let text = amount.to_string();
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Yen as written in Japanese: 兆 (10^12), 億 (10^8) and 万 (10^4) when the amount is whole in
/// 万 and at least 1万 (1兆2,000億円, 200億円, 6,000万円), else grouped digits (12,345円).
fn yen_ja(amount: Decimal) -> String {
    let man = Decimal::from(10_000);
    if amount.fract() != Decimal::ZERO || amount < man || (amount % man) != Decimal::ZERO {
        return format!("{}円", group(amount));
    }
    let mut rest = amount.trunc();
    let mut text = String::new();
    for (unit, name) in [
        (Decimal::from(1_000_000_000_000u64), "兆"),
        (Decimal::from(100_000_000u64), "億"),
        (man, "万"),
    ] {
        let count = (rest / unit).trunc();
        if count > Decimal::ZERO {
            text.push_str(&group(count));
            text.push_str(name);
            rest -= count * unit;
        }
    }
    text.push('円');
    text
}

type Catalogue = BTreeMap<String, String>;

static EN: LazyLock<Catalogue> = LazyLock::new(|| parse(include_str!("i18n/en.toml")));
static JA: LazyLock<Catalogue> = LazyLock::new(|| parse(include_str!("i18n/ja.toml")));

fn catalogue(lang: Lang) -> &'static Catalogue {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}

/// A catalogue file: tables of strings, flattened to dotted keys (`[status] verified = "…"` is
/// `status.verified`). A malformed catalogue is a build mistake the tests catch; at run time it
/// leaves the keys showing.
fn parse(text: &str) -> Catalogue {
    fn walk(prefix: &str, value: &toml::Value, out: &mut Catalogue) {
        match value {
            toml::Value::String(s) => {
                out.insert(prefix.to_owned(), s.clone());
            }
            toml::Value::Table(table) => {
                for (k, v) in table {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Catalogue::new();
    if let Ok(value) = text.parse::<toml::Table>() {
        walk("", &toml::Value::Table(value), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_parse_and_say_the_same_things() {
        for (name, text) in [
            ("en", include_str!("i18n/en.toml")),
            ("ja", include_str!("i18n/ja.toml")),
        ] {
            text.parse::<toml::Table>()
                .unwrap_or_else(|e| panic!("{name}.toml: {e}"));
        }
        let en: Vec<&String> = EN.keys().collect();
        let ja: Vec<&String> = JA.keys().collect();
        let only_en: Vec<_> = en.iter().filter(|k| !JA.contains_key(**k)).collect();
        let only_ja: Vec<_> = ja.iter().filter(|k| !EN.contains_key(**k)).collect();
        assert!(only_en.is_empty(), "missing in ja.toml: {only_en:?}");
        assert!(only_ja.is_empty(), "missing in en.toml: {only_ja:?}");
        assert!(EN.len() > 100, "the catalogue has {} keys", EN.len());
    }

    #[test]
    fn every_key_the_pages_name_is_in_the_catalogue() {
        // Keys are named as string literals in `t("…")` / `tf("…"` calls in the page modules.
        for source in [
            include_str!("mod.rs"),
            include_str!("public.rs"),
            include_str!("regulator.rs"),
        ] {
            for piece in source
                .split(".t(\"")
                .skip(1)
                .chain(source.split(".tf(\"").skip(1))
            {
                let key = piece.split('"').next().unwrap_or("");
                assert!(EN.contains_key(key), "key {key:?} is not in en.toml");
            }
        }
    }

    #[test]
    fn dates_as_each_language_writes_them() {
        assert_eq!(Lang::En.date("2026-12-07"), "7 Dec 2026");
        assert_eq!(Lang::Ja.date("2026-12-07"), "2026年12月7日");
        assert_eq!(Lang::Ja.date("2026-01-05T01:02:03Z"), "2026年1月5日");
        assert_eq!(Lang::En.date("not a date"), "not a date");
        // Created at 20:30 UTC on 6 Dec: already 7 Dec in Japan.
        assert_eq!(Lang::En.date_jst("2026-12-06T20:30:00Z"), "7 Dec 2026");
        assert_eq!(Lang::Ja.date_jst("2026-12-06T20:30:00Z"), "2026年12月7日");
        // 1796698365 is 2026-12-08T02:52:45Z: 11:52 in Tokyo.
        assert_eq!(Lang::En.moment(1796698365), "8 Dec 2026, 11:52 JST");
        assert_eq!(
            Lang::Ja.moment(1796698365),
            "2026年12月8日 11:52（日本時間）"
        );
    }

    #[test]
    fn amounts_keep_every_digit() {
        assert_eq!(Lang::En.amount("JPY", "20000000000"), "¥20,000,000,000");
        assert_eq!(Lang::Ja.amount("JPY", "20000000000"), "200億円");
        assert_eq!(Lang::Ja.amount("JPY", "1200000000000"), "1兆2,000億円");
        assert_eq!(Lang::Ja.amount("JPY", "60000000"), "6,000万円");
        assert_eq!(Lang::Ja.amount("JPY", "6050000000"), "60億5,000万円");
        assert_eq!(Lang::Ja.amount("JPY", "12345"), "12,345円");
        assert_eq!(Lang::Ja.amount("JPY", "5000"), "5,000円");
        assert_eq!(Lang::En.amount("USD", "500000000.50"), "$500,000,000.50");
        assert_eq!(Lang::Ja.amount("USD", "500000000"), "500,000,000 USD");
        assert_eq!(Lang::En.amount("JPY", "-1234"), "-¥1,234");
        assert_eq!(Lang::Ja.amount("JPY", "-12345"), "-12,345円");
        assert_eq!(Lang::Ja.amount("JPY", "-200000000"), "-2億円");
        assert_eq!(Lang::En.amount("CHF", "100"), "CHF 100");
    }

    #[test]
    fn accept_language_picks_the_best_written_language() {
        assert_eq!(accept_language("ja-JP,ja;q=0.9,en;q=0.8"), Some(Lang::Ja));
        assert_eq!(accept_language("fr-FR, en;q=0.5, ja;q=0.4"), Some(Lang::En));
        assert_eq!(accept_language("en;q=0.2, ja;q=0.9"), Some(Lang::Ja));
        assert_eq!(accept_language("de, fr"), None);
        assert_eq!(accept_language("ja;q=0"), None);
    }
}
