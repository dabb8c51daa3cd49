//! TEST FIXTURE, not a provider: a hostile third-party plugin, written from
//! the published WIT contract (`b2connect:provider@1.0.0`, world
//! `full-provider`) alone, that the host's test suite binds to tenants to
//! prove that the host survives every attack below. Never deploy it.
//!
//! The attack is chosen per tenant by the binding config, read through the
//! `config` import. Every operation that the active mode does not attack
//! serves a small well-formed data set (products, customers and contacts
//! "A1".."A50", categories "C1".."C4", three activities per customer, orders
//! "ORD-n"), so an attack can be told apart from normal service. Without
//! `attack` (or with an unknown value) the plugin serves normally.
//!
//! # Config keys
//!
//! | key         | default   | meaning                                              |
//! |-------------|-----------|------------------------------------------------------|
//! | `attack`    | (none)    | the mode, one of the names below                     |
//! | `size-mib`  | `120`     | MiB of the big string (`huge-strings`, `huge-error`, `huge-order`); `16` for `alias-strings` |
//! | `count`     | `500000` / `1000000` | records per cursor page (`stream-flood`, default 500000) / log calls per operation (`log-flood`, default 1000000) |
//! | `start-ms`  | `3600000` | how long the start function sleeps (`start-sleep`)   |
//! | `token-mib` | `100`     | MiB of the continuation token (`over-limit`)         |
//! | `burn-ms`   | `3600000` | wall time each operation burns (`random-burn`)       |
//!
//! A knob that is missing or not a non-negative integer takes its default.
//!
//! # Modes (`attack` = ...)
//!
//! | mode            | operations attacked | what they do |
//! |-----------------|---------------------|--------------|
//! | `huge-strings`  | get-product, get-products, get-customer, get-contact, get-product-details | one string field is `size-mib` MiB of U+0001 (JSON escapes it 6x): product `description`, customer `name`, contact `last-name`, product-details `long-description`; get-products puts it into the first `some` record only (built once per call; the guest holds one copy) |
//! | `stream-flood`  | stream-products, stream-customers, stream-catalog | every `next(max)` returns `count` small records whatever `max` is, and never ends |
//! | `start-sleep`   | instantiation | the start function (a `.init_array` constructor run by `__wasm_call_ctors` from the exported `_initialize`, which wit-component runs as a core `start` at instantiation) reads `attack` through `config`, then sleeps `start-ms` inside one host call (wasi:io/poll on a monotonic-clock pollable) |
//! | `start-loop`    | instantiation | the start function spins forever in pure guest code |
//! | `log-flood`     | every operation (and cursor `next`) | first calls `log` `count` times with a 4096-byte message, then answers normally |
//! | `log-forge`     | every operation (and cursor `next`) | logs newlines followed by fake host log lines (forged admin token), CR, ANSI/OSC escapes, JSON log lines, key=value smuggling, bidi overrides, NUL; then answers normally |
//! | `huge-error`    | every operation (and cursor `next`) | returns `internal(...)` with a `size-mib` MiB message of control characters, CR/LF, NUL, ANSI escapes, quotes and backslashes |
//! | `wrong-ids`     | get-products, get-customers, get-contacts, get-activities-batch | `some(record)` for every requested id, but position i holds the record of the id requested at i+1 (rotated; with one id, another id of the data set); activities of position i carry the customer-id requested at i+1 |
//! | `over-limit`    | get-activities, get-activities-batch, get-catalog, get-categories, every timestamp | limit+100 activities for any customer id, known or not (get-activities-batch: `some` of limit+100 for every id); get-catalog returns 10 x page-size items and a `token-mib` MiB continuation token; get-categories adds a parent cycle (CYC-A <-> CYC-B) and a category whose parent does not exist; every record's timestamps alternate between i64::MIN and i64::MAX |
//! | `bad-counts`    | create-orders, sync-products, sync-customers, bulk-sync | batch-result with succeeded = failed = u32::MAX and 3 more items than orders sent; sync-results with every count u32::MAX and failures whose `index` is beyond the input, duplicated (len, len, len+1, u32::MAX, u32::MAX) |
//! | `huge-order`    | create-order | the answered order's note (1/2, U+0001), external-ref (1/4, `"`) and 4 line SKUs (1/4, `x`) total `size-mib` MiB |
//! | `random-burn`   | every operation (and cursor `next`) | loops for `burn-ms` of wall time calling wasi:random get-random-bytes(1 MiB) and the monotonic clock, then answers normally |
//! | `alias-strings` | get-products | `some(record)` for every requested id, and every string field of every record (id, sku, name, description, category-id, currency, unit: 7 per record) is the SAME leaked guest buffer of `size-mib` MiB (default 16): the host's copy is ids x 7 x size-mib. The global allocator ignores the post-return frees of that buffer, so the attack repeats on every call without corrupting the guest heap |
//!
//! Observed against a bare wasmtime 48 embedding (a throwaway harness, not
//! the host): every mode does the above; wasmtime's own host-call copy fuel
//! already rejects `stream-flood` at the default `count` and `alias-strings`
//! beyond a few ids x 16 MiB ("too much data is being copied between the host
//! and the guest"), so smaller knobs probe the host's own limits below that.
//!
//! Numeric results use saturating arithmetic; a size wasm32 cannot allocate
//! makes the guest abort (trap), which is also a fair test of the host.

mod attacks;
mod data;

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

wit_bindgen::generate!({
    world: "full-provider",
    path: "../../wit/1.0.0",
});

use b2connect::provider::config;
use b2connect::provider::types::{
    Activity, BatchResult, BulkSyncRequest, BulkSyncResult, CatalogFilter, CatalogPage, Category, Contact, Customer,
    CustomerFilter, ErpOrder, OrderLine, OrderRequest, OrderStatus, Product, ProductDetails, ProductFilter,
    ProviderError, SyncFailure, SyncResult,
};
use exports::b2connect::provider::crm_provider::Guest as CrmGuest;
use exports::b2connect::provider::erp_provider::{
    CustomerCursor, Guest as ErpGuest, GuestCustomerCursor, GuestProductCursor, ProductCursor,
};
use exports::b2connect::provider::pim_provider::{CatalogCursor, Guest as PimGuest, GuestCatalogCursor};

#[global_allocator]
static ALLOCATOR: attacks::Guarded = attacks::Guarded;

/// The attack mode of this instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    HugeStrings,
    StreamFlood,
    StartSleep,
    StartLoop,
    LogFlood,
    LogForge,
    HugeError,
    WrongIds,
    OverLimit,
    BadCounts,
    HugeOrder,
    RandomBurn,
    AliasStrings,
}

impl Mode {
    fn parse(name: Option<&str>) -> Mode {
        match name.map(str::trim) {
            Some("huge-strings") => Mode::HugeStrings,
            Some("stream-flood") => Mode::StreamFlood,
            Some("start-sleep") => Mode::StartSleep,
            Some("start-loop") => Mode::StartLoop,
            Some("log-flood") => Mode::LogFlood,
            Some("log-forge") => Mode::LogForge,
            Some("huge-error") => Mode::HugeError,
            Some("wrong-ids") => Mode::WrongIds,
            Some("over-limit") => Mode::OverLimit,
            Some("bad-counts") => Mode::BadCounts,
            Some("huge-order") => Mode::HugeOrder,
            Some("random-burn") => Mode::RandomBurn,
            Some("alias-strings") => Mode::AliasStrings,
            _ => Mode::Normal,
        }
    }
}

/// The binding config of this instance, read once through `config`.
pub struct Settings {
    pub mode: Mode,
    pub size_mib: u64,
    pub count: u64,
    pub start_ms: u64,
    pub token_mib: u64,
    pub burn_ms: u64,
}

/// The settings, read through the `config` import on first use (at the
/// latest in the start function).
pub fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let mode = Mode::parse(config::get("attack").as_deref());
        let knob =
            |key: &str, default: u64| config::get(key).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(default);
        Settings {
            mode,
            size_mib: knob("size-mib", if mode == Mode::AliasStrings { 16 } else { 120 }),
            count: knob("count", if mode == Mode::LogFlood { 1_000_000 } else { 500_000 }),
            start_ms: knob("start-ms", 3_600_000),
            token_mib: knob("token-mib", 100),
            burn_ms: knob("burn-ms", 3_600_000),
        }
    })
}

fn mode() -> Mode {
    settings().mode
}

/// Runs at the start of every operation: the prologue attacks, then
/// `huge-error`.
fn enter(op: &str) -> Result<(), ProviderError> {
    attacks::prologue(op);
    if mode() == Mode::HugeError {
        return Err(ProviderError::Internal(attacks::error_message()));
    }
    Ok(())
}

/// For `wrong-ids`: the id that position `i` of a batch answers with.
fn rotated(ids: &[String], i: usize) -> String {
    if ids.len() > 1 {
        ids[(i + 1) % ids.len()].clone()
    } else if ids[i] == "A1" {
        "A2".to_string()
    } else {
        "A1".to_string()
    }
}

fn not_found(what: &str, id: &str) -> ProviderError {
    ProviderError::NotFound(format!("{what} {id} does not exist"))
}

fn ok_count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------
// Cursors
// ---------------------------------------------------------------------------

/// A cursor: either a finite list served `max` at a time, or a flood.
enum Feed<T> {
    List { items: Vec<T>, pos: usize },
    Flood { next: u64 },
}

impl<T: Clone> Feed<T> {
    fn list(items: Vec<T>) -> RefCell<Self> {
        RefCell::new(Feed::List { items, pos: 0 })
    }

    fn new_for_mode(items: impl FnOnce() -> Vec<T>) -> RefCell<Self> {
        if mode() == Mode::StreamFlood { RefCell::new(Feed::Flood { next: 1 }) } else { Self::list(items()) }
    }

    /// Up to `max` further items; for a flood, `count` items whatever `max`.
    fn next(cell: &RefCell<Self>, max: u32, flood: impl Fn(u64) -> T) -> Vec<T> {
        match &mut *cell.borrow_mut() {
            Feed::List { items, pos } => {
                let end = items.len().min(pos.saturating_add(max as usize));
                let page = items[*pos..end].to_vec();
                *pos = end;
                page
            }
            Feed::Flood { next } => {
                let count = settings().count;
                let page = (*next..next.saturating_add(count)).map(flood).collect();
                *next = next.saturating_add(count);
                page
            }
        }
    }
}

/// A small flood product: short id and name, other strings empty (no
/// allocation), so the page is as many records as possible per byte.
fn flood_product(n: u64) -> Product {
    Product {
        id: format!("F{n}"),
        sku: String::new(),
        name: String::new(),
        description: String::new(),
        category_id: String::new(),
        price: data::eur(1),
        stock: 1,
        unit: String::new(),
        active: true,
        modified_at: 0,
    }
}

pub struct ProductFeed(RefCell<Feed<Product>>);

impl GuestProductCursor for ProductFeed {
    fn next(&self, max: u32) -> Result<Vec<Product>, ProviderError> {
        enter("product-cursor.next")?;
        Ok(Feed::next(&self.0, max, flood_product))
    }
}

pub struct CustomerFeed(RefCell<Feed<Customer>>);

impl GuestCustomerCursor for CustomerFeed {
    fn next(&self, max: u32) -> Result<Vec<Customer>, ProviderError> {
        enter("customer-cursor.next")?;
        Ok(Feed::next(&self.0, max, |n| Customer {
            id: format!("F{n}"),
            number: String::new(),
            name: String::new(),
            email: String::new(),
            phone: String::new(),
            address: b2connect::provider::types::Address {
                street: String::new(),
                postal_code: String::new(),
                city: String::new(),
                country: String::new(),
            },
            credit_limit: data::eur(0),
            active: true,
            modified_at: 0,
        }))
    }
}

pub struct CatalogFeed(RefCell<Feed<ProductDetails>>);

impl GuestCatalogCursor for CatalogFeed {
    fn next(&self, max: u32) -> Result<Vec<ProductDetails>, ProviderError> {
        enter("catalog-cursor.next")?;
        Ok(Feed::next(&self.0, max, |n| ProductDetails {
            product: flood_product(n),
            long_description: String::new(),
            attributes: Vec::new(),
            images: Vec::new(),
            category_path: Vec::new(),
        }))
    }
}

// ---------------------------------------------------------------------------
// ERP
// ---------------------------------------------------------------------------

static ORDER_SEQ: AtomicU32 = AtomicU32::new(1);

fn now_ms() -> i64 {
    let t = wasip2::clocks::wall_clock::now();
    i64::try_from(t.seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanoseconds / 1_000_000))
}

/// Create one order of the data set (normal service).
fn make_order(order: &OrderRequest) -> Result<ErpOrder, ProviderError> {
    if data::index_of(&order.customer_id).is_none() {
        return Err(not_found("customer", &order.customer_id));
    }
    if order.lines.is_empty() {
        return Err(ProviderError::InvalidInput("an order needs at least one line".to_string()));
    }
    let mut lines = Vec::with_capacity(order.lines.len());
    let mut total: i64 = 0;
    for line in &order.lines {
        let Some(i) = data::index_of(&line.product_id) else {
            return Err(not_found("product", &line.product_id));
        };
        if line.quantity == 0 {
            return Err(ProviderError::InvalidInput(format!("quantity of {} must be at least 1", line.product_id)));
        }
        let price = data::unit_price(i);
        let line_total = price.saturating_mul(i64::from(line.quantity));
        total = total.saturating_add(line_total);
        lines.push(OrderLine {
            product_id: line.product_id.clone(),
            sku: format!("SKU-{i:04}"),
            quantity: line.quantity,
            unit_price: data::eur(price),
            line_total: data::eur(line_total),
        });
    }
    Ok(ErpOrder {
        id: format!("ORD-{}", ORDER_SEQ.fetch_add(1, Ordering::Relaxed)),
        customer_id: order.customer_id.clone(),
        lines,
        total: data::eur(total),
        status: OrderStatus::Created,
        external_ref: order.external_ref.clone(),
        note: order.note.clone(),
        created_at: if mode() == Mode::OverLimit { i64::MAX } else { now_ms() },
    })
}

/// `huge-order`: an order whose strings total `size-mib` MiB.
fn huge_order(order: &OrderRequest) -> ErpOrder {
    let total = attacks::mib(settings().size_mib);
    let note = attacks::repeat_ascii(&[0x01], total / 2);
    let external_ref = attacks::repeat_ascii(b"\"", total / 4);
    let rest = total - total / 2 - total / 4;
    let lines = (0..4)
        .map(|k| {
            let len = rest / 4 + if k == 0 { rest % 4 } else { 0 };
            OrderLine {
                product_id: format!("A{}", k + 1),
                sku: attacks::repeat_ascii(b"x", len),
                quantity: 1,
                unit_price: data::eur(data::unit_price(k + 1)),
                line_total: data::eur(data::unit_price(k + 1)),
            }
        })
        .collect();
    ErpOrder {
        id: format!("ORD-{}", ORDER_SEQ.fetch_add(1, Ordering::Relaxed)),
        customer_id: order.customer_id.clone(),
        lines,
        total: data::eur((1..=4).map(data::unit_price).sum()),
        status: OrderStatus::Created,
        external_ref: Some(external_ref),
        note: Some(note),
        created_at: now_ms(),
    }
}

/// `bad-counts`: every count u32::MAX, failures beyond the input and
/// duplicated.
fn bad_sync(len: usize) -> SyncResult {
    let len = ok_count(len);
    let failure = |index: u32| SyncFailure {
        index,
        id: format!("GHOST-{index}"),
        error: ProviderError::Conflict(format!("record {index} conflicts")),
    };
    SyncResult {
        received: u32::MAX,
        created: u32::MAX,
        updated: u32::MAX,
        unchanged: u32::MAX,
        failed: u32::MAX,
        failures: [len, len, len.saturating_add(1), u32::MAX, u32::MAX].into_iter().map(failure).collect(),
    }
}

/// Normal sync: known ids update, unknown ids create, empty ids fail.
fn sync<'a>(ids: impl Iterator<Item = &'a str>) -> SyncResult {
    let mut result = SyncResult { received: 0, created: 0, updated: 0, unchanged: 0, failed: 0, failures: Vec::new() };
    for (index, id) in ids.enumerate() {
        result.received = result.received.saturating_add(1);
        if id.trim().is_empty() {
            result.failed = result.failed.saturating_add(1);
            result.failures.push(SyncFailure {
                index: ok_count(index),
                id: id.to_string(),
                error: ProviderError::InvalidInput("id must not be empty".to_string()),
            });
        } else if data::index_of(id).is_some() {
            result.updated = result.updated.saturating_add(1);
        } else {
            result.created = result.created.saturating_add(1);
        }
    }
    result
}

struct Attacker;

impl ErpGuest for Attacker {
    type ProductCursor = ProductFeed;
    type CustomerCursor = CustomerFeed;

    fn get_product(id: String) -> Result<Product, ProviderError> {
        enter("get-product")?;
        let i = data::index_of(&id).ok_or_else(|| not_found("product", &id))?;
        let mut product = data::product(i);
        if mode() == Mode::HugeStrings {
            product.description = attacks::control_string();
        }
        Ok(product)
    }

    fn get_products(ids: Vec<String>) -> Result<Vec<Option<Product>>, ProviderError> {
        enter("get-products")?;
        match mode() {
            Mode::WrongIds => Ok((0..ids.len()).map(|i| Some(data::product_for(&rotated(&ids, i)))).collect()),
            Mode::AliasStrings => Ok(ids
                .iter()
                .map(|_| {
                    Some(Product {
                        id: attacks::alias_string(),
                        sku: attacks::alias_string(),
                        name: attacks::alias_string(),
                        description: attacks::alias_string(),
                        category_id: attacks::alias_string(),
                        price: b2connect::provider::types::Money {
                            amount_minor: 1000,
                            currency: attacks::alias_string(),
                        },
                        stock: 1,
                        unit: attacks::alias_string(),
                        active: true,
                        modified_at: 0,
                    })
                })
                .collect()),
            mode => {
                let mut out: Vec<Option<Product>> =
                    ids.iter().map(|id| data::index_of(id).map(data::product)).collect();
                if mode == Mode::HugeStrings
                    && let Some(first) = out.iter_mut().flatten().next()
                {
                    first.description = attacks::control_string();
                }
                Ok(out)
            }
        }
    }

    fn stream_products(filter: ProductFilter) -> Result<ProductCursor, ProviderError> {
        enter("stream-products")?;
        Ok(ProductCursor::new(ProductFeed(Feed::new_for_mode(|| {
            (1..=data::RECORDS)
                .filter(|&i| {
                    data::product_matches(
                        i,
                        filter.modified_since,
                        filter.category_id.as_deref(),
                        filter.name_contains.as_deref(),
                        filter.active_only,
                    )
                })
                .map(data::product)
                .collect()
        }))))
    }

    fn get_customer(id: String) -> Result<Customer, ProviderError> {
        enter("get-customer")?;
        let i = data::index_of(&id).ok_or_else(|| not_found("customer", &id))?;
        let mut customer = data::customer(i);
        if mode() == Mode::HugeStrings {
            customer.name = attacks::control_string();
        }
        Ok(customer)
    }

    fn get_customers(ids: Vec<String>) -> Result<Vec<Option<Customer>>, ProviderError> {
        enter("get-customers")?;
        if mode() == Mode::WrongIds {
            return Ok((0..ids.len()).map(|i| Some(data::customer_for(&rotated(&ids, i)))).collect());
        }
        Ok(ids.iter().map(|id| data::index_of(id).map(data::customer)).collect())
    }

    fn stream_customers(filter: CustomerFilter) -> Result<CustomerCursor, ProviderError> {
        enter("stream-customers")?;
        Ok(CustomerCursor::new(CustomerFeed(Feed::new_for_mode(|| {
            (1..=data::RECORDS)
                .filter(|&i| {
                    data::customer_matches(
                        i,
                        filter.modified_since,
                        filter.name_contains.as_deref(),
                        filter.country.as_deref(),
                    )
                })
                .map(data::customer)
                .collect()
        }))))
    }

    fn create_order(order: OrderRequest) -> Result<ErpOrder, ProviderError> {
        enter("create-order")?;
        if mode() == Mode::HugeOrder {
            return Ok(huge_order(&order));
        }
        make_order(&order)
    }

    fn create_orders(orders: Vec<OrderRequest>) -> Result<BatchResult, ProviderError> {
        enter("create-orders")?;
        if mode() == Mode::BadCounts {
            let fallback = OrderRequest {
                customer_id: "A1".to_string(),
                lines: vec![b2connect::provider::types::OrderLineRequest { product_id: "A1".to_string(), quantity: 1 }],
                external_ref: None,
                note: None,
            };
            let items = (0..orders.len().saturating_add(3))
                .map(|k| {
                    if k % 2 == 0 {
                        make_order(orders.get(k).unwrap_or(&fallback)).or_else(|_| make_order(&fallback))
                    } else {
                        Err(ProviderError::Internal(format!("phantom order {k}")))
                    }
                })
                .collect();
            return Ok(BatchResult { items, succeeded: u32::MAX, failed: u32::MAX });
        }
        let items: Vec<Result<ErpOrder, ProviderError>> = orders.iter().map(make_order).collect();
        let succeeded = ok_count(items.iter().filter(|r| r.is_ok()).count());
        Ok(BatchResult { failed: ok_count(items.len()) - succeeded, succeeded, items })
    }

    fn sync_products(products: Vec<Product>) -> Result<SyncResult, ProviderError> {
        enter("sync-products")?;
        if mode() == Mode::BadCounts {
            return Ok(bad_sync(products.len()));
        }
        Ok(sync(products.iter().map(|p| p.id.as_str())))
    }

    fn sync_customers(customers: Vec<Customer>) -> Result<SyncResult, ProviderError> {
        enter("sync-customers")?;
        if mode() == Mode::BadCounts {
            return Ok(bad_sync(customers.len()));
        }
        Ok(sync(customers.iter().map(|c| c.id.as_str())))
    }

    fn bulk_sync(request: BulkSyncRequest) -> Result<BulkSyncResult, ProviderError> {
        enter("bulk-sync")?;
        if mode() == Mode::BadCounts {
            return Ok(BulkSyncResult {
                products: bad_sync(request.products.len()),
                customers: bad_sync(request.customers.len()),
            });
        }
        Ok(BulkSyncResult {
            products: sync(request.products.iter().map(|p| p.id.as_str())),
            customers: sync(request.customers.iter().map(|c| c.id.as_str())),
        })
    }
}

// ---------------------------------------------------------------------------
// CRM
// ---------------------------------------------------------------------------

/// `over-limit`: `limit + 100` activities of `customer_id`, known or not.
fn too_many_activities(customer_id: &str, limit: u32) -> Vec<Activity> {
    (0..limit.saturating_add(100)).map(|k| data::activity(customer_id, k)).collect()
}

impl CrmGuest for Attacker {
    fn get_contact(id: String) -> Result<Contact, ProviderError> {
        enter("get-contact")?;
        let i = data::index_of(&id).ok_or_else(|| not_found("contact", &id))?;
        let mut contact = data::contact(i);
        if mode() == Mode::HugeStrings {
            contact.last_name = attacks::control_string();
        }
        Ok(contact)
    }

    fn get_contacts(ids: Vec<String>) -> Result<Vec<Option<Contact>>, ProviderError> {
        enter("get-contacts")?;
        if mode() == Mode::WrongIds {
            return Ok((0..ids.len()).map(|i| Some(data::contact_for(&rotated(&ids, i)))).collect());
        }
        Ok(ids.iter().map(|id| data::index_of(id).map(data::contact)).collect())
    }

    fn get_activities(customer_id: String, limit: u32) -> Result<Vec<Activity>, ProviderError> {
        enter("get-activities")?;
        if mode() == Mode::OverLimit {
            return Ok(too_many_activities(&customer_id, limit));
        }
        data::activities(&customer_id, limit).ok_or_else(|| not_found("customer", &customer_id))
    }

    fn get_activities_batch(
        customer_ids: Vec<String>,
        limit: u32,
    ) -> Result<Vec<Option<Vec<Activity>>>, ProviderError> {
        enter("get-activities-batch")?;
        match mode() {
            Mode::OverLimit => Ok(customer_ids.iter().map(|id| Some(too_many_activities(id, limit))).collect()),
            Mode::WrongIds => Ok((0..customer_ids.len())
                .map(|i| {
                    let other = rotated(&customer_ids, i);
                    let own = &customer_ids[i];
                    let count = data::ACTIVITIES_PER_CUSTOMER.min(limit);
                    Some(
                        (0..count).map(|k| Activity { customer_id: other.clone(), ..data::activity(own, k) }).collect(),
                    )
                })
                .collect()),
            _ => Ok(customer_ids.iter().map(|id| data::activities(id, limit)).collect()),
        }
    }
}

// ---------------------------------------------------------------------------
// PIM
// ---------------------------------------------------------------------------

fn catalog(filter: &CatalogFilter) -> Vec<u32> {
    (1..=data::RECORDS)
        .filter(|&i| {
            data::product_matches(
                i,
                filter.modified_since,
                filter.category_id.as_deref(),
                filter.search.as_deref(),
                false,
            )
        })
        .collect()
}

impl PimGuest for Attacker {
    type CatalogCursor = CatalogFeed;

    fn get_product_details(id: String) -> Result<ProductDetails, ProviderError> {
        enter("get-product-details")?;
        let i = data::index_of(&id).ok_or_else(|| not_found("product", &id))?;
        let mut details = data::details(i);
        if mode() == Mode::HugeStrings {
            details.long_description = attacks::control_string();
        }
        Ok(details)
    }

    fn get_categories() -> Result<Vec<Category>, ProviderError> {
        enter("get-categories")?;
        let mut categories = data::categories();
        if mode() == Mode::OverLimit {
            let category = |id: &str, parent: &str| Category {
                id: id.to_string(),
                name: format!("Category {id}"),
                parent_id: Some(parent.to_string()),
                path: format!("{parent} / {id}"),
            };
            categories.push(category("CYC-A", "CYC-B"));
            categories.push(category("CYC-B", "CYC-A"));
            categories.push(category("ORPHAN", "MISSING-PARENT"));
        }
        Ok(categories)
    }

    fn get_catalog(
        filter: CatalogFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<CatalogPage, ProviderError> {
        enter("get-catalog")?;
        if mode() == Mode::OverLimit {
            let items = (0..page_size.saturating_mul(10)).map(|k| data::details(k % data::RECORDS + 1)).collect();
            return Ok(CatalogPage { items, continuation: Some(attacks::huge_token()) });
        }
        if page_size == 0 {
            return Err(ProviderError::InvalidInput("page-size must be at least 1".to_string()));
        }
        let start = match continuation.as_deref() {
            None => 0,
            Some(token) => token
                .strip_prefix("page:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| ProviderError::InvalidInput("malformed continuation token".to_string()))?,
        };
        let matching = catalog(&filter);
        let start = start.min(matching.len());
        let end = matching.len().min(start.saturating_add(page_size as usize));
        Ok(CatalogPage {
            items: matching[start..end].iter().map(|&i| data::details(i)).collect(),
            continuation: (end < matching.len()).then(|| format!("page:{end}")),
        })
    }

    fn stream_catalog(filter: CatalogFilter) -> Result<CatalogCursor, ProviderError> {
        enter("stream-catalog")?;
        Ok(CatalogCursor::new(CatalogFeed(Feed::new_for_mode(|| {
            catalog(&filter).into_iter().map(data::details).collect()
        }))))
    }
}

export!(Attacker);
