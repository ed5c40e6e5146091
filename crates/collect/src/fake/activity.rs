//! The Management Activity API: subscriptions, content listings with `NextPageUri`, blobs.
// Handlers answer early with the whole error response; its size does not matter in a test fake.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use axum::extract::{Path, RawQuery, State as Ax};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stormwatch_core::Timestamp;

use super::routes::{
    af, authorize, json_response, lock, param, params, publisher_check, throttled,
};
use super::{Audience, Shared, State};
use crate::fake::data::CONTENT_TYPES;

fn activity_auth(s: &mut State, headers: &HeaderMap, tenant: &str) -> Result<(), Response> {
    let token_tenant = authorize(s, headers, Audience::Manage)?;
    if token_tenant != tenant {
        s.violations.push(format!(
            "tenant {tenant} in the URL, {token_tenant} in the token"
        ));
        return Err(af(
            StatusCode::UNAUTHORIZED,
            "AF20010",
            &format!(
                "The tenant ID passed in the URL ({tenant}) does not match the tenant ID passed in the access token ({token_tenant})."
            ),
        ));
    }
    Ok(())
}

pub(super) async fn subscription_list(
    Ax(st): Ax<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let mut s = lock(&st);
    if let Err(r) = activity_auth(&mut s, &headers, &tenant) {
        return r;
    }
    let p = params(q.as_deref());
    publisher_check(&mut s, &p, "subscriptions/list");
    let enabled = s.subscriptions.get(&tenant).cloned().unwrap_or_default();
    let list: Vec<Value> = enabled
        .iter()
        .map(|c| json!({"contentType": c, "status": "enabled", "webhook": null}))
        .collect();
    json_response(StatusCode::OK, &Value::Array(list))
}

pub(super) async fn subscription_start(
    Ax(st): Ax<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let mut s = lock(&st);
    if let Err(r) = activity_auth(&mut s, &headers, &tenant) {
        return r;
    }
    let p = params(q.as_deref());
    publisher_check(&mut s, &p, "subscriptions/start");
    let Some(ct) = param(&p, "contentType").filter(|c| CONTENT_TYPES.contains(c)) else {
        s.violations
            .push("subscriptions/start without a valid contentType".to_owned());
        return af(
            StatusCode::BAD_REQUEST,
            "AF20020",
            "The specified content type is not valid.",
        );
    };
    if s.scenario.inject.forbidden.contains(ct) {
        return af(
            StatusCode::FORBIDDEN,
            "AF10001",
            "The permission set () sent in the request did not include the expected permission ActivityFeed.Read.",
        );
    }
    let list = s.subscriptions.entry(tenant).or_default();
    if !list.iter().any(|c| c == ct) {
        list.push(ct.to_owned());
    }
    json_response(
        StatusCode::OK,
        &json!({"contentType": ct, "status": "enabled", "webhook": null}),
    )
}

fn listing_time(v: &str) -> Option<Timestamp> {
    // YYYY-MM-DD, YYYY-MM-DDTHH:MM, YYYY-MM-DDTHH:MM:SS (UTC).
    let full = match v.len() {
        10 => format!("{v}T00:00:00"),
        16 => format!("{v}:00"),
        19 => v.to_owned(),
        _ => return None,
    };
    Timestamp::parse(&full).ok()
}

pub(super) async fn content(
    Ax(st): Ax<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let mut s = lock(&st);
    if let Err(r) = activity_auth(&mut s, &headers, &tenant) {
        return r;
    }
    let p = params(q.as_deref());
    publisher_check(&mut s, &p, "subscriptions/content");
    let Some(ct) = param(&p, "contentType").filter(|c| CONTENT_TYPES.contains(c)) else {
        s.violations
            .push("subscriptions/content without a valid contentType".to_owned());
        return af(
            StatusCode::BAD_REQUEST,
            "AF20020",
            "The specified content type is not valid.",
        );
    };
    let ct = ct.to_owned();
    if s.scenario.inject.forbidden.contains(&ct) {
        return af(
            StatusCode::FORBIDDEN,
            "AF10001",
            "The permission set () sent in the request did not include the expected permission ActivityFeed.Read.",
        );
    }
    if !s
        .subscriptions
        .get(&tenant)
        .is_some_and(|l| l.contains(&ct))
    {
        s.violations
            .push(format!("content listed for {ct} without a subscription"));
        return af(
            StatusCode::BAD_REQUEST,
            "AF20022",
            "No subscription found for the specified content type.",
        );
    }
    let now = crate::options::now();
    let (start, end) = match (param(&p, "startTime"), param(&p, "endTime")) {
        (Some(a), Some(b)) => match (listing_time(a), listing_time(b)) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                s.violations.push(format!(
                    "startTime/endTime not in a documented form: {a} {b}"
                ));
                return af(
                    StatusCode::BAD_REQUEST,
                    "AF20002",
                    "Invalid parameter type: startTime. Expected type: datetime",
                );
            }
        },
        (None, None) => (now.add_seconds(-86_400), now),
        _ => {
            s.violations
                .push("startTime without endTime or the reverse".to_owned());
            return af(
                StatusCode::BAD_REQUEST,
                "AF20030",
                "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.",
            );
        }
    };
    if start >= end
        || end.unix_seconds() - start.unix_seconds() > 86_400
        || start < now.add_seconds(-7 * 86_400)
    {
        s.violations.push(format!(
            "content listing {start} – {end} outside the documented limits"
        ));
        return af(
            StatusCode::BAD_REQUEST,
            "AF20055",
            "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time prior to end time and start time no more than 7 days in the past.",
        );
    }
    if s.throttle_left > 0 {
        s.throttle_left -= 1;
        return throttled(&s);
    }
    let inject = &s.scenario.inject;
    let mut items: Vec<(Timestamp, String, Timestamp)> = Vec::new();
    if let Some(t) = s.scenario.tenants.iter().find(|t| t.id == tenant) {
        for b in t.blobs.iter().filter(|b| b.content_type == ct) {
            let listed_at = |at: Timestamp| start <= at && at < end;
            let mut times = 0;
            if listed_at(b.created) {
                times += 1;
                if inject.listed_twice.contains(&b.id) {
                    times += 1;
                }
            }
            if inject.listed_next_hour.contains(&b.id) && listed_at(b.created.add_seconds(3600)) {
                times += 1;
            }
            for _ in 0..times {
                items.push((b.created, b.id.clone(), b.expires));
            }
        }
    }
    items.sort();
    if inject.reverse_listing {
        items.reverse();
    }
    let page_size = s.scenario.page_size.max(1);
    let page: usize = param(&p, "nextPage")
        .and_then(|n| n.strip_prefix('p'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let base = s.base.clone();
    let body: Vec<Value> = items
        .iter()
        .skip(page * page_size)
        .take(page_size)
        .map(|(created, id, expires)| {
            json!({
                "contentType": ct,
                "contentId": id,
                "contentUri": format!("{base}/api/v1.0/{tenant}/activity/feed/audit/{id}"),
                "contentCreated": format!("{}", created),
                "contentExpiration": format!("{}", expires),
            })
        })
        .collect();
    let mut resp = json_response(StatusCode::OK, &Value::Array(body));
    if (page + 1) * page_size < items.len() {
        let next = format!(
            "{base}/api/v1.0/{tenant}/activity/feed/subscriptions/content?contentType={ct}&startTime={}&endTime={}&nextPage=p{}",
            param(&p, "startTime").unwrap_or(""),
            param(&p, "endTime").unwrap_or(""),
            page + 1
        );
        if let Ok(v) = next.parse() {
            resp.headers_mut().insert("NextPageUri", v);
        }
    }
    resp
}

pub(super) async fn blob(
    Ax(st): Ax<Shared>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let hang = {
        let mut s = lock(&st);
        if let Err(r) = activity_auth(&mut s, &headers, &tenant) {
            return r;
        }
        let p = params(q.as_deref());
        publisher_check(&mut s, &p, "a content blob request");
        s.scenario
            .inject
            .hang_after_blobs
            .is_some_and(|n| s.blobs_served >= n)
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut s = lock(&st);
    if s.af429_left > 0 {
        s.af429_left -= 1;
        return af(
            StatusCode::FORBIDDEN,
            "AF429",
            &format!("Too many requests. Method=GetBlob, PublisherId={tenant}"),
        );
    }
    if let Some(n) = s.blob_500_left.get_mut(&id)
        && *n > 0
    {
        *n -= 1;
        return af(
            StatusCode::INTERNAL_SERVER_ERROR,
            "AF50000",
            "An internal error occurred. Retry the request.",
        );
    }
    if s.scenario.inject.blob_500_always.contains(&id) {
        return af(
            StatusCode::INTERNAL_SERVER_ERROR,
            "AF50000",
            "An internal error occurred. Retry the request.",
        );
    }
    if s.scenario.inject.garbage_blobs.contains(&id) {
        s.blobs_served += 1;
        return (
            StatusCode::OK,
            "<html><body>Service Unavailable</body></html>",
        )
            .into_response();
    }
    if s.scenario.inject.expired.contains(&id) {
        return af(
            StatusCode::BAD_REQUEST,
            "AF20051",
            &format!(
                "Content requested with the key {id} has already expired. Content older than 7 days cannot be retrieved."
            ),
        );
    }
    let found = s
        .scenario
        .tenants
        .iter()
        .find(|t| t.id == tenant)
        .and_then(|t| t.blobs.iter().find(|b| b.id == id))
        .cloned();
    let Some(b) = found else {
        s.violations
            .push(format!("a content blob that was never listed: {id}"));
        return af(
            StatusCode::BAD_REQUEST,
            "AF20050",
            &format!("The specified content ({id}) does not exist."),
        );
    };
    s.blobs_served += 1;
    s.served
        .entry((tenant, b.content_type.clone()))
        .or_default()
        .extend(b.records.iter().cloned());
    json_response(StatusCode::OK, &Value::Array(b.records))
}
