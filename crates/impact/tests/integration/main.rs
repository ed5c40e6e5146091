#![allow(clippy::unwrap_used)]
//! Integration tests of the impact assessment on hand-built scenarios.

mod build;
mod exposure;
mod ground_truth;
mod limits;
mod subjects;
