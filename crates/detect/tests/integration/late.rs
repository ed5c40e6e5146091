//! Late sign-ins: within the grace they keep the "mail access without sign-in" detection from
//! ever being raised; after it, they withdraw the detection raised in the meantime. Records
//! later than the lateness bound are still processed, and marked late.

use stormwatch_core::{Event, Timestamp};
use stormwatch_detect::{Alert, Change, Detector, DetectorConfig};

use crate::util::{analytics, bundled_engine};

const NO_SIGN_IN: &str = "builtin/mail-access-without-sign-in";

/// A tenant with sign-in logs from 06:00 to 20:00, the mailbox owner's own morning sign-in,
/// and one OWA read of her mailbox at 10:15 in session S1, which no sign-in has issued yet.
const BACKGROUND: &str = concat!(
    r#"{"id":"si-bob-1","createdDateTime":"2023-06-12T06:00:00Z","userPrincipalName":"bob@contoso.example","tenantId":"7b0a1c2d-0000-4000-8000-00000000c0de","appId":"00000002-0000-0ff1-ce00-000000000000","ipAddress":"198.51.100.20","sessionId":"S-bob","isInteractive":true,"status":{"errorCode":0}}"#,
    "\n",
    r#"{"id":"si-bob-2","createdDateTime":"2023-06-12T20:00:00Z","userPrincipalName":"bob@contoso.example","tenantId":"7b0a1c2d-0000-4000-8000-00000000c0de","appId":"00000002-0000-0ff1-ce00-000000000000","ipAddress":"198.51.100.20","sessionId":"S-bob","isInteractive":true,"status":{"errorCode":0}}"#,
    "\n",
    r#"{"id":"si-ann-0","createdDateTime":"2023-06-12T08:00:00Z","userPrincipalName":"ann@contoso.example","tenantId":"7b0a1c2d-0000-4000-8000-00000000c0de","appId":"00000002-0000-0ff1-ce00-000000000000","ipAddress":"198.51.100.7","sessionId":"S0","isInteractive":true,"status":{"errorCode":0}}"#,
    "\n",
    r#"{"CreationTime":"2023-06-12T10:15:00","Id":"mia-1","Operation":"MailItemsAccessed","RecordType":50,"OrganizationId":"7b0a1c2d-0000-4000-8000-00000000c0de","UserId":"ann@contoso.example","UserType":0,"ClientIPAddress":"203.0.113.9","MailboxOwnerUPN":"ann@contoso.example","LogonType":0,"SessionId":"S1","AppId":"00000002-0000-0ff1-ce00-000000000000","ClientAppId":"00000002-0000-0ff1-ce00-000000000000","ClientInfoString":"Client=OWA;Action=ViaProxy","Workload":"Exchange","ResultStatus":"Succeeded","OperationProperties":[{"Name":"MailAccessType","Value":"Bind"}],"Folders":[{"Path":"\\Inbox","FolderItems":[{"InternetMessageId":"<m1@contoso.example>"}]}]}"#,
    "\n",
);

/// The sign-in that issued session S1, at 10:10 from the address of the read.
const LATE_SIGN_IN: &str = r#"{"id":"si-ann-1","createdDateTime":"2023-06-12T10:10:00Z","userPrincipalName":"ann@contoso.example","tenantId":"7b0a1c2d-0000-4000-8000-00000000c0de","appId":"00000002-0000-0ff1-ce00-000000000000","ipAddress":"203.0.113.9","sessionId":"S1","isInteractive":true,"status":{"errorCode":0}}"#;

fn events(name: &str, text: &str) -> Vec<Event> {
    let (events, stats) = stormwatch_read::read_bytes(
        name,
        text.as_bytes().to_vec(),
        &stormwatch_read::ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(stats.skipped(), 0, "{:?}", stats.errors);
    events
}

fn at(hhmm: &str) -> Timestamp {
    Timestamp::parse(&format!("2023-06-12T{hhmm}:00Z")).unwrap()
}

fn detector() -> Detector {
    detector_with(DetectorConfig::default())
}

fn detector_with(config: DetectorConfig) -> Detector {
    Detector::new(bundled_engine(), Some(analytics()), config).unwrap()
}

/// The alerts raised among `changes` by the rules `rule` picks.
fn raised(changes: &[Change], rule: impl Fn(&str) -> bool) -> Vec<&Alert> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Raise(a) if rule(&a.detection.rule_id) => Some(a),
            _ => None,
        })
        .collect()
}

fn sigma(rule: &str) -> bool {
    !rule.starts_with("builtin/")
}

fn no_sign_in(changes: &[Change]) -> Vec<&Change> {
    changes
        .iter()
        .filter(|c| match c {
            Change::Raise(a) => a.detection.rule_id == NO_SIGN_IN,
            Change::Withdraw(w) => w.rule_id == NO_SIGN_IN,
            Change::Incident(_) | Change::IncidentGone { .. } => false,
        })
        .collect()
}

#[test]
fn without_the_sign_in_the_read_is_raised_once_the_grace_has_passed() {
    let mut d = detector();
    let mut changes = Vec::new();
    for ev in events("background.ndjson", BACKGROUND) {
        d.push(&ev, &mut changes).unwrap();
    }
    // 12:00: hour 10 ends 11:00, the 2-hour grace runs to 13:00: not decided yet.
    d.advance(at("12:00"), &mut changes).unwrap();
    assert!(no_sign_in(&changes).is_empty());
    d.advance(at("13:30"), &mut changes).unwrap();
    let raised = no_sign_in(&changes);
    assert_eq!(raised.len(), 1, "{changes:#?}");
    let Change::Raise(a) = raised[0] else {
        panic!("not a raise")
    };
    assert!(a.detection.level >= stormwatch_core::Level::High);
    assert!(!a.late);
}

#[test]
fn a_sign_in_within_the_grace_keeps_the_detection_from_being_raised() {
    let mut d = detector();
    let mut changes = Vec::new();
    for ev in events("background.ndjson", BACKGROUND) {
        d.push(&ev, &mut changes).unwrap();
    }
    d.advance(at("12:30"), &mut changes).unwrap();
    // The sign-in log delivers the 10:10 sign-in late, but within the grace.
    for ev in events("late-sign-in.json", LATE_SIGN_IN) {
        d.push(&ev, &mut changes).unwrap();
    }
    d.advance(at("13:30"), &mut changes).unwrap();
    d.advance(at("18:00"), &mut changes).unwrap();
    d.flush(&mut changes).unwrap();
    assert!(no_sign_in(&changes).is_empty(), "{changes:#?}");
}

#[test]
fn a_sign_in_after_the_grace_withdraws_the_detection() {
    let mut d = detector();
    let mut changes = Vec::new();
    for ev in events("background.ndjson", BACKGROUND) {
        d.push(&ev, &mut changes).unwrap();
    }
    d.advance(at("13:30"), &mut changes).unwrap();
    let raised: Vec<String> = no_sign_in(&changes)
        .iter()
        .map(|c| c.id().to_owned())
        .collect();
    assert_eq!(raised.len(), 1);
    changes.clear();
    // After the grace: the detection stands until the analytics decide again.
    for ev in events("late-sign-in.json", LATE_SIGN_IN) {
        d.push(&ev, &mut changes).unwrap();
    }
    d.advance(at("14:30"), &mut changes).unwrap();
    let after = no_sign_in(&changes);
    assert_eq!(after.len(), 1, "{changes:#?}");
    match after[0] {
        Change::Withdraw(w) => {
            assert_eq!(w.id, raised[0]);
            assert!(w.reason.contains("sign-in"));
        }
        other => panic!("not a withdrawal: {other:?}"),
    }
    // Nothing more: finishing does not raise it again.
    changes.clear();
    d.finish(&mut changes).unwrap();
    assert!(no_sign_in(&changes).is_empty(), "{changes:#?}");
}

#[test]
fn records_beyond_the_lateness_bound_are_processed_and_marked_late() {
    let rule = "title: Mail read\nid: 4f1c2a6e-0000-4000-8000-0000000000aa\nlogsource: {product: m365, service: exchange}\ndetection:\n    sel:\n        Operation: MailItemsAccessed\n    condition: sel\nlevel: low\n";
    let (engine, errors) = stormwatch_sigma::Engine::from_sources(
        &[("read.yml".into(), rule.into())],
        &stormwatch_sigma::EngineOptions {
            ignore_logsource: true,
            ..stormwatch_sigma::EngineOptions::default()
        },
    )
    .unwrap();
    assert!(errors.is_empty());
    let mut d = Detector::new(engine, Some(analytics()), DetectorConfig::default()).unwrap();
    let mut changes = Vec::new();
    let evs = events("background.ndjson", BACKGROUND);
    // Only the sign-ins first; the watermark moves a day on (lateness is 12 hours).
    for ev in evs.iter().filter(|e| e.is_sign_in()) {
        d.push(ev, &mut changes).unwrap();
    }
    d.advance(
        Timestamp::parse("2023-06-13T12:00:00Z").unwrap(),
        &mut changes,
    )
    .unwrap();
    changes.clear();
    // The read of 10:15 the day before arrives now: 25 hours behind the watermark.
    let late: Vec<&Event> = evs.iter().filter(|e| !e.is_sign_in()).collect();
    for ev in &late {
        d.push(ev, &mut changes).unwrap();
    }
    // Single-record rules raise it at once, marked late.
    let singles = raised(&changes, sigma);
    assert_eq!(singles.len(), 1, "{changes:#?}");
    assert!(singles.iter().all(|a| a.late));
    // The analytics decide on it at their next decision, marked late too.
    d.advance(
        Timestamp::parse("2023-06-13T13:00:00Z").unwrap(),
        &mut changes,
    )
    .unwrap();
    let analytic = raised(&changes, |r| r == NO_SIGN_IN);
    assert_eq!(analytic.len(), 1, "{changes:#?}");
    assert!(analytic[0].late);
}

#[test]
fn late_records_are_decided_on_while_the_watermark_stands_still() {
    let mut d = detector();
    let mut changes = Vec::new();
    let evs = events("background.ndjson", BACKGROUND);
    for ev in evs.iter().filter(|e| e.is_sign_in()) {
        d.push(ev, &mut changes).unwrap();
    }
    let w = Timestamp::parse("2023-06-13T12:00:00Z").unwrap();
    d.advance(w, &mut changes).unwrap();
    changes.clear();
    // The read of the day before arrives; no newer record comes after it.
    for ev in evs.iter().filter(|e| !e.is_sign_in()) {
        d.push(ev, &mut changes).unwrap();
    }
    d.advance(w, &mut changes).unwrap();
    let analytic = raised(&changes, |r| r == NO_SIGN_IN);
    assert_eq!(analytic.len(), 1, "{changes:#?}");
    assert!(analytic[0].late);
    // Nothing more to do at the same watermark: nothing is raised twice.
    changes.clear();
    d.advance(w, &mut changes).unwrap();
    assert!(no_sign_in(&changes).is_empty(), "{changes:#?}");
}

#[test]
fn a_backfill_older_than_the_horizon_does_not_stay_in_the_state() {
    backfill(false);
}

#[test]
fn with_decisions_in_the_background_a_backfill_does_not_stay_either() {
    backfill(true);
}

fn backfill(background_decisions: bool) {
    let events = crate::util::generated_events(11, 20, 2);
    let newest = events.iter().filter_map(|e| e.time).max().unwrap();
    let mut d = detector_with(DetectorConfig {
        background_decisions,
        ..DetectorConfig::default()
    });
    let mut changes = Vec::new();
    // The watermark stands 60 days after the generated month (a live record of today),
    // and state older than the horizon was aged out once.
    let w = newest.add_seconds(60 * 86_400);
    d.advance(w, &mut changes).unwrap();
    d.settle(&mut changes).unwrap();
    let empty = d.state_size().unwrap();
    // Then the month is pushed (an export of history), and nothing newer comes.
    changes.clear();
    for ev in &events {
        d.push(ev, &mut changes).unwrap();
    }
    let held = d.state_size().unwrap();
    assert!(
        held.analytics_bytes - held.baseline_bytes
            > 4 * (empty.analytics_bytes - empty.baseline_bytes),
        "{empty:?} {held:?}"
    );
    // Its single-record detections were raised, marked late.
    let rules = raised(&changes, sigma);
    assert!(!rules.is_empty());
    assert!(rules.iter().all(|a| a.late));
    // At the same watermark, what it left in the state is folded into the baselines and
    // the correlations' windows are closed.
    d.advance(w, &mut changes).unwrap();
    d.settle(&mut changes).unwrap();
    let after = d.state_size().unwrap();
    assert!(
        after.analytics_bytes - after.baseline_bytes
            <= empty.analytics_bytes - empty.baseline_bytes + 4096,
        "{empty:?} {held:?} {after:?}"
    );
    assert!(after.baseline_bytes > empty.baseline_bytes, "{after:?}");
    assert_eq!(after.correlation_matches, 0, "{after:?}");
}
