//! The correlator: every correlation's groups, their windows and waiting matches, and the
//! frontier that settles them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use stormwatch_core::{
    Detection, DetectionSource, Event, Interner, Timestamp, detection_id, record_identity,
};

use super::backlog::Backlog;
use super::locs::LocTable;
use super::window::{Cx, Fired, Item, Locs, Window};
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
/// settled yet, the speculation over them, and the speculative detections last raised.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub(super) window: Window,
    /// Matches not settled yet, in step order unless `disordered`.
    pub(super) pending: Vec<Item>,
    /// Matches that came before the first advance, packed; they come after `pending` and
    /// join it when the group is first stepped.
    pub(super) backlog: Backlog,
    /// A match came in before one already waiting: `pending` must be sorted again and the
    /// speculation started over.
    pub(super) disordered: bool,
    /// The speculation, kept from one advance to the next while matches come in order.
    pub(super) spec: Option<Box<Spec>>,
    /// Ids of the speculative detections raised from this group that still hold.
    pub(super) live: Vec<String>,
    /// The time it is filed under in its correlation's `due` (its earliest waiting match).
    pub(super) due_at: Option<i64>,
}

impl Group {
    pub(super) fn new(c: &CompiledCorrelation) -> Self {
        Group {
            window: Window::new(c),
            pending: Vec::new(),
            backlog: Backlog::default(),
            disordered: false,
            spec: None,
            live: Vec::new(),
            due_at: None,
        }
    }
}

/// The group's window with the first `stepped` waiting matches stepped in, and what fired
/// there and has not settled yet.
#[derive(Debug, Clone)]
pub(super) struct Spec {
    window: Window,
    stepped: usize,
    fired: Vec<Fired>,
}

/// One correlation's groups.
#[derive(Debug, Default)]
pub(super) struct CorrState {
    /// Boxed: a map's free slots then cost a pointer each, not a group.
    pub(super) groups: HashMap<Box<[Sym]>, Box<Group>>,
    /// Groups that got matches since the last advance (tracked once the frontier is set).
    pub(super) touched: HashSet<Box<[Sym]>>,
    /// Groups with waiting matches, by the time of their earliest one.
    pub(super) due: BTreeSet<(i64, Box<[Sym]>)>,
}

impl CorrState {
    /// Track every group with waiting matches (when the frontier is first set, and after a
    /// restore).
    pub(super) fn track_all(&mut self, table: &LocTable) {
        self.touched.clear();
        self.due.clear();
        for (k, g) in &mut self.groups {
            if g.pending.is_empty() && g.backlog.is_empty() {
                continue;
            }
            g.spec = None;
            if g.backlog.is_empty() {
                g.pending.sort_by(|a, b| a.cmp_order(b, table));
                g.disordered = false;
                g.due_at = g.pending.first().map(|i| i.t);
            } else {
                // Sorted when the group is stepped, with its backlog unpacked then.
                g.disordered = true;
                let first = g.pending.iter().map(|i| i.t).min();
                g.due_at = first.into_iter().chain(g.backlog.min_t()).min();
            }
            if let Some(t) = g.due_at {
                self.due.insert((t, k.clone()));
            }
            self.touched.insert(k.clone());
        }
    }
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
    /// The files and record ids of the locations the matches hold.
    pub(super) table: LocTable,
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

impl Correlator {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        let mut wanted = vec![false; inner.rules.len()];
        let mut wanted_fields: HashMap<usize, Vec<(FieldPath, Sym)>> = HashMap::new();
        let mut strings = Interner::default();
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
                let Some(ri32) = u32::try_from(i).ok().filter(|&r| r < Item::MAX_REFS) else {
                    continue;
                };
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
            table: LocTable::default(),
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
        let packed = self.table.pack(&loc);
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
                // An event without a group-by field belongs to no group (as in pySigma):
                // grouping it under an empty value would tie together every record that
                // lacks the field, e.g. all app-only mail reads (no SessionId) of a tenant.
                let Some(key) = route
                    .keys
                    .iter()
                    .map(|&n| get(n))
                    .collect::<Option<Box<[Sym]>>>()
                else {
                    continue;
                };
                let value = route.value.and_then(get);
                items.push((
                    route.ci,
                    key,
                    Item::new(o.t, route.r, value, Locs::One(packed)),
                ));
            }
            for (ci, key, item) in items {
                self.add(ci, key, item);
            }
        }
    }

    fn add(&mut self, ci: usize, key: Box<[Sym]>, item: Item) {
        let Some(c) = self.plan.inner.correlations.get(ci) else {
            return;
        };
        let Some(st) = self.states.get_mut(ci) else {
            return;
        };
        let tracking = self.frontier.is_some();
        let g = match st.groups.get_mut(&key) {
            Some(g) => g,
            None => st
                .groups
                .entry(key.clone())
                .or_insert_with(|| Box::new(Group::new(c))),
        };
        // Before the first advance nothing is tracked: every group is visited then.
        if !tracking {
            if let Err(item) = g.backlog.push(item) {
                g.backlog.drain_into(&mut g.pending);
                g.pending.push(item);
            }
            return;
        }
        if g.pending
            .last()
            .is_some_and(|l| item.cmp_order(l, &self.table).is_lt())
        {
            g.disordered = true;
        }
        let t = item.t;
        g.pending.push(item);
        // The group's place in `due`: by its earliest waiting match.
        let before = g.due_at;
        if before.is_none_or(|b| t < b) {
            if let Some(b) = before {
                st.due.remove(&(b, key.clone()));
            }
            g.due_at = Some(t);
            st.due.insert((t, key.clone()));
        }
        st.touched.insert(key);
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
                st.track_all(&self.table);
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
        // The groups with new matches, and those whose earliest waiting match the frontier
        // has passed; in the order of their keys' text (what is fed to chained correlations
        // and the order of what is raised depend on it; symbols are numbered in the order
        // strings were first seen, which a restore does not keep).
        let mut visit: HashSet<Box<[Sym]>> = st.touched.drain().collect();
        while st.due.first().is_some_and(|(t, _)| *t <= f) {
            if let Some((_, k)) = st.due.pop_first() {
                if let Some(g) = st.groups.get_mut(&k) {
                    g.due_at = None;
                }
                visit.insert(k);
            }
        }
        let mut visit: Vec<Box<[Sym]>> = visit.into_iter().collect();
        let strings = &self.strings;
        visit.sort_unstable_by(|a, b| {
            a.iter()
                .map(|&s| strings.text(s))
                .cmp(b.iter().map(|&s| strings.text(s)))
        });
        let mut chained: Vec<(Box<[Sym]>, Fired)> = Vec::new();
        for key in visit {
            let Some(st) = self.states.get_mut(ci) else {
                return;
            };
            let Some(g) = st.groups.get_mut(&key) else {
                continue;
            };
            let cx = Cx {
                c,
                strings: &self.strings,
                table: &self.table,
            };
            let (settled, speculative, fresh) = step_group(cx, g, old, f, speculate);
            if let Some(t) = g.due_at.take() {
                st.due.remove(&(t, key.clone()));
            }
            g.due_at = g.pending.first().map(|i| i.t);
            if let Some(t) = g.due_at {
                st.due.insert((t, key.clone()));
            }
            let mut settled_ids: Vec<String> = Vec::new();
            for (fired, late) in &settled {
                if let Some(d) = self.detection(ci, &key, fired) {
                    settled_ids.push(d.id.clone());
                    out.raised.push(Raised {
                        detection: d,
                        settled: true,
                        late: *late,
                    });
                }
            }
            let mut spec_ids = Vec::new();
            for fired in &speculative {
                if let Some(d) = self.detection(ci, &key, fired) {
                    spec_ids.push(d.id.clone());
                    out.raised.push(Raised {
                        detection: d,
                        settled: false,
                        late: false,
                    });
                }
            }
            let Some(g) = self
                .states
                .get_mut(ci)
                .and_then(|st| st.groups.get_mut(&key))
            else {
                continue;
            };
            if fresh {
                // Speculated from scratch: what was live and is neither settled nor
                // speculated again no longer holds.
                let old_live = std::mem::take(&mut g.live);
                out.withdrawn.extend(
                    old_live
                        .into_iter()
                        .filter(|id| !settled_ids.contains(id) && !spec_ids.contains(id)),
                );
                g.live = spec_ids;
            } else {
                g.live.retain(|id| !settled_ids.contains(id));
                g.live.extend(spec_ids);
            }
            chained.extend(settled.into_iter().map(|(fired, _)| (key.clone(), fired)));
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
                let Some(dkey) = keys.iter().map(|&n| get(n)).collect::<Option<Box<[Sym]>>>()
                else {
                    continue;
                };
                let value = value.and_then(get);
                let item = Item::new(fired.t, *r, value, Locs::Many(fired.locs.clone().into()));
                self.add(*dci, dkey, item);
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
        d.events = fired.locs.iter().map(|l| self.table.location(l)).collect();
        d.tags.clone_from(&info.tags);
        let group: Vec<String> = c
            .group_by
            .iter()
            .zip(key.iter())
            .map(|(k, v)| format!("{k}={}", self.strings.text(*v)))
            .collect();
        let condition: Vec<String> = c
            .preds
            .iter()
            .map(|(op, n)| format!("{} {n}", format!("{op:?}").to_lowercase()))
            .collect();
        d.explanation = format!(
            "{} correlation over {} record(s) within {} s{}{}{}",
            c.kind.as_str(),
            fired.locs.len(),
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
                    && g.backlog.is_empty()
                    && g.live.is_empty()
                    && g.window.newest().is_none_or(|n| n < oldest))
            });
            dropped += before - st.groups.len();
        }
        let (live, locs) = self.live_symbols();
        if self.strings.len() > 1024 + 2 * (live + self.fixed as usize)
            || self.table.len() > 1024 + 2 * locs
        {
            self.compact();
        }
        dropped
    }

    /// How many distinct strings the groups use, and how many distinct files and record
    /// ids their locations (upper bounds: repeats are counted).
    fn live_symbols(&self) -> (usize, usize) {
        let mut strings = 0;
        let mut locs = 0;
        for (k, g) in self.states.iter().flat_map(|st| st.groups.iter()) {
            strings += k.len()
                + g.window.values().count()
                + g.pending.iter().filter(|i| i.value().is_some()).count()
                + g.backlog.iter().filter(|i| i.value().is_some()).count();
            locs += g
                .window
                .items
                .iter()
                .map(|(_, i)| i)
                .chain(&g.pending)
                .map(|i| 2 * i.locs.as_slice().len())
                .sum::<usize>()
                + 2 * g.backlog.len();
        }
        (strings, locs)
    }

    /// Number of groups held, and of matches waiting or in windows (for metrics).
    #[must_use]
    pub fn size(&self) -> (usize, usize) {
        let groups = self.states.iter().map(|s| s.groups.len()).sum();
        let items = self
            .states
            .iter()
            .flat_map(|s| s.groups.values())
            .map(|g| g.pending.len() + g.backlog.len() + g.window.items.len())
            .sum();
        (groups, items)
    }
}

/// Step one group: settle its waiting matches the frontier `f` has passed (those at or before
/// `old`, the previous frontier, came late), then, with `speculate`, step the rest through
/// the speculation. Returns what settled (with whether it came late), what the speculation
/// fired that is new (all it holds when `fresh`), and whether it was speculated from scratch.
fn step_group(
    cx: Cx<'_>,
    g: &mut Group,
    old: Option<i64>,
    f: i64,
    speculate: bool,
) -> (Vec<(Fired, bool)>, Vec<Fired>, bool) {
    if !g.backlog.is_empty() {
        g.backlog.drain_into(&mut g.pending);
        g.disordered = true;
    }
    if g.disordered {
        g.pending.sort_by(|a, b| a.cmp_order(b, cx.table));
        g.disordered = false;
        g.spec = None;
    }
    let ready = g.pending.partition_point(|i| i.t <= f);
    let mut settled = Vec::new();
    if ready > 0 {
        // The speculation stays good while it has stepped through at least these matches:
        // settling them steps the window through the same matches in the same order.
        match &mut g.spec {
            Some(spec) if spec.stepped >= ready => {
                spec.stepped -= ready;
                spec.fired.retain(|fr| fr.t > f);
            }
            _ => g.spec = None,
        }
        for item in g.pending.drain(..ready) {
            let late = old.is_some_and(|o| item.t <= o);
            let fired = if late && g.window.newest().is_some_and(|n| n > item.t) {
                g.spec = None;
                g.window.step_late(cx, item)
            } else {
                if late {
                    g.spec = None;
                }
                g.window.step(cx, item)
            };
            if let Some(fired) = fired {
                settled.push((fired, late));
            }
        }
    }
    if g.pending.is_empty() {
        // Nothing waits: what was live either settled just now or no longer holds.
        g.spec = None;
        // A run that steps everything at its end holds no buffer it no longer needs.
        g.pending = Vec::new();
        return (settled, Vec::new(), true);
    }
    if !speculate {
        return (settled, Vec::new(), false);
    }
    let fresh = g.spec.is_none();
    let spec = g.spec.get_or_insert_with(|| {
        Box::new(Spec {
            window: g.window.clone(),
            stepped: 0,
            fired: Vec::new(),
        })
    });
    let mut new = Vec::new();
    for item in g.pending.iter().skip(spec.stepped) {
        if let Some(fired) = spec.window.step(cx, item.clone()) {
            new.push(fired);
        }
    }
    spec.stepped = g.pending.len();
    spec.fired.extend(new.iter().cloned());
    let speculative = if fresh { spec.fired.clone() } else { new };
    (settled, speculative, fresh)
}
