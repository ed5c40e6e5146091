//! The engine: compiled rules grouped by log source, with prefilters, and the scan loop.

use std::collections::HashMap;
use std::sync::Arc;

use stormwatch_core::SourceKind;
use stormwatch_core::{Detection, DetectionSource, Event, Level, Timestamp};

use crate::correlate::CompiledCorrelation;
use crate::doc::Leaf;
use crate::logsource::WinConstraint;
use crate::matcher::{Ctx, FieldId, FieldTable, Node};
use crate::pipeline::Pipeline;
use crate::prefilter::{Prefilter, json_literal, text_searchable};

/// Options for loading and running rules.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Offer every record to every rule, whatever its log source (Windows channel and event-id
    /// constraints are dropped too), for data whose shape is unknown or mislabelled.
    pub ignore_logsource: bool,
    /// Processing pipelines applied to every rule (in priority order).
    pub pipelines: Vec<Pipeline>,
    /// Placeholder values for the `expand` modifier (added to those of the pipelines' `vars`).
    pub placeholders: HashMap<String, Vec<String>>,
}

/// What kind of Sigma document a loaded rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// A detection rule.
    Detection,
    /// A correlation (meta) rule.
    Correlation,
    /// A filter (meta) rule.
    Filter,
}

/// A loaded rule's log source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSourceInfo {
    /// `product`.
    pub product: Option<String>,
    /// `category`.
    pub category: Option<String>,
    /// `service`.
    pub service: Option<String>,
}

/// What the engine knows about one loaded rule.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    /// Sigma `id`, or the file stem when the rule has none.
    pub id: String,
    /// Sigma `name` (used by correlations to reference rules), when set.
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `level` (informational when absent).
    pub level: Level,
    /// `status`, when set.
    pub status: Option<String>,
    /// Log source.
    pub logsource: LogSourceInfo,
    /// File (or source name) it came from.
    pub file: String,
    /// Detection, correlation or filter.
    pub kind: RuleKind,
    /// `tags`.
    pub tags: Vec<String>,
}

/// A compiled detection rule.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    pub(crate) info: usize,
    /// (constraint, matcher) per log-source variant.
    pub(crate) variants: Vec<(Option<WinConstraint>, Node)>,
    /// Source kinds besides Generic that receive it.
    pub(crate) kinds: Vec<SourceKind>,
    /// Prefilter literals (JSON text form), `None` when the rule must always be evaluated.
    pub(crate) literals: Option<Vec<String>>,
    /// Only feeds correlations (`generate: false`): not reported by `scan`.
    pub(crate) hidden: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Group {
    pub(crate) rules: Vec<u32>,
    pub(crate) always: Vec<u32>,
    pub(crate) prefilter: Option<Prefilter>,
    pub(crate) win: Option<WinIndex>,
}

/// Windows dispatch: group-local rule indexes by (channel, event id), by channel only, and
/// rules without a channel constraint.
#[derive(Debug, Default)]
pub(crate) struct WinIndex {
    by_key: HashMap<(String, i64), Vec<u32>>,
    by_channel: HashMap<String, Vec<u32>>,
    free: Vec<u32>,
}

impl WinIndex {
    fn build(rules: &[CompiledRule], members: &[u32]) -> WinIndex {
        let mut w = WinIndex::default();
        for (local, &ri) in members.iter().enumerate() {
            let local = u32::try_from(local).unwrap_or(u32::MAX);
            let Some(r) = rules.get(ri as usize) else {
                continue;
            };
            let mut free = false;
            for (c, _) in &r.variants {
                match c {
                    Some(c) if !c.channels.is_empty() => {
                        for ch in &c.channels {
                            if c.event_ids.is_empty() {
                                w.by_channel.entry(ch.clone()).or_default().push(local);
                            } else {
                                for id in &c.event_ids {
                                    w.by_key.entry((ch.clone(), *id)).or_default().push(local);
                                }
                            }
                        }
                    }
                    _ => free = true,
                }
            }
            if free {
                w.free.push(local);
            }
        }
        for v in w.by_key.values_mut().chain(w.by_channel.values_mut()) {
            v.dedup();
        }
        w
    }

    /// Candidate rules for an event of this channel and event id (sorted, deduplicated).
    fn candidates(&self, channel: &str, event_id: Option<i64>, out: &mut Vec<u32>) {
        out.extend_from_slice(&self.free);
        if let Some(id) = event_id
            && let Some(v) = self.by_key.get(&(channel.to_string(), id))
        {
            out.extend_from_slice(v);
        }
        if let Some(v) = self.by_channel.get(channel) {
            out.extend_from_slice(v);
        }
        out.sort_unstable();
        out.dedup();
    }
}

#[derive(Debug)]
pub(crate) struct WinFields {
    pub(crate) channel: FieldId,
    pub(crate) event_id: FieldId,
    pub(crate) extra: HashMap<&'static str, FieldId>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) infos: Vec<RuleInfo>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) fields: FieldTable,
    pub(crate) groups: HashMap<SourceKind, Group>,
    pub(crate) win: WinFields,
    pub(crate) correlations: Vec<CompiledCorrelation>,
    pub(crate) ignore_logsource: bool,
}

/// The compiled rule set: immutable, `Send + Sync`; `scan` may run on many threads at once.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// Statistics about the compiled rule set (for `rules list` and benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineStats {
    /// Detection rules compiled.
    pub detection_rules: usize,
    /// Correlation rules compiled.
    pub correlation_rules: usize,
    /// Distinct fields the rules read.
    pub fields: usize,
    /// Per source kind: (rules offered, rules always evaluated, prefilter literals).
    pub groups: Vec<(SourceKind, usize, usize, usize)>,
}

pub(crate) const ALL_KINDS: [SourceKind; 7] = [
    SourceKind::Ual,
    SourceKind::SentinelOfficeActivity,
    SourceKind::DefenderCloudAppEvents,
    SourceKind::EntraSignIn,
    SourceKind::EntraAudit,
    SourceKind::WindowsEvent,
    SourceKind::Generic,
];

impl Inner {
    /// Group rules by source kind and build the prefilters.
    pub(crate) fn build_groups(&mut self) {
        self.fields.build_batches();
        let mut groups: HashMap<SourceKind, Group> = HashMap::new();
        for kind in ALL_KINDS {
            let mut g = Group::default();
            let mut lits: Vec<(u32, Vec<String>)> = Vec::new();
            for (i, r) in self.rules.iter().enumerate() {
                let offered =
                    self.ignore_logsource || kind == SourceKind::Generic || r.kinds.contains(&kind);
                if !offered {
                    continue;
                }
                let local = u32::try_from(g.rules.len()).unwrap_or(u32::MAX);
                g.rules.push(u32::try_from(i).unwrap_or(u32::MAX));
                match &r.literals {
                    Some(l) => lits.push((local, l.clone())),
                    None => g.always.push(local),
                }
            }
            g.prefilter = Prefilter::build(&lits);
            if !self.ignore_logsource
                && matches!(kind, SourceKind::WindowsEvent | SourceKind::Generic)
            {
                g.win = Some(WinIndex::build(&self.rules, &g.rules));
            }
            if g.prefilter.is_none() {
                // Nothing indexed: every rule is evaluated.
                g.always = (0..u32::try_from(g.rules.len()).unwrap_or(0)).collect();
            }
            groups.insert(kind, g);
        }
        self.groups = groups;
    }

    fn constraint_ok(&self, c: &WinConstraint, ctx: &mut Ctx<'_>) -> bool {
        if !c.channels.is_empty()
            && let Some(ch) = ctx.first_text_lower(self.win.channel)
            && !c.channels.iter().any(|x| x == ch)
        {
            return false;
        }
        if !c.event_ids.is_empty() {
            let (a, b, present) = ctx.resolve(self.win.event_id);
            if !present {
                return false;
            }
            let _ = (a, b);
            let ok = ctx_leaves_num(ctx, self.win.event_id)
                .is_some_and(|n| c.event_ids.iter().any(|id| *id as f64 == n));
            if !ok {
                return false;
            }
        }
        for (field, value) in &c.extra {
            let Some(id) = self.win.extra.get(field) else {
                continue;
            };
            match ctx.first_text_lower(*id) {
                Some(v) if v.eq_ignore_ascii_case(value) => {}
                _ => return false,
            }
        }
        true
    }

    /// Does detection rule `r` match the record in `ctx`?
    pub(crate) fn rule_matches(&self, r: &CompiledRule, ctx: &mut Ctx<'_>, windows: bool) -> bool {
        for (c, node) in &r.variants {
            if windows
                && !self.ignore_logsource
                && let Some(c) = c
                && !self.constraint_ok(c, ctx)
            {
                continue;
            }
            if ctx.eval(node) {
                return true;
            }
        }
        false
    }

    /// Rules of `ev`'s group that may match it (prefilter), as group-local marks; `None`
    /// means every rule of the group is a candidate.
    fn candidates(&self, g: &Group, raw: &str) -> Option<Vec<bool>> {
        let pf = g.prefilter.as_ref()?;
        if !text_searchable(raw.as_bytes()) {
            return None;
        }
        let mut marks = vec![false; g.rules.len()];
        for &a in &g.always {
            if let Some(m) = marks.get_mut(a as usize) {
                *m = true;
            }
        }
        let mut seen = vec![false; pf.pattern_count()];
        pf.mark(raw.as_bytes(), &mut marks, &mut seen);
        Some(marks)
    }

    /// Indexes of the detection rules matching `ev` (all of them, hidden included), pushed
    /// into `out`; `only` restricts to a set of rules.
    pub(crate) fn matching(&self, ev: &Event, only: Option<&[bool]>, out: &mut Vec<usize>) {
        let Some(g) = self.groups.get(&ev.source) else {
            return;
        };
        if g.rules.is_empty() {
            return;
        }
        let marks = self.candidates(g, &ev.raw);
        if let Some(m) = &marks
            && !m.iter().any(|x| *x)
        {
            return;
        }
        let Ok(root) = sonic_rs::from_str::<sonic_rs::Value>(&ev.raw) else {
            return;
        };
        let mut ctx = Ctx::new(&root, &self.fields);
        let windows = ev.source == SourceKind::WindowsEvent || ev.source == SourceKind::Generic;
        // Windows dispatch by channel and event id, when the record has a channel.
        let mut list: Vec<u32> = Vec::new();
        let dispatched = match &g.win {
            Some(w) => match ctx.first_text_lower(self.win.channel).map(str::to_string) {
                Some(ch) => {
                    let id = ctx_leaves_num(&mut ctx, self.win.event_id).map(|n| n as i64);
                    w.candidates(&ch, id, &mut list);
                    true
                }
                None => false,
            },
            None => false,
        };
        if !dispatched {
            list.extend(0..u32::try_from(g.rules.len()).unwrap_or(0));
        }
        for &li in &list {
            let li = li as usize;
            let Some(&ri) = g.rules.get(li) else { continue };
            if let Some(m) = &marks
                && !m.get(li).copied().unwrap_or(false)
            {
                continue;
            }
            let ri = ri as usize;
            if let Some(only) = only
                && !only.get(ri).copied().unwrap_or(false)
            {
                continue;
            }
            if let Some(r) = self.rules.get(ri)
                && self.rule_matches(r, &mut ctx, windows)
            {
                out.push(ri);
            }
        }
    }

    pub(crate) fn detection_for(&self, ri: usize, ev: &Event) -> Option<Detection> {
        let r = self.rules.get(ri)?;
        let info = self.infos.get(r.info)?;
        let mut d = Detection::new(
            info.id.clone(),
            info.title.clone(),
            info.level,
            DetectionSource::Sigma,
            ev.time.unwrap_or(Timestamp::EPOCH),
        );
        d.tags.clone_from(&info.tags);
        Some(d.with_context_of(ev))
    }
}

fn ctx_leaves_num(ctx: &mut Ctx<'_>, id: FieldId) -> Option<f64> {
    let t = ctx.first_text_lower(id)?;
    crate::doc::parse_num(t)
}

impl Engine {
    /// Everything loaded (detections, correlations, filters), in load order.
    #[must_use]
    pub fn rules(&self) -> &[RuleInfo] {
        &self.inner.infos
    }

    /// Match the detection rules against one event: one [`Detection`] per matching rule
    /// (rules that only feed correlations with `generate: false` are not reported).
    pub fn scan(&self, ev: &Event, out: &mut Vec<Detection>) {
        let mut hits = Vec::new();
        self.inner.matching(ev, None, &mut hits);
        for ri in hits {
            if self.inner.rules.get(ri).is_some_and(|r| r.hidden) {
                continue;
            }
            if let Some(d) = self.inner.detection_for(ri, ev) {
                out.push(d);
            }
        }
    }

    /// Ids of the detection rules matching `ev`, hidden ones included (for tests and tools).
    #[must_use]
    pub fn matching_rule_ids(&self, ev: &Event) -> Vec<&str> {
        let mut hits = Vec::new();
        self.inner.matching(ev, None, &mut hits);
        hits.iter()
            .filter_map(|&ri| self.inner.rules.get(ri))
            .filter_map(|r| self.inner.infos.get(r.info))
            .map(|i| i.id.as_str())
            .collect()
    }

    /// Correlation state for one run over events in input order.
    #[must_use]
    pub fn correlator(&self) -> crate::correlate::Correlator {
        crate::correlate::Correlator::new(self.inner.clone())
    }

    /// Statistics about the compiled rules.
    #[must_use]
    pub fn stats(&self) -> EngineStats {
        let mut groups: Vec<_> = self
            .inner
            .groups
            .iter()
            .map(|(k, g)| {
                (
                    *k,
                    g.rules.len(),
                    g.always.len(),
                    g.prefilter.as_ref().map_or(0, Prefilter::pattern_count),
                )
            })
            .collect();
        groups.sort_by_key(|g| g.0);
        EngineStats {
            detection_rules: self.inner.rules.len(),
            correlation_rules: self.inner.correlations.len(),
            fields: self.inner.fields.len(),
            groups,
        }
    }
}

/// JSON-text literals for the prefilter of a compiled rule (all variants must have some).
pub(crate) fn rule_literals(variants: &[(Option<WinConstraint>, Node)]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for (_, node) in variants {
        let lits = crate::matcher::required_literals(node)?;
        for l in lits {
            out.push(json_literal(&l)?);
        }
    }
    out.sort();
    out.dedup();
    if out.is_empty() { None } else { Some(out) }
}

#[allow(dead_code)]
fn _leaf_is_send(_: &Leaf<'_>) {}
