//! `stormwatch hunt` keeps its output when detections spill to temporary files.

use crate::util::{example, stormwatch};

/// The `detections: …` line of the summary.
fn detections_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.starts_with("detections:"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn spilling_every_detection_gives_byte_identical_output_and_leaves_no_file() {
    let dir = example();
    let dir = dir.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let tmp_arg = tmp.path().to_str().unwrap();
    for format in ["jsonl", "csv", "table"] {
        let plain =
            stormwatch(["hunt", "--fail-on", "high", "--format", format, dir]).expect_status(1);
        assert!(
            plain.stdout.lines().count() > 20,
            "{format}: too few rows to test"
        );
        for spill_after in ["1", "7"] {
            let spilled = stormwatch([
                "hunt",
                "--fail-on",
                "high",
                "--spill-after",
                spill_after,
                "--tmp-dir",
                tmp_arg,
                "--format",
                format,
                dir,
            ])
            .expect_status(1);
            assert!(
                plain.stdout == spilled.stdout,
                "{format} output differs with --spill-after {spill_after}"
            );
            assert_eq!(
                detections_line(&plain.stderr),
                detections_line(&spilled.stderr)
            );
            let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
            assert!(left.is_empty(), "temporary files left: {left:?}");
        }
    }
}

#[test]
fn a_missing_temporary_directory_is_a_clear_error_before_reading() {
    let dir = example();
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let run = stormwatch([
        "hunt",
        "--spill-after",
        "1",
        "--tmp-dir",
        missing.to_str().unwrap(),
        "--format",
        "jsonl",
        dir.to_str().unwrap(),
    ])
    .expect_status(2);
    assert!(
        run.stderr.contains("--tmp-dir") && run.stderr.contains("missing"),
        "{}",
        run.stderr
    );
}
