//! Unified Audit Log records, in every shape that carries one: the Management Activity API
//! record itself, Sentinel `OfficeActivity` rows, Defender `CloudAppEvents.RawEventData`,
//! Graph audit query `auditData`, Purview CSV `AuditData`, collectors' flattened CSV rows.

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};
use stormwatch_core::{Event, LogonType, Outcome, SourceKind};

use super::access::{field, int, nested, parse_ip, str_of};
use super::index::{Obj, Rec};
use super::mail::mail_access;
use super::record_type::record_type_number;
use super::{FieldError, time_of};
use crate::options::Limits;

/// Record type from a number, a numeric string or a name (`ExchangeItemAggregated`,
/// Graph's `exchangeItemAggregated`).
pub(crate) fn record_type(v: &Value) -> Option<u32> {
    if let Some(n) = int(v) {
        return u32::try_from(n).ok();
    }
    record_type_number(v.as_str()?.trim())
}

/// Record type from text: a number or a name.
pub(crate) fn record_type_text(s: &str) -> Option<u32> {
    let s = s.trim();
    s.parse().ok().or_else(|| record_type_number(s))
}

/// `UserType` from a number or a name.
pub(crate) fn user_type(v: &Value) -> Option<u8> {
    if let Some(n) = int(v) {
        return u8::try_from(n).ok();
    }
    Some(match v.as_str()?.trim().to_ascii_lowercase().as_str() {
        "regular" => 0,
        "reserved" => 1,
        "admin" => 2,
        "dcadmin" => 3,
        "system" => 4,
        "application" => 5,
        "serviceprincipal" => 6,
        "custompolicy" => 7,
        "systempolicy" => 8,
        "partnertechnician" => 9,
        "guest" => 10,
        _ => return None,
    })
}

/// `ResultStatus` and its variants.
pub(crate) fn outcome(v: &Value) -> Outcome {
    if let Some(b) = v.as_bool() {
        return if b {
            Outcome::Success
        } else {
            Outcome::Failure
        };
    }
    let Some(s) = v.as_str() else {
        return Outcome::Unknown;
    };
    match s.trim().to_ascii_lowercase().as_str() {
        "succeeded" | "success" | "true" | "ok" | "successful" => Outcome::Success,
        "failed" | "failure" | "false" | "fail" | "error" => Outcome::Failure,
        "partiallysucceeded" | "partial" | "partialsuccess" | "interrupted" | "timeout" => {
            Outcome::Partial
        }
        _ => Outcome::Unknown,
    }
}

pub(crate) fn logon_type<R: Obj + ?Sized>(rec: &R) -> Option<LogonType> {
    for key in ["LogonType", "Logon_Type", "InternalLogonType"] {
        if let Some(v) = rec.field_raw(key) {
            let lt = match int(v) {
                Some(n) => LogonType::from_number(n),
                None => v.as_str().and_then(LogonType::from_name),
            };
            if lt.is_some() {
                return lt;
            }
        }
    }
    None
}

/// Set the client address from text (parsed, or kept as text when it is not an address).
pub(crate) fn set_ip(ev: &mut Event, s: Option<String>) {
    let Some(s) = s else { return };
    match parse_ip(&s) {
        Some(ip) => ev.client_ip = Some(ip),
        None => ev.client_ip_text = Some(s),
    }
}

/// A user agent from `ExtendedProperties` (`[{Name:"UserAgent",Value:…}]`, Entra logons).
fn extended_user_agent<R: Obj + ?Sized>(rec: &R, limits: &Limits) -> Option<String> {
    user_agent_in(field(rec, &["ExtendedProperties"])?, limits)
}

/// The user agent in an `ExtendedProperties` value.
pub(crate) fn user_agent_in(props: &Value, limits: &Limits) -> Option<String> {
    let list = nested(props, limits)?;
    let arr = list.as_array()?;
    arr.iter().find_map(|p| {
        (str_of(p, &["Name", "name"])?.eq_ignore_ascii_case("UserAgent"))
            .then(|| str_of(p, &["Value", "value"]))
            .flatten()
    })
}

/// Fill `ev` from a UAL-shaped record (the fields not already set are taken).
pub(crate) fn fill<R: Obj + ?Sized>(
    ev: &mut Event,
    rec: &R,
    limits: &Limits,
) -> Result<(), FieldError> {
    if ev.time.is_none() {
        ev.time = time_of(rec, &["CreationTime", "TimeGenerated", "CreationDate"])?;
    }
    if ev.loc.record_id.is_none() {
        ev.loc.record_id = str_of(rec, &["Id", "OfficeId", "RecordId"]);
    }
    ev.tenant = ev
        .tenant
        .take()
        .or_else(|| str_of(rec, &["OrganizationId", "TenantId", "OrganizationId_"]));
    ev.org_name = ev
        .org_name
        .take()
        .or_else(|| str_of(rec, &["OrganizationName"]));
    ev.workload = ev
        .workload
        .take()
        .or_else(|| str_of(rec, &["Workload", "OfficeWorkload"]));
    if ev.record_type.is_none() {
        ev.record_type = field(rec, &["RecordType"]).and_then(record_type);
    }
    ev.operation = ev
        .operation
        .take()
        .or_else(|| str_of(rec, &["Operation", "Operations"]));
    if ev.outcome == Outcome::Unknown {
        ev.outcome = field(rec, &["ResultStatus"]).map_or(Outcome::Unknown, outcome);
    }
    ev.user = ev
        .user
        .take()
        .or_else(|| str_of(rec, &["UserId", "UserIds", "UserId_"]));
    if ev.user_type.is_none() {
        ev.user_type = field(rec, &["UserType"]).and_then(user_type);
    }
    ev.mailbox = ev
        .mailbox
        .take()
        .or_else(|| str_of(rec, &["MailboxOwnerUPN"]));
    ev.mailbox_guid = ev
        .mailbox_guid
        .take()
        .or_else(|| str_of(rec, &["MailboxGuid"]));
    if ev.client_ip.is_none() && ev.client_ip_text.is_none() {
        set_ip(
            ev,
            str_of(
                rec,
                &[
                    "ClientIPAddress",
                    "ClientIP",
                    "Client_IPAddress",
                    "ActorIpAddress",
                    "ActorIP",
                    "IPAddress",
                ],
            ),
        );
    }
    let ctx = field(rec, &["AppAccessContext"]).and_then(|c| nested(c, limits));
    let from_ctx = |key: &str| ctx.as_ref().and_then(|c| str_of(&**c, &[key]));
    ev.session_id = ev
        .session_id
        .take()
        .or_else(|| str_of(rec, &["SessionId"]))
        .or_else(|| from_ctx("AADSessionId"));
    ev.unique_token_id = ev
        .unique_token_id
        .take()
        .or_else(|| from_ctx("UniqueTokenId"))
        .or_else(|| str_of(rec, &["UniqueTokenId", "UniqueTokenIdentifier"]));
    ev.app_id = ev.app_id.take().or_else(|| str_of(rec, &["AppId"]));
    ev.client_app_id = ev
        .client_app_id
        .take()
        .or_else(|| str_of(rec, &["ClientAppId"]))
        .or_else(|| from_ctx("ClientAppId"));
    ev.client_info = ev
        .client_info
        .take()
        .or_else(|| str_of(rec, &["ClientInfoString", "ActorInfoString", "UserAgent"]))
        .or_else(|| extended_user_agent(rec, limits));
    if ev.logon_type.is_none() {
        ev.logon_type = logon_type(rec);
    }
    ev.token_tenant = ev
        .token_tenant
        .take()
        .or_else(|| str_of(rec, &["TokenTenantId"]));
    let is_mia = ev.record_type == Some(50)
        || ev
            .operation
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case("MailItemsAccessed"));
    if is_mia && ev.mail.is_none() {
        ev.mail = Some(mail_access(rec, limits));
    }
    Ok(())
}

/// A UAL record (Management Activity API shape, or one taken out of a wrapper).
pub(crate) fn normalise<R: Obj + ?Sized>(
    ev: &mut Event,
    rec: &R,
    limits: &Limits,
) -> Result<(), FieldError> {
    ev.source = SourceKind::Ual;
    fill(ev, rec, limits)
}

/// A Sentinel `OfficeActivity` row: `TimeGenerated`, `OfficeWorkload`, `Client_IPAddress`,
/// `Logon_Type` names, `Folders`/`OperationProperties` as JSON strings.
pub(crate) fn sentinel<R: Obj + ?Sized>(
    ev: &mut Event,
    rec: &R,
    limits: &Limits,
) -> Result<(), FieldError> {
    ev.source = SourceKind::SentinelOfficeActivity;
    ev.time = time_of(rec, &["TimeGenerated", "CreationTime"])?;
    ev.loc.record_id = str_of(rec, &["OfficeId", "Id", "SourceRecordId"]);
    fill(ev, rec, limits)
}

/// A Defender `CloudAppEvents` row: the UAL record is `RawEventData` (object or JSON text);
/// the row's own columns fill what it lacks.
pub(crate) fn defender<R: Obj + ?Sized>(
    ev: &mut Event,
    row: &R,
    limits: &Limits,
) -> Result<Option<String>, FieldError> {
    ev.source = SourceKind::DefenderCloudAppEvents;
    let mut raw = None;
    if let Some(inner) = field(row, &["RawEventData", "rawData"]).and_then(|v| nested(v, limits))
        && inner.is_object()
    {
        fill(ev, &Rec::new(&inner), limits)?;
        raw = Some(super::access::json_text(&inner));
    }
    if ev.time.is_none() {
        ev.time = time_of(row, &["Timestamp", "TimeGenerated"])?;
    }
    ev.operation = ev.operation.take().or_else(|| str_of(row, &["ActionType"]));
    if ev.client_ip.is_none() && ev.client_ip_text.is_none() {
        set_ip(ev, str_of(row, &["IPAddress"]));
    }
    ev.client_info = ev
        .client_info
        .take()
        .or_else(|| str_of(row, &["UserAgent", "UserAgent_string"]));
    ev.user = ev
        .user
        .take()
        .or_else(|| str_of(row, &["AccountUpn", "AccountObjectId"]));
    ev.app_id = ev.app_id.take().or_else(|| str_of(row, &["AppId"]));
    ev.client_app_id = ev
        .client_app_id
        .take()
        .or_else(|| str_of(row, &["OAuthAppId"]));
    ev.tenant = ev.tenant.take().or_else(|| str_of(row, &["TenantId"]));
    if ev.loc.record_id.is_none() {
        ev.loc.record_id = str_of(row, &["ReportId"]);
    }
    Ok(raw)
}

/// A Graph audit log query record (`auditLogRecord`): the original record is `auditData`;
/// the camelCase columns fill what it lacks.
pub(crate) fn graph_audit<R: Obj + ?Sized>(
    ev: &mut Event,
    row: &R,
    limits: &Limits,
) -> Result<Option<String>, FieldError> {
    ev.source = SourceKind::Ual;
    let mut raw = None;
    if let Some(inner) = field(row, &["auditData"]).and_then(|v| nested(v, limits))
        && inner.is_object()
        && inner.as_object().is_some_and(|o| !o.is_empty())
    {
        fill(ev, &Rec::new(&inner), limits)?;
        raw = Some(super::access::json_text(&inner));
    }
    if ev.time.is_none() {
        ev.time = time_of(row, &["createdDateTime"])?;
    }
    if ev.loc.record_id.is_none() {
        ev.loc.record_id = str_of(row, &["id"]);
    }
    ev.tenant = ev
        .tenant
        .take()
        .or_else(|| str_of(row, &["organizationId"]));
    ev.workload = ev.workload.take().or_else(|| str_of(row, &["service"]));
    if ev.record_type.is_none() {
        ev.record_type = field(row, &["auditLogRecordType"]).and_then(record_type);
    }
    ev.operation = ev.operation.take().or_else(|| str_of(row, &["operation"]));
    ev.user = ev
        .user
        .take()
        .or_else(|| str_of(row, &["userPrincipalName", "userId"]));
    if ev.user_type.is_none() {
        ev.user_type = field(row, &["userType"]).and_then(user_type);
    }
    if ev.client_ip.is_none() && ev.client_ip_text.is_none() {
        set_ip(ev, str_of(row, &["clientIp"]));
    }
    if ev.outcome == Outcome::Unknown
        && let Some(v) = field(row, &["resultStatus"])
    {
        ev.outcome = outcome(v);
    }
    let is_mia = ev
        .operation
        .as_deref()
        .is_some_and(|o| o.eq_ignore_ascii_case("MailItemsAccessed"));
    if is_mia && ev.mail.is_none() {
        ev.mail = Some(mail_access(row, limits));
    }
    Ok(raw)
}
