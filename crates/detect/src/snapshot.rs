//! Saving and restoring the whole detector: the correlator's windows, the analytics' state,
//! the raised detections that may still change, the watermark and what was decided.
//!
//! Layout: `SWDT`, the format version (u32, little-endian), then a zstd frame (with its
//! content checksum) holding the postcard encoding of [`Snap`] followed, when it says so, by
//! the analytics' own snapshot up to the end of the frame. The correlator's and the
//! analytics' parts are their own versioned snapshots. The analytics' part (the largest by
//! far) is written straight into the compressor on the analytics' own thread and never
//! copied whole; the caller's thread copies only the small parts
//! ([`Detector::begin_snapshot`]), so a service goes on detecting meanwhile.

use std::io::{BufWriter, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;

use serde::{Deserialize, Serialize};
use stormwatch_analytics::Analytics;

use crate::DetectError;
use crate::detector::Detector;
use crate::ledger::Ledger;

/// Format version of [`Detector::snapshot`].
pub const DETECTOR_SNAPSHOT_VERSION: u32 = 3;

const MAGIC: &[u8; 4] = b"SWDT";
/// Largest decompressed snapshot read back (a snapshot is read from disk: untrusted).
const MAX_SNAPSHOT_BYTES: usize = 16 << 30;
/// What the analytics' part is gathered into before it goes to the compressor.
const WRITE_BUFFER: usize = 1 << 16;

#[derive(Serialize, Deserialize)]
struct Snap {
    watermark: Option<i64>,
    decided_to: Option<i64>,
    evicted_before: Option<i64>,
    /// Records older than `evicted_before` came since the last eviction (version 3).
    stale: bool,
    /// Records behind the frontier came since the last advance (version 3).
    behind: bool,
    ledger: Ledger,
    correlator: Vec<u8>,
    /// The analytics' snapshot follows this header in the frame.
    analytics: bool,
}

/// [`Snap`] as version 2 wrote it (read back after an upgrade).
#[derive(Deserialize)]
struct SnapV2 {
    watermark: Option<i64>,
    decided_to: Option<i64>,
    evicted_before: Option<i64>,
    ledger: Ledger,
    correlator: Vec<u8>,
    analytics: bool,
}

impl From<SnapV2> for Snap {
    fn from(s: SnapV2) -> Snap {
        Snap {
            watermark: s.watermark,
            decided_to: s.decided_to,
            evicted_before: s.evicted_before,
            stale: false,
            behind: false,
            ledger: s.ledger,
            correlator: s.correlator,
            analytics: s.analytics,
        }
    }
}

/// [`Snap`] as written: borrowing what it holds (the same encoding).
#[derive(Serialize)]
struct SnapOut<'a> {
    watermark: Option<i64>,
    decided_to: Option<i64>,
    evicted_before: Option<i64>,
    stale: bool,
    behind: bool,
    ledger: &'a Ledger,
    correlator: &'a Vec<u8>,
    analytics: bool,
}

/// What [`Detector::restore`] kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Correlations whose state was restored.
    pub correlations_restored: usize,
    /// Correlations in the snapshot that are no longer loaded, or whose definition changed:
    /// their windows start empty.
    pub correlations_dropped: usize,
    /// The analytics' state was restored (false: the snapshot had none, or this detector
    /// runs without analytics).
    pub analytics_restored: bool,
}

fn bad(reason: impl Into<String>) -> DetectError {
    DetectError::Snapshot {
        reason: reason.into(),
    }
}

/// A snapshot begun by [`Detector::begin_snapshot`]: the state as it was then, finished
/// on any thread by [`PendingSnapshot::finish`] while the detector goes on.
#[derive(Debug)]
#[must_use = "a snapshot is only had by finishing it"]
pub struct PendingSnapshot {
    inner: Pending,
}

#[derive(Debug)]
enum Pending {
    Done(Result<Vec<u8>, DetectError>),
    /// The analytics' thread writes the frame and sends it here.
    Writing(Receiver<Result<Vec<u8>, DetectError>>),
}

impl PendingSnapshot {
    /// Wait for the analytics' part and give the snapshot: the bytes
    /// [`Detector::snapshot`] would have given at the point it was begun.
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error;
    /// [`DetectError::Analytics`] when their state cannot be encoded.
    pub fn finish(self) -> Result<Vec<u8>, DetectError> {
        match self.inner {
            Pending::Done(r) => r,
            Pending::Writing(rx) => rx.recv().map_err(|_| DetectError::AnalyticsThread {
                reason: "the built-in analytics stopped while writing a snapshot".to_owned(),
            })?,
        }
    }
}

/// The frame: the header, then `head` (the postcard [`Snap`]) and the analytics' part
/// compressed as they are written.
fn frame(
    head: &[u8],
    analytics: Option<&Analytics>,
    room: &AtomicUsize,
) -> Result<Vec<u8>, DetectError> {
    // The last one's size and a little more: snapshots grow slowly.
    let last = room.load(Ordering::Relaxed);
    let mut out = Vec::with_capacity((head.len() / 4).max(last + last / 16) + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&DETECTOR_SNAPSHOT_VERSION.to_le_bytes());
    let mut enc = zstd::stream::Encoder::new(out, 1).map_err(|e| bad(e.to_string()))?;
    enc.include_checksum(true).map_err(|e| bad(e.to_string()))?;
    enc.write_all(head).map_err(|e| bad(e.to_string()))?;
    let enc = match analytics {
        Some(a) => a
            .snapshot_to(BufWriter::with_capacity(WRITE_BUFFER, enc))?
            .into_inner()
            .map_err(|e| bad(e.to_string()))?,
        None => enc,
    };
    let out = enc.finish().map_err(|e| bad(e.to_string()))?;
    room.store(out.len(), Ordering::Relaxed);
    Ok(out)
}

impl Detector {
    /// The whole state as bytes to keep: restored into a detector built with the same rules
    /// and settings, it goes on exactly as this one would.
    /// [`Detector::begin_snapshot`] then [`PendingSnapshot::finish`].
    ///
    /// # Errors
    /// [`DetectError::Deciding`] while a decision is under way;
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error; the
    /// other errors do not happen on in-memory state.
    pub fn snapshot(&self) -> Result<Vec<u8>, DetectError> {
        self.begin_snapshot()?.finish()
    }

    /// Begin a snapshot of the state as it is now, without waiting for the analytics' part:
    /// the correlations, the raised detections and the watermark are copied here (small);
    /// the analytics write theirs on their own thread, in order with the records given
    /// before, straight into the compressor. Until they are done the detector goes on: the
    /// batches it gives them are held (up to a bound) rather than waited for, and the
    /// analytics' decisions wait for the next [`Detector::advance`] after it.
    ///
    /// # Errors
    /// [`DetectError::Deciding`] while a decision is under way;
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error; the
    /// other errors do not happen on in-memory state.
    pub fn begin_snapshot(&self) -> Result<PendingSnapshot, DetectError> {
        // The analytics' state would be that after the decision, the raised detections
        // those before it.
        if self.deciding() {
            return Err(DetectError::Deciding);
        }
        let correlator = self.correlator.snapshot()?;
        let head = postcard::to_allocvec(&SnapOut {
            watermark: self.watermark,
            decided_to: self.decided_to,
            evicted_before: self.evicted_before,
            stale: self.stale,
            behind: self.behind,
            ledger: &self.ledger,
            correlator: &correlator,
            analytics: self.analytics.is_some(),
        })
        .map_err(|e| bad(e.to_string()))?;
        drop(correlator);
        let room = Arc::clone(&self.snapshot_len);
        let inner = match &self.analytics {
            Some(f) => Pending::Writing(f.call_later(move |a| frame(&head, Some(a), &room))?),
            None => Pending::Done(frame(&head, None, &room)),
        };
        Ok(PendingSnapshot { inner })
    }

    /// Replace the state with one saved by [`Detector::snapshot`]. Restore into a detector
    /// built with the same rules and settings; rules that changed since keep the state of
    /// the correlations that did not (see [`RestoreReport`]).
    ///
    /// # Errors
    /// [`DetectError::Snapshot`] for bytes that are not a detector snapshot, are corrupt or
    /// truncated, or come from another format version; [`DetectError::Sigma`] or
    /// [`DetectError::Analytics`] when their part cannot be read back. The detector is then
    /// in an unspecified state: build a fresh one.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<RestoreReport, DetectError> {
        let (magic, rest) = bytes.split_at_checked(4).ok_or_else(|| bad("too short"))?;
        if magic != MAGIC {
            return Err(bad("not a detector snapshot"));
        }
        let (version, body) = rest.split_at_checked(4).ok_or_else(|| bad("too short"))?;
        let version = u32::from_le_bytes(version.try_into().map_err(|_| bad("too short"))?);
        if version != DETECTOR_SNAPSHOT_VERSION && version != 2 {
            return Err(bad(format!(
                "format version {version}, this build reads 2 and {DETECTOR_SNAPSHOT_VERSION}"
            )));
        }
        let mut body_bytes = Vec::new();
        let dec = zstd::stream::Decoder::new(body).map_err(|e| bad(e.to_string()))?;
        std::io::Read::read_to_end(
            &mut std::io::Read::take(dec, MAX_SNAPSHOT_BYTES as u64 + 1),
            &mut body_bytes,
        )
        .map_err(|e| bad(format!("corrupt: {e}")))?;
        if body_bytes.len() > MAX_SNAPSHOT_BYTES {
            return Err(bad("larger than any snapshot this build writes"));
        }
        let (snap, rest) = if version == 2 {
            postcard::take_from_bytes::<SnapV2>(&body_bytes).map(|(s, r)| (Snap::from(s), r))
        } else {
            postcard::take_from_bytes::<Snap>(&body_bytes)
        }
        .map_err(|e| bad(e.to_string()))?;
        let head = body_bytes.len() - rest.len();
        let corr = self.correlator.restore(&snap.correlator)?;
        let analytics_restored = match (&self.analytics, snap.analytics) {
            (Some(f), true) => {
                // The rest of the frame is the analytics' snapshot: moved to the front in
                // place, not copied.
                body_bytes.drain(..head);
                f.call(move |an| an.restore(&body_bytes))??;
                true
            }
            (_, false) if !rest.is_empty() => {
                return Err(bad(format!("{} bytes after its end", rest.len())));
            }
            _ => false,
        };
        self.watermark = snap.watermark;
        self.decided_to = snap.decided_to;
        self.evicted_before = snap.evicted_before;
        self.stale = snap.stale;
        self.behind = snap.behind;
        self.ledger = snap.ledger;
        self.set_frontier();
        Ok(RestoreReport {
            correlations_restored: corr.restored,
            correlations_dropped: corr.dropped,
            analytics_restored,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::DetectorConfig;

    /// A version-2 snapshot (written before `stale` and `behind` were kept) still restores:
    /// an upgrade does not throw the detector's state away.
    #[test]
    fn a_version_2_snapshot_restores() {
        #[derive(Serialize)]
        struct V2<'a> {
            watermark: Option<i64>,
            decided_to: Option<i64>,
            evicted_before: Option<i64>,
            ledger: &'a Ledger,
            correlator: &'a Vec<u8>,
            analytics: bool,
        }
        let rules = [(
            "read.yml".into(),
            "title: Mail read\nid: 4f1c2a6e-0000-4000-8000-0000000000aa\nlogsource: {product: m365, service: exchange}\ndetection:\n    sel:\n        Operation: MailItemsAccessed\n    condition: sel\nlevel: low\n".into(),
        )];
        let (engine, errors) = stormwatch_sigma::Engine::from_sources(
            &rules,
            &stormwatch_sigma::EngineOptions::default(),
        )
        .unwrap();
        assert!(errors.is_empty());
        let d = Detector::new(engine.clone(), None, DetectorConfig::default()).unwrap();
        let correlator = d.correlator.snapshot().unwrap();
        let head = postcard::to_allocvec(&V2 {
            watermark: Some(7_000),
            decided_to: Some(5_000),
            evicted_before: Some(1_000),
            ledger: &Ledger::default(),
            correlator: &correlator,
            analytics: false,
        })
        .unwrap();
        let mut bytes = frame(&head, None, &AtomicUsize::new(0)).unwrap();
        bytes[4..8].copy_from_slice(&2u32.to_le_bytes());
        let mut back = Detector::new(engine, None, DetectorConfig::default()).unwrap();
        back.restore(&bytes).unwrap();
        assert_eq!(back.watermark, Some(7_000));
        assert_eq!(back.decided_to, Some(5_000));
        assert_eq!(back.evicted_before, Some(1_000));
        assert!(!back.stale && !back.behind);
    }
}
