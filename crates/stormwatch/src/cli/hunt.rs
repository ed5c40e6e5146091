//! `stormwatch hunt`: read every input, run Sigma rules and the built-in analytics, report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use stormwatch_core::{Detection, Event, Level};
use stormwatch_detect::{Change, Detector, DetectorConfig, Scanned};
use stormwatch_report::{DetectionFormat, HuntSummary, ReportOptions, Spool, SpoolOptions};

use super::common::{self, InputArgs, Output};
use crate::exit::Exit;

/// Arguments of `stormwatch hunt`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stormwatch hunt examples/storm-0558/
  stormwatch hunt --min-level high examples/storm-0558/
  stormwatch hunt --format jsonl -o detections.jsonl audit/ signins.json.gz
  stormwatch hunt --rules my-rules/ --no-default-rules --since 2023-05-01 export.csv
  stormwatch hunt --state ~/.stormwatch --fail-on high this-week.ndjson")]
pub(crate) struct HuntArgs {
    #[command(flatten)]
    input: InputArgs,

    /// Sigma rules: a file or directory (repeatable). Added to the bundled ruleset.
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,

    /// Do not load the bundled ruleset (only the `--rules` given).
    #[arg(long)]
    no_default_rules: bool,

    /// Do not run the built-in analytics.
    #[arg(long)]
    no_builtin: bool,

    /// Offer every record to every Sigma rule, whatever its log source.
    #[arg(long)]
    ignore_logsource: bool,

    /// Indicators: CSV (`indicator,valid_from,valid_until,...`) or STIX 2.1 bundle (repeatable).
    /// Added to the built-in Storm-0558 indicators.
    #[arg(long, value_name = "FILE")]
    ioc: Vec<PathBuf>,

    /// Analytics settings (TOML); `stormwatch analytics list` shows them.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Watch-listed high-value mailboxes, one UPN per line.
    #[arg(long, value_name = "FILE")]
    watchlist: Option<PathBuf>,

    /// IP → ASN data (CSV `start,end,asn,org`, e.g. the `@ip-location-db/asn` package).
    #[arg(long, value_name = "FILE")]
    asn_db: Option<PathBuf>,

    /// Keep baselines between runs in DIR (embedded SQLite store).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,

    /// Exit 1 when a detection at or above LEVEL is found (and 2 when no record was read).
    #[arg(long, value_name = "LEVEL")]
    fail_on: Option<Level>,

    /// Leave detections and incidents below LEVEL out of the report, in every format
    /// (informational, low, medium, high, critical); the summary still counts them.
    #[arg(long, value_name = "LEVEL", default_value = "informational")]
    min_level: Level,

    /// Also write the incidents as CSV to FILE (one row per incident, with every name).
    #[arg(long, value_name = "FILE")]
    incidents_csv: Option<PathBuf>,

    /// Table: cut nothing (every value and explanation in full), whatever the terminal width.
    #[arg(long)]
    wide: bool,

    /// Where to keep the temporary files that bound memory when there are many detections
    /// (default: the system's temporary directory); they are removed when the run ends.
    #[arg(long, value_name = "DIR")]
    tmp_dir: Option<PathBuf>,

    /// Sort detections into a temporary file once N are held in memory (testing; by default
    /// this happens past about 16 MiB of detections).
    #[arg(long, value_name = "N", hide = true)]
    spill_after: Option<usize>,

    #[command(flatten)]
    output: Output,

    /// Output format.
    #[arg(
        long,
        short = 'f',
        default_value = "table",
        value_name = "table|jsonl|csv|html"
    )]
    format: DetectionFormat,
}

/// Estimated bytes of detections `hunt` holds before it sorts them into a temporary file.
/// In a run that finds many, the detections held are most of its peak memory; on workload B
/// (docs/sigma.md) runs of this size cost no measurable time, and the output is the same.
const SPOOL_BUDGET: usize = 16 << 20;

/// The detector's rules and analytics, run on the reader's worker threads on each event
/// while its record's parse is at hand: the events themselves are freed on the thread that
/// made them.
struct Scan(stormwatch_detect::Scanner);

impl stormwatch_read::Inspect for Scan {
    type Out = Scanned;

    fn inspect(&self, event: &Event, parsed: Option<&sonic_rs::Value>, out: &mut Scanned) {
        self.0.scan(event, parsed, out);
    }

    fn keeps_events(&self) -> bool {
        false
    }
}

/// The detections among the detector's decisions (a run over a finite input never withdraws;
/// its incidents come with the end of the run).
fn raised(changes: &mut Vec<Change>) -> impl Iterator<Item = Detection> + '_ {
    changes.drain(..).filter_map(|c| match c {
        Change::Raise(a) => Some(a.detection),
        Change::Withdraw(_) | Change::Incident(_) | Change::IncidentGone { .. } => None,
    })
}

/// Run `stormwatch hunt`.
pub(crate) fn run(args: HuntArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if let Some(dir) = &args.tmp_dir
        && !dir.is_dir()
    {
        // Said now rather than at the first spill, after reading much of the input.
        anyhow::bail!("--tmp-dir {}: not a directory", dir.display());
    }
    common::init_threads(args.input.threads)?;
    // A collected folder: its manifest is not a log, and its gaps are limits of the evidence.
    let collected = stormwatch_collect::Evidence::beside(&args.input.paths).restrict(
        args.input.since,
        args.input.until,
        &args.input.tenant,
    );
    let inputs = common::inputs(&collected.paths)?;
    let mut read_opts = common::with_progress(args.input.read_options()?, args.output.quiet);
    // Set when detections can no longer be kept (the spool failed): reading stops there.
    let cancel = Arc::new(AtomicBool::new(false));
    read_opts.cancel = Some(Arc::clone(&cancel));

    let engine = common::load_sigma(&args.rules, !args.no_default_rules, args.ignore_logsource)?;
    let built = if args.no_builtin {
        None
    } else {
        Some(common::build_analytics(
            args.config.as_deref(),
            &args.ioc,
            args.watchlist.as_deref(),
            args.asn_db.as_deref(),
            args.state.as_deref(),
        )?)
    };
    let (analytics, store) = match built {
        Some(b) => (Some(b.analytics), b.store),
        None => (None, None),
    };
    let rules_loaded = engine.rules_loaded;
    let rule_errors = engine.errors;
    let mut detector = Detector::new(engine.engine, analytics, DetectorConfig::default())?;

    // Runs killed outright (SIGKILL, out of memory) could not remove their temporary files.
    let spool_opts = SpoolOptions {
        tmp_dir: args.tmp_dir.clone(),
        memory_budget: SPOOL_BUDGET,
        max_held: args.spill_after.map(|n| n.max(1)),
        order: args.format.order(),
    };
    let tmp_parent = spool_opts.parent_dir();
    let stale = stormwatch_report::remove_stale_spools(&tmp_parent);
    if stale > 0 && !args.output.quiet {
        eprintln!(
            "removed {stale} temporary director{} left in {} by runs that were killed",
            if stale == 1 { "y" } else { "ies" },
            tmp_parent.display()
        );
    }
    let progress = common::ProgressBar::start(&read_opts, args.output.quiet);
    // Detections are spooled as they are found: sorted runs spill to temporary files past a
    // memory budget, so memory stays bounded however many there are.
    let mut spool = Spool::new(spool_opts);
    let mut spool_error = None;
    // The spool's temporary directory, once it has one, is removed if the run is interrupted.
    let spool_prefix = stormwatch_report::own_spool_prefix();
    crate::cleanup::remember(&tmp_parent, &spool_prefix);
    crate::cleanup::install();
    let scan = Scan(detector.scanner());
    let mut changes = Vec::new();
    let mut detect_error = None;
    let stats = stormwatch_read::read_inspect(&inputs, &read_opts, &scan, &mut |_, found| {
        if detect_error.is_none()
            && let Err(e) = detector.absorb(found, &mut changes)
        {
            detect_error = Some(e);
            cancel.store(true, Ordering::Relaxed);
        }
        if spool_error.is_none()
            && let Err(e) = spool.extend(raised(&mut changes))
        {
            spool_error = Some(e);
            cancel.store(true, Ordering::Relaxed);
        }
        changes.clear();
    });
    // The bar is cleared before any error is said.
    progress.finish();
    let stats = stats.context("reading inputs")?;
    if let Some(e) = spool_error {
        return Err(e).context("collecting detections");
    }
    if let Some(e) = detect_error {
        return Err(e.into());
    }

    let finished = detector.finish(&mut changes)?;
    spool
        .extend(raised(&mut changes))
        .context("collecting detections")?;
    let mut notes = collected.summary_notes();
    notes.extend(finished.notes);
    let incidents = finished.incidents;
    if let (Some(store), Some(baseline)) = (store, &finished.baseline) {
        store
            .save_baseline(common::BASELINE_KEY, baseline)
            .context("saving baselines to the state store")?;
    }
    let counts = *spool.counts();
    let sorted = spool.finish().context("collecting detections")?;

    let warnings = stormwatch_report::input_warnings(&stats, &args.input.filters());
    let read_nothing = stats.records() == stats.files.iter().map(|f| f.filtered).sum::<u64>();
    let summary = HuntSummary {
        stats,
        rules_loaded,
        rule_errors,
        notes,
        warnings,
        min_level: args.min_level,
        elapsed: started.elapsed(),
        generated_at: Some(common::now()),
        builtin: !args.no_builtin,
    };
    if let Some(path) = &args.incidents_csv {
        let shown: Vec<_> = incidents
            .iter()
            .filter(|i| i.level >= args.min_level)
            .cloned()
            .collect();
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        stormwatch_report::write_incidents_csv(&mut f, &shown)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let mut out = args.output.open()?;
    let report_opts = ReportOptions {
        color: out.color,
        min_level: args.min_level,
        width: out.width,
        wide: args.wide,
        counts: Some(counts),
        rules: Some(sorted.rule_counts().clone()),
    };
    stormwatch_report::write_sorted_detections(
        &mut out.writer,
        args.format,
        sorted,
        &incidents,
        &summary,
        &report_opts,
    )
    .context("writing detections")?;
    // The detections are written, and their temporary files gone with them.
    crate::cleanup::forget(&tmp_parent, &spool_prefix);
    out.finish()?;
    if !args.output.quiet {
        let mut err = std::io::stderr().lock();
        stormwatch_report::write_summary_counts(&mut err, &summary, &counts)
            .context("writing the summary")?;
    } else {
        // Quiet leaves out the summary, not what makes the result doubtful.
        for w in &summary.warnings {
            eprintln!("stormwatch hunt: warning: {w}");
        }
    }

    // A run that read no record cannot pass a gate: nothing was checked.
    if args.fail_on.is_some() && read_nothing {
        return Ok(Exit::Usage.into());
    }
    let failed = args.fail_on.is_some_and(|min| counts.any_at_or_above(min));
    Ok(if failed { Exit::Findings } else { Exit::Ok }.into())
}
