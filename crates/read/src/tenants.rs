//! `--tenant DOMAIN`: the tenants a domain names, found by reading the inputs once.

use std::collections::BTreeSet;
use std::sync::Arc;

use sonic_rs::Value;
use stormwatch_core::{Event, InputStats};

use crate::error::ReadError;
use crate::inspect::Inspect;
use crate::options::ReadOptions;
use crate::process::{in_domain, looks_like_domain};
use crate::run::Stage;
use crate::source::{self, Target};

/// Collects the tenant ids of records whose user or mailbox is in one of the domains.
struct DomainTenants {
    domains: Vec<String>,
}

impl Inspect for DomainTenants {
    type Out = BTreeSet<String>;

    fn inspect(&self, ev: &Event, _: Option<&Value>, out: &mut Self::Out) {
        let Some(t) = ev.tenant.as_deref() else {
            return;
        };
        let named = [&ev.user, &ev.mailbox]
            .into_iter()
            .flatten()
            .any(|n| self.domains.iter().any(|d| in_domain(n, d)));
        if named && !out.contains(t) {
            out.insert(t.to_owned());
        }
    }

    fn keeps_events(&self) -> bool {
        false
    }
}

/// When a tenant selector is a domain, read the file inputs once to find the tenant ids of
/// the records whose user or mailbox is in it, and return the options with those ids added
/// (the domain stays, for the records that name it but carry no tenant id). `None` when no
/// selector is a domain, or there is no file to read (standard input cannot be read twice).
pub(crate) fn resolve_domains(
    targets: &[Target],
    opts: &ReadOptions,
    pool: &rayon::ThreadPool,
) -> Result<Option<ReadOptions>, ReadError> {
    let domains: Vec<String> = opts
        .tenants
        .iter()
        .filter(|t| looks_like_domain(t))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    let files: Vec<&Target> = targets
        .iter()
        .filter(|t| matches!(t, Target::File(_)))
        .collect();
    if domains.is_empty() || files.is_empty() {
        return Ok(None);
    }
    let pass = ReadOptions {
        tenants: Vec::new(),
        progress: None,
        ..opts.clone()
    };
    let inspect = DomainTenants { domains };
    let stage = Stage::new(&pass, pool, &inspect);
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut stats = InputStats::default();
    for t in files {
        if opts.cancelled() {
            break;
        }
        let opened = source::open(t, &opts.limits, None)?;
        stage.read_opened(opened, Arc::from(t.name()), &mut stats, &mut |_, ids| {
            found.extend(ids);
        });
    }
    let mut out = opts.clone();
    for id in found {
        if !out.tenants.iter().any(|t| t.eq_ignore_ascii_case(&id)) {
            out.tenants.push(id);
        }
    }
    Ok(Some(out))
}
