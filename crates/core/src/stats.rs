//! What reading the inputs cost and lost: counts, located errors, per-source coverage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::location::Location;
use crate::time::Timestamp;

/// A record that could not be read: where, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// Where the bad record starts.
    pub loc: Location,
    /// The field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: field {field:?}: {}", self.loc, self.reason),
            None => write!(f, "{}: {}", self.loc, self.reason),
        }
    }
}

/// Counts for one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FileStats {
    /// Path as given.
    pub file: String,
    /// Detected or forced format name.
    pub format: String,
    /// Compressed bytes read from disk.
    pub bytes: u64,
    /// Records read successfully.
    pub records: u64,
    /// Records counted and skipped.
    pub skipped: u64,
    /// Earliest record time.
    pub first: Option<Timestamp>,
    /// Latest record time.
    pub last: Option<Timestamp>,
    /// The export flattened nested arrays (PowerShell `System.Object[]`), losing folder items.
    pub items_lost: u64,
    /// Records outside `--since/--until` or the tenant filter (read, then left out).
    pub filtered: u64,
}

/// Totals for one run over all inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InputStats {
    /// Per file, in input order.
    pub files: Vec<FileStats>,
    /// The first located errors (capped; `skipped` has the full count).
    pub errors: Vec<RecordError>,
    /// Inputs that could not be opened at all (path and reason).
    pub unreadable: Vec<(String, String)>,
    /// Records per (tenant, workload, day `YYYY-MM-DD`), and whether any was `MailItemsAccessed`.
    pub coverage: BTreeMap<(String, String, String), CoverageCell>,
}

/// One cell of the coverage grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CoverageCell {
    /// Records.
    pub records: u64,
    /// `MailItemsAccessed` records among them.
    pub mail_items_accessed: u64,
}

impl InputStats {
    /// Maximum number of located errors kept.
    pub const MAX_ERRORS: usize = 1000;

    /// Records read in all files.
    #[must_use]
    pub fn records(&self) -> u64 {
        self.files.iter().map(|f| f.records).sum()
    }

    /// Records skipped in all files.
    #[must_use]
    pub fn skipped(&self) -> u64 {
        self.files.iter().map(|f| f.skipped).sum()
    }

    /// Bytes read in all files.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Keep a located error (up to [`Self::MAX_ERRORS`]).
    pub fn push_error(&mut self, e: RecordError) {
        if self.errors.len() < Self::MAX_ERRORS {
            self.errors.push(e);
        }
    }
}
