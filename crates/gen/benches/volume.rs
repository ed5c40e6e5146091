//! Volume generation speed per format (writes to a temporary file, then deletes it).
//! Run: `cargo bench -p stormwatch-gen`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use stormwatch_gen::volume::{self, SigninsMode, VolumeOptions};
use stormwatch_gen::{Compression, Format};

fn main() {
    let records: u64 = std::env::var("STORMWATCH_GEN_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = std::env::temp_dir().join(format!("stormwatch-gen-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (Format::Ndjson, Compression::None),
        (Format::JsonArray, Compression::None),
        (Format::Csv, Compression::None),
        (Format::Ndjson, Compression::Gz),
        (Format::Ndjson, Compression::Zst),
    ];
    for (format, compression) in cases {
        let out = dir.join(format!("bench.{}", format.name()));
        let started = Instant::now();
        let s = volume::run(&VolumeOptions {
            seed: 1,
            records,
            out,
            format,
            compression,
            signins: SigninsMode::None,
            days: stormwatch_gen::volume::DEFAULT_DAYS,
        })
        .unwrap();
        let secs = started.elapsed().as_secs_f64();
        let bytes: u64 = s
            .files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        println!(
            "{:<11} {:<5} {records} records, {:>8.1} MB written in {secs:.2}s: {:>7.0} records/s, {:>6.1} MB/s",
            format.name(),
            compression.suffix().trim_start_matches('.'),
            bytes as f64 / 1e6,
            records as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
        for f in &s.files {
            let _ = std::fs::remove_file(f);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
