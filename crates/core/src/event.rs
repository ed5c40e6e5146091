//! The normalised view of one audit record.
//!
//! Every reader turns its input (UAL Management Activity API JSON, Purview CSV, Sentinel
//! `OfficeActivity`, Defender `CloudAppEvents`, Graph audit queries, Entra sign-ins and audit
//! logs, generic JSON) into [`Event`]s. An event keeps the record's JSON text (`raw`) for rules
//! that need arbitrary fields, and exposes the handful of fields every later step needs,
//! already reconciled across the variants (`ClientIP` / `ClientIPAddress` / `Client_IPAddress`,
//! RecordType as number or string, `Logon_Type: "Owner"` or `LogonType: 0`, …).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::location::Location;
use crate::time::Timestamp;

/// Which input shape a record was read from (its log source for rule dispatch).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Unified Audit Log record as the Management Activity API returns it (also Purview CSV
    /// `AuditData`, Graph audit query `auditData`, collectors' UAL JSON).
    Ual,
    /// Microsoft Sentinel `OfficeActivity` row.
    SentinelOfficeActivity,
    /// Defender XDR `CloudAppEvents` row (`RawEventData` holds the UAL record).
    DefenderCloudAppEvents,
    /// Entra ID sign-in (Graph `signIn`, or Azure Monitor `SignInLogs` /
    /// `NonInteractiveUserSignInLogs` / `ServicePrincipalSignInLogs` / `ManagedIdentitySignInLogs`).
    EntraSignIn,
    /// Entra ID audit log (Graph `directoryAudit`, Azure Monitor `AuditLogs`, Sentinel `AuditLogs`).
    EntraAudit,
    /// Windows event as JSON (evtx dumps, e.g. Sigma regression data).
    WindowsEvent,
    /// Any other JSON record.
    #[default]
    Generic,
}

impl SourceKind {
    /// Stable snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Ual => "ual",
            SourceKind::SentinelOfficeActivity => "sentinel_office_activity",
            SourceKind::DefenderCloudAppEvents => "defender_cloud_app_events",
            SourceKind::EntraSignIn => "entra_sign_in",
            SourceKind::EntraAudit => "entra_audit",
            SourceKind::WindowsEvent => "windows_event",
            SourceKind::Generic => "generic",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Outcome of the audited operation, reconciled from `ResultStatus` (`Succeeded`, `True`,
/// `success`, `Failed`, `False`, `PartiallySucceeded`) or a sign-in's `status.errorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Succeeded.
    Success,
    /// Failed.
    Failure,
    /// Partially succeeded, interrupted, or another known non-binary value.
    Partial,
    /// Not stated.
    #[default]
    Unknown,
}

/// Exchange logon type (`LogonType` / `InternalLogonType` numbers or `Logon_Type` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogonType {
    /// 0: the mailbox owner.
    Owner,
    /// 1: an administrator.
    Admin,
    /// 2: a delegate.
    Delegated,
    /// 3: transport.
    Transport,
    /// 4: system service.
    SystemService,
    /// 5: best access.
    BestAccess,
    /// 6: delegated administrator.
    DelegatedAdmin,
}

impl LogonType {
    /// From the numeric form.
    #[must_use]
    pub fn from_number(n: i64) -> Option<Self> {
        Some(match n {
            0 => LogonType::Owner,
            1 => LogonType::Admin,
            2 => LogonType::Delegated,
            3 => LogonType::Transport,
            4 => LogonType::SystemService,
            5 => LogonType::BestAccess,
            6 => LogonType::DelegatedAdmin,
            _ => return None,
        })
    }

    /// From the name form (`Owner`, `Admin`, `Delegate`/`Delegated`, …), case-insensitive,
    /// or a number in text.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        if let Ok(n) = s.trim().parse::<i64>() {
            return Self::from_number(n);
        }
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "owner" => LogonType::Owner,
            "admin" | "administrator" => LogonType::Admin,
            "delegate" | "delegated" => LogonType::Delegated,
            "transport" => LogonType::Transport,
            "systemservice" => LogonType::SystemService,
            "bestaccess" => LogonType::BestAccess,
            "delegatedadmin" => LogonType::DelegatedAdmin,
            _ => return None,
        })
    }
}

/// `MailAccessType` of a `MailItemsAccessed` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailAccessType {
    /// One or more messages opened; items listed.
    Bind,
    /// A folder synchronised by desktop Outlook; every item in it is exposed.
    Sync,
}

/// One message listed under a folder of a `MailItemsAccessed` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef {
    /// `InternetMessageId`, as logged (with angle brackets).
    pub internet_message_id: String,
    /// `SizeInBytes`, when logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// One folder of a `MailItemsAccessed` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct FolderAccess {
    /// Folder id, when logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Folder path such as `\Inbox`.
    pub path: String,
    /// Listed messages (empty for Sync).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<MessageRef>,
}

/// The `MailItemsAccessed`-specific part of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MailAccess {
    /// Bind or Sync; `None` when the record does not say.
    pub access_type: Option<MailAccessType>,
    /// `IsThrottled` was true: Bind auditing stopped for the following 24 h.
    pub throttled: bool,
    /// `OperationCount`: binds aggregated into this record (1 when absent).
    pub operation_count: u64,
    /// Folders and their listed messages.
    pub folders: Vec<FolderAccess>,
    /// The export flattened the folder items (PowerShell `System.Object[]`), so they are lost.
    pub items_lost: bool,
}

/// The sign-in-specific part of an event (Entra ID sign-in logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SignIn {
    /// Sign-in `id` (request id).
    pub id: Option<String>,
    /// `sessionId` (Graph beta `linkableIdentifiers`, Sentinel `SessionId`).
    pub session_id: Option<String>,
    /// `uniqueTokenIdentifier` (`uti`).
    pub unique_token_id: Option<String>,
    /// `correlationId`.
    pub correlation_id: Option<String>,
    /// Client application id (`appId`).
    pub app_id: Option<String>,
    /// Client application display name.
    pub app_name: Option<String>,
    /// `resourceId` (the API the token is for).
    pub resource_id: Option<String>,
    /// `resourceDisplayName`.
    pub resource_name: Option<String>,
    /// `status.errorCode` / `resultType` (0 = success).
    pub error_code: Option<i64>,
    /// `isInteractive`; for Azure Monitor records also derived from the category.
    pub interactive: Option<bool>,
    /// `tokenIssuerType` (`AzureAD`, `ADFederationServices`, …).
    pub token_issuer_type: Option<String>,
    /// The Azure Monitor category (`SignInLogs`, `NonInteractiveUserSignInLogs`, …) if known.
    pub category: Option<String>,
    /// `autonomousSystemNumber`.
    pub asn: Option<u32>,
    /// `homeTenantId`.
    pub home_tenant: Option<String>,
    /// `resourceTenantId`.
    pub resource_tenant: Option<String>,
    /// `incomingTokenType`.
    pub incoming_token_type: Option<String>,
}

/// One normalised audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Event {
    /// Where the record came from.
    pub loc: Location,
    /// Input shape / log source.
    pub source: SourceKind,
    /// The record as JSON text: the UAL record itself for Management API / CSV `AuditData` /
    /// Graph `auditData` / Defender `RawEventData`, the row for Sentinel, the sign-in object for
    /// Graph, the whole `{time, category, properties}` record for Azure Monitor.
    pub raw: String,
    /// `CreationTime` / `TimeGenerated` / `createdDateTime` / `time` (UTC).
    pub time: Option<Timestamp>,
    /// Tenant id (`OrganizationId`, `TenantId`, `tenantId`).
    pub tenant: Option<String>,
    /// `OrganizationName`, when logged.
    pub org_name: Option<String>,
    /// `Workload` / `OfficeWorkload` (`Exchange`, `AzureActiveDirectory`, …).
    pub workload: Option<String>,
    /// `RecordType` as a number (names such as `ExchangeItemAggregated` are mapped).
    pub record_type: Option<u32>,
    /// `Operation` (UAL), `operationName`/`activityDisplayName` (audit), `"SignIn"` for sign-ins.
    pub operation: Option<String>,
    /// Result.
    pub outcome: Outcome,
    /// Acting user (`UserId`, `userPrincipalName`).
    pub user: Option<String>,
    /// `UserType` (0 Regular, 2 Admin, 3 DcAdmin, 4 System, 5 Application, 6 ServicePrincipal).
    pub user_type: Option<u8>,
    /// Mailbox owner (`MailboxOwnerUPN`), for Exchange mailbox records.
    pub mailbox: Option<String>,
    /// `MailboxGuid`.
    pub mailbox_guid: Option<String>,
    /// Client IP (`ClientIPAddress`, `ClientIP`, `Client_IPAddress`, `ActorIpAddress`,
    /// `ipAddress`), port and brackets stripped.
    pub client_ip: Option<IpAddr>,
    /// The client IP text when it did not parse as an address.
    pub client_ip_text: Option<String>,
    /// `SessionId` (UAL) / `AppAccessContext.AADSessionId` / sign-in `sessionId`.
    pub session_id: Option<String>,
    /// `AppAccessContext.UniqueTokenId` (UAL) or sign-in `uniqueTokenIdentifier`.
    pub unique_token_id: Option<String>,
    /// `AppId` (the resource / first-party app in Exchange records; the client app for sign-ins).
    pub app_id: Option<String>,
    /// `ClientAppId` (the client application in Exchange records).
    pub client_app_id: Option<String>,
    /// `ClientInfoString` (Exchange) or user agent (`userAgent`, `ActorInfoString`).
    pub client_info: Option<String>,
    /// Exchange logon type.
    pub logon_type: Option<LogonType>,
    /// `TokenTenantId` (the `tid` of the token that made the call), when logged.
    pub token_tenant: Option<String>,
    /// `MailItemsAccessed` details.
    pub mail: Option<MailAccess>,
    /// Sign-in details.
    pub sign_in: Option<SignIn>,
}

impl Event {
    /// Is this an Exchange `MailItemsAccessed` record?
    #[must_use]
    pub fn is_mail_items_accessed(&self) -> bool {
        self.mail.is_some()
            || self.record_type == Some(50)
            || self
                .operation
                .as_deref()
                .is_some_and(|o| o.eq_ignore_ascii_case("MailItemsAccessed"))
    }

    /// Is this an Entra sign-in?
    #[must_use]
    pub fn is_sign_in(&self) -> bool {
        self.sign_in.is_some()
    }

    /// The client IP as text: the parsed address, or the unparsed text.
    #[must_use]
    pub fn ip_string(&self) -> Option<String> {
        self.client_ip
            .map(|ip| ip.to_string())
            .or_else(|| self.client_ip_text.clone())
    }
}
