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

/// The largest positive value: what fills a chart's scale (1 when there is none).
fn largest(values: impl Iterator<Item = Decimal>) -> Decimal {
    values
        .filter(|v| *v > Decimal::ZERO)
        .max()
        .unwrap_or(Decimal::ONE)
}

/// `v` as a share of `max`, within 0..=1 (negative values draw as nothing).
fn ratio(v: Decimal, max: Decimal) -> f64 {
    (v / max).to_f64().unwrap_or(0.0).clamp(0.0, 1.0)
}

/// Horizontal bars on one scale (the largest value fills the width less room for its text).
/// Negative values draw as empty bars; their value is still written.
pub fn bars(id: &str, caption: &str, bars: &[Bar]) -> Markup {
    let max = largest(bars.iter().map(|b| b.value));
    let scale = |v: Decimal| -> f64 {
        ((WIDTH - VALUE_ROOM) * ratio(v, max)).max(if v > Decimal::ZERO { 1.0 } else { 0.0 })
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

/// One line of a line chart: its name, a value per point, its colour class; `dashed` for a
/// limit (a cap) rather than a measure.
pub struct Series {
    pub label: String,
    pub values: Vec<Decimal>,
    pub class: &'static str,
    pub dashed: bool,
}

const PLOT_HEIGHT: f64 = 180.0;
const LEFT: f64 = 8.0;
const LEGEND_ROW: f64 = 18.0;

/// Lines over points in time (`x_labels`, one per point), on one scale from zero to the largest
/// value; each line keeps its values in `data-values` (comma-separated, exact).
pub fn lines(id: &str, caption: &str, x_labels: &[String], series: &[Series]) -> Markup {
    let max = largest(series.iter().flat_map(|s| s.values.iter().copied()));
    let n = x_labels.len().max(1);
    let plot_width = WIDTH - LEFT - 16.0;
    let x = |i: usize| {
        if n == 1 {
            LEFT + plot_width / 2.0
        } else {
            LEFT + plot_width * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: Decimal| 8.0 + PLOT_HEIGHT * (1.0 - ratio(v, max));
    let axis = 8.0 + PLOT_HEIGHT;
    let height = axis + 22.0 + LEGEND_ROW * series.len() as f64;
    html! {
        figure.chart {
            figcaption { (caption) }
            svg id=(id) class="lines" xmlns="http://www.w3.org/2000/svg" role="img"
                viewBox={ "0 0 " (WIDTH) " " (height) } width=(WIDTH) height=(height)
                aria-label=(caption) {
                line.axis x1=(LEFT) y1=(axis) x2=(LEFT + plot_width) y2=(axis) {}
                @for (i, label) in x_labels.iter().enumerate() {
                    @if i == 0 || i + 1 == n || n <= 6 {
                        text.tick x=(format!("{:.1}", x(i))) y=(axis + 14.0)
                            text-anchor=(if i == 0 { "start" } else if i + 1 == n { "end" } else { "middle" }) { (label) }
                    }
                }
                @for (k, s) in series.iter().enumerate() {
                    @let points = s.values.iter().enumerate()
                        .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
                        .collect::<Vec<_>>().join(" ");
                    @let values = s.values.iter().map(Decimal::to_string).collect::<Vec<_>>().join(",");
                    g.series data-label=(s.label) data-values=(values) {
                        polyline class=(s.class) points=(points) fill="none" stroke-width="2"
                            stroke-dasharray=(if s.dashed { "6 4" } else { "none" }) {}
                        @let ly = axis + 22.0 + LEGEND_ROW * k as f64;
                        line class=(s.class) x1=(LEFT) y1=(ly + 8.0) x2=(LEFT + 18.0) y2=(ly + 8.0) stroke-width="2"
                            stroke-dasharray=(if s.dashed { "6 4" } else { "none" }) {}
                        text.legend x=(LEFT + 24.0) y=(ly + 12.0) { (s.label) }
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
    fn a_line_keeps_its_exact_values_and_spans_the_points() {
        let svg = lines(
            "l",
            "Exposure",
            &["1 Oct".into(), "2 Oct".into(), "3 Oct".into()],
            &[Series {
                label: "A".into(),
                values: vec![Decimal::ZERO, Decimal::from(5), Decimal::from(10)],
                class: "c1",
                dashed: false,
            }],
        )
        .into_string();
        assert!(svg.contains(r#"data-values="0,5,10""#), "{svg}");
        // From the bottom left to the top right of the plot.
        assert!(
            svg.contains(r#"points="8.0,188.0 316.0,98.0 624.0,8.0""#),
            "{svg}"
        );
    }

    #[test]
    fn labels_are_escaped() {
        let svg = bars("c", "x", &[bar("<script>", 1)]).into_string();
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
    }
}
