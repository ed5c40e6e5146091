//! Ids of the analytics' detections, and the digest that tells whether a detection changed.

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};
use stormwatch_core::{Detection, Incident, detection_id, record_identity};

/// What a detection says, to tell whether one raised again with the same id changed.
pub(crate) type Digest = [u8; 16];

/// Feeds what is written to a hash, through a buffer (serialisers write in small pieces).
struct Hashing {
    h: Sha256,
    buf: Vec<u8>,
}

impl Hashing {
    fn new() -> Self {
        Hashing {
            h: Sha256::new(),
            buf: Vec::with_capacity(8192),
        }
    }

    fn finish(mut self) -> Digest {
        self.h.update(&self.buf);
        let full = self.h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }
}

impl std::io::Write for Hashing {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + b.len() > self.buf.capacity() {
            self.h.update(&self.buf);
            self.buf.clear();
        }
        if b.len() >= self.buf.capacity() {
            self.h.update(b);
        } else {
            self.buf.extend_from_slice(b);
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The digest of everything a detection says (its JSON, streamed into the hash).
pub(crate) fn digest(d: &Detection) -> Digest {
    let mut h = Hashing::new();
    // Serialising a detection cannot fail (string keys, finite numbers).
    let _ = serde_json::to_writer(&mut h, d);
    h.finish()
}

/// The digest of what an incident says.
pub(crate) fn incident_digest(u: &crate::change::IncidentUpdate) -> Digest {
    let mut h = Hashing::new();
    let mut inc = u.incident.clone();
    // Indices into one decision's list: not what the incident says.
    inc.detections.clear();
    let _ = serde_json::to_writer(&mut h, &inc);
    let _ = serde_json::to_writer(&mut h, &u.detection_ids);
    h.finish()
}

/// Give each incident of a decision an id that stays while its earliest detection does
/// (`INC-` and 12 hex digits), on it and on its detections; return what to tell of those
/// with at least one detection in `shown`.
pub(crate) fn stable_incidents(
    incidents: Vec<Incident>,
    dets: &mut [Detection],
    shown: impl Fn(&Detection) -> bool,
) -> Vec<crate::change::IncidentUpdate> {
    let mut out = Vec::new();
    for mut inc in incidents {
        let members: Vec<usize> = inc
            .detections
            .iter()
            .copied()
            .filter(|&i| dets.get(i).is_some_and(&shown))
            .collect();
        let Some(earliest) = members.iter().copied().min_by(|&a, &b| {
            (dets[a].timestamp, &dets[a].id).cmp(&(dets[b].timestamp, &dets[b].id))
        }) else {
            continue;
        };
        let id = format!(
            "INC-{}",
            &detection_id(&["incident", dets[earliest].id.as_str()])[..12]
        );
        for &i in &inc.detections {
            if let Some(d) = dets.get_mut(i) {
                d.incident_id = Some(id.clone());
            }
        }
        inc.id = id;
        let detection_ids = members.iter().map(|&i| dets[i].id.clone()).collect();
        out.push(crate::change::IncidentUpdate {
            incident: inc,
            detection_ids,
        });
    }
    out
}

/// Give each of the analytics' detections (in output order) its id: the rule, its first
/// record (or its time, when it lists none), and its rank among the detections of that rule
/// with that first record.
pub(crate) fn assign_analytic_ids(dets: &mut [Detection]) {
    let mut seen: HashMap<(String, String), u32> = HashMap::new();
    for d in dets {
        let first = d
            .events
            .first()
            .map_or_else(|| format!("@{}", d.timestamp.nanos()), record_identity);
        let n = seen.entry((d.rule_id.clone(), first.clone())).or_insert(0);
        d.id = detection_id(&[d.rule_id.as_str(), "analytic", &first, &n.to_string()]);
        *n += 1;
    }
}
