//! The streaming detector of stormwatch: one decision path for `hunt` and `serve`.
//!
//! A [`Detector`] owns a compiled Sigma engine, its correlations and the built-in analytics.
//! Records are pushed in any order; the caller advances an event-time *watermark*; decisions
//! come out as [`Change`]s as soon as they can be made:
//!
//! - a single-record Sigma match at once;
//! - a correlation as soon as the records at hand meet its condition, settled once the
//!   lateness bound has passed its records (a record arriving out of order within the bound
//!   may withdraw or change it);
//! - the analytics' decisions on an hour once the sign-in grace has passed it.
//!
//! Records later than the lateness bound are still processed; what they change is marked
//! late. Every detection has a deterministic id ([`stormwatch_core::detection_id`]), so the
//! same input processed twice, or resumed after a crash, gives the same ids: a store
//! deduplicates on them. `hunt` pushes everything and calls [`Detector::finish`].
//!
//! ```
//! use stormwatch_detect::{Change, Detector, DetectorConfig};
//! use stormwatch_sigma::{Engine, EngineOptions};
//! use stormwatch_core::{Event, Timestamp};
//!
//! let rule = "title: Mail read\nid: 4f1c2a6e-0000-4000-8000-000000000001\nlogsource: {product: m365}\ndetection:\n    sel:\n        Operation: MailItemsAccessed\n    condition: sel\nlevel: low\n";
//! let opts = EngineOptions { ignore_logsource: true, ..EngineOptions::default() };
//! let (engine, errors) = Engine::from_sources(&[("r.yml".into(), rule.into())], &opts).unwrap();
//! assert!(errors.is_empty());
//! let mut detector = Detector::new(engine, None, DetectorConfig::default()).unwrap();
//! let ev = Event {
//!     raw: r#"{"Operation":"MailItemsAccessed"}"#.into(),
//!     time: Some(Timestamp::parse("2023-06-12T03:14:07Z").unwrap()),
//!     ..Event::default()
//! };
//! let mut changes = Vec::new();
//! detector.push(&ev, &mut changes);
//! assert!(matches!(&changes[0], Change::Raise(a) if a.detection.rule_title == "Mail read"));
//! let again = changes[0].id().to_owned();
//! let mut second = Detector::new(detector.engine().clone(), None, DetectorConfig::default()).unwrap();
//! let mut changes = Vec::new();
//! second.push(&ev, &mut changes);
//! assert_eq!(changes[0].id(), again, "the same record gives the same id");
//! ```
#![deny(missing_docs)]

mod change;
mod config;
mod detector;
mod error;
mod folder;
mod ids;
mod ledger;
mod scan;
mod snapshot;

pub use change::{Alert, Change, IncidentUpdate, Withdrawal};
pub use config::DetectorConfig;
pub use detector::{Detector, Finished, StateSize};
pub use error::DetectError;
pub use scan::{Scanned, Scanner};
pub use snapshot::{DETECTOR_SNAPSHOT_VERSION, PendingSnapshot, RestoreReport};
