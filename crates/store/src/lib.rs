//! The embedded SQLite store: detections, baselines and streaming state, with schema migrations.
//!
//! One file, `DIR/stormwatch.sqlite`, holds what a run keeps for the next one:
//!
//! - **detections**: inserted in batches, queried by time range and minimum level;
//! - **baselines**: snapshots stored under a key, as JSON of any serialisable type or as raw
//!   versioned bytes (the analytics crate owns the format; the store never looks inside), so `stormwatch hunt --state DIR` compares this
//!   week's export against what earlier runs already saw;
//! - **ingest checkpoints**: `(file, offset)` pairs for streaming ingestion;
//! - **the service's tables** (`stormwatch serve`), written through [`Tx`] inside one
//!   [`Store::write`] transaction when they must change together: the ingest journal
//!   (accepted bodies and file chunks, in order) with the ids of records already accepted,
//!   per-source health and located errors, watched files' positions; the detector's checkpoint
//!   (snapshot and journal position); alerts deduplicated by detection id and incidents, each
//!   with a status (new → acknowledged → closed), notes and history; the sinks' outbox and dead
//!   letters; API tokens (hashed); retention;
//! - **the dashboard's tables**: user accounts (password hashes made by the caller), browser
//!   sessions (a hash of the cookie, with the CSRF token) and incident assignees.
//!
//! The schema version lives in SQLite's `user_version`; [`Store::open`] applies the missing
//! migrations in one transaction and refuses a database written by a newer stormwatch.
//!
//! ```
//! # fn main() -> Result<(), stormwatch_store::StoreError> {
//! let dir = std::env::temp_dir().join(format!("stormwatch-doc-{}", std::process::id()));
//! let store = stormwatch_store::Store::open(&dir)?;
//! // Any serialisable snapshot, kept as JSON under a key…
//! store.save_baseline("analytics", &vec![1u32, 2, 3])?;
//! let snap: Vec<u32> = store.load_baseline("analytics")?.expect("saved above");
//! assert_eq!(snap, [1, 2, 3]);
//! // …or raw bytes with the owner's format version.
//! store.save_baseline_blob("other", 7, b"opaque")?;
//! assert_eq!(store.load_baseline_blob("other")?.expect("saved above").version, 7);
//! # drop(store); let _ = std::fs::remove_dir_all(&dir);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod alerts;
mod baselines;
mod checkpoints;
mod detections;
mod detector_state;
mod error;
mod incidents;
mod journal;
mod notes;
mod outbox;
mod retention;
mod schema;
mod store;
mod tokens;
mod users;

pub use alerts::{
    AlertFilter, AlertPage, AlertTie, DEFAULT_PAGE, MAX_PAGE, Status, StoredAlert, Upserted,
};
pub use baselines::{BaselineBlob, JSON_BASELINE_VERSION};
pub use checkpoints::Checkpoint;
pub use detections::DetectionQuery;
pub use detector_state::DetectorCheckpoint;
pub use error::StoreError;
pub use incidents::{IncidentFilter, IncidentPage, IncidentRecord, StoredIncident};
pub use journal::{ERRORS_KEPT, NewBatch, SourceError, SourceHealth, StoredBatch, WatchFile};
pub use notes::{MAX_NOTE_BYTES, Note, StatusChange, Target};
pub use outbox::{DeadLetter, OutboxItem};
pub use retention::{Pruned, RetentionCut};
pub use store::{DB_FILE_NAME, OpenOptions, Store, Tx};
pub use tokens::ApiToken;
pub use users::{Assignment, MAX_USER_NAME, RuleHits, Session, User};
