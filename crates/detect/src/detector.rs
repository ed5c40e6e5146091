//! The detector: push records, advance the watermark, take the decisions.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use stormwatch_analytics::{Analytics, AnalyticsOutput, BaselineSnapshot};
use stormwatch_core::{Event, Incident, Timestamp};
use stormwatch_sigma::{CorrelationChanges, Correlator, Engine};

use crate::DetectError;
use crate::change::Change;
use crate::config::{DetectorConfig, nanos};
use crate::folder::{Folder, stopped};
use crate::ids::{assign_analytic_ids, stable_incidents};
use crate::ledger::{Late, Ledger};
use crate::scan::{Scanned, Scanner};

/// Nanoseconds per hour.
pub(crate) const HOUR: i64 = 3_600_000_000_000;
/// Nanoseconds per day.
const DAY: i64 = 24 * HOUR;

/// One decision of the analytics: their detections and incidents.
type Decision = (Vec<stormwatch_core::Detection>, Vec<Incident>);

/// What a decision made on the analytics' thread gives back.
struct Decided {
    decision: Decision,
    /// The decision after the eviction that followed it (the ledger's new reference).
    after_eviction: Option<Decision>,
    /// How long it took there.
    took: Duration,
}

/// A decision under way on the analytics' thread.
struct Deciding {
    rx: Receiver<Decided>,
    /// Its detections at or before this time are raised (ns).
    cutoff: i64,
    /// The late records it decides on.
    late: Late,
    started: Instant,
}

impl std::fmt::Debug for Deciding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deciding")
            .field("cutoff", &self.cutoff)
            .finish_non_exhaustive()
    }
}

/// What [`Detector::finish`] leaves besides its last changes.
#[derive(Debug, Default)]
pub struct Finished {
    /// The analytics' incidents: detections grouped by actor context, most severe first.
    pub incidents: Vec<Incident>,
    /// What the analytics could not do or assumed.
    pub notes: Vec<String>,
    /// The baselines to keep for the next run (`--state`), when the analytics ran.
    pub baseline: Option<BaselineSnapshot>,
}

/// How much state a detector holds (for metrics and sizing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateSize {
    /// Correlation groups held.
    pub correlation_groups: usize,
    /// Matches waiting or in correlation windows.
    pub correlation_matches: usize,
    /// Approximate heap bytes held by the analytics.
    pub analytics_bytes: usize,
    /// Of those, the bytes of their baselines (kept `snapshot_retention_days`).
    pub baseline_bytes: usize,
    /// Raised detections that may still change.
    pub open_detections: usize,
    /// Identities of records that came late since the analytics last decided.
    pub late_records: usize,
}

/// The streaming detector: one compiled Sigma engine, its correlations and the built-in
/// analytics, deciding as records arrive.
///
/// - [`Detector::push`] (or [`Detector::scanner`] on worker threads, then
///   [`Detector::absorb`] in input order) takes records in any order; a single-record Sigma
///   match is raised at once.
/// - [`Detector::advance`] moves the watermark (event time): correlations whose windows the
///   records at hand fill are raised, and settled once the lateness bound has passed them;
///   the analytics decide on each hour once the sign-in grace has passed it; state older
///   than the horizon is aged out.
/// - [`Detector::flush`] decides everything pending now; [`Detector::finish`] does so at the
///   end of a finite input (`hunt`).
/// - [`Detector::snapshot`] and [`Detector::restore`] save and resume the whole state;
///   [`Detector::begin_snapshot`] takes one without waiting for the analytics' part.
///
/// Every detection carries a deterministic id ([`stormwatch_core::detection_id`]): the same
/// records give the same ids whatever their order (within the lateness bound) or the run.
#[derive(Debug)]
pub struct Detector {
    pub(crate) engine: Engine,
    pub(crate) correlator: Correlator,
    /// The analytics, folding on their own thread.
    pub(crate) analytics: Option<Folder>,
    scanner: Scanner,
    pub(crate) config: DetectorConfig,
    /// Newest watermark given (ns).
    pub(crate) watermark: Option<i64>,
    /// Watermark minus lateness (ns), shared with the scanners.
    frontier: Arc<AtomicI64>,
    pub(crate) ledger: Ledger,
    /// The analytics have decided on every hour before this time (ns).
    pub(crate) decided_to: Option<i64>,
    /// State before this time (ns) was aged out.
    pub(crate) evicted_before: Option<i64>,
    /// Records older than [`Detector::evicted_before`] came since the last eviction: their
    /// state is aged out at the next decision, not a day of event time later (a backfill of
    /// old records while the watermark stands still would otherwise stay).
    pub(crate) stale: bool,
    /// Records at or before the frontier came since the last [`Detector::advance`].
    pub(crate) behind: bool,
    /// The analytics' decision under way.
    deciding: Option<Deciding>,
    /// The analytics' longest look back (ns): what must stay behind the eviction point.
    lookback: i64,
    /// The most records an analytic's detection shows.
    evidence_cap: Option<usize>,
    /// The incidents of the analytics' last decision.
    pub(crate) incidents: Vec<Incident>,
    /// When the analytics last decided (wall clock) and how long it took, for
    /// `min_decide_interval` and `decide_share`.
    last_decision: Option<(Instant, std::time::Duration)>,
    scratch: Scanned,
    /// The size of the last snapshot written (bytes): the room the next one starts with,
    /// rather than growing to it by doubling (two copies at once of a large snapshot).
    pub(crate) snapshot_len: Arc<std::sync::atomic::AtomicUsize>,
}

impl Detector {
    /// A detector over `engine`'s rules and correlations, with the built-in analytics when
    /// given (they fold on a thread of their own).
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when that thread cannot start.
    pub fn new(
        engine: Engine,
        analytics: Option<Analytics>,
        config: DetectorConfig,
    ) -> Result<Self, DetectError> {
        let correlator = engine.correlator();
        let frontier = Arc::new(AtomicI64::new(i64::MIN));
        let scanner = Scanner {
            sigma: engine.scanner(&correlator),
            analytics: analytics.as_ref().map(Analytics::observer),
            frontier: Arc::clone(&frontier),
        };
        let lookback = analytics
            .as_ref()
            .map_or(0, |a| nanos(a.longest_lookback()));
        let evidence_cap = analytics.as_ref().map(Analytics::max_events_per_detection);
        let analytics = match (analytics, &scanner.analytics) {
            (Some(a), Some(observer)) => Some(Folder::start(a, observer.clone())?),
            _ => None,
        };
        Ok(Detector {
            engine,
            correlator,
            analytics,
            scanner,
            config,
            watermark: None,
            frontier,
            ledger: Ledger::default(),
            decided_to: None,
            evicted_before: None,
            stale: false,
            behind: false,
            deciding: None,
            lookback,
            evidence_cap,
            incidents: Vec::new(),
            last_decision: None,
            scratch: Scanned::default(),
            snapshot_len: Arc::default(),
        })
    }

    /// The most records an analytic's detection shows (its earliest ones), with the
    /// analytics.
    #[must_use]
    pub fn evidence_cap(&self) -> Option<usize> {
        self.evidence_cap
    }

    /// The rules' engine.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The time settings.
    #[must_use]
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The newest watermark given to [`Detector::advance`].
    #[must_use]
    pub fn watermark(&self) -> Option<Timestamp> {
        self.watermark.map(Timestamp::from_nanos)
    }

    /// The incidents of the analytics' last decision (detections grouped by actor context).
    #[must_use]
    pub fn incidents(&self) -> &[Incident] {
        &self.incidents
    }

    /// A scanner for worker threads: what it fills is given to [`Detector::absorb`].
    #[must_use]
    pub fn scanner(&self) -> Scanner {
        self.scanner.clone()
    }

    /// Take one record: its single-record detections are raised at once.
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error.
    pub fn push(&mut self, ev: &Event, out: &mut Vec<Change>) -> Result<(), DetectError> {
        let mut s = std::mem::take(&mut self.scratch);
        self.scanner.scan(ev, None, &mut s);
        let r = self.absorb_into(&mut s, out);
        self.scratch = s;
        r
    }

    /// Take what a [`Scanner`] found in a run of records (runs in input order; the records
    /// themselves may be in any order).
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error.
    pub fn absorb(
        &mut self,
        mut scanned: Scanned,
        out: &mut Vec<Change>,
    ) -> Result<(), DetectError> {
        self.absorb_into(&mut scanned, out)
    }

    fn absorb_into(&mut self, s: &mut Scanned, out: &mut Vec<Change>) -> Result<(), DetectError> {
        out.extend(s.alerts.drain(..).map(Change::Raise));
        for o in s.observations.drain(..) {
            self.correlator.record(o);
        }
        if let Some(a) = &self.analytics
            && !s.analytics.is_empty()
        {
            // Taken whole: the next scan fills a spare batch the analytics gave back.
            a.fold(std::mem::take(&mut s.analytics))?;
        }
        if self.analytics.is_some() {
            self.ledger.note_late(s.late_records.drain(..));
        } else {
            // Nothing clears them without the analytics' decisions.
            s.late_records.clear();
        }
        if let Some(o) = s.oldest {
            self.behind |= o <= self.frontier.load(Ordering::Relaxed);
            self.stale |= self.evicted_before.is_some_and(|e| o < e);
        }
        s.events = 0;
        s.newest = None;
        s.oldest = None;
        Ok(())
    }

    /// Move the watermark to `watermark` (it never moves back): the correlations decide on
    /// the records at hand and settle those the lateness bound has passed; the analytics
    /// decide on every hour the sign-in grace has passed; once a day of event time, state
    /// older than the horizon is aged out. Called again with the same watermark after
    /// records came late, it settles and decides on them, and ages out at once the state
    /// of records older than the last eviction point (a backfill of history while the
    /// watermark stands still holds no more than the horizon).
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error.
    pub fn advance(
        &mut self,
        watermark: Timestamp,
        out: &mut Vec<Change>,
    ) -> Result<(), DetectError> {
        self.take_decided(false, out)?;
        let w = watermark.nanos();
        let moved = self.watermark.is_none_or(|old| old < w);
        // With the watermark where it was, only records that came behind the frontier have
        // something to settle, to decide on or (when older than the last eviction point)
        // to age out.
        if !moved && !self.behind && !self.stale && !self.ledger.has_late() {
            return Ok(());
        }
        self.behind = false;
        let w = self.watermark.map_or(w, |old| old.max(w));
        self.watermark = Some(w);
        let frontier = w.saturating_sub(nanos(self.config.lateness));
        self.frontier.store(frontier, Ordering::Relaxed);
        let mut ch = CorrelationChanges::default();
        self.correlator.advance(
            Timestamp::from_nanos(frontier),
            self.config.speculate,
            &mut ch,
        );
        self.ledger.correlations(ch, out);
        if self.analytics.is_none() {
            self.evict_correlations(frontier);
            return Ok(());
        }
        // An hour is decided once the grace has passed its end.
        let decidable = w
            .saturating_sub(nanos(self.config.sign_in_grace))
            .div_euclid(HOUR)
            .saturating_mul(HOUR);
        let new_hour = self.decided_to.is_none_or(|d| d < decidable);
        if self.deciding.is_some() || (!new_hour && !self.stale && !self.ledger.has_late()) {
            return Ok(());
        }
        if let Some((at, took)) = self.last_decision
            && at.elapsed() < self.decide_wait(took)
        {
            return Ok(());
        }
        // A snapshot being written would make the decision wait for it: it is made at the
        // first advance after.
        if self.analytics.as_ref().is_some_and(Folder::writing) {
            return Ok(());
        }
        let to = self.decided_to.map_or(decidable, |d| d.max(decidable));
        self.decided_to = Some(to);
        // Aged out once a day, right after a decision (so that what the eviction alone
        // changes is told apart from what new records changed), and at once when records
        // older than the last point came since.
        let before = frontier.saturating_sub(nanos(self.config.horizon).max(self.lookback));
        let evict = (self.stale
            || self
                .evicted_before
                .is_none_or(|e| before >= e.saturating_add(DAY)))
        .then_some(before);
        if let Some(before) = evict {
            self.evicted_before = Some(before);
            self.stale = false;
            self.evict_correlations(before);
        }
        self.begin_decision(to - 1, evict)?;
        self.take_decided(!self.config.background_decisions, out)
    }

    /// Begin a decision of the analytics on their thread, deciding on the hours up to
    /// `cutoff`; with `evict`, state before that point is then aged out and the analytics
    /// decide again (what differs is the eviction's doing, not news).
    fn begin_decision(&mut self, cutoff: i64, evict: Option<i64>) -> Result<(), DetectError> {
        let Some(folder) = &self.analytics else {
            return Ok(());
        };
        let started = Instant::now();
        let rx = folder.call_later(move |a| {
            let t = Instant::now();
            let (detections, incidents, _notes) = a.decide();
            let after_eviction = evict.map(|before| {
                a.evict(Timestamp::from_nanos(before));
                let (detections, incidents, _notes) = a.decide();
                (detections, incidents)
            });
            Decided {
                decision: (detections, incidents),
                after_eviction,
                took: t.elapsed(),
            }
        })?;
        self.deciding = Some(Deciding {
            rx,
            cutoff,
            late: self.ledger.take_late(),
            started,
        });
        Ok(())
    }

    /// Give the changes of the decision under way once it is made (`wait`: wait for it).
    fn take_decided(&mut self, wait: bool, out: &mut Vec<Change>) -> Result<(), DetectError> {
        let Some(d) = self.deciding.take() else {
            return Ok(());
        };
        let decided = if wait {
            d.rx.recv().map_err(|_| stopped())?
        } else {
            match d.rx.try_recv() {
                Ok(decided) => decided,
                Err(TryRecvError::Empty) => {
                    self.deciding = Some(d);
                    return Ok(());
                }
                Err(TryRecvError::Disconnected) => return Err(stopped()),
            }
        };
        self.last_decision = Some((d.started, decided.took));
        self.take_decision(decided.decision, Some(d.cutoff), false, false, &d.late, out);
        if let Some(after) = decided.after_eviction {
            let none = Late::default();
            self.take_decision(after, Some(d.cutoff), false, true, &none, out);
        }
        Ok(())
    }

    /// A decision of the analytics is under way on their thread
    /// ([`DetectorConfig::background_decisions`]): no snapshot can be taken until
    /// [`Detector::settle`] or an [`Detector::advance`] gives its changes.
    #[must_use]
    pub fn deciding(&self) -> bool {
        self.deciding.is_some()
    }

    /// Wait for the decision under way, if any, and give its changes.
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error.
    pub fn settle(&mut self, out: &mut Vec<Change>) -> Result<(), DetectError> {
        self.take_decided(true, out)
    }

    /// How long after a decision that took `took` the next may come.
    fn decide_wait(&self, took: std::time::Duration) -> std::time::Duration {
        let share = f64::from(self.config.decide_share);
        let by_share = if share > 0.0 && share < 1.0 {
            took.mul_f64((1.0 - share) / share)
        } else {
            std::time::Duration::ZERO
        };
        self.config.min_decide_interval.max(by_share)
    }

    /// The analytics decide over everything folded; those of their detections whose time is
    /// at or before `cutoff` (all with `None`) are raised or withdrawn.
    fn decide(
        &mut self,
        cutoff: Option<i64>,
        settled: bool,
        out: &mut Vec<Change>,
    ) -> Result<(), DetectError> {
        let Some(folder) = &self.analytics else {
            return Ok(());
        };
        let (detections, incidents, _notes) = folder.call(Analytics::decide)?;
        let late = self.ledger.take_late();
        self.take_decision((detections, incidents), cutoff, settled, false, &late, out);
        Ok(())
    }

    /// Turn one decision of the analytics into changes: ids for the detections, stable ids for
    /// the incidents (on them and their detections), then what is new, changed or gone.
    fn take_decision(
        &mut self,
        (mut detections, incidents): Decision,
        cutoff: Option<i64>,
        settled: bool,
        quiet: bool,
        late: &Late,
        out: &mut Vec<Change>,
    ) {
        assign_analytic_ids(&mut detections);
        let open = &self.ledger.open;
        let shown = |d: &stormwatch_core::Detection| {
            cutoff.is_none_or(|c| d.timestamp.nanos() <= c) || open.contains_key(&d.id)
        };
        let updates = stable_incidents(incidents, &mut detections, shown);
        self.incidents = updates.iter().map(|u| u.incident.clone()).collect();
        self.ledger
            .analytics(detections, cutoff, settled, quiet, late, out);
        self.ledger.incidents(updates, quiet, out);
    }

    fn evict_correlations(&mut self, before: i64) {
        self.correlator.evict();
        self.ledger.forget_correlations_before(before);
    }

    /// Decide everything pending now, keeping the state: correlations on the records at hand
    /// (speculatively, as they stand), the analytics on every hour, the grace not waited
    /// for. Records that come later still count, and may change or withdraw what this
    /// raised. (A service's "flush" before a final report; `hunt` calls
    /// [`Detector::finish`].)
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error.
    pub fn flush(&mut self, out: &mut Vec<Change>) -> Result<(), DetectError> {
        self.settle(out)?;
        let frontier = self.frontier.load(Ordering::Relaxed);
        let mut ch = CorrelationChanges::default();
        self.correlator
            .advance(Timestamp::from_nanos(frontier), true, &mut ch);
        self.ledger.correlations(ch, out);
        self.decide(None, false, out)
    }

    /// How much state the detector holds.
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error.
    pub fn state_size(&self) -> Result<StateSize, DetectError> {
        let (correlation_groups, correlation_matches) = self.correlator.size();
        let (analytics_bytes, baseline_bytes) = match &self.analytics {
            Some(f) => f.call(|a| (a.state_bytes(), a.baseline_bytes()))?,
            None => (0, 0),
        };
        Ok(StateSize {
            correlation_groups,
            correlation_matches,
            analytics_bytes,
            baseline_bytes,
            open_detections: self.ledger.open_count(),
            late_records: self.ledger.late.records.len(),
        })
    }

    /// The analytics' state by part, with the number of contexts held
    /// ([`Analytics::state_parts`]); `None` without the analytics.
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error.
    pub fn analytics_parts(&self) -> Result<Option<stormwatch_analytics::StateParts>, DetectError> {
        match &self.analytics {
            Some(f) => Ok(Some(f.call(|a| a.state_parts())?)),
            None => Ok(None),
        }
    }

    /// Decide everything pending and return what the analytics leave: what a run over a
    /// finite input does at its end.
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error.
    pub fn finish(self, out: &mut Vec<Change>) -> Result<Finished, DetectError> {
        let Detector {
            correlator,
            analytics,
            mut ledger,
            deciding,
            ..
        } = self;
        let analytics = analytics.map(Folder::into_inner).transpose()?;
        // The analytics decide on a thread of their own while the correlations settle.
        let (ch, decided) = std::thread::scope(|scope| {
            let decided = analytics.map(|a| {
                std::thread::Builder::new()
                    .name("stormwatch-analytics".to_owned())
                    .spawn_scoped(scope, move || a.finish())
            });
            let mut correlator = correlator;
            let mut ch = CorrelationChanges::default();
            correlator.advance(Timestamp::from_nanos(i64::MAX), false, &mut ch);
            let decided = match decided {
                Some(Ok(handle)) => Some(handle.join().map_err(|_| ())),
                Some(Err(_)) => Some(Err(())),
                None => None,
            };
            (ch, decided)
        });
        let decided = decided.transpose().map_err(|()| stopped())?;
        ledger.correlations(ch, out);
        let Some(output) = decided else {
            return Ok(Finished::default());
        };
        let AnalyticsOutput {
            mut detections,
            incidents,
            notes,
            baseline,
        } = output;
        assign_analytic_ids(&mut detections);
        // A decision still under way is superseded by this one, over everything.
        let mut late = ledger.take_late();
        if let Some(d) = deciding {
            late.records.extend(d.late.records);
            late.overflow |= d.late.overflow;
        }
        ledger.analytics(detections, None, true, false, &late, out);
        Ok(Finished {
            incidents,
            notes,
            baseline: Some(baseline),
        })
    }

    /// Set the lateness frontier the scanners compare records against (after a restore).
    pub(crate) fn set_frontier(&self) {
        let frontier = self
            .watermark
            .map_or(i64::MIN, |w| w.saturating_sub(nanos(self.config.lateness)));
        self.frontier.store(frontier, Ordering::Relaxed);
    }
}
