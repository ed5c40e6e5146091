//! Finding tokens in logs, HAR files and proxy captures (plain or gzip), and judging each one at
//! the time of the record it was found in.
//!
//! A token is three base64url segments joined by dots whose first segment starts `eyJ` (a JSON
//! object). Its event time is the nearest ISO-8601 timestamp before it on the same line, else the
//! first after it on that line, else the last one seen on the preceding lines of the same file
//! (within [`ScanOptions::context_lines`]): in a HAR file that is the entry's `startedDateTime`.
//! With no timestamp near it, the token is judged at its own `iat`.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use memchr::memmem;
use serde::Serialize;
use stormwatch_core::{Location, Timestamp};

use crate::cache::SignatureCache;
use crate::error::{Result, TokenError};
use crate::registry::Registry;
use crate::token::redact;
use crate::verdict::{Verdict, VerdictKind};
use crate::verify::{VerifyOptions, verify_cached};

/// Longest line kept whole; longer lines are cut there (and counted).
pub const MAX_LINE_LEN: usize = 16 * 1024 * 1024;

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Base verification options; `at` is replaced by each token's event time.
    pub verify: VerifyOptions,
    /// How many lines back a timestamp may be to count as the token's record time.
    pub context_lines: u64,
    /// Keep full tokens in findings (default: the signature is redacted).
    pub show_tokens: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            verify: VerifyOptions::default(),
            context_lines: 200,
            show_tokens: false,
        }
    }
}

/// Where a finding's event time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// A timestamp on the token's own line.
    SameLine,
    /// A timestamp on a preceding line of the same record.
    NearbyLine,
    /// No timestamp near it: the token's `iat` (or now).
    Token,
}

/// One token found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// File and line.
    pub location: Location,
    /// The token, its signature redacted unless asked otherwise.
    pub token: String,
    /// The record time it was judged at, when one was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_time: Option<Timestamp>,
    /// Where the event time came from.
    pub time_source: TimeSource,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Totals of a scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanStats {
    /// Files read.
    pub files: u64,
    /// Lines read.
    pub lines: u64,
    /// Tokens found.
    pub tokens: u64,
    /// Tokens judged valid.
    pub valid: u64,
    /// Tokens judged forged.
    pub forged: u64,
    /// Tokens judged invalid.
    pub invalid: u64,
    /// Tokens whose key is unknown.
    pub unknown_key: u64,
    /// Signature checks computed.
    pub signatures_verified: u64,
    /// Signature checks answered from the cache (the same token seen again).
    pub signatures_cached: u64,
    /// Lines cut at [`MAX_LINE_LEN`].
    pub truncated_lines: u64,
    /// Files that could not be read, with the reason.
    pub errors: Vec<String>,
}

impl ScanStats {
    fn count(&mut self, v: VerdictKind) {
        self.tokens += 1;
        match v {
            VerdictKind::Valid => self.valid += 1,
            VerdictKind::Forged => self.forged += 1,
            VerdictKind::Invalid => self.invalid += 1,
            VerdictKind::UnknownKey => self.unknown_key += 1,
        }
    }
}

/// Scan one file (gzip is detected by its magic bytes). Findings go to `sink` as they are made.
///
/// # Errors
/// [`TokenError::Io`] when the file cannot be opened or read.
pub fn scan_path(
    path: &Path,
    registry: &Registry,
    opts: &ScanOptions,
    stats: &mut ScanStats,
    sink: &mut dyn FnMut(Finding),
) -> Result<()> {
    let io = |source| TokenError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = BufReader::with_capacity(256 * 1024, std::fs::File::open(path).map_err(io)?);
    let gz = file.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let name: Arc<str> = Arc::from(path.display().to_string());
    if gz {
        let dec = BufReader::with_capacity(256 * 1024, flate2::read::MultiGzDecoder::new(file));
        scan_reader(dec, &name, registry, opts, stats, sink).map_err(io)
    } else {
        scan_reader(file, &name, registry, opts, stats, sink).map_err(io)
    }
}

/// Scan a reader whose lines are reported as `file`.
///
/// # Errors
/// The I/O error that stopped reading.
pub fn scan_reader<R: BufRead>(
    mut reader: R,
    file: &Arc<str>,
    registry: &Registry,
    opts: &ScanOptions,
    stats: &mut ScanStats,
    sink: &mut dyn FnMut(Finding),
) -> std::io::Result<()> {
    stats.files += 1;
    let mut cache = SignatureCache::default();
    let mut line = Vec::with_capacity(4096);
    let mut line_no: u64 = 0;
    let mut last_time: Option<(Timestamp, u64)> = None;
    let finder = memmem::Finder::new(b"eyJ");
    loop {
        line.clear();
        let Some(truncated) = read_line_bounded(&mut reader, &mut line, MAX_LINE_LEN)? else {
            break;
        };
        line_no += 1;
        stats.lines += 1;
        if truncated {
            stats.truncated_lines += 1;
        }
        let times = timestamps(&line);
        let mut pos = 0;
        while let Some(off) = finder.find(line.get(pos..).unwrap_or_default()) {
            let start = pos + off;
            pos = start + 3;
            let Some(end) = token_end(&line, start) else {
                continue;
            };
            pos = end;
            let text = String::from_utf8_lossy(line.get(start..end).unwrap_or_default());
            let (event_time, time_source) =
                pick_time(&times, start, last_time, line_no, opts.context_lines);
            let mut vo = opts.verify.clone();
            vo.at = event_time;
            vo.at_source = match time_source {
                TimeSource::SameLine => format!("time of the record at {file}:{line_no}"),
                TimeSource::NearbyLine => format!("time of the record before {file}:{line_no}"),
                TimeSource::Token => "--at".to_owned(),
            };
            let verdict = verify_cached(&text, registry, &vo, Some(&mut cache));
            stats.count(verdict.verdict);
            sink(Finding {
                location: Location {
                    file: Arc::clone(file),
                    line: line_no,
                    record_id: None,
                },
                token: if opts.show_tokens {
                    text.into_owned()
                } else {
                    redact(&text)
                },
                event_time,
                time_source,
                verdict,
            });
        }
        if let Some(&(t, _)) = times.last() {
            last_time = Some((t, line_no));
        }
    }
    stats.signatures_verified += cache.misses;
    stats.signatures_cached += cache.hits;
    Ok(())
}

fn pick_time(
    times: &[(Timestamp, usize)],
    at: usize,
    last: Option<(Timestamp, u64)>,
    line_no: u64,
    context: u64,
) -> (Option<Timestamp>, TimeSource) {
    if let Some(&(t, _)) = times
        .iter()
        .rev()
        .find(|(_, p)| *p < at)
        .or_else(|| times.first())
    {
        return (Some(t), TimeSource::SameLine);
    }
    match last {
        Some((t, l)) if line_no.saturating_sub(l) <= context => (Some(t), TimeSource::NearbyLine),
        _ => (None, TimeSource::Token),
    }
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The end of a compact JWS starting at `start`, when one starts there.
fn token_end(line: &[u8], start: usize) -> Option<usize> {
    if start > 0 {
        let prev = *line.get(start - 1)?;
        if is_b64url(prev) || prev == b'.' {
            return None;
        }
    }
    let run = |from: usize| {
        let mut i = from;
        while line.get(i).is_some_and(|b| is_b64url(*b)) {
            i += 1;
        }
        i
    };
    let h_end = run(start);
    if line.get(h_end) != Some(&b'.') {
        return None;
    }
    let p_end = run(h_end + 1);
    if p_end < h_end + 3 || line.get(p_end) != Some(&b'.') {
        return None;
    }
    let s_end = run(p_end + 1);
    // A fourth dot means a JWE (five parts) or something else: not a signed token.
    if line.get(s_end) == Some(&b'.') && line.get(s_end + 1).is_some_and(|b| is_b64url(*b)) {
        return None;
    }
    Some(s_end)
}

/// ISO-8601 timestamps on a line, with their byte offsets.
fn timestamps(line: &[u8]) -> Vec<(Timestamp, usize)> {
    let mut out = Vec::new();
    let d = |i: usize| line.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| line.get(i) == Some(&c);
    let mut i = 0;
    while i + 19 <= line.len() {
        let core = d(i)
            && d(i + 1)
            && d(i + 2)
            && d(i + 3)
            && at(i + 4, b'-')
            && d(i + 5)
            && d(i + 6)
            && at(i + 7, b'-')
            && d(i + 8)
            && d(i + 9)
            && (at(i + 10, b'T') || at(i + 10, b' '))
            && d(i + 11)
            && d(i + 12)
            && at(i + 13, b':')
            && d(i + 14)
            && d(i + 15)
            && at(i + 16, b':')
            && d(i + 17)
            && d(i + 18);
        if !core || (i > 0 && d(i - 1)) {
            i += 1;
            continue;
        }
        let mut end = i + 19;
        if at(end, b'.') {
            end += 1;
            while d(end) && end < i + 30 {
                end += 1;
            }
        }
        if at(end, b'Z') {
            end += 1;
        } else if (at(end, b'+') || at(end, b'-')) && d(end + 1) && d(end + 2) {
            let colon = usize::from(at(end + 3, b':'));
            if d(end + 3 + colon) && d(end + 4 + colon) {
                end += 5 + colon;
            }
        }
        if let Some(t) = std::str::from_utf8(line.get(i..end).unwrap_or_default())
            .ok()
            .and_then(|s| Timestamp::parse(s).ok())
        {
            out.push((t, i));
        }
        i = end;
    }
    out
}

/// Read one line (without the newline) into `buf`, keeping at most `max` bytes.
/// `None` at end of input; `Some(true)` when the line was cut.
fn read_line_bounded<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    let mut truncated = false;
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(truncated));
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if take > room {
            truncated = true;
        }
        buf.extend_from_slice(chunk.get(..take.min(room)).unwrap_or_default());
        let consumed = if done { take + 1 } else { take };
        r.consume(consumed);
        if done {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(truncated));
        }
    }
}

/// Read everything from a reader into a string with a limit (for `verify -` and `@FILE`).
///
/// # Errors
/// The I/O error, or `InvalidData` when the input is longer than `max`.
pub fn read_limited<R: Read>(r: R, max: u64) -> std::io::Result<String> {
    let mut out = Vec::new();
    r.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("input larger than {max} bytes"),
        ));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_boundaries() {
        let l = b"Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ.c2ln rest";
        let s = memmem::find(l, b"eyJ").unwrap();
        let e = token_end(l, s).unwrap();
        assert_eq!(&l[s..e], b"eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ.c2ln");
        assert!(token_end(b"xeyJa.bcd.e", 1).is_none());
        assert!(token_end(b"eyJa.bcd.e.f.g", 0).is_none());
        assert!(token_end(b"eyJa", 0).is_none());
    }

    #[test]
    fn timestamps_on_a_line() {
        let t = timestamps(br#"{"t":"2023-06-12T03:14:07.1234567Z","u":"2023-06-12 03:14:08+02:00", "n": 12023-01-01T00:00:00}"#);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].0.to_string(), "2023-06-12T03:14:07.1234567Z");
        assert_eq!(t[1].0.to_string(), "2023-06-12T01:14:08Z");
    }

    #[test]
    fn bounded_lines() {
        let mut r = std::io::Cursor::new(b"abcdef\r\nxy".to_vec());
        let mut b = Vec::new();
        assert_eq!(read_line_bounded(&mut r, &mut b, 3).unwrap(), Some(true));
        assert_eq!(b, b"abc");
        b.clear();
        assert_eq!(read_line_bounded(&mut r, &mut b, 3).unwrap(), Some(false));
        assert_eq!(b, b"xy");
        b.clear();
        assert_eq!(read_line_bounded(&mut r, &mut b, 3).unwrap(), None);
    }
}
