//! The baseline snapshot: what earlier runs saw, carried between runs (`--state DIR`).
//!
//! The analytics crate owns the format (versioned JSON); the store keeps it as an opaque blob
//! under [`BaselineSnapshot::STORE_KEY`]. The binary loads it before a hunt
//! ([`crate::Analytics::with_baseline`]) and saves the one returned by
//! [`crate::Analytics::finish`] after it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stormwatch_core::Timestamp;

use crate::error::AnalyticsError;

/// When a value was seen for a mailbox, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenStat {
    /// First record.
    pub first: Timestamp,
    /// Last record.
    pub last: Timestamp,
    /// Records.
    pub records: u64,
}

impl SeenStat {
    fn merge(&mut self, o: &SeenStat) {
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.records = self.records.saturating_add(o.records);
    }
}

/// Running mean and variance (Welford / Chan), mergeable.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RunningStats {
    /// Samples.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    /// Sum of squared deviations.
    pub m2: f64,
}

impl RunningStats {
    /// Add one sample.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        #[allow(clippy::cast_precision_loss)]
        let n = self.n as f64;
        let d = x - self.mean;
        self.mean += d / n;
        self.m2 += d * (x - self.mean);
    }
    /// Merge another set of samples.
    pub fn merge(&mut self, o: &RunningStats) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        #[allow(clippy::cast_precision_loss)]
        let (na, nb) = (self.n as f64, o.n as f64);
        let d = o.mean - self.mean;
        let n = na + nb;
        self.mean += d * nb / n;
        self.m2 += o.m2 + d * d * na * nb / n;
        self.n += o.n;
    }
    /// Standard deviation (population).
    #[must_use]
    pub fn std_dev(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss)]
        let n = self.n as f64;
        (self.m2 / n).max(0.0).sqrt()
    }
}

/// What is known about one mailbox.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailboxBaseline {
    /// Per dimension (`app`, `client_info`, `network`, `asn`, `reader`, `client_class`), the
    /// values seen.
    pub seen: BTreeMap<String, BTreeMap<String, SeenStat>>,
    /// Σ OperationCount per context-hour of MailItemsAccessed.
    pub hourly_operations: RunningStats,
    /// The owner's records inside the actor-hours window, and in total.
    pub actor_window_records: u64,
    /// The owner's records in total.
    pub owner_records: u64,
}

/// The baseline carried between runs. Serialisable; [`BaselineSnapshot::to_json_bytes`] /
/// [`BaselineSnapshot::from_json_bytes`] give the stored form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaselineSnapshot {
    /// Format version ([`BaselineSnapshot::FORMAT_VERSION`]).
    pub version: u32,
    /// Earliest record ever folded in.
    pub first: Option<Timestamp>,
    /// Latest record ever folded in.
    pub last: Option<Timestamp>,
    /// Per mailbox (lowercase UPN).
    pub mailboxes: BTreeMap<String, MailboxBaseline>,
}

/// At most this many values per mailbox and dimension are kept (the most recent).
const MAX_VALUES: usize = 2_000;

impl BaselineSnapshot {
    /// The key under which the store keeps it.
    pub const STORE_KEY: &'static str = "analytics.baseline";
    /// The format version this build writes and reads.
    pub const FORMAT_VERSION: u32 = 1;

    /// An empty snapshot of the current version.
    #[must_use]
    pub fn new() -> Self {
        BaselineSnapshot {
            version: Self::FORMAT_VERSION,
            ..Default::default()
        }
    }

    /// Nothing in it.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.mailboxes.is_empty() && self.first.is_none()
    }

    /// Encode as JSON bytes.
    #[must_use]
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Serialising plain maps, strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decode JSON bytes written by [`BaselineSnapshot::to_json_bytes`].
    ///
    /// # Errors
    /// Invalid JSON, or a format version this build does not read.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, AnalyticsError> {
        let s: BaselineSnapshot =
            serde_json::from_slice(bytes).map_err(AnalyticsError::Snapshot)?;
        if s.version != Self::FORMAT_VERSION {
            return Err(AnalyticsError::SnapshotVersion {
                found: s.version,
                known: Self::FORMAT_VERSION,
            });
        }
        Ok(s)
    }

    /// When `value` of `dim` was seen for `mailbox`.
    #[must_use]
    pub fn seen(&self, mailbox: &str, dim: &str, value: &str) -> Option<&SeenStat> {
        self.mailboxes.get(mailbox)?.seen.get(dim)?.get(value)
    }

    /// Every value of `dim` for `mailbox`.
    pub(crate) fn values(
        &self,
        mailbox: &str,
        dim: &str,
    ) -> impl Iterator<Item = (&String, &SeenStat)> {
        self.mailboxes
            .get(mailbox)
            .and_then(|m| m.seen.get(dim))
            .into_iter()
            .flatten()
    }

    pub(crate) fn record(&mut self, mailbox: &str, dim: &str, value: &str, stat: SeenStat) {
        if !self.mailboxes.contains_key(mailbox) {
            self.mailboxes
                .insert(mailbox.to_owned(), MailboxBaseline::default());
        }
        let Some(m) = self.mailboxes.get_mut(mailbox) else {
            return;
        };
        if !m.seen.contains_key(dim) {
            m.seen.insert(dim.to_owned(), BTreeMap::new());
        }
        let Some(d) = m.seen.get_mut(dim) else { return };
        match d.get_mut(value) {
            Some(s) => s.merge(&stat),
            None => {
                d.insert(value.to_owned(), stat);
            }
        }
    }

    pub(crate) fn extend_span(&mut self, first: Timestamp, last: Timestamp) {
        self.first = Some(self.first.map_or(first, |f| f.min(first)));
        self.last = Some(self.last.map_or(last, |l| l.max(last)));
    }

    /// Drop values not seen within `days` of the latest record, and cap each dimension.
    pub(crate) fn prune(&mut self, days: u32) {
        let Some(last) = self.last else { return };
        let cutoff = last.add_seconds(-i64::from(days) * 86_400);
        for m in self.mailboxes.values_mut() {
            for d in m.seen.values_mut() {
                d.retain(|_, s| s.last >= cutoff);
                if d.len() > MAX_VALUES {
                    let mut by_last: Vec<(Timestamp, String)> =
                        d.iter().map(|(k, s)| (s.last, k.clone())).collect();
                    by_last.sort_unstable_by(|a, b| b.cmp(a));
                    for (_, k) in by_last.into_iter().skip(MAX_VALUES) {
                        d.remove(&k);
                    }
                }
            }
            m.seen.retain(|_, d| !d.is_empty());
        }
        self.mailboxes
            .retain(|_, m| !m.seen.is_empty() || m.owner_records > 0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let mut s = BaselineSnapshot::new();
        let t = Timestamp::parse("2023-06-01T00:00:00Z").unwrap();
        s.record(
            "a@x",
            "app",
            "id1",
            SeenStat {
                first: t,
                last: t,
                records: 3,
            },
        );
        s.record(
            "a@x",
            "app",
            "id1",
            SeenStat {
                first: t,
                last: t.add_seconds(60),
                records: 2,
            },
        );
        s.extend_span(t, t.add_seconds(60));
        let b = s.to_json_bytes();
        let back = BaselineSnapshot::from_json_bytes(&b).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.seen("a@x", "app", "id1").unwrap().records, 5);
        let mut bad = s.clone();
        bad.version = 99;
        assert!(matches!(
            BaselineSnapshot::from_json_bytes(&bad.to_json_bytes()),
            Err(AnalyticsError::SnapshotVersion { found: 99, .. })
        ));
        assert!(BaselineSnapshot::from_json_bytes(b"{").is_err());
    }

    #[test]
    fn running_stats_merge_equals_sequential() {
        let xs = [3.0, 5.0, 9.0, 1.0, 4.0, 4.0];
        let mut all = RunningStats::default();
        xs.iter().for_each(|&x| all.push(x));
        let (mut a, mut b) = (RunningStats::default(), RunningStats::default());
        xs[..2].iter().for_each(|&x| a.push(x));
        xs[2..].iter().for_each(|&x| b.push(x));
        a.merge(&b);
        assert!((a.mean - all.mean).abs() < 1e-9 && (a.std_dev() - all.std_dev()).abs() < 1e-9);
    }

    #[test]
    fn prune_drops_old_values() {
        let mut s = BaselineSnapshot::new();
        let t = Timestamp::parse("2023-01-01T00:00:00Z").unwrap();
        let late = Timestamp::parse("2023-06-01T00:00:00Z").unwrap();
        s.record(
            "a@x",
            "app",
            "old",
            SeenStat {
                first: t,
                last: t,
                records: 1,
            },
        );
        s.record(
            "a@x",
            "app",
            "new",
            SeenStat {
                first: late,
                last: late,
                records: 1,
            },
        );
        s.extend_span(t, late);
        s.prune(90);
        assert!(s.seen("a@x", "app", "old").is_none());
        assert!(s.seen("a@x", "app", "new").is_some());
    }
}
