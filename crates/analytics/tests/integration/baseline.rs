//! Baselines carried between runs: this week's export against what was already seen.

use stormwatch_analytics::{AnalyticsOutput, BaselineSnapshot};
use stormwatch_core::{Event, Level};

use crate::world::build;

fn run(events: &[Event], snap: Option<BaselineSnapshot>) -> AnalyticsOutput {
    let mut a = crate::scenario::default_analytics();
    if let Some(s) = snap {
        a = a.with_baseline(s);
    }
    events.iter().for_each(|e| a.observe(e));
    a.finish()
}

#[test]
fn second_export_compares_against_the_saved_baseline() {
    let w = build();
    // First export: the days before the intrusion (2023-05-22 .. 06-04).
    let cut = stormwatch_core::Timestamp::parse("2023-06-05T00:00:00Z").unwrap();
    let (old, new): (Vec<Event>, Vec<Event>) = w
        .events
        .iter()
        .cloned()
        .partition(|e| e.time.unwrap() < cut);
    let first = run(&old, None);
    let bytes = first.baseline.to_json_bytes();
    let snap = BaselineSnapshot::from_json_bytes(&bytes).unwrap();
    assert!(snap.mailboxes.contains_key("envoy@agency.example"));
    // Second export alone: its first days are a short baseline.
    let alone = run(&new, None);
    // With the saved baseline: the actor's app is new against 14 days of history, Outlook is not.
    let with = run(&new, Some(snap));
    let apps = |o: &AnalyticsOutput| -> Vec<(String, Level)> {
        o.detections
            .iter()
            .filter(|d| d.rule_id == "builtin/new-mail-app")
            .map(|d| (d.evidence["app"].as_str().unwrap_or("").to_owned(), d.level))
            .collect()
    };
    let with_apps = apps(&with);
    assert!(
        with_apps
            .iter()
            .any(|(a, l)| a == crate::testkit::EVIL_APP && *l >= Level::Medium),
        "{with_apps:?}"
    );
    assert!(
        !with_apps
            .iter()
            .any(|(a, _)| a == "00000002-0000-0ff1-ce00-000000000000"),
        "{with_apps:?}"
    );
    assert!(
        with.notes.iter().any(|n| n.contains("saved baseline")),
        "{:?}",
        with.notes
    );
    assert!(alone.notes.iter().any(|n| n.contains("no saved baseline")));
    // The explanation names what the saved baseline held.
    let d = with
        .detections
        .iter()
        .find(|d| {
            d.rule_id == "builtin/new-mail-app" && d.evidence["app"] == crate::testkit::EVIL_APP
        })
        .unwrap();
    assert!(
        d.explanation.contains("Office 365 Exchange Online ("),
        "{}",
        d.explanation
    );
    // The merged snapshot spans both exports.
    assert!(with.baseline.first.unwrap() < cut && with.baseline.last.unwrap() > cut);
}
