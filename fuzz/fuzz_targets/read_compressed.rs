#![no_main]
//! Compressed input: the fuzz bytes are compressed with gzip or zstd (first byte chooses), and
//! the compressed stream is cut or corrupted (second byte), so decompression and framing meet
//! truncated and broken streams. Whatever arrives, the invariants hold and the uncorrupted,
//! uncut stream reads exactly like the plain bytes.

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use stormwatch_read::{InputFormat, ReadOptions, read_bytes};

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Some((&damage, payload)) = rest.split_first() else { return };
    let packed = if mode & 1 == 0 {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(payload).unwrap();
        enc.finish().unwrap()
    } else {
        zstd::encode_all(payload, 1).unwrap()
    };
    if damage == 0 {
        let opts = ReadOptions { threads: 1, ..ReadOptions::default() };
        let (a, sa) = read_bytes("fuzz", packed.clone(), &opts).unwrap();
        let (b, sb) = read_bytes("fuzz", payload.to_vec(), &opts).unwrap();
        // Identical unless the payload itself looks compressed.
        if !(payload.starts_with(&[0x1f, 0x8b]) || payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])) {
            assert_eq!(a.len(), b.len());
            assert_eq!(sa.files[0].records, sb.files[0].records);
            assert_eq!(sa.files[0].skipped, sb.files[0].skipped);
        }
    }
    let mut broken = packed;
    let at = usize::from(damage) * broken.len() / 256;
    if damage & 1 == 1 {
        broken.truncate(at.max(4));
    } else if let Some(b) = broken.get_mut(at) {
        *b ^= 0x5a;
    }
    common::check(&broken, InputFormat::Auto);
});
