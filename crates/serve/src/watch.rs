//! Watched folders: every file is read once, from a durable position.
//!
//! A file is known by its device and inode and a hash of its first bytes (a reused inode is a
//! new file). Line-delimited files (NDJSON) are followed as they grow, a chunk of whole lines
//! at a time; a file that shrinks was truncated and is read again from its start; a file
//! renamed (rotated) keeps its position. Compressed files (gzip, zstd) are read once they have
//! not changed for the settle time, decompressed as a stream (line-delimited content in
//! chunks, a position kept in decompressed bytes). Other shapes (JSON arrays and envelopes,
//! CSV, pretty-printed JSON) are read whole once settled. Each chunk and its new position are
//! committed in one transaction.

use std::io::{Read, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest as _, Sha256};
use stormwatch_core::{Location, RecordError};
use stormwatch_store::{Store, WatchFile};
use tokio::sync::oneshot;

use crate::config::WatchConfig;
use crate::journal::{Append, JournalTx, Kind};
use crate::metrics::Metrics;

/// Most bytes read into one chunk of a line-delimited file.
const CHUNK: usize = 8 << 20;
/// Bytes of a file's start hashed to know it again.
const HEAD: u64 = 1024;
/// Folder entries looked at in one pass at most.
const MAX_FILES: usize = 100_000;
/// Watched files' entries are refreshed this often, so that entries of files still present
/// are never forgotten.
const TOUCH_EVERY: Duration = Duration::from_secs(3600);

/// One watched folder's thread.
pub(crate) struct Watcher {
    pub(crate) cfg: WatchConfig,
    pub(crate) store: Store,
    pub(crate) journal: JournalTx,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) format: Option<stormwatch_read::InputFormat>,
    last_touch: Option<Instant>,
}

/// What a file holds, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One JSON object per line.
    Lines,
    /// Anything else: read whole.
    Whole,
}

/// A `*` / `?` pattern matched against a file name.
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Names read when no `include` is given: the reader's log extensions (after a compression
/// suffix), or no extension.
fn is_log_name(name: &str) -> bool {
    const EXT: &[&str] = &[
        "json", "jsonl", "ndjson", "csv", "log", "txt", "gz", "zst", "zstd",
    ];
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        None => true,
        Some(e) => EXT.iter().any(|k| e.eq_ignore_ascii_case(k)),
    }
}

fn head_hash(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes)[..16].to_vec()
}

fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

fn compressed(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// Line-delimited when the first non-blank byte opens an object and the first line is one
/// whole JSON object.
fn shape_of(start: &[u8]) -> Shape {
    let text = start.trim_ascii_start();
    if !text.starts_with(b"{") {
        return Shape::Whole;
    }
    let Some(nl) = memchr_nl(text) else {
        return Shape::Whole;
    };
    if serde_json::from_slice::<serde::de::IgnoredAny>(&text[..nl]).is_ok() {
        Shape::Lines
    } else {
        Shape::Whole
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Open a file's decompressed stream.
fn open_stream(path: &Path) -> std::io::Result<(Box<dyn Read>, bool)> {
    let mut f = std::fs::File::open(path)?;
    let mut head = [0u8; 4];
    let n = read_up_to(&mut f, &mut head)?;
    f.seek(SeekFrom::Start(0))?;
    let buffered = std::io::BufReader::with_capacity(256 << 10, f);
    if head[..n].starts_with(&[0x1f, 0x8b]) {
        Ok((
            Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
            true,
        ))
    } else if head[..n].starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok((
            Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
            true,
        ))
    } else {
        Ok((Box::new(buffered), false))
    }
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn file_error(name: &str, line: u64, reason: String) -> RecordError {
    RecordError {
        loc: Location {
            file: Arc::from(name),
            line,
            record_id: None,
        },
        field: None,
        reason,
    }
}

impl Watcher {
    pub(crate) fn new(
        cfg: WatchConfig,
        store: Store,
        journal: JournalTx,
        metrics: Arc<Metrics>,
        stop: Arc<AtomicBool>,
        default_format: Option<stormwatch_read::InputFormat>,
    ) -> Watcher {
        let format = cfg.format.or(default_format);
        Watcher {
            cfg,
            store,
            journal,
            metrics,
            stop,
            format,
            last_touch: None,
        }
    }

    /// Look at the folder every poll interval until stopped.
    pub(crate) fn run(mut self) {
        tracing::info!(message = "Watching a folder.", path = %self.cfg.path.display(), source = %self.cfg.source);
        while !self.stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            if let Err(e) = self.pass() {
                tracing::warn!(message = "Folder watch pass failed.", path = %self.cfg.path.display(), error = %e);
            }
            while started.elapsed() < self.cfg.poll_interval && !self.stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50).min(self.cfg.poll_interval));
            }
        }
    }

    fn wanted(&self, name: &str) -> bool {
        if name.starts_with('.') {
            return false;
        }
        if self.cfg.exclude.iter().any(|p| glob(p, name)) {
            return false;
        }
        if self.cfg.include.is_empty() {
            is_log_name(name)
        } else {
            self.cfg.include.iter().any(|p| glob(p, name))
        }
    }

    /// The folder's files: those to read, and others (a file renamed by rotation to a name
    /// not read, such as `audit.ndjson.1`, is still read to its end).
    fn list(&self, dir: &Path, out: &mut Vec<PathBuf>, others: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if out.len() >= MAX_FILES {
                return;
            }
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                if self.cfg.recursive && !name.starts_with('.') {
                    self.list(&p, out, others);
                }
            } else if meta.is_file() {
                if self.wanted(&name) {
                    out.push(p);
                } else if others.len() < MAX_FILES {
                    others.push(p);
                }
            }
        }
    }

    /// One look at the folder.
    pub(crate) fn pass(&mut self) -> Result<(), crate::ServeError> {
        let mut files = Vec::new();
        let mut others = Vec::new();
        self.list(&self.cfg.path.clone(), &mut files, &mut others);
        for p in others {
            // Followed under its new name when it is a file being followed.
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            let (dev, ino) = file_id(&meta);
            if self
                .store
                .read()
                .watch_file(dev, ino)?
                .is_some_and(|k| !k.done && k.source == self.cfg.source)
            {
                files.push(p);
            }
        }
        self.metrics
            .watched_files
            .store(files.len() as u64, Ordering::Relaxed);
        let touch = self.last_touch.is_none_or(|t| t.elapsed() >= TOUCH_EVERY);
        for path in files {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            if let Err(e) = self.file(&path, touch) {
                tracing::warn!(message = "Watched file could not be read.", path = %path.display(), error = %e);
            }
        }
        if touch {
            self.last_touch = Some(Instant::now());
        }
        Ok(())
    }

    /// Read what is new in one file.
    fn file(&mut self, path: &Path, touch: bool) -> Result<(), crate::ServeError> {
        let meta = std::fs::metadata(path)
            .map_err(crate::ServeError::io(format!("{}", path.display())))?;
        let (dev, ino) = file_id(&meta);
        let size = meta.len();
        let mtime = mtime_ns(&meta);
        let settled = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= self.cfg.settle);
        let mut head = vec![0u8; usize::try_from(size.min(HEAD)).unwrap_or(0)];
        {
            let mut f = std::fs::File::open(path)
                .map_err(crate::ServeError::io(format!("{}", path.display())))?;
            let n = read_up_to(&mut f, &mut head)
                .map_err(crate::ServeError::io(format!("{}", path.display())))?;
            head.truncate(n);
        }
        let known = self.store.read().watch_file(dev, ino)?;
        let same = known.as_ref().is_some_and(|k| {
            usize::try_from(k.head_len).is_ok_and(|l| l <= head.len())
                && head_hash(&head[..usize::try_from(k.head_len).unwrap_or(0)]) == k.head_hash
        });
        let name = path.display().to_string();
        let mut state = match known {
            Some(k) if same => {
                if touch {
                    self.store.read().touch_watch_file(dev, ino)?;
                }
                if k.done {
                    if k.size == size && k.mtime == mtime {
                        return Ok(());
                    }
                    // Changed after it was read whole: read it again (records already
                    // accepted are recognised by their ids).
                    fresh(dev, ino, &name, &self.cfg.source)
                } else if size < k.offset && !compressed(&head) {
                    tracing::info!(message = "Watched file was truncated; reading it from its start.", path = %name);
                    fresh(dev, ino, &name, &self.cfg.source)
                } else {
                    WatchFile {
                        path: name.clone(),
                        ..k
                    }
                }
            }
            _ => fresh(dev, ino, &name, &self.cfg.source),
        };
        state.head_len = head.len() as u64;
        state.head_hash = head_hash(&head);
        state.size = size;
        state.mtime = mtime;
        let is_compressed = compressed(&head);
        if is_compressed && !settled {
            return Ok(());
        }
        if !is_compressed && state.offset == size && state.offset > 0 {
            return Ok(());
        }
        self.read_from(path, &name, state, settled, is_compressed)
    }

    fn read_from(
        &mut self,
        path: &Path,
        name: &str,
        mut state: WatchFile,
        settled: bool,
        is_compressed: bool,
    ) -> Result<(), crate::ServeError> {
        let io = |what: &str| crate::ServeError::io(format!("{what} {}", path.display()));
        let (mut stream, _) = open_stream(path).map_err(io("opening"))?;
        // Skip to the position (decompressed bytes).
        let skip = state.offset;
        let skipped = std::io::copy(&mut (&mut stream).take(skip), &mut std::io::sink());
        match skipped {
            Ok(n) if n == skip => {}
            Ok(_) | Err(_) if is_compressed => {
                // A compressed file that changed under us or is corrupt: read it again whole.
                state = fresh(state.dev, state.ino, name, &self.cfg.source);
                let (s, _) = open_stream(path).map_err(io("opening"))?;
                stream = s;
            }
            Ok(_) => return Ok(()),
            Err(e) => return Err(io("reading")(e)),
        }
        let mut buf = vec![0u8; CHUNK];
        let mut carry: Vec<u8> = Vec::new();
        let mut shape = if state.offset > 0 {
            Some(Shape::Lines)
        } else {
            None
        };
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let room = CHUNK.saturating_sub(carry.len()).max(1);
            let n = match read_up_to(&mut stream, &mut buf[..room]) {
                Ok(n) => n,
                Err(e) => {
                    // A truncated or corrupt compressed file: what was read is kept, the rest
                    // is reported.
                    if is_compressed {
                        let err = file_error(
                            name,
                            state.line + 1,
                            format!("cannot decompress the rest of the file: {e}"),
                        );
                        state.done = true;
                        return self.send(
                            &state,
                            Vec::new(),
                            Vec::new(),
                            vec![err],
                            state.line + 1,
                            0,
                        );
                    }
                    return Err(io("reading")(e));
                }
            };
            carry.extend_from_slice(&buf[..n]);
            let eof = n < room;
            let shape = *shape.get_or_insert_with(|| shape_of(&carry));
            if shape == Shape::Whole {
                if !settled {
                    return Ok(());
                }
                return self.whole(&mut stream, carry, name, state);
            }
            // Whole lines only, unless the file is complete.
            let cut = match carry.iter().rposition(|&c| c == b'\n') {
                Some(p) => p + 1,
                None if eof && (settled || is_compressed) => carry.len(),
                None if carry.len() >= CHUNK => carry.len(),
                None => 0,
            };
            if cut == 0 {
                return Ok(());
            }
            let rest = carry.split_off(cut);
            let chunk = std::mem::replace(&mut carry, rest);
            let lines = chunk.iter().filter(|&&c| c == b'\n').count() as u64
                + u64::from(chunk.last() != Some(&b'\n'));
            let first_line = state.line + 1;
            state.offset += chunk.len() as u64;
            state.line += lines;
            let done_now = is_compressed && eof && carry.is_empty();
            state.done = done_now;
            let stored = zstd::bulk::compress(&chunk, 1).unwrap_or_else(|_| chunk.clone());
            let bytes = chunk.len() as u64;
            self.send(&state, chunk, stored, Vec::new(), first_line, bytes)?;
            if eof && carry.is_empty() {
                return Ok(());
            }
            if eof && !carry.is_empty() {
                // An unterminated last line of a growing file: read once it is complete.
                return Ok(());
            }
        }
    }

    /// Read the rest of a non-line file whole (bounded) and send it.
    fn whole(
        &mut self,
        stream: &mut Box<dyn Read>,
        mut data: Vec<u8>,
        name: &str,
        mut state: WatchFile,
    ) -> Result<(), crate::ServeError> {
        let limit = self.cfg.max_whole_file;
        let more = stream
            .take(limit.saturating_add(1).saturating_sub(data.len() as u64))
            .read_to_end(&mut data);
        state.done = true;
        state.offset = data.len() as u64;
        if more.is_err() || data.len() as u64 > limit {
            let reason = match more {
                Err(e) => format!("cannot read the file: {e}"),
                Ok(_) => format!(
                    "the file is larger than watch.max_whole_file ({limit} bytes) and is not line-delimited: it was not read"
                ),
            };
            tracing::warn!(message = "Watched file not read.", path = %name, error = %reason);
            return self.send(
                &state,
                Vec::new(),
                Vec::new(),
                vec![file_error(name, 0, reason)],
                1,
                0,
            );
        }
        let stored = zstd::bulk::compress(&data, 1).unwrap_or_else(|_| data.clone());
        let bytes = data.len() as u64;
        self.send(&state, data, stored, Vec::new(), 1, bytes)
    }

    /// Parse a chunk and wait until it and the file's position are durable.
    fn send(
        &mut self,
        state: &WatchFile,
        chunk: Vec<u8>,
        stored: Vec<u8>,
        mut extra_errors: Vec<RecordError>,
        first_line: u64,
        bytes: u64,
    ) -> Result<(), crate::ServeError> {
        let parsed = if chunk.is_empty() {
            crate::ingest::Parsed::default()
        } else {
            crate::ingest::parse(&state.path, chunk, self.format, 1)?
        };
        let mut errors = parsed.errors;
        errors.append(&mut extra_errors);
        let (reply, rx) = oneshot::channel();
        let append = Append {
            id: None,
            source: self.cfg.source.clone(),
            kind: Kind::File,
            name: state.path.clone(),
            first_line,
            format: self.format,
            stored,
            bytes_received: bytes,
            skipped: parsed.skipped,
            records: crate::journal::Records::Events(parsed.events),
            errors,
            last_line: parsed.last_line,
            newest: parsed.newest,
            file: Some(state.clone()),
            reply: Some(reply),
        };
        self.journal
            .blocking_send(crate::journal::JournalMsg::Append(Box::new(append)))
            .map_err(|_| crate::ServeError::Stopped("journal writer"))?;
        match rx.blocking_recv() {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(crate::ServeError::Io {
                what: format!("{}: {e}", state.path),
                source: std::io::Error::other("not durable"),
            }),
            Err(_) => Err(crate::ServeError::Stopped("journal writer")),
        }
    }
}

fn fresh(dev: u64, ino: u64, path: &str, source: &str) -> WatchFile {
    WatchFile {
        dev,
        ino,
        path: path.to_owned(),
        source: source.to_owned(),
        head_len: 0,
        head_hash: Vec::new(),
        offset: 0,
        line: 0,
        size: 0,
        mtime: 0,
        done: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*.ndjson", "audit.ndjson"));
        assert!(glob("*.json.gz", "a.json.gz"));
        assert!(!glob("*.json.gz", "a.json"));
        assert!(glob("audit-??.log", "audit-01.log"));
        assert!(!glob("audit-??.log", "audit-1.log"));
        assert!(glob("*", "x"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXbY"));
    }

    #[test]
    fn shapes() {
        assert_eq!(shape_of(b"{\"a\":1}\n{\"b\":2}\n"), Shape::Lines);
        assert_eq!(shape_of(b"  \n{\"a\":1}\n"), Shape::Lines);
        assert_eq!(shape_of(b"[{\"a\":1}]"), Shape::Whole);
        assert_eq!(shape_of(b"{\n  \"a\": 1\n}\n"), Shape::Whole);
        assert_eq!(
            shape_of(b"{\"value\":[{\"a\":1},\n{\"b\":2}]}"),
            Shape::Whole
        );
        assert_eq!(shape_of(b"CreationDate,UserIds\n"), Shape::Whole);
    }

    #[test]
    fn log_names() {
        assert!(is_log_name("a.ndjson"));
        assert!(is_log_name("a.json.gz"));
        assert!(is_log_name("noext"));
        assert!(!is_log_name("a.swp"));
    }
}
