//! Charts drawn by the server as SVG: bars for counts over time, a line for a
//! value over time. No script draws them, so they show as the page loads.

use maud::{Markup, html};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 160.0;
const LEFT: f64 = 36.0;
const BOTTOM: f64 = 20.0;
/// Room above the tallest value, so that a point there is drawn whole.
const TOP: f64 = 8.0;

/// One bar's stacked parts: `(value, colour)`.
pub struct Bar {
    pub label: String,
    pub parts: Vec<(f64, &'static str)>,
}

/// Stacked bars, one per label, on a scale from 0 to the tallest.
pub fn bars(title: &str, bars: &[Bar]) -> Markup {
    let top = bars
        .iter()
        .map(|b| b.parts.iter().map(|(v, _)| v).sum::<f64>())
        .fold(1.0, f64::max);
    let step = (WIDTH - LEFT) / bars.len().max(1) as f64;
    let scale = (HEIGHT - BOTTOM - TOP) / top;
    let mut rects = Vec::new();
    for (i, bar) in bars.iter().enumerate() {
        let mut y = HEIGHT - BOTTOM;
        for (value, colour) in &bar.parts {
            let h = value * scale;
            y -= h;
            rects.push((LEFT + i as f64 * step + 2.0, y, h, *colour));
        }
    }
    html! {
        svg.chart width=(WIDTH) height=(HEIGHT) role="img" aria-label=(title) {
            title { (title) }
            (axis(top))
            @for (x, y, h, colour) in rects {
                rect x=(x) y=(y) width=((step - 4.0).max(1.0)) height=(h) fill=(colour) {}
            }
            @for (i, bar) in bars.iter().enumerate() {
                @if labelled(i, bars.len()) {
                    text x=(LEFT + (i as f64 + 0.5) * step) y=(HEIGHT - 6.0) text-anchor="middle" { (bar.label) }
                }
            }
        }
    }
}

/// Whether the `i`th of `count` labels is written: all of a few, every so many of many.
fn labelled(i: usize, count: usize) -> bool {
    count <= 16 || i.is_multiple_of((count / 8).max(1))
}

/// A line through `(label, value)` points; a point without a value is a gap.
pub fn line(title: &str, points: &[(String, Option<f64>)], colour: &str) -> Markup {
    let top = points.iter().filter_map(|(_, v)| *v).fold(1.0, f64::max);
    let step = (WIDTH - LEFT) / points.len().max(1) as f64;
    let scale = (HEIGHT - BOTTOM - TOP) / top;
    let mut path = String::new();
    let mut pen_up = true;
    for (i, (_, value)) in points.iter().enumerate() {
        let Some(value) = value else {
            pen_up = true;
            continue;
        };
        let (x, y) = (
            LEFT + (i as f64 + 0.5) * step,
            HEIGHT - BOTTOM - value * scale,
        );
        path += &format!("{}{x:.1},{y:.1} ", if pen_up { "M" } else { "L" });
        pen_up = false;
    }
    html! {
        svg.chart width=(WIDTH) height=(HEIGHT) role="img" aria-label=(title) {
            title { (title) }
            (axis(top))
            path d=(path) fill="none" stroke=(colour) stroke-width="2" {}
            @for (i, (label, value)) in points.iter().enumerate() {
                @if let Some(value) = value {
                    circle cx=(LEFT + (i as f64 + 0.5) * step) cy=(HEIGHT - BOTTOM - value * scale) r="3" fill=(colour) {}
                }
                @if labelled(i, points.len()) {
                    text x=(LEFT + (i as f64 + 0.5) * step) y=(HEIGHT - 6.0) text-anchor="middle" { (label) }
                }
            }
        }
    }
}

/// The left axis with its top value, and the baseline.
fn axis(top: f64) -> Markup {
    html! {
        line x1=(LEFT) y1="0" x2=(LEFT) y2=(HEIGHT - BOTTOM) stroke="#d0d7de" {}
        line x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH) y2=(HEIGHT - BOTTOM) stroke="#d0d7de" {}
        text x=(LEFT - 4.0) y=(TOP + 4.0) text-anchor="end" { (format!("{top:.0}")) }
        text x=(LEFT - 4.0) y=(HEIGHT - BOTTOM) text-anchor="end" { "0" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_tallest_and_a_line_breaks_where_there_is_no_value() {
        let svg = bars(
            "deployments",
            &[
                Bar {
                    label: "a".into(),
                    parts: vec![(2.0, "green"), (2.0, "red")],
                },
                Bar {
                    label: "b".into(),
                    parts: vec![(1.0, "green")],
                },
            ],
        )
        .into_string();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(
            svg.contains(">4<"),
            "the top of the scale is the tallest bar: {svg}"
        );
        let svg = line(
            "rate",
            &[
                ("a".into(), Some(1.0)),
                ("b".into(), None),
                ("c".into(), Some(3.0)),
            ],
            "red",
        )
        .into_string();
        assert_eq!(
            svg.matches('M').count(),
            2,
            "two strokes around the gap: {svg}"
        );
    }
}
