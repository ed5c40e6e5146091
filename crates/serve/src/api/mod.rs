//! The HTTP API: `app(state)` builds the router (testable without a socket), one [`AppError`]
//! turns every failure into a status and a JSON body.
//!
//! | route | role |
//! |---|---|
//! | `GET /healthz` | none |
//! | `GET /metrics` | viewer |
//! | `POST /api/v1/ingest` | ingest |
//! | `GET /api/v1/alerts`, `GET /api/v1/alerts/{id}` | viewer |
//! | `POST /api/v1/alerts/{id}/status`, `POST /api/v1/alerts/{id}/notes` | analyst |
//! | `GET /api/v1/incidents`, `GET /api/v1/incidents/{id}` | viewer |
//! | `POST /api/v1/incidents/{id}/status`, `POST /api/v1/incidents/{id}/notes` | analyst |
//! | `GET /api/v1/sources` | viewer |
//! | `POST /api/v1/admin/flush` | admin |
//! | `GET`/`POST /api/v1/admin/tokens`, `DELETE /api/v1/admin/tokens/{name}` | admin |
//! | `GET /api/v1/admin/dead-letters`, `POST /api/v1/admin/dead-letters/replay` | admin |
//! | `GET /api/openapi.json` | any role |
//!
//! A dashboard session cookie authenticates as its user's role too (state-changing requests
//! then need the session's `X-CSRF-Token`); the dashboard's pages are in [`crate::dashboard`].

mod admin;
pub(crate) mod alerts;
mod ingest;
mod ops;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::json;
use stormwatch_store::{OpenOptions, Store, StoreError};

use crate::auth::{Principal, Role, bearer, token_hash};
use crate::config::IngestConfig;
use crate::journal::JournalTx;
use crate::metrics::Metrics;
use crate::pipeline::Msg;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) ingest: IngestConfig,
    pub(crate) journal: JournalTx,
    /// Batch ids for bodies about to be read.
    pub(crate) batch_ids: crate::journal::BatchIds,
    /// The detector's rules and analytics, run on each record as a body is read.
    pub(crate) scanner: stormwatch_detect::Scanner,
    pub(crate) detector: SyncSender<Msg>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) pool: Pool,
    /// Cleared when the service starts draining (`/healthz` then answers 503).
    pub(crate) accepting: AtomicBool,
    /// Bodies parsed at once (each on a blocking thread).
    pub(crate) parsing: tokio::sync::Semaphore,
    /// Sink names, for the dead-letter routes.
    pub(crate) sinks: Vec<String>,
    /// The dashboard's templates, login limit and rules.
    pub(crate) dashboard: crate::dashboard::Dash,
}

/// Store connections for the handlers (each used on a blocking thread).
pub(crate) struct Pool {
    dir: std::path::PathBuf,
    idle: Mutex<Vec<Store>>,
    gate: Arc<Mutex<()>>,
}

/// Idle connections kept.
const POOL_IDLE: usize = 8;

impl Pool {
    pub(crate) fn new(dir: &std::path::Path, gate: &Arc<Mutex<()>>) -> Pool {
        Pool {
            dir: dir.to_owned(),
            idle: Mutex::new(Vec::new()),
            gate: Arc::clone(gate),
        }
    }

    fn take(&self) -> Result<Store, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match idle {
            Some(s) => Ok(s),
            None => Store::open_with(
                &self.dir,
                &OpenOptions {
                    durable: true,
                    cache_kib: None,
                    write_lock: Some(Arc::clone(&self.gate)),
                    manual_wal_checkpoint: true,
                },
            ),
        }
    }

    fn give(&self, s: Store) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < POOL_IDLE {
            idle.push(s);
        }
    }
}

impl AppState {
    /// Run `f` with a store connection on a blocking thread.
    pub(crate) async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let inner = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            let mut s = inner.pool.take().map_err(AppError::from)?;
            let r = f(&mut s);
            inner.pool.give(s);
            r
        })
        .await
        .map_err(|e| AppError::Internal(format!("store task: {e}")))?
    }
}

/// Every failure of a request. 4xx carry a reason for the client; 5xx a generic message (the
/// full error is logged).
#[derive(Debug)]
pub(crate) enum AppError {
    Unauthorized,
    Forbidden(Role),
    NotFound(String),
    BadRequest(String),
    /// A request whose body could not be read in time.
    Timeout,
    TooLarge(String),
    UnsupportedEncoding(String),
    Throttled(Duration),
    Unavailable(String),
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(m) => AppError::BadRequest(m),
            other => AppError::Internal(error_chain(&other)),
        }
    }
}

impl From<crate::ServeError> for AppError {
    fn from(e: crate::ServeError) -> Self {
        AppError::Internal(error_chain(&e))
    }
}

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            AppError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "a valid API token is needed: Authorization: Bearer TOKEN".to_owned(),
            ),
            AppError::Forbidden(role) => (
                StatusCode::FORBIDDEN,
                format!("this needs a token with the {role} role"),
            ),
            AppError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            AppError::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time".to_owned(),
            ),
            AppError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone()),
            AppError::UnsupportedEncoding(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m.clone()),
            AppError::Throttled(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "the detector is behind: send again after Retry-After seconds".to_owned(),
            ),
            AppError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone()),
            AppError::Internal(m) => {
                tracing::error!(message = "Request failed.", error = %m);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error (see the server log)".to_owned(),
                )
            }
        };
        let mut resp = (status, axum::Json(json!({ "error": message }))).into_response();
        let h = resp.headers_mut();
        match self {
            AppError::Unauthorized => {
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AppError::Throttled(after) => {
                if let Ok(v) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
                    h.insert(header::RETRY_AFTER, v);
                }
            }
            // The rest of the body is not read: the connection cannot be reused.
            AppError::TooLarge(_) | AppError::Timeout | AppError::UnsupportedEncoding(_) => {
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp
    }
}

/// Who the request acts as (set by the auth layer).
pub(crate) fn require(p: &Principal, ok: bool, role: Role) -> Result<(), AppError> {
    if ok {
        Ok(())
    } else {
        tracing::debug!(message = "Request refused for its role.", token = %p.name);
        Err(AppError::Forbidden(role))
    }
}

/// The auth layer: a valid bearer token or 401.
async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let Some(token) = bearer(
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .map(token_hash) else {
        // The dashboard's session cookie (with its CSRF token on state-changing requests).
        return match crate::dashboard::cookie_principal(&state, req.headers(), req.method()).await {
            Ok(p) => {
                req.extensions_mut().insert(p);
                Ok(next.run(req).await)
            }
            Err(refused) => Ok(refused),
        };
    };
    let found = state
        .db(move |s| Ok(s.read().token_by_hash(&token)?))
        .await?
        .ok_or(AppError::Unauthorized)?;
    let role: Role = found.role.parse().map_err(|_| AppError::Unauthorized)?;
    req.extensions_mut().insert(Principal {
        name: found.name,
        role,
    });
    Ok(next.run(req).await)
}

/// The service's routes over `state`.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/ingest", post(ingest::ingest))
        .route("/api/v1/alerts", get(alerts::list_alerts))
        .route("/api/v1/alerts/{id}", get(alerts::get_alert))
        .route("/api/v1/alerts/{id}/status", post(alerts::alert_status))
        .route("/api/v1/alerts/{id}/notes", post(alerts::alert_note))
        .route("/api/v1/incidents", get(alerts::list_incidents))
        .route("/api/v1/incidents/{id}", get(alerts::get_incident))
        .route(
            "/api/v1/incidents/{id}/status",
            post(alerts::incident_status),
        )
        .route("/api/v1/incidents/{id}/notes", post(alerts::incident_note))
        .route("/api/v1/sources", get(ops::sources))
        .route("/api/v1/admin/flush", post(admin::flush))
        .route(
            "/api/v1/admin/tokens",
            get(admin::list_tokens).post(admin::add_token),
        )
        .route("/api/v1/admin/tokens/{name}", delete(admin::remove_token))
        .route("/api/v1/admin/dead-letters", get(admin::dead_letters))
        .route(
            "/api/v1/admin/dead-letters/replay",
            post(admin::replay_dead_letters),
        )
        .route(
            "/api/openapi.json",
            get(crate::dashboard::openapi::document),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        // The ingest handler bounds its own body; other bodies are small JSON.
        .layer(axum::extract::DefaultBodyLimit::disable());
    Router::new()
        .route("/healthz", get(ops::healthz))
        .merge(api)
        .merge(crate::dashboard::routes(&state))
        .fallback(|| async { AppError::NotFound("no such route".to_owned()) })
        .layer(middleware::from_fn(crate::dashboard::headers))
        .with_state(state)
}

/// Parse a small JSON body (at most 1 MiB) into `T`.
pub(crate) async fn json_body<T: serde::de::DeserializeOwned>(
    body: axum::body::Body,
) -> Result<T, AppError> {
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|_| AppError::TooLarge("the JSON body is over 1 MiB".to_owned()))?;
    serde_json::from_slice(&bytes).map_err(|e| AppError::BadRequest(format!("the JSON body: {e}")))
}
