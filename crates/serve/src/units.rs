//! Durations (`12h`, `30s`, `14d`) and sizes (`32MiB`, `512KB`, `1048576`) in the
//! configuration.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written as humans do: `500ms`, `30s`, `5m`, `12h`, `14d`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Span(pub(crate) Duration);

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Seconds(s) => Ok(Span(Duration::from_secs(s))),
            Raw::Text(t) => parse_span(&t).map(Span).map_err(serde::de::Error::custom),
        }
    }
}

/// Parse a duration: `0`, or numbers with units (`ms`, `s`, `m`, `h`, `d`, and their long
/// names).
///
/// # Errors
/// A message naming the text when it is not a duration.
pub fn parse_span(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{s:?} is not a duration such as 30s, 5m, 12h or 14d ({e})"))
}

/// A size in bytes: a number, or a number with a unit (`KB`, `MB`, `GB` are powers of 1000,
/// `KiB`, `MiB`, `GiB` of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Size(pub(crate) u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(b) => Ok(Size(b)),
            Raw::Text(t) => parse_size(&t).map(Size).map_err(serde::de::Error::custom),
        }
    }
}

/// Parse a size (see [`Size`]).
///
/// # Errors
/// A message naming the text when it is not a size.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || format!("{s:?} is not a size such as 32MiB, 512KB or 1048576");
    let n: u64 = num.replace('_', "").parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(parse_span("12h").unwrap(), Duration::from_secs(12 * 3600));
        assert_eq!(parse_span("14d").unwrap(), Duration::from_secs(14 * 86400));
        assert_eq!(parse_span("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_span("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_span("0").unwrap(), Duration::ZERO);
        assert!(parse_span("soon").unwrap_err().contains("\"soon\""));
        assert!(parse_span("12").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("32MiB").unwrap(), 32 << 20);
        assert_eq!(parse_size("512KB").unwrap(), 512_000);
        assert_eq!(parse_size("1_048_576").unwrap(), 1 << 20);
        assert_eq!(parse_size("2 GiB").unwrap(), 2 << 30);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
        assert!(parse_size("3 parsecs").is_err());
    }
}
