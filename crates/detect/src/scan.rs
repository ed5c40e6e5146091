//! The part of detection that runs on the reader's worker threads, while a record's parse is
//! at hand: the Sigma rules, what the correlations and the analytics keep of each event.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use stormwatch_analytics::{Observed, Observer};
use stormwatch_core::{Detection, Event, record_identity};
use stormwatch_sigma::Observation;

use crate::change::Alert;

/// Most identities of late records kept between two decisions of the analytics; past it,
/// every analytics detection raised at the next decision is marked late.
pub(crate) const MAX_LATE_RECORDS: usize = 100_000;

/// Matches events against the detector's rules and takes what its correlations and analytics
/// keep of them, on any thread (`Send + Sync`, no borrow of the detector). What it finds goes
/// into a [`Scanned`], handed to [`crate::Detector::absorb`] in input order.
#[derive(Debug, Clone)]
pub struct Scanner {
    pub(crate) sigma: stormwatch_sigma::Scanner,
    pub(crate) analytics: Option<Observer>,
    /// The detector's lateness frontier (ns): events before it are late.
    pub(crate) frontier: Arc<AtomicI64>,
}

/// What a [`Scanner`] found in a run of events.
#[derive(Debug, Default)]
pub struct Scanned {
    pub(crate) alerts: Vec<Alert>,
    pub(crate) observations: Vec<Observation>,
    pub(crate) analytics: Observed,
    /// Identities of the records that came after the lateness frontier had passed them.
    pub(crate) late_records: Vec<String>,
    /// Events scanned.
    pub(crate) events: u64,
    /// Newest event time seen (ns).
    pub(crate) newest: Option<i64>,
    /// Oldest event time seen (ns).
    pub(crate) oldest: Option<i64>,
    /// Scratch for the rules' detections of one event.
    found: Vec<Detection>,
}

impl Scanned {
    /// How many events were scanned into it.
    #[must_use]
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The newest event time among them.
    #[must_use]
    pub fn newest(&self) -> Option<stormwatch_core::Timestamp> {
        self.newest.map(stormwatch_core::Timestamp::from_nanos)
    }

    /// Nothing was scanned into it.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.events == 0
    }
}

impl Scanner {
    /// Scan one event. `parsed` is `ev.raw` already parsed, when the caller has it: the
    /// record is then not parsed again.
    pub fn scan(&self, ev: &Event, parsed: Option<&sonic_rs::Value>, out: &mut Scanned) {
        out.events += 1;
        let t = ev.time.map(stormwatch_core::Timestamp::nanos);
        if let Some(t) = t {
            out.newest = Some(out.newest.map_or(t, |n| n.max(t)));
            out.oldest = Some(out.oldest.map_or(t, |o| o.min(t)));
        }
        let late = t.is_some_and(|t| t <= self.frontier.load(Ordering::Relaxed));
        let mut found = std::mem::take(&mut out.found);
        let observed = self.sigma.scan(ev, parsed, &mut found);
        out.alerts.extend(found.drain(..).map(|detection| Alert {
            detection,
            late,
            settled: true,
        }));
        out.found = found;
        out.observations.push(observed);
        if let Some(a) = &self.analytics {
            a.observe(ev, &mut out.analytics);
            // Only the analytics' decisions ask which records came late (rules and
            // correlations know it as they match).
            if late && out.late_records.len() < MAX_LATE_RECORDS {
                out.late_records.push(record_identity(&ev.loc));
            }
        }
    }
}
