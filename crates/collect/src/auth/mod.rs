//! OAuth2 client credentials against Entra: a token per tenant and resource, cached and
//! taken again before it expires (or when an API says it no longer holds).

mod assertion;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use url::Url;

pub use assertion::CertificateKey;

use crate::cloud::Endpoints;
use crate::error::ApiError;
use crate::http::{Body, Http, Tally};
use crate::options::Credential;
use crate::secret::Redactor;

/// Refresh this long before expiry (or a quarter of a short lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

enum Cached {
    Token {
        value: Arc<str>,
        refresh_at: Instant,
    },
    /// The endpoint refused the credentials: asking again would not change its mind.
    Refused(ApiError),
}

/// Tokens of one tenant for one resource (the Management API or Graph).
pub(crate) struct TokenSource {
    endpoint: Url,
    audience: String,
    client_id: String,
    credential: Credential,
    scope: String,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

impl TokenSource {
    /// Tokens for `resource` (`https://manage.office.com`, `https://graph.microsoft.com`):
    /// the scope is `{resource}/.default`, whatever host the requests go through.
    pub(crate) fn new(
        endpoints: &Endpoints,
        tenant: &str,
        client_id: &str,
        credential: &Credential,
        resource: &str,
    ) -> Self {
        TokenSource {
            endpoint: Endpoints::join(&endpoints.login, &format!("/{tenant}/oauth2/v2.0/token")),
            // A client assertion is addressed to Entra's own token endpoint, also through a
            // proxy.
            audience: format!("{}/{tenant}/oauth2/v2.0/token", endpoints.cloud.login()),
            client_id: client_id.to_owned(),
            credential: credential.clone(),
            scope: format!("{resource}/.default"),
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// A token valid for a while yet.
    pub(crate) async fn get(
        &self,
        http: &Http,
        redact: &Redactor,
        tally: &mut Tally,
    ) -> Result<Arc<str>, ApiError> {
        let mut cache = self.cache.lock().await;
        match cache.as_ref() {
            Some(Cached::Token { value, refresh_at }) if Instant::now() < *refresh_at => {
                return Ok(Arc::clone(value));
            }
            Some(Cached::Refused(e)) => return Err(e.clone()),
            _ => {}
        }
        match self.fetch(http, redact, tally).await {
            Ok((value, lifetime)) => {
                let margin = REFRESH_MARGIN.min(lifetime / 4);
                *cache = Some(Cached::Token {
                    value: Arc::clone(&value),
                    refresh_at: Instant::now() + lifetime.saturating_sub(margin),
                });
                Ok(value)
            }
            Err(e @ ApiError::Auth { .. }) => {
                *cache = Some(Cached::Refused(e.clone()));
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Forget `token` (an API answered 401 to it).
    pub(crate) async fn invalidate(&self, token: &str) {
        let mut cache = self.cache.lock().await;
        if matches!(cache.as_ref(), Some(Cached::Token { value, .. }) if &**value == token) {
            *cache = None;
        }
    }

    async fn fetch(
        &self,
        http: &Http,
        redact: &Redactor,
        tally: &mut Tally,
    ) -> Result<(Arc<str>, Duration), ApiError> {
        let assertion;
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", &self.client_id),
            ("scope", &self.scope),
            ("grant_type", "client_credentials"),
        ];
        match &self.credential {
            Credential::Secret(s) => {
                redact.add(s.expose());
                form.push(("client_secret", s.expose()));
            }
            Credential::Certificate(k) => {
                let now = crate::options::now().unix_seconds();
                assertion = k.assertion(&self.client_id, &self.audience, now, &random_id())?;
                redact.add(&assertion);
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                form.push(("client_assertion", &assertion));
            }
        }
        // Boxed: `send` takes tokens through this type (not for this request, which has none).
        let reply = Box::pin(http.send(
            Method::POST,
            &self.endpoint,
            Body::Form(&form),
            None,
            redact,
            tally,
        ))
        .await?;
        let v: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|e| {
            ApiError::Invalid(format!("token endpoint: the response is not JSON: {e}"))
        })?;
        let token = v
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Invalid("token endpoint: the response has no access_token".to_owned())
            })?;
        // A number in the v2.0 endpoint's answers, a string in older ones.
        let secs = match v.get("expires_in") {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3599);
        redact.add(token);
        Ok((Arc::from(token), Duration::from_secs(secs)))
    }
}

/// A random UUID-shaped id (version 4).
pub(crate) fn random_id() -> String {
    let mut b = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
