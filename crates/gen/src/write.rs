//! Writing a generated scenario in each format.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::GenError;
use crate::json;
use crate::output::{Compression, Format, Sink, io_err};
use crate::record::Ual;
use crate::render::rows::{self, LEGACY_HEADER, PURVIEW_HEADER};
use crate::render::signin::{self, SignInTime};
use crate::render::ual::{Style, audit_data};
use crate::scenario::Data;

/// Records per Management API content blob and per Graph page.
pub(crate) const PAGE: usize = 500;

/// Default file name (inside the format's directory).
fn file_name(f: Format) -> &'static str {
    match f {
        Format::Ndjson => "ual.ndjson",
        Format::JsonArray => "content",
        Format::Pretty => "ual-pretty.json",
        Format::Csv => "purview-audit.csv",
        Format::CsvLegacy => "search-unifiedauditlog.csv",
        Format::Sentinel => "OfficeActivity.json",
        Format::Defender | Format::DefenderFlat => "CloudAppEvents.json",
        Format::GraphAudit => "records",
        Format::SigninsGraph => "signins",
        Format::SigninsAzureMonitor => "SignInLogs.json",
    }
}

struct Out {
    sink: Sink,
    path: PathBuf,
}

impl Out {
    fn create(path: &Path, c: Compression) -> Result<Out, GenError> {
        let (sink, path) = Sink::create(path, c)?;
        Ok(Out { sink, path })
    }
    fn put(&mut self, s: &str) -> Result<(), GenError> {
        self.sink
            .write_all(s.as_bytes())
            .map_err(io_err(&self.path))
    }
    fn done(self) -> Result<PathBuf, GenError> {
        let Out { sink, path } = self;
        sink.finish().map_err(io_err(&path))?;
        Ok(path)
    }
}

/// Write the UAL records accepted by `keep` (or all sign-ins for the sign-in formats) in
/// format `f` under `dir`. Returns the files written.
pub(crate) fn write_format(
    data: &Data,
    f: Format,
    dir: &Path,
    name: Option<&str>,
    c: Compression,
    keep: &dyn Fn(&Ual) -> bool,
) -> Result<Vec<PathBuf>, GenError> {
    let w = &data.world;
    let name = name.unwrap_or(file_name(f));
    let recs: Vec<&Ual> = data.ual.iter().filter(|r| keep(r)).collect();
    let mut files = Vec::new();
    let mut line = String::with_capacity(4096);
    let mut audit = String::with_capacity(4096);
    match f {
        Format::Ndjson
        | Format::Sentinel
        | Format::Defender
        | Format::DefenderFlat
        | Format::Pretty => {
            let mut out = Out::create(&dir.join(name), c)?;
            for r in &recs {
                line.clear();
                match f {
                    Format::Ndjson => audit_data(w, r, Style::API, &mut line),
                    Format::Sentinel => rows::sentinel_row(w, r, &mut line),
                    Format::Defender => rows::defender_row(w, r, false, &mut line),
                    Format::DefenderFlat => rows::defender_row(w, r, true, &mut line),
                    _ => {
                        audit.clear();
                        audit_data(w, r, Style::API, &mut audit);
                        json::pretty(&audit, &mut line);
                    }
                }
                line.push('\n');
                out.put(&line)?;
            }
            files.push(out.done()?);
        }
        Format::Csv | Format::CsvLegacy => {
            let mut out = Out::create(&dir.join(name), c)?;
            out.put(if f == Format::Csv {
                PURVIEW_HEADER
            } else {
                LEGACY_HEADER
            })?;
            for r in recs.iter().rev() {
                line.clear();
                if f == Format::Csv {
                    rows::purview_row(w, r, &mut audit, &mut line);
                } else {
                    rows::legacy_row(w, r, &mut audit, &mut line);
                }
                out.put(&line)?;
            }
            files.push(out.done()?);
        }
        Format::JsonArray => {
            for (i, chunk) in recs.chunks(PAGE).enumerate() {
                let mut out = Out::create(&dir.join(format!("{name}-{i:03}.json")), c)?;
                out.put("[\n")?;
                for (j, r) in chunk.iter().enumerate() {
                    line.clear();
                    if j > 0 {
                        line.push_str(",\n");
                    }
                    audit_data(w, r, Style::API, &mut line);
                    out.put(&line)?;
                }
                out.put("\n]\n")?;
                files.push(out.done()?);
            }
        }
        Format::GraphAudit => {
            let qid =
                crate::ids::Guid::from_bits(crate::rng::Rng::derive(w.seed, &[0x71]).next_u128())
                    .to_string();
            let pages: Vec<&[&Ual]> = recs.chunks(PAGE).collect();
            for (i, chunk) in pages.iter().enumerate() {
                let mut out = Out::create(&dir.join(format!("{name}-{i:03}.json")), c)?;
                line.clear();
                line.push_str("{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#security/auditLog/queries('");
                line.push_str(&qid);
                line.push_str("')/records\",");
                if i + 1 < pages.len() {
                    line.push_str("\"@odata.nextLink\":\"https://graph.microsoft.com/v1.0/security/auditLog/queries/");
                    line.push_str(&qid);
                    line.push_str(&format!("/records?$skiptoken={}\",", (i + 1) * PAGE));
                }
                line.push_str("\"value\":[\n");
                out.put(&line)?;
                for (j, r) in chunk.iter().enumerate() {
                    line.clear();
                    if j > 0 {
                        line.push_str(",\n");
                    }
                    rows::graph_record(w, r, &mut line);
                    out.put(&line)?;
                }
                out.put("\n]}\n")?;
                files.push(out.done()?);
            }
        }
        Format::SigninsGraph => {
            let pages: Vec<_> = data.signins.chunks(PAGE).collect();
            for (i, chunk) in pages.iter().enumerate() {
                let mut out = Out::create(&dir.join(format!("{name}-{i:03}.json")), c)?;
                line.clear();
                line.push_str("{\"@odata.context\":\"https://graph.microsoft.com/beta/$metadata#auditLogs/signIns\",");
                if i + 1 < pages.len() {
                    line.push_str(&format!(
                        "\"@odata.nextLink\":\"https://graph.microsoft.com/beta/auditLogs/signIns?$top={PAGE}&$skiptoken={:016x}_{}\",",
                        w.seed,
                        i + 1
                    ));
                }
                line.push_str("\"value\":[\n");
                out.put(&line)?;
                for (j, s) in chunk.iter().enumerate() {
                    line.clear();
                    if j > 0 {
                        line.push_str(",\n");
                    }
                    signin::signin_object(w, s, SignInTime::Z, &mut line);
                    out.put(&line)?;
                }
                out.put("\n]}\n")?;
                files.push(out.done()?);
            }
        }
        Format::SigninsAzureMonitor => {
            let mut out = Out::create(&dir.join(name), c)?;
            out.put("{\"records\":[\n")?;
            for (j, s) in data.signins.iter().enumerate() {
                line.clear();
                if j > 0 {
                    line.push_str(",\n");
                }
                signin::azure_monitor_record(w, s, &mut line);
                out.put(&line)?;
            }
            out.put("\n]}\n")?;
            files.push(out.done()?);
        }
    }
    Ok(files)
}
