//! Impact over millions of synthetic `MailItemsAccessed` events: `observe` + `finish`
//! throughput and memory.
//!
//! `cargo bench -p stormwatch-impact --bench observe [-- EVENTS] [one|two]` (default
//! 8,000,000 events, both modes: two passes first, then one pass).
//! A pool of 200,000 distinct events (3 tenants, 3,000 mailboxes, owners' Bind and Sync from
//! their own sessions, 1 % from an attacker IP and session) is replayed with shifted times
//! (one day later per pass, over 30 days), so the input keeps growing while the distinct
//! (context, day, mailbox, folder, message) tuples level off: memory is reported after each
//! doubling of the input to show it stays bounded by the state, not the records.
#![allow(clippy::print_stdout, missing_docs)]

use std::sync::Arc;
use std::time::Instant;

use stormwatch_core::{
    Event, FolderAccess, InputStats, Location, MailAccess, MailAccessType, MessageRef, Timestamp,
};
use stormwatch_impact::{Assessor, ImpactOptions, Seeds};

const POOL: usize = 200_000;
const MAILBOXES: u64 = 3_000;
const DAY: i64 = 86_400;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn pool() -> Vec<Event> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let file: Arc<str> = Arc::from("bench.ndjson");
    let base = Timestamp::parse("2023-05-15T00:00:00Z").map_or(0, |t| t.unix_seconds());
    let folders = [
        "\\Inbox",
        "\\Sent Items",
        "\\Inbox\\Projects",
        "\\Archive",
        "\\Drafts",
    ];
    (0..POOL)
        .map(|i| {
            let attacker = r.below(100) == 0;
            let mb = r.below(MAILBOXES);
            let tenant = format!("{:08x}-0000-4000-8000-00000000000{}", mb % 3, mb % 3);
            let mailbox = format!("user{mb}@tenant{}.example", mb % 3);
            let (ip, session, ua) = if attacker {
                (
                    "51.89.156.153".to_owned(),
                    "7b0d2c55-1e8f-4c3a-9d61-2f4e8a9b0c1d".to_owned(),
                    "Client=REST;Client=RESTSystem;;",
                )
            } else {
                let s = r.below(2);
                (
                    format!("10.{}.{}.{}", mb % 250, s, mb % 200),
                    format!("{mb:08x}-sess-{s}"),
                    "Client=OWA;Action=ViaProxy",
                )
            };
            let sync = !attacker && r.below(10) == 0;
            let n_items = if sync { 0 } else { 1 + r.below(3) };
            let items = (0..n_items)
                .map(|_| MessageRef {
                    internet_message_id: format!(
                        "<MSG{:06}.{mb}@tenant{}.prod.outlook.com>",
                        r.below(400),
                        mb % 3
                    ),
                    size_bytes: Some(2_000 + r.below(200_000)),
                })
                .collect();
            let secs = base + i64::try_from(r.below(DAY as u64)).unwrap_or(0);
            Event {
                loc: Location {
                    file: Arc::clone(&file),
                    line: i as u64 + 1,
                    record_id: None,
                },
                time: Some(Timestamp::from_unix_seconds(secs)),
                tenant: Some(tenant),
                workload: Some("Exchange".into()),
                record_type: Some(50),
                operation: Some("MailItemsAccessed".into()),
                user: Some(mailbox.clone()),
                mailbox: Some(mailbox),
                client_ip: ip.parse().ok(),
                session_id: Some(session),
                client_app_id: Some("00000002-0000-0ff1-ce00-000000000000".into()),
                client_info: Some(ua.into()),
                mail: Some(MailAccess {
                    access_type: Some(if sync {
                        MailAccessType::Sync
                    } else {
                        MailAccessType::Bind
                    }),
                    throttled: false,
                    operation_count: n_items.max(1),
                    folders: vec![FolderAccess {
                        id: None,
                        path: folders[usize::try_from(r.below(5)).unwrap_or(0)].to_owned(),
                        items,
                    }],
                    items_lost: false,
                }),
                ..Event::default()
            }
        })
        .collect()
}

/// CPU seconds (user + system) used by this process so far: robust to other load on the
/// machine, unlike wall time.
fn cpu_secs() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 14th field.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // rest starts at field 3 (state, not numeric, skipped by the parse) so utime/stime are at 10/11.
    (f.get(10).copied().unwrap_or(0.0) + f.get(11).copied().unwrap_or(0.0)) / 100.0
}

fn rss_mib() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

/// Replay the pool (one day later per pass) until `total` events were observed; returns
/// (wall seconds, CPU seconds) spent in `observe`.
fn replay(a: &mut Assessor, events: &mut [Event], total: u64, label: &str) -> (f64, f64) {
    let mut done: u64 = 0;
    let mut next_report: u64 = 1_000_000;
    let mut secs = 0.0;
    let mut cpu = 0.0;
    let mut pass: i64 = 0;
    // Start from the same times every run.
    let mut shifted: i64 = 0;
    while done < total {
        if pass > 0 {
            let shift = if pass % 30 == 0 { -29 * DAY } else { DAY };
            shifted += shift;
            for e in events.iter_mut() {
                e.time = e.time.map(|t| t.add_seconds(shift));
            }
        }
        let t = Instant::now();
        let c = cpu_secs();
        for e in events.iter() {
            if done >= total {
                break;
            }
            a.observe(e);
            done += 1;
            if done == next_report {
                let (rss, _) = rss_mib();
                let s = a.state_size();
                println!(
                    "  {label} {done:>10} events: RSS {rss:>6.0} MiB (contexts {}, slots {}, message tuples {}, strings {})",
                    s.contexts, s.slots, s.message_tuples, s.strings
                );
                next_report *= 2;
            }
        }
        secs += t.elapsed().as_secs_f64();
        cpu += cpu_secs() - c;
        pass += 1;
    }
    for e in events.iter_mut() {
        e.time = e.time.map(|t| t.add_seconds(-shifted));
    }
    (secs, cpu)
}

fn summary(label: &str, report: &stormwatch_core::ImpactReport) {
    let mailboxes: usize = report.organizations.iter().map(|o| o.mailboxes.len()).sum();
    let messages: u64 = report
        .organizations
        .iter()
        .flat_map(|o| &o.mailboxes)
        .map(|m| m.messages)
        .sum();
    let (rss, hwm) = rss_mib();
    println!(
        "  {label} report: {mailboxes} mailboxes, {messages} distinct messages; RSS now {rss:.0} MiB, peak so far {hwm:.0} MiB"
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let total: u64 = args
        .iter()
        .find_map(|a| a.replace('_', "").parse().ok())
        .unwrap_or(8_000_000);
    let modes: Vec<&str> = match args
        .iter()
        .find(|a| a.as_str() == "one" || a.as_str() == "two")
    {
        Some(m) => vec![m.as_str()],
        None => vec!["two", "one"],
    };
    let t0 = Instant::now();
    let mut events = pool();
    let (rss_pool, _) = rss_mib();
    println!(
        "pool: {POOL} events built in {:.2} s, RSS {rss_pool:.0} MiB (the pool itself)",
        t0.elapsed().as_secs_f64()
    );
    let seeds = Seeds {
        ips: vec!["51.89.156.153".into()],
        ..Seeds::default()
    };
    let opts = ImpactOptions {
        expand: true,
        ..ImpactOptions::default()
    };
    for mode in modes {
        if mode == "two" {
            println!("two passes (graph_only, then focused) over {total} events each:");
            let mut first = Assessor::graph_only();
            let s1 = replay(&mut first, &mut events, total, "pass 1");
            let actor = first.resolve_actor(&seeds, &opts);
            drop(first);
            let mut second = Assessor::focused(&actor);
            let s2 = replay(&mut second, &mut events, total, "pass 2");
            let t = Instant::now();
            let report = second.finish(&seeds, &opts, &InputStats::default());
            println!(
                "  pass 1: {:.0} events/s ({:.0} per CPU-second); pass 2: {:.0} events/s ({:.0} per CPU-second); finish {:.2} s",
                total as f64 / s1.0,
                total as f64 / s1.1.max(0.01),
                total as f64 / s2.0,
                total as f64 / s2.1.max(0.01),
                t.elapsed().as_secs_f64()
            );
            summary("two-pass", &report);
        } else {
            println!("one pass (new) over {total} events:");
            let mut a = Assessor::new();
            let s = replay(&mut a, &mut events, total, "one pass");
            let t = Instant::now();
            let report = a.finish(&seeds, &opts, &InputStats::default());
            println!(
                "  observe: {:.0} events/s ({:.0} per CPU-second); finish {:.2} s",
                total as f64 / s.0,
                total as f64 / s.1.max(0.01),
                t.elapsed().as_secs_f64()
            );
            summary("one-pass", &report);
        }
    }
}
