//! Record locations packed for keeping many: no heap allocation for the usual record id.
//!
//! A [`Location`] owns its record id as a `String`; detectors that keep thousands of locations
//! hold a [`PackedLocation`] instead, where a canonical lower-case GUID id (what Microsoft's
//! exports carry) takes 16 bytes inline and only other ids are boxed. Packed locations order
//! exactly as the locations they stand for.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::Location;

/// A record id: absent, a canonical lower-case GUID, or any other text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordId {
    /// No record id.
    None,
    /// A canonical lower-case GUID (`8-4-4-4-12` hex digits), as its 16 bytes.
    Guid([u8; 16]),
    /// Any other id.
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

impl RecordId {
    /// The packed form of a record id.
    #[must_use]
    pub fn of(id: Option<&str>) -> RecordId {
        match id {
            None => RecordId::None,
            Some(s) => Self::guid(s).map_or_else(|| RecordId::Text(s.into()), RecordId::Guid),
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

    /// The record id as text.
    #[must_use]
    pub fn text(&self) -> Option<String> {
        match self {
            RecordId::None => None,
            RecordId::Guid(g) => Some(Self::guid_text(g)),
            RecordId::Text(t) => Some(t.to_string()),
        }
    }
}

impl Ord for RecordId {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (RecordId::None, RecordId::None) => Ordering::Equal,
            (RecordId::None, _) => Ordering::Less,
            (_, RecordId::None) => Ordering::Greater,
            // Fixed-width lower-case hex with hyphens at the same places: byte order is text order.
            (RecordId::Guid(a), RecordId::Guid(b)) => a.cmp(b),
            (RecordId::Text(a), RecordId::Text(b)) => a.cmp(b),
            (a, b) => a.text().cmp(&b.text()),
        }
    }
}

impl PartialOrd for RecordId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A [`Location`] packed: file, line and [`RecordId`]. Orders as the `Location` it stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackedLocation {
    file: Arc<str>,
    line: u64,
    id: RecordId,
}

impl PackedLocation {
    /// Pack a location.
    #[must_use]
    pub fn new(loc: &Location) -> PackedLocation {
        PackedLocation {
            file: Arc::clone(&loc.file),
            line: loc.line,
            id: RecordId::of(loc.record_id.as_deref()),
        }
    }

    /// The location it stands for.
    #[must_use]
    pub fn location(&self) -> Location {
        Location {
            file: Arc::clone(&self.file),
            line: self.line,
            record_id: self.id.text(),
        }
    }
}

impl From<&Location> for PackedLocation {
    fn from(loc: &Location) -> Self {
        PackedLocation::new(loc)
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
    fn round_trips_and_keeps_the_order_of_locations() {
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
        let mut packed = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            for line in [5, 1] {
                let l = loc(if i % 2 == 0 { "a.json" } else { "b.json" }, line, *id);
                let p = PackedLocation::new(&l);
                assert_eq!(p.location(), l);
                plain.push(l);
                packed.push(p);
            }
        }
        plain.sort();
        packed.sort();
        let back: Vec<Location> = packed.iter().map(PackedLocation::location).collect();
        assert_eq!(back, plain);
    }

    #[test]
    fn only_canonical_lower_case_guids_are_packed() {
        assert!(matches!(
            RecordId::of(Some("6afe0cd6-c9b4-42eb-a3ed-b3b392710e63")),
            RecordId::Guid(_)
        ));
        assert!(matches!(
            RecordId::of(Some("6AFE0CD6-C9B4-42EB-A3ED-B3B392710E63")),
            RecordId::Text(_)
        ));
        assert!(matches!(RecordId::of(Some("x")), RecordId::Text(_)));
        assert_eq!(RecordId::of(None), RecordId::None);
    }
}
