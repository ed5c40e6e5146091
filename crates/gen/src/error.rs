//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong while generating or writing data.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A file could not be created or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An unknown format name.
    #[error(
        "unknown format `{0}` (known: ndjson, json-array, pretty, csv, csv-legacy, sentinel, defender, defender-flat, graph-audit, signins-graph, signins-azure-monitor, all)"
    )]
    UnknownFormat(String),
    /// An unknown compression name.
    #[error("unknown compression `{0}` (known: none, gz, zst)")]
    UnknownCompression(String),
    /// A format that the requested mode cannot write.
    #[error("format `{0}` is not available in this mode")]
    Unsupported(String),
    /// Ground truth could not be serialised.
    #[error("writing ground truth: {0}")]
    Json(#[from] serde_json::Error),
}
