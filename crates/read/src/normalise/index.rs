//! One pass over a record's keys into fixed slots, so the normalisers' many lookups (most of
//! them misses: `ClientIP` vs `ClientIPAddress` vs `Client_IPAddress` …) cost a hash and one
//! comparison each instead of a scan over every key.

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

/// The keys the normalisers look up on the hot path.
const KEYS: &[&str] = &[
    "CreationTime",
    "TimeGenerated",
    "CreationDate",
    "Id",
    "OfficeId",
    "RecordId",
    "SourceRecordId",
    "OrganizationId",
    "TenantId",
    "OrganizationId_",
    "OrganizationName",
    "Workload",
    "OfficeWorkload",
    "RecordType",
    "Operation",
    "Operations",
    "ResultStatus",
    "UserId",
    "UserIds",
    "UserId_",
    "UserType",
    "MailboxOwnerUPN",
    "MailboxGuid",
    "ClientIPAddress",
    "ClientIP",
    "Client_IPAddress",
    "ActorIpAddress",
    "ActorIP",
    "IPAddress",
    "AppAccessContext",
    "SessionId",
    "UniqueTokenId",
    "UniqueTokenIdentifier",
    "AppId",
    "ClientAppId",
    "ClientInfoString",
    "ActorInfoString",
    "UserAgent",
    "ExtendedProperties",
    "LogonType",
    "Logon_Type",
    "InternalLogonType",
    "TokenTenantId",
    "OperationProperties",
    "Folders",
    "OperationCount",
    "MailAccessType",
    "IsThrottled",
    "RawEventData",
    "auditData",
    "auditLogRecordType",
    "Event",
    "category",
    "properties",
    "Type",
    "activityDisplayName",
    "ActivityDisplayName",
    "initiatedBy",
    "InitiatedBy",
    "targetResources",
    "createdDateTime",
    "userPrincipalName",
    "appId",
    "status",
    "ipAddress",
    "isInteractive",
    "resourceId",
    "uniqueTokenIdentifier",
    "Timestamp",
    "ActionType",
    "UserAgent_string",
    "AccountUpn",
    "AccountObjectId",
    "OAuthAppId",
    "ReportId",
    "rawData",
    "id",
    "organizationId",
    "service",
    "operation",
    "userId",
    "userType",
    "clientIp",
    "resultStatus",
];

const N: usize = KEYS.len();
const BUCKETS: usize = 1024;

/// FNV-1a with a seed chosen so that no two of [`KEYS`] share a bucket (checked at compile
/// time by [`TABLE`]).
#[inline]
const fn hash(k: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_23af;
    let mut i = 0;
    while i < k.len() {
        h = (h ^ k[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    ((h >> 20) % BUCKETS as u64) as usize
}

/// Bucket → slot + 1 (0: no key), built at compile time; building fails on a collision.
const TABLE: [u8; BUCKETS] = {
    let mut t = [0u8; BUCKETS];
    let mut i = 0;
    while i < N {
        let h = hash(KEYS[i].as_bytes());
        assert!(t[h] == 0, "two keys share a bucket: change the hash");
        #[allow(clippy::cast_possible_truncation)]
        {
            t[h] = (i + 1) as u8;
        }
        i += 1;
    }
    t
};

#[inline]
fn slot_of(k: &str) -> Option<usize> {
    let s = usize::from(TABLE[hash(k.as_bytes())]);
    (s != 0 && KEYS[s - 1] == k).then(|| s - 1)
}

/// Lookup by key, for a plain value or an indexed record.
pub(crate) trait Obj {
    /// The value under `k`, if present.
    fn field_raw(&self, k: &str) -> Option<&Value>;
    /// The record itself.
    fn value(&self) -> &Value;
}

impl Obj for Value {
    fn field_raw(&self, k: &str) -> Option<&Value> {
        self.get(k)
    }
    fn value(&self) -> &Value {
        self
    }
}

/// A record with its known keys in slots (first occurrence wins, as with `Value::get`).
pub(crate) struct Rec<'v> {
    v: &'v Value,
    slots: [Option<&'v Value>; N],
}

impl<'v> Rec<'v> {
    pub(crate) fn new(v: &'v Value) -> Self {
        let mut slots = [None; N];
        if let Some(obj) = v.as_object() {
            for (k, x) in obj.iter() {
                if let Some(s) = slot_of(k)
                    && slots[s].is_none()
                {
                    slots[s] = Some(x);
                }
            }
        }
        Rec { v, slots }
    }
}

impl Obj for Rec<'_> {
    fn field_raw(&self, k: &str) -> Option<&Value> {
        match slot_of(k) {
            Some(s) => self.slots[s],
            None => self.v.get(k),
        }
    }
    fn value(&self) -> &Value {
        self.v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_its_own_slot() {
        for (i, k) in KEYS.iter().enumerate() {
            assert_eq!(slot_of(k), Some(i), "{k}");
        }
        const { assert!(N < 255) };
        assert_eq!(slot_of("NotAKey"), None);
    }

    #[test]
    fn indexed_and_plain_lookups_agree() {
        let v: Value =
            sonic_rs::from_str(r#"{"ClientIP":"1.2.3.4","Other":1,"ClientIP":"dup","id":"x"}"#)
                .unwrap();
        let r = Rec::new(&v);
        for k in ["ClientIP", "Other", "id", "Missing", "ClientIPAddress"] {
            assert_eq!(r.field_raw(k), v.field_raw(k), "{k}");
        }
    }
}
