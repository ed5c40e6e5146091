//! `--format jsonl`: one detection per line.

use std::borrow::Borrow;
use std::io::Write;

use rayon::prelude::*;
use stormwatch_core::Detection;

use crate::error::ReportError;

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

/// Write detections already in output order. A million detections make half a gigabyte of
/// text: runs of them (at most [`CHUNK`], and about [`CHUNK_BYTES`] of text) are turned into
/// JSON on every core, then written in order.
pub(crate) fn write_jsonl<D, E>(
    w: &mut dyn Write,
    mut sorted: impl Iterator<Item = Result<D, E>>,
) -> Result<(), ReportError>
where
    D: Borrow<Detection> + Sync,
    ReportError: From<E>,
{
    let mut chunk: Vec<D> = Vec::with_capacity(CHUNK);
    loop {
        fill(&mut chunk, &mut sorted)?;
        if chunk.is_empty() {
            return Ok(());
        }
        let parts: Vec<Result<Vec<u8>, serde_json::Error>> = chunk
            .par_chunks(PART)
            .map(|part| {
                let mut buf = Vec::with_capacity(part.len() * 512);
                for d in part {
                    serde_json::to_writer(&mut buf, d.borrow())?;
                    buf.push(b'\n');
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
    use stormwatch_core::{DetectionSource, Level, Timestamp};

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

    #[test]
    fn lines_keep_the_stream_order_across_runs_of_detections() {
        // Runs of CHUNK and parts of PART, with a short last run and part.
        let all: Vec<Detection> = (0..CHUNK * 2 + PART + 7).map(detection).collect();
        let mut out = Vec::new();
        write_jsonl::<&Detection, ReportError>(&mut out, all.iter().map(Ok)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), all.len());
        for (line, d) in lines.iter().zip(&all) {
            assert_eq!(*line, serde_json::to_string(d).unwrap());
        }
        assert!(text.ends_with('\n'));
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
        let err = write_jsonl(&mut out, stream).unwrap_err();
        assert!(err.to_string().contains("run file cut short"), "{err}");
        // What came before the run holding the error was written.
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), CHUNK);
    }
}
