//! Impact assessment: which organisations, mailboxes, folders and messages an actor read, and
//! what the logs cannot tell.
//!
//! The method (see `docs/impact.md`):
//! 1. **One pass** ([`Assessor::observe`], any order): every record is folded into compact
//!    state keyed by its context (session, IP, app, client app, user agent) and day:
//!    mailbox → folder → message with first/last access, count and size; Sync folders;
//!    `OperationCount` beyond the listed items; a session ↔ IP graph (from every record that
//!    carries both, sign-ins included); per mailbox the throttled windows and whether any
//!    `MailItemsAccessed` exists; records per tenant, workload and day.
//! 2. **Actor context** ([`Assessor::finish`]): the [`Seeds`] (plus the IPs of
//!    [`ImpactOptions::ioc_windows`], which count only inside their windows), expanded
//!    transitively unless [`ImpactOptions::expand`] is false: an IP leads to the sessions seen
//!    with it, a session to its other IPs. Each step is recorded with the record that links them.
//! 3. **Exposure**: every context matching the actor (any identifier) contributes its
//!    messages (Bind), whole folders (Sync) and unlisted binds; first/last access and distinct
//!    sessions, IPs and apps per mailbox and organisation.
//! 4. **Limits**, never silence: throttled windows (presumed exposed), tenants and mailboxes
//!    without `MailItemsAccessed`, log gaps, skipped records, flattened exports, the edges of the
//!    export, audit bypass, missing sign-ins, and the deduplication lower bound.
//!
//!
//! Two ways to run, with the same result (the result never depends on record order):
//! - one pass: [`Assessor::new`], [`Assessor::observe`] every event, [`Assessor::finish`].
//!   Memory grows with the distinct (context, day, mailbox, folder, message) tuples of the input.
//! - two passes (re-readable inputs): [`Assessor::graph_only`] over the input,
//!   [`Assessor::resolve_actor`], then [`Assessor::focused`] over the input again and
//!   [`Assessor::finish`]. Memory is bounded by the sessions, IPs and mailboxes plus the
//!   actor's own activity; IOC windows are applied per record.
//!
//! ```
//! use stormwatch_core::{Event, InputStats, MailAccess, MailAccessType, FolderAccess, MessageRef, Timestamp};
//! use stormwatch_impact::{Assessor, ImpactOptions, Seeds};
//!
//! let mut ev = Event::default();
//! ev.time = Some(Timestamp::parse("2023-06-12T03:14:07Z").unwrap());
//! ev.tenant = Some("t1".into());
//! ev.mailbox = Some("envoy@agency.example".into());
//! ev.client_ip = Some("51.89.156.153".parse().unwrap());
//! ev.operation = Some("MailItemsAccessed".into());
//! ev.mail = Some(MailAccess {
//!     access_type: Some(MailAccessType::Bind),
//!     operation_count: 1,
//!     folders: vec![FolderAccess {
//!         id: None,
//!         path: "\\Inbox".into(),
//!         items: vec![MessageRef { internet_message_id: "<a@x>".into(), size_bytes: Some(10) }],
//!     }],
//!     ..MailAccess::default()
//! });
//! let mut a = Assessor::new();
//! a.observe(&ev);
//! let seeds = Seeds { ips: vec!["51.89.156.153".into()], ..Seeds::default() };
//! let opts = ImpactOptions { expand: true, ..ImpactOptions::default() };
//! let report = a.finish(&seeds, &opts, &InputStats::default());
//! let mb = &report.organizations[0].mailboxes[0];
//! assert_eq!(mb.mailbox, "envoy@agency.example");
//! assert_eq!(mb.folders[0].messages[0].internet_message_id, "<a@x>");
//! ```
#![deny(missing_docs)]

mod assessor;
mod audit_gaps;
mod error;
mod expand;
mod finish;
mod fxhash;
mod intern;
mod limits;
mod params;
mod seeds;
mod span;
mod subjects;

pub use assessor::{ActorFilter, Assessor, StateSize};
pub use error::ImpactError;
pub use seeds::{ImpactOptions, Seeds};
pub use subjects::load_subjects_csv;
