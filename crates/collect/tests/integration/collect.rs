//! A collection through throttling, 500s, token revocation, expired, duplicated and
//! out-of-order content: every record served is written once, and every window is accounted
//! for.

use std::collections::BTreeSet;

use stormwatch_collect::fake::FakeApi;
use stormwatch_collect::{Status, collect};
use stormwatch_core::Timestamp;

use crate::util::{
    TENANT, assert_written_is_served, not_complete, options, read_manifest, scenario, tenant,
    this_hour, windows_of, written,
};

#[test]
fn every_served_record_is_written_once_and_every_window_is_accounted_for() {
    let mut sc = scenario(7, 5);
    let exchange: Vec<String> = sc
        .blobs_of("Audit.Exchange")
        .iter()
        .map(|b| b.id.clone())
        .collect();
    let sharepoint = sc.blobs_of("Audit.SharePoint")[2].id.clone();
    let general = sc.blobs_of("Audit.General")[1].id.clone();
    let aad = sc.blobs_of("Audit.AzureActiveDirectory")[0].id.clone();
    let expired_at = sc.blobs_of("Audit.SharePoint")[2].created;
    sc.inject.throttle = 2;
    sc.inject.af429 = 1;
    sc.inject.blob_500.insert(exchange[1].clone(), 2);
    sc.inject.expired.insert(sharepoint.clone());
    sc.inject.listed_twice.insert(general.clone());
    sc.inject.listed_next_hour.insert(aad.clone());
    sc.inject.reverse_listing = true;
    sc.inject.revoke_after = Some(25);
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    let since = until.add_seconds(-7 * 3600);
    let out = collect(options(
        dir.path(),
        since,
        until,
        vec![tenant(&fake, "activity,graph")],
    ))
    .unwrap();

    assert_eq!(fake.violations(), Vec::<String>::new());
    assert_written_is_served(dir.path(), &fake);
    let m = read_manifest(dir.path());
    assert_eq!(m, out.manifest);

    // Every source has one window per hour asked for, each once.
    for source in [
        "Audit.Exchange",
        "Audit.AzureActiveDirectory",
        "Audit.SharePoint",
        "Audit.General",
        "signIns",
        "nonInteractiveSignIns",
        "directoryAudits",
    ] {
        let ws = windows_of(&m, source);
        let starts: BTreeSet<Timestamp> = ws.iter().map(|w| w.from).collect();
        assert_eq!(ws.len(), 7, "{source}");
        assert_eq!(starts.len(), 7, "{source}");
        assert_eq!(ws[0].from, since);
        assert_eq!(ws[6].to, until);
        assert!(ws.iter().all(|w| w.tenant == TENANT && w.attempts == 1));
    }
    // Only the window of the expired blob is not complete, and it says why.
    let open = not_complete(&m);
    assert_eq!(open.len(), 1, "{open:#?}");
    let w = open[0];
    assert_eq!(w.source, "Audit.SharePoint");
    assert_eq!(w.status, Status::Partial);
    assert!(w.from <= expired_at && expired_at < w.to);
    assert_eq!(w.expired, 1);
    assert!(
        w.reasons
            .iter()
            .any(|r| r.contains(&sharepoint) && r.contains("AF20051")),
        "{:?}",
        w.reasons
    );
    assert_eq!(m.gaps.len(), 1);

    // The counts add up to what is on disk, and the injected trouble shows.
    let lines: u64 = written(dir.path()).values().map(|m| m.len() as u64).sum();
    assert_eq!(m.totals.records_written, lines);
    assert_eq!(m.totals.windows, 49);
    assert_eq!(m.totals.complete, 48);
    assert!(m.totals.throttled >= 3, "{:?}", m.totals);
    assert!(m.totals.retries >= 2, "{:?}", m.totals);
    let dup_blobs: u64 = m.windows.iter().map(|w| w.duplicate_blobs).sum();
    assert!(dup_blobs >= 2, "listed twice, and again an hour later");
    assert!(
        m.totals.duplicates >= 1,
        "a record repeated in a second blob"
    );
    assert!(
        fake.tokens_issued() >= 3,
        "tokens revoked mid-run were taken again"
    );
    let served: u64 = m.windows.iter().map(|w| w.records_served).sum();
    assert_eq!(served, m.totals.records_written + m.totals.duplicates);
    // Exchange windows count MailItemsAccessed; the scenario has some, so no signal.
    assert!(
        windows_of(&m, "Audit.Exchange")
            .iter()
            .all(|w| w.mail_items_accessed.is_some())
    );
    assert!(m.signals.is_empty(), "{:?}", m.signals);
}

#[test]
fn files_are_partitioned_by_tenant_source_and_day_of_the_record() {
    let fake = FakeApi::start(scenario(11, 3)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    collect(options(
        dir.path(),
        until.add_seconds(-5 * 3600),
        until,
        vec![tenant(&fake, "Audit.Exchange,signIns")],
    ))
    .unwrap();
    let files = crate::util::files(dir.path());
    assert!(!files.is_empty());
    for (rel, text) in &files {
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 3, "{rel}");
        assert_eq!(parts[0], TENANT);
        assert!(["Audit.Exchange", "signIns"].contains(&parts[1]), "{rel}");
        let day = parts[2].trim_end_matches(".ndjson.gz");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let t = v["CreationTime"]
                .as_str()
                .or(v["createdDateTime"].as_str())
                .unwrap();
            assert!(t.starts_with(day), "{rel}: {t}");
        }
    }
    assert!(dir.path().join("manifest.json").is_file());
}
