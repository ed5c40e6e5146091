//! Correlations decided as matches arrive: any arrival order within the lateness bound, with
//! the frontier advanced as a monitor advances it, and snapshots taken and restored anywhere,
//! end with exactly the detections of one pass over the matches in time order.

use std::collections::BTreeMap;

use proptest::prelude::*;
use stormwatch_core::{Detection, SourceKind, Timestamp};
use stormwatch_sigma::{CorrelationChanges, Correlator, Engine, EngineOptions};

use crate::util::ev_at;

const RULES: &str = "title: failed\nid: 0e95725d-7320-415d-80f7-004da920fc11\nname: failed_logon\nlogsource: {product: test}\ndetection:\n    sel:\n        action: fail\n    condition: sel\n---\ntitle: ok\nname: ok_logon\nlogsource: {product: test}\ndetection:\n    sel:\n        action: ok\n    condition: sel\n---\ntitle: brute\nname: brute\nid: 5b3c9a0e-0000-4000-8000-000000000001\ncorrelation:\n    type: event_count\n    rules: [failed_logon]\n    group-by: [user]\n    timespan: 60s\n    condition:\n        gte: 3\nlevel: high\n---\ntitle: spray\nid: 5b3c9a0e-0000-4000-8000-000000000002\ncorrelation:\n    type: value_count\n    rules: [failed_logon]\n    group-by: [user]\n    timespan: 120s\n    condition:\n        field: src\n        gte: 2\nlevel: medium\n---\ntitle: fail then ok\nid: 5b3c9a0e-0000-4000-8000-000000000003\ncorrelation:\n    type: temporal_ordered\n    rules: [failed_logon, ok_logon]\n    group-by: [user]\n    timespan: 90s\nlevel: high\n---\ntitle: volume\nid: 5b3c9a0e-0000-4000-8000-000000000004\ncorrelation:\n    type: value_sum\n    rules: [failed_logon, ok_logon]\n    group-by: [user]\n    timespan: 100s\n    condition:\n        field: bytes\n        gte: 20\nlevel: low\n---\ntitle: repeated brute\nid: 5b3c9a0e-0000-4000-8000-000000000005\ncorrelation:\n    type: event_count\n    rules: [brute]\n    group-by: [user]\n    timespan: 600s\n    condition:\n        gte: 2\nlevel: critical\n";

fn engine() -> Engine {
    let (e, errs) = Engine::from_sources(
        &[("stream.yml".into(), RULES.into())],
        &EngineOptions::default(),
    )
    .unwrap();
    assert!(errs.is_empty(), "{errs:?}");
    e
}

/// (seconds, ok?, user, bytes, src): one record; its line is its index in time order.
type Rec = (i64, bool, u8, u8, u8);

fn event(i: usize, r: &Rec) -> stormwatch_core::Event {
    let (t, ok, user, bytes, src) = *r;
    ev_at(
        SourceKind::Generic,
        &format!(
            r#"{{"action":"{}","user":"u{user}","bytes":{bytes},"src":"ip{src}"}}"#,
            if ok { "ok" } else { "fail" }
        ),
        t,
        i as u64 + 1,
    )
}

/// The detections as a store keeps them: by id.
type Store = BTreeMap<String, Detection>;

fn apply(store: &mut Store, changes: CorrelationChanges) {
    for id in changes.withdrawn {
        store.remove(&id);
    }
    for r in changes.raised {
        store.insert(r.detection.id.clone(), r.detection);
    }
}

/// One pass in time order, decided at the end (what `hunt` does).
fn reference(e: &Engine, recs: &[Rec]) -> Store {
    let mut c = e.correlator();
    for (i, r) in recs.iter().enumerate() {
        c.observe(&event(i, r), &[]);
    }
    c.finish().into_iter().map(|d| (d.id.clone(), d)).collect()
}

/// Records in `order` (indices into `recs`), the frontier advanced every `every` records to
/// the newest time seen minus `lateness`, with speculation; restored from a snapshot into a
/// fresh correlator at every index in `restore_at`.
fn streamed(
    e: &Engine,
    recs: &[Rec],
    order: &[usize],
    lateness: i64,
    every: usize,
    restore_at: &[usize],
) -> Store {
    let mut c: Correlator = e.correlator();
    let mut store = Store::new();
    let mut newest = i64::MIN;
    for (k, &i) in order.iter().enumerate() {
        if restore_at.contains(&k) {
            let bytes = c.snapshot().unwrap();
            c = e.correlator();
            c.restore(&bytes).unwrap();
        }
        let r = &recs[i];
        newest = newest.max(r.0);
        c.observe(&event(i, r), &[]);
        if (k + 1) % every == 0 {
            let mut ch = CorrelationChanges::default();
            c.advance(
                Timestamp::from_unix_seconds(newest - lateness),
                true,
                &mut ch,
            );
            apply(&mut store, ch);
        }
    }
    let mut ch = CorrelationChanges::default();
    c.advance(Timestamp::from_nanos(i64::MAX), false, &mut ch);
    assert!(ch.raised.iter().all(|r| r.settled));
    apply(&mut store, ch);
    store
}

fn recs_strategy() -> impl Strategy<Value = Vec<Rec>> {
    prop::collection::vec((0i64..900, any::<bool>(), 0u8..3, 0u8..12, 0u8..3), 1..70).prop_map(
        |mut v| {
            v.sort_by_key(|r| r.0);
            v
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Arrival order: each record is delayed by less than the lateness bound.
    #[test]
    fn any_arrival_order_within_lateness_gives_the_time_order_detections(
        recs in recs_strategy(),
        delays in prop::collection::vec(0i64..200, 70),
        every in 1usize..8,
    ) {
        let e = engine();
        let want = reference(&e, &recs);
        let lateness = 200;
        let mut order: Vec<usize> = (0..recs.len()).collect();
        order.sort_by_key(|&i| (recs[i].0 + delays[i], i));
        let got = streamed(&e, &recs, &order, lateness, every, &[]);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn snapshots_restored_anywhere_change_nothing(
        recs in recs_strategy(),
        delays in prop::collection::vec(0i64..200, 70),
        every in 1usize..8,
        cuts in prop::collection::vec(0usize..70, 0..5),
    ) {
        let e = engine();
        let lateness = 200;
        let mut order: Vec<usize> = (0..recs.len()).collect();
        order.sort_by_key(|&i| (recs[i].0 + delays[i], i));
        let want = streamed(&e, &recs, &order, lateness, every, &[]);
        let got = streamed(&e, &recs, &order, lateness, every, &cuts);
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(got, reference(&e, &recs));
    }
}

/// A record later than the bound is still counted: what it makes fire is marked late.
#[test]
fn records_beyond_the_lateness_bound_fire_late() {
    let e = engine();
    let mut c = e.correlator();
    let mut ch = CorrelationChanges::default();
    c.observe(&event(0, &(0, false, 1, 1, 0)), &[]);
    c.observe(&event(1, &(10, false, 1, 1, 0)), &[]);
    c.advance(Timestamp::from_unix_seconds(1000), true, &mut ch);
    assert!(ch.raised.is_empty());
    // Third failure of user 1 within the minute, but 990 s behind the frontier.
    c.observe(&event(2, &(20, false, 1, 1, 0)), &[]);
    let mut ch = CorrelationChanges::default();
    c.advance(Timestamp::from_unix_seconds(1001), true, &mut ch);
    let brute: Vec<_> = ch
        .raised
        .iter()
        .filter(|r| r.detection.rule_title == "brute")
        .collect();
    assert_eq!(brute.len(), 1, "{ch:?}");
    assert!(brute[0].late && brute[0].settled);
    assert_eq!(brute[0].detection.events.len(), 3);
}

/// A speculative detection that a record arriving out of order makes wrong is withdrawn,
/// and the right one raised.
#[test]
fn out_of_order_records_correct_speculative_detections() {
    let e = engine();
    let mut c = e.correlator();
    let mut store = Store::new();
    let step = |c: &mut Correlator, store: &mut Store, i: usize, r: Rec, w: i64| {
        c.observe(&event(i, &r), &[]);
        let mut ch = CorrelationChanges::default();
        c.advance(Timestamp::from_unix_seconds(w - 300), true, &mut ch);
        apply(store, ch);
    };
    // Three failures at 100, 110, 120: brute fires at 120 with its window starting at 100.
    step(&mut c, &mut store, 1, (100, false, 1, 1, 0), 100);
    step(&mut c, &mut store, 2, (110, false, 1, 1, 0), 110);
    step(&mut c, &mut store, 3, (120, false, 1, 1, 0), 120);
    let first: Vec<String> = store
        .values()
        .filter(|d| d.rule_title == "brute")
        .map(|d| d.id.clone())
        .collect();
    assert_eq!(first.len(), 1);
    // A failure at 90 arrives late but within the bound: brute now fires at 110 (90, 100,
    // 110), and the window restarts, so the one at 120 alone does not fire.
    step(&mut c, &mut store, 0, (90, false, 1, 1, 0), 130);
    let now: Vec<&Detection> = store.values().filter(|d| d.rule_title == "brute").collect();
    assert_eq!(now.len(), 1);
    assert_ne!(now[0].id, first[0]);
    assert_eq!(now[0].timestamp, Timestamp::from_unix_seconds(110));
    let recs = [
        (90, false, 1, 1, 0),
        (100, false, 1, 1, 0),
        (110, false, 1, 1, 0),
        (120, false, 1, 1, 0),
    ];
    // Lines as stepped above: 0 for the one at 90.
    let mut ch = CorrelationChanges::default();
    c.advance(Timestamp::from_nanos(i64::MAX), false, &mut ch);
    apply(&mut store, ch);
    assert_eq!(store, reference(&e, &recs));
}

/// Groups nothing can fire from any more are dropped, and the strings with them.
#[test]
fn stale_groups_are_evicted() {
    let e = engine();
    let mut c = e.correlator();
    for i in 0..2000u32 {
        let raw = format!(r#"{{"action":"fail","user":"user-{i}","bytes":1,"src":"s{i}"}}"#);
        c.observe(
            &ev_at(SourceKind::Generic, &raw, i64::from(i), u64::from(i)),
            &[],
        );
    }
    let mut ch = CorrelationChanges::default();
    c.advance(Timestamp::from_unix_seconds(1000), true, &mut ch);
    let (groups_before, _) = c.size();
    c.evict();
    let (groups_after, _) = c.size();
    // One user per second, each in a group of its own in the four correlations over
    // `failed_logon`. Kept: the 999 users after the frontier (their record still waits), and
    // per correlation those within its timespan before the frontier (60, 120, 90 and 100 s).
    assert_eq!(groups_before, 8000);
    assert_eq!(groups_after, 4 * 999 + 61 + 121 + 91 + 101);
    // What is left still decides as before.
    let bytes = c.snapshot().unwrap();
    let mut again = e.correlator();
    again.restore(&bytes).unwrap();
    assert_eq!(again.size(), c.size());
}

#[test]
fn corrupt_snapshots_are_errors() {
    let e = engine();
    let mut c = e.correlator();
    for i in 0..20 {
        c.observe(&event(i, &(i as i64 * 7, i % 3 == 0, 1, 3, 1)), &[]);
    }
    let good = c.snapshot().unwrap();
    let mut fresh = e.correlator();
    assert!(fresh.restore(&good[..good.len() / 2]).is_err());
    assert!(fresh.restore(b"SWCR\x09\0\0\0").is_err());
    assert!(fresh.restore(b"nope").is_err());
    let mut flipped = good.clone();
    for (i, b) in flipped.iter_mut().enumerate().skip(8) {
        if i % 5 == 0 {
            *b ^= 0x5a;
        }
    }
    let _ = fresh.restore(&flipped);
}
