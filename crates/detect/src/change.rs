//! What the detector tells its caller.

use stormwatch_core::Detection;

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

/// One decision of the detector, in the order they were made.
// `Raise` is nearly every change: boxing it would add an allocation to each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A detection, new or changed.
    Raise(Alert),
    /// A correction: a detection raised earlier no longer holds.
    Withdraw(Withdrawal),
}

impl Change {
    /// The detection's id.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            Change::Raise(a) => &a.detection.id,
            Change::Withdraw(w) => &w.id,
        }
    }
}
