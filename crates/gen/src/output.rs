//! Output formats, compression and the file sinks.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::GenError;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// UAL, one JSON record per line.
    Ndjson,
    /// UAL, Management Activity API content blobs (JSON arrays).
    JsonArray,
    /// UAL, concatenated pretty-printed objects.
    Pretty,
    /// Purview portal CSV (`RecordId,CreationDate,RecordType,…`), newest first.
    Csv,
    /// `Search-UnifiedAuditLog | Export-Csv` (`CreationDate,UserIds,Operations,AuditData`), newest first.
    CsvLegacy,
    /// Sentinel `OfficeActivity` rows.
    Sentinel,
    /// Defender XDR `CloudAppEvents` rows with `RawEventData`.
    Defender,
    /// Defender rows exported by PowerShell at low depth: folder items lost.
    DefenderFlat,
    /// Graph `security/auditLog/queries/{id}/records` pages.
    GraphAudit,
    /// Entra sign-ins as Graph pages.
    SigninsGraph,
    /// Entra sign-ins as Azure Monitor records.
    SigninsAzureMonitor,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 11] = [
        Format::Ndjson,
        Format::JsonArray,
        Format::Pretty,
        Format::Csv,
        Format::CsvLegacy,
        Format::Sentinel,
        Format::Defender,
        Format::DefenderFlat,
        Format::GraphAudit,
        Format::SigninsGraph,
        Format::SigninsAzureMonitor,
    ];

    /// The name used on the command line and as the output sub-directory.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::JsonArray => "json-array",
            Format::Pretty => "pretty",
            Format::Csv => "csv",
            Format::CsvLegacy => "csv-legacy",
            Format::Sentinel => "sentinel",
            Format::Defender => "defender",
            Format::DefenderFlat => "defender-flat",
            Format::GraphAudit => "graph-audit",
            Format::SigninsGraph => "signins-graph",
            Format::SigninsAzureMonitor => "signins-azure-monitor",
        }
    }

    /// True for the sign-in formats.
    #[must_use]
    pub fn is_signins(self) -> bool {
        matches!(self, Format::SigninsGraph | Format::SigninsAzureMonitor)
    }

    /// Parse a comma-separated list (`all` for every format).
    ///
    /// # Errors
    /// [`GenError::UnknownFormat`] for a name not listed in [`Format::ALL`].
    pub fn parse_list(s: &str) -> Result<Vec<Format>, GenError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                out.extend(Format::ALL);
                continue;
            }
            let f = Format::ALL
                .iter()
                .copied()
                .find(|f| f.name() == part)
                .ok_or_else(|| GenError::UnknownFormat(part.to_string()))?;
            out.push(f);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// Compression of the written files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Plain files.
    #[default]
    None,
    /// gzip (`.gz`).
    Gz,
    /// Zstandard (`.zst`).
    Zst,
}

impl Compression {
    /// Parse `none`, `gz` or `zst`.
    ///
    /// # Errors
    /// [`GenError::UnknownCompression`].
    pub fn parse(s: &str) -> Result<Self, GenError> {
        match s {
            "none" | "" => Ok(Compression::None),
            "gz" | "gzip" => Ok(Compression::Gz),
            "zst" | "zstd" => Ok(Compression::Zst),
            other => Err(GenError::UnknownCompression(other.to_string())),
        }
    }

    /// File name suffix (`""`, `".gz"`, `".zst"`).
    #[must_use]
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gz => ".gz",
            Compression::Zst => ".zst",
        }
    }
}

/// A buffered, optionally compressing file writer.
pub(crate) enum Sink {
    Plain(BufWriter<File>),
    Gz(flate2::write::GzEncoder<BufWriter<File>>),
    Zst(zstd::stream::write::Encoder<'static, BufWriter<File>>),
}

/// The `Io` error for a path.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> GenError + '_ {
    move |source| GenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Sink {
    /// Create `path` + the compression suffix (parent directories too).
    pub(crate) fn create(
        path: &Path,
        compression: Compression,
    ) -> Result<(Sink, PathBuf), GenError> {
        Sink::create_with(path, compression, false)
    }

    /// Like [`Sink::create`]; `fast` trades compression ratio for speed (volume mode).
    pub(crate) fn create_with(
        path: &Path,
        compression: Compression,
        fast: bool,
    ) -> Result<(Sink, PathBuf), GenError> {
        let mut p = path.as_os_str().to_owned();
        p.push(compression.suffix());
        let path = PathBuf::from(p);
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let file = File::create(&path).map_err(io_err(&path))?;
        let buf = BufWriter::with_capacity(1 << 20, file);
        let sink = match compression {
            Compression::None => Sink::Plain(buf),
            Compression::Gz => {
                let level = if fast {
                    flate2::Compression::fast()
                } else {
                    flate2::Compression::best()
                };
                Sink::Gz(flate2::write::GzEncoder::new(buf, level))
            }
            Compression::Zst => {
                let level = if fast { 1 } else { 9 };
                Sink::Zst(zstd::stream::write::Encoder::new(buf, level).map_err(io_err(&path))?)
            }
        };
        Ok((sink, path))
    }

    /// Flush and finish the compressed stream.
    pub(crate) fn finish(self) -> io::Result<()> {
        match self {
            Sink::Plain(mut b) => b.flush(),
            Sink::Gz(g) => g.finish()?.flush(),
            Sink::Zst(z) => z.finish()?.flush(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gz(w) => w.write(buf),
            Sink::Zst(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.write_all(buf),
            Sink::Gz(w) => w.write_all(buf),
            Sink::Zst(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gz(w) => w.flush(),
            Sink::Zst(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_formats() {
        assert_eq!(Format::parse_list("all").unwrap().len(), Format::ALL.len());
        assert_eq!(
            Format::parse_list("csv,ndjson,csv").unwrap(),
            vec![Format::Ndjson, Format::Csv]
        );
        assert!(Format::parse_list("xml").is_err());
        assert_eq!(Compression::parse("zst").unwrap().suffix(), ".zst");
        assert!(Compression::parse("bz2").is_err());
    }
}
