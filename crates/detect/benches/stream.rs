//! The detector driven as `serve` drives it: records pushed in batches of 1,000 with the
//! watermark advanced after each batch, over generated traffic of many weeks (so that the
//! horizon fills and state ages out). Prints records/s and, as the stream goes on, resident
//! memory and the detector's state, to show whether memory stays flat once the windows are
//! full.
//!
//! `cargo bench -p stormwatch-detect --bench stream` (10,000,000 records over 90 days;
//! `STREAM_RECORDS`, `STREAM_DAYS`, `STREAM_FILE` change that, `STREAM_ANALYTICS=0` runs the rules alone, `STREAM_EVERY` sets how
//! many records apart the state is printed and `STREAM_SNAPSHOTS=1` prints the snapshot's size there, `STREAM_PARTS=1` the analytics'
//! state by part, `STREAM_BACKGROUND=0` makes the analytics decide while the caller waits; the file is generated once with
//! stormwatch-gen, Graph sign-ins interleaved, and kept).
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use stormwatch_analytics::{Analytics, AnalyticsConfig, AppCatalog, IocSet};
use stormwatch_core::{Event, Timestamp};
use stormwatch_detect::{Change, Detector, DetectorConfig, Scanned, Scanner};
use stormwatch_sigma::{Engine, EngineOptions};

// The allocator of the stormwatch binary, so that memory figures are the service's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Scan(Scanner);

impl stormwatch_read::Inspect for Scan {
    type Out = Scanned;
    fn inspect(&self, event: &Event, parsed: Option<&sonic_rs::Value>, out: &mut Scanned) {
        self.0.scan(event, parsed, out);
    }
    fn keeps_events(&self) -> bool {
        false
    }
}

fn env_num(k: &str, default: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() {
    let records = env_num("STREAM_RECORDS", 10_000_000);
    let days = u32::try_from(env_num("STREAM_DAYS", 90)).unwrap_or(90);
    let file = std::env::var("STREAM_FILE").map_or_else(
        |_| workspace().join(format!("bench-data/stream-{records}-{days}d.ndjson.zst")),
        PathBuf::from,
    );
    if !file.exists() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let t = Instant::now();
        // UAL records; the sign-ins come on top, interleaved.
        // zstd: ten million records are 16 GB as text.
        let s = stormwatch_gen::volume::run(&stormwatch_gen::VolumeOptions {
            seed: 1,
            records: records * 2 / 3,
            out: file.with_extension(""),
            format: stormwatch_gen::Format::Ndjson,
            compression: stormwatch_gen::Compression::Zst,
            signins: stormwatch_gen::SigninsMode::Mixed,
            days,
        })
        .unwrap();
        println!(
            "generated {} UAL records and {} sign-ins over {days} days in {:.0} s",
            s.records,
            s.signins,
            t.elapsed().as_secs_f64()
        );
    }
    let bytes = std::fs::metadata(&file).unwrap().len();
    let (engine, errors) =
        Engine::from_paths(&[workspace().join("rules")], &EngineOptions::default()).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    let with_analytics = env_num("STREAM_ANALYTICS", 1) != 0;
    let analytics = with_analytics.then(|| {
        Analytics::new(
            AnalyticsConfig::default(),
            IocSet::builtin_storm_0558(),
            AppCatalog::builtin(),
            None,
            Vec::new(),
        )
    });
    // As serve runs it: the analytics decide at most every few seconds of wall time when
    // event time runs faster than the clock (a backlog; this whole benchmark).
    let interval = env_num("STREAM_DECIDE_MS", 5000);
    let share = env_num("STREAM_DECIDE_SHARE_PCT", 20);
    let config = DetectorConfig {
        min_decide_interval: std::time::Duration::from_millis(interval),
        decide_share: share as f32 / 100.0,
        background_decisions: env_num("STREAM_BACKGROUND", 1) != 0,
        ..DetectorConfig::default()
    };
    println!(
        "analytics decide at most every {interval} ms of wall time, and take at most {share}% of it"
    );
    let mut d = Detector::new(engine, analytics, config).unwrap();
    let scan = Scan(d.scanner());
    let opts = stormwatch_read::ReadOptions::default();
    let started = Instant::now();
    let mut seen = 0u64;
    let mut since_advance = 0u64;
    let mut newest: Option<Timestamp> = None;
    let mut changes: Vec<Change> = Vec::new();
    let (mut raised, mut withdrawn) = (0u64, 0u64);
    let every = env_num("STREAM_EVERY", 500_000);
    let snapshots = env_num("STREAM_SNAPSHOTS", 0) != 0;
    let parts = env_num("STREAM_PARTS", 0) != 0;
    let mut next_report = every;
    let mut samples: Vec<(u64, u64)> = Vec::new();
    // How long each advance held the caller (ms): what a record pushed meanwhile waits.
    let mut advances: Vec<f64> = Vec::new();
    println!(
        "{:>12} {:>8} {:>12} {:>9} {:>12} {:>11} {:>12} {:>12} {:>8} {:>8} {:>10}",
        "records",
        "secs",
        "records/s",
        "RSS MiB",
        "analytics MB",
        "baseline MB",
        "corr groups",
        "corr items",
        "open",
        "late",
        "watermark"
    );
    let stats = stormwatch_read::read_inspect(
        &[stormwatch_read::Input::Path(file.clone())],
        &opts,
        &scan,
        &mut |_, found| {
            let n = found.events();
            if let Some(t) = found.newest() {
                newest = newest.max(Some(t));
            }
            d.absorb(found, &mut changes).unwrap();
            seen += n;
            since_advance += n;
            if since_advance >= 1000 {
                since_advance = 0;
                if let Some(w) = newest {
                    let t = Instant::now();
                    d.advance(w, &mut changes).unwrap();
                    advances.push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
            for c in changes.drain(..) {
                match c {
                    Change::Raise(_) => raised += 1,
                    Change::Withdraw(_) => withdrawn += 1,
                    Change::Incident(_) | Change::IncidentGone { .. } => {}
                }
            }
            if seen >= next_report {
                next_report += every;
                let secs = started.elapsed().as_secs_f64();
                let size = d.state_size().unwrap();
                if parts && let Some(p) = d.analytics_parts().unwrap() {
                    let contexts = p.contexts;
                    let parts: Vec<String> = p
                        .parts
                        .iter()
                        .map(|(name, n)| format!("{name} {:.1}", *n as f64 / 1e6))
                        .collect();
                    println!("{contexts} contexts; MB: {}", parts.join(", "));
                }
                if snapshots {
                    d.settle(&mut changes).unwrap();
                    println!("snapshot {:.1} MB", d.snapshot().unwrap().len() as f64 / 1e6);
                }
                let rss = status_kb("VmRSS:");
                samples.push((seen, rss));
                println!(
                    "{seen:>12} {secs:>8.1} {:>12.0} {:>9} {:>12.1} {:>11.1} {:>12} {:>12} {:>8} {:>8} {:>10}",
                    seen as f64 / secs,
                    rss / 1024,
                    size.analytics_bytes as f64 / 1e6,
                    size.baseline_bytes as f64 / 1e6,
                    size.correlation_groups,
                    size.correlation_matches,
                    size.open_detections,
                    size.late_records,
                    newest.map_or_else(String::new, |t| t.to_string()[..10].to_owned()),
                );
            }
        },
    )
    .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let peak_streaming = status_kb("VmHWM:");
    d.settle(&mut changes).unwrap();
    let snap_t = Instant::now();
    let snap = d.snapshot().unwrap();
    let snap_secs = snap_t.elapsed().as_secs_f64();
    println!(
        "{} records ({} skipped), {:.1} MB in {secs:.1} s: {:.0} records/s, {:.0} MB/s; raised {raised}, withdrawn {withdrawn}",
        stats.records(),
        stats.skipped(),
        bytes as f64 / 1e6,
        seen as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    println!(
        "peak RSS while streaming {} MiB, with the snapshot {} MiB; snapshot {:.1} MB in {snap_secs:.2} s",
        peak_streaming / 1024,
        status_kb("VmHWM:") / 1024,
        snap.len() as f64 / 1e6
    );
    advances.sort_by(f64::total_cmp);
    let pick = |q: f64| advances[((advances.len() - 1) as f64 * q) as usize];
    if !advances.is_empty() {
        println!(
            "advance held the caller: p50 {:.2} ms, p99 {:.1} ms, max {:.0} ms ({} advances)",
            pick(0.5),
            pick(0.99),
            pick(1.0),
            advances.len()
        );
    }
    // Flatness: the stream in thirds. With the default 30-day horizon and 90 days of traffic,
    // the first third fills the windows; the second and third should then stay level.
    let third = |k: u64| {
        let (lo, hi) = (seen * k / 3, seen * (k + 1) / 3);
        let rss: Vec<u64> = samples
            .iter()
            .filter(|s| s.0 > lo && s.0 <= hi)
            .map(|s| s.1 / 1024)
            .collect();
        let min = rss.iter().copied().min().unwrap_or(0);
        let max = rss.iter().copied().max().unwrap_or(0);
        format!("{min}–{max}")
    };
    println!(
        "RSS MiB (lowest–highest sample) by third of the stream: {}, {}, {}",
        third(0),
        third(1),
        third(2)
    );
}
