//! The service's configuration: the TOML file (`stormwatch serve --config FILE`) as written,
//! and the validated form the service runs with. Every key is optional; `docs/serve.md`
//! documents each one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use stormwatch_core::Level;
use stormwatch_read::InputFormat;

use crate::ServeError;
use crate::units::{Size, Span};

/// The default listening address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8514";

// ---------------------------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    #[serde(default)]
    ingest: RawIngest,
    #[serde(default)]
    watch: Vec<RawWatch>,
    #[serde(default)]
    detect: RawDetect,
    analytics: Option<toml::Table>,
    #[serde(default)]
    retention: RawRetention,
    #[serde(default)]
    sinks: Vec<RawSink>,
    #[serde(default)]
    log: RawLog,
    tls: Option<RawTls>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIngest {
    max_body: Option<Size>,
    max_decompressed: Option<Size>,
    max_pending_records: Option<u64>,
    retry_after: Option<Span>,
    dedup_window: Option<Span>,
    body_timeout: Option<Span>,
    header_timeout: Option<Span>,
    max_connections: Option<usize>,
    max_errors_reported: Option<usize>,
    format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    path: PathBuf,
    source: Option<String>,
    recursive: Option<bool>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    poll_interval: Option<Span>,
    settle: Option<Span>,
    format: Option<String>,
    max_whole_file: Option<Size>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetect {
    rules: Option<Vec<PathBuf>>,
    default_rules: Option<bool>,
    builtin: Option<bool>,
    ignore_logsource: Option<bool>,
    ioc: Option<Vec<PathBuf>>,
    watchlist: Option<PathBuf>,
    asn_db: Option<PathBuf>,
    lateness: Option<Span>,
    sign_in_grace: Option<Span>,
    horizon: Option<Span>,
    speculate: Option<bool>,
    max_clock_skew: Option<Span>,
    clock_advance_after: Option<Span>,
    checkpoint_interval: Option<Span>,
    min_decide_interval: Option<Span>,
    decide_share: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    alerts: Option<Span>,
    records: Option<Span>,
    interval: Option<Span>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: Option<String>,
    level: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum RawSink {
    Webhook(RawWebhook),
    Syslog(RawSyslog),
    File(RawFile),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommon {
    name: Option<String>,
    min_level: Option<String>,
    withdrawals: Option<bool>,
    max_attempts: Option<u32>,
    backoff_initial: Option<Span>,
    backoff_max: Option<Span>,
    timeout: Option<Span>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    name: Option<String>,
    min_level: Option<String>,
    withdrawals: Option<bool>,
    max_attempts: Option<u32>,
    backoff_initial: Option<Span>,
    backoff_max: Option<Span>,
    timeout: Option<Span>,
    url: String,
    secret: Option<String>,
    secret_file: Option<PathBuf>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSyslog {
    name: Option<String>,
    min_level: Option<String>,
    withdrawals: Option<bool>,
    max_attempts: Option<u32>,
    backoff_initial: Option<Span>,
    backoff_max: Option<Span>,
    timeout: Option<Span>,
    address: String,
    transport: Option<String>,
    framing: Option<String>,
    facility: Option<String>,
    app_name: Option<String>,
    hostname: Option<String>,
    max_message: Option<Size>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Option<String>,
    min_level: Option<String>,
    withdrawals: Option<bool>,
    max_attempts: Option<u32>,
    backoff_initial: Option<Span>,
    backoff_max: Option<Span>,
    timeout: Option<Span>,
    path: PathBuf,
    fsync: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// The validated form.

/// The service's configuration, validated. Build it with [`Config::load`],
/// [`Config::from_toml`] or [`Config::default_for`]; the command line may then change fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the store, the admin token and everything else the service keeps live.
    pub data_dir: PathBuf,
    /// Address to listen on (loopback by default).
    pub listen: SocketAddr,
    /// HTTP ingest.
    pub ingest: IngestConfig,
    /// Watched folders.
    pub watch: Vec<WatchConfig>,
    /// Detection.
    pub detect: DetectConfig,
    /// The analytics' settings as TOML (the `[analytics]` table; the schema of
    /// `stormwatch analytics list`), when given.
    pub analytics: Option<String>,
    /// Retention.
    pub retention: RetentionConfig,
    /// Alert sinks.
    pub sinks: Vec<SinkConfig>,
    /// Logging.
    pub log: LogConfig,
    /// TLS for the listener (`[tls]`: `cert` and `key`, PEM files), when set.
    pub tls: Option<TlsConfig>,
}

/// TLS from certificate and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain (PEM), the server's certificate first.
    pub cert: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// HTTP ingest settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// Largest request body as sent (compressed or not). 32 MiB.
    pub max_body: u64,
    /// Largest body once decompressed. 256 MiB.
    pub max_decompressed: u64,
    /// Records accepted but not yet through the detector beyond which ingest answers 429.
    /// 2,000,000.
    pub max_pending_records: u64,
    /// The `Retry-After` of a 429. 5 s.
    pub retry_after: Duration,
    /// How long record ids are kept to recognise records sent again. 14 days.
    pub dedup_window: Duration,
    /// Time allowed to receive a whole body. 60 s.
    pub body_timeout: Duration,
    /// Time allowed to receive a request's headers. 10 s.
    pub header_timeout: Duration,
    /// Connections served at once; more wait to be accepted. 512.
    pub max_connections: usize,
    /// Record errors listed in an answer (all are counted). 100.
    pub max_errors_reported: usize,
    /// A forced input format for every body (else detected per body and per record).
    pub format: Option<InputFormat>,
}

/// One watched folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchConfig {
    /// The folder.
    pub path: PathBuf,
    /// The source name its records are counted under (the folder by default).
    pub source: String,
    /// Look into sub-folders. On by default.
    pub recursive: bool,
    /// File name patterns to read (`*` and `?`); empty: the reader's log extensions.
    pub include: Vec<String>,
    /// File name patterns to leave alone.
    pub exclude: Vec<String>,
    /// How often the folder is looked at. 1 s.
    pub poll_interval: Duration,
    /// A compressed or non-line file is read once unchanged this long. 5 s.
    pub settle: Duration,
    /// A forced input format.
    pub format: Option<InputFormat>,
    /// Largest compressed or non-line file read (whole). 1 GiB.
    pub max_whole_file: u64,
}

/// Detection settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectConfig {
    /// Sigma rule files or folders, added to the bundled ones.
    pub rules: Vec<PathBuf>,
    /// Load the bundled rules. On by default.
    pub default_rules: bool,
    /// Run the built-in analytics. On by default.
    pub builtin: bool,
    /// Offer every record to every rule whatever its log source.
    pub ignore_logsource: bool,
    /// Indicator files (CSV or STIX 2.1), added to the built-in Storm-0558 indicators.
    pub ioc: Vec<PathBuf>,
    /// Watch-listed mailboxes, one per line.
    pub watchlist: Option<PathBuf>,
    /// IP → ASN data.
    pub asn_db: Option<PathBuf>,
    /// How late a record may be and still be decided as if in order. 12 h.
    pub lateness: Duration,
    /// How long the analytics wait for late sign-ins. 2 h.
    pub sign_in_grace: Duration,
    /// History kept behind the watermark. 30 days.
    pub horizon: Duration,
    /// Raise correlations before they settle. On by default.
    pub speculate: bool,
    /// How far ahead of the server's clock the watermark may go. 5 min.
    pub max_clock_skew: Duration,
    /// With no record for this long, the watermark moves to the server's clock (`None`: it
    /// moves only with records). 30 min.
    pub clock_advance_after: Option<Duration>,
    /// How often the detector's state is checkpointed. 60 s.
    pub checkpoint_interval: Duration,
    /// The least wall-clock time between two decisions of the analytics (each reads their
    /// whole state): a backlog of days is then decided in a few steps, not one per hour of
    /// event time. 2 s; 0 decides every hour of event time as soon as it may.
    pub min_decide_interval: Duration,
    /// The largest share of the detector thread's time the analytics' decisions may take
    /// while event time runs faster than the clock (a backlog). 0.2; 0 sets no bound.
    pub decide_share: f32,
}

/// Retention settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Alerts and incidents not changed for this long are removed (`None`: kept). 365 days.
    pub alerts: Option<Duration>,
    /// Ingested records (the journal) older than this are removed once checkpointed
    /// (`None`: kept). 30 days.
    pub records: Option<Duration>,
    /// How often retention runs. 1 h.
    pub interval: Duration,
}

/// Settings every sink has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkCommon {
    /// Its name (metrics, dead letters).
    pub name: String,
    /// Lowest level sent. `medium`.
    pub min_level: Level,
    /// Send withdrawals of alerts sent before. On by default.
    pub withdrawals: bool,
    /// Attempts before a message is dead-lettered. 12.
    pub max_attempts: u32,
    /// First retry delay (doubling). 1 s.
    pub backoff_initial: Duration,
    /// Longest retry delay. 5 min.
    pub backoff_max: Duration,
    /// Time allowed for one delivery. 10 s.
    pub timeout: Duration,
}

/// One alert sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    /// HTTP POST of JSON, signed.
    Webhook {
        /// Common settings.
        common: SinkCommon,
        /// Where to post.
        url: String,
        /// The HMAC-SHA256 key.
        secret: String,
        /// Extra headers.
        headers: BTreeMap<String, String>,
    },
    /// RFC 5424 syslog.
    Syslog {
        /// Common settings.
        common: SinkCommon,
        /// `host:port`.
        address: String,
        /// TCP (reliable) or UDP.
        tcp: bool,
        /// On TCP: octet counting (RFC 6587) or a newline after each message.
        octet_counting: bool,
        /// The facility number (0–23).
        facility: u8,
        /// APP-NAME.
        app_name: String,
        /// HOSTNAME.
        hostname: String,
        /// Largest message (longer explanations are cut). 8 KiB.
        max_message: usize,
    },
    /// JSON lines appended to a file.
    File {
        /// Common settings.
        common: SinkCommon,
        /// The file.
        path: PathBuf,
        /// Sync the file after each write.
        fsync: bool,
    },
}

impl SinkConfig {
    /// Its common settings.
    #[must_use]
    pub fn common(&self) -> &SinkCommon {
        match self {
            SinkConfig::Webhook { common, .. }
            | SinkConfig::Syslog { common, .. }
            | SinkConfig::File { common, .. } => common,
        }
    }

    /// `webhook`, `syslog` or `file`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Webhook { .. } => "webhook",
            SinkConfig::Syslog { .. } => "syslog",
            SinkConfig::File { .. } => "file",
        }
    }
}

/// Log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// One JSON object per line instead of text.
    pub json: bool,
    /// A `tracing` filter (`info`, `stormwatch_serve=debug`, …).
    pub level: String,
}

// ---------------------------------------------------------------------------------------------

fn value_err(key: impl Into<String>, message: impl Into<String>) -> ServeError {
    ServeError::ConfigValue {
        key: key.into(),
        message: message.into(),
    }
}

fn level(key: &str, s: Option<&str>, default: Level) -> Result<Level, ServeError> {
    match s {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| {
            value_err(
                key,
                format!("{s:?} is not a level (informational, low, medium, high, critical)"),
            )
        }),
    }
}

fn format(key: &str, s: Option<&str>) -> Result<Option<InputFormat>, ServeError> {
    match s {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|e: stormwatch_read::ReadError| value_err(key, e.to_string())),
    }
}

fn positive(key: &str, d: Duration) -> Result<Duration, ServeError> {
    if d.is_zero() {
        Err(value_err(key, "must be more than 0"))
    } else {
        Ok(d)
    }
}

fn span(v: Option<Span>, default: Duration) -> Duration {
    v.map_or(default, |s| s.0)
}

/// `0` turns a duration off.
fn optional_span(v: Option<Span>, default: Option<Duration>) -> Option<Duration> {
    match v {
        None => default,
        Some(Span(d)) if d.is_zero() => None,
        Some(Span(d)) => Some(d),
    }
}

/// A name usable as a metric label and in file names.
fn valid_name(key: &str, name: &str) -> Result<(), ServeError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(value_err(
            key,
            format!("{name:?}: names are 1 to 64 letters, digits, '-', '_' or '.'"),
        ));
    }
    Ok(())
}

fn facility(key: &str, s: Option<&str>) -> Result<u8, ServeError> {
    const NAMES: [&str; 24] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
        "authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2",
        "local3", "local4", "local5", "local6", "local7",
    ];
    let Some(s) = s else { return Ok(16) };
    if let Ok(n) = s.parse::<u8>()
        && n < 24
    {
        return Ok(n);
    }
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(s))
        .and_then(|p| u8::try_from(p).ok())
        .ok_or_else(|| {
            value_err(
                key,
                format!("{s:?} is not a syslog facility (local0 … local7, 0–23)"),
            )
        })
}

/// The machine's host name, for syslog.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

impl Config {
    /// The defaults, with the data kept in `data_dir`.
    #[must_use]
    pub fn default_for(data_dir: PathBuf) -> Config {
        // The defaults are the empty file's: validation cannot fail on them.
        match Config::from_raw(RawConfig::default(), Path::new(".")) {
            Ok(mut c) => {
                c.data_dir = data_dir;
                c
            }
            Err(_) => unreachable_defaults(data_dir),
        }
    }

    /// Read and validate a configuration file. Relative paths in it are taken from the
    /// file's folder.
    ///
    /// # Errors
    /// The file cannot be read, is not valid TOML, has unknown keys, or a value is wrong.
    pub fn load(path: &Path) -> Result<Config, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServeError::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_toml_at(&text, path, base)
    }

    /// Validate configuration text; relative paths are taken from the current folder.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_toml(text: &str) -> Result<Config, ServeError> {
        Config::from_toml_at(text, Path::new("-"), Path::new("."))
    }

    fn from_toml_at(text: &str, path: &Path, base: &Path) -> Result<Config, ServeError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ServeError::ConfigParse {
            path: path.to_owned(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        Config::from_raw(raw, base)
    }

    #[allow(clippy::too_many_lines)]
    fn from_raw(raw: RawConfig, base: &Path) -> Result<Config, ServeError> {
        let at = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            value_err(
                "listen",
                format!("{listen_text:?} is not an address such as 127.0.0.1:8514"),
            )
        })?;
        let i = raw.ingest;
        let ingest = IngestConfig {
            max_body: i.max_body.map_or(32 << 20, |s| s.0),
            max_decompressed: i.max_decompressed.map_or(256 << 20, |s| s.0),
            max_pending_records: i.max_pending_records.unwrap_or(2_000_000),
            retry_after: span(i.retry_after, Duration::from_secs(5)),
            dedup_window: span(i.dedup_window, Duration::from_secs(14 * 86_400)),
            body_timeout: positive(
                "ingest.body_timeout",
                span(i.body_timeout, Duration::from_secs(60)),
            )?,
            header_timeout: positive(
                "ingest.header_timeout",
                span(i.header_timeout, Duration::from_secs(10)),
            )?,
            max_connections: i.max_connections.unwrap_or(512),
            max_errors_reported: i.max_errors_reported.unwrap_or(100),
            format: format("ingest.format", i.format.as_deref())?,
        };
        if ingest.max_body == 0 {
            return Err(value_err("ingest.max_body", "must be more than 0"));
        }
        if ingest.max_decompressed < ingest.max_body {
            return Err(value_err(
                "ingest.max_decompressed",
                "must be at least ingest.max_body",
            ));
        }
        if ingest.max_connections == 0 {
            return Err(value_err("ingest.max_connections", "must be more than 0"));
        }
        if ingest.max_pending_records == 0 {
            return Err(value_err(
                "ingest.max_pending_records",
                "must be more than 0",
            ));
        }
        let mut watch = Vec::new();
        for (n, w) in raw.watch.into_iter().enumerate() {
            let key = |k: &str| format!("watch[{n}].{k}");
            let path = at(w.path);
            let source = match w.source {
                Some(s) => s,
                None => format!(
                    "dir-{}",
                    path.file_name()
                        .map_or_else(|| n.to_string(), |f| f.to_string_lossy().into_owned())
                ),
            };
            let source: String = source
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            valid_name(&key("source"), &source)?;
            watch.push(WatchConfig {
                path,
                source,
                recursive: w.recursive.unwrap_or(true),
                include: w.include.unwrap_or_default(),
                exclude: w.exclude.unwrap_or_default(),
                poll_interval: positive(
                    &key("poll_interval"),
                    span(w.poll_interval, Duration::from_secs(1)),
                )?,
                settle: span(w.settle, Duration::from_secs(5)),
                format: format(&key("format"), w.format.as_deref())?,
                max_whole_file: w.max_whole_file.map_or(1 << 30, |s| s.0),
            });
        }
        let d = raw.detect;
        let detect = DetectConfig {
            rules: d.rules.unwrap_or_default().into_iter().map(at).collect(),
            default_rules: d.default_rules.unwrap_or(true),
            builtin: d.builtin.unwrap_or(true),
            ignore_logsource: d.ignore_logsource.unwrap_or(false),
            ioc: d.ioc.unwrap_or_default().into_iter().map(at).collect(),
            watchlist: d.watchlist.map(at),
            asn_db: d.asn_db.map(at),
            lateness: span(d.lateness, Duration::from_secs(12 * 3600)),
            sign_in_grace: span(d.sign_in_grace, Duration::from_secs(2 * 3600)),
            horizon: positive(
                "detect.horizon",
                span(d.horizon, Duration::from_secs(30 * 86_400)),
            )?,
            speculate: d.speculate.unwrap_or(true),
            max_clock_skew: span(d.max_clock_skew, Duration::from_secs(300)),
            clock_advance_after: optional_span(
                d.clock_advance_after,
                Some(Duration::from_secs(1800)),
            ),
            checkpoint_interval: positive(
                "detect.checkpoint_interval",
                span(d.checkpoint_interval, Duration::from_secs(60)),
            )?,
            min_decide_interval: span(d.min_decide_interval, Duration::from_secs(2)),
            decide_share: match d.decide_share {
                None => 0.2,
                Some(x) if (0.0..1.0).contains(&x) => {
                    #[allow(clippy::cast_possible_truncation)]
                    let x = x as f32;
                    x
                }
                Some(x) => {
                    return Err(value_err(
                        "detect.decide_share",
                        format!("{x}: expected a share from 0 up to (not including) 1"),
                    ));
                }
            },
        };
        let analytics = match raw.analytics {
            None => None,
            Some(t) => {
                let text =
                    toml::to_string(&t).map_err(|e| value_err("analytics", e.to_string()))?;
                stormwatch_analytics::AnalyticsConfig::from_toml_str(&text)
                    .map_err(|e| value_err("analytics", e.to_string()))?;
                Some(text)
            }
        };
        let r = raw.retention;
        let retention = RetentionConfig {
            alerts: optional_span(r.alerts, Some(Duration::from_secs(365 * 86_400))),
            records: optional_span(r.records, Some(Duration::from_secs(30 * 86_400))),
            interval: positive(
                "retention.interval",
                span(r.interval, Duration::from_secs(3600)),
            )?,
        };
        let mut sinks = Vec::new();
        for (n, s) in raw.sinks.into_iter().enumerate() {
            let sink = sink(n, s, &at)?;
            if sinks
                .iter()
                .any(|o: &SinkConfig| o.common().name == sink.common().name)
            {
                return Err(value_err(
                    format!("sinks[{n}].name"),
                    format!("{:?} is the name of another sink", sink.common().name),
                ));
            }
            sinks.push(sink);
        }
        let log = LogConfig {
            json: match raw.log.format.as_deref() {
                None | Some("text") => false,
                Some("json") => true,
                Some(other) => {
                    return Err(value_err(
                        "log.format",
                        format!("{other:?}: expected text or json"),
                    ));
                }
            },
            level: raw.log.level.unwrap_or_else(|| "info".to_owned()),
        };
        Ok(Config {
            data_dir: raw
                .data_dir
                .map_or_else(|| PathBuf::from("stormwatch-data"), at),
            listen,
            ingest,
            watch,
            detect,
            analytics,
            retention,
            sinks,
            log,
            tls: raw.tls.map(|t| TlsConfig {
                cert: at(t.cert),
                key: at(t.key),
            }),
        })
    }

    /// The detector's time settings.
    #[must_use]
    pub fn detector_config(&self) -> stormwatch_detect::DetectorConfig {
        stormwatch_detect::DetectorConfig {
            lateness: self.detect.lateness,
            sign_in_grace: self.detect.sign_in_grace,
            horizon: self.detect.horizon,
            speculate: self.detect.speculate,
            min_decide_interval: self.detect.min_decide_interval,
            decide_share: self.detect.decide_share,
            // Records pushed while the analytics decide are matched and raised meanwhile.
            // Where they come from then depends on the clock, as it does already when
            // decisions are spaced by it; with neither bound, decisions depend on the
            // records alone and the detector waits for each.
            background_decisions: !self.detect.min_decide_interval.is_zero()
                || self.detect.decide_share > 0.0,
        }
    }
}

fn common(n: usize, kind: &str, c: RawCommon) -> Result<SinkCommon, ServeError> {
    let key = |k: &str| format!("sinks[{n}].{k}");
    let name = c.name.unwrap_or_else(|| {
        if n == 0 {
            kind.to_owned()
        } else {
            format!("{kind}-{n}")
        }
    });
    valid_name(&key("name"), &name)?;
    let backoff_initial = positive(
        &key("backoff_initial"),
        span(c.backoff_initial, Duration::from_secs(1)),
    )?;
    let backoff_max = span(c.backoff_max, Duration::from_secs(300)).max(backoff_initial);
    Ok(SinkCommon {
        name,
        min_level: level(&key("min_level"), c.min_level.as_deref(), Level::Medium)?,
        withdrawals: c.withdrawals.unwrap_or(true),
        max_attempts: c.max_attempts.unwrap_or(12).max(1),
        backoff_initial,
        backoff_max,
        timeout: positive(&key("timeout"), span(c.timeout, Duration::from_secs(10)))?,
    })
}

fn sink(n: usize, s: RawSink, at: &dyn Fn(PathBuf) -> PathBuf) -> Result<SinkConfig, ServeError> {
    let key = |k: &str| format!("sinks[{n}].{k}");
    Ok(match s {
        RawSink::Webhook(w) => {
            let common = common(
                n,
                "webhook",
                RawCommon {
                    name: w.name,
                    min_level: w.min_level,
                    withdrawals: w.withdrawals,
                    max_attempts: w.max_attempts,
                    backoff_initial: w.backoff_initial,
                    backoff_max: w.backoff_max,
                    timeout: w.timeout,
                },
            )?;
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                return Err(value_err(
                    key("url"),
                    format!("{:?} is not an http(s) URL", w.url),
                ));
            }
            let secret = match (w.secret, w.secret_file) {
                (Some(s), None) => s,
                (None, Some(f)) => {
                    let f = at(f);
                    std::fs::read_to_string(&f)
                        .map_err(|e| {
                            value_err(key("secret_file"), format!("{}: {e}", f.display()))
                        })?
                        .trim()
                        .to_owned()
                }
                (Some(_), Some(_)) => {
                    return Err(value_err(
                        key("secret"),
                        "give secret or secret_file, not both",
                    ));
                }
                (None, None) => {
                    return Err(value_err(
                        key("secret"),
                        "a webhook needs a secret (or secret_file) to sign its bodies with",
                    ));
                }
            };
            if secret.len() < 16 {
                return Err(value_err(key("secret"), "use at least 16 characters"));
            }
            let headers = w.headers.unwrap_or_default();
            for h in headers.keys() {
                if h.is_empty()
                    || !h
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
                {
                    return Err(value_err(
                        key("headers"),
                        format!("{h:?} is not a header name"),
                    ));
                }
            }
            SinkConfig::Webhook {
                common,
                url: w.url,
                secret,
                headers,
            }
        }
        RawSink::Syslog(s) => {
            let common = common(
                n,
                "syslog",
                RawCommon {
                    name: s.name,
                    min_level: s.min_level,
                    withdrawals: s.withdrawals,
                    max_attempts: s.max_attempts,
                    backoff_initial: s.backoff_initial,
                    backoff_max: s.backoff_max,
                    timeout: s.timeout,
                },
            )?;
            let tcp = match s.transport.as_deref() {
                None | Some("tcp") => true,
                Some("udp") => false,
                Some(o) => return Err(value_err(key("transport"), format!("{o:?}: tcp or udp"))),
            };
            let octet_counting = match s.framing.as_deref() {
                None | Some("octet-counting") => true,
                Some("newline") => false,
                Some(o) => {
                    return Err(value_err(
                        key("framing"),
                        format!("{o:?}: octet-counting or newline"),
                    ));
                }
            };
            if !s.address.contains(':') {
                return Err(value_err(
                    key("address"),
                    format!("{:?}: expected host:port", s.address),
                ));
            }
            SinkConfig::Syslog {
                common,
                address: s.address,
                tcp,
                octet_counting,
                facility: facility(&key("facility"), s.facility.as_deref())?,
                app_name: s.app_name.unwrap_or_else(|| "stormwatch".to_owned()),
                hostname: s.hostname.unwrap_or_else(host_name),
                max_message: usize::try_from(s.max_message.map_or(8192, |m| m.0))
                    .unwrap_or(usize::MAX)
                    .max(480),
            }
        }
        RawSink::File(f) => SinkConfig::File {
            common: common(
                n,
                "file",
                RawCommon {
                    name: f.name,
                    min_level: f.min_level,
                    withdrawals: f.withdrawals,
                    max_attempts: f.max_attempts,
                    backoff_initial: f.backoff_initial,
                    backoff_max: f.backoff_max,
                    timeout: f.timeout,
                },
            )?,
            path: at(f.path),
            fsync: f.fsync.unwrap_or(true),
        },
    })
}

/// The defaults spelled out, should validating the empty file ever fail.
fn unreachable_defaults(data_dir: PathBuf) -> Config {
    Config {
        data_dir,
        listen: SocketAddr::from(([127, 0, 0, 1], 8514)),
        ingest: IngestConfig {
            max_body: 32 << 20,
            max_decompressed: 256 << 20,
            max_pending_records: 2_000_000,
            retry_after: Duration::from_secs(5),
            dedup_window: Duration::from_secs(14 * 86_400),
            body_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_errors_reported: 100,
            format: None,
        },
        watch: Vec::new(),
        detect: DetectConfig {
            rules: Vec::new(),
            default_rules: true,
            builtin: true,
            ignore_logsource: false,
            ioc: Vec::new(),
            watchlist: None,
            asn_db: None,
            lateness: Duration::from_secs(12 * 3600),
            sign_in_grace: Duration::from_secs(2 * 3600),
            horizon: Duration::from_secs(30 * 86_400),
            speculate: true,
            max_clock_skew: Duration::from_secs(300),
            clock_advance_after: Some(Duration::from_secs(1800)),
            checkpoint_interval: Duration::from_secs(60),
            min_decide_interval: Duration::from_secs(2),
            decide_share: 0.2,
        },
        analytics: None,
        retention: RetentionConfig {
            alerts: Some(Duration::from_secs(365 * 86_400)),
            records: Some(Duration::from_secs(30 * 86_400)),
            interval: Duration::from_secs(3600),
        },
        sinks: Vec::new(),
        log: LogConfig {
            json: false,
            level: "info".to_owned(),
        },
        tls: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn empty_file_gives_the_documented_defaults() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert!(c.listen.ip().is_loopback());
        assert_eq!(c.ingest.max_body, 32 << 20);
        assert!(c.detect.lateness >= Duration::from_secs(12 * 3600));
        assert_eq!(c.detect.sign_in_grace, Duration::from_secs(7200));
        assert!(c.detect.default_rules && c.detect.builtin);
        assert!(c.sinks.is_empty() && c.watch.is_empty());
        assert!((c.detect.decide_share - 0.2).abs() < f32::EPSILON);
        let none = Config::from_toml("[detect]\ndecide_share = 0").unwrap();
        assert!(none.detect.decide_share.abs() < f32::EPSILON);
        let d = Config::default_for(PathBuf::from("/x"));
        assert_eq!(d.data_dir, PathBuf::from("/x"));
        assert_eq!(d.ingest, unreachable_defaults(PathBuf::new()).ingest);
        assert_eq!(d.detect, unreachable_defaults(PathBuf::new()).detect);
        assert_eq!(d.retention, unreachable_defaults(PathBuf::new()).retention);
    }

    #[test]
    fn a_full_file() {
        let c = Config::from_toml(
            r#"
            data_dir = "/var/lib/stormwatch"
            listen = "127.0.0.1:9000"
            [ingest]
            max_body = "8MiB"
            max_decompressed = "64MiB"
            dedup_window = "7d"
            format = "ual"
            [[watch]]
            path = "/srv/exports"
            source = "exports"
            include = ["*.ndjson", "*.json.gz"]
            [detect]
            lateness = "24h"
            clock_advance_after = "0"
            decide_share = 0.5
            rules = ["extra"]
            [analytics]
            [retention]
            records = "7d"
            alerts = "0"
            [[sinks]]
            type = "webhook"
            url = "https://soc.example/hook"
            secret = "0123456789abcdef"
            min_level = "high"
            [[sinks]]
            type = "syslog"
            address = "127.0.0.1:514"
            transport = "udp"
            facility = "local3"
            [[sinks]]
            type = "file"
            path = "alerts.jsonl"
            "#,
        )
        .unwrap();
        assert_eq!(c.ingest.max_body, 8 << 20);
        assert_eq!(c.ingest.format, Some(InputFormat::Ual));
        assert_eq!(c.watch[0].source, "exports");
        assert_eq!(c.detect.lateness, Duration::from_secs(86400));
        assert_eq!(c.detect.clock_advance_after, None);
        assert!((c.detector_config().decide_share - 0.5).abs() < f32::EPSILON);
        assert_eq!(c.detect.rules, [PathBuf::from("./extra")]);
        assert_eq!(c.retention.alerts, None);
        assert_eq!(c.sinks.len(), 3);
        assert_eq!(c.sinks[0].common().name, "webhook");
        assert_eq!(c.sinks[0].common().min_level, Level::High);
        assert_eq!(c.sinks[1].common().name, "syslog-1");
        assert!(matches!(
            c.sinks[1],
            SinkConfig::Syslog {
                tcp: false,
                facility: 19,
                ..
            }
        ));
        assert!(
            matches!(&c.sinks[2], SinkConfig::File { path, .. } if path == Path::new("./alerts.jsonl"))
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = |t: &str| Config::from_toml(t).unwrap_err().to_string();
        assert!(e("listen = \"everywhere\"").contains("listen"));
        assert!(e("[ingest]\nmax_bdy = 3").contains("max_bdy"));
        assert!(e("[detect]\nlateness = \"soon\"").contains("soon"));
        assert!(e("[[sinks]]\ntype = \"webhook\"\nurl = \"https://x\"").contains("secret"));
        assert!(
            e("[[sinks]]\ntype = \"webhook\"\nurl = \"https://x\"\nsecret = \"0123456789abcdef\"\nsecrett = 1")
                .contains("secrett")
        );
        assert!(e("[[sinks]]\ntype = \"pager\"").contains("pager"));
        assert!(e("[[sinks]]\ntype = \"file\"\npath = \"a\"\n[[sinks]]\ntype = \"file\"\npath = \"b\"\nname = \"file\"").contains("another sink"));
        assert!(e("[analytics]\nno_such_setting = 1").contains("analytics"));
        assert!(e("[ingest]\nmax_body = \"1GiB\"").contains("max_decompressed"));
        assert!(e("[detect]\ndecide_share = 1.5").contains("detect.decide_share"));
    }
}
