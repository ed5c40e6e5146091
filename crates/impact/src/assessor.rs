//! The one-pass aggregation: every record is folded into compact per-context state.
//!
//! Nothing here depends on the actor: the seeds are only known (and expanded) at
//! [`Assessor::finish`], so every context is aggregated, keyed by interned ids. Memory grows
//! with the distinct (context, day, mailbox, folder, message) tuples, not with the records:
//! a message read again in the same context on the same day costs nothing more.

use std::fmt::Write as _;

use stormwatch_core::{Event, ImpactReport, InputStats, Location, MailAccessType, Timestamp};

use crate::expand::{Actor, ActorSyms, match_ctx};
use crate::fxhash::IdMap;
use crate::intern::{Interner, NONE, Sym};
use crate::seeds::{ImpactOptions, Seeds};
use crate::span::Span;

/// Throttling stops Bind auditing for this long (seconds).
pub(crate) const THROTTLE_SECS: i64 = 24 * 3600;
/// Day number of records without a time.
pub(crate) const NO_DAY: i32 = i32::MIN;
/// Audit-bypass operations kept (the count is exact).
const MAX_BYPASS: usize = 1000;
/// Throttled intervals kept per mailbox before they are merged.
const THROTTLE_COMPACT: usize = 256;

/// The identifiers that tie a record to whoever made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Ctx {
    pub(crate) session: Sym,
    pub(crate) ip: Sym,
    pub(crate) app: Sym,
    pub(crate) client_app: Sym,
    pub(crate) ua: Sym,
}

impl Ctx {
    /// The app as reported: `ClientAppId`, else `AppId`.
    pub(crate) fn reported_app(&self) -> Sym {
        if self.client_app == NONE {
            self.app
        } else {
            self.client_app
        }
    }
}

/// One context on one day in one mailbox (or tenant-wide when `mailbox` is [`NONE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SlotKey {
    pub(crate) ctx: u32,
    pub(crate) day: i32,
    pub(crate) tenant: Sym,
    pub(crate) mailbox: Sym,
}

/// What one slot saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotAgg {
    pub(crate) span: Span,
    pub(crate) records: u64,
    pub(crate) mia: u64,
    pub(crate) unlisted: u64,
    pub(crate) items_lost: u64,
    pub(crate) throttled: u64,
}

/// A message listed in a slot's folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct MsgKey {
    pub(crate) slot: u32,
    pub(crate) folder: Sym,
    pub(crate) msg: Sym,
}

/// Accesses to one message in one slot and folder (compact: this is the bulk of the state).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MsgAgg {
    pub(crate) span: Span,
    /// Records listing it (saturating).
    pub(crate) count: u32,
    /// Largest `SizeInBytes` seen (saturating); [`NO_SIZE`] when never logged.
    pub(crate) size: u32,
}

/// [`MsgAgg::size`] when no size was logged.
pub(crate) const NO_SIZE: u32 = u32::MAX;

impl Default for MsgAgg {
    fn default() -> Self {
        MsgAgg {
            span: Span::default(),
            count: 0,
            size: NO_SIZE,
        }
    }
}

impl MsgAgg {
    /// The size, when logged.
    pub(crate) fn size(&self) -> Option<u64> {
        (self.size != NO_SIZE).then_some(u64::from(self.size))
    }

    /// Note a logged size (the largest is kept).
    pub(crate) fn note_size(&mut self, sz: u64) {
        let sz = u32::try_from(sz).unwrap_or(NO_SIZE - 1).min(NO_SIZE - 1);
        self.size = if self.size == NO_SIZE {
            sz
        } else {
            self.size.max(sz)
        };
    }

    /// Merge another aggregate of the same message.
    pub(crate) fn merge(&mut self, o: &MsgAgg) {
        self.span.merge(&o.span);
        self.count = self.count.saturating_add(o.count);
        if let Some(sz) = o.size() {
            self.note_size(sz);
        }
    }
}

/// What [`Assessor::observe`] keeps.
#[derive(Debug, Default)]
pub(crate) enum Mode {
    /// Everything, for every context (one pass, the actor known only at the end).
    #[default]
    Full,
    /// Only the context graph, mailbox states and coverage (first of two passes).
    GraphOnly,
    /// Full detail for the actor's records only (second of two passes).
    Focused(ActorSyms),
}

/// A folder synchronised in one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SyncKey {
    pub(crate) slot: u32,
    pub(crate) folder: Sym,
}

/// One day on which a session was seen with an IP.
#[derive(Debug, Clone)]
pub(crate) struct EdgeDay {
    pub(crate) day: i32,
    pub(crate) span: Span,
    /// The earliest record of the day that links them.
    pub(crate) loc: Location,
}

/// Per mailbox, whoever acted: records, `MailItemsAccessed` records, throttled windows.
#[derive(Debug, Clone, Default)]
pub(crate) struct MailboxState {
    pub(crate) records: u64,
    pub(crate) mia: u64,
    pub(crate) throttled_records: u64,
    pub(crate) throttled: Vec<(i64, i64)>,
}

/// An operation that bypasses or disables mailbox auditing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Bypass {
    pub(crate) time: Option<Timestamp>,
    pub(crate) tenant: Sym,
    pub(crate) operation: String,
    pub(crate) loc: Location,
}

/// The resolved actor context (seeds and expansion), for a focused second pass.
#[derive(Debug)]
pub struct ActorFilter(pub(crate) Actor);

impl ActorFilter {
    /// The identifiers, after expansion.
    #[must_use]
    pub fn context(&self) -> stormwatch_core::impact::ActorContext {
        self.0.context()
    }

    /// The seeds and each expansion step, with the record that links them.
    #[must_use]
    pub fn expansion(&self) -> &[stormwatch_core::impact::ExpansionStep] {
        &self.0.steps
    }
}

/// Sizes of an [`Assessor`]'s state (see [`Assessor::state_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateSize {
    /// Distinct strings (identifiers, mailboxes, folders, message ids).
    pub strings: u64,
    /// Distinct contexts (session, IP, app, client app, user agent).
    pub contexts: u64,
    /// Distinct (context, day, tenant, mailbox).
    pub slots: u64,
    /// Distinct (slot, folder, message).
    pub message_tuples: u64,
    /// Distinct (slot, folder) synchronised.
    pub sync_tuples: u64,
    /// Distinct (session, IP) pairs.
    pub edges: u64,
    /// Distinct (tenant, mailbox).
    pub mailboxes: u64,
}

/// The impact assessor: feed every event once with [`Assessor::observe`] (in any order),
/// then call [`Assessor::finish`] with the seeds.
#[derive(Debug, Default)]
pub struct Assessor {
    pub(crate) mode: Mode,
    pub(crate) strings: Interner,
    pub(crate) ctx_ids: IdMap<Ctx, u32>,
    pub(crate) ctxs: Vec<Ctx>,
    pub(crate) slot_ids: IdMap<SlotKey, u32>,
    pub(crate) slots: Vec<(SlotKey, SlotAgg)>,
    pub(crate) msgs: IdMap<MsgKey, MsgAgg>,
    pub(crate) syncs: IdMap<SyncKey, Span>,
    pub(crate) edges: IdMap<(Sym, Sym), Vec<EdgeDay>>,
    pub(crate) mailboxes: IdMap<(Sym, Sym), MailboxState>,
    pub(crate) tenant_names: IdMap<Sym, Sym>,
    pub(crate) bypass: Vec<Bypass>,
    pub(crate) bypass_count: u64,
    pub(crate) records: u64,
    pub(crate) sign_ins: u64,
    pub(crate) mia_records: u64,
    pub(crate) items_lost_records: u64,
    pub(crate) span: Span,
    /// Records and `MailItemsAccessed` records per (tenant, workload, day).
    pub(crate) grid: IdMap<(Sym, Sym, i32), (u64, u64)>,
    /// Mail-access and other records per (tenant, person or [`NONE`] for the tenant, day).
    pub(crate) audit: IdMap<(Sym, Sym, i32), crate::audit_gaps::DayAct>,
    ipbuf: String,
}

impl Assessor {
    /// An empty assessor for one pass: every context is aggregated, the actor is resolved at
    /// [`Assessor::finish`]. Memory grows with the distinct (context, day, mailbox, folder,
    /// message) tuples of the whole input.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// First of two passes: keep only the session ↔ IP graph, mailbox states and coverage
    /// (no message detail), then call [`Assessor::resolve_actor`]. Memory is bounded by the
    /// number of sessions, IPs and mailboxes, not by the records.
    #[must_use]
    pub fn graph_only() -> Self {
        Assessor {
            mode: Mode::GraphOnly,
            ..Self::default()
        }
    }

    /// Second of two passes: full detail for the records of `actor` only (an IOC IP's records
    /// only inside its windows, exactly), so memory is bounded by the actor's own activity.
    /// Feed the same input again, then [`Assessor::finish`] with the same seeds and options.
    #[must_use]
    pub fn focused(actor: &ActorFilter) -> Self {
        let mut a = Self::default();
        let syms = actor.0.intern(&mut a.strings);
        a.mode = Mode::Focused(syms);
        a
    }

    /// Resolve and expand the actor context from what was observed (the same expansion
    /// [`Assessor::finish`] performs), for a second, focused pass.
    #[must_use]
    pub fn resolve_actor(&self, seeds: &Seeds, opts: &ImpactOptions) -> ActorFilter {
        ActorFilter(crate::expand::resolve(self, seeds, opts))
    }

    /// Sizes of the aggregated state: what memory grows with.
    #[must_use]
    pub fn state_size(&self) -> StateSize {
        StateSize {
            strings: self.strings.len() as u64,
            contexts: self.ctxs.len() as u64,
            slots: self.slots.len() as u64,
            message_tuples: self.msgs.len() as u64,
            sync_tuples: self.syncs.len() as u64,
            edges: self.edges.len() as u64,
            mailboxes: self.mailboxes.len() as u64,
        }
    }

    /// Records observed so far.
    #[must_use]
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Fold one event in. Order does not matter; the result depends only on the set of events.
    pub fn observe(&mut self, ev: &Event) {
        self.records += 1;
        let t = ev.time.map(Timestamp::nanos);
        self.span.add(t);
        let day = t.map_or(NO_DAY, |n| {
            i32::try_from(Timestamp::from_nanos(n).day_number()).unwrap_or(NO_DAY)
        });
        let tenant = self.strings.opt(ev.tenant.as_deref(), true);
        if let Some(name) = ev
            .org_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            self.note_org_name(tenant, name);
        }
        let is_mia = ev.is_mail_items_accessed();
        if is_mia {
            self.mia_records += 1;
        }
        if ev.is_sign_in() {
            self.sign_ins += 1;
        }
        let workload = self.strings.opt(ev.workload.as_deref(), false);
        let cell = self.grid.entry((tenant, workload, day)).or_default();
        cell.0 += 1;
        if is_mia {
            cell.1 += 1;
        }
        let mailbox = self.mailbox_of(ev, is_mia);
        if let Some(t) = t
            && day != NO_DAY
        {
            self.note_audit(ev, tenant, mailbox, is_mia, t, day);
        }
        let throttled = ev.mail.as_ref().is_some_and(|m| m.throttled);
        if let Some(m) = &ev.mail
            && m.items_lost
        {
            self.items_lost_records += 1;
        }
        if mailbox != NONE {
            let st = self.mailboxes.entry((tenant, mailbox)).or_default();
            st.records += 1;
            if is_mia {
                st.mia += 1;
            }
            if throttled && let Some(t) = t {
                st.throttled_records += 1;
                push_throttle(&mut st.throttled, t);
            }
        }
        self.note_bypass(ev, tenant);

        let mut ctx = self.graph_ctx_of(ev);
        if ctx.session != NONE && ctx.ip != NONE {
            self.note_edge(ctx.session, ctx.ip, day, t, &ev.loc);
        }
        match &self.mode {
            Mode::GraphOnly => return,
            Mode::Full => self.fill_ctx(ev, &mut ctx, true),
            Mode::Focused(_) => {
                // Decide on the identifiers already known (the actor's were interned up
                // front) before interning anything of a record that is not the actor's.
                self.fill_ctx(ev, &mut ctx, false);
                let Mode::Focused(syms) = &self.mode else {
                    return;
                };
                let keep = match match_ctx(&ctx, syms) {
                    None => false,
                    Some(None) => true,
                    Some(Some(w)) => t.is_some_and(|t| w.iter().any(|&(a, b)| a <= t && t < b)),
                };
                if !keep {
                    return;
                }
                self.fill_ctx(ev, &mut ctx, true);
            }
        }
        if ctx
            == (Ctx {
                session: NONE,
                ip: NONE,
                app: NONE,
                client_app: NONE,
                ua: NONE,
            })
        {
            return;
        }
        let ctx_id = match self.ctx_ids.get(&ctx) {
            Some(&id) => id,
            None => {
                let Ok(id) = u32::try_from(self.ctxs.len()) else {
                    return;
                };
                self.ctxs.push(ctx);
                self.ctx_ids.insert(ctx, id);
                id
            }
        };
        let key = SlotKey {
            ctx: ctx_id,
            day,
            tenant,
            mailbox,
        };
        let slot = match self.slot_ids.get(&key) {
            Some(&id) => id,
            None => {
                let Ok(id) = u32::try_from(self.slots.len()) else {
                    return;
                };
                self.slots.push((key, SlotAgg::default()));
                self.slot_ids.insert(key, id);
                id
            }
        };
        let Some((_, agg)) = self.slots.get_mut(slot as usize) else {
            return;
        };
        agg.span.add(t);
        agg.records += 1;
        if !is_mia {
            return;
        }
        agg.mia += 1;
        if throttled {
            agg.throttled += 1;
        }
        let Some(mail) = &ev.mail else {
            return;
        };
        if mail.items_lost {
            agg.items_lost += 1;
        }
        let op_count = mail.operation_count.max(1);
        if mail.access_type == Some(MailAccessType::Sync) {
            for f in &mail.folders {
                let folder = self.folder_sym(f);
                self.syncs
                    .entry(SyncKey { slot, folder })
                    .or_default()
                    .add(t);
            }
            return;
        }
        let mut listed: u64 = 0;
        for f in &mail.folders {
            let folder = self.folder_sym(f);
            for item in &f.items {
                let id = item.internet_message_id.trim();
                if id.is_empty() {
                    continue;
                }
                listed += 1;
                let msg = self.strings.intern(id);
                let m = self.msgs.entry(MsgKey { slot, folder, msg }).or_default();
                m.span.add(t);
                m.count = m.count.saturating_add(1);
                if let Some(sz) = item.size_bytes {
                    m.note_size(sz);
                }
            }
        }
        if let Some((_, agg)) = self.slots.get_mut(slot as usize) {
            agg.unlisted = agg.unlisted.saturating_add(op_count.saturating_sub(listed));
        }
    }

    /// Assess: resolve and expand the actor context, then build the report.
    #[must_use]
    pub fn finish(self, seeds: &Seeds, opts: &ImpactOptions, stats: &InputStats) -> ImpactReport {
        crate::finish::finish(self, seeds, opts, stats)
    }

    fn note_org_name(&mut self, tenant: Sym, name: &str) {
        let n = self.strings.intern(name);
        match self.tenant_names.get(&tenant) {
            Some(&cur) if self.strings.resolve(cur) <= name => {}
            _ => {
                self.tenant_names.insert(tenant, n);
            }
        }
    }

    fn mailbox_of(&mut self, ev: &Event, is_mia: bool) -> Sym {
        let m = ev
            .mailbox
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let m = m.or_else(|| {
            if is_mia {
                ev.mailbox_guid
                    .as_deref()
                    .or(ev.user.as_deref())
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            } else {
                None
            }
        });
        self.strings.opt(m, true)
    }

    /// Session and IP (what the graph needs); the rest [`NONE`] until [`Self::fill_ctx`].
    fn graph_ctx_of(&mut self, ev: &Event) -> Ctx {
        let si = ev.sign_in.as_ref();
        let session = ev
            .session_id
            .as_deref()
            .or_else(|| si.and_then(|s| s.session_id.as_deref()));
        let session = self.strings.opt(session, true);
        let ip = if let Some(ip) = ev.client_ip {
            self.ipbuf.clear();
            let _ = write!(self.ipbuf, "{ip}");
            let buf = std::mem::take(&mut self.ipbuf);
            let s = self.strings.intern(&buf);
            self.ipbuf = buf;
            s
        } else {
            self.strings.opt(ev.client_ip_text.as_deref(), true)
        };
        Ctx {
            session,
            ip,
            app: NONE,
            client_app: NONE,
            ua: NONE,
        }
    }

    /// Fill app, client app and user agent: interned when `insert`, else only looked up
    /// ([`NONE`] when never seen).
    fn fill_ctx(&mut self, ev: &Event, ctx: &mut Ctx, insert: bool) {
        let si = ev.sign_in.as_ref();
        let app = ev
            .app_id
            .as_deref()
            .or_else(|| si.and_then(|s| s.app_id.as_deref()));
        if insert {
            ctx.app = self.strings.opt(app, true);
            ctx.client_app = self.strings.opt(ev.client_app_id.as_deref(), true);
            ctx.ua = self.strings.opt(ev.client_info.as_deref(), false);
        } else {
            ctx.app = self.strings.lookup(app, true);
            ctx.client_app = self.strings.lookup(ev.client_app_id.as_deref(), true);
            ctx.ua = self.strings.lookup(ev.client_info.as_deref(), false);
        }
    }

    fn folder_sym(&mut self, f: &stormwatch_core::FolderAccess) -> Sym {
        let p = f.path.trim();
        if !p.is_empty() {
            return self.strings.intern(p);
        }
        match f.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => {
                let s = format!("(folder id {id})");
                self.strings.intern(&s)
            }
            None => self.strings.intern("(folder not logged)"),
        }
    }

    fn note_edge(&mut self, session: Sym, ip: Sym, day: i32, t: Option<i64>, loc: &Location) {
        let days = self.edges.entry((session, ip)).or_default();
        let i = match days.binary_search_by(|d| d.day.cmp(&day)) {
            Ok(i) => i,
            Err(i) => {
                days.insert(
                    i,
                    EdgeDay {
                        day,
                        span: Span::default(),
                        loc: loc.clone(),
                    },
                );
                if let Some(d) = days.get_mut(i) {
                    d.span.add(t);
                }
                return;
            }
        };
        let Some(d) = days.get_mut(i) else { return };
        let earlier = match t {
            Some(t) => t < d.span.first || (t == d.span.first && *loc < d.loc),
            None => d.span.is_empty() && *loc < d.loc,
        };
        if earlier {
            d.loc = loc.clone();
        }
        d.span.add(t);
    }

    fn note_bypass(&mut self, ev: &Event, tenant: Sym) {
        let Some(op) = ev.operation.as_deref() else {
            return;
        };
        // (operation, parameter, the value that turns auditing off)
        const OFF: [(&str, &str, bool); 4] = [
            (
                "Set-MailboxAuditBypassAssociation",
                "AuditBypassEnabled",
                true,
            ),
            ("Set-Mailbox", "AuditEnabled", false),
            ("Set-OrganizationConfig", "AuditDisabled", true),
            (
                "Set-AdminAuditLogConfig",
                "UnifiedAuditLogIngestionEnabled",
                false,
            ),
        ];
        let Some(&(_, param, off)) = OFF.iter().find(|(o, _, _)| op.eq_ignore_ascii_case(o)) else {
            return;
        };
        if !ev.raw.contains(param) || crate::params::flag(&ev.raw, param) != Some(off) {
            return;
        }
        self.bypass_count += 1;
        let b = Bypass {
            time: ev.time,
            tenant,
            operation: op.chars().take(100).collect(),
            loc: ev.loc.clone(),
        };
        if self.bypass.len() < MAX_BYPASS {
            self.bypass.push(b);
        } else if let Some(max) = self.bypass.iter_mut().max()
            && b < *max
        {
            *max = b;
        }
    }
}

fn push_throttle(v: &mut Vec<(i64, i64)>, t: i64) {
    let end = t.saturating_add(THROTTLE_SECS.saturating_mul(1_000_000_000));
    if v.iter().any(|&(a, b)| a <= t && end <= b) {
        return;
    }
    v.push((t, end));
    if v.len() > THROTTLE_COMPACT {
        merge_intervals(v);
    }
}

/// Sort and merge overlapping or touching intervals in place.
pub(crate) fn merge_intervals(v: &mut Vec<(i64, i64)>) {
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for &(a, b) in v.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *v = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_merge() {
        let mut v = vec![(10, 20), (0, 5), (5, 8), (15, 30), (40, 50)];
        merge_intervals(&mut v);
        assert_eq!(v, vec![(0, 8), (10, 30), (40, 50)]);
    }
}
