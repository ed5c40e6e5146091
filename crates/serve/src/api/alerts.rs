//! Alerts and incidents: list and filter (newest first, with a cursor), get one with its
//! evidence records, change status, add notes.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stormwatch_core::{Level, Location, Timestamp};
use stormwatch_store::{AlertFilter, IncidentFilter, Status, Store, StoredBatch, Target};

use super::{AppError, AppState, json_body, require};
use crate::auth::{Principal, Role};
use crate::render::{alert_json, incident_json};

/// Query parameters of `GET /api/v1/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertQuery {
    limit: Option<String>,
    cursor: Option<String>,
    level: Option<String>,
    min_level: Option<String>,
    status: Option<String>,
    rule_id: Option<String>,
    tenant: Option<String>,
    mailbox: Option<String>,
    user: Option<String>,
    ip: Option<String>,
    incident_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    include_withdrawn: Option<String>,
}

fn bad(what: &str, v: &str, expected: &str) -> AppError {
    AppError::BadRequest(format!("{what}={v:?}: expected {expected}"))
}

fn level(name: &str, v: Option<&str>) -> Result<Option<Level>, AppError> {
    v.map(|s| {
        s.parse()
            .map_err(|_| bad(name, s, "informational, low, medium, high or critical"))
    })
    .transpose()
}

fn time(name: &str, v: Option<&str>) -> Result<Option<Timestamp>, AppError> {
    v.map(|s| Timestamp::parse(s).map_err(|_| bad(name, s, "an RFC 3339 time or a date")))
        .transpose()
}

fn status(v: Option<&str>) -> Result<Option<Status>, AppError> {
    v.map(|s| {
        s.parse()
            .map_err(|_| bad("status", s, "new, acknowledged or closed"))
    })
    .transpose()
}

fn limit(v: Option<&str>) -> Result<Option<u32>, AppError> {
    v.map(|s| {
        s.parse::<u32>()
            .ok()
            .filter(|n| (1..=stormwatch_store::MAX_PAGE).contains(n))
            .ok_or_else(|| bad("limit", s, "a number from 1 to 1000"))
    })
    .transpose()
}

/// Cursors are opaque to clients: the position of the last item of a page.
fn cursor(v: Option<&str>) -> Result<Option<i64>, AppError> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            s.strip_prefix('c')
                .and_then(|n| n.parse::<i64>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("cursor", s, "a next_cursor from an earlier page"))
        })
        .transpose()
}

fn cursor_text(seq: Option<i64>) -> Value {
    seq.map_or(Value::Null, |s| json!(format!("c{s}")))
}

fn flag(name: &str, v: Option<&str>) -> Result<bool, AppError> {
    match v {
        None => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(s) => Err(bad(name, s, "true or false")),
    }
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, AppError> {
    q.map(|Query(q)| q)
        .map_err(|e| AppError::BadRequest(e.body_text()))
}

pub(crate) async fn list_alerts(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    q: Result<Query<AlertQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    require(&who, who.role.may_read(), Role::Viewer)?;
    let q = query(q)?;
    let f = AlertFilter {
        level: level("level", q.level.as_deref())?,
        min_level: level("min_level", q.min_level.as_deref())?,
        status: status(q.status.as_deref())?,
        rule_id: q.rule_id,
        tenant: q.tenant,
        mailbox: q.mailbox,
        user: q.user,
        ip: q.ip,
        incident_id: q.incident_id,
        since: time("since", q.since.as_deref())?,
        until: time("until", q.until.as_deref())?,
        include_withdrawn: flag("include_withdrawn", q.include_withdrawn.as_deref())?,
        before: cursor(q.cursor.as_deref())?,
        limit: limit(q.limit.as_deref())?,
    };
    let page = state.db(move |s| Ok(s.read().alerts(&f)?)).await?;
    let alerts: Vec<Value> = page.alerts.iter().map(alert_json).collect();
    Ok(
        axum::Json(json!({ "alerts": alerts, "next_cursor": cursor_text(page.next) }))
            .into_response(),
    )
}

/// Query parameters of `GET /api/v1/alerts/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OneQuery {
    /// Evidence records to include (default 50, at most 500).
    records: Option<String>,
}

/// Most evidence records returned with an alert.
const MAX_RECORDS: usize = 500;

/// The records behind `locs` (at most `limit`), read back from the journal; and how many
/// are no longer kept.
pub(crate) fn evidence(
    store: &Store,
    locs: &[Location],
    limit: usize,
) -> Result<(Vec<Value>, usize), AppError> {
    let mut batches: Vec<(StoredBatch, HashMap<u64, stormwatch_core::Event>)> = Vec::new();
    let mut out = Vec::new();
    let mut missing = 0;
    for loc in locs.iter().take(limit) {
        let held = batches.iter().position(|(b, _)| {
            b.name == *loc.file && b.first_line <= loc.line && loc.line <= b.last_line
        });
        let idx = match held {
            Some(i) => Some(i),
            None => match store.read().batch_holding(&loc.file, loc.line)? {
                Some(b) => {
                    let events = crate::journal::replay(&b, 1)
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    let by_line = events.into_iter().map(|e| (e.loc.line, e)).collect();
                    if batches.len() >= 16 {
                        batches.remove(0);
                    }
                    batches.push((b, by_line));
                    Some(batches.len() - 1)
                }
                None => None,
            },
        };
        let found = idx.and_then(|i| {
            let (b, by_line) = &batches[i];
            by_line.get(&loc.line).map(|e| (b, e))
        });
        match found {
            Some((b, e)) => {
                let record: Value = serde_json::from_str(&e.raw).unwrap_or_else(|_| json!(e.raw));
                out.push(json!({
                    "file": loc.file,
                    "line": loc.line,
                    "record_id": loc.record_id,
                    "batch": b.id,
                    "source": b.source,
                    "received_at": b.received_at,
                    "record": record,
                }));
            }
            None => missing += 1,
        }
    }
    Ok((out, missing))
}

pub(crate) async fn get_alert(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    q: Result<Query<OneQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    require(&who, who.role.may_read(), Role::Viewer)?;
    let q = query(q)?;
    let want = match q.records.as_deref() {
        None => 50,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= MAX_RECORDS)
            .ok_or_else(|| bad("records", s, "a number from 0 to 500"))?,
    };
    let body = state
        .db(move |s| {
            let a = s
                .read()
                .alert(&id)?
                .ok_or_else(|| AppError::NotFound(format!("no alert {id:?}")))?;
            let notes = s.read().notes(Target::Alert, &id)?;
            let history = s.read().status_history(Target::Alert, &id)?;
            let (records, missing) = evidence(s, &a.detection.events, want)?;
            Ok(json!({
                "alert": alert_json(&a),
                "explanation": a.detection.explanation,
                "notes": notes,
                "history": history,
                "records": records,
                "records_total": a.detection.events.len(),
                "records_not_kept": missing,
            }))
        })
        .await?;
    Ok(axum::Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

pub(crate) async fn alert_status(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, AppError> {
    require(&who, who.role.may_triage(), Role::Analyst)?;
    let b: StatusBody = json_body(body).await?;
    let to = status(Some(&b.status))?.unwrap_or(Status::New);
    let out = state
        .db(move |s| {
            s.write(|tx| {
                if tx
                    .triage(Target::Alert, &id, to, &who.name, b.note.as_deref())?
                    .is_none()
                {
                    return Ok(None);
                }
                tx.alert(&id)
            })
            .map_err(AppError::from)?
            .ok_or_else(|| AppError::NotFound("no such alert".to_owned()))
        })
        .await?;
    Ok(axum::Json(json!({ "alert": alert_json(&out) })).into_response())
}

pub(crate) async fn alert_note(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, AppError> {
    require(&who, who.role.may_triage(), Role::Analyst)?;
    let b: NoteBody = json_body(body).await?;
    let note = state
        .db(move |s| {
            if s.read().alert(&id)?.is_none() {
                return Err(AppError::NotFound(format!("no alert {id:?}")));
            }
            Ok(s.write(|tx| tx.add_note(Target::Alert, &id, &who.name, &b.text))?)
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "note": note }))).into_response())
}

/// Query parameters of `GET /api/v1/incidents`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IncidentQuery {
    limit: Option<String>,
    cursor: Option<String>,
    min_level: Option<String>,
    status: Option<String>,
    include_removed: Option<String>,
}

pub(crate) async fn list_incidents(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    q: Result<Query<IncidentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    require(&who, who.role.may_read(), Role::Viewer)?;
    let q = query(q)?;
    let f = IncidentFilter {
        min_level: level("min_level", q.min_level.as_deref())?,
        status: status(q.status.as_deref())?,
        include_removed: flag("include_removed", q.include_removed.as_deref())?,
        before: cursor(q.cursor.as_deref())?,
        limit: limit(q.limit.as_deref())?,
    };
    let page = state.db(move |s| Ok(s.read().incidents(&f)?)).await?;
    let incidents: Vec<Value> = page.incidents.iter().map(incident_json).collect();
    Ok(
        axum::Json(json!({ "incidents": incidents, "next_cursor": cursor_text(page.next) }))
            .into_response(),
    )
}

pub(crate) async fn get_incident(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    require(&who, who.role.may_read(), Role::Viewer)?;
    let body = state
        .db(move |s| {
            let i = s
                .read()
                .incident(&id)?
                .ok_or_else(|| AppError::NotFound(format!("no incident {id:?}")))?;
            let alerts = s.read().alerts(&AlertFilter {
                incident_id: Some(id.clone()),
                include_withdrawn: true,
                limit: Some(stormwatch_store::MAX_PAGE),
                ..AlertFilter::default()
            })?;
            let notes = s.read().notes(Target::Incident, &id)?;
            let history = s.read().status_history(Target::Incident, &id)?;
            Ok(json!({
                "incident": incident_json(&i),
                "alerts": alerts.alerts.iter().map(alert_json).collect::<Vec<_>>(),
                "notes": notes,
                "history": history,
            }))
        })
        .await?;
    Ok(axum::Json(body).into_response())
}

pub(crate) async fn incident_status(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, AppError> {
    require(&who, who.role.may_triage(), Role::Analyst)?;
    let b: StatusBody = json_body(body).await?;
    let to = status(Some(&b.status))?.unwrap_or(Status::New);
    let out = state
        .db(move |s| {
            s.write(|tx| {
                if tx
                    .triage(Target::Incident, &id, to, &who.name, b.note.as_deref())?
                    .is_none()
                {
                    return Ok(None);
                }
                tx.incident(&id)
            })
            .map_err(AppError::from)?
            .ok_or_else(|| AppError::NotFound("no such incident".to_owned()))
        })
        .await?;
    Ok(axum::Json(json!({ "incident": incident_json(&out) })).into_response())
}

pub(crate) async fn incident_note(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, AppError> {
    require(&who, who.role.may_triage(), Role::Analyst)?;
    let b: NoteBody = json_body(body).await?;
    let note = state
        .db(move |s| {
            if s.read().incident(&id)?.is_none() {
                return Err(AppError::NotFound(format!("no incident {id:?}")));
            }
            Ok(s.write(|tx| tx.add_note(Target::Incident, &id, &who.name, &b.text))?)
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(json!({ "note": note }))).into_response())
}
