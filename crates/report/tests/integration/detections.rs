//! Hunt outputs: JSONL contract, CSV quoting and formula neutralisation, table, HTML.

use std::time::Duration;

use stormwatch_core::{FileStats, InputStats, Level, Location, RecordError};
use stormwatch_report::{
    DetectionFormat, HuntSummary, ReportOptions, write_detections, write_incidents_csv,
    write_summary,
};

use crate::fixtures::{XSS, detections, incident};

fn render_with(fmt: DetectionFormat, opts: &ReportOptions) -> String {
    let mut out = Vec::new();
    write_detections(
        &mut out,
        fmt,
        &detections(XSS),
        &[incident(XSS)],
        &summary(),
        opts,
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

fn render(fmt: DetectionFormat, color: bool) -> String {
    render_with(
        fmt,
        &ReportOptions {
            color,
            ..ReportOptions::default()
        },
    )
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
fn jsonl_has_the_contract_shape_incidents_then_one_detection_per_line_in_time_order() {
    let out = render(DetectionFormat::Jsonl, false);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    let inc: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(inc["type"], "incident");
    assert_eq!(inc["id"], "INC-0001");
    assert_eq!(inc["level"], "high");
    assert_eq!(inc["first"], "2023-06-12T03:14:07Z");
    assert_eq!(inc["last"], "2023-06-14T09:00:00Z");
    for key in ["tenants", "mailboxes", "users", "ips", "sessions", "apps"] {
        assert!(
            inc[key]
                .as_array()
                .is_some_and(|a| a.iter().all(|v| v.is_string()) && !a.is_empty()),
            "{key}: {inc}"
        );
    }
    assert_eq!(inc["mailboxes"][0], "envoy@agency.example");
    assert_eq!(inc["reasons"][0]["rule_id"], "builtin/ioc-ip");
    let first: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(first["rule_id"], "0000-sigma", "sorted by time");
    assert_eq!(first["type"], "detection");
    assert!(
        first.get("incident_id").is_none(),
        "not in the incident: {first}"
    );
    let v: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
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
        "incident_id",
        "type",
    ];
    assert_eq!(v.as_object().unwrap().len(), keys.len(), "{v}");
    let at: Vec<usize> = keys
        .iter()
        .map(|k| lines[2].find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "keys in contract order: {at:?}"
    );
    assert!(lines[2].starts_with("{\"rule_id\":\"builtin/ioc-ip\""));
    assert_eq!(v["level"], "high");
    assert_eq!(v["source"], "builtin");
    assert_eq!(v["timestamp"], "2023-06-12T03:14:07Z");
    assert_eq!(v["incident_id"], "INC-0001", "joined by its session");
    assert_eq!(
        v["events"],
        serde_json::json!([{"file": "ual.json", "line": 12, "record_id": "3f6c1c9e"}, {"file": "ual.json", "line": 13}])
    );
    assert_eq!(v["ip"], "51.89.156.153");
    // Optional fields that are unknown are absent, not null.
    assert!(first.get("tenant").is_none() && first.get("ip").is_none());
}

#[test]
fn min_level_leaves_lower_detections_and_incidents_out_of_every_format() {
    let high = ReportOptions {
        min_level: Level::High,
        ..ReportOptions::default()
    };
    let jsonl = render_with(DetectionFormat::Jsonl, &high);
    let levels: Vec<String> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["level"].to_string())
        .collect();
    assert_eq!(levels, ["\"high\"", "\"high\""], "{jsonl}");
    let csv = render_with(DetectionFormat::Csv, &high);
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(!csv.contains("0000-sigma"));
    let table = render_with(DetectionFormat::Table, &high);
    assert!(
        !table.contains("0000-sigma") && !table.contains("HYPERLINK"),
        "{table}"
    );
    assert!(
        table.contains("1 detection below high left out (medium 1): --min-level medium shows them"),
        "{table}"
    );
    let html = render_with(DetectionFormat::Html, &high);
    assert!(!html.contains("HYPERLINK"));
    assert!(html.contains("1 detections below high are left out"));
    let critical = ReportOptions {
        min_level: Level::Critical,
        ..ReportOptions::default()
    };
    assert!(
        render_with(DetectionFormat::Jsonl, &critical).is_empty(),
        "the high incident is below critical too"
    );
}

#[test]
fn csv_quotes_properly_and_neutralises_formulas() {
    let out = render(DetectionFormat::Csv, false);
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(&headers[0], "timestamp");
    assert_eq!(&headers[headers.len() - 1], "incident_id");
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("rule_title")], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&rows[0][col("user")], "'+cmd|' /C calc'!A0");
    assert_eq!(&rows[0][col("events")], "a,b.csv:2");
    assert_eq!(&rows[0][col("incident_id")], "");
    assert_eq!(&rows[1][col("rule_title")], &format!("IOC IP {XSS}"));
    assert_eq!(
        &rows[1][col("events")],
        "ual.json:12 (3f6c1c9e); ual.json:13"
    );
    assert_eq!(&rows[1][col("level")], "high");
    assert_eq!(&rows[1][col("incident_id")], "INC-0001");
}

#[test]
fn incidents_csv_names_everything_they_touched() {
    let mut inc = incident(XSS);
    inc.mailboxes.push("=cmd|' /C calc'!A0".into());
    let mut out = Vec::new();
    write_incidents_csv(&mut out, &[inc]).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("id")], "INC-0001");
    assert_eq!(&rows[0][col("level")], "high");
    assert_eq!(&rows[0][col("domains")], "agency.example");
    assert!(rows[0][col("mailboxes")].starts_with("envoy@agency.example; "));
    assert_eq!(&rows[0][col("ips")], "51.89.156.153");
    assert!(rows[0][col("reasons")].contains("because"));
    // A name that starts like a formula is neutralised (the cell starts with it).
    let mut first = incident("");
    first.mailboxes = vec!["=1+1".into()];
    let mut out = Vec::new();
    write_incidents_csv(&mut out, &[first]).unwrap();
    assert!(String::from_utf8(out).unwrap().contains(",'=1+1,"));
}

#[test]
fn table_opens_with_named_incidents_then_detections_most_severe_first() {
    let plain = render_with(
        DetectionFormat::Table,
        &ReportOptions {
            width: Some(120),
            ..ReportOptions::default()
        },
    );
    assert!(
        !plain.contains('\u{1b}'),
        "no ANSI without colour, and none from the logs"
    );
    let inc = plain.find("INC-0001").unwrap();
    let dets = plain.find("DETECTIONS").unwrap();
    assert!(inc < dets, "incidents first:\n{plain}");
    let block = &plain[inc..dets];
    assert!(block.contains("envoy@agency.example"), "{block}");
    assert!(block.contains("51.89.156.153"), "{block}");
    assert!(block.contains("agency.example"), "{block}");
    let high = plain.find("── HIGH (1) ──").unwrap();
    let medium = plain.find("── MEDIUM (1) ──").unwrap();
    assert!(high < medium, "most severe first");
    assert!(
        plain[high..medium].contains("ual.json:12 +1"),
        "file:line whole"
    );
    assert!(plain[high..medium].contains("INC-0001"));
    assert!(plain[high..medium].contains("why: because"));
    for line in plain.lines() {
        assert!(line.chars().count() <= 120, "wider than 120: {line:?}");
    }
    let coloured = render(DetectionFormat::Table, true);
    assert!(coloured.contains("\x1b[31mhigh"));
    assert!(coloured.contains("\x1b[33mmedium"));
    // --wide cuts nothing.
    let wide = render_with(
        DetectionFormat::Table,
        &ReportOptions {
            wide: true,
            ..ReportOptions::default()
        },
    );
    assert!(wide.contains(&format!("IOC IP {XSS}").replace('\u{1b}', "\u{fffd}")));
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
    assert_eq!(
        html.matches("<script").count(),
        1,
        "one script element: the page's own"
    );
    assert!(!html.contains(XSS));
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";
    // rule title, tenant, user, session, explanation, tags, incident names and reason, file
    // name, error, rule error, note, data attributes.
    assert!(
        html.matches(escaped).count() >= 15,
        "{}",
        html.matches(escaped).count()
    );
    assert!(!html.contains("http://") || html.contains("=HYPERLINK(&quot;http://x&quot;)"));
    assert!(
        !html.contains("src=") && !html.contains("<link"),
        "self-contained"
    );
    // Incidents come before the detections, with their names.
    let inc = html.find("id=\"incidents\"").unwrap();
    let dets = html.find("id=\"dets\"").unwrap();
    assert!(inc < dets);
    assert!(html[inc..dets].contains("envoy@agency.example"));
    assert!(html.contains("<svg"), "the timeline");
}
