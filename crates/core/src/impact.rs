//! The impact report model: organisation → mailbox → folder → message, with the limits of the
//! evidence. Serialised as `stormwatch impact --format json` (a contract other tools rely on).

use serde::{Deserialize, Serialize};

use crate::limit::Limit;
use crate::time::Timestamp;

/// The whole impact report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ImpactReport {
    /// The attacker context after expansion.
    pub actor: ActorContext,
    /// First and last actor record overall.
    pub window: Window,
    /// Per organisation (tenant), sorted by tenant id.
    pub organizations: Vec<OrgImpact>,
    /// Limits that apply to the whole input.
    pub limits: Vec<Limit>,
    /// How the actor context was built: seeds and each expansion step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expansion: Vec<ExpansionStep>,
    /// What the input covers: records per tenant, workload and day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<CoverageRow>,
    /// Per input file: records, first and last record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceCoverage>,
}

/// Attacker context: the identifiers tied to the actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ActorContext {
    /// Client IPs.
    pub ips: Vec<String>,
    /// Session ids.
    pub sessions: Vec<String>,
    /// App ids (`ClientAppId`/`AppId`).
    pub apps: Vec<String>,
    /// User agents / `ClientInfoString`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_agents: Vec<String>,
}

/// One step of context expansion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpansionStep {
    /// The identifier kind added (`ip`, `session`, `app`, `user_agent`).
    pub added_kind: String,
    /// The identifier added.
    pub added: String,
    /// What led to it (`seed`, or `session 7b0d…` etc.).
    pub via: String,
    /// The record that links them, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// First and last access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Window {
    /// First actor record.
    pub first: Option<Timestamp>,
    /// Last actor record.
    pub last: Option<Timestamp>,
}

/// Impact on one organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OrgImpact {
    /// Tenant id.
    pub tenant_id: String,
    /// Organisation name, when logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// First actor record in this tenant.
    pub first_access: Option<Timestamp>,
    /// Last actor record in this tenant.
    pub last_access: Option<Timestamp>,
    /// Distinct sessions, IPs and apps of the actor here.
    #[serde(default)]
    pub sessions: u64,
    /// Distinct IPs.
    #[serde(default)]
    pub ips: u64,
    /// Distinct apps.
    #[serde(default)]
    pub apps: u64,
    /// Mailboxes touched, sorted.
    pub mailboxes: Vec<MailboxImpact>,
    /// Limits for this organisation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<Limit>,
}

/// Impact on one mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MailboxImpact {
    /// Mailbox owner UPN.
    pub mailbox: String,
    /// First actor access.
    pub first_access: Option<Timestamp>,
    /// Last actor access.
    pub last_access: Option<Timestamp>,
    /// Folders, sorted by path.
    pub folders: Vec<FolderImpact>,
    /// Σ`OperationCount` beyond the listed items.
    pub unlisted_binds: u64,
    /// Distinct messages read (exact inside the observable window).
    #[serde(default)]
    pub messages: u64,
    /// Σ `SizeInBytes` of the distinct messages.
    #[serde(default)]
    pub bytes: u64,
    /// Actor records on this mailbox (a lower bound of reads).
    #[serde(default)]
    pub records: u64,
    /// Distinct sessions.
    #[serde(default)]
    pub sessions: u64,
    /// Distinct IPs.
    #[serde(default)]
    pub ips: u64,
    /// Distinct apps.
    #[serde(default)]
    pub apps: u64,
    /// Limits for this mailbox.
    pub limits: Vec<Limit>,
}

/// Impact on one folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FolderImpact {
    /// Folder path.
    pub path: String,
    /// A Sync exposed the whole folder.
    pub whole_folder: bool,
    /// Messages, sorted by first access then id.
    pub messages: Vec<MessageImpact>,
}

/// One message read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MessageImpact {
    /// `InternetMessageId`.
    pub internet_message_id: String,
    /// `SizeInBytes`, when logged.
    pub size_bytes: Option<u64>,
    /// First access.
    pub first_access: Option<Timestamp>,
    /// Last access.
    pub last_access: Option<Timestamp>,
    /// Actor records listing it (a lower bound).
    #[serde(default)]
    pub access_count: u64,
    /// Subject, when a subjects file was supplied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// One coverage row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageRow {
    /// Tenant id (`unknown` when the record has none).
    pub tenant: String,
    /// Workload.
    pub workload: String,
    /// Day `YYYY-MM-DD`.
    pub day: String,
    /// Records.
    pub records: u64,
    /// `MailItemsAccessed` records.
    pub mail_items_accessed: u64,
}

/// Coverage of one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCoverage {
    /// Path.
    pub file: String,
    /// Format.
    pub format: String,
    /// Records read.
    pub records: u64,
    /// Records skipped.
    pub skipped: u64,
    /// First record.
    pub first: Option<Timestamp>,
    /// Last record.
    pub last: Option<Timestamp>,
}
