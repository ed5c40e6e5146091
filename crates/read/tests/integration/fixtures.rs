//! Collector and export shapes, built by wrapping the corpus' real records
//! (see `tests/fixtures/README.md`).

use stormwatch_core::{Event, MailAccessType, Outcome, SourceKind};

use crate::util::{fixture, message_ids, read_path, ts};

const MIA_ID: &str = "699e0b10-1c53-403e-976f-ce0847a92b44";

fn mia(ev: &[Event]) -> &Event {
    ev.iter()
        .find(|e| e.loc.record_id.as_deref() == Some(MIA_ID))
        .unwrap()
}

fn same_view(a: &Event, b: &Event) {
    assert_eq!(a.time, b.time);
    assert_eq!(a.operation, b.operation);
    assert_eq!(a.user, b.user);
    assert_eq!(a.mailbox, b.mailbox);
    assert_eq!(a.client_ip, b.client_ip);
    assert_eq!(a.app_id, b.app_id);
    assert_eq!(a.client_app_id, b.client_app_id);
    assert_eq!(a.record_type, b.record_type);
    assert_eq!(a.mail, b.mail);
    assert_eq!(a.loc.record_id, b.loc.record_id);
}

#[test]
fn purview_csv_both_header_variants() {
    let (portal, st) = read_path(&fixture("purview-portal.csv"));
    assert_eq!(st.skipped(), 0, "{:?}", st.errors);
    assert_eq!(st.files[0].format, "csv");
    assert_eq!(portal.len(), 8);
    // Newest first, as exported; the order is kept.
    assert_eq!(portal[0].time, Some(ts("2022-05-08T15:13:41Z")));
    assert_eq!(portal[0].loc.line, 2);
    assert_eq!(portal[7].time, Some(ts("2015-06-29T20:03:19Z")));
    let m = mia(&portal);
    assert_eq!(m.source, SourceKind::Ual);
    assert_eq!(m.mailbox.as_deref(), Some("pgustavo@simulandlabs.com"));
    assert_eq!(
        m.mail.as_ref().unwrap().access_type,
        Some(MailAccessType::Bind)
    );
    assert_eq!(message_ids(m).len(), 7);
    assert!(
        m.raw.starts_with("{\"CreationTime\""),
        "raw is AuditData: {}",
        m.raw
    );

    let (ps, st) = read_path(&fixture("purview-powershell.csv"));
    assert_eq!(st.skipped(), 0, "{:?}", st.errors);
    assert_eq!(ps.len(), 8);
    for (a, b) in portal.iter().zip(&ps) {
        same_view(a, b);
        assert_eq!(a.raw, b.raw);
    }
}

#[test]
fn extractor_suite_csv_with_multiline_audit_data() {
    let (ev, st) = read_path(&fixture("extractor-suite-ual.csv"));
    assert_eq!(st.skipped(), 0, "{:?}", st.errors);
    assert_eq!(ev.len(), 8);
    assert_eq!(ev[0].loc.line, 2);
    assert!(ev[1].loc.line > 10, "rows span lines: {}", ev[1].loc.line);
    let (portal, _) = read_path(&fixture("purview-portal.csv"));
    for (a, b) in portal.iter().zip(&ev) {
        same_view(a, b);
    }
}

#[test]
fn hawk_flattened_columns() {
    let (ev, st) = read_path(&fixture("hawk-flattened-ual.csv"));
    assert_eq!(st.skipped(), 0, "{:?}", st.errors);
    assert_eq!(ev.len(), 8);
    let m = mia(&ev);
    assert_eq!(m.record_type, Some(50), "RecordType as text");
    assert_eq!(m.ip_string().as_deref(), Some("1.2.3.4"));
    assert_eq!(message_ids(m).len(), 7, "Folders as JSON text");
    assert_eq!(m.mail.as_ref().unwrap().operation_count, 7);
    assert_eq!(ev[0].outcome, Outcome::Success);
}

#[test]
fn extractor_suite_json_array_and_goose_ndjson() {
    let (arr, st) = read_path(&fixture("extractor-suite-ual.json"));
    assert_eq!(st.skipped(), 0);
    assert_eq!(st.files[0].format, "json-array");
    let (nd, st) = read_path(&fixture("goose-ual.ndjson"));
    assert_eq!(st.skipped(), 0);
    assert_eq!(st.files[0].format, "ndjson");
    assert_eq!(arr.len(), 8);
    assert_eq!(nd.len(), 8);
    for (a, b) in arr.iter().zip(&nd) {
        same_view(a, b);
    }
    assert_eq!(arr[2].loc.line, 3, "element index");
    assert_eq!(nd[2].loc.line, 3, "line");
}

#[test]
fn sentinel_office_activity_csv_export() {
    let (ev, st) = read_path(&fixture("sentinel-officeactivity.csv"));
    assert_eq!(st.skipped(), 0, "{:?}", st.errors);
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(e.source, SourceKind::SentinelOfficeActivity);
    assert_eq!(message_ids(e).len(), 7);
    assert_eq!(
        e.client_app_id.as_deref(),
        Some("5a95e683-08ad-424e-a441-1d1aec52c02c")
    );
}

#[test]
fn graph_audit_query_records() {
    let (ev, st) = read_path(&fixture("graph-audit-records.json"));
    assert_eq!(st.skipped(), 0);
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|e| e.source == SourceKind::Ual));
    assert_eq!(ev[0].record_type, Some(50));
    assert!(
        ev[0].raw.starts_with("{\"CreationTime\""),
        "raw is auditData"
    );
    assert_eq!(ev[1].record_type, Some(1));
    assert_eq!(
        ev[1].operation.as_deref(),
        Some("Install-DefaultSharingPolicy")
    );
    assert_eq!(ev[1].user_type, Some(3));
}
