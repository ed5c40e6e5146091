//! The run summary written to stderr after `hunt`.

use std::io::Write;
use std::time::Duration;

use stormwatch_core::{Detection, InputStats, Timestamp};

use crate::error::ReportError;
use crate::spool::DetectionCounts;
use crate::text::{bytes, clean, thousands};

/// Located errors quoted in the summary.
const MAX_QUOTED: usize = 5;

/// What a hunt run read, loaded and noticed, for the summary and the HTML report.
#[derive(Debug, Clone, Default)]
pub struct HuntSummary {
    /// Files, records, skipped records with their first located errors, coverage.
    pub stats: InputStats,
    /// Sigma rules loaded.
    pub rules_loaded: usize,
    /// Rules that could not be loaded (file and reason).
    pub rule_errors: Vec<String>,
    /// Anything else the reader should know (e.g. "no sign-in logs: joins skipped").
    pub notes: Vec<String>,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// When the report was made (shown in the HTML header), if the caller wants it shown.
    pub generated_at: Option<Timestamp>,
    /// Built-in analytics enabled.
    pub builtin: bool,
}

/// Write the summary (files, records, skipped records with the first located errors, rules,
/// detections by level) as plain text.
///
/// # Errors
/// [`ReportError::Io`] when the output cannot be written.
pub fn write_summary(
    w: &mut dyn Write,
    summary: &HuntSummary,
    detections: &[Detection],
) -> Result<(), ReportError> {
    write_summary_counts(w, summary, &DetectionCounts::of(detections))
}

/// [`write_summary`] from the counts of detections per level (as a [`crate::Spool`] keeps
/// them) instead of the detections themselves.
///
/// # Errors
/// [`ReportError::Io`] when the output cannot be written.
pub fn write_summary_counts(
    w: &mut dyn Write,
    summary: &HuntSummary,
    counts: &DetectionCounts,
) -> Result<(), ReportError> {
    let s = &summary.stats;
    let secs = summary.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (s.records() as f64 / secs) as u64
    } else {
        0
    };
    writeln!(
        w,
        "read {} files, {} records ({}) in {:.2} s ({} records/s)",
        s.files.len(),
        thousands(s.records()),
        bytes(s.bytes()),
        secs,
        thousands(rate)
    )?;
    let skipped = s.skipped();
    if skipped > 0 || !s.errors.is_empty() {
        if skipped > 0 {
            writeln!(
                w,
                "skipped {} bad records; first errors:",
                thousands(skipped)
            )?;
        } else {
            writeln!(w, "records read after repairing an input error:")?;
        }
        for e in s.errors.iter().take(MAX_QUOTED) {
            writeln!(w, "  {}", clean(&e.to_string()))?;
        }
        if s.errors.len() > MAX_QUOTED {
            writeln!(w, "  … {} more located errors", s.errors.len() - MAX_QUOTED)?;
        }
    }
    for (path, reason) in &s.unreadable {
        writeln!(w, "could not open {}: {}", clean(path), clean(reason))?;
    }
    let filtered: u64 = s.files.iter().map(|f| f.filtered).sum();
    if filtered > 0 {
        writeln!(
            w,
            "left out by --since/--until/--tenant: {} records",
            thousands(filtered)
        )?;
    }
    let lost: u64 = s.files.iter().map(|f| f.items_lost).sum();
    if lost > 0 {
        writeln!(
            w,
            "{} records lost their folder items in a flattened export",
            thousands(lost)
        )?;
    }
    write!(w, "rules: {} loaded", summary.rules_loaded)?;
    if summary.builtin {
        write!(w, " + built-in analytics")?;
    }
    writeln!(w)?;
    if !summary.rule_errors.is_empty() {
        writeln!(
            w,
            "{} rules could not be loaded:",
            summary.rule_errors.len()
        )?;
        for e in summary.rule_errors.iter().take(MAX_QUOTED) {
            writeln!(w, "  {}", clean(e))?;
        }
        if summary.rule_errors.len() > MAX_QUOTED {
            writeln!(w, "  … {} more", summary.rule_errors.len() - MAX_QUOTED)?;
        }
    }
    let levels = counts.by_level();
    if levels.is_empty() {
        writeln!(w, "detections: none")?;
    } else {
        let parts: Vec<String> = levels
            .iter()
            .map(|(l, n)| format!("{l} {}", thousands(*n)))
            .collect();
        writeln!(
            w,
            "detections: {} ({})",
            thousands(counts.total()),
            parts.join(", ")
        )?;
    }
    for n in &summary.notes {
        writeln!(w, "note: {}", clean(n))?;
    }
    Ok(())
}
