//! TEST FIXTURE, not a provider: `get-product(id)` misbehaves as `id` says,
//! so tests can prove the host stops it and nobody else notices.
//!
//! - `loop`: spins forever (CPU budget via epochs);
//! - `memory`: allocates until it cannot (store memory limit);
//! - `recursion`: recurses without end (stack limit);
//! - `unreachable`: traps at once;
//! - `handles`: creates 10^6 resources of its own (cursors) and never drops
//!   them (component handle cap);
//! - `host-handles`: asks the host for 10^6 WASI pollables and never drops
//!   them (host resource table cap);
//! - `block`: connects to the granted endpoint and waits for bytes that
//!   never come (wall-clock deadline: epochs do not fire in host calls);
//! - anything else: an ordinary not-found.

wit_bindgen::generate!({
    world: "erp-plugin",
    path: "../../wit/1.0.0",
});

use b2connect::provider::socket;
use b2connect::provider::types::*;
use exports::b2connect::provider::erp_provider::{self, Guest};

fn unsupported<T>() -> Result<T, ProviderError> {
    Err(ProviderError::Unsupported("hostile is a test fixture".into()))
}

#[inline(never)]
#[allow(unconditional_recursion)] // the point of the fixture: it never returns
fn recurse(n: u64, buf: &mut [u8; 64]) -> u64 {
    buf[(n % 64) as usize] = n as u8;
    // black_box keeps a real frame per call: without it LLVM turns the
    // recursion into a loop, and the CPU budget (not the stack) stops it.
    let mut local = std::hint::black_box([0u8; 256]);
    local[(n % 256) as usize] = buf[0];
    let below = recurse(std::hint::black_box(n + 1), buf);
    below + u64::from(std::hint::black_box(local)[3])
}

struct Hostile;

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

impl Guest for Hostile {
    type ProductCursor = NoCursor;
    type CustomerCursor = NoCursor;

    fn get_product(id: String) -> Result<Product, ProviderError> {
        match id.as_str() {
            "loop" => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 8 * 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            "recursion" => {
                let mut buf = [0u8; 64];
                let n = recurse(0, &mut buf);
                Err(ProviderError::Internal(format!("recursion ended at {n}")))
            }
            "unreachable" => std::process::abort(),
            "handles" => {
                for _ in 0..1_000_000 {
                    std::mem::forget(erp_provider::ProductCursor::new(NoCursor));
                }
                Err(ProviderError::Internal("a million handles were allowed".into()))
            }
            "host-handles" => {
                for _ in 0..1_000_000 {
                    std::mem::forget(wasip2::clocks::monotonic_clock::subscribe_duration(1_000_000_000));
                }
                Err(ProviderError::Internal("a million host handles were allowed".into()))
            }
            "block" => {
                let addr = socket::granted_endpoint().ok_or_else(|| ProviderError::Unavailable("no grant".into()))?;
                let conn = socket::connect(&addr).map_err(|e| ProviderError::Unavailable(format!("{e:?}")))?;
                let got = conn.receive(1);
                Err(ProviderError::Internal(format!("the peer answered: {got:?}")))
            }
            other => Err(ProviderError::NotFound(format!("{other} is not a hostile mode"))),
        }
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

export!(Hostile);
