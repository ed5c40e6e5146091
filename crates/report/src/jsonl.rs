//! `--format jsonl`: one detection per line.

use std::borrow::Borrow;
use std::io::Write;

use stormwatch_core::Detection;

use crate::error::ReportError;

/// Write detections already in output order.
pub(crate) fn write_jsonl<D, E>(
    w: &mut dyn Write,
    sorted: impl Iterator<Item = Result<D, E>>,
) -> Result<(), ReportError>
where
    D: Borrow<Detection>,
    ReportError: From<E>,
{
    for d in sorted {
        serde_json::to_writer(&mut *w, d?.borrow())?;
        w.write_all(b"\n")?;
    }
    Ok(())
}
