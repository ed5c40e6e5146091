//! The manifest made from the journal: every window planned by a run or attempted, the last
//! attempt's counts with records written summed over attempts, sums per source, gaps, signals.

use std::collections::{BTreeMap, BTreeSet};

use stormwatch_core::Timestamp;

use super::{
    FORMAT, Gap, Manifest, RunInfo, Signal, SourceSummary, Status, TenantSummary, Totals,
    WindowRecord,
};
use crate::plan;
use crate::source::{Api, Source};
use crate::store::journal::{Entry, RunEntry};

type Key = (String, Source, Timestamp, Timestamp);

/// The reason of a window asked for that no run reached.
pub(crate) const NOT_REACHED: &str =
    "not collected yet: the collection stopped before this window (run it again to continue)";

/// Build the manifest from the journal's entries.
pub(crate) fn build(entries: &[Entry], now: Timestamp) -> Manifest {
    let runs: Vec<&RunEntry> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Run(r) => Some(r),
            _ => None,
        })
        .collect();
    let window_secs = runs.first().map_or(3600, |r| r.window_secs);
    let query_window_secs = runs.first().map_or(86_400, |r| r.query_window_secs);

    let mut tenants_meta: BTreeMap<String, (Option<String>, String)> = BTreeMap::new();
    let mut windows: BTreeMap<Key, WindowRecord> = BTreeMap::new();
    for r in &runs {
        for t in &r.tenants {
            tenants_meta.insert(t.tenant.clone(), (t.name.clone(), t.cloud.clone()));
            for s in &t.sources {
                let Some(source) = Source::from_name(&s.source) else {
                    continue;
                };
                let step = if source.api() == Api::Purview {
                    r.query_window_secs
                } else {
                    r.window_secs
                };
                for (since, until) in &s.ranges {
                    for w in plan::grid(*since, *until, step) {
                        windows
                            .entry((t.tenant.clone(), source, w.from, w.to))
                            .or_insert_with(|| {
                                let mut rec = WindowRecord::new(&t.tenant, source, w);
                                rec.reasons.push(NOT_REACHED.to_owned());
                                rec
                            });
                    }
                }
            }
        }
    }
    let mut subscriptions: BTreeMap<(String, String), Timestamp> = BTreeMap::new();
    for e in entries {
        match e {
            Entry::Window(w) => {
                let rec = &w.record;
                let Some(source) = Source::from_name(&rec.source) else {
                    continue;
                };
                let key = (rec.tenant.clone(), source, rec.from, rec.to);
                let (written, mia, attempts) = windows.get(&key).map_or((0, None, 0), |old| {
                    if old.attempts == 0 {
                        (0, None, 0)
                    } else {
                        (old.records_written, old.mail_items_accessed, old.attempts)
                    }
                });
                let mut new = rec.clone();
                new.records_written += written;
                new.mail_items_accessed = match (mia, rec.mail_items_accessed) {
                    (Some(a), Some(b)) => Some(a + b),
                    (a, b) => a.or(b),
                };
                new.attempts = attempts + 1;
                windows.insert(key, new);
            }
            Entry::Subscription(s) => {
                subscriptions.insert((s.tenant.clone(), s.source.clone()), s.started_at);
            }
            _ => {}
        }
    }
    mark_covered(&mut windows);

    let mut tenants: Vec<TenantSummary> = Vec::new();
    let mut totals = Totals::default();
    let mut by_source: BTreeMap<(String, Source), Vec<&WindowRecord>> = BTreeMap::new();
    for ((tenant, source, _, _), w) in &windows {
        by_source
            .entry((tenant.clone(), *source))
            .or_default()
            .push(w);
    }
    for ((tenant, source), ws) in &by_source {
        let (name, cloud) = tenants_meta
            .get(tenant)
            .cloned()
            .unwrap_or((None, String::new()));
        let mut s = SourceSummary {
            source: source.name().to_owned(),
            label: source.label().to_owned(),
            api: match source.api() {
                Api::Activity => "activity",
                Api::Graph => "graph",
                Api::Purview => "purview",
            }
            .to_owned(),
            from: ws.first().map_or(Timestamp::EPOCH, |w| w.from),
            to: ws.last().map_or(Timestamp::EPOCH, |w| w.to),
            windows: 0,
            complete: 0,
            partial: 0,
            missing: 0,
            listed: 0,
            fetched: 0,
            records_written: 0,
            duplicates: 0,
            retries: 0,
            throttled: 0,
            subscription_started_at: subscriptions
                .get(&(tenant.clone(), source.name().to_owned()))
                .copied(),
        };
        for w in ws {
            s.windows += 1;
            match w.status {
                Status::Complete => s.complete += 1,
                Status::Partial => s.partial += 1,
                Status::Missing => s.missing += 1,
            }
            s.listed += w.listed;
            s.fetched += w.fetched;
            s.records_written += w.records_written;
            s.duplicates += w.duplicates;
            s.retries += u64::from(w.retries);
            s.throttled += u64::from(w.throttled);
        }
        totals.windows += s.windows;
        totals.complete += s.complete;
        totals.partial += s.partial;
        totals.missing += s.missing;
        totals.records_written += s.records_written;
        totals.duplicates += s.duplicates;
        totals.retries += s.retries;
        totals.throttled += s.throttled;
        match tenants.last_mut() {
            Some(t) if &t.tenant == tenant => t.sources.push(s),
            _ => tenants.push(TenantSummary {
                tenant: tenant.clone(),
                name,
                cloud,
                sources: vec![s],
            }),
        }
    }

    let windows: Vec<WindowRecord> = windows.into_values().collect();
    let gaps = gaps(&windows);
    let signals = signals(&windows);
    Manifest {
        format: FORMAT.to_owned(),
        version: 1,
        generated_at: now,
        window_secs,
        query_window_secs,
        runs: runs
            .iter()
            .map(|r| RunInfo {
                run: r.run,
                started_at: r.started_at,
                since: r.since,
                until: r.until,
            })
            .collect(),
        totals,
        tenants,
        gaps,
        signals,
        windows,
    }
}

/// The reason given to an Activity API window that a complete Purview search covers.
pub(crate) const COVERED: &str =
    "its time is covered by the complete auditLogQuery (Purview search) windows";

/// Activity API windows that were not collected but whose whole time a complete Purview search
/// without record type filters covers are not gaps in the Unified Audit Log.
fn mark_covered(windows: &mut BTreeMap<Key, WindowRecord>) {
    let covering: BTreeMap<String, Vec<(Timestamp, Timestamp)>> = windows
        .iter()
        .filter(|((_, s, _, _), w)| *s == Source::AuditLogQuery && w.status == Status::Complete)
        .fold(BTreeMap::new(), |mut m, ((t, _, f, to), _)| {
            m.entry(t.clone()).or_insert_with(Vec::new).push((*f, *to));
            m
        });
    for ((tenant, source, from, to), w) in windows.iter_mut() {
        if source.api() != Api::Activity || w.status == Status::Complete {
            continue;
        }
        let Some(spans) = covering.get(tenant) else {
            continue;
        };
        if covered(spans, *from, *to) && !w.reasons.iter().any(|r| r == COVERED) {
            w.reasons.push(COVERED.to_owned());
        }
    }
}

fn covered(spans: &[(Timestamp, Timestamp)], from: Timestamp, to: Timestamp) -> bool {
    let mut at = from;
    let mut sorted = spans.to_vec();
    sorted.sort();
    for (f, t) in sorted {
        if f <= at && t > at {
            at = t;
        }
        if at >= to {
            return true;
        }
    }
    at >= to
}

fn gaps(windows: &[WindowRecord]) -> Vec<Gap> {
    let mut out: Vec<Gap> = Vec::new();
    for w in windows {
        if w.status == Status::Complete || w.reasons.iter().any(|r| r == COVERED) {
            continue;
        }
        let reason = if w.reasons.is_empty() {
            "no reason recorded".to_owned()
        } else {
            w.reasons.join("; ")
        };
        if let Some(g) = out.last_mut()
            && g.tenant == w.tenant
            && g.source == w.source
            && g.status == w.status
            && g.to == w.from
            && g.reason == reason
        {
            g.to = w.to;
            g.windows += 1;
            continue;
        }
        out.push(Gap {
            tenant: w.tenant.clone(),
            source: w.source.clone(),
            from: w.from,
            to: w.to,
            status: w.status,
            reason,
            windows: 1,
        });
    }
    out
}

fn signals(windows: &[WindowRecord]) -> Vec<Signal> {
    #[derive(Default)]
    struct Acc {
        ual_windows: u64,
        ual_complete: u64,
        ual_records: u64,
        exchange_records: u64,
        exchange_complete: u64,
        mail_items_accessed: u64,
        premium: bool,
        audit_off: bool,
        disabled: BTreeSet<String>,
    }
    let mut per: BTreeMap<&str, Acc> = BTreeMap::new();
    for w in windows {
        let a = per.entry(&w.tenant).or_default();
        let Some(source) = Source::from_name(&w.source) else {
            continue;
        };
        let text = w.errors.join(" ") + " " + &w.reasons.join(" ");
        if source.family() == crate::source::Family::Ual && w.attempts > 0 {
            a.ual_windows += 1;
            a.ual_records += w.records_written;
            if w.status == Status::Complete {
                a.ual_complete += 1;
            }
        }
        if matches!(source, Source::Exchange | Source::AuditLogQuery) {
            a.exchange_records += w.records_written;
            a.mail_items_accessed += w.mail_items_accessed.unwrap_or(0);
            if w.status == Status::Complete {
                a.exchange_complete += 1;
            }
        }
        if text.contains("Authentication_RequestFromNonPremiumTenantOrB2CTenant") {
            a.premium = true;
        }
        if text.contains("Audit.DataServiceException") || text.contains("does not exist") {
            a.audit_off = true;
        }
        if text.contains("AF20023") {
            a.disabled.insert(w.source.clone());
        }
    }
    let mut out = Vec::new();
    for (tenant, a) in per {
        let mut push = |kind: &str, detail: String| {
            out.push(Signal {
                tenant: tenant.to_owned(),
                kind: kind.to_owned(),
                detail,
            });
        };
        if a.exchange_records > 0 && a.mail_items_accessed == 0 {
            push(
                "no_mail_items_accessed",
                format!(
                    "{} Exchange audit records collected and not one MailItemsAccessed: the tenant may lack the licence that logs mail reads (Audit Premium, E5/G5, in 2023; Audit Standard since 2024), or mailbox auditing of MailItemsAccessed is off; mail access cannot be shown from these logs",
                    a.exchange_records
                ),
            );
        }
        if a.ual_windows > 0 && a.ual_complete == a.ual_windows && a.ual_records == 0 {
            push(
                "no_audit_records",
                "no Unified Audit Log record at all in windows collected completely: audit logging may be off for the tenant, or its subscriptions are new (content appears up to 12 hours after a subscription starts)".to_owned(),
            );
        }
        if a.premium {
            push(
                "sign_ins_need_premium",
                "Graph refused the sign-in logs because the tenant has no Entra ID P1/P2 licence (Authentication_RequestFromNonPremiumTenantOrB2CTenant)".to_owned(),
            );
        }
        if a.audit_off {
            push(
                "audit_log_off",
                "the Activity API answered that the tenant does not exist for auditing: unified audit logging is probably turned off".to_owned(),
            );
        }
        if !a.disabled.is_empty() {
            push(
                "subscription_disabled",
                format!(
                    "subscriptions disabled by an administrator (AF20023): {}",
                    a.disabled.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn adjacent_windows_with_one_reason_merge_into_one_gap() {
        let mk = |from: &str, to: &str, status: Status, reason: &str| {
            let mut w = WindowRecord::new(
                "t",
                Source::Exchange,
                plan::Window {
                    from: ts(from),
                    to: ts(to),
                },
            );
            w.status = status;
            if !reason.is_empty() {
                w.reasons.push(reason.to_owned());
            }
            w
        };
        let ws = vec![
            mk(
                "2023-06-03T10:00:00Z",
                "2023-06-03T11:00:00Z",
                Status::Missing,
                "HTTP 403",
            ),
            mk(
                "2023-06-03T11:00:00Z",
                "2023-06-03T12:00:00Z",
                Status::Missing,
                "HTTP 403",
            ),
            mk(
                "2023-06-03T12:00:00Z",
                "2023-06-03T13:00:00Z",
                Status::Complete,
                "",
            ),
            mk(
                "2023-06-03T13:00:00Z",
                "2023-06-03T14:00:00Z",
                Status::Missing,
                "HTTP 403",
            ),
            mk(
                "2023-06-03T14:00:00Z",
                "2023-06-03T15:00:00Z",
                Status::Partial,
                "HTTP 403",
            ),
        ];
        let g = gaps(&ws);
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].windows, 2);
        assert_eq!(
            g[0].describe(),
            "Exchange audit (Audit.Exchange) for tenant t, 2023-06-03 10:00–12:00 UTC: not collected: HTTP 403"
        );
        assert_eq!(g[2].status, Status::Partial);
    }

    #[test]
    fn coverage_needs_the_whole_span() {
        let spans = [
            (ts("2023-06-01T00:00:00Z"), ts("2023-06-02T00:00:00Z")),
            (ts("2023-06-02T00:00:00Z"), ts("2023-06-03T00:00:00Z")),
        ];
        assert!(covered(
            &spans,
            ts("2023-06-01T05:00:00Z"),
            ts("2023-06-02T06:00:00Z")
        ));
        assert!(!covered(
            &spans,
            ts("2023-06-02T23:00:00Z"),
            ts("2023-06-03T01:00:00Z")
        ));
    }
}
