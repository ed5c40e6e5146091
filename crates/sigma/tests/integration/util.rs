use std::path::{Path, PathBuf};
use std::sync::Arc;

use stormwatch_core::{Event, Location, SourceKind, Timestamp};
use stormwatch_sigma::{Engine, EngineOptions, RuleLoadError};

/// The workspace's `testdata/` (SigmaHQ rules and regression data, public log samples; see
/// its PROVENANCE.md). Panics, naming the path, when it is not there: a test never passes
/// without its data.
pub(crate) fn corpus() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    assert!(
        dir.join("sigma-rules").is_dir(),
        "test data missing: {} (the repository's testdata/ folder)",
        dir.display()
    );
    dir
}

/// A fixture directory of this crate; panics, naming it, when it is missing.
pub(crate) fn fixtures(rel: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    assert!(dir.exists(), "test fixture missing: {}", dir.display());
    dir
}

pub(crate) fn engine(yaml: &str) -> Engine {
    let (e, errs) = Engine::from_sources(
        &[("rule.yml".into(), yaml.into())],
        &EngineOptions::default(),
    )
    .unwrap();
    assert!(errs.is_empty(), "{errs:?}");
    e
}

pub(crate) fn engine_opts(yaml: &str, opts: &EngineOptions) -> (Engine, Vec<RuleLoadError>) {
    Engine::from_sources(&[("rule.yml".into(), yaml.into())], opts).unwrap()
}

pub(crate) fn ev(source: SourceKind, raw: &str) -> Event {
    Event {
        source,
        raw: raw.into(),
        ..Event::default()
    }
}

pub(crate) fn ev_at(source: SourceKind, raw: &str, secs: i64, line: u64) -> Event {
    Event {
        source,
        raw: raw.into(),
        time: Some(Timestamp::from_unix_seconds(secs)),
        loc: Location {
            file: Arc::from("t.json"),
            line,
            record_id: None,
        },
        ..Event::default()
    }
}

pub(crate) fn hits(e: &Engine, ev: &Event) -> usize {
    let mut out = Vec::new();
    e.scan(ev, &mut out);
    out.len()
}

/// Generic JSON record matched against a one-rule engine.
pub(crate) fn m(e: &Engine, raw: &str) -> bool {
    hits(e, &ev(SourceKind::Generic, raw)) > 0
}

/// Every JSON document of a file (arrays are flattened; concatenated documents allowed).
pub(crate) fn json_docs(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
        match v.unwrap() {
            serde_json::Value::Array(a) => out.extend(a),
            o => out.push(o),
        }
    }
    out
}
