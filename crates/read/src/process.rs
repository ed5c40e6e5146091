//! Parsing and normalising the items of a batch (run in parallel), then filtering.

use std::borrow::Cow;
use std::sync::Arc;

use rayon::prelude::*;
use sonic_rs::{JsonValueTrait, Value};
use stormwatch_core::{CoverageCell, Event, InputStats, Location, RecordError, Timestamp};

use crate::frame::csv::split_row;
use crate::frame::json::depth_exceeds;
use crate::frame::{Batch, FrameError, Item};
use crate::inspect::Inspect;
use crate::normalise::access::{json_text, str_of};
use crate::normalise::ual::record_type_text;
use crate::normalise::{self, Expansion, FieldError, Rec, Shape};
use crate::options::Limits;

/// What became of a run of records, in record order: the events, the record errors, and
/// the counts the statistics need. Events are written here directly by the normalisers (an
/// `Event` is large: every move of one costs a copy of it). `inspected` is what an
/// [`Inspect`] made of the kept events.
#[derive(Debug, Default)]
pub(crate) struct Processed<O = ()> {
    pub(crate) events: Vec<Event>,
    pub(crate) inspected: O,
    /// Errors, in record order (those of repaired records included).
    pub(crate) errors: Vec<RecordError>,
    /// Records read (events, filtered out or not).
    pub(crate) records: u64,
    /// Records read, then left out by the time or tenant filter.
    pub(crate) filtered: u64,
    /// Records skipped as errors.
    pub(crate) skipped: u64,
    /// Events whose mail items were flattened away by the export.
    pub(crate) items_lost: u64,
    /// Earliest and latest record time (filtered records included).
    pub(crate) first: Option<Timestamp>,
    pub(crate) last: Option<Timestamp>,
    /// What the kept events cover.
    pub(crate) coverage: Coverage,
    /// The file name the events of this run share.
    file: Option<Arc<str>>,
}

/// Records per (tenant, workload, day) of a run of events, merged in the run (a run is short,
/// and holds few distinct tenants and workloads; a hostile one with many costs only time).
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    tenants: Vec<Option<String>>,
    workloads: Vec<String>,
    /// (tenant index, workload index, day) → counts.
    cells: Vec<(usize, usize, i64, CoverageCell)>,
}

impl Coverage {
    fn add(&mut self, ev: &Event) {
        let Some(t) = ev.time else { return };
        let day = t.day_number();
        let tenant = ev.tenant.as_deref();
        let ti = match self.tenants.iter().position(|x| x.as_deref() == tenant) {
            Some(i) => i,
            None => {
                self.tenants.push(ev.tenant.clone());
                self.tenants.len() - 1
            }
        };
        let workload = ev.workload.as_deref().unwrap_or(ev.source.as_str());
        let wi = match self.workloads.iter().position(|x| x == workload) {
            Some(i) => i,
            None => {
                self.workloads.push(workload.to_owned());
                self.workloads.len() - 1
            }
        };
        let ci = match self
            .cells
            .iter()
            .rposition(|(a, b, d, _)| (*a, *b, *d) == (ti, wi, day))
        {
            Some(i) => i,
            None => {
                self.cells.push((ti, wi, day, CoverageCell::default()));
                self.cells.len() - 1
            }
        };
        if let Some((.., cell)) = self.cells.get_mut(ci) {
            cell.records += 1;
            if ev.is_mail_items_accessed() {
                cell.mail_items_accessed += 1;
            }
        }
    }

    /// Add these counts to the statistics' coverage grid.
    pub(crate) fn merge_into(self, stats: &mut InputStats) {
        for (ti, wi, day, c) in self.cells {
            let tenant = self.tenants.get(ti).cloned().flatten().unwrap_or_default();
            let workload = self.workloads.get(wi).cloned().unwrap_or_default();
            let date = Timestamp::from_unix_seconds(day * 86_400).date_string();
            let cell = stats.coverage.entry((tenant, workload, date)).or_default();
            cell.records += c.records;
            cell.mail_items_accessed += c.mail_items_accessed;
        }
    }
}

impl<O> Processed<O> {
    fn note_time(&mut self, t: Option<Timestamp>) {
        widen_span(&mut self.first, &mut self.last, t);
    }

    /// Start an event of `file` at `line`, in place (to be kept, filtered out or dropped).
    /// The events of one run share their own copy of the file name: one shared by all the
    /// events of the file would have its reference count updated by every worker and by the
    /// sink, all on one cache line.
    fn begin(&mut self, file: &Arc<str>, line: u64) -> &mut Event {
        let file = Arc::clone(self.file.get_or_insert_with(|| Arc::from(&**file)));
        self.events.push(Event {
            loc: Location {
                file,
                line,
                record_id: None,
            },
            ..Event::default()
        });
        let last = self.events.len() - 1;
        &mut self.events[last]
    }

    /// The event begun last.
    fn current(&mut self) -> Option<&mut Event> {
        self.events.last_mut()
    }

    /// Drop the event begun last (the record was an error).
    fn abort(&mut self) {
        self.events.pop();
    }

    /// Keep the event begun last.
    fn commit(&mut self) {
        let Some(ev) = self.events.last() else { return };
        let (time, lost) = (ev.time, ev.mail.as_ref().is_some_and(|m| m.items_lost));
        self.coverage.add(ev);
        self.records += 1;
        self.note_time(time);
        if lost {
            self.items_lost += 1;
        }
    }

    /// Keep the event begun last, read after a repair: `err` says what was wrong.
    fn commit_repaired(&mut self, err: RecordError) {
        self.errors.push(err);
        self.commit();
    }

    /// Count the event begun last as filtered out, and drop it.
    fn filter_out(&mut self) {
        if let Some(ev) = self.events.pop() {
            self.filtered(ev.time);
        }
    }

    fn filtered(&mut self, t: Option<Timestamp>) {
        self.records += 1;
        self.filtered += 1;
        self.note_time(t);
    }

    fn error(&mut self, e: RecordError) {
        self.skipped += 1;
        self.errors.push(e);
    }
}

/// Widen the span `first..=last` to hold `t` (when there is one).
pub(crate) fn widen_span(
    first: &mut Option<Timestamp>,
    last: &mut Option<Timestamp>,
    t: Option<Timestamp>,
) {
    if let Some(t) = t {
        *first = Some(first.map_or(t, |f| f.min(t)));
        *last = Some(last.map_or(t, |l| l.max(t)));
    }
}

/// Filters of the run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub(crate) since: Option<Timestamp>,
    pub(crate) until: Option<Timestamp>,
    /// Tenant ids and organisation names (and the domains given, which may be either).
    pub(crate) tenants: Vec<String>,
    /// The selectors that look like domains, lower-case: records whose user or mailbox is in
    /// one are kept too.
    pub(crate) domains: Vec<String>,
}

/// Does `name` (`user@domain`) belong to `domain` or a subdomain of it?
pub(crate) fn in_domain(name: &str, domain: &str) -> bool {
    let Some((_, d)) = name.rsplit_once('@') else {
        return false;
    };
    d.eq_ignore_ascii_case(domain)
        || (d.len() > domain.len()
            && d.get(d.len() - domain.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(domain))
            && d.as_bytes().get(d.len() - domain.len() - 1) == Some(&b'.'))
}

/// Does a `--tenant` value look like a domain (`agency.example`) rather than a tenant id?
pub(crate) fn looks_like_domain(s: &str) -> bool {
    let s = s.trim();
    s.contains('.')
        && !s.contains('@')
        && !s.contains(char::is_whitespace)
        && !s.starts_with('.')
        && !s.ends_with('.')
}

impl Filter {
    pub(crate) fn new(
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        tenants: Vec<String>,
    ) -> Self {
        let domains = tenants
            .iter()
            .filter(|t| looks_like_domain(t))
            .map(|t| t.trim().to_ascii_lowercase())
            .collect();
        Filter {
            since,
            until,
            tenants,
            domains,
        }
    }

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
            let d = |v: &Option<String>| {
                v.as_deref()
                    .is_some_and(|x| self.domains.iter().any(|d| in_domain(x, d)))
            };
            if !(m(&ev.tenant) || m(&ev.org_name) || d(&ev.user) || d(&ev.mailbox)) {
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
}

impl FileCtx {
    fn loc(&self, line: u64) -> Location {
        Location {
            file: Arc::clone(&self.file),
            line,
            record_id: None,
        }
    }

    fn error(&self, line: u64, field: Option<String>, reason: String) -> RecordError {
        RecordError {
            loc: self.loc(line),
            field,
            reason,
        }
    }

    /// Keep the event begun last in `out` (`true`), or count it as filtered out.
    fn finish<O>(&self, out: &mut Processed<O>) -> bool {
        if out.current().is_some_and(|ev| self.filter.keeps(ev)) {
            out.commit();
            true
        } else {
            out.filter_out();
            false
        }
    }
}

/// Records a worker processes in one go. Their events go to the sink together: one vector
/// per run of records, not one per batch, saves copying every event into a batch-sized vector
/// (and allocating a fresh one of several megabytes per batch, whose pages the allocator
/// returns to the system and faults in again).
const CHUNK: usize = 256;

/// Process every item of a batch, in parallel, in runs of at most [`CHUNK`] items (a batch of
/// few large records is still cut into up to 16 runs of at least 8, for the workers to share;
/// the runs depend on the batch alone, not on the thread count); the results keep the items'
/// order.
pub(crate) fn process_batch<I: Inspect>(
    batch: &Batch,
    ctx: &FileCtx,
    inspect: &I,
) -> Vec<Processed<I::Out>> {
    let run = (batch.items.len() / 16).clamp(8, CHUNK);
    batch
        .items
        .par_chunks(run)
        .map(|items| {
            let mut out = Processed {
                events: Vec::with_capacity(items.len()),
                ..Processed::default()
            };
            let rec = Recorder { ctx, inspect };
            for item in items {
                process_item(item, &batch.data, &rec, &mut out);
            }
            if !inspect.keeps_events() {
                // Freed here, on the thread that allocated them.
                out.events = Vec::new();
            }
            out
        })
        .collect()
}

/// Processes the records of a run: the file's context and the inspection of kept events.
struct Recorder<'a, I> {
    ctx: &'a FileCtx,
    inspect: &'a I,
}

fn process_item<I: Inspect>(
    item: &Item,
    data: &[u8],
    rec: &Recorder<'_, I>,
    out: &mut Processed<I::Out>,
) {
    let ctx = rec.ctx;
    match item {
        Item::Error(FrameError {
            line,
            field,
            reason,
        }) => out.error(ctx.error(*line, field.clone(), reason.clone())),
        Item::Record {
            start,
            end,
            line,
            file_line,
        } => {
            let bytes = data.get(*start..*end).unwrap_or_default();
            match &ctx.csv {
                Some(cols) => csv_row(bytes, *line, cols, rec, out),
                None => json_record(
                    Text::Unchecked(bytes),
                    *line,
                    Some(*file_line),
                    None,
                    rec,
                    out,
                ),
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

/// A record's text: bytes not yet checked as UTF-8, or text that was.
#[derive(Clone, Copy)]
enum Text<'a> {
    Unchecked(&'a [u8]),
    Checked(&'a str),
}

fn json_record<I: Inspect>(
    input: Text<'_>,
    line: u64,
    file_line: Option<u64>,
    extras: Option<&RowExtras<'_>>,
    rec: &Recorder<'_, I>,
    out: &mut Processed<I::Out>,
) {
    let ctx = rec.ctx;
    let field = extras.map(|_| "AuditData".to_owned());
    let bytes = match input {
        Text::Unchecked(b) => b,
        Text::Checked(t) => t.as_bytes(),
    };
    if depth_exceeds(bytes, ctx.limits.max_depth) {
        out.error(ctx.error(
            line,
            field,
            format!("nesting deeper than {} levels", ctx.limits.max_depth),
        ));
        return;
    }
    // UTF-8 is checked once (here, or by the caller): the text is then parsed without sonic-rs
    // checking it again. Invalid text goes to sonic-rs as bytes, for its located error.
    let text = match input {
        Text::Unchecked(b) => simdutf8::basic::from_utf8(b).ok(),
        Text::Checked(t) => Some(t),
    };
    let parsed = match text {
        Some(t) => sonic_rs::from_str::<Value>(t),
        None => sonic_rs::from_slice::<Value>(bytes),
    };
    let (value, repaired) = match parsed {
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
                out.error(ctx.error(line, field, reason));
                return;
            }
        }
    };
    let raw = text.unwrap_or_default().trim();
    // Normalise one record into an event begun in `out`, then keep it (or filter it out) and
    // inspect it if kept; a field error is recorded instead. The inspector gets the parse
    // only when it is the parse of the event's raw text, not of a row wrapping that record.
    let record =
        |v: &Value, index: Option<&Rec<'_>>, raw: Cow<'_, str>, out: &mut Processed<I::Out>| {
            let ev = out.begin(&ctx.file, line);
            let own = match normalise::normalise(v, index, &raw, ctx.shape, ev, &ctx.limits) {
                Ok(own) => {
                    if let Some(x) = extras {
                        x.fill(ev);
                    }
                    own
                }
                Err(FieldError { field: f, reason }) => {
                    out.abort();
                    let mut loc = ctx.loc(line);
                    loc.record_id = str_of(v, &["Id", "id", "RecordId"]);
                    out.error(RecordError {
                        loc,
                        field: f.or_else(|| field.clone()),
                        reason,
                    });
                    return;
                }
            };
            let kept = match &repaired {
                Some(why) => {
                    let loc = out.current().map(|ev| ev.loc.clone()).unwrap_or_default();
                    out.commit_repaired(RecordError {
                        loc,
                        field: field.clone(),
                        reason: why.clone(),
                    });
                    true
                }
                None => ctx.finish(out),
            };
            if kept && let Some(ev) = out.events.last() {
                rec.inspect
                    .inspect(ev, own.then_some(v), &mut out.inspected);
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
    let index = value.is_object().then(|| Rec::new(&value));
    if let Some(index) = index.as_ref().filter(|r| !r.may_expand()) {
        record(&value, Some(index), raw_of(&value), out);
        return;
    }
    match normalise::expansion(&value) {
        Expansion::Single => record(&value, None, raw_of(&value), out),
        Expansion::Wrapped(inner) => record(inner, None, Cow::Owned(json_text(inner)), out),
        Expansion::Many(elems) => {
            for e in elems {
                record(e, None, Cow::Owned(json_text(e)), out);
            }
        }
    }
}

fn csv_row<I: Inspect>(
    bytes: &[u8],
    line: u64,
    cols: &CsvCols,
    rec: &Recorder<'_, I>,
    out: &mut Processed<I::Out>,
) {
    let ctx = rec.ctx;
    let mut fields = Vec::new();
    if let Err(why) = split_row(bytes, ctx.limits.max_fields, &mut fields) {
        out.error(ctx.error(line, None, why));
        return;
    }
    if fields.len() != cols.header.len() {
        out.error(ctx.error(
            line,
            None,
            format!(
                "expected {} fields (as in the header), found {}",
                cols.header.len(),
                fields.len()
            ),
        ));
        return;
    }
    if let Some(i) = cols.audit_data {
        let audit = fields.get(i).map_or("", |s| s.trim());
        if audit.is_empty() {
            out.error(ctx.error(
                line,
                Some("AuditData".to_owned()),
                "empty AuditData".to_owned(),
            ));
            return;
        }
        let extras = RowExtras {
            fields: &fields,
            cols,
        };
        // The row was checked as UTF-8 when it was split: the field is not checked again.
        json_record(Text::Checked(audit), line, None, Some(&extras), rec, out);
        return;
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
    json_record(Text::Checked(&obj), line, None, None, rec, out);
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
