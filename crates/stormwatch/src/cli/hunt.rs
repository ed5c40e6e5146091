//! `stormwatch hunt`: read every input, run Sigma rules and the built-in analytics, report.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use stormwatch_analytics::{Analytics, Observed, Observer};
use stormwatch_core::{Detection, Event, Level};
use stormwatch_report::{DetectionFormat, HuntSummary, Spool, SpoolOptions};
use stormwatch_sigma::{Observation, Scanner};

use super::common::{self, InputArgs, Output};
use crate::exit::Exit;

/// Batches of observed events (up to a few hundred each) waiting for the analytics thread.
const ANALYTICS_QUEUE: usize = 16;

/// Arguments of `stormwatch hunt`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stormwatch hunt examples/storm-0558/
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

    /// Exit 1 when a detection at or above LEVEL is found.
    #[arg(long, value_name = "LEVEL")]
    fail_on: Option<Level>,

    /// Where to keep the temporary files that bound memory when there are many detections
    /// (default: the system's temporary directory); they are removed when the run ends.
    #[arg(long, value_name = "DIR")]
    tmp_dir: Option<PathBuf>,

    /// Sort detections into a temporary file once N are held in memory (testing; by default
    /// this happens past about 64 MiB of detections).
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

/// The Sigma rules, run on the reader's worker threads on each event while its record's parse
/// is at hand, and what the analytics keep of it, taken there too: the events themselves are
/// freed on the thread that made them.
struct RuleScan {
    scanner: Scanner,
    analytics: Option<Observer>,
}

/// What the rules made of a run of events: their detections, and one observation per event
/// (in order) for the correlator; and what the analytics keep of the events.
#[derive(Default)]
struct Scanned {
    detections: Vec<Detection>,
    observations: Vec<Observation>,
    analytics: Observed,
}

impl stormwatch_read::Inspect for RuleScan {
    type Out = Scanned;

    fn inspect(&self, event: &Event, parsed: Option<&sonic_rs::Value>, out: &mut Scanned) {
        let observed = self.scanner.scan(event, parsed, &mut out.detections);
        out.observations.push(observed);
        if let Some(a) = &self.analytics {
            a.observe(event, &mut out.analytics);
        }
    }

    fn keeps_events(&self) -> bool {
        false
    }
}

/// Have the spool's temporary directory removed if the run is interrupted, once it exists.
fn remember_spool_dir(spool: &Spool, known: &mut Option<PathBuf>) {
    if known.is_none()
        && let Some(dir) = spool.temp_dir()
    {
        crate::cleanup::remember(dir);
        *known = Some(dir.to_path_buf());
    }
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
    let mut correlator = engine.engine.correlator();

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

    // Runs killed outright (SIGKILL, out of memory) could not remove their temporary files.
    let spool_opts = SpoolOptions {
        tmp_dir: args.tmp_dir.clone(),
        max_held: args.spill_after.map(|n| n.max(1)),
        ..SpoolOptions::default()
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
    // The spool's temporary directory, once it has one: removed if the run is interrupted.
    let mut spool_dir = None;
    crate::cleanup::install();
    // What the analytics keep of each event is taken on the reader's workers; the analytics
    // fold it in, in input order, on a thread of their own fed through a bounded queue, while
    // the rules match the next events.
    let scoped = std::thread::scope(|scope| {
        let observer = analytics.as_ref().map(Analytics::observer);
        let (queue, worker) = match analytics {
            Some(mut a) => {
                let spare = a.observer();
                let (tx, rx) = std::sync::mpsc::sync_channel::<Observed>(ANALYTICS_QUEUE);
                let worker = std::thread::Builder::new()
                    .name("stormwatch-analytics".to_owned())
                    .spawn_scoped(scope, move || {
                        for batch in rx {
                            a.fold(&batch);
                            spare.recycle(batch);
                        }
                        a
                    })
                    .context("starting the analytics thread")?;
                (Some(tx), Some(worker))
            }
            None => (None, None),
        };
        let scan = RuleScan {
            scanner: engine.engine.scanner(&correlator),
            analytics: observer,
        };
        let stats = stormwatch_read::read_inspect(&inputs, &read_opts, &scan, &mut |_, found| {
            for observed in found.observations {
                correlator.record(observed);
            }
            if spool_error.is_none()
                && let Err(e) = spool.extend(found.detections)
            {
                spool_error = Some(e);
                cancel.store(true, Ordering::Relaxed);
            }
            remember_spool_dir(&spool, &mut spool_dir);
            // A closed queue means the thread ended early; joining it below says why.
            if let Some(q) = &queue
                && !found.analytics.is_empty()
            {
                let _ = q.send(found.analytics);
            }
        });
        drop(queue);
        let analytics = match worker.map(std::thread::ScopedJoinHandle::join) {
            Some(Ok(a)) => Some(a),
            Some(Err(_)) => anyhow::bail!("the built-in analytics stopped on an internal error"),
            None => None,
        };
        Ok((stats, analytics))
    });
    // The bar is cleared before any error is said.
    progress.finish();
    let (stats, analytics) = scoped?;
    let stats = stats.context("reading inputs")?;
    if let Some(e) = spool_error {
        return Err(e).context("collecting detections");
    }

    // The analytics decide while the correlations are evaluated.
    let (correlated, decided) = std::thread::scope(|scope| {
        let decided = analytics.map(|a| {
            std::thread::Builder::new()
                .name("stormwatch-analytics".to_owned())
                .spawn_scoped(scope, move || a.finish())
        });
        let correlated = correlator.finish();
        let decided = match decided {
            Some(Ok(worker)) => Some(worker.join()),
            Some(Err(e)) => return Err(e).context("starting the analytics thread"),
            None => None,
        };
        Ok((correlated, decided))
    })?;
    spool.extend(correlated).context("collecting detections")?;
    let mut notes = collected.summary_notes();
    let mut incidents = Vec::new();
    if let Some(decided) = decided {
        let Ok(out) = decided else {
            anyhow::bail!("the built-in analytics stopped on an internal error");
        };
        spool
            .extend(out.detections)
            .context("collecting detections")?;
        notes.extend(out.notes);
        incidents = out
            .incidents
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .context("serialising incidents")?;
        if let Some(store) = store {
            store
                .save_baseline(common::BASELINE_KEY, &out.baseline)
                .context("saving baselines to the state store")?;
        }
    }
    let counts = *spool.counts();
    remember_spool_dir(&spool, &mut spool_dir);
    let sorted = spool.finish().context("collecting detections")?;

    let summary = HuntSummary {
        stats,
        rules_loaded: engine.rules_loaded,
        rule_errors: engine.errors,
        notes,
        elapsed: started.elapsed(),
        generated_at: Some(common::now()),
        builtin: !args.no_builtin,
    };
    let mut out = args.output.open()?;
    stormwatch_report::write_sorted_detections(
        &mut out.writer,
        args.format,
        sorted,
        &incidents,
        &summary,
        out.color,
    )
    .context("writing detections")?;
    // The detections are written, and their temporary files gone with them.
    if let Some(dir) = &spool_dir {
        crate::cleanup::forget(dir);
    }
    out.finish()?;
    if !args.output.quiet {
        let mut err = std::io::stderr().lock();
        stormwatch_report::write_summary_counts(&mut err, &summary, &counts)
            .context("writing the summary")?;
    }

    let failed = args.fail_on.is_some_and(|min| counts.any_at_or_above(min));
    Ok(if failed { Exit::Findings } else { Exit::Ok }.into())
}
