//! Short, unambiguous names of input files for narrow columns.

use std::collections::HashMap;

use stormwatch_core::Detection;

use crate::text::clean;

/// Each input file by the fewest trailing path components that no other input shares
/// (`ual-agency.ndjson.gz`, or `tenant-a/audit.json` beside `tenant-b/audit.json`), and the
/// directory they all sit under. A location in a file not listed keeps its full name.
#[derive(Debug, Default)]
pub(crate) struct ShortNames {
    short: HashMap<String, String>,
    common: Option<String>,
}

fn components(path: &str) -> Vec<&str> {
    path.split(['/', '\\']).filter(|c| !c.is_empty()).collect()
}

impl ShortNames {
    pub(crate) fn new<'a>(files: impl Iterator<Item = &'a str>) -> Self {
        let mut files: Vec<&str> = files.collect();
        files.sort_unstable();
        files.dedup();
        let parts: Vec<Vec<&str>> = files.iter().map(|f| components(f)).collect();
        let mut short = HashMap::new();
        for (i, p) in parts.iter().enumerate() {
            let mut k = 1;
            while k < p.len() {
                let tail = &p[p.len() - k..];
                let clash = parts
                    .iter()
                    .enumerate()
                    .any(|(j, q)| j != i && q.len() >= k && &q[q.len() - k..] == tail);
                if !clash {
                    break;
                }
                k += 1;
            }
            let name = p[p.len().saturating_sub(k)..].join("/");
            if let Some(f) = files.get(i) {
                short.insert((*f).to_owned(), name);
            }
        }
        // The directory every file is under, when there is more than one level to name.
        let common = parts.split_first().and_then(|(first, rest)| {
            let mut n = first.len().saturating_sub(1);
            for p in rest {
                n = n.min(p.len().saturating_sub(1));
                n = first
                    .iter()
                    .zip(p.iter())
                    .take(n)
                    .take_while(|(a, b)| a == b)
                    .count();
            }
            let prefix = if files.first().is_some_and(|f| f.starts_with('/')) {
                "/"
            } else {
                ""
            };
            (n > 0).then(|| format!("{prefix}{}/", first[..n].join("/")))
        });
        ShortNames { short, common }
    }

    /// The directory all inputs are under, when they share one.
    pub(crate) fn common_dir(&self) -> Option<&str> {
        self.common.as_deref()
    }

    /// The longest short name.
    pub(crate) fn longest(&self) -> usize {
        self.short
            .values()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(20)
    }

    /// `name:line` of a detection's first record, and how many more records it has.
    pub(crate) fn location(&self, d: &Detection) -> String {
        let Some(l) = d.events.first() else {
            return String::new();
        };
        let file = self.short.get(&*l.file).map_or(&*l.file, String::as_str);
        let mut s = format!("{}:{}", clean(file), l.line);
        if d.events.len() > 1 {
            s.push_str(&format!(" +{}", d.events.len() - 1));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_shortest_unambiguous_tails() {
        let n = ShortNames::new(
            [
                "examples/storm-0558/ual-agency.ndjson.gz",
                "examples/storm-0558/a/audit.json",
                "examples/storm-0558/b/audit.json",
            ]
            .into_iter(),
        );
        assert_eq!(
            n.short["examples/storm-0558/ual-agency.ndjson.gz"],
            "ual-agency.ndjson.gz"
        );
        assert_eq!(n.short["examples/storm-0558/a/audit.json"], "a/audit.json");
        assert_eq!(n.common_dir(), Some("examples/storm-0558/"));
        let one = ShortNames::new(["/data/x.json"].into_iter());
        assert_eq!(one.common_dir(), Some("/data/"));
        let bare = ShortNames::new(["x.json", "y.json"].into_iter());
        assert_eq!(bare.common_dir(), None);
    }
}
