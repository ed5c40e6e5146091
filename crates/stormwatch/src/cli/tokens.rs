//! `stormwatch tokens`: verify JWTs against signing keys with their scope, keep the key
//! registry, and scan logs and captures for tokens.

use std::io::{BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use stormwatch_core::Timestamp;
use stormwatch_tokens::scan::{self, Finding, ScanOptions, ScanStats};
use stormwatch_tokens::{
    ImportOptions, KeyRecord, Registry, TenantClass, ValidityFrom, VerdictKind, VerifyOptions,
};

use crate::exit::Exit;

/// Arguments of `stormwatch tokens`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  stormwatch tokens verify eyJhbGciOi...
  stormwatch tokens verify --registry keys.json --audience https://outlook.office365.com @token.txt
  stormwatch tokens keys import --registry keys.json --source common-2023-06 jwks.json
  stormwatch tokens keys list --registry keys.json
  stormwatch tokens scan --registry keys.json proxy.log.gz capture.har")]
pub(crate) struct TokensArgs {
    #[command(subcommand)]
    command: TokensCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TokensCommand {
    /// Verify one token and explain every check; exit 1 when it is not valid.
    Verify(VerifyArgs),
    /// Manage the key registry (import JWKS and OpenID metadata; list and show keys).
    Keys(KeysArgs),
    /// Find tokens in logs, HAR files and proxy captures and verify each at its record's time.
    Scan(ScanArgs),
}

/// Keys and judgement options shared by `verify` and `scan`.
#[derive(Debug, clap::Args)]
struct KeySource {
    /// JWKS file whose keys are added for this run (repeatable); per-key `issuer` is kept.
    #[arg(long = "keys", value_name = "JWKS_FILE")]
    keys: Vec<PathBuf>,

    /// Key registry file (from `tokens keys import`); default: the built-in Storm-0558 key only.
    #[arg(long, value_name = "FILE")]
    registry: Option<PathBuf>,

    /// Treat key KID as revoked from TIME on (repeatable), e.g. `1LTMzakihiRla_8z2BEJVXeWMqo@2023-06-29`.
    #[arg(long, value_name = "KID@TS")]
    revoked: Vec<String>,

    /// Expected audience (repeatable); without it `aud` is shown but not compared.
    #[arg(long, value_name = "AUD")]
    audience: Vec<String>,

    /// Expected tenant id (repeatable); without it only the form of `tid` is checked.
    #[arg(long, value_name = "TID")]
    tenant: Vec<String>,

    /// What is being validated: `id` (an application's own ID token, --audience = its client
    /// id), `access` (a bearer token at a resource API, --audience = the API), or `auto` (tell
    /// from the claims and the audience).
    #[arg(long, default_value = "auto", value_name = "id|access|auto")]
    expect: stormwatch_tokens::Expect,

    /// Allowed clock skew on exp/nbf/iat, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    skew: i64,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 valid, 1 forged/invalid/unknown_key, 2 usage or unreadable input."
)]
struct VerifyArgs {
    #[command(flatten)]
    keys: KeySource,

    /// Judge the token at this time (default: its own iat).
    #[arg(long, value_name = "TS")]
    at: Option<Timestamp>,

    /// Output format.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: VerifyFormat,

    /// The token, `@FILE` to read it from a file, or `-` for standard input.
    #[arg(value_name = "TOKEN|@FILE|-")]
    token: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum VerifyFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Import JWKS documents and OpenID metadata into a registry file (created if missing).
    Import(ImportArgs),
    /// List the keys of a registry.
    List(ListArgs),
    /// Show one key (by kid or x5t) with its history.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "An OpenID metadata document (with `issuer`, no `keys`) sets the issuer scope of the
JWKS files imported with it, unless --issuer is given. Keys of the same --source missing from a
later import are kept and marked removed."
)]
struct ImportArgs {
    /// The registry file to update.
    #[arg(long, value_name = "FILE")]
    registry: PathBuf,

    /// Issuer scope for keys without their own `issuer`, e.g.
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`.
    #[arg(long, value_name = "ISSUER")]
    issuer: Option<String>,

    /// Source label (default: the file name); a later import of the same source is a new snapshot.
    #[arg(long, value_name = "LABEL")]
    source: Option<String>,

    /// Tenant class of the imported keys: consumer, enterprise or any (default: from the scope).
    #[arg(long, value_name = "CLASS")]
    tenant_class: Option<TenantClass>,

    /// When the snapshot was taken (default: now).
    #[arg(long, value_name = "TS")]
    at: Option<Timestamp>,

    /// Revoke key KID at TIME (repeatable), recorded in the registry.
    #[arg(long, value_name = "KID@TS")]
    revoked: Vec<String>,

    /// Start of validity for imported keys that have no `x5c` certificate.
    #[arg(long, value_name = "TS")]
    valid_from: Option<Timestamp>,

    /// End of validity for imported keys that have no `x5c` certificate.
    #[arg(long, value_name = "TS")]
    valid_until: Option<Timestamp>,

    /// JWKS or OpenID metadata files.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Registry file (default: the built-in key only).
    #[arg(long, value_name = "FILE")]
    registry: Option<PathBuf>,

    /// Output format.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: VerifyFormat,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// Registry file (default: the built-in key only).
    #[arg(long, value_name = "FILE")]
    registry: Option<PathBuf>,

    /// Output format.
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: VerifyFormat,

    /// The key's kid or x5t.
    #[arg(value_name = "KID")]
    kid: String,
}

#[derive(Debug, clap::Args)]
struct ScanArgs {
    #[command(flatten)]
    keys: KeySource,

    /// Output format: text (an analyst's list), json (one document) or jsonl (one finding per line).
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    format: ScanFormat,

    /// Report only forged tokens.
    #[arg(long)]
    forged_only: bool,

    /// Print whole tokens (default: the signature is redacted).
    #[arg(long)]
    show_tokens: bool,

    /// Lines back a timestamp may be to count as a token's record time.
    #[arg(long, default_value_t = 200, value_name = "N")]
    context_lines: u64,

    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,

    /// Logs, HAR files, proxy captures: files or directories (recursed), plain, .gz or .zst;
    /// `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ScanFormat {
    Text,
    Json,
    Jsonl,
}

/// Run `stormwatch tokens`.
pub(crate) fn run(args: TokensArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TokensCommand::Verify(a) => verify(a),
        TokensCommand::Keys(k) => match k.command {
            KeysCommand::Import(a) => import(a),
            KeysCommand::List(a) => list(a),
            KeysCommand::Show(a) => show(a),
        },
        TokensCommand::Scan(a) => scan_cmd(a),
    }
}

/// Largest token input read from a file or standard input.
const MAX_TOKEN_INPUT: u64 = 1024 * 1024;

fn load_registry(path: Option<&Path>) -> anyhow::Result<Registry> {
    match path {
        Some(p) => Registry::load(p).context("reading the key registry"),
        None => Ok(Registry::builtin()),
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let bytes = stormwatch_tokens::read_document(path)?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))
}

fn apply_revocations(reg: &mut Registry, revoked: &[String]) -> anyhow::Result<()> {
    for r in revoked {
        let (kid, at) = stormwatch_tokens::parse_revocation(r)?;
        if reg.revoke(&kid, at) == 0 {
            bail!("--revoked {r}: no key with kid or x5t {kid:?} in the registry");
        }
    }
    Ok(())
}

impl KeySource {
    fn registry(&self) -> anyhow::Result<Registry> {
        let mut reg = load_registry(self.registry.as_deref())?;
        for path in &self.keys {
            let mut doc = read_json(path)?;
            if doc.get("kty").is_some() {
                doc = json!({ "keys": [doc] });
            }
            let opts = ImportOptions {
                source: path.display().to_string(),
                issuer: None,
                tenant_class: None,
                at: stormwatch_tokens::now(),
            };
            let summary = reg.import(&doc, &opts)?;
            for s in &summary.skipped {
                warn(&format!("{}: {s}", path.display()));
            }
        }
        apply_revocations(&mut reg, &self.revoked)?;
        Ok(reg)
    }

    fn verify_options(&self) -> VerifyOptions {
        VerifyOptions {
            audiences: self.audience.clone(),
            tenants: self.tenant.clone(),
            skew_seconds: self.skew,
            expect: self.expect,
            ..VerifyOptions::default()
        }
    }
}

fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "stormwatch: warning: {msg}");
}

fn read_token(arg: &str) -> anyhow::Result<String> {
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_TOKEN_INPUT + 1)
            .read_to_string(&mut s)
            .context("reading the token from standard input")?;
        if s.len() as u64 > MAX_TOKEN_INPUT {
            bail!("standard input is larger than {MAX_TOKEN_INPUT} bytes");
        }
        return Ok(s.trim().to_owned());
    }
    if let Some(path) = arg.strip_prefix('@') {
        let f = std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
        let s =
            scan::read_limited(f, MAX_TOKEN_INPUT).with_context(|| format!("reading {path}"))?;
        return Ok(s.trim().to_owned());
    }
    Ok(arg.trim().to_owned())
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let reg = a.keys.registry()?;
    let token = read_token(&a.token)?;
    let mut opts = a.keys.verify_options();
    opts.at = a.at;
    let v = stormwatch_tokens::verify(&token, &reg, &opts);
    let mut out = std::io::stdout().lock();
    match a.format {
        VerifyFormat::Text => out.write_all(v.to_text().as_bytes())?,
        VerifyFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(if v.verdict == VerdictKind::Valid {
        Exit::Ok
    } else {
        Exit::Findings
    }
    .into())
}

fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut reg = if a.registry.exists() {
        Registry::load(&a.registry)?
    } else {
        Registry::builtin()
    };
    let at = a.at.unwrap_or_else(stormwatch_tokens::now);
    let docs: Vec<(PathBuf, Value)> = a
        .files
        .iter()
        .map(|p| read_json(p).map(|v| (p.clone(), v)))
        .collect::<anyhow::Result<_>>()?;
    // Metadata documents first: their issuer scopes the JWKS imported with them.
    let meta_issuer = docs
        .iter()
        .filter(|(_, d)| d.get("keys").is_none())
        .find_map(|(_, d)| d.get("issuer").and_then(Value::as_str).map(str::to_owned));
    let issuer = a.issuer.clone().or(meta_issuer);
    let mut err = std::io::stderr().lock();
    for (path, doc) in &docs {
        let source = a.source.clone().unwrap_or_else(|| {
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        });
        let opts = ImportOptions {
            source,
            issuer: issuer.clone(),
            tenant_class: a.tenant_class,
            at,
        };
        let s = reg
            .import(doc, &opts)
            .with_context(|| format!("importing {}", path.display()))?;
        if a.valid_from.is_some() || a.valid_until.is_some() {
            for k in reg.keys.iter_mut().filter(|k| {
                k.source == opts.source
                    && k.validity_from != Some(ValidityFrom::X5c)
                    && (s.added.contains(&k.kid) || s.seen_again.contains(&k.kid))
            }) {
                k.not_before = a.valid_from.or(k.not_before);
                k.not_after = a.valid_until.or(k.not_after);
                k.validity_from = Some(ValidityFrom::Given);
            }
        }
        if let Some(i) = &s.metadata_issuer {
            writeln!(err, "{}: OpenID metadata, issuer {i}", path.display())?;
            continue;
        }
        writeln!(
            err,
            "{}: {} new, {} seen again, {} removed since the last snapshot of {}, {} skipped",
            path.display(),
            s.added.len(),
            s.seen_again.len(),
            s.removed.len(),
            opts.source,
            s.skipped.len()
        )?;
        for k in &s.skipped {
            writeln!(err, "  skipped {k}")?;
        }
    }
    apply_revocations(&mut reg, &a.revoked)?;
    reg.save(&a.registry)?;
    writeln!(err, "{}: {} keys", a.registry.display(), reg.keys.len())?;
    Ok(Exit::Ok.into())
}

fn key_value(k: &KeyRecord) -> Value {
    let mut v = serde_json::to_value(k).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "type".to_owned(),
            json!(k.public_key().map(stormwatch_tokens::PublicKey::describe)),
        );
    }
    v
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.to_string())
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let reg = load_registry(a.registry.as_deref())?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    match a.format {
        VerifyFormat::Json => {
            let keys: Vec<Value> = reg.keys.iter().map(key_value).collect();
            serde_json::to_writer_pretty(
                &mut out,
                &json!({ "keys": keys, "imports": reg.imports }),
            )?;
            writeln!(out)?;
        }
        VerifyFormat::Text => {
            writeln!(
                out,
                "{:<44} {:<9} {:<10} {:<20} {:<20} {:<20} {:<20} SCOPE",
                "KID", "TYPE", "CLASS", "NOT AFTER", "REVOKED", "REMOVED", "LAST SEEN"
            )?;
            for k in &reg.keys {
                writeln!(
                    out,
                    "{:<44} {:<9} {:<10} {:<20} {:<20} {:<20} {:<20} {}",
                    k.kid,
                    k.public_key()
                        .map_or_else(|| k.jwk.kty.clone(), stormwatch_tokens::PublicKey::describe),
                    k.tenant_class.to_string(),
                    opt_time(k.not_after),
                    opt_time(k.revoked_at),
                    opt_time(k.removed_at),
                    if k.builtin {
                        "built in".to_owned()
                    } else {
                        opt_time(k.last_seen)
                    },
                    k.issuer_scope.as_deref().unwrap_or("UNSCOPED"),
                )?;
            }
        }
    }
    out.flush()?;
    Ok(Exit::Ok.into())
}

fn show(a: ShowArgs) -> anyhow::Result<ExitCode> {
    let reg = load_registry(a.registry.as_deref())?;
    let keys = reg.find(&a.kid);
    if keys.is_empty() {
        bail!(
            "no key with kid or x5t {:?} in the registry ({} keys)",
            a.kid,
            reg.keys.len()
        );
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    match a.format {
        VerifyFormat::Json => {
            let v: Vec<Value> = keys.iter().map(|k| key_value(k)).collect();
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        VerifyFormat::Text => {
            for k in keys {
                writeln!(out, "kid:          {}", k.kid)?;
                writeln!(out, "x5t:          {}", k.x5t.as_deref().unwrap_or("-"))?;
                writeln!(
                    out,
                    "thumbprint:   {}",
                    k.thumbprint_sha1.as_deref().unwrap_or("-")
                )?;
                writeln!(
                    out,
                    "type:         {}",
                    k.public_key()
                        .map_or_else(|| k.jwk.kty.clone(), stormwatch_tokens::PublicKey::describe)
                )?;
                writeln!(
                    out,
                    "subject:      {}",
                    k.subject
                        .as_deref()
                        .map_or_else(|| "-".to_owned(), |s| format!("CN={s}"))
                )?;
                writeln!(
                    out,
                    "issuer scope: {}",
                    k.issuer_scope.as_deref().unwrap_or(
                        "UNSCOPED (no issuer: every token it signs is reported unscoped)"
                    )
                )?;
                writeln!(out, "tenant class: {}", k.tenant_class)?;
                writeln!(
                    out,
                    "valid:        {} to {}{}",
                    opt_time(k.not_before),
                    opt_time(k.not_after),
                    if k.validity_from == Some(ValidityFrom::X5c) {
                        " (x5c certificate)"
                    } else {
                        ""
                    }
                )?;
                writeln!(out, "revoked:      {}", opt_time(k.revoked_at))?;
                writeln!(out, "source:       {}", k.source)?;
                writeln!(
                    out,
                    "seen:         first {}, last {}, removed {}",
                    opt_time(k.first_seen),
                    opt_time(k.last_seen),
                    opt_time(k.removed_at)
                )?;
                let snapshots: Vec<String> = reg
                    .imports
                    .iter()
                    .filter(|i| i.source == k.source)
                    .map(|i| {
                        format!(
                            "{} {}",
                            i.at,
                            if i.kids.contains(&k.kid) {
                                "present"
                            } else {
                                "absent"
                            }
                        )
                    })
                    .collect();
                if !snapshots.is_empty() {
                    writeln!(out, "snapshots:    {}", snapshots.join("; "))?;
                }
                if let Some(n) = &k.note {
                    writeln!(out, "note:         {n}")?;
                }
                writeln!(out)?;
            }
        }
    }
    out.flush()?;
    Ok(Exit::Ok.into())
}

fn write_finding_text(out: &mut dyn Write, f: &Finding) -> std::io::Result<()> {
    let v = &f.verdict;
    writeln!(
        out,
        "{}  {}  {}",
        f.location,
        v.verdict.name().to_uppercase(),
        v.summary
    )?;
    writeln!(
        out,
        "    judged at {} ({})",
        v.judged_at, v.judged_at_source
    )?;
    writeln!(out, "    token {}", f.token)?;
    for c in v.checks.iter().filter(|c| !c.ok) {
        writeln!(out, "    FAIL {:<13} {}", c.check.name(), c.detail)?;
    }
    Ok(())
}

fn scan_cmd(a: ScanArgs) -> anyhow::Result<ExitCode> {
    let reg = a.keys.registry()?;
    let opts = ScanOptions {
        verify: a.keys.verify_options(),
        context_lines: a.context_lines,
        show_tokens: a.show_tokens,
    };
    let inputs = super::common::inputs(&a.paths)?;
    // Read as hunt reads: directories walked (with HAR files too), gzip and zstd recognised
    // by their bytes, standard input.
    let streams = stormwatch_read::streams(&inputs, &stormwatch_read::Limits::default(), &["har"])
        .context("listing the inputs")?;
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut stats = ScanStats::default();
    let mut collected: Vec<Finding> = Vec::new();
    let mut io_err: Option<std::io::Error> = None;
    let mut listed = 0u64;
    for stream in streams {
        listed += 1;
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                warn(&e.to_string());
                stats.errors.push(e.to_string());
                continue;
            }
        };
        let mut sink = |f: Finding| {
            if a.forged_only && f.verdict.verdict != VerdictKind::Forged {
                return;
            }
            let r = match a.format {
                ScanFormat::Json => {
                    collected.push(f);
                    Ok(())
                }
                ScanFormat::Jsonl => serde_json::to_writer(&mut out, &f)
                    .map_err(std::io::Error::from)
                    .and_then(|()| writeln!(out)),
                ScanFormat::Text => write_finding_text(&mut out, &f),
            };
            if let Err(e) = r {
                io_err.get_or_insert(e);
            }
        };
        let name: std::sync::Arc<str> = std::sync::Arc::from(stream.name.as_str());
        let reader = std::io::BufReader::with_capacity(256 * 1024, stream.reader);
        if let Err(e) = scan::scan_reader(reader, &name, &reg, &opts, &mut stats, &mut sink) {
            let msg = format!("{}: {e}", stream.name);
            warn(&msg);
            stats.errors.push(msg);
        }
        if let Some(e) = io_err.take() {
            return Err(e).context("writing the report");
        }
    }
    if listed == 0 {
        warn(&format!(
            "no file to scan under {}: directories are searched for .log, .txt, .json, .har, .csv, .gz and .zst files",
            a.paths.join(", ")
        ));
    }
    match a.format {
        ScanFormat::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &json!({ "findings": collected, "stats": stats }),
            )?;
            writeln!(out)?;
        }
        ScanFormat::Text => {
            writeln!(
                out,
                "{} tokens in {} files ({} lines): {} forged, {} invalid, {} unknown key, {} valid",
                stats.tokens,
                stats.files,
                stats.lines,
                stats.forged,
                stats.invalid,
                stats.unknown_key,
                stats.valid
            )?;
        }
        ScanFormat::Jsonl => {}
    }
    out.flush().context("writing the report")?;
    if stats.files == 0 {
        bail!("no input could be read");
    }
    Ok(Exit::Ok.into())
}
