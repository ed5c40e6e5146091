//! The detector's thread: it takes the journal's batches in order (handed over in memory
//! when it keeps up, read back from the journal when it does not or after a restart), moves
//! the watermark, stores what the detector decides with the sinks' outbox in one
//! transaction, and checkpoints the detector's state with the journal position it covers
//! (finished and saved on a thread of its own while it goes on: see [`crate::checkpoint`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use stormwatch_core::{Detection, DetectionSource, Event, Level, Location, Timestamp};
use stormwatch_detect::{Change, Scanned};
use stormwatch_store::{DetectorCheckpoint, Store, StoredAlert, Tx, Upserted};
use tokio::sync::oneshot;

use crate::ServeError;
use crate::checkpoint::{Checkpointer, Job, Saved};
use crate::detect::Live;
use crate::incidents::Incidents;
use crate::metrics::{Metrics, level_index};

/// How long the thread waits for work before looking at the clock and the journal.
const TICK: Duration = Duration::from_millis(100);
/// Changes are stored at least this often while batches keep coming.
const COMMIT_EVERY: Duration = Duration::from_millis(200);
/// Events scanned per task on the worker threads.
const SCAN_CHUNK: usize = 256;

/// What the detector's thread is asked to do.
pub(crate) enum Msg {
    /// A batch just made durable, with its new records.
    Batch {
        id: i64,
        /// When it was committed (ns).
        committed_at: i64,
        events: Vec<Event>,
        /// Its share of the in-memory budget.
        bytes: u64,
    },
    /// A batch just made durable, its new records scanned as they were read.
    Scanned {
        id: i64,
        /// When it was committed (ns).
        committed_at: i64,
        /// What the detector's scanner made of its records, in runs in order.
        runs: Vec<Scanned>,
        /// How many records.
        records: u64,
        /// Its share of the in-memory budget.
        bytes: u64,
    },
    /// Batches were made durable without being handed over: read them from the journal.
    Wake,
    /// Decide everything pending now.
    Flush(oneshot::Sender<Result<FlushReport, String>>),
    /// Take every accepted batch, checkpoint, and stop.
    Stop(oneshot::Sender<Result<(), String>>),
}

/// What a flush did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(crate) struct FlushReport {
    /// The last journal batch taken.
    pub(crate) position: i64,
    /// New alerts.
    pub(crate) raised: u64,
    /// Alerts raised again with something new.
    pub(crate) updated: u64,
    /// Alerts withdrawn.
    pub(crate) withdrawn: u64,
    /// Incidents as decided now.
    pub(crate) incidents: usize,
}

/// Where a sink wants alerts.
#[derive(Debug, Clone)]
pub(crate) struct SinkRoute {
    pub(crate) name: String,
    pub(crate) min_level: Level,
    pub(crate) withdrawals: bool,
}

/// Timing settings of the detector's thread.
#[derive(Debug, Clone)]
pub(crate) struct Timing {
    pub(crate) max_clock_skew: Duration,
    pub(crate) clock_advance_after: Option<Duration>,
    pub(crate) checkpoint_interval: Duration,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    raised: [u64; 5],
    updated: u64,
    withdrawn: u64,
    queued: u64,
    /// Time spent storing alerts (raised, revised, withdrawn), incidents, and tying alerts
    /// to the incidents that moved (for the commit's debug log).
    alerts_time: Duration,
    incidents_time: Duration,
    retie_time: Duration,
    /// Of `alerts_time`: reading back the evidence an analytic's alert showed, and queueing
    /// for the sinks.
    evidence_time: Duration,
    route_time: Duration,
}

/// The detector's thread.
pub(crate) struct Pipeline {
    store: Store,
    live: Live,
    metrics: Arc<Metrics>,
    in_flight: Arc<AtomicU64>,
    routes: Vec<SinkRoute>,
    sink_wake: crate::sinks::Wakers,
    fingerprint: String,
    timing: Timing,
    /// Reader threads for batches read back from the journal.
    threads: usize,
    /// The threads that scan batches read back from the journal: a pool of their own, so
    /// that they never wait behind the analytics' decisions (which use the global pool).
    /// `None` when it could not be built: they are then scanned on the detector's thread.
    scan_pool: Option<rayon::ThreadPool>,
    /// The last batch taken.
    position: i64,
    /// Newest record time seen (ns).
    max_event: Option<i64>,
    /// The watermark given to the detector (ns).
    watermark: Option<i64>,
    pending: Vec<Change>,
    incidents: Incidents,
    last_commit: Instant,
    last_checkpoint: Instant,
    /// The position of the last checkpoint saved.
    checkpointed: i64,
    /// Finishes and saves checkpoints begun here.
    checkpoints: Checkpointer,
    last_record: Instant,
    totals: Counts,
}

fn now_ns() -> i64 {
    crate::now().nanos()
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// What the pipeline is built from.
pub(crate) struct Parts {
    pub(crate) store: Store,
    /// The checkpoint thread's connection.
    pub(crate) checkpoint_store: Store,
    pub(crate) live: Live,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) in_flight: Arc<AtomicU64>,
    pub(crate) routes: Vec<SinkRoute>,
    pub(crate) sink_wake: crate::sinks::Wakers,
    pub(crate) fingerprint: String,
    pub(crate) timing: Timing,
    pub(crate) threads: usize,
}

impl Pipeline {
    /// Restore the detector from the last checkpoint when it was made with the same rules and
    /// settings; otherwise the journal is read again from its start.
    pub(crate) fn recover(p: Parts) -> Result<Pipeline, ServeError> {
        let Parts {
            store,
            checkpoint_store,
            mut live,
            metrics,
            in_flight,
            routes,
            sink_wake,
            fingerprint,
            timing,
            threads,
        } = p;
        let mut position = 0;
        let mut max_event = None;
        if let Some(cp) = store.read().checkpoint_state()? {
            match &cp.snapshot {
                Some(snap) if cp.fingerprint == fingerprint && live.restore(snap)? => {
                    position = cp.position;
                    max_event = cp.max_event.map(Timestamp::nanos);
                    tracing::info!(
                        message = "Detector restored from its checkpoint.",
                        position,
                        bytes = snap.len()
                    );
                }
                Some(_) if cp.fingerprint == fingerprint => {}
                Some(_) => tracing::warn!(
                    message = "The rules or settings changed since the last checkpoint: the journal is read again from its start."
                ),
                None => {}
            }
        }
        let head = store.read().journal_head()?;
        let backlog = store.read().records_after(position)?;
        metrics.journal_head.store(head, Ordering::Relaxed);
        metrics.position.store(position, Ordering::Relaxed);
        metrics.backlog_at_start.store(backlog, Ordering::Relaxed);
        metrics.watermark.store(i64::MIN, Ordering::Relaxed);
        if backlog > 0 {
            tracing::info!(
                message = "Reading accepted records not yet through the detector.",
                records = backlog,
                batches = head - position
            );
        }
        let watermark = live.watermark().map(Timestamp::nanos);
        let incidents = Incidents::from_stored(&store.read().current_incidents()?);
        Ok(Pipeline {
            store,
            live,
            metrics,
            in_flight,
            routes,
            sink_wake,
            fingerprint,
            timing,
            threads,
            scan_pool: rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("stormwatch-scan-{i}"))
                .build()
                .inspect_err(|e| {
                    tracing::warn!(
                        message = "Records read back from the journal are scanned on one thread.",
                        error = %e
                    );
                })
                .ok(),
            position,
            max_event,
            watermark,
            pending: Vec::new(),
            incidents,
            last_commit: Instant::now(),
            last_checkpoint: Instant::now(),
            checkpointed: position,
            checkpoints: Checkpointer::start(checkpoint_store)?,
            last_record: Instant::now(),
            totals: Counts::default(),
        })
    }

    /// Run until stopped. An error is fatal to the service (the detector failed).
    pub(crate) fn run(mut self, rx: &Receiver<Msg>) -> Result<(), ServeError> {
        let mut dirty = false;
        loop {
            let msg = if dirty {
                // Something waits to be stored: it is stored as soon as no batch is queued
                // (push-to-alert latency), and at least every COMMIT_EVERY while they come.
                match rx.try_recv() {
                    Ok(m) => Some(m),
                    Err(TryRecvError::Empty) => {
                        self.try_commit(false);
                        dirty = self.is_dirty();
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => return self.stop(),
                }
            } else {
                match rx.recv_timeout(TICK) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return self.stop(),
                }
            };
            match msg {
                Some(Msg::Batch {
                    id,
                    committed_at,
                    events,
                    bytes,
                }) => {
                    if self.arrived(id, bytes)? {
                        self.take(id, committed_at, events)?;
                    }
                }
                Some(Msg::Scanned {
                    id,
                    committed_at,
                    runs,
                    records,
                    bytes,
                }) => {
                    if self.arrived(id, bytes)? {
                        self.absorb(id, committed_at, records, runs)?;
                    }
                }
                Some(Msg::Wake) => {
                    let head = self.metrics.journal_head.load(Ordering::Relaxed);
                    self.catch_up(head)?;
                }
                Some(Msg::Flush(reply)) => {
                    let r = self.flush().map_err(|e| e.to_string());
                    if let Err(e) = &r {
                        tracing::error!(message = "Flush failed.", error = %e);
                    }
                    let _ = reply.send(r);
                }
                Some(Msg::Stop(reply)) => {
                    let r = self.stop();
                    let _ = reply.send(r.as_ref().map(|_| ()).map_err(ToString::to_string));
                    return r;
                }
                None => {
                    let head = self.metrics.journal_head.load(Ordering::Relaxed);
                    if head > self.position {
                        self.catch_up(head)?;
                    }
                    self.advance()?;
                    if self.position > self.checkpointed
                        && self.checkpoints.in_flight().is_none()
                        && !self.live.deciding()
                        && self.last_checkpoint.elapsed() >= self.timing.checkpoint_interval
                    {
                        self.begin_checkpoint();
                    }
                }
            }
            self.checkpoint_done(false);
            dirty = self.is_dirty();
            if dirty && self.last_commit.elapsed() >= COMMIT_EVERY {
                self.try_commit(false);
                dirty = self.is_dirty();
            }
        }
    }

    /// A scanner for the request threads: what it fills comes back with the batch.
    pub(crate) fn scanner(&self) -> stormwatch_detect::Scanner {
        self.live.scanner()
    }

    fn is_dirty(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Take every accepted batch, store what is pending, checkpoint.
    fn stop(mut self) -> Result<(), ServeError> {
        let head = self.store.read().journal_head()?;
        self.catch_up(head)?;
        self.checkpoint_done(true);
        self.live.settle(&mut self.pending)?;
        self.commit(true)?;
        tracing::info!(message = "Detector checkpointed.", position = self.position);
        Ok(())
    }

    /// Batch `id` (of `bytes` in memory) arrived: its bytes no longer count as in flight, and
    /// the batches before it that have not arrived are read back from the journal. Whether it
    /// is still to be taken (not taken from the journal already).
    fn arrived(&mut self, id: i64, bytes: u64) -> Result<bool, ServeError> {
        self.in_flight.fetch_sub(bytes, Ordering::Relaxed);
        if id <= self.position {
            return Ok(false);
        }
        if id > self.position + 1 {
            self.catch_up(id - 1)?;
        }
        Ok(true)
    }

    /// Take the journal's batches after the position, up to `upto`.
    fn catch_up(&mut self, upto: i64) -> Result<(), ServeError> {
        while self.position < upto {
            let Some(b) = self.store.read().batch_after(self.position)? else {
                break;
            };
            if b.id > upto {
                break;
            }
            let events = crate::journal::replay(&b, self.threads)?;
            self.take(b.id, b.received_at.nanos(), events)?;
            if self.last_commit.elapsed() >= COMMIT_EVERY {
                self.try_commit(false);
            }
        }
        Ok(())
    }

    /// Give one batch's records to the detector.
    fn take(&mut self, id: i64, committed_at: i64, events: Vec<Event>) -> Result<(), ServeError> {
        let n = events.len() as u64;
        let scanner = self.live.scanner();
        let scan = |chunk: &[Event]| {
            let mut s = Scanned::default();
            for e in chunk {
                scanner.scan(e, None, &mut s);
            }
            s
        };
        let scanned: Vec<Scanned> = match &self.scan_pool {
            Some(pool) if events.len() > SCAN_CHUNK => {
                pool.install(|| events.par_chunks(SCAN_CHUNK).map(scan).collect())
            }
            _ => events.chunks(SCAN_CHUNK).map(scan).collect(),
        };
        drop(events);
        self.absorb(id, committed_at, n, scanned)
    }

    /// Give the detector what was scanned of one batch's `n` records.
    fn absorb(
        &mut self,
        id: i64,
        committed_at: i64,
        n: u64,
        scanned: Vec<Scanned>,
    ) -> Result<(), ServeError> {
        for s in scanned {
            if let Some(t) = s.newest() {
                let t = t.nanos();
                self.max_event = Some(self.max_event.map_or(t, |m| m.max(t)));
            }
            self.live.absorb(s, &mut self.pending)?;
        }
        self.position = id;
        self.last_record = Instant::now();
        let m = &self.metrics;
        m.processed_records.fetch_add(n, Ordering::Relaxed);
        m.position.store(id, Ordering::Relaxed);
        m.ingest_lag_ms.store(
            u64::try_from((now_ns() - committed_at).max(0) / 1_000_000).unwrap_or(0),
            Ordering::Relaxed,
        );
        self.advance()
    }

    /// Move the watermark: the newest record time, never beyond the server's clock plus the
    /// allowed skew (record times are the logs' word: one record dated years ahead must not
    /// make every other record late); with no record for a while, the clock itself.
    fn advance(&mut self) -> Result<(), ServeError> {
        let now = now_ns();
        let cap = now.saturating_add(nanos(self.timing.max_clock_skew));
        let mut w = self.max_event.map(|m| m.min(cap));
        if let Some(idle) = self.timing.clock_advance_after
            && self.last_record.elapsed() >= idle
        {
            w = Some(w.map_or(now, |w| w.max(now)));
        }
        if let Some(w) = w {
            // Also with the watermark where it was: records that came late since are then
            // settled and decided on.
            let w = self.watermark.map_or(w, |old| old.max(w));
            let started = Instant::now();
            let before = self.pending.len();
            self.live
                .advance(Timestamp::from_nanos(w), &mut self.pending)?;
            let ms = crate::journal::millis_since(started);
            if ms >= 50 {
                tracing::debug!(
                    message = "Detector advance.",
                    changes = self.pending.len().saturating_sub(before),
                    ms
                );
            }
            self.watermark = Some(w);
            self.metrics.watermark.store(w, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Decide everything pending now; store it all and checkpoint.
    fn flush(&mut self) -> Result<FlushReport, ServeError> {
        let head = self.store.read().journal_head()?;
        self.catch_up(head)?;
        let before = self.totals;
        let mut out = Vec::new();
        self.live.flush(&mut out)?;
        self.pending.extend(out);
        self.checkpoint_done(true);
        self.commit(true)?;
        let t = self.totals;
        Ok(FlushReport {
            position: self.position,
            raised: t.raised.iter().sum::<u64>() - before.raised.iter().sum::<u64>(),
            updated: t.updated - before.updated,
            withdrawn: t.withdrawn - before.withdrawn,
            incidents: self.incidents.len(),
        })
    }

    /// Store what is pending, then begin a checkpoint at the position and hand it to the
    /// checkpoint thread, which finishes and saves it while batches go on being taken. The
    /// alerts decided up to the position are stored first: the snapshot counts them as
    /// raised, so it is begun only once they are.
    fn begin_checkpoint(&mut self) {
        self.last_checkpoint = Instant::now();
        if let Err(e) = self.commit(false) {
            tracing::error!(message = "Alerts could not be stored; retrying.", error = %e);
            return;
        }
        let begun = Instant::now();
        let r = self
            .live
            .begin_snapshot()
            .map_err(ServeError::from)
            .and_then(|snapshot| {
                self.checkpoints.send(Job {
                    snapshot,
                    position: self.position,
                    max_event: self.max_event,
                    fingerprint: self.fingerprint.clone(),
                    begun,
                })
            });
        match r {
            Ok(()) => tracing::debug!(
                message = "Detector checkpoint begun.",
                position = self.position,
                ms = crate::journal::millis_since(begun)
            ),
            Err(e) => tracing::error!(message = "The detector's checkpoint failed.", error = %e),
        }
    }

    /// Take the result of the checkpoint in flight when it is done (`wait`: wait for it).
    fn checkpoint_done(&mut self, wait: bool) {
        match self.checkpoints.poll(wait) {
            None => {}
            Some(Ok(saved)) => self.saved(saved),
            Some(Err(e)) => {
                tracing::error!(message = "The detector's checkpoint failed.", error = %e);
            }
        }
    }

    /// A checkpoint was saved.
    fn saved(&mut self, s: Saved) {
        self.checkpointed = s.position;
        let m = &self.metrics;
        m.checkpoints.fetch_add(1, Ordering::Relaxed);
        m.checkpoint_bytes.store(s.bytes, Ordering::Relaxed);
        m.checkpoint_ms.store(s.ms, Ordering::Relaxed);
    }

    /// [`Pipeline::commit`], logging a failure (what was pending stays pending).
    fn try_commit(&mut self, checkpoint: bool) {
        if let Err(e) = self.commit(checkpoint) {
            tracing::error!(message = "Alerts could not be stored; retrying.", error = %e);
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Store the pending changes (alerts, the sinks' outbox, incidents) in one transaction,
    /// with the checkpoint when asked.
    fn commit(&mut self, checkpoint: bool) -> Result<(), ServeError> {
        let started = Instant::now();
        let checkpoint = if checkpoint {
            Some(DetectorCheckpoint {
                position: self.position,
                max_event: self.max_event.map(Timestamp::from_nanos),
                fingerprint: self.fingerprint.clone(),
                saved_at: Timestamp::EPOCH,
                snapshot: Some(self.live.snapshot()?),
            })
        } else {
            None
        };
        let incidents = &mut self.incidents;
        let changes = std::mem::take(&mut self.pending);
        let changes_n = changes.len();
        let routes = &self.routes;
        let cap = self.live.evidence_cap().unwrap_or(usize::MAX);
        let result = self.store.write(|tx| {
            let mut counts = Counts::default();
            for c in &changes {
                let t = Instant::now();
                apply(tx, c, cap, routes, incidents, &mut counts)?;
                if matches!(c, Change::Incident(_) | Change::IncidentGone { .. }) {
                    counts.incidents_time += t.elapsed();
                } else {
                    counts.alerts_time += t.elapsed();
                }
            }
            let t = Instant::now();
            incidents.retie(tx)?;
            counts.retie_time = t.elapsed();
            if let Some(cp) = &checkpoint {
                tx.save_checkpoint(cp)?;
            }
            Ok(counts)
        });
        let part = |f: fn(&Counts) -> Duration| {
            result
                .as_ref()
                .map_or(0, |c| u64::try_from(f(c).as_millis()).unwrap_or(u64::MAX))
        };
        tracing::debug!(
            message = "Detector commit.",
            changes = changes_n,
            checkpoint = checkpoint.is_some(),
            ms = crate::journal::millis_since(started),
            alerts_ms = part(|c| c.alerts_time),
            incidents_ms = part(|c| c.incidents_time),
            retie_ms = part(|c| c.retie_time),
            evidence_ms = part(|c| c.evidence_time),
            route_ms = part(|c| c.route_time)
        );
        match result {
            Ok(counts) => {
                self.last_commit = Instant::now();
                let m = &self.metrics;
                for (i, n) in counts.raised.iter().enumerate() {
                    m.raised[i].fetch_add(*n, Ordering::Relaxed);
                    self.totals.raised[i] += n;
                }
                m.updated.fetch_add(counts.updated, Ordering::Relaxed);
                m.withdrawn.fetch_add(counts.withdrawn, Ordering::Relaxed);
                self.totals.updated += counts.updated;
                self.totals.withdrawn += counts.withdrawn;
                if counts.queued > 0 {
                    self.sink_wake.wake_all();
                }
                if let Some(cp) = checkpoint {
                    self.last_checkpoint = Instant::now();
                    self.saved(Saved {
                        position: cp.position,
                        bytes: cp.snapshot.as_ref().map_or(0, |s| s.len() as u64),
                        ms: crate::journal::millis_since(started),
                    });
                }
                Ok(())
            }
            Err(e) => {
                let mut back = changes;
                back.append(&mut self.pending);
                self.pending = back;
                Err(e.into())
            }
        }
    }
}

/// Store one change and queue it for the sinks that want it.
fn apply(
    tx: &Tx<'_>,
    c: &Change,
    cap: usize,
    routes: &[SinkRoute],
    incidents: &mut Incidents,
    counts: &mut Counts,
) -> Result<(), stormwatch_store::StoreError> {
    match c {
        Change::Raise(a) => {
            let t = Instant::now();
            let kept = kept_evidence(tx, &a.detection, cap)?;
            counts.evidence_time += t.elapsed();
            let d = kept.as_ref().unwrap_or(&a.detection);
            let event = match tx.upsert_alert(d, a.late, a.settled)? {
                Upserted::New => {
                    counts.raised[level_index(d.level)] += 1;
                    if d.incident_id.is_none()
                        && let Some(i) = incidents.find(d)
                    {
                        tx.set_alert_incident(&d.id, Some(i))?;
                    }
                    "alert.raised"
                }
                Upserted::Changed => {
                    counts.updated += 1;
                    "alert.updated"
                }
                Upserted::Unchanged => return Ok(()),
            };
            let t = Instant::now();
            let r = route(
                tx,
                || tx.alert_with(d.clone()),
                d.level,
                event,
                routes,
                counts,
            );
            counts.route_time += t.elapsed();
            r
        }
        Change::Incident(u) => incidents.update(tx, u),
        Change::IncidentGone { id } => incidents.gone(tx, id),
        Change::Withdraw(w) => {
            if !tx.withdraw_alert(&w.id, &w.reason)? {
                return Ok(());
            }
            counts.withdrawn += 1;
            let Some(stored) = tx.alert(&w.id)? else {
                return Ok(());
            };
            let level = stored.detection.level;
            route(
                tx,
                || Ok(Some(stored)),
                level,
                "alert.withdrawn",
                routes,
                counts,
            )
        }
    }
}

/// An analytic's detection raised again keeps the records its alert already showed: the
/// detector ages records older than its horizon out of its state (folded into baselines),
/// so a detection spanning more than the horizon is told again without its first records.
/// Evidence once shown stays, up to `cap` records (the analytics' `max_events_per_detection`),
/// the earliest first: `hunt`, which keeps everything, shows the same records. The detection
/// with the kept records added, or `None` when nothing needs adding.
fn kept_evidence(
    tx: &Tx<'_>,
    d: &Detection,
    cap: usize,
) -> Result<Option<Detection>, stormwatch_store::StoreError> {
    if d.source != DetectionSource::Builtin {
        return Ok(None);
    }
    let Some(stored) = tx.alert(&d.id)? else {
        return Ok(None);
    };
    if stored.withdrawn {
        return Ok(None);
    }
    let now: HashSet<&Location> = d.events.iter().collect();
    let kept: Vec<Location> = stored
        .detection
        .events
        .into_iter()
        .filter(|l| !now.contains(l))
        .collect();
    if kept.is_empty() {
        return Ok(None);
    }
    let mut merged = d.clone();
    merged.events = kept;
    let room = cap.saturating_sub(merged.events.len());
    merged.events.extend(d.events.iter().take(room).cloned());
    merged.events.truncate(cap);
    merged.timestamp = merged.timestamp.min(stored.detection.timestamp);
    Ok(Some(merged))
}

fn route(
    tx: &Tx<'_>,
    stored: impl FnOnce() -> Result<Option<StoredAlert>, stormwatch_store::StoreError>,
    level: Level,
    event: &str,
    routes: &[SinkRoute],
    counts: &mut Counts,
) -> Result<(), stormwatch_store::StoreError> {
    let wanted: Vec<&SinkRoute> = routes
        .iter()
        .filter(|r| level >= r.min_level && (event != "alert.withdrawn" || r.withdrawals))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let Some(stored) = stored()? else {
        return Ok(());
    };
    let payload = crate::render::message(event, &stored);
    for r in wanted {
        tx.enqueue(&r.name, &stored.detection.id, event, &payload)?;
        counts.queued += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn loc(line: u64) -> Location {
        Location {
            file: Arc::from("journal"),
            line,
            record_id: None,
        }
    }

    fn analytic(lines: &[u64], at: i64) -> Detection {
        let mut d = Detection::new(
            "builtin/mail-breadth",
            "Breadth",
            Level::Medium,
            DetectionSource::Builtin,
            Timestamp::from_nanos(at),
        );
        d.id = "alert-1".to_owned();
        d.events = lines.iter().copied().map(loc).collect();
        d
    }

    /// Told again after its first records aged out, an analytic's alert keeps the records it
    /// showed, the earliest first, up to the analytics' cap; told with all it showed, it
    /// needs nothing added.
    #[test]
    fn evidence_once_shown_stays_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store
            .write(|tx| tx.upsert_alert(&analytic(&[1, 2, 3, 4], 10), false, false))
            .unwrap();
        let lines = |d: &Detection| d.events.iter().map(|l| l.line).collect::<Vec<_>>();
        let merged = store
            .write(|tx| kept_evidence(tx, &analytic(&[3, 4, 5, 6], 30), 5))
            .unwrap()
            .unwrap();
        assert_eq!(lines(&merged), [1, 2, 3, 4, 5]);
        assert_eq!(merged.timestamp, Timestamp::from_nanos(10));
        let unbounded = store
            .write(|tx| kept_evidence(tx, &analytic(&[3, 4, 5, 6], 30), usize::MAX))
            .unwrap()
            .unwrap();
        assert_eq!(lines(&unbounded), [1, 2, 3, 4, 5, 6]);
        let full = store
            .write(|tx| kept_evidence(tx, &analytic(&[1, 2, 3, 4, 5], 10), 5))
            .unwrap();
        assert_eq!(full, None);
    }
}
