//! String interning: state that holds many copies of few strings (session ids, mailboxes,
//! correlation values) holds 4-byte ids instead.

use std::hash::BuildHasher as _;

/// Maps strings to dense ids (in order of first sight) and back.
///
/// Each string is kept once, end to end in one buffer, and the table holds only ids: a
/// string costs its text and about a dozen bytes, with no allocation of its own. The table
/// hashes with a per-process random seed, since the strings come from logs an attacker may
/// write. Ids depend on the order strings are first seen: output must be ordered by text,
/// never by id.
#[derive(Default)]
pub struct Interner {
    hasher: foldhash::fast::RandomState,
    /// Ids, hashed by their text.
    table: hashbrown::HashTable<u32>,
    text: String,
    /// Per id: where its text ends in `text` (it starts where the previous one ends).
    ends: Vec<usize>,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("strings", &self.ends.len())
            .field("bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

/// The text of `id` in `text` / `ends` (empty for an unknown id).
fn text_of<'t>(text: &'t str, ends: &[usize], id: u32) -> &'t str {
    let Ok(i) = usize::try_from(id) else {
        return "";
    };
    let start = match i.checked_sub(1) {
        Some(p) => ends.get(p).copied().unwrap_or(0),
        None => 0,
    };
    ends.get(i)
        .and_then(|&end| text.get(start..end))
        .unwrap_or("")
}

impl Interner {
    /// The id given for every new string once `u32::MAX` strings are held. No string has it
    /// (its text is empty), so callers may also use it for "no value".
    pub const FULL: u32 = u32::MAX;

    /// The id of `s`, added when new; [`Interner::FULL`] when the table is full.
    pub fn intern(&mut self, s: &str) -> u32 {
        let Interner {
            hasher,
            table,
            text,
            ends,
        } = self;
        let hash = hasher.hash_one(s);
        if let Some(&id) = table.find(hash, |&id| text_of(text, ends, id) == s) {
            return id;
        }
        let Some(id) = u32::try_from(ends.len())
            .ok()
            .filter(|&id| id != Self::FULL)
        else {
            return Self::FULL;
        };
        text.push_str(s);
        ends.push(text.len());
        table.insert_unique(hash, id, |&id| hasher.hash_one(text_of(text, ends, id)));
        id
    }

    /// The id of `s` if it was interned.
    #[must_use]
    pub fn get(&self, s: &str) -> Option<u32> {
        self.table
            .find(self.hasher.hash_one(s), |&id| self.text(id) == s)
            .copied()
    }

    /// The text of `id` (empty for an id never given).
    #[must_use]
    pub fn text(&self, id: u32) -> &str {
        text_of(&self.text, &self.ends, id)
    }

    /// Distinct strings held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// No string held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_string_once_in_order_of_first_sight() {
        let mut i = Interner::default();
        assert!(i.is_empty());
        let a = i.intern("alice@x");
        let b = i.intern("");
        let c = i.intern("bob@x");
        assert_eq!((a, b, c), (0, 1, 2));
        assert_eq!(i.intern("alice@x"), a);
        assert_eq!(i.intern("bob@x"), c);
        assert_eq!((i.text(a), i.text(b), i.text(c)), ("alice@x", "", "bob@x"));
        assert_eq!(i.get("bob@x"), Some(c));
        assert_eq!(i.get("Bob@x"), None);
        assert_eq!(i.text(3), "");
        assert_eq!(i.text(Interner::FULL), "");
        assert_eq!(i.len(), 3);
    }

    #[test]
    fn many_strings_survive_the_table_growing() {
        let mut i = Interner::default();
        let ids: Vec<u32> = (0..10_000)
            .map(|n| i.intern(&format!("session-{n}")))
            .collect();
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(i.text(*id), format!("session-{n}"));
            assert_eq!(i.get(&format!("session-{n}")), Some(*id));
        }
    }
}
