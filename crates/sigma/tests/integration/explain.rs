//! Every detection says why: the selections that held, on which fields and values.

use stormwatch_core::SourceKind;

use crate::util::{engine, ev};

fn explanation(yaml: &str, raw: &str) -> Vec<String> {
    let e = engine(yaml);
    let mut out = Vec::new();
    e.scan(&ev(SourceKind::Generic, raw), &mut out);
    out.into_iter().map(|d| d.explanation).collect()
}

const MAIL: &str = r"
title: Mail read by a third-party app
id: 3d3f7c4e-5b0f-4f5a-9a57-2b8f0b1f0d11
logsource: {product: m365, service: exchange}
detection:
    selection:
        Operation: MailItemsAccessed
        AppId|startswith: '62c8'
    filter_first_party:
        AppId:
            - '00000002-0000-0ff1-ce00-000000000000'
            - 'd3590ed6-52b3-4102-aeff-aad2292ab01c'
    condition: selection and not filter_first_party
level: high
";

#[test]
fn a_match_names_its_selection_fields_values_and_the_filter_it_passed() {
    let got = explanation(
        MAIL,
        r#"{"Operation":"MailItemsAccessed","AppId":"62c82b1e-2a9b-4f5c-880c-5d9f945c497d","UserId":"a@b.example"}"#,
    );
    assert_eq!(
        got,
        [
            "selection: Operation = MailItemsAccessed, AppId = 62c82b1e-2a9b-4f5c-880c-5d9f945c497d; \
          not filter_first_party (AppId = 62c82b1e-2a9b-4f5c-880c-5d9f945c497d)"
        ]
    );
}

#[test]
fn one_of_names_only_the_selections_that_held() {
    let yaml = r"
title: t
id: 5a1c9d2e-0000-4000-8000-000000000001
logsource: {product: test}
detection:
    sel_rest:
        ClientInfoString|contains: 'Client=REST'
    sel_python:
        UserAgent|contains: python
    sel_count:
        OperationCount|gte: 100
    condition: 1 of sel_*
";
    let got = explanation(
        yaml,
        r#"{"ClientInfoString":"Client=REST;Client=RESTSystem;;","UserAgent":"Mozilla","OperationCount":250}"#,
    );
    assert_eq!(
        got,
        [
            "sel_count: OperationCount = 250 (>= 100); sel_rest: ClientInfoString = Client=REST;Client=RESTSystem;;"
        ]
    );
}

#[test]
fn keywords_cidr_presence_and_long_values() {
    let yaml = r"
title: t
id: 5a1c9d2e-0000-4000-8000-000000000002
logsource: {product: test}
detection:
    keywords:
        - 'mimikatz'
    net:
        ip|cidr: '51.89.0.0/16'
        token|exists: true
    condition: keywords and net
";
    let long = "x".repeat(100);
    let got = explanation(
        yaml,
        &format!(r#"{{"cmd":"run mimikatz now","ip":"51.89.156.153","token":"{long}"}}"#),
    );
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert!(
        g.starts_with("keywords: keyword in \"run mimikatz now\"; net: "),
        "{g}"
    );
    assert!(g.contains("ip = 51.89.156.153 (in 51.89.0.0/16)"), "{g}");
    // A present field is quoted with its value, long values cut at 64 characters.
    assert!(g.ends_with(&format!("token = {}…", "x".repeat(63))), "{g}");
}

#[test]
fn correlations_say_their_group_count_window_and_condition() {
    let yaml = "title: failed\nid: 0e95725d-7320-415d-80f7-004da920fc11\nname: failed_logon\nlogsource: {product: test}\ndetection:\n    sel:\n        action: fail\n    condition: sel\n---\ntitle: brute\ncorrelation:\n    type: event_count\n    rules: [failed_logon]\n    group-by: [user]\n    timespan: 1m\n    condition:\n        gte: 3\nlevel: high\n";
    let e = engine(yaml);
    let mut c = e.correlator();
    for t in 0..3 {
        let ev = crate::util::ev_at(
            SourceKind::Generic,
            r#"{"action":"fail","user":"alice"}"#,
            t,
            u64::try_from(t).unwrap() + 1,
        );
        let mut out = Vec::new();
        e.scan(&ev, &mut out);
        assert!(
            out.iter().all(|d| d.explanation == "sel: action = fail"),
            "{out:?}"
        );
        c.observe(&ev, &out);
    }
    let found = c.finish();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].explanation,
        "event_count correlation over 3 record(s) within 60 s for user=alice (condition: gte 3)"
    );
}
