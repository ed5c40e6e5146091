//! Errors of the renderers.

use thiserror::Error;

/// A report could not be written.
#[derive(Debug, Error)]
pub enum ReportError {
    /// Writing to the output failed.
    #[error("writing the report: {0}")]
    Io(#[from] std::io::Error),
    /// JSON serialisation failed.
    #[error("serialising JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// CSV writing failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
}
