//! Built-in detections for forged-token and credential-abuse mail access: baselines, sign-in
//! joins, IOC windows, breadth and bulk reads.
//!
//! Fourteen analytics (`builtin/<slug>`), documented one page each under `docs/analytics/`:
//!
//! | # | id | what |
//! |---|---|---|
//! | 1 | `new-mail-app` | new AppId / ClientAppId reading a mailbox ("Big Yellow Taxi") |
//! | 2 | `mail-access-without-sign-in` | Exchange records whose session / token no sign-in issued |
//! | 3 | `forged-token-signals` | TokenTenantId ≠ OrganizationId, consumer tenant, token verdicts |
//! | 4 | `ioc-infrastructure` | IOC IPs inside their validity window (Storm-0558 built in) |
//! | 5 | `watchlist-new-context` | any new context on a watch-listed mailbox |
//! | 6 | `hosting-or-new-asn` | hosting / VPN or new ASN (optional IP → ASN data) |
//! | 7 | `breadth` | one session / IP / app reading many mailboxes; new non-owner readers |
//! | 8 | `bulk-bind` | Σ OperationCount above norm, huge records, throttling |
//! | 9 | `sync-new-context` | Sync (whole folder) from a new network or client |
//! | 10 | `scripted-rest-client` | `Client=REST`, python, PowerShell, curl for users who never used them |
//! | 11 | `concurrent-sessions` | two sessions on different networks at once |
//! | 12 | `owa-token-issuance` | RecordType 275 bursts |
//! | 13 | `visibility-gaps` | findings about the evidence: unaudited mailboxes, throttling, audit off, gaps |
//! | 14 | `actor-hours` | score modifier, never fires alone |
//!
//! How to use it: build an [`Analytics`] with its [`AnalyticsConfig`] (defaults, or a TOML file
//! via [`AnalyticsConfig::from_toml_str`]), an [`IocSet`] ([`IocSet::builtin_storm_0558`],
//! merged with the user's `--ioc` files via [`IocSet::load`]), the [`AppCatalog::builtin`]
//! first-party app list, optional [`AsnDb`] and a watchlist; optionally
//! [`Analytics::with_baseline`] a snapshot saved by an earlier run; call
//! [`Analytics::observe`] for every event (any order: `observe` only folds compact
//! per-entity aggregates; every decision is taken in [`Analytics::finish`], so the answer does
//! not depend on input order), or take what the analytics keep of each event on the threads
//! that hold the events with an [`Analytics::observer`] and [`Analytics::fold`] the batches it
//! fills (the same result); feed JWT verdicts with [`Analytics::observe_token_verdict`];
//! then [`Analytics::finish`] gives the detections, the incidents (detections grouped by actor
//! context), notes on what the input could not show, and the [`BaselineSnapshot`] to save
//! (the store keeps it as JSON under a key, e.g. [`BaselineSnapshot::STORE_KEY`]).
//! [`IocSet::ip_windows`] gives the IOC windows to other steps (impact's actor seeding).
//!
//! Severity model: analytics that stand on their own (no sign-in behind a session, forged
//! token signals, an IOC IP inside its window) report high or critical; baseline analytics
//! (new app, network, client, breadth, bulk, sync, scripted client) report medium or lower,
//! and are raised to high when they share a session or IOC IP with a standalone one.
//!
//! ```
//! use stormwatch_analytics::{Analytics, AnalyticsConfig, AppCatalog, IocSet};
//! let mut a = Analytics::new(AnalyticsConfig::default(), IocSet::builtin_storm_0558(),
//!     AppCatalog::builtin(), None, Vec::new());
//! let ev = stormwatch_core::Event::default();
//! a.observe(&ev);
//! let out = a.finish();
//! assert!(out.detections.is_empty());
//! assert!(out.notes.iter().any(|n| n.contains("no sign-in logs")));
//! assert_eq!(Analytics::list().len(), 14);
//! ```
//!
//! ## Streaming
//!
//! A monitor decides as records arrive rather than once at the end. [`Analytics::evaluate`]
//! decides over everything folded so far without consuming (folding goes on; `finish` is the
//! same as a last `evaluate`), [`Analytics::baseline`] gives the baseline `finish` would
//! save. [`Analytics::snapshot`] writes everything folded (the state, the baseline it is
//! compared against, the early notes) as versioned, checksummed bytes;
//! [`Analytics::restore`] reads them back into analytics built with the same IOC set and
//! event cap, and folding goes on as if it had never stopped (same answers, same bytes for
//! the next snapshot); anything else is an error, never a panic. [`Analytics::evict`] ages out
//! what is older than a point in event time, so that the state stays bounded on an endless
//! stream; [`Analytics::state_bytes`] estimates the heap it holds.
//!
//! What eviction guarantees. The caller keeps the point at least
//! [`Analytics::longest_lookback`] behind every record it folds afterwards (`before = newest −
//! horizon`, with the horizon at least the look back plus the lateness it accepts). Then every decision about a record at
//! or after `before + longest_lookback` that rests on that record's own context and look back
//! is the one a run without eviction makes: sign-in joins (`mail-access-without-sign-in`),
//! token tenants, IOC windows, bulk binds and throttling, OWA bursts, audit changes, actor
//! hours. Novelty (new app, network, ASN, client, reader) is decided against
//! the kept contexts and the baseline, as it is across `--state` runs.
//!
//! What differs from a run that keeps everything, by design:
//! - analytics that summarise an entity over the whole input (a value of a mailbox, a pair of
//!   networks of a mailbox, a breadth key, an IOC IP and mailbox, the contexts of a session
//!   behind a token verdict or an IOC sign-in, a log gap) summarise what is kept: activity
//!   that goes on past the horizon is summarised again, with a later first record (a new
//!   detection, where one run would have one detection from the first record);
//! - a value (app, network, client) that comes back after more than its baseline days of
//!   absence is new again, where one run judges a value once, at its first record; and
//!   `sync-new-context`, which flags every Sync of a value new at its first record however
//!   long after, judges each Sync against the baseline before it;
//! - counts in explanations that cover the whole input (records in a baseline, records
//!   before a log gap) count what the baseline and the state hold; `bulk-bind`'s norm is the
//!   same samples merged in another order (equal to about 15 digits, not to the last bit).
//!
//! The input's span, the sign-in counts, the records-without-time count and the caps'
//! counters are kept, so the notes read as for the whole stream.
#![deny(missing_docs)]

mod analytics;
mod apps;
mod asn;
mod baseline;
mod config;
mod engine;
mod error;
mod evict;
mod incident;
mod info;
mod intern;
mod iocs;
mod loc;
mod observed;
mod size;
mod snapshot;
mod sorted;
mod state;
mod syms;
#[cfg(test)]
mod testkit;

pub use apps::AppCatalog;
pub use asn::{AsnDb, AsnInfo};
pub use baseline::{BaselineSnapshot, MailboxBaseline, RunningStats, SeenStat};
pub use config::{
    ActorHoursConfig, AnalyticsConfig, AsnConfig, BreadthConfig, BulkBindConfig,
    ConcurrentSessionsConfig, ForgedTokenConfig, IocConfig, NewMailAppConfig, NoSignInConfig,
    OwaTokenConfig, ScriptedRestConfig, SyncNewContextConfig, VisibilityConfig, WatchlistConfig,
};
pub use engine::{Analytics, AnalyticsOutput};
pub use error::AnalyticsError;
pub use evict::EvictStats;
pub use info::{AnalyticInfo, Setting};
pub use iocs::{Indicator, IocSet};
pub use observed::{Observed, Observer};
pub use size::StateParts;
pub use stormwatch_core::{Incident, Reason, RuleCount};

/// The consumer (Microsoft account) tenant id.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
