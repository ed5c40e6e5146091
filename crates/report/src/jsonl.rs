//! `--format jsonl`: one detection per line.

use std::borrow::Borrow;
use std::io::Write;

use rayon::prelude::*;
use stormwatch_core::Detection;

use crate::error::ReportError;

/// Detections taken from the sorted stream at a time; their lines are made in parallel.
const CHUNK: usize = 4096;
/// Detections one task writes into one buffer.
const PART: usize = 256;

/// Write detections already in output order. A million detections make half a gigabyte of
/// text: runs of them are turned into JSON on every core, then written in order.
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
        chunk.clear();
        for d in sorted.by_ref().take(CHUNK) {
            chunk.push(d?);
        }
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
