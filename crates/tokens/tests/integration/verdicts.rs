//! Every verdict and every check, with keys made for the tests playing each role.

use serde_json::json;
use stormwatch_tokens::{
    CONSUMER_TENANT, CheckName, Expect, Registry, STORM_0558_KID, TenantClass, TokenUse, Verdict,
    VerdictKind, VerifyOptions, verify,
};

use crate::support::{ENTERPRISE_TENANT, OTHER_TENANT, Signer, b64, claims, opts, ts, world};

fn failing(v: &Verdict) -> Vec<&'static str> {
    v.checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.check.name())
        .collect()
}

#[test]
fn a_genuine_enterprise_token_is_valid_with_every_check_reported() {
    let w = world();
    let t = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let mut o = opts();
    o.audiences = vec!["https://outlook.office365.com".into()];
    o.tenants = vec![ENTERPRISE_TENANT.into()];
    let v = verify(&t, &w.reg, &o);
    assert_eq!(v.verdict, VerdictKind::Valid, "{}", v.to_text());
    let names: Vec<&str> = v.checks.iter().map(|c| c.check.name()).collect();
    assert_eq!(
        names,
        [
            "alg",
            "kid",
            "signature",
            "key_scope",
            "issuer",
            "tenant",
            "audience",
            "expiry",
            "not_before",
            "key_validity",
            "revoked",
            "token_class"
        ]
    );
    assert_eq!(v.judged_at.to_string(), "2023-06-01T10:00:00Z");
    assert_eq!(v.key["kid"], "ent-rsa");
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["verdict"], "valid");
    assert_eq!(j["checks"][3]["check"], "key_scope");
    assert_eq!(j["checks"][3]["ok"], true);
}

#[test]
fn every_allowed_algorithm_verifies() {
    let ent = Signer::rsa("rsa-a");
    let (p256, p384, ed) = (Signer::p256(), Signer::p384(), Signer::ed25519());
    let scope = Some(stormwatch_tokens::TENANT_ISSUER_TEMPLATE);
    let mut reg = Registry::empty();
    crate::support::import(
        &mut reg,
        vec![
            ent.jwk("r", scope),
            p256.jwk("p256", scope),
            p384.jwk("p384", scope),
            ed.jwk("ed", scope),
        ],
        "algs",
        "2023-01-01T00:00:00Z",
    );
    let c = claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z");
    for (signer, alg, kid) in [
        (&ent, "RS256", "r"),
        (&ent, "RS384", "r"),
        (&ent, "RS512", "r"),
        (&ent, "PS256", "r"),
        (&ent, "PS384", "r"),
        (&ent, "PS512", "r"),
        (&p256, "ES256", "p256"),
        (&p384, "ES384", "p384"),
        (&ed, "EdDSA", "ed"),
    ] {
        let v = verify(&signer.token(alg, kid, &c), &reg, &opts());
        assert_eq!(v.verdict, VerdictKind::Valid, "{alg}: {}", v.to_text());
    }
}

#[test]
fn storm_0558_pattern_consumer_key_signing_for_an_enterprise_tenant_is_forged() {
    let w = world();
    let t = w.msa.token(
        "RS256",
        "msa-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Forged, "{}", v.to_text());
    assert_eq!(failing(&v), ["key_scope"]);
    assert!(v.check(CheckName::Signature).unwrap().ok);
    let scope = &v.check(CheckName::KeyScope).unwrap().detail;
    assert!(
        scope.contains("a consumer key cannot sign for an enterprise tenant"),
        "{scope}"
    );
    assert!(v.summary.contains("may not sign this token"));
    let text = v.to_text();
    assert!(text.starts_with("FORGED: "));
    // Failing checks come first.
    assert!(
        text.lines().nth(2).unwrap().contains("FAIL key_scope"),
        "{text}"
    );
}

#[test]
fn the_same_consumer_key_signing_a_consumer_token_is_valid() {
    let w = world();
    let t = w.msa.token(
        "RS256",
        "msa-rsa",
        &claims(CONSUMER_TENANT, "2023-06-01T10:00:00Z"),
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Valid, "{}", v.to_text());
}

#[test]
fn consumer_tenant_at_an_enterprise_audience_is_refused() {
    let w = world();
    let t = w.msa.token(
        "RS256",
        "msa-rsa",
        &claims(CONSUMER_TENANT, "2023-06-01T10:00:00Z"),
    );
    let mut o = opts();
    o.tenants = vec![ENTERPRISE_TENANT.into()];
    let v = verify(&t, &w.reg, &o);
    assert_eq!(v.verdict, VerdictKind::Invalid);
    assert_eq!(failing(&v), ["tenant"]);
    assert!(
        v.check(CheckName::Tenant)
            .unwrap()
            .detail
            .contains("consumer (Microsoft account) token")
    );
}

#[test]
fn an_enterprise_key_cannot_sign_for_the_consumer_tenant() {
    let mut w = world();
    let k = w.reg.keys.iter_mut().find(|k| k.kid == "ent-rsa").unwrap();
    k.issuer_scope =
        Some("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0".into());
    k.tenant_class = TenantClass::Enterprise;
    let t = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(CONSUMER_TENANT, "2023-06-01T10:00:00Z"),
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Forged);
    assert!(
        v.check(CheckName::KeyScope)
            .unwrap()
            .detail
            .contains("enterprise key")
    );
}

#[test]
fn an_expired_key_certificate_makes_a_verifying_token_forged() {
    let mut w = world();
    let k = w.reg.keys.iter_mut().find(|k| k.kid == "ent-rsa").unwrap();
    k.not_before = Some(ts("2016-04-05T14:43:35Z"));
    k.not_after = Some(ts("2021-04-04T14:43:35Z"));
    let t = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Forged);
    assert_eq!(failing(&v), ["key_validity"]);
    assert!(
        v.check(CheckName::KeyValidity)
            .unwrap()
            .detail
            .contains("expired on 2021-04-04T14:43:35Z")
    );
    // Issued while the certificate was valid: fine.
    let t = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2020-06-01T10:00:00Z"),
    );
    assert_eq!(verify(&t, &w.reg, &opts()).verdict, VerdictKind::Valid);
}

#[test]
fn revocation_is_judged_at_the_event_time() {
    let mut w = world();
    assert_eq!(w.reg.revoke("ent-rsa", ts("2023-06-29T00:00:00Z")), 1);
    let t = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-20T10:00:00Z"),
    );
    // Before the revocation: valid, and the detail says it was revoked later.
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Valid, "{}", v.to_text());
    assert!(
        v.check(CheckName::Revoked)
            .unwrap()
            .detail
            .contains("revoked later")
    );
    // The same token replayed after the revocation (judged --at then): forged.
    let mut o = opts();
    o.at = Some(ts("2023-06-20T10:30:00Z"));
    assert_eq!(verify(&t, &w.reg, &o).verdict, VerdictKind::Valid);
    o.at = Some(ts("2023-07-01T00:00:00Z"));
    let v = verify(&t, &w.reg, &o);
    assert_eq!(v.verdict, VerdictKind::Forged);
    assert!(failing(&v).contains(&"revoked"));
    assert!(failing(&v).contains(&"expiry"));
}

#[test]
fn alg_none_is_refused() {
    let w = world();
    let c = claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z");
    let t = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"ent-rsa"}"#),
        b64(c.to_string().as_bytes())
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Invalid);
    assert!(failing(&v).contains(&"alg"));
    assert!(failing(&v).contains(&"signature"));
    assert!(v.summary.contains("unsigned"));
}

#[test]
fn hs256_with_the_rsa_public_key_as_secret_is_refused() {
    let w = world();
    // The classic confusion: HMAC keyed with the public key's bytes.
    let secret = w.ent.jwk("ent-rsa", None)["n"].as_str().unwrap().to_owned();
    let c = claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z");
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","kid":"ent-rsa"}"#),
        b64(c.to_string().as_bytes())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let t = format!(
        "{input}.{}",
        b64(ring::hmac::sign(&key, input.as_bytes()).as_ref())
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Invalid);
    assert!(
        v.check(CheckName::Alg)
            .unwrap()
            .detail
            .contains("algorithm confusion")
    );
    assert!(failing(&v).contains(&"signature"));
}

#[test]
fn an_alg_that_does_not_fit_the_key_type_is_refused() {
    let w = world();
    // ES256 header naming an RSA key.
    let t = w.ent.sign(
        &json!({"alg": "ES256", "kid": "ent-rsa"}),
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Invalid);
    assert!(
        v.check(CheckName::Alg)
            .unwrap()
            .detail
            .contains("does not fit the key type")
    );
}

#[test]
fn a_bad_signature_is_invalid() {
    let w = world();
    // Signed by the consumer key but naming the enterprise key.
    let t = w.msa.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Invalid);
    assert_eq!(failing(&v), ["signature"]);
    assert!(v.summary.contains("does not verify"));
    // A changed claim on a genuine token.
    let good = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = b64(claims(OTHER_TENANT, "2023-06-01T10:00:00Z")
        .to_string()
        .as_bytes());
    assert_eq!(
        verify(&parts.join("."), &w.reg, &opts()).verdict,
        VerdictKind::Invalid
    );
}

#[test]
fn an_unknown_kid_is_unknown_key() {
    let w = world();
    let t = w.ent.token(
        "RS256",
        "nobody-knows",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::UnknownKey);
    // A key carried in the header is never trusted.
    let mut jwk = w.ent.jwk("nobody-knows", None);
    jwk.as_object_mut().unwrap().remove("use");
    let t2 = w.ent.sign(
        &json!({"alg": "RS256", "kid": "nobody-knows", "jwk": jwk}),
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let v2 = verify(&t2, &w.reg, &opts());
    assert_eq!(v2.verdict, VerdictKind::UnknownKey);
    assert!(
        v2.check(CheckName::Kid)
            .unwrap()
            .detail
            .contains("never brings its own key")
    );
    assert!(
        v.check(CheckName::Kid)
            .unwrap()
            .detail
            .contains("no key with kid \"nobody-knows\"")
    );
    assert!(v.key.is_null());
}

#[test]
fn an_expired_token_is_invalid() {
    let w = world();
    let t = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let mut o = opts();
    o.at = Some(ts("2023-06-01T12:00:00Z"));
    let v = verify(&t, &w.reg, &o);
    assert_eq!(v.verdict, VerdictKind::Invalid);
    assert_eq!(failing(&v), ["expiry"]);
    // Within the 5-minute skew it is still accepted.
    o.at = Some(ts("2023-06-01T11:04:00Z"));
    assert_eq!(verify(&t, &w.reg, &o).verdict, VerdictKind::Valid);
    // No exp at all.
    let mut c = claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z");
    c.as_object_mut().unwrap().remove("exp");
    let v = verify(&w.ent.token("RS256", "ent-rsa", &c), &w.reg, &opts());
    assert_eq!(failing(&v), ["expiry"]);
}

#[test]
fn a_future_nbf_is_invalid() {
    let w = world();
    let mut c = claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z");
    c["nbf"] = json!(ts("2023-06-01T10:30:00Z").unix_seconds());
    let v = verify(&w.ent.token("RS256", "ent-rsa", &c), &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Invalid);
    assert_eq!(failing(&v), ["not_before"]);
}

#[test]
fn a_wrong_audience_is_invalid() {
    let w = world();
    let t = w.ent.token(
        "RS256",
        "ent-rsa",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let mut o = opts();
    o.audiences = vec!["https://graph.microsoft.com".into()];
    let v = verify(&t, &w.reg, &o);
    assert_eq!(v.verdict, VerdictKind::Invalid);
    assert_eq!(failing(&v), ["audience"]);
}

#[test]
fn iss_and_tid_that_disagree_fail_issuer_and_scope() {
    let w = world();
    let mut c = claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z");
    c["tid"] = json!(OTHER_TENANT);
    let v = verify(&w.ent.token("RS256", "ent-rsa", &c), &w.reg, &opts());
    assert!(failing(&v).contains(&"issuer"), "{}", v.to_text());
    assert!(failing(&v).contains(&"key_scope"));
    assert!(
        v.check(CheckName::Issuer)
            .unwrap()
            .detail
            .contains("iss and tid disagree")
    );
    assert_eq!(v.verdict, VerdictKind::Forged);
}

#[test]
fn an_unscoped_key_is_reported_never_silently_passed() {
    let w = world();
    let t = w.ec.token(
        "ES256",
        "plain-ec",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let v = verify(&t, &w.reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Forged, "{}", v.to_text());
    assert_eq!(failing(&v), ["key_scope"]);
    assert!(
        v.check(CheckName::KeyScope)
            .unwrap()
            .detail
            .starts_with("unscoped")
    );
}

#[test]
fn an_id_token_presented_to_a_resource_fails_token_class() {
    let w = world();
    let mut c = claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z");
    c.as_object_mut().unwrap().remove("scp");
    c["nonce"] = json!("abc");
    let mut o = opts();
    o.audiences = vec!["https://outlook.office365.com".into()];
    let v = verify(&w.ent.token("RS256", "ent-rsa", &c), &w.reg, &o);
    assert_eq!(failing(&v), ["token_class"]);
    // A v1.0 issuer on a ver 2.0 token.
    let mut c = claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z");
    c["iss"] = json!(format!("https://sts.windows.net/{ENTERPRISE_TENANT}/"));
    let v = verify(&w.ent.token("RS256", "ent-rsa", &c), &w.reg, &opts());
    assert!(failing(&v).contains(&"token_class"));
}

/// The real Storm-0558 key is built in: nobody holds its private half, so a token naming it
/// cannot verify, and the verdict must still say everything else that is wrong with it.
#[test]
fn a_token_naming_the_real_storm_0558_key_is_explained() {
    let attacker = Signer::rsa("rsa-a");
    let t = attacker.token(
        "RS256",
        STORM_0558_KID,
        &claims(ENTERPRISE_TENANT, "2023-07-01T10:00:00Z"),
    );
    let v = verify(
        &t,
        &Registry::builtin(),
        &VerifyOptions {
            now: ts("2024-01-01T00:00:00Z"),
            ..VerifyOptions::default()
        },
    );
    assert_eq!(v.verdict, VerdictKind::Invalid, "{}", v.to_text());
    assert_eq!(v.key["kid"], STORM_0558_KID);
    assert_eq!(v.key["builtin"], true);
    assert_eq!(
        v.key["thumbprint_sha1"],
        "d4b4cccda9228624656bff33d8110955779632aa"
    );
    let f = failing(&v);
    for name in ["signature", "key_scope", "key_validity", "revoked"] {
        assert!(f.contains(&name), "{name} should fail: {}", v.to_text());
    }
    assert!(v.check(CheckName::Kid).unwrap().ok);
    assert!(
        v.check(CheckName::KeyScope)
            .unwrap()
            .detail
            .contains("a consumer key cannot sign for an enterprise tenant")
    );
    assert!(
        v.check(CheckName::KeyValidity)
            .unwrap()
            .detail
            .contains("expired on 2021-04-04T14:43:35Z")
    );
    assert!(
        v.check(CheckName::Revoked)
            .unwrap()
            .detail
            .contains("revoked on 2023-06-29")
    );
    assert!(
        v.summary
            .contains("Even with a genuine signature it would be forged"),
        "{}",
        v.summary
    );
    assert!(v.summary.contains("Storm-0558"), "{}", v.summary);

    // Judged before the revocation, the revocation check passes but the rest does not.
    let t = attacker.token(
        "RS256",
        STORM_0558_KID,
        &claims(ENTERPRISE_TENANT, "2023-06-15T10:00:00Z"),
    );
    let v = verify(&t, &Registry::builtin(), &opts());
    assert!(v.check(CheckName::Revoked).unwrap().ok);
    assert!(v.failed(CheckName::KeyValidity));
}

/// The same key metadata with a test key in the Storm-0558 role: now the signature verifies and
/// the verdict is forged for three reasons.
#[test]
fn a_verifying_token_of_a_key_like_storm_0558_is_forged_three_ways() {
    let actor = Signer::rsa("rsa-b");
    let mut reg = Registry::builtin();
    let mut k = reg.find(STORM_0558_KID)[0].clone();
    let mut tmp = Registry::empty();
    crate::support::import(
        &mut tmp,
        vec![actor.jwk(STORM_0558_KID, None)],
        "x",
        "2023-01-01T00:00:00Z",
    );
    k.jwk = tmp.keys[0].jwk.clone();
    reg.keys.clear();
    reg.keys.push(k);
    // Through a registry file, as a user would keep it.
    let dir = std::env::temp_dir().join(format!("swt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("reg.json");
    reg.save(&path).unwrap();
    let reg = Registry::load(&path).unwrap();
    let t = actor.token(
        "RS256",
        STORM_0558_KID,
        &claims(ENTERPRISE_TENANT, "2023-07-01T10:00:00Z"),
    );
    let v = verify(&t, &reg, &opts());
    assert_eq!(v.verdict, VerdictKind::Forged, "{}", v.to_text());
    let f = failing(&v);
    assert!(
        f.contains(&"key_scope") && f.contains(&"key_validity") && f.contains(&"revoked"),
        "{f:?}"
    );
    assert!(v.check(CheckName::Signature).unwrap().ok);
}

/// A genuine ID token, published, signed in 2016 by the very key Storm-0558 later used: valid
/// when an application validates it as its own ID token; not valid as an access token, nor at
/// a resource, nor after the key was retired.
#[test]
fn a_real_published_id_token_is_valid_for_its_own_client() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/published/msa-id-token-2016.jwt"),
    )
    .unwrap();
    let token = text.trim();
    let reg = Registry::builtin();
    let client = "00000000-0000-0000-0000-00004C16745D";
    let base = VerifyOptions {
        now: ts("2024-01-01T00:00:00Z"),
        audiences: vec![client.into()],
        ..VerifyOptions::default()
    };
    let v = verify(token, &reg, &base);
    assert_eq!(v.verdict, VerdictKind::Valid, "{}", v.to_text());
    assert_eq!(v.token_use, TokenUse::Id);
    assert!(
        v.check(CheckName::TokenClass)
            .unwrap()
            .detail
            .contains("presented to its own client"),
        "{}",
        v.to_text()
    );
    assert_eq!(v.judged_at, ts("2016-07-29T04:05:35Z"), "the token's iat");
    // Validated explicitly as an ID token: the same.
    let v = verify(
        token,
        &reg,
        &VerifyOptions {
            expect: Expect::Id,
            ..base.clone()
        },
    );
    assert_eq!(v.verdict, VerdictKind::Valid, "{}", v.to_text());
    // As a bearer token at an API, it grants nothing.
    let v = verify(
        token,
        &reg,
        &VerifyOptions {
            expect: Expect::Access,
            ..base.clone()
        },
    );
    assert_eq!(v.verdict, VerdictKind::Invalid, "{}", v.to_text());
    assert_eq!(failing(&v), ["token_class"]);
    // Presented to a resource: wrong audience and wrong class.
    let v = verify(
        token,
        &reg,
        &VerifyOptions {
            audiences: vec!["https://outlook.office365.com".into()],
            ..base.clone()
        },
    );
    assert_eq!(failing(&v), ["audience", "token_class"], "{}", v.to_text());
    // Replayed in 2023, after the certificate expired and the key was revoked: forged.
    let v = verify(
        token,
        &reg,
        &VerifyOptions {
            at: Some(ts("2023-07-01T00:00:00Z")),
            ..base
        },
    );
    assert_eq!(v.verdict, VerdictKind::Forged, "{}", v.to_text());
    assert!(failing(&v).contains(&"revoked"));
}

/// ID tokens and access tokens signed for the tests: each judged by what it is and by what the
/// caller says it is validating.
#[test]
fn id_and_access_tokens_are_told_apart() {
    let w = world();
    let client = "6cb04018-a3f5-46a7-b995-940c78f5aef3";
    let api = "f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f";
    let iat = ts("2023-06-01T10:00:00Z").unix_seconds();
    let mut id = json!({
        "aud": client,
        "iss": format!("https://login.microsoftonline.com/{ENTERPRISE_TENANT}/v2.0"),
        "iat": iat, "nbf": iat, "exp": iat + 3600,
        "tid": ENTERPRISE_TENANT,
        "oid": "00000000-0000-0000-0000-00000000beef",
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "preferred_username": "envoy@agency.example",
        "nonce": "n-0S6_WzA2Mj",
        "ver": "2.0",
    });
    let sign = |c: &serde_json::Value| w.ent.token("RS256", "ent-rsa", c);
    let judge = |c: &serde_json::Value, aud: &str, expect: Expect| {
        let mut o = opts();
        o.audiences = vec![aud.into()];
        o.expect = expect;
        verify(&sign(c), &w.reg, &o)
    };
    // The client validating its own ID token.
    let v = judge(&id, client, Expect::Auto);
    assert_eq!(v.verdict, VerdictKind::Valid, "{}", v.to_text());
    assert_eq!(v.token_use, TokenUse::Id);
    assert_eq!(judge(&id, client, Expect::Id).verdict, VerdictKind::Valid);
    // The same token at an API whose id is the client's (one app registration): only the
    // caller can say that it is validating an access token.
    let v = judge(&id, client, Expect::Access);
    assert_eq!(failing(&v), ["token_class"]);
    // At another API: wrong audience, and an ID token is not an access token.
    let v = judge(&id, api, Expect::Auto);
    assert_eq!(failing(&v), ["audience", "token_class"]);
    // Without a nonce, an ID token is still told by its client-id audience and profile claims.
    id.as_object_mut().unwrap().remove("nonce");
    let v = judge(&id, client, Expect::Auto);
    assert_eq!((v.verdict, v.token_use), (VerdictKind::Valid, TokenUse::Id));
    // An ID token naming another authorised party than the client validating it.
    id["azp"] = json!(client);
    assert_eq!(judge(&id, client, Expect::Id).verdict, VerdictKind::Valid);
    // An access token: scp, for the API, asked for by the client.
    let access = json!({
        "aud": api,
        "azp": client,
        "iss": format!("https://login.microsoftonline.com/{ENTERPRISE_TENANT}/v2.0"),
        "iat": iat, "nbf": iat, "exp": iat + 3600,
        "tid": ENTERPRISE_TENANT,
        "oid": "00000000-0000-0000-0000-00000000beef",
        "scp": "access_as_user",
        "ver": "2.0",
    });
    let v = judge(&access, api, Expect::Auto);
    assert_eq!(
        (v.verdict, v.token_use),
        (VerdictKind::Valid, TokenUse::Access)
    );
    assert_eq!(
        judge(&access, api, Expect::Access).verdict,
        VerdictKind::Valid
    );
    let v = judge(&access, api, Expect::Id);
    assert_eq!(failing(&v), ["token_class"], "{}", v.to_text());
    // Issued to a client for the API but with no scp or roles: it grants nothing there.
    let mut bare = access.clone();
    bare.as_object_mut().unwrap().remove("scp");
    let v = judge(&bare, api, Expect::Access);
    assert_eq!(v.token_use, TokenUse::Access);
    assert_eq!(failing(&v), ["token_class"]);
    // An app-only token (roles) is an access token too.
    let mut app = access;
    app.as_object_mut().unwrap().remove("scp");
    app["roles"] = json!(["Mail.Read"]);
    let v = judge(&app, api, Expect::Access);
    assert_eq!(
        (v.verdict, v.token_use),
        (VerdictKind::Valid, TokenUse::Access)
    );
    // An ID token whose azp is another client, validated as the client's ID token.
    let mut other = id.clone();
    other["azp"] = json!(api);
    let v = judge(&other, client, Expect::Id);
    assert_eq!(failing(&v), ["token_class"], "{}", v.to_text());
}
