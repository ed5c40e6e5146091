//! The ground truth matches the emitted records exactly.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use stormwatch_core::Timestamp;

use crate::common::{by_id, fixture, json_values, ndjson_records, op_prop};

fn ts(v: &Value) -> Timestamp {
    Timestamp::parse(v.as_str().unwrap()).unwrap()
}

#[test]
fn actor_records_and_impact_match_truth() {
    let f = fixture();
    let t = &f.truth;
    let recs = ndjson_records(f.dir.path());
    let ids = by_id(&recs);
    assert_eq!(ids.len(), recs.len(), "record ids are unique");
    assert_eq!(recs.len() as u64, t.counts.ual_records);
    let actor: BTreeSet<&str> = t.actor_record_ids.iter().map(String::as_str).collect();
    assert_eq!(actor.len() as u64, t.counts.actor_records);
    assert!(actor.len() > 50);
    // Recompute org → mailbox → folder → messages from the actor records.
    type Msgs = BTreeMap<String, (u64, Timestamp, Timestamp)>;
    let mut impact: BTreeMap<(String, String), BTreeMap<String, (bool, Msgs)>> = BTreeMap::new();
    let mut unlisted: BTreeMap<String, u64> = BTreeMap::new();
    let mut throttled = Vec::new();
    for id in &actor {
        let r = &ids[*id];
        assert_eq!(r["Operation"], "MailItemsAccessed");
        let key = (
            r["OrganizationId"].as_str().unwrap().to_string(),
            r["MailboxOwnerUPN"].as_str().unwrap().to_string(),
        );
        let when = ts(&r["CreationTime"]);
        let sync = op_prop(r, "MailAccessType") == Some("Sync");
        if op_prop(r, "IsThrottled") == Some("True") {
            throttled.push((key.1.clone(), when, id.to_string()));
        }
        let mut listed = 0;
        for folder in r["Folders"].as_array().unwrap() {
            let e = impact
                .entry(key.clone())
                .or_default()
                .entry(folder["Path"].as_str().unwrap().to_string())
                .or_default();
            e.0 |= sync;
            for item in folder["FolderItems"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                listed += 1;
                let m =
                    e.1.entry(item["InternetMessageId"].as_str().unwrap().to_string())
                        .or_insert((item["SizeInBytes"].as_u64().unwrap(), when, when));
                m.1 = m.1.min(when);
                m.2 = m.2.max(when);
            }
        }
        if !sync {
            *unlisted.entry(key.1.clone()).or_default() +=
                r["OperationCount"].as_u64().unwrap() - listed;
        }
    }
    let mut from_truth: BTreeMap<(String, String), BTreeMap<String, (bool, Msgs)>> =
        BTreeMap::new();
    for o in &t.organizations {
        for m in &o.mailboxes {
            assert_eq!(
                unlisted.get(&m.mailbox).copied().unwrap_or(0),
                m.unlisted_binds,
                "{}",
                m.mailbox
            );
            for fo in &m.folders {
                let e = from_truth
                    .entry((o.tenant_id.clone(), m.mailbox.clone()))
                    .or_default()
                    .entry(fo.path.clone())
                    .or_default();
                e.0 = fo.whole_folder;
                for msg in &fo.messages {
                    e.1.insert(
                        msg.internet_message_id.clone(),
                        (msg.size_bytes, msg.first_access, msg.last_access),
                    );
                }
            }
        }
    }
    assert_eq!(impact, from_truth);
    // Two audited tenants, at least five mailboxes, one whole-folder Sync, one throttled mailbox.
    assert_eq!(t.organizations.len(), 2);
    assert!(
        t.organizations
            .iter()
            .map(|o| o.mailboxes.len())
            .sum::<usize>()
            >= 5
    );
    assert_eq!(t.whole_folder_syncs.len(), 1);
    assert_eq!(throttled.len(), 1);
    let w = t
        .throttled_windows
        .iter()
        .find(|w| w.record_id == throttled[0].2)
        .unwrap();
    assert_eq!(w.from, throttled[0].1);
    // Every IsThrottled record has its window (the actor's and the migration's), and nothing
    // binds a throttled mailbox inside its window.
    let flagged: BTreeSet<&str> = recs
        .iter()
        .filter(|r| op_prop(r, "IsThrottled") == Some("True"))
        .map(|r| r["Id"].as_str().unwrap())
        .collect();
    let windows: BTreeSet<&str> = t
        .throttled_windows
        .iter()
        .map(|w| w.record_id.as_str())
        .collect();
    assert_eq!(flagged, windows);
    assert_eq!(windows.len(), 2);
    for w in &t.throttled_windows {
        for r in &recs {
            let tm = ts(&r["CreationTime"]);
            if r["MailboxOwnerUPN"] == w.mailbox.as_str() && tm > w.from && tm < w.to {
                assert_ne!(op_prop(r, "MailAccessType"), Some("Bind"), "{}", r["Id"]);
            }
        }
    }
}

#[test]
fn actor_context_is_forged_and_in_its_windows() {
    let f = fixture();
    let t = &f.truth;
    let recs = ndjson_records(f.dir.path());
    let ids = by_id(&recs);
    let actor: BTreeSet<&str> = t.actor_record_ids.iter().map(String::as_str).collect();
    let mut foreign = 0;
    for id in &actor {
        let r = &ids[*id];
        let tm = ts(&r["CreationTime"]);
        assert!(tm.weekday() < 5 && tm.hour() < 9, "actor hours: {tm}");
        let ip = r["ClientIPAddress"].as_str().unwrap();
        let w = t.actor.ioc_windows.iter().find(|w| w.ip == ip).unwrap();
        assert!(w.from <= tm && tm <= w.to, "{ip} outside window at {tm}");
        assert!(
            t.actor
                .sessions
                .iter()
                .any(|s| s == r["SessionId"].as_str().unwrap())
        );
        assert!(
            t.actor
                .apps
                .iter()
                .any(|a| a == r["ClientAppId"].as_str().unwrap())
        );
        if r["TokenTenantId"].is_string() && r["TokenTenantId"] != r["OrganizationId"] {
            foreign += 1;
        }
    }
    assert!(
        foreign > 0,
        "some actor records carry a foreign TokenTenantId"
    );
    // Legitimate records never do, and never use the actor's app, sessions or IPs.
    for r in &recs {
        if actor.contains(r["Id"].as_str().unwrap()) {
            continue;
        }
        if r["TokenTenantId"].is_string() {
            assert_eq!(r["TokenTenantId"], r["OrganizationId"]);
        }
        assert!(!t.actor.apps.iter().any(|a| r["ClientAppId"] == a.as_str()));
        assert!(
            !t.actor
                .sessions
                .iter()
                .any(|s| r["SessionId"] == s.as_str())
        );
        assert!(
            !t.actor
                .ips
                .iter()
                .any(|s| r["ClientIPAddress"] == s.as_str() || r["ClientIP"] == s.as_str())
        );
    }
    // The actor's ClientAppId is never used by anyone on any mailbox before the intrusion.
    assert_eq!(t.actor.apps.len(), 1);
    assert!(
        t.actor
            .client_info_strings
            .iter()
            .any(|c| c == "Client=REST;Client=RESTSystem;;")
    );
}

#[test]
fn sign_ins_back_every_legitimate_session_and_none_of_the_actor() {
    let f = fixture();
    let t = &f.truth;
    let recs = ndjson_records(f.dir.path());
    let page = json_values(&f.dir.path().join("signins-azure-monitor/SignInLogs.json"));
    let signins: Vec<&Value> = page[0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["properties"])
        .collect();
    assert_eq!(signins.len() as u64, t.counts.signins);
    let mut by_session: BTreeMap<&str, Vec<Timestamp>> = BTreeMap::new();
    let mut by_uti: BTreeMap<&str, Timestamp> = BTreeMap::new();
    for s in &signins {
        // Service principal sign-ins (client credentials) have no session.
        if let Some(session) = s["sessionId"].as_str() {
            by_session
                .entry(session)
                .or_default()
                .push(ts(&s["createdDateTime"]));
        } else {
            assert_eq!(s["signInEventTypes"][0], "servicePrincipal");
        }
        by_uti.insert(
            s["uniqueTokenIdentifier"].as_str().unwrap(),
            ts(&s["createdDateTime"]),
        );
    }
    let actor: BTreeSet<&str> = t.actor_record_ids.iter().map(String::as_str).collect();
    let mut with_uti = 0;
    let mut app_only = 0;
    for r in &recs {
        let Some(session) = r["SessionId"].as_str().or(r["InterSystemsId"].as_str()) else {
            // App-only reads: their token is in the service principal sign-ins, within the hour.
            if r["UserType"] == 5 {
                let u = r["AppAccessContext"]["UniqueTokenId"].as_str().unwrap();
                let (s, tm) = (by_uti[u], ts(&r["CreationTime"]));
                assert!(s <= tm && tm.nanos() - s.nanos() <= 3_600_000_000_000);
                app_only += 1;
            }
            continue;
        };
        let tm = ts(&r["CreationTime"]);
        if actor.contains(r["Id"].as_str().unwrap()) {
            assert!(!by_session.contains_key(session));
            if let Some(u) = r["AppAccessContext"]["UniqueTokenId"].as_str() {
                assert!(!by_uti.contains_key(u));
            }
            continue;
        }
        if r["RecordType"] == 1 {
            continue;
        }
        let times = by_session
            .get(session)
            .unwrap_or_else(|| panic!("no sign-in for {}", r["Id"]));
        assert!(
            times
                .iter()
                .any(|&s| s <= tm && tm.nanos() - s.nanos() <= 3_600_000_000_000),
            "{}",
            r["Id"]
        );
        if let Some(u) = r["AppAccessContext"]["UniqueTokenId"].as_str() {
            let s = by_uti[u];
            assert!(s <= tm && tm.nanos() - s.nanos() <= 7_200_000_000_000);
            with_uti += 1;
        }
    }
    assert!(with_uti > 100);
    assert!(app_only > 100);
}

#[test]
fn unaudited_tenant_and_decoys() {
    let f = fixture();
    let t = &f.truth;
    let recs = ndjson_records(f.dir.path());
    let ids = by_id(&recs);
    assert_eq!(t.unaudited_tenants.len(), 1);
    let un = &t.unaudited_tenants[0];
    let in_un: Vec<&Value> = recs
        .iter()
        .filter(|r| r["OrganizationId"] == un.as_str())
        .collect();
    assert!(in_un.len() > 50);
    assert!(in_un.iter().all(|r| r["RecordType"] != 50));
    let kinds: BTreeSet<&str> = t.decoys.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds.len(), 11);
    let actor: BTreeSet<&str> = t.actor_record_ids.iter().map(String::as_str).collect();
    for d in &t.decoys {
        assert!(!d.record_ids.is_empty(), "{}", d.kind);
        for id in &d.record_ids {
            assert!(ids.contains_key(id));
            assert!(!actor.contains(id.as_str()));
        }
    }
    // The out-of-window decoy really uses IOC IPs, far from their windows.
    let d = t
        .decoys
        .iter()
        .find(|d| d.kind == "ioc_ip_outside_window")
        .unwrap();
    let ips: BTreeSet<&str> = d
        .record_ids
        .iter()
        .map(|i| {
            ids[i]["ClientIPAddress"]
                .as_str()
                .or(ids[i]["ClientIP"].as_str())
                .unwrap()
        })
        .collect();
    assert_eq!(ips, BTreeSet::from(["37.143.130.146", "5.252.176.8"]));
    // The migration account binds in bulk.
    let m = t
        .decoys
        .iter()
        .find(|d| d.kind == "migration_account")
        .unwrap();
    assert!(
        m.record_ids
            .iter()
            .any(|i| ids[i]["OperationCount"].as_u64().unwrap_or(0) >= 100)
    );
    // The new delegate reads someone else's mailbox with LogonType 2.
    let nd = t.decoys.iter().find(|d| d.kind == "new_delegate").unwrap();
    assert!(
        nd.record_ids
            .iter()
            .any(|i| ids[i]["LogonType"] == 2 && ids[i]["MailboxOwnerUPN"] != ids[i]["UserId"])
    );
    let decoy = |k: &str| -> Vec<&Value> {
        t.decoys
            .iter()
            .find(|d| d.kind == k)
            .unwrap()
            .record_ids
            .iter()
            .map(|i| &ids[i])
            .collect()
    };
    let mail = |v: &[&Value]| -> Vec<Value> {
        v.iter()
            .filter(|r| r["Operation"] == "MailItemsAccessed")
            .map(|r| (*r).clone())
            .collect()
    };
    // Services that read many mailboxes do it fast: at least five mailboxes within ten minutes
    // in one session (the migration and the archiver) or as one application (the backup).
    let five_in_ten = |recs: &[Value], key: &str| {
        let mut by: BTreeMap<String, Vec<(Timestamp, String)>> = BTreeMap::new();
        for r in recs {
            by.entry(r[key].as_str().unwrap_or("").to_owned())
                .or_default()
                .push((
                    ts(&r["CreationTime"]),
                    r["MailboxOwnerUPN"].as_str().unwrap().to_owned(),
                ));
        }
        by.values_mut().any(|v| {
            v.sort();
            v.iter().enumerate().any(|(i, (t0, _))| {
                v[i..]
                    .iter()
                    .take_while(|(t1, _)| t1.nanos() - t0.nanos() <= 600_000_000_000)
                    .map(|(_, m)| m)
                    .collect::<BTreeSet<_>>()
                    .len()
                    >= 5
            })
        })
    };
    let migration = mail(&decoy("migration_account"));
    assert!(five_in_ten(&migration, "SessionId"));
    assert!(
        migration
            .iter()
            .any(|r| op_prop(r, "IsThrottled") == Some("True"))
    );
    let setup = decoy("migration_account");
    assert!(
        setup
            .iter()
            .any(|r| r["Operation"] == "New-ManagementRoleAssignment")
    );
    assert!(five_in_ten(
        &mail(&decoy("archiving_connector")),
        "SessionId"
    ));
    // The backup application reads as itself: UserType Application, no session, Graph, REST.
    let backup = mail(&decoy("backup_app_only"));
    assert!(five_in_ten(&backup, "ClientAppId"));
    for r in &backup {
        assert_eq!(r["UserType"], 5);
        assert!(r.get("SessionId").is_none());
        assert_eq!(r["AppId"], "00000003-0000-0000-c000-000000000000");
        assert_eq!(r["ClientInfoString"], "Client=REST;Client=RESTSystem;;");
        assert_ne!(r["UserId"], r["MailboxOwnerUPN"]);
    }
    // Shared-mailbox readers are delegates; the rollout is one new app for many mailboxes.
    for r in mail(&decoy("shared_mailbox")) {
        assert_eq!(r["LogonType"], 2);
        assert_ne!(r["UserId"], r["MailboxOwnerUPN"]);
    }
    let rollout: BTreeSet<&str> = decoy("new_outlook_rollout")
        .iter()
        .filter(|r| r["ClientAppId"] == "5d661950-3475-41cd-a2c3-d671a3162bc1")
        .map(|r| r["UserId"].as_str().unwrap())
        .collect();
    assert!(rollout.len() >= 3, "{rollout:?}");
    assert!(
        decoy("ediscovery_search")
            .iter()
            .any(|r| r["RecordType"] == 24)
    );
    // The night administrator works inside the actor's hours.
    for r in decoy("night_admin") {
        let tm = ts(&r["CreationTime"]);
        assert!(tm.weekday() < 5 && tm.hour() < 9, "{}", r["Id"]);
    }
}

/// Every seed and size yields the whole planted pattern.
#[test]
fn many_seeds_plant_the_whole_pattern() {
    use stormwatch_gen::{Scenario, ScenarioOptions};
    for seed in 0..12 {
        let staff = 3 + (seed as usize % 4);
        let s = Scenario::generate(&ScenarioOptions {
            seed,
            staff_per_tenant: staff,
            days: 32 + (seed as u32 % 5),
        });
        let t = s.truth();
        assert_eq!(t.organizations.len(), 2, "seed {seed}");
        assert_eq!(
            t.organizations
                .iter()
                .map(|o| o.mailboxes.len())
                .sum::<usize>(),
            5,
            "seed {seed}"
        );
        assert_eq!(t.whole_folder_syncs.len(), 1, "seed {seed}");
        assert_eq!(t.throttled_windows.len(), 2, "seed {seed}");
        assert_eq!(t.unaudited_tenants.len(), 1, "seed {seed}");
        assert_eq!(t.decoys.len(), 11, "seed {seed}");
        assert!(
            t.decoys.iter().all(|d| !d.record_ids.is_empty()),
            "seed {seed}"
        );
        assert_eq!(t.actor.sessions.len(), 4, "seed {seed}");
        assert_eq!(t.actor.ips.len(), 5, "seed {seed}");
        assert!(t.counts.actor_records >= 40, "seed {seed}");
        for o in &t.organizations {
            for m in &o.mailboxes {
                assert!(m.first_access.weekday() < 5 && m.first_access.hour() < 9);
                assert!(m.last_access.weekday() < 5 && m.last_access.hour() < 9);
                let decoy_users: BTreeSet<&str> =
                    t.decoys.iter().map(|d| d.user.as_str()).collect();
                assert!(
                    !decoy_users.contains(m.mailbox.as_str()),
                    "seed {seed}: actor reads a decoy user's mailbox"
                );
            }
        }
        let actor: BTreeSet<&String> = t.actor_record_ids.iter().collect();
        assert!(
            t.decoys
                .iter()
                .flat_map(|d| &d.record_ids)
                .all(|id| !actor.contains(id))
        );
    }
}
