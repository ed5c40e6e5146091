//! Errors of the impact assessment.

use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong outside the assessment itself (which never fails on input).
#[derive(Debug, Error)]
pub enum ImpactError {
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV row could not be read.
    #[error("{path}:{line}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line of the row.
        line: u64,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
    /// A required column is missing from the header.
    #[error("{path}: no {column:?} column in the header (found: {found})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column looked for.
        column: &'static str,
        /// The header as read.
        found: String,
    },
}
