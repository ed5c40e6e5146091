//! Synthetic events shared by the benches: 2,000 mailboxes over 30 days, one session per
//! mailbox and day backed by sign-ins, Outlook and OWA reads, Bind and Sync.

use std::sync::Arc;

use stormwatch_core::{
    Event, Location, LogonType, MailAccess, MailAccessType, Outcome, SignIn, SourceKind, Timestamp,
};

pub(crate) const MAILBOXES: usize = 2_000;
pub(crate) const DAYS: u64 = 30;

pub(crate) struct Pools {
    mailboxes: Vec<String>,
    sessions: Vec<String>,
    ips: Vec<std::net::IpAddr>,
}

pub(crate) fn pools() -> Pools {
    let mailboxes: Vec<String> = (0..MAILBOXES)
        .map(|i| format!("user{i}@agency.example"))
        .collect();
    let sessions = (0..MAILBOXES * DAYS as usize)
        .map(|i| format!("{:08x}-0000-4000-8000-{:012x}", i, i * 7))
        .collect();
    let ips = (0..256u32)
        .map(|i| std::net::IpAddr::from([198, 51, (i % 64) as u8, (i / 4) as u8]))
        .collect();
    Pools {
        mailboxes,
        sessions,
        ips,
    }
}

/// Fill `ev` with synthetic event number `n` (deterministic).
pub(crate) fn fill(ev: &mut Event, p: &Pools, n: u64, total: u64) {
    let start = Timestamp::from_civil(2023, 5, 22, 0, 0, 0, 0).unwrap();
    let span = DAYS * 86_400;
    // Groups of ten events share a mailbox and session: a sign-in, then nine mail records.
    let g = n / 10;
    let secs = (g * 10 * span) / total.max(1);
    let m = (g.wrapping_mul(2_654_435_761) % MAILBOXES as u64) as usize;
    let day = secs / 86_400;
    let hour = 8 + (g % 9);
    let t = start.add_seconds((day * 86_400 + hour * 3600 + (g % 50) * 60 + n % 10) as i64);
    ev.loc.line = n + 1;
    ev.loc.record_id = Some(n.to_string());
    ev.time = Some(t);
    ev.user = Some(p.mailboxes[m].clone());
    ev.session_id = Some(p.sessions[m * DAYS as usize + day as usize].clone());
    ev.client_ip = Some(p.ips[m % p.ips.len()]);
    if n.is_multiple_of(10) {
        // A sign-in backing the session.
        ev.source = SourceKind::EntraSignIn;
        ev.mail = None;
        ev.mailbox = None;
        ev.record_type = None;
        ev.operation = Some("SignIn".into());
        ev.sign_in = Some(SignIn {
            session_id: ev.session_id.clone(),
            error_code: Some(0),
            interactive: Some(g.is_multiple_of(3)),
            ..SignIn::default()
        });
    } else {
        ev.source = SourceKind::Ual;
        ev.sign_in = None;
        ev.record_type = Some(50);
        ev.operation = Some("MailItemsAccessed".into());
        ev.mailbox = ev.user.clone();
        ev.logon_type = Some(LogonType::Owner);
        ev.app_id = Some(
            if n.is_multiple_of(3) {
                "00000002-0000-0ff1-ce00-000000000000"
            } else {
                "5d661950-3475-41cd-a2c3-d671a3162bc1"
            }
            .into(),
        );
        ev.client_info = Some(
            if n.is_multiple_of(3) {
                "Client=OWA;Action=ViaProxy"
            } else {
                "Client=MSExchangeRPC"
            }
            .into(),
        );
        ev.mail = Some(MailAccess {
            access_type: Some(if n.is_multiple_of(7) {
                MailAccessType::Sync
            } else {
                MailAccessType::Bind
            }),
            throttled: false,
            operation_count: 1 + n % 5,
            folders: Vec::new(),
            items_lost: false,
        });
    }
}

pub(crate) fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The event `fill` rewrites in place.
pub(crate) fn base_event() -> Event {
    Event {
        loc: Location {
            file: Arc::from("bench.ndjson"),
            line: 0,
            record_id: None,
        },
        tenant: Some("b1e2c3d4-0000-4000-8000-000000000001".into()),
        workload: Some("Exchange".into()),
        outcome: Outcome::Success,
        ..Event::default()
    }
}
