//! Saving and restoring the whole detector: the correlator's windows, the analytics' state,
//! the raised detections that may still change, the watermark and what was decided.
//!
//! Layout: `SWDT`, the format version (u32, little-endian), then a zstd frame (with its
//! content checksum) holding the postcard encoding of [`Snap`] followed, when it says so, by
//! the analytics' own snapshot up to the end of the frame. The correlator's and the
//! analytics' parts are their own versioned snapshots. The analytics' part (the largest by
//! far) is written straight into the compressor and never copied whole.

use serde::{Deserialize, Serialize};

use crate::DetectError;
use crate::detector::Detector;
use crate::ledger::Ledger;

/// Format version of [`Detector::snapshot`].
pub const DETECTOR_SNAPSHOT_VERSION: u32 = 2;

const MAGIC: &[u8; 4] = b"SWDT";
/// Largest decompressed snapshot read back (a snapshot is read from disk: untrusted).
const MAX_SNAPSHOT_BYTES: usize = 16 << 30;

#[derive(Serialize, Deserialize)]
struct Snap {
    watermark: Option<i64>,
    decided_to: Option<i64>,
    evicted_before: Option<i64>,
    ledger: Ledger,
    correlator: Vec<u8>,
    /// The analytics' snapshot follows this header in the frame.
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

impl Detector {
    /// The whole state as bytes to keep: restored into a detector built with the same rules
    /// and settings, it goes on exactly as this one would.
    ///
    /// # Errors
    /// [`DetectError::AnalyticsThread`] when the analytics stopped on an internal error; the
    /// other errors do not happen on in-memory state.
    pub fn snapshot(&self) -> Result<Vec<u8>, DetectError> {
        let analytics = match &self.analytics {
            Some(f) => Some(f.call(|a| a.snapshot())??),
            None => None,
        };
        let snap = Snap {
            watermark: self.watermark,
            decided_to: self.decided_to,
            evicted_before: self.evicted_before,
            ledger: self.ledger.clone(),
            correlator: self.correlator.snapshot()?,
            analytics: analytics.is_some(),
        };
        let size = analytics.as_ref().map_or(0, Vec::len) + snap.correlator.len();
        let mut out = Vec::with_capacity(size / 4 + 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&DETECTOR_SNAPSHOT_VERSION.to_le_bytes());
        let mut enc = zstd::stream::Encoder::new(out, 1).map_err(|e| bad(e.to_string()))?;
        enc.include_checksum(true).map_err(|e| bad(e.to_string()))?;
        let mut enc = postcard::to_io(&snap, enc).map_err(|e| bad(e.to_string()))?;
        if let Some(a) = &analytics {
            std::io::Write::write_all(&mut enc, a).map_err(|e| bad(e.to_string()))?;
        }
        enc.finish().map_err(|e| bad(e.to_string()))
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
        if version != DETECTOR_SNAPSHOT_VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads {DETECTOR_SNAPSHOT_VERSION}"
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
        let (snap, rest) =
            postcard::take_from_bytes::<Snap>(&body_bytes).map_err(|e| bad(e.to_string()))?;
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
        self.ledger = snap.ledger;
        self.set_frontier();
        Ok(RestoreReport {
            correlations_restored: corr.restored,
            correlations_dropped: corr.dropped,
            analytics_restored,
        })
    }
}
