//! Limits of the evidence: what the logs cannot show.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// The kind of an evidence limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// `IsThrottled`: Bind auditing stopped for 24 h; presume the mailbox exposed.
    Throttled,
    /// Activity but no `MailItemsAccessed` (no audit licence, or auditing off).
    NoMailAudit,
    /// Days without any record inside the covered span.
    LogGap,
    /// Records that could not be read.
    ParseErrors,
    /// An export that flattened folder items (PowerShell `System.Object[]`).
    ItemsLost,
    /// The start of the export may be the retention edge.
    RetentionEdge,
    /// Mailbox auditing bypassed or disabled by an operation in the log.
    AuditBypass,
    /// No sign-in logs in the input: joins against sign-ins could not be made.
    NoSignIns,
    /// Read counts are lower bounds (Exchange drops repeats within an hour).
    Dedup,
    /// A window `stormwatch collect` asked an API for and could not (fully) collect, as its
    /// manifest beside the input says.
    NotCollected,
}

impl LimitKind {
    /// The snake_case name used in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Throttled => "throttled",
            LimitKind::NoMailAudit => "no_mail_audit",
            LimitKind::LogGap => "log_gap",
            LimitKind::ParseErrors => "parse_errors",
            LimitKind::ItemsLost => "items_lost",
            LimitKind::RetentionEdge => "retention_edge",
            LimitKind::AuditBypass => "audit_bypass",
            LimitKind::NoSignIns => "no_sign_ins",
            LimitKind::Dedup => "dedup",
            LimitKind::NotCollected => "not_collected",
        }
    }
}

/// One limit of the evidence, with the window it covers when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// What kind.
    pub kind: LimitKind,
    /// Start of the window, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Timestamp>,
    /// End of the window (exclusive), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Timestamp>,
    /// Explanation for a reader.
    pub detail: String,
}
