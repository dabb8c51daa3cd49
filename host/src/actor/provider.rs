//! [`Provider`]: the typed facade over an actor, one method per WIT
//! operation. Each method runs its plugin call inside the actor's job and
//! checks the answer against the contract (`answers.rs`) there too, so a
//! violation discards the instance before anyone sees the answer.

use super::error::{CallError, lift};
use super::handle::ProviderHandle;
use crate::answers::{self, Record};
use crate::bindings::types::{
    Activity, BatchResult, BulkSyncRequest, BulkSyncResult, CatalogFilter, CatalogPage, Category, Contact, Customer,
    CustomerFilter, ErpOrder, OrderRequest, Product, ProductDetails, ProductFilter, SyncResult,
};
use std::time::Duration;

/// A handle plus the per-call limits the runtime set for its tenant.
#[derive(Clone)]
pub struct Provider {
    pub handle: ProviderHandle,
    pub timeout: Duration,
    /// Largest JSON the host writes from one answer of this provider.
    pub max_answer_json_bytes: usize,
}

/// What an actor is doing now, for `/readyz`, `tenant show` and `top`.
#[derive(Clone, Debug)]
pub struct Status {
    pub tenant: String,
    pub kinds: Vec<crate::ProviderKind>,
    pub plugin: String,
    /// `idle`, `busy` (a job running) or `stuck` (running past its call
    /// timeout plus a second: the tenant gets no answers).
    pub state: &'static str,
    pub busy_ms: Option<u64>,
    pub breaker_open: bool,
    pub queue_depth: usize,
    pub calls: u64,
    pub restarts: u64,
    /// The newest provider-side failure: (ms since the epoch, message).
    pub last_error: Option<(i64, String)>,
}

impl Provider {
    pub fn status(&self) -> Status {
        use std::sync::atomic::Ordering::Relaxed;
        let spec = self.handle.spec();
        let stats = self.handle.stats();
        // Every job is bounded by the call timeout; one running past it
        // (plus slack for the discard) means the actor is stuck.
        let busy = stats.busy_for();
        let stuck = busy.is_some_and(|b| b > self.timeout + Duration::from_secs(1));
        Status {
            tenant: spec.tenant.clone(),
            kinds: spec.kinds.clone(),
            plugin: spec.plugin.to_string(),
            state: if stuck {
                "stuck"
            } else if busy.is_some() {
                "busy"
            } else {
                "idle"
            },
            busy_ms: busy.map(|b| b.as_millis() as u64),
            breaker_open: self.handle.breaker_open(),
            queue_depth: self.handle.queue_depth(),
            calls: stats.calls.load(Relaxed),
            restarts: stats.restarts.load(Relaxed),
            last_error: stats.last_error.lock().expect("stats lock").clone(),
        }
    }
}

/// A plugin call on `$side` (erp, crm or pim), its answer lifted, then
/// checked against the contract by `$check`.
macro_rules! op {
    ($self:ident, $side:ident, |$g:ident, $s:ident| $body:expr, |$r:ident| $check:expr) => {
        $self.handle.call($self.timeout, move |live| {
            Box::pin(async move {
                let ($g, $s) = live.$side()?;
                let $r = lift($body.await)?;
                $check.map_err(CallError::Contract)
            })
        })
    };
}

/// One stream of the contract as a pair of methods: `$open` starts a
/// cursor in the plugin (if the instance has room for one more) and
/// `$next` pulls up to `max` items from it. The streams differ only in the
/// provider side, the filter and item types, the export that opens them
/// and the cursor resource, so they share one definition: the room check,
/// the cursor bookkeeping and the check of each pull cannot drift apart.
/// (A generic function would need a trait over the generated guest types
/// and their borrowed futures; the macro says the same in fewer lines.)
macro_rules! stream {
    ($open:ident, $next:ident: $side:ident, $filter:ty => $item:ty, $stream:ident, $cursor:ident) => {
        pub async fn $open(&self, filter: $filter) -> Result<u64, CallError> {
            self.handle
                .call(self.timeout, move |live| {
                    Box::pin(async move {
                        live.check_cursor_room()?;
                        let (g, s) = live.$side()?;
                        let r = lift(g.$stream(s, &filter).await)?;
                        Ok(live.add_cursor(r))
                    })
                })
                .await
        }

        pub async fn $next(&self, cursor: u64, max: u32) -> Result<Vec<$item>, CallError> {
            self.handle
                .call(self.timeout, move |live| {
                    Box::pin(async move {
                        let r = live.cursor(cursor)?;
                        let (g, s) = live.$side()?;
                        let items = lift(g.$cursor().call_next(s, r, max).await)?;
                        answers::pulled(max, items).map_err(CallError::Contract)
                    })
                })
                .await
        }
    };
}

/// The ids of the records sent to a sync, which its result must account for.
fn sent_ids<T: Record>(items: &[T]) -> Vec<&str> {
    items.iter().map(Record::id).collect()
}

impl Provider {
    // ---- erp-provider ----
    pub async fn get_product(&self, id: String) -> Result<Product, CallError> {
        op!(self, erp, |g, s| g.call_get_product(s, &id), |r| answers::one(&id, r)).await
    }
    pub async fn get_products(&self, ids: Vec<String>) -> Result<Vec<Option<Product>>, CallError> {
        op!(self, erp, |g, s| g.call_get_products(s, &ids), |r| answers::batch(&ids, r)).await
    }
    pub async fn get_customer(&self, id: String) -> Result<Customer, CallError> {
        op!(self, erp, |g, s| g.call_get_customer(s, &id), |r| answers::one(&id, r)).await
    }
    pub async fn get_customers(&self, ids: Vec<String>) -> Result<Vec<Option<Customer>>, CallError> {
        op!(self, erp, |g, s| g.call_get_customers(s, &ids), |r| answers::batch(&ids, r)).await
    }
    pub async fn create_order(&self, order: OrderRequest) -> Result<ErpOrder, CallError> {
        op!(self, erp, |g, s| g.call_create_order(s, &order), |r| answers::Record::check(&r).map(|()| r)).await
    }
    pub async fn create_orders(&self, orders: Vec<OrderRequest>) -> Result<BatchResult, CallError> {
        op!(self, erp, |g, s| g.call_create_orders(s, &orders), |r| answers::batch_result(orders.len(), &r).map(|()| r))
            .await
    }
    pub async fn sync_products(&self, items: Vec<Product>) -> Result<SyncResult, CallError> {
        op!(self, erp, |g, s| g.call_sync_products(s, &items), |r| answers::sync_result(&sent_ids(&items), &r)
            .map(|()| r))
        .await
    }
    pub async fn sync_customers(&self, items: Vec<Customer>) -> Result<SyncResult, CallError> {
        op!(self, erp, |g, s| g.call_sync_customers(s, &items), |r| answers::sync_result(&sent_ids(&items), &r)
            .map(|()| r))
        .await
    }
    pub async fn bulk_sync(&self, request: BulkSyncRequest) -> Result<BulkSyncResult, CallError> {
        op!(self, erp, |g, s| g.call_bulk_sync(s, &request), |r| {
            answers::sync_result(&sent_ids(&request.products), &r.products)
                .map_err(|e| format!("products: {e}"))
                .and_then(|()| {
                    answers::sync_result(&sent_ids(&request.customers), &r.customers)
                        .map_err(|e| format!("customers: {e}"))
                })
                .map(|()| r)
        })
        .await
    }

    // ---- crm-provider ----
    pub async fn get_contact(&self, id: String) -> Result<Contact, CallError> {
        op!(self, crm, |g, s| g.call_get_contact(s, &id), |r| answers::one(&id, r)).await
    }
    pub async fn get_contacts(&self, ids: Vec<String>) -> Result<Vec<Option<Contact>>, CallError> {
        op!(self, crm, |g, s| g.call_get_contacts(s, &ids), |r| answers::batch(&ids, r)).await
    }
    pub async fn get_activities(&self, customer_id: String, limit: u32) -> Result<Vec<Activity>, CallError> {
        op!(self, crm, |g, s| g.call_get_activities(s, &customer_id, limit), |r| {
            answers::activities(&customer_id, limit, &r).map(|()| r)
        })
        .await
    }
    pub async fn get_activities_batch(
        &self,
        ids: Vec<String>,
        limit: u32,
    ) -> Result<Vec<Option<Vec<Activity>>>, CallError> {
        op!(self, crm, |g, s| g.call_get_activities_batch(s, &ids, limit), |r| answers::activities_batch(
            &ids, limit, r
        ))
        .await
    }

    // ---- pim-provider ----
    pub async fn get_product_details(&self, id: String) -> Result<ProductDetails, CallError> {
        op!(self, pim, |g, s| g.call_get_product_details(s, &id), |r| answers::one(&id, r)).await
    }
    pub async fn get_categories(&self) -> Result<Vec<Category>, CallError> {
        op!(self, pim, |g, s| g.call_get_categories(s), |r| answers::categories(&r).map(|()| r)).await
    }
    pub async fn get_catalog(
        &self,
        filter: CatalogFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<CatalogPage, CallError> {
        op!(self, pim, |g, s| g.call_get_catalog(s, &filter, page_size, continuation.as_deref()), |r| {
            answers::catalog_page(page_size, &r.items, r.continuation.as_deref()).map(|()| r)
        })
        .await
    }

    // ---- streams: open a cursor, pull batches, close ----
    stream!(open_products, next_products: erp, ProductFilter => Product, call_stream_products, product_cursor);
    stream!(open_customers, next_customers: erp, CustomerFilter => Customer, call_stream_customers, customer_cursor);
    stream!(open_catalog, next_catalog: pim, CatalogFilter => ProductDetails, call_stream_catalog, catalog_cursor);

    /// Drops a cursor inside the plugin. Unknown ids are fine: the
    /// instance may have been recycled since.
    pub async fn close_cursor(&self, cursor: u64) -> Result<(), CallError> {
        self.handle.call(self.timeout, move |live| Box::pin(live.close_cursor(cursor))).await
    }

    /// Throws the instance away after the HTTP side found its answer
    /// unusable (its JSON over `max_answer_json_bytes`): the next call gets
    /// a fresh instance. The plugin's own state goes with it, as after a trap.
    pub async fn discard_instance(&self, why: String) {
        let _ = self
            .handle
            .call(self.timeout, move |_live| Box::pin(async move { Err::<(), _>(CallError::AnswerTooLarge(why)) }))
            .await;
    }
}
