//! From the aggregated state and the resolved actor to the [`ImpactReport`].

use std::collections::{BTreeMap, HashMap, HashSet};

use stormwatch_core::impact::{FolderImpact, MailboxImpact, MessageImpact, OrgImpact, Window};
use stormwatch_core::{ImpactReport, InputStats, Limit};

use crate::assessor::{Assessor, Ctx, MsgAgg, merge_intervals};
use crate::expand::{Match, match_ctx, resolve};
use crate::intern::{NONE, Sym};
use crate::limits;
use crate::seeds::{ImpactOptions, Seeds};
use crate::span::Span;
use crate::subjects;

/// (tenant, mailbox).
type MailboxKey = (Sym, Sym);
/// Half-open nanosecond intervals.
type Intervals = Vec<(i64, i64)>;

/// Tenant id shown for records without one.
pub(crate) const UNKNOWN_TENANT: &str = "unknown";

fn accepts(m: Match<'_>, span: &Span) -> bool {
    match m {
        None => false,
        Some(None) => true,
        Some(Some(w)) => w.iter().any(|&(a, b)| span.meets(a, b)),
    }
}

#[derive(Default)]
pub(crate) struct FolderB {
    pub(crate) whole: bool,
    pub(crate) msgs: HashMap<Sym, MsgAgg>,
}

#[derive(Default)]
pub(crate) struct MbxB {
    pub(crate) span: Span,
    pub(crate) records: u64,
    pub(crate) mia: u64,
    pub(crate) unlisted: u64,
    pub(crate) items_lost: u64,
    pub(crate) throttled: u64,
    pub(crate) sessions: HashSet<Sym>,
    pub(crate) ips: HashSet<Sym>,
    pub(crate) apps: HashSet<Sym>,
    pub(crate) folders: BTreeMap<String, FolderB>,
    pub(crate) limits: Vec<Limit>,
}

#[derive(Default)]
pub(crate) struct OrgB {
    pub(crate) span: Span,
    pub(crate) sessions: HashSet<Sym>,
    pub(crate) ips: HashSet<Sym>,
    pub(crate) apps: HashSet<Sym>,
    pub(crate) mailboxes: BTreeMap<String, MbxB>,
    pub(crate) limits: Vec<Limit>,
}

fn note_ctx(sessions: &mut HashSet<Sym>, ips: &mut HashSet<Sym>, apps: &mut HashSet<Sym>, c: &Ctx) {
    if c.session != NONE {
        sessions.insert(c.session);
    }
    if c.ip != NONE {
        ips.insert(c.ip);
    }
    let app = c.reported_app();
    if app != NONE {
        apps.insert(app);
    }
}

pub(crate) fn tenant_text(a: &Assessor, t: Sym) -> String {
    if t == NONE {
        UNKNOWN_TENANT.to_owned()
    } else {
        a.strings.resolve(t).to_owned()
    }
}

pub(crate) fn finish(
    a: Assessor,
    seeds: &Seeds,
    opts: &ImpactOptions,
    stats: &InputStats,
) -> ImpactReport {
    let actor = resolve(&a, seeds, opts);
    let syms = actor.syms(&a);
    let matches: Vec<Match<'_>> = a.ctxs.iter().map(|c| match_ctx(c, &syms)).collect();
    let ctx_match = |ctx: u32| matches.get(ctx as usize).copied().flatten();

    let mut orgs: BTreeMap<String, OrgB> = BTreeMap::new();
    let mut window = Span::default();
    // Accepted slots: index → the match that accepted it.
    let mut slot_ok: Vec<Match<'_>> = vec![None; a.slots.len()];
    for (i, (key, agg)) in a.slots.iter().enumerate() {
        let m = ctx_match(key.ctx);
        if !accepts(m, &agg.span) {
            continue;
        }
        if let Some(ok) = slot_ok.get_mut(i) {
            *ok = m;
        }
        let Some(ctx) = a.ctxs.get(key.ctx as usize) else {
            continue;
        };
        window.merge(&agg.span);
        let org = orgs.entry(tenant_text(&a, key.tenant)).or_default();
        org.span.merge(&agg.span);
        note_ctx(&mut org.sessions, &mut org.ips, &mut org.apps, ctx);
        if key.mailbox == NONE {
            continue;
        }
        let mb = org
            .mailboxes
            .entry(a.strings.resolve(key.mailbox).to_owned())
            .or_default();
        mb.span.merge(&agg.span);
        mb.records += agg.records;
        mb.mia += agg.mia;
        mb.unlisted = mb.unlisted.saturating_add(agg.unlisted);
        mb.items_lost += agg.items_lost;
        mb.throttled += agg.throttled;
        note_ctx(&mut mb.sessions, &mut mb.ips, &mut mb.apps, ctx);
    }

    for (k, m) in &a.msgs {
        let Some(Some(sm)) = slot_ok.get(k.slot as usize) else {
            continue;
        };
        if !accepts(Some(*sm), &m.span) {
            continue;
        }
        let Some((key, _)) = a.slots.get(k.slot as usize) else {
            continue;
        };
        let Some(f) = folder_entry(&a, &mut orgs, key.tenant, key.mailbox, k.folder) else {
            continue;
        };
        f.msgs.entry(k.msg).or_default().merge(m);
    }
    for (k, span) in &a.syncs {
        let Some(Some(sm)) = slot_ok.get(k.slot as usize) else {
            continue;
        };
        if !accepts(Some(*sm), span) {
            continue;
        }
        let Some((key, _)) = a.slots.get(k.slot as usize) else {
            continue;
        };
        if let Some(f) = folder_entry(&a, &mut orgs, key.tenant, key.mailbox, k.folder) {
            f.whole = true;
        }
    }

    // Throttled mailboxes: every window on a mailbox the actor touched; on other mailboxes of
    // the same tenants, the windows that overlap the actor's time there.
    let mut throttled: Vec<(&MailboxKey, Intervals)> = a
        .mailboxes
        .iter()
        .filter(|(_, st)| !st.throttled.is_empty())
        .map(|(k, st)| {
            let mut v = st.throttled.clone();
            merge_intervals(&mut v);
            (k, v)
        })
        .collect();
    throttled.sort_by(|x, y| {
        (a.strings.resolve(x.0.0), a.strings.resolve(x.0.1))
            .cmp(&(a.strings.resolve(y.0.0), a.strings.resolve(y.0.1)))
    });
    for ((tenant, mailbox), ws) in throttled {
        let tkey = tenant_text(&a, *tenant);
        let mname = a.strings.resolve(*mailbox).to_owned();
        let Some(org) = orgs.get_mut(&tkey) else {
            continue;
        };
        let touched = org.mailboxes.contains_key(&mname);
        let org_span = org.span;
        let ws: Vec<(i64, i64)> = if touched {
            ws
        } else {
            ws.into_iter()
                .filter(|&(f, t)| org_span.meets(f, t))
                .collect()
        };
        if ws.is_empty() {
            continue;
        }
        let mb = org.mailboxes.entry(mname).or_default();
        for (f, t) in ws {
            mb.limits.push(limits::throttled(f, t, touched));
        }
    }

    let subjects = opts.subjects.as_ref().map(subjects::normalise);
    let ctx_limits = limits::Context {
        a: &a,
        stats,
        window,
    };
    let general = limits::general(&ctx_limits, &orgs);
    let top_limits = general.top;
    for (tenant, ls) in general.per_org {
        orgs.entry(tenant).or_default().limits.extend(ls);
    }
    // Mailboxes whose audit is missing or stops are listed whether the actor touched them or
    // not (with no messages when not).
    for ((tenant, mailbox), ls) in general.per_mailbox {
        let mia = a
            .strings
            .get(&tenant)
            .zip(a.strings.get(&mailbox))
            .and_then(|k| a.mailboxes.get(&k))
            .map_or(0, |s| s.mia);
        let mb = orgs
            .entry(tenant)
            .or_default()
            .mailboxes
            .entry(mailbox)
            .or_default();
        // The actor's own "active here without MailItemsAccessed" limit says it already.
        if mb.records > 0 && mia == 0 {
            continue;
        }
        mb.limits.extend(ls);
    }

    let mut organizations = Vec::with_capacity(orgs.len());
    for (tenant, ob) in orgs {
        let name = a
            .strings
            .get(&tenant)
            .and_then(|t| a.tenant_names.get(&t))
            .map(|n| a.strings.resolve(*n).to_owned());
        let mut mailboxes = Vec::with_capacity(ob.mailboxes.len());
        for (mailbox, mut mb) in ob.mailboxes {
            let state = a
                .strings
                .get(&tenant)
                .or((tenant == UNKNOWN_TENANT).then_some(NONE))
                .zip(a.strings.get(&mailbox))
                .and_then(|k| a.mailboxes.get(&k));
            limits::mailbox(&mut mb, state);
            mailboxes.push(build_mailbox(&a, mailbox, mb, subjects.as_ref()));
        }
        let mut limits = ob.limits;
        limits::sort(&mut limits);
        organizations.push(OrgImpact {
            tenant_id: tenant,
            name,
            first_access: ob.span.first_ts(),
            last_access: ob.span.last_ts(),
            sessions: ob.sessions.len() as u64,
            ips: ob.ips.len() as u64,
            apps: ob.apps.len() as u64,
            mailboxes,
            limits,
        });
    }

    ImpactReport {
        actor: actor.context(),
        window: Window {
            first: window.first_ts(),
            last: window.last_ts(),
        },
        organizations,
        limits: top_limits,
        expansion: actor.steps,
        coverage: limits::coverage_rows(&a, stats),
        sources: limits::sources(stats),
    }
}

fn folder_entry<'o>(
    a: &Assessor,
    orgs: &'o mut BTreeMap<String, OrgB>,
    tenant: Sym,
    mailbox: Sym,
    folder: Sym,
) -> Option<&'o mut FolderB> {
    if mailbox == NONE {
        return None;
    }
    let org = orgs.get_mut(&tenant_text(a, tenant))?;
    let mb = org.mailboxes.get_mut(a.strings.resolve(mailbox))?;
    Some(
        mb.folders
            .entry(a.strings.resolve(folder).to_owned())
            .or_default(),
    )
}

fn build_mailbox(
    a: &Assessor,
    mailbox: String,
    mb: MbxB,
    subjects: Option<&HashMap<String, String>>,
) -> MailboxImpact {
    let mut distinct: HashMap<Sym, Option<u64>> = HashMap::new();
    let mut folders = Vec::with_capacity(mb.folders.len());
    for (path, fb) in mb.folders {
        let mut msgs: Vec<MessageImpact> = fb
            .msgs
            .iter()
            .map(|(id, m)| {
                let d = distinct.entry(*id).or_insert(None);
                if let Some(sz) = m.size() {
                    *d = Some(d.map_or(sz, |s| s.max(sz)));
                }
                let text = a.strings.resolve(*id);
                MessageImpact {
                    internet_message_id: text.to_owned(),
                    size_bytes: m.size(),
                    first_access: m.span.first_ts(),
                    last_access: m.span.last_ts(),
                    access_count: u64::from(m.count),
                    subject: subjects
                        .and_then(|s| subjects::lookup(s, text))
                        .map(str::to_owned),
                }
            })
            .collect();
        msgs.sort_by(|x, y| {
            (x.first_access, &x.internet_message_id).cmp(&(y.first_access, &y.internet_message_id))
        });
        folders.push(FolderImpact {
            path,
            whole_folder: fb.whole,
            messages: msgs,
        });
    }
    let mut limits = mb.limits;
    limits::sort(&mut limits);
    MailboxImpact {
        mailbox,
        first_access: mb.span.first_ts(),
        last_access: mb.span.last_ts(),
        folders,
        unlisted_binds: mb.unlisted,
        messages: distinct.len() as u64,
        bytes: distinct
            .values()
            .filter_map(|s| *s)
            .fold(0u64, u64::saturating_add),
        records: mb.records,
        sessions: mb.sessions.len() as u64,
        ips: mb.ips.len() as u64,
        apps: mb.apps.len() as u64,
        limits,
    }
}
