//! Incidents as the detector tells them (`Change::Incident`, `Change::IncidentGone`; ids stable
//! while an incident's earliest detection stays), and the alerts tied to them as `hunt` ties
//! them: the analytics' detections it groups by their own `incident_id`, others by session, or
//! by IP with the mailbox or user ([`IncidentIndex`]).

use std::collections::BTreeMap;

use serde_json::Value;
use stormwatch_core::{Detection, Incident, IncidentIndex};
use stormwatch_detect::IncidentUpdate;
use stormwatch_store::{IncidentRecord, StoreError, Tx};

/// The current incidents, for tying alerts raised later.
#[derive(Debug, Default)]
pub(crate) struct Incidents {
    current: BTreeMap<String, Incident>,
    index: IncidentIndex,
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
        // The most severe first: it wins an alert two incidents would hold.
        let mut list: Vec<Incident> = self.current.values().cloned().collect();
        list.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then(b.score.cmp(&a.score))
                .then(a.first.cmp(&b.first))
                .then(a.id.cmp(&b.id))
        });
        self.index = IncidentIndex::new(&list);
    }

    /// The incident a detection belongs to.
    pub(crate) fn find<'a>(&'a self, d: &'a Detection) -> Option<&'a str> {
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
        let low = |v: &[String]| -> Vec<String> { v.iter().map(|s| s.to_ascii_lowercase()).collect() };
        tx.tie_alerts(
            &i.id,
            &low(&i.sessions),
            &i.ips,
            &low(&i.mailboxes),
            &low(&i.users),
        )?;
        self.current.insert(i.id.clone(), i.clone());
        self.reindex();
        Ok(())
    }

    /// An incident no longer stands.
    pub(crate) fn gone(&mut self, tx: &Tx<'_>, id: &str) -> Result<(), StoreError> {
        tx.remove_incident(id)?;
        if self.current.remove(id).is_some() {
            self.reindex();
        }
        Ok(())
    }

    /// How many there are.
    pub(crate) fn len(&self) -> usize {
        self.current.len()
    }
}
