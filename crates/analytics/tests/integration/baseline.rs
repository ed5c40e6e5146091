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

/// The same export hunted three times with the baseline kept: each record is folded in once,
/// so the saved baseline and every explanation stay what the first run made of them.
#[test]
fn the_same_export_again_counts_each_record_once() {
    let w = build();
    let first = run(&w.events, Some(BaselineSnapshot::new()));
    let second = run(&w.events, Some(first.baseline.clone()));
    let third = run(&w.events, Some(second.baseline.clone()));
    assert_eq!(second.baseline, first.baseline);
    assert_eq!(third.baseline, first.baseline);
    let explained = |o: &AnalyticsOutput| -> Vec<(String, String)> {
        o.detections
            .iter()
            .map(|d| (d.rule_id.clone(), d.explanation.clone()))
            .collect()
    };
    assert_eq!(explained(&second), explained(&first));
    assert_eq!(explained(&third), explained(&first));
    // What was already known is said, and --state is not suggested when it was given.
    let said = |o: &AnalyticsOutput, what: &str| o.notes.iter().any(|n| n.contains(what));
    assert!(
        !said(&first, "already in the saved baseline"),
        "{:?}",
        first.notes
    );
    assert!(said(&first, "no saved baseline yet"), "{:?}", first.notes);
    assert!(
        said(&second, "were already in the saved baseline"),
        "{:?}",
        second.notes
    );
    for o in [&first, &second, &third] {
        assert!(!said(o, "use --state"), "{:?}", o.notes);
    }
    let owner = |o: &AnalyticsOutput| o.baseline.mailboxes["envoy@agency.example"].owner_records;
    assert!(owner(&first) > 0);
    assert_eq!(owner(&third), owner(&first));
}

/// This week's export overlaps last week's: the baseline built from both, in turn, is the one a
/// single run over their union builds.
#[test]
fn overlapping_exports_fold_the_overlap_once() {
    let w = build();
    let day = |s: &str| stormwatch_core::Timestamp::parse(s).unwrap();
    let (a_end, b_start) = (day("2023-06-12T00:00:00Z"), day("2023-06-01T00:00:00Z"));
    let a: Vec<Event> = w
        .events
        .iter()
        .filter(|e| e.time.unwrap() < a_end)
        .cloned()
        .collect();
    let b: Vec<Event> = w
        .events
        .iter()
        .filter(|e| e.time.unwrap() >= b_start)
        .cloned()
        .collect();
    let after_a = run(&a, Some(BaselineSnapshot::new()));
    let after_b = run(&b, Some(after_a.baseline.clone()));
    let once = run(&w.events, Some(BaselineSnapshot::new()));
    let (got, want) = (&after_b.baseline, &once.baseline);
    assert_eq!(got.first, want.first);
    assert_eq!(got.last, want.last);
    assert_eq!(got.folded_hours, want.folded_hours);
    assert_eq!(
        got.mailboxes.keys().collect::<Vec<_>>(),
        want.mailboxes.keys().collect::<Vec<_>>()
    );
    for (m, g) in &got.mailboxes {
        let o = &want.mailboxes[m];
        assert_eq!(g.seen, o.seen, "{m}");
        assert_eq!(g.owner_records, o.owner_records, "{m}");
        assert_eq!(g.actor_window_records, o.actor_window_records, "{m}");
        assert_eq!(g.hourly_operations.n, o.hourly_operations.n, "{m}");
        assert!(
            (g.hourly_operations.mean - o.hourly_operations.mean).abs() < 1e-9,
            "{m}"
        );
    }
    // The second run said how many of its records it already knew: the overlap's.
    assert!(
        after_b
            .notes
            .iter()
            .any(|n| n.contains("were already in the saved baseline")),
        "{:?}",
        after_b.notes
    );
}
