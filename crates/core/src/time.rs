//! UTC timestamps with 100 ns precision, parsed from every form the audit logs use.
//!
//! Accepted: `2023-09-15T18:16:53` (no zone: UTC), `2021-08-02T13:32:07.0000000Z`
//! (up to 9 fraction digits), `Z`, `+hh:mm` / `-hh:mm` / `+hhmm` offsets, a space instead of
//! `T` (`2022-03-22 14:21:53.225`), and a bare date `2023-06-12`.
//! Also US-style `6/12/2023 3:14:07 AM` as written by some PowerShell exports.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::TimeError;

/// A point in time, in nanoseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From nanoseconds since the epoch.
    #[must_use]
    pub const fn from_nanos(n: i64) -> Self {
        Timestamp(n)
    }

    /// From whole seconds since the epoch (saturating).
    #[must_use]
    pub const fn from_unix_seconds(s: i64) -> Self {
        Timestamp(s.saturating_mul(NANOS_PER_SEC))
    }

    /// Nanoseconds since the epoch.
    #[must_use]
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (floor).
    #[must_use]
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// Add a number of seconds (saturating).
    #[must_use]
    pub const fn add_seconds(self, s: i64) -> Self {
        Timestamp(self.0.saturating_add(s.saturating_mul(NANOS_PER_SEC)))
    }

    /// Days since the epoch (floor), for per-day grouping.
    #[must_use]
    pub const fn day_number(self) -> i64 {
        self.unix_seconds().div_euclid(SECS_PER_DAY)
    }

    /// The UTC calendar date as `YYYY-MM-DD`.
    #[must_use]
    pub fn date_string(self) -> String {
        let (y, m, d) = civil_from_days(self.day_number());
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// Hour of day (0–23, UTC).
    #[must_use]
    pub fn hour(self) -> u32 {
        let secs = self.unix_seconds().rem_euclid(SECS_PER_DAY);
        u32::try_from(secs / 3600).unwrap_or(0)
    }

    /// Day of week, 0 = Monday … 6 = Sunday (UTC).
    #[must_use]
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        u32::try_from((self.day_number() + 3).rem_euclid(7)).unwrap_or(0)
    }

    /// Parse any of the accepted forms (see module docs).
    ///
    /// # Errors
    /// [`TimeError`] naming what is wrong with the text.
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        parse(s.trim())
    }

    /// Build from calendar fields (UTC). Returns `None` for impossible dates.
    #[must_use]
    pub fn from_civil(
        y: i64,
        mo: u32,
        d: u32,
        h: u32,
        mi: u32,
        s: u32,
        nanos: u32,
    ) -> Option<Self> {
        if !(1..=12).contains(&mo)
            || d == 0
            || d > days_in_month(y, mo)
            || h > 23
            || mi > 59
            || s > 60
        {
            return None;
        }
        let days = days_from_civil(y, mo, d);
        let secs = days
            .checked_mul(SECS_PER_DAY)?
            .checked_add(i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s))?;
        Some(Timestamp(
            secs.checked_mul(NANOS_PER_SEC)?
                .checked_add(i64::from(nanos))?,
        ))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with `Z`; fraction digits only when non-zero (7 at most needed, 9 kept).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.unix_seconds();
        let nanos = self.0.rem_euclid(NANOS_PER_SEC);
        let (y, m, d) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
        let rem = secs.rem_euclid(SECS_PER_DAY);
        let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
        write!(f, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}")?;
        if nanos != 0 {
            let mut frac = format!("{nanos:09}");
            while frac.ends_with('0') {
                frac.pop();
            }
            write!(f, ".{frac}")?;
        }
        f.write_str("Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // d is 1..=31 and m 1..=12 by construction.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn digits(&mut self, min: usize, max: usize) -> Option<(u64, usize)> {
        let start = self.i;
        let mut v: u64 = 0;
        while self.i - start < max {
            match self.peek() {
                Some(c) if c.is_ascii_digit() => {
                    v = v * 10 + u64::from(c - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        let n = self.i - start;
        (n >= min).then_some((v, n))
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
}

fn parse(s: &str) -> Result<Timestamp, TimeError> {
    if s.is_empty() {
        return Err(TimeError::Empty);
    }
    if s.len() > 64 {
        return Err(TimeError::TooLong);
    }
    let bad = || TimeError::Invalid(s.chars().take(64).collect());
    if s.contains('/') {
        return parse_us(s).ok_or_else(bad);
    }
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let (y, _) = c.digits(4, 4).ok_or_else(bad)?;
    if !c.eat(b'-') {
        return Err(bad());
    }
    let (mo, _) = c.digits(1, 2).ok_or_else(bad)?;
    if !c.eat(b'-') {
        return Err(bad());
    }
    let (d, _) = c.digits(1, 2).ok_or_else(bad)?;
    let (mut h, mut mi, mut sec, mut nanos) = (0u64, 0u64, 0u64, 0u64);
    let mut offset_secs: i64 = 0;
    if c.peek().is_some() {
        if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
            return Err(bad());
        }
        h = c.digits(1, 2).ok_or_else(bad)?.0;
        if !c.eat(b':') {
            return Err(bad());
        }
        mi = c.digits(2, 2).ok_or_else(bad)?.0;
        if c.eat(b':') {
            sec = c.digits(2, 2).ok_or_else(bad)?.0;
            if c.eat(b'.') || c.eat(b',') {
                let (f, n) = c.digits(1, 18).ok_or_else(bad)?;
                nanos = scale_fraction(f, n);
            }
        }
        match c.peek() {
            None => {}
            Some(b'Z' | b'z') => c.i += 1,
            Some(sign @ (b'+' | b'-')) => {
                c.i += 1;
                let (oh, _) = c.digits(2, 2).ok_or_else(bad)?;
                c.eat(b':');
                let om = c.digits(2, 2).map_or(0, |v| v.0);
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                let o = i64::try_from(oh * 3600 + om * 60).map_err(|_| bad())?;
                offset_secs = if sign == b'+' { o } else { -o };
            }
            Some(_) => return Err(bad()),
        }
        if c.peek().is_some() {
            return Err(bad());
        }
    }
    let to32 = |v: u64| u32::try_from(v).map_err(|_| bad());
    let t = Timestamp::from_civil(
        i64::try_from(y).map_err(|_| bad())?,
        to32(mo)?,
        to32(d)?,
        to32(h)?,
        to32(mi)?,
        to32(sec)?,
        to32(nanos)?,
    )
    .ok_or_else(bad)?;
    Ok(t.add_seconds(-offset_secs))
}

fn scale_fraction(f: u64, digits: usize) -> u64 {
    if digits <= 9 {
        f * 10u64.pow(u32::try_from(9 - digits).unwrap_or(0))
    } else {
        f / 10u64.pow(u32::try_from(digits - 9).unwrap_or(0))
    }
}

/// `M/D/YYYY h:mm:ss AM` (US, as PowerShell writes `CreationDate`), 24-hour if no AM/PM.
fn parse_us(s: &str) -> Option<Timestamp> {
    let mut parts = s.split_whitespace();
    let date = parts.next()?;
    let time = parts.next().unwrap_or("0:00:00");
    let ampm = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let mut d = date.split('/');
    let mo: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let y: i64 = d.next()?.parse().ok()?;
    if d.next().is_some() || !(1000..=9999).contains(&y) {
        return None;
    }
    let mut t = time.split(':');
    let mut h: u32 = t.next()?.parse().ok()?;
    let mi: u32 = t.next()?.parse().ok()?;
    let sec: u32 = t.next().map_or(Some(0), |v| v.parse().ok())?;
    if t.next().is_some() {
        return None;
    }
    match ampm.map(str::to_ascii_uppercase).as_deref() {
        None => {}
        Some("AM") if (1..=12).contains(&h) => h %= 12,
        Some("PM") if (1..=12).contains(&h) => h = h % 12 + 12,
        Some(_) => return None,
    }
    Timestamp::from_civil(y, mo, day, h, mi, sec, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_in_the_corpus() {
        let a = Timestamp::parse("2023-09-15T18:16:53").unwrap();
        assert_eq!(a.to_string(), "2023-09-15T18:16:53Z");
        let b = Timestamp::parse("2021-08-02T13:32:07.0000000Z").unwrap();
        assert_eq!(b.to_string(), "2021-08-02T13:32:07Z");
        let c = Timestamp::parse("2021-08-02T13:32:07.1234567Z").unwrap();
        assert_eq!(c.to_string(), "2021-08-02T13:32:07.1234567Z");
        let d = Timestamp::parse("2023-06-12T05:14:07+02:00").unwrap();
        assert_eq!(d.to_string(), "2023-06-12T03:14:07Z");
        let e = Timestamp::parse("2022-03-22 14:21:53.225").unwrap();
        assert_eq!(e.to_string(), "2022-03-22T14:21:53.225Z");
        let f = Timestamp::parse("6/12/2023 3:14:07 AM").unwrap();
        assert_eq!(f.to_string(), "2023-06-12T03:14:07Z");
        let g = Timestamp::parse("6/12/2023 12:00:00 AM").unwrap();
        assert_eq!(g.to_string(), "2023-06-12T00:00:00Z");
        assert_eq!(
            Timestamp::parse("2023-06-12").unwrap().to_string(),
            "2023-06-12T00:00:00Z"
        );
        assert_eq!(
            Timestamp::parse("2023-06-12T03:14-0130")
                .unwrap()
                .to_string(),
            "2023-06-12T04:44:00Z"
        );
    }

    #[test]
    fn rejects_nonsense() {
        for s in [
            "",
            "2023-13-01",
            "2023-02-30T00:00:00",
            "2023-01-01T25:00:00",
            "x",
            "2023-01-01T00:00:00Q",
            "2023-01-01T00:00:00+99:00",
            "99999999999999999999-01-01",
            "13/45/2023",
        ] {
            assert!(Timestamp::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn calendar_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        let t = Timestamp::parse("2023-06-12T03:14:07Z").unwrap();
        assert_eq!(t.weekday(), 0, "2023-06-12 was a Monday");
        assert_eq!(t.hour(), 3);
        assert_eq!(t.date_string(), "2023-06-12");
    }
}
