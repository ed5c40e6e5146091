//! End-to-end tests of the `stormwatch` command: one run of the binary per test, asserting
//! status, stdout and stderr as a user would see them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod browser;
mod collect;
mod corpus;
mod hunt;
mod impact;
mod report;
mod rules;
mod serve;
mod serve_util;
mod spill;
mod tokens;
mod util;
