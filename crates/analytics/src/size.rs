//! An estimate of the heap the folded state holds, for metrics and benchmarks: collection
//! capacities times element sizes, with the usual per-entry overheads of hash tables (one
//! control byte, 1/8 spare) and B-trees (nodes about two thirds full), plus owned text. Not
//! exact (allocator rounding and the B-tree node headers are estimated), but it grows and
//! shrinks with what is held.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::mem::size_of;

use crate::baseline::BaselineSnapshot;
use crate::engine::Analytics;
use crate::sorted::{SortedMap, SortedSet};
use crate::state::State;

fn vec<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

fn hash_map<K, V, S>(m: &HashMap<K, V, S>) -> usize {
    m.capacity() * 8 / 7 * (size_of::<(K, V)>() + 1)
}

fn hash_set<K, S>(m: &HashSet<K, S>) -> usize {
    m.capacity() * 8 / 7 * (size_of::<K>() + 1)
}

fn btree_map<K, V>(m: &BTreeMap<K, V>) -> usize {
    m.len() * (size_of::<K>() + size_of::<V>()) * 3 / 2
}

fn sorted_set<K: Ord + Copy>(m: &SortedSet<K>) -> usize {
    m.capacity() * size_of::<K>()
}

fn sorted_map<V>(m: &SortedMap<V>) -> usize {
    m.capacity() * size_of::<(i64, V)>()
}

fn text(s: &str) -> usize {
    s.len()
}

fn baseline(s: &BaselineSnapshot) -> usize {
    let mut n = btree_map(&s.mailboxes);
    for (m, b) in &s.mailboxes {
        n += text(m) + btree_map(&b.seen);
        for (dim, values) in &b.seen {
            n += text(dim) + btree_map(values);
            n += values.keys().map(|v| text(v)).sum::<usize>();
        }
    }
    n
}

/// [`Analytics::state_parts`]: the state's estimated bytes by part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateParts {
    /// Contexts held.
    pub contexts: usize,
    /// (part, bytes), in a fixed order.
    pub parts: Vec<(&'static str, usize)>,
}

/// The parts of [`state`], by name.
fn state_parts(st: &State) -> [(&'static str, usize); 6] {
    // Interner: the text, an end offset per string, a hash table of ids.
    let strings = st.names.len();
    let names = st.names.text_bytes() + strings * size_of::<usize>() + strings * 8 / 7 * 5;
    let mut ctxs = hash_map(&st.ip_syms) + hash_map(&st.ctx_index) + vec(&st.ctxs);
    let mut hours = 0;
    let mut locs = 0;
    for (_, c) in &st.ctxs {
        hours += sorted_map(&c.hours);
        ctxs += sorted_set(&c.utis) + sorted_set(&c.folders);
        locs += vec(&c.locs.items);
    }
    let si = &st.sign_ins;
    let mut sign_ins = hash_map(&si.sessions) + hash_map(&si.utis) + hash_map(&si.user_ips);
    sign_ins += hash_set(&si.users) + hash_map(&si.user_last);
    sign_ins += si.sessions.values().map(sorted_set).sum::<usize>();
    sign_ins += si.user_ips.values().map(sorted_set).sum::<usize>();
    let mut rest = vec(&st.ioc_hits);
    rest += st
        .ioc_hits
        .iter()
        .map(|h| h.loc.record_id.as_deref().map_or(0, text))
        .sum::<usize>();
    rest += vec(&st.audit_changes);
    rest += st
        .audit_changes
        .iter()
        .map(|a| text(&a.operation) + a.loc.record_id.as_deref().map_or(0, text))
        .sum::<usize>();
    rest += vec(&st.verdicts);
    rest += st
        .verdicts
        .iter()
        .map(|v| text(&v.verdict) + v.loc.record_id.as_deref().map_or(0, text))
        .sum::<usize>();
    rest += hash_map(&st.activity) + btree_map(&st.days);
    [
        ("strings", names),
        ("contexts", ctxs),
        ("context hours", hours),
        ("context record locations", locs),
        ("sign-in index", sign_ins),
        ("other", rest),
    ]
}

fn state(st: &State) -> usize {
    state_parts(st).iter().map(|(_, n)| n).sum()
}

impl Analytics {
    /// Approximate heap bytes held by what was folded: the state, the baseline snapshot it is
    /// compared against (including what [`Analytics::evict`] folded into it) and the early
    /// notes. An estimate from collection sizes (see the module docs), for metrics and
    /// benchmarks; the configuration and reference data (IOCs, apps, ASN table) are not
    /// counted.
    #[must_use]
    pub fn state_bytes(&self) -> usize {
        state(&self.state)
            + baseline(&self.snapshot)
            + self.early_notes.iter().map(|s| s.capacity()).sum::<usize>()
    }

    /// [`Analytics::state_bytes`] by part (the interned strings, the contexts, their hours,
    /// their record locations, the sign-in index, the rest; then the baselines), with how
    /// many contexts are held: for sizing and benchmarks.
    #[must_use]
    pub fn state_parts(&self) -> StateParts {
        let mut parts = state_parts(&self.state).to_vec();
        parts.push(("baselines", baseline(&self.snapshot)));
        StateParts {
            contexts: self.state.ctxs.len(),
            parts,
        }
    }

    /// The part of [`Analytics::state_bytes`] held by the baseline snapshot (what was
    /// loaded, and what [`Analytics::evict`] folded into it): it is bounded by
    /// `snapshot_retention_days`, not by the horizon.
    #[must_use]
    pub fn baseline_bytes(&self) -> usize {
        baseline(&self.snapshot)
    }
}
