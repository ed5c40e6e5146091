//! Volume mode: millions of records streamed with bounded memory, for benchmarks.
//!
//! Time is cut into chunks (an hour, or less for large runs); each chunk is generated from its
//! own seed, sorted, rendered and written before the next, so memory holds one chunk at most
//! and the Purview CSV can be written newest-first by walking the chunks backwards.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::GenError;
use crate::ids::Guid;
use crate::output::{Compression, Format, Sink, io_err};
use crate::record::{Access, FolderRef, Op, SignIn, Tag, Ual};
use crate::render::rows::{self, PURVIEW_HEADER};
use crate::render::signin::{self, SignInTime};
use crate::render::ual::{Style, audit_data};
use crate::rng::{Rng, hash};
use crate::scenario::{self, period_start};
use crate::timefmt::{DAY, HOUR, weekday};
use crate::truth::Truth;
use crate::world::{FOLDERS, Role, TenantPlan, World, prof};

/// Where the sign-ins of a volume run go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigninsMode {
    /// A separate file beside the output (`<stem>.signins.json`, Azure Monitor shape).
    #[default]
    Separate,
    /// Interleaved in the NDJSON output as Graph `signIn` objects.
    Mixed,
    /// No sign-ins.
    None,
}

/// Options of a volume run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeOptions {
    /// Seed.
    pub seed: u64,
    /// UAL records to write (exactly).
    pub records: u64,
    /// Output file (the compression suffix is appended).
    pub out: PathBuf,
    /// `Ndjson`, `JsonArray` or `Csv`.
    pub format: Format,
    /// Compression.
    pub compression: Compression,
    /// Sign-ins.
    pub signins: SigninsMode,
    /// Days of traffic the records are spread over (30 in the usual runs; longer runs show
    /// a monitor's steady state).
    pub days: u32,
}

/// What a volume run wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSummary {
    /// UAL records written.
    pub records: u64,
    /// Sign-ins written.
    pub signins: u64,
    /// Files written (UAL first).
    pub files: Vec<PathBuf>,
    /// Ground truth of the planted intrusion (decoys are not planted in volume mode).
    pub truth: Truth,
}

/// Days of traffic, unless asked otherwise.
pub const DEFAULT_DAYS: u32 = 30;

struct Plan {
    world: World,
    start: i64,
    chunk: i64,
    chunks: i64,
    weights: Vec<u32>,
    total_weight: u64,
    humans: Vec<usize>,
    admins: Vec<usize>,
    actor: Vec<Ual>,
    throttled: Vec<(usize, i64)>,
}

fn plan(opts: &VolumeOptions) -> (Plan, Truth) {
    let users = (opts.records / 5_000).clamp(40, 4_000) as usize;
    let per = users / 2;
    let plans = [
        TenantPlan {
            staff: per,
            executive: true,
            admin: true,
            service: false,
            migration: false,
            extras: &[],
        },
        TenantPlan {
            staff: per,
            executive: true,
            admin: true,
            service: false,
            migration: false,
            extras: &[],
        },
        TenantPlan {
            staff: (per / 8).max(2),
            executive: false,
            admin: true,
            service: false,
            migration: false,
            extras: &[],
        },
    ];
    let scen = scenario::actor_only(opts.seed, &plans);
    let world = scen.world.clone();
    let mut truth = crate::truth::build(&scen, opts.seed);
    truth.decoys.clear();
    let start = period_start();
    let span = i64::from(opts.days.max(1)) * DAY;
    let want_chunks = (opts.records / 2_000).max(1) as i64;
    let chunk = [HOUR, 1800, 1200, 900, 600, 300, 120, 60]
        .into_iter()
        .find(|c| span / c >= want_chunks)
        .unwrap_or(60)
        .min(HOUR);
    let chunks = span / chunk;
    let weights: Vec<u32> = (0..chunks)
        .map(|i| {
            let t = start + i * chunk;
            let h = (t.rem_euclid(DAY)) / HOUR;
            let workday = weekday(t) < 5;
            match (workday, (7..=22).contains(&h)) {
                (true, true) => 6,
                (true, false) => 2,
                (false, true) => 2,
                (false, false) => 1,
            }
        })
        .collect();
    let total_weight = weights.iter().map(|&w| u64::from(w)).sum();
    let humans = (0..world.users.len())
        .filter(|&u| !matches!(world.users[u].role, Role::Service | Role::Migration))
        .collect();
    let admins = (0..world.users.len())
        .filter(|&u| world.users[u].role == Role::Admin)
        .collect();
    let actor: Vec<Ual> = scen.ual;
    (
        Plan {
            world,
            start,
            chunk,
            chunks,
            weights,
            total_weight,
            humans,
            admins,
            actor,
            throttled: scen.throttled,
        },
        truth,
    )
}

/// Records of chunk `i` given the legitimate budget.
fn chunk_budget(p: &Plan, budget: u64, i: i64) -> u64 {
    // Cumulative rounding so the total is exact.
    let idx = usize::try_from(i).unwrap_or(0);
    let before: u64 = p.weights[..idx].iter().map(|&w| u64::from(w)).sum();
    let upto = before + u64::from(p.weights[idx]);
    let a = (u128::from(budget) * u128::from(before) / u128::from(p.total_weight.max(1))) as u64;
    let b = (u128::from(budget) * u128::from(upto) / u128::from(p.total_weight.max(1))) as u64;
    b - a
}

fn session_of(seed: u64, u: usize, profile: usize, day: i64) -> Guid {
    let h1 = hash(&[seed, u as u64, profile as u64, day as u64, 11]);
    let h2 = hash(&[seed, u as u64, profile as u64, day as u64, 12]);
    Guid::from_bits((u128::from(h1) << 64) | u128::from(h2))
}

fn gen_chunk(p: &Plan, seed: u64, i: i64, n: u64, out: &mut Vec<Ual>) {
    out.clear();
    let w = &p.world;
    let mut r = Rng::derive(seed, &[0x0076_6f6c, i as u64]);
    let t0 = p.start + i * p.chunk;
    for k in 0..n {
        let t = t0 + r.range(0, p.chunk - 1);
        let day = t.div_euclid(DAY);
        let roll = r.below(100);
        let (u, profile, op) = if roll < 5 && !p.admins.is_empty() {
            let u = *r.pick(&p.admins);
            let target = *r.pick(&p.humans);
            let name = *r.pick(&[
                "Set-Mailbox",
                "Set-CASMailbox",
                "Set-MailboxRegionalConfiguration",
            ]);
            (
                u,
                prof::ADMIN_PS,
                Op::Cmdlet {
                    name,
                    target,
                    grantee: None,
                },
            )
        } else {
            let u = *r.pick(&p.humans);
            let audited = w.tenants[w.users[u].tenant].audited;
            match roll {
                5..=29 if audited => {
                    let folder = usize::try_from(r.below(3)).unwrap_or(0);
                    (
                        u,
                        prof::DESKTOP,
                        Op::MailItemsAccessed {
                            access: Access::Sync,
                            throttled: false,
                            folders: vec![FolderRef {
                                folder,
                                items: Vec::new(),
                            }],
                            count: 1,
                        },
                    )
                }
                30..=69 if audited => {
                    let profile = *r.pick(&[prof::OWA, prof::OWA, prof::DESKTOP, prof::MOBILE]);
                    let folder = match r.below(10) {
                        0..=5 => 0,
                        6..=7 => 1,
                        8 => 2,
                        _ => 3,
                    };
                    let n_items = r.range(1, 6);
                    let mut items: Vec<u32> = (0..n_items)
                        .map(|_| u32::try_from(r.below(u64::from(FOLDERS[folder].1))).unwrap_or(0))
                        .collect();
                    items.sort_unstable();
                    items.dedup();
                    let mut access = Access::Bind;
                    // Throttled mailboxes log no Bind for 24 h; their owner's client syncs instead.
                    if p.throttled
                        .iter()
                        .any(|&(m, tt)| m == u && t > tt && t < tt + DAY)
                    {
                        access = Access::Sync;
                        items.clear();
                    }
                    let count = u32::try_from(items.len()).unwrap_or(0).max(1);
                    (
                        u,
                        profile,
                        Op::MailItemsAccessed {
                            access,
                            throttled: false,
                            folders: vec![FolderRef { folder, items }],
                            count,
                        },
                    )
                }
                5..=77 => {
                    let item = u32::try_from(r.below(u64::from(FOLDERS[1].1))).unwrap_or(0);
                    (u, prof::OWA, Op::Send { item })
                }
                78..=92 => {
                    let file = u32::try_from(r.below(5000)).unwrap_or(0);
                    (u, prof::BROWSER_SP, Op::FileAccessed { file })
                }
                _ => (u, prof::OWA, Op::UserLoggedIn),
            }
        };
        let user = &w.users[u];
        let ip = match profile {
            prof::MOBILE => user.mobile_ip,
            prof::ADMIN_PS => w.tenants[user.tenant].office_ip,
            _ => {
                if hash(&[seed, u as u64, day as u64]).is_multiple_of(5) {
                    user.home_ip
                } else {
                    w.tenants[user.tenant].office_ip
                }
            }
        };
        let session = session_of(seed, u, profile, day);
        let hour = t.div_euclid(HOUR);
        out.push(Ual {
            id: Guid::from_bits(r.next_u128()),
            time: t,
            user: u,
            mailbox: u,
            logon_type: 0,
            profile,
            ip,
            session,
            uti: u128::from(hash(&[session.0 as u64, hour as u64])) << 64
                | u128::from(hash(&[(session.0 >> 64) as u64, hour as u64])),
            iat: hour * HOUR - 60,
            foreign_token_tenant: false,
            op,
            tag: Tag::Normal,
            seq: k,
        });
    }
    let lo = t0;
    let hi = t0 + p.chunk;
    for a in &p.actor {
        if a.time >= lo && a.time < hi {
            out.push(a.clone());
        }
    }
    out.sort_by_key(|u| (u.time, u.tag == Tag::Actor, u.seq));
}

/// Stream a volume data set.
///
/// # Errors
/// [`GenError::Unsupported`] for a format other than NDJSON, JSON array or Purview CSV (or
/// mixed sign-ins outside NDJSON); [`GenError::Io`] when a file cannot be written.
pub fn run(opts: &VolumeOptions) -> Result<VolumeSummary, GenError> {
    if !matches!(
        opts.format,
        Format::Ndjson | Format::JsonArray | Format::Csv
    ) {
        return Err(GenError::Unsupported(opts.format.name().to_string()));
    }
    if opts.signins == SigninsMode::Mixed && opts.format != Format::Ndjson {
        return Err(GenError::Unsupported(format!(
            "{} with mixed sign-ins",
            opts.format.name()
        )));
    }
    let (p, mut truth) = plan(opts);
    let actor_n = p.actor.len() as u64;
    let budget = opts.records.saturating_sub(actor_n);
    let (mut sink, path) = Sink::create_with(&opts.out, opts.compression, true)?;
    let mut files = vec![path.clone()];
    let mut sign_sink = None;
    if opts.signins == SigninsMode::Separate {
        let sp = signins_path(&opts.out);
        let (mut s, spath) = Sink::create_with(&sp, opts.compression, true)?;
        s.write_all(b"{\"records\":[\n").map_err(io_err(&spath))?;
        files.push(spath.clone());
        sign_sink = Some((s, spath));
    }
    let w = &p.world;
    let mut buf = String::with_capacity(1 << 16);
    let mut sbuf = String::with_capacity(1 << 16);
    let mut audit = String::with_capacity(8192);
    let mut chunk = Vec::new();
    let mut written = 0u64;
    let mut signins = 0u64;
    let mut interactive = 0u64;
    let mut mia = 0u64;
    let mut first_signin = true;
    let mut first_rec = true;
    let mut seen: HashSet<(Guid, i64)> = HashSet::new();
    let mut seen_hour = i64::MIN;
    match opts.format {
        Format::Csv => buf.push_str(PURVIEW_HEADER),
        Format::JsonArray => buf.push_str("[\n"),
        _ => {}
    }
    let order: Box<dyn Iterator<Item = i64>> = if opts.format == Format::Csv {
        Box::new((0..p.chunks).rev())
    } else {
        Box::new(0..p.chunks)
    };
    // Actor records all fall inside the 30-day span (the plan keeps them there).
    for i in order {
        let n = chunk_budget(&p, budget, i);
        gen_chunk(&p, opts.seed, i, n, &mut chunk);
        if opts.format == Format::Csv {
            chunk.reverse();
        }
        for rec in &chunk {
            // Sign-in behind each legitimate (session, hour).
            if rec.tag != Tag::Actor && opts.signins != SigninsMode::None {
                let hour = rec.time.div_euclid(HOUR);
                if hour != seen_hour {
                    seen.clear();
                    seen_hour = hour;
                }
                if seen.insert((rec.session, hour)) {
                    let s = SignIn {
                        id: Guid::from_bits(rec.uti ^ 0x5a5a),
                        time: hour * HOUR - 60,
                        ticks: (rec.uti % 10_000_000) as u32,
                        user: rec.user,
                        profile: rec.profile,
                        ip: rec.ip,
                        session: rec.session,
                        uti: rec.uti,
                        interactive: rec.uti % 6 == 0,
                        correlation: Guid::from_bits(rec.uti.rotate_left(17)),
                        request: Guid::from_bits(rec.uti.rotate_left(41)),
                    };
                    signins += 1;
                    interactive += u64::from(s.interactive);
                    match (&mut sign_sink, opts.signins) {
                        (Some((s_sink, spath)), _) => {
                            if !first_signin {
                                sbuf.push_str(",\n");
                            }
                            first_signin = false;
                            signin::azure_monitor_record(w, &s, &mut sbuf);
                            if sbuf.len() >= 1 << 16 {
                                s_sink.write_all(sbuf.as_bytes()).map_err(io_err(spath))?;
                                sbuf.clear();
                            }
                        }
                        (None, SigninsMode::Mixed) => {
                            signin::signin_object(w, &s, SignInTime::Z, &mut buf);
                            buf.push('\n');
                        }
                        _ => {}
                    }
                }
            }
            match opts.format {
                Format::Csv => rows::purview_row(w, rec, &mut audit, &mut buf),
                Format::JsonArray => {
                    if !first_rec {
                        buf.push_str(",\n");
                    }
                    audit_data(w, rec, Style::API, &mut buf);
                }
                _ => {
                    audit_data(w, rec, Style::API, &mut buf);
                    buf.push('\n');
                }
            }
            first_rec = false;
            written += 1;
            if matches!(rec.op, Op::MailItemsAccessed { .. }) {
                mia += 1;
            }
            if buf.len() >= 1 << 16 {
                sink.write_all(buf.as_bytes()).map_err(io_err(&path))?;
                buf.clear();
            }
        }
    }
    if opts.format == Format::JsonArray {
        buf.push_str("\n]\n");
    }
    sink.write_all(buf.as_bytes()).map_err(io_err(&path))?;
    sink.finish().map_err(io_err(&path))?;
    if let Some((mut s, spath)) = sign_sink {
        sbuf.push_str("\n]}\n");
        s.write_all(sbuf.as_bytes()).map_err(io_err(&spath))?;
        s.finish().map_err(io_err(&spath))?;
    }
    truth.counts.ual_records = written;
    truth.counts.signins = signins;
    truth.counts.interactive_signins = interactive;
    truth.counts.mail_items_accessed = mia;
    Ok(VolumeSummary {
        records: written,
        signins,
        files,
        truth,
    })
}

/// `<dir>/<stem>.signins.json` for an output path.
pub(crate) fn signins_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("ual");
    let stem = stem.split('.').next().unwrap_or(stem);
    out.with_file_name(format!("{stem}.signins.json"))
}
