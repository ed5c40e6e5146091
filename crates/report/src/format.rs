//! Output format names.

use std::fmt;
use std::str::FromStr;

use stormwatch_core::UnknownName;

/// How `hunt` writes detections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetectionFormat {
    /// A readable table for a terminal: incidents first, then detections most severe first.
    #[default]
    Table,
    /// One JSON detection per line (the contract).
    Jsonl,
    /// CSV with a header row, spreadsheet-safe.
    Csv,
    /// A self-contained HTML report.
    Html,
}

impl FromStr for DetectionFormat {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "table" => Ok(Self::Table),
            "jsonl" | "ndjson" => Ok(Self::Jsonl),
            "csv" => Ok(Self::Csv),
            "html" => Ok(Self::Html),
            _ => Err(UnknownName {
                what: "format",
                value: s.to_owned(),
                expected: "table, jsonl, csv, html",
            }),
        }
    }
}

impl DetectionFormat {
    /// The order its detections are written in: most severe first for the table, the output
    /// order (time, rule, first record) for the others.
    #[must_use]
    pub fn order(self) -> crate::DetectionOrder {
        match self {
            Self::Table => crate::DetectionOrder::Severity,
            Self::Jsonl | Self::Csv | Self::Html => crate::DetectionOrder::Time,
        }
    }
}

impl fmt::Display for DetectionFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Table => "table",
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
            Self::Html => "html",
        })
    }
}

/// How `impact` writes its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImpactFormat {
    /// The JSON contract.
    #[default]
    Json,
    /// One row per message (see also [`crate::write_impact_mailbox_csv`]).
    Csv,
    /// A self-contained HTML report for readers who are not investigators.
    Html,
}

impl FromStr for ImpactFormat {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            "html" => Ok(Self::Html),
            _ => Err(UnknownName {
                what: "format",
                value: s.to_owned(),
                expected: "json, csv, html",
            }),
        }
    }
}

impl fmt::Display for ImpactFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Html => "html",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in [
            DetectionFormat::Table,
            DetectionFormat::Jsonl,
            DetectionFormat::Csv,
            DetectionFormat::Html,
        ] {
            assert_eq!(f.to_string().parse::<DetectionFormat>().ok(), Some(f));
        }
        for f in [ImpactFormat::Json, ImpactFormat::Csv, ImpactFormat::Html] {
            assert_eq!(f.to_string().parse::<ImpactFormat>().ok(), Some(f));
        }
        assert!("xml".parse::<DetectionFormat>().is_err());
        assert!("table".parse::<ImpactFormat>().is_err());
    }
}
