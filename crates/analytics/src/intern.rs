//! String interning: per-entity state holds `Sym`s (4 bytes) instead of strings.

use std::collections::HashMap;

/// Fast hashing with a per-process random seed (input strings are attacker-controlled).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// Set counterpart of [`FastMap`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// An interned string.
pub(crate) type Sym = u32;

/// Maps strings to dense ids and back. Ids depend on observation order, so nothing that
/// reaches the output may be ordered by `Sym`: resolve to text first.
///
/// The strings are kept once, end to end in one buffer; the table holds only their ids
/// (hundreds of thousands of session and token ids cost their text and a few bytes each).
#[derive(Default)]
pub(crate) struct Interner {
    hasher: foldhash::fast::RandomState,
    /// Ids, hashed by their text.
    table: hashbrown::HashTable<Sym>,
    text: String,
    /// Per id: where its text ends in `text` (it starts where the previous one ends).
    ends: Vec<usize>,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("names", &self.ends.len())
            .finish_non_exhaustive()
    }
}

/// The text of `id` in `text` / `ends` (empty for an unknown id).
fn text_of<'t>(text: &'t str, ends: &[usize], id: Sym) -> &'t str {
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

/// `s` without surrounding white space. The reader has trimmed most values already: when
/// both ends are printable ASCII the Unicode trim is skipped.
pub(crate) fn trim(s: &str) -> &str {
    let printable = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    if printable(s.as_bytes().first()) && printable(s.as_bytes().last()) {
        s
    } else {
        s.trim()
    }
}

impl Interner {
    /// Intern `s` as is.
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        use std::hash::BuildHasher as _;
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
        let id = Sym::try_from(ends.len()).unwrap_or(Sym::MAX);
        text.push_str(s);
        ends.push(text.len());
        table.insert_unique(hash, id, |&id| hasher.hash_one(text_of(text, ends, id)));
        id
    }

    /// Intern `s` lowercased (UPNs, GUIDs: case-insensitive identifiers), trimmed; `None` for
    /// empty text.
    pub(crate) fn intern_ci(&mut self, s: &str) -> Option<Sym> {
        let t = trim(s);
        if t.is_empty() {
            return None;
        }
        if t.bytes().any(|b| b.is_ascii_uppercase()) {
            Some(self.intern(&t.to_ascii_lowercase()))
        } else {
            Some(self.intern(t))
        }
    }

    /// Look up without interning.
    pub(crate) fn get_ci(&self, s: &str) -> Option<Sym> {
        use std::hash::BuildHasher as _;
        let key = s.trim().to_ascii_lowercase();
        self.table
            .find(self.hasher.hash_one(key.as_str()), |&id| {
                self.name(id) == key
            })
            .copied()
    }

    /// The text of `id` (empty for an unknown id).
    pub(crate) fn name(&self, id: Sym) -> &str {
        text_of(&self.text, &self.ends, id)
    }

    /// The text of an optional id.
    pub(crate) fn opt(&self, id: Option<Sym>) -> Option<&str> {
        id.map(|i| self.name(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_skips_only_what_has_no_white_space_at_either_end() {
        for (s, want) in [
            ("a@x", "a@x"),
            (" a@x", "a@x"),
            ("a@x\t", "a@x"),
            ("\u{a0}a@x\u{2003}", "a@x"),
            ("é", "é"),
            ("a b", "a b"),
            ("", ""),
            ("   ", ""),
        ] {
            assert_eq!(trim(s), want, "{s:?}");
        }
        let mut i = Interner::default();
        assert_eq!(i.intern_ci(" \u{a0} "), None);
        assert_eq!(i.intern_ci("\u{a0}A@X "), i.intern_ci("a@x"));
    }

    #[test]
    fn case_insensitive_ids() {
        let mut i = Interner::default();
        let a = i.intern_ci("Envoy@Agency.example");
        let b = i.intern_ci(" envoy@agency.example ");
        assert_eq!(a, b);
        assert_eq!(i.opt(a), Some("envoy@agency.example"));
        assert_eq!(i.intern_ci("  "), None);
        assert_eq!(i.get_ci("ENVOY@agency.example"), a);
    }
}
