//! enventa-sim: plays the enventa .NET container for tests, demos and
//! benchmarks.
//!
//! - `store.rs`: synthetic articles and customers generated from their index
//!   (1 000 000 articles cost no memory) plus written records and orders.
//! - `server.rs`: the protocol (`proto/enventa.proto`) with enventa's rules
//!   enforced: one operation at a time per session, Login never concurrent,
//!   IN-lists and id lists of at most 1000. Each violation is counted and
//!   the request fails, so tests can assert "0 violations".
//! - `conformance.rs`: the conformance kit (`enventa-conformance ADDR`).
//! - this file: start-up, counters, fault injection, and the admin HTTP
//!   endpoint (`GET /stats`, `GET/PUT /faults`).

pub mod conformance;
mod server;
mod store;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters, reported at `GET /stats`.
#[derive(Default, Debug)]
pub struct Stats {
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    pub logins: AtomicU64,
    pub upserts: AtomicU64,
    pub orders: AtomicU64,
    pub protocol_errors: AtomicU64,
    /// An operation arrived while another ran on the same session.
    pub violation_overlap: AtomicU64,
    /// A Login started while another Login ran.
    pub violation_concurrent_login: AtomicU64,
    /// More ids in one IN-list, id list or Upsert than announced in
    /// `HelloOk.max_ids_per_request`.
    pub violation_in_list: AtomicU64,
    /// A frame larger than the announced `max_frame_bytes`.
    pub violation_frame_size: AtomicU64,
    /// A `page_size` above the announced `max_page_size` (or 0).
    pub violation_page_size: AtomicU64,
    pub logouts: AtomicU64,
    pub order_lookups: AtomicU64,
    /// StreamQuery streams opened and pages sent on them (§3.10).
    pub streams: AtomicU64,
    pub stream_pages: AtomicU64,
    pub faults_errors: AtomicU64,
    pub faults_dropped: AtomicU64,
    pub faults_hung: AtomicU64,
}

impl Stats {
    pub fn json(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let v = [
            g(&self.violation_overlap),
            g(&self.violation_concurrent_login),
            g(&self.violation_in_list),
            g(&self.violation_frame_size),
            g(&self.violation_page_size),
        ];
        serde_json::json!({
            "connections": g(&self.connections),
            "requests": g(&self.requests),
            "logins": g(&self.logins),
            "upserts": g(&self.upserts),
            "orders": g(&self.orders),
            "logouts": g(&self.logouts),
            "orderLookups": g(&self.order_lookups),
            "streams": g(&self.streams),
            "streamPages": g(&self.stream_pages),
            "protocolErrors": g(&self.protocol_errors),
            "violations": {
                "total": v.iter().sum::<u64>(),
                "overlappingOperations": v[0],
                "concurrentLogins": v[1],
                "idsOverLimit": v[2],
                "frameOverLimit": v[3],
                "pageSizeOverLimit": v[4],
            },
            "faults": { "errors": g(&self.faults_errors), "dropped": g(&self.faults_dropped), "hung": g(&self.faults_hung) },
        })
    }
}

/// Fault injection; changeable at run time with `PUT /faults`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Faults {
    /// Added to every request.
    pub latency_ms: u64,
    /// Fraction (0..1) of ERP operations (not Hello/Login/Logout/Ping)
    /// answered UNAVAILABLE.
    pub error_rate: f64,
    /// Fraction (0..1) of requests whose connection is dropped unanswered
    /// (before the request is executed).
    pub drop_rate: f64,
    /// The next N CreateOrder/Upsert requests are committed, then their
    /// connection is dropped before the answer is sent: the lost-answer
    /// case that exactly-once orders must survive.
    pub commit_then_drop: u32,
    /// After each commit-then-drop, the next N ERP operations (any
    /// connection) are answered UNAVAILABLE, so a client's in-call recovery
    /// fails too.
    pub unavailable_after_drop: u32,
    /// The Nth Upsert from now (1-based) drops its connection before it
    /// commits anything; 0 = off. Makes "batch 2 of 3 fails" reproducible.
    pub drop_upsert_number: u32,
    /// Requests never answer.
    pub hang: bool,
    /// Extra time Login takes (widens the concurrent-login window).
    pub login_delay_ms: u64,
    /// Deliberate protocol bug, to prove the conformance kit catches it:
    /// answers carry the wrong request id.
    pub wrong_request_id: bool,
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    pub articles: u64,
    pub customers: u64,
    pub faults: Faults,
    pub protocol: ProtocolConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_listen: None,
            articles: 1000,
            customers: 100,
            faults: Faults::default(),
            protocol: ProtocolConfig::default(),
        }
    }
}

/// What the simulated container announces and speaks; fixed for its life,
/// so tests can play a small or an old (1.0) container.
#[derive(Clone, Debug)]
pub struct ProtocolConfig {
    /// Highest minor version of protocol 1 spoken: 1 (1.1) or 0 (1.0).
    pub minor_version: u32,
    pub max_ids_per_request: u32,
    pub max_page_size: u32,
    pub max_frame_bytes: u32,
    /// When set, Login must carry this password, else AUTH_FAILED (1.1) or
    /// INVALID_REQUEST (1.0).
    pub password: Option<String>,
    /// A deliberate deviation from the spec (tests of the conformance kit).
    pub broken: Option<Broken>,
}

/// A deliberate deviation from one rule of the spec, so a test can prove
/// that the conformance kit's check for that rule, and only that one,
/// catches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Broken {
    /// Answers minor 1 to a 1.0 Hello (§2.1).
    IgnoresMinorVersion,
    /// Serves requests before Hello (§2.1).
    NoHelloFirst,
    /// Accepts a second Login on a connection (§2.2).
    LoginTwice,
    /// Keeps serving ERP operations after Logout (§2.6).
    IgnoresLogout,
    /// Answers unknown ids with NOT_FOUND instead of listing them (§3.5).
    MissingAsError,
    /// Accepts more ids than it announced (§3.5).
    NoIdLimit,
    /// Accepts `page_size` 0 (§3.3).
    PageSizeZero,
    /// Continuation tokens are plain ids, not bound to their query (§3.3).
    UnboundTokens,
    /// `like` is case-sensitive (§3.2).
    CaseSensitiveLike,
    /// `\` is no escape in `like` patterns (§3.2).
    NoLikeEscape,
    /// Upsert replaces a record instead of merging fields (§3.4).
    UpsertReplaces,
    /// GetOrderByExternalRef never finds an order (§3.6).
    LosesOrders,
    /// Sends stream pages without waiting for credit (§3.10).
    StreamIgnoresCredit,
    /// Keeps streaming after CancelStream, never answers StreamEnd (§3.10).
    StreamIgnoresCancel,
    /// A StreamQuery starts from the first record whatever its continuation
    /// (§3.10: a page's token is valid for Query and StreamQuery alike).
    StreamIgnoresContinuation,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self {
            minor_version: enventa_proto::PROTOCOL_MINOR,
            max_ids_per_request: enventa_proto::MAX_IDS as u32,
            max_page_size: 5000,
            max_frame_bytes: enventa_proto::DEFAULT_MAX_FRAME as u32,
            password: None,
            broken: None,
        }
    }
}

/// A running simulator.
pub struct Sim {
    pub addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    shared: Arc<server::Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Sim {
    pub async fn start(config: SimConfig) -> std::io::Result<Sim> {
        let shared = Arc::new(server::Shared {
            store: Mutex::new(store::Store::new(config.articles, config.customers)),
            stats: Stats::default(),
            faults: Mutex::new(config.faults.clone()),
            protocol: config.protocol.clone(),
            unavailable_left: AtomicU32::new(0),
            login_running: AtomicBool::new(false),
            rng: Mutex::new(0x5eed),
        });
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let mut tasks = Vec::new();
        let s = shared.clone();
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let conns = connections.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let task = tokio::spawn(server::serve_connection(s.clone(), stream));
                let mut c = conns.lock().unwrap();
                c.retain(|h| !h.is_finished());
                c.push(task.abort_handle());
            }
        }));
        let mut admin_addr = None;
        if let Some(a) = config.admin_listen {
            let l = tokio::net::TcpListener::bind(a).await?;
            admin_addr = Some(l.local_addr()?);
            let app = axum::Router::new()
                .route("/stats", get(stats))
                .route("/faults", get(get_faults).put(put_faults))
                .with_state(shared.clone());
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(l, app).await;
            }));
        }
        Ok(Sim { addr, admin_addr, shared, tasks, connections })
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Whether a Login is running right now (§2.2): what a test waits for
    /// before it sends a Login that must be answered BUSY.
    pub fn login_running(&self) -> bool {
        self.shared.login_running.load(Ordering::SeqCst)
    }

    /// Replaces the faults; also ends a running `unavailable_after_drop`.
    pub fn set_faults(&self, f: Faults) {
        set_faults(&self.shared, f);
    }

    /// Stops the simulator as a crashed container would: no new
    /// connections, and every open one is dropped.
    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn stats(State(s): State<Arc<server::Shared>>) -> Json<serde_json::Value> {
    Json(s.stats.json())
}

async fn get_faults(State(s): State<Arc<server::Shared>>) -> Json<Faults> {
    Json(s.faults.lock().unwrap().clone())
}

async fn put_faults(State(s): State<Arc<server::Shared>>, Json(f): Json<Faults>) -> Json<Faults> {
    set_faults(&s, f.clone());
    Json(f)
}

fn set_faults(s: &server::Shared, f: Faults) {
    let mut faults = s.faults.lock().unwrap();
    *faults = f;
    s.unavailable_left.store(0, Ordering::SeqCst);
}
