//! The dashboard in a real browser: Debian's `chromium`, headless, driven over the DevTools
//! protocol (a WebSocket and a few JSON messages). A generated scenario is pushed, a user logs
//! in, the planted intrusion is the top incident, its page names its mailboxes and IPs, it is
//! acknowledged and its impact opened; a log value holding `<script>` and an `<img onerror>`
//! shows as text and runs nothing; the console has no errors. The screenshots of the incident
//! and impact pages in `docs/` are made here.
//!
//! Runs when `chromium` is on PATH; without it the test says why it is skipped, and fails when
//! the `CI` environment variable is set (CI must have the browser).

use std::io::{BufRead as _, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

use crate::dashboard::{PASSWORD, XSS_IMG, XSS_SCRIPT, add_user, hostile_records};
use crate::util::Server;

fn chromium() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p.to_string_lossy().into_owned());
            }
        }
    }
    None
}

/// A headless browser and one page of it, over the DevTools protocol.
struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next: u64,
    /// Console errors, uncaught exceptions and error log entries seen.
    errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch(binary: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium printed its DevTools address");
        let hostport = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let stream = TcpStream::connect(&hostport).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let (ws, _) = tungstenite::client::client(url.as_str(), stream).unwrap();
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next: 0,
            errors: Vec::new(),
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({ "url": "about:blank" }));
        let id = target["targetId"].as_str().unwrap().to_owned();
        let att = b.call(
            "Target.attachToTarget",
            json!({ "targetId": id, "flatten": true }),
        );
        b.session = att["sessionId"].as_str().unwrap().to_owned();
        for m in ["Page.enable", "Runtime.enable", "Log.enable"] {
            b.call(m, json!({}));
        }
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": false }),
        );
        b
    }

    /// Send a command (to the page once attached) and wait for its answer; events seen on
    /// the way are checked for errors.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() && !method.starts_with("Target.") {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.ws.read().expect("a DevTools message");
            let Ok(text) = m.into_text() else { continue };
            let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.note_event(&v);
        }
    }

    fn note_event(&mut self, v: &Value) {
        match v["method"].as_str() {
            Some("Runtime.exceptionThrown") => self
                .errors
                .push(format!("exception: {}", v["params"]["exceptionDetails"])),
            Some("Runtime.consoleAPICalled") if v["params"]["type"] == "error" => self
                .errors
                .push(format!("console.error: {}", v["params"]["args"])),
            Some("Log.entryAdded") if v["params"]["entry"]["level"] == "error" => self
                .errors
                .push(format!("log: {}", v["params"]["entry"]["text"])),
            _ => {}
        }
    }

    /// Evaluate JavaScript in the page; its value (`null` when the page is between documents).
    fn eval(&mut self, expr: &str) -> Value {
        self.next += 1;
        let id = self.next;
        let msg = json!({
            "id": id, "method": "Runtime.evaluate", "sessionId": self.session,
            "params": { "expression": expr, "returnByValue": true, "awaitPromise": true },
        });
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.ws.read().expect("a DevTools message");
            let Ok(text) = m.into_text() else { continue };
            let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
            if v["id"] == json!(id) {
                return v["result"]["result"]["value"].clone();
            }
            self.note_event(&v);
        }
    }

    /// Wait until `expr` is true (at most 30 s).
    fn wait(&mut self, what: &str, expr: &str) {
        let start = Instant::now();
        loop {
            if self.eval(expr) == json!(true) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}; page: {}",
                self.eval("document.location.href + ' ' + document.body.innerText.slice(0, 500)")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Do `action` (which navigates) and wait for the next page to be loaded.
    fn navigate_by(&mut self, action: &str) {
        self.eval("window.__before = true");
        self.eval(action);
        self.wait(
            "the next page",
            "window.__before === undefined && document.readyState === 'complete'",
        );
    }

    fn goto(&mut self, url: &str) {
        self.navigate_by(&format!("window.location.href = {}", json!(url)));
    }

    fn screenshot(&mut self, path: &PathBuf) {
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A service with one Sigma rule (inbox rules, high) and the analytics.
fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut config = stormwatch_serve::Config::default_for(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    let rules = vec![(
        "inbox_rule.yml".to_owned(),
        crate::util::RULES[1].1.to_owned(),
    )];
    let (engine, errors) =
        stormwatch_sigma::Engine::from_sources(&rules, &Default::default()).unwrap();
    assert!(errors.is_empty());
    let settings = config.detector_config();
    let factory: stormwatch_serve::DetectorFactory = Arc::new(move || {
        let analytics = stormwatch_analytics::Analytics::new(
            stormwatch_analytics::AnalyticsConfig::default(),
            stormwatch_analytics::IocSet::builtin_storm_0558(),
            stormwatch_analytics::AppCatalog::builtin(),
            None,
            Vec::new(),
        );
        stormwatch_detect::Detector::new(engine.clone(), Some(analytics), settings.clone())
    });
    let handle = stormwatch_serve::start(stormwatch_serve::Options {
        factory,
        config,
        fingerprint: "browser test".into(),
        threads: 1,
    })
    .unwrap();
    let token = handle.admin_token().unwrap().to_owned();
    Server {
        handle: Some(handle),
        dir,
        token,
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    }
}

#[test]
fn the_dashboard_in_chromium_shows_the_intrusion_triages_it_and_keeps_log_values_text() {
    let Some(binary) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not on PATH: install it (apt-get install -y chromium)"
        );
        eprintln!(
            "SKIPPED dashboard browser test: chromium is not on PATH (apt-get install -y chromium)"
        );
        return;
    };
    let s = server();
    add_user(&s, "ann", "analyst");
    // A generated multi-tenant scenario with its planted intrusion, pushed file by file.
    let gen_dir = tempfile::tempdir().unwrap();
    let scenario = stormwatch_gen::Scenario::generate(&stormwatch_gen::ScenarioOptions {
        seed: 14,
        staff_per_tenant: 3,
        days: 3,
    });
    let files = scenario
        .write(
            gen_dir.path(),
            &stormwatch_gen::Format::parse_list("ndjson,signins-azure-monitor").unwrap(),
            stormwatch_gen::Compression::parse("none").unwrap(),
        )
        .unwrap();
    for f in files
        .iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "truth"))
    {
        s.ingest(std::fs::read(f).unwrap());
    }
    s.ingest(hostile_records());
    s.flush();
    let actor_ips = scenario.truth().actor.ips.clone();
    assert!(!actor_ips.is_empty());

    let base = format!("http://{}", s.handle.as_ref().unwrap().addr());
    let mut b = Browser::launch(&binary);
    b.goto(&format!("{base}/login"));
    b.eval(&format!(
        "document.getElementById('user').value = 'ann'; document.getElementById('password').value = {}; true",
        json!(PASSWORD)
    ));
    b.navigate_by("document.getElementById('login').click()");
    assert_eq!(b.eval("location.pathname"), json!("/incidents"));
    // The planted intrusion is the top incident.
    let top = b.eval("document.querySelector('#incidents tbody tr').innerText");
    let top = top.as_str().unwrap_or_default().to_owned();
    assert!(
        actor_ips.iter().any(|ip| top.contains(ip.as_str())),
        "top incident {top:?} does not name the actor's IPs {actor_ips:?}"
    );
    assert!(top.contains("critical") || top.contains("high"), "{top}");
    b.navigate_by("document.querySelector('#incidents tbody tr a.incident-link').click()");
    assert!(
        b.eval("location.pathname")
            .as_str()
            .unwrap()
            .starts_with("/incidents/")
    );
    let ips = b.eval("document.getElementById('ips').innerText");
    assert!(
        actor_ips
            .iter()
            .any(|ip| ips.as_str().unwrap_or("").contains(ip.as_str())),
        "{ips}"
    );
    let mailboxes = b.eval("document.querySelectorAll('#mailboxes li a').length");
    assert!(mailboxes.as_u64().unwrap_or(0) > 0, "no mailbox named");
    assert_eq!(
        b.eval("document.querySelectorAll('#timeline circle').length > 0"),
        json!(true)
    );
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    b.screenshot(&docs.join("dashboard-incident.png"));
    // Acknowledge it.
    b.navigate_by("document.getElementById('acknowledge').click()");
    assert_eq!(
        b.eval("document.getElementById('status').innerText"),
        json!("acknowledged")
    );
    // Its impact.
    b.navigate_by("document.getElementById('impact-link').click()");
    let summary = b.eval("document.getElementById('impact-summary').innerText");
    assert!(
        summary.as_str().unwrap_or("").contains("distinct messages"),
        "{summary}"
    );
    assert_eq!(
        b.eval("document.querySelectorAll('#impact-tree details.org').length > 0"),
        json!(true)
    );
    b.screenshot(&docs.join("dashboard-impact.png"));
    // The incident with hostile log values: shown as text, nothing runs.
    b.goto(&format!("{base}/incidents?mailbox=envoy%40agency.example"));
    b.navigate_by("document.querySelector('#incidents tbody tr a.incident-link').click()");
    let text = b.eval("document.body.innerText");
    let text = text.as_str().unwrap_or_default();
    assert!(
        text.contains(XSS_SCRIPT),
        "the <script> value is not shown as text"
    );
    assert!(
        text.contains(XSS_IMG),
        "the <img> value is not shown as text"
    );
    assert_eq!(b.eval("window.xssFired === undefined"), json!(true));
    assert_eq!(b.eval("document.querySelectorAll('img').length"), json!(0));
    assert_eq!(
        b.eval("document.querySelectorAll('script').length"),
        json!(1)
    );
    // The live list refreshes without errors.
    b.goto(&format!("{base}/incidents"));
    b.eval("new Promise(r => setTimeout(r, 11000))");
    assert_eq!(
        b.eval("document.querySelectorAll('#incidents tbody tr').length > 0"),
        json!(true)
    );
    assert!(b.errors.is_empty(), "console errors: {:#?}", b.errors);
}
