//! What the assessment starts from: the actor's identifiers and the options.

use std::collections::HashMap;
use std::net::IpAddr;

use stormwatch_core::Timestamp;

/// The actor's known identifiers, from `--actor-ip` / `--actor-session` / `--actor-app` /
/// `--actor-user-agent`, an IOC file, or hunt findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeds {
    /// Client IPs (any textual form; IPv6 is canonicalised).
    pub ips: Vec<String>,
    /// Session ids (`SessionId`, `AADSessionId`, sign-in `sessionId`); case-insensitive.
    pub sessions: Vec<String>,
    /// App ids, matched against a record's `ClientAppId`, or its `AppId` when it has no
    /// `ClientAppId` (the app a detection reports); case-insensitive.
    pub apps: Vec<String>,
    /// User agents / `ClientInfoString`s, matched exactly.
    pub user_agents: Vec<String>,
}

impl Seeds {
    /// True when no identifier is given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
            && self.sessions.is_empty()
            && self.apps.is_empty()
            && self.user_agents.is_empty()
    }
}

/// How to assess.
#[derive(Debug, Clone, Default)]
pub struct ImpactOptions {
    /// Expand the context transitively (IP → its sessions → their IPs …); `false` with
    /// `--no-expand` stops after the seeds.
    pub expand: bool,
    /// `InternetMessageId` → subject, joined into the report when given.
    pub subjects: Option<HashMap<String, String>>,
    /// IOC IPs with their validity window `[from, to)`: such an IP marks a record as the
    /// actor's only inside one of its windows. IPs listed here are seeds too.
    pub ioc_windows: Vec<(String, Timestamp, Timestamp)>,
}

/// An IP in canonical text form (as [`stormwatch_core::Event::ip_string`] writes it).
pub(crate) fn canonical_ip(s: &str) -> String {
    let t = s.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(t);
    t.parse::<IpAddr>()
        .map_or_else(|_| t.to_owned(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_ip_forms() {
        assert_eq!(canonical_ip(" 51.89.156.153 "), "51.89.156.153");
        assert_eq!(canonical_ip("2001:DB8:0:0::1"), "2001:db8::1");
        assert_eq!(canonical_ip("[2001:db8::1]"), "2001:db8::1");
        assert_eq!(canonical_ip("not-an-ip"), "not-an-ip");
    }
}
