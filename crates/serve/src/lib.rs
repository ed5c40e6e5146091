//! `stormwatch serve`: continuous monitoring on one machine, durable from the first byte to
//! the alert.
//!
//! - **Ingest**: `POST /api/v1/ingest` (NDJSON, JSON arrays, Graph `{"value":[…]}`, Azure
//!   Monitor `{"records":[…]}`, every shape `hunt` reads; gzip and zstd bodies) and watched
//!   folders. Records are parsed by the same readers as `hunt`, with the same located errors,
//!   and are made durable in the journal (an fsync'd SQLite transaction) before the answer:
//!   a 2xx means never lost. Records sent again are recognised by their own id and processed
//!   once. Back-pressure (429 with `Retry-After`) bounds what waits for the detector.
//! - **Detection**: the streaming detector of `stormwatch-detect` with `hunt`'s rules and
//!   analytics, fed in journal order; the watermark follows the newest record time, never
//!   beyond the server's clock plus a small skew. Its state is checkpointed with the journal
//!   position it covers once the alerts decided up to there are stored, finished and saved
//!   on a thread of its own while the detector goes on.
//! - **Alerts**: stored deduplicated by detection id, grouped into incidents, with a status
//!   (new → acknowledged → closed), notes and history; delivered at least once to sinks
//!   (signed webhook, RFC 5424 syslog, JSONL file) through a durable outbox with retries and
//!   dead letters.
//! - **API and operations**: the JSON API ([`app`]), `/metrics`, `/healthz`, `tracing` logs,
//!   a graceful drain and checkpoint on SIGTERM.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use stormwatch_serve::{Config, Options, fingerprint};
//! let engine = stormwatch_sigma::Engine::from_sources(&[], &Default::default())?.0;
//! let config = Config::default_for("/var/lib/stormwatch".into());
//! let detector = config.detector_config();
//! let factory: stormwatch_serve::DetectorFactory = Arc::new(move || {
//!     stormwatch_detect::Detector::new(engine.clone(), None, detector.clone())
//! });
//! stormwatch_serve::run(
//!     Options { config, factory, fingerprint: fingerprint(&["no rules"]), threads: 0 },
//!     |ready| eprintln!("listening on {}", ready.addr),
//! )?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod api;
mod auth;
mod checkpoint;
mod config;
mod dashboard;
mod detect;
mod error;
mod http;
mod incidents;
mod ingest;
mod journal;
mod metrics;
mod offline;
mod pipeline;
mod render;
mod retention;
mod server;
mod sinks;
mod units;
mod users;
mod watch;

pub use api::{AppState, app};
pub use auth::{ADMIN_TOKEN_FILE, FirstToken, Principal, Role, token_hash};
pub use config::{
    Config, DEFAULT_LISTEN, DetectConfig, IngestConfig, LogConfig, RetentionConfig, SinkCommon,
    SinkConfig, TlsConfig, WatchConfig,
};
pub use detect::DetectorFactory;
pub use error::ServeError;
pub use offline::{add_token, dead_letters, remove_token, replay_dead_letters, tokens};
pub use server::{Handle, Options, Ready, run, start};
pub use sinks::signature as webhook_signature;
pub use units::{parse_size, parse_span};
pub use users::{
    MAX_PASSWORD, MIN_PASSWORD, add_user, generate_password, hash_password, remove_user, users,
};

/// What a detector is built from, as one string: a checkpoint made from other rules or
/// settings is not restored. Give it everything that changes the detector (rule texts,
/// analytics settings, IOC and watch-list contents, time settings).
#[must_use]
pub fn fingerprint<S: AsRef<[u8]>>(parts: &[S]) -> String {
    stormwatch_core::detection_id(parts)
}

/// The current time.
pub(crate) fn now() -> stormwatch_core::Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    stormwatch_core::Timestamp::from_nanos(nanos)
}
