//! Volume mode: exact counts, the planted intrusion inside, and bounded memory.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use stormwatch_gen::volume::{self, SigninsMode, VolumeOptions};
use stormwatch_gen::{Compression, Format};

#[test]
fn ndjson_volume_has_exact_count_and_the_intrusion() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ual.ndjson");
    let opts = VolumeOptions {
        seed: 3,
        records: 20_000,
        out: out.clone(),
        format: Format::Ndjson,
        compression: Compression::None,
        signins: SigninsMode::Separate,
        days: volume::DEFAULT_DAYS,
    };
    let s = volume::run(&opts).unwrap();
    assert_eq!(s.records, 20_000);
    let text = std::fs::read_to_string(&out).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 20_000);
    let ids: BTreeSet<&str> = recs.iter().map(|r| r["Id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), recs.len(), "ids unique");
    for a in &s.truth.actor_record_ids {
        assert!(ids.contains(a.as_str()), "actor record {a} planted");
    }
    let mia = recs.iter().filter(|r| r["RecordType"] == 50).count();
    assert!(
        mia * 2 > recs.len(),
        "MailItemsAccessed is the largest share: {mia}"
    );
    let signins: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("ual.signins.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        signins["records"].as_array().unwrap().len() as u64,
        s.signins
    );
    // Same seed, same bytes.
    let again = dir.path().join("again.ndjson");
    volume::run(&VolumeOptions {
        out: again.clone(),
        signins: SigninsMode::None,
        ..opts
    })
    .unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), text.as_bytes());
}

#[test]
fn csv_volume_is_newest_first_and_array_volume_parses() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.csv");
    let s = volume::run(&VolumeOptions {
        seed: 4,
        records: 5_000,
        out: out.clone(),
        format: Format::Csv,
        compression: Compression::None,
        signins: SigninsMode::None,
        days: stormwatch_gen::volume::DEFAULT_DAYS,
    })
    .unwrap();
    assert_eq!(s.records, 5_000);
    let mut rdr = csv::Reader::from_path(&out).unwrap();
    let dates: Vec<String> = rdr.records().map(|r| r.unwrap()[1].to_string()).collect();
    assert_eq!(dates.len(), 5_000);
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let arr = dir.path().join("blob.json");
    volume::run(&VolumeOptions {
        seed: 4,
        records: 3_000,
        out: arr.clone(),
        format: Format::JsonArray,
        compression: Compression::Gz,
        signins: SigninsMode::None,
        days: stormwatch_gen::volume::DEFAULT_DAYS,
    })
    .unwrap();
    let gz = std::fs::File::open(dir.path().join("blob.json.gz")).unwrap();
    let v: Value = serde_json::from_reader(flate2::read::GzDecoder::new(gz)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3_000);
}

/// The binary streams: peak memory stays small while hundreds of MB are written.
#[test]
fn volume_memory_is_bounded() {
    let out = Command::new(env!("CARGO_BIN_EXE_stormwatch-gen"))
        .args([
            "volume",
            "--records",
            "60000",
            "--out",
            "/dev/null",
            "--signins",
            "none",
            "--seed",
            "9",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("60000 UAL records"), "{err}");
    let kb: u64 = err
        .split("peak RSS ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        kb < 64 * 1024,
        "peak RSS {kb} kB for 60,000 records (~80 MB of output)"
    );
}

/// `--days` (in the usage) is taken by the binary, and the records keep within that span.
#[test]
fn volume_days_option_sets_the_span() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ual.ndjson");
    let run = Command::new(env!("CARGO_BIN_EXE_stormwatch-gen"))
        .args([
            "volume",
            "--records",
            "2000",
            "--signins",
            "none",
            "--days",
            "3",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let days: BTreeSet<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["CreationTime"].as_str().unwrap()[..10].to_owned()
        })
        .collect();
    assert!(
        !days.is_empty() && days.len() <= 4,
        "records over {} days: {days:?}",
        days.len()
    );
}
