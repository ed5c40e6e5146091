//! Published JWS test vectors (RFC 7515 A.2/A.3, RFC 7520 4.1/4.2, RFC 8037 A.4) verify.

use serde_json::Value;
use stormwatch_tokens::{Alg, CheckName, JwkPublic, PublicKey, Registry, VerdictKind, verify};

use crate::support::{FIXTURES, opts};

fn vectors() -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/rfc-vectors.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["vectors"].as_array().unwrap().clone()
}

fn alg_of(name: &str) -> Alg {
    Alg::from_header(Some(name)).unwrap()
}

#[test]
fn every_published_vector_verifies_and_a_changed_byte_does_not() {
    let all = vectors();
    assert_eq!(all.len(), 5);
    for v in all {
        let source = v["source"].as_str().unwrap();
        let jwk: JwkPublic = serde_json::from_value(v["jwk"].clone()).unwrap();
        let key = PublicKey::from_jwk(&jwk).unwrap();
        let jws = v["jws"].as_str().unwrap();
        let (input, sig) = jws.rsplit_once('.').unwrap();
        let sig = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .unwrap()
        };
        let alg = alg_of(v["alg"].as_str().unwrap());
        assert!(key.verify(alg, input.as_bytes(), &sig).is_ok(), "{source}");
        let mut altered = input.as_bytes().to_vec();
        altered[5] ^= 1;
        assert!(
            key.verify(alg, &altered, &sig).is_err(),
            "{source} (altered)"
        );
    }
}

#[test]
fn rfc7515_a2_through_the_whole_pipeline() {
    // The A.2 token names no key and carries no tenant: the signature is found and verifies
    // under the imported key, and the verdict says what a validator must still refuse.
    let v = &vectors()[0];
    let mut reg = Registry::empty();
    let mut jwk = v["jwk"].clone();
    jwk["kid"] = "rfc7515-a2".into();
    crate::support::import(&mut reg, vec![jwk], "rfc7515", "2011-01-01T00:00:00Z");
    let mut o = opts();
    o.at = Some(crate::support::ts("2011-03-22T18:00:00Z"));
    let verdict = verify(v["jws"].as_str().unwrap(), &reg, &o);
    assert!(
        verdict.check(CheckName::Signature).unwrap().ok,
        "{}",
        verdict.to_text()
    );
    assert!(verdict.check(CheckName::Expiry).unwrap().ok);
    assert!(verdict.failed(CheckName::Kid));
    assert!(verdict.failed(CheckName::KeyScope));
    assert!(
        verdict
            .check(CheckName::KeyScope)
            .unwrap()
            .detail
            .contains("unscoped")
    );
    assert_eq!(verdict.verdict, VerdictKind::Invalid);
    assert_eq!(verdict.claims["iss"], "joe");
}
