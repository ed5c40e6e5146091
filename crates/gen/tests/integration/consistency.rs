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
    assert_eq!(t.throttled_windows.len(), 1);
    assert_eq!(t.throttled_windows[0].record_id, throttled[0].2);
    assert_eq!(t.throttled_windows[0].from, throttled[0].1);
    // Nothing binds the throttled mailbox inside its window.
    let w = &t.throttled_windows[0];
    for r in &recs {
        let tm = ts(&r["CreationTime"]);
        if r["MailboxOwnerUPN"] == w.mailbox.as_str() && tm > w.from && tm < w.to {
            assert_ne!(op_prop(r, "MailAccessType"), Some("Bind"), "{}", r["Id"]);
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
        by_session
            .entry(s["sessionId"].as_str().unwrap())
            .or_default()
            .push(ts(&s["createdDateTime"]));
        by_uti.insert(
            s["uniqueTokenIdentifier"].as_str().unwrap(),
            ts(&s["createdDateTime"]),
        );
    }
    let actor: BTreeSet<&str> = t.actor_record_ids.iter().map(String::as_str).collect();
    let mut with_uti = 0;
    for r in &recs {
        let Some(session) = r["SessionId"].as_str().or(r["InterSystemsId"].as_str()) else {
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
    assert_eq!(kinds.len(), 4);
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
        assert_eq!(t.throttled_windows.len(), 1, "seed {seed}");
        assert_eq!(t.unaudited_tenants.len(), 1, "seed {seed}");
        assert_eq!(t.decoys.len(), 4, "seed {seed}");
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
