//! TEST FIXTURE, not a provider: `get-product(id)` treats `id` as a probe
//! and reports the outcome as the error message, so tests can prove that a
//! plugin reaches nothing but its tenant's granted endpoint.
//!
//! - `grant` → the granted endpoint;
//! - `connect:HOST:PORT` → `socket::connect` to that address;
//! - `wasi:HOST:PORT` → a plain `std::net::TcpStream` (WASI sockets).
//!
//! Every other operation answers `unsupported`.

wit_bindgen::generate!({
    world: "erp-plugin",
    path: "../../wit",
});

use b2connect::provider::socket;
use b2connect::provider::types::*;
use exports::b2connect::provider::erp_provider::{self, Guest};

fn unsupported<T>() -> Result<T, ProviderError> {
    Err(ProviderError::Unsupported("socket-probe is a test fixture".into()))
}

struct Probe;

/// Never constructed: streams are unsupported.
pub struct NoCursor;

impl erp_provider::GuestProductCursor for NoCursor {
    fn next(&self, _: u32) -> Result<Vec<Product>, ProviderError> {
        unsupported()
    }
}

impl erp_provider::GuestCustomerCursor for NoCursor {
    fn next(&self, _: u32) -> Result<Vec<Customer>, ProviderError> {
        unsupported()
    }
}

impl Guest for Probe {
    type ProductCursor = NoCursor;
    type CustomerCursor = NoCursor;

    fn get_product(id: String) -> Result<Product, ProviderError> {
        let outcome = if id == "grant" {
            format!("grant={:?}", socket::granted_endpoint())
        } else if let Some(addr) = id.strip_prefix("connect:") {
            match socket::connect(addr) {
                Ok(conn) => match conn.send(b"probe") {
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
    fn get_products(_: Vec<String>) -> Result<Vec<Option<Product>>, ProviderError> {
        unsupported()
    }
    fn stream_products(_: ProductFilter) -> Result<erp_provider::ProductCursor, ProviderError> {
        unsupported()
    }
    fn get_customer(_: String) -> Result<Customer, ProviderError> {
        unsupported()
    }
    fn get_customers(_: Vec<String>) -> Result<Vec<Option<Customer>>, ProviderError> {
        unsupported()
    }
    fn stream_customers(_: CustomerFilter) -> Result<erp_provider::CustomerCursor, ProviderError> {
        unsupported()
    }
    fn create_order(_: OrderRequest) -> Result<ErpOrder, ProviderError> {
        unsupported()
    }
    fn create_orders(_: Vec<OrderRequest>) -> Result<BatchResult, ProviderError> {
        unsupported()
    }
    fn sync_products(_: Vec<Product>) -> Result<SyncResult, ProviderError> {
        unsupported()
    }
    fn sync_customers(_: Vec<Customer>) -> Result<SyncResult, ProviderError> {
        unsupported()
    }
    fn bulk_sync(_: BulkSyncRequest) -> Result<BulkSyncResult, ProviderError> {
        unsupported()
    }
}

export!(Probe);
