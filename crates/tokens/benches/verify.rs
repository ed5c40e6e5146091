//! Verifications per second on one core, for RS256 and ES256: the raw signature check and the
//! whole verdict (parse, eleven checks, explanations); then `scan` over a synthetic capture.
//!
//! Run: `cargo bench -p stormwatch-tokens --bench verify`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::json;
use stormwatch_core::Timestamp;
use stormwatch_tokens::scan::{ScanOptions, ScanStats, scan_reader};
use stormwatch_tokens::{Alg, ImportOptions, Registry, Token, VerifyOptions, verify};

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// CPU time of this thread in nanoseconds (Linux), so that the rate is per core even when other
/// processes share the machine; `None` elsewhere.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn rate(label: &str, mut f: impl FnMut()) -> f64 {
    for _ in 0..200 {
        f();
    }
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut n: u64 = 0;
    while start.elapsed() < Duration::from_secs(3) {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    let per_sec = n as f64 / cpu;
    println!(
        "{label:<40} {per_sec:>8.0} /s per core  {:>6.1} µs CPU each  ({:.0} /s wall clock)",
        1e6 / per_sec,
        n as f64 / wall
    );
    per_sec
}

fn main() {
    let rng = SystemRandom::new();
    let der = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/keys/rsa-a.pkcs1.der"
    ))
    .unwrap();
    let rsa = RsaKeyPair::from_der(&der).unwrap();
    let pk8 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pk8.as_ref(),
        &rng,
    )
    .unwrap();

    let comps = signature::RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public());
    let p = ec.public_key().as_ref();
    let issuer = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let mut reg = Registry::builtin();
    reg.import(
        &json!({"keys": [
            {"kty": "RSA", "kid": "rsa", "n": b64(&comps.n), "e": b64(&comps.e), "issuer": issuer},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..]), "issuer": issuer},
        ]}),
        &ImportOptions { source: "bench".into(), issuer: None, tenant_class: None, at: Timestamp::EPOCH },
    )
    .unwrap();

    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let iat = 1_685_613_600_i64;
    let claims = json!({
        "aud": "https://outlook.office365.com", "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "iat": iat, "nbf": iat, "exp": iat + 3600, "tid": tid, "scp": "Mail.Read", "ver": "2.0",
        "oid": "00000000-0000-0000-0000-00000000beef", "name": "A User", "upn": "user@example.com",
    });
    let sign = |alg: &str, kid: &str| {
        let input = format!(
            "{}.{}",
            b64(json!({"alg": alg, "typ": "JWT", "kid": kid})
                .to_string()
                .as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = if alg == "RS256" {
            let mut out = vec![0; rsa.public().modulus_len()];
            rsa.sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut out,
            )
            .unwrap();
            out
        } else {
            ec.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec()
        };
        format!("{input}.{}", b64(&sig))
    };
    let rs = sign("RS256", "rsa");
    let es = sign("ES256", "ec");
    let opts = VerifyOptions::default();
    assert_eq!(verify(&rs, &reg, &opts).verdict.name(), "valid");
    assert_eq!(verify(&es, &reg, &opts).verdict.name(), "valid");

    println!("stormwatch-tokens verification, one thread");
    for (name, tok, kid, alg) in [
        ("RS256", &rs, "rsa", Alg::RS256),
        ("ES256", &es, "ec", Alg::ES256),
    ] {
        let t = Token::parse(tok).unwrap();
        let key = reg.find(kid)[0].public_key().unwrap().clone();
        rate(&format!("{name} signature only"), || {
            black_box(key.verify(alg, t.signing_input.as_bytes(), &t.signature)).unwrap();
        });
        rate(&format!("{name} whole verdict (parse + 12 checks)"), || {
            black_box(verify(black_box(tok), &reg, &opts));
        });
    }

    // A capture of 20,000 lines: 2,000 distinct tokens (half RS256, half ES256), each used in
    // ten records, as a bearer token is reused for an hour.
    let distinct: Vec<String> = (0..2_000)
        .map(|i| {
            let mut c = claims.clone();
            c["uti"] = json!(format!("uti-{i}"));
            let (alg, kid) = if i % 2 == 0 {
                ("RS256", "rsa")
            } else {
                ("ES256", "ec")
            };
            let input = format!(
                "{}.{}",
                b64(json!({"alg": alg, "typ": "JWT", "kid": kid})
                    .to_string()
                    .as_bytes()),
                b64(c.to_string().as_bytes())
            );
            let sig = if alg == "RS256" {
                let mut out = vec![0; rsa.public().modulus_len()];
                rsa.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut out,
                )
                .unwrap();
                out
            } else {
                ec.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec()
            };
            format!("{input}.{}", b64(&sig))
        })
        .collect();
    let mut capture = String::new();
    for i in 0..20_000 {
        let t = &distinct[(i * 7) % distinct.len()];
        capture.push_str(&format!(
            "2023-06-01T10:{:02}:{:02}Z GET /owa/ HTTP/1.1 Authorization: Bearer {t} ua=Mozilla/5.0\n",
            (i / 60) % 60,
            i % 60
        ));
    }
    let name: Arc<str> = Arc::from("bench.log");
    let sopts = ScanOptions::default();
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut stats = ScanStats::default();
    scan_reader(
        capture.as_bytes(),
        &name,
        &reg,
        &sopts,
        &mut stats,
        &mut |f| {
            black_box(f);
        },
    )
    .unwrap();
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    println!(
        "scan: {} tokens ({} distinct; {} signatures verified, {} from cache), {:.1} MB: \
         {cpu:.2} s CPU = {:.0} tokens/s per core, {:.1} MB/s ({wall:.2} s wall clock)",
        stats.tokens,
        distinct.len(),
        stats.signatures_verified,
        stats.signatures_cached,
        capture.len() as f64 / 1e6,
        stats.tokens as f64 / cpu,
        capture.len() as f64 / 1e6 / cpu,
    );
}
