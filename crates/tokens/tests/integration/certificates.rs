//! The `x5c` reader: the real Storm-0558 certificate and a test certificate made with openssl.

use stormwatch_tokens::{PublicKey, STORM_0558_KID, parse_certificate};

use crate::support::FIXTURES;

fn storm_cert_der() -> Vec<u8> {
    let jwk: serde_json::Value =
        serde_json::from_str(include_str!("../../data/storm-0558-jwk.json")).unwrap();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(jwk["x5c"][0].as_str().unwrap())
        .unwrap()
}

#[test]
fn the_storm_0558_certificate_gives_its_exact_dates_and_thumbprint() {
    let c = parse_certificate(&storm_cert_der()).unwrap();
    assert_eq!(c.not_before.to_string(), "2016-04-05T14:43:35Z");
    assert_eq!(c.not_after.to_string(), "2021-04-04T14:43:35Z");
    assert_eq!(c.x5t, STORM_0558_KID);
    assert_eq!(c.sha1_hex, "d4b4cccda9228624656bff33d8110955779632aa");
    assert_eq!(
        c.subject_cn.as_deref(),
        Some("Live ID STS Signing Public Key")
    );
    // The certificate holds the same key as the JWK's n/e.
    let jwk: stormwatch_tokens::JwkPublic =
        serde_json::from_str(include_str!("../../data/storm-0558-jwk.json")).unwrap();
    assert_eq!(c.public_key, PublicKey::from_jwk(&jwk).unwrap());
}

#[test]
fn an_openssl_certificate_gives_the_dates_openssl_printed() {
    let der = std::fs::read(format!("{FIXTURES}/keys/rsa-a.cert.der")).unwrap();
    let c = parse_certificate(&der).unwrap();
    let txt = std::fs::read_to_string(format!("{FIXTURES}/keys/rsa-a.cert.txt")).unwrap();
    // notBefore=Nov 23 08:02:46 2026 GMT
    let month = |m: &str| {
        [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .iter()
        .position(|x| *x == m)
        .unwrap() as u32
            + 1
    };
    let parse = |line: &str| {
        let v: Vec<&str> = line.split('=').nth(1).unwrap().split_whitespace().collect();
        let hms: Vec<u32> = v[2].split(':').map(|x| x.parse().unwrap()).collect();
        stormwatch_core::Timestamp::from_civil(
            v[3].parse().unwrap(),
            month(v[0]),
            v[1].parse().unwrap(),
            hms[0],
            hms[1],
            hms[2],
            0,
        )
        .unwrap()
    };
    let mut lines = txt.lines();
    assert_eq!(c.not_before, parse(lines.next().unwrap()));
    assert_eq!(c.not_after, parse(lines.next().unwrap()));
    let fp = lines
        .next()
        .unwrap()
        .split('=')
        .nth(1)
        .unwrap()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(c.sha1_hex, fp);
    assert_eq!(c.subject_cn.as_deref(), Some("stormwatch test signing key"));
    // And the certificate's key is the private key's public half.
    let signer = crate::support::Signer::rsa("rsa-a");
    let jwk: stormwatch_tokens::JwkPublic = serde_json::from_value(signer.jwk("a", None)).unwrap();
    assert_eq!(c.public_key, PublicKey::from_jwk(&jwk).unwrap());
}

#[test]
fn every_truncation_of_a_certificate_is_an_error_not_a_panic() {
    let der = storm_cert_der();
    for n in 0..der.len() {
        assert!(parse_certificate(&der[..n]).is_err(), "prefix {n}");
    }
    let mut flipped = der.clone();
    for i in 0..flipped.len() {
        flipped[i] ^= 0xff;
        let _ = parse_certificate(&flipped);
        flipped[i] ^= 0xff;
    }
}
