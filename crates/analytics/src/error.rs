//! The analytics error type.

use std::path::PathBuf;

/// Everything that can go wrong while configuring the analytics or loading their data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// The configuration TOML is invalid (unknown key, wrong type, bad value).
    #[error("analytics configuration: {0}")]
    Config(#[from] toml::de::Error),
    /// A configuration value is out of its range.
    #[error("analytics configuration: {key}: {reason}")]
    ConfigValue {
        /// The setting.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A data file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line of a CSV data file (IOC list, ASN table) is invalid.
    #[error("{path}:{line}: {reason}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A STIX 2.1 bundle is invalid.
    #[error("{path}: STIX bundle: {reason}")]
    Stix {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A baseline snapshot cannot be decoded.
    #[error("baseline snapshot: {0}")]
    Snapshot(#[source] serde_json::Error),
    /// A baseline snapshot has a format version this build does not read.
    #[error("baseline snapshot has format version {found}; this build reads version {known}")]
    SnapshotVersion {
        /// Version found.
        found: u32,
        /// Version this build reads.
        known: u32,
    },
    /// A state snapshot ([`crate::Analytics::restore`]) is not one, is cut short, corrupt, or
    /// holds an inconsistent state.
    #[error("analytics state snapshot: {0}")]
    StateSnapshot(String),
    /// A state snapshot has a format version this build does not read.
    #[error(
        "analytics state snapshot has format version {found}; this build reads version {known}"
    )]
    StateSnapshotVersion {
        /// Version found.
        found: u32,
        /// Version this build reads.
        known: u32,
    },
    /// A state snapshot was taken by analytics that keep different things: another IOC set
    /// (the records from indicator IPs were picked with it) or another
    /// `max_events_per_context`.
    #[error("analytics state snapshot was taken with {0} than these analytics have")]
    StateSnapshotMismatch(&'static str),
}
