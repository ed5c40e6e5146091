//! 9. Sync from a new context: a whole folder exposed.
//!
//! What it detects: a `Sync` MailItemsAccessed record (desktop Outlook downloading a folder)
//! from a network or client string not seen for the mailbox in the `baseline_days` before.
//! Every item of the synced folders is exposed.

use std::collections::HashMap;

use serde_json::json;
use stormwatch_core::{Level, MailAccessType};

use super::{Cx, Dim, Finding, Novelty, Value, ts};

pub(crate) const SLUG: &str = "sync-new-context";

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    if !cx.cfg.sync_new_context.enabled {
        return;
    }
    let days = cx.cfg.baseline_days;
    for &mailbox in cx.mail_by_mailbox.keys() {
        // New values by value: a context's value is found by lookup, not by a scan of every
        // new value's contexts.
        let nets = cx.values(mailbox, Dim::Network, days);
        let new_nets: HashMap<&str, &Value> = nets
            .iter()
            .filter(|v| v.novelty == Novelty::New)
            .map(|v| (v.value.as_str(), v))
            .collect();
        let clients = cx.values(mailbox, Dim::ClientInfo, days);
        let new_clients: HashMap<&str, &Value> = clients
            .iter()
            .filter(|v| v.novelty == Novelty::New)
            .map(|v| (v.value.as_str(), v))
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
            // The context is one of its value's contexts: `values` groups exactly these.
            let net_new = net.as_deref().and_then(|n| new_nets.get(n).copied());
            let client_new = client.and_then(|c| new_clients.get(c).copied());
            if net_new.is_none() && client_new.is_none() {
                continue;
            }
            let mut folders: Vec<&str> = c.folders.iter().map(|&f| cx.name(f)).collect();
            folders.sort_unstable();
            let mut what = Vec::new();
            if let Some(v) = net_new {
                what.push(format!(
                    "network {} (networks in the {days} days before: {})",
                    v.value,
                    cx.baseline_text_at(mailbox, Dim::Network, v.first, days)
                ));
            }
            if let Some(v) = client_new {
                what.push(format!(
                    "client `{}` (clients in the {days} days before: {})",
                    v.value,
                    cx.baseline_text_at(mailbox, Dim::ClientInfo, v.first, days)
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
