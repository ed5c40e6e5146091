//! A string interner: every identifier, mailbox, folder and message id is stored once.

/// An interned string.
pub(crate) type Sym = u32;

/// "No value" (the field was absent from the record); also the id of every new string once
/// the table is full.
pub(crate) const NONE: Sym = stormwatch_core::Interner::FULL;

/// Strings to small ids and back.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    strs: stormwatch_core::Interner,
    scratch: String,
}

impl Interner {
    /// The id of `s`, adding it when new. Returns [`NONE`] when the table is full.
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        self.strs.intern(s)
    }

    /// Like [`Self::intern`] after ASCII lowercasing (for GUIDs, UPNs and tenant ids).
    pub(crate) fn intern_lower(&mut self, s: &str) -> Sym {
        if !s.bytes().any(|b| b.is_ascii_uppercase()) {
            return self.intern(s);
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.push_str(s);
        buf.make_ascii_lowercase();
        let id = self.intern(&buf);
        self.scratch = buf;
        id
    }

    /// An optional field: [`NONE`] when absent or blank.
    pub(crate) fn opt(&mut self, s: Option<&str>, lower: bool) -> Sym {
        match s.map(str::trim) {
            Some(v) if !v.is_empty() => {
                if lower {
                    self.intern_lower(v)
                } else {
                    self.intern(v)
                }
            }
            _ => NONE,
        }
    }

    /// Like [`Self::opt`] without adding: [`NONE`] when absent, blank or never interned.
    pub(crate) fn lookup(&mut self, s: Option<&str>, lower: bool) -> Sym {
        let Some(v) = s.map(str::trim).filter(|v| !v.is_empty()) else {
            return NONE;
        };
        if lower && v.bytes().any(|b| b.is_ascii_uppercase()) {
            let mut buf = std::mem::take(&mut self.scratch);
            buf.clear();
            buf.push_str(v);
            buf.make_ascii_lowercase();
            let id = self.get(&buf).unwrap_or(NONE);
            self.scratch = buf;
            return id;
        }
        self.get(v).unwrap_or(NONE)
    }

    /// The id of `s` if it was seen.
    pub(crate) fn get(&self, s: &str) -> Option<Sym> {
        self.strs.get(s)
    }

    /// The text of an id (`""` for [`NONE`] or an unknown id).
    pub(crate) fn resolve(&self, id: Sym) -> &str {
        self.strs.text(id)
    }

    /// Number of distinct strings.
    pub(crate) fn len(&self) -> usize {
        self.strs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_once_and_lowercases_on_request() {
        let mut i = Interner::default();
        let a = i.intern("Alice@X");
        assert_eq!(i.intern("Alice@X"), a);
        let b = i.intern_lower("Alice@X");
        assert_ne!(a, b);
        assert_eq!(i.resolve(b), "alice@x");
        assert_eq!(i.opt(Some("  "), false), NONE);
        assert_eq!(i.resolve(NONE), "");
        assert_eq!(i.len(), 2);
    }
}
