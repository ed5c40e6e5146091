//! 6. Hosting / VPN ASN, or an ASN new for the mailbox.
//!
//! What it detects: mail access from an address whose AS organisation matches a hosting / VPN
//! keyword (medium), or from an AS not seen for the mailbox in the `asn.baseline_days` before
//! (low). Needs IP → ASN data (`--asn-db FILE`); without it nothing runs and the output says so.

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Dim, Finding, Novelty, ts};

pub(crate) const SLUG: &str = "hosting-or-new-asn";

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.asn;
    if !cfg.enabled || cx.asn.is_none() {
        return;
    }
    let keywords: Vec<String> = cfg
        .hosting_keywords
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    for &mailbox in cx.mail_by_mailbox.keys() {
        for v in cx.values(mailbox, Dim::Asn, cfg.baseline_days).iter() {
            let Some(info) = v
                .ctxs
                .iter()
                .find_map(|&i| cx.ctx(i).and_then(|(k, _)| cx.asn_of(k.ip)))
            else {
                continue;
            };
            let org = info.org.to_ascii_lowercase();
            let hosting = keywords.iter().find(|k| org.contains(k.as_str()));
            let new = v.novelty == Novelty::New;
            if hosting.is_none() && !new {
                continue;
            }
            let level = if hosting.is_some() {
                Level::Medium
            } else {
                Level::Low
            };
            let before = cx.baseline_of(mailbox, Dim::Asn, v.first, cfg.baseline_days);
            let mut ex = format!(
                "mailbox {mailbox} read from AS{} {} from {} to {}",
                info.asn,
                info.org,
                ts(v.first),
                ts(v.last)
            );
            if let Some(k) = hosting {
                ex.push_str(&format!(": a hosting / VPN network (matched `{k}`)"));
            }
            if new {
                ex.push_str(&format!(
                    "; networks seen for this mailbox in the {} days before: {}; this one: never",
                    cfg.baseline_days,
                    cx.baseline_text(Dim::Asn, &before)
                ));
            }
            out.push(
                Finding::new(SLUG, level, ex)
                    .ctxs(v.ctxs.clone())
                    .ev("asn", json!(info.asn))
                    .ev("org", json!(info.org))
                    .ev("hosting", json!(hosting))
                    .ev("new_for_mailbox", json!(new))
                    .ev("baseline", json!(before)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::tests_util::{history, of, run_full};
    use crate::testkit::{Ev, at};
    use crate::{AnalyticsConfig, AsnDb};
    use stormwatch_core::Level;

    const M: &str = "envoy@agency.example";

    fn db() -> AsnDb {
        let p = std::env::temp_dir().join(format!("sw-asn-{}.csv", std::process::id()));
        std::fs::write(&p, "198.51.100.0,198.51.100.255,64500,Agency Net\n51.89.0.0,51.89.255.255,16276,OVH SAS\n203.0.113.0,203.0.113.255,64501,Home ISP\n").unwrap();
        let db = AsnDb::load(&p).unwrap();
        let _ = std::fs::remove_file(&p);
        db
    }

    #[test]
    fn hosting_medium_new_asn_low_known_quiet() {
        let mut ev = history(M, 10);
        ev.push(Ev::mail(&at(10, 3, 0), M).ip("51.89.1.1").build());
        ev.push(Ev::mail(&at(10, 20, 0), M).ip("203.0.113.8").build());
        let out = run_full(AnalyticsConfig::default(), Some(db()), vec![], ev);
        let mut levels: Vec<Level> = of(&out, super::SLUG).iter().map(|d| d.level).collect();
        levels.sort();
        assert_eq!(levels, vec![Level::Low, Level::Medium]);
        let out = run_full(
            AnalyticsConfig::default(),
            Some(db()),
            vec![],
            history(M, 10),
        );
        assert!(of(&out, super::SLUG).is_empty());
    }

    #[test]
    fn absent_data_is_said() {
        let out = run_full(AnalyticsConfig::default(), None, vec![], history(M, 2));
        assert!(
            out.notes.iter().any(|n| n.contains("ASN")),
            "{:?}",
            out.notes
        );
    }
}
