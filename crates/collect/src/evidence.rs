//! What `hunt` and `impact` learn from a collected folder: the manifest beside their input
//! says which windows were not (fully) collected, and each such span becomes a limit of the
//! evidence. The manifest itself is not a log: it is taken out of the inputs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use stormwatch_core::{Limit, LimitKind, Timestamp};

use crate::manifest::{FORMAT, Gap, Manifest};
use crate::options::is_guid;
use crate::source::Source;

/// Levels above an input searched for a manifest (`OUT/<tenant>/<source>/<day>.ndjson.gz`).
const LEVELS_UP: usize = 3;

/// The inputs with collected folders resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The inputs to read: as given, except that a collected folder is replaced by its
    /// contents without its manifest, and a manifest given by name is left out.
    pub paths: Vec<String>,
    /// One limit per span of windows not (fully) collected, for the part of a collection the
    /// inputs cover.
    pub limits: Vec<Limit>,
    /// Manifests that could not be read, and the collections' licence signals.
    pub notes: Vec<String>,
}

/// Which part of a collection an input covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    All,
    Tenant(String),
    Source(String, String),
}

impl Scope {
    fn covers_tenant(&self, tenant: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Tenant(t) | Scope::Source(t, _) => t == tenant,
        }
    }

    fn covers(&self, tenant: &str, source: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Tenant(t) => t == tenant,
            Scope::Source(t, s) => t == tenant && s == source,
        }
    }
}

enum Found {
    Manifest(Box<Manifest>),
    Broken(String),
    None,
}

fn read_manifest(path: &Path) -> Found {
    let Ok(bytes) = std::fs::read(path) else {
        return Found::None;
    };
    match Manifest::from_slice(&bytes) {
        Ok(m) => Found::Manifest(Box::new(m)),
        // Somebody else's manifest.json is none of our business; ours, damaged, is.
        Err(e) if contains(&bytes, FORMAT.as_bytes()) => Found::Broken(e),
        Err(_) => Found::None,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

impl Evidence {
    /// Resolve the inputs of `hunt` or `impact` (`-` is standard input and stays as it is).
    #[must_use]
    pub fn beside(inputs: &[String]) -> Evidence {
        let mut ev = Evidence::default();
        let mut manifests: Vec<(PathBuf, Box<Manifest>, BTreeSet<Scope>)> = Vec::new();
        let mut add = |ev: &mut Evidence, mpath: &Path, found: Found, scope: Scope| match found {
            Found::Manifest(m) => {
                let key = std::fs::canonicalize(mpath).unwrap_or_else(|_| mpath.to_path_buf());
                match manifests.iter_mut().find(|(k, _, _)| *k == key) {
                    Some((_, _, scopes)) => {
                        scopes.insert(scope);
                    }
                    None => manifests.push((key, m, BTreeSet::from([scope]))),
                }
            }
            Found::Broken(e) => {
                let note = format!(
                    "the collection manifest {} cannot be read ({e}): what it says was not collected is not shown",
                    mpath.display()
                );
                if !ev.notes.contains(&note) {
                    ev.notes.push(note);
                }
            }
            Found::None => {}
        };
        for input in inputs {
            if input == "-" {
                ev.paths.push(input.clone());
                continue;
            }
            let path = Path::new(input);
            if path.file_name().is_some_and(|n| n == "manifest.json") && path.is_file() {
                match read_manifest(path) {
                    Found::None => ev.paths.push(input.clone()),
                    found => add(&mut ev, path, found, Scope::All),
                }
                continue;
            }
            if path.is_dir() {
                let mpath = path.join("manifest.json");
                match read_manifest(&mpath) {
                    Found::None => {}
                    found => {
                        let ok = matches!(found, Found::Manifest(_));
                        add(&mut ev, &mpath, found, Scope::All);
                        if ok {
                            ev.paths.extend(contents_without_manifest(path));
                            continue;
                        }
                    }
                }
            }
            ev.paths.push(input.clone());
            // An input inside a collected folder: the manifest is a few levels up.
            let mut rel: Vec<String> = Vec::new();
            let mut cur = path.to_path_buf();
            for _ in 0..LEVELS_UP {
                let name = cur.file_name().map(|n| n.to_string_lossy().into_owned());
                let Some(parent) = cur.parent().map(Path::to_path_buf) else {
                    break;
                };
                let Some(name) = name else { break };
                rel.insert(0, name);
                let parent = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent
                };
                let mpath = parent.join("manifest.json");
                match read_manifest(&mpath) {
                    Found::None => cur = parent,
                    found => {
                        let scope = match rel.as_slice() {
                            [t, s, ..] if is_guid(t) && Source::from_name(s).is_some() => {
                                Scope::Source(t.clone(), s.clone())
                            }
                            [t, ..] if is_guid(t) => Scope::Tenant(t.clone()),
                            _ => Scope::All,
                        };
                        add(&mut ev, &mpath, found, scope);
                        break;
                    }
                }
            }
        }
        for (_, m, scopes) in &manifests {
            let gaps: Vec<&Gap> = m
                .gaps
                .iter()
                .filter(|g| scopes.iter().any(|s| s.covers(&g.tenant, &g.source)))
                .collect();
            for g in gaps {
                ev.limits.push(Limit {
                    kind: LimitKind::NotCollected,
                    from: Some(g.from),
                    to: Some(g.to),
                    detail: g.describe(),
                });
            }
            for s in &m.signals {
                if scopes.iter().any(|sc| sc.covers_tenant(&s.tenant)) {
                    ev.notes
                        .push(format!("collection of tenant {}: {}", s.tenant, s.detail));
                }
            }
        }
        ev
    }

    /// Keep the limits that matter to a reading restricted to `[since, until)` and to some
    /// tenants (empty: all), as `hunt --since --until --tenant` reads.
    #[must_use]
    pub fn restrict(
        mut self,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
        tenants: &[String],
    ) -> Evidence {
        self.limits.retain(|l| {
            let after = since.is_none_or(|s| l.to.is_none_or(|t| t > s));
            let before = until.is_none_or(|u| l.from.is_none_or(|f| f < u));
            let tenant = tenants.is_empty()
                || tenants.iter().any(|t| {
                    l.detail
                        .contains(&format!("for tenant {}, ", t.to_ascii_lowercase()))
                });
            after && before && tenant
        });
        self
    }

    /// The notes for a summary: every limit (`evidence limit: ...`), then the other notes.
    #[must_use]
    pub fn summary_notes(&self) -> Vec<String> {
        self.limits
            .iter()
            .map(|l| format!("evidence limit: {}", l.detail))
            .chain(self.notes.iter().cloned())
            .collect()
    }
}

fn contents_without_manifest(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec![dir.display().to_string()];
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n != "manifest.json" && !n.starts_with('.'))
        })
        .collect();
    out.sort();
    out.into_iter().map(|p| p.display().to_string()).collect()
}
