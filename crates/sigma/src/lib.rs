//! Sigma rules for stormwatch: loading, condition parsing, compiled matchers, log-source and field mappings, filters and correlations.
#![deny(missing_docs)]
