//! Rendering records into the text of each format.

pub(crate) mod rows;
pub(crate) mod signin;
pub(crate) mod ual;
