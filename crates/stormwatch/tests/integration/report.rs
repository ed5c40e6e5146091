//! `stormwatch hunt`'s report as a user reads it: the first screen names the incident, the
//! filters and explanations hold in every format, and empty or filtered-out input says so.

use std::collections::BTreeSet;

use crate::util::{example, stormwatch, strings, truth_of};

/// The mailboxes the planted actor read and the IPs it used, from the example's truth.
fn actor_names() -> (BTreeSet<String>, BTreeSet<String>) {
    let truth = truth_of(&example());
    let mailboxes = truth["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["mailboxes"].as_array().unwrap().iter())
        .map(|m| m["mailbox"].as_str().unwrap().to_lowercase())
        .collect();
    (mailboxes, strings(&truth["actor"]["ips"]))
}

#[test]
fn the_first_incident_block_names_the_actors_mailboxes_and_ips() {
    let run = stormwatch(["hunt", example().to_str().unwrap()]).expect_status(0);
    let out = &run.stdout;
    let inc = out.find("INC-0001").expect("an incident");
    let next = out[inc + 1..]
        .find("INC-0002")
        .map_or(out.len(), |i| inc + 1 + i);
    let dets = out.find("DETECTIONS").unwrap();
    assert!(inc < dets, "the incidents come before the detections");
    let block = &out[inc..next.min(dets)];
    assert!(
        block.lines().next().unwrap().contains("CRITICAL"),
        "most severe first: {block}"
    );
    let (mailboxes, ips) = actor_names();
    for m in &mailboxes {
        assert!(
            block.contains(m.as_str()),
            "mailbox {m} not named:\n{block}"
        );
    }
    for ip in &ips {
        assert!(block.contains(ip.as_str()), "IP {ip} not named:\n{block}");
    }
    // Within the first screen of a terminal: the incident starts in the first lines.
    let line = out[..inc].lines().count();
    assert!(line < 10, "first incident on line {line}");
    // Then the detections, most severe first.
    let crit = out.find("── CRITICAL").unwrap();
    let low = out.find("── LOW").unwrap();
    assert!(dets < crit && crit < low);
}

#[test]
fn min_level_high_holds_only_high_and_critical_in_every_format() {
    let dir = example();
    let dir = dir.to_str().unwrap();
    let jsonl = stormwatch(["hunt", "--min-level", "high", "-f", "jsonl", dir]).expect_status(0);
    let lines = jsonl.jsonl();
    assert!(lines.len() > 20);
    for l in &lines {
        assert!(
            matches!(l["level"].as_str(), Some("high" | "critical")),
            "{l}"
        );
    }
    assert!(
        jsonl.stderr.contains("below it left out (--min-level)"),
        "{}",
        jsonl.stderr
    );
    let csv = stormwatch(["hunt", "-q", "--min-level", "high", "-f", "csv", dir]).expect_status(0);
    let mut rdr = csv::Reader::from_reader(csv.stdout.as_bytes());
    let level = rdr
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "level")
        .unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.len(),
        lines.iter().filter(|l| l["type"] == "detection").count()
    );
    assert!(
        rows.iter()
            .all(|r| matches!(&r[level], "high" | "critical"))
    );
    let table = stormwatch(["hunt", "-q", "--min-level", "high", dir]).expect_status(0);
    for banned in ["── MEDIUM", "── LOW", "── INFORMATIONAL"] {
        assert!(!table.stdout.contains(banned), "{banned} in the table");
    }
    let rows: Vec<&str> = table
        .stdout
        .lines()
        .filter(|l| l.starts_with("2023-"))
        .collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r.contains(" high ") || r.contains(" critical ")),
        "a row below high"
    );
    assert!(
        table.stdout.contains("below high left out") && table.stdout.contains("--min-level"),
        "the table says what it left out and how to see it"
    );
    let html = tempfile::NamedTempFile::new().unwrap();
    let path = html.path().to_str().unwrap();
    stormwatch([
        "hunt",
        "-q",
        "--min-level",
        "high",
        "-f",
        "html",
        "-o",
        path,
        dir,
    ])
    .expect_status(0);
    let page = std::fs::read_to_string(path).unwrap();
    assert!(!page.contains("data-level=\"2\"") && !page.contains("data-level=\"1\""));
}

#[test]
fn every_jsonl_detection_explains_itself_and_incidents_are_listed() {
    let run =
        stormwatch(["hunt", "-q", "-f", "jsonl", example().to_str().unwrap()]).expect_status(0);
    let dets = run.detections();
    assert!(dets.iter().any(|d| d["source"] == "sigma"));
    for d in &dets {
        let e = d["explanation"].as_str().unwrap_or_default();
        assert!(!e.trim().is_empty(), "no explanation: {d}");
    }
    // A Sigma detection says which field and value matched.
    let rest = dets
        .iter()
        .find(|d| {
            d["source"] == "sigma" && d["rule_title"] == "Mailbox Items Read Through the REST API"
        })
        .expect("the REST rule fires on the example");
    let e = rest["explanation"].as_str().unwrap();
    assert!(
        e.contains("Operation = MailItemsAccessed") && e.contains("ClientInfoString = Client=REST"),
        "{e}"
    );
    let incidents = run.incidents();
    assert!(!incidents.is_empty());
    let ids: BTreeSet<&str> = incidents
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    for i in &incidents {
        for key in ["id", "level", "first", "last"] {
            assert!(i[key].is_string(), "{key}: {i}");
        }
        for key in ["tenants", "mailboxes", "users", "ips", "sessions", "apps"] {
            assert!(
                i[key]
                    .as_array()
                    .is_some_and(|a| a.iter().all(serde_json::Value::is_string)),
                "{key}: {i}"
            );
        }
    }
    // The incidents come first; detections name theirs, and only incidents that exist.
    let lines = run.jsonl();
    let first_det = lines.iter().position(|l| l["type"] == "detection").unwrap();
    assert!(lines[..first_det].iter().all(|l| l["type"] == "incident"));
    let tied: Vec<&serde_json::Value> = dets
        .iter()
        .filter(|d| d.get("incident_id").is_some())
        .collect();
    assert!(
        tied.iter().any(|d| d["source"] == "sigma"),
        "Sigma detections in the actor's sessions join the incident"
    );
    assert!(
        tied.iter()
            .all(|d| ids.contains(d["incident_id"].as_str().unwrap()))
    );
    let (mailboxes, ips) = actor_names();
    let top = &incidents[0];
    assert_eq!(top["level"], "critical");
    assert_eq!(
        strings(&top["ips"]),
        ips,
        "the top incident's IPs are the actor's"
    );
    let named: BTreeSet<String> = strings(&top["mailboxes"])
        .into_iter()
        .map(|m| m.to_lowercase())
        .collect();
    assert!(
        mailboxes.is_subset(&named),
        "{mailboxes:?} not in {named:?}"
    );
}

#[test]
fn incidents_csv_has_one_row_per_incident_with_every_name() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("incidents.csv");
    let run = stormwatch([
        "hunt",
        "-q",
        "-f",
        "jsonl",
        "--incidents-csv",
        csv_path.to_str().unwrap(),
        example().to_str().unwrap(),
    ])
    .expect_status(0);
    let incidents = run.incidents();
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), incidents.len());
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    assert_eq!(&rows[0][col("id")], "INC-0001");
    let (mailboxes, ips) = actor_names();
    for ip in &ips {
        assert!(rows[0][col("ips")].contains(ip.as_str()));
    }
    for m in &mailboxes {
        assert!(
            rows[0][col("mailboxes")]
                .to_lowercase()
                .contains(m.as_str())
        );
    }
}

#[test]
fn the_table_fits_the_width_and_never_cuts_file_line_or_mailbox() {
    let at = |columns: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stormwatch"))
            .args(["hunt", "-q"])
            .arg(example())
            .env("COLUMNS", columns)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    // Not a terminal: 160 columns unless COLUMNS says otherwise.
    let default = stormwatch(["hunt", "-q", example().to_str().unwrap()])
        .expect_status(0)
        .stdout;
    assert_eq!(default, at("160"));
    for width in [120, 160, 100] {
        let text = at(&width.to_string());
        let lines: Vec<&str> = text.lines().collect();
        let mut rows = 0;
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with("2023-") {
                continue;
            }
            rows += 1;
            // The location is whole, a file name, a colon and a line number: at the end of the
            // row, or (narrow) at the start of the line under it.
            let under = lines.get(i + 1).copied().unwrap_or_default().trim_start();
            let location = if line.contains(".gz:") {
                line.rsplit("  ").next().unwrap_or_default()
            } else {
                under.split(" · ").next().unwrap_or_default()
            };
            let (file, rest) = location
                .split_once(".gz:")
                .unwrap_or_else(|| panic!("{width}: no location for {line:?} / {under:?}"));
            assert!(!file.contains('…') && !file.is_empty(), "{location}");
            let n = rest.split(' ').next().unwrap_or_default();
            assert!(n.parse::<u64>().is_ok(), "line number cut: {location}");
        }
        assert!(rows > 900, "{width}: {rows} rows");
        // Rows with a mailbox show it whole; with room, the acting user follows.
        assert!(
            text.contains(" liam.rossi@agency.example "),
            "the mailbox whole"
        );
        if width >= 120 {
            assert!(
                text.contains("liam.rossi@agency.example ← svc-"),
                "mailbox ← user"
            );
            // Nothing wider than the terminal.
            for l in &lines {
                assert!(l.chars().count() <= width, "{width}: {l}");
            }
        }
        let why = lines.iter().filter(|l| l.contains("why: ")).count();
        assert!(why > 900, "an explanation line under the rows");
    }
    let wide = stormwatch(["hunt", "-q", "--wide", example().to_str().unwrap()]).expect_status(0);
    assert!(
        !wide
            .stdout
            .lines()
            .any(|l| l.starts_with("2023-") && l.contains('…'))
    );
}

fn quiet_file(dir: &std::path::Path) -> std::path::PathBuf {
    let f = dir.join("quiet.ndjson");
    std::fs::write(
        &f,
        "{\"CreationTime\":\"2023-06-01T00:00:00\",\"Operation\":\"FileAccessed\",\"Workload\":\"SharePoint\",\"RecordType\":6,\"Id\":\"x\",\"OrganizationId\":\"t1\",\"UserId\":\"a@agency.example\"}\n",
    )
    .unwrap();
    f
}

#[test]
fn empty_input_warns_and_fail_on_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty_dir = dir.path().join("nothing");
    std::fs::create_dir(&empty_dir).unwrap();
    let empty_file = dir.path().join("empty.json");
    std::fs::write(&empty_file, "").unwrap();
    let binary = dir.path().join("program");
    std::fs::write(
        &binary,
        b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe\x00binary\x00\x01",
    )
    .unwrap();
    for (input, cause) in [
        (&empty_dir, "no input file found"),
        (&empty_file, "no record in the input"),
        (&binary, "no record could be read"),
    ] {
        let p = input.to_str().unwrap();
        let run = stormwatch(["hunt", "-f", "jsonl", p]).expect_status(0);
        assert!(
            run.stderr.contains("warning: ") && run.stderr.contains(cause),
            "{p}: {}",
            run.stderr
        );
        let gated = stormwatch(["hunt", "-q", "--fail-on", "high", p]).expect_status(2);
        assert!(gated.stdout.is_empty() || !gated.stdout.contains("INC-"));
    }
    // A filter that leaves out every record says which.
    let quiet = quiet_file(dir.path());
    let run = stormwatch([
        "hunt",
        "-f",
        "jsonl",
        "--tenant",
        "other.example",
        quiet.to_str().unwrap(),
    ])
    .expect_status(0);
    assert!(
        run.stderr.contains("left out every one of the 1 records")
            && run.stderr.contains("--tenant other.example"),
        "{}",
        run.stderr
    );
    stormwatch([
        "hunt",
        "-q",
        "--fail-on",
        "high",
        "--since",
        "2024-01-01",
        quiet.to_str().unwrap(),
    ])
    .expect_status(2);
    // A run that read records and found nothing at the level passes.
    stormwatch(["hunt", "-q", "--fail-on", "high", quiet.to_str().unwrap()]).expect_status(0);
}

#[test]
fn tenant_takes_a_domain_seen_in_the_records() {
    let dir = example();
    let dir = dir.to_str().unwrap();
    let truth = truth_of(&example());
    let agency = truth["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["domain"] == "agency.example")
        .unwrap()["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_domain =
        stormwatch(["hunt", "-f", "jsonl", "--tenant", "agency.example", dir]).expect_status(0);
    let by_id = stormwatch(["hunt", "-f", "jsonl", "--tenant", &agency, dir]).expect_status(0);
    let dets = by_domain.detections();
    assert!(!dets.is_empty(), "{}", by_domain.stderr);
    assert!(
        !by_domain.stderr.contains("warning:"),
        "{}",
        by_domain.stderr
    );
    // Every record of the tenant is kept (its sign-ins too), none of the other tenants'.
    let tenants: BTreeSet<&str> = dets.iter().filter_map(|d| d["tenant"].as_str()).collect();
    assert_eq!(tenants, BTreeSet::from([agency.as_str()]));
    let records = |r: &crate::util::Run| {
        r.stderr
            .lines()
            .find(|l| l.starts_with("left out by"))
            .map(str::to_owned)
    };
    assert_eq!(records(&by_domain), records(&by_id));
    assert_eq!(by_domain.detections().len(), by_id.detections().len());
}
