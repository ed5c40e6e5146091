//! Text helpers shared by the renderers: terminal-safe values, truncation, numbers, CSV cells.

use stormwatch_core::Timestamp;

/// Replace control characters (ANSI escapes from a log must not reach a terminal).
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// Cut to `width` characters with `…` when longer; control characters replaced.
pub(crate) fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return clean(s);
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    clean(&out)
}

/// Pad (or cut) to exactly `width` characters.
pub(crate) fn pad(s: &str, width: usize) -> String {
    let t = fit(s, width);
    let n = t.chars().count();
    let mut out = t;
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(n)));
    out
}

/// A spreadsheet-safe CSV cell: a value starting with `=`, `+`, `-`, `@`, tab or carriage
/// return gets a leading apostrophe so that no spreadsheet evaluates it as a formula.
pub(crate) fn cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

/// An optional timestamp in RFC 3339, or empty.
pub(crate) fn ts(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_default()
}

/// A timestamp for people: `2023-06-12 03:14:07 UTC`.
pub(crate) fn ts_human(t: Option<Timestamp>) -> String {
    match t {
        None => "—".to_owned(),
        Some(t) => {
            let s = t.to_string();
            let s = s
                .split('.')
                .next()
                .unwrap_or(&s)
                .trim_end_matches('Z')
                .replace('T', " ");
            format!("{s} UTC")
        }
    }
}

/// A timestamp for a table cell (the column header says UTC): `2023-06-12 03:14:07`, or empty.
pub(crate) fn ts_cell(t: Option<Timestamp>) -> String {
    match t {
        None => String::new(),
        Some(_) => ts_human(t).trim_end_matches(" UTC").to_owned(),
    }
}

/// `12,345`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1.2 MB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(u).copied().unwrap_or("B"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("a\u{1b}[31m", 10), "a\u{fffd}[31m");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("-1+2"), "'-1+2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("plain"), "plain");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        let t = Timestamp::parse("2023-06-12T03:14:07.5Z").ok();
        assert_eq!(ts_human(t), "2023-06-12 03:14:07 UTC");
    }
}
