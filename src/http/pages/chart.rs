//! Charts as server-rendered SVG: horizontal bars, one row a figure, its exact value written
//! beside it and kept in `data-value` (what the browser tests read). No script, no style
//! attribute (the pages' Content-Security-Policy allows neither): geometry in attributes,
//! colours by class from the stylesheet.

use maud::{Markup, html};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// One bar: what it is, its value, how the value reads, and its colour class.
pub struct Bar {
    pub label: String,
    pub value: Decimal,
    pub shown: String,
    pub class: &'static str,
}

const WIDTH: f64 = 640.0;
const ROW: f64 = 38.0;
const BAR: f64 = 14.0;
/// Room left of the bar's end for its value text when the bar is the longest.
const VALUE_ROOM: f64 = 190.0;

/// Horizontal bars on one scale (the largest value fills the width less room for its text).
/// Negative values draw as empty bars; their value is still written.
pub fn bars(id: &str, caption: &str, bars: &[Bar]) -> Markup {
    let max = bars
        .iter()
        .map(|b| b.value)
        .filter(|v| *v > Decimal::ZERO)
        .max()
        .unwrap_or(Decimal::ONE);
    let scale = |v: Decimal| -> f64 {
        let ratio = (v / max).to_f64().unwrap_or(0.0).clamp(0.0, 1.0);
        ((WIDTH - VALUE_ROOM) * ratio).max(if v > Decimal::ZERO { 1.0 } else { 0.0 })
    };
    let height = ROW * bars.len() as f64 + 4.0;
    html! {
        figure.chart {
            figcaption { (caption) }
            svg id=(id) class="bars" xmlns="http://www.w3.org/2000/svg" role="img"
                viewBox={ "0 0 " (WIDTH) " " (height) } width=(WIDTH) height=(height)
                aria-label=(caption) {
                @for (i, bar) in bars.iter().enumerate() {
                    @let y = ROW * i as f64;
                    @let w = scale(bar.value);
                    g.bar data-label=(bar.label) data-value=(bar.value.to_string()) {
                        text.label x="0" y=(y + 12.0) { (bar.label) }
                        rect class=(bar.class) x="0" y=(y + 17.0) width=(format!("{w:.1}")) height=(BAR) rx="2" {}
                        text.value x=(format!("{:.1}", w + 6.0)) y=(y + 29.0) { (bar.shown) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: i64) -> Bar {
        Bar {
            label: label.into(),
            value: Decimal::from(value),
            shown: format!("¥{value}"),
            class: "a",
        }
    }

    #[test]
    fn the_largest_bar_sets_the_scale_and_every_value_is_written() {
        let svg = bars("c", "Allocation", &[bar("Solar", 4000), bar("Wind", 1000)]).into_string();
        assert!(svg.contains(r#"width="450.0""#), "{svg}");
        assert!(svg.contains(r#"width="112.5""#), "{svg}");
        assert!(svg.contains(r#"data-value="4000""#));
        assert!(svg.contains("¥1000"));
        assert!(!svg.contains("style="));
    }

    #[test]
    fn zero_and_negative_values_draw_nothing_but_are_written() {
        let svg = bars("c", "x", &[bar("none", 0), bar("neg", -5)]).into_string();
        assert!(svg.contains(r#"width="0.0""#));
        assert!(svg.contains(r#"data-value="-5""#));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = bars("c", "x", &[bar("<script>", 1)]).into_string();
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
    }
}
