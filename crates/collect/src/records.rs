//! Records out of response bodies: each kept byte for byte as the API sent it (only the
//! whitespace between tokens removed, so it fits one NDJSON line), with its identity for
//! de-duplication and its time for partitioning.

use serde::Deserialize;
use serde_json::value::RawValue;
use stormwatch_core::Timestamp;

use crate::error::ApiError;
use crate::source::{Api, Source};

/// One record ready to write.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// 128 bits of SHA-256 over the record's id (`None`: the record has no id).
    pub(crate) key: Option<u128>,
    /// The record's time (`None`: missing or unreadable).
    pub(crate) time: Option<Timestamp>,
    /// The record, minified.
    pub(crate) line: Vec<u8>,
    /// An Exchange `MailItemsAccessed` record (the licence signal).
    pub(crate) mail_items_accessed: bool,
}

/// What one body held.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) records: Vec<Record>,
    /// Elements that are not JSON objects.
    pub(crate) invalid: u64,
    /// The first problem with an element, for the manifest.
    pub(crate) first_problem: Option<String>,
    /// Graph's `@odata.nextLink`.
    pub(crate) next_link: Option<String>,
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow, default)]
    value: Option<Vec<&'a RawValue>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// A Management Activity API content blob: a JSON array of audit records.
pub(crate) fn parse_blob(body: &[u8], source: Source) -> Result<Parsed, ApiError> {
    let items: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| {
        ApiError::Invalid(format!(
            "the content blob is not a JSON array of records: {e}"
        ))
    })?;
    Ok(collect(&items, source))
}

/// A Graph collection page: `{"value": [...], "@odata.nextLink": "..."}`.
pub(crate) fn parse_page(body: &[u8], source: Source) -> Result<Parsed, ApiError> {
    let page: Page<'_> = serde_json::from_slice(body)
        .map_err(|e| ApiError::Invalid(format!("the page is not a Graph collection: {e}")))?;
    let items = page.value.ok_or_else(|| {
        ApiError::Invalid("the page is not a Graph collection: no \"value\" array".to_owned())
    })?;
    let mut parsed = collect(&items, source);
    parsed.next_link = page.next_link.filter(|l| !l.is_empty());
    Ok(parsed)
}

fn collect(items: &[&RawValue], source: Source) -> Parsed {
    let mut out = Parsed::default();
    out.records.reserve(items.len());
    for (i, raw) in items.iter().enumerate() {
        match record(raw, source) {
            Some(r) => out.records.push(r),
            None => {
                out.invalid += 1;
                if out.first_problem.is_none() {
                    out.first_problem = Some(format!("element {}: not a JSON object", i + 1));
                }
            }
        }
    }
    out
}

/// The fields a record is known by, per source.
fn fields(source: Source) -> (&'static str, &'static str) {
    match source.api() {
        Api::Activity => ("Id", "CreationTime"),
        Api::Purview => ("id", "createdDateTime"),
        Api::Graph if source == Source::DirectoryAudits => ("id", "activityDateTime"),
        Api::Graph => ("id", "createdDateTime"),
    }
}

fn record(raw: &RawValue, source: Source) -> Option<Record> {
    let text = raw.get();
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    let (id_field, time_field) = fields(source);
    let str_of = |o: &serde_json::Map<String, serde_json::Value>, k: &str| {
        o.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // A Purview record carries the audit record itself in `auditData`: its `Id` is the same
    // identity the Activity API gives, so the two de-duplicate against each other.
    let audit_data = obj.get("auditData").and_then(serde_json::Value::as_object);
    let id = match (source, audit_data) {
        (Source::AuditLogQuery, Some(a)) => str_of(a, "Id").or_else(|| str_of(&obj, id_field)),
        _ => str_of(&obj, id_field),
    };
    let time = str_of(&obj, time_field).and_then(|t| Timestamp::parse(&t).ok());
    let operation = match (source, audit_data) {
        (Source::AuditLogQuery, Some(a)) => str_of(a, "Operation"),
        (Source::AuditLogQuery, None) => str_of(&obj, "operation"),
        _ => str_of(&obj, "Operation"),
    };
    let mail_items_accessed =
        operation.is_some_and(|o| o.eq_ignore_ascii_case("MailItemsAccessed"));
    let mut line = Vec::with_capacity(text.len());
    minify(text, &mut line);
    Some(Record {
        key: id.map(|i| key_of(&i)),
        time,
        line,
        mail_items_accessed,
    })
}

/// The identity of a record id: the first 128 bits of its SHA-256.
pub(crate) fn key_of(id: &str) -> u128 {
    let d = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    u128::from_le_bytes(b)
}

/// Copy valid JSON without the whitespace between tokens (strings untouched).
pub(crate) fn minify(json: &str, out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    for &b in json.as_bytes() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_their_bytes_without_whitespace() {
        let body = br#"[
            {"CreationTime": "2015-06-29T20:03:19", "Id": "80c76bd2-9d81-4c57-a97a-accfc3443dca",
             "Operation": "MailItemsAccessed", "Note": "a \"quoted\"  text\n", "N": 1.50},
            42,
            {"Id": "", "CreationTime": "garbage"}
        ]"#;
        let p = parse_blob(body, Source::Exchange).unwrap();
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.invalid, 1);
        assert_eq!(
            p.first_problem.as_deref(),
            Some("element 2: not a JSON object")
        );
        let r = &p.records[0];
        assert_eq!(
            String::from_utf8(r.line.clone()).unwrap(),
            r#"{"CreationTime":"2015-06-29T20:03:19","Id":"80c76bd2-9d81-4c57-a97a-accfc3443dca","Operation":"MailItemsAccessed","Note":"a \"quoted\"  text\n","N":1.50}"#
        );
        assert_eq!(r.key, Some(key_of("80c76bd2-9d81-4c57-a97a-accfc3443dca")));
        assert_eq!(r.time.unwrap().to_string(), "2015-06-29T20:03:19Z");
        assert!(r.mail_items_accessed);
        assert_eq!(p.records[1].key, None);
        assert_eq!(p.records[1].time, None);
    }

    #[test]
    fn graph_pages_and_purview_records() {
        let body = br#"{"@odata.context":"x","@odata.nextLink":"https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=a",
            "value":[{"id":"s1","createdDateTime":"2020-03-13T19:15:41.6195833Z"}]}"#;
        let p = parse_page(body, Source::SignIns).unwrap();
        assert_eq!(p.records.len(), 1);
        assert!(p.next_link.unwrap().ends_with("skiptoken=a"));
        let body = br#"{"value":[{"id":"graph-id","createdDateTime":"2024-01-01T00:00:00Z","auditData":{"Id":"ual-id","Operation":"MailItemsAccessed"}}]}"#;
        let p = parse_page(body, Source::AuditLogQuery).unwrap();
        assert_eq!(p.records[0].key, Some(key_of("ual-id")));
        assert!(p.records[0].mail_items_accessed);
        assert!(parse_page(b"[1]", Source::SignIns).is_err());
        assert!(parse_page(br#"{"odata":1}"#, Source::SignIns).is_err());
        assert!(parse_blob(b"{\"value\":[]}", Source::Exchange).is_err());
    }
}
