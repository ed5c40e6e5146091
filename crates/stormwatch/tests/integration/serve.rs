//! `stormwatch serve` as users run it: a process on a loopback port, fed over HTTP, killed
//! and restarted, delivering to a local webhook receiver.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve_util::{
    Mode, Rng, Serve, alert_key, arrival_batches, body, receiver, request, scenario, signed,
    wait_until,
};
use crate::util::stormwatch;

/// Decisions depend on records, not on wall-clock time: the watermark moves only with
/// records, the analytics decide on every hour.
const DETERMINISTIC: &str =
    "[detect]\nclock_advance_after = \"0\"\nmin_decide_interval = \"0\"\ndecide_share = 0.0\n";

/// What `hunt --format jsonl` says about some records.
struct Hunt {
    /// Detections as (rule, records) keys, with how many.
    detections: BTreeMap<(String, Vec<String>), usize>,
    /// The incident of each detection (by key), when it has one.
    incident_of: BTreeMap<(String, Vec<String>), Option<String>>,
    /// Incident ids.
    incidents: BTreeSet<String>,
}

/// `hunt`'s detections and incidents over `files`.
fn hunt(files: &[std::path::PathBuf]) -> Hunt {
    let mut args = vec!["hunt".to_owned(), "-q".into(), "-f".into(), "jsonl".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let run = stormwatch(&args).expect_status(0);
    let mut h = Hunt {
        detections: BTreeMap::new(),
        incident_of: BTreeMap::new(),
        incidents: BTreeSet::new(),
    };
    for d in run.jsonl() {
        match d.get("type").and_then(Value::as_str) {
            Some("incident") => {
                h.incidents
                    .insert(d["id"].as_str().unwrap_or_default().to_owned());
            }
            Some("detection") | None => {
                let k = alert_key(&d);
                h.incident_of
                    .insert(k.clone(), d["incident_id"].as_str().map(str::to_owned));
                *h.detections.entry(k).or_default() += 1;
            }
            Some(_) => {}
        }
    }
    h
}

fn keys(alerts: &[Value]) -> BTreeMap<(String, Vec<String>), usize> {
    let mut out = BTreeMap::new();
    for a in alerts {
        *out.entry(alert_key(a)).or_default() += 1;
    }
    out
}

fn diff(
    a: &BTreeMap<(String, Vec<String>), usize>,
    b: &BTreeMap<(String, Vec<String>), usize>,
) -> String {
    let only = |x: &BTreeMap<(String, Vec<String>), usize>,
                y: &BTreeMap<(String, Vec<String>), usize>| {
        x.iter()
            .filter(|(k, n)| y.get(*k) != Some(n))
            .take(5)
            .map(|((r, ids), n)| format!("{r} x{n} over {} records", ids.len()))
            .collect::<Vec<_>>()
    };
    format!(
        "only in serve: {:?}\nonly in hunt: {:?}",
        only(a, b),
        only(b, a)
    )
}

#[test]
fn end_to_end_alerts_equal_hunts_detections() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario(&tmp.path().join("scenario"), 23, 2, 8);
    let h = hunt(&sc.files);
    let expected = &h.detections;
    assert!(
        expected.len() > 100,
        "a scenario with detections: {}",
        expected.len()
    );
    // Decisions on every hour of event time, as hunt's: the generated scenario spans more
    // than the 30 days of history the detector keeps, and a detection is told before its
    // first records age out only when its hours are decided before the day they do.
    let serve = Serve::start(tmp.path(), DETERMINISTIC);
    let mut rng = Rng::new(7);
    let batches = arrival_batches(&sc.records, 150, 8, &mut rng);
    let mut sent = 0;
    for (n, b) in batches.iter().enumerate() {
        let (bytes, headers) = body(b, n);
        let a = serve.ingest(&bytes, &headers).unwrap();
        assert_eq!(
            a.status,
            200,
            "batch {n}: {}",
            String::from_utf8_lossy(&a.body)
        );
        let v = a.json();
        assert_eq!(
            v["accepted"].as_u64(),
            Some(b.len() as u64),
            "batch {n}: {v}"
        );
        assert_eq!(v["skipped"], 0);
        sent += b.len();
    }
    assert_eq!(sent, sc.records.len());
    serve.flush();
    let alerts = serve.alerts(false);
    let got = keys(&alerts);
    assert!(got == *expected, "{}", diff(&got, expected));
    // Every alert has the contract's fields, and alerts are grouped into incidents as hunt
    // groups them: one serve incident for each of hunt's, holding the same alerts. (Serve's
    // ids stay while an incident's earliest detection does; hunt numbers its incidents
    // most severe first.)
    let mut serve_to_hunt: BTreeMap<String, String> = BTreeMap::new();
    let mut tied = 0;
    for a in &alerts {
        for k in [
            "id",
            "rule_id",
            "rule_title",
            "level",
            "timestamp",
            "status",
            "incident_id",
            "events",
        ] {
            assert!(a.get(k).is_some(), "{k} missing: {a}");
        }
        assert_eq!(a["status"], "new", "{a}");
        let want = h.incident_of.get(&alert_key(a)).cloned().flatten();
        let have = a["incident_id"].as_str().map(str::to_owned);
        match (&have, &want) {
            (Some(s), Some(w)) => {
                let mapped = serve_to_hunt.entry(s.clone()).or_insert_with(|| w.clone());
                assert_eq!(
                    mapped, w,
                    "{} {} is in serve's {s} with alerts of hunt's {mapped}, but hunt puts it in {w}",
                    a["rule_id"], a["id"]
                );
                tied += 1;
            }
            (None, None) => {}
            _ => panic!(
                "{} {}: in incident {have:?} in serve, {want:?} in hunt",
                a["rule_id"], a["id"]
            ),
        }
    }
    assert!(tied > 0, "some alerts belong to incidents");
    let hunt_ids: BTreeSet<&String> = serve_to_hunt.values().collect();
    assert_eq!(hunt_ids.len(), serve_to_hunt.len(), "{serve_to_hunt:?}");
    // The incidents listed are those, and hunt has no other with alerts.
    let listed = serve
        .call("GET", "/api/v1/incidents?limit=1000", b"")
        .json();
    let ids: BTreeSet<String> = listed["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let tying: BTreeSet<String> = serve_to_hunt.keys().cloned().collect();
    assert_eq!(
        ids, tying,
        "incidents listed, then incidents alerts are tied to"
    );
    let hunt_tying: BTreeSet<&String> = h.incident_of.values().flatten().collect();
    assert_eq!(hunt_ids, hunt_tying);
    assert_eq!(h.incidents.len(), ids.len(), "{:?}", h.incidents);
    assert_eq!(serve.terminate(), Some(0));
}

#[test]
fn kill_9_at_random_points_loses_nothing_and_alerts_nothing_twice() {
    kill_9_at_random_points(DETERMINISTIC);
}

/// The same with the analytics deciding on their thread while records go on being taken
/// (the service's default): checkpoints are taken between decisions. With history kept
/// longer than the scenario, what is decided at the end does not depend on when the
/// decisions before it were made.
#[test]
fn kill_9_with_decisions_in_the_background_loses_nothing() {
    kill_9_at_random_points(
        "[detect]\nclock_advance_after = \"0\"\nhorizon = \"365d\"\nmin_decide_interval = \"0\"\ndecide_share = 0.5\n",
    );
}

#[allow(clippy::too_many_lines)]
fn kill_9_at_random_points(detect: &str) {
    const SECRET: &str = "a-webhook-secret-for-tests";
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario(&tmp.path().join("scenario"), 31, 2, 6);
    let mut rng = Rng::new(11);
    let batches = arrival_batches(&sc.records, 60, 6, &mut rng);
    let config = |port: u16| {
        format!(
            "{detect}checkpoint_interval = \"1s\"\n\
             [[sinks]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret = \"{SECRET}\"\n\
             min_level = \"informational\"\ntimeout = \"2s\"\nbackoff_initial = \"100ms\"\nbackoff_max = \"1s\"\n"
        )
    };

    // The run that is never interrupted.
    let calm_rx = receiver(Mode::Accept);
    let calm_dir = tmp.path().join("calm");
    std::fs::create_dir_all(&calm_dir).unwrap();
    let calm = Serve::start(&calm_dir, &config(calm_rx.port));
    for (n, b) in batches.iter().enumerate() {
        let (bytes, headers) = body(b, n);
        assert_eq!(calm.ingest(&bytes, &headers).unwrap().status, 200);
    }
    calm.flush();
    let calm_alerts = calm.alerts(false);
    let calm_ids: BTreeSet<String> = calm_alerts
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(calm.terminate(), Some(0));

    // The run killed with SIGKILL at random points, as requests are under way or just answered.
    let rx = receiver(Mode::Accept);
    let dir = tmp.path().join("crash");
    std::fs::create_dir_all(&dir).unwrap();
    let mut serve = Serve::start(&dir, &config(rx.port));
    let mut kill_at: BTreeSet<usize> = BTreeSet::new();
    while kill_at.len() < 22 {
        kill_at.insert(usize::try_from(rng.below(batches.len() as u64)).unwrap());
    }
    let mut answered = 0usize;
    let mut kills = 0;
    let started = Instant::now();
    for (n, b) in batches.iter().enumerate() {
        let (bytes, headers) = body(b, n);
        if kill_at.contains(&n) {
            let port = serve.port;
            let token = serve.token.clone();
            let (bytes2, headers2) = (bytes.clone(), headers.clone());
            let inflight = std::thread::spawn(move || {
                request(
                    port,
                    "POST",
                    "/api/v1/ingest",
                    Some(&token),
                    &headers2,
                    &bytes2,
                )
            });
            std::thread::sleep(Duration::from_millis(rng.below(40)));
            serve = serve.crash_and_restart();
            kills += 1;
            if let Ok(Ok(a)) = inflight.join()
                && a.status == 200
            {
                answered += 1;
            }
        }
        // A client sends again what it has no answer for (and here, what it has one for too).
        let a = serve.ingest(&bytes, &headers).unwrap();
        assert_eq!(
            a.status,
            200,
            "batch {n}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(a.json()["accepted"].as_u64(), Some(b.len() as u64));
    }
    assert!(kills >= 20);
    eprintln!(
        "crash run: {kills} kills, {answered} answered just before a kill, {:.1}s",
        started.elapsed().as_secs_f64()
    );
    serve.flush();
    let alerts = serve.alerts(true);
    // Every record is there once: the journal holds as many new records as were sent.
    let sources = serve.call("GET", "/api/v1/sources", b"").json();
    let total: u64 = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["records"].as_u64().unwrap())
        .sum();
    assert_eq!(total, sc.records.len() as u64);
    let resent: u64 = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["duplicates"].as_u64().unwrap())
        .sum();
    eprintln!(
        "crash run: {resent} records sent again were recognised (their first sending was durable)"
    );
    let live: Vec<&Value> = alerts.iter().filter(|a| a["withdrawn"] == false).collect();
    let ids: Vec<String> = alerts
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "an alert id is stored twice");
    let live_ids: BTreeSet<String> = live
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        live_ids == calm_ids,
        "the final alerts differ from the uninterrupted run's: {} vs {}",
        live_ids.len(),
        calm_ids.len()
    );
    assert_eq!(
        keys(&live.iter().map(|a| (*a).clone()).collect::<Vec<_>>()),
        keys(&calm_alerts)
    );

    // The webhook received every live alert, signed; a message seen twice is the same one.
    wait_until(120, "the webhook outbox to drain", || {
        serve.metric("stormwatch_sink_queue{sink=\"webhook\"}") == Some(0.0)
    });
    let got = rx.got.lock().unwrap().clone();
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    let mut seen: BTreeMap<(String, u64), Vec<u8>> = BTreeMap::new();
    for d in &got {
        assert!(signed(d, SECRET), "bad signature");
        let v: Value = serde_json::from_slice(&d.body).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        assert_eq!(d.headers.get("idempotency-key"), Some(&id));
        let rev = v["revision"].as_u64().unwrap();
        if let Some(prev) = seen.insert((id.clone(), rev), d.body.clone()) {
            assert_eq!(
                prev, d.body,
                "two different messages for {id} revision {rev}"
            );
        }
        let newer = last
            .get(&id)
            .is_none_or(|p| p["revision"].as_u64() <= Some(rev));
        if newer {
            last.insert(id, v);
        }
    }
    let delivered: BTreeSet<String> = last
        .iter()
        .filter(|(_, v)| v["type"] != "alert.withdrawn")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(
        delivered == live_ids,
        "webhook: {} alerts, store: {}",
        delivered.len(),
        live_ids.len()
    );
    eprintln!(
        "webhook: {} deliveries for {} alerts",
        got.len(),
        live_ids.len()
    );
    assert_eq!(serve.terminate(), Some(0));
}

/// A checkpoint is saved after the alerts decided up to its position are stored, off the
/// detector's thread, while more alerts are stored: a crash before it is saved leaves alerts
/// stored past the last saved checkpoint. Made here deterministically (one checkpoint, taken
/// by a flush; more records taken and their alerts stored; kill -9): the restart reads the
/// journal again from the saved position, stores nothing twice and ends where the
/// uninterrupted run does.
#[test]
fn a_crash_with_alerts_stored_past_the_saved_checkpoint_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = scenario(&tmp.path().join("scenario"), 37, 2, 4);
    let mut rng = Rng::new(5);
    let batches = arrival_batches(&sc.records, 50, 6, &mut rng);
    let (first, second) = batches.split_at(batches.len() / 2);
    // No checkpoint but the ones a flush (and SIGTERM) takes.
    let config = format!("{DETERMINISTIC}checkpoint_interval = \"1h\"\n");
    let send = |serve: &Serve, batches: &[Vec<String>], from: usize| {
        for (n, b) in batches.iter().enumerate() {
            let (bytes, headers) = body(b, from + n);
            assert_eq!(serve.ingest(&bytes, &headers).unwrap().status, 200);
        }
    };

    let calm_dir = tmp.path().join("calm");
    std::fs::create_dir_all(&calm_dir).unwrap();
    let calm = Serve::start(&calm_dir, &config);
    send(&calm, first, 0);
    calm.flush();
    send(&calm, second, first.len());
    calm.flush();
    let calm_alerts = calm.alerts(false);
    assert_eq!(calm.terminate(), Some(0));

    let dir = tmp.path().join("crash");
    std::fs::create_dir_all(&dir).unwrap();
    let serve = Serve::start(&dir, &config);
    send(&serve, first, 0);
    serve.flush();
    let at_checkpoint = serve.alerts(true).len();
    assert_eq!(serve.metric("stormwatch_checkpoints_total"), Some(1.0));
    send(&serve, second, first.len());
    wait_until(60, "the detector to take every record", || {
        serve.metric("stormwatch_pipeline_pending_records") == Some(0.0)
            && serve.alerts(true).len() > at_checkpoint
    });
    assert_eq!(
        serve.metric("stormwatch_checkpoints_total"),
        Some(1.0),
        "no checkpoint after the flush's"
    );
    let serve = serve.crash_and_restart();
    let restored = serve
        .log()
        .lines()
        .filter(|l| l.contains("Detector restored from its checkpoint."))
        .count();
    assert_eq!(restored, 1, "{}", serve.log());
    serve.flush();
    let alerts = serve.alerts(true);
    let ids: Vec<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an alert id is stored twice");
    let live: Vec<Value> = alerts
        .iter()
        .filter(|a| a["withdrawn"] == false)
        .cloned()
        .collect();
    let key_ids = |v: &[Value]| -> BTreeSet<String> {
        v.iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!calm_alerts.is_empty());
    assert_eq!(key_ids(&live), key_ids(&calm_alerts));
    assert_eq!(keys(&live), keys(&calm_alerts));
    assert_eq!(serve.terminate(), Some(0));
}

#[test]
fn webhook_failures_timeouts_and_dead_letters() {
    const SECRET: &str = "another-secret-16+";
    let tmp = tempfile::tempdir().unwrap();
    // Fails five times, stalls past the sink's timeout twice, then takes everything.
    let flaky = receiver(Mode::Fail(5));
    let refusing = receiver(Mode::Reject);
    let config = format!(
        "{DETERMINISTIC}\
         [[sinks]]\ntype = \"webhook\"\nname = \"flaky\"\nurl = \"http://127.0.0.1:{}/\"\nsecret = \"{SECRET}\"\nmin_level = \"medium\"\n\
         timeout = \"1s\"\nbackoff_initial = \"100ms\"\nbackoff_max = \"500ms\"\nmax_attempts = 50\n\
         [[sinks]]\ntype = \"webhook\"\nname = \"refusing\"\nurl = \"http://127.0.0.1:{}/\"\nsecret = \"{SECRET}\"\nmin_level = \"high\"\n\
         [[sinks]]\ntype = \"webhook\"\nname = \"nobody\"\nurl = \"http://127.0.0.1:{}/\"\nsecret = \"{SECRET}\"\nmin_level = \"critical\"\n\
         timeout = \"1s\"\nbackoff_initial = \"50ms\"\nmax_attempts = 2\n",
        flaky.port,
        refusing.port,
        crate::serve_util::free_port()
    );
    let sc = scenario(&tmp.path().join("scenario"), 5, 2, 4);
    let serve = Serve::start(tmp.path(), &config);
    let mut rng = Rng::new(3);
    for (n, b) in arrival_batches(&sc.records, 500, 2, &mut rng)
        .iter()
        .enumerate()
    {
        let (bytes, headers) = body(b, n);
        assert_eq!(serve.ingest(&bytes, &headers).unwrap().status, 200);
    }
    *flaky.mode.lock().unwrap() = Mode::Fail(5);
    serve.flush();
    std::thread::sleep(Duration::from_millis(300));
    *flaky.mode.lock().unwrap() = Mode::Stall(Duration::from_secs(3), 2);
    let alerts = serve.alerts(false);
    let want = |min: &str| -> BTreeSet<String> {
        let order = ["informational", "low", "medium", "high", "critical"];
        let floor = order.iter().position(|l| *l == min).unwrap();
        alerts
            .iter()
            .filter(|a| order.iter().position(|l| a["level"] == *l).unwrap() >= floor)
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let medium = want("medium");
    let high = want("high");
    let critical = want("critical");
    assert!(!medium.is_empty() && !high.is_empty() && !critical.is_empty());
    // Every live alert at medium or above arrives; so may alerts raised at medium that a
    // later record withdrew or lowered (their last message says so).
    let everything: BTreeMap<String, Value> = serve
        .alerts(true)
        .into_iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a))
        .collect();
    wait_until(120, "the flaky receiver to get every alert", || {
        let got: BTreeSet<String> = flaky
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|d| {
                serde_json::from_slice::<Value>(&d.body).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        medium.is_subset(&got)
    });
    for d in flaky.got.lock().unwrap().iter() {
        let m: Value = serde_json::from_slice(&d.body).unwrap();
        let id = m["id"].as_str().unwrap();
        if medium.contains(id) {
            continue;
        }
        let a = everything
            .get(id)
            .unwrap_or_else(|| panic!("{id} delivered, not stored"));
        assert!(
            a["withdrawn"] == true || a["level"] == "low" || a["level"] == "informational",
            "{id} delivered, neither live at medium nor withdrawn nor lowered: {a}"
        );
    }
    assert!(flaky.got.lock().unwrap().iter().all(|d| signed(d, SECRET)));
    assert!(
        *flaky.attempts.lock().unwrap() > medium.len() as u64,
        "failures were retried"
    );
    // The refusing receiver's messages and the unreachable one's are dead letters.
    let data = tmp.path().join("data");
    let dead_ids = |sink: &str| -> BTreeSet<String> {
        let list = stormwatch(
            [
                "serve",
                "dead-letters",
                "list",
                "--sink",
                sink,
                "--data-dir",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain([data.display().to_string()]),
        )
        .expect_status(0);
        list.jsonl()
            .iter()
            .map(|d| d["alert_id"].as_str().unwrap().to_owned())
            .collect()
    };
    wait_until(60, "dead letters", || {
        dead_ids("refusing") == high && dead_ids("nobody") == critical
    });
    let list = stormwatch(
        [
            "serve",
            "dead-letters",
            "list",
            "--sink",
            "refusing",
            "--data-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([data.display().to_string()]),
    )
    .expect_status(0);
    assert!(
        list.jsonl()[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("400")
    );
    assert!(
        serve
            .metric("stormwatch_sink_dead_letters{sink=\"refusing\"}")
            .unwrap()
            >= high.len() as f64
    );
    // The receiver is fixed; the dead letters are replayed into the running service.
    *refusing.mode.lock().unwrap() = Mode::Accept;
    let replay = stormwatch(
        [
            "serve",
            "dead-letters",
            "replay",
            "--sink",
            "refusing",
            "--data-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([data.display().to_string()]),
    )
    .expect_status(0);
    assert!(
        replay
            .stderr
            .contains(&format!("{} dead letter", high.len())),
        "{}",
        replay.stderr
    );
    wait_until(60, "the replayed dead letters", || {
        refusing.got.lock().unwrap().len() >= high.len()
    });
    let got: BTreeSet<String> = refusing
        .got
        .lock()
        .unwrap()
        .iter()
        .map(|d| {
            serde_json::from_slice::<Value>(&d.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(got, high);
    assert_eq!(
        serve.metric("stormwatch_sink_dead_letters{sink=\"refusing\"}"),
        Some(0.0)
    );
    assert_eq!(serve.terminate(), Some(0));
}

#[test]
fn hostile_http_clear_codes_and_the_server_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(
        tmp.path(),
        "[ingest]\nheader_timeout = \"2s\"\nbody_timeout = \"5s\"\n",
    );
    let port = serve.port;
    let good = r#"{"CreationTime":"2023-06-12T03:14:07","Id":"g-1","Operation":"MailItemsAccessed","RecordType":50,"UserId":"u@x.example","OrganizationId":"t1","Workload":"Exchange","ClientIPAddress":"51.89.156.153"}"#;
    // Unauthenticated.
    assert_eq!(
        request(port, "POST", "/api/v1/ingest", None, &[], good.as_bytes())
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        request(port, "GET", "/api/v1/alerts", Some("sw_wrong"), &[], b"")
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        request(port, "GET", "/metrics", None, &[], b"")
            .unwrap()
            .status,
        401
    );
    // A gzip bomb: 1 GB of newlines in about 1 MB.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'\n'; 1 << 20];
    for _ in 0..1024 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    let a = serve
        .ingest(&bomb, &[("Content-Encoding", "gzip")])
        .unwrap();
    assert_eq!(a.status, 413, "{}", String::from_utf8_lossy(&a.body));
    // A 100 MB body announced: refused before it is read.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 104857600\r\n\r\n", serve.token).unwrap();
    s.write_all(&vec![b'{'; 64 << 10]).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
    drop(s);
    // A 100 MB chunked body: refused once past the limit (32 MiB).
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n", serve.token).unwrap();
    let chunk = vec![b' '; 1 << 20];
    let mut sent = 0;
    for _ in 0..100 {
        if write!(s, "100000\r\n")
            .and_then(|()| s.write_all(&chunk))
            .and_then(|()| write!(s, "\r\n"))
            .is_err()
        {
            break;
        }
        sent += 1;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
    assert!(sent >= 32, "{sent} MiB sent");
    drop(s);
    // Slow-loris: 60 connections sending their headers a byte at a time.
    let started = Instant::now();
    let slow: Vec<_> = (0..60)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
                for b in b"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nX-Slow: " {
                    if s.write_all(&[*b]).is_err() {
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                    let _ = s.set_nonblocking(true);
                    let mut probe = [0u8; 64];
                    let closed = s.read(&mut probe).is_ok();
                    let _ = s.set_nonblocking(false);
                    if closed {
                        return true;
                    }
                }
                false
            })
        })
        .collect();
    // Meanwhile the service answers, and promptly.
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    assert_eq!(
        request(port, "GET", "/healthz", None, &[], b"")
            .unwrap()
            .status,
        200
    );
    let a = serve.ingest(good.as_bytes(), &[]).unwrap();
    assert_eq!(a.status, 200);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    for h in slow {
        assert!(h.join().unwrap(), "a slow client was not cut off");
    }
    assert!(started.elapsed() < Duration::from_secs(14));
    // Nothing else was lost: the good record is an alert, the service still serves.
    serve.flush();
    let alerts = serve.alerts(false);
    assert!(alerts.iter().any(|a| a["events"][0]["record_id"] == "g-1"));
    assert_eq!(serve.terminate(), Some(0));
}

#[test]
fn first_start_token_check_config_and_sigterm() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let serve = Serve::start(tmp.path(), "");
    let token_file = tmp.path().join("data/admin.token");
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    wait_until(10, "the start lines", || {
        serve.stdout().contains(&serve.token)
    });
    let out = serve.stdout();
    assert!(
        out.contains(&format!("listening on http://127.0.0.1:{}", serve.port)),
        "{out}"
    );
    assert_eq!(out.matches(&serve.token).count(), 1);
    // Records accepted before SIGTERM are taken and checkpointed before it exits.
    let good = r#"{"CreationTime":"2023-06-12T03:14:07","Id":"s-1","Operation":"MailItemsAccessed","RecordType":50,"UserId":"u@x.example","OrganizationId":"t1","Workload":"Exchange","ClientIPAddress":"51.89.156.153"}"#;
    assert_eq!(serve.ingest(good.as_bytes(), &[]).unwrap().status, 200);
    let token = serve.token.clone();
    let log_dir = tmp.path().to_owned();
    assert_eq!(serve.terminate(), Some(0));
    let log = std::fs::read_to_string(log_dir.join("serve.log")).unwrap();
    assert!(log.contains("Detector checkpointed."), "{log}");
    // A second start prints no token and keeps the first.
    let again = Serve::start(tmp.path(), "");
    assert_eq!(again.token, token);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!again.stdout().contains("admin API token"));
    again.flush();
    assert!(
        again
            .alerts(false)
            .iter()
            .any(|a| a["events"][0]["record_id"] == "s-1")
    );
    assert!(again.log().contains("Listening."));
    drop(again);

    // --check-config says what would run, or names what is wrong.
    let cfg = tmp.path().join("ok.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:9999\"\n[[sinks]]\ntype = \"file\"\npath = \"a.jsonl\"\n",
    )
    .unwrap();
    let run = stormwatch(
        ["serve", "--check-config", "--config"]
            .iter()
            .map(|s| s.to_string())
            .chain([cfg.display().to_string()]),
    )
    .expect_status(0);
    assert!(run.stdout.contains("configuration: ok"), "{}", run.stdout);
    assert!(run.stdout.contains("rules: "));
    assert!(
        run.stdout
            .contains("sink: file (file, level medium and above)")
    );
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[detect]\nlatenes = \"12h\"\n").unwrap();
    let run = stormwatch(
        ["serve", "--check-config", "--config"]
            .iter()
            .map(|s| s.to_string())
            .chain([bad.display().to_string()]),
    )
    .expect_status(2);
    assert!(run.stderr.contains("latenes"), "{}", run.stderr);
}
