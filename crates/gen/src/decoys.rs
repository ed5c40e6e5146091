//! Decoys of services and administrators: what real tenants do that looks like the intrusion
//! (many mailboxes read in bulk, at night, by accounts and applications that are not the
//! mailboxes' owners) but is benign. Each has the sign-ins a real tenant would log behind it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::record::{DecoyKind, Op, Tag};
use crate::scenario::{Ctx, Gen, WORK_START};
use crate::timefmt::{DAY, HOUR, weekday};
use crate::world::{Role, prof};

/// What the service decoys add besides their records.
pub(crate) struct Services {
    /// Throttled windows they cause: (mailbox, time of the `IsThrottled` record).
    pub(crate) throttled: Vec<(usize, i64)>,
    /// Kind → (acting user, a mailbox it touched).
    pub(crate) decoys: BTreeMap<DecoyKind, (usize, usize)>,
}

/// Plant every service and administrator decoy.
pub(crate) fn services(g: &mut Gen) -> Services {
    let mut out = Services {
        throttled: Vec::new(),
        decoys: BTreeMap::new(),
    };
    migration(g, &mut out);
    backup(g, &mut out);
    ediscovery(g, &mut out);
    night_admin(g, &mut out);
    out
}

/// The first weekday on or after day `d`.
fn weekday_from(g: &Gen, mut d: i64) -> i64 {
    while weekday(g.start + d * DAY) >= 5 {
        d += 1;
    }
    d
}

/// Mailboxes of a tenant (every account with one), in a fixed order.
fn mailboxes(g: &Gen, tenant: usize) -> Vec<usize> {
    g.w.tenant_users(tenant)
        .into_iter()
        .filter(|&u| g.w.users[u].role.has_mailbox())
        .collect()
}

/// A mailbox migration in the second tenant. The administrator grants the migration account
/// ApplicationImpersonation and full access on a working day; the account then signs in and
/// reads every mailbox of the tenant overnight, two nights running, from two workers of the
/// vendor's cloud, several mailboxes a minute, records of hundreds of binds each. One mailbox
/// is throttled (more than 1,000 records in 24 hours), as migrations do.
fn migration(g: &mut Gen, out: &mut Services) {
    let (Some(account), Some(admin)) = (g.w.find(1, Role::Migration), g.w.find(1, Role::Admin))
    else {
        return;
    };
    let tag = Tag::Decoy(DecoyKind::MigrationAccount);
    let setup = weekday_from(g, 7);
    let office = g.w.tenants[1].office_ip;
    let admin_ctx = Ctx {
        user: admin,
        mailbox: admin,
        logon: 0,
        profile: prof::ADMIN_PS,
        ip: office,
        session: g.session(admin, 12, setup),
        tag,
    };
    let mut t = g.start + setup * DAY + WORK_START[1] * HOUR + 2 * HOUR + g.rng.range(0, HOUR);
    g.push(
        t,
        &admin_ctx,
        Op::Cmdlet {
            name: "New-ManagementRoleAssignment",
            target: account,
            grantee: Some(account),
        },
    );
    let targets: Vec<usize> = mailboxes(g, 1)
        .into_iter()
        .filter(|&u| u != account)
        .collect();
    for &m in targets.iter().take(3) {
        t += g.rng.range(20, 90);
        g.push(
            t,
            &admin_ctx,
            Op::Cmdlet {
                name: "Add-MailboxPermission",
                target: m,
                grantee: Some(account),
            },
        );
    }
    let throttle_target =
        g.w.find(1, Role::Assistant)
            .or_else(|| targets.first().copied());
    let workers = [
        IpAddr::V4(Ipv4Addr::new(198, 19, 201, 7)),
        IpAddr::V4(Ipv4Addr::new(198, 19, 201, 8)),
    ];
    let first_night = setup + 1;
    for (night, d) in [first_night, first_night + 1].into_iter().enumerate() {
        let session = g.session(account, 5, d);
        let mut t = g.start + d * DAY + 21 * HOUR + g.rng.range(0, 600);
        let end = t + 5 * HOUR + 30 * 60;
        let mut round = 0usize;
        while t < end {
            let ip = workers[round % workers.len()];
            for &m in &targets {
                let ctx = Ctx {
                    user: account,
                    mailbox: m,
                    logon: 1,
                    profile: prof::MIGRATION,
                    ip,
                    session,
                    tag,
                };
                let f = round % 3;
                let n = usize::try_from(g.rng.range(20, 40)).unwrap_or(20);
                let extra = u32::try_from(g.rng.range(80, 260)).unwrap_or(80);
                let mut op = g.bind(f, n, extra);
                if night == 0 && round == 6 && Some(m) == throttle_target {
                    if let Op::MailItemsAccessed { throttled, .. } = &mut op {
                        *throttled = true;
                    }
                    out.throttled.push((m, t));
                }
                g.push(t, &ctx, op);
                t += g.rng.range(10, 40);
            }
            round += 1;
            t += g.rng.range(14 * 60, 22 * 60);
        }
    }
    out.decoys.insert(
        DecoyKind::MigrationAccount,
        (account, targets.first().copied().unwrap_or(account)),
    );
}

/// A third-party backup application in the first tenant, consented with an application
/// permission: every night it reads every mailbox through Microsoft Graph as itself (app-only:
/// `UserId` is the application, no Entra session, `Client=REST;Client=RESTSystem;;` like the
/// actor's scripts), from its cloud, inside the actor's hours. Its client-credentials tokens
/// are in the service principal sign-in log. It starts part-way through the period, so it is a
/// new application for every mailbox on the same night.
fn backup(g: &mut Gen, out: &mut Services) {
    let Some(app) = g.w.find(0, Role::BackupApp) else {
        return;
    };
    let tag = Tag::Decoy(DecoyKind::BackupAppOnly);
    let targets: Vec<usize> = mailboxes(g, 0);
    let first = 9;
    for d in first..g.days {
        let ip = IpAddr::V4(Ipv4Addr::new(
            52,
            169,
            10,
            20 + u8::try_from(d % 2).unwrap_or(0),
        ));
        let mut t = g.start + d * DAY + HOUR + 30 * 60 + g.rng.range(0, 900);
        // One token per night (the key that ties records to the sign-in; not a session).
        let token = g.session(app, 10, d);
        for &m in &targets {
            let ctx = Ctx {
                user: app,
                mailbox: m,
                logon: 0,
                profile: prof::BACKUP_GRAPH,
                ip,
                session: token,
                tag,
            };
            let f = if g.rng.chance(0.7) { 0 } else { 1 };
            let n = usize::try_from(g.rng.range(4, 25)).unwrap_or(4);
            let extra = u32::try_from(g.rng.range(0, 60)).unwrap_or(0);
            let op = g.bind(f, n, extra);
            g.push(t, &ctx, op);
            t += g.rng.range(15, 70);
        }
    }
    out.decoys.insert(
        DecoyKind::BackupAppOnly,
        (app, targets.first().copied().unwrap_or(app)),
    );
}

/// The records manager of the first tenant runs content searches over every mailbox from home
/// late in the evening (inside the actor's hours in UTC), previews and exports them, with
/// interactive sign-ins to the compliance portal.
fn ediscovery(g: &mut Gen, out: &mut Services) {
    let Some(officer) = g.w.find(0, Role::Compliance) else {
        return;
    };
    let tag = Tag::Decoy(DecoyKind::EDiscovery);
    let home = g.w.users[officer].home_ip;
    let steps: [(i64, &[&'static str]); 3] = [
        (16, &["SearchCreated", "SearchStarted"]),
        (
            17,
            &[
                "SearchPreviewed",
                "SearchExported",
                "SearchExportDownloaded",
            ],
        ),
        (24, &["SearchCreated", "SearchStarted", "SearchExported"]),
    ];
    for (i, (d, ops)) in steps.into_iter().enumerate() {
        let d = weekday_from(g, d);
        if d >= g.days {
            continue;
        }
        let ctx = Ctx {
            user: officer,
            mailbox: officer,
            logon: 0,
            profile: prof::PURVIEW,
            ip: home,
            session: g.session(officer, 11, d),
            tag,
        };
        let mut t = g.start + d * DAY + HOUR + g.rng.range(0, 90 * 60);
        let case = if i < 2 { 17 } else { 23 };
        for &operation in ops {
            g.push(t, &ctx, Op::Discovery { operation, case });
            t += g.rng.range(120, 1200);
        }
    }
    out.decoys.insert(DecoyKind::EDiscovery, (officer, officer));
}

/// The second tenant's administrator works three nights from home inside the actor's hours:
/// grants full access, bypasses auditing for a monitoring account, and opens a colleague's
/// mailbox as an administrator to check it, each time with a fresh interactive sign-in.
fn night_admin(g: &mut Gen, out: &mut Services) {
    let Some(admin) = g.w.find(1, Role::Admin) else {
        return;
    };
    let tag = Tag::Decoy(DecoyKind::NightAdmin);
    let home = g.w.users[admin].home_ip;
    let staff: Vec<usize> =
        g.w.tenant_users(1)
            .into_iter()
            .filter(|&u| g.w.users[u].role == Role::Staff)
            .collect();
    let colleague = staff.last().copied().unwrap_or(admin);
    let exec = g.w.find(1, Role::Executive).unwrap_or(admin);
    let assistant = g.w.find(1, Role::Assistant).unwrap_or(admin);
    let monitor = g.w.find(1, Role::Monitor);
    for (k, d) in [15, 22, 29].into_iter().enumerate() {
        let d = weekday_from(g, d);
        if d >= g.days {
            continue;
        }
        let ps = Ctx {
            user: admin,
            mailbox: admin,
            logon: 0,
            profile: prof::ADMIN_PS,
            ip: home,
            session: g.session(admin, 13, d),
            tag,
        };
        let mut t = g.start + d * DAY + 40 * 60 + g.rng.range(0, 2 * HOUR);
        let cmdlets: Vec<Op> = match k {
            0 => vec![Op::Cmdlet {
                name: "Add-MailboxPermission",
                target: colleague,
                grantee: Some(admin),
            }],
            1 => {
                let mut v = vec![Op::Cmdlet {
                    name: "Set-Mailbox",
                    target: colleague,
                    grantee: None,
                }];
                if let Some(m) = monitor {
                    v.push(Op::Cmdlet {
                        name: "Set-MailboxAuditBypassAssociation",
                        target: m,
                        grantee: None,
                    });
                }
                v
            }
            _ => vec![Op::Cmdlet {
                name: "Add-MailboxPermission",
                target: exec,
                grantee: Some(assistant),
            }],
        };
        for op in cmdlets {
            g.push(t, &ps, op);
            t += g.rng.range(30, 300);
        }
        if k == 0 || k == 2 {
            // Opening the colleague's mailbox in the browser, as an administrator.
            let web = Ctx {
                user: admin,
                mailbox: colleague,
                logon: 1,
                profile: prof::OWA,
                ip: home,
                session: g.session(admin, 14, d),
                tag,
            };
            t += g.rng.range(120, 600);
            for _ in 0..g.rng.range(2, 3) {
                let f = g.pick_folder();
                let n = usize::try_from(g.rng.range(1, 4)).unwrap_or(1);
                let op = g.bind(f, n, 0);
                g.push(t, &web, op);
                t += g.rng.range(150, 600);
            }
        }
    }
    out.decoys.insert(DecoyKind::NightAdmin, (admin, colleague));
}
