//! The JSON API through the router: auth on every route, alerts with their evidence, status,
//! notes and history, cursors, sources, tokens.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::util::{Server, ual};

/// Every route but `/healthz`, with a body that would be valid.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/metrics"),
    ("POST", "/api/v1/ingest"),
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/alerts/x"),
    ("POST", "/api/v1/alerts/x/status"),
    ("POST", "/api/v1/alerts/x/notes"),
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents/x"),
    ("POST", "/api/v1/incidents/x/status"),
    ("POST", "/api/v1/incidents/x/notes"),
    ("GET", "/api/v1/sources"),
    ("POST", "/api/v1/admin/flush"),
    ("GET", "/api/v1/admin/tokens"),
    ("POST", "/api/v1/admin/tokens"),
    ("DELETE", "/api/v1/admin/tokens/x"),
    ("GET", "/api/v1/admin/dead-letters"),
    ("POST", "/api/v1/admin/dead-letters/replay"),
];

fn role_may(role: &str, method: &str, path: &str) -> bool {
    let admin = path.starts_with("/api/v1/admin");
    let ingest = path == "/api/v1/ingest";
    let triage = method == "POST" && (path.ends_with("/status") || path.ends_with("/notes"));
    match role {
        "ingest" => ingest,
        "viewer" => !admin && !ingest && !triage,
        "analyst" => !admin && !ingest,
        "admin" => true,
        _ => false,
    }
}

fn new_token(s: &Server, name: &str, role: &str) -> String {
    let r = s.post(
        "/api/v1/admin/tokens",
        json!({"name": name, "role": role}).to_string(),
    );
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()["token"].as_str().expect("token").to_owned()
}

#[test]
fn every_route_but_healthz_needs_a_token_with_the_right_role() {
    let s = Server::start("");
    assert_eq!(
        s.call("GET", "/healthz", None, &[], Vec::new()).status,
        StatusCode::OK
    );
    let tokens: Vec<(&str, String)> = ["ingest", "viewer", "analyst"]
        .into_iter()
        .map(|r| (r, new_token(&s, &format!("t-{r}"), r)))
        .collect();
    for (method, path) in ROUTES {
        for bad in [None, Some("sw_not-a-token"), Some("")] {
            let r = s.call(method, path, bad, &[], Vec::new());
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {bad:?}"
            );
            assert_eq!(r.headers["www-authenticate"], "Bearer");
        }
        let basic = s.call(
            method,
            path,
            None,
            &[("authorization", "Basic YTpi")],
            Vec::new(),
        );
        assert_eq!(
            basic.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} basic"
        );
        for (role, token) in &tokens {
            let r = s.call(method, path, Some(token), &[], Vec::new());
            if role_may(role, method, path) {
                assert_ne!(r.status, StatusCode::FORBIDDEN, "{role} {method} {path}");
                assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{role} {method} {path}");
            } else {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{role} {method} {path}");
                assert!(r.json()["error"].as_str().unwrap_or("").contains("role"));
            }
        }
    }
    // A removed token is refused.
    let viewer = &tokens[1].1;
    assert_eq!(
        s.call(
            "DELETE",
            "/api/v1/admin/tokens/t-viewer",
            Some(&s.token),
            &[],
            Vec::new()
        )
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.call("GET", "/api/v1/alerts", Some(viewer), &[], Vec::new())
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Tokens are listed without their secret.
    let list = s.get("/api/v1/admin/tokens").json();
    assert!(!list.to_string().contains("sw_"), "{list}");
}

#[test]
fn alerts_carry_the_contract_fields_and_their_evidence() {
    let s = Server::start("");
    let body = format!(
        "{}\n{}\nnot json\n{}\n",
        ual("r-1", 1, "MailItemsAccessed"),
        ual("r-2", 2, "New-InboxRule"),
        ual("r-3", 3, "Send")
    );
    let v = s.ingest(body);
    assert_eq!(
        (v["accepted"].as_u64(), v["skipped"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(v["errors"][0]["line"], 3);
    assert!(
        v["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid JSON")
    );
    s.flush();
    let alerts = s.alerts("");
    let sigma: Vec<&Value> = alerts.iter().filter(|a| a["source"] == "sigma").collect();
    assert_eq!(sigma.len(), 2, "{alerts:#?}");
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
            assert!(a.get(k).is_some(), "{k} missing in {a}");
        }
        assert_eq!(a["status"], "new");
        assert!(a["events"][0]["record_id"].is_string());
    }
    let high = sigma
        .iter()
        .find(|a| a["level"] == "high")
        .expect("inbox rule alert");
    assert_eq!(high["rule_title"], "Inbox rule made");
    assert_eq!(high["events"][0]["record_id"], "r-2");
    assert_eq!(high["events"][0]["line"], 2);
    // One alert with its evidence record as received.
    let one = s
        .get(&format!("/api/v1/alerts/{}", high["id"].as_str().unwrap()))
        .json();
    assert_eq!(one["alert"]["id"], high["id"]);
    assert_eq!(one["records"][0]["record"]["Id"], "r-2");
    assert_eq!(one["records"][0]["record"]["Operation"], "New-InboxRule");
    assert_eq!(one["records"][0]["source"], "http");
    assert_eq!(one["records_not_kept"], 0);
    // Filters.
    assert_eq!(s.alerts("&level=high").len(), 1);
    assert_eq!(
        s.alerts("&min_level=low&rule_id=5a6f0000-0000-4000-8000-000000000001")
            .len(),
        1
    );
    assert_eq!(
        s.alerts("&mailbox=ENVOY@agency.example").len(),
        alerts
            .iter()
            .filter(|a| a["mailbox"] == "envoy@agency.example")
            .count()
    );
    assert!(s.alerts("&since=2024-01-01").is_empty());
    for bad in [
        "level=urgent",
        "limit=0",
        "limit=5000",
        "cursor=zz",
        "since=yesterday",
        "colour=red",
    ] {
        let r = s.get(&format!("/api/v1/alerts?{bad}"));
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(s.get("/api/v1/alerts/nope").status, StatusCode::NOT_FOUND);
}

#[test]
fn status_notes_and_history_name_who() {
    let s = Server::start("");
    s.ingest(ual("r-1", 1, "New-InboxRule"));
    s.flush();
    let id = s.alerts("&level=high")[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let analyst = new_token(&s, "dana", "analyst");
    let path = format!("/api/v1/alerts/{id}/status");
    let r = s.call(
        "POST",
        &path,
        Some(&analyst),
        &[],
        json!({"status": "acknowledged", "note": "looking"}).to_string(),
    );
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["alert"]["status"], "acknowledged");
    assert_eq!(r.json()["alert"]["status_by"], "dana");
    let r = s.call(
        "POST",
        &path,
        Some(&analyst),
        &[],
        json!({"status": "closed"}).to_string(),
    );
    assert_eq!(r.json()["alert"]["status"], "closed");
    let r = s.call(
        "POST",
        &format!("/api/v1/alerts/{id}/notes"),
        Some(&analyst),
        &[],
        json!({"text": "benign: admin test"}).to_string(),
    );
    assert_eq!(r.status, StatusCode::CREATED);
    let one = s.get(&format!("/api/v1/alerts/{id}")).json();
    let history: Vec<(String, String, String)> = one["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["author"].as_str().unwrap().into(),
                h["from"].as_str().unwrap().into(),
                h["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("dana".into(), "new".into(), "acknowledged".into()),
            ("dana".into(), "acknowledged".into(), "closed".into())
        ]
    );
    let notes: Vec<&str> = one["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["looking", "benign: admin test"]);
    assert_eq!(s.alerts("&status=closed").len(), 1);
    // Bad bodies are 400, unknown alerts 404.
    assert_eq!(
        s.post(&path, "{\"status\":\"maybe\"}").status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(s.post(&path, "not json").status, StatusCode::BAD_REQUEST);
    assert_eq!(
        s.post(&format!("/api/v1/alerts/{id}/notes"), "{\"text\":\"  \"}")
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.post("/api/v1/alerts/nope/status", "{\"status\":\"closed\"}")
            .status,
        StatusCode::NOT_FOUND
    );
    // The same record sent again changes nothing: the status stays.
    let again = s.ingest(ual("r-1", 1, "New-InboxRule"));
    assert_eq!(
        (
            again["accepted"].as_u64(),
            again["duplicates"].as_u64(),
            again["batch"].is_null()
        ),
        (Some(1), Some(1), true)
    );
    s.flush();
    assert_eq!(s.alerts("&level=high")[0]["status"], "closed");
}

#[test]
fn cursors_walk_every_alert_once_while_new_ones_arrive() {
    let s = Server::start("[detect]\nbuiltin = true\n");
    let body: String = (0..40)
        .map(|i| ual(&format!("m-{i}"), i, "MailItemsAccessed") + "\n")
        .collect();
    s.ingest(body);
    s.flush();
    let first_page = s.get("/api/v1/alerts?limit=10").json();
    let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();
    // New alerts arriving between pages do not shift the pages already numbered.
    s.ingest(ual("late-1", 59, "New-InboxRule"));
    s.flush();
    let mut seen: Vec<String> = first_page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    let mut c = Some(cursor);
    while let Some(cur) = c {
        let v = s
            .get(&format!("/api/v1/alerts?limit=10&cursor={cur}"))
            .json();
        seen.extend(
            v["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
        c = v["next_cursor"].as_str().map(str::to_owned);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "an alert was listed twice");
    let all = s.alerts("");
    assert_eq!(
        seen.len() + 1,
        all.len(),
        "every alert but the newest was walked"
    );
}

#[test]
fn sources_and_metrics_report_ingest_health() {
    let s = Server::start("");
    s.ingest(format!("{}\n{{broken\n", ual("a", 1, "MailItemsAccessed")));
    let r = s.post(
        "/api/v1/ingest?source=collector-1",
        ual("b", 2, "MailItemsAccessed"),
    );
    assert_eq!(r.status, StatusCode::OK);
    s.flush();
    let v = s.get("/api/v1/sources").json();
    let http = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "http")
        .unwrap();
    assert_eq!(
        (http["records"].as_u64(), http["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(http["errors"][0]["line"], 2);
    assert_eq!(http["errors"][0]["file"], "ingest/1");
    assert!(
        http["last_error"]
            .as_str()
            .unwrap()
            .starts_with("ingest/1:2:")
    );
    assert!(http["event_lag_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(v["pipeline"]["pending_records"], 0);
    assert_eq!(v["pipeline"]["position"], 2);
    let m = s.get("/metrics");
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(m.body).unwrap();
    for line in [
        "stormwatch_ingest_records_total{source=\"http\",outcome=\"accepted\"} 1",
        "stormwatch_ingest_records_total{source=\"http\",outcome=\"skipped\"} 1",
        "stormwatch_ingest_records_total{source=\"collector-1\",outcome=\"accepted\"} 1",
        "stormwatch_alerts_raised_total{level=\"low\"} 2",
        "stormwatch_pipeline_pending_records 0",
    ] {
        assert!(text.contains(line), "{line} not in\n{text}");
    }
    assert!(text.contains("stormwatch_watermark_lag_seconds "));
    assert!(text.contains("stormwatch_pipeline_lag_seconds "));
}

#[test]
fn retention_removes_old_alerts_and_checkpointed_records() {
    let toml = "[retention]\nalerts = \"2s\"\nrecords = \"1s\"\ninterval = \"1s\"\n";
    let mut s = Server::start(toml);
    s.ingest(format!("{}\n", ual("old-1", 1, "New-InboxRule")));
    s.flush();
    assert!(
        s.alerts("")
            .iter()
            .any(|a| a["events"][0]["record_id"] == "old-1")
    );
    s.wait_for("retention to remove the alert", |s| s.alerts("").is_empty());
    s.stop();
    // The batch the flush's checkpoint covers went too.
    let store = stormwatch_store::Store::open(&s.dir.path().join("data")).unwrap();
    assert!(store.read().batch_after(0).unwrap().is_none());
}
