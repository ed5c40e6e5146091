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
