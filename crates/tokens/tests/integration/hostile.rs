//! Hostile tokens get a clear error, never a panic.

use proptest::prelude::*;
use stormwatch_tokens::{MAX_TOKEN_LEN, Registry, VerdictKind, verify};

use crate::support::{ENTERPRISE_TENANT, b64, claims, opts, world};

fn error_of(t: &str) -> String {
    let v = verify(t, &Registry::builtin(), &opts());
    assert_eq!(v.verdict, VerdictKind::Invalid);
    v.error.unwrap_or_default()
}

#[test]
fn hostile_tokens_get_clear_errors() {
    let huge = format!("eyJ{}.e30.AA", "A".repeat(MAX_TOKEN_LEN));
    assert!(error_of(&huge).contains("accepted"));
    assert!(error_of("eyJ!!!.e30.AA").contains("header is not valid base64url"));
    assert!(error_of("eyJhbGciOiJSUzI1NiJ9.e30=.AA").contains("payload is not valid base64url"));
    let bomb = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let t = format!(
        "{}.{}.AA",
        b64(br#"{"alg":"RS256"}"#),
        b64(format!("{{\"a\":{bomb}}}").as_bytes())
    );
    assert!(error_of(&t).contains("nested deeper"));
    let t = format!(
        "{}.{}.AA",
        b64(br#"{"alg":"RS256"}"#),
        b64(format!(
            r#"{{"tid":"{ENTERPRISE_TENANT}","tid":"9188040d-6c67-4c5b-b112-36a304b66dad"}}"#
        )
        .as_bytes())
    );
    assert!(error_of(&t).contains("duplicate member \"tid\""));
    let t = format!(
        "{}.{}.AA",
        b64(br#"{"alg":"RS256","alg":"none"}"#),
        b64(b"{}")
    );
    assert!(error_of(&t).contains("header"));
    assert!(error_of(&format!("{}.{}.AA", b64(b"[1]"), b64(b"{}"))).contains("not a JSON object"));
    assert!(error_of("a.b.c.d.e").contains("encrypted"));
    assert!(error_of("").contains("empty"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,300}") {
        let _ = verify(&s, &Registry::builtin(), &opts());
    }

    #[test]
    fn arbitrary_segments_never_panic(h in proptest::collection::vec(any::<u8>(), 0..200),
                                     p in proptest::collection::vec(any::<u8>(), 0..200),
                                     s in proptest::collection::vec(any::<u8>(), 0..300)) {
        let t = format!("{}.{}.{}", b64(&h), b64(&p), b64(&s));
        let v = verify(&t, &Registry::builtin(), &opts());
        prop_assert_ne!(v.verdict, VerdictKind::Valid);
    }

    #[test]
    fn arbitrary_json_claims_never_panic(json in "[\\[\\]{}\",:0-9a-z ]{0,200}") {
        let t = format!("{}.{}.AA", b64(br#"{"alg":"RS256","kid":"1LTMzakihiRla_8z2BEJVXeWMqo"}"#), b64(json.as_bytes()));
        let v = verify(&t, &Registry::builtin(), &opts());
        prop_assert_ne!(v.verdict, VerdictKind::Valid);
    }

    #[test]
    fn arbitrary_certificates_never_panic(der in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = stormwatch_tokens::parse_certificate(&der);
    }
}

#[test]
fn any_single_character_change_to_a_valid_token_makes_it_not_valid() {
    let w = world();
    let t = w.ec.token(
        "ES256",
        "plain-ec",
        &claims(ENTERPRISE_TENANT, "2023-06-01T10:00:00Z"),
    );
    let mut reg = w.reg.clone();
    reg.keys
        .iter_mut()
        .find(|k| k.kid == "plain-ec")
        .unwrap()
        .issuer_scope = Some(stormwatch_tokens::TENANT_ISSUER_TEMPLATE.into());
    assert_eq!(verify(&t, &reg, &opts()).verdict, VerdictKind::Valid);
    let bytes = t.as_bytes();
    for i in (0..bytes.len()).step_by(3) {
        let mut m = bytes.to_vec();
        m[i] = if m[i] == b'A' { b'B' } else { b'A' };
        let m = String::from_utf8(m).unwrap();
        assert_ne!(
            verify(&m, &reg, &opts()).verdict,
            VerdictKind::Valid,
            "position {i}"
        );
    }
}
