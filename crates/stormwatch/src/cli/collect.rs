//! `stormwatch collect`: pull audit logs from Microsoft's APIs into a folder `hunt` and
//! `impact` read, with a manifest of every window asked for.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use stormwatch_collect::{CollectOptions, TenantEntry, parse_duration, parse_time, tenants_file};

use crate::exit::Exit;

/// Arguments of `stormwatch collect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  STORMWATCH_SECRET=... stormwatch collect --tenant 41463f53-8812-40f4-890f-865bf6e35190 \\
      --client-id 6e4a7c59-0b8e-4a49-9d6f-3f8a1c2b0d11 --client-secret-env STORMWATCH_SECRET \\
      --since 7d --out evidence/
  stormwatch collect --tenant ID --client-id ID --certificate app.pem --cloud gcc-high \\
      --since 2023-05-15 --until 2023-07-01 --out evidence/
  stormwatch collect --config tenants.toml --since 90d --sources all --out evidence/
  stormwatch hunt evidence/

Run it again with the same --out to continue: complete windows are not asked again.
Exit status: 0 everything asked for was collected, 1 some window is partial or missing (the
summary and the manifest say why; windows that had not ended yet complete on the next run),
2 usage error or an output folder that cannot be written.")]
pub(crate) struct CollectArgs {
    /// Directory (tenant) id, a GUID.
    #[arg(long, value_name = "ID", required_unless_present = "config")]
    tenant: Option<String>,

    /// Application (client) id of the app registration.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,

    /// Name of the environment variable holding the client secret (never the secret itself).
    #[arg(long, value_name = "VAR", conflicts_with = "certificate")]
    client_secret_env: Option<String>,

    /// PEM file with the app's certificate and its unencrypted private key.
    #[arg(long, value_name = "PEM")]
    certificate: Option<PathBuf>,

    /// Tenants file (TOML) for many tenants; flags given here override it.
    #[arg(long, value_name = "FILE", conflicts_with = "tenant")]
    config: Option<PathBuf>,

    /// Start: a time (2023-06-03, 2023-06-03T10:00:00Z) or a duration before now (7d, 12h).
    #[arg(long, value_name = "TS")]
    since: String,

    /// End, exclusive (default: now).
    #[arg(long, value_name = "TS")]
    until: Option<String>,

    /// Output folder: OUT/<tenant>/<source>/<day>.ndjson.gz and OUT/manifest.json.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,

    /// Microsoft cloud: commercial, gcc, gcc-high or dod.
    #[arg(long, value_name = "CLOUD")]
    cloud: Option<String>,

    /// Entra sign-in base URL instead of the cloud's (a proxy; http:// only on loopback).
    #[arg(long, value_name = "URL")]
    login_url: Option<String>,

    /// Management Activity API base URL instead of the cloud's.
    #[arg(long, value_name = "URL")]
    manage_url: Option<String>,

    /// Microsoft Graph base URL instead of the cloud's.
    #[arg(long, value_name = "URL")]
    graph_url: Option<String>,

    /// Sources: default, activity, graph, all, or names (Audit.Exchange,
    /// Audit.AzureActiveDirectory, Audit.SharePoint, Audit.General, DLP.All, signIns,
    /// nonInteractiveSignIns, directoryAudits, auditLogQuery), comma-separated.
    #[arg(long, value_name = "LIST")]
    sources: Option<String>,

    /// PublisherIdentifier for the Activity API: your organisation's tenant GUID (default: the
    /// collected tenant's).
    #[arg(long, value_name = "GUID")]
    publisher_id: Option<String>,

    /// Purview search record types (exchangeItem, exchangeItemAggregated, ...; default: all).
    #[arg(long, value_name = "TYPES", value_delimiter = ',')]
    record_types: Vec<String>,

    /// Window of the Activity API and Graph lists (at most 1d).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    window: String,

    /// Window of the Purview search.
    #[arg(long, value_name = "DURATION", default_value = "1d")]
    query_window: String,

    /// Give up on a Purview query still running after this long (the next run polls it again).
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    query_timeout: String,

    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    concurrency: usize,

    /// Retries after a 5xx, a timeout or a dropped connection.
    #[arg(long, value_name = "N", default_value_t = 6)]
    max_retries: u32,

    /// No progress bars and no summary on standard error.
    #[arg(long, short = 'q')]
    quiet: bool,

    /// First retry delay in milliseconds (testing).
    #[arg(long, value_name = "MS", hide = true)]
    retry_base_ms: Option<u64>,

    /// Purview polling interval in milliseconds (testing).
    #[arg(long, value_name = "MS", hide = true)]
    poll_ms: Option<u64>,

    /// Seconds after a window's end before it can be complete, for every source (testing).
    #[arg(long, value_name = "SECS", hide = true)]
    settle_secs: Option<i64>,
}

/// Run `stormwatch collect`.
pub(crate) fn run(args: CollectArgs) -> anyhow::Result<ExitCode> {
    let now = stormwatch_collect::now();
    let since = parse_time(&args.since, now).context("--since")?;
    let until = args
        .until
        .as_deref()
        .map(|u| parse_time(u, now))
        .transpose()
        .context("--until")?;
    let flags = TenantEntry {
        tenant: args.tenant,
        name: None,
        client_id: args.client_id,
        client_secret_env: args.client_secret_env,
        certificate: args.certificate,
        cloud: args.cloud,
        login_url: args.login_url,
        manage_url: args.manage_url,
        graph_url: args.graph_url,
        publisher_id: args.publisher_id,
        sources: args.sources,
    };
    let tenants = match &args.config {
        Some(path) => tenants_file(path, &flags)?,
        None => vec![flags.resolve()?],
    };
    let mut opts = CollectOptions::new(args.out, since, tenants);
    opts.until = until;
    opts.window_secs = parse_duration(&args.window).context("--window")?;
    opts.query_window_secs = parse_duration(&args.query_window).context("--query-window")?;
    opts.poll.timeout = Duration::from_secs(
        parse_duration(&args.query_timeout)
            .context("--query-timeout")?
            .unsigned_abs(),
    );
    opts.concurrency = args.concurrency.max(1);
    opts.retry.max_retries = args.max_retries;
    opts.record_types = args.record_types;
    opts.progress = !args.quiet && std::io::stderr().is_terminal();
    if let Some(ms) = args.retry_base_ms {
        opts.retry.base_delay = Duration::from_millis(ms);
        opts.retry.max_delay = Duration::from_millis(ms.saturating_mul(8));
    }
    if let Some(ms) = args.poll_ms {
        opts.poll.first = Duration::from_millis(ms);
        opts.poll.max = Duration::from_millis(ms.saturating_mul(4));
    }
    opts.settle_secs = args.settle_secs;

    let outcome = stormwatch_collect::collect(opts)?;
    if !args.quiet {
        let mut err = std::io::stderr().lock();
        outcome
            .manifest
            .write_summary(&mut err, &outcome.path)
            .context("writing the summary")?;
    }
    Ok(if outcome.manifest.has_gaps() {
        Exit::Findings
    } else {
        Exit::Ok
    }
    .into())
}
