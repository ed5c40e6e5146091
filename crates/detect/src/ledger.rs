//! What the detector has raised that may still change: it turns each decision into the
//! changes a store applies (raise what is new or changed, withdraw what no longer holds).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use stormwatch_core::{Detection, record_identity};
use stormwatch_sigma::CorrelationChanges;

use crate::change::{Alert, Change, IncidentUpdate, Withdrawal};
use crate::ids::{Digest, digest, incident_digest};
use crate::scan::MAX_LATE_RECORDS;

/// A detection raised that may still change or be withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Open {
    pub(crate) digest: Digest,
    pub(crate) rule_id: String,
    /// Its time (ns).
    pub(crate) t: i64,
    /// Raised by the analytics (else by a correlation).
    pub(crate) analytic: bool,
}

/// Records that arrived late (beyond the lateness bound), for marking the analytics'
/// detections of them late.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Late {
    /// Their identities.
    pub(crate) records: BTreeSet<String>,
    /// More late records than [`MAX_LATE_RECORDS`] arrived.
    pub(crate) overflow: bool,
}

impl Late {
    fn marks(&self, d: &Detection) -> bool {
        self.overflow
            || (!self.records.is_empty()
                && d.events
                    .iter()
                    .any(|l| self.records.contains(&record_identity(l))))
    }
}

/// Raised detections that may still change, and the records that came late since the
/// analytics last decided.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Ledger {
    /// By id (ordered, so that a snapshot of the same state is the same bytes).
    pub(crate) open: BTreeMap<String, Open>,
    /// Records that arrived late since the analytics' last decision began.
    pub(crate) late: Late,
    /// Incidents told, by id: what they said.
    pub(crate) incidents: BTreeMap<String, Digest>,
}

const CORRELATION_WITHDRAWN: &str =
    "a record that arrived out of order changed the correlation's window";
const ANALYTIC_WITHDRAWN: &str = "records that arrived later (a sign-in after the grace, an earlier record of the context) changed the analytics' decision";

impl Ledger {
    pub(crate) fn note_late(&mut self, ids: impl Iterator<Item = String>) {
        for id in ids {
            if self.late.records.len() < MAX_LATE_RECORDS {
                self.late.records.insert(id);
            } else {
                self.late.overflow = true;
            }
        }
    }

    /// Records came late since the analytics' last decision began.
    pub(crate) fn has_late(&self) -> bool {
        self.late.overflow || !self.late.records.is_empty()
    }

    /// The late records a decision beginning now decides on.
    pub(crate) fn take_late(&mut self) -> Late {
        std::mem::take(&mut self.late)
    }

    /// Raise what the correlations raised that is new or changed, withdraw what no longer
    /// holds.
    pub(crate) fn correlations(&mut self, ch: CorrelationChanges, out: &mut Vec<Change>) {
        for id in ch.withdrawn {
            if let Some(o) = self.open.remove(&id) {
                out.push(Change::Withdraw(Withdrawal {
                    id,
                    rule_id: o.rule_id,
                    reason: CORRELATION_WITHDRAWN.to_owned(),
                }));
            }
        }
        for r in ch.raised {
            let dg = digest(&r.detection);
            let unchanged = self
                .open
                .get(&r.detection.id)
                .is_some_and(|o| o.digest == dg);
            if r.settled {
                self.open.remove(&r.detection.id);
            } else {
                self.open.insert(
                    r.detection.id.clone(),
                    Open {
                        digest: dg,
                        rule_id: r.detection.rule_id.clone(),
                        t: r.detection.timestamp.nanos(),
                        analytic: false,
                    },
                );
            }
            if !unchanged {
                out.push(Change::Raise(Alert {
                    detection: r.detection,
                    late: r.late,
                    settled: r.settled,
                }));
            }
        }
    }

    /// The analytics' detections as decided now. Those whose time is after `cutoff` are not
    /// decided yet (all are, with `None`); the others are raised when new or changed, and
    /// the analytics' detections raised before that are no longer among them are withdrawn.
    /// With `quiet`, nothing is said of what changed: the ledger only takes the decision as
    /// its new reference (after an eviction, whose effect on old detections is not news).
    /// Detections of the `late` records are marked late.
    pub(crate) fn analytics(
        &mut self,
        detections: Vec<Detection>,
        cutoff: Option<i64>,
        settled: bool,
        quiet: bool,
        late: &Late,
        out: &mut Vec<Change>,
    ) {
        let mut now: HashSet<String> = HashSet::new();
        let mut raised = Vec::new();
        for d in detections {
            // Not decided yet, unless it was raised already (by a flush).
            if cutoff.is_some_and(|c| d.timestamp.nanos() > c) && !self.open.contains_key(&d.id) {
                continue;
            }
            now.insert(d.id.clone());
            let dg = digest(&d);
            let known = self.open.get(&d.id);
            if known.is_some_and(|o| o.digest == dg) {
                continue;
            }
            let new = known.is_none();
            self.open.insert(
                d.id.clone(),
                Open {
                    digest: dg,
                    rule_id: d.rule_id.clone(),
                    t: d.timestamp.nanos(),
                    analytic: true,
                },
            );
            if quiet && !new {
                continue;
            }
            let late = late.marks(&d);
            raised.push(Change::Raise(Alert {
                detection: d,
                late,
                settled,
            }));
        }
        let gone: Vec<String> = self
            .open
            .iter()
            .filter(|(id, o)| o.analytic && !now.contains(*id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some(o) = self.open.remove(&id)
                && !quiet
            {
                out.push(Change::Withdraw(Withdrawal {
                    id,
                    rule_id: o.rule_id,
                    reason: ANALYTIC_WITHDRAWN.to_owned(),
                }));
            }
        }
        out.extend(raised);
    }

    /// The incidents as grouped now: tell those new or changed, and those gone (unless
    /// `quiet`, as after an eviction).
    pub(crate) fn incidents(
        &mut self,
        list: Vec<IncidentUpdate>,
        quiet: bool,
        out: &mut Vec<Change>,
    ) {
        let mut now: BTreeMap<String, Digest> = BTreeMap::new();
        for u in list {
            let dg = incident_digest(&u);
            let known = self.incidents.get(&u.incident.id);
            let changed = known != Some(&dg);
            let new = known.is_none();
            now.insert(u.incident.id.clone(), dg);
            if changed && (new || !quiet) {
                out.push(Change::Incident(u));
            }
        }
        if !quiet {
            for id in self.incidents.keys() {
                if !now.contains_key(id) {
                    out.push(Change::IncidentGone { id: id.clone() });
                }
            }
        }
        self.incidents = now;
    }

    /// Forget correlations' detections older than `before` that are still open (their
    /// groups were evicted, so nothing can change them any more).
    pub(crate) fn forget_correlations_before(&mut self, before: i64) {
        self.open.retain(|_, o| o.analytic || o.t >= before);
    }

    /// Ids of the open detections, for tests and metrics.
    pub(crate) fn open_count(&self) -> usize {
        self.open.len()
    }
}

/// A map from ids to counts, to find duplicates in tests of this module.
#[cfg(test)]
fn counts<'a>(ids: impl Iterator<Item = &'a str>) -> std::collections::HashMap<&'a str, usize> {
    let mut m = std::collections::HashMap::new();
    for id in ids {
        *m.entry(id).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormwatch_core::{DetectionSource, Level, Timestamp};

    fn det(id: &str, t: i64, expl: &str) -> Detection {
        let mut d = Detection::new(
            "builtin/x",
            "x",
            Level::High,
            DetectionSource::Builtin,
            Timestamp::from_nanos(t),
        );
        d.id = id.to_owned();
        d.explanation = expl.to_owned();
        d
    }

    #[test]
    fn analytics_raise_new_and_changed_withdraw_gone_and_keep_quiet_after_eviction() {
        let mut l = Ledger::default();
        let mut out = Vec::new();
        l.analytics(
            vec![det("a", 1, "one"), det("b", 2, "two"), det("c", 9, "later")],
            Some(5),
            false,
            false,
            &Late::default(),
            &mut out,
        );
        assert_eq!(
            out.iter().map(Change::id).collect::<Vec<_>>(),
            ["a", "b"],
            "c is after the cutoff"
        );
        out.clear();
        // a unchanged, b changed, c now decided, d new; nothing gone.
        l.analytics(
            vec![
                det("a", 1, "one"),
                det("b", 2, "two, more"),
                det("c", 9, "later"),
            ],
            Some(10),
            false,
            false,
            &Late::default(),
            &mut out,
        );
        assert_eq!(out.iter().map(Change::id).collect::<Vec<_>>(), ["b", "c"]);
        out.clear();
        // b gone: withdrawn.
        l.analytics(
            vec![det("a", 1, "one"), det("c", 9, "later")],
            Some(10),
            false,
            false,
            &Late::default(),
            &mut out,
        );
        assert!(matches!(&out[..], [Change::Withdraw(w)] if w.id == "b"));
        out.clear();
        // After an eviction: a gone, c changed, e new: only e is news.
        l.analytics(
            vec![det("c", 9, "later, fewer"), det("e", 12, "new")],
            None,
            false,
            true,
            &Late::default(),
            &mut out,
        );
        assert_eq!(out.iter().map(Change::id).collect::<Vec<_>>(), ["e"]);
        assert_eq!(
            counts(l.open.keys().map(String::as_str)),
            counts(["c", "e"].into_iter())
        );
    }
}
