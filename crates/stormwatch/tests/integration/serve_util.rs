//! `stormwatch serve` as a process: start it on a free loopback port, talk HTTP to it with a
//! small client, receive its webhooks, and feed it a generated scenario.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A free loopback port (bound and released).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Read one HTTP/1.1 message head and its body (Content-Length or chunked).
fn read_message(
    r: &mut BufReader<TcpStream>,
) -> std::io::Result<(String, BTreeMap<String, String>, Vec<u8>)> {
    let mut first = String::new();
    if r.read_line(&mut first)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed",
        ));
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let mut body = Vec::new();
    if let Some(n) = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0u8; n + 2];
            r.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok((first, headers, body))
}

/// Make one request on a new connection.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Answer> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut w = s.try_clone()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    let mut r = BufReader::new(s);
    let (first, _, body) = read_message(&mut r)?;
    let status = first
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok(Answer { status, body })
}

/// A running `stormwatch serve`.
pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
    pub(crate) token: String,
    out: PathBuf,
    config: PathBuf,
}

impl Serve {
    /// Start with the configuration text `toml` in `dir` (data in `dir/data`), wait until
    /// `/healthz` answers 200.
    pub(crate) fn start(dir: &Path, toml: &str) -> Serve {
        let config = dir.join("stormwatch.toml");
        std::fs::write(&config, toml).expect("config");
        Serve::start_with(dir, &config)
    }

    fn start_with(dir: &Path, config: &Path) -> Serve {
        let port = free_port();
        let out = dir.join(format!("stdout-{port}.txt"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_stormwatch"))
            .args(["serve", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                std::fs::File::create(&out).expect("stdout file"),
            ))
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("serve.log"))
                    .expect("log"),
            ))
            .spawn()
            .expect("start stormwatch serve");
        let started = Instant::now();
        loop {
            if let Ok(a) = request(port, "GET", "/healthz", None, &[], b"")
                && a.status == 200
            {
                break;
            }
            if let Ok(Some(st)) = child.try_wait() {
                panic!(
                    "serve exited with {st}: {}",
                    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "serve did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let token = std::fs::read_to_string(dir.join("data/admin.token"))
            .expect("admin token")
            .trim()
            .to_owned();
        Serve {
            child,
            port,
            dir: dir.to_owned(),
            token,
            out,
            config: config.to_owned(),
        }
    }

    /// kill -9, then start again on the same folder.
    pub(crate) fn crash_and_restart(mut self) -> Serve {
        let _ = self.child.kill();
        let _ = self.child.wait();
        Serve::start_with(&self.dir.clone(), &self.config.clone())
    }

    /// SIGTERM and wait; returns the exit status code.
    pub(crate) fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn call(&self, method: &str, path: &str, body: &[u8]) -> Answer {
        request(self.port, method, path, Some(&self.token), &[], body).expect("request")
    }

    /// Send a body; the answer (any status).
    pub(crate) fn ingest(&self, body: &[u8], headers: &[(&str, &str)]) -> std::io::Result<Answer> {
        request(
            self.port,
            "POST",
            "/api/v1/ingest",
            Some(&self.token),
            headers,
            body,
        )
    }

    pub(crate) fn flush(&self) {
        let a = self.call("POST", "/api/v1/admin/flush", b"");
        assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    }

    /// Every alert (withdrawn ones too when asked), following the cursor.
    pub(crate) fn alerts(&self, include_withdrawn: bool) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut path =
                format!("/api/v1/alerts?limit=1000&include_withdrawn={include_withdrawn}");
            if !cursor.is_empty() {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let v = self.call("GET", &path, b"").json();
            out.extend(v["alerts"].as_array().expect("alerts").iter().cloned());
            match v["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => return out,
            }
        }
    }

    /// A metric's value (the first line starting with `name`).
    pub(crate) fn metric(&self, name: &str) -> Option<f64> {
        let text = String::from_utf8(self.call("GET", "/metrics", b"").body).unwrap_or_default();
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit_once(' '))
            .and_then(|(_, v)| v.parse().ok())
    }

    /// What it printed on standard output.
    pub(crate) fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an alert is about, whatever its location names: its rule and its records' ids.
pub(crate) fn alert_key(a: &Value) -> (String, Vec<String>) {
    let mut ids: Vec<String> = a["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|l| l["record_id"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    (a["rule_id"].as_str().unwrap_or("").to_owned(), ids)
}

/// A small deterministic generator.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = usize::try_from(self.below(i as u64 + 1)).unwrap_or(0);
            v.swap(i, j);
        }
    }
}

/// A generated multi-tenant scenario: its files (for `hunt`) and its records one by one
/// with their times.
pub(crate) struct Scenario {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) records: Vec<(i64, String)>,
}

pub(crate) fn scenario(dir: &Path, seed: u64, staff: usize, days: u32) -> Scenario {
    let s = stormwatch_gen::Scenario::generate(&stormwatch_gen::ScenarioOptions {
        seed,
        staff_per_tenant: staff,
        days,
    });
    let formats =
        stormwatch_gen::Format::parse_list("ndjson,signins-azure-monitor").expect("formats");
    let files = s
        .write(
            dir,
            &formats,
            stormwatch_gen::Compression::parse("none").expect("none"),
        )
        .expect("write scenario");
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "truth"))
        .collect();
    let mut records = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read scenario");
        if text.trim_start().starts_with("{\"records\"") {
            let v: Value = serde_json::from_str(&text).expect("azure monitor file");
            for r in v["records"].as_array().expect("records") {
                let t = stormwatch_core::Timestamp::parse(r["time"].as_str().expect("time"))
                    .expect("time");
                records.push((t.nanos(), r.to_string()));
            }
        } else {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: Value = serde_json::from_str(line).expect("ndjson record");
                let t =
                    stormwatch_core::Timestamp::parse(v["CreationTime"].as_str().expect("time"))
                        .expect("time");
                records.push((t.nanos(), line.to_owned()));
            }
        }
    }
    Scenario { files, records }
}

const HOUR: i64 = 3_600_000_000_000;

/// The records in the order a service would get them: time order, but a share of them hours
/// late (at most `max_late_hours`), and each batch shuffled.
pub(crate) fn arrival_batches(
    records: &[(i64, String)],
    batch: usize,
    max_late_hours: i64,
    rng: &mut Rng,
) -> Vec<Vec<String>> {
    let mut arriving: Vec<(i64, &String)> = records
        .iter()
        .map(|(t, r)| {
            let late = if rng.below(100) < 15 {
                HOUR + i64::try_from(
                    rng.below(u64::try_from((max_late_hours - 1) * HOUR).unwrap_or(1)),
                )
                .unwrap_or(0)
            } else {
                0
            };
            (t + late, r)
        })
        .collect();
    arriving.sort_by_key(|(t, _)| *t);
    arriving
        .chunks(batch)
        .map(|c| {
            let mut b: Vec<String> = c.iter().map(|(_, r)| (*r).clone()).collect();
            rng.shuffle(&mut b);
            b
        })
        .collect()
}

/// A body for a batch, in one of the envelopes (by `n`): NDJSON, a JSON array, Graph's
/// `{"value":[…]}`, Azure Monitor's `{"records":[…]}`, gzip NDJSON. Returns the body and its
/// headers.
pub(crate) fn body(batch: &[String], n: usize) -> (Vec<u8>, Vec<(&'static str, &'static str)>) {
    let joined = || batch.join(",");
    match n % 5 {
        0 => (
            batch
                .iter()
                .map(|r| format!("{r}\n"))
                .collect::<String>()
                .into_bytes(),
            vec![],
        ),
        1 => (format!("[{}]", joined()).into_bytes(), vec![]),
        2 => (format!("{{\"value\":[{}]}}", joined()).into_bytes(), vec![]),
        3 => (
            format!("{{\"records\":[{}]}}", joined()).into_bytes(),
            vec![],
        ),
        _ => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            for r in batch {
                e.write_all(r.as_bytes()).expect("gzip");
                e.write_all(b"\n").expect("gzip");
            }
            (
                e.finish().expect("gzip"),
                vec![("Content-Encoding", "gzip")],
            )
        }
    }
}

/// One delivery a webhook receiver took.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) body: Vec<u8>,
    pub(crate) headers: BTreeMap<String, String>,
}

/// How a webhook receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Accept,
    /// 500 for this many more requests.
    Fail(u32),
    /// No answer for this long, for this many more requests.
    Stall(Duration, u32),
    /// 400 (refuses the message itself).
    Reject,
}

/// A local webhook receiver.
pub(crate) struct Receiver {
    pub(crate) port: u16,
    pub(crate) mode: Arc<Mutex<Mode>>,
    pub(crate) got: Arc<Mutex<Vec<Delivery>>>,
    pub(crate) attempts: Arc<Mutex<u64>>,
}

pub(crate) fn receiver(mode: Mode) -> Receiver {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let mode = Arc::new(Mutex::new(mode));
    let got = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(Mutex::new(0));
    let (m, g, a) = (Arc::clone(&mode), Arc::clone(&got), Arc::clone(&attempts));
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { return };
            let (m, g, a) = (Arc::clone(&m), Arc::clone(&g), Arc::clone(&a));
            std::thread::spawn(move || {
                let mut w = conn.try_clone().expect("clone");
                let mut r = BufReader::new(conn);
                while let Ok((_, headers, body)) = read_message(&mut r) {
                    *a.lock().expect("lock") += 1;
                    let now = {
                        let mut mode = m.lock().expect("lock");
                        let now = *mode;
                        *mode = match now {
                            Mode::Fail(1) | Mode::Stall(_, 1) => Mode::Accept,
                            Mode::Fail(n) => Mode::Fail(n - 1),
                            Mode::Stall(d, n) => Mode::Stall(d, n - 1),
                            other => other,
                        };
                        now
                    };
                    let status = match now {
                        Mode::Accept => "200 OK",
                        Mode::Fail(_) => "500 Internal Server Error",
                        Mode::Reject => "400 Bad Request",
                        Mode::Stall(d, _) => {
                            std::thread::sleep(d);
                            return;
                        }
                    };
                    if now == Mode::Accept {
                        g.lock().expect("lock").push(Delivery { body, headers });
                    }
                    let resp = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                    if w.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Receiver {
        port,
        mode,
        got,
        attempts,
    }
}

/// Check a delivery's signature: HMAC-SHA256 of `timestamp.body` under `secret`.
pub(crate) fn signed(d: &Delivery, secret: &str) -> bool {
    let (Some(ts), Some(sig)) = (
        d.headers.get("x-stormwatch-timestamp"),
        d.headers.get("x-stormwatch-signature"),
    ) else {
        return false;
    };
    let Some(hex) = sig.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(tag) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = ts.as_bytes().to_vec();
    msg.push(b'.');
    msg.extend_from_slice(&d.body);
    ring::hmac::verify(&key, &msg, &tag).is_ok()
}

/// Wait until `f` holds (at most `secs`).
pub(crate) fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
