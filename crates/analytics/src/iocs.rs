//! IOC IP sets with validity windows: the built-in Storm-0558 indicators, CSV and STIX 2.1.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use stormwatch_core::Timestamp;

use crate::error::AnalyticsError;

/// One indicator: an IP with the window in which it was known bad.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Indicator {
    /// The address.
    pub ip: IpAddr,
    /// Start of the window (inclusive); `None`: since always.
    pub valid_from: Option<Timestamp>,
    /// End of the window (inclusive); `None`: still valid.
    pub valid_until: Option<Timestamp>,
    /// Where the indicator comes from (e.g. "Microsoft Threat Intelligence, 2023-07-14").
    pub source: String,
    /// What it is (e.g. "Storm-0558 SoftEther proxy").
    pub description: String,
}

/// Where a time falls relative to an indicator's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WindowFit {
    /// Inside the window.
    Inside,
    /// Outside the window but within the margin.
    Margin,
    /// Further out.
    Outside,
}

impl Indicator {
    pub(crate) fn fit(&self, t: Timestamp, margin_days: u32) -> WindowFit {
        let m = i64::from(margin_days) * 86_400;
        let after_start = self.valid_from.is_none_or(|f| t >= f);
        let before_end = self.valid_until.is_none_or(|u| t <= u);
        if after_start && before_end {
            return WindowFit::Inside;
        }
        let after_m = self.valid_from.is_none_or(|f| t >= f.add_seconds(-m));
        let before_m = self.valid_until.is_none_or(|u| t <= u.add_seconds(m));
        if after_m && before_m {
            WindowFit::Margin
        } else {
            WindowFit::Outside
        }
    }

    /// The window as text.
    pub(crate) fn window_text(&self) -> String {
        let f = self
            .valid_from
            .map_or_else(|| "…".to_owned(), |t| t.date_string());
        let u = self
            .valid_until
            .map_or_else(|| "…".to_owned(), |t| t.date_string());
        format!("{f} to {u}")
    }
}

/// A set of IOC IPs, each with one or more validity windows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IocSet {
    by_ip: BTreeMap<IpAddr, Vec<Indicator>>,
}

const MS_TI: &str = "Microsoft Threat Intelligence, Analysis of Storm-0558 techniques (2023-07-14)";

/// (ip, first seen M/D, last seen M/D, kind), year 2023, from storm-0558.md §4.
/// (month, day) in 2023.
type MonthDay = (u32, u32);

const STORM_0558: &[(&str, MonthDay, MonthDay, &str)] = &[
    ("195.26.87.219", (5, 15), (6, 25), "token web panel"),
    ("185.236.228.183", (5, 24), (6, 11), "token web panel"),
    ("85.239.63.160", (6, 7), (6, 11), "token web panel"),
    ("193.105.134.58", (6, 24), (6, 25), "token web panel"),
    ("146.0.74.16", (6, 28), (7, 4), "token web panel"),
    ("91.231.186.226", (6, 29), (7, 4), "token web panel"),
    ("91.222.174.41", (6, 29), (7, 3), "token web panel"),
    ("185.38.142.249", (6, 29), (7, 2), "token web panel"),
    ("51.89.156.153", (3, 9), (7, 10), "SoftEther proxy"),
    ("176.31.90.129", (3, 28), (6, 29), "SoftEther proxy"),
    ("137.74.181.100", (3, 31), (7, 11), "SoftEther proxy"),
    ("193.36.119.45", (4, 19), (7, 7), "SoftEther proxy"),
    ("185.158.248.159", (4, 24), (7, 6), "SoftEther proxy"),
    ("131.153.78.188", (5, 6), (6, 29), "SoftEther proxy"),
    ("37.143.130.146", (5, 12), (5, 19), "SoftEther proxy"),
    ("146.70.157.45", (5, 12), (6, 8), "SoftEther proxy"),
    ("185.195.200.39", (5, 15), (6, 29), "SoftEther proxy"),
    ("185.38.142.229", (5, 15), (7, 12), "SoftEther proxy"),
    ("146.70.121.44", (5, 17), (6, 29), "SoftEther proxy"),
    ("31.42.177.181", (5, 22), (5, 23), "SoftEther proxy"),
    ("185.51.134.52", (6, 7), (7, 11), "SoftEther proxy"),
    ("173.44.226.70", (6, 9), (7, 11), "SoftEther proxy"),
    ("45.14.227.233", (6, 12), (6, 26), "SoftEther proxy"),
    ("185.236.231.109", (6, 12), (7, 3), "SoftEther proxy"),
    ("178.73.220.149", (6, 16), (7, 12), "SoftEther proxy"),
    ("45.14.227.212", (6, 19), (6, 29), "SoftEther proxy"),
    ("91.222.173.225", (6, 20), (7, 1), "SoftEther proxy"),
    ("146.70.35.168", (6, 22), (6, 29), "SoftEther proxy"),
    ("146.70.157.213", (6, 26), (6, 30), "SoftEther proxy"),
    ("31.42.177.201", (6, 27), (6, 29), "SoftEther proxy"),
    ("5.252.176.8", (7, 1), (7, 1), "SoftEther proxy"),
    ("80.85.158.215", (7, 1), (7, 9), "SoftEther proxy"),
    ("193.149.129.88", (7, 2), (7, 12), "SoftEther proxy"),
    ("5.252.178.68", (7, 3), (7, 11), "SoftEther proxy"),
    ("116.202.251.8", (7, 4), (7, 7), "SoftEther proxy"),
    ("185.158.248.93", (6, 25), (6, 26), "actor infrastructure"),
    (
        "20.108.240.252",
        (6, 25),
        (7, 5),
        "actor infrastructure (Azure address space: expect false positives)",
    ),
    ("146.70.135.182", (5, 18), (6, 22), "actor infrastructure"),
];

impl IocSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        IocSet::default()
    }

    /// The published Storm-0558 IPs (Microsoft, 2023-07-14) with their first/last-seen dates
    /// in 2023 as windows (first day 00:00 to last day 23:59:59 UTC).
    #[must_use]
    pub fn builtin_storm_0558() -> Self {
        let mut s = IocSet::new();
        for &(ip, (fm, fd), (lm, ld), kind) in STORM_0558 {
            let Ok(ip) = ip.parse::<IpAddr>() else {
                continue;
            };
            s.add(Indicator {
                ip,
                valid_from: Timestamp::from_civil(2023, fm, fd, 0, 0, 0, 0),
                valid_until: Timestamp::from_civil(2023, lm, ld, 23, 59, 59, 0),
                source: MS_TI.to_owned(),
                description: format!("Storm-0558 {kind}"),
            });
        }
        s
    }

    /// Add one indicator.
    pub fn add(&mut self, ind: Indicator) {
        let v = self.by_ip.entry(ind.ip).or_default();
        if !v.contains(&ind) {
            v.push(ind);
            v.sort();
        }
    }

    /// Add every indicator of `other`.
    pub fn merge(&mut self, other: IocSet) {
        for (_, v) in other.by_ip {
            for i in v {
                self.add(i);
            }
        }
    }

    /// Number of distinct IPs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_ip.len()
    }

    /// No indicators.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty()
    }

    /// The indicators of `ip`.
    #[must_use]
    pub fn get(&self, ip: &IpAddr) -> &[Indicator] {
        self.by_ip.get(ip).map_or(&[], Vec::as_slice)
    }

    /// Every indicator as `(ip, from, until)`, open ends as the epoch / the far future, sorted.
    #[must_use]
    pub fn ip_windows(&self) -> Vec<(String, Timestamp, Timestamp)> {
        self.ip_windows_with_margin(0)
    }

    /// As [`IocSet::ip_windows`], each window widened by `margin_days` on both sides.
    #[must_use]
    pub fn ip_windows_with_margin(&self, margin_days: u32) -> Vec<(String, Timestamp, Timestamp)> {
        let m = i64::from(margin_days) * 86_400;
        self.iter()
            .map(|i| {
                (
                    i.ip.to_string(),
                    i.valid_from.map_or(Timestamp::EPOCH, |t| t.add_seconds(-m)),
                    i.valid_until
                        .map_or(Timestamp::from_nanos(i64::MAX), |t| t.add_seconds(m)),
                )
            })
            .collect()
    }

    /// Every indicator, by IP.
    pub fn iter(&self) -> impl Iterator<Item = &Indicator> {
        self.by_ip.values().flatten()
    }

    /// Load a file: a STIX 2.1 bundle (JSON, `"type": "bundle"`) or CSV with a header naming
    /// the columns `ip` (or `indicator` / `value`), and optionally `valid_from` (or
    /// `first_seen`), `valid_until` (or `last_seen`), `description`.
    ///
    /// # Errors
    /// The file cannot be read, or a row / indicator is invalid (named by line or id).
    pub fn load(path: &Path) -> Result<Self, AnalyticsError> {
        let text = std::fs::read_to_string(path).map_err(|source| AnalyticsError::Io {
            path: path.to_owned(),
            source,
        })?;
        if text.trim_start().starts_with('{') {
            parse_stix(path, &text)
        } else {
            parse_csv(path, &text)
        }
    }
}

fn parse_time(s: &str) -> Option<Result<Timestamp, String>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    Some(Timestamp::parse(s).map_err(|e| e.to_string()))
}

fn parse_csv(path: &Path, text: &str) -> Result<IocSet, AnalyticsError> {
    let err = |line: u64, reason: String| AnalyticsError::Csv {
        path: path.to_owned(),
        line,
        reason,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let col = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    let ip_col = col(&["ip", "indicator", "value", "ip_address"]).ok_or_else(|| {
        err(
            1,
            "no `ip` (or `indicator` / `value`) column in the header".into(),
        )
    })?;
    let from_col = col(&["valid_from", "first_seen", "from"]);
    let until_col = col(&["valid_until", "last_seen", "until"]);
    let desc_col = col(&["description", "comment", "note"]);
    let source = path.display().to_string();
    let mut set = IocSet::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            err(line, e.to_string())
        })?;
        let line = rec.position().map_or(0, csv::Position::line);
        let raw_ip = rec.get(ip_col).unwrap_or("");
        let ip: IpAddr = raw_ip
            .parse()
            .map_err(|_| err(line, format!("`{raw_ip}` is not an IP address")))?;
        let time_at = |c: Option<usize>| -> Result<Option<Timestamp>, AnalyticsError> {
            match c.and_then(|c| rec.get(c)).and_then(parse_time) {
                None => Ok(None),
                Some(Ok(t)) => Ok(Some(t)),
                Some(Err(e)) => Err(err(line, e)),
            }
        };
        let valid_from = time_at(from_col)?;
        let mut valid_until = time_at(until_col)?;
        // A bare date as the end means the whole day.
        if let (Some(u), Some(c)) = (valid_until, until_col)
            && rec.get(c).is_some_and(|s| s.trim().len() == 10)
        {
            valid_until = Some(u.add_seconds(86_399));
        }
        set.add(Indicator {
            ip,
            valid_from,
            valid_until,
            source: source.clone(),
            description: desc_col.and_then(|c| rec.get(c)).unwrap_or("").to_owned(),
        });
    }
    Ok(set)
}

fn parse_stix(path: &Path, text: &str) -> Result<IocSet, AnalyticsError> {
    let err = |reason: String| AnalyticsError::Stix {
        path: path.to_owned(),
        reason,
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
    if v.get("type").and_then(|t| t.as_str()) != Some("bundle") {
        return Err(err("not a STIX bundle (`type` is not \"bundle\")".into()));
    }
    let objects = v
        .get("objects")
        .and_then(|o| o.as_array())
        .ok_or_else(|| err("no `objects` array".into()))?;
    let mut set = IocSet::new();
    for o in objects {
        if o.get("type").and_then(|t| t.as_str()) != Some("indicator") {
            continue;
        }
        let id = o.get("id").and_then(|t| t.as_str()).unwrap_or("(no id)");
        let pattern = o.get("pattern").and_then(|t| t.as_str()).unwrap_or("");
        let time = |k: &str| -> Result<Option<Timestamp>, AnalyticsError> {
            match o.get(k).and_then(|t| t.as_str()).and_then(parse_time) {
                None => Ok(None),
                Some(Ok(t)) => Ok(Some(t)),
                Some(Err(e)) => Err(err(format!("indicator {id}: {k}: {e}"))),
            }
        };
        let valid_from = time("valid_from")?;
        let valid_until = time("valid_until")?;
        let description = o
            .get("name")
            .or_else(|| o.get("description"))
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_owned();
        for ip in stix_ips(pattern) {
            set.add(Indicator {
                ip,
                valid_from,
                valid_until,
                source: format!("{} ({id})", path.display()),
                description: description.clone(),
            });
        }
    }
    Ok(set)
}

/// The IPs of `ipv4-addr:value = '…'` / `ipv6-addr:value = '…'` comparisons in a STIX pattern
/// (single addresses; CIDR values are skipped).
fn stix_ips(pattern: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for part in pattern.split("-addr:value") {
        let rest = part.trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let Some(rest) = rest.strip_prefix('\'') else {
            continue;
        };
        let Some(end) = rest.find('\'') else { continue };
        if let Ok(ip) = rest[..end].parse::<IpAddr>() {
            out.push(ip);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn builtin_windows() {
        let s = IocSet::builtin_storm_0558();
        assert_eq!(s.len(), 38);
        let ip: IpAddr = "51.89.156.153".parse().unwrap();
        let ind = &s.get(&ip)[0];
        assert_eq!(ind.window_text(), "2023-03-09 to 2023-07-10");
        assert_eq!(ind.fit(ts("2023-06-12T03:14:07Z"), 7), WindowFit::Inside);
        assert_eq!(ind.fit(ts("2023-07-15T00:00:00Z"), 7), WindowFit::Margin);
        assert_eq!(ind.fit(ts("2024-01-01T00:00:00Z"), 7), WindowFit::Outside);
        assert_eq!(ind.fit(ts("2023-03-03T00:00:00Z"), 7), WindowFit::Margin);
        assert_eq!(ind.fit(ts("2023-03-01T00:00:00Z"), 7), WindowFit::Outside);
        let w = s.ip_windows();
        assert_eq!(w.len(), 38);
        assert!(w.contains(&(
            "51.89.156.153".to_owned(),
            ts("2023-03-09T00:00:00Z"),
            ts("2023-07-10T23:59:59Z")
        )));
        assert!(s.ip_windows_with_margin(7).contains(&(
            "51.89.156.153".to_owned(),
            ts("2023-03-02T00:00:00Z"),
            ts("2023-07-17T23:59:59Z")
        )));
    }

    #[test]
    fn csv_and_stix() {
        let dir = std::env::temp_dir().join(format!("sw-ioc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("iocs.csv");
        std::fs::write(&csv, "ip,valid_from,valid_until,description\n203.0.113.9,2024-01-01,2024-01-31,proxy\n2001:db8::1,,,\n").unwrap();
        let s = IocSet::load(&csv).unwrap();
        assert_eq!(s.len(), 2);
        let i = &s.get(&"203.0.113.9".parse().unwrap())[0];
        assert_eq!(i.valid_until, Some(ts("2024-01-31T23:59:59Z")));
        assert_eq!(i.description, "proxy");
        std::fs::write(&csv, "ip\nnot-an-ip\n").unwrap();
        let e = IocSet::load(&csv).unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("not-an-ip"), "{e}");
        let stix = dir.join("b.json");
        std::fs::write(
            &stix,
            r#"{"type":"bundle","id":"bundle--1","objects":[
          {"type":"indicator","id":"indicator--a","name":"proxy","pattern_type":"stix",
           "pattern":"[ipv4-addr:value = '198.51.100.7'] OR [ipv4-addr:value = '198.51.100.8']",
           "valid_from":"2024-02-01T00:00:00Z","valid_until":"2024-03-01T00:00:00Z"},
          {"type":"malware","id":"malware--x"}]}"#,
        )
        .unwrap();
        let s = IocSet::load(&stix).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.get(&"198.51.100.8".parse().unwrap())[0].valid_from,
            Some(ts("2024-02-01T00:00:00Z"))
        );
        let mut all = IocSet::builtin_storm_0558();
        all.merge(s);
        assert_eq!(all.len(), 40);
        std::fs::write(&stix, r#"{"type":"x"}"#).unwrap();
        assert!(matches!(
            IocSet::load(&stix),
            Err(AnalyticsError::Stix { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
