//! Renderers for detections and impact reports: terminal table, JSONL, CSV and self-contained, escaped HTML.
#![deny(missing_docs)]
