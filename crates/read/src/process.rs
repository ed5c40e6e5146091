//! Parsing and normalising the items of a batch (run in parallel), then filtering.

use std::borrow::Cow;
use std::sync::Arc;

use rayon::prelude::*;
use sonic_rs::{JsonValueTrait, Value};
use stormwatch_core::{Event, Location, Parsed, RecordError, Timestamp};

use crate::frame::csv::split_row;
use crate::frame::json::depth_exceeds;
use crate::frame::{Batch, FrameError, Item};
use crate::normalise::access::{json_text, str_of};
use crate::normalise::ual::record_type_text;
use crate::normalise::{self, Expansion, FieldError, Rec, Shape};
use crate::options::Limits;

/// What became of one record.
#[derive(Debug)]
pub(crate) enum Outcome {
    Event(Event),
    /// Read, then left out by the time or tenant filter.
    Filtered(Option<Timestamp>),
    Error(RecordError),
    /// Read after a repair (trailing comma); the error says what was wrong.
    Repaired(Event, RecordError),
}

/// What became of one framed item (usually one record; JSON arrays inside a record expand).
/// `One` is kept unboxed: boxing would cost an allocation per record on the hot path.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum ItemOut {
    One(Outcome),
    Many(Vec<Outcome>),
}

/// Filters of the run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub(crate) since: Option<Timestamp>,
    pub(crate) until: Option<Timestamp>,
    pub(crate) tenants: Vec<String>,
}

impl Filter {
    fn keeps(&self, ev: &Event) -> bool {
        if let Some(t) = ev.time
            && (self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u))
        {
            return false;
        }
        if !self.tenants.is_empty() {
            let m = |v: &Option<String>| {
                v.as_deref()
                    .is_some_and(|x| self.tenants.iter().any(|t| t.eq_ignore_ascii_case(x)))
            };
            if !(m(&ev.tenant) || m(&ev.org_name)) {
                return false;
            }
        }
        true
    }
}

/// CSV columns that matter, found in the header (case-insensitive).
#[derive(Debug, Clone)]
pub(crate) struct CsvCols {
    header: Vec<String>,
    audit_data: Option<usize>,
    record_id: Option<usize>,
    creation: Option<usize>,
    record_type: Option<usize>,
    operation: Option<usize>,
    user: Option<usize>,
}

impl CsvCols {
    pub(crate) fn new(header: &[String]) -> Self {
        let find = |names: &[&str]| {
            header
                .iter()
                .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
        };
        CsvCols {
            header: header.to_vec(),
            audit_data: find(&["AuditData"]),
            record_id: find(&["RecordId", "Identity"]),
            creation: find(&["CreationDate", "CreationTime"]),
            record_type: find(&["RecordType"]),
            operation: find(&["Operation", "Operations"]),
            user: find(&["UserId", "UserIds"]),
        }
    }
}

/// Everything record processing needs about the file.
pub(crate) struct FileCtx {
    pub(crate) file: Arc<str>,
    pub(crate) shape: Shape,
    pub(crate) limits: Limits,
    pub(crate) csv: Option<CsvCols>,
    pub(crate) filter: Filter,
    /// Hand events the parsed record (`ReadOptions::keep_parsed`).
    pub(crate) keep_parsed: bool,
}

impl FileCtx {
    fn loc(&self, line: u64) -> Location {
        Location {
            file: Arc::clone(&self.file),
            line,
            record_id: None,
        }
    }

    fn error(&self, line: u64, field: Option<String>, reason: String) -> Outcome {
        Outcome::Error(RecordError {
            loc: self.loc(line),
            field,
            reason,
        })
    }

    /// Attach the parsed record to the event when asked to and `whole` (the event's `raw` is
    /// the text `value` was parsed from).
    fn keep(&self, (out, whole): (Outcome, bool), value: Value) -> Outcome {
        if !self.keep_parsed || !whole {
            return out;
        }
        match out {
            Outcome::Event(mut ev) => {
                ev.parsed = Some(Parsed(value));
                Outcome::Event(ev)
            }
            Outcome::Repaired(mut ev, err) => {
                ev.parsed = Some(Parsed(value));
                Outcome::Repaired(ev, err)
            }
            other => other,
        }
    }

    fn finish(&self, ev: Event) -> Outcome {
        if self.filter.keeps(&ev) {
            Outcome::Event(ev)
        } else {
            Outcome::Filtered(ev.time)
        }
    }
}

/// Process every item of a batch, in parallel, keeping their order.
pub(crate) fn process_batch(batch: &Batch, ctx: &FileCtx) -> Vec<ItemOut> {
    batch
        .items
        .par_iter()
        .with_min_len(32)
        .map(|item| process_item(item, &batch.data, ctx))
        .collect()
}

fn process_item(item: &Item, data: &[u8], ctx: &FileCtx) -> ItemOut {
    match item {
        Item::Error(FrameError {
            line,
            field,
            reason,
        }) => ItemOut::One(ctx.error(*line, field.clone(), reason.clone())),
        Item::Record {
            start,
            end,
            line,
            file_line,
        } => {
            let bytes = data.get(*start..*end).unwrap_or_default();
            match &ctx.csv {
                Some(cols) => csv_row(bytes, *line, cols, ctx),
                None => json_record(bytes, *line, Some(*file_line), None, ctx),
            }
        }
    }
}

/// The short description of a parse error, and whether it is a trailing comma.
fn describe(e: &sonic_rs::Error, bytes: &[u8]) -> (String, bool) {
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or_default();
    let desc = first
        .find(" at line ")
        .map_or(first, |i| &first[..i])
        .to_owned();
    let off = e.offset().min(bytes.len());
    let at = bytes.get(off).copied();
    let before = bytes[..off]
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .copied();
    let trailing = matches!(at, Some(b']' | b'}')) && before == Some(b',');
    if trailing {
        let closing = char::from(at.unwrap_or(b']'));
        return (format!("trailing comma before '{closing}'"), true);
    }
    (desc, false)
}

/// Remove commas that directly precede `]` or `}` (outside strings).
fn without_trailing_commas(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_str = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_str {
            out.push(b);
            if b == b'\\' {
                if let Some(&n) = bytes.get(i + 1) {
                    out.push(n);
                }
                i += 1;
            } else if b == b'"' {
                in_str = false;
            }
        } else if b == b',' {
            let next = bytes[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
            if !matches!(next, Some(b']' | b'}')) {
                out.push(b);
            }
        } else {
            if b == b'"' {
                in_str = true;
            }
            out.push(b);
        }
        i += 1;
    }
    out
}

/// Extra columns of a CSV row, to fill what `AuditData` lacks.
struct RowExtras<'a> {
    fields: &'a [Cow<'a, str>],
    cols: &'a CsvCols,
}

impl RowExtras<'_> {
    fn get(&self, idx: Option<usize>) -> Option<&str> {
        idx.and_then(|i| self.fields.get(i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    fn fill(&self, ev: &mut Event) {
        if ev.time.is_none() {
            ev.time = self
                .get(self.cols.creation)
                .and_then(|s| Timestamp::parse(s).ok());
        }
        if ev.loc.record_id.is_none() {
            ev.loc.record_id = self.get(self.cols.record_id).map(str::to_owned);
        }
        if ev.operation.is_none() {
            ev.operation = self.get(self.cols.operation).map(str::to_owned);
        }
        if ev.user.is_none() {
            ev.user = self.get(self.cols.user).map(str::to_owned);
        }
        if ev.record_type.is_none()
            && let Some(rt) = self.get(self.cols.record_type)
        {
            ev.record_type = record_type_text(rt);
        }
    }
}

fn json_record(
    bytes: &[u8],
    line: u64,
    file_line: Option<u64>,
    extras: Option<&RowExtras<'_>>,
    ctx: &FileCtx,
) -> ItemOut {
    let field = extras.map(|_| "AuditData".to_owned());
    if depth_exceeds(bytes, ctx.limits.max_depth) {
        return ItemOut::One(ctx.error(
            line,
            field,
            format!("nesting deeper than {} levels", ctx.limits.max_depth),
        ));
    }
    let (value, repaired) = match sonic_rs::from_slice::<Value>(bytes) {
        Ok(v) => (v, None),
        Err(e) => {
            let (desc, trailing) = describe(&e, bytes);
            let place = match file_line {
                Some(fl) => format!(
                    "at line {}, column {}",
                    fl + e.line().saturating_sub(1) as u64,
                    e.column()
                ),
                None => format!("at line {} column {} of the field", e.line(), e.column()),
            };
            let reason = format!("invalid JSON {place}: {desc}");
            if trailing
                && let Ok(v) = sonic_rs::from_slice::<Value>(&without_trailing_commas(bytes))
            {
                (v, Some(format!("{reason}; record read without it")))
            } else {
                return ItemOut::One(ctx.error(line, field, reason));
            }
        }
    };
    let raw = std::str::from_utf8(bytes).unwrap_or_default().trim();
    let one = |v: &Value, rec: Option<Rec<'_>>, raw: Cow<'_, str>| -> (Outcome, bool) {
        match normalise::normalise(v, rec, &raw, ctx.shape, ctx.loc(line), &ctx.limits) {
            Ok((mut ev, whole)) => {
                if let Some(x) = extras {
                    x.fill(&mut ev);
                }
                let out = match &repaired {
                    Some(why) => {
                        let err = RecordError {
                            loc: ev.loc.clone(),
                            field: field.clone(),
                            reason: why.clone(),
                        };
                        Outcome::Repaired(ev, err)
                    }
                    None => ctx.finish(ev),
                };
                (out, whole)
            }
            Err(FieldError { field: f, reason }) => {
                let mut loc = ctx.loc(line);
                loc.record_id = str_of(v, &["Id", "id", "RecordId"]);
                let err = Outcome::Error(RecordError {
                    loc,
                    field: f.or_else(|| field.clone()),
                    reason,
                });
                (err, false)
            }
        }
    };
    let raw_of = |v: &Value| -> Cow<'_, str> {
        if repaired.is_some() {
            Cow::Owned(json_text(v))
        } else {
            Cow::Borrowed(raw)
        }
    };
    // The common case: one object that holds no other records. Its key index is built once,
    // for both the expansion check and the normaliser.
    if value.is_object() {
        let rec = Rec::new(&value);
        if !rec.may_expand() {
            let out = one(&value, Some(rec), raw_of(&value));
            return ItemOut::One(ctx.keep(out, value));
        }
    }
    match normalise::expansion(&value) {
        Expansion::Single => {
            let out = one(&value, None, raw_of(&value));
            ItemOut::One(ctx.keep(out, value))
        }
        Expansion::Wrapped(inner) => ItemOut::One(one(inner, None, Cow::Owned(json_text(inner))).0),
        Expansion::Many(elems) => ItemOut::Many(
            elems
                .into_iter()
                .map(|e| one(e, None, Cow::Owned(json_text(e))).0)
                .collect(),
        ),
    }
}

fn csv_row(bytes: &[u8], line: u64, cols: &CsvCols, ctx: &FileCtx) -> ItemOut {
    let mut fields = Vec::new();
    if let Err(why) = split_row(bytes, ctx.limits.max_fields, &mut fields) {
        return ItemOut::One(ctx.error(line, None, why));
    }
    if fields.len() != cols.header.len() {
        return ItemOut::One(ctx.error(
            line,
            None,
            format!(
                "expected {} fields (as in the header), found {}",
                cols.header.len(),
                fields.len()
            ),
        ));
    }
    if let Some(i) = cols.audit_data {
        let audit = fields.get(i).map_or("", |s| s.trim());
        if audit.is_empty() {
            return ItemOut::One(ctx.error(
                line,
                Some("AuditData".to_owned()),
                "empty AuditData".to_owned(),
            ));
        }
        let extras = RowExtras {
            fields: &fields,
            cols,
        };
        return json_record(audit.as_bytes(), line, None, Some(&extras), ctx);
    }
    // No AuditData: the row is an object keyed by the header.
    let mut obj = String::with_capacity(bytes.len() + cols.header.len() * 8);
    obj.push('{');
    for (i, (k, v)) in cols.header.iter().zip(fields.iter()).enumerate() {
        if i > 0 {
            obj.push(',');
        }
        obj.push_str(&serde_json::to_string(k).unwrap_or_default());
        obj.push(':');
        obj.push_str(&serde_json::to_string(v.as_ref()).unwrap_or_default());
    }
    obj.push('}');
    json_record(obj.as_bytes(), line, None, None, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_commas_are_removed_outside_strings_only() {
        let fixed = without_trailing_commas(br#"{"a":[1,2, ],"s":",]","o":{"x":1,}}"#);
        assert_eq!(fixed, br#"{"a":[1,2 ],"s":",]","o":{"x":1}}"#.to_vec());
    }
}
