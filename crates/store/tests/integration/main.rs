#![allow(clippy::unwrap_used)]
//! Integration tests of the store.

mod store;
