use stormwatch_core::{Detection, DetectionSource, Level, Location, Timestamp};
use stormwatch_store::{DetectionQuery, Store, StoreError};

fn det(rule: &str, level: Level, ts: &str) -> Detection {
    let mut d = Detection::new(
        rule,
        "t",
        level,
        DetectionSource::Builtin,
        Timestamp::parse(ts).unwrap(),
    );
    d.events.push(Location {
        file: "a.json".into(),
        line: 3,
        record_id: Some("r1".into()),
    });
    d.mailbox = Some("envoy@agency.example".into());
    d.evidence = serde_json::json!({"k": [1, 2]});
    d
}

#[test]
fn creates_directory_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nested/state");
    let s = Store::open(&state).unwrap();
    assert!(state.join("stormwatch.sqlite").is_file());
    assert_eq!(s.schema_version().unwrap(), 4);
    drop(s);
    // Reopening applies nothing and keeps the version.
    assert_eq!(Store::open(&state).unwrap().schema_version().unwrap(), 4);
}

#[test]
fn refuses_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let conn = rusqlite_free_bump(dir.path());
    assert!(conn);
    match Store::open(dir.path()) {
        Err(StoreError::TooNew { found, known, .. }) => assert!(found > known),
        other => panic!("expected TooNew, got {other:?}"),
    }
}

/// Raise user_version through the store's own connection type would need rusqlite here; use
/// the sqlite file header instead: user_version is the big-endian u32 at offset 60.
fn rusqlite_free_bump(dir: &std::path::Path) -> bool {
    let p = dir.join("stormwatch.sqlite");
    // Checkpoint the WAL first by reopening and closing (done by drop above); patch the header.
    let mut bytes = std::fs::read(&p).unwrap();
    if bytes.len() < 100 {
        return false;
    }
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(&p, bytes).unwrap();
    let _ = std::fs::remove_file(dir.join("stormwatch.sqlite-wal"));
    let _ = std::fs::remove_file(dir.join("stormwatch.sqlite-shm"));
    true
}

#[test]
fn detections_round_trip_and_query() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    let batch = vec![
        det(
            "builtin/new-mail-app",
            Level::Medium,
            "2023-06-12T03:00:00Z",
        ),
        det("builtin/ioc-ip", Level::Critical, "2023-06-13T03:00:00Z"),
        det("builtin/bulk-bind", Level::Low, "2023-06-14T03:00:00Z"),
    ];
    assert_eq!(s.insert_detections(&batch).unwrap(), 3);
    assert_eq!(s.detection_count().unwrap(), 3);
    let all = s.detections(&DetectionQuery::default()).unwrap();
    assert_eq!(all, batch);
    let high = s
        .detections(&DetectionQuery {
            min_level: Some(Level::High),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(high.len(), 1);
    assert_eq!(high[0].rule_id, "builtin/ioc-ip");
    let window = s
        .detections(&DetectionQuery {
            from: Some(Timestamp::parse("2023-06-12T12:00:00Z").unwrap()),
            to: Some(Timestamp::parse("2023-06-14T00:00:00Z").unwrap()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(window.len(), 1);
    let limited = s
        .detections(&DetectionQuery {
            limit: Some(2),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(limited.len(), 2);
    let by_rule = s
        .detections(&DetectionQuery {
            rule_id: Some("builtin/bulk-bind".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_rule.len(), 1);
}

#[test]
fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path()).unwrap();
        s.save_baseline_blob("analytics", 1, b"{}").unwrap();
        s.set_checkpoint("x.ndjson", 99).unwrap();
        s.insert_detections(&[det("builtin/ioc-ip", Level::High, "2023-06-13T03:00:00Z")])
            .unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.load_baseline_blob("analytics").unwrap().unwrap().data,
        b"{}"
    );
    assert_eq!(s.checkpoint("x.ndjson").unwrap(), Some(99));
    assert_eq!(s.detection_count().unwrap(), 1);
}
