//! String patterns: exact, prefix, suffix, contains, wildcard globs and regular expressions,
//! compiled once and matched against prepared (lowercased once per event) text.

use std::fmt::Write as _;

use memchr::memmem;

/// A piece of a Sigma string value after modifiers were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    Quest,
}

/// Normalise parts: merge adjacent literals and adjacent stars.
pub(crate) fn normalise(parts: Vec<Part>) -> Vec<Part> {
    let mut out: Vec<Part> = Vec::with_capacity(parts.len());
    for p in parts {
        match (out.last_mut(), p) {
            (Some(Part::Lit(prev)), Part::Lit(s)) => prev.push_str(&s),
            (Some(Part::Star), Part::Star) => {}
            (_, Part::Lit(s)) if s.is_empty() => {}
            (_, p) => out.push(p),
        }
    }
    out
}

/// Where a literal must sit in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// Anywhere.
    None,
    /// At the start.
    Start,
    /// At the end.
    End,
    /// The whole text.
    Both,
}

impl Anchor {
    /// Does an occurrence at `start..end` of a text of length `len` satisfy the anchor?
    pub(crate) fn fits(self, start: usize, end: usize, len: usize) -> bool {
        match self {
            Anchor::None => true,
            Anchor::Start => start == 0,
            Anchor::End => end == len,
            Anchor::Both => start == 0 && end == len,
        }
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(Box<memmem::Finder<'static>>),
    Any,
    /// Literal segments separated by `*`; anchored at start/end unless a star is there.
    Glob {
        segs: Vec<String>,
        anchored_start: bool,
        anchored_end: bool,
    },
    Regex(Box<regex::Regex>),
}

/// The memo key of a pattern: equal for equal parts and case, different otherwise (each
/// literal is prefixed with its length). Cheaper than formatting the parts, which escapes
/// every character.
pub(crate) fn parts_key(cased: bool, parts: &[Part]) -> String {
    let text: usize = parts
        .iter()
        .map(|p| match p {
            Part::Lit(s) => s.len() + 8,
            Part::Star | Part::Quest => 1,
        })
        .sum();
    let mut k = String::with_capacity(6 + text);
    k.push_str(if cased { "true:" } else { "false:" });
    for p in parts {
        match p {
            Part::Lit(s) => {
                // Writing to a String cannot fail.
                let _ = write!(k, "L{}:", s.len());
                k.push_str(s);
            }
            Part::Star => k.push('*'),
            Part::Quest => k.push('?'),
        }
    }
    k
}

/// A compiled string pattern.
#[derive(Debug, Clone)]
pub(crate) struct StrPat {
    kind: Kind,
    /// Compare the original text instead of the lowercase copy.
    pub(crate) cased: bool,
    /// Literals (lowercase ASCII) one of which every match contains (regular expressions),
    /// for gates.
    hint: Option<Vec<String>>,
}

impl StrPat {
    /// Compile parts (wildcards already resolved) into a pattern.
    pub(crate) fn from_parts(parts: Vec<Part>, cased: bool) -> Result<StrPat, String> {
        let parts = normalise(parts);
        let fold = |s: &str| {
            if cased {
                s.to_string()
            } else {
                s.to_lowercase()
            }
        };
        if parts.iter().any(|p| matches!(p, Part::Quest)) {
            let mut re = String::from(if cased { "(?s)^" } else { "(?si)^" });
            for p in &parts {
                match p {
                    Part::Lit(s) => re.push_str(&regex::escape(s)),
                    Part::Star => re.push_str(".*"),
                    Part::Quest => re.push('.'),
                }
            }
            re.push('$');
            let r = regex::Regex::new(&re).map_err(|e| e.to_string())?;
            // Case folding is done by the regex itself: match the original text.
            return Ok(StrPat {
                kind: Kind::Regex(Box::new(r)),
                cased: true,
                hint: None,
            });
        }
        let kind = match parts.as_slice() {
            [] => Kind::Exact(String::new()),
            [Part::Star] => Kind::Any,
            [Part::Lit(s)] => Kind::Exact(fold(s)),
            [Part::Lit(s), Part::Star] => Kind::Prefix(fold(s)),
            [Part::Star, Part::Lit(s)] => Kind::Suffix(fold(s)),
            [Part::Star, Part::Lit(s), Part::Star] => Kind::Contains(Box::new(
                memmem::Finder::new(fold(s).as_bytes()).into_owned(),
            )),
            _ => {
                let anchored_start = !matches!(parts.first(), Some(Part::Star));
                let anchored_end = !matches!(parts.last(), Some(Part::Star));
                let segs = parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::Lit(s) => Some(fold(s)),
                        _ => None,
                    })
                    .collect();
                Kind::Glob {
                    segs,
                    anchored_start,
                    anchored_end,
                }
            }
        };
        Ok(StrPat {
            kind,
            cased,
            hint: None,
        })
    }

    /// A regular expression pattern (`re` modifier).
    pub(crate) fn regex(r: regex::Regex) -> StrPat {
        let hint = regex_syntax::Parser::new()
            .parse(r.as_str())
            .ok()
            .and_then(|h| required(&h))
            .filter(|set| set.iter().all(|l| l.len() >= MIN_HINT));
        StrPat {
            kind: Kind::Regex(Box::new(r)),
            cased: true,
            hint,
        }
    }

    /// Literals one of which every match contains (lowercase), when known beyond the parts
    /// (regular expressions).
    pub(crate) fn hint(&self) -> Option<&[String]> {
        self.hint.as_deref()
    }

    /// The pattern as an anchored literal over the lowercase text (exact, prefix, suffix or
    /// substring), when it is one: such patterns of one field are matched together.
    pub(crate) fn anchored_literal(&self) -> Option<(Anchor, &[u8])> {
        if self.cased {
            return None;
        }
        let (a, s): (Anchor, &[u8]) = match &self.kind {
            Kind::Exact(s) => (Anchor::Both, s.as_bytes()),
            Kind::Prefix(s) => (Anchor::Start, s.as_bytes()),
            Kind::Suffix(s) => (Anchor::End, s.as_bytes()),
            Kind::Contains(f) => (Anchor::None, f.needle()),
            _ => return None,
        };
        (!s.is_empty()).then_some((a, s))
    }

    /// Match `text` (already lowercased unless `cased`).
    pub(crate) fn is_match(&self, text: &str) -> bool {
        match &self.kind {
            Kind::Exact(s) => text == s,
            Kind::Prefix(s) => text.starts_with(s.as_str()),
            Kind::Suffix(s) => text.ends_with(s.as_str()),
            Kind::Contains(f) => f.find(text.as_bytes()).is_some(),
            Kind::Any => true,
            Kind::Glob {
                segs,
                anchored_start,
                anchored_end,
            } => glob_match(text, segs, *anchored_start, *anchored_end),
            Kind::Regex(r) => r.is_match(text),
        }
    }
}

/// Shortest literal worth reporting from a regular expression.
const MIN_HINT: usize = 3;

/// The single ASCII character (lowercase) a literal or class stands for, once lowercased:
/// a class qualifies only when every member lowercases to the same ASCII character.
fn one_char(h: &regex_syntax::hir::Hir) -> Option<char> {
    use regex_syntax::hir::{Class, HirKind};
    let lower = |c: char| {
        let mut l = c.to_lowercase();
        match (l.next(), l.next()) {
            (Some(x), None) => Some(x),
            _ => None,
        }
    };
    match h.kind() {
        HirKind::Literal(l) => {
            match std::str::from_utf8(&l.0).ok()?.chars().collect::<Vec<_>>()[..] {
                [c] => lower(c).filter(char::is_ascii),
                _ => None,
            }
        }
        HirKind::Class(Class::Unicode(c)) => {
            let mut out: Option<char> = None;
            let mut n = 0;
            for r in c.iter() {
                for ch in r.start()..=r.end() {
                    n += 1;
                    if n > 4 {
                        return None;
                    }
                    let l = lower(ch)?;
                    if out.is_some_and(|o| o != l) {
                        return None;
                    }
                    out = Some(l);
                }
            }
            out.filter(char::is_ascii)
        }
        HirKind::Class(Class::Bytes(c)) => {
            let mut out: Option<char> = None;
            let mut n = 0;
            for r in c.iter() {
                for b in r.start()..=r.end() {
                    n += 1;
                    if n > 4 || !b.is_ascii() {
                        return None;
                    }
                    let l = char::from(b.to_ascii_lowercase());
                    if out.is_some_and(|o| o != l) {
                        return None;
                    }
                    out = Some(l);
                }
            }
            out
        }
        _ => None,
    }
}

/// Literals (lowercase ASCII) one of which occurs in every text the expression matches.
fn required(h: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::HirKind;
    let score = |set: &Vec<String>| {
        (
            set.iter().map(String::len).min().unwrap_or(0).min(8),
            std::cmp::Reverse(set.len()),
        )
    };
    match h.kind() {
        HirKind::Literal(l) => {
            // Longest ASCII run of the literal, lowercased.
            let text = std::str::from_utf8(&l.0).ok()?;
            let best = text
                .split(|c: char| !c.is_ascii())
                .max_by_key(|s| s.len())?
                .to_ascii_lowercase();
            (!best.is_empty()).then(|| vec![best])
        }
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Alternation(alts) => {
            let mut out = Vec::new();
            for a in alts {
                out.extend(required(a)?);
            }
            out.sort();
            out.dedup();
            Some(out)
        }
        HirKind::Concat(parts) => {
            let mut cands: Vec<Vec<String>> = Vec::new();
            let mut run = String::new();
            for p in parts {
                if let Some(c) = one_char(p) {
                    run.push(c);
                    continue;
                }
                if let HirKind::Literal(l) = p.kind()
                    && let Ok(t) = std::str::from_utf8(&l.0)
                {
                    // A multi-character literal: extend the run with its ASCII prefix.
                    let mut it = t.split(|c: char| !c.is_ascii());
                    let first = it.next().unwrap_or("");
                    run.push_str(&first.to_ascii_lowercase());
                    if t.len() != first.len() {
                        if !run.is_empty() {
                            cands.push(vec![std::mem::take(&mut run)]);
                        }
                        if let Some(last) = t.rsplit(|c: char| !c.is_ascii()).next() {
                            run.push_str(&last.to_ascii_lowercase());
                        }
                        for mid in t.split(|c: char| !c.is_ascii()) {
                            if !mid.is_empty() {
                                cands.push(vec![mid.to_ascii_lowercase()]);
                            }
                        }
                    }
                    continue;
                }
                if !run.is_empty() {
                    cands.push(vec![std::mem::take(&mut run)]);
                }
                if let Some(set) = required(p) {
                    cands.push(set);
                }
            }
            if !run.is_empty() {
                cands.push(vec![run]);
            }
            cands.into_iter().max_by_key(score)
        }
        _ => None,
    }
}

fn glob_match(text: &str, segs: &[String], anchored_start: bool, anchored_end: bool) -> bool {
    let mut rest = text;
    let n = segs.len();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == n;
        if i == 0 && anchored_start {
            match rest.strip_prefix(seg.as_str()) {
                Some(r) => rest = r,
                None => return false,
            }
            if last && anchored_end {
                return rest.is_empty();
            }
            continue;
        }
        if last && anchored_end {
            return rest.ends_with(seg.as_str());
        }
        match memmem::find(rest.as_bytes(), seg.as_bytes()) {
            Some(pos) => rest = &rest[pos + seg.len()..],
            None => return false,
        }
    }
    true
}

/// The literal text a match of these parts must contain (the longest literal), for prefilters.
pub(crate) fn required_literal(parts: &[Part]) -> Option<String> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::Lit(s) => Some(s),
            _ => None,
        })
        .max_by_key(|s| s.len())
        .cloned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pat(parts: Vec<Part>) -> StrPat {
        StrPat::from_parts(parts, false).unwrap()
    }

    #[test]
    fn memo_keys_tell_patterns_apart() {
        let lit = |s: &str| Part::Lit(s.into());
        let key = |cased, parts: &[Part]| parts_key(cased, parts);
        // Literals whose text holds what the other parts would be written as.
        let pairs = [
            (vec![lit("a*")], vec![lit("a"), Part::Star]),
            (vec![lit("L1:a")], vec![lit("a")]),
            (vec![lit("ab"), lit("c")], vec![lit("a"), lit("bc")]),
            (vec![Part::Star, lit("x")], vec![lit("x"), Part::Star]),
            (vec![lit("?")], vec![Part::Quest]),
        ];
        for (a, b) in &pairs {
            assert_ne!(key(false, a), key(false, b), "{a:?} / {b:?}");
        }
        assert_ne!(key(true, &[lit("a")]), key(false, &[lit("a")]));
        assert_eq!(
            key(false, &[Part::Star, lit("cmd.exe")]),
            key(false, &[Part::Star, lit("cmd.exe")])
        );
    }

    #[test]
    fn regex_literals() {
        let hint = |re: &str| {
            StrPat::regex(regex::Regex::new(re).unwrap())
                .hint()
                .map(<[String]>::to_vec)
        };
        assert_eq!(
            hint(r"\\Windows\\__1\d{9}"),
            Some(vec!["\\windows\\__1".into()])
        );
        assert_eq!(hint("(?i)PowerShell.*-enc"), Some(vec!["power".into()]));
        assert_eq!(hint("(abc|defg)x"), Some(vec!["abc".into(), "defg".into()]));
        assert_eq!(hint("a.b"), None);
        assert_eq!(hint("(?i)Kelvin"), Some(vec!["kelvin".into()]));
        // (?i)s also matches U+017F, whose lowercase is not `s`: the run breaks there.
        assert_eq!(hint("(?i)rasdial"), Some(vec!["dial".into()]));
    }

    #[test]
    fn glob_forms() {
        let l = |s: &str| Part::Lit(s.into());
        assert!(pat(vec![l("a"), Part::Star, l("b"), Part::Star, l("c")]).is_match("axxbyyc"));
        assert!(!pat(vec![l("a"), Part::Star, l("b"), Part::Star, l("c")]).is_match("axxbyy"));
        assert!(pat(vec![l("ab"), Part::Star, l("ab")]).is_match("abab"));
        assert!(!pat(vec![l("ab"), Part::Star, l("ab")]).is_match("aba"));
        assert!(pat(vec![l("a"), Part::Quest, l("c")]).is_match("AbC"));
        assert!(pat(vec![Part::Star, l("X"), Part::Star]).is_match("axb"));
    }
}
