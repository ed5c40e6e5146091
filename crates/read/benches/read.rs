//! Read + normalise throughput.
//!
//! `cargo bench -p stormwatch-read --bench read` generates a 64 MB UAL export in every format
//! under `bench-data/` and reports MB/s and records/s per format. `scripts/bench-read.sh`
//! drives the same binary on a ~1 GB export and adds peak memory:
//!
//! - `read gen DIR MB`: write `ual.ndjson` (about MB megabytes of realistic UAL records:
//!   MailItemsAccessed Bind with folders and messages, Sync, sign-ins, admin cmdlets,
//!   SharePoint), `ual.json` (Management API array), `ual.csv` (Purview CSV),
//!   `ual.ndjson.gz`, `ual.ndjson.zst`.
//! - `read cat FILE`: the raw read rate of the file (the ceiling).
//! - `read run FILE [THREADS]`: read + normalise the file, print one result line. The events
//!   are counted and dropped on the reader's workers, as `hunt` consumes them.
//! - `read run-sink FILE [THREADS]`: the same, with every event handed to the calling thread
//!   (and freed there), as `read`'s sink receives them.
//! - `read digest FILE [THREADS]`: a hash of the `Debug` text of every event and of the
//!   statistics (to check that a change to the reader leaves its output identical).
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use stormwatch_read::{Input, Inspect, ReadOptions, read, read_inspect};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn guid(r: &mut Rng) -> String {
    let a = r.next();
    let b = r.next();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

const TENANT: &str = "5a0f38c6-710b-4503-92c0-3a9f6e00f726";
const USERS: [&str; 8] = [
    "envoy@agency.example",
    "piet@agency.example",
    "ana.lopez@agency.example",
    "m.chen@agency.example",
    "svc-backup@agency.example",
    "k.osei@agency.example",
    "delegate@agency.example",
    "r.ivanova@agency.example",
];

fn time(i: u64) -> String {
    let secs = 1_686_528_000 + i / 20;
    let t = stormwatch_core::Timestamp::from_unix_seconds(i64::try_from(secs).unwrap_or(0));
    let s = t.to_string();
    s.trim_end_matches('Z').to_owned()
}

/// One realistic UAL record (Management Activity API shape), as one line of JSON.
fn record(i: u64, r: &mut Rng) -> String {
    let user = USERS[usize::try_from(r.below(8)).unwrap_or(0)];
    let ip = format!(
        "{}.{}.{}.{}",
        20 + r.below(180),
        r.below(250),
        r.below(250),
        1 + r.below(250)
    );
    let id = guid(r);
    let t = time(i);
    let session = guid(r);
    match r.below(100) {
        0..=39 => {
            let n = 1 + r.below(5);
            let mut items = String::new();
            for k in 0..n {
                if k > 0 {
                    items.push(',');
                }
                let _ = write!(
                    items,
                    r#"{{"InternetMessageId":"<CH0PR09MB{:06}{k}@CH0PR09MB{:04}.namprd09.prod.outlook.com>","SizeInBytes":{}}}"#,
                    r.below(1_000_000),
                    r.below(10_000),
                    2_000 + r.below(90_000)
                );
            }
            format!(
                r#"{{"CreationTime":"{t}","Id":"{id}","Operation":"MailItemsAccessed","OrganizationId":"{TENANT}","RecordType":50,"ResultStatus":"Succeeded","UserKey":"10032001A1B2C3D4","UserType":0,"Version":1,"Workload":"Exchange","UserId":"{user}","AppId":"00000002-0000-0ff1-ce00-000000000000","ClientAppId":"{}","ClientIPAddress":"{ip}","ClientInfoString":"Client=REST;Client=RESTSystem;;","ExternalAccess":false,"InternalLogonType":0,"LogonType":0,"LogonUserSid":"S-1-5-21-1825954961-3338807533-2873504967-26087451","MailboxGuid":"0d9e1f2a-3b4c-4d5e-8f90-a1b2c3d4e5f6","MailboxOwnerSid":"S-1-5-21-1825954961-3338807533-2873504967-26087451","MailboxOwnerUPN":"{user}","OrganizationName":"agency.onmicrosoft.com","OriginatingServer":"CH0PR09MB1111 (15.20.5227.021)\r\n","SessionId":"{session}","OperationProperties":[{{"Name":"MailAccessType","Value":"Bind"}},{{"Name":"IsThrottled","Value":"False"}}],"Folders":[{{"Id":"LgAAAAAM7KyTTmWeRac2KXBEz/7aAQARGHK+grzLTpRJraC1QR6kAAAAAAEMAAAB","Path":"\\Inbox","FolderItems":[{items}]}}],"OperationCount":{n}}}"#,
                guid(r)
            )
        }
        40..=54 => format!(
            r#"{{"CreationTime":"{t}","Id":"{id}","Operation":"MailItemsAccessed","OrganizationId":"{TENANT}","RecordType":50,"ResultStatus":"Succeeded","UserKey":"10032001A1B2C3D4","UserType":0,"Version":1,"Workload":"Exchange","UserId":"{user}","AppId":"","ClientAppId":"","ClientIPAddress":"{ip}","ClientInfoString":"Client=MSExchangeRPC","ExternalAccess":false,"InternalLogonType":0,"LogonType":0,"MailboxGuid":"0d9e1f2a-3b4c-4d5e-8f90-a1b2c3d4e5f6","MailboxOwnerUPN":"{user}","OrganizationName":"agency.onmicrosoft.com","OriginatingServer":"CH0PR09MB1111 (15.20.5227.021)\r\n","SessionId":"{session}","OperationProperties":[{{"Name":"MailAccessType","Value":"Sync"}}],"Folders":[{{"Id":"LgAAAAB1AAAB","Path":"\\Sent Items"}}],"OperationCount":1}}"#
        ),
        55..=74 => format!(
            r#"{{"CreationTime":"{t}","Id":"{id}","Operation":"UserLoggedIn","OrganizationId":"{TENANT}","RecordType":15,"ResultStatus":"Success","UserKey":"55425677-a6b7-4df1-8068-709eb4162d42","UserType":0,"Version":1,"Workload":"AzureActiveDirectory","ClientIP":"{ip}","ObjectId":"00000003-0000-0000-c000-000000000000","UserId":"{user}","AzureActiveDirectoryEventType":1,"ExtendedProperties":[{{"Name":"ResultStatusDetail","Value":"Redirect"}},{{"Name":"UserAgent","Value":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36 Edg/114.0.1823.43"}},{{"Name":"RequestType","Value":"OAuth2:Authorize"}}],"ModifiedProperties":[],"Actor":[{{"ID":"{}","Type":0}},{{"ID":"{user}","Type":5}}],"ActorContextId":"{TENANT}","ActorIpAddress":"{ip}","InterSystemsId":"{}","IntraSystemId":"{}","SupportTicketId":"","Target":[{{"ID":"00000003-0000-0000-c000-000000000000","Type":0}}],"TargetContextId":"{TENANT}","ApplicationId":"4765445b-32c6-49b0-83e6-1d93765276ca","DeviceProperties":[{{"Name":"OS","Value":"Windows 10"}},{{"Name":"BrowserType","Value":"Edge"}}],"ErrorNumber":"0"}}"#,
            guid(r),
            guid(r),
            guid(r)
        ),
        75..=84 => format!(
            r#"{{"CreationTime":"{t}","Id":"{id}","Operation":"Set-Mailbox","OrganizationId":"{TENANT}","RecordType":1,"ResultStatus":"True","UserKey":"NT AUTHORITY\\SYSTEM (Microsoft.Exchange.Servicehost)","UserType":3,"Version":1,"Workload":"Exchange","ObjectId":"EURP193A005.PROD.OUTLOOK.COM\/Microsoft Exchange Hosted Organizations\/agency.onmicrosoft.com\/{user}","UserId":"NT AUTHORITY\\SYSTEM (Microsoft.Exchange.Servicehost)","AppId":"","ClientAppId":"","ExternalAccess":true,"OrganizationName":"agency.onmicrosoft.com","OriginatingServer":"PAXP193MB2425 (15.20.5227.021)","Parameters":[{{"Name":"Identity","Value":"{user}"}},{{"Name":"AuditEnabled","Value":"True"}},{{"Name":"DomainController","Value":""}}]}}"#
        ),
        _ => format!(
            r#"{{"CreationTime":"{t}","Id":"{id}","Operation":"FileAccessed","OrganizationId":"{TENANT}","RecordType":6,"UserKey":"i:0h.f|membership|10032001a1b2c3d4@live.com","UserType":0,"Version":1,"Workload":"SharePoint","ClientIP":"{ip}","ObjectId":"https://agency.sharepoint.com/sites/legal/Shared Documents/brief-{}.docx","UserId":"{user}","CorrelationId":"{}","EventSource":"SharePoint","ItemType":"File","ListId":"{}","ListItemUniqueId":"{}","Site":"{}","UserAgent":"Microsoft Office Word 2014","WebId":"{}","SourceFileExtension":"docx","SiteUrl":"https://agency.sharepoint.com/sites/legal/","SourceFileName":"brief.docx","SourceRelativeUrl":"Shared Documents"}}"#,
            r.below(10_000),
            guid(r),
            guid(r),
            guid(r),
            guid(r),
            guid(r)
        ),
    }
}

fn generate(dir: &Path, mb: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let target = mb * 1024 * 1024;
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut nd = BufWriter::new(File::create(dir.join("ual.ndjson"))?);
    let mut arr = BufWriter::new(File::create(dir.join("ual.json"))?);
    let mut csv = BufWriter::new(File::create(dir.join("ual.csv"))?);
    let mut gz = flate2::write::GzEncoder::new(
        BufWriter::new(File::create(dir.join("ual.ndjson.gz"))?),
        flate2::Compression::new(6),
    );
    let mut zst = zstd::stream::write::Encoder::new(
        BufWriter::new(File::create(dir.join("ual.ndjson.zst"))?),
        3,
    )?;
    csv.write_all(b"RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n")?;
    arr.write_all(b"[\n")?;
    let mut written = 0u64;
    let mut i = 0u64;
    while written < target {
        let rec = record(i, &mut r);
        nd.write_all(rec.as_bytes())?;
        nd.write_all(b"\n")?;
        gz.write_all(rec.as_bytes())?;
        gz.write_all(b"\n")?;
        zst.write_all(rec.as_bytes())?;
        zst.write_all(b"\n")?;
        if i > 0 {
            arr.write_all(b",\n")?;
        }
        arr.write_all(rec.as_bytes())?;
        let t = time(i);
        write!(
            csv,
            "{i:08},{t}.0000000Z,ExchangeItemAggregated,MailItemsAccessed,user@agency.example,\"{}\",,\r\n",
            rec.replace('"', "\"\"")
        )?;
        written += rec.len() as u64 + 1;
        i += 1;
    }
    arr.write_all(b"\n]\n")?;
    gz.finish()?.flush()?;
    zst.finish()?.flush()?;
    nd.flush()?;
    arr.flush()?;
    csv.flush()?;
    eprintln!(
        "generated {i} records, {} MB of NDJSON in {}",
        written / 1_000_000,
        dir.display()
    );
    Ok(())
}

fn cat(path: &Path) -> std::io::Result<(u64, f64)> {
    let start = Instant::now();
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
    }
    Ok((n, start.elapsed().as_secs_f64()))
}

/// Counts events on the reader's workers, which then drop them (as `hunt` consumes them).
struct Count;

impl Inspect for Count {
    type Out = u64;

    fn inspect(&self, _: &stormwatch_core::Event, _: Option<&sonic_rs::Value>, out: &mut u64) {
        *out += 1;
    }

    fn keeps_events(&self) -> bool {
        false
    }
}

/// Read `path`; with `sink`, every event is handed to the calling thread (and freed there),
/// otherwise counted and dropped on the workers.
fn run(path: &Path, threads: usize, sink: bool) -> (u64, u64, u64, f64) {
    let opts = ReadOptions {
        threads,
        ..ReadOptions::default()
    };
    let start = Instant::now();
    let mut events = 0u64;
    let inputs = [Input::Path(path.to_path_buf())];
    let stats = if sink {
        read(&inputs, &opts, &mut |b| events += b.len() as u64)
    } else {
        read_inspect(&inputs, &opts, &Count, &mut |_, n| events += n)
    }
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    (bytes, events, stats.skipped(), secs)
}

/// A hash of the `Debug` text of every event and of the statistics, and the event count.
fn digest(path: &Path, threads: usize) -> (u64, u64) {
    use std::hash::Hasher as _;
    struct Sink(std::collections::hash_map::DefaultHasher);
    impl std::fmt::Write for Sink {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let opts = ReadOptions {
        threads,
        ..ReadOptions::default()
    };
    let mut h = Sink(std::collections::hash_map::DefaultHasher::new());
    let mut n = 0u64;
    let stats = read(&[Input::Path(path.to_path_buf())], &opts, &mut |b| {
        for ev in &b {
            writeln!(h, "{ev:?}").unwrap();
        }
        n += b.len() as u64;
    })
    .unwrap();
    write!(h, "{stats:?}").unwrap();
    (h.0.finish(), n)
}

fn report(path: &Path, threads: usize, sink: bool) {
    let (bytes, events, skipped, secs) = run(path, threads, sink);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    // For compressed inputs, rates are of the decompressed text (the plain sibling's size).
    let plain = path
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| matches!(*e, "gz" | "zst"))
        .and_then(|_| std::fs::metadata(path.with_extension("")).ok())
        .map_or(bytes, |m| m.len());
    println!(
        "{name:<16} {:>6.0} MB in ({:>5.0} MB text) {:>7.2} s  {:>6.0} MB/s  {:>8.0} records/s  ({events} records, {skipped} skipped)",
        bytes as f64 / 1e6,
        plain as f64 / 1e6,
        secs,
        plain as f64 / 1e6 / secs,
        events as f64 / secs
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("gen") => {
            let dir = PathBuf::from(args.get(1).map_or("bench-data", String::as_str));
            let mb = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1024);
            generate(&dir, mb).unwrap();
        }
        Some("cat") => {
            let p = PathBuf::from(&args[1]);
            let (n, secs) = cat(&p).unwrap();
            println!(
                "cat {:<12} {:>8.0} MB  {:>7.2} s  {:>8.0} MB/s",
                p.display(),
                n as f64 / 1e6,
                secs,
                n as f64 / 1e6 / secs
            );
        }
        Some("digest") => {
            let threads = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
            let (h, n) = digest(Path::new(&args[1]), threads);
            println!("{h:016x} {n} events {}", args[1]);
        }
        Some(mode @ ("run" | "run-sink")) => {
            let threads = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
            report(Path::new(&args[1]), threads, mode == "run-sink");
        }
        _ => {
            // `cargo bench`: a small data set, every format.
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench-data/small");
            if !dir.join("ual.ndjson").exists() {
                generate(&dir, 64).unwrap();
            }
            for f in [
                "ual.ndjson",
                "ual.json",
                "ual.csv",
                "ual.ndjson.gz",
                "ual.ndjson.zst",
            ] {
                report(&dir.join(f), 0, false);
            }
        }
    }
}
