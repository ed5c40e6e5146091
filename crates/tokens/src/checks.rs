//! The individual checks on claims and keys, each returning `(ok, detail)`.

use stormwatch_core::Timestamp;

use crate::class::{Expect, TokenUse, judge};
use crate::registry::{KeyRecord, ValidityFrom};
use crate::scope::{self, TenantClass};
use crate::token::Token;

/// Whole days (or hours) between two times, for explanations.
pub(crate) fn span(from: Timestamp, to: Timestamp) -> String {
    let secs = to.unix_seconds().saturating_sub(from.unix_seconds()).abs();
    let days = secs / 86_400;
    if days >= 2 {
        format!("{days} days")
    } else if secs >= 7200 {
        format!("{} hours", secs / 3600)
    } else {
        format!("{secs} seconds")
    }
}

pub(crate) fn key_scope(
    key: Option<&KeyRecord>,
    iss: Option<&str>,
    tid: Option<&str>,
) -> (bool, String, bool) {
    let Some(k) = key else {
        return (false, "no key to take a scope from".to_owned(), false);
    };
    let iss_s = iss.unwrap_or("(none)");
    let Some(scope_t) = k.issuer_scope.as_deref() else {
        return (
            false,
            format!(
                "unscoped: key {} carries no issuer scope, so nothing says it may sign for iss {iss_s}{}",
                k.kid,
                tid.map_or_else(String::new, |t| format!(
                    " and {}",
                    scope::describe_tenant(t)
                ))
            ),
            true,
        );
    };
    // The tenant class is the hard rule: a consumer key never signs for an enterprise tenant.
    if let Some(t) = tid {
        if k.tenant_class == TenantClass::Consumer && !scope::is_consumer(t) {
            return (
                false,
                format!(
                    "key {} is a consumer (Microsoft account) key scoped to {scope_t}; a consumer \
                     key cannot sign for an enterprise tenant, yet the token claims {} (iss {iss_s}). \
                     This is the Storm-0558 pattern",
                    k.kid,
                    scope::describe_tenant(t)
                ),
                false,
            );
        }
        if k.tenant_class == TenantClass::Enterprise && scope::is_consumer(t) {
            return (
                false,
                format!(
                    "key {} is an enterprise key scoped to {scope_t}; it cannot sign for the \
                     consumer (Microsoft account) tenant",
                    k.kid
                ),
                false,
            );
        }
    }
    let expected = if scope_t.contains("{tenantid}") {
        match tid {
            None => {
                return (
                    false,
                    format!(
                        "key {} is scoped per tenant ({scope_t}) but the token has no tid to put in it",
                        k.kid
                    ),
                    false,
                );
            }
            Some(t) if !scope::is_guid(t) => {
                return (
                    false,
                    format!(
                        "tid {t:?} is not a GUID, so it cannot fill the key's issuer template {scope_t}"
                    ),
                    false,
                );
            }
            Some(t) => scope_t.replace("{tenantid}", t),
        }
    } else {
        scope_t.to_owned()
    };
    match iss {
        Some(i) if i == expected => (
            true,
            format!(
                "key {} may sign for {expected} ({} key), which is the token's iss",
                k.kid, k.tenant_class
            ),
            false,
        ),
        Some(i) => (
            false,
            format!(
                "key {} may only sign for {expected} (scope {scope_t}, {} key), but the token's iss is {i}",
                k.kid, k.tenant_class
            ),
            false,
        ),
        None => (
            false,
            format!(
                "the token has no iss; key {} may only sign for {expected}",
                k.kid
            ),
            false,
        ),
    }
}

pub(crate) fn issuer_check(iss: Option<&str>, tid: Option<&str>) -> (bool, String) {
    let Some(i) = iss else {
        return (false, "no iss claim".to_owned());
    };
    match scope::tenant_of_issuer(i) {
        Some(t) if !scope::is_guid(t) => (
            false,
            format!("iss {i} names tenant {t:?}, which is not a GUID"),
        ),
        Some(t) => match tid {
            None => (
                false,
                format!("iss {i} names tenant {t} but the token has no tid"),
            ),
            Some(x) if x.eq_ignore_ascii_case(t) => {
                (true, format!("iss {i} has the issuer form of its tid"))
            }
            Some(x) => (
                false,
                format!("iss {i} names tenant {t} but tid is {x}: iss and tid disagree"),
            ),
        },
        None => (
            true,
            format!(
                "iss {i} (not a Microsoft tenant issuer; the key scope check compares it with the key)"
            ),
        ),
    }
}

pub(crate) fn tenant_check(
    tid: Option<&str>,
    iss: Option<&str>,
    expected: &[String],
) -> (bool, String) {
    let Some(t) = tid else {
        if iss.and_then(scope::tenant_of_issuer).is_some() {
            return (false, "no tid claim on a Microsoft token".to_owned());
        }
        if expected.is_empty() {
            return (
                true,
                "no tid claim (not a Microsoft tenant token)".to_owned(),
            );
        }
        return (
            false,
            format!("no tid claim; expected one of {}", expected.join(", ")),
        );
    };
    if !scope::is_guid(t) {
        return (false, format!("tid {t:?} is not a GUID"));
    }
    if expected.is_empty() {
        return (
            true,
            format!(
                "tid is {}; no expected tenants given (--tenant), so not compared",
                scope::describe_tenant(t)
            ),
        );
    }
    if expected.iter().any(|e| e.eq_ignore_ascii_case(t)) {
        return (
            true,
            format!("tid is {}, an expected tenant", scope::describe_tenant(t)),
        );
    }
    if scope::is_consumer(t) {
        return (
            false,
            format!(
                "a consumer (Microsoft account) token presented where only enterprise tenants {} \
                 are expected: enterprise resources reject the consumer tenant",
                expected.join(", ")
            ),
        );
    }
    (
        false,
        format!(
            "tid {t} is not an expected tenant ({})",
            expected.join(", ")
        ),
    )
}

pub(crate) fn audience_check(auds: &[&str], expected: &[String]) -> (bool, String) {
    let shown = if auds.is_empty() {
        "(none)".to_owned()
    } else {
        auds.join(", ")
    };
    if expected.is_empty() {
        return (
            true,
            format!("aud is {shown}; no expected audience given (--audience), so not compared"),
        );
    }
    if auds.iter().any(|a| expected.iter().any(|e| e == a)) {
        (true, format!("aud {shown} is this resource"))
    } else {
        (
            false,
            format!(
                "aud {shown} is not this resource (expected {}): a token for another audience is refused",
                expected.join(", ")
            ),
        )
    }
}

pub(crate) fn key_validity(
    key: Option<&KeyRecord>,
    issued: Timestamp,
    has_iat: bool,
) -> (bool, String) {
    let Some(k) = key else {
        return (false, "no key: its validity cannot be checked".to_owned());
    };
    let when = if has_iat { "issued" } else { "judged (no iat)" };
    let from = match k.validity_from {
        Some(ValidityFrom::X5c) => "certificate",
        _ => "validity period",
    };
    match (k.not_before, k.not_after) {
        (_, Some(na)) if issued > na => (
            false,
            format!(
                "key {}'s {from} expired on {na}, {} before the token was {when} at {issued}: an \
                 expired key signs nothing",
                k.kid,
                span(na, issued)
            ),
        ),
        (Some(nb), _) if issued < nb => (
            false,
            format!(
                "the token was {when} at {issued}, before key {}'s {from} started ({nb})",
                k.kid
            ),
        ),
        (None, None) => (
            true,
            format!(
                "no validity period known for key {} (no x5c); not checked",
                k.kid
            ),
        ),
        (nb, na) => (
            true,
            format!(
                "key {}'s {from} ({} to {}) covers the time the token was {when} ({issued})",
                k.kid,
                nb.map_or_else(|| "?".to_owned(), |t| t.to_string()),
                na.map_or_else(|| "?".to_owned(), |t| t.to_string())
            ),
        ),
    }
}

pub(crate) fn revocation(
    key: Option<&KeyRecord>,
    judged: Timestamp,
    issued: Timestamp,
) -> (bool, String) {
    let Some(k) = key else {
        return (false, "no key: its revocation cannot be checked".to_owned());
    };
    if let Some(r) = k.revoked_at
        && (judged >= r || issued >= r)
    {
        return (
            false,
            format!(
                "key {} was revoked on {r}; the token is judged at {judged}, after the revocation",
                k.kid
            ),
        );
    }
    if let Some(d) = k.removed_at
        && judged >= d
    {
        return (
            false,
            format!(
                "key {} was removed from its source ({}) by {d}: retired before the judged time {judged}",
                k.kid, k.source
            ),
        );
    }
    match k.revoked_at {
        Some(r) => (
            true,
            format!(
                "not revoked at {judged} (key {} was revoked later, on {r})",
                k.kid
            ),
        ),
        None => (true, format!("key {} is not revoked", k.kid)),
    }
}

pub(crate) fn token_class(
    t: &Token,
    iss: Option<&str>,
    audiences: &[String],
    expect: Expect,
) -> (bool, String, TokenUse) {
    let ver = t.claim_str("ver");
    let (ok, detail, class) = judge(t, audiences, expect);
    if let (Some(v), Some(i)) = (ver, iss) {
        let v2_issuer = i.starts_with("https://login.microsoftonline.com/") && i.ends_with("/v2.0");
        let v1_issuer = i.starts_with("https://sts.windows.net/");
        if v == "2.0" && v1_issuer {
            return (
                false,
                format!(
                    "a v2.0 token (ver 2.0) with a v1.0 issuer {i}: the issuer type does not match the endpoint"
                ),
                class,
            );
        }
        if v == "1.0" && v2_issuer {
            return (
                false,
                format!(
                    "a v1.0 token (ver 1.0) with a v2.0 issuer {i}: the issuer type does not match the endpoint"
                ),
                class,
            );
        }
    }
    let detail = match ver {
        Some(v) if ok => format!("{detail}, ver {v}"),
        _ => detail,
    };
    (ok, detail, class)
}
