//! String interning: per-entity state holds `Sym`s (4 bytes) instead of strings.

use std::collections::HashMap;

/// Fast hashing with a per-process random seed (input strings are attacker-controlled).
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
/// Set counterpart of [`FastMap`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// An interned string.
pub(crate) type Sym = u32;

/// Maps strings to dense ids and back ([`stormwatch_core::Interner`]), with the
/// analytics' normalisation of identifiers.
#[derive(Debug, Default)]
pub(crate) struct Interner(stormwatch_core::Interner);

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
    /// The id given when the table is full; no string has it ([`stormwatch_core::Interner::FULL`]).
    pub(crate) const FULL: Sym = stormwatch_core::Interner::FULL;

    /// Intern `s` as is.
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        self.0.intern(s)
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
        self.0.get(&s.trim().to_ascii_lowercase())
    }

    /// The text of `id` (empty for an unknown id).
    pub(crate) fn name(&self, id: Sym) -> &str {
        self.0.text(id)
    }

    /// The text of an optional id.
    pub(crate) fn opt(&self, id: Option<Sym>) -> Option<&str> {
        id.map(|i| self.name(i))
    }

    /// Distinct strings held (ids are `0..len`).
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Bytes of text held.
    pub(crate) fn text_bytes(&self) -> usize {
        (0..self.len())
            .map(|i| u32::try_from(i).map_or(0, |i| self.name(i).len()))
            .sum()
    }

    /// The strings in id order.
    pub(crate) fn strings(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map_while(|i| u32::try_from(i).ok().map(|i| self.name(i)))
    }

    /// An interner holding `strings` with ids in their order; `None` when a string repeats
    /// (the ids would not be the positions).
    pub(crate) fn from_strings<'s>(strings: impl IntoIterator<Item = &'s str>) -> Option<Self> {
        let mut i = Interner::default();
        for (n, s) in strings.into_iter().enumerate() {
            if usize::try_from(i.intern(s)).ok() != Some(n) {
                return None;
            }
        }
        Some(i)
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
