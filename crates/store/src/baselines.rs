//! Baseline snapshots: opaque, versioned blobs stored under a key.

use rusqlite::OptionalExtension;
use stormwatch_core::Timestamp;

use crate::error::{StoreError, sql};
use crate::store::{Store, now_nanos};

/// A stored baseline snapshot. The store does not interpret `data`; its owner does (the
/// analytics crate serialises its snapshot as versioned JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineBlob {
    /// The owner's format version.
    pub version: u32,
    /// When it was saved (UTC).
    pub saved_at: Timestamp,
    /// The snapshot bytes.
    pub data: Vec<u8>,
}

impl Store {
    /// Save (replace) the snapshot stored under `key`.
    ///
    /// # Errors
    /// The write fails.
    pub fn save_baseline(&mut self, key: &str, version: u32, data: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO baselines (key, version, saved_at, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET version = ?2, saved_at = ?3, data = ?4",
                rusqlite::params![key, version, now_nanos(), data],
            )
            .map_err(sql("save baseline"))?;
        Ok(())
    }

    /// Load the snapshot stored under `key`, if any.
    ///
    /// # Errors
    /// The read fails.
    pub fn load_baseline(&self, key: &str) -> Result<Option<BaselineBlob>, StoreError> {
        self.conn
            .query_row(
                "SELECT version, saved_at, data FROM baselines WHERE key = ?1",
                [key],
                |r| {
                    Ok(BaselineBlob {
                        version: r.get(0)?,
                        saved_at: Timestamp::from_nanos(r.get(1)?),
                        data: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(sql("load baseline"))
    }

    /// Remove the snapshot stored under `key`; returns whether one was there.
    ///
    /// # Errors
    /// The write fails.
    pub fn delete_baseline(&mut self, key: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM baselines WHERE key = ?1", [key])
            .map_err(sql("delete baseline"))?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn save_replace_load_delete() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        assert!(s.load_baseline("analytics").unwrap().is_none());
        s.save_baseline("analytics", 1, b"one").unwrap();
        s.save_baseline("analytics", 2, b"two").unwrap();
        let b = s.load_baseline("analytics").unwrap().unwrap();
        assert_eq!((b.version, b.data.as_slice()), (2, &b"two"[..]));
        assert!(b.saved_at > Timestamp::EPOCH);
        assert!(s.delete_baseline("analytics").unwrap());
        assert!(s.load_baseline("analytics").unwrap().is_none());
    }
}
