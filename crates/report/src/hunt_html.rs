//! The hunt report as a self-contained HTML page.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use stormwatch_core::{Detection, Level};

use crate::error::ReportError;
use crate::html::Html;
use crate::spool::DetectionCounts;
use crate::style::CSS;
use crate::summary::HuntSummary;
use crate::table::{incident_parts, where_, who};
use crate::text::{bytes, thousands, ts_cell, ts_human};

/// Detection rows shown (the JSONL and CSV outputs have all of them).
const MAX_ROWS: usize = 20_000;

/// A detection kept for the page, with its place in the output order.
struct Kept<D> {
    level: Level,
    seq: u64,
    d: D,
}

impl<D> Kept<D> {
    /// Greater = dropped first: less severe, then later in the output.
    fn key(&self) -> (std::cmp::Reverse<Level>, u64) {
        (std::cmp::Reverse(self.level), self.seq)
    }
}

impl<D> PartialEq for Kept<D> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<D> Eq for Kept<D> {}
impl<D> PartialOrd for Kept<D> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<D> Ord for Kept<D> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// Detections of one rule, over the whole stream.
struct RuleCount {
    title: String,
    highest: Level,
    count: u64,
}

/// What the page shows of the stream: counts over all of it, and the rows it lists.
struct Selection<D> {
    counts: DetectionCounts,
    /// Per rule id (bounded by the rules loaded).
    by_rule: BTreeMap<String, RuleCount>,
    rows: Vec<D>,
}

/// Go through the whole stream: count every detection, keep at most `max` of them (the most
/// severe, the earliest first within a level), returned in output order.
fn select<D, E>(
    sorted: impl Iterator<Item = Result<D, E>>,
    max: usize,
) -> Result<Selection<D>, ReportError>
where
    D: Borrow<Detection>,
    ReportError: From<E>,
{
    let mut counts = DetectionCounts::default();
    let mut by_rule: BTreeMap<String, RuleCount> = BTreeMap::new();
    let mut kept: BinaryHeap<Kept<D>> = BinaryHeap::new();
    for (seq, d) in (0u64..).zip(sorted) {
        let d = d?;
        let det = d.borrow();
        let level = det.level;
        counts.add(level);
        if let Some(r) = by_rule.get_mut(det.rule_id.as_str()) {
            r.count += 1;
            r.highest = r.highest.max(level);
        } else {
            by_rule.insert(
                det.rule_id.clone(),
                RuleCount {
                    title: det.rule_title.clone(),
                    highest: level,
                    count: 1,
                },
            );
        }
        if kept.len() < max {
            kept.push(Kept { level, seq, d });
        } else if let Some(mut worst) = kept.peek_mut()
            && level > worst.level
        {
            *worst = Kept { level, seq, d };
        }
    }
    let mut kept = kept.into_vec();
    kept.sort_unstable_by_key(|k| k.seq);
    Ok(Selection {
        counts,
        by_rule,
        rows: kept.into_iter().map(|k| k.d).collect(),
    })
}

/// Detections per rule, with how many of them the page lists: shown when rows are left out.
fn rule_table<D: Borrow<Detection>>(
    h: &mut Html,
    by_rule: &BTreeMap<String, RuleCount>,
    rows: &[D],
) {
    let mut listed: BTreeMap<&str, u64> = BTreeMap::new();
    for d in rows {
        *listed.entry(d.borrow().rule_id.as_str()).or_default() += 1;
    }
    let mut rules: Vec<(&String, &RuleCount)> = by_rule.iter().collect();
    rules.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
    h.elem("h3", "Detections by rule");
    h.open_with("div", &[("class", "tw")])
        .open("table")
        .header_row(&["Highest level", "Rule", "Detections", "Listed below"])
        .open("tbody");
    for (id, r) in rules {
        h.open("tr").open("td");
        level_badge(h, r.highest);
        h.close("td");
        h.open("td")
            .text(&r.title)
            .raw("<br>")
            .elem_with("span", &[("class", "muted mono")], id)
            .close("td");
        h.elem_with("td", &[("class", "num")], &thousands(r.count));
        let n = listed.get(id.as_str()).copied().unwrap_or(0);
        h.elem_with("td", &[("class", "num")], &thousands(n));
        h.close("tr");
    }
    h.close("tbody").close("table").close("div");
    h.elem("h3", "Detections listed");
}

fn card(h: &mut Html, class: &'static str, n: &str, label: &str) {
    h.open_with("div", &[("class", class)]);
    h.elem_with("div", &[("class", "n")], n);
    h.elem_with("div", &[("class", "l")], label);
    h.close("div");
}

fn level_badge(h: &mut Html, level: stormwatch_core::Level) {
    let class = match level {
        stormwatch_core::Level::Critical => "badge b-critical",
        stormwatch_core::Level::High => "badge b-high",
        stormwatch_core::Level::Medium => "badge b-medium",
        stormwatch_core::Level::Low => "badge b-low",
        stormwatch_core::Level::Informational => "badge b-informational",
    };
    h.elem_with("span", &[("class", class)], level.as_str());
}

/// The page, from detections already in output order.
pub(crate) fn render<D, E>(
    sorted: impl Iterator<Item = Result<D, E>>,
    incidents: &[serde_json::Value],
    s: &HuntSummary,
) -> Result<String, ReportError>
where
    D: Borrow<Detection>,
    ReportError: From<E>,
{
    let Selection {
        counts,
        by_rule,
        rows,
    } = select(sorted, MAX_ROWS)?;
    let total = counts.total();
    let mut h = Html::new();
    h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.void(
        "meta",
        &[
            ("name", "viewport"),
            ("content", "width=device-width, initial-scale=1"),
        ],
    );
    h.elem("title", "Hunt report");
    h.raw("<style>").raw(CSS).raw("</style></head><body>");
    h.open("header").elem("h1", "Hunt report");
    let mut sub = format!(
        "{} records from {} files · {} rules{}",
        thousands(s.stats.records()),
        thousands(s.stats.files.len() as u64),
        thousands(s.rules_loaded as u64),
        if s.builtin {
            " + built-in analytics"
        } else {
            ""
        }
    );
    if let Some(t) = s.generated_at {
        sub.push_str(&format!(" · generated {}", ts_human(Some(t))));
    }
    h.elem("p", &sub).close("header");
    h.open("nav");
    for (href, label) in [
        ("#summary", "Summary"),
        ("#detections", "Detections"),
        ("#incidents", "Incidents"),
        ("#inputs", "Inputs"),
    ] {
        h.elem_with("a", &[("href", href)], label);
    }
    h.close("nav").open("main");

    h.open_with("section", &[("id", "summary")])
        .elem("h2", "Summary");
    h.open_with("div", &[("class", "cards")]);
    card(&mut h, "card", &thousands(total), "detections");
    for (l, n) in counts.by_level() {
        let class = if l >= stormwatch_core::Level::High {
            "card bad"
        } else if l == stormwatch_core::Level::Medium {
            "card warn"
        } else {
            "card"
        };
        card(&mut h, class, &thousands(n), l.as_str());
    }
    card(
        &mut h,
        "card",
        &thousands(incidents.len() as u64),
        "incidents",
    );
    card(
        &mut h,
        "card",
        &thousands(s.stats.records()),
        "records read",
    );
    let skipped = s.stats.skipped();
    card(
        &mut h,
        if skipped > 0 { "card warn" } else { "card" },
        &thousands(skipped),
        "records skipped",
    );
    h.close("div");
    if !s.notes.is_empty() {
        h.open("ul");
        for n in &s.notes {
            h.elem("li", n);
        }
        h.close("ul");
    }
    h.close("section");

    h.open_with("section", &[("id", "detections")])
        .elem("h2", "Detections");
    if total == 0 {
        h.elem("p", "No detection.");
    } else {
        let shown = rows.len() as u64;
        if total > shown {
            h.elem_with(
                "p",
                &[("class", "muted")],
                &format!(
                    "This page lists {} of the {} detections: the most severe, in time order. \
                     {} more are left out; the JSONL and CSV outputs carry them all.",
                    thousands(shown),
                    thousands(total),
                    thousands(total - shown)
                ),
            );
            rule_table(&mut h, &by_rule, &rows);
        }
        h.open_with("div", &[("class", "tw")])
            .open("table")
            .header_row(&[
                "Time (UTC)",
                "Level",
                "Rule",
                "Who",
                "IP",
                "Session / app",
                "Records",
                "Why",
            ])
            .open("tbody");
        for d in &rows {
            let d = d.borrow();
            h.open("tr");
            h.elem_with("td", &[("class", "t")], &ts_cell(Some(d.timestamp)));
            h.open("td");
            level_badge(&mut h, d.level);
            h.close("td");
            h.open("td")
                .text(&d.rule_title)
                .raw("<br>")
                .elem_with("span", &[("class", "muted mono")], &d.rule_id)
                .close("td");
            h.open("td")
                .elem_with("span", &[("class", "mono")], &who(d));
            if let Some(t) = &d.tenant {
                h.raw("<br>")
                    .elem_with("span", &[("class", "muted mono small")], t);
            }
            h.close("td");
            h.elem_with("td", &[("class", "id")], d.ip.as_deref().unwrap_or(""));
            h.open_with("td", &[("class", "mono small")])
                .text(d.session_id.as_deref().unwrap_or(""));
            if let Some(app) = &d.app_id {
                h.raw("<br>").elem_with("span", &[("class", "muted")], app);
            }
            h.close("td");
            h.elem_with("td", &[("class", "mono small")], &where_(d));
            h.open("td").text(&d.explanation);
            if !d.tags.is_empty() {
                h.raw("<br>")
                    .elem_with("span", &[("class", "muted")], &d.tags.join(", "));
            }
            h.close("td").close("tr");
        }
        h.close("tbody").close("table").close("div");
    }
    h.close("section");

    h.open_with("section", &[("id", "incidents")])
        .elem("h2", "Incidents");
    if incidents.is_empty() {
        h.elem("p", "No incident.");
    } else {
        h.open_with("div", &[("class", "tw")])
            .open("table")
            .header_row(&["Time", "Level", "Incident", "Details"])
            .open("tbody");
        for inc in incidents {
            let (title, level, time, rest) = incident_parts(inc);
            h.open("tr");
            h.elem_with("td", &[("class", "t")], &time);
            h.elem("td", &level);
            h.elem("td", &title);
            h.open("td");
            for (k, v) in rest.iter().take(12) {
                h.elem_with("span", &[("class", "muted")], k)
                    .text(": ")
                    .text(v)
                    .raw("<br>");
            }
            h.close("td").close("tr");
        }
        h.close("tbody").close("table").close("div");
    }
    h.close("section");

    h.open_with("section", &[("id", "inputs")])
        .elem("h2", "Inputs");
    h.open_with("div", &[("class", "tw")])
        .open("table")
        .header_row(&[
            "File",
            "Format",
            "Size",
            "Records",
            "Skipped",
            "First record (UTC)",
            "Last record (UTC)",
        ])
        .open("tbody");
    for f in &s.stats.files {
        h.open_with(
            "tr",
            if f.skipped > 0 {
                &[("class", "warnrow")]
            } else {
                &[]
            },
        );
        h.elem_with("td", &[("class", "mono")], &f.file);
        h.elem("td", &f.format);
        h.elem_with("td", &[("class", "num")], &bytes(f.bytes));
        h.elem_with("td", &[("class", "num")], &thousands(f.records));
        h.elem_with("td", &[("class", "num")], &thousands(f.skipped));
        h.elem_with("td", &[("class", "t")], &ts_cell(f.first));
        h.elem_with("td", &[("class", "t")], &ts_cell(f.last));
        h.close("tr");
    }
    h.close("tbody").close("table").close("div");
    if !s.stats.errors.is_empty() {
        h.elem("h3", "First records that could not be read");
        h.open("ul");
        for e in s.stats.errors.iter().take(50) {
            h.elem_with("li", &[("class", "mono")], &e.to_string());
        }
        h.close("ul");
    }
    if !s.stats.unreadable.is_empty() {
        h.elem("h3", "Inputs that could not be opened");
        h.open("ul");
        for (p, why) in &s.stats.unreadable {
            h.elem_with("li", &[("class", "mono")], &format!("{p}: {why}"));
        }
        h.close("ul");
    }
    if !s.rule_errors.is_empty() {
        h.elem("h3", "Rules that could not be loaded");
        h.open("ul");
        for e in &s.rule_errors {
            h.elem_with("li", &[("class", "mono")], e);
        }
        h.close("ul");
    }
    h.close("section").close("main");
    h.elem(
        "footer",
        "stormwatch hunt report · self-contained: no external resources are loaded",
    );
    h.raw("</body></html>\n");
    Ok(h.finish())
}
