//! What `observe` keeps: compact per-entity aggregates, decided on at `finish`.
//!
//! Records are folded into contexts (mailbox × user × session × IP × app × client × logon ×
//! access type × tenant); each context keeps per-hour buckets, its token ids, its folders and at
//! most `max_events_per_context` record locations (the earliest by time, so the kept set does
//! not depend on input order). Sign-ins are folded into per-session, per-token and per-user-IP
//! hour sets. Memory grows with the number of entities and hours, not with the number of records.

use std::collections::BTreeMap;
use std::net::IpAddr;

use stormwatch_core::{Location, LogonType, MailAccessType, PackedLocation, Timestamp};

use crate::intern::{FastMap as HashMap, FastSet as HashSet, Interner, Sym};
use crate::loc::Kept;
use crate::observed::{Body, ExchangePart, IocPart, IpRef, Item, Observed, SignInPart, Span};
use crate::sorted::{SortedMap, SortedSet};

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
    pub(crate) cap: usize,
    /// The last kept item once `cap` were kept: later items after it are not kept.
    pub(crate) cutoff: Option<Kept>,
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
    pub(crate) fn push_packed(&mut self, t: i64, loc: &PackedLocation) {
        self.total += 1;
        if self
            .cutoff
            .as_ref()
            .is_some_and(|c| (t, loc) > (c.t, c.packed_location()))
        {
            return;
        }
        let limit = self.cap + self.cap / 2;
        let len = self.items.len();
        if len == self.items.capacity() {
            // Grow by a quarter, not double: most contexts are small and keep every record, so
            // doubling would leave about a third of the room they hold unused.
            self.items
                .reserve_exact((len / 4).max(4).min(limit.saturating_sub(len)).max(1));
        }
        self.items.push(Kept::packed(t, loc.clone()));
        if self.items.len() >= limit {
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
    pub(crate) hours: SortedMap<HourAgg>,
    /// (hour, token id), at most [`MAX_UTIS`].
    pub(crate) utis: SortedSet<(i64, Sym)>,
    /// Folder paths (Sync exposes whole folders), at most [`MAX_FOLDERS`].
    pub(crate) folders: SortedSet<Sym>,
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
    pub(crate) sessions: HashMap<Sym, SortedSet<i64>>,
    pub(crate) utis: HashMap<Sym, (i64, i64)>,
    pub(crate) user_ips: HashMap<(Sym, Sym), SortedSet<i64>>,
    pub(crate) users: HashSet<Sym>,
    /// Per user, the latest sign-in (for ageing out [`SignIns::users`]).
    pub(crate) user_last: HashMap<Sym, i64>,
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
        self.sessions.get(&s).is_some_and(|h| h.any_in(from..=to))
    }
    pub(crate) fn uti_in(&self, u: Sym, from: i64, to: i64) -> bool {
        self.utis
            .get(&u)
            .is_some_and(|&(a, b)| b >= from && a <= to)
    }
    pub(crate) fn user_ip_in(&self, user: Sym, ip: Sym, from: i64, to: i64) -> bool {
        self.user_ips
            .get(&(user, ip))
            .is_some_and(|h| h.any_in(from..=to))
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
    pub(crate) first: Option<Kept>,
    /// Latest record (for ageing out).
    pub(crate) last: Option<i64>,
}

/// All observe-side state.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) names: Interner,
    /// Parsed client IPs → their interned text (saves formatting every record's IP).
    pub(crate) ip_syms: HashMap<IpAddr, Sym>,
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

impl State {
    pub(crate) fn new(max_events_per_context: usize) -> Self {
        State {
            max_events_per_context,
            ..State::default()
        }
    }

    /// Fold a batch of observed events in.
    pub(crate) fn fold(&mut self, b: &Observed) {
        self.records += b.untimed;
        self.untimed += b.untimed;
        for item in &b.items {
            self.fold_item(b, item);
        }
    }

    fn fold_item(&mut self, b: &Observed, item: &Item) {
        self.records += 1;
        let n = item.t;
        self.first = Some(self.first.map_or(n, |f| f.min(n)));
        self.last = Some(self.last.map_or(n, |l| l.max(n)));
        *self
            .days
            .entry(Timestamp::from_nanos(n).day_number())
            .or_default() += 1;
        if let Some(hit) = &item.ioc {
            self.push_ioc_hit(b, n, hit);
        }
        let x = match item.body {
            Body::SignIn(ref si) => return self.fold_sign_in(b, n, Some(si)),
            Body::FailedSignIn => return self.fold_sign_in(b, n, None),
            Body::Other => None,
            Body::Exchange(i) => b.exchange(i),
        };
        if let Some(change) = &item.audit
            && self.audit_changes.len() < MAX_AUDIT_CHANGES
        {
            let user = self.sym(b, change.user);
            let tenant = self.sym(b, change.tenant);
            self.audit_changes.push(AuditChange {
                t: n,
                loc: change.loc.location(),
                operation: b.text(change.operation).to_owned(),
                user,
                tenant,
                what: change.what,
            });
        }
        if let Some(x) = x {
            self.fold_exchange(b, n, x);
        }
    }

    /// The symbol of a kept value.
    fn sym(&mut self, b: &Observed, s: Option<Span>) -> Option<Sym> {
        s.map(|s| self.names.intern(b.text(s)))
    }

    fn ip_sym(&mut self, b: &Observed, ip: IpRef) -> Option<Sym> {
        match ip {
            IpRef::Addr(a) => {
                let names = &mut self.names;
                Some(
                    *self
                        .ip_syms
                        .entry(a)
                        .or_insert_with(|| names.intern(&a.to_string())),
                )
            }
            IpRef::Text(s) => Some(self.names.intern(b.text(s))),
            IpRef::None => None,
        }
    }

    fn fold_exchange(&mut self, b: &Observed, n: i64, x: &ExchangePart) {
        let kind = x.kind;
        let mail = kind == CtxKind::Mail;
        let user = self.sym(b, x.user);
        let mailbox = self.sym(b, x.mailbox);
        let tenant = self.sym(b, x.tenant);
        // Visibility bookkeeping, per mailbox (or acting user).
        if let Some(who) = mailbox.or(user) {
            let a = self.activity.entry(who).or_default();
            if mail {
                a.mail += 1;
            } else {
                a.exchange += 1;
            }
            a.tenant = a.tenant.or(tenant);
            a.last = Some(a.last.map_or(n, |l| l.max(n)));
            if a.first
                .as_ref()
                .is_none_or(|f| (n, &x.loc) < (f.t, f.packed_location()))
            {
                a.first = Some(Kept::packed(n, x.loc.clone()));
            }
        }
        match kind {
            CtxKind::Mail => self.mail_records += 1,
            CtxKind::OwaToken => self.owa_token_records += 1,
            CtxKind::Exchange => {}
        }
        let Some(p) = &x.ctx else {
            return;
        };
        let key = CtxKey {
            kind,
            mailbox,
            user,
            session: self.sym(b, p.session),
            ip: self.ip_sym(b, p.ip),
            app: self.sym(b, p.app),
            client_app: self.sym(b, p.client_app),
            client_info: self.sym(b, p.client_info),
            logon: p.logon,
            access: p.access,
            tenant,
            token_tenant: self.sym(b, p.token_tenant),
        };
        let uti = self.sym(b, p.uti);
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
                        hours: SortedMap::new(),
                        utis: SortedSet::new(),
                        folders: SortedSet::new(),
                        locs: LocBuf::new(cap),
                        guest: false,
                        app_only: false,
                    },
                ));
                self.ctx_index.insert(key, i);
                i
            }
        };
        let names = &mut self.names;
        let Some((_, c)) = self.ctxs.get_mut(idx) else {
            return;
        };
        let ops = p.ops;
        c.first = c.first.min(n);
        c.last = c.last.max(n);
        c.records += 1;
        c.ops += ops;
        c.max_ops = c.max_ops.max(ops);
        c.throttled += u64::from(p.throttled);
        let h = c.hours.get_or_insert_with(hour_of(n), || HourAgg {
            first: n,
            ..HourAgg::default()
        });
        h.records += 1;
        h.ops += ops;
        h.max_ops = h.max_ops.max(ops);
        h.throttled += u32::from(p.throttled);
        h.first = h.first.min(n);
        if let Some(u) = uti
            && c.utis.len() < MAX_UTIS
        {
            c.utis.insert((hour_of(n), u));
        }
        for &f in b.folders(p.folders) {
            let f = names.intern(b.text(f));
            if c.folders.len() < MAX_FOLDERS {
                c.folders.insert(f);
            }
        }
        c.guest |= p.guest;
        c.app_only |= p.app_only;
        c.locs.push_packed(n, &x.loc);
    }

    fn push_ioc_hit(&mut self, b: &Observed, n: i64, hit: &IocPart) {
        if self.ioc_hits.len() >= MAX_IOC_HITS {
            self.ioc_hits_dropped += 1;
            return;
        }
        let session = self.sym(b, hit.session);
        let user = self.sym(b, hit.user);
        let mailbox = self.sym(b, hit.mailbox);
        let tenant = self.sym(b, hit.tenant);
        self.ioc_hits.push(IocHit {
            t: n,
            loc: hit.loc.location(),
            ip: hit.ip,
            user,
            mailbox,
            session,
            tenant,
            sign_in: hit.sign_in,
        });
    }

    /// A sign-in: `None` for a failed one.
    fn fold_sign_in(&mut self, b: &Observed, n: i64, si: Option<&SignInPart>) {
        let s = &mut self.sign_ins;
        s.records += 1;
        s.first = Some(s.first.map_or(n, |f| f.min(n)));
        s.last = Some(s.last.map_or(n, |l| l.max(n)));
        let Some(si) = si else {
            s.failed += 1;
            return;
        };
        match si.interactive {
            Some(true) => s.interactive += 1,
            Some(false) => s.non_interactive += 1,
            None => {}
        }
        let hour = hour_of(n);
        let session = self.sym(b, si.session);
        let uti = self.sym(b, si.uti);
        let user = self.sym(b, si.user);
        let ip = self.ip_sym(b, si.ip);
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
            let last = s.user_last.entry(u).or_insert(n);
            *last = (*last).max(n);
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
        // Contexts in a canonical order, by their earliest record (each record is in one
        // context, so no two tie): nothing that walks them depends on the order the records
        // came in.
        self.ctxs.sort_by(|(_, a), (_, b)| {
            (a.first, a.locs.items.first()).cmp(&(b.first, b.locs.items.first()))
        });
        self.ctx_index = self
            .ctxs
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (*k, i))
            .collect();
        self.ioc_hits
            .sort_by(|a, b| (a.t, &a.loc).cmp(&(b.t, &b.loc)));
        self.audit_changes
            .sort_by(|a, b| (a.t, &a.loc).cmp(&(b.t, &b.loc)));
        self.verdicts
            .sort_by(|a, b| (a.t, &a.loc, &a.verdict).cmp(&(b.t, &b.loc, &b.verdict)));
    }
}
