//! A snapshot is read back from disk: bytes that are not one, or are damaged, are refused
//! with an error and never panic; a good one restores into a detector with analytics or one
//! without.

use stormwatch_detect::{DetectError, Detector, DetectorConfig};

use crate::util::{analytics, bundled_engine, generated_events};

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
