//! Hostile and broken input: every problem is a located, counted error; the records around it
//! are read.

use std::io::Write;

use stormwatch_read::{InputFormat, Limits, ReadOptions, read_bytes};

use crate::util::{read_as, read_text};

fn rec(id: u32) -> String {
    format!(
        r#"{{"CreationTime":"2023-06-12T03:{:02}:07","Id":"id-{id}","Operation":"MailItemsAccessed","RecordType":50,"UserId":"u{id}@x.example","OrganizationId":"t1","Workload":"Exchange"}}"#,
        id % 60
    )
}

fn ids(ev: &[stormwatch_core::Event]) -> Vec<String> {
    ev.iter().filter_map(|e| e.loc.record_id.clone()).collect()
}

#[test]
fn ndjson_bad_lines_are_located_and_skipped() {
    let mut text = Vec::new();
    text.extend_from_slice(rec(1).as_bytes());
    text.extend_from_slice(b"\n{\"CreationTime\": oops}\n");
    text.extend_from_slice(b"{\"CreationTime\":\"2023-06-12T03:14:07\",\"UserId\":\"\xff\xfe\"}\n");
    text.extend_from_slice(b"{\"CreationTime\":\"2023-06-12T03:14:07\",\"UserId\":\"a\0b\"}\n");
    text.extend_from_slice(b"{\"CreationTime\":12345,\"Operation\":\"x\",\"RecordType\":1}\n");
    text.extend_from_slice(
        b"{\"CreationTime\":\"yesterday\",\"Operation\":\"x\",\"RecordType\":1}\n",
    );
    text.extend_from_slice(b"42\n\n   \n");
    text.extend_from_slice(rec(2).as_bytes());
    let (ev, st) = read_text("bad.ndjson", text);
    assert_eq!(ids(&ev), vec!["id-1", "id-2"]);
    assert_eq!(st.skipped(), 6);
    assert_eq!(st.files[0].records, 2);
    let lines: Vec<u64> = st.errors.iter().map(|e| e.loc.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6, 7]);
    assert!(
        st.errors[0].reason.starts_with("invalid JSON at line 2"),
        "{}",
        st.errors[0]
    );
    assert!(st.errors.iter().all(|e| &*e.loc.file == "bad.ndjson"));
    assert_eq!(st.errors[3].field.as_deref(), Some("CreationTime"));
    assert!(st.errors[3].reason.contains("expected a timestamp string"));
    assert_eq!(st.errors[4].field.as_deref(), Some("CreationTime"));
    assert!(st.errors[5].reason.contains("not a JSON object"));
    assert_eq!(ev[1].loc.line, 10);
}

#[test]
fn over_limit_lines_and_deep_nesting() {
    let limits = Limits {
        max_record_bytes: 1000,
        ..Limits::default()
    };
    let opts = ReadOptions {
        limits,
        ..ReadOptions::default()
    };
    let long = format!("{{\"a\":\"{}\"}}", "x".repeat(50_000));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let text = format!("{}\n{long}\n{}\n{deep}\n{}\n", rec(1), rec(2), rec(3));
    let (ev, st) = read_bytes("limits.ndjson", text.clone().into_bytes(), &opts).unwrap();
    assert_eq!(ids(&ev), vec!["id-1", "id-2", "id-3"]);
    assert_eq!(st.skipped(), 2);
    assert_eq!(st.errors[0].loc.line, 2);
    assert!(st.errors[0].reason.contains("longer than 1000 bytes"));
    assert_eq!(st.errors[1].loc.line, 4);

    // Deep nesting within the size limit, default limits.
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let (ev, st) = read_text("deep.ndjson", format!("{}\n{deep}\n{}\n", rec(1), rec(2)));
    assert_eq!(ids(&ev), vec!["id-1", "id-2"]);
    assert!(
        st.errors[0].reason.contains("nesting deeper than 128"),
        "{}",
        st.errors[0]
    );
    // And in a JSON array.
    let (ev, st) = read_text("deep.json", format!("[{},{deep},{}]", rec(1), rec(2)));
    assert_eq!(ids(&ev), vec!["id-1", "id-2"]);
    assert_eq!(st.errors[0].loc.line, 2);
}

#[test]
fn too_many_fields() {
    let opts = ReadOptions {
        limits: Limits {
            max_fields: 5,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    let (ev, st) = read_bytes(
        "f.ndjson",
        format!("{}\n{{\"a\":1}}\n", rec(1)).into_bytes(),
        &opts,
    )
    .unwrap();
    assert_eq!(ev.len(), 1);
    assert!(st.errors[0].reason.contains("more than the limit of 5"));
}

#[test]
fn json_array_cut_mid_element() {
    let text = format!("[\n{},\n{},\n{{\"CreationTime\":\"2023-", rec(1), rec(2));
    let (ev, st) = read_text("cut.json", text);
    assert_eq!(ids(&ev), vec!["id-1", "id-2"]);
    assert_eq!(st.skipped(), 1);
    assert_eq!(st.errors[0].loc.line, 3, "element index");
    assert!(st.errors[0].reason.contains("ends inside this record"));
}

#[test]
fn concatenated_pretty_objects_with_garbage_between() {
    let text = "{\n  \"Id\": \"a\"\n}\n@@@\n{\"Id\":\"b\"}\n".to_owned();
    let (ev, st) = read_text("concat.json", text);
    assert_eq!(ids(&ev), vec!["a", "b"]);
    assert_eq!(st.errors[0].loc.line, 4);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn many(n: u32) -> String {
    (1..=n).map(|i| rec(i) + "\n").collect()
}

#[test]
fn gzip_and_zstd_are_sniffed_and_truncation_is_located() {
    let text = many(2000);
    let gz = gzip(text.as_bytes());
    let (ev, st) = read_text("x.ndjson.gz", gz.clone());
    assert_eq!(ev.len(), 2000);
    assert_eq!(st.files[0].format, "ndjson+gzip");
    assert_eq!(st.files[0].bytes, gz.len() as u64);

    let cut = &gz[..gz.len() / 2];
    let (ev, st) = read_text("cut.ndjson.gz", cut.to_vec());
    assert!(ev.len() > 100 && ev.len() < 2000, "{}", ev.len());
    assert_eq!(st.skipped(), 1, "{:?}", st.errors);
    assert_eq!(st.errors[0].loc.line, ev.len() as u64 + 1);
    // Every record read is a whole, good one, in order.
    for (i, e) in ev.iter().enumerate() {
        assert_eq!(
            e.loc.record_id.as_deref(),
            Some(format!("id-{}", i + 1).as_str())
        );
    }

    let zst = zstd::encode_all(text.as_bytes(), 3).unwrap();
    let (ev, st) = read_text("x.ndjson.zst", zst.clone());
    assert_eq!(ev.len(), 2000);
    assert_eq!(st.files[0].format, "ndjson+zstd");
    let (ev, st) = read_text("cut.ndjson.zst", zst[..zst.len() * 2 / 3].to_vec());
    assert!(ev.len() < 2000);
    assert_eq!(st.skipped(), 1, "{:?}", st.errors);
    assert_eq!(
        st.files[0].records + st.files[0].skipped,
        ev.len() as u64 + 1
    );
}

/// Bad lines where the NDJSON framer cuts its 4 MiB batches: a line over the size limit that
/// spans a cut, invalid UTF-8 and a broken record just after it, a line longer than a whole
/// batch, good records split by the cuts, and a truncated last record. Each is a located error; every good record is read,
/// on its line; plain, gzip and zstd input (read in the decoders' own chunk sizes) give the
/// same events and errors.
#[test]
fn ndjson_errors_at_batch_cuts_are_located() {
    const MIB: usize = 1024 * 1024;
    let limits = Limits {
        max_record_bytes: MIB,
        ..Limits::default()
    };
    let opts = ReadOptions {
        limits,
        ..ReadOptions::default()
    };
    let mut text = Vec::new();
    let mut want = Vec::new();
    let mut line = 0u64;
    let mut id = 0u32;
    let mut good = |text: &mut Vec<u8>, line: &mut u64, until: usize| {
        while text.len() < until {
            id += 1;
            *line += 1;
            text.extend_from_slice(rec(id).as_bytes());
            text.push(b'\n');
            want.push((rec(id), *line));
        }
    };
    // Over the limit, from 3.5 MiB to 5.5 MiB: across the first cut.
    good(&mut text, &mut line, 7 * MIB / 2);
    line += 1;
    let long_line = line;
    text.extend_from_slice(format!("{{\"a\":\"{}\"}}\n", "x".repeat(2 * MIB)).as_bytes());
    line += 1;
    let bad_utf8 = line;
    text.extend_from_slice(
        b"{\"CreationTime\":\"2023-06-12T03:14:07\",\"UserId\":\"\xff\xfe\"}\r\n",
    );
    line += 1;
    let broken = line;
    text.extend_from_slice(b"{\"CreationTime\": oops}\n");
    // Longer than a whole batch, from 7 MiB to 13 MiB: dropped up to its end.
    good(&mut text, &mut line, 7 * MIB);
    line += 1;
    let longer_line = line;
    text.extend_from_slice(format!("{{\"a\":\"{}\"}}\n", "y".repeat(6 * MIB)).as_bytes());
    good(&mut text, &mut line, 17 * MIB);
    line += 1;
    let truncated = line;
    text.extend_from_slice(br#"{"CreationTime":"2023-06-12T03:14:07","Id":"cut"#);

    let check = |name: &str, bytes: Vec<u8>| {
        let (ev, st) = read_bytes(name, bytes, &opts).unwrap();
        let got: Vec<(String, u64)> = ev.iter().map(|e| (e.raw.clone(), e.loc.line)).collect();
        assert_eq!(got.len(), want.len(), "{name}");
        assert!(
            got == want,
            "{name}: records (their text) or their lines differ"
        );
        let errs: Vec<u64> = st.errors.iter().map(|e| e.loc.line).collect();
        assert_eq!(
            errs,
            vec![long_line, bad_utf8, broken, longer_line, truncated],
            "{name}"
        );
        assert!(
            st.errors[0].reason.contains("longer than 1048576 bytes"),
            "{name}"
        );
        assert!(st.errors[1].reason.starts_with("invalid JSON"), "{name}");
        assert!(st.errors[2].reason.starts_with("invalid JSON"), "{name}");
        assert!(
            st.errors[3].reason.contains("longer than 1048576 bytes"),
            "{name}"
        );
        assert!(st.errors[4].reason.starts_with("invalid JSON"), "{name}");
        assert_eq!(st.skipped(), 5, "{name}");
        (ev, st)
    };
    let (plain, plain_st) = check("cuts.ndjson", text.clone());
    let (gz, gz_st) = check("cuts.ndjson", gzip(&text));
    assert!(plain == gz);
    assert_eq!(plain_st.errors, gz_st.errors);
    let (zst, zst_st) = check("cuts.ndjson", zstd::encode_all(text.as_slice(), 1).unwrap());
    assert!(zst == plain);
    assert_eq!(zst_st.errors, plain_st.errors);
}

#[test]
fn decompression_bomb_is_stopped() {
    let zeros = vec![b'\n'; 50 * 1024 * 1024];
    let bomb = gzip(&zeros);
    let opts = ReadOptions {
        limits: Limits {
            ratio_grace_bytes: 1024 * 1024,
            max_decompression_ratio: 100,
            ..Limits::default()
        },
        ..ReadOptions::default()
    };
    let (ev, st) = read_bytes("bomb.gz", bomb, &opts).unwrap();
    assert!(ev.is_empty());
    assert_eq!(st.skipped(), 1);
    assert!(
        st.errors[0].reason.contains("decompression ratio"),
        "{}",
        st.errors[0]
    );
}

#[test]
fn csv_broken_quoting_and_short_rows() {
    let header = "CreationDate,UserIds,Operations,AuditData\n";
    let good = |id: u32| {
        format!(
            "2023-06-12T03:14:07Z,u@x,MailItemsAccessed,\"{}\"\n",
            rec(id).replace('"', "\"\"")
        )
    };
    let text = format!(
        "{header}{}2023-06-12,u,Op,\"{{\"\"a\"\":1}}\"x\n{}a,b\n{}2023-06-12,u,Op,\"{{\"\"CreationTime\"\": \n{}",
        good(1),
        good(2),
        good(3),
        good(4)
    );
    let (ev, st) = read_text("broken.csv", text);
    assert_eq!(ids(&ev), vec!["id-1", "id-2", "id-3", "id-4"]);
    assert_eq!(st.skipped(), 3, "{:?}", st.errors);
    assert!(st.errors[0].reason.contains("broken quoting"));
    assert_eq!(st.errors[0].loc.line, 3);
    assert!(st.errors[1].reason.contains("expected 4 fields"));
    assert_eq!(st.errors[1].loc.line, 5);
    assert!(
        st.errors[2].reason.contains("unterminated"),
        "{}",
        st.errors[2]
    );
    assert_eq!(st.errors[2].loc.line, 7);
}

#[test]
fn csv_audit_data_errors_name_the_field() {
    let text = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\n\
                r1,2023-06-12T03:14:07Z,ExchangeItemAggregated,MailItemsAccessed,u,\"{not json}\",,\n";
    let (ev, st) = read_text("p.csv", text);
    assert!(ev.is_empty());
    assert_eq!(st.errors[0].field.as_deref(), Some("AuditData"));
    assert_eq!(st.errors[0].loc.line, 2);
}

/// `AuditData` is parsed as the text the row split gave (checked as UTF-8 once, with the row):
/// invalid UTF-8, broken and truncated JSON and a non-object each give a located error, and
/// the good rows around them are read with their unquoted text as `raw`.
#[test]
fn csv_audit_data_hostile_rows_are_located() {
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let good = |id: u32| {
        format!(
            "r{id},2023-06-12T03:14:07.0000000Z,ExchangeItemAggregated,MailItemsAccessed,u,{},,\r\n",
            quoted(&rec(id))
        )
    };
    let mut text = b"RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n".to_vec();
    text.extend_from_slice(good(1).as_bytes());
    text.extend_from_slice(
        b"r2,2023-06-12T03:14:07Z,50,MailItemsAccessed,u,\"{\"\"Id\"\":\"\"\xc3\x28\"\"}\",,\r\n",
    );
    text.extend_from_slice(b"r3,2023-06-12T03:14:07Z,50,MailItemsAccessed,u,\"{\"\"Id\"\":\"\"r3\"\",\"\"x\"\":}\",,\r\n");
    text.extend_from_slice(b"r4,2023-06-12T03:14:07Z,50,MailItemsAccessed,u,\"{\"\"Id\"\":\"\"r4\"\",\"\"CreationTime\"\":\"\"2023-\",,\r\n");
    text.extend_from_slice(b"r5,2023-06-12T03:14:07Z,50,MailItemsAccessed,u,\"\"\"x\"\"\",,\r\n");
    text.extend_from_slice(good(6).as_bytes());
    let (ev, st) = read_text("hostile.csv", text);
    let got: Vec<(&str, u64)> = ev.iter().map(|e| (e.raw.as_str(), e.loc.line)).collect();
    assert_eq!(got, vec![(rec(1).as_str(), 2), (rec(6).as_str(), 7)]);
    let errs: Vec<(u64, Option<&str>)> = st
        .errors
        .iter()
        .map(|e| (e.loc.line, e.field.as_deref()))
        .collect();
    assert_eq!(
        errs,
        vec![
            (3, None),
            (4, Some("AuditData")),
            (5, Some("AuditData")),
            (6, Some("AuditData"))
        ],
        "{:?}",
        st.errors
    );
    assert!(
        st.errors[0].reason.contains("invalid UTF-8 at byte"),
        "{}",
        st.errors[0]
    );
    assert!(
        st.errors[1]
            .reason
            .starts_with("invalid JSON at line 1 column"),
        "{}",
        st.errors[1]
    );
    assert!(
        st.errors[2].reason.starts_with("invalid JSON"),
        "{}",
        st.errors[2]
    );
    assert!(
        st.errors[3].reason.contains("not a JSON object"),
        "{}",
        st.errors[3]
    );
    assert_eq!(st.skipped(), 4);
}

#[test]
fn forced_formats() {
    // A file that sniffs as CSV is read as NDJSON when told so (each line then an error).
    let (ev, st) = read_as("x.txt", "a,b\n1,2\n", InputFormat::Ndjson);
    assert!(ev.is_empty());
    assert_eq!(st.skipped(), 2);
    // Generic shape forced on a UAL record.
    let (ev, _) = read_as("x.json", rec(1), InputFormat::Generic);
    assert_eq!(ev[0].source, stormwatch_core::SourceKind::Generic);
    assert_eq!(ev[0].operation.as_deref(), Some("MailItemsAccessed"));
    assert!("nonsense".parse::<InputFormat>().is_err());
    assert_eq!(
        "purview-csv".parse::<InputFormat>().unwrap(),
        InputFormat::PurviewCsv
    );
    assert_eq!(
        "Entra_Azure_Monitor".parse::<InputFormat>().unwrap(),
        InputFormat::EntraAzureMonitor
    );
}
