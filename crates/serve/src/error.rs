//! The service's error type.

use std::path::PathBuf;

/// What can stop the service or one of its operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration file cannot be read.
    #[error("cannot read configuration {path}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is not valid TOML or does not fit the schema.
    #[error("configuration {path}: {message}")]
    ConfigParse {
        /// The file (`-` for text given directly).
        path: PathBuf,
        /// What is wrong and where (TOML line and column, the key).
        message: String,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("configuration: {key}: {message}")]
    ConfigValue {
        /// The key (`ingest.max_body`, `sinks[1].url`, …).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] stormwatch_store::StoreError),
    /// The detector failed.
    #[error(transparent)]
    Detect(#[from] stormwatch_detect::DetectError),
    /// Reading records failed as a whole (not one bad record).
    #[error(transparent)]
    Read(#[from] stormwatch_read::ReadError),
    /// A file or socket operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The listening address cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A part of the service stopped (a thread ended, a channel closed).
    #[error("the {0} stopped")]
    Stopped(&'static str),
    /// A sink could not be set up.
    #[error("sink {name}: {message}")]
    Sink {
        /// The sink's name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

impl ServeError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
        let what = what.into();
        move |source| ServeError::Io { what, source }
    }
}
