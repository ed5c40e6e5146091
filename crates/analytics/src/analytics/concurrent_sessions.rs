//! 11. Concurrent sessions on different networks.
//!
//! What it detects: the owner's mailbox used by two SessionIds from different networks (ASN
//! with IP → ASN data, else different /16 or /48) within `window_minutes`. Medium with ASN data,
//! low on the network-prefix fallback. Geo-velocity needs geolocation data, which is not loaded.

use std::collections::BTreeMap;

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Finding, ts};

/// (first, last, contexts, network a, network b) of a session pair.
type Pair = (i64, i64, Vec<usize>, String, String);

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
        // (session a, session b) → (first overlap, ctxs, networks)
        let mut pairs: BTreeMap<(&str, &str), Pair> = BTreeMap::new();
        let mut j = 0;
        for i in 0..pts.len() {
            while pts[j].0 < pts[i].0 - win {
                j += 1;
            }
            for p in &pts[j..i] {
                let q = &pts[i];
                if p.1 == q.1 || p.2 == q.2 {
                    continue;
                }
                let key = if p.1 < q.1 { (p.1, q.1) } else { (q.1, p.1) };
                let e = pairs
                    .entry(key)
                    .or_insert_with(|| (p.0, q.0, Vec::new(), p.2.clone(), q.2.clone()));
                e.0 = e.0.min(p.0);
                e.1 = e.1.max(q.0);
                e.2.extend([p.3, q.3]);
            }
        }
        let level = if cx.asn.is_some() {
            Level::Medium
        } else {
            Level::Low
        };
        for ((a, b), (from, to, mut ctxs, na, nb)) in pairs {
            ctxs.sort_unstable();
            ctxs.dedup();
            out.push(
                Finding::new(
                    SLUG,
                    level,
                    format!(
                        "mailbox {mailbox} used by session {a} on {na} and session {b} on {nb} within {} minutes (from {} to {}){}",
                        cfg.window_minutes,
                        ts(from),
                        ts(to),
                        if cx.asn.is_none() { "; networks compared by address prefix (no ASN data loaded), ranked low" } else { "" }
                    ),
                )
                .ctxs(ctxs)
                .windows(vec![(from - win, to + win)])
                .ev("mailbox", json!(mailbox))
                .ev("sessions", json!([a, b]))
                .ev("networks", json!([na, nb])),
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
