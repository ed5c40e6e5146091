//! Ids of the analytics' detections, and the digest that tells whether a detection changed.

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};
use stormwatch_core::{Detection, detection_id, record_identity};

/// What a detection says, to tell whether one raised again with the same id changed.
pub(crate) type Digest = [u8; 16];

/// The digest of everything a detection says.
pub(crate) fn digest(d: &Detection) -> Digest {
    let mut h = Sha256::new();
    // Serialising a detection cannot fail (string keys, finite numbers).
    if let Ok(bytes) = serde_json::to_vec(d) {
        h.update(&bytes);
    }
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
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
