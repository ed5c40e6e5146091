//! Inputs, filters, threads, progress: what the command line relies on.

use std::path::PathBuf;
use std::sync::Arc;

use stormwatch_read::{Input, Progress, ReadError, ReadOptions, read, read_all};

use crate::util::ts;

fn rec(i: u64, tenant: &str) -> String {
    format!(
        r#"{{"CreationTime":"2023-06-{:02}T03:14:07","Id":"id-{i}","Operation":"MailItemsAccessed","RecordType":50,"OrganizationId":"{tenant}","Workload":"Exchange","UserId":"u@x","ClientIPAddress":"10.0.0.{}","OperationProperties":[{{"Name":"MailAccessType","Value":"Bind"}}],"Folders":[{{"Path":"\\Inbox","FolderItems":[{{"InternetMessageId":"<m{i}@x>"}}]}}]}}"#,
        10 + i % 5,
        i % 250
    )
}

#[test]
fn directories_are_walked_in_sorted_order_and_missing_paths_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("b")).unwrap();
    std::fs::write(dir.path().join("b/2.json"), rec(2, "t")).unwrap();
    std::fs::write(dir.path().join("a.ndjson"), rec(1, "t")).unwrap();
    std::fs::write(dir.path().join("c.jsonl"), rec(3, "t")).unwrap();
    std::fs::write(dir.path().join("notes.md"), "# not a log").unwrap();
    std::fs::write(dir.path().join(".hidden.json"), "garbage").unwrap();
    let (ev, st) = read_all(
        &[Input::Path(dir.path().to_path_buf())],
        &ReadOptions::default(),
    )
    .unwrap();
    let ids: Vec<_> = ev
        .iter()
        .filter_map(|e| e.loc.record_id.as_deref())
        .collect();
    assert_eq!(ids, vec!["id-1", "id-2", "id-3"]);
    assert_eq!(st.files.len(), 3);
    assert_eq!(st.skipped(), 0);

    let missing = Input::Path(PathBuf::from("/nonexistent/stormwatch/x.json"));
    match read_all(&[missing], &ReadOptions::default()) {
        Err(ReadError::Open { path, .. }) => assert!(path.ends_with("x.json")),
        other => panic!("expected Open error, got {other:?}"),
    }
}

#[test]
fn order_is_the_same_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.ndjson");
    // Large enough for several batches.
    let text: String = (0..40_000u64).map(|i| rec(i, "t") + "\n").collect();
    std::fs::write(&path, &text).unwrap();
    let input = [Input::Path(path)];
    let mut runs = Vec::new();
    for threads in [1, 2, 3] {
        let opts = ReadOptions {
            threads,
            ..ReadOptions::default()
        };
        let mut batches = 0;
        let mut ids = Vec::new();
        let st = read(&input, &opts, &mut |b| {
            batches += 1;
            ids.extend(b.into_iter().map(|e| (e.loc.line, e.loc.record_id)));
        })
        .unwrap();
        assert!(batches > 1);
        assert_eq!(st.records(), 40_000);
        runs.push(ids);
    }
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0], runs[2]);
    assert_eq!(runs[0][39_999].0, 40_000);
}

#[test]
fn time_and_tenant_filters_and_coverage() {
    let text: String = (0..10u64)
        .map(|i| rec(i, if i % 2 == 0 { "even" } else { "odd" }) + "\n")
        .collect();
    let opts = ReadOptions {
        since: Some(ts("2023-06-11T00:00:00Z")),
        until: Some(ts("2023-06-14T00:00:00Z")),
        tenants: vec!["EVEN".to_owned()],
        ..ReadOptions::default()
    };
    let (ev, st) = stormwatch_read::read_bytes("f.ndjson", text.into_bytes(), &opts).unwrap();
    // Days 10..14 cycle; even tenants on days 10, 12, 14, 11, 13 → kept: 12, 11, 13 ... within [11, 14).
    assert!(ev.iter().all(|e| e.tenant.as_deref() == Some("even")));
    assert!(ev.iter().all(|e| {
        let t = e.time.unwrap();
        t >= ts("2023-06-11T00:00:00Z") && t < ts("2023-06-14T00:00:00Z")
    }));
    assert_eq!(ev.len(), 3);
    let f = &st.files[0];
    assert_eq!(f.records, 10);
    assert_eq!(f.filtered, 7);
    assert_eq!(f.first, Some(ts("2023-06-10T03:14:07Z")));
    assert_eq!(f.last, Some(ts("2023-06-14T03:14:07Z")));
    let cells: u64 = st.coverage.values().map(|c| c.records).sum();
    assert_eq!(cells, 3);
    assert!(
        st.coverage
            .values()
            .all(|c| c.mail_items_accessed == c.records)
    );
    assert!(
        st.coverage
            .keys()
            .all(|(t, w, _)| t == "even" && w == "Exchange")
    );
}

#[test]
fn progress_counters_are_updated() {
    let progress = Arc::new(Progress::default());
    let opts = ReadOptions {
        progress: Some(Arc::clone(&progress)),
        ..ReadOptions::default()
    };
    let text: String = (0..100u64).map(|i| rec(i, "t") + "\n").collect();
    let len = text.len() as u64;
    let (_, st) = stormwatch_read::read_bytes("p.ndjson", text.into_bytes(), &opts).unwrap();
    assert_eq!(st.records(), 100);
    let (files, bytes, records) = progress.snapshot();
    assert_eq!((files, bytes, records), (1, len, 100));
}

#[test]
fn cancelling_stops_reading_early() {
    let dir = tempfile::tempdir().unwrap();
    // Three files of several batches each.
    for f in ["a.ndjson", "b.ndjson", "c.ndjson"] {
        let text: String = (0..40_000u64).map(|i| rec(i, "t") + "\n").collect();
        std::fs::write(dir.path().join(f), text).unwrap();
    }
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opts = ReadOptions {
        cancel: Some(Arc::clone(&cancel)),
        ..ReadOptions::default()
    };
    let mut seen = 0usize;
    let st = read(&[Input::Path(dir.path().to_path_buf())], &opts, &mut |b| {
        seen += b.len();
        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert!(seen > 0);
    assert!(seen < 120_000, "read everything: {seen}");
    assert_eq!(st.files.len(), 1, "no other file opened");
    assert_eq!(st.files[0].records as usize, seen);
    assert_eq!(st.skipped(), 0);
    // Without cancelling, everything is read.
    let (all, _) = read_all(
        &[Input::Path(dir.path().to_path_buf())],
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(all.len(), 120_000);
}
