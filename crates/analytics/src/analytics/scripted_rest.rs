//! 10. Scripted REST clients for users who never used them.
//!
//! What it detects: mail access whose client string looks scripted (`Client=REST…`, python,
//! PowerShell, curl, … : `scripted_rest.patterns`) for a mailbox whose baseline has no scripted
//! client. Storm-0558's collection scripts called the OWA REST API with
//! `Client=REST;Client=RESTSystem;;`.

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Dim, Finding, Novelty, ts};

pub(crate) const SLUG: &str = "scripted-rest-client";

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    if !cx.cfg.scripted_rest.enabled {
        return;
    }
    let days = cx.cfg.baseline_days;
    for &mailbox in cx.mail_by_mailbox.keys() {
        for v in cx.values(mailbox, Dim::ClientClass, days).iter() {
            if v.novelty != Novelty::New {
                continue;
            }
            let level = Level::Medium;
            let mut clients: Vec<&str> = v
                .ctxs
                .iter()
                .filter_map(|&i| cx.ctx(i).and_then(|(k, _)| cx.opt(k.client_info)))
                .collect();
            clients.sort_unstable();
            clients.dedup();
            let before = cx.baseline_of(mailbox, Dim::ClientInfo, v.first, days);
            let storm = clients
                .iter()
                .any(|c| c.eq_ignore_ascii_case("Client=REST;Client=RESTSystem;;"));
            let mut ex = format!(
                "mailbox {mailbox} read by a scripted client ({}) from {} to {}; clients seen for it in the {days} days before: {}; scripted clients: never",
                clients
                    .iter()
                    .take(3)
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                ts(v.first),
                ts(v.last),
                cx.baseline_text(Dim::ClientInfo, &before),
            );
            if storm {
                ex.push_str("; `Client=REST;Client=RESTSystem;;` is the client string of Storm-0558's collection scripts");
            }
            out.push(
                Finding::new(SLUG, level, ex)
                    .ctxs(v.ctxs.clone())
                    .ev("mailbox", json!(mailbox))
                    .ev("clients", json!(clients))
                    .ev("baseline", json!(before))
                    .ev("storm_0558_client", json!(storm)),
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
    fn rest_client_for_an_outlook_user() {
        let mut ev = history(M, 8);
        ev.push(
            Ev::mail(&at(8, 3, 0), M)
                .client("Client=REST;Client=RESTSystem;;")
                .build(),
        );
        let out = run(ev);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].level, Level::Medium);
        assert!(d[0].explanation.contains("Storm-0558"));
    }

    #[test]
    fn near_miss_user_who_always_scripts() {
        let mut ev: Vec<_> = history(M, 8)
            .into_iter()
            .map(|mut e| {
                if e.mail.is_some() {
                    e.client_info = Some("python-requests/2.31".into());
                }
                e
            })
            .collect();
        ev.push(
            Ev::mail(&at(8, 3, 0), M)
                .client("python-requests/2.32")
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
