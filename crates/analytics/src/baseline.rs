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
    /// Per tenant (lowercase id, `""` for records without one): the hours whose
    /// MailItemsAccessed records have been folded in, as `[from, to)` hour numbers since the
    /// epoch, sorted and merged. A record of a tenant in one of these hours is already in the
    /// baseline and is not folded in again, so re-running the same or an overlapping export
    /// with `--state` counts each record once.
    pub folded_hours: BTreeMap<String, Vec<(i64, i64)>>,
}

/// At most this many values per mailbox and dimension are kept (the most recent).
const MAX_VALUES: usize = 2_000;
/// At most this many folded-hour ranges per tenant (the closest are merged beyond it).
const MAX_FOLDED_RANGES: usize = 4_000;
/// Nanoseconds per hour.
const HOUR_NS: i64 = 3_600_000_000_000;
/// The `folded_hours` key of hours folded for every tenant (from snapshots written before
/// hours were kept per tenant).
const ANY_TENANT: &str = "*";

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

    /// Whether records of `tenant` in hour `hour` (hours since the epoch) were folded in by an
    /// earlier run. A snapshot written before hours were tracked (mailbox data but no folded
    /// hours) counts every hour up to its last record as folded.
    #[must_use]
    pub fn is_folded(&self, tenant: &str, hour: i64) -> bool {
        if self.folded_hours.is_empty() && !self.mailboxes.is_empty() {
            return self
                .last
                .is_some_and(|l| hour <= l.nanos().div_euclid(HOUR_NS));
        }
        let inside = |v: &Vec<(i64, i64)>| {
            // The last range starting at or before `hour`.
            let i = v.partition_point(|&(from, _)| from <= hour);
            i > 0 && hour < v[i - 1].1
        };
        self.folded_hours.get(tenant).is_some_and(inside)
            || self.folded_hours.get(ANY_TENANT).is_some_and(inside)
    }

    /// A snapshot written before hours were tracked: keep what it covered (every tenant, its
    /// first to its last record) as folded once this run adds hours of its own.
    pub(crate) fn adopt_untracked_span(&mut self) {
        if !self.folded_hours.is_empty() || self.mailboxes.is_empty() {
            return;
        }
        if let (Some(f), Some(l)) = (self.first, self.last) {
            let (a, b) = (f.nanos().div_euclid(HOUR_NS), l.nanos().div_euclid(HOUR_NS));
            self.folded_hours
                .insert(ANY_TENANT.to_owned(), vec![(a, b + 1)]);
        }
    }

    /// What an earlier run folded in, alone: the folded hours (a snapshot written before
    /// hours were tracked counts as folded up to its last record), without the per-mailbox
    /// values. Records are judged against it, never against what this run folds into the
    /// snapshot as it goes (contexts aged out of a long stream), so that a record still held
    /// is never taken for one already in the baseline.
    #[must_use]
    pub(crate) fn folded_by_earlier_runs(&self) -> BaselineSnapshot {
        let mut s = BaselineSnapshot {
            version: self.version,
            first: self.first,
            last: self.last,
            mailboxes: BTreeMap::new(),
            folded_hours: self.folded_hours.clone(),
        };
        if self.folded_hours.is_empty() && !self.mailboxes.is_empty() {
            // The legacy rule of `is_folded`, as ranges.
            if let Some(l) = self.last {
                s.folded_hours.insert(
                    ANY_TENANT.to_owned(),
                    vec![(i64::MIN, l.nanos().div_euclid(HOUR_NS) + 1)],
                );
            }
        }
        s
    }

    /// Mark `hours` (hours since the epoch, any order) of `tenant` as folded in.
    pub(crate) fn mark_folded(&mut self, tenant: &str, hours: impl IntoIterator<Item = i64>) {
        let v = self.folded_hours.entry(tenant.to_owned()).or_default();
        v.extend(hours.into_iter().map(|h| (h, h + 1)));
        v.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(v.len());
        for &(a, b) in v.iter() {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        while merged.len() > MAX_FOLDED_RANGES {
            // Close the smallest gap: its hours count as folded (at most once stays true).
            let Some(i) = (1..merged.len()).min_by_key(|&i| merged[i].0 - merged[i - 1].1) else {
                break;
            };
            merged[i - 1].1 = merged[i].1;
            merged.remove(i);
        }
        *v = merged;
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
        // Hours older than the retention are forgotten with the values seen in them.
        let cutoff_hour = cutoff.nanos().div_euclid(HOUR_NS);
        for v in self.folded_hours.values_mut() {
            v.retain(|&(_, to)| to > cutoff_hour);
        }
        self.folded_hours.retain(|_, v| !v.is_empty());
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
    fn folded_hours_merge_and_answer() {
        let mut s = BaselineSnapshot::new();
        s.mark_folded("t1", [10, 11, 12, 20, 13]);
        s.mark_folded("t1", [15, 14]);
        assert_eq!(s.folded_hours["t1"], vec![(10, 16), (20, 21)]);
        assert!(s.is_folded("t1", 10) && s.is_folded("t1", 15) && s.is_folded("t1", 20));
        assert!(!s.is_folded("t1", 9) && !s.is_folded("t1", 16) && !s.is_folded("t1", 21));
        assert!(!s.is_folded("t2", 10), "another tenant's hours are its own");
        let back = BaselineSnapshot::from_json_bytes(&s.to_json_bytes()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn a_snapshot_without_folded_hours_counts_everything_up_to_its_last_record() {
        let mut s = BaselineSnapshot::new();
        let t = Timestamp::parse("2023-06-01T10:30:00Z").unwrap();
        s.extend_span(t, t);
        let h = t.nanos().div_euclid(HOUR_NS);
        // Nothing folded yet: a span without mailbox data (only other records) proves nothing.
        assert!(!s.is_folded("any", h));
        let stat = SeenStat {
            first: t,
            last: t,
            records: 1,
        };
        s.record("a@x", "app", "id1", stat);
        assert!(s.is_folded("any", h) && s.is_folded("any", h - 100));
        assert!(!s.is_folded("any", h + 1));
        // Snapshots written before folded hours were kept still decode, and count as above.
        let old = br#"{"version":1,"first":"2023-06-01T10:30:00Z","last":"2023-06-01T10:30:00Z","mailboxes":{"a@x":{"seen":{"app":{"id1":{"first":"2023-06-01T10:30:00Z","last":"2023-06-01T10:30:00Z","records":1}}}}}}"#;
        let mut back = BaselineSnapshot::from_json_bytes(old).unwrap();
        assert!(back.is_folded("any", h) && !back.is_folded("any", h + 1));
        // Once a run adds hours of its own, what the old snapshot covered stays folded.
        back.adopt_untracked_span();
        back.mark_folded("t1", [h + 50]);
        assert!(back.is_folded("other", h) && back.is_folded("t1", h + 50));
        assert!(!back.is_folded("other", h + 50));
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
