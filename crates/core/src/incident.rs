//! Incidents: detections tied together by one actor context, named by what they touched.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::detection::Detection;
use crate::level::Level;
use crate::time::Timestamp;

/// Detections of one rule inside an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCount {
    /// The rule's id (`builtin/<slug>` or a Sigma id).
    pub rule_id: String,
    /// Highest level among them.
    pub level: Level,
    /// How many.
    pub detections: usize,
}

/// One of the strongest detections of an incident: why it is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's title.
    pub rule_title: String,
    /// The detection's level.
    pub level: Level,
    /// The detection's explanation.
    pub explanation: String,
}

/// Detections tied together by one actor context (shared sessions, token ids, indicator or
/// actor IPs, third-party apps), with the names of every tenant, mailbox, user, IP, session and
/// app they touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `INC-0001`, … most severe first.
    pub id: String,
    /// One line summary.
    pub title: String,
    /// Highest level of its detections.
    pub level: Level,
    /// 0–100: level, corroborating detections, actor hours.
    pub score: u32,
    /// First record.
    pub first: Timestamp,
    /// Last record.
    pub last: Timestamp,
    /// Tenant ids of its detections.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Affected mailboxes.
    pub mailboxes: Vec<String>,
    /// Acting users.
    pub users: Vec<String>,
    /// Session ids of the actor context.
    pub sessions: Vec<String>,
    /// Client IPs of the actor context.
    pub ips: Vec<String>,
    /// Applications (ClientAppId, else AppId) of the actor context.
    pub apps: Vec<String>,
    /// The strongest detections (most severe and highest scored first, one per rule, at most
    /// [`Incident::MAX_REASONS`]).
    #[serde(default)]
    pub reasons: Vec<Reason>,
    /// Rules that fired, with counts.
    pub rules: Vec<RuleCount>,
    /// Indices of its detections in the list that was grouped.
    pub detections: Vec<usize>,
    /// Records behind its detections (a record may count in more than one detection).
    pub records: u64,
}

impl Incident {
    /// Reasons kept per incident.
    pub const MAX_REASONS: usize = 3;

    /// The domains of its mailboxes and users (`agency.example`), sorted, lower-case: the
    /// organisations it touched, in names people know.
    #[must_use]
    pub fn domains(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .mailboxes
            .iter()
            .chain(&self.users)
            .filter_map(|a| domain_of(a))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The lower-cased domain of a `user@domain` name, if it has one.
#[must_use]
pub fn domain_of(name: &str) -> Option<String> {
    let (_, d) = name.rsplit_once('@')?;
    let d = d.trim();
    (!d.is_empty() && d.contains('.')).then(|| d.to_ascii_lowercase())
}

/// Which incident a detection that was not grouped belongs to: the one whose sessions hold its
/// session, else the one whose actor IPs hold its IP while its mailbox or user is one the
/// incident touched. A Sigma detection in the actor's session is part of the incident; an IP
/// alone (a shared NAT, a proxy) is not enough.
#[derive(Debug, Default)]
pub struct IncidentIndex {
    /// Incident ids, in the order given.
    ids: Vec<String>,
    sessions: HashMap<String, usize>,
    ips: HashMap<String, Vec<usize>>,
    who: Vec<HashMap<String, ()>>,
}

impl IncidentIndex {
    /// Index incidents; the first one listed wins where two share a session or IP.
    #[must_use]
    pub fn new<'a>(incidents: impl IntoIterator<Item = &'a Incident>) -> Self {
        let mut ix = IncidentIndex::default();
        for (i, inc) in incidents.into_iter().enumerate() {
            ix.ids.push(inc.id.clone());
            for s in &inc.sessions {
                ix.sessions.entry(s.to_ascii_lowercase()).or_insert(i);
            }
            for ip in &inc.ips {
                ix.ips.entry(ip.clone()).or_default().push(i);
            }
            ix.who.push(
                inc.mailboxes
                    .iter()
                    .chain(&inc.users)
                    .map(|s| (s.to_ascii_lowercase(), ()))
                    .collect(),
            );
        }
        ix
    }

    /// Whether no incident was indexed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The incident id of a detection: its own [`Detection::incident_id`] when set, else the
    /// incident found by session, or by IP and identity. Informational detections and
    /// findings about the evidence (`builtin/visibility-gaps`) belong to none, as in grouping.
    #[must_use]
    pub fn find<'a>(&'a self, d: &'a Detection) -> Option<&'a str> {
        if let Some(id) = d.incident_id.as_deref() {
            return Some(id);
        }
        if self.ids.is_empty()
            || d.level <= Level::Informational
            || d.rule_id == "builtin/visibility-gaps"
        {
            return None;
        }
        if let Some(s) = d.session_id.as_deref()
            && let Some(&i) = lookup(&self.sessions, s)
        {
            return self.ids.get(i).map(String::as_str);
        }
        let ip = d.ip.as_deref()?;
        let cands = self.ips.get(ip)?;
        cands
            .iter()
            .find(|&&i| {
                self.who.get(i).is_some_and(|w| {
                    [&d.mailbox, &d.user]
                        .into_iter()
                        .flatten()
                        .any(|n| lookup(w, n).is_some())
                })
            })
            .and_then(|&i| self.ids.get(i).map(String::as_str))
    }
}

/// Look a name up in a map keyed by lower-case names, allocating only for a name that has
/// capitals.
fn lookup<'a, V>(map: &'a HashMap<String, V>, name: &str) -> Option<&'a V> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        map.get(&name.to_ascii_lowercase())
    } else {
        map.get(name)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::DetectionSource;

    fn incident(id: &str, sessions: &[&str], ips: &[&str], mailboxes: &[&str]) -> Incident {
        let t = Timestamp::from_unix_seconds(0);
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect();
        Incident {
            id: id.into(),
            title: String::new(),
            level: Level::High,
            score: 0,
            first: t,
            last: t,
            tenants: Vec::new(),
            mailboxes: v(mailboxes),
            users: Vec::new(),
            sessions: v(sessions),
            ips: v(ips),
            apps: Vec::new(),
            reasons: Vec::new(),
            rules: Vec::new(),
            detections: Vec::new(),
            records: 0,
        }
    }

    fn det(level: Level, session: Option<&str>, ip: Option<&str>, mb: Option<&str>) -> Detection {
        let mut d = Detection::new(
            "r",
            "R",
            level,
            DetectionSource::Sigma,
            Timestamp::from_unix_seconds(0),
        );
        d.session_id = session.map(Into::into);
        d.ip = ip.map(Into::into);
        d.mailbox = mb.map(Into::into);
        d
    }

    #[test]
    fn detections_join_by_session_or_by_ip_and_identity() {
        let incs = [
            incident("INC-0001", &["S1"], &["203.0.113.5"], &["a@x.example"]),
            incident("INC-0002", &["s2"], &["198.51.100.7"], &["b@y.example"]),
        ];
        let ix = IncidentIndex::new(&incs);
        assert_eq!(
            ix.find(&det(Level::Low, Some("s1"), None, None)),
            Some("INC-0001")
        );
        assert_eq!(
            ix.find(&det(
                Level::Low,
                None,
                Some("198.51.100.7"),
                Some("B@y.example")
            )),
            Some("INC-0002")
        );
        // The IP alone does not tie a detection about someone else to the incident.
        assert_eq!(
            ix.find(&det(
                Level::High,
                None,
                Some("198.51.100.7"),
                Some("c@y.example")
            )),
            None
        );
        // Context-only detections are not grouped.
        assert_eq!(
            ix.find(&det(Level::Informational, Some("S1"), None, None)),
            None
        );
        let mut own = det(Level::Low, Some("s2"), None, None);
        own.incident_id = Some("INC-0009".into());
        assert_eq!(ix.find(&own), Some("INC-0009"));
    }

    #[test]
    fn domains_are_the_organisations_in_names() {
        let mut i = incident(
            "INC-0001",
            &[],
            &[],
            &["a@Agency.example", "b@ministry.example"],
        );
        i.users = vec!["svc@agency.example".into(), "no-domain".into()];
        assert_eq!(i.domains(), ["agency.example", "ministry.example"]);
        assert_eq!(domain_of("x@"), None);
    }
}
