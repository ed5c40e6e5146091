//! IP → ASN data (optional), in the `@ip-location-db/asn` CSV format: `start,end,asn,org`.

use std::net::IpAddr;
use std::path::Path;

use crate::error::AnalyticsError;

/// One autonomous system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsnInfo {
    /// AS number.
    pub asn: u32,
    /// Organisation name.
    pub org: String,
}

/// An IP-range → ASN table.
#[derive(Debug, Clone, Default)]
pub struct AsnDb {
    /// (start, end, index into `orgs`), sorted by start; IPv4 mapped into IPv6 space.
    ranges: Vec<(u128, u128, u32)>,
    orgs: Vec<AsnInfo>,
}

fn key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl AsnDb {
    /// Load a CSV of `start,end,asn,org` rows (no header; the organisation may be quoted),
    /// as published by the CC-BY-4.0 `@ip-location-db/asn` package (`asn-ipv4.csv`,
    /// `asn-ipv6.csv`; concatenate both into one file, or call [`AsnDb::extend_from`]).
    ///
    /// # Errors
    /// The file cannot be read or a row is invalid (named by line).
    pub fn load(path: &Path) -> Result<Self, AnalyticsError> {
        let mut db = AsnDb::default();
        db.extend_from(path)?;
        Ok(db)
    }

    /// Add the rows of another file.
    ///
    /// # Errors
    /// As [`AsnDb::load`].
    pub fn extend_from(&mut self, path: &Path) -> Result<(), AnalyticsError> {
        let text = std::fs::read_to_string(path).map_err(|source| AnalyticsError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.extend_from_str(&text)
            .map_err(|(line, reason)| AnalyticsError::Csv {
                path: path.to_owned(),
                line,
                reason,
            })
    }

    fn extend_from_str(&mut self, text: &str) -> Result<(), (u64, String)> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut org_index: std::collections::HashMap<(u32, String), u32> = self
            .orgs
            .iter()
            .enumerate()
            .map(|(i, o)| ((o.asn, o.org.clone()), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        for rec in rdr.records() {
            let rec =
                rec.map_err(|e| (e.position().map_or(0, csv::Position::line), e.to_string()))?;
            let line = rec.position().map_or(0, csv::Position::line);
            let field = |i: usize| rec.get(i).unwrap_or("");
            let start: IpAddr = field(0)
                .parse()
                .map_err(|_| (line, format!("`{}` is not an IP address", field(0))))?;
            let end: IpAddr = field(1)
                .parse()
                .map_err(|_| (line, format!("`{}` is not an IP address", field(1))))?;
            let asn: u32 = field(2)
                .parse()
                .map_err(|_| (line, format!("`{}` is not an AS number", field(2))))?;
            let org = field(3).to_owned();
            let (s, e) = (key(start), key(end));
            if e < s {
                return Err((line, "range end before its start".into()));
            }
            let next = u32::try_from(self.orgs.len()).unwrap_or(u32::MAX);
            let idx = *org_index.entry((asn, org.clone())).or_insert_with(|| {
                self.orgs.push(AsnInfo { asn, org });
                next
            });
            self.ranges.push((s, e, idx));
        }
        self.ranges.sort_unstable();
        Ok(())
    }

    /// The AS of `ip`, if the table covers it.
    #[must_use]
    pub fn lookup(&self, ip: IpAddr) -> Option<&AsnInfo> {
        let k = key(ip);
        let i = self.ranges.partition_point(|r| r.0 <= k);
        let (_, end, idx) = *self.ranges.get(i.checked_sub(1)?)?;
        if k <= end {
            self.orgs.get(usize::try_from(idx).ok()?)
        } else {
            None
        }
    }

    /// Number of ranges.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// No ranges.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lookup_ranges() {
        let mut db = AsnDb::default();
        db.extend_from_str(
            "51.89.0.0,51.89.255.255,16276,OVH SAS\n198.51.100.0,198.51.100.255,64500,\"Example, Inc.\"\n2001:db8::,2001:db8::ffff,64501,V6 Net\n",
        )
        .unwrap();
        assert_eq!(db.len(), 3);
        assert_eq!(
            db.lookup("51.89.156.153".parse().unwrap()).unwrap().asn,
            16276
        );
        assert_eq!(
            db.lookup("198.51.100.23".parse().unwrap()).unwrap().org,
            "Example, Inc."
        );
        assert_eq!(
            db.lookup("2001:db8::5".parse().unwrap()).unwrap().asn,
            64501
        );
        assert!(db.lookup("8.8.8.8".parse().unwrap()).is_none());
        assert!(db.lookup("51.90.0.0".parse().unwrap()).is_none());
        assert_eq!(db.extend_from_str("1.1.1.1,x,1,a\n").unwrap_err().0, 1);
    }
}
