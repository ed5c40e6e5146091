#![no_main]
//! Client address parsing and PowerShell `@{…}` strings: never panic; a parsed address prints
//! and parses back; every pair comes from the text.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Some(ip) = stormwatch_read::parse_client_ip(s) {
        assert_eq!(stormwatch_read::parse_client_ip(&ip.to_string()), Some(ip));
    }
    if let Some(pairs) = stormwatch_read::powershell_pairs(s) {
        for (k, v) in pairs {
            assert!(s.contains(k) && s.contains(v));
        }
    }
});
