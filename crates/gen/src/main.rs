//! `stormwatch-gen`: write synthetic M365 audit data with a planted forged-token intrusion.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use stormwatch_gen::{
    Compression, Format, GenError, Scenario, ScenarioOptions, SigninsMode, VolumeOptions, volume,
};

const USAGE: &str = "\
usage:
  stormwatch-gen scenario --seed N --out DIR [--formats LIST|all] [--compress gz|zst|none]
                          [--staff N] [--days N]
  stormwatch-gen example  --out DIR [--seed N] [--compress gz|zst|none]   (default gz)
  stormwatch-gen volume   --records N --out FILE [--seed N] [--days N] [--format ndjson|json-array|csv]
                          [--compress gz|zst|none] [--signins separate|mixed|none] [--truth FILE]

formats: ndjson, json-array, pretty, csv, csv-legacy, sentinel, defender, defender-flat,
         graph-audit, signins-graph, signins-azure-monitor (default: all)
";

/// Seed and size of the committed example (`examples/storm-0558/`).
const EXAMPLE_SEED: u64 = 558;
const EXAMPLE_STAFF: usize = 3;
const EXAMPLE_DAYS: u32 = 32;

struct Args {
    cmd: String,
    kv: Vec<(String, String)>,
}

impl Args {
    fn parse() -> Result<Args, String> {
        let mut it = std::env::args().skip(1);
        let cmd = it.next().ok_or_else(|| "missing command".to_string())?;
        let mut kv = Vec::new();
        while let Some(k) = it.next() {
            if k == "-h" || k == "--help" {
                return Err(String::new());
            }
            let Some(name) = k.strip_prefix("--") else {
                return Err(format!("unexpected argument `{k}`"));
            };
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            kv.push((name.to_string(), v));
        }
        Ok(Args { cmd, kv })
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.kv
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    fn num<T: std::str::FromStr>(&self, k: &str, default: T) -> Result<T, String> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v
                .replace('_', "")
                .parse()
                .map_err(|_| format!("--{k}: not a number: {v}")),
        }
    }

    fn check(&self, allowed: &[&str]) -> Result<(), String> {
        for (k, _) in &self.kv {
            if !allowed.contains(&k.as_str()) {
                return Err(format!("unknown option --{k} for `{}`", self.cmd));
            }
        }
        Ok(())
    }
}

fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn run() -> Result<(), (u8, String)> {
    let args = Args::parse().map_err(|e| {
        (
            2,
            if e.is_empty() {
                USAGE.to_string()
            } else {
                format!("{e}\n{USAGE}")
            },
        )
    })?;
    let usage = |e: String| (2u8, format!("{e}\n{USAGE}"));
    let gen_err = |e: GenError| match e {
        GenError::Io { .. } | GenError::Json(_) => (1u8, e.to_string()),
        _ => (2u8, e.to_string()),
    };
    let started = Instant::now();
    match args.cmd.as_str() {
        "scenario" => {
            args.check(&["seed", "out", "formats", "compress", "staff", "days"])
                .map_err(usage)?;
            let out = PathBuf::from(
                args.get("out")
                    .ok_or_else(|| usage("--out is required".into()))?,
            );
            let opts = ScenarioOptions {
                seed: args.num("seed", 1).map_err(usage)?,
                staff_per_tenant: args
                    .num("staff", ScenarioOptions::default().staff_per_tenant)
                    .map_err(usage)?,
                days: args
                    .num("days", ScenarioOptions::default().days)
                    .map_err(usage)?,
            };
            let formats =
                Format::parse_list(args.get("formats").unwrap_or("all")).map_err(gen_err)?;
            let compression =
                Compression::parse(args.get("compress").unwrap_or("none")).map_err(gen_err)?;
            let s = Scenario::generate(&opts);
            let files = s.write(&out, &formats, compression).map_err(gen_err)?;
            let t = s.truth();
            say(&format!(
                "scenario seed {}: {} UAL records ({} actor), {} sign-ins, {} files in {} ({:.2}s)",
                opts.seed,
                t.counts.ual_records,
                t.counts.actor_records,
                t.counts.signins,
                files.len(),
                out.display(),
                started.elapsed().as_secs_f64()
            ));
        }
        "example" => {
            args.check(&["seed", "out", "compress"]).map_err(usage)?;
            let compression =
                Compression::parse(args.get("compress").unwrap_or("gz")).map_err(gen_err)?;
            let out = PathBuf::from(
                args.get("out")
                    .ok_or_else(|| usage("--out is required".into()))?,
            );
            let opts = ScenarioOptions {
                seed: args.num("seed", EXAMPLE_SEED).map_err(usage)?,
                staff_per_tenant: EXAMPLE_STAFF,
                days: EXAMPLE_DAYS,
            };
            let s = Scenario::generate(&opts);
            let files = s.write_example(&out, compression).map_err(gen_err)?;
            for f in &files {
                say(&format!("wrote {}", f.display()));
            }
        }
        "volume" => {
            args.check(&[
                "seed", "out", "records", "format", "compress", "signins", "truth", "days",
            ])
            .map_err(usage)?;
            let out = PathBuf::from(
                args.get("out")
                    .ok_or_else(|| usage("--out is required".into()))?,
            );
            let format =
                Format::parse_list(args.get("format").unwrap_or("ndjson")).map_err(gen_err)?;
            let [format] = format[..] else {
                return Err(usage("--format takes one format".into()));
            };
            let signins = match args.get("signins").unwrap_or("separate") {
                "separate" => SigninsMode::Separate,
                "mixed" => SigninsMode::Mixed,
                "none" => SigninsMode::None,
                other => return Err(usage(format!("--signins: unknown mode {other}"))),
            };
            let opts = VolumeOptions {
                seed: args.num("seed", 1).map_err(usage)?,
                records: args.num("records", 1_000_000).map_err(usage)?,
                out,
                format,
                compression: Compression::parse(args.get("compress").unwrap_or("none"))
                    .map_err(gen_err)?,
                signins,
                days: args
                    .num("days", u64::from(volume::DEFAULT_DAYS))
                    .map_err(usage)?
                    .try_into()
                    .map_err(|_| usage("--days: too large".to_owned()))?,
            };
            let summary = volume::run(&opts).map_err(gen_err)?;
            if let Some(t) = args.get("truth") {
                stormwatch_gen::write_truth(&summary.truth, &PathBuf::from(t)).map_err(gen_err)?;
            }
            let secs = started.elapsed().as_secs_f64();
            let bytes: u64 = summary
                .files
                .iter()
                .filter_map(|f| std::fs::metadata(f).ok())
                .map(|m| m.len())
                .sum();
            say(&format!(
                "volume: {} UAL records, {} sign-ins, {:.1} MB in {:.2}s ({:.0} MB/s, {:.0} records/s); peak RSS {} kB",
                summary.records,
                summary.signins,
                bytes as f64 / 1e6,
                secs,
                bytes as f64 / 1e6 / secs.max(1e-9),
                summary.records as f64 / secs.max(1e-9),
                peak_rss_kb().map_or_else(|| "?".to_string(), |k| k.to_string())
            ));
        }
        other => return Err(usage(format!("unknown command `{other}`"))),
    }
    Ok(())
}

/// Peak resident set size (Linux `VmHWM`).
fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            say(&msg);
            ExitCode::from(code)
        }
    }
}
