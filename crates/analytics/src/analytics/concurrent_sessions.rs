//! 11. Concurrent sessions on different networks.
//!
//! What it detects: the owner's mailbox used by two SessionIds from different networks (ASN
//! with IP → ASN data, else different /16 or /48) within `window_minutes`. Medium with ASN data,
//! low on the network-prefix fallback. Geo-velocity needs geolocation data, which is not loaded.
//!
//! One detection per mailbox and pair of networks, listing every pair of sessions seen
//! together on them: a phone on mobile data beside the office desktop recurs daily with new
//! sessions, and one line per session pair buried the rest.
//!
//! Beyond [`MAX_NET_PAIRS`] pairs of networks for one mailbox (a mailbox read through a pool
//! of addresses, or an export built to flood the report), the mailbox gets one detection
//! instead: how many sessions and networks overlapped, when, and every record in those times.
//! Pairs are then no longer enumerated, so the work stays linear in the records.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Finding, thousands, ts};

/// Pairs of networks one mailbox may have before it gets one summary detection instead of
/// one per pair. An owner's phone, laptop, home and office networks make a handful.
pub(crate) const MAX_NET_PAIRS: usize = 1_000;

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
        let mut flooded = false;
        'scan: for i in 0..pts.len() {
            while pts[j].0 < pts[i].0 - win {
                j += 1;
            }
            let q = &pts[i];
            for p in &pts[j..i] {
                if p.1 == q.1 || p.2 == q.2 {
                    continue;
                }
                if pairs.len() >= MAX_NET_PAIRS {
                    flooded = true;
                    break 'scan;
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
        if flooded {
            out.push(flooded_finding(cx, mailbox, &pts, win, level));
            continue;
        }
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

/// One detection for a mailbox with more than [`MAX_NET_PAIRS`] pairs of networks: the times
/// when a session was used within the window of another session on another network, found in
/// one pass by counting the window's points per session, per network and per both.
fn flooded_finding(
    cx: &Cx<'_>,
    mailbox: &str,
    pts: &[(i64, &str, String, usize)],
    win: i64,
    level: Level,
) -> Finding {
    // A point overlaps another session on another network before it or after it.
    let before = partnered(pts.iter().map(|p| (p.0, p.1, p.2.as_str())), win);
    let after = partnered(
        pts.iter()
            .rev()
            .map(|p| (p.0.saturating_neg(), p.1, p.2.as_str())),
        win,
    );
    let mut windows: Vec<(i64, i64)> = Vec::new();
    let mut sessions: BTreeSet<&str> = BTreeSet::new();
    let mut nets: BTreeSet<&str> = BTreeSet::new();
    for (i, q) in pts.iter().enumerate() {
        let overlaps = before.get(i).copied().unwrap_or(false)
            || after.get(pts.len() - 1 - i).copied().unwrap_or(false);
        if !overlaps {
            continue;
        }
        sessions.insert(q.1);
        nets.insert(q.2.as_str());
        let w = (q.0.saturating_sub(win), q.0.saturating_add(win));
        match windows.last_mut() {
            Some(last) if last.1 >= w.0 => last.1 = last.1.max(w.1),
            _ => windows.push(w),
        }
    }
    // Every record of the mailbox's owner in those times.
    let mut ctxs: Vec<usize> = Vec::new();
    let mut w = 0;
    for p in pts {
        while windows.get(w).is_some_and(|x| x.1 < p.0) {
            w += 1;
        }
        if windows.get(w).is_some_and(|x| x.0 <= p.0) {
            ctxs.push(p.3);
        }
    }
    ctxs.sort_unstable();
    ctxs.dedup();
    let first = windows.first().map_or(0, |x| x.0.saturating_add(win));
    let last = windows.last().map_or(0, |x| x.1.saturating_sub(win));
    Finding::new(
        SLUG,
        level,
        format!(
            "mailbox {mailbox} used by {} sessions from {} networks at overlapping times (within {} minutes of one another), from {} to {}: more than {} pairs of networks, so one detection for the mailbox instead of one per pair{}",
            thousands(sessions.len() as u64),
            thousands(nets.len() as u64),
            cx.cfg.concurrent_sessions.window_minutes,
            ts(first),
            ts(last),
            thousands(MAX_NET_PAIRS as u64),
            if cx.asn.is_none() { "; networks compared by address prefix (no ASN data loaded), ranked low" } else { "" }
        ),
    )
    .ctxs(ctxs)
    .windows(windows)
    .ev("mailbox", json!(mailbox))
    .ev("sessions_overlapping", json!(sessions.len()))
    .ev("networks_overlapping", json!(nets.len()))
    .ev("network_pairs_over", json!(MAX_NET_PAIRS))
}

/// For each point of a time-sorted sequence of (time, session, network): whether a point up
/// to `win` before it has another session and another network. One pass, counting the
/// window's points per session, per network and per both.
fn partnered<'s>(
    pts: impl Iterator<Item = (i64, &'s str, &'s str)> + Clone,
    win: i64,
) -> Vec<bool> {
    let mut per_session: HashMap<&str, usize> = HashMap::new();
    let mut per_net: HashMap<&str, usize> = HashMap::new();
    let mut per_both: HashMap<(&str, &str), usize> = HashMap::new();
    let mut tail = pts.clone();
    let mut in_window = 0usize;
    let mut out = Vec::new();
    for (t, s, n) in pts {
        // Drop points that fell out of the window.
        loop {
            let mut peek = tail.clone();
            match peek.next() {
                Some((pt, ps, pn)) if pt < t.saturating_sub(win) => {
                    for (m, k) in [(&mut per_session, ps), (&mut per_net, pn)] {
                        if let Some(c) = m.get_mut(k) {
                            *c = c.saturating_sub(1);
                        }
                    }
                    if let Some(c) = per_both.get_mut(&(ps, pn)) {
                        *c = c.saturating_sub(1);
                    }
                    in_window = in_window.saturating_sub(1);
                    tail = peek;
                }
                _ => break,
            }
        }
        let same_s = per_session.get(s).copied().unwrap_or(0);
        let same_n = per_net.get(n).copied().unwrap_or(0);
        let same_both = per_both.get(&(s, n)).copied().unwrap_or(0);
        // Others = all - same session - same network + same both.
        out.push(in_window + same_both > same_s + same_n);
        *per_session.entry(s).or_default() += 1;
        *per_net.entry(n).or_default() += 1;
        *per_both.entry((s, n)).or_default() += 1;
        in_window += 1;
    }
    out
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

    /// `n` sessions of the owner, each on its own /16, all within a few minutes.
    fn pool(n: u32) -> Vec<stormwatch_core::Event> {
        let mut ev = history(M, 3);
        for k in 0..n {
            ev.push(
                Ev::mail(&at(2, 10, k % 20), M)
                    .session(&format!("pool-{k}"))
                    .ip(&format!("{}.{}.0.1", 20 + k / 200, k % 200))
                    .build(),
            );
        }
        ev
    }

    #[test]
    fn a_flood_of_network_pairs_is_one_detection_for_the_mailbox() {
        // 40 networks at once: 780 pairs of them (plus the office's), one detection each.
        let out = run(pool(40));
        let d = of(&out, super::SLUG);
        assert!(
            d.len() > 700 && d.len() <= super::MAX_NET_PAIRS,
            "{}",
            d.len()
        );
        // 300 networks at once: 44,850 pairs; one detection saying how many overlapped.
        let out = run(pool(300));
        let d = of(&out, super::SLUG);
        // (The engine splits off the records its session corroboration raised.)
        assert!(!d.is_empty() && d.len() <= 2, "{}", d.len());
        assert!(
            d[0].explanation
                .contains("used by 301 sessions from 301 networks"),
            "{}",
            d[0].explanation
        );
        let records: usize = d.iter().map(|x| x.events.len()).sum();
        assert!(records >= 301, "{records}");
    }
}
