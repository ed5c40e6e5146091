//! CSV with a header row (RFC 4180 quoting: fields in double quotes, `""` for a quote, line
//! breaks allowed inside quotes). The framer only finds where rows end; [`split_row`] splits a
//! row into fields when the row is parsed.

use std::borrow::Cow;

use super::feed::Feed;
use super::{BATCH_BYTES, BATCH_ITEMS, Batch, FrameError, Framer, Item, Spares, find2};
use crate::options::Limits;

const STEP: usize = 1024 * 1024;

pub(crate) struct CsvFramer {
    feed: Feed,
    limits: Limits,
    line: u64,
    header: Option<Vec<String>>,
    started: bool,
    done: bool,
    spares: Spares,
}

enum Row {
    /// `buf[start..end]`, starting at `line`.
    Ok {
        start: usize,
        end: usize,
        line: u64,
    },
    Err(FrameError),
    Eof,
}

impl CsvFramer {
    pub(crate) fn new(feed: Feed, limits: Limits) -> Self {
        CsvFramer {
            feed,
            limits,
            line: 1,
            header: None,
            started: false,
            done: false,
            spares: Spares::default(),
        }
    }

    /// Make bytes available at `pos`, keeping everything from `mark`; false at the end.
    fn more(&mut self, mark: &mut usize) -> bool {
        let shift = self.feed.compact(*mark);
        *mark -= shift;
        self.feed.read_more(STEP) > 0
    }

    /// Resynchronise after a bad row that started at `mark`/`line`: continue at the line
    /// after its first line.
    fn resync(&mut self, mark: usize, line: u64) {
        let buf = self.feed.buf();
        match memchr::memchr(b'\n', &buf[mark..]) {
            Some(i) => {
                self.feed.set_pos(mark + i + 1);
                self.line = line + 1;
            }
            None => {
                // Drop the rest of this physical line, streaming.
                let end = self.feed.end();
                self.feed.set_pos(end);
                let mut m = self.feed.pos();
                loop {
                    if !self.more(&mut m) {
                        self.done = true;
                        return;
                    }
                    let pos = self.feed.pos();
                    if let Some(i) = memchr::memchr(b'\n', &self.feed.buf()[pos..]) {
                        self.feed.set_pos(pos + i + 1);
                        self.line = line + 1;
                        return;
                    }
                    let end = self.feed.end();
                    self.feed.set_pos(end);
                    m = end;
                }
            }
        }
    }

    fn next_row(&mut self) -> Row {
        // Skip blank lines.
        loop {
            if self.feed.pos() >= self.feed.end() {
                let mut m = self.feed.pos();
                if !self.more(&mut m) {
                    return self.eof_row();
                }
            }
            let pos = self.feed.pos();
            match self.feed.buf()[pos] {
                b'\n' => {
                    self.line += 1;
                    self.feed.set_pos(pos + 1);
                }
                b'\r' => self.feed.set_pos(pos + 1),
                _ => break,
            }
        }
        let mut mark = self.feed.pos();
        let start_line = self.line;
        let mut in_quotes = false;
        let mut lines_inside = 0u64;
        loop {
            if self.feed.pos() - mark > self.limits.max_record_bytes {
                let err = FrameError::new(
                    start_line,
                    format!("row larger than {} bytes", self.limits.max_record_bytes),
                );
                self.resync(mark, start_line);
                return Row::Err(err);
            }
            let pos = self.feed.pos();
            let avail = &self.feed.buf()[pos..];
            match row_end(avail, &mut in_quotes, &mut lines_inside) {
                Some(i) => {
                    self.feed.set_pos(pos + i + 1);
                    let mut end = pos + i;
                    if end > mark && self.feed.buf()[end - 1] == b'\r' {
                        end -= 1;
                    }
                    if end - mark > self.limits.max_record_bytes {
                        let err = FrameError::new(
                            start_line,
                            format!("row larger than {} bytes", self.limits.max_record_bytes),
                        );
                        self.resync(mark, start_line);
                        return Row::Err(err);
                    }
                    self.line = start_line + lines_inside + 1;
                    return Row::Ok {
                        start: mark,
                        end,
                        line: start_line,
                    };
                }
                None => {
                    let end = self.feed.end();
                    self.feed.set_pos(end);
                    if !self.more(&mut mark) {
                        if in_quotes {
                            let mut why = "unterminated quoted field".to_owned();
                            if let Some(e) = self.feed.take_error() {
                                why = format!("{why}: input ends early: {e}");
                            }
                            self.resync(mark, start_line);
                            if self.feed.pos() >= self.feed.end() && self.feed.is_eof() {
                                self.done = true;
                            }
                            return Row::Err(FrameError::new(start_line, why));
                        }
                        let mut end = self.feed.end();
                        if end > mark && self.feed.buf()[end - 1] == b'\r' {
                            end -= 1;
                        }
                        self.line = start_line + lines_inside;
                        if let Some(e) = self.feed.take_error() {
                            self.done = true;
                            return Row::Err(FrameError::new(
                                start_line,
                                format!("input ends inside this row: {e}"),
                            ));
                        }
                        return Row::Ok {
                            start: mark,
                            end,
                            line: start_line,
                        };
                    }
                }
            }
        }
    }

    fn eof_row(&mut self) -> Row {
        self.done = true;
        match self.feed.take_error() {
            Some(e) => Row::Err(FrameError::new(self.line, format!("input ends early: {e}"))),
            None => Row::Eof,
        }
    }

    fn read_header(&mut self, batch: &mut Batch) {
        self.started = true;
        match self.next_row() {
            Row::Ok { start, end, line } => {
                let bytes = &self.feed.buf()[start..end];
                let mut fields = Vec::new();
                match split_row(bytes, self.limits.max_fields, &mut fields) {
                    Ok(()) => {
                        self.header = Some(
                            fields
                                .into_iter()
                                .map(|f| f.trim().trim_start_matches('\u{feff}').to_owned())
                                .collect(),
                        );
                    }
                    Err(why) => {
                        batch.items.push(Item::Error(FrameError::new(
                            line,
                            format!("unreadable CSV header: {why}"),
                        )));
                        self.done = true;
                    }
                }
            }
            Row::Err(e) => {
                batch.items.push(Item::Error(e));
                self.done = true;
            }
            Row::Eof => self.done = true,
        }
    }
}

impl Framer for CsvFramer {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn header(&self) -> Option<&[String]> {
        self.header.as_deref()
    }

    fn recycle(&mut self, batch: Batch) {
        self.spares.put(batch);
    }

    fn next_batch(&mut self) -> Option<Batch> {
        let mut batch = self.spares.take();
        if !self.started {
            self.read_header(&mut batch);
        }
        while !self.done && batch.data.len() < BATCH_BYTES && batch.items.len() < BATCH_ITEMS {
            match self.next_row() {
                Row::Ok { start, end, line } => {
                    let at = batch.data.len();
                    batch.data.extend_from_slice(&self.feed.buf()[start..end]);
                    batch.items.push(Item::Record {
                        start: at,
                        end: batch.data.len(),
                        line,
                        file_line: line,
                    });
                }
                Row::Err(e) => batch.items.push(Item::Error(e)),
                Row::Eof => break,
            }
        }
        if batch.items.is_empty() && self.done {
            return None;
        }
        Some(batch)
    }
}

/// The first line feed outside quotes in `b` (quotes toggle `in_quotes`; line feeds inside
/// quotes are counted in `lines_inside`). Eight bytes at a time: a word without a line feed
/// only flips the quote state by the parity of its quotes.
fn row_end(b: &[u8], in_quotes: &mut bool, lines_inside: &mut u64) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let zero = |t: u64| !(((t & LOW7) + LOW7) | t) & !LOW7;
    let mut i = 0;
    loop {
        while let Some(chunk) = b.get(i..i + 8) {
            let w = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
            if zero(w ^ (LO * u64::from(b'\n'))) != 0 {
                break;
            }
            // The parity of the quotes: their flags (one per byte, bit 7) moved to bit 0 of
            // each byte and summed into the top byte by one multiplication (a `count_ones`
            // is a dozen instructions on a CPU without POPCNT).
            let quotes = (zero(w ^ (LO * u64::from(b'"'))) >> 7).wrapping_mul(LO) >> 56;
            *in_quotes ^= quotes & 1 == 1;
            i += 8;
        }
        if i >= b.len() {
            return None;
        }
        // The word with a line feed (or the tail), byte by byte.
        let stop = (i + 8).min(b.len());
        while i < stop {
            match b[i] {
                b'"' => *in_quotes = !*in_quotes,
                b'\n' if *in_quotes => *lines_inside += 1,
                b'\n' => return Some(i),
                _ => {}
            }
            i += 1;
        }
    }
}

/// Append `b[from..to]` to `out`. The spans between doubled quotes are short: up to 16 bytes
/// are copied as one fixed-size block (then cut to length) instead of a call to `memcpy`.
#[inline]
fn push_span(out: &mut Vec<u8>, b: &[u8], from: usize, to: usize) {
    let n = to - from;
    if n <= 16
        && let Some(block) = b.get(from..from + 16)
        && let Ok(block) = <[u8; 16]>::try_from(block)
    {
        let len = out.len();
        out.extend_from_slice(&block);
        out.truncate(len + n);
    } else {
        out.extend_from_slice(&b[from..to]);
    }
}

/// Split one CSV row into fields (unquoting `"…"` and `""`). Errors name the problem: invalid
/// UTF-8, a NUL byte, text after a closing quote, an unterminated quote, too many fields.
pub(crate) fn split_row<'a>(
    row: &'a [u8],
    max_fields: usize,
    out: &mut Vec<Cow<'a, str>>,
) -> Result<(), String> {
    let text = match simdutf8::basic::from_utf8(row) {
        Ok(t) => t,
        Err(_) => std::str::from_utf8(row)
            .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?,
    };
    if let Some(i) = memchr::memchr(0, row) {
        return Err(format!("NUL byte at byte {i}"));
    }
    let b = text.as_bytes();
    let mut i = 0;
    loop {
        if out.len() >= max_fields {
            return Err(format!("more than {max_fields} fields"));
        }
        if b.get(i) == Some(&b'"') {
            i += 1;
            let start = i;
            // Unquoted in the same pass: the text between doubled quotes is copied once.
            let mut owned: Option<Vec<u8>> = None;
            let mut seg = start;
            loop {
                match find2(&b[i..], b'"', b'"') {
                    None => return Err(format!("unterminated quote in field {}", out.len() + 1)),
                    Some(j) => {
                        let q = i + j;
                        if b.get(q + 1) == Some(&b'"') {
                            // Sized for the rest of the row at once: a field with many
                            // doubled quotes (`AuditData`) would otherwise grow it many times.
                            let o =
                                owned.get_or_insert_with(|| Vec::with_capacity(b.len() - start));
                            push_span(o, b, seg, q + 1);
                            seg = q + 2;
                            i = q + 2;
                        } else {
                            out.push(match owned.take() {
                                Some(mut o) => {
                                    push_span(&mut o, b, seg, q);
                                    // Quotes taken out of UTF-8 text leave UTF-8 text.
                                    Cow::Owned(String::from_utf8(o).unwrap_or_else(|e| {
                                        String::from_utf8_lossy(e.as_bytes()).into_owned()
                                    }))
                                }
                                None => Cow::Borrowed(&text[start..q]),
                            });
                            i = q + 1;
                            break;
                        }
                    }
                }
            }
            match b.get(i) {
                None => return Ok(()),
                Some(b',') => i += 1,
                Some(&c) => {
                    return Err(format!(
                        "broken quoting: {:?} after the closing quote of field {}",
                        char::from(c),
                        out.len()
                    ));
                }
            }
        } else {
            let end = memchr::memchr(b',', &b[i..]).map_or(b.len(), |j| i + j);
            out.push(Cow::Borrowed(&text[i..end]));
            if end == b.len() {
                return Ok(());
            }
            i = end + 1;
        }
        if i == b.len() {
            out.push(Cow::Borrowed(""));
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Framed, push_items};

    #[test]
    fn split_quoted_fields() {
        let mut out = Vec::new();
        split_row(br#"a,"b ""q"", c","",d,"#, 10, &mut out).unwrap();
        assert_eq!(out, vec!["a", "b \"q\", c", "", "d", ""]);
        out.clear();
        assert!(
            split_row(br#""a"x,b"#, 10, &mut out)
                .unwrap_err()
                .contains("broken quoting")
        );
        out.clear();
        assert!(
            split_row(b"a,\"b", 10, &mut out)
                .unwrap_err()
                .contains("unterminated")
        );
        out.clear();
        assert!(
            split_row(b"a,b,c", 2, &mut out)
                .unwrap_err()
                .contains("more than")
        );
        out.clear();
        assert!(
            split_row(b"a\xff", 2, &mut out)
                .unwrap_err()
                .contains("UTF-8")
        );
    }

    fn rows(text: &str) -> (Vec<String>, Framed) {
        let feed = Feed::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())));
        let mut f = CsvFramer::new(feed, Limits::default());
        let mut out = Vec::new();
        let mut header = Vec::new();
        while let Some(b) = f.next_batch() {
            header = f.header().map(<[String]>::to_vec).unwrap_or_default();
            push_items(b, &mut out);
        }
        (header, out)
    }

    #[test]
    fn row_ends_agree_with_a_plain_scan() {
        let text =
            b"a,\"b\nc\"\"\",d\n\"\"\"\",e,\"f\ng\nh\",i\n,,,\"\"\n\"x\"\"\ny\",z\nlast,\"open\n";
        let plain = |b: &[u8], q0: bool| {
            let (mut q, mut n) = (q0, 0u64);
            for (i, &c) in b.iter().enumerate() {
                match c {
                    b'"' => q = !q,
                    b'\n' if q => n += 1,
                    b'\n' => return (Some(i), q, n),
                    _ => {}
                }
            }
            (None, q, n)
        };
        for start in 0..text.len() {
            for q0 in [false, true] {
                let (mut q, mut n) = (q0, 0);
                let got = row_end(&text[start..], &mut q, &mut n);
                assert_eq!((got, q, n), plain(&text[start..], q0), "{start} {q0}");
            }
        }
    }

    #[test]
    fn doubled_quotes_unquote_in_one_pass() {
        let mut out = Vec::new();
        split_row(br#""{""a"":""x""}","""",plain,"q""""""#, 10, &mut out).unwrap();
        assert_eq!(out, vec![r#"{"a":"x"}"#, "\"", "plain", "q\"\""]);
        assert!(matches!(out[2], Cow::Borrowed(_)));
    }

    #[test]
    fn unquoting_agrees_with_a_plain_replace() {
        // Spans between doubled quotes of every length around the 16-byte block, at the start,
        // in the middle and at the very end of the row, with multi-byte characters.
        for n in 0..40 {
            let span = "ab\u{e9}cdefgh\u{2603}ijklmnopqrstuvwxyz0123456789"
                .chars()
                .take(n);
            let span: String = span.collect();
            let field = format!(r#"{{"{span}":"{span}","x":"{span}"}}"#);
            let quoted = field.replace('"', "\"\"");
            for row in [format!("\"{quoted}\""), format!("a,\"{quoted}\",b")] {
                let mut out = Vec::new();
                split_row(row.as_bytes(), 10, &mut out).unwrap();
                assert!(out.iter().any(|f| f == &field), "{row}");
            }
        }
    }

    #[test]
    fn rows_with_line_breaks_inside_quotes() {
        let (h, r) = rows("A,B\r\n1,\"x\ny\"\r\n\n2,z\n");
        assert_eq!(h, vec!["A", "B"]);
        assert_eq!(r, vec![Ok((2, "1,\"x\ny\"".into())), Ok((5, "2,z".into()))]);
    }

    #[test]
    fn unterminated_quote_resynchronises() {
        let (_, r) = rows("A,B\n1,\"oops\n2,ok\n");
        assert_eq!(r[0], Err((2, "unterminated quoted field".into())));
        assert_eq!(r[1], Ok((3, "2,ok".into())));
    }
}
