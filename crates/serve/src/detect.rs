//! The service's hold on the streaming detector: how it is built, flushed, snapshotted and
//! restored. Every call into `stormwatch-detect` beyond pushing records goes through here.

use std::sync::Arc;

use stormwatch_core::Timestamp;
use stormwatch_detect::{Change, DetectError, Detector, Scanned, Scanner};
use stormwatch_store::IncidentRecord;

/// Builds a detector with the service's rules and settings; called at start and whenever a
/// fresh one is needed (restore, flush). Every detector it builds must be the same.
pub type DetectorFactory = Arc<dyn Fn() -> Result<Detector, DetectError> + Send + Sync>;

/// The running detector.
pub(crate) struct Live {
    factory: DetectorFactory,
    det: Detector,
}

/// What a flush left besides its changes.
#[derive(Debug, Default)]
pub(crate) struct Flushed {
    /// The incidents as decided now.
    pub(crate) incidents: Vec<IncidentRecord>,
    /// What the analytics could not do or assumed.
    pub(crate) notes: Vec<String>,
    /// The detector was rebuilt: the journal must be read into it again (from its start) to
    /// bring back its state.
    pub(crate) rebuilt: bool,
}

impl Live {
    pub(crate) fn build(factory: DetectorFactory) -> Result<Live, DetectError> {
        let det = factory()?;
        Ok(Live { factory, det })
    }

    pub(crate) fn scanner(&self) -> Scanner {
        self.det.scanner()
    }

    pub(crate) fn absorb(&mut self, s: Scanned, out: &mut Vec<Change>) -> Result<(), DetectError> {
        self.det.absorb(s, out)
    }

    pub(crate) fn watermark(&self) -> Option<Timestamp> {
        self.det.watermark()
    }

    pub(crate) fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Change>) {
        self.det.advance(watermark, out);
    }

    /// Decide everything pending now, as `hunt` does at the end of its input.
    ///
    /// The detector decides only when it finishes, so it is finished and a fresh one takes
    /// its place; the caller reads the journal into that one again ([`Flushed::rebuilt`]).
    pub(crate) fn flush(&mut self, out: &mut Vec<Change>) -> Result<Flushed, DetectError> {
        let fresh = (self.factory)()?;
        let old = std::mem::replace(&mut self.det, fresh);
        let finished = old.finish(out)?;
        let incidents = finished.incidents.iter().map(incident_record).collect();
        Ok(Flushed {
            incidents,
            notes: finished.notes,
            rebuilt: true,
        })
    }

    /// The detector's state, to be restored after a restart; `None` when this detector cannot
    /// make one (the journal is then read again from its start after a restart).
    #[allow(clippy::unnecessary_wraps, clippy::unused_self)]
    pub(crate) fn snapshot(&self) -> Result<Option<Vec<u8>>, DetectError> {
        Ok(None)
    }

    /// Restore a snapshot into a freshly built detector. Returns `false` when this detector
    /// cannot restore one (the caller reads the journal from its start instead).
    #[allow(clippy::unnecessary_wraps, clippy::unused_self)]
    pub(crate) fn restore(&mut self, _snapshot: &[u8]) -> Result<bool, DetectError> {
        Ok(false)
    }
}

/// An analytics incident as the store keeps it.
fn incident_record(i: &stormwatch_analytics::Incident) -> IncidentRecord {
    IncidentRecord {
        id: i.id.clone(),
        level: i.level,
        score: i.score,
        first: i.first,
        last: i.last,
        title: i.title.clone(),
        body: serde_json::to_value(i).unwrap_or(serde_json::Value::Null),
    }
}
