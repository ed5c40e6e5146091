//! Opening inputs: directory walks, compression sniffing (gzip, zstd by magic bytes), byte
//! counting and the decompression bound.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ReadError;
use crate::options::{Input, Limits, Progress};

/// One file to read, after directory expansion.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    File(PathBuf),
    Stdin,
}

impl Target {
    pub(crate) fn name(&self) -> String {
        match self {
            Target::File(p) => p.display().to_string(),
            Target::Stdin => "-".to_owned(),
        }
    }
}

/// Expand inputs: files as given, directories walked recursively in sorted order (hidden
/// entries and files without a log extension skipped).
pub(crate) fn expand(inputs: &[Input]) -> Result<Vec<Target>, ReadError> {
    expand_with(inputs, &[])
}

/// [`expand`], a directory walk also taking files with the extensions in `also`.
pub(crate) fn expand_with(inputs: &[Input], also: &[&str]) -> Result<Vec<Target>, ReadError> {
    let mut out = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => out.push(Target::Stdin),
            Input::Path(p) => {
                let meta = std::fs::metadata(p).map_err(|source| ReadError::Open {
                    path: p.clone(),
                    source,
                })?;
                if meta.is_dir() {
                    walk(p, &mut out, also)?;
                } else {
                    out.push(Target::File(p.clone()));
                }
            }
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Target>, also: &[&str]) -> Result<(), ReadError> {
    let open_err = |source| ReadError::Open {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(open_err)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| !n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        let meta = std::fs::metadata(&p).map_err(|source| ReadError::Open {
            path: p.clone(),
            source,
        })?;
        let also_this = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| also.iter().any(|a| e.eq_ignore_ascii_case(a)));
        if meta.is_dir() {
            walk(&p, out, also)?;
        } else if meta.is_file() && (is_log_name(&p) || also_this) {
            out.push(Target::File(p));
        }
    }
    Ok(())
}

/// Extensions read when walking a directory (a file named explicitly is always read).
const LOG_EXTENSIONS: &[&str] = &[
    "json", "jsonl", "ndjson", "csv", "log", "txt", "gz", "zst", "zstd",
];

/// Is this a file a directory walk should read? Known log extensions, after stripping a
/// compression suffix (`audit.json.gz`), or no extension at all.
pub(crate) fn is_log_name(p: &Path) -> bool {
    match p.extension().and_then(|e| e.to_str()) {
        None => true,
        Some(ext) => LOG_EXTENSIONS.iter().any(|k| ext.eq_ignore_ascii_case(k)),
    }
}

/// Compression of an input, found from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub(crate) fn sniff(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub(crate) fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => "+gzip",
            Compression::Zstd => "+zstd",
        }
    }
}

/// Counts bytes read from the underlying input (into the file's total and the live progress).
struct Counting<R> {
    inner: R,
    total: Arc<AtomicU64>,
    progress: Option<Arc<Progress>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let n64 = n as u64;
        self.total.fetch_add(n64, Ordering::Relaxed);
        if let Some(p) = &self.progress {
            p.bytes_read.fetch_add(n64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Stops a decompressor whose output outgrows its input beyond the limits.
struct Bounded<R> {
    inner: R,
    out: u64,
    compressed: Arc<AtomicU64>,
    limits: Limits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out = self.out.saturating_add(n as u64);
        if self.out > self.limits.max_decompressed_bytes {
            return Err(io::Error::other(format!(
                "decompressed size exceeds the limit of {} bytes",
                self.limits.max_decompressed_bytes
            )));
        }
        if self.out > self.limits.ratio_grace_bytes {
            let c = self.compressed.load(Ordering::Relaxed).max(1);
            if self.out / c > self.limits.max_decompression_ratio {
                return Err(io::Error::other(format!(
                    "decompression ratio exceeds {}:1 (possible decompression bomb)",
                    self.limits.max_decompression_ratio
                )));
            }
        }
        Ok(n)
    }
}

/// An opened input: the decompressed byte stream and what it is.
pub(crate) struct Opened {
    pub(crate) reader: Box<dyn Read + Send>,
    pub(crate) compression: Compression,
    /// Compressed bytes read so far.
    pub(crate) bytes: Arc<AtomicU64>,
}

const IO_BUF: usize = 256 * 1024;

pub(crate) fn open(
    target: &Target,
    limits: &Limits,
    progress: Option<&Arc<Progress>>,
) -> Result<Opened, ReadError> {
    let raw: Box<dyn Read + Send> = match target {
        Target::File(p) => Box::new(File::open(p).map_err(|source| ReadError::Open {
            path: p.clone(),
            source,
        })?),
        Target::Stdin => Box::new(io::stdin()),
    };
    open_reader(raw, &target.name(), limits, progress)
}

/// Wrap an already open byte stream: count, sniff and decompress.
pub(crate) fn open_reader(
    raw: Box<dyn Read + Send>,
    name: &str,
    limits: &Limits,
    progress: Option<&Arc<Progress>>,
) -> Result<Opened, ReadError> {
    let bytes = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: raw,
        total: Arc::clone(&bytes),
        progress: progress.cloned(),
    };
    let mut buffered = BufReader::with_capacity(IO_BUF, counting);
    let head = loop {
        match buffered.fill_buf() {
            Ok(h) => break h,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(ReadError::Open {
                    path: PathBuf::from(name),
                    source,
                });
            }
        }
    };
    let compression = Compression::sniff(head);
    let reader: Box<dyn Read + Send> = match compression {
        Compression::None => Box::new(buffered),
        Compression::Gzip => Box::new(Bounded {
            inner: flate2::bufread::MultiGzDecoder::new(buffered),
            out: 0,
            compressed: Arc::clone(&bytes),
            limits: *limits,
        }),
        Compression::Zstd => {
            let dec = zstd::stream::read::Decoder::with_buffer(buffered).map_err(|source| {
                ReadError::Open {
                    path: PathBuf::from(name),
                    source,
                }
            })?;
            Box::new(Bounded {
                inner: dec,
                out: 0,
                compressed: Arc::clone(&bytes),
                limits: *limits,
            })
        }
    };
    Ok(Opened {
        reader,
        compression,
        bytes,
    })
}
