//! Options and wiring shared by the subcommands that read audit logs.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use stormwatch_core::Timestamp;
use stormwatch_read::{Input, InputFormat, Progress, ReadOptions};

/// Input selection shared by `hunt` and `impact`.
#[derive(Debug, clap::Args)]
pub(crate) struct InputArgs {
    /// Files or directories (recursed) to read; `-` reads standard input. Plain, .gz or .zst.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<String>,

    /// Force the input format instead of detecting it per file.
    #[arg(long, value_name = "FORMAT")]
    pub(crate) input_format: Option<InputFormat>,

    /// Only records at or after this time (RFC 3339, or a date).
    #[arg(long, value_name = "TS")]
    pub(crate) since: Option<Timestamp>,

    /// Only records before this time.
    #[arg(long, value_name = "TS")]
    pub(crate) until: Option<Timestamp>,

    /// Only records of this tenant (repeatable): a tenant id, an organisation name, or a
    /// domain seen in the records (`agency.example`: the tenants whose users or mailboxes are
    /// in it).
    #[arg(long, value_name = "TENANT")]
    pub(crate) tenant: Vec<String>,

    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) threads: usize,
}

impl InputArgs {
    /// The filters given, for the warnings about what they left out.
    pub(crate) fn filters(&self) -> stormwatch_report::InputFilters {
        stormwatch_report::InputFilters {
            paths: self.paths.clone(),
            since: self.since,
            until: self.until,
            tenants: self.tenant.clone(),
        }
    }

    pub(crate) fn read_options(&self) -> anyhow::Result<ReadOptions> {
        if let (Some(s), Some(u)) = (self.since, self.until)
            && s >= u
        {
            bail!("--since {s} is not before --until {u}");
        }
        Ok(ReadOptions {
            format: self.input_format,
            threads: self.threads,
            since: self.since,
            until: self.until,
            tenants: self.tenant.clone(),
            ..ReadOptions::default()
        })
    }
}

/// The current time.
pub(crate) fn now() -> Timestamp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Timestamp::from_nanos(nanos)
}

/// Size the global thread pool.
pub(crate) fn init_threads(n: usize) -> anyhow::Result<()> {
    if n > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("starting the worker threads")?;
    }
    Ok(())
}

/// Turn the path arguments into reader inputs; a path that does not exist is a usage error.
pub(crate) fn inputs(paths: &[String]) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        if p == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(p);
        std::fs::metadata(&path).with_context(|| format!("cannot open input {p}"))?;
        out.push(Input::Path(path));
    }
    Ok(out)
}

/// Where the report goes.
#[derive(Debug, clap::Args)]
pub(crate) struct Output {
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub(crate) path: Option<PathBuf>,

    /// No progress bar and no summary on standard error (warnings are still said).
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,

    /// Colour in the terminal table: auto, always, never.
    #[arg(long, default_value = "auto", value_name = "WHEN")]
    pub(crate) color: ColorWhen,
}

/// When to colour.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// An opened output.
pub(crate) struct OpenOutput {
    pub(crate) writer: Box<dyn Write>,
    pub(crate) color: bool,
    /// Columns of the terminal it goes to (else `COLUMNS`, when set); `None` for a file.
    pub(crate) width: Option<usize>,
}

impl OpenOutput {
    pub(crate) fn finish(mut self) -> anyhow::Result<()> {
        self.writer.flush().context("writing the report")
    }
}

impl Output {
    pub(crate) fn open(&self) -> anyhow::Result<OpenOutput> {
        match &self.path {
            Some(p) => {
                let f =
                    File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
                Ok(OpenOutput {
                    writer: Box::new(BufWriter::new(f)),
                    color: matches!(self.color, ColorWhen::Always),
                    width: None,
                })
            }
            None => {
                let tty = std::io::stdout().is_terminal();
                let width = if tty {
                    console::Term::stdout()
                        .size_checked()
                        .map(|(_, cols)| usize::from(cols))
                } else {
                    None
                }
                .or_else(|| {
                    std::env::var("COLUMNS")
                        .ok()
                        .and_then(|c| c.trim().parse().ok())
                });
                Ok(OpenOutput {
                    writer: Box::new(BufWriter::new(std::io::stdout())),
                    color: match self.color {
                        ColorWhen::Always => true,
                        ColorWhen::Never => false,
                        ColorWhen::Auto => tty && std::env::var_os("NO_COLOR").is_none(),
                    },
                    width,
                })
            }
        }
    }
}

/// A loaded Sigma engine with what loading reported.
pub(crate) struct LoadedRules {
    pub(crate) engine: stormwatch_sigma::Engine,
    pub(crate) rules_loaded: usize,
    pub(crate) errors: Vec<String>,
}

/// Load the bundled ruleset (unless disabled) and every `--rules` path into one engine.
pub(crate) fn load_sigma(
    paths: &[PathBuf],
    bundled: bool,
    ignore_logsource: bool,
) -> anyhow::Result<LoadedRules> {
    let opts = stormwatch_sigma::EngineOptions {
        ignore_logsource,
        ..stormwatch_sigma::EngineOptions::default()
    };
    let mut sources: Vec<(String, String)> = Vec::new();
    if bundled {
        sources.extend(crate::bundled_rules());
    }
    for p in paths {
        std::fs::metadata(p).with_context(|| format!("cannot open rules {}", p.display()))?;
        collect_rule_files(p, &mut sources)?;
    }
    let (engine, errors) =
        stormwatch_sigma::Engine::from_sources(&sources, &opts).context("loading Sigma rules")?;
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    Ok(LoadedRules {
        rules_loaded: engine.rules().len(),
        engine,
        errors,
    })
}

pub(crate) fn collect_rule_files(p: &Path, out: &mut Vec<(String, String)>) -> anyhow::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("cannot list {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                collect_rule_files(&e, out)?;
            }
        }
    } else {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read rule file {}", p.display()))?;
        out.push((p.display().to_string(), text));
    }
    Ok(())
}

/// The key under which hunt keeps its analytics baseline in the state store.
pub(crate) const BASELINE_KEY: &str = "analytics";

/// The built-in analytics, with the state store they persist to.
pub(crate) struct BuiltAnalytics {
    pub(crate) analytics: stormwatch_analytics::Analytics,
    pub(crate) store: Option<stormwatch_store::Store>,
}

/// Build the analytics from the command-line files.
pub(crate) fn build_analytics(
    config: Option<&Path>,
    iocs: &[PathBuf],
    watchlist: Option<&Path>,
    asn_db: Option<&Path>,
    state: Option<&Path>,
) -> anyhow::Result<BuiltAnalytics> {
    let config = match config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read analytics config {}", p.display()))?;
            stormwatch_analytics::AnalyticsConfig::from_toml_str(&text)
                .with_context(|| format!("analytics config {}", p.display()))?
        }
        None => stormwatch_analytics::AnalyticsConfig::default(),
    };
    let ioc_set = load_iocs(iocs)?;
    let watch = match watchlist {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read watchlist {}", p.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let asn = match asn_db {
        Some(p) => Some(
            stormwatch_analytics::AsnDb::load(p)
                .with_context(|| format!("ASN data {}", p.display()))?,
        ),
        None => None,
    };
    let mut analytics = stormwatch_analytics::Analytics::new(
        config,
        ioc_set,
        stormwatch_analytics::AppCatalog::builtin(),
        asn,
        watch,
    );
    let store = match state {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create state directory {}", dir.display()))?;
            let store = stormwatch_store::Store::open(dir)
                .with_context(|| format!("opening the state store in {}", dir.display()))?;
            // An empty state still keeps this run's baseline for the next one.
            let snapshot = store
                .load_baseline(BASELINE_KEY)
                .context("loading baselines from the state store")?
                .unwrap_or_else(stormwatch_analytics::BaselineSnapshot::new);
            analytics = analytics.with_baseline(snapshot);
            Some(store)
        }
        None => None,
    };
    Ok(BuiltAnalytics { analytics, store })
}

/// The built-in Storm-0558 indicators plus the user's files.
pub(crate) fn load_iocs(paths: &[PathBuf]) -> anyhow::Result<stormwatch_analytics::IocSet> {
    let mut set = stormwatch_analytics::IocSet::builtin_storm_0558();
    for p in paths {
        let more = stormwatch_analytics::IocSet::load(p)
            .with_context(|| format!("indicators {}", p.display()))?;
        set.merge(more);
    }
    Ok(set)
}

/// A progress line on standard error while reading, when it is a terminal.
pub(crate) struct ProgressBar {
    done: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl ProgressBar {
    /// Start drawing, unless quiet or standard error is not a terminal. Attaches a
    /// [`Progress`] to the read options.
    pub(crate) fn start(opts: &ReadOptions, quiet: bool) -> ProgressBar {
        let done = Arc::new(AtomicBool::new(false));
        let Some(progress) = opts.progress.clone() else {
            return ProgressBar { done, handle: None };
        };
        if quiet || !std::io::stderr().is_terminal() {
            return ProgressBar { done, handle: None };
        }
        let flag = Arc::clone(&done);
        let handle = std::thread::spawn(move || draw(&progress, &flag));
        ProgressBar {
            done,
            handle: Some(handle),
        }
    }

    /// Stop drawing and clear the line.
    pub(crate) fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Attach a progress counter to read options when a bar will be drawn.
pub(crate) fn with_progress(mut opts: ReadOptions, quiet: bool) -> ReadOptions {
    if !quiet && std::io::stderr().is_terminal() {
        opts.progress = Some(Arc::new(Progress::default()));
    }
    opts
}

fn draw(progress: &Progress, done: &AtomicBool) {
    let start = Instant::now();
    let bar = indicatif::ProgressBar::with_draw_target(
        None,
        indicatif::ProgressDrawTarget::stderr_with_hz(4),
    );
    let known = indicatif::ProgressStyle::with_template(
        "  {bar:24} {percent:>3}%  {bytes}/{total_bytes}  {binary_bytes_per_sec}  ETA {eta}  {wide_msg}",
    );
    let unknown = indicatif::ProgressStyle::with_template(
        "  {spinner} {bytes}  {binary_bytes_per_sec}  {wide_msg}",
    );
    let mut styled = None;
    while !done.load(Ordering::Relaxed) {
        let (files, bytes, records) = progress.snapshot();
        let total = progress.total();
        let want_known = total.is_some();
        if styled != Some(want_known) {
            let style = if want_known { &known } else { &unknown };
            if let Ok(style) = style {
                bar.set_style(style.clone());
            }
            styled = Some(want_known);
        }
        let secs = start.elapsed().as_secs_f64().max(0.001);
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let rate = (records as f64 / secs) as u64;
        let files_part = match total {
            // The file being read is the one after those finished.
            Some((n, _)) => format!("file {}/{n}", (files + 1).min(n)),
            None => format!("{files} files done"),
        };
        if let Some((_, b)) = total {
            bar.set_length(b.max(1));
        }
        bar.set_position(bytes);
        bar.set_message(format!("{files_part}  {records} records, {rate}/s"));
        std::thread::sleep(Duration::from_millis(250));
    }
    bar.finish_and_clear();
}
