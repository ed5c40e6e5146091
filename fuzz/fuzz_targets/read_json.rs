#![no_main]
//! The json reader on arbitrary bytes: never panics, counts add up, errors are located.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::check(data, stormwatch_read::InputFormat::Json);
});
