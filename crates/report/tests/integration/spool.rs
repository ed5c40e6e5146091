//! The spool: output order equal to `sort_detections` whatever spills, exact round trip of
//! every field, temporary files removed, and the streaming writers equal to the slice ones.

use std::sync::Arc;

use proptest::prelude::*;
use stormwatch_core::{Detection, DetectionSource, Level, Location, Timestamp, sort_detections};
use stormwatch_report::{
    DetectionCounts, DetectionFormat, DetectionOrder, HuntSummary, ReportOptions, Spool,
    SpoolError, SpoolOptions, write_detections, write_sorted_detections,
};

use crate::fixtures::XSS;

fn spool_in(dir: &std::path::Path, max_held: usize) -> Spool {
    spool_ordered(dir, max_held, DetectionOrder::Time)
}

fn spool_ordered(dir: &std::path::Path, max_held: usize, order: DetectionOrder) -> Spool {
    Spool::new(SpoolOptions {
        tmp_dir: Some(dir.to_owned()),
        max_held: Some(max_held),
        order,
        ..SpoolOptions::default()
    })
}

fn drain(spool: Spool) -> Vec<Detection> {
    spool
        .finish()
        .unwrap()
        .collect::<Result<Vec<_>, SpoolError>>()
        .unwrap()
}

fn files_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    walk(dir)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// Strings a log can carry: markup, quotes, control characters, NUL, newlines, bidi
/// overrides, non-BMP characters, and long ones.
fn hostile() -> Vec<String> {
    vec![
        String::new(),
        XSS.to_owned(),
        "a\0b".to_owned(),
        "line\nbreak\r\n\ttab".to_owned(),
        "\u{1b}[31mred\u{1b}[0m".to_owned(),
        "\u{202e}gnp.exe".to_owned(),
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🦀 \u{fffd}".to_owned(),
        "\"quoted\" \\ backslash".to_owned(),
        "=cmd|' /C calc'!A0".to_owned(),
        "x".repeat(100_000),
    ]
}

fn hostile_evidence() -> serde_json::Value {
    serde_json::json!({
        "zeta": 1,
        "alpha": [0.1, -0.0, 1e300, 5e-324, f64::MAX, -1.5, 2.5e-8],
        "ints": [0, -1, i64::MIN, i64::MAX, u64::MAX],
        "nested": {"b": {"c": [null, true, false, {"d": XSS}]}, "a": "\u{0}\n"},
        "": "empty key",
        XSS: "markup key",
    })
}

fn hostile_detections() -> Vec<Detection> {
    let strings = hostile();
    let mut out = Vec::new();
    for (i, s) in strings.iter().enumerate() {
        let mut d = Detection::new(
            format!("rule-{s}"),
            s.clone(),
            Level::ALL[i % 5],
            if i % 2 == 0 {
                DetectionSource::Sigma
            } else {
                DetectionSource::Builtin
            },
            Timestamp::from_nanos(1_686_539_647_123_456_700 - i as i64 * 100),
        );
        d.events = vec![
            Location {
                file: Arc::from(s.as_str()),
                line: u64::MAX - i as u64,
                record_id: Some(s.clone()),
            },
            Location {
                file: Arc::from("plain.json"),
                line: 1,
                record_id: None,
            },
        ];
        d.tenant = Some(s.clone());
        d.user = Some(s.clone());
        d.mailbox = (i % 3 != 0).then(|| s.clone());
        d.ip = Some(s.clone());
        d.session_id = Some(s.clone());
        d.app_id = (i % 2 == 0).then(|| s.clone());
        d.explanation = s.clone();
        d.tags = vec![s.clone(), String::new()];
        d.evidence = if i % 4 == 3 {
            serde_json::Value::Null
        } else {
            hostile_evidence()
        };
        out.push(d);
    }
    out
}

fn render_all(fmt: DetectionFormat, ds: &[Detection]) -> Vec<u8> {
    let mut out = Vec::new();
    write_detections(
        &mut out,
        fmt,
        ds,
        &[],
        &HuntSummary::default(),
        &ReportOptions::default(),
    )
    .unwrap();
    out
}

#[test]
fn hostile_detections_round_trip_exactly_through_spill_files() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = hostile_detections();
    let mut spool = spool_in(tmp.path(), 3);
    spool.extend(ds.clone()).unwrap();
    assert!(spool.spilled() > 0);
    let got = drain(spool);
    let mut want = ds.clone();
    sort_detections(&mut want);
    assert!(got == want, "detections changed through the spill files");
    for fmt in [
        DetectionFormat::Jsonl,
        DetectionFormat::Csv,
        DetectionFormat::Table,
    ] {
        let mut spool = spool_ordered(tmp.path(), 2, fmt.order());
        spool.extend(ds.clone()).unwrap();
        let mut out = Vec::new();
        let sorted = spool.finish().unwrap();
        let opts = ReportOptions {
            counts: Some(*sorted.counts()),
            rules: Some(sorted.rule_counts().clone()),
            ..ReportOptions::default()
        };
        write_sorted_detections(&mut out, fmt, sorted, &[], &HuntSummary::default(), &opts)
            .unwrap();
        assert!(out == render_all(fmt, &ds), "{fmt:?} output differs");
    }
    assert!(files_in(tmp.path()).is_empty());
}

#[test]
fn evidence_keeps_number_forms_and_key_order_in_jsonl() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = hostile_detections();
    let mut spool = spool_in(tmp.path(), 1);
    spool.extend(ds.clone()).unwrap();
    let mut out = Vec::new();
    write_sorted_detections(
        &mut out,
        DetectionFormat::Jsonl,
        spool.finish().unwrap(),
        &[],
        &HuntSummary::default(),
        &ReportOptions::default(),
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    let want = serde_json::to_string(&hostile_evidence()).unwrap();
    assert!(text.contains(&want));
    assert!(text.contains("-0.0") && text.contains("5e-324") && text.contains("1e+300"));
    assert!(text.contains("18446744073709551615") && text.contains("-9223372036854775808"));
}

#[test]
fn many_runs_are_merged_in_levels_and_every_file_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ds = Vec::new();
    // 600 single-detection runs: merges of 16 runs, then of 16 merged runs.
    for i in 0..600u32 {
        let mut d = Detection::new(
            format!("rule-{}", i % 7),
            "T",
            Level::ALL[(i % 5) as usize],
            DetectionSource::Sigma,
            Timestamp::from_unix_seconds(i64::from((i * 7919) % 50)),
        );
        // Same sort key for many: the order they were pushed in must survive.
        d.user = Some(format!("u{i}"));
        ds.push(d);
    }
    let mut spool = spool_in(tmp.path(), 1);
    spool.extend(ds.clone()).unwrap();
    assert_eq!(spool.spilled(), 600);
    let dir = spool.temp_dir().unwrap().to_owned();
    assert!(dir.starts_with(tmp.path()));
    let open = files_in(&dir).len();
    assert!(open < 16 * 3, "{open} run files kept");
    let counts = *spool.counts();
    let got = drain(spool);
    let mut want = ds;
    sort_detections(&mut want);
    assert!(got == want);
    assert_eq!(counts, DetectionCounts::of(&want));
    assert!(!dir.exists());
    assert!(files_in(tmp.path()).is_empty());
}

#[test]
fn a_spool_dropped_early_removes_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spool = spool_in(tmp.path(), 2);
    spool.extend(hostile_detections()).unwrap();
    assert!(!files_in(tmp.path()).is_empty());
    drop(spool);
    assert!(files_in(tmp.path()).is_empty());

    let mut spool = spool_in(tmp.path(), 2);
    spool.extend(hostile_detections()).unwrap();
    let mut sorted = spool.finish().unwrap();
    assert!(sorted.next().is_some());
    drop(sorted);
    assert!(files_in(tmp.path()).is_empty());
}

#[test]
fn nothing_touches_the_disk_below_the_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spool = Spool::new(SpoolOptions {
        tmp_dir: Some(tmp.path().to_owned()),
        ..SpoolOptions::default()
    });
    spool.extend(hostile_detections()).unwrap();
    assert_eq!(spool.spilled(), 0);
    assert!(spool.temp_dir().is_none());
    assert!(files_in(tmp.path()).is_empty());
    let mut want = hostile_detections();
    sort_detections(&mut want);
    assert!(drain(spool) == want);
}

#[test]
fn a_missing_temporary_directory_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("not-there");
    let mut spool = spool_in(&missing, 1);
    let d = hostile_detections().remove(0);
    match spool.push(d) {
        Err(e @ SpoolError::TempDir { .. }) => assert!(e.to_string().contains("not-there")),
        other => panic!("expected a temporary directory error, got {other:?}"),
    }
}

#[test]
fn counts_and_fail_on_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spool = spool_in(tmp.path(), 4);
    for (i, level) in [Level::Low, Level::Medium, Level::Low]
        .into_iter()
        .enumerate()
    {
        spool
            .push(Detection::new(
                format!("r{i}"),
                "t",
                level,
                DetectionSource::Sigma,
                Timestamp::EPOCH,
            ))
            .unwrap();
    }
    let c = spool.counts();
    assert_eq!(c.total(), 3);
    assert_eq!(c.by_level(), vec![(Level::Medium, 1), (Level::Low, 2)]);
    assert!(c.any_at_or_above(Level::Medium));
    assert!(!c.any_at_or_above(Level::High));
}

#[test]
fn html_lists_a_bounded_number_of_rows_the_most_severe_and_says_how_many_are_left_out() {
    let n = 20_100u32;
    let mut ds = Vec::new();
    for i in 0..n {
        let level = if i % 1000 == 50 {
            Level::Critical
        } else {
            Level::Low
        };
        let mut d = Detection::new(
            if level == Level::Critical {
                "rule-critical"
            } else {
                "rule-low"
            },
            format!("{level} rule"),
            level,
            DetectionSource::Sigma,
            Timestamp::from_unix_seconds(1_686_500_000 + i64::from(i)),
        );
        d.explanation = format!("why-{i:05}");
        ds.push(d);
    }
    let html = String::from_utf8(render_all(DetectionFormat::Html, &ds)).unwrap();
    assert!(html.contains("20,100"), "total not shown");
    assert!(
        html.contains("lists 20,000 of the 20,100 detections") && html.contains("100 more"),
        "left-out count not stated"
    );
    // Every critical one is listed, even the one after the first 20,000 in time order; the
    // latest low one makes room for it.
    assert!(html.contains("why-20050") && html.contains("why-19998"));
    assert!(
        !html.contains("why-19999"),
        "a low one kept over a critical one"
    );
    assert!(!html.contains("why-20001"));
    // Rows are listed most severe first, in output order within a level.
    let crit_first = html.find("why-00050").unwrap();
    let crit_last = html.find("why-20050").unwrap();
    let a = html.find("why-00000").unwrap();
    let b = html.find("why-19998").unwrap();
    assert!(crit_first < crit_last && crit_last < a && a < b);
    // Counts per rule cover every detection, and say how many of each are listed.
    let rules = &html[html.find("Rules that fired").unwrap()..html.find("id=\"dets\"").unwrap()];
    assert!(rules.contains("rule-low") && rules.contains("20,079") && rules.contains("19,979"));
    assert!(rules.contains("rule-critical") && rules.contains(">21<"));

    // With every row listed, the page has no such note; the rules are still counted.
    let html = String::from_utf8(render_all(DetectionFormat::Html, &ds[..100])).unwrap();
    assert!(!html.contains("left out") && html.contains("Rules that fired"));
}

fn arb_detection() -> impl Strategy<Value = Detection> {
    (
        0i64..4,
        0u8..3,
        prop::option::of((0u8..2, 0u64..3)),
        0u8..2,
        0u8..2,
        0usize..5,
        any::<u16>(),
        prop::option::of("[a-c<\"\\n]{0,3}"),
    )
        .prop_map(|(ts, rule, loc, title, expl, level, tag, user)| {
            let mut d = Detection::new(
                format!("rule-{rule}"),
                format!("title-{title}"),
                Level::ALL[level],
                DetectionSource::Sigma,
                Timestamp::from_unix_seconds(ts),
            );
            if let Some((f, line)) = loc {
                d.events.push(Location {
                    file: Arc::from(format!("f{f}.json")),
                    line,
                    record_id: None,
                });
            }
            d.explanation = format!("why-{expl}");
            d.tags = vec![format!("t{tag}")];
            d.user = user;
            d.evidence = serde_json::json!({"n": tag, "f": f64::from(tag) / 7.0});
            d
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn spool_order_equals_sort_detections(
        ds in prop::collection::vec(arb_detection(), 0..300),
        max_held in 1usize..40,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let mut spool = spool_in(tmp.path(), max_held);
        spool.extend(ds.clone()).unwrap();
        let got = drain(spool);
        let mut want = ds;
        sort_detections(&mut want);
        prop_assert!(got == want);
        prop_assert!(files_in(tmp.path()).is_empty());
    }

    #[test]
    fn spool_in_severity_order_equals_a_stable_sort_by_level_then_output_order(
        ds in prop::collection::vec(arb_detection(), 0..300),
        max_held in 1usize..40,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let mut spool = spool_ordered(tmp.path(), max_held, DetectionOrder::Severity);
        spool.extend(ds.clone()).unwrap();
        let got = drain(spool);
        let mut want = ds;
        want.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.cmp_output_order(b)));
        prop_assert!(got == want);
        prop_assert!(files_in(tmp.path()).is_empty());
    }
}
