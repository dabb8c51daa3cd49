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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// More than 1000 ids in one IN-list or id list.
    pub violation_in_list: AtomicU64,
    pub faults_errors: AtomicU64,
    pub faults_dropped: AtomicU64,
    pub faults_hung: AtomicU64,
}

impl Stats {
    pub fn json(&self) -> serde_json::Value {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let v = [g(&self.violation_overlap), g(&self.violation_concurrent_login), g(&self.violation_in_list)];
        serde_json::json!({
            "connections": g(&self.connections),
            "requests": g(&self.requests),
            "logins": g(&self.logins),
            "upserts": g(&self.upserts),
            "orders": g(&self.orders),
            "protocolErrors": g(&self.protocol_errors),
            "violations": {
                "total": v.iter().sum::<u64>(),
                "overlappingOperations": v[0],
                "concurrentLogins": v[1],
                "inListOver1000": v[2],
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
    /// Fraction (0..1) of requests answered UNAVAILABLE.
    pub error_rate: f64,
    /// Fraction (0..1) of requests whose connection is dropped unanswered.
    pub drop_rate: f64,
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

    pub fn set_faults(&self, f: Faults) {
        *self.shared.faults.lock().unwrap() = f;
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
    *s.faults.lock().unwrap() = f.clone();
    Json(f)
}
