//! `stormwatch analytics`: list the built-in analytics, their settings and docs pages.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use stormwatch_analytics::{AnalyticInfo, Analytics, AnalyticsConfig};

/// Arguments of `stormwatch analytics`.
#[derive(Debug, clap::Args)]
pub(crate) struct AnalyticsArgs {
    #[command(subcommand)]
    command: AnalyticsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AnalyticsCommand {
    /// Print each built-in analytic, its settings (with the values in effect) and its docs page.
    List(ListArgs),
}

/// Output format of `analytics list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ListFormat {
    /// Human-readable.
    Table,
    /// One JSON array.
    Json,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    /// Analytics configuration (TOML) whose values to show instead of the defaults.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Run `stormwatch analytics`.
pub(crate) fn run(args: AnalyticsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AnalyticsCommand::List(a) => list(&a),
    }
}

fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read analytics configuration {}", path.display())
            })?;
            AnalyticsConfig::from_toml_str(&text).with_context(|| format!("{}", path.display()))?
        }
        None => AnalyticsConfig::default(),
    };
    let list = Analytics::list_with(&config);
    let mut out = std::io::stdout().lock();
    match args.format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        ListFormat::Table => write_table(&mut out, &list)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn write_table(out: &mut impl Write, list: &[AnalyticInfo]) -> std::io::Result<()> {
    for (i, a) in list.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "{:>2}. {}  [{}]  {}",
            a.number, a.id, a.default_level, a.title
        )?;
        writeln!(out, "    {}", a.summary)?;
        let width = a
            .settings
            .iter()
            .map(|s| s.name.len() + s.value.len() + 3)
            .max()
            .unwrap_or(0)
            .min(60);
        for s in &a.settings {
            let kv = format!("{} = {}", s.name, s.value);
            if kv.len() > width {
                writeln!(out, "    {kv}")?;
                writeln!(out, "    {:width$}  {}", "", s.meaning)?;
            } else {
                writeln!(out, "    {kv:width$}  {}", s.meaning)?;
            }
        }
        writeln!(out, "    docs: {}", a.docs)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn table_lists_every_analytic_with_docs() {
        let mut buf = Vec::new();
        write_table(&mut buf, &Analytics::list()).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.matches("docs: docs/analytics/").count(), 14);
        assert!(text.contains("builtin/new-mail-app"));
        assert!(text.contains("breadth.window_mailboxes = 5"));
    }
}
