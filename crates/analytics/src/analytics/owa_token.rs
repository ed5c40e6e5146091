//! 12. OWA token issuance anomalies (RecordType 275, where present).
//!
//! What it detects: bursts of OWA `GetAccessTokenForResource` issuances (RecordType 275) for
//! one user: at least `burst_per_hour` in an hour. Storm-0558 renewed tokens through this API.
//! Issuances whose session or token id has no sign-in lineage are reported by
//! `mail-access-without-sign-in`. The record's exact semantics are not publicly confirmed.

use std::collections::BTreeMap;

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Finding, hour_ranges, ts};
use crate::state::{CtxKind, HOUR_NS};

pub(crate) const SLUG: &str = "owa-token-issuance";

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.owa_token;
    if !cfg.enabled || cx.st.owa_token_records == 0 {
        return;
    }
    // user → hour → (records, ctxs)
    let mut per: BTreeMap<&str, BTreeMap<i64, (u64, Vec<usize>)>> = BTreeMap::new();
    for (i, (k, c)) in cx.st.ctxs.iter().enumerate() {
        if k.kind != CtxKind::OwaToken {
            continue;
        }
        let Some(u) = cx.opt(k.user) else { continue };
        for (&h, a) in &c.hours {
            let e = per.entry(u).or_default().entry(h).or_default();
            e.0 += u64::from(a.records);
            e.1.push(i);
        }
    }
    for (user, hours) in per {
        let burst: Vec<(i64, u64)> = hours
            .iter()
            .filter(|(_, v)| v.0 >= u64::from(cfg.burst_per_hour))
            .map(|(&h, v)| (h, v.0))
            .collect();
        if burst.is_empty() {
            continue;
        }
        let mut ctxs: Vec<usize> = burst
            .iter()
            .flat_map(|(h, _)| hours.get(h).map(|v| v.1.clone()).unwrap_or_default())
            .collect();
        ctxs.sort_unstable();
        ctxs.dedup();
        let peak = burst.iter().map(|b| b.1).max().unwrap_or(0);
        out.push(
            Finding::new(
                SLUG,
                Level::Medium,
                format!(
                    "{user}: OWA token issuance (RecordType 275) bursts in {} hour{} from {}, peak {peak} in one hour (threshold {} per hour)",
                    burst.len(),
                    if burst.len() == 1 { "" } else { "s" },
                    ts(burst.first().map_or(0, |b| b.0) * HOUR_NS),
                    cfg.burst_per_hour
                ),
            )
            .ctxs(ctxs)
            .windows(hour_ranges(burst.iter().map(|b| b.0)))
            .ev("user", json!(user))
            .ev("burst_hours", json!(burst.len()))
            .ev("peak_per_hour", json!(peak)),
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
    fn burst_fires_trickle_does_not() {
        let burst: Vec<_> = (0..25)
            .map(|m| {
                Ev::exchange(&at(0, 3, m), M, "OWAAuth")
                    .record_type(275)
                    .session("s")
                    .build()
            })
            .collect();
        let out = run(burst);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].level, Level::Medium);
        assert_eq!(d[0].events.len(), 25);
        let trickle: Vec<_> = (0..5)
            .map(|m| {
                Ev::exchange(&at(0, 3, m), M, "OWAAuth")
                    .record_type(275)
                    .session("s")
                    .build()
            })
            .collect();
        assert!(of(&run(trickle), super::SLUG).is_empty());
    }
}
