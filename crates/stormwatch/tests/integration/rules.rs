//! `stormwatch rules test` reads its sample events as `hunt` reads inputs.

use std::io::Write as _;

use crate::util::stormwatch;

const RULE: &str = "title: REST mail reads
id: 0d6a0a44-3a70-4a5e-9d2c-1a0b6d6c8e11
logsource: {product: m365, service: exchange}
detection:
    selection:
        Operation: MailItemsAccessed
        ClientInfoString|contains: 'Client=REST'
    condition: selection
level: medium
";

#[test]
fn rules_test_reads_gzip_events_with_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("rest.yml");
    std::fs::write(&rule, RULE).unwrap();
    let records = concat!(
        "{\"CreationTime\":\"2023-06-12T03:14:07\",\"Id\":\"a\",\"Operation\":\"MailItemsAccessed\",\"RecordType\":50,\"Workload\":\"Exchange\",\"ClientInfoString\":\"Client=REST;Client=RESTSystem;;\",\"UserId\":\"a@b.example\"}\n",
        "{\"CreationTime\": \"2023-06-12T03:15:07\", \"Id\": \"b\", \"Operation\": \n",
        "{\"CreationTime\":\"2023-06-12T03:16:07\",\"Id\":\"c\",\"Operation\":\"MailItemsAccessed\",\"RecordType\":50,\"Workload\":\"Exchange\",\"ClientInfoString\":\"Client=OWA\",\"UserId\":\"a@b.example\"}\n",
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(records.as_bytes()).unwrap();
    let events = dir.path().join("sample.ndjson.gz");
    std::fs::write(&events, gz.finish().unwrap()).unwrap();
    let run = stormwatch([
        "rules",
        "test",
        rule.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--expect",
        "1",
    ])
    .expect_status(0);
    assert!(
        run.stdout.contains("1 of 2 events matched"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("sample.ndjson.gz:2"),
        "the bad record is located: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("sample.ndjson.gz:1  [ual]"),
        "{}",
        run.stdout
    );
}
