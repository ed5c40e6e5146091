//! The real third-party samples in the shared corpus all read, with concrete values.

use stormwatch_core::{LogonType, MailAccessType, Outcome, SourceKind};

use crate::util::{corpus, message_ids, read_path, ts};

const OTRF: &str = "logs/m365-ual/otrf-goldensaml-adfs-mail-access";
const MAILBOX: &str = "pgustavo@simulandlabs.com";
const CLIENT_APP: &str = "5a95e683-08ad-424e-a441-1d1aec52c02c";
const GRAPH_APP: &str = "00000003-0000-0000-c000-000000000000";

#[test]
fn management_api_content_blob_array() {
    let (ev, st) = read_path(&corpus(
        "logs/m365-ual/msdocs-management-api/retrieve-content-sample-response.json",
    ));
    assert_eq!(st.skipped(), 0, "{:?}", st.errors);
    assert_eq!(st.files[0].format, "json-array");
    assert_eq!(ev.len(), 3);
    let e = &ev[0];
    assert_eq!(e.source, SourceKind::Ual);
    assert_eq!(e.loc.line, 1, "element index");
    assert_eq!(
        e.loc.record_id.as_deref(),
        Some("80c76bd2-9d81-4c57-a97a-accfc3443dca")
    );
    assert_eq!(e.time, Some(ts("2015-06-29T20:03:19Z")));
    assert_eq!(
        e.tenant.as_deref(),
        Some("41463f53-8812-40f4-890f-865bf6e35190")
    );
    assert_eq!(e.workload.as_deref(), Some("AzureActiveDirectory"));
    assert_eq!(e.record_type, Some(9));
    assert_eq!(
        e.operation.as_deref(),
        Some("PasswordLogonInitialAuthUsingPassword")
    );
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.user.as_deref(), Some("admin@contoso.onmicrosoft.com"));
    assert_eq!(e.user_type, Some(0));
    assert_eq!(e.ip_string().as_deref(), Some("134.170.188.221"));
    assert!(e.raw.starts_with('{') && e.raw.contains("PP_E_BAD_PASSWORD"));
    assert_eq!(ev[1].outcome, Outcome::Success);
    assert_eq!(ev[2].loc.line, 3);
    assert_eq!(ev[2].operation.as_deref(), Some("Add User."));
    assert_eq!(ev[2].record_type, Some(8));
    assert_eq!(ev[2].client_ip, None);
    assert_eq!(st.files[0].first, Some(ts("2015-06-29T20:03:19Z")));
    assert_eq!(st.files[0].last, Some(ts("2015-06-29T20:04:55Z")));
}

#[test]
fn plaso_ndjson_exchange_admin_and_logon() {
    let (ev, st) = read_path(&corpus("logs/m365-ual/plaso/microsoft_audit_log.jsonl"));
    assert_eq!(st.skipped(), 0);
    assert_eq!(st.files[0].format, "ndjson");
    assert_eq!(ev.len(), 4);
    let e = &ev[0];
    assert_eq!(e.loc.line, 1);
    assert_eq!(e.operation.as_deref(), Some("Install-DefaultSharingPolicy"));
    assert_eq!(e.outcome, Outcome::Success, "ResultStatus \"True\"");
    assert_eq!(e.user_type, Some(3));
    assert_eq!(e.org_name.as_deref(), Some("sst5f.onmicrosoft.com"));
    assert_eq!(e.app_id, None, "empty AppId is absent");
    assert_eq!(ev[3].loc.line, 4);
    assert_eq!(ev[3].record_type, Some(15));
    assert_eq!(ev[3].ip_string().as_deref(), Some("0.0.0.0"));
    let cov = &st.coverage;
    let key = (
        "5a0f38c6-710b-4503-92c0-3a9f6e00f726".to_owned(),
        "Exchange".to_owned(),
        "2022-05-07".to_owned(),
    );
    assert_eq!(cov.get(&key).map(|c| c.records), Some(3));
}

#[test]
fn otrf_mail_items_accessed_in_three_shapes() {
    let (sentinel, st) = read_path(&corpus(&format!("{OTRF}/OfficeActivityEvents.json")));
    assert_eq!(st.skipped(), 0);
    let (defender_all, st_d) =
        read_path(&corpus(&format!("{OTRF}/Microsoft365DefenderEvents.json")));
    assert_eq!(st_d.skipped(), 0);
    assert_eq!(defender_all.len(), 9);
    let defender: Vec<_> = defender_all
        .iter()
        .filter(|e| e.source == SourceKind::DefenderCloudAppEvents && e.is_mail_items_accessed())
        .collect();
    let (graph, st_g) = read_path(&crate::util::fixture("graph-audit-records.json"));
    assert_eq!(st_g.skipped(), 0);

    let s = &sentinel[0];
    let d = defender[0];
    let g = &graph[0];
    for e in [s, d, g] {
        assert_eq!(e.mailbox.as_deref(), Some(MAILBOX), "{:?}", e.source);
        assert_eq!(e.user.as_deref(), Some(MAILBOX));
        assert_eq!(e.client_app_id.as_deref(), Some(CLIENT_APP));
        assert_eq!(e.app_id.as_deref(), Some(GRAPH_APP));
        assert_eq!(e.client_info.as_deref(), Some("Client=REST;;"));
        assert_eq!(e.ip_string().as_deref(), Some("1.2.3.4"));
        assert_eq!(e.record_type, Some(50));
        assert_eq!(e.logon_type, Some(LogonType::Owner));
        assert_eq!(e.time, Some(ts("2021-08-02T13:32:07Z")));
        assert_eq!(e.outcome, Outcome::Success);
        assert_eq!(
            e.mailbox_guid.as_deref(),
            Some("d0c5f8ae-9ed7-4e46-bfdf-ea1460f5a31b")
        );
        let m = e.mail.as_ref().unwrap();
        assert_eq!(m.access_type, Some(MailAccessType::Bind));
        assert!(!m.throttled);
        assert_eq!(m.folders[0].path, "\\Inbox");
        assert_eq!(
            m.folders[0].id.as_deref(),
            Some("LgAAAAAM7KyTTmWeRac2KXBEz/7aAQARGHK+grzLTpRJraC1QR6kAAAAAAEMAAAB")
        );
    }
    assert_eq!(s.source, SourceKind::SentinelOfficeActivity);
    assert_eq!(s.workload.as_deref(), Some("Exchange"));
    assert_eq!(s.user_type, Some(0), "UserType \"Regular\"");
    assert_eq!(
        s.loc.record_id.as_deref(),
        Some("699e0b10-1c53-403e-976f-ce0847a92b44")
    );
    let ids = message_ids(s);
    assert_eq!(ids.len(), 7);
    assert_eq!(
        ids[1],
        "<AB1CD23EF4567DAC24353B8AD047DDEB0B1EB9@AB1CD23EF4567.abcdef12.prod.outlook.com>"
    );
    assert_eq!(
        message_ids(g),
        ids,
        "Graph auditData lists the same messages"
    );
    assert_eq!(
        g.loc.record_id.as_deref(),
        Some("699e0b10-1c53-403e-976f-ce0847a92b44")
    );

    assert_eq!(d.source, SourceKind::DefenderCloudAppEvents);
    let dm = d.mail.as_ref().unwrap();
    assert!(dm.items_lost, "FolderItems=System.Object[]");
    assert_eq!(dm.operation_count, 7);
    assert!(message_ids(d).is_empty());
    assert!(d.raw.contains("\"MailboxOwnerUPN\"") && !d.raw.contains("ActionType"));
    assert_eq!(st_d.files[0].items_lost, 1);
}

#[test]
fn otrf_sentinel_audit_logs_rows() {
    let (ev, st) = read_path(&corpus(&format!("{OTRF}/AADAuditEvents.json")));
    assert_eq!(st.skipped(), 0);
    assert_eq!(ev.len(), 4);
    assert!(ev.iter().all(|e| e.source == SourceKind::EntraAudit));
    let e = &ev[0];
    assert_eq!(e.time, Some(ts("2021-08-02T13:29:25.983Z")));
    assert_eq!(
        e.operation.as_deref(),
        Some("Update application – Certificates and secrets management")
    );
    assert_eq!(
        e.user.as_deref(),
        Some(MAILBOX),
        "InitiatedBy as a JSON string"
    );
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(
        e.tenant.as_deref(),
        Some("00000000-0000-0000-0000-000000000000")
    );
}

#[test]
fn azure_monitor_sign_in_record() {
    let (ev, st) = read_path(&corpus(
        "logs/entra-id/msdocs/azure-monitor-signinlogs-sample.json",
    ));
    assert_eq!(st.skipped(), 0);
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(e.source, SourceKind::EntraSignIn);
    assert_eq!(e.time, Some(ts("2019-03-12T16:02:15.5522137Z")));
    assert_eq!(e.operation.as_deref(), Some("SignIn"));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(
        e.loc.record_id.as_deref(),
        Some("0231f922-93fa-4005-bb11-b344eca03c01")
    );
    assert_eq!(e.client_ip, None);
    assert_eq!(e.client_ip_text.as_deref(), Some("<IP ADDRESS>"));
    let s = e.sign_in.as_ref().unwrap();
    assert_eq!(s.error_code, Some(50140));
    assert_eq!(s.interactive, Some(true));
    assert_eq!(s.category.as_deref(), Some("SignInLogs"));
    assert_eq!(s.app_name.as_deref(), Some("Azure Portal"));
    assert_eq!(
        s.resource_id.as_deref(),
        Some("00000003-0000-0ff1-ce00-000000000000")
    );
    assert_eq!(
        s.resource_name.as_deref(),
        Some("Office 365 SharePoint Online")
    );
    assert_eq!(s.token_issuer_type.as_deref(), Some("AzureAD"));
    assert_eq!(s.asn, Some(8000));
    assert_eq!(
        s.correlation_id.as_deref(),
        Some("bbbb1111-cc22-3333-44dd-555555eeeeee")
    );
    assert_eq!(e.tenant.as_deref(), Some("<TENANT ID>"));
    assert!(
        e.raw.contains("\"category\""),
        "raw is the whole Azure Monitor record"
    );
}

#[test]
fn graph_sign_in_page_with_trailing_comma_is_located_and_read() {
    let (ev, st) = read_path(&corpus(
        "logs/entra-id/msdocs/graph-signins-list-response.as-published.json",
    ));
    assert_eq!(st.errors.len(), 1, "{:?}", st.errors);
    let err = &st.errors[0];
    assert!(
        err.loc
            .file
            .ends_with("graph-signins-list-response.as-published.json")
    );
    assert_eq!(err.loc.line, 1, "first element of \"value\"");
    assert!(
        err.reason.contains("trailing comma before ']'"),
        "{}",
        err.reason
    );
    assert!(err.reason.contains("line 64"), "{}", err.reason);
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(e.source, SourceKind::EntraSignIn);
    assert_eq!(e.user.as_deref(), Some("testaccount1@contoso.com"));
    assert_eq!(e.ip_string().as_deref(), Some("131.107.159.37"));
    assert_eq!(
        e.app_id.as_deref(),
        Some("de8bc8b5-d9f9-48b1-a8ad-b748da725064")
    );
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.time, Some(ts("2020-03-13T19:15:41.6195833Z")));
    let s = e.sign_in.as_ref().unwrap();
    assert_eq!(s.resource_name.as_deref(), Some("Microsoft Graph"));
    assert_eq!(s.interactive, Some(true));
    assert_eq!(s.error_code, Some(0));
}

#[test]
fn panther_extracts_unwrap_their_log_records() {
    let (ev, st) = read_path(&corpus("logs/m365-ual/panther-rule-tests.ndjson"));
    assert_eq!(st.skipped(), 0, "{:?}", st.errors);
    assert_eq!(ev.len(), 19);
    let e = &ev[0];
    assert_eq!(e.operation.as_deref(), Some("UserLoginFailed"));
    assert_eq!(e.time, Some(ts("2022-12-12T15:57:57Z")));
    assert_eq!(e.ip_string().as_deref(), Some("1.2.3.4"));
    assert!(!e.raw.contains("rule_id"), "raw is the inner record");

    let (ev, st) = read_path(&corpus("logs/entra-id/panther-rule-tests.ndjson"));
    assert_eq!(st.skipped(), 0, "{:?}", st.errors);
    assert_eq!(ev.len(), 48);
    let sign_ins = ev
        .iter()
        .filter(|e| e.source == SourceKind::EntraSignIn)
        .count();
    let audits = ev
        .iter()
        .filter(|e| e.source == SourceKind::EntraAudit)
        .count();
    assert_eq!(sign_ins, 27);
    assert!(audits >= 15, "{audits}");
    assert!(ev.iter().all(|e| e.time.is_some()));
    let nonint = ev
        .iter()
        .find(|e| {
            e.sign_in
                .as_ref()
                .is_some_and(|s| s.category.as_deref() == Some("NonInteractiveUserSignInLogs"))
        })
        .unwrap();
    assert_eq!(nonint.sign_in.as_ref().unwrap().interactive, Some(false));
}

#[test]
fn whole_corpus_directories_read() {
    for dir in ["logs/m365-ual", "logs/entra-id"] {
        let (ev, st) = read_path(&corpus(dir));
        assert_eq!(st.skipped(), 0, "{dir}: {:?}", st.errors);
        assert!(!ev.is_empty());
        assert!(
            st.files.iter().all(|f| f.records > 0),
            "{dir}: {:?}",
            st.files
        );
    }
}

#[test]
fn sigma_regression_windows_events() {
    let (ev, st) = read_path(&corpus("sigma-rules/regression_data"));
    assert_eq!(
        st.skipped(),
        0,
        "{:?}",
        &st.errors[..st.errors.len().min(3)]
    );
    let json_files = st
        .files
        .iter()
        .filter(|f| f.file.ends_with(".json"))
        .count();
    assert!(json_files > 190, "{json_files}");
    let win: Vec<_> = ev
        .iter()
        .filter(|e| e.source == SourceKind::WindowsEvent)
        .collect();
    assert!(win.len() >= 200, "{}", win.len());
    let e = win
        .iter()
        .find(|e| {
            e.loc
                .file
                .ends_with("8a2f4b1c-3d5e-4f7a-9b2c-1e4f6d8a9c2b.json")
        })
        .unwrap();
    assert_eq!(e.operation.as_deref(), Some("7"));
    assert_eq!(
        e.workload.as_deref(),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(e.time, Some(ts("2025-11-27T07:40:10.165324Z")));
    assert_eq!(e.loc.record_id.as_deref(), Some("571146"));
}
