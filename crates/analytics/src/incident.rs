//! Grouping detections into incidents: one per actor context.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use stormwatch_core::{Detection, Level, Timestamp};

/// The identifiers a detection touches, used to tie detections together.
#[derive(Debug, Clone, Default)]
pub(crate) struct Links {
    pub(crate) sessions: BTreeSet<String>,
    pub(crate) utis: BTreeSet<String>,
    pub(crate) ips: BTreeSet<String>,
    pub(crate) apps: BTreeSet<String>,
    pub(crate) mailboxes: BTreeSet<String>,
    pub(crate) users: BTreeSet<String>,
    pub(crate) strong: bool,
    pub(crate) records: u64,
    pub(crate) last: Option<Timestamp>,
    pub(crate) score: u32,
}

/// Detections of one rule inside an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCount {
    /// `builtin/<slug>`.
    pub rule_id: String,
    /// Highest level among them.
    pub level: Level,
    /// How many.
    pub detections: usize,
}

/// Detections tied together by one actor context (shared sessions, token ids, IOC or
/// actor IPs, third-party apps), with the mailboxes they touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `INC-0001`, … in order of first activity.
    pub id: String,
    /// One line summary.
    pub title: String,
    /// Highest level of its detections.
    pub level: Level,
    /// 0–100: level, corroborating analytics, actor hours.
    pub score: u32,
    /// First record.
    pub first: Timestamp,
    /// Last record.
    pub last: Timestamp,
    /// Affected mailboxes.
    pub mailboxes: Vec<String>,
    /// Acting users.
    pub users: Vec<String>,
    /// Session ids of the actor context.
    pub sessions: Vec<String>,
    /// Client IPs of the actor context.
    pub ips: Vec<String>,
    /// Applications (ClientAppId, else AppId) of the actor context.
    pub apps: Vec<String>,
    /// Rules that fired, with counts.
    pub rules: Vec<RuleCount>,
    /// Indices into [`crate::AnalyticsOutput::detections`].
    pub detections: Vec<usize>,
    /// Records behind its detections (a record may count in more than one detection).
    pub records: u64,
}

fn find(p: &mut [usize], mut x: usize) -> usize {
    while p[x] != x {
        p[x] = p[p[x]];
        x = p[x];
    }
    x
}

/// Group `dets` (already in output order) into incidents. Informational detections and
/// findings about the evidence (`visibility-gaps`) are not grouped.
pub(crate) fn group(dets: &[Detection], links: &[Links]) -> Vec<Incident> {
    let n = dets.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    let eligible = |i: usize| {
        dets.get(i).is_some_and(|d| {
            d.level > Level::Informational && d.rule_id != "builtin/visibility-gaps"
        })
    };
    for i in (0..n).filter(|&i| eligible(i)) {
        let (d, l) = (&dets[i], &links[i]);
        let high = d.level >= Level::High;
        let mut keys: Vec<String> = l.sessions.iter().map(|s| format!("s:{s}")).collect();
        keys.extend(l.utis.iter().map(|s| format!("t:{s}")));
        if high || l.strong {
            keys.extend(l.ips.iter().map(|s| format!("i:{s}")));
            keys.extend(l.apps.iter().map(|s| format!("a:{s}")));
        }
        if keys.is_empty() {
            keys.push(format!(
                "r:{}:{}",
                d.rule_id,
                l.mailboxes.iter().next().map_or("", String::as_str)
            ));
        }
        for k in keys {
            match owner.get(&k) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    if a != b {
                        parent[a.max(b)] = a.min(b);
                    }
                }
                None => {
                    owner.insert(k, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in (0..n).filter(|&i| eligible(i)) {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut out: Vec<Incident> = groups
        .into_values()
        .map(|members| {
            let mut inc = Incident {
                id: String::new(),
                title: String::new(),
                level: Level::Informational,
                score: 0,
                first: dets[members[0]].timestamp,
                last: dets[members[0]].timestamp,
                mailboxes: Vec::new(),
                users: Vec::new(),
                sessions: Vec::new(),
                ips: Vec::new(),
                apps: Vec::new(),
                rules: Vec::new(),
                detections: members.clone(),
                records: 0,
            };
            let (mut m, mut u, mut s, mut ip, mut a) = (
                BTreeSet::new(),
                BTreeSet::new(),
                BTreeSet::new(),
                BTreeSet::new(),
                BTreeSet::new(),
            );
            let mut rules: BTreeMap<&str, (Level, usize)> = BTreeMap::new();
            let mut scores = Vec::new();
            for &i in &members {
                let (d, l) = (&dets[i], &links[i]);
                inc.level = inc.level.max(d.level);
                inc.first = inc.first.min(d.timestamp);
                inc.last = inc.last.max(l.last.unwrap_or(d.timestamp));
                inc.records += l.records;
                m.extend(l.mailboxes.iter().cloned());
                u.extend(l.users.iter().cloned());
                s.extend(l.sessions.iter().cloned());
                ip.extend(l.ips.iter().cloned());
                a.extend(l.apps.iter().cloned());
                let e = rules.entry(d.rule_id.as_str()).or_insert((d.level, 0));
                e.0 = e.0.max(d.level);
                e.1 += 1;
                scores.push(l.score);
            }
            let distinct_rules = u32::try_from(rules.len()).unwrap_or(u32::MAX);
            inc.score = (scores.iter().copied().max().unwrap_or(0)
                + 5 * distinct_rules.saturating_sub(1).min(4))
            .min(100);
            inc.rules = rules
                .into_iter()
                .map(|(r, (l, c))| RuleCount {
                    rule_id: r.to_owned(),
                    level: l,
                    detections: c,
                })
                .collect();
            inc.mailboxes = m.into_iter().collect();
            inc.users = u.into_iter().collect();
            inc.sessions = s.into_iter().collect();
            inc.ips = ip.into_iter().collect();
            inc.apps = a.into_iter().collect();
            inc.title = format!(
                "{} mailbox{} read by {} session{}, {} IP{}, {} app{}: {}",
                inc.mailboxes.len(),
                if inc.mailboxes.len() == 1 { "" } else { "es" },
                inc.sessions.len(),
                if inc.sessions.len() == 1 { "" } else { "s" },
                inc.ips.len(),
                if inc.ips.len() == 1 { "" } else { "s" },
                inc.apps.len(),
                if inc.apps.len() == 1 { "" } else { "s" },
                inc.rules
                    .iter()
                    .map(|r| r.rule_id.trim_start_matches("builtin/"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            inc
        })
        .collect();
    out.sort_by(|a, b| (b.level, a.first, &a.detections).cmp(&(a.level, b.first, &b.detections)));
    for (i, inc) in out.iter_mut().enumerate() {
        inc.id = format!("INC-{:04}", i + 1);
    }
    out
}
