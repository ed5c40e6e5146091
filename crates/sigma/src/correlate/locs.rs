//! Record locations as the correlator keeps them: one per match it holds, so as small as a
//! location can be.
//!
//! A [`Loc`] names its file by an index into the correlator's [`LocTable`] (every location of
//! a file shares it), keeps a canonical lower-case GUID record id as its 16 bytes and any other
//! record id as a symbol of the table's own interner. Locations order as the [`Location`]s they
//! stand for, through the table ([`LocTable::cmp`]).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use stormwatch_core::{Interner, Location, RecordId};

/// A record id: absent, a canonical lower-case GUID, or a symbol of [`LocTable`]'s ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rid {
    None,
    Guid([u8; 16]),
    Text(u32),
}

/// A record location: file (index into [`LocTable`]), line and record id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub(super) line: u64,
    pub(super) file: u32,
    pub(super) id: Rid,
}

/// The files and the record ids that are not GUIDs of the locations a correlator holds.
#[derive(Debug, Default)]
pub(crate) struct LocTable {
    files: Vec<Arc<str>>,
    by_name: HashMap<Arc<str>, u32>,
    /// The file last packed: records of one file come in runs.
    last: Option<(Arc<str>, u32)>,
    ids: Interner,
}

impl LocTable {
    /// The compact form of `loc`, adding its file and record id to the table when new.
    pub(crate) fn pack(&mut self, loc: &Location) -> Loc {
        let file = self.file(&loc.file);
        let id = match RecordId::of(loc.record_id.as_deref()) {
            RecordId::None => Rid::None,
            RecordId::Guid(g) => Rid::Guid(g),
            RecordId::Text(t) => Rid::Text(self.ids.intern(&t)),
        };
        Loc {
            line: loc.line,
            file,
            id,
        }
    }

    fn file(&mut self, name: &Arc<str>) -> u32 {
        if let Some((f, i)) = &self.last
            && Arc::ptr_eq(f, name)
        {
            return *i;
        }
        let i = match self.by_name.get(name) {
            Some(&i) => i,
            None => {
                // Four thousand million files do not fit in memory: the index cannot overflow.
                let i = u32::try_from(self.files.len()).unwrap_or(u32::MAX);
                self.files.push(Arc::clone(name));
                self.by_name.insert(Arc::clone(name), i);
                i
            }
        };
        self.last = Some((Arc::clone(name), i));
        i
    }

    /// The location `l` stands for.
    pub(crate) fn location(&self, l: &Loc) -> Location {
        Location {
            file: self.file_name(l.file),
            line: l.line,
            record_id: self.id_text(l.id),
        }
    }

    fn file_name(&self, i: u32) -> Arc<str> {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.files.get(i))
            .map_or_else(|| Arc::from(""), Arc::clone)
    }

    fn id_text(&self, id: Rid) -> Option<String> {
        match id {
            Rid::None => None,
            Rid::Guid(g) => RecordId::Guid(g).text(),
            Rid::Text(s) => Some(self.ids.text(s).to_owned()),
        }
    }

    /// The order of the locations `a` and `b` stand for.
    pub(crate) fn cmp(&self, a: &Loc, b: &Loc) -> Ordering {
        let file = if a.file == b.file {
            Ordering::Equal
        } else {
            let name = |i: u32| usize::try_from(i).ok().and_then(|i| self.files.get(i));
            name(a.file).cmp(&name(b.file))
        };
        file.then(a.line.cmp(&b.line))
            .then_with(|| match (a.id, b.id) {
                (Rid::None, Rid::None) => Ordering::Equal,
                (Rid::None, _) => Ordering::Less,
                (_, Rid::None) => Ordering::Greater,
                // Fixed-width lower-case hex with hyphens at the same places: byte order is
                // text order.
                (Rid::Guid(x), Rid::Guid(y)) => x.cmp(&y),
                (Rid::Text(x), Rid::Text(y)) if x == y => Ordering::Equal,
                (x, y) => self.id_text(x).cmp(&self.id_text(y)),
            })
    }

    /// The order of two lists of locations (element by element, then by length).
    pub(crate) fn cmp_all(&self, a: &[Loc], b: &[Loc]) -> Ordering {
        for (x, y) in a.iter().zip(b) {
            let o = self.cmp(x, y);
            if o.is_ne() {
                return o;
            }
        }
        a.len().cmp(&b.len())
    }

    /// Files and record ids held.
    pub(crate) fn len(&self) -> usize {
        self.files.len() + self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormwatch_core::PackedLocation;

    fn loc(file: &str, line: u64, id: Option<&str>) -> Location {
        Location {
            file: file.into(),
            line,
            record_id: id.map(str::to_owned),
        }
    }

    fn sample() -> Vec<Location> {
        let ids = [
            None,
            Some("6afe0cd6-c9b4-42eb-a3ed-b3b392710e63"),
            Some("88208b22-f189-4fbe-9719-dfb702c2fd42"),
            Some("6AFE0CD6-C9B4-42EB-A3ED-B3B392710E63"),
            Some("7"),
            Some(""),
            Some("6afe0cd6-c9b4-42eb-a3ed-b3b392710e63x"),
            Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
        ];
        let mut out = Vec::new();
        // Files first seen out of their text order.
        for file in ["m.json", "b.json", "z.json", "b.json"] {
            for id in ids {
                for line in [5, 1, u64::MAX] {
                    out.push(loc(file, line, id));
                }
            }
        }
        out
    }

    #[test]
    fn locations_round_trip() {
        let mut t = LocTable::default();
        for l in sample() {
            let p = t.pack(&l);
            assert_eq!(t.location(&p), l);
        }
        // One entry per file and per id that is not a GUID, however often seen.
        assert_eq!(t.files.len(), 3);
        assert_eq!(t.ids.len(), 4);
    }

    #[test]
    fn locations_order_as_the_locations_they_stand_for() {
        let mut t = LocTable::default();
        let all = sample();
        let packed: Vec<Loc> = all.iter().map(|l| t.pack(l)).collect();
        for (a, pa) in all.iter().zip(&packed) {
            for (b, pb) in all.iter().zip(&packed) {
                assert_eq!(t.cmp(pa, pb), a.cmp(b), "{a:?} vs {b:?}");
                // As the packed locations kept before compared them.
                assert_eq!(
                    t.cmp(pa, pb),
                    PackedLocation::new(a).cmp(&PackedLocation::new(b))
                );
            }
        }
        let (x, y) = (&packed[..3], &packed[3..5]);
        let (lx, ly) = (&all[..3], &all[3..5]);
        assert_eq!(t.cmp_all(x, y), lx.cmp(ly));
        assert_eq!(t.cmp_all(x, &packed[..2]), Ordering::Greater);
        assert_eq!(t.cmp_all(&[], x), Ordering::Less);
    }

    #[test]
    fn a_location_takes_32_bytes() {
        assert_eq!(std::mem::size_of::<Loc>(), 32);
    }
}
