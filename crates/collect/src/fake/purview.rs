//! The Purview audit search: queries created, their status moving to `succeeded` after some
//! polls (or never), their records paged.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as Ax};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use stormwatch_core::Timestamp;

use super::graph::page_values;
use super::routes::{authorize, graph_error, json_response, lock, param, params};
use super::{Audience, Query, Shared, State};

pub(super) async fn query_create(Ax(st): Ax<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut s = lock(&st);
    let tenant = match authorize(&mut s, &headers, Audience::Graph) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if s.scenario.inject.forbidden.contains("auditLogQuery") {
        return graph_error(
            &mut s,
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Insufficient privileges to complete the operation.",
        );
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let time = |k: &str| v[k].as_str().and_then(|t| Timestamp::parse(t).ok());
    let (Some(from), Some(to)) = (time("filterStartDateTime"), time("filterEndDateTime")) else {
        s.violations.push(
            "an audit log query without filterStartDateTime and filterEndDateTime".to_owned(),
        );
        return graph_error(
            &mut s,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid query",
        );
    };
    let record_types: Vec<String> = v["recordTypeFilters"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let id = s.rng.guid();
    s.queries.insert(
        id.clone(),
        Query {
            tenant,
            from,
            to,
            record_types: record_types.clone(),
            polls: 0,
        },
    );
    json_response(
        StatusCode::CREATED,
        &json!({"@odata.type": "#microsoft.graph.security.auditLogQuery", "id": id,
            "displayName": v["displayName"].clone(), "filterStartDateTime": from.to_string(),
            "filterEndDateTime": to.to_string(), "recordTypeFilters": record_types,
            "status": "notStarted"}),
    )
}

fn query_status(s: &State, q: &Query) -> &'static str {
    if s.scenario
        .inject
        .stuck_queries
        .contains(&q.from.unix_seconds())
    {
        "running"
    } else if q.polls > s.scenario.inject.query_polls {
        "succeeded"
    } else if q.polls == 1 {
        "notStarted"
    } else {
        "running"
    }
}

pub(super) async fn query_get(
    Ax(st): Ax<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut s = lock(&st);
    let tenant = match authorize(&mut s, &headers, Audience::Graph) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(q) = s.queries.get_mut(&id).filter(|q| q.tenant == tenant) else {
        return graph_error(&mut s, StatusCode::NOT_FOUND, "NotFound", "Query not found");
    };
    q.polls += 1;
    let Some(q) = s.queries.get(&id) else {
        return graph_error(&mut s, StatusCode::NOT_FOUND, "NotFound", "Query not found");
    };
    let status = query_status(&s, q);
    json_response(
        StatusCode::OK,
        &json!({"@odata.type": "#microsoft.graph.security.auditLogQuery", "id": id,
            "filterStartDateTime": q.from.to_string(), "filterEndDateTime": q.to.to_string(),
            "status": status}),
    )
}

pub(super) async fn query_records(
    Ax(st): Ax<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut s = lock(&st);
    let tenant = match authorize(&mut s, &headers, Audience::Graph) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(q) = s.queries.get(&id).filter(|q| q.tenant == tenant) else {
        return graph_error(&mut s, StatusCode::NOT_FOUND, "NotFound", "Query not found");
    };
    if query_status(&s, q) != "succeeded" {
        s.violations
            .push(format!("records of query {id} read before it succeeded"));
        return graph_error(
            &mut s,
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Query is not complete",
        );
    }
    let (from, to, types) = (q.from, q.to, q.record_types.clone());
    let Some(t) = s.scenario.tenants.iter().find(|t| t.id == tenant) else {
        return graph_error(&mut s, StatusCode::NOT_FOUND, "NotFound", "tenant");
    };
    let rows: Vec<Value> = t
        .audit_records
        .iter()
        .filter(|r| {
            let at = r["createdDateTime"]
                .as_str()
                .and_then(|x| Timestamp::parse(x).ok());
            let typed = types.is_empty()
                || r["auditLogRecordType"]
                    .as_str()
                    .is_some_and(|x| types.iter().any(|y| y == x));
            at.is_some_and(|a| from <= a && a < to) && typed
        })
        .cloned()
        .collect();
    let p = params(raw.as_deref());
    let offset: usize = param(&p, "$skiptoken")
        .and_then(|t| t.strip_prefix('o'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let size = s.scenario.page_size.max(1);
    let page: Vec<Value> = rows.iter().skip(offset).take(size).cloned().collect();
    let mut body = json!({"value": page});
    if offset + size < rows.len() {
        body["@odata.nextLink"] = json!(format!(
            "{}/v1.0/security/auditLog/queries/{id}/records?$skiptoken=o{}",
            s.base,
            offset + size
        ));
    }
    s.served
        .entry((tenant, "auditLogQuery".to_owned()))
        .or_default()
        .extend(page_values(&body));
    json_response(StatusCode::OK, &body)
}
