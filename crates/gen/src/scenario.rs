//! The scenario: several tenants living a normal mail life for a month, look-alike decoys, and
//! a planted forged-token intrusion in the Storm-0558 pattern.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use crate::decoys;
use crate::ids::Guid;
use crate::record::{Access, DecoyKind, FolderRef, Op, SignIn, Tag, Ual};
use crate::rng::{Rng, hash};
use crate::timefmt::{DAY, HOUR, secs, weekday};
use crate::world::{ACTOR_IPS, DECOY_IOC_IPS, FOLDERS, Role, TenantPlan, World, prof};

/// Size and seed of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioOptions {
    /// Seed: the same seed gives the same bytes.
    pub seed: u64,
    /// Ordinary staff per tenant (besides executives, assistants, admins and service accounts).
    pub staff_per_tenant: usize,
    /// Days of activity, starting Monday 2023-05-22 (at least 32 so the intrusion fits).
    pub days: u32,
}

impl Default for ScenarioOptions {
    fn default() -> Self {
        ScenarioOptions {
            seed: 1,
            staff_per_tenant: 4,
            days: 33,
        }
    }
}

/// Start of every scenario: Monday 2023-05-22 00:00 UTC.
pub(crate) fn period_start() -> i64 {
    secs(2023, 5, 22, 0, 0, 0)
}

/// Hour (UTC) the working day starts, per tenant.
pub(crate) const WORK_START: &[i64] = &[13, 7, 15, 0, 8];

/// The generated scenario, before rendering.
#[derive(Debug, Clone)]
pub(crate) struct Data {
    pub(crate) world: World,
    pub(crate) ual: Vec<Ual>,
    pub(crate) signins: Vec<SignIn>,
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// Throttled windows: (mailbox user index, start).
    pub(crate) throttled: Vec<(usize, i64)>,
    /// Tenant indexes without MailItemsAccessed.
    pub(crate) unaudited: Vec<usize>,
    /// Decoys: kind → (acting user, a mailbox it touched).
    pub(crate) decoys: BTreeMap<DecoyKind, (usize, usize)>,
}

pub(crate) struct Gen {
    pub(crate) w: World,
    pub(crate) rng: Rng,
    pub(crate) ual: Vec<Ual>,
    seq: u64,
    pub(crate) start: i64,
    pub(crate) days: i64,
}

/// Where a record comes from, before sign-ins are attached.
pub(crate) struct Ctx {
    pub(crate) user: usize,
    pub(crate) mailbox: usize,
    pub(crate) logon: u8,
    pub(crate) profile: usize,
    pub(crate) ip: IpAddr,
    pub(crate) session: Guid,
    pub(crate) tag: Tag,
}

/// Who does what in everyday life besides their own mail: the desktop install, the new
/// Outlook rollout and the shared mailbox's readers.
struct Life {
    install_user: usize,
    install_day: i64,
    /// Users who switched to the new Outlook, and the day they did.
    rollout: Vec<bool>,
    rollout_day: i64,
    /// The shared mailbox and its readers (from a day on).
    shared: Option<usize>,
    shared_readers: Vec<(usize, i64)>,
}

impl Gen {
    pub(crate) fn push(&mut self, time: i64, c: &Ctx, op: Op) {
        let audited = self.w.tenants[self.w.users[c.mailbox].tenant].audited;
        if matches!(op, Op::MailItemsAccessed { .. }) && !audited {
            return;
        }
        self.seq += 1;
        self.ual.push(Ual {
            id: Guid(0),
            time,
            user: c.user,
            mailbox: c.mailbox,
            logon_type: c.logon,
            profile: c.profile,
            ip: c.ip,
            session: c.session,
            uti: 0,
            iat: time,
            foreign_token_tenant: false,
            op,
            tag: c.tag,
            seq: self.seq,
        });
    }

    pub(crate) fn session(&self, u: usize, kind: u64, period: i64) -> Guid {
        let h1 = hash(&[self.w.seed, u as u64, kind, period as u64, 1]);
        let h2 = hash(&[self.w.seed, u as u64, kind, period as u64, 2]);
        Guid::from_bits((u128::from(h1) << 64) | u128::from(h2))
    }

    fn items(&mut self, folder_max: u32, n: usize) -> Vec<u32> {
        let mut v: Vec<u32> = (0..n)
            .map(|_| u32::try_from(self.rng.below(u64::from(folder_max))).unwrap_or(0))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub(crate) fn bind(&mut self, folder: usize, n: usize, count_extra: u32) -> Op {
        let items = self.items(FOLDERS[folder].1, n);
        let count = u32::try_from(items.len()).unwrap_or(0) + count_extra;
        Op::MailItemsAccessed {
            access: Access::Bind,
            throttled: false,
            folders: vec![FolderRef { folder, items }],
            count,
        }
    }

    pub(crate) fn sync(folder: usize) -> Op {
        Op::MailItemsAccessed {
            access: Access::Sync,
            throttled: false,
            folders: vec![FolderRef {
                folder,
                items: Vec::new(),
            }],
            count: 1,
        }
    }

    pub(crate) fn pick_folder(&mut self) -> usize {
        match self.rng.below(10) {
            0..=5 => 0,
            6..=7 => 1,
            8 => 2,
            _ => 3,
        }
    }
}

/// Generate the whole scenario.
pub(crate) fn generate(opts: &ScenarioOptions) -> Data {
    let staff = opts.staff_per_tenant.max(3);
    let plans = [
        TenantPlan {
            staff,
            executive: true,
            admin: true,
            service: true,
            migration: false,
            extras: &[Role::Compliance, Role::Shared, Role::BackupApp],
        },
        TenantPlan {
            staff,
            executive: true,
            admin: true,
            service: false,
            migration: true,
            extras: &[Role::Monitor],
        },
        TenantPlan {
            staff: staff.saturating_sub(1).max(2),
            executive: false,
            admin: true,
            service: false,
            migration: false,
            extras: &[],
        },
    ];
    let w = World::build(opts.seed, &plans);
    let start = period_start();
    let days = i64::from(opts.days.max(32));
    let mut g = Gen {
        rng: Rng::derive(opts.seed, &[0x6c_69_66_65]),
        w,
        ual: Vec::new(),
        seq: 0,
        start,
        days,
    };

    // Decoy users.
    let staff0: Vec<usize> =
        g.w.tenant_users(0)
            .into_iter()
            .filter(|&u| g.w.users[u].role == Role::Staff)
            .collect();
    let staff1: Vec<usize> =
        g.w.tenant_users(1)
            .into_iter()
            .filter(|&u| g.w.users[u].role == Role::Staff)
            .collect();
    let install_user = staff0[0];
    let delegate_user = staff0[1];
    let ioc_user = staff1[0];
    let exec0 = g.w.find(0, Role::Executive).unwrap_or(0);
    let exec1 = g.w.find(1, Role::Executive).unwrap_or(0);
    let assistant0 = g.w.find(0, Role::Assistant).unwrap_or(exec0);
    let archiver = g.w.find(0, Role::Service).unwrap_or(0);
    let install_day = 20;
    let delegate_day = 16;
    g.w.users[install_user].desktop = false;

    // The intrusion is planned first: the throttled window also stops the owner's Bind records.
    let plan = plan_actor(&mut g, exec0, exec1, &staff0, &staff1);

    // The new Outlook reaches about seven in ten people of the second tenant on one day.
    let mut rollout = vec![false; g.w.users.len()];
    for u in g.w.tenant_users(1) {
        if g.w.users[u].role.human() && g.rng.chance(0.7) {
            rollout[u] = true;
        }
    }
    let shared = g.w.find(0, Role::Shared);
    // Three colleagues read the shared mailbox from the start, a fourth joins later.
    let last0 = staff0[staff0.len() - 1];
    let shared_readers = vec![
        (assistant0, 0),
        (install_user, 0),
        (last0, 0),
        (delegate_user, 18),
    ];
    let life = Life {
        install_user,
        install_day,
        rollout,
        rollout_day: 11,
        shared,
        shared_readers,
    };

    // Normal life.
    for u in 0..g.w.users.len() {
        for d in 0..days {
            normal_day(&mut g, u, d, &life);
        }
    }
    // Decoy: a second delegate starts reading the executive's mailbox.
    for d in delegate_day..days {
        let day = start + d * DAY;
        if weekday(day) >= 5 {
            continue;
        }
        let t0 = day + WORK_START[0] * HOUR + g.rng.range(HOUR, 7 * HOUR);
        let ctx = Ctx {
            user: delegate_user,
            mailbox: exec0,
            logon: 2,
            profile: prof::OWA,
            ip: g.w.tenants[0].office_ip,
            session: g.session(delegate_user, 2, d),
            tag: Tag::Decoy(DecoyKind::NewDelegate),
        };
        for k in 0..g.rng.range(1, 2) {
            let f = g.pick_folder();
            let n = usize::try_from(g.rng.range(1, 3)).unwrap_or(1);
            let op = g.bind(f, n, 0);
            g.push(t0 + k * 600, &ctx, op);
        }
    }
    // Decoy: an IOC IP far outside its window, with sign-ins.
    for (i, ip) in DECOY_IOC_IPS.iter().enumerate() {
        let d = if i == 0 { 29 } else { 2 };
        let day = start + d * DAY;
        let t0 = day + WORK_START[1] * HOUR + 2 * HOUR + g.rng.range(0, 3 * HOUR);
        let ctx = Ctx {
            user: ioc_user,
            mailbox: ioc_user,
            logon: 0,
            profile: prof::OWA,
            ip: IpAddr::V4(Ipv4Addr::from(*ip)),
            session: g.session(ioc_user, 9, d),
            tag: Tag::Decoy(DecoyKind::IocOutsideWindow),
        };
        for k in 0..3 {
            let op = g.bind(0, 2, 0);
            g.push(t0 + k * 420, &ctx, op);
        }
    }
    // Decoys of services and administrators: migration, backup, eDiscovery, a night shift.
    let services = decoys::services(&mut g);

    // Throttling stops Bind auditing of the mailbox for 24 h (Sync still logged).
    let mut throttled = plan.throttled.clone();
    throttled.extend(services.throttled.iter().copied());
    g.ual.retain(|r| {
        !throttled.iter().any(|&(mbx, t)| {
            r.mailbox == mbx
                && r.time > t
                && r.time < t + DAY
                && matches!(
                    r.op,
                    Op::MailItemsAccessed {
                        access: Access::Bind,
                        ..
                    }
                )
        })
    });

    // Sign-ins behind every legitimate session.
    let signins = attach_signins(&mut g);
    // The actor's records (no sign-in behind them).
    let mut actor_records = plan.records;
    for r in &mut actor_records {
        g.seq += 1;
        r.seq = g.seq;
    }
    g.ual.extend(actor_records);
    g.ual.sort_by_key(|r| (r.time, r.seq));
    let mut idr = Rng::derive(opts.seed, &[0x69_64_73]);
    for r in &mut g.ual {
        r.id = Guid::from_bits(idr.next_u128());
    }
    let mut signins = signins;
    signins.sort_by_key(|s| (s.time, s.ticks, s.seq_key()));
    for s in &mut signins {
        s.id = Guid::from_bits(idr.next_u128());
        s.correlation = Guid::from_bits(idr.next_u128());
        s.request = Guid::from_bits(idr.next_u128());
    }
    let mut decoys = services.decoys;
    decoys.insert(DecoyKind::NewOutlookInstall, (install_user, install_user));
    decoys.insert(DecoyKind::NewDelegate, (delegate_user, exec0));
    decoys.insert(DecoyKind::IocOutsideWindow, (ioc_user, ioc_user));
    decoys.insert(DecoyKind::ArchivingConnector, (archiver, exec0));
    decoys.insert(DecoyKind::DelegateAssistant, (assistant0, exec0));
    // Named by one of them whose mailbox the actor does not read.
    let read1 = [exec1, staff1[1 % staff1.len()]];
    if let Some(first) = (0..g.w.users.len()).find(|&u| life.rollout[u] && !read1.contains(&u)) {
        decoys.insert(DecoyKind::NewOutlookRollout, (first, first));
    }
    if let Some(sh) = shared {
        decoys.insert(DecoyKind::SharedMailbox, (life.shared_readers[0].0, sh));
    }
    Data {
        world: g.w,
        ual: g.ual,
        signins,
        start,
        end: start + days * DAY,
        throttled,
        unaudited: vec![2],
        decoys,
    }
}

impl SignIn {
    fn seq_key(&self) -> u128 {
        self.session.0 ^ self.uti
    }
}

fn normal_day(g: &mut Gen, u: usize, d: i64, life: &Life) {
    let user = g.w.users[u].clone();
    let ti = user.tenant;
    let day = g.start + d * DAY;
    let workday = weekday(day) < 5;
    match user.role {
        Role::Service => {
            archive_run(g, u, d);
            return;
        }
        // Services and mailboxes nobody signs in to: their activity is a decoy of its own or
        // none at all.
        Role::Migration | Role::Shared | Role::BackupApp | Role::Monitor => return,
        _ => {}
    }
    if !workday && !g.rng.chance(0.15) {
        return;
    }
    let ws = day + WORK_START[ti.min(WORK_START.len() - 1)] * HOUR;
    let office = g.w.tenants[ti].office_ip;
    let at_home = !workday || g.rng.chance(0.2);
    let ip = if at_home { user.home_ip } else { office };
    let install_user = life.install_user;
    let desktop = user.desktop || (u == install_user && d >= life.install_day);
    let desktop_tag = if u == install_user {
        Tag::Decoy(DecoyKind::NewOutlookInstall)
    } else {
        Tag::Normal
    };
    let desktop_ip = if u == install_user {
        IpAddr::V4(Ipv4Addr::new(198, 18, 250, 1 + (user.bits % 200) as u8))
    } else {
        ip
    };
    let desktop_session = g.session(u, 1, d / 7 + if u == install_user { 1000 } else { 0 });
    // The web client: OWA, or the new Outlook once it reached this user.
    let (web_profile, web_session, web_tag) = if life.rollout[u] && d >= life.rollout_day {
        (
            prof::NEW_OUTLOOK,
            g.session(u, 8, d),
            Tag::Decoy(DecoyKind::NewOutlookRollout),
        )
    } else {
        (prof::OWA, g.session(u, 2, d), Tag::Normal)
    };
    let mut main_profile = web_profile;
    if desktop {
        main_profile = prof::DESKTOP;
        let ctx = Ctx {
            user: u,
            mailbox: u,
            logon: 0,
            profile: prof::DESKTOP,
            ip: desktop_ip,
            session: desktop_session,
            tag: desktop_tag,
        };
        let mut t = ws + g.rng.range(0, 5400);
        let folders: &[usize] = if g.rng.chance(0.5) {
            &[0, 1]
        } else {
            &[0, 1, 2]
        };
        for &f in folders {
            g.push(t, &ctx, Gen::sync(f));
            t += g.rng.range(5, 90);
        }
        if g.rng.chance(0.3) {
            let op = g.bind(0, 2, 0);
            {
                let dt = g.rng.range(2 * HOUR, 8 * HOUR);
                g.push(ws + dt, &ctx, op);
            }
        }
    }
    if !desktop || g.rng.chance(0.3) {
        let ctx = Ctx {
            user: u,
            mailbox: u,
            logon: 0,
            profile: web_profile,
            ip,
            session: web_session,
            tag: web_tag,
        };
        let t0 = ws + g.rng.range(0, 3 * HOUR);
        for k in 0..g.rng.range(1, 3) {
            let f = g.pick_folder();
            let n = usize::try_from(g.rng.range(1, 4)).unwrap_or(1);
            let op = g.bind(f, n, 0);
            {
                let dt = g.rng.range(300, 2400);
                g.push(t0 + k * dt, &ctx, op);
            }
        }
    }
    if user.mobile && g.rng.chance(0.6) {
        let ctx = Ctx {
            user: u,
            mailbox: u,
            logon: 0,
            profile: prof::MOBILE,
            ip: user.mobile_ip,
            session: g.session(u, 3, d / 14),
            tag: Tag::Normal,
        };
        let t = ws + g.rng.range(9 * HOUR, 12 * HOUR);
        let n = usize::try_from(g.rng.range(1, 2)).unwrap_or(1);
        let op = g.bind(0, n, 0);
        g.push(t, &ctx, op);
    }
    if user.role == Role::Assistant
        && let Some(exec) = g.w.find(ti, Role::Executive)
    {
        // The assistant reads the executive's mailbox as a delegate, from wherever they work.
        let ctx = Ctx {
            user: u,
            mailbox: exec,
            logon: 2,
            profile: web_profile,
            ip,
            session: web_session,
            tag: Tag::Decoy(DecoyKind::DelegateAssistant),
        };
        let t0 = ws + g.rng.range(HOUR, 6 * HOUR);
        for k in 0..g.rng.range(1, 3) {
            let f = g.pick_folder();
            let n = usize::try_from(g.rng.range(1, 3)).unwrap_or(1);
            let op = g.bind(f, n, 0);
            g.push(t0 + k * 900, &ctx, op);
        }
    }
    // The shared mailbox, read by colleagues as delegates in their own sessions: desktop
    // Outlook syncs it (the mailbox is added to their profile), the web client binds.
    if let Some(shared) = life.shared
        && workday
        && life
            .shared_readers
            .iter()
            .any(|&(r, from)| r == u && d >= from)
        && g.rng.chance(0.7)
    {
        let ctx = Ctx {
            user: u,
            mailbox: shared,
            logon: 2,
            profile: if desktop { prof::DESKTOP } else { web_profile },
            ip: if desktop { desktop_ip } else { ip },
            session: if desktop {
                desktop_session
            } else {
                web_session
            },
            tag: Tag::Decoy(DecoyKind::SharedMailbox),
        };
        let t0 = ws + g.rng.range(HOUR, 7 * HOUR);
        if desktop {
            g.push(t0, &ctx, Gen::sync(0));
        } else {
            for k in 0..g.rng.range(1, 3) {
                let n = usize::try_from(g.rng.range(1, 4)).unwrap_or(1);
                let op = g.bind(0, n, 0);
                g.push(t0 + k * 700, &ctx, op);
            }
        }
    }
    // Sending mail, with the main client.
    for _ in 0..g.rng.range(0, 2) {
        let profile = main_profile;
        let is_desktop = profile == prof::DESKTOP;
        let ctx = Ctx {
            user: u,
            mailbox: u,
            logon: 0,
            profile,
            ip: if is_desktop { desktop_ip } else { ip },
            session: if is_desktop {
                desktop_session
            } else {
                web_session
            },
            tag: if is_desktop { desktop_tag } else { web_tag },
        };
        let item = u32::try_from(g.rng.below(u64::from(FOLDERS[1].1))).unwrap_or(0);
        {
            let dt = g.rng.range(HOUR, 8 * HOUR);
            g.push(ws + dt, &ctx, Op::Send { item });
        }
    }
    // SharePoint.
    if g.rng.chance(0.5) {
        let ctx = Ctx {
            user: u,
            mailbox: u,
            logon: 0,
            profile: prof::BROWSER_SP,
            ip,
            session: g.session(u, 6, d),
            tag: Tag::Normal,
        };
        let file = u32::try_from(g.rng.below(400)).unwrap_or(0);
        {
            let dt = g.rng.range(HOUR, 8 * HOUR);
            g.push(ws + dt, &ctx, Op::FileAccessed { file });
        }
    }
    // Exchange administration.
    if user.role == Role::Admin && workday && g.rng.chance(0.5) {
        let targets: Vec<usize> =
            g.w.tenant_users(ti)
                .into_iter()
                .filter(|&t| g.w.users[t].role.has_mailbox())
                .collect();
        let target = *g.rng.pick(&targets);
        let name = *g.rng.pick(&[
            "Set-Mailbox",
            "Set-CASMailbox",
            "Set-MailboxRegionalConfiguration",
        ]);
        let ctx = Ctx {
            user: u,
            mailbox: u,
            logon: 0,
            profile: prof::ADMIN_PS,
            ip: office,
            session: g.session(u, 7, d),
            tag: Tag::Normal,
        };
        {
            let dt = g.rng.range(HOUR, 7 * HOUR);
            g.push(
                ws + dt,
                &ctx,
                Op::Cmdlet {
                    name,
                    target,
                    grantee: None,
                },
            );
        }
    }
}

/// The archiving connector's nightly run: an EWS service account (LogonType Admin) reads the
/// new mail of every mailbox of its tenant, several mailboxes a minute, from the vendor's
/// network, with a sign-in at the start of each run.
fn archive_run(g: &mut Gen, u: usize, d: i64) {
    let ti = g.w.users[u].tenant;
    let mut t = g.start + d * DAY + 2 * HOUR + g.rng.range(0, 600);
    let ctx_ip = IpAddr::V4(Ipv4Addr::new(198, 19, 200, 10 + ti as u8));
    for target in g.w.tenant_users(ti) {
        let role = g.w.users[target].role;
        if !role.has_mailbox() || matches!(role, Role::Service | Role::Migration) {
            continue;
        }
        let ctx = Ctx {
            user: u,
            mailbox: target,
            logon: 1,
            profile: prof::ARCHIVER,
            ip: ctx_ip,
            session: g.session(u, 4, d),
            tag: Tag::Decoy(DecoyKind::ArchivingConnector),
        };
        let n = usize::try_from(g.rng.range(3, 10)).unwrap_or(3);
        let op = g.bind(0, n, 0);
        g.push(t, &ctx, op);
        t += g.rng.range(30, 110);
    }
}

/// Interactive sign-in when a session starts, non-interactive refreshes when the last token is
/// older than an hour or the network changes; an STS logon record behind each interactive one.
fn attach_signins(g: &mut Gen) -> Vec<SignIn> {
    g.ual.sort_by_key(|r| (r.time, r.seq));
    let mut state: HashMap<Guid, (i64, u128, IpAddr)> = HashMap::new();
    let mut signins = Vec::new();
    let mut logons = Vec::new();
    let mut rng = Rng::derive(g.w.seed, &[0x73_69_67_6e]);
    for r in &mut g.ual {
        let need = match state.get(&r.session) {
            None => true,
            Some(&(last, _, ip)) => r.time - last > HOUR || ip != r.ip,
        };
        if need {
            // An application's client-credentials token is never interactive, and no STS
            // logon record follows it.
            let app_only = g.w.users[r.user].role == Role::BackupApp;
            let interactive = !app_only && !state.contains_key(&r.session);
            let floor = state.get(&r.session).map_or(i64::MIN, |s| s.0 + 1);
            // The sign-in lands strictly before the record (its fraction is below a second).
            let t = (r.time - rng.range(5, 900)).max(floor).min(r.time - 1);
            let uti = rng.next_u128();
            signins.push(SignIn {
                id: Guid(0),
                time: t,
                ticks: u32::try_from(rng.below(10_000_000)).unwrap_or(0),
                user: r.user,
                profile: r.profile,
                ip: r.ip,
                session: r.session,
                uti,
                interactive,
                correlation: Guid(0),
                request: Guid(0),
            });
            state.insert(r.session, (t, uti, r.ip));
            if interactive && r.profile != prof::ADMIN_PS {
                let mut l = r.clone();
                l.time = t + 1;
                l.op = Op::UserLoggedIn;
                l.mailbox = r.user;
                l.logon_type = 0;
                l.uti = uti;
                l.iat = t;
                logons.push(l);
            }
        }
        if let Some(&(t, uti, _)) = state.get(&r.session) {
            r.uti = uti;
            r.iat = t;
        }
    }
    for mut l in logons {
        g.seq += 1;
        l.seq = g.seq;
        g.ual.push(l);
    }
    signins
}

struct ActorPlan {
    records: Vec<Ual>,
    throttled: Vec<(usize, i64)>,
}

/// Plan the intrusion: four forged-token sessions over IOC IPs, Bind reads across five
/// mailboxes in two tenants, one whole-folder Sync and one throttled mailbox.
fn plan_actor(
    g: &mut Gen,
    exec0: usize,
    exec1: usize,
    staff0: &[usize],
    staff1: &[usize],
) -> ActorPlan {
    let mut r = Rng::derive(g.w.seed, &[0x61_63_74]);
    // IPs: five distinct IOC IPs, one shared by a session in each tenant.
    let mut pool: Vec<[u8; 4]> = ACTOR_IPS.to_vec();
    for i in (1..pool.len()).rev() {
        let j = r.index(i + 1);
        pool.swap(i, j);
    }
    let ip = |k: usize| IpAddr::V4(Ipv4Addr::from(pool[k]));
    // (profile, tenant, ips, foreign token tenant). Each session alternates between two IPs
    // and neighbouring sessions share one, so IP → session → IP expansion reaches all four;
    // ip(2) is used in both tenants.
    let sessions_def = [
        (prof::ACTOR, 0usize, vec![ip(0), ip(1)], false),
        (prof::ACTOR + 1, 0, vec![ip(1), ip(2)], true),
        (prof::ACTOR + 2, 1, vec![ip(3), ip(4)], false),
        (prof::ACTOR, 1, vec![ip(2), ip(4)], true),
    ];
    let sessions: Vec<(Guid, usize, usize)> = sessions_def
        .iter()
        .map(|(p, t, _, _)| (Guid::from_bits(r.next_u128()), *t, *p))
        .collect();
    // Staff 0 and 1 of each tenant are decoys; the actor reads other mailboxes.
    let admin0 = g.w.find(0, Role::Admin).unwrap_or(exec0);
    let targets0 = [
        exec0,
        staff0[2 % staff0.len()],
        staff0.get(3).copied().unwrap_or(admin0),
    ];
    let targets1 = [exec1, staff1[1 % staff1.len()]];
    let first_day = 14;
    let last_day = g.days.min(32) - 1;
    let workdays: Vec<i64> = (first_day..=last_day)
        .filter(|d| weekday(g.start + d * DAY) < 5)
        .collect();
    let mut seen: HashMap<(usize, usize), BTreeSet<u32>> = HashMap::new();
    let mut records = Vec::new();
    let mut throttled = Vec::new();
    let throttle_day = workdays[workdays.len() / 2];
    let mut seq = 0u64;
    let mut visits: Vec<(i64, usize, usize)> = Vec::new(); // (day, mailbox, session idx)
    for (ti, targets) in [(0usize, &targets0[..]), (1, &targets1[..])] {
        for &mbx in targets {
            let n = r.range(3, 5);
            let mut days: Vec<i64> = workdays.clone();
            for i in (1..days.len()).rev() {
                let j = r.index(i + 1);
                days.swap(i, j);
            }
            let mut chosen: Vec<i64> = days
                .into_iter()
                .take(usize::try_from(n).unwrap_or(3))
                .collect();
            if mbx == exec0 && !chosen.contains(&throttle_day) {
                chosen[0] = throttle_day;
            }
            chosen.sort_unstable();
            for (k, d) in chosen.into_iter().enumerate() {
                let sess: Vec<usize> = (0..sessions.len())
                    .filter(|&s| sessions[s].1 == ti)
                    .collect();
                visits.push((d, mbx, sess[k % sess.len()]));
            }
        }
    }
    visits.sort_unstable();
    let mut session_visits = vec![0usize; sessions.len()];
    let mut sync_done = false;
    let mut throttle_at: Option<i64> = None;
    for (d, mbx, si) in visits {
        let (session, _, profile) = sessions[si];
        let (_, _, ips, foreign) = &sessions_def[si];
        let ipv = ips[session_visits[si] % ips.len()];
        session_visits[si] += 1;
        let heavy = mbx == exec0 && d == throttle_day && throttle_at.is_none();
        let mut t = g.start + d * DAY + r.range(0, if heavy { 2 * HOUR } else { 6 * HOUR });
        let iat = t - r.range(60, 3000);
        let uti = r.next_u128();
        if let Some(ts) = throttle_at
            && mbx == exec0
            && t > ts
            && t < ts + DAY
        {
            continue;
        }
        let n_records = if heavy { 30 } else { r.range(2, 6) };
        let mk = |t: i64, op: Op, seq: &mut u64| {
            *seq += 1;
            Ual {
                id: Guid(0),
                time: t,
                user: mbx,
                mailbox: mbx,
                logon_type: 0,
                profile,
                ip: ipv,
                session,
                uti,
                iat,
                foreign_token_tenant: *foreign,
                op,
                tag: Tag::Actor,
                seq: *seq,
            }
        };
        for _ in 0..n_records {
            let folder = match r.below(10) {
                0..=5 => 0,
                6..=7 => 1,
                8 => 2,
                _ => 3,
            };
            let want = if heavy { r.range(8, 10) } else { r.range(1, 6) };
            let set = seen.entry((mbx, folder)).or_default();
            let mut items = Vec::new();
            let mut tries = 0;
            while items.len() < usize::try_from(want).unwrap_or(1) && tries < 200 {
                tries += 1;
                let k = u32::try_from(r.below(u64::from(FOLDERS[folder].1))).unwrap_or(0);
                if items.contains(&k) {
                    continue;
                }
                // Mostly new messages; an occasional re-read on another day.
                if set.contains(&k) && !r.chance(0.05) {
                    continue;
                }
                items.push(k);
            }
            items.sort_unstable();
            set.extend(items.iter().copied());
            let count = u32::try_from(items.len()).unwrap_or(0);
            let op = Op::MailItemsAccessed {
                access: Access::Bind,
                throttled: false,
                folders: vec![FolderRef { folder, items }],
                count,
            };
            records.push(mk(t, op, &mut seq));
            t += r.range(150, 540);
        }
        if heavy {
            // The record that reports throttling: it still lists what it read, and the
            // operation count says more binds happened than are listed.
            let items: Vec<u32> = {
                let set = seen.entry((mbx, 2)).or_default();
                let mut v = Vec::new();
                while v.len() < 10 {
                    let k = u32::try_from(r.below(u64::from(FOLDERS[2].1))).unwrap_or(0);
                    if !v.contains(&k) && !set.contains(&k) {
                        v.push(k);
                    }
                }
                v.sort_unstable();
                set.extend(v.iter().copied());
                v
            };
            let op = Op::MailItemsAccessed {
                access: Access::Bind,
                throttled: true,
                folders: vec![FolderRef { folder: 2, items }],
                count: 50,
            };
            records.push(mk(t, op, &mut seq));
            throttled.push((mbx, t));
            throttle_at = Some(t);
        }
        if !sync_done && mbx == exec1 {
            sync_done = true;
            records.push(mk(t + 60, Gen::sync(3), &mut seq));
        }
    }
    ActorPlan { records, throttled }
}

/// Only the world and the actor's records (volume mode plants these into its stream).
pub(crate) fn actor_only(seed: u64, plans: &[TenantPlan]) -> Data {
    let w = World::build(seed, plans);
    let start = period_start();
    let mut g = Gen {
        rng: Rng::derive(seed, &[0x6c_69_66_65]),
        w,
        ual: Vec::new(),
        seq: 0,
        start,
        days: 30,
    };
    let staff0: Vec<usize> =
        g.w.tenant_users(0)
            .into_iter()
            .filter(|&u| g.w.users[u].role == Role::Staff)
            .collect();
    let staff1: Vec<usize> =
        g.w.tenant_users(1)
            .into_iter()
            .filter(|&u| g.w.users[u].role == Role::Staff)
            .collect();
    let exec0 = g.w.find(0, Role::Executive).unwrap_or(0);
    let exec1 = g.w.find(1, Role::Executive).unwrap_or(0);
    let plan = plan_actor(&mut g, exec0, exec1, &staff0, &staff1);
    let mut ual = plan.records;
    ual.sort_by_key(|r| (r.time, r.seq));
    let mut idr = Rng::derive(seed, &[0x69_64_73, 0x76]);
    for r in &mut ual {
        r.id = Guid::from_bits(idr.next_u128());
    }
    let unaudited = (0..g.w.tenants.len())
        .filter(|&i| !g.w.tenants[i].audited)
        .collect();
    Data {
        world: g.w,
        ual,
        signins: Vec::new(),
        start,
        end: start + 30 * DAY,
        throttled: plan.throttled,
        unaudited,
        decoys: BTreeMap::new(),
    }
}
