//! The detector driven as a monitor drives it: records arrive out of order within the
//! lateness bound, the watermark moves every few records, snapshots are taken and restored.
//! The end state equals one pass in time order, ids included.

use std::time::Duration;

use proptest::prelude::*;
use stormwatch_core::Event;
use stormwatch_detect::{Change, Detector, DetectorConfig};
use stormwatch_sigma::Engine;

use crate::util::{Store, analytics, apply, bundled_engine, generated_events, run_to_end};

/// Settings of these runs: a horizon longer than the scenario (eviction has tests of its
/// own in the analytics: what it ages out is by design not what a run without it keeps).
fn config() -> DetectorConfig {
    DetectorConfig {
        horizon: Duration::from_secs(365 * 24 * 3600),
        ..DetectorConfig::default()
    }
}

const LATENESS_S: i64 = 12 * 3600;

/// Records in arrival `order`, the watermark moved to the newest time seen every `every`
/// records; restored from its own snapshot into a fresh detector at each index in `cuts`.
/// Returns the store and every change made, in order.
fn stream(
    engine: &Engine,
    events: &[Event],
    order: &[usize],
    every: usize,
    cuts: &[usize],
) -> (Store, Vec<Change>) {
    stream_in(&config(), engine, events, order, every, cuts)
}

/// [`stream`] with these settings; with background decisions, the decision under way is
/// settled before each snapshot (as a monitor does).
fn stream_in(
    cfg: &DetectorConfig,
    engine: &Engine,
    events: &[Event],
    order: &[usize],
    every: usize,
    cuts: &[usize],
) -> (Store, Vec<Change>) {
    let fresh = || Detector::new(engine.clone(), Some(analytics()), cfg.clone()).unwrap();
    let mut d = fresh();
    let mut store = Store::new();
    let mut log = Vec::new();
    let mut changes = Vec::new();
    let mut newest = None;
    for (k, &i) in order.iter().enumerate() {
        if cuts.contains(&k) {
            if d.deciding() {
                assert!(matches!(
                    d.snapshot(),
                    Err(stormwatch_detect::DetectError::Deciding)
                ));
            }
            d.settle(&mut changes).unwrap();
            let bytes = d.snapshot().unwrap();
            d = fresh();
            d.restore(&bytes).unwrap();
        }
        let ev = &events[i];
        newest = newest.max(ev.time);
        d.push(ev, &mut changes).unwrap();
        if (k + 1) % every == 0
            && let Some(w) = newest
        {
            d.advance(w, &mut changes).unwrap();
        }
        log.extend(changes.iter().cloned());
        apply(&mut store, &mut changes);
    }
    d.finish(&mut changes).unwrap();
    log.extend(changes.iter().cloned());
    apply(&mut store, &mut changes);
    (store, log)
}

/// The arrival order: each record delayed by `delays[i] % lateness`, ties in file order.
fn arrival(events: &[Event], delays: &[u32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    let key = |i: usize| {
        let t = events[i].time.map_or(0, |t| t.nanos() / 1_000_000_000);
        let d = i64::from(delays[i % delays.len()]) % LATENESS_S;
        (t + d, i)
    };
    order.sort_by_key(|&i| key(i));
    order
}

fn scenario() -> (Engine, Vec<Event>, Store) {
    let engine = bundled_engine();
    let events = generated_events(11, 20, 2);
    let all: Vec<&Event> = events.iter().collect();
    let want = run_to_end(&engine, &all, true);
    (engine, events, want)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn any_arrival_order_within_lateness_gives_the_time_order_detections(
        delays in prop::collection::vec(0u32..(12 * 3600), 64..200),
        every in prop::sample::select(vec![1usize, 50, 1000]),
    ) {
        let (engine, events, want) = scenario();
        let order = arrival(&events, &delays);
        let (got, log) = stream(&engine, &events, &order, every, &[]);
        prop_assert!(got.len() == want.len(), "{} detections, want {}", got.len(), want.len());
        prop_assert!(got == want, "the detections differ");
        // Detections were decided before the end: the monitor raised them as it went.
        let before_end = log.iter().filter(|c| matches!(c, Change::Raise(a) if a.detection.rule_id.starts_with("builtin/") && !a.settled)).count();
        prop_assert!(before_end > 0);
    }

    #[test]
    fn snapshots_at_any_point_change_nothing(
        delays in prop::collection::vec(0u32..(12 * 3600), 64..200),
        cuts in prop::collection::vec(0usize..20_000, 1..4),
    ) {
        let (engine, events, want) = scenario();
        let order = arrival(&events, &delays);
        let cuts: Vec<usize> = cuts.into_iter().map(|c| c % events.len()).collect();
        let (plain, plain_log) = stream(&engine, &events, &order, 50, &[]);
        let (resumed, resumed_log) = stream(&engine, &events, &order, 50, &cuts);
        // The same changes, in the same order: none missing, none repeated.
        let first = plain_log.iter().zip(&resumed_log).position(|(a, b)| a != b);
        prop_assert!(
            plain_log == resumed_log,
            "the changes differ after a restore at {cuts:?}: {} and {} changes, first difference at {first:?}: {:#?} / {:#?}",
            plain_log.len(),
            resumed_log.len(),
            first.map(|i| &plain_log[i]),
            first.map(|i| &resumed_log[i])
        );
        prop_assert!(resumed == plain);
        prop_assert!(resumed == want);
    }
}

/// Every detection raised is raised once (later raises of the same id are updates with
/// other content), and the single-record ones never change.
#[test]
fn raises_are_updates_never_repeats() {
    let (engine, events, _) = scenario();
    let order: Vec<usize> = (0..events.len()).collect();
    let (_, log) = stream(&engine, &events, &order, 100, &[]);
    let mut last: std::collections::HashMap<String, stormwatch_core::Detection> =
        std::collections::HashMap::new();
    for c in log {
        if let Change::Raise(a) = c {
            let before = last.insert(a.detection.id.clone(), a.detection.clone());
            if let Some(b) = before {
                assert!(
                    b != a.detection,
                    "{} raised twice unchanged",
                    a.detection.id
                );
                let single = !a.detection.rule_id.starts_with("builtin/")
                    && !a.detection.explanation.contains("correlation over");
                assert!(
                    !single,
                    "a single-record detection changed: {}",
                    a.detection.id
                );
            }
        }
    }
}

/// With the analytics deciding on their thread while records go on being taken (as
/// `serve` runs them), and snapshots taken between decisions: the same end state as one
/// pass in time order.
#[test]
fn background_decisions_give_the_time_order_detections() {
    let (engine, events, want) = scenario();
    let order = arrival(&events, DELAYS);
    let cfg = DetectorConfig {
        background_decisions: true,
        ..config()
    };
    let cuts = [events.len() / 3, events.len() * 2 / 3];
    let (got, log) = stream_in(&cfg, &engine, &events, &order, 20, &cuts);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the detections differ");
    let before_end = log
        .iter()
        .filter(|c| matches!(c, Change::Raise(a) if a.detection.rule_id.starts_with("builtin/") && !a.settled))
        .count();
    assert!(before_end > 0);
}

/// A restore renumbers the correlator's strings: what one advance raises still comes in the
/// same order (found by `snapshots_at_any_point_change_nothing`: two groups of the same
/// correlation raised in one advance, in another order after the restore).
#[test]
fn a_restore_keeps_the_order_of_what_one_advance_raises() {
    let (engine, events, _) = scenario();
    let order = arrival(&events, DELAYS);
    let (plain, plain_log) = stream(&engine, &events, &order, 50, &[]);
    let (resumed, resumed_log) = stream(&engine, &events, &order, 50, &[1301]);
    assert!(
        plain_log == resumed_log,
        "the changes differ after a restore"
    );
    assert!(plain == resumed);
}

const DELAYS: &[u32] = &[
    37042, 2327, 33479, 33885, 14250, 8063, 3633, 27615, 7988, 34432, 42391, 29830, 29947, 3601,
    12300, 17111, 21130, 8453, 29782, 6369, 9811, 31857, 6954, 17064, 16755, 19854, 30963, 11731,
    26360, 5345, 17268, 36157, 8934, 35710, 30240, 4948, 9872, 25703, 8595, 41025, 37881, 39133,
    33023, 34465, 3889, 21051, 26452, 28661, 26592, 6252, 31575, 4689, 41866, 30327, 27311, 29572,
    11490, 32050, 27687, 6494, 24784, 22435, 12816, 17805, 25804, 789, 19565, 2478, 4153, 29954,
    26069, 36039, 35475, 32928, 40426, 13159, 5018, 24569, 32046, 30416, 18560, 38319, 12526,
    31974, 30741, 2838, 20656, 16511, 8271, 36258, 16455, 22994, 31743, 39738, 10712, 26121, 29675,
    19894, 7715, 660, 815, 5972, 12745, 15423, 5183, 32218, 12070, 4393, 21472, 11676, 3301, 36916,
    26264, 5564, 26741, 15876, 21238, 12568, 41000, 27922, 7795, 25041, 42906, 29211, 8295, 6908,
    3165, 20972, 33694, 3021, 9490, 24570, 15750, 242, 30978, 14757, 36133, 34680, 35123, 33792,
    1254, 33092, 12746, 12469, 7961, 36159, 134, 6776, 40036, 1661, 6130, 9998,
];
