//! Minimal JSON text writing: string escaping, field helpers and a re-indenter.

use std::fmt::Write as _;

/// Append `s` as a JSON string literal.
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s);
    out.push('"');
}

/// Append `s` escaped for the inside of a JSON string literal.
pub(crate) fn push_escaped(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// Writes `"key":` preceded by a comma unless it is the first field of an object.
pub(crate) struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    /// Open an object.
    pub(crate) fn open(out: &'a mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }

    /// Start a field and return the buffer to write its value into.
    pub(crate) fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
        self.out
    }

    /// A string field.
    pub(crate) fn str(&mut self, k: &str, v: &str) {
        let o = self.key(k);
        push_str(o, v);
    }

    /// A field whose value is already JSON text.
    pub(crate) fn raw(&mut self, k: &str, v: &str) {
        self.key(k).push_str(v);
    }

    /// An integer field.
    pub(crate) fn int(&mut self, k: &str, v: i64) {
        let o = self.key(k);
        let _ = write!(o, "{v}");
    }

    /// A boolean field.
    pub(crate) fn bool(&mut self, k: &str, v: bool) {
        self.key(k).push_str(if v { "true" } else { "false" });
    }

    /// A GUID field.
    pub(crate) fn guid(&mut self, k: &str, g: crate::ids::Guid) {
        let o = self.key(k);
        o.push('"');
        g.write_to(o);
        o.push('"');
    }

    /// Close the object.
    pub(crate) fn close(self) {
        self.out.push('}');
    }
}

/// Re-indent compact JSON text as `ConvertTo-Json`/pretty printers do (4 spaces).
/// The input must be valid JSON; strings are copied untouched.
pub(crate) fn pretty(compact: &str, out: &mut String) {
    let bytes = compact.as_bytes();
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut i = 0;
    let mut seg_start = 0;
    let indent = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("    ");
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_str = true;
                i += 1;
                continue;
            }
            b'{' | b'[' => {
                out.push_str(&compact[seg_start..=i]);
                let close = if b == b'{' { b'}' } else { b']' };
                if bytes.get(i + 1) == Some(&close) {
                    out.push(char::from(close));
                    i += 2;
                    seg_start = i;
                    continue;
                }
                depth += 1;
                indent(out, depth);
            }
            b'}' | b']' => {
                out.push_str(&compact[seg_start..i]);
                depth = depth.saturating_sub(1);
                indent(out, depth);
                out.push(char::from(b));
            }
            b',' => {
                out.push_str(&compact[seg_start..=i]);
                indent(out, depth);
            }
            b':' => {
                out.push_str(&compact[seg_start..=i]);
                out.push(' ');
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 1;
        seg_start = i;
    }
    out.push_str(&compact[seg_start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_pretty_round_trip() {
        let mut s = String::new();
        let mut o = Obj::open(&mut s);
        o.str("Path", "\\Inbox \"x\"\u{1}");
        o.raw("A", "[]");
        o.raw("B", "[{\"c\":1},{}]");
        o.int("N", -3);
        o.close();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["Path"], "\\Inbox \"x\"\u{1}");
        let mut p = String::new();
        pretty(&s, &mut p);
        let w: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v, w);
        assert!(p.contains("\n    \"Path\": "));
    }
}
