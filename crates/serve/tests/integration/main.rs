//! Integration tests of the service, in-process: its routes called without a socket (or over
//! loopback for sinks and watched folders), on temporary folders.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod api;
mod browser;
mod dashboard;
mod ingest;
mod sinks;
mod tls;
mod util;
mod watch;
