//! The fake's endpoints.
// Handlers answer early with the whole error response; its size does not matter in a test fake.
#![allow(clippy::result_large_err)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State as Ax};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use stormwatch_core::Timestamp;

use super::{Audience, Query, Shared, State, Token};
use crate::fake::data::CONTENT_TYPES;

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

fn lock(st: &Shared) -> std::sync::MutexGuard<'_, State> {
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

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

/// The Activity API's error body.
fn af(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// Graph's error body.
fn graph_error(s: &mut State, status: StatusCode, code: &str, message: &str) -> Response {
    let id = s.rng.guid();
    json_response(
        status,
        &json!({"error": {"code": code, "message": message, "innerError": {
            "date": crate::options::now().to_string(), "request-id": id, "client-request-id": id}}}),
    )
}

fn throttled(s: &State) -> Response {
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

fn params(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

/// The bearer token's tenant, if the token is good for `aud`.
fn authorize(s: &mut State, headers: &HeaderMap, aud: Audience) -> Result<String, Response> {
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

fn publisher_check(s: &mut State, p: &[(String, String)], what: &str) {
    if param(p, "PublisherIdentifier").is_none_or(str::is_empty) {
        s.violations
            .push(format!("{what} without PublisherIdentifier"));
    }
}

// ---- token endpoint -------------------------------------------------------------------

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description, "error_codes": [],
            "timestamp": crate::options::now().to_string()}),
    )
}

async fn token(Ax(st): Ax<Shared>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let f = |k: &str| param(&form, k).unwrap_or("").to_owned();
    let mut s = lock(&st);
    let Some(t) = s.scenario.tenants.iter().find(|t| t.id == tenant).cloned() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("AADSTS90002: Tenant '{tenant}' not found."),
        );
    };
    if f("grant_type") != "client_credentials" {
        s.violations
            .push(format!("grant_type {:?}", f("grant_type")));
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003",
        );
    }
    let audience = match f("scope").as_str() {
        "https://manage.office.com/.default" => Audience::Manage,
        "https://graph.microsoft.com/.default" => Audience::Graph,
        other => {
            s.violations.push(format!("scope {other:?}"));
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "AADSTS1002012: The provided value for scope is not valid.",
            );
        }
    };
    if f("client_id") != t.client_id {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{}' was not found in the directory.",
                f("client_id")
            ),
        );
    }
    if s.scenario.inject.echo_credentials {
        let sent = if f("client_secret").is_empty() {
            f("client_assertion")
        } else {
            f("client_secret")
        };
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!("AADSTS7000215: Invalid client secret provided. Received: {sent}"),
        );
    }
    let ok = if !f("client_secret").is_empty() {
        match &t.secret {
            Some(secret) if *secret == f("client_secret") => Ok(()),
            _ => Err("AADSTS7000215: Invalid client secret provided.".to_owned()),
        }
    } else if !f("client_assertion").is_empty() {
        if f("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
            s.violations.push("client_assertion_type".to_owned());
        }
        verify_assertion(&t, &tenant, &f("client_assertion"))
    } else {
        s.violations
            .push("a token request without a credential".to_owned());
        Err(
            "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required."
                .to_owned(),
        )
    };
    if let Err(description) = ok {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &description);
    }
    let value = format!("fake.{}.{}", s.rng.guid(), s.rng.guid());
    let lifetime = s.scenario.token_lifetime_secs;
    s.tokens.insert(
        value.clone(),
        Token {
            tenant: tenant.clone(),
            audience,
            expires: Instant::now() + Duration::from_secs(lifetime),
            uses: 0,
        },
    );
    s.issued += 1;
    json_response(
        StatusCode::OK,
        &json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
            "access_token": value}),
    )
}

fn verify_assertion(t: &super::FakeTenant, tenant: &str, jwt: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "AADSTS700027: Client assertion failed signature validation ({why})."
        ))
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts.as_slice() else {
        return bad("not a JWS");
    };
    let decode = |x: &str| URL_SAFE_NO_PAD.decode(x).ok();
    let Some(header) = decode(h).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
        return bad("header");
    };
    let Some(claims) = decode(c).and_then(|b| serde_json::from_slice::<Value>(&b).ok()) else {
        return bad("claims");
    };
    let (Some(cert), Some(key)) = (&t.certificate_der, &t.public_key_der) else {
        return bad("no certificate registered");
    };
    if header["alg"] != "RS256" {
        return bad("alg");
    }
    let x5t = URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert).as_ref());
    if header["x5t"] != x5t.as_str() {
        return bad("x5t does not name the registered certificate");
    }
    let Some(signature) = decode(sig) else {
        return bad("signature encoding");
    };
    let pk = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        key.as_slice(),
    );
    if pk
        .verify(format!("{h}.{c}").as_bytes(), &signature)
        .is_err()
    {
        return bad("signature");
    }
    let aud = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token");
    if claims["aud"] != aud.as_str() {
        return Err("AADSTS700021: Client assertion audience claim does not match.".to_owned());
    }
    if claims["iss"] != t.client_id.as_str() || claims["sub"] != t.client_id.as_str() {
        return Err(
            "AADSTS700021: Client assertion application identifier doesn't match 'client_id'."
                .to_owned(),
        );
    }
    let now = crate::options::now().unix_seconds();
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let nbf = claims["nbf"].as_i64().unwrap_or(i64::MAX);
    if exp <= now || nbf > now + 300 || claims["jti"].as_str().is_none_or(str::is_empty) {
        return Err(
            "AADSTS700024: Client assertion is not within its valid time range.".to_owned(),
        );
    }
    Ok(())
}

// ---- Management Activity API ----------------------------------------------------------

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

async fn subscription_list(
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

async fn subscription_start(
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

async fn content(
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

async fn blob(
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

// ---- Microsoft Graph -------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    SignIns,
    SignInsBeta,
    DirectoryAudits,
}

struct Filter {
    ge: Option<Timestamp>,
    le: Option<Timestamp>,
    event_type: Option<String>,
}

fn parse_filter(text: &str, field: &str) -> Result<Filter, String> {
    let mut f = Filter {
        ge: None,
        le: None,
        event_type: None,
    };
    for clause in text.split(" and ") {
        let c = clause
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        if let Some(rest) = c.strip_prefix("signInEventTypes/any(t: t eq '") {
            f.event_type = Some(rest.trim_end_matches(')').trim_end_matches('\'').to_owned());
            continue;
        }
        let parts: Vec<&str> = c.split_whitespace().collect();
        match parts.as_slice() {
            [fld, op, value] if *fld == field => {
                let t = Timestamp::parse(value).map_err(|e| format!("{value}: {e}"))?;
                match *op {
                    "ge" => f.ge = Some(t),
                    "le" => f.le = Some(t),
                    "gt" => f.ge = Some(t.add_seconds(0)),
                    "lt" => f.le = Some(Timestamp::from_nanos(t.nanos() - 1)),
                    _ => return Err(format!("operator {op}")),
                }
            }
            _ => return Err(format!("clause {c:?}")),
        }
    }
    Ok(f)
}

async fn graph_list(
    Ax(st): Ax<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    list: List,
) -> Response {
    let mut s = lock(&st);
    let tenant = match authorize(&mut s, &headers, Audience::Graph) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let p = params(q.as_deref());
    let field = if list == List::DirectoryAudits {
        "activityDateTime"
    } else {
        "createdDateTime"
    };
    let filter = match param(&p, "$filter").map(|f| parse_filter(f, field)) {
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            s.violations.push(format!("$filter not understood: {e}"));
            return graph_error(
                &mut s,
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid filter clause",
            );
        }
        None => Filter {
            ge: None,
            le: None,
            event_type: None,
        },
    };
    let source = match (list, filter.event_type.as_deref()) {
        (List::DirectoryAudits, _) => "directoryAudits",
        (List::SignInsBeta, Some("nonInteractiveUser")) => "nonInteractiveSignIns",
        (List::SignIns, Some("nonInteractiveUser")) => {
            s.violations
                .push("non-interactive sign-ins asked of v1.0".to_owned());
            "nonInteractiveSignIns"
        }
        _ => "signIns",
    };
    if s.scenario.inject.forbidden.contains(source) {
        return graph_error(
            &mut s,
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    if s.scenario.inject.non_premium && list != List::DirectoryAudits {
        return graph_error(
            &mut s,
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        );
    }
    if let Some(top) = param(&p, "$top") {
        match top.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => {}
            _ => {
                s.violations.push(format!("$top {top}"));
                return graph_error(
                    &mut s,
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "Invalid $top",
                );
            }
        }
    }
    if s.throttle_left > 0 {
        s.throttle_left -= 1;
        return throttled(&s);
    }
    let Some(t) = s.scenario.tenants.iter().find(|t| t.id == tenant) else {
        return graph_error(&mut s, StatusCode::NOT_FOUND, "NotFound", "tenant");
    };
    let data = match source {
        "directoryAudits" => &t.directory_audits,
        "nonInteractiveSignIns" => &t.non_interactive,
        _ => &t.sign_ins,
    };
    let mut rows: Vec<(Timestamp, Value)> = data
        .iter()
        .filter_map(|r| {
            let at = Timestamp::parse(r[field].as_str()?).ok()?;
            let inside = filter.ge.is_none_or(|g| at >= g) && filter.le.is_none_or(|l| at <= l);
            inside.then(|| (at, r.clone()))
        })
        .collect();
    // Newest first, as the sign-in list documents.
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let offset: usize = param(&p, "$skiptoken")
        .and_then(|t| t.strip_prefix('o'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let size = s.scenario.page_size.max(1);
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(size)
        .map(|r| r.1.clone())
        .collect();
    let path = match list {
        List::SignIns => "/v1.0/auditLogs/signIns",
        List::SignInsBeta => "/beta/auditLogs/signIns",
        List::DirectoryAudits => "/v1.0/auditLogs/directoryAudits",
    };
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com{}/$metadata#auditLogs", &path[..path[1..].find('/').map_or(0, |i| i + 1)]),
        "value": page,
    });
    if offset + size < rows.len() {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in p.iter().filter(|(k, _)| k != "$skiptoken") {
            next.append_pair(k, v);
        }
        next.append_pair("$skiptoken", &format!("o{}", offset + size));
        let host = if s.scenario.inject.foreign_next_link {
            "https://graph.example.net".to_owned()
        } else {
            s.base.clone()
        };
        body["@odata.nextLink"] = json!(format!("{host}{path}?{}", next.finish()));
    }
    s.served
        .entry((tenant, source.to_owned()))
        .or_default()
        .extend(page_values(&body));
    json_response(StatusCode::OK, &body)
}

fn page_values(body: &Value) -> Vec<Value> {
    body["value"].as_array().cloned().unwrap_or_default()
}

// ---- Purview audit search --------------------------------------------------------------

async fn query_create(Ax(st): Ax<Shared>, headers: HeaderMap, body: Bytes) -> Response {
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

async fn query_get(Ax(st): Ax<Shared>, headers: HeaderMap, Path(id): Path<String>) -> Response {
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

async fn query_records(
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
