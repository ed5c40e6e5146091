//! `POST /api/v1/ingest`: every envelope and compression, located errors, bounds, records
//! sent again, back-pressure.

use std::io::Write as _;

use axum::http::StatusCode;
use serde_json::json;

use crate::util::{Server, ual};

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn sign_in(id: &str) -> serde_json::Value {
    json!({
        "id": id, "createdDateTime": "2023-06-12T03:10:00Z", "userPrincipalName": "envoy@agency.example",
        "appId": "00000002-0000-0ff1-ce00-000000000000", "ipAddress": "203.0.113.9",
        "status": {"errorCode": 0}, "tenantId": "t1", "correlationId": "c1"
    })
}

#[test]
fn every_envelope_and_compression() {
    let s = Server::start("");
    let recs: Vec<serde_json::Value> = (0..3)
        .map(|i| serde_json::from_str(&ual(&format!("e-{i}"), i, "MailItemsAccessed")).unwrap())
        .collect();
    let ndjson: String = recs.iter().map(|r| r.to_string() + "\n").collect();
    let array = serde_json::to_string(&recs).unwrap();
    let graph =
        json!({"@odata.context": "x", "value": [sign_in("s-1"), sign_in("s-2")]}).to_string();
    let monitor = json!({"records": [{
        "time": "2023-06-12T03:10:00Z", "category": "SignInLogs", "tenantId": "t1",
        "properties": sign_in("s-3")
    }]})
    .to_string();
    let zst = zstd::encode_all(ndjson.as_bytes(), 3).unwrap();
    type Case<'a> = (&'a str, Vec<u8>, Vec<(&'a str, &'a str)>, u64);
    let cases: Vec<Case<'_>> = vec![
        ("ndjson", ndjson.clone().into_bytes(), vec![], 3),
        ("array", array.into_bytes(), vec![], 3),
        ("graph", graph.into_bytes(), vec![], 2),
        ("azure monitor", monitor.into_bytes(), vec![], 1),
        (
            "gzip by header",
            gzip(ndjson.replace("e-", "g-").as_bytes()),
            vec![("content-encoding", "gzip")],
            3,
        ),
        (
            "gzip by magic",
            gzip(ndjson.replace("e-", "h-").as_bytes()),
            vec![],
            3,
        ),
        ("zstd", zst, vec![("content-encoding", "zstd")], 3),
    ];
    for (name, body, headers, n) in cases {
        let r = s.call(
            "POST",
            "/api/v1/ingest",
            Some(&s.token.clone()),
            &headers,
            body,
        );
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert_eq!(v["accepted"].as_u64(), Some(n), "{name}: {v}");
        assert_eq!(v["skipped"], 0, "{name}");
    }
    // The array and the zstd body repeated the plain NDJSON's records: recognised.
    s.flush();
    let v = s.get("/api/v1/sources").json();
    assert_eq!(v["sources"][0]["duplicates"], 6);
    // A forced format.
    let r = s.post(
        "/api/v1/ingest?format=generic",
        "{\"Id\":\"x\",\"CreationTime\":\"2023-06-12T03:00:00Z\"}",
    );
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        s.post("/api/v1/ingest?format=cobol", "{}").status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.post("/api/v1/ingest?source=a%20b", "{}").status,
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn hostile_bodies_get_clear_answers_and_lose_nothing_else() {
    let s = Server::start("[ingest]\nmax_body = \"1MiB\"\nmax_decompressed = \"4MiB\"\n");
    let t = s.token.clone();
    // Bad records among good ones: located, counted, the good ones kept.
    let mut mixed = Vec::new();
    mixed.extend_from_slice(ual("ok-1", 1, "MailItemsAccessed").as_bytes());
    mixed.extend_from_slice(b"\n{\"CreationTime\": oops}\n");
    mixed
        .extend_from_slice(b"{\"CreationTime\":\"2023-06-12T03:14:07\",\"UserId\":\"\xff\xfe\"}\n");
    mixed.extend_from_slice(
        b"{\"CreationTime\":\"yesterday\",\"Operation\":\"x\",\"RecordType\":1}\n",
    );
    mixed.extend_from_slice(format!("{}{}\n", "[".repeat(5000), "]".repeat(5000)).as_bytes());
    mixed.extend_from_slice(b"42\n\n");
    mixed.extend_from_slice(ual("ok-2", 2, "MailItemsAccessed").as_bytes());
    let v = s.ingest(mixed);
    assert_eq!(
        (v["accepted"].as_u64(), v["skipped"].as_u64()),
        (Some(2), Some(5)),
        "{v}"
    );
    let lines: Vec<u64> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 3, 4, 5, 6]);
    assert_eq!(v["errors"][2]["field"], "CreationTime");
    // A JSON array cut mid-element, pretty objects with garbage between.
    let cut = format!(
        "[\n{},\n{{\"CreationTime\":\"2023-",
        ual("ok-3", 3, "MailItemsAccessed")
    );
    let v = s.ingest(cut);
    assert_eq!(
        (v["accepted"].as_u64(), v["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    let v = s.ingest("{\n  \"Id\": \"p-1\"\n}\n@@@\n{\"Id\":\"p-2\"}\n");
    assert_eq!(v["accepted"], 2);
    // Nothing readable: 400 naming why.
    let r = s.post("/api/v1/ingest", "not json at all\n{oops}\n");
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["skipped"], 2);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("no record could be read")
    );
    assert_eq!(s.post("/api/v1/ingest", "").status, StatusCode::BAD_REQUEST);
    assert_eq!(
        s.post("/api/v1/ingest", "\n\n  \n").status,
        StatusCode::BAD_REQUEST
    );
    // A truncated gzip: what decompresses is not trusted, the body is refused.
    let gz = gzip(ual("z-1", 1, "MailItemsAccessed").repeat(200).as_bytes());
    let r = s.call(
        "POST",
        "/api/v1/ingest",
        Some(&t),
        &[("content-encoding", "gzip")],
        gz[..gz.len() / 2].to_vec(),
    );
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    // A gzip bomb: 413 once past the decompressed bound.
    let bomb = gzip(&vec![b'\n'; 64 << 20]);
    assert!(bomb.len() < (1 << 20));
    let r = s.call(
        "POST",
        "/api/v1/ingest",
        Some(&t),
        &[("content-encoding", "gzip")],
        bomb,
    );
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("max_decompressed")
    );
    // Over the body limit, told by Content-Length or found while reading.
    let big = vec![b' '; 2 << 20];
    let r = s.call(
        "POST",
        "/api/v1/ingest",
        Some(&t),
        &[("content-length", &(2u64 << 20).to_string())],
        big.clone(),
    );
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.headers["connection"], "close");
    let r = s.call("POST", "/api/v1/ingest", Some(&t), &[], big);
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    // An encoding the service does not take.
    let r = s.call(
        "POST",
        "/api/v1/ingest",
        Some(&t),
        &[("content-encoding", "br")],
        b"{}".to_vec(),
    );
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Everything good that was sent is there, once.
    s.flush();
    let ids: std::collections::BTreeSet<String> = s
        .alerts("")
        .iter()
        .filter(|a| a["source"] == "sigma")
        .map(|a| a["events"][0]["record_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        ["ok-1", "ok-2", "ok-3"]
    );
    assert_eq!(
        s.call("GET", "/healthz", None, &[], Vec::new()).status,
        StatusCode::OK
    );
}

#[test]
fn records_sent_again_are_processed_once() {
    let s = Server::start("");
    let body: String = (0..50)
        .map(|i| ual(&format!("d-{i}"), i, "New-InboxRule") + "\n")
        .collect();
    let first = s.ingest(body.clone());
    assert_eq!(
        (first["accepted"].as_u64(), first["duplicates"].as_u64()),
        (Some(50), Some(0))
    );
    // The same body again (a client that lost the answer), then overlapping ones.
    let again = s.ingest(body);
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(50), Some(50))
    );
    assert!(again["batch"].is_null());
    let overlap: String = (40..60)
        .map(|i| ual(&format!("d-{i}"), i, "New-InboxRule") + "\n")
        .collect();
    let v = s.ingest(overlap);
    assert_eq!(
        (v["accepted"].as_u64(), v["duplicates"].as_u64()),
        (Some(20), Some(10))
    );
    // The same id in another tenant is another record.
    let other = ual("d-1", 1, "New-InboxRule").replace("\"t1\"", "\"t2\"");
    assert_eq!(s.ingest(other)["duplicates"], 0);
    s.flush();
    let alerts = s.alerts("&level=high");
    assert_eq!(alerts.len(), 61);
    let mut ids: Vec<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 61);
    // And after a restart, still recognised.
    let s = s.restart("");
    let v = s.ingest(ual("d-5", 5, "New-InboxRule"));
    assert_eq!(v["duplicates"], 1);
}

#[test]
fn behind_the_detector_ingest_answers_429_with_retry_after() {
    let s = Server::start("[ingest]\nmax_pending_records = 1\nretry_after = \"3s\"\n");
    let body: String = (0..3000)
        .map(|i| ual(&format!("b-{i}"), i, "MailItemsAccessed") + "\n")
        .collect();
    let mut accepted = 0;
    let mut throttled = 0;
    for round in 0..20 {
        let r = s.post("/api/v1/ingest", body.replace("b-", &format!("b{round}-")));
        match r.status {
            StatusCode::OK => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                throttled += 1;
                assert_eq!(r.headers["retry-after"], "3");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        accepted >= 1 && throttled >= 1,
        "accepted {accepted}, throttled {throttled}"
    );
    s.flush();
    // Exactly the accepted bodies' records went through.
    let v = s.get("/api/v1/sources").json();
    assert_eq!(v["sources"][0]["records"].as_u64(), Some(accepted * 3000));
    let m = String::from_utf8(s.get("/metrics").body).unwrap();
    assert!(m.contains(&format!("stormwatch_ingest_throttled_total {throttled}")));
}
