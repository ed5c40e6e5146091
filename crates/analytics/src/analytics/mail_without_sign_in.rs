//! 2. Mail access with no sign-in behind it.
//!
//! What it detects: Exchange records (MailItemsAccessed, OWA token issuance, other mailbox
//! operations) whose SessionId has no successful sign-in in the `session_lookback_hours`
//! before, and whose UniqueTokenId has none in the `token_lookback_hours` before. Forged tokens
//! have no issuance record (this is how Microsoft recognised Storm-0558's tokens). If the user
//! signed in from the record's IP within ± `ip_window_hours` the record drops to medium;
//! records with neither session nor token id can only be joined by IP (medium at most). Runs
//! only on hours covered by the sign-in logs in the input.

use std::collections::BTreeMap;

use serde_json::json;
use stormwatch_core::{Level, LogonType};

use super::{Cx, Finding, hour_ranges, thousands, ts};
use crate::state::{CtxKind, HOUR_NS};

pub(crate) const SLUG: &str = "mail-access-without-sign-in";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Why {
    /// Session / token id present, neither joined, IP not in the user's sign-ins.
    NoJoinNoIp,
    /// Session / token id present, neither joined, but the IP is in the user's sign-ins.
    NoJoinIpSeen,
    /// No session or token id; the IP is not in the user's sign-ins.
    IpOnly,
}

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.no_sign_in;
    let si = &cx.st.sign_ins;
    if !cfg.enabled || !si.present() {
        return;
    }
    let Some((sf, sl)) = si.hours() else { return };
    let refreshes = si.non_interactive > 0;
    let lookback = i64::from(cfg.session_lookback_hours);
    let max_age = i64::from(cfg.session_max_age_days) * 24;
    let tok = i64::from(cfg.token_lookback_hours);
    let ipw = i64::from(cfg.ip_window_hours);
    for (i, (k, c)) in cx.st.ctxs.iter().enumerate() {
        let Some(user) = k.user else { continue };
        if c.app_only
            || c.guest
            || matches!(
                k.logon,
                Some(LogonType::Transport | LogonType::SystemService)
            )
        {
            continue;
        }
        let user_signed_in = si.users.contains(&user);
        let mut bad: BTreeMap<Why, Vec<i64>> = BTreeMap::new();
        for &h in c.hours.keys() {
            if h < sf - 1 || h > sl + 1 {
                continue;
            }
            // Sessions outlive refreshes: without non-interactive sign-ins, or near the start
            // of the sign-in logs, any earlier sign-in of the session within its lifetime counts.
            let back = if refreshes && h >= sf + lookback {
                lookback
            } else {
                max_age
            };
            let session_ok = k.session.is_some_and(|s| si.session_in(s, h - back, h + 1));
            let utis: Vec<_> = c
                .utis
                .range((h, 0)..=(h, u32::MAX))
                .map(|&(_, u)| u)
                .collect();
            let token_ok = utis.iter().any(|&u| si.uti_in(u, h - tok, h + 1));
            if session_ok || token_ok {
                continue;
            }
            let ip_ok =
                k.ip.is_some_and(|ip| si.user_ip_in(user, ip, h - ipw, h + ipw));
            let has_id = k.session.is_some() || !utis.is_empty();
            let why = match (has_id, ip_ok) {
                (true, false) => Why::NoJoinNoIp,
                (true, true) => Why::NoJoinIpSeen,
                (false, false) => Why::IpOnly,
                (false, true) => continue,
            };
            bad.entry(why).or_default().push(h);
        }
        for (why, hours) in bad {
            let records: u64 = hours
                .iter()
                .filter_map(|h| c.hours.get(h))
                .map(|a| u64::from(a.records))
                .sum();
            let mut level = match why {
                Why::NoJoinNoIp => Level::High,
                Why::NoJoinIpSeen | Why::IpOnly => Level::Medium,
            };
            let name = |s| cx.name(s);
            let what = match k.kind {
                CtxKind::Mail => "mail access",
                CtxKind::OwaToken => "OWA token issuance",
                CtxKind::Exchange => "Exchange operation",
            };
            let mut ex = format!(
                "{} {what} record{} by {} ",
                thousands(records),
                if records == 1 { "" } else { "s" },
                name(user),
            );
            if let Some(m) = k.mailbox.filter(|&m| m != user) {
                ex.push_str(&format!("on mailbox {} ", name(m)));
            }
            ex.push_str(&format!(
                "from {} to {}: ",
                ts(hours.first().copied().unwrap_or(0) * HOUR_NS),
                ts((hours.last().copied().unwrap_or(0) + 1) * HOUR_NS)
            ));
            match k.session {
                Some(s) => ex.push_str(&format!(
                    "no sign-in with SessionId {} in the {} h before",
                    name(s),
                    if refreshes { lookback } else { max_age }
                )),
                None => ex.push_str("the records carry no SessionId"),
            }
            let mut uti_names: Vec<&str> = c
                .utis
                .iter()
                .filter(|(h, _)| hours.contains(h))
                .map(|&(_, u)| name(u))
                .collect();
            uti_names.sort_unstable();
            uti_names.dedup();
            if uti_names.is_empty() {
                ex.push_str("; no UniqueTokenId logged");
            } else {
                ex.push_str(&format!(
                    "; no sign-in issued UniqueTokenId {}",
                    uti_names
                        .iter()
                        .take(3)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let ip = cx.opt(k.ip).unwrap_or("(none)");
            match why {
                Why::NoJoinNoIp | Why::IpOnly => ex.push_str(&format!("; {} has no sign-in from IP {ip} within ±{ipw} h", name(user))),
                Why::NoJoinIpSeen => ex.push_str(&format!(
                    "; but {} did sign in from IP {ip} within ±{ipw} h (weaker evidence, ranked medium)",
                    name(user)
                )),
            }
            if why == Why::IpOnly {
                ex.push_str(" (IP-only evidence, ranked medium)");
            }
            ex.push_str(&format!(
                ". Sign-in logs searched: {} successful sign-ins ({} interactive, {} non-interactive) from {} to {}",
                thousands(si.records - si.failed),
                thousands(si.interactive),
                thousands(si.non_interactive),
                ts(si.first.unwrap_or(0)),
                ts(si.last.unwrap_or(0)),
            ));
            if !user_signed_in {
                level = level.min(Level::Medium);
                ex.push_str(&format!(
                    ". {} has no sign-in at all in the input: the sign-in export may not cover this user, level capped at medium",
                    name(user)
                ));
            }
            if !refreshes {
                ex.push_str(". No non-interactive sign-ins in the input: sessions were matched against any sign-in of the session in the last days");
            }
            let mut f = Finding::new(SLUG, level, ex)
                .ctxs(vec![i])
                .windows(hour_ranges(hours.iter().copied()))
                .ev("session_id", json!(cx.opt(k.session)))
                .ev("unique_token_ids", json!(uti_names))
                .ev("ip", json!(cx.opt(k.ip)))
                .ev("ip_in_user_sign_ins", json!(why == Why::NoJoinIpSeen))
                .ev(
                    "session_lookback_hours",
                    json!(if refreshes { lookback } else { max_age }),
                )
                .ev("token_lookback_hours", json!(tok))
                .ev("ip_window_hours", json!(ipw))
                .ev("sign_ins_searched", json!(si.records - si.failed))
                .ev("user_has_sign_ins", json!(user_signed_in));
            if level >= Level::High {
                f = f.strong();
            }
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_util::{history, max_level, of, run};
    use crate::testkit::{Ev, at};
    use stormwatch_core::Level;

    const M: &str = "envoy@agency.example";

    #[test]
    fn forged_session_without_sign_in_is_high() {
        let mut ev = history(M, 5);
        ev.push(
            Ev::mail(&at(4, 3, 0), M)
                .session("forged-1")
                .ip("51.89.156.153")
                .build(),
        );
        ev.push(
            Ev::mail(&at(4, 3, 30), M)
                .session("forged-1")
                .ip("51.89.156.153")
                .build(),
        );
        let out = run(ev);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1, "{:#?}", d);
        assert_eq!(d[0].level, Level::High);
        assert_eq!(d[0].events.len(), 2);
        assert!(
            d[0].explanation
                .contains("no sign-in with SessionId forged-1"),
            "{}",
            d[0].explanation
        );
    }

    #[test]
    fn near_miss_backed_sessions_are_quiet() {
        let out = run(history(M, 5));
        assert!(
            of(&out, super::SLUG).is_empty(),
            "{:#?}",
            of(&out, super::SLUG)
        );
    }

    #[test]
    fn token_id_join_backs_a_record() {
        let mut ev = history(M, 3);
        ev.push(
            Ev::sign_in(&at(2, 20, 0), M)
                .uti("tok-A")
                .ip("198.51.100.99")
                .build(),
        );
        ev.push(
            Ev::mail(&at(2, 21, 0), M)
                .uti("tok-A")
                .ip("198.51.100.99")
                .build(),
        );
        let out = run(ev);
        assert!(of(&out, super::SLUG).is_empty());
    }

    #[test]
    fn ip_seen_in_sign_ins_ranks_medium_and_ip_only_medium() {
        let mut ev = history(M, 3);
        ev.push(
            Ev::mail(&at(2, 12, 30), M)
                .session("other-session")
                .ip("198.51.100.10")
                .build(),
        );
        let out = run(ev);
        assert_eq!(max_level(&out, super::SLUG), Some(Level::Medium));
        let mut ev = history(M, 3);
        ev.push(Ev::mail(&at(2, 3, 0), M).ip("203.0.113.77").build());
        let out = run(ev);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].level, Level::Medium);
        assert!(d[0].explanation.contains("IP-only"));
    }

    #[test]
    fn no_sign_in_logs_no_detection_and_a_note() {
        let out = run(vec![Ev::mail(&at(0, 3, 0), M).session("s").build()]);
        assert!(of(&out, super::SLUG).is_empty());
        assert!(
            out.notes.iter().any(|n| n.contains("no sign-in logs")),
            "{:?}",
            out.notes
        );
    }
}
