//! 4. Known-bad infrastructure: IOC IPs inside their validity window.
//!
//! What it detects: any record (mail access, sign-in, any operation) from an IOC IP. Inside the
//! indicator's window: critical; within `margin_days` of it: medium (published windows are
//! first/last sightings, so use just outside them is plausible, but VPS addresses are
//! reassigned); further out: informational. Records in sessions that signed in from an IOC IP inside its
//! window are included (CISA's playbook join).

use std::collections::BTreeMap;

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Finding, ts};
use crate::iocs::{Indicator, WindowFit};

pub(crate) const SLUG: &str = "ioc-infrastructure";

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.ioc;
    if !cfg.enabled {
        return;
    }
    // (ip, fit, who) → hits
    let mut groups: BTreeMap<(String, WindowFit, String), Vec<usize>> = BTreeMap::new();
    let mut best: Vec<(WindowFit, Option<&Indicator>)> = Vec::with_capacity(cx.st.ioc_hits.len());
    for (i, h) in cx.st.ioc_hits.iter().enumerate() {
        let t = stormwatch_core::Timestamp::from_nanos(h.t);
        let b = cx
            .iocs
            .get(&h.ip)
            .iter()
            .map(|ind| (ind.fit(t, cfg.margin_days), Some(ind)))
            .min_by(|a, b| a.0.cmp(&b.0))
            .unwrap_or((WindowFit::Outside, None));
        best.push(b);
        let who = cx.opt(h.mailbox.or(h.user)).unwrap_or("").to_owned();
        groups
            .entry((h.ip.to_string(), b.0, who))
            .or_default()
            .push(i);
    }
    for ((ip, fit, who), hits) in groups {
        let Some(first) = hits.first().and_then(|&i| cx.st.ioc_hits.get(i)) else {
            continue;
        };
        let ind = best.get(hits[0]).and_then(|b| b.1);
        let level = match fit {
            WindowFit::Inside => Level::Critical,
            WindowFit::Margin => Level::Medium,
            WindowFit::Outside => Level::Informational,
        };
        let last = hits
            .last()
            .and_then(|&i| cx.st.ioc_hits.get(i))
            .map_or(first.t, |h| h.t);
        let window = ind.map_or_else(|| "(none)".to_owned(), Indicator::window_text);
        let what = ind.map_or("", |i| i.description.as_str());
        let source = ind.map_or("", |i| i.source.as_str());
        let n = hits.len();
        let sign_ins = hits
            .iter()
            .filter(|&&i| cx.st.ioc_hits.get(i).is_some_and(|h| h.sign_in))
            .count();
        let place = match fit {
            WindowFit::Inside => "inside its window".to_owned(),
            WindowFit::Margin => format!(
                "outside its window but within the ±{}-day margin (ranked medium: the address may already be reassigned)",
                cfg.margin_days
            ),
            WindowFit::Outside => format!(
                "outside its window (±{} days): the address may have been reassigned, informational only",
                cfg.margin_days
            ),
        };
        let mut ex = format!(
            "{n} record{} ({sign_ins} sign-in{}) {}from IOC IP {ip} ({what}; known bad {window}; source: {source}) between {} and {}, {place}",
            if n == 1 { "" } else { "s" },
            if sign_ins == 1 { "" } else { "s" },
            if who.is_empty() {
                String::new()
            } else {
                format!("for {who} ")
            },
            ts(first.t),
            ts(last),
        );
        let mut f = Finding::new(SLUG, level, String::new());
        let mut sessions: Vec<String> = Vec::new();
        for &i in &hits {
            if let Some(h) = cx.st.ioc_hits.get(i) {
                f.extra.push((h.t, h.loc.clone()));
                if let Some(s) = cx.opt(h.session)
                    && !sessions.iter().any(|x| x == s)
                {
                    sessions.push(s.to_owned());
                }
            }
        }
        sessions.sort();
        if fit != WindowFit::Outside && !sessions.is_empty() {
            // Every record of these sessions, whatever its IP.
            let ctxs: Vec<usize> = cx
                .st
                .ctxs
                .iter()
                .enumerate()
                .filter(|(_, (k, _))| {
                    cx.opt(k.session)
                        .is_some_and(|s| sessions.iter().any(|x| x == s))
                })
                .map(|(i, _)| i)
                .collect();
            if !ctxs.is_empty() {
                ex.push_str(&format!(
                    "; {} session{} used from it ({}) also cover the other records of those sessions",
                    sessions.len(),
                    if sessions.len() == 1 { "" } else { "s" },
                    sessions.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            f.ctxs = ctxs;
        }
        f.explanation = ex;
        f.fields.ip = Some(ip.clone());
        f.fields.user = cx.opt(first.user).map(str::to_owned);
        f.fields.mailbox = cx.opt(first.mailbox).map(str::to_owned);
        f.fields.tenant = cx.opt(first.tenant).map(str::to_owned);
        f.fields.session = sessions.first().cloned();
        if fit == WindowFit::Inside {
            f.fields.ips.push(ip.clone());
            f.fields.sessions.clone_from(&sessions);
            f = f.strong();
        }
        out.push(
            f.ev("ioc_ip", json!(ip))
                .ev("indicator", json!(ind))
                .ev("window_fit", json!(format!("{fit:?}").to_ascii_lowercase()))
                .ev("margin_days", json!(cfg.margin_days))
                .ev("sessions", json!(sessions)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_util::{of, run};
    use crate::testkit::{Ev, at};
    use stormwatch_core::Level;

    const M: &str = "envoy@agency.example";

    #[test]
    fn inside_margin_outside() {
        // at(0,..) is 2023-05-01. 37.143.130.146 was known 5/12–5/19.
        let out = run(vec![
            Ev::mail(&at(14, 3, 0), M).ip("37.143.130.146").build(), // 5/15: inside
            Ev::mail(&at(23, 3, 0), "b@agency.example")
                .ip("37.143.130.146")
                .build(), // 5/24: margin
            Ev::mail(&at(60, 3, 0), "c@agency.example")
                .ip("37.143.130.146")
                .build(), // 6/30: outside
        ]);
        let mut levels: Vec<Level> = of(&out, super::SLUG).iter().map(|d| d.level).collect();
        levels.sort();
        assert_eq!(
            levels,
            vec![Level::Informational, Level::Medium, Level::Critical]
        );
        let crit = of(&out, super::SLUG)
            .into_iter()
            .find(|d| d.level == Level::Critical)
            .unwrap_or_else(|| unreachable!());
        assert!(
            crit.explanation.contains("2023-05-12 to 2023-05-19"),
            "{}",
            crit.explanation
        );
    }

    #[test]
    fn sign_in_from_ioc_pulls_in_its_session() {
        let out = run(vec![
            Ev::sign_in(&at(14, 2, 0), M)
                .ip("37.143.130.146")
                .session("s-bad")
                .build(),
            Ev::mail(&at(14, 3, 0), M)
                .ip("198.51.100.200")
                .session("s-bad")
                .build(),
        ]);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].events.len(), 2);
    }

    #[test]
    fn near_miss_other_ip_is_quiet() {
        let out = run(vec![
            Ev::mail(&at(14, 3, 0), M).ip("37.143.130.147").build(),
        ]);
        assert!(of(&out, super::SLUG).is_empty());
    }
}
