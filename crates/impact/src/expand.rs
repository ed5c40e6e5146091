//! The actor context: seeds, then transitive expansion over the session ↔ IP graph.
//!
//! An IP leads to the sessions seen with it (for an IOC IP: only on records inside its
//! window), a session leads to the other IPs it was seen with. Each identifier added is one
//! [`ExpansionStep`] naming what led to it and the earliest record that links them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use stormwatch_core::impact::ExpansionStep;
use stormwatch_core::{Location, Timestamp};

use crate::assessor::{Assessor, EdgeDay};
use crate::intern::Sym;
use crate::seeds::{ImpactOptions, Seeds, canonical_ip};

/// The resolved actor context.
#[derive(Debug, Default)]
pub(crate) struct Actor {
    pub(crate) ips: BTreeSet<String>,
    pub(crate) sessions: BTreeSet<String>,
    pub(crate) apps: BTreeSet<String>,
    pub(crate) user_agents: BTreeSet<String>,
    /// IOC windows per IP (nanoseconds, half-open).
    pub(crate) windows: BTreeMap<String, Vec<(i64, i64)>>,
    pub(crate) steps: Vec<ExpansionStep>,
}

/// How an identifier set matches interned ids.
#[derive(Debug, Default)]
pub(crate) struct ActorSyms {
    pub(crate) sessions: HashSet<Sym>,
    /// IP → `None` (always the actor) or its windows.
    pub(crate) ips: HashMap<Sym, Option<Vec<(i64, i64)>>>,
    pub(crate) apps: HashSet<Sym>,
    pub(crate) user_agents: HashSet<Sym>,
}

fn clean<'a>(v: &'a [String], lower: bool) -> impl Iterator<Item = String> + 'a {
    v.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(move |s| {
            if lower {
                s.to_ascii_lowercase()
            } else {
                s.to_owned()
            }
        })
}

fn seed_step(kind: &str, value: &str, via: &str) -> ExpansionStep {
    ExpansionStep {
        added_kind: kind.to_owned(),
        added: value.to_owned(),
        via: via.to_owned(),
        evidence: None,
    }
}

/// Describe a record for an expansion step.
fn evidence(loc: &Location, t: Option<Timestamp>) -> String {
    let mut s = loc.to_string();
    if let Some(id) = &loc.record_id {
        s.push_str(" record ");
        s.push_str(id);
    }
    if let Some(t) = t {
        s.push_str(" at ");
        s.push_str(&t.to_string());
    }
    s
}

/// The earliest day of an edge that counts under the given windows (all days when `None`).
fn first_valid<'a>(days: &'a [EdgeDay], windows: Option<&[(i64, i64)]>) -> Option<&'a EdgeDay> {
    match windows {
        None => days.first(),
        Some(w) => days
            .iter()
            .find(|d| w.iter().any(|&(a, b)| d.span.meets(a, b))),
    }
}

pub(crate) fn resolve(a: &Assessor, seeds: &Seeds, opts: &ImpactOptions) -> Actor {
    let mut actor = Actor::default();
    for (ip, from, to) in &opts.ioc_windows {
        let ip = canonical_ip(ip);
        if ip.is_empty() {
            continue;
        }
        let w = actor.windows.entry(ip).or_default();
        w.push((from.nanos(), to.nanos()));
        w.sort_unstable();
        w.dedup();
    }
    let mut seed_ips: BTreeSet<String> = seeds
        .ips
        .iter()
        .map(|s| canonical_ip(s))
        .filter(|s| !s.is_empty())
        .collect();
    seed_ips.extend(actor.windows.keys().cloned());
    let seed_sessions: BTreeSet<String> = clean(&seeds.sessions, true).collect();
    let seed_apps: BTreeSet<String> = clean(&seeds.apps, true).collect();
    let seed_uas: BTreeSet<String> = clean(&seeds.user_agents, false).collect();
    for ip in &seed_ips {
        let via = match actor.windows.get(ip) {
            Some(w) => {
                let ws: Vec<String> = w
                    .iter()
                    .map(|&(f, t)| {
                        format!(
                            "{} to {}",
                            Timestamp::from_nanos(f),
                            Timestamp::from_nanos(t)
                        )
                    })
                    .collect();
                format!("seed (IOC window {})", ws.join(", "))
            }
            None => "seed".to_owned(),
        };
        actor.steps.push(seed_step("ip", ip, &via));
    }
    for s in &seed_sessions {
        actor.steps.push(seed_step("session", s, "seed"));
    }
    for s in &seed_apps {
        actor.steps.push(seed_step("app", s, "seed"));
    }
    for s in &seed_uas {
        actor.steps.push(seed_step("user_agent", s, "seed"));
    }
    actor.ips.clone_from(&seed_ips);
    actor.sessions.clone_from(&seed_sessions);
    actor.apps = seed_apps;
    actor.user_agents = seed_uas;
    if !opts.expand {
        return actor;
    }

    // Adjacency, neighbours sorted by text for a deterministic order.
    let mut by_ip: HashMap<Sym, Vec<Sym>> = HashMap::new();
    let mut by_session: HashMap<Sym, Vec<Sym>> = HashMap::new();
    for &(s, ip) in a.edges.keys() {
        by_ip.entry(ip).or_default().push(s);
        by_session.entry(s).or_default().push(ip);
    }
    for v in by_ip.values_mut().chain(by_session.values_mut()) {
        v.sort_by(|x, y| a.strings.resolve(*x).cmp(a.strings.resolve(*y)));
    }

    #[derive(Clone, Copy)]
    enum Node {
        Ip(Sym),
        Session(Sym),
    }
    let mut queue: VecDeque<Node> = VecDeque::new();
    for ip in &seed_ips {
        if let Some(s) = a.strings.get(ip) {
            queue.push_back(Node::Ip(s));
        }
    }
    for s in &seed_sessions {
        if let Some(s) = a.strings.get(s) {
            queue.push_back(Node::Session(s));
        }
    }
    while let Some(node) = queue.pop_front() {
        match node {
            Node::Ip(ip) => {
                let ip_text = a.strings.resolve(ip).to_owned();
                let windows = actor.windows.get(&ip_text).cloned();
                for &s in by_ip.get(&ip).map_or(&[][..], Vec::as_slice) {
                    let s_text = a.strings.resolve(s);
                    if actor.sessions.contains(s_text) {
                        continue;
                    }
                    let Some(days) = a.edges.get(&(s, ip)) else {
                        continue;
                    };
                    let Some(day) = first_valid(days, windows.as_deref()) else {
                        continue;
                    };
                    actor.sessions.insert(s_text.to_owned());
                    actor.steps.push(ExpansionStep {
                        added_kind: "session".to_owned(),
                        added: s_text.to_owned(),
                        via: format!("ip {ip_text}"),
                        evidence: Some(evidence(&day.loc, day.span.first_ts())),
                    });
                    queue.push_back(Node::Session(s));
                }
            }
            Node::Session(s) => {
                let s_text = a.strings.resolve(s).to_owned();
                for &ip in by_session.get(&s).map_or(&[][..], Vec::as_slice) {
                    let ip_text = a.strings.resolve(ip);
                    if actor.ips.contains(ip_text) {
                        continue;
                    }
                    let Some(day) = a.edges.get(&(s, ip)).and_then(|d| d.first()) else {
                        continue;
                    };
                    actor.ips.insert(ip_text.to_owned());
                    actor.steps.push(ExpansionStep {
                        added_kind: "ip".to_owned(),
                        added: ip_text.to_owned(),
                        via: format!("session {s_text}"),
                        evidence: Some(evidence(&day.loc, day.span.first_ts())),
                    });
                    queue.push_back(Node::Ip(ip));
                }
            }
        }
    }
    actor
}

/// How a context matches the actor: `None` not at all, `Some(None)` always,
/// `Some(Some(w))` only inside the windows `w` (an IOC IP).
pub(crate) type Match<'a> = Option<Option<&'a [(i64, i64)]>>;

pub(crate) fn match_ctx<'a>(c: &crate::assessor::Ctx, s: &'a ActorSyms) -> Match<'a> {
    if s.sessions.contains(&c.session)
        || s.apps.contains(&c.reported_app())
        || s.user_agents.contains(&c.ua)
    {
        return Some(None);
    }
    match s.ips.get(&c.ip) {
        Some(None) => Some(None),
        Some(Some(w)) => Some(Some(w.as_slice())),
        None => None,
    }
}

impl Actor {
    /// The identifiers as the report shows them.
    pub(crate) fn context(&self) -> stormwatch_core::impact::ActorContext {
        stormwatch_core::impact::ActorContext {
            ips: self.ips.iter().cloned().collect(),
            sessions: self.sessions.iter().cloned().collect(),
            apps: self.apps.iter().cloned().collect(),
            user_agents: self.user_agents.iter().cloned().collect(),
        }
    }

    /// Intern every identifier (for a focused pass, before any record is seen).
    pub(crate) fn intern(&self, strings: &mut crate::intern::Interner) -> ActorSyms {
        let mut out = ActorSyms::default();
        for ip in &self.ips {
            out.ips
                .insert(strings.intern(ip), self.windows.get(ip).cloned());
        }
        out.sessions = self.sessions.iter().map(|s| strings.intern(s)).collect();
        out.apps = self.apps.iter().map(|s| strings.intern(s)).collect();
        out.user_agents = self.user_agents.iter().map(|s| strings.intern(s)).collect();
        out
    }

    /// The interned ids of the context (identifiers never seen in the input match nothing).
    pub(crate) fn syms(&self, a: &Assessor) -> ActorSyms {
        let mut out = ActorSyms::default();
        for ip in &self.ips {
            if let Some(s) = a.strings.get(ip) {
                out.ips.insert(s, self.windows.get(ip).cloned());
            }
        }
        out.sessions = self
            .sessions
            .iter()
            .filter_map(|s| a.strings.get(s))
            .collect();
        out.apps = self.apps.iter().filter_map(|s| a.strings.get(s)).collect();
        out.user_agents = self
            .user_agents
            .iter()
            .filter_map(|s| a.strings.get(s))
            .collect();
        out
    }
}
