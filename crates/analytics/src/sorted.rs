//! Small ordered sets and maps kept as sorted ring buffers.
//!
//! The state holds tens of thousands of small ordered collections (a context's hours, token
//! ids and folders; a session's sign-in hours). A B-tree allocates a node of eleven entries
//! (plus links) for even one entry; a sorted buffer holds just its entries. Entries mostly
//! arrive in time order, oldest first or (as many exports list them) newest first: an insert
//! is then a push at the back or the front. One out of order is a binary search and a move of
//! the shorter side. They iterate in the same order as the B-tree collections they stand for.

use std::collections::VecDeque;
use std::collections::vec_deque::Iter;
use std::ops::RangeInclusive;

/// An ordered set as a sorted buffer without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortedSet<T>(VecDeque<T>);

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet(VecDeque::new())
    }
}

impl<T: Ord + Copy> SortedSet<T> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Add `x`; whether it was new.
    pub(crate) fn insert(&mut self, x: T) -> bool {
        match (self.0.front(), self.0.back()) {
            (Some(_), Some(&last)) if last < x => self.0.push_back(x),
            (Some(&first), Some(_)) if x < first => self.0.push_front(x),
            (Some(_), Some(_)) => match self.0.binary_search(&x) {
                Ok(_) => return false,
                Err(i) => self.0.insert(i, x),
            },
            _ => self.0.push_back(x),
        }
        true
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries in order.
    pub(crate) fn iter(&self) -> Iter<'_, T> {
        self.0.iter()
    }

    /// The entries in `range`, in order (an empty range holds none).
    pub(crate) fn range(&self, range: RangeInclusive<T>) -> Iter<'_, T> {
        let (from, to) = range.into_inner();
        let a = self.0.partition_point(|x| *x < from);
        let b = self.0.partition_point(|x| *x <= to).max(a);
        self.0.range(a..b)
    }

    /// Whether any entry lies in `range` (an empty range holds none).
    pub(crate) fn any_in(&self, range: RangeInclusive<T>) -> bool {
        let (from, to) = range.into_inner();
        let i = self.0.partition_point(|x| *x < from);
        self.0.get(i).is_some_and(|x| *x <= to)
    }

    /// Drop the entries before `cut`.
    pub(crate) fn keep_from(&mut self, cut: &T) {
        let i = self.0.partition_point(|x| x < cut);
        self.0.drain(..i);
    }

    /// Room for what is held, and little more.
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<T: Ord + Copy> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v: Vec<T> = iter.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        v.shrink_to_fit();
        SortedSet(v.into())
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// An ordered map from `i64` keys as a buffer sorted by key, without duplicate keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortedMap<V>(VecDeque<(i64, V)>);

impl<V> Default for SortedMap<V> {
    fn default() -> Self {
        SortedMap(VecDeque::new())
    }
}

/// Borrow a buffer entry as a map entry.
fn pair<V>(e: &(i64, V)) -> (&i64, &V) {
    (&e.0, &e.1)
}

impl<V> SortedMap<V> {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The value at `k`, made by `new` if there is none.
    pub(crate) fn get_or_insert_with(&mut self, k: i64, new: impl FnOnce() -> V) -> &mut V {
        let i = match (self.0.front(), self.0.back()) {
            (Some(_), Some(&(last, _))) if last == k => self.0.len() - 1,
            (Some(_), Some(&(last, _))) if last < k => {
                self.0.push_back((k, new()));
                self.0.len() - 1
            }
            (Some(&(first, _)), Some(_)) if k < first => {
                self.0.push_front((k, new()));
                0
            }
            (Some(_), Some(_)) => match self.0.binary_search_by_key(&k, |e| e.0) {
                Ok(i) => i,
                Err(i) => {
                    self.0.insert(i, (k, new()));
                    i
                }
            },
            _ => {
                self.0.push_back((k, new()));
                0
            }
        };
        &mut self.0[i].1
    }

    pub(crate) fn get(&self, k: &i64) -> Option<&V> {
        self.0
            .binary_search_by_key(k, |e| e.0)
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|e| &e.1)
    }

    /// The entries by key.
    pub(crate) fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = (&i64, &V)> + ExactSizeIterator + Clone {
        self.0.iter().map(pair)
    }

    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = &i64> + ExactSizeIterator + Clone {
        self.0.iter().map(|e| &e.0)
    }

    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + Clone {
        self.0.iter().map(|e| &e.1)
    }

    /// The entries with keys in `range`, by key (an empty range holds none).
    pub(crate) fn range(
        &self,
        range: RangeInclusive<i64>,
    ) -> impl DoubleEndedIterator<Item = (&i64, &V)> + Clone {
        let (from, to) = range.into_inner();
        let a = self.0.partition_point(|e| e.0 < from);
        let b = self.0.partition_point(|e| e.0 <= to).max(a);
        self.0.range(a..b).map(pair)
    }

    /// Room for what is held, and little more.
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl<V> FromIterator<(i64, V)> for SortedMap<V> {
    /// As a `BTreeMap` collects: of entries with the same key, the last stays.
    fn from_iter<I: IntoIterator<Item = (i64, V)>>(iter: I) -> Self {
        let mut v: Vec<(i64, V)> = iter.into_iter().collect();
        v.sort_by_key(|e| e.0);
        // Keep the last of each run of equal keys.
        v.reverse();
        v.dedup_by_key(|e| e.0);
        v.reverse();
        v.shrink_to_fit();
        SortedMap(v.into())
    }
}

impl<'a, V> IntoIterator for &'a SortedMap<V> {
    type Item = (&'a i64, &'a V);
    type IntoIter = std::iter::Map<Iter<'a, (i64, V)>, fn(&(i64, V)) -> (&i64, &V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(pair as fn(&(i64, V)) -> (&i64, &V))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the order of inserts, the set holds and answers what a `BTreeSet` does.
        #[test]
        fn set_matches_btree_set(
            xs in prop::collection::vec(-50i64..50, 0..200),
            cut in -60i64..60,
            from in -60i64..60,
            len in -5i64..30,
        ) {
            let mut s = SortedSet::new();
            let mut b = BTreeSet::new();
            for &x in &xs {
                prop_assert_eq!(s.insert(x), b.insert(x));
            }
            prop_assert_eq!(s.len(), b.len());
            prop_assert!(s.iter().eq(b.iter()));
            let to = from + len;
            let want = from <= to && b.range(from..=to).next().is_some();
            prop_assert_eq!(s.any_in(from..=to), want);
            if from <= to {
                prop_assert!(s.range(from..=to).eq(b.range(from..=to)));
            } else {
                prop_assert_eq!(s.range(from..=to).count(), 0);
            }
            let c: SortedSet<i64> = xs.iter().copied().collect();
            prop_assert_eq!(&c, &s);
            s.keep_from(&cut);
            let b = b.split_off(&cut);
            prop_assert!(s.iter().eq(b.iter()));
            prop_assert_eq!(s.is_empty(), b.is_empty());
        }

        /// The map holds, finds and ranges over what a `BTreeMap` does.
        #[test]
        fn map_matches_btree_map(
            xs in prop::collection::vec((-50i64..50, 0u32..1000), 0..200),
            from in -60i64..60,
            len in -5i64..30,
        ) {
            let mut m = SortedMap::new();
            let mut b: BTreeMap<i64, u32> = BTreeMap::new();
            for &(k, v) in &xs {
                *m.get_or_insert_with(k, || v) += 1;
                *b.entry(k).or_insert(v) += 1;
            }
            prop_assert_eq!(m.iter().len(), b.len());
            prop_assert!(m.iter().eq(b.iter()));
            prop_assert!(m.keys().rev().eq(b.keys().rev()));
            prop_assert!(m.values().eq(b.values()));
            for k in -55..55 {
                prop_assert_eq!(m.get(&k), b.get(&k));
            }
            let to = from + len;
            if from <= to {
                prop_assert!(m.range(from..=to).eq(b.range(from..=to)));
            } else {
                prop_assert_eq!(m.range(from..=to).count(), 0);
            }
            // Collecting keeps the last of equal keys, as a `BTreeMap` does.
            let c: SortedMap<u32> = xs.iter().copied().collect();
            let cb: BTreeMap<i64, u32> = xs.iter().copied().collect();
            prop_assert!(c.iter().eq(cb.iter()));
        }
    }

    /// Oldest first, newest first, and out of order give the same collections.
    #[test]
    fn the_order_of_inserts_does_not_matter() {
        let xs: Vec<i64> = (0..100).map(|i| (i * 37) % 101).collect();
        let mut up: Vec<i64> = xs.clone();
        up.sort_unstable();
        let down: Vec<i64> = up.iter().rev().copied().collect();
        let mut sets = Vec::new();
        let mut maps = Vec::new();
        for order in [&xs, &up, &down] {
            let mut s = SortedSet::new();
            let mut m = SortedMap::new();
            for &x in order {
                assert!(s.insert(x));
                assert!(!s.insert(x));
                *m.get_or_insert_with(x, || 0) += x;
            }
            sets.push(s.iter().copied().collect::<Vec<_>>());
            maps.push(m.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>());
        }
        assert!(sets.iter().all(|s| *s == up));
        assert!(
            maps.iter()
                .all(|m| *m == up.iter().map(|&x| (x, x)).collect::<Vec<_>>())
        );
    }
}
