//! Grouping detections into incidents: one per actor context.

use std::collections::{BTreeMap, BTreeSet};

use stormwatch_core::{Detection, Incident, Level, Reason, RuleCount, Timestamp};

/// The identifiers a detection touches, used to tie detections together.
#[derive(Debug, Clone, Default)]
pub(crate) struct Links {
    pub(crate) tenants: BTreeSet<String>,
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
                tenants: Vec::new(),
                mailboxes: Vec::new(),
                users: Vec::new(),
                sessions: Vec::new(),
                ips: Vec::new(),
                apps: Vec::new(),
                reasons: Vec::new(),
                rules: Vec::new(),
                detections: members.clone(),
                records: 0,
            };
            let mut tenants = BTreeSet::new();
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
                tenants.extend(l.tenants.iter().cloned());
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
            inc.reasons = reasons(dets, links, &members);
            inc.tenants = tenants.into_iter().collect();
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

/// The strongest detections of an incident, one per rule: most severe, then highest scored,
/// then earliest.
fn reasons(dets: &[Detection], links: &[Links], members: &[usize]) -> Vec<Reason> {
    let mut order: Vec<usize> = members.to_vec();
    order.sort_by(|&a, &b| {
        let key = |i: usize| {
            (
                std::cmp::Reverse(dets[i].level),
                std::cmp::Reverse(links[i].score),
                dets[i].timestamp,
                i,
            )
        };
        key(a).cmp(&key(b))
    });
    let mut out: Vec<Reason> = Vec::new();
    for i in order {
        let d = &dets[i];
        if out.iter().any(|r| r.rule_id == d.rule_id) {
            continue;
        }
        out.push(Reason {
            rule_id: d.rule_id.clone(),
            rule_title: d.rule_title.clone(),
            level: d.level,
            explanation: d.explanation.clone(),
        });
        if out.len() == Incident::MAX_REASONS {
            break;
        }
    }
    out
}
