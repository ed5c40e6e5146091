//! The correlator: every correlation's groups, their windows and waiting matches, and the
//! frontier that settles them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rsigma_parser::CorrelationType;
use stormwatch_core::{
    Detection, DetectionSource, Event, Interner, PackedLocation, Timestamp, detection_id,
    record_identity,
};

use super::window::{Fired, Item, Locs, Window};
use super::{CompiledCorrelation, Observation, Plan, Ref, Sym};
use crate::doc::FieldPath;
use crate::engine::Inner;

/// Where matches go: correlation `ci`, as its ref `r`, grouped by the fields named `keys`,
/// with the value field named `value` (names as symbols of lower-cased field names).
#[derive(Debug)]
pub(super) struct Route {
    pub(super) ci: usize,
    pub(super) r: u32,
    pub(super) keys: Vec<Sym>,
    pub(super) value: Option<Sym>,
}

/// One group of a correlation: its window (every settled match stepped in), the matches not
/// settled yet, and the speculative detections last raised from it.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub(super) window: Window,
    pub(super) pending: Vec<Item>,
    pub(super) live: Vec<String>,
}

/// One correlation's groups.
#[derive(Debug, Default)]
pub(super) struct CorrState {
    pub(super) groups: HashMap<Box<[Sym]>, Group>,
    /// Groups with matches to settle or to speculate on, once the frontier moves.
    pub(super) dirty: HashSet<Box<[Sym]>>,
}

/// A detection raised by [`Correlator::advance`]: new, or again with the same id.
#[derive(Debug, Clone, PartialEq)]
pub struct Raised {
    /// The detection (with its id).
    pub detection: Detection,
    /// Its matches are all behind the frontier: no later match can change it.
    pub settled: bool,
    /// A match behind it arrived after the frontier had passed its time.
    pub late: bool,
}

/// What [`Correlator::advance`] decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorrelationChanges {
    /// Detections that hold now (speculative ones may be raised again, unchanged).
    pub raised: Vec<Raised>,
    /// Ids of speculative detections raised earlier that no longer hold.
    pub withdrawn: Vec<String>,
}

/// Correlation state: record what each event contributes, advance the frontier to settle
/// (and optionally speculate on) the windows, [`Correlator::finish`] at the end of input.
#[derive(Debug)]
pub struct Correlator {
    pub(super) plan: Arc<Plan>,
    /// Strings seen in correlation fields, each kept once. Symbols below `fixed` are field
    /// names, fixed when the correlator was made.
    pub(super) strings: Interner,
    pub(super) fixed: u32,
    pub(super) empty: Sym,
    pub(super) states: Vec<CorrState>,
    /// Per detection rule: where its matches go.
    routes: HashMap<usize, Vec<Route>>,
    /// Per correlation: where its own (settled) detections go, for chained correlations.
    corr_routes: Vec<Vec<Route>>,
    /// Per correlation: the symbols of its lower-cased group-by names.
    group_names: Vec<Vec<Sym>>,
    /// Correlations in dependency order (chained ones after those they use); correlations
    /// in a reference cycle are never evaluated.
    order: Vec<usize>,
    /// Matches at or before this time (ns) are settled; `None` until the first advance.
    pub(super) frontier: Option<i64>,
}

fn numeric(kind: CorrelationType) -> bool {
    matches!(
        kind,
        CorrelationType::ValueSum
            | CorrelationType::ValueAvg
            | CorrelationType::ValuePercentile
            | CorrelationType::ValueMedian
    )
}

impl Correlator {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        let mut wanted = vec![false; inner.rules.len()];
        let mut wanted_fields: HashMap<usize, Vec<(FieldPath, Sym)>> = HashMap::new();
        let mut strings = Interner::default();
        let empty = strings.intern("");
        let mut routes: HashMap<usize, Vec<Route>> = HashMap::new();
        let n = inner.correlations.len();
        let mut corr_routes: Vec<Vec<Route>> = (0..n).map(|_| Vec::new()).collect();
        let mut group_names = Vec::with_capacity(n);
        for (ci, c) in inner.correlations.iter().enumerate() {
            group_names.push(
                c.group_by
                    .iter()
                    .map(|g| strings.intern(&g.to_ascii_lowercase()))
                    .collect(),
            );
            for (i, r) in c.refs.iter().enumerate() {
                let Ok(ri32) = u32::try_from(i) else { continue };
                let mut named = |n: String| {
                    let sym = strings.intern(&n.to_ascii_lowercase());
                    (FieldPath::new(&n), sym)
                };
                let keys: Vec<(FieldPath, Sym)> = c
                    .group_by
                    .iter()
                    .map(|g| named(c.field_for(g, i)))
                    .collect();
                let value = c.field.as_ref().map(|f| named(c.field_for(f, i)));
                let route = Route {
                    ci,
                    r: ri32,
                    keys: keys.iter().map(|k| k.1).collect(),
                    value: value.as_ref().map(|v| v.1),
                };
                match r {
                    Ref::Rule(rule) => {
                        if let Some(w) = wanted.get_mut(*rule) {
                            *w = true;
                        }
                        let f = wanted_fields.entry(*rule).or_default();
                        f.extend(keys);
                        f.extend(value);
                        routes.entry(*rule).or_default().push(route);
                    }
                    Ref::Corr(k) => {
                        if let Some(list) = corr_routes.get_mut(*k) {
                            list.push(route);
                        }
                    }
                }
            }
        }
        let mut order = Vec::with_capacity(n);
        let mut done = vec![false; n];
        for _round in 0..=n {
            let mut progressed = false;
            for ci in 0..n {
                if done[ci] {
                    continue;
                }
                let ready = inner.correlations[ci].refs.iter().all(|r| match r {
                    Ref::Rule(_) => true,
                    Ref::Corr(k) => done.get(*k).copied().unwrap_or(true),
                });
                if ready {
                    done[ci] = true;
                    order.push(ci);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
        let any = wanted.iter().any(|w| *w);
        let fixed = u32::try_from(strings.len()).unwrap_or(u32::MAX);
        Correlator {
            plan: Arc::new(Plan {
                inner,
                wanted,
                wanted_fields,
                any,
            }),
            strings,
            fixed,
            empty,
            states: (0..n).map(|_| CorrState::default()).collect(),
            routes,
            corr_routes,
            group_names,
            order,
            frontier: None,
        }
    }

    /// What this correlator observes of each event, to compute observations elsewhere.
    pub(crate) fn plan(&self) -> Arc<Plan> {
        Arc::clone(&self.plan)
    }

    pub(super) fn inner(&self) -> &Inner {
        &self.plan.inner
    }

    /// Record the correlation-relevant matches of one event (`fired`: what `scan` reported
    /// for it; rules that only feed correlations are evaluated here).
    pub fn observe(&mut self, ev: &Event, fired: &[Detection]) {
        let _ = fired;
        let o = self.extract(ev);
        self.record(o);
    }

    /// What `ev` contributes to the correlations, without recording it: safe to call from
    /// several threads; pass the result to [`Correlator::record`].
    #[must_use]
    pub fn extract(&self, ev: &Event) -> Observation {
        self.plan.extract(ev)
    }

    /// Add what [`Correlator::extract`] (or a scanner) found for one event. Events may come
    /// in any order.
    pub fn record(&mut self, o: Observation) {
        let Some(loc) = o.loc else { return };
        let packed = PackedLocation::new(&loc);
        for (ri, values) in o.hits {
            let Some(routes) = self.routes.get(&ri) else {
                continue;
            };
            let names = self
                .plan
                .wanted_fields
                .get(&ri)
                .map_or(&[][..], Vec::as_slice);
            let mut fields: Vec<(Sym, Sym)> = Vec::with_capacity(names.len());
            for (&(_, name), v) in names.iter().zip(values) {
                if let Some(v) = v {
                    fields.push((name, self.strings.intern(&v)));
                }
            }
            let get = |n: Sym| fields.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
            let mut items = Vec::with_capacity(routes.len());
            for route in routes {
                let key: Box<[Sym]> = route
                    .keys
                    .iter()
                    .map(|&n| get(n).unwrap_or(self.empty))
                    .collect();
                let value = route.value.and_then(get);
                let num = self.number_of(route.ci, value);
                items.push((
                    route.ci,
                    key,
                    Item {
                        t: o.t,
                        r: route.r,
                        value,
                        num,
                        locs: Locs::One(packed.clone()),
                    },
                ));
            }
            for (ci, key, item) in items {
                self.add(ci, key, item);
            }
        }
    }

    /// The value as a number, for the numeric kinds.
    fn number_of(&self, ci: usize, value: Option<Sym>) -> Option<f64> {
        let kind = self.inner().correlations.get(ci)?.kind;
        if !numeric(kind) {
            return None;
        }
        crate::doc::parse_num(self.strings.text(value?))
    }

    fn add(&mut self, ci: usize, key: Box<[Sym]>, item: Item) {
        let Some(c) = self.plan.inner.correlations.get(ci) else {
            return;
        };
        let Some(st) = self.states.get_mut(ci) else {
            return;
        };
        match st.groups.get_mut(&key) {
            Some(g) => g.pending.push(item),
            None => {
                st.groups.insert(
                    key.clone(),
                    Group {
                        window: Window::new(c),
                        pending: vec![item],
                        live: Vec::new(),
                    },
                );
            }
        }
        // Before the first advance every group is visited then: no need to track them.
        if self.frontier.is_some() {
            st.dirty.insert(key);
        }
    }

    /// The frontier: matches at or before it are settled.
    #[must_use]
    pub fn frontier(&self) -> Option<Timestamp> {
        self.frontier.map(Timestamp::from_nanos)
    }

    /// Move the frontier to `frontier` (it never moves back): every match at or before it is
    /// stepped into its group's window for good, and what fires is settled. With
    /// `speculate`, the matches after it are stepped through a copy of the window, and what
    /// fires there is raised too, to be confirmed or withdrawn by later advances.
    pub fn advance(&mut self, frontier: Timestamp, speculate: bool, out: &mut CorrelationChanges) {
        let f = frontier.nanos();
        let old = self.frontier;
        let f = old.map_or(f, |o| o.max(f));
        if old.is_none() {
            for st in &mut self.states {
                let keys: Vec<Box<[Sym]>> = st.groups.keys().cloned().collect();
                st.dirty.extend(keys);
            }
        }
        self.frontier = Some(f);
        for oi in 0..self.order.len() {
            let ci = self.order[oi];
            self.advance_one(ci, old, f, speculate, out);
        }
    }

    fn advance_one(
        &mut self,
        ci: usize,
        old: Option<i64>,
        f: i64,
        speculate: bool,
        out: &mut CorrelationChanges,
    ) {
        let inner = Arc::clone(&self.plan.inner);
        let Some(c) = inner.correlations.get(ci) else {
            return;
        };
        let Some(st) = self.states.get_mut(ci) else {
            return;
        };
        let mut keys: Vec<Box<[Sym]>> = st.dirty.drain().collect();
        // Only the order of what is pushed to chained correlations could depend on this:
        // keep it fixed anyway.
        keys.sort_unstable();
        let mut chained: Vec<(Box<[Sym]>, Fired)> = Vec::new();
        let mut still_dirty = Vec::new();
        for key in keys {
            let Some(st) = self.states.get_mut(ci) else {
                return;
            };
            let Some(g) = st.groups.get_mut(&key) else {
                continue;
            };
            let (mut ready, rest): (Vec<Item>, Vec<Item>) = std::mem::take(&mut g.pending)
                .into_iter()
                .partition(|i| i.t <= f);
            g.pending = rest;
            ready.sort_by(Item::cmp_order);
            let mut settled: Vec<(Fired, bool)> = Vec::new();
            for item in ready {
                let late = old.is_some_and(|o| item.t <= o);
                let fired = if late && g.window.newest().is_some_and(|n| n > item.t) {
                    g.window.step_late(c, item)
                } else {
                    g.window.step(c, item)
                };
                if let Some(fired) = fired {
                    settled.push((fired, late));
                }
            }
            let mut speculative = Vec::new();
            if speculate && !g.pending.is_empty() {
                g.pending.sort_by(Item::cmp_order);
                let mut w = g.window.clone();
                for item in &g.pending {
                    if let Some(fired) = w.step(c, item.clone()) {
                        speculative.push(fired);
                    }
                }
            }
            if !g.pending.is_empty() {
                still_dirty.push(key.clone());
            }
            let old_live = std::mem::take(&mut g.live);
            let mut now: Vec<String> = Vec::new();
            for (fired, late) in &settled {
                if let Some(d) = self.detection(ci, &key, fired) {
                    now.push(d.id.clone());
                    out.raised.push(Raised {
                        detection: d,
                        settled: true,
                        late: *late,
                    });
                }
            }
            let mut live = Vec::new();
            for fired in &speculative {
                if let Some(d) = self.detection(ci, &key, fired) {
                    now.push(d.id.clone());
                    live.push(d.id.clone());
                    out.raised.push(Raised {
                        detection: d,
                        settled: false,
                        late: false,
                    });
                }
            }
            out.withdrawn
                .extend(old_live.into_iter().filter(|id| !now.contains(id)));
            if let Some(g) = self
                .states
                .get_mut(ci)
                .and_then(|st| st.groups.get_mut(&key))
            {
                g.live = live;
            }
            chained.extend(settled.into_iter().map(|(fired, _)| (key.clone(), fired)));
        }
        if let Some(st) = self.states.get_mut(ci) {
            st.dirty.extend(still_dirty);
        }
        self.chain(ci, chained);
    }

    /// Feed the settled detections of correlation `ci` to the correlations that use it.
    fn chain(&mut self, ci: usize, fired: Vec<(Box<[Sym]>, Fired)>) {
        if fired.is_empty() {
            return;
        }
        let Some(names) = self.group_names.get(ci).cloned() else {
            return;
        };
        let routes: Vec<(usize, u32, Vec<Sym>, Option<Sym>)> = self
            .corr_routes
            .get(ci)
            .map(|rs| {
                rs.iter()
                    .map(|r| (r.ci, r.r, r.keys.clone(), r.value))
                    .collect()
            })
            .unwrap_or_default();
        if routes.is_empty() {
            return;
        }
        for (key, fired) in fired {
            let fields: Vec<(Sym, Sym)> = names.iter().copied().zip(key.iter().copied()).collect();
            let get = |n: Sym| fields.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
            for (dci, r, keys, value) in &routes {
                let dkey: Box<[Sym]> = keys.iter().map(|&n| get(n).unwrap_or(self.empty)).collect();
                let value = value.and_then(get);
                let num = self.number_of(*dci, value);
                let item = Item {
                    t: fired.t,
                    r: *r,
                    value,
                    num,
                    locs: Locs::Many(fired.locs.clone()),
                };
                let Some(c) = self.plan.inner.correlations.get(*dci) else {
                    continue;
                };
                let Some(st) = self.states.get_mut(*dci) else {
                    continue;
                };
                let g = st.groups.entry(dkey.clone()).or_insert_with(|| Group {
                    window: Window::new(c),
                    pending: Vec::new(),
                    live: Vec::new(),
                });
                g.pending.push(item);
                st.dirty.insert(dkey);
            }
        }
    }

    /// The detection of a window of correlation `ci`, group `key`, that fired.
    fn detection(&self, ci: usize, key: &[Sym], fired: &Fired) -> Option<Detection> {
        let inner = self.inner();
        let c: &CompiledCorrelation = inner.correlations.get(ci)?;
        let info = inner.infos.get(c.info)?;
        let mut d = Detection::new(
            info.id.clone(),
            info.title.clone(),
            info.level,
            DetectionSource::Sigma,
            Timestamp::from_nanos(fired.t),
        );
        d.events = fired.locs.iter().map(PackedLocation::location).collect();
        d.tags.clone_from(&info.tags);
        let group: Vec<String> = c
            .group_by
            .iter()
            .zip(key.iter())
            .map(|(k, v)| format!("{k}={}", self.strings.text(*v)))
            .collect();
        d.explanation = format!(
            "{} correlation over {} record(s) within {} s{}",
            c.kind.as_str(),
            fired.locs.len(),
            c.span_ns / 1_000_000_000,
            if group.is_empty() {
                String::new()
            } else {
                format!(" for {}", group.join(", "))
            }
        );
        let first_t = fired.first_t.to_string();
        let first = d.events.first().map(record_identity).unwrap_or_default();
        let mut parts: Vec<&str> = vec![&info.id, "correlation", &first_t, &first];
        parts.extend(key.iter().map(|v| self.strings.text(*v)));
        d.id = detection_id(&parts);
        Some(d)
    }

    /// Settle everything and return every detection not raised before as settled, in the
    /// output order: what a run over a finite input reports at its end.
    #[must_use]
    pub fn finish(mut self) -> Vec<Detection> {
        let mut out = CorrelationChanges::default();
        self.advance(Timestamp::from_nanos(i64::MAX), false, &mut out);
        let mut result: Vec<Detection> = out.raised.into_iter().map(|r| r.detection).collect();
        stormwatch_core::sort_detections(&mut result);
        result
    }

    /// Forget groups that nothing can fire from any more: no match waits in them, none of
    /// their speculative detections is live, and every match in their window is older than
    /// the frontier by more than the correlation's timespan (the next match would push them
    /// all out). When most strings are no longer used, the strings are compacted. Returns
    /// how many groups were dropped.
    pub fn evict(&mut self) -> usize {
        let Some(f) = self.frontier else { return 0 };
        let inner = Arc::clone(&self.plan.inner);
        let mut dropped = 0;
        for (ci, st) in self.states.iter_mut().enumerate() {
            let Some(c) = inner.correlations.get(ci) else {
                continue;
            };
            let before = st.groups.len();
            let oldest = f.saturating_sub(c.span_ns);
            st.groups.retain(|_, g| {
                !(g.pending.is_empty()
                    && g.live.is_empty()
                    && g.window.newest().is_none_or(|n| n < oldest))
            });
            dropped += before - st.groups.len();
        }
        let live = self.live_symbols();
        if self.strings.len() > 1024 + 2 * (live + self.fixed as usize) {
            self.compact();
        }
        dropped
    }

    /// How many distinct strings the groups use (an upper bound: repeats are counted).
    fn live_symbols(&self) -> usize {
        self.states
            .iter()
            .flat_map(|st| st.groups.iter())
            .map(|(k, g)| {
                k.len()
                    + g.window.values().count()
                    + g.pending.iter().filter(|i| i.value.is_some()).count()
            })
            .sum()
    }

    /// Number of groups held, and of matches waiting or in windows (for metrics).
    #[must_use]
    pub fn size(&self) -> (usize, usize) {
        let groups = self.states.iter().map(|s| s.groups.len()).sum();
        let items = self
            .states
            .iter()
            .flat_map(|s| s.groups.values())
            .map(|g| g.pending.len() + g.window.items.len())
            .sum();
        (groups, items)
    }
}
