//! 1. New AppId / ClientAppId reading a mailbox ("Big Yellow Taxi").
//!
//! What it detects: a `MailItemsAccessed` record from an application (ClientAppId, else AppId)
//! not seen for that mailbox in the `baseline_days` before. First-party apps stay in scope
//! (Storm-0558 used OWA). When many mailboxes adopt the same app within `adoption_hours` it is
//! likely a rollout, and the level drops one step. With less history than `learning_days`,
//! only third-party apps are reported, at low.
//!
//! A mailbox with more than [`MAX_NEW_APPS`] such apps (an export built to flood the report,
//! or a broken client minting app ids) gets one detection for all of them instead of one each,
//! so the report and the work stay linear in the records.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Dim, Finding, Novelty, Value, thousands, ts};

pub(crate) const SLUG: &str = "new-mail-app";

/// New apps one mailbox may have before it gets one detection for all of them.
pub(crate) const MAX_NEW_APPS: usize = 100;

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.new_mail_app;
    if !cfg.enabled {
        return;
    }
    let days = cx.cfg.baseline_days;
    let mut candidates: Vec<(&str, Value)> = Vec::new();
    // app → first-seen times across mailboxes (for adoption).
    let mut adoption: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for &mailbox in cx.mail_by_mailbox.keys() {
        for v in cx.values(mailbox, Dim::App, days).iter() {
            if v.novelty == Novelty::Known {
                continue;
            }
            adoption.entry(v.value.clone()).or_default().push(v.first);
            let first_party = cx.apps.is_first_party(&v.value);
            if v.novelty == Novelty::Learning && first_party {
                continue;
            }
            candidates.push((mailbox, v.clone()));
        }
    }
    let active = cx.mail_by_mailbox.len();
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let needed = ((active as f64 * cfg.adoption_fraction).ceil() as usize)
        .max(cfg.adoption_min_mailboxes as usize);
    let adopt_ns = i64::from(cfg.adoption_hours) * crate::state::HOUR_NS;
    let mut per_mailbox: HashMap<&str, usize> = HashMap::new();
    for (m, _) in &candidates {
        *per_mailbox.entry(m).or_default() += 1;
    }
    let mut flooded: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for (mailbox, v) in candidates {
        if per_mailbox.get(mailbox).copied().unwrap_or(0) > MAX_NEW_APPS {
            let apps = flooded.entry(mailbox).or_default();
            if apps.is_empty() {
                // Placed where the mailbox's first app would have been.
                out.push(Finding::new(SLUG, Level::Low, String::new()));
                apps.push(Value {
                    ctxs: vec![out.len() - 1],
                    ..v.clone()
                });
            }
            apps.push(v);
            continue;
        }
        let first_party = cx.apps.is_first_party(&v.value);
        let label = cx.label(Dim::App, &v.value);
        let adopters = adoption.get(&v.value).map_or(0, |ts| {
            ts.iter()
                .filter(|&&t| (t - v.first).abs() <= adopt_ns)
                .count()
        });
        let mut level = if v.novelty == Novelty::Learning {
            Level::Low
        } else {
            Level::Medium
        };
        let before = cx.baseline_of(mailbox, Dim::App, v.first, days);
        let mut explanation = if v.novelty == Novelty::Learning {
            format!(
                "{label} read mailbox {mailbox}; only {:.1} days of history before {} (learning period {} days), so the baseline is short; apps seen before: {}; {} is not a Microsoft first-party app",
                cx.history_days(v.first).max(0.0),
                ts(v.first),
                cx.cfg.learning_days,
                cx.baseline_text(Dim::App, &before),
                label,
            )
        } else {
            format!(
                "apps seen for this mailbox in the {days} days before {}: {}; this app ({label}{}): never",
                ts(v.first),
                cx.baseline_text(Dim::App, &before),
                if first_party {
                    ", first-party"
                } else {
                    ", not a Microsoft first-party app"
                },
            )
        };
        explanation.push_str(&format!(
            ". {} record{} from it between {} and {}",
            thousands(v.records),
            if v.records == 1 { "" } else { "s" },
            ts(v.first),
            ts(v.last)
        ));
        let rollout = adopters >= needed && adopters > 1;
        if rollout {
            level = level.lowered();
            explanation.push_str(&format!(
                ". {adopters} of {active} mailboxes started using it within {} h: likely a rollout, level lowered",
                cfg.adoption_hours
            ));
        }
        let baseline: Vec<_> = before
            .iter()
            .map(|(a, n)| json!({"app": a, "name": cx.apps.name(a), "records": n}))
            .collect();
        out.push(
            Finding::new(SLUG, level, explanation)
                .ctxs(v.ctxs.clone())
                .ev("app", json!(v.value))
                .ev("app_name", json!(cx.apps.name(&v.value)))
                .ev("first_party", json!(first_party))
                .ev("mailbox", json!(mailbox))
                .ev("baseline_days", json!(days))
                .ev("baseline", json!(baseline))
                .ev("learning", json!(v.novelty == Novelty::Learning))
                .ev("adopting_mailboxes", json!(adopters))
                .ev("rollout", json!(rollout)),
        );
    }
    for (mailbox, mut apps) in flooded {
        let slot = apps.remove(0).ctxs.first().copied().unwrap_or(usize::MAX);
        if let Some(f) = out.get_mut(slot) {
            *f = flood(cx, mailbox, &apps);
        }
    }
}

/// One detection for the (more than [`MAX_NEW_APPS`]) new apps of one mailbox.
fn flood(cx: &Cx<'_>, mailbox: &str, apps: &[Value]) -> Finding {
    let days = cx.cfg.baseline_days;
    let new = apps.iter().filter(|v| v.novelty == Novelty::New).count();
    let first = apps.iter().map(|v| v.first).min().unwrap_or(0);
    let last = apps.iter().map(|v| v.last).max().unwrap_or(0);
    let records: u64 = apps.iter().map(|v| v.records).sum();
    let mut ctxs: Vec<usize> = apps.iter().flat_map(|v| v.ctxs.iter().copied()).collect();
    ctxs.sort_unstable();
    ctxs.dedup();
    let named: Vec<String> = apps
        .iter()
        .take(3)
        .map(|v| cx.label(Dim::App, &v.value))
        .collect();
    Finding::new(
        SLUG,
        if new > 0 { Level::Medium } else { Level::Low },
        format!(
            "mailbox {mailbox} read by {} apps not seen for it in the {days} days before ({} of them with less history than the learning period), {} records between {} and {}: more than {} new apps, so one detection for the mailbox instead of one per app; the first: {}",
            thousands(apps.len() as u64),
            thousands((apps.len() - new) as u64),
            thousands(records),
            ts(first),
            ts(last),
            MAX_NEW_APPS,
            named.join(", ")
        ),
    )
    .ctxs(ctxs)
    .ev("mailbox", json!(mailbox))
    .ev("new_apps", json!(apps.len()))
    .ev(
        "apps",
        json!(apps.iter().take(MAX_NEW_APPS).map(|v| &v.value).collect::<Vec<_>>()),
    )
    .ev("baseline_days", json!(days))
}

#[cfg(test)]
mod tests {
    use super::super::tests_util::{history, max_level, of, run};
    use crate::testkit::{EVIL_APP, Ev, GRAPH, OWA, at};
    use stormwatch_core::Level;

    #[test]
    fn new_client_app_after_a_baseline() {
        let mut ev = history("envoy@agency.example", 14);
        ev.push(
            Ev::mail(&at(14, 3, 0), "envoy@agency.example")
                .app(GRAPH)
                .client_app(EVIL_APP)
                .ip("203.0.113.5")
                .client("Client=REST;;")
                .build(),
        );
        let out = run(ev);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1, "{:#?}", out.detections);
        assert_eq!(d[0].level, Level::Medium);
        assert!(
            d[0].explanation.contains("Microsoft Outlook (112 records)"),
            "{}",
            d[0].explanation
        );
        assert!(d[0].explanation.contains("never"));
        assert_eq!(d[0].events.len(), 1);
    }

    #[test]
    fn first_party_owa_stays_in_scope() {
        let mut ev = history("envoy@agency.example", 14);
        ev.push(
            Ev::mail(&at(14, 3, 0), "envoy@agency.example")
                .app(OWA)
                .client("Client=OWA;Action=ViaProxy")
                .build(),
        );
        let out = run(ev);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].explanation.contains("Office 365 Exchange Online"),
            "{}",
            d[0].explanation
        );
    }

    #[test]
    fn near_miss_known_app_is_quiet() {
        let out = run(history("envoy@agency.example", 14));
        assert!(of(&out, super::SLUG).is_empty());
    }

    #[test]
    fn single_record_third_party_fires_low_first_party_not() {
        let out = run(vec![
            Ev::mail(&at(0, 13, 0), "p@lab.example")
                .app(GRAPH)
                .client_app("5a95e683-08ad-424e-a441-1d1aec52c02c")
                .build(),
        ]);
        assert_eq!(max_level(&out, super::SLUG), Some(Level::Low));
        let out = run(vec![Ev::mail(&at(0, 13, 0), "p@lab.example").build()]);
        assert!(of(&out, super::SLUG).is_empty());
    }

    #[test]
    fn rollout_across_many_mailboxes_is_lowered() {
        let mut ev = Vec::new();
        for i in 0..6 {
            let m = format!("u{i}@agency.example");
            ev.extend(history(&m, 10));
            ev.push(
                Ev::mail(&at(10, 10, i), &m)
                    .client_app("27922004-5251-4030-b22d-91ecd9a37ea4")
                    .build(),
            );
        }
        let out = run(ev);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 6);
        assert!(
            d.iter().all(|d| d.level == Level::Low),
            "{:?}",
            d.iter().map(|d| d.level).collect::<Vec<_>>()
        );
        assert!(d[0].explanation.contains("rollout"));
    }

    #[test]
    fn a_flood_of_new_apps_is_one_detection_for_the_mailbox() {
        let m = "envoy@agency.example";
        let flood = |n: u32| {
            let mut ev = history(m, 10);
            for k in 0..n {
                ev.push(
                    Ev::mail(&at(9, 18 + k / 60, k % 60), m)
                        .client_app(&format!("00000000-0000-0000-0000-{k:012}"))
                        .build(),
                );
            }
            ev
        };
        assert_eq!(of(&run(flood(40)), super::SLUG).len(), 40);
        let out = run(flood(300));
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1, "{}", d.len());
        assert!(
            d[0].explanation
                .contains("read by 300 apps not seen for it in the 14 days before"),
            "{}",
            d[0].explanation
        );
        assert_eq!(d[0].events.len(), 300);
    }
}
