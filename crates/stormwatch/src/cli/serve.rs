//! `stormwatch serve`: the monitoring service in the foreground, and its offline tasks
//! (API tokens, dead letters).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use stormwatch_serve::{Config, Role};

use super::common;
use crate::exit::Exit;

/// Arguments of `stormwatch serve`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  stormwatch serve --data-dir /var/lib/stormwatch
  stormwatch serve --config /etc/stormwatch/stormwatch.toml
  stormwatch serve --config stormwatch.toml --check-config
  curl -H \"Authorization: Bearer $(cat DIR/admin.token)\" --data-binary @audit.ndjson \\
       http://127.0.0.1:8514/api/v1/ingest
  stormwatch serve tokens add collector --role ingest --data-dir /var/lib/stormwatch
  stormwatch serve users add alice --role analyst --generate --data-dir /var/lib/stormwatch
  stormwatch serve dead-letters replay --data-dir /var/lib/stormwatch

docs/serve.md documents the configuration file field by field, the API and the operations;
docs/dashboard.md the dashboard (pages, roles, TLS, reverse proxy)."
)]
pub(crate) struct ServeArgs {
    #[command(subcommand)]
    command: Option<ServeCommand>,

    /// Where the store, the journal and the admin token live (default: the configuration's
    /// `data_dir`, else ./stormwatch-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Address to listen on (default 127.0.0.1:8514; loopback unless configured otherwise).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,

    /// The configuration file (TOML; see docs/serve.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Check the configuration, rules and indicator files, print what would run, and exit.
    #[arg(long)]
    check_config: bool,

    /// Sigma rules: a file or directory (repeatable). Added to the bundled ruleset.
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,

    /// Do not load the bundled ruleset.
    #[arg(long)]
    no_default_rules: bool,

    /// Do not run the built-in analytics.
    #[arg(long)]
    no_builtin: bool,

    /// Offer every record to every Sigma rule, whatever its log source.
    #[arg(long)]
    ignore_logsource: bool,

    /// Indicators (CSV or STIX 2.1; repeatable), added to the built-in Storm-0558 indicators.
    #[arg(long, value_name = "FILE")]
    ioc: Vec<PathBuf>,

    /// Watch-listed high-value mailboxes, one UPN per line.
    #[arg(long, value_name = "FILE")]
    watchlist: Option<PathBuf>,

    /// IP → ASN data (CSV `start,end,asn,org`).
    #[arg(long, value_name = "FILE")]
    asn_db: Option<PathBuf>,

    /// Watch a folder for exported or collected logs (repeatable).
    #[arg(long, value_name = "DIR")]
    watch: Vec<PathBuf>,

    /// How late a record may arrive and still join its windows (default 12h).
    #[arg(long, value_name = "DURATION")]
    lateness: Option<String>,

    /// How long the analytics wait for late sign-ins (default 2h).
    #[arg(long, value_name = "DURATION")]
    sign_in_grace: Option<String>,

    /// Log format: text or json.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,

    /// Worker threads for reading (0 = one per core).
    #[arg(long, default_value_t = 0, value_name = "N")]
    threads: usize,
}

#[derive(Debug, clap::Subcommand)]
enum ServeCommand {
    /// API tokens: add (printed once), list, remove.
    Tokens {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Dashboard accounts: add, list, remove.
    Users {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Messages the sinks gave up on: list them, or put them back to be delivered again.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetterAction,
    },
}

#[derive(Debug, clap::Subcommand)]
enum TokenAction {
    /// Make a token (shown once).
    Add {
        /// Its name (notes and status changes made with it carry it).
        name: String,
        /// ingest, viewer, analyst or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// The service's data folder.
        #[arg(long, value_name = "DIR", default_value = "stormwatch-data")]
        data_dir: PathBuf,
    },
    /// List tokens (names and roles; tokens are not kept).
    List {
        /// The service's data folder.
        #[arg(long, value_name = "DIR", default_value = "stormwatch-data")]
        data_dir: PathBuf,
    },
    /// Remove a token.
    Remove {
        /// Its name.
        name: String,
        /// The service's data folder.
        #[arg(long, value_name = "DIR", default_value = "stormwatch-data")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, clap::Subcommand)]
enum UserAction {
    /// Add a user. The password is read from the first line of standard input (at least 12
    /// characters), or made with --generate and printed once.
    Add {
        /// The login name.
        name: String,
        /// viewer (read), analyst (and triage: acknowledge, close, note, assign) or admin.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Make a random password and print it once instead of reading one.
        #[arg(long)]
        generate: bool,
        /// The service's data folder (created if needed).
        #[arg(long, value_name = "DIR", default_value = "stormwatch-data")]
        data_dir: PathBuf,
    },
    /// List users (names, roles, last login; passwords are kept as Argon2id hashes only).
    List {
        /// The service's data folder.
        #[arg(long, value_name = "DIR", default_value = "stormwatch-data")]
        data_dir: PathBuf,
    },
    /// Remove a user; their sessions end.
    Remove {
        /// The login name.
        name: String,
        /// The service's data folder.
        #[arg(long, value_name = "DIR", default_value = "stormwatch-data")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, clap::Subcommand)]
enum DeadLetterAction {
    /// List dead letters (JSON lines).
    List {
        /// Only this sink's.
        #[arg(long)]
        sink: Option<String>,
        /// The service's data folder.
        #[arg(long, value_name = "DIR", default_value = "stormwatch-data")]
        data_dir: PathBuf,
    },
    /// Put dead letters back in the outbox: the running service (or its next start)
    /// delivers them again.
    Replay {
        /// Only this sink's.
        #[arg(long)]
        sink: Option<String>,
        /// The service's data folder.
        #[arg(long, value_name = "DIR", default_value = "stormwatch-data")]
        data_dir: PathBuf,
    },
}

/// Run `stormwatch serve`.
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if let Some(cmd) = args.command {
        return offline(cmd);
    }
    let config = configure(&args)?;
    init_logging(&config.log)?;
    let detector = Detector::load(&config)?;
    if args.check_config {
        return check(&config, &detector);
    }
    let fingerprint = detector.fingerprint.clone();
    let factory = detector.factory(&config);
    let opts = stormwatch_serve::Options {
        config,
        factory,
        fingerprint,
        threads: args.threads,
    };
    stormwatch_serve::run(opts, |ready| {
        println!("stormwatch serve: listening on http://{}", ready.addr);
        println!("data: {}", ready.data_dir.display());
        if let Some(t) = &ready.admin_token {
            println!(
                "admin API token (shown once; also in {}, mode 0600):\n{}",
                t.path.display(),
                t.token
            );
        }
    })
    .context("serve")?;
    Ok(Exit::Ok.into())
}

/// The configuration file (or defaults) with the command line's changes.
fn configure(args: &ServeArgs) -> anyhow::Result<Config> {
    let mut c = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default_for(PathBuf::from("stormwatch-data")),
    };
    if let Some(d) = &args.data_dir {
        c.data_dir.clone_from(d);
    }
    if let Some(l) = &args.listen {
        c.listen = l.parse().with_context(|| {
            format!("--listen {l:?}: expected an address such as 127.0.0.1:8514")
        })?;
    }
    c.detect.rules.extend(args.rules.iter().cloned());
    c.detect.default_rules &= !args.no_default_rules;
    c.detect.builtin &= !args.no_builtin;
    c.detect.ignore_logsource |= args.ignore_logsource;
    c.detect.ioc.extend(args.ioc.iter().cloned());
    if let Some(w) = &args.watchlist {
        c.detect.watchlist = Some(w.clone());
    }
    if let Some(a) = &args.asn_db {
        c.detect.asn_db = Some(a.clone());
    }
    if let Some(l) = &args.lateness {
        c.detect.lateness =
            stormwatch_serve::parse_span(l).map_err(|e| anyhow::anyhow!("--lateness: {e}"))?;
    }
    if let Some(g) = &args.sign_in_grace {
        c.detect.sign_in_grace =
            stormwatch_serve::parse_span(g).map_err(|e| anyhow::anyhow!("--sign-in-grace: {e}"))?;
    }
    for w in &args.watch {
        let extra = Config::from_toml(&format!(
            "[[watch]]\npath = {}\n",
            toml_string(&w.display().to_string())
        ))?;
        c.watch.extend(extra.watch);
    }
    if let Some(f) = &args.log_format {
        c.log.json = match f.as_str() {
            "json" => true,
            "text" => false,
            other => anyhow::bail!("--log-format {other:?}: expected text or json"),
        };
    }
    Ok(c)
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn init_logging(log: &stormwatch_serve::LogConfig) -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter: tracing_subscriber::filter::Targets = log
        .level
        .parse()
        .with_context(|| format!("log.level {:?}", log.level))?;
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    if log.json {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt).try_init()
    }
    .context("starting the log")
}

/// What the detector is built from, loaded once.
struct Detector {
    engine: stormwatch_sigma::Engine,
    rules_loaded: usize,
    rule_errors: Vec<String>,
    analytics: Option<AnalyticsParts>,
    fingerprint: String,
}

struct AnalyticsParts {
    config: stormwatch_analytics::AnalyticsConfig,
    iocs: stormwatch_analytics::IocSet,
    watch: Vec<String>,
    asn: Option<stormwatch_analytics::AsnDb>,
}

fn read(p: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(p).with_context(|| format!("cannot read {what} {}", p.display()))
}

impl Detector {
    fn load(c: &Config) -> anyhow::Result<Detector> {
        let d = &c.detect;
        let loaded = common::load_sigma(&d.rules, d.default_rules, d.ignore_logsource)?;
        let mut parts: Vec<Vec<u8>> = vec![format!(
            "lateness={:?} grace={:?} horizon={:?} speculate={} default_rules={} builtin={} ignore_logsource={}",
            d.lateness, d.sign_in_grace, d.horizon, d.speculate, d.default_rules, d.builtin, d.ignore_logsource
        )
        .into_bytes()];
        if d.default_rules {
            for (name, text) in crate::bundled_rules() {
                parts.push(name.into_bytes());
                parts.push(text.into_bytes());
            }
        }
        for p in &d.rules {
            let mut files = Vec::new();
            common::collect_rule_files(p, &mut files)?;
            for (name, text) in files {
                parts.push(name.into_bytes());
                parts.push(text.into_bytes());
            }
        }
        let analytics = if d.builtin {
            let config = match &c.analytics {
                Some(text) => {
                    parts.push(text.clone().into_bytes());
                    stormwatch_analytics::AnalyticsConfig::from_toml_str(text)
                        .context("analytics settings")?
                }
                None => stormwatch_analytics::AnalyticsConfig::default(),
            };
            for p in &d.ioc {
                parts.push(read(p, "indicators")?);
            }
            let iocs = common::load_iocs(&d.ioc)?;
            let watch = match &d.watchlist {
                Some(p) => {
                    let text = String::from_utf8_lossy(&read(p, "watchlist")?).into_owned();
                    parts.push(text.clone().into_bytes());
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_owned)
                        .collect()
                }
                None => Vec::new(),
            };
            let asn = match &d.asn_db {
                Some(p) => {
                    parts.push(read(p, "ASN data")?);
                    Some(
                        stormwatch_analytics::AsnDb::load(p)
                            .with_context(|| format!("ASN data {}", p.display()))?,
                    )
                }
                None => None,
            };
            Some(AnalyticsParts {
                config,
                iocs,
                watch,
                asn,
            })
        } else {
            None
        };
        Ok(Detector {
            engine: loaded.engine,
            rules_loaded: loaded.rules_loaded,
            rule_errors: loaded.errors,
            analytics,
            fingerprint: stormwatch_serve::fingerprint(&parts),
        })
    }

    fn factory(self, c: &Config) -> stormwatch_serve::DetectorFactory {
        let settings = c.detector_config();
        let Detector {
            engine, analytics, ..
        } = self;
        Arc::new(move || {
            let a = analytics.as_ref().map(|p| {
                stormwatch_analytics::Analytics::new(
                    p.config.clone(),
                    p.iocs.clone(),
                    stormwatch_analytics::AppCatalog::builtin(),
                    p.asn.clone(),
                    p.watch.clone(),
                )
            });
            stormwatch_detect::Detector::new(engine.clone(), a, settings.clone())
        })
    }
}

/// `--check-config`: what would run.
fn check(c: &Config, d: &Detector) -> anyhow::Result<ExitCode> {
    println!("configuration: ok");
    println!("data_dir: {}", c.data_dir.display());
    println!(
        "listen: {}{}",
        c.listen,
        if c.listen.ip().is_loopback() {
            ""
        } else {
            " (not loopback: reachable from the network)"
        }
    );
    println!(
        "rules: {} loaded{}",
        d.rules_loaded,
        if d.rule_errors.is_empty() {
            String::new()
        } else {
            format!(", {} not loaded", d.rule_errors.len())
        }
    );
    for e in &d.rule_errors {
        println!("  {e}");
    }
    println!(
        "analytics: {}",
        if d.analytics.is_some() { "on" } else { "off" }
    );
    println!(
        "lateness: {}, sign-in grace: {}",
        humanise(c.detect.lateness),
        humanise(c.detect.sign_in_grace)
    );
    for w in &c.watch {
        println!("watch: {} (source {})", w.path.display(), w.source);
    }
    for s in &c.sinks {
        println!(
            "sink: {} ({}, level {} and above)",
            s.common().name,
            s.kind(),
            s.common().min_level
        );
    }
    // The detector builds with these rules and settings.
    let settings = c.detector_config();
    stormwatch_detect::Detector::new(d.engine.clone(), None, settings)
        .context("building the detector")?;
    Ok(Exit::Ok.into())
}

fn humanise(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

fn offline(cmd: ServeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ServeCommand::Tokens { action } => match action {
            TokenAction::Add {
                name,
                role,
                data_dir,
            } => {
                let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
                let token = stormwatch_serve::add_token(&data_dir, &name, role)?;
                println!("{token}");
                eprintln!("token {name:?} ({role}) added; it is shown once");
            }
            TokenAction::List { data_dir } => {
                for t in stormwatch_serve::tokens(&data_dir)? {
                    println!(
                        "{}\t{}\tcreated {}\tlast used {}",
                        t.name,
                        t.role,
                        t.created_at,
                        t.last_used_at
                            .map_or_else(|| "never".to_owned(), |t| t.to_string())
                    );
                }
            }
            TokenAction::Remove { name, data_dir } => {
                if !stormwatch_serve::remove_token(&data_dir, &name)? {
                    anyhow::bail!("no token named {name:?}");
                }
                eprintln!("token {name:?} removed");
            }
        },
        ServeCommand::Users { action } => users(action)?,
        ServeCommand::DeadLetters { action } => match action {
            DeadLetterAction::List { sink, data_dir } => {
                for d in stormwatch_serve::dead_letters(&data_dir, sink.as_deref())? {
                    println!("{}", serde_json::to_string(&d)?);
                }
            }
            DeadLetterAction::Replay { sink, data_dir } => {
                let n = stormwatch_serve::replay_dead_letters(&data_dir, sink.as_deref())?;
                eprintln!(
                    "{n} dead letter{} back in the outbox",
                    if n == 1 { "" } else { "s" }
                );
            }
        },
    }
    Ok(Exit::Ok.into())
}

fn users(action: UserAction) -> anyhow::Result<()> {
    match action {
        UserAction::Add {
            name,
            role,
            generate,
            data_dir,
        } => {
            let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let password = if generate {
                stormwatch_serve::generate_password()?
            } else {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the password from standard input")?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            };
            stormwatch_serve::add_user(&data_dir, &name, role, &password)?;
            if generate {
                println!("{password}");
            }
            eprintln!(
                "user {name:?} ({role}) added{}",
                if generate {
                    "; the password is shown once"
                } else {
                    ""
                }
            );
        }
        UserAction::List { data_dir } => {
            for u in stormwatch_serve::users(&data_dir)? {
                println!(
                    "{}\t{}\tcreated {}\tlast login {}",
                    u.name,
                    u.role,
                    u.created_at,
                    u.last_login_at
                        .map_or_else(|| "never".to_owned(), |t| t.to_string())
                );
            }
        }
        UserAction::Remove { name, data_dir } => {
            if !stormwatch_serve::remove_user(&data_dir, &name)? {
                anyhow::bail!("no user named {name:?}");
            }
            eprintln!("user {name:?} removed; their sessions ended");
        }
    }
    Ok(())
}
