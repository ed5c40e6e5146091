//! Observing in two steps: an [`Observer`] takes from each event what the analytics keep, on
//! whatever thread holds the event (a reader's worker); [`crate::Analytics::fold`] folds a
//! batch of those into the state, on the analytics' own thread.
//!
//! The values are normalised as the state keys them (trimmed; identifiers lower-cased) and
//! written into one text buffer per batch, so a batch crossing threads is a few allocations
//! however many events it holds, and the event itself can be freed where it was made.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use stormwatch_core::{Event, LogonType, MailAccessType, Outcome, PackedLocation};

use crate::intern::trim;
use crate::iocs::IocSet;
use crate::state::CtxKind;

/// Where a value sits in its batch's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: usize,
    len: usize,
}

/// What the analytics keep of a run of events, in order; made by an [`Observer`], folded by
/// [`crate::Analytics::fold`].
#[derive(Debug, Default)]
pub struct Observed {
    text: String,
    folders: Vec<Span>,
    pub(crate) untimed: u64,
    pub(crate) items: Vec<Item>,
    /// The Exchange parts of the items, in order.
    exchange: Vec<ExchangePart>,
}

/// One timed event.
#[derive(Debug)]
pub(crate) struct Item {
    pub(crate) t: i64,
    /// Its client IP is an indicator.
    pub(crate) ioc: Option<Box<IocPart>>,
    /// It changes what the audit log records.
    pub(crate) audit: Option<Box<AuditPart>>,
    pub(crate) body: Body,
}

/// What kind of event an [`Item`] is, with what that kind keeps.
#[derive(Debug)]
pub(crate) enum Body {
    /// Counted in the time range only.
    Other,
    /// A successful sign-in.
    SignIn(SignInPart),
    /// A failed sign-in (an error code, or a failure outcome): counted only.
    FailedSignIn,
    /// An Exchange record: its part's index in the batch.
    Exchange(usize),
}

/// A client IP: parsed, else its text.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IpRef {
    Addr(IpAddr),
    Text(Span),
    None,
}

#[derive(Debug)]
pub(crate) struct IocPart {
    pub(crate) ip: IpAddr,
    pub(crate) loc: PackedLocation,
    pub(crate) user: Option<Span>,
    pub(crate) mailbox: Option<Span>,
    pub(crate) session: Option<Span>,
    pub(crate) tenant: Option<Span>,
    pub(crate) sign_in: bool,
}

#[derive(Debug)]
pub(crate) struct AuditPart {
    pub(crate) what: &'static str,
    pub(crate) loc: PackedLocation,
    pub(crate) operation: Span,
    pub(crate) user: Option<Span>,
    pub(crate) tenant: Option<Span>,
}

#[derive(Debug)]
pub(crate) struct SignInPart {
    pub(crate) interactive: Option<bool>,
    pub(crate) session: Option<Span>,
    pub(crate) uti: Option<Span>,
    pub(crate) user: Option<Span>,
    pub(crate) ip: IpRef,
}

#[derive(Debug)]
pub(crate) struct ExchangePart {
    pub(crate) kind: CtxKind,
    pub(crate) loc: PackedLocation,
    pub(crate) user: Option<Span>,
    /// The mailbox, else (for `MailItemsAccessed`) the acting user.
    pub(crate) mailbox: Option<Span>,
    pub(crate) tenant: Option<Span>,
    /// `None` for an Exchange record with neither session nor token id: it counts for
    /// visibility only.
    pub(crate) ctx: Option<CtxPart>,
}

#[derive(Debug)]
pub(crate) struct CtxPart {
    pub(crate) session: Option<Span>,
    pub(crate) ip: IpRef,
    pub(crate) app: Option<Span>,
    pub(crate) client_app: Option<Span>,
    pub(crate) client_info: Option<Span>,
    pub(crate) logon: Option<LogonType>,
    pub(crate) access: Option<MailAccessType>,
    pub(crate) token_tenant: Option<Span>,
    pub(crate) uti: Option<Span>,
    /// Range of the batch's folder list.
    pub(crate) folders: (usize, usize),
    pub(crate) ops: u64,
    pub(crate) throttled: bool,
    pub(crate) guest: bool,
    pub(crate) app_only: bool,
}

impl Observed {
    /// Events in the batch (timed or not).
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len() + usize::try_from(self.untimed).unwrap_or(usize::MAX)
    }

    /// No event in the batch.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empty the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.folders.clear();
        self.untimed = 0;
        self.items.clear();
        self.exchange.clear();
    }

    /// The Exchange part of an item.
    pub(crate) fn exchange(&self, i: usize) -> Option<&ExchangePart> {
        self.exchange.get(i)
    }

    /// The text of a span.
    pub(crate) fn text(&self, s: Span) -> &str {
        self.text.get(s.start..s.start + s.len).unwrap_or("")
    }

    /// The folder spans of a context part.
    pub(crate) fn folders(&self, (start, len): (usize, usize)) -> &[Span] {
        self.folders.get(start..start + len).unwrap_or(&[])
    }

    fn put(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        Span {
            start,
            len: s.len(),
        }
    }

    /// `s` as kept: trimmed; `None` when empty.
    fn kept(&mut self, s: Option<&str>) -> Option<Span> {
        let t = trim(s?);
        (!t.is_empty()).then(|| self.put(t))
    }

    /// An identifier as kept: trimmed, ASCII lower-cased; `None` when empty.
    fn id(&mut self, s: Option<&str>) -> Option<Span> {
        let t = trim(s?);
        if t.is_empty() {
            return None;
        }
        let span = self.put(t);
        self.text[span.start..].make_ascii_lowercase();
        Some(span)
    }

    /// A token id as kept: trailing `=` dropped, then as an identifier.
    fn token_id(&mut self, s: Option<&str>) -> Option<Span> {
        self.id(s.map(|v| v.trim_end_matches('=')))
    }

    fn ip(&mut self, ev: &Event) -> IpRef {
        match ev.client_ip {
            Some(a) => IpRef::Addr(a),
            None => self
                .id(ev.client_ip_text.as_deref())
                .map_or(IpRef::None, IpRef::Text),
        }
    }
}

/// Record times the analytics compute with: within about 146 years of 1970 (1824 to 2116),
/// leaving room for hour and window arithmetic without overflow.
pub(crate) const MAX_ABS_TIME: i64 = i64::MAX / 2;

/// Whether a record time (ns) is one the analytics compute with.
pub(crate) fn in_time_range(t: i64) -> bool {
    (-MAX_ABS_TIME..=MAX_ABS_TIME).contains(&t)
}

/// Takes from each event what the analytics keep, on any thread; see
/// [`crate::Analytics::observer`].
#[derive(Debug, Clone)]
pub struct Observer {
    iocs: Arc<IocSet>,
    /// Emptied batches, for the next ones to fill without allocating.
    spare: Arc<Mutex<Vec<Observed>>>,
}

/// Emptied batches kept for reuse at most.
const SPARE: usize = 64;
/// Largest text buffer of a batch kept for reuse (a run of a few hundred records keeps a few
/// tens of kilobytes of identifiers).
const SPARE_TEXT_BYTES: usize = 1 << 20;
/// Largest item list of a batch kept for reuse.
const SPARE_ITEMS: usize = 4096;

impl Observer {
    pub(crate) fn new(iocs: Arc<IocSet>) -> Self {
        Observer {
            iocs,
            spare: Arc::default(),
        }
    }

    /// The indicators it checks client IPs against.
    pub(crate) fn iocs(&self) -> &IocSet {
        &self.iocs
    }

    /// Give back a folded batch: emptied, its buffers fill a later one. (A batch is typically
    /// filled on one thread and folded on another; reusing it saves allocating and freeing
    /// its buffers across threads.)
    pub fn recycle(&self, mut batch: Observed) {
        // A batch grown by unusually large values is not kept: the spares stay small.
        if batch.text.capacity() > SPARE_TEXT_BYTES || batch.items.capacity() > SPARE_ITEMS {
            return;
        }
        batch.clear();
        if let Ok(mut spare) = self.spare.lock()
            && spare.len() < SPARE
        {
            spare.push(batch);
        }
    }

    /// Add what the analytics keep of `ev` to `into`.
    pub fn observe(&self, ev: &Event, into: &mut Observed) {
        if into.items.capacity() == 0
            && into.untimed == 0
            && let Some(b) = self.spare.lock().ok().and_then(|mut s| s.pop())
        {
            *into = b;
        }
        // A time near the ends of the representable range (a hostile or broken record) would
        // overflow the analytics' hour and window arithmetic: it counts as no time.
        let Some(t) = ev.time.filter(|t| in_time_range(t.nanos())) else {
            into.untimed += 1;
            return;
        };
        let ioc = ev
            .client_ip
            .filter(|ip| !self.iocs.get(ip).is_empty())
            .map(|ip| {
                let session = into
                    .id(ev.session_id.as_deref())
                    .or_else(|| into.id(ev.sign_in.as_ref().and_then(|s| s.session_id.as_deref())));
                Box::new(IocPart {
                    ip,
                    loc: PackedLocation::new(&ev.loc),
                    user: into.id(ev.user.as_deref()),
                    mailbox: into.id(ev.mailbox.as_deref()),
                    session,
                    tenant: into.id(ev.tenant.as_deref()),
                    sign_in: ev.sign_in.is_some(),
                })
            });
        let mut item = Item {
            t: t.nanos(),
            ioc,
            audit: None,
            body: Body::Other,
        };
        if let Some(si) = &ev.sign_in {
            let ok = si.error_code.unwrap_or(0) == 0 && ev.outcome != Outcome::Failure;
            item.body = if ok {
                Body::SignIn(SignInPart {
                    interactive: si.interactive,
                    session: into.id(si.session_id.as_deref().or(ev.session_id.as_deref())),
                    uti: into.token_id(
                        si.unique_token_id
                            .as_deref()
                            .or(ev.unique_token_id.as_deref()),
                    ),
                    user: into.id(ev.user.as_deref()),
                    ip: into.ip(ev),
                })
            } else {
                Body::FailedSignIn
            };
            into.items.push(item);
            return;
        }
        if let Some(what) = audit_change(ev) {
            let operation = into.put(ev.operation.as_deref().unwrap_or_default());
            item.audit = Some(Box::new(AuditPart {
                what,
                loc: PackedLocation::new(&ev.loc),
                operation,
                user: into.id(ev.user.as_deref()),
                tenant: into.id(ev.tenant.as_deref()),
            }));
        }
        let mail = ev.is_mail_items_accessed();
        if mail || is_exchange(ev) {
            let part = exchange(ev, mail, into);
            item.body = Body::Exchange(into.exchange.len());
            into.exchange.push(part);
        }
        into.items.push(item);
    }
}

/// The Exchange part of an event.
fn exchange(ev: &Event, mail: bool, into: &mut Observed) -> ExchangePart {
    let kind = if mail {
        CtxKind::Mail
    } else if ev.record_type == Some(275) {
        CtxKind::OwaToken
    } else {
        CtxKind::Exchange
    };
    let user = into.id(ev.user.as_deref());
    let mailbox =
        into.id(ev.mailbox.as_deref())
            .or(if kind == CtxKind::Mail { user } else { None });
    let tenant = into.id(ev.tenant.as_deref());
    // Only Exchange records that can be joined to a sign-in matter beyond visibility.
    let joinable =
        kind != CtxKind::Exchange || ev.session_id.is_some() || ev.unique_token_id.is_some();
    let ctx = joinable.then(|| {
        let session = into.id(ev.session_id.as_deref());
        let ip = into.ip(ev);
        let app = into.id(ev.app_id.as_deref());
        let client_app = into.id(ev.client_app_id.as_deref());
        let client_info = into.kept(ev.client_info.as_deref());
        let token_tenant = into.id(ev.token_tenant.as_deref());
        let uti = into.token_id(ev.unique_token_id.as_deref());
        let start = into.folders.len();
        if let Some(m) = &ev.mail {
            for f in &m.folders {
                if let Some(s) = into.kept(Some(&f.path)) {
                    into.folders.push(s);
                }
            }
        }
        let (ops, throttled) = ev
            .mail
            .as_ref()
            .map_or((1, false), |m| (m.operation_count.max(1), m.throttled));
        CtxPart {
            session,
            ip,
            app,
            client_app,
            client_info,
            logon: ev.logon_type,
            access: ev.mail.as_ref().and_then(|m| m.access_type),
            token_tenant,
            uti,
            folders: (start, into.folders.len() - start),
            ops,
            throttled,
            // A B2B guest (`#EXT#` in the UPN, UserType Guest) or a partner's technician
            // working in this tenant through delegated administration (UserType
            // PartnerTechnician) acts with a token of their home tenant.
            guest: ev
                .user
                .as_deref()
                .is_some_and(|u| u.contains("#EXT#") || u.contains("#ext#"))
                || matches!(ev.user_type, Some(9 | 10)),
            app_only: matches!(ev.user_type, Some(4..=6)),
        }
    });
    ExchangePart {
        kind,
        loc: PackedLocation::new(&ev.loc),
        user,
        mailbox,
        tenant,
        ctx,
    }
}

/// An Exchange record: its workload, or an Exchange record type (1–3, 19, 50, 275).
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

/// What the audit-configuration changes do to the evidence (the `what` of an audit change).
const AUDIT_BYPASS: &str = "audit bypass set for an account: its mailbox access is not logged";
const AUDIT_LOG_OFF: &str = "unified audit log ingestion turned off";
const AUDIT_ORG_OFF: &str = "mailbox auditing turned off for the organisation";
const AUDIT_MAILBOX_OFF: &str = "mailbox auditing turned off for a mailbox";
const AUDIT_OWNER_ACTIONS: &str =
    "mailbox audit actions changed (owner actions set without MailItemsAccessed)";
/// Every `what` an audit change can have (a snapshot keeps its index).
pub(crate) const AUDIT_CHANGE_KINDS: [&str; 5] = [
    AUDIT_BYPASS,
    AUDIT_LOG_OFF,
    AUDIT_ORG_OFF,
    AUDIT_MAILBOX_OFF,
    AUDIT_OWNER_ACTIONS,
];

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
        return (p("AuditBypassEnabled").as_deref() != Some("false")).then_some(AUDIT_BYPASS);
    }
    if is("Set-AdminAuditLogConfig") {
        return (p("UnifiedAuditLogIngestionEnabled").as_deref() == Some("false"))
            .then_some(AUDIT_LOG_OFF);
    }
    if is("Set-OrganizationConfig") {
        return (p("AuditDisabled").as_deref() == Some("true")).then_some(AUDIT_ORG_OFF);
    }
    if p("AuditEnabled").as_deref() == Some("false") {
        return Some(AUDIT_MAILBOX_OFF);
    }
    if p("AuditOwner").is_some_and(|v| !v.contains("mailitemsaccessed")) {
        return Some(AUDIT_OWNER_ACTIONS);
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use stormwatch_core::Timestamp;

    fn mail_read(user: &str) -> Event {
        Event {
            time: Some(Timestamp::parse("2023-06-12T03:14:07Z").unwrap()),
            workload: Some("Exchange".into()),
            operation: Some("MailItemsAccessed".into()),
            user: Some(user.into()),
            session_id: Some(" Sess-1 ".into()),
            ..Event::default()
        }
    }

    #[test]
    fn identifiers_are_kept_trimmed_and_lower_cased() {
        let o = Observer::new(Arc::new(IocSet::new()));
        let mut b = Observed::default();
        o.observe(&mail_read(" Envoy@Agency.EXAMPLE "), &mut b);
        o.observe(&Event::default(), &mut b);
        assert_eq!((b.items.len(), b.untimed, b.len()), (1, 1, 2));
        let Body::Exchange(i) = b.items[0].body else {
            panic!("not an Exchange item");
        };
        let x = b.exchange(i).unwrap();
        assert_eq!(b.text(x.user.unwrap()), "envoy@agency.example");
        // MailItemsAccessed without a mailbox: the acting user's.
        assert_eq!(b.text(x.mailbox.unwrap()), "envoy@agency.example");
        assert_eq!(b.text(x.ctx.as_ref().unwrap().session.unwrap()), "sess-1");
    }

    #[test]
    fn times_at_the_ends_of_the_range_count_as_untimed() {
        let o = Observer::new(Arc::new(IocSet::new()));
        let mut b = Observed::default();
        for t in [i64::MAX, i64::MIN, MAX_ABS_TIME + 1, -MAX_ABS_TIME - 1] {
            let mut e = mail_read("a@x");
            e.time = Some(Timestamp::from_nanos(t));
            o.observe(&e, &mut b);
        }
        assert_eq!((b.items.len(), b.untimed), (0, 4));
        // The edges of the range are kept (years 1824 and 2116).
        for t in [MAX_ABS_TIME, -MAX_ABS_TIME] {
            let mut e = mail_read("a@x");
            e.time = Some(Timestamp::from_nanos(t));
            o.observe(&e, &mut b);
        }
        assert_eq!(b.items.len(), 2);
        let mut a = crate::Analytics::new(
            crate::AnalyticsConfig::default(),
            IocSet::new(),
            crate::AppCatalog::builtin(),
            None,
            vec![],
        );
        a.fold(&b);
        let out = a.finish();
        assert!(
            out.notes
                .iter()
                .any(|n| n.contains("4 records without a time")),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn folded_batches_are_reused_unless_grown_large() {
        let o = Observer::new(Arc::new(IocSet::new()));
        let mut b = Observed::default();
        o.observe(&mail_read("a@x"), &mut b);
        let cap = b.text.capacity();
        o.recycle(b);
        let mut next = Observed::default();
        o.observe(&mail_read("b@x"), &mut next);
        assert_eq!(next.text.capacity(), cap, "the spare was not reused");
        assert_eq!(next.len(), 1, "the spare still held what it had");
        // A batch holding a huge identifier goes: the spares stay small.
        let mut big = Observed::default();
        o.observe(&mail_read(&"x".repeat(SPARE_TEXT_BYTES + 1)), &mut big);
        o.recycle(big);
        let mut after = Observed::default();
        o.observe(&mail_read("c@x"), &mut after);
        assert!(after.text.capacity() <= SPARE_TEXT_BYTES);
    }
}
