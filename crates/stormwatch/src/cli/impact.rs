//! `stormwatch impact`: which organisations, mailboxes, folders and messages an actor read.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use stormwatch_core::Level;
use stormwatch_impact::{Assessor, ImpactOptions, Seeds};
use stormwatch_read::Input;
use stormwatch_report::ImpactFormat;

use super::common::{self, InputArgs, Output};
use crate::exit::Exit;

/// Arguments of `stormwatch impact`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stormwatch impact --from-hunt examples/storm-0558/
  stormwatch impact --actor-ip 51.89.156.153 --format html -o impact.html export/
  stormwatch impact --actor-session 7b0d2c55-1e8f-4c3a-9d61-2f4e8a9b0c1d --no-expand --format csv audit.csv")]
pub(crate) struct ImpactArgs {
    #[command(flatten)]
    input: InputArgs,

    /// An IP address of the actor (repeatable).
    #[arg(long, value_name = "IP")]
    actor_ip: Vec<String>,

    /// A session id of the actor (repeatable).
    #[arg(long, value_name = "ID")]
    actor_session: Vec<String>,

    /// An application id (ClientAppId or AppId) of the actor (repeatable).
    #[arg(long, value_name = "ID")]
    actor_app: Vec<String>,

    /// A user agent or ClientInfoString of the actor (repeatable).
    #[arg(long, value_name = "UA")]
    actor_user_agent: Vec<String>,

    /// Seed the actor from the built-in analytics' high and critical findings on the same input.
    #[arg(long)]
    from_hunt: bool,

    /// Seed with the IPs of an indicator file (CSV or STIX 2.1), each inside its validity window
    /// (repeatable). The built-in Storm-0558 indicators are used with `--builtin-iocs`.
    #[arg(long, value_name = "FILE")]
    ioc: Vec<PathBuf>,

    /// Seed with the built-in Storm-0558 indicator IPs (inside their windows).
    #[arg(long)]
    builtin_iocs: bool,

    /// Do not expand the seeds (an IP to its sessions, a session to its other IPs).
    #[arg(long)]
    no_expand: bool,

    /// Message subjects to join: CSV with `InternetMessageId,Subject,...`.
    #[arg(long, value_name = "FILE")]
    subjects: Option<PathBuf>,

    /// Also write the per-mailbox summary CSV to FILE.
    #[arg(long, value_name = "FILE")]
    mailbox_csv: Option<PathBuf>,

    #[command(flatten)]
    output: Output,

    /// Output format.
    #[arg(
        long,
        short = 'f',
        default_value = "json",
        value_name = "json|csv|html"
    )]
    format: ImpactFormat,
}

/// Run `stormwatch impact`.
pub(crate) fn run(args: ImpactArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    common::init_threads(args.input.threads)?;
    // A collected folder: its manifest is not a log, and its gaps are limits of the evidence.
    let collected = stormwatch_collect::Evidence::beside(&args.input.paths).restrict(
        args.input.since,
        args.input.until,
        &args.input.tenant,
    );
    let inputs = common::inputs(&collected.paths)?;
    let read_opts = common::with_progress(args.input.read_options()?, args.output.quiet);

    let mut seeds = Seeds {
        ips: args.actor_ip.clone(),
        sessions: args.actor_session.clone(),
        apps: args.actor_app.clone(),
        user_agents: args.actor_user_agent.clone(),
    };
    let mut ioc_windows = Vec::new();
    if !args.ioc.is_empty() || args.builtin_iocs {
        let mut set = if args.builtin_iocs {
            stormwatch_analytics::IocSet::builtin_storm_0558()
        } else {
            stormwatch_analytics::IocSet::default()
        };
        for p in &args.ioc {
            set.merge(
                stormwatch_analytics::IocSet::load(p)
                    .with_context(|| format!("indicators {}", p.display()))?,
            );
        }
        ioc_windows = set.ip_windows();
    }
    let opts = ImpactOptions {
        expand: !args.no_expand,
        subjects: match &args.subjects {
            Some(p) => Some(
                stormwatch_impact::load_subjects_csv(p)
                    .with_context(|| format!("subjects {}", p.display()))?,
            ),
            None => None,
        },
        ioc_windows,
    };
    for ip in &args.actor_ip {
        if stormwatch_read::parse_client_ip(ip).is_none() {
            anyhow::bail!("--actor-ip {ip}: not an IP address");
        }
    }
    if seeds.is_empty() && opts.ioc_windows.is_empty() && !args.from_hunt {
        anyhow::bail!(
            "no actor given: use --actor-ip, --actor-session, --actor-app, --actor-user-agent, --ioc, --builtin-iocs or --from-hunt"
        );
    }

    let mut analytics = if args.from_hunt {
        Some(common::build_analytics(None, &[], None, None, None)?.analytics)
    } else {
        None
    };
    // Files are read twice (a compact session/IP graph first, then only the actor's records),
    // so memory stays flat; standard input can be read once only.
    let two_pass = !inputs.iter().any(|i| matches!(i, Input::Stdin));
    let mut assessor = if two_pass {
        Assessor::graph_only()
    } else {
        Assessor::new()
    };
    let progress = common::ProgressBar::start(&read_opts, args.output.quiet);
    let stats = stormwatch_read::read(&inputs, &read_opts, &mut |batch| {
        for ev in &batch {
            assessor.observe(ev);
            if let Some(a) = analytics.as_mut() {
                a.observe(ev);
            }
        }
    });
    progress.finish();
    let mut stats = stats.context("reading inputs")?;

    if let Some(a) = analytics {
        let out = a.finish();
        for d in out.detections.iter().filter(|d| d.level >= Level::High) {
            push_unique(&mut seeds.ips, d.ip.as_deref());
            push_unique(&mut seeds.sessions, d.session_id.as_deref());
        }
        if seeds.is_empty() && opts.ioc_windows.is_empty() {
            eprintln!(
                "stormwatch impact: warning: --from-hunt found no high or critical detection to take the actor from ({} records read): nothing to assess; give --actor-ip, --actor-session, --actor-app, --ioc or --builtin-iocs",
                stats.records()
            );
        }
    }

    if two_pass {
        let actor = assessor.resolve_actor(&seeds, &opts);
        assessor = Assessor::focused(&actor);
        let progress = common::ProgressBar::start(&read_opts, args.output.quiet);
        let second = stormwatch_read::read(&inputs, &read_opts, &mut |batch| {
            for ev in &batch {
                assessor.observe(ev);
            }
        });
        progress.finish();
        stats = second.context("reading inputs (second pass)")?;
    }

    let mut report = assessor.finish(&seeds, &opts, &stats);
    report.limits.extend(collected.limits);
    let mut out = args.output.open()?;
    stormwatch_report::write_impact(&mut out.writer, args.format, &report)
        .context("writing the impact report")?;
    out.finish()?;
    if let Some(p) = &args.mailbox_csv {
        let f =
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
        let mut w = std::io::BufWriter::new(f);
        stormwatch_report::write_impact_mailbox_csv(&mut w, &report)
            .context("writing the mailbox summary")?;
        std::io::Write::flush(&mut w).context("writing the mailbox summary")?;
    }
    if !args.output.quiet {
        // The same figures as the report's summary.
        let t = stormwatch_report::impact_totals(&report);
        let limits = report.limits.len()
            + report
                .organizations
                .iter()
                .map(|o| o.limits.len() + o.mailboxes.iter().map(|m| m.limits.len()).sum::<usize>())
                .sum::<usize>();
        eprintln!(
            "stormwatch impact: {} records read ({} skipped) in {:.2}s; the actor read {} distinct messages in {} mailboxes of {} organisations ({} mailboxes presumed exposed, {} organisations listed); {} limits of the evidence",
            stats.records(),
            stats.skipped(),
            started.elapsed().as_secs_f64(),
            t.messages,
            t.mailboxes_read,
            t.orgs_touched,
            t.presumed,
            report.organizations.len(),
            limits
        );
    }
    Ok(Exit::Ok.into())
}

fn push_unique(v: &mut Vec<String>, s: Option<&str>) {
    if let Some(s) = s
        && !s.is_empty()
        && !v.iter().any(|x| x == s)
    {
        v.push(s.to_owned());
    }
}
