//! 9. Sync from a new context: a whole folder exposed.
//!
//! What it detects: a `Sync` MailItemsAccessed record (desktop Outlook downloading a folder)
//! from a network or client string not seen for the mailbox in the `baseline_days` before.
//! Every item of the synced folders is exposed.

use serde_json::json;
use stormwatch_core::{Level, MailAccessType};

use super::{Cx, Dim, Finding, Novelty, ts};

pub(crate) const SLUG: &str = "sync-new-context";

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    if !cx.cfg.sync_new_context.enabled {
        return;
    }
    let days = cx.cfg.baseline_days;
    for &mailbox in cx.mail_by_mailbox.keys() {
        let new_nets: Vec<_> = cx
            .values(mailbox, Dim::Network, days)
            .iter()
            .filter(|v| v.novelty == Novelty::New)
            .cloned()
            .collect();
        let new_clients: Vec<_> = cx
            .values(mailbox, Dim::ClientInfo, days)
            .iter()
            .filter(|v| v.novelty == Novelty::New)
            .cloned()
            .collect();
        for &i in cx
            .mail_by_mailbox
            .get(mailbox)
            .map_or(&[][..], Vec::as_slice)
        {
            let Some((k, c)) = cx.ctx(i) else { continue };
            if k.access != Some(MailAccessType::Sync) {
                continue;
            }
            let net = cx.network(k.ip);
            let client = cx.opt(k.client_info);
            let net_new = new_nets
                .iter()
                .find(|v| Some(&v.value) == net.as_ref() && v.ctxs.contains(&i));
            let client_new = new_clients
                .iter()
                .find(|v| Some(v.value.as_str()) == client && v.ctxs.contains(&i));
            if net_new.is_none() && client_new.is_none() {
                continue;
            }
            let mut folders: Vec<&str> = c.folders.iter().map(|&f| cx.name(f)).collect();
            folders.sort_unstable();
            let mut what = Vec::new();
            if let Some(v) = net_new {
                let b = cx.baseline_of(mailbox, Dim::Network, v.first, days);
                what.push(format!(
                    "network {} (networks in the {days} days before: {})",
                    v.value,
                    cx.baseline_text(Dim::Network, &b)
                ));
            }
            if let Some(v) = client_new {
                let b = cx.baseline_of(mailbox, Dim::ClientInfo, v.first, days);
                what.push(format!(
                    "client `{}` (clients in the {days} days before: {})",
                    v.value,
                    cx.baseline_text(Dim::ClientInfo, &b)
                ));
            }
            out.push(
                Finding::new(
                    SLUG,
                    Level::Medium,
                    format!(
                        "mailbox {mailbox} synchronised from a new {} between {} and {}: whole folders exposed: {}",
                        what.join(" and new "),
                        ts(c.first),
                        ts(c.last),
                        if folders.is_empty() { "(folders not logged)".to_owned() } else { folders.join(", ") }
                    ),
                )
                .ctxs(vec![i])
                .ev("mailbox", json!(mailbox))
                .ev("folders", json!(folders))
                .ev("new_network", json!(net_new.map(|v| &v.value)))
                .ev("new_client", json!(client_new.map(|v| &v.value))),
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
    fn sync_from_new_network_exposes_folder() {
        let mut ev = history(M, 8);
        ev.push(
            Ev::mail(&at(8, 2, 0), M)
                .ip("203.0.113.50")
                .sync("\\Sent Items")
                .build(),
        );
        let out = run(ev);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].level, Level::Medium);
        assert!(d[0].explanation.contains("\\Sent Items"));
    }

    #[test]
    fn near_miss_sync_from_known_context_is_quiet() {
        let mut ev = history(M, 8);
        ev.push(
            Ev::mail(&at(8, 10, 0), M)
                .ip("198.51.100.10")
                .sync("\\Inbox")
                .build(),
        );
        let out = run(ev);
        assert!(of(&out, super::SLUG).is_empty());
    }
}
