//! Agreement with pySigma (SQLite backend) on the verdict fixtures in `tests/fixtures/pysigma/`.

use std::collections::BTreeSet;

use stormwatch_core::SourceKind;
use stormwatch_sigma::{Engine, EngineOptions};

use crate::util::ev;

/// Rules whose verdicts may differ on events holding a field with a JSON null, and why.
///
/// pySigma's SQLite backend writes `exists` as `IS [NOT] NULL`, so a field present with a JSON
/// null counts as absent there; the specification says `exists` checks presence only. And SQL's
/// three-valued logic makes a comparison with NULL unknown, so `not` over a predicate on a null
/// field is not true in SQLite; here the predicate is false and its negation true.
const NULL_SEMANTICS: &[(&str, &str)] = &[
    (
        "2968b570-dc2f-55b3-ab40-4637fda5a4cf",
        "spec example exists: true on a present null field",
    ),
    (
        "dee75ed6-6d8f-5fc8-ac10-c21ead951f95",
        "spec example exists: false on a present null field",
    ),
    (
        "7ce7f086-1e79-4f0c-b28b-ceb64d95c948",
        "negated predicate on a null field",
    ),
    (
        "f9d8c441-de12-4490-860d-21f8e05440d8",
        "negated fieldref with a null field",
    ),
];

fn has_null(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Object(m) => m.values().any(has_null),
        serde_json::Value::Array(a) => a.iter().any(has_null),
        _ => false,
    }
}

#[test]
fn agrees_with_pysigma_fixtures() {
    let dir = crate::util::fixtures("pysigma");
    let rd = std::fs::read_dir(&dir).unwrap();
    let mut files: Vec<_> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut checked = 0;
    let mut diffs = Vec::new();
    for f in files {
        let fx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let (Some(yaml), Some(events), Some(by_rule)) = (
            fx["rule_yaml"].as_str(),
            fx["events"].as_array(),
            fx["matches_by_rule"].as_object(),
        ) else {
            continue;
        };
        let opts = EngineOptions {
            ignore_logsource: true,
            ..EngineOptions::default()
        };
        let (engine, errs) =
            Engine::from_sources(&[(f.display().to_string(), yaml.to_string())], &opts).unwrap();
        if !errs.is_empty() {
            diffs.push(format!("{}: does not load: {}", f.display(), errs[0]));
            continue;
        }
        for (rule, want) in by_rule {
            let want = indices(want);
            let mut got = BTreeSet::new();
            for (i, e) in events.iter().enumerate() {
                let event = ev(SourceKind::Generic, &e.to_string());
                if matches(&engine, &event, rule) {
                    got.insert(i);
                }
            }
            checked += 1;
            for i in want.symmetric_difference(&got) {
                if NULL_SEMANTICS.iter().any(|d| d.0 == rule)
                    && events.get(*i).is_some_and(has_null)
                {
                    continue;
                }
                let note = fx["event_notes"]
                    .get(*i)
                    .and_then(|n| n.as_str())
                    .unwrap_or("");
                diffs.push(format!(
                    "{rule} event {i} ({note}): pySigma {}, stormwatch {}",
                    want.contains(i),
                    got.contains(i)
                ));
            }
        }
    }
    println!(
        "pySigma fixtures: {checked} rules checked, {} differences",
        diffs.len()
    );
    for d in &diffs {
        println!("  {d}");
    }
    assert!(checked > 0);
    assert!(diffs.is_empty(), "unexplained differences from pySigma");
}

/// Rules whose verdicts on the shared corpus records differ from pySigma's, with the record and
/// why (see docs/rules.md, "Where the reference and stormwatch differ").
const CORPUS_DIFFERENCES: &[(&str, usize, &str)] = &[(
    "352a54e1-74ba-4929-9d47-8193d67aba1e",
    45,
    "azure_federation_modified: ActivityDisplayName resolves to properties.activityDisplayName \
     of the Azure Monitor audit record (field mapping, class 2)",
)];

/// The real M365 and Entra ID records of `corpus-events.json`, offered to every detection
/// fixture's rule as generic records with the log source ignored, as the fixtures were made.
#[test]
fn corpus_records_agree_with_pysigma() {
    let dir = crate::util::fixtures("pysigma");
    let text = std::fs::read_to_string(dir.join("corpus-events.json")).unwrap();
    let corpus: serde_json::Value = serde_json::from_str(&text).unwrap();
    let records: Vec<String> = corpus["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["record"].to_string())
        .collect();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let opts = EngineOptions {
        ignore_logsource: true,
        ..EngineOptions::default()
    };
    let (mut checked, mut agreed) = (0, 0);
    let mut diffs = Vec::new();
    let mut expected_seen = BTreeSet::new();
    for f in files {
        let fx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let (Some(yaml), Some(by_rule)) = (
            fx["rule_yaml"].as_str(),
            fx["corpus_matches_by_rule"].as_object(),
        ) else {
            continue;
        };
        if fx.get("correlations").is_some_and(|c| !c.is_null()) {
            continue;
        }
        let (engine, errs) =
            Engine::from_sources(&[(f.display().to_string(), yaml.to_string())], &opts).unwrap();
        if !errs.is_empty() {
            continue;
        }
        for (rule, want) in by_rule {
            let want = indices(want);
            for (i, r) in records.iter().enumerate() {
                let got = matches(&engine, &ev(SourceKind::Generic, r), rule);
                checked += 1;
                if got == want.contains(&i) {
                    agreed += 1;
                    continue;
                }
                if let Some(d) = CORPUS_DIFFERENCES.iter().find(|d| d.0 == rule && d.1 == i) {
                    expected_seen.insert((d.0, d.1));
                    continue;
                }
                diffs.push(format!(
                    "{rule} corpus record {i}: pySigma {}, stormwatch {got}",
                    want.contains(&i)
                ));
            }
        }
    }
    println!(
        "pySigma corpus records: {checked} verdicts, {agreed} agree, {} documented differences, {} unexplained",
        expected_seen.len(),
        diffs.len()
    );
    for d in &diffs {
        println!("  {d}");
    }
    assert!(checked > 0);
    assert!(diffs.is_empty(), "unexplained differences from pySigma");
    assert_eq!(
        expected_seen.len(),
        CORPUS_DIFFERENCES.len(),
        "a documented difference no longer occurs: update the list and docs/rules.md"
    );
}

fn matches(engine: &Engine, event: &stormwatch_core::Event, rule: &str) -> bool {
    // `scan` reports what a backend would: rules that only feed correlations
    // (`generate: false`) are not reported on their own, as pySigma emits no query for them.
    let mut out = Vec::new();
    engine.scan(event, &mut out);
    out.iter().any(|d| d.rule_id == rule)
}

/// The event indices of a fixture verdict list.
fn indices(v: &serde_json::Value) -> BTreeSet<usize> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64().and_then(|x| usize::try_from(x).ok()))
                .collect()
        })
        .unwrap_or_default()
}
