//! The records the generator emits, before rendering into a format.

use std::net::IpAddr;

use crate::ids::Guid;

/// Bind or Sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Bind,
    Sync,
}

/// One folder of a MailItemsAccessed record: folder index and message indexes (Bind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FolderRef {
    pub(crate) folder: usize,
    pub(crate) items: Vec<u32>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// RecordType 50.
    MailItemsAccessed {
        access: Access,
        throttled: bool,
        folders: Vec<FolderRef>,
        count: u32,
    },
    /// RecordType 2, `Send`.
    Send { item: u32 },
    /// RecordType 6, `FileAccessed`.
    FileAccessed { file: u32 },
    /// RecordType 15, `UserLoggedIn`.
    UserLoggedIn,
    /// RecordType 1, an Exchange admin cmdlet on mailbox `target`; `grantee` is the account a
    /// permission or role is given to (the acting user when `None`).
    Cmdlet {
        name: &'static str,
        target: usize,
        grantee: Option<usize>,
    },
    /// RecordType 24, an eDiscovery (content search) step over every mailbox of the tenant.
    Discovery { operation: &'static str, case: u32 },
}

/// Why a record is in the data set (ground truth only; never rendered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Normal,
    Actor,
    Decoy(DecoyKind),
}

/// The look-alike cases that must not be flagged high.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum DecoyKind {
    NewOutlookInstall,
    IocOutsideWindow,
    NewDelegate,
    MigrationAccount,
    BackupAppOnly,
    ArchivingConnector,
    EDiscovery,
    DelegateAssistant,
    NewOutlookRollout,
    SharedMailbox,
    NightAdmin,
}

impl DecoyKind {
    pub(crate) fn slug(self) -> &'static str {
        match self {
            DecoyKind::NewOutlookInstall => "new_outlook_install",
            DecoyKind::IocOutsideWindow => "ioc_ip_outside_window",
            DecoyKind::NewDelegate => "new_delegate",
            DecoyKind::MigrationAccount => "migration_account",
            DecoyKind::BackupAppOnly => "backup_app_only",
            DecoyKind::ArchivingConnector => "archiving_connector",
            DecoyKind::EDiscovery => "ediscovery_search",
            DecoyKind::DelegateAssistant => "delegate_assistant",
            DecoyKind::NewOutlookRollout => "new_outlook_rollout",
            DecoyKind::SharedMailbox => "shared_mailbox",
            DecoyKind::NightAdmin => "night_admin",
        }
    }
}

/// One Unified Audit Log record.
#[derive(Debug, Clone)]
pub(crate) struct Ual {
    pub(crate) id: Guid,
    pub(crate) time: i64,
    /// Acting user (`UserId`).
    pub(crate) user: usize,
    /// Mailbox owner (`MailboxOwnerUPN`).
    pub(crate) mailbox: usize,
    /// 0 Owner, 1 Admin, 2 Delegated.
    pub(crate) logon_type: u8,
    pub(crate) profile: usize,
    pub(crate) ip: IpAddr,
    pub(crate) session: Guid,
    /// Token id (`AppAccessContext.UniqueTokenId`), where the tenant logs it.
    pub(crate) uti: u128,
    /// Token issue time (seconds).
    pub(crate) iat: i64,
    /// `TokenTenantId` written instead of the organisation id (forged tokens).
    pub(crate) foreign_token_tenant: bool,
    pub(crate) op: Op,
    pub(crate) tag: Tag,
    /// Creation order, for a stable sort.
    pub(crate) seq: u64,
}

/// One Entra ID sign-in.
#[derive(Debug, Clone)]
pub(crate) struct SignIn {
    pub(crate) id: Guid,
    pub(crate) time: i64,
    pub(crate) ticks: u32,
    pub(crate) user: usize,
    pub(crate) profile: usize,
    pub(crate) ip: IpAddr,
    pub(crate) session: Guid,
    pub(crate) uti: u128,
    pub(crate) interactive: bool,
    pub(crate) correlation: Guid,
    pub(crate) request: Guid,
}

impl Ual {
    /// RecordType number.
    pub(crate) fn record_type(&self) -> u32 {
        match self.op {
            Op::MailItemsAccessed { .. } => 50,
            Op::Send { .. } => 2,
            Op::FileAccessed { .. } => 6,
            Op::UserLoggedIn => 15,
            Op::Cmdlet { .. } => 1,
            Op::Discovery { .. } => 24,
        }
    }

    /// RecordType name as Purview and Graph write it.
    pub(crate) fn record_type_name(&self) -> &'static str {
        match self.op {
            Op::MailItemsAccessed { .. } => "ExchangeItemAggregated",
            Op::Send { .. } => "ExchangeItem",
            Op::FileAccessed { .. } => "SharePointFileOperation",
            Op::UserLoggedIn => "AzureActiveDirectoryStsLogon",
            Op::Cmdlet { .. } => "ExchangeAdmin",
            Op::Discovery { .. } => "Discovery",
        }
    }

    /// Operation name.
    pub(crate) fn operation(&self) -> &'static str {
        match self.op {
            Op::MailItemsAccessed { .. } => "MailItemsAccessed",
            Op::Send { .. } => "Send",
            Op::FileAccessed { .. } => "FileAccessed",
            Op::UserLoggedIn => "UserLoggedIn",
            Op::Cmdlet { name, .. } => name,
            Op::Discovery { operation, .. } => operation,
        }
    }

    /// Workload.
    pub(crate) fn workload(&self) -> &'static str {
        match self.op {
            Op::MailItemsAccessed { .. } | Op::Send { .. } | Op::Cmdlet { .. } => "Exchange",
            Op::FileAccessed { .. } => "SharePoint",
            Op::UserLoggedIn => "AzureActiveDirectory",
            Op::Discovery { .. } => "SecurityComplianceCenter",
        }
    }
}
