//! The contract's `erp-provider` interface as a trait. Every method has a
//! default: the single-record operations answer `unsupported`, the batch
//! operations are built from the single ones (`get-products` from
//! `get-product`, `create-orders` from `create-order`, `sync-products` from
//! `sync-product`), so a read-only provider writes two or three methods.

use crate::batch::{self, Synced};
use crate::bindings::b2connect::provider::types::{
    BatchResult, BulkSyncRequest, BulkSyncResult, Customer, CustomerFilter, ErpOrder, OrderRequest, Product,
    ProductFilter, ProviderError, SyncResult,
};
use crate::cursor::Cursor;

type Result<T> = std::result::Result<T, ProviderError>;

/// An ERP provider (the seed's `IErpProvider`). One value serves one
/// tenant; the host never calls it concurrently.
pub trait ErpProvider: crate::Provider {
    /// One product by id; unknown is `not-found`.
    fn get_product(&mut self, id: String) -> Result<Product> {
        let _ = id;
        Err(ProviderError::unsupported("get-product"))
    }

    /// Several products, same length and order as `ids`, unknown `None`.
    fn get_products(&mut self, ids: Vec<String>) -> Result<Vec<Option<Product>>> {
        batch::get_many(ids, |id| self.get_product(id))
    }

    /// Products matching `filter`.
    fn stream_products(&mut self, filter: ProductFilter) -> Result<Cursor<Product>> {
        let _ = filter;
        Err(ProviderError::unsupported("stream-products"))
    }

    /// One customer by id; unknown is `not-found`.
    fn get_customer(&mut self, id: String) -> Result<Customer> {
        let _ = id;
        Err(ProviderError::unsupported("get-customer"))
    }

    /// Several customers, same length and order as `ids`, unknown `None`.
    fn get_customers(&mut self, ids: Vec<String>) -> Result<Vec<Option<Customer>>> {
        batch::get_many(ids, |id| self.get_customer(id))
    }

    /// Customers matching `filter`.
    fn stream_customers(&mut self, filter: CustomerFilter) -> Result<Cursor<Customer>> {
        let _ = filter;
        Err(ProviderError::unsupported("stream-customers"))
    }

    /// Creates one order. `external-ref`, when set, is the caller's
    /// idempotency key: a provider that can should answer the existing
    /// order for a ref it has seen.
    fn create_order(&mut self, order: OrderRequest) -> Result<ErpOrder> {
        let _ = order;
        Err(ProviderError::unsupported("create-order"))
    }

    /// Creates several orders, each on its own.
    fn create_orders(&mut self, orders: Vec<OrderRequest>) -> Result<BatchResult> {
        batch::create_each(orders, |o| self.create_order(o))
    }

    /// Upserts one product (an SDK-level operation `sync-products` is built
    /// from; the contract has only the batch).
    fn sync_product(&mut self, product: Product) -> Result<Synced> {
        let _ = product;
        Err(ProviderError::unsupported("sync-products"))
    }

    /// Upserts products.
    fn sync_products(&mut self, products: Vec<Product>) -> Result<SyncResult> {
        batch::sync_each(products, |p| p.id.clone(), |p| self.sync_product(p))
    }

    /// Upserts one customer.
    fn sync_customer(&mut self, customer: Customer) -> Result<Synced> {
        let _ = customer;
        Err(ProviderError::unsupported("sync-customers"))
    }

    /// Upserts customers.
    fn sync_customers(&mut self, customers: Vec<Customer>) -> Result<SyncResult> {
        batch::sync_each(customers, |c| c.id.clone(), |c| self.sync_customer(c))
    }

    /// Upserts products and customers in one call.
    fn bulk_sync(&mut self, request: BulkSyncRequest) -> Result<BulkSyncResult> {
        Ok(BulkSyncResult {
            products: self.sync_products(request.products)?,
            customers: self.sync_customers(request.customers)?,
        })
    }
}

impl ProductFilter {
    /// Whether `p` passes the filter, with the category test given:
    /// `in_category(product_category, filter_category)` says whether a
    /// product's category is the filter's or one of its sub-categories
    /// (only the provider knows its tree).
    pub fn matches_with(&self, p: &Product, in_category: impl Fn(&str, &str) -> bool) -> bool {
        (!self.active_only || p.active)
            && self.modified_since.is_none_or(|s| p.modified_at >= s)
            && self.category_id.as_deref().is_none_or(|c| in_category(&p.category_id, c))
            && self.name_contains.as_deref().is_none_or(|n| crate::contains_ci(&p.name, n))
    }

    /// Whether `p` passes the filter, for a flat category list (the
    /// product's category must be the filter's).
    pub fn matches(&self, p: &Product) -> bool {
        self.matches_with(p, |mine, wanted| mine == wanted)
    }
}

impl CustomerFilter {
    /// Whether `c` passes the filter.
    pub fn matches(&self, c: &Customer) -> bool {
        self.modified_since.is_none_or(|s| c.modified_at >= s)
            && self.country.as_deref().is_none_or(|k| c.address.country.eq_ignore_ascii_case(k))
            && self.name_contains.as_deref().is_none_or(|n| crate::contains_ci(&c.name, n))
    }
}

/// Implements a world's `erp-provider` exports for `Exports<P>`.
macro_rules! impl_erp {
    ($($world:tt)*) => {
        const _: () = {
            use $($world)*::exports::b2connect::provider::erp_provider as erp;
            use crate::{Cursor, ErpProvider, Exports, provider::with_instance as with};
            use crate::types::*;
            use std::result::Result;

            impl<P: ErpProvider> erp::Guest for Exports<P> {
                type ProductCursor = Cursor<Product>;
                type CustomerCursor = Cursor<Customer>;

                fn get_product(id: String) -> Result<Product, ProviderError> {
                    with(|p: &mut P| p.get_product(id))
                }
                fn get_products(ids: Vec<String>) -> Result<Vec<Option<Product>>, ProviderError> {
                    let n = ids.len();
                    crate::provider::same_len("get-products", n, with(|p: &mut P| p.get_products(ids)))
                }
                fn stream_products(filter: ProductFilter) -> Result<erp::ProductCursor, ProviderError> {
                    with(|p: &mut P| p.stream_products(filter)).map(erp::ProductCursor::new)
                }
                fn get_customer(id: String) -> Result<Customer, ProviderError> {
                    with(|p: &mut P| p.get_customer(id))
                }
                fn get_customers(ids: Vec<String>) -> Result<Vec<Option<Customer>>, ProviderError> {
                    let n = ids.len();
                    crate::provider::same_len("get-customers", n, with(|p: &mut P| p.get_customers(ids)))
                }
                fn stream_customers(filter: CustomerFilter) -> Result<erp::CustomerCursor, ProviderError> {
                    with(|p: &mut P| p.stream_customers(filter)).map(erp::CustomerCursor::new)
                }
                fn create_order(order: OrderRequest) -> Result<ErpOrder, ProviderError> {
                    with(|p: &mut P| p.create_order(order))
                }
                fn create_orders(orders: Vec<OrderRequest>) -> Result<BatchResult, ProviderError> {
                    with(|p: &mut P| p.create_orders(orders))
                }
                fn sync_products(products: Vec<Product>) -> Result<SyncResult, ProviderError> {
                    with(|p: &mut P| p.sync_products(products))
                }
                fn sync_customers(customers: Vec<Customer>) -> Result<SyncResult, ProviderError> {
                    with(|p: &mut P| p.sync_customers(customers))
                }
                fn bulk_sync(request: BulkSyncRequest) -> Result<BulkSyncResult, ProviderError> {
                    with(|p: &mut P| p.bulk_sync(request))
                }
            }

            impl erp::GuestProductCursor for Cursor<Product> {
                fn next(&self, max: u32) -> Result<Vec<Product>, ProviderError> {
                    self.next_batch(max)
                }
            }

            impl erp::GuestCustomerCursor for Cursor<Customer> {
                fn next(&self, max: u32) -> Result<Vec<Customer>, ProviderError> {
                    self.next_batch(max)
                }
            }
        };
    };
}

impl_erp!(crate::bindings);
