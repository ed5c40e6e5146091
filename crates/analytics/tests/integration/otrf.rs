//! The real OTRF forged-SAML mail-access sample raises the new-ClientAppId detection.

use std::sync::Arc;

use stormwatch_core::{
    Event, FolderAccess, Location, LogonType, MailAccess, MailAccessType, MessageRef, SourceKind,
    Timestamp,
};

const SAMPLE: &str =
    "../../testdata/logs/m365-ual/otrf-goldensaml-adfs-mail-access/OfficeActivityEvents.json";

/// The Sentinel `OfficeActivity` row, normalised field by field as the readers do.
fn otrf_event() -> Option<Event> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMPLE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("test data missing: {}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(text.lines().next()?).ok()?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let folders: Vec<serde_json::Value> = serde_json::from_str(&s("Folders")?).ok()?;
    let folders = folders
        .iter()
        .map(|f| FolderAccess {
            id: f.get("Id").and_then(|x| x.as_str()).map(str::to_owned),
            path: f
                .get("Path")
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .to_owned(),
            items: f
                .get("FolderItems")
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|i| i.get("InternetMessageId")?.as_str())
                        .map(|m| MessageRef {
                            internet_message_id: m.to_owned(),
                            size_bytes: None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    Some(Event {
        loc: Location {
            file: Arc::from(path.display().to_string()),
            line: 1,
            record_id: s("OfficeId"),
        },
        source: SourceKind::SentinelOfficeActivity,
        raw: text.lines().next()?.to_owned(),
        time: Timestamp::parse(&s("TimeGenerated")?).ok(),
        tenant: s("OrganizationId"),
        org_name: s("OrganizationName"),
        workload: s("OfficeWorkload"),
        record_type: Some(50),
        operation: s("Operation"),
        user: s("UserId"),
        mailbox: s("MailboxOwnerUPN"),
        mailbox_guid: s("MailboxGuid"),
        client_ip: s("Client_IPAddress").and_then(|i| i.parse().ok()),
        app_id: s("AppId"),
        client_app_id: s("ClientAppId"),
        client_info: s("ClientInfoString"),
        logon_type: s("Logon_Type").and_then(|l| LogonType::from_name(&l)),
        mail: Some(MailAccess {
            access_type: Some(MailAccessType::Bind),
            throttled: false,
            operation_count: 7,
            folders,
            items_lost: false,
        }),
        ..Event::default()
    })
}

#[test]
fn otrf_sample_raises_new_client_app() {
    let ev = otrf_event().expect("the OTRF sample has the fields the test reads");
    let mut a = crate::scenario::default_analytics();
    a.observe(&ev);
    let out = a.finish();
    let d = out
        .detections
        .iter()
        .find(|d| d.rule_id == "builtin/new-mail-app")
        .expect("new-mail-app fired");
    assert_eq!(
        d.app_id.as_deref(),
        Some("5a95e683-08ad-424e-a441-1d1aec52c02c")
    );
    assert_eq!(d.events, vec![ev.loc.clone()]);
    assert!(
        d.explanation.contains("not a Microsoft first-party app"),
        "{}",
        d.explanation
    );
    assert!(out.notes.iter().any(|n| n.contains("no sign-in logs")));
}
