//! What cannot be collected is said, window by window, with the API's own error.

use stormwatch_collect::fake::FakeApi;
use stormwatch_collect::{Status, collect};

use crate::util::{
    assert_written_is_served, not_complete, options, read_manifest, scenario, tenant, this_hour,
    windows_of,
};

#[test]
fn a_forbidden_source_is_missing_with_the_api_error_and_the_rest_is_collected() {
    let mut sc = scenario(21, 3);
    sc.inject.forbidden.insert("Audit.Exchange".to_owned());
    sc.inject.forbidden.insert("directoryAudits".to_owned());
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    let since = until.add_seconds(-4 * 3600);
    collect(options(
        dir.path(),
        since,
        until,
        vec![tenant(
            &fake,
            "Audit.Exchange,Audit.General,directoryAudits,signIns",
        )],
    ))
    .unwrap();
    assert_eq!(fake.violations(), Vec::<String>::new());
    assert_written_is_served(dir.path(), &fake);
    let m = read_manifest(dir.path());
    for w in windows_of(&m, "Audit.Exchange") {
        assert_eq!(w.status, Status::Missing);
        assert_eq!(w.records_written, 0);
        assert!(
            w.reasons[0]
                .starts_with("listing content failed: HTTP 403 AF10001: The permission set"),
            "{:?}",
            w.reasons
        );
    }
    for w in windows_of(&m, "directoryAudits") {
        assert_eq!(w.status, Status::Missing);
        assert!(
            w.reasons[0].contains("HTTP 403 Authorization_RequestDenied"),
            "{:?}",
            w.reasons
        );
    }
    assert!(
        windows_of(&m, "Audit.General")
            .iter()
            .all(|w| w.status == Status::Complete)
    );
    assert!(
        windows_of(&m, "signIns")
            .iter()
            .all(|w| w.status == Status::Complete)
    );
    // Four windows each, merged into one gap per source.
    assert_eq!(m.gaps.len(), 2, "{:#?}", m.gaps);
    assert!(
        m.gaps
            .iter()
            .all(|g| g.windows == 4 && g.from == since && g.to == until)
    );
    let text = m.gaps[0].describe();
    assert!(
        text.starts_with(&format!(
            "Exchange audit (Audit.Exchange) for tenant {}, ",
            crate::util::TENANT
        )) && text.contains(": not collected: listing content failed: HTTP 403 AF10001"),
        "{text}"
    );
}

#[test]
fn a_blob_failing_after_every_retry_leaves_its_window_partial_and_the_rest_written() {
    let mut sc = scenario(22, 2);
    let bad = sc.blobs_of("Audit.Exchange")[1].id.clone();
    let garbage = sc.blobs_of("Audit.General")[0].id.clone();
    sc.inject.blob_500_always.insert(bad.clone());
    sc.inject.garbage_blobs.insert(garbage.clone());
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    collect(options(
        dir.path(),
        until.add_seconds(-3 * 3600),
        until,
        vec![tenant(&fake, "Audit.Exchange,Audit.General")],
    ))
    .unwrap();
    assert_written_is_served(dir.path(), &fake);
    let m = read_manifest(dir.path());
    let open = not_complete(&m);
    assert_eq!(open.len(), 2, "{open:#?}");
    let ex = open.iter().find(|w| w.source == "Audit.Exchange").unwrap();
    assert_eq!(ex.status, Status::Partial);
    assert_eq!(ex.retries, 3);
    assert!(
        ex.reasons
            .iter()
            .any(|r| r.contains(&bad) && r.contains("HTTP 500 AF50000")),
        "{:?}",
        ex.reasons
    );
    assert!(
        ex.records_written > 0,
        "the window's other blobs are written"
    );
    let ge = open.iter().find(|w| w.source == "Audit.General").unwrap();
    assert!(
        ge.reasons
            .iter()
            .any(|r| r.contains(&garbage) && r.contains("not a JSON array")),
        "{:?}",
        ge.reasons
    );
}

#[test]
fn missing_subscriptions_are_started_and_windows_before_them_are_not_called_complete() {
    let mut sc = scenario(23, 2);
    sc.tenants[0].enabled.clear();
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    collect(options(
        dir.path(),
        until.add_seconds(-3 * 3600),
        until,
        vec![tenant(&fake, "activity")],
    ))
    .unwrap();
    assert_eq!(fake.violations(), Vec::<String>::new());
    let mut subs = fake.subscriptions(crate::util::TENANT);
    subs.sort();
    assert_eq!(
        subs,
        [
            "Audit.AzureActiveDirectory",
            "Audit.Exchange",
            "Audit.General",
            "Audit.SharePoint"
        ]
    );
    let m = read_manifest(dir.path());
    for s in &m.tenants[0].sources {
        assert!(s.subscription_started_at.is_some(), "{}", s.source);
    }
    for w in &m.windows {
        assert_ne!(w.status, Status::Complete);
        assert!(
            w.reasons
                .iter()
                .any(|r| r.contains("subscription was started by this collector")),
            "{:?}",
            w.reasons
        );
    }
}

#[test]
fn links_to_other_hosts_are_refused_and_the_window_says_so() {
    let mut sc = scenario(24, 3);
    sc.inject.foreign_next_link = true;
    sc.page_size = 2;
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    collect(options(
        dir.path(),
        until.add_seconds(-4 * 3600),
        until,
        vec![tenant(&fake, "signIns")],
    ))
    .unwrap();
    let m = read_manifest(dir.path());
    // Three sign-ins an hour, pages of two: the windows that needed a second page are
    // partial, and nothing was asked of the other host.
    let partial: Vec<_> = not_complete(&m);
    assert!(!partial.is_empty());
    for w in partial {
        assert!(
            w.reasons
                .iter()
                .any(|r| r.contains("refused to follow") && r.contains("graph.example.net")),
            "{:?}",
            w.reasons
        );
        assert!(w.records_written > 0);
    }
    assert_written_is_served(dir.path(), &fake);
}

#[test]
fn windows_past_retention_are_missing_without_asking() {
    let fake = FakeApi::start(scenario(25, 1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour().add_seconds(-8 * 86_400);
    let since = until.add_seconds(-2 * 3600);
    let mut o = options(
        dir.path(),
        since,
        until,
        vec![tenant(&fake, "Audit.Exchange")],
    );
    o.until = Some(until);
    collect(o).unwrap();
    let m = read_manifest(dir.path());
    assert_eq!(m.windows.len(), 2);
    for w in &m.windows {
        assert_eq!(w.status, Status::Missing);
        assert!(
            w.reasons[0].starts_with("past the Activity API's 7-day availability"),
            "{:?}",
            w.reasons
        );
    }
    assert!(
        !fake
            .requests()
            .iter()
            .any(|r| r.contains("subscriptions/content")),
        "no listing was asked for content the API no longer keeps"
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[test]
fn what_the_logs_say_about_licences_is_in_the_manifest() {
    let mut sc = scenario(26, 2);
    // Exchange audit without a single MailItemsAccessed, and no Entra ID P1/P2.
    for b in &mut sc.tenants[0].blobs {
        for r in &mut b.records {
            if r["Operation"] == "MailItemsAccessed" {
                r["Operation"] = "Set-Mailbox".into();
                r["RecordType"] = 1.into();
            }
        }
    }
    sc.inject.non_premium = true;
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    collect(options(
        dir.path(),
        until.add_seconds(-3 * 3600),
        until,
        vec![tenant(&fake, "Audit.Exchange,signIns,directoryAudits")],
    ))
    .unwrap();
    let m = read_manifest(dir.path());
    let kinds: Vec<&str> = m.signals.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["no_mail_items_accessed", "sign_ins_need_premium"]);
    assert!(m.signals[0].detail.contains("mail access cannot be shown"));
    assert!(
        windows_of(&m, "signIns")
            .iter()
            .all(|w| w.status == Status::Missing)
    );
    assert!(
        windows_of(&m, "directoryAudits")
            .iter()
            .all(|w| w.status == Status::Complete)
    );
    assert!(
        windows_of(&m, "Audit.Exchange")
            .iter()
            .all(|w| w.mail_items_accessed == Some(0))
    );
    // hunt and impact repeat them.
    let ev = stormwatch_collect::Evidence::beside(&[dir.path().display().to_string()]);
    assert!(
        ev.notes
            .iter()
            .any(|n| n.contains("not one MailItemsAccessed")),
        "{:?}",
        ev.notes
    );
}
