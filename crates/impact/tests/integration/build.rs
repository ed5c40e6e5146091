//! A small builder of normalised events.

use std::collections::BTreeSet;
use std::sync::Arc;

use stormwatch_core::{
    Event, FolderAccess, ImpactReport, InputStats, Location, MailAccess, MailAccessType,
    MessageRef, SignIn, Timestamp,
};
use stormwatch_impact::{Assessor, ImpactOptions, Seeds};

pub(crate) struct B(pub(crate) Event);

pub(crate) fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn base(time: &str, tenant: &str, line: u64) -> Event {
    Event {
        loc: Location {
            file: Arc::from("test.ndjson"),
            line,
            record_id: Some(format!("r{line}")),
        },
        time: Some(t(time)),
        tenant: Some(tenant.to_owned()),
        ..Event::default()
    }
}

/// A `MailItemsAccessed` record.
pub(crate) fn mia(line: u64, time: &str, tenant: &str, mailbox: &str) -> B {
    let mut e = base(time, tenant, line);
    e.workload = Some("Exchange".into());
    e.record_type = Some(50);
    e.operation = Some("MailItemsAccessed".into());
    e.mailbox = Some(mailbox.to_owned());
    e.user = Some(mailbox.to_owned());
    e.mail = Some(MailAccess {
        access_type: Some(MailAccessType::Bind),
        operation_count: 1,
        ..MailAccess::default()
    });
    B(e)
}

/// Another Exchange mailbox record (not `MailItemsAccessed`).
pub(crate) fn exch(line: u64, time: &str, tenant: &str, mailbox: &str, op: &str) -> B {
    let mut e = base(time, tenant, line);
    e.workload = Some("Exchange".into());
    e.operation = Some(op.into());
    e.mailbox = Some(mailbox.to_owned());
    e.user = Some(mailbox.to_owned());
    B(e)
}

/// An Entra sign-in.
pub(crate) fn sign_in(
    line: u64,
    time: &str,
    tenant: &str,
    user: &str,
    session: &str,
    ip: &str,
) -> B {
    let mut e = base(time, tenant, line);
    e.workload = Some("AzureActiveDirectory".into());
    e.operation = Some("SignIn".into());
    e.user = Some(user.to_owned());
    e.client_ip = ip.parse().ok();
    e.sign_in = Some(SignIn {
        session_id: Some(session.to_owned()),
        ..SignIn::default()
    });
    B(e)
}

impl B {
    pub(crate) fn ip(mut self, ip: &str) -> Self {
        self.0.client_ip = ip.parse().ok();
        self
    }
    pub(crate) fn session(mut self, s: &str) -> Self {
        self.0.session_id = Some(s.to_owned());
        self
    }
    pub(crate) fn app(mut self, s: &str) -> Self {
        self.0.client_app_id = Some(s.to_owned());
        self
    }
    pub(crate) fn ua(mut self, s: &str) -> Self {
        self.0.client_info = Some(s.to_owned());
        self
    }
    fn mail(&mut self) -> &mut MailAccess {
        self.0.mail.as_mut().unwrap()
    }
    /// Bind of messages `(id, size)` in a folder (call again for more folders).
    pub(crate) fn bind(mut self, folder: &str, items: &[(&str, u64)]) -> Self {
        let m = self.mail();
        m.access_type = Some(MailAccessType::Bind);
        m.folders.push(FolderAccess {
            id: None,
            path: folder.to_owned(),
            items: items
                .iter()
                .map(|(id, sz)| MessageRef {
                    internet_message_id: (*id).to_owned(),
                    size_bytes: Some(*sz),
                })
                .collect(),
        });
        let n: u64 = m.folders.iter().map(|f| f.items.len() as u64).sum();
        m.operation_count = n.max(1);
        self
    }
    pub(crate) fn sync(mut self, folder: &str) -> Self {
        let m = self.mail();
        m.access_type = Some(MailAccessType::Sync);
        m.folders.push(FolderAccess {
            id: None,
            path: folder.to_owned(),
            items: vec![],
        });
        self
    }
    pub(crate) fn op_count(mut self, n: u64) -> Self {
        self.mail().operation_count = n;
        self
    }
    pub(crate) fn throttled(mut self) -> Self {
        self.mail().throttled = true;
        self
    }
    pub(crate) fn items_lost(mut self) -> Self {
        self.mail().items_lost = true;
        self
    }
    pub(crate) fn org_name(mut self, n: &str) -> Self {
        self.0.org_name = Some(n.to_owned());
        self
    }
    pub(crate) fn ev(self) -> Event {
        self.0
    }
}

pub(crate) fn seeds_ip(ip: &str) -> Seeds {
    Seeds {
        ips: vec![ip.to_owned()],
        ..Seeds::default()
    }
}

pub(crate) fn expand() -> ImpactOptions {
    ImpactOptions {
        expand: true,
        ..ImpactOptions::default()
    }
}

pub(crate) fn run(events: &[Event], seeds: &Seeds, opts: &ImpactOptions) -> ImpactReport {
    run_with(events, seeds, opts, &InputStats::default())
}

pub(crate) fn run_with(
    events: &[Event],
    seeds: &Seeds,
    opts: &ImpactOptions,
    stats: &InputStats,
) -> ImpactReport {
    let mut a = Assessor::new();
    for e in events {
        a.observe(e);
    }
    a.finish(seeds, opts, stats)
}

/// The (mailbox, InternetMessageId) pairs of a report.
pub(crate) fn pairs(r: &ImpactReport) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for o in &r.organizations {
        for m in &o.mailboxes {
            for f in &m.folders {
                for msg in &f.messages {
                    out.insert((m.mailbox.clone(), msg.internet_message_id.clone()));
                }
            }
        }
    }
    out
}

pub(crate) fn set(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// Deterministic Fisher–Yates with a small LCG.
pub(crate) fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = usize::try_from((seed >> 33) % (i as u64 + 1)).unwrap();
        v.swap(i, j);
    }
}
