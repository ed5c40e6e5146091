//! `--format jsonl`: one detection per line.

use std::io::Write;

use stormwatch_core::Detection;

use crate::error::ReportError;
use crate::table::ordered;

pub(crate) fn write_jsonl(w: &mut dyn Write, detections: &[Detection]) -> Result<(), ReportError> {
    for d in ordered(detections) {
        serde_json::to_writer(&mut *w, d)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}
