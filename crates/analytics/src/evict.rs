//! Ageing out: what is older than a point in event time leaves the state, so that analytics
//! fed an endless stream hold what the horizon covers and not more.
//!
//! [`Analytics::evict`]`(before)`:
//! - contexts whose last record is before the point are folded into the baseline snapshot,
//!   by the code that folds every context into the baseline `finish` saves (values seen per
//!   mailbox and dimension with first / last time and record count, the hourly operation
//!   statistics, the owner's records in and out of the actor-hours window; then entries
//!   older than `snapshot_retention_days` are pruned), and dropped. Contexts with a record at
//!   or after the point are kept whole;
//! - sign-in index entries (session hours, token ids, user–IP hours) before the point are
//!   dropped, except those a kept context still joins against (from its first hour minus the
//!   sign-in look backs); a user counts as having signed in until their last sign-in is
//!   `snapshot_retention_days` before the point and no kept context is theirs. The sign-in
//!   counts and span stay;
//! - records from IOC IPs, audit configuration changes, token verdicts, per-mailbox activity
//!   (visibility) and per-day counts before the point are dropped;
//! - the string interner is rebuilt with the strings still referred to, and every id
//!   rewritten, once most of its strings are no longer referred to.
//!
//! What it guarantees, and what differs from a run that keeps everything: the crate docs
//! (Streaming).

use std::time::Duration;

use stormwatch_core::Timestamp;

use crate::engine::{Analytics, next_baseline};
use crate::intern::{FastMap as HashMap, FastSet as HashSet, Interner, Sym};
use crate::state::{DAY_NS, State, hour_of};
use crate::syms;

/// What [`Analytics::evict`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct EvictStats {
    /// Contexts whose last record was before the point: folded into the baseline, dropped.
    pub contexts: usize,
    /// Contexts kept.
    pub contexts_kept: usize,
    /// Sign-in index entries dropped: session hours, token ids, user-IP hours, users.
    pub sign_in_entries: usize,
    /// Records from IOC IPs dropped.
    pub ioc_hits: usize,
    /// Audit configuration changes dropped.
    pub audit_changes: usize,
    /// Token verdicts dropped.
    pub verdicts: usize,
    /// Per-mailbox activity entries (for visibility gaps) dropped.
    pub activity: usize,
    /// Per-day record counts dropped.
    pub days: usize,
    /// Distinct strings held before.
    pub strings_before: usize,
    /// Distinct strings held after (smaller only when the interner was compacted).
    pub strings_after: usize,
    /// [`Analytics::state_bytes`] before.
    pub bytes_before: usize,
    /// [`Analytics::state_bytes`] after.
    pub bytes_after: usize,
}

/// Keep the earliest hour `h` a key is joined from.
fn pin<K: std::hash::Hash + Eq>(m: &mut HashMap<K, i64>, k: K, h: i64) {
    let e = m.entry(k).or_insert(h);
    *e = (*e).min(h);
}

fn hours(h: u32) -> i64 {
    i64::from(h)
}

fn days_h(d: u32) -> i64 {
    i64::from(d) * 24
}

impl Analytics {
    /// The most records an analytic's detection shows (`max_events_per_detection`): its
    /// earliest ones.
    #[must_use]
    pub fn max_events_per_detection(&self) -> usize {
        self.config.max_events_per_detection
    }

    /// The longest look back of any analytic, in whole hours (plus the hour the sign-in joins
    /// round to): how far behind the oldest record still to be folded [`Analytics::evict`]'s
    /// point must stay for the decisions about that record to be those of a run that never
    /// evicted. With the defaults, 30 days (`no_sign_in.session_max_age_days`,
    /// `asn.baseline_days`) and an hour.
    #[must_use]
    pub fn longest_lookback(&self) -> Duration {
        let c = &self.config;
        let minutes_h = |m: u32| (i64::from(m) + 59) / 60;
        let h = [
            days_h(c.baseline_days),
            days_h(c.asn.baseline_days),
            days_h(c.no_sign_in.session_max_age_days),
            hours(c.no_sign_in.session_lookback_hours),
            hours(c.no_sign_in.token_lookback_hours),
            hours(c.no_sign_in.ip_window_hours),
            // Breadth compares a context's hours with others within 24 hours.
            24,
            minutes_h(c.breadth.window_minutes),
            minutes_h(c.concurrent_sessions.window_minutes),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
            + 1;
        Duration::from_secs(u64::try_from(h).unwrap_or(0) * 3600)
    }

    /// Age out state older than `before` (event time): contexts whose last record is before
    /// it are folded into the baseline snapshot (so novelty decisions keep knowing their
    /// values) and dropped; sign-in index entries no kept context joins against, IOC hits,
    /// audit changes, verdicts, per-mailbox activity and per-day counts before it are
    /// dropped; the string interner is compacted when most of its strings are dead. Returns
    /// what was dropped.
    ///
    /// The caller guarantees that every record folded afterwards is at least
    /// [`Analytics::longest_lookback`] after `before`; what is then decided as without
    /// eviction, and what is not, is in the [crate docs](crate#streaming).
    pub fn evict(&mut self, before: Timestamp) -> EvictStats {
        let b = before.nanos();
        let mut stats = EvictStats {
            strings_before: self.state.names.len(),
            bytes_before: self.state_bytes(),
            ..EvictStats::default()
        };
        self.evict_contexts(b, &mut stats);
        self.evict_sign_ins(b, &mut stats);
        let st = &mut self.state;
        let n = st.ioc_hits.len();
        st.ioc_hits.retain(|h| h.t >= b);
        stats.ioc_hits = n - st.ioc_hits.len();
        let n = st.audit_changes.len();
        st.audit_changes.retain(|a| a.t >= b);
        stats.audit_changes = n - st.audit_changes.len();
        let n = st.verdicts.len();
        st.verdicts.retain(|v| v.t >= b);
        stats.verdicts = n - st.verdicts.len();
        let n = st.activity.len();
        st.activity.retain(|_, a| a.last.is_none_or(|l| l >= b));
        stats.activity = n - st.activity.len();
        let n = st.days.len();
        st.days = st.days.split_off(&before.day_number());
        stats.days = n - st.days.len();
        // A cache of formatted addresses: it would otherwise grow with every address ever seen.
        st.ip_syms = HashMap::default();
        shrink(st);
        self.compact_names(false);
        stats.strings_after = self.state.names.len();
        stats.bytes_after = self.state_bytes();
        stats
    }

    fn evict_contexts(&mut self, b: i64, stats: &mut EvictStats) {
        let st = &mut self.state;
        let (old, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut st.ctxs)
            .into_iter()
            .partition(|(_, c)| c.last < b);
        stats.contexts = old.len();
        stats.contexts_kept = kept.len();
        st.ctxs = kept;
        st.ctx_index = st
            .ctxs
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (*k, i))
            .collect();
        if old.is_empty() {
            return;
        }
        // The aged-out contexts alone, read as a state of their own by the code that folds
        // contexts into the saved baseline: the two cannot drift apart.
        let mut part = State::new(st.max_events_per_context);
        part.names = std::mem::take(&mut st.names);
        part.first = old.iter().map(|(_, c)| c.first).min();
        part.last = old.iter().map(|(_, c)| c.last).max();
        part.ctxs = old;
        let snapshot = next_baseline(&self.cx_over(&part));
        self.state.names = std::mem::take(&mut part.names);
        self.snapshot = snapshot;
    }

    fn evict_sign_ins(&mut self, b: i64, stats: &mut EvictStats) {
        let cfg = &self.config.no_sign_in;
        let back = hours(cfg.session_lookback_hours).max(days_h(cfg.session_max_age_days));
        let tok = hours(cfg.token_lookback_hours);
        let ipw = hours(cfg.ip_window_hours);
        let retention = i64::from(self.config.snapshot_retention_days) * DAY_NS;
        let bh = hour_of(b);
        let st = &mut self.state;
        // The earliest hour each key is still joined from by a kept context.
        let mut sessions: HashMap<Sym, i64> = HashMap::default();
        let mut utis: HashMap<Sym, i64> = HashMap::default();
        let mut user_ips: HashMap<(Sym, Sym), i64> = HashMap::default();
        let mut users: HashSet<Sym> = HashSet::default();
        for (k, c) in &st.ctxs {
            let h0 = hour_of(c.first);
            if let Some(s) = k.session {
                pin(&mut sessions, s, h0 - back);
            }
            for &(h, u) in &c.utis {
                pin(&mut utis, u, h - tok);
            }
            if let Some(u) = k.user {
                users.insert(u);
                if let Some(ip) = k.ip {
                    pin(&mut user_ips, (u, ip), h0 - ipw);
                }
            }
        }
        let si = &mut st.sign_ins;
        let mut dropped = 0usize;
        si.sessions.retain(|s, hs| {
            let cut = sessions.get(s).map_or(bh, |&p| p.min(bh));
            let n = hs.len();
            hs.keep_from(&cut);
            dropped += n - hs.len();
            !hs.is_empty()
        });
        let n = si.utis.len();
        si.utis
            .retain(|u, &mut (_, last)| last >= utis.get(u).map_or(bh, |&p| p.min(bh)));
        dropped += n - si.utis.len();
        si.user_ips.retain(|k, hs| {
            let cut = user_ips.get(k).map_or(bh, |&p| p.min(bh));
            let n = hs.len();
            hs.keep_from(&cut);
            dropped += n - hs.len();
            !hs.is_empty()
        });
        let user_last = &si.user_last;
        let forget =
            |u: &Sym| !users.contains(u) && user_last.get(u).is_none_or(|&l| l < b - retention);
        let gone: Vec<Sym> = si.users.iter().copied().filter(forget).collect();
        dropped += gone.len();
        for u in &gone {
            si.users.remove(u);
            si.user_last.remove(u);
        }
        stats.sign_in_entries = dropped;
    }

    /// Rebuild the interner with only the strings the state still refers to, and rewrite every
    /// id: when `force`, or when fewer than half of its strings are referenced. Returns whether
    /// it did.
    pub(crate) fn compact_names(&mut self, force: bool) -> bool {
        let st = &mut self.state;
        let n = st.names.len();
        let mut live = vec![false; n];
        syms::each_sym(st, |s| {
            if let Some(x) = usize::try_from(s).ok().and_then(|i| live.get_mut(i)) {
                *x = true;
            }
        });
        let alive = live.iter().filter(|&&x| x).count();
        if !force && alive * 2 >= n {
            return false;
        }
        let mut map = vec![Interner::FULL; n];
        let mut kept: Vec<&str> = Vec::with_capacity(alive);
        for (i, s) in st.names.strings().enumerate() {
            if live.get(i).copied().unwrap_or(false) {
                if let (Some(m), Ok(id)) = (map.get_mut(i), u32::try_from(kept.len())) {
                    *m = id;
                }
                kept.push(s);
            }
        }
        // Distinct strings interned in their old order: ids keep their order.
        let Some(names) = Interner::from_strings(kept) else {
            return false;
        };
        syms::remap(st, |s| {
            usize::try_from(s)
                .ok()
                .and_then(|i| map.get(i).copied())
                .unwrap_or(Interner::FULL)
        });
        st.names = names;
        true
    }
}

/// Give back the memory of collections that shrank a lot.
fn shrink(st: &mut State) {
    fn vec<T>(v: &mut Vec<T>) {
        if v.capacity() > 64 && v.len() < v.capacity() / 4 {
            v.shrink_to(v.len() * 2);
        }
    }
    fn map<K: std::hash::Hash + Eq, V, S: std::hash::BuildHasher>(
        m: &mut std::collections::HashMap<K, V, S>,
    ) {
        if m.capacity() > 64 && m.len() < m.capacity() / 4 {
            m.shrink_to(m.len() * 2);
        }
    }
    vec(&mut st.ctxs);
    vec(&mut st.ioc_hits);
    vec(&mut st.audit_changes);
    vec(&mut st.verdicts);
    map(&mut st.ctx_index);
    map(&mut st.activity);
    map(&mut st.sign_ins.sessions);
    map(&mut st.sign_ins.utis);
    map(&mut st.sign_ins.user_ips);
    map(&mut st.sign_ins.user_last);
    let users = &mut st.sign_ins.users;
    if users.capacity() > 64 && users.len() < users.capacity() / 4 {
        users.shrink_to(users.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use stormwatch_core::Event;

    use super::*;
    use crate::analytics::tests_util::history;
    use crate::testkit::{Ev, at, number};
    use crate::{AnalyticsConfig, AppCatalog, IocSet};

    fn analytics() -> Analytics {
        Analytics::new(
            AnalyticsConfig::default(),
            IocSet::builtin_storm_0558(),
            AppCatalog::builtin(),
            None,
            vec![],
        )
    }

    fn json(a: &mut Analytics) -> String {
        serde_json::to_string(&a.evaluate()).unwrap()
    }

    /// Three weeks of five mailboxes (a session a day each), a forged session on day 20.
    fn events() -> Vec<Event> {
        let mut ev = Vec::new();
        for u in ["a", "b", "c", "d", "e"] {
            ev.extend(history(&format!("{u}@agency.example"), 21));
        }
        ev.push(
            Ev::mail(&at(20, 3, 0), "a@agency.example")
                .session("forged-1")
                .ip("51.89.156.153")
                .build(),
        );
        number(&mut ev);
        ev
    }

    #[test]
    fn compaction_keeps_every_text_and_every_answer() {
        let mut a = analytics();
        events().iter().for_each(|e| a.observe(e));
        let want = json(&mut a);
        let texts = syms::texts(&a.state);
        let live = a.state.names.len();
        // Strings nothing refers to any more (as aged-out contexts leave behind).
        for i in 0..3 * live {
            a.state.names.intern(&format!("gone-{i}"));
        }
        assert!(a.compact_names(false), "most strings were dead");
        assert_eq!(a.state.names.len(), live);
        assert_eq!(
            syms::texts(&a.state),
            texts,
            "a kept id now names another string"
        );
        assert_eq!(json(&mut a), want);
        // Not compacted again while most strings are alive; forced, nothing changes.
        assert!(!a.compact_names(false));
        assert!(a.compact_names(true));
        assert_eq!(a.state.names.len(), live);
        assert_eq!(json(&mut a), want);
        // Folding goes on with the new ids: the same as without compaction.
        let more = vec![
            Ev::mail(&at(20, 4, 0), "b@agency.example")
                .session("forged-2")
                .ip("203.0.113.5")
                .build(),
            Ev::sign_in(&at(20, 4, 0), "c@agency.example")
                .session("sess-c-20")
                .build(),
        ];
        let mut b = analytics();
        events().iter().chain(&more).for_each(|e| b.observe(e));
        more.iter().for_each(|e| a.observe(e));
        assert_eq!(json(&mut a), json(&mut b));
    }

    #[test]
    fn eviction_drops_what_ended_and_compacts_the_interner() {
        let mut a = analytics();
        events().iter().for_each(|e| a.observe(e));
        let bytes = a.state_bytes();
        let strings = a.state.names.len();
        // Everything before day 18 ends: 18 of the 21 sessions of each mailbox go.
        let st = a.evict(Timestamp::parse(&at(18, 0, 0)).unwrap());
        assert_eq!(
            (st.contexts, st.contexts_kept),
            (5 * 18, 5 * 3 + 1),
            "{st:?}"
        );
        assert!(st.sign_in_entries >= 5 * 18 * 8, "{st:?}");
        assert_eq!(st.days, 18);
        assert_eq!(st.strings_before, strings);
        assert!(st.strings_after < strings / 2, "{st:?}");
        assert_eq!(st.bytes_before, bytes);
        assert!(st.bytes_after < bytes / 2, "{st:?}");
        assert_eq!(a.state_bytes(), st.bytes_after);
        // What was dropped is in the baseline: Outlook from the office is known for each.
        for u in ["a", "b", "c", "d", "e"] {
            let m = format!("{u}@agency.example");
            assert!(
                a.snapshot
                    .seen(&m, "app", crate::testkit::OUTLOOK)
                    .is_some(),
                "{m}"
            );
        }
        // The forged session is still found, and nothing else is.
        let out = a.evaluate();
        let found: Vec<_> = out
            .detections
            .iter()
            .filter(|d| d.level >= stormwatch_core::Level::High)
            .map(|d| d.session_id.clone())
            .collect();
        assert!(found.contains(&Some("forged-1".into())), "{found:?}");
        assert!(
            found.iter().all(|s| s.as_deref() == Some("forged-1")),
            "{found:?}"
        );
        // Evicting again at the same point drops nothing more.
        let again = a.evict(Timestamp::parse(&at(18, 0, 0)).unwrap());
        assert_eq!(
            (again.contexts, again.sign_in_entries, again.days),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_kept_context_keeps_the_sign_ins_it_joins_against() {
        let m = "a@agency.example";
        // One desktop session over two weeks, signed in on day 0 only (no refreshes: sessions
        // are matched against any sign-in of the session in the last 30 days).
        let mut ev = vec![
            Ev::sign_in(&at(0, 8, 0), m)
                .session("desk")
                .ip("198.51.100.10")
                .build(),
        ];
        for d in 0..14 {
            ev.push(
                Ev::mail(&at(d, 9, 0), m)
                    .session("desk")
                    .ip("198.51.100.10")
                    .build(),
            );
        }
        number(&mut ev);
        let mut a = analytics();
        ev.iter().for_each(|e| a.observe(e));
        let want = json(&mut a);
        // The session's context runs on, so its day-0 sign-in stays.
        let st = a.evict(Timestamp::parse(&at(10, 0, 0)).unwrap());
        assert_eq!((st.contexts, st.sign_in_entries), (0, 0), "{st:?}");
        assert_eq!(json(&mut a), want);
    }
}
