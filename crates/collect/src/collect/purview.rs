//! The Purview audit search (Graph `/security/auditLog/queries`): one query per window, created
//! once (its id is journalled, so a later run polls the same query), polled until it has
//! `succeeded`, then its records read page by page.

use std::sync::Arc;
use std::time::Instant;

use reqwest::Method;
use serde_json::json;
use url::Url;

use super::graph;
use super::window::{Tenant, Work};
use crate::cloud::Endpoints;
use crate::error::{ApiError, CollectError};
use crate::http::Body;
use crate::manifest::WindowRecord;
use crate::plan::Window;
use crate::source::Source;
use crate::store::journal::{Entry, QueryEntry};
use crate::store::spool::Spool;

fn queries(t: &Tenant) -> Url {
    Endpoints::join(&t.spec.endpoints.graph, "/v1.0/security/auditLog/queries")
}

fn query_url(t: &Tenant, id: &str, tail: &str) -> Url {
    let mut u = queries(t);
    // Ids are GUID-like; anything else is carried as one escaped path segment.
    if let Ok(mut segs) = u.path_segments_mut() {
        segs.push(id);
        if !tail.is_empty() {
            segs.push(tail);
        }
    }
    u
}

async fn journal(t: &Tenant, w: Window, query_id: Option<String>) -> Result<(), CollectError> {
    let store = Arc::clone(&t.store);
    let entry = Entry::Query(QueryEntry {
        tenant: t.spec.tenant.clone(),
        from: w.from,
        to: w.to,
        query_id,
    });
    tokio::task::spawn_blocking(move || store.note(entry))
        .await
        .map_err(|e| CollectError::Invalid(format!("a worker stopped: {e}")))?
}

async fn create(t: &Tenant, w: Window, work: &mut Work) -> Result<String, ApiError> {
    let mut body = json!({
        "@odata.type": "#microsoft.graph.security.auditLogQuery",
        "displayName": format!("stormwatch collect {} to {}", w.from, w.to),
        "filterStartDateTime": w.from.to_string(),
        "filterEndDateTime": w.to.to_string(),
    });
    if !t.settings.record_types.is_empty() {
        body["recordTypeFilters"] = json!(t.settings.record_types);
    }
    let reply = t
        .http
        .send(
            Method::POST,
            &queries(t),
            Body::Json(&body),
            Some(&t.graph),
            &t.redact,
            &mut work.tally,
        )
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|e| ApiError::Invalid(format!("the created query is not JSON: {e}")))?;
    let v = v.get("value").filter(|x| x.is_object()).unwrap_or(&v);
    v.get("id")
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty() && s.len() < 200)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Invalid("the created query has no id".to_owned()))
}

enum Poll {
    Done,
    Ended(String),
    StillRunning(String),
    Gone,
    Failed(ApiError),
}

async fn poll(t: &Tenant, id: &str, work: &mut Work) -> Poll {
    let policy = &t.settings.poll;
    let deadline = Instant::now() + policy.timeout;
    let mut delay = policy.first;
    let url = query_url(t, id, "");
    loop {
        let reply = t
            .http
            .send(
                Method::GET,
                &url,
                Body::Empty,
                Some(&t.graph),
                &t.redact,
                &mut work.tally,
            )
            .await;
        let status = match reply {
            Ok(r) => match serde_json::from_slice::<serde_json::Value>(&r.body) {
                Ok(v) => {
                    let v = v.get("value").filter(|x| x.is_object()).unwrap_or(&v);
                    v.get("status")
                        .and_then(serde_json::Value::as_str)
                        .map(|s| t.redact.clean(s))
                        .unwrap_or_default()
                }
                Err(e) => {
                    return Poll::Failed(ApiError::Invalid(format!(
                        "the query status is not JSON: {e}"
                    )));
                }
            },
            Err(e) if e.status() == Some(404) => return Poll::Gone,
            Err(e) => return Poll::Failed(e),
        };
        match status.as_str() {
            "succeeded" => return Poll::Done,
            "failed" | "cancelled" => return Poll::Ended(status),
            _ => {}
        }
        if Instant::now() + delay > deadline {
            return Poll::StillRunning(if status.is_empty() {
                "without a status".to_owned()
            } else {
                status
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(policy.max);
    }
}

/// Collect one window through the Purview audit search. `known` is the query a previous run
/// made for it.
pub(crate) async fn window(
    t: &Arc<Tenant>,
    w: Window,
    known: Option<String>,
) -> Result<(Spool, WindowRecord), CollectError> {
    let source = Source::AuditLogQuery;
    let now = t.settings.now;
    let mut work = Work::start(t, source, w)?;
    let cloud = t.spec.endpoints.cloud;
    if !cloud.has_audit_search() {
        let e = ApiError::Unavailable(format!(
            "the Purview audit search API is documented for Microsoft's global service only, not for the {cloud} cloud"
        ));
        work.fail(e.to_string(), Some(&e));
        return Ok(work.finish(now));
    }
    graph::settle(&mut work, t, source, w, now);
    let mut id = known;
    let mut recreated = false;
    loop {
        let qid = match id.take() {
            Some(q) => q,
            None => match create(t, w, &mut work).await {
                Ok(q) => {
                    journal(t, w, Some(q.clone())).await?;
                    q
                }
                Err(e) => {
                    work.fail(
                        format!("creating the audit log query failed: {e}"),
                        Some(&e),
                    );
                    return Ok(work.finish(now));
                }
            },
        };
        work.rec.query_id = Some(qid.clone());
        match poll(t, &qid, &mut work).await {
            Poll::Done => {
                let first = query_url(t, &qid, "records");
                if let Some((reason, e)) = graph::pages(t, source, first, &mut work).await? {
                    work.fail(format!("audit log query {qid}: {reason}"), Some(&e));
                }
                return Ok(work.finish(now));
            }
            Poll::Ended(status) => {
                journal(t, w, None).await?;
                work.fail(
                    format!("audit log query {qid} ended {status}: the next run makes a new one"),
                    None,
                );
                return Ok(work.finish(now));
            }
            Poll::StillRunning(status) => {
                work.fail(
                    format!(
                        "audit log query {qid} was still {status} after {} s: the next run polls it again",
                        t.settings.poll.timeout.as_secs()
                    ),
                    None,
                );
                return Ok(work.finish(now));
            }
            Poll::Gone if !recreated => {
                // The query expired or was deleted: ask again, once.
                recreated = true;
                journal(t, w, None).await?;
            }
            Poll::Gone => {
                let e = ApiError::Http {
                    status: 404,
                    code: None,
                    message: Some("the query was not found".to_owned()),
                };
                work.fail(format!("audit log query {qid}: {e}"), Some(&e));
                return Ok(work.finish(now));
            }
            Poll::Failed(e) => {
                work.fail(
                    format!("polling audit log query {qid} failed: {e}"),
                    Some(&e),
                );
                return Ok(work.finish(now));
            }
        }
    }
}
