//! 3. Forged-token signals in the logs themselves, and token verdicts fed by the caller.
//!
//! What it detects: records whose `TokenTenantId` is not the record's `OrganizationId` for a
//! user who is not a guest (high), a token of the consumer (MSA) tenant used at Exchange, an
//! enterprise API (critical), and records sharing a SessionId / UniqueTokenId with a JWT that
//! the token verifier judged forged, out of scope or otherwise invalid.

use serde_json::json;
use stormwatch_core::Level;

use super::{Cx, Finding, thousands, ts};

pub(crate) const SLUG: &str = "forged-token-signals";

/// How serious a caller's verdict is: `None` for a valid token.
pub(crate) fn verdict_level(v: &str) -> Option<Level> {
    let v = v.to_ascii_lowercase();
    if ["valid", "ok", "pass", "passed"].contains(&v.as_str()) {
        return None;
    }
    let critical = [
        "forged",
        "scope",
        "revoked",
        "consumer",
        "signature",
        "unknown_kid",
        "unknown kid",
    ];
    Some(if critical.iter().any(|c| v.contains(c)) {
        Level::Critical
    } else {
        Level::High
    })
}

pub(crate) fn run(cx: &Cx<'_>, out: &mut Vec<Finding>) {
    let cfg = &cx.cfg.forged_token;
    if !cfg.enabled {
        return;
    }
    let consumer = cfg.consumer_tenant.trim().to_ascii_lowercase();
    for (i, (k, c)) in cx.st.ctxs.iter().enumerate() {
        let Some(tt) = k.token_tenant else { continue };
        let tt_name = cx.name(tt);
        let org = cx.opt(k.tenant);
        let user = cx.opt(k.user).unwrap_or("(unknown user)");
        let (level, ex) = if tt_name == consumer {
            (
                Level::Critical,
                format!(
                    "{} Exchange record{} by {user} carry TokenTenantId {tt_name}, the consumer (Microsoft account) tenant, at Exchange Online, an enterprise API; organisation {}: the token was issued for personal accounts and must never be accepted here (Storm-0558's forged tokens)",
                    thousands(c.records),
                    if c.records == 1 { "" } else { "s" },
                    org.unwrap_or("(not logged)"),
                ),
            )
        } else if let Some(org) = org.filter(|o| *o != tt_name) {
            if c.guest {
                continue;
            }
            (
                Level::High,
                format!(
                    "{} Exchange record{} by {user} carry TokenTenantId {tt_name} but OrganizationId {org}; {user} is not a guest, so the token was issued by another tenant than the one that owns the mailbox",
                    thousands(c.records),
                    if c.records == 1 { "" } else { "s" },
                ),
            )
        } else {
            continue;
        };
        out.push(
            Finding::new(
                SLUG,
                level,
                format!("{ex}; first {} last {}", ts(c.first), ts(c.last)),
            )
            .ctxs(vec![i])
            .ev("token_tenant_id", json!(tt_name))
            .ev("organization_id", json!(org))
            .ev("consumer_tenant", json!(tt_name == consumer))
            .strong(),
        );
    }
    for v in &cx.st.verdicts {
        let Some(level) = verdict_level(&v.verdict) else {
            continue;
        };
        let ctxs: Vec<usize> = cx
            .st
            .ctxs
            .iter()
            .enumerate()
            .filter(|(_, (k, c))| {
                (v.session.is_some() && k.session == v.session)
                    || v.uti.is_some_and(|u| c.utis.iter().any(|&(_, x)| x == u))
            })
            .map(|(i, _)| i)
            .collect();
        let mut f = Finding::new(
            SLUG,
            level,
            format!(
                "a token seen at {} (session {}, token id {}) was judged `{}` by the token verifier; {} context{} of Exchange records share its session or token id",
                ts(v.t),
                cx.opt(v.session).unwrap_or("(none)"),
                cx.opt(v.uti).unwrap_or("(none)"),
                v.verdict,
                ctxs.len(),
                if ctxs.len() == 1 { "" } else { "s" }
            ),
        )
        .ctxs(ctxs)
        .ev("verdict", json!(v.verdict))
        .ev("session_id", json!(cx.opt(v.session)))
        .ev("unique_token_id", json!(cx.opt(v.uti)))
        .strong();
        f.extra.push((v.t, v.loc.clone()));
        f.fields.session = cx.opt(v.session).map(str::to_owned);
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_util::{of, run};
    use crate::testkit::{Ev, TENANT, at};
    use crate::{Analytics, AnalyticsConfig, AppCatalog, IocSet};
    use stormwatch_core::{Level, Location, Timestamp};

    const M: &str = "envoy@agency.example";

    #[test]
    fn consumer_tenant_is_critical_other_tenant_high() {
        let out = run(vec![
            Ev::mail(&at(0, 3, 0), M)
                .token_tenant("9188040d-6c67-4c5b-b112-36a304b66dad")
                .build(),
            Ev::mail(&at(0, 4, 0), M)
                .token_tenant("aaaaaaaa-0000-4000-8000-000000000009")
                .build(),
        ]);
        let mut levels: Vec<Level> = of(&out, super::SLUG).iter().map(|d| d.level).collect();
        levels.sort();
        assert_eq!(levels, vec![Level::High, Level::Critical]);
    }

    #[test]
    fn near_miss_same_tenant_and_guests_are_quiet() {
        let out = run(vec![
            Ev::mail(&at(0, 3, 0), M).token_tenant(TENANT).build(),
            Ev::mail(&at(0, 3, 0), "guest_x.org#EXT#@agency.example")
                .token_tenant("aaaaaaaa-0000-4000-8000-000000000009")
                .build(),
        ]);
        assert!(of(&out, super::SLUG).is_empty());
        // A partner's technician (UserType 9) and a guest by UserType alone: another tenant's
        // token is what they carry.
        let mut partner = Ev::mail(&at(0, 4, 0), "tech@partner.example")
            .token_tenant("aaaaaaaa-0000-4000-8000-000000000010")
            .build();
        partner.user_type = Some(9);
        let mut guest = Ev::mail(&at(0, 5, 0), "someone@other.example")
            .token_tenant("aaaaaaaa-0000-4000-8000-000000000011")
            .build();
        guest.user_type = Some(10);
        let mut regular = Ev::mail(&at(0, 6, 0), "member@other.example")
            .token_tenant("aaaaaaaa-0000-4000-8000-000000000011")
            .build();
        regular.user_type = Some(0);
        let out = run(vec![partner, guest, regular]);
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1, "only the regular user's records");
        assert_eq!(d[0].level, Level::High);
    }

    #[test]
    fn token_verdict_hook_covers_the_session() {
        let mut a = Analytics::new(
            AnalyticsConfig::default(),
            IocSet::new(),
            AppCatalog::builtin(),
            None,
            vec![],
        );
        let mut e = Ev::mail(&at(0, 3, 0), M).session("s-forged").build();
        e.loc.line = 7;
        a.observe(&e);
        let at0 = Timestamp::parse(&at(0, 2, 59)).unwrap_or_default();
        a.observe_token_verdict(
            at0,
            Some("s-forged"),
            None,
            "forged: key scope mismatch",
            Location {
                file: "proxy.log".into(),
                line: 3,
                record_id: None,
            },
        );
        a.observe_token_verdict(at0, Some("s-other"), None, "valid", Location::default());
        let out = a.finish();
        let d = of(&out, super::SLUG);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].level, Level::Critical);
        assert_eq!(d[0].events.len(), 2);
    }
}
