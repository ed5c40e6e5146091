//! What to read and how: inputs, forced formats, limits, filters, progress counters.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use stormwatch_core::Timestamp;

use crate::error::ReadError;

/// One input: a file or a directory (recursed in sorted order), or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file or a directory. Directories are walked recursively, entries in byte order of
    /// their names; hidden entries (names starting with `.`) are skipped.
    Path(PathBuf),
    /// Standard input (named `-` in locations).
    Stdin,
}

impl Input {
    /// `-` means standard input, anything else a path.
    #[must_use]
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

/// A forced input format (`--input-format`). [`InputFormat::Auto`] sniffs every file and every
/// record; the others fix the framing (`Ndjson`, `Json`, `Csv`), the record shape, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InputFormat {
    /// Detect the framing per file and the shape per record (the default).
    #[default]
    Auto,
    /// One JSON record per line; shape detected per record.
    Ndjson,
    /// JSON text: arrays, concatenated or pretty-printed objects, `{"value":[…]}` /
    /// `{"records":[…]}` envelopes; shape detected per record.
    Json,
    /// CSV with a header row; rows with an `AuditData` column read as UAL, other rows as
    /// objects keyed by the header.
    Csv,
    /// Purview / `Search-UnifiedAuditLog` CSV (the `AuditData` column holds the UAL record).
    PurviewCsv,
    /// Unified Audit Log records (Management Activity API shape, collectors' UAL JSON).
    Ual,
    /// Microsoft Sentinel `OfficeActivity` rows.
    Sentinel,
    /// Defender XDR `CloudAppEvents` rows.
    Defender,
    /// Graph audit log query records (`auditLogRecord`).
    GraphAudit,
    /// Entra ID sign-ins, Graph shape (`{"value":[…]}` pages or bare `signIn` objects).
    EntraGraph,
    /// Entra ID logs, Azure Monitor shape (`{"records":[{"time","category","properties"}]}`).
    EntraAzureMonitor,
    /// Entra ID audit logs (Graph `directoryAudit`, Azure Monitor or Sentinel `AuditLogs`).
    EntraAudit,
    /// Windows events as evtx-dump JSON (`Event.System…`).
    Evtx,
    /// Any JSON; no source-specific fields.
    Generic,
}

impl InputFormat {
    /// Every accepted name, for help texts.
    pub const NAMES: &'static str = "auto, ndjson, json, csv, purview-csv, ual, sentinel, defender, \
         graph-audit, entra-graph, entra-azure-monitor, entra-audit, evtx, generic";

    /// The user-facing name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Auto => "auto",
            InputFormat::Ndjson => "ndjson",
            InputFormat::Json => "json",
            InputFormat::Csv => "csv",
            InputFormat::PurviewCsv => "purview-csv",
            InputFormat::Ual => "ual",
            InputFormat::Sentinel => "sentinel",
            InputFormat::Defender => "defender",
            InputFormat::GraphAudit => "graph-audit",
            InputFormat::EntraGraph => "entra-graph",
            InputFormat::EntraAzureMonitor => "entra-azure-monitor",
            InputFormat::EntraAudit => "entra-audit",
            InputFormat::Evtx => "evtx",
            InputFormat::Generic => "generic",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InputFormat {
    type Err = ReadError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match norm.as_str() {
            "auto" => InputFormat::Auto,
            "ndjson" | "jsonl" | "json-lines" => InputFormat::Ndjson,
            "json" => InputFormat::Json,
            "csv" => InputFormat::Csv,
            "purview-csv" | "purview" | "ual-csv" => InputFormat::PurviewCsv,
            "ual" | "management-api" | "o365" | "m365" => InputFormat::Ual,
            "sentinel" | "office-activity" | "officeactivity" => InputFormat::Sentinel,
            "defender" | "cloud-app-events" | "cloudappevents" => InputFormat::Defender,
            "graph-audit" | "graph-audit-log" => InputFormat::GraphAudit,
            "entra-graph" | "graph-signins" => InputFormat::EntraGraph,
            "entra-azure-monitor" | "azure-monitor" => InputFormat::EntraAzureMonitor,
            "entra-audit" => InputFormat::EntraAudit,
            "evtx" | "evtx-json" | "windows" => InputFormat::Evtx,
            "generic" => InputFormat::Generic,
            _ => return Err(ReadError::UnknownFormat(s.to_owned())),
        })
    }
}

/// Bounds on what one record may cost. A record beyond a bound is a located error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest record (NDJSON line, JSON value, CSV row) in bytes.
    pub max_record_bytes: usize,
    /// Deepest nesting of JSON arrays/objects in a record.
    pub max_depth: usize,
    /// Most fields (keys of the record object, or CSV columns).
    pub max_fields: usize,
    /// Largest ratio of decompressed to compressed bytes, checked once
    /// [`Limits::ratio_grace_bytes`] have been decompressed.
    pub max_decompression_ratio: u64,
    /// Decompressed bytes allowed before the ratio is checked.
    pub ratio_grace_bytes: u64,
    /// Largest decompressed size of one compressed file.
    pub max_decompressed_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 16 * 1024 * 1024,
            max_depth: 128,
            max_fields: 4096,
            max_decompression_ratio: 1000,
            ratio_grace_bytes: 64 * 1024 * 1024,
            max_decompressed_bytes: 1 << 40,
        }
    }
}

/// Live counters, readable from another thread (e.g. to draw a progress bar).
#[derive(Debug, Default)]
pub struct Progress {
    /// Input files finished.
    pub files_done: AtomicU64,
    /// Bytes read from inputs (compressed bytes for compressed files).
    pub bytes_read: AtomicU64,
    /// Records read (good and skipped).
    pub records: AtomicU64,
    /// Input files found (set once the inputs are listed).
    pub files_total: AtomicU64,
    /// Bytes of the input files found (on disk: compressed files count compressed), set once
    /// the inputs are listed; standard input adds nothing, so a run that reads it has no
    /// known total.
    pub bytes_total: AtomicU64,
    /// Set when standard input is one of the inputs (its size is unknown).
    pub reads_stdin: std::sync::atomic::AtomicBool,
}

impl Progress {
    /// The known size of the inputs `(files, bytes)`, once listed; `None` before, or when
    /// standard input is read.
    #[must_use]
    pub fn total(&self) -> Option<(u64, u64)> {
        let files = self.files_total.load(Ordering::Relaxed);
        if files == 0 || self.reads_stdin.load(Ordering::Relaxed) {
            return None;
        }
        Some((files, self.bytes_total.load(Ordering::Relaxed)))
    }

    /// A snapshot `(files_done, bytes_read, records)`.
    #[must_use]
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.files_done.load(Ordering::Relaxed),
            self.bytes_read.load(Ordering::Relaxed),
            self.records.load(Ordering::Relaxed),
        )
    }
}

/// How to read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Forced format; `None` (or `Some(Auto)`) detects per file and per record.
    pub format: Option<InputFormat>,
    /// Bounds per record and per file.
    pub limits: Limits,
    /// Worker threads; 0 = all cores.
    pub threads: usize,
    /// Leave out records before this time (records without a time are kept).
    pub since: Option<Timestamp>,
    /// Leave out records at or after this time (records without a time are kept).
    pub until: Option<Timestamp>,
    /// Keep only these tenants, case-insensitive; empty = all. Each is a tenant id, an
    /// organisation name, or a domain (`agency.example`): a domain keeps the records whose
    /// user or mailbox is in it (or a subdomain of it), and every record of the tenants those
    /// records belong to (found by reading the file inputs once before; standard input cannot
    /// be read twice, so there only the records naming the domain are kept).
    pub tenants: Vec<String>,
    /// Live counters to update.
    pub progress: Option<Arc<Progress>>,
    /// Set it (from the sink or another thread) to stop reading early: the file being read
    /// ends after the batches already cut, no other file is opened, and the statistics cover
    /// what was read. For a consumer that has failed and has no use for the rest.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl ReadOptions {
    /// Whether [`ReadOptions::cancel`] is set.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }
}
