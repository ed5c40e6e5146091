//! Building events in tests (used by unit tests, integration tests and the benchmark).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;

use stormwatch_core::{
    Event, FolderAccess, Location, LogonType, MailAccess, MailAccessType, MessageRef, Outcome,
    SignIn, SourceKind, Timestamp,
};

pub const TENANT: &str = "b1e2c3d4-0000-4000-8000-000000000001";
pub const OUTLOOK: &str = "5d661950-3475-41cd-a2c3-d671a3162bc1";
pub const OWA: &str = "00000002-0000-0ff1-ce00-000000000000";
pub const GRAPH: &str = "00000003-0000-0000-c000-000000000000";
pub const EVIL_APP: &str = "11111111-2222-3333-4444-555555555555";
pub const CONSUMER: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// An event under construction.
#[derive(Debug, Clone)]
pub struct Ev(pub Event);

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap_or_default()
}

impl Ev {
    fn base(time: &str) -> Event {
        Event {
            loc: Location {
                file: Arc::from("test.json"),
                line: 0,
                record_id: None,
            },
            source: SourceKind::Ual,
            raw: String::from("{}"),
            time: Some(t(time)),
            tenant: Some(TENANT.to_owned()),
            outcome: Outcome::Success,
            ..Event::default()
        }
    }

    /// A MailItemsAccessed Bind by the mailbox owner through Outlook.
    pub fn mail(time: &str, mailbox: &str) -> Ev {
        let mut e = Self::base(time);
        e.workload = Some("Exchange".into());
        e.record_type = Some(50);
        e.operation = Some("MailItemsAccessed".into());
        e.user = Some(mailbox.to_owned());
        e.mailbox = Some(mailbox.to_owned());
        e.logon_type = Some(LogonType::Owner);
        e.app_id = Some(OUTLOOK.into());
        e.client_info = Some("Client=MSExchangeRPC".into());
        e.mail = Some(MailAccess {
            access_type: Some(MailAccessType::Bind),
            throttled: false,
            operation_count: 1,
            folders: vec![FolderAccess {
                id: None,
                path: "\\Inbox".into(),
                items: vec![MessageRef {
                    internet_message_id: format!("<{time}@x>"),
                    size_bytes: Some(100),
                }],
            }],
            items_lost: false,
        });
        Ev(e)
    }

    /// A successful interactive sign-in.
    pub fn sign_in(time: &str, user: &str) -> Ev {
        let mut e = Self::base(time);
        e.source = SourceKind::EntraSignIn;
        e.workload = Some("AzureActiveDirectory".into());
        e.operation = Some("SignIn".into());
        e.user = Some(user.to_owned());
        e.sign_in = Some(SignIn {
            error_code: Some(0),
            interactive: Some(true),
            ..SignIn::default()
        });
        Ev(e)
    }

    /// Another Exchange record (e.g. `Send`, `Set-MailboxAuditBypassAssociation`).
    pub fn exchange(time: &str, user: &str, operation: &str) -> Ev {
        let mut e = Self::base(time);
        e.workload = Some("Exchange".into());
        e.record_type = Some(2);
        e.operation = Some(operation.to_owned());
        e.user = Some(user.to_owned());
        Ev(e)
    }

    pub fn user(mut self, u: &str) -> Self {
        self.0.user = Some(u.into());
        self
    }
    pub fn mailbox(mut self, m: &str) -> Self {
        self.0.mailbox = Some(m.into());
        self
    }
    pub fn session(mut self, s: &str) -> Self {
        self.0.session_id = Some(s.into());
        if let Some(si) = self.0.sign_in.as_mut() {
            si.session_id = Some(s.into());
        }
        self
    }
    pub fn uti(mut self, s: &str) -> Self {
        self.0.unique_token_id = Some(s.into());
        if let Some(si) = self.0.sign_in.as_mut() {
            si.unique_token_id = Some(s.into());
        }
        self
    }
    pub fn ip(mut self, ip: &str) -> Self {
        self.0.client_ip = ip.parse().ok();
        self
    }
    pub fn app(mut self, a: &str) -> Self {
        self.0.app_id = Some(a.into());
        self
    }
    pub fn client_app(mut self, a: &str) -> Self {
        self.0.client_app_id = Some(a.into());
        self
    }
    pub fn client(mut self, c: &str) -> Self {
        self.0.client_info = Some(c.into());
        self
    }
    pub fn logon(mut self, l: LogonType) -> Self {
        self.0.logon_type = Some(l);
        self
    }
    pub fn sync(mut self, folder: &str) -> Self {
        if let Some(m) = self.0.mail.as_mut() {
            m.access_type = Some(MailAccessType::Sync);
            m.folders = vec![FolderAccess {
                id: None,
                path: folder.into(),
                items: vec![],
            }];
        }
        self
    }
    pub fn ops(mut self, n: u64) -> Self {
        if let Some(m) = self.0.mail.as_mut() {
            m.operation_count = n;
        }
        self
    }
    pub fn throttled(mut self) -> Self {
        if let Some(m) = self.0.mail.as_mut() {
            m.throttled = true;
        }
        self
    }
    pub fn tenant(mut self, tn: &str) -> Self {
        self.0.tenant = Some(tn.into());
        self
    }
    pub fn token_tenant(mut self, tn: &str) -> Self {
        self.0.token_tenant = Some(tn.into());
        self
    }
    pub fn record_type(mut self, rt: u32) -> Self {
        self.0.record_type = Some(rt);
        self
    }
    pub fn raw(mut self, raw: &str) -> Self {
        self.0.raw = raw.into();
        self
    }
    pub fn interactive(mut self, i: bool) -> Self {
        if let Some(si) = self.0.sign_in.as_mut() {
            si.interactive = Some(i);
        }
        self
    }
    pub fn failed(mut self) -> Self {
        if let Some(si) = self.0.sign_in.as_mut() {
            si.error_code = Some(50126);
        }
        self.0.outcome = Outcome::Failure;
        self
    }
    pub fn file(mut self, f: &str) -> Self {
        self.0.loc.file = Arc::from(f);
        self
    }
    pub fn build(self) -> Event {
        self.0
    }
}

/// Give every event a distinct location (`file:line`, record id `r<line>`).
pub fn number(events: &mut [Event]) {
    for (i, e) in events.iter_mut().enumerate() {
        let n = i as u64 + 1;
        e.loc.line = n;
        e.loc.record_id = Some(format!("r{n}"));
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for day `d` (0 = 2023-05-01) at `h:m`.
pub fn at(d: u32, h: u32, m: u32) -> String {
    let base = Timestamp::from_civil(2023, 5, 1, 0, 0, 0, 0).unwrap_or_default();
    base.add_seconds(i64::from(d) * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60)
        .to_string()
}

/// Deterministic shuffle (xorshift), for order-independence tests.
pub fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}
