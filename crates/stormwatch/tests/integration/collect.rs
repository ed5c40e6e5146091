//! `stormwatch collect` against the fake of Microsoft's APIs on loopback: the command as a user
//! runs it, a kill in the middle of a collection, and `hunt` and `impact` over the result.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use stormwatch_collect::fake::{FakeApi, Scenario};
use stormwatch_core::Timestamp;

const TENANT: &str = "41463f53-8812-40f4-890f-865bf6e35190";
const OTHER: &str = "f28ab78a-d401-4060-8012-736e373933eb";
const CLIENT: &str = "6e4a7c59-0b8e-4a49-9d6f-3f8a1c2b0d11";
const SECRET: &str = "fake-client-secret-for-the-cli-0123456789";
const SECRET_ENV: &str = "STORMWATCH_TEST_CLIENT_SECRET";

fn this_hour() -> Timestamp {
    let now = stormwatch_collect::now();
    Timestamp::from_unix_seconds(now.unix_seconds() / 3600 * 3600)
}

fn scenario(seed: u64, hours: i64) -> Scenario {
    Scenario::generate(seed, TENANT, SECRET, stormwatch_collect::now(), hours)
}

/// `stormwatch collect` against `fake` for the last `hours` whole hours, plus `extra` flags.
fn collect_cmd(fake: &FakeApi, out: &Path, hours: i64, extra: &[&str]) -> Command {
    let until = this_hour();
    let since = until.add_seconds(-hours * 3600);
    let url = fake.url();
    let mut c = Command::new(env!("CARGO_BIN_EXE_stormwatch"));
    c.args([
        "collect",
        "--client-id",
        CLIENT,
        "--client-secret-env",
        SECRET_ENV,
    ])
    .args(["--since", &since.to_string(), "--until", &until.to_string()])
    .arg("--out")
    .arg(out)
    .args([
        "--login-url",
        &url,
        "--manage-url",
        &url,
        "--graph-url",
        &url,
    ])
    .args([
        "--retry-base-ms",
        "5",
        "--poll-ms",
        "5",
        "--settle-secs",
        "0",
    ])
    .args(extra)
    .env(SECRET_ENV, SECRET)
    .env("NO_COLOR", "1")
    .stdin(Stdio::null());
    c
}

struct Ran {
    status: i32,
    stderr: String,
}

fn run(mut c: Command) -> Ran {
    let out = c.output().expect("run stormwatch");
    Ran {
        status: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every data file, decompressed, by path under the folder.
fn files(out: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, m: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, m);
            } else if p.to_string_lossy().ends_with(".ndjson.gz") {
                let mut s = String::new();
                flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap())
                    .read_to_string(&mut s)
                    .unwrap();
                m.insert(p.strip_prefix(root).unwrap().display().to_string(), s);
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(out, out, &mut m);
    m
}

fn manifest(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

fn lines(files: &BTreeMap<String, String>) -> usize {
    files.values().map(|t| t.lines().count()).sum()
}

#[test]
fn collect_then_hunt_and_impact_report_what_was_not_collected() {
    let mut sc = scenario(101, 3);
    sc.inject.forbidden.insert("Audit.Exchange".to_owned());
    sc.inject.throttle = 1;
    let actor_ip = sc.tenants[0].sign_ins[0]["ipAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("evidence");
    let ran = run(collect_cmd(
        &fake,
        &out,
        4,
        &["--tenant", TENANT, "--sources", "activity,graph"],
    ));
    assert_eq!(ran.status, 1, "windows were missing: {}", ran.stderr);
    assert_eq!(fake.violations(), Vec::<String>::new());
    assert!(ran.stderr.contains("not collected:"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!(
            "Exchange audit (Audit.Exchange) for tenant {TENANT}, "
        )),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("manifest: "), "{}", ran.stderr);
    assert!(!ran.stderr.contains(SECRET));

    let m = manifest(&out);
    let text = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(!text.contains(SECRET));
    assert_eq!(m["format"], "stormwatch-collect-manifest");
    let windows = m["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 7 * 4, "seven sources, four hours");
    for w in windows {
        for key in [
            "tenant",
            "source",
            "from",
            "to",
            "status",
            "reasons",
            "records_written",
        ] {
            assert!(w.get(key).is_some(), "window without {key}: {w}");
        }
        let expect = if w["source"] == "Audit.Exchange" {
            "missing"
        } else {
            "complete"
        };
        assert_eq!(w["status"], expect, "{w}");
    }
    let written = files(&out);
    assert_eq!(
        lines(&written) as u64,
        m["totals"]["records_written"].as_u64().unwrap()
    );

    // hunt reads every collected record (and not the manifest) and names the gap.
    let hunt = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["hunt", "--format", "jsonl"])
        .arg(&out)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&hunt.stderr);
    assert_eq!(hunt.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("{} records", lines(&written))),
        "hunt read a different number of records: {stderr}"
    );
    let gap =
        format!("note: evidence limit: Exchange audit (Audit.Exchange) for tenant {TENANT}, ");
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&gap))
        .unwrap_or_else(|| panic!("no evidence limit in: {stderr}"));
    assert!(
        line.contains("UTC: not collected: listing content failed: HTTP 403 AF10001"),
        "{line}"
    );

    // impact lists it among the limits of its report.
    let impact = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["impact", "--format", "json", "--actor-ip", &actor_ip])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        impact.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&impact.stderr)
    );
    let report: Value = serde_json::from_slice(&impact.stdout).unwrap();
    let limits = report["limits"].as_array().unwrap();
    let not_collected: Vec<&Value> = limits
        .iter()
        .filter(|l| l["kind"] == "not_collected")
        .collect();
    assert_eq!(not_collected.len(), 1, "{limits:#?}");
    assert!(
        not_collected[0]["detail"]
            .as_str()
            .unwrap()
            .contains("HTTP 403 AF10001")
    );
}

#[test]
fn a_collection_killed_midway_and_run_again_writes_what_an_uninterrupted_one_does() {
    let sc = scenario(102, 6);
    let mut hanging = sc.clone();
    hanging.inject.hang_after_blobs = Some(25);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    let args = ["--tenant", TENANT, "--sources", "activity,graph", "-q"];

    let fake1 = FakeApi::start(hanging).unwrap();
    let mut child = collect_cmd(&fake1, &out, 7, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake1.blobs_served() < 25 {
        assert!(Instant::now() < deadline, "the collection never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the collection ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Blob requests now hang: windows are open, their records spooled, not committed.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = files(&out);
    drop(fake1);

    let fake2 = FakeApi::start(sc.clone()).unwrap();
    let resumed = run(collect_cmd(&fake2, &out, 7, &args));
    assert_eq!(resumed.status, 0, "{}", resumed.stderr);
    assert_eq!(fake2.violations(), Vec::<String>::new());

    let clean = dir.path().join("clean");
    let fake3 = FakeApi::start(sc).unwrap();
    assert_eq!(run(collect_cmd(&fake3, &clean, 7, &args)).status, 0);

    let (resumed_files, clean_files) = (files(&out), files(&clean));
    assert!(
        lines(&partial) < lines(&clean_files),
        "the kill came mid-way"
    );
    assert_eq!(
        resumed_files, clean_files,
        "the same records, in the same files and order"
    );
    let statuses = |m: &Value| -> Vec<(String, String, String)> {
        m["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["source"].as_str().unwrap().to_owned(),
                    w["from"].as_str().unwrap().to_owned(),
                    w["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(statuses(&manifest(&out)), statuses(&manifest(&clean)));
    assert_eq!(
        manifest(&out)["totals"]["records_written"],
        manifest(&clean)["totals"]["records_written"]
    );
}

#[test]
fn many_tenants_from_a_tenants_file() {
    let mut sc = scenario(103, 2);
    let other = Scenario::generate(104, OTHER, SECRET, stormwatch_collect::now(), 2);
    sc.tenants.extend(other.tenants);
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tenants.toml");
    std::fs::write(
        &config,
        format!(
            "client_id = \"{CLIENT}\"\nclient_secret_env = \"{SECRET_ENV}\"\nsources = \"Audit.Exchange,signIns\"\n\n[[tenant]]\ntenant = \"{TENANT}\"\nname = \"Contoso\"\n\n[[tenant]]\ntenant = \"{OTHER}\"\nname = \"Fabrikam\"\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut c = collect_cmd(&fake, &out, 3, &[]);
    c.arg("--config").arg(&config);
    let ran = run(c);
    assert_eq!(ran.status, 0, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("(Contoso)") && ran.stderr.contains("(Fabrikam)"),
        "{}",
        ran.stderr
    );
    let m = manifest(&out);
    let tenants: Vec<&str> = m["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant"].as_str().unwrap())
        .collect();
    assert_eq!(tenants, [TENANT, OTHER]);
    let written = files(&out);
    let served: usize = fake
        .served()
        .values()
        .map(|v| {
            v.iter()
                .map(|r| r["Id"].as_str().or(r["id"].as_str()).unwrap().to_owned())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        })
        .sum();
    assert_eq!(lines(&written), served);
    assert!(written.keys().any(|k| k.starts_with(OTHER)));
}

#[test]
fn plain_http_to_a_remote_host_and_a_missing_secret_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ran = run({
        let mut c = Command::new(env!("CARGO_BIN_EXE_stormwatch"));
        c.args(["collect", "--tenant", TENANT, "--client-id", CLIENT])
            .args(["--client-secret-env", SECRET_ENV, "--since", "1d", "--out"])
            .arg(dir.path())
            .args(["--manage-url", "http://manage.example.com"])
            .env(SECRET_ENV, SECRET);
        c
    });
    assert_eq!(ran.status, 2);
    assert!(
        ran.stderr.contains(
            "--manage-url http://manage.example.com: plain http:// is accepted only for loopback"
        ),
        "{}",
        ran.stderr
    );
    let ran = run({
        let mut c = Command::new(env!("CARGO_BIN_EXE_stormwatch"));
        c.args(["collect", "--tenant", TENANT, "--client-id", CLIENT])
            .args(["--client-secret-env", "STORMWATCH_SURELY_UNSET_VARIABLE"])
            .args(["--since", "1d", "--out"])
            .arg(dir.path())
            .env_remove("STORMWATCH_SURELY_UNSET_VARIABLE");
        c
    });
    assert_eq!(ran.status, 2);
    assert!(
        ran.stderr.contains(
            "environment variable STORMWATCH_SURELY_UNSET_VARIABLE (the client secret) is not set"
        ),
        "{}",
        ran.stderr
    );
}
