//! The limits of the evidence: what the logs cannot show, said in the report, never silent.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use stormwatch_core::impact::{CoverageRow, SourceCoverage};
use stormwatch_core::{InputStats, Limit, LimitKind, Timestamp};

use crate::assessor::{Assessor, MailboxState, NO_DAY};
use crate::audit_gaps::{self, DayAct, Gap, GapKind};
use crate::finish::{MbxB, OrgB, UNKNOWN_TENANT, tenant_text};
use crate::intern::{NONE, Sym};
use crate::span::Span;

const DAY_SECS: i64 = 86_400;
const NANOS: i64 = 1_000_000_000;
/// Gap limits kept per tenant (the rest are summarised in one more).
const MAX_GAPS: usize = 30;
/// Mailboxes named in one "activity but no MailItemsAccessed" limit.
const MAX_NAMED: usize = 20;
/// Located errors quoted in the parse-errors limit.
const MAX_QUOTED_ERRORS: usize = 3;
/// Audit-bypass operations reported one by one.
const MAX_BYPASS_LIMITS: usize = 20;

pub(crate) struct Context<'a> {
    pub(crate) a: &'a Assessor,
    pub(crate) stats: &'a InputStats,
    pub(crate) window: Span,
}

fn lim(kind: LimitKind, from: Option<Timestamp>, to: Option<Timestamp>, detail: String) -> Limit {
    Limit {
        kind,
        from,
        to,
        detail,
    }
}

fn ts(n: i64) -> Timestamp {
    Timestamp::from_nanos(n)
}

/// Sort limits: by kind (most consequential first), then time, then text.
pub(crate) fn sort(v: &mut [Limit]) {
    v.sort_by(|x, y| (x.kind, x.from, x.to, &x.detail).cmp(&(y.kind, y.from, y.to, &y.detail)));
}

/// A throttled window on one mailbox.
pub(crate) fn throttled(from: i64, to: i64, touched: bool) -> Limit {
    let detail = if touched {
        format!(
            "MailItemsAccessed was throttled at {}: Bind records were not written until {}. \
             Messages read in this window cannot be listed; presume the whole mailbox exposed.",
            ts(from),
            ts(to)
        )
    } else {
        format!(
            "MailItemsAccessed was throttled at {} until {}, while the actor was active in this \
             organisation: reads in this window are not observable; presume the mailbox exposed.",
            ts(from),
            ts(to)
        )
    };
    lim(LimitKind::Throttled, Some(ts(from)), Some(ts(to)), detail)
}

/// Limits of one mailbox in the report.
pub(crate) fn mailbox(mb: &mut MbxB, state: Option<&MailboxState>) {
    let mia = state.map_or(mb.mia, |s| s.mia);
    if mb.records > 0 && mia == 0 {
        mb.limits.push(lim(
            LimitKind::NoMailAudit,
            mb.span.first_ts(),
            mb.span.last_ts().map(|t| t.add_seconds(1)),
            format!(
                "The actor was active on this mailbox ({} records) but the input holds no \
                 MailItemsAccessed record for it (no audit licence, mailbox auditing off, or left \
                 out of the export): which messages were read is not observable.",
                mb.records
            ),
        ));
    }
    if mb.items_lost > 0 {
        mb.limits.push(lim(
            LimitKind::ItemsLost,
            None,
            None,
            format!(
                "{} actor MailItemsAccessed records on this mailbox came from an export that \
                 flattened their folder items: those messages cannot be listed (their \
                 OperationCount is counted in unlisted binds).",
                mb.items_lost
            ),
        ));
    }
}

/// Limits of the whole input, of organisations and of mailboxes.
pub(crate) struct General {
    pub(crate) top: Vec<Limit>,
    /// Tenant id → limits.
    pub(crate) per_org: BTreeMap<String, Vec<Limit>>,
    /// (tenant id, mailbox) → limits, for mailboxes touched by the actor or not.
    pub(crate) per_mailbox: BTreeMap<(String, String), Vec<Limit>>,
}

/// Top-level limits, and limits per organisation and per mailbox.
pub(crate) fn general(cx: &Context<'_>, orgs: &BTreeMap<String, OrgB>) -> General {
    let mut top = Vec::new();
    let mut per_org: BTreeMap<String, Vec<Limit>> = BTreeMap::new();
    let mut per_mailbox: BTreeMap<(String, String), Vec<Limit>> = BTreeMap::new();
    no_mail_audit(cx, orgs, &mut top, &mut per_org, &mut per_mailbox);
    log_gaps(cx, &mut top, &mut per_org);
    parse_errors(cx.stats, &mut top);
    items_lost(cx, &mut top);
    edges(cx, &mut top);
    if cx.a.sign_ins == 0 {
        top.push(lim(
            LimitKind::NoSignIns,
            None,
            None,
            "No Entra ID sign-in records in the input: sessions were linked to IPs through \
             mailbox records only, and no sign-in could be checked behind a session."
                .to_owned(),
        ));
    }
    bypass(cx, &mut top, &mut per_org);
    let actor_reads = orgs
        .values()
        .flat_map(|o| o.mailboxes.values())
        .any(|m| m.mia > 0);
    if actor_reads {
        top.push(lim(
            LimitKind::Dedup,
            None,
            None,
            "Read counts are lower bounds: Exchange writes one MailItemsAccessed record for \
             repeated reads of the same item in the same context within an hour. Distinct \
             messages are exact inside the observable window."
                .to_owned(),
        ));
    }
    sort(&mut top);
    General {
        top,
        per_org,
        per_mailbox,
    }
}

/// `no_mail_audit`: tenants and mailboxes whose mail-access audit is missing, or stops, starts
/// late or pauses while their other activity goes on (see [`audit_gaps`]).
fn no_mail_audit(
    cx: &Context<'_>,
    orgs: &BTreeMap<String, OrgB>,
    top: &mut Vec<Limit>,
    per_org: &mut BTreeMap<String, Vec<Limit>>,
    per_mailbox: &mut BTreeMap<(String, String), Vec<Limit>>,
) {
    let a = cx.a;
    let mut tenants: HashMap<Sym, (u64, u64, Span)> = HashMap::new();
    for (&(t, _, day), &(r, m)) in &a.grid {
        let e = tenants.entry(t).or_insert((0, 0, Span::default()));
        e.0 += r;
        e.1 += m;
        if day != NO_DAY {
            e.2.add(Some(i64::from(day) * DAY_SECS * NANOS));
        }
    }
    let mut sorted: Vec<(String, Sym, (u64, u64, Span))> = tenants
        .into_iter()
        .filter(|(t, _)| *t != NONE)
        .map(|(t, v)| (tenant_text(a, t), t, v))
        .collect();
    sorted.sort_by(|x, y| x.0.cmp(&y.0));
    // Days per (tenant, person); the tenant itself is person NONE.
    let mut days: HashMap<(Sym, Sym), BTreeMap<i32, DayAct>> = HashMap::new();
    for (&(t, p, day), act) in &a.audit {
        days.entry((t, p)).or_default().insert(day, *act);
    }
    for (tenant, tsym, (records, mia, span)) in &sorted {
        if *records == 0 {
            continue;
        }
        if *mia == 0 {
            let l = lim(
                LimitKind::NoMailAudit,
                span.first_ts(),
                span.last_ts().map(|t| t.add_seconds(DAY_SECS)),
                format!(
                    "Tenant {tenant}: {records} records but no MailItemsAccessed (no audit licence, \
                     mailbox auditing off, or left out of the export): mail reads in this \
                     organisation are not observable. Absence of reads here does not mean none \
                     happened."
                ),
            );
            top.push(l.clone());
            per_org.entry(tenant.clone()).or_default().push(l);
            continue;
        }
        // The tenant's own runs without mail-access records.
        let empty = BTreeMap::new();
        let tdays = days.get(&(*tsym, NONE)).unwrap_or(&empty);
        let tenant_gaps = audit_gaps::gaps(tdays, None);
        for g in &tenant_gaps {
            let l = lim(
                LimitKind::NoMailAudit,
                Some(ts(g.from)),
                Some(ts(g.to)),
                format!(
                    "Tenant {tenant}: {} while {} other records (sign-ins, logons, sends, file \
                     access) on {} days go on: the audit licence may have lapsed, mailbox auditing \
                     been turned off, or the export left them out. Mail reads in this window are \
                     not observable; absence of reads here does not mean none happened.",
                    gap_words(g),
                    g.other,
                    g.days
                ),
            );
            top.push(l.clone());
            per_org.entry(tenant.clone()).or_default().push(l);
        }
        // Each mailbox's own runs, where the tenant's do not already cover them.
        let rate = audit_gaps::rate(tdays);
        let mut named: Vec<(String, Gap)> = Vec::new();
        for ((t, p), pdays) in &days {
            if t != tsym || *p == NONE || !a.mailboxes.contains_key(&(*t, *p)) {
                continue;
            }
            let mailbox = a.strings.resolve(*p).to_owned();
            for g in audit_gaps::gaps(pdays, rate) {
                if tenant_gaps
                    .iter()
                    .any(|tg| tg.from <= g.from && g.to <= tg.to)
                {
                    continue;
                }
                let l = lim(
                    LimitKind::NoMailAudit,
                    Some(ts(g.from)),
                    Some(ts(g.to)),
                    format!(
                        "Mailbox {mailbox}: {} while {} other Exchange records of this mailbox \
                         and its owner (sends, moves, other mailbox operations) on {} days go on: \
                         its auditing or licence may have changed. Reads of this mailbox in this \
                         window are not observable.",
                        gap_words(&g),
                        g.other,
                        g.days
                    ),
                );
                per_mailbox
                    .entry((tenant.clone(), mailbox.clone()))
                    .or_default()
                    .push(l);
                named.push((mailbox.clone(), g));
            }
        }
        if named.is_empty() {
            continue;
        }
        named.sort_by(|x, y| (&x.0, x.1.from).cmp(&(&y.0, y.1.from)));
        let n: BTreeSet<&str> = named.iter().map(|(m, _)| m.as_str()).collect();
        let listed: Vec<String> = named
            .iter()
            .take(MAX_NAMED)
            .map(|(m, g)| format!("{m} ({} to {})", ts(g.from), ts(g.to)))
            .collect();
        let more = if named.len() > MAX_NAMED {
            format!(" and {} more", named.len() - MAX_NAMED)
        } else {
            String::new()
        };
        let l = lim(
            LimitKind::NoMailAudit,
            named.iter().map(|(_, g)| ts(g.from)).min(),
            named.iter().map(|(_, g)| ts(g.to)).max(),
            format!(
                "Tenant {tenant}: {} mailboxes have activity without MailItemsAccessed records \
                 for all or part of the input (unlicensed, auditing off for them, or left out \
                 of the export): reads there are not observable: {}{more}.",
                n.len(),
                listed.join(", ")
            ),
        );
        top.push(l.clone());
        if orgs.contains_key(tenant) {
            per_org.entry(tenant.clone()).or_default().push(l);
        }
    }
}

/// "no MailItemsAccessed record from X to Y", by kind.
fn gap_words(g: &Gap) -> String {
    let (f, t) = (ts(g.from), ts(g.to));
    match g.kind {
        GapKind::Missing => format!("no MailItemsAccessed record at all ({f} to {t})"),
        GapKind::Starts => {
            format!("MailItemsAccessed records start only at {t}, after activity from {f}")
        }
        GapKind::Pauses => format!("no MailItemsAccessed record between {f} and {t}"),
        GapKind::Stops => format!("MailItemsAccessed records stop at {f} (activity until {t})"),
    }
}

fn log_gaps(cx: &Context<'_>, top: &mut Vec<Limit>, per_org: &mut BTreeMap<String, Vec<Limit>>) {
    let mut days: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for &(t, _, day) in cx.a.grid.keys() {
        if day != NO_DAY {
            days.entry(tenant_text(cx.a, t))
                .or_default()
                .insert(i64::from(day));
        }
    }
    for (tenant, set) in days {
        let (Some(&lo), Some(&hi)) = (set.first(), set.last()) else {
            continue;
        };
        let mut gaps: Vec<(i64, i64)> = Vec::new();
        let mut prev = lo;
        for &d in set.iter().skip(1) {
            if d > prev + 1 {
                gaps.push((prev + 1, d));
            }
            prev = d;
        }
        let span_text = format!(
            "{} to {}",
            Timestamp::from_unix_seconds(lo * DAY_SECS).date_string(),
            Timestamp::from_unix_seconds(hi * DAY_SECS).date_string()
        );
        let total = gaps.len();
        for &(from, to) in gaps.iter().take(MAX_GAPS) {
            let f = Timestamp::from_unix_seconds(from * DAY_SECS);
            let t = Timestamp::from_unix_seconds(to * DAY_SECS);
            let n = to - from;
            let what = if n == 1 {
                f.date_string()
            } else {
                format!(
                    "{} to {} ({n} days)",
                    f.date_string(),
                    t.add_seconds(-DAY_SECS).date_string()
                )
            };
            let l = lim(
                LimitKind::LogGap,
                Some(f),
                Some(t),
                format!(
                    "Tenant {tenant}: no record at all on {what}, inside the span the input covers \
                     ({span_text}): anything that happened then is not observable."
                ),
            );
            top.push(l.clone());
            per_org.entry(tenant.clone()).or_default().push(l);
        }
        if total > MAX_GAPS {
            top.push(lim(
                LimitKind::LogGap,
                None,
                None,
                format!(
                    "Tenant {tenant}: {} more gaps of whole days not listed.",
                    total - MAX_GAPS
                ),
            ));
        }
    }
}

fn parse_errors(stats: &InputStats, top: &mut Vec<Limit>) {
    let skipped = stats.skipped();
    if skipped > 0 {
        let quoted: Vec<String> = stats
            .errors
            .iter()
            .take(MAX_QUOTED_ERRORS)
            .map(ToString::to_string)
            .collect();
        let first = if quoted.is_empty() {
            String::new()
        } else {
            format!(" First: {}.", quoted.join("; "))
        };
        top.push(lim(
            LimitKind::ParseErrors,
            None,
            None,
            format!(
                "{skipped} records could not be read and were skipped: what they recorded is not \
                 in this report.{first}"
            ),
        ));
    }
    for (path, reason) in &stats.unreadable {
        top.push(lim(
            LimitKind::ParseErrors,
            None,
            None,
            format!("Input {path} could not be opened ({reason}): none of it is in this report."),
        ));
    }
}

fn items_lost(cx: &Context<'_>, top: &mut Vec<Limit>) {
    let from_files: u64 = cx.stats.files.iter().map(|f| f.items_lost).sum();
    let n = from_files.max(cx.a.items_lost_records);
    if n == 0 {
        return;
    }
    let files: Vec<&str> = cx
        .stats
        .files
        .iter()
        .filter(|f| f.items_lost > 0)
        .map(|f| f.file.as_str())
        .collect();
    let in_files = if files.is_empty() {
        String::new()
    } else {
        format!(" ({})", files.join(", "))
    };
    top.push(lim(
        LimitKind::ItemsLost,
        None,
        None,
        format!(
            "{n} MailItemsAccessed records come from an export that flattened their folder \
             items{in_files}: the messages they list are lost. Re-export them as JSON to list them."
        ),
    ));
}

/// The start and end of the input: activity may reach beyond them.
fn edges(cx: &Context<'_>, top: &mut Vec<Limit>) {
    let mut input = Span::default();
    for f in &cx.stats.files {
        input.add(f.first.map(Timestamp::nanos));
        input.add(f.last.map(Timestamp::nanos));
    }
    if input.is_empty() {
        input = cx.a.span;
    }
    if input.is_empty() || cx.window.is_empty() {
        return;
    }
    let day = DAY_SECS * NANOS;
    if cx.window.first.saturating_sub(input.first) < day {
        top.push(lim(
            LimitKind::RetentionEdge,
            None,
            Some(ts(input.first)),
            format!(
                "The actor's first record ({}) is within a day of the start of the input ({}): \
                 earlier activity may lie beyond the export range or the retention period \
                 (90/180 days Audit Standard, 1 year Premium).",
                ts(cx.window.first),
                ts(input.first)
            ),
        ));
    }
    if input.last.saturating_sub(cx.window.last) < day {
        top.push(lim(
            LimitKind::RetentionEdge,
            Some(ts(input.last)),
            None,
            format!(
                "The actor's last record ({}) is within a day of the end of the input ({}): the \
                 activity may continue after it.",
                ts(cx.window.last),
                ts(input.last)
            ),
        ));
    }
}

fn bypass(cx: &Context<'_>, top: &mut Vec<Limit>, per_org: &mut BTreeMap<String, Vec<Limit>>) {
    let mut v = cx.a.bypass.clone();
    v.sort();
    for b in v.iter().take(MAX_BYPASS_LIMITS) {
        let tenant = tenant_text(cx.a, b.tenant);
        let l = lim(
            LimitKind::AuditBypass,
            b.time,
            None,
            format!(
                "Tenant {tenant}: {} ({}) may have bypassed or disabled mailbox auditing: reads \
                 after it may be missing from the log.",
                b.operation, b.loc
            ),
        );
        top.push(l.clone());
        if tenant != UNKNOWN_TENANT {
            per_org.entry(tenant).or_default().push(l);
        }
    }
    if cx.a.bypass_count > MAX_BYPASS_LIMITS as u64 {
        top.push(lim(
            LimitKind::AuditBypass,
            None,
            None,
            format!(
                "{} more operations that may bypass or disable mailbox auditing not listed.",
                cx.a.bypass_count - MAX_BYPASS_LIMITS as u64
            ),
        ));
    }
}

/// Coverage rows: from the reader's statistics, or from what was observed when they are empty.
pub(crate) fn coverage_rows(a: &Assessor, stats: &InputStats) -> Vec<CoverageRow> {
    if !stats.coverage.is_empty() {
        // Tenant ids compared case-insensitively, as everywhere in the report.
        let mut merged: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
        for ((tenant, workload, day), c) in &stats.coverage {
            let tenant = if tenant.is_empty() {
                UNKNOWN_TENANT.to_owned()
            } else {
                tenant.to_ascii_lowercase()
            };
            let e = merged
                .entry((tenant, workload.clone(), day.clone()))
                .or_default();
            e.0 += c.records;
            e.1 += c.mail_items_accessed;
        }
        return merged
            .into_iter()
            .map(
                |((tenant, workload, day), (records, mail_items_accessed))| CoverageRow {
                    tenant,
                    workload,
                    day,
                    records,
                    mail_items_accessed,
                },
            )
            .collect();
    }
    let mut rows: Vec<CoverageRow> = a
        .grid
        .iter()
        .map(|(&(t, w, day), &(records, mia))| CoverageRow {
            tenant: tenant_text(a, t),
            workload: if w == NONE {
                "unknown".to_owned()
            } else {
                a.strings.resolve(w).to_owned()
            },
            day: if day == NO_DAY {
                "unknown".to_owned()
            } else {
                Timestamp::from_unix_seconds(i64::from(day) * DAY_SECS).date_string()
            },
            records,
            mail_items_accessed: mia,
        })
        .collect();
    rows.sort_by(|x, y| (&x.tenant, &x.workload, &x.day).cmp(&(&y.tenant, &y.workload, &y.day)));
    rows
}

/// Per input file.
pub(crate) fn sources(stats: &InputStats) -> Vec<SourceCoverage> {
    stats
        .files
        .iter()
        .map(|f| SourceCoverage {
            file: f.file.clone(),
            format: f.format.clone(),
            records: f.records,
            skipped: f.skipped,
            first: f.first,
            last: f.last,
        })
        .collect()
}
