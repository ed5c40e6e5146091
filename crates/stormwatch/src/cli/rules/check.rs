//! `stormwatch rules check`: lint rule files and folders.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::load::{self, Problem, Severity};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// `file:line: error: message`, one finding per line.
    Text,
    /// One JSON object with every finding.
    Json,
}

/// Arguments of `stormwatch rules check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Rule files or folders (folders are searched for `.yml` / `.yaml` files).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Run `stormwatch rules check`.
pub(crate) fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = load::from_paths(&args.paths, false)?;
    let mut problems = loaded.problems;
    problems.extend(duplicate_ids(&loaded.rows));
    problems.extend(loaded.rows.iter().filter_map(rule_warning));
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "rules_loaded": loaded.rows.len(),
                "errors": errors,
                "warnings": warnings,
                "findings": problems,
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Text => {
            for p in &problems {
                match p.line {
                    Some(line) => writeln!(
                        out,
                        "{}:{line}: {}: {}",
                        p.file,
                        p.severity.as_str(),
                        p.message
                    )?,
                    None => writeln!(out, "{}: {}: {}", p.file, p.severity.as_str(), p.message)?,
                }
            }
            writeln!(
                out,
                "{} rule(s) loaded, {errors} error(s), {warnings} warning(s)",
                loaded.rows.len()
            )?;
        }
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Findings that do not stop a rule from running.
fn rule_warning(r: &load::Row) -> Option<Problem> {
    let message = if r.id.is_empty() {
        "rule has no id: detections will name it by its file".to_owned()
    } else if matches!(r.status.as_str(), "deprecated" | "unsupported") {
        format!("rule status is {}", r.status)
    } else {
        return None;
    };
    let line = if r.id.is_empty() {
        None
    } else {
        load::id_line(Path::new(&r.file), &r.id)
    };
    Some(Problem {
        file: r.file.clone(),
        line,
        severity: Severity::Warning,
        message,
    })
}

/// Two rules with the same id: an error on every file after the first.
fn duplicate_ids(rows: &[load::Row]) -> Vec<Problem> {
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for r in rows {
        if r.id.is_empty() {
            continue;
        }
        match first.get(r.id.as_str()) {
            Some(other) if *other != r.file => out.push(Problem {
                file: r.file.clone(),
                line: load::id_line(Path::new(&r.file), &r.id),
                severity: Severity::Error,
                message: format!("duplicate rule id {} (also in {other})", r.id),
            }),
            Some(_) => {}
            None => {
                first.insert(&r.id, &r.file);
            }
        }
    }
    out
}
