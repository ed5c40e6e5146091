//! Normalisers: one parsed record in, one [`Event`] out. The record's shape is detected from
//! its keys (or forced by `--input-format`), so one file may mix shapes.

pub(crate) mod access;
mod entra;
mod index;
pub(crate) mod mail;
mod other;
mod record_type;
pub(crate) mod ual;

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};
use stormwatch_core::{Event, Timestamp};

use crate::options::{InputFormat, Limits};
use access::{field, nested, str_of};
use index::Obj;
pub(crate) use index::Rec;

/// A record-level problem in one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) field: Option<String>,
    pub(crate) reason: String,
}

impl FieldError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        FieldError {
            field: None,
            reason: reason.into(),
        }
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    if v.is_str() {
        "a string"
    } else if v.is_number() {
        "a number"
    } else if v.is_boolean() {
        "a boolean"
    } else if v.is_array() {
        "an array"
    } else if v.is_object() {
        "an object"
    } else {
        "null"
    }
}

/// The first of `keys` present: parsed as a timestamp. A present but unparseable or
/// mistyped value is an error (the record cannot be placed in time).
pub(crate) fn time_of<O: Obj + ?Sized>(
    v: &O,
    keys: &[&str],
) -> Result<Option<Timestamp>, FieldError> {
    for k in keys {
        let Some(x) = v.field_raw(k) else { continue };
        if x.is_null() {
            continue;
        }
        let err = |reason: String| FieldError {
            field: Some((*k).to_owned()),
            reason,
        };
        return match x.as_str() {
            Some(s) if s.trim().is_empty() => continue,
            Some(s) => match plain_time(s) {
                Some(t) => Ok(Some(t)),
                None => Timestamp::parse(s)
                    .map(Some)
                    .map_err(|e| err(e.to_string())),
            },
            None => Err(err(format!(
                "expected a timestamp string, found {}",
                type_name(x)
            ))),
        };
    }
    Ok(None)
}

/// The form nearly every record's time takes, `YYYY-MM-DDTHH:MM:SS` with or without a `Z`,
/// read without the general parser; `None` for anything else (or an impossible date), which
/// [`Timestamp::parse`] then reads or explains. Both give the same instant.
fn plain_time(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let b = match b.len() {
        19 => b,
        20 if matches!(b[19], b'Z' | b'z') => &b[..19],
        _ => return None,
    };
    let mut n = [0u32; 6];
    let mut field = 0;
    for (i, &c) in b.iter().enumerate() {
        let sep = match i {
            4 | 7 => Some(b'-'),
            10 => Some(b'T'),
            13 | 16 => Some(b':'),
            _ => None,
        };
        match sep {
            Some(want) if c == want => field += 1,
            Some(_) => return None,
            None if c.is_ascii_digit() => n[field] = n[field] * 10 + u32::from(c - b'0'),
            None => return None,
        }
    }
    Timestamp::from_civil(i64::from(n[0]), n[1], n[2], n[3], n[4], n[5], 0)
}

/// The record shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Auto,
    Ual,
    Sentinel,
    Defender,
    GraphAudit,
    SignIn,
    AzureMonitor,
    EntraAudit,
    Windows,
    Generic,
}

impl Shape {
    pub(crate) fn from_format(f: InputFormat) -> Self {
        match f {
            InputFormat::Auto | InputFormat::Ndjson | InputFormat::Json | InputFormat::Csv => {
                Shape::Auto
            }
            InputFormat::PurviewCsv | InputFormat::Ual => Shape::Ual,
            InputFormat::Sentinel => Shape::Sentinel,
            InputFormat::Defender => Shape::Defender,
            InputFormat::GraphAudit => Shape::GraphAudit,
            InputFormat::EntraGraph => Shape::SignIn,
            InputFormat::EntraAzureMonitor => Shape::AzureMonitor,
            InputFormat::EntraAudit => Shape::EntraAudit,
            InputFormat::Evtx => Shape::Windows,
            InputFormat::Generic => Shape::Generic,
        }
    }
}

fn has<O: Obj + ?Sized>(v: &O, k: &str) -> bool {
    v.field_raw(k).is_some()
}

/// Detect the shape of one record from its keys.
pub(crate) fn detect<O: Obj + ?Sized>(v: &O) -> Shape {
    if has(v, "RawEventData") {
        return Shape::Defender;
    }
    if has(v, "auditData") || has(v, "auditLogRecordType") {
        return Shape::GraphAudit;
    }
    if let Some(e) = v.field_raw("Event")
        && e.get("System").is_some()
    {
        return Shape::Windows;
    }
    if has(v, "category") && v.field_raw("properties").is_some_and(|p| p.is_object()) {
        return Shape::AzureMonitor;
    }
    let ty = v.field_raw("Type").and_then(|t| t.as_str()).unwrap_or("");
    if ty.eq_ignore_ascii_case("OfficeActivity") || has(v, "OfficeWorkload") {
        return Shape::Sentinel;
    }
    if entra::is_sign_in_category(ty) {
        return Shape::SignIn;
    }
    if ty.eq_ignore_ascii_case("AuditLogs")
        || ((has(v, "activityDisplayName") || has(v, "ActivityDisplayName"))
            && (has(v, "initiatedBy") || has(v, "InitiatedBy") || has(v, "targetResources")))
    {
        return Shape::EntraAudit;
    }
    if has(v, "createdDateTime")
        && (has(v, "userPrincipalName") || has(v, "appId"))
        && (has(v, "status")
            || has(v, "ipAddress")
            || has(v, "isInteractive")
            || has(v, "resourceId")
            || has(v, "uniqueTokenIdentifier"))
    {
        return Shape::SignIn;
    }
    if (has(v, "CreationTime") || has(v, "CreationDate"))
        && (has(v, "Operation")
            || has(v, "Operations")
            || has(v, "RecordType")
            || has(v, "Workload"))
    {
        return Shape::Ual;
    }
    if has(v, "Operation") && has(v, "RecordType") {
        return Shape::Ual;
    }
    Shape::Generic
}

/// Records inside a record: a JSON array, a `{"value":[…]}` / `{"records":[…]}` envelope,
/// or a rule-test extract wrapping the record in `log`.
pub(crate) enum Expansion<'v> {
    /// The value is one record.
    Single,
    /// The value holds these records.
    Many(Vec<&'v Value>),
    /// The record is wrapped: read the inner one.
    Wrapped(&'v Value),
}

pub(crate) fn expansion(v: &Value) -> Expansion<'_> {
    if let Some(arr) = v.as_array() {
        return Expansion::Many(arr.iter().collect());
    }
    let Some(obj) = v.as_object() else {
        return Expansion::Single;
    };
    // One pass over the keys: envelopes have only `value`/`records` and `@odata.*` keys;
    // wrapped extracts have `log` and `log_types`.
    let mut list = None;
    let mut only_envelope_keys = true;
    let mut log = None;
    let mut wrapper = false;
    for (k, x) in obj.iter() {
        match k {
            "value" | "records" => list = list.or(x.as_array()),
            "log" => log = Some(x),
            "log_types" | "p_log_type" => wrapper = true,
            _ => {}
        }
        if !(k == "value" || k == "records" || k.starts_with('@')) {
            only_envelope_keys = false;
        }
    }
    if only_envelope_keys
        && let Some(arr) = list
        && arr.iter().all(|x| x.is_object())
    {
        return Expansion::Many(arr.iter().collect());
    }
    if wrapper && let Some(inner) = log.filter(|l| l.is_object()) {
        return Expansion::Wrapped(inner);
    }
    Expansion::Single
}

/// Normalise one record (an object) into `ev` (a fresh event that holds the record's location).
/// `raw` is its JSON text; wrapped shapes replace it with the inner record's text as
/// [`Event::raw`] documents. `rec` is the record's key index when the caller built it already.
/// Returns whether `ev.raw` is the record's own text (`false` for a wrapped record).
pub(crate) fn normalise(
    v: &Value,
    rec: Option<&Rec<'_>>,
    raw: &str,
    shape: Shape,
    ev: &mut Event,
    limits: &Limits,
) -> Result<bool, FieldError> {
    let Some(obj) = v.as_object() else {
        return Err(FieldError::new(format!(
            "record is {}, not a JSON object",
            type_name(v)
        )));
    };
    if obj.len() > limits.max_fields {
        return Err(FieldError::new(format!(
            "record has {} fields, more than the limit of {}",
            obj.len(),
            limits.max_fields
        )));
    }
    let built;
    let rec = match rec {
        Some(r) => r,
        None => {
            built = Rec::new(v);
            &built
        }
    };
    let shape = if shape == Shape::Auto {
        detect(rec)
    } else {
        shape
    };
    let mut raw_override = None;
    match shape {
        Shape::Auto | Shape::Ual => ual::normalise(ev, rec, limits)?,
        Shape::Sentinel => ual::sentinel(ev, rec, limits)?,
        Shape::Defender => raw_override = ual::defender(ev, rec, limits)?,
        Shape::GraphAudit => raw_override = ual::graph_audit(ev, rec, limits)?,
        Shape::SignIn => entra::sign_in(ev, v, None, limits)?,
        Shape::AzureMonitor => {
            let props = field(rec, &["properties"]).and_then(|p| nested(p, limits));
            let category = str_of(rec, &["category"]).unwrap_or_default();
            match props {
                Some(p) if entra::is_sign_in_category(&category) => {
                    entra::sign_in(ev, &p, Some(v), limits)?;
                }
                Some(p)
                    if category.eq_ignore_ascii_case("AuditLogs")
                        || p.get("activityDisplayName").is_some() =>
                {
                    entra::audit(ev, &p, Some(v), limits)?;
                }
                _ => other::generic(ev, rec)?,
            }
        }
        Shape::EntraAudit => entra::audit(ev, v, None, limits)?,
        Shape::Windows => other::windows(ev, v)?,
        Shape::Generic => other::generic(ev, rec)?,
    }
    let own = raw_override.is_none();
    ev.raw = raw_override.unwrap_or_else(|| raw.to_owned());
    Ok(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_times_read_as_the_general_parser_reads_them() {
        for t in [
            "2023-06-12T03:14:07",
            "2023-06-12T03:14:07Z",
            "2024-02-29T23:59:59z",
            "1999-12-31T00:00:60",
        ] {
            assert_eq!(plain_time(t), Timestamp::parse(t).ok(), "{t}");
            assert!(plain_time(t).is_some(), "{t}");
        }
        // Anything else is left to the general parser.
        for t in [
            "2023-02-29T00:00:00",
            "2023-13-01T00:00:00",
            "0001-01-01T00:00:00",
            "2023-06-12T24:00:00",
            "2023-06-12 03:14:07",
            "2023-06-12T03:14:07.5",
            "2023-06-12T03:14:07+02:00",
            "2023-06-12T3:14:07Z",
            " 2023-06-12T03:14:07",
            "2023-06-12T03:14:0x",
            "6/12/2023 3:14:07 AM",
        ] {
            assert_eq!(plain_time(t), None, "{t}");
        }
    }
}
