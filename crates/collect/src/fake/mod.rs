//! A fake of the Entra token endpoint, the Office 365 Management Activity API and the Microsoft
//! Graph audit endpoints, on a loopback port, for tests. It follows the documented contracts
//! (paths, query parameters, `PublisherIdentifier`, `NextPageUri`, `@odata.nextLink`, error
//! bodies, the 24-hour and 7-day limits of content listings, token audiences and expiry, client
//! assertions verified against the certificate), injects failures ([`Inject`]), records every
//! record it served, and notes every request that breaks a contract ([`FakeApi::violations`]).

mod activity;
mod data;
mod graph;
mod purview;
mod routes;
mod token;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

pub use data::{
    Blob, CONTENT_TYPES, FakeTenant, Inject, Rng, Scenario, audit_log_record, directory_audit,
    sign_in, ual_record,
};

/// Which API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    Manage,
    Graph,
}

#[derive(Debug)]
struct Token {
    tenant: String,
    audience: Audience,
    expires: Instant,
    uses: usize,
}

#[derive(Debug)]
struct Query {
    tenant: String,
    from: stormwatch_core::Timestamp,
    to: stormwatch_core::Timestamp,
    record_types: Vec<String>,
    polls: u32,
}

/// The fake's mutable state.
#[derive(Debug)]
struct State {
    base: String,
    scenario: Scenario,
    tokens: HashMap<String, Token>,
    issued: usize,
    subscriptions: HashMap<String, Vec<String>>,
    throttle_left: usize,
    af429_left: usize,
    blob_500_left: HashMap<String, usize>,
    blobs_served: usize,
    served: BTreeMap<(String, String), Vec<Value>>,
    violations: Vec<String>,
    queries: HashMap<String, Query>,
    requests: Vec<String>,
    rng: Rng,
}

type Shared = Arc<Mutex<State>>;

/// A running fake.
pub struct FakeApi {
    addr: SocketAddr,
    state: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApi").field("addr", &self.addr).finish()
    }
}

impl FakeApi {
    /// Serve `scenario` on `127.0.0.1` (a free port), on a thread of its own.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub fn start(scenario: Scenario) -> std::io::Result<FakeApi> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let subscriptions = scenario
            .tenants
            .iter()
            .map(|t| (t.id.clone(), t.enabled.clone()))
            .collect();
        let state = Arc::new(Mutex::new(State {
            base: format!("http://{addr}"),
            throttle_left: scenario.inject.throttle,
            af429_left: scenario.inject.af429,
            blob_500_left: scenario.inject.blob_500.clone(),
            scenario,
            tokens: HashMap::new(),
            issued: 0,
            subscriptions,
            blobs_served: 0,
            served: BTreeMap::new(),
            violations: Vec::new(),
            queries: HashMap::new(),
            requests: Vec::new(),
            rng: Rng::new(0x5eed),
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = routes::app(Arc::clone(&state));
        let thread = std::thread::Builder::new()
            .name("fake-microsoft-apis".to_owned())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    // Not a graceful shutdown: requests made to hang are dropped with the runtime.
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(FakeApi {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`: the login, manage and Graph base URL at once.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn with<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        match self.state.lock() {
            Ok(s) => f(&s),
            Err(p) => f(&p.into_inner()),
        }
    }

    /// Every record served with a 200, per tenant and source name (`Audit.Exchange`,
    /// `signIns`, `nonInteractiveSignIns`, `directoryAudits`, `auditLogQuery`).
    #[must_use]
    pub fn served(&self) -> BTreeMap<(String, String), Vec<Value>> {
        self.with(|s| s.served.clone())
    }

    /// Requests that broke a documented contract.
    #[must_use]
    pub fn violations(&self) -> Vec<String> {
        self.with(|s| s.violations.clone())
    }

    /// Tokens issued.
    #[must_use]
    pub fn tokens_issued(&self) -> usize {
        self.with(|s| s.issued)
    }

    /// Content blobs served.
    #[must_use]
    pub fn blobs_served(&self) -> usize {
        self.with(|s| s.blobs_served)
    }

    /// Every request, as `METHOD path?query`.
    #[must_use]
    pub fn requests(&self) -> Vec<String> {
        self.with(|s| s.requests.clone())
    }

    /// Change the failures to inject from now on.
    pub fn inject(&self, change: impl FnOnce(&mut Inject)) {
        let mut s = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        change(&mut s.scenario.inject);
    }

    /// Subscriptions enabled per tenant.
    #[must_use]
    pub fn subscriptions(&self, tenant: &str) -> Vec<String> {
        self.with(|s| s.subscriptions.get(tenant).cloned().unwrap_or_default())
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
