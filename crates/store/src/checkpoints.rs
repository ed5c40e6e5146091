//! Ingest checkpoints: how far each input file has been read.

use rusqlite::OptionalExtension;

use crate::error::{StoreError, sql};
use crate::store::{Store, now_nanos};

/// One ingest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The input file (as given to the reader).
    pub file: String,
    /// Byte offset up to which records were fully processed.
    pub offset: u64,
}

impl Store {
    /// Record that `file` has been processed up to `offset`.
    ///
    /// # Errors
    /// The write fails, or `offset` exceeds `i64::MAX`.
    pub fn set_checkpoint(&self, file: &str, offset: u64) -> Result<(), StoreError> {
        let off = i64::try_from(offset).map_err(|_| StoreError::OutOfRange("checkpoint offset"))?;
        self.conn
            .execute(
                "INSERT INTO checkpoints (file, offset, saved_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(file) DO UPDATE SET offset = ?2, saved_at = ?3",
                rusqlite::params![file, off, now_nanos()],
            )
            .map_err(sql("save checkpoint"))?;
        Ok(())
    }

    /// The checkpoint of `file`, if any.
    ///
    /// # Errors
    /// The read fails.
    pub fn checkpoint(&self, file: &str) -> Result<Option<u64>, StoreError> {
        let v: Option<i64> = self
            .conn
            .query_row(
                "SELECT offset FROM checkpoints WHERE file = ?1",
                [file],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("load checkpoint"))?;
        Ok(v.map(|o| u64::try_from(o).unwrap_or(0)))
    }

    /// Every checkpoint, by file name.
    ///
    /// # Errors
    /// The read fails.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT file, offset FROM checkpoints ORDER BY file")
            .map_err(sql("list checkpoints"))?;
        let rows = st
            .query_map([], |r| {
                let off: i64 = r.get(1)?;
                Ok(Checkpoint {
                    file: r.get(0)?,
                    offset: u64::try_from(off).unwrap_or(0),
                })
            })
            .map_err(sql("list checkpoints"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(sql("list checkpoints"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn set_and_update() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.checkpoint("a.ndjson").unwrap(), None);
        s.set_checkpoint("a.ndjson", 10).unwrap();
        s.set_checkpoint("a.ndjson", 42).unwrap();
        s.set_checkpoint("b.ndjson", 7).unwrap();
        assert_eq!(s.checkpoint("a.ndjson").unwrap(), Some(42));
        let all = s.checkpoints().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[1],
            Checkpoint {
                file: "b.ndjson".into(),
                offset: 7
            }
        );
        assert!(s.set_checkpoint("c", u64::MAX).is_err());
    }
}
