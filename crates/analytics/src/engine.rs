//! The analytics engine: observe every event, decide at finish.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rayon::prelude::*;

use stormwatch_core::{
    Detection, DetectionSource, Event, Level, Location, PackedLocation, Timestamp, sort_detections,
};

use crate::analytics::{self as a, Cx, Dim, Finding};
use crate::apps::AppCatalog;
use crate::asn::AsnDb;
use crate::baseline::{BaselineSnapshot, RunningStats, SeenStat};
use crate::config::AnalyticsConfig;
use crate::incident::{self, Links};
use crate::info::{self, AnalyticInfo};
use crate::iocs::IocSet;
use crate::loc::Kept;
use crate::observed::{Observed, Observer};
use crate::state::{CtxKind, HOUR_NS, State};
use stormwatch_core::Incident;

/// One analytic: its findings over the folded state.
type Run = fn(&Cx<'_>, &mut Vec<Finding>);

/// The built-in analytics over one input.
#[derive(Debug)]
pub struct Analytics {
    pub(crate) config: AnalyticsConfig,
    apps: AppCatalog,
    asn: Option<AsnDb>,
    watch: BTreeSet<String>,
    /// The baseline of earlier runs, and of contexts aged out by [`Analytics::evict`].
    pub(crate) snapshot: BaselineSnapshot,
    /// A baseline is kept between runs (`with_baseline` was called, even with an empty one).
    pub(crate) keeps_baseline: bool,
    /// The hours earlier runs folded into `snapshot` (what records are judged against).
    pub(crate) prior: BaselineSnapshot,
    pub(crate) state: State,
    /// Holds the IOC set, shared with the observers handed out, and their emptied batches.
    pub(crate) observer: Observer,
    /// A one-event batch for [`Analytics::observe`].
    scratch: Observed,
    pub(crate) early_notes: Vec<String>,
}

/// What [`Analytics::finish`] returns.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnalyticsOutput {
    /// Every detection, in the deterministic output order.
    pub detections: Vec<Detection>,
    /// Detections grouped by actor context, most severe first.
    pub incidents: Vec<Incident>,
    /// What the analytics could not do or assumed (missing sign-in logs, no ASN data, …).
    pub notes: Vec<String>,
    /// The baseline to save for the next run (`--state`).
    pub baseline: BaselineSnapshot,
}

fn base_score(l: Level) -> u32 {
    match l {
        Level::Informational => 5,
        Level::Low => 20,
        Level::Medium => 45,
        Level::High => 70,
        Level::Critical => 90,
    }
}

impl Analytics {
    /// Analytics with their configuration, IOC set, app catalogue, optional IP → ASN data and
    /// watch-listed mailboxes (added to `config.watchlist`).
    #[must_use]
    pub fn new(
        config: AnalyticsConfig,
        iocs: IocSet,
        apps: AppCatalog,
        asn: Option<AsnDb>,
        watchlist: Vec<String>,
    ) -> Self {
        let watch = config
            .watchlist
            .iter()
            .chain(watchlist.iter())
            .map(|m| m.trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty())
            .collect();
        let state = State::new(config.max_events_per_context);
        Analytics {
            config,
            observer: Observer::new(Arc::new(iocs)),
            apps,
            asn,
            watch,
            snapshot: BaselineSnapshot::new(),
            keeps_baseline: false,
            prior: BaselineSnapshot::default(),
            state,
            scratch: Observed::default(),
            early_notes: Vec::new(),
        }
    }

    /// Compare against a baseline saved by an earlier run (`--state DIR`); pass
    /// [`BaselineSnapshot::new`] when the state has none yet. Records the snapshot already
    /// holds (same tenant and hour as records an earlier run folded in) are not folded into
    /// the next one again. A snapshot of another format version is ignored (and the output
    /// says so).
    #[must_use]
    pub fn with_baseline(mut self, snapshot: BaselineSnapshot) -> Self {
        self.keeps_baseline = true;
        if snapshot.version == BaselineSnapshot::FORMAT_VERSION {
            self.prior = snapshot.folded_by_earlier_runs();
            self.snapshot = snapshot;
        } else {
            self.early_notes.push(format!(
                "the saved baseline has format version {}, this build reads {}: it was ignored and will be replaced",
                snapshot.version,
                BaselineSnapshot::FORMAT_VERSION
            ));
        }
        self
    }

    /// Fold one event in. Call for every event, in any order: results do not depend on it.
    pub fn observe(&mut self, ev: &Event) {
        let mut one = std::mem::take(&mut self.scratch);
        self.observer.observe(ev, &mut one);
        self.fold(&one);
        one.clear();
        self.scratch = one;
    }

    /// What takes from each event what the analytics keep, on any thread, so that the events
    /// can be freed there: batches it fills are then given to [`Analytics::fold`]. Observing
    /// an event this way and with [`Analytics::observe`] are the same.
    #[must_use]
    pub fn observer(&self) -> Observer {
        self.observer.clone()
    }

    /// Fold in a batch filled by an [`Analytics::observer`]. Batches may come in any order.
    pub fn fold(&mut self, batch: &Observed) {
        self.state.fold(batch);
    }

    /// Feed a token verdict from the token verifier (JWTs captured in proxy or app logs): the
    /// token was seen at `at` with session id `session` (`sid`) and/or token id `uti`. Verdicts
    /// `valid` / `ok` raise nothing; `forged`, scope mismatch, revoked or unknown keys raise a
    /// critical `forged-token-signals` detection over the Exchange records sharing the session
    /// or token id, anything else a high one. `loc` is where the token was found.
    pub fn observe_token_verdict(
        &mut self,
        at: Timestamp,
        session: Option<&str>,
        uti: Option<&str>,
        verdict: &str,
        loc: Location,
    ) {
        self.state.observe_verdict(at, session, uti, verdict, loc);
    }

    /// Every analytic with its default settings and docs page.
    #[must_use]
    pub fn list() -> Vec<AnalyticInfo> {
        info::list(&AnalyticsConfig::default())
    }

    /// Every analytic with the settings of `config`.
    #[must_use]
    pub fn list_with(config: &AnalyticsConfig) -> Vec<AnalyticInfo> {
        info::list(config)
    }

    /// Decide: run every analytic over the folded state, group, and build the next baseline.
    /// The same as [`Analytics::evaluate`] as the last call.
    #[must_use]
    pub fn finish(mut self) -> AnalyticsOutput {
        // Nothing is decided after this: each context's record locations are freed once the
        // detections over it are built, so they and the detections are not all held at once.
        let decided = self.decide_with(true);
        self.output(decided)
    }

    /// Decide over everything folded so far without consuming: the detections, incidents,
    /// notes and next baseline that [`Analytics::finish`] would give if the input ended now.
    /// Folding may continue afterwards, and a later `evaluate` or `finish` sees everything:
    /// the answer never depends on when (or how often) it was asked. Two calls with nothing
    /// folded between give identical output.
    pub fn evaluate(&mut self) -> AnalyticsOutput {
        let decided = self.decide();
        self.output(decided)
    }

    /// What was decided, with the next baseline.
    fn output(
        &self,
        (detections, incidents, notes): (Vec<Detection>, Vec<Incident>, Vec<String>),
    ) -> AnalyticsOutput {
        AnalyticsOutput {
            detections,
            incidents,
            notes,
            baseline: next_baseline(&self.cx()),
        }
    }

    /// [`Analytics::evaluate`] without the next baseline (which costs about a third of it):
    /// the detections, incidents and notes, for a caller that decides often.
    pub fn decide(&mut self) -> (Vec<Detection>, Vec<Incident>, Vec<String>) {
        self.decide_with(false)
    }

    /// [`Analytics::decide`]; with `release`, the contexts' record locations are taken out of
    /// the state and each context's freed after the last detection over it is built (for
    /// [`Analytics::finish`]: the state keeps none afterwards).
    fn decide_with(&mut self, release: bool) -> (Vec<Detection>, Vec<Incident>, Vec<String>) {
        // Settling sorts and trims what was kept; it changes no answer, now or later.
        self.state.settle();
        let cx = self.cx();
        // The analytics read the folded state and write only their own findings: they run in
        // parallel, and their findings are kept in this order.
        let runs: [Run; 13] = [
            a::new_mail_app::run,
            a::mail_without_sign_in::run,
            a::forged_token::run,
            a::ioc_infrastructure::run,
            a::watchlist::run,
            a::hosting_asn::run,
            a::breadth::run,
            a::bulk_bind::run,
            a::sync_new_context::run,
            a::scripted_rest::run,
            a::concurrent_sessions::run,
            a::owa_token::run,
            a::visibility_gaps::run,
        ];
        let mut findings: Vec<Finding> = runs
            .par_iter()
            .map(|run| {
                let mut out = Vec::new();
                run(&cx, &mut out);
                out
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect();
        corroborate(&cx, &mut findings);
        // The notes count the contexts that kept fewer record locations than they saw.
        let mut notes = self.early_notes.clone();
        notes.extend(notes_of(&cx, self.keeps_baseline));
        let mut pairs: Vec<(Detection, Links)> = if release {
            drop(cx);
            self.release_detections(findings)
        } else {
            let kept = |i: usize| cx.ctx(i).map_or(&[][..], |(_, c)| c.locs.items.as_slice());
            findings
                .into_par_iter()
                .map(|mut f| {
                    let bonus = a::actor_hours::apply(&cx, &mut f);
                    to_detection(&cx, f, bonus, &kept)
                })
                .collect()
        };
        pairs.sort_by(|x, y| {
            x.0.sort_key()
                .cmp(&y.0.sort_key())
                .then_with(|| x.0.explanation.cmp(&y.0.explanation))
                .then_with(|| x.0.evidence.to_string().cmp(&y.0.evidence.to_string()))
        });
        let (mut detections, links): (Vec<Detection>, Vec<Links>) = pairs.into_iter().unzip();
        // Keep core's order definition authoritative (stable: ties keep the order above).
        sort_detections(&mut detections);
        let incidents = incident::group(&detections, &links);
        for inc in &incidents {
            for &i in &inc.detections {
                if let Some(d) = detections.get_mut(i) {
                    d.incident_id = Some(inc.id.clone());
                }
            }
        }
        (detections, incidents, notes)
    }

    /// The detections of `findings` (in any order), taking the contexts' record locations out
    /// of the state and freeing each context's after the last batch of findings over it.
    fn release_detections(&mut self, findings: Vec<Finding>) -> Vec<(Detection, Links)> {
        /// Findings made into detections at once (in parallel) between releases.
        const BATCH: usize = 32;
        let mut taken: Vec<Vec<Kept>> = self
            .state
            .ctxs
            .iter_mut()
            .map(|(_, c)| std::mem::take(&mut c.locs.items))
            .collect();
        // The batch after which each context's locations are read no more (none: never read),
        // then per batch the contexts it is the last reader of.
        let mut last_batch: Vec<Option<usize>> = vec![None; taken.len()];
        for (n, f) in findings.iter().enumerate() {
            for &i in &f.ctxs {
                if let Some(b) = last_batch.get_mut(i) {
                    *b = Some(n / BATCH);
                }
            }
        }
        let mut ends: Vec<Vec<usize>> = vec![Vec::new(); findings.len().div_ceil(BATCH)];
        for (i, b) in last_batch.iter().enumerate() {
            match b.and_then(|b| ends.get_mut(b)) {
                Some(e) => e.push(i),
                None => {
                    if let Some(t) = taken.get_mut(i) {
                        *t = Vec::new();
                    }
                }
            }
        }
        let cx = self.cx();
        let mut pairs = Vec::with_capacity(findings.len());
        let mut rest = findings.into_iter();
        for batch in 0.. {
            let now: Vec<Finding> = rest.by_ref().take(BATCH).collect();
            if now.is_empty() {
                break;
            }
            let kept = |i: usize| taken.get(i).map_or(&[][..], Vec::as_slice);
            pairs.par_extend(now.into_par_iter().map(|mut f| {
                let bonus = a::actor_hours::apply(&cx, &mut f);
                to_detection(&cx, f, bonus, &kept)
            }));
            for &i in ends.get(batch).map_or(&[][..], Vec::as_slice) {
                if let Some(t) = taken.get_mut(i) {
                    *t = Vec::new();
                }
            }
        }
        pairs
    }

    /// The baseline [`Analytics::finish`] would give (for `--state`) if the input ended now,
    /// without consuming or deciding anything else.
    #[must_use]
    pub fn baseline(&self) -> BaselineSnapshot {
        next_baseline(&self.cx())
    }

    /// What the analytics read: the folded state with the configuration and reference data.
    pub(crate) fn cx(&self) -> Cx<'_> {
        self.cx_over(&self.state)
    }

    /// [`Analytics::cx`] over another state (a part of this one).
    pub(crate) fn cx_over<'a>(&'a self, state: &'a State) -> Cx<'a> {
        Cx::new(
            &self.config,
            state,
            &self.apps,
            self.asn.as_ref(),
            self.observer.iocs(),
            &self.snapshot,
            &self.prior,
            &self.watch,
        )
    }
}

/// Strong findings (no sign-in, forged token, IOC in window) raise weaker findings that share
/// their session or IOC IP to high.
fn corroborate(cx: &Cx<'_>, findings: &mut Vec<Finding>) {
    let mut sessions: BTreeSet<&str> = BTreeSet::new();
    let mut ips: BTreeSet<String> = BTreeSet::new();
    for f in findings
        .iter()
        .filter(|f| f.strong && f.level >= Level::High)
    {
        for &i in &f.ctxs {
            if let Some(s) = cx.ctx(i).and_then(|(k, _)| cx.opt(k.session)) {
                sessions.insert(s);
            }
        }
        sessions.extend(
            f.fields
                .sessions
                .iter()
                .filter_map(|s| cx.st.names.get_ci(s).map(|x| cx.name(x))),
        );
        ips.extend(f.fields.ips.iter().cloned());
    }
    if sessions.is_empty() && ips.is_empty() {
        return;
    }
    let mut split_off: Vec<Finding> = Vec::new();
    for f in findings.iter_mut() {
        if f.strong || f.level >= Level::High || f.slug == a::visibility_gaps::SLUG {
            continue;
        }
        let why = |i: usize| -> Option<String> {
            let (k, _) = cx.ctx(i)?;
            if let Some(s) = cx.opt(k.session).filter(|s| sessions.contains(s)) {
                return Some(format!("session {s}"));
            }
            cx.opt(k.ip)
                .filter(|ip| ips.contains(*ip))
                .map(|ip| format!("IOC IP {ip}"))
        };
        let Some(what) = f.ctxs.iter().find_map(|&i| why(i)) else {
            continue;
        };
        // Only the contexts that share the session / IOC IP are raised; the rest stay as they
        // are, in a finding of their own.
        let (shared, rest): (Vec<usize>, Vec<usize>) =
            f.ctxs.iter().partition(|&&i| why(i).is_some());
        if !rest.is_empty() {
            let mut other = f.clone();
            other.ctxs = rest;
            other.extra.clear();
            split_off.push(other);
            f.ctxs = shared;
        }
        f.explanation.push_str(&format!(
            ". Raised from {} to high: it shares {what} with a detection that stands on its own (no sign-in, forged token or IOC in its window)",
            f.level
        ));
        f.evidence
            .insert("raised_from".into(), serde_json::json!(f.level));
        f.level = Level::High;
    }
    findings.extend(split_off);
}

fn in_windows(w: Option<&Vec<(i64, i64)>>, t: i64) -> bool {
    w.is_none_or(|w| w.iter().any(|&(a, b)| t >= a && t < b))
}

/// The detection of a finding; `kept` gives a context's kept record locations (by index).
fn to_detection<'a>(
    cx: &Cx<'a>,
    f: Finding,
    bonus: u32,
    kept: &(dyn Fn(usize) -> &'a [Kept] + Sync),
) -> (Detection, Links) {
    let mut links = Links {
        strong: f.strong,
        ..Links::default()
    };
    // The records are sorted and deduplicated packed, by reference (packed locations order and
    // compare as the locations they stand for): only the `cap` shown become locations. A
    // finding over many contexts would otherwise copy every location they keep.
    let extra: Vec<Kept> = f
        .extra
        .iter()
        .map(|(t, l)| Kept::packed(*t, PackedLocation::new(l)))
        .collect();
    let mut locs: Vec<&Kept> = extra.iter().collect();
    let mut not_kept = 0u64;
    let mut records = u64::try_from(f.extra.len()).unwrap_or(u64::MAX);
    let mut first_ctx: Option<(i64, usize)> = None;
    let mut last = f.extra.iter().map(|e| e.0).max();
    for &i in &f.ctxs {
        let Some((k, c)) = cx.ctx(i) else { continue };
        let mut any = false;
        for (&h, agg) in &c.hours {
            let (h0, h1) = (h * HOUR_NS, (h + 1) * HOUR_NS);
            if f.windows
                .as_ref()
                .is_none_or(|w| w.iter().any(|&(a, b)| h1 > a && h0 < b))
            {
                records += u64::from(agg.records);
                any = true;
                let t = f
                    .windows
                    .as_ref()
                    .and_then(|w| w.iter().find(|&&(a, b)| h1 > a && h0 < b))
                    .map_or(agg.first, |&(a, _)| agg.first.max(a));
                // Ties broken by the context's earliest record, never by its (input-order) index.
                let tie = |j: usize| kept(j).first().map(Kept::location);
                if first_ctx.is_none_or(|(ft, fi)| t < ft || (t == ft && tie(i) < tie(fi))) {
                    first_ctx = Some((t, i));
                }
            }
        }
        if !any {
            continue;
        }
        let from = locs.len();
        locs.extend(
            kept(i)
                .iter()
                .filter(|k| in_windows(f.windows.as_ref(), k.t)),
        );
        last = last.max(locs.get(from..).and_then(<[_]>::last).map(|k| k.t));
        not_kept += c
            .locs
            .total
            .saturating_sub(u64::try_from(kept(i).len()).unwrap_or(0));
        if let Some(t) = cx.opt(k.tenant) {
            links.tenants.insert(t.to_owned());
        }
        if let Some(s) = cx.opt(k.session) {
            links.sessions.insert(s.to_owned());
        }
        for &(_, u) in &c.utis {
            links.utis.insert(cx.name(u).to_owned());
        }
        if let Some(ip) = cx.opt(k.ip) {
            links.ips.insert(ip.to_owned());
        }
        if let Some(app) = cx.opt(k.app_or_client()) {
            links.apps.insert(app.to_owned());
        }
        if let Some(m) = cx.opt(k.mailbox) {
            links.mailboxes.insert(m.to_owned());
        }
        if let Some(u) = cx.opt(k.user) {
            links.users.insert(u.to_owned());
        }
    }
    links.sessions.extend(f.fields.sessions.iter().cloned());
    links.ips.extend(f.fields.ips.iter().cloned());
    locs.sort_unstable();
    locs.dedup_by(|a, b| a.packed_location() == b.packed_location());
    let total = locs.len();
    let cap = cx.cfg.max_events_per_detection;
    let at = [locs.first().map(|l| l.t), f.at, first_ctx.map(|f| f.0)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(0);
    let mut d = Detection::new(
        format!("builtin/{}", f.slug),
        info::title_of(f.slug),
        f.level,
        DetectionSource::Builtin,
        Timestamp::from_nanos(at),
    );
    d.events = locs.into_iter().take(cap).map(Kept::location).collect();
    if let Some((_, i)) = first_ctx.or_else(|| f.ctxs.first().map(|&i| (0, i)))
        && let Some((k, _)) = cx.ctx(i)
    {
        d.tenant = cx.opt(k.tenant).map(str::to_owned);
        d.user = cx.opt(k.user).map(str::to_owned);
        d.mailbox = cx.opt(k.mailbox).map(str::to_owned);
        d.ip = cx.opt(k.ip).map(str::to_owned);
        d.session_id = cx.opt(k.session).map(str::to_owned);
        d.app_id = cx.opt(k.app_or_client()).map(str::to_owned);
    }
    let fl = f.fields;
    d.tenant = fl.tenant.or(d.tenant);
    d.user = fl.user.or(d.user);
    d.mailbox = fl.mailbox.or(d.mailbox);
    d.ip = fl.ip.or(d.ip);
    d.session_id = fl.session.or(d.session_id);
    d.app_id = fl.app.or(d.app_id);
    for (v, set) in [
        (&d.tenant, &mut links.tenants),
        (&d.mailbox, &mut links.mailboxes),
        (&d.user, &mut links.users),
    ] {
        if let Some(v) = v {
            set.insert(v.clone());
        }
    }
    links.records = records;
    links.last = last.map(Timestamp::from_nanos);
    links.score = (base_score(d.level) + bonus).min(100);
    let mut ev = f.evidence;
    ev.insert("score".into(), serde_json::json!(links.score));
    ev.insert("records".into(), serde_json::json!(records));
    if total > cap || not_kept > 0 {
        ev.insert(
            "events_omitted".into(),
            serde_json::json!((total.saturating_sub(cap)) as u64 + not_kept),
        );
    }
    d.explanation = f.explanation;
    d.evidence = serde_json::Value::Object(ev);
    d.tags = vec!["attack.collection".into(), "attack.t1114.002".into()];
    (d, links)
}

fn notes_of(cx: &Cx<'_>, keeps_baseline: bool) -> Vec<String> {
    let st = cx.st;
    let si = &st.sign_ins;
    let mut n = Vec::new();
    if !si.present() {
        n.push(
            "no sign-in logs in the input: `mail-access-without-sign-in` did not run, so mail access that no sign-in backs cannot be told from ordinary use; IP-only and baseline evidence is ranked medium or below. Add Entra ID interactive and non-interactive sign-in logs covering the same days"
                .to_owned(),
        );
    } else {
        if si.non_interactive == 0 {
            n.push(format!(
                "the sign-in logs hold no non-interactive sign-ins: sessions were matched against any sign-in of the session in the {} days before, not the last {} hours",
                cx.cfg.no_sign_in.session_max_age_days, cx.cfg.no_sign_in.session_lookback_hours
            ));
        }
        if let (Some((sf, sl)), Some(f), Some(l)) = (si.hours(), st.first, st.last) {
            let (f, l) = (crate::state::hour_of(f), crate::state::hour_of(l));
            if f < sf - 1 || l > sl + 1 {
                n.push(format!(
                    "sign-in logs cover {} to {} but the input runs from {} to {}: records outside the sign-in coverage were not checked for a sign-in",
                    a::ts(sf * HOUR_NS),
                    a::ts((sl + 1) * HOUR_NS),
                    a::ts(f * HOUR_NS),
                    a::ts((l + 1) * HOUR_NS)
                ));
            }
        }
    }
    if cx.asn.is_none() {
        n.push("no IP → ASN data loaded: `hosting-or-new-asn` did not run, and networks are compared by address prefix (/16, /48); load the CC-BY-4.0 @ip-location-db/asn CSV with --asn-db".to_owned());
    }
    if st.mail_records == 0 && st.records > 0 {
        n.push("no MailItemsAccessed records in the input: mail reads are not observable (Audit Premium / Standard MailItemsAccessed not enabled, or not exported)".to_owned());
    }
    if st.untimed > 0 {
        n.push(format!(
            "{} records without a time were not analysed",
            a::thousands(st.untimed)
        ));
    }
    if st.ioc_hits_dropped > 0 {
        n.push(format!(
            "{} further records from IOC IPs were not kept (limit reached)",
            a::thousands(st.ioc_hits_dropped)
        ));
    }
    if let (Some(f), Some(l)) = (st.first, st.last) {
        let days = (l - f) as f64 / crate::state::DAY_NS as f64;
        let mut s = format!(
            "baseline: the input spans {days:.1} days ({} to {})",
            a::ts(f),
            a::ts(l)
        );
        match (cx.snap.first, cx.snap.last) {
            (Some(sf), Some(sl)) => s.push_str(&format!(
                "; saved baseline from {sf} to {sl} ({} mailboxes)",
                cx.snap.mailboxes.len()
            )),
            _ if keeps_baseline => s.push_str(
                "; no saved baseline yet in the state directory: this run's records start it",
            ),
            _ => s.push_str("; no saved baseline (use --state DIR to keep one between runs)"),
        }
        if cx.history_days(l) < f64::from(cx.cfg.learning_days) {
            s.push_str(&format!(
                "; less than the {}-day learning period, so new first-party apps are not reported and third-party ones are low",
                cx.cfg.learning_days
            ));
        }
        n.push(s);
    }
    let (known, total) = cx.folded_records();
    if known > 0 {
        n.push(format!(
            "baseline: {} of {} MailItemsAccessed records were already in the saved baseline (same tenant and hour as records an earlier run folded in) and were not counted again",
            a::thousands(known),
            a::thousands(total)
        ));
    }
    let truncated = st
        .ctxs
        .iter()
        .filter(|(_, c)| c.locs.total > u64::try_from(c.locs.items.len()).unwrap_or(0))
        .count();
    if truncated > 0 {
        n.push(format!(
            "{truncated} contexts had more than {} records: detections list the earliest {} of each and count the rest in evidence.events_omitted",
            cx.cfg.max_events_per_context, cx.cfg.max_events_per_context
        ));
    }
    n
}

pub(crate) fn next_baseline(cx: &Cx<'_>) -> BaselineSnapshot {
    let mut s = cx.snap.clone();
    s.version = BaselineSnapshot::FORMAT_VERSION;
    s.adopt_untracked_span();
    // Hours of each tenant folded in by this run.
    let mut hours_by_tenant: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for (&mailbox, idxs) in &cx.mail_by_mailbox {
        let mut samples: Vec<u64> = Vec::new();
        let (mut inside, mut total) = (0u64, 0u64);
        for &i in idxs {
            let Some((k, c)) = cx.ctx(i) else { continue };
            debug_assert_eq!(k.kind, CtxKind::Mail);
            // Only the hours an earlier run has not folded in: each record counts once.
            let Some(stat) = unfolded_stat(cx, k, c) else {
                continue;
            };
            hours_by_tenant
                .entry(cx.opt(k.tenant).unwrap_or(""))
                .or_default()
                .extend(c.hours.keys().copied());
            for dim in Dim::ALL {
                if let Some(v) = cx.dim_value(dim, k) {
                    s.record(mailbox, dim.as_str(), &v, stat);
                }
            }
            let fresh = || c.hours.iter().filter(|&(&h, _)| !cx.folded(k, h));
            if k.access != Some(stormwatch_core::MailAccessType::Sync) {
                samples.extend(fresh().map(|(_, h)| h.ops));
            }
            if !k.non_owner() {
                for (&h, agg) in fresh() {
                    total += u64::from(agg.records);
                    if a::actor_hours::in_window(&cx.cfg.actor_hours, h) {
                        inside += u64::from(agg.records);
                    }
                }
            }
        }
        // Sorted, so the floating-point sums do not depend on input order.
        samples.sort_unstable();
        let mut ops = RunningStats::default();
        #[allow(clippy::cast_precision_loss)]
        samples.iter().for_each(|&x| ops.push(x as f64));
        let m = s.mailboxes.entry(mailbox.to_owned()).or_default();
        m.hourly_operations.merge(&ops);
        m.actor_window_records += inside;
        m.owner_records += total;
    }
    for (tenant, hours) in hours_by_tenant {
        s.mark_folded(tenant, hours);
    }
    if let (Some(f), Some(l)) = (cx.st.first, cx.st.last) {
        s.extend_span(a::ts(f), a::ts(l));
    }
    s.prune(cx.cfg.snapshot_retention_days);
    s
}

/// What a context adds to the baseline: its records in the hours no earlier run folded in
/// (`None` when there are none).
fn unfolded_stat(cx: &Cx<'_>, k: &crate::state::CtxKey, c: &crate::state::Ctx) -> Option<SeenStat> {
    let mut fresh = c
        .hours
        .iter()
        .filter(|&(&h, _)| !cx.folded(k, h))
        .peekable();
    let (&first_hour, first_agg) = *fresh.peek()?;
    let first = first_agg.first;
    let mut records = 0u64;
    let mut last_hour = first_hour;
    for (&h, agg) in fresh {
        records += u64::from(agg.records);
        last_hour = h;
    }
    // The context's last record is in its last hour; an earlier hour ends before the next.
    let last = if c.hours.keys().next_back() == Some(&last_hour) {
        c.last
    } else {
        (last_hour + 1) * HOUR_NS - 1
    };
    Some(SeenStat {
        first: a::ts(first),
        last: a::ts(last),
        records,
    })
}
