//! 5. Watch-listed high-value mailboxes: any new context is high.
//!
//! What it detects: for a mailbox on the watchlist, any app, client string or network (ASN
//! with IP → ASN data, else the /16 or /48) not seen for it in the `baseline_days` before. Needs
//! a full baseline (`learning_days`).

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Dim, Finding, Novelty, ts};

pub(crate) const SLUG: &str = "watchlist-new-context";

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    if !cx.cfg.watchlist_new_context.enabled || cx.watch.is_empty() {
        return;
    }
    let days = cx.cfg.baseline_days;
    for &mailbox in cx.mail_by_mailbox.keys() {
        if !cx.watch.contains(mailbox) {
            continue;
        }
        for dim in [Dim::App, Dim::ClientInfo, Dim::Network] {
            for v in cx.values(mailbox, dim, days).iter() {
                if v.novelty != Novelty::New {
                    continue;
                }
                let before = cx.baseline_of(mailbox, dim, v.first, days);
                let what = match dim {
                    Dim::App => "app",
                    Dim::ClientInfo => "client",
                    _ => "network",
                };
                out.push(
                    Finding::new(
                        SLUG,
                        Level::High,
                        format!(
                            "watch-listed mailbox {mailbox}: new {what} {} from {}; {what}s seen in the {days} days before: {}",
                            cx.label(dim, &v.value),
                            ts(v.first),
                            cx.baseline_text(dim, &before)
                        ),
                    )
                    .ctxs(v.ctxs.clone())
                    .ev("dimension", json!(dim.as_str()))
                    .ev("value", json!(v.value))
                    .ev("mailbox", json!(mailbox))
                    .ev("baseline", json!(before)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_util::{history, of, run_full};
    use crate::AnalyticsConfig;
    use crate::testkit::{Ev, at};
    use stormwatch_core::Level;

    const M: &str = "ambassador@agency.example";

    #[test]
    fn new_client_on_watched_mailbox_is_high_and_unwatched_quiet() {
        let mut ev = history(M, 10);
        ev.push(
            Ev::mail(&at(10, 12, 0), M)
                .session("sess-ambassador-9")
                .ip("198.51.100.10")
                .client("Client=OWA;Action=ViaProxy")
                .build(),
        );
        let out = run_full(
            AnalyticsConfig::default(),
            None,
            vec!["Ambassador@agency.example".into()],
            ev.clone(),
        );
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].level, Level::High);
        let out = run_full(AnalyticsConfig::default(), None, vec![], ev);
        assert!(of(&out, super::SLUG).is_empty());
    }

    #[test]
    fn near_miss_known_context_is_quiet() {
        let out = run_full(
            AnalyticsConfig::default(),
            None,
            vec![M.into()],
            history(M, 10),
        );
        assert!(of(&out, super::SLUG).is_empty());
    }
}
