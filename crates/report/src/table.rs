//! The terminal table of detections.

use std::borrow::Borrow;
use std::io::Write;

use stormwatch_core::{Detection, Level};

use crate::error::ReportError;
use crate::text::{fit, pad};

/// Column widths: time, level, rule, who, ip, where.
const W_TIME: usize = 20;
const W_LEVEL: usize = 13;
const W_RULE: usize = 44;
const W_WHO: usize = 30;
const W_IP: usize = 22;
const W_WHERE: usize = 36;

fn colour(level: Level) -> &'static str {
    match level {
        Level::Critical => "\x1b[1;31m",
        Level::High => "\x1b[31m",
        Level::Medium => "\x1b[33m",
        Level::Low => "\x1b[36m",
        Level::Informational => "\x1b[2m",
    }
}

/// Detections in a deterministic order: time, rule, first location, title, explanation.
pub(crate) fn ordered(detections: &[Detection]) -> Vec<&Detection> {
    let mut v: Vec<&Detection> = detections.iter().collect();
    v.sort_by(|a, b| a.cmp_output_order(b));
    v
}

/// Who: the mailbox when another user acted on it, else the user, else the mailbox.
pub(crate) fn who(d: &Detection) -> String {
    match (&d.user, &d.mailbox) {
        (Some(u), Some(m)) if !u.eq_ignore_ascii_case(m) => format!("{u} → {m}"),
        (Some(u), _) => u.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => String::new(),
    }
}

/// Where: the first record, and how many more.
pub(crate) fn where_(d: &Detection) -> String {
    match d.events.first() {
        None => String::new(),
        Some(l) if d.events.len() == 1 => l.to_string(),
        Some(l) => format!("{l} +{}", d.events.len() - 1),
    }
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The title, level and time of an incident given as JSON, with the other scalar fields.
pub(crate) fn incident_parts(
    v: &serde_json::Value,
) -> (String, String, String, Vec<(String, String)>) {
    let pick = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(scalar))
            .unwrap_or_default()
    };
    let title = pick(&["title", "name", "rule_title", "id"]);
    let level = pick(&["level", "severity"]);
    let time = pick(&["first", "start", "timestamp", "from"]);
    let mut rest = Vec::new();
    if let Some(obj) = v.as_object() {
        let skip = ["title", "name", "rule_title", "level", "severity"];
        for (k, val) in obj {
            if skip.contains(&k.as_str()) {
                continue;
            }
            match val {
                serde_json::Value::Array(a) => rest.push((k.clone(), format!("{} items", a.len()))),
                serde_json::Value::Object(_) | serde_json::Value::Null => {}
                other => {
                    if let Some(s) = scalar(other) {
                        rest.push((k.clone(), s));
                    }
                }
            }
        }
    }
    (title, level, time, rest)
}

/// Write the table of detections already in output order, then the incidents.
pub(crate) fn write_table<D, E>(
    w: &mut dyn Write,
    sorted: impl Iterator<Item = Result<D, E>>,
    incidents: &[serde_json::Value],
    color: bool,
) -> Result<(), ReportError>
where
    D: Borrow<Detection>,
    ReportError: From<E>,
{
    let (bold, reset) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    writeln!(
        w,
        "{bold}{} {} {} {} {} WHERE{reset}",
        pad("TIME (UTC)", W_TIME),
        pad("LEVEL", W_LEVEL),
        pad("RULE", W_RULE),
        pad("USER / MAILBOX", W_WHO),
        pad("IP", W_IP),
    )?;
    for d in sorted {
        let d = d?;
        let d = d.borrow();
        let time = d.timestamp.to_string();
        let time = time.split('.').next().unwrap_or(&time).to_owned();
        let level = pad(d.level.as_str(), W_LEVEL);
        let level = if color {
            format!("{}{level}{reset}", colour(d.level))
        } else {
            level
        };
        writeln!(
            w,
            "{} {} {} {} {} {}",
            pad(&time, W_TIME),
            level,
            pad(&d.rule_title, W_RULE),
            pad(&who(d), W_WHO),
            pad(d.ip.as_deref().unwrap_or(""), W_IP),
            fit(&where_(d), W_WHERE)
        )?;
    }
    if !incidents.is_empty() {
        writeln!(w)?;
        writeln!(w, "{bold}INCIDENTS{reset}")?;
        for inc in incidents {
            let (title, level, time, rest) = incident_parts(inc);
            let extra: Vec<String> = rest
                .iter()
                .take(6)
                .map(|(k, v)| format!("{k}={}", fit(v, 40)))
                .collect();
            writeln!(
                w,
                "{} {} {} {}",
                pad(&time, W_TIME),
                pad(&level, W_LEVEL),
                pad(&title, W_RULE),
                fit(&extra.join(" "), W_WHO + W_IP + W_WHERE)
            )?;
        }
    }
    Ok(())
}
