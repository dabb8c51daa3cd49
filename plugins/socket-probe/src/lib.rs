//! TEST FIXTURE, not a provider: `get-product(id)` treats `id` as a probe
//! and reports the outcome as the error message, so tests can prove that a
//! plugin reaches nothing but its tenant's granted endpoint.
//!
//! - `grant` → the granted endpoint;
//! - `connect:HOST:PORT` → the contract's socket `connect` to that address;
//! - `wasi:HOST:PORT` → a plain `std::net::TcpStream` (WASI sockets).
//!
//! Every other operation is the SDK's default (`unsupported`, naming it;
//! `get-products` from `get-product`).

use b2connect_provider::types::*;
use b2connect_provider::{Connection, Context, ErpProvider, Provider, export_provider};

struct Probe;

impl Provider for Probe {
    fn new(_: &Context) -> Result<Self, ProviderError> {
        Ok(Probe)
    }
}

impl ErpProvider for Probe {
    fn get_product(&mut self, id: String) -> Result<Product, ProviderError> {
        let outcome = if id == "grant" {
            format!("grant={:?}", Context::current().granted_endpoint())
        } else if let Some(addr) = id.strip_prefix("connect:") {
            match Connection::open(addr) {
                Ok(mut conn) => match conn.send(b"probe") {
                    Ok(()) => "connected".to_string(),
                    Err(e) => format!("connected, send failed: {e:?}"),
                },
                Err(e) => format!("refused: {e:?}"),
            }
        } else if let Some(addr) = id.strip_prefix("wasi:") {
            match std::net::TcpStream::connect(addr) {
                Ok(_) => "wasi-connected".to_string(),
                Err(e) => format!("wasi-refused: {e}"),
            }
        } else {
            "unknown probe".to_string()
        };
        Err(ProviderError::NotFound(outcome))
    }
}

export_provider!(Probe: erp);
