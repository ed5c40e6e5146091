//! Agreement with pySigma (SQLite backend) on the verdict fixtures in `tests/fixtures/pysigma/`.

use std::collections::BTreeSet;
use std::path::Path;

use stormwatch_core::SourceKind;
use stormwatch_sigma::{Engine, EngineOptions};

use crate::util::ev;

/// Known, explained differences: (rule id, event index, reason).
const DIFFERENCES: &[(&str, usize, &str)] = &[];

#[test]
fn agrees_with_pysigma_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pysigma");
    let Ok(rd) = std::fs::read_dir(&dir) else { return };
    let mut files: Vec<_> = rd.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    files.sort();
    let mut checked = 0;
    let mut diffs = Vec::new();
    for f in files {
        let fx: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let (Some(yaml), Some(events), Some(by_rule)) = (fx["rule_yaml"].as_str(), fx["events"].as_array(), fx["matches_by_rule"].as_object()) else {
            continue;
        };
        let opts = EngineOptions { ignore_logsource: true, ..EngineOptions::default() };
        let (engine, errs) = Engine::from_sources(&[(f.display().to_string(), yaml.to_string())], &opts).unwrap();
        if !errs.is_empty() {
            diffs.push(format!("{}: does not load: {}", f.display(), errs[0]));
            continue;
        }
        for (rule, want) in by_rule {
            let want: BTreeSet<usize> = want.as_array().unwrap().iter().filter_map(|x| x.as_u64().map(|x| x as usize)).collect();
            let mut got = BTreeSet::new();
            for (i, e) in events.iter().enumerate() {
                let event = ev(SourceKind::Generic, &e.to_string());
                if matches(&engine, &event, rule) {
                    got.insert(i);
                }
            }
            checked += 1;
            for i in want.symmetric_difference(&got) {
                if DIFFERENCES.iter().any(|d| d.0 == rule && d.1 == *i) {
                    continue;
                }
                let note = fx["event_notes"].get(*i).and_then(|n| n.as_str()).unwrap_or("");
                diffs.push(format!("{rule} event {i} ({note}): pySigma {}, stormwatch {}", want.contains(i), got.contains(i)));
            }
        }
    }
    println!("pySigma fixtures: {checked} rules checked, {} differences", diffs.len());
    for d in &diffs {
        println!("  {d}");
    }
    assert!(diffs.is_empty());
}

fn matches(engine: &Engine, event: &stormwatch_core::Event, rule: &str) -> bool {
    engine.matching_rule_ids(event).contains(&rule)
}
