//! Correlation rules (`event_count`, `value_count`, `temporal`, `temporal_ordered`,
//! `value_sum`, `value_avg`, `value_percentile`, `value_median`), decided as matches arrive.
//!
//! Windows: for each group, a window holds the matches of the last `timespan` before (and
//! including) the newest one; the condition is tested whenever a match enters the window. When
//! it holds, one detection is emitted and the window restarts after that match. Matches are
//! stepped through in time order, so input order does not matter.
//!
//! Streaming: matches wait in their group until the *frontier* passes them (the caller's
//! watermark minus its lateness bound: nothing older can still arrive on time); then they are
//! stepped into the group's window for good and what fires is *settled*. Matches beyond the
//! frontier can be stepped through a copy of the window to fire early (*speculative*
//! detections): a later match that arrives out of order may change what fires, and the
//! detections that no longer hold are withdrawn. A run that never advances the frontier and
//! then finishes (`hunt`) steps everything through once, in time order.
//!
//! Matches that arrive after the frontier passed their time are still stepped in, in their
//! place in time order, and what they make fire is marked late.
//!
//! Detection ids ([`stormwatch_core::detection_id`]) are made of the rule, the group's values,
//! the time of the window's oldest match and its first record: the same matches give the same
//! ids whatever their arrival order.

mod backlog;
mod locs;
mod snapshot;
mod stream;
#[cfg(test)]
mod tests;
mod window;

use std::collections::HashMap;
use std::sync::Arc;

use rsigma_parser::{ConditionExpr, ConditionOperator, CorrelationType};
use stormwatch_core::{Event, Location};

use crate::doc::{FieldPath, Leaf, lookup, to_leaf};
use crate::engine::Inner;

pub use snapshot::{CORRELATOR_SNAPSHOT_VERSION, RestoreReport};
pub use stream::{CorrelationChanges, Correlator, Raised};

/// Most record locations kept per correlation detection.
const MAX_LOCS: usize = 1000;

/// Symbol of an interned string.
type Sym = u32;

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
    pub(crate) fn field_for(&self, g: &str, r: usize) -> String {
        self.aliases
            .get(g)
            .and_then(|m| m.get(&r))
            .cloned()
            .unwrap_or_else(|| g.to_string())
    }
}

/// What one event contributes to the correlations. [`Correlator::extract`] computes it
/// without changing the correlator (so it can run on many threads at once);
/// [`Correlator::record`] adds it, in input order.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub(crate) t: i64,
    pub(crate) loc: Option<Location>,
    /// (rule, values of the rule's wanted fields, in order; `None` when absent).
    pub(crate) hits: Vec<(usize, Vec<Option<String>>)>,
}

/// What a correlator observes of each event, fixed when it is made: shared with the threads
/// that compute observations while the correlator records.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) inner: Arc<Inner>,
    /// Rules referenced by some correlation.
    pub(crate) wanted: Vec<bool>,
    /// Fields to record per wanted rule, with the symbol of the lower-cased name.
    pub(crate) wanted_fields: HashMap<usize, Vec<(FieldPath, Sym)>>,
    pub(crate) any: bool,
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
