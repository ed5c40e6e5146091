//! One run: plan the windows (this run's range and whatever earlier runs left unfinished),
//! collect every tenant and source concurrently, commit window by window, keep the manifest
//! up to date.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stormwatch_core::Timestamp;
use tokio::task::JoinSet;

use crate::auth::TokenSource;
use crate::collect::activity::{self, Subscription};
use crate::collect::window::{Settings, Tenant};
use crate::collect::{graph, purview};
use crate::error::CollectError;
use crate::http::Http;
use crate::manifest::{self, Manifest, Status};
use crate::options::{self, CollectOptions, Credential, TenantSpec};
use crate::plan::{self, Window};
use crate::progress::{Bar, Progress};
use crate::secret::Redactor;
use crate::source::{Api, Source};
use crate::store::Store;
use crate::store::journal::{Entry, RunEntry, RunSource, RunTenant};
use crate::store::spool::Spool;

/// How often the manifest is rewritten while a run goes on.
const MANIFEST_EVERY: Duration = Duration::from_secs(5);

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The manifest as written.
    pub manifest: Manifest,
    /// Where it was written (`OUT/manifest.json`).
    pub path: PathBuf,
}

/// Collect what `opts` asks for into `opts.out` and write its manifest.
///
/// Windows already complete in the folder are not asked again; windows earlier runs asked for
/// and did not complete are retried. Failures of the APIs do not stop the run: they are in the
/// manifest.
///
/// # Errors
/// [`CollectError`] for options that cannot work, an output folder that cannot be written or
/// whose state is damaged.
pub fn collect(opts: CollectOptions) -> Result<Outcome, CollectError> {
    check(&opts)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("stormwatch-collect")
        .build()
        .map_err(CollectError::Runtime)?;
    rt.block_on(run(opts))
}

fn check(opts: &CollectOptions) -> Result<(), CollectError> {
    let bad = |m: String| Err(CollectError::Invalid(m));
    if opts.tenants.is_empty() {
        return bad("no tenant to collect".to_owned());
    }
    if !(60..=86_400).contains(&opts.window_secs) {
        return bad(format!(
            "--window {}s: between 1 minute and 1 day (the Activity API lists at most 24 hours per request)",
            opts.window_secs
        ));
    }
    if !(3600..=31 * 86_400).contains(&opts.query_window_secs) {
        return bad(format!(
            "--query-window {}s: between 1 hour and 31 days",
            opts.query_window_secs
        ));
    }
    let mut seen = HashSet::new();
    for t in &opts.tenants {
        if !seen.insert(&t.tenant) {
            return bad(format!("tenant {} is given twice", t.tenant));
        }
    }
    Ok(())
}

fn worker(e: tokio::task::JoinError) -> CollectError {
    CollectError::Invalid(format!("a worker stopped: {e}"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CollectError> + Send + 'static,
) -> Result<T, CollectError> {
    tokio::task::spawn_blocking(f).await.map_err(worker)?
}

/// Rewrites the manifest now and then while the run goes on.
struct ManifestWriter {
    last: Mutex<Instant>,
}

impl ManifestWriter {
    async fn maybe(&self, store: &Arc<Store>) -> Result<(), CollectError> {
        let due = match self.last.lock() {
            Ok(mut l) if l.elapsed() >= MANIFEST_EVERY => {
                *l = Instant::now();
                true
            }
            _ => false,
        };
        if due {
            write_manifest(store).await?;
        }
        Ok(())
    }
}

async fn write_manifest(store: &Arc<Store>) -> Result<(Manifest, PathBuf), CollectError> {
    let s = Arc::clone(store);
    blocking(move || {
        let m = manifest::build(&s.entries(), options::now());
        let p = s.write_manifest(&m)?;
        Ok((m, p))
    })
    .await
}

/// The ranges this run asks of each source of a tenant.
fn run_sources(
    t: &TenantSpec,
    since: Timestamp,
    until: Timestamp,
    now: Timestamp,
) -> Vec<RunSource> {
    let mut sources: Vec<Source> = t.sources.sources.clone();
    if t.sources.auto_query && !sources.contains(&Source::AuditLogQuery) {
        sources.push(Source::AuditLogQuery);
    }
    sources
        .into_iter()
        .filter_map(|s| {
            let ranges = plan::ranges(s, since, until, now, t.sources.auto_query);
            (!ranges.is_empty()).then(|| RunSource {
                source: s.name().to_owned(),
                ranges,
            })
        })
        .collect()
}

async fn run(opts: CollectOptions) -> Result<Outcome, CollectError> {
    let now = options::now();
    let until = opts.until.unwrap_or(now).min(now);
    if opts.since >= until {
        return Err(CollectError::Invalid(format!(
            "--since {} is not before --until {until} (the end is never later than now)",
            opts.since
        )));
    }
    let out = opts.out.clone();
    let store = Arc::new(blocking(move || Store::open(&out)).await?);
    let entries = store.entries();
    let runs: Vec<&RunEntry> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Run(r) => Some(r),
            _ => None,
        })
        .collect();
    if let Some(first) = runs.first()
        && (first.window_secs != opts.window_secs
            || first.query_window_secs != opts.query_window_secs)
    {
        return Err(CollectError::Invalid(format!(
            "{} was collected with windows of {} s (Purview search {} s): use the same window lengths to continue it, or collect into another folder",
            opts.out.display(),
            first.window_secs,
            first.query_window_secs
        )));
    }
    let run_entry = RunEntry {
        run: u32::try_from(runs.len() + 1).unwrap_or(u32::MAX),
        started_at: now,
        since: opts.since,
        until,
        window_secs: opts.window_secs,
        query_window_secs: opts.query_window_secs,
        tenants: opts
            .tenants
            .iter()
            .map(|t| RunTenant {
                tenant: t.tenant.clone(),
                name: t.name.clone(),
                cloud: t.endpoints.cloud.name().to_owned(),
                sources: run_sources(t, opts.since, until, now),
            })
            .collect(),
    };
    {
        let s = Arc::clone(&store);
        blocking(move || s.note(Entry::Run(run_entry))).await?;
    }
    write_manifest(&store).await?;

    let no_proxy = opts.tenants.iter().all(|t| t.endpoints.all_loopback());
    let http = Arc::new(Http::new(
        opts.retry.clone(),
        opts.max_response_bytes,
        opts.concurrency,
        no_proxy,
    )?);
    let progress = Arc::new(Progress::new(opts.progress));
    let writer = Arc::new(ManifestWriter {
        last: Mutex::new(Instant::now()),
    });
    let settings = Settings {
        now,
        concurrency: opts.concurrency.max(1),
        poll: opts.poll.clone(),
        record_types: opts.record_types.clone(),
        settle_override: opts.settle_secs,
    };
    let mut tenants = JoinSet::new();
    for spec in opts.tenants {
        let redact = Redactor::default();
        if let Credential::Secret(s) = &spec.credential {
            redact.add(s.expose());
        }
        let cloud = spec.endpoints.cloud;
        let t = Arc::new(Tenant {
            manage: TokenSource::new(
                &spec.endpoints,
                &spec.tenant,
                &spec.client_id,
                &spec.credential,
                cloud.manage(),
            ),
            graph: TokenSource::new(
                &spec.endpoints,
                &spec.tenant,
                &spec.client_id,
                &spec.credential,
                cloud.graph(),
            ),
            spec,
            store: Arc::clone(&store),
            http: Arc::clone(&http),
            redact,
            settings: settings.clone(),
        });
        tenants.spawn(tenant(t, Arc::clone(&progress), Arc::clone(&writer)));
    }
    while let Some(r) = tenants.join_next().await {
        r.map_err(worker)??;
    }
    let (manifest, path) = write_manifest(&store).await?;
    Ok(Outcome { manifest, path })
}

/// The windows every run asked of one tenant, per source.
fn planned(entries: &[Entry], tenant: &str) -> BTreeMap<Source, BTreeSet<Window>> {
    let mut out: BTreeMap<Source, BTreeSet<Window>> = BTreeMap::new();
    for e in entries {
        let Entry::Run(r) = e else { continue };
        for t in r.tenants.iter().filter(|t| t.tenant == tenant) {
            for s in &t.sources {
                let Some(source) = Source::from_name(&s.source) else {
                    continue;
                };
                let step = if source.api() == Api::Purview {
                    r.query_window_secs
                } else {
                    r.window_secs
                };
                for (since, until) in &s.ranges {
                    out.entry(source)
                        .or_default()
                        .extend(plan::grid(*since, *until, step));
                }
            }
        }
    }
    out
}

async fn tenant(
    t: Arc<Tenant>,
    progress: Arc<Progress>,
    writer: Arc<ManifestWriter>,
) -> Result<(), CollectError> {
    let entries = t.store.entries();
    let tenant_id = t.spec.tenant.clone();
    let mut complete: HashSet<(Source, Window)> = HashSet::new();
    let mut queries: HashMap<Window, Option<String>> = HashMap::new();
    let mut earlier_subs: HashMap<Source, Timestamp> = HashMap::new();
    for e in &entries {
        match e {
            Entry::Window(w) if w.record.tenant == tenant_id => {
                if let Some(s) = Source::from_name(&w.record.source) {
                    let key = (
                        s,
                        Window {
                            from: w.record.from,
                            to: w.record.to,
                        },
                    );
                    if w.record.status == Status::Complete {
                        complete.insert(key);
                    } else {
                        complete.remove(&key);
                    }
                }
            }
            Entry::Query(q) if q.tenant == tenant_id => {
                queries.insert(
                    Window {
                        from: q.from,
                        to: q.to,
                    },
                    q.query_id.clone(),
                );
            }
            Entry::Subscription(s) if s.tenant == tenant_id => {
                if let Some(src) = Source::from_name(&s.source) {
                    earlier_subs.insert(src, s.started_at);
                }
            }
            _ => {}
        }
    }
    let pending: Vec<(Source, Vec<Window>)> = planned(&entries, &tenant_id)
        .into_iter()
        .map(|(s, ws)| {
            let left: Vec<Window> = ws
                .into_iter()
                .filter(|w| !complete.contains(&(s, *w)))
                .collect();
            (s, left)
        })
        .filter(|(_, ws)| !ws.is_empty())
        .collect();
    let activity_sources: Vec<Source> = pending
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| s.api() == Api::Activity)
        .collect();
    let subs = if activity_sources.is_empty() {
        HashMap::new()
    } else {
        activity::subscriptions(&t, &activity_sources, &earlier_subs).await?
    };
    let queries = Arc::new(queries);
    let mut set = JoinSet::new();
    for (source, windows) in pending {
        let bar = progress.bar(&tenant_id, source.name(), windows.len() as u64);
        let t2 = Arc::clone(&t);
        let w2 = Arc::clone(&writer);
        match source.api() {
            Api::Activity => {
                let sub = subs.get(&source).cloned().unwrap_or(Subscription::Failed(
                    "the subscription state is unknown".to_owned(),
                ));
                set.spawn(async move {
                    let mut fetched = HashSet::new();
                    let mut written = 0;
                    for w in windows {
                        let (spool, rec) =
                            activity::window(&t2, source, w, &sub, &mut fetched).await?;
                        written += rec.records_written;
                        commit(&t2, source, spool, rec, &w2).await?;
                        bar.window_done(written);
                    }
                    bar.finish();
                    Ok::<(), CollectError>(())
                });
            }
            Api::Graph => {
                set.spawn(async move {
                    let mut written = 0;
                    for w in windows {
                        let (spool, rec) = graph::window(&t2, source, w).await?;
                        written += rec.records_written;
                        commit(&t2, source, spool, rec, &w2).await?;
                        bar.window_done(written);
                    }
                    bar.finish();
                    Ok(())
                });
            }
            Api::Purview => {
                let q = Arc::clone(&queries);
                set.spawn(async move { purview_source(t2, windows, q, bar, w2).await });
            }
        }
    }
    while let Some(r) = set.join_next().await {
        r.map_err(worker)??;
    }
    Ok(())
}

/// Purview windows run a few at a time: a query takes minutes to run on Microsoft's side.
async fn purview_source(
    t: Arc<Tenant>,
    windows: Vec<Window>,
    queries: Arc<HashMap<Window, Option<String>>>,
    bar: Bar,
    writer: Arc<ManifestWriter>,
) -> Result<(), CollectError> {
    let limit = t.settings.poll.concurrent.max(1);
    let mut it = windows.into_iter();
    let mut running = JoinSet::new();
    let mut written = 0;
    loop {
        while running.len() < limit {
            let Some(w) = it.next() else { break };
            let t2 = Arc::clone(&t);
            let known = queries.get(&w).cloned().flatten();
            running.spawn(async move { purview::window(&t2, w, known).await });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let (spool, rec) = done.map_err(worker)??;
        written += rec.records_written;
        commit(&t, Source::AuditLogQuery, spool, rec, &writer).await?;
        bar.window_done(written);
    }
    bar.finish();
    Ok(())
}

async fn commit(
    t: &Tenant,
    source: Source,
    spool: Spool,
    rec: manifest::WindowRecord,
    writer: &ManifestWriter,
) -> Result<(), CollectError> {
    let store = Arc::clone(&t.store);
    blocking(move || store.commit(source, spool, rec)).await?;
    writer.maybe(&t.store).await
}
