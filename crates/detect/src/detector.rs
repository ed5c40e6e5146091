//! The detector: push records, advance the watermark, take the decisions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use stormwatch_analytics::{Analytics, AnalyticsOutput, BaselineSnapshot, Incident};
use stormwatch_core::{Detection, Event, Timestamp, record_identity};
use stormwatch_sigma::{CorrelationChanges, Correlator, Engine};

use crate::DetectError;
use crate::change::{Alert, Change, Withdrawal};
use crate::config::{DetectorConfig, nanos};
use crate::folder::Folder;
use crate::ids::{Digest, assign_analytic_ids, digest};
use crate::scan::{MAX_LATE_RECORDS, Scanned, Scanner};

/// A detection raised that may still change or be withdrawn.
#[derive(Debug, Clone)]
pub(crate) struct Open {
    pub(crate) digest: Digest,
    pub(crate) rule_id: String,
    /// Raised by the analytics (else by a correlation).
    pub(crate) analytic: bool,
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

/// The streaming detector: one compiled Sigma engine, its correlations and the built-in
/// analytics, deciding as records arrive.
///
/// - [`Detector::push`] (or [`Detector::scanner`] on worker threads, then
///   [`Detector::absorb`] in input order) takes records in any order; a single-record Sigma
///   match is raised at once.
/// - [`Detector::advance`] moves the watermark (event time): correlations whose windows the
///   records at hand fill are raised, and settled once the lateness bound has passed them;
///   the analytics decide on each hour once the sign-in grace has passed it.
/// - [`Detector::finish`] decides everything at the end of a finite input (`hunt`).
///
/// Every detection carries a deterministic id ([`stormwatch_core::detection_id`]): the same
/// records give the same ids whatever their order (within the lateness bound) or the run.
#[derive(Debug)]
pub struct Detector {
    engine: Engine,
    correlator: Correlator,
    /// The analytics, folding on their own thread.
    analytics: Option<Folder>,
    scanner: Scanner,
    config: DetectorConfig,
    /// Newest watermark given (ns).
    watermark: Option<i64>,
    /// Watermark minus lateness (ns), shared with the scanners.
    frontier: Arc<AtomicI64>,
    /// Raised detections that may still change, by id.
    open: HashMap<String, Open>,
    /// Identities of records that arrived late since the analytics last decided.
    late_records: HashSet<String>,
    /// More late records than [`MAX_LATE_RECORDS`] arrived since then.
    late_overflow: bool,
    scratch: Scanned,
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
            open: HashMap::new(),
            late_records: HashSet::new(),
            late_overflow: false,
            scratch: Scanned::default(),
        })
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
        for id in s.late_records.drain(..) {
            if self.late_records.len() < MAX_LATE_RECORDS {
                self.late_records.insert(id);
            } else {
                self.late_overflow = true;
            }
        }
        s.events = 0;
        s.newest = None;
        Ok(())
    }

    /// Move the watermark to `watermark` (it never moves back): records up to the lateness
    /// bound behind it are settled, and the correlations decide on them.
    pub fn advance(&mut self, watermark: Timestamp, out: &mut Vec<Change>) {
        let w = watermark.nanos();
        if self.watermark.is_some_and(|old| old >= w) {
            return;
        }
        self.watermark = Some(w);
        let frontier = w.saturating_sub(nanos(self.config.lateness));
        self.frontier.store(frontier, Ordering::Relaxed);
        let mut ch = CorrelationChanges::default();
        self.correlator.advance(
            Timestamp::from_nanos(frontier),
            self.config.speculate,
            &mut ch,
        );
        self.apply_correlations(ch, out);
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
            open,
            late_records,
            late_overflow,
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
        let decided = decided
            .transpose()
            .map_err(|()| DetectError::AnalyticsThread {
                reason: "the built-in analytics stopped on an internal error".to_owned(),
            })?;
        let mut rest = Closing {
            open,
            late_records,
            late_overflow,
        };
        rest.apply_correlations(ch, out);
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
        rest.apply_analytics(detections, None, out);
        Ok(Finished {
            incidents,
            notes,
            baseline: Some(baseline),
        })
    }

    fn apply_correlations(&mut self, ch: CorrelationChanges, out: &mut Vec<Change>) {
        let mut c = Closing {
            open: std::mem::take(&mut self.open),
            late_records: std::mem::take(&mut self.late_records),
            late_overflow: self.late_overflow,
        };
        c.apply_correlations(ch, out);
        self.open = c.open;
        self.late_records = c.late_records;
    }
}

/// The bookkeeping of raised detections, apart from the engines (so that it can be used
/// while they are moved to other threads).
struct Closing {
    open: HashMap<String, Open>,
    late_records: HashSet<String>,
    late_overflow: bool,
}

impl Closing {
    fn is_late(&self, d: &Detection) -> bool {
        self.late_overflow
            || (!self.late_records.is_empty()
                && d.events
                    .iter()
                    .any(|l| self.late_records.contains(&record_identity(l))))
    }

    /// Raise what is new or changed, withdraw what no longer holds.
    fn apply_correlations(&mut self, ch: CorrelationChanges, out: &mut Vec<Change>) {
        for id in ch.withdrawn {
            if let Some(o) = self.open.remove(&id) {
                out.push(Change::Withdraw(Withdrawal {
                    id,
                    rule_id: o.rule_id,
                    reason: "a record that arrived out of order changed the correlation's window"
                        .to_owned(),
                }));
            }
        }
        for r in ch.raised {
            let dg = digest(&r.detection);
            let unchanged = self
                .open
                .get(&r.detection.id)
                .is_some_and(|o| o.digest == dg);
            if r.settled {
                self.open.remove(&r.detection.id);
            } else {
                self.open.insert(
                    r.detection.id.clone(),
                    Open {
                        digest: dg,
                        rule_id: r.detection.rule_id.clone(),
                        analytic: false,
                    },
                );
            }
            if !unchanged {
                out.push(Change::Raise(Alert {
                    detection: r.detection,
                    late: r.late,
                    settled: r.settled,
                }));
            }
        }
    }

    /// The analytics' detections as decided now (`cutoff`: only those whose time is at or
    /// before it; `None`: all): raise the new and changed ones, withdraw those raised before
    /// that no longer hold.
    fn apply_analytics(
        &mut self,
        detections: Vec<Detection>,
        cutoff: Option<i64>,
        out: &mut Vec<Change>,
    ) {
        let mut now: HashSet<String> = HashSet::new();
        let mut raised = Vec::new();
        for d in detections {
            if cutoff.is_some_and(|c| d.timestamp.nanos() > c) {
                continue;
            }
            now.insert(d.id.clone());
            let dg = digest(&d);
            if self.open.get(&d.id).is_some_and(|o| o.digest == dg) {
                continue;
            }
            self.open.insert(
                d.id.clone(),
                Open {
                    digest: dg,
                    rule_id: d.rule_id.clone(),
                    analytic: true,
                },
            );
            let late = self.is_late(&d);
            raised.push(Change::Raise(Alert {
                detection: d,
                late,
                settled: cutoff.is_none(),
            }));
        }
        let mut gone: Vec<(String, String)> = self
            .open
            .iter()
            .filter(|(id, o)| o.analytic && !now.contains(*id))
            .map(|(id, o)| (id.clone(), o.rule_id.clone()))
            .collect();
        gone.sort();
        for (id, rule_id) in gone {
            self.open.remove(&id);
            out.push(Change::Withdraw(Withdrawal {
                id,
                rule_id,
                reason: "records that arrived later (a sign-in, an earlier record of the context) changed the analytics' decision".to_owned(),
            }));
        }
        out.extend(raised);
        self.late_records.clear();
        self.late_overflow = false;
    }
}
