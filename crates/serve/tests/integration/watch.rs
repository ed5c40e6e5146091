//! Watched folders: each file read once from a durable position; growing files followed;
//! rotation and truncation; compressed and whole files read once complete.

use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::util::{Server, ual};

fn config(dir: &Path) -> String {
    format!(
        "[[watch]]\npath = \"{}\"\nsource = \"exports\"\npoll_interval = \"100ms\"\nsettle = \"300ms\"\n",
        dir.display()
    )
}

fn append(p: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn records(s: &Server) -> u64 {
    let v = s.get("/api/v1/sources").json();
    v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "exports")
        .map_or(0, |x| x["records"].as_u64().unwrap())
}

/// `(record id, file, line)` of every Sigma alert.
fn located(s: &Server) -> Vec<(String, String, u64)> {
    let mut v: Vec<(String, String, u64)> = s
        .alerts("")
        .iter()
        .filter(|a| a["source"] == "sigma")
        .map(|a| {
            let e: &Value = &a["events"][0];
            (
                e["record_id"].as_str().unwrap().to_owned(),
                e["file"].as_str().unwrap().to_owned(),
                e["line"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn growing_rotated_truncated_and_compressed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("in");
    std::fs::create_dir_all(&folder).unwrap();
    let log = folder.join("audit.ndjson");
    append(
        &log,
        &format!(
            "{}\n{}\n",
            ual("w-1", 1, "MailItemsAccessed"),
            ual("w-2", 2, "MailItemsAccessed")
        ),
    );
    let s = Server::start(&config(&folder));
    s.wait_for("the first lines", |s| records(s) == 2);
    // A line being written is not read until it is whole.
    let third = ual("w-3", 3, "MailItemsAccessed");
    let (head, tail) = third.split_at(40);
    append(&log, head);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(records(&s), 2);
    append(
        &log,
        &format!("{tail}\n\n{{bad\n{}\n", ual("w-4", 4, "MailItemsAccessed")),
    );
    s.wait_for("the grown lines", |s| records(s) == 4);
    // Rotation: the file is renamed (and read to its end under its new name), a new one starts.
    let rotated = folder.join("audit.ndjson.1");
    std::fs::rename(&log, &rotated).unwrap();
    append(
        &rotated,
        &format!("{}\n", ual("w-5", 5, "MailItemsAccessed")),
    );
    append(&log, &format!("{}\n", ual("w-6", 6, "MailItemsAccessed")));
    s.wait_for("the rotated and new files", |s| records(s) == 6);
    // Truncation in place (copytruncate): read again from the start.
    std::fs::write(&log, format!("{}\n", ual("w-7", 7, "MailItemsAccessed"))).unwrap();
    s.wait_for("the truncated file", |s| records(s) == 7);
    // A compressed file, written slowly: read once, whole, after it settles.
    let gz_path = folder.join("export.ndjson.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 8..12 {
        enc.write_all(format!("{}\n", ual(&format!("w-{i}"), i, "MailItemsAccessed")).as_bytes())
            .unwrap();
    }
    std::fs::write(&gz_path, enc.finish().unwrap()).unwrap();
    // A JSON array file (not line-delimited): read whole once settled.
    std::fs::write(
        folder.join("page.json"),
        format!(
            "[{},\n{}]",
            ual("w-12", 12, "MailItemsAccessed"),
            ual("w-13", 13, "MailItemsAccessed")
        ),
    )
    .unwrap();
    s.wait_for("the compressed and array files", |s| records(s) == 13);
    s.flush();
    let got = located(&s);
    let log_name = log.display().to_string();
    let rot_name = rotated.display().to_string();
    let want_lines = [
        ("w-1", &log_name, 1),
        ("w-2", &log_name, 2),
        ("w-3", &log_name, 3),
        ("w-4", &log_name, 6),
        ("w-5", &rot_name, 7),
    ];
    for (id, file, line) in want_lines {
        assert!(
            got.contains(&(id.to_owned(), file.clone(), line)),
            "{id} {file}:{line} in {got:#?}"
        );
    }
    assert_eq!(got.len(), 13, "{got:#?}");
    // The bad line is a located error of the source.
    let v = s.get("/api/v1/sources").json();
    let src = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "exports")
        .unwrap();
    assert_eq!(src["skipped"], 1);
    assert_eq!(src["errors"][0]["file"], log_name.as_str());
    assert_eq!(src["errors"][0]["line"], 5);
    // After a restart nothing is read twice.
    let s = s.restart(&config(&folder));
    std::thread::sleep(std::time::Duration::from_millis(800));
    append(&log, &format!("{}\n", ual("w-14", 14, "MailItemsAccessed")));
    s.wait_for("the line added after the restart", |s| records(s) == 14);
    s.flush();
    assert_eq!(located(&s).len(), 14);
    let v = s.get("/api/v1/sources").json();
    let src = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "exports")
        .unwrap();
    assert_eq!(src["duplicates"], 0, "{src}");
}
