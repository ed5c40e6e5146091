//! Credentials: a certificate's signed assertion is accepted by the token endpoint; a secret
//! never reaches the manifest, even when the server echoes it.

use stormwatch_collect::fake::FakeApi;
use stormwatch_collect::{Status, collect};

use crate::util::{
    SECRET, assert_written_is_served, certificate, data, options, read_manifest, scenario, tenant,
    tenant_with, this_hour,
};

#[test]
fn a_certificate_credential_signs_an_assertion_the_token_endpoint_accepts() {
    let mut sc = scenario(51, 2);
    sc.tenants[0].secret = None;
    sc.tenants[0].certificate_der = Some(std::fs::read(data("test-cert.der")).unwrap());
    sc.tenants[0].public_key_der = Some(std::fs::read(data("test-cert.pub.der")).unwrap());
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    collect(options(
        dir.path(),
        until.add_seconds(-3 * 3600),
        until,
        vec![tenant_with(
            &fake,
            "Audit.Exchange,directoryAudits",
            certificate(),
        )],
    ))
    .unwrap();
    assert_eq!(fake.violations(), Vec::<String>::new());
    let m = read_manifest(dir.path());
    assert!(m.is_complete(), "{:#?}", m.gaps);
    assert_eq!(fake.tokens_issued(), 2, "one token per resource, cached");
    assert_written_is_served(dir.path(), &fake);
}

#[test]
fn tokens_that_expire_during_the_collection_are_taken_again() {
    let mut sc = scenario(53, 3);
    sc.token_lifetime_secs = 1;
    sc.inject.latency_ms = 150;
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    let mut o = options(
        dir.path(),
        until.add_seconds(-4 * 3600),
        until,
        vec![tenant(&fake, "Audit.Exchange,signIns")],
    );
    o.concurrency = 2;
    collect(o).unwrap();
    assert_eq!(fake.violations(), Vec::<String>::new());
    assert!(read_manifest(dir.path()).is_complete());
    // One token per resource would not have lasted: the Management API's was taken again.
    assert!(
        fake.tokens_issued() >= 3,
        "{} tokens for a two-second collection with one-second tokens",
        fake.tokens_issued()
    );
    assert_written_is_served(dir.path(), &fake);
}

#[test]
fn a_wrong_secret_is_reported_once_per_window_and_never_quoted() {
    let mut sc = scenario(52, 1);
    sc.inject.echo_credentials = true;
    let fake = FakeApi::start(sc).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let until = this_hour();
    collect(options(
        dir.path(),
        until.add_seconds(-2 * 3600),
        until,
        vec![tenant(&fake, "Audit.Exchange,signIns")],
    ))
    .unwrap();
    let text = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    assert!(!text.contains(SECRET), "the secret is in the manifest");
    let journal =
        std::fs::read_to_string(dir.path().join(".stormwatch-collect/journal.ndjson")).unwrap();
    assert!(!journal.contains(SECRET), "the secret is in the journal");
    let m = read_manifest(dir.path());
    assert!(!m.windows.is_empty());
    for w in &m.windows {
        assert_eq!(w.status, Status::Missing);
        assert!(
            w.reasons[0].contains("authentication failed (HTTP 401 invalid_client): AADSTS7000215")
                && w.reasons[0].contains("[redacted]"),
            "{:?}",
            w.reasons
        );
    }
    // The refusal is remembered: one token request per resource, not one per window.
    let token_requests = fake
        .requests()
        .iter()
        .filter(|r| r.contains("/oauth2/v2.0/token"))
        .count();
    assert_eq!(token_requests, 2);
}
