//! Limits of the evidence: never silence.

use stormwatch_core::{FileStats, InputStats, LimitKind, Location, RecordError};
use stormwatch_impact::ImpactOptions;

use crate::build::*;
use crate::exposure::{X, Y, scenario};

fn kinds(ls: &[stormwatch_core::Limit]) -> Vec<LimitKind> {
    ls.iter().map(|l| l.kind).collect()
}

#[test]
fn throttled_window_is_reported_and_presumed_exposed() {
    let mut evs = scenario();
    // The actor's own record is throttled on a@t1.
    evs.push(
        mia(20, "2023-06-12T03:40:00Z", "t1", "a@t1.example")
            .ip(X)
            .bind("\\Inbox", &[])
            .throttled()
            .ev(),
    );
    // Another mailbox of the tenant is throttled while the actor is active: presumed exposed.
    evs.push(
        mia(21, "2023-06-12T02:00:00Z", "t1", "d@t1.example")
            .ip(Y)
            .session("s9")
            .throttled()
            .ev(),
    );
    // And one throttled long before: not the actor's time, not listed.
    evs.push(
        mia(22, "2023-05-01T02:00:00Z", "t1", "e@t1.example")
            .ip(Y)
            .session("s9")
            .throttled()
            .ev(),
    );
    let r = run(&evs, &seeds_ip(X), &ImpactOptions::default());
    let org = &r.organizations[0];
    let a = org
        .mailboxes
        .iter()
        .find(|m| m.mailbox == "a@t1.example")
        .unwrap();
    let th: Vec<_> = a
        .limits
        .iter()
        .filter(|l| l.kind == LimitKind::Throttled)
        .collect();
    assert_eq!(th.len(), 1);
    assert_eq!(th[0].from, Some(t("2023-06-12T03:40:00Z")));
    assert_eq!(th[0].to, Some(t("2023-06-13T03:40:00Z")));
    assert!(th[0].detail.contains("presume the whole mailbox exposed"));
    let d = org
        .mailboxes
        .iter()
        .find(|m| m.mailbox == "d@t1.example")
        .unwrap();
    assert!(d.folders.is_empty());
    assert_eq!(kinds(&d.limits), vec![LimitKind::Throttled]);
    assert!(d.limits[0].detail.contains("not observable"));
    assert!(!org.mailboxes.iter().any(|m| m.mailbox == "e@t1.example"));
}

#[test]
fn unaudited_tenant_is_reported_not_silent() {
    let mut evs = scenario();
    evs.push(
        sign_in(
            30,
            "2023-06-12T07:00:00Z",
            "t2",
            "f@t2.example",
            "s7",
            "192.0.2.200",
        )
        .ev(),
    );
    evs.push(
        exch(31, "2023-06-12T07:05:00Z", "t2", "f@t2.example", "Send")
            .ip(X)
            .ev(),
    );
    let r = run(&evs, &seeds_ip(X), &ImpactOptions::default());
    let top: Vec<_> = r
        .limits
        .iter()
        .filter(|l| l.kind == LimitKind::NoMailAudit)
        .collect();
    assert_eq!(top.len(), 1);
    assert!(top[0].detail.contains("Tenant t2"));
    assert!(top[0].detail.contains("not observable"));
    let t2 = r
        .organizations
        .iter()
        .find(|o| o.tenant_id == "t2")
        .unwrap();
    assert_eq!(kinds(&t2.limits), vec![LimitKind::NoMailAudit]);
    let f = &t2.mailboxes[0];
    assert_eq!(f.mailbox, "f@t2.example");
    assert_eq!(f.records, 1);
    assert_eq!(kinds(&f.limits), vec![LimitKind::NoMailAudit]);
    for l in r.limits.iter().chain(&t2.limits) {
        assert!(!l.detail.contains("not accessed"), "{}", l.detail);
    }
}

#[test]
fn unaudited_tenant_without_actor_records_still_appears() {
    let mut evs = scenario();
    evs.push(
        exch(32, "2023-06-12T07:05:00Z", "t3", "g@t3.example", "Send")
            .ip(Y)
            .ev(),
    );
    let r = run(&evs, &seeds_ip(X), &ImpactOptions::default());
    let t3 = r
        .organizations
        .iter()
        .find(|o| o.tenant_id == "t3")
        .unwrap();
    assert!(t3.mailboxes.is_empty());
    assert_eq!(kinds(&t3.limits), vec![LimitKind::NoMailAudit]);
}

#[test]
fn gaps_errors_lost_items_edges_dedup_and_sign_ins() {
    let mut evs = vec![
        mia(1, "2023-06-10T10:00:00Z", "t1", "a@t1.example")
            .ip(Y)
            .session("s0")
            .bind("\\Inbox", &[("<o@x>", 1)])
            .ev(),
        mia(2, "2023-06-13T10:00:00Z", "t1", "a@t1.example")
            .ip(X)
            .bind("\\Inbox", &[("<p@x>", 1)])
            .ev(),
        mia(3, "2023-06-13T11:00:00Z", "t1", "a@t1.example")
            .ip(X)
            .items_lost()
            .op_count(3)
            .ev(),
    ];
    let mut bypass = exch(
        4,
        "2023-06-14T10:00:00Z",
        "t1",
        "h@t1.example",
        "Set-MailboxAuditBypassAssociation",
    )
    .ev();
    bypass.raw = r#"{"Parameters":[{"Name":"Identity","Value":"svc"},{"Name":"AuditBypassEnabled","Value":"True"}]}"#.into();
    evs.push(bypass);
    // Turning auditing on is not a limit.
    let mut on = exch(
        5,
        "2023-06-14T10:00:00Z",
        "t1",
        "h@t1.example",
        "Set-Mailbox",
    )
    .ev();
    on.raw = r#"{"Parameters":[{"Name":"AuditEnabled","Value":"True"}]}"#.into();
    evs.push(on);
    let stats = InputStats {
        files: vec![FileStats {
            file: "export.csv".into(),
            format: "purview_csv".into(),
            records: 4,
            skipped: 2,
            first: Some(t("2023-06-10T10:00:00Z")),
            last: Some(t("2023-06-14T10:00:00Z")),
            items_lost: 1,
            ..FileStats::default()
        }],
        errors: vec![RecordError {
            loc: Location {
                file: "export.csv".into(),
                line: 7,
                record_id: None,
            },
            field: Some("AuditData".into()),
            reason: "unterminated string".into(),
        }],
        ..InputStats::default()
    };
    let r = run_with(&evs, &seeds_ip(X), &ImpactOptions::default(), &stats);
    let k = kinds(&r.limits);
    for want in [
        LimitKind::LogGap,
        LimitKind::ParseErrors,
        LimitKind::ItemsLost,
        LimitKind::RetentionEdge,
        LimitKind::AuditBypass,
        LimitKind::NoSignIns,
        LimitKind::Dedup,
    ] {
        assert!(k.contains(&want), "{want:?} missing from {k:?}");
    }
    let gap = r
        .limits
        .iter()
        .find(|l| l.kind == LimitKind::LogGap)
        .unwrap();
    assert_eq!(
        (gap.from, gap.to),
        (
            Some(t("2023-06-11T00:00:00Z")),
            Some(t("2023-06-13T00:00:00Z"))
        )
    );
    assert!(gap.detail.contains("2023-06-11 to 2023-06-12 (2 days)"));
    let pe = r
        .limits
        .iter()
        .find(|l| l.kind == LimitKind::ParseErrors)
        .unwrap();
    assert!(pe.detail.contains("2 records") && pe.detail.contains("export.csv:7"));
    let edge: Vec<_> = r
        .limits
        .iter()
        .filter(|l| l.kind == LimitKind::RetentionEdge)
        .collect();
    assert_eq!(
        edge.len(),
        1,
        "the actor ends a day before the input does, but starts 3 days after it"
    );
    let a = &r.organizations[0].mailboxes[0];
    assert_eq!(a.unlisted_binds, 3);
    assert!(kinds(&a.limits).contains(&LimitKind::ItemsLost));
    assert_eq!(a.messages, 1);
    assert_eq!(
        r.limits
            .iter()
            .filter(|l| l.kind == LimitKind::AuditBypass)
            .count(),
        1
    );
    // Limits are sorted by kind.
    let mut sorted = k.clone();
    sorted.sort();
    assert_eq!(k, sorted);
}

#[test]
fn coverage_comes_from_the_reader_stats_with_tenants_merged_case_insensitively() {
    let mut stats = InputStats::default();
    for (tenant, n, m) in [("T1", 3, 1), ("t1", 2, 0), ("", 1, 0)] {
        stats.coverage.insert(
            (
                tenant.to_owned(),
                "Exchange".to_owned(),
                "2023-06-12".to_owned(),
            ),
            stormwatch_core::CoverageCell {
                records: n,
                mail_items_accessed: m,
            },
        );
    }
    stats.files.push(FileStats {
        file: "a.json".into(),
        records: 6,
        ..FileStats::default()
    });
    let r = run_with(&scenario(), &seeds_ip(X), &ImpactOptions::default(), &stats);
    let rows: Vec<(&str, u64, u64)> = r
        .coverage
        .iter()
        .map(|c| (c.tenant.as_str(), c.records, c.mail_items_accessed))
        .collect();
    assert_eq!(rows, vec![("t1", 5, 1), ("unknown", 1, 0)]);
    assert_eq!(r.sources.len(), 1);
    assert_eq!(r.sources[0].file, "a.json");
}

/// Everyone's mail reads, sends and sign-ins, day by day from 2023-06-01: `reads(user, day)`
/// says whether that user's mailbox logs MailItemsAccessed that day.
fn office(
    tenant: &str,
    users: &[&str],
    days: u32,
    reads: impl Fn(&str, u32) -> bool,
) -> Vec<stormwatch_core::Event> {
    let mut evs = Vec::new();
    let mut line = 1000;
    for d in 1..=days {
        for u in users {
            let at = |h: u32| format!("2023-06-{d:02}T{h:02}:15:00Z");
            line += 10;
            evs.push(
                sign_in(
                    line,
                    &at(8),
                    tenant,
                    u,
                    &format!("s-{u}-{d}"),
                    "198.51.100.7",
                )
                .ev(),
            );
            evs.push(exch(line + 1, &at(11), tenant, u, "Send").ev());
            if reads(u, d) {
                for k in 0..3 {
                    evs.push(
                        mia(line + 2 + k, &at(9 + k as u32), tenant, u)
                            .ip("198.51.100.7")
                            .session(&format!("s-{u}-{d}"))
                            .ev(),
                    );
                }
            }
        }
    }
    evs
}

#[test]
fn mail_audit_that_stops_while_activity_goes_on_is_a_limit_with_its_window() {
    let mut evs = scenario();
    // Tenant t9: the licence lapses after 2023-06-10; sign-ins and sends go on to the 20th.
    evs.extend(office(
        "t9",
        &["u1@t9.example", "u2@t9.example"],
        20,
        |_, d| d <= 10,
    ));
    // Tenant t8: only v2's mailbox stops being audited after the 5th.
    evs.extend(office(
        "t8",
        &["v1@t8.example", "v2@t8.example"],
        12,
        |u, d| u.starts_with("v1") || d <= 5,
    ));
    let r = run(&evs, &seeds_ip(X), &ImpactOptions::default());
    let nma = |ls: &[stormwatch_core::Limit]| -> Vec<stormwatch_core::Limit> {
        ls.iter()
            .filter(|l| l.kind == LimitKind::NoMailAudit)
            .cloned()
            .collect()
    };
    // t9: listed though the actor never touched it, with the window from its last read.
    let t9 = r
        .organizations
        .iter()
        .find(|o| o.tenant_id == "t9")
        .unwrap();
    let l = nma(&t9.limits);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0].from, Some(t("2023-06-10T11:15:00Z")));
    assert!(l[0].to.unwrap() > t("2023-06-20T11:15:00Z"));
    assert!(l[0].to.unwrap() < t("2023-06-20T11:15:01Z"));
    assert!(
        l[0].detail.contains("MailItemsAccessed records stop"),
        "{}",
        l[0].detail
    );
    assert!(
        nma(&r.limits)
            .iter()
            .any(|x| x.detail.contains("Tenant t9"))
    );
    // No mailbox of t9 is named on its own: the tenant's limit covers them.
    assert!(t9.mailboxes.iter().all(|m| nma(&m.limits).is_empty()));
    // t8: the tenant still logs reads; v2's mailbox carries its own window, v1's nothing.
    let t8 = r
        .organizations
        .iter()
        .find(|o| o.tenant_id == "t8")
        .unwrap();
    assert!(nma(&t8.limits).iter().all(|x| !x.detail.contains("stop")));
    let v2 = t8
        .mailboxes
        .iter()
        .find(|m| m.mailbox == "v2@t8.example")
        .unwrap();
    let l = nma(&v2.limits);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0].from, Some(t("2023-06-05T11:15:00Z")));
    assert!(v2.folders.is_empty() && v2.records == 0, "not the actor's");
    assert!(!t8.mailboxes.iter().any(|m| m.mailbox == "v1@t8.example"));
    assert!(
        nma(&r.limits)
            .iter()
            .any(|x| x.detail.contains("Tenant t8") && x.detail.contains("v2@t8.example"))
    );
    // The tenants that keep their audit raise nothing of the kind.
    let t1 = r
        .organizations
        .iter()
        .find(|o| o.tenant_id == "t1")
        .unwrap();
    assert!(t1.mailboxes.iter().all(|m| nma(&m.limits).is_empty()));
}
