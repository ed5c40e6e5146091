//! One group's sliding window: the matches of the last `timespan` before (and including) the
//! newest one, with the aggregates the conditions read kept as matches enter and leave.
//!
//! Matches are stepped through in time order. When the condition holds after a match
//! enters, the correlation fires and the window restarts after that match.

use std::collections::{HashMap, HashSet, VecDeque};

use rsigma_parser::{ConditionExpr, ConditionOperator, CorrelationType};
use stormwatch_core::Interner;

use super::locs::{Loc, LocTable};
use super::{CompiledCorrelation, MAX_LOCS, Sym};

/// The records behind a match: one record for a rule's match, several for a correlation's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Locs {
    One(Loc),
    Many(Box<[Loc]>),
}

impl Locs {
    pub(crate) fn as_slice(&self) -> &[Loc] {
        match self {
            Locs::One(l) => std::slice::from_ref(l),
            Locs::Many(v) => v,
        }
    }
}

/// One match entering a correlation's group. A correlation may hold one for every record
/// it saw, so it is kept small: its number (for the numeric kinds) is read off its value
/// when needed, and whether it has a value is a bit of its ref.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Event time (ns).
    pub(crate) t: i64,
    /// Which of the correlation's rules it matched (the low 31 bits), and whether `value`
    /// holds one (the top bit).
    rv: u32,
    /// The value field's value (value_count, the numeric kinds).
    value: Sym,
    pub(crate) locs: Locs,
}

const HAS_VALUE: u32 = 1 << 31;

impl Item {
    /// Refs an item can name: a correlation with more is never fed.
    pub(crate) const MAX_REFS: u32 = HAS_VALUE;

    /// A match of ref `r` (below [`Item::MAX_REFS`]) with the value field's value.
    pub(crate) fn new(t: i64, r: u32, value: Option<Sym>, locs: Locs) -> Item {
        let r = r & !HAS_VALUE;
        Item {
            t,
            rv: if value.is_some() { r | HAS_VALUE } else { r },
            value: value.unwrap_or(0),
            locs,
        }
    }

    /// Which of the correlation's rules it matched.
    pub(crate) fn r(&self) -> u32 {
        self.rv & !HAS_VALUE
    }

    /// The value field's value.
    pub(crate) fn value(&self) -> Option<Sym> {
        (self.rv & HAS_VALUE != 0).then_some(self.value)
    }

    /// The order matches are stepped through: time, rule, records.
    pub(crate) fn cmp_order(&self, other: &Item, table: &LocTable) -> std::cmp::Ordering {
        self.t
            .cmp(&other.t)
            .then(self.r().cmp(&other.r()))
            .then_with(|| table.cmp_all(self.locs.as_slice(), other.locs.as_slice()))
    }
}

/// What a window reads besides its matches: the correlation, the strings of the values and
/// the table of the locations.
#[derive(Clone, Copy)]
pub(crate) struct Cx<'a> {
    pub(crate) c: &'a CompiledCorrelation,
    pub(crate) strings: &'a Interner,
    pub(crate) table: &'a LocTable,
}

impl Cx<'_> {
    /// The value of `item` as a number, for the numeric kinds.
    pub(crate) fn num(&self, item: &Item) -> Option<f64> {
        if !numeric(self.c.kind) {
            return None;
        }
        crate::doc::parse_num(self.strings.text(item.value()?))
    }
}

/// Whether the kind reads its values as numbers.
pub(crate) fn numeric(kind: CorrelationType) -> bool {
    matches!(
        kind,
        CorrelationType::ValueSum
            | CorrelationType::ValueAvg
            | CorrelationType::ValuePercentile
            | CorrelationType::ValueMedian
    )
}

/// What a window reports when its condition holds.
#[derive(Debug, Clone)]
pub(crate) struct Fired {
    /// Time of the match that made the condition hold.
    pub(crate) t: i64,
    /// Time of the oldest match in the window then.
    pub(crate) first_t: i64,
    /// The window's records (at most [`MAX_LOCS`]).
    pub(crate) locs: Vec<Loc>,
}

/// The matches of one group's window and the aggregates its condition reads: a condition is
/// tested without a pass over the window (which made a window of n records cost n² when many
/// records share a group and a time span).
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// (sequence number, match), oldest first.
    pub(crate) items: VecDeque<(u64, Item)>,
    /// Sequence number of the next match to enter.
    pub(crate) next_seq: u64,
    /// Items per distinct value (value_count only).
    values: HashMap<Sym, usize>,
    count_values: bool,
    /// Items per ref (temporal only).
    refs: Vec<usize>,
    /// Per ref `j`: the sequence number of the latest match that starts a match of refs
    /// `0..=j` in order among the matches pushed since the window was last cleared
    /// (temporal_ordered); the refs appear in order in the window when that start for the
    /// last ref has not left it.
    pub(crate) ordered: Vec<Option<u64>>,
    /// Sum of the numeric values (value_sum, value_avg), exact while every one of them is an
    /// integer of at most 2^53 (`inexact` counts the others; with any, the sum is recomputed
    /// in window order).
    sum: f64,
    numbers: usize,
    inexact: usize,
    /// The numeric values in order (`f64::total_cmp`), kept only for the percentiles.
    sorted: Vec<f64>,
    keep_sorted: bool,
}

impl Window {
    pub(crate) fn new(c: &CompiledCorrelation) -> Self {
        Window {
            items: VecDeque::new(),
            next_seq: 0,
            values: HashMap::new(),
            count_values: c.kind == CorrelationType::ValueCount,
            // Read by temporal conditions only.
            refs: if c.kind == CorrelationType::Temporal {
                vec![0; c.refs.len()]
            } else {
                Vec::new()
            },
            ordered: vec![None; c.refs.len()],
            sum: 0.0,
            numbers: 0,
            inexact: 0,
            sorted: Vec::new(),
            keep_sorted: matches!(
                c.kind,
                CorrelationType::ValuePercentile | CorrelationType::ValueMedian
            ),
        }
    }

    /// A window holding `items` (in order, with their sequence numbers), its ordered-match
    /// starts as saved, and `next_seq`: the inverse of reading `items`, `ordered` and
    /// `next_seq` off a window.
    pub(crate) fn rebuild(
        cx: Cx<'_>,
        items: Vec<(u64, Item)>,
        ordered: Vec<Option<u64>>,
        next_seq: u64,
    ) -> Self {
        let mut w = Window::new(cx.c);
        for (seq, item) in items {
            w.count(cx, &item, true);
            w.items.push_back((seq, item));
        }
        if ordered.len() == w.ordered.len() {
            w.ordered = ordered;
        }
        w.next_seq = next_seq;
        w
    }

    /// Time of the newest match in the window.
    pub(crate) fn newest(&self) -> Option<i64> {
        self.items.back().map(|(_, i)| i.t)
    }

    /// Step one match in (matches come in [`Item::cmp_order`]): it enters, the matches older
    /// than `timespan` before it leave, and if the condition then holds the window fires and
    /// restarts.
    pub(crate) fn step(&mut self, cx: Cx<'_>, item: Item) -> Option<Fired> {
        let t = item.t;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.count_ordered(seq, item.r());
        self.count(cx, &item, true);
        self.items.push_back((seq, item));
        let oldest = t.saturating_sub(cx.c.span_ns);
        while self.items.front().is_some_and(|(_, f)| f.t < oldest) {
            if let Some((_, f)) = self.items.pop_front() {
                self.count(cx, &f, false);
            }
        }
        if !holds(cx, self) {
            return None;
        }
        let first_t = self.items.front().map_or(t, |(_, f)| f.t);
        let mut locs = Vec::new();
        'all: for (_, w) in &self.items {
            for l in w.locs.as_slice() {
                if locs.len() >= MAX_LOCS {
                    break 'all;
                }
                locs.push(*l);
            }
        }
        self.clear();
        Some(Fired { t, first_t, locs })
    }

    /// A match older than the window's newest one (it came after the lateness bound): it is
    /// put in its place in time order and the condition tested once.
    pub(crate) fn step_late(&mut self, cx: Cx<'_>, item: Item) -> Option<Fired> {
        let mut all: Vec<Item> = self.items.drain(..).map(|(_, i)| i).collect();
        let at = all.partition_point(|x| x.cmp_order(&item, cx.table).is_le());
        all.insert(at, item);
        let next = self.next_seq;
        *self = Window::new(cx.c);
        self.next_seq = next;
        let newest = all.last().map_or(i64::MIN, |i| i.t);
        let oldest = newest.saturating_sub(cx.c.span_ns);
        for i in all.into_iter().filter(|i| i.t >= oldest) {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.count_ordered(seq, i.r());
            self.count(cx, &i, true);
            self.items.push_back((seq, i));
        }
        if !holds(cx, self) {
            return None;
        }
        let first_t = self.items.front().map_or(newest, |(_, f)| f.t);
        let locs = self
            .items
            .iter()
            .flat_map(|(_, w)| w.locs.as_slice().iter().copied())
            .take(MAX_LOCS)
            .collect();
        self.clear();
        Some(Fired {
            t: newest,
            first_t,
            locs,
        })
    }

    fn count_ordered(&mut self, seq: u64, r: u32) {
        let r = r as usize;
        let start = match r.checked_sub(1) {
            None => Some(seq),
            Some(prev) => self.ordered.get(prev).copied().flatten(),
        };
        if let Some(slot) = self.ordered.get_mut(r) {
            *slot = (*slot).max(start);
        }
    }

    fn count(&mut self, cx: Cx<'_>, item: &Item, add: bool) {
        if let Some(n) = self.refs.get_mut(item.r() as usize) {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        }
        if let Some(v) = item.value().filter(|_| self.count_values) {
            if add {
                *self.values.entry(v).or_default() += 1;
            } else if let Some(n) = self.values.get_mut(&v) {
                *n -= 1;
                if *n == 0 {
                    self.values.remove(&v);
                }
            }
        }
        if let Some(x) = cx.num(item) {
            if self.keep_sorted {
                let at = self.sorted.partition_point(|y| y.total_cmp(&x).is_lt());
                if add {
                    self.sorted.insert(at, x);
                } else if self.sorted.get(at).is_some_and(|y| y.total_cmp(&x).is_eq()) {
                    self.sorted.remove(at);
                }
            }
            let exact = x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0;
            if add {
                self.numbers += 1;
                if exact {
                    self.sum += x;
                } else {
                    self.inexact += 1;
                }
            } else {
                self.numbers -= 1;
                if exact {
                    self.sum -= x;
                } else {
                    self.inexact -= 1;
                }
            }
        }
    }

    fn clear(&mut self) {
        self.items.clear();
        self.values.clear();
        self.refs.iter_mut().for_each(|n| *n = 0);
        self.ordered.iter_mut().for_each(|s| *s = None);
        self.sum = 0.0;
        self.numbers = 0;
        self.inexact = 0;
        self.sorted.clear();
    }

    /// The sum of the numeric values, and how many there are.
    fn sum(&self, cx: Cx<'_>) -> (f64, usize) {
        if self.inexact == 0 {
            return (self.sum, self.numbers);
        }
        let v: Vec<f64> = self.items.iter().filter_map(|(_, i)| cx.num(i)).collect();
        (v.iter().sum(), v.len())
    }

    /// Every value symbol the window holds (for compacting the strings).
    pub(crate) fn values(&self) -> impl Iterator<Item = Sym> + '_ {
        self.items.iter().filter_map(|(_, i)| i.value())
    }
}

fn test_preds(preds: &[(ConditionOperator, u64)], x: f64) -> bool {
    preds.iter().all(|(op, v)| {
        let v = *v as f64;
        match op {
            ConditionOperator::Lt => x < v,
            ConditionOperator::Lte => x <= v,
            ConditionOperator::Gt => x > v,
            ConditionOperator::Gte => x >= v,
            ConditionOperator::Eq => x == v,
            ConditionOperator::Neq => x != v,
        }
    })
}

fn holds(cx: Cx<'_>, window: &Window) -> bool {
    let c = cx.c;
    match c.kind {
        CorrelationType::EventCount => test_preds(&c.preds, window.items.len() as f64),
        CorrelationType::ValueCount => test_preds(&c.preds, window.values.len() as f64),
        CorrelationType::Temporal => {
            let present: HashSet<usize> = (0..window.refs.len())
                .filter(|&r| window.refs[r] > 0)
                .collect();
            match &c.extended {
                Some(expr) => eval_ext(expr, c, &present),
                None => {
                    (0..c.refs.len()).all(|r| present.contains(&r))
                        && (c.preds.is_empty() || test_preds(&c.preds, present.len() as f64))
                }
            }
        }
        CorrelationType::TemporalOrdered => {
            let start = window.ordered.last().copied().flatten();
            match (start, window.items.front()) {
                (Some(s), Some(&(front, _))) => s >= front,
                _ => false,
            }
        }
        CorrelationType::ValueSum => test_preds(&c.preds, window.sum(cx).0),
        CorrelationType::ValueAvg => {
            let (sum, n) = window.sum(cx);
            n > 0 && test_preds(&c.preds, sum / n as f64)
        }
        CorrelationType::ValuePercentile | CorrelationType::ValueMedian => {
            let v = &window.sorted;
            if v.is_empty() {
                return false;
            }
            let p = if c.kind == CorrelationType::ValueMedian {
                50.0
            } else {
                c.percentile.unwrap_or(50) as f64
            };
            // Linear interpolation between closest ranks.
            let rank = (p / 100.0) * (v.len() - 1) as f64;
            let lo = rank.floor() as usize;
            let hi = rank.ceil() as usize;
            let x = v[lo] + (v[hi.min(v.len() - 1)] - v[lo]) * (rank - lo as f64);
            test_preds(&c.preds, x)
        }
    }
}

fn eval_ext(e: &ConditionExpr, c: &CompiledCorrelation, present: &HashSet<usize>) -> bool {
    match e {
        ConditionExpr::And(v) => v.iter().all(|x| eval_ext(x, c, present)),
        ConditionExpr::Or(v) => v.iter().any(|x| eval_ext(x, c, present)),
        ConditionExpr::Not(x) => !eval_ext(x, c, present),
        ConditionExpr::Identifier(id) => c
            .ref_names
            .iter()
            .position(|names| names.iter().any(|n| n == id))
            .is_some_and(|i| present.contains(&i)),
        ConditionExpr::Selector { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_keeps_its_ref_and_value_apart() {
        let loc = Locs::Many(Box::new([]));
        let a = Item::new(5, 3, Some(u32::MAX), loc.clone());
        assert_eq!((a.r(), a.value()), (3, Some(u32::MAX)));
        let b = Item::new(5, Item::MAX_REFS - 1, None, loc.clone());
        assert_eq!((b.r(), b.value()), (Item::MAX_REFS - 1, None));
        let c = Item::new(5, 0, Some(0), loc);
        assert_eq!((c.r(), c.value()), (0, Some(0)));
    }

    #[test]
    fn an_item_takes_48_bytes() {
        // One is held per match until its window settles: every record of a `hunt`.
        assert_eq!(std::mem::size_of::<Item>(), 48);
    }
}
