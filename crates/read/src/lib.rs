//! Reads audit-log exports: finds files, sniffs formats, decompresses, frames records within
//! bounds and normalises each source into events.
//!
//! [`read`] takes files, directories (walked recursively in sorted order) and standard input,
//! each plain, gzip or zstd (recognised by their magic bytes), and calls a sink with batches of
//! [`stormwatch_core::Event`]s in a deterministic order: input order, then record order,
//! whatever the thread count. It returns [`stormwatch_core::InputStats`]: per-file counts,
//! first and last record time, the first located record errors, and coverage per
//! (tenant, workload, day).
//!
//! Framing is detected per file (NDJSON, JSON arrays, concatenated or pretty-printed objects,
//! `{"value":[…]}` / `{"records":[…]}` envelopes, CSV with a header), and the record shape per
//! record (UAL Management Activity API, Purview CSV `AuditData`, Sentinel `OfficeActivity`,
//! Defender `CloudAppEvents`, Graph audit query records, Entra sign-ins and audit logs in
//! Graph, Azure Monitor and Sentinel shapes, evtx-dump Windows events, anything else as
//! generic). `--input-format` ([`InputFormat`]) forces either.
//!
//! Log contents are attacker-controlled: every record is bounded by [`Limits`] (record size,
//! nesting depth, field count, decompression ratio and size). A record that is malformed,
//! truncated, over a limit or mistyped becomes a located [`stormwatch_core::RecordError`]
//! (file, line — or element index inside a JSON array —, field, reason); it is counted as
//! skipped and every good record around it is still read. Nothing panics on input and memory
//! stays bounded by the batch size, not the input size.
//!
//! ```
//! use stormwatch_read::{read_all, Input, ReadOptions};
//! let dir = std::env::temp_dir().join(format!("stormwatch-read-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let file = dir.join("ual.ndjson");
//! std::fs::write(&file, concat!(
//!     r#"{"CreationTime":"2023-06-12T03:14:07","Id":"a1","Operation":"MailItemsAccessed","#,
//!     r#""RecordType":50,"UserId":"envoy@agency.example","ClientIPAddress":"51.89.156.153:443"}"#,
//!     "\nnot json\n",
//! )).unwrap();
//! let (events, stats) = read_all(&[Input::Path(file)], &ReadOptions::default()).unwrap();
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].ip_string().as_deref(), Some("51.89.156.153"));
//! assert_eq!(stats.skipped(), 1);
//! assert_eq!(stats.errors[0].loc.line, 2);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![deny(missing_docs)]

mod error;
mod frame;
mod inspect;
mod normalise;
mod options;
mod process;
mod run;
mod source;
mod stream;
mod tenants;

pub use error::ReadError;
pub use inspect::Inspect;
pub use options::{Input, InputFormat, Limits, Progress, ReadOptions};
pub use run::{read, read_all, read_bytes_inspect, read_inspect};
pub use stream::{InputStream, streams};

/// Parse one PowerShell-flattened `@{Name=…; Value=…}` string into its pairs (as written by
/// `ConvertTo-Json` at low depth); `None` if the text is not in that form.
#[must_use]
pub fn powershell_pairs(s: &str) -> Option<Vec<(&str, &str)>> {
    normalise::mail::ps_pairs(s)
}

/// Parse a client address as the logs write it: brackets and ports are stripped
/// (`[::1]:443`, `1.2.3.4:5678`).
#[must_use]
pub fn parse_client_ip(s: &str) -> Option<std::net::IpAddr> {
    normalise::access::parse_ip(s)
}

/// Read an in-memory input as if it were a file named `name` (compression sniffed as for
/// files): for tests, fuzzing and callers that already hold the bytes.
///
/// # Errors
/// As [`read`] (only [`ReadError::Threads`] can occur).
pub fn read_bytes(
    name: &str,
    bytes: Vec<u8>,
    opts: &ReadOptions,
) -> Result<(Vec<stormwatch_core::Event>, stormwatch_core::InputStats), ReadError> {
    run::read_in_memory(name, bytes, opts)
}
