//! What the fake serves: tenants with content blobs, sign-ins, directory audits and Purview
//! records shaped like Microsoft's published samples, generated from a seed; and the failures
//! to inject.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use stormwatch_core::Timestamp;

/// A content blob of the Activity API.
#[derive(Debug, Clone)]
pub struct Blob {
    /// `Audit.Exchange`, ...
    pub content_type: String,
    /// `contentId`.
    pub id: String,
    /// `contentCreated`: when it became available (listing windows select on it).
    pub created: Timestamp,
    /// `contentExpiration`.
    pub expires: Timestamp,
    /// The audit records inside.
    pub records: Vec<Value>,
}

/// One tenant of the fake.
#[derive(Debug, Clone, Default)]
pub struct FakeTenant {
    /// Directory id.
    pub id: String,
    /// The app's client id.
    pub client_id: String,
    /// Its client secret, if it has one.
    pub secret: Option<String>,
    /// Its certificate (DER), if it has one: `x5t` is checked against it.
    pub certificate_der: Option<Vec<u8>>,
    /// The certificate's public key (PKCS#1 DER): assertions are verified with it.
    pub public_key_der: Option<Vec<u8>>,
    /// Content types with an enabled subscription from the start.
    pub enabled: Vec<String>,
    /// Content blobs.
    pub blobs: Vec<Blob>,
    /// Interactive sign-ins (Graph `signIn`).
    pub sign_ins: Vec<Value>,
    /// Non-interactive sign-ins.
    pub non_interactive: Vec<Value>,
    /// Directory audits.
    pub directory_audits: Vec<Value>,
    /// Purview audit log records (`auditLogRecord` with `auditData`).
    pub audit_records: Vec<Value>,
}

/// Failures to inject.
#[derive(Debug, Clone)]
pub struct Inject {
    /// The first N list requests (Activity content listings and Graph lists) get 429 with
    /// `Retry-After`.
    pub throttle: usize,
    /// The first N blob fetches get 403 with `AF429` (how the Activity API throttles).
    pub af429: usize,
    /// Seconds in `Retry-After`.
    pub retry_after_secs: u64,
    /// Content ids answered with 500 this many times before they are served.
    pub blob_500: HashMap<String, usize>,
    /// Content ids answered with 500 every time.
    pub blob_500_always: HashSet<String>,
    /// Content ids answered `AF20051` (expired).
    pub expired: HashSet<String>,
    /// Content ids listed twice.
    pub listed_twice: HashSet<String>,
    /// Content ids listed again in the next hour's window too.
    pub listed_next_hour: HashSet<String>,
    /// Listings newest first (the API does not promise order).
    pub reverse_listing: bool,
    /// Sources answered 403 (Activity: `AF10001`; Graph: `Authorization_RequestDenied`).
    pub forbidden: HashSet<String>,
    /// A token is refused (401) after this many uses, as if it had expired early.
    pub revoke_after: Option<usize>,
    /// Purview windows (start, Unix seconds) whose query never finishes.
    pub stuck_queries: HashSet<i64>,
    /// Status checks before a query has `succeeded`.
    pub query_polls: u32,
    /// The token endpoint refuses every request, quoting the credential it was sent.
    pub echo_credentials: bool,
    /// After this many blobs were served, blob requests hang (a client to be killed).
    pub hang_after_blobs: Option<usize>,
    /// Sign-ins are refused as Graph refuses them to tenants without Entra ID P1/P2.
    pub non_premium: bool,
    /// Milliseconds every Activity API and Graph request takes.
    pub latency_ms: u64,
    /// Graph pages link to a host that is not Graph's.
    pub foreign_next_link: bool,
    /// Content ids answered with a body that is not JSON.
    pub garbage_blobs: HashSet<String>,
}

impl Default for Inject {
    fn default() -> Self {
        Inject {
            throttle: 0,
            af429: 0,
            retry_after_secs: 1,
            blob_500: HashMap::new(),
            blob_500_always: HashSet::new(),
            expired: HashSet::new(),
            listed_twice: HashSet::new(),
            listed_next_hour: HashSet::new(),
            reverse_listing: false,
            forbidden: HashSet::new(),
            revoke_after: None,
            stuck_queries: HashSet::new(),
            query_polls: 1,
            echo_credentials: false,
            hang_after_blobs: None,
            non_premium: false,
            latency_ms: 0,
            foreign_next_link: false,
            garbage_blobs: HashSet::new(),
        }
    }
}

/// Everything the fake serves.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Tenants.
    pub tenants: Vec<FakeTenant>,
    /// `expires_in` of issued tokens, seconds.
    pub token_lifetime_secs: u64,
    /// Items per page of listings and Graph lists.
    pub page_size: usize,
    /// Failures to inject.
    pub inject: Inject,
}

/// A small deterministic generator (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// Next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// In `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A GUID.
    pub fn guid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Content types of the Activity API.
pub const CONTENT_TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

/// The API's `CreationTime` form (no zone).
fn creation_time(t: Timestamp) -> String {
    let s = Timestamp::from_unix_seconds(t.unix_seconds()).to_string();
    s.trim_end_matches('Z').to_owned()
}

fn ip(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        20 + rng.below(180),
        rng.below(256),
        rng.below(256),
        1 + rng.below(250)
    )
}

/// An audit record of a content type, after the Management Activity API schema's samples.
pub fn ual_record(rng: &mut Rng, tenant: &str, content_type: &str, at: Timestamp) -> Value {
    let user = format!("user{}@contoso.onmicrosoft.com", rng.below(20));
    let base = json!({
        "CreationTime": creation_time(at),
        "Id": rng.guid(),
        "OrganizationId": tenant,
        "UserType": 0,
        "UserKey": format!("1003BFFD{:08X}", rng.below(1 << 31)),
        "UserId": user,
        "ClientIP": ip(rng),
    });
    let mut v = base;
    let extra = match content_type {
        "Audit.Exchange" if rng.below(3) > 0 => json!({
            "RecordType": 50,
            "Operation": "MailItemsAccessed",
            "Workload": "Exchange",
            "ResultStatus": "Succeeded",
            "LogonType": 0,
            "MailboxOwnerUPN": user,
            "ClientInfoString": "Client=REST;Client=RESTSystem;;",
            "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}],
            "OperationCount": 1 + rng.below(4),
            "Folders": [{"Id": format!("LgAAAAB{}", rng.below(1 << 30)), "Path": "\\Inbox",
                "FolderItems": [{"InternetMessageId": format!("<{}@contoso.com>", rng.guid()), "SizeInBytes": 1000 + rng.below(90_000)}]}],
        }),
        "Audit.Exchange" => json!({
            "RecordType": 1,
            "Operation": "Set-Mailbox",
            "Workload": "Exchange",
            "ResultStatus": "True",
            "ObjectId": user,
            "Parameters": [{"Name": "Identity", "Value": user}, {"Name": "AuditEnabled", "Value": "True"}],
        }),
        "Audit.AzureActiveDirectory" => json!({
            "RecordType": 15,
            "Operation": "UserLoggedIn",
            "Workload": "AzureActiveDirectory",
            "ResultStatus": "Success",
            "ObjectId": "00000002-0000-0ff1-ce00-000000000000",
            "AzureActiveDirectoryEventType": 1,
            "ExtendedProperties": [{"Name": "UserAgent", "Value": "Mozilla/5.0"}, {"Name": "RequestType", "Value": "OAuth2:Authorize"}],
            "ApplicationId": "00000002-0000-0ff1-ce00-000000000000",
        }),
        "Audit.SharePoint" => json!({
            "RecordType": 6,
            "Operation": "FileAccessed",
            "Workload": "SharePoint",
            "ObjectId": format!("https://contoso.sharepoint.com/sites/s/Shared Documents/f{}.docx", rng.below(100)),
            "SourceFileName": "f.docx",
        }),
        "DLP.All" => json!({
            "RecordType": 13,
            "Operation": "DlpRuleMatch",
            "Workload": "Exchange",
        }),
        _ => json!({
            "RecordType": 25,
            "Operation": "MemberAdded",
            "Workload": "MicrosoftTeams",
            "Members": [{"UPN": user, "Role": 1}],
        }),
    };
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

/// A Graph `signIn`, after `signin-list.md`'s sample.
pub fn sign_in(rng: &mut Rng, tenant: &str, at: Timestamp, interactive: bool) -> Value {
    json!({
        "id": rng.guid(),
        "createdDateTime": at.to_string(),
        "userDisplayName": "Test Contoso",
        "userPrincipalName": format!("user{}@contoso.onmicrosoft.com", rng.below(20)),
        "userId": rng.guid(),
        "appId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
        "appDisplayName": "Graph explorer",
        "ipAddress": ip(rng),
        "clientAppUsed": "Browser",
        "correlationId": rng.guid(),
        "conditionalAccessStatus": "notApplied",
        "isInteractive": interactive,
        "signInEventTypes": [if interactive { "interactiveUser" } else { "nonInteractiveUser" }],
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": "00000003-0000-0000-c000-000000000000",
        "resourceTenantId": tenant,
        "homeTenantId": tenant,
        "uniqueTokenIdentifier": format!("ZTE0OTk3YTQtZjg5Mi00YjBiLWIwNTEtZmViZTA1YzJh{}", rng.below(1000)),
        "status": {"errorCode": if rng.below(5) == 0 { 50126 } else { 0 }, "failureReason": null, "additionalDetails": null},
        "location": {"city": "Redmond", "state": "Washington", "countryOrRegion": "US"},
    })
}

/// A Graph `directoryAudit`, after `directoryaudit-list.md`'s sample.
pub fn directory_audit(rng: &mut Rng, at: Timestamp) -> Value {
    json!({
        "id": format!("Directory_{}_{}", rng.guid(), rng.below(100_000)),
        "category": "UserManagement",
        "correlationId": rng.guid(),
        "result": "success",
        "resultReason": "Successfully added member to group",
        "activityDisplayName": "Add member to group",
        "activityDateTime": at.to_string(),
        "loggedByService": "Core Directory",
        "initiatedBy": {"user": {"id": rng.guid(), "displayName": "Audry Oliver",
            "userPrincipalName": "bob@wingtiptoysonline.com", "ipAddress": ip(rng)}, "app": null},
        "targetResources": [{"id": rng.guid(), "displayName": "Example.com", "type": "Group", "modifiedProperties": []}],
        "additionalDetails": [],
    })
}

/// A Purview `auditLogRecord` carrying a UAL record in `auditData`.
pub fn audit_log_record(rng: &mut Rng, tenant: &str, at: Timestamp) -> Value {
    let ual = ual_record(rng, tenant, "Audit.Exchange", at);
    let op = ual["Operation"].clone();
    json!({
        "id": rng.guid(),
        "createdDateTime": at.to_string(),
        "auditLogRecordType": if op == "MailItemsAccessed" { "exchangeItemAggregated" } else { "exchangeAdmin" },
        "operation": op,
        "organizationId": tenant,
        "userType": "regular",
        "userId": ual["UserId"].clone(),
        "service": "Exchange",
        "objectId": "",
        "userPrincipalName": ual["UserId"].clone(),
        "clientIp": ual["ClientIP"].clone(),
        "administrativeUnits": [],
        "auditData": ual,
    })
}

impl Scenario {
    /// A tenant with a client secret, every content type subscribed but `DLP.All`, and `hours`
    /// of activity ending an hour before `now`: two or three blobs per content type and hour
    /// (records older than their blob, one record repeated in a second blob), sign-ins and
    /// directory audits every hour, and Purview records from nine to eight days ago.
    #[must_use]
    pub fn generate(seed: u64, tenant: &str, secret: &str, now: Timestamp, hours: i64) -> Scenario {
        let mut rng = Rng::new(seed);
        let mut t = FakeTenant {
            id: tenant.to_owned(),
            client_id: "6e4a7c59-0b8e-4a49-9d6f-3f8a1c2b0d11".to_owned(),
            secret: Some(secret.to_owned()),
            enabled: CONTENT_TYPES[..4].iter().map(|s| (*s).to_owned()).collect(),
            ..FakeTenant::default()
        };
        let top = now.unix_seconds() / 3600 * 3600 - 3600;
        let mut repeated: Option<Value> = None;
        for h in 0..hours {
            let hour = Timestamp::from_unix_seconds(top - (hours - h) * 3600);
            for ct in &CONTENT_TYPES[..4] {
                let blobs = 2 + rng.below(2);
                for b in 0..blobs {
                    let created =
                        hour.add_seconds(i64::try_from(b * 1200 + rng.below(600)).unwrap_or(0));
                    let n = 1 + rng.below(5);
                    let mut records: Vec<Value> = (0..n)
                        .map(|_| {
                            let back = i64::try_from(rng.below(5400)).unwrap_or(0);
                            ual_record(&mut rng, tenant, ct, created.add_seconds(-back))
                        })
                        .collect();
                    if let Some(r) = repeated.take() {
                        records.push(r);
                    } else if *ct == "Audit.Exchange" && b == 0 {
                        repeated = records.first().cloned();
                    }
                    t.blobs.push(Blob {
                        content_type: (*ct).to_owned(),
                        id: format!(
                            "{}${}${}{}${}$04",
                            created.unix_seconds(),
                            created.unix_seconds(),
                            tenant.replace('-', ""),
                            ct.to_ascii_lowercase().replace('.', "_"),
                            rng.below(1 << 40)
                        ),
                        created,
                        expires: created.add_seconds(7 * 86_400),
                        records,
                    });
                }
            }
            for k in 0..3 {
                let at = hour.add_seconds(i64::try_from(k * 1000 + rng.below(900)).unwrap_or(0));
                t.sign_ins.push(sign_in(&mut rng, tenant, at, true));
                t.non_interactive
                    .push(sign_in(&mut rng, tenant, at.add_seconds(7), false));
            }
            for k in 0..2 {
                let at = hour.add_seconds(i64::try_from(k * 1700 + rng.below(900)).unwrap_or(0));
                t.directory_audits.push(directory_audit(&mut rng, at));
            }
        }
        let old = now.add_seconds(-9 * 86_400);
        for k in 0..12 {
            let at = old.add_seconds(k * 7200 + i64::try_from(rng.below(3600)).unwrap_or(0));
            t.audit_records.push(audit_log_record(&mut rng, tenant, at));
        }
        Scenario {
            tenants: vec![t],
            token_lifetime_secs: 3599,
            page_size: 3,
            inject: Inject::default(),
        }
    }

    /// The blobs of a content type of the first tenant.
    #[must_use]
    pub fn blobs_of(&self, content_type: &str) -> Vec<&Blob> {
        self.tenants
            .first()
            .map(|t| {
                t.blobs
                    .iter()
                    .filter(|b| b.content_type == content_type)
                    .collect()
            })
            .unwrap_or_default()
    }
}
