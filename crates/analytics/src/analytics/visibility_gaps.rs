//! 13. Visibility gaps: findings about the evidence itself.
//!
//! What it reports: mailboxes with Exchange activity but no MailItemsAccessed at all (no
//! audit licence or the action is not audited: reads are not observable); throttled mailboxes
//! (Bind auditing stopped for 24 hours); audit bypass or audit turned off; days inside the
//! input's span with no record at all.

use std::collections::BTreeMap;

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Finding, hour_ranges, thousands, ts};
use crate::state::{DAY_NS, HOUR_NS};

pub(crate) const SLUG: &str = "visibility-gaps";

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.visibility;
    if !cfg.enabled {
        return;
    }
    // Not audited: per tenant, the mailboxes with Exchange activity and no MailItemsAccessed.
    let mut unaudited: BTreeMap<&str, Vec<(&str, u64, i64, stormwatch_core::Location)>> =
        BTreeMap::new();
    for (&who, a) in &cx.st.activity {
        if a.mail == 0
            && a.exchange >= cfg.min_exchange_records
            && let Some(first) = &a.first
        {
            unaudited
                .entry(cx.opt(a.tenant).unwrap_or(""))
                .or_default()
                .push((cx.name(who), a.exchange, first.t, first.location()));
        }
    }
    for (tenant, mut list) in unaudited {
        list.sort_by(|a, b| a.0.cmp(b.0));
        let names: Vec<&str> = list.iter().map(|l| l.0).collect();
        let tenant_has_mail = cx
            .st
            .activity
            .values()
            .any(|a| a.mail > 0 && cx.opt(a.tenant).unwrap_or("") == tenant);
        let mut f = Finding::new(
            SLUG,
            Level::Low,
            format!(
                "{} mailbox{} {}with Exchange activity but no MailItemsAccessed record at all ({}{}): reads of {} are not observable, which is not the same as not accessed{}",
                list.len(),
                if list.len() == 1 { "" } else { "es" },
                if tenant.is_empty() { String::new() } else { format!("of tenant {tenant} ") },
                names.iter().take(10).copied().collect::<Vec<_>>().join(", "),
                if names.len() > 10 { ", …" } else { "" },
                if list.len() == 1 { "this mailbox" } else { "these mailboxes" },
                if tenant_has_mail { "" } else { "; the tenant has no MailItemsAccessed records at all (no Audit Premium licence, or MailItemsAccessed not enabled)" }
            ),
        )
        .ev("kind", json!("no_mail_audit"))
        .ev("mailboxes", json!(names))
        .ev("exchange_records", json!(list.iter().map(|l| l.1).sum::<u64>()));
        f.extra = list.iter().map(|l| (l.2, l.3.clone())).collect();
        f.fields.tenant = (!tenant.is_empty()).then(|| tenant.to_owned());
        out.push(f);
    }
    // Throttling.
    for (&mailbox, idxs) in &cx.mail_by_mailbox {
        let mut hours: Vec<i64> = Vec::new();
        let mut ctxs = Vec::new();
        for &i in idxs {
            let Some((_, c)) = cx.ctx(i) else { continue };
            let h: Vec<i64> = c
                .hours
                .iter()
                .filter(|(_, a)| a.throttled > 0)
                .map(|(&h, _)| h)
                .collect();
            if !h.is_empty() {
                ctxs.push(i);
                hours.extend(h);
            }
        }
        if hours.is_empty() {
            continue;
        }
        hours.sort_unstable();
        let first = hours[0] * HOUR_NS;
        let last = hours[hours.len() - 1] * HOUR_NS;
        out.push(
            Finding::new(
                SLUG,
                Level::Low,
                format!(
                    "mailbox {mailbox} was throttled (IsThrottled=True) from {}: Bind auditing stops for 24 hours after more than 1,000 records in a day, so reads until {} are not observable; presume the mailbox exposed",
                    ts(first),
                    ts(last + DAY_NS)
                ),
            )
            .ctxs(ctxs)
            .windows(hour_ranges(hours.iter().copied()))
            .ev("kind", json!("throttled"))
            .ev("mailbox", json!(mailbox))
            .ev("from", json!(ts(first)))
            .ev("to", json!(ts(last + DAY_NS))),
        );
    }
    // Audit configuration changes.
    for a in &cx.st.audit_changes {
        let mut f = Finding::new(
            SLUG,
            Level::Medium,
            format!(
                "{} ran {} at {}: {}",
                cx.opt(a.user).unwrap_or("(unknown user)"),
                a.operation,
                ts(a.t),
                a.what
            ),
        )
        .ev("kind", json!("audit_change"))
        .ev("operation", json!(a.operation));
        f.extra.push((a.t, a.loc.clone()));
        f.fields.user = cx.opt(a.user).map(str::to_owned);
        f.fields.tenant = cx.opt(a.tenant).map(str::to_owned);
        out.push(f);
    }
    // Days with nothing.
    let days: Vec<i64> = cx.st.days.keys().copied().collect();
    for w in days.windows(2) {
        let gap = w[1] - w[0] - 1;
        if gap >= i64::from(cfg.min_gap_days.max(1)) {
            let from = (w[0] + 1) * DAY_NS;
            let mut f = Finding::new(
                SLUG,
                Level::Informational,
                format!(
                    "no records at all on {} day{} from {} to {} (inside the input's span, {} records before, {} after): nothing in those days is observable",
                    gap,
                    if gap == 1 { "" } else { "s" },
                    ts(from).date_string(),
                    ts(w[1] * DAY_NS - 1).date_string(),
                    thousands(cx.st.days.range(..=w[0]).map(|(_, n)| n).sum()),
                    thousands(cx.st.days.range(w[1]..).map(|(_, n)| n).sum()),
                ),
            )
            .ev("kind", json!("log_gap"))
            .ev("from", json!(ts(from)))
            .ev("to", json!(ts(w[1] * DAY_NS)));
            f.at = Some(from);
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_util::{history, of, run};
    use crate::testkit::{Ev, at};
    use stormwatch_core::Level;

    #[test]
    fn unaudited_throttled_bypass_and_gap() {
        let mut ev = history("a@agency.example", 2);
        for i in 0..25 {
            ev.push(Ev::exchange(&at(0, 10, i), "quiet@agency.example", "Send").build());
        }
        ev.push(
            Ev::mail(&at(1, 4, 0), "a@agency.example")
                .throttled()
                .build(),
        );
        ev.push(
            Ev::exchange(
                &at(1, 5, 0),
                "admin@agency.example",
                "Set-MailboxAuditBypassAssociation",
            )
            .raw(r#"{"Parameters":[{"Name":"AuditBypassEnabled","Value":"True"}]}"#)
            .build(),
        );
        ev.push(Ev::mail(&at(5, 10, 0), "a@agency.example").build());
        let out = run(ev);
        let d = of(&out, super::SLUG);
        let kinds: Vec<(&str, Level)> = d
            .iter()
            .map(|d| (d.evidence["kind"].as_str().unwrap_or(""), d.level))
            .collect();
        for k in [
            ("no_mail_audit", Level::Low),
            ("throttled", Level::Low),
            ("audit_change", Level::Medium),
            ("log_gap", Level::Informational),
        ] {
            assert!(kinds.contains(&k), "{k:?} not in {kinds:?}");
        }
    }

    #[test]
    fn near_miss_audited_continuous_is_quiet() {
        let mut ev = history("a@agency.example", 4);
        ev.push(
            Ev::exchange(&at(1, 5, 0), "admin@agency.example", "Set-Mailbox")
                .raw(r#"{"ExternalAccess":false,"Parameters":[{"Name":"Identity","Value":"a"},{"Name":"AuditEnabled","Value":"True"}]}"#)
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
