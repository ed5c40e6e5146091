//! The fake's router and what its endpoints share: request log, error bodies, tokens.
// Handlers answer early with the whole error response; its size does not matter in a test fake.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, Request, State as Ax};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::activity::{blob, content, subscription_list, subscription_start};
use super::graph::{List, graph_list};
use super::purview::{query_create, query_get, query_records};
use super::token::token;
use super::{Audience, Shared, State};

pub(super) fn app(state: Shared) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/list",
            get(subscription_list),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/start",
            post(subscription_start),
        )
        .route(
            "/api/v1.0/{tenant}/activity/feed/subscriptions/content",
            get(content),
        )
        .route("/api/v1.0/{tenant}/activity/feed/audit/{id}", get(blob))
        .route(
            "/v1.0/auditLogs/signIns",
            get(|s: Ax<Shared>, h: HeaderMap, q: RawQuery| graph_list(s, h, q, List::SignIns)),
        )
        .route(
            "/beta/auditLogs/signIns",
            get(|s: Ax<Shared>, h: HeaderMap, q: RawQuery| graph_list(s, h, q, List::SignInsBeta)),
        )
        .route(
            "/v1.0/auditLogs/directoryAudits",
            get(|s: Ax<Shared>, h: HeaderMap, q: RawQuery| {
                graph_list(s, h, q, List::DirectoryAudits)
            }),
        )
        .route("/v1.0/security/auditLog/queries", post(query_create))
        .route("/v1.0/security/auditLog/queries/{id}", get(query_get))
        .route(
            "/v1.0/security/auditLog/queries/{id}/records",
            get(query_records),
        )
        .fallback(unknown)
        .layer(middleware::from_fn_with_state(state.clone(), log))
        .with_state(state)
}

pub(super) fn lock(st: &Shared) -> std::sync::MutexGuard<'_, State> {
    match st.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

async fn log(Ax(st): Ax<Shared>, req: Request, next: Next) -> Response {
    let line = format!("{} {}", req.method(), req.uri());
    let latency = {
        let mut s = lock(&st);
        s.requests.push(line);
        s.scenario.inject.latency_ms
    };
    if latency > 0 && !req.uri().path().ends_with("/token") {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    next.run(req).await
}

async fn unknown(Ax(st): Ax<Shared>, req: Request) -> Response {
    lock(&st)
        .violations
        .push(format!("no such endpoint: {} {}", req.method(), req.uri()));
    graph_error(
        &mut lock(&st),
        StatusCode::NOT_FOUND,
        "UnknownError",
        "no such endpoint",
    )
}

pub(super) fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

/// The Activity API's error body.
pub(super) fn af(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// Graph's error body.
pub(super) fn graph_error(
    s: &mut State,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    let id = s.rng.guid();
    json_response(
        status,
        &json!({"error": {"code": code, "message": message, "innerError": {
            "date": crate::options::now().to_string(), "request-id": id, "client-request-id": id}}}),
    )
}

pub(super) fn throttled(s: &State) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (
                header::RETRY_AFTER,
                s.scenario.inject.retry_after_secs.to_string(),
            ),
            (header::CONTENT_TYPE, "application/json".to_owned()),
        ],
        json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}}).to_string(),
    )
        .into_response()
}

pub(super) fn params(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn param<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

/// The bearer token's tenant, if the token is good for `aud`.
pub(super) fn authorize(
    s: &mut State,
    headers: &HeaderMap,
    aud: Audience,
) -> Result<String, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let unauthorized = |s: &mut State, m: &str| {
        graph_error(s, StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m)
    };
    let Some(bearer) = bearer else {
        s.violations
            .push("a request without a bearer token".to_owned());
        return Err(unauthorized(s, "Access token is empty."));
    };
    let revoke_after = s.scenario.inject.revoke_after;
    let Some(t) = s.tokens.get_mut(&bearer) else {
        s.violations
            .push("a request with a token the fake never issued".to_owned());
        return Err(unauthorized(s, "Invalid token."));
    };
    t.uses += 1;
    let expired = t.expires <= Instant::now() || revoke_after.is_some_and(|n| t.uses > n);
    let (tenant, token_aud) = (t.tenant.clone(), t.audience);
    if expired {
        return Err(unauthorized(
            s,
            "Lifetime validation failed, the token is expired.",
        ));
    }
    if token_aud != aud {
        s.violations
            .push(format!("a token for {token_aud:?} used on the {aud:?} API"));
        return Err(unauthorized(s, "Invalid audience."));
    }
    Ok(tenant)
}

pub(super) fn publisher_check(s: &mut State, p: &[(String, String)], what: &str) {
    if param(p, "PublisherIdentifier").is_none_or(str::is_empty) {
        s.violations
            .push(format!("{what} without PublisherIdentifier"));
    }
}
