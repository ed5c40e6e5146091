//! The store's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The state directory could not be created.
    #[error("cannot create state directory {path}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("cannot open store {path}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer stormwatch.
    #[error("store {path} has schema version {found}; this stormwatch knows up to {known}")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// `user_version` found.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// An SQL statement failed.
    #[error("store: {what}")]
    Sql {
        /// What was being done.
        what: &'static str,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value (detection, typed baseline) could not be encoded or decoded.
    #[error("store: cannot {what}")]
    Json {
        /// What was being done (`encode detection`, `decode baseline`, …).
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A value given to the store is not valid (an unknown status name, an empty token name).
    #[error("{0}")]
    Invalid(String),
    /// A value does not fit the column (e.g. an offset above `i64::MAX`).
    #[error("store: {0} out of range")]
    OutOfRange(&'static str),
}

pub(crate) fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sql { what, source }
}
