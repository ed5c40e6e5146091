//! 7. Breadth: one actor reading many mailboxes fast; new non-owner readers.
//!
//! What it detects: one SessionId, client IP or ClientAppId reading at least `window_mailboxes`
//! mailboxes within `window_minutes`, or at least `day_mailboxes` within 24 hours (medium); a
//! user reading someone else's mailbox for the first time (low). For a session, a mailbox
//! counts when it is read as its owner (one session acting as several owners) or by a new
//! non-owner reader; for an IP, when the IP's network is new for the mailbox or the reader is
//! new; for an app, when the app is new for the mailbox or the reader is new (a shared office
//! NAT, everyone's Outlook, a nightly archiver or a long-standing delegate is not breadth).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Dim, Finding, Novelty, ts};
use crate::state::DAY_NS;

pub(crate) const SLUG: &str = "breadth";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum By {
    Session,
    Ip,
    App,
}

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.breadth;
    if !cfg.enabled {
        return;
    }
    let days = cx.cfg.baseline_days;
    // Which (mailbox, network) and (mailbox, app) pairs are new.
    let mut new_net: BTreeSet<(&str, String)> = BTreeSet::new();
    let mut new_app: BTreeSet<(&str, String)> = BTreeSet::new();
    let mut new_reader: BTreeSet<(&str, String)> = BTreeSet::new();
    for &m in cx.mail_by_mailbox.keys() {
        for v in cx.values(m, Dim::Network, days).iter() {
            if v.novelty == Novelty::New {
                new_net.insert((m, v.value.clone()));
            }
        }
        for v in cx.values(m, Dim::App, days).iter() {
            if v.novelty == Novelty::New {
                new_app.insert((m, v.value.clone()));
            }
        }
        // New non-owner readers.
        for v in cx.values(m, Dim::Reader, days).iter() {
            if v.novelty != Novelty::New {
                continue;
            }
            new_reader.insert((m, v.value.clone()));
            out.push(
                Finding::new(
                    SLUG,
                    Level::Low,
                    format!(
                        "{} read mailbox {m} (not their own) for the first time at {}; other readers in the {days} days before: {}",
                        v.value,
                        ts(v.first),
                        cx.baseline_text_at(m, Dim::Reader, v.first, days)
                    ),
                )
                .ctxs(v.ctxs.clone())
                .ev("kind", json!("new_non_owner_reader"))
                .ev("reader", json!(v.value))
                .ev("mailbox", json!(m)),
            );
        }
    }
    // Group contexts by actor key.
    let mut groups: BTreeMap<(By, &str), Vec<usize>> = BTreeMap::new();
    for (i, (k, _)) in cx.st.ctxs.iter().enumerate() {
        if k.kind != crate::state::CtxKind::Mail {
            continue;
        }
        let Some(m) = cx.opt(k.mailbox) else { continue };
        // A non-owner read counts only when the reader is new for the mailbox (an archiver
        // or a long-standing delegate is not breadth).
        let new_pair = k.non_owner()
            && cx
                .opt(k.user)
                .is_some_and(|u| new_reader.contains(&(m, u.to_owned())));
        if let Some(s) = cx.opt(k.session)
            && (!k.non_owner() || new_pair)
        {
            groups.entry((By::Session, s)).or_default().push(i);
        }
        let counts = |set: &BTreeSet<(&str, String)>, v: Option<String>| {
            new_pair || v.is_some_and(|v| set.contains(&(m, v)))
        };
        if let Some(ip) = cx.opt(k.ip)
            && counts(&new_net, cx.network(k.ip))
        {
            groups.entry((By::Ip, ip)).or_default().push(i);
        }
        if let Some(app) = cx.opt(k.app_or_client())
            && counts(&new_app, Some(app.to_owned()))
        {
            groups.entry((By::App, app)).or_default().push(i);
        }
    }
    let short = i64::from(cfg.window_minutes) * 60_000_000_000;
    for ((by, key), ctxs) in groups {
        // (first time in an hour, mailbox)
        let mut pts: Vec<(i64, &str)> = Vec::new();
        for &i in &ctxs {
            let Some((k, c)) = cx.ctx(i) else { continue };
            let m = cx.opt(k.mailbox).unwrap_or("");
            pts.extend(c.hours.values().map(|h| (h.first, m)));
        }
        let distinct: BTreeSet<&str> = pts.iter().map(|p| p.1).collect();
        if distinct.len() < cfg.day_mailboxes.min(cfg.window_mailboxes) as usize {
            continue;
        }
        pts.sort_unstable();
        let hit_short = densest(&pts, short);
        let hit_day = densest(&pts, DAY_NS);
        let (win, n, span_text) = if hit_short.1 >= cfg.window_mailboxes as usize {
            (
                hit_short.0,
                hit_short.1,
                format!("{} minutes", cfg.window_minutes),
            )
        } else if hit_day.1 >= cfg.day_mailboxes as usize {
            (hit_day.0, hit_day.1, "24 hours".to_owned())
        } else {
            continue;
        };
        let (from, to) = win;
        let mailboxes: BTreeSet<&str> = pts
            .iter()
            .filter(|p| p.0 >= from && p.0 <= to)
            .map(|p| p.1)
            .collect();
        let what = match by {
            By::Session => format!("session {key}"),
            By::Ip => format!("IP {key}"),
            By::App => format!("app {}", cx.label(Dim::App, key)),
        };
        let list: Vec<&str> = mailboxes.iter().copied().collect();
        out.push(
            Finding::new(
                SLUG,
                Level::Medium,
                format!(
                    "{what} read {n} mailboxes within {span_text} ({} to {}): {}{} (threshold {} in {} minutes or {} in 24 hours)",
                    ts(from),
                    ts(to),
                    list.iter().take(10).copied().collect::<Vec<_>>().join(", "),
                    if list.len() > 10 { ", …" } else { "" },
                    cfg.window_mailboxes,
                    cfg.window_minutes,
                    cfg.day_mailboxes,
                ),
            )
            .ctxs(ctxs)
            .windows(vec![(from, to + 1)])
            .ev("kind", json!(format!("{by:?}").to_ascii_lowercase()))
            .ev("key", json!(key))
            .ev("mailboxes", json!(list))
            .ev("window", json!(span_text)),
        );
    }
}

/// The window of length `span` with the most distinct mailboxes: ((from, to), count).
fn densest(pts: &[(i64, &str)], span: i64) -> ((i64, i64), usize) {
    let mut best = ((0, 0), 0);
    let mut j = 0;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..pts.len() {
        let (t, m) = pts[i];
        *counts.entry(m).or_default() += 1;
        while j < i && pts[j].0 < t - span {
            let mj = pts[j].1;
            if let Some(c) = counts.get_mut(mj) {
                *c -= 1;
                if *c == 0 {
                    counts.remove(mj);
                }
            }
            j += 1;
        }
        if counts.len() > best.1 {
            best = ((pts[j].0, t), counts.len());
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::super::tests_util::{history, of, run};
    use crate::testkit::{Ev, at};
    use stormwatch_core::{Level, LogonType};

    #[test]
    fn one_ip_many_mailboxes_fast() {
        let mut ev = Vec::new();
        for i in 0..6 {
            let m = format!("u{i}@agency.example");
            ev.extend(history(&m, 8));
            ev.push(
                Ev::mail(&at(8, 3, i), &m)
                    .ip("203.0.113.66")
                    .session(&format!("x{i}"))
                    .build(),
            );
        }
        let out = run(ev);
        let d: Vec<_> = of(&out, super::SLUG)
            .into_iter()
            .filter(|d| d.evidence["kind"] == "ip")
            .collect();
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].level, Level::Medium);
        assert_eq!(d[0].events.len(), 6);
    }

    #[test]
    fn near_miss_office_nat_is_not_breadth() {
        let mut ev = Vec::new();
        for i in 0..6 {
            ev.extend(history(&format!("u{i}@agency.example"), 8));
        }
        let out = run(ev);
        assert!(
            of(&out, super::SLUG).is_empty(),
            "{:#?}",
            of(&out, super::SLUG)
        );
    }

    #[test]
    fn new_delegate_pair_is_low() {
        let mut ev = history("boss@agency.example", 8);
        ev.extend(history("pa@agency.example", 8));
        ev.push(
            Ev::mail(&at(8, 10, 0), "boss@agency.example")
                .user("pa@agency.example")
                .logon(LogonType::Delegated)
                .ip("198.51.100.10")
                .build(),
        );
        let out = run(ev);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].level, Level::Low);
        assert_eq!(d[0].evidence["kind"], "new_non_owner_reader");
    }
}
