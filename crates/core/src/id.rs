//! Deterministic detection ids.
//!
//! A detection's id is derived from what it is about, never from when or where it was
//! computed: the rule, the key of its group, its window and its first record. The same input
//! processed twice, in another order within the lateness bound, or resumed after a crash gives
//! the same ids, so a store downstream deduplicates on them.
//!
//! The id is the first 128 bits of a SHA-256 over the length-prefixed parts, in hex. A
//! cryptographic hash matters here: log contents are attacker-controlled, and an actor able to
//! make their detection's id collide with an earlier benign one would have it deduplicated away.

use sha2::{Digest, Sha256};

use crate::location::Location;

/// Length of a detection id in hex characters.
pub const DETECTION_ID_LEN: usize = 32;

/// The id of the detection described by `parts` (rule id first, by convention; then the parts
/// that tell this detection from others of the same rule). Parts are length-prefixed, so
/// `["ab", "c"]` and `["a", "bc"]` differ.
///
/// ```
/// use stormwatch_core::detection_id;
/// let a = detection_id(&["rule-1", "record-7"]);
/// assert_eq!(a.len(), 32);
/// assert_eq!(a, detection_id(&["rule-1", "record-7"]));
/// assert_ne!(a, detection_id(&["rule-1r", "ecord-7"]));
/// ```
#[must_use]
pub fn detection_id<S: AsRef<[u8]>>(parts: &[S]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        let p = p.as_ref();
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(DETECTION_ID_LEN);
    for b in digest.iter().take(DETECTION_ID_LEN / 2) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// What identifies a record in detection ids: its position (`file:line`) and its own id
/// (`Id`, `id`, `RecordId`) when it has one. The position is part of it because record ids
/// are not unique in real exports (test fixtures reuse them, and a log's contents are
/// attacker-controlled): a reused id must not merge two detections. Inputs read again give the
/// same positions; a service gives each ingested record a stable position of its own.
#[must_use]
pub fn record_identity(loc: &Location) -> String {
    match loc.record_id.as_deref() {
        Some(id) if !id.is_empty() => format!("{}:{}#{id}", loc.file, loc.line),
        _ => format!("{}:{}", loc.file, loc.line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn known_vector() {
        // SHA-256 of (len=0 as u64 LE) is that of eight zero bytes.
        assert_eq!(
            detection_id::<&str>(&[""]),
            "af5570f5a1810b7af78caf4bc70a660f"
        );
    }

    #[test]
    fn identity_is_the_position_and_the_record_id() {
        let mut loc = Location {
            file: Arc::from("a.json"),
            line: 3,
            record_id: Some("r-1".into()),
        };
        assert_eq!(record_identity(&loc), "a.json:3#r-1");
        loc.record_id = None;
        assert_eq!(record_identity(&loc), "a.json:3");
        loc.record_id = Some(String::new());
        assert_eq!(record_identity(&loc), "a.json:3");
    }
}
