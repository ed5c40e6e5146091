//! Field access over a parsed record, tolerant of the type variants exports produce
//! (numbers as strings, booleans as `"True"`, nested JSON as a string).

use std::borrow::Cow;
use std::net::IpAddr;
use std::ops::Deref;

use sonic_rs::{JsonValueTrait, Value};

use super::index::Obj;
use crate::frame::json::depth_exceeds;
use crate::options::Limits;

/// The first of `keys` present with a non-null value.
pub(crate) fn field<'v, O: Obj + ?Sized>(v: &'v O, keys: &[&str]) -> Option<&'v Value> {
    keys.iter()
        .find_map(|k| v.field_raw(k).filter(|x| !x.is_null()))
}

/// Like [`field`], then a case-insensitive match (`SessionId` for `sessionId`).
pub(crate) fn field_ci<'v, O: Obj + ?Sized>(v: &'v O, keys: &[&str]) -> Option<&'v Value> {
    field(v, keys).or_else(|| keys.iter().find_map(|k| v.field_folded(k, true)))
}

/// A scalar as text: non-empty strings as they are, numbers and booleans printed.
pub(crate) fn text(v: &Value) -> Option<String> {
    if let Some(s) = v.as_str() {
        return trimmed(s).map(str::to_owned);
    }
    if let Some(n) = v.as_i64() {
        return Some(n.to_string());
    }
    if let Some(n) = v.as_u64() {
        return Some(n.to_string());
    }
    if let Some(n) = v.as_f64() {
        return Some(n.to_string());
    }
    v.as_bool()
        .map(|b| if b { "True" } else { "False" }.to_owned())
}

/// `s` without surrounding white space, `None` when nothing is left. Most values have no
/// white space at either end: that is checked on the bytes before trimming Unicode white space.
#[inline]
pub(crate) fn trimmed(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (None, _) | (_, None) => None,
        (Some(&f), Some(&l)) if f > b' ' && f < 0x80 && l > b' ' && l < 0x80 => Some(s),
        _ => {
            let t = s.trim();
            (!t.is_empty()).then_some(t)
        }
    }
}

/// Like [`text`], borrowing strings.
pub(crate) fn text_ref(v: &Value) -> Option<Cow<'_, str>> {
    match v.as_str() {
        Some(s) => trimmed(s).map(Cow::Borrowed),
        None => text(v).map(Cow::Owned),
    }
}

/// Like [`str_of`], borrowing strings.
pub(crate) fn str_ref<'v, O: Obj + ?Sized>(v: &'v O, keys: &[&str]) -> Option<Cow<'v, str>> {
    keys.iter().find_map(|k| v.field_raw(k).and_then(text_ref))
}

/// The first of `keys` that has a usable scalar value, as text.
pub(crate) fn str_of<O: Obj + ?Sized>(v: &O, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| v.field_raw(k).and_then(text))
}

/// Case-insensitive [`str_of`].
pub(crate) fn str_ci<O: Obj + ?Sized>(v: &O, keys: &[&str]) -> Option<String> {
    str_of(v, keys).or_else(|| {
        keys.iter()
            .find_map(|k| v.field_folded(k, false).and_then(text))
    })
}

/// An integer, from a number or a numeric string.
pub(crate) fn int(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    if let Some(f) = v.as_f64()
        && f.fract() == 0.0
        && f.abs() < 9.0e15
    {
        #[allow(clippy::cast_possible_truncation)]
        return Some(f as i64);
    }
    v.as_str().and_then(|s| s.trim().parse().ok())
}

/// A boolean from `true`, `"True"`, `"false"`, `1`, `0`.
pub(crate) fn boolean(v: &Value) -> Option<bool> {
    if let Some(b) = v.as_bool() {
        return Some(b);
    }
    if let Some(n) = v.as_i64() {
        return Some(n != 0);
    }
    match v.as_str()?.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// A nested object or array, or one serialised as a JSON string (Sentinel `Folders`,
/// `InitiatedBy`, Defender `RawEventData` as text).
pub(crate) enum Nested<'v> {
    Borrowed(&'v Value),
    Owned(Value),
}

impl Deref for Nested<'_> {
    type Target = Value;
    fn deref(&self) -> &Value {
        match self {
            Nested::Borrowed(v) => v,
            Nested::Owned(v) => v,
        }
    }
}

pub(crate) fn nested<'v>(v: &'v Value, limits: &Limits) -> Option<Nested<'v>> {
    if v.is_object() || v.is_array() {
        return Some(Nested::Borrowed(v));
    }
    let s = v.as_str()?.trim();
    if !(s.starts_with('{') || s.starts_with('[')) {
        return None;
    }
    if s.len() > limits.max_record_bytes || depth_exceeds(s.as_bytes(), limits.max_depth) {
        return None;
    }
    sonic_rs::from_str::<Value>(s).ok().map(Nested::Owned)
}

/// The JSON text of a value (for `Event::raw` of wrapped records). Written with serde_json:
/// sonic-rs' string writer reads past the end of its input buffer (found by fuzzing under
/// AddressSanitizer).
pub(crate) fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Parse a client address: brackets and ports stripped (`[::1]:443`, `1.2.3.4:5678`).
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        let inner = rest.split(']').next()?;
        return inner.split('%').next()?.parse().ok();
    }
    if s.matches(':').count() == 1 {
        return s.split(':').next()?.parse().ok();
    }
    // IPv6 with a zone, or other decorations.
    s.split('%').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_forms() {
        for (s, want) in [
            ("1.2.3.4", "1.2.3.4"),
            ("1.2.3.4:5678", "1.2.3.4"),
            ("[::1]:443", "::1"),
            ("::1", "::1"),
            ("2001:db8::5", "2001:db8::5"),
            (" [2001:db8::5] ", "2001:db8::5"),
            ("fe80::1%eth0", "fe80::1"),
        ] {
            assert_eq!(
                parse_ip(s).map(|i| i.to_string()).as_deref(),
                Some(want),
                "{s}"
            );
        }
        assert_eq!(parse_ip("<CALLER IP ADDRESS>"), None);
    }

    #[test]
    fn loose_scalars() {
        let v: Value =
            sonic_rs::from_str(r#"{"a":"50","b":50,"c":"True","d":false,"e":" ","f":"[1]"}"#)
                .unwrap();
        assert_eq!(v.get("a").and_then(int), Some(50));
        assert_eq!(v.get("b").and_then(int), Some(50));
        assert_eq!(v.get("c").and_then(boolean), Some(true));
        assert_eq!(v.get("d").and_then(boolean), Some(false));
        assert_eq!(str_of(&v, &["e", "a"]), Some("50".to_owned()));
        assert!(
            v.get("f")
                .and_then(|x| nested(x, &Limits::default()))
                .is_some_and(|n| n.is_array())
        );
        assert_eq!(str_ci(&v, &["C"]), Some("True".to_owned()));
    }
}
