//! How the detector waits for late records.

use std::time::Duration;

/// The detector's time settings. Times are event times (the records' own), never the clock.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// How far behind the watermark a record may be and still be decided as if it had come
    /// in time order. Audit logs arrive hours late and out of order: 12 hours by default.
    /// Records later than this are still processed; what they change is marked late.
    pub lateness: Duration,
    /// How long the analytics wait after an hour has passed the watermark before deciding
    /// on it, so that sign-ins logged late can still back the mail access of that hour (the
    /// sign-in log's own latency). 2 hours by default.
    pub sign_in_grace: Duration,
    /// How much history is kept in memory behind the watermark: older contexts are folded
    /// into the per-mailbox baselines and dropped, older windows closed. 30 days by default.
    pub horizon: Duration,
    /// Raise correlations as soon as their condition is met by the records at hand, before
    /// the lateness bound has passed them (a late record may then withdraw or change them).
    /// On by default; off, correlations are raised once settled.
    pub speculate: bool,
    /// The least wall-clock time between two decisions of the analytics. Zero (the default)
    /// decides on every hour of event time as soon as the grace has passed it. A monitor
    /// catching up on a backlog (days of event time in minutes) sets a few seconds: the
    /// analytics then decide on all the hours that passed since at once, instead of once per
    /// hour of event time (each decision reads their whole state).
    pub min_decide_interval: Duration,
    /// The largest share of wall-clock time the analytics' decisions may take while event
    /// time runs faster than the clock: after a decision that took `d`, the next waits at
    /// least `d × (1 − share) / share`. Each decision reads the analytics' whole state, so a
    /// backlog of weeks would otherwise be decided hour by hour. Zero (the default) sets no
    /// such bound; `serve` uses 0.2.
    pub decide_share: f32,
    /// Let the analytics decide (and age out state) on their thread while records go on
    /// being taken: [`crate::Detector::advance`] begins a decision and a later call gives
    /// its changes, so a record pushed meanwhile is matched and raised without waiting for
    /// the decision. Off (the default), `advance` waits for the decision and gives its
    /// changes at once. A snapshot is not taken while a decision is under way
    /// ([`crate::Detector::deciding`], [`crate::Detector::settle`]). `serve` turns it on.
    pub background_decisions: bool,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            lateness: Duration::from_secs(12 * 3600),
            sign_in_grace: Duration::from_secs(2 * 3600),
            horizon: Duration::from_secs(30 * 24 * 3600),
            speculate: true,
            min_decide_interval: Duration::ZERO,
            decide_share: 0.0,
            background_decisions: false,
        }
    }
}

/// A duration in nanoseconds, saturating.
pub(crate) fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
