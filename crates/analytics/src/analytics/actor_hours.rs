//! 14. Actor hours: a modifier that raises scores, never a detection on its own.
//!
//! What it does: when most of a detection's records fall in the actor window (by default
//! Monday–Friday 00:00–09:00 UTC, Storm-0558's working hours) and the mailbox owner's own
//! activity rarely does (at most `norm_fraction` of it), the detection's score is raised and
//! its explanation says so. Its level is not changed.

use serde_json::json;

use super::{Cx, Finding};
use crate::config::ActorHoursConfig;
use crate::state::HOUR_NS;

#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const SLUG: &str = "actor-hours";

pub(crate) fn in_window(cfg: &ActorHoursConfig, hour_index: i64) -> bool {
    let t = stormwatch_core::Timestamp::from_nanos(hour_index * HOUR_NS);
    (!cfg.weekdays_only || t.weekday() < 5) && (cfg.start_hour..cfg.end_hour).contains(&t.hour())
}

/// The owner's records in the window and in total (input plus saved baseline; the input's
/// hours the saved baseline already holds are counted once).
pub(crate) fn owner_norm(cx: &Cx<'_>, mailbox: &str) -> (u64, u64) {
    let norms = || {
        cx.owner_norms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(&n) = norms().get(mailbox) {
        return n;
    }
    let n = compute_owner_norm(cx, mailbox);
    norms().insert(mailbox.to_owned(), n);
    n
}

fn compute_owner_norm(cx: &Cx<'_>, mailbox: &str) -> (u64, u64) {
    let cfg = &cx.cfg.actor_hours;
    let (mut inside, mut total) = (0u64, 0u64);
    for &i in cx
        .mail_by_mailbox
        .get(mailbox)
        .map_or(&[][..], Vec::as_slice)
    {
        let Some((k, c)) = cx.ctx(i) else { continue };
        if k.non_owner() {
            continue;
        }
        for (&h, a) in &c.hours {
            if cx.folded(k, h) {
                continue;
            }
            total += u64::from(a.records);
            if in_window(cfg, h) {
                inside += u64::from(a.records);
            }
        }
    }
    if let Some(b) = cx.snap.mailboxes.get(mailbox) {
        inside += b.actor_window_records;
        total += b.owner_records;
    }
    (inside, total)
}

/// Apply the modifier to a finding; returns the score bonus.
pub(crate) fn apply(cx: &Cx<'_>, f: &mut Finding) -> u32 {
    let cfg = &cx.cfg.actor_hours;
    if !cfg.enabled {
        return 0;
    }
    let (mut inside, mut total) = (0u64, 0u64);
    let mut mailbox = None;
    for &i in &f.ctxs {
        let Some((k, c)) = cx.ctx(i) else { continue };
        mailbox = mailbox.or(cx.opt(k.mailbox));
        for (&h, a) in &c.hours {
            let t0 = h * HOUR_NS;
            if f.windows
                .as_ref()
                .is_some_and(|w| !w.iter().any(|&(a, b)| t0 + HOUR_NS > a && t0 < b))
            {
                continue;
            }
            total += u64::from(a.records);
            if in_window(cfg, h) {
                inside += u64::from(a.records);
            }
        }
    }
    let Some(mailbox) = mailbox else { return 0 };
    if total == 0 || inside * 2 < total {
        return 0;
    }
    let (own_in, own_total) = owner_norm(cx, mailbox);
    let own_in = own_in.saturating_sub(inside.min(own_in));
    let own_total = own_total.saturating_sub(total.min(own_total));
    #[allow(clippy::cast_precision_loss)]
    let frac = if own_total == 0 {
        0.0
    } else {
        own_in as f64 / own_total as f64
    };
    if own_total > 0 && frac > cfg.norm_fraction {
        return 0;
    }
    f.explanation.push_str(&format!(
        ". Actor hours: {inside} of {total} records fall {}{:02}:00–{:02}:00 UTC, when the owner's own activity is {:.0}% ({own_in} of {own_total} records): score raised",
        if cfg.weekdays_only { "Monday–Friday " } else { "" },
        cfg.start_hour,
        cfg.end_hour,
        frac * 100.0
    ));
    f.evidence.insert(
        "actor_hours".into(),
        json!({"records_in_window": inside, "records": total, "owner_fraction_in_window": frac}),
    );
    10
}

#[cfg(test)]
mod tests {
    use super::super::tests_util::{history, of, run};
    use crate::testkit::{EVIL_APP, Ev, at};

    #[test]
    fn raises_score_of_night_activity_but_never_fires_alone() {
        // 2023-05-15 is a Monday; at(14, 3, 0) is Monday 03:00 UTC.
        let mut ev = history("envoy@agency.example", 14);
        ev.push(
            Ev::mail(&at(14, 3, 0), "envoy@agency.example")
                .client_app(EVIL_APP)
                .build(),
        );
        let out = run(ev);
        assert!(of(&out, super::SLUG).is_empty());
        let d = of(&out, "new-mail-app");
        assert_eq!(d.len(), 1);
        assert!(
            d[0].explanation.contains("Actor hours"),
            "{}",
            d[0].explanation
        );
        assert!(d[0].evidence["actor_hours"].is_object());
        // Daytime: no modifier.
        let mut ev = history("envoy@agency.example", 14);
        ev.push(
            Ev::mail(&at(14, 13, 0), "envoy@agency.example")
                .client_app(EVIL_APP)
                .build(),
        );
        let out = run(ev);
        assert!(
            !of(&out, "new-mail-app")[0]
                .explanation
                .contains("Actor hours")
        );
    }
}
