//! The fourteen analytics, one file each, and what they share: the finishing context
//! ([`Cx`]), per-mailbox novelty against the baseline, and [`Finding`], the raw form of a
//! detection before it is turned into a [`stormwatch_core::Detection`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use stormwatch_core::{Level, Location, Timestamp};

use crate::apps::AppCatalog;
use crate::asn::{AsnDb, AsnInfo};
use crate::baseline::BaselineSnapshot;
use crate::config::AnalyticsConfig;
use crate::intern::Sym;
use crate::iocs::IocSet;
use crate::state::{Ctx, CtxKey, CtxKind, DAY_NS, HOUR_NS, State};

pub(crate) mod actor_hours;
pub(crate) mod breadth;
pub(crate) mod bulk_bind;
pub(crate) mod concurrent_sessions;
pub(crate) mod forged_token;
pub(crate) mod hosting_asn;
pub(crate) mod ioc_infrastructure;
pub(crate) mod mail_without_sign_in;
pub(crate) mod new_mail_app;
pub(crate) mod owa_token;
pub(crate) mod scripted_rest;
pub(crate) mod sync_new_context;
pub(crate) mod visibility_gaps;
pub(crate) mod watchlist;

/// A dimension of a mailbox's context whose values are baselined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    /// `ClientAppId`, else `AppId`.
    App,
    /// `ClientInfoString` / user agent.
    ClientInfo,
    /// The network: ASN when IP → ASN data is loaded, else the /16 (IPv4) or /48 (IPv6).
    Network,
    /// ASN (only with IP → ASN data).
    Asn,
    /// A non-owner reader (the acting user).
    Reader,
    /// `scripted` when the client string looks scripted.
    ClientClass,
}

impl Dim {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Dim::App => "app",
            Dim::ClientInfo => "client_info",
            Dim::Network => "network",
            Dim::Asn => "asn",
            Dim::Reader => "reader",
            Dim::ClientClass => "client_class",
        }
    }
    pub(crate) const ALL: [Dim; 6] = [
        Dim::App,
        Dim::ClientInfo,
        Dim::Network,
        Dim::Asn,
        Dim::Reader,
        Dim::ClientClass,
    ];
}

/// Is a value new for a mailbox?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Novelty {
    /// Seen within the baseline before its first record here.
    Known,
    /// Not seen, with a full baseline behind it.
    New,
    /// Not seen, but the history before it is shorter than `learning_days`.
    Learning,
}

/// One value of a dimension for a mailbox.
#[derive(Debug, Clone)]
pub(crate) struct Value {
    pub(crate) value: String,
    pub(crate) first: i64,
    pub(crate) last: i64,
    pub(crate) records: u64,
    pub(crate) ctxs: Vec<usize>,
    pub(crate) novelty: Novelty,
}

/// (mailbox, dimension, baseline days).
type ValuesKey = (String, u8, u32);

/// How many values a baseline text names before `and N more`.
const BASELINE_SHOWN: usize = 8;

/// The baselines of one (mailbox, dimension, baseline length), answered at every time an
/// analytic asks about (the first record of any value of the mailbox): the most used values
/// and how many there are, computed in one sweep over the mailbox's records instead of one
/// walk over all its contexts per question.
struct Sweep {
    /// The values, sorted (an id is an index here, so ids sort as the values do).
    names: Vec<String>,
    /// Per time: up to [`BASELINE_SHOWN`] (id, records), most used first, and how many values
    /// have records in the window.
    at: HashMap<i64, (Vec<(u32, u64)>, usize)>,
}

/// Everything the analytics read at `finish`.
pub(crate) struct Cx<'a> {
    pub(crate) cfg: &'a AnalyticsConfig,
    pub(crate) st: &'a State,
    pub(crate) apps: &'a AppCatalog,
    pub(crate) asn: Option<&'a AsnDb>,
    pub(crate) iocs: &'a IocSet,
    pub(crate) snap: &'a BaselineSnapshot,
    /// What earlier runs folded into `snap` (see [`Cx::folded`]).
    prior: &'a BaselineSnapshot,
    pub(crate) watch: &'a BTreeSet<String>,
    /// Start of history: the earlier of the input's first record and the snapshot's.
    pub(crate) hist_start: Option<i64>,
    /// MailItemsAccessed contexts per mailbox, by mailbox name.
    pub(crate) mail_by_mailbox: BTreeMap<&'a str, Vec<usize>>,
    ips: HashMap<Sym, IpAddr>,
    /// IP → its network text, computed once per address.
    nets: HashMap<Sym, String>,
    /// Client strings that look scripted.
    scripted: HashSet<Sym>,
    /// `values` results, computed once per (mailbox, dimension, baseline length).
    values_cache: Mutex<HashMap<ValuesKey, Arc<Vec<Value>>>>,
    /// Baseline sweeps, computed once per (mailbox, dimension, baseline length).
    sweep_cache: Mutex<HashMap<ValuesKey, Arc<Sweep>>>,
    /// The owner's (records in the actor window, records) per mailbox.
    pub(crate) owner_norms: Mutex<HashMap<String, (u64, u64)>>,
}

impl<'a> Cx<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        cfg: &'a AnalyticsConfig,
        st: &'a State,
        apps: &'a AppCatalog,
        asn: Option<&'a AsnDb>,
        iocs: &'a IocSet,
        snap: &'a BaselineSnapshot,
        prior: &'a BaselineSnapshot,
        watch: &'a BTreeSet<String>,
    ) -> Self {
        let mut mail_by_mailbox: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let mut ips = HashMap::new();
        for (i, (k, _)) in st.ctxs.iter().enumerate() {
            if k.kind == CtxKind::Mail
                && let Some(m) = k.mailbox
            {
                mail_by_mailbox.entry(st.names.name(m)).or_default().push(i);
            }
            if let Some(ip) = k.ip
                && let Ok(a) = st.names.name(ip).parse::<IpAddr>()
            {
                ips.insert(ip, a);
            }
        }
        let patterns: Vec<String> = cfg
            .scripted_rest
            .patterns
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        let mut scripted = HashSet::new();
        let mut nets = HashMap::new();
        for (k, _) in &st.ctxs {
            if let Some(c) = k.client_info
                && !scripted.contains(&c)
                && is_scripted_with(&patterns, st.names.name(c))
            {
                scripted.insert(c);
            }
            if let Some(ip) = k.ip
                && !nets.contains_key(&ip)
                && let Some(n) = network_text(asn, ips.get(&ip).copied())
            {
                nets.insert(ip, n);
            }
        }
        let snap_first = snap.first.map(Timestamp::nanos);
        let hist_start = match (st.first, snap_first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Cx {
            cfg,
            st,
            apps,
            asn,
            iocs,
            snap,
            prior,
            watch,
            hist_start,
            mail_by_mailbox,
            ips,
            nets,
            scripted,
            values_cache: Mutex::new(HashMap::new()),
            sweep_cache: Mutex::new(HashMap::new()),
            owner_norms: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn name(&self, s: Sym) -> &'a str {
        self.st.names.name(s)
    }
    pub(crate) fn opt(&self, s: Option<Sym>) -> Option<&'a str> {
        self.st.names.opt(s)
    }
    pub(crate) fn ctx(&self, i: usize) -> Option<&'a (CtxKey, Ctx)> {
        self.st.ctxs.get(i)
    }
    /// The mail contexts of `mailbox` that have a value of `dim`: index, key, context and
    /// that value.
    fn mailbox_values<'s>(
        &'s self,
        mailbox: &str,
        dim: Dim,
    ) -> impl Iterator<Item = (usize, &'a CtxKey, &'a Ctx, String)> + 's {
        self.mail_by_mailbox
            .get(mailbox)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(move |&i| {
                let (k, c) = self.ctx(i)?;
                Some((i, k, c, self.dim_value(dim, k)?))
            })
    }
    pub(crate) fn ip(&self, s: Option<Sym>) -> Option<IpAddr> {
        s.and_then(|s| self.ips.get(&s).copied())
    }
    pub(crate) fn asn_of(&self, s: Option<Sym>) -> Option<&'a AsnInfo> {
        self.asn?.lookup(self.ip(s)?)
    }

    /// The network of an IP: `AS16276 OVH SAS` with ASN data, else its /16 or /48.
    pub(crate) fn network(&self, s: Option<Sym>) -> Option<String> {
        self.nets.get(&s?).cloned()
    }

    /// The value of `dim` for a context.
    pub(crate) fn dim_value(&self, dim: Dim, k: &CtxKey) -> Option<String> {
        match dim {
            Dim::App => self.opt(k.app_or_client()).map(str::to_owned),
            Dim::ClientInfo => self.opt(k.client_info).map(str::to_owned),
            Dim::Network => self.network(k.ip),
            Dim::Asn => self.asn_of(k.ip).map(|a| format!("AS{}", a.asn)),
            Dim::Reader => k
                .non_owner()
                .then(|| self.opt(k.user).map(str::to_owned))
                .flatten(),
            Dim::ClientClass => k
                .client_info
                .filter(|c| self.scripted.contains(c))
                .map(|_| "scripted".to_owned()),
        }
    }

    /// Whether the records of context `k` in hour `h` were folded into the saved baseline by
    /// an earlier run (they are in the snapshot already and must not be counted twice).
    pub(crate) fn folded(&self, k: &CtxKey, h: i64) -> bool {
        self.prior.is_folded(self.opt(k.tenant).unwrap_or(""), h)
    }

    /// MailItemsAccessed records of the input already folded into the saved baseline, and all
    /// of them.
    pub(crate) fn folded_records(&self) -> (u64, u64) {
        let (mut known, mut total) = (0u64, 0u64);
        for idxs in self.mail_by_mailbox.values() {
            for &i in idxs {
                let Some((k, c)) = self.ctx(i) else { continue };
                for (&h, a) in &c.hours {
                    total += u64::from(a.records);
                    if self.folded(k, h) {
                        known += u64::from(a.records);
                    }
                }
            }
        }
        (known, total)
    }

    /// Days of history before `t`.
    pub(crate) fn history_days(&self, t: i64) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        self.hist_start
            .map_or(0.0, |s| (t - s) as f64 / DAY_NS as f64)
    }

    /// The values of `dim` for `mailbox`, with their novelty against a `days`-long baseline.
    /// Sorted by first record, then value.
    pub(crate) fn values(&self, mailbox: &str, dim: Dim, days: u32) -> Arc<Vec<Value>> {
        cached(
            &self.values_cache,
            (mailbox.to_owned(), dim as u8, days),
            || self.compute_values(mailbox, dim, days),
        )
    }

    fn compute_values(&self, mailbox: &str, dim: Dim, days: u32) -> Vec<Value> {
        let mut by_value: BTreeMap<String, Value> = BTreeMap::new();
        for (i, _, c, v) in self.mailbox_values(mailbox, dim) {
            let e = by_value.entry(v.clone()).or_insert_with(|| Value {
                value: v,
                first: c.first,
                last: c.last,
                records: 0,
                ctxs: Vec::new(),
                novelty: Novelty::Known,
            });
            e.first = e.first.min(c.first);
            e.last = e.last.max(c.last);
            e.records += c.records;
            e.ctxs.push(i);
        }
        let window = i64::from(days) * DAY_NS;
        let mut out: Vec<Value> = by_value
            .into_values()
            .map(|mut v| {
                let known = self
                    .snap
                    .seen(mailbox, dim.as_str(), &v.value)
                    .is_some_and(|s| {
                        s.first.nanos() < v.first && s.last.nanos() >= v.first - window
                    });
                v.novelty = if known {
                    Novelty::Known
                } else if self.history_days(v.first) < f64::from(self.cfg.learning_days) {
                    Novelty::Learning
                } else {
                    Novelty::New
                };
                v
            })
            .collect();
        out.sort_by(|a, b| (a.first, &a.value).cmp(&(b.first, &b.value)));
        out
    }

    /// The other values of `dim` for `mailbox` in the `days` before `t` (input records in that
    /// window plus saved baseline entries), with record counts, most used first.
    pub(crate) fn baseline_of(
        &self,
        mailbox: &str,
        dim: Dim,
        t: i64,
        days: u32,
    ) -> Vec<(String, u64)> {
        let from = t - i64::from(days) * DAY_NS;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        // Input records the saved baseline already holds, per value: counted from the input,
        // not a second time from the baseline.
        let mut folded: BTreeMap<String, u64> = BTreeMap::new();
        for (_, k, c, v) in self.mailbox_values(mailbox, dim) {
            let known: u64 = c
                .hours
                .iter()
                .filter(|&(&h, _)| self.folded(k, h))
                .map(|(_, a)| u64::from(a.records))
                .sum();
            if known > 0 {
                *folded.entry(v.clone()).or_default() += known;
            }
            if c.first >= t || c.last < from {
                continue;
            }
            let n: u64 = c
                .hours
                .range(from.div_euclid(HOUR_NS)..=t.div_euclid(HOUR_NS))
                .filter(|(_, h)| h.first < t && h.first >= from)
                .map(|(_, h)| u64::from(h.records))
                .sum();
            if n > 0 {
                *counts.entry(v).or_default() += n;
            }
        }
        for (v, s) in self.snap.values(mailbox, dim.as_str()) {
            let only_saved = s
                .records
                .saturating_sub(folded.get(v).copied().unwrap_or(0));
            if s.first.nanos() < t && s.last.nanos() >= from && only_saved > 0 {
                *counts.entry(v.clone()).or_default() += only_saved;
            }
        }
        let mut v: Vec<(String, u64)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    /// A label for a value of `dim` (app names resolved).
    pub(crate) fn label(&self, dim: Dim, v: &str) -> String {
        match dim {
            Dim::App => self
                .apps
                .name(v)
                .map_or_else(|| format!("third-party app {v}"), ToString::to_string),
            _ => v.to_owned(),
        }
    }

    /// `Outlook (1,204 records), OWA (88)` or `none`.
    pub(crate) fn baseline_text(&self, dim: Dim, items: &[(String, u64)]) -> String {
        let shown = &items[..items.len().min(BASELINE_SHOWN)];
        self.shown_text(
            dim,
            shown.iter().map(|(v, n)| (v.as_str(), *n)),
            items.len(),
        )
    }

    /// [`Cx::baseline_text`] of [`Cx::baseline_of`]`(mailbox, dim, t, days)`, without listing
    /// every value: the cost does not grow with the mailbox's contexts.
    pub(crate) fn baseline_text_at(&self, mailbox: &str, dim: Dim, t: i64, days: u32) -> String {
        let sw = self.sweep(mailbox, dim, days);
        match sw.at.get(&t) {
            Some((top, len)) => self.shown_text(
                dim,
                top.iter()
                    .filter_map(|&(id, n)| sw.names.get(id as usize).map(|v| (v.as_str(), n))),
                *len,
            ),
            // A time no value starts at: asked of the records directly.
            None => self.baseline_text(dim, &self.baseline_of(mailbox, dim, t, days)),
        }
    }

    fn shown_text<'v>(
        &self,
        dim: Dim,
        shown: impl Iterator<Item = (&'v str, u64)>,
        len: usize,
    ) -> String {
        if len == 0 {
            return "none".to_owned();
        }
        let mut s = String::new();
        for (i, (v, n)) in shown.enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(
                s,
                "{} ({} record{})",
                self.label(dim, v),
                thousands(n),
                if n == 1 { "" } else { "s" }
            );
        }
        if len > BASELINE_SHOWN {
            let _ = write!(s, " and {} more", len - BASELINE_SHOWN);
        }
        s
    }

    fn sweep(&self, mailbox: &str, dim: Dim, days: u32) -> Arc<Sweep> {
        cached(
            &self.sweep_cache,
            (mailbox.to_owned(), dim as u8, days),
            || self.compute_sweep(mailbox, dim, days),
        )
    }

    /// What [`Cx::baseline_of`] gives, for every time a value of the mailbox (in any
    /// dimension) is first seen. A record in an hour counts at `t` when it is in
    /// [`t - days`, `t`), a saved baseline entry when it was seen in that window: each is
    /// added when the sweep passes its start and taken away when it passes its end.
    fn compute_sweep(&self, mailbox: &str, dim: Dim, days: u32) -> Sweep {
        let window = i64::from(days) * DAY_NS;
        // Per value: (first record time of an hour, records) and the records already folded
        // into the saved baseline.
        let mut per: BTreeMap<String, (Vec<(i64, u64)>, u64)> = BTreeMap::new();
        for (_, k, c, v) in self.mailbox_values(mailbox, dim) {
            let e = per.entry(v).or_default();
            for (&h, a) in &c.hours {
                let n = u64::from(a.records);
                if self.folded(k, h) {
                    e.1 = e.1.wrapping_add(n);
                }
                e.0.push((a.first, n));
            }
        }
        for (v, _) in self.snap.values(mailbox, dim.as_str()) {
            if !per.contains_key(v) {
                per.insert(v.clone(), (Vec::new(), 0));
            }
        }
        // (time, id, records): active for the times in (start, end].
        let mut starts: Vec<(i64, u32, u64)> = Vec::new();
        let mut ends: Vec<(i64, u32, u64)> = Vec::new();
        let mut push = |a: i64, b: i64, id: u32, n: u64| {
            if n > 0 && a < b {
                starts.push((a, id, n));
                ends.push((b, id, n));
            }
        };
        let mut names = Vec::with_capacity(per.len());
        for (id, (v, (hours, folded))) in (0u32..).zip(per) {
            for (x, n) in hours {
                push(x, x.saturating_add(window), id, n);
            }
            if let Some(s) = self.snap.seen(mailbox, dim.as_str(), &v) {
                let only_saved = s.records.saturating_sub(folded);
                push(
                    s.first.nanos(),
                    s.last.nanos().saturating_add(window),
                    id,
                    only_saved,
                );
            }
            names.push(v);
        }
        starts.sort_unstable();
        ends.sort_unstable();
        let mut times: Vec<i64> = Dim::ALL
            .iter()
            .flat_map(|&d| {
                self.values(mailbox, d, days)
                    .iter()
                    .map(|v| v.first)
                    .collect::<Vec<_>>()
            })
            .collect();
        times.sort_unstable();
        times.dedup();
        let mut counts = vec![0u64; names.len()];
        // (records, id) of every value with records in the window, most used first.
        let mut order: BTreeSet<(Reverse<u64>, u32)> = BTreeSet::new();
        let mut at = HashMap::with_capacity(times.len());
        let (mut si, mut ei) = (0, 0);
        for t in times {
            while let Some(&(a, id, n)) = starts.get(si)
                && a < t
            {
                bump(&mut counts, &mut order, id, n, true);
                si += 1;
            }
            while let Some(&(b, id, n)) = ends.get(ei)
                && b < t
            {
                bump(&mut counts, &mut order, id, n, false);
                ei += 1;
            }
            let top = order
                .iter()
                .take(BASELINE_SHOWN)
                .map(|&(Reverse(n), id)| (id, n))
                .collect();
            at.insert(t, (top, order.len()));
        }
        Sweep { names, at }
    }
}

/// Add `n` records to (or take them from) value `id`, keeping `order` in step.
fn bump(counts: &mut [u64], order: &mut BTreeSet<(Reverse<u64>, u32)>, id: u32, n: u64, add: bool) {
    let Some(c) = counts.get_mut(id as usize) else {
        return;
    };
    if *c > 0 {
        order.remove(&(Reverse(*c), id));
    }
    *c = if add {
        c.wrapping_add(n)
    } else {
        c.wrapping_sub(n)
    };
    if *c > 0 {
        order.insert((Reverse(*c), id));
    }
}

/// The value cached under `key`, computed on first use. Computed outside the lock: analytics
/// run in parallel, and a value computed twice is the same value.
fn cached<T>(
    cache: &Mutex<HashMap<ValuesKey, Arc<T>>>,
    key: ValuesKey,
    compute: impl FnOnce() -> T,
) -> Arc<T> {
    let lock = || cache.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(v) = lock().get(&key) {
        return Arc::clone(v);
    }
    let v = Arc::new(compute());
    lock().insert(key, Arc::clone(&v));
    v
}

fn is_scripted_with(patterns: &[String], client: &str) -> bool {
    let lc = client.to_ascii_lowercase();
    patterns.iter().any(|p| match p.strip_prefix('^') {
        Some(prefix) => lc.starts_with(prefix),
        None => lc.contains(p.as_str()),
    })
}

fn network_text(asn: Option<&AsnDb>, ip: Option<IpAddr>) -> Option<String> {
    let ip = ip?;
    if let Some(a) = asn.and_then(|db| db.lookup(ip)) {
        return Some(format!("AS{} {}", a.asn, a.org));
    }
    Some(match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            format!("{}.{}.0.0/16", o[0], o[1])
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    })
}

/// `1204` → `1,204`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn ts(n: i64) -> Timestamp {
    Timestamp::from_nanos(n)
}

/// A detection before it becomes one: which contexts (and which hours of them) it covers.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub(crate) slug: &'static str,
    pub(crate) level: Level,
    /// Contexts whose records are behind it.
    pub(crate) ctxs: Vec<usize>,
    /// Only records in these [from, to) ranges (ns); `None`: all records of `ctxs`.
    pub(crate) windows: Option<Vec<(i64, i64)>>,
    /// Records that are not in a context (sign-ins, IOC hits, audit changes, verdicts).
    pub(crate) extra: Vec<(i64, Location)>,
    pub(crate) explanation: String,
    pub(crate) evidence: serde_json::Map<String, serde_json::Value>,
    /// Strong evidence on its own (no sign-in, forged token, IOC in window): raises weaker
    /// findings that share its session or IOC IP.
    pub(crate) strong: bool,
    /// Time when there are no records (visibility gaps).
    pub(crate) at: Option<i64>,
    /// Context fields when not taken from `ctxs`.
    pub(crate) fields: Fields,
}

/// Context fields of a detection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    pub(crate) tenant: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) mailbox: Option<String>,
    pub(crate) ip: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) app: Option<String>,
    /// Extra link keys (IOC IPs, sessions of IOC sign-ins).
    pub(crate) ips: Vec<String>,
    pub(crate) sessions: Vec<String>,
}

impl Finding {
    pub(crate) fn new(slug: &'static str, level: Level, explanation: String) -> Self {
        Finding {
            slug,
            level,
            ctxs: Vec::new(),
            windows: None,
            extra: Vec::new(),
            explanation,
            evidence: serde_json::Map::new(),
            strong: false,
            at: None,
            fields: Fields::default(),
        }
    }
    pub(crate) fn ctxs(mut self, c: Vec<usize>) -> Self {
        self.ctxs = c;
        self
    }
    pub(crate) fn windows(mut self, w: Vec<(i64, i64)>) -> Self {
        self.windows = Some(w);
        self
    }
    pub(crate) fn ev(mut self, k: &str, v: serde_json::Value) -> Self {
        self.evidence.insert(k.to_owned(), v);
        self
    }
    pub(crate) fn strong(mut self) -> Self {
        self.strong = true;
        self
    }
}

/// Merge sorted hours into [from, to) ns ranges of whole hours.
pub(crate) fn hour_ranges(hours: impl IntoIterator<Item = i64>) -> Vec<(i64, i64)> {
    let mut hs: Vec<i64> = hours.into_iter().collect();
    hs.sort_unstable();
    hs.dedup();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for h in hs {
        let (a, b) = (h * HOUR_NS, (h + 1) * HOUR_NS);
        match out.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests_util;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::Dim;
    use crate::testkit::{Ev, at, number};
    use crate::{Analytics, AnalyticsConfig, AppCatalog, IocSet};
    use stormwatch_core::Event;

    /// Deterministic pseudo-random numbers (xorshift).
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Reads of three mailboxes over `days` days from few or many networks, clients, apps and
    /// readers, some of them in the same hour.
    fn tenant(seed: u64, days: u32, n: usize) -> Vec<Event> {
        let mut r = Rng(seed | 1);
        let boxes = ["a@x.example", "b@x.example", "c@x.example"];
        let mut ev = Vec::new();
        for _ in 0..n {
            let m = boxes[r.below(3) as usize];
            let d = u32::try_from(r.below(u64::from(days))).unwrap();
            let (h, min) = (
                u32::try_from(r.below(24)).unwrap(),
                u32::try_from(r.below(60)).unwrap(),
            );
            let spread = if r.below(4) == 0 { 200 } else { 3 };
            let mut e = Ev::mail(&at(d, h, min), m)
                .ip(&format!("10.{}.0.{}", r.below(spread), r.below(3)))
                .client(&format!("Client=c{}", r.below(spread)))
                .session(&format!("s{}", r.below(50)));
            if r.below(5) == 0 {
                e = e.client_app(&format!("00000000-0000-0000-0000-{:012}", r.below(spread)));
            }
            if r.below(6) == 0 {
                e = e.user(&format!("reader{}@x.example", r.below(spread)));
            }
            if r.below(7) == 0 {
                e = e.client("python-requests/2.31");
            }
            if r.below(3) == 0 {
                e = e.sync("\\Inbox");
            }
            ev.push(e.build());
        }
        number(&mut ev);
        ev
    }

    fn analytics(cfg: AnalyticsConfig) -> Analytics {
        Analytics::new(
            cfg,
            IocSet::builtin_storm_0558(),
            AppCatalog::builtin(),
            None,
            Vec::new(),
        )
    }

    /// The baseline text from the sweep equals the one from walking every context, at every
    /// time an analytic asks about, for every mailbox, dimension and baseline length, with and
    /// without a saved baseline that already holds part of the input.
    #[test]
    fn sweep_baseline_equals_walking_every_context() {
        for seed in [1u64, 7, 42] {
            let ev = tenant(seed, 20, 1500);
            let mut first = analytics(AnalyticsConfig::default());
            for e in ev
                .iter()
                .filter(|e| e.time < Some(crate::testkit::t(&at(12, 0, 0))))
            {
                first.observe(e);
            }
            let saved = first.baseline();
            let plain = {
                let mut a = analytics(AnalyticsConfig::default());
                for e in &ev {
                    a.observe(e);
                }
                a
            };
            let resumed = {
                // The overlap (days 8-11) is in the saved baseline already.
                let mut a = analytics(AnalyticsConfig::default()).with_baseline(saved);
                for e in ev
                    .iter()
                    .filter(|e| e.time >= Some(crate::testkit::t(&at(8, 0, 0))))
                {
                    a.observe(e);
                }
                a
            };
            let mut checked = 0;
            let mut long = 0;
            for a in [&plain, &resumed] {
                let cx = a.cx();
                for &m in cx.mail_by_mailbox.keys() {
                    for days in [1u32, 3, 30] {
                        for dim in Dim::ALL {
                            for asked in Dim::ALL {
                                for v in cx.values(m, asked, days).iter() {
                                    let walked = cx.baseline_of(m, dim, v.first, days);
                                    assert_eq!(
                                        cx.baseline_text_at(m, dim, v.first, days),
                                        cx.baseline_text(dim, &walked),
                                        "seed {seed} {m} {dim:?} {days} days at {}",
                                        v.first
                                    );
                                    checked += 1;
                                    long += usize::from(walked.len() > super::BASELINE_SHOWN);
                                }
                            }
                        }
                    }
                }
            }
            assert!(checked > 1000, "{checked}");
            assert!(long > 100, "{long}");
        }
    }
}
