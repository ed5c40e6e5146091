#![allow(clippy::unwrap_used)]
//! Tests of the generator against its own output, re-parsed.

mod common;
mod consistency;
mod determinism;
mod formats;
mod volume;
