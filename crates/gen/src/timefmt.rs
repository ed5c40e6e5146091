//! Timestamp text in the forms the real exports use.
//!
//! Times inside the generator are whole seconds since the Unix epoch (UTC) plus, for
//! sign-ins, a 100 ns tick fraction.

use std::fmt::Write as _;

use stormwatch_core::Timestamp;

pub(crate) const DAY: i64 = 86_400;
pub(crate) const HOUR: i64 = 3_600;

/// Seconds since the epoch for a UTC calendar date and time.
pub(crate) fn secs(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    Timestamp::from_civil(y, mo, d, h, mi, s, 0).map_or(0, Timestamp::unix_seconds)
}

/// The core timestamp for seconds (+ ticks).
pub(crate) fn ts(secs: i64, ticks: u32) -> Timestamp {
    Timestamp::from_nanos(
        secs.saturating_mul(1_000_000_000)
            .saturating_add(i64::from(ticks) * 100),
    )
}

/// Civil date and time of a second count.
pub(crate) fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(DAY);
    let rem = secs.rem_euclid(DAY);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let h = rem / 3600;
    let mi = (rem % 3600) / 60;
    let s = rem % 60;
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
        u32::try_from(h).unwrap_or(0),
        u32::try_from(mi).unwrap_or(0),
        u32::try_from(s).unwrap_or(0),
    )
}

/// Day of week, 0 = Monday.
pub(crate) fn weekday(secs: i64) -> i64 {
    (secs.div_euclid(DAY) + 3).rem_euclid(7)
}

fn push2(out: &mut String, v: u32) {
    out.push(char::from(b'0' + u8::try_from(v / 10 % 10).unwrap_or(0)));
    out.push(char::from(b'0' + u8::try_from(v % 10).unwrap_or(0)));
}

fn push_base(out: &mut String, secs: i64) {
    let (y, mo, d, h, mi, s) = civil(secs);
    let _ = write!(out, "{y:04}-");
    push2(out, mo);
    out.push('-');
    push2(out, d);
    out.push('T');
    push2(out, h);
    out.push(':');
    push2(out, mi);
    out.push(':');
    push2(out, s);
}

/// `2023-06-12T03:14:07` (no zone: the Management API and NDJSON exports).
pub(crate) fn push_plain(out: &mut String, secs: i64) {
    push_base(out, secs);
}

/// `2023-06-12T03:14:07Z`.
pub(crate) fn push_z(out: &mut String, secs: i64) {
    push_base(out, secs);
    out.push('Z');
}

/// `2023-06-12T03:14:07.0000000Z` (7-digit fraction, as Purview and Defender write).
pub(crate) fn push_ticks_z(out: &mut String, secs: i64, ticks: u32) {
    push_base(out, secs);
    let _ = write!(out, ".{:07}Z", ticks % 10_000_000);
}

/// `2023-06-12T03:14:07.1234567+00:00` (Azure Monitor `properties.createdDateTime`).
pub(crate) fn push_ticks_offset(out: &mut String, secs: i64, ticks: u32) {
    push_base(out, secs);
    let _ = write!(out, ".{:07}+00:00", ticks % 10_000_000);
}

/// `6/12/2023 3:14:07 AM` (PowerShell `Export-Csv` of `Search-UnifiedAuditLog`).
pub(crate) fn push_us(out: &mut String, secs: i64) {
    let (y, mo, d, h, mi, s) = civil(secs);
    let (h12, ampm) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    let _ = write!(out, "{mo}/{d}/{y} {h12}:{mi:02}:{s:02} {ampm}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_back() {
        let t = secs(2023, 6, 12, 3, 14, 7);
        let mut a = String::new();
        push_plain(&mut a, t);
        assert_eq!(a, "2023-06-12T03:14:07");
        let mut b = String::new();
        push_ticks_z(&mut b, t, 0);
        assert_eq!(b, "2023-06-12T03:14:07.0000000Z");
        let mut c = String::new();
        push_us(&mut c, t);
        assert_eq!(c, "6/12/2023 3:14:07 AM");
        for s in [a, b, c] {
            assert_eq!(Timestamp::parse(&s).map(Timestamp::unix_seconds), Ok(t));
        }
        assert_eq!(weekday(t), 0, "2023-06-12 was a Monday");
        let mut d = String::new();
        push_us(&mut d, secs(2023, 6, 12, 15, 0, 0));
        assert_eq!(d, "6/12/2023 3:00:00 PM");
    }
}
