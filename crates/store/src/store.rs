//! Opening the store.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::error::{StoreError, sql};
use crate::schema;

/// The database file created inside the state directory.
pub const DB_FILE_NAME: &str = "stormwatch.sqlite";

/// How to open the store.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Every commit is on disk when it returns (`synchronous = FULL`: the write-ahead log is
    /// synced at each commit). Off, a commit survives the process being killed but not the
    /// machine losing power (`synchronous = NORMAL`).
    pub durable: bool,
    /// SQLite's page cache for this connection, in KiB (SQLite's default is 2 MiB).
    pub cache_kib: Option<u32>,
    /// A lock shared by the connections of one process, held by [`Store::write`] for the
    /// whole transaction: writers then queue on it and wake as soon as it is free, instead of
    /// polling SQLite's busy handler (which sleeps up to 100 ms between tries).
    pub write_lock: Option<Arc<Mutex<()>>>,
    /// Commits do not copy the write-ahead log into the database (SQLite does so at a commit
    /// once the log holds 1,000 pages, in the committing thread); the owner calls
    /// [`Store::checkpoint_wal`] from a thread of its own instead.
    pub manual_wal_checkpoint: bool,
}

/// The embedded store: one SQLite database in a state directory.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    write_lock: Option<Arc<Mutex<()>>>,
}

impl Store {
    /// Open (creating if needed) `dir/stormwatch.sqlite`, creating `dir` too, and apply the
    /// schema migrations.
    ///
    /// # Errors
    /// The directory or database cannot be created or opened, or the database was written by a
    /// newer stormwatch ([`StoreError::TooNew`]).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, &OpenOptions::default())
    }

    /// [`Store::open`] with options: a service's connections ask for durable commits.
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with(dir: &Path, opts: &OpenOptions) -> Result<Store, StoreError> {
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
        conn.pragma_update(
            None,
            "synchronous",
            if opts.durable { "FULL" } else { "NORMAL" },
        )
        .map_err(sql("set synchronous"))?;
        if opts.manual_wal_checkpoint {
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(sql("set wal_autocheckpoint"))?;
        }
        if let Some(kib) = opts.cache_kib {
            conn.pragma_update(None, "cache_size", -i64::from(kib))
                .map_err(sql("set cache size"))?;
        }
        schema::migrate(&mut conn, &path)?;
        Ok(Store {
            conn,
            path,
            write_lock: opts.write_lock.clone(),
        })
    }

    /// Run `f` in one transaction: everything it writes is committed together, or nothing
    /// when it fails.
    ///
    /// # Errors
    /// What `f` returns, or the transaction cannot begin or commit.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _held = self
            .write_lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql("begin transaction"))?;
        let out = f(&Tx { conn: &tx })?;
        tx.commit().map_err(sql("commit"))?;
        Ok(out)
    }

    /// The same queries as a [`Tx`], each in its own transaction (for reads, and writes of
    /// one statement).
    #[must_use]
    pub fn read(&self) -> Tx<'_> {
        Tx { conn: &self.conn }
    }

    /// Copy what the write-ahead log holds into the database, without waiting for readers or
    /// writers (SQLite's passive checkpoint). Returns the log's frames and those copied.
    ///
    /// # Errors
    /// The checkpoint fails.
    pub fn checkpoint_wal(&self) -> Result<(i64, i64), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .map_err(sql("checkpoint the write-ahead log"))
    }

    /// Copy the whole write-ahead log into the database and truncate it to nothing (SQLite's
    /// truncating checkpoint), holding the process's write lock: this process's writers wait,
    /// readers are waited for up to the busy timeout. Under a steady stream of commits a
    /// passive checkpoint never catches up with the last one, and the log would grow without
    /// bound. Returns whether it completed (false: a reader kept it from finishing).
    ///
    /// # Errors
    /// The checkpoint fails.
    pub fn truncate_wal(&self) -> Result<bool, StoreError> {
        let _held = self
            .write_lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|busy| busy == 0)
            .map_err(sql("truncate the write-ahead log"))
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

/// The writes and queries of the service's tables, inside a [`Store::write`] transaction or
/// directly on the store ([`Store::read`]).
#[derive(Debug, Clone, Copy)]
pub struct Tx<'a> {
    pub(crate) conn: &'a Connection,
}

/// Now, in nanoseconds since the epoch (0 if the clock is before 1970).
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
