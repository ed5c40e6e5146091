//! Field lookup in a parsed record: dotted paths into nested objects, through arrays, with a
//! case-insensitive fallback for key names.

use std::borrow::Cow;

use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value};

/// One candidate location of a field in a record: `a.b.c`, compiled once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FieldPath {
    /// The path segments.
    segs: Vec<String>,
    /// `segs[i..].join(".")` for every `i`, to find keys that contain dots literally.
    suffixes: Vec<String>,
    /// Per segment: key hashes (see [`key_hash`]) of the segment and of its suffix; `None`
    /// for a `*` segment.
    hashes: Vec<Option<(u64, u64)>>,
}

impl FieldPath {
    pub(crate) fn new(path: &str) -> Self {
        let segs: Vec<String> = path.split('.').map(str::to_string).collect();
        let suffixes: Vec<String> = (0..segs.len()).map(|i| segs[i..].join(".")).collect();
        let hashes = segs
            .iter()
            .zip(&suffixes)
            .map(|(s, x)| (s != "*").then(|| (key_hash(s.as_bytes()), key_hash(x.as_bytes()))))
            .collect();
        FieldPath {
            segs,
            suffixes,
            hashes,
        }
    }

    /// Whether the path may exist in a record whose key-set filter is `bloom`: `false` only
    /// when [`lookup`] cannot find it (at some step neither the segment nor the rest of the
    /// path, as one dotted key, is a key of the record).
    pub(crate) fn may_exist(&self, bloom: &[u64]) -> bool {
        let n = self.hashes.len();
        for (i, h) in self.hashes.iter().enumerate() {
            let Some((seg, suffix)) = h else {
                return true;
            };
            if i + 1 < n && bloom_has(bloom, *suffix) {
                return true;
            }
            if !bloom_has(bloom, *seg) {
                return false;
            }
        }
        true
    }
}

/// Hash of a key name as [`get_key`] compares it: spaces ignored, and every byte OR-ed with
/// `0x20`, which folds ASCII case (and merges a few punctuation pairs, which only makes the
/// filter a little less selective). Eight bytes at a time for keys without spaces.
pub(crate) fn key_hash(key: &[u8]) -> u64 {
    const FOLD: u64 = 0x2020_2020_2020_2020;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    fn mix(h: u64, w: u64) -> u64 {
        (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = key.chunks_exact(8);
    let mut fast = true;
    for c in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        let x = u64::from_le_bytes(b);
        // A byte equal to a space makes `x ^ FOLD` hold a zero byte.
        let v = x ^ FOLD;
        if v.wrapping_sub(ONES) & !v & HIGH != 0 {
            fast = false;
            break;
        }
        h = mix(h, x | FOLD);
    }
    let mut n = key.len();
    if fast && !chunks.remainder().contains(&b' ') {
        let mut w = 0u64;
        for (i, &b) in chunks.remainder().iter().enumerate() {
            w |= u64::from(b | 0x20) << (8 * i);
        }
        if !chunks.remainder().is_empty() {
            h = mix(h, w);
        }
    } else {
        // The same words over the bytes other than spaces.
        h = 0xcbf2_9ce4_8422_2325;
        n = 0;
        let mut w = 0u64;
        for &b in key.iter().filter(|b| **b != b' ') {
            w |= u64::from(b | 0x20) << (8 * (n % 8));
            n += 1;
            if n.is_multiple_of(8) {
                h = mix(h, w);
                w = 0;
            }
        }
        if !n.is_multiple_of(8) {
            h = mix(h, w);
        }
    }
    let h = mix(h, n as u64);
    h ^ (h >> 32)
}

/// Bits of the key-set filter (a one-hash Bloom filter).
pub(crate) const KEY_BLOOM_WORDS: usize = 64;

fn bloom_bit(h: u64) -> (usize, u64) {
    let b = (h as usize) % (KEY_BLOOM_WORDS * 64);
    (b / 64, 1 << (b % 64))
}

/// Whether a key with this hash may occur in the record.
pub(crate) fn bloom_has(bloom: &[u64], h: u64) -> bool {
    let (w, m) = bloom_bit(h);
    bloom.get(w).is_none_or(|x| x & m != 0)
}

/// Add every key of the record, at any depth, to the key-set filter: a field path with a
/// segment that is no key of the record cannot be found (see [`FieldPath::may_exist`]).
/// With `scalars`, the same walk also collects every scalar value of the record (strings,
/// numbers, booleans), in document order, for keyword (field-less) searches.
pub(crate) fn index_record<'a>(
    v: &'a Value,
    bloom: &mut [u64],
    mut scalars: Option<&mut Vec<&'a Value>>,
    members: &mut Members<'a>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        members.complete = false;
        return;
    }
    if let Some(obj) = v.as_object() {
        let parent = std::ptr::from_ref(v) as usize;
        for (ord, (k, el)) in obj.iter().enumerate() {
            let hash = key_hash(k.as_bytes());
            let (w, m) = bloom_bit(hash);
            if let Some(x) = bloom.get_mut(w) {
                *x |= m;
            }
            members.entries.push(Member {
                obj: parent,
                hash,
                ord: u32::try_from(ord).unwrap_or(u32::MAX),
                key: k,
                value: el,
                next: 0,
            });
            if el.is_object() || el.is_array() {
                index_record(el, bloom, scalars.as_deref_mut(), members, depth + 1);
            } else if depth < MAX_DEPTH
                && !el.is_null()
                && let Some(out) = scalars.as_deref_mut()
            {
                out.push(el);
            }
        }
    } else if let Some(arr) = v.as_array() {
        for el in arr.iter() {
            if el.is_object() || el.is_array() {
                index_record(el, bloom, scalars.as_deref_mut(), members, depth + 1);
            } else if depth < MAX_DEPTH
                && !el.is_null()
                && let Some(out) = scalars.as_deref_mut()
            {
                out.push(el);
            }
        }
    } else if depth == 0
        && !v.is_null()
        && let Some(out) = scalars
    {
        out.push(v);
    }
}

/// Per-record index of object members by (object, key hash), built by [`index_record`]:
/// finding a member costs a probe instead of a pass over the object.
#[derive(Debug, Default)]
pub(crate) struct Members<'a> {
    /// Bucket → first member (index + 1; 0: none).
    heads: Vec<u32>,
    entries: Vec<Member<'a>>,
    /// Every object of the record was indexed (none lies deeper than the walk goes).
    complete: bool,
}

#[derive(Debug, Clone, Copy)]
struct Member<'a> {
    /// Address of the object holding it.
    obj: usize,
    /// [`key_hash`] of its name.
    hash: u64,
    /// Position in its object.
    ord: u32,
    key: &'a str,
    value: &'a Value,
    /// Next member of the bucket (index + 1; 0: none).
    next: u32,
}

/// Reuse an empty vector's allocation for another lifetime of the same element type.
fn relabel<T, U>(v: Vec<T>) -> Vec<U> {
    v.into_iter().filter_map(|_| None).collect()
}

fn member_bucket(obj: usize, hash: u64, mask: usize) -> usize {
    let h = (hash ^ (obj as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_mul(0xD6E8_FEB8_6659_FD93);
    ((h >> 32) as usize) & mask
}

impl<'a> Members<'a> {
    /// Empty, for a new record (the buffers are kept).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.heads.clear();
        self.complete = true;
    }

    /// Link the members collected by [`index_record`] into buckets.
    pub(crate) fn finish(&mut self) {
        let size = (self.entries.len() * 2).next_power_of_two().max(16);
        self.heads.clear();
        self.heads.resize(size, 0);
        let mask = size - 1;
        for (i, m) in self.entries.iter_mut().enumerate() {
            let b = member_bucket(m.obj, m.hash, mask);
            if let Some(h) = self.heads.get_mut(b) {
                m.next = *h;
                *h = u32::try_from(i + 1).unwrap_or(0);
            }
        }
    }

    /// Reuse the buffers for another lifetime.
    pub(crate) fn relabel<'b>(self) -> Members<'b> {
        let Members {
            heads,
            mut entries,
            complete,
        } = self;
        entries.clear();
        Members {
            heads,
            entries: relabel(entries),
            complete,
        }
    }

    /// [`get_key`] through the index; `hash` is [`key_hash`] of `key`.
    fn get(&self, v: &'a Value, key: &str, hash: Option<u64>) -> Option<&'a Value> {
        let Some(hash) = hash.filter(|_| self.complete && !self.heads.is_empty()) else {
            return get_key(v, key);
        };
        let obj = std::ptr::from_ref(v) as usize;
        let mut exact: Option<(u32, &'a Value)> = None;
        let mut folded: Option<(u32, &'a Value)> = None;
        let mut spaced: Option<(u32, &'a Value)> = None;
        let keep = |best: &mut Option<(u32, &'a Value)>, m: &Member<'a>| {
            if best.is_none_or(|(o, _)| m.ord < o) {
                *best = Some((m.ord, m.value));
            }
        };
        let mut e = self
            .heads
            .get(member_bucket(obj, hash, self.heads.len() - 1))
            .copied()
            .unwrap_or(0);
        while let Some(m) = e.checked_sub(1).and_then(|i| self.entries.get(i as usize)) {
            e = m.next;
            if m.obj != obj || m.hash != hash {
                continue;
            }
            if m.key.len() == key.len() {
                if m.key == key {
                    keep(&mut exact, m);
                } else if m.key.eq_ignore_ascii_case(key) {
                    keep(&mut folded, m);
                }
            } else if m.key.len() > key.len() && eq_no_space(m.key, key) {
                keep(&mut spaced, m);
            }
        }
        exact.or(folded).or(spaced).map(|(_, v)| v)
    }
}

/// The key set and member index of a record, for lookups.
#[derive(Clone, Copy)]
pub(crate) struct RecordIndex<'i, 'a> {
    pub(crate) bloom: &'i [u64],
    pub(crate) members: &'i Members<'a>,
}

/// Object member by name: exact first, then ASCII case-insensitive.
pub(crate) fn get_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    // One pass: an exact match wins at once; otherwise the first case-insensitive match,
    // then the first match ignoring spaces in the record's key (Windows event data names
    // written with spaces: `Threat Name` for `ThreatName`).
    let mut folded = None;
    let mut spaced = None;
    for (k, el) in obj.iter() {
        if k.len() == key.len() {
            if k == key {
                return Some(el);
            }
            if folded.is_none() && k.eq_ignore_ascii_case(key) {
                folded = Some(el);
            }
        } else if spaced.is_none() && k.len() > key.len() && eq_no_space(k, key) {
            spaced = Some(el);
        }
    }
    folded.or(spaced)
}

fn eq_no_space(k: &str, key: &str) -> bool {
    let mut a = k.bytes().filter(|b| *b != b' ');
    let mut b = key.bytes();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(&y) => {}
            _ => return false,
        }
    }
}

/// Collect the leaf values at `path` (arrays on the way are traversed; a leaf array
/// contributes its elements). Returns whether the field exists at all.
pub(crate) fn lookup<'a>(root: &'a Value, path: &FieldPath, out: &mut Vec<&'a Value>) -> bool {
    lookup_with(root, path, None, out)
}

/// [`lookup`] in a record indexed by [`index_record`]: keys the key-set filter rules out are
/// not searched for, and members are found through the member index.
pub(crate) fn lookup_with<'a>(
    root: &'a Value,
    path: &FieldPath,
    ix: Option<RecordIndex<'_, 'a>>,
    out: &mut Vec<&'a Value>,
) -> bool {
    let before = out.len();
    let mut present = false;
    walk(root, path, 0, out, &mut present, 0, ix);
    present || out.len() > before
}

const MAX_DEPTH: usize = 64;

fn walk<'a>(
    v: &'a Value,
    path: &FieldPath,
    i: usize,
    out: &mut Vec<&'a Value>,
    present: &mut bool,
    depth: usize,
    ix: Option<RecordIndex<'_, 'a>>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if i >= path.segs.len() {
        *present = true;
        push_leaf(v, out);
        return;
    }
    if let Some(arr) = v.as_array() {
        for el in arr.iter() {
            walk(el, path, i, out, present, depth + 1, ix);
        }
        return;
    }
    if !v.is_object() {
        return;
    }
    // A key that holds the rest of the path literally (`"properties.message": …`).
    let hashes = path.hashes.get(i).copied().flatten();
    let find = |key: &str, hash: Option<u64>| match ix {
        Some(ix) => ix.members.get(v, key, hash),
        None => get_key(v, key),
    };
    if i + 1 < path.segs.len()
        && ix.is_none_or(|ix| hashes.is_none_or(|(_, suffix)| bloom_has(ix.bloom, suffix)))
        && let Some(found) = find(&path.suffixes[i], hashes.map(|h| h.1))
    {
        *present = true;
        push_leaf(found, out);
        return;
    }
    if path.segs[i] == "*" {
        if let Some(obj) = v.as_object() {
            for (_, el) in obj.iter() {
                walk(el, path, i + 1, out, present, depth + 1, ix);
            }
        }
        return;
    }
    if let Some(next) = find(&path.segs[i], hashes.map(|h| h.0)) {
        walk(next, path, i + 1, out, present, depth + 1, ix);
    }
}

fn push_leaf<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    if let Some(arr) = v.as_array() {
        for el in arr.iter() {
            out.push(el);
        }
    } else {
        out.push(v);
    }
}

/// A leaf value prepared for matching: its text (strings, numbers, booleans) and a lowercase
/// copy computed once per event.
#[derive(Debug, Clone)]
pub(crate) enum Leaf<'a> {
    /// A string, number or boolean with its text and lowercase text.
    Text {
        text: Cow<'a, str>,
        lower: Cow<'a, str>,
        num: Option<f64>,
        is_str: bool,
    },
    /// JSON null.
    Null,
    /// A nested array (a list inside a list): matches no value pattern.
    Other,
}

pub(crate) fn lower_cow(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        let l = s.to_lowercase();
        if l == s {
            Cow::Borrowed(s)
        } else {
            Cow::Owned(l)
        }
    }
}

pub(crate) fn to_leaf(v: &Value) -> Leaf<'_> {
    if let Some(s) = v.as_str() {
        let num = parse_num(s);
        return Leaf::Text {
            lower: lower_cow(s),
            text: Cow::Borrowed(s),
            num,
            is_str: true,
        };
    }
    if v.is_null() {
        return Leaf::Null;
    }
    if let Some(b) = v.as_bool() {
        let t = if b { "true" } else { "false" };
        return Leaf::Text {
            text: Cow::Borrowed(t),
            lower: Cow::Borrowed(t),
            num: None,
            is_str: false,
        };
    }
    if v.is_number() {
        let text = if let Some(i) = v.as_i64() {
            i.to_string()
        } else if let Some(u) = v.as_u64() {
            u.to_string()
        } else {
            v.as_f64().map(|f| f.to_string()).unwrap_or_default()
        };
        let num = v.as_f64();
        return Leaf::Text {
            lower: Cow::Owned(text.clone()),
            text: Cow::Owned(text),
            num,
            is_str: false,
        };
    }
    if v.is_object() {
        // An object (a whole field, or an element of a list) is matched as its compact JSON
        // text, as backends that store such values in one text column do
        // (`Parameters|contains: ForwardingSmtpAddress` on `[{"Name": …, "Value": …}]`).
        let text = sonic_rs::to_string(v).unwrap_or_default();
        return Leaf::Text {
            lower: Cow::Owned(lower_cow(&text).into_owned()),
            text: Cow::Owned(text),
            num: None,
            is_str: false,
        };
    }
    Leaf::Other
}

/// A number in text (`"4688"`, `" 12.5 "`, `0x1F`).
pub(crate) fn parse_num(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.len() > 40 {
        return None;
    }
    let first = t.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok().map(|i| i as f64);
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn key_hash_folds_case_and_spaces() {
        for (a, b) in [
            ("ThreatName", "threatname"),
            ("Threat Name", "THREATNAME"),
            ("AuthenticationRequirement", "authentication requirement"),
            ("a", "A"),
            ("", " "),
            ("properties.Operation", "PROPERTIES.operation"),
        ] {
            assert_eq!(key_hash(a.as_bytes()), key_hash(b.as_bytes()), "{a} / {b}");
        }
        assert_ne!(key_hash(b"Operation"), key_hash(b"Operations"));
        assert_ne!(key_hash(b"ab"), key_hash(b"ab\0"));
    }

    #[test]
    fn dotted_paths_arrays_and_case() {
        let v: Value = sonic_rs::from_str(
            r#"{"DeviceDetail":{"trustType":"Hybrid"},"a":[{"b":1},{"b":[2,3]}],"properties.message":"x"}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        assert!(lookup(
            &v,
            &FieldPath::new("DeviceDetail.trusttype"),
            &mut out
        ));
        assert_eq!(out[0].as_str(), Some("Hybrid"));
        out.clear();
        assert!(lookup(&v, &FieldPath::new("a.b"), &mut out));
        assert_eq!(out.len(), 3);
        out.clear();
        assert!(lookup(&v, &FieldPath::new("properties.message"), &mut out));
        out.clear();
        assert!(!lookup(&v, &FieldPath::new("nope"), &mut out));
    }

    #[test]
    fn indexed_lookups_agree_with_object_scans() {
        let v: Value = sonic_rs::from_str(
            r#"{"Event":{"EventData":{"threat name":"a","ThreatName":"b","THREATNAME":"c","threatname":"d","x":[{"Y":1},{"y":2}]},"EventData.Threat Name":"e"},"a.b":{"c":3},"a":{"b":{"c":4}}}"#,
        )
        .unwrap();
        let mut bloom = vec![0u64; KEY_BLOOM_WORDS];
        let mut members = Members::default();
        members.clear();
        index_record(&v, &mut bloom, None, &mut members, 0);
        members.finish();
        let ix = RecordIndex {
            bloom: &bloom,
            members: &members,
        };
        for path in [
            "Event.EventData.ThreatName",
            "Event.EventData.threatname",
            "Event.EventData.Threatname",
            "Event.EventData.Threat Name",
            "Event.EventData.x.y",
            "Event.EventData.Threat",
            "Event.eventdata.ThreatName",
            "a.b.c",
            "A.B.C",
            "Event.*.x.Y",
            "nope.x",
        ] {
            let p = FieldPath::new(path);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let fa = lookup(&v, &p, &mut a);
            let fb = lookup_with(&v, &p, Some(ix), &mut b);
            assert_eq!(fa, fb, "{path}");
            assert_eq!(
                a.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
                b.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
                "{path}"
            );
        }
    }
}
