//! Counters of the running service, rendered in the Prometheus text format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use stormwatch_core::Level;

/// Counts of one ingest source since start.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SourceCounts {
    pub(crate) accepted: u64,
    pub(crate) duplicates: u64,
    pub(crate) skipped: u64,
    pub(crate) bytes: u64,
    pub(crate) batches: u64,
    /// Newest record time seen (ns).
    pub(crate) newest_event: Option<i64>,
}

/// Counts of one sink since start.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SinkCounts {
    pub(crate) delivered: u64,
    pub(crate) failed: u64,
    pub(crate) dead: u64,
}

/// The service's live counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    sources: Mutex<BTreeMap<String, SourceCounts>>,
    responses: Mutex<BTreeMap<u16, u64>>,
    sinks: Mutex<BTreeMap<String, SinkCounts>>,
    /// Records made durable since start.
    pub(crate) committed_records: AtomicU64,
    /// Records the detector has taken since start.
    pub(crate) processed_records: AtomicU64,
    /// Records accepted before this start and not yet through the detector when it started.
    pub(crate) backlog_at_start: AtomicU64,
    /// The newest batch in the journal.
    pub(crate) journal_head: AtomicI64,
    /// The last batch the detector took.
    pub(crate) position: AtomicI64,
    /// The detector's watermark (ns; `i64::MIN` before any).
    pub(crate) watermark: AtomicI64,
    /// How long the last batch waited between being durable and the detector taking it (ms).
    pub(crate) ingest_lag_ms: AtomicU64,
    /// Alerts raised (new), by level.
    pub(crate) raised: [AtomicU64; 5],
    /// Alerts raised again with something new.
    pub(crate) updated: AtomicU64,
    /// Alerts withdrawn.
    pub(crate) withdrawn: AtomicU64,
    /// Checkpoints saved.
    pub(crate) checkpoints: AtomicU64,
    /// The last checkpoint's snapshot size (bytes).
    pub(crate) checkpoint_bytes: AtomicU64,
    /// The last checkpoint's duration, from begun to saved (ms).
    pub(crate) checkpoint_ms: AtomicU64,
    /// Requests refused because the pipeline was behind.
    pub(crate) throttled: AtomicU64,
    /// Watched files being followed.
    pub(crate) watched_files: AtomicU64,
}

pub(crate) fn level_index(l: Level) -> usize {
    match l {
        Level::Informational => 0,
        Level::Low => 1,
        Level::Medium => 2,
        Level::High => 3,
        Level::Critical => 4,
    }
}

const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the store adds to the rendering (read at scrape time).
#[derive(Debug, Default)]
pub(crate) struct StoreFigures {
    /// Live alerts by level and status.
    pub(crate) alerts: Vec<(Level, stormwatch_store::Status, u64)>,
    /// Per sink: waiting, dead letters.
    pub(crate) sinks: Vec<(String, u64, u64)>,
}

impl Metrics {
    pub(crate) fn count_source(&self, source: &str, f: impl FnOnce(&mut SourceCounts)) {
        let mut m = lock(&self.sources);
        if let Some(c) = m.get_mut(source) {
            f(c);
        } else if m.len() < 10_000 {
            f(m.entry(source.to_owned()).or_default());
        }
    }

    pub(crate) fn count_response(&self, status: u16) {
        *lock(&self.responses).entry(status).or_default() += 1;
    }

    /// Make a sink known (its figures are shown from the start, at 0).
    pub(crate) fn add_sink(&self, sink: &str) {
        lock(&self.sinks).entry(sink.to_owned()).or_default();
    }

    pub(crate) fn count_sink(&self, sink: &str, f: impl FnOnce(&mut SinkCounts)) {
        f(lock(&self.sinks).entry(sink.to_owned()).or_default());
    }

    /// Records accepted and not yet through the detector.
    pub(crate) fn pending_records(&self) -> u64 {
        (self.committed_records.load(Ordering::Relaxed)
            + self.backlog_at_start.load(Ordering::Relaxed))
        .saturating_sub(self.processed_records.load(Ordering::Relaxed))
    }

    /// The Prometheus text exposition.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn render(&self, now_ns: i64, store: &StoreFigures) -> String {
        let mut o = String::with_capacity(4096);
        let head = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        let sources = lock(&self.sources).clone();
        head(
            &mut o,
            "stormwatch_ingest_records_total",
            "counter",
            "Records received since start, by source and outcome (accepted: new and durable; duplicate: sent again and recognised; skipped: unreadable).",
        );
        for (s, c) in &sources {
            for (outcome, n) in [
                ("accepted", c.accepted),
                ("duplicate", c.duplicates),
                ("skipped", c.skipped),
            ] {
                let _ = writeln!(
                    o,
                    "stormwatch_ingest_records_total{{source=\"{}\",outcome=\"{outcome}\"}} {n}",
                    label(s)
                );
            }
        }
        head(
            &mut o,
            "stormwatch_ingest_bytes_total",
            "counter",
            "Bytes received since start, by source (as sent: compressed bodies count compressed).",
        );
        for (s, c) in &sources {
            let _ = writeln!(
                o,
                "stormwatch_ingest_bytes_total{{source=\"{}\"}} {}",
                label(s),
                c.bytes
            );
        }
        head(
            &mut o,
            "stormwatch_ingest_batches_total",
            "counter",
            "Bodies and file chunks made durable since start, by source.",
        );
        for (s, c) in &sources {
            let _ = writeln!(
                o,
                "stormwatch_ingest_batches_total{{source=\"{}\"}} {}",
                label(s),
                c.batches
            );
        }
        head(
            &mut o,
            "stormwatch_source_event_lag_seconds",
            "gauge",
            "Time between now and the newest record time seen from each source.",
        );
        for (s, c) in &sources {
            if let Some(t) = c.newest_event {
                let _ = writeln!(
                    o,
                    "stormwatch_source_event_lag_seconds{{source=\"{}\"}} {:.3}",
                    label(s),
                    (now_ns - t) as f64 / 1e9
                );
            }
        }
        head(
            &mut o,
            "stormwatch_http_responses_total",
            "counter",
            "HTTP responses of the ingest endpoint since start, by status code.",
        );
        for (code, n) in lock(&self.responses).iter() {
            let _ = writeln!(o, "stormwatch_http_responses_total{{code=\"{code}\"}} {n}");
        }
        head(
            &mut o,
            "stormwatch_ingest_throttled_total",
            "counter",
            "Ingest requests answered 429 because the pipeline was behind.",
        );
        let _ = writeln!(
            o,
            "stormwatch_ingest_throttled_total {}",
            self.throttled.load(Ordering::Relaxed)
        );
        head(
            &mut o,
            "stormwatch_pipeline_pending_records",
            "gauge",
            "Records durable but not yet through the detector (the queue depth).",
        );
        let _ = writeln!(
            o,
            "stormwatch_pipeline_pending_records {}",
            self.pending_records()
        );
        head(
            &mut o,
            "stormwatch_pipeline_pending_batches",
            "gauge",
            "Journal batches durable but not yet through the detector.",
        );
        let _ = writeln!(
            o,
            "stormwatch_pipeline_pending_batches {}",
            (self.journal_head.load(Ordering::Relaxed) - self.position.load(Ordering::Relaxed))
                .max(0)
        );
        head(
            &mut o,
            "stormwatch_pipeline_lag_seconds",
            "gauge",
            "How long the last batch waited between being durable and the detector taking it.",
        );
        let _ = writeln!(
            o,
            "stormwatch_pipeline_lag_seconds {:.3}",
            self.ingest_lag_ms.load(Ordering::Relaxed) as f64 / 1e3
        );
        let wm = self.watermark.load(Ordering::Relaxed);
        if wm != i64::MIN {
            head(
                &mut o,
                "stormwatch_watermark_lag_seconds",
                "gauge",
                "Time between now and the detector's watermark (event time).",
            );
            let _ = writeln!(
                o,
                "stormwatch_watermark_lag_seconds {:.3}",
                (now_ns - wm) as f64 / 1e9
            );
        }
        head(
            &mut o,
            "stormwatch_alerts_raised_total",
            "counter",
            "New alerts since start, by level.",
        );
        for (i, l) in LEVELS.iter().enumerate() {
            let _ = writeln!(
                o,
                "stormwatch_alerts_raised_total{{level=\"{l}\"}} {}",
                self.raised[i].load(Ordering::Relaxed)
            );
        }
        head(
            &mut o,
            "stormwatch_alerts_updated_total",
            "counter",
            "Alerts raised again with more records or another level since start.",
        );
        let _ = writeln!(
            o,
            "stormwatch_alerts_updated_total {}",
            self.updated.load(Ordering::Relaxed)
        );
        head(
            &mut o,
            "stormwatch_alerts_withdrawn_total",
            "counter",
            "Alerts withdrawn by later records since start.",
        );
        let _ = writeln!(
            o,
            "stormwatch_alerts_withdrawn_total {}",
            self.withdrawn.load(Ordering::Relaxed)
        );
        head(
            &mut o,
            "stormwatch_alerts",
            "gauge",
            "Live alerts in the store, by level and status.",
        );
        for (l, s, n) in &store.alerts {
            let _ = writeln!(o, "stormwatch_alerts{{level=\"{l}\",status=\"{s}\"}} {n}");
        }
        let sinks = lock(&self.sinks).clone();
        head(
            &mut o,
            "stormwatch_sink_deliveries_total",
            "counter",
            "Sink deliveries since start, by sink and outcome (failed: an attempt that will be retried; dead: given up, in the dead letters).",
        );
        for (s, c) in &sinks {
            for (outcome, n) in [
                ("delivered", c.delivered),
                ("failed", c.failed),
                ("dead", c.dead),
            ] {
                let _ = writeln!(
                    o,
                    "stormwatch_sink_deliveries_total{{sink=\"{}\",outcome=\"{outcome}\"}} {n}",
                    label(s)
                );
            }
        }
        head(
            &mut o,
            "stormwatch_sink_queue",
            "gauge",
            "Messages waiting for each sink.",
        );
        let depth = |name: &str| {
            store
                .sinks
                .iter()
                .find(|(s, _, _)| s == name)
                .map_or((0, 0), |(_, w, d)| (*w, *d))
        };
        for s in sinks.keys() {
            let _ = writeln!(
                o,
                "stormwatch_sink_queue{{sink=\"{}\"}} {}",
                label(s),
                depth(s).0
            );
        }
        head(
            &mut o,
            "stormwatch_sink_dead_letters",
            "gauge",
            "Messages each sink gave up on (replay them with `stormwatch serve dead-letters replay`).",
        );
        for s in sinks.keys() {
            let _ = writeln!(
                o,
                "stormwatch_sink_dead_letters{{sink=\"{}\"}} {}",
                label(s),
                depth(s).1
            );
        }
        head(
            &mut o,
            "stormwatch_checkpoints_total",
            "counter",
            "Detector checkpoints saved since start.",
        );
        let _ = writeln!(
            o,
            "stormwatch_checkpoints_total {}",
            self.checkpoints.load(Ordering::Relaxed)
        );
        head(
            &mut o,
            "stormwatch_checkpoint_bytes",
            "gauge",
            "Size of the last detector snapshot.",
        );
        let _ = writeln!(
            o,
            "stormwatch_checkpoint_bytes {}",
            self.checkpoint_bytes.load(Ordering::Relaxed)
        );
        head(
            &mut o,
            "stormwatch_checkpoint_seconds",
            "gauge",
            "Time the last checkpoint took, from begun to saved (the detector goes on meanwhile).",
        );
        let _ = writeln!(
            o,
            "stormwatch_checkpoint_seconds {:.3}",
            self.checkpoint_ms.load(Ordering::Relaxed) as f64 / 1e3
        );
        head(
            &mut o,
            "stormwatch_watched_files",
            "gauge",
            "Files in watched folders being followed.",
        );
        let _ = writeln!(
            o,
            "stormwatch_watched_files {}",
            self.watched_files.load(Ordering::Relaxed)
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format() {
        let m = Metrics::default();
        m.watermark.store(i64::MIN, Ordering::Relaxed);
        m.count_source("a\"b", |c| {
            c.accepted += 3;
            c.skipped += 1;
        });
        m.raised[level_index(Level::High)].fetch_add(2, Ordering::Relaxed);
        m.count_sink("hook", |c| c.failed += 1);
        let text = m.render(0, &StoreFigures::default());
        assert!(
            text.contains(
                "stormwatch_ingest_records_total{source=\"a\\\"b\",outcome=\"accepted\"} 3"
            )
        );
        assert!(text.contains("stormwatch_alerts_raised_total{level=\"high\"} 2"));
        assert!(
            text.contains("stormwatch_sink_deliveries_total{sink=\"hook\",outcome=\"failed\"} 1")
        );
        assert!(!text.contains("stormwatch_watermark_lag_seconds"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').expect("name value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
