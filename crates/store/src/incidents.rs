//! Incidents: alerts grouped by actor context, updated as alerts join them, with a triage
//! status of their own.

use rusqlite::OptionalExtension;
use stormwatch_core::{Level, Timestamp, detection_id};

use crate::alerts::{DEFAULT_PAGE, MAX_PAGE, Status, Upserted};
use crate::detections::level_number;
use crate::error::{StoreError, sql};
use crate::store::{Tx, now_nanos};

/// An incident as the detector describes it. The store indexes the fields named here and
/// keeps `body` (the whole incident as JSON) as given.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecord {
    /// Stable id.
    pub id: String,
    /// Highest level of its alerts.
    pub level: Level,
    /// 0–100.
    pub score: u32,
    /// First record.
    pub first: Timestamp,
    /// Last record.
    pub last: Timestamp,
    /// One-line summary.
    pub title: String,
    /// The whole incident.
    pub body: serde_json::Value,
}

/// One stored incident.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIncident {
    /// Order of first appearance (the API's cursor).
    pub seq: i64,
    /// The incident as last described.
    pub record: IncidentRecord,
    /// Triage status.
    pub status: Status,
    /// Who set it last.
    pub status_by: Option<String>,
    /// When.
    pub status_at: Option<Timestamp>,
    /// The detector no longer groups these alerts this way.
    pub removed: bool,
    /// First seen (server clock).
    pub created_at: Timestamp,
    /// Last changed (server clock).
    pub updated_at: Timestamp,
}

/// Which incidents to list. `Default`: every current incident, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// At or above this level.
    pub min_level: Option<Level>,
    /// In this status.
    pub status: Option<Status>,
    /// Removed incidents too.
    pub include_removed: bool,
    /// Only incidents older than this cursor (a [`StoredIncident::seq`]).
    pub before: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    pub limit: Option<u32>,
}

/// One page of incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentPage {
    /// Newest first.
    pub incidents: Vec<StoredIncident>,
    /// The cursor of the next page, when there may be one.
    pub next: Option<i64>,
}

const COLUMNS: &str = "seq, id, level, score, first_ns, last_ns, title, json, status, status_by, \
     status_at, removed, created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredIncident, String)> {
    let level: i64 = r.get(2)?;
    let score: i64 = r.get(3)?;
    let status: String = r.get(8)?;
    Ok((
        StoredIncident {
            seq: r.get(0)?,
            record: IncidentRecord {
                id: r.get(1)?,
                level: crate::detections::level_from_number(level),
                score: u32::try_from(score).unwrap_or(0),
                first: Timestamp::from_nanos(r.get(4)?),
                last: Timestamp::from_nanos(r.get(5)?),
                title: r.get(6)?,
                body: serde_json::Value::Null,
            },
            status: status.parse().unwrap_or(Status::New),
            status_by: r.get(9)?,
            status_at: r.get::<_, Option<i64>>(10)?.map(Timestamp::from_nanos),
            removed: r.get(11)?,
            created_at: Timestamp::from_nanos(r.get(12)?),
            updated_at: Timestamp::from_nanos(r.get(13)?),
        },
        r.get(7)?,
    ))
}

fn decode((mut i, json): (StoredIncident, String)) -> Result<StoredIncident, StoreError> {
    i.record.body = serde_json::from_str(&json).map_err(|source| StoreError::Json {
        what: "decode incident",
        source,
    })?;
    Ok(i)
}

impl Tx<'_> {
    /// Store an incident: new, changed (status and notes kept), or unchanged.
    ///
    /// # Errors
    /// The write fails.
    pub fn upsert_incident(&self, inc: &IncidentRecord) -> Result<Upserted, StoreError> {
        let json = inc.body.to_string();
        let dg = detection_id(&[json.as_str()]);
        let old: Option<(String, bool)> = self
            .conn
            .prepare_cached("SELECT digest, removed FROM incidents WHERE id = ?1")
            .and_then(|mut st| {
                st.query_row([&inc.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(sql("look up incident"))?;
        let now = now_nanos();
        let params = rusqlite::params![
            inc.id,
            level_number(inc.level),
            inc.score,
            inc.first.nanos(),
            inc.last.nanos(),
            inc.title,
            now,
            dg,
            json
        ];
        match old {
            Some((d, removed)) if d == dg && !removed => Ok(Upserted::Unchanged),
            Some(_) => {
                self.conn
                    .prepare_cached(
                        "UPDATE incidents SET level = ?2, score = ?3, first_ns = ?4, last_ns = ?5,
                         title = ?6, updated_at = ?7, digest = ?8, json = ?9, removed = 0
                         WHERE id = ?1",
                    )
                    .and_then(|mut st| st.execute(params))
                    .map_err(sql("update incident"))?;
                Ok(Upserted::Changed)
            }
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO incidents (id, level, score, first_ns, last_ns, title, status,
                         created_at, updated_at, digest, json)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'new', ?7, ?7, ?8, ?9)",
                    )
                    .and_then(|mut st| st.execute(params))
                    .map_err(sql("insert incident"))?;
                Ok(Upserted::New)
            }
        }
    }

    /// Mark an incident removed (its alerts are no longer grouped so) and untie its alerts.
    /// Returns whether a current incident was removed.
    ///
    /// # Errors
    /// The write fails.
    pub fn remove_incident(&self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE incidents SET removed = 1, updated_at = ?2 WHERE id = ?1 AND removed = 0",
            )
            .and_then(|mut st| st.execute(rusqlite::params![id, now_nanos()]))
            .map_err(sql("remove incident"))?;
        self.conn
            .prepare_cached("UPDATE alerts SET incident_id = NULL WHERE incident_id = ?1")
            .and_then(|mut st| st.execute([id]))
            .map_err(sql("untie alerts"))?;
        Ok(n > 0)
    }

    /// Ids of the current (not removed) incidents.
    ///
    /// # Errors
    /// The read fails.
    pub fn incident_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id FROM incidents WHERE removed = 0 ORDER BY seq")
            .map_err(sql("list incidents"))?;
        let rows = st
            .query_map([], |r| r.get(0))
            .map_err(sql("list incidents"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("list incidents"))
    }

    /// The current (not removed) incidents: id and body.
    ///
    /// # Errors
    /// The read fails or a body cannot be decoded.
    pub fn current_incidents(&self) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT id, json FROM incidents WHERE removed = 0 ORDER BY seq")
            .map_err(sql("list incidents"))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql("list incidents"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json) = row.map_err(sql("list incidents"))?;
            let body = serde_json::from_str(&json).map_err(|source| StoreError::Json {
                what: "decode incident",
                source,
            })?;
            out.push((id, body));
        }
        Ok(out)
    }

    /// One incident by its id.
    ///
    /// # Errors
    /// The read fails or the row cannot be decoded.
    pub fn incident(&self, id: &str) -> Result<Option<StoredIncident>, StoreError> {
        let r = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"))
            .and_then(|mut st| st.query_row([id], row).optional())
            .map_err(sql("read incident"))?;
        r.map(decode).transpose()
    }

    /// A page of incidents, newest first.
    ///
    /// # Errors
    /// The read fails or a row cannot be decoded.
    pub fn incidents(&self, f: &IncidentFilter) -> Result<IncidentPage, StoreError> {
        let limit = f.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM incidents
                 WHERE seq < ?1 AND level >= ?2 AND (?3 IS NULL OR status = ?3)
                   AND (?4 OR removed = 0)
                 ORDER BY seq DESC LIMIT ?5"
            ))
            .map_err(sql("prepare incident list"))?;
        let rows = st
            .query_map(
                rusqlite::params![
                    f.before.unwrap_or(i64::MAX),
                    f.min_level.map_or(0, level_number),
                    f.status.map(Status::as_str),
                    f.include_removed,
                    i64::from(limit) + 1
                ],
                row,
            )
            .map_err(sql("list incidents"))?;
        let mut incidents = Vec::new();
        for r in rows {
            incidents.push(decode(r.map_err(sql("read incident"))?)?);
        }
        let next = if incidents.len() > limit as usize {
            incidents.truncate(limit as usize);
            incidents.last().map(|i| i.seq)
        } else {
            None
        };
        Ok(IncidentPage { incidents, next })
    }

    /// Set an incident's status (kept in its history with who made it). Returns the status
    /// it had, or `None` when there is no such incident.
    ///
    /// # Errors
    /// The write fails.
    pub fn set_incident_status(
        &self,
        id: &str,
        status: Status,
        author: &str,
    ) -> Result<Option<Status>, StoreError> {
        self.set_status("incidents", "incident", id, status, author)
    }
}
