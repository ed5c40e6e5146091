//! Entra ID sign-ins (Graph `signIn`, Azure Monitor `SignInLogs` & co., Sentinel
//! `SigninLogs` rows) and audit logs (Graph `directoryAudit`, Azure Monitor / Sentinel
//! `AuditLogs`).

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};
use stormwatch_core::{Event, Outcome, SignIn, SourceKind};

use super::access::{boolean, field_ci, int, nested, str_ci, str_of};
use super::index::Folded;
use super::ual::{outcome, set_ip};
use super::{FieldError, time_of};
use crate::options::Limits;

const WORKLOAD: &str = "AzureActiveDirectory";

/// The members of a sign-in the normaliser reads, found in one pass over it.
const SIGN_IN_KEYS: [&str; 29] = [
    "createdDateTime",
    "CreatedDateTime",
    "TimeGenerated",
    "time",
    "Category",
    "Type",
    "status",
    "resultType",
    "isInteractive",
    "id",
    "sessionId",
    "uniqueTokenIdentifier",
    "correlationId",
    "appId",
    "appDisplayName",
    "resourceId",
    "resourceIdentity",
    "resourceDisplayName",
    "tokenIssuerType",
    "autonomousSystemNumber",
    "homeTenantId",
    "resourceTenantId",
    "incomingTokenType",
    "tenantId",
    "userPrincipalName",
    "servicePrincipalName",
    "servicePrincipalId",
    "ipAddress",
    "userAgent",
];

/// The members of an audit record the normaliser reads.
const AUDIT_KEYS: [&str; 12] = [
    "activityDateTime",
    "ActivityDateTime",
    "TimeGenerated",
    "time",
    "id",
    "tenantId",
    "AADTenantId",
    "activityDisplayName",
    "operationName",
    "result",
    "initiatedBy",
    "additionalDetails",
];

/// Sign-in categories of Azure Monitor / Sentinel tables.
pub(crate) fn is_sign_in_category(c: &str) -> bool {
    matches!(
        c.to_ascii_lowercase().as_str(),
        "signinlogs"
            | "noninteractiveusersigninlogs"
            | "serviceprincipalsigninlogs"
            | "managedidentitysigninlogs"
            | "aadnoninteractiveusersigninlogs"
            | "aadserviceprincipalsigninlogs"
            | "aadmanagedidentitysigninlogs"
    )
}

fn interactive_from_category(c: &str) -> Option<bool> {
    match c.to_ascii_lowercase().as_str() {
        "signinlogs" => Some(true),
        c if is_sign_in_category(c) => Some(false),
        _ => None,
    }
}

/// A sign-in: `p` is the sign-in object (Graph) or `properties` (Azure Monitor); `outer` the
/// Azure Monitor envelope record when there is one.
pub(crate) fn sign_in(
    ev: &mut Event,
    p: &Value,
    outer: Option<&Value>,
    limits: &Limits,
) -> Result<(), FieldError> {
    ev.source = SourceKind::EntraSignIn;
    let p = &Folded::new(p, &SIGN_IN_KEYS);
    ev.time = time_of(p, &["createdDateTime", "CreatedDateTime"])?;
    if ev.time.is_none() {
        if let Some(o) = outer {
            ev.time = time_of(o, &["time"])?;
        }
        if ev.time.is_none() {
            ev.time = time_of(p, &["TimeGenerated", "time"])?;
        }
    }
    let category = outer
        .and_then(|o| str_of(o, &["category"]))
        .or_else(|| str_ci(p, &["Category"]))
        .or_else(|| str_of(p, &["Type"]).filter(|t| is_sign_in_category(t)));
    let status = field_ci(p, &["status"]).and_then(|s| nested(s, limits));
    let error_code = status
        .as_ref()
        .and_then(|s| field_ci(&**s, &["errorCode"]))
        .and_then(int)
        .or_else(|| field_ci(p, &["resultType"]).and_then(int))
        .or_else(|| {
            outer
                .and_then(|o| field_ci(o, &["resultType"]))
                .and_then(int)
        });
    let interactive = field_ci(p, &["isInteractive"])
        .and_then(boolean)
        .or_else(|| category.as_deref().and_then(interactive_from_category));
    let si = SignIn {
        id: str_ci(p, &["id"]),
        session_id: str_ci(p, &["sessionId"]),
        unique_token_id: str_ci(p, &["uniqueTokenIdentifier"]),
        correlation_id: str_ci(p, &["correlationId"]),
        app_id: str_ci(p, &["appId"]),
        app_name: str_ci(p, &["appDisplayName"]),
        resource_id: str_ci(p, &["resourceId", "resourceIdentity"]),
        resource_name: str_ci(p, &["resourceDisplayName"]),
        error_code,
        interactive,
        token_issuer_type: str_ci(p, &["tokenIssuerType"]),
        category,
        asn: field_ci(p, &["autonomousSystemNumber"])
            .and_then(int)
            .and_then(|n| u32::try_from(n).ok()),
        home_tenant: str_ci(p, &["homeTenantId"]),
        resource_tenant: str_ci(p, &["resourceTenantId"]),
        incoming_token_type: str_ci(p, &["incomingTokenType"]),
    };
    ev.loc.record_id = si.id.clone();
    ev.tenant = outer
        .and_then(|o| str_of(o, &["tenantId"]))
        .or_else(|| str_ci(p, &["tenantId"]))
        .or_else(|| si.resource_tenant.clone())
        .or_else(|| si.home_tenant.clone());
    ev.workload = Some(WORKLOAD.to_owned());
    ev.operation = Some("SignIn".to_owned());
    ev.outcome = match error_code {
        Some(0) => Outcome::Success,
        Some(_) => Outcome::Failure,
        None => Outcome::Unknown,
    };
    ev.user = str_ci(p, &["userPrincipalName"])
        .or_else(|| str_ci(p, &["servicePrincipalName", "servicePrincipalId"]));
    set_ip(
        ev,
        str_ci(p, &["ipAddress"]).or_else(|| outer.and_then(|o| str_of(o, &["callerIpAddress"]))),
    );
    ev.session_id = si.session_id.clone();
    ev.unique_token_id = si.unique_token_id.clone();
    ev.app_id = si.app_id.clone();
    ev.client_info = str_ci(p, &["userAgent"]);
    ev.token_tenant = si.home_tenant.clone();
    ev.sign_in = Some(si);
    Ok(())
}

/// An Entra audit record (`directoryAudit`): `p` is the audit object or `properties`.
pub(crate) fn audit(
    ev: &mut Event,
    p: &Value,
    outer: Option<&Value>,
    limits: &Limits,
) -> Result<(), FieldError> {
    ev.source = SourceKind::EntraAudit;
    let p = &Folded::new(p, &AUDIT_KEYS);
    ev.time = time_of(p, &["activityDateTime", "ActivityDateTime"])?;
    if ev.time.is_none() {
        if let Some(o) = outer {
            ev.time = time_of(o, &["time"])?;
        }
        if ev.time.is_none() {
            ev.time = time_of(p, &["TimeGenerated", "time"])?;
        }
    }
    ev.loc.record_id = str_ci(p, &["id"]);
    ev.tenant = outer
        .and_then(|o| str_of(o, &["tenantId"]))
        .or_else(|| str_ci(p, &["tenantId", "AADTenantId"]));
    ev.workload = Some(WORKLOAD.to_owned());
    ev.operation = str_ci(p, &["activityDisplayName", "operationName"])
        .or_else(|| outer.and_then(|o| str_of(o, &["operationName"])));
    ev.outcome = field_ci(p, &["result"]).map_or(Outcome::Unknown, outcome);
    let by = field_ci(p, &["initiatedBy"]).and_then(|v| nested(v, limits));
    let user = by
        .as_ref()
        .and_then(|b| b.get("user"))
        .filter(|u| u.is_object());
    let app = by
        .as_ref()
        .and_then(|b| b.get("app"))
        .filter(|a| a.is_object());
    ev.user = user
        .and_then(|u| str_of(u, &["userPrincipalName", "id"]))
        .or_else(|| {
            app.and_then(|a| {
                str_of(
                    a,
                    &["displayName", "servicePrincipalName", "servicePrincipalId"],
                )
            })
        });
    set_ip(
        ev,
        user.and_then(|u| str_of(u, &["ipAddress"]))
            .or_else(|| outer.and_then(|o| str_of(o, &["callerIpAddress"]))),
    );
    ev.app_id = app.and_then(|a| str_of(a, &["appId"]));
    ev.client_info = field_ci(p, &["additionalDetails"])
        .and_then(|d| nested(d, limits))
        .and_then(|d| {
            d.as_array()?.iter().find_map(|kv| {
                str_of(kv, &["key"])?
                    .eq_ignore_ascii_case("User-Agent")
                    .then(|| str_of(kv, &["value"]))
                    .flatten()
            })
        });
    Ok(())
}
