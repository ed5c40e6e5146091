//! `stormwatch rules test`: run rules against sample events.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use stormwatch_core::{Detection, Event, SourceKind};

use super::{events, load};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One line per matching event, then a summary.
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `stormwatch rules test`.
#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// A rule file, or a folder of rules.
    #[arg(value_name = "RULE")]
    rule: PathBuf,
    /// Sample events, read as `hunt` reads its inputs: files or directories, any format it
    /// reads (NDJSON, JSON arrays, Graph and Azure Monitor envelopes, Purview CSV, …), plain,
    /// .gz or .zst; `-` for standard input (repeatable).
    #[arg(long = "events", value_name = "PATH", required = true)]
    events: Vec<String>,
    /// Treat every record as this log source instead of recognising it (ual, entra_sign_in,
    /// entra_audit, sentinel_office_activity, defender_cloud_app_events, windows_event, generic).
    #[arg(long, value_name = "KIND", value_parser = events::parse_source)]
    source: Option<SourceKind>,
    /// Offer every record to every rule, whatever its log source.
    #[arg(long)]
    ignore_logsource: bool,
    /// Expect exactly this many events to match; exit 1 otherwise.
    #[arg(long, value_name = "N")]
    expect: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Run `stormwatch rules test`.
pub(crate) fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let loaded = load::from_paths(std::slice::from_ref(&args.rule), args.ignore_logsource)?;
    let inputs = crate::cli::common::inputs(&args.events)?;
    let (mut evs, stats): (Vec<Event>, _) =
        stormwatch_read::read_all(&inputs, &stormwatch_read::ReadOptions::default())
            .context("reading the sample events")?;
    if let Some(kind) = args.source {
        for e in &mut evs {
            e.source = kind;
        }
    }
    // Records that could not be read, located (file, line, field, reason).
    let bad: Vec<String> = stats.errors.iter().map(ToString::to_string).collect();
    let skipped = stats.skipped();

    let mut per_event: Vec<Vec<Detection>> = Vec::with_capacity(evs.len());
    let mut scratch = Vec::new();
    for ev in &evs {
        scratch.clear();
        loaded.engine.scan(ev, &mut scratch);
        per_event.push(scratch.clone());
    }
    // Correlations see events in time order (records without a time keep file order, first).
    let mut order: Vec<usize> = (0..evs.len()).collect();
    order.sort_by_key(|&i| evs[i].time);
    let mut correlator = loaded.engine.correlator();
    for &i in &order {
        correlator.observe(&evs[i], &per_event[i]);
    }
    let correlations = correlator.finish();

    let matched: Vec<usize> = (0..evs.len())
        .filter(|&i| !per_event[i].is_empty())
        .collect();
    let mut by_rule: BTreeMap<(String, String), usize> = BTreeMap::new();
    for d in per_event.iter().flatten() {
        *by_rule
            .entry((d.rule_id.clone(), d.rule_title.clone()))
            .or_default() += 1;
    }
    let load_errors = loaded.problems.len();
    let expect_failed = args.expect.is_some_and(|n| n != matched.len());
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let events_json: Vec<serde_json::Value> = matched
                .iter()
                .map(|&i| {
                    serde_json::json!({
                        "event": evs[i].loc.to_string(),
                        "source": evs[i].source.as_str(),
                        "rules": per_event[i].iter().map(|d| &d.rule_id).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "rules_loaded": loaded.rows.len(),
                "load_errors": loaded.problems,
                "events": evs.len(),
                "bad_records": bad,
                "skipped_records": skipped,
                "matched_events": matched.len(),
                "matches": events_json,
                "correlations": correlations,
                "expect": args.expect,
                "ok": load_errors == 0 && !expect_failed,
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Text => {
            for p in &loaded.problems {
                let at = p.line.map(|l| format!(":{l}")).unwrap_or_default();
                writeln!(out, "{}{at}: error: {}", p.file, p.message)?;
            }
            for b in &bad {
                writeln!(out, "{b}: skipped")?;
            }
            if skipped as usize > bad.len() {
                writeln!(
                    out,
                    "… {} more records skipped",
                    skipped as usize - bad.len()
                )?;
            }
            for &i in &matched {
                let ids: Vec<String> = per_event[i]
                    .iter()
                    .map(|d| format!("{} ({})", d.rule_title, d.rule_id))
                    .collect();
                writeln!(
                    out,
                    "{}  [{}]  {}",
                    evs[i].loc,
                    evs[i].source,
                    ids.join(", ")
                )?;
            }
            for c in &correlations {
                let at: Vec<String> = c.events.iter().map(ToString::to_string).collect();
                writeln!(
                    out,
                    "correlation {} ({}): {}",
                    c.rule_title,
                    c.rule_id,
                    at.join(" ")
                )?;
            }
            writeln!(
                out,
                "{} of {} events matched; {} rule(s) loaded, {load_errors} failed to load; {} correlation alert(s)",
                matched.len(),
                evs.len(),
                loaded.rows.len(),
                correlations.len()
            )?;
            for ((id, title), n) in &by_rule {
                writeln!(out, "  {n:>6}  {title} ({id})")?;
            }
            if let Some(n) = args.expect {
                if expect_failed {
                    writeln!(
                        out,
                        "FAILED: expected {n} matching event(s), got {}",
                        matched.len()
                    )?;
                } else {
                    writeln!(out, "ok: {n} matching event(s) as expected")?;
                }
            }
        }
    }
    Ok(if load_errors > 0 || expect_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
