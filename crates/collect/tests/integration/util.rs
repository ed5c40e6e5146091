//! Helpers: a tenant against the fake, fast retry settings, and reading back what was written.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use stormwatch_collect::fake::{FakeApi, Scenario};
use stormwatch_collect::{
    CertificateKey, Cloud, CollectOptions, Credential, Endpoints, Manifest, PollPolicy,
    RetryPolicy, Secret, SourceSelection, Status, TenantSpec, WindowRecord,
};
use stormwatch_core::Timestamp;

pub(crate) const TENANT: &str = "41463f53-8812-40f4-890f-865bf6e35190";
pub(crate) const SECRET: &str = "fake-client-secret-0123456789-abcdef";

pub(crate) fn now() -> Timestamp {
    stormwatch_collect::now()
}

/// The start of the current hour.
pub(crate) fn this_hour() -> Timestamp {
    Timestamp::from_unix_seconds(now().unix_seconds() / 3600 * 3600)
}

/// `hours` of activity ending an hour before now.
pub(crate) fn scenario(seed: u64, hours: i64) -> Scenario {
    Scenario::generate(seed, TENANT, SECRET, now(), hours)
}

pub(crate) fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The scenario's tenant as the collector sees it.
pub(crate) fn tenant(fake: &FakeApi, sources: &str) -> TenantSpec {
    tenant_with(fake, sources, Credential::Secret(Secret::new(SECRET)))
}

pub(crate) fn tenant_with(fake: &FakeApi, sources: &str, credential: Credential) -> TenantSpec {
    let url = fake.url();
    TenantSpec {
        tenant: TENANT.to_owned(),
        name: Some("Contoso".to_owned()),
        client_id: "6e4a7c59-0b8e-4a49-9d6f-3f8a1c2b0d11".to_owned(),
        credential,
        endpoints: Endpoints::new(Cloud::Commercial, Some(&url), Some(&url), Some(&url)).unwrap(),
        publisher_id: TENANT.to_owned(),
        sources: SourceSelection::parse(sources).unwrap(),
    }
}

pub(crate) fn certificate() -> Credential {
    Credential::Certificate(Arc::new(
        CertificateKey::load(&data("test-cert.pem")).unwrap(),
    ))
}

/// Options with retries and polling fast enough for tests, and no settle time.
pub(crate) fn options(
    out: &Path,
    since: Timestamp,
    until: Timestamp,
    tenants: Vec<TenantSpec>,
) -> CollectOptions {
    let mut o = CollectOptions::new(out.to_path_buf(), since, tenants);
    o.until = Some(until);
    o.retry = RetryPolicy {
        max_retries: 3,
        max_throttled: 10,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(2),
        request_timeout: Duration::from_secs(20),
    };
    o.poll = PollPolicy {
        first: Duration::from_millis(5),
        max: Duration::from_millis(20),
        timeout: Duration::from_millis(400),
        concurrent: 4,
    };
    o.settle_secs = Some(0);
    o
}

/// Every `.ndjson.gz` under `OUT/<tenant>/<source>/`, by path relative to `out`, decompressed.
pub(crate) fn files(out: &Path) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    walk(out, out, &mut m);
    m
}

fn walk(root: &Path, dir: &Path, m: &mut BTreeMap<String, String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, m);
        } else if name.ends_with(".ndjson.gz") {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            m.insert(rel, text);
        }
    }
}

/// The id a source's records are known by.
pub(crate) fn id_of(source: &str, v: &Value) -> String {
    let id = match source {
        "auditLogQuery" => v["auditData"]["Id"].as_str().or(v["id"].as_str()),
        s if s.starts_with("Audit.") || s.starts_with("DLP.") => v["Id"].as_str(),
        _ => v["id"].as_str(),
    };
    id.unwrap_or_else(|| panic!("a record without its id: {v}"))
        .to_owned()
}

/// Written records per (tenant, source), by id; panics on a record written twice.
pub(crate) fn written(out: &Path) -> BTreeMap<(String, String), BTreeMap<String, Value>> {
    let mut m: BTreeMap<(String, String), BTreeMap<String, Value>> = BTreeMap::new();
    for (rel, text) in files(out) {
        let parts: Vec<&str> = rel.split('/').collect();
        let (tenant, source) = (parts[0].to_owned(), parts[1].to_owned());
        for line in text.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{rel}: a line that is not JSON ({e}): {line}"));
            let id = id_of(&source, &v);
            let prev = m
                .entry((tenant.clone(), source.clone()))
                .or_default()
                .insert(id.clone(), v);
            assert!(prev.is_none(), "{rel}: record {id} written twice");
        }
    }
    m
}

/// Served records per (tenant, source), by id (a record served twice is one record).
pub(crate) fn served(fake: &FakeApi) -> BTreeMap<(String, String), BTreeMap<String, Value>> {
    fake.served()
        .into_iter()
        .map(|(k, vs)| {
            let by_id = vs.into_iter().map(|v| (id_of(&k.1, &v), v)).collect();
            (k, by_id)
        })
        .filter(|(_, m): &(_, BTreeMap<String, Value>)| !m.is_empty())
        .collect()
}

/// Assert that what was written is exactly what was served, record for record.
pub(crate) fn assert_written_is_served(out: &Path, fake: &FakeApi) {
    let w = written(out);
    let s = served(fake);
    assert_eq!(
        w.keys().collect::<Vec<_>>(),
        s.keys().collect::<Vec<_>>(),
        "sources written vs served"
    );
    for (k, served) in &s {
        let wrote = &w[k];
        assert_eq!(
            wrote.len(),
            served.len(),
            "{k:?}: {} written, {} served",
            wrote.len(),
            served.len()
        );
        for (id, v) in served {
            assert_eq!(wrote.get(id), Some(v), "{k:?}: record {id}");
        }
    }
}

pub(crate) fn read_manifest(out: &Path) -> Manifest {
    Manifest::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

pub(crate) fn windows_of<'a>(m: &'a Manifest, source: &str) -> Vec<&'a WindowRecord> {
    m.windows.iter().filter(|w| w.source == source).collect()
}

pub(crate) fn not_complete(m: &Manifest) -> Vec<&WindowRecord> {
    m.windows
        .iter()
        .filter(|w| w.status != Status::Complete)
        .collect()
}
