//! The run summary written to stderr after `hunt`.

use std::io::Write;
use std::time::Duration;

use stormwatch_core::{Detection, InputStats, Level, Timestamp};

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
    /// What makes the result doubtful: nothing read, no file matched, a filter that left out
    /// every record. Said first, on standard error and at the top of the HTML report.
    pub warnings: Vec<String>,
    /// Detections below this level are left out of the report (`--min-level`).
    pub min_level: Level,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// When the report was made (shown in the HTML header), if the caller wants it shown.
    pub generated_at: Option<Timestamp>,
    /// Built-in analytics enabled.
    pub builtin: bool,
}

/// The filters a run was given, for [`input_warnings`].
#[derive(Debug, Clone, Default)]
pub struct InputFilters {
    /// The inputs as given.
    pub paths: Vec<String>,
    /// `--since`.
    pub since: Option<Timestamp>,
    /// `--until`.
    pub until: Option<Timestamp>,
    /// `--tenant` values.
    pub tenants: Vec<String>,
}

/// What makes a run's result doubtful, each naming its cause: no input file found, nothing
/// in the files, every record unreadable, every record left out by a filter, or more records
/// skipped than read.
#[must_use]
pub fn input_warnings(stats: &InputStats, f: &InputFilters) -> Vec<String> {
    let mut out = Vec::new();
    let files = stats.files.len() as u64;
    let read = stats.records();
    let skipped = stats.skipped();
    let filtered: u64 = stats.files.iter().map(|x| x.filtered).sum();
    let kept = read.saturating_sub(filtered);
    if stats.files.is_empty() {
        if stats.unreadable.is_empty() {
            out.push(format!(
                "no input file found in {}: directories are searched for .json, .jsonl, .ndjson,                  .csv, .log, .txt, .gz and .zst files (hidden ones are skipped); name a file to                  read it whatever its name",
                f.paths.join(", ")
            ));
        } else {
            out.push("no input could be opened".to_owned());
        }
        return out;
    }
    if read == 0 {
        if skipped > 0 {
            let first = stats
                .errors
                .first()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default();
            out.push(format!(
                "no record could be read: all {} records of {} file{} were unreadable{first};                  is this an audit-log export?",
                thousands(skipped),
                files,
                if files == 1 { "" } else { "s" }
            ));
        } else {
            out.push(format!(
                "no record in the input: {} file{} holding {} and no record",
                files,
                if files == 1 { "" } else { "s" },
                bytes(stats.bytes())
            ));
        }
        return out;
    }
    if kept == 0 {
        let mut why = Vec::new();
        if !f.tenants.is_empty() {
            why.push(format!(
                "--tenant {}: no record has that tenant id or organisation name, or a user or                  mailbox in that domain",
                f.tenants.join(", ")
            ));
        }
        if f.since.is_some() || f.until.is_some() {
            let first = stats.files.iter().filter_map(|x| x.first).min();
            let last = stats.files.iter().filter_map(|x| x.last).max();
            why.push(format!(
                "--since/--until {}..{}: the records span {} to {}",
                f.since.map(|t| t.to_string()).unwrap_or_default(),
                f.until.map(|t| t.to_string()).unwrap_or_default(),
                first.map(|t| t.to_string()).unwrap_or_else(|| "?".into()),
                last.map(|t| t.to_string()).unwrap_or_else(|| "?".into()),
            ));
        }
        out.push(format!(
            "the filters left out every one of the {} records read{}",
            thousands(read),
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join("; "))
            }
        ));
        return out;
    }
    if skipped > read {
        out.push(format!(
            "more records were skipped as unreadable ({}) than read ({}): check the input              format (--input-format)",
            thousands(skipped),
            thousands(read)
        ));
    }
    out
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
        let min = summary.min_level;
        let below: u64 = levels
            .iter()
            .filter(|(l, _)| *l < min)
            .map(|(_, n)| n)
            .sum();
        if below > 0 {
            writeln!(
                w,
                "in the report: {} at or above {min}; {} below it left out (--min-level)",
                thousands(counts.total() - below),
                thousands(below)
            )?;
        }
    }
    for n in &summary.notes {
        writeln!(w, "note: {}", clean(n))?;
    }
    for n in &summary.warnings {
        writeln!(w, "warning: {}", clean(n))?;
    }
    Ok(())
}
