//! Alerts: detections raised by the service, one row per detection id, with their triage
//! status.

use std::fmt;
use std::str::FromStr;

use rusqlite::OptionalExtension;
use stormwatch_core::{Detection, Level, Timestamp, detection_id};

use crate::detections::{level_from_number, level_number};
use crate::error::{StoreError, sql};
use crate::store::{Tx, now_nanos};

/// Where an alert or incident is in triage: new → acknowledged → closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not looked at yet.
    New,
    /// Someone is on it.
    Acknowledged,
    /// Done.
    Closed,
}

impl Status {
    /// The name used in the API and the store.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::Closed => "closed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "new" => Ok(Status::New),
            "acknowledged" | "ack" => Ok(Status::Acknowledged),
            "closed" => Ok(Status::Closed),
            _ => Err(StoreError::Invalid(format!(
                "unknown status {s:?} (expected new, acknowledged or closed)"
            ))),
        }
    }
}

fn status_of(s: &str) -> Status {
    s.parse().unwrap_or(Status::New)
}

/// What tying an alert to an incident reads of it ([`Tx::alert_ties_near_incidents`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertTie {
    /// The alert's id.
    pub id: String,
    /// Its rule.
    pub rule_id: String,
    /// Its level.
    pub level: Level,
    /// Its user as the detection names it.
    pub user: Option<String>,
    /// Lower-case.
    pub mailbox: Option<String>,
    /// Its IP address.
    pub ip: Option<String>,
    /// Lower-case.
    pub session_id: Option<String>,
    /// The incident it is tied to.
    pub incident_id: Option<String>,
    /// The incident its detection names itself (the analytics group their own detections).
    pub own_incident_id: Option<String>,
}

/// One stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    /// Order of first appearance (the API's cursor).
    pub seq: i64,
    /// The detection as last raised.
    pub detection: Detection,
    /// Triage status.
    pub status: Status,
    /// Who set the status last.
    pub status_by: Option<String>,
    /// When.
    pub status_at: Option<Timestamp>,
    /// The incident it belongs to.
    pub incident_id: Option<String>,
    /// A record behind it arrived later than the lateness bound.
    pub late: bool,
    /// No record still to come within the lateness bound can change it.
    pub settled: bool,
    /// A later record made it no longer hold.
    pub withdrawn: bool,
    /// Why it was withdrawn.
    pub withdrawn_reason: Option<String>,
    /// 1 when first raised, one more at each change of what it says.
    pub revision: u32,
    /// First raised (server clock).
    pub created_at: Timestamp,
    /// Last changed (server clock).
    pub updated_at: Timestamp,
}

/// What [`Tx::upsert_alert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// A detection id not stored before.
    New,
    /// A stored alert that now says something else (more records, another level), or one
    /// withdrawn earlier that holds again.
    Changed,
    /// The same as stored: nothing written.
    Unchanged,
}

/// Which alerts to list. `Default` lists every live alert, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Exactly this level.
    pub level: Option<Level>,
    /// At or above this level.
    pub min_level: Option<Level>,
    /// In this status.
    pub status: Option<Status>,
    /// Of this rule.
    pub rule_id: Option<String>,
    /// Of this tenant.
    pub tenant: Option<String>,
    /// About this mailbox (case-insensitive).
    pub mailbox: Option<String>,
    /// Of this user (case-insensitive).
    pub user: Option<String>,
    /// From this client IP.
    pub ip: Option<String>,
    /// In this incident.
    pub incident_id: Option<String>,
    /// Detections at or after this time.
    pub since: Option<Timestamp>,
    /// Detections before this time.
    pub until: Option<Timestamp>,
    /// Withdrawn alerts too.
    pub include_withdrawn: bool,
    /// Only alerts older than this cursor (a [`StoredAlert::seq`]).
    pub before: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    pub limit: Option<u32>,
}

/// One page of alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPage {
    /// Newest first.
    pub alerts: Vec<StoredAlert>,
    /// The cursor of the next page, when there may be one.
    pub next: Option<i64>,
}

/// Largest page.
pub const MAX_PAGE: u32 = 1000;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 100;

const ALERT_COLUMNS: &str = "seq, json, status, status_by, status_at, incident_id, late, settled, \
     withdrawn, withdrawn_reason, revision, created_at, updated_at";

/// [`ALERT_COLUMNS`] without the detection's JSON (read as empty).
const ALERT_STATE_COLUMNS: &str = "seq, '' AS json, status, status_by, status_at, incident_id, \
     late, settled, withdrawn, withdrawn_reason, revision, created_at, updated_at";

fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredAlert, String)> {
    let json: String = r.get(1)?;
    let status: String = r.get(2)?;
    let revision: i64 = r.get(10)?;
    Ok((
        StoredAlert {
            seq: r.get(0)?,
            detection: placeholder_detection(),
            status: status_of(&status),
            status_by: r.get(3)?,
            status_at: r.get::<_, Option<i64>>(4)?.map(Timestamp::from_nanos),
            incident_id: r.get(5)?,
            late: r.get(6)?,
            settled: r.get(7)?,
            withdrawn: r.get(8)?,
            withdrawn_reason: r.get(9)?,
            revision: u32::try_from(revision).unwrap_or(u32::MAX),
            created_at: Timestamp::from_nanos(r.get(11)?),
            updated_at: Timestamp::from_nanos(r.get(12)?),
        },
        json,
    ))
}

fn placeholder_detection() -> Detection {
    Detection::new(
        String::new(),
        String::new(),
        Level::Informational,
        stormwatch_core::DetectionSource::Sigma,
        Timestamp::EPOCH,
    )
}

fn decode(row: (StoredAlert, String)) -> Result<StoredAlert, StoreError> {
    let (mut a, json) = row;
    a.detection = serde_json::from_str(&json).map_err(|source| StoreError::Json {
        what: "decode alert",
        source,
    })?;
    Ok(a)
}

/// The digest that tells whether a detection raised again says something new.
fn digest(json: &str) -> String {
    detection_id(&[json])
}

impl Tx<'_> {
    /// Store a detection raised by the detector: a new alert (status new), a changed one (its
    /// status and notes kept, revision + 1; withdrawn no more), or nothing when it says what
    /// is stored already.
    ///
    /// # Errors
    /// The detection cannot be encoded or the write fails.
    pub fn upsert_alert(
        &self,
        d: &Detection,
        late: bool,
        settled: bool,
    ) -> Result<Upserted, StoreError> {
        let json = serde_json::to_string(d).map_err(|source| StoreError::Json {
            what: "encode alert",
            source,
        })?;
        let dg = digest(&json);
        let now = now_nanos();
        let stored: Option<(String, bool, bool)> = self
            .conn
            .prepare_cached("SELECT digest, withdrawn, settled FROM alerts WHERE id = ?1")
            .and_then(|mut st| {
                st.query_row([&d.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(sql("look up alert"))?;
        let (statement, what, upserted) = match stored {
            Some((old, withdrawn, was_settled)) if old == dg && !withdrawn => {
                if settled && !was_settled {
                    self.conn
                        .prepare_cached("UPDATE alerts SET settled = 1 WHERE id = ?1")
                        .and_then(|mut st| st.execute([&d.id]))
                        .map_err(sql("settle alert"))?;
                }
                return Ok(Upserted::Unchanged);
            }
            // The same parameters for both: a changed alert keeps its status, notes and
            // creation time; a new one starts at revision 1, status new.
            Some(_) => (
                "UPDATE alerts SET rule_id = ?2, rule_title = ?3, level = ?4, ts_nanos = ?5,
                 tenant = ?6, user = ?7, mailbox = ?8, ip = ?9,
                 incident_id = COALESCE(?10, incident_id), own_incident_id = ?10,
                 late = late OR ?11,
                 settled = ?12, withdrawn = 0, withdrawn_reason = NULL,
                 revision = revision + 1, updated_at = ?13, digest = ?14, json = ?15,
                 session_id = ?16
                 WHERE id = ?1",
                "update alert",
                Upserted::Changed,
            ),
            None => (
                "INSERT INTO alerts (id, rule_id, rule_title, level, ts_nanos, tenant, user,
                 mailbox, ip, incident_id, own_incident_id, status, late, settled, revision,
                 created_at, updated_at, digest, json, session_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, 'new', ?11, ?12, 1, ?13,
                 ?13, ?14, ?15, ?16)",
                "insert alert",
                Upserted::New,
            ),
        };
        self.conn
            .prepare_cached(statement)
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    d.id,
                    d.rule_id,
                    d.rule_title,
                    level_number(d.level),
                    d.timestamp.nanos(),
                    d.tenant,
                    d.user,
                    d.mailbox.as_deref().map(str::to_ascii_lowercase),
                    d.ip,
                    d.incident_id,
                    late,
                    settled,
                    now,
                    dg,
                    json,
                    d.session_id.as_deref().map(str::to_ascii_lowercase)
                ])
            })
            .map_err(sql(what))?;
        Ok(upserted)
    }

    /// Mark an alert withdrawn (a later record made it no longer hold). Returns whether a
    /// live alert was withdrawn.
    ///
    /// # Errors
    /// The write fails.
    pub fn withdraw_alert(&self, id: &str, reason: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE alerts SET withdrawn = 1, withdrawn_reason = ?2, updated_at = ?3,
                 revision = revision + 1 WHERE id = ?1 AND withdrawn = 0",
            )
            .and_then(|mut st| st.execute(rusqlite::params![id, reason, now_nanos()]))
            .map_err(sql("withdraw alert"))?;
        Ok(n > 0)
    }

    /// Tie an alert to an incident (`None`: to none).
    ///
    /// # Errors
    /// The write fails.
    pub fn set_alert_incident(
        &self,
        alert_id: &str,
        incident_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE alerts SET incident_id = ?2 WHERE id = ?1")
            .and_then(|mut st| st.execute(rusqlite::params![alert_id, incident_id]))
            .map_err(sql("set alert incident"))?;
        Ok(())
    }

    /// Tie to `incident_id` the live alerts it holds as `hunt` ties them: by session, or by
    /// IP with the mailbox or user (sessions, mailboxes and users lower-case). Informational
    /// alerts and findings about the evidence belong to none; the analytics' alerts keep the
    /// incident they were grouped into. Returns how many.
    ///
    /// # Errors
    /// The write fails.
    pub fn tie_alerts(
        &self,
        incident_id: &str,
        sessions: &[String],
        ips: &[String],
        mailboxes: &[String],
        users: &[String],
    ) -> Result<usize, StoreError> {
        let arr = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned());
        self.conn
            .prepare_cached(
                "UPDATE alerts SET incident_id = ?1 WHERE withdrawn = 0 AND level > 0
                   AND rule_id != 'builtin/visibility-gaps'
                   AND (incident_id IS NULL OR rule_id NOT LIKE 'builtin/%')
                   AND (
                   session_id IN (SELECT value FROM json_each(?2))
                   OR (ip IN (SELECT value FROM json_each(?3))
                       AND (mailbox IN (SELECT value FROM json_each(?4))
                            OR lower(user) IN (SELECT value FROM json_each(?5)))))",
            )
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    incident_id,
                    arr(sessions),
                    arr(ips),
                    arr(mailboxes),
                    arr(users)
                ])
            })
            .map_err(sql("tie alerts to an incident"))
    }

    /// What tying to incidents reads of the live alerts an incident change may move: those
    /// tied to one of `incident_ids`, and those with one of `sessions`, or one of `ips` with
    /// one of `mailboxes` or `users` (sessions, mailboxes and users lower-case). Read from
    /// the alerts' columns, never their JSON.
    ///
    /// # Errors
    /// The read fails.
    pub fn alert_ties_near_incidents(
        &self,
        incident_ids: &[String],
        sessions: &[String],
        ips: &[String],
        mailboxes: &[String],
        users: &[String],
    ) -> Result<Vec<AlertTie>, StoreError> {
        let arr = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".to_owned());
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id, rule_id, level, user, mailbox, ip, session_id, incident_id,
                   own_incident_id FROM alerts WHERE withdrawn = 0 AND (
                   incident_id IN (SELECT value FROM json_each(?1))
                   OR session_id IN (SELECT value FROM json_each(?2))
                   OR (ip IN (SELECT value FROM json_each(?3))
                       AND (mailbox IN (SELECT value FROM json_each(?4))
                            OR lower(user) IN (SELECT value FROM json_each(?5)))))
                 ORDER BY seq",
            )
            .map_err(sql("find alerts near incidents"))?;
        let rows = st
            .query_map(
                rusqlite::params![
                    arr(incident_ids),
                    arr(sessions),
                    arr(ips),
                    arr(mailboxes),
                    arr(users)
                ],
                |r| {
                    Ok(AlertTie {
                        id: r.get(0)?,
                        rule_id: r.get(1)?,
                        level: level_from_number(r.get(2)?),
                        user: r.get(3)?,
                        mailbox: r.get(4)?,
                        ip: r.get(5)?,
                        session_id: r.get(6)?,
                        incident_id: r.get(7)?,
                        own_incident_id: r.get(8)?,
                    })
                },
            )
            .map_err(sql("find alerts near incidents"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("find alerts near incidents"))
    }

    /// The alert stored under `detection`'s id, with `detection` as its detection: the
    /// state of one just written, without decoding its JSON again.
    ///
    /// # Errors
    /// The read fails.
    pub fn alert_with(&self, detection: Detection) -> Result<Option<StoredAlert>, StoreError> {
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ALERT_STATE_COLUMNS} FROM alerts WHERE id = ?1"
            ))
            .and_then(|mut st| st.query_row([&detection.id], alert_row).optional())
            .map_err(sql("read alert"))?;
        Ok(row.map(|(mut a, _)| {
            a.detection = detection;
            a
        }))
    }

    /// One alert by its id.
    ///
    /// # Errors
    /// The read fails or the stored row cannot be decoded.
    pub fn alert(&self, id: &str) -> Result<Option<StoredAlert>, StoreError> {
        let row = self
            .conn
            .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))
            .and_then(|mut st| st.query_row([id], alert_row).optional())
            .map_err(sql("read alert"))?;
        row.map(decode).transpose()
    }

    /// A page of alerts matching `f`, newest first.
    ///
    /// # Errors
    /// The read fails or a stored row cannot be decoded.
    pub fn alerts(&self, f: &AlertFilter) -> Result<AlertPage, StoreError> {
        let limit = f.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts
                 WHERE seq < ?1 AND (?2 IS NULL OR level = ?2) AND level >= ?3
                   AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR rule_id = ?5)
                   AND (?6 IS NULL OR tenant = ?6) AND (?7 IS NULL OR mailbox = ?7)
                   AND (?8 IS NULL OR lower(user) = ?8) AND (?9 IS NULL OR ip = ?9)
                   AND (?10 IS NULL OR incident_id = ?10)
                   AND ts_nanos >= ?11 AND ts_nanos < ?12 AND (?13 OR withdrawn = 0)
                 ORDER BY seq DESC LIMIT ?14"
            ))
            .map_err(sql("prepare alert list"))?;
        let rows = st
            .query_map(
                rusqlite::params![
                    f.before.unwrap_or(i64::MAX),
                    f.level.map(level_number),
                    f.min_level.map_or(0, level_number),
                    f.status.map(Status::as_str),
                    f.rule_id,
                    f.tenant,
                    f.mailbox.as_deref().map(str::to_ascii_lowercase),
                    f.user.as_deref().map(str::to_ascii_lowercase),
                    f.ip,
                    f.incident_id,
                    f.since.map_or(i64::MIN, Timestamp::nanos),
                    f.until.map_or(i64::MAX, Timestamp::nanos),
                    f.include_withdrawn,
                    i64::from(limit) + 1,
                ],
                alert_row,
            )
            .map_err(sql("list alerts"))?;
        let mut alerts = Vec::new();
        for row in rows {
            alerts.push(decode(row.map_err(sql("read alert"))?)?);
        }
        let next = if alerts.len() > limit as usize {
            alerts.truncate(limit as usize);
            alerts.last().map(|a| a.seq)
        } else {
            None
        };
        Ok(AlertPage { alerts, next })
    }

    /// Set an alert's status; the change is kept in its history with who made it. Returns
    /// the status it had, or `None` when there is no such alert.
    ///
    /// # Errors
    /// The write fails.
    pub fn set_alert_status(
        &self,
        id: &str,
        status: Status,
        author: &str,
    ) -> Result<Option<Status>, StoreError> {
        self.set_status("alerts", "alert", id, status, author)
    }

    pub(crate) fn set_status(
        &self,
        table: &'static str,
        kind: &'static str,
        id: &str,
        status: Status,
        author: &str,
    ) -> Result<Option<Status>, StoreError> {
        let old: Option<String> = self
            .conn
            .query_row(
                &format!("SELECT status FROM {table} WHERE id = ?1"),
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("read status"))?;
        let Some(old) = old else { return Ok(None) };
        let old = status_of(&old);
        if old != status {
            let now = now_nanos();
            self.conn
                .execute(
                    &format!(
                        "UPDATE {table} SET status = ?2, status_by = ?3, status_at = ?4 WHERE id = ?1"
                    ),
                    rusqlite::params![id, status.as_str(), author, now],
                )
                .map_err(sql("set status"))?;
            self.conn
                .execute(
                    "INSERT INTO status_history (kind, target, at, author, from_status, to_status)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    rusqlite::params![kind, id, now, author, old.as_str(), status.as_str()],
                )
                .map_err(sql("record status change"))?;
        }
        Ok(Some(old))
    }

    /// Live alerts by level and status (for metrics).
    ///
    /// # Errors
    /// The read fails.
    pub fn alert_counts(&self) -> Result<Vec<(Level, Status, u64)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT level, status, COUNT(*) FROM alerts WHERE withdrawn = 0
                 GROUP BY level, status ORDER BY level, status",
            )
            .map_err(sql("count alerts"))?;
        let rows = st
            .query_map([], |r| {
                let level: i64 = r.get(0)?;
                let status: String = r.get(1)?;
                let n: i64 = r.get(2)?;
                Ok((
                    level_from_number(level),
                    status_of(&status),
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .map_err(sql("count alerts"))?;
        rows.collect::<Result<_, _>>().map_err(sql("count alerts"))
    }
}
