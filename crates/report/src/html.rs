//! A tiny HTML builder that escapes by construction.
//!
//! Tag and attribute *names* and raw markup are `&'static str` (written by this crate, never
//! from input); every text and attribute *value* goes through [`escape`]. There is no way to
//! put a runtime string into the document unescaped.

/// Escape text for HTML element content and attribute values (`& < > " '`).
pub(crate) fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab/newline have no place in a report.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// Escape into a new string.
#[cfg(test)]
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// A document under construction.
#[derive(Debug, Default)]
pub(crate) struct Html {
    buf: String,
}

impl Html {
    pub(crate) fn new() -> Self {
        Html {
            buf: String::with_capacity(64 * 1024),
        }
    }

    /// Markup written by this crate (static, trusted).
    pub(crate) fn raw(&mut self, s: &'static str) -> &mut Self {
        self.buf.push_str(s);
        self
    }

    /// `<tag>`.
    pub(crate) fn open(&mut self, tag: &'static str) -> &mut Self {
        self.open_with(tag, &[])
    }

    /// `<tag name="value" …>`, values escaped.
    pub(crate) fn open_with(
        &mut self,
        tag: &'static str,
        attrs: &[(&'static str, &str)],
    ) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        for (name, value) in attrs {
            self.buf.push(' ');
            self.buf.push_str(name);
            self.buf.push_str("=\"");
            escape_into(&mut self.buf, value);
            self.buf.push('"');
        }
        self.buf.push('>');
        self
    }

    /// A void element `<tag …/>` (SVG shapes, `<meta>`).
    pub(crate) fn void(&mut self, tag: &'static str, attrs: &[(&'static str, &str)]) -> &mut Self {
        self.open_with(tag, attrs);
        self.buf.pop();
        self.buf.push_str("/>");
        self
    }

    /// `</tag>`.
    pub(crate) fn close(&mut self, tag: &'static str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// Escaped text.
    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        escape_into(&mut self.buf, s);
        self
    }

    /// `<tag>text</tag>`.
    pub(crate) fn elem(&mut self, tag: &'static str, text: &str) -> &mut Self {
        self.open(tag).text(text).close(tag)
    }

    /// `<tag attrs>text</tag>`.
    pub(crate) fn elem_with(
        &mut self,
        tag: &'static str,
        attrs: &[(&'static str, &str)],
        text: &str,
    ) -> &mut Self {
        self.open_with(tag, attrs).text(text).close(tag)
    }

    /// A table header row.
    pub(crate) fn header_row(&mut self, cells: &[&str]) -> &mut Self {
        self.open("thead").open("tr");
        for c in cells {
            self.elem("th", c);
        }
        self.close("tr").close("thead")
    }

    /// The document.
    pub(crate) fn finish(self) -> String {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut h = Html::new();
        h.open_with("td", &[("title", "\"><script>x</script>")])
            .text("<b>&'\u{1b}")
            .close("td");
        assert_eq!(
            h.finish(),
            "<td title=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\">&lt;b&gt;&amp;&#39;\u{fffd}</td>"
        );
        assert_eq!(escape("a&b"), "a&amp;b");
    }
}
