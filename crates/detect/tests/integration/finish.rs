//! A finite input pushed in any order and finished gives one set of detections, with the same
//! ids, run after run.

use crate::util::{bundled_engine, example_events, run_to_end};

/// A deterministic shuffle (no randomness in the test's own outcome).
fn shuffled<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (seed % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

#[test]
fn the_example_gives_the_same_detections_and_ids_in_any_order() {
    let engine = bundled_engine();
    let events = example_events();
    let in_order: Vec<_> = events.iter().collect();
    let want = run_to_end(&engine, &in_order, true);
    assert!(want.len() > 500, "{} detections", want.len());
    // Both families are there: single-record Sigma rules and the analytics.
    assert!(want.values().any(|d| d.rule_id.starts_with("builtin/")));
    assert!(want.values().any(|d| !d.rule_id.starts_with("builtin/")));
    for seed in [1, 7, 2023] {
        let mut order = in_order.clone();
        shuffled(&mut order, seed);
        let got = run_to_end(&engine, &order, true);
        assert_eq!(got.len(), want.len(), "seed {seed}");
        assert!(got == want, "seed {seed}: detections differ");
    }
    // The same detections again in a fresh run: the same ids.
    let again = run_to_end(&engine, &in_order, true);
    assert!(again.keys().eq(want.keys()));
}

#[test]
fn every_detection_has_a_unique_id() {
    let engine = bundled_engine();
    let events = example_events();
    let all: Vec<_> = events.iter().collect();
    let store = run_to_end(&engine, &all, true);
    assert!(
        store
            .values()
            .all(|d| d.id.len() == 32 && d.id.bytes().all(|b| b.is_ascii_hexdigit()))
    );
    // Keys are the ids: no two detections were merged by an id collision.
    let mut raised = 0;
    let mut d = stormwatch_detect::Detector::new(
        engine,
        Some(crate::util::analytics()),
        stormwatch_detect::DetectorConfig::default(),
    )
    .unwrap();
    let mut changes = Vec::new();
    for ev in &events {
        d.push(ev, &mut changes).unwrap();
    }
    d.finish(&mut changes).unwrap();
    for c in &changes {
        if let stormwatch_detect::Change::Raise(_) = c {
            raised += 1;
        }
    }
    assert_eq!(raised, store.len());
}
