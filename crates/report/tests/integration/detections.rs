//! Hunt outputs: JSONL contract, CSV quoting and formula neutralisation, table, HTML.

use std::time::Duration;

use stormwatch_core::{FileStats, InputStats, Location, RecordError};
use stormwatch_report::{DetectionFormat, HuntSummary, write_detections, write_summary};

use crate::fixtures::{XSS, detections};

fn render(fmt: DetectionFormat, color: bool) -> String {
    let inc = vec![
        serde_json::json!({"title": format!("Incident {XSS}"), "level": "high", "first": "2023-06-12T03:14:07Z", "detections": [1, 2], "mailbox": XSS}),
    ];
    let mut out = Vec::new();
    write_detections(&mut out, fmt, &detections(XSS), &inc, &summary(), color).unwrap();
    String::from_utf8(out).unwrap()
}

fn summary() -> HuntSummary {
    HuntSummary {
        stats: InputStats {
            files: vec![FileStats {
                file: format!("ual{XSS}.json"),
                format: "ual_json".into(),
                bytes: 2_000_000,
                records: 1234,
                skipped: 2,
                ..FileStats::default()
            }],
            errors: vec![RecordError {
                loc: Location {
                    file: "ual.json".into(),
                    line: 7,
                    record_id: None,
                },
                field: Some("CreationTime".into()),
                reason: format!("invalid timestamp \u{1b}[31m{XSS}"),
            }],
            ..InputStats::default()
        },
        rules_loaded: 142,
        rule_errors: vec![format!("rules/bad.yml: key \"detection\": {XSS}")],
        notes: vec![format!("no sign-in logs {XSS}")],
        elapsed: Duration::from_millis(1500),
        ..HuntSummary::default()
    }
}

#[test]
fn jsonl_has_the_contract_shape_one_detection_per_line_in_time_order() {
    let out = render(DetectionFormat::Jsonl, false);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["rule_id"], "0000-sigma", "sorted by time");
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    let keys = [
        "rule_id",
        "rule_title",
        "level",
        "source",
        "timestamp",
        "events",
        "tenant",
        "user",
        "mailbox",
        "ip",
        "session_id",
        "app_id",
        "explanation",
        "tags",
    ];
    assert_eq!(v.as_object().unwrap().len(), keys.len());
    let at: Vec<usize> = keys
        .iter()
        .map(|k| lines[1].find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "keys in contract order: {at:?}"
    );
    assert!(lines[1].starts_with("{\"rule_id\":\"builtin/ioc-ip\""));
    assert_eq!(v["level"], "high");
    assert_eq!(v["source"], "builtin");
    assert_eq!(v["timestamp"], "2023-06-12T03:14:07Z");
    assert_eq!(
        v["events"],
        serde_json::json!([{"file": "ual.json", "line": 12, "record_id": "3f6c1c9e"}, {"file": "ual.json", "line": 13}])
    );
    assert_eq!(v["ip"], "51.89.156.153");
    // Optional fields that are unknown are absent, not null.
    assert!(first.get("tenant").is_none() && first.get("ip").is_none());
}

#[test]
fn csv_quotes_properly_and_neutralises_formulas() {
    let out = render(DetectionFormat::Csv, false);
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(&headers[0], "timestamp");
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("rule_title")], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&rows[0][col("user")], "'+cmd|' /C calc'!A0");
    assert_eq!(&rows[0][col("events")], "a,b.csv:2");
    assert_eq!(&rows[1][col("rule_title")], &format!("IOC IP {XSS}"));
    assert_eq!(
        &rows[1][col("events")],
        "ual.json:12 (3f6c1c9e); ual.json:13"
    );
    assert_eq!(&rows[1][col("level")], "high");
}

#[test]
fn table_is_fixed_width_ordered_and_coloured_on_request() {
    let plain = render(DetectionFormat::Table, false);
    assert!(
        !plain.contains('\u{1b}'),
        "no ANSI without colour, and none from the logs"
    );
    let lines: Vec<&str> = plain.lines().collect();
    assert!(lines[0].starts_with("TIME (UTC)"));
    assert!(lines[1].starts_with("2023-06-11T00:00:00Z"));
    assert!(lines[2].starts_with("2023-06-12T03:14:07Z"));
    assert!(lines[2].contains("…"), "long values are cut");
    let rule_col = lines[0].find("RULE").unwrap();
    let ip_col = lines[0].find("IP ").unwrap();
    assert_eq!(lines[2].chars().take(ip_col).count(), ip_col);
    assert!(rule_col < ip_col);
    assert!(plain.contains("INCIDENTS"));
    let coloured = render(DetectionFormat::Table, true);
    assert!(coloured.contains("\x1b[31mhigh"));
    assert!(coloured.contains("\x1b[33mmedium"));
}

#[test]
fn summary_names_files_errors_rules_and_levels_without_terminal_escapes() {
    let mut out = Vec::new();
    write_summary(&mut out, &summary(), &detections("")).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains("read 1 files, 1,234 records (2.0 MB)"), "{s}");
    assert!(s.contains("skipped 2 bad records"));
    assert!(s.contains("ual.json:7: field \"CreationTime\": invalid timestamp"));
    assert!(!s.contains('\u{1b}'));
    assert!(s.contains("rules: 142 loaded"));
    assert!(s.contains("1 rules could not be loaded"));
    assert!(s.contains("detections: 2 (high 1, medium 1)"));
}

#[test]
fn hunt_html_escapes_every_log_value() {
    let html = render(DetectionFormat::Html, false);
    assert!(!html.contains("<script"), "no script element at all");
    assert!(!html.contains(XSS));
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";
    // rule title, tenant, user, session, explanation, tags, incident title & field,
    // file name, error, rule error, note.
    assert!(
        html.matches(escaped).count() >= 11,
        "{}",
        html.matches(escaped).count()
    );
    assert!(!html.contains("http://") || html.contains("=HYPERLINK(&quot;http://x&quot;)"));
    assert!(
        !html.contains("src=") && !html.contains("<link"),
        "self-contained"
    );
}
