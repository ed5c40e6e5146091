//! Throughput of `observe` + `finish` on synthetic events.
//!
//! `cargo bench -p stormwatch-analytics --bench throughput -- [EVENTS]` (default 3,000,000):
//! 2,000 mailboxes over 30 days, one session per mailbox and day backed by sign-ins, Outlook
//! and OWA reads, Bind and Sync. Prints
//! events/s for generation alone and for generation + observe, the finish time, the number of
//! detections and the peak resident memory.
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use stormwatch_analytics::{Analytics, AnalyticsConfig, AppCatalog, IocSet};

#[path = "synthetic.rs"]
mod synthetic;
use synthetic::{DAYS, MAILBOXES, base_event, fill, peak_rss_kb, pools};

fn main() {
    let total: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3_000_000);
    let p = pools();
    let mut ev = base_event();
    // Generation alone (the baseline to subtract).
    let t0 = Instant::now();
    let mut sink = 0u64;
    for n in 0..total {
        fill(&mut ev, &p, n, total);
        sink = sink.wrapping_add(ev.loc.line);
    }
    let gen_s = t0.elapsed().as_secs_f64();
    let mut a = Analytics::new(
        AnalyticsConfig::default(),
        IocSet::builtin_storm_0558(),
        AppCatalog::builtin(),
        None,
        vec![],
    );
    let t1 = Instant::now();
    for n in 0..total {
        fill(&mut ev, &p, n, total);
        a.observe(&ev);
    }
    let obs_s = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let out = a.finish();
    let fin_s = t2.elapsed().as_secs_f64();
    let per = |s: f64| total as f64 / s;
    println!("events: {total} ({MAILBOXES} mailboxes, {DAYS} days; sink {sink})");
    println!(
        "generation only:      {gen_s:.2} s ({:.0} events/s)",
        per(gen_s)
    );
    println!(
        "generation + observe: {obs_s:.2} s ({:.0} events/s)",
        per(obs_s)
    );
    println!(
        "observe alone (est.): {:.2} s ({:.0} events/s)",
        obs_s - gen_s,
        per((obs_s - gen_s).max(1e-9))
    );
    println!("finish:               {fin_s:.2} s");
    println!(
        "observe + finish:     {:.0} events/s (generation excluded)",
        per((obs_s - gen_s + fin_s).max(1e-9))
    );
    println!(
        "detections: {}, incidents: {}",
        out.detections.len(),
        out.incidents.len()
    );
    if let Some(kb) = peak_rss_kb() {
        println!("peak RSS: {} MB", kb / 1024);
    }
}
