//! The shared vocabulary of stormwatch.
//!
//! Every crate of the pipeline (read → normalise → detect → store → report) speaks in these
//! types: [`Location`] says where a record came from, [`Event`] is the normalised view of one
//! audit record, [`Detection`] is what a rule or analytic reports, [`Incident`] ties the
//! detections of one actor context together, [`Limit`] says what the evidence cannot show,
//! and [`ImpactReport`] is the answer of `stormwatch impact`.
//! This crate does no I/O.
//!
//! ```
//! use stormwatch_core::{Level, Timestamp};
//! let t = Timestamp::parse("2023-06-12T03:14:07.0000000Z").unwrap();
//! assert_eq!(t.to_string(), "2023-06-12T03:14:07Z");
//! assert!(Level::High > Level::Medium);
//! ```
#![deny(missing_docs)]

mod detection;
mod error;
mod event;
mod id;
pub mod impact;
mod incident;
mod intern;
mod level;
mod limit;
mod location;
mod packed;
mod stats;
mod time;

pub use detection::{Detection, DetectionSource, sort_detections};
pub use error::{TimeError, UnknownName};
pub use event::{
    Event, FolderAccess, LogonType, MailAccess, MailAccessType, MessageRef, Outcome, SignIn,
    SourceKind,
};
pub use id::{DETECTION_ID_LEN, detection_id, record_identity};
pub use impact::ImpactReport;
pub use incident::{Incident, IncidentIndex, Reason, RuleCount, domain_of};
pub use intern::Interner;
pub use level::Level;
pub use limit::{Limit, LimitKind};
pub use location::Location;
pub use packed::{PackedLocation, RecordId};
pub use stats::{CoverageCell, FileStats, InputStats, RecordError};
pub use time::Timestamp;
