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

/// The `version` recorded for snapshots saved through the typed [`Store::save_baseline`].
pub const JSON_BASELINE_VERSION: u32 = 1;

impl Store {
    /// Save (replace) a serialisable snapshot under `key`, as JSON (the owner's type carries
    /// its own format version; e.g. the analytics' `BaselineSnapshot`).
    ///
    /// # Errors
    /// The value cannot be encoded or the write fails.
    pub fn save_baseline<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let data = serde_json::to_vec(value).map_err(|source| StoreError::Json {
            what: "encode baseline",
            source,
        })?;
        self.save_baseline_blob(key, JSON_BASELINE_VERSION, &data)
    }

    /// Load the snapshot saved under `key` with [`Store::save_baseline`], if any.
    ///
    /// # Errors
    /// The read fails or the stored JSON does not decode as `T`.
    pub fn load_baseline<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.load_baseline_blob(key)? {
            None => Ok(None),
            Some(b) => {
                serde_json::from_slice(&b.data)
                    .map(Some)
                    .map_err(|source| StoreError::Json {
                        what: "decode baseline",
                        source,
                    })
            }
        }
    }

    /// Save (replace) raw snapshot bytes with the owner's format `version` under `key`.
    ///
    /// # Errors
    /// The write fails.
    pub fn save_baseline_blob(
        &self,
        key: &str,
        version: u32,
        data: &[u8],
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO baselines (key, version, saved_at, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET version = ?2, saved_at = ?3, data = ?4",
                rusqlite::params![key, version, now_nanos(), data],
            )
            .map_err(sql("save baseline"))?;
        Ok(())
    }

    /// Load the raw snapshot stored under `key`, if any.
    ///
    /// # Errors
    /// The read fails.
    pub fn load_baseline_blob(&self, key: &str) -> Result<Option<BaselineBlob>, StoreError> {
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
    pub fn delete_baseline(&self, key: &str) -> Result<bool, StoreError> {
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
        let s = Store::open(dir.path()).unwrap();
        assert!(s.load_baseline_blob("analytics").unwrap().is_none());
        s.save_baseline_blob("analytics", 1, b"one").unwrap();
        s.save_baseline_blob("analytics", 2, b"two").unwrap();
        let b = s.load_baseline_blob("analytics").unwrap().unwrap();
        assert_eq!((b.version, b.data.as_slice()), (2, &b"two"[..]));
        assert!(b.saved_at > Timestamp::EPOCH);
        assert!(s.delete_baseline("analytics").unwrap());
        assert!(s.load_baseline_blob("analytics").unwrap().is_none());
    }

    #[test]
    fn typed_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let v = std::collections::BTreeMap::from([("a".to_owned(), 3u32)]);
        s.save_baseline("k", &v).unwrap();
        let back: Option<std::collections::BTreeMap<String, u32>> = s.load_baseline("k").unwrap();
        assert_eq!(back, Some(v));
        assert!(s.load_baseline::<Vec<u8>>("k").is_err());
        assert!(s.load_baseline::<u32>("missing").unwrap().is_none());
    }
}
