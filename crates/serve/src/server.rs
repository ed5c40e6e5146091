//! Wiring the service together: the store, the journal writer, the detector's thread, the
//! sinks, the folder watchers, retention and the HTTP server; and taking it apart in order on
//! shutdown (stop accepting, finish requests under way, make every accepted record durable,
//! let the detector take them all, checkpoint).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use stormwatch_store::{OpenOptions, Store};
use tokio::sync::{Notify, watch};

use crate::api::{AppState, Inner, Pool, app};
use crate::auth::FirstToken;
use crate::config::Config;
use crate::detect::{DetectorFactory, Live};
use crate::journal::{QUEUE, Writer};
use crate::metrics::Metrics;
use crate::pipeline::{Msg, Parts, Pipeline, SinkRoute, Timing};
use crate::sinks::{Sink, Wakers};
use crate::watch::Watcher;
use crate::{ServeError, ServeError as E};

/// What the service runs with.
pub struct Options {
    /// The configuration.
    pub config: Config,
    /// Builds the detector (rules, analytics, time settings).
    pub factory: DetectorFactory,
    /// What the detector is built from (rules, analytics settings, time settings): a
    /// checkpoint made with another fingerprint is not restored. See [`crate::fingerprint`].
    pub fingerprint: String,
    /// Reader threads for records read back from the journal (0: one per core).
    pub threads: usize,
}

/// The service is listening.
#[derive(Debug)]
pub struct Ready {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The admin token, when this start made it (first start).
    pub admin_token: Option<FirstToken>,
    /// The data folder.
    pub data_dir: PathBuf,
    /// The service's routes, to call without a socket (tests).
    pub router: axum::Router,
}

/// A service running on a thread of its own (for tests and embedding).
pub struct Handle {
    ready: Ready,
    stop: watch::Sender<bool>,
    thread: std::thread::JoinHandle<Result<(), ServeError>>,
}

impl Handle {
    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.ready.addr
    }

    /// The admin token made by this start, if it was the first.
    #[must_use]
    pub fn admin_token(&self) -> Option<&str> {
        self.ready.admin_token.as_ref().map(|t| t.token.as_str())
    }

    /// The service's routes over its running state, to call without a socket.
    pub fn router(&self) -> axum::Router {
        self.ready.router.clone()
    }

    /// Shut down as on SIGTERM and wait for it.
    ///
    /// # Errors
    /// What stopped the service, if it failed.
    pub fn stop(self) -> Result<(), ServeError> {
        let Handle {
            ready,
            stop,
            thread,
        } = self;
        drop(ready);
        let _ = stop.send(true);
        thread
            .join()
            .map_err(|_| ServeError::Stopped("service thread"))?
    }
}

/// Start the service on a thread of its own; returns once it listens.
///
/// # Errors
/// The service cannot start (store, detector, address).
pub fn start(opts: Options) -> Result<Handle, ServeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("stormwatch-serve".to_owned())
        .spawn(move || {
            run_until(opts, stop_rx, move |r| {
                let _ = ready_tx.send(r);
            })
        })
        .map_err(E::io("starting the service thread"))?;
    match ready_rx.recv() {
        Ok(ready) => Ok(Handle {
            ready,
            stop: stop_tx,
            thread,
        }),
        Err(_) => Err(thread
            .join()
            .map_err(|_| ServeError::Stopped("service thread"))?
            .err()
            .unwrap_or(ServeError::Stopped("service"))),
    }
}

/// Run in the foreground until SIGTERM or SIGINT; `on_ready` is called once listening.
///
/// # Errors
/// The service cannot start, or a part of it failed.
pub fn run(opts: Options, on_ready: impl FnOnce(Ready) + Send + 'static) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    run_with_signals(opts, stop_tx, stop_rx, on_ready)
}

fn run_with_signals(
    opts: Options,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
    on_ready: impl FnOnce(Ready) + Send + 'static,
) -> Result<(), ServeError> {
    let rt = runtime()?;
    rt.block_on(async move {
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!(message = "Shutting down: draining and checkpointing.");
            let _ = stop_tx.send(true);
        });
        serve(opts, stop_rx, on_ready).await
    })
}

fn run_until(
    opts: Options,
    stop: watch::Receiver<bool>,
    on_ready: impl FnOnce(Ready) + Send + 'static,
) -> Result<(), ServeError> {
    runtime()?.block_on(serve(opts, stop, on_ready))
}

fn runtime() -> Result<tokio::runtime::Runtime, ServeError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("stormwatch-http")
        .build()
        .map_err(E::io("starting the async runtime"))
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// How often the write-ahead log is copied into the database.
const WAL_CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// A write-ahead log longer than this (pages; 64 MiB of 4 KiB pages) is copied whole and
/// truncated, writers waiting meanwhile: under sustained ingest a passive checkpoint never
/// finishes and the log would otherwise grow as long as the ingest lasts.
const WAL_TRUNCATE_FRAMES: i64 = 16_384;

/// The process's one lock on writes (see [`OpenOptions::write_lock`]).
type Gate = Arc<std::sync::Mutex<()>>;

fn open(dir: &std::path::Path, cache_kib: Option<u32>, gate: &Gate) -> Result<Store, ServeError> {
    Ok(Store::open_with(
        dir,
        &OpenOptions {
            durable: true,
            cache_kib,
            write_lock: Some(Arc::clone(gate)),
            manual_wal_checkpoint: true,
        },
    )?)
}

fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>, ServeError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map_err(E::io(format!("starting the {name} thread")))
}

async fn join<T: Send + 'static>(h: std::thread::JoinHandle<T>) -> Option<T> {
    tokio::task::spawn_blocking(move || h.join().ok())
        .await
        .ok()
        .flatten()
}

#[allow(clippy::too_many_lines)]
async fn serve(
    opts: Options,
    mut stop: watch::Receiver<bool>,
    on_ready: impl FnOnce(Ready) + Send + 'static,
) -> Result<(), ServeError> {
    let Options {
        config,
        factory,
        fingerprint,
        threads,
    } = opts;
    let dir = config.data_dir.clone();
    std::fs::create_dir_all(&dir).map_err(E::io(format!("creating {}", dir.display())))?;
    let gate: Gate = Arc::default();
    let mut main = open(&dir, None, &gate)?;
    let admin_token = crate::auth::ensure_admin_token(&mut main, &dir)?;
    let metrics = Arc::new(Metrics::default());
    let in_flight = Arc::new(AtomicU64::new(0));

    // Sinks and how the detector's thread wakes them.
    let mut sinks = Vec::new();
    let mut wakers = Wakers::default();
    for s in &config.sinks {
        let wake = Arc::new(Notify::new());
        wakers.0.push(Arc::clone(&wake));
        sinks.push((Sink::new(s)?, s.common().clone(), wake));
    }
    let routes = config
        .sinks
        .iter()
        .map(|s| SinkRoute {
            name: s.common().name.clone(),
            min_level: s.common().min_level,
            withdrawals: s.common().withdrawals,
        })
        .collect();

    // The detector and its thread.
    let live = tokio::task::spawn_blocking(move || Live::build(factory))
        .await
        .map_err(|_| ServeError::Stopped("detector build"))??;
    let dashboard = crate::dashboard::Dash::new(live.rules(), config.tls.is_some());
    let pipeline = Pipeline::recover(Parts {
        store: open(&dir, Some(64 << 10), &gate)?,
        checkpoint_store: open(&dir, None, &gate)?,
        live,
        metrics: Arc::clone(&metrics),
        in_flight: Arc::clone(&in_flight),
        routes,
        sink_wake: wakers,
        fingerprint,
        timing: Timing {
            max_clock_skew: config.detect.max_clock_skew,
            clock_advance_after: config.detect.clock_advance_after,
            checkpoint_interval: config.detect.checkpoint_interval,
        },
        threads,
    })?;
    let scanner = pipeline.scanner();
    let (det_tx, det_rx) = std::sync::mpsc::sync_channel::<Msg>(64);
    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::channel::<ServeError>(1);
    let detector_thread = spawn("stormwatch-detect", move || {
        let r = pipeline.run(&det_rx);
        if let Err(e) = &r {
            tracing::error!(message = "The detector stopped.", error = %e);
            let _ = fatal_tx.blocking_send(ServeError::Stopped("detector"));
        }
        r
    })?;

    // The journal writer.
    let (journal_tx, journal_rx) = tokio::sync::mpsc::channel(QUEUE);
    let writer_store = open(&dir, Some(64 << 10), &gate)?;
    let batch_ids = Arc::new(crate::journal::Order::starting_at(
        writer_store.read().next_batch_id()?,
    ));
    let writer = Writer {
        store: writer_store,
        metrics: Arc::clone(&metrics),
        detector: det_tx.clone(),
        in_flight: Arc::clone(&in_flight),
        ids: Arc::clone(&batch_ids),
    };
    let writer_thread = spawn("stormwatch-journal", move || writer.run(journal_rx))?;

    // Sinks.
    let (sinks_stop_tx, sinks_stop_rx) = watch::channel(false);
    let mut sink_tasks = Vec::new();
    let mut sink_names = Vec::new();
    let mut sink_timeout = Duration::ZERO;
    for (sink, common, wake) in sinks {
        sink_names.push(common.name.clone());
        metrics.add_sink(&common.name);
        sink_timeout = sink_timeout.max(common.timeout);
        sink_tasks.push(tokio::spawn(crate::sinks::run(
            sink,
            common,
            open(&dir, None, &gate)?,
            Arc::clone(&metrics),
            wake,
            sinks_stop_rx.clone(),
        )));
    }

    // Folder watchers.
    let watch_stop = Arc::new(AtomicBool::new(false));
    let mut watchers = Vec::new();
    for w in &config.watch {
        std::fs::create_dir_all(&w.path)
            .map_err(E::io(format!("creating {}", w.path.display())))?;
        let watcher = Watcher::new(
            w.clone(),
            open(&dir, None, &gate)?,
            journal_tx.clone(),
            Arc::clone(&metrics),
            Arc::clone(&watch_stop),
            config.ingest.format,
        );
        watchers.push(spawn("stormwatch-watch", move || watcher.run())?);
    }

    // Retention.
    let retention = {
        let mut store = open(&dir, None, &gate)?;
        let r = config.retention.clone();
        let ingest = config.ingest.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(r.interval) => {}
                    _ = stop.changed() => return,
                }
                let (r2, i2) = (r.clone(), ingest.clone());
                let res = tokio::task::spawn_blocking(move || {
                    let out = crate::retention::prune(&mut store, &r2, &i2);
                    (store, out)
                })
                .await;
                match res {
                    Ok((s, out)) => {
                        store = s;
                        if let Err(e) = out {
                            tracing::error!(message = "Retention failed.", error = %e);
                        }
                    }
                    Err(_) => return,
                }
            }
        })
    };

    // The write-ahead log is copied into the database off the writers' path.
    let wal_stop = Arc::new(AtomicBool::new(false));
    let wal_thread = {
        let store = open(&dir, None, &gate)?;
        let stop = Arc::clone(&wal_stop);
        spawn("stormwatch-wal", move || {
            while !stop.load(Ordering::Relaxed) {
                match store.checkpoint_wal() {
                    Ok((frames, _)) if frames > WAL_TRUNCATE_FRAMES => {
                        let started = std::time::Instant::now();
                        match store.truncate_wal() {
                            Ok(done) => tracing::debug!(
                                message = "Write-ahead log truncated.",
                                frames,
                                done,
                                ms = crate::journal::millis_since(started)
                            ),
                            Err(e) => tracing::warn!(
                                message = "Write-ahead log truncation failed.",
                                error = %e
                            ),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(message = "Write-ahead log checkpoint failed.", error = %e);
                    }
                }
                std::thread::sleep(WAL_CHECKPOINT_EVERY);
            }
        })?
    };

    // HTTP.
    let tls = config
        .tls
        .as_ref()
        .map(crate::http::tls_acceptor)
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(E::io("reading the listening address"))?;
    let parse_slots = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let state = AppState(Arc::new(Inner {
        ingest: config.ingest.clone(),
        journal: journal_tx.clone(),
        batch_ids,
        scanner,
        detector: det_tx.clone(),
        metrics: Arc::clone(&metrics),
        pool: Pool::new(&dir, &gate),
        accepting: AtomicBool::new(true),
        parsing: tokio::sync::Semaphore::new(parse_slots),
        sinks: sink_names,
        dashboard,
    }));
    let (http_stop_tx, http_stop_rx) = watch::channel(false);
    let http = tokio::spawn(crate::http::serve(
        listener,
        app(state.clone()),
        config.ingest.max_connections,
        config.ingest.header_timeout,
        tls,
        http_stop_rx,
    ));
    tracing::info!(message = "Listening.", addr = %addr, data_dir = %dir.display());
    on_ready(Ready {
        addr,
        admin_token,
        data_dir: dir.clone(),
        router: app(state.clone()),
    });
    drop(main);

    // Run until asked to stop or a part fails.
    let mut failure = None;
    if !*stop.borrow() {
        tokio::select! {
            _ = stop.changed() => {}
            e = fatal_rx.recv() => failure = e,
        }
    }

    // Shut down in order.
    state.0.accepting.store(false, Ordering::Relaxed);
    let _ = http_stop_tx.send(true);
    let _ = http.await;
    watch_stop.store(true, Ordering::Relaxed);
    for w in watchers {
        join(w).await;
    }
    retention.abort();
    drop(state);
    let _ = journal_tx.send(crate::journal::JournalMsg::Close).await;
    drop(journal_tx);
    join(writer_thread).await;
    let (reply, done) = tokio::sync::oneshot::channel();
    let stopped = if det_tx.send(Msg::Stop(reply)).is_ok() {
        done.await.ok()
    } else {
        None
    };
    drop(det_tx);
    let detector_result = join(detector_thread).await;
    let _ = sinks_stop_tx.send(true);
    for t in sink_tasks {
        let _ = tokio::time::timeout(sink_timeout + Duration::from_secs(1), t).await;
    }
    wal_stop.store(true, Ordering::Relaxed);
    join(wal_thread).await;
    tracing::info!(message = "Stopped.");
    if let Some(e) = failure {
        return Err(e);
    }
    match (stopped, detector_result) {
        (Some(Err(e)), _) => Err(ServeError::Io {
            what: format!("the last checkpoint failed: {e}"),
            source: std::io::Error::other("checkpoint"),
        }),
        (_, Some(Err(e))) => Err(e),
        _ => Ok(()),
    }
}
