//! The compiled matcher: a tree of predicates over interned fields, evaluated against one
//! parsed record with per-event caches (field values resolved and lowercased once).

use std::collections::HashMap;
use std::net::IpAddr;

use rayon::prelude::*;
use sonic_rs::Value;

use crate::doc::{
    FieldPath, KEY_BLOOM_WORDS, Leaf, Members, RecordIndex, index_record, lookup_with, to_leaf,
};

use crate::pattern::{Anchor, Part, StrPat};

mod batch;

use batch::{Batch, num_bits};

/// Index of an interned field (a list of candidate paths).
pub(crate) type FieldId = u32;

/// All fields the compiled rules use; each is a list of candidate paths, first present wins.
#[derive(Debug, Default)]
pub(crate) struct FieldTable {
    fields: Vec<Vec<FieldPath>>,
    index: HashMap<Vec<String>, FieldId>,
    /// Shared (field, pattern) predicates: evaluated once per event for all rules.
    memos: HashMap<(FieldId, String), u32>,
    /// Per field: its anchored-literal predicates (memo slot, anchor, literal), before
    /// [`FieldTable::build_batches`].
    batch_src: HashMap<FieldId, Vec<(u32, Anchor, Vec<u8>)>>,
    /// Per field: numeric-equality gate slots (number bits, memo slot).
    num_src: HashMap<FieldId, Vec<(u64, u32)>>,
    /// Per field: one automaton over all its anchored-literal predicates.
    batches: Vec<Option<Batch>>,
    /// The pseudo-field whose values are every scalar of the record (keyword searches).
    keyword: Option<FieldId>,
    /// Per memo slot: the field it belongs to.
    slot_field: Vec<FieldId>,
    /// Per memo slot: decided by its field's batch (an anchored literal over the lowercase
    /// text), and the literal's length (for choosing gates).
    slot_lit: Vec<Option<u16>>,
    /// Per memo slot: the field whose batch decides it (`u32::MAX`: none), after
    /// [`FieldTable::build_batches`].
    decided_by: Vec<FieldId>,
    /// Gate batches: automata over a few of a field's predicates (the gates of the rules
    /// offered to one kind of record), registered by [`FieldTable::gate_batch`].
    gate_src: Vec<(FieldId, Vec<u32>)>,
    gate_index: HashMap<(FieldId, Vec<u32>), u32>,
    /// Built by [`FieldTable::build_gate_batches`] (`None`: could not be built).
    gate_batches: Vec<Option<Batch>>,
}

impl FieldTable {
    pub(crate) fn intern(&mut self, candidates: Vec<String>) -> FieldId {
        if let Some(id) = self.index.get(&candidates) {
            return *id;
        }
        let id = u32::try_from(self.fields.len()).unwrap_or(u32::MAX);
        let paths: Vec<FieldPath> = candidates.iter().map(|c| FieldPath::new(c)).collect();
        self.fields.push(paths);
        self.index.insert(candidates, id);
        id
    }

    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    /// Memo slot of a (field, pattern key) predicate.
    pub(crate) fn memo(&mut self, field: FieldId, key: &str, pat: &StrPat) -> u32 {
        let n = u32::try_from(self.memos.len()).unwrap_or(u32::MAX);
        let slot = *self.memos.entry((field, key.to_string())).or_insert(n);
        if slot == n {
            self.slot_field.push(field);
            let lit = pat.anchored_literal();
            self.slot_lit
                .push(lit.map(|(_, l)| u16::try_from(l.len()).unwrap_or(u16::MAX)));
            if let Some((anchor, lit)) = lit {
                self.batch_src
                    .entry(field)
                    .or_default()
                    .push((slot, anchor, lit.to_vec()));
            }
        }
        slot
    }

    /// The pseudo-field of keyword (field-less) searches: every scalar value of the record.
    pub(crate) fn keyword_field(&mut self) -> FieldId {
        if let Some(k) = self.keyword {
            return k;
        }
        let id = u32::try_from(self.fields.len()).unwrap_or(u32::MAX);
        self.fields.push(Vec::new());
        self.keyword = Some(id);
        id
    }

    /// Memo slot of "the field contains `lit`" (lowercase), decided by the field's batch: a
    /// necessary condition of a pattern that contains `lit`, used as a gate.
    pub(crate) fn hint(&mut self, field: FieldId, lit: &str) -> Option<u32> {
        let parts = vec![Part::Star, Part::Lit(lit.to_string()), Part::Star];
        let key = crate::pattern::parts_key(false, &parts);
        let pat = StrPat::from_parts(parts, false).ok()?;
        pat.anchored_literal()?;
        Some(self.memo(field, &key, &pat))
    }

    /// Whether a memo slot is decided by its field's batch (after `build_batches`).
    pub(crate) fn batch_decides(&self, slot: u32) -> bool {
        let i = slot as usize;
        self.slot_lit.get(i).is_some_and(Option::is_some)
            && self
                .slot_field
                .get(i)
                .is_some_and(|f| matches!(self.batches.get(*f as usize), Some(Some(_))))
    }

    /// The field of a memo slot and, when its batch decides it, its literal's length.
    pub(crate) fn slot_info(&self, slot: u32) -> (Option<FieldId>, Option<u16>) {
        let i = slot as usize;
        (
            self.slot_field.get(i).copied(),
            self.slot_lit.get(i).copied().flatten(),
        )
    }

    /// Build one automaton per field over its anchored-literal predicates.
    pub(crate) fn build_batches(&mut self) {
        let mut batches: Vec<Option<Batch>> = (0..self.fields.len()).map(|_| None).collect();
        let mut fields: Vec<FieldId> = self
            .batch_src
            .keys()
            .chain(self.num_src.keys())
            .copied()
            .collect();
        fields.sort_unstable();
        fields.dedup();
        // The fields' automata are built on every worker at once.
        let (batch_src, num_src) = (&self.batch_src, &self.num_src);
        let built: Vec<(FieldId, Option<Batch>)> = fields
            .par_iter()
            .map(|&field| {
                let preds = batch_src.get(&field).map_or(&[][..], Vec::as_slice);
                let nums = num_src.get(&field).map_or(&[][..], Vec::as_slice);
                (field, Batch::build(preds, nums))
            })
            .collect();
        for (field, batch) in built {
            if let Some(b) = batches.get_mut(field as usize) {
                *b = batch;
            }
        }
        self.batches = batches;
        self.decided_by = (0..self.slot_field.len())
            .map(|s| {
                let s = u32::try_from(s).unwrap_or(u32::MAX);
                match self.slot_info(s) {
                    (Some(f), Some(_)) if self.batch_decides(s) => f,
                    _ => u32::MAX,
                }
            })
            .collect();
    }

    /// How many predicates the batch of `field` decides.
    pub(crate) fn batch_len(&self, field: FieldId) -> usize {
        self.batch_src.get(&field).map_or(0, Vec::len)
            + self.num_src.get(&field).map_or(0, Vec::len)
    }

    /// Register a gate batch of `field` over its batch-decided `slots` (sorted, distinct):
    /// its index, shared by every caller asking for the same slots.
    pub(crate) fn gate_batch(&mut self, field: FieldId, slots: Vec<u32>) -> u32 {
        let key = (field, slots);
        if let Some(i) = self.gate_index.get(&key) {
            return *i;
        }
        let i = u32::try_from(self.gate_src.len()).unwrap_or(u32::MAX);
        self.gate_src.push(key.clone());
        self.gate_index.insert(key, i);
        i
    }

    /// Build the gate batches registered with [`FieldTable::gate_batch`], on every worker.
    pub(crate) fn build_gate_batches(&mut self) {
        let (batch_src, num_src) = (&self.batch_src, &self.num_src);
        self.gate_batches = self
            .gate_src
            .par_iter()
            .map(|(field, slots)| {
                let keep = |s: &u32| slots.binary_search(s).is_ok();
                let preds: Vec<(u32, Anchor, Vec<u8>)> = batch_src
                    .get(field)
                    .into_iter()
                    .flatten()
                    .filter(|p| keep(&p.0))
                    .cloned()
                    .collect();
                let nums: Vec<(u64, u32)> = num_src
                    .get(field)
                    .into_iter()
                    .flatten()
                    .filter(|n| keep(&n.1))
                    .copied()
                    .collect();
                Batch::build(&preds, &nums)
            })
            .collect();
    }

    /// Memo slot of "a value of the field equals the number `n`", decided by the field's
    /// batch (a hash lookup per value): the gate of numeric equality.
    pub(crate) fn num_slot(&mut self, field: FieldId, n: f64) -> Option<u32> {
        if !n.is_finite() {
            return None;
        }
        let key = format!("num:{}", num_bits(n));
        if let Some(s) = self.memos.get(&(field, key.clone())) {
            return Some(*s);
        }
        let slot = u32::try_from(self.memos.len()).ok()?;
        self.memos.insert((field, key), slot);
        self.slot_field.push(field);
        self.slot_lit.push(Some(8));
        self.num_src
            .entry(field)
            .or_default()
            .push((num_bits(n), slot));
        Some(slot)
    }

    pub(crate) fn memo_count(&self) -> usize {
        self.memos.len()
    }
}

/// Numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

impl CmpOp {
    pub(crate) fn test(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
            CmpOp::Eq => a == b,
        }
    }
}

/// How a field reference compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefMode {
    Eq,
    Contains,
    StartsWith,
    EndsWith,
}

/// Part of a timestamp (`minute`, `hour`, … modifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// A predicate on one leaf value (or on the field's presence).
#[derive(Debug, Clone)]
pub(crate) enum Pred {
    /// Text pattern; `lit` is a literal every match contains (lowercase), for prefilters.
    Str {
        pat: Box<StrPat>,
        lit: Option<String>,
        /// Identity of the pattern (for sharing results between rules).
        key: String,
        /// Memo slot once bound to a field (`u32::MAX`: none).
        memo: u32,
    },
    /// Numeric equality (numbers, numeric strings).
    Num(f64),
    /// Boolean equality (JSON booleans, `"true"`/`"false"`).
    Bool(bool),
    /// Missing or null.
    Null,
    /// Field present (`true`) or absent (`false`).
    Exists(bool),
    /// Numeric comparison.
    Cmp(CmpOp, f64),
    /// IP address in a network.
    Cidr(ipnet::IpNet),
    /// Compare with another field of the same record.
    FieldRef {
        other: FieldId,
        mode: RefMode,
        cased: bool,
    },
    /// Part of a date value compared with a number.
    Time(TimePart, CmpOp, f64),
    /// `neq`: the field is present and the inner predicate holds for none of its values.
    Neq(Box<Pred>),
}

/// A node of the compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    AtLeast(usize, Vec<Node>),
    Const(bool),
    /// Values of one field: any (or all, with `all`) of the predicates hold.
    Field {
        field: FieldId,
        preds: Vec<Pred>,
        all: bool,
    },
    /// Field-less search over every value of the record.
    Keyword {
        preds: Vec<Pred>,
        all: bool,
    },
}

/// Buffers of the per-event evaluation state, kept between events (one per thread) so that
/// evaluating a record allocates nothing per rule. Between events every per-field and
/// per-slot entry is zero; only the entries an event touched are reset.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Per field: 0 unresolved, else index + 1 into `ranges`.
    slots: Vec<u32>,
    ranges: Vec<Resolved>,
    /// Fields resolved for this event.
    touched: Vec<u32>,
    /// Per memo slot: 0 unknown, 1 false, 2 true.
    memo: Vec<u8>,
    /// Memo slots set for this event.
    dirty: Vec<u32>,
    /// Per field: its batch already ran.
    batched: Vec<bool>,
    batched_list: Vec<u32>,
    /// Batch-decided slots found true for this event.
    hits: Vec<u32>,
    values: Vec<&'static Value>,
    leaves: Vec<Leaf<'static>>,
    members: Members<'static>,
    /// The lowercase text of a field's values, joined (see `Batch::run`).
    joined: Vec<u8>,
    /// Key-set filter of the record (built on the first field lookup).
    bloom: Vec<u64>,
    bloom_built: bool,
    /// Engine-level buffers: candidate rules (bitset words) and prefilter marks.
    pub(crate) bits: Vec<u64>,
    pub(crate) raw_bits: Vec<u64>,
    pub(crate) seen: Vec<bool>,
    pub(crate) channel: String,
}

/// A field resolved for one record: its values (`values[a..b]`), whether it is present, and
/// once needed, the values prepared for matching (`leaves[la..lb]`).
#[derive(Debug, Clone, Copy)]
struct Resolved {
    a: u32,
    b: u32,
    present: bool,
    leaves: Option<(u32, u32)>,
}

/// Reuse an empty vector's allocation for another lifetime of the same element type.
fn relabel<T, U>(v: Vec<T>) -> Vec<U> {
    v.into_iter().filter_map(|_| None).collect()
}

fn idx(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Per-event evaluation state.
pub(crate) struct Ctx<'a> {
    root: &'a Value,
    table: &'a FieldTable,
    s: Scratch,
    values: Vec<&'a Value>,
    leaves: Vec<Leaf<'a>>,
    /// Members of the record's objects, once indexed.
    members: Members<'a>,
    /// The Windows event id of the record, once computed.
    pub(crate) event_id: Option<Option<f64>>,
    /// The number of the record's channel in the engine's table (`u32::MAX`: none of the
    /// rules' channels; `None` inside: the record has no channel), once computed.
    pub(crate) channel_id: Option<Option<u32>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(root: &'a Value, table: &'a FieldTable, mut s: Scratch) -> Self {
        if s.slots.len() < table.len() {
            s.slots.resize(table.len(), 0);
            s.batched.resize(table.len(), false);
        }
        if s.memo.len() < table.memo_count() {
            s.memo.resize(table.memo_count(), 0);
        }
        let mut leaves = std::mem::take(&mut s.leaves);
        leaves.clear();
        let mut values = std::mem::take(&mut s.values);
        values.clear();
        let mut members = std::mem::take(&mut s.members).relabel();
        members.clear();
        Ctx {
            root,
            table,
            leaves: relabel(leaves),
            values: relabel(values),
            members,
            s,
            event_id: None,
            channel_id: None,
        }
    }

    /// End of the event: reset what it touched and hand the buffers back.
    pub(crate) fn finish(self) -> Scratch {
        let Ctx {
            mut s,
            mut leaves,
            mut values,
            members,
            ..
        } = self;
        s.members = members.relabel();
        for &f in &s.touched {
            if let Some(x) = s.slots.get_mut(f as usize) {
                *x = 0;
            }
        }
        for &f in &s.batched_list {
            if let Some(x) = s.batched.get_mut(f as usize) {
                *x = false;
            }
        }
        for &m in s.dirty.iter().chain(&s.hits) {
            if let Some(x) = s.memo.get_mut(m as usize) {
                *x = 0;
            }
        }
        if s.joined.capacity() > 1 << 20 {
            // One huge record's text is not kept for the rest of the run.
            s.joined = Vec::new();
        }
        if s.bloom_built {
            s.bloom.iter_mut().for_each(|w| *w = 0);
            s.bloom_built = false;
        }
        s.touched.clear();
        s.batched_list.clear();
        s.dirty.clear();
        s.hits.clear();
        s.ranges.clear();
        leaves.clear();
        values.clear();
        s.leaves = relabel(leaves);
        s.values = relabel(values);
        s
    }

    /// The engine-level buffers.
    pub(crate) fn scratch(&mut self) -> &mut Scratch {
        &mut self.s
    }

    /// Whether a batch-decided slot holds (running its field's batch if needed).
    pub(crate) fn slot_true(&mut self, slot: u32) -> bool {
        if let (Some(f), _) = self.table.slot_info(slot) {
            self.run_batch(f);
        }
        self.s.memo.get(slot as usize) == Some(&2)
    }

    /// Batch-decided slots found true so far (after [`Ctx::run_batch`]).
    pub(crate) fn hits(&self) -> &[u32] {
        &self.s.hits
    }

    /// Resolve a field: the index of its entry in `ranges`.
    fn resolve_entry(&mut self, id: FieldId) -> Option<usize> {
        let i = id as usize;
        let slot = *self.s.slots.get(i)?;
        if slot != 0 {
            return Some(slot as usize - 1);
        }
        if self.table.keyword == Some(id) {
            // Resolved by the walk that builds the key set.
            self.index_record();
            let slot = *self.s.slots.get(i)?;
            return slot.checked_sub(1).map(|s| s as usize);
        }
        let table = self.table;
        let cands = table.fields.get(i).map_or(&[][..], Vec::as_slice);
        if !self.s.bloom_built && !cands.is_empty() {
            self.index_record();
        }
        // After the walk above, which may add the keyword values.
        let start = self.values.len();
        let mut present = false;
        {
            for c in cands {
                if !c.may_exist(&self.s.bloom) {
                    continue;
                }
                let ix = self.s.bloom_built.then_some(RecordIndex {
                    bloom: &self.s.bloom,
                    members: &self.members,
                });
                if lookup_with(self.root, c, ix, &mut self.values) {
                    present = true;
                    break;
                }
                self.values.truncate(start);
            }
        }
        self.s.ranges.push(Resolved {
            a: idx(start),
            b: idx(self.values.len()),
            present,
            leaves: None,
        });
        self.s.slots[i] = idx(self.s.ranges.len());
        self.s.touched.push(id);
        Some(self.s.ranges.len() - 1)
    }

    /// One walk over the record: its key-set filter and, when rules search keywords, the
    /// values of the keyword pseudo-field (every scalar of the record).
    fn index_record(&mut self) {
        if self.s.bloom_built {
            return;
        }
        self.s.bloom_built = true;
        self.s.bloom.resize(KEY_BLOOM_WORDS, 0);
        let start = self.values.len();
        let kw = self.table.keyword;
        self.members.clear();
        index_record(
            self.root,
            &mut self.s.bloom,
            kw.is_some().then_some(&mut self.values),
            &mut self.members,
            0,
        );
        self.members.finish();
        if let Some(k) = kw
            && let Some(x) = self.s.slots.get_mut(k as usize)
        {
            self.s.ranges.push(Resolved {
                a: idx(start),
                b: idx(self.values.len()),
                present: true,
                leaves: None,
            });
            *x = idx(self.s.ranges.len());
            self.s.touched.push(k);
        }
    }

    /// The values of a field prepared for matching: (start, end) into `leaves`, and whether
    /// the field is present.
    pub(crate) fn resolve(&mut self, id: FieldId) -> (usize, usize, bool) {
        let Some(e) = self.resolve_entry(id) else {
            return (0, 0, false);
        };
        let Some(r) = self.s.ranges.get(e).copied() else {
            return (0, 0, false);
        };
        if let Some((la, lb)) = r.leaves {
            return (la as usize, lb as usize, r.present);
        }
        let la = self.leaves.len();
        for v in self.values.get(r.a as usize..r.b as usize).unwrap_or(&[]) {
            self.leaves.push(to_leaf(v));
        }
        let lb = self.leaves.len();
        if let Some(x) = self.s.ranges.get_mut(e) {
            x.leaves = Some((idx(la), idx(lb)));
        }
        (la, lb, r.present)
    }

    /// Leaves `a..b` (as [`Ctx::resolve`] gives them).
    pub(crate) fn leaves(&self, a: usize, b: usize) -> &[Leaf<'a>] {
        self.leaves.get(a..b).unwrap_or(&[])
    }

    /// The keyword pseudo-field, when rules search keywords.
    pub(crate) fn keyword_field(&self) -> Option<FieldId> {
        self.table.keyword
    }

    /// The first text value of a field (lowercase), if any.
    pub(crate) fn first_text_lower(&mut self, id: FieldId) -> Option<&str> {
        let (a, b, _) = self.resolve(id);
        self.leaves[a..b].iter().find_map(|l| match l {
            Leaf::Text { lower, .. } => Some(lower.as_ref()),
            _ => None,
        })
    }

    pub(crate) fn eval(&mut self, node: &Node) -> bool {
        match node {
            Node::And(v) => v.iter().all(|n| self.eval(n)),
            Node::Or(v) => v.iter().any(|n| self.eval(n)),
            Node::Not(n) => !self.eval(n),
            Node::AtLeast(k, v) => {
                let mut c = 0;
                for n in v {
                    if self.eval(n) {
                        c += 1;
                        if c >= *k {
                            return true;
                        }
                    }
                }
                false
            }
            Node::Const(b) => *b,
            Node::Field { field, preds, all } => {
                if *all {
                    preds.iter().all(|p| self.field_pred(*field, p))
                } else {
                    preds.iter().any(|p| self.field_pred(*field, p))
                }
            }
            Node::Keyword { preds, all } => {
                let Some(kf) = self.table.keyword else {
                    return false;
                };
                if *all {
                    preds.iter().all(|p| self.keyword_pred(kf, p))
                } else {
                    preds.iter().any(|p| self.keyword_pred(kf, p))
                }
            }
        }
    }

    /// Decide every anchored-literal predicate of `field` with one automaton pass per value:
    /// the slots that hold are set true (and listed in `hits`); the others of the batch are
    /// false from then on.
    pub(crate) fn run_batch(&mut self, field: FieldId) {
        let i = field as usize;
        match self.s.batched.get_mut(i) {
            Some(done) if !*done => *done = true,
            _ => return,
        }
        self.s.batched_list.push(field);
        let table = self.table;
        if let Some(Some(batch)) = table.batches.get(i) {
            self.run_over_values(field, batch);
        }
    }

    /// Run gate batch `gb` of `field` (see [`FieldTable::gate_batch`]): the slots of it that
    /// hold are set true and listed in `hits`. The field's other slots stay undecided (its
    /// batch runs when one of them is asked for). Nothing to do once the field's batch ran.
    pub(crate) fn run_gate_batch(&mut self, field: FieldId, gb: u32) {
        let i = field as usize;
        if self.s.batched.get(i).copied().unwrap_or(true) {
            return;
        }
        let table = self.table;
        match table.gate_batches.get(gb as usize) {
            Some(Some(batch)) => self.run_over_values(field, batch),
            _ => self.run_batch(field),
        }
    }

    /// Run `batch` over the values of `field`: the slots that hold are set true and listed in
    /// `hits`.
    fn run_over_values(&mut self, field: FieldId, batch: &Batch) {
        let Some(r) = self
            .resolve_entry(field)
            .and_then(|e| self.s.ranges.get(e).copied())
        else {
            return;
        };
        let values = self.values.get(r.a as usize..r.b as usize).unwrap_or(&[]);
        let memo = &mut self.s.memo;
        let hits = &mut self.s.hits;
        batch.run(values, &mut self.s.joined, |slot| {
            if let Some(x) = memo.get_mut(slot as usize)
                && *x != 2
            {
                *x = 2;
                hits.push(slot);
            }
        });
    }

    /// A keyword predicate: some scalar value of the record satisfies it.
    fn keyword_pred(&mut self, kf: FieldId, pred: &Pred) -> bool {
        if matches!(pred, Pred::Str { .. }) {
            return self.field_pred(kf, pred);
        }
        let (a, b, _) = self.resolve(kf);
        self.leaves[a..b].iter().any(|l| leaf_match(pred, l))
    }

    fn field_pred(&mut self, field: FieldId, pred: &Pred) -> bool {
        if let Pred::Str { memo, .. } = pred {
            let slot = *memo;
            match self.s.memo.get(slot as usize) {
                Some(2) => return true,
                Some(1) => return false,
                _ => {}
            }
            if let Some(&f) = self.table.decided_by.get(slot as usize)
                && f != u32::MAX
            {
                if !self.s.batched.get(f as usize).copied().unwrap_or(true) {
                    self.run_batch(f);
                }
                return self.s.memo.get(slot as usize) == Some(&2);
            }
        }
        let (a, b, present) = self.resolve(field);
        match pred {
            Pred::Str { memo, .. } => {
                let r = self.leaves[a..b].iter().any(|l| leaf_match(pred, l));
                if let Some(m) = self.s.memo.get_mut(*memo as usize) {
                    *m = if r { 2 } else { 1 };
                    self.s.dirty.push(*memo);
                }
                r
            }
            Pred::Exists(want) => present == *want,
            Pred::Null => self.leaves[a..b].iter().all(|l| matches!(l, Leaf::Null)),
            Pred::Neq(inner) => {
                present && b > a && !self.leaves[a..b].iter().any(|l| leaf_match(inner, l))
            }
            Pred::FieldRef { other, mode, cased } => {
                let (c, d, _) = self.resolve(*other);
                let left = &self.leaves[a..b];
                let right = &self.leaves[c..d];
                left.iter().any(|l| {
                    right.iter().any(|r| match (l, r) {
                        (
                            Leaf::Text {
                                text: lt,
                                lower: ll,
                                ..
                            },
                            Leaf::Text {
                                text: rt,
                                lower: rl,
                                ..
                            },
                        ) => {
                            let (x, y) = if *cased {
                                (lt.as_ref(), rt.as_ref())
                            } else {
                                (ll.as_ref(), rl.as_ref())
                            };
                            match mode {
                                RefMode::Eq => x == y,
                                RefMode::Contains => x.contains(y),
                                RefMode::StartsWith => x.starts_with(y),
                                RefMode::EndsWith => x.ends_with(y),
                            }
                        }
                        _ => false,
                    })
                })
            }
            _ => self.leaves[a..b].iter().any(|l| leaf_match(pred, l)),
        }
    }
}

/// One predicate against one leaf value.
pub(crate) fn leaf_match(pred: &Pred, leaf: &Leaf<'_>) -> bool {
    let Leaf::Text {
        text,
        lower,
        num,
        is_str,
    } = leaf
    else {
        return matches!(pred, Pred::Null) && matches!(leaf, Leaf::Null);
    };
    match pred {
        Pred::Str { pat, .. } => pat.is_match(if pat.cased { text } else { lower }),
        Pred::Num(n) => *num == Some(*n),
        Pred::Bool(b) => {
            let t = if *b { "true" } else { "false" };
            lower.as_ref() == t
        }
        Pred::Null => false,
        Pred::Exists(_) => true,
        Pred::Cmp(op, n) => num.is_some_and(|x| op.test(x, *n)),
        Pred::Cidr(net) => {
            let t = text.trim();
            let t = t
                .strip_prefix('[')
                .map_or(t, |x| x.split(']').next().unwrap_or(x));
            t.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip))
        }
        Pred::Time(part, op, n) => {
            let _ = is_str;
            time_part(text, *part).is_some_and(|x| op.test(x, *n))
        }
        Pred::FieldRef { .. } => false,
        Pred::Neq(inner) => !leaf_match(inner, leaf),
    }
}

fn time_part(text: &str, part: TimePart) -> Option<f64> {
    let ts = stormwatch_core::Timestamp::parse(text.trim()).ok()?;
    let secs = ts.unix_seconds();
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil(days);
    let v = match part {
        TimePart::Minute => secs.rem_euclid(3600) / 60,
        TimePart::Hour => secs.rem_euclid(86_400) / 3600,
        TimePart::Day => d,
        TimePart::Month => m,
        TimePart::Year => y,
        TimePart::Week => {
            // ISO week number.
            let wd = (days + 3).rem_euclid(7); // Monday = 0
            let ordinal = days - days_from_civil(y, 1, 1) + 1;
            let w = (ordinal - wd - 1 + 10) / 7;
            w.clamp(1, 53)
        }
    };
    Some(v as f64)
}

fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Literals one of which every match of `node` contains (lowercase), or `None` when no such
/// set is known (negations, regexes, numbers, presence tests).
pub(crate) fn required_literals(node: &Node) -> Option<Vec<String>> {
    match node {
        Node::And(v) => v
            .iter()
            .filter_map(required_literals)
            .max_by_key(|set| score(set)),
        Node::Or(v) | Node::AtLeast(_, v) => {
            // AtLeast(k): a match needs k children; any one child's literals are necessary
            // only for k == n; use the union, which is necessary for any k >= 1.
            let mut out = Vec::new();
            for n in v {
                out.extend(required_literals(n)?);
            }
            if out.is_empty() { None } else { Some(out) }
        }
        Node::Not(_) | Node::Const(_) => None,
        Node::Field { preds, all, .. } | Node::Keyword { preds, all } => {
            if *all {
                preds
                    .iter()
                    .filter_map(|p| pred_literal(p).map(|l| vec![l]))
                    .max_by_key(|set| score(set))
            } else {
                let mut out = Vec::new();
                for p in preds {
                    out.push(pred_literal(p)?);
                }
                if out.is_empty() { None } else { Some(out) }
            }
        }
    }
}

fn pred_literal(p: &Pred) -> Option<String> {
    match p {
        Pred::Str { lit, .. } => lit.clone(),
        _ => None,
    }
}

/// Higher is better: a set whose shortest literal is long, with few members.
fn score(set: &[String]) -> (usize, std::cmp::Reverse<usize>) {
    let min = set.iter().map(String::len).min().unwrap_or(0);
    (min.min(8), std::cmp::Reverse(set.len()))
}

/// Gate of a compiled condition: memo slots decided by field batches, one of which holds
/// whenever `node` matches (`None` when no such set is known: negations, keyword searches,
/// patterns without a literal, numeric and presence tests). Adds the "contains literal"
/// slots it needs to `table` (before [`FieldTable::build_batches`]).
pub(crate) fn gate(node: &Node, table: &mut FieldTable) -> Option<Vec<u32>> {
    match node {
        Node::And(v) => {
            let sets: Vec<Vec<u32>> = v.iter().filter_map(|n| gate(n, table)).collect();
            sets.into_iter().max_by_key(|s| gate_score(s, table))
        }
        Node::Or(v) | Node::AtLeast(_, v) => {
            let mut out = Vec::new();
            for n in v {
                out.extend(gate(n, table)?);
            }
            out.sort_unstable();
            out.dedup();
            (!out.is_empty()).then_some(out)
        }
        Node::Not(_) | Node::Const(_) => None,
        Node::Keyword { preds, all } => {
            let field = table.keyword?;
            field_gate(field, preds, *all, table)
        }
        Node::Field { field, preds, all } => field_gate(*field, preds, *all, table),
    }
}

fn field_gate(
    field: FieldId,
    preds: &[Pred],
    all: bool,
    table: &mut FieldTable,
) -> Option<Vec<u32>> {
    {
        {
            if all {
                let sets: Vec<Vec<u32>> = preds
                    .iter()
                    .filter_map(|p| pred_gate(field, p, table))
                    .collect();
                sets.into_iter().max_by_key(|s| gate_score(s, table))
            } else {
                let mut out = Vec::with_capacity(preds.len());
                for p in preds {
                    out.extend(pred_gate(field, p, table)?);
                }
                out.sort_unstable();
                out.dedup();
                (!out.is_empty()).then_some(out)
            }
        }
    }
}

/// Shortest literal a gate set can report on: shorter literals hold too often to gate.
const MIN_HINT: usize = 3;

fn pred_gate(field: FieldId, p: &Pred, table: &mut FieldTable) -> Option<Vec<u32>> {
    if let Pred::Num(n) = p {
        return table.num_slot(field, *n).map(|s| vec![s]);
    }
    let Pred::Str { pat, lit, memo, .. } = p else {
        return None;
    };
    if *memo != u32::MAX && pat.anchored_literal().is_some() {
        return Some(vec![*memo]);
    }
    let one = |l: &str| l.len() >= MIN_HINT && l.is_ascii();
    if let Some(l) = lit.as_deref().filter(|l| one(l)) {
        return table.hint(field, &l.to_ascii_lowercase()).map(|s| vec![s]);
    }
    let set = pat.hint()?;
    let mut out = Vec::with_capacity(set.len());
    for l in set {
        if !one(l) {
            return None;
        }
        out.push(table.hint(field, &l.to_ascii_lowercase())?);
    }
    (!out.is_empty()).then_some(out)
}

/// Higher is better: a set whose shortest literal is long, with few members.
fn gate_score(set: &[u32], table: &FieldTable) -> (usize, std::cmp::Reverse<usize>) {
    let min = set
        .iter()
        .map(|s| table.slot_info(*s).1.map_or(0, usize::from))
        .min()
        .unwrap_or(0);
    (min.min(8), std::cmp::Reverse(set.len()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use stormwatch_core::{Event, SourceKind};

    use crate::{Engine, EngineOptions};

    /// An engine of these rules (every one loads).
    fn engine(sources: &[(String, String)]) -> Engine {
        let (engine, errs) = Engine::from_sources(sources, &EngineOptions::default()).unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        engine
    }

    /// The ids of the rules that match a Windows event of this JSON, sorted.
    fn matching(engine: &Engine, raw: &str) -> Vec<String> {
        let ev = Event {
            source: SourceKind::WindowsEvent,
            raw: raw.into(),
            ..Event::default()
        };
        let mut v = engine.matching_rule_ids(&ev);
        v.sort_unstable();
        v.into_iter().map(str::to_string).collect()
    }

    #[test]
    fn keyword_and_field_rules_share_one_record_walk() {
        let rule = |id: &str, det: &str| {
            (
                format!("{id}.yml"),
                format!(
                    "title: t\nid: {id}\nlogsource: {{ product: windows, service: sysmon }}\ndetection:\n{det}\n    condition: sel\n"
                ),
            )
        };
        let sources = vec![
            rule("kw", "    sel:\n        - 'mimikatz'"),
            rule("img", "    sel:\n        Image|endswith: '\\cmd.exe'"),
            rule("both", "    sel:\n        - 'whoami'\n        - 'cmd.exe'"),
        ];
        let engine = engine(&sources);
        let ids = |raw: &str| matching(&engine, raw);
        let sys = r#""System":{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1}"#;
        assert_eq!(
            ids(&format!(
                r#"{{"Event":{{{sys},"EventData":{{"Image":"C:\\Windows\\CMD.EXE","N":[1,{{"x":"MimiKatz"}}]}}}}}}"#
            )),
            ["both", "img", "kw"]
        );
        assert_eq!(
            ids(&format!(
                r#"{{"Event":{{{sys},"EventData":{{"Image":"C:\\x\\cmd.exe.bak"}}}}}}"#
            )),
            ["both"]
        );
        assert!(
            ids(&format!(
                r#"{{"Event":{{{sys},"EventData":{{"Image":"a"}}}}}}"#
            ))
            .is_empty()
        );
    }

    #[test]
    fn channel_constraints_compare_the_record_channel() {
        let src = |id: &str, service: &str| {
            (
                format!("{id}.yml"),
                format!(
                    "title: t\nid: {id}\nlogsource: {{ product: windows, service: {service} }}\ndetection:\n    sel:\n        Data|contains: 'needle'\n    condition: sel\n"
                ),
            )
        };
        let sources = vec![src("sys", "system"), src("sec", "security")];
        let engine = engine(&sources);
        let ids = |system: &str| {
            matching(
                &engine,
                &format!(
                    r#"{{"Event":{{"System":{{{system}"EventID":7}},"EventData":{{"Data":"a needle"}}}}}}"#
                ),
            )
        };
        assert_eq!(ids(r#""Channel":"System","#), ["sys"]);
        assert_eq!(ids(r#""Channel":"SECURITY","#), ["sec"]);
        assert!(ids(r#""Channel":"Application","#).is_empty());
        // A record without a channel is not held to one.
        assert_eq!(ids(""), ["sec", "sys"]);
    }

    #[test]
    fn keywords_gated_by_the_few_a_record_can_match() {
        // Records of other channels than System are offered `kw` and `both` only: their
        // gates are decided by an automaton over their keywords alone; `both` then needs a
        // keyword outside it, decided by the whole keyword batch.
        let rule = |id: &str, service: &str, det: &str, cond: &str| {
            (
                format!("{id}.yml"),
                format!(
                    "title: t\nid: {id}\nlogsource: {{ product: windows{service} }}\ndetection:\n{det}\n    condition: {cond}\n"
                ),
            )
        };
        let words: String = (0..12)
            .map(|i| format!("        - 'alpha{i}x'\n"))
            .collect();
        let sources = vec![
            rule("kw", "", "    sel:\n        - 'mimikatz'", "sel"),
            rule(
                "sys",
                ", service: system",
                &format!("    sel:\n{words}"),
                "sel",
            ),
            rule(
                "both",
                "",
                "    a:\n        - 'mimikatz'\n    b:\n        - 'alpha3x'",
                "a and b",
            ),
        ];
        let engine = engine(&sources);
        assert!(
            !engine.inner.fields.gate_src.is_empty(),
            "no gate batch of its own"
        );
        let ids = |channel: &str, data: &str| {
            matching(
                &engine,
                &format!(
                    r#"{{"Event":{{"System":{{"Channel":"{channel}","EventID":1}},"EventData":{data}}}}}"#
                ),
            )
        };
        let sysmon = "Microsoft-Windows-Sysmon/Operational";
        assert_eq!(
            ids(sysmon, r#"{"A":"x MimiKatz","B":"ALPHA3X"}"#),
            ["both", "kw"]
        );
        assert_eq!(ids(sysmon, r#"{"A":"mimikatz"}"#), ["kw"]);
        assert!(ids(sysmon, r#"{"A":"alpha3x"}"#).is_empty());
        assert_eq!(ids("System", r#"{"A":"alpha3x"}"#), ["sys"]);
        assert_eq!(
            ids("System", r#"{"A":"alpha3x","B":["mimikatz"]}"#),
            ["both", "kw", "sys"]
        );
    }
}
