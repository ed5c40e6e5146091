//! The planted intrusion is covered by high / critical detections; the decoys raise none.

use std::collections::BTreeSet;

use stormwatch_core::{Event, Level, Location};

use crate::testkit::number;
use crate::world::{Tag, World, build};
use stormwatch_analytics::{Analytics, AnalyticsConfig, AnalyticsOutput, AppCatalog, IocSet};

/// The analytics with their defaults and the built-in indicators and app list.
pub(crate) fn default_analytics() -> Analytics {
    Analytics::new(
        AnalyticsConfig::default(),
        IocSet::builtin_storm_0558(),
        AppCatalog::builtin(),
        None,
        vec![],
    )
}

pub(crate) fn run(events: &[Event]) -> AnalyticsOutput {
    let mut a = default_analytics();
    for e in events {
        a.observe(e);
    }
    a.finish()
}

fn covered(out: &AnalyticsOutput, min: Level) -> BTreeSet<Location> {
    out.detections
        .iter()
        .filter(|d| d.level >= min)
        .flat_map(|d| d.events.iter().cloned())
        .collect()
}

fn check(w: &World, out: &AnalyticsOutput) {
    let high = covered(out, Level::High);
    let actor = w.locs(Tag::Actor);
    let missed: Vec<_> = actor.difference(&high).collect();
    assert!(
        missed.is_empty(),
        "actor records not covered by high/critical: {missed:?}"
    );
    for tag in [
        Tag::DecoyInstall,
        Tag::DecoyIoc,
        Tag::DecoyDelegate,
        Tag::DecoyMigration,
        Tag::Normal,
    ] {
        let hit: Vec<String> = out
            .detections
            .iter()
            .filter(|d| d.level >= Level::High && d.events.iter().any(|l| w.locs(tag).contains(l)))
            .map(|d| format!("{} {}: {}", d.rule_id, d.level, d.explanation))
            .collect();
        assert!(hit.is_empty(), "{tag:?} raised high/critical: {hit:#?}");
    }
}

#[test]
fn intrusion_covered_decoys_quiet_with_sign_ins() {
    let w = build();
    let out = run(&w.events);
    check(&w, &out);
    // The decoys are seen, at lower levels.
    let decoy_rules: BTreeSet<&str> = out
        .detections
        .iter()
        .filter(|d| {
            d.events.iter().any(|l| {
                w.locs(Tag::DecoyInstall).contains(l) || w.locs(Tag::DecoyMigration).contains(l)
            })
        })
        .map(|d| d.rule_id.as_str())
        .collect();
    assert!(
        decoy_rules.contains("builtin/new-mail-app"),
        "{decoy_rules:?}"
    );
    assert!(decoy_rules.contains("builtin/bulk-bind"), "{decoy_rules:?}");
    // One incident holds the actor's sessions, the forged-token and IOC detections.
    let top = &out.incidents[0];
    assert!(top.level >= Level::High);
    for s in ["forged-a", "forged-b", "forged-c"] {
        assert!(top.sessions.iter().any(|x| x == s), "{top:#?}");
    }
    for m in [
        "ambassador@agency.example",
        "envoy@agency.example",
        "attache@agency.example",
    ] {
        assert!(top.mailboxes.iter().any(|x| x == m), "{:?}", top.mailboxes);
    }
    assert!(
        top.rules
            .iter()
            .any(|r| r.rule_id == "builtin/mail-access-without-sign-in")
    );
    assert!(
        top.rules
            .iter()
            .any(|r| r.rule_id == "builtin/ioc-infrastructure")
    );
    assert!(
        top.rules
            .iter()
            .any(|r| r.rule_id == "builtin/forged-token-signals")
    );
    // Precision / recall on records at high or above.
    let high = covered(&out, Level::High);
    let actor = w.locs(Tag::Actor);
    let tp = high.intersection(&actor).count();
    println!(
        "scenario: {} records, {} actor; high/critical cover {} records, {} of them actor: precision {:.3}, recall {:.3}; {} detections, {} incidents",
        w.events.len(),
        actor.len(),
        high.len(),
        tp,
        tp as f64 / high.len().max(1) as f64,
        tp as f64 / actor.len().max(1) as f64,
        out.detections.len(),
        out.incidents.len()
    );
}

#[test]
fn without_sign_in_logs_it_says_so_and_decoys_stay_quiet() {
    let w = build();
    let mut evs = w.without_sign_ins();
    number(&mut evs);
    let w2 = World {
        tags: w
            .events
            .iter()
            .zip(&w.tags)
            .filter(|(e, _)| e.sign_in.is_none())
            .map(|(_, t)| *t)
            .collect(),
        events: evs,
    };
    let out = run(&w2.events);
    assert!(
        out.notes.iter().any(|n| n.starts_with("no sign-in logs")),
        "{:?}",
        out.notes
    );
    assert!(
        out.detections
            .iter()
            .all(|d| d.rule_id != "builtin/mail-access-without-sign-in")
    );
    // The IOC-in-window and forged-token evidence still covers the actor.
    check(&w2, &out);
}
