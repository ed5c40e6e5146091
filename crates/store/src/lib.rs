//! The embedded SQLite store: detections, baselines and streaming state, with schema migrations.
//!
//! One file, `DIR/stormwatch.sqlite`, holds what a run keeps for the next one:
//!
//! - **detections**: inserted in batches, queried by time range and minimum level;
//! - **baselines**: snapshots stored under a key, as JSON of any serialisable type or as raw
//!   versioned bytes (the analytics crate owns the format; the store never looks inside), so `stormwatch hunt --state DIR` compares this
//!   week's export against what earlier runs already saw;
//! - **ingest checkpoints**: `(file, offset)` pairs for streaming ingestion.
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

mod baselines;
mod checkpoints;
mod detections;
mod error;
mod schema;
mod store;

pub use baselines::{BaselineBlob, JSON_BASELINE_VERSION};
pub use checkpoints::Checkpoint;
pub use detections::DetectionQuery;
pub use error::StoreError;
pub use store::{DB_FILE_NAME, Store};
