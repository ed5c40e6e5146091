//! Properties: arbitrary or mutated input never panics, counts add up, and the good records
//! around a bad one are all kept.

use proptest::prelude::*;
use stormwatch_read::{InputFormat, Limits, ReadOptions, read_bytes};

fn rec(i: usize) -> String {
    format!(
        r#"{{"CreationTime":"2023-06-12T03:14:07","Id":"good-{i}","Operation":"MailItemsAccessed","RecordType":50,"UserId":"u@x","Folders":[{{"Path":"\\Inbox","FolderItems":[{{"InternetMessageId":"<m{i}@x>"}}]}}]}}"#
    )
}

fn small_limits() -> ReadOptions {
    ReadOptions {
        threads: 1,
        limits: Limits {
            max_record_bytes: 4096,
            max_depth: 16,
            max_fields: 64,
            ..Limits::default()
        },
        ..ReadOptions::default()
    }
}

fn formats() -> impl Strategy<Value = InputFormat> {
    prop_oneof![
        Just(InputFormat::Auto),
        Just(InputFormat::Ndjson),
        Just(InputFormat::Json),
        Just(InputFormat::Csv),
    ]
}

fn counts_add_up(ev: &[stormwatch_core::Event], st: &stormwatch_core::InputStats) {
    let f = &st.files[0];
    assert_eq!(ev.len() as u64, f.records - f.filtered);
    assert!(
        st.errors.len() as u64
            >= f.skipped
                .min(stormwatch_core::InputStats::MAX_ERRORS as u64)
    );
    for e in &st.errors {
        assert!(e.loc.line >= 1 || e.loc.line == 0);
        assert!(!e.reason.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), format in formats()) {
        let mut opts = small_limits();
        opts.format = Some(format);
        let (ev, st) = read_bytes("fuzz", bytes, &opts).unwrap();
        counts_add_up(&ev, &st);
    }

    #[test]
    fn json_like_bytes_never_panic(s in "[\\[\\]{}\",:a-z0-9 \\\\\n]{0,400}", format in formats()) {
        let mut opts = small_limits();
        opts.format = Some(format);
        let (ev, st) = read_bytes("fuzz", s.into_bytes(), &opts).unwrap();
        counts_add_up(&ev, &st);
    }

    #[test]
    fn good_ndjson_lines_around_a_mutated_one_are_kept(
        n in 2usize..12,
        at in 0usize..12,
        cut in 0usize..300,
        junk in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let at = at % n;
        let mut text = Vec::new();
        for i in 0..n {
            if i == at {
                let mut bad = rec(i).into_bytes();
                bad.truncate(cut.min(bad.len()));
                bad.extend(junk.iter().map(|&b| if b == b'\n' { b'x' } else { b }));
                text.extend(bad);
            } else {
                text.extend(rec(i).into_bytes());
            }
            text.push(b'\n');
        }
        let blank = text
            .split(|&b| b == b'\n')
            .nth(at)
            .is_some_and(|line| line.iter().all(u8::is_ascii_whitespace));
        let (ev, st) = read_bytes("m.ndjson", text, &small_limits()).unwrap();
        counts_add_up(&ev, &st);
        let ids: Vec<String> = ev.iter().filter_map(|e| e.loc.record_id.clone()).collect();
        for i in (0..n).filter(|&i| i != at) {
            let want = format!("good-{i}");
            prop_assert!(ids.contains(&want), "lost {} in {:?}", want, ids);
        }
        // The mutated line is either read or counted, never both, never lost; a line cut down
        // to white space is a blank line, which NDJSON allows and the reader passes over.
        let expected = if blank { n - 1 } else { n } as u64;
        prop_assert_eq!(st.files[0].records + st.files[0].skipped, expected);
        for e in &ev {
            let i: usize = e.loc.record_id.as_deref().and_then(|s| s.strip_prefix("good-")).and_then(|s| s.parse().ok()).unwrap_or(at);
            prop_assert_eq!(e.loc.line, i as u64 + 1);
        }
    }

    #[test]
    fn good_array_elements_around_a_broken_one_are_kept(n in 2usize..10, at in 0usize..10, junk in "[a-z:\\[{]{1,8}") {
        let at = at % n;
        let elems: Vec<String> = (0..n).map(|i| if i == at { format!("{{\"Id\":{junk}}}") } else { rec(i) }).collect();
        let text = format!("[{}]", elems.join(",\n"));
        let (ev, st) = read_bytes("a.json", text.into_bytes(), &small_limits()).unwrap();
        counts_add_up(&ev, &st);
        let ids: Vec<String> = ev.iter().filter_map(|e| e.loc.record_id.clone()).collect();
        // Elements before the broken one are always kept; a broken element may swallow what
        // follows only if it leaves a bracket open, which is then reported.
        for i in 0..at {
            let want = format!("good-{i}");
            prop_assert!(ids.contains(&want), "lost {}", want);
        }
        prop_assert!(st.files[0].skipped >= 1 || ev.len() == n);
    }

    #[test]
    fn csv_rows_around_a_broken_one_are_kept(n in 2usize..10, at in 0usize..10, junk in "[a-z,\"]{0,12}") {
        let at = at % n;
        let mut text = String::from("CreationDate,UserIds,Operations,AuditData\n");
        for i in 0..n {
            if i == at {
                text.push_str(&junk.replace('"', "q"));
                text.push_str(",x\n");
            } else {
                text.push_str(&format!("2023-06-12,u,Op,\"{}\"\n", rec(i).replace('"', "\"\"")));
            }
        }
        let (ev, st) = read_bytes("c.csv", text.into_bytes(), &small_limits()).unwrap();
        counts_add_up(&ev, &st);
        let ids: Vec<String> = ev.iter().filter_map(|e| e.loc.record_id.clone()).collect();
        for i in (0..n).filter(|&i| i != at) {
            let want = format!("good-{i}");
            prop_assert!(ids.contains(&want), "lost {}", want);
        }
        prop_assert_eq!(st.files[0].records + st.files[0].skipped, n as u64);
    }

    #[test]
    fn timestamps_round_trip(secs in -2_000_000_000i64..4_000_000_000i64, frac in 0u32..10_000_000) {
        let t = stormwatch_core::Timestamp::from_nanos(secs * 1_000_000_000 + i64::from(frac) * 100);
        let back = stormwatch_core::Timestamp::parse(&t.to_string()).unwrap();
        prop_assert_eq!(back, t);
    }
}
