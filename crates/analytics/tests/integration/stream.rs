//! Deciding while folding goes on, and resuming from a snapshot: asking early, asking twice or
//! stopping and restoring never changes an answer.

use stormwatch_analytics::{
    Analytics, AnalyticsConfig, AnalyticsError, AnalyticsOutput, AppCatalog, IocSet,
};
use stormwatch_core::{Event, Location, Timestamp};

use crate::scenario::default_analytics;
use crate::testkit::shuffle;
use crate::world::build;

fn json(o: &AnalyticsOutput) -> String {
    serde_json::to_string(o).unwrap()
}

/// A token verdict: when, session id, token id, verdict, where the token was found.
type Verdict = (Timestamp, Option<String>, Option<String>, String, Location);

/// Events with token verdicts beside them (the token verifier's input).
struct Input {
    events: Vec<Event>,
    verdicts: Vec<Verdict>,
}

fn world() -> Input {
    let w = build();
    let session = w
        .events
        .iter()
        .find_map(|e| e.session_id.clone().filter(|s| s.starts_with("owa-")))
        .unwrap();
    let loc = |line| Location {
        file: "proxy.log".into(),
        line,
        record_id: None,
    };
    let t = Timestamp::parse("2023-06-14T03:00:00Z").unwrap();
    Input {
        events: w.events,
        verdicts: vec![
            (t, Some(session), None, "forged".into(), loc(1)),
            (
                t.add_seconds(60),
                None,
                Some("tok-x".into()),
                "valid".into(),
                loc(2),
            ),
        ],
    }
}

fn generated() -> Input {
    Input {
        events: crate::generated::events(11, 33, 4),
        verdicts: Vec::new(),
    }
}

/// Fold events `from..to` (verdicts go in with the first step).
fn fold(a: &mut Analytics, input: &Input, from: usize, to: usize) {
    if from == 0 {
        for (t, s, u, v, l) in &input.verdicts {
            a.observe_token_verdict(*t, s.as_deref(), u.as_deref(), v, l.clone());
        }
    }
    input.events[from..to].iter().for_each(|e| a.observe(e));
}

fn one_shot(input: &Input) -> String {
    let mut a = default_analytics();
    fold(&mut a, input, 0, input.events.len());
    json(&a.finish())
}

/// Cut points: `k` distinct positions inside `0..n`, from a seed.
fn cuts(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (1..n).collect();
    shuffle(&mut all, seed);
    let mut c: Vec<usize> = all.into_iter().take(k).collect();
    c.sort_unstable();
    c.push(n);
    c
}

fn evaluate_is_pure_and_does_not_disturb_folding(input: &Input) {
    let want = one_shot(input);
    assert!(
        want.contains("\"level\":\"critical\""),
        "the input raises nothing"
    );
    // Everything folded: asking twice gives the same, and the same as finish.
    let mut a = default_analytics();
    fold(&mut a, input, 0, input.events.len());
    let first = json(&a.evaluate());
    assert_eq!(json(&a.evaluate()), first);
    assert_eq!(first, want);
    // Asking at points along the way changes nothing that comes after.
    for seed in [3u64, 17] {
        let mut a = default_analytics();
        let mut at = 0;
        let mut early = Vec::new();
        for cut in cuts(input.events.len(), 4, seed) {
            fold(&mut a, input, at, cut);
            at = cut;
            let e = a.evaluate();
            assert_eq!(
                json(&a.evaluate()),
                json(&e),
                "seed {seed}: asked twice at {cut}"
            );
            early.push(e.detections.len());
        }
        assert_eq!(json(&a.finish()), want, "seed {seed}");
        // The early answers were answers about less input, not copies of the last.
        assert!(early.first() < early.last(), "{early:?}");
    }
}

#[test]
fn evaluate_twice_and_evaluate_then_fold_on_the_planted_world() {
    evaluate_is_pure_and_does_not_disturb_folding(&world());
}

#[test]
fn evaluate_twice_and_evaluate_then_fold_on_a_generated_tenant() {
    evaluate_is_pure_and_does_not_disturb_folding(&generated());
}

/// `finish` frees each context's record locations once the detections over it are built:
/// with caps small enough that records are left out of contexts and detections, it still
/// answers as `evaluate` does.
#[test]
fn finish_answers_as_evaluate_does_with_small_caps() {
    let cfg = AnalyticsConfig {
        max_events_per_context: 3,
        max_events_per_detection: 2,
        ..AnalyticsConfig::default()
    };
    for input in [world(), generated()] {
        let make = || {
            let mut a = Analytics::new(
                cfg.clone(),
                IocSet::builtin_storm_0558(),
                AppCatalog::builtin(),
                None,
                vec![],
            );
            fold(&mut a, &input, 0, input.events.len());
            a
        };
        let evaluated = make().evaluate();
        assert!(
            evaluated
                .detections
                .iter()
                .any(|d| d.evidence.get("events_omitted").is_some()),
            "the caps leave nothing out"
        );
        assert_eq!(json(&make().finish()), json(&evaluated));
    }
}

#[test]
fn baseline_is_what_finish_would_save() {
    let input = world();
    let mut a = default_analytics();
    fold(&mut a, &input, 0, input.events.len() / 2);
    let early = a.baseline();
    fold(&mut a, &input, input.events.len() / 2, input.events.len());
    let b = a.baseline();
    assert_ne!(early, b, "the baseline grew with the input");
    assert_eq!(a.finish().baseline, b);
}

fn snapshots_resume_exactly(input: &Input, seeds: &[u64]) {
    let want = one_shot(input);
    for &seed in seeds {
        let mut a = default_analytics();
        let mut at = 0;
        let mut sizes = Vec::new();
        for (i, cut) in cuts(input.events.len(), 3, seed).into_iter().enumerate() {
            fold(&mut a, input, at, cut);
            at = cut;
            if i % 2 == 1 {
                // Asking before a snapshot is allowed too.
                let _ = a.evaluate();
            }
            let bytes = a.snapshot().unwrap();
            sizes.push(bytes.len());
            let mut b = default_analytics();
            b.restore(&bytes).unwrap();
            // One state, one byte string.
            assert_eq!(
                b.snapshot().unwrap(),
                bytes,
                "seed {seed}: snapshot of the restored"
            );
            assert_eq!(
                json(&b.evaluate()),
                json(&a.evaluate()),
                "seed {seed} at {cut}"
            );
            a = b;
        }
        assert_eq!(json(&a.finish()), want, "seed {seed}");
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    }
}

#[test]
fn snapshot_restore_continue_on_the_planted_world() {
    snapshots_resume_exactly(&world(), &[1, 2, 3, 4, 5]);
}

#[test]
fn snapshot_restore_continue_on_a_generated_tenant() {
    snapshots_resume_exactly(&generated(), &[6, 7]);
}

#[test]
fn snapshot_keeps_the_baseline_and_the_early_notes() {
    let w = build();
    let cut = Timestamp::parse("2023-06-05T00:00:00Z").unwrap();
    let (old, new): (Vec<Event>, Vec<Event>) = w
        .events
        .iter()
        .cloned()
        .partition(|e| e.time.unwrap() < cut);
    let mut first = default_analytics();
    old.iter().for_each(|e| first.observe(e));
    let saved = first.finish().baseline;
    let mut stale = saved.clone();
    stale.version = 0;
    let go = |snap: stormwatch_analytics::BaselineSnapshot| {
        let mut a = default_analytics().with_baseline(snap);
        new[..new.len() / 3].iter().for_each(|e| a.observe(e));
        a
    };
    for snap in [saved, stale] {
        let a = go(snap.clone());
        let bytes = a.snapshot().unwrap();
        // Restored into analytics that were given no baseline: the snapshot carries it.
        let mut b = default_analytics();
        b.restore(&bytes).unwrap();
        let mut a = a;
        for x in [&mut a, &mut b] {
            new[new.len() / 3..].iter().for_each(|e| x.observe(e));
        }
        let (ja, jb) = (json(&a.finish()), json(&b.finish()));
        assert_eq!(ja, jb);
        let note = if snap.version == 0 {
            "it was ignored"
        } else {
            "saved baseline from"
        };
        assert!(jb.contains(note), "{note}");
    }
}

#[test]
fn bad_snapshots_are_errors_and_change_nothing() {
    let input = world();
    let mut a = default_analytics();
    fold(&mut a, &input, 0, input.events.len() / 2);
    let good = a.snapshot().unwrap();
    let mut target = default_analytics();
    fold(&mut target, &input, 0, 100);
    let before = json(&target.evaluate());
    let mut expect_err = |bytes: &[u8], what: &str| -> AnalyticsError {
        let e = target.restore(bytes).expect_err(what);
        assert_eq!(
            json(&target.evaluate()),
            before,
            "{what}: the failed restore changed state"
        );
        e
    };
    // Every cut of the header and a spread of cuts through the body.
    let step = (good.len() / 997).max(1);
    for n in (0..64).chain((64..good.len()).step_by(step)) {
        let e = expect_err(&good[..n], "a cut snapshot");
        assert!(matches!(e, AnalyticsError::StateSnapshot(_)), "{n}: {e}");
    }
    // Trailing bytes.
    let mut longer = good.clone();
    longer.push(0);
    expect_err(&longer, "trailing bytes");
    // A flipped bit anywhere: the checksum (or the header) says so.
    for i in (0..good.len()).step_by(step) {
        let mut b = good.clone();
        b[i] ^= 0x10;
        expect_err(&b, "a flipped bit");
    }
    // Another format version.
    let mut v2 = good.clone();
    v2[8..12].copy_from_slice(&(Analytics::SNAPSHOT_VERSION + 1).to_le_bytes());
    let e = expect_err(&v2, "another version");
    assert!(
        matches!(e, AnalyticsError::StateSnapshotVersion { found, known } if found == known + 1),
        "{e}"
    );
    assert!(e.to_string().contains("format version"), "{e}");
    // Not a snapshot at all.
    let e = expect_err(b"{\"version\":1}", "JSON");
    assert!(
        e.to_string().contains("not an analytics state snapshot"),
        "{e}"
    );
    expect_err(b"", "empty");
    // Built with other IOCs, or another event cap: the state would not be what they keep.
    let mut other_iocs = Analytics::new(
        AnalyticsConfig::default(),
        IocSet::new(),
        AppCatalog::builtin(),
        None,
        vec![],
    );
    let e = other_iocs.restore(&good).unwrap_err();
    assert!(
        matches!(e, AnalyticsError::StateSnapshotMismatch(w) if w.contains("IOC")),
        "{e}"
    );
    let mut other_cap = Analytics::new(
        AnalyticsConfig {
            max_events_per_context: 7,
            ..AnalyticsConfig::default()
        },
        IocSet::builtin_storm_0558(),
        AppCatalog::builtin(),
        None,
        vec![],
    );
    let e = other_cap.restore(&good).unwrap_err();
    assert!(
        matches!(e, AnalyticsError::StateSnapshotMismatch(w) if w.contains("max_events_per_context")),
        "{e}"
    );
    // Thresholds only steer decisions: a snapshot restores under other ones.
    let mut other_thresholds = Analytics::new(
        AnalyticsConfig {
            baseline_days: 30,
            ..AnalyticsConfig::default()
        },
        IocSet::builtin_storm_0558(),
        AppCatalog::builtin(),
        None,
        vec!["ceo@agency.example".into()],
    );
    other_thresholds.restore(&good).unwrap();
    // And the good one still restores.
    target.restore(&good).unwrap();
    assert_eq!(json(&target.evaluate()), json(&a.evaluate()));
}

#[test]
fn order_of_input_does_not_change_snapshot_answers() {
    let input = world();
    let mut events = input.events.clone();
    shuffle(&mut events, 99);
    let mut a = default_analytics();
    let half = events.len() / 2;
    events[..half].iter().for_each(|e| a.observe(e));
    let mut b = default_analytics();
    b.restore(&a.snapshot().unwrap()).unwrap();
    events[half..].iter().for_each(|e| b.observe(e));
    let mut all = default_analytics();
    input.events.iter().for_each(|e| all.observe(e));
    assert_eq!(json(&b.finish()), json(&all.finish()));
}
