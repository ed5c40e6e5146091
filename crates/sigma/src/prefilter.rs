//! Multi-pattern prefilter: one Aho-Corasick automaton over the literals the rules of a log
//! source need, run over the record's JSON text, so that only rules whose literals occur are
//! evaluated (and a record no rule can match is never parsed).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use memchr::{memchr_iter, memmem};

/// Shortest literal worth a prefilter entry.
const MIN_LITERAL: usize = 3;

/// Longest prefilter entry: a longer literal is cut to its last bytes (any part of a literal
/// occurs wherever the literal does), which keeps the automaton small enough for the cache.
const MAX_LITERAL: usize = 12;

/// Most literals worth one automaton over the whole record: beyond this the automaton no
/// longer fits the caches and costs more than the per-field gates it would save.
const MAX_PATTERNS: usize = 4096;

/// The literal as it appears in JSON text: its longest run of printable ASCII without JSON
/// punctuation, with backslashes escaped as JSON writers escape them (`\` → `\\`). `None`
/// when no run is long enough.
pub(crate) fn json_literal(lit: &str) -> Option<String> {
    // JSON punctuation is excluded too: an object value is matched as its compact JSON text,
    // which the record may spell with other spacing around `"`, `:`, `,` and brackets.
    let best = lit
        .split(|c: char| {
            !c.is_ascii()
                || c.is_ascii_control()
                || matches!(c, '"' | ':' | ',' | '{' | '}' | '[' | ']')
        })
        .max_by_key(|s| s.len())?;
    if best.len() < MIN_LITERAL {
        return None;
    }
    let mut out = String::with_capacity(best.len() + 4);
    for c in best.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    if out.len() > MAX_LITERAL {
        // ASCII only: any byte offset is a character boundary.
        out.drain(..out.len() - MAX_LITERAL);
    }
    Some(out)
}

/// The prefilter of one group of rules.
#[derive(Debug)]
pub(crate) struct Prefilter {
    ac: AhoCorasick,
    /// For each pattern, the group-local rule indexes that need it.
    owners: Vec<Vec<u32>>,
}

impl Prefilter {
    /// Build from (rule index, literals) pairs; `None` when there is nothing to index.
    pub(crate) fn build(rules: &[(u32, Vec<String>)]) -> Option<Prefilter> {
        let mut pats: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<u32>> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        for (r, lits) in rules {
            for l in lits {
                let i = *index.entry(l.clone()).or_insert_with(|| {
                    pats.push(l.clone());
                    owners.push(Vec::new());
                    pats.len() - 1
                });
                if owners[i].last() != Some(r) {
                    owners[i].push(*r);
                }
            }
        }
        if pats.is_empty() || pats.len() > MAX_PATTERNS {
            return None;
        }
        // A DFA searches several times faster than the NFAs; fall back if it would be too big.
        let build = |kind| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(kind)
                .build(&pats)
        };
        let ac = build(Some(AhoCorasickKind::DFA))
            .or_else(|_| build(None))
            .ok()?;
        Some(Prefilter { ac, owners })
    }

    /// Mark the rules whose literals occur in `text`.
    pub(crate) fn mark(&self, text: &[u8], marks: &mut [u64], seen: &mut [bool]) {
        for m in self.ac.find_overlapping_iter(text) {
            let p = m.pattern().as_usize();
            if let Some(s) = seen.get_mut(p) {
                if *s {
                    continue;
                }
                *s = true;
            }
            if let Some(owners) = self.owners.get(p) {
                for &r in owners {
                    if let Some(x) = marks.get_mut((r / 64) as usize) {
                        *x |= 1 << (r % 64);
                    }
                }
            }
        }
    }

    pub(crate) fn pattern_count(&self) -> usize {
        self.owners.len()
    }
}

/// Whether the JSON text can be searched literally: no `\uXXXX` or `\/` escapes (which would
/// hide a literal), and no characters whose Unicode lowercase is ASCII (Kelvin sign, dotted I).
pub(crate) fn text_searchable(raw: &[u8]) -> bool {
    let mut skip_next = false;
    for i in memchr_iter(b'\\', raw) {
        if skip_next {
            skip_next = false;
            continue;
        }
        match raw.get(i + 1) {
            Some(b'\\') => skip_next = true,
            Some(b'u' | b'/') => return false,
            _ => {}
        }
    }
    if !raw.is_ascii()
        && (memmem::find(raw, "\u{212A}".as_bytes()).is_some()
            || memmem::find(raw, "\u{0130}".as_bytes()).is_some())
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert!(text_searchable(br#"{"a":"C:\\Users\\x"}"#));
        assert!(!text_searchable(br#"{"a":"\u0041"}"#));
        assert!(!text_searchable(br#"{"a":"a\/b"}"#));
        assert!(text_searchable(br#"{"a":"C:\\\\u"}"#));
        assert_eq!(json_literal("\\cmd.exe").as_deref(), Some("\\\\cmd.exe"));
        assert_eq!(
            json_literal("a\u{2013}encodedcommand").as_deref(),
            Some("codedcommand")
        );
        assert_eq!(json_literal("ab"), None);
    }
}
