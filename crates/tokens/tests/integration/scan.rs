//! `scan`: tokens found in logs, HAR files and gzip captures, each judged at its record's time.

use std::io::Write as _;
use std::sync::Arc;

use stormwatch_tokens::scan::{
    Finding, ScanOptions, ScanStats, TimeSource, scan_path, scan_reader,
};
use stormwatch_tokens::{Registry, VerdictKind};

use crate::support::{ENTERPRISE_TENANT, claims, opts, ts, world};

fn run(text: &str, reg: &Registry) -> (Vec<Finding>, ScanStats) {
    let mut out = Vec::new();
    let mut stats = ScanStats::default();
    let o = ScanOptions {
        verify: opts(),
        ..ScanOptions::default()
    };
    scan_reader(
        text.as_bytes(),
        &Arc::from("capture.log"),
        reg,
        &o,
        &mut stats,
        &mut |f| out.push(f),
    )
    .unwrap();
    (out, stats)
}

#[test]
fn a_log_with_a_forged_and_a_genuine_token() {
    let w = world();
    let genuine = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let forged = w.msa.token(
        "RS256",
        "msa-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let log = format!(
        "{{\"CreationTime\":\"2023-06-01T10:05:00Z\",\"Authorization\":\"Bearer {genuine}\"}}\n\
         no token here eyJnot.a\n\
         2023-06-01 10:06:00 GET /owa/service.svc?access_token={forged}&x=1\n"
    );
    let (f, stats) = run(&log, &w.reg);
    assert_eq!(f.len(), 2);
    assert_eq!(
        (stats.tokens, stats.valid, stats.forged, stats.lines),
        (2, 1, 1, 3)
    );
    assert_eq!(f[0].location.to_string(), "capture.log:1");
    assert_eq!(f[0].verdict.verdict, VerdictKind::Valid);
    assert_eq!(f[0].event_time, Some(ts("2023-06-01T10:05:00Z")));
    assert_eq!(f[0].time_source, TimeSource::SameLine);
    assert_eq!(f[1].location.line, 3);
    assert_eq!(f[1].verdict.verdict, VerdictKind::Forged);
    assert_eq!(f[1].verdict.judged_at, ts("2023-06-01T10:06:00Z"));
    // Signatures are never printed by default.
    let sig = forged.rsplit('.').next().unwrap();
    assert!(!f[1].token.contains(sig));
    assert!(f[1].token.contains("signature redacted"));
    let line = serde_json::to_string(&f[1]).unwrap();
    assert!(!line.contains(sig));
    assert!(line.contains("\"verdict\":\"forged\""));
}

#[test]
fn the_event_time_decides_a_replay_after_revocation() {
    let mut w = world();
    w.reg.revoke("ent-rsa", ts("2023-06-29T00:00:00Z"));
    let t = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-28T23:30:00Z"),
    );
    let log = format!("2023-06-28T23:40:00Z {t}\n2023-06-29T00:10:00Z {t}\n{t}\n");
    let (f, stats) = run(&log, &w.reg);
    // The signature is checked once; the replays are answered from the cache, judged anew.
    assert_eq!((stats.signatures_verified, stats.signatures_cached), (1, 2));
    assert_eq!(f[0].verdict.verdict, VerdictKind::Valid);
    // Replayed after revocation: judged at the record's time.
    assert_eq!(f[1].verdict.verdict, VerdictKind::Forged);
    assert!(f[1].verdict.failed(stormwatch_tokens::CheckName::Revoked));
    // No time on its own line: the previous record's time.
    assert_eq!(f[2].time_source, TimeSource::NearbyLine);
}

#[test]
fn a_har_file_uses_the_entry_started_time() {
    let w = world();
    let forged = w.msa.token(
        "RS256",
        "msa-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    // The member order of the HAR 1.2 specification, as browsers write it.
    let text = format!(
        r#"{{
  "log": {{
    "version": "1.2",
    "entries": [
      {{
        "startedDateTime": "2023-06-01T10:20:00.123Z",
        "time": 87,
        "request": {{
          "method": "GET",
          "url": "https://outlook.office365.com/api/v2.0/me/messages",
          "headers": [
            {{ "name": "Authorization", "value": "Bearer {forged}" }}
          ]
        }}
      }}
    ]
  }}
}}"#
    );
    let (f, _) = run(&text, &w.reg);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].verdict.verdict, VerdictKind::Forged);
    assert_eq!(f[0].event_time, Some(ts("2023-06-01T10:20:00.123Z")));
    assert_eq!(f[0].time_source, TimeSource::NearbyLine);
}

#[test]
fn gzip_captures_are_read() {
    let w = world();
    let t = w.msa.token(
        "RS256",
        "msa-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let dir = std::env::temp_dir().join(format!("swt-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("proxy.log.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    writeln!(gz, "first line").unwrap();
    writeln!(gz, "2023-06-01T10:07:00Z CONNECT Authorization: Bearer {t}").unwrap();
    gz.finish().unwrap();
    let mut out = Vec::new();
    let mut stats = ScanStats::default();
    let o = ScanOptions {
        verify: opts(),
        ..ScanOptions::default()
    };
    scan_path(&path, &w.reg, &o, &mut stats, &mut |f| out.push(f)).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].location.line, 2);
    assert!(out[0].location.file.ends_with("proxy.log.gz"));
    assert_eq!(out[0].verdict.verdict, VerdictKind::Forged);
}

#[test]
fn hostile_lines_in_a_capture_are_survived() {
    let w = world();
    let mut text = String::new();
    text.push_str(&format!(
        "eyJ{}.eyJ{}.{}\n",
        "A".repeat(100_000),
        "B".repeat(10),
        "C".repeat(10)
    ));
    text.push_str("eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.\n");
    text.push_str(&"eyJ.".repeat(10_000));
    let (f, stats) = run(&text, &w.reg);
    assert_eq!(stats.tokens as usize, f.len());
    assert!(f.iter().all(|x| x.verdict.verdict != VerdictKind::Valid));
    assert!(
        f[0].verdict
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("accepted")
    );
}
