//! Every SigmaHQ rule file loads or is rejected with a reason.

use std::path::PathBuf;

use stormwatch_sigma::{Engine, EngineOptions, RuleKind};

use crate::util::corpus;

fn files() -> Vec<PathBuf> {
    fn walk(d: &std::path::Path, out: &mut Vec<PathBuf>) {
        let mut es: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        es.sort();
        for e in es {
            if e.is_dir() {
                walk(&e, out);
            } else if matches!(e.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
                out.push(e);
            }
        }
    }
    let root = corpus().join("sigma-rules");
    let mut out = Vec::new();
    for d in [
        "deprecated",
        "other",
        "rules",
        "rules-compliance",
        "rules-dfir",
        "rules-emerging-threats",
        "rules-placeholder",
        "rules-threat-hunting",
        "unsupported",
    ] {
        if root.join(d).is_dir() {
            walk(&root.join(d), &mut out);
        }
    }
    out
}

#[test]
fn every_sigmahq_file_loads_or_is_rejected_with_a_reason() {
    let files = files();
    assert_eq!(files.len(), 4040, "rule files in the corpus");
    let (engine, errors) = Engine::from_paths(&files, &EngineOptions::default()).unwrap();
    let loaded = engine
        .rules()
        .iter()
        .filter(|r| r.kind == RuleKind::Detection)
        .count();
    let mut failed_files: Vec<&str> = errors.iter().map(|e| e.file.as_str()).collect();
    failed_files.sort_unstable();
    failed_files.dedup();
    println!(
        "loaded {loaded} detection rules; {} files rejected:",
        failed_files.len()
    );
    for e in &errors {
        println!("  {e}");
        assert!(!e.reason.is_empty());
    }
    // Every file is either loaded or rejected.
    let mut loaded_files: Vec<&str> = engine.rules().iter().map(|r| r.file.as_str()).collect();
    loaded_files.sort_unstable();
    loaded_files.dedup();
    assert_eq!(
        loaded_files.len()
            + failed_files
                .iter()
                .filter(|f| !loaded_files.contains(f))
                .count(),
        files.len()
    );
    assert_eq!(loaded, EXPECTED_LOADED, "detection rules loaded");
    // The rejected files: removed syntaxes and placeholder rules without values.
    let count = |pat: &str| {
        let mut f: Vec<&str> = errors
            .iter()
            .filter(|e| e.reason.contains(pat))
            .map(|e| e.file.as_str())
            .collect();
        f.sort_unstable();
        f.dedup();
        f.len()
    };
    assert_eq!(count("count()"), 54);
    assert_eq!(count("action: global"), 4);
    assert_eq!(count("Condition parse error"), 4);
    assert_eq!(count("placeholder"), 28);
    assert_eq!(failed_files.len(), 90);
    for e in &errors {
        let p = e.file.as_str();
        assert!(
            p.contains("/unsupported/")
                || p.contains("/deprecated/")
                || p.contains("rules-placeholder")
                || p.contains("/other/")
                || e.reason.contains("placeholder"),
            "unexpected rejection: {e}"
        );
    }
}

const EXPECTED_LOADED: usize = 3950;
