//! Every interned id the state holds, in one place: read ([`each_sym`], to know which strings
//! are alive or to check a restored state) and rewritten ([`remap`], when the interner is
//! compacted). Both destructure every state type completely, so a field added to one of them
//! does not compile until it is handled here.

use crate::intern::{FastMap as HashMap, FastSet as HashSet, Sym};
use crate::sorted::SortedSet;
use crate::state::{Activity, AuditChange, Ctx, CtxKey, IocHit, LocBuf, SignIns, State, Verdict};

fn key_syms(k: &CtxKey, f: &mut impl FnMut(Sym)) {
    let CtxKey {
        kind: _,
        mailbox,
        user,
        session,
        ip,
        app,
        client_app,
        client_info,
        logon: _,
        access: _,
        tenant,
        token_tenant,
    } = k;
    for s in [
        mailbox,
        user,
        session,
        ip,
        app,
        client_app,
        client_info,
        tenant,
        token_tenant,
    ]
    .into_iter()
    .flatten()
    {
        f(*s);
    }
}

/// Call `f` with every id the state holds (ids may repeat). The derived indexes
/// (`ctx_index`, `ip_syms`) are not visited: they are rebuilt from what is.
pub(crate) fn each_sym(st: &State, mut f: impl FnMut(Sym)) {
    let State {
        names: _,
        ip_syms: _,
        ctx_index: _,
        ctxs,
        sign_ins,
        ioc_hits,
        ioc_hits_dropped: _,
        audit_changes,
        verdicts,
        activity,
        days: _,
        first: _,
        last: _,
        records: _,
        untimed: _,
        mail_records: _,
        owa_token_records: _,
        max_events_per_context: _,
    } = st;
    for (k, c) in ctxs {
        key_syms(k, &mut f);
        let Ctx {
            first: _,
            last: _,
            records: _,
            ops: _,
            throttled: _,
            max_ops: _,
            hours: _,
            utis,
            folders,
            locs: LocBuf { .. },
            guest: _,
            app_only: _,
        } = c;
        utis.iter().for_each(|&(_, u)| f(u));
        folders.iter().for_each(|&x| f(x));
    }
    let SignIns {
        records: _,
        failed: _,
        interactive: _,
        non_interactive: _,
        first: _,
        last: _,
        sessions,
        utis,
        user_ips,
        users,
        user_last,
    } = sign_ins;
    sessions.keys().for_each(|&s| f(s));
    utis.keys().for_each(|&s| f(s));
    for &(u, ip) in user_ips.keys() {
        f(u);
        f(ip);
    }
    users.iter().for_each(|&s| f(s));
    user_last.keys().for_each(|&s| f(s));
    for h in ioc_hits {
        let IocHit {
            t: _,
            loc: _,
            ip: _,
            user,
            mailbox,
            session,
            tenant,
            sign_in: _,
        } = h;
        [user, mailbox, session, tenant]
            .into_iter()
            .flatten()
            .for_each(|&s| f(s));
    }
    for a in audit_changes {
        let AuditChange {
            t: _,
            loc: _,
            operation: _,
            user,
            tenant,
            what: _,
        } = a;
        [user, tenant].into_iter().flatten().for_each(|&s| f(s));
    }
    for v in verdicts {
        let Verdict {
            t: _,
            session,
            uti,
            verdict: _,
            loc: _,
        } = v;
        [session, uti].into_iter().flatten().for_each(|&s| f(s));
    }
    for (&who, a) in activity {
        f(who);
        let Activity {
            exchange: _,
            mail: _,
            tenant,
            first: _,
            last: _,
        } = a;
        if let Some(t) = tenant {
            f(*t);
        }
    }
}

fn remap_key(k: &mut CtxKey, m: &impl Fn(Sym) -> Sym) {
    let CtxKey {
        kind: _,
        mailbox,
        user,
        session,
        ip,
        app,
        client_app,
        client_info,
        logon: _,
        access: _,
        tenant,
        token_tenant,
    } = k;
    for s in [
        mailbox,
        user,
        session,
        ip,
        app,
        client_app,
        client_info,
        tenant,
        token_tenant,
    ] {
        *s = s.map(m);
    }
}

/// Rewrite every id the state holds through `m`, which must keep the order of the ids it
/// keeps (ordered sets of ids then keep their order). The context index is rebuilt and the
/// IP cache emptied; the interner itself is the caller's to replace.
pub(crate) fn remap(st: &mut State, m: impl Fn(Sym) -> Sym) {
    let State {
        names: _,
        ip_syms,
        ctx_index,
        ctxs,
        sign_ins,
        ioc_hits,
        ioc_hits_dropped: _,
        audit_changes,
        verdicts,
        activity,
        days: _,
        first: _,
        last: _,
        records: _,
        untimed: _,
        mail_records: _,
        owa_token_records: _,
        max_events_per_context: _,
    } = st;
    ip_syms.clear();
    for (k, c) in ctxs.iter_mut() {
        remap_key(k, &m);
        let Ctx {
            first: _,
            last: _,
            records: _,
            ops: _,
            throttled: _,
            max_ops: _,
            hours: _,
            utis,
            folders,
            locs: LocBuf { .. },
            guest: _,
            app_only: _,
        } = c;
        *utis = utis
            .iter()
            .map(|&(h, u)| (h, m(u)))
            .collect::<SortedSet<_>>();
        *folders = folders.iter().map(|&f| m(f)).collect::<SortedSet<_>>();
    }
    *ctx_index = ctxs.iter().enumerate().map(|(i, (k, _))| (*k, i)).collect();
    let SignIns {
        records: _,
        failed: _,
        interactive: _,
        non_interactive: _,
        first: _,
        last: _,
        sessions,
        utis,
        user_ips,
        users,
        user_last,
    } = sign_ins;
    *sessions = std::mem::take(sessions)
        .into_iter()
        .map(|(s, h)| (m(s), h))
        .collect::<HashMap<_, _>>();
    *utis = std::mem::take(utis)
        .into_iter()
        .map(|(s, r)| (m(s), r))
        .collect::<HashMap<_, _>>();
    *user_ips = std::mem::take(user_ips)
        .into_iter()
        .map(|((u, ip), h)| ((m(u), m(ip)), h))
        .collect::<HashMap<_, _>>();
    *users = std::mem::take(users)
        .into_iter()
        .map(&m)
        .collect::<HashSet<_>>();
    *user_last = std::mem::take(user_last)
        .into_iter()
        .map(|(u, t)| (m(u), t))
        .collect::<HashMap<_, _>>();
    for h in ioc_hits.iter_mut() {
        let IocHit {
            t: _,
            loc: _,
            ip: _,
            user,
            mailbox,
            session,
            tenant,
            sign_in: _,
        } = h;
        for s in [user, mailbox, session, tenant] {
            *s = s.map(&m);
        }
    }
    for a in audit_changes.iter_mut() {
        let AuditChange {
            t: _,
            loc: _,
            operation: _,
            user,
            tenant,
            what: _,
        } = a;
        *user = user.map(&m);
        *tenant = tenant.map(&m);
    }
    for v in verdicts.iter_mut() {
        let Verdict {
            t: _,
            session,
            uti,
            verdict: _,
            loc: _,
        } = v;
        *session = session.map(&m);
        *uti = uti.map(&m);
    }
    *activity = std::mem::take(activity)
        .into_iter()
        .map(|(who, mut a)| {
            let Activity {
                exchange: _,
                mail: _,
                tenant,
                first: _,
                last: _,
            } = &mut a;
            *tenant = tenant.map(&m);
            (m(who), a)
        })
        .collect::<HashMap<_, _>>();
}

/// The texts of every id the state holds, sorted (for tests: a compaction must leave them
/// unchanged).
#[cfg(test)]
pub(crate) fn texts(st: &State) -> Vec<String> {
    let mut out = Vec::new();
    each_sym(st, |s| out.push(st.names.name(s).to_owned()));
    out.sort_unstable();
    out
}
