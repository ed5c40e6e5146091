//! The manifest (`OUT/manifest.json`): every window ever asked for in the folder, per tenant and
//! source, with what the API listed, what was fetched and written, what retrying cost, and why
//! a window is `partial` or `missing`; the gaps merged into spans; the licence signals; and a
//! summary for people.

use std::io::Write;

use serde::{Deserialize, Serialize};
use stormwatch_core::Timestamp;

use crate::plan;
use crate::source::Source;

mod build;

pub(crate) use build::build;

/// The value of the manifest's `format` field.
pub const FORMAT: &str = "stormwatch-collect-manifest";

/// What became of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything the API had for the window was fetched and written.
    Complete,
    /// Some of it was; `reasons` says what is missing.
    Partial,
    /// Nothing could be collected; `reasons` says why.
    Missing,
}

impl Status {
    /// The JSON name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Partial => "partial",
            Status::Missing => "missing",
        }
    }
}

/// One window of one source of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRecord {
    /// Tenant id.
    pub tenant: String,
    /// Source name (`Audit.Exchange`, `signIns`, ...).
    pub source: String,
    /// Start (inclusive). Activity API windows are by the time content became available;
    /// Graph and Purview windows by the records' own time.
    pub from: Timestamp,
    /// End (exclusive).
    pub to: Timestamp,
    /// What became of it.
    pub status: Status,
    /// Content blobs the Activity API listed, or pages of a Graph list.
    #[serde(default)]
    pub listed: u64,
    /// Blobs or pages fetched.
    #[serde(default)]
    pub fetched: u64,
    /// Records in what was fetched.
    #[serde(default)]
    pub records_served: u64,
    /// Records written (in the manifest: over every attempt).
    #[serde(default)]
    pub records_written: u64,
    /// Records dropped because their id was already collected (in this window, another
    /// window, another source of the same log, or an earlier run).
    #[serde(default)]
    pub duplicates: u64,
    /// Elements of a response that were not records (not JSON objects): counted, not written.
    #[serde(default)]
    pub invalid: u64,
    /// Records written that carry no id (they cannot be de-duplicated).
    #[serde(default)]
    pub without_id: u64,
    /// Content blobs that had expired when fetched.
    #[serde(default)]
    pub expired: u64,
    /// Content blobs listed more than once (fetched once).
    #[serde(default)]
    pub duplicate_blobs: u64,
    /// Requests sent again after a 5xx, a timeout or a broken connection.
    #[serde(default)]
    pub retries: u32,
    /// Throttled responses (429, AF429) waited out.
    #[serde(default)]
    pub throttled: u32,
    /// Errors met (after retries), secrets removed.
    #[serde(default)]
    pub errors: Vec<String>,
    /// Why the window is not complete.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// `MailItemsAccessed` records written (Exchange audit and Purview search; in the manifest:
    /// over every attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_items_accessed: Option<u64>,
    /// The Purview audit log query of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_id: Option<String>,
    /// When the last attempt ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<Timestamp>,
    /// Runs that attempted the window.
    #[serde(default)]
    pub attempts: u32,
}

impl WindowRecord {
    pub(crate) fn new(tenant: &str, source: Source, w: plan::Window) -> Self {
        WindowRecord {
            tenant: tenant.to_owned(),
            source: source.name().to_owned(),
            from: w.from,
            to: w.to,
            status: Status::Missing,
            listed: 0,
            fetched: 0,
            records_served: 0,
            records_written: 0,
            duplicates: 0,
            invalid: 0,
            without_id: 0,
            expired: 0,
            duplicate_blobs: 0,
            retries: 0,
            throttled: 0,
            errors: Vec::new(),
            reasons: Vec::new(),
            mail_items_accessed: None,
            query_id: None,
            collected_at: None,
            attempts: 0,
        }
    }
}

/// A run of the collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// 1, 2, ... in this folder.
    pub run: u32,
    /// When it started.
    pub started_at: Timestamp,
    /// The range it was asked for.
    pub since: Timestamp,
    /// End of that range.
    pub until: Timestamp,
}

/// One source of one tenant, summed over its windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSummary {
    /// Source name.
    pub source: String,
    /// What people call it.
    pub label: String,
    /// `activity`, `graph` or `purview`.
    pub api: String,
    /// Start of its first window.
    pub from: Timestamp,
    /// End of its last window.
    pub to: Timestamp,
    /// Windows asked for.
    pub windows: u64,
    /// Of which complete.
    pub complete: u64,
    /// Partial.
    pub partial: u64,
    /// Missing.
    pub missing: u64,
    /// Blobs or pages listed (last attempts).
    pub listed: u64,
    /// Blobs or pages fetched (last attempts).
    pub fetched: u64,
    /// Records written.
    pub records_written: u64,
    /// Duplicates dropped (last attempts).
    pub duplicates: u64,
    /// Retries (last attempts).
    pub retries: u64,
    /// Throttled responses (last attempts).
    pub throttled: u64,
    /// When this collector started the source's Activity API subscription, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_started_at: Option<Timestamp>,
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    /// Tenant id.
    pub tenant: String,
    /// Label from the tenants file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Cloud.
    pub cloud: String,
    /// Its sources.
    pub sources: Vec<SourceSummary>,
}

/// Adjacent windows of one source that were not collected for the same reasons, as one span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Tenant id.
    pub tenant: String,
    /// Source name.
    pub source: String,
    /// Start.
    pub from: Timestamp,
    /// End (exclusive).
    pub to: Timestamp,
    /// `partial` or `missing`.
    pub status: Status,
    /// The windows' reasons.
    pub reason: String,
    /// Windows merged.
    pub windows: u64,
}

impl Gap {
    /// One line for a reader: `Exchange audit (Audit.Exchange) for tenant T, 2023-06-03
    /// 10:00–14:00 UTC: not collected: HTTP 403 ...`.
    #[must_use]
    pub fn describe(&self) -> String {
        let label = Source::from_name(&self.source).map_or("", Source::label);
        let what = if label.is_empty() {
            self.source.clone()
        } else {
            format!("{label} ({})", self.source)
        };
        let state = match self.status {
            Status::Missing => "not collected",
            Status::Partial => "partly collected",
            Status::Complete => "collected",
        };
        format!(
            "{what} for tenant {}, {}: {state}: {}",
            self.tenant,
            span(self.from, self.to),
            self.reason
        )
    }
}

/// `2023-06-03 10:00–14:00 UTC`, or with both dates when they differ.
pub(crate) fn span(from: Timestamp, to: Timestamp) -> String {
    let f = from.to_string();
    let t = to.to_string();
    let (fd, ft) = (&f[..10], &f[11..16]);
    let (td, tt) = (&t[..10], &t[11..16]);
    let end_of_day = tt == "00:00" && to.day_number() == from.day_number() + 1;
    if fd == td {
        format!("{fd} {ft}–{tt} UTC")
    } else if end_of_day {
        format!("{fd} {ft}–24:00 UTC")
    } else {
        format!("{fd} {ft} – {td} {tt} UTC")
    }
}

/// Something the logs say about the tenant's licences or settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Tenant id.
    pub tenant: String,
    /// `no_mail_items_accessed`, `no_audit_records`, `sign_ins_need_premium`,
    /// `audit_log_off`, `subscription_disabled`.
    pub kind: String,
    /// For a reader.
    pub detail: String,
}

/// Sums over everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Windows.
    pub windows: u64,
    /// Complete.
    pub complete: u64,
    /// Partial.
    pub partial: u64,
    /// Missing.
    pub missing: u64,
    /// Records written.
    pub records_written: u64,
    /// Duplicates dropped (last attempts).
    pub duplicates: u64,
    /// Retries (last attempts).
    pub retries: u64,
    /// Throttled responses (last attempts).
    pub throttled: u64,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// When it was written.
    pub generated_at: Timestamp,
    /// Window length of the Activity API and Graph sources, seconds.
    pub window_secs: i64,
    /// Window length of the Purview search, seconds.
    pub query_window_secs: i64,
    /// The runs that collected into the folder.
    pub runs: Vec<RunInfo>,
    /// Sums.
    pub totals: Totals,
    /// Per tenant and source.
    pub tenants: Vec<TenantSummary>,
    /// What was not (fully) collected, merged into spans.
    pub gaps: Vec<Gap>,
    /// Licence and settings signals.
    pub signals: Vec<Signal>,
    /// Every window.
    pub windows: Vec<WindowRecord>,
}

impl Manifest {
    /// Read a manifest.
    ///
    /// # Errors
    /// A message saying why the text is not a manifest of this format.
    pub fn from_slice(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.format != FORMAT {
            return Err(format!("\"format\" is {:?}, not {FORMAT:?}", m.format));
        }
        Ok(m)
    }

    /// Whether every window is complete.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.totals.partial == 0 && self.totals.missing == 0
    }

    /// Whether some span was not (fully) collected. Unlike [`Manifest::is_complete`], an
    /// Activity API window past its seven days does not count when a complete Purview search
    /// covers its time.
    #[must_use]
    pub fn has_gaps(&self) -> bool {
        !self.gaps.is_empty()
    }

    /// The summary written to standard error after a run.
    ///
    /// # Errors
    /// When `w` cannot be written.
    pub fn write_summary(&self, w: &mut dyn Write, path: &std::path::Path) -> std::io::Result<()> {
        let t = &self.totals;
        for tenant in &self.tenants {
            let name = tenant
                .name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            writeln!(w, "tenant {}{name}, {}:", tenant.tenant, tenant.cloud)?;
            for s in &tenant.sources {
                write!(
                    w,
                    "  {:<27} {:>5} windows: {} complete, {} partial, {} missing; {} records",
                    s.source,
                    s.windows,
                    s.complete,
                    s.partial,
                    s.missing,
                    thousands(s.records_written)
                )?;
                if s.duplicates > 0 {
                    write!(w, ", {} duplicates dropped", thousands(s.duplicates))?;
                }
                if s.throttled > 0 || s.retries > 0 {
                    write!(w, ", {} throttled, {} retries", s.throttled, s.retries)?;
                }
                writeln!(w)?;
            }
        }
        writeln!(
            w,
            "{} windows: {} complete, {} partial, {} missing; {} records written",
            thousands(t.windows),
            thousands(t.complete),
            thousands(t.partial),
            thousands(t.missing),
            thousands(t.records_written)
        )?;
        const SHOWN: usize = 20;
        if !self.gaps.is_empty() {
            writeln!(w, "not collected:")?;
            for g in self.gaps.iter().take(SHOWN) {
                writeln!(w, "  {}", g.describe())?;
            }
            if self.gaps.len() > SHOWN {
                writeln!(w, "  … {} more (see the manifest)", self.gaps.len() - SHOWN)?;
            }
        }
        for s in &self.signals {
            writeln!(w, "signal: tenant {}: {}", s.tenant, s.detail)?;
        }
        writeln!(w, "manifest: {}", path.display())
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(
            span(ts("2023-06-03T10:00:00Z"), ts("2023-06-03T14:00:00Z")),
            "2023-06-03 10:00–14:00 UTC"
        );
        assert_eq!(
            span(ts("2023-06-03T00:00:00Z"), ts("2023-06-04T00:00:00Z")),
            "2023-06-03 00:00–24:00 UTC"
        );
        assert_eq!(
            span(ts("2023-06-03T22:00:00Z"), ts("2023-06-05T02:00:00Z")),
            "2023-06-03 22:00 – 2023-06-05 02:00 UTC"
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
