//! Opening the store.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::error::{StoreError, sql};
use crate::schema;

/// The database file created inside the state directory.
pub const DB_FILE_NAME: &str = "stormwatch.sqlite";

/// The embedded store: one SQLite database in a state directory.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Open (creating if needed) `dir/stormwatch.sqlite`, creating `dir` too, and apply the
    /// schema migrations.
    ///
    /// # Errors
    /// The directory or database cannot be created or opened, or the database was written by a
    /// newer stormwatch ([`StoreError::TooNew`]).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DB_FILE_NAME);
        let mut conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql("set synchronous"))?;
        schema::migrate(&mut conn, &path)?;
        Ok(Store { conn, path })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    ///
    /// # Errors
    /// The pragma cannot be read.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql("read schema version"))
    }
}

/// Now, in nanoseconds since the epoch (0 if the clock is before 1970).
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
