//! State snapshots: everything folded (the state, the baseline snapshot, the early notes) as
//! bytes, and back.
//!
//! Layout: a 24-byte header, then the body.
//!
//! | bytes | what |
//! |---|---|
//! | 0..8 | magic `SWANSTAT` |
//! | 8..12 | format version, u32 little-endian ([`Analytics::SNAPSHOT_VERSION`]) |
//! | 12..20 | body length, u64 little-endian |
//! | 20..24 | CRC-32 (IEEE) of the body, u32 little-endian |
//! | 24.. | body: [`Body`] in postcard |
//!
//! The body keeps interned ids as they are, with the interner as its strings in id order
//! (restoring interns them in order, which gives the same ids), and record locations with
//! their file as an index into a table of file names. Hash maps are written sorted, so one
//! state always gives the same bytes. Derived indexes (the context index, the address cache)
//! are rebuilt on restore.
//!
//! The version changes with any change to what the body holds or how (a unit test pins the
//! bytes of a fixed state); a snapshot of another version is refused, never misread. Writing
//! encodes the contexts (most of the state) one by one as they are made; the rest of the body
//! is built beside the state before encoding it.
//!
//! Snapshots are read from disk: restoring treats them as untrusted. Every length is checked
//! against the bytes present before anything is allocated for it (postcard reads strings
//! from the input and serde caps the room it reserves for sequences), the checksum is checked
//! before decoding, and the decoded state is checked for consistency (ids in range, contexts
//! unique, caps as configured) before it replaces anything: a bad snapshot is an error and
//! leaves the analytics as they were.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stormwatch_core::{Location, LogonType, MailAccessType, PackedLocation, RecordId};

use crate::baseline::BaselineSnapshot;
use crate::engine::Analytics;
use crate::error::AnalyticsError;
use crate::intern::{FastMap as HashMap, Interner, Sym};
use crate::loc::Kept;
use crate::observed::{AUDIT_CHANGE_KINDS, in_time_range};
use crate::sorted::{SortedMap, SortedSet};
use crate::state::{
    Activity, AuditChange, Ctx, CtxKey, CtxKind, HOUR_NS, HourAgg, IocHit, LocBuf, SignIns, State,
    Verdict,
};
use crate::syms;

const MAGIC: &[u8; 8] = b"SWANSTAT";
const HEADER: usize = 24;

/// A record id as kept.
#[derive(Debug, Serialize, Deserialize)]
enum IdDto<'a> {
    None,
    Guid([u8; 16]),
    Text(#[serde(borrow)] Cow<'a, str>),
}

/// A location: its file as an index into [`Body::files`].
#[derive(Debug, Serialize, Deserialize)]
struct LocDto<'a> {
    file: u32,
    line: u64,
    #[serde(borrow)]
    id: IdDto<'a>,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeptDto<'a> {
    t: i64,
    #[serde(borrow)]
    loc: LocDto<'a>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HourDto {
    hour: i64,
    records: u32,
    ops: u64,
    throttled: u32,
    max_ops: u64,
    first: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct CtxDto<'a> {
    kind: u8,
    mailbox: Option<Sym>,
    user: Option<Sym>,
    session: Option<Sym>,
    ip: Option<Sym>,
    app: Option<Sym>,
    client_app: Option<Sym>,
    client_info: Option<Sym>,
    logon: Option<LogonType>,
    access: Option<MailAccessType>,
    tenant: Option<Sym>,
    token_tenant: Option<Sym>,
    first: i64,
    last: i64,
    records: u64,
    ops: u64,
    throttled: u64,
    max_ops: u64,
    hours: Vec<HourDto>,
    utis: Vec<(i64, Sym)>,
    folders: Vec<Sym>,
    #[serde(borrow)]
    locs: Vec<KeptDto<'a>>,
    locs_total: u64,
    locs_cap: u64,
    #[serde(borrow)]
    locs_cutoff: Option<KeptDto<'a>>,
    guest: bool,
    app_only: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct SignInsDto {
    records: u64,
    failed: u64,
    interactive: u64,
    non_interactive: u64,
    first: Option<i64>,
    last: Option<i64>,
    sessions: Vec<(Sym, Vec<i64>)>,
    utis: Vec<(Sym, i64, i64)>,
    user_ips: Vec<(Sym, Sym, Vec<i64>)>,
    users: Vec<Sym>,
    user_last: Vec<(Sym, i64)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct IocHitDto<'a> {
    t: i64,
    #[serde(borrow)]
    loc: LocDto<'a>,
    ip: IpAddr,
    user: Option<Sym>,
    mailbox: Option<Sym>,
    session: Option<Sym>,
    tenant: Option<Sym>,
    sign_in: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct AuditDto<'a> {
    t: i64,
    #[serde(borrow)]
    loc: LocDto<'a>,
    operation: &'a str,
    user: Option<Sym>,
    tenant: Option<Sym>,
    /// Index into [`AUDIT_CHANGE_KINDS`].
    what: u8,
}

#[derive(Debug, Serialize, Deserialize)]
struct VerdictDto<'a> {
    t: i64,
    session: Option<Sym>,
    uti: Option<Sym>,
    verdict: &'a str,
    #[serde(borrow)]
    loc: LocDto<'a>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ActivityDto<'a> {
    who: Sym,
    exchange: u64,
    mail: u64,
    tenant: Option<Sym>,
    #[serde(borrow)]
    first: Option<KeptDto<'a>>,
    last: Option<i64>,
}

/// Everything folded. Written with the contexts as a [`CtxSeq`] (encoded as they are
/// made, never gathered: the contexts are most of the state), read back as a `Vec`.
#[derive(Debug, Serialize, Deserialize)]
struct Body<'a, C = Vec<CtxDto<'a>>> {
    /// [`fingerprint`] of the analytics that took it.
    fingerprint: u64,
    #[serde(borrow)]
    names: Vec<&'a str>,
    #[serde(borrow)]
    files: Vec<Cow<'a, str>>,
    max_events_per_context: u64,
    ctxs: C,
    sign_ins: SignInsDto,
    #[serde(borrow)]
    ioc_hits: Vec<IocHitDto<'a>>,
    ioc_hits_dropped: u64,
    #[serde(borrow)]
    audit_changes: Vec<AuditDto<'a>>,
    #[serde(borrow)]
    verdicts: Vec<VerdictDto<'a>>,
    #[serde(borrow)]
    activity: Vec<ActivityDto<'a>>,
    days: Vec<(i64, u64)>,
    first: Option<i64>,
    last: Option<i64>,
    records: u64,
    untimed: u64,
    mail_records: u64,
    owa_token_records: u64,
    baseline: Cow<'a, BaselineSnapshot>,
    /// What earlier runs folded into the baseline (records are judged against it).
    prior: Cow<'a, BaselineSnapshot>,
    /// A baseline is kept between runs.
    keeps_baseline: bool,
    #[serde(borrow)]
    early_notes: Vec<&'a str>,
}

/// FNV-1a, 64 bits: a fixed hash (the same in every process and build).
fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// What the state depends on besides the records: the IOC addresses (records from them are
/// kept as IOC hits) and the number of locations kept per context.
fn fingerprint(a: &Analytics) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325;
    fnv(&mut h, b"max_events_per_context");
    fnv(
        &mut h,
        &u64::try_from(a.config.max_events_per_context)
            .unwrap_or(u64::MAX)
            .to_le_bytes(),
    );
    fnv(&mut h, b"iocs");
    let mut last: Option<IpAddr> = None;
    for ind in a.observer.iocs().iter() {
        if last == Some(ind.ip) {
            continue;
        }
        last = Some(ind.ip);
        match ind.ip {
            IpAddr::V4(v) => fnv(&mut h, &v.octets()),
            IpAddr::V6(v) => fnv(&mut h, &v.octets()),
        }
        fnv(&mut h, b";");
    }
    h
}

fn bad(reason: impl Into<String>) -> AnalyticsError {
    AnalyticsError::StateSnapshot(reason.into())
}

/// File names ↔ indexes, while writing.
#[derive(Default)]
struct Files {
    index: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

/// Where file names get their indexes.
trait FileIndex {
    fn of(&mut self, f: &Arc<str>) -> u32;

    fn loc(&mut self, l: Location) -> LocDto<'static> {
        let id = match l.record_id {
            None => IdDto::None,
            // Only a 36-character id can be a GUID (packing any other text would copy it).
            Some(t) => match (t.len() == 36).then(|| RecordId::of(Some(&t))) {
                Some(RecordId::Guid(g)) => IdDto::Guid(g),
                _ => IdDto::Text(Cow::Owned(t)),
            },
        };
        LocDto {
            file: self.of(&l.file),
            line: l.line,
            id,
        }
    }

    fn kept(&mut self, k: &Kept) -> KeptDto<'static> {
        KeptDto {
            t: k.t,
            loc: self.loc(k.location()),
        }
    }
}

impl FileIndex for Files {
    /// The name's index, given the next one when new.
    fn of(&mut self, f: &Arc<str>) -> u32 {
        if let Some(&i) = self.index.get(f) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.index.insert(Arc::clone(f), i);
        self.names.push(Arc::clone(f));
        i
    }
}

/// The table once every name is in it.
struct Known<'a>(&'a Files);

impl FileIndex for Known<'_> {
    fn of(&mut self, f: &Arc<str>) -> u32 {
        // Every name was given its index before (see `with_body`): a miss cannot happen,
        // and would be refused on restore rather than misread.
        self.0.index.get(f).copied().unwrap_or(u32::MAX)
    }
}

/// The contexts, each encoded as it is made.
struct CtxSeq<'a> {
    ctxs: &'a [(CtxKey, Ctx)],
    files: &'a Files,
}

impl Serialize for CtxSeq<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut files = Known(self.files);
        s.collect_seq(self.ctxs.iter().map(|(k, c)| ctx_dto(&mut files, k, c)))
    }
}

impl std::fmt::Debug for CtxSeq<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} contexts", self.ctxs.len())
    }
}

fn kind_code(k: CtxKind) -> u8 {
    match k {
        CtxKind::Mail => 0,
        CtxKind::OwaToken => 1,
        CtxKind::Exchange => 2,
    }
}

fn kind_of(c: u8) -> Result<CtxKind, AnalyticsError> {
    Ok(match c {
        0 => CtxKind::Mail,
        1 => CtxKind::OwaToken,
        2 => CtxKind::Exchange,
        _ => return Err(bad(format!("context kind {c} is not one this build knows"))),
    })
}

fn ctx_dto(files: &mut impl FileIndex, k: &CtxKey, c: &Ctx) -> CtxDto<'static> {
    let CtxKey {
        kind,
        mailbox,
        user,
        session,
        ip,
        app,
        client_app,
        client_info,
        logon,
        access,
        tenant,
        token_tenant,
    } = *k;
    let Ctx {
        first,
        last,
        records,
        ops,
        throttled,
        max_ops,
        hours,
        utis,
        folders,
        locs,
        guest,
        app_only,
    } = c;
    let LocBuf {
        items,
        total,
        cap,
        cutoff,
    } = locs;
    CtxDto {
        kind: kind_code(kind),
        mailbox,
        user,
        session,
        ip,
        app,
        client_app,
        client_info,
        logon,
        access,
        tenant,
        token_tenant,
        first: *first,
        last: *last,
        records: *records,
        ops: *ops,
        throttled: *throttled,
        max_ops: *max_ops,
        hours: hours
            .iter()
            .map(|(&hour, h)| {
                let HourAgg {
                    records,
                    ops,
                    throttled,
                    max_ops,
                    first,
                } = *h;
                HourDto {
                    hour,
                    records,
                    ops,
                    throttled,
                    max_ops,
                    first,
                }
            })
            .collect(),
        utis: utis.iter().copied().collect(),
        folders: folders.iter().copied().collect(),
        locs: items.iter().map(|k| files.kept(k)).collect(),
        locs_total: *total,
        locs_cap: u64::try_from(*cap).unwrap_or(u64::MAX),
        locs_cutoff: cutoff.as_ref().map(|k| files.kept(k)),
        guest: *guest,
        app_only: *app_only,
    }
}

fn sorted<K: Ord + Copy + std::hash::Hash, V, O>(
    m: &HashMap<K, V>,
    f: impl Fn(K, &V) -> O,
) -> Vec<O> {
    let mut v: Vec<(K, &V)> = m.iter().map(|(&k, v)| (k, v)).collect();
    v.sort_unstable_by_key(|e| e.0);
    v.into_iter().map(|(k, v)| f(k, v)).collect()
}

fn sign_ins_dto(s: &SignIns) -> SignInsDto {
    let SignIns {
        records,
        failed,
        interactive,
        non_interactive,
        first,
        last,
        sessions,
        utis,
        user_ips,
        users,
        user_last,
    } = s;
    let mut users: Vec<Sym> = users.iter().copied().collect();
    users.sort_unstable();
    SignInsDto {
        records: *records,
        failed: *failed,
        interactive: *interactive,
        non_interactive: *non_interactive,
        first: *first,
        last: *last,
        sessions: sorted(sessions, |k, h| (k, h.iter().copied().collect())),
        utis: sorted(utis, |k, &(a, b)| (k, a, b)),
        user_ips: sorted(user_ips, |(u, ip), h| (u, ip, h.iter().copied().collect())),
        users,
        user_last: sorted(user_last, |k, &t| (k, t)),
    }
}

impl Analytics {
    /// The format version of [`Analytics::snapshot`] this build writes and reads.
    pub const SNAPSHOT_VERSION: u32 = 2;

    /// A versioned binary snapshot of everything folded: the state, the baseline snapshot
    /// (with what [`Analytics::evict`] folded into it) and the early notes. Restored by
    /// [`Analytics::restore`] into analytics built the same way, folding goes on as if it had
    /// never stopped. One state always gives the same bytes.
    ///
    /// # Errors
    /// [`AnalyticsError::StateSnapshot`] if the state cannot be encoded (a count beyond what
    /// the format holds).
    pub fn snapshot(&self) -> Result<Vec<u8>, AnalyticsError> {
        self.with_body(|body| {
            // The header's place is kept and filled in once the body is written after it:
            // the body is never copied.
            let mut out = postcard::to_extend(body, vec![0u8; HEADER])
                .map_err(|e| bad(format!("cannot encode: {e}")))?;
            let len = u64::try_from(out.len() - HEADER).map_err(|_| bad("too large"))?;
            let crc = crc32fast::hash(&out[HEADER..]);
            out[..HEADER].copy_from_slice(&header(len, crc));
            Ok(out)
        })
    }

    /// The same bytes as [`Analytics::snapshot`], written to `w` as they are encoded (into a
    /// compressor, say) instead of gathered whole: the body is encoded twice, first only to
    /// learn the length and checksum its header announces. `w` is given back.
    ///
    /// # Errors
    /// As [`Analytics::snapshot`], and [`AnalyticsError::StateSnapshot`] when `w` fails.
    pub fn snapshot_to<W: std::io::Write>(&self, mut w: W) -> Result<W, AnalyticsError> {
        self.with_body(|body| {
            let mut probe = std::io::BufWriter::with_capacity(1 << 16, Probe::default());
            postcard::to_io(body, &mut probe).map_err(|e| bad(format!("cannot encode: {e}")))?;
            let probe = probe
                .into_inner()
                .map_err(|e| bad(format!("cannot encode: {e}")))?;
            w.write_all(&header(probe.len, probe.crc.finalize()))
                .map_err(|e| bad(format!("cannot write: {e}")))?;
            postcard::to_io(body, w).map_err(|e| bad(format!("cannot write: {e}")))
        })
    }

    /// Build the body beside the state and hand it to `f`.
    fn with_body<R>(
        &self,
        f: impl FnOnce(&Body<'_, CtxSeq<'_>>) -> Result<R, AnalyticsError>,
    ) -> Result<R, AnalyticsError> {
        let st = &self.state;
        let mut files = Files::default();
        // The contexts' file names get their indexes first, in the order they are written;
        // the contexts themselves are made again as they are encoded.
        for (k, c) in &st.ctxs {
            ctx_dto(&mut files, k, c);
        }
        let ioc_hits: Vec<IocHitDto<'_>> = st
            .ioc_hits
            .iter()
            .map(|h| IocHitDto {
                t: h.t,
                loc: files.loc(h.loc.clone()),
                ip: h.ip,
                user: h.user,
                mailbox: h.mailbox,
                session: h.session,
                tenant: h.tenant,
                sign_in: h.sign_in,
            })
            .collect();
        let audit_changes: Vec<AuditDto<'_>> = st
            .audit_changes
            .iter()
            .map(|a| AuditDto {
                t: a.t,
                loc: files.loc(a.loc.clone()),
                operation: &a.operation,
                user: a.user,
                tenant: a.tenant,
                what: AUDIT_CHANGE_KINDS
                    .iter()
                    .position(|k| *k == a.what)
                    .and_then(|i| u8::try_from(i).ok())
                    .unwrap_or(u8::MAX),
            })
            .collect();
        if audit_changes.iter().any(|a| a.what == u8::MAX) {
            return Err(bad("an audit change of a kind the format does not know"));
        }
        let verdicts: Vec<VerdictDto<'_>> = st
            .verdicts
            .iter()
            .map(|v| VerdictDto {
                t: v.t,
                session: v.session,
                uti: v.uti,
                verdict: &v.verdict,
                loc: files.loc(v.loc.clone()),
            })
            .collect();
        let activity = sorted(&st.activity, |who, a| ActivityDto {
            who,
            exchange: a.exchange,
            mail: a.mail,
            tenant: a.tenant,
            first: None,
            last: a.last,
        });
        // Locations of the activity's first records, in the same (sorted) order.
        let activity: Vec<ActivityDto<'_>> = activity
            .into_iter()
            .map(|mut d| {
                d.first = st
                    .activity
                    .get(&d.who)
                    .and_then(|a| a.first.as_ref())
                    .map(|k| files.kept(k));
                d
            })
            .collect();
        let body = Body {
            fingerprint: fingerprint(self),
            names: st.names.strings().collect(),
            files: files
                .names
                .iter()
                .map(|f| Cow::Borrowed(f.as_ref()))
                .collect(),
            max_events_per_context: u64::try_from(self.config.max_events_per_context)
                .unwrap_or(u64::MAX),
            ctxs: CtxSeq {
                ctxs: &st.ctxs,
                files: &files,
            },
            sign_ins: sign_ins_dto(&st.sign_ins),
            ioc_hits,
            ioc_hits_dropped: st.ioc_hits_dropped,
            audit_changes,
            verdicts,
            activity,
            days: st.days.iter().map(|(&d, &n)| (d, n)).collect(),
            first: st.first,
            last: st.last,
            records: st.records,
            untimed: st.untimed,
            mail_records: st.mail_records,
            owa_token_records: st.owa_token_records,
            baseline: Cow::Borrowed(&self.snapshot),
            prior: Cow::Borrowed(&self.prior),
            keeps_baseline: self.keeps_baseline,
            early_notes: self.early_notes.iter().map(String::as_str).collect(),
        };
        f(&body)
    }
}

/// The header before a body of `len` bytes whose CRC-32 is `crc`: the magic, the format
/// version, the length and the checksum.
fn header(len: u64, crc: u32) -> [u8; HEADER] {
    let mut head = [0u8; HEADER];
    head[..MAGIC.len()].copy_from_slice(MAGIC);
    head[8..12].copy_from_slice(&Analytics::SNAPSHOT_VERSION.to_le_bytes());
    head[12..20].copy_from_slice(&len.to_le_bytes());
    head[20..24].copy_from_slice(&crc.to_le_bytes());
    head
}

/// Counts and checksums what is written to it, keeping nothing.
#[derive(Default)]
struct Probe {
    len: u64,
    crc: crc32fast::Hasher,
}

impl std::io::Write for Probe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.crc.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Check the header; the body.
fn body_of(bytes: &[u8]) -> Result<&[u8], AnalyticsError> {
    let magic = bytes.get(..MAGIC.len());
    if magic != Some(&MAGIC[..]) {
        return Err(bad(
            if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
                "cut short inside its header"
            } else {
                "not an analytics state snapshot (no SWANSTAT header)"
            },
        ));
    }
    let word = |at: usize, n: usize| -> Result<u64, AnalyticsError> {
        let b = bytes
            .get(at..at + n)
            .ok_or_else(|| bad("cut short inside its header"))?;
        Ok(b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    };
    let version = u32::try_from(word(8, 4)?).unwrap_or(u32::MAX);
    if version != Analytics::SNAPSHOT_VERSION {
        return Err(AnalyticsError::StateSnapshotVersion {
            found: version,
            known: Analytics::SNAPSHOT_VERSION,
        });
    }
    let len = word(12, 8)?;
    let crc = word(20, 4)?;
    let body = bytes.get(HEADER..).unwrap_or_default();
    let have = u64::try_from(body.len()).unwrap_or(u64::MAX);
    if have < len {
        return Err(bad(format!(
            "cut short: its header announces {len} bytes of body, {have} are present"
        )));
    }
    if have > len {
        return Err(bad(format!(
            "{} bytes after the {len} its header announces",
            have - len
        )));
    }
    if u64::from(crc32fast::hash(body)) != crc {
        return Err(bad("checksum mismatch: the snapshot is corrupt"));
    }
    Ok(body)
}

/// Rebuilding the state from a decoded body: every reference checked.
struct Reader<'b> {
    files: Vec<Arc<str>>,
    cap: usize,
    _body: std::marker::PhantomData<&'b ()>,
}

impl Reader<'_> {
    fn loc(&self, d: &LocDto<'_>) -> Result<Location, AnalyticsError> {
        let file = usize::try_from(d.file)
            .ok()
            .and_then(|i| self.files.get(i))
            .ok_or_else(|| bad(format!("location file {} is not in its file table", d.file)))?;
        let record_id = match &d.id {
            IdDto::None => None,
            IdDto::Guid(g) => RecordId::Guid(*g).text(),
            IdDto::Text(t) => Some(t.to_string()),
        };
        Ok(Location {
            file: Arc::clone(file),
            line: d.line,
            record_id,
        })
    }

    fn kept(&self, d: &KeptDto<'_>) -> Result<Kept, AnalyticsError> {
        Ok(Kept::packed(d.t, PackedLocation::new(&self.loc(&d.loc)?)))
    }

    fn ctx(&self, d: &CtxDto<'_>) -> Result<(CtxKey, Ctx), AnalyticsError> {
        let key = CtxKey {
            kind: kind_of(d.kind)?,
            mailbox: d.mailbox,
            user: d.user,
            session: d.session,
            ip: d.ip,
            app: d.app,
            client_app: d.client_app,
            client_info: d.client_info,
            logon: d.logon,
            access: d.access,
            tenant: d.tenant,
            token_tenant: d.token_tenant,
        };
        if usize::try_from(d.locs_cap).ok() != Some(self.cap) {
            return Err(bad(format!(
                "a context keeps {} locations, these analytics {}",
                d.locs_cap, self.cap
            )));
        }
        if d.locs.len() > self.cap + self.cap / 2 {
            return Err(bad("a context holds more locations than its cap allows"));
        }
        if d.first > d.last || d.hours.is_empty() {
            return Err(bad("a context's span or hours are inconsistent"));
        }
        let mut items = Vec::with_capacity(d.locs.len());
        for k in &d.locs {
            items.push(self.kept(k)?);
        }
        let cutoff = d.locs_cutoff.as_ref().map(|k| self.kept(k)).transpose()?;
        let ctx = Ctx {
            first: d.first,
            last: d.last,
            records: d.records,
            ops: d.ops,
            throttled: d.throttled,
            max_ops: d.max_ops,
            hours: d
                .hours
                .iter()
                .map(|h| {
                    (
                        h.hour,
                        HourAgg {
                            records: h.records,
                            ops: h.ops,
                            throttled: h.throttled,
                            max_ops: h.max_ops,
                            first: h.first,
                        },
                    )
                })
                .collect::<SortedMap<_>>(),
            utis: d.utis.iter().copied().collect::<SortedSet<_>>(),
            folders: d.folders.iter().copied().collect::<SortedSet<_>>(),
            locs: LocBuf {
                items,
                total: d.locs_total,
                cap: self.cap,
                cutoff,
            },
            guest: d.guest,
            app_only: d.app_only,
        };
        Ok((key, ctx))
    }
}

fn sign_ins_of(d: &SignInsDto) -> Result<SignIns, AnalyticsError> {
    let SignInsDto {
        records,
        failed,
        interactive,
        non_interactive,
        first,
        last,
        sessions,
        utis,
        user_ips,
        users,
        user_last,
    } = d;
    if utis.iter().any(|&(_, a, b)| a > b) {
        return Err(bad("a token id's sign-in hours are inconsistent"));
    }
    Ok(SignIns {
        records: *records,
        failed: *failed,
        interactive: *interactive,
        non_interactive: *non_interactive,
        first: *first,
        last: *last,
        sessions: sessions
            .iter()
            .map(|(s, h)| (*s, h.iter().copied().collect()))
            .collect(),
        utis: utis.iter().map(|&(u, a, b)| (u, (a, b))).collect(),
        user_ips: user_ips
            .iter()
            .map(|(u, ip, h)| ((*u, *ip), h.iter().copied().collect()))
            .collect(),
        users: users.iter().copied().collect(),
        user_last: user_last.iter().copied().collect(),
    })
}

/// Every record time in the state is one folding can produce (see
/// [`crate::observed::in_time_range`]): the analytics' arithmetic relies on it.
fn check_times(st: &State) -> Result<(), AnalyticsError> {
    let ok = |t: i64| in_time_range(t);
    let hour_ok = |h: i64| ok(h.saturating_mul(HOUR_NS));
    let kept_ok = |k: &Kept| ok(k.t);
    let ctxs = st.ctxs.iter().all(|(_, c)| {
        ok(c.first)
            && ok(c.last)
            && c.hours.iter().all(|(&h, a)| hour_ok(h) && ok(a.first))
            && c.utis.iter().all(|&(h, _)| hour_ok(h))
            && c.locs.items.iter().all(kept_ok)
            && c.locs.cutoff.as_ref().is_none_or(kept_ok)
    });
    let si = &st.sign_ins;
    let sign_ins = si.first.is_none_or(ok)
        && si.last.is_none_or(ok)
        && si.sessions.values().flatten().all(|&h| hour_ok(h))
        && si.utis.values().all(|&(a, b)| hour_ok(a) && hour_ok(b))
        && si.user_ips.values().flatten().all(|&h| hour_ok(h))
        && si.user_last.values().all(|&t| ok(t));
    let rest = st.first.is_none_or(ok)
        && st.last.is_none_or(ok)
        && st.ioc_hits.iter().all(|h| ok(h.t))
        && st.audit_changes.iter().all(|a| ok(a.t))
        && st
            .activity
            .values()
            .all(|a| a.last.is_none_or(ok) && a.first.as_ref().is_none_or(kept_ok))
        && st
            .days
            .keys()
            .all(|&d| ok(d.saturating_mul(crate::state::DAY_NS)));
    if ctxs && sign_ins && rest {
        Ok(())
    } else {
        Err(bad("a record time outside the range folding keeps"))
    }
}

/// Counts as large as these are no state folding makes (2^62 records); the analytics add
/// counts up, and must not overflow.
const MAX_COUNT: u64 = 1 << 62;

/// The sum, if it does not exceed [`MAX_COUNT`].
fn sum(it: impl Iterator<Item = u64>) -> Option<u64> {
    let mut it = it;
    it.try_fold(0u64, |acc, x| acc.checked_add(x))
        .filter(|&s| s <= MAX_COUNT)
}

/// The counters agree with one another as folding keeps them (a context's records are the sum
/// of its hours', every part's records at most the total, …): sums over them cannot overflow.
fn check_counts(st: &State) -> Result<(), AnalyticsError> {
    let total = st.records;
    let mut ok = total <= MAX_COUNT
        && st.untimed <= total
        && sum([st.mail_records, st.owa_token_records].into_iter()).is_some_and(|n| n <= total)
        && sum(st.days.values().copied()).is_some_and(|n| n <= total)
        && sum(st
            .activity
            .values()
            .map(|a| a.exchange.saturating_add(a.mail)))
        .is_some_and(|n| n <= total);
    let si = &st.sign_ins;
    ok &= si.records <= total
        && si.failed <= si.records
        && sum([si.interactive, si.non_interactive].into_iter())
            .is_some_and(|n| n <= si.records - si.failed.min(si.records));
    ok &= sum(st.ctxs.iter().map(|(_, c)| c.records)).is_some_and(|n| n <= total);
    ok &= st.ctxs.iter().all(|(_, c)| {
        sum(c.hours.values().map(|h| u64::from(h.records))) == Some(c.records)
            && sum(c.hours.values().map(|h| u64::from(h.throttled))) == Some(c.throttled)
            && sum(c.hours.values().map(|h| h.ops)) == Some(c.ops)
            && c.hours.values().map(|h| h.max_ops).max() == Some(c.max_ops)
            && c.locs.total == c.records
    });
    if ok {
        Ok(())
    } else {
        Err(bad("its counts do not agree with one another"))
    }
}

impl Analytics {
    /// Replace everything folded by what `bytes` (from [`Analytics::snapshot`]) holds. The
    /// analytics must be built with the same IOC set and `max_events_per_context` as those
    /// that took it (both are checked); the other settings, the app catalogue, the ASN data and
    /// the watch-list only steer decisions and may differ. Folding then goes on as if it had
    /// never stopped; the baseline given by [`Analytics::with_baseline`] is replaced by the
    /// snapshot's.
    ///
    /// # Errors
    /// The bytes are treated as untrusted: anything but a snapshot of this format version
    /// written by this build's layout is an error and leaves the analytics as they were:
    /// [`AnalyticsError::StateSnapshotVersion`] for another format version,
    /// [`AnalyticsError::StateSnapshotMismatch`] for another IOC set or event cap,
    /// [`AnalyticsError::StateSnapshot`] for anything else (not a snapshot, cut short,
    /// checksum mismatch, undecodable, or an inconsistent state).
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), AnalyticsError> {
        let body = body_of(bytes)?;
        let (b, rest): (Body<'_>, &[u8]) = postcard::take_from_bytes(body)
            .map_err(|e| bad(format!("cannot decode its body: {e}")))?;
        if !rest.is_empty() {
            return Err(bad(format!("{} bytes after its body", rest.len())));
        }
        if b.fingerprint != fingerprint(self) {
            let cap = u64::try_from(self.config.max_events_per_context).unwrap_or(u64::MAX);
            return Err(AnalyticsError::StateSnapshotMismatch(
                if b.max_events_per_context == cap {
                    "another IOC set"
                } else {
                    "another max_events_per_context"
                },
            ));
        }
        if b.baseline.version != BaselineSnapshot::FORMAT_VERSION {
            return Err(bad("its baseline has another format version"));
        }
        let notes = b.early_notes.iter().map(|s| (*s).to_owned()).collect();
        let state = self.state_of(&b)?;
        self.state = state;
        self.early_notes = notes;
        self.keeps_baseline = b.keeps_baseline;
        self.prior = b.prior.into_owned();
        self.snapshot = b.baseline.into_owned();
        Ok(())
    }

    fn state_of(&self, b: &Body<'_>) -> Result<State, AnalyticsError> {
        let cap = self.config.max_events_per_context;
        let r = Reader {
            files: b.files.iter().map(|f| Arc::from(f.as_ref())).collect(),
            cap: cap.max(1),
            _body: std::marker::PhantomData,
        };
        let mut st = State::new(cap);
        st.names = Interner::from_strings(b.names.iter().copied())
            .ok_or_else(|| bad("its string table repeats a string"))?;
        st.ctxs.reserve(b.ctxs.len());
        for d in &b.ctxs {
            let (k, c) = r.ctx(d)?;
            if st.ctx_index.insert(k, st.ctxs.len()).is_some() {
                return Err(bad("a context appears twice"));
            }
            st.ctxs.push((k, c));
        }
        st.sign_ins = sign_ins_of(&b.sign_ins)?;
        for h in &b.ioc_hits {
            st.ioc_hits.push(IocHit {
                t: h.t,
                loc: r.loc(&h.loc)?,
                ip: h.ip,
                user: h.user,
                mailbox: h.mailbox,
                session: h.session,
                tenant: h.tenant,
                sign_in: h.sign_in,
            });
        }
        st.ioc_hits_dropped = b.ioc_hits_dropped;
        for a in &b.audit_changes {
            let what = AUDIT_CHANGE_KINDS
                .get(usize::from(a.what))
                .copied()
                .ok_or_else(|| bad(format!("audit change kind {} is unknown", a.what)))?;
            st.audit_changes.push(AuditChange {
                t: a.t,
                loc: r.loc(&a.loc)?,
                operation: a.operation.to_owned(),
                user: a.user,
                tenant: a.tenant,
                what,
            });
        }
        for v in &b.verdicts {
            st.verdicts.push(Verdict {
                t: v.t,
                session: v.session,
                uti: v.uti,
                verdict: v.verdict.to_owned(),
                loc: r.loc(&v.loc)?,
            });
        }
        for a in &b.activity {
            let act = Activity {
                exchange: a.exchange,
                mail: a.mail,
                tenant: a.tenant,
                first: a.first.as_ref().map(|k| r.kept(k)).transpose()?,
                last: a.last,
            };
            if st.activity.insert(a.who, act).is_some() {
                return Err(bad("a mailbox's activity appears twice"));
            }
        }
        st.days = b.days.iter().copied().collect();
        st.first = b.first;
        st.last = b.last;
        st.records = b.records;
        st.untimed = b.untimed;
        st.mail_records = b.mail_records;
        st.owa_token_records = b.owa_token_records;
        check_times(&st)?;
        check_counts(&st)?;
        let n = st.names.len();
        let mut out_of_range = None;
        syms::each_sym(&st, |s| {
            if s != Interner::FULL && usize::try_from(s).map_or(true, |i| i >= n) {
                out_of_range = Some(s);
            }
        });
        if let Some(s) = out_of_range {
            return Err(bad(format!(
                "string id {s} is beyond its string table ({n} strings)"
            )));
        }
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::OnceLock;

    use proptest::prelude::*;
    use stormwatch_core::{Event, Timestamp};

    use super::*;
    use crate::analytics::tests_util::history;
    use crate::testkit::{Ev, at, number};
    use crate::{AnalyticsConfig, AppCatalog, IocSet};

    fn analytics() -> Analytics {
        Analytics::new(
            AnalyticsConfig::default(),
            IocSet::builtin_storm_0558(),
            AppCatalog::builtin(),
            None,
            vec![],
        )
    }

    /// A small input touching every part of the state: contexts with token ids and folders,
    /// sign-ins (one failed), records from an IOC IP, an audit change, OWA token issuance,
    /// Exchange records for visibility, a token verdict.
    fn events() -> Vec<Event> {
        let m = "envoy@agency.example";
        let mut ev = history(m, 3);
        ev.push(Ev::sign_in(&at(2, 1, 0), m).failed().build());
        ev.push(
            Ev::mail(&at(2, 3, 0), m)
                .session("forged-1")
                .uti("tok-1")
                .ip("51.89.156.153")
                .client("Client=REST;Client=RESTSystem;;")
                .build(),
        );
        ev.push(
            Ev::mail(&at(2, 3, 5), m)
                .sync("\\Inbox")
                .ip("203.0.113.9")
                .build(),
        );
        ev.push(
            Ev::exchange(
                &at(2, 4, 0),
                "admin@agency.example",
                "Set-MailboxAuditBypassAssociation",
            )
            .raw(r#"{"Parameters":[{"Name":"AuditBypassEnabled","Value":"True"}]}"#)
            .build(),
        );
        ev.push(
            Ev::exchange(&at(2, 5, 0), m, "GetAccessTokenForResource")
                .record_type(275)
                .session("forged-1")
                .build(),
        );
        for i in 0..25 {
            ev.push(Ev::exchange(&at(1, 10, i), "quiet@agency.example", "Send").build());
        }
        number(&mut ev);
        ev
    }

    fn sample() -> &'static [u8] {
        static S: OnceLock<Vec<u8>> = OnceLock::new();
        S.get_or_init(|| {
            let mut a = analytics();
            events().iter().for_each(|e| a.observe(e));
            a.observe_token_verdict(
                Timestamp::parse("2023-05-03T03:00:00Z").unwrap(),
                Some("forged-1"),
                None,
                "forged",
                Location::default(),
            );
            a.snapshot().unwrap()
        })
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = sample()[..HEADER].to_vec();
        out[12..20].copy_from_slice(&(body.len() as u64).to_le_bytes());
        out[20..24].copy_from_slice(&crc32fast::hash(body).to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn the_sample_touches_every_part_of_the_state() {
        let mut a = analytics();
        a.restore(sample()).unwrap();
        let st = &a.state;
        assert!(
            st.ctxs
                .iter()
                .any(|(_, c)| !c.utis.is_empty() && !c.locs.items.is_empty())
        );
        assert!(st.ctxs.iter().any(|(_, c)| !c.folders.is_empty()));
        assert!(st.sign_ins.failed > 0 && !st.sign_ins.sessions.is_empty());
        assert!(!st.ioc_hits.is_empty() && !st.audit_changes.is_empty());
        assert!(!st.verdicts.is_empty() && st.owa_token_records > 0);
        assert!(st.activity.values().any(|a| a.first.is_some()));
        let out = a.evaluate();
        for slug in [
            "ioc-infrastructure",
            "forged-token-signals",
            "visibility-gaps",
        ] {
            assert!(
                out.detections.iter().any(|d| d.rule_id.ends_with(slug)),
                "{slug}"
            );
        }
        // Framing the body again gives the same bytes.
        assert_eq!(framed(&sample()[HEADER..]), sample());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// A body changed behind a valid header and checksum (as a snapshot written by
        /// someone else would be): restoring is an error, or gives a state that decides,
        /// snapshots and restores again; never a panic.
        #[test]
        fn changed_bodies_are_errors_or_usable_states(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6)
        ) {
            let mut body = sample()[HEADER..].to_vec();
            for (i, byte, op) in edits {
                if body.is_empty() {
                    break;
                }
                let at = i.index(body.len());
                match op {
                    0 => body[at] = byte,
                    1 => body.insert(at, byte),
                    2 => {
                        body.remove(at);
                    }
                    _ => body[at] ^= 1 << (byte % 8),
                }
            }
            let mut a = analytics();
            if a.restore(&framed(&body)).is_ok() {
                let _ = a.evaluate();
                let again = a.snapshot().unwrap();
                let mut b = analytics();
                b.restore(&again).unwrap();
            }
        }

        /// Any change to the bytes themselves is caught.
        #[test]
        fn changed_snapshots_are_errors(
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let mut bytes = sample().to_vec();
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            prop_assert!(analytics().restore(&bytes).is_err());
        }
    }

    /// The bytes of a fixed state. When this fails, the layout of snapshots changed: bump
    /// [`Analytics::SNAPSHOT_VERSION`] (older snapshots must be refused, not misread) and
    /// update the checksum here.
    #[test]
    fn the_format_changes_only_with_its_version() {
        let bytes = sample();
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(Analytics::SNAPSHOT_VERSION, 2);
        assert_eq!(
            (bytes.len(), crc32fast::hash(bytes)),
            (1969, 1_285_284_772),
            "the snapshot format changed: bump Analytics::SNAPSHOT_VERSION"
        );
    }

    /// Written piecewise (into a compressor, say), a snapshot is the same bytes, and a
    /// writer that fails is an error, not a short snapshot.
    #[test]
    fn written_snapshots_are_the_same_bytes() {
        let mut a = analytics();
        events().iter().for_each(|e| a.observe(e));
        let whole = a.snapshot().unwrap();
        assert!(whole.len() > HEADER + 100);
        assert_eq!(a.snapshot_to(Vec::new()).unwrap(), whole);
        let mut short = [0u8; 500];
        let e = a.snapshot_to(&mut short[..]).unwrap_err();
        assert!(e.to_string().contains("cannot write"), "{e}");
    }

    #[test]
    fn inconsistent_states_are_refused() {
        let mut a = analytics();
        events().iter().for_each(|e| a.observe(e));
        let good = a.snapshot().unwrap();
        let body = &good[HEADER..];
        let b: Body<'_> = postcard::from_bytes(body).unwrap();
        let encode = |b: &Body<'_>| framed(&postcard::to_allocvec(b).unwrap());
        let refused = |bytes: Vec<u8>, what: &str| {
            let e = analytics().restore(&bytes).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        };
        let mut x: Body<'_> = postcard::from_bytes(body).unwrap();
        x.names.push(x.names[0]);
        refused(encode(&x), "repeats a string");
        let mut x: Body<'_> = postcard::from_bytes(body).unwrap();
        x.ctxs[0].user = Some(u32::try_from(x.names.len()).unwrap());
        refused(encode(&x), "beyond its string table");
        let mut x: Body<'_> = postcard::from_bytes(body).unwrap();
        let mut y: Body<'_> = postcard::from_bytes(body).unwrap();
        x.ctxs.push(y.ctxs.swap_remove(0));
        refused(encode(&x), "twice");
        let mut x: Body<'_> = postcard::from_bytes(body).unwrap();
        x.ctxs[0].records += 1;
        refused(encode(&x), "counts do not agree");
        let mut x: Body<'_> = postcard::from_bytes(body).unwrap();
        x.ctxs[0].hours[0].hour = i64::MAX / HOUR_NS;
        refused(encode(&x), "record time");
        let mut x: Body<'_> = postcard::from_bytes(body).unwrap();
        x.ctxs[0].locs[0].loc.file = 99;
        refused(encode(&x), "file table");
        let mut x: Body<'_> = postcard::from_bytes(body).unwrap();
        x.ctxs[0].kind = 9;
        refused(encode(&x), "context kind");
        let mut x: Body<'_> = postcard::from_bytes(body).unwrap();
        x.audit_changes[0].what = 200;
        refused(encode(&x), "audit change kind");
        let mut x: Body<'_> = postcard::from_bytes(body).unwrap();
        x.sign_ins.failed = x.sign_ins.records + 1;
        refused(encode(&x), "counts do not agree");
        // Unchanged, it restores.
        analytics().restore(&encode(&b)).unwrap();
    }
}
