#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr
)]
//! Integration tests of the streaming detector.

mod finish;
mod late;
mod snapshot;
mod stream;
mod util;
