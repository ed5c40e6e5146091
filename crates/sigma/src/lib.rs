//! Sigma rules for stormwatch: loading, condition parsing, compiled matchers, log-source and
//! field mappings, filters and correlations.
//!
//! Rules are parsed with `rsigma-parser` and compiled into this crate's own matcher: field
//! paths are interned once, string values become prefix/suffix/substring/glob matchers over a
//! lowercase copy of each field made once per event, and the literals each rule needs feed one
//! Aho-Corasick prefilter per log source, so a record is parsed (with sonic-rs) and evaluated
//! only against the rules that can match it.
//!
//! ```
//! use stormwatch_sigma::{Engine, EngineOptions};
//! use stormwatch_core::{Event, SourceKind};
//!
//! let rule = r#"
//! title: Inbox rule created
//! id: 11111111-2222-3333-4444-555555555555
//! logsource: { product: m365, service: exchange }
//! detection:
//!     selection:
//!         eventName: New-InboxRule
//!     condition: selection
//! level: medium
//! "#;
//! let (engine, errors) = Engine::from_sources(&[("rule.yml".into(), rule.into())], &EngineOptions::default()).unwrap();
//! assert!(errors.is_empty());
//! let ev = Event { source: SourceKind::Ual, raw: r#"{"Operation":"New-InboxRule"}"#.into(), ..Event::default() };
//! let mut out = Vec::new();
//! engine.scan(&ev, &mut out);
//! assert_eq!(out.len(), 1);
//! ```
#![deny(missing_docs)]

mod compile;
mod correlate;
mod doc;
mod encode;
mod engine;
mod error;
mod explain;
mod load;
mod logsource;
mod matcher;
mod pattern;
mod pipeline;
mod prefilter;
mod scanner;

use std::path::PathBuf;

pub use correlate::{
    CORRELATOR_SNAPSHOT_VERSION, CorrelationChanges, Correlator, Observation, Raised, RestoreReport,
};
pub use engine::{Engine, EngineOptions, EngineStats, LogSourceInfo, RuleInfo, RuleKind};
pub use error::{RuleLoadError, SigmaError};
pub use pipeline::Pipeline;
pub use scanner::Scanner;

impl Engine {
    /// Load rules, correlations and filters from files or directories (recursed, `.yml` /
    /// `.yaml`). A rule that cannot load is reported (file, reason, and the YAML key and line
    /// where possible) and the others still load. Fails only when a path cannot be read.
    pub fn from_paths(
        paths: &[PathBuf],
        opts: &EngineOptions,
    ) -> Result<(Engine, Vec<RuleLoadError>), SigmaError> {
        let (sources, errors) = load::read_sources(paths)?;
        Ok(load::build(&sources, opts, errors))
    }

    /// Load from in-memory `(name, yaml text)` pairs (the bundled ruleset is embedded this way).
    pub fn from_sources(
        sources: &[(String, String)],
        opts: &EngineOptions,
    ) -> Result<(Engine, Vec<RuleLoadError>), SigmaError> {
        Ok(load::build(sources, opts, Vec::new()))
    }
}
