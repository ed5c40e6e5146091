//! An incident's alerts on a time axis: positions computed here, drawn as SVG by the template
//! (numbers and escaped text only).

use serde_json::{Value, json};
use stormwatch_core::{Level, Timestamp};

/// One alert on the axis.
pub(crate) struct Point {
    pub(crate) at: Timestamp,
    pub(crate) level: Level,
    pub(crate) label: String,
    pub(crate) anchor: String,
}

const WIDTH: f64 = 900.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 20.0;
const ROW: f64 = 22.0;
const TOP: f64 = 12.0;

/// The drawing: `width`, `height`, `rows` (one per level, most severe on top), `points`
/// (`x`, `y`, `level`, `label`, `anchor`) and `ticks` (`x`, `label`).
pub(crate) fn svg(first: Timestamp, last: Timestamp, points: impl Iterator<Item = Point>) -> Value {
    let points: Vec<Point> = points.collect();
    let lo = points
        .iter()
        .map(|p| p.at.nanos())
        .chain([first.nanos()])
        .min()
        .unwrap_or(0);
    let hi = points
        .iter()
        .map(|p| p.at.nanos())
        .chain([last.nanos()])
        .max()
        .unwrap_or(0);
    let span = (hi - lo).max(1) as f64;
    let plot = WIDTH - LEFT - RIGHT;
    let x = |t: i64| LEFT + plot * ((t - lo) as f64 / span);
    let levels: Vec<Level> = Level::ALL.iter().rev().copied().collect();
    let row_of = |l: Level| levels.iter().position(|x| *x == l).unwrap_or(0) as f64;
    let rows: Vec<Value> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| json!({ "y": TOP + ROW * i as f64 + ROW / 2.0, "label": l.as_str() }))
        .collect();
    let pts: Vec<Value> = points
        .iter()
        .map(|p| {
            json!({
                "x": (x(p.at.nanos()) * 10.0).round() / 10.0,
                "y": TOP + ROW * row_of(p.level) + ROW / 2.0,
                "level": p.level.as_str(),
                "label": p.label,
                "anchor": p.anchor,
            })
        })
        .collect();
    let height = TOP + ROW * levels.len() as f64 + 24.0;
    let ticks: Vec<Value> = (0..=4)
        .map(|k| {
            let t = lo + ((hi - lo) as f64 * f64::from(k) / 4.0) as i64;
            let s = Timestamp::from_nanos(t).to_string();
            json!({
                "x": (x(t) * 10.0).round() / 10.0,
                "label": s.get(..16).unwrap_or(&s).replace('T', " "),
                "anchor": match k { 0 => "start", 4 => "end", _ => "middle" },
            })
        })
        .collect();
    json!({
        "width": WIDTH,
        "height": height,
        "axis_y": height - 20.0,
        "text_y": height - 6.0,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "rows": rows,
        "points": pts,
        "ticks": ticks,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn points_fall_inside_the_plot_by_time_and_level() {
        let t = |s: &str| Timestamp::parse(s).unwrap();
        let v = svg(
            t("2023-06-12T00:00:00Z"),
            t("2023-06-13T00:00:00Z"),
            [
                Point {
                    at: t("2023-06-12T00:00:00Z"),
                    level: Level::Critical,
                    label: "<a>".into(),
                    anchor: "a".into(),
                },
                Point {
                    at: t("2023-06-13T00:00:00Z"),
                    level: Level::Low,
                    label: "b".into(),
                    anchor: "b".into(),
                },
            ]
            .into_iter(),
        );
        let p = v["points"].as_array().unwrap();
        assert_eq!(p[0]["x"].as_f64().unwrap(), LEFT);
        assert_eq!(p[1]["x"].as_f64().unwrap(), WIDTH - RIGHT);
        assert!(p[0]["y"].as_f64().unwrap() < p[1]["y"].as_f64().unwrap());
        assert_eq!(v["ticks"].as_array().unwrap().len(), 5);
    }
}
