#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]
//! Integration tests of the Sigma engine.

mod corpus;
mod differential;
mod explain;
mod pysigma;
mod regression;
mod spec;
mod stream;
mod util;
