//! The Purview audit search for what the Activity API no longer keeps: queries created per
//! day, polled, paged; a query that never finishes is reported and polled again next run.

use stormwatch_collect::fake::FakeApi;
use stormwatch_collect::{Status, collect};
use stormwatch_core::Timestamp;

use crate::util::{
    assert_written_is_served, now, options, read_manifest, scenario, tenant, windows_of,
};

fn day(t: Timestamp) -> Timestamp {
    Timestamp::from_unix_seconds(t.unix_seconds() / 86_400 * 86_400)
}

#[test]
fn the_default_selection_searches_purview_for_days_the_activity_api_no_longer_keeps() {
    let sc = scenario(41, 1);
    let records = sc.tenants[0].audit_records.len();
    let mut sc = sc;
    // The query of the scenario's second Purview day never finishes.
    let since = day(now().add_seconds(-10 * 86_400));
    let stuck = since.add_seconds(86_400);
    sc.inject.stuck_queries.insert(stuck.unix_seconds());
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = day(now().add_seconds(-6 * 86_400));
    let mut o = options(dir.path(), since, until, vec![tenant(&fake, "default")]);
    o.window_secs = 6 * 3600;
    collect(o).unwrap();
    assert_eq!(fake.violations(), Vec::<String>::new());

    let m = read_manifest(dir.path());
    let q = windows_of(&m, "auditLogQuery");
    // Whole days from `since` to the day the Activity API's seven days begin.
    assert!(q.len() >= 3 && q.len() <= 4, "{q:#?}");
    assert!(
        q.iter()
            .all(|w| w.to.unix_seconds() - w.from.unix_seconds() == 86_400)
    );
    let stuck_w = q.iter().find(|w| w.from == stuck).unwrap();
    assert_eq!(stuck_w.status, Status::Missing);
    assert!(
        stuck_w.reasons[0].contains("still running"),
        "{:?}",
        stuck_w.reasons
    );
    let qid = stuck_w.query_id.clone().unwrap();
    assert!(
        q.iter()
            .filter(|w| w.from != stuck)
            .all(|w| w.status == Status::Complete)
    );
    // The Activity API's windows start where its seven days do.
    let ex = windows_of(&m, "Audit.Exchange");
    assert!(!ex.is_empty());
    assert!(ex[0].from >= day(now().add_seconds(-7 * 86_400)));
    let got: u64 = q.iter().map(|w| w.records_written).sum();
    assert!(
        got > 0 && (got as usize) < records,
        "the stuck day is missing: {got} of {records}"
    );

    // Next run: the same query is polled again, not made again, and now it is done.
    fake.inject(|i| i.stuck_queries.clear());
    let posts_before = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST /v1.0/security"))
        .count();
    let mut o = options(dir.path(), since, until, vec![tenant(&fake, "default")]);
    o.window_secs = 6 * 3600;
    let m = collect(o).unwrap().manifest;
    let posts_after = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST /v1.0/security"))
        .count();
    assert_eq!(posts_before, posts_after, "no new query was created");
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.contains(&format!("queries/{qid}")))
    );
    let w = m
        .windows
        .iter()
        .find(|w| w.source == "auditLogQuery" && w.from == stuck)
        .unwrap();
    assert_eq!(w.status, Status::Complete);
    assert_eq!(w.attempts, 2);
    let all: u64 = windows_of(&m, "auditLogQuery")
        .iter()
        .map(|w| w.records_written)
        .sum();
    assert_eq!(all as usize, records);
    assert_written_is_served(dir.path(), &fake);
    // Records in Purview's shape keep their auditData.
    let written = crate::util::written(dir.path());
    let purview = &written[&(crate::util::TENANT.to_owned(), "auditLogQuery".to_owned())];
    assert!(purview.values().all(|v| v["auditData"]["Id"].is_string()));
}

#[test]
fn the_search_is_not_asked_of_clouds_that_do_not_have_it() {
    let fake = FakeApi::start(scenario(42, 1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut t = tenant(&fake, "auditLogQuery");
    t.endpoints.cloud = stormwatch_collect::Cloud::GccHigh;
    let until = day(now().add_seconds(-8 * 86_400));
    collect(options(
        dir.path(),
        until.add_seconds(-86_400),
        until,
        vec![t],
    ))
    .unwrap();
    let m = read_manifest(dir.path());
    assert_eq!(m.windows.len(), 1);
    assert_eq!(m.windows[0].status, Status::Missing);
    assert!(
        m.windows[0].reasons[0].contains("global service only"),
        "{:?}",
        m.windows[0].reasons
    );
    assert!(!fake.requests().iter().any(|r| r.contains("auditLog")));
}
