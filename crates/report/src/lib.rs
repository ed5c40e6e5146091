//! Renderers for detections and impact reports: terminal table, JSONL, CSV and
//! self-contained, escaped HTML. No I/O beyond writing to the `&mut dyn Write` given, except
//! for the [`Spool`], which keeps its sorted runs in a private temporary directory.
//!
//! - [`write_detections`]: `hunt --format table|jsonl|csv|html`. JSONL is one
//!   [`Detection`] per line (the contract: `rule_id`, `rule_title`, `level`, `source`,
//!   `timestamp`, `events[{file,line,record_id}]`, and `tenant`, `user`, `mailbox`, `ip`,
//!   `session_id`, `app_id` where known). Output order is deterministic (time, rule, location).
//! - [`Spool`] and [`write_sorted_detections`]: the same outputs with bounded memory, from
//!   detections collected (and spilled to temporary files past a memory budget) as they are
//!   found. JSONL, CSV and the table are byte-identical to [`write_detections`]; the HTML
//!   report lists at most a bounded number of rows (the most severe first) and says how many
//!   it left out.
//! - [`write_summary`]: the run summary for stderr.
//! - [`write_impact`] / [`write_impact_mailbox_csv`]: `impact --format json|csv|html`.
//!
//! CSV cells that start with `=`, `+`, `-`, `@`, tab or carriage return get a leading
//! apostrophe so that no spreadsheet evaluates a value from a log as a formula.
//! HTML is built with a builder whose text and attribute methods always escape, uses inline
//! CSS and SVG only, and loads nothing from elsewhere.
//!
//! ```
//! use stormwatch_core::{Detection, DetectionSource, Level, Timestamp};
//! use stormwatch_report::{DetectionFormat, HuntSummary, write_detections};
//!
//! let d = Detection::new("builtin/x", "X", Level::High, DetectionSource::Builtin,
//!     Timestamp::parse("2023-06-12T03:14:07Z").unwrap());
//! let mut out = Vec::new();
//! write_detections(&mut out, DetectionFormat::Jsonl, &[d], &[], &HuntSummary::default(), false).unwrap();
//! assert!(String::from_utf8(out).unwrap().starts_with("{\"rule_id\":\"builtin/x\""));
//! ```
#![deny(missing_docs)]

mod chart;
mod csv_out;
mod error;
mod format;
mod html;
mod hunt_html;
mod impact_html;
mod jsonl;
mod spool;
mod style;
mod summary;
mod table;
mod text;

use std::borrow::Borrow;
use std::io::Write;

use stormwatch_core::{Detection, ImpactReport};

pub use error::ReportError;
pub use format::{DetectionFormat, ImpactFormat};
pub use spool::{
    DEFAULT_MEMORY_BUDGET, DetectionCounts, SortedDetections, Spool, SpoolError, SpoolOptions,
    remove_stale_spools,
};
pub use summary::{HuntSummary, write_summary, write_summary_counts};

/// Write detections (and the incidents the analytics grouped them into, as JSON objects) in
/// the given format. `color` adds ANSI colours by level to the table (ignored otherwise).
/// JSONL and CSV carry detections only; the table and HTML also list incidents.
///
/// # Errors
/// [`ReportError`] when the output cannot be written.
pub fn write_detections(
    w: &mut dyn Write,
    fmt: DetectionFormat,
    detections: &[Detection],
    incidents: &[serde_json::Value],
    summary: &HuntSummary,
    color: bool,
) -> Result<(), ReportError> {
    let ordered = table::ordered(detections)
        .into_iter()
        .map(Ok::<_, std::convert::Infallible>);
    write_sorted_detections(w, fmt, ordered, incidents, summary, color)
}

/// [`write_detections`] from detections already in output order (as [`Spool::finish`] gives
/// them), consumed one at a time: memory stays bounded however many there are. The first
/// error of the stream stops the output and is returned.
///
/// The HTML report lists at most 20,000 detections: when there are more it keeps the most
/// severe (the earliest first within a level), in output order, and says how many it left
/// out; its counts cover them all.
///
/// # Errors
/// [`ReportError`] when the output cannot be written or the stream fails.
pub fn write_sorted_detections<I, D, E>(
    w: &mut dyn Write,
    fmt: DetectionFormat,
    sorted: I,
    incidents: &[serde_json::Value],
    summary: &HuntSummary,
    color: bool,
) -> Result<(), ReportError>
where
    I: IntoIterator<Item = Result<D, E>>,
    D: Borrow<Detection> + Sync,
    ReportError: From<E>,
{
    let sorted = sorted.into_iter();
    match fmt {
        DetectionFormat::Table => table::write_table(w, sorted, incidents, color),
        DetectionFormat::Jsonl => jsonl::write_jsonl(w, sorted),
        DetectionFormat::Csv => csv_out::write_detections_csv(w, sorted),
        DetectionFormat::Html => {
            w.write_all(hunt_html::render(sorted, incidents, summary)?.as_bytes())?;
            Ok(())
        }
    }?;
    w.flush()?;
    Ok(())
}

/// Write an impact report: the JSON contract (pretty-printed), CSV with one row per message
/// (and one per folder exposed whole), or the self-contained HTML report.
///
/// # Errors
/// [`ReportError`] when the output cannot be written.
pub fn write_impact(
    w: &mut dyn Write,
    fmt: ImpactFormat,
    report: &ImpactReport,
) -> Result<(), ReportError> {
    match fmt {
        ImpactFormat::Json => {
            serde_json::to_writer_pretty(&mut *w, report)?;
            w.write_all(b"\n")?;
        }
        ImpactFormat::Csv => csv_out::write_impact_csv(w, report)?,
        ImpactFormat::Html => w.write_all(impact_html::render(report).as_bytes())?,
    }
    w.flush()?;
    Ok(())
}

/// Write the per-mailbox summary CSV: one row per mailbox with first/last access, messages,
/// bytes, whole folders, unlisted binds, distinct sessions/IPs/apps, whether it is presumed
/// exposed (throttled or unaudited) and its limit kinds.
///
/// # Errors
/// [`ReportError`] when the output cannot be written.
pub fn write_impact_mailbox_csv(
    w: &mut dyn Write,
    report: &ImpactReport,
) -> Result<(), ReportError> {
    csv_out::write_mailbox_csv(w, report)?;
    w.flush()?;
    Ok(())
}
