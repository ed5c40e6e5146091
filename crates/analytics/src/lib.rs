//! Built-in detections for forged-token and credential-abuse mail access: baselines, sign-in joins, IOC windows, breadth and bulk reads.
#![deny(missing_docs)]
