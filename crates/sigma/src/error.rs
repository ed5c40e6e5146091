//! Errors of the Sigma engine.

use std::fmt;
use std::path::PathBuf;

/// A failure that stops loading altogether (as opposed to one rule failing).
#[derive(Debug, thiserror::Error)]
pub enum SigmaError {
    /// A rule path could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A saved correlator state could not be read back.
    #[error("correlator snapshot: {reason}")]
    Snapshot {
        /// Why (corrupt bytes, another format version).
        reason: String,
    },
    /// A processing pipeline is invalid.
    #[error("pipeline {name}: {reason}")]
    Pipeline {
        /// Pipeline file or name.
        name: String,
        /// Why.
        reason: String,
    },
}

/// One rule (or rule file) that could not be loaded; the other rules still load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLoadError {
    /// The file (or source name) the rule came from.
    pub file: String,
    /// The rule's title or id, when known.
    pub rule: Option<String>,
    /// The YAML key concerned (`detection.condition`, `detection.selection.Image|foo`, …), when known.
    pub key: Option<String>,
    /// 1-based line of that key in the file, when it could be located.
    pub line: Option<usize>,
    /// Why the rule was rejected.
    pub reason: String,
}

impl fmt::Display for RuleLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, ": rule \"{rule}\"")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key \"{key}\"")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for RuleLoadError {}

/// Why one detection could not be compiled (turned into a [`RuleLoadError`] by the loader).
#[derive(Debug, Clone)]
pub(crate) struct CompileError {
    pub(crate) key: Option<String>,
    pub(crate) reason: String,
}

impl CompileError {
    pub(crate) fn new(key: Option<&str>, reason: impl Into<String>) -> Self {
        CompileError {
            key: key.map(str::to_string),
            reason: reason.into(),
        }
    }
}
