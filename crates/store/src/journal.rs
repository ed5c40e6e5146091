//! The ingest journal: accepted bodies and file chunks in the order they were made durable,
//! the ids of records already accepted, per-source health and located errors, and how far
//! each watched file was read.

use rusqlite::OptionalExtension;
use stormwatch_core::Timestamp;

use crate::error::{StoreError, sql};
use crate::store::{Tx, now_nanos};

/// A batch to append to the journal.
#[derive(Debug, Clone, Copy)]
pub struct NewBatch<'a> {
    /// Its id, when the caller took one from [`Tx::next_batch_id`] onwards (ids given out
    /// before the batch is made, in the order batches are appended); `None` for the next.
    pub id: Option<i64>,
    /// The source it came from (an HTTP client's `source`, a watched folder's name).
    pub source: &'a str,
    /// `http` or `file`.
    pub kind: &'a str,
    /// The name its records' locations carry (a file's path; for HTTP, filled in from the
    /// batch id when empty).
    pub name: &'a str,
    /// The line of `name` its first line is.
    pub first_line: u64,
    /// The last line it holds.
    pub last_line: u64,
    /// Records to process (new ones).
    pub records: u64,
    /// Records that could not be read.
    pub skipped: u64,
    /// Records already accepted earlier, left out.
    pub duplicates: u64,
    /// A forced input format, when one was asked for.
    pub format: Option<&'a str>,
    /// The newest record time in it.
    pub newest_event: Option<Timestamp>,
    /// Lines (as the reader numbers them inside `body`) of the records left out as
    /// duplicates.
    pub dup_lines: &'a [u64],
    /// The bytes as received (compressed or not: the reader sniffs).
    pub body: &'a [u8],
}

/// A batch read back from the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    /// Its position in the journal.
    pub id: i64,
    /// Its source.
    pub source: String,
    /// `http` or `file`.
    pub kind: String,
    /// The name its records' locations carry.
    pub name: String,
    /// The line of `name` its first line is.
    pub first_line: u64,
    /// The last line it holds.
    pub last_line: u64,
    /// When it was made durable.
    pub received_at: Timestamp,
    /// Records to process.
    pub records: u64,
    /// A forced input format.
    pub format: Option<String>,
    /// Lines inside `body` to leave out (duplicates).
    pub dup_lines: Vec<u64>,
    /// The bytes.
    pub body: Vec<u8>,
}

/// Health of one source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceHealth {
    /// Its name.
    pub source: String,
    /// `http` or `file`.
    pub kind: String,
    /// Batches accepted.
    pub batches: u64,
    /// Records accepted (new).
    pub records: u64,
    /// Records that could not be read.
    pub skipped: u64,
    /// Records sent again, recognised and left out.
    pub duplicates: u64,
    /// Bytes received.
    pub bytes: u64,
    /// First batch.
    pub first_received: Option<Timestamp>,
    /// Last batch.
    pub last_received: Option<Timestamp>,
    /// Newest record time seen.
    pub newest_event: Option<Timestamp>,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// When.
    pub last_error_at: Option<Timestamp>,
}

/// One located record error kept for a source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceError {
    /// When it was seen.
    pub at: Timestamp,
    /// The file or batch name.
    pub file: String,
    /// The line (or array element).
    pub line: u64,
    /// The field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why.
    pub reason: String,
}

/// Located errors kept per source (the newest).
pub const ERRORS_KEPT: i64 = 200;

/// A watched file's identity and how far it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchFile {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Path it was last seen under.
    pub path: String,
    /// The watched folder's source name.
    pub source: String,
    /// Bytes hashed into `head_hash`.
    pub head_len: u64,
    /// Hash of the first `head_len` bytes (tells a reused inode from the same file).
    pub head_hash: Vec<u8>,
    /// Bytes read (the next record starts here).
    pub offset: u64,
    /// Lines read (the next record's line is `line + 1`).
    pub line: u64,
    /// Size when last read.
    pub size: u64,
    /// Modification time when last read (ns).
    pub mtime: i64,
    /// Read whole (a compressed or non-line file): nothing more to read unless it changes.
    pub done: bool,
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(what))
}

fn encode_lines(lines: &[u64]) -> Option<Vec<u8>> {
    if lines.is_empty() {
        return None;
    }
    Some(lines.iter().flat_map(|l| l.to_le_bytes()).collect())
}

fn decode_lines(b: Option<Vec<u8>>) -> Vec<u64> {
    b.map(|b| {
        b.chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                u64::from_le_bytes(a)
            })
            .collect()
    })
    .unwrap_or_default()
}

const BATCH_COLUMNS: &str = "id, source, kind, name, first_line, last_line, received_at, records, \
     format, dup_lines, body";

fn batch_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredBatch> {
    Ok(StoredBatch {
        id: r.get(0)?,
        source: r.get(1)?,
        kind: r.get(2)?,
        name: r.get(3)?,
        first_line: u(r.get(4)?),
        last_line: u(r.get(5)?),
        received_at: Timestamp::from_nanos(r.get(6)?),
        records: u(r.get(7)?),
        format: r.get(8)?,
        dup_lines: decode_lines(r.get(9)?),
        body: r.get(10)?,
    })
}

impl Tx<'_> {
    /// Note that ids accepted from now on are accepted on `day` (days since the epoch, server
    /// clock), for retention. Call before [`Tx::mark_seen`] in each transaction.
    ///
    /// # Errors
    /// The write fails.
    pub fn seen_day(&self, day: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO ingest_seen_days (day, first_id)
                 SELECT ?1, COALESCE(MAX(id), 0) + 1 FROM ingest_seen",
            )
            .and_then(|mut st| st.execute([day]))
            .map_err(sql("note the day"))?;
        Ok(())
    }

    /// Record that the record keyed `key` (a hash of its tenant and id) was accepted. Returns
    /// `false` when it was already.
    ///
    /// # Errors
    /// The write fails.
    pub fn mark_seen(&self, key: &[u8]) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO ingest_seen (key) VALUES (?1)")
            .and_then(|mut st| st.execute([key]))
            .map_err(sql("mark record seen"))?;
        Ok(n == 1)
    }

    /// Append a batch to the journal and count it for its source; returns its id. An HTTP
    /// batch with an empty `name` gets the name `ingest/<id>`.
    ///
    /// # Errors
    /// A count is out of range or the write fails.
    pub fn append_batch(&self, b: &NewBatch<'_>) -> Result<(i64, String), StoreError> {
        let now = now_nanos();
        self.conn
            .prepare_cached(
                "INSERT INTO ingest_batches (source, kind, name, first_line, last_line, received_at,
                 records, skipped, duplicates, format, newest_event, dup_lines, body, id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    b.source,
                    b.kind,
                    b.name,
                    i(b.first_line, "first line").unwrap_or(i64::MAX),
                    i(b.last_line, "last line").unwrap_or(i64::MAX),
                    now,
                    i(b.records, "records").unwrap_or(i64::MAX),
                    i(b.skipped, "skipped").unwrap_or(i64::MAX),
                    i(b.duplicates, "duplicates").unwrap_or(i64::MAX),
                    b.format,
                    b.newest_event.map(Timestamp::nanos),
                    encode_lines(b.dup_lines),
                    b.body,
                    b.id
                ])
            })
            .map_err(sql("append batch"))?;
        let id = self.conn.last_insert_rowid();
        let name = if b.name.is_empty() {
            let name = format!("ingest/{id}");
            self.conn
                .prepare_cached("UPDATE ingest_batches SET name = ?2 WHERE id = ?1")
                .and_then(|mut st| st.execute(rusqlite::params![id, name]))
                .map_err(sql("name batch"))?;
            name
        } else {
            b.name.to_owned()
        };
        Ok((id, name))
    }

    /// Count a batch (or a request that made none) for its source.
    ///
    /// # Errors
    /// The write fails.
    #[allow(clippy::too_many_arguments)]
    pub fn count_source(
        &self,
        source: &str,
        kind: &str,
        batches: u64,
        records: u64,
        skipped: u64,
        duplicates: u64,
        bytes: u64,
        newest_event: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let now = now_nanos();
        let (batches, records) = (i(batches, "batches")?, i(records, "records")?);
        let (skipped, duplicates) = (i(skipped, "skipped")?, i(duplicates, "duplicates")?);
        let bytes = i(bytes, "bytes")?;
        self.conn
            .prepare_cached(
                "INSERT INTO ingest_sources (source, kind, batches, records, skipped, duplicates,
                 bytes, first_received, last_received, newest_event)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)
                 ON CONFLICT(source) DO UPDATE SET batches = batches + ?3,
                   records = records + ?4, skipped = skipped + ?5, duplicates = duplicates + ?6,
                   bytes = bytes + ?7, last_received = ?8,
                   first_received = COALESCE(first_received, ?8),
                   newest_event = max(COALESCE(newest_event, ?9), COALESCE(?9, newest_event))",
            )
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    source,
                    kind,
                    batches,
                    records,
                    skipped,
                    duplicates,
                    bytes,
                    now,
                    newest_event.map(Timestamp::nanos)
                ])
            })
            .map_err(sql("count source"))?;
        Ok(())
    }

    /// Keep located record errors of a source (the newest [`ERRORS_KEPT`]) and its last error.
    ///
    /// # Errors
    /// The write fails.
    pub fn record_errors(
        &self,
        source: &str,
        kind: &str,
        errors: &[SourceError],
    ) -> Result<(), StoreError> {
        let Some(last) = errors.last() else {
            return Ok(());
        };
        let now = now_nanos();
        {
            let mut st = self
                .conn
                .prepare_cached(
                    "INSERT INTO ingest_errors (source, at, file, line, field, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(sql("record errors"))?;
            for e in errors.iter().rev().take(ERRORS_KEPT as usize).rev() {
                st.execute(rusqlite::params![
                    source,
                    now,
                    e.file,
                    i(e.line, "line").unwrap_or(i64::MAX),
                    e.field,
                    e.reason
                ])
                .map_err(sql("record errors"))?;
            }
        }
        self.conn
            .execute(
                "DELETE FROM ingest_errors WHERE source = ?1 AND id <=
                 (SELECT id FROM ingest_errors WHERE source = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                rusqlite::params![source, ERRORS_KEPT],
            )
            .map_err(sql("trim errors"))?;
        let msg = match &last.field {
            Some(f) => format!("{}:{}: field {f:?}: {}", last.file, last.line, last.reason),
            None => format!("{}:{}: {}", last.file, last.line, last.reason),
        };
        self.conn
            .execute(
                "INSERT INTO ingest_sources (source, kind, last_error, last_error_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(source) DO UPDATE SET last_error = ?3, last_error_at = ?4",
                rusqlite::params![source, kind, msg, now],
            )
            .map_err(sql("record last error"))?;
        Ok(())
    }

    /// Every source's health, by name.
    ///
    /// # Errors
    /// The read fails.
    pub fn sources(&self) -> Result<Vec<SourceHealth>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT source, kind, batches, records, skipped, duplicates, bytes, first_received,
                 last_received, newest_event, last_error, last_error_at
                 FROM ingest_sources ORDER BY source",
            )
            .map_err(sql("list sources"))?;
        let ts = |v: Option<i64>| v.map(Timestamp::from_nanos);
        let rows = st
            .query_map([], |r| {
                Ok(SourceHealth {
                    source: r.get(0)?,
                    kind: r.get(1)?,
                    batches: u(r.get(2)?),
                    records: u(r.get(3)?),
                    skipped: u(r.get(4)?),
                    duplicates: u(r.get(5)?),
                    bytes: u(r.get(6)?),
                    first_received: ts(r.get(7)?),
                    last_received: ts(r.get(8)?),
                    newest_event: ts(r.get(9)?),
                    last_error: r.get(10)?,
                    last_error_at: ts(r.get(11)?),
                })
            })
            .map_err(sql("list sources"))?;
        rows.collect::<Result<_, _>>().map_err(sql("list sources"))
    }

    /// The newest located errors of a source, newest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn source_errors(&self, source: &str, limit: u32) -> Result<Vec<SourceError>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT at, file, line, field, reason FROM ingest_errors WHERE source = ?1
                 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(sql("list errors"))?;
        let rows = st
            .query_map(rusqlite::params![source, limit], |r| {
                Ok(SourceError {
                    at: Timestamp::from_nanos(r.get(0)?),
                    file: r.get(1)?,
                    line: u(r.get(2)?),
                    field: r.get(3)?,
                    reason: r.get(4)?,
                })
            })
            .map_err(sql("list errors"))?;
        rows.collect::<Result<_, _>>().map_err(sql("list errors"))
    }

    /// The id of the newest batch in the journal (0 when it is empty).
    ///
    /// # Errors
    /// The read fails.
    pub fn journal_head(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM ingest_batches", [], |r| {
                r.get(0)
            })
            .map_err(sql("read journal head"))
    }

    /// The id the next batch appended gets: ids only grow, even when retention has removed
    /// the newest batches.
    ///
    /// # Errors
    /// The read fails.
    pub fn next_batch_id(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT max(COALESCE((SELECT MAX(id) FROM ingest_batches), 0),
                            COALESCE((SELECT seq FROM sqlite_sequence
                                      WHERE name = 'ingest_batches'), 0)) + 1",
                [],
                |r| r.get(0),
            )
            .map_err(sql("read the next batch id"))
    }

    /// Records in the batches after `position`.
    ///
    /// # Errors
    /// The read fails.
    pub fn records_after(&self, position: i64) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT COALESCE(SUM(records), 0) FROM ingest_batches WHERE id > ?1",
                [position],
                |r| r.get(0),
            )
            .map_err(sql("count pending records"))?;
        Ok(u(n))
    }

    /// The first batch after `position`, if any.
    ///
    /// # Errors
    /// The read fails.
    pub fn batch_after(&self, position: i64) -> Result<Option<StoredBatch>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {BATCH_COLUMNS} FROM ingest_batches WHERE id > ?1 ORDER BY id LIMIT 1"
            ))
            .and_then(|mut st| st.query_row([position], batch_row).optional())
            .map_err(sql("read batch"))
    }

    /// The batch holding line `line` of `name` (an HTTP batch's `ingest/<id>`, a watched
    /// file's path), if it is still kept.
    ///
    /// # Errors
    /// The read fails.
    pub fn batch_holding(&self, name: &str, line: u64) -> Result<Option<StoredBatch>, StoreError> {
        let line = i64::try_from(line).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(&format!(
                "SELECT {BATCH_COLUMNS} FROM ingest_batches
                 WHERE name = ?1 AND first_line <= ?2 AND last_line >= ?2
                 ORDER BY first_line DESC, id DESC LIMIT 1"
            ))
            .and_then(|mut st| {
                st.query_row(rusqlite::params![name, line], batch_row)
                    .optional()
            })
            .map_err(sql("find batch"))
    }

    /// A watched file's entry.
    ///
    /// # Errors
    /// The read fails.
    pub fn watch_file(&self, dev: u64, ino: u64) -> Result<Option<WatchFile>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT dev, ino, path, source, head_len, head_hash, offset, line, size, mtime, done
                 FROM watch_files WHERE dev = ?1 AND ino = ?2",
            )
            .and_then(|mut st| {
                st.query_row(
                    rusqlite::params![dev.cast_signed(), ino.cast_signed()],
                    |r| {
                        Ok(WatchFile {
                            dev: r.get::<_, i64>(0)?.cast_unsigned(),
                            ino: r.get::<_, i64>(1)?.cast_unsigned(),
                            path: r.get(2)?,
                            source: r.get(3)?,
                            head_len: u(r.get(4)?),
                            head_hash: r.get(5)?,
                            offset: u(r.get(6)?),
                            line: u(r.get(7)?),
                            size: u(r.get(8)?),
                            mtime: r.get(9)?,
                            done: r.get(10)?,
                        })
                    },
                )
                .optional()
            })
            .map_err(sql("read watched file"))
    }

    /// Save a watched file's entry (in the transaction of the batch that read it).
    ///
    /// # Errors
    /// A value is out of range or the write fails.
    pub fn put_watch_file(&self, f: &WatchFile) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO watch_files (dev, ino, path, source, head_len, head_hash, offset, line,
                 size, mtime, done, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(dev, ino) DO UPDATE SET path = ?3, source = ?4, head_len = ?5,
                 head_hash = ?6, offset = ?7, line = ?8, size = ?9, mtime = ?10, done = ?11,
                 updated_at = ?12",
            )
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    f.dev.cast_signed(),
                    f.ino.cast_signed(),
                    f.path,
                    f.source,
                    i64::try_from(f.head_len).unwrap_or(i64::MAX),
                    f.head_hash,
                    i64::try_from(f.offset).unwrap_or(i64::MAX),
                    i64::try_from(f.line).unwrap_or(i64::MAX),
                    i64::try_from(f.size).unwrap_or(i64::MAX),
                    f.mtime,
                    f.done,
                    now_nanos()
                ])
            })
            .map_err(sql("save watched file"))?;
        Ok(())
    }

    /// Forget watched files not seen since `before` (ns); returns how many.
    ///
    /// # Errors
    /// The write fails.
    pub fn forget_watch_files(&self, before: i64) -> Result<usize, StoreError> {
        self.conn
            .execute("DELETE FROM watch_files WHERE updated_at < ?1", [before])
            .map_err(sql("forget watched files"))
    }

    /// Mark watched files as seen now (they still exist), so they are not forgotten.
    ///
    /// # Errors
    /// The write fails.
    pub fn touch_watch_file(&self, dev: u64, ino: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE watch_files SET updated_at = ?3 WHERE dev = ?1 AND ino = ?2")
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    dev.cast_signed(),
                    ino.cast_signed(),
                    now_nanos()
                ])
            })
            .map_err(sql("touch watched file"))?;
        Ok(())
    }
}
