//! Same answers whatever the input order.

use crate::scenario::run;
use crate::testkit::shuffle;
use crate::world::build;

#[test]
fn shuffled_and_reversed_input_give_identical_output() {
    let w = build();
    let base = run(&w.events);
    let base_json = serde_json::to_string(&base).unwrap();
    let mut rev = w.events.clone();
    rev.reverse();
    assert_eq!(
        serde_json::to_string(&run(&rev)).unwrap(),
        base_json,
        "newest-first input differs"
    );
    for seed in [1u64, 7, 42] {
        let mut ev = w.events.clone();
        shuffle(&mut ev, seed);
        let out = run(&ev);
        for (a, b) in out.detections.iter().zip(&base.detections) {
            assert_eq!(
                serde_json::to_string_pretty(a).unwrap(),
                serde_json::to_string_pretty(b).unwrap(),
                "seed {seed}"
            );
        }
        assert_eq!(out.detections, base.detections, "seed {seed}");
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            base_json,
            "seed {seed}"
        );
    }
}

#[test]
fn event_caps_keep_the_earliest_records_whatever_the_order() {
    use stormwatch_analytics::{Analytics, AnalyticsConfig, AppCatalog, IocSet};
    let w = build();
    let cfg = AnalyticsConfig {
        max_events_per_context: 3,
        ..AnalyticsConfig::default()
    };
    let go = |evs: &[stormwatch_core::Event]| {
        let mut a = Analytics::new(
            cfg.clone(),
            IocSet::builtin_storm_0558(),
            AppCatalog::builtin(),
            None,
            vec![],
        );
        evs.iter().for_each(|e| a.observe(e));
        a.finish()
    };
    let a = go(&w.events);
    let mut rev = w.events.clone();
    rev.reverse();
    let b = go(&rev);
    assert_eq!(a.detections, b.detections);
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("contexts had more than 3 records")),
        "{:?}",
        a.notes
    );
}

#[test]
fn batches_observed_on_other_threads_and_folded_in_any_order_give_identical_output() {
    use stormwatch_analytics::Observed;
    let w = build();
    let base_json = serde_json::to_string(&run(&w.events)).unwrap();
    let mut a = crate::scenario::default_analytics();
    let observer = a.observer();
    // Uneven runs of events, observed on two threads; the second half folded first.
    let chunks: Vec<&[stormwatch_core::Event]> = w.events.chunks(37).collect();
    let (left, right) = chunks.split_at(chunks.len() / 2);
    let observe_all = |runs: &[&[stormwatch_core::Event]]| -> Vec<Observed> {
        runs.iter()
            .map(|run| {
                let mut b = Observed::default();
                run.iter().for_each(|e| observer.observe(e, &mut b));
                b
            })
            .collect()
    };
    let (first, second) = std::thread::scope(|s| {
        let l = s.spawn(|| observe_all(left));
        let r = s.spawn(|| observe_all(right));
        (l.join().unwrap(), r.join().unwrap())
    });
    let observed: usize = first.iter().chain(&second).map(Observed::len).sum();
    assert_eq!(observed, w.events.len());
    for b in second.into_iter().chain(first) {
        a.fold(&b);
        // A recycled batch is filled again empty: what it held is not folded twice.
        observer.recycle(b);
    }
    let mut again = Observed::default();
    observer.observe(&w.events[0], &mut again);
    assert_eq!(again.len(), 1);
    assert_eq!(serde_json::to_string(&a.finish()).unwrap(), base_json);
}
