//! Loading the bundled rules and the example scenario, and running a detector over events.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stormwatch_analytics::{Analytics, AnalyticsConfig, AppCatalog, IocSet};
use stormwatch_core::{Detection, Event};
use stormwatch_detect::{Change, Detector, DetectorConfig};
use stormwatch_sigma::{Engine, EngineOptions};

pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's bundled ruleset (what `hunt` embeds).
pub(crate) fn bundled_engine() -> Engine {
    let (engine, errors) =
        Engine::from_paths(&[workspace().join("rules")], &EngineOptions::default()).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    engine
}

/// The built-in analytics with their defaults and the built-in Storm-0558 indicators.
pub(crate) fn analytics() -> Analytics {
    Analytics::new(
        AnalyticsConfig::default(),
        IocSet::builtin_storm_0558(),
        AppCatalog::builtin(),
        None,
        Vec::new(),
    )
}

/// Every event of the bundled example scenario, in file order.
pub(crate) fn example_events() -> Vec<Event> {
    let dir = workspace().join("examples/storm-0558");
    assert!(
        dir.is_dir(),
        "the example scenario is missing: {}",
        dir.display()
    );
    let (events, stats) = stormwatch_read::read_all(
        &[stormwatch_read::Input::Path(dir)],
        &stormwatch_read::ReadOptions::default(),
    )
    .unwrap();
    assert!(events.len() > 1000, "{} events", events.len());
    assert_eq!(stats.skipped(), 0);
    events
}

/// The events of a generated scenario (three tenants, decoys, a planted intrusion) of `days`
/// days with `staff` ordinary staff per tenant, in the reader's order (file by file).
pub(crate) fn generated_events(seed: u64, days: u32, staff: usize) -> Vec<Event> {
    let s = stormwatch_gen::Scenario::generate(&stormwatch_gen::ScenarioOptions {
        seed,
        staff_per_tenant: staff,
        days,
    });
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    s.write_example(&export, stormwatch_gen::Compression::None)
        .unwrap();
    let (events, stats) = stormwatch_read::read_all(
        &[stormwatch_read::Input::Path(export)],
        &stormwatch_read::ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(stats.skipped(), 0, "the generated export reads cleanly");
    events
}

/// The detections as a store keeps them: by id, raised ones replaced, withdrawn ones gone.
pub(crate) type Store = BTreeMap<String, Detection>;

pub(crate) fn apply(store: &mut Store, changes: &mut Vec<Change>) {
    for c in changes.drain(..) {
        match c {
            Change::Raise(a) => {
                store.insert(a.detection.id.clone(), a.detection);
            }
            Change::Withdraw(w) => {
                store.remove(&w.id);
            }
            Change::Incident(_) | Change::IncidentGone { .. } => {}
        }
    }
}

/// Push `events` in the given order and finish: what `hunt` does.
pub(crate) fn run_to_end(engine: &Engine, events: &[&Event], with_analytics: bool) -> Store {
    let mut d = Detector::new(
        engine.clone(),
        with_analytics.then(analytics),
        DetectorConfig::default(),
    )
    .unwrap();
    let mut store = Store::new();
    let mut changes = Vec::new();
    for ev in events {
        d.push(ev, &mut changes).unwrap();
        apply(&mut store, &mut changes);
    }
    d.finish(&mut changes).unwrap();
    apply(&mut store, &mut changes);
    store
}
