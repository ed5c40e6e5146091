//! Same seed, same bytes; different seeds, different data.

use stormwatch_gen::{Compression, Format, Scenario, ScenarioOptions};

use crate::common::files;

fn all_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in files(&d) {
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn same_seed_same_bytes_in_every_format_and_compression() {
    let opts = ScenarioOptions {
        seed: 5,
        staff_per_tenant: 3,
        days: 32,
    };
    for c in [Compression::None, Compression::Gz, Compression::Zst] {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let formats: &[Format] = if c == Compression::None {
            &Format::ALL
        } else {
            &[
                Format::Ndjson,
                Format::Csv,
                Format::JsonArray,
                Format::SigninsAzureMonitor,
            ]
        };
        Scenario::generate(&opts)
            .write(a.path(), formats, c)
            .unwrap();
        Scenario::generate(&opts)
            .write(b.path(), formats, c)
            .unwrap();
        let (x, y) = (all_bytes(a.path()), all_bytes(b.path()));
        assert!(x.len() > 5);
        assert_eq!(x, y, "{c:?}");
        if c != Compression::None {
            assert!(
                x.iter()
                    .filter(|(n, _)| !n.starts_with("truth"))
                    .all(|(n, _)| n.ends_with(c.suffix()))
            );
        }
    }
}

#[test]
fn compressed_files_decompress_to_the_plain_bytes() {
    let opts = ScenarioOptions {
        seed: 6,
        staff_per_tenant: 3,
        days: 32,
    };
    let s = Scenario::generate(&opts);
    let plain = tempfile::tempdir().unwrap();
    let gz = tempfile::tempdir().unwrap();
    let zst = tempfile::tempdir().unwrap();
    s.write(plain.path(), &[Format::Ndjson], Compression::None)
        .unwrap();
    s.write(gz.path(), &[Format::Ndjson], Compression::Gz)
        .unwrap();
    s.write(zst.path(), &[Format::Ndjson], Compression::Zst)
        .unwrap();
    let want = std::fs::read(plain.path().join("ndjson/ual.ndjson")).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(gz.path().join("ndjson/ual.ndjson.gz")).unwrap(),
        ),
        &mut got,
    )
    .unwrap();
    assert_eq!(got, want);
    let z =
        zstd::decode_all(std::fs::File::open(zst.path().join("ndjson/ual.ndjson.zst")).unwrap())
            .unwrap();
    assert_eq!(z, want);
}

#[test]
fn different_seeds_differ() {
    let a = Scenario::generate(&ScenarioOptions {
        seed: 1,
        staff_per_tenant: 3,
        days: 32,
    });
    let b = Scenario::generate(&ScenarioOptions {
        seed: 2,
        staff_per_tenant: 3,
        days: 32,
    });
    assert_ne!(a.truth().actor_record_ids, b.truth().actor_record_ids);
    assert_ne!(
        a.truth().tenants[0].tenant_id,
        b.truth().tenants[0].tenant_id
    );
    assert_ne!(a.truth().actor.sessions, b.truth().actor.sessions);
    let da = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    a.write(da.path(), &[Format::Ndjson], Compression::None)
        .unwrap();
    b.write(db.path(), &[Format::Ndjson], Compression::None)
        .unwrap();
    assert_ne!(
        std::fs::read(da.path().join("ndjson/ual.ndjson")).unwrap(),
        std::fs::read(db.path().join("ndjson/ual.ndjson")).unwrap()
    );
}

/// The committed example is exactly what `stormwatch-gen example` writes.
#[test]
fn committed_example_is_reproducible() {
    let committed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/storm-0558");
    let out = tempfile::tempdir().unwrap();
    let fresh_dir = out.path().join("storm-0558");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_stormwatch-gen"))
        .args(["example", "--out"])
        .arg(&fresh_dir)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let fresh = all_bytes(&fresh_dir);
    assert!(fresh.len() >= 4);
    let truth = stormwatch_gen::example_truth_path(&committed);
    assert_eq!(
        std::fs::read(&truth).unwrap_or_default(),
        std::fs::read(stormwatch_gen::example_truth_path(&fresh_dir)).unwrap(),
        "{} differs from what the generator writes: regenerate the example",
        truth.display()
    );
    for (name, bytes) in &fresh {
        let old = std::fs::read(committed.join(name)).unwrap_or_default();
        assert!(
            old == *bytes,
            "{name} differs from the committed example: regenerate it"
        );
    }
}
