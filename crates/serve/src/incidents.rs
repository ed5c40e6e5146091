//! Incidents as the detector tells them (`Change::Incident`, `Change::IncidentGone`; ids stable
//! while an incident's earliest detection stays), and the alerts tied to them as `hunt` ties
//! them: the analytics' detections it groups by their own `incident_id`, others by session, or
//! by IP with the mailbox or user ([`IncidentIndex`]).

use std::collections::BTreeMap;

use serde_json::Value;
use stormwatch_core::{Detection, DetectionSource, Incident, IncidentIndex, Timestamp};
use stormwatch_detect::IncidentUpdate;
use stormwatch_store::{AlertTie, IncidentRecord, StoreError, Tx};

/// The current incidents, for tying alerts raised later.
#[derive(Debug, Default)]
pub(crate) struct Incidents {
    current: BTreeMap<String, Incident>,
    index: IncidentIndex,
    /// What changed since the alerts were last tied: incident ids (changed or gone) and the
    /// sessions, IPs, mailboxes and users of those changed.
    moved: Moved,
    /// The index lags `current` (rebuilt when next needed, once per batch of changes).
    stale: bool,
}

#[derive(Debug, Default)]
struct Moved {
    ids: Vec<String>,
    sessions: Vec<String>,
    ips: Vec<String>,
    mailboxes: Vec<String>,
    users: Vec<String>,
}

impl Incidents {
    /// From the incidents stored (their bodies are the incidents as told).
    pub(crate) fn from_stored(stored: &[(String, Value)]) -> Incidents {
        let mut i = Incidents::default();
        for (id, body) in stored {
            if let Ok(mut inc) = serde_json::from_value::<Incident>(body.clone()) {
                inc.id.clone_from(id);
                i.current.insert(id.clone(), inc);
            }
        }
        i.reindex();
        i
    }

    fn reindex(&mut self) {
        self.stale = false;
        // In hunt's order (the most severe, then the earliest first): the first wins an alert
        // two incidents would hold.
        let mut list: Vec<&Incident> = self.current.values().collect();
        list.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then(a.first.cmp(&b.first))
                .then(a.id.cmp(&b.id))
        });
        self.index = IncidentIndex::new(list);
    }

    /// The incident a detection belongs to.
    pub(crate) fn find<'a>(&'a mut self, d: &'a Detection) -> Option<&'a str> {
        if self.stale {
            self.reindex();
        }
        self.index.find(d)
    }

    /// Store an incident told new or changed, and tie its alerts.
    pub(crate) fn update(&mut self, tx: &Tx<'_>, u: &IncidentUpdate) -> Result<(), StoreError> {
        let i = &u.incident;
        let mut body = serde_json::to_value(i).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut body {
            // Indices into one decision's list: meaningless once stored.
            m.insert("detections".into(), Value::Array(Vec::new()));
            m.insert("alert_ids".into(), serde_json::json!(u.detection_ids));
        }
        tx.upsert_incident(&IncidentRecord {
            id: i.id.clone(),
            level: i.level,
            score: i.score,
            first: i.first,
            last: i.last,
            title: i.title.clone(),
            body,
        })?;
        for id in &u.detection_ids {
            tx.set_alert_incident(id, Some(&i.id))?;
        }
        fn low(v: &[String]) -> impl Iterator<Item = String> + '_ {
            v.iter().map(|s| s.to_ascii_lowercase())
        }
        // An incident whose level, start, sessions, IPs, mailboxes and users stay takes and
        // gives up no alert: only those that change are tied again.
        if self.current.get(&i.id).is_some_and(|old| same_ties(old, i)) {
            self.current.insert(i.id.clone(), i.clone());
            return Ok(());
        }
        let m = &mut self.moved;
        m.ids.push(i.id.clone());
        m.sessions.extend(low(&i.sessions));
        m.ips.extend(i.ips.iter().cloned());
        m.mailboxes.extend(low(&i.mailboxes));
        m.users.extend(low(&i.users));
        self.current.insert(i.id.clone(), i.clone());
        self.stale = true;
        Ok(())
    }

    /// Tie again, as `hunt` ties them, the alerts the incident changes since the last call
    /// may move (an alert two incidents would hold goes to the first in hunt's order, so an
    /// incident told later may take or give up alerts another holds). Returns how many
    /// moved.
    pub(crate) fn retie(&mut self, tx: &Tx<'_>) -> Result<usize, StoreError> {
        let m = std::mem::take(&mut self.moved);
        if m.ids.is_empty() {
            return Ok(0);
        }
        if self.stale {
            self.reindex();
        }
        let near =
            tx.alert_ties_near_incidents(&m.ids, &m.sessions, &m.ips, &m.mailboxes, &m.users)?;
        let mut moved = 0;
        for a in near {
            let d = tie_keys(&a, &self.current);
            let want = self.index.find(&d);
            if want != a.incident_id.as_deref() {
                tx.set_alert_incident(&a.id, want)?;
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// An incident no longer stands.
    pub(crate) fn gone(&mut self, tx: &Tx<'_>, id: &str) -> Result<(), StoreError> {
        tx.remove_incident(id)?;
        self.moved.ids.push(id.to_owned());
        if self.current.remove(id).is_some() {
            self.stale = true;
        }
        Ok(())
    }

    /// How many there are.
    pub(crate) fn len(&self) -> usize {
        self.current.len()
    }
}

/// Whether two tellings of an incident tie the same alerts: what [`IncidentIndex`] indexes
/// (sessions, IPs, mailboxes, users) and hunt's order of incidents (level, then start).
fn same_ties(a: &Incident, b: &Incident) -> bool {
    a.level == b.level
        && a.first == b.first
        && a.sessions == b.sessions
        && a.ips == b.ips
        && a.mailboxes == b.mailboxes
        && a.users == b.users
}

/// A detection with what [`IncidentIndex::find`] reads of a stored alert. The analytics' own
/// grouping holds while the incident does.
fn tie_keys(a: &AlertTie, current: &BTreeMap<String, Incident>) -> Detection {
    let mut d = Detection::new(
        a.rule_id.clone(),
        String::new(),
        a.level,
        DetectionSource::Sigma,
        Timestamp::EPOCH,
    );
    d.id.clone_from(&a.id);
    d.user.clone_from(&a.user);
    d.mailbox.clone_from(&a.mailbox);
    d.ip.clone_from(&a.ip);
    d.session_id.clone_from(&a.session_id);
    d.incident_id = a
        .own_incident_id
        .as_ref()
        .filter(|id| current.contains_key(*id))
        .cloned();
    d
}
