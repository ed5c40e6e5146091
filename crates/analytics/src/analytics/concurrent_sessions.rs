//! 11. Concurrent sessions on different networks.
//!
//! What it detects: the owner's mailbox used by two SessionIds from different networks (ASN
//! with IP → ASN data, else different /16 or /48) within `window_minutes`. Medium with ASN data,
//! low on the network-prefix fallback. Geo-velocity needs geolocation data, which is not loaded.
//!
//! One detection per mailbox and pair of networks, listing every pair of sessions seen
//! together on them: a phone on mobile data beside the office desktop recurs daily with new
//! sessions, and one line per session pair buried the rest.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Finding, ts};

/// Session pairs listed by name in a detection's explanation; the evidence lists them all.
const NAMED_PAIRS: usize = 3;

/// What was seen of one mailbox on one pair of networks.
#[derive(Default)]
struct NetPair<'a> {
    first: i64,
    last: i64,
    ctxs: Vec<usize>,
    /// Session pairs, each with the first and last time the two overlapped.
    sessions: BTreeMap<(&'a str, &'a str), (i64, i64)>,
}

pub(crate) const SLUG: &str = "concurrent-sessions";

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.concurrent_sessions;
    if !cfg.enabled {
        return;
    }
    let win = i64::from(cfg.window_minutes) * 60_000_000_000;
    for (&mailbox, idxs) in &cx.mail_by_mailbox {
        // (time, session, network, ctx)
        let mut pts: Vec<(i64, &str, String, usize)> = Vec::new();
        for &i in idxs {
            let Some((k, c)) = cx.ctx(i) else { continue };
            if k.non_owner() {
                continue;
            }
            let (Some(s), Some(net)) = (cx.opt(k.session), cx.network(k.ip)) else {
                continue;
            };
            pts.extend(c.hours.values().map(|h| (h.first, s, net.clone(), i)));
        }
        pts.sort();
        // (network a, network b), a < b → what was seen on them
        let mut pairs: BTreeMap<(&str, &str), NetPair<'_>> = BTreeMap::new();
        let mut j = 0;
        for i in 0..pts.len() {
            while pts[j].0 < pts[i].0 - win {
                j += 1;
            }
            let q = &pts[i];
            for p in &pts[j..i] {
                if p.1 == q.1 || p.2 == q.2 {
                    continue;
                }
                // Sessions ordered as their networks are.
                let (nets, sessions) = if p.2 < q.2 {
                    ((p.2.as_str(), q.2.as_str()), (p.1, q.1))
                } else {
                    ((q.2.as_str(), p.2.as_str()), (q.1, p.1))
                };
                let e = pairs.entry(nets).or_insert_with(|| NetPair {
                    first: p.0,
                    last: q.0,
                    ..NetPair::default()
                });
                e.first = e.first.min(p.0);
                e.last = e.last.max(q.0);
                e.ctxs.extend([p.3, q.3]);
                let s = e.sessions.entry(sessions).or_insert((p.0, q.0));
                s.0 = s.0.min(p.0);
                s.1 = s.1.max(q.0);
            }
        }
        let level = if cx.asn.is_some() {
            Level::Medium
        } else {
            Level::Low
        };
        for ((na, nb), mut seen) in pairs {
            seen.ctxs.sort_unstable();
            seen.ctxs.dedup();
            let n = seen.sessions.len();
            let named: Vec<String> = seen
                .sessions
                .keys()
                .take(NAMED_PAIRS)
                .map(|(a, b)| format!("{a} on {na} and {b} on {nb}"))
                .collect();
            let days: BTreeSet<i64> = seen
                .sessions
                .values()
                .map(|&(from, _)| from.div_euclid(86_400_000_000_000))
                .collect();
            let what = if n == 1 {
                format!("session {}", named.join(""))
            } else {
                format!(
                    "{n} pairs of sessions on {} day{} (sessions {}{})",
                    days.len(),
                    if days.len() == 1 { "" } else { "s" },
                    named.join("; "),
                    if n > NAMED_PAIRS { "; …" } else { "" }
                )
            };
            let mut windows: Vec<(i64, i64)> = seen
                .sessions
                .values()
                .map(|&(from, to)| (from - win, to + win))
                .collect();
            windows.sort_unstable();
            out.push(
                Finding::new(
                    SLUG,
                    level,
                    format!(
                        "mailbox {mailbox} used from {na} and {nb} within {} minutes: {what}, from {} to {}{}",
                        cfg.window_minutes,
                        ts(seen.first),
                        ts(seen.last),
                        if cx.asn.is_none() { "; networks compared by address prefix (no ASN data loaded), ranked low" } else { "" }
                    ),
                )
                .ctxs(seen.ctxs)
                .windows(windows)
                .ev("mailbox", json!(mailbox))
                .ev(
                    "sessions",
                    json!(seen.sessions.keys().map(|(a, b)| [a, b]).collect::<Vec<_>>()),
                )
                .ev("networks", json!([na, nb]))
                .ev("days", json!(days.len())),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_util::{history, of, run};
    use crate::testkit::{Ev, at};
    use stormwatch_core::Level;

    const M: &str = "envoy@agency.example";

    #[test]
    fn two_sessions_two_networks_at_once() {
        let mut ev = history(M, 3);
        ev.push(
            Ev::sign_in(&at(2, 10, 8), M)
                .session("other")
                .ip("203.0.113.9")
                .build(),
        );
        ev.push(
            Ev::mail(&at(2, 10, 10), M)
                .session("other")
                .ip("203.0.113.9")
                .build(),
        );
        let out = run(ev);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].level, Level::Low);
    }

    #[test]
    fn one_detection_per_pair_of_networks_whatever_the_sessions() {
        // Phone on mobile data beside the desktop on three days, new sessions every day, and
        // once a third network beside both: one detection per pair of networks, not one per
        // pair of sessions.
        let mut ev = history(M, 3);
        for (day, office, phone) in [(2, "d2", "p2"), (3, "d3", "p3"), (4, "d4", "p4")] {
            for (s, ip) in [(office, "198.51.7.9"), (phone, "203.0.113.9")] {
                ev.push(Ev::sign_in(&at(day, 8, 55), M).session(s).ip(ip).build());
            }
            ev.push(
                Ev::mail(&at(day, 9, 0), M)
                    .session(office)
                    .ip("198.51.7.9")
                    .build(),
            );
            ev.push(
                Ev::mail(&at(day, 9, 10), M)
                    .session(phone)
                    .ip("203.0.113.9")
                    .build(),
            );
        }
        ev.push(
            Ev::sign_in(&at(4, 9, 15), M)
                .session("elsewhere")
                .ip("192.0.2.50")
                .build(),
        );
        ev.push(
            Ev::mail(&at(4, 9, 20), M)
                .session("elsewhere")
                .ip("192.0.2.50")
                .build(),
        );
        let out = run(ev);
        let d = of(&out, super::SLUG);
        // Desktop and phone; the third network beside each of them.
        assert_eq!(d.len(), 3, "{d:#?}");
        let routine = d
            .iter()
            .find(|x| {
                x.evidence["networks"] == serde_json::json!(["198.51.0.0/16", "203.0.0.0/16"])
            })
            .expect("the desktop/phone pair");
        let sessions = routine.evidence["sessions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for pair in [["d2", "p2"], ["d3", "p3"], ["d4", "p4"]] {
            assert!(sessions.contains(&serde_json::json!(pair)), "{sessions:?}");
        }
        assert!(routine.evidence["days"].as_u64().is_some_and(|n| n >= 3));
        assert!(
            routine.explanation.contains(" pairs of sessions on "),
            "{}",
            routine.explanation
        );
        assert!(routine.events.len() >= 6, "{:?}", routine.events);
    }

    #[test]
    fn near_miss_same_network_or_far_apart() {
        let mut ev = history(M, 3);
        ev.push(
            Ev::mail(&at(2, 10, 10), M)
                .session("phone")
                .ip("198.51.7.9")
                .build(),
        );
        ev.push(
            Ev::mail(&at(2, 22, 0), M)
                .session("home")
                .ip("203.0.113.9")
                .build(),
        );
        let out = run(ev);
        assert!(
            of(&out, super::SLUG).is_empty(),
            "{:#?}",
            of(&out, super::SLUG)
        );
    }
}
