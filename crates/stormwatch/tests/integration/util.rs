//! Running the binary and locating test data.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The workspace's `testdata/` (public samples; see its PROVENANCE.md). Panics, naming the
/// path, when it is missing: a test never passes without its data.
pub(crate) fn corpus() -> PathBuf {
    let dir = root().join("testdata");
    assert!(
        dir.join("logs").is_dir(),
        "test data missing: {}",
        dir.display()
    );
    dir
}

/// The committed example scenario.
pub(crate) fn example() -> PathBuf {
    root().join("examples/storm-0558")
}

/// One finished run of the binary.
pub(crate) struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `stormwatch ARGS...` with no standard input.
pub(crate) fn stormwatch<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out: Output = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(args)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .output()
        .expect("run stormwatch");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Run {
    /// Assert the exit status, showing stderr when it differs.
    pub(crate) fn expect_status(self, code: i32) -> Run {
        assert_eq!(
            self.status,
            code,
            "stderr:\n{}\nstdout (start):\n{}",
            self.stderr,
            &self.stdout[..self.stdout.len().min(2000)]
        );
        self
    }

    /// The `"type": "detection"` lines of a JSONL run (incident lines left out); every line
    /// must say its type.
    pub(crate) fn detections(&self) -> Vec<Value> {
        let all = self.jsonl();
        for l in &all {
            assert!(
                matches!(l["type"].as_str(), Some("detection" | "incident")),
                "line without a type: {l}"
            );
        }
        all.into_iter()
            .filter(|l| l["type"] == "detection")
            .collect()
    }

    /// The `"type": "incident"` lines of a JSONL run.
    pub(crate) fn incidents(&self) -> Vec<Value> {
        self.jsonl()
            .into_iter()
            .filter(|l| l["type"] == "incident")
            .collect()
    }

    /// Parse stdout as JSON lines.
    pub(crate) fn jsonl(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSONL line {l:?}: {e}"))
            })
            .collect()
    }
}

/// The ground truth of a generated scenario.
pub(crate) fn truth_of(dir: &Path) -> Value {
    let mut p = dir.join("truth/truth.json");
    if !p.exists() {
        p = stormwatch_gen::example_truth_path(dir);
    }
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

/// A generated scenario in every format (made once per test run).
pub(crate) fn scenario() -> &'static (tempfile::TempDir, Vec<String>) {
    static S: OnceLock<(tempfile::TempDir, Vec<String>)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let s = stormwatch_gen::Scenario::generate(&stormwatch_gen::ScenarioOptions {
            seed: 11,
            ..stormwatch_gen::ScenarioOptions::default()
        });
        s.write(
            dir.path(),
            &stormwatch_gen::Format::ALL,
            stormwatch_gen::Compression::None,
        )
        .unwrap();
        let mut formats: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir() && e.file_name() != "truth")
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        formats.sort();
        (dir, formats)
    })
}

/// Record ids of every event behind detections at or above high.
pub(crate) fn high_record_ids(detections: &[Value]) -> BTreeSet<String> {
    detections
        .iter()
        .filter(|d| matches!(d["level"].as_str(), Some("high" | "critical")))
        .flat_map(|d| d["events"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["record_id"].as_str().map(str::to_owned))
        .collect()
}

/// Strings of a JSON array.
pub(crate) fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
