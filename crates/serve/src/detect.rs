//! The service's hold on the streaming detector: how it is built, flushed, snapshotted and
//! restored. Every call into `stormwatch-detect` beyond pushing records goes through here.

use std::sync::Arc;

use stormwatch_core::Timestamp;
use stormwatch_detect::{Change, DetectError, Detector, Scanned, Scanner};

/// Builds a detector with the service's rules and settings; called at start and whenever a
/// fresh one is needed (restore, flush). Every detector it builds must be the same.
pub type DetectorFactory = Arc<dyn Fn() -> Result<Detector, DetectError> + Send + Sync>;

/// The running detector.
pub(crate) struct Live {
    factory: DetectorFactory,
    det: Detector,
}

impl Live {
    pub(crate) fn build(factory: DetectorFactory) -> Result<Live, DetectError> {
        let det = factory()?;
        Ok(Live { factory, det })
    }

    /// The Sigma rules loaded (for the dashboard).
    pub(crate) fn rules(&self) -> Vec<stormwatch_sigma::RuleInfo> {
        self.det.engine().rules().to_vec()
    }

    pub(crate) fn scanner(&self) -> Scanner {
        self.det.scanner()
    }

    pub(crate) fn absorb(&mut self, s: Scanned, out: &mut Vec<Change>) -> Result<(), DetectError> {
        self.det.absorb(s, out)
    }

    /// The most records an analytic's detection shows, with the analytics.
    pub(crate) fn evidence_cap(&self) -> Option<usize> {
        self.det.evidence_cap()
    }

    pub(crate) fn watermark(&self) -> Option<Timestamp> {
        self.det.watermark()
    }

    pub(crate) fn advance(
        &mut self,
        watermark: Timestamp,
        out: &mut Vec<Change>,
    ) -> Result<(), DetectError> {
        self.det.advance(watermark, out)
    }

    /// A decision of the analytics is under way: no snapshot until it is taken.
    pub(crate) fn deciding(&self) -> bool {
        self.det.deciding()
    }

    /// Wait for the decision under way, if any, and take its changes.
    pub(crate) fn settle(&mut self, out: &mut Vec<Change>) -> Result<(), DetectError> {
        self.det.settle(out)
    }

    /// Decide everything pending now, keeping the state (records that come later still
    /// count).
    pub(crate) fn flush(&mut self, out: &mut Vec<Change>) -> Result<(), DetectError> {
        self.det.flush(out)
    }

    /// The detector's whole state, to be restored after a restart.
    pub(crate) fn snapshot(&self) -> Result<Vec<u8>, DetectError> {
        self.det.snapshot()
    }

    /// Begin a snapshot of the state as it is now, finished on another thread (see
    /// [`stormwatch_detect::Detector::begin_snapshot`]).
    pub(crate) fn begin_snapshot(&self) -> Result<stormwatch_detect::PendingSnapshot, DetectError> {
        self.det.begin_snapshot()
    }

    /// Restore a snapshot. On failure the detector is rebuilt fresh (its state would be
    /// unspecified) and `false` returned: the caller reads the journal from its start.
    pub(crate) fn restore(&mut self, snapshot: &[u8]) -> Result<bool, DetectError> {
        match self.det.restore(snapshot) {
            Ok(report) => {
                if report.correlations_dropped > 0 {
                    tracing::warn!(
                        message =
                            "Correlations changed since the checkpoint start with empty windows.",
                        dropped = report.correlations_dropped
                    );
                }
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(
                    message = "The checkpoint could not be restored; the journal is read again from its start.",
                    error = %e
                );
                self.det = (self.factory)()?;
                Ok(false)
            }
        }
    }
}
