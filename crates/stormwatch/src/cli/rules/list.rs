//! `stormwatch rules list`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::load::{self, Row};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns, one group per heading.
    Table,
    /// One JSON array of rules.
    Json,
}

/// What rules are grouped and sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Key {
    /// Log source (product/service/category).
    Source,
    /// Level, most severe first.
    Level,
    /// Status (stable, test, experimental, …).
    Status,
    /// Rule id.
    Id,
    /// Title.
    Title,
    /// Rule file.
    File,
    /// No grouping.
    None,
}

/// Arguments of `stormwatch rules list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Rule files or folders to list instead of the bundled ruleset (repeatable).
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Group the table by this key.
    #[arg(long, value_enum, default_value = "source")]
    group_by: Key,
    /// Sort rules (within groups) by this key.
    #[arg(long, value_enum, default_value = "level")]
    sort: Key,
    /// Only rules of this level (repeatable).
    #[arg(long, value_name = "LEVEL")]
    level: Vec<String>,
    /// Only rules of this status (repeatable).
    #[arg(long, value_name = "STATUS")]
    status: Vec<String>,
    /// Only rules whose log source contains this text, e.g. `m365` or `signinlogs`.
    #[arg(long, value_name = "TEXT")]
    source: Option<String>,
}

/// Run `stormwatch rules list`.
pub(crate) fn run(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let loaded = if args.rules.is_empty() {
        load::bundled(false)?
    } else {
        load::from_paths(&args.rules, false)?
    };
    let mut rows: Vec<Row> = loaded
        .rows
        .into_iter()
        .filter(|r| {
            args.level.is_empty() || args.level.iter().any(|l| l.eq_ignore_ascii_case(&r.level))
        })
        .filter(|r| {
            args.status.is_empty()
                || args
                    .status
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&r.status))
        })
        .filter(|r| {
            args.source.as_deref().is_none_or(|s| {
                r.logsource
                    .to_ascii_lowercase()
                    .contains(&s.to_ascii_lowercase())
            })
        })
        .collect();
    rows.sort_by(|a, b| compare(a, b, args.sort).then_with(|| a.id.cmp(&b.id)));
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        Format::Table => write_table(&mut out, &rows, args.group_by)?,
    }
    if !loaded.problems.is_empty() {
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "{} rule file(s) did not load; run `stormwatch rules check` for details",
            loaded.problems.len()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn level_rank(level: &str) -> u8 {
    match level.to_ascii_lowercase().as_str() {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        "informational" => 4,
        _ => 5,
    }
}

fn key_of(r: &Row, key: Key) -> String {
    match key {
        Key::Source => r.logsource.clone(),
        Key::Level => format!("{}{}", level_rank(&r.level), r.level),
        Key::Status => r.status.clone(),
        Key::Id => r.id.clone(),
        Key::Title => r.title.to_ascii_lowercase(),
        Key::File => r.file.clone(),
        Key::None => String::new(),
    }
}

fn compare(a: &Row, b: &Row, key: Key) -> std::cmp::Ordering {
    key_of(a, key).cmp(&key_of(b, key))
}

fn heading(r: &Row, key: Key) -> String {
    match key {
        Key::Level => r.level.clone(),
        Key::None => String::new(),
        _ => key_of(r, key),
    }
}

fn write_table(out: &mut impl Write, rows: &[Row], group_by: Key) -> std::io::Result<()> {
    let mut groups: BTreeMap<String, (String, Vec<&Row>)> = BTreeMap::new();
    for r in rows {
        groups
            .entry(key_of(r, group_by))
            .or_insert_with(|| (heading(r, group_by), Vec::new()))
            .1
            .push(r);
    }
    let head = ["ID", "LEVEL", "STATUS", "SOURCE", "TITLE", "FILE"];
    let cells = |r: &Row| -> [String; 6] {
        [
            r.id.clone(),
            r.level.clone(),
            r.status.clone(),
            r.logsource.clone(),
            r.title.clone(),
            r.file.clone(),
        ]
    };
    let mut width = head.map(str::len);
    for r in rows {
        for (w, c) in width.iter_mut().zip(cells(r)) {
            *w = (*w).max(c.chars().count());
        }
    }
    for (gi, (_, (title, members))) in groups.iter().enumerate() {
        if group_by != Key::None {
            if gi > 0 {
                writeln!(out)?;
            }
            let label = if title.is_empty() { "(none)" } else { title };
            writeln!(out, "{label} ({} rules)", members.len())?;
        }
        write_row(out, &head.map(str::to_owned), &width)?;
        for r in members {
            write_row(out, &cells(r), &width)?;
        }
    }
    writeln!(out, "\n{} rules", rows.len())
}

fn write_row(out: &mut impl Write, cells: &[String; 6], width: &[usize; 6]) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, (c, w)) in cells.iter().zip(width).enumerate() {
        if i + 1 == cells.len() {
            line.push_str(c);
        } else {
            line.push_str(c);
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(c.chars().count()) + 2,
            ));
        }
    }
    writeln!(out, "{}", line.trim_end())
}
