//! Microsoft's endpoint sets (commercial, GCC, GCC High, DoD), their overrides, and the rules
//! for the links the APIs hand back (next pages, content URIs): credentials only ever go to
//! the hosts configured here.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use url::Url;

use crate::error::{ApiError, CollectError};

/// A Microsoft 365 cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    /// Commercial (and Education, and the worldwide service).
    #[default]
    Commercial,
    /// US Government Community Cloud (moderate).
    Gcc,
    /// GCC High.
    GccHigh,
    /// Department of Defense.
    Dod,
}

impl Cloud {
    /// The name used on the command line and in the manifest.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Commercial => "commercial",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
        }
    }

    /// The Entra sign-in host.
    #[must_use]
    pub fn login(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "https://login.microsoftonline.com",
            Cloud::GccHigh | Cloud::Dod => "https://login.microsoftonline.us",
        }
    }

    /// The Management Activity API host (also the resource its tokens are for).
    #[must_use]
    pub fn manage(self) -> &'static str {
        match self {
            Cloud::Commercial => "https://manage.office.com",
            Cloud::Gcc => "https://manage-gcc.office.com",
            Cloud::GccHigh => "https://manage.office365.us",
            Cloud::Dod => "https://manage.protection.apps.mil",
        }
    }

    /// The Microsoft Graph host (also the resource its tokens are for).
    #[must_use]
    pub fn graph(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "https://graph.microsoft.com",
            Cloud::GccHigh => "https://graph.microsoft.us",
            Cloud::Dod => "https://dod-graph.microsoft.us",
        }
    }

    /// Whether Microsoft documents the Purview audit search API for this cloud (its pages say
    /// "global service only").
    #[must_use]
    pub fn has_audit_search(self) -> bool {
        matches!(self, Cloud::Commercial | Cloud::Gcc)
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cloud {
    type Err = CollectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "commercial" | "global" | "worldwide" => Ok(Cloud::Commercial),
            "gcc" => Ok(Cloud::Gcc),
            "gcc-high" | "gcchigh" => Ok(Cloud::GccHigh),
            "dod" => Ok(Cloud::Dod),
            other => Err(CollectError::Invalid(format!(
                "unknown cloud {other:?}: commercial, gcc, gcc-high or dod"
            ))),
        }
    }
}

/// The three hosts one tenant is collected through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The cloud (it names the token resources whatever the hosts).
    pub cloud: Cloud,
    /// Entra sign-in (token endpoint under `{login}/{tenant}/oauth2/v2.0/token`).
    pub login: Url,
    /// Management Activity API (`{manage}/api/v1.0/{tenant}/activity/feed/...`).
    pub manage: Url,
    /// Microsoft Graph (`{graph}/v1.0/...`, `{graph}/beta/...`).
    pub graph: Url,
}

impl Endpoints {
    /// The cloud's hosts, each replaced by an override when given (a proxy, a test server).
    ///
    /// # Errors
    /// [`CollectError::Url`] for a URL that is not `https://` (plain `http://` is accepted for
    /// loopback addresses only), has credentials, a query or a fragment.
    pub fn new(
        cloud: Cloud,
        login: Option<&str>,
        manage: Option<&str>,
        graph: Option<&str>,
    ) -> Result<Self, CollectError> {
        Ok(Endpoints {
            cloud,
            login: check_url("--login-url", login.unwrap_or(cloud.login()))?,
            manage: check_url("--manage-url", manage.unwrap_or(cloud.manage()))?,
            graph: check_url("--graph-url", graph.unwrap_or(cloud.graph()))?,
        })
    }

    /// Whether every host is a loopback address (no proxy is used for those).
    #[must_use]
    pub fn all_loopback(&self) -> bool {
        [&self.login, &self.manage, &self.graph]
            .iter()
            .all(|u| is_loopback(u))
    }

    /// `{base}` followed by `path` (which starts with `/`), keeping a base path prefix.
    pub(crate) fn join(base: &Url, path: &str) -> Url {
        let mut u = base.clone();
        let prefix = base.path().trim_end_matches('/');
        u.set_path(&format!("{prefix}{path}"));
        u.set_query(None);
        u
    }
}

/// Check one base URL.
pub(crate) fn check_url(flag: &str, value: &str) -> Result<Url, CollectError> {
    let err = |reason: &str| CollectError::Url {
        flag: flag.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(value.trim()).map_err(|e| err(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("credentials in the URL are not accepted"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("a base URL has no query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(err(
                "plain http:// is accepted only for loopback addresses (127.0.0.0/8, ::1, localhost); use https://",
            ));
        }
        _ => return Err(err("not an https:// URL")),
    }
    if url.host().is_none() {
        return Err(err("no host"));
    }
    Ok(url)
}

/// Whether the URL's host is a loopback address.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => IpAddr::V4(a).is_loopback(),
        Some(url::Host::Ipv6(a)) => IpAddr::V6(a).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A link an API handed back (next page, content URI), as a URL the credentials may go to: on
/// the configured host; or on the cloud's own host when a proxy is configured, then moved onto
/// the proxy. Anything else is refused.
pub(crate) fn follow(link: &str, base: &Url, official: &str) -> Result<Url, ApiError> {
    let refused = || ApiError::Link(format!("{link:?}: not on {}", origin_text(base)));
    let url = Url::parse(link.trim()).map_err(|_| refused())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused());
    }
    if same_origin(&url, base) {
        return Ok(url);
    }
    let official = Url::parse(official).map_err(|_| refused())?;
    if same_origin(&url, &official) {
        let mut moved = Endpoints::join(base, url.path());
        moved.set_query(url.query());
        return Ok(moved);
    }
    Err(refused())
}

fn origin_text(u: &Url) -> String {
    let mut s = format!("{}://{}", u.scheme(), u.host_str().unwrap_or(""));
    if let Some(p) = u.port() {
        s.push_str(&format!(":{p}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_name_microsofts_hosts() {
        let e = Endpoints::new(Cloud::GccHigh, None, None, None).unwrap();
        assert_eq!(e.manage.as_str(), "https://manage.office365.us/");
        assert_eq!(e.graph.as_str(), "https://graph.microsoft.us/");
        assert_eq!(e.login.as_str(), "https://login.microsoftonline.us/");
        assert_eq!(
            "gcc".parse::<Cloud>().unwrap().manage(),
            "https://manage-gcc.office.com"
        );
        assert_eq!(Cloud::Dod.manage(), "https://manage.protection.apps.mil");
        assert!("moon".parse::<Cloud>().is_err());
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://[::1]:9",
            "http://localhost:1/prefix",
            "https://proxy.example.com/ms",
        ] {
            assert!(check_url("--manage-url", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://example.com",
            "ftp://127.0.0.1",
            "https://user:pw@example.com",
            "https://example.com/?a=b",
            "not a url",
        ] {
            let e = check_url("--graph-url", bad).unwrap_err().to_string();
            assert!(e.starts_with("--graph-url "), "{e}");
        }
    }

    #[test]
    fn links_stay_on_the_configured_host() {
        let base = Url::parse("http://127.0.0.1:4000").unwrap();
        let ok = follow(
            "http://127.0.0.1:4000/api/v1.0/t/activity/feed/audit/x",
            &base,
            "https://manage.office.com",
        )
        .unwrap();
        assert_eq!(ok.path(), "/api/v1.0/t/activity/feed/audit/x");
        let proxy = Url::parse("https://proxy.example.com/ms").unwrap();
        let moved = follow(
            "https://manage.office.com/api/v1/t/activity/feed/subscriptions/content?nextPage=2",
            &proxy,
            "https://manage.office.com",
        )
        .unwrap();
        assert_eq!(
            moved.as_str(),
            "https://proxy.example.com/ms/api/v1/t/activity/feed/subscriptions/content?nextPage=2"
        );
        for bad in [
            "https://evil.example.com/steal",
            "http://127.0.0.1:4001/x",
            "https://user@127.0.0.1:4000/x",
            "/relative",
        ] {
            assert!(
                matches!(
                    follow(bad, &base, "https://manage.office.com"),
                    Err(ApiError::Link(_))
                ),
                "{bad}"
            );
        }
    }
}
