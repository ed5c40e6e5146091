//! The pages: incidents, one incident and its triage, a mailbox, ingest health, rules and
//! analytics, the JWT checker. Each reads the store on a blocking thread and hands plain
//! JSON to a template (which escapes every value).

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stormwatch_core::{Level, Timestamp};
use stormwatch_store::{AlertFilter, IncidentFilter, Status, StoredIncident, Target};

use super::session::{Viewer, form_field};
use super::timeline;
use crate::api::{AppError, AppState};
use crate::auth::Role;
use crate::render::{alert_json, incident_json};

/// Incidents considered by the list (the newest this many).
const MAX_LISTED: usize = 10_000;
/// Evidence records shown per alert on the incident page.
const RECORDS_PER_ALERT: usize = 20;
/// Alerts whose evidence records the incident page reads back (the newest; every alert is
/// listed, and each one's records are in the API).
const ALERTS_WITH_RECORDS: usize = 100;

fn page(state: &AppState, v: &Viewer, name: &str, mut ctx: Value) -> Response {
    if let Value::Object(m) = &mut ctx {
        m.insert(
            "me".into(),
            json!({ "name": v.who.name, "role": v.who.role }),
        );
        m.insert("csrf".into(), json!(v.csrf));
        m.insert("may_triage".into(), json!(v.who.role.may_triage()));
    }
    state.0.dashboard.render(name, &ctx)
}

/// A message page (a refusal, a bad filter, nothing found) with its status.
pub(crate) fn message(state: &AppState, v: &Viewer, status: StatusCode, text: &str) -> Response {
    let mut r = page(state, v, "message.html", json!({ "message": text }));
    *r.status_mut() = status;
    r
}

fn app_error(state: &AppState, v: &Viewer, e: AppError) -> Response {
    match e {
        AppError::NotFound(m) => message(state, v, StatusCode::NOT_FOUND, &m),
        AppError::BadRequest(m) => message(state, v, StatusCode::BAD_REQUEST, &m),
        other => other.into_response(),
    }
}

/// `GET /`.
pub(crate) async fn home() -> Redirect {
    Redirect::to("/incidents")
}

/// Filters of the incidents page (all optional; empty fields are ignored).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct IncidentsQuery {
    level: Option<String>,
    status: Option<String>,
    tenant: Option<String>,
    mailbox: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

fn given(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Parsed filters.
struct Filters {
    min_level: Option<Level>,
    status: Option<Status>,
    tenant: Option<String>,
    mailbox: Option<String>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
}

fn filters(q: &IncidentsQuery) -> Result<Filters, String> {
    Ok(Filters {
        min_level: given(q.level.as_ref())
            .map(|s| {
                s.parse().map_err(|_| {
                    format!("level {s:?}: informational, low, medium, high or critical")
                })
            })
            .transpose()?,
        status: given(q.status.as_ref())
            .map(|s| {
                s.parse()
                    .map_err(|_| format!("status {s:?}: new, acknowledged or closed"))
            })
            .transpose()?,
        tenant: given(q.tenant.as_ref()).map(str::to_owned),
        mailbox: given(q.mailbox.as_ref()).map(str::to_ascii_lowercase),
        since: given(q.since.as_ref())
            .map(|s| {
                Timestamp::parse(s).map_err(|_| format!("since {s:?}: a date or an RFC 3339 time"))
            })
            .transpose()?,
        until: given(q.until.as_ref())
            .map(|s| {
                Timestamp::parse(s).map_err(|_| format!("until {s:?}: a date or an RFC 3339 time"))
            })
            .transpose()?,
    })
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn keeps(f: &Filters, i: &StoredIncident) -> bool {
    let body = &i.record.body;
    f.tenant
        .as_ref()
        .is_none_or(|t| strings(body, "tenants").iter().any(|x| x == t))
        && f.mailbox.as_ref().is_none_or(|m| {
            strings(body, "mailboxes")
                .iter()
                .any(|x| x.eq_ignore_ascii_case(m))
        })
        // Overlapping the window.
        && f.since.is_none_or(|s| i.record.last >= s)
        && f.until.is_none_or(|u| i.record.first < u)
}

/// The incidents matching the filters, most severe then newest first, and their counts by
/// level.
fn list(
    store: &stormwatch_store::Store,
    f: &Filters,
) -> Result<(Vec<Value>, Value, bool), AppError> {
    let mut all = Vec::new();
    let mut before = None;
    let mut truncated = false;
    loop {
        let page = store.read().incidents(&IncidentFilter {
            min_level: f.min_level,
            status: f.status,
            include_removed: false,
            before,
            limit: Some(stormwatch_store::MAX_PAGE),
        })?;
        all.extend(page.incidents.into_iter().filter(|i| keeps(f, i)));
        match page.next {
            Some(n) if all.len() < MAX_LISTED => before = Some(n),
            Some(_) => {
                truncated = true;
                break;
            }
            None => break,
        }
    }
    all.sort_by(|a, b| {
        b.record
            .level
            .cmp(&a.record.level)
            .then(b.record.last.cmp(&a.record.last))
            .then(b.record.score.cmp(&a.record.score))
    });
    let mut counts = BTreeMap::new();
    for l in Level::ALL {
        counts.insert(l.as_str(), 0u64);
    }
    for i in &all {
        *counts.entry(i.record.level.as_str()).or_default() += 1;
    }
    let rows = all
        .iter()
        .map(|i| {
            let mut v = incident_json(i);
            v["tenants"] = json!(strings(&i.record.body, "tenants"));
            v
        })
        .collect();
    Ok((rows, json!(counts), truncated))
}

/// `GET /incidents`: with the header `X-Fragment: live`, only the part the page's script
/// refreshes.
pub(crate) async fn incidents(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
    headers: HeaderMap,
    q: Result<Query<IncidentsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let f = match filters(&q) {
        Ok(f) => f,
        Err(m) => return message(&state, &v, StatusCode::BAD_REQUEST, &m),
    };
    let listed = state.db(move |s| list(s, &f)).await;
    let (rows, counts, truncated) = match listed {
        Ok(x) => x,
        Err(e) => return app_error(&state, &v, e),
    };
    let ctx = json!({
        "incidents": rows,
        "counts": counts,
        "truncated": truncated,
        "max_listed": MAX_LISTED,
        "q": {
            "level": q.level, "status": q.status, "tenant": q.tenant,
            "mailbox": q.mailbox, "since": q.since, "until": q.until,
        },
        "levels": Level::ALL.iter().rev().map(|l| l.as_str()).collect::<Vec<_>>(),
        "now": crate::now(),
    });
    let live = headers
        .get("x-fragment")
        .is_some_and(|h| h.as_bytes() == b"live");
    page(
        &state,
        &v,
        if live {
            "incidents_live.html"
        } else {
            "incidents.html"
        },
        ctx,
    )
}

/// One sentence saying what happened.
fn sentence(i: &Value) -> String {
    let list = |k: &str| strings(i, k);
    let (mailboxes, users, ips) = (list("mailboxes"), list("users"), list("ips"));
    let who = if users.is_empty() {
        "An actor".to_owned()
    } else {
        format!("{} (as {})", "An actor", join(&users, 3))
    };
    let from = if ips.is_empty() {
        String::new()
    } else {
        format!(" from {}", join(&ips, 3))
    };
    let what = if mailboxes.is_empty() {
        "acted".to_owned()
    } else {
        format!(
            "reached {} mailbox{} ({})",
            mailboxes.len(),
            if mailboxes.len() == 1 { "" } else { "es" },
            join(&mailboxes, 3)
        )
    };
    format!(
        "{who}{from} {what} between {} and {}: {}.",
        i["first"].as_str().unwrap_or("?"),
        i["last"].as_str().unwrap_or("?"),
        i["title"].as_str().unwrap_or("")
    )
}

fn join(v: &[String], n: usize) -> String {
    let mut s = v.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > n {
        s.push_str(&format!(" and {} more", v.len() - n));
    }
    s
}

/// `GET /incidents/{id}`.
pub(crate) async fn incident(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let out = state
        .db(move |s| {
            let i = s
                .read()
                .incident(&id)?
                .ok_or_else(|| AppError::NotFound(format!("no incident {id:?}")))?;
            let alerts = s.read().alerts(&AlertFilter {
                incident_id: Some(id.clone()),
                limit: Some(stormwatch_store::MAX_PAGE),
                ..AlertFilter::default()
            })?;
            let mut list = Vec::new();
            for (k, a) in alerts.alerts.iter().enumerate() {
                let per_alert = if k < ALERTS_WITH_RECORDS {
                    RECORDS_PER_ALERT
                } else {
                    0
                };
                let (records, missing) =
                    crate::api::alerts::evidence(s, &a.detection.events, per_alert)?;
                let records: Vec<Value> = records
                    .into_iter()
                    .map(|mut r| {
                        r["pretty"] =
                            json!(serde_json::to_string_pretty(&r["record"]).unwrap_or_default());
                        r
                    })
                    .collect();
                let mut j = alert_json(a);
                j["records"] = json!(records);
                j["records_total"] = json!(a.detection.events.len());
                j["records_not_kept"] = json!(missing);
                j["records_not_shown"] = json!(a.detection.events.len().saturating_sub(per_alert));
                list.push(j);
            }
            // Oldest first on the page, as a story.
            list.reverse();
            let notes = s.read().notes(Target::Incident, &id)?;
            let history = s.read().status_history(Target::Incident, &id)?;
            let assignee = s.read().assignee(&id)?;
            Ok((incident_json(&i), list, notes, history, assignee, i))
        })
        .await;
    let (inc, alerts, notes, history, assignee, stored) = match out {
        Ok(x) => x,
        Err(e) => return app_error(&state, &v, e),
    };
    let tl = timeline::svg(
        stored.record.first,
        stored.record.last,
        alerts.iter().filter_map(|a| {
            Some(timeline::Point {
                at: Timestamp::parse(a["timestamp"].as_str()?).ok()?,
                level: a["level"].as_str()?.parse().ok()?,
                label: format!(
                    "{} {}",
                    a["timestamp"].as_str().unwrap_or(""),
                    a["rule_title"].as_str().unwrap_or("")
                ),
                anchor: format!("alert-{}", a["id"].as_str().unwrap_or("")),
            })
        }),
    );
    let asns = asns_of(&alerts);
    let ips: Vec<Value> = strings(&inc, "ips")
        .into_iter()
        .map(|ip| json!({ "ip": ip, "asn": asns.get(&ip) }))
        .collect();
    let ctx = json!({
        "incident": inc,
        "ips": ips,
        "sentence": sentence(&inc),
        "alerts": alerts,
        "notes": notes,
        "history": history,
        "assignee": assignee,
        "timeline": tl,
        "statuses": ["new", "acknowledged", "closed"],
    });
    page(&state, &v, "incident.html", ctx)
}

/// The autonomous system of each IP, where an evidence record tells it (Entra sign-ins carry
/// `autonomousSystemNumber` beside `ipAddress`).
fn asns_of(alerts: &[Value]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for r in alerts
        .iter()
        .filter_map(|a| a["records"].as_array())
        .flatten()
    {
        let rec = &r["record"];
        let rec = if rec["properties"].is_object() {
            &rec["properties"]
        } else {
            rec
        };
        if let (Some(ip), Some(asn)) = (
            rec["ipAddress"].as_str(),
            rec["autonomousSystemNumber"].as_u64(),
        ) {
            out.insert(ip.to_owned(), asn);
        }
    }
    out
}

fn refuse_viewer(state: &AppState, v: &Viewer) -> Option<Response> {
    (!v.who.role.may_triage()).then(|| {
        message(
            state,
            v,
            StatusCode::FORBIDDEN,
            &format!("this needs the {} role", Role::Analyst),
        )
    })
}

fn back(id: &str) -> Response {
    Redirect::to(&format!("/incidents/{}", super::pages::path_segment(id))).into_response()
}

/// Percent-encode a path segment.
pub(crate) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `POST /incidents/{id}/status` (form: `status`, optional `note`).
pub(crate) async fn incident_status(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = refuse_viewer(&state, &v) {
        return r;
    }
    let to: Status = match form_field(&body, "status").unwrap_or_default().parse() {
        Ok(s) => s,
        Err(e) => return message(&state, &v, StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let note = form_field(&body, "note");
    let (who, id2) = (v.who.name.clone(), id.clone());
    let out = state
        .db(move |s| {
            Ok(s.write(|tx| {
                Ok(tx
                    .triage(Target::Incident, &id2, to, &who, note.as_deref())?
                    .is_some())
            })?)
        })
        .await;
    match out {
        Ok(true) => back(&id),
        Ok(false) => message(&state, &v, StatusCode::NOT_FOUND, "no such incident"),
        Err(e) => app_error(&state, &v, e),
    }
}

/// `POST /incidents/{id}/notes` (form: `text`).
pub(crate) async fn incident_note(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = refuse_viewer(&state, &v) {
        return r;
    }
    let text = form_field(&body, "text").unwrap_or_default();
    let (who, id2) = (v.who.name.clone(), id.clone());
    let out = state
        .db(move |s| {
            if s.read().incident(&id2)?.is_none() {
                return Err(AppError::NotFound(format!("no incident {id2:?}")));
            }
            Ok(s.write(|tx| tx.add_note(Target::Incident, &id2, &who, &text))?)
        })
        .await;
    match out {
        Ok(_) => back(&id),
        Err(e) => app_error(&state, &v, e),
    }
}

/// `POST /incidents/{id}/assign` (form: `assignee`; kept, and written as a note).
pub(crate) async fn incident_assign(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = refuse_viewer(&state, &v) {
        return r;
    }
    let assignee = form_field(&body, "assignee").unwrap_or_default();
    let assignee = assignee.trim().to_owned();
    if assignee.is_empty() || assignee.len() > stormwatch_store::MAX_USER_NAME {
        return message(
            &state,
            &v,
            StatusCode::BAD_REQUEST,
            "assign to a name of 1 to 64 characters",
        );
    }
    let (who, id2) = (v.who.name.clone(), id.clone());
    let out = state
        .db(move |s| {
            Ok(s.write(|tx| {
                if !tx.assign_incident(&id2, &assignee, &who)? {
                    return Ok(false);
                }
                tx.add_note(
                    Target::Incident,
                    &id2,
                    &who,
                    &format!("assigned to {assignee}"),
                )?;
                Ok(true)
            })?)
        })
        .await;
    match out {
        Ok(true) => back(&id),
        Ok(false) => message(&state, &v, StatusCode::NOT_FOUND, "no such incident"),
        Err(e) => app_error(&state, &v, e),
    }
}

/// `GET /mailboxes/{mailbox}`: its activity over the kept journal (per day, hours, apps,
/// networks, operations: its baseline as the records show it) and its alerts.
pub(crate) async fn mailbox(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
    Path(mailbox): Path<String>,
) -> Response {
    let m = mailbox.to_ascii_lowercase();
    let out = state
        .db(move |s| {
            let alerts = s.read().alerts(&AlertFilter {
                mailbox: Some(m.clone()),
                limit: Some(500),
                ..AlertFilter::default()
            })?;
            let activity = super::impact::mailbox_activity(s, &m)?;
            Ok((
                alerts.alerts.iter().map(alert_json).collect::<Vec<_>>(),
                activity,
            ))
        })
        .await;
    let (alerts, activity) = match out {
        Ok(x) => x,
        Err(e) => return app_error(&state, &v, e),
    };
    page(
        &state,
        &v,
        "mailbox.html",
        json!({ "mailbox": mailbox, "alerts": alerts, "activity": activity }),
    )
}

/// `GET /health`: per source, its last record, lag, rate, skipped records and located
/// errors; the pipeline; the visibility gaps the analytics found.
pub(crate) async fn health(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
) -> Response {
    let now = crate::now();
    let out = state
        .db(move |s| {
            let mut list = Vec::new();
            for src in s.read().sources()? {
                let errors = s.read().source_errors(&src.source, 20)?;
                let mut j = serde_json::to_value(&src).unwrap_or_else(|_| json!({}));
                let secs = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
                    (Some(a), Some(b)) => Some((b.nanos() - a.nanos()) as f64 / 1e9),
                    _ => None,
                };
                let span = secs(src.first_received, src.last_received);
                j["lag_seconds"] = json!(secs(src.newest_event, Some(now)).map(|s| s.round()));
                j["since_last_seconds"] =
                    json!(secs(src.last_received, Some(now)).map(|s| s.round()));
                j["rate_per_minute"] = json!(
                    span.filter(|s| *s > 0.0)
                        .map(|s| ((src.records as f64) * 60.0 / s).round())
                );
                j["errors"] = json!(errors);
                list.push(j);
            }
            let gaps = s.read().alerts(&AlertFilter {
                rule_id: Some("builtin/visibility-gaps".into()),
                limit: Some(200),
                ..AlertFilter::default()
            })?;
            Ok((list, gaps.alerts.iter().map(alert_json).collect::<Vec<_>>()))
        })
        .await;
    let (sources, gaps) = match out {
        Ok(x) => x,
        Err(e) => return app_error(&state, &v, e),
    };
    let m = &state.0.metrics;
    let wm = m.watermark.load(std::sync::atomic::Ordering::Relaxed);
    page(
        &state,
        &v,
        "health.html",
        json!({
            "sources": sources,
            "gaps": gaps,
            "pipeline": {
                "journal_head": m.journal_head.load(std::sync::atomic::Ordering::Relaxed),
                "position": m.position.load(std::sync::atomic::Ordering::Relaxed),
                "pending_records": m.pending_records(),
                "watermark": (wm != i64::MIN).then(|| Timestamp::from_nanos(wm)),
            },
        }),
    )
}

/// `GET /rules`: the Sigma rules loaded with their levels and alert counts, and the
/// analytics that raised alerts.
pub(crate) async fn rules(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
) -> Response {
    let hits = match state.db(|s| Ok(s.read().rule_hits()?)).await {
        Ok(h) => h,
        Err(e) => return app_error(&state, &v, e),
    };
    let by_id: BTreeMap<&str, &stormwatch_store::RuleHits> =
        hits.iter().map(|h| (h.rule_id.as_str(), h)).collect();
    let mut sigma: Vec<Value> = state
        .0
        .dashboard
        .rules
        .iter()
        .map(|r| {
            let h = by_id.get(r.id.as_str());
            json!({
                "id": r.id, "title": r.title, "level": r.level, "file": r.file,
                "status": r.status, "tags": r.tags,
                "alerts": h.map_or(0, |h| h.alerts),
                "newest": h.map(|h| h.newest),
            })
        })
        .collect();
    sigma.sort_by(|a, b| {
        b["alerts"]
            .as_u64()
            .cmp(&a["alerts"].as_u64())
            .then(a["title"].as_str().cmp(&b["title"].as_str()))
    });
    let known: std::collections::HashSet<&str> = state
        .0
        .dashboard
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    let analytics: Vec<&stormwatch_store::RuleHits> = hits
        .iter()
        .filter(|h| !known.contains(h.rule_id.as_str()))
        .collect();
    page(
        &state,
        &v,
        "rules.html",
        json!({ "sigma": sigma, "analytics": analytics, "loaded": state.0.dashboard.rules.len() }),
    )
}

/// `GET /tokens`: the JWT checker's form.
pub(crate) async fn tokens(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
) -> Response {
    page(&state, &v, "tokens.html", json!({ "verdict": null }))
}

/// `POST /tokens` (form: `token`, optional `audience`, `tenant`): `tokens verify`'s verdict
/// and checks against the built-in key registry (the Storm-0558 key among them).
pub(crate) async fn tokens_verify(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
    body: Bytes,
) -> Response {
    let token = form_field(&body, "token").unwrap_or_default();
    let token = token.trim().to_owned();
    if token.is_empty() || token.len() > stormwatch_tokens::MAX_TOKEN_LEN {
        return message(
            &state,
            &v,
            StatusCode::BAD_REQUEST,
            "paste one JWT (header.payload.signature)",
        );
    }
    let mut opts = stormwatch_tokens::VerifyOptions::default();
    if let Some(a) = form_field(&body, "audience").filter(|a| !a.trim().is_empty()) {
        opts.audiences = vec![a.trim().to_owned()];
    }
    if let Some(t) = form_field(&body, "tenant").filter(|t| !t.trim().is_empty()) {
        opts.tenants = vec![t.trim().to_owned()];
    }
    let verdict = tokio::task::spawn_blocking(move || {
        let v = stormwatch_tokens::verify(&token, &stormwatch_tokens::Registry::builtin(), &opts);
        let text = v.to_text();
        (serde_json::to_value(&v).unwrap_or(Value::Null), text)
    })
    .await;
    match verdict {
        Ok((j, text)) => page(
            &state,
            &v,
            "tokens.html",
            json!({
                "verdict": j,
                "text": text,
                "pretty_header": serde_json::to_string_pretty(&j["header"]).unwrap_or_default(),
                "pretty_claims": serde_json::to_string_pretty(&j["claims"]).unwrap_or_default(),
            }),
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            "verification failed",
        )
            .into_response(),
    }
}
