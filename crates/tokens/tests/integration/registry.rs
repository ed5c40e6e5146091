//! The key registry: import of JWKS and OpenID metadata, snapshots over time, files.

use serde_json::json;
use stormwatch_tokens::{
    CONSUMER_ISSUER, ImportOptions, Registry, STORM_0558_KID, TENANT_ISSUER_TEMPLATE, TenantClass,
};

use crate::support::{Signer, ts};

fn opts(source: &str, at: &str) -> ImportOptions {
    ImportOptions {
        source: source.into(),
        issuer: None,
        tenant_class: None,
        at: ts(at),
    }
}

#[test]
fn the_default_registry_holds_only_the_storm_0558_key() {
    let r = Registry::builtin();
    assert_eq!(r.keys.len(), 1);
    assert_eq!(r.keys[0].kid, STORM_0558_KID);
    assert_eq!(r.keys[0].issuer_scope.as_deref(), Some(CONSUMER_ISSUER));
}

#[test]
fn snapshots_keep_the_history_of_a_removed_key() {
    let (a, b) = (Signer::rsa("rsa-a"), Signer::rsa("rsa-b"));
    let mut r = Registry::builtin();
    let both = json!({"keys": [a.jwk("a", Some(TENANT_ISSUER_TEMPLATE)), b.jwk("b", Some(CONSUMER_ISSUER))]});
    let s = r
        .import(&both, &opts("common-jwks", "2023-01-01T00:00:00Z"))
        .unwrap();
    assert_eq!(s.added, ["a", "b"]);
    let only_a = json!({"keys": [a.jwk("a", Some(TENANT_ISSUER_TEMPLATE))]});
    let s = r
        .import(&only_a, &opts("common-jwks", "2023-07-05T00:00:00Z"))
        .unwrap();
    assert_eq!(s.seen_again, ["a"]);
    assert_eq!(s.removed, ["b"]);
    let kb = r.find("b")[0];
    assert_eq!(kb.removed_at, Some(ts("2023-07-05T00:00:00Z")));
    assert_eq!(kb.first_seen, Some(ts("2023-01-01T00:00:00Z")));
    assert_eq!(kb.tenant_class, TenantClass::Consumer);
    let ka = r.find("a")[0];
    assert_eq!(ka.last_seen, Some(ts("2023-07-05T00:00:00Z")));
    assert_eq!(ka.tenant_class, TenantClass::Any);
    // The built-in key, from no source, is untouched.
    assert!(r.find(STORM_0558_KID)[0].removed_at.is_none());
    assert_eq!(r.imports.len(), 2);

    // A token of the removed key, judged after removal, is refused as retired.
    let t = b.token(
        "RS256",
        "b",
        &crate::support::claims(stormwatch_tokens::CONSUMER_TENANT, "2023-08-01T00:00:00Z"),
    );
    let v = stormwatch_tokens::verify(&t, &r, &crate::support::opts());
    assert!(v.failed(stormwatch_tokens::CheckName::Revoked));
    assert!(
        v.check(stormwatch_tokens::CheckName::Revoked)
            .unwrap()
            .detail
            .contains("removed from its source")
    );

    // Back again later: removal cleared.
    r.import(&both, &opts("common-jwks", "2023-08-01T00:00:00Z"))
        .unwrap();
    assert!(r.find("b")[0].removed_at.is_none());

    // Round trip through a file.
    let dir = std::env::temp_dir().join(format!("swt-reg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("registry.json");
    r.save(&path).unwrap();
    let back = Registry::load(&path).unwrap();
    assert_eq!(back.keys.len(), 3);
    assert!(back.find("a")[0].public_key().is_some());
    assert_eq!(
        back.find(STORM_0558_KID)[0].not_after,
        Some(ts("2021-04-04T14:43:35Z"))
    );
}

#[test]
fn openid_metadata_gives_the_issuer_and_keys_can_come_from_x5c_alone() {
    let mut r = Registry::empty();
    let meta = json!({"issuer": TENANT_ISSUER_TEMPLATE, "jwks_uri": "https://login.microsoftonline.com/common/discovery/v2.0/keys"});
    let s = r.import(&meta, &opts("meta", "2023-01-01")).unwrap();
    assert_eq!(s.metadata_issuer.as_deref(), Some(TENANT_ISSUER_TEMPLATE));
    // The real Storm-0558 JWK with only its certificate (no n/e).
    let mut jwk: serde_json::Value =
        serde_json::from_str(include_str!("../../data/storm-0558-jwk.json")).unwrap();
    jwk.as_object_mut().unwrap().remove("n");
    jwk.as_object_mut().unwrap().remove("e");
    jwk.as_object_mut().unwrap().remove("kid");
    let s = r
        .import(
            &json!({"keys": [jwk]}),
            &ImportOptions {
                issuer: Some(CONSUMER_ISSUER.into()),
                ..opts("nexus", "2023-01-01")
            },
        )
        .unwrap();
    assert_eq!(s.added, [STORM_0558_KID]);
    let k = r.find(STORM_0558_KID)[0];
    assert_eq!(k.tenant_class, TenantClass::Consumer);
    assert_eq!(k.not_after, Some(ts("2021-04-04T14:43:35Z")));
    assert_eq!(k.public_key().unwrap().describe(), "RSA-2048");
}

#[test]
fn bad_documents_and_keys_are_reported() {
    let mut r = Registry::empty();
    assert!(
        r.import(&json!({"foo": 1}), &opts("x", "2023-01-01"))
            .is_err()
    );
    let a = Signer::rsa("rsa-a");
    let mut wrong_cert = a.jwk("a", None);
    let storm: serde_json::Value =
        serde_json::from_str(include_str!("../../data/storm-0558-jwk.json")).unwrap();
    wrong_cert["x5c"] = storm["x5c"].clone();
    let s = r
        .import(
            &json!({"keys": [wrong_cert, {"kty": "RSA", "kid": "k", "n": "!!", "e": "AQAB"}, {"kty": "oct", "kid": "h", "k": "c2VjcmV0"}, {"kty": "RSA", "use": "enc", "kid": "e"}]}),
            &opts("x", "2023-01-01"),
        )
        .unwrap();
    assert!(s.added.is_empty());
    assert_eq!(s.skipped.len(), 4, "{:?}", s.skipped);
    assert!(s.skipped[0].contains("different key"));
}
