//! Correlation rules (`event_count`, `value_count`, `temporal`, `temporal_ordered`,
//! `value_sum`, `value_avg`, `value_percentile`, `value_median`), evaluated at the end of a run
//! over compact (time, group, rule) tuples sorted by time, so input order does not matter.
//!
//! Windows: for each group, a window holds the matches of the last `timespan` before (and
//! including) the newest one; the condition is tested whenever a match enters the window. When
//! it holds, one detection is emitted and the window restarts after that match.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use rsigma_parser::{ConditionExpr, ConditionOperator, CorrelationType};
use stormwatch_core::{
    Detection, DetectionSource, Event, Interner, Location, PackedLocation, Timestamp,
};

use crate::doc::{FieldPath, Leaf, lookup, to_leaf};
use crate::engine::Inner;

/// Most record locations kept per correlation detection.
const MAX_LOCS: usize = 1000;

/// What a correlation refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ref {
    Rule(usize),
    Corr(usize),
}

#[derive(Debug)]
pub(crate) struct CompiledCorrelation {
    pub(crate) info: usize,
    pub(crate) kind: CorrelationType,
    pub(crate) refs: Vec<Ref>,
    /// Names by which each ref is known (id, name), for aliases and extended conditions.
    pub(crate) ref_names: Vec<Vec<String>>,
    pub(crate) group_by: Vec<String>,
    /// alias → (ref index → field).
    pub(crate) aliases: HashMap<String, HashMap<usize, String>>,
    pub(crate) span_ns: i64,
    pub(crate) preds: Vec<(ConditionOperator, u64)>,
    pub(crate) field: Option<String>,
    pub(crate) percentile: Option<u64>,
    pub(crate) extended: Option<ConditionExpr>,
}

impl CompiledCorrelation {
    /// The event field holding group-by field `g` for ref `r`.
    fn field_for(&self, g: &str, r: usize) -> String {
        self.aliases
            .get(g)
            .and_then(|m| m.get(&r))
            .cloned()
            .unwrap_or_else(|| g.to_string())
    }
}

/// Matches are kept compactly: field values as symbols of the correlator's interner, one
/// packed location for a record (several for the output of a correlation).
#[derive(Debug, Clone)]
struct Obs {
    t: i64,
    /// (field name, value) symbols, names lower-cased: group-by and value fields.
    fields: Box<[(Sym, Sym)]>,
    locs: Locs,
}

/// Symbol of an interned string.
type Sym = u32;

#[derive(Debug, Clone)]
enum Locs {
    One(PackedLocation),
    Many(Vec<PackedLocation>),
}

impl Locs {
    fn as_slice(&self) -> &[PackedLocation] {
        match self {
            Locs::One(l) => std::slice::from_ref(l),
            Locs::Many(v) => v,
        }
    }
}

/// What one event contributes to the correlations. [`Correlator::extract`] computes it
/// without changing the correlator (so it can run on many threads at once);
/// [`Correlator::record`] adds it, in input order.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    t: i64,
    loc: Option<Location>,
    /// (rule, values of the rule's wanted fields, in order; `None` when absent).
    hits: Vec<(usize, Vec<Option<String>>)>,
}

/// Correlation state for one run: feed it every event with what `scan` found, then `finish`.
#[derive(Debug)]
pub struct Correlator {
    plan: Arc<Plan>,
    /// Per detection rule: the observations.
    obs: HashMap<usize, Vec<Obs>>,
    /// Strings seen in correlation fields, each kept once.
    strings: Interner,
}

/// What a correlator observes of each event, fixed when it is made: shared with the threads
/// that compute observations while the correlator records.
#[derive(Debug)]
pub(crate) struct Plan {
    inner: Arc<Inner>,
    /// Rules referenced by some correlation.
    wanted: Vec<bool>,
    /// Fields to record per wanted rule, with the symbol of the lower-cased name.
    wanted_fields: HashMap<usize, Vec<(FieldPath, Sym)>>,
    any: bool,
}

impl Plan {
    pub(crate) fn extract(&self, ev: &Event) -> Observation {
        let o = Observation::default();
        if !self.any {
            return o;
        }
        if ev.time.is_none() {
            return o;
        }
        let mut hits = Vec::new();
        self.inner.matching(ev, Some(&self.wanted), &mut hits);
        if hits.is_empty() {
            return o;
        }
        match sonic_rs::from_str::<sonic_rs::Value>(&ev.raw) {
            Ok(root) => self.observation(ev, &hits, &root),
            Err(_) => o,
        }
    }

    /// Whether this correlator belongs to the engine `inner`.
    pub(crate) fn same_engine(&self, inner: &Arc<Inner>) -> bool {
        Arc::ptr_eq(&self.inner, inner)
    }

    /// What `ev` (parsed as `root`) contributes, given every detection rule it matches.
    pub(crate) fn observation(
        &self,
        ev: &Event,
        hits: &[usize],
        root: &sonic_rs::Value,
    ) -> Observation {
        let mut o = Observation::default();
        let Some(t) = ev.time else { return o };
        let wanted = |ri: &usize| self.wanted.get(*ri).copied().unwrap_or(false);
        if !self.any || !hits.iter().any(wanted) {
            return o;
        }
        let mut out = Vec::new();
        for &ri in hits.iter().filter(|ri| wanted(ri)) {
            let mut values = Vec::new();
            if let Some(names) = self.wanted_fields.get(&ri) {
                for (path, _) in names {
                    out.clear();
                    lookup(root, path, &mut out);
                    values.push(match out.first().map(|v| to_leaf(v)) {
                        Some(Leaf::Text { text, .. }) => Some(text.into_owned()),
                        _ => None,
                    });
                }
            }
            o.hits.push((ri, values));
        }
        o.t = t.nanos();
        o.loc = Some(ev.loc.clone());
        o
    }
}

impl Correlator {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        let mut wanted = vec![false; inner.rules.len()];
        let mut wanted_fields: HashMap<usize, Vec<(FieldPath, Sym)>> = HashMap::new();
        let mut strings = Interner::default();
        let mut named = |n: String| {
            let sym = strings.intern(&n.to_ascii_lowercase());
            (FieldPath::new(&n), sym)
        };
        for c in &inner.correlations {
            for (i, r) in c.refs.iter().enumerate() {
                if let Ref::Rule(ri) = r {
                    if let Some(w) = wanted.get_mut(*ri) {
                        *w = true;
                    }
                    let f = wanted_fields.entry(*ri).or_default();
                    for g in &c.group_by {
                        f.push(named(c.field_for(g, i)));
                    }
                    if let Some(vf) = &c.field {
                        f.push(named(c.field_for(vf, i)));
                    }
                }
            }
        }
        let any = wanted.iter().any(|w| *w);
        Correlator {
            plan: Arc::new(Plan {
                inner,
                wanted,
                wanted_fields,
                any,
            }),
            obs: HashMap::new(),
            strings,
        }
    }

    /// What this correlator observes of each event, to compute observations elsewhere.
    pub(crate) fn plan(&self) -> Arc<Plan> {
        Arc::clone(&self.plan)
    }

    /// Record the correlation-relevant matches of one event (`fired`: what `scan` reported
    /// for it; rules that only feed correlations are evaluated here).
    pub fn observe(&mut self, ev: &Event, fired: &[Detection]) {
        let _ = fired;
        let o = self.extract(ev);
        self.record(o);
    }

    /// What `ev` contributes to the correlations, without recording it: safe to call from
    /// several threads; pass the result to [`Correlator::record`] in input order.
    #[must_use]
    pub fn extract(&self, ev: &Event) -> Observation {
        self.plan.extract(ev)
    }

    /// Add what [`Correlator::extract`] found for one event.
    pub fn record(&mut self, o: Observation) {
        let Some(loc) = o.loc else { return };
        let packed = PackedLocation::new(&loc);
        for (ri, values) in o.hits {
            let names = self
                .plan
                .wanted_fields
                .get(&ri)
                .map_or(&[][..], Vec::as_slice);
            let mut fields = Vec::new();
            for (&(_, name), v) in names.iter().zip(values) {
                if let Some(v) = v {
                    fields.push((name, self.strings.intern(&v)));
                }
            }
            self.obs.entry(ri).or_default().push(Obs {
                t: o.t,
                fields: fields.into_boxed_slice(),
                locs: Locs::One(packed.clone()),
            });
        }
    }

    /// Evaluate every correlation over what was observed.
    #[must_use]
    pub fn finish(mut self) -> Vec<Detection> {
        let inner = &self.plan.inner;
        let n = inner.correlations.len();
        let mut outputs: Vec<Option<Vec<Obs>>> = vec![None; n];
        let mut result = Vec::new();
        // Evaluate in dependency order (chained correlations after the ones they use).
        let mut done = vec![false; n];
        for _round in 0..=n {
            let mut progressed = false;
            for ci in 0..n {
                if done[ci] {
                    continue;
                }
                let c = &inner.correlations[ci];
                let ready = c.refs.iter().all(|r| match r {
                    Ref::Rule(_) => true,
                    Ref::Corr(k) => done.get(*k).copied().unwrap_or(true),
                });
                if !ready {
                    continue;
                }
                let out = evaluate(c, &self.obs, &outputs, &mut self.strings);
                if let Some(info) = inner.infos.get(c.info) {
                    for o in &out {
                        let mut d = Detection::new(
                            info.id.clone(),
                            info.title.clone(),
                            info.level,
                            DetectionSource::Sigma,
                            Timestamp::from_nanos(o.t),
                        );
                        d.events = o
                            .locs
                            .as_slice()
                            .iter()
                            .map(PackedLocation::location)
                            .collect();
                        d.tags.clone_from(&info.tags);
                        let group: Vec<String> = c
                            .group_by
                            .iter()
                            .zip(o.fields.iter())
                            .map(|(k, (_, v))| format!("{k}={}", self.strings.text(*v)))
                            .collect();
                        let condition: Vec<String> = c
                            .preds
                            .iter()
                            .map(|(op, n)| format!("{} {n}", format!("{op:?}").to_lowercase()))
                            .collect();
                        d.explanation = format!(
                            "{} correlation over {} record(s) within {} s{}{}{}",
                            c.kind.as_str(),
                            o.locs.as_slice().len(),
                            c.span_ns / 1_000_000_000,
                            if group.is_empty() {
                                String::new()
                            } else {
                                format!(" for {}", group.join(", "))
                            },
                            c.field
                                .as_ref()
                                .map(|f| format!(" on {f}"))
                                .unwrap_or_default(),
                            if condition.is_empty() {
                                String::new()
                            } else {
                                format!(" (condition: {})", condition.join(" and "))
                            }
                        );
                        result.push(d);
                    }
                }
                outputs[ci] = Some(out);
                done[ci] = true;
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        stormwatch_core::sort_detections(&mut result);
        result
    }
}

fn evaluate(
    c: &CompiledCorrelation,
    obs: &HashMap<usize, Vec<Obs>>,
    outputs: &[Option<Vec<Obs>>],
    strings: &mut Interner,
) -> Vec<Obs> {
    let empty = strings.intern("");
    // Field names as recorded (lower-cased), per ref: group-by fields, then the value field.
    let name_syms = |g: &str, i: usize| strings.get(&c.field_for(g, i).to_ascii_lowercase());
    let mut lookups: Vec<(Vec<Option<Sym>>, Option<Sym>)> = Vec::new();
    for i in 0..c.refs.len() {
        let keys = c.group_by.iter().map(|g| name_syms(g, i)).collect();
        let val = c.field.as_ref().and_then(|f| name_syms(f, i));
        lookups.push((keys, val));
    }
    // The numeric kinds read each value as a number: parsed once here.
    let numeric = matches!(
        c.kind,
        CorrelationType::ValueSum
            | CorrelationType::ValueAvg
            | CorrelationType::ValuePercentile
            | CorrelationType::ValueMedian
    );
    let mut items: Vec<Item<'_>> = Vec::new();
    for (i, r) in c.refs.iter().enumerate() {
        let list: &[Obs] = match r {
            Ref::Rule(ri) => obs.get(ri).map_or(&[], Vec::as_slice),
            Ref::Corr(k) => outputs.get(*k).and_then(|o| o.as_deref()).unwrap_or(&[]),
        };
        let Some((key_names, val_name)) = lookups.get(i) else {
            continue;
        };
        for o in list {
            let get = |name: Option<Sym>| {
                name.and_then(|n| o.fields.iter().find(|(k, _)| *k == n).map(|(_, v)| *v))
            };
            let key: Vec<Sym> = key_names.iter().map(|&n| get(n).unwrap_or(empty)).collect();
            let val = get(*val_name);
            let num = val
                .filter(|_| numeric)
                .and_then(|v| crate::doc::parse_num(strings.text(v)));
            items.push((o.t, i, key, val, o, num));
        }
    }
    items.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then_with(|| a.4.locs.as_slice().cmp(b.4.locs.as_slice()))
    });
    let mut by_group: HashMap<&[Sym], Vec<usize>> = HashMap::new();
    let mut order: Vec<&[Sym]> = Vec::new();
    for (idx, it) in items.iter().enumerate() {
        by_group
            .entry(&it.2)
            .or_insert_with(|| {
                order.push(&it.2);
                Vec::new()
            })
            .push(idx);
    }
    let group_names: Vec<Sym> = c
        .group_by
        .iter()
        .map(|g| strings.intern(&g.to_ascii_lowercase()))
        .collect();
    let mut out = Vec::new();
    for key in order {
        let Some(idxs) = by_group.get(key) else {
            continue;
        };
        let sorted = matches!(
            c.kind,
            CorrelationType::ValuePercentile | CorrelationType::ValueMedian
        );
        let mut window = Window::new(c.refs.len(), sorted);
        for &ix in idxs {
            let t = items[ix].0;
            window.push(ix, &items);
            while let Some(&f) = window.idx.front() {
                if items[f].0 < t.saturating_sub(c.span_ns) {
                    window.pop_front(&items);
                } else {
                    break;
                }
            }
            if holds(c, &items, &window) {
                let mut locs = Vec::new();
                for &w in &window.idx {
                    for l in items[w].4.locs.as_slice() {
                        if locs.len() < MAX_LOCS {
                            locs.push(l.clone());
                        }
                    }
                }
                let fields = group_names
                    .iter()
                    .copied()
                    .zip(key.iter().copied())
                    .collect();
                out.push(Obs {
                    t,
                    fields,
                    locs: Locs::Many(locs),
                });
                window.clear();
            }
        }
    }
    out
}

/// (time, ref index, group key, value, observation, the value as a number for the numeric
/// kinds).
type Item<'a> = (i64, usize, Vec<Sym>, Option<Sym>, &'a Obs, Option<f64>);

/// The items of a sliding window with the aggregates the conditions read, kept as items
/// enter and leave: a condition is then tested without a pass over the window (which made a
/// window of n records cost n² when many records share a group and a time span).
struct Window {
    idx: VecDeque<usize>,
    /// Items per distinct value (value_count).
    values: HashMap<Sym, usize>,
    /// Items per ref (temporal).
    refs: Vec<usize>,
    /// Per ref `j`: the latest item that starts a match of refs `0..=j` in order among the
    /// items pushed since the window was last cleared (temporal_ordered); the refs appear in
    /// order in the window when that start for the last ref has not left it.
    ordered: Vec<Option<usize>>,
    /// Sum of the numeric values (value_sum, value_avg), exact while every one of them is an
    /// integer of at most 2^53 (`inexact` counts the others; with any, the sum is recomputed
    /// in window order as before).
    sum: f64,
    numbers: usize,
    inexact: usize,
    /// The numeric values in order (`f64::total_cmp`), kept only for the percentiles
    /// (`keep_sorted`): inserted and removed by binary search instead of sorting the window
    /// for each record.
    sorted: Vec<f64>,
    keep_sorted: bool,
}

impl Window {
    fn new(refs: usize, keep_sorted: bool) -> Self {
        Window {
            idx: VecDeque::new(),
            values: HashMap::new(),
            refs: vec![0; refs],
            ordered: vec![None; refs],
            sum: 0.0,
            numbers: 0,
            inexact: 0,
            sorted: Vec::new(),
            keep_sorted,
        }
    }

    fn push(&mut self, ix: usize, items: &[Item<'_>]) {
        self.idx.push_back(ix);
        self.count(ix, items, true);
    }

    fn pop_front(&mut self, items: &[Item<'_>]) {
        if let Some(ix) = self.idx.pop_front() {
            self.count(ix, items, false);
        }
    }

    fn count(&mut self, ix: usize, items: &[Item<'_>], add: bool) {
        let (_, r, _, value, _, number) = &items[ix];
        if let Some(n) = self.refs.get_mut(*r) {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        }
        if add {
            let start = match r.checked_sub(1) {
                None => Some(ix),
                Some(prev) => self.ordered.get(prev).copied().flatten(),
            };
            if let Some(slot) = self.ordered.get_mut(*r) {
                *slot = (*slot).max(start);
            }
        }
        if let Some(v) = value {
            if add {
                *self.values.entry(*v).or_default() += 1;
            } else if let Some(n) = self.values.get_mut(v) {
                *n -= 1;
                if *n == 0 {
                    self.values.remove(v);
                }
            }
        }
        if let Some(x) = *number {
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
        self.idx.clear();
        self.values.clear();
        self.refs.iter_mut().for_each(|n| *n = 0);
        self.ordered.iter_mut().for_each(|s| *s = None);
        self.sum = 0.0;
        self.numbers = 0;
        self.inexact = 0;
        self.sorted.clear();
    }

    /// The sum of the numeric values, and how many there are.
    fn sum(&self, items: &[Item<'_>]) -> (f64, usize) {
        if self.inexact == 0 {
            return (self.sum, self.numbers);
        }
        let v: Vec<f64> = self.idx.iter().filter_map(|&w| items[w].5).collect();
        (v.iter().sum(), v.len())
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

fn holds(c: &CompiledCorrelation, items: &[Item<'_>], window: &Window) -> bool {
    match c.kind {
        CorrelationType::EventCount => test_preds(&c.preds, window.idx.len() as f64),
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
            match (start, window.idx.front()) {
                (Some(s), Some(&front)) => s >= front,
                _ => false,
            }
        }
        CorrelationType::ValueSum => test_preds(&c.preds, window.sum(items).0),
        CorrelationType::ValueAvg => {
            let (sum, n) = window.sum(items);
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
