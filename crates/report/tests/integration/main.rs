#![allow(clippy::unwrap_used)]
//! Integration tests of the renderers.

mod browser;
mod detections;
mod fixtures;
mod impact;
mod spool;
