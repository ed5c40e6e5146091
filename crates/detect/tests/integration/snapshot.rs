//! A snapshot is read back from disk: bytes that are not one, or are damaged, are refused
//! with an error and never panic; a good one restores into a detector with analytics or one
//! without.

use stormwatch_detect::{DetectError, Detector, DetectorConfig};

use crate::util::{Store, analytics, apply, bundled_engine, generated_events};

fn taken() -> (Vec<u8>, stormwatch_sigma::Engine) {
    let engine = bundled_engine();
    let events = generated_events(5, 6, 1);
    let mut d =
        Detector::new(engine.clone(), Some(analytics()), DetectorConfig::default()).unwrap();
    let mut changes = Vec::new();
    for e in &events {
        d.push(e, &mut changes).unwrap();
    }
    (d.snapshot().unwrap(), engine)
}

fn refused(engine: &stormwatch_sigma::Engine, bytes: &[u8]) -> String {
    let mut d =
        Detector::new(engine.clone(), Some(analytics()), DetectorConfig::default()).unwrap();
    match d.restore(bytes) {
        Err(DetectError::Snapshot { reason }) => reason,
        Err(other) => other.to_string(),
        Ok(r) => panic!("damaged snapshot restored: {r:?}"),
    }
}

#[test]
fn damaged_snapshots_are_refused_with_a_reason() {
    let (good, engine) = taken();
    assert!(good.len() > 64);
    assert!(refused(&engine, b"").contains("too short"));
    assert!(refused(&engine, b"SWCR\x01\0\0\0junk").contains("not a detector snapshot"));
    let mut other_version = good.clone();
    other_version[4] = 99;
    assert!(refused(&engine, &other_version).contains("format version 99"));
    // Cut anywhere: refused.
    for cut in [9, good.len() / 3, good.len() / 2, good.len() - 1] {
        let r = refused(&engine, &good[..cut]);
        assert!(!r.is_empty(), "cut at {cut}");
    }
    // A flipped byte in the compressed body: the frame's checksum or the decoder refuses it.
    for at in [12, good.len() / 2, good.len() - 5] {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        let mut d =
            Detector::new(engine.clone(), Some(analytics()), DetectorConfig::default()).unwrap();
        assert!(d.restore(&bad).is_err(), "flipped byte at {at} accepted");
    }
}

#[test]
fn a_snapshot_restores_with_or_without_analytics() {
    let (good, engine) = taken();
    let mut with =
        Detector::new(engine.clone(), Some(analytics()), DetectorConfig::default()).unwrap();
    let report = with.restore(&good).unwrap();
    assert!(report.analytics_restored);
    assert!(report.correlations_dropped == 0);
    // Taken again from the restored detector: the same bytes.
    assert_eq!(with.snapshot().unwrap(), good);
    let mut without = Detector::new(engine, None, DetectorConfig::default()).unwrap();
    let report = without.restore(&good).unwrap();
    assert!(!report.analytics_restored);
}

/// A snapshot begun at one point and finished after the detector has gone on (more records,
/// the watermark moved, decisions made) is the state of that point: the bytes of a detector
/// given the same records and stopped there, and it restores into one that goes on as that
/// one does.
#[test]
fn a_snapshot_begun_holds_the_state_it_was_begun_at() {
    let engine = bundled_engine();
    let events = generated_events(7, 8, 1);
    let (first, rest) = events.split_at(events.len() / 2);
    // A horizon longer than the records: what is aged out depends on when the analytics
    // decide, and the detector that goes on decides at other moments than the restored one.
    let config = DetectorConfig {
        horizon: std::time::Duration::from_secs(365 * 24 * 3600),
        ..DetectorConfig::default()
    };
    let fresh = || Detector::new(engine.clone(), Some(analytics()), config.clone()).unwrap();
    let (mut going, mut stopped) = (fresh(), fresh());
    let mut changes = Vec::new();
    for e in first {
        going.push(e, &mut changes).unwrap();
        stopped.push(e, &mut changes).unwrap();
    }
    let pending = going.begin_snapshot().unwrap();
    let mut after = Vec::new();
    let mut newest = None;
    for e in rest {
        newest = newest.max(e.time);
        going.push(e, &mut after).unwrap();
        if let Some(w) = newest {
            going.advance(w, &mut after).unwrap();
        }
    }
    // Finished on another thread, as a service does.
    let bytes = std::thread::spawn(move || pending.finish().unwrap())
        .join()
        .unwrap();
    let at_the_point = stopped.snapshot().unwrap();
    assert_eq!(bytes, at_the_point);
    // Restored, it goes on as the detector it was taken from.
    let mut restored = fresh();
    restored.restore(&bytes).unwrap();
    let mut again = Vec::new();
    let mut newest = None;
    for e in rest {
        newest = newest.max(e.time);
        restored.push(e, &mut again).unwrap();
        if let Some(w) = newest {
            restored.advance(w, &mut again).unwrap();
        }
    }
    let (mut a, mut b) = (Store::new(), Store::new());
    apply(&mut a, &mut after);
    apply(&mut b, &mut again);
    going.finish(&mut after).unwrap();
    restored.finish(&mut again).unwrap();
    apply(&mut a, &mut after);
    apply(&mut b, &mut again);
    assert!(!a.is_empty());
    assert_eq!(a, b);
}
