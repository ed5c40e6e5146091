//! Detections: batch insert, query by time range and level.

use stormwatch_core::{Detection, Level, Timestamp};

use crate::error::{StoreError, sql};
use crate::store::Store;

/// Which stored detections to return. `Default` returns all of them, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetectionQuery {
    /// Only detections at or after this time.
    pub from: Option<Timestamp>,
    /// Only detections before this time.
    pub to: Option<Timestamp>,
    /// Only detections at or above this level.
    pub min_level: Option<Level>,
    /// Only detections of this rule id.
    pub rule_id: Option<String>,
    /// At most this many.
    pub limit: Option<u32>,
}

pub(crate) fn level_number(l: Level) -> i64 {
    match l {
        Level::Informational => 0,
        Level::Low => 1,
        Level::Medium => 2,
        Level::High => 3,
        Level::Critical => 4,
    }
}

pub(crate) fn level_from_number(n: i64) -> Level {
    match n {
        i64::MIN..=0 => Level::Informational,
        1 => Level::Low,
        2 => Level::Medium,
        3 => Level::High,
        _ => Level::Critical,
    }
}

impl Store {
    /// Insert a batch of detections in one transaction; returns how many were inserted.
    ///
    /// # Errors
    /// A detection cannot be encoded or the write fails (nothing of the batch is kept).
    pub fn insert_detections(&self, batch: &[Detection]) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(sql("begin insert"))?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO detections (ts_nanos, level, rule_id, source, tenant, user,
                     mailbox, ip, session_id, app_id, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(sql("prepare insert"))?;
            for d in batch {
                let json = serde_json::to_string(d).map_err(|source| StoreError::Json {
                    what: "encode detection",
                    source,
                })?;
                st.execute(rusqlite::params![
                    d.timestamp.nanos(),
                    level_number(d.level),
                    d.rule_id,
                    d.source.to_string(),
                    d.tenant,
                    d.user,
                    d.mailbox,
                    d.ip,
                    d.session_id,
                    d.app_id,
                    json
                ])
                .map_err(sql("insert detection"))?;
            }
        }
        tx.commit().map_err(sql("commit insert"))?;
        Ok(batch.len())
    }

    /// Stored detections matching `q`, oldest first (ties in insertion order).
    ///
    /// # Errors
    /// The read fails or a stored row cannot be decoded.
    pub fn detections(&self, q: &DetectionQuery) -> Result<Vec<Detection>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT json FROM detections
                 WHERE ts_nanos >= ?1 AND ts_nanos < ?2 AND level >= ?3
                   AND (?4 IS NULL OR rule_id = ?4)
                 ORDER BY ts_nanos, id LIMIT ?5",
            )
            .map_err(sql("prepare query"))?;
        let rows = st
            .query_map(
                rusqlite::params![
                    q.from.map_or(i64::MIN, Timestamp::nanos),
                    q.to.map_or(i64::MAX, Timestamp::nanos),
                    q.min_level.map_or(0, level_number),
                    q.rule_id,
                    q.limit.map_or(-1, i64::from),
                ],
                |r| r.get::<_, String>(0),
            )
            .map_err(sql("query detections"))?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(sql("read detection"))?;
            out.push(
                serde_json::from_str(&json).map_err(|source| StoreError::Json {
                    what: "decode detection",
                    source,
                })?,
            );
        }
        Ok(out)
    }

    /// How many detections are stored.
    ///
    /// # Errors
    /// The read fails.
    pub fn detection_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM detections", [], |r| r.get(0))
            .map_err(sql("count detections"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
