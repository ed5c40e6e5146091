//! The simulated organisations: tenants, users, client profiles, mailbox contents and the
//! published Storm-0558 infrastructure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ids::{self, Guid};
use crate::rng::{Rng, hash, hash_str};
use crate::timefmt::secs;

/// Office 365 Exchange Online (the resource of every mailbox API).
pub(crate) const EXCHANGE_APP: &str = "00000002-0000-0ff1-ce00-000000000000";
/// Office 365 SharePoint Online.
pub(crate) const SHAREPOINT_APP: &str = "00000003-0000-0ff1-ce00-000000000000";
/// The consumer (MSA) tenant.
pub(crate) const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// One tenant (organisation).
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    pub(crate) id: Guid,
    pub(crate) domain: String,
    pub(crate) org_name: String,
    /// Audit (Premium): MailItemsAccessed is logged.
    pub(crate) audited: bool,
    /// Records carry `AppAccessContext` (UniqueTokenId, AADSessionId).
    pub(crate) app_context: bool,
    /// Records carry `TokenTenantId` / `TokenObjectId`.
    pub(crate) token_fields: bool,
    /// Exchange server name prefix, e.g. `CH0PR09MB`.
    pub(crate) server: String,
    pub(crate) bits: u64,
    /// Cached text of `id`.
    pub(crate) id_str: String,
    pub(crate) office_ip: IpAddr,
    pub(crate) city: &'static str,
    pub(crate) country: &'static str,
}

/// What a user does in the simulated organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Ordinary employee.
    Staff,
    /// A boss whose mailbox an assistant reads.
    Executive,
    /// Reads an executive's mailbox as a delegate.
    Assistant,
    /// Exchange administrator (runs cmdlets).
    Admin,
    /// Archiving service account reading many mailboxes daily.
    Service,
    /// Mailbox migration account (bulk binds for a couple of days).
    Migration,
    /// Records manager who runs eDiscovery searches (otherwise an ordinary employee).
    Compliance,
    /// A shared mailbox: never signs in, read by colleagues as delegates.
    Shared,
    /// A third-party backup application reading every mailbox with an application permission
    /// (app-only: no user, no Entra session; `UserId` is the application).
    BackupApp,
    /// A monitoring account whose mailbox auditing an administrator bypasses.
    Monitor,
}

impl Role {
    /// A person who signs in and reads their own mail.
    pub(crate) fn human(self) -> bool {
        !matches!(
            self,
            Role::Service | Role::Migration | Role::Shared | Role::BackupApp | Role::Monitor
        )
    }
    /// Has a mailbox (everything but an application).
    pub(crate) fn has_mailbox(self) -> bool {
        self != Role::BackupApp
    }
}

/// One user with a mailbox.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) tenant: usize,
    pub(crate) upn: String,
    pub(crate) display: String,
    pub(crate) object_id: Guid,
    pub(crate) puid: String,
    pub(crate) sid: String,
    pub(crate) mailbox_guid: Guid,
    pub(crate) role: Role,
    pub(crate) home_ip: IpAddr,
    pub(crate) mobile_ip: IpAddr,
    pub(crate) desktop: bool,
    pub(crate) mobile: bool,
    pub(crate) bits: u64,
    /// Cached `OriginatingServer`.
    pub(crate) server_name: String,
    /// Cached folder ids, one per entry of [`FOLDERS`].
    pub(crate) folder_ids: Vec<String>,
}

/// A client: what it writes as ClientInfoString, its app ids and sign-in details.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) client_info: String,
    pub(crate) app_id: String,
    pub(crate) client_app_id: String,
    pub(crate) app_display: String,
    /// User agent in sign-ins (and `ActorInfoString` where set).
    pub(crate) user_agent: String,
    /// Written as `ActorInfoString` in mailbox records.
    pub(crate) actor_info: bool,
    pub(crate) client_app_used: &'static str,
    pub(crate) os: &'static str,
    pub(crate) browser: &'static str,
}

/// Index of the standard profiles in [`World::profiles`].
pub(crate) mod prof {
    pub(crate) const DESKTOP: usize = 0;
    pub(crate) const OWA: usize = 1;
    pub(crate) const MOBILE: usize = 2;
    pub(crate) const ARCHIVER: usize = 3;
    pub(crate) const MIGRATION: usize = 4;
    pub(crate) const ADMIN_PS: usize = 5;
    pub(crate) const BROWSER_SP: usize = 6;
    /// A third-party backup application reading mail through Microsoft Graph, app-only.
    pub(crate) const BACKUP_GRAPH: usize = 7;
    /// The new Outlook for Windows.
    pub(crate) const NEW_OUTLOOK: usize = 8;
    /// The Microsoft Purview portal (eDiscovery).
    pub(crate) const PURVIEW: usize = 9;
    /// First actor profile; the actor has three.
    pub(crate) const ACTOR: usize = 10;
}

/// The mail folders every mailbox has: path and how many messages it holds.
pub(crate) const FOLDERS: &[(&str, u32)] = &[
    ("\\Inbox", 420),
    ("\\Sent Items", 260),
    ("\\Archive", 300),
    ("\\Inbox\\Projects", 90),
    ("\\Drafts", 25),
    ("\\Deleted Items", 70),
];

/// An IOC IP with its first/last-seen dates (2023).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ioc {
    pub(crate) ip: Ipv4Addr,
    pub(crate) from: i64,
    pub(crate) to: i64,
}

/// Published Storm-0558 IPs (MS-TI, 2023) with first/last seen.
pub(crate) fn iocs() -> Vec<Ioc> {
    type Entry = ([u8; 4], (u32, u32), (u32, u32));
    const LIST: &[Entry] = &[
        ([195, 26, 87, 219], (5, 15), (6, 25)),
        ([185, 236, 228, 183], (5, 24), (6, 11)),
        ([85, 239, 63, 160], (6, 7), (6, 11)),
        ([51, 89, 156, 153], (3, 9), (7, 10)),
        ([176, 31, 90, 129], (3, 28), (6, 29)),
        ([137, 74, 181, 100], (3, 31), (7, 11)),
        ([193, 36, 119, 45], (4, 19), (7, 7)),
        ([185, 158, 248, 159], (4, 24), (7, 6)),
        ([131, 153, 78, 188], (5, 6), (6, 29)),
        ([185, 195, 200, 39], (5, 15), (6, 29)),
        ([185, 38, 142, 229], (5, 15), (7, 12)),
        ([146, 70, 121, 44], (5, 17), (6, 29)),
        ([45, 14, 227, 233], (6, 12), (6, 26)),
        ([185, 236, 231, 109], (6, 12), (7, 3)),
        ([37, 143, 130, 146], (5, 12), (5, 19)),
        ([5, 252, 176, 8], (7, 1), (7, 1)),
        ([146, 70, 157, 45], (5, 12), (6, 8)),
    ];
    LIST.iter()
        .map(|&(ip, (fm, fd), (tm, td))| Ioc {
            ip: Ipv4Addr::from(ip),
            from: secs(2023, fm, fd, 0, 0, 0),
            to: secs(2023, tm, td, 23, 59, 59),
        })
        .collect()
}

/// IOC IPs the actor may use (broad windows covering June 2023).
pub(crate) const ACTOR_IPS: &[[u8; 4]] = &[
    [51, 89, 156, 153],
    [176, 31, 90, 129],
    [137, 74, 181, 100],
    [195, 26, 87, 219],
    [185, 195, 200, 39],
    [131, 153, 78, 188],
    [193, 36, 119, 45],
    [185, 158, 248, 159],
];

/// IOC IPs used by the "outside its window" decoy, with a date well outside the window.
pub(crate) const DECOY_IOC_IPS: &[[u8; 4]] = &[[37, 143, 130, 146], [5, 252, 176, 8]];

/// The published Storm-0558 user agents.
pub(crate) const ACTOR_UA_CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/92.0.4515.159 Safari/537.36";
/// The Edge 106 user agent from the published list.
pub(crate) const ACTOR_UA_EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/106.0.0.0 Safari/537.36 Edg/106.0.1370.52";
/// ClientInfoString of the actor's scripts.
pub(crate) const ACTOR_CIS: &str = "Client=REST;Client=RESTSystem;;";

/// Everything that stays fixed through a scenario.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) users: Vec<User>,
    pub(crate) profiles: Vec<Profile>,
}

const FIRST: &[&str] = &[
    "amara", "bruno", "chen", "dana", "elif", "farid", "greta", "hiro", "ines", "jonas", "kavya",
    "liam", "mei", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq", "ulla", "vera",
    "wen", "ximena", "yusuf", "zoe", "anton", "bea", "carlos", "divya",
];
const LAST: &[&str] = &[
    "okafor",
    "lindqvist",
    "tanaka",
    "moreau",
    "kowalski",
    "haddad",
    "novak",
    "reyes",
    "schmidt",
    "osei",
    "park",
    "rossi",
    "nguyen",
    "fischer",
    "silva",
    "bauer",
    "ali",
    "jensen",
    "costa",
    "ivanova",
    "murphy",
    "sato",
    "weber",
    "diaz",
];

fn title(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Shape of the user population of one tenant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TenantPlan {
    pub(crate) staff: usize,
    pub(crate) executive: bool,
    pub(crate) admin: bool,
    pub(crate) service: bool,
    pub(crate) migration: bool,
    /// Further accounts: a records manager (eDiscovery), a shared mailbox, an app-only backup
    /// application, a monitoring account.
    pub(crate) extras: &'static [Role],
}

/// Tenant definitions: domain, city/country, audited, app-context, token fields.
const TENANT_DEFS: &[(&str, &str, &str, bool, bool, bool, &str)] = &[
    ("agency", "Washington", "US", true, true, true, "CH0PR09MB"),
    ("ministry", "Brussels", "BE", true, false, true, "AM9PR02MB"),
    (
        "contractor",
        "Denver",
        "US",
        false,
        false,
        false,
        "BY5PR11MB",
    ),
    ("embassy", "Tokyo", "JP", true, true, true, "TYAPR01MB"),
    ("institute", "London", "GB", true, false, true, "LO2PR08MB"),
];

impl World {
    /// Build tenants and users from a seed and one plan per tenant (at most five tenants).
    pub(crate) fn build(seed: u64, plans: &[TenantPlan]) -> World {
        let mut rng = Rng::derive(seed, &[0x0077_6f72_6c64]);
        let mut tenants = Vec::new();
        let mut users = Vec::new();
        let mut used_names = std::collections::BTreeSet::new();
        for (ti, plan) in plans.iter().enumerate().take(TENANT_DEFS.len()) {
            let (name, city, country, audited, app_context, token_fields, server) = TENANT_DEFS[ti];
            let bits = rng.next_u64();
            let office_ip = match ti {
                0 => IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10 + (bits % 40) as u8)),
                1 => IpAddr::V4(Ipv4Addr::new(203, 0, 113, 20 + (bits % 40) as u8)),
                2 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 30 + (bits % 40) as u8)),
                _ => IpAddr::V4(Ipv4Addr::new(198, 19, ti as u8, 10 + (bits % 40) as u8)),
            };
            let tid = Guid::from_bits(rng.next_u128());
            tenants.push(Tenant {
                id: tid,
                id_str: tid.to_string(),
                domain: format!("{name}.example"),
                org_name: format!("{name}example.onmicrosoft.com"),
                audited,
                app_context,
                token_fields,
                server: server.to_string(),
                bits,
                office_ip,
                city,
                country,
            });
            let mut roles = Vec::new();
            if plan.executive {
                roles.push(Role::Executive);
                roles.push(Role::Assistant);
            }
            if plan.admin {
                roles.push(Role::Admin);
            }
            roles.extend(std::iter::repeat_n(Role::Staff, plan.staff));
            if plan.service {
                roles.push(Role::Service);
            }
            if plan.migration {
                roles.push(Role::Migration);
            }
            roles.extend_from_slice(plan.extras);
            for role in roles {
                let (local, display) = match role {
                    Role::Service => ("svc-archive".to_string(), "Archive Service".to_string()),
                    Role::Migration => {
                        ("svc-migration".to_string(), "Migration Service".to_string())
                    }
                    Role::Shared => ("press.office".to_string(), "Press Office".to_string()),
                    Role::Monitor => ("svc-monitor".to_string(), "Mailbox Monitor".to_string()),
                    Role::BackupApp => (String::new(), "Cloud Mail Backup".to_string()),
                    _ => loop {
                        let f = *rng.pick(FIRST);
                        let l = *rng.pick(LAST);
                        let local = format!("{f}.{l}");
                        if used_names.insert((ti, local.clone())) {
                            break (local, format!("{} {}", title(f), title(l)));
                        }
                    },
                };
                let ubits = rng.next_u64();
                let home = IpAddr::V4(Ipv4Addr::new(
                    198,
                    18,
                    (ubits >> 8) as u8,
                    1 + ((ubits >> 16) % 250) as u8,
                ));
                let mobile = IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0x0db8,
                    (ti as u16) + 1,
                    (ubits >> 24) as u16,
                    0,
                    0,
                    0,
                    ((ubits >> 40) as u16) | 1,
                ));
                let human = role.human();
                // An application acts as itself: its records carry its application id.
                let upn = if role == Role::BackupApp {
                    backup_app_id(seed)
                } else {
                    format!("{local}@{}", tenants[ti].domain)
                };
                users.push(User {
                    tenant: ti,
                    upn,
                    display,
                    object_id: Guid::from_bits(rng.next_u128()),
                    puid: ids::puid(ubits),
                    sid: ids::sid(bits, ubits >> 20),
                    mailbox_guid: Guid::from_bits(rng.next_u128()),
                    role,
                    home_ip: home,
                    mobile_ip: mobile,
                    desktop: human && (role == Role::Executive || rng.chance(0.7)),
                    mobile: human && rng.chance(0.5),
                    bits: ubits,
                    server_name: format!(
                        "{}{:04} (15.20.{}.{:03})",
                        tenants[ti].server,
                        ubits % 10_000,
                        6400 + (ubits >> 20) % 100,
                        (ubits >> 30) % 1000
                    ),
                    folder_ids: (0..FOLDERS.len()).map(|f| folder_id_of(ubits, f)).collect(),
                });
            }
        }
        let profiles = standard_profiles(seed, &tenants);
        World {
            seed,
            tenants,
            users,
            profiles,
        }
    }

    /// The message `k` of folder `f` in the mailbox of user `u`: InternetMessageId and size.
    pub(crate) fn message(&self, u: usize, f: usize, k: u32) -> (String, u32) {
        message_of(&self.users[u], &self.tenants[self.users[u].tenant], f, k)
    }

    /// Folder id (as Exchange writes it) of folder `f` in mailbox `u`.
    pub(crate) fn folder_id(&self, u: usize, f: usize) -> &str {
        let ids = &self.users[u].folder_ids;
        ids.get(f).or(ids.last()).map_or("", String::as_str)
    }

    /// Index of the first user of a tenant with a role.
    pub(crate) fn find(&self, tenant: usize, role: Role) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.tenant == tenant && u.role == role)
    }

    /// Users of a tenant.
    pub(crate) fn tenant_users(&self, tenant: usize) -> Vec<usize> {
        (0..self.users.len())
            .filter(|&i| self.users[i].tenant == tenant)
            .collect()
    }

    /// `OriginatingServer` of a user's mailbox.
    pub(crate) fn server(&self, u: usize) -> &str {
        &self.users[u].server_name
    }
}

/// Message `k` of folder `f` in a mailbox.
pub(crate) fn message_of(user: &User, tenant: &Tenant, f: usize, k: u32) -> (String, u32) {
    let h = hash(&[user.bits, f as u64, u64::from(k)]);
    let server = &tenant.server;
    let srv = (h >> 8) % 10_000;
    let size = 2_000 + u32::try_from((h >> 32) % 180_000).unwrap_or(0);
    let size = if h.is_multiple_of(11) {
        size.saturating_mul(9)
    } else {
        size
    };
    (
        format!(
            "<{server}{srv:04}{:08X}@{server}{srv:04}.namprd{:02}.prod.outlook.com>",
            (h >> 20) as u32,
            (h >> 50) % 20
        ),
        size,
    )
}

/// Folder id of folder `f` in the mailbox with `bits`.
pub(crate) fn folder_id_of(bits: u64, f: usize) -> String {
    let h1 = hash(&[bits, f as u64, 1]);
    let h2 = hash(&[bits, f as u64, 2]);
    let raw = (u128::from(h1) << 64) | u128::from(h2);
    format!(
        "LgAAAAA{}AAAB",
        ids::token_id(raw).replace('_', "/").replace('-', "+")
    )
}

/// Microsoft Graph (the resource of Graph mail reads).
pub(crate) const GRAPH_APP: &str = "00000003-0000-0000-c000-000000000000";

/// The application id of the third-party backup application (random per seed).
pub(crate) fn backup_app_id(seed: u64) -> String {
    Guid::from_bits(
        (u128::from(hash(&[seed, 1, hash_str("backup")])) << 64)
            | u128::from(hash(&[seed, 2, hash_str("backup")])),
    )
    .to_string()
}

fn standard_profiles(seed: u64, tenants: &[Tenant]) -> Vec<Profile> {
    let mut r = Rng::derive(seed, &[0x61_63_74_6f_72]);
    let actor_app = Guid::from_bits(r.next_u128()).to_string();
    let archiver_app = Guid::from_bits(
        (u128::from(hash(&[seed, 1, hash_str("archiver")])) << 64)
            | u128::from(hash(&[seed, 2, hash_str("archiver")])),
    )
    .to_string();
    let migration_app = Guid::from_bits(
        (u128::from(hash(&[seed, 1, hash_str("migration")])) << 64)
            | u128::from(hash(&[seed, 2, hash_str("migration")])),
    )
    .to_string();
    let _ = tenants;
    let p = |cis: &str,
             app: &str,
             client_app: &str,
             display: &str,
             ua: &str,
             used: &'static str,
             os: &'static str,
             browser: &'static str| Profile {
        client_info: cis.to_string(),
        app_id: app.to_string(),
        client_app_id: client_app.to_string(),
        app_display: display.to_string(),
        user_agent: ua.to_string(),
        actor_info: false,
        client_app_used: used,
        os,
        browser,
    };
    let mut v = vec![
        p(
            "Client=MSExchangeRPC",
            EXCHANGE_APP,
            "d3590ed6-52b3-4102-aeff-aad2292ab01c",
            "Microsoft Office",
            "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.16327; Pro)",
            "Mobile Apps and Desktop clients",
            "Windows 10",
            "",
        ),
        p(
            "Client=OWA;Action=ViaProxy",
            EXCHANGE_APP,
            "9199bf20-a13f-4107-85dc-02114787ef48",
            "Outlook Web App Office 365",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36 Edg/113.0.1774.50",
            "Browser",
            "Windows 10",
            "Edge 113.0.1774",
        ),
        p(
            "Client=OutlookService;Outlook-iOS/2.0;",
            EXCHANGE_APP,
            "27922004-5251-4030-b22d-91ecd9a37ea4",
            "Outlook Mobile",
            "Outlook-iOS/2.0",
            "Mobile Apps and Desktop clients",
            "Ios 16.5",
            "",
        ),
        p(
            "Client=WebServices;ExchangeWebServices/15.0;Archiver/4.2;",
            EXCHANGE_APP,
            &archiver_app,
            "Mail Archiver",
            "ExchangeServicesClient/15.00.0913.015",
            "Mobile Apps and Desktop clients",
            "Windows Server 2019",
            "",
        ),
        p(
            "Client=WebServices;ExchangeWebServices/15.0;MailboxMigration/2.1;",
            EXCHANGE_APP,
            &migration_app,
            "Mailbox Migration Tool",
            "ExchangeServicesClient/15.00.0913.015 MailboxMigration/2.1",
            "Mobile Apps and Desktop clients",
            "Windows Server 2022",
            "",
        ),
        p(
            "Client=Microsoft.Exchange.Management.PowerShell",
            EXCHANGE_APP,
            "fb78d390-0c51-40cd-8e17-fdbfab77341b",
            "Microsoft Exchange REST API Based Powershell",
            "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.2673",
            "Mobile Apps and Desktop clients",
            "Windows 10",
            "",
        ),
        p(
            "",
            SHAREPOINT_APP,
            SHAREPOINT_APP,
            "Office 365 SharePoint Online",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36",
            "Browser",
            "Windows 10",
            "Chrome 113.0.0",
        ),
        // Graph mail reads are written `Client=REST;Client=RESTSystem;;`, like the actor's.
        p(
            "Client=REST;Client=RESTSystem;;",
            GRAPH_APP,
            &backup_app_id(seed),
            "Cloud Mail Backup",
            "",
            "",
            "",
            "",
        ),
        p(
            "Client=OWA;Action=ViaProxy",
            EXCHANGE_APP,
            "5d661950-3475-41cd-a2c3-d671a3162bc1",
            "Microsoft Outlook",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36 Edg/113.0.1774.50 OneOutlook/1.2023.519.400",
            "Mobile Apps and Desktop clients",
            "Windows 10",
            "",
        ),
        p(
            "",
            "80ccca67-54bd-44ab-8625-4b79c4dc7775",
            "80ccca67-54bd-44ab-8625-4b79c4dc7775",
            "Microsoft 365 Security and Compliance Center",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/113.0.0.0 Safari/537.36 Edg/113.0.1774.50",
            "Browser",
            "Windows 10",
            "Edge 113.0.1774",
        ),
    ];
    let mut actor = |cis: &str, ua: &str, actor_info: bool| {
        let mut pr = p(
            cis,
            EXCHANGE_APP,
            &actor_app,
            "",
            ua,
            "Browser",
            "Windows 10",
            "",
        );
        pr.actor_info = actor_info;
        v.push(pr);
    };
    actor(ACTOR_CIS, "python-requests/2.31.0", false);
    actor(ACTOR_CIS, ACTOR_UA_CHROME, true);
    actor("Client=OWA;Action=ViaProxy", ACTOR_UA_EDGE, true);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> World {
        let plan = TenantPlan {
            staff: 3,
            executive: true,
            admin: true,
            service: true,
            migration: false,
            extras: &[],
        };
        World::build(5, &[plan, plan])
    }

    #[test]
    fn world_is_deterministic_and_messages_are_stable() {
        let a = small();
        let b = small();
        assert_eq!(a.users.len(), b.users.len());
        assert_eq!(a.users[3].upn, b.users[3].upn);
        assert_eq!(a.message(2, 0, 17), b.message(2, 0, 17));
        assert_ne!(a.message(2, 0, 17).0, a.message(2, 0, 18).0);
        assert!(a.message(2, 0, 17).0.starts_with('<'));
        assert_eq!(a.profiles.len(), prof::ACTOR + 3);
    }

    #[test]
    fn iocs_cover_actor_ips_in_june() {
        let list = iocs();
        let june = secs(2023, 6, 15, 0, 0, 0);
        for ip in ACTOR_IPS {
            let ioc = list.iter().find(|i| i.ip.octets() == *ip).unwrap();
            assert!(ioc.from <= june && june <= ioc.to);
        }
    }
}
