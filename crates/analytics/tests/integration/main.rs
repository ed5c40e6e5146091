#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
//! Integration tests of the built-in analytics: a planted intrusion with look-alike decoys,
//! order independence, baselines across runs, the real OTRF sample, the public API.

#[path = "../../src/testkit.rs"]
mod testkit;

mod api;
mod baseline;
mod evict;
mod generated;
mod order;
mod otrf;
mod scenario;
mod stream;
mod world;
