//! Tenants made by the generator (`stormwatch-gen`), written in its export formats and read
//! back by the readers: the events the analytics see in a real run.

use stormwatch_core::Event;
use stormwatch_gen::{Compression, Scenario, ScenarioOptions};
use stormwatch_read::{Input, ReadOptions, read_all};

/// The events of a generated scenario (three tenants, decoys, a planted intrusion) of `days`
/// days with `staff` ordinary staff per tenant, in the reader's order (file by file).
pub(crate) fn events(seed: u64, days: u32, staff: usize) -> Vec<Event> {
    let s = Scenario::generate(&ScenarioOptions {
        seed,
        staff_per_tenant: staff,
        days,
    });
    let dir = tempfile::tempdir().unwrap();
    let example = dir.path().join("export");
    s.write_example(&example, Compression::None).unwrap();
    let (events, stats) = read_all(&[Input::Path(example)], &ReadOptions::default()).unwrap();
    assert_eq!(stats.skipped(), 0, "the generated export reads cleanly");
    events
}

/// The same events in time order (how a monitor receives them).
pub(crate) fn in_time_order(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by(|a, b| (a.time, &a.loc).cmp(&(b.time, &b.loc)));
    events
}
