//! TLS from certificate and key files: the service speaks HTTPS on its port (a plain HTTP
//! request gets nothing), and the session cookie is marked `Secure`. Uses `openssl` to make
//! a throw-away certificate and `curl` as the client; skipped (with a message) without them,
//! except under CI, where their absence fails the test.

use std::process::Command;

use crate::dashboard::{PASSWORD, add_user};
use crate::util::Server;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        || Command::new(tool)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
}

#[test]
fn tls_from_certificate_and_key_files_and_secure_cookies() {
    if !have("openssl") || !have("curl") {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl and curl are needed under CI (.ci/run installs them)"
        );
        eprintln!(
            "SKIPPED tls test: openssl and curl are needed to make a certificate and talk TLS"
        );
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // A configuration whose key does not fit is refused at start, naming it.
    let toml = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let s = Server::start(&toml);
    add_user(&s, "ann", "analyst");
    let addr = s.handle.as_ref().unwrap().addr();
    let curl = |args: &[&str]| {
        Command::new("curl")
            .args(["-s", "--max-time", "10", "--cacert"])
            .arg(&cert)
            .args(args)
            .output()
            .unwrap()
    };
    let health = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("https://127.0.0.1:{}/healthz", addr.port()),
    ]);
    assert_eq!(String::from_utf8_lossy(&health.stdout), "200");
    let login = curl(&[
        "-i",
        "--data-urlencode",
        "user=ann",
        "--data-urlencode",
        &format!("password={PASSWORD}"),
        &format!("https://127.0.0.1:{}/login", addr.port()),
    ]);
    let head = String::from_utf8_lossy(&login.stdout).to_ascii_lowercase();
    let cookie = head
        .lines()
        .find(|l| l.starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(
        cookie.contains("; secure")
            && cookie.contains("httponly")
            && cookie.contains("samesite=strict"),
        "{cookie}"
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(format!("http://127.0.0.1:{}/healthz", addr.port()))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200");
    drop(s);
    // A key that does not fit the certificate: the service does not start.
    let other = certs.path().join("other.pem");
    let k = Command::new("openssl")
        .args([
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-noout",
            "-out",
        ])
        .arg(&other)
        .output()
        .unwrap();
    assert!(k.status.success());
    let mut config = stormwatch_serve::Config::from_toml(&format!(
        "[tls]\ncert = {:?}\nkey = {:?}\n",
        cert.display().to_string(),
        other.display().to_string()
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    config.data_dir = dir.path().to_owned();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let err = stormwatch_serve::start(stormwatch_serve::Options {
        factory: {
            let engine = stormwatch_sigma::Engine::from_sources(&[], &Default::default())
                .unwrap()
                .0;
            let det = config.detector_config();
            std::sync::Arc::new(move || {
                stormwatch_detect::Detector::new(engine.clone(), None, det.clone())
            })
        },
        config,
        fingerprint: "t".into(),
        threads: 1,
    })
    .err()
    .expect("refused");
    assert!(err.to_string().contains("tls"), "{err}");
}
