//! Requests with Microsoft's retry rules: a 429 (or the Activity API's `AF429`, which it sends
//! with 403) waits `Retry-After` or backs off; 5xx, timeouts and broken connections back off
//! exponentially with jitter; a 401 gets a fresh token once. Bodies are read up to a limit.
//! Every text taken from a response passes through the [`Redactor`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::sync::Semaphore;
use url::Url;

use crate::auth::TokenSource;
use crate::error::{ApiError, CollectError};
use crate::options::RetryPolicy;
use crate::secret::Redactor;

/// Largest error body read (the rest is not needed to say what went wrong).
const ERROR_BODY_LIMIT: usize = 64 << 10;

/// What retrying cost one window: shown in the manifest.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Requests sent again after a 5xx, timeout or broken connection.
    pub(crate) retries: u32,
    /// Throttled responses waited out.
    pub(crate) throttled: u32,
}

impl Tally {
    pub(crate) fn add(&mut self, other: Tally) {
        self.retries += other.retries;
        self.throttled += other.throttled;
    }
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The Activity API's `NextPageUri` header.
    pub(crate) next_page: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body<'a> {
    Empty,
    Json(&'a serde_json::Value),
    Form(&'a [(&'a str, &'a str)]),
}

/// The shared client: one connection pool, one limit on requests in flight.
#[derive(Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    retry: RetryPolicy,
    limit: usize,
    permits: Arc<Semaphore>,
}

/// Install ring as rustls' crypto provider (once per process; a provider already installed by
/// the embedding program is kept). rustls 0.23.48 marks it deprecated because ring has no
/// post-quantum key exchange; the classical X25519/ECDHE suites it offers are what Microsoft's
/// endpoints negotiate with most clients, and aws-lc-rs would cost a C build.
#[allow(deprecated)]
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Http {
    pub(crate) fn new(
        retry: RetryPolicy,
        limit: usize,
        concurrency: usize,
        no_proxy: bool,
    ) -> Result<Self, CollectError> {
        install_crypto();
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("stormwatch-collect/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(retry.request_timeout)
            // Redirects would carry the bearer token elsewhere.
            .redirect(reqwest::redirect::Policy::none());
        if no_proxy {
            b = b.no_proxy();
        }
        let client = b.build().map_err(|e| CollectError::Client(e.to_string()))?;
        Ok(Http {
            client,
            retry,
            limit,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        })
    }

    /// Send a request with the tenant's token (`auth`), or without one (the token endpoint).
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Body<'_>,
        auth: Option<&TokenSource>,
        redact: &Redactor,
        tally: &mut Tally,
    ) -> Result<Reply, ApiError> {
        let mut failures = 0u32;
        let mut throttles = 0u32;
        let mut refreshed = false;
        loop {
            let token = match auth {
                Some(a) => Some(a.get(self, redact, tally).await?),
                None => None,
            };
            let permit = self.permits.acquire().await;
            let mut req = self
                .client
                .request(method.clone(), url.clone())
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            req = match body {
                Body::Empty if method == Method::POST => {
                    req.header(reqwest::header::CONTENT_LENGTH, "0")
                }
                Body::Empty => req,
                Body::Json(v) => req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(v.to_string()),
                Body::Form(f) => req.form(f),
            };
            let sent = req.send().await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    drop(permit);
                    let err = ApiError::Transport(redact.clean(&chain(&e)));
                    self.backoff(&mut failures, tally, err, None).await?;
                    continue;
                }
            };
            let status = resp.status();
            if status.is_success() {
                let next_page = resp
                    .headers()
                    .get("NextPageUri")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                match read_limited(resp, self.limit).await {
                    Ok(body) => return Ok(Reply { next_page, body }),
                    Err(ReadFail::TooLarge) => {
                        return Err(ApiError::TooLarge { limit: self.limit });
                    }
                    Err(ReadFail::Transport(e)) => {
                        drop(permit);
                        let err = ApiError::Transport(redact.clean(&e));
                        self.backoff(&mut failures, tally, err, None).await?;
                        continue;
                    }
                }
            }
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, crate::options::now().unix_seconds()));
            let text = read_limited(resp, ERROR_BODY_LIMIT)
                .await
                .unwrap_or_default();
            drop(permit);
            let err = parse_error(status.as_u16(), &text, redact);
            let throttled = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN && err.code() == Some("AF429"));
            if throttled {
                throttles += 1;
                tally.throttled += 1;
                if throttles > self.retry.max_throttled {
                    return Err(ApiError::Throttled {
                        status: status.as_u16(),
                        waits: throttles - 1,
                    });
                }
                let wait = retry_after.map_or_else(
                    || self.delay(throttles - 1),
                    |d| d.min(self.retry.max_retry_after),
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED
                && let (Some(a), Some(t)) = (auth, &token)
                && !refreshed
            {
                // The token expired or was revoked mid-run: one fresh token, then the answer
                // stands.
                refreshed = true;
                a.invalidate(t).await;
                continue;
            }
            if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
                self.backoff(&mut failures, tally, err, retry_after).await?;
                continue;
            }
            return Err(err);
        }
    }

    /// Wait before a retry, or give up with `err` when the retries are spent.
    async fn backoff(
        &self,
        failures: &mut u32,
        tally: &mut Tally,
        err: ApiError,
        retry_after: Option<Duration>,
    ) -> Result<(), ApiError> {
        if *failures >= self.retry.max_retries {
            return Err(match err {
                ApiError::Transport(m) => {
                    ApiError::Transport(format!("{m} (after {} retries)", self.retry.max_retries))
                }
                ApiError::Http {
                    status,
                    code,
                    message,
                } => ApiError::Http {
                    status,
                    code,
                    message: Some(format!(
                        "{}(after {} retries)",
                        message.map(|m| format!("{m} ")).unwrap_or_default(),
                        self.retry.max_retries
                    )),
                },
                other => other,
            });
        }
        let wait = retry_after
            .map(|d| d.min(self.retry.max_retry_after))
            .unwrap_or_else(|| self.delay(*failures));
        *failures += 1;
        tally.retries += 1;
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Exponential backoff with jitter: half the doubled delay plus a random part of the other
    /// half.
    fn delay(&self, attempt: u32) -> Duration {
        let full = self
            .retry
            .base_delay
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.retry.max_delay);
        let half = full / 2;
        let mut b = [0u8; 4];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
        let frac = f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX);
        half + half.mul_f64(frac)
    }
}

enum ReadFail {
    TooLarge,
    Transport(String),
}

async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadFail> {
    if resp
        .content_length()
        .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
    {
        return Err(ReadFail::TooLarge);
    }
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if buf.len() + c.len() > limit {
                    return Err(ReadFail::TooLarge);
                }
                buf.extend_from_slice(&c);
            }
            Ok(None) => return Ok(buf),
            Err(e) => return Err(ReadFail::Transport(chain(&e))),
        }
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// The error of a response: the Activity API's and Graph's `{"error":{"code","message"}}`, or
/// the token endpoint's `{"error":"invalid_client","error_description":"AADSTS..."}`.
pub(crate) fn parse_error(status: u16, body: &[u8], redact: &Redactor) -> ApiError {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let text = |x: Option<&serde_json::Value>| {
        x.and_then(serde_json::Value::as_str)
            .map(|s| redact.clean(s))
            .filter(|s| !s.is_empty())
    };
    if let Some(v) = &v {
        match v.get("error") {
            Some(serde_json::Value::String(e)) => {
                return ApiError::Auth {
                    status,
                    error: redact.clean(e),
                    description: text(v.get("error_description")).unwrap_or_default(),
                };
            }
            Some(e @ serde_json::Value::Object(_)) => {
                return ApiError::Http {
                    status,
                    code: text(e.get("code")),
                    message: text(e.get("message")),
                };
            }
            _ => {}
        }
    }
    let raw = String::from_utf8_lossy(body);
    // The Activity API has been seen writing its error body with single quotes.
    let code = raw
        .find("'code':'")
        .map(|i| &raw[i + 8..])
        .and_then(|r| r.split('\'').next())
        .map(|c| redact.clean(c));
    let message = Some(redact.clean(&raw)).filter(|m| !m.is_empty());
    ApiError::Http {
        status,
        code,
        message,
    }
}

/// `Retry-After`: seconds, or an HTTP date (then the time from `now`).
pub(crate) fn parse_retry_after(v: &str, now: i64) -> Option<Duration> {
    let v = v.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    let parts: Vec<&str> = v.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u32 = parts[1].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])?;
    let year: i64 = parts[3].parse().ok()?;
    let hms: Vec<u32> = parts[4].split(':').filter_map(|x| x.parse().ok()).collect();
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    let at = stormwatch_core::Timestamp::from_civil(
        year,
        u32::try_from(month).ok()? + 1,
        day,
        *h,
        *m,
        *s,
        0,
    )?;
    Some(Duration::from_secs(
        u64::try_from((at.unix_seconds() - now).max(0)).unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("7", 0), Some(Duration::from_secs(7)));
        let now = stormwatch_core::Timestamp::parse("1994-11-06T08:49:30Z")
            .unwrap()
            .unix_seconds();
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn error_bodies_of_each_api() {
        let r = Redactor::default();
        let e = parse_error(
            400,
            br#"{"error":{"code":"AF20051","message":"Content requested with the key x has already expired."}}"#,
            &r,
        );
        assert_eq!(e.code(), Some("AF20051"));
        assert_eq!(
            e.to_string(),
            "HTTP 400 AF20051: Content requested with the key x has already expired."
        );
        let e = parse_error(
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
            &r,
        );
        assert_eq!(
            e.to_string(),
            "authentication failed (HTTP 401 invalid_client): AADSTS7000215: Invalid client secret provided."
        );
        let e = parse_error(
            403,
            b"{'error':{'code':'AF429','message':'Too many requests. Method=GetBlob'}}",
            &r,
        );
        assert_eq!(e.code(), Some("AF429"));
        let e = parse_error(502, b"", &r);
        assert_eq!(e.to_string(), "HTTP 502");
    }
}
