#![allow(clippy::unwrap_used)]
//! Integration tests of stormwatch-tokens.

mod support;

mod certificates;
mod hostile;
mod registry;
mod scan;
mod vectors;
mod verdicts;
