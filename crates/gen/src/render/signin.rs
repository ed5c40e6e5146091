//! Entra ID sign-ins: the Graph `signIn` object and the Azure Monitor record around it.

use std::fmt::Write as _;

use crate::ids::token_id;
use crate::json::Obj;
use crate::record::SignIn;
use crate::timefmt;
use crate::world::{EXCHANGE_APP, GRAPH_APP, Role, SHAREPOINT_APP, World, prof};

/// Which form `createdDateTime` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignInTime {
    /// `…6195833Z` (Graph).
    Z,
    /// `…5522137+00:00` (Azure Monitor `properties`).
    Offset,
}

/// The Graph `signIn` object (beta fields `sessionId`, `signInEventTypes` included).
pub(crate) fn signin_object(w: &World, s: &SignIn, form: SignInTime, out: &mut String) {
    if w.users[s.user].role == Role::BackupApp {
        service_principal_object(w, s, form, out);
        return;
    }
    let user = &w.users[s.user];
    let tenant = &w.tenants[user.tenant];
    let p = &w.profiles[s.profile];
    let tid = tenant.id.to_string();
    let (resource, resource_name) = if s.profile == prof::BROWSER_SP {
        (SHAREPOINT_APP, "Office 365 SharePoint Online")
    } else {
        (EXCHANGE_APP, "Office 365 Exchange Online")
    };
    let mut o = Obj::open(out);
    o.str("id", &s.id.to_string());
    let t = o.key("createdDateTime");
    t.push('"');
    match form {
        SignInTime::Z => timefmt::push_ticks_z(t, s.time, s.ticks),
        SignInTime::Offset => timefmt::push_ticks_offset(t, s.time, s.ticks),
    }
    t.push('"');
    o.str("userDisplayName", &user.display);
    o.str("userPrincipalName", &user.upn);
    o.str("userId", &user.object_id.to_string());
    o.str("appId", &p.client_app_id);
    o.str("appDisplayName", &p.app_display);
    o.str("ipAddress", &s.ip.to_string());
    o.str("clientAppUsed", p.client_app_used);
    o.str("userAgent", &p.user_agent);
    o.str("correlationId", &s.correlation.to_string());
    o.str("originalRequestId", &s.request.to_string());
    o.str("conditionalAccessStatus", "notApplied");
    o.bool("isInteractive", s.interactive);
    o.str("tokenIssuerName", "");
    o.str("tokenIssuerType", "AzureAD");
    o.str("homeTenantId", &tid);
    o.str("resourceTenantId", &tid);
    o.str("resourceDisplayName", resource_name);
    o.str("resourceId", resource);
    o.int("autonomousSystemNumber", asn(s.ip));
    o.str(
        "incomingTokenType",
        if s.interactive {
            "none"
        } else {
            "primaryRefreshToken"
        },
    );
    o.str("sessionId", &s.session.to_string());
    o.str("uniqueTokenIdentifier", &token_id(s.uti));
    let ev = o.key("signInEventTypes");
    let _ = write!(
        ev,
        "[\"{}\"]",
        if s.interactive {
            "interactiveUser"
        } else {
            "nonInteractiveUser"
        }
    );
    o.str(
        "authenticationRequirement",
        if s.interactive {
            "multiFactorAuthentication"
        } else {
            "singleFactorAuthentication"
        },
    );
    o.raw(
        "status",
        "{\"errorCode\":0,\"failureReason\":\"Other.\",\"additionalDetails\":null}",
    );
    let dd = o.key("deviceDetail");
    let _ = write!(
        dd,
        "{{\"deviceId\":\"\",\"displayName\":\"\",\"operatingSystem\":\"{}\",\"browser\":\"{}\",\"isCompliant\":true,\"isManaged\":true,\"trustType\":\"Hybrid Azure AD joined\"}}",
        p.os, p.browser
    );
    let loc = o.key("location");
    let _ = write!(
        loc,
        "{{\"city\":\"{}\",\"state\":\"\",\"countryOrRegion\":\"{}\",\"geoCoordinates\":{{\"altitude\":null,\"latitude\":{},\"longitude\":{}}}}}",
        tenant.city,
        tenant.country,
        38 + (tenant.bits % 10),
        -(70 + i64::try_from(tenant.bits % 50).unwrap_or(0))
    );
    o.str("riskDetail", "none");
    o.str("riskLevelAggregated", "none");
    o.str("riskLevelDuringSignIn", "none");
    o.str("riskState", "none");
    o.raw("riskEventTypes", "[]");
    o.raw("riskEventTypes_v2", "[]");
    o.raw("appliedConditionalAccessPolicies", "[]");
    o.close();
}

/// A service principal sign-in (client credentials: no user, no session, never interactive),
/// as Graph beta lists it with `signInEventTypes` `servicePrincipal`.
fn service_principal_object(w: &World, s: &SignIn, form: SignInTime, out: &mut String) {
    let app = &w.users[s.user];
    let tenant = &w.tenants[app.tenant];
    let p = &w.profiles[s.profile];
    let tid = tenant.id.to_string();
    let mut o = Obj::open(out);
    o.str("id", &s.id.to_string());
    let t = o.key("createdDateTime");
    t.push('"');
    match form {
        SignInTime::Z => timefmt::push_ticks_z(t, s.time, s.ticks),
        SignInTime::Offset => timefmt::push_ticks_offset(t, s.time, s.ticks),
    }
    t.push('"');
    o.str("appId", &p.client_app_id);
    o.str("appDisplayName", &p.app_display);
    o.str("servicePrincipalId", &app.object_id.to_string());
    o.str("servicePrincipalName", &p.app_display);
    o.str("ipAddress", &s.ip.to_string());
    o.str("correlationId", &s.correlation.to_string());
    o.str("originalRequestId", &s.request.to_string());
    o.str("conditionalAccessStatus", "notApplied");
    o.bool("isInteractive", false);
    o.str("tokenIssuerType", "AzureAD");
    o.str("homeTenantId", &tid);
    o.str("resourceTenantId", &tid);
    o.str("resourceDisplayName", "Microsoft Graph");
    o.str("resourceId", GRAPH_APP);
    o.int("autonomousSystemNumber", asn(s.ip));
    o.str("clientCredentialType", "certificate");
    o.str("uniqueTokenIdentifier", &token_id(s.uti));
    o.raw("signInEventTypes", "[\"servicePrincipal\"]");
    o.raw(
        "status",
        "{\"errorCode\":0,\"failureReason\":\"Other.\",\"additionalDetails\":null}",
    );
    let loc = o.key("location");
    let _ = write!(
        loc,
        "{{\"city\":\"Dublin\",\"state\":\"\",\"countryOrRegion\":\"IE\",\"geoCoordinates\":{{\"altitude\":null,\"latitude\":53,\"longitude\":-6}}}}"
    );
    o.close();
}

/// A stable made-up ASN per network.
fn asn(ip: std::net::IpAddr) -> i64 {
    match ip {
        std::net::IpAddr::V4(v) => {
            let o = v.octets();
            64_512 + i64::from(o[0]) * 7 + i64::from(o[1]) % 97
        }
        std::net::IpAddr::V6(_) => 65_001,
    }
}

/// An Azure Monitor (diagnostic settings / Event Hubs) record wrapping the sign-in.
pub(crate) fn azure_monitor_record(w: &World, s: &SignIn, out: &mut String) {
    let user = &w.users[s.user];
    let tenant = &w.tenants[user.tenant];
    let tid = tenant.id.to_string();
    let mut o = Obj::open(out);
    let t = o.key("time");
    t.push('"');
    timefmt::push_ticks_z(t, s.time, s.ticks);
    t.push('"');
    o.str(
        "resourceId",
        &format!("/tenants/{tid}/providers/Microsoft.aadiam"),
    );
    o.str("operationName", "Sign-in activity");
    o.str("operationVersion", "1.0");
    o.str(
        "category",
        if user.role == Role::BackupApp {
            "ServicePrincipalSignInLogs"
        } else if s.interactive {
            "SignInLogs"
        } else {
            "NonInteractiveUserSignInLogs"
        },
    );
    o.str("tenantId", &tid);
    o.str("resultType", "0");
    o.str("resultSignature", "None");
    o.int("durationMs", 0);
    o.str("callerIpAddress", &s.ip.to_string());
    o.str("correlationId", &s.correlation.to_string());
    o.str("identity", &user.display);
    o.int("Level", 4);
    o.str("location", tenant.country);
    signin_object(w, s, SignInTime::Offset, o.key("properties"));
    o.close();
}
