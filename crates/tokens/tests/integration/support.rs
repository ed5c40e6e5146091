//! Test keys and a token signer. The RSA keys are committed fixtures (made with openssl, see
//! `tests/fixtures/keys/README.md`); EC and Ed25519 keys are generated here.

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Value, json};
use stormwatch_core::Timestamp;
use stormwatch_tokens::{ImportOptions, Registry, TenantClass, VerifyOptions};

pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
pub(crate) const ENTERPRISE_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub(crate) const OTHER_TENANT: &str = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";

pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub(crate) enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, &'static str),
    Ed(Ed25519KeyPair),
}

impl Signer {
    pub(crate) fn rsa(name: &str) -> Signer {
        let der = std::fs::read(format!("{FIXTURES}/keys/{name}.pkcs1.der")).unwrap();
        Signer::Rsa(RsaKeyPair::from_der(&der).unwrap())
    }
    pub(crate) fn p256() -> Signer {
        let rng = SystemRandom::new();
        let a = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pk8 = EcdsaKeyPair::generate_pkcs8(a, &rng).unwrap();
        Signer::Ec(
            EcdsaKeyPair::from_pkcs8(a, pk8.as_ref(), &rng).unwrap(),
            "P-256",
        )
    }
    pub(crate) fn p384() -> Signer {
        let rng = SystemRandom::new();
        let a = &signature::ECDSA_P384_SHA384_FIXED_SIGNING;
        let pk8 = EcdsaKeyPair::generate_pkcs8(a, &rng).unwrap();
        Signer::Ec(
            EcdsaKeyPair::from_pkcs8(a, pk8.as_ref(), &rng).unwrap(),
            "P-384",
        )
    }
    pub(crate) fn ed25519() -> Signer {
        let pk8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Signer::Ed(Ed25519KeyPair::from_pkcs8(pk8.as_ref()).unwrap())
    }

    /// The public JWK of this key, with `kid` and optional per-key `issuer`.
    pub(crate) fn jwk(&self, kid: &str, issuer: Option<&str>) -> Value {
        let mut v = match self {
            Signer::Rsa(k) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(k.public());
                json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e)})
            }
            Signer::Ec(k, crv) => {
                let p = k.public_key().as_ref();
                let len = (p.len() - 1) / 2;
                json!({"kty": "EC", "crv": crv, "x": b64(&p[1..1 + len]), "y": b64(&p[1 + len..])})
            }
            Signer::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())})
            }
        };
        v["kid"] = json!(kid);
        v["use"] = json!("sig");
        if let Some(i) = issuer {
            v["issuer"] = json!(i);
        }
        v
    }

    /// Sign `claims` with `header` (which must carry the alg).
    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let alg = header["alg"].as_str().unwrap();
        let rng = SystemRandom::new();
        let sig = match self {
            Signer::Rsa(k) => {
                let enc: &'static dyn signature::RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    // any other header alg: sign RS256 anyway (for mismatch tests)
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut out = vec![0; k.public().modulus_len()];
                k.sign(enc, &rng, input.as_bytes(), &mut out).unwrap();
                out
            }
            Signer::Ec(k, _) => k.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
            Signer::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&sig))
    }

    /// Sign a token with `alg`, `kid` and these claims.
    pub(crate) fn token(&self, alg: &str, kid: &str, claims: &Value) -> String {
        self.sign(&json!({"alg": alg, "typ": "JWT", "kid": kid}), claims)
    }
}

/// Claims of an Entra ID v2.0 access token for `tid`, issued at `iat`, valid one hour.
pub(crate) fn claims(tid: &str, iat: &str) -> Value {
    let iat = ts(iat).unix_seconds();
    json!({
        "aud": "https://outlook.office365.com",
        "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "iat": iat,
        "nbf": iat,
        "exp": iat + 3600,
        "tid": tid,
        "oid": "00000000-0000-0000-0000-00000000beef",
        "scp": "Mail.Read",
        "ver": "2.0",
    })
}

pub(crate) fn import(reg: &mut Registry, keys: Vec<Value>, source: &str, at: &str) {
    let opts = ImportOptions {
        source: source.to_owned(),
        issuer: None,
        tenant_class: None,
        at: ts(at),
    };
    reg.import(&json!({ "keys": keys }), &opts).unwrap();
}

/// Options judging at the token's iat, with the expected resource and tenant when given.
pub(crate) fn opts() -> VerifyOptions {
    VerifyOptions {
        now: ts("2024-01-01T00:00:00Z"),
        ..VerifyOptions::default()
    }
}

/// A registry with: an enterprise templated RSA key `ent-rsa`, a consumer-scoped RSA key
/// `msa-rsa` (the Storm-0558 role), an unscoped P-256 key `plain-ec`, and the built-in key.
pub(crate) struct World {
    pub(crate) ent: Signer,
    pub(crate) msa: Signer,
    pub(crate) ec: Signer,
    pub(crate) reg: Registry,
}

pub(crate) fn world() -> World {
    let ent = Signer::rsa("rsa-a");
    let msa = Signer::rsa("rsa-b");
    let ec = Signer::p256();
    let mut reg = Registry::builtin();
    import(
        &mut reg,
        vec![
            ent.jwk("ent-rsa", Some(stormwatch_tokens::TENANT_ISSUER_TEMPLATE)),
            msa.jwk("msa-rsa", Some(stormwatch_tokens::CONSUMER_ISSUER)),
            ec.jwk("plain-ec", None),
        ],
        "test-jwks",
        "2023-01-01T00:00:00Z",
    );
    assert_eq!(reg.find("msa-rsa")[0].tenant_class, TenantClass::Consumer);
    World { ent, msa, ec, reg }
}
