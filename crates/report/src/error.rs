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
    /// The spool of detections could not write or read its temporary files.
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
}

impl From<std::convert::Infallible> for ReportError {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}
