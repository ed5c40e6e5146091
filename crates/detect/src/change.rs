//! What the detector tells its caller.

use stormwatch_core::{Detection, Incident};

/// A detection raised by the detector.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The detection; [`Detection::id`] says which one it is. A detection raised again with
    /// the same id replaces the earlier one (more records, a higher level).
    pub detection: Detection,
    /// A record behind it arrived later than the lateness bound.
    pub late: bool,
    /// No record still to come within the lateness bound can change it.
    pub settled: bool,
}

/// A detection raised earlier that no longer holds: a record that arrived late (a sign-in
/// after the grace, a match out of order) changed the decision. A store drops it, or keeps
/// it marked as withdrawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    /// The id of the detection raised earlier.
    pub id: String,
    /// Its rule.
    pub rule_id: String,
    /// Why it no longer holds.
    pub reason: String,
}

/// An incident as the analytics group it now: new, or changed since it was last told (more
/// detections, mailboxes, a higher level). Its id is stable while its earliest detection
/// stays the same.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentUpdate {
    /// The incident (its `detections` indices are those of the decision that grouped it:
    /// use `detection_ids`).
    pub incident: Incident,
    /// Ids of the raised detections it groups.
    pub detection_ids: Vec<String>,
}

/// One decision of the detector, in the order they were made.
// `Raise` is nearly every change: boxing it would add an allocation to each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A detection, new or changed.
    Raise(Alert),
    /// A correction: a detection raised earlier no longer holds.
    Withdraw(Withdrawal),
    /// An incident, new or changed.
    Incident(IncidentUpdate),
    /// An incident told earlier no longer stands (its detections were withdrawn, or it was
    /// merged into another).
    IncidentGone {
        /// Its id.
        id: String,
    },
}

impl Change {
    /// The detection's id.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            Change::Raise(a) => &a.detection.id,
            Change::Withdraw(w) => &w.id,
            Change::Incident(u) => &u.incident.id,
            Change::IncidentGone { id } => id,
        }
    }
}
