//! The read loop: inputs in order, batches in order, records processed in parallel, events
//! handed to the sink in input order whatever the thread count.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use stormwatch_core::{Event, FileStats, InputStats};

use crate::error::ReadError;
use crate::frame::{self, Batch};
use crate::inspect::{Inspect, Nothing};
use crate::normalise::Shape;
use crate::options::ReadOptions;
use crate::process::{CsvCols, FileCtx, Filter, Processed, process_batch, widen_span};
use crate::source;

/// Read every input and call `sink` with batches of events, in input order then record
/// order, whatever the thread count. Bad records are counted and located in the returned
/// [`InputStats`]; only an input that cannot be opened at all stops the run.
///
/// # Errors
/// [`ReadError::Open`] for an input that cannot be opened (nothing after it is read),
/// [`ReadError::Threads`] if the worker pool cannot start.
pub fn read(
    inputs: &[crate::Input],
    opts: &ReadOptions,
    sink: &mut dyn FnMut(Vec<Event>),
) -> Result<InputStats, ReadError> {
    read_inspect(inputs, opts, &Nothing, &mut |events, ()| sink(events))
}

/// [`read`], with `inspect` called on every kept event on the reader's worker threads, while
/// the record's parse is at hand; the sink gets each run of events with what their
/// inspection made of them.
///
/// # Errors
/// As [`read`].
pub fn read_inspect<I: Inspect>(
    inputs: &[crate::Input],
    opts: &ReadOptions,
    inspect: &I,
    sink: &mut dyn FnMut(Vec<Event>, I::Out),
) -> Result<InputStats, ReadError> {
    let targets = source::expand(inputs)?;
    if let Some(p) = &opts.progress {
        let mut bytes = 0u64;
        for t in &targets {
            match t {
                source::Target::File(f) => {
                    bytes += std::fs::metadata(f).map_or(0, |m| m.len());
                }
                source::Target::Stdin => p.reads_stdin.store(true, Ordering::Relaxed),
            }
        }
        p.bytes_total.store(bytes, Ordering::Relaxed);
        p.files_total.store(targets.len() as u64, Ordering::Relaxed);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .thread_name(|i| format!("stormwatch-read-{i}"))
        .build()?;
    let resolved;
    let opts = match crate::tenants::resolve_domains(&targets, opts, &pool)? {
        Some(o) => {
            resolved = o;
            &resolved
        }
        None => opts,
    };
    let mut stats = InputStats::default();
    let stage = Stage::new(opts, &pool, inspect);
    for target in &targets {
        if opts.cancelled() {
            break;
        }
        let opened = source::open(target, &opts.limits, opts.progress.as_ref())?;
        stage.read_opened(opened, Arc::from(target.name()), &mut stats, sink);
    }
    Ok(stats)
}

/// [`read`] into one vector.
///
/// # Errors
/// As [`read`].
pub fn read_all(
    inputs: &[crate::Input],
    opts: &ReadOptions,
) -> Result<(Vec<Event>, InputStats), ReadError> {
    let mut all = Vec::new();
    let stats = read(inputs, opts, &mut |mut batch| all.append(&mut batch))?;
    Ok((all, stats))
}

/// Batches (and batch results) in flight between the pipeline stages.
const PIPELINE_DEPTH: usize = 2;

fn note_time(fs: &mut FileStats, t: Option<stormwatch_core::Timestamp>) {
    widen_span(&mut fs.first, &mut fs.last, t);
}

/// Read an in-memory input on the calling thread's pool.
pub(crate) fn read_in_memory(
    name: &str,
    bytes: Vec<u8>,
    opts: &ReadOptions,
) -> Result<(Vec<Event>, InputStats), ReadError> {
    let mut all = Vec::new();
    let stats = read_bytes_inspect(name, bytes, opts, &Nothing, &mut |mut b, ()| {
        all.append(&mut b);
    })?;
    Ok((all, stats))
}

/// [`crate::read_bytes`] with an [`Inspect`]: an in-memory input read as if it were a file
/// named `name`, `inspect` called on every kept event on the reader's worker threads while
/// its record's parse is at hand, the sink given each run of events (empty when the
/// inspector does not keep them) with what their inspection made of them, in input order.
///
/// # Errors
/// As [`read`] (only [`ReadError::Threads`] can occur).
pub fn read_bytes_inspect<I: Inspect>(
    name: &str,
    bytes: Vec<u8>,
    opts: &ReadOptions,
    inspect: &I,
    sink: &mut dyn FnMut(Vec<Event>, I::Out),
) -> Result<InputStats, ReadError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()?;
    let opened = source::open_reader(
        Box::new(std::io::Cursor::new(bytes)),
        name,
        &opts.limits,
        opts.progress.as_ref(),
    )?;
    let mut stats = InputStats::default();
    Stage::new(opts, &pool, inspect).read_opened(opened, Arc::from(name), &mut stats, sink);
    Ok(stats)
}

/// What reading every file of a run shares.
pub(crate) struct Stage<'a, I> {
    opts: &'a ReadOptions,
    filter: Filter,
    pool: &'a rayon::ThreadPool,
    inspect: &'a I,
}

impl<'a, I: Inspect> Stage<'a, I> {
    pub(crate) fn new(opts: &'a ReadOptions, pool: &'a rayon::ThreadPool, inspect: &'a I) -> Self {
        Stage {
            opts,
            filter: Filter::new(opts.since, opts.until, opts.tenants.clone()),
            pool,
            inspect,
        }
    }

    #[allow(clippy::too_many_lines)]
    pub(crate) fn read_opened(
        &self,
        opened: source::Opened,
        name: Arc<str>,
        stats: &mut InputStats,
        sink: &mut dyn FnMut(Vec<Event>, I::Out),
    ) {
        let Stage {
            opts,
            ref filter,
            pool,
            inspect,
        } = *self;
        let forced = opts.format.unwrap_or_default();
        let mut framer = frame::framer_for(opened.reader, forced, opts.limits);
        let mut fs = FileStats {
            file: name.to_string(),
            ..FileStats::default()
        };
        // The first batch is framed here: a CSV framer knows its header only after it.
        let first: Option<Batch> = framer.next_batch();
        let ctx = FileCtx {
            file: Arc::clone(&name),
            shape: Shape::from_format(forced),
            limits: opts.limits,
            csv: framer.header().map(CsvCols::new),
            filter: filter.clone(),
        };
        // Three stages overlap: a framer thread (reading, decompressing, cutting records) feeds
        // batches through a bounded channel to a thread that processes each batch on the pool,
        // whose results go, in order, to this thread for merging and the sink. The channels
        // hold at most PIPELINE_DEPTH batches each, so memory stays bounded.
        let framer_name = std::thread::scope(|scope| {
            let (batch_tx, batch_rx) = mpsc::sync_channel::<Batch>(PIPELINE_DEPTH);
            let (out_tx, out_rx) = mpsc::sync_channel::<Vec<Processed<I::Out>>>(PIPELINE_DEPTH);
            // Processed batches' buffers go back to the framer (as many as are in flight).
            let (spare_tx, spare_rx) = mpsc::channel::<Batch>();
            let framing = std::thread::Builder::new()
                .name("stormwatch-frame".to_owned())
                .spawn_scoped(scope, move || {
                    if let Some(b) = first
                        && batch_tx.send(b).is_ok()
                    {
                        loop {
                            while let Ok(spare) = spare_rx.try_recv() {
                                framer.recycle(spare);
                            }
                            if opts.cancelled() {
                                break;
                            }
                            let Some(b) = framer.next_batch() else { break };
                            if batch_tx.send(b).is_err() {
                                break;
                            }
                        }
                    }
                    framer
                });
            let ctx = &ctx;
            let processing = std::thread::Builder::new()
                .name("stormwatch-process".to_owned())
                .spawn_scoped(scope, move || {
                    for batch in batch_rx {
                        let outs = pool.install(|| process_batch(&batch, ctx, inspect));
                        let _ = spare_tx.send(batch);
                        if out_tx.send(outs).is_err() {
                            break;
                        }
                    }
                });
            let (framing, processing) = match (framing, processing) {
                (Ok(f), Ok(p)) => (f, p),
                (Err(e), _) | (_, Err(e)) => {
                    stats.push_error(file_error(
                        &name,
                        format!("could not start a reader thread: {e}"),
                    ));
                    return None;
                }
            };
            for done in out_rx.iter().flatten() {
                fs.records += done.records;
                fs.filtered += done.filtered;
                fs.skipped += done.skipped;
                fs.items_lost += done.items_lost;
                note_time(&mut fs, done.first);
                note_time(&mut fs, done.last);
                for e in done.errors {
                    stats.push_error(e);
                }
                done.coverage.merge_into(stats);
                if let Some(p) = &opts.progress {
                    p.records
                        .fetch_add(done.records + done.skipped, Ordering::Relaxed);
                }
                if !done.events.is_empty() || !inspect.keeps_events() {
                    sink(done.events, done.inspected);
                }
            }
            // A stage that panicked ended this file's records early: say so, located, rather
            // than report a short file as complete.
            let processed = processing.join().is_ok();
            let framer_name = framing.join().ok().map(|f| f.name());
            if !processed || framer_name.is_none() {
                stats.push_error(file_error(
                    &name,
                    format!(
                        "internal error in the {} stage: the records after the first {} of this \
                     file were not read",
                        if processed { "framing" } else { "processing" },
                        fs.records + fs.skipped
                    ),
                ));
            }
            framer_name
        });
        fs.format = format!(
            "{}{}",
            framer_name.unwrap_or("unreadable"),
            opened.compression.suffix()
        );
        fs.bytes = opened.bytes.load(Ordering::Relaxed);
        if let Some(p) = &opts.progress {
            p.files_done.fetch_add(1, Ordering::Relaxed);
        }
        stats.files.push(fs);
    }
}

/// An error about a whole file (line 0), not one of its records.
fn file_error(name: &Arc<str>, reason: String) -> stormwatch_core::RecordError {
    stormwatch_core::RecordError {
        loc: stormwatch_core::Location {
            file: Arc::clone(name),
            line: 0,
            record_id: None,
        },
        field: None,
        reason,
    }
}
