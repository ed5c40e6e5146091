//! A run that never advances (`hunt`) keeps its matches packed until its end: whatever order
//! they come in, and across a snapshot taken before the first advance, the detections are
//! those of the matches in time order, evidence and ids included.

use std::sync::Arc;

use proptest::prelude::*;
use stormwatch_core::{Detection, Event, Location, SourceKind, Timestamp};

use crate::{Engine, EngineOptions};

const RULES: &str = "title: failed\nid: 0e95725d-7320-415d-80f7-004da920fc11\nname: failed_logon\nlogsource: {product: test}\ndetection:\n    sel:\n        action: fail\n    condition: sel\n---\ntitle: ok\nname: ok_logon\nlogsource: {product: test}\ndetection:\n    sel:\n        action: ok\n    condition: sel\n---\ntitle: brute\nname: brute\nid: 5b3c9a0e-0000-4000-8000-000000000001\ncorrelation:\n    type: event_count\n    rules: [failed_logon]\n    group-by: [user]\n    timespan: 60s\n    condition:\n        gte: 3\nlevel: high\n---\ntitle: spray\nid: 5b3c9a0e-0000-4000-8000-000000000002\ncorrelation:\n    type: value_count\n    rules: [failed_logon]\n    group-by: [user]\n    timespan: 120s\n    condition:\n        field: src\n        gte: 2\nlevel: medium\n---\ntitle: fail then ok\nid: 5b3c9a0e-0000-4000-8000-000000000003\ncorrelation:\n    type: temporal_ordered\n    rules: [failed_logon, ok_logon]\n    group-by: [user]\n    timespan: 90s\nlevel: high\n---\ntitle: volume\nid: 5b3c9a0e-0000-4000-8000-000000000004\ncorrelation:\n    type: value_sum\n    rules: [failed_logon, ok_logon]\n    group-by: [user]\n    timespan: 100s\n    condition:\n        field: bytes\n        gte: 20\nlevel: low\n---\ntitle: median\nid: 5b3c9a0e-0000-4000-8000-000000000006\ncorrelation:\n    type: value_median\n    rules: [failed_logon]\n    group-by: [user]\n    timespan: 100s\n    condition:\n        field: bytes\n        gte: 6\nlevel: low\n---\ntitle: repeated brute\nid: 5b3c9a0e-0000-4000-8000-000000000005\ncorrelation:\n    type: event_count\n    rules: [brute]\n    group-by: [user]\n    timespan: 600s\n    condition:\n        gte: 2\nlevel: critical\n";

fn engine() -> Engine {
    let (e, errs) = Engine::from_sources(
        &[("stream.yml".into(), RULES.into())],
        &EngineOptions::default(),
    )
    .unwrap();
    assert!(errs.is_empty(), "{errs:?}");
    e
}

/// (milliseconds, ok?, user, bytes, src, file, id kind): one record.
type Rec = (i64, bool, u8, u8, u8, u8, u8);

const FILES: [&str; 3] = ["z.json", "a.json", "m/b.json"];

fn event(i: usize, r: &Rec) -> Event {
    let (ms, ok, user, bytes, src, file, id) = *r;
    let record_id = match id % 4 {
        0 => None,
        1 => Some(format!("6afe0cd6-c9b4-42eb-a3ed-{i:012x}")),
        2 => Some(format!("6AFE0CD6-C9B4-42EB-A3ED-{i:012X}")),
        _ => Some(format!("{}", 1000 - i)),
    };
    Event {
        source: SourceKind::Generic,
        raw: format!(
            r#"{{"action":"{}","user":"u{user}","bytes":{bytes},"src":"ip{src}"}}"#,
            if ok { "ok" } else { "fail" }
        ),
        time: Some(Timestamp::from_nanos(ms * 1_000_000)),
        loc: Location {
            file: Arc::from(FILES[usize::from(file) % FILES.len()]),
            line: i as u64 + 1,
            record_id,
        },
        ..Event::default()
    }
}

/// Every record in `order`, never advanced, then finished.
fn hunt(e: &Engine, recs: &[Rec], order: &[usize]) -> Vec<Detection> {
    let mut c = e.correlator();
    for &i in order {
        c.observe(&event(i, &recs[i]), &[]);
    }
    c.finish()
}

fn recs_strategy() -> impl Strategy<Value = Vec<Rec>> {
    // Whole seconds mostly, some milliseconds apart.
    let ms = prop_oneof![(0i64..600).prop_map(|s| s * 1000), 0i64..600_000];
    prop::collection::vec(
        (ms, any::<bool>(), 0u8..3, 0u8..12, 0u8..3, 0u8..3, 0u8..4),
        1..80,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn matches_kept_until_the_end_decide_as_in_time_order(
        recs in recs_strategy(),
        keys in prop::collection::vec(any::<u32>(), 80),
    ) {
        let e = engine();
        let mut in_time: Vec<usize> = (0..recs.len()).collect();
        in_time.sort_by_key(|&i| (recs[i].0, i));
        let mut shuffled: Vec<usize> = (0..recs.len()).collect();
        shuffled.sort_by_key(|&i| keys[i]);
        let want = hunt(&e, &recs, &in_time);
        prop_assert_eq!(hunt(&e, &recs, &shuffled), want);
    }

    #[test]
    fn a_snapshot_before_the_first_advance_keeps_every_match(
        recs in recs_strategy(),
        keys in prop::collection::vec(any::<u32>(), 80),
    ) {
        let e = engine();
        let mut order: Vec<usize> = (0..recs.len()).collect();
        order.sort_by_key(|&i| keys[i]);
        let mut c = e.correlator();
        for &i in &order {
            c.observe(&event(i, &recs[i]), &[]);
        }
        let bytes = c.snapshot().unwrap();
        let mut again = e.correlator();
        again.restore(&bytes).unwrap();
        prop_assert_eq!(again.size(), c.size());
        prop_assert_eq!(again.snapshot().unwrap(), bytes);
        prop_assert_eq!(again.finish(), c.finish());
    }
}

#[test]
fn every_match_is_counted_before_the_first_advance() {
    let e = engine();
    let mut c = e.correlator();
    let recs: Vec<Rec> = (0..10).map(|k| (k * 1000, false, 1, 3, 1, 0, 1)).collect();
    for (i, r) in recs.iter().enumerate() {
        c.observe(&event(i, r), &[]);
    }
    // One group per correlation over `failed_logon` (brute, spray, fail then ok, volume,
    // median), each holding the ten records.
    assert_eq!(c.size(), (5, 50));
    let d = c.finish();
    assert!(
        d.iter()
            .any(|d| d.rule_id == "5b3c9a0e-0000-4000-8000-000000000001")
    );
}
