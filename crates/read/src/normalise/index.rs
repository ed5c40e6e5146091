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
    "value",
    "records",
    "log_types",
    "p_log_type",
    "time",
    "timestamp",
    "@timestamp",
    "eventTime",
    "published",
    "activityDateTime",
    "uuid",
    "tenantId",
    "callerIpAddress",
    "sourceIPAddress",
    "operationName",
    "eventName",
    "eventType",
    "action",
    "user",
];

const N: usize = KEYS.len();
const BUCKETS: usize = 1024;

/// Up to 8 bytes of `k` from `start`, little-endian.
#[inline]
const fn word(k: &[u8], start: usize, n: usize) -> u64 {
    let mut w = 0u64;
    let mut i = 0;
    while i < n {
        w |= (k[start + i] as u64) << (8 * i);
        i += 1;
    }
    w
}

/// A hash of the key's length and its first and last 8 bytes (cheap for long keys), with
/// multipliers chosen so that no two of [`KEYS`] share a bucket (checked at compile time by
/// [`TABLE`]).
#[inline]
const fn hash(k: &[u8]) -> usize {
    let n = k.len();
    let m = if n < 8 { n } else { 8 };
    let a = word(k, 0, m);
    let b = word(k, n - m, m);
    let h =
        (a.wrapping_mul(0x0c5c_7fd0_a6a3_a451) ^ b.wrapping_mul(0xd23f_0824_128b_2f33) ^ n as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 54) as usize
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

/// Each key's length and its first and last (up to) 8 bytes, as [`hash`] reads them: equal
/// words and lengths mean equal keys up to 16 bytes.
const SIGS: [(usize, u64, u64); N] = {
    let mut t = [(0, 0, 0); N];
    let mut i = 0;
    while i < N {
        let k = KEYS[i].as_bytes();
        let n = k.len();
        let m = if n < 8 { n } else { 8 };
        t[i] = (n, word(k, 0, m), word(k, n - m, m));
        i += 1;
    }
    t
};

/// The first and last (up to) 8 bytes of `k` as [`hash`] reads them, with whole-word loads.
#[inline]
fn ends(k: &[u8]) -> (u64, u64) {
    let n = k.len();
    if n < 8 {
        let w = word(k, 0, n);
        return (w, w);
    }
    let load = |s: &[u8]| <[u8; 8]>::try_from(s).map_or(0, u64::from_le_bytes);
    (load(&k[..8]), load(&k[n - 8..]))
}

/// [`hash`] of a key from its [`ends`].
#[inline]
fn mix(a: u64, b: u64, n: usize) -> usize {
    let h =
        (a.wrapping_mul(0x0c5c_7fd0_a6a3_a451) ^ b.wrapping_mul(0xd23f_0824_128b_2f33) ^ n as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 54) as usize
}

/// [`hash`] with whole-word loads, for lookups at run time.
#[cfg(test)]
fn hash_now(k: &[u8]) -> usize {
    let (a, b) = ends(k);
    mix(a, b, k.len())
}

/// The slot of `k`: one hash, then the key compared as words (the bytes between the first
/// and last eight only for keys longer than 16 bytes).
#[inline]
fn slot_of(k: &str) -> Option<usize> {
    let k = k.as_bytes();
    let n = k.len();
    let (a, b) = ends(k);
    let s = usize::from(TABLE[mix(a, b, n)]).checked_sub(1)?;
    let (len, x, y) = SIGS[s];
    (len == n && x == a && y == b && (n <= 16 || k[8..n - 8] == KEYS[s].as_bytes()[8..n - 8]))
        .then_some(s)
}

/// Lookup by key, for a plain value or an indexed record.
pub(crate) trait Obj {
    /// The value under `k`, if present.
    fn field_raw(&self, k: &str) -> Option<&Value>;
    /// The record itself.
    fn value(&self) -> &Value;
    /// The first member whose name is `k` ignoring ASCII case; with `set`, the first such
    /// member that is not null.
    fn field_folded(&self, k: &str, set: bool) -> Option<&Value> {
        scan_folded(self.value(), k, set)
    }
}

/// [`Obj::field_folded`] by a pass over the object's members.
fn scan_folded<'v>(v: &'v Value, k: &str, set: bool) -> Option<&'v Value> {
    v.as_object()?
        .iter()
        .find(|(name, x)| name.eq_ignore_ascii_case(k) && !(set && x.is_null()))
        .map(|(_, x)| x)
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

impl Rec<'_> {
    /// Could the record hold other records (an envelope's `value`/`records`, a wrapped
    /// extract's `log_types`)? When not, [`super::expansion`] need not look at it.
    pub(crate) fn may_expand(&self) -> bool {
        ["value", "records", "log_types", "p_log_type"]
            .iter()
            .any(|k| self.field_raw(k).is_some())
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

/// `a == b`, with the lengths and first bytes compared before the call that compares the rest.
#[inline]
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

/// A small object (a folder, a message, a name/value pair) with the keys a normaliser reads
/// from it found in one pass: a lookup per key would scan the object's entries again each
/// time. Keys outside the set are looked up in the object.
pub(crate) struct Small<'v, const K: usize> {
    v: &'v Value,
    keys: &'static [&'static str; K],
    slots: [Option<&'v Value>; K],
}

impl<'v, const K: usize> Small<'v, K> {
    /// Index `v` (first occurrence wins, as with `Value::get`).
    pub(crate) fn new(v: &'v Value, keys: &'static [&'static str; K]) -> Self {
        let mut slots = [None; K];
        if let Some(obj) = v.as_object() {
            for (k, x) in obj.iter() {
                if let Some(i) = keys.iter().position(|key| same(key, k))
                    && slots[i].is_none()
                {
                    slots[i] = Some(x);
                }
            }
        }
        Small { v, keys, slots }
    }

    /// The slot of key `k`, when it is one of the keys.
    fn slot(&self, k: &str) -> Option<usize> {
        self.keys.iter().position(|key| same(key, k))
    }
}

impl<const K: usize> Obj for Small<'_, K> {
    fn field_raw(&self, k: &str) -> Option<&Value> {
        match self.slot(k) {
            Some(i) => self.slots[i],
            None => self.v.get(k),
        }
    }
    fn value(&self) -> &Value {
        self.v
    }
}

/// An object whose members under `keys` are found in one pass both by exact name and
/// ignoring ASCII case: the Entra normalisers accept any casing (Graph, Azure Monitor and
/// Sentinel spell the same fields differently), and a case-insensitive lookup that misses
/// would otherwise scan the whole object, once per key asked for.
pub(crate) struct Folded<'v, const K: usize> {
    /// The members named exactly as the keys.
    exact: Small<'v, K>,
    /// First member named as the key ignoring case; the first such that is not null.
    folded: [Option<&'v Value>; K],
    folded_set: [Option<&'v Value>; K],
}

impl<'v, const K: usize> Folded<'v, K> {
    pub(crate) fn new(v: &'v Value, keys: &'static [&'static str; K]) -> Self {
        let mut f = Folded {
            exact: Small {
                v,
                keys,
                slots: [None; K],
            },
            folded: [None; K],
            folded_set: [None; K],
        };
        // Lengths of the keys (those under 64 bytes; longer ones always pass): most members
        // are not asked for, and a length alone rules them out.
        let lengths = keys.iter().fold(0u64, |m, k| {
            m | 1u64
                .checked_shl(u32::try_from(k.len()).unwrap_or(u32::MAX))
                .unwrap_or(0)
        });
        let long = keys.iter().any(|k| k.len() >= 64);
        if let Some(obj) = v.as_object() {
            for (name, x) in obj.iter() {
                let n = name.len();
                if n < 64 && lengths & (1 << n) == 0 || n >= 64 && !long {
                    continue;
                }
                for (i, key) in keys.iter().enumerate() {
                    if key.len() != n || !key.eq_ignore_ascii_case(name) {
                        continue;
                    }
                    if f.exact.slots[i].is_none() && *key == name {
                        f.exact.slots[i] = Some(x);
                    }
                    if f.folded[i].is_none() {
                        f.folded[i] = Some(x);
                    }
                    if f.folded_set[i].is_none() && !x.is_null() {
                        f.folded_set[i] = Some(x);
                    }
                }
            }
        }
        f
    }
}

impl<const K: usize> Obj for Folded<'_, K> {
    fn field_raw(&self, k: &str) -> Option<&Value> {
        self.exact.field_raw(k)
    }
    fn value(&self) -> &Value {
        self.exact.v
    }
    fn field_folded(&self, k: &str, set: bool) -> Option<&Value> {
        match self.exact.slot(k) {
            Some(i) if set => self.folded_set[i],
            Some(i) => self.folded[i],
            None => scan_folded(self.exact.v, k, set),
        }
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
        for k in KEYS
            .iter()
            .chain(&["", "a", "ClientIPAddress_", "x".repeat(40).as_str()])
        {
            assert_eq!(hash(k.as_bytes()), hash_now(k.as_bytes()), "{k}");
        }
        // Same length, same first and last eight bytes, different middle.
        for k in [
            "UniqueTokenIdentifier",
            "activityDisplayName",
            "auditLogRecordType",
        ] {
            let mut other = k.as_bytes().to_vec();
            other[9] ^= 0x20;
            let other = String::from_utf8(other).unwrap();
            assert_eq!(hash(k.as_bytes()), hash_now(other.as_bytes()));
            assert_eq!(slot_of(&other), None, "{other}");
        }
    }

    #[test]
    fn small_and_plain_lookups_agree() {
        let v: Value =
            sonic_rs::from_str(r#"{"Path":null,"Id":"a","Path":"p","X":1,"Id":"b"}"#).unwrap();
        let s = Small::new(&v, &["Id", "Path", "Items"]);
        for k in ["Id", "Path", "Items", "X", "Missing"] {
            assert_eq!(s.field_raw(k), v.field_raw(k), "{k}");
        }
    }

    #[test]
    fn folded_and_plain_lookups_agree() {
        use crate::normalise::access::{field_ci, str_ci};
        let v: Value = sonic_rs::from_str(
            r#"{"SessionId":null,"sessionid":"s2","sessionId":"s3","AppId":"A","appid":null,
                "ipAddress":"","IPADDRESS":"9.9.9.9","X":1}"#,
        )
        .unwrap();
        const KEYS: [&str; 4] = ["sessionId", "appId", "ipAddress", "userAgent"];
        let f = Folded::new(&v, &KEYS);
        for k in [
            "sessionId",
            "appId",
            "ipAddress",
            "userAgent",
            "X",
            "x",
            "Missing",
        ] {
            assert_eq!(f.field_raw(k), v.field_raw(k), "{k}");
            assert_eq!(field_ci(&f, &[k]), field_ci(&v, &[k]), "{k}");
            assert_eq!(str_ci(&f, &[k]), str_ci(&v, &[k]), "{k}");
        }
        assert_eq!(str_ci(&f, &["sessionId"]).as_deref(), Some("s3"));
        // The first member named so ignoring case decides, even when it is empty.
        assert_eq!(str_ci(&f, &["ipAddress"]), None);
        assert_eq!(field_ci(&f, &["appId"]).and_then(|x| x.as_str()), Some("A"));
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
