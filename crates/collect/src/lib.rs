//! Pull a tenant's audit logs out of Microsoft's APIs, and account for every window asked for.
//!
//! Sources: the Office 365 Management Activity API (content types `Audit.Exchange`,
//! `Audit.AzureActiveDirectory`, `Audit.SharePoint`, `Audit.General`, `DLP.All`), Microsoft Graph
//! (`/auditLogs/signIns` interactive and non-interactive, `/auditLogs/directoryAudits`) and the
//! Purview audit search (`/security/auditLog/queries`) for the Unified Audit Log older than the
//! Activity API keeps. Authentication is OAuth2 client credentials with a client secret or a
//! certificate ([`CertificateKey`]), for the commercial, GCC, GCC High and DoD clouds
//! ([`Cloud`]).
//!
//! The output is what `stormwatch hunt` and `impact` read: gzipped NDJSON in
//! `OUT/<tenant>/<source>/<YYYY-MM-DD>.ndjson.gz`, each record as the API sent it, de-duplicated
//! by its id, and `OUT/manifest.json` ([`Manifest`]): per tenant, source and window, what was
//! asked, listed, fetched and written, what retrying cost, and why a window is `partial` or
//! `missing`. A run can be killed at any point and run again: it continues where the last one
//! stopped and never writes a record twice ([`collect`]).
//!
//! [`Evidence`] reads a manifest beside the inputs of `hunt` and `impact` and turns its gaps
//! into limits of the evidence.
//!
//! ```no_run
//! use stormwatch_collect::{CollectOptions, TenantEntry, collect, parse_time, now};
//!
//! let tenant = TenantEntry {
//!     tenant: Some("41463f53-8812-40f4-890f-865bf6e35190".into()),
//!     client_id: Some("11111111-2222-3333-4444-555555555555".into()),
//!     client_secret_env: Some("STORMWATCH_CLIENT_SECRET".into()),
//!     ..TenantEntry::default()
//! }
//! .resolve()?;
//! let since = parse_time("7d", now())?;
//! let outcome = collect(CollectOptions::new("evidence".into(), since, vec![tenant]))?;
//! println!("{} windows, complete: {}", outcome.manifest.totals.windows, outcome.manifest.is_complete());
//! # Ok::<(), stormwatch_collect::CollectError>(())
//! ```
#![deny(missing_docs)]

mod auth;
mod cloud;
mod collect;
mod config;
mod error;
mod evidence;
mod http;
mod manifest;
mod options;
mod plan;
mod progress;
mod records;
mod run;
mod secret;
mod source;
mod store;

#[cfg(feature = "fake")]
pub mod fake;

pub use auth::CertificateKey;
pub use cloud::{Cloud, Endpoints};
pub use config::{TenantEntry, tenants_file};
pub use error::{ApiError, CollectError};
pub use evidence::Evidence;
pub use manifest::{
    FORMAT as MANIFEST_FORMAT, Gap, Manifest, RunInfo, Signal, SourceSummary, Status,
    TenantSummary, Totals, WindowRecord,
};
pub use options::{
    CollectOptions, Credential, PollPolicy, RetryPolicy, TenantSpec, now, parse_duration,
    parse_time, tenant_id,
};
pub use run::{Outcome, collect};
pub use secret::Secret;
pub use source::{Api, Source, SourceSelection};
