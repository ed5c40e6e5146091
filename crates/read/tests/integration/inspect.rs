//! `read_inspect`: every kept event is inspected once, with the parse of its own record, and
//! what the inspection made of a run reaches the sink with that run's events, in order.

use std::sync::Mutex;

use stormwatch_core::Event;
use stormwatch_read::{Input, Inspect, ReadOptions, read_all, read_inspect};

use crate::util::ts;

/// Records, per event, its record id and whether `parsed` is the parse of `event.raw`
/// (`None`: no parse given).
struct Check {
    calls: Mutex<usize>,
}

impl Inspect for Check {
    type Out = Vec<(Option<String>, Option<bool>)>;

    fn inspect(&self, event: &Event, parsed: Option<&sonic_rs::Value>, out: &mut Self::Out) {
        let again: sonic_rs::Value = sonic_rs::from_str(&event.raw).unwrap();
        out.push((event.loc.record_id.clone(), parsed.map(|p| &again == p)));
        *self.calls.lock().unwrap() += 1;
    }
}

fn ual(i: u64) -> String {
    format!(
        r#"{{"CreationTime":"2023-06-{:02}T03:14:07","Id":"id-{i}","Operation":"MailItemsAccessed","RecordType":50,"UserId":"u@x","Workload":"Exchange"}}"#,
        10 + i % 5
    )
}

#[test]
fn kept_events_are_inspected_in_order_with_their_own_parse() {
    let dir = tempfile::tempdir().unwrap();
    // NDJSON with a bad line; records outside the time filter; a Graph page whose records are
    // expanded from one parsed object; a trailing comma repaired.
    let mut nd: String = (0..3000u64).map(|i| ual(i) + "\n").collect();
    nd.push_str("{not json\n");
    nd.push_str(&ual(3000).replace("\"Exchange\"}", "\"Exchange\",}"));
    nd.push('\n');
    std::fs::write(dir.path().join("a.ndjson"), nd).unwrap();
    let page = format!(
        r#"{{"value":[{},{}],"@odata.nextLink":"https://graph.example/next"}}"#,
        r#"{"id":"s-1","createdDateTime":"2023-06-12T03:14:07Z","userPrincipalName":"u@x","ipAddress":"10.0.0.1","appId":"a","status":{"errorCode":0}}"#,
        r#"{"id":"s-2","createdDateTime":"2023-06-12T04:14:07Z","userPrincipalName":"u@x","ipAddress":"10.0.0.2","appId":"a","status":{"errorCode":0}}"#
    );
    std::fs::write(dir.path().join("b.json"), page).unwrap();
    // Records whose event keeps an inner record as its raw text: a Graph audit query page and
    // a Defender CloudAppEvents row.
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/graph-audit-records.json"
        ),
        dir.path().join("c.json"),
    )
    .unwrap();
    let inner = ual(7).replace("id-7", "def-7");
    let defender = format!(
        r#"{{"Timestamp":"2023-06-12T03:14:07Z","ActionType":"MailItemsAccessed","AccountUpn":"u@x","RawEventData":{inner}}}"#
    );
    std::fs::write(dir.path().join("d.ndjson"), defender + "\n").unwrap();
    let opts = ReadOptions {
        since: Some(ts("2023-06-11T00:00:00Z")),
        ..ReadOptions::default()
    };
    let inputs = [Input::Path(dir.path().to_path_buf())];
    let check = Check {
        calls: Mutex::new(0),
    };
    let mut events = Vec::new();
    let mut inspected = Vec::new();
    let stats = read_inspect(&inputs, &opts, &check, &mut |mut evs, out| {
        assert_eq!(evs.len(), out.len(), "one inspection per event of the run");
        events.append(&mut evs);
        inspected.extend(out);
    })
    .unwrap();
    let (plain, plain_stats) = read_all(&inputs, &opts).unwrap();
    assert_eq!(events.len(), plain.len());
    assert_eq!(stats.skipped(), plain_stats.skipped());
    assert_eq!(stats.skipped(), 1);
    assert!(stats.files[0].filtered > 0, "the filter left some out");
    assert_eq!(*check.calls.lock().unwrap(), events.len());
    let ids: Vec<_> = events.iter().map(|e| e.loc.record_id.clone()).collect();
    let seen: Vec<_> = inspected.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, seen);
    assert!(ids.contains(&Some("id-3000".to_owned())), "repaired record");
    assert!(ids.contains(&Some("s-2".to_owned())), "expanded record");
    // A parse is given only when it is the parse of the event's raw text.
    assert!(inspected.iter().all(|(_, same)| *same != Some(false)));
    let unparsed: Vec<_> = events
        .iter()
        .zip(&inspected)
        .filter(|(_, (_, same))| same.is_none())
        .map(|(e, _)| e.loc.file.to_string())
        .collect();
    assert!(!unparsed.is_empty());
    assert!(
        unparsed
            .iter()
            .all(|f| f.ends_with("c.json") || f.ends_with("d.ndjson")),
        "{unparsed:?}"
    );
    assert!(unparsed.iter().any(|f| f.ends_with("d.ndjson")));
    // The Graph audit records are from 2021, left out by the filter above: read them alone.
    let graph = [Input::Path(dir.path().join("c.json"))];
    let mut seen = Vec::new();
    read_inspect(&graph, &ReadOptions::default(), &check, &mut |_, out| {
        seen.extend(out);
    })
    .unwrap();
    assert!(seen.len() >= 2);
    assert!(seen.iter().all(|(_, same)| same.is_none()), "{seen:?}");
    assert!(
        events
            .iter()
            .zip(&inspected)
            .filter(|(e, _)| e.loc.file.ends_with("a.ndjson"))
            .all(|(_, (_, same))| *same == Some(true))
    );
}

/// Counts events and drops them on the workers.
struct Count;

impl Inspect for Count {
    type Out = usize;

    fn inspect(&self, _: &Event, _: Option<&sonic_rs::Value>, out: &mut usize) {
        *out += 1;
    }

    fn keeps_events(&self) -> bool {
        false
    }
}

#[test]
fn events_not_kept_are_inspected_and_the_statistics_are_unchanged() {
    let text: String = (0..5000u64).map(|i| ual(i) + "\n").collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.ndjson");
    std::fs::write(&file, text).unwrap();
    let inputs = [Input::Path(file)];
    let opts = ReadOptions::default();
    let mut counted = 0;
    let stats = read_inspect(&inputs, &opts, &Count, &mut |evs, n| {
        assert!(evs.is_empty(), "events are not handed on");
        counted += n;
    })
    .unwrap();
    let (events, plain) = read_all(&inputs, &opts).unwrap();
    assert_eq!(counted, events.len());
    assert_eq!(counted, 5000);
    assert_eq!(stats.files[0].records, plain.files[0].records);
    assert_eq!(stats.coverage, plain.coverage);
    let days: u64 = stats.coverage.values().map(|c| c.records).sum();
    assert_eq!(days, 5000);
    assert_eq!(stats.coverage.len(), 5, "one cell per day");
}
