//! Errors that stop a read. Record-level problems are not errors of the run: they become
//! located [`stormwatch_core::RecordError`]s in [`stormwatch_core::InputStats`].

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why reading could not go on.
#[derive(Debug, Error)]
pub enum ReadError {
    /// An input that cannot be opened at all (missing, unreadable, a directory that cannot be
    /// listed). The command line maps this to exit code 2.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The path as given or found while walking a directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `--input-format` named no known format.
    #[error("unknown input format {0:?} (expected one of: {names})", names = crate::InputFormat::NAMES)]
    UnknownFormat(String),
    /// The worker thread pool could not be started.
    #[error("cannot start worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}
