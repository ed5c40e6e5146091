//! Renderers for detections and impact reports: terminal table, JSONL, CSV and
//! self-contained, escaped HTML. No I/O beyond writing to the `&mut dyn Write` given, except
//! for the [`Spool`], which keeps its sorted runs in a private temporary directory.
//!
//! - [`write_detections`]: `hunt --format table|jsonl|csv|html`. JSONL is one line per
//!   [`Incident`] (`"type": "incident"`: `id`, `level`, `first`, `last`, and `tenants`,
//!   `mailboxes`, `users`, `ips`, `sessions`, `apps` as lists of names, its strongest
//!   `reasons`, …) then one per [`Detection`] (the contract: `rule_id`, `rule_title`, `level`,
//!   `source`, `timestamp`, `events[{file,line,record_id}]`, and `tenant`, `user`, `mailbox`,
//!   `ip`, `session_id`, `app_id`, `explanation` where known, `incident_id` when it belongs
//!   to an incident, and `"type": "detection"`). Detection order is deterministic (time, rule,
//!   location); the table lists the most severe first. [`ReportOptions::min_level`] leaves
//!   lower detections and incidents out of every format.
//! - [`Spool`] and [`write_sorted_detections`]: the same outputs with bounded memory, from
//!   detections collected (and spilled to temporary files past a memory budget) as they are
//!   found. JSONL, CSV and the table are byte-identical to [`write_detections`]; the HTML
//!   report lists at most a bounded number of rows (the most severe first) and says how many
//!   it left out.
//! - [`write_incidents_csv`]: the incidents as CSV.
//! - [`write_summary`]: the run summary for stderr.
//! - [`write_impact`] / [`write_impact_mailbox_csv`]: `impact --format json|csv|html`.
//!
//! CSV cells that start with `=`, `+`, `-`, `@`, tab or carriage return get a leading
//! apostrophe so that no spreadsheet evaluates a value from a log as a formula.
//! HTML is built with a builder whose text and attribute methods always escape, uses inline
//! CSS, SVG and one static script only, and loads nothing from elsewhere.
//!
//! ```
//! use stormwatch_core::{Detection, DetectionSource, Level, Timestamp};
//! use stormwatch_report::{DetectionFormat, HuntSummary, ReportOptions, write_detections};
//!
//! let d = Detection::new("builtin/x", "X", Level::High, DetectionSource::Builtin,
//!     Timestamp::parse("2023-06-12T03:14:07Z").unwrap());
//! let mut out = Vec::new();
//! write_detections(&mut out, DetectionFormat::Jsonl, &[d], &[], &HuntSummary::default(),
//!     &ReportOptions::default()).unwrap();
//! let line = String::from_utf8(out).unwrap();
//! assert!(line.starts_with("{\"rule_id\":\"builtin/x\""));
//! assert!(line.ends_with(",\"type\":\"detection\"}\n"));
//! ```
#![deny(missing_docs)]

mod chart;
mod csv_out;
mod error;
mod files;
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
mod timeline;

use std::borrow::Borrow;
use std::io::Write;

use stormwatch_core::{Detection, ImpactReport, Incident, Level};

pub use error::ReportError;
pub use format::{DetectionFormat, ImpactFormat};
pub use impact_html::{ImpactTotals, impact_totals};
pub use spool::{
    DEFAULT_MEMORY_BUDGET, DetectionCounts, DetectionOrder, RuleCounts, RuleTally,
    SortedDetections, Spool, SpoolError, SpoolOptions, own_spool_prefix, remove_stale_spools,
};
pub use summary::{HuntSummary, InputFilters, input_warnings, write_summary, write_summary_counts};

/// How `hunt`'s report is written, besides its format.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// ANSI colours by level in the table (ignored by the other formats).
    pub color: bool,
    /// Detections and incidents below this level are left out of every format (the counts
    /// still cover them, and the table and HTML say how many were left out).
    pub min_level: Level,
    /// Width of the table in columns (the terminal's); `None`: 160.
    pub width: Option<usize>,
    /// The table cuts nothing: every value and explanation in full.
    pub wide: bool,
    /// Detections per level of the whole run, before `min_level` (a [`Spool`] keeps them);
    /// `None`: counted from the detections given.
    pub counts: Option<DetectionCounts>,
    /// Detections per rule of the whole run, before `min_level`; `None`: none shown beyond
    /// what the renderers count themselves.
    pub rules: Option<RuleCounts>,
}

/// Write detections and the incidents they were grouped into, in the given format.
///
/// - JSONL: one line per incident first (`"type": "incident"`), then one per detection with
///   every field of [`Detection`], its `incident_id` when it belongs to one and
///   `"type": "detection"`.
/// - CSV: one row per detection (the incidents go to [`write_incidents_csv`]).
/// - Table: the incidents first, named, then the detections most severe first.
/// - HTML: incident cards, a timeline, the rules that fired and a sortable, filterable
///   detections table.
///
/// # Errors
/// [`ReportError`] when the output cannot be written.
pub fn write_detections(
    w: &mut dyn Write,
    fmt: DetectionFormat,
    detections: &[Detection],
    incidents: &[Incident],
    summary: &HuntSummary,
    opts: &ReportOptions,
) -> Result<(), ReportError> {
    let mut opts = opts.clone();
    if opts.rules.is_none() {
        opts.rules = Some(RuleCounts::of(detections));
    }
    if opts.counts.is_none() {
        opts.counts = Some(DetectionCounts::of(detections));
    }
    let order = fmt.order();
    let mut v: Vec<&Detection> = detections.iter().collect();
    v.sort_by(|a, b| order.cmp(a, b));
    let ordered = v.into_iter().map(Ok::<_, std::convert::Infallible>);
    write_sorted_detections(w, fmt, ordered, incidents, summary, &opts)
}

/// [`write_detections`] from detections already in the order of the format
/// ([`DetectionFormat::order`]: most severe first for the table, the output order for the
/// others; a [`Spool`] made with that order gives them so), consumed one at a time: memory
/// stays bounded however many there are. The first error of the stream stops the output and
/// is returned.
///
/// The HTML report lists at most 20,000 detections: when there are more it keeps the most
/// severe (the earliest first within a level) and says how many it left out; its counts cover
/// them all.
///
/// # Errors
/// [`ReportError`] when the output cannot be written or the stream fails.
pub fn write_sorted_detections<I, D, E>(
    w: &mut dyn Write,
    fmt: DetectionFormat,
    sorted: I,
    incidents: &[Incident],
    summary: &HuntSummary,
    opts: &ReportOptions,
) -> Result<(), ReportError>
where
    I: IntoIterator<Item = Result<D, E>>,
    D: Borrow<Detection> + Sync,
    ReportError: From<E>,
{
    let min = opts.min_level;
    let sorted = sorted
        .into_iter()
        .filter(|d| d.as_ref().map_or(true, |d| d.borrow().level >= min));
    let shown: Vec<&Incident> = incidents.iter().filter(|i| i.level >= min).collect();
    let index = stormwatch_core::IncidentIndex::new(incidents);
    let cx = Cx {
        incidents: &shown,
        index: &index,
        summary,
        opts,
    };
    match fmt {
        DetectionFormat::Table => table::write_table(w, sorted, &cx),
        DetectionFormat::Jsonl => jsonl::write_jsonl(w, sorted, &cx),
        DetectionFormat::Csv => csv_out::write_detections_csv(w, sorted, &index),
        DetectionFormat::Html => {
            w.write_all(hunt_html::render(sorted, &cx)?.as_bytes())?;
            Ok(())
        }
    }?;
    w.flush()?;
    Ok(())
}

/// What the hunt renderers share: the incidents shown (at or above the minimum level), the
/// index that ties detections to incidents, the run's summary and the options.
pub(crate) struct Cx<'a> {
    pub(crate) incidents: &'a [&'a Incident],
    pub(crate) index: &'a stormwatch_core::IncidentIndex,
    pub(crate) summary: &'a HuntSummary,
    pub(crate) opts: &'a ReportOptions,
}

/// Write the incidents as CSV, one row per incident (`hunt --incidents-csv`): id, level,
/// score, first, last, title, then the names it touched (tenants, domains, mailboxes, users,
/// IPs, sessions, apps, each `; `-separated), its strongest reasons, rules, detections and
/// records. Spreadsheet-safe like every CSV output.
///
/// # Errors
/// [`ReportError`] when the output cannot be written.
pub fn write_incidents_csv(w: &mut dyn Write, incidents: &[Incident]) -> Result<(), ReportError> {
    csv_out::write_incidents_csv(w, incidents)?;
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
