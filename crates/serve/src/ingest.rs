//! Turning a body (HTTP) or file chunk into records: bounded decompression, the same readers
//! and located errors as `hunt`, and the keys that recognise records sent again.

use std::io::Read as _;

use sha2::{Digest as _, Sha256};
use stormwatch_core::{Event, RecordError, Timestamp};
use stormwatch_read::{InputFormat, ReadOptions};

/// Why a body was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    /// Decompressed, it is larger than allowed.
    #[error("the body decompresses to more than {limit} bytes")]
    TooLarge {
        /// The bound.
        limit: u64,
    },
    /// It says it is compressed but does not decompress.
    #[error("the body is not valid {encoding}: {reason}")]
    Corrupt {
        /// `gzip` or `zstd`.
        encoding: &'static str,
        /// Why.
        reason: String,
    },
    /// A `Content-Encoding` the service does not take.
    #[error("unsupported Content-Encoding {0:?} (send identity, gzip or zstd)")]
    Encoding(String),
}

/// Compression of a body, from its `Content-Encoding` or its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The compression of a body: the header when it names one, else its magic bytes.
pub(crate) fn compression_of(
    content_encoding: Option<&str>,
    body: &[u8],
) -> Result<Compression, BodyError> {
    match content_encoding.map(|e| e.trim().to_ascii_lowercase()) {
        Some(e) if e == "gzip" || e == "x-gzip" => Ok(Compression::Gzip),
        Some(e) if e == "zstd" => Ok(Compression::Zstd),
        Some(e) if !e.is_empty() && e != "identity" => Err(BodyError::Encoding(e)),
        _ => Ok(if body.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if body.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }),
    }
}

/// Decompress `body` into at most `limit` bytes.
pub(crate) fn decompress(
    body: &[u8],
    compression: Compression,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    let (reader, encoding): (Box<dyn std::io::Read + '_>, &'static str) = match compression {
        Compression::None => {
            if body.len() as u64 > limit {
                return Err(BodyError::TooLarge { limit });
            }
            return Ok(body.to_vec());
        }
        Compression::Gzip => (Box::new(flate2::read::MultiGzDecoder::new(body)), "gzip"),
        Compression::Zstd => (
            Box::new(
                zstd::stream::read::Decoder::new(body).map_err(|e| BodyError::Corrupt {
                    encoding: "zstd",
                    reason: e.to_string(),
                })?,
            ),
            "zstd",
        ),
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(64 << 20));
    // One byte more than the limit tells "too large" from "exactly the limit".
    let n = reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Corrupt {
            encoding,
            reason: e.to_string(),
        })?;
    if n as u64 > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(out)
}

/// A received body as records to read (decompressed, at most `limit` bytes) and as the
/// journal keeps it: compressed bodies as received, plain ones compressed (zstd, fast level).
/// The reader sniffs either when the journal is read again.
pub(crate) fn plain_and_stored(
    received: Vec<u8>,
    compression: Compression,
    limit: u64,
) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
    match compression {
        Compression::None => {
            if received.len() as u64 > limit {
                return Err(BodyError::TooLarge { limit });
            }
            match zstd::bulk::compress(&received, 1) {
                Ok(stored) => Ok((received, stored)),
                Err(_) => Ok((received.clone(), received)),
            }
        }
        Compression::Gzip | Compression::Zstd => {
            let plain = decompress(&received, compression, limit)?;
            Ok((plain, received))
        }
    }
}

/// The detector's rules and analytics run on the reader's worker threads on each record while
/// its parse is at hand (the work `hunt` does there), with the key that recognises it when
/// sent again; the records themselves are freed where they were made.
pub(crate) struct Scan<'a>(pub(crate) &'a stormwatch_detect::Scanner);

/// What [`Scan`] makes of a run of records.
#[derive(Default)]
pub(crate) struct ScanOut {
    pub(crate) scanned: stormwatch_detect::Scanned,
    /// Each record's key ([`record_key`]) and line, in order.
    pub(crate) keys: Vec<(Option<[u8; 16]>, u64)>,
}

impl stormwatch_read::Inspect for Scan<'_> {
    type Out = ScanOut;

    fn inspect(&self, event: &Event, parsed: Option<&sonic_rs::Value>, out: &mut ScanOut) {
        self.0.scan(event, parsed, &mut out.scanned);
        out.keys.push((record_key(event), event.loc.line));
    }

    fn keeps_events(&self) -> bool {
        false
    }
}

/// The records of a body read and scanned at once ([`Scan`]).
#[derive(Default)]
pub(crate) struct Scanned {
    /// What the detector's scanner made of the good records, in runs in body order.
    pub(crate) runs: Vec<stormwatch_detect::Scanned>,
    /// Each good record's key and line, in body order.
    pub(crate) keys: Vec<(Option<[u8; 16]>, u64)>,
    pub(crate) skipped: u64,
    pub(crate) errors: Vec<RecordError>,
    pub(crate) newest: Option<Timestamp>,
    pub(crate) last_line: u64,
}

/// Read the records of `bytes` as if it were a file named `name` (as [`parse`]), scanning
/// them for the detector as they are read.
///
/// # Errors
/// The reader's worker threads cannot start.
pub(crate) fn parse_scanned(
    name: &str,
    bytes: Vec<u8>,
    format: Option<InputFormat>,
    threads: usize,
    scanner: &stormwatch_detect::Scanner,
) -> Result<Scanned, stormwatch_read::ReadError> {
    let opts = ReadOptions {
        format,
        threads,
        ..ReadOptions::default()
    };
    let mut out = Scanned::default();
    let stats =
        stormwatch_read::read_bytes_inspect(name, bytes, &opts, &Scan(scanner), &mut |_, o| {
            if let Some(t) = o.scanned.newest() {
                out.newest = Some(out.newest.map_or(t, |n| n.max(t)));
            }
            out.keys.extend(o.keys);
            if !o.scanned.is_empty() {
                out.runs.push(o.scanned);
            }
        })?;
    out.last_line = out
        .keys
        .iter()
        .map(|(_, l)| *l)
        .chain(stats.errors.iter().map(|e| e.loc.line))
        .max()
        .unwrap_or(0);
    out.skipped = stats.skipped();
    out.errors = stats.errors;
    Ok(out)
}

/// The records of one body or chunk.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Good records, in body order; locations carry the name given and body lines.
    pub(crate) events: Vec<Event>,
    /// Records that could not be read.
    pub(crate) skipped: u64,
    /// Their located errors (the first 1,000).
    pub(crate) errors: Vec<RecordError>,
    /// The newest record time.
    pub(crate) newest: Option<Timestamp>,
    /// The last line a record starts on.
    pub(crate) last_line: u64,
}

/// Read the records of `bytes` (compressed or not) as if it were a file named `name`.
///
/// # Errors
/// The reader's worker threads cannot start.
pub(crate) fn parse(
    name: &str,
    bytes: Vec<u8>,
    format: Option<InputFormat>,
    threads: usize,
) -> Result<Parsed, stormwatch_read::ReadError> {
    let opts = ReadOptions {
        format,
        threads,
        ..ReadOptions::default()
    };
    let (events, stats) = stormwatch_read::read_bytes(name, bytes, &opts)?;
    let newest = events.iter().filter_map(|e| e.time).max();
    let last_line = events
        .iter()
        .map(|e| e.loc.line)
        .chain(stats.errors.iter().map(|e| e.loc.line))
        .max()
        .unwrap_or(0);
    Ok(Parsed {
        skipped: stats.skipped(),
        errors: stats.errors,
        events,
        newest,
        last_line,
    })
}

/// The key a record is recognised by when sent again: the hour of its time, then a hash of
/// its tenant, its own id (`Id`, `id`, `RecordId`) and its time. Records without an id have
/// none (they are processed each time).
///
/// The hour comes first so that the keys of a body, whose records are mostly of the same few
/// hours, sit together in the journal's index of keys: each commit then rewrites a few of
/// its pages instead of one page per record (random keys spread over the whole index, which
/// grows with `dedup_window`).
pub(crate) fn record_key(e: &Event) -> Option<[u8; 16]> {
    let id = e.loc.record_id.as_deref().filter(|i| !i.is_empty())?;
    let mut h = Sha256::new();
    let tenant = e.tenant.as_deref().unwrap_or("");
    h.update((tenant.len() as u64).to_le_bytes());
    h.update(tenant.to_ascii_lowercase().as_bytes());
    h.update((id.len() as u64).to_le_bytes());
    h.update(id.as_bytes());
    let t = e.time.map(Timestamp::nanos);
    h.update(t.unwrap_or(i64::MIN).to_le_bytes());
    let full = h.finalize();
    let hour = t.map_or(0, |t| {
        u32::try_from(t.div_euclid(3_600_000_000_000).max(0)).unwrap_or(u32::MAX)
    });
    let mut k = [0u8; 16];
    k[..4].copy_from_slice(&hour.to_be_bytes());
    k[4..].copy_from_slice(&full[..12]);
    Some(k)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write as _;

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn compression_from_header_or_magic() {
        let gz = gzip(b"{}");
        assert_eq!(compression_of(None, &gz).unwrap(), Compression::Gzip);
        assert_eq!(
            compression_of(Some("gzip"), b"x").unwrap(),
            Compression::Gzip
        );
        assert_eq!(
            compression_of(Some("identity"), b"{}").unwrap(),
            Compression::None
        );
        assert_eq!(compression_of(None, b"{}").unwrap(), Compression::None);
        assert!(matches!(
            compression_of(Some("br"), b"{}"),
            Err(BodyError::Encoding(e)) if e == "br"
        ));
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_bound() {
        let bomb = gzip(&vec![b' '; 10 << 20]);
        assert!(bomb.len() < 100_000);
        assert_eq!(
            decompress(&bomb, Compression::Gzip, 1 << 20),
            Err(BodyError::TooLarge { limit: 1 << 20 })
        );
        assert_eq!(
            decompress(&bomb, Compression::Gzip, 10 << 20)
                .unwrap()
                .len(),
            10 << 20
        );
        assert!(matches!(
            decompress(b"\x1f\x8bnot gzip", Compression::Gzip, 1 << 20),
            Err(BodyError::Corrupt {
                encoding: "gzip",
                ..
            })
        ));
        assert_eq!(
            decompress(b"12345", Compression::None, 4),
            Err(BodyError::TooLarge { limit: 4 })
        );
    }

    #[test]
    fn keys_follow_tenant_and_id() {
        let ev = |tenant: Option<&str>, id: Option<&str>| Event {
            tenant: tenant.map(str::to_owned),
            loc: stormwatch_core::Location {
                file: "x".into(),
                line: 1,
                record_id: id.map(str::to_owned),
            },
            ..Event::default()
        };
        assert_eq!(
            record_key(&ev(Some("T"), Some("a"))),
            record_key(&ev(Some("t"), Some("a")))
        );
        assert_ne!(
            record_key(&ev(Some("t"), Some("a"))),
            record_key(&ev(Some("u"), Some("a")))
        );
        assert_ne!(
            record_key(&ev(None, Some("a"))),
            record_key(&ev(None, Some("b")))
        );
        assert_eq!(record_key(&ev(Some("t"), None)), None);
        assert_eq!(record_key(&ev(Some("t"), Some(""))), None);
        // The same id at another time is another record; keys of an hour share their start.
        let at = |ns: i64| Event {
            time: Some(Timestamp::from_nanos(ns)),
            ..ev(Some("t"), Some("a"))
        };
        let hour = 3_600_000_000_000_i64;
        let (k1, k2, k3) = (
            record_key(&at(500 * hour)),
            record_key(&at(500 * hour + 1)),
            record_key(&at(501 * hour)),
        );
        assert_ne!(k1, k2);
        assert_eq!(k1, record_key(&at(500 * hour)));
        let prefix = |k: Option<[u8; 16]>| k.map(|k| u32::from_be_bytes([k[0], k[1], k[2], k[3]]));
        assert_eq!(
            (prefix(k1), prefix(k2), prefix(k3)),
            (Some(500), Some(500), Some(501))
        );
        assert_eq!(prefix(record_key(&at(-5 * hour))), Some(0));
    }

    #[test]
    fn stored_form_reads_back_the_same() {
        let body = b"{\"Id\":\"1\",\"Operation\":\"x\"}\n{\"Id\":\"2\"}\nnot json\n".to_vec();
        let a = parse("b", body.clone(), None, 1).unwrap();
        let (plain, kept) = plain_and_stored(body.clone(), Compression::None, 1 << 20).unwrap();
        assert_eq!(plain, body);
        assert_ne!(kept, body);
        assert_eq!(
            plain_and_stored(body.clone(), Compression::None, 4).unwrap_err(),
            BodyError::TooLarge { limit: 4 }
        );
        let gz = gzip(&body);
        let (plain, stored) = plain_and_stored(gz.clone(), Compression::Gzip, 1 << 20).unwrap();
        assert_eq!((plain, stored), (body.clone(), gz));
        let b = parse("b", kept, None, 1).unwrap();
        assert_eq!(a.events, b.events);
        assert_eq!((a.skipped, b.skipped), (1, 1));
        assert_eq!(a.last_line, 3);
    }
}
