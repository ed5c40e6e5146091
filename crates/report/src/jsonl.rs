//! `--format jsonl`: one line per incident, then one per detection.

use std::borrow::Borrow;
use std::io::Write;

use rayon::prelude::*;
use serde::Serialize;
use stormwatch_core::{Detection, Incident, IncidentIndex, Level, Reason, RuleCount, Timestamp};

use crate::Cx;
use crate::error::ReportError;

/// An incident's line: `"type": "incident"` and every field of the incident, the indices of
/// its detections replaced by their count (detection lines carry the `incident_id`).
#[derive(Serialize)]
struct IncidentLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    level: Level,
    first: Timestamp,
    last: Timestamp,
    title: &'a str,
    score: u32,
    tenants: &'a [String],
    domains: Vec<String>,
    mailboxes: &'a [String],
    users: &'a [String],
    ips: &'a [String],
    sessions: &'a [String],
    apps: &'a [String],
    reasons: &'a [Reason],
    rules: &'a [RuleCount],
    detection_count: usize,
    records: u64,
}

impl<'a> IncidentLine<'a> {
    fn of(i: &'a Incident) -> Self {
        IncidentLine {
            kind: "incident",
            id: &i.id,
            level: i.level,
            first: i.first,
            last: i.last,
            title: &i.title,
            score: i.score,
            tenants: &i.tenants,
            domains: i.domains(),
            mailboxes: &i.mailboxes,
            users: &i.users,
            ips: &i.ips,
            sessions: &i.sessions,
            apps: &i.apps,
            reasons: &i.reasons,
            rules: &i.rules,
            detection_count: i.detections.len(),
            records: i.records,
        }
    }
}

/// One detection's line into `buf`: its JSON object with `incident_id` (when it belongs to an
/// incident and does not carry it already) and `"type": "detection"` added at the end, so
/// every line starts as it always did.
fn detection_line(
    buf: &mut Vec<u8>,
    d: &Detection,
    index: &IncidentIndex,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(&mut *buf, d)?;
    // A serialised struct ends with its closing brace: take it off and add the two fields.
    if buf.last() == Some(&b'}') {
        buf.pop();
    }
    if d.incident_id.is_none()
        && let Some(id) = index.find(d)
    {
        buf.extend_from_slice(b",\"incident_id\":");
        serde_json::to_writer(&mut *buf, id)?;
    }
    buf.extend_from_slice(b",\"type\":\"detection\"}\n");
    Ok(())
}

/// Detections taken from the sorted stream at a time, at most; their lines are made in
/// parallel.
const CHUNK: usize = 4096;
/// Estimated bytes of JSON a run of detections may make before it is written: the lines of a
/// run are held in memory, and a detection of the analytics may list 20,000 records.
const CHUNK_BYTES: usize = 4 << 20;
/// Detections one task writes into one buffer.
const PART: usize = 256;

/// A rough size of a detection's line: its record list is most of a large one.
fn estimated_line(d: &Detection) -> usize {
    512 + 80 * d.events.len()
}

/// The next run of the stream into `chunk` (emptied first): at most [`CHUNK`] detections, and
/// no more once their lines would make about [`CHUNK_BYTES`].
fn fill<D: Borrow<Detection>, E>(
    chunk: &mut Vec<D>,
    sorted: &mut impl Iterator<Item = Result<D, E>>,
) -> Result<(), E> {
    chunk.clear();
    let mut bytes = 0;
    while chunk.len() < CHUNK && bytes < CHUNK_BYTES {
        let Some(d) = sorted.next() else { break };
        let d = d?;
        bytes += estimated_line(d.borrow());
        chunk.push(d);
    }
    Ok(())
}

/// Write the incidents, then the detections already in output order. A million detections
/// make half a gigabyte of text: runs of them (at most [`CHUNK`], and about [`CHUNK_BYTES`] of
/// text) are turned into JSON on every core, then written in order.
pub(crate) fn write_jsonl<D, E>(
    w: &mut dyn Write,
    mut sorted: impl Iterator<Item = Result<D, E>>,
    cx: &Cx<'_>,
) -> Result<(), ReportError>
where
    D: Borrow<Detection> + Sync,
    ReportError: From<E>,
{
    let mut line = Vec::new();
    for i in cx.incidents {
        line.clear();
        serde_json::to_writer(&mut line, &IncidentLine::of(i))?;
        line.push(b'\n');
        w.write_all(&line)?;
    }
    let index = cx.index;
    let mut chunk: Vec<D> = Vec::with_capacity(CHUNK);
    loop {
        fill(&mut chunk, &mut sorted)?;
        if chunk.is_empty() {
            return Ok(());
        }
        let parts: Vec<Result<Vec<u8>, serde_json::Error>> = chunk
            .par_chunks(PART)
            .map(|part| {
                let mut buf = Vec::with_capacity(part.len() * 640);
                for d in part {
                    detection_line(&mut buf, d.borrow(), index)?;
                }
                Ok(buf)
            })
            .collect();
        for part in parts {
            w.write_all(&part?)?;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use stormwatch_core::DetectionSource;

    fn detection(n: usize) -> Detection {
        let mut d = Detection::new(
            format!("rule-{n}"),
            format!("title \"{n}\"\n"),
            Level::Low,
            DetectionSource::Sigma,
            Timestamp::from_nanos(i64::try_from(n).unwrap() * 1_000_000_000),
        );
        d.explanation = format!("line {n}");
        d
    }

    fn with_cx<R>(incidents: &[Incident], f: impl FnOnce(&Cx<'_>) -> R) -> R {
        let summary = crate::HuntSummary::default();
        let opts = crate::ReportOptions::default();
        let index = IncidentIndex::new(incidents);
        let shown: Vec<&Incident> = incidents.iter().collect();
        f(&Cx {
            incidents: &shown,
            index: &index,
            summary: &summary,
            opts: &opts,
        })
    }

    fn line_of(d: &Detection, incident: Option<&str>) -> String {
        let mut s = serde_json::to_string(d).unwrap();
        s.pop();
        if let Some(i) = incident {
            s.push_str(&format!(",\"incident_id\":\"{i}\""));
        }
        s.push_str(",\"type\":\"detection\"}");
        s
    }

    #[test]
    fn lines_keep_the_stream_order_across_runs_of_detections() {
        // Runs of CHUNK and parts of PART, with a short last run and part.
        let all: Vec<Detection> = (0..CHUNK * 2 + PART + 7).map(detection).collect();
        let mut out = Vec::new();
        with_cx(&[], |cx| {
            write_jsonl::<&Detection, ReportError>(&mut out, all.iter().map(Ok), cx)
        })
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), all.len());
        for (line, d) in lines.iter().zip(&all) {
            assert_eq!(*line, line_of(d, None));
            assert!(line.starts_with("{\"rule_id\":"));
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn incidents_come_first_and_detections_name_theirs() {
        let t = Timestamp::from_nanos(0);
        let inc = Incident {
            id: "INC-0001".into(),
            title: "t".into(),
            level: Level::High,
            score: 80,
            first: t,
            last: t,
            tenants: vec!["tid".into()],
            mailboxes: vec!["a@agency.example".into()],
            users: vec!["a@agency.example".into()],
            sessions: vec!["s-1".into()],
            ips: vec!["203.0.113.9".into()],
            apps: vec!["app".into()],
            reasons: Vec::new(),
            rules: Vec::new(),
            detections: vec![0],
            records: 3,
        };
        let mut grouped = detection(1);
        grouped.incident_id = Some("INC-0001".into());
        let mut same_session = detection(2);
        same_session.session_id = Some("S-1".into());
        let other = detection(3);
        let all = [grouped, same_session, other];
        let mut out = Vec::new();
        with_cx(std::slice::from_ref(&inc), |cx| {
            write_jsonl::<&Detection, ReportError>(&mut out, all.iter().map(Ok), cx)
        })
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["type"], "incident");
        assert_eq!(lines[0]["id"], "INC-0001");
        assert_eq!(
            lines[0]["mailboxes"],
            serde_json::json!(["a@agency.example"])
        );
        assert_eq!(lines[0]["domains"], serde_json::json!(["agency.example"]));
        assert_eq!(lines[0]["detection_count"], 1);
        assert_eq!(text.lines().nth(1).unwrap(), line_of(&all[0], None));
        assert_eq!(
            text.lines().nth(2).unwrap(),
            line_of(&all[1], Some("INC-0001"))
        );
        assert_eq!(lines[3].get("incident_id"), None);
        assert!(lines[1..].iter().all(|l| l["type"] == "detection"));
    }

    #[test]
    fn runs_of_detections_listing_many_records_are_short() {
        let big = |n: usize| {
            let mut d = detection(n);
            d.events = vec![stormwatch_core::Location::default(); 20_000];
            d
        };
        let all: Vec<Detection> = (0..10).map(big).collect();
        let mut stream = all.iter().map(Ok::<_, ReportError>);
        let mut chunk = Vec::new();
        fill(&mut chunk, &mut stream).unwrap();
        // About 1.6 MB of text each: a run stops once it holds about 4 MiB.
        assert_eq!(chunk.len(), 3);
        let mut small = (0..CHUNK + 1).map(detection).map(Ok::<_, ReportError>);
        let mut run = Vec::new();
        fill(&mut run, &mut small).unwrap();
        assert_eq!(run.len(), CHUNK);
    }

    #[test]
    fn an_error_in_the_stream_is_returned() {
        let stream = (0..CHUNK + 10).map(|n| {
            if n == CHUNK + 3 {
                Err(ReportError::Io(std::io::Error::other("run file cut short")))
            } else {
                Ok(detection(n))
            }
        });
        let mut out = Vec::new();
        let err = with_cx(&[], |cx| write_jsonl(&mut out, stream, cx)).unwrap_err();
        assert!(err.to_string().contains("run file cut short"), "{err}");
        // What came before the run holding the error was written.
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), CHUNK);
    }
}
