//! A service started in-process on a temporary folder, and requests made to its routes
//! without a socket (or over loopback when a test needs one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use stormwatch_serve::{Config, Handle, Options};
use tower::ServiceExt as _;

/// Two small rules: every `MailItemsAccessed` (low) and `New-InboxRule` (high).
pub(crate) const RULES: &[(&str, &str)] = &[
    (
        "mail_read.yml",
        "title: Mail read\nid: 5a6f0000-0000-4000-8000-000000000001\nlogsource: {product: m365}\ndetection:\n    sel:\n        Operation: MailItemsAccessed\n    condition: sel\nlevel: low\n",
    ),
    (
        "inbox_rule.yml",
        "title: Inbox rule made\nid: 5a6f0000-0000-4000-8000-000000000002\nlogsource: {product: m365}\ndetection:\n    sel:\n        Operation: New-InboxRule\n    condition: sel\nlevel: high\n",
    ),
];

/// A UAL record: `MailItemsAccessed` unless `op` says otherwise.
pub(crate) fn ual(id: &str, minute: u32, op: &str) -> String {
    format!(
        r#"{{"CreationTime":"2023-06-12T03:{:02}:07","Id":"{id}","Operation":"{op}","RecordType":50,"UserId":"envoy@agency.example","MailboxOwnerUPN":"envoy@agency.example","OrganizationId":"t1","Workload":"Exchange","ClientIPAddress":"203.0.113.9"}}"#,
        minute % 60
    )
}

pub(crate) struct Server {
    pub(crate) handle: Option<Handle>,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) token: String,
    pub(crate) rt: tokio::runtime::Runtime,
}

pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

fn factory(rules: &[(&str, &str)], config: &Config) -> stormwatch_serve::DetectorFactory {
    let sources: Vec<(String, String)> = rules
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    let (engine, errors) = stormwatch_sigma::Engine::from_sources(
        &sources,
        &stormwatch_sigma::EngineOptions::default(),
    )
    .expect("rules");
    assert!(errors.is_empty(), "{errors:?}");
    let settings = config.detector_config();
    Arc::new(move || {
        let analytics = stormwatch_analytics::Analytics::new(
            stormwatch_analytics::AnalyticsConfig::default(),
            stormwatch_analytics::IocSet::builtin_storm_0558(),
            stormwatch_analytics::AppCatalog::builtin(),
            None,
            Vec::new(),
        );
        stormwatch_detect::Detector::new(engine.clone(), Some(analytics), settings.clone())
    })
}

impl Server {
    /// Start with the configuration `toml` (its `data_dir` and `listen` are replaced).
    pub(crate) fn start(toml: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        Server::start_in(dir, toml)
    }

    pub(crate) fn start_in(dir: tempfile::TempDir, toml: &str) -> Server {
        let mut config = Config::from_toml(toml).expect("config");
        config.data_dir = dir.path().join("data");
        config.listen = "127.0.0.1:0".parse().expect("addr");
        let handle = stormwatch_serve::start(Options {
            factory: factory(RULES, &config),
            config: config.clone(),
            fingerprint: stormwatch_serve::fingerprint(&["test rules"]),
            threads: 1,
        })
        .expect("start");
        let token = match handle.admin_token() {
            Some(t) => t.to_owned(),
            None => std::fs::read_to_string(config.data_dir.join("admin.token"))
                .expect("admin token")
                .trim()
                .to_owned(),
        };
        Server {
            handle: Some(handle),
            dir,
            token,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    /// Stop (as on SIGTERM) and start again on the same folder.
    pub(crate) fn restart(mut self, toml: &str) -> Server {
        self.stop();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp"));
        Server::start_in(dir, toml)
    }

    pub(crate) fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop().expect("clean stop");
        }
    }

    /// A request to the routes, without a socket.
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Resp {
        let router = self.handle.as_ref().expect("running").router();
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(body.into())).expect("request");
        self.rt.block_on(async move {
            let resp = router.oneshot(req).await.expect("infallible");
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body")
                .to_vec();
            Resp {
                status,
                headers,
                body,
            }
        })
    }

    pub(crate) fn get(&self, path: &str) -> Resp {
        self.call("GET", path, Some(&self.token.clone()), &[], Vec::new())
    }

    pub(crate) fn post(&self, path: &str, body: impl Into<Vec<u8>>) -> Resp {
        self.call("POST", path, Some(&self.token.clone()), &[], body)
    }

    /// Send records; assert 200.
    pub(crate) fn ingest(&self, body: impl Into<Vec<u8>>) -> Value {
        let r = self.post("/api/v1/ingest", body);
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    pub(crate) fn flush(&self) -> Value {
        let r = self.post("/api/v1/admin/flush", Vec::new());
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    /// Every live alert, following the cursor.
    pub(crate) fn alerts(&self, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/alerts?limit=7{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let r = self.get(&path);
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{}",
                String::from_utf8_lossy(&r.body)
            );
            let v = r.json();
            out.extend(v["alerts"].as_array().expect("alerts").iter().cloned());
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }

    /// Wait until `f` holds (at most 20 s).
    pub(crate) fn wait_for(&self, what: &str, mut f: impl FnMut(&Server) -> bool) {
        let start = Instant::now();
        while !f(self) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.stop();
        }
    }
}
