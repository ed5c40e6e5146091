use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use stormwatch_gen::{Compression, Format, Scenario, ScenarioOptions, Truth};

pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) truth: Truth,
}

/// One scenario in every format, shared by the tests.
pub(crate) fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let s = Scenario::generate(&ScenarioOptions {
            seed: 11,
            ..ScenarioOptions::default()
        });
        s.write(dir.path(), &Format::ALL, Compression::None)
            .unwrap();
        let truth: Truth = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("truth/truth.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(&truth, s.truth());
        Fixture { dir, truth }
    })
}

pub(crate) fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Every JSON value in a file of concatenated or line-separated JSON.
pub(crate) fn json_values(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

/// The UAL records of the NDJSON output, by Id, in file order.
pub(crate) fn ndjson_records(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("ndjson/ual.ndjson")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn by_id(records: &[Value]) -> BTreeMap<String, Value> {
    records
        .iter()
        .map(|r| (r["Id"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// `(Name → Value)` of an `OperationProperties` array.
pub(crate) fn op_prop<'a>(r: &'a Value, name: &str) -> Option<&'a str> {
    r["OperationProperties"]
        .as_array()?
        .iter()
        .find(|p| p["Name"] == name)?["Value"]
        .as_str()
}
