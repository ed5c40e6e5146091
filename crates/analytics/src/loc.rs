//! Record locations as contexts keep them: no heap allocation per record.
//!
//! A [`Location`] owns its record id as a `String`; a context may keep thousands of them, so
//! here a canonical lower-case GUID id (what Microsoft's exports carry) is held as 16 bytes and
//! only other ids are boxed. The order is that of `(time, Location)`, so what is kept and how it
//! is sorted do not change.

use std::cmp::Ordering;
use std::sync::Arc;

use stormwatch_core::Location;

/// A record id: absent, a canonical lower-case GUID, or any other text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecId {
    None,
    Guid([u8; 16]),
    Text(Box<str>),
}

const HEX: &[u8; 16] = b"0123456789abcdef";
/// Byte offsets of the hyphens in `8-4-4-4-12`.
const DASHES: [usize; 4] = [8, 13, 18, 23];

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl RecId {
    pub(crate) fn of(id: Option<&str>) -> RecId {
        match id {
            None => RecId::None,
            Some(s) => Self::guid(s).map_or_else(|| RecId::Text(s.into()), RecId::Guid),
        }
    }

    /// The 16 bytes of a canonical lower-case GUID, else `None`.
    fn guid(s: &str) -> Option<[u8; 16]> {
        let b = s.as_bytes();
        if b.len() != 36 || DASHES.iter().any(|&i| b[i] != b'-') {
            return None;
        }
        let mut out = [0u8; 16];
        let mut nibbles = b.iter().filter(|&&c| c != b'-');
        for o in &mut out {
            let hi = hex_val(*nibbles.next()?)?;
            let lo = hex_val(*nibbles.next()?)?;
            *o = (hi << 4) | lo;
        }
        Some(out)
    }

    fn guid_text(g: &[u8; 16]) -> String {
        let mut s = String::with_capacity(36);
        for (i, byte) in g.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                s.push('-');
            }
            s.push(char::from(HEX[usize::from(byte >> 4)]));
            s.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        s
    }

    pub(crate) fn text(&self) -> Option<String> {
        match self {
            RecId::None => None,
            RecId::Guid(g) => Some(Self::guid_text(g)),
            RecId::Text(t) => Some(t.to_string()),
        }
    }
}

impl Ord for RecId {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (RecId::None, RecId::None) => Ordering::Equal,
            (RecId::None, _) => Ordering::Less,
            (_, RecId::None) => Ordering::Greater,
            // Fixed-width lower-case hex with hyphens at the same places: byte order is text order.
            (RecId::Guid(a), RecId::Guid(b)) => a.cmp(b),
            (RecId::Text(a), RecId::Text(b)) => a.cmp(b),
            (a, b) => a.text().cmp(&b.text()),
        }
    }
}

impl PartialOrd for RecId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A kept record: its time and where it is. Ordered as `(time, Location)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Kept {
    pub(crate) t: i64,
    file: Arc<str>,
    line: u64,
    id: RecId,
}

impl Kept {
    pub(crate) fn new(t: i64, loc: &Location) -> Kept {
        Kept {
            t,
            file: Arc::clone(&loc.file),
            line: loc.line,
            id: RecId::of(loc.record_id.as_deref()),
        }
    }

    pub(crate) fn location(&self) -> Location {
        Location {
            file: Arc::clone(&self.file),
            line: self.line,
            record_id: self.id.text(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(file: &str, line: u64, id: Option<&str>) -> Location {
        Location {
            file: file.into(),
            line,
            record_id: id.map(str::to_owned),
        }
    }

    #[test]
    fn round_trips_and_keeps_the_order_of_time_and_location() {
        let ids = [
            None,
            Some("6afe0cd6-c9b4-42eb-a3ed-b3b392710e63"),
            Some("88208b22-f189-4fbe-9719-dfb702c2fd42"),
            Some("6AFE0CD6-C9B4-42EB-A3ED-B3B392710E63"),
            Some("7"),
            Some(""),
            Some("zzzz0cd6-c9b4-42eb-a3ed-b3b392710e63"),
            Some("6afe0cd6xc9b4-42eb-a3ed-b3b392710e63"),
            Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        ];
        let mut plain = Vec::new();
        let mut kept = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            for t in [5, 1] {
                let l = loc(if i % 2 == 0 { "a.json" } else { "b.json" }, 3, *id);
                let k = Kept::new(t, &l);
                assert_eq!(k.location(), l);
                plain.push((t, l));
                kept.push(k);
            }
        }
        plain.sort();
        kept.sort();
        let back: Vec<(i64, Location)> = kept.iter().map(|k| (k.t, k.location())).collect();
        assert_eq!(back, plain);
    }

    #[test]
    fn only_canonical_lower_case_guids_are_packed() {
        assert!(matches!(
            RecId::of(Some("6afe0cd6-c9b4-42eb-a3ed-b3b392710e63")),
            RecId::Guid(_)
        ));
        assert!(matches!(
            RecId::of(Some("6AFE0CD6-C9B4-42EB-A3ED-B3B392710E63")),
            RecId::Text(_)
        ));
        assert!(matches!(RecId::of(Some("x")), RecId::Text(_)));
        assert_eq!(RecId::of(None), RecId::None);
    }
}
