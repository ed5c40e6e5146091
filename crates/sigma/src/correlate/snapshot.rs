//! Saving and restoring a correlator's state: every group's window, waiting matches and live
//! speculative detections, and the frontier.
//!
//! The state is written with its strings (never interner symbols) and each correlation under
//! its rule id and a fingerprint of its definition: a restore into a correlator whose rules
//! changed keeps the state of the correlations that did not, and says how many it dropped.
//! Restoring the same state into a fresh interner also compacts the strings.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stormwatch_core::{Location, detection_id};

use super::locs::{Loc, LocTable};
use super::stream::{Correlator, Group};
use super::window::{Cx, Item, Locs, Window};
use super::{CompiledCorrelation, Ref, Sym};
use crate::SigmaError;
use crate::engine::Inner;

/// Format version of [`Correlator::snapshot`].
pub const CORRELATOR_SNAPSHOT_VERSION: u32 = 1;

const MAGIC: &[u8; 4] = b"SWCR";

#[derive(Serialize, Deserialize)]
struct Snap {
    frontier: Option<i64>,
    correlations: Vec<CorrSnap>,
}

#[derive(Serialize, Deserialize)]
struct CorrSnap {
    rule_id: String,
    fingerprint: String,
    groups: Vec<GroupSnap>,
}

#[derive(Serialize, Deserialize)]
struct GroupSnap {
    key: Vec<String>,
    window: Vec<(u64, ItemSnap)>,
    ordered: Vec<Option<u64>>,
    next_seq: u64,
    pending: Vec<ItemSnap>,
    live: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct ItemSnap {
    t: i64,
    r: u32,
    value: Option<String>,
    num: Option<f64>,
    many: bool,
    locs: Vec<LocSnap>,
}

#[derive(Serialize, Deserialize)]
struct LocSnap {
    file: String,
    line: u64,
    record_id: Option<String>,
}

/// What [`Correlator::restore`] kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Correlations whose state was restored.
    pub restored: usize,
    /// Correlations in the snapshot that are no longer loaded, or whose definition changed.
    pub dropped: usize,
}

/// What tells one version of a correlation's definition from another.
fn fingerprint(inner: &Inner, c: &CompiledCorrelation) -> String {
    let id = inner.infos.get(c.info).map_or("", |i| i.id.as_str());
    let refs: Vec<String> = c
        .refs
        .iter()
        .map(|r| match r {
            Ref::Rule(i) => inner
                .rules
                .get(*i)
                .and_then(|r| inner.infos.get(r.info))
                .map_or_else(String::new, |i| format!("rule:{}", i.id)),
            Ref::Corr(k) => inner
                .correlations
                .get(*k)
                .and_then(|c| inner.infos.get(c.info))
                .map_or_else(String::new, |i| format!("corr:{}", i.id)),
        })
        .collect();
    let mut aliases: Vec<String> = c
        .aliases
        .iter()
        .flat_map(|(a, m)| m.iter().map(move |(r, f)| format!("{a}/{r}/{f}")))
        .collect();
    aliases.sort();
    let preds: Vec<String> = c.preds.iter().map(|(op, v)| format!("{op:?}{v}")).collect();
    detection_id(&[
        id,
        c.kind.as_str(),
        &refs.join(","),
        &c.group_by.join(","),
        &aliases.join(","),
        &c.span_ns.to_string(),
        &preds.join(","),
        c.field.as_deref().unwrap_or(""),
        &c.percentile.map(|p| p.to_string()).unwrap_or_default(),
        &format!("{:?}", c.extended),
    ])
}

impl Correlator {
    /// The whole state, as bytes to keep (with a format version).
    ///
    /// # Errors
    /// Only if serialising fails, which in-memory state does not do.
    pub fn snapshot(&self) -> Result<Vec<u8>, SigmaError> {
        let snap = self.to_snap();
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CORRELATOR_SNAPSHOT_VERSION.to_le_bytes());
        postcard::to_extend(&snap, out).map_err(|e| SigmaError::Snapshot {
            reason: e.to_string(),
        })
    }

    /// Replace the state with one saved by [`Correlator::snapshot`] (of a correlator made
    /// from the same rules, or from rules that changed since: see [`RestoreReport`]).
    ///
    /// # Errors
    /// [`SigmaError::Snapshot`] for bytes that are not such a snapshot, are corrupt, or come
    /// from another format version; the state is then left as it was.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<RestoreReport, SigmaError> {
        let bad = |reason: String| SigmaError::Snapshot { reason };
        let (magic, rest) = bytes
            .split_at_checked(4)
            .ok_or_else(|| bad("too short".into()))?;
        if magic != MAGIC {
            return Err(bad("not a correlator snapshot".into()));
        }
        let (version, body) = rest
            .split_at_checked(4)
            .ok_or_else(|| bad("too short".into()))?;
        let version = u32::from_le_bytes(version.try_into().unwrap_or([0; 4]));
        if version != CORRELATOR_SNAPSHOT_VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads {CORRELATOR_SNAPSHOT_VERSION}"
            )));
        }
        let snap: Snap = postcard::from_bytes(body).map_err(|e| bad(e.to_string()))?;
        Ok(self.load_snap(snap))
    }

    /// Keep only the strings the state uses: the state is written out with its strings and
    /// read back into a fresh interner.
    pub(super) fn compact(&mut self) {
        let snap = self.to_snap();
        let mut strings = stormwatch_core::Interner::default();
        for i in 0..self.fixed {
            strings.intern(self.strings.text(i));
        }
        self.strings = strings;
        self.table = LocTable::default();
        let _ = self.load_snap(snap);
    }

    fn to_snap(&self) -> Snap {
        let inner = self.inner();
        let text = |s: Sym| self.strings.text(s).to_owned();
        let mut correlations = Vec::new();
        for (ci, st) in self.states.iter().enumerate() {
            let Some(c) = inner.correlations.get(ci) else {
                continue;
            };
            let cx = Cx {
                c,
                strings: &self.strings,
                table: &self.table,
            };
            let item = |i: &Item| ItemSnap {
                t: i.t,
                r: i.r(),
                value: i.value().map(text),
                num: cx.num(i),
                many: matches!(i.locs, Locs::Many(_)),
                locs: i
                    .locs
                    .as_slice()
                    .iter()
                    .map(|l| {
                        let l = self.table.location(l);
                        LocSnap {
                            file: l.file.to_string(),
                            line: l.line,
                            record_id: l.record_id,
                        }
                    })
                    .collect(),
            };
            let Some(info) = inner.infos.get(c.info) else {
                continue;
            };
            let mut groups: Vec<GroupSnap> = st
                .groups
                .iter()
                .map(|(key, g)| GroupSnap {
                    key: key.iter().map(|&s| text(s)).collect(),
                    window: g.window.items.iter().map(|(q, i)| (*q, item(i))).collect(),
                    ordered: g.window.ordered.clone(),
                    next_seq: g.window.next_seq,
                    pending: g
                        .pending
                        .iter()
                        .map(item)
                        .chain(g.backlog.iter().map(|i| item(&i)))
                        .collect(),
                    live: g.live.clone(),
                })
                .collect();
            // A fixed order, so the same state gives the same bytes.
            groups.sort_by(|a, b| a.key.cmp(&b.key));
            correlations.push(CorrSnap {
                rule_id: info.id.clone(),
                fingerprint: fingerprint(inner, c),
                groups,
            });
        }
        Snap {
            frontier: self.frontier,
            correlations,
        }
    }

    fn load_snap(&mut self, snap: Snap) -> RestoreReport {
        let inner = Arc::clone(&self.plan.inner);
        for st in &mut self.states {
            st.groups.clear();
            st.touched.clear();
            st.due.clear();
        }
        self.frontier = snap.frontier;
        let mut report = RestoreReport::default();
        for cs in snap.correlations {
            let found = inner.correlations.iter().enumerate().find(|(_, c)| {
                inner.infos.get(c.info).is_some_and(|i| i.id == cs.rule_id)
                    && fingerprint(&inner, c) == cs.fingerprint
            });
            let Some((ci, c)) = found else {
                report.dropped += 1;
                continue;
            };
            report.restored += 1;
            for gs in cs.groups {
                let key: Box<[Sym]> = gs.key.iter().map(|k| self.strings.intern(k)).collect();
                let window: Vec<(u64, Item)> = gs
                    .window
                    .into_iter()
                    .map(|(q, i)| (q, self.item_of(i)))
                    .collect();
                let pending: Vec<Item> = gs.pending.into_iter().map(|i| self.item_of(i)).collect();
                let cx = Cx {
                    c,
                    strings: &self.strings,
                    table: &self.table,
                };
                let group = Group {
                    window: Window::rebuild(cx, window, gs.ordered, gs.next_seq),
                    pending,
                    backlog: super::backlog::Backlog::default(),
                    disordered: true,
                    spec: None,
                    live: gs.live,
                    due_at: None,
                };
                let Some(st) = self.states.get_mut(ci) else {
                    continue;
                };
                st.groups.insert(key, Box::new(group));
            }
        }
        if self.frontier.is_some() {
            for st in &mut self.states {
                st.track_all(&self.table);
            }
        }
        report
    }

    /// A saved match (its number is read off its value again when needed).
    fn item_of(&mut self, i: ItemSnap) -> Item {
        // Consecutive locations of one file share its name, so the table finds it at once.
        let mut file: Option<Arc<str>> = None;
        let mut locs: Vec<Loc> = i
            .locs
            .into_iter()
            .map(|l| {
                let name = match file.take() {
                    Some(f) if *f == *l.file => f,
                    _ => Arc::from(l.file),
                };
                let packed = self.table.pack(&Location {
                    file: Arc::clone(&name),
                    line: l.line,
                    record_id: l.record_id,
                });
                file = Some(name);
                packed
            })
            .collect();
        let locs = match locs.pop() {
            Some(one) if !i.many && locs.is_empty() => Locs::One(one),
            last => {
                locs.extend(last);
                Locs::Many(locs.into())
            }
        };
        let value = i.value.map(|v| self.strings.intern(&v));
        Item::new(i.t, i.r, value, locs)
    }
}
