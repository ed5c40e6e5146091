#![no_main]
//! Timestamp parsing: never panics; whatever parses prints in RFC 3339 and parses back to the
//! same instant.

use libfuzzer_sys::fuzz_target;
use stormwatch_core::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(t) = Timestamp::parse(s) {
        let printed = t.to_string();
        assert!(printed.ends_with('Z'));
        assert_eq!(Timestamp::parse(&printed).unwrap(), t, "{s:?} -> {printed}");
        assert_eq!(printed.parse::<Timestamp>().unwrap(), t);
    }
});
