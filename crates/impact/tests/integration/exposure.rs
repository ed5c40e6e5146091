//! Exposure: exact message sets, expansion, Sync, order independence.

use stormwatch_core::{Event, Timestamp};
use stormwatch_impact::{ImpactOptions, Seeds};

use crate::build::*;

pub(crate) const X: &str = "51.89.156.153";
pub(crate) const Y: &str = "198.51.100.23";
pub(crate) const Z: &str = "203.0.113.9";
pub(crate) const W: &str = "192.0.2.77";

/// Attacker sessions s1 (IPs X then Z) and s2 (IPs X at sign-in, then W); the owner s0 on Y.
pub(crate) fn scenario() -> Vec<Event> {
    vec![
        mia(1, "2023-06-12T03:00:00Z", "T1", "A@t1.example")
            .ip(X)
            .session("S1-attacker")
            .app("APPX")
            .ua("Client=REST;Client=RESTSystem;;")
            .bind("\\Inbox", &[("<m1@x>", 100), ("<m2@x>", 200)])
            .bind("\\Sent Items", &[("<m3@x>", 300)])
            .org_name("t1.onmicrosoft.com")
            .ev(),
        mia(2, "2023-06-12T03:30:00Z", "t1", "a@t1.example")
            .ip(X)
            .session("s1-attacker")
            .app("appx")
            .bind("\\Inbox", &[("<m1@x>", 100)])
            .ev(),
        mia(3, "2023-06-12T05:00:00Z", "t1", "a@t1.example")
            .ip(Y)
            .session("s0-owner")
            .ua("Client=MSExchangeRPC")
            .bind("\\Inbox", &[("<m1@x>", 100), ("<m4@x>", 400)])
            .ev(),
        mia(4, "2023-06-13T02:00:00Z", "t1", "b@t1.example")
            .ip(Z)
            .session("s1-attacker")
            .bind("\\Inbox", &[("<m5@x>", 500)])
            .op_count(4)
            .ev(),
        mia(5, "2023-06-13T02:10:00Z", "t1", "b@t1.example")
            .ip(Z)
            .session("s1-attacker")
            .sync("\\Archive")
            .ev(),
        sign_in(
            6,
            "2023-06-12T04:59:00Z",
            "t1",
            "a@t1.example",
            "s0-owner",
            Y,
        )
        .ev(),
        sign_in(
            7,
            "2023-06-12T01:00:00Z",
            "t1",
            "c@t1.example",
            "s2-attacker",
            X,
        )
        .ev(),
        mia(8, "2023-06-12T06:00:00Z", "t1", "c@t1.example")
            .ip(W)
            .session("s2-attacker")
            .bind("\\Inbox", &[("<m6@x>", 600)])
            .ev(),
    ]
}

#[test]
fn expanded_set_is_exact() {
    let r = run(&scenario(), &seeds_ip(X), &expand());
    assert_eq!(
        pairs(&r),
        set(&[
            ("a@t1.example", "<m1@x>"),
            ("a@t1.example", "<m2@x>"),
            ("a@t1.example", "<m3@x>"),
            ("b@t1.example", "<m5@x>"),
            ("c@t1.example", "<m6@x>"),
        ])
    );
    assert_eq!(r.actor.ips, vec![W, Z, X]);
    assert_eq!(r.actor.sessions, vec!["s1-attacker", "s2-attacker"]);
    let org = &r.organizations[0];
    assert_eq!(org.tenant_id, "t1");
    assert_eq!(org.name.as_deref(), Some("t1.onmicrosoft.com"));
    assert_eq!((org.sessions, org.ips, org.apps), (2, 3, 1));
    assert_eq!(
        org.first_access,
        Some(t("2023-06-12T01:00:00Z")),
        "the sign-in from X is actor activity"
    );
    assert_eq!(r.window.last, Some(t("2023-06-13T02:10:00Z")));

    let a = &org.mailboxes[0];
    assert_eq!(a.mailbox, "a@t1.example");
    assert_eq!(
        (a.first_access, a.last_access),
        (
            Some(t("2023-06-12T03:00:00Z")),
            Some(t("2023-06-12T03:30:00Z"))
        )
    );
    assert_eq!(
        (a.messages, a.bytes, a.records, a.unlisted_binds),
        (3, 600, 2, 0)
    );
    let inbox = &a.folders[0];
    assert_eq!(inbox.path, "\\Inbox");
    let m1 = &inbox.messages[0];
    assert_eq!(m1.internet_message_id, "<m1@x>");
    assert_eq!(m1.access_count, 2);
    assert_eq!(
        (m1.first_access, m1.last_access),
        (
            Some(t("2023-06-12T03:00:00Z")),
            Some(t("2023-06-12T03:30:00Z"))
        )
    );
    assert_eq!(a.folders[1].path, "\\Sent Items");
}

#[test]
fn expansion_steps_name_their_evidence() {
    let r = run(&scenario(), &seeds_ip(X), &expand());
    let steps: Vec<(&str, &str, &str, Option<&str>)> = r
        .expansion
        .iter()
        .map(|s| {
            (
                s.added_kind.as_str(),
                s.added.as_str(),
                s.via.as_str(),
                s.evidence.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            ("ip", X, "seed", None),
            (
                "session",
                "s1-attacker",
                "ip 51.89.156.153",
                Some("test.ndjson:1 record r1 at 2023-06-12T03:00:00Z")
            ),
            (
                "session",
                "s2-attacker",
                "ip 51.89.156.153",
                Some("test.ndjson:7 record r7 at 2023-06-12T01:00:00Z")
            ),
            (
                "ip",
                Z,
                "session s1-attacker",
                Some("test.ndjson:4 record r4 at 2023-06-13T02:00:00Z")
            ),
            (
                "ip",
                W,
                "session s2-attacker",
                Some("test.ndjson:8 record r8 at 2023-06-12T06:00:00Z")
            ),
        ]
    );
}

#[test]
fn no_expand_stops_after_the_seeds() {
    let opts = ImpactOptions {
        expand: false,
        ..ImpactOptions::default()
    };
    let r = run(&scenario(), &seeds_ip(X), &opts);
    assert_eq!(
        pairs(&r),
        set(&[
            ("a@t1.example", "<m1@x>"),
            ("a@t1.example", "<m2@x>"),
            ("a@t1.example", "<m3@x>")
        ])
    );
    assert_eq!(r.actor.ips, vec![X]);
    assert!(r.actor.sessions.is_empty());
    assert_eq!(r.expansion.len(), 1);
}

#[test]
fn sync_exposes_the_whole_folder_and_unlisted_binds_are_counted() {
    let r = run(&scenario(), &seeds_ip(Z), &ImpactOptions::default());
    let b = &r.organizations[0].mailboxes[0];
    assert_eq!(b.mailbox, "b@t1.example");
    let archive = b.folders.iter().find(|f| f.path == "\\Archive").unwrap();
    assert!(archive.whole_folder);
    assert!(archive.messages.is_empty());
    let inbox = b.folders.iter().find(|f| f.path == "\\Inbox").unwrap();
    assert!(!inbox.whole_folder);
    assert_eq!(b.unlisted_binds, 3, "OperationCount 4 with one listed item");
}

#[test]
fn seeds_by_session_app_and_user_agent() {
    let by_session = Seeds {
        sessions: vec!["S0-OWNER".into()],
        ..Seeds::default()
    };
    let r = run(&scenario(), &by_session, &ImpactOptions::default());
    assert_eq!(
        pairs(&r),
        set(&[("a@t1.example", "<m1@x>"), ("a@t1.example", "<m4@x>")])
    );
    let by_app = Seeds {
        apps: vec!["AppX".into()],
        ..Seeds::default()
    };
    let r = run(&scenario(), &by_app, &ImpactOptions::default());
    assert_eq!(
        pairs(&r),
        set(&[
            ("a@t1.example", "<m1@x>"),
            ("a@t1.example", "<m2@x>"),
            ("a@t1.example", "<m3@x>")
        ])
    );
    let by_ua = Seeds {
        user_agents: vec!["Client=MSExchangeRPC".into()],
        ..Seeds::default()
    };
    let r = run(&scenario(), &by_ua, &ImpactOptions::default());
    assert_eq!(
        pairs(&r),
        set(&[("a@t1.example", "<m1@x>"), ("a@t1.example", "<m4@x>")])
    );
}

#[test]
fn ioc_ip_counts_only_inside_its_window() {
    let opts = ImpactOptions {
        expand: true,
        ioc_windows: vec![(
            X.to_owned(),
            t("2023-06-12T03:15:00Z"),
            t("2023-06-12T04:00:00Z"),
        )],
        ..ImpactOptions::default()
    };
    let r = run(&scenario(), &Seeds::default(), &opts);
    // Inside the window only record 2 (m1); its session s1 then brings in Z (b@t1),
    // while s2 was seen with X only at 01:00, outside the window.
    assert_eq!(
        pairs(&r),
        set(&[
            ("a@t1.example", "<m1@x>"),
            ("a@t1.example", "<m2@x>"),
            ("a@t1.example", "<m3@x>"),
            ("b@t1.example", "<m5@x>"),
        ])
    );
    assert_eq!(r.actor.sessions, vec!["s1-attacker"]);
    assert!(
        r.expansion[0]
            .via
            .contains("IOC window 2023-06-12T03:15:00Z to 2023-06-12T04:00:00Z")
    );

    let strict = ImpactOptions {
        expand: false,
        ..opts
    };
    let r = run(&scenario(), &Seeds::default(), &strict);
    assert_eq!(pairs(&r), set(&[("a@t1.example", "<m1@x>")]));
    let m1 = &r.organizations[0].mailboxes[0].folders[0].messages[0];
    assert_eq!(m1.first_access, Some(t("2023-06-12T03:30:00Z")));
}

#[test]
fn order_does_not_matter() {
    let evs = scenario();
    let want = serde_json::to_string(&run(&evs, &seeds_ip(X), &expand())).unwrap();
    for seed in 1..20 {
        let mut v = evs.clone();
        shuffle(&mut v, seed);
        let got = serde_json::to_string(&run(&v, &seeds_ip(X), &expand())).unwrap();
        assert_eq!(got, want, "shuffle seed {seed}");
    }
    let mut rev = evs;
    rev.reverse();
    assert_eq!(
        serde_json::to_string(&run(&rev, &seeds_ip(X), &expand())).unwrap(),
        want
    );
}

#[test]
fn unknown_seed_matches_nothing_and_says_so_in_the_actor() {
    let r = run(&scenario(), &seeds_ip("10.9.9.9"), &expand());
    assert!(pairs(&r).is_empty());
    assert_eq!(r.actor.ips, vec!["10.9.9.9"]);
    assert_eq!(r.window.first, None);
    assert!(r.organizations.iter().all(|o| o.mailboxes.is_empty()));
}

#[test]
fn json_has_the_contract_shape() {
    let r = run(&scenario(), &seeds_ip(X), &expand());
    let v = serde_json::to_value(&r).unwrap();
    assert!(
        v["actor"]["ips"].is_array()
            && v["actor"]["sessions"].is_array()
            && v["actor"]["apps"].is_array()
    );
    assert_eq!(v["window"]["first"], "2023-06-12T01:00:00Z");
    let org = &v["organizations"][0];
    assert_eq!(org["tenant_id"], "t1");
    assert!(org["first_access"].is_string() && org["last_access"].is_string());
    let mb = &org["mailboxes"][0];
    assert_eq!(mb["mailbox"], "a@t1.example");
    assert!(
        mb["first_access"].is_string() && mb["unlisted_binds"].is_u64() && mb["limits"].is_array()
    );
    let f = &mb["folders"][0];
    assert_eq!(f["path"], "\\Inbox");
    assert_eq!(f["whole_folder"], false);
    let m = &f["messages"][0];
    assert_eq!(m["internet_message_id"], "<m1@x>");
    assert_eq!(m["size_bytes"], 100);
    assert_eq!(m["first_access"], "2023-06-12T03:00:00Z");
    assert!(m["last_access"].is_string());
    for l in v["limits"].as_array().unwrap() {
        assert!(l["kind"].is_string() && l["detail"].is_string());
    }
    let back: stormwatch_core::ImpactReport = serde_json::from_value(v).unwrap();
    assert_eq!(back, r);
}

#[test]
fn records_without_time_do_not_break_anything() {
    let mut e = mia(9, "2023-06-12T03:00:00Z", "t1", "z@t1.example")
        .ip(X)
        .bind("\\Inbox", &[("<mz@x>", 1)])
        .ev();
    e.time = None;
    let mut evs = scenario();
    evs.push(e);
    let r = run(&evs, &seeds_ip(X), &ImpactOptions::default());
    assert!(pairs(&r).contains(&("z@t1.example".to_owned(), "<mz@x>".to_owned())));
    let _ = Timestamp::EPOCH;
}

fn two_pass(
    events: &[Event],
    seeds: &Seeds,
    opts: &ImpactOptions,
) -> stormwatch_core::ImpactReport {
    let mut first = stormwatch_impact::Assessor::graph_only();
    for e in events {
        first.observe(e);
    }
    let actor = first.resolve_actor(seeds, opts);
    let mut second = stormwatch_impact::Assessor::focused(&actor);
    for e in events.iter().rev() {
        second.observe(e);
    }
    let r = second.finish(seeds, opts, &stormwatch_core::InputStats::default());
    assert_eq!(actor.context(), r.actor);
    assert_eq!(actor.expansion(), r.expansion.as_slice());
    r
}

#[test]
fn two_focused_passes_give_the_one_pass_report() {
    let windowed = ImpactOptions {
        expand: true,
        ioc_windows: vec![(
            X.to_owned(),
            t("2023-06-12T03:15:00Z"),
            t("2023-06-12T04:00:00Z"),
        )],
        ..ImpactOptions::default()
    };
    for (seeds, opts) in [
        (seeds_ip(X), expand()),
        (seeds_ip(X), ImpactOptions::default()),
        (
            Seeds {
                apps: vec!["appx".into()],
                ..Seeds::default()
            },
            expand(),
        ),
        (Seeds::default(), windowed.clone()),
        (
            Seeds::default(),
            ImpactOptions {
                expand: false,
                ..windowed
            },
        ),
    ] {
        let one = run(&scenario(), &seeds, &opts);
        let two = two_pass(&scenario(), &seeds, &opts);
        assert_eq!(
            serde_json::to_string(&two).unwrap(),
            serde_json::to_string(&one).unwrap()
        );
    }
}

#[test]
fn focused_pass_keeps_only_the_actor() {
    let mut first = stormwatch_impact::Assessor::graph_only();
    for e in scenario() {
        first.observe(&e);
    }
    assert_eq!(first.state_size().message_tuples, 0);
    let actor = first.resolve_actor(&seeds_ip(Z), &ImpactOptions::default());
    let mut second = stormwatch_impact::Assessor::focused(&actor);
    for e in scenario() {
        second.observe(&e);
    }
    assert_eq!(
        second.state_size().message_tuples,
        1,
        "only <m5@x> read from Z"
    );
}

#[test]
fn app_seed_matches_the_client_app_not_the_resource_behind_it() {
    let mut evs = scenario();
    // The owner's record names the Exchange resource as AppId and its own client app.
    let mut e = mia(40, "2023-06-12T08:00:00Z", "t1", "a@t1.example")
        .ip(Y)
        .session("s0-owner")
        .app("owner-client")
        .bind("\\Inbox", &[("<m9@x>", 9)])
        .ev();
    e.app_id = Some("00000002-0000-0ff1-ce00-000000000000".into());
    evs.push(e);
    let exchange = Seeds {
        apps: vec!["00000002-0000-0ff1-ce00-000000000000".into()],
        ..Seeds::default()
    };
    assert!(pairs(&run(&evs, &exchange, &ImpactOptions::default())).is_empty());
    let client = Seeds {
        apps: vec!["owner-client".into()],
        ..Seeds::default()
    };
    assert_eq!(
        pairs(&run(&evs, &client, &ImpactOptions::default())),
        set(&[("a@t1.example", "<m9@x>")])
    );
}
