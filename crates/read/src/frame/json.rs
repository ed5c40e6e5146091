//! JSON text that is not one record per line: top-level arrays (Management Activity API
//! content blobs), concatenated or pretty-printed objects, and `{"value":[…]}` /
//! `{"records":[…]}` envelopes, streamed element by element.
//!
//! The scanner only finds where values start and end (strings, escapes, nesting); each record
//! is validated when it is parsed.

use super::feed::Feed;
use super::{BATCH_BYTES, BATCH_ITEMS, Batch, FrameError, Framer, Item, Spares, find2};
use crate::options::Limits;

const STEP: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Top,
    Array {
        index: u64,
        envelope: bool,
        need_value: bool,
    },
    EnvelopeTail,
}

enum Envelope {
    Entered,
    No,
    Oversize,
}

#[derive(Debug)]
enum ScanErr {
    Eof,
    Unexpected(u8),
}

pub(crate) struct JsonFramer {
    feed: Feed,
    limits: Limits,
    line: u64,
    state: State,
    /// Start of the bytes being kept (the record being cut).
    mark: Option<usize>,
    oversize: bool,
    too_deep: bool,
    done: bool,
    eof_resyncs: u8,
    name: &'static str,
    spares: Spares,
}

impl JsonFramer {
    pub(crate) fn new(feed: Feed, limits: Limits) -> Self {
        JsonFramer {
            feed,
            limits,
            line: 1,
            state: State::Top,
            mark: None,
            oversize: false,
            too_deep: false,
            done: false,
            eof_resyncs: 0,
            name: "json",
            spares: Spares::default(),
        }
    }

    /// Make sure a byte is available at `pos`; false at the end of the input.
    #[inline]
    fn ensure(&mut self) -> bool {
        if self.feed.pos() < self.feed.end() {
            return true;
        }
        self.fill()
    }

    #[cold]
    fn fill(&mut self) -> bool {
        let keep = match self.mark {
            Some(m) => {
                if self.feed.pos() - m > self.limits.max_record_bytes {
                    self.oversize = true;
                    self.mark = None;
                    self.feed.pos()
                } else {
                    m
                }
            }
            None => self.feed.pos(),
        };
        let shift = self.feed.compact(keep);
        if let Some(m) = self.mark.as_mut() {
            *m -= shift;
        }
        self.feed.read_more(STEP) > 0
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        if self.ensure() {
            self.feed.buf().get(self.feed.pos()).copied()
        } else {
            None
        }
    }

    #[inline]
    fn bump(&mut self) {
        let p = self.feed.pos();
        self.feed.set_pos(p + 1);
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.bump();
        Some(b)
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.bump();
        }
    }

    /// After an opening quote: to just past the closing quote.
    fn skip_string(&mut self) -> Result<(), ScanErr> {
        loop {
            if !self.ensure() {
                return Err(ScanErr::Eof);
            }
            let pos = self.feed.pos();
            let avail = &self.feed.buf()[pos..];
            match find2(avail, b'"', b'\\') {
                Some(i) if avail[i] == b'"' => {
                    self.feed.set_pos(pos + i + 1);
                    return Ok(());
                }
                Some(i) => {
                    self.feed.set_pos(pos + i + 1);
                    if self.next().is_none() {
                        return Err(ScanErr::Eof);
                    }
                }
                None => self.feed.set_pos(pos + avail.len()),
            }
        }
    }

    fn skip_value(&mut self) -> Result<(), ScanErr> {
        let Some(first) = self.peek() else {
            return Err(ScanErr::Eof);
        };
        match first {
            b'"' => {
                self.bump();
                self.skip_string()
            }
            b'{' | b'[' => self.skip_container(),
            b'}' | b']' | b',' | b':' => Err(ScanErr::Unexpected(first)),
            _ => {
                // A literal (number, true, false, null, or junk): at least one byte.
                self.bump();
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b']' | b'}') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.bump();
                }
                Ok(())
            }
        }
    }

    /// At an opening bracket: to just past its closing bracket. Scans the buffered bytes in a
    /// tight loop (refilling as needed), counting lines outside strings.
    fn skip_container(&mut self) -> Result<(), ScanErr> {
        let mut depth = 0usize;
        let mut in_str = false;
        let mut escape_pending = false;
        loop {
            if !self.ensure() {
                return Err(ScanErr::Eof);
            }
            let pos = self.feed.pos();
            let buf = &self.feed.buf()[pos..];
            let mut i = 0;
            let mut lines = 0u64;
            let mut deepest = depth;
            let mut closed = false;
            if escape_pending {
                i = 1;
                escape_pending = false;
            }
            while i < buf.len() {
                if in_str {
                    match find2(&buf[i..], b'"', b'\\') {
                        Some(k) if buf[i + k] == b'"' => {
                            i += k + 1;
                            // A key is followed by `:"` and a string value by `,"` nearly
                            // always: the next string is entered without a pass through the
                            // structural match below for each of those two bytes.
                            if matches!(buf.get(i..i + 2), Some(b":\"" | b",\"")) {
                                i += 2;
                            } else {
                                in_str = false;
                            }
                        }
                        Some(k) => {
                            if i + k + 1 >= buf.len() {
                                escape_pending = true;
                            }
                            i += k + 2;
                        }
                        None => i = buf.len(),
                    }
                    continue;
                }
                match buf[i] {
                    b'{' | b'[' => {
                        depth += 1;
                        deepest = deepest.max(depth);
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            closed = true;
                            break;
                        }
                    }
                    b'"' => in_str = true,
                    b'\n' => lines += 1,
                    _ => {}
                }
                i += 1;
            }
            let i = i.min(buf.len());
            self.line += lines;
            if deepest > self.limits.max_depth {
                self.too_deep = true;
            }
            self.feed.set_pos(pos + i);
            if closed {
                return Ok(());
            }
        }
    }

    /// Cut one record starting at `pos`, located at `loc`.
    fn frame_record(&mut self, loc: u64, batch: &mut Batch) {
        if self.mark.is_none() {
            self.mark = Some(self.feed.pos());
        }
        self.oversize = false;
        self.too_deep = false;
        let file_line = self.line;
        let r = self.skip_value();
        let item = match r {
            Ok(()) if self.oversize || self.mark.is_none() => Item::Error(FrameError::new(
                loc,
                format!("record larger than {} bytes", self.limits.max_record_bytes),
            )),
            Ok(()) if self.too_deep => Item::Error(FrameError::new(
                loc,
                format!("nesting deeper than {} levels", self.limits.max_depth),
            )),
            Ok(()) => {
                let m = self.mark.unwrap_or(0);
                let bytes = &self.feed.buf()[m..self.feed.pos()];
                let start = batch.data.len();
                batch.data.extend_from_slice(bytes);
                Item::Record {
                    start,
                    end: batch.data.len(),
                    line: loc,
                    file_line,
                }
            }
            Err(ScanErr::Eof) if self.state == State::Top && self.resync_after_eof(file_line) => {
                Item::Error(FrameError::new(
                    loc,
                    "unterminated record: no closing brace before the end of the input",
                ))
            }
            Err(ScanErr::Eof) => {
                self.done = true;
                let why = match self.feed.take_error() {
                    Some(e) => format!("input ends inside this record: {e}"),
                    None => "input ends inside this record (truncated?)".to_owned(),
                };
                Item::Error(FrameError::new(loc, why))
            }
            Err(ScanErr::Unexpected(b)) => {
                self.bump();
                Item::Error(FrameError::new(
                    loc,
                    format!("unexpected {:?} where a value should start", char::from(b)),
                ))
            }
        };
        self.mark = None;
        batch.items.push(item);
    }

    /// A top-level record ran to the end of the input: read on from the line after its first
    /// line (once per file, so a file of unterminated records stays linear).
    fn resync_after_eof(&mut self, start_line: u64) -> bool {
        let Some(m) = self.mark else { return false };
        if self.eof_resyncs > 0 {
            return false;
        }
        let Some(i) = memchr::memchr(b'\n', &self.feed.buf()[m..]) else {
            return false;
        };
        self.eof_resyncs += 1;
        self.feed.set_pos(m + i + 1);
        self.line = start_line + 1;
        true
    }

    /// At a top-level `{`: is it a `{"value":[…]}` / `{"records":[…]}` envelope? If so, enter
    /// its array; otherwise leave the position unchanged.
    fn try_envelope(&mut self) -> Envelope {
        let line = self.line;
        self.mark = Some(self.feed.pos());
        self.bump();
        let found = loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                break false;
            }
            self.bump();
            let key_start = self.feed.pos();
            if self.skip_string().is_err() {
                break false;
            }
            let key_end = self.feed.pos().saturating_sub(1);
            let key: Vec<u8> = self
                .feed
                .buf()
                .get(key_start..key_end)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
            self.skip_ws();
            if self.peek() != Some(b':') {
                break false;
            }
            self.bump();
            self.skip_ws();
            if key.starts_with(b"@") {
                if self.skip_value().is_err() {
                    break false;
                }
                self.skip_ws();
                if self.peek() == Some(b',') {
                    self.bump();
                    continue;
                }
                break false;
            }
            break (key == b"value" || key == b"records") && self.peek() == Some(b'[');
        };
        if self.oversize || self.mark.is_none() {
            self.mark = None;
            self.oversize = false;
            return Envelope::Oversize;
        }
        if found {
            self.bump();
            self.mark = None;
            self.state = State::Array {
                index: 0,
                envelope: true,
                need_value: true,
            };
            return Envelope::Entered;
        }
        if let Some(m) = self.mark {
            self.feed.set_pos(m);
        }
        self.line = line;
        Envelope::No
    }

    fn step(&mut self, batch: &mut Batch) {
        match self.state {
            State::Top => {
                self.skip_ws();
                match self.peek() {
                    None => self.finish(batch),
                    Some(b'[') => {
                        self.bump();
                        self.name = "json-array";
                        self.state = State::Array {
                            index: 0,
                            envelope: false,
                            need_value: true,
                        };
                    }
                    Some(b'{') => {
                        let line = self.line;
                        match self.try_envelope() {
                            Envelope::Entered => {}
                            Envelope::No => self.frame_record(line, batch),
                            Envelope::Oversize => {
                                batch.items.push(Item::Error(FrameError::new(
                                    line,
                                    format!(
                                        "record larger than {} bytes",
                                        self.limits.max_record_bytes
                                    ),
                                )));
                                self.state = State::EnvelopeTail;
                            }
                        }
                    }
                    Some(b) => {
                        batch.items.push(Item::Error(FrameError::new(
                            self.line,
                            format!(
                                "unexpected {:?} outside any record (expected '{{' or '[')",
                                char::from(b)
                            ),
                        )));
                        // Resynchronise at the next line.
                        while let Some(c) = self.next() {
                            if c == b'\n' {
                                self.line += 1;
                                break;
                            }
                        }
                    }
                }
            }
            State::Array {
                index,
                envelope,
                need_value,
            } => {
                self.skip_ws();
                match self.peek() {
                    None => {
                        batch.items.push(Item::Error(FrameError::new(
                            index + 1,
                            "input ends inside the array (truncated?)",
                        )));
                        self.finish(batch);
                    }
                    Some(b']') => {
                        self.bump();
                        self.state = if envelope {
                            State::EnvelopeTail
                        } else {
                            State::Top
                        };
                    }
                    Some(b',') => {
                        self.bump();
                        self.state = State::Array {
                            index,
                            envelope,
                            need_value: true,
                        };
                    }
                    Some(_) => {
                        let _ = need_value;
                        let index = index + 1;
                        self.state = State::Array {
                            index,
                            envelope,
                            need_value: false,
                        };
                        self.frame_record(index, batch);
                    }
                }
            }
            State::EnvelopeTail => {
                self.skip_ws();
                match self.peek() {
                    None => self.finish(batch),
                    Some(b'}') => {
                        self.bump();
                        self.state = State::Top;
                    }
                    Some(b',' | b':') => self.bump(),
                    Some(_) => {
                        if self.skip_value().is_err() {
                            self.state = State::Top;
                        }
                    }
                }
            }
        }
    }

    fn finish(&mut self, batch: &mut Batch) {
        if !self.done
            && let Some(e) = self.feed.take_error()
        {
            batch.items.push(Item::Error(FrameError::new(
                self.line,
                format!("input ends early: {e}"),
            )));
        }
        self.done = true;
    }
}

impl Framer for JsonFramer {
    fn name(&self) -> &'static str {
        self.name
    }

    fn recycle(&mut self, batch: Batch) {
        self.spares.put(batch);
    }

    fn next_batch(&mut self) -> Option<Batch> {
        if self.done {
            return None;
        }
        let mut batch = self.spares.take();
        while !self.done && batch.data.len() < BATCH_BYTES && batch.items.len() < BATCH_ITEMS {
            self.step(&mut batch);
        }
        if batch.items.is_empty() && self.done {
            return None;
        }
        Some(batch)
    }
}

/// Does `bytes` hold exactly one complete JSON object or array (plus whitespace)?
pub(crate) fn completes_value(bytes: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    let mut in_str = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            match b {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth == 0 {
                        return false;
                    }
                    depth -= 1;
                    if depth == 0 {
                        return bytes[i + 1..].iter().all(u8::is_ascii_whitespace);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    false
}

/// The deepest nesting of arrays/objects in `bytes`, stopping once past `limit`.
pub(crate) fn depth_exceeds(bytes: &[u8], limit: usize) -> bool {
    // Cheap bound first: fewer openers than the limit cannot nest deeper.
    // Counted per 255-byte chunk in a byte accumulator, which the compiler vectorises.
    let mut openers = 0usize;
    for chunk in bytes.chunks(255) {
        openers += usize::from(
            chunk
                .iter()
                .fold(0u8, |n, &b| n + u8::from((b | 0x20) == b'{')),
        );
    }
    if openers <= limit {
        return false;
    }
    let mut depth = 0usize;
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            match b {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_str = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > limit {
                        return true;
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Framed, push_items};

    /// Hands out one byte per read: every buffer boundary falls everywhere once.
    struct Trickle(Vec<u8>, usize);

    impl std::io::Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.get(self.1), buf.first_mut()) {
                (Some(&b), Some(slot)) => {
                    *slot = b;
                    self.1 += 1;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn frame_with(feed: Feed) -> Framed {
        let mut f = JsonFramer::new(feed, Limits::default());
        let mut out = Vec::new();
        while let Some(b) = f.next_batch() {
            push_items(b, &mut out);
        }
        out
    }

    #[test]
    fn buffer_boundaries_anywhere_frame_the_same() {
        let text = "[{\"a\":\"x\\\"}]\\\\\",\"b\":[1,{\"c\":\"\\\\\"}]},\n{\"d\":\n[\"]\"]},\n\"s\",\n7,\n{\"e\":{\"f\":1}}]\n{\"g\":\"h\"}\n{\"cut\":\"";
        let whole = frame(text);
        let trickled = frame_with(Feed::new(Box::new(Trickle(text.as_bytes().to_vec(), 0))));
        assert_eq!(whole, trickled);
        assert_eq!(
            whole[0],
            Ok((
                1,
                "{\"a\":\"x\\\"}]\\\\\",\"b\":[1,{\"c\":\"\\\\\"}]}".into()
            ))
        );
        assert_eq!(whole[1], Ok((2, "{\"d\":\n[\"]\"]}".into())));
        assert_eq!(whole[4], Ok((5, "{\"e\":{\"f\":1}}".into())));
        assert_eq!(whole[5], Ok((7, "{\"g\":\"h\"}".into())));
        assert!(
            matches!(&whole[6], Err((8, why)) if why.contains("unterminated") || why.contains("ends inside"))
        );
    }

    /// Strings that end in `:"` or `,"` (the next string is entered directly), those bytes
    /// inside strings, after escaped quotes and backslashes, before brackets and line feeds:
    /// the same records (and lines) whole and a byte per read.
    #[test]
    fn string_to_string_steps_frame_as_the_structure_says() {
        let recs = [
            r#"{"k":"v","k2":"v2"}"#,
            r#"{"a\":\"":"b\",\"","c":[":\"",",\""],"d":{"e":"}"}}"#,
            r#"{"x\\":"y\\","z":"\\\\","w":"]"}"#,
            "{\"n\":\"1\",\n\"m\":\n\"2\",\"l\":[\"[\",\n\"{\"]}",
            r#"{"":"","":[""],"q":""}"#,
        ];
        let text = format!("[{}]\n{{\"after\":\":\\\",\"}}\n", recs.join(",\n"));
        let whole = frame(&text);
        let trickled = frame_with(Feed::new(Box::new(Trickle(text.as_bytes().to_vec(), 0))));
        assert_eq!(whole, trickled);
        let mut want: Framed = recs
            .iter()
            .enumerate()
            .map(|(i, r)| Ok((i as u64 + 1, (*r).to_owned())))
            .collect();
        want.push(Ok((9, r#"{"after":":\","}"#.to_owned())));
        assert_eq!(whole, want);
    }

    fn frame(text: &str) -> Framed {
        frame_with(Feed::new(Box::new(std::io::Cursor::new(
            text.as_bytes().to_vec(),
        ))))
    }

    #[test]
    fn arrays_concatenated_objects_and_envelopes() {
        let r = frame("[{\"a\":1},\n {\"b\":\"x]\\\"\"}]");
        assert_eq!(
            r,
            vec![
                Ok((1, "{\"a\":1}".into())),
                Ok((2, "{\"b\":\"x]\\\"\"}".into()))
            ]
        );
        let r = frame("{\n \"a\": 1\n}\n{\"b\":2}\n");
        assert_eq!(
            r,
            vec![
                Ok((1, "{\n \"a\": 1\n}".into())),
                Ok((4, "{\"b\":2}".into()))
            ]
        );
        let r = frame(
            "{\"@odata.context\":\"x\",\"value\":[{\"id\":1},{\"id\":2}],\"@odata.nextLink\":\"n\"}",
        );
        assert_eq!(
            r,
            vec![Ok((1, "{\"id\":1}".into())), Ok((2, "{\"id\":2}".into()))]
        );
        let r = frame("{\"records\":[{\"id\":1}]}{\"x\":1}");
        assert_eq!(
            r,
            vec![Ok((1, "{\"id\":1}".into())), Ok((1, "{\"x\":1}".into()))]
        );
    }

    #[test]
    fn cut_and_broken_input_is_located() {
        let r = frame("[{\"a\":1},{\"b\":");
        assert_eq!(r[0], Ok((1, "{\"a\":1}".into())));
        assert!(matches!(&r[1], Err((2, why)) if why.contains("ends inside")));
        let r = frame("[{\"a\":1},]");
        assert_eq!(r, vec![Ok((1, "{\"a\":1}".into()))]);
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        let r = frame(&format!("{deep}\n{{\"ok\":1}}"));
        assert!(
            r.iter()
                .any(|x| matches!(x, Err((_, why)) if why.contains("nesting")))
        );
    }

    #[test]
    fn odd_whitespace_always_makes_progress() {
        let r = frame("[\x0c,1,\x0b]\x0c{\"a\":1}");
        assert!(r.len() <= 6, "{r:?}");
    }

    #[test]
    fn value_completion() {
        assert!(completes_value(b"{\"a\":\"}\"} "));
        assert!(!completes_value(b"{\"a\":"));
        assert!(!completes_value(b"{} {}"));
        assert!(depth_exceeds(&[b'['; 200], 128));
        assert!(!depth_exceeds(b"[[[\"[[[[[\"]]]", 4));
    }
}
