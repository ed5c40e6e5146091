//! The hunt report as a self-contained HTML page: incidents first (named), a timeline, the
//! rules that fired, and a detections table that sorts and filters with a small static script.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use stormwatch_core::{Detection, Incident, Level};

use crate::Cx;
use crate::error::ReportError;
use crate::files::ShortNames;
use crate::html::Html;
use crate::spool::{DetectionCounts, RuleCounts};
use crate::style::CSS;
use crate::text::{bytes, thousands, ts_cell, ts_human};
use crate::timeline::{self, Histogram};

/// Detection rows shown (the JSONL and CSV outputs have all of them).
const MAX_ROWS: usize = 20_000;
/// Names shown per incident field before "and N more".
const MAX_NAMES: usize = 40;

/// The page's own styles, after the shared ones.
const HUNT_CSS: &str = r#"
header{padding:14px 24px 10px}
header h1{font-size:21px}
.levels{margin-top:6px}
.levels .badge{margin-right:6px}
main{padding:4px 24px 40px;overflow-wrap:break-word}
section{padding:14px 18px;margin:12px 0}
.incident{border:1px solid var(--line);border-left:6px solid var(--lvl);border-radius:8px;padding:10px 14px;margin:10px 0;background:#fbfcfd}
.incident h3{margin:0 0 4px;font-size:16px;display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline}
.incident .when{font-size:13px;color:var(--muted);font-weight:400}
.incident dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 12px;margin:6px 0 0;font-size:13px}
.incident dt{color:var(--muted);white-space:nowrap}
.incident dd{margin:0;min-width:0}
.chip{display:inline-block;background:#eef1f5;border-radius:4px;padding:0 6px;margin:1px 4px 1px 0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:anywhere}
.reasons{margin:6px 0 0;padding-left:18px;font-size:13px}
.reasons li{margin:2px 0}
.lvl-critical{--lvl:#7a0916}.lvl-high{--lvl:#b42318}.lvl-medium{--lvl:#e49b2f}.lvl-low{--lvl:#3c7dc4}.lvl-informational{--lvl:#b8bec7}
.filters{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:end;margin:6px 0 8px;font-size:13px}
.filters label{display:flex;flex-direction:column;gap:2px;color:var(--muted)}
.filters input,.filters select{font:inherit;padding:3px 6px;border:1px solid var(--line);border-radius:4px;min-width:9em}
#dets th[data-key]{cursor:pointer;user-select:none;white-space:nowrap}
#dets th[aria-sort=ascending]::after{content:" ▲"}#dets th[aria-sort=descending]::after{content:" ▼"}
#dets td.who{min-width:15em;overflow-wrap:anywhere}
#dets td.rule{min-width:14em}
#dets td.why{min-width:18em}
#dets td.where{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;white-space:nowrap}
.warnings{border:2px solid #e49b2f;background:var(--warnbg)}
@media (max-width:700px){header{padding:10px 12px 8px}header h1{font-size:18px}main{padding:2px 8px 30px}section{padding:10px}nav{padding:6px 12px}.incident dl{grid-template-columns:1fr}.incident dt{margin-top:4px}}
"#;

/// Sorting and filtering of the detections table. Static text: it reads the rows' data
/// attributes and moves rows; it never turns a value into markup.
const SCRIPT: &str = r#"
(function () {
  var table = document.getElementById('dets');
  if (!table) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var count = document.getElementById('f-count');
  var level = document.getElementById('f-level');
  var inputs = {};
  ['rule', 'who', 'ip', 'inc'].forEach(function (k) { inputs[k] = document.getElementById('f-' + k); });
  function has(row, k) {
    var v = inputs[k] ? inputs[k].value.trim().toLowerCase() : '';
    return !v || (row.getAttribute('data-' + k) || '').toLowerCase().indexOf(v) >= 0;
  }
  function apply() {
    var min = +level.value, shown = 0;
    rows.forEach(function (r) {
      var ok = +r.getAttribute('data-level') >= min && has(r, 'rule') && has(r, 'who') && has(r, 'ip') && has(r, 'inc');
      r.hidden = !ok;
      if (ok) { shown++; }
    });
    count.textContent = shown + ' of ' + rows.length + ' rows shown';
  }
  level.addEventListener('change', apply);
  Object.keys(inputs).forEach(function (k) { if (inputs[k]) { inputs[k].addEventListener('input', apply); } });
  var numeric = { level: true, n: true, seq: true };
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    var key = th.getAttribute('data-key');
    if (!key) { return; }
    th.tabIndex = 0;
    function sort() {
      var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (o) { o.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      rows.sort(function (a, b) {
        var x = a.getAttribute('data-' + key) || '', y = b.getAttribute('data-' + key) || '';
        if (numeric[key]) { x = +x; y = +y; }
        var c = x < y ? -1 : x > y ? 1 : 0;
        return c * dir || (+a.getAttribute('data-seq') - +b.getAttribute('data-seq'));
      });
      rows.forEach(function (r) { body.appendChild(r); });
    }
    th.addEventListener('click', sort);
    th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); } });
  });
  Array.prototype.forEach.call(document.querySelectorAll('a[data-show-incident]'), function (a) {
    a.addEventListener('click', function () {
      inputs.inc.value = a.getAttribute('data-show-incident');
      level.value = '0';
      apply();
    });
  });
  apply();
})();
"#;

/// A detection kept for the page, with its place in the stream.
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

/// What the page shows of the stream: counts over all of it, and the rows it lists.
struct Selection<D> {
    counts: DetectionCounts,
    rules: RuleCounts,
    hist: Histogram,
    /// Most severe first, then in stream order; each with its place in the stream.
    rows: Vec<(u64, D)>,
}

/// Go through the whole stream: count every detection, keep at most `max` of them (the most
/// severe, the earliest first within a level).
fn select<D, E>(
    sorted: impl Iterator<Item = Result<D, E>>,
    max: usize,
) -> Result<Selection<D>, ReportError>
where
    D: Borrow<Detection>,
    ReportError: From<E>,
{
    let mut counts = DetectionCounts::default();
    let mut rules = RuleCounts::default();
    let mut hist = Histogram::default();
    let mut kept: BinaryHeap<Kept<D>> = BinaryHeap::new();
    for (seq, d) in (0u64..).zip(sorted) {
        let d = d?;
        let det = d.borrow();
        let level = det.level;
        counts.add(level);
        rules.add(det);
        hist.add(det.timestamp, level);
        if kept.len() < max {
            kept.push(Kept { level, seq, d });
        } else if let Some(mut worst) = kept.peek_mut()
            && level > worst.level
        {
            *worst = Kept { level, seq, d };
        }
    }
    let mut kept = kept.into_vec();
    kept.sort_unstable_by_key(Kept::key);
    Ok(Selection {
        counts,
        rules,
        hist,
        rows: kept.into_iter().map(|k| (k.seq, k.d)).collect(),
    })
}

fn level_class(level: Level) -> &'static str {
    match level {
        Level::Critical => "badge b-critical",
        Level::High => "badge b-high",
        Level::Medium => "badge b-medium",
        Level::Low => "badge b-low",
        Level::Informational => "badge b-informational",
    }
}

fn level_badge(h: &mut Html, level: Level) {
    h.elem_with("span", &[("class", level_class(level))], level.as_str());
}

fn chips(h: &mut Html, names: &[String]) {
    for n in names.iter().take(MAX_NAMES) {
        h.elem_with("span", &[("class", "chip")], n);
    }
    if names.len() > MAX_NAMES {
        h.elem_with(
            "span",
            &[("class", "muted")],
            &format!(
                "and {} more (JSONL and --incidents-csv list them all)",
                names.len() - MAX_NAMES
            ),
        );
    }
}

fn incident_card(h: &mut Html, inc: &Incident) {
    let class = match inc.level {
        Level::Critical => "incident lvl-critical",
        Level::High => "incident lvl-high",
        Level::Medium => "incident lvl-medium",
        Level::Low => "incident lvl-low",
        Level::Informational => "incident lvl-informational",
    };
    h.open_with("article", &[("class", class), ("id", &inc.id)]);
    h.open("h3");
    h.elem("span", &inc.id);
    level_badge(h, inc.level);
    h.elem_with(
        "span",
        &[("class", "when")],
        &format!(
            "{} → {} · score {} · {} detections by the built-in analytics over {} records",
            ts_human(Some(inc.first)),
            ts_human(Some(inc.last)),
            inc.score,
            thousands(inc.detections.len() as u64),
            thousands(inc.records)
        ),
    );
    h.close("h3");
    h.open("dl");
    let domains = inc.domains();
    for (label, names) in [
        ("Organisations", &domains),
        ("Mailboxes", &inc.mailboxes),
        ("Users", &inc.users),
        ("IPs", &inc.ips),
        ("Sessions", &inc.sessions),
        ("Apps", &inc.apps),
        ("Tenant ids", &inc.tenants),
    ] {
        if names.is_empty() {
            continue;
        }
        h.elem("dt", &format!("{label} ({})", names.len()));
        h.open_with("dd", &[("class", "names")]);
        chips(h, names);
        h.close("dd");
    }
    h.close("dl");
    if !inc.reasons.is_empty() {
        h.open_with("ul", &[("class", "reasons")]);
        for r in &inc.reasons {
            h.open("li");
            level_badge(h, r.level);
            h.text(" ").elem("strong", &r.rule_title);
            if !r.explanation.is_empty() {
                h.text(": ").text(&r.explanation);
            }
            h.close("li");
        }
        h.close("ul");
    }
    h.open_with("p", &[("class", "small muted")]);
    let rules: Vec<String> = inc
        .rules
        .iter()
        .map(|r| format!("{} ({} {})", r.rule_id, r.detections, r.level))
        .collect();
    h.text(&format!("Rules: {}. ", rules.join(", ")));
    h.elem_with(
        "a",
        &[("href", "#detections"), ("data-show-incident", &inc.id)],
        "Show its detections",
    );
    h.close("p");
    h.close("article");
}

/// The rules that fired, most severe first, with counts per level.
fn rules_table(h: &mut Html, rules: &RuleCounts, listed: &RuleCounts) {
    h.open_with("div", &[("class", "tw")])
        .open("table")
        .header_row(&[
            "Highest level",
            "Rule",
            "Detections",
            "critical",
            "high",
            "medium",
            "low",
            "info",
            "Listed below",
        ])
        .open("tbody");
    let ranked = rules.ranked();
    let listed_of = |id: &str| {
        listed
            .ranked()
            .into_iter()
            .find(|(r, _)| *r == id)
            .map_or(0, |(_, t)| t.total())
    };
    for (id, t) in ranked {
        h.open("tr").open("td");
        level_badge(h, t.highest);
        h.close("td");
        h.open_with("td", &[("class", "rule")])
            .text(&t.title)
            .raw("<br>")
            .elem_with("span", &[("class", "muted mono")], id)
            .close("td");
        h.elem_with("td", &[("class", "num")], &thousands(t.total()));
        for l in Level::ALL.iter().rev() {
            let n = t.per_level.get(*l as usize).copied().unwrap_or(0);
            h.elem_with(
                "td",
                &[("class", "num")],
                &if n == 0 { String::new() } else { thousands(n) },
            );
        }
        h.elem_with("td", &[("class", "num")], &thousands(listed_of(id)));
        h.close("tr");
    }
    h.close("tbody").close("table").close("div");
}

/// The page, from detections in any order (rows are listed most severe first).
pub(crate) fn render<D, E>(
    sorted: impl Iterator<Item = Result<D, E>>,
    cx: &Cx<'_>,
) -> Result<String, ReportError>
where
    D: Borrow<Detection>,
    ReportError: From<E>,
{
    let s = cx.summary;
    let min = cx.opts.min_level;
    let Selection {
        counts,
        rules,
        hist,
        rows,
    } = select(sorted, MAX_ROWS)?;
    let all_counts = cx.opts.counts.unwrap_or(counts);
    let total = counts.total();
    let names = ShortNames::new(s.stats.files.iter().map(|f| f.file.as_str()));
    let mut h = Html::new();
    h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.void(
        "meta",
        &[
            ("name", "viewport"),
            ("content", "width=device-width, initial-scale=1"),
        ],
    );
    // Nothing is loaded from anywhere: no fetch, image, font or frame.
    h.void(
        "meta",
        &[
            ("http-equiv", "Content-Security-Policy"),
            (
                "content",
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:",
            ),
        ],
    );
    h.elem("title", "Hunt report");
    h.raw("<style>")
        .raw(CSS)
        .raw(HUNT_CSS)
        .raw("</style></head><body>");

    // Header: what was read, and the counts by level.
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
    h.elem("p", &sub);
    h.open_with("p", &[("class", "levels")]);
    h.text(&format!(
        "{} detections{} ",
        thousands(all_counts.total()),
        if all_counts.total() > 0 { ":" } else { "" }
    ));
    for (l, n) in all_counts.by_level() {
        h.open_with("span", &[("class", level_class(l))])
            .text(&format!("{} {}", thousands(n), l.as_str()))
            .close("span");
    }
    h.text(&format!(
        " · {} incident{}",
        cx.incidents.len(),
        if cx.incidents.len() == 1 { "" } else { "s" }
    ));
    h.close("p").close("header");
    h.open("nav");
    for (href, label) in [
        ("#incidents", "Incidents"),
        ("#timeline", "Timeline"),
        ("#rules", "Rules"),
        ("#detections", "Detections"),
        ("#inputs", "Inputs"),
    ] {
        h.elem_with("a", &[("href", href)], label);
    }
    h.close("nav").open("main");

    if !s.warnings.is_empty() {
        h.open_with("section", &[("class", "warnings")])
            .elem("h2", "Warnings");
        h.open("ul");
        for wn in &s.warnings {
            h.elem("li", wn);
        }
        h.close("ul").close("section");
    }

    // Incidents first.
    h.open_with("section", &[("id", "incidents")])
        .elem("h2", "Incidents");
    if cx.incidents.is_empty() {
        h.elem(
            "p",
            if s.builtin {
                "No incident: no detections were tied together by one actor context (shared sessions, token ids, actor IPs or apps)."
            } else {
                "No incident: incidents are grouped by the built-in analytics, which did not run (--no-builtin)."
            },
        );
    } else {
        for inc in cx.incidents {
            incident_card(&mut h, inc);
        }
    }
    h.close("section");

    h.open_with("section", &[("id", "timeline")])
        .elem("h2", "Timeline");
    timeline::draw(&mut h, &hist, cx.incidents);
    if !s.notes.is_empty() {
        h.open("ul");
        for n in &s.notes {
            h.elem_with("li", &[("class", "small muted")], n);
        }
        h.close("ul");
    }
    h.close("section");

    let left_out: u64 = all_counts
        .by_level()
        .iter()
        .filter(|(l, _)| *l < min)
        .map(|(_, n)| n)
        .sum();
    h.open_with("section", &[("id", "rules")])
        .elem("h2", "Rules that fired");
    if rules.is_empty() {
        h.elem("p", "No rule fired.");
    } else {
        let mut listed = RuleCounts::default();
        for (_, d) in &rows {
            listed.add(d.borrow());
        }
        rules_table(&mut h, &rules, &listed);
    }
    if left_out > 0 {
        h.elem_with(
            "p",
            &[("class", "muted")],
            &format!(
                "{} detections below {min} are left out of this report (--min-level {min}).",
                thousands(left_out)
            ),
        );
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
                    "This page lists {} of the {} detections: the most severe. {} more are \
                     left out; the JSONL and CSV outputs carry them all.",
                    thousands(shown),
                    thousands(total),
                    thousands(total - shown)
                ),
            );
        }
        filters(&mut h, cx.incidents);
        h.open_with("div", &[("class", "tw")])
            .open_with("table", &[("id", "dets")])
            .open("thead")
            .open("tr");
        for (key, label) in [
            ("t", "Time (UTC)"),
            ("level", "Level"),
            ("rule", "Rule"),
            ("who", "Mailbox ← user"),
            ("ip", "IP"),
            ("inc", "Incident"),
            ("n", "Records"),
            ("", "Why"),
        ] {
            if key.is_empty() {
                h.elem("th", label);
            } else {
                h.elem_with("th", &[("data-key", key), ("scope", "col")], label);
            }
        }
        h.close("tr").close("thead").open("tbody");
        for (seq, d) in &rows {
            detection_row(&mut h, *seq, d.borrow(), cx, &names);
        }
        h.close("tbody").close("table").close("div");
    }
    h.close("section");

    inputs(&mut h, cx);
    h.close("main");
    h.elem(
        "footer",
        "stormwatch hunt report · self-contained: nothing is loaded from elsewhere",
    );
    h.raw("<script>").raw(SCRIPT).raw("</script>");
    h.raw("</body></html>\n");
    Ok(h.finish())
}

fn filters(h: &mut Html, incidents: &[&Incident]) {
    h.open_with("div", &[("class", "filters")]);
    h.open("label").text("Level at least");
    h.open_with("select", &[("id", "f-level")]);
    for l in Level::ALL {
        let v = (l as u8).to_string();
        h.elem_with("option", &[("value", &v)], l.as_str());
    }
    h.close("select").close("label");
    for (id, label, hint) in [
        ("f-rule", "Rule", "title or id"),
        ("f-who", "Mailbox or user", "name@domain"),
        ("f-ip", "IP", "address"),
        ("f-inc", "Incident", "INC-…"),
    ] {
        h.open("label").text(label);
        let mut attrs = vec![("id", id), ("type", "search"), ("placeholder", hint)];
        if id == "f-inc" && !incidents.is_empty() {
            attrs.push(("list", "incident-ids"));
        }
        h.void("input", &attrs);
        h.close("label");
    }
    if !incidents.is_empty() {
        h.open_with("datalist", &[("id", "incident-ids")]);
        for i in incidents {
            h.void("option", &[("value", &i.id)]);
        }
        h.close("datalist");
    }
    h.elem_with("span", &[("id", "f-count"), ("class", "muted")], "");
    h.close("div");
}

fn detection_row(h: &mut Html, seq: u64, d: &Detection, cx: &Cx<'_>, names: &ShortNames) {
    let who_key = [d.mailbox.as_deref(), d.user.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let inc = cx.index.find(d).unwrap_or("");
    let level = (d.level as u8).to_string();
    let t = d.timestamp.to_string();
    let n = d.events.len().to_string();
    let seq_s = seq.to_string();
    let rule_key = format!("{} {}", d.rule_title, d.rule_id);
    h.open_with(
        "tr",
        &[
            ("data-seq", &seq_s),
            ("data-t", &t),
            ("data-level", &level),
            ("data-rule", &rule_key),
            ("data-who", &who_key),
            ("data-ip", d.ip.as_deref().unwrap_or("")),
            ("data-inc", inc),
            ("data-n", &n),
        ],
    );
    h.elem_with("td", &[("class", "t")], &ts_cell(Some(d.timestamp)));
    h.open("td");
    level_badge(h, d.level);
    h.close("td");
    h.open_with("td", &[("class", "rule")])
        .text(&d.rule_title)
        .raw("<br>")
        .elem_with("span", &[("class", "muted mono small")], &d.rule_id)
        .close("td");
    h.open_with("td", &[("class", "who")]);
    match (&d.mailbox, &d.user) {
        (Some(m), Some(u)) if !u.eq_ignore_ascii_case(m) => {
            h.elem("strong", m).raw("<br>").elem_with(
                "span",
                &[("class", "muted small")],
                &format!("by {u}"),
            );
        }
        (Some(m), _) => {
            h.elem("strong", m);
        }
        (None, Some(u)) => {
            h.elem("strong", u);
        }
        (None, None) => {}
    }
    if let Some(tn) = &d.tenant {
        h.raw("<br>")
            .elem_with("span", &[("class", "muted small")], &format!("tenant {tn}"));
    }
    h.close("td");
    h.open_with("td", &[("class", "id")])
        .text(d.ip.as_deref().unwrap_or(""));
    if let Some(sess) = &d.session_id {
        h.raw("<br>").elem_with(
            "span",
            &[("class", "muted small")],
            &format!("session {sess}"),
        );
    }
    if let Some(app) = &d.app_id {
        h.raw("<br>")
            .elem_with("span", &[("class", "muted small")], &format!("app {app}"));
    }
    h.close("td");
    h.open("td");
    if !inc.is_empty() {
        let href = format!("#{inc}");
        h.elem_with("a", &[("href", &href)], inc);
    }
    h.close("td");
    h.open_with("td", &[("class", "where")])
        .text(&names.location(d))
        .close("td");
    h.open_with("td", &[("class", "why")]).text(&d.explanation);
    if !d.tags.is_empty() {
        h.raw("<br>")
            .elem_with("span", &[("class", "muted small")], &d.tags.join(", "));
    }
    h.close("td").close("tr");
}

fn inputs(h: &mut Html, cx: &Cx<'_>) {
    let s = cx.summary;
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
    h.close("section");
}
