//! The collectors, one per API, over a shared window life cycle ([`window`]).

pub(crate) mod activity;
pub(crate) mod graph;
pub(crate) mod purview;
pub(crate) mod window;
