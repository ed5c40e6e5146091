//! Incidents over a stream: the analytics regroup their detections at every decision and
//! number the groups afresh; the store needs ids that stay put while a group grows, so that
//! an analyst's status and notes stay with it. A decided group takes the id of the stored
//! incident it shares the most actor identifiers (sessions, IPs, users) with; a group that
//! shares none is new. Alerts belong to an incident as `hunt` ties them: by session, or by IP
//! with the mailbox or user.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use stormwatch_analytics::Incident;
use stormwatch_core::{Detection, detection_id};
use stormwatch_store::IncidentRecord;

/// One incident as tracked.
#[derive(Debug, Clone, Default, PartialEq)]
struct Known {
    id: String,
    sessions: BTreeSet<String>,
    ips: BTreeSet<String>,
    users: BTreeSet<String>,
    mailboxes: BTreeSet<String>,
}

impl Known {
    fn keys(&self) -> impl Iterator<Item = String> + '_ {
        self.sessions
            .iter()
            .map(|s| format!("s:{s}"))
            .chain(self.ips.iter().map(|i| format!("i:{i}")))
            .chain(self.users.iter().map(|u| format!("u:{u}")))
    }

    fn of_json(id: &str, v: &Value) -> Known {
        let set = |k: &str| -> BTreeSet<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
                .unwrap_or_default()
        };
        Known {
            id: id.to_owned(),
            sessions: set("sessions"),
            ips: set("ips"),
            users: set("users"),
            mailboxes: set("mailboxes"),
        }
    }

    fn of(i: &Incident) -> Known {
        let low = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect();
        Known {
            id: String::new(),
            sessions: low(&i.sessions),
            ips: low(&i.ips),
            users: low(&i.users),
            mailboxes: low(&i.mailboxes),
        }
    }

    /// Does `d` belong here (as `hunt` ties detections to incidents)?
    fn holds(&self, d: &Detection) -> bool {
        let low = |s: &Option<String>| s.as_deref().map(str::to_ascii_lowercase);
        if low(&d.session_id).is_some_and(|s| self.sessions.contains(&s)) {
            return true;
        }
        low(&d.ip).is_some_and(|ip| self.ips.contains(&ip))
            && (low(&d.mailbox).is_some_and(|m| self.mailboxes.contains(&m))
                || low(&d.user).is_some_and(|u| self.users.contains(&u)))
    }
}

/// The incidents as last stored, with their stable ids.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    known: Vec<Known>,
    /// The analytics' last decision, as given.
    last: Vec<Incident>,
}

/// What changed at a decision.
#[derive(Debug, Default)]
pub(crate) struct Regrouped {
    /// Every current incident, with its stable id.
    pub(crate) incidents: Vec<IncidentRecord>,
}

impl Tracker {
    /// Start from the incidents stored (id and body).
    pub(crate) fn from_stored(stored: &[(String, Value)]) -> Tracker {
        Tracker {
            known: stored.iter().map(|(id, v)| Known::of_json(id, v)).collect(),
            last: Vec::new(),
        }
    }

    /// The analytics' current incidents; `None` when they did not change since the last call.
    pub(crate) fn regroup(&mut self, current: &[Incident]) -> Option<Regrouped> {
        if current == self.last.as_slice() {
            return None;
        }
        self.last = current.to_vec();
        let fresh: Vec<Known> = current.iter().map(Known::of).collect();
        // Best overlaps first, one stored incident per decided one.
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (k, known) in self.known.iter().enumerate() {
            for key in known.keys() {
                index.entry(key).or_default().push(k);
            }
        }
        let mut pairs = Vec::new();
        for (n, f) in fresh.iter().enumerate() {
            let mut score: HashMap<usize, usize> = HashMap::new();
            for key in f.keys() {
                for k in index.get(&key).into_iter().flatten() {
                    *score.entry(*k).or_default() += 1;
                }
            }
            pairs.extend(score.into_iter().map(|(k, s)| (s, n, k)));
        }
        pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut id_of: Vec<Option<String>> = vec![None; fresh.len()];
        let mut taken = vec![false; self.known.len()];
        for (_, n, k) in pairs {
            if id_of[n].is_none() && !taken[k] {
                taken[k] = true;
                id_of[n] = Some(self.known[k].id.clone());
            }
        }
        let mut records = Vec::with_capacity(current.len());
        let mut known = Vec::with_capacity(current.len());
        for ((i, mut f), id) in current.iter().zip(fresh).zip(id_of) {
            let id = id.unwrap_or_else(|| new_id(i, &f));
            f.id.clone_from(&id);
            let mut body = serde_json::to_value(i).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut body {
                // The analytics' own number of it in this decision (`INC-0003`).
                if let Some(n) = m.remove("id") {
                    m.insert("rank_id".into(), n);
                }
                m.remove("detections");
            }
            records.push(IncidentRecord {
                id,
                level: i.level,
                score: i.score,
                first: i.first,
                last: i.last,
                title: i.title.clone(),
                body,
            });
            known.push(f);
        }
        self.known = known;
        Some(Regrouped { incidents: records })
    }

    /// The incident `d` belongs to, the first (most severe) that holds it.
    pub(crate) fn find(&self, d: &Detection) -> Option<&str> {
        self.known
            .iter()
            .find(|k| k.holds(d))
            .map(|k| k.id.as_str())
    }
}

/// A new incident's id: from what it is about when first seen.
fn new_id(i: &Incident, k: &Known) -> String {
    let mut parts: Vec<String> = vec![i.first.nanos().to_string()];
    parts.extend(k.keys());
    let h = detection_id(&parts);
    format!("inc-{}", &h[..16])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use stormwatch_core::{DetectionSource, Level, Timestamp};

    fn incident(rank: &str, sessions: &[&str], ips: &[&str], mailboxes: &[&str]) -> Incident {
        Incident {
            id: rank.into(),
            title: "t".into(),
            level: Level::High,
            score: 70,
            first: Timestamp::from_nanos(1),
            last: Timestamp::from_nanos(2),
            mailboxes: mailboxes.iter().map(|s| (*s).to_owned()).collect(),
            users: Vec::new(),
            sessions: sessions.iter().map(|s| (*s).to_owned()).collect(),
            ips: ips.iter().map(|s| (*s).to_owned()).collect(),
            apps: Vec::new(),
            rules: Vec::new(),
            detections: Vec::new(),
            records: 1,
        }
    }

    #[test]
    fn ids_stay_while_groups_grow_and_renumber() {
        let mut t = Tracker::default();
        let a = incident("INC-0001", &["s1"], &["203.0.113.5"], &["a@x"]);
        let b = incident("INC-0002", &["s2"], &["198.51.100.7"], &["b@x"]);
        let first = t.regroup(&[a.clone(), b.clone()]).unwrap().incidents;
        assert!(t.regroup(&[a.clone(), b.clone()]).is_none());
        // An earlier incident appears (renumbering the others) and the first one grows.
        let c = incident("INC-0001", &["s9"], &["192.0.2.1"], &["c@x"]);
        let mut a2 = a.clone();
        a2.id = "INC-0002".into();
        a2.sessions.push("s3".into());
        let mut b2 = b.clone();
        b2.id = "INC-0003".into();
        let second = t.regroup(&[c, a2, b2]).unwrap().incidents;
        assert_eq!(second[1].id, first[0].id);
        assert_eq!(second[2].id, first[1].id);
        assert!(second[0].id != first[0].id && second[0].id != first[1].id);
        assert_eq!(second[1].body["rank_id"], "INC-0002");
        // Restarted from the store, the same ids are found again.
        let stored: Vec<(String, Value)> = second
            .iter()
            .map(|r| (r.id.clone(), r.body.clone()))
            .collect();
        let mut t2 = Tracker::from_stored(&stored);
        let again = t2.regroup(&[a, b]).unwrap().incidents;
        assert_eq!(again[0].id, first[0].id);
        assert_eq!(again[1].id, first[1].id);
    }

    #[test]
    fn detections_tie_by_session_or_ip_and_mailbox() {
        let mut t = Tracker::default();
        t.regroup(&[incident("INC-0001", &["S1"], &["203.0.113.5"], &["a@x"])]);
        let mut d = Detection::new(
            "r",
            "t",
            Level::Low,
            DetectionSource::Sigma,
            Timestamp::EPOCH,
        );
        assert_eq!(t.find(&d), None);
        d.session_id = Some("s1".into());
        assert!(t.find(&d).is_some());
        d.session_id = None;
        d.ip = Some("203.0.113.5".into());
        assert_eq!(t.find(&d), None);
        d.mailbox = Some("A@x".into());
        assert!(t.find(&d).is_some());
    }
}
