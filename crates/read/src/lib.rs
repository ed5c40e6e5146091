//! Reads audit-log exports: finds files, sniffs formats, decompresses, frames records within bounds and normalises each source into events.
#![deny(missing_docs)]
