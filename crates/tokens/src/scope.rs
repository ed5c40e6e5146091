//! Tenants and issuers: the consumer tenant, GUID checks, Microsoft issuer forms, tenant classes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The Microsoft account (consumer, MSA) tenant.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The issuer of consumer (MSA) v2.0 tokens, which is the fixed scope of consumer keys.
pub const CONSUMER_ISSUER: &str =
    "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0";

/// The per-tenant issuer template Microsoft publishes on enterprise (Entra ID) v2.0 keys.
pub const TENANT_ISSUER_TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

/// Which tenants a key may sign for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantClass {
    /// Only the consumer (Microsoft account) tenant.
    Consumer,
    /// Only enterprise (Entra ID) tenants.
    Enterprise,
    /// Any tenant its issuer scope allows.
    Any,
}

impl fmt::Display for TenantClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TenantClass::Consumer => "consumer",
            TenantClass::Enterprise => "enterprise",
            TenantClass::Any => "any",
        })
    }
}

impl std::str::FromStr for TenantClass {
    type Err = stormwatch_core::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "consumer" => Ok(TenantClass::Consumer),
            "enterprise" => Ok(TenantClass::Enterprise),
            "any" => Ok(TenantClass::Any),
            _ => Err(stormwatch_core::UnknownName {
                what: "tenant class",
                value: s.to_owned(),
                expected: "consumer, enterprise, any",
            }),
        }
    }
}

impl TenantClass {
    /// The class an issuer scope implies: the consumer issuer → consumer, a `{tenantid}`
    /// template → any, another fixed tenant → enterprise, no scope → any.
    #[must_use]
    pub fn from_scope(scope: Option<&str>) -> TenantClass {
        match scope {
            Some(s) if s.contains("{tenantid}") => TenantClass::Any,
            Some(s)
                if tenant_of_issuer(s).is_some_and(|t| t.eq_ignore_ascii_case(CONSUMER_TENANT)) =>
            {
                TenantClass::Consumer
            }
            Some(s) if tenant_of_issuer(s).is_some() => TenantClass::Enterprise,
            _ => TenantClass::Any,
        }
    }
}

/// `8-4-4-4-12` hexadecimal.
#[must_use]
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Is this the consumer tenant?
#[must_use]
pub fn is_consumer(tid: &str) -> bool {
    tid.eq_ignore_ascii_case(CONSUMER_TENANT)
}

/// The tenant segment of a Microsoft issuer (`https://login.microsoftonline.com/{t}/v2.0`,
/// `https://sts.windows.net/{t}/`, `https://login.microsoftonline.com/{t}/`), when `iss` has
/// one of those forms. The segment is returned as written, GUID or not.
#[must_use]
pub fn tenant_of_issuer(iss: &str) -> Option<&str> {
    for (prefix, suffixes) in [
        ("https://login.microsoftonline.com/", &["/v2.0", "/"][..]),
        ("https://sts.windows.net/", &["/"][..]),
        ("https://login.windows.net/", &["/"][..]),
    ] {
        if let Some(rest) = iss.strip_prefix(prefix) {
            for suffix in suffixes {
                if let Some(t) = rest.strip_suffix(suffix)
                    && !t.is_empty()
                    && !t.contains('/')
                {
                    return Some(t);
                }
            }
        }
    }
    None
}

/// Describe a tenant for an analyst: `consumer tenant 9188…` / `enterprise tenant …`.
#[must_use]
pub fn describe_tenant(tid: &str) -> String {
    if is_consumer(tid) {
        format!("the consumer (Microsoft account) tenant {tid}")
    } else {
        format!("enterprise tenant {tid}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert!(is_guid(CONSUMER_TENANT));
        assert!(!is_guid("9188040d-6c67-4c5b-b112-36a304b66daz"));
        assert_eq!(tenant_of_issuer(CONSUMER_ISSUER), Some(CONSUMER_TENANT));
        assert_eq!(
            tenant_of_issuer("https://sts.windows.net/abc/"),
            Some("abc")
        );
        assert_eq!(tenant_of_issuer("joe"), None);
        assert_eq!(
            TenantClass::from_scope(Some(CONSUMER_ISSUER)),
            TenantClass::Consumer
        );
        assert_eq!(
            TenantClass::from_scope(Some(TENANT_ISSUER_TEMPLATE)),
            TenantClass::Any
        );
        assert_eq!(TenantClass::from_scope(None), TenantClass::Any);
    }
}
