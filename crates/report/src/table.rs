//! The terminal table: incidents first, named, then the rules that fired, then the detections
//! most severe first, in columns fitted to the terminal's width.

use std::borrow::Borrow;
use std::io::Write;

use stormwatch_core::{Detection, Incident, Level};

use crate::Cx;
use crate::error::ReportError;
use crate::files::ShortNames;
use crate::spool::DetectionCounts;
use crate::text::{clean, fit, pad, thousands, ts_cell};

/// Width when none is given (output not to a terminal).
pub(crate) const DEFAULT_WIDTH: usize = 160;
/// Narrowest layout: below this the columns overflow rather than shrink further.
const MIN_WIDTH: usize = 80;
/// Names listed per incident field before "and N more" (all of them with `--wide`).
const MAX_NAMES: usize = 8;
/// Rules listed in the rules block.
const MAX_RULES: usize = 12;
const W_TIME: usize = 19;
const W_IP: usize = 15;
const W_INCIDENT: usize = 8;

fn colour(level: Level) -> &'static str {
    match level {
        Level::Critical => "\x1b[1;31m",
        Level::High => "\x1b[31m",
        Level::Medium => "\x1b[33m",
        Level::Low => "\x1b[36m",
        Level::Informational => "\x1b[2m",
    }
}

/// A level as a row prints it: `info` for informational (the section heading names it in
/// full).
fn short_level(level: Level) -> &'static str {
    match level {
        Level::Informational => "info",
        l => l.as_str(),
    }
}

/// The mailbox cell: the mailbox (or the user when there is none) in full, then `← user` when
/// someone else acted on it, cut to what is left of `width`. Never cuts the first name.
fn who_cell(d: &Detection, width: Option<usize>) -> String {
    let (main, by) = match (&d.mailbox, &d.user) {
        (Some(m), Some(u)) if !u.eq_ignore_ascii_case(m) => (m.as_str(), Some(u.as_str())),
        (Some(m), _) => (m.as_str(), None),
        (None, Some(u)) => (u.as_str(), None),
        (None, None) => ("", None),
    };
    let mut s = clean(main);
    if let Some(u) = by {
        let used = s.chars().count();
        match width {
            None => s.push_str(&format!(" ← {}", clean(u))),
            Some(w) if w >= used + 5 => s.push_str(&format!(" ← {}", fit(u, w - used - 3))),
            Some(_) => {}
        }
    }
    s
}

/// Column widths of the detections for a table `width` columns wide (`None`: nothing cut).
struct Layout {
    level: usize,
    rule: Option<usize>,
    who: Option<usize>,
    incident: bool,
    /// The location ends the row; else (a narrow terminal) it starts the line under it.
    where_inline: bool,
    /// Width of the explanation line (`None`: in full); no explanation when `Some(0)`.
    why: Option<usize>,
}

/// Narrowest the rule and mailbox columns get together before the location moves to the line
/// under each row.
const MIN_FLEXIBLE: usize = 50;

impl Layout {
    /// `names`: the longest mailbox or user name the incidents list (the ones a reader looks
    /// for), so that their column holds them whole when the width allows.
    fn new(
        width: Option<usize>,
        level: usize,
        incident: bool,
        where_width: usize,
        names: usize,
    ) -> Self {
        let Some(w) = width else {
            return Layout {
                level,
                rule: None,
                who: None,
                incident,
                where_inline: true,
                why: None,
            };
        };
        let w = w.max(MIN_WIDTH);
        let fixed = W_TIME + 1 + level + 1 + W_IP + 1 + if incident { W_INCIDENT + 1 } else { 0 };
        let inline = w.saturating_sub(fixed + where_width + 1);
        let where_inline = inline >= MIN_FLEXIBLE;
        let flexible = if where_inline {
            inline
        } else {
            w.saturating_sub(fixed + 1)
        }
        .max(44);
        // Room for the longest name and the start of an acting user's, when there is some.
        let who = (names + 8)
            .max(flexible * 11 / 20)
            .clamp(22, 48)
            .min(flexible - 18);
        let rule = flexible.saturating_sub(who + 1).max(16);
        Layout {
            level,
            rule: Some(rule),
            who: Some(who),
            incident,
            where_inline,
            // An explanation line under each row when the terminal is wide enough to read it.
            why: Some(if w >= 100 { w - (W_TIME + 1) } else { 0 }),
        }
    }
}

fn cell(s: &str, w: Option<usize>) -> String {
    match w {
        Some(w) => pad(s, w),
        None => clean(s),
    }
}

/// Write the table from detections already most severe first (then in output order).
pub(crate) fn write_table<D, E>(
    w: &mut dyn Write,
    sorted: impl Iterator<Item = Result<D, E>>,
    cx: &Cx<'_>,
) -> Result<(), ReportError>
where
    D: Borrow<Detection>,
    ReportError: From<E>,
{
    let opts = cx.opts;
    let (bold, reset) = if opts.color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let width = if opts.wide {
        None
    } else {
        Some(opts.width.unwrap_or(DEFAULT_WIDTH).max(MIN_WIDTH))
    };
    let names = ShortNames::new(cx.summary.stats.files.iter().map(|f| f.file.as_str()));
    // Counts of the whole run, when the caller kept them (numbers are left out otherwise).
    let counts = opts.counts;
    let min = opts.min_level;

    if let Some(c) = &counts {
        write_overview(w, cx, width, c, bold, reset)?;
    }
    write_incidents(w, cx.incidents, width, opts.color, bold, reset)?;
    write_rules(w, cx, width, bold, reset)?;

    // Detections, most severe first.
    writeln!(w)?;
    let mut heading = "DETECTIONS (".to_owned();
    if let Some(c) = &counts {
        let shown: u64 = Level::ALL
            .iter()
            .filter(|l| **l >= min)
            .map(|l| c.at(*l))
            .sum();
        heading.push_str(&format!("{}, ", thousands(shown)));
    }
    heading.push_str("most severe first");
    if let Some(dir) = names.common_dir() {
        heading.push_str(&format!("; files under {}", clean(dir)));
    }
    heading.push(')');
    writeln!(w, "{bold}{heading}{reset}")?;
    if let Some(c) = &counts {
        write_left_out(w, c, min)?;
    }
    // `critical` is the longest level name the rows print (informational is `info`).
    let level_w = Level::Critical.as_str().len();
    let longest_name = cx
        .incidents
        .iter()
        .flat_map(|i| i.mailboxes.iter().chain(&i.users))
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0);
    let layout = Layout::new(
        width,
        level_w,
        !cx.index.is_empty(),
        names.longest() + 8,
        longest_name,
    );
    let mut current: Option<Level> = None;
    let mut any = false;
    for d in sorted {
        let d = d?;
        let d = d.borrow();
        if current != Some(d.level) {
            current = Some(d.level);
            let n = counts.map_or(String::new(), |c| {
                format!(" ({})", thousands(c.at(d.level)))
            });
            let (c, r) = if opts.color {
                (colour(d.level), reset)
            } else {
                ("", "")
            };
            writeln!(w)?;
            writeln!(
                w,
                "{c}── {}{n} ──{r}",
                d.level.as_str().to_ascii_uppercase(),
            )?;
            write_header(w, &layout, bold, reset)?;
        }
        any = true;
        write_row(w, d, &layout, cx, &names, opts.color)?;
    }
    if !any {
        writeln!(
            w,
            "No detection{}.",
            if min > Level::Informational {
                format!(" at or above {min}")
            } else {
                String::new()
            }
        )?;
    }
    Ok(())
}

fn write_overview(
    w: &mut dyn Write,
    cx: &Cx<'_>,
    width: Option<usize>,
    counts: &DetectionCounts,
    bold: &str,
    reset: &str,
) -> Result<(), ReportError> {
    let s = &cx.summary.stats;
    let levels: Vec<String> = counts
        .by_level()
        .iter()
        .map(|(l, n)| format!("{l} {}", thousands(*n)))
        .collect();
    let total = counts.total();
    let read = format!(
        "{} records from {} file{}",
        thousands(s.records()),
        thousands(s.files.len() as u64),
        if s.files.len() == 1 { "" } else { "s" },
    );
    let found = format!(
        "{} detection{}{} · {} incident{}",
        thousands(total),
        if total == 1 { "" } else { "s" },
        if levels.is_empty() {
            String::new()
        } else {
            format!(" ({})", levels.join(", "))
        },
        cx.incidents.len(),
        if cx.incidents.len() == 1 { "" } else { "s" },
    );
    let one_line = "stormwatch hunt: ".len() + read.chars().count() + 3 + found.chars().count();
    if width.is_none_or(|wd| one_line <= wd) {
        writeln!(w, "{bold}stormwatch hunt{reset}: {read} · {found}")?;
    } else {
        writeln!(w, "{bold}stormwatch hunt{reset}: {read}")?;
        writeln!(w, "{found}")?;
    }
    Ok(())
}

/// Say how many detections `--min-level` left out, and how to see them.
fn write_left_out(
    w: &mut dyn Write,
    counts: &DetectionCounts,
    min: Level,
) -> Result<(), ReportError> {
    let below: Vec<(Level, u64)> = counts
        .by_level()
        .into_iter()
        .filter(|(l, _)| *l < min)
        .collect();
    let n: u64 = below.iter().map(|(_, n)| n).sum();
    if n > 0 {
        let parts: Vec<String> = below
            .iter()
            .map(|(l, n)| format!("{l} {}", thousands(*n)))
            .collect();
        writeln!(
            w,
            "{} detection{} below {min} left out ({}): --min-level {} shows them",
            thousands(n),
            if n == 1 { "" } else { "s" },
            parts.join(", "),
            below.last().map_or(Level::Informational, |(l, _)| *l),
        )?;
    }
    Ok(())
}

/// Names of one kind, each whole, wrapped under `label` within `width`.
fn write_names(
    w: &mut dyn Write,
    label: &str,
    names: &[String],
    width: Option<usize>,
) -> Result<(), ReportError> {
    if names.is_empty() {
        return Ok(());
    }
    const INDENT: usize = 20;
    let head = format!("  {label} ({}) ", names.len());
    let max = if width.is_some() {
        MAX_NAMES
    } else {
        usize::MAX
    };
    let mut items: Vec<String> = names.iter().take(max).map(|n| clean(n)).collect();
    if names.len() > max {
        items.push(format!("and {} more", names.len() - max));
    }
    let mut line = format!("{head:<INDENT$}");
    let mut first = true;
    for (i, item) in items.iter().enumerate() {
        let sep = if i + 1 < items.len() { "," } else { "" };
        let piece = format!("{item}{sep}");
        let len = line.chars().count();
        if !first
            && let Some(wd) = width
            && len + 1 + piece.chars().count() > wd
        {
            writeln!(w, "{}", line.trim_end())?;
            line = " ".repeat(INDENT);
            first = true;
        }
        if !first {
            line.push(' ');
        }
        line.push_str(&piece);
        first = false;
    }
    writeln!(w, "{}", line.trim_end())?;
    Ok(())
}

fn write_incidents(
    w: &mut dyn Write,
    incidents: &[&Incident],
    width: Option<usize>,
    color: bool,
    bold: &str,
    reset: &str,
) -> Result<(), ReportError> {
    writeln!(w)?;
    if incidents.is_empty() {
        writeln!(
            w,
            "{bold}INCIDENTS{reset}: none (detections tied together by one actor context: shared sessions, token ids, actor IPs or apps)"
        )?;
        return Ok(());
    }
    writeln!(
        w,
        "{bold}INCIDENTS ({}, most severe first){reset}",
        incidents.len()
    )?;
    for inc in incidents {
        let (c, r) = if color {
            (colour(inc.level), reset)
        } else {
            ("", "")
        };
        writeln!(w)?;
        writeln!(
            w,
            "{bold}{}{reset}  {c}{}{r}  score {}  {} → {} UTC  {}",
            clean(&inc.id),
            inc.level.as_str().to_ascii_uppercase(),
            inc.score,
            ts_cell(Some(inc.first)),
            ts_cell(Some(inc.last)),
            span(inc),
        )?;
        let mut orgs = inc.domains();
        if orgs.is_empty() {
            orgs = inc.tenants.clone();
            write_names(w, "tenants", &orgs, width)?;
        } else {
            write_names(w, "organisations", &orgs, width)?;
            write_names(w, "tenant ids", &inc.tenants, width)?;
        }
        write_names(w, "mailboxes", &inc.mailboxes, width)?;
        write_names(w, "users", &inc.users, width)?;
        write_names(w, "IPs", &inc.ips, width)?;
        write_names(w, "sessions", &inc.sessions, width)?;
        write_names(w, "apps", &inc.apps, width)?;
        for (i, reason) in inc.reasons.iter().enumerate() {
            let label = if i == 0 { "  why" } else { "" };
            let text = format!(
                "{:<8} {}: {}",
                reason.level.as_str(),
                reason.rule_title,
                reason.explanation
            );
            let text = match width {
                Some(wd) => fit(&text, wd.saturating_sub(20).max(20)),
                None => clean(&text),
            };
            writeln!(w, "{label:<20}{text}")?;
        }
        let rules: Vec<String> = inc
            .rules
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r.rule_id.trim_start_matches("builtin/"),
                    r.detections
                )
            })
            .collect();
        let line = format!(
            "{} by the built-in analytics over {} records: {}",
            thousands(inc.detections.len() as u64),
            thousands(inc.records),
            rules.join(", ")
        );
        let line = match width {
            Some(wd) => fit(&line, wd.saturating_sub(20).max(20)),
            None => clean(&line),
        };
        writeln!(w, "{:<20}{line}", "  detections")?;
    }
    Ok(())
}

/// How long an incident lasted, for people: `4 d 20 h`, `35 min`.
fn span(inc: &Incident) -> String {
    let secs = (inc.last.nanos().saturating_sub(inc.first.nanos())) / 1_000_000_000;
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("({d} d {h} h)")
    } else if h > 0 {
        format!("({h} h {m} min)")
    } else {
        format!("({m} min)")
    }
}

fn write_rules(
    w: &mut dyn Write,
    cx: &Cx<'_>,
    width: Option<usize>,
    bold: &str,
    reset: &str,
) -> Result<(), ReportError> {
    let Some(rules) = &cx.opts.rules else {
        return Ok(());
    };
    let min = cx.opts.min_level;
    let ranked: Vec<_> = rules
        .ranked()
        .into_iter()
        .filter(|(_, t)| t.at_or_above(min) > 0)
        .collect();
    if ranked.is_empty() {
        return Ok(());
    }
    writeln!(w)?;
    writeln!(
        w,
        "{bold}RULES THAT FIRED ({}, most severe first){reset}",
        ranked.len()
    )?;
    writeln!(w, "  {:<13} {:>8}  RULE", "HIGHEST LEVEL", "COUNT")?;
    let max = if width.is_some() {
        MAX_RULES
    } else {
        usize::MAX
    };
    for (id, t) in ranked.iter().take(max) {
        let text = format!("{}  {}", t.title, id);
        let text = match width {
            Some(wd) => fit(&text, wd.saturating_sub(26).max(20)),
            None => clean(&text),
        };
        writeln!(
            w,
            "  {:<13} {:>8}  {text}",
            t.highest.as_str(),
            thousands(t.at_or_above(min)),
        )?;
    }
    if ranked.len() > max {
        writeln!(w, "  … and {} more rules", ranked.len() - max)?;
    }
    Ok(())
}

fn write_header(w: &mut dyn Write, l: &Layout, bold: &str, reset: &str) -> Result<(), ReportError> {
    let mut h = format!(
        "{} {} {} {} {} ",
        pad("TIME (UTC)", W_TIME),
        pad("LEVEL", l.level),
        cell("RULE", l.rule.or(Some(4))),
        cell("MAILBOX ← USER", l.who.or(Some(14))),
        pad("IP", W_IP),
    );
    if l.incident {
        h.push_str(&pad("INCIDENT", W_INCIDENT));
        h.push(' ');
    }
    if l.where_inline {
        h.push_str("WHERE");
    }
    writeln!(w, "{bold}{}{reset}", h.trim_end())?;
    Ok(())
}

fn write_row(
    w: &mut dyn Write,
    d: &Detection,
    l: &Layout,
    cx: &Cx<'_>,
    names: &ShortNames,
    color: bool,
) -> Result<(), ReportError> {
    let level = pad(short_level(d.level), l.level);
    let level = if color {
        format!("{}{level}\x1b[0m", colour(d.level))
    } else {
        level
    };
    let who = who_cell(d, l.who);
    let who = match l.who {
        Some(wd) if who.chars().count() < wd => pad(&who, wd),
        _ => who,
    };
    let ip = d.ip.as_deref().unwrap_or("");
    let ip = if ip.chars().count() <= W_IP {
        pad(ip, W_IP)
    } else {
        clean(ip)
    };
    let mut row = format!(
        "{} {} {} {} {} ",
        pad(&ts_cell(Some(d.timestamp)), W_TIME),
        level,
        cell(&d.rule_title, l.rule),
        who,
        ip,
    );
    if l.incident {
        row.push_str(&pad(cx.index.find(d).unwrap_or("-"), W_INCIDENT));
        row.push(' ');
    }
    let location = names.location(d);
    if l.where_inline {
        row.push_str(&location);
    }
    writeln!(w, "{}", row.trim_end())?;
    // The line under the row: where (when the row has no room for it) and why.
    let mut under = String::new();
    if !l.where_inline {
        under.push_str(&location);
    }
    if !d.explanation.is_empty() && l.why != Some(0) {
        if !under.is_empty() {
            under.push_str(" · ");
        }
        under.push_str("why: ");
        match l.why {
            Some(wd) => {
                let room = wd.saturating_sub(under.chars().count()).max(10);
                under.push_str(&fit(&d.explanation, room));
            }
            None => under.push_str(&clean(&d.explanation)),
        }
    }
    if !under.is_empty() {
        writeln!(w, "{:W_TIME$} {under}", "")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormwatch_core::{DetectionSource, Timestamp};

    #[test]
    fn the_mailbox_is_never_cut_the_acting_user_is() {
        let mut d = Detection::new(
            "r",
            "R",
            Level::Low,
            DetectionSource::Sigma,
            Timestamp::from_nanos(0),
        );
        d.mailbox = Some("liam.rossi@agency.example".into());
        d.user = Some("svc-archive@agency.example".into());
        assert_eq!(
            who_cell(&d, Some(60)),
            "liam.rossi@agency.example ← svc-archive@agency.example"
        );
        assert_eq!(who_cell(&d, Some(34)), "liam.rossi@agency.example ← svc-a…");
        assert_eq!(who_cell(&d, Some(10)), "liam.rossi@agency.example");
        assert_eq!(
            who_cell(&d, None),
            "liam.rossi@agency.example ← svc-archive@agency.example"
        );
        d.mailbox = None;
        assert_eq!(who_cell(&d, Some(5)), "svc-archive@agency.example");
    }
}
