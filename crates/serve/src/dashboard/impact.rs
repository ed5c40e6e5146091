//! An incident's impact, as `stormwatch impact` makes it: the actor seeded from the incident's
//! IPs and sessions, expanded over the records the journal keeps, read in two passes (a graph
//! first, then only the actor's records) so memory stays flat; rendered by the same code as
//! the command (HTML, CSV, JSON). And a mailbox's activity over the same records.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stormwatch_core::{Event, FileStats, ImpactReport, InputStats, Limit, LimitKind};
use stormwatch_impact::{Assessor, ImpactOptions, Seeds};
use stormwatch_report::ImpactFormat;
use stormwatch_store::Store;

use super::pages::message;
use super::session::Viewer;
use crate::api::{AppError, AppState};

/// Records read from the journal for one report at most (each pass).
pub(crate) const MAX_RECORDS: u64 = 5_000_000;

/// What a pass over the journal read.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    stats: InputStats,
    by_source: BTreeMap<String, usize>,
    records: u64,
    /// The cap was reached: later records were not read.
    pub(crate) truncated: bool,
}

/// Every record the journal keeps, oldest batch first, at most [`MAX_RECORDS`].
pub(crate) fn scan_journal(store: &Store, mut f: impl FnMut(&Event)) -> Result<Scanned, AppError> {
    let mut out = Scanned::default();
    let mut pos = 0;
    while let Some(b) = store.read().batch_after(pos)? {
        pos = b.id;
        if out.records >= MAX_RECORDS {
            out.truncated = true;
            break;
        }
        let events =
            crate::journal::replay(&b, 1).map_err(|e| AppError::Internal(e.to_string()))?;
        let idx = *out.by_source.entry(b.source.clone()).or_insert_with(|| {
            out.stats.files.push(FileStats {
                file: format!("ingest source {}", b.source),
                format: b.format.clone().unwrap_or_default(),
                ..FileStats::default()
            });
            out.stats.files.len() - 1
        });
        for ev in &events {
            out.records += 1;
            if let Some(fs) = out.stats.files.get_mut(idx) {
                fs.records += 1;
                fs.bytes += ev.raw.len() as u64;
                if let Some(t) = ev.time {
                    fs.first = Some(fs.first.map_or(t, |x| x.min(t)));
                    fs.last = Some(fs.last.map_or(t, |x| x.max(t)));
                }
            }
            if let Some(t) = ev.time {
                let cell = out
                    .stats
                    .coverage
                    .entry((
                        ev.tenant.clone().unwrap_or_default(),
                        ev.workload.clone().unwrap_or_default(),
                        t.date_string(),
                    ))
                    .or_default();
                cell.records += 1;
                if ev.is_mail_items_accessed() {
                    cell.mail_items_accessed += 1;
                }
            }
            f(ev);
        }
    }
    Ok(out)
}

/// The impact report of incident `id`.
pub(crate) fn assess(store: &Store, id: &str) -> Result<ImpactReport, AppError> {
    let i = store
        .read()
        .incident(id)?
        .ok_or_else(|| AppError::NotFound(format!("no incident {id:?}")))?;
    let list = |k: &str| -> Vec<String> {
        i.record.body[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let seeds = Seeds {
        ips: list("ips"),
        sessions: list("sessions"),
        apps: Vec::new(),
        user_agents: Vec::new(),
    };
    let opts = ImpactOptions {
        expand: true,
        ..ImpactOptions::default()
    };
    let mut graph = Assessor::graph_only();
    scan_journal(store, |ev| graph.observe(ev))?;
    let actor = graph.resolve_actor(&seeds, &opts);
    drop(graph);
    let mut focused = Assessor::focused(&actor);
    let scanned = scan_journal(store, |ev| focused.observe(ev))?;
    let mut report = focused.finish(&seeds, &opts, &scanned.stats);
    if scanned.truncated {
        report.limits.push(Limit {
            kind: LimitKind::RetentionEdge,
            from: None,
            to: None,
            detail: format!(
                "only the first {MAX_RECORDS} records the service keeps were read for this report"
            ),
        });
    }
    report.limits.push(Limit {
        kind: LimitKind::RetentionEdge,
        from: scanned.stats.files.iter().filter_map(|f| f.first).min(),
        to: None,
        detail: format!(
            "read from the {} records the service still keeps (its retention setting bounds them): older records are not in this report",
            scanned.records
        ),
    });
    Ok(report)
}

/// `GET /incidents/{id}/impact`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let id2 = id.clone();
    let out = state.db(move |s| assess(s, &id2)).await;
    match out {
        Ok(report) => {
            let totals = stormwatch_report::impact_totals(&report);
            let ctx = json!({
                "incident_id": id,
                "report": serde_json::to_value(&report).unwrap_or(Value::Null),
                "totals": {
                    "messages": totals.messages,
                    "mailboxes_read": totals.mailboxes_read,
                    "orgs_touched": totals.orgs_touched,
                    "presumed": totals.presumed,
                },
                "me": { "name": v.who.name, "role": v.who.role },
                "csrf": v.csrf,
            });
            state.0.dashboard.render("impact.html", &ctx)
        }
        Err(AppError::NotFound(m)) => message(&state, &v, StatusCode::NOT_FOUND, &m),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Download {
    format: Option<String>,
}

/// `GET /incidents/{id}/impact/download?format=html|csv|json`: the report as a file.
pub(crate) async fn download(
    State(state): State<AppState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    q: Result<Query<Download>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let fmt = q
        .ok()
        .and_then(|Query(q)| q.format)
        .unwrap_or_else(|| "json".into());
    let (format, ext, ctype) = match fmt.as_str() {
        "html" => (ImpactFormat::Html, "html", "text/html; charset=utf-8"),
        "csv" => (ImpactFormat::Csv, "csv", "text/csv; charset=utf-8"),
        "json" => (ImpactFormat::Json, "json", "application/json"),
        other => {
            return message(
                &state,
                &v,
                StatusCode::BAD_REQUEST,
                &format!("format {other:?}: html, csv or json"),
            );
        }
    };
    let id2 = id.clone();
    let out = state
        .db(move |s| {
            let report = assess(s, &id2)?;
            let mut buf = Vec::new();
            stormwatch_report::write_impact(&mut buf, format, &report)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            Ok(buf)
        })
        .await;
    match out {
        Ok(bytes) => {
            let safe: String = id
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(64)
                .collect();
            (
                [
                    (header::CONTENT_TYPE, ctype.to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"impact-{safe}.{ext}\""),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(AppError::NotFound(m)) => message(&state, &v, StatusCode::NOT_FOUND, &m),
        Err(e) => e.into_response(),
    }
}

/// A mailbox's activity in the kept records: per day, per hour of day (UTC), by app, by
/// network (/24 or /48), by operation: what its normal looks like, and what stands out.
pub(crate) fn mailbox_activity(store: &Store, mailbox: &str) -> Result<Value, AppError> {
    let mut days: BTreeMap<String, u64> = BTreeMap::new();
    let mut hours = [0u64; 24];
    let mut apps: BTreeMap<String, u64> = BTreeMap::new();
    let mut nets: BTreeMap<String, u64> = BTreeMap::new();
    let mut ops: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0u64;
    let scanned = scan_journal(store, |ev| {
        let mine = ev
            .mailbox
            .as_deref()
            .or(ev.user.as_deref())
            .is_some_and(|m| m.eq_ignore_ascii_case(mailbox));
        if !mine {
            return;
        }
        total += 1;
        if let Some(t) = ev.time {
            *days.entry(t.date_string()).or_default() += 1;
            let h = usize::try_from((t.nanos().rem_euclid(86_400_000_000_000)) / 3_600_000_000_000)
                .unwrap_or(0);
            if let Some(c) = hours.get_mut(h) {
                *c += 1;
            }
        }
        if let Some(a) = ev.client_app_id.as_deref().or(ev.app_id.as_deref()) {
            *apps.entry(a.to_owned()).or_default() += 1;
        }
        if let Some(ip) = ev.client_ip {
            *nets.entry(network(ip)).or_default() += 1;
        }
        if let Some(o) = ev.operation.as_deref() {
            *ops.entry(o.to_owned()).or_default() += 1;
        }
    })?;
    let top = |m: BTreeMap<String, u64>| {
        let mut v: Vec<(String, u64)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(20);
        v.into_iter()
            .map(|(k, n)| json!({ "name": k, "records": n }))
            .collect::<Vec<_>>()
    };
    let peak_day = days.values().copied().max().unwrap_or(0).max(1);
    let peak_hour = hours.iter().copied().max().unwrap_or(0).max(1);
    Ok(json!({
        "records": total,
        "truncated": scanned.truncated,
        "days": days.iter().map(|(d, n)| json!({ "day": d, "records": n, "pct": n * 100 / peak_day })).collect::<Vec<_>>(),
        "hours": hours.iter().enumerate().map(|(h, n)| json!({ "hour": h, "records": n, "pct": n * 100 / peak_hour })).collect::<Vec<_>>(),
        "apps": top(apps),
        "networks": top(nets),
        "operations": top(ops),
    }))
}

fn network(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v) => {
            let o = v.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(v) => {
            let s = v.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}
