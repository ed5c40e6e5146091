//! The per-field literal batch: one automaton over every anchored literal of a field, run
//! over the record's values of that field.
//!
//! The automaton is built over the lowercase literals, and run over the value's lowercase
//! bytes: an ASCII value is lowercased byte by byte as the search walks it (no copy), one
//! with other characters is lowercased as text first. (An automaton folding ASCII case itself
//! runs on the value in place, but has twice the transitions for every letter: on the large
//! SigmaHQ Windows sets it was the slower of the two, and 20 MB larger.)
//! The search loop walks the automaton's transitions itself (every pattern ending at a
//! position is reported, as an overlapping search does), which costs less per value than the
//! library's overlapping iterator on the many short values of a record.
//!
//! A batch whose literals may all occur anywhere in a value (the keyword pseudo-field,
//! `contains` lists) runs once over all the values, lowercased and joined by a byte no
//! literal contains (so that no occurrence spans two values); when it has few literals, a
//! SIMD search for them (Teddy) runs first, and the automaton walks from the first
//! occurrence it finds, if any: most values hold none, and are passed over at the SIMD
//! search's speed rather than a transition per byte.

use std::collections::HashMap;
use std::fmt::Write as _;

use aho_corasick::automaton::Automaton;
use aho_corasick::{Anchored, MatchKind, dfa, nfa, packed};
use sonic_rs::{JsonValueTrait, Value};

use crate::doc::{lower_cow, parse_num};
use crate::pattern::Anchor;

/// Largest literal set of one field searched with a DFA (larger ones use a contiguous NFA,
/// whose memory grows with the literals only).
const DFA_MAX_PATTERNS: usize = 500;

/// Largest literal set of a joined batch searched with a SIMD search before its automaton.
const PACKED_MAX_PATTERNS: usize = 64;

/// The byte joining a field's values for a joined batch (no literal of it contains it).
const SEP: u8 = 0;

#[derive(Debug)]
enum Scanner {
    Dfa(dfa::DFA),
    Nfa(nfa::contiguous::NFA),
}

/// The anchored-literal predicates of one field, matched together with one automaton pass
/// over each value.
#[derive(Debug)]
pub(crate) struct Batch {
    scanner: Option<Scanner>,
    /// Per automaton pattern: its length in bytes.
    lens: Vec<u32>,
    /// Per automaton pattern: the (memo slot, anchor) predicates using that literal.
    owners: Vec<Vec<(u32, Anchor)>>,
    /// Numeric equalities: number (see [`num_bits`]) → memo slots.
    nums: HashMap<u64, Vec<u32>>,
    /// Every literal is unanchored and lacks [`SEP`]: the automaton runs once over the
    /// values joined.
    joined: bool,
    /// For a joined batch of few literals: a search for the first occurrence of any.
    packed: Option<packed::Searcher>,
}

/// Hash key of a number (`-0` and `0` alike).
pub(crate) fn num_bits(n: f64) -> u64 {
    if n == 0.0 { 0 } else { n.to_bits() }
}

impl Batch {
    /// A batch over `preds` (memo slot, anchor, lowercase literal) and numeric equalities
    /// (number bits, memo slot); `None` when the automaton cannot be built.
    pub(crate) fn build(preds: &[(u32, Anchor, Vec<u8>)], nums: &[(u64, u32)]) -> Option<Batch> {
        let mut pats: Vec<&[u8]> = Vec::new();
        let mut owners: Vec<Vec<(u32, Anchor)>> = Vec::new();
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        for (slot, anchor, lit) in preds {
            let i = *index.entry(lit.as_slice()).or_insert_with(|| {
                pats.push(lit);
                owners.push(Vec::new());
                pats.len() - 1
            });
            if let Some(o) = owners.get_mut(i) {
                o.push((*slot, *anchor));
            }
        }
        let scanner = if pats.is_empty() {
            None
        } else if pats.len() <= DFA_MAX_PATTERNS {
            Some(Scanner::Dfa(
                dfa::DFA::builder()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&pats)
                    .ok()?,
            ))
        } else {
            Some(Scanner::Nfa(
                nfa::contiguous::NFA::builder()
                    .match_kind(MatchKind::Standard)
                    .prefilter(false)
                    .build(&pats)
                    .ok()?,
            ))
        };
        let lens = pats
            .iter()
            .map(|p| u32::try_from(p.len()).unwrap_or(u32::MAX))
            .collect();
        let mut by_num: HashMap<u64, Vec<u32>> = HashMap::new();
        for (bits, slot) in nums {
            by_num.entry(*bits).or_default().push(*slot);
        }
        let joined = preds
            .iter()
            .all(|(_, anchor, lit)| *anchor == Anchor::None && !lit.contains(&SEP));
        let packed = if joined && !pats.is_empty() && pats.len() <= PACKED_MAX_PATTERNS {
            packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(&pats)
                .build()
        } else {
            None
        };
        Some(Batch {
            scanner,
            lens,
            owners,
            nums: by_num,
            joined,
            packed,
        })
    }

    /// Decide the batch over `values` (a field's values as the lookup found them): `mark`
    /// receives every memo slot that holds (possibly more than once). `joined` is a buffer
    /// for the values' lowercase text (see [`Batch::joined`]).
    pub(crate) fn run(&self, values: &[&Value], joined: &mut Vec<u8>, mut mark: impl FnMut(u32)) {
        joined.clear();
        for v in values {
            let mut buf = NumText::default();
            let owned: String;
            let (text, num): (&str, Option<f64>) = if let Some(s) = v.as_str() {
                let num = if self.nums.is_empty() {
                    None
                } else {
                    parse_num(s)
                };
                (s, num)
            } else if let Some(b) = v.as_bool() {
                (if b { "true" } else { "false" }, None)
            } else if v.is_number() {
                let num = v.as_f64();
                let ok = if let Some(i) = v.as_i64() {
                    write!(buf, "{i}")
                } else if let Some(u) = v.as_u64() {
                    write!(buf, "{u}")
                } else {
                    write!(buf, "{}", num.unwrap_or_default())
                };
                if ok.is_ok() {
                    (buf.as_str(), num)
                } else {
                    owned = number_text(v);
                    (owned.as_str(), num)
                }
            } else if v.is_object() {
                // Matched as its compact JSON text (see `doc::to_leaf`).
                owned = sonic_rs::to_string(v).unwrap_or_default();
                (owned.as_str(), None)
            } else {
                // Null, or a list inside a list: no text.
                continue;
            };
            if let Some(n) = num
                && let Some(slots) = self.nums.get(&num_bits(n))
            {
                for &s in slots {
                    mark(s);
                }
            }
            let Some(scanner) = &self.scanner else {
                continue;
            };
            if self.joined {
                if text.is_ascii() {
                    joined.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
                } else {
                    joined.extend_from_slice(lower_cow(text).as_bytes());
                }
                joined.push(SEP);
            } else if text.is_ascii() {
                self.scan::<true>(scanner, text.as_bytes(), &mut mark);
            } else {
                let lower = lower_cow(text);
                self.scan::<false>(scanner, lower.as_bytes(), &mut mark);
            }
        }
        let Some(scanner) = &self.scanner else {
            return;
        };
        if !self.joined || joined.is_empty() {
            return;
        }
        let mut from = 0;
        if let Some(pf) = &self.packed
            && joined.len() >= pf.minimum_len()
        {
            // No literal occurs before the first occurrence of any.
            match pf.find(joined.as_slice()) {
                Some(m) => from = m.start(),
                None => return,
            }
        }
        // Offsets within the joined text: every literal is unanchored.
        self.scan::<false>(scanner, joined.get(from..).unwrap_or(&[]), &mut mark);
    }

    /// Search `hay` (lowercased ASCII byte by byte on the way with `FOLD`).
    fn scan<const FOLD: bool>(&self, scanner: &Scanner, hay: &[u8], mark: &mut impl FnMut(u32)) {
        let len = hay.len();
        let mut report = |pid: usize, end: usize| {
            let Some(owners) = self.owners.get(pid) else {
                return;
            };
            let n = self.lens.get(pid).map_or(0, |l| *l as usize);
            let start = end.saturating_sub(n);
            for &(slot, anchor) in owners {
                if anchor.fits(start, end, len) {
                    mark(slot);
                }
            }
        };
        match scanner {
            Scanner::Dfa(a) => walk::<_, FOLD>(a, hay, &mut report),
            Scanner::Nfa(a) => walk::<_, FOLD>(a, hay, &mut report),
        }
    }
}

/// Every (pattern, end offset) of every occurrence of every pattern of `a` in `hay` (in
/// `hay` with its ASCII letters lowercased, with `FOLD`).
#[inline]
fn walk<A: Automaton, const FOLD: bool>(a: &A, hay: &[u8], report: &mut impl FnMut(usize, usize)) {
    let Ok(mut sid) = a.start_state(Anchored::No) else {
        return;
    };
    for (i, &b) in hay.iter().enumerate() {
        let b = if FOLD { b.to_ascii_lowercase() } else { b };
        sid = a.next_state(Anchored::No, sid, b);
        if a.is_special(sid) {
            if a.is_dead(sid) {
                return;
            }
            if a.is_match(sid) {
                for k in 0..a.match_len(sid) {
                    report(a.match_pattern(sid, k).as_usize(), i + 1);
                }
            }
        }
    }
}

/// The text of a JSON number as [`crate::doc::to_leaf`] writes it.
fn number_text(v: &Value) -> String {
    if let Some(i) = v.as_i64() {
        i.to_string()
    } else if let Some(u) = v.as_u64() {
        u.to_string()
    } else {
        v.as_f64().map(|f| f.to_string()).unwrap_or_default()
    }
}

/// A number's text, written without allocating.
struct NumText {
    buf: [u8; 48],
    len: usize,
}

impl Default for NumText {
    fn default() -> Self {
        NumText {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl NumText {
    fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl std::fmt::Write for NumText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sonic_rs::JsonContainerTrait;

    fn marks(b: &Batch, json: &str) -> Vec<u32> {
        let v: Value = sonic_rs::from_str(json).unwrap();
        let vals: Vec<&Value> = match v.as_array() {
            Some(a) => a.iter().collect(),
            None => vec![&v],
        };
        let mut out = Vec::new();
        b.run(&vals, &mut Vec::new(), |s| out.push(s));
        out.sort_unstable();
        out.dedup();
        out
    }

    #[test]
    fn anchors_case_numbers_and_overlaps() {
        let preds = vec![
            (0, Anchor::Both, b"cmd.exe".to_vec()),
            (1, Anchor::End, b"\\cmd.exe".to_vec()),
            (2, Anchor::Start, b"c:\\".to_vec()),
            (3, Anchor::None, b"md.e".to_vec()),
            (4, Anchor::None, b"12".to_vec()),
            (5, Anchor::None, b"\xc3\xa9t\xc3\xa9".to_vec()),
        ];
        let b = Batch::build(&preds, &[(num_bits(4688.0), 6)]).unwrap();
        assert_eq!(marks(&b, r#""C:\\Windows\\CMD.EXE""#), vec![1, 2, 3]);
        assert_eq!(marks(&b, r#""Cmd.Exe""#), vec![0, 3]);
        assert_eq!(marks(&b, "4688"), vec![6]);
        assert_eq!(marks(&b, r#"" 4688""#), vec![6]);
        assert_eq!(marks(&b, "[1234, true, null]"), vec![4]);
        assert_eq!(marks(&b, r#""ÉTÉ""#), vec![5]);
        assert_eq!(marks(&b, r#"{"a":"x12"}"#), vec![4]);
    }

    #[test]
    fn joined_values_match_alone_and_never_across() {
        let lits = ["mimikatz", "sekurlsa::", "ab", "été"];
        let preds: Vec<(u32, Anchor, Vec<u8>)> = lits
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    u32::try_from(i).unwrap(),
                    Anchor::None,
                    l.as_bytes().to_vec(),
                )
            })
            .collect();
        let b = Batch::build(&preds, &[(num_bits(7.0), 9)]).unwrap();
        assert!(b.joined);
        // Short and long texts (the SIMD search needs a few bytes of text).
        assert_eq!(marks(&b, r#"["x", "MimiKatz"]"#), vec![0]);
        assert_eq!(marks(&b, r#"["a", "b", 7, "ÉTÉ"]"#), vec![3, 9]);
        let long = "x".repeat(100);
        assert_eq!(
            marks(
                &b,
                &format!(r#"["{long}", "{long}SEKURLSA::{long}", "{long}a", "b{long}"]"#)
            ),
            vec![1]
        );
        assert_eq!(
            marks(
                &b,
                &format!(r#"["{long}ab", "{long}mimi", "katz{long}", {{"k":"ÉTÉ"}}]"#)
            ),
            vec![2, 3]
        );
        assert!(marks(&b, &format!(r#"["{long}", "{long}"]"#)).is_empty());
        // A literal holding the joining byte: value by value.
        let b = Batch::build(&[(0, Anchor::None, b"a\0b".to_vec())], &[]).unwrap();
        assert!(!b.joined);
        assert_eq!(marks(&b, r#"["a", "b", "xa\u0000b"]"#), vec![0]);
        // An anchored literal: value by value.
        let b = Batch::build(&[(0, Anchor::End, b"ab".to_vec())], &[]).unwrap();
        assert!(!b.joined);
        assert_eq!(marks(&b, r#"["xab", "ab"]"#), vec![0]);
        assert!(marks(&b, r#"["abx"]"#).is_empty());
    }
}
