//! `stormwatch impact` against generator ground truth.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{example, scenario, stormwatch, truth_of};

fn message_set(orgs: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for o in orgs.as_array().unwrap() {
        for m in o["mailboxes"].as_array().unwrap() {
            for f in m["folders"].as_array().unwrap() {
                for msg in f["messages"].as_array().unwrap() {
                    out.insert((
                        m["mailbox"].as_str().unwrap().to_lowercase(),
                        msg["internet_message_id"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    out
}

fn whole_folders(orgs: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for o in orgs.as_array().unwrap() {
        for m in o["mailboxes"].as_array().unwrap() {
            for f in m["folders"].as_array().unwrap() {
                if f["whole_folder"].as_bool() == Some(true) {
                    out.insert((
                        m["mailbox"].as_str().unwrap().to_lowercase(),
                        f["path"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    out
}

fn all_limit_kinds(report: &Value) -> BTreeSet<String> {
    let mut kinds = BTreeSet::new();
    let mut push = |v: &Value| {
        for l in v.as_array().into_iter().flatten() {
            if let Some(k) = l["kind"].as_str() {
                kinds.insert(k.to_owned());
            }
        }
    };
    push(&report["limits"]);
    for o in report["organizations"].as_array().unwrap() {
        push(&o["limits"]);
        for m in o["mailboxes"].as_array().unwrap() {
            push(&m["limits"]);
        }
    }
    kinds
}

fn check_against_truth(report: &Value, truth: &Value, what: &str) {
    let got = message_set(&report["organizations"]);
    let want = message_set(&truth["organizations"]);
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: distinct (mailbox, message) count"
    );
    assert_eq!(got, want, "{what}: (mailbox, InternetMessageId) set");
    let wf_got = whole_folders(&report["organizations"]);
    let wf_want: BTreeSet<(String, String)> = truth["whole_folder_syncs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["mailbox"].as_str().unwrap().to_lowercase(),
                s["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(wf_got, wf_want, "{what}: whole-folder syncs");
    let kinds = all_limit_kinds(report);
    assert!(
        kinds.contains("throttled"),
        "{what}: throttled window reported: {kinds:?}"
    );
    assert!(
        kinds.contains("no_mail_audit"),
        "{what}: unaudited tenant reported: {kinds:?}"
    );
}

#[test]
fn example_from_hunt_matches_ground_truth() {
    let dir = example();
    let r = stormwatch([
        "impact",
        "--from-hunt",
        "--format",
        "json",
        dir.to_str().unwrap(),
    ])
    .expect_status(0);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    check_against_truth(&report, &truth_of(&dir), "example");
}

#[test]
fn seeded_by_ip_every_format_and_thread_count_agree() {
    let (dir, _) = scenario();
    let truth = truth_of(dir.path());
    let ip = truth["actor"]["ips"][0].as_str().unwrap().to_owned();
    let signins = dir.path().join("signins-azure-monitor");
    let mut first: Option<String> = None;
    for f in [
        "ndjson",
        "csv",
        "csv-legacy",
        "json-array",
        "sentinel",
        "graph-audit",
        "pretty",
        "defender",
    ] {
        for threads in ["1", "2"] {
            let r = stormwatch([
                "impact",
                "-q",
                "--actor-ip",
                &ip,
                "--threads",
                threads,
                "--format",
                "json",
                dir.path().join(f).to_str().unwrap(),
                signins.to_str().unwrap(),
            ])
            .expect_status(0);
            let report: Value = serde_json::from_str(&r.stdout).unwrap();
            check_against_truth(&report, &truth, &format!("{f} --threads {threads}"));
            // Audit-bypass limits quote the record's file and line, which differ by format.
            let mut orgs = report["organizations"].clone();
            for o in orgs.as_array_mut().unwrap() {
                if let Some(ls) = o.get_mut("limits").and_then(Value::as_array_mut) {
                    ls.retain(|l| l["kind"] != "audit_bypass");
                }
            }
            let orgs = serde_json::to_string(&orgs).unwrap();
            match &first {
                None => first = Some(orgs),
                Some(x) => assert_eq!(
                    x, &orgs,
                    "{f} --threads {threads}: per-org results differ from ndjson"
                ),
            }
        }
    }
}

#[test]
fn no_actor_is_a_usage_error() {
    let dir = example();
    stormwatch(["impact", dir.to_str().unwrap()]).expect_status(2);
}

#[test]
fn the_summary_on_stderr_agrees_with_the_report() {
    let dir = example();
    let run = stormwatch(["impact", "--from-hunt", dir.to_str().unwrap()]).expect_status(0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let orgs = report["organizations"].as_array().unwrap();
    let touched = orgs
        .iter()
        .filter(|o| o["first_access"].is_string())
        .count();
    let read = orgs
        .iter()
        .flat_map(|o| o["mailboxes"].as_array().unwrap())
        .filter(|m| {
            m["messages"].as_u64().unwrap_or(0) > 0
                || m["unlisted_binds"].as_u64().unwrap_or(0) > 0
                || m["folders"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["whole_folder"] == true)
        })
        .count();
    assert!(
        touched < orgs.len(),
        "an organisation is listed but not touched"
    );
    assert!(
        run.stderr
            .contains(&format!("in {read} mailboxes of {touched} organisations")),
        "{}",
        run.stderr
    );
}

#[test]
fn an_actor_ip_that_is_not_an_address_is_a_usage_error() {
    let dir = example();
    let run =
        stormwatch(["impact", "--actor-ip", "notanip", dir.to_str().unwrap()]).expect_status(2);
    assert!(
        run.stderr.contains("--actor-ip notanip: not an IP address"),
        "{}",
        run.stderr
    );
    stormwatch([
        "impact",
        "-q",
        "--actor-ip",
        "[2001:db8::1]:443",
        dir.to_str().unwrap(),
    ])
    .expect_status(0);
}

#[test]
fn from_hunt_with_nothing_to_seed_from_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("quiet.ndjson");
    std::fs::write(&f, "{\"CreationTime\":\"2023-06-01T00:00:00\",\"Operation\":\"FileAccessed\",\"Workload\":\"SharePoint\",\"RecordType\":6,\"Id\":\"x\"}\n").unwrap();
    let run = stormwatch(["impact", "--from-hunt", f.to_str().unwrap()]).expect_status(0);
    assert!(
        run.stderr
            .contains("--from-hunt found no high or critical detection"),
        "{}",
        run.stderr
    );
}
