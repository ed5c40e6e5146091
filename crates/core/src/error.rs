//! Typed errors of the core vocabulary.

use thiserror::Error;

/// A timestamp that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    /// The text was empty.
    #[error("empty timestamp")]
    Empty,
    /// The text is longer than any timestamp form.
    #[error("timestamp text too long")]
    TooLong,
    /// Not a timestamp in any accepted form.
    #[error("invalid timestamp {0:?}")]
    Invalid(String),
}

/// A value that is not one of an enum's names.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what} {value:?} (expected one of: {expected})")]
pub struct UnknownName {
    /// What kind of name was expected (e.g. "level").
    pub what: &'static str,
    /// The text given.
    pub value: String,
    /// The accepted names.
    pub expected: &'static str,
}
