//! What a streaming client of the analytics pays: `evaluate` on a large folded state, the size
//! and time of `snapshot` / `restore`, `evict`, and `evaluate` once a day as the state grows.
//!
//! `cargo bench -p stormwatch-analytics --bench stream -- [EVENTS]` (default 3,000,000): the
//! synthetic events of the `throughput` bench (2,000 mailboxes over 30 days).
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use stormwatch_analytics::{Analytics, AnalyticsConfig, AppCatalog, IocSet};
use stormwatch_core::Timestamp;

#[path = "synthetic.rs"]
mod synthetic;
use synthetic::{DAYS, MAILBOXES, base_event, fill, peak_rss_kb, pools};

fn analytics() -> Analytics {
    Analytics::new(
        AnalyticsConfig::default(),
        IocSet::builtin_storm_0558(),
        AppCatalog::builtin(),
        None,
        vec![],
    )
}

fn mb(b: usize) -> f64 {
    b as f64 / 1e6
}

fn main() {
    let total: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3_000_000);
    let p = pools();
    let mut ev = base_event();
    println!("events: {total} ({MAILBOXES} mailboxes, {DAYS} days)");

    // Once a day (as a monitor might decide): evaluate over everything folded so far.
    let mut a = analytics();
    let per_day = total / DAYS;
    let mut evals = Vec::new();
    let t0 = Instant::now();
    let mut newest = Timestamp::from_nanos(0);
    for n in 0..total {
        fill(&mut ev, &p, n, total);
        newest = newest.max(ev.time.unwrap());
        a.observe(&ev);
        if (n + 1) % per_day == 0 && n + 1 < total {
            let t = Instant::now();
            let out = a.evaluate();
            evals.push((t.elapsed().as_secs_f64(), out.detections.len()));
        }
    }
    let fold_and_daily = t0.elapsed().as_secs_f64();
    let daily: f64 = evals.iter().map(|e| e.0).sum();
    println!(
        "fold + {} daily evaluates: {fold_and_daily:.2} s, of which evaluate {daily:.2} s (first {:.3} s, last {:.3} s)",
        evals.len(),
        evals.first().map_or(0.0, |e| e.0),
        evals.last().map_or(0.0, |e| e.0)
    );
    println!("state_bytes: {:.1} MB", mb(a.state_bytes()));

    // The full state.
    let t = Instant::now();
    let first = a.evaluate();
    let e1 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let second = a.evaluate();
    let e2 = t.elapsed().as_secs_f64();
    assert_eq!(first, second);
    println!(
        "evaluate (full state): {e1:.3} s, again: {e2:.3} s ({} detections, {} incidents)",
        first.detections.len(),
        first.incidents.len()
    );
    let t = Instant::now();
    let b = a.baseline();
    println!(
        "baseline: {:.3} s ({} mailboxes)",
        t.elapsed().as_secs_f64(),
        b.mailboxes.len()
    );

    // Snapshot and restore.
    let t = Instant::now();
    let bytes = a.snapshot().unwrap();
    let snap_s = t.elapsed().as_secs_f64();
    println!(
        "snapshot: {snap_s:.3} s, {:.1} MB ({:.1} bytes per event, {:.0} MB/s)",
        mb(bytes.len()),
        bytes.len() as f64 / total as f64,
        mb(bytes.len()) / snap_s
    );
    let mut r = analytics();
    let t = Instant::now();
    r.restore(&bytes).unwrap();
    let restore_s = t.elapsed().as_secs_f64();
    println!(
        "restore: {restore_s:.3} s ({:.0} MB/s); restored state_bytes {:.1} MB",
        mb(bytes.len()) / restore_s,
        mb(r.state_bytes())
    );
    assert_eq!(r.snapshot().unwrap(), bytes, "restored state differs");
    assert_eq!(r.evaluate(), first, "restored answers differ");
    println!("restored: same snapshot bytes, same evaluate output");
    drop(r);

    // Age out the first 20 days.
    let before = newest.add_seconds(-10 * 86_400);
    let t = Instant::now();
    let st = a.evict(before);
    println!(
        "evict (all but the last 10 days): {:.3} s: {} of {} contexts, {} sign-in entries, {} → {} strings; state {:.1} → {:.1} MB",
        t.elapsed().as_secs_f64(),
        st.contexts,
        st.contexts + st.contexts_kept,
        st.sign_in_entries,
        st.strings_before,
        st.strings_after,
        mb(st.bytes_before),
        mb(st.bytes_after)
    );
    let t = Instant::now();
    let after = a.evaluate();
    println!(
        "evaluate after evict: {:.3} s ({} detections)",
        t.elapsed().as_secs_f64(),
        after.detections.len()
    );
    let t = Instant::now();
    let small = a.snapshot().unwrap();
    println!(
        "snapshot after evict: {:.3} s, {:.1} MB",
        t.elapsed().as_secs_f64(),
        mb(small.len())
    );
    if let Some(kb) = peak_rss_kb() {
        println!("peak RSS: {} MB", kb / 1024);
    }
}
