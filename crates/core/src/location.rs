//! Where a record came from.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The source position of one record: file, 1-based line where the record starts (for a JSON
/// array, the element index), and the record's own id when it has one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct Location {
    /// The input path as given (`-` for stdin). Shared between the records of one file.
    pub file: Arc<str>,
    /// 1-based line where the record starts; for records inside a JSON array, the element index.
    pub line: u64,
    /// The record's own id (`Id`, `id`, `RecordId`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}
