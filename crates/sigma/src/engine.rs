//! The engine: compiled rules grouped by log source, with prefilters, and the scan loop.

use std::collections::HashMap;
use std::sync::Arc;

use stormwatch_core::SourceKind;
use stormwatch_core::{
    Detection, DetectionSource, Event, Level, Timestamp, detection_id, record_identity,
};

use crate::correlate::CompiledCorrelation;
use crate::doc::Leaf;
use crate::explain::Explain;
use crate::logsource::WinConstraint;
use crate::matcher::{Ctx, FieldId, FieldTable, Node, Scratch};
use crate::pipeline::Pipeline;
use crate::prefilter::{Prefilter, json_literal, text_searchable};

thread_local! {
    /// Per-thread evaluation buffers, reused from record to record.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

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
    /// Search the raw text of non-Windows records for the rules' literals before parsing them,
    /// so that records no rule can match are never parsed. Off by default: parsing (sonic-rs)
    /// and the per-field gates cost less than the literal search over the whole record,
    /// unless nearly every record lacks every literal.
    pub raw_prefilter: bool,
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
    /// Per variant: what explains a match (the rule's detection section, then the filters
    /// AND-ed to it). Used only for records the rule matched.
    pub(crate) explain: Vec<Vec<Explain>>,
    /// Source kinds besides Generic that receive it.
    pub(crate) kinds: Vec<SourceKind>,
    /// Prefilter literals (JSON text form), `None` when the rule must always be evaluated.
    pub(crate) literals: Option<Vec<String>>,
    /// Memo slots one of which holds whenever the rule matches (`None`: no gate).
    pub(crate) gate: Option<Vec<u32>>,
    /// Only feeds correlations (`generate: false`): not reported by `scan`.
    pub(crate) hidden: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Group {
    pub(crate) rules: Vec<u32>,
    pub(crate) always: Vec<u32>,
    pub(crate) prefilter: Option<Prefilter>,
    /// Group-local rules without prefilter literals, as bitset words.
    always_bits: Vec<u64>,
    pub(crate) win: Option<WinIndex>,
    /// Candidate lists: index 0 holds every rule of the group; the Windows index refers to
    /// the others.
    lists: Vec<Dispatch>,
    /// Per memo slot: the group-local rules gated on it (`gate_rules[gate_start[s]..gate_start[s + 1]]`).
    gate_start: Vec<u32>,
    gate_rules: Vec<u32>,
}

/// The rules offered to records of one dispatch key, split into gated rules (evaluated only
/// when one of their gate slots holds) and the others.
#[derive(Debug, Default)]
struct Dispatch {
    /// Members, as bitset words over the group-local rule indexes.
    member: Vec<u64>,
    /// Members without a gate, as bitset words.
    ungated: Vec<u64>,
    /// Fields whose batches decide the members' gates, each with the gate batch that
    /// decides only the members' gates of it (`u32::MAX`: the field's whole batch).
    gate_fields: Vec<(FieldId, u32)>,
}

/// A field's gates are decided by a gate batch of their own (rather than by the field's
/// whole batch) when they are at most this fraction of the field's predicates: the keyword
/// pseudo-field, whose batch holds the keywords of every log source, on records of a source
/// whose rules search a few of them.
const GATE_BATCH_MAX_SHARE: usize = 4;

fn bit_set(words: &mut [u64], i: u32) {
    if let Some(w) = words.get_mut((i / 64) as usize) {
        *w |= 1 << (i % 64);
    }
}

fn bit_get(words: &[u64], i: u32) -> bool {
    words
        .get((i / 64) as usize)
        .is_some_and(|w| w & (1 << (i % 64)) != 0)
}

/// Windows dispatch: candidate lists (indexes into the group's lists) by (channel, event id),
/// by channel only, and for other channels.
#[derive(Debug, Default)]
pub(crate) struct WinIndex {
    by_key: HashMap<String, HashMap<i64, usize>>,
    by_channel: HashMap<String, usize>,
    free: usize,
}

impl WinIndex {
    /// Group-local member lists: (index, member lists to build).
    fn build(rules: &[CompiledRule], members: &[u32]) -> (WinIndex, Vec<Vec<u32>>) {
        let mut by_key: HashMap<(String, i64), Vec<u32>> = HashMap::new();
        let mut by_channel: HashMap<String, Vec<u32>> = HashMap::new();
        let mut free_rules: Vec<u32> = Vec::new();
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
                                by_channel.entry(ch.clone()).or_default().push(local);
                            } else {
                                for id in &c.event_ids {
                                    by_key.entry((ch.clone(), *id)).or_default().push(local);
                                }
                            }
                        }
                    }
                    _ => free = true,
                }
            }
            if free {
                free_rules.push(local);
            }
        }
        let mut lists: Vec<Vec<u32>> = vec![free_rules.clone()];
        let mut w = WinIndex {
            free: 0,
            ..WinIndex::default()
        };
        let mut channels: Vec<&String> = by_channel
            .keys()
            .chain(by_key.keys().map(|k| &k.0))
            .collect();
        channels.sort();
        channels.dedup();
        for ch in channels {
            let mut l = free_rules.clone();
            l.extend(by_channel.get(ch).into_iter().flatten());
            w.by_channel.insert(ch.clone(), lists.len());
            lists.push(l.clone());
            for ((c, id), v) in &by_key {
                if c == ch {
                    let mut k = l.clone();
                    k.extend(v);
                    w.by_key
                        .entry(ch.clone())
                        .or_default()
                        .insert(*id, lists.len());
                    lists.push(k);
                }
            }
        }
        (w, lists)
    }

    /// The candidate list for an event of this channel and event id.
    fn list(&self, channel: &str, event_id: Option<i64>) -> usize {
        if let Some(id) = event_id
            && let Some(l) = self.by_key.get(channel).and_then(|m| m.get(&id))
        {
            return *l;
        }
        self.by_channel.get(channel).copied().unwrap_or(self.free)
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
    /// The rules' Windows channels (lowercase), numbered (see `WinConstraint::channel_ids`).
    pub(crate) channel_ids: HashMap<String, u32>,
    pub(crate) ignore_logsource: bool,
    pub(crate) raw_prefilter: bool,
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
    /// Per source kind: (rules offered, rules evaluated on every record because neither a
    /// gate nor a prefilter literal selects them, raw-text prefilter literals).
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
    /// Group rules by source kind and build the prefilters, gates and dispatch lists.
    pub(crate) fn build_groups(&mut self) {
        // Channels are compared as numbers.
        for r in &mut self.rules {
            for (c, _) in &mut r.variants {
                if let Some(c) = c {
                    c.channel_ids = c
                        .channels
                        .iter()
                        .map(|ch| {
                            let n = u32::try_from(self.channel_ids.len()).unwrap_or(u32::MAX);
                            *self.channel_ids.entry(ch.clone()).or_insert(n)
                        })
                        .collect();
                }
            }
        }
        for r in &mut self.rules {
            let mut all: Option<Vec<u32>> = Some(Vec::new());
            for (_, node) in &r.variants {
                match (crate::matcher::gate(node, &mut self.fields), all.as_mut()) {
                    (Some(g), Some(a)) => a.extend(g),
                    _ => all = None,
                }
            }
            r.gate = all.filter(|g| !g.is_empty()).map(|mut g| {
                g.sort_unstable();
                g.dedup();
                g
            });
        }
        self.fields.build_batches();
        // A gate is usable only when every slot of it is decided by a batch.
        for r in &mut self.rules {
            if let Some(g) = &r.gate
                && !g.iter().all(|s| self.fields.batch_decides(*s))
            {
                r.gate = None;
            }
        }
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
            // Windows records are parsed for their channel and event id anyway; elsewhere
            // the raw-text prefilter is optional (see `EngineOptions::raw_prefilter`).
            if self.raw_prefilter && kind != SourceKind::WindowsEvent {
                g.prefilter = Prefilter::build(&lits);
            }
            if g.prefilter.is_none() {
                // Nothing indexed: every rule is evaluated.
                g.always = (0..u32::try_from(g.rules.len()).unwrap_or(0)).collect();
            }
            let words = g.rules.len().div_ceil(64);
            g.always_bits = vec![0; words];
            for &a in &g.always {
                bit_set(&mut g.always_bits, a);
            }
            let mut member_lists: Vec<Vec<u32>> =
                vec![(0..u32::try_from(g.rules.len()).unwrap_or(0)).collect()];
            if !self.ignore_logsource
                && matches!(kind, SourceKind::WindowsEvent | SourceKind::Generic)
            {
                let (mut w, lists) = WinIndex::build(&self.rules, &g.rules);
                // Lists are numbered after the all-rules list.
                w.free += 1;
                for v in w.by_channel.values_mut() {
                    *v += 1;
                }
                for m in w.by_key.values_mut() {
                    for v in m.values_mut() {
                        *v += 1;
                    }
                }
                member_lists.extend(lists);
                g.win = Some(w);
            }
            // Gate owners.
            let mut owners: Vec<Vec<u32>> = vec![Vec::new(); self.fields.memo_count()];
            for (local, &ri) in g.rules.iter().enumerate() {
                let local = u32::try_from(local).unwrap_or(u32::MAX);
                if let Some(gate) = self.rules.get(ri as usize).and_then(|r| r.gate.as_ref()) {
                    for s in gate {
                        if let Some(o) = owners.get_mut(*s as usize) {
                            o.push(local);
                        }
                    }
                }
            }
            g.gate_start = Vec::with_capacity(owners.len() + 1);
            for o in &owners {
                g.gate_start
                    .push(u32::try_from(g.gate_rules.len()).unwrap_or(u32::MAX));
                g.gate_rules.extend(o);
            }
            g.gate_start
                .push(u32::try_from(g.gate_rules.len()).unwrap_or(u32::MAX));
            for members in member_lists {
                let mut d = Dispatch {
                    member: vec![0; words],
                    ungated: vec![0; words],
                    gate_fields: Vec::new(),
                };
                let mut gate_slots: Vec<(FieldId, u32)> = Vec::new();
                for &local in &members {
                    bit_set(&mut d.member, local);
                    let gate = g
                        .rules
                        .get(local as usize)
                        .and_then(|ri| self.rules.get(*ri as usize))
                        .and_then(|r| r.gate.as_ref());
                    match gate {
                        Some(gate) => {
                            for s in gate {
                                if let (Some(f), _) = self.fields.slot_info(*s) {
                                    gate_slots.push((f, *s));
                                }
                            }
                        }
                        None => bit_set(&mut d.ungated, local),
                    }
                }
                gate_slots.sort_unstable();
                gate_slots.dedup();
                for run in gate_slots.chunk_by(|a, b| a.0 == b.0) {
                    let Some(&(f, _)) = run.first() else {
                        continue;
                    };
                    let gb = if run.len() * GATE_BATCH_MAX_SHARE <= self.fields.batch_len(f) {
                        self.fields
                            .gate_batch(f, run.iter().map(|(_, s)| *s).collect())
                    } else {
                        u32::MAX
                    };
                    d.gate_fields.push((f, gb));
                }
                g.lists.push(d);
            }
            groups.insert(kind, g);
        }
        self.fields.build_gate_batches();
        self.groups = groups;
    }

    fn constraint_ok(&self, c: &WinConstraint, ctx: &mut Ctx<'_>) -> bool {
        if !c.channels.is_empty() {
            let id = match ctx.channel_id {
                Some(id) => id,
                None => {
                    let id = ctx
                        .first_text_lower(self.win.channel)
                        .map(|ch| self.channel_ids.get(ch).copied().unwrap_or(u32::MAX));
                    ctx.channel_id = Some(id);
                    id
                }
            };
            if let Some(id) = id {
                let ok = if c.channel_ids.len() == c.channels.len() {
                    c.channel_ids.contains(&id)
                } else {
                    ctx.first_text_lower(self.win.channel)
                        .is_some_and(|ch| c.channels.iter().any(|x| x == ch))
                };
                if !ok {
                    return false;
                }
            }
        }
        if !c.event_ids.is_empty() {
            let n = match ctx.event_id {
                Some(n) => n,
                None => {
                    let n = ctx_leaves_num(ctx, self.win.event_id);
                    ctx.event_id = Some(n);
                    n
                }
            };
            let ok = n.is_some_and(|n| c.event_ids.iter().any(|id| *id as f64 == n));
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

    /// Why rule `r` matched the record in `ctx`: the selections of the first variant that
    /// matches, with their fields and values. Called only after [`Inner::rule_matches`] held.
    pub(crate) fn explain(&self, r: &CompiledRule, ctx: &mut Ctx<'_>, windows: bool) -> String {
        for (i, (c, node)) in r.variants.iter().enumerate() {
            if windows
                && !self.ignore_logsource
                && let Some(c) = c
                && !self.constraint_ok(c, ctx)
            {
                continue;
            }
            if !ctx.eval(node) {
                continue;
            }
            let mut out = String::new();
            for e in r.explain.get(i).map_or(&[][..], Vec::as_slice) {
                e.describe(ctx, &mut out);
            }
            return out;
        }
        String::new()
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

    /// Mark in `s.raw_bits` the rules of the group the prefilter leaves as candidates;
    /// `false` when there is no usable prefilter (every rule is a candidate).
    fn prefilter(g: &Group, raw: &str, s: &mut Scratch) -> bool {
        let Some(pf) = g.prefilter.as_ref() else {
            return false;
        };
        if !text_searchable(raw.as_bytes()) {
            return false;
        }
        s.raw_bits.clear();
        s.raw_bits.extend_from_slice(&g.always_bits);
        s.seen.clear();
        s.seen.resize(pf.pattern_count(), false);
        pf.mark(raw.as_bytes(), &mut s.raw_bits, &mut s.seen);
        true
    }

    /// Indexes of the detection rules matching `ev` (all of them, hidden included), pushed
    /// into `out`; `only` restricts to a set of rules.
    pub(crate) fn matching(&self, ev: &Event, only: Option<&[bool]>, out: &mut Vec<usize>) {
        self.matching_then(ev, None, only, out, None, |_, _| {});
    }

    /// [`Inner::matching`], then `post` with the parsed record and the matches (not called
    /// when the record was not parsed: the prefilter left no candidate, or it is no JSON).
    /// `parsed` is `ev.raw` already parsed, if the caller has it.
    /// With `why`, the explanation of each match is pushed there (one per index pushed into
    /// `out`; empty for rules only correlations see), computed only for the rules that
    /// matched.
    pub(crate) fn matching_then<F: FnOnce(&sonic_rs::Value, &[usize])>(
        &self,
        ev: &Event,
        parsed: Option<&sonic_rs::Value>,
        only: Option<&[bool]>,
        out: &mut Vec<usize>,
        why: Option<&mut Vec<String>>,
        post: F,
    ) {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => {
                let taken = std::mem::take(&mut *s);
                *s = self.matching_with(ev, parsed, only, out, why, taken, post);
            }
            Err(_) => {
                let _ = self.matching_with(ev, parsed, only, out, why, Scratch::default(), post);
            }
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn matching_with<F: FnOnce(&sonic_rs::Value, &[usize])>(
        &self,
        ev: &Event,
        parsed: Option<&sonic_rs::Value>,
        only: Option<&[bool]>,
        out: &mut Vec<usize>,
        why: Option<&mut Vec<String>>,
        mut s: Scratch,
        post: F,
    ) -> Scratch {
        let Some(g) = self.groups.get(&ev.source) else {
            return s;
        };
        if g.rules.is_empty() {
            return s;
        }
        let prefiltered = Self::prefilter(g, &ev.raw, &mut s);
        if prefiltered && s.raw_bits.iter().all(|w| *w == 0) {
            return s;
        }
        // Parsed only when some rule may match. A parse handed on by the reader is used only
        // when it is at hand on the same thread (see `Scanner`): one made earlier elsewhere
        // is cold by now, and slower to use than a new one.
        match parsed {
            Some(root) => self.matching_in(g, prefiltered, ev, root, only, out, why, s, post),
            None => match sonic_rs::from_str::<sonic_rs::Value>(&ev.raw) {
                Ok(root) => self.matching_in(g, prefiltered, ev, &root, only, out, why, s, post),
                Err(_) => s,
            },
        }
    }

    /// The rules of group `g` that match `ev`, parsed as `root`; `prefiltered` says whether
    /// `s.raw_bits` holds the prefilter's candidates.
    #[allow(clippy::too_many_arguments)]
    fn matching_in<F: FnOnce(&sonic_rs::Value, &[usize])>(
        &self,
        g: &Group,
        prefiltered: bool,
        ev: &Event,
        root: &sonic_rs::Value,
        only: Option<&[bool]>,
        out: &mut Vec<usize>,
        mut why: Option<&mut Vec<String>>,
        s: Scratch,
        post: F,
    ) -> Scratch {
        let mut ctx = Ctx::new(root, &self.fields, s);
        let windows = ev.source == SourceKind::WindowsEvent || ev.source == SourceKind::Generic;
        // Windows dispatch by channel and event id, when the record has a channel.
        let mut list = 0;
        let mut channel = std::mem::take(&mut ctx.scratch().channel);
        channel.clear();
        if let Some(w) = &g.win
            && let Some(ch) = ctx.first_text_lower(self.win.channel)
        {
            channel.push_str(ch);
            let id = ctx_leaves_num(&mut ctx, self.win.event_id).map(|n| n as i64);
            list = w.list(&channel, id);
        }
        ctx.scratch().channel = channel;
        let Some(d) = g.lists.get(list) else {
            return ctx.finish();
        };
        let mut bits = std::mem::take(&mut ctx.scratch().bits);
        bits.clear();
        if prefiltered {
            // Few candidates: their gates are checked one by one, lazily.
            bits.extend_from_slice(&d.member);
            let raw = &ctx.scratch().raw_bits;
            for (w, r) in bits.iter_mut().zip(raw) {
                *w &= *r;
            }
        } else {
            // Gates: run the batches of the gate fields, then collect the rules whose gate
            // holds.
            for &(f, gb) in &d.gate_fields {
                if gb == u32::MAX {
                    ctx.run_batch(f);
                } else {
                    ctx.run_gate_batch(f, gb);
                }
            }
            bits.extend_from_slice(&d.ungated);
            for &slot in ctx.hits() {
                let i = slot as usize;
                let (Some(&a), Some(&b)) = (g.gate_start.get(i), g.gate_start.get(i + 1)) else {
                    continue;
                };
                for &r in g.gate_rules.get(a as usize..b as usize).unwrap_or(&[]) {
                    if bit_get(&d.member, r) {
                        bit_set(&mut bits, r);
                    }
                }
            }
        }
        for (wi, &word) in bits.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let bit = word.trailing_zeros() as usize;
                word &= word - 1;
                let li = wi * 64 + bit;
                let Some(&ri) = g.rules.get(li) else { continue };
                let ri = ri as usize;
                if let Some(only) = only
                    && !only.get(ri).copied().unwrap_or(false)
                {
                    continue;
                }
                let Some(r) = self.rules.get(ri) else {
                    continue;
                };
                if prefiltered
                    && let Some(gate) = &r.gate
                    && !gate.iter().any(|s| ctx.slot_true(*s))
                {
                    continue;
                }
                if self.rule_matches(r, &mut ctx, windows) {
                    out.push(ri);
                    if let Some(w) = why.as_deref_mut() {
                        w.push(if r.hidden {
                            String::new()
                        } else {
                            self.explain(r, &mut ctx, windows)
                        });
                    }
                }
            }
        }
        ctx.scratch().bits = bits;
        let s = ctx.finish();
        post(root, out);
        s
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
        d.id = detection_id(&[info.id.as_str(), "record", &record_identity(&ev.loc)]);
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
        let mut why = Vec::new();
        self.inner
            .matching_then(ev, None, None, &mut hits, Some(&mut why), |_, _| {});
        self.report(ev, &hits, why, out);
    }

    /// The detections of the reported (not correlation-only) rules among `hits`, each with
    /// its explanation (`why`, one per hit).
    pub(crate) fn report(
        &self,
        ev: &Event,
        hits: &[usize],
        why: Vec<String>,
        out: &mut Vec<Detection>,
    ) {
        let mut why = why.into_iter();
        for &ri in hits {
            let explanation = why.next().unwrap_or_default();
            if self.inner.rules.get(ri).is_some_and(|r| r.hidden) {
                continue;
            }
            if let Some(mut d) = self.inner.detection_for(ri, ev) {
                d.explanation = explanation;
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

    /// A [`crate::Scanner`] of this engine's rules for `corr` (made by this engine's
    /// [`Engine::correlator`]; with another engine's correlator the two are run separately).
    #[must_use]
    pub fn scanner(&self, corr: &crate::correlate::Correlator) -> crate::Scanner {
        crate::Scanner::new(self.clone(), corr.plan())
    }

    /// Statistics about the compiled rules.
    #[must_use]
    pub fn stats(&self) -> EngineStats {
        let mut groups: Vec<_> = self
            .inner
            .groups
            .iter()
            .map(|(k, g)| {
                // Evaluated on every record: no gate, and no prefilter literal either.
                let always = g
                    .rules
                    .iter()
                    .enumerate()
                    .filter(|(local, ri)| {
                        self.inner
                            .rules
                            .get(**ri as usize)
                            .is_some_and(|r| r.gate.is_none())
                            && (g.prefilter.is_none()
                                || u32::try_from(*local).is_ok_and(|l| bit_get(&g.always_bits, l)))
                    })
                    .count();
                (
                    *k,
                    g.rules.len(),
                    always,
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
