//! Value-transforming modifiers: `wide`/`utf16le`/`utf16be`/`utf16`, `base64`,
//! `base64offset` and `windash`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A value piece during modifier application (bytes, because of the UTF-16 encodings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BPart {
    /// Literal bytes.
    Lit(Vec<u8>),
    /// `*`.
    Star,
    /// `?`.
    Quest,
}

/// UTF-16 flavours.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Utf16 {
    Le,
    Be,
    /// Byte order mark `FF FE`, then little endian.
    Bom,
}

/// Encode the literal pieces as UTF-16 (wildcards stay wildcards).
pub(crate) fn utf16(parts: &[BPart], kind: Utf16) -> Vec<BPart> {
    let mut out = Vec::with_capacity(parts.len() + 1);
    if matches!(kind, Utf16::Bom) {
        out.push(BPart::Lit(vec![0xFF, 0xFE]));
    }
    for p in parts {
        match p {
            BPart::Lit(b) => {
                let s = String::from_utf8_lossy(b);
                let mut enc = Vec::with_capacity(b.len() * 2);
                for u in s.encode_utf16() {
                    let bytes = match kind {
                        Utf16::Be => u.to_be_bytes(),
                        Utf16::Le | Utf16::Bom => u.to_le_bytes(),
                    };
                    enc.extend_from_slice(&bytes);
                }
                out.push(BPart::Lit(enc));
            }
            other => out.push(other.clone()),
        }
    }
    out
}

fn plain(parts: &[BPart], modifier: &str) -> Result<Vec<u8>, String> {
    let mut v = Vec::new();
    for p in parts {
        match p {
            BPart::Lit(b) => v.extend_from_slice(b),
            _ => {
                return Err(format!(
                    "the {modifier} modifier cannot encode a value with wildcards"
                ));
            }
        }
    }
    Ok(v)
}

/// `base64`: the whole value encoded.
pub(crate) fn base64(parts: &[BPart]) -> Result<Vec<BPart>, String> {
    let v = plain(parts, "base64")?;
    Ok(vec![BPart::Lit(STANDARD.encode(v).into_bytes())])
}

/// `base64offset`: the three encodings of the value at byte offsets 0, 1 and 2 of a longer
/// base64 text, keeping only the characters that do not depend on the surrounding bytes
/// (pySigma's algorithm: cut 0/2/3 leading characters, and the trailing characters that
/// also encode the following bytes).
pub(crate) fn base64offset(parts: &[BPart]) -> Result<Vec<Vec<BPart>>, String> {
    let v = plain(parts, "base64offset")?;
    let start = [0usize, 2, 3];
    let mut out = Vec::with_capacity(3);
    for (i, s) in start.iter().enumerate() {
        let mut padded = vec![b' '; i];
        padded.extend_from_slice(&v);
        let enc = STANDARD.encode(&padded);
        // Characters to drop at the end: 0, 3 or 2 depending on (len + offset) % 3.
        let cut_end = match (v.len() + i) % 3 {
            0 => 0,
            1 => 3,
            _ => 2,
        };
        let end = enc.len().saturating_sub(cut_end);
        if *s < end {
            out.push(vec![BPart::Lit(enc.as_bytes()[*s..end].to_vec())]);
        }
    }
    if out.is_empty() {
        return Err("the value is too short for base64offset".into());
    }
    Ok(out)
}

/// Characters `windash` substitutes for a leading `-` or `/` of a command-line flag.
pub(crate) const WINDASH: [&str; 5] = ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"];
const MAX_WINDASH_POSITIONS: usize = 6;

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `windash`: every `-` or `/` that starts a word (`\B[-/]\b`, as pySigma) takes each of
/// the five dash characters, in every combination.
pub(crate) fn windash(parts: &[BPart]) -> Result<Vec<Vec<BPart>>, String> {
    // Work per literal piece; a flag may not span pieces, so positions are per piece.
    let mut variants: Vec<Vec<BPart>> = vec![Vec::new()];
    let mut positions = 0usize;
    let n = parts.len();
    for (pi, p) in parts.iter().enumerate() {
        match p {
            BPart::Lit(b) => {
                let s = String::from_utf8_lossy(b).into_owned();
                let chars: Vec<char> = s.chars().collect();
                // Context outside the piece: a wildcard counts as a non-word boundary.
                let mut pieces: Vec<Vec<String>> = Vec::new();
                let mut cur = String::new();
                for (ci, &c) in chars.iter().enumerate() {
                    let prev_word = ci > 0 && is_word(chars[ci - 1]);
                    let next_word = chars.get(ci + 1).is_some_and(|&c| is_word(c));
                    let _ = (pi, n);
                    if (c == '-' || c == '/') && !prev_word && next_word {
                        positions += 1;
                        if positions > MAX_WINDASH_POSITIONS {
                            return Err(format!(
                                "windash: more than {MAX_WINDASH_POSITIONS} flag positions in one value"
                            ));
                        }
                        pieces.push(vec![std::mem::take(&mut cur)]);
                        pieces.push(WINDASH.iter().map(|d| (*d).to_string()).collect());
                    } else {
                        cur.push(c);
                    }
                }
                pieces.push(vec![cur]);
                // Cartesian product of the pieces.
                let mut texts: Vec<String> = vec![String::new()];
                for choices in &pieces {
                    let mut next = Vec::with_capacity(texts.len() * choices.len());
                    for t in &texts {
                        for c in choices {
                            let mut x = t.clone();
                            x.push_str(c);
                            next.push(x);
                        }
                    }
                    texts = next;
                }
                let mut next = Vec::with_capacity(variants.len() * texts.len());
                for v in &variants {
                    for t in &texts {
                        let mut x = v.clone();
                        x.push(BPart::Lit(t.clone().into_bytes()));
                        next.push(x);
                    }
                }
                variants = next;
            }
            other => {
                for v in &mut variants {
                    v.push(other.clone());
                }
            }
        }
    }
    Ok(variants)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lit(s: &str) -> Vec<BPart> {
        vec![BPart::Lit(s.as_bytes().to_vec())]
    }

    fn texts(v: Vec<Vec<BPart>>) -> Vec<String> {
        v.into_iter()
            .map(|p| match &p[..] {
                [BPart::Lit(b)] => String::from_utf8(b.clone()).unwrap(),
                _ => panic!("unexpected parts"),
            })
            .collect()
    }

    #[test]
    fn base64offset_matches_pysigma() {
        // pySigma: "/bin/bash" → L2Jpbi9iYXNo, 9iaW4vYmFza, vYmluL2Jhc2
        assert_eq!(
            texts(base64offset(&lit("/bin/bash")).unwrap()),
            ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
        // "sh -c" (5 bytes): trailing characters that depend on the next byte are cut.
        assert_eq!(
            texts(base64offset(&lit("sh -c")).unwrap()),
            ["c2ggLW", "NoIC1j", "zaCAtY"]
        );
    }

    #[test]
    fn windash_only_flag_starts() {
        let v = texts(windash(&lit("a-b -c /d")).unwrap());
        assert_eq!(v.len(), 25);
        assert!(v.contains(&"a-b \u{2013}c \u{2014}d".to_string()));
        assert!(!v.iter().any(|s| s.starts_with("a/b")));
    }
}
