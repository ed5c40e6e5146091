//! Impact outputs: JSON, CSV per message and per mailbox, HTML escaping.

use stormwatch_core::ImpactReport;
use stormwatch_report::{ImpactFormat, write_impact, write_impact_mailbox_csv};

use crate::fixtures::{XSS, report};

pub(crate) fn render(r: &ImpactReport, fmt: ImpactFormat) -> String {
    let mut out = Vec::new();
    write_impact(&mut out, fmt, r).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn json_round_trips_the_model() {
    let r = report(XSS);
    let out = render(&r, ImpactFormat::Json);
    let back: ImpactReport = serde_json::from_str(&out).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["organizations"][0]["mailboxes"][1]["folders"][0]["messages"][0]["size_bytes"],
        48_211
    );
}

#[test]
fn csv_has_one_row_per_message_and_per_whole_folder() {
    let r = report("");
    let out = render(&r, ImpactFormat::Csv);
    let mut rdr = csv::Reader::from_reader(out.as_bytes());
    let h = rdr.headers().unwrap().clone();
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        vec![
            "tenant_id",
            "organization",
            "mailbox",
            "folder",
            "whole_folder",
            "internet_message_id",
            "subject",
            "size_bytes",
            "first_access",
            "last_access",
            "access_count",
            "limit_scope",
            "limit_kind",
            "limit_from",
            "limit_to",
            "limit_detail"
        ]
    );
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(
        rows.len(),
        4 + 6,
        "3 messages + 1 whole folder, then 6 limits"
    );
    assert!(
        rows[..4]
            .iter()
            .all(|r| r[11..].iter().all(String::is_empty))
    );
    // Every limit of the report, with where it applies: the input's, the unaudited
    // organisation's, the throttled mailbox's.
    let limits: Vec<(&str, &str, &str, &str, &str)> = rows[4..]
        .iter()
        .map(|r| {
            assert!(r[3..11].iter().all(String::is_empty), "{r:?}");
            (
                r[11].as_str(),
                r[12].as_str(),
                r[0].as_str(),
                r[2].as_str(),
                r[13].as_str(),
            )
        })
        .collect();
    assert_eq!(
        limits,
        vec![
            ("input", "no_mail_audit", "", "", "2023-06-10T00:00:00Z"),
            ("input", "log_gap", "", "", "2023-06-13T00:00:00Z"),
            ("input", "parse_errors", "", "", ""),
            ("input", "dedup", "", "", ""),
            (
                "mailbox",
                "throttled",
                "b1e2c3d4",
                "envoy@agency.example",
                "2023-06-13T12:00:00Z"
            ),
            (
                "organization",
                "no_mail_audit",
                "c0ffee00-unaudited",
                "",
                "2023-06-10T00:00:00Z"
            ),
        ]
    );
    assert_eq!(rows[8][14], "2023-06-14T12:00:00Z");
    assert!(rows[4][15].contains("no MailItemsAccessed"));
    assert_eq!(rows[0][2], "attache@agency.example");
    assert_eq!(rows[1][5], "<m1@x>");
    assert_eq!(rows[1][8], "2023-06-12T03:14:07Z");
    assert_eq!(rows[1][10], "2");
    assert_eq!(
        (
            rows[3][3].as_str(),
            rows[3][4].as_str(),
            rows[3][5].as_str()
        ),
        ("\\Sent Items", "true", "")
    );
}

#[test]
fn mailbox_csv_summarises_and_flags_presumed_exposure() {
    let mut r = report("");
    r.organizations[0].mailboxes[0].mailbox = "=cmd()@x".into();
    let mut out = Vec::new();
    write_impact_mailbox_csv(&mut out, &r).unwrap();
    let s = String::from_utf8(out).unwrap();
    let mut rdr = csv::Reader::from_reader(s.as_bytes());
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.len(),
        2 + 5,
        "2 mailboxes, then the input's and organisations' limits"
    );
    assert_eq!(&rows[0][col("mailbox")], "'=cmd()@x");
    assert_eq!(&rows[1][col("whole_folder_paths")], "\\Sent Items");
    assert_eq!(&rows[1][col("unlisted_binds")], "3");
    assert_eq!(&rows[1][col("presumed_exposed")], "true");
    assert_eq!(&rows[1][col("limits")], "throttled");
    assert!(
        rows[1][col("limit_details")].starts_with(
            "throttled 2023-06-13T12:00:00Z → 2023-06-14T12:00:00Z: MailItemsAccessed was throttled"
        ),
        "{}",
        &rows[1][col("limit_details")]
    );
    assert_eq!(&rows[0][col("presumed_exposed")], "false");
    assert_eq!(&rows[0][col("limit_details")], "");
    // The organisation's and the input's limits follow, with no mailbox.
    let rest: Vec<(&str, &str, &str)> = rows[2..]
        .iter()
        .map(|r| (&r[col("tenant_id")], &r[col("mailbox")], &r[col("limits")]))
        .collect();
    assert_eq!(
        rest,
        vec![
            ("", "", "no_mail_audit"),
            ("", "", "log_gap"),
            ("", "", "parse_errors"),
            ("", "", "dedup"),
            ("c0ffee00-unaudited", "", "no_mail_audit"),
        ]
    );
    assert!(rows[6][col("limit_details")].contains("Tenant c0ffee00-unaudited"));
}

#[test]
fn html_escapes_every_log_value_and_is_self_contained() {
    let html = render(&report(XSS), ImpactFormat::Html);
    assert!(!html.contains("<script"), "no script element at all");
    assert!(!html.contains(XSS));
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;";
    // tenant (×n), org name, mailbox, folder paths, message ids, subjects, limits, actor ids,
    // expansion, coverage, sources.
    assert!(
        html.matches(escaped).count() >= 20,
        "{}",
        html.matches(escaped).count()
    );
    for external in ["src=", "<link", "@import", "url(", "http://", "https://"] {
        let allowed = external == "http://"
            && html.matches("http://").count()
                == html.matches("http://www.w3.org/2000/svg").count();
        assert!(allowed || !html.contains(external), "{external}");
    }
    for section in [
        "Executive summary",
        "What the logs cannot show",
        "Timeline of actor activity",
        "Organisations",
        "Mailboxes",
        "What the input covers",
        "How this was computed",
    ] {
        assert!(html.contains(section), "{section}");
    }
    assert!(html.contains("<svg"));
    assert!(html.contains("Counts are lower bounds"));
    assert!(html.contains("Not observable"));
    assert!(html.contains("Presumed exposed"));
}

#[test]
fn html_of_an_empty_report_says_nothing_was_seen_not_nothing_happened() {
    let html = render(&ImpactReport::default(), ImpactFormat::Html);
    assert!(html.contains("This does not mean that no mail was read"));
}
