//! A time span over nanosecond timestamps, empty until a time is added.

use stormwatch_core::Timestamp;

/// First and last time seen; empty when `first > last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) first: i64,
    pub(crate) last: i64,
}

impl Default for Span {
    fn default() -> Self {
        Span {
            first: i64::MAX,
            last: i64::MIN,
        }
    }
}

impl Span {
    /// Widen to include `t`.
    pub(crate) fn add(&mut self, t: Option<i64>) {
        if let Some(t) = t {
            self.first = self.first.min(t);
            self.last = self.last.max(t);
        }
    }

    /// Widen to include another span.
    pub(crate) fn merge(&mut self, o: &Span) {
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }

    /// No time was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.first > self.last
    }

    /// Does `[first, last]` meet the half-open window `[from, to)`?
    pub(crate) fn meets(&self, from: i64, to: i64) -> bool {
        !self.is_empty() && self.first < to && self.last >= from
    }

    /// First time as a timestamp.
    pub(crate) fn first_ts(&self) -> Option<Timestamp> {
        (!self.is_empty()).then(|| Timestamp::from_nanos(self.first))
    }

    /// Last time as a timestamp.
    pub(crate) fn last_ts(&self) -> Option<Timestamp> {
        (!self.is_empty()).then(|| Timestamp::from_nanos(self.last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_until_added_and_window_test() {
        let mut s = Span::default();
        assert!(s.is_empty());
        assert!(!s.meets(i64::MIN, i64::MAX));
        s.add(Some(10));
        s.add(None);
        s.add(Some(5));
        assert_eq!((s.first, s.last), (5, 10));
        assert!(s.meets(10, 11));
        assert!(!s.meets(11, 20));
        assert!(!s.meets(0, 5));
        assert!(s.meets(0, 6));
    }
}
