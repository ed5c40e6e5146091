//! Invariants every reader must keep, whatever the input.

use stormwatch_read::{InputFormat, Limits, ReadOptions, read_bytes};

/// Read `data` with `format` and small limits, then check the invariants:
/// - reading never fails (bad input is counted, not fatal) and never panics;
/// - events read = records − filtered; every record is either read or skipped;
/// - every error is located in this input, with a reason, and errors are capped;
/// - every event's location is in this input, with a line ≥ 1, in non-decreasing order
///   (input order, then record order).
pub fn check(data: &[u8], format: InputFormat) {
    let opts = ReadOptions {
        format: Some(format),
        threads: 1,
        limits: Limits {
            max_record_bytes: 64 * 1024,
            max_depth: 32,
            max_fields: 256,
            ratio_grace_bytes: 1024 * 1024,
            max_decompression_ratio: 200,
            max_decompressed_bytes: 16 * 1024 * 1024,
        },
        ..ReadOptions::default()
    };
    let (events, stats) = read_bytes("fuzz", data.to_vec(), &opts).expect("reading never fails");
    assert_eq!(stats.files.len(), 1);
    let f = &stats.files[0];
    assert_eq!(events.len() as u64, f.records - f.filtered);
    assert!(stats.errors.len() <= stormwatch_core::InputStats::MAX_ERRORS);
    assert!(stats.errors.len() as u64 >= f.skipped.min(stormwatch_core::InputStats::MAX_ERRORS as u64));
    for e in &stats.errors {
        assert_eq!(&*e.loc.file, "fuzz");
        assert!(!e.reason.is_empty());
    }
    let mut last = 0;
    for ev in &events {
        assert_eq!(&*ev.loc.file, "fuzz");
        assert!(ev.loc.line >= 1);
        // Array element indices restart per envelope, so order is only checked for NDJSON.
        if format == InputFormat::Ndjson {
            assert!(ev.loc.line >= last, "events out of order");
            last = ev.loc.line;
        }
        if let (Some(f0), Some(t)) = (f.first, ev.time) {
            assert!(t >= f0);
        }
    }
}
