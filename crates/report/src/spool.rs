//! Bounded-memory collection of detections in output order.
//!
//! A [`Spool`] takes detections as they are found. While they fit in its memory budget it
//! keeps them in memory; past the budget it sorts the ones it holds into the output order
//! ([`stormwatch_core::sort_detections`]) and writes them as a *run* to a file in a private
//! temporary directory. When runs pile up they are merged into longer ones, so that only a
//! bounded number of them is ever open at once. [`Spool::finish`] then merges the runs and
//! what is still in memory into one stream, in exactly the order a stable sort of everything
//! pushed would give: detections equal under [`Detection::cmp_output_order`] keep the order
//! they were pushed in.
//!
//! Counts per level are kept as detections are pushed ([`Spool::counts`]).
//!
//! Runs use a compact binary encoding of [`Detection`] that round-trips every field exactly,
//! including the `evidence` JSON (numbers keep their integer or floating-point form and
//! bits, objects keep their key order). The temporary directory is removed when the spool or
//! the stream it turned into is dropped, on success and on error alike.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use stormwatch_core::{Detection, DetectionSource, Level, Location, Timestamp};
use thiserror::Error;

/// Start of the name of a spool's directory: `stormwatch-spool-<process id>-<random>`.
const DIR_PREFIX: &str = "stormwatch-spool-";

/// The start of the name of every spool directory this process makes (in
/// [`SpoolOptions::parent_dir`]): what to remove when the process is interrupted, even before
/// its spool has said where its directory is.
#[must_use]
pub fn own_spool_prefix() -> String {
    format!("{DIR_PREFIX}{}-", std::process::id())
}

/// Remove the spool directories under `parent` that runs killed outright (SIGKILL, the
/// out-of-memory killer) left behind, and return how many were removed. A directory is
/// removed only when the process named in it is known to be gone: its id has no entry in
/// `/proc`. Where there is no `/proc`, nothing is removed. Directories that cannot be removed
/// (another user's) are left as they are.
#[must_use]
pub fn remove_stale_spools(parent: &Path) -> usize {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir
            && pid != std::process::id()
            && !proc.join(pid.to_string()).exists()
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Default memory budget of the detections a [`Spool`] holds before it spills a run.
pub const DEFAULT_MEMORY_BUDGET: usize = 64 << 20;

/// Runs merged at once (and the most left before a merge is forced).
const FAN_IN: usize = 16;

/// Buffer of each run file when written or read.
const IO_BUFFER: usize = 64 << 10;

/// Deepest `evidence` nesting read back (guards the decoder's stack against a corrupted file;
/// far beyond anything an analytic builds).
const MAX_DEPTH: usize = 1024;

/// Largest record accepted when reading a run back (guards against a corrupted file).
const MAX_RECORD: u64 = 1 << 32;

/// The spool could not write or read its temporary files.
#[derive(Debug, Error)]
pub enum SpoolError {
    /// The temporary directory could not be created.
    #[error("creating a temporary directory in {dir}: {source}")]
    TempDir {
        /// Where it was to be created.
        dir: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A run file could not be created, written or read.
    #[error("{action} spill file {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A run file does not hold what the spool wrote to it.
    #[error("spill file {path} is corrupt: {why}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: &'static str,
    },
}

/// Detections per level, kept as they are found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectionCounts {
    per_level: [u64; 5],
}

impl DetectionCounts {
    /// Count one detection.
    pub fn add(&mut self, level: Level) {
        if let Some(c) = self.per_level.get_mut(level as usize) {
            *c += 1;
        }
    }

    /// Count every detection of a slice.
    #[must_use]
    pub fn of(detections: &[Detection]) -> Self {
        let mut c = DetectionCounts::default();
        for d in detections {
            c.add(d.level);
        }
        c
    }

    /// All detections counted.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.per_level.iter().sum()
    }

    /// Detections at one level.
    #[must_use]
    pub fn at(&self, level: Level) -> u64 {
        self.per_level.get(level as usize).copied().unwrap_or(0)
    }

    /// Whether any detection is at or above `min`.
    #[must_use]
    pub fn any_at_or_above(&self, min: Level) -> bool {
        Level::ALL.iter().any(|l| *l >= min && self.at(*l) > 0)
    }

    /// Levels present with their counts, most severe first.
    #[must_use]
    pub fn by_level(&self) -> Vec<(Level, u64)> {
        Level::ALL
            .iter()
            .rev()
            .map(|l| (*l, self.at(*l)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// The order a [`Spool`] gives its detections back in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetectionOrder {
    /// The output order ([`Detection::cmp_output_order`]: time, rule, first record, …).
    #[default]
    Time,
    /// Most severe first, then the output order within a level (the terminal table).
    Severity,
}

impl DetectionOrder {
    /// Compare two detections in this order.
    #[must_use]
    pub fn cmp(self, a: &Detection, b: &Detection) -> Ordering {
        match self {
            DetectionOrder::Time => a.cmp_output_order(b),
            DetectionOrder::Severity => b.level.cmp(&a.level).then_with(|| a.cmp_output_order(b)),
        }
    }
}

/// Detections per rule, kept as they are found (bounded by the rules that fired).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleCounts {
    by_rule: std::collections::BTreeMap<String, RuleTally>,
}

/// How one rule fired over a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTally {
    /// The rule's title (of its first detection).
    pub title: String,
    /// Its most severe detection.
    pub highest: Level,
    /// Its detections per level, least severe first (as [`Level::ALL`]).
    pub per_level: [u64; 5],
}

impl RuleTally {
    /// All its detections.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.per_level.iter().sum()
    }

    /// Its detections at or above `min`.
    #[must_use]
    pub fn at_or_above(&self, min: Level) -> u64 {
        Level::ALL
            .iter()
            .zip(self.per_level)
            .filter(|(l, _)| **l >= min)
            .map(|(_, n)| n)
            .sum()
    }
}

impl RuleCounts {
    /// Count one detection.
    pub fn add(&mut self, d: &Detection) {
        let i = d.level as usize;
        if let Some(t) = self.by_rule.get_mut(d.rule_id.as_str()) {
            t.highest = t.highest.max(d.level);
            if let Some(c) = t.per_level.get_mut(i) {
                *c += 1;
            }
            return;
        }
        let mut per_level = [0; 5];
        if let Some(c) = per_level.get_mut(i) {
            *c = 1;
        }
        self.by_rule.insert(
            d.rule_id.clone(),
            RuleTally {
                title: d.rule_title.clone(),
                highest: d.level,
                per_level,
            },
        );
    }

    /// Count every detection of a slice.
    #[must_use]
    pub fn of(detections: &[Detection]) -> Self {
        let mut c = RuleCounts::default();
        for d in detections {
            c.add(d);
        }
        c
    }

    /// Rules with their tallies: most severe first, then most detections, then by id.
    #[must_use]
    pub fn ranked(&self) -> Vec<(&str, &RuleTally)> {
        let mut v: Vec<(&str, &RuleTally)> =
            self.by_rule.iter().map(|(k, t)| (k.as_str(), t)).collect();
        v.sort_by(|a, b| {
            b.1.highest
                .cmp(&a.1.highest)
                .then_with(|| b.1.total().cmp(&a.1.total()))
                .then_with(|| a.0.cmp(b.0))
        });
        v
    }

    /// Whether nothing was counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_rule.is_empty()
    }
}

/// Where and when a [`Spool`] spills.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    /// Parent of the private temporary directory (default: [`std::env::temp_dir`]).
    pub tmp_dir: Option<PathBuf>,
    /// Estimated bytes of detections held in memory before a run is spilled.
    pub memory_budget: usize,
    /// Also spill once this many detections are held (whatever their size).
    pub max_held: Option<usize>,
    /// The order [`Spool::finish`] gives them back in.
    pub order: DetectionOrder,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        SpoolOptions {
            tmp_dir: None,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            max_held: None,
            order: DetectionOrder::Time,
        }
    }
}

impl SpoolOptions {
    /// Where the spool's private directory goes: `tmp_dir`, else the system's.
    #[must_use]
    pub fn parent_dir(&self) -> PathBuf {
        self.tmp_dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}

/// One sorted run on disk.
#[derive(Debug)]
struct Run {
    path: PathBuf,
    /// How many merges it went through: runs merged together have the same level.
    level: u32,
    len: u64,
}

/// Collects detections with bounded memory; see the module documentation.
#[derive(Debug)]
pub struct Spool {
    opts: SpoolOptions,
    held: Vec<Detection>,
    held_bytes: usize,
    counts: DetectionCounts,
    rules: RuleCounts,
    /// Oldest first; levels never increase along the list.
    runs: Vec<Run>,
    dir: Option<tempfile::TempDir>,
    next_file: u64,
    spilled: u64,
}

impl Spool {
    /// An empty spool. Nothing touches the disk until the first spill.
    #[must_use]
    pub fn new(opts: SpoolOptions) -> Self {
        Spool {
            opts,
            held: Vec::new(),
            held_bytes: 0,
            counts: DetectionCounts::default(),
            rules: RuleCounts::default(),
            runs: Vec::new(),
            dir: None,
            next_file: 0,
            spilled: 0,
        }
    }

    /// Add one detection.
    ///
    /// # Errors
    /// [`SpoolError`] when a run cannot be written.
    pub fn push(&mut self, d: Detection) -> Result<(), SpoolError> {
        self.counts.add(d.level);
        self.rules.add(&d);
        self.held_bytes = self.held_bytes.saturating_add(estimated_size(&d));
        self.held.push(d);
        let over_count = self.opts.max_held.is_some_and(|n| self.held.len() >= n);
        if over_count || self.held_bytes >= self.opts.memory_budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Add every detection of an iterator, in order.
    ///
    /// # Errors
    /// [`SpoolError`] when a run cannot be written.
    pub fn extend(&mut self, ds: impl IntoIterator<Item = Detection>) -> Result<(), SpoolError> {
        for d in ds {
            self.push(d)?;
        }
        Ok(())
    }

    /// Detections per level pushed so far.
    #[must_use]
    pub fn counts(&self) -> &DetectionCounts {
        &self.counts
    }

    /// Detections per rule pushed so far.
    #[must_use]
    pub fn rule_counts(&self) -> &RuleCounts {
        &self.rules
    }

    /// Detections pushed so far.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.counts.total()
    }

    /// Whether nothing was pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Detections written to temporary files so far (0 when everything fitted in memory).
    #[must_use]
    pub fn spilled(&self) -> u64 {
        self.spilled
    }

    /// The private temporary directory, once created.
    #[must_use]
    pub fn temp_dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    fn new_run_path(&mut self) -> Result<PathBuf, SpoolError> {
        if self.dir.is_none() {
            let parent = self.opts.parent_dir();
            let dir = tempfile::Builder::new()
                .prefix(&own_spool_prefix())
                .tempdir_in(&parent)
                .map_err(|source| SpoolError::TempDir {
                    dir: parent,
                    source,
                })?;
            self.dir = Some(dir);
        }
        let n = self.next_file;
        self.next_file += 1;
        let dir = self.dir.as_ref().map(tempfile::TempDir::path);
        Ok(dir
            .unwrap_or_else(|| Path::new("."))
            .join(format!("run-{n:06}.bin")))
    }

    /// Sort what is held and write it as a new run; merge runs when too many have piled up.
    fn spill(&mut self) -> Result<(), SpoolError> {
        if self.held.is_empty() {
            return Ok(());
        }
        let order = output_order(&self.held, self.opts.order);
        let path = self.new_run_path()?;
        let mut w = RunWriter::create(&path)?;
        for &i in &order {
            if let Some(d) = self.held.get(i as usize) {
                w.write(d)?;
            }
        }
        self.held.clear();
        let len = w.finish()?;
        self.spilled += len;
        self.held_bytes = 0;
        self.runs.push(Run {
            path,
            level: 0,
            len,
        });
        self.compact()
    }

    /// While the last `FAN_IN` runs share one level, merge them into one run a level up.
    /// Runs merged are the newest and contiguous, so merging them keeps push order for ties.
    fn compact(&mut self) -> Result<(), SpoolError> {
        loop {
            let n = self.runs.len();
            if n < FAN_IN {
                return Ok(());
            }
            let level = self.runs[n - 1].level;
            if self.runs[n - FAN_IN..].iter().any(|r| r.level != level) {
                return Ok(());
            }
            self.merge_tail(FAN_IN, level + 1)?;
        }
    }

    /// Merge the last `k` runs into one new run of the given level.
    fn merge_tail(&mut self, k: usize, level: u32) -> Result<(), SpoolError> {
        let tail: Vec<Run> = self.runs.split_off(self.runs.len() - k);
        let path = self.new_run_path()?;
        let mut w = RunWriter::create(&path)?;
        {
            let sources = tail
                .iter()
                .map(|r| RunReader::open(&r.path).map(Source::File))
                .collect::<Result<Vec<_>, _>>()?;
            let mut merge = Merge::new(sources, self.opts.order)?;
            while let Some(d) = merge.next_detection()? {
                w.write(&d)?;
            }
        }
        let len = w.finish()?;
        for r in &tail {
            remove_run(&r.path)?;
        }
        self.runs.push(Run { path, level, len });
        Ok(())
    }

    /// Everything pushed, in output order.
    ///
    /// # Errors
    /// [`SpoolError`] when the runs cannot be read or merged.
    pub fn finish(mut self) -> Result<SortedDetections, SpoolError> {
        let order = output_order(&self.held, self.opts.order);
        let mut slots: Vec<Option<Detection>> = std::mem::take(&mut self.held)
            .into_iter()
            .map(Some)
            .collect();
        let held: Vec<Detection> = order
            .iter()
            .filter_map(|&i| slots.get_mut(i as usize).and_then(Option::take))
            .collect();
        // Keep the final merge's open files bounded.
        while self.runs.len() >= FAN_IN {
            let level = self.runs.last().map_or(0, |r| r.level);
            self.merge_tail(FAN_IN, level + 1)?;
        }
        let total = self.len();
        debug_assert_eq!(
            self.runs.iter().map(|r| r.len).sum::<u64>() + held.len() as u64,
            total
        );
        let mut sources = self
            .runs
            .iter()
            .map(|r| RunReader::open(&r.path).map(Source::File))
            .collect::<Result<Vec<_>, _>>()?;
        sources.push(Source::Memory(held.into_iter()));
        let merge = Merge::new(sources, self.opts.order)?;
        Ok(SortedDetections {
            merge,
            failed: false,
            counts: self.counts,
            rules: std::mem::take(&mut self.rules),
            _dir: self.dir.take(),
        })
    }
}

/// Every detection a [`Spool`] took, in output order, as an iterator of results (reading a
/// run back can fail). The temporary files go when it is dropped.
#[derive(Debug)]
pub struct SortedDetections {
    merge: Merge,
    failed: bool,
    counts: DetectionCounts,
    rules: RuleCounts,
    _dir: Option<tempfile::TempDir>,
}

impl SortedDetections {
    /// Detections per level of the whole stream.
    #[must_use]
    pub fn counts(&self) -> &DetectionCounts {
        &self.counts
    }

    /// Detections per rule of the whole stream.
    #[must_use]
    pub fn rule_counts(&self) -> &RuleCounts {
        &self.rules
    }
}

impl Iterator for SortedDetections {
    type Item = Result<Detection, SpoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.merge.next_detection() {
            Ok(d) => d.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The positions of `held` in `order` (ties in push order): sorting positions moves four
/// bytes per step instead of a whole detection, and needs no scratch copy of them.
fn output_order(held: &[Detection], by: DetectionOrder) -> Vec<u32> {
    let mut order: Vec<u32> = (0..held.len())
        .map(|i| u32::try_from(i).unwrap_or(u32::MAX))
        .collect();
    order.sort_by(
        |&a, &b| match (held.get(a as usize), held.get(b as usize)) {
            (Some(x), Some(y)) => by.cmp(x, y),
            _ => a.cmp(&b),
        },
    );
    order
}

fn remove_run(path: &Path) -> Result<(), SpoolError> {
    std::fs::remove_file(path).map_err(|source| SpoolError::Io {
        action: "removing",
        path: path.to_owned(),
        source,
    })
}

/// A rough count of the heap bytes a detection holds, to decide when to spill.
fn estimated_size(d: &Detection) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
    std::mem::size_of::<Detection>()
        + d.id.capacity()
        + d.rule_id.capacity()
        + d.rule_title.capacity()
        + d.events.capacity() * std::mem::size_of::<Location>()
        + d.events
            .iter()
            .map(|l| l.record_id.as_ref().map_or(0, String::capacity))
            .sum::<usize>()
        + opt(&d.tenant)
        + opt(&d.user)
        + opt(&d.mailbox)
        + opt(&d.ip)
        + opt(&d.session_id)
        + opt(&d.app_id)
        + opt(&d.incident_id)
        + d.explanation.capacity()
        + d.tags.capacity() * std::mem::size_of::<String>()
        + d.tags.iter().map(String::capacity).sum::<usize>()
        + value_size(&d.evidence)
}

fn value_size(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => s.capacity(),
        Value::Array(a) => a
            .iter()
            .map(|x| std::mem::size_of::<Value>() + value_size(x))
            .sum(),
        // Keys, values and the map's own per-entry overhead (roughly).
        Value::Object(m) => m
            .iter()
            .map(|(k, x)| k.capacity() + 2 * std::mem::size_of::<Value>() + value_size(x))
            .sum(),
    }
}

/// Where a merge takes detections from: a run file, or the sorted detections still in memory.
#[derive(Debug)]
enum Source {
    File(RunReader),
    Memory(std::vec::IntoIter<Detection>),
}

impl Source {
    fn next_detection(&mut self) -> Result<Option<Detection>, SpoolError> {
        match self {
            Source::File(r) => r.read(),
            Source::Memory(it) => Ok(it.next()),
        }
    }
}

/// The head of one source in the merge heap.
#[derive(Debug)]
struct Head {
    d: Detection,
    /// Index of the source: older sources hold earlier pushes, so they win ties.
    src: usize,
    order: DetectionOrder,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    /// Reversed, so that the max-heap yields the first detection in output order.
    fn cmp(&self, other: &Self) -> Ordering {
        self.order
            .cmp(&other.d, &self.d)
            .then_with(|| other.src.cmp(&self.src))
    }
}

/// A k-way merge of sorted sources, stable across sources.
#[derive(Debug)]
struct Merge {
    sources: Vec<Source>,
    heap: BinaryHeap<Head>,
}

impl Merge {
    fn new(mut sources: Vec<Source>, order: DetectionOrder) -> Result<Self, SpoolError> {
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (src, s) in sources.iter_mut().enumerate() {
            if let Some(d) = s.next_detection()? {
                heap.push(Head { d, src, order });
            }
        }
        Ok(Merge { sources, heap })
    }

    fn next_detection(&mut self) -> Result<Option<Detection>, SpoolError> {
        let Some(mut top) = self.heap.peek_mut() else {
            return Ok(None);
        };
        let src = top.src;
        let next = match self.sources.get_mut(src) {
            Some(s) => s.next_detection()?,
            None => None,
        };
        Ok(Some(match next {
            Some(d) => std::mem::replace(&mut top.d, d),
            None => std::collections::binary_heap::PeekMut::pop(top).d,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Run files: a sequence of records, each a little-endian u32 length and the encoded detection.

#[derive(Debug)]
struct RunWriter {
    path: PathBuf,
    w: BufWriter<File>,
    buf: Vec<u8>,
    len: u64,
}

impl RunWriter {
    fn create(path: &Path) -> Result<Self, SpoolError> {
        let f = File::create(path).map_err(|source| SpoolError::Io {
            action: "creating",
            path: path.to_owned(),
            source,
        })?;
        Ok(RunWriter {
            path: path.to_owned(),
            w: BufWriter::with_capacity(IO_BUFFER, f),
            buf: Vec::new(),
            len: 0,
        })
    }

    fn io(&self, source: std::io::Error) -> SpoolError {
        SpoolError::Io {
            action: "writing",
            path: self.path.clone(),
            source,
        }
    }

    fn write(&mut self, d: &Detection) -> Result<(), SpoolError> {
        self.buf.clear();
        encode(&mut self.buf, d);
        let n = u32::try_from(self.buf.len()).map_err(|_| {
            self.io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "detection larger than 4 GiB",
            ))
        })?;
        let r = self
            .w
            .write_all(&n.to_le_bytes())
            .and_then(|()| self.w.write_all(&self.buf));
        r.map_err(|e| self.io(e))?;
        self.len += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<u64, SpoolError> {
        self.w.flush().map_err(|e| self.io(e))?;
        Ok(self.len)
    }
}

#[derive(Debug)]
struct RunReader {
    path: PathBuf,
    r: BufReader<File>,
    buf: Vec<u8>,
    /// The file name of the last location read, shared by the next ones that have it.
    last_file: Option<Arc<str>>,
}

impl RunReader {
    fn open(path: &Path) -> Result<Self, SpoolError> {
        let f = File::open(path).map_err(|source| SpoolError::Io {
            action: "opening",
            path: path.to_owned(),
            source,
        })?;
        Ok(RunReader {
            path: path.to_owned(),
            r: BufReader::with_capacity(IO_BUFFER, f),
            buf: Vec::new(),
            last_file: None,
        })
    }

    fn read(&mut self) -> Result<Option<Detection>, SpoolError> {
        let mut len = [0u8; 4];
        match read_full(&mut self.r, &mut len) {
            Ok(0) => return Ok(None),
            Ok(4) => {}
            Ok(_) => return Err(self.corrupt("truncated record length")),
            Err(source) => {
                return Err(SpoolError::Io {
                    action: "reading",
                    path: self.path.clone(),
                    source,
                });
            }
        }
        let n = u64::from(u32::from_le_bytes(len));
        if n > MAX_RECORD {
            return Err(self.corrupt("record too long"));
        }
        self.buf.clear();
        let got = (&mut self.r)
            .take(n)
            .read_to_end(&mut self.buf)
            .map_err(|source| SpoolError::Io {
                action: "reading",
                path: self.path.clone(),
                source,
            })?;
        if got as u64 != n {
            return Err(self.corrupt("truncated record"));
        }
        let mut dec = Decoder {
            b: &self.buf,
            last_file: &mut self.last_file,
        };
        match dec.detection() {
            Ok(d) if dec.b.is_empty() => Ok(Some(d)),
            Ok(_) => Err(self.corrupt("trailing bytes in a record")),
            Err(why) => Err(self.corrupt(why)),
        }
    }

    fn corrupt(&self, why: &'static str) -> SpoolError {
        SpoolError::Corrupt {
            path: self.path.clone(),
            why,
        }
    }
}

/// Read until `buf` is full or the end of the input; the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
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

// Encoding. Integers are little-endian; strings are a u64 length and UTF-8 bytes; an
// `Option` is a 0/1 byte then the value.

fn put_u64(b: &mut Vec<u8>, n: u64) {
    b.extend_from_slice(&n.to_le_bytes());
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u64(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

fn put_opt(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            put_str(b, s);
        }
    }
}

fn encode(b: &mut Vec<u8>, d: &Detection) {
    put_str(b, &d.id);
    put_str(b, &d.rule_id);
    put_str(b, &d.rule_title);
    b.push(d.level as u8);
    b.push(match d.source {
        DetectionSource::Sigma => 0,
        DetectionSource::Builtin => 1,
    });
    b.extend_from_slice(&d.timestamp.nanos().to_le_bytes());
    put_u64(b, d.events.len() as u64);
    for l in &d.events {
        put_str(b, &l.file);
        put_u64(b, l.line);
        put_opt(b, l.record_id.as_deref());
    }
    for s in [
        &d.tenant,
        &d.user,
        &d.mailbox,
        &d.ip,
        &d.session_id,
        &d.app_id,
    ] {
        put_opt(b, s.as_deref());
    }
    put_str(b, &d.explanation);
    put_u64(b, d.tags.len() as u64);
    for t in &d.tags {
        put_str(b, t);
    }
    encode_value(b, &d.evidence);
    put_opt(b, d.incident_id.as_deref());
}

const V_NULL: u8 = 0;
const V_FALSE: u8 = 1;
const V_TRUE: u8 = 2;
const V_U64: u8 = 3;
const V_I64: u8 = 4;
const V_F64: u8 = 5;
const V_NUMBER_TEXT: u8 = 6;
const V_STRING: u8 = 7;
const V_ARRAY: u8 = 8;
const V_OBJECT: u8 = 9;

fn encode_value(b: &mut Vec<u8>, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => b.push(V_NULL),
        Value::Bool(false) => b.push(V_FALSE),
        Value::Bool(true) => b.push(V_TRUE),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                b.push(V_U64);
                put_u64(b, u);
            } else if let Some(i) = n.as_i64() {
                b.push(V_I64);
                b.extend_from_slice(&i.to_le_bytes());
            } else if let Some(f) = n
                .as_f64()
                .filter(|f| serde_json::Number::from_f64(*f).as_ref() == Some(n))
            {
                b.push(V_F64);
                b.extend_from_slice(&f.to_bits().to_le_bytes());
            } else {
                // Only with serde_json's arbitrary precision: keep the number's text.
                b.push(V_NUMBER_TEXT);
                put_str(b, &n.to_string());
            }
        }
        Value::String(s) => {
            b.push(V_STRING);
            put_str(b, s);
        }
        Value::Array(a) => {
            b.push(V_ARRAY);
            put_u64(b, a.len() as u64);
            for x in a {
                encode_value(b, x);
            }
        }
        Value::Object(m) => {
            b.push(V_OBJECT);
            put_u64(b, m.len() as u64);
            for (k, x) in m {
                put_str(b, k);
                encode_value(b, x);
            }
        }
    }
}

/// Reads one encoded detection from a byte slice; errors say what is wrong.
struct Decoder<'a> {
    b: &'a [u8],
    last_file: &'a mut Option<Arc<str>>,
}

type Decoded<T> = Result<T, &'static str>;

impl<'a> Decoder<'a> {
    fn bytes(&mut self, n: usize) -> Decoded<&'a [u8]> {
        let b: &'a [u8] = self.b;
        let (head, rest) = b.split_at_checked(n).ok_or("truncated field")?;
        self.b = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Decoded<[u8; N]> {
        let s = self.bytes(N)?;
        <[u8; N]>::try_from(s).map_err(|_| "truncated field")
    }

    fn u8(&mut self) -> Decoded<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u64(&mut self) -> Decoded<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Decoded<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A count of items that each take at least one byte (bounds allocations on bad input).
    fn count(&mut self) -> Decoded<usize> {
        let n = usize::try_from(self.u64()?).map_err(|_| "count too large")?;
        if n > self.b.len() {
            return Err("count larger than the record");
        }
        Ok(n)
    }

    fn str(&mut self) -> Decoded<&'a str> {
        let n = self.count()?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| "string is not UTF-8")
    }

    fn string(&mut self) -> Decoded<String> {
        self.str().map(str::to_owned)
    }

    fn opt(&mut self) -> Decoded<Option<String>> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => Err("bad option tag"),
        }
    }

    fn file(&mut self) -> Decoded<Arc<str>> {
        let s = self.str()?;
        if let Some(f) = self.last_file.as_ref().filter(|f| ***f == *s) {
            return Ok(Arc::clone(f));
        }
        let f: Arc<str> = Arc::from(s);
        *self.last_file = Some(Arc::clone(&f));
        Ok(f)
    }

    fn detection(&mut self) -> Decoded<Detection> {
        let id = self.string()?;
        let rule_id = self.string()?;
        let rule_title = self.string()?;
        let level = *Level::ALL.get(usize::from(self.u8()?)).ok_or("bad level")?;
        let source = match self.u8()? {
            0 => DetectionSource::Sigma,
            1 => DetectionSource::Builtin,
            _ => return Err("bad source"),
        };
        let timestamp = Timestamp::from_nanos(self.i64()?);
        let n = self.count()?;
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            let file = self.file()?;
            let line = self.u64()?;
            let record_id = self.opt()?;
            events.push(Location {
                file,
                line,
                record_id,
            });
        }
        let tenant = self.opt()?;
        let user = self.opt()?;
        let mailbox = self.opt()?;
        let ip = self.opt()?;
        let session_id = self.opt()?;
        let app_id = self.opt()?;
        let explanation = self.string()?;
        let n = self.count()?;
        let mut tags = Vec::with_capacity(n);
        for _ in 0..n {
            tags.push(self.string()?);
        }
        let evidence = self.value(0)?;
        let incident_id = self.opt()?;
        Ok(Detection {
            id,
            rule_id,
            rule_title,
            level,
            source,
            timestamp,
            events,
            tenant,
            user,
            mailbox,
            ip,
            session_id,
            app_id,
            explanation,
            tags,
            evidence,
            incident_id,
        })
    }

    fn value(&mut self, depth: usize) -> Decoded<serde_json::Value> {
        use serde_json::Value;
        if depth > MAX_DEPTH {
            return Err("evidence nested too deep");
        }
        Ok(match self.u8()? {
            V_NULL => Value::Null,
            V_FALSE => Value::Bool(false),
            V_TRUE => Value::Bool(true),
            V_U64 => Value::from(self.u64()?),
            V_I64 => Value::from(self.i64()?),
            V_F64 => {
                let f = f64::from_bits(self.u64()?);
                Value::Number(serde_json::Number::from_f64(f).ok_or("non-finite number")?)
            }
            V_NUMBER_TEXT => {
                let s = self.str()?;
                Value::Number(s.parse().map_err(|_| "bad number")?)
            }
            V_STRING => Value::String(self.string()?),
            V_ARRAY => {
                let n = self.count()?;
                let mut a = Vec::with_capacity(n);
                for _ in 0..n {
                    a.push(self.value(depth + 1)?);
                }
                Value::Array(a)
            }
            V_OBJECT => {
                let n = self.count()?;
                let mut m = serde_json::Map::new();
                for _ in 0..n {
                    let k = self.string()?;
                    let v = self.value(depth + 1)?;
                    m.insert(k, v);
                }
                Value::Object(m)
            }
            _ => return Err("bad value tag"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Detection {
        let mut d = Detection::new(
            "r",
            "<t>",
            Level::High,
            DetectionSource::Builtin,
            Timestamp::from_nanos(-5),
        );
        d.events.push(Location {
            file: Arc::from("f.json"),
            line: 3,
            record_id: Some("id".into()),
        });
        d.user = Some("u\0".into());
        d.tags = vec!["a".into()];
        d.evidence = serde_json::json!({"b": [1, -2, 0.5, null, true], "a": {"x": "y"}});
        d.incident_id = Some("INC-0001".into());
        d
    }

    fn decode(b: &[u8]) -> Decoded<Detection> {
        let mut last = None;
        let mut dec = Decoder {
            b,
            last_file: &mut last,
        };
        let d = dec.detection()?;
        if dec.b.is_empty() {
            Ok(d)
        } else {
            Err("trailing bytes in a record")
        }
    }

    #[test]
    fn encoding_round_trips_and_every_truncation_is_an_error() {
        let d = sample();
        let mut b = Vec::new();
        encode(&mut b, &d);
        assert_eq!(decode(&b), Ok(d));
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_err(), "prefix of {n} bytes accepted");
        }
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        let mut b = Vec::new();
        encode(&mut b, &sample());
        for i in 0..b.len() {
            for x in [0u8, 1, 0x7f, 0xff] {
                let mut c = b.clone();
                c[i] = x;
                let _ = decode(&c);
            }
        }
    }
}
