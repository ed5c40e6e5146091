#![allow(clippy::unwrap_used)]
//! Integration tests of the store.

mod service;
mod store;
