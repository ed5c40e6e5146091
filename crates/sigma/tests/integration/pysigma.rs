//! Agreement with pySigma (SQLite backend) on the verdict fixtures in `tests/fixtures/pysigma/`.

use std::collections::BTreeSet;
use std::path::Path;

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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pysigma");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
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
            let want: BTreeSet<usize> = want
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|x| x.as_u64().map(|x| x as usize))
                .collect();
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

fn matches(engine: &Engine, event: &stormwatch_core::Event, rule: &str) -> bool {
    // `scan` reports what a backend would: rules that only feed correlations
    // (`generate: false`) are not reported on their own, as pySigma emits no query for them.
    let mut out = Vec::new();
    engine.scan(event, &mut out);
    out.iter().any(|d| d.rule_id == rule)
}
