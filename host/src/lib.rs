//! b2c-host: runs B2Connect provider plugins (ERP, CRM, PIM) as WebAssembly
//! components, one serialized actor per tenant × provider kind, and serves
//! them over REST.
//!
//! Tour, from the plugin outwards:
//! - `bindings.rs`: the provider bindings and the contract's name and
//!   version, generated from `wit/` (the contract).
//! - `capabilities/`: what a plugin may import, one module per WIT
//!   interface (`log`, `config`, `socket`), and the one list of them;
//!   `state.rs` is the Store data.
//! - `engine.rs`: wasmtime set-up (pooling allocator, epochs), the linker,
//!   compile-once cache; `sandbox.rs`: uploads compile first in a child
//!   process under a memory limit, with the compiler settings the engine
//!   shares.
//! - `actor/`: the per-tenant actor that owns a Store, one module per job:
//!   typed calls for every WIT operation, the handle and its bounded queue,
//!   the task (timeouts, trap recovery), the instance, a circuit breaker,
//!   the plugin's captured stdout/stderr (`output.rs`).
//! - `runtime.rs`: which actor serves which tenant; activation of bindings
//!   from the registry.
//! - `limits.rs`: per-tenant guest limits (`limits.*` binding config) over
//!   the host-wide defaults; `rate.rs`: per-tenant request rate limits.
//! - `api/`: the REST surface (axum). Every route is declared once, by its
//!   handler's `#[utoipa::path]` (registered with `utoipa_axum::routes!`),
//!   and the OpenAPI document and the metrics' operation names are read
//!   from those declarations; `contract.rs` holds the error answers per
//!   route class, `extract.rs` the extractors (tenant + provider, ids),
//!   `model/` the tenant shapes and `admin_model.rs` the operator shapes.
//! - `service/`: the workflows the admin API, the tenant API and start-up
//!   share (publish, bind, orders with idempotency, delta sync), with
//!   their own error type; handlers parse, call one, and render.
//! - `util.rs`: digests and generated secrets.
//! - `cache.rs`: per-tenant response cache; `metrics.rs`: Prometheus;
//!   `figures.rs`: live per-tenant figures (`/admin/v1/stats`, `top`).
//! - `server.rs`, `bootstrap.rs`, `cli.rs`, `client.rs`: `b2c-host serve`,
//!   the embedded default (bundled mock-erp + demo tenant), command-line
//!   parsing, and the operator CLI (a client of the admin API).
//! - `conformance.rs`: `b2c-host plugin check`, the contract's behavioural
//!   rules run against a component on the data it serves.
//! - `scaffold.rs`: `b2c-host plugin new`, a provider crate on the SDK
//!   (`sdk/`, embedded with the contract) that builds out of the box.

pub mod actor;
pub mod answers;
pub mod api;
pub mod bindings;
pub mod bootstrap;
pub mod cache;
pub mod capabilities;
pub mod cli;
pub mod client;
pub mod conformance;
pub mod engine;
pub mod failure_log;
pub mod figures;
pub mod limits;
pub mod metrics;
pub mod rate;
pub mod runtime;
pub mod sandbox;
pub mod scaffold;
pub mod server;
pub mod service;
pub mod state;
pub mod untrusted;
pub mod util;

pub use b2c_registry::ProviderKind;

/// Guest components built by `build.rs`.
pub mod bundled {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));

    /// The mock-erp component, embedded so `serve` works on an empty data
    /// dir with nothing else installed.
    pub const MOCK_ERP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mock_erp.wasm"));
    /// The version mock-erp is published under by the embedded default.
    pub const MOCK_ERP_VERSION: &str = "1.0.0";
}
