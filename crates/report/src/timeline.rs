//! The hunt report's timeline: detections by level over time as stacked bars, with the
//! incidents as bands above them, in inline SVG.

use std::collections::BTreeMap;

use stormwatch_core::{Incident, Level, Timestamp};

use crate::html::Html;
use crate::text::{thousands, ts_human};

const HOUR: i64 = 3_600_000_000_000;
/// Buckets kept before they are merged into wider ones: memory stays bounded whatever the
/// timestamps of the input.
const MAX_BUCKETS: usize = 4096;
/// Bars drawn at most.
const MAX_BARS: i64 = 120;

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const BAND: f64 = 16.0;
const PLOT: f64 = 120.0;
const AXIS: f64 = 30.0;

/// Fill colour of a level (the badges' colours).
pub(crate) fn level_colour(l: Level) -> &'static str {
    match l {
        Level::Critical => "#7a0916",
        Level::High => "#b42318",
        Level::Medium => "#e49b2f",
        Level::Low => "#3c7dc4",
        Level::Informational => "#b8bec7",
    }
}

/// Detections per level per time bucket, counted as they stream past.
#[derive(Debug)]
pub(crate) struct Histogram {
    unit: i64,
    buckets: BTreeMap<i64, [u64; 5]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            unit: HOUR,
            buckets: BTreeMap::new(),
        }
    }
}

impl Histogram {
    pub(crate) fn add(&mut self, t: Timestamp, level: Level) {
        let k = t.nanos().div_euclid(self.unit);
        if let Some(c) = self.buckets.entry(k).or_default().get_mut(level as usize) {
            *c += 1;
        }
        if self.buckets.len() > MAX_BUCKETS {
            self.widen(8);
        }
    }

    fn widen(&mut self, by: i64) {
        let unit = self.unit.saturating_mul(by);
        let mut merged: BTreeMap<i64, [u64; 5]> = BTreeMap::new();
        for (k, c) in std::mem::take(&mut self.buckets) {
            let t = k.saturating_mul(self.unit);
            let e = merged.entry(t.div_euclid(unit)).or_default();
            for (a, b) in e.iter_mut().zip(c) {
                *a += b;
            }
        }
        self.unit = unit;
        self.buckets = merged;
    }

    fn range(&self) -> Option<(i64, i64)> {
        let lo = *self.buckets.keys().next()?;
        let hi = *self.buckets.keys().next_back()?;
        Some((
            lo.saturating_mul(self.unit),
            hi.saturating_add(1).saturating_mul(self.unit),
        ))
    }
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// Draw the timeline; nothing when there is no detection.
pub(crate) fn draw(h: &mut Html, hist: &Histogram, incidents: &[&Incident]) {
    let mut hist_view = Histogram {
        unit: hist.unit,
        buckets: hist.buckets.clone(),
    };
    let Some((mut lo, mut hi)) = hist_view.range() else {
        h.elem_with("p", &[("class", "muted")], "No detection to draw.");
        return;
    };
    for i in incidents {
        lo = lo.min(i.first.nanos());
        hi = hi.max(i.last.nanos());
    }
    // Bars at most MAX_BARS: widen the buckets until they fit.
    while (hi - lo) / hist_view.unit.max(1) > MAX_BARS {
        let by = ((hi - lo) / hist_view.unit.max(1) / MAX_BARS + 1).clamp(2, 64);
        hist_view.widen(by);
        if let Some((a, b)) = hist_view.range() {
            lo = lo.min(a);
            hi = hi.max(b);
        }
    }
    let unit = hist_view.unit.max(1);
    lo = lo.div_euclid(unit) * unit;
    hi = (hi.div_euclid(unit) + 1) * unit;
    let span = (hi - lo).max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let x = |t: i64| LEFT + (t.saturating_sub(lo)) as f64 / span * plot_w;
    let bands = incidents.len().min(6);
    let top = 6.0 + BAND * bands as f64;
    let height = top + PLOT + AXIS;
    let max = hist_view
        .buckets
        .values()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);

    h.open_with("div", &[("class", "chart")]);
    h.open_with(
        "svg",
        &[
            ("xmlns", "http://www.w3.org/2000/svg"),
            ("width", "100%"),
            ("preserveAspectRatio", "xMinYMin meet"),
            ("viewBox", &format!("0 0 {} {}", f(WIDTH), f(height))),
            ("role", "img"),
            (
                "aria-label",
                "Detections by level over time, with the incidents above",
            ),
            ("font-family", "system-ui,Segoe UI,Arial,sans-serif"),
            ("font-size", "11"),
        ],
    );
    // Incidents: one band each, from first to last record.
    for (i, inc) in incidents.iter().take(bands).enumerate() {
        let y = 4.0 + BAND * i as f64;
        let (a, b) = (x(inc.first.nanos()), x(inc.last.nanos()));
        h.open_with(
            "rect",
            &[
                ("x", &f(a)),
                ("y", &f(y)),
                ("width", &f((b - a).max(3.0))),
                ("height", &f(BAND - 4.0)),
                ("rx", "3"),
                ("fill", level_colour(inc.level)),
                ("fill-opacity", "0.85"),
            ],
        )
        .elem(
            "title",
            &format!(
                "{} ({}): {} → {}",
                inc.id,
                inc.level,
                ts_human(Some(inc.first)),
                ts_human(Some(inc.last))
            ),
        )
        .close("rect");
        let label_x = if b + 70.0 < WIDTH { b + 4.0 } else { a - 4.0 };
        let anchor = if b + 70.0 < WIDTH { "start" } else { "end" };
        h.elem_with(
            "text",
            &[
                ("x", &f(label_x)),
                ("y", &f(y + BAND - 6.0)),
                ("text-anchor", anchor),
                ("fill", "#1d2430"),
            ],
            &inc.id,
        );
    }
    // Axis and grid.
    let bottom = top + PLOT;
    h.void(
        "line",
        &[
            ("x1", &f(LEFT)),
            ("x2", &f(WIDTH - RIGHT)),
            ("y1", &f(bottom)),
            ("y2", &f(bottom)),
            ("stroke", "#9aa3ad"),
        ],
    );
    h.elem_with(
        "text",
        &[
            ("x", &f(LEFT - 6.0)),
            ("y", &f(top + 8.0)),
            ("text-anchor", "end"),
            ("fill", "#5b6472"),
        ],
        &thousands(max),
    );
    h.elem_with(
        "text",
        &[
            ("x", &f(LEFT - 6.0)),
            ("y", &f(bottom)),
            ("text-anchor", "end"),
            ("fill", "#5b6472"),
        ],
        "0",
    );
    let step = tick_step(hi - lo);
    let mut t = lo.div_euclid(step) * step + step;
    while t < hi {
        let xt = x(t);
        h.void(
            "line",
            &[
                ("x1", &f(xt)),
                ("x2", &f(xt)),
                ("y1", &f(top)),
                ("y2", &f(bottom + 4.0)),
                ("stroke", "#e3e6ea"),
            ],
        );
        let s = Timestamp::from_nanos(t).to_string();
        let label = if step < 24 * HOUR {
            format!(
                "{} {}",
                s.get(5..10).unwrap_or(""),
                s.get(11..16).unwrap_or("")
            )
        } else {
            s.get(0..10).unwrap_or("").to_owned()
        };
        h.elem_with(
            "text",
            &[
                ("x", &f(xt)),
                ("y", &f(bottom + 17.0)),
                ("text-anchor", "middle"),
                ("fill", "#5b6472"),
            ],
            &label,
        );
        t += step;
    }
    // Bars, stacked most severe at the bottom.
    let bar_w = (unit as f64 / span * plot_w - 1.0).max(1.5);
    for (k, counts) in &hist_view.buckets {
        let t = k.saturating_mul(unit);
        let bx = x(t);
        let mut y = bottom;
        for l in Level::ALL.iter().rev() {
            let n = counts.get(*l as usize).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let hgt = (n as f64 / max as f64 * (PLOT - 8.0)).max(1.5);
            y -= hgt;
            h.open_with(
                "rect",
                &[
                    ("x", &f(bx)),
                    ("y", &f(y)),
                    ("width", &f(bar_w)),
                    ("height", &f(hgt)),
                    ("fill", level_colour(*l)),
                ],
            )
            .elem(
                "title",
                &format!(
                    "{} from {}: {} {}",
                    thousands(n),
                    ts_human(Some(Timestamp::from_nanos(t))),
                    l,
                    if n == 1 { "detection" } else { "detections" }
                ),
            )
            .close("rect");
        }
    }
    h.close("svg").close("div");
    h.open_with("div", &[("class", "legend")]);
    for l in Level::ALL.iter().rev() {
        h.open("span")
            .open_with(
                "i",
                &[
                    ("class", "sw"),
                    ("style", &format!("background:{}", level_colour(*l))),
                ],
            )
            .close("i")
            .text(l.as_str())
            .close("span");
    }
    h.open("span")
        .text(&format!(
            "bars: detections per {} (UTC); bands above: incidents, first to last record",
            unit_name(unit)
        ))
        .close("span");
    h.close("div");
}

fn unit_name(unit: i64) -> String {
    let hours = unit / HOUR;
    match hours {
        1 => "hour".to_owned(),
        24 => "day".to_owned(),
        h if h % 24 == 0 => format!("{} days", h / 24),
        h => format!("{h} hours"),
    }
}

fn tick_step(range: i64) -> i64 {
    const STEPS: [i64; 12] = [1, 2, 3, 6, 12, 24, 48, 96, 168, 336, 720, 8760];
    for s in STEPS {
        if range / (s * HOUR) <= 10 {
            return s * HOUR;
        }
    }
    (range / 10).max(HOUR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_stay_bounded_whatever_the_times() {
        let mut hgram = Histogram::default();
        for i in 0..20_000i64 {
            // One detection a day for 55 years.
            hgram.add(Timestamp::from_nanos(i * 24 * HOUR), Level::Low);
        }
        assert!(hgram.buckets.len() <= MAX_BUCKETS);
        let total: u64 = hgram.buckets.values().map(|c| c[Level::Low as usize]).sum();
        assert_eq!(total, 20_000);
        let mut h = Html::new();
        draw(&mut h, &hgram, &[]);
        let svg = h.finish();
        assert!(
            svg.matches("<rect").count() <= MAX_BARS as usize + 1,
            "bars bounded"
        );
    }
}
