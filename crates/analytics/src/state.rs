//! What `observe` keeps: compact per-entity aggregates, decided on at `finish`.
//!
//! Records are folded into contexts (mailbox × user × session × IP × app × client × logon ×
//! access type × tenant); each context keeps per-hour buckets, its token ids, its folders and at
//! most `max_events_per_context` record locations (the earliest by time, so the kept set does
//! not depend on input order). Sign-ins are folded into per-session, per-token and per-user-IP
//! hour sets. Memory grows with the number of entities and hours, not with the number of records.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use stormwatch_core::{Event, Location, LogonType, MailAccessType, Outcome, Timestamp};

use crate::intern::{FastMap as HashMap, FastSet as HashSet, Interner, Sym};
use crate::loc::Kept;

/// Nanoseconds per hour.
pub(crate) const HOUR_NS: i64 = 3_600_000_000_000;
/// Nanoseconds per day.
pub(crate) const DAY_NS: i64 = 24 * HOUR_NS;

pub(crate) fn hour_of(n: i64) -> i64 {
    n.div_euclid(HOUR_NS)
}

/// Which kind of Exchange record a context holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum CtxKind {
    /// `MailItemsAccessed`.
    Mail,
    /// OWA token issuance (RecordType 275).
    OwaToken,
    /// Any other Exchange record with a session, token or mailbox.
    Exchange,
}

/// The identity of a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct CtxKey {
    pub(crate) kind: CtxKind,
    pub(crate) mailbox: Option<Sym>,
    pub(crate) user: Option<Sym>,
    pub(crate) session: Option<Sym>,
    pub(crate) ip: Option<Sym>,
    pub(crate) app: Option<Sym>,
    pub(crate) client_app: Option<Sym>,
    pub(crate) client_info: Option<Sym>,
    pub(crate) logon: Option<LogonType>,
    pub(crate) access: Option<MailAccessType>,
    pub(crate) tenant: Option<Sym>,
    pub(crate) token_tenant: Option<Sym>,
}

impl CtxKey {
    /// `ClientAppId` when present, else `AppId`.
    pub(crate) fn app_or_client(&self) -> Option<Sym> {
        self.client_app.or(self.app)
    }
    /// The acting user reads someone else's mailbox.
    pub(crate) fn non_owner(&self) -> bool {
        matches!((self.user, self.mailbox), (Some(u), Some(m)) if u != m)
            || matches!(
                self.logon,
                Some(LogonType::Delegated | LogonType::Admin | LogonType::DelegatedAdmin)
            )
    }
}

/// One hour of a context.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HourAgg {
    pub(crate) records: u32,
    pub(crate) ops: u64,
    pub(crate) throttled: u32,
    pub(crate) max_ops: u64,
    /// Earliest record time in the hour (ns).
    pub(crate) first: i64,
}

/// Record locations kept for a context: the earliest `cap` by (time, location).
#[derive(Debug, Clone, Default)]
pub(crate) struct LocBuf {
    pub(crate) items: Vec<Kept>,
    pub(crate) total: u64,
    cap: usize,
    cutoff: Option<Kept>,
}

impl LocBuf {
    pub(crate) fn new(cap: usize) -> Self {
        LocBuf {
            items: Vec::new(),
            total: 0,
            cap: cap.max(1),
            cutoff: None,
        }
    }
    pub(crate) fn push(&mut self, t: i64, loc: &Location) {
        self.total += 1;
        let k = Kept::new(t, loc);
        if self.cutoff.as_ref().is_some_and(|c| k > *c) {
            return;
        }
        self.items.push(k);
        if self.items.len() >= self.cap + self.cap / 2 {
            self.compact();
        }
    }
    pub(crate) fn compact(&mut self) {
        self.items.sort_unstable();
        self.items.dedup();
        if self.items.len() >= self.cap {
            self.items.truncate(self.cap);
            self.cutoff = self.items.last().cloned();
        }
        self.items.shrink_to(self.cap);
    }
}

/// Everything known about one context.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) first: i64,
    pub(crate) last: i64,
    pub(crate) records: u64,
    pub(crate) ops: u64,
    pub(crate) throttled: u64,
    pub(crate) max_ops: u64,
    pub(crate) hours: BTreeMap<i64, HourAgg>,
    /// (hour, token id), at most [`MAX_UTIS`].
    pub(crate) utis: BTreeSet<(i64, Sym)>,
    /// Folder paths (Sync exposes whole folders), at most [`MAX_FOLDERS`].
    pub(crate) folders: BTreeSet<Sym>,
    pub(crate) locs: LocBuf,
    pub(crate) guest: bool,
    pub(crate) app_only: bool,
}

const MAX_UTIS: usize = 2_000;
const MAX_FOLDERS: usize = 200;

/// Successful sign-ins, folded for the joins of analytic 2.
#[derive(Debug, Default)]
pub(crate) struct SignIns {
    pub(crate) records: u64,
    pub(crate) failed: u64,
    pub(crate) interactive: u64,
    pub(crate) non_interactive: u64,
    pub(crate) first: Option<i64>,
    pub(crate) last: Option<i64>,
    pub(crate) sessions: HashMap<Sym, BTreeSet<i64>>,
    pub(crate) utis: HashMap<Sym, (i64, i64)>,
    pub(crate) user_ips: HashMap<(Sym, Sym), BTreeSet<i64>>,
    pub(crate) users: HashSet<Sym>,
}

impl SignIns {
    pub(crate) fn present(&self) -> bool {
        self.records > self.failed
    }
    /// The hour range covered by sign-ins.
    pub(crate) fn hours(&self) -> Option<(i64, i64)> {
        Some((hour_of(self.first?), hour_of(self.last?)))
    }
    pub(crate) fn session_in(&self, s: Sym, from: i64, to: i64) -> bool {
        self.sessions
            .get(&s)
            .is_some_and(|h| h.range(from..=to).next().is_some())
    }
    pub(crate) fn uti_in(&self, u: Sym, from: i64, to: i64) -> bool {
        self.utis
            .get(&u)
            .is_some_and(|&(a, b)| b >= from && a <= to)
    }
    pub(crate) fn user_ip_in(&self, user: Sym, ip: Sym, from: i64, to: i64) -> bool {
        self.user_ips
            .get(&(user, ip))
            .is_some_and(|h| h.range(from..=to).next().is_some())
    }
}

/// A record whose IP is in the IOC set.
#[derive(Debug, Clone)]
pub(crate) struct IocHit {
    pub(crate) t: i64,
    pub(crate) loc: Location,
    pub(crate) ip: IpAddr,
    pub(crate) user: Option<Sym>,
    pub(crate) mailbox: Option<Sym>,
    pub(crate) session: Option<Sym>,
    pub(crate) tenant: Option<Sym>,
    pub(crate) sign_in: bool,
}

/// An operation that changes what the audit log records.
#[derive(Debug, Clone)]
pub(crate) struct AuditChange {
    pub(crate) t: i64,
    pub(crate) loc: Location,
    pub(crate) operation: String,
    pub(crate) user: Option<Sym>,
    pub(crate) tenant: Option<Sym>,
    pub(crate) what: &'static str,
}

/// A token verdict fed by the caller.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    pub(crate) t: i64,
    pub(crate) session: Option<Sym>,
    pub(crate) uti: Option<Sym>,
    pub(crate) verdict: String,
    pub(crate) loc: Location,
}

/// Per mailbox (or user): Exchange records and MailItemsAccessed records, for visibility gaps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Activity {
    pub(crate) exchange: u64,
    pub(crate) mail: u64,
    pub(crate) tenant: Option<Sym>,
    pub(crate) first: Option<(i64, Location)>,
}

/// All observe-side state.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) names: Interner,
    /// Parsed client IPs → their interned text (saves formatting every record's IP).
    ip_syms: HashMap<IpAddr, Sym>,
    pub(crate) ctx_index: HashMap<CtxKey, usize>,
    pub(crate) ctxs: Vec<(CtxKey, Ctx)>,
    pub(crate) sign_ins: SignIns,
    pub(crate) ioc_hits: Vec<IocHit>,
    pub(crate) ioc_hits_dropped: u64,
    pub(crate) audit_changes: Vec<AuditChange>,
    pub(crate) verdicts: Vec<Verdict>,
    pub(crate) activity: HashMap<Sym, Activity>,
    pub(crate) days: BTreeMap<i64, u64>,
    pub(crate) first: Option<i64>,
    pub(crate) last: Option<i64>,
    pub(crate) records: u64,
    pub(crate) untimed: u64,
    pub(crate) mail_records: u64,
    pub(crate) owa_token_records: u64,
    pub(crate) max_events_per_context: usize,
}

const MAX_IOC_HITS: usize = 200_000;
const MAX_AUDIT_CHANGES: usize = 10_000;

fn is_exchange(ev: &Event) -> bool {
    ev.workload
        .as_deref()
        .is_some_and(|w| w.eq_ignore_ascii_case("Exchange"))
        || matches!(ev.record_type, Some(1..=3 | 19 | 50 | 275))
}

/// The value of cmdlet parameter `name` in a UAL admin record (`Parameters: [{Name, Value}]`,
/// also as a JSON string), lowercased without a leading `$`.
fn cmdlet_param(raw: &str, name: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    let params = v.get("Parameters")?;
    let parsed;
    let list = match params {
        serde_json::Value::String(s) => {
            parsed = serde_json::from_str::<serde_json::Value>(s).ok()?;
            parsed.as_array()?
        }
        other => other.as_array()?,
    };
    list.iter().find_map(|p| {
        let n = p.get("Name")?.as_str()?;
        if !n.eq_ignore_ascii_case(name) {
            return None;
        }
        let val = match p.get("Value")? {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Some(val.trim().trim_start_matches('$').to_ascii_lowercase())
    })
}

/// What an audit-configuration operation does to the evidence, if it is one.
fn audit_change(ev: &Event) -> Option<&'static str> {
    let op = ev.operation.as_deref()?;
    let is = |name: &str| op.eq_ignore_ascii_case(name);
    if !(is("Set-MailboxAuditBypassAssociation")
        || is("Set-AdminAuditLogConfig")
        || is("Set-OrganizationConfig")
        || is("Set-Mailbox"))
    {
        return None;
    }
    let p = |name: &str| cmdlet_param(&ev.raw, name);
    if is("Set-MailboxAuditBypassAssociation") {
        return (p("AuditBypassEnabled").as_deref() != Some("false"))
            .then_some("audit bypass set for an account: its mailbox access is not logged");
    }
    if is("Set-AdminAuditLogConfig") {
        return (p("UnifiedAuditLogIngestionEnabled").as_deref() == Some("false"))
            .then_some("unified audit log ingestion turned off");
    }
    if is("Set-OrganizationConfig") {
        return (p("AuditDisabled").as_deref() == Some("true"))
            .then_some("mailbox auditing turned off for the organisation");
    }
    if p("AuditEnabled").as_deref() == Some("false") {
        return Some("mailbox auditing turned off for a mailbox");
    }
    if p("AuditOwner").is_some_and(|v| !v.contains("mailitemsaccessed")) {
        return Some("mailbox audit actions changed (owner actions set without MailItemsAccessed)");
    }
    None
}

impl State {
    pub(crate) fn new(max_events_per_context: usize) -> Self {
        State {
            max_events_per_context,
            ..State::default()
        }
    }

    /// Fold one event in.
    pub(crate) fn observe(&mut self, ev: &Event, ioc: impl Fn(&IpAddr) -> bool) {
        self.records += 1;
        let Some(t) = ev.time else {
            self.untimed += 1;
            return;
        };
        let n = t.nanos();
        self.first = Some(self.first.map_or(n, |f| f.min(n)));
        self.last = Some(self.last.map_or(n, |l| l.max(n)));
        *self.days.entry(t.day_number()).or_default() += 1;

        if let Some(ip) = ev.client_ip
            && ioc(&ip)
        {
            self.push_ioc_hit(ev, n, ip);
        }
        if ev.sign_in.is_some() {
            self.observe_sign_in(ev, n);
            return;
        }
        if let Some(what) = audit_change(ev)
            && self.audit_changes.len() < MAX_AUDIT_CHANGES
        {
            let user = ev.user.as_deref().and_then(|u| self.names.intern_ci(u));
            let tenant = ev.tenant.as_deref().and_then(|u| self.names.intern_ci(u));
            self.audit_changes.push(AuditChange {
                t: n,
                loc: ev.loc.clone(),
                operation: ev.operation.clone().unwrap_or_default(),
                user,
                tenant,
                what,
            });
        }
        let mail = ev.is_mail_items_accessed();
        if !mail && !is_exchange(ev) {
            return;
        }
        let kind = if mail {
            CtxKind::Mail
        } else if ev.record_type == Some(275) {
            CtxKind::OwaToken
        } else {
            CtxKind::Exchange
        };
        let names = &mut self.names;
        let ci = |names: &mut Interner, s: &Option<String>| {
            s.as_deref().and_then(|v| names.intern_ci(v))
        };
        let user = ci(names, &ev.user);
        let mailbox = ci(names, &ev.mailbox).or(if kind == CtxKind::Mail { user } else { None });
        let tenant = ci(names, &ev.tenant);
        // Visibility bookkeeping, per mailbox (or acting user).
        if let Some(who) = mailbox.or(user) {
            let a = self.activity.entry(who).or_default();
            if mail {
                a.mail += 1;
            } else {
                a.exchange += 1;
            }
            a.tenant = a.tenant.or(tenant);
            if a.first
                .as_ref()
                .is_none_or(|(ft, fl)| (n, &ev.loc) < (*ft, fl))
            {
                a.first = Some((n, ev.loc.clone()));
            }
        }
        match kind {
            CtxKind::Mail => self.mail_records += 1,
            CtxKind::OwaToken => self.owa_token_records += 1,
            CtxKind::Exchange => {
                // Only Exchange records that can be joined to a sign-in matter beyond visibility.
                if ev.session_id.is_none() && ev.unique_token_id.is_none() {
                    return;
                }
            }
        }
        let names = &mut self.names;
        let key = CtxKey {
            kind,
            mailbox,
            user,
            session: ci(names, &ev.session_id),
            ip: match ev.client_ip {
                Some(a) => Some(
                    *self
                        .ip_syms
                        .entry(a)
                        .or_insert_with(|| names.intern(&a.to_string())),
                ),
                None => ci(names, &ev.client_ip_text),
            },
            app: ci(names, &ev.app_id),
            client_app: ci(names, &ev.client_app_id),
            client_info: ev.client_info.as_deref().and_then(|s| names.intern_opt(s)),
            logon: ev.logon_type,
            access: ev.mail.as_ref().and_then(|m| m.access_type),
            tenant,
            token_tenant: ci(names, &ev.token_tenant),
        };
        let uti = ev
            .unique_token_id
            .as_deref()
            .and_then(|v| names.intern_ci(v.trim_end_matches('=')));
        let folders: Vec<Sym> = ev
            .mail
            .as_ref()
            .map(|m| {
                m.folders
                    .iter()
                    .filter_map(|f| names.intern_opt(&f.path))
                    .collect()
            })
            .unwrap_or_default();
        let cap = self.max_events_per_context;
        let idx = match self.ctx_index.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.ctxs.len();
                self.ctxs.push((
                    key,
                    Ctx {
                        first: n,
                        last: n,
                        records: 0,
                        ops: 0,
                        throttled: 0,
                        max_ops: 0,
                        hours: BTreeMap::new(),
                        utis: BTreeSet::new(),
                        folders: BTreeSet::new(),
                        locs: LocBuf::new(cap),
                        guest: false,
                        app_only: false,
                    },
                ));
                self.ctx_index.insert(key, i);
                i
            }
        };
        let Some((_, c)) = self.ctxs.get_mut(idx) else {
            return;
        };
        let (ops, throttled) = ev
            .mail
            .as_ref()
            .map_or((1, false), |m| (m.operation_count.max(1), m.throttled));
        c.first = c.first.min(n);
        c.last = c.last.max(n);
        c.records += 1;
        c.ops += ops;
        c.max_ops = c.max_ops.max(ops);
        c.throttled += u64::from(throttled);
        let h = c.hours.entry(hour_of(n)).or_insert(HourAgg {
            first: n,
            ..HourAgg::default()
        });
        h.records += 1;
        h.ops += ops;
        h.max_ops = h.max_ops.max(ops);
        h.throttled += u32::from(throttled);
        h.first = h.first.min(n);
        if let Some(u) = uti
            && c.utis.len() < MAX_UTIS
        {
            c.utis.insert((hour_of(n), u));
        }
        for f in folders {
            if c.folders.len() < MAX_FOLDERS {
                c.folders.insert(f);
            }
        }
        c.guest |= ev
            .user
            .as_deref()
            .is_some_and(|u| u.contains("#EXT#") || u.contains("#ext#"));
        c.app_only |= matches!(ev.user_type, Some(4..=6));
        c.locs.push(n, &ev.loc);
    }

    fn push_ioc_hit(&mut self, ev: &Event, n: i64, ip: IpAddr) {
        if self.ioc_hits.len() >= MAX_IOC_HITS {
            self.ioc_hits_dropped += 1;
            return;
        }
        let names = &mut self.names;
        let ci = |names: &mut Interner, s: &Option<String>| {
            s.as_deref().and_then(|v| names.intern_ci(v))
        };
        let session = ci(names, &ev.session_id).or_else(|| {
            ev.sign_in
                .as_ref()
                .and_then(|s| s.session_id.as_deref())
                .and_then(|v| names.intern_ci(v))
        });
        self.ioc_hits.push(IocHit {
            t: n,
            loc: ev.loc.clone(),
            ip,
            user: ci(names, &ev.user),
            mailbox: ci(names, &ev.mailbox),
            session,
            tenant: ci(names, &ev.tenant),
            sign_in: ev.sign_in.is_some(),
        });
    }

    fn observe_sign_in(&mut self, ev: &Event, n: i64) {
        let Some(si) = ev.sign_in.as_ref() else {
            return;
        };
        let s = &mut self.sign_ins;
        s.records += 1;
        s.first = Some(s.first.map_or(n, |f| f.min(n)));
        s.last = Some(s.last.map_or(n, |l| l.max(n)));
        let ok = si.error_code.unwrap_or(0) == 0 && ev.outcome != Outcome::Failure;
        if !ok {
            s.failed += 1;
            return;
        }
        match si.interactive {
            Some(true) => s.interactive += 1,
            Some(false) => s.non_interactive += 1,
            None => {}
        }
        let hour = hour_of(n);
        let names = &mut self.names;
        let session = si
            .session_id
            .as_deref()
            .or(ev.session_id.as_deref())
            .and_then(|v| names.intern_ci(v));
        let uti = si
            .unique_token_id
            .as_deref()
            .or(ev.unique_token_id.as_deref())
            .and_then(|v| names.intern_ci(v.trim_end_matches('=')));
        let user = ev.user.as_deref().and_then(|v| names.intern_ci(v));
        let ip = match ev.client_ip {
            Some(a) => Some(
                *self
                    .ip_syms
                    .entry(a)
                    .or_insert_with(|| names.intern(&a.to_string())),
            ),
            None => ev
                .client_ip_text
                .as_deref()
                .and_then(|v| names.intern_ci(v)),
        };
        let s = &mut self.sign_ins;
        if let Some(x) = session {
            s.sessions.entry(x).or_default().insert(hour);
        }
        if let Some(x) = uti {
            let e = s.utis.entry(x).or_insert((hour, hour));
            e.0 = e.0.min(hour);
            e.1 = e.1.max(hour);
        }
        if let Some(u) = user {
            s.users.insert(u);
            if let Some(ip) = ip {
                s.user_ips.entry((u, ip)).or_default().insert(hour);
            }
        }
    }

    pub(crate) fn observe_verdict(
        &mut self,
        at: Timestamp,
        session: Option<&str>,
        uti: Option<&str>,
        verdict: &str,
        loc: Location,
    ) {
        let session = session.and_then(|s| self.names.intern_ci(s));
        let uti = uti.and_then(|s| self.names.intern_ci(s.trim_end_matches('=')));
        self.verdicts.push(Verdict {
            t: at.nanos(),
            session,
            uti,
            verdict: verdict.to_owned(),
            loc,
        });
    }

    /// Sort every kept location buffer (deterministic whatever the input order).
    pub(crate) fn settle(&mut self) {
        for (_, c) in &mut self.ctxs {
            c.locs.compact();
        }
        self.ioc_hits
            .sort_by(|a, b| (a.t, &a.loc).cmp(&(b.t, &b.loc)));
        self.audit_changes
            .sort_by(|a, b| (a.t, &a.loc).cmp(&(b.t, &b.loc)));
        self.verdicts
            .sort_by(|a, b| (a.t, &a.loc, &a.verdict).cmp(&(b.t, &b.loc, &b.verdict)));
    }
}
