//! Framing: cutting a decompressed byte stream into records, within bounds.
//!
//! A framer hands out [`Batch`]es: one owned buffer plus the spans of the records in it (and
//! the framing errors, in their place in record order). Parsing and normalising the records of a
//! batch happens afterwards, in parallel.

pub(crate) mod csv;
pub(crate) mod feed;
pub(crate) mod json;
pub(crate) mod ndjson;

use std::io::Read;

use crate::options::{InputFormat, Limits};
use feed::Feed;

/// Bytes a framer gathers before handing out a batch.
pub(crate) const BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Records a framer gathers before handing out a batch (small records).
pub(crate) const BATCH_ITEMS: usize = 16 * 1024;

/// One framed item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A record's bytes `data[start..end]`; `line` is the 1-based line where it starts, or
    /// its 1-based element index inside a JSON array.
    Record {
        start: usize,
        end: usize,
        line: u64,
        /// The 1-based line of the file where the record's text starts.
        file_line: u64,
    },
    /// A record that could not be framed; counted and skipped.
    Error(FrameError),
}

/// A framing error, before the file name is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameError {
    pub(crate) line: u64,
    pub(crate) field: Option<String>,
    pub(crate) reason: String,
}

impl FrameError {
    pub(crate) fn new(line: u64, reason: impl Into<String>) -> Self {
        FrameError {
            line,
            field: None,
            reason: reason.into(),
        }
    }
}

/// A buffer of records.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) data: Vec<u8>,
    pub(crate) items: Vec<Item>,
}

/// Cuts a stream into batches.
pub(crate) trait Framer: Send {
    /// The next batch, or `None` at the end of the input.
    fn next_batch(&mut self) -> Option<Batch>;
    /// The framing's name for statistics (`ndjson`, `json`, `json-array`, `csv`, …).
    fn name(&self) -> &'static str;
    /// For CSV: the header row.
    fn header(&self) -> Option<&[String]> {
        None
    }
    /// Take back a processed batch, to frame a later batch into its buffers (fresh 4 MiB
    /// buffers, and item lists grown item by item, cost page faults and zeroing on every batch).
    fn recycle(&mut self, batch: Batch);
}

/// Spare batches (their buffers) a framer keeps.
#[derive(Debug, Default)]
pub(crate) struct Spares(Vec<Batch>);

impl Spares {
    const KEEP: usize = 4;

    pub(crate) fn put(&mut self, mut batch: Batch) {
        if self.0.len() < Self::KEEP
            && batch.data.capacity() <= 4 * BATCH_BYTES
            && batch.items.capacity() <= 4 * BATCH_ITEMS
        {
            batch.items.clear();
            self.0.push(batch);
        }
    }

    /// An empty batch (recycled when one is spare).
    pub(crate) fn take(&mut self) -> Batch {
        let mut batch = self.take_dirty();
        batch.data.clear();
        batch
    }

    /// A batch with no items whose buffer still holds the bytes of an earlier batch, for a
    /// framer that reads over them (a cleared buffer would be zeroed again before each read).
    pub(crate) fn take_dirty(&mut self) -> Batch {
        self.0.pop().unwrap_or_default()
    }
}

/// The index of the first `x` or `y` in `b`, eight bytes at a time: the text between quotes
/// and escapes in audit records is short, where a call into a SIMD search costs more than it
/// saves.
#[inline]
pub(crate) fn find2(b: &[u8], x: u8, y: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // High bit of each byte of `t` that is zero (exact: no carries between bytes).
    let zero = |t: u64| !(((t & LOW7) + LOW7) | t) & !LOW7;
    let mut i = 0;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
        let hit = zero(w ^ (LO * u64::from(x))) | zero(w ^ (LO * u64::from(y)));
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..].iter().position(|&c| c == x || c == y).map(|p| i + p)
}

/// How the stream is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Ndjson,
    Json,
    Csv,
}

/// Choose the framing from the first bytes (or the forced format) and build the framer.
pub(crate) fn framer_for(
    reader: Box<dyn Read + Send>,
    forced: InputFormat,
    limits: Limits,
) -> Box<dyn Framer> {
    let mut feed = Feed::new(reader);
    feed.skip_bom();
    let framing = match forced {
        InputFormat::Ndjson => Framing::Ndjson,
        InputFormat::Json => Framing::Json,
        InputFormat::Csv | InputFormat::PurviewCsv => Framing::Csv,
        _ => sniff(&mut feed, &limits),
    };
    match framing {
        Framing::Ndjson => Box::new(ndjson::NdjsonFramer::new(feed, limits)),
        Framing::Json => Box::new(json::JsonFramer::new(feed, limits)),
        Framing::Csv => Box::new(csv::CsvFramer::new(feed, limits)),
    }
}

/// Look at the start of the stream: `[` → JSON; `{` with a complete object on one of the first
/// lines (starting in column 0) → NDJSON, otherwise JSON (pretty-printed or concatenated); anything else with a comma on the first line → CSV; else NDJSON
/// (each line then becomes a record or a located error).
fn sniff(feed: &mut Feed, limits: &Limits) -> Framing {
    // Gather the first lines (bounded).
    let probe = limits.max_record_bytes.min(1 << 20);
    loop {
        let avail = feed.available();
        if memchr::memchr_iter(b'\n', avail).take(SNIFF_LINES).count() >= SNIFF_LINES
            || avail.len() >= probe
        {
            break;
        }
        if feed.read_more(probe) == 0 {
            break;
        }
    }
    let avail = feed.available();
    let Some(first) = avail.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Framing::Ndjson;
    };
    match avail[first] {
        b'[' => Framing::Json,
        b'{' => {
            if ndjson_lines(&avail[first..], feed.is_eof()) {
                Framing::Ndjson
            } else {
                Framing::Json
            }
        }
        _ => {
            let line = match memchr::memchr(b'\n', avail) {
                Some(e) => &avail[..e],
                None => avail,
            };
            // A broken first line in front of JSON lines is not a CSV header.
            let after_first =
                memchr::memchr(b'\n', avail).map_or(&avail[avail.len()..], |i| &avail[i + 1..]);
            let json_follows =
                after_first.first() == Some(&b'{') && ndjson_lines(after_first, feed.is_eof());
            if !json_follows
                && memchr::memchr(b',', line).is_some()
                && line.iter().any(u8::is_ascii_alphabetic)
            {
                Framing::Csv
            } else {
                Framing::Ndjson
            }
        }
    }
}

/// Lines examined when telling NDJSON from pretty-printed JSON.
const SNIFF_LINES: usize = 16;

/// Does one of the first lines hold a whole object, starting in column 0 (and the first line is
/// not a lone `{`)?
fn ndjson_lines(text: &[u8], eof: bool) -> bool {
    let first = memchr::memchr(b'\n', text).map_or(text, |i| &text[..i]);
    if first.trim_ascii() == b"{" {
        // A lone opening brace: pretty-printed JSON.
        return false;
    }
    let mut rest = text;
    for _ in 0..SNIFF_LINES {
        let (line, next, complete) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], eof),
        };
        if complete && line.first() == Some(&b'{') && json::completes_value(line) {
            return true;
        }
        if next.is_empty() {
            return false;
        }
        rest = next;
    }
    false
}

/// Framed records as text (`Ok((line, text))`) and framing errors (`Err((line, reason))`).
#[cfg(test)]
pub(crate) type Framed = Vec<Result<(u64, String), (u64, String)>>;

/// Append the items of a batch to `out`, records as text (tests of the framers).
#[cfg(test)]
pub(crate) fn push_items(b: Batch, out: &mut Framed) {
    for it in b.items {
        match it {
            Item::Record {
                start, end, line, ..
            } => out.push(Ok((
                line,
                String::from_utf8_lossy(b.data.get(start..end).unwrap_or_default()).into_owned(),
            ))),
            Item::Error(e) => out.push(Err((e.line, e.reason))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find2_agrees_with_a_plain_search() {
        let text = b"abc\\defgh\"ijklmnopq\"rs\\\\tuvwxyz0123456789\"";
        for start in 0..text.len() {
            let b = &text[start..];
            let want = b.iter().position(|&c| c == b'"' || c == b'\\');
            assert_eq!(find2(b, b'"', b'\\'), want, "{start}");
            let want = b.iter().position(|&c| c == b'z');
            assert_eq!(find2(b, b'z', b'z'), want, "{start}");
        }
        // Bytes with the high bit set are not mistaken for the ones searched.
        assert_eq!(
            find2(
                &[0xa2, 0xdc, 0x80, 0xff, 0x22 + 0x80, 1, 2, 3, b'"'],
                b'"',
                b'\\'
            ),
            Some(8)
        );
    }
}
