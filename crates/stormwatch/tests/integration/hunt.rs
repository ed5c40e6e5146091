//! `stormwatch hunt` on generated scenarios and the committed example.

use std::collections::BTreeSet;

use crate::util::{example, high_record_ids, scenario, stormwatch, strings, truth_of};

const UAL_FORMATS: [&str; 8] = [
    "csv",
    "csv-legacy",
    "defender",
    "json-array",
    "ndjson",
    "pretty",
    "sentinel",
    "graph-audit",
];

#[test]
fn example_scenario_every_actor_record_is_high_and_no_decoy_is() {
    let dir = example();
    let run = stormwatch(["hunt", "--format", "jsonl", dir.to_str().unwrap()]).expect_status(0);
    let detections = run.detections();
    for d in &detections {
        for key in [
            "rule_id",
            "rule_title",
            "level",
            "source",
            "timestamp",
            "events",
        ] {
            assert!(d.get(key).is_some(), "detection without {key}: {d}");
        }
        let ts = d["timestamp"].as_str().unwrap();
        assert!(
            ts.ends_with('Z') && ts.len() >= 20,
            "timestamp not RFC 3339 UTC: {ts}"
        );
        for e in d["events"].as_array().unwrap() {
            assert!(
                e["file"].is_string() && e["line"].as_u64().is_some_and(|l| l >= 1),
                "{e}"
            );
        }
    }
    let truth = truth_of(&dir);
    let high = high_record_ids(&detections);
    let actor = strings(&truth["actor_record_ids"]);
    let missed: Vec<_> = actor.difference(&high).collect();
    assert!(
        missed.is_empty(),
        "{} of {} actor records not covered by high/critical: {missed:?}",
        missed.len(),
        actor.len()
    );
    let decoys: BTreeSet<String> = truth["decoys"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| strings(&d["record_ids"]))
        .collect();
    assert!(!decoys.is_empty());
    let flagged: Vec<_> = decoys.intersection(&high).collect();
    assert!(
        flagged.is_empty(),
        "decoy records raised high/critical: {flagged:?}"
    );
    assert!(
        run.stderr.contains("records"),
        "summary on stderr: {}",
        run.stderr
    );
}

#[test]
fn every_input_format_gives_the_same_high_coverage() {
    let (dir, _) = scenario();
    let truth = truth_of(dir.path());
    let actor = strings(&truth["actor_record_ids"]);
    let signins = dir.path().join("signins-azure-monitor");
    for f in UAL_FORMATS {
        let run = stormwatch([
            "hunt",
            "-q",
            "--format",
            "jsonl",
            dir.path().join(f).to_str().unwrap(),
            signins.to_str().unwrap(),
        ])
        .expect_status(0);
        let high = high_record_ids(&run.detections());
        let missed: Vec<_> = actor.difference(&high).collect();
        assert!(
            missed.is_empty(),
            "format {f}: actor records not high: {missed:?}"
        );
    }
}

/// (rule, record) pairs of the Sigma detections of `hunt --no-builtin` over one format.
fn sigma_pairs(dir: &std::path::Path, format: &str) -> BTreeSet<(String, String)> {
    let run = stormwatch([
        "hunt",
        "-q",
        "--no-builtin",
        "--format",
        "jsonl",
        dir.join(format).to_str().unwrap(),
    ])
    .expect_status(0);
    run.detections()
        .iter()
        .filter(|d| d["source"] == "sigma")
        .flat_map(|d| {
            let rule = d["rule_id"].as_str().unwrap_or_default().to_owned();
            d["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |e| Some((rule.clone(), e["record_id"].as_str()?.to_owned())))
        })
        .collect()
}

#[test]
fn wrapped_records_are_matched_as_the_records_they_wrap() {
    // A Defender row's RawEventData and a Graph audit record's auditData are the UAL record
    // itself: the rules see that record, as they do in the plain export.
    let (dir, _) = scenario();
    let plain = sigma_pairs(dir.path(), "ndjson");
    assert!(plain.len() > 10, "{}", plain.len());
    for f in ["defender", "graph-audit"] {
        let got = sigma_pairs(dir.path(), f);
        let missing: Vec<_> = plain.difference(&got).take(3).collect();
        let extra: Vec<_> = got.difference(&plain).take(3).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "format {f}: {} pairs against {}; missing {missing:?}, extra {extra:?}",
            got.len(),
            plain.len()
        );
    }
}

#[test]
fn output_does_not_depend_on_thread_count() {
    let dir = example();
    let one = stormwatch([
        "hunt",
        "-q",
        "--threads",
        "1",
        "--format",
        "jsonl",
        dir.to_str().unwrap(),
    ])
    .expect_status(0);
    let two = stormwatch([
        "hunt",
        "-q",
        "--threads",
        "2",
        "--format",
        "jsonl",
        dir.to_str().unwrap(),
    ])
    .expect_status(0);
    assert!(!one.stdout.is_empty());
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn fail_on_level_sets_exit_code() {
    let dir = example();
    stormwatch([
        "hunt",
        "-q",
        "--fail-on",
        "high",
        "--format",
        "jsonl",
        dir.to_str().unwrap(),
    ])
    .expect_status(1);
    let empty = tempfile::tempdir().unwrap();
    let f = empty.path().join("quiet.ndjson");
    std::fs::write(&f, "{\"CreationTime\":\"2023-06-01T00:00:00\",\"Operation\":\"FileAccessed\",\"Workload\":\"SharePoint\",\"RecordType\":6,\"Id\":\"x\"}\n").unwrap();
    stormwatch([
        "hunt",
        "-q",
        "--fail-on",
        "high",
        "--format",
        "jsonl",
        f.to_str().unwrap(),
    ])
    .expect_status(0);
}

#[test]
fn usage_errors_and_missing_inputs_exit_2() {
    let r = stormwatch(["hunt", "/nonexistent/stormwatch-input.json"]).expect_status(2);
    assert!(
        r.stderr.contains("/nonexistent/stormwatch-input.json"),
        "{}",
        r.stderr
    );
    stormwatch(["hunt", "--format", "yaml", "x"]).expect_status(2);
    stormwatch(["hunt"]).expect_status(2);
}

#[test]
fn bad_records_are_counted_located_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mixed.ndjson");
    std::fs::write(
        &f,
        concat!(
            "{\"CreationTime\":\"2023-06-12T03:14:07\",\"Id\":\"a\",\"Operation\":\"MailItemsAccessed\",\"RecordType\":50,\"Workload\":\"Exchange\",\"ClientInfoString\":\"Client=REST;Client=RESTSystem;;\",\"ClientIPAddress\":\"51.89.156.153\",\"MailboxOwnerUPN\":\"a@b.example\",\"UserId\":\"a@b.example\",\"OrganizationId\":\"t\"}\n",
            "{\"CreationTime\": \"2023-06-12T03:15:07\", \"Id\": \"b\", \"Operation\": \n",
            "{\"CreationTime\":\"2023-06-12T03:16:07\",\"Id\":\"c\",\"Operation\":\"MailItemsAccessed\",\"RecordType\":50,\"Workload\":\"Exchange\",\"ClientInfoString\":\"Client=REST;Client=RESTSystem;;\",\"ClientIPAddress\":\"51.89.156.153\",\"MailboxOwnerUPN\":\"a@b.example\",\"UserId\":\"a@b.example\",\"OrganizationId\":\"t\"}\n",
        ),
    )
    .unwrap();
    let r = stormwatch(["hunt", "--format", "jsonl", f.to_str().unwrap()]).expect_status(0);
    assert!(
        r.stderr.contains("mixed.ndjson:2"),
        "located error on stderr: {}",
        r.stderr
    );
    let ids: BTreeSet<String> = r
        .detections()
        .iter()
        .flat_map(|d| d["events"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["record_id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        ids.contains("a") && ids.contains("c"),
        "good records around the bad one still hunted: {ids:?}"
    );
}

#[test]
fn html_and_csv_outputs_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let csv = dir.path().join("r.csv");
    let ex = example();
    for (format, path) in [("html", &html), ("csv", &csv)] {
        stormwatch([
            "hunt",
            "-q",
            "--format",
            format,
            "-o",
            path.to_str().unwrap(),
            ex.to_str().unwrap(),
        ])
        .expect_status(0);
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") || page.starts_with("<!doctype html>"));
    assert!(!page.contains("<script src"), "self-contained");
    let table = std::fs::read_to_string(&csv).unwrap();
    assert!(table.lines().count() > 10);
}

#[test]
fn output_cut_short_by_its_reader_ends_quietly() {
    use std::io::{BufRead as _, BufReader};
    use std::process::{Command, Stdio};
    let dir = example();
    for format in ["jsonl", "csv", "table"] {
        // Like `stormwatch hunt … | head -n 1`: the reader takes one line and goes away
        // while hundreds of kilobytes are still to be written.
        let mut child = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
            .args(["hunt", "-q", "--format", format])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(!first.is_empty(), "{format}");
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
        assert!(stderr.is_empty(), "{format}: {stderr}");
    }
}

/// `--state DIR` on the same export three times: the second and third runs say on standard
/// error that the records were already in the saved baseline, no run suggests `--state`, and
/// the detections stay the same.
#[test]
fn state_counts_a_rerun_export_once() {
    let dir = example();
    let state = tempfile::tempdir().unwrap();
    let hunt = || {
        stormwatch([
            "hunt",
            "--format",
            "jsonl",
            "--state",
            state.path().to_str().unwrap(),
            dir.to_str().unwrap(),
        ])
        .expect_status(0)
    };
    let runs = [hunt(), hunt(), hunt()];
    for (i, r) in runs.iter().enumerate() {
        assert!(!r.stderr.contains("use --state"), "run {i}: {}", r.stderr);
        assert_eq!(
            r.stderr.contains("were already in the saved baseline"),
            i > 0,
            "run {i}: {}",
            r.stderr
        );
    }
    assert!(
        runs[0].stderr.contains("no saved baseline yet"),
        "{}",
        runs[0].stderr
    );
    let explained = |r: &crate::util::Run| -> Vec<(String, String)> {
        r.jsonl()
            .iter()
            .filter(|d| d["type"] == "detection")
            .map(|d| {
                (
                    d["rule_id"].as_str().unwrap().to_owned(),
                    d["explanation"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(explained(&runs[1]), explained(&runs[0]));
    assert_eq!(explained(&runs[2]), explained(&runs[0]));
}
