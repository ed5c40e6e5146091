//! Ground truth: what the actor did, what the decoys are, and what the evidence cannot show.
//! Written as `truth.json`; the schema is described in the crate README.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use stormwatch_core::Timestamp;

use crate::record::{Access, Op, Tag};
use crate::scenario::Data;
use crate::timefmt::{DAY, ts};
use crate::world::{FOLDERS, iocs};

/// Schema tag written in `truth.json`.
pub const TRUTH_SCHEMA: &str = "stormwatch-gen/truth/v1";

/// The whole ground truth of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    /// [`TRUTH_SCHEMA`].
    pub schema: String,
    /// Seed the scenario was made from.
    pub seed: u64,
    /// First and last day covered (`first` inclusive, `last` exclusive).
    pub period: Period,
    /// Every tenant, audited or not.
    pub tenants: Vec<TenantTruth>,
    /// Tenant ids with activity but no MailItemsAccessed (no Audit Premium).
    pub unaudited_tenants: Vec<String>,
    /// The actor's context: what hunt should tie together.
    pub actor: ActorTruth,
    /// UAL `Id` of every actor record (all formats carry the same ids).
    pub actor_record_ids: Vec<String>,
    /// First and last actor record overall.
    pub window: Period,
    /// What the actor read, per organisation → mailbox → folder → message.
    pub organizations: Vec<OrgTruth>,
    /// Every whole-folder Sync by the actor.
    pub whole_folder_syncs: Vec<SyncTruth>,
    /// Every throttled window `[from, to)`.
    pub throttled_windows: Vec<ThrottleTruth>,
    /// Look-alike cases that must not be flagged high or critical.
    pub decoys: Vec<DecoyTruth>,
    /// Record counts.
    pub counts: Counts,
}

/// A time span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// Start.
    pub first: Timestamp,
    /// End.
    pub last: Timestamp,
}

/// One tenant of the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantTruth {
    /// `OrganizationId`.
    pub tenant_id: String,
    /// Mail domain.
    pub domain: String,
    /// `OrganizationName`.
    pub organization_name: String,
    /// MailItemsAccessed is logged (Audit Premium).
    pub mail_items_accessed: bool,
    /// Records carry `AppAccessContext`.
    pub app_access_context: bool,
    /// Mailboxes (UPNs).
    pub mailboxes: Vec<String>,
}

/// The actor's identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorTruth {
    /// Client IPs (all from the published IOC list, used inside their windows).
    pub ips: Vec<String>,
    /// Session ids.
    pub sessions: Vec<String>,
    /// `ClientAppId`s (one app the mailboxes never used).
    pub apps: Vec<String>,
    /// `AppId`s of the actor records.
    pub app_ids: Vec<String>,
    /// `ClientInfoString`s.
    pub client_info_strings: Vec<String>,
    /// User agents (`ActorInfoString`), where written.
    pub user_agents: Vec<String>,
    /// `TokenTenantId`s that differ from the organisation (forged tokens).
    pub foreign_token_tenants: Vec<String>,
    /// Days of the week (0 = Monday) and hours (UTC) of activity: always Mon–Fri 00:00–09:00.
    pub active_hours_utc: String,
    /// The IOC window of every actor IP (`from`, `to` inclusive dates).
    pub ioc_windows: Vec<IocWindow>,
}

/// An IOC IP with its window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IocWindow {
    /// IP.
    pub ip: String,
    /// First seen.
    pub from: Timestamp,
    /// Last seen.
    pub to: Timestamp,
}

/// Impact on one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgTruth {
    /// Tenant id.
    pub tenant_id: String,
    /// First actor record in this tenant.
    pub first_access: Timestamp,
    /// Last actor record in this tenant.
    pub last_access: Timestamp,
    /// Mailboxes read, sorted by UPN.
    pub mailboxes: Vec<MailboxTruth>,
}

/// Impact on one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxTruth {
    /// Owner UPN.
    pub mailbox: String,
    /// `MailboxGuid`.
    pub mailbox_guid: String,
    /// First actor record.
    pub first_access: Timestamp,
    /// Last actor record.
    pub last_access: Timestamp,
    /// Actor sessions seen on this mailbox.
    pub sessions: Vec<String>,
    /// Actor IPs seen on this mailbox.
    pub ips: Vec<String>,
    /// Σ (OperationCount − listed items) over the actor's Bind records.
    pub unlisted_binds: u64,
    /// Σ OperationCount over the actor's records.
    pub operation_count: u64,
    /// Folders, sorted by path.
    pub folders: Vec<FolderTruth>,
    /// Throttled windows of this mailbox.
    pub throttled: Vec<Window>,
}

/// Impact on one folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderTruth {
    /// Folder path, e.g. `\Inbox`.
    pub path: String,
    /// A Sync exposed the whole folder.
    pub whole_folder: bool,
    /// Messages bound, sorted by InternetMessageId.
    pub messages: Vec<MessageTruth>,
}

/// One message the actor bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageTruth {
    /// InternetMessageId.
    pub internet_message_id: String,
    /// SizeInBytes.
    pub size_bytes: u64,
    /// First actor record listing it.
    pub first_access: Timestamp,
    /// Last actor record listing it.
    pub last_access: Timestamp,
    /// Actor records listing it.
    pub access_count: u64,
}

/// `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start (the `IsThrottled=True` record).
    pub from: Timestamp,
    /// End (24 h later).
    pub to: Timestamp,
}

/// A whole-folder Sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncTruth {
    /// Tenant id.
    pub tenant_id: String,
    /// Mailbox UPN.
    pub mailbox: String,
    /// Folder path.
    pub path: String,
    /// Time of the Sync record.
    pub time: Timestamp,
    /// Its UAL Id.
    pub record_id: String,
}

/// A throttled window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleTruth {
    /// Tenant id.
    pub tenant_id: String,
    /// Mailbox UPN.
    pub mailbox: String,
    /// Start (the `IsThrottled=True` record).
    pub from: Timestamp,
    /// End (24 h later).
    pub to: Timestamp,
    /// UAL Id of the `IsThrottled=True` record.
    pub record_id: String,
}

/// A decoy: records that look like the intrusion but are benign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecoyTruth {
    /// `new_outlook_install`, `ioc_ip_outside_window`, `new_delegate`, `migration_account`,
    /// `backup_app_only`, `archiving_connector`, `ediscovery_search`, `delegate_assistant`,
    /// `new_outlook_rollout`, `shared_mailbox`, `night_admin`.
    pub kind: String,
    /// What it is and why it is benign.
    pub description: String,
    /// Acting user (for the backup application: its application id).
    pub user: String,
    /// A mailbox it touched (for services reading many: the first).
    pub mailbox: String,
    /// UAL Ids of its records (each has sign-ins behind it).
    pub record_ids: Vec<String>,
}

/// Record counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// UAL records (every UAL format holds exactly these).
    pub ual_records: u64,
    /// UAL records with RecordType 50.
    pub mail_items_accessed: u64,
    /// Sign-ins (interactive + non-interactive).
    pub signins: u64,
    /// Interactive sign-ins.
    pub interactive_signins: u64,
    /// Actor records.
    pub actor_records: u64,
}

fn description(kind: &str) -> &'static str {
    match kind {
        "new_outlook_install" => {
            "The user installs desktop Outlook on a new laptop at home: Sync and Bind from a new ClientInfoString, ClientAppId, IP and session, each backed by interactive and non-interactive sign-ins."
        }
        "ioc_ip_outside_window" => {
            "The user reads mail through OWA from two published Storm-0558 IPs on dates far outside their IOC windows (more than 7 days), with sign-ins from the same IPs."
        }
        "new_delegate" => {
            "A colleague starts reading the executive's mailbox as a delegate (LogonType 2) through OWA from the office, with sign-ins."
        }
        "migration_account" => {
            "An administrator grants a migration account ApplicationImpersonation and full access; the account then reads every mailbox of its tenant overnight for two nights (one session, two cloud workers, several mailboxes a minute, OperationCount in the hundreds, one mailbox throttled), with sign-ins."
        }
        "backup_app_only" => {
            "A third-party backup application with an application permission reads every mailbox through Microsoft Graph each night, as itself (UserType Application, no session, Client=REST), from its cloud, starting part-way through the period; its tokens are in the service principal sign-in log."
        }
        "archiving_connector" => {
            "An archiving connector's EWS service account reads every mailbox of its tenant each night, several a minute, with a sign-in at the start of each run."
        }
        "ediscovery_search" => {
            "The records manager creates, starts, previews and exports content searches over every mailbox from home late in the evening, with interactive sign-ins."
        }
        "delegate_assistant" => {
            "The executive's assistant reads the executive's mailbox as a delegate every working day, from the office or from home, in the assistant's own signed-in sessions."
        }
        "new_outlook_rollout" => {
            "The new Outlook for Windows reaches about seven in ten people of a tenant on one day: a new ClientAppId and user agent for each of their mailboxes at once, with sign-ins."
        }
        "shared_mailbox" => {
            "A shared mailbox that never signs in is read by several colleagues as delegates (desktop Outlook syncs it, the web client binds), one of them joining part-way through."
        }
        "night_admin" => {
            "An administrator works three nights from home inside the actor's hours: grants full access, bypasses auditing for a monitoring account, and opens a colleague's mailbox as an administrator, with interactive sign-ins."
        }
        _ => "",
    }
}

#[derive(Default)]
struct MsgAcc {
    size: u64,
    first: i64,
    last: i64,
    count: u64,
}

#[derive(Default)]
struct MbxAcc {
    first: i64,
    last: i64,
    sessions: BTreeSet<String>,
    ips: BTreeSet<String>,
    unlisted: u64,
    opcount: u64,
    folders: BTreeMap<String, (bool, BTreeMap<String, MsgAcc>)>,
}

/// Build the ground truth from the generated records.
pub(crate) fn build(data: &Data, seed: u64) -> Truth {
    let w = &data.world;
    let t0 = |s: i64| ts(s, 0);
    let mut orgs: BTreeMap<String, BTreeMap<String, MbxAcc>> = BTreeMap::new();
    let mut actor_ids = Vec::new();
    let mut ips = BTreeSet::new();
    let mut sessions = BTreeSet::new();
    let mut apps = BTreeSet::new();
    let mut app_ids = BTreeSet::new();
    let mut cis = BTreeSet::new();
    let mut uas = BTreeSet::new();
    let mut foreign = BTreeSet::new();
    let mut syncs = Vec::new();
    let mut throttles = Vec::new();
    let mut decoy_ids: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let (mut win_first, mut win_last) = (i64::MAX, i64::MIN);
    for r in &data.ual {
        if let Op::MailItemsAccessed {
            throttled: true, ..
        } = &r.op
        {
            let owner = &w.users[r.mailbox];
            throttles.push(ThrottleTruth {
                tenant_id: w.tenants[owner.tenant].id.to_string(),
                mailbox: owner.upn.clone(),
                from: t0(r.time),
                to: t0(r.time + DAY),
                record_id: r.id.to_string(),
            });
        }
        match r.tag {
            Tag::Decoy(k) => decoy_ids
                .entry(k.slug())
                .or_default()
                .push(r.id.to_string()),
            Tag::Normal => {}
            Tag::Actor => {
                let owner = &w.users[r.mailbox];
                let tenant = &w.tenants[owner.tenant];
                let p = &w.profiles[r.profile];
                actor_ids.push(r.id.to_string());
                ips.insert(r.ip.to_string());
                sessions.insert(r.session.to_string());
                apps.insert(p.client_app_id.clone());
                app_ids.insert(p.app_id.clone());
                cis.insert(p.client_info.clone());
                if p.actor_info {
                    uas.insert(p.user_agent.clone());
                }
                if r.foreign_token_tenant && tenant.token_fields {
                    foreign.insert(crate::world::CONSUMER_TENANT.to_string());
                }
                win_first = win_first.min(r.time);
                win_last = win_last.max(r.time);
                let m = orgs
                    .entry(tenant.id.to_string())
                    .or_default()
                    .entry(owner.upn.clone())
                    .or_insert_with(|| MbxAcc {
                        first: i64::MAX,
                        last: i64::MIN,
                        ..MbxAcc::default()
                    });
                m.first = m.first.min(r.time);
                m.last = m.last.max(r.time);
                m.sessions.insert(r.session.to_string());
                m.ips.insert(r.ip.to_string());
                if let Op::MailItemsAccessed {
                    access,
                    folders,
                    count,
                    ..
                } = &r.op
                {
                    m.opcount += u64::from(*count);
                    let listed: usize = folders.iter().map(|f| f.items.len()).sum();
                    if *access == Access::Bind {
                        m.unlisted += u64::from(*count).saturating_sub(listed as u64);
                    }
                    for f in folders {
                        let path = FOLDERS[f.folder].0.to_string();
                        let entry = m.folders.entry(path.clone()).or_default();
                        if *access == Access::Sync {
                            entry.0 = true;
                            syncs.push(SyncTruth {
                                tenant_id: tenant.id.to_string(),
                                mailbox: owner.upn.clone(),
                                path: path.clone(),
                                time: t0(r.time),
                                record_id: r.id.to_string(),
                            });
                        }
                        for &k in &f.items {
                            let (imid, size) = w.message(r.mailbox, f.folder, k);
                            let a = entry.1.entry(imid).or_insert_with(|| MsgAcc {
                                size: u64::from(size),
                                first: i64::MAX,
                                last: i64::MIN,
                                count: 0,
                            });
                            a.first = a.first.min(r.time);
                            a.last = a.last.max(r.time);
                            a.count += 1;
                        }
                    }
                }
            }
        }
    }
    let organizations = orgs
        .into_iter()
        .map(|(tenant_id, mbxs)| {
            let mailboxes: Vec<MailboxTruth> = mbxs
                .into_iter()
                .map(|(upn, m)| {
                    let guid = w
                        .users
                        .iter()
                        .find(|u| u.upn == upn)
                        .map(|u| u.mailbox_guid.to_string())
                        .unwrap_or_default();
                    MailboxTruth {
                        throttled: throttles
                            .iter()
                            .filter(|t| t.mailbox == upn)
                            .map(|t| Window {
                                from: t.from,
                                to: t.to,
                            })
                            .collect(),
                        mailbox: upn,
                        mailbox_guid: guid,
                        first_access: t0(m.first),
                        last_access: t0(m.last),
                        sessions: m.sessions.into_iter().collect(),
                        ips: m.ips.into_iter().collect(),
                        unlisted_binds: m.unlisted,
                        operation_count: m.opcount,
                        folders: m
                            .folders
                            .into_iter()
                            .map(|(path, (whole, msgs))| FolderTruth {
                                path,
                                whole_folder: whole,
                                messages: msgs
                                    .into_iter()
                                    .map(|(id, a)| MessageTruth {
                                        internet_message_id: id,
                                        size_bytes: a.size,
                                        first_access: t0(a.first),
                                        last_access: t0(a.last),
                                        access_count: a.count,
                                    })
                                    .collect(),
                            })
                            .collect(),
                    }
                })
                .collect();
            OrgTruth {
                tenant_id,
                first_access: mailboxes
                    .iter()
                    .map(|m| m.first_access)
                    .min()
                    .unwrap_or_default(),
                last_access: mailboxes
                    .iter()
                    .map(|m| m.last_access)
                    .max()
                    .unwrap_or_default(),
                mailboxes,
            }
        })
        .collect();
    let ioc_list = iocs();
    let ioc_windows = ips
        .iter()
        .filter_map(|ip| {
            ioc_list
                .iter()
                .find(|i| i.ip.to_string() == *ip)
                .map(|i| IocWindow {
                    ip: ip.clone(),
                    from: t0(i.from),
                    to: t0(i.to),
                })
        })
        .collect();
    let decoys = data
        .decoys
        .iter()
        .map(|(k, &(user, mbx))| DecoyTruth {
            kind: k.slug().to_string(),
            description: description(k.slug()).to_string(),
            user: w.users[user].upn.clone(),
            mailbox: w.users[mbx].upn.clone(),
            record_ids: decoy_ids.remove(k.slug()).unwrap_or_default(),
        })
        .collect();
    let mia = data
        .ual
        .iter()
        .filter(|r| matches!(r.op, Op::MailItemsAccessed { .. }))
        .count();
    Truth {
        schema: TRUTH_SCHEMA.to_string(),
        seed,
        period: Period {
            first: t0(data.start),
            last: t0(data.end),
        },
        tenants: w
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| TenantTruth {
                tenant_id: t.id.to_string(),
                domain: t.domain.clone(),
                organization_name: t.org_name.clone(),
                mail_items_accessed: t.audited,
                app_access_context: t.app_context,
                mailboxes: w
                    .users
                    .iter()
                    .filter(|u| u.tenant == i && u.role.has_mailbox())
                    .map(|u| u.upn.clone())
                    .collect(),
            })
            .collect(),
        unaudited_tenants: data
            .unaudited
            .iter()
            .map(|&i| w.tenants[i].id.to_string())
            .collect(),
        actor: ActorTruth {
            ips: ips.into_iter().collect(),
            sessions: sessions.into_iter().collect(),
            apps: apps.into_iter().collect(),
            app_ids: app_ids.into_iter().collect(),
            client_info_strings: cis.into_iter().collect(),
            user_agents: uas.into_iter().collect(),
            foreign_token_tenants: foreign.into_iter().collect(),
            active_hours_utc: "Mon-Fri 00:00-09:00".to_string(),
            ioc_windows,
        },
        actor_record_ids: actor_ids,
        window: Period {
            first: t0(win_first.min(win_last)),
            last: t0(win_last.max(win_first)),
        },
        organizations,
        whole_folder_syncs: syncs,
        throttled_windows: throttles,
        decoys,
        counts: Counts {
            ual_records: data.ual.len() as u64,
            mail_items_accessed: mia as u64,
            signins: data.signins.len() as u64,
            interactive_signins: data.signins.iter().filter(|s| s.interactive).count() as u64,
            actor_records: data.ual.iter().filter(|r| r.tag == Tag::Actor).count() as u64,
        },
    }
}
