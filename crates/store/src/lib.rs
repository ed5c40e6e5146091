//! The embedded SQLite store: detections, baselines and streaming state, with schema migrations.
#![deny(missing_docs)]
