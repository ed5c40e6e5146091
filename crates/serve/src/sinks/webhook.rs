//! The webhook sink: each message is POSTed as JSON, signed with HMAC-SHA256.
//!
//! Headers: `Content-Type: application/json`, `Idempotency-Key: <alert id>`,
//! `X-Stormwatch-Event: alert.raised|alert.updated|alert.withdrawn`,
//! `X-Stormwatch-Timestamp: <unix seconds>` and
//! `X-Stormwatch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the secret>`.
//! A 2xx answer is delivery; 408, 425, 429 and 5xx (honouring `Retry-After`), timeouts and
//! connection errors are retried; any other answer is final (dead letter).

use std::collections::BTreeMap;
use std::time::Duration;

use stormwatch_store::OutboxItem;

use super::Failure;
use crate::ServeError;
use crate::config::SinkCommon;

pub(crate) struct Webhook {
    client: reqwest::Client,
    url: String,
    key: ring::hmac::Key,
    headers: BTreeMap<String, String>,
}

/// Install ring as rustls' crypto provider (once per process; a provider already installed is
/// kept). rustls marks it deprecated because ring has no post-quantum key exchange; the
/// classical suites are what webhook receivers negotiate, and aws-lc-rs would cost a C build.
#[allow(deprecated)]
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The `X-Stormwatch-Signature` value of `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    sign(&key, timestamp, body)
}

fn sign(key: &ring::hmac::Key, timestamp: u64, body: &[u8]) -> String {
    let mut ctx = ring::hmac::Context::with_key(key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let mut out = String::from("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl Webhook {
    pub(crate) fn new(
        common: &SinkCommon,
        url: &str,
        secret: &str,
        headers: &BTreeMap<String, String>,
    ) -> Result<Webhook, ServeError> {
        install_crypto();
        let client = reqwest::Client::builder()
            .user_agent(concat!("stormwatch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(common.timeout)
            .timeout(common.timeout)
            // A redirect would carry the alert elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ServeError::Sink {
                name: common.name.clone(),
                message: e.to_string(),
            })?;
        Ok(Webhook {
            client,
            url: url.to_owned(),
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
            headers: headers.clone(),
        })
    }

    pub(crate) async fn deliver(&mut self, item: &OutboxItem) -> Result<(), Failure> {
        let ts = crate::now().nanos().max(0).cast_unsigned() / 1_000_000_000;
        let sig = sign(&self.key, ts, item.payload.as_bytes());
        let mut req = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &item.alert_id)
            .header("X-Stormwatch-Event", &item.event)
            .header("X-Stormwatch-Timestamp", ts.to_string())
            .header("X-Stormwatch-Signature", sig);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let resp = req
            .body(item.payload.clone())
            .send()
            .await
            .map_err(|e| Failure::retry(describe(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let code = status.as_u16();
        Err(Failure {
            message: format!("the receiver answered {status}"),
            permanent: !(code == 408 || code == 425 || code == 429 || status.is_server_error()),
            retry_after,
        })
    }
}

/// A request error with its causes (reqwest's own message names only the outermost).
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
        // Split as "<timestamp>.<body>" cannot hold that text, so check the construction
        // against ring's one-shot HMAC of the same bytes instead, and a fixed vector.
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"Jefe");
        let tag = ring::hmac::sign(&key, b"what do ya want for nothing?");
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let one = ring::hmac::sign(&key, b"1700000000.{\"a\":1}");
        let expected: String = one.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            signature(b"Jefe", 1_700_000_000, b"{\"a\":1}"),
            format!("sha256={expected}")
        );
    }
}
