//! Integration tests of stormwatch-read: the real corpus samples, collector fixtures, bad
//! input, and properties.
#![allow(clippy::unwrap_used)]

mod bad_input;
mod corpus;
mod fixtures;
mod inspect;
mod options;
mod props;
mod util;
