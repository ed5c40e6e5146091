//! Sample events for `stormwatch rules test`: a JSON array, a Graph `{"value": [...]}` envelope,
//! one JSON object, or NDJSON (one record per line).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::Value;
use stormwatch_core::{Event, Location, SourceKind, Timestamp};

/// Largest sample file read (sample files are small; this keeps memory bounded).
const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// One record of a sample file that is not valid JSON.
#[derive(Debug)]
pub(crate) struct BadRecord {
    /// 1-based line.
    pub(crate) line: u64,
    /// Why.
    pub(crate) message: String,
}

/// Read the records of one sample file as events. `force` sets every record's log source;
/// otherwise it is recognised from the record's fields ([`classify`]).
pub(crate) fn read(
    path: &Path,
    force: Option<SourceKind>,
) -> anyhow::Result<(Vec<Event>, Vec<BadRecord>)> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    if meta.len() > MAX_BYTES {
        bail!(
            "{} is larger than {} MiB",
            path.display(),
            MAX_BYTES / (1024 * 1024)
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let file: Arc<str> = Arc::from(path.display().to_string());
    let mut events = Vec::new();
    let mut bad = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(doc) => {
            let records = match doc {
                Value::Array(items) => items,
                Value::Object(mut map) => match map.remove("value") {
                    Some(Value::Array(items)) => items,
                    Some(other) => {
                        map.insert("value".to_owned(), other);
                        vec![Value::Object(map)]
                    }
                    None => vec![Value::Object(map)],
                },
                other => vec![other],
            };
            for (i, rec) in records.into_iter().enumerate() {
                let line = u64::try_from(i + 1).unwrap_or(u64::MAX);
                events.push(event(rec, &file, line, force));
            }
        }
        Err(_) => {
            for (i, raw) in text.lines().enumerate() {
                let line = u64::try_from(i + 1).unwrap_or(u64::MAX);
                let raw = raw.trim();
                if raw.is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(raw) {
                    Ok(rec) => events.push(event(rec, &file, line, force)),
                    Err(e) => bad.push(BadRecord {
                        line,
                        message: e.to_string(),
                    }),
                }
            }
        }
    }
    Ok((events, bad))
}

fn event(rec: Value, file: &Arc<str>, line: u64, force: Option<SourceKind>) -> Event {
    let source = force.unwrap_or_else(|| classify(&rec));
    let time = [
        "CreationTime",
        "TimeGenerated",
        "createdDateTime",
        "time",
        "timestamp",
        "Timestamp",
    ]
    .iter()
    .find_map(|k| rec.get(*k).and_then(Value::as_str))
    .and_then(|s| Timestamp::parse(s).ok());
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| rec.get(*k).and_then(Value::as_str))
            .map(str::to_owned)
    };
    Event {
        loc: Location {
            file: Arc::clone(file),
            line,
            record_id: text(&["Id", "id"]),
        },
        source,
        time,
        operation: text(&["Operation", "operationName", "activityDisplayName"]),
        user: text(&["UserId", "userPrincipalName"]),
        mailbox: text(&["MailboxOwnerUPN"]),
        workload: text(&["Workload"]),
        tenant: text(&["OrganizationId", "TenantId", "tenantId"]),
        raw: rec.to_string(),
        ..Event::default()
    }
}

/// Recognise a record's log source from its fields: UAL (`Operation` with `RecordType` or
/// `Workload`), Entra sign-in (Graph `signIn` or Azure Monitor sign-in categories), Entra audit
/// (Graph `directoryAudit`, Azure Monitor `AuditLogs`), Sentinel `OfficeActivity` and Defender
/// `CloudAppEvents`; anything else is generic, which every rule is offered.
pub(crate) fn classify(rec: &Value) -> SourceKind {
    let has = |k: &str| rec.get(k).is_some();
    let category = rec
        .get("category")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if category.ends_with("SignInLogs") || category == "SignInLogs" {
        return SourceKind::EntraSignIn;
    }
    if category == "AuditLogs" {
        return SourceKind::EntraAudit;
    }
    if has("RawEventData") && has("ActionType") {
        return SourceKind::DefenderCloudAppEvents;
    }
    if has("OfficeWorkload") || (has("Operation") && has("TimeGenerated") && has("OfficeId")) {
        return SourceKind::SentinelOfficeActivity;
    }
    if has("Operation") && (has("RecordType") || has("Workload")) {
        return SourceKind::Ual;
    }
    if has("createdDateTime") && (has("userPrincipalName") || has("appId")) && has("status") {
        return SourceKind::EntraSignIn;
    }
    if has("activityDisplayName") && has("loggedByService") {
        return SourceKind::EntraAudit;
    }
    if has("OperationName") && has("TargetResources") {
        return SourceKind::EntraAudit;
    }
    SourceKind::Generic
}

/// Parse a `--source` value.
pub(crate) fn parse_source(s: &str) -> Result<SourceKind, String> {
    let all = [
        SourceKind::Ual,
        SourceKind::SentinelOfficeActivity,
        SourceKind::DefenderCloudAppEvents,
        SourceKind::EntraSignIn,
        SourceKind::EntraAudit,
        SourceKind::WindowsEvent,
        SourceKind::Generic,
    ];
    all.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|k| k.as_str()).collect();
        format!("unknown source {s:?}; one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_shapes_stormwatch_reads() {
        let ual = serde_json::json!({"Operation": "MailItemsAccessed", "RecordType": 50});
        assert_eq!(classify(&ual), SourceKind::Ual);
        let az = serde_json::json!({"category": "NonInteractiveUserSignInLogs", "properties": {}});
        assert_eq!(classify(&az), SourceKind::EntraSignIn);
        let graph =
            serde_json::json!({"createdDateTime": "x", "userPrincipalName": "a", "status": {}});
        assert_eq!(classify(&graph), SourceKind::EntraSignIn);
        assert_eq!(
            classify(&serde_json::json!({"eventName": "x"})),
            SourceKind::Generic
        );
    }

    #[test]
    fn reads_ndjson_arrays_and_envelopes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let nd = dir.path().join("a.ndjson");
        std::fs::write(&nd, "{\"a\":1}\n\nnot json\n{\"b\":2}\n").unwrap_or_else(|e| panic!("{e}"));
        let (ev, bad) = read(&nd, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1].loc.line, 4);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 3);
        let arr = dir.path().join("b.json");
        std::fs::write(&arr, "{\"value\":[{\"a\":1},{\"a\":2},{\"a\":3}]}")
            .unwrap_or_else(|e| panic!("{e}"));
        let (ev, bad) = read(&arr, Some(SourceKind::Ual)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((ev.len(), bad.len()), (3, 0));
        assert_eq!(ev[2].source, SourceKind::Ual);
    }
}
