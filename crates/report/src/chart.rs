//! The timeline chart of actor activity, as inline SVG.
//!
//! One lane per mailbox: a bar from first to last access, a dot per message first read,
//! throttled windows shaded red; log gaps shaded grey across all lanes.

use std::collections::BTreeSet;

use stormwatch_core::impact::MailboxImpact;
use stormwatch_core::{ImpactReport, LimitKind, Timestamp};

use crate::html::Html;

const WIDTH: f64 = 1180.0;
const LABEL: f64 = 250.0;
const LANE: f64 = 24.0;
const TOP: f64 = 12.0;
const AXIS: f64 = 34.0;
/// Lanes drawn at most (the rest are counted under the chart).
pub(crate) const MAX_LANES: usize = 40;
const HOUR: i64 = 3_600_000_000_000;

struct Lane<'a> {
    org: &'a str,
    mb: &'a MailboxImpact,
}

fn fmt(v: f64) -> String {
    format!("{v:.1}")
}

/// Draw the chart; returns the number of mailboxes not drawn.
pub(crate) fn timeline(h: &mut Html, r: &ImpactReport) -> usize {
    let mut lanes: Vec<Lane<'_>> = r
        .organizations
        .iter()
        .flat_map(|o| {
            o.mailboxes.iter().map(move |mb| Lane {
                org: o.tenant_id.as_str(),
                mb,
            })
        })
        .filter(|l| l.mb.first_access.is_some() || !l.mb.limits.is_empty())
        .collect();
    lanes.sort_by(|a, b| {
        (
            a.mb.first_access.is_none(),
            a.mb.first_access,
            a.org,
            &a.mb.mailbox,
        )
            .cmp(&(
                b.mb.first_access.is_none(),
                b.mb.first_access,
                b.org,
                &b.mb.mailbox,
            ))
    });
    let hidden = lanes.len().saturating_sub(MAX_LANES);
    lanes.truncate(MAX_LANES);

    // Time range: actor window, throttled windows of the lanes.
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    let mut take = |t: Option<Timestamp>| {
        if let Some(t) = t {
            lo = lo.min(t.nanos());
            hi = hi.max(t.nanos());
        }
    };
    take(r.window.first);
    take(r.window.last);
    for l in &lanes {
        take(l.mb.first_access);
        take(l.mb.last_access);
        for lim in &l.mb.limits {
            if lim.kind == LimitKind::Throttled {
                take(lim.from);
                take(lim.to);
            }
        }
    }
    if lanes.is_empty() || lo > hi {
        h.elem_with("p", &[("class", "muted")], "No actor activity to draw.");
        return hidden;
    }
    // Pad by 2% (at least an hour) on each side.
    let pad = ((hi - lo) / 50).max(HOUR);
    lo -= pad;
    hi += pad;
    let span = (hi - lo).max(1) as f64;
    let plot = WIDTH - LABEL - 16.0;
    let x = |t: i64| LABEL + (t.saturating_sub(lo)) as f64 / span * plot;
    let height = TOP + LANE * lanes.len() as f64 + AXIS;

    h.open_with("div", &[("class", "chart")]);
    h.open_with(
        "svg",
        &[
            ("xmlns", "http://www.w3.org/2000/svg"),
            ("width", "100%"),
            ("preserveAspectRatio", "xMinYMin meet"),
            ("viewBox", &format!("0 0 {} {}", fmt(WIDTH), fmt(height))),
            ("role", "img"),
            ("aria-label", "Timeline of actor activity per mailbox"),
            ("font-family", "system-ui,Segoe UI,Arial,sans-serif"),
            ("font-size", "11"),
        ],
    );
    let bottom = TOP + LANE * lanes.len() as f64;
    for i in (1..lanes.len()).step_by(2) {
        let y = TOP + LANE * i as f64;
        h.void(
            "rect",
            &[
                ("x", "0"),
                ("y", &fmt(y)),
                ("width", &fmt(WIDTH)),
                ("height", &fmt(LANE)),
                ("fill", "#f4f6f8"),
            ],
        );
    }
    // Log gaps: grey bands over the lanes of their organisation (over all lanes when the gap
    // belongs to no organisation of the report).
    let gap = |h: &mut Html, lim: &stormwatch_core::Limit, y0: f64, y1: f64| {
        if let (Some(f), Some(t)) = (lim.from, lim.to) {
            let (a, b) = (x(f.nanos().max(lo)), x(t.nanos().min(hi)));
            if b > a {
                h.open_with(
                    "rect",
                    &[
                        ("x", &fmt(a)),
                        ("y", &fmt(y0)),
                        ("width", &fmt(b - a)),
                        ("height", &fmt(y1 - y0)),
                        ("fill", "#c7ccd4"),
                        ("opacity", "0.6"),
                    ],
                )
                .elem("title", &lim.detail)
                .close("rect");
            }
        }
    };
    for lim in r.limits.iter().filter(|l| l.kind == LimitKind::LogGap) {
        if !r.organizations.iter().any(|o| o.limits.contains(lim)) {
            gap(h, lim, TOP, bottom);
        }
    }
    for (i, l) in lanes.iter().enumerate() {
        let y = TOP + LANE * i as f64;
        if let Some(o) = r.organizations.iter().find(|o| o.tenant_id == l.org) {
            for lim in o.limits.iter().filter(|l| l.kind == LimitKind::LogGap) {
                gap(h, lim, y + 1.0, y + LANE - 1.0);
            }
        }
    }
    // Axis ticks.
    let step = tick_step(hi - lo);
    let first_tick = lo.div_euclid(step) * step + step;
    let mut t = first_tick;
    while t < hi {
        let xt = x(t);
        h.void(
            "line",
            &[
                ("x1", &fmt(xt)),
                ("x2", &fmt(xt)),
                ("y1", &fmt(TOP)),
                ("y2", &fmt(bottom + 4.0)),
                ("stroke", "#e3e6ea"),
            ],
        );
        let ts = Timestamp::from_nanos(t);
        let label = if step < 24 * HOUR {
            let s = ts.to_string();
            format!(
                "{} {}",
                s.get(5..10).unwrap_or(""),
                s.get(11..16).unwrap_or("")
            )
        } else {
            ts.date_string()
        };
        h.elem_with(
            "text",
            &[
                ("x", &fmt(xt)),
                ("y", &fmt(bottom + 18.0)),
                ("text-anchor", "middle"),
                ("fill", "#5b6472"),
            ],
            &label,
        );
        t += step;
    }
    h.elem_with(
        "text",
        &[
            ("x", &fmt(WIDTH - 16.0)),
            ("y", &fmt(bottom + 31.0)),
            ("text-anchor", "end"),
            ("fill", "#5b6472"),
        ],
        "time (UTC)",
    );

    for (i, l) in lanes.iter().enumerate() {
        let y = TOP + LANE * i as f64;
        let mid = y + LANE / 2.0;
        let label = crate::text::fit(&l.mb.mailbox, 38);
        h.open_with(
            "text",
            &[
                ("x", &fmt(LABEL - 8.0)),
                ("y", &fmt(mid + 4.0)),
                ("text-anchor", "end"),
                ("fill", "#1d2430"),
            ],
        )
        .elem("title", &format!("{} ({})", l.mb.mailbox, l.org))
        .text(&label)
        .close("text");
        for lim in
            l.mb.limits
                .iter()
                .filter(|l| l.kind == LimitKind::Throttled)
        {
            if let (Some(f), Some(t)) = (lim.from, lim.to) {
                let (a, b) = (x(f.nanos()), x(t.nanos()));
                h.open_with(
                    "rect",
                    &[
                        ("x", &fmt(a)),
                        ("y", &fmt(y + 3.0)),
                        ("width", &fmt((b - a).max(2.0))),
                        ("height", &fmt(LANE - 6.0)),
                        ("fill", "#e0523f"),
                        ("fill-opacity", "0.22"),
                        ("stroke", "#b42318"),
                        ("stroke-dasharray", "3 2"),
                    ],
                )
                .elem("title", &lim.detail)
                .close("rect");
            }
        }
        if let (Some(f), Some(t)) = (l.mb.first_access, l.mb.last_access) {
            let (a, b) = (x(f.nanos()), x(t.nanos()));
            h.open_with(
                "rect",
                &[
                    ("x", &fmt(a - 1.5)),
                    ("y", &fmt(mid - 4.0)),
                    ("width", &fmt((b - a).max(0.0) + 3.0)),
                    ("height", "8"),
                    ("rx", "3"),
                    ("fill", "#1f4e8c"),
                ],
            )
            .elem(
                "title",
                &format!(
                    "{}: first {} · last {} · {} messages",
                    l.mb.mailbox,
                    crate::text::ts_human(Some(f)),
                    crate::text::ts_human(Some(t)),
                    l.mb.messages
                ),
            )
            .close("rect");
        }
        // One dot per distinct pixel of a message's first read.
        let mut px: BTreeSet<i64> = BTreeSet::new();
        for m in l.mb.folders.iter().flat_map(|f| f.messages.iter()) {
            if let Some(t) = m.first_access {
                px.insert(x(t.nanos()).round() as i64);
            }
        }
        for p in px {
            h.void(
                "circle",
                &[
                    ("cx", &p.to_string()),
                    ("cy", &fmt(mid)),
                    ("r", "2.6"),
                    ("fill", "#f2a900"),
                    ("stroke", "#1d2430"),
                    ("stroke-width", "0.5"),
                ],
            );
        }
    }
    h.close("svg").close("div");
    h.open_with("div", &[("class", "legend")]);
    for (colour, label) in [
        (
            "#1f4e8c",
            "actor activity on the mailbox (first to last access)",
        ),
        ("#f2a900", "a message first read"),
        ("#f5c1b8", "auditing throttled: presumed exposed"),
        (
            "#c7ccd4",
            "no record at all in the organisation that day (log gap)",
        ),
    ] {
        h.open("span").void_swatch(colour).text(label).close("span");
    }
    h.close("div");
    hidden
}

fn tick_step(range: i64) -> i64 {
    const STEPS: [i64; 11] = [1, 2, 3, 6, 12, 24, 48, 96, 168, 336, 720];
    for s in STEPS {
        if range / (s * HOUR) <= 10 {
            return s * HOUR;
        }
    }
    (range / 10).max(HOUR)
}

impl Html {
    fn void_swatch(&mut self, colour: &str) -> &mut Self {
        self.open_with(
            "i",
            &[("class", "sw"), ("style", &format!("background:{colour}"))],
        )
        .close("i")
    }
}
