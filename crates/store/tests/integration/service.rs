//! The service's tables: alerts deduplicated by detection id, status and history, the outbox
//! and dead letters, the journal, record ids, checkpoints, retention.

use stormwatch_core::{Detection, DetectionSource, Level, Location, Timestamp};
use stormwatch_store::{
    AlertFilter, DetectorCheckpoint, NewBatch, OutboxItem, RetentionCut, Status, Store, Target,
    Upserted,
};

fn det(id: &str, level: Level, records: &[&str]) -> Detection {
    let mut d = Detection::new(
        "rule-1",
        "A rule",
        level,
        DetectionSource::Sigma,
        Timestamp::parse("2023-06-12T03:14:07Z").unwrap(),
    );
    d.id = id.to_owned();
    d.mailbox = Some("Envoy@Agency.example".into());
    d.session_id = Some("S-1".into());
    d.ip = Some("203.0.113.9".into());
    d.events = records
        .iter()
        .enumerate()
        .map(|(i, r)| Location {
            file: "ingest/1".into(),
            line: i as u64 + 1,
            record_id: Some((*r).to_owned()),
        })
        .collect();
    d
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, s)
}

#[test]
fn alerts_upsert_by_detection_id_and_keep_their_status() {
    let (_d, mut s) = open();
    let a = det("a1", Level::Low, &["r1"]);
    assert_eq!(
        s.write(|tx| tx.upsert_alert(&a, false, false)).unwrap(),
        Upserted::New
    );
    assert_eq!(
        s.write(|tx| tx.upsert_alert(&a, false, true)).unwrap(),
        Upserted::Unchanged
    );
    assert!(s.read().alert("a1").unwrap().unwrap().settled);
    s.write(|tx| tx.set_alert_status("a1", Status::Acknowledged, "dana"))
        .unwrap();
    let grown = det("a1", Level::High, &["r1", "r2"]);
    assert_eq!(
        s.write(|tx| tx.upsert_alert(&grown, true, false)).unwrap(),
        Upserted::Changed
    );
    let got = s.read().alert("a1").unwrap().unwrap();
    assert_eq!(
        (got.status, got.revision, got.late),
        (Status::Acknowledged, 2, true)
    );
    assert_eq!(got.detection.events.len(), 2);
    assert_eq!(got.detection.level, Level::High);
    // Withdrawn, it is left out of lists unless asked for; raised again, it is back.
    assert!(
        s.write(|tx| tx.withdraw_alert("a1", "a late record"))
            .unwrap()
    );
    assert!(!s.write(|tx| tx.withdraw_alert("a1", "again")).unwrap());
    assert!(
        s.read()
            .alerts(&AlertFilter::default())
            .unwrap()
            .alerts
            .is_empty()
    );
    let all = s
        .read()
        .alerts(&AlertFilter {
            include_withdrawn: true,
            ..AlertFilter::default()
        })
        .unwrap();
    assert_eq!(
        all.alerts[0].withdrawn_reason.as_deref(),
        Some("a late record")
    );
    assert_eq!(
        s.write(|tx| tx.upsert_alert(&grown, false, true)).unwrap(),
        Upserted::Changed
    );
    assert!(!s.read().alert("a1").unwrap().unwrap().withdrawn);
    let h = s.read().status_history(Target::Alert, "a1").unwrap();
    assert_eq!(
        (h.len(), h[0].author.as_str(), h[0].from, h[0].to),
        (1, "dana", Status::New, Status::Acknowledged)
    );
    assert_eq!(
        s.write(|tx| tx.set_alert_status("nope", Status::Closed, "x"))
            .unwrap(),
        None
    );
}

#[test]
fn pages_and_filters() {
    let (_d, mut s) = open();
    s.write(|tx| {
        for i in 0..25 {
            let level = if i % 5 == 0 { Level::High } else { Level::Low };
            tx.upsert_alert(&det(&format!("a{i:02}"), level, &["r"]), false, true)?;
        }
        Ok(())
    })
    .unwrap();
    let mut ids = Vec::new();
    let mut before = None;
    loop {
        let p = s
            .read()
            .alerts(&AlertFilter {
                limit: Some(10),
                before,
                ..AlertFilter::default()
            })
            .unwrap();
        ids.extend(p.alerts.iter().map(|a| a.detection.id.clone()));
        match p.next {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    assert_eq!(ids.len(), 25);
    assert_eq!(ids[0], "a24", "newest first");
    let high = s
        .read()
        .alerts(&AlertFilter {
            min_level: Some(Level::High),
            ..AlertFilter::default()
        })
        .unwrap();
    assert_eq!(high.alerts.len(), 5);
    let by_box = s
        .read()
        .alerts(&AlertFilter {
            mailbox: Some("ENVOY@agency.EXAMPLE".into()),
            ..AlertFilter::default()
        })
        .unwrap();
    assert_eq!(by_box.alerts.len(), 25);
    // Tied to an incident by session.
    let n = s
        .write(|tx| tx.tie_alerts("inc-1", &["s-1".into()], &[], &[], &[]))
        .unwrap();
    assert_eq!(n, 25);
    let inc = s
        .read()
        .alerts(&AlertFilter {
            incident_id: Some("inc-1".into()),
            ..AlertFilter::default()
        })
        .unwrap();
    assert_eq!(inc.alerts.len(), 25);
}

#[test]
fn outbox_replaces_waiting_messages_and_dead_letters_replay_the_newest() {
    let (_d, mut s) = open();
    s.write(|tx| tx.enqueue("hook", "a1", "alert.raised", "v1"))
        .unwrap();
    let due = s.read().due("hook", i64::MAX, 10).unwrap();
    assert_eq!(due.len(), 1);
    // A newer revision arrives while v1 is being delivered: v1's success does not drop it.
    s.write(|tx| tx.enqueue("hook", "a1", "alert.updated", "v2"))
        .unwrap();
    s.write(|tx| tx.delivered(&due[0])).unwrap();
    let due: Vec<OutboxItem> = s.read().due("hook", i64::MAX, 10).unwrap();
    assert_eq!(
        (due.len(), due[0].payload.as_str(), due[0].event.as_str()),
        (1, "v2", "alert.updated")
    );
    s.write(|tx| tx.delivered(&due[0])).unwrap();
    assert!(s.read().due("hook", i64::MAX, 10).unwrap().is_empty());
    // Failures wait; then a dead letter; several per alert replay as the newest.
    s.write(|tx| tx.enqueue("hook", "a2", "alert.raised", "old"))
        .unwrap();
    let item = s.read().due("hook", i64::MAX, 1).unwrap().remove(0);
    s.write(|tx| tx.attempt_failed(&item, "500", 1000)).unwrap();
    assert!(s.read().due("hook", 999, 10).unwrap().is_empty());
    assert_eq!(s.read().next_due("hook").unwrap(), Some(1000));
    let item = s.read().due("hook", 1000, 1).unwrap().remove(0);
    assert_eq!(item.attempts, 1);
    s.write(|tx| tx.dead_letter(&item, "gave up")).unwrap();
    s.write(|tx| tx.enqueue("hook", "a2", "alert.updated", "new"))
        .unwrap();
    let item = s.read().due("hook", i64::MAX, 1).unwrap().remove(0);
    s.write(|tx| tx.dead_letter(&item, "gave up")).unwrap();
    assert_eq!(s.read().dead_letters(Some("hook"), 10).unwrap().len(), 2);
    assert_eq!(s.read().sink_depths().unwrap(), [("hook".to_owned(), 0, 2)]);
    assert_eq!(
        s.write(|tx| tx.replay_dead_letters(Some("hook"))).unwrap(),
        1
    );
    let due = s.read().due("hook", i64::MAX, 10).unwrap();
    assert_eq!((due.len(), due[0].payload.as_str()), (1, "new"));
    assert!(s.read().dead_letters(None, 10).unwrap().is_empty());
}

#[test]
fn journal_record_ids_checkpoint_and_retention() {
    let (_d, mut s) = open();
    let (k1, k2) = ([1u8; 16], [2u8; 16]);
    s.write(|tx| tx.seen_day(100)).unwrap();
    assert!(s.write(|tx| tx.mark_seen(&k1)).unwrap());
    s.write(|tx| tx.seen_day(101)).unwrap();
    assert!(!s.write(|tx| tx.mark_seen(&k1)).unwrap());
    assert!(s.write(|tx| tx.mark_seen(&k2)).unwrap());
    let batch = |name: &'static str, first: u64, last: u64| NewBatch {
        id: None,
        source: "http",
        kind: "http",
        name,
        first_line: first,
        last_line: last,
        records: 2,
        skipped: 0,
        duplicates: 1,
        format: None,
        newest_event: None,
        dup_lines: &[3],
        body: b"{}\n{}\n{}\n",
    };
    let (id1, name1) = s.write(|tx| tx.append_batch(&batch("", 1, 3))).unwrap();
    assert_eq!(name1, format!("ingest/{id1}"));
    let (id2, _) = s
        .write(|tx| tx.append_batch(&batch("/logs/a.ndjson", 10, 20)))
        .unwrap();
    assert_eq!(s.read().journal_head().unwrap(), id2);
    assert_eq!(s.read().records_after(id1).unwrap(), 2);
    let b = s.read().batch_after(id1).unwrap().unwrap();
    assert_eq!(
        (b.id, b.first_line, b.dup_lines.as_slice()),
        (id2, 10, &[3u64][..])
    );
    assert_eq!(
        s.read()
            .batch_holding("/logs/a.ndjson", 15)
            .unwrap()
            .unwrap()
            .id,
        id2
    );
    assert!(
        s.read()
            .batch_holding("/logs/a.ndjson", 21)
            .unwrap()
            .is_none()
    );
    s.write(|tx| {
        tx.save_checkpoint(&DetectorCheckpoint {
            position: id1,
            max_event: None,
            fingerprint: "f".into(),
            saved_at: Timestamp::EPOCH,
            snapshot: Some(b"state".to_vec()),
        })
    })
    .unwrap();
    assert_eq!(s.read().checkpoint_position().unwrap(), id1);
    assert_eq!(s.read().snapshot_position().unwrap(), id1);
    // A checkpoint without a snapshot covers nothing retention may remove.
    s.write(|tx| {
        tx.save_checkpoint(&DetectorCheckpoint {
            position: id2,
            max_event: None,
            fingerprint: "f".into(),
            saved_at: Timestamp::EPOCH,
            snapshot: None,
        })
    })
    .unwrap();
    assert_eq!(s.read().checkpoint_position().unwrap(), id2);
    assert_eq!(s.read().snapshot_position().unwrap(), 0);
    s.write(|tx| {
        tx.save_checkpoint(&DetectorCheckpoint {
            position: id1,
            max_event: None,
            fingerprint: "f".into(),
            saved_at: Timestamp::EPOCH,
            snapshot: Some(b"state".to_vec()),
        })
    })
    .unwrap();
    // Only batches the checkpoint covers go; record ids of old days go.
    let p = s
        .write(|tx| {
            tx.prune(&RetentionCut {
                alerts_before: None,
                batches_before: Some(i64::MAX),
                batches_up_to: id1,
                seen_before_day: Some(101),
            })
        })
        .unwrap();
    // k1 was first accepted on day 100 (removed), k2 on day 101 (kept).
    assert_eq!((p.batches, p.seen), (1, 1));
    assert!(
        s.read()
            .batch_after(0)
            .unwrap()
            .is_some_and(|b| b.id == id2)
    );
    assert!(s.write(|tx| tx.mark_seen(&k1)).unwrap());
    assert!(!s.write(|tx| tx.mark_seen(&k2)).unwrap());
}

#[test]
fn batch_ids_given_out_ahead_are_kept_and_never_reused() {
    let (_d, mut s) = open();
    assert_eq!(s.read().next_batch_id().unwrap(), 1);
    let batch = |id: Option<i64>| NewBatch {
        id,
        source: "http",
        kind: "http",
        name: "",
        first_line: 1,
        last_line: 1,
        records: 1,
        skipped: 0,
        duplicates: 0,
        format: None,
        newest_event: None,
        dup_lines: &[],
        body: b"{}\n",
    };
    // Ids 1 and 2 were given out; 2's body came first, 1's never (a gap the reader skips).
    let (id, name) = s.write(|tx| tx.append_batch(&batch(Some(2)))).unwrap();
    assert_eq!((id, name.as_str()), (2, "ingest/2"));
    assert_eq!(s.read().next_batch_id().unwrap(), 3);
    assert_eq!(s.read().batch_after(0).unwrap().unwrap().id, 2);
    let (id, _) = s.write(|tx| tx.append_batch(&batch(None))).unwrap();
    assert_eq!(id, 3);
    s.write(|tx| {
        tx.prune(&RetentionCut {
            alerts_before: None,
            batches_before: Some(i64::MAX),
            batches_up_to: 3,
            seen_before_day: None,
        })
    })
    .unwrap();
    assert!(s.read().batch_after(0).unwrap().is_none());
    // The journal is empty, and still its next id is 4: the names `ingest/2` and
    // `ingest/3` that alerts carry keep pointing nowhere rather than at new records.
    assert_eq!(s.read().next_batch_id().unwrap(), 4);
}

#[test]
fn tokens_are_kept_hashed_and_named_once() {
    let (_d, mut s) = open();
    s.write(|tx| tx.add_token("collector", "ingest", &[7u8; 32]))
        .unwrap();
    assert!(
        s.write(|tx| tx.add_token("collector", "viewer", &[8u8; 32]))
            .is_err()
    );
    assert!(
        s.write(|tx| tx.add_token(" ", "viewer", &[9u8; 32]))
            .is_err()
    );
    let t = s.read().token_by_hash(&[7u8; 32]).unwrap().unwrap();
    assert_eq!((t.name.as_str(), t.role.as_str()), ("collector", "ingest"));
    assert!(s.read().token_by_hash(&[8u8; 32]).unwrap().is_none());
    assert!(s.write(|tx| tx.remove_token("collector")).unwrap());
    assert!(s.read().tokens().unwrap().is_empty());
}

#[test]
fn notes_are_bounded_and_ordered() {
    let (_d, mut s) = open();
    s.write(|tx| tx.add_note(Target::Incident, "inc-1", "dana", "first"))
        .unwrap();
    s.write(|tx| tx.add_note(Target::Incident, "inc-1", "lee", "second"))
        .unwrap();
    assert!(
        s.write(|tx| tx.add_note(Target::Incident, "inc-1", "x", ""))
            .is_err()
    );
    let long = "x".repeat(stormwatch_store::MAX_NOTE_BYTES + 1);
    assert!(
        s.write(|tx| tx.add_note(Target::Incident, "inc-1", "x", &long))
            .is_err()
    );
    let n = s.read().notes(Target::Incident, "inc-1").unwrap();
    assert_eq!(
        n.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        ["first", "second"]
    );
    assert!(s.read().notes(Target::Alert, "inc-1").unwrap().is_empty());
}

#[test]
fn the_write_ahead_log_is_truncated_on_demand() {
    let (d, mut s) = open();
    s.write(|tx| tx.seen_day(1)).unwrap();
    for i in 0..50u8 {
        assert!(s.write(|tx| tx.mark_seen(&[i; 16])).unwrap());
    }
    let wal = d.path().join("stormwatch.sqlite-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    assert!(s.truncate_wal().unwrap());
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    // Nothing was lost.
    assert!(!s.write(|tx| tx.mark_seen(&[7; 16])).unwrap());
}
