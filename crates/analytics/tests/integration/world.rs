//! A month of mail life in one tenant with a planted Storm-0558-style intrusion and four
//! look-alike decoys, built from events in code.

use std::collections::BTreeSet;

use stormwatch_core::{Event, Location, LogonType};

use crate::testkit::{EVIL_APP, Ev, GRAPH, OWA, TENANT, at, number};

/// What each record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tag {
    Normal,
    Actor,
    DecoyInstall,
    DecoyIoc,
    DecoyDelegate,
    DecoyMigration,
}

pub(crate) struct World {
    pub(crate) events: Vec<Event>,
    pub(crate) tags: Vec<Tag>,
}

impl World {
    pub(crate) fn locs(&self, tag: Tag) -> BTreeSet<Location> {
        self.events
            .iter()
            .zip(&self.tags)
            .filter(|(_, t)| **t == tag)
            .map(|(e, _)| e.loc.clone())
            .collect()
    }
    pub(crate) fn without_sign_ins(&self) -> Vec<Event> {
        self.events
            .iter()
            .filter(|e| e.sign_in.is_none())
            .cloned()
            .collect()
    }
}

const USERS: [&str; 8] = [
    "ambassador@agency.example",
    "envoy@agency.example",
    "attache@agency.example",
    "clerk@agency.example",
    "analyst@agency.example",
    "pa@agency.example",
    "newbie@agency.example",
    "roamer@agency.example",
];
const OFFICE: &str = "198.51.100.10";
const OUTLOOK_DESKTOP: &str = "d3590ed6-52b3-4102-aeff-aad2292ab01c";
const MIGRATION_APP: &str = "77777777-8888-9999-aaaa-bbbbbbbbbbbb";

struct B {
    ev: Vec<Event>,
    tags: Vec<Tag>,
}

impl B {
    fn push(&mut self, e: Event, t: Tag) {
        self.ev.push(e);
        self.tags.push(t);
    }
    /// A sign-in just before `time` (minute `m - 2`), then the record.
    #[allow(clippy::too_many_arguments)]
    fn backed(
        &mut self,
        d: u32,
        h: u32,
        m: u32,
        user: &str,
        session: &str,
        ip: &str,
        interactive: bool,
        rec: Event,
        t: Tag,
    ) {
        self.push(
            Ev::sign_in(&at(d, h, m.saturating_sub(2)), user)
                .session(session)
                .ip(ip)
                .interactive(interactive)
                .build(),
            t,
        );
        self.push(rec, t);
    }
}

/// Day 0 is Monday 2023-05-22 in this world (at() counts from 2023-05-01, so add 21).
fn day(d: u32) -> u32 {
    d + 21
}

fn weekday(d: u32) -> bool {
    d % 7 < 5
}

pub(crate) fn build() -> World {
    let mut b = B {
        ev: Vec::new(),
        tags: Vec::new(),
    };
    for d in 0..32u32 {
        let wd = weekday(d);
        let dd = day(d);
        for (ui, &u) in USERS.iter().enumerate() {
            if !wd && ui % 3 != 0 {
                continue;
            }
            // Desktop Outlook: weekly session, Sync of Inbox and Sent Items at 08:xx, Binds.
            let desktop = !(u.starts_with("newbie") && d < 20);
            let (dip, dtag) = if u.starts_with("newbie") {
                ("198.18.250.7", Tag::DecoyInstall)
            } else {
                (OFFICE, Tag::Normal)
            };
            if desktop {
                let s = format!("desk-{ui}-{}", d / 7);
                let first = d % 7 == 0 || (u.starts_with("newbie") && d == 20);
                for (k, f) in ["\\Inbox", "\\Sent Items"].iter().enumerate() {
                    let rec = Ev::mail(&at(dd, 8, 10 + k as u32), u)
                        .session(&s)
                        .ip(dip)
                        .app(OUTLOOK_DESKTOP)
                        .client("Client=MSExchangeRPC")
                        .sync(f)
                        .build();
                    b.backed(dd, 8, 10 + k as u32, u, &s, dip, first && k == 0, rec, dtag);
                }
                for h in [10, 14] {
                    let rec = Ev::mail(&at(dd, h, 20), u)
                        .session(&s)
                        .ip(dip)
                        .app(OUTLOOK_DESKTOP)
                        .client("Client=MSExchangeRPC")
                        .build();
                    b.backed(dd, h, 20, u, &s, dip, false, rec, dtag);
                }
            }
            // OWA: a daily session from the office (or home for the roamer).
            let ip = if u.starts_with("roamer") {
                "203.0.113.40"
            } else {
                OFFICE
            };
            let s = format!("owa-{ui}-{d}");
            for (k, h) in [9, 11, 15].iter().enumerate() {
                let rec = Ev::mail(&at(dd, *h, 30), u)
                    .session(&s)
                    .ip(ip)
                    .app(OWA)
                    .client("Client=OWA;Action=ViaProxy")
                    .build();
                b.backed(dd, *h, 30, u, &s, ip, k == 0, rec, Tag::Normal);
            }
            // Some other Exchange activity.
            b.push(
                Ev::exchange(&at(dd, 12, 0), u, "Send")
                    .session(&s)
                    .ip(ip)
                    .build(),
                Tag::Normal,
            );
        }
        // Nightly archiver over every mailbox (long-standing non-owner reader).
        let s = format!("arch-{d}");
        for (k, &u) in USERS.iter().enumerate() {
            let rec = Ev::mail(&at(dd, 2, 3 * k as u32 + 2), u)
                .user("archiver@agency.example")
                .logon(LogonType::Admin)
                .session(&s)
                .ip("198.19.200.10")
                .app(GRAPH)
                .client_app("99999999-0000-4000-8000-00000000aaaa")
                .build();
            b.backed(
                dd,
                2,
                3 * k as u32 + 2,
                "archiver@agency.example",
                &s,
                "198.19.200.10",
                k == 0,
                rec,
                Tag::Normal,
            );
        }
        // The PA reads the ambassador's mailbox every working day.
        if wd {
            let s = format!("owa-5-{d}");
            let rec = Ev::mail(&at(dd, 13, 10), USERS[0])
                .user(USERS[5])
                .logon(LogonType::Delegated)
                .session(&s)
                .ip(OFFICE)
                .app(OWA)
                .client("Client=OWA;Action=ViaProxy")
                .build();
            b.backed(dd, 13, 10, USERS[5], &s, OFFICE, false, rec, Tag::Normal);
        }
    }
    // Decoy: a new delegate (the analyst) reads the ambassador's mailbox from day 16, with sign-ins.
    for d in 16..32u32 {
        if weekday(d) {
            let s = format!("owa-4-{d}");
            let rec = Ev::mail(&at(day(d), 16, 40), USERS[0])
                .user(USERS[4])
                .logon(LogonType::Delegated)
                .session(&s)
                .ip(OFFICE)
                .app(OWA)
                .client("Client=OWA;Action=ViaProxy")
                .build();
            b.backed(
                day(d),
                16,
                40,
                USERS[4],
                &s,
                OFFICE,
                false,
                rec,
                Tag::DecoyDelegate,
            );
        }
    }
    // Decoy: IOC IPs far outside (5.252.176.8 known 7/1 only; day 29 = 6/20) and just outside
    // (37.143.130.146 known 5/12–5/19; day 2 = 5/24) their windows, with sign-ins.
    for (d, ip) in [(29u32, "5.252.176.8"), (2, "37.143.130.146")] {
        let s = format!("travel-{d}");
        for k in 0..3u32 {
            let rec = Ev::mail(&at(day(d), 11, 5 + 7 * k), USERS[3])
                .session(&s)
                .ip(ip)
                .app(OWA)
                .client("Client=OWA;Action=ViaProxy")
                .build();
            b.backed(
                day(d),
                11,
                5 + 7 * k,
                USERS[3],
                &s,
                ip,
                k == 0,
                rec,
                Tag::DecoyIoc,
            );
        }
    }
    // Decoy: a migration account bulk-reads every mailbox on days 17 and 18, with sign-ins.
    for d in [17u32, 18] {
        let s = format!("mig-{d}");
        let mut m = 0;
        for &u in &USERS {
            for _ in 0..3 {
                let rec = Ev::mail(&at(day(d), 10 + m / 60, m % 60), u)
                    .user("migrate@agency.example")
                    .logon(LogonType::Admin)
                    .session(&s)
                    .ip("198.19.201.7")
                    .app(GRAPH)
                    .client_app(MIGRATION_APP)
                    .client("Client=REST;Client=RESTSystem;;")
                    .ops(180)
                    .build();
                b.backed(
                    day(d),
                    10 + m / 60,
                    m % 60,
                    "migrate@agency.example",
                    &s,
                    "198.19.201.7",
                    m == 0,
                    rec,
                    Tag::DecoyMigration,
                );
                m += 4;
            }
        }
    }
    // The intrusion: forged tokens (no sign-ins), IOC IPs inside their windows, the actor's
    // app and REST scripts, weekday nights; three mailboxes; one throttled record; one Sync.
    let actor = [
        ("forged-a", "51.89.156.153", false),
        ("forged-b", "176.31.90.129", true),
        ("forged-c", "185.195.200.39", false),
    ];
    let targets = [USERS[0], USERS[1], USERS[2]];
    let mut n = 0u32;
    for d in 14..32u32 {
        if !weekday(d) {
            continue;
        }
        let (s, ip, consumer) = actor[(d as usize) % 3];
        let mbx = targets[(d as usize) % 3];
        for k in 0..4u32 {
            let mut e = Ev::mail(&at(day(d), 1 + k, 7 * k), mbx)
                .session(s)
                .uti(&format!("uti-{s}-{d}"))
                .ip(ip)
                .app(OWA)
                .client_app(EVIL_APP)
                .client("Client=REST;Client=RESTSystem;;")
                .ops(u64::from(1 + k));
            if consumer {
                e = e.token_tenant(crate::testkit::CONSUMER);
            } else {
                e = e.token_tenant(TENANT);
            }
            if n == 7 {
                e = e.throttled().ops(50);
            }
            if n == 9 {
                e = e.sync("\\Sent Items");
            }
            n += 1;
            b.push(e.build(), Tag::Actor);
        }
    }
    number(&mut b.ev);
    World {
        events: b.ev,
        tags: b.tags,
    }
}
