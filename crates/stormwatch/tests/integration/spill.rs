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

#[cfg(unix)]
#[test]
fn an_interrupted_hunt_removes_its_temporary_files() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    // Records arrive on standard input, which stays open: the run is still reading when it
    // is interrupted, after its first detections have spilled to the temporary directory.
    let (scen, _) = crate::util::scenario();
    let ual = std::fs::read(scen.path().join("ndjson/ual.ndjson")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["hunt", "-q", "--spill-after", "1", "--tmp-dir"])
        .arg(tmp.path())
        .args(["--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // More than one batch (4 MiB), so that the first is processed while input is pending.
    for _ in 0..3 {
        stdin.write_all(&ual).unwrap();
    }
    stdin.flush().unwrap();
    let started = Instant::now();
    let spilled = loop {
        let runs = walk(tmp.path());
        if runs
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "bin"))
        {
            break true;
        }
        if started.elapsed() > Duration::from_secs(60) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(spilled, "no run was spilled");
    // The shell's own `kill` (a `kill` program is not on every machine).
    let kill = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(kill.success());
    // Standard input stays open: only the interrupt can end the run (bounded wait).
    let waited = Instant::now();
    while child.try_wait().unwrap().is_none() && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    let left = walk(tmp.path());
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

/// Every path under `dir`.
#[cfg(unix)]
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// A process id that is no longer running: a child that has been waited for.
#[cfg(target_os = "linux")]
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("sh")
        .args(["-c", "exit 0"])
        .spawn()
        .unwrap();
    let pid = child.id();
    child.wait().unwrap();
    assert!(!std::path::Path::new("/proc").join(pid.to_string()).exists());
    pid
}

#[cfg(target_os = "linux")]
#[test]
fn temporary_files_of_a_killed_run_are_removed_by_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let stale = tmp
        .path()
        .join(format!("stormwatch-spool-{}-Ab12Cd", dead_pid()));
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("run-0.bin"), b"left by a killed run").unwrap();
    // A live process's directory and other files are left alone.
    let live = tmp
        .path()
        .join(format!("stormwatch-spool-{}-Ef34Gh", std::process::id()));
    std::fs::create_dir(&live).unwrap();
    let other = tmp.path().join("stormwatch-spool-notes");
    std::fs::create_dir(&other).unwrap();

    let dir = example();
    let run = stormwatch([
        "hunt",
        "--format",
        "jsonl",
        "--tmp-dir",
        tmp.path().to_str().unwrap(),
        dir.to_str().unwrap(),
    ])
    .expect_status(0);
    assert!(!stale.exists(), "the killed run's directory is still there");
    assert!(live.exists() && other.exists());
    assert!(
        run.stderr.contains("removed 1 temporary directory left in"),
        "{}",
        run.stderr
    );
}
