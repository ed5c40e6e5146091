//! 8. Bulk binds: more reads than the mailbox's norm, huge single records, throttling.
//!
//! What it detects: a context-hour whose Σ OperationCount exceeds the mailbox's mean +
//! `sigma` × standard deviation of context-hours (with at least `min_history_hours` samples and
//! `min_hour_operations` operations); a single record with OperationCount ≥
//! `single_record_operations`; any record with `IsThrottled` (more than 1,000 records in
//! 24 hours: Bind auditing stops, assume everything in the next 24 hours was read).

use serde_json::json;
use stormwatch_core::{Level, MailAccessType};

use super::{Cx, Finding, hour_ranges, thousands, ts};
use crate::baseline::RunningStats;
use crate::state::HOUR_NS;

pub(crate) const SLUG: &str = "bulk-bind";

/// Per-mailbox statistics of Σ OperationCount per context-hour (input plus saved baseline;
/// the input's hours the saved baseline already holds are counted once).
pub(crate) fn mailbox_stats(cx: &Cx<'_>, mailbox: &str) -> RunningStats {
    let mut samples: Vec<u64> = Vec::new();
    for &i in cx
        .mail_by_mailbox
        .get(mailbox)
        .map_or(&[][..], Vec::as_slice)
    {
        if let Some((k, c)) = cx.ctx(i)
            && k.access != Some(MailAccessType::Sync)
        {
            samples.extend(
                c.hours
                    .iter()
                    .filter(|&(&h, _)| !cx.folded(k, h))
                    .map(|(_, a)| a.ops),
            );
        }
    }
    // Sorted, so the floating-point sums do not depend on input order.
    samples.sort_unstable();
    let mut s = RunningStats::default();
    #[allow(clippy::cast_precision_loss)]
    samples.iter().for_each(|&x| s.push(x as f64));
    if let Some(b) = cx.snap.mailboxes.get(mailbox) {
        s.merge(&b.hourly_operations);
    }
    s
}

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.bulk_bind;
    if !cfg.enabled {
        return;
    }
    for (&mailbox, idxs) in &cx.mail_by_mailbox {
        let stats = mailbox_stats(cx, mailbox);
        let limit = stats.mean + cfg.sigma * stats.std_dev();
        let norm_ok = stats.n >= u64::from(cfg.min_history_hours);
        for &i in idxs {
            let Some((k, c)) = cx.ctx(i) else { continue };
            if k.access == Some(MailAccessType::Sync) {
                continue;
            }
            let mut hours = Vec::new();
            let mut reasons: Vec<String> = Vec::new();
            for (&h, a) in &c.hours {
                #[allow(clippy::cast_precision_loss)]
                let above = norm_ok && a.ops >= cfg.min_hour_operations && (a.ops as f64) > limit;
                let huge = a.max_ops >= cfg.single_record_operations;
                let thr = a.throttled > 0;
                if !(above || huge || thr) {
                    continue;
                }
                if thr {
                    // Everything in the following 24 hours is presumed read.
                    hours.extend(h..h + 24);
                } else {
                    hours.push(h);
                }
                let at = ts(h * HOUR_NS);
                if above {
                    reasons.push(format!(
                        "{} binds in the hour from {at}, above the mailbox's norm of {:.1} ± {:.1} per context-hour ({} hours; threshold mean + {}σ = {:.0})",
                        thousands(a.ops), stats.mean, stats.std_dev(), stats.n, cfg.sigma, limit
                    ));
                }
                if huge {
                    reasons.push(format!(
                        "a single record of {} binds in the hour from {at} (threshold {})",
                        thousands(a.max_ops),
                        cfg.single_record_operations
                    ));
                }
                if thr {
                    reasons.push(format!("IsThrottled=True in the hour from {at}: Bind auditing stopped for 24 hours, assume everything in that window was read"));
                }
            }
            if reasons.is_empty() {
                continue;
            }
            let n = reasons.len();
            reasons.truncate(5);
            let mut ex = format!(
                "mailbox {mailbox}, {} via {} from {}: {}",
                cx.opt(k.user).unwrap_or("(unknown user)"),
                cx.opt(k.app_or_client()).map_or_else(
                    || "(no app id)".to_owned(),
                    |a| cx.label(super::Dim::App, a)
                ),
                cx.opt(k.ip).unwrap_or("(no IP)"),
                reasons.join("; ")
            );
            if n > 5 {
                ex.push_str(&format!("; and {} more hours", n - 5));
            }
            out.push(
                Finding::new(SLUG, Level::Medium, ex)
                    .ctxs(vec![i])
                    .windows(hour_ranges(hours))
                    .ev("mailbox", json!(mailbox))
                    .ev("hour_mean", json!(stats.mean))
                    .ev("hour_std_dev", json!(stats.std_dev()))
                    .ev("hours_in_norm", json!(stats.n))
                    .ev("throttled_records", json!(c.throttled))
                    .ev("max_single_record", json!(c.max_ops)),
            );
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
    fn spike_huge_and_throttled() {
        let mut ev = history(M, 5);
        for m in 0..30 {
            ev.push(
                Ev::mail(&at(5, 3, m), M)
                    .session("bulk")
                    .ip("203.0.113.9")
                    .ops(20)
                    .build(),
            );
        }
        let out = run(ev);
        assert_eq!(max_level(&out, super::SLUG), Some(Level::Medium));
        let mut ev = history(M, 1);
        ev.push(Ev::mail(&at(1, 3, 0), M).ops(150).build());
        ev.push(
            Ev::mail(&at(1, 5, 0), M)
                .user("svc@agency.example")
                .throttled()
                .build(),
        );
        let out = run(ev);
        assert_eq!(of(&out, super::SLUG).len(), 2);
    }

    #[test]
    fn near_miss_normal_volume_is_quiet() {
        let mut ev = history(M, 5);
        ev.push(Ev::mail(&at(5, 3, 0), M).ops(40).build());
        let out = run(ev);
        assert!(
            of(&out, super::SLUG).is_empty(),
            "{:#?}",
            of(&out, super::SLUG)
        );
    }
}
