//! `stormwatch tokens`: verify, keys and scan as a user runs them.

use std::path::Path;

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::util::stormwatch;

const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const ENTERPRISE_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const STORM_KID: &str = "1LTMzakihiRla_8z2BEJVXeWMqo";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A freshly generated Ed25519 signing key.
struct Key {
    pair: Ed25519KeyPair,
    kid: String,
}

impl Key {
    fn new(kid: &str) -> Key {
        let pk8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Key {
            pair: Ed25519KeyPair::from_pkcs8(pk8.as_ref()).unwrap(),
            kid: kid.to_owned(),
        }
    }

    /// Public JWK with Microsoft's per-key `issuer`.
    fn jwk(&self, issuer: &str) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": self.kid,
               "x": b64(self.pair.public_key().as_ref()), "issuer": issuer})
    }

    fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.pair.sign(input.as_bytes());
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

fn issuer(tid: &str) -> String {
    format!("https://login.microsoftonline.com/{tid}/v2.0")
}

fn claims(tid: &str) -> Value {
    // 2023-06-01T12:00:00Z, valid for an hour.
    let iat = 1_685_620_800_i64;
    json!({"iss": issuer(tid), "tid": tid, "aud": "https://outlook.office365.com",
           "iat": iat, "nbf": iat, "exp": iat + 3600, "sub": "attacker", "ver": "2.0"})
}

fn write_jwks(dir: &Path, name: &str, keys: &[Value]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, json!({ "keys": keys }).to_string()).unwrap();
    p.display().to_string()
}

/// A consumer-scoped key and the JWKS file that publishes it.
fn consumer_key(dir: &Path, kid: &str) -> (Key, String) {
    let key = Key::new(kid);
    let jwks = write_jwks(
        dir,
        &format!("{kid}.json"),
        &[key.jwk(&issuer(CONSUMER_TENANT))],
    );
    (key, jwks)
}

/// Run `stormwatch tokens verify --format json ARGS...`, expect `status`, parse the verdict.
fn verify_json(args: &[&str], status: i32) -> Value {
    let mut all = vec!["tokens", "verify", "--format", "json"];
    all.extend_from_slice(args);
    let run = stormwatch(all).expect_status(status);
    serde_json::from_str(&run.stdout).unwrap()
}

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {v}"))
}

#[test]
fn consumer_key_signing_for_an_enterprise_tenant_is_forged() {
    let dir = tempfile::tempdir().unwrap();
    let (key, jwks) = consumer_key(dir.path(), "consumer-key-1");

    // The Storm-0558 pattern: a consumer key signs a token for an enterprise tenant.
    let forged = key.sign(&claims(ENTERPRISE_TENANT));
    let v = verify_json(&["--keys", &jwks, &forged], 1);
    assert_eq!(v["verdict"], "forged", "{v}");
    assert_eq!(check(&v, "signature")["ok"], true);
    assert_eq!(check(&v, "key_scope")["ok"], false);
    assert_eq!(v["key"]["kid"], "consumer-key-1");

    // The analyst's text puts the failing check first.
    let text = stormwatch(["tokens", "verify", "--keys", &jwks, &forged]).expect_status(1);
    let first_check = text
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("FAIL") || l.trim_start().starts_with("ok "))
        .unwrap();
    assert!(
        first_check.contains("FAIL") && first_check.contains("key_scope"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.to_lowercase().contains("forged"),
        "{}",
        text.stdout
    );

    // The same key signing for its own (consumer) tenant is valid, and exits 0.
    let good = key.sign(&claims(CONSUMER_TENANT));
    let v = verify_json(&["--keys", &jwks, &good], 0);
    assert_eq!(v["verdict"], "valid", "{v}");
}

#[test]
fn tampered_and_unknown_tokens_are_not_forged() {
    let dir = tempfile::tempdir().unwrap();
    let key = Key::new("k1");
    let jwks = write_jwks(dir.path(), "k.json", &[key.jwk(&issuer("{tenantid}"))]);
    let token = key.sign(&claims(ENTERPRISE_TENANT));

    // Flip the payload: the signature no longer verifies.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut other = claims(ENTERPRISE_TENANT);
    other["sub"] = json!("someone-else");
    parts[1] = b64(other.to_string().as_bytes());
    let tampered = parts.join(".");
    let v = verify_json(&["--keys", &jwks, &tampered], 1);
    assert_eq!(v["verdict"], "invalid", "{v}");
    assert_eq!(check(&v, "signature")["ok"], false);

    // A kid no registry knows.
    let stranger = Key::new("nobody-knows-me").sign(&claims(ENTERPRISE_TENANT));
    let v = verify_json(&["--keys", &jwks, &stranger], 1);
    assert_eq!(v["verdict"], "unknown_key", "{v}");

    // Garbage is a verdict, not a crash; a missing token file is a usage error.
    let v = verify_json(&["not.a.jwt"], 1);
    assert_eq!(v["verdict"], "invalid", "{v}");
    let missing = dir.path().join("missing.txt");
    stormwatch(["tokens", "verify", &format!("@{}", missing.display())]).expect_status(2);
}

#[test]
fn the_storm_0558_key_is_built_in() {
    let run = stormwatch(["tokens", "keys", "list", "--format", "json"]).expect_status(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let keys = v["keys"].as_array().unwrap();
    let storm = keys.iter().find(|k| k["kid"] == STORM_KID).unwrap();
    assert_eq!(storm["tenant_class"], "consumer", "{storm}");

    let run = stormwatch(["tokens", "keys", "show", STORM_KID]).expect_status(0);
    assert!(run.stdout.contains(STORM_KID), "{}", run.stdout);
    assert!(
        run.stdout.contains("2021-04-04"),
        "certificate expiry: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("2023-06-29"),
        "revocation: {}",
        run.stdout
    );

    // A token naming that key, for an enterprise tenant, is judged against it with no options.
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": STORM_KID});
    let token = format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims(ENTERPRISE_TENANT).to_string().as_bytes()),
        b64(&[7u8; 256])
    );
    let v = verify_json(&[&token], 1);
    assert_eq!(v["key"]["kid"], STORM_KID, "{v}");
    assert_ne!(v["verdict"], "unknown_key", "{v}");
    assert_ne!(v["verdict"], "valid", "{v}");
}

#[test]
fn registry_keeps_history_across_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("keys.json").display().to_string();
    let a = Key::new("key-a");
    let b = Key::new("key-b");
    let common = issuer("{tenantid}");
    let first = write_jwks(dir.path(), "jwks-1.json", &[a.jwk(&common), b.jwk(&common)]);
    let second = write_jwks(dir.path(), "jwks-2.json", &[a.jwk(&common)]);

    stormwatch([
        "tokens",
        "keys",
        "import",
        "--registry",
        &reg,
        "--source",
        "common",
        "--at",
        "2023-05-01T00:00:00Z",
        &first,
    ])
    .expect_status(0);
    let run = stormwatch([
        "tokens",
        "keys",
        "import",
        "--registry",
        &reg,
        "--source",
        "common",
        "--at",
        "2023-07-01T00:00:00Z",
        &second,
    ])
    .expect_status(0);
    assert!(run.stderr.contains("1 removed"), "{}", run.stderr);

    let run = stormwatch([
        "tokens",
        "keys",
        "list",
        "--registry",
        &reg,
        "--format",
        "json",
    ])
    .expect_status(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let kids: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&"key-a") && kids.contains(&"key-b"),
        "{kids:?}"
    );
    assert!(kids.contains(&STORM_KID), "built-in key kept: {kids:?}");

    // key-b is gone from the later snapshot but still verifies a token of its time.
    let token = b.sign(&claims(ENTERPRISE_TENANT));
    let v = verify_json(&["--registry", &reg, &token], 0);
    assert_eq!(v["verdict"], "valid", "{v}");
}

#[test]
fn scan_reports_forged_tokens_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let (key, jwks) = consumer_key(dir.path(), "consumer-key-2");
    let forged = key.sign(&claims(ENTERPRISE_TENANT));
    let good = key.sign(&claims(CONSUMER_TENANT));
    let log = dir.path().join("proxy.log");
    std::fs::write(
        &log,
        format!(
            "2023-06-01T12:05:00Z GET /owa/ 200 Authorization: Bearer {good}\n\
             2023-06-01T12:06:00Z nothing here\n\
             2023-06-01T12:07:00Z GET /EWS/Exchange.asmx 200 Authorization: Bearer {forged}\n"
        ),
    )
    .unwrap();
    let log = log.display().to_string();

    let run = stormwatch([
        "tokens",
        "scan",
        "--keys",
        &jwks,
        "--format",
        "jsonl",
        "--forged-only",
        &log,
    ]);
    let findings = run.jsonl();
    assert_eq!(findings.len(), 1, "{}\n{}", run.stdout, run.stderr);
    let f = &findings[0];
    assert_eq!(f["verdict"], "forged", "{f}");
    assert_eq!(f["location"]["line"], 3, "{f}");
    assert!(
        f["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("proxy.log")
    );
    // The signature is redacted unless asked for.
    assert!(
        !f["token"]
            .as_str()
            .unwrap()
            .contains(forged.rsplit('.').next().unwrap())
    );
}

/// A genuine, published 2016 Microsoft account ID token (signed with the key Storm-0558 later
/// abused): valid when validated by its own client, not as an access token; `--expect` is
/// checked.
#[test]
fn verify_a_real_id_token_for_its_own_client() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tokens/tests/fixtures/published/msa-id-token-2016.jwt");
    let arg = format!("@{}", file.display());
    let client = "00000000-0000-0000-0000-00004C16745D";
    let run = stormwatch([
        "tokens",
        "verify",
        "--audience",
        client,
        "--format",
        "json",
        &arg,
    ])
    .expect_status(0);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["token_use"], "id");
    let run = stormwatch([
        "tokens",
        "verify",
        "--audience",
        client,
        "--expect",
        "access",
        &arg,
    ])
    .expect_status(1);
    assert!(run.stdout.contains("FAIL token_class"), "{}", run.stdout);
    stormwatch(["tokens", "verify", "--expect", "bearer", &arg]).expect_status(2);
}

#[test]
fn scan_reads_a_directory_of_gzip_and_zstd_files_and_standard_input() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let (key, jwks) = consumer_key(dir.path(), "consumer-key-3");
    let forged = key.sign(&claims(ENTERPRISE_TENANT));
    let logs = dir.path().join("proxy-logs");
    std::fs::create_dir(&logs).unwrap();
    let line = |n: u32| {
        format!(
            "2023-06-01T12:0{n}:00Z GET /EWS/Exchange.asmx 200 Authorization: Bearer {forged}\n"
        )
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(line(1).as_bytes()).unwrap();
    std::fs::write(logs.join("a.log.gz"), gz.finish().unwrap()).unwrap();
    let zst = zstd::encode_all(format!("noise\n{}", line(2)).as_bytes(), 3).unwrap();
    std::fs::write(logs.join("b.log.zst"), zst).unwrap();
    let run = stormwatch([
        "tokens",
        "scan",
        "--keys",
        &jwks,
        "--format",
        "jsonl",
        logs.to_str().unwrap(),
    ]);
    let findings = run.jsonl();
    assert_eq!(findings.len(), 2, "{}\n{}", run.stdout, run.stderr);
    let at: Vec<(String, u64)> = findings
        .iter()
        .map(|f| {
            (
                f["location"]["file"].as_str().unwrap().to_owned(),
                f["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(at[0].0.ends_with("a.log.gz") && at[0].1 == 1, "{at:?}");
    assert!(at[1].0.ends_with("b.log.zst") && at[1].1 == 2, "{at:?}");
    assert!(findings.iter().all(|f| f["verdict"] == "forged"));

    // Standard input, compressed, as `-`.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(["tokens", "scan", "--keys", &jwks, "--format", "jsonl", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(logs.join("b.log.zst")).unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);

    // A directory with nothing to scan says so.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = stormwatch(["tokens", "scan", "--keys", &jwks, empty.to_str().unwrap()]);
    assert!(run.stderr.contains("no file to scan"), "{}", run.stderr);
}
