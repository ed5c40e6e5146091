//! The sinks' outbox (what each sink still has to deliver) and dead letters (what it gave up
//! on, until replayed).

use rusqlite::OptionalExtension;
use stormwatch_core::Timestamp;

use crate::error::{StoreError, sql};
use crate::store::{Tx, now_nanos};

/// One message waiting for a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Its row.
    pub id: i64,
    /// The sink's name.
    pub sink: String,
    /// The alert it is about (the idempotency key).
    pub alert_id: String,
    /// `alert.raised`, `alert.updated`, `alert.withdrawn`.
    pub event: String,
    /// The message (JSON).
    pub payload: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Bumped whenever a newer message replaces this one before delivery.
    pub version: i64,
    /// The last failure.
    pub last_error: Option<String>,
}

/// One message a sink gave up on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    /// Its row.
    pub id: i64,
    /// The sink.
    pub sink: String,
    /// The alert.
    pub alert_id: String,
    /// The kind of message.
    pub event: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last one failed.
    pub last_error: String,
    /// When it was given up.
    pub failed_at: Timestamp,
    /// The message (JSON).
    pub payload: String,
}

fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl Tx<'_> {
    /// Queue a message about `alert_id` for `sink`. A message about the same alert still
    /// waiting for that sink is replaced (the newest revision is what matters), keeping its
    /// place and attempts; the first message's kind is kept when it was `alert.raised` and
    /// the new one is an update.
    ///
    /// # Errors
    /// The write fails.
    pub fn enqueue(
        &self,
        sink: &str,
        alert_id: &str,
        event: &str,
        payload: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO sink_outbox (sink, alert_id, event, payload, next_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5)
                 ON CONFLICT(sink, alert_id) DO UPDATE SET payload = ?4, version = version + 1,
                   event = CASE WHEN event = 'alert.raised' AND ?3 = 'alert.updated'
                           THEN event ELSE ?3 END",
            )
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    sink,
                    alert_id,
                    event,
                    payload,
                    now_nanos()
                ])
            })
            .map_err(sql("enqueue"))?;
        Ok(())
    }

    /// Messages due for `sink` at `now` (ns), oldest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn due(&self, sink: &str, now: i64, limit: u32) -> Result<Vec<OutboxItem>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, sink, alert_id, event, payload, attempts, version, last_error
                 FROM sink_outbox WHERE sink = ?1 AND next_at <= ?2 ORDER BY id LIMIT ?3",
            )
            .map_err(sql("read outbox"))?;
        let rows = st
            .query_map(rusqlite::params![sink, now, limit], |r| {
                Ok(OutboxItem {
                    id: r.get(0)?,
                    sink: r.get(1)?,
                    alert_id: r.get(2)?,
                    event: r.get(3)?,
                    payload: r.get(4)?,
                    attempts: count(r.get(5)?),
                    version: r.get(6)?,
                    last_error: r.get(7)?,
                })
            })
            .map_err(sql("read outbox"))?;
        rows.collect::<Result<_, _>>().map_err(sql("read outbox"))
    }

    /// When the next message of `sink` is due (ns), if it has any.
    ///
    /// # Errors
    /// The read fails.
    pub fn next_due(&self, sink: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .prepare_cached("SELECT MIN(next_at) FROM sink_outbox WHERE sink = ?1")
            .and_then(|mut st| st.query_row([sink], |r| r.get(0)))
            .map_err(sql("read outbox"))
    }

    /// A message was delivered: drop it, unless a newer one replaced it meanwhile (that one
    /// stays, due at once).
    ///
    /// # Errors
    /// The write fails.
    pub fn delivered(&self, item: &OutboxItem) -> Result<(), StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM sink_outbox WHERE id = ?1 AND version = ?2")
            .and_then(|mut st| st.execute(rusqlite::params![item.id, item.version]))
            .map_err(sql("mark delivered"))?;
        if n == 0 {
            self.conn
                .prepare_cached(
                    "UPDATE sink_outbox SET attempts = 0, next_at = 0, last_error = NULL,
                     event = CASE WHEN event = 'alert.raised' THEN 'alert.updated' ELSE event END
                     WHERE id = ?1",
                )
                .and_then(|mut st| st.execute([item.id]))
                .map_err(sql("mark delivered"))?;
        }
        Ok(())
    }

    /// An attempt failed: try again at `next_at` (ns).
    ///
    /// # Errors
    /// The write fails.
    pub fn attempt_failed(
        &self,
        item: &OutboxItem,
        error: &str,
        next_at: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE sink_outbox SET attempts = attempts + 1, last_error = ?2, next_at = ?3
                 WHERE id = ?1",
            )
            .and_then(|mut st| st.execute(rusqlite::params![item.id, error, next_at]))
            .map_err(sql("record failed attempt"))?;
        Ok(())
    }

    /// Give up on a message: move it to the dead letters (unless a newer one replaced it
    /// meanwhile: that one is tried afresh).
    ///
    /// # Errors
    /// The write fails.
    pub fn dead_letter(&self, item: &OutboxItem, error: &str) -> Result<(), StoreError> {
        let current: Option<i64> = self
            .conn
            .query_row(
                "SELECT version FROM sink_outbox WHERE id = ?1",
                [item.id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("read outbox"))?;
        if current != Some(item.version) {
            return self.delivered(item);
        }
        self.conn
            .execute(
                "INSERT INTO sink_dead_letters (sink, alert_id, event, payload, attempts,
                 last_error, failed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    item.sink,
                    item.alert_id,
                    item.event,
                    item.payload,
                    item.attempts + 1,
                    error,
                    now_nanos()
                ],
            )
            .map_err(sql("dead-letter"))?;
        self.conn
            .execute("DELETE FROM sink_outbox WHERE id = ?1", [item.id])
            .map_err(sql("dead-letter"))?;
        Ok(())
    }

    /// Dead letters, of one sink or all, oldest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn dead_letters(
        &self,
        sink: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, sink, alert_id, event, attempts, last_error, failed_at, payload
                 FROM sink_dead_letters WHERE (?1 IS NULL OR sink = ?1) ORDER BY id LIMIT ?2",
            )
            .map_err(sql("read dead letters"))?;
        let rows = st
            .query_map(rusqlite::params![sink, limit], |r| {
                Ok(DeadLetter {
                    id: r.get(0)?,
                    sink: r.get(1)?,
                    alert_id: r.get(2)?,
                    event: r.get(3)?,
                    attempts: count(r.get(4)?),
                    last_error: r.get(5)?,
                    failed_at: Timestamp::from_nanos(r.get(6)?),
                    payload: r.get(7)?,
                })
            })
            .map_err(sql("read dead letters"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("read dead letters"))
    }

    /// Put dead letters (of one sink or all) back in the outbox, due at once; returns how
    /// many messages go out again: the newest dead letter of each alert (older ones about the
    /// same alert are superseded), unless a message about it already waits (that one is newer).
    ///
    /// # Errors
    /// The write fails.
    pub fn replay_dead_letters(&self, sink: Option<&str>) -> Result<usize, StoreError> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO sink_outbox (sink, alert_id, event, payload, next_at,
                 created_at)
                 SELECT sink, alert_id, event, payload, 0, ?2 FROM sink_dead_letters
                 WHERE ?1 IS NULL OR sink = ?1 ORDER BY id DESC",
                rusqlite::params![sink, now_nanos()],
            )
            .map_err(sql("replay dead letters"))?;
        self.conn
            .execute(
                "DELETE FROM sink_dead_letters WHERE ?1 IS NULL OR sink = ?1",
                rusqlite::params![sink],
            )
            .map_err(sql("replay dead letters"))?;
        Ok(n)
    }

    /// Per sink: messages waiting and dead letters.
    ///
    /// # Errors
    /// The read fails.
    pub fn sink_depths(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT sink, SUM(w), SUM(d) FROM (
                   SELECT sink, 1 AS w, 0 AS d FROM sink_outbox
                   UNION ALL SELECT sink, 0, 1 FROM sink_dead_letters)
                 GROUP BY sink ORDER BY sink",
            )
            .map_err(sql("count outbox"))?;
        let rows = st
            .query_map([], |r| {
                let w: i64 = r.get(1)?;
                let d: i64 = r.get(2)?;
                Ok((
                    r.get(0)?,
                    u64::try_from(w).unwrap_or(0),
                    u64::try_from(d).unwrap_or(0),
                ))
            })
            .map_err(sql("count outbox"))?;
        rows.collect::<Result<_, _>>().map_err(sql("count outbox"))
    }
}
