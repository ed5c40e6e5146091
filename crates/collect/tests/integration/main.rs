//! Collections against the fake of Microsoft's APIs, on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod collect;
mod evidence;
mod failures;
mod purview;
mod resume;
mod util;
