//! Alerts and incidents as JSON: the API's shape, which the sinks send too.

use serde_json::{Value, json};
use stormwatch_store::{StoredAlert, StoredIncident};

/// An alert: every field of the detection (as in `hunt`'s JSONL: `id`, `rule_id`,
/// `rule_title`, `level`, `source`, `timestamp`, `events` as `[{file, line, record_id}]`,
/// `tenant`, `user`, `mailbox`, `ip`, `session_id`, `app_id`, `explanation`, `tags`,
/// `evidence`) and its state in the service (`status`, `status_by`, `status_at`,
/// `incident_id`, `late`, `settled`, `withdrawn`, `withdrawn_reason`, `revision`,
/// `created_at`, `updated_at`).
pub(crate) fn alert_json(a: &StoredAlert) -> Value {
    let mut v = serde_json::to_value(&a.detection).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        let carried = m.get("incident_id").cloned().filter(|i| !i.is_null());
        m.insert("status".into(), json!(a.status));
        m.insert("status_by".into(), json!(a.status_by));
        m.insert("status_at".into(), json!(a.status_at));
        m.insert(
            "incident_id".into(),
            a.incident_id
                .as_ref()
                .map(|i| json!(i))
                .or(carried)
                .unwrap_or(Value::Null),
        );
        m.insert("late".into(), json!(a.late));
        m.insert("settled".into(), json!(a.settled));
        m.insert("withdrawn".into(), json!(a.withdrawn));
        if let Some(r) = &a.withdrawn_reason {
            m.insert("withdrawn_reason".into(), json!(r));
        }
        m.insert("revision".into(), json!(a.revision));
        m.insert("created_at".into(), json!(a.created_at));
        m.insert("updated_at".into(), json!(a.updated_at));
    }
    v
}

/// An incident: every field the detector gave it, and its state in the service.
pub(crate) fn incident_json(i: &StoredIncident) -> Value {
    let mut v = match &i.record.body {
        Value::Object(_) => i.record.body.clone(),
        _ => json!({}),
    };
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(i.record.id));
        m.insert("level".into(), json!(i.record.level));
        m.insert("score".into(), json!(i.record.score));
        m.insert("first".into(), json!(i.record.first));
        m.insert("last".into(), json!(i.record.last));
        m.insert("title".into(), json!(i.record.title));
        m.insert("status".into(), json!(i.status));
        m.insert("status_by".into(), json!(i.status_by));
        m.insert("status_at".into(), json!(i.status_at));
        m.insert("removed".into(), json!(i.removed));
        m.insert("created_at".into(), json!(i.created_at));
        m.insert("updated_at".into(), json!(i.updated_at));
    }
    v
}

/// What a sink sends about an alert: `{"type", "id", "revision", "alert"}`. `type` is
/// `alert.raised`, `alert.updated` or `alert.withdrawn`; `id` (the alert's id) is the
/// idempotency key.
pub(crate) fn message(event: &str, a: &StoredAlert) -> String {
    json!({
        "type": event,
        "id": a.detection.id,
        "revision": a.revision,
        "alert": alert_json(a),
    })
    .to_string()
}
