//! String patterns: exact, prefix, suffix, contains, wildcard globs and regular expressions,
//! compiled once and matched against prepared (lowercased once per event) text.

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

/// A compiled string pattern.
#[derive(Debug, Clone)]
pub(crate) struct StrPat {
    kind: Kind,
    /// Compare the original text instead of the lowercase copy.
    pub(crate) cased: bool,
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
        Ok(StrPat { kind, cased })
    }

    /// A regular expression pattern (`re` modifier).
    pub(crate) fn regex(r: regex::Regex) -> StrPat {
        StrPat {
            kind: Kind::Regex(Box::new(r)),
            cased: true,
        }
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
