//! Rows of the SIEM tables and the Graph audit query: Sentinel `OfficeActivity`, Defender
//! `CloudAppEvents` and Graph `auditLogRecord`.

use std::fmt::Write as _;

use crate::json::{Obj, push_str};
use crate::record::{Access, Op, Ual};
use crate::render::ual::{Style, audit_data, logon_type_name, push_folders, push_op_props};
use crate::timefmt;
use crate::world::{Role, World};

/// A Sentinel `OfficeActivity` row (Log Analytics export, one JSON object).
pub(crate) fn sentinel_row(w: &World, r: &Ual, out: &mut String) {
    let user = &w.users[r.user];
    let owner = &w.users[r.mailbox];
    let tenant = &w.tenants[owner.tenant];
    let profile = &w.profiles[r.profile];
    let tid = tenant.id.to_string();
    let id = r.id.to_string();
    let ip = r.ip.to_string();
    let mut o = Obj::open(out);
    o.str("TenantId", &tid);
    o.str("RecordType", &r.record_type().to_string());
    let t = o.key("TimeGenerated");
    t.push('"');
    timefmt::push_z(t, r.time);
    t.push('"');
    o.str("Operation", r.operation());
    o.str("OrganizationId", &tid);
    let app_only = user.role == Role::BackupApp;
    o.str(
        "UserType",
        if matches!(r.op, Op::Cmdlet { .. }) {
            "Admin"
        } else if app_only {
            "Application"
        } else {
            "Regular"
        },
    );
    o.str(
        "UserKey",
        &if matches!(r.op, Op::UserLoggedIn) {
            user.object_id.to_string()
        } else {
            user.puid.clone()
        },
    );
    o.str("OfficeWorkload", r.workload());
    o.str(
        "ResultStatus",
        if matches!(r.op, Op::UserLoggedIn) {
            "Success"
        } else {
            "Succeeded"
        },
    );
    o.str("UserId", &user.upn);
    o.str("UserId_", &user.upn);
    o.str("OrganizationName", &tenant.org_name);
    match &r.op {
        Op::MailItemsAccessed { count, .. } => {
            o.str("ExternalAccess", "False");
            o.str("OriginatingServer", &format!("{}\r\n", w.server(r.mailbox)));
            o.str("Logon_Type", logon_type_name(r.logon_type));
            o.str("MailboxGuid", &owner.mailbox_guid.to_string());
            o.str("MailboxOwnerUPN", &owner.upn);
            o.str("MailboxOwnerSid", &owner.sid);
            o.str("LogonUserSid", &user.sid);
            o.str("ClientInfoString", &profile.client_info);
            o.str("Client_IPAddress", &ip);
            let mut folders = String::new();
            push_folders(w, r, &mut folders);
            o.str("Folders", &folders);
            let mut props = String::new();
            push_op_props(r, &mut props);
            o.str("OperationProperties", &props);
            o.str("AppId", &profile.app_id);
            o.str("ClientAppId", &profile.client_app_id);
            if !app_only {
                o.str("SessionId", &r.session.to_string());
            }
            o.int("OperationCount", i64::from(*count));
        }
        Op::Send { .. } => {
            o.str("ExternalAccess", "False");
            o.str("OriginatingServer", &format!("{}\r\n", w.server(r.mailbox)));
            o.str("Logon_Type", logon_type_name(r.logon_type));
            o.str("MailboxGuid", &owner.mailbox_guid.to_string());
            o.str("MailboxOwnerUPN", &owner.upn);
            o.str("ClientInfoString", &profile.client_info);
            o.str("Client_IPAddress", &ip);
            let mut full = String::new();
            audit_data(w, r, Style::API, &mut full);
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&full) {
                o.str("Item", &v["Item"].to_string());
            }
            o.str("AppId", &profile.app_id);
            o.str("ClientAppId", &profile.client_app_id);
            o.str("SessionId", &r.session.to_string());
        }
        Op::FileAccessed { .. } | Op::UserLoggedIn | Op::Cmdlet { .. } | Op::Discovery { .. } => {
            let mut full = String::new();
            audit_data(w, r, Style::API, &mut full);
            let v: serde_json::Value = serde_json::from_str(&full).unwrap_or_default();
            o.str("ClientIP", &ip);
            if let Some(obj) = v["ObjectId"].as_str() {
                o.str("OfficeObjectId", obj);
            }
            for k in ["ExtendedProperties", "Parameters"] {
                if v.get(k).is_some() {
                    o.str(k, &v[k].to_string());
                }
            }
            if let Some(ua) = v["UserAgent"].as_str() {
                o.str("UserAgent", ua);
            }
            if let Some(s) = v["SiteUrl"].as_str() {
                o.str("Site_Url", s);
                o.str("SourceFileName", v["SourceFileName"].as_str().unwrap_or(""));
                o.str("SourceFileExtension", "docx");
            }
            if let Op::Cmdlet { .. } = r.op {
                o.str("ExternalAccess", "False");
                o.str("OriginatingServer", &format!("{}\r\n", w.server(r.user)));
                o.guid("SessionId", r.session);
            }
        }
    }
    o.str("SourceSystem", "OfficeActivityManager");
    o.str("OfficeId", &id);
    o.str("SourceRecordId", &id);
    let st = o.key("Start_Time");
    st.push('"');
    timefmt::push_z(st, r.time);
    st.push('"');
    o.str("OfficeTenantId", &tid);
    o.str("Type", "OfficeActivity");
    o.close();
}

/// Defender application numbers.
fn defender_app(r: &Ual) -> (&'static str, i64) {
    match r.op {
        Op::FileAccessed { .. } => ("Microsoft SharePoint Online", 20892),
        Op::UserLoggedIn => ("Microsoft Azure", 12260),
        _ => ("Microsoft Exchange Online", 20893),
    }
}

/// A Defender XDR `CloudAppEvents` row; `flatten` writes `RawEventData` as PowerShell
/// `ConvertTo-Json` at low depth does (folder items lost).
pub(crate) fn defender_row(w: &World, r: &Ual, flatten: bool, out: &mut String) {
    let user = &w.users[r.user];
    let owner = &w.users[r.mailbox];
    let tenant = &w.tenants[owner.tenant];
    let profile = &w.profiles[r.profile];
    let (app, app_no) = defender_app(r);
    let id = r.id.to_string();
    let mut o = Obj::open(out);
    let t = o.key("Timestamp");
    t.push('"');
    timefmt::push_z(t, r.time);
    t.push('"');
    o.str("ActionType", r.operation());
    o.str("Application", app);
    o.int("ApplicationId", app_no);
    o.str("AccountObjectId", &user.object_id.to_string());
    o.str("AccountId", &user.object_id.to_string());
    o.str("AccountDisplayName", &user.display);
    o.int(
        "IsAdminOperation",
        i64::from(matches!(r.op, Op::Cmdlet { .. })),
    );
    o.str(
        "DeviceType",
        if r.profile == crate::world::prof::MOBILE {
            "Mobile"
        } else {
            "Other"
        },
    );
    o.str(
        "OSPlatform",
        if profile.os.is_empty() {
            "Unknown"
        } else {
            profile.os
        },
    );
    o.str("IPAddress", &r.ip.to_string());
    o.int("IsAnonymousProxy", 0);
    o.str("CountryCode", tenant.country);
    o.str("City", tenant.city);
    o.str("ISP", "");
    o.str(
        "UserAgent",
        if matches!(r.op, Op::MailItemsAccessed { .. } | Op::Send { .. }) {
            &profile.client_info
        } else {
            &profile.user_agent
        },
    );
    o.str(
        "ActivityType",
        if matches!(r.op, Op::UserLoggedIn) {
            "Login"
        } else {
            "Run"
        },
    );
    let ao = o.key("ActivityObjects");
    ao.push('[');
    if let Op::MailItemsAccessed {
        access, throttled, ..
    } = &r.op
    {
        ao.push_str(
            "{\"Type\":\"Task\",\"Role\":\"Target object\",\"Name\":\"MailItemsAccessed\"},",
        );
        let a = if *access == Access::Bind {
            "Bind"
        } else {
            "Sync"
        };
        let _ = write!(
            ao,
            "{{\"Type\":\"Property\",\"Role\":\"Parameter\",\"Name\":\"MailAccessType\",\"Value\":\"{a}\"}},{{\"Type\":\"Property\",\"Role\":\"Parameter\",\"Name\":\"IsThrottled\",\"Value\":\"{}\"}},",
            if *throttled { "True" } else { "False" }
        );
    }
    ao.push_str("{\"Type\":\"User\",\"Role\":\"Parameter\",\"Name\":");
    push_str(ao, &owner.display);
    let _ = write!(ao, ",\"Id\":\"{}\"}}]", owner.object_id);
    o.str("ObjectName", r.operation());
    o.str("ObjectType", "Task");
    o.str(
        "ReportId",
        &format!("{}_{}_{}", r.seq + 100_000_000, app_no, id),
    );
    o.raw("AdditionalFields", "{\"IsSatelliteProvider\":false}");
    let raw = o.key("RawEventData");
    audit_data(w, r, if flatten { Style::FLAT } else { Style::TICKS }, raw);
    o.str("AppId", &profile.app_id);
    o.str("OAuthAppId", &profile.client_app_id);
    o.close();
}

/// Graph `auditLogRecordType` (camelCase of the UAL RecordType name).
fn graph_record_type(r: &Ual) -> String {
    let n = r.record_type_name();
    let mut c = n.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// A Graph `security/auditLog/queries/{id}/records` item (`auditLogRecord`).
pub(crate) fn graph_record(w: &World, r: &Ual, out: &mut String) {
    let user = &w.users[r.user];
    let owner = &w.users[r.mailbox];
    let tenant = &w.tenants[owner.tenant];
    let mut o = Obj::open(out);
    o.str("id", &r.id.to_string());
    let t = o.key("createdDateTime");
    t.push('"');
    timefmt::push_z(t, r.time);
    t.push('"');
    o.str("auditLogRecordType", &graph_record_type(r));
    o.str("operation", r.operation());
    o.str("organizationId", &tenant.id.to_string());
    o.str(
        "userType",
        if matches!(r.op, Op::Cmdlet { .. }) {
            "admin"
        } else if user.role == Role::BackupApp {
            "application"
        } else {
            "regular"
        },
    );
    o.str("userId", &user.upn);
    o.str("service", r.workload());
    o.str(
        "objectId",
        if matches!(r.op, Op::MailItemsAccessed { .. } | Op::Send { .. }) {
            ""
        } else {
            &owner.upn
        },
    );
    o.str("userPrincipalName", &user.upn);
    o.str("clientIp", &r.ip.to_string());
    o.raw("administrativeUnits", "[]");
    audit_data(w, r, Style::API, o.key("auditData"));
    o.close();
}

/// Append a CSV field, always quoted, quotes doubled.
pub(crate) fn push_csv_field(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b'"' {
            out.push_str(&s[start..=i]);
            out.push('"');
            start = i + 1;
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Purview portal CSV row:
/// `RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames`.
pub(crate) fn purview_row(w: &World, r: &Ual, audit: &mut String, out: &mut String) {
    audit.clear();
    audit_data(w, r, Style::API, audit);
    push_csv_field(out, &r.id.to_string());
    out.push(',');
    out.push('"');
    timefmt::push_ticks_z(out, r.time, 0);
    out.push_str("\",");
    push_csv_field(out, r.record_type_name());
    out.push(',');
    push_csv_field(out, r.operation());
    out.push(',');
    push_csv_field(out, &w.users[r.user].upn);
    out.push(',');
    push_csv_field(out, audit);
    out.push_str(",\"\",\"\"\r\n");
}

/// `Search-UnifiedAuditLog | Export-Csv` row: `CreationDate,UserIds,Operations,AuditData`.
pub(crate) fn legacy_row(w: &World, r: &Ual, audit: &mut String, out: &mut String) {
    audit.clear();
    audit_data(w, r, Style::API, audit);
    out.push('"');
    timefmt::push_us(out, r.time);
    out.push_str("\",");
    push_csv_field(out, &w.users[r.user].upn);
    out.push(',');
    push_csv_field(out, r.operation());
    out.push(',');
    push_csv_field(out, audit);
    out.push_str("\r\n");
}

/// Header of the Purview portal CSV.
pub(crate) const PURVIEW_HEADER: &str = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n";
/// Header of the `Export-Csv` variant.
pub(crate) const LEGACY_HEADER: &str =
    "\"CreationDate\",\"UserIds\",\"Operations\",\"AuditData\"\r\n";
