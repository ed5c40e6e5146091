//! Ageing out on long generated streams: the recent detections stay those of a run that keeps
//! everything, and the state stops growing once the horizon is full.

use std::collections::BTreeSet;
use std::time::Duration;

use stormwatch_analytics::{Analytics, AnalyticsConfig, AppCatalog, EvictStats, IocSet};
use stormwatch_core::{Detection, Event, Level, Timestamp};

use crate::generated::{events, in_time_order};

fn analytics(cfg: &AnalyticsConfig) -> Analytics {
    Analytics::new(
        cfg.clone(),
        IocSet::builtin_storm_0558(),
        AppCatalog::builtin(),
        None,
        vec![],
    )
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap()
}

fn counts(s: &EvictStats) -> [usize; 10] {
    [
        s.contexts,
        s.contexts_kept,
        s.sign_in_entries,
        s.ioc_hits,
        s.audit_changes,
        s.verdicts,
        s.activity,
        s.days,
        s.strings_before,
        s.strings_after,
    ]
}

/// A monitor's loop over events in time order: `at_day_end(newest)` after each day.
fn by_day(events: &[Event], mut at_day_end: impl FnMut(usize, Timestamp)) {
    let mut day = events[0].time.unwrap().day_number();
    let mut newest = events[0].time.unwrap();
    for (i, e) in events.iter().enumerate() {
        let t = e.time.unwrap();
        if t.day_number() > day {
            day = t.day_number();
            at_day_end(i, newest);
        }
        newest = newest.max(t);
    }
    at_day_end(events.len(), newest);
}

/// `sync-new-context` flags every Sync context of a network or client that was new at its
/// first record, however long ago that was; after ageing out, a context is judged against the
/// baseline of the horizon instead (as across `--state` runs). It is left out of the comparison.
const JUDGED_PER_CONTEXT: &str = "builtin/sync-new-context";

/// What identifies a detection: rule, level, time, who and what, and its records.
fn identity(d: &Detection) -> String {
    format!(
        "{} {} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        d.rule_id,
        d.level,
        d.timestamp,
        d.tenant,
        d.user,
        d.mailbox,
        d.ip,
        d.session_id,
        d.app_id,
        d.events
    )
}

/// A detection as JSON, but for its incident's number and for what eviction changes by design: `bulk-bind`'s norm is the
/// same samples merged in another order (equal to 9 digits, not to the last bit), and a log
/// gap counts the records kept before it.
fn normal(d: &Detection) -> String {
    let mut v = serde_json::to_value(d).unwrap();
    // Incidents are numbered over all of a run's incidents, old ones included.
    if let Some(o) = v.as_object_mut() {
        o.remove("incident_id");
    }
    if d.rule_id == "builtin/bulk-bind" {
        for k in ["hour_mean", "hour_std_dev"] {
            let x = v["evidence"][k].as_f64().unwrap();
            v["evidence"][k] = serde_json::json!(format!("{x:.9e}"));
        }
    }
    if d.evidence["kind"] == "log_gap" {
        let e = v["explanation"].as_str().unwrap();
        let cut = e.find("span, ").unwrap() + 6;
        let rest = &e[cut..];
        let skip = rest.find(" records before").unwrap();
        v["explanation"] = serde_json::json!(format!("{}…{}", &e[..cut], &rest[skip..]));
    }
    v.to_string()
}

/// When `app` last read `mailbox` before `t`, from the events themselves.
fn last_use(events: &[Event], mailbox: &str, app: &str, t: Timestamp) -> Option<Timestamp> {
    events
        .iter()
        .filter(|e| e.is_mail_items_accessed() && e.time.is_some_and(|x| x < t))
        .filter(|e| {
            e.mailbox
                .as_deref()
                .or(e.user.as_deref())
                .map(str::to_ascii_lowercase)
                .as_deref()
                == Some(mailbox)
        })
        .filter(|e| {
            e.client_app_id
                .as_deref()
                .or(e.app_id.as_deref())
                .map(str::to_ascii_lowercase)
                .as_deref()
                == Some(app)
        })
        .filter_map(|e| e.time)
        .max()
}

/// A medium breadth finding that counts a mailbox for a non-owner reader who is "new" for it
/// only because the run that keeps everything judges the pair once, at its first read, however
/// long ago (a delegate of a shared mailbox, weeks before): after ageing out, the reader is
/// judged against the horizon, is known, and the mailbox does not count (as across `--state`
/// runs).
fn judged_over_the_whole_input(d: &Detection, events: &[Event], cfg: &AnalyticsConfig) -> bool {
    if d.rule_id != "builtin/breadth" || d.level >= Level::High {
        return false;
    }
    let Some(user) = d.user.as_deref() else {
        return false;
    };
    let days = i64::from(cfg.baseline_days) * 86_400;
    let mailboxes = d.evidence["mailboxes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    mailboxes.iter().filter_map(|m| m.as_str()).any(|m| {
        m != user
            && events
                .iter()
                .filter(|e| e.is_mail_items_accessed())
                .filter(|e| e.user.as_deref().map(str::to_ascii_lowercase).as_deref() == Some(user))
                .filter(|e| e.mailbox.as_deref().map(str::to_ascii_lowercase).as_deref() == Some(m))
                .filter_map(|e| e.time)
                .min()
                .is_some_and(|first| first < d.timestamp.add_seconds(-days))
    })
}

/// Compare the detections at or after `from` of a run that keeps everything (`full`) and of
/// one that ages out (`aged`); returns how many were compared.
fn compare(
    full: &[Detection],
    aged: &[Detection],
    from: Timestamp,
    events: &[Event],
    cfg: &AnalyticsConfig,
) -> usize {
    let pick = |ds: &[Detection]| -> Vec<(String, String, Detection)> {
        ds.iter()
            .filter(|d| d.timestamp >= from && d.rule_id != JUDGED_PER_CONTEXT)
            .map(|d| (identity(d), normal(d), d.clone()))
            .collect()
    };
    let (want, got) = (pick(full), pick(aged));
    // Nothing about these records is lost or changed, but as said above.
    for (id, n, d) in &want {
        if !got.iter().any(|g| &g.0 == id) && judged_over_the_whole_input(d, events, cfg) {
            continue;
        }
        assert!(
            got.iter().any(|g| &g.0 == id),
            "lost by eviction: {}",
            serde_json::to_string(d).unwrap()
        );
        assert!(
            got.iter().any(|g| &g.0 == id && &g.1 == n),
            "changed by eviction: {n}"
        );
    }
    // What eviction adds is a value or an entity judged against the horizon where the run
    // that keeps everything judges it once over its whole input: never evidence on its own.
    for (id, _, d) in &got {
        if want.iter().any(|w| &w.0 == id) {
            continue;
        }
        assert!(
            d.level < Level::High,
            "made by eviction: {}",
            serde_json::to_string(d).unwrap()
        );
        match d.rule_id.as_str() {
            // The app had not read the mailbox in the baseline before (it had, earlier).
            "builtin/new-mail-app" => {
                let (m, app) = (
                    d.evidence["mailbox"].as_str().unwrap(),
                    d.evidence["app"].as_str().unwrap(),
                );
                let last = last_use(events, m, app, d.timestamp).expect("an app used before");
                let days = i64::from(cfg.baseline_days) * 86_400;
                assert!(
                    last < d.timestamp.add_seconds(-days),
                    "{m} {app}: last used {last}"
                );
            }
            // The same pair of networks, seen together before as well: one detection for all
            // of it without eviction.
            "builtin/concurrent-sessions" => {
                assert!(
                    full.iter().any(|f| f.rule_id == d.rule_id
                        && f.timestamp < from
                        && f.evidence["mailbox"] == d.evidence["mailbox"]
                        && f.evidence["networks"] == d.evidence["networks"]),
                    "{}",
                    d.explanation
                );
            }
            _ => panic!("made by eviction: {}", serde_json::to_string(d).unwrap()),
        }
    }
    want.len()
}

/// Shorter look backs than the defaults (sessions matched against sign-ins of the last 3
/// days, networks against 14 days), so that a six-week stream ages out for most of it, the
/// planted intrusion included.
fn short_lookbacks() -> AnalyticsConfig {
    let mut cfg = AnalyticsConfig::default();
    cfg.asn.baseline_days = 14;
    cfg.no_sign_in.session_max_age_days = 3;
    cfg
}

/// What a comparison run saw.
#[derive(Default)]
struct Seen {
    /// Contexts aged out.
    dropped: usize,
    /// Evictions that compacted the interner.
    compactions: usize,
    /// Detections compared (counted once per day they were compared).
    compared: usize,
    /// Levels of the detections compared.
    levels: BTreeSet<Level>,
}

/// A monitor's day: fold the day's events, age out what is older than the horizon
/// (`margin_days` more than the longest look back), decide; beside it a run that keeps
/// everything, and one resumed from its own snapshot every four days.
fn run_aged_beside_full(cfg: &AnalyticsConfig, ev: &[Event], margin_days: i64) -> Seen {
    let mut full = analytics(cfg);
    let mut aged = analytics(cfg);
    let mut resumed = analytics(cfg);
    let lookback = secs(aged.longest_lookback());
    let horizon = lookback + margin_days * 86_400;
    let mut seen = Seen::default();
    let (mut at, mut days) = (0, 0);
    by_day(ev, |to, newest| {
        for e in &ev[at..to] {
            full.observe(e);
            aged.observe(e);
            resumed.observe(e);
        }
        at = to;
        days += 1;
        let before = newest.add_seconds(-horizon);
        let st = aged.evict(before);
        // The same drops (the byte estimates differ: a restored state is allocated anew).
        assert_eq!(counts(&resumed.evict(before)), counts(&st));
        seen.dropped += st.contexts;
        seen.compactions += usize::from(st.strings_after < st.strings_before);
        if days % 4 == 0 {
            let bytes = resumed.snapshot().unwrap();
            resumed = analytics(cfg);
            resumed.restore(&bytes).unwrap();
        }
        let (f, a) = (full.evaluate(), aged.evaluate());
        assert_eq!(
            serde_json::to_string(&resumed.evaluate()).unwrap(),
            serde_json::to_string(&a).unwrap(),
            "{newest}: resumed from a snapshot"
        );
        // Records at least the look back after the point: decided as without eviction.
        let from = before.add_seconds(lookback);
        seen.compared += compare(&f.detections, &a.detections, from, ev, cfg);
        seen.levels.extend(
            a.detections
                .iter()
                .filter(|d| d.timestamp >= from)
                .map(|d| d.level),
        );
    });
    seen
}

#[test]
fn evicting_keeps_the_detections_of_records_within_the_horizon() {
    let cfg = short_lookbacks();
    assert_eq!(
        analytics(&cfg).longest_lookback(),
        Duration::from_secs((14 * 24 + 1) * 3600)
    );
    let seen = run_aged_beside_full(&cfg, &in_time_order(events(5, 45, 5)), 2);
    // Not vacuous: most of the stream aged out, the planted intrusion was decided under
    // eviction, and the interner was compacted along the way.
    assert!(seen.dropped > 500, "{} contexts aged out", seen.dropped);
    assert!(seen.compactions > 0);
    assert!(seen.compared > 100, "{} detections compared", seen.compared);
    assert!(seen.levels.contains(&Level::Critical) && seen.levels.contains(&Level::High));
}

#[test]
fn evicting_with_the_default_look_backs_over_eleven_weeks() {
    let cfg = AnalyticsConfig::default();
    assert_eq!(
        analytics(&cfg).longest_lookback(),
        Duration::from_secs((30 * 24 + 1) * 3600)
    );
    let seen = run_aged_beside_full(&cfg, &in_time_order(events(9, 77, 4)), 3);
    assert!(seen.dropped > 500, "{} contexts aged out", seen.dropped);
    assert!(seen.compared > 50, "{} detections compared", seen.compared);
}

#[test]
fn state_stays_flat_once_the_horizon_is_full() {
    let cfg = AnalyticsConfig::default();
    let ev = in_time_order(events(8, 120, 6));
    let mut full = analytics(&cfg);
    let mut aged = analytics(&cfg);
    let horizon = secs(aged.longest_lookback()) + 2 * 86_400;
    let start = ev[0].time.unwrap();
    // (day, state bytes after eviction)
    let mut sizes: Vec<(i64, usize)> = Vec::new();
    let mut at = 0;
    by_day(&ev, |to, newest| {
        for e in &ev[at..to] {
            full.observe(e);
            aged.observe(e);
        }
        at = to;
        aged.evict(newest.add_seconds(-horizon));
        sizes.push((
            (newest.nanos() - start.nanos()) / 86_400_000_000_000,
            aged.state_bytes(),
        ));
    });
    let max_in = |from: i64, to: i64| {
        sizes
            .iter()
            .filter(|(d, _)| (from..to).contains(d))
            .map(|&(_, b)| b)
            .max()
            .unwrap()
    };
    // The horizon (32 days) is full from day 33: from then on the records keep coming (87
    // more days, nearly three times the horizon) and the state does not grow with them.
    let (filled, late) = (max_in(40, 70), max_in(90, 120));
    eprintln!(
        "state bytes: days 40-70 at most {filled}, days 90-120 at most {late}, without eviction {}",
        full.state_bytes()
    );
    assert!(
        late * 10 <= filled * 11,
        "grew from {filled} to {late} bytes: {sizes:?}"
    );
    // Without eviction it grows with the records.
    assert!(
        full.state_bytes() > 2 * late,
        "{} vs {late}",
        full.state_bytes()
    );
}
