//! enventa-bridge: the provider for enventa Trade ERP.
//!
//! PLACEHOLDER: this crate only proves the guest workspace builds a second
//! plugin against the same contract. Every operation answers `unsupported`
//! until the enventa issue (#5) implements the socket protocol.

wit_bindgen::generate!({
    world: "erp-plugin",
    path: "../../wit",
});

use b2connect::provider::types::*;
use exports::b2connect::provider::erp_provider::{self, Guest};

fn todo<T>(op: &str) -> Result<T, ProviderError> {
    Err(ProviderError::Unsupported(format!("enventa-bridge: {op} is not implemented yet")))
}

struct Bridge;

/// Never constructed: the placeholder refuses every stream before a cursor
/// exists.
pub struct NoCursor;

impl erp_provider::GuestProductCursor for NoCursor {
    fn next(&self, _max: u32) -> Result<Vec<Product>, ProviderError> {
        todo("product-cursor.next")
    }
}

impl erp_provider::GuestCustomerCursor for NoCursor {
    fn next(&self, _max: u32) -> Result<Vec<Customer>, ProviderError> {
        todo("customer-cursor.next")
    }
}

impl Guest for Bridge {
    type ProductCursor = NoCursor;
    type CustomerCursor = NoCursor;
    fn get_product(_: String) -> Result<Product, ProviderError> {
        todo("get-product")
    }
    fn get_products(_: Vec<String>) -> Result<Vec<Option<Product>>, ProviderError> {
        todo("get-products")
    }
    fn stream_products(_: ProductFilter) -> Result<erp_provider::ProductCursor, ProviderError> {
        todo("stream-products")
    }
    fn get_customer(_: String) -> Result<Customer, ProviderError> {
        todo("get-customer")
    }
    fn get_customers(_: Vec<String>) -> Result<Vec<Option<Customer>>, ProviderError> {
        todo("get-customers")
    }
    fn stream_customers(_: CustomerFilter) -> Result<erp_provider::CustomerCursor, ProviderError> {
        todo("stream-customers")
    }
    fn create_order(_: OrderRequest) -> Result<ErpOrder, ProviderError> {
        todo("create-order")
    }
    fn create_orders(_: Vec<OrderRequest>) -> Result<BatchResult, ProviderError> {
        todo("create-orders")
    }
    fn sync_products(_: Vec<Product>) -> Result<SyncResult, ProviderError> {
        todo("sync-products")
    }
    fn sync_customers(_: Vec<Customer>) -> Result<SyncResult, ProviderError> {
        todo("sync-customers")
    }
    fn bulk_sync(_: BulkSyncRequest) -> Result<BulkSyncResult, ProviderError> {
        todo("bulk-sync")
    }
}

export!(Bridge);
