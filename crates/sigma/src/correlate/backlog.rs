//! The matches a group gets before the correlator is first advanced, packed into bytes.
//!
//! A run that never advances the frontier (`hunt`) keeps every match until its end, when each
//! group is stepped through once; a match then needs no more than what tells it from its
//! neighbours. Each is written as a flag byte, its time and line as variable-length
//! differences from the previous match of the group (neighbours in a log are close; the time
//! in seconds when it is whole seconds), its ref, value symbol and file as variable-length
//! numbers, and its record id (a GUID's 16 bytes or a symbol): about 25 bytes where an
//! [`Item`] takes 48. Matches of several records (those of
//! chained correlations, which only an advance makes) are not packed.
//!
//! The bytes are read back in the order they were written ([`Backlog::drain_into`]), one
//! group at a time, when the group is stepped.

use super::locs::{Loc, Rid};
use super::window::{Item, Locs};

/// Flag: the match has a value.
const VALUE: u8 = 1;
/// Flags: its record id is a GUID, a symbol (neither: none).
const GUID: u8 = 2;
const TEXT: u8 = 4;
/// Flag: the time difference is written in whole seconds (log times mostly are).
const SECS: u8 = 8;
const NANOS: i64 = 1_000_000_000;
/// The most bytes one match takes.
const MAX_ITEM: usize = 1 + 10 + 5 + 5 + 5 + 10 + 16;

/// Packed matches of one group, in the order they came.
#[derive(Debug, Clone, Default)]
pub(crate) struct Backlog {
    bytes: Vec<u8>,
    len: usize,
    /// Time of the earliest match (when there is one).
    min_t: i64,
    /// Time and line of the last match written.
    last_t: i64,
    last_line: u64,
}

impl Backlog {
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Matches held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Time of the earliest match held.
    pub(crate) fn min_t(&self) -> Option<i64> {
        (self.len > 0).then_some(self.min_t)
    }

    /// Add a match of one record; a match of several is given back.
    pub(crate) fn push(&mut self, item: Item) -> Result<(), Item> {
        let Locs::One(loc) = item.locs else {
            return Err(item);
        };
        if self.bytes.capacity() - self.bytes.len() < MAX_ITEM {
            // By a quarter rather than doubling: a long run holds many of these.
            self.bytes
                .reserve_exact(MAX_ITEM.max(self.bytes.capacity() / 4));
        }
        let value = item.value();
        let mut flags = if value.is_some() { VALUE } else { 0 };
        flags |= match loc.id {
            Rid::None => 0,
            Rid::Guid(_) => GUID,
            Rid::Text(_) => TEXT,
        };
        let dt = item.t.wrapping_sub(self.last_t);
        let dt = if dt % NANOS == 0 {
            flags |= SECS;
            dt / NANOS
        } else {
            dt
        };
        let b = &mut self.bytes;
        b.push(flags);
        put(b, zigzag(dt));
        put(b, u64::from(item.r()));
        if let Some(v) = value {
            put(b, u64::from(v));
        }
        put(b, u64::from(loc.file));
        put(
            b,
            zigzag(loc.line.wrapping_sub(self.last_line).cast_signed()),
        );
        match loc.id {
            Rid::None => {}
            Rid::Guid(g) => b.extend_from_slice(&g),
            Rid::Text(s) => put(b, u64::from(s)),
        }
        self.last_t = item.t;
        self.last_line = loc.line;
        self.min_t = if self.len == 0 {
            item.t
        } else {
            self.min_t.min(item.t)
        };
        self.len += 1;
        Ok(())
    }

    /// The matches held, in the order they came.
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            bytes: &self.bytes,
            t: 0,
            line: 0,
        }
    }

    /// Move every match held to the end of `out`, in the order they came, and free the bytes.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<Item>) {
        out.reserve_exact(self.len);
        out.extend(self.iter());
        *self = Backlog::default();
    }
}

/// The matches of a [`Backlog`].
pub(crate) struct Iter<'a> {
    bytes: &'a [u8],
    t: i64,
    line: u64,
}

impl Iterator for Iter<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let (&flags, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        let dt = unzigzag(self.get()?);
        let dt = if flags & SECS != 0 {
            dt.wrapping_mul(NANOS)
        } else {
            dt
        };
        let t = self.t.wrapping_add(dt);
        let r = u32::try_from(self.get()?).ok()?;
        let value = if flags & VALUE != 0 {
            Some(u32::try_from(self.get()?).ok()?)
        } else {
            None
        };
        let file = u32::try_from(self.get()?).ok()?;
        let line = self
            .line
            .wrapping_add(unzigzag(self.get()?).cast_unsigned());
        let id = if flags & GUID != 0 {
            let (g, rest) = self.bytes.split_first_chunk::<16>()?;
            self.bytes = rest;
            Rid::Guid(*g)
        } else if flags & TEXT != 0 {
            Rid::Text(u32::try_from(self.get()?).ok()?)
        } else {
            Rid::None
        };
        self.t = t;
        self.line = line;
        Some(Item::new(t, r, value, Locs::One(Loc { line, file, id })))
    }
}

impl Iter<'_> {
    /// A LEB128 number.
    fn get(&mut self) -> Option<u64> {
        let mut x = 0u64;
        for (i, &b) in self.bytes.iter().enumerate().take(10) {
            x |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Some(x);
            }
        }
        None
    }
}

fn put(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)).cast_unsigned()
}

fn unzigzag(x: u64) -> i64 {
    (x >> 1).cast_signed() ^ -((x & 1).cast_signed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(line: u64, file: u32, id: Rid) -> Loc {
        Loc { line, file, id }
    }

    fn same(a: &Item, b: &Item) -> bool {
        a.t == b.t && a.r() == b.r() && a.value() == b.value() && a.locs == b.locs
    }

    #[test]
    fn matches_come_back_as_they_went_in() {
        let guid = Rid::Guid([0xab; 16]);
        let items = vec![
            Item::new(
                1_700_000_000_000_000_000,
                0,
                Some(7),
                Locs::One(loc(10, 0, guid)),
            ),
            // Earlier in time and in the file: differences below zero.
            Item::new(
                1_600_000_000_000_000_000,
                1,
                None,
                Locs::One(loc(3, 2, Rid::None)),
            ),
            Item::new(
                i64::MIN,
                Item::MAX_REFS - 1,
                Some(u32::MAX),
                Locs::One(loc(u64::MAX, u32::MAX, Rid::Text(u32::MAX))),
            ),
            Item::new(i64::MAX, 0, Some(0), Locs::One(loc(0, 0, Rid::Text(0)))),
            Item::new(-5, 3, None, Locs::One(loc(1, 1, guid))),
            Item::new(-5 + 3 * NANOS, 3, None, Locs::One(loc(1, 1, guid))),
            Item::new(i64::MIN + 7, 3, None, Locs::One(loc(1, 1, guid))),
            Item::new(i64::MAX - NANOS + 1, 3, None, Locs::One(loc(1, 1, guid))),
        ];
        let mut b = Backlog::default();
        for i in &items {
            assert!(b.push(i.clone()).is_ok());
        }
        assert_eq!(b.len(), items.len());
        assert_eq!(b.min_t(), Some(i64::MIN));
        let back: Vec<Item> = b.iter().collect();
        assert_eq!(back.len(), items.len());
        assert!(items.iter().zip(&back).all(|(a, b)| same(a, b)));
        let mut out = vec![items[4].clone()];
        b.drain_into(&mut out);
        assert!(b.is_empty() && b.min_t().is_none());
        assert_eq!(out.len(), items.len() + 1);
        assert!(items.iter().zip(&out[1..]).all(|(a, b)| same(a, b)));
    }

    #[test]
    fn matches_of_several_records_are_given_back() {
        let mut b = Backlog::default();
        let many = Item::new(5, 0, None, Locs::Many(vec![loc(1, 0, Rid::None)].into()));
        assert!(b.push(many).is_err());
        assert!(b.is_empty());
    }

    #[test]
    fn a_log_match_takes_about_25_bytes() {
        // Records of one session a few seconds and lines apart, as in an audit log.
        let mut b = Backlog::default();
        for k in 0..1000u64 {
            let t = 1_684_713_600_000_000_000 + k as i64 * 7_000_000_000;
            let item = Item::new(
                t,
                0,
                Some(20_000 + (k % 5) as u32),
                Locs::One(loc(1_000_000 + 37 * k, 0, Rid::Guid([k as u8; 16]))),
            );
            assert!(b.push(item).is_ok());
        }
        assert!(b.bytes.len() <= 25 * 1000, "{}", b.bytes.len());
    }
}
