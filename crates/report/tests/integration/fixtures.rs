//! Hand-built detections and impact reports; every log-controlled string can carry a payload.

use std::sync::Arc;

use stormwatch_core::impact::{
    ActorContext, CoverageRow, ExpansionStep, FolderImpact, MailboxImpact, MessageImpact,
    OrgImpact, SourceCoverage, Window,
};
use stormwatch_core::{
    Detection, DetectionSource, ImpactReport, Incident, Level, Limit, LimitKind, Location, Reason,
    RuleCount, Timestamp,
};

pub(crate) const XSS: &str = "<script>alert(1)</script>\"'&";

pub(crate) fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub(crate) fn loc(file: &str, line: u64, id: Option<&str>) -> Location {
    Location {
        file: Arc::from(file),
        line,
        record_id: id.map(str::to_owned),
    }
}

pub(crate) fn detections(p: &str) -> Vec<Detection> {
    let mut a = Detection::new(
        "builtin/ioc-ip",
        format!("IOC IP {p}"),
        Level::High,
        DetectionSource::Builtin,
        t("2023-06-12T03:14:07Z"),
    );
    a.events = vec![
        loc("ual.json", 12, Some("3f6c1c9e")),
        loc("ual.json", 13, None),
    ];
    a.tenant = Some(format!("tenant{p}"));
    a.user = Some(format!("envoy{p}@agency.example"));
    a.mailbox = Some("envoy@agency.example".into());
    a.ip = Some("51.89.156.153".into());
    a.session_id = Some(format!("7b0d{p}"));
    a.app_id = Some("11111111-2222".into());
    a.explanation = format!("because {p}");
    a.tags = vec![format!("attack.t1114{p}")];
    let mut b = Detection::new(
        "0000-sigma",
        "=HYPERLINK(\"http://x\")",
        Level::Medium,
        DetectionSource::Sigma,
        t("2023-06-11T00:00:00Z"),
    );
    b.events = vec![loc("a,b.csv", 2, None)];
    b.user = Some("+cmd|' /C calc'!A0".into());
    vec![a, b]
}

/// An incident over the first detection of [`detections`], every name carrying `p`.
pub(crate) fn incident(p: &str) -> Incident {
    Incident {
        id: "INC-0001".into(),
        title: format!("Incident {p}"),
        level: Level::High,
        score: 85,
        first: t("2023-06-12T03:14:07Z"),
        last: t("2023-06-14T09:00:00Z"),
        tenants: vec![format!("tenant{p}")],
        mailboxes: vec![
            "envoy@agency.example".into(),
            format!("cfo{p}@agency.example"),
        ],
        users: vec![format!("envoy{p}@agency.example")],
        sessions: vec![format!("7b0d{p}")],
        ips: vec!["51.89.156.153".into()],
        apps: vec![format!("app{p}")],
        reasons: vec![Reason {
            rule_id: "builtin/ioc-ip".into(),
            rule_title: format!("IOC IP {p}"),
            level: Level::High,
            explanation: format!("because {p}"),
        }],
        rules: vec![RuleCount {
            rule_id: "builtin/ioc-ip".into(),
            level: Level::High,
            detections: 1,
        }],
        detections: vec![1],
        records: 2,
    }
}

fn lim(kind: LimitKind, from: Option<&str>, to: Option<&str>, detail: &str) -> Limit {
    Limit {
        kind,
        from: from.map(t),
        to: to.map(t),
        detail: detail.to_owned(),
    }
}

pub(crate) fn report(p: &str) -> ImpactReport {
    let msg = |id: &str, first: &str, last: &str, n: u64| MessageImpact {
        internet_message_id: format!("<{id}{p}@x>"),
        size_bytes: Some(48_211),
        first_access: Some(t(first)),
        last_access: Some(t(last)),
        access_count: n,
        subject: Some(format!("Subject {p}")),
    };
    let envoy = MailboxImpact {
        mailbox: format!("envoy{p}@agency.example"),
        first_access: Some(t("2023-06-12T03:14:07Z")),
        last_access: Some(t("2023-06-14T09:00:00Z")),
        folders: vec![
            FolderImpact {
                path: format!("\\Inbox{p}"),
                whole_folder: false,
                messages: vec![
                    msg("m1", "2023-06-12T03:14:07Z", "2023-06-12T03:20:00Z", 2),
                    msg("m2", "2023-06-13T11:00:00Z", "2023-06-13T11:00:00Z", 1),
                ],
            },
            FolderImpact {
                path: format!("\\Sent Items{p}"),
                whole_folder: true,
                messages: vec![],
            },
        ],
        unlisted_binds: 3,
        messages: 2,
        bytes: 96_422,
        records: 5,
        sessions: 1,
        ips: 2,
        apps: 1,
        limits: vec![lim(
            LimitKind::Throttled,
            Some("2023-06-13T12:00:00Z"),
            Some("2023-06-14T12:00:00Z"),
            &format!("MailItemsAccessed was throttled {p}: presume the whole mailbox exposed."),
        )],
    };
    let attache = MailboxImpact {
        mailbox: "attache@agency.example".into(),
        first_access: Some(t("2023-06-15T01:00:00Z")),
        last_access: Some(t("2023-06-15T02:00:00Z")),
        folders: vec![FolderImpact {
            path: "\\Inbox".into(),
            whole_folder: false,
            messages: vec![msg("m3", "2023-06-15T01:00:00Z", "2023-06-15T02:00:00Z", 1)],
        }],
        messages: 1,
        bytes: 48_211,
        records: 1,
        sessions: 1,
        ips: 1,
        apps: 1,
        ..MailboxImpact::default()
    };
    ImpactReport {
        actor: ActorContext {
            ips: vec!["51.89.156.153".into(), format!("ip{p}")],
            sessions: vec![format!("7b0d{p}")],
            apps: vec![format!("app{p}")],
            user_agents: vec![format!("Client=REST{p}")],
        },
        window: Window {
            first: Some(t("2023-06-12T03:14:07Z")),
            last: Some(t("2023-06-15T02:00:00Z")),
        },
        organizations: vec![
            OrgImpact {
                tenant_id: format!("b1e2c3d4{p}"),
                name: Some(format!("agency{p}")),
                first_access: Some(t("2023-06-12T03:14:07Z")),
                last_access: Some(t("2023-06-15T02:00:00Z")),
                sessions: 1,
                ips: 2,
                apps: 1,
                mailboxes: vec![attache, envoy],
                limits: vec![],
            },
            OrgImpact {
                tenant_id: "c0ffee00-unaudited".into(),
                mailboxes: vec![],
                limits: vec![lim(
                    LimitKind::NoMailAudit,
                    Some("2023-06-10T00:00:00Z"),
                    Some("2023-06-16T00:00:00Z"),
                    "Tenant c0ffee00-unaudited: 120 records but no MailItemsAccessed: mail reads in this organisation are not observable.",
                )],
                ..OrgImpact::default()
            },
        ],
        limits: vec![
            lim(
                LimitKind::NoMailAudit,
                Some("2023-06-10T00:00:00Z"),
                Some("2023-06-16T00:00:00Z"),
                "Tenant c0ffee00-unaudited: 120 records but no MailItemsAccessed: mail reads in this organisation are not observable.",
            ),
            lim(
                LimitKind::LogGap,
                Some("2023-06-13T00:00:00Z"),
                Some("2023-06-14T00:00:00Z"),
                &format!("no record at all on 2023-06-13 {p}"),
            ),
            lim(
                LimitKind::ParseErrors,
                None,
                None,
                &format!("2 records could not be read {p}"),
            ),
            lim(
                LimitKind::Dedup,
                None,
                None,
                "Read counts are lower bounds.",
            ),
        ],
        expansion: vec![
            ExpansionStep {
                added_kind: "ip".into(),
                added: "51.89.156.153".into(),
                via: "seed".into(),
                evidence: None,
            },
            ExpansionStep {
                added_kind: "session".into(),
                added: format!("7b0d{p}"),
                via: "ip 51.89.156.153".into(),
                evidence: Some(format!("ual{p}.json:12")),
            },
        ],
        coverage: vec![
            CoverageRow {
                tenant: format!("b1e2c3d4{p}"),
                workload: "Exchange".into(),
                day: "2023-06-12".into(),
                records: 100,
                mail_items_accessed: 40,
            },
            CoverageRow {
                tenant: format!("b1e2c3d4{p}"),
                workload: format!("AzureActiveDirectory{p}"),
                day: "2023-06-12".into(),
                records: 10,
                mail_items_accessed: 0,
            },
            CoverageRow {
                tenant: "c0ffee00-unaudited".into(),
                workload: "Exchange".into(),
                day: "2023-06-12".into(),
                records: 120,
                mail_items_accessed: 0,
            },
        ],
        sources: vec![SourceCoverage {
            file: format!("export{p}.csv"),
            format: "purview_csv".into(),
            records: 230,
            skipped: 2,
            first: Some(t("2023-06-10T00:00:00Z")),
            last: Some(t("2023-06-16T00:00:00Z")),
        }],
    }
}
