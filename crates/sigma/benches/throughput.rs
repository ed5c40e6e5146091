//! Throughput of the Sigma engine.
//!
//! (a) SigmaHQ Windows rules (100 / 1,000 / 3,000 / all) over the regression events replicated
//!     to 1,000,000 events; (b) the SigmaHQ cloud rules (m365 + azure) over the corpus's M365
//!     UAL and Entra ID records replicated to 1,000,000 records. Two threads (rayon) over chunks.
//!
//! Run: `cargo bench -p stormwatch-sigma --bench throughput`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use sonic_rs::JsonValueTrait;
use stormwatch_core::{Event, SourceKind};
use stormwatch_sigma::{Engine, EngineOptions};

/// The workspace's test data (SigmaHQ rules and regression events, public M365 and Entra ID
/// samples; see `testdata/PROVENANCE.md`).
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata");

fn walk(d: &Path, out: &mut Vec<PathBuf>, ext: &[&str]) {
    let Ok(rd) = std::fs::read_dir(d) else { return };
    let mut es: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
    es.sort();
    for e in es {
        if e.is_dir() {
            walk(&e, out, ext);
        } else if e
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| ext.contains(&x))
        {
            out.push(e);
        }
    }
}

fn docs(path: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
        match v {
            Ok(serde_json::Value::Array(a)) => out.extend(a),
            Ok(serde_json::Value::Object(mut o)) => {
                if let Some(serde_json::Value::Array(a)) =
                    o.remove("value").or_else(|| o.remove("records"))
                {
                    out.extend(a);
                } else {
                    out.push(serde_json::Value::Object(o));
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    out
}

/// CPU seconds used by this process so far (user + system), from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn run(name: &str, engine: &Engine, base: &[Event], total: usize) {
    let bytes_per_round: usize = base.iter().map(|e| e.raw.len()).sum();
    let rounds = total.div_ceil(base.len());
    let events: Vec<&Event> = (0..rounds).flat_map(|_| base.iter()).take(total).collect();
    let bytes = bytes_per_round as f64 * total as f64 / base.len() as f64;
    let t = Instant::now();
    let c0 = cpu_seconds();
    let hits: usize = events
        .par_chunks(4096)
        .map(|chunk| {
            let mut out = Vec::new();
            let mut n = 0;
            for ev in chunk {
                engine.scan(ev, &mut out);
                n += out.len();
                out.clear();
            }
            n
        })
        .sum();
    let s = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    println!(
        "{name}: {total} events in {s:.3} s wall = {:.0} events/s, {:.0} MB/s; {cpu:.2} CPU-s = {:.0} events per CPU-second; {hits} detections",
        total as f64 / s,
        bytes / s / 1e6,
        total as f64 / cpu.max(0.01)
    );
}

fn main() {
    assert!(
        Path::new(CORPUS).join("sigma-rules").is_dir(),
        "test data missing: {CORPUS}"
    );
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .unwrap();
    let total: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);

    // BENCH_ONLY=cloud or BENCH_ONLY=windows runs one workload.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only != "cloud" {
        windows(total);
    }
    if only != "windows" {
        cloud(total);
    }
}

fn windows(total: usize) {
    // (a) Windows.
    let mut files = Vec::new();
    for d in [
        "rules/windows",
        "rules-emerging-threats",
        "rules-threat-hunting/windows",
    ] {
        walk(
            &Path::new(CORPUS).join("sigma-rules").join(d),
            &mut files,
            &["yml"],
        );
    }
    let sources: Vec<(String, String)> = files
        .iter()
        .filter_map(|f| {
            let t = std::fs::read_to_string(f).ok()?;
            t.contains("product: windows")
                .then(|| (f.display().to_string(), t))
        })
        .collect();
    let mut evfiles = Vec::new();
    walk(
        &Path::new(CORPUS).join("sigma-rules/regression_data"),
        &mut evfiles,
        &["json"],
    );
    let win: Vec<Event> = evfiles
        .iter()
        .flat_map(|f| docs(f))
        .map(|d| Event {
            source: SourceKind::WindowsEvent,
            raw: d.to_string(),
            ..Event::default()
        })
        .collect();
    println!(
        "windows: {} rule files, {} base events",
        sources.len(),
        win.len()
    );
    let t = Instant::now();
    let c0 = cpu_seconds();
    let mut n = 0usize;
    for _ in 0..(total / win.len() / 10).max(1) {
        for e in &win {
            let v: sonic_rs::Value = sonic_rs::from_str(&e.raw).unwrap();
            n += usize::from(v.is_object());
        }
    }
    println!(
        "  sonic-rs DOM parse only, one thread: {n} events in {:.3} s wall, {:.2} CPU-s",
        t.elapsed().as_secs_f64(),
        cpu_seconds() - c0
    );
    if std::env::var("BENCH_PROFILE").is_ok() {
        let mut costs: Vec<(f64, String)> = sources
            .iter()
            .map(|src| {
                let (e, _) =
                    Engine::from_sources(std::slice::from_ref(src), &EngineOptions::default())
                        .unwrap();
                let t = Instant::now();
                let mut out = Vec::new();
                for _ in 0..5 {
                    for ev in &win {
                        e.scan(ev, &mut out);
                    }
                }
                (
                    t.elapsed().as_secs_f64() / (5 * win.len()) as f64 * 1e6,
                    src.0.clone(),
                )
            })
            .collect();
        costs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let sum: f64 = costs.iter().map(|c| c.0).sum();
        println!("  per-rule cost (us/event, alone), total {sum:.1}:");
        for c in costs.iter().take(15) {
            println!("    {:.2} {}", c.0, c.1);
        }
        return;
    }
    // BENCH_RULES=100,all selects the rule counts (default: 100, 1000, 3000 and all).
    let counts: Vec<usize> = std::env::var("BENCH_RULES")
        .ok()
        .map(|s| {
            s.split(',')
                .filter_map(|x| {
                    if x == "all" {
                        Some(usize::MAX)
                    } else {
                        x.parse().ok()
                    }
                })
                .collect()
        })
        .unwrap_or_else(|| vec![100, 1000, 3000, usize::MAX]);
    for n in counts {
        let take = n.min(sources.len());
        let t = Instant::now();
        let (engine, errs) =
            Engine::from_sources(&sources[..take], &EngineOptions::default()).unwrap();
        println!(
            "  {} rules compiled ({} not loaded) in {:.2} s; {:?}",
            engine.stats().detection_rules,
            errs.len(),
            t.elapsed().as_secs_f64(),
            engine
                .stats()
                .groups
                .iter()
                .find(|g| g.0 == SourceKind::WindowsEvent)
        );
        run(
            &format!("  windows x{}", engine.stats().detection_rules),
            &engine,
            &win,
            total,
        );
        if take == sources.len() {
            return;
        }
    }
}

fn cloud(total: usize) {
    // (b) Cloud.
    let mut cloud_rules = Vec::new();
    for d in ["rules/cloud/m365", "rules/cloud/azure"] {
        walk(
            &Path::new(CORPUS).join("sigma-rules").join(d),
            &mut cloud_rules,
            &["yml"],
        );
    }
    // BENCH_PREFILTER=1: with the raw-text prefilter.
    let opts = EngineOptions {
        raw_prefilter: std::env::var("BENCH_PREFILTER").is_ok(),
        ..EngineOptions::default()
    };
    let (engine, errs) = Engine::from_paths(&cloud_rules, &opts).unwrap();
    let mut logs = Vec::new();
    for d in ["logs/m365-ual", "logs/entra-id"] {
        walk(
            &Path::new(CORPUS).join(d),
            &mut logs,
            &["json", "jsonl", "ndjson"],
        );
    }
    let cloud: Vec<Event> = logs
        .iter()
        .flat_map(|f| docs(f))
        .filter(|d| d.is_object())
        .map(|d| {
            if d.get("log").is_some_and(|l| l.is_object()) {
                d["log"].clone()
            } else {
                d
            }
        })
        .map(|d| {
            let source = if d.get("Workload").is_some() || d.get("RecordType").is_some() {
                SourceKind::Ual
            } else if d.get("createdDateTime").is_some()
                || d.get("category")
                    .and_then(|c| c.as_str())
                    .is_some_and(|c| c.contains("SignIn"))
            {
                SourceKind::EntraSignIn
            } else if d.get("activityDisplayName").is_some()
                || d.get("category").and_then(|c| c.as_str()) == Some("AuditLogs")
            {
                SourceKind::EntraAudit
            } else {
                SourceKind::Generic
            };
            Event {
                source,
                raw: d.to_string(),
                ..Event::default()
            }
        })
        .collect();
    println!(
        "cloud: {} rules ({} not loaded), {} base records, {:.0} bytes/record; {:?}",
        engine.stats().detection_rules,
        errs.len(),
        cloud.len(),
        cloud.iter().map(|e| e.raw.len()).sum::<usize>() as f64 / cloud.len().max(1) as f64,
        engine.stats().groups
    );
    run("  cloud", &engine, &cloud, total);
}
