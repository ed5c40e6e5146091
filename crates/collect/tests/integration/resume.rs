//! Running again continues where the last run stopped, and never writes a record twice.

use std::io::Write;

use stormwatch_collect::fake::FakeApi;
use stormwatch_collect::{Status, collect};

use crate::util::{
    assert_written_is_served, files, options, read_manifest, scenario, tenant, this_hour, written,
};

#[test]
fn what_a_kill_leaves_behind_is_cut_off_and_nothing_is_asked_again() {
    let fake = FakeApi::start(scenario(31, 3)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    let since = until.add_seconds(-4 * 3600);
    let opts = || {
        options(
            dir.path(),
            since,
            until,
            vec![tenant(&fake, "activity,signIns")],
        )
    };
    collect(opts()).unwrap();
    let before = files(dir.path());
    let manifest_before = read_manifest(dir.path());
    let requests_before = fake.requests().len();

    // The debris of a window killed halfway: bytes past the committed end of a data file, a
    // day file no commit names, a torn journal line, extra ids, a spool.
    let state = dir.path().join(".stormwatch-collect");
    let (first, _) = before.iter().next().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join(first))
        .unwrap();
    f.write_all(&[0x1f, 0x8b, 0x08, 0, 0, 0]).unwrap();
    let stray = dir
        .path()
        .join(crate::util::TENANT)
        .join("Audit.Exchange/2001-01-01.ndjson.gz");
    std::fs::write(&stray, b"\x1f\x8b partial").unwrap();
    let mut j = std::fs::OpenOptions::new()
        .append(true)
        .open(state.join("journal.ndjson"))
        .unwrap();
    j.write_all(b"{\"kind\":\"window\",\"tenant\":\"").unwrap();
    let ids = state
        .join("ids")
        .join(crate::util::TENANT)
        .join("Audit.Exchange.bin");
    let mut i = std::fs::OpenOptions::new().append(true).open(&ids).unwrap();
    i.write_all(&[7u8; 16]).unwrap();
    std::fs::write(state.join("spool").join("x.spool"), b"{}").unwrap();

    let again = collect(opts()).unwrap();
    assert_eq!(files(dir.path()), before, "the data is as committed");
    assert!(!stray.exists());
    assert!(
        std::fs::read_dir(state.join("spool"))
            .unwrap()
            .next()
            .is_none()
    );
    assert_eq!(again.manifest.windows, manifest_before.windows);
    assert_eq!(again.manifest.runs.len(), 2);
    // Everything was complete: the second run asked for no content, only subscriptions.
    let asked: Vec<String> = fake.requests()[requests_before..]
        .iter()
        .filter(|r| !r.contains("subscriptions/list"))
        .cloned()
        .collect();
    assert_eq!(asked, Vec::<String>::new());
}

#[test]
fn failed_windows_are_collected_by_the_next_run_without_duplicates() {
    let sc = scenario(32, 4);
    let broken: Vec<String> = sc
        .blobs_of("Audit.Exchange")
        .iter()
        .step_by(3)
        .map(|b| b.id.clone())
        .collect();
    let mut failing = sc.clone();
    failing.inject.blob_500_always = broken.iter().cloned().collect();
    failing.inject.forbidden.insert("signIns".to_owned());

    let until = this_hour();
    let since = until.add_seconds(-5 * 3600);
    // Interrupted: some blobs and a whole source failed.
    let dir = tempfile::tempdir().unwrap();
    let fake1 = FakeApi::start(failing).unwrap();
    collect(options(
        dir.path(),
        since,
        until,
        vec![tenant(&fake1, "Audit.Exchange,signIns")],
    ))
    .unwrap();
    let first = read_manifest(dir.path());
    assert!(
        first.totals.partial > 0 && first.totals.missing > 0,
        "{:?}",
        first.totals
    );
    let written_first: usize = written(dir.path()).values().map(|m| m.len()).sum();
    drop(fake1);

    // Resumed against a healthy API: only the windows not complete are asked again.
    let fake2 = FakeApi::start(sc.clone()).unwrap();
    let second = collect(options(
        dir.path(),
        since,
        until,
        vec![tenant(&fake2, "Audit.Exchange,signIns")],
    ))
    .unwrap()
    .manifest;
    assert!(second.is_complete(), "{:#?}", second.gaps);
    let contents = fake2
        .requests()
        .iter()
        .filter(|r| r.contains("subscriptions/content") && !r.contains("nextPage"))
        .count() as u64;
    assert_eq!(
        contents, first.totals.partial,
        "only the partial Exchange windows were listed again"
    );

    // The same records as one uninterrupted run.
    let clean = tempfile::tempdir().unwrap();
    let fake3 = FakeApi::start(sc).unwrap();
    collect(options(
        clean.path(),
        since,
        until,
        vec![tenant(&fake3, "Audit.Exchange,signIns")],
    ))
    .unwrap();
    assert_written_is_served(clean.path(), &fake3);
    assert_eq!(written(dir.path()), written(clean.path()));
    let total: usize = written(dir.path()).values().map(|m| m.len()).sum();
    assert!(total > written_first);
    assert_eq!(
        second.totals.records_written, total as u64,
        "written counts add up over runs"
    );
    let resumed: Vec<_> = second.windows.iter().filter(|w| w.attempts == 2).collect();
    assert!(!resumed.is_empty());
    assert!(resumed.iter().all(|w| w.status == Status::Complete));
}

#[test]
fn another_run_into_the_same_folder_is_refused_while_one_runs() {
    let fake = FakeApi::start(scenario(33, 1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".stormwatch-collect");
    std::fs::create_dir_all(&state).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("lock"))
        .unwrap();
    lock.lock().unwrap();
    let until = this_hour();
    let err = collect(options(
        dir.path(),
        until.add_seconds(-3600),
        until,
        vec![tenant(&fake, "signIns")],
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("another stormwatch collect"),
        "{err}"
    );
}

#[test]
fn a_folder_keeps_its_window_length() {
    let fake = FakeApi::start(scenario(34, 1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    let since = until.add_seconds(-3600);
    collect(options(
        dir.path(),
        since,
        until,
        vec![tenant(&fake, "signIns")],
    ))
    .unwrap();
    let mut o = options(dir.path(), since, until, vec![tenant(&fake, "signIns")]);
    o.window_secs = 1800;
    let err = collect(o).unwrap_err().to_string();
    assert!(err.contains("windows of 3600 s"), "{err}");
}

#[test]
fn recent_windows_are_partial_until_their_records_can_all_be_there_and_are_asked_again() {
    let fake = FakeApi::start(scenario(35, 3)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let since = this_hour().add_seconds(-4 * 3600);
    let run = || {
        let mut o = options(
            dir.path(),
            since,
            this_hour(),
            vec![tenant(&fake, "signIns")],
        );
        o.until = None;
        o.settle_secs = Some(7200);
        collect(o).unwrap().manifest
    };
    let m = run();
    let ws = crate::util::windows_of(&m, "signIns");
    assert_eq!(ws.len(), 5, "four whole hours and the one under way");
    let open = ws.last().unwrap();
    assert_eq!(open.status, Status::Partial);
    assert_eq!(
        open.reasons,
        ["the window had not ended when it was collected"]
    );
    for w in &ws[2..4] {
        assert_eq!(w.status, Status::Partial);
        assert!(
            w.reasons[0].contains("records may still arrive"),
            "{:?}",
            w.reasons
        );
    }
    assert!(ws[..2].iter().all(|w| w.status == Status::Complete));
    // The next run asks again for those three only.
    let before = fake.requests().len();
    run();
    let lists = fake.requests()[before..]
        .iter()
        .filter(|r| r.contains("auditLogs/signIns") && !r.contains("skiptoken"))
        .count();
    assert_eq!(lists, 3);
    assert_written_is_served(dir.path(), &fake);
}
