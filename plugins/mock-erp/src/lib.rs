//! mock-erp: a provider plugin that serves all three B2Connect interfaces
//! (ERP, CRM, PIM) over a deterministic synthetic data set.
//!
//! Tour:
//! - `data.rs` generates every record from (seed, index), so a catalog of
//!   10 000 000 products costs no memory and is the same on every run.
//! - this file holds the per-instance state (orders, synced records) and
//!   implements the WIT exports. One instance serves one tenant and the host
//!   never calls it concurrently, so plain `RefCell` state is enough.
//!
//! Tenant settings (from the `config` import, all optional):
//! `productCount` (100000), `customerCount` (10000), `contactsPerCustomer`
//! (3), `seed` (derived from the tenant id), `currency` ("EUR"), and the
//! fault-injection hooks for tests and demos of the host's error handling:
//! - `trapOnProductId`: `get-product` of that id traps (the host discards
//!   and recreates the instance);
//! - `faultInjection=on`: `get-product` of `FAULT-NOT-FOUND`,
//!   `FAULT-INVALID-INPUT`, `FAULT-CONFLICT`, `FAULT-UNAVAILABLE`,
//!   `FAULT-TIMEOUT`, `FAULT-UNSUPPORTED`, `FAULT-INTERNAL` answers that
//!   error variant, and `FAULT-SPIN` loops forever (CPU budget / deadline);
//! - `streamFailAfter=N`: product and catalog cursors fail with `internal`
//!   after handing out N records.
//!
//! Two hooks for tests of the host itself:
//! - `get-product("MOCK-ERP-SETTINGS")` answers a product whose description
//!   lists the setting keys this instance sees (`config.get-all`, keys
//!   only), so a test can prove the host keeps its own keys (`limits.*`)
//!   from plugins;
//! - `get-product("MOCK-ERP-WASI")` answers a product whose description
//!   reports what WASI gives this instance: how many environment
//!   variables, whether `/` can be listed or a file created (preopened
//!   directories), and how many of 64 KiB written to stderr were accepted;
//! - [`VARIANT`]: a marker a test patches in the built component to make
//!   distinct versions of this plugin that say which one served a request.

mod data;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

wit_bindgen::generate!({
    world: "full-provider",
    path: "../../wit",
    additional_derives: [PartialEq, Clone],
});

use b2connect::provider::types::{
    Activity, ActivityKind, BatchResult, BulkSyncRequest, BulkSyncResult, CatalogFilter, CatalogPage, Category,
    Contact, Customer, CustomerFilter, ErpOrder, Money, OrderLine, OrderRequest, OrderStatus, Product, ProductDetails,
    ProductFilter, ProviderError, SyncFailure, SyncResult,
};
use b2connect::provider::{config, log};
use data::DataSet;
use exports::b2connect::provider::{crm_provider, erp_provider, pim_provider};

/// Largest batch a cursor hands out per `next`, whatever the host asks for.
const MAX_BATCH: u32 = 10_000;
/// Largest catalog page.
const MAX_PAGE: u32 = 1_000;
/// Largest list accepted by the batch operations.
const MAX_IDS: usize = 10_000;

/// Everything this instance remembers between calls.
struct State {
    data: DataSet,
    trap_on: Option<String>,
    faults: bool,
    stream_fail_after: Option<u64>,
    /// Synced products that replace a generated one, by index.
    replaced_products: HashMap<u64, Product>,
    /// Synced products with ids outside the generated range, in id order.
    extra_products: BTreeMap<String, Product>,
    replaced_customers: HashMap<u64, Customer>,
    extra_customers: BTreeMap<String, Customer>,
    orders: Vec<ErpOrder>,
    /// Order positions in `orders` per customer id, for activities.
    orders_by_customer: HashMap<String, Vec<usize>>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

fn setting<T: std::str::FromStr>(key: &str, default: T) -> T {
    match config::get(key) {
        None => default,
        Some(v) => v.trim().parse().unwrap_or_else(|_| {
            log::log(log::Level::Warn, &format!("setting {key}={v:?} is not valid, using the default"));
            default
        }),
    }
}

/// Runs `f` with the instance state, creating it from the tenant config on
/// first use.
fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let state = slot.get_or_insert_with(|| {
            let tenant = config::tenant_id();
            let data = DataSet {
                seed: setting("seed", data::fnv1a(&tenant)),
                products: setting("productCount", 100_000u64).min(99_999_999),
                customers: setting("customerCount", 10_000u64).min(9_999_999),
                contacts_per_customer: setting("contactsPerCustomer", 3u64).min(9),
                currency: setting("currency", "EUR".to_string()),
            };
            log::log(
                log::Level::Info,
                &format!(
                    "mock-erp ready for tenant {tenant}: {} products, {} customers",
                    data.products, data.customers
                ),
            );
            State {
                data,
                trap_on: config::get("trapOnProductId"),
                faults: config::get("faultInjection").as_deref() == Some("on"),
                stream_fail_after: config::get("streamFailAfter").and_then(|v| v.parse().ok()),
                replaced_products: HashMap::new(),
                extra_products: BTreeMap::new(),
                replaced_customers: HashMap::new(),
                extra_customers: BTreeMap::new(),
                orders: Vec::new(),
                orders_by_customer: HashMap::new(),
            }
        });
        f(state)
    })
}

impl State {
    fn product(&self, id: &str) -> Option<Product> {
        match self.data.product_index(id) {
            Some(i) => Some(self.replaced_products.get(&i).cloned().unwrap_or_else(|| self.data.product(i))),
            None => self.extra_products.get(id).cloned(),
        }
    }

    fn customer(&self, id: &str) -> Option<Customer> {
        match self.data.customer_index(id) {
            Some(i) => Some(self.replaced_customers.get(&i).cloned().unwrap_or_else(|| self.data.customer(i))),
            None => self.extra_customers.get(id).cloned(),
        }
    }

    fn contact(&self, id: &str) -> Option<Contact> {
        self.data.contact_index(id).map(|i| self.data.contact(i))
    }

    fn price(&self, req: &OrderRequest) -> Result<(Vec<OrderLine>, Money), ProviderError> {
        if req.lines.is_empty() {
            return Err(ProviderError::InvalidInput("an order needs at least one line".into()));
        }
        let mut lines = Vec::with_capacity(req.lines.len());
        let mut total = 0i64;
        for (n, line) in req.lines.iter().enumerate() {
            if line.quantity == 0 {
                return Err(ProviderError::InvalidInput(format!("line {n}: quantity must be at least 1")));
            }
            let p = self
                .product(&line.product_id)
                .ok_or_else(|| ProviderError::InvalidInput(format!("line {n}: unknown product {}", line.product_id)))?;
            if !p.active {
                return Err(ProviderError::InvalidInput(format!("line {n}: product {} is not orderable", p.id)));
            }
            let line_total = p.price.amount_minor.saturating_mul(i64::from(line.quantity));
            total = total.saturating_add(line_total);
            lines.push(OrderLine {
                product_id: p.id,
                sku: p.sku,
                quantity: line.quantity,
                line_total: Money { amount_minor: line_total, currency: p.price.currency.clone() },
                unit_price: p.price,
            });
        }
        Ok((lines, Money { amount_minor: total, currency: self.data.currency.clone() }))
    }

    fn create_order(&mut self, req: OrderRequest) -> Result<ErpOrder, ProviderError> {
        let customer = self
            .customer(&req.customer_id)
            .ok_or_else(|| ProviderError::InvalidInput(format!("unknown customer {}", req.customer_id)))?;
        if !customer.active {
            return Err(ProviderError::Conflict(format!("customer {} is blocked for orders", customer.id)));
        }
        if let Some(r) = &req.external_ref
            && let Some(o) = self.orders.iter().find(|o| o.external_ref.as_deref() == Some(r))
        {
            return Err(ProviderError::Conflict(format!("external reference {r} already used by order {}", o.id)));
        }
        let (lines, total) = self.price(&req)?;
        let seq = self.orders.len() + 1;
        let order = ErpOrder {
            id: format!("SO-{seq:08}"),
            customer_id: customer.id.clone(),
            lines,
            total,
            status: OrderStatus::Created,
            external_ref: req.external_ref,
            note: req.note,
            // Orders are placed "now" in the data set's clock, one second
            // apart, so activity order is stable.
            created_at: data::EPOCH_MS + seq as i64 * 1_000,
        };
        self.orders_by_customer.entry(customer.id).or_default().push(self.orders.len());
        self.orders.push(order.clone());
        Ok(order)
    }

    fn activities(&self, customer_id: &str, limit: u32) -> Option<Vec<Activity>> {
        let idx = self.data.customer_index(customer_id);
        if idx.is_none() && !self.extra_customers.contains_key(customer_id) {
            return None;
        }
        let mut out: Vec<Activity> = self
            .orders_by_customer
            .get(customer_id)
            .into_iter()
            .flatten()
            .map(|&pos| {
                let o = &self.orders[pos];
                Activity {
                    id: format!("AC-{}", o.id),
                    customer_id: customer_id.to_string(),
                    contact_id: None,
                    kind: ActivityKind::Order,
                    subject: format!("Order {} placed, total {} {}", o.id, o.total.amount_minor, o.total.currency),
                    occurred_at: o.created_at,
                }
            })
            .rev()
            .collect();
        if let Some(i) = idx {
            out.extend(self.data.activities(i).into_iter().enumerate().map(|(n, (kind, subject, at, contact))| {
                Activity {
                    id: format!("AC-{customer_id}-{n:02}"),
                    customer_id: customer_id.to_string(),
                    contact_id: contact.map(|c| format!("CT{c:08}")),
                    kind,
                    subject,
                    occurred_at: at,
                }
            }));
        }
        // Newest first.
        out.sort_by_key(|a| std::cmp::Reverse(a.occurred_at));
        out.truncate(limit as usize);
        Some(out)
    }
}

fn check_ids(ids: &[String]) -> Result<(), ProviderError> {
    if ids.len() > MAX_IDS {
        return Err(ProviderError::InvalidInput(format!("at most {MAX_IDS} ids per call, got {}", ids.len())));
    }
    Ok(())
}

fn contains_ci(haystack: &str, needle_lower: &str) -> bool {
    haystack.to_lowercase().contains(needle_lower)
}

/// Position of a cursor or page in the product sequence: generated products
/// by index first, then synced extras in id order.
#[derive(Clone, Debug, PartialEq)]
enum Position {
    Generated(u64),
    Extra(Option<String>),
    Done,
}

/// The product sequence with a filter applied: the one scan behind product
/// streams, catalog streams and catalog pages.
/// Whether a built product passes the filter.
type Matcher = Box<dyn Fn(&State, &Product) -> bool>;

struct ProductScan {
    pos: Position,
    matches: Matcher,
    /// Cheap pre-filter on generated facts, so non-matching records are
    /// skipped without building them.
    prefilter: Box<dyn Fn(&data::ProductFacts) -> bool>,
}

impl ProductScan {
    fn next_batch(&mut self, state: &State, max: usize) -> Vec<Product> {
        let mut out = Vec::with_capacity(max.min(1024));
        while out.len() < max {
            match &self.pos {
                Position::Done => break,
                Position::Generated(i) => {
                    let i = *i;
                    if i > state.data.products {
                        self.pos = Position::Extra(None);
                        continue;
                    }
                    self.pos = Position::Generated(i + 1);
                    let p = match state.replaced_products.get(&i) {
                        Some(p) => p.clone(),
                        None => {
                            if !(self.prefilter)(&state.data.product_facts(i)) {
                                continue;
                            }
                            state.data.product(i)
                        }
                    };
                    if (self.matches)(state, &p) {
                        out.push(p);
                    }
                }
                Position::Extra(after) => {
                    let next = match after {
                        None => state.extra_products.iter().next(),
                        Some(k) => state
                            .extra_products
                            .range::<String, _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                            .next(),
                    };
                    match next {
                        None => self.pos = Position::Done,
                        Some((k, p)) => {
                            self.pos = Position::Extra(Some(k.clone()));
                            if (self.matches)(state, p) {
                                out.push(p.clone());
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

fn product_scan(filter: ProductFilter) -> ProductScan {
    let name = filter.name_contains.map(|s| s.to_lowercase());
    let (since, cat, active_only) = (filter.modified_since, filter.category_id, filter.active_only);
    let cat2 = cat.clone();
    ProductScan {
        pos: Position::Generated(1),
        prefilter: Box::new(move |f| {
            (!active_only || f.active)
                && since.is_none_or(|s| f.modified_at >= s)
                && cat2.as_deref().is_none_or(|c| data::category_matches(c, f.root, f.child))
        }),
        matches: Box::new(move |_, p| {
            (!active_only || p.active)
                && since.is_none_or(|s| p.modified_at >= s)
                && cat.as_deref().is_none_or(|c| p.category_id == c || p.category_id.starts_with(&format!("{c}-")))
                && name.as_deref().is_none_or(|n| contains_ci(&p.name, n))
        }),
    }
}

fn catalog_scan(filter: CatalogFilter) -> ProductScan {
    let search = filter.search.map(|s| s.to_lowercase());
    let mut scan = product_scan(ProductFilter {
        modified_since: filter.modified_since,
        category_id: filter.category_id,
        name_contains: None,
        active_only: false,
    });
    let base = scan.matches;
    scan.matches = Box::new(move |s, p| {
        base(s, p) && search.as_deref().is_none_or(|q| contains_ci(&p.name, q) || contains_ci(&p.sku, q))
    });
    scan
}

fn clamp_batch(max: u32) -> usize {
    max.clamp(1, MAX_BATCH) as usize
}

/// Encodes a catalog position as an opaque, restart-proof token: the
/// position is all the state a page needs.
fn encode_token(pos: &Position) -> Option<String> {
    match pos {
        Position::Done => None,
        Position::Generated(i) => Some(format!("g.{i}")),
        Position::Extra(None) => Some("x.".to_string()),
        Position::Extra(Some(k)) => Some(format!("x.{}", k.bytes().map(|b| format!("{b:02x}")).collect::<String>())),
    }
}

fn decode_token(token: &str) -> Result<Position, ProviderError> {
    let bad = || ProviderError::InvalidInput(format!("continuation token {token:?} is not valid"));
    if let Some(n) = token.strip_prefix("g.") {
        return n.parse::<u64>().ok().filter(|&i| i >= 1).map(Position::Generated).ok_or_else(bad);
    }
    if let Some(hex) = token.strip_prefix("x.") {
        if hex.is_empty() {
            return Ok(Position::Extra(None));
        }
        if hex.len() % 2 != 0 {
            return Err(bad());
        }
        let bytes: Option<Vec<u8>> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
        return bytes.and_then(|b| String::from_utf8(b).ok()).map(|k| Position::Extra(Some(k))).ok_or_else(bad);
    }
    Err(bad())
}

fn validate_product(p: &Product) -> Result<(), ProviderError> {
    if p.id.trim().is_empty() {
        return Err(ProviderError::InvalidInput("product id is empty".into()));
    }
    if p.name.trim().is_empty() {
        return Err(ProviderError::InvalidInput(format!("product {}: name is empty", p.id)));
    }
    if p.price.amount_minor < 0 {
        return Err(ProviderError::InvalidInput(format!("product {}: price is negative", p.id)));
    }
    if p.price.currency.len() != 3 || !p.price.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ProviderError::InvalidInput(format!(
            "product {}: currency {:?} is not an ISO 4217 code",
            p.id, p.price.currency
        )));
    }
    Ok(())
}

fn validate_customer(c: &Customer) -> Result<(), ProviderError> {
    if c.id.trim().is_empty() {
        return Err(ProviderError::InvalidInput("customer id is empty".into()));
    }
    if c.name.trim().is_empty() {
        return Err(ProviderError::InvalidInput(format!("customer {}: name is empty", c.id)));
    }
    if !c.email.contains('@') {
        return Err(ProviderError::InvalidInput(format!("customer {}: e-mail {:?} is not valid", c.id, c.email)));
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Upsert {
    Created,
    Updated,
    Unchanged,
}

/// Applies a list of upserts, counting each outcome; one bad record fails
/// alone, as an ERP batch import would report it.
fn sync_all<T>(
    items: Vec<T>,
    id: impl Fn(&T) -> String,
    validate: impl Fn(&T) -> Result<(), ProviderError>,
    mut apply: impl FnMut(T) -> Upsert,
) -> SyncResult {
    let mut r = SyncResult {
        received: items.len() as u32,
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        failures: Vec::new(),
    };
    for (index, item) in items.into_iter().enumerate() {
        if let Err(error) = validate(&item) {
            r.failed += 1;
            r.failures.push(SyncFailure { index: index as u32, id: id(&item), error });
            continue;
        }
        match apply(item) {
            Upsert::Created => r.created += 1,
            Upsert::Updated => r.updated += 1,
            Upsert::Unchanged => r.unchanged += 1,
        }
    }
    r
}

impl State {
    fn upsert_product(&mut self, p: Product) -> Upsert {
        let before = self.product(&p.id);
        let outcome = match &before {
            None => Upsert::Created,
            Some(b) if *b == p => return Upsert::Unchanged,
            Some(_) => Upsert::Updated,
        };
        match self.data.product_index(&p.id) {
            Some(i) => self.replaced_products.insert(i, p),
            None => self.extra_products.insert(p.id.clone(), p),
        };
        outcome
    }

    fn upsert_customer(&mut self, c: Customer) -> Upsert {
        let outcome = match self.customer(&c.id) {
            None => Upsert::Created,
            Some(b) if b == c => return Upsert::Unchanged,
            Some(_) => Upsert::Updated,
        };
        match self.data.customer_index(&c.id) {
            Some(i) => self.replaced_customers.insert(i, c),
            None => self.extra_customers.insert(c.id.clone(), c),
        };
        outcome
    }

    fn sync_products(&mut self, items: Vec<Product>) -> SyncResult {
        sync_all(items, |p| p.id.clone(), validate_product, |p| self.upsert_product(p))
    }

    fn sync_customers(&mut self, items: Vec<Customer>) -> SyncResult {
        sync_all(items, |c| c.id.clone(), validate_customer, |c| self.upsert_customer(c))
    }
}

/// `faultInjection=on`: special ids answer a chosen error variant.
fn injected_fault(id: &str) -> Option<ProviderError> {
    let msg = || format!("injected fault for {id}");
    Some(match id {
        "FAULT-NOT-FOUND" => ProviderError::NotFound(msg()),
        "FAULT-INVALID-INPUT" => ProviderError::InvalidInput(msg()),
        "FAULT-CONFLICT" => ProviderError::Conflict(msg()),
        "FAULT-UNAVAILABLE" => ProviderError::Unavailable(msg()),
        "FAULT-TIMEOUT" => ProviderError::Timeout(msg()),
        "FAULT-UNSUPPORTED" => ProviderError::Unsupported(msg()),
        "FAULT-INTERNAL" => ProviderError::Internal(msg()),
        "FAULT-SPIN" => {
            // Burn CPU until the host stops the call.
            let mut x: u64 = 1;
            loop {
                x = data::mix(x);
                if x == 0 {
                    break ProviderError::Internal(msg());
                }
            }
        }
        _ => return None,
    })
}

/// Build variant marker. The bundled plugin carries it unpatched (the
/// eight `-`) and behaves as documented above. A test that needs several
/// *different* versions of one plugin (a hot swap under load must show
/// which version served each answer) overwrites the eight `-` in the
/// built `.wasm` with eight other ASCII bytes: a same-length edit inside a
/// data segment, so the component stays valid, each copy has its own
/// digest, and no second build of the guest workspace is needed. A patched
/// variant puts `mock-erp variant <tag>` in the description of every
/// product it hands out through `get-product` and product streams.
static VARIANT: [u8; 25] = *b"MOCK-ERP-VARIANT:--------";

/// The patched tag, if any. `black_box` makes the read come from the data
/// segment at run time, so the optimizer cannot fold the unpatched value.
fn variant() -> Option<String> {
    let marker: &[u8; 25] = std::hint::black_box(&VARIANT);
    let tag = &marker[17..];
    (tag != b"--------").then(|| String::from_utf8_lossy(tag).into_owned())
}

/// Stamps a product with the variant that served it (patched builds only).
fn stamped(mut p: Product, variant: &Option<String>) -> Product {
    if let Some(v) = variant {
        p.description = format!("mock-erp variant {v}");
    }
    p
}

/// What the WASI environment of this instance allows (see the module
/// docs): `env=N;fs-list=…;fs-create=…;stderr=BYTES`.
fn wasi_report() -> String {
    use std::io::Write;
    let outcome = |r: std::io::Result<()>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("err({:?})", e.kind()),
    };
    let env = std::env::vars_os().count();
    let list = outcome(std::fs::read_dir("/").map(|_| ()));
    let create = outcome(std::fs::File::create("mock-erp-probe").map(|_| ()));
    let mut stderr = std::io::stderr();
    let chunk = [b'e'; 1024];
    let mut accepted = 0usize;
    for _ in 0..64 {
        match stderr.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => accepted += n,
        }
    }
    format!("env={env};fs-list={list};fs-create={create};stderr={accepted}")
}

struct MockErp;

/// Stream cursor over products; holds only its scan position.
pub struct ProductCursor(RefCell<ProductScan>, std::cell::Cell<u64>);

/// Applies `streamFailAfter`: fails once a cursor has handed out N records.
fn stream_fault(s: &State, sent: &std::cell::Cell<u64>, batch: usize) -> Result<(), ProviderError> {
    if let Some(n) = s.stream_fail_after
        && sent.get() >= n
    {
        return Err(ProviderError::Internal(format!("injected stream failure after {n} records")));
    }
    sent.set(sent.get() + batch as u64);
    Ok(())
}

impl erp_provider::GuestProductCursor for ProductCursor {
    fn next(&self, max: u32) -> Result<Vec<Product>, ProviderError> {
        with_state(|s| {
            let batch = self.0.borrow_mut().next_batch(s, clamp_batch(max));
            stream_fault(s, &self.1, batch.len())?;
            let v = variant();
            Ok(batch.into_iter().map(|p| stamped(p, &v)).collect())
        })
    }
}

/// Stream cursor over customers: generated ones by index, then extras.
pub struct CustomerCursor {
    pos: RefCell<Position>,
    filter: CustomerFilter,
    name: Option<String>,
}

impl CustomerCursor {
    fn matches(&self, c: &Customer) -> bool {
        self.filter.modified_since.is_none_or(|s| c.modified_at >= s)
            && self.filter.country.as_deref().is_none_or(|k| c.address.country.eq_ignore_ascii_case(k))
            && self.name.as_deref().is_none_or(|n| contains_ci(&c.name, n))
    }
}

impl erp_provider::GuestCustomerCursor for CustomerCursor {
    fn next(&self, max: u32) -> Result<Vec<Customer>, ProviderError> {
        let max = clamp_batch(max);
        with_state(|s| {
            let mut out = Vec::new();
            let mut pos = self.pos.borrow_mut();
            while out.len() < max {
                match &*pos {
                    Position::Done => break,
                    Position::Generated(i) => {
                        let i = *i;
                        if i > s.data.customers {
                            *pos = Position::Extra(None);
                            continue;
                        }
                        *pos = Position::Generated(i + 1);
                        if self.filter.modified_since.is_some_and(|m| s.data.customer_modified(i) < m)
                            && !s.replaced_customers.contains_key(&i)
                        {
                            continue;
                        }
                        let c = s.replaced_customers.get(&i).cloned().unwrap_or_else(|| s.data.customer(i));
                        if self.matches(&c) {
                            out.push(c);
                        }
                    }
                    Position::Extra(after) => {
                        let next = match after {
                            None => s.extra_customers.iter().next(),
                            Some(k) => s
                                .extra_customers
                                .range::<String, _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))
                                .next(),
                        };
                        match next {
                            None => *pos = Position::Done,
                            Some((k, c)) => {
                                let keep = self.matches(c).then(|| c.clone());
                                *pos = Position::Extra(Some(k.clone()));
                                out.extend(keep);
                            }
                        }
                    }
                }
            }
            Ok(out)
        })
    }
}

/// Stream cursor over the catalog (products with PIM content).
pub struct CatalogCursor(RefCell<ProductScan>, std::cell::Cell<u64>);

impl pim_provider::GuestCatalogCursor for CatalogCursor {
    fn next(&self, max: u32) -> Result<Vec<ProductDetails>, ProviderError> {
        with_state(|s| {
            let batch = self.0.borrow_mut().next_batch(s, clamp_batch(max));
            stream_fault(s, &self.1, batch.len())?;
            Ok(batch.into_iter().map(|p| s.data.details(p)).collect())
        })
    }
}

impl erp_provider::Guest for MockErp {
    type ProductCursor = ProductCursor;
    type CustomerCursor = CustomerCursor;

    fn get_product(id: String) -> Result<Product, ProviderError> {
        with_state(|s| {
            if s.trap_on.as_deref() == Some(id.as_str()) {
                // Deliberate fault for tests and demos (`trapOnProductId`).
                panic!("mock-erp: trapOnProductId hit for {id}");
            }
            if s.faults
                && let Some(e) = injected_fault(&id)
            {
                return Err(e);
            }
            if id == "MOCK-ERP-WASI" {
                let mut p = s.data.product(1);
                p.id = id;
                p.description = wasi_report();
                return Ok(p);
            }
            if id == "MOCK-ERP-SETTINGS" {
                let keys: Vec<String> = config::get_all().into_iter().map(|(k, _)| k).collect();
                let mut p = s.data.product(1);
                p.id = id;
                p.description = keys.join(",");
                return Ok(p);
            }
            s.product(&id)
                .map(|p| stamped(p, &variant()))
                .ok_or_else(|| ProviderError::NotFound(format!("product {id} does not exist")))
        })
    }

    fn get_products(ids: Vec<String>) -> Result<Vec<Option<Product>>, ProviderError> {
        check_ids(&ids)?;
        Ok(with_state(|s| ids.iter().map(|id| s.product(id)).collect()))
    }

    fn stream_products(filter: ProductFilter) -> Result<erp_provider::ProductCursor, ProviderError> {
        Ok(erp_provider::ProductCursor::new(ProductCursor(RefCell::new(product_scan(filter)), Default::default())))
    }

    fn get_customer(id: String) -> Result<Customer, ProviderError> {
        with_state(|s| s.customer(&id).ok_or_else(|| ProviderError::NotFound(format!("customer {id} does not exist"))))
    }

    fn get_customers(ids: Vec<String>) -> Result<Vec<Option<Customer>>, ProviderError> {
        check_ids(&ids)?;
        Ok(with_state(|s| ids.iter().map(|id| s.customer(id)).collect()))
    }

    fn stream_customers(filter: CustomerFilter) -> Result<erp_provider::CustomerCursor, ProviderError> {
        let name = filter.name_contains.as_ref().map(|n| n.to_lowercase());
        Ok(erp_provider::CustomerCursor::new(CustomerCursor {
            pos: RefCell::new(Position::Generated(1)),
            filter,
            name,
        }))
    }

    fn create_order(order: OrderRequest) -> Result<ErpOrder, ProviderError> {
        with_state(|s| s.create_order(order))
    }

    fn create_orders(orders: Vec<OrderRequest>) -> Result<BatchResult, ProviderError> {
        if orders.len() > MAX_IDS {
            return Err(ProviderError::InvalidInput(format!("at most {MAX_IDS} orders per call")));
        }
        with_state(|s| {
            let items: Vec<_> = orders.into_iter().map(|o| s.create_order(o)).collect();
            let succeeded = items.iter().filter(|r| r.is_ok()).count() as u32;
            Ok(BatchResult { failed: items.len() as u32 - succeeded, succeeded, items })
        })
    }

    fn sync_products(products: Vec<Product>) -> Result<SyncResult, ProviderError> {
        Ok(with_state(|s| s.sync_products(products)))
    }

    fn sync_customers(customers: Vec<Customer>) -> Result<SyncResult, ProviderError> {
        Ok(with_state(|s| s.sync_customers(customers)))
    }

    fn bulk_sync(request: BulkSyncRequest) -> Result<BulkSyncResult, ProviderError> {
        Ok(with_state(|s| BulkSyncResult {
            products: s.sync_products(request.products),
            customers: s.sync_customers(request.customers),
        }))
    }
}

impl crm_provider::Guest for MockErp {
    fn get_contact(id: String) -> Result<Contact, ProviderError> {
        with_state(|s| s.contact(&id).ok_or_else(|| ProviderError::NotFound(format!("contact {id} does not exist"))))
    }

    fn get_contacts(ids: Vec<String>) -> Result<Vec<Option<Contact>>, ProviderError> {
        check_ids(&ids)?;
        Ok(with_state(|s| ids.iter().map(|id| s.contact(id)).collect()))
    }

    fn get_activities(customer_id: String, limit: u32) -> Result<Vec<Activity>, ProviderError> {
        with_state(|s| {
            s.activities(&customer_id, limit)
                .ok_or_else(|| ProviderError::NotFound(format!("customer {customer_id} does not exist")))
        })
    }

    fn get_activities_batch(
        customer_ids: Vec<String>,
        limit: u32,
    ) -> Result<Vec<Option<Vec<Activity>>>, ProviderError> {
        check_ids(&customer_ids)?;
        Ok(with_state(|s| customer_ids.iter().map(|id| s.activities(id, limit)).collect()))
    }
}

impl pim_provider::Guest for MockErp {
    type CatalogCursor = CatalogCursor;

    fn get_product_details(id: String) -> Result<ProductDetails, ProviderError> {
        with_state(|s| {
            s.product(&id)
                .map(|p| s.data.details(p))
                .ok_or_else(|| ProviderError::NotFound(format!("product {id} does not exist")))
        })
    }

    fn get_categories() -> Result<Vec<Category>, ProviderError> {
        Ok(data::categories())
    }

    fn get_catalog(
        filter: CatalogFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<CatalogPage, ProviderError> {
        if page_size == 0 || page_size > MAX_PAGE {
            return Err(ProviderError::InvalidInput(format!("page size must be 1..={MAX_PAGE}, got {page_size}")));
        }
        let mut scan = catalog_scan(filter);
        if let Some(t) = continuation {
            scan.pos = decode_token(&t)?;
        }
        with_state(|s| {
            let items = scan.next_batch(s, page_size as usize);
            // Peek one further so the last page carries no token.
            let mut probe = ProductScan { pos: scan.pos.clone(), matches: scan.matches, prefilter: scan.prefilter };
            let more = !probe.next_batch(s, 1).is_empty();
            Ok(CatalogPage {
                items: items.into_iter().map(|p| s.data.details(p)).collect(),
                continuation: if more { encode_token(&scan.pos) } else { None },
            })
        })
    }

    fn stream_catalog(filter: CatalogFilter) -> Result<pim_provider::CatalogCursor, ProviderError> {
        Ok(pim_provider::CatalogCursor::new(CatalogCursor(RefCell::new(catalog_scan(filter)), Default::default())))
    }
}

export!(MockErp);
