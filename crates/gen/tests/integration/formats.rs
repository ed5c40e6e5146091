//! Every format holds the same records, and CSV quoting round-trips.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use stormwatch_core::Timestamp;

use crate::common::{by_id, files, fixture, json_values, ndjson_records};

/// Parse a JSON string field (Sentinel writes arrays as strings).
fn parse_str(v: &Value) -> Value {
    serde_json::from_str(v.as_str().unwrap()).unwrap()
}

fn csv_rows(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .unwrap();
    let header = rdr.headers().unwrap().iter().map(str::to_string).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    (header, rows)
}

#[test]
fn ual_formats_hold_the_same_records() {
    let f = fixture();
    let d = f.dir.path();
    let base = ndjson_records(d);
    let ids = by_id(&base);
    let want: Vec<&str> = base.iter().map(|r| r["Id"].as_str().unwrap()).collect();

    // Management API blobs: arrays, in order, identical objects.
    let mut api = Vec::new();
    for p in files(&d.join("json-array")) {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        api.extend(v.as_array().unwrap().iter().cloned());
    }
    assert_eq!(api, base);

    // Concatenated pretty-printed objects.
    let pretty = json_values(&d.join("pretty/ual-pretty.json"));
    assert_eq!(pretty, base);
    assert!(
        std::fs::read_to_string(d.join("pretty/ual-pretty.json"))
            .unwrap()
            .starts_with("{\n    \"CreationTime\": ")
    );

    // Graph audit query pages: auditData is the record; nextLink on all pages but the last.
    let pages = files(&d.join("graph-audit"));
    let mut graph = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert_eq!(v.get("@odata.nextLink").is_some(), i + 1 < pages.len());
        for rec in v["value"].as_array().unwrap() {
            assert_eq!(rec["id"], rec["auditData"]["Id"]);
            assert_eq!(rec["operation"], rec["auditData"]["Operation"]);
            graph.push(rec["auditData"].clone());
        }
    }
    assert_eq!(graph, base);

    // Sentinel OfficeActivity: same ids, Folders / OperationProperties as JSON strings.
    let sentinel = json_values(&d.join("sentinel/OfficeActivity.json"));
    assert_eq!(
        sentinel
            .iter()
            .map(|r| r["OfficeId"].as_str().unwrap())
            .collect::<Vec<_>>(),
        want
    );
    for row in &sentinel {
        let r = &ids[row["OfficeId"].as_str().unwrap()];
        assert_eq!(row["RecordType"], r["RecordType"].to_string());
        assert_eq!(
            Timestamp::parse(row["TimeGenerated"].as_str().unwrap()).unwrap(),
            Timestamp::parse(r["CreationTime"].as_str().unwrap()).unwrap()
        );
        if r["RecordType"] == 50 {
            assert_eq!(parse_str(&row["Folders"]), r["Folders"]);
            assert_eq!(
                parse_str(&row["OperationProperties"]),
                r["OperationProperties"]
            );
            assert_eq!(row["Client_IPAddress"], r["ClientIPAddress"]);
            assert_eq!(row["SessionId"], r["SessionId"]);
            let lt = match r["LogonType"].as_u64().unwrap() {
                0 => "Owner",
                1 => "Admin",
                _ => "Delegated",
            };
            assert_eq!(row["Logon_Type"], lt);
        }
    }

    // Defender CloudAppEvents: RawEventData is the record with a 7-digit CreationTime.
    let defender = json_values(&d.join("defender/CloudAppEvents.json"));
    assert_eq!(defender.len(), base.len());
    for (row, r) in defender.iter().zip(&base) {
        let mut raw = row["RawEventData"].clone();
        assert!(raw["CreationTime"].as_str().unwrap().ends_with(".0000000Z"));
        raw["CreationTime"] = r["CreationTime"].clone();
        assert_eq!(&raw, r);
    }
    // Flattened: same ids, folder items lost.
    let flat = json_values(&d.join("defender-flat/CloudAppEvents.json"));
    assert_eq!(
        flat.iter()
            .map(|r| r["RawEventData"]["Id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        want
    );
    let folders = flat
        .iter()
        .filter_map(|r| r["RawEventData"]["Folders"].as_array())
        .flatten();
    assert!(folders.clone().count() > 100);
    assert!(
        folders
            .clone()
            .all(|f| f.as_str().unwrap().starts_with("@{Id="))
    );
    assert!(
        folders
            .into_iter()
            .any(|f| f.as_str().unwrap().contains("FolderItems=System.Object[]"))
    );
}

#[test]
fn csv_variants_round_trip_newest_first() {
    let f = fixture();
    let d = f.dir.path();
    let base = ndjson_records(d);
    let ids = by_id(&base);
    let (h, rows) = csv_rows(&d.join("csv/purview-audit.csv"));
    assert_eq!(
        h,
        [
            "RecordId",
            "CreationDate",
            "RecordType",
            "Operation",
            "UserId",
            "AuditData",
            "AssociatedAdminUnits",
            "AssociatedAdminUnitsNames"
        ]
    );
    assert_eq!(rows.len(), base.len());
    let mut last = None;
    for row in &rows {
        let audit: Value = serde_json::from_str(&row[5]).unwrap();
        assert_eq!(audit, ids[&row[0]], "AuditData round-trips exactly");
        assert_eq!(row[3], audit["Operation"].as_str().unwrap());
        assert_eq!(row[4], audit["UserId"].as_str().unwrap());
        let t = Timestamp::parse(&row[1]).unwrap();
        assert!(row[1].ends_with(".0000000Z"));
        if let Some(prev) = last {
            assert!(t <= prev, "newest first");
        }
        last = Some(t);
    }
    let (h, rows) = csv_rows(&d.join("csv-legacy/search-unifiedauditlog.csv"));
    assert_eq!(h, ["CreationDate", "UserIds", "Operations", "AuditData"]);
    assert_eq!(rows.len(), base.len());
    let got: BTreeSet<String> = rows
        .iter()
        .map(|row| {
            let audit: Value = serde_json::from_str(&row[3]).unwrap();
            let id = audit["Id"].as_str().unwrap().to_string();
            assert_eq!(audit, ids[&id]);
            assert_eq!(
                Timestamp::parse(&row[0]).unwrap(),
                Timestamp::parse(audit["CreationTime"].as_str().unwrap()).unwrap()
            );
            id
        })
        .collect();
    assert_eq!(got.len(), base.len());
}

#[test]
fn signin_formats_hold_the_same_sign_ins() {
    let f = fixture();
    let d = f.dir.path();
    let am = json_values(&d.join("signins-azure-monitor/SignInLogs.json"));
    let am: Vec<&Value> = am[0]["records"].as_array().unwrap().iter().collect();
    let mut graph = Vec::new();
    let pages = files(&d.join("signins-graph"));
    for (i, p) in pages.iter().enumerate() {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert!(
            v["@odata.context"]
                .as_str()
                .unwrap()
                .contains("auditLogs/signIns")
        );
        assert_eq!(v.get("@odata.nextLink").is_some(), i + 1 < pages.len());
        graph.extend(v["value"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(graph.len(), am.len());
    let mut cats = BTreeMap::new();
    for (g, a) in graph.iter().zip(&am) {
        let p = &a["properties"];
        for k in [
            "id",
            "sessionId",
            "uniqueTokenIdentifier",
            "userPrincipalName",
            "ipAddress",
            "appId",
            "isInteractive",
        ] {
            assert_eq!(g[k], p[k], "{k}");
        }
        assert_eq!(
            Timestamp::parse(g["createdDateTime"].as_str().unwrap()).unwrap(),
            Timestamp::parse(p["createdDateTime"].as_str().unwrap()).unwrap()
        );
        let want = if p.get("servicePrincipalId").is_some() {
            "ServicePrincipalSignInLogs"
        } else if p["isInteractive"] == true {
            "SignInLogs"
        } else {
            "NonInteractiveUserSignInLogs"
        };
        assert_eq!(a["category"], want);
        *cats.entry(want).or_insert(0) += 1;
    }
    assert_eq!(cats.len(), 3);
}
