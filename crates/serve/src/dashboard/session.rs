//! Logging in: the login page and its rate limit, the session cookie, the CSRF token of
//! state-changing requests, and the session as a principal for the API.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use stormwatch_core::Timestamp;

use super::html_response;
use crate::api::AppState;
use crate::auth::{Principal, Role};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "sw_session";
/// How long a session lasts.
const SESSION_LIFE: Duration = Duration::from_secs(12 * 3600);
/// Failed logins allowed per user name within [`WINDOW`].
const PER_NAME: usize = 5;
/// Login attempts (any name) allowed within [`WINDOW`]: bounds the Argon2 work an attacker can
/// cause, high enough that guessing at other names does not hold real users off for long.
const OVERALL: usize = 300;
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Names tracked at most (memory stays bounded whatever names are tried).
const NAMES_TRACKED: usize = 10_000;
/// Largest form body read.
const FORM_LIMIT: usize = 64 * 1024;

/// Who a page request acts as, and the CSRF token its forms carry.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub(crate) who: Principal,
    pub(crate) csrf: String,
}

/// The login rate limit: failures per name, and attempts overall (each costs an Argon2
/// verification).
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    inner: Mutex<LimiterState>,
}

#[derive(Debug, Default)]
struct LimiterState {
    failures: HashMap<String, VecDeque<Instant>>,
    attempts: VecDeque<Instant>,
}

fn prune(q: &mut VecDeque<Instant>, now: Instant) {
    while q.front().is_some_and(|t| now.duration_since(*t) > WINDOW) {
        q.pop_front();
    }
}

impl Limiter {
    /// May `name` try now? `Err(wait)` when not.
    pub(crate) fn check(&self, name: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut s = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        prune(&mut s.attempts, now);
        let wait = |q: &VecDeque<Instant>| {
            q.front()
                .map_or(WINDOW, |t| WINDOW.saturating_sub(now.duration_since(*t)))
        };
        if s.attempts.len() >= OVERALL {
            return Err(wait(&s.attempts));
        }
        if let Some(q) = s.failures.get_mut(name) {
            prune(q, now);
            if q.len() >= PER_NAME {
                return Err(wait(q));
            }
        }
        s.attempts.push_back(now);
        Ok(())
    }

    /// A failed attempt for `name`.
    pub(crate) fn failed(&self, name: &str) {
        let now = Instant::now();
        let mut s = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.failures.len() >= NAMES_TRACKED && !s.failures.contains_key(name) {
            s.failures.retain(|_, q| {
                prune(q, now);
                !q.is_empty()
            });
            if s.failures.len() >= NAMES_TRACKED {
                s.failures.clear();
            }
        }
        s.failures
            .entry(name.to_owned())
            .or_default()
            .push_back(now);
    }

    /// A successful login clears the name's failures.
    pub(crate) fn succeeded(&self, name: &str) {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .failures
            .remove(name);
    }
}

fn cookie_hash(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// The session cookie's value, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn lookup(state: &AppState, headers: &HeaderMap) -> Option<Viewer> {
    let hash = cookie_hash(session_cookie(headers)?);
    let found = state
        .db(move |s| Ok(s.read().session(&hash)?))
        .await
        .ok()
        .flatten()?;
    let role: Role = found.role.parse().ok()?;
    Some(Viewer {
        who: Principal {
            name: found.user,
            role,
        },
        csrf: found.csrf,
    })
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// 403 for a state-changing request without its session's CSRF token.
pub(crate) fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(json!({
            "error": "the CSRF token is missing or wrong: send the session's token in the X-CSRF-Token header or the csrf form field"
        })),
    )
        .into_response()
}

fn unauthorized_json() -> Response {
    let mut r = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({
            "error": "a valid API token is needed: Authorization: Bearer TOKEN"
        })),
    )
        .into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// For the API: the principal of a request made with a session cookie (the dashboard's
/// script). A state-changing request must carry the session's CSRF token in `X-CSRF-Token`.
pub(crate) async fn cookie_principal(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Principal, Response> {
    let v = lookup(state, headers).await.ok_or_else(unauthorized_json)?;
    if !is_safe(method) {
        let sent = headers
            .get("x-csrf-token")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !same(sent, &v.csrf) {
            return Err(csrf_refused());
        }
    }
    Ok(v.who)
}

/// The answer to a page request without a (live) session: 401, with a link to the login page
/// (and a `Refresh` header that takes a browser there).
fn login_needed(path: &str) -> Response {
    let next = if path.starts_with('/') && !path.starts_with("//") {
        path
    } else {
        "/"
    };
    let target = format!("/login?next={}", encode(next));
    let mut r = html_response(
        StatusCode::UNAUTHORIZED,
        format!(
            "<!doctype html><meta charset=utf-8><title>Log in</title><p>This page needs a login: <a href=\"{}\">log in</a>.</p>",
            attr(&target)
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("0; url={target}")) {
        r.headers_mut().insert("refresh", v);
    }
    r
}

/// Percent-encode everything but unreserved characters and `/`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An HTML attribute value (only for the few strings built here; pages use the templates).
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The pages' guard: a live session, and on every POST the session's CSRF token (form field
/// `csrf` or header `X-CSRF-Token`).
pub(crate) async fn require_session(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let Some(v) = lookup(&state, req.headers()).await else {
        return login_needed(&path);
    };
    let req = if is_safe(req.method()) {
        req
    } else {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "the form is over 64 KiB").into_response();
        };
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        let form_token = form_field(&bytes, "csrf");
        let ok = header_token
            .iter()
            .chain(form_token.iter())
            .any(|t| same(t, &v.csrf));
        if !ok {
            return csrf_refused();
        }
        Request::from_parts(parts, Body::from(bytes))
    };
    let mut req = req;
    req.extensions_mut().insert(v);
    next.run(req).await
}

/// One field of an `application/x-www-form-urlencoded` body.
pub(crate) fn form_field(body: &[u8], name: &str) -> Option<String> {
    serde_urlencoded_pairs(body)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// The pairs of a form body (`+` is a space, `%XX` a byte; invalid UTF-8 replaced).
pub(crate) fn serde_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < s.len() => {
                    let hex = std::str::from_utf8(&s[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match hex {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|b| *b == b'=') {
            Some(i) => (decode(&p[..i]), decode(&p[i + 1..])),
            None => (decode(p), String::new()),
        })
        .collect()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/incidents")
        .to_owned()
}

/// `GET /login`.
pub(crate) async fn login_page(
    State(state): State<AppState>,
    q: Result<Query<NextQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let next = safe_next(q.as_ref().ok().and_then(|q| q.next.as_deref()));
    state
        .0
        .dashboard
        .render("login.html", &json!({ "next": next, "error": null }))
}

/// `POST /login` (form: `user`, `password`, `next`): a session cookie and a redirect, or the
/// form again with 401; 429 when the name or the service had too many attempts.
pub(crate) async fn login(State(state): State<AppState>, req: Request) -> Response {
    // A login form posted from another site is refused (login CSRF).
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
    {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin_host = origin.split("://").nth(1).unwrap_or("");
        if origin != "null" && origin_host != host {
            return (StatusCode::FORBIDDEN, "cross-site login refused").into_response();
        }
    }
    let Ok(bytes) = axum::body::to_bytes(req.into_body(), FORM_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "the form is over 64 KiB").into_response();
    };
    let user = form_field(&bytes, "user").unwrap_or_default();
    let password = form_field(&bytes, "password").unwrap_or_default();
    let next = safe_next(form_field(&bytes, "next").as_deref());
    let dash = &state.0.dashboard;
    let again = |status: StatusCode, error: &str| {
        let mut r = dash.render(
            "login.html",
            &json!({ "next": next, "error": error, "user": user }),
        );
        *r.status_mut() = status;
        r
    };
    if let Err(wait) = dash.limiter.check(&user) {
        let mut r = again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts: wait before trying again.",
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let (u, p) = (user.clone(), password);
    let checked = state
        .db(move |s| crate::users::check_login(s, &u, &p).map_err(crate::api::AppError::from))
        .await;
    let role = match checked {
        Ok(Some(role)) => role,
        Ok(None) => {
            dash.limiter.failed(&user);
            tracing::info!(message = "Login failed.", user = %user);
            return again(StatusCode::UNAUTHORIZED, "Wrong user name or password.");
        }
        Err(e) => return e.into_response(),
    };
    dash.limiter.succeeded(&user);
    let (Ok(cookie), Ok(csrf)) = (crate::users::secret(), crate::users::secret()) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness").into_response();
    };
    let expires = Timestamp::from_nanos(
        crate::now().nanos() + i64::try_from(SESSION_LIFE.as_nanos()).unwrap_or(i64::MAX),
    );
    let hash = cookie_hash(&cookie);
    let u = user.clone();
    if let Err(e) = state
        .db(move |s| Ok(s.write(|tx| tx.add_session(&hash, &u, &csrf, expires))?))
        .await
    {
        return e.into_response();
    }
    tracing::info!(message = "Logged in.", user = %user, role = %role);
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, next)]).into_response();
    let secure = if dash.secure { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_LIFE.as_secs()
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `POST /logout`: the session ends, the cookie is cleared.
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(c) = session_cookie(&headers) {
        let hash = cookie_hash(c);
        let _ = state
            .db(move |s| Ok(s.write(|tx| tx.remove_session(&hash))?))
            .await;
    }
    let secure = if state.0.dashboard.secure {
        "; Secure"
    } else {
        ""
    };
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn forms_decode() {
        let p = serde_urlencoded_pairs(b"a=1+2&b=%3Cx%3E&c&d=%zz&e=%4");
        assert_eq!(
            p,
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "<x>".into()),
                ("c".into(), String::new()),
                ("d".into(), "%zz".into()),
                ("e".into(), "%4".into()),
            ]
        );
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/incidents/x")), "/incidents/x");
        assert_eq!(safe_next(Some("//evil.example/")), "/incidents");
        assert_eq!(safe_next(Some("https://evil.example/")), "/incidents");
        assert_eq!(safe_next(Some("/\\evil.example")), "/incidents");
    }

    #[test]
    fn limiter_blocks_after_failures_per_name() {
        let l = Limiter::default();
        for _ in 0..PER_NAME {
            assert!(l.check("alice").is_ok());
            l.failed("alice");
        }
        assert!(l.check("alice").is_err());
        assert!(l.check("bob").is_ok());
    }

    #[test]
    fn cookies_parse() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; sw_session=xyz; c=d"),
        );
        assert_eq!(session_cookie(&h), Some("xyz"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
