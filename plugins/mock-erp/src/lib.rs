//! mock-erp: a provider plugin that serves all three B2Connect interfaces
//! (ERP, CRM, PIM) over a deterministic synthetic data set, written on the
//! provider SDK (`b2connect-provider`).
//!
//! Tour:
//! - `data.rs` generates every record from (seed, index), so a catalog of
//!   10 000 000 products costs no memory and is the same on every run.
//! - this file holds the per-instance state (orders, synced records) and
//!   implements the SDK's provider traits. One instance serves one tenant
//!   and the host never calls it concurrently; cursors share the state with
//!   the provider through an `Rc<RefCell<State>>`, so a stream sees records
//!   synced after it was opened.
//!
//! Tenant settings (from the `config` import, all optional; a value that
//! does not parse is `invalid-input` naming the key, the SDK's rule):
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
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::rc::Rc;

// `data.rs` names the contract's types as `crate::types`, so the benchmark
// can compile it natively against the host's bindings of the same WIT.
use b2connect_provider::cursor::Source;
use b2connect_provider::types;
use b2connect_provider::types::{
    Activity, ActivityKind, BatchResult, CatalogFilter, CatalogPage, Category, Contact, Customer, CustomerFilter,
    ErpOrder, Money, OrderLine, OrderRequest, OrderStatus, Product, ProductDetails, ProductFilter,
};
use b2connect_provider::{
    Context, CrmProvider, Cursor, ErpProvider, PimProvider, Provider, ProviderError, Result, Synced, batch,
    contains_ci, export_provider, info,
};
use data::DataSet;

/// Largest batch a cursor hands out per `next`, whatever the host asks for.
const MAX_BATCH: usize = 10_000;
/// Largest catalog page.
const MAX_PAGE: u32 = 1_000;
/// Largest list accepted by the batch operations.
const MAX_IDS: usize = 10_000;

/// The provider: the tenant's hooks, and the state its cursors share.
pub struct MockErp {
    ctx: Context,
    trap_on: Option<String>,
    faults: bool,
    stream_fail_after: Option<u64>,
    state: Rc<RefCell<State>>,
}

/// The data set and everything written to it since the instance started.
struct State {
    data: DataSet,
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

impl Provider for MockErp {
    fn new(ctx: &Context) -> Result<Self> {
        let tenant = ctx.tenant_id();
        let data = DataSet {
            seed: ctx.setting_or("seed", data::fnv1a(tenant))?,
            products: ctx.setting_or("productCount", 100_000u64)?.min(99_999_999),
            customers: ctx.setting_or("customerCount", 10_000u64)?.min(9_999_999),
            contacts_per_customer: ctx.setting_or("contactsPerCustomer", 3u64)?.min(9),
            currency: ctx.setting_or("currency", "EUR".to_string())?,
        };
        let stream_fail_after = ctx.setting("streamFailAfter")?;
        info!("mock-erp ready for tenant {tenant}: {} products, {} customers", data.products, data.customers);
        Ok(MockErp {
            ctx: ctx.clone(),
            trap_on: ctx.get("trapOnProductId"),
            faults: ctx.get("faultInjection").as_deref() == Some("on"),
            stream_fail_after,
            state: Rc::new(RefCell::new(State {
                data,
                replaced_products: HashMap::new(),
                extra_products: BTreeMap::new(),
                replaced_customers: HashMap::new(),
                extra_customers: BTreeMap::new(),
                orders: Vec::new(),
                orders_by_customer: HashMap::new(),
            })),
        })
    }
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

    fn price(&self, req: &OrderRequest) -> Result<(Vec<OrderLine>, Money)> {
        if req.lines.is_empty() {
            return Err(ProviderError::invalid_input("an order needs at least one line"));
        }
        let mut lines = Vec::with_capacity(req.lines.len());
        let mut total = 0i64;
        for (n, line) in req.lines.iter().enumerate() {
            if line.quantity == 0 {
                return Err(ProviderError::invalid_input(format!("line {n}: quantity must be at least 1")));
            }
            let p = self.product(&line.product_id).ok_or_else(|| {
                ProviderError::invalid_input(format!("line {n}: unknown product {}", line.product_id))
            })?;
            if !p.active {
                return Err(ProviderError::invalid_input(format!("line {n}: product {} is not orderable", p.id)));
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

    fn create_order(&mut self, req: OrderRequest) -> Result<ErpOrder> {
        let customer = self
            .customer(&req.customer_id)
            .ok_or_else(|| ProviderError::invalid_input(format!("unknown customer {}", req.customer_id)))?;
        if !customer.active {
            return Err(ProviderError::conflict(format!("customer {} is blocked for orders", customer.id)));
        }
        if let Some(r) = &req.external_ref
            && let Some(o) = self.orders.iter().find(|o| o.external_ref.as_deref() == Some(r))
        {
            return Err(ProviderError::conflict(format!("external reference {r} already used by order {}", o.id)));
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

    fn upsert_product(&mut self, p: Product) -> Synced {
        let outcome = match self.product(&p.id) {
            None => Synced::Created,
            Some(b) if b == p => return Synced::Unchanged,
            Some(_) => Synced::Updated,
        };
        match self.data.product_index(&p.id) {
            Some(i) => self.replaced_products.insert(i, p),
            None => self.extra_products.insert(p.id.clone(), p),
        };
        outcome
    }

    fn upsert_customer(&mut self, c: Customer) -> Synced {
        let outcome = match self.customer(&c.id) {
            None => Synced::Created,
            Some(b) if b == c => return Synced::Unchanged,
            Some(_) => Synced::Updated,
        };
        match self.data.customer_index(&c.id) {
            Some(i) => self.replaced_customers.insert(i, c),
            None => self.extra_customers.insert(c.id.clone(), c),
        };
        outcome
    }
}

fn check_ids(ids: &[String]) -> Result<()> {
    if ids.len() > MAX_IDS {
        return Err(ProviderError::invalid_input(format!("at most {MAX_IDS} ids per call, got {}", ids.len())));
    }
    Ok(())
}

fn no_product(id: &str) -> ProviderError {
    ProviderError::not_found(format!("product {id} does not exist"))
}

fn no_customer(id: &str) -> ProviderError {
    ProviderError::not_found(format!("customer {id} does not exist"))
}

/// Whether a product of category `mine` is in category `wanted`: the
/// category itself or one of its children (`CAT-01-02` is in `CAT-01`).
fn in_category(mine: &str, wanted: &str) -> bool {
    mine.strip_prefix(wanted).is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

/// Position of a cursor or page in a record sequence: generated records by
/// index first, then synced extras in id order.
#[derive(Clone, Debug, PartialEq)]
enum Position {
    Generated(u64),
    Extra(Option<String>),
    Done,
}

/// A record kind a scan walks: generated by index (some replaced by synced
/// records), then the synced extras.
trait Records: Clone + 'static {
    fn generated(s: &State) -> u64;
    fn replaced(s: &State, i: u64) -> Option<&Self>;
    fn extras(s: &State) -> &BTreeMap<String, Self>;
    fn build(d: &DataSet, i: u64) -> Self;
}

impl Records for Product {
    fn generated(s: &State) -> u64 {
        s.data.products
    }
    fn replaced(s: &State, i: u64) -> Option<&Self> {
        s.replaced_products.get(&i)
    }
    fn extras(s: &State) -> &BTreeMap<String, Self> {
        &s.extra_products
    }
    fn build(d: &DataSet, i: u64) -> Self {
        d.product(i)
    }
}

impl Records for Customer {
    fn generated(s: &State) -> u64 {
        s.data.customers
    }
    fn replaced(s: &State, i: u64) -> Option<&Self> {
        s.replaced_customers.get(&i)
    }
    fn extras(s: &State) -> &BTreeMap<String, Self> {
        &s.extra_customers
    }
    fn build(d: &DataSet, i: u64) -> Self {
        d.customer(i)
    }
}

/// Whether a generated record, by index, may pass the filter (see `Scan`).
type Prefilter = Box<dyn Fn(&DataSet, u64) -> bool>;

/// A record sequence with a filter applied: the one scan behind every
/// stream and catalog page. It reads the state anew on every call.
struct Scan<T> {
    state: Rc<RefCell<State>>,
    pos: Position,
    /// Cheap pre-filter on a generated record's index, so most
    /// non-matching records are skipped without building them.
    prefilter: Prefilter,
    matches: Box<dyn Fn(&T) -> bool>,
}

impl<T: Records> Scan<T> {
    fn take(&mut self, max: usize) -> Vec<T> {
        let s = self.state.borrow();
        let mut out = Vec::with_capacity(max.min(1024));
        while out.len() < max {
            match &self.pos {
                Position::Done => break,
                Position::Generated(i) if *i > T::generated(&s) => self.pos = Position::Extra(None),
                &Position::Generated(i) => {
                    self.pos = Position::Generated(i + 1);
                    let r = match T::replaced(&s, i) {
                        Some(r) => r.clone(),
                        None if !(self.prefilter)(&s.data, i) => continue,
                        None => T::build(&s.data, i),
                    };
                    if (self.matches)(&r) {
                        out.push(r);
                    }
                }
                Position::Extra(after) => {
                    let extras = T::extras(&s);
                    let next = match after {
                        None => extras.iter().next(),
                        Some(k) => extras.range::<String, _>((Bound::Excluded(k), Bound::Unbounded)).next(),
                    };
                    match next {
                        None => self.pos = Position::Done,
                        Some((k, r)) => {
                            self.pos = Position::Extra(Some(k.clone()));
                            if (self.matches)(r) {
                                out.push(r.clone());
                            }
                        }
                    }
                }
            }
        }
        out
    }
}

impl Source<Customer> for Scan<Customer> {
    fn next(&mut self, max: usize) -> Result<Vec<Customer>> {
        Ok(self.take(max.min(MAX_BATCH)))
    }
}

/// A product or catalog stream: a product scan, `streamFailAfter`, and
/// what becomes of each batch (stamped products or catalog entries).
struct Stream<T> {
    scan: Scan<Product>,
    sent: u64,
    fail_after: Option<u64>,
    finish: fn(&State, Vec<Product>) -> Vec<T>,
}

impl<T: 'static> Source<T> for Stream<T> {
    fn next(&mut self, max: usize) -> Result<Vec<T>> {
        if let Some(n) = self.fail_after
            && self.sent >= n
        {
            return Err(ProviderError::internal(format!("injected stream failure after {n} records")));
        }
        let batch = self.scan.take(max.min(MAX_BATCH));
        self.sent += batch.len() as u64;
        Ok((self.finish)(&self.scan.state.borrow(), batch))
    }
}

impl MockErp {
    fn product_scan(&self, filter: ProductFilter) -> Scan<Product> {
        let (since, active_only, cat) = (filter.modified_since, filter.active_only, filter.category_id.clone());
        Scan {
            state: self.state.clone(),
            pos: Position::Generated(1),
            prefilter: Box::new(move |d, i| {
                let f = d.product_facts(i);
                (!active_only || f.active)
                    && since.is_none_or(|s| f.modified_at >= s)
                    && cat.as_deref().is_none_or(|c| data::category_matches(c, f.root, f.child))
            }),
            matches: Box::new(move |p| filter.matches_with(p, in_category)),
        }
    }

    /// The catalog's scan: the product scan of the catalog filter's
    /// `ProductFilter`, then `search` on name or SKU (tested on the product,
    /// before its PIM content is built).
    fn catalog_scan(&self, filter: CatalogFilter) -> Scan<Product> {
        let search = filter.search.clone();
        let mut scan = self.product_scan(filter.into());
        let base = scan.matches;
        scan.matches = Box::new(move |p| {
            base(p) && search.as_deref().is_none_or(|q| contains_ci(&p.name, q) || contains_ci(&p.sku, q))
        });
        scan
    }

    fn stream<T: 'static>(&self, scan: Scan<Product>, finish: fn(&State, Vec<Product>) -> Vec<T>) -> Cursor<T> {
        Cursor::new(Stream { scan, sent: 0, fail_after: self.stream_fail_after, finish })
    }

    /// A product whose description is a diagnostic report (the
    /// `MOCK-ERP-*` ids).
    fn diagnostic(&self, id: String, description: String) -> Product {
        Product { id, description, ..self.state.borrow().data.product(1) }
    }
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

fn decode_token(token: &str) -> Result<Position> {
    let bad = || ProviderError::invalid_input(format!("continuation token {token:?} is not valid"));
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

fn validate_product(p: &Product) -> Result<()> {
    if p.id.trim().is_empty() {
        return Err(ProviderError::invalid_input("product id is empty"));
    }
    if p.name.trim().is_empty() {
        return Err(ProviderError::invalid_input(format!("product {}: name is empty", p.id)));
    }
    if p.price.amount_minor < 0 {
        return Err(ProviderError::invalid_input(format!("product {}: price is negative", p.id)));
    }
    if p.price.currency.len() != 3 || !p.price.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ProviderError::invalid_input(format!(
            "product {}: currency {:?} is not an ISO 4217 code",
            p.id, p.price.currency
        )));
    }
    Ok(())
}

fn validate_customer(c: &Customer) -> Result<()> {
    if c.id.trim().is_empty() {
        return Err(ProviderError::invalid_input("customer id is empty"));
    }
    if c.name.trim().is_empty() {
        return Err(ProviderError::invalid_input(format!("customer {}: name is empty", c.id)));
    }
    if !c.email.contains('@') {
        return Err(ProviderError::invalid_input(format!("customer {}: e-mail {:?} is not valid", c.id, c.email)));
    }
    Ok(())
}

/// `faultInjection=on`: special ids answer a chosen error variant (spelt
/// out: `ProviderError::unsupported` would word the message differently).
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

impl ErpProvider for MockErp {
    fn get_product(&mut self, id: String) -> Result<Product> {
        if self.trap_on.as_deref() == Some(id.as_str()) {
            // Deliberate fault for tests and demos (`trapOnProductId`).
            panic!("mock-erp: trapOnProductId hit for {id}");
        }
        if self.faults
            && let Some(e) = injected_fault(&id)
        {
            return Err(e);
        }
        match id.as_str() {
            "MOCK-ERP-WASI" => Ok(self.diagnostic(id, wasi_report())),
            "MOCK-ERP-SETTINGS" => {
                let keys: Vec<String> = self.ctx.settings().into_iter().map(|(k, _)| k).collect();
                Ok(self.diagnostic(id, keys.join(",")))
            }
            _ => self.state.borrow().product(&id).map(|p| stamped(p, &variant())).ok_or_else(|| no_product(&id)),
        }
    }

    /// Plain lookups: no hooks, no variant stamp.
    fn get_products(&mut self, ids: Vec<String>) -> Result<Vec<Option<Product>>> {
        check_ids(&ids)?;
        let s = self.state.borrow();
        batch::get_many(ids, |id| s.product(&id).ok_or_else(|| no_product(&id)))
    }

    fn stream_products(&mut self, filter: ProductFilter) -> Result<Cursor<Product>> {
        Ok(self.stream(self.product_scan(filter), |_, batch| {
            let v = variant();
            batch.into_iter().map(|p| stamped(p, &v)).collect()
        }))
    }

    fn get_customer(&mut self, id: String) -> Result<Customer> {
        self.state.borrow().customer(&id).ok_or_else(|| no_customer(&id))
    }

    fn get_customers(&mut self, ids: Vec<String>) -> Result<Vec<Option<Customer>>> {
        check_ids(&ids)?;
        batch::get_many(ids, |id| self.get_customer(id))
    }

    fn stream_customers(&mut self, filter: CustomerFilter) -> Result<Cursor<Customer>> {
        let since = filter.modified_since;
        Ok(Cursor::new(Scan {
            state: self.state.clone(),
            pos: Position::Generated(1),
            prefilter: Box::new(move |d, i| since.is_none_or(|m| d.customer_modified(i) >= m)),
            matches: Box::new(move |c| filter.matches(c)),
        }))
    }

    fn create_order(&mut self, order: OrderRequest) -> Result<ErpOrder> {
        self.state.borrow_mut().create_order(order)
    }

    fn create_orders(&mut self, orders: Vec<OrderRequest>) -> Result<BatchResult> {
        if orders.len() > MAX_IDS {
            return Err(ProviderError::invalid_input(format!("at most {MAX_IDS} orders per call")));
        }
        batch::create_each(orders, |o| self.create_order(o))
    }

    fn sync_product(&mut self, product: Product) -> Result<Synced> {
        validate_product(&product)?;
        Ok(self.state.borrow_mut().upsert_product(product))
    }

    fn sync_customer(&mut self, customer: Customer) -> Result<Synced> {
        validate_customer(&customer)?;
        Ok(self.state.borrow_mut().upsert_customer(customer))
    }
}

impl CrmProvider for MockErp {
    fn get_contact(&mut self, id: String) -> Result<Contact> {
        let s = self.state.borrow();
        let contact = s.data.contact_index(&id).map(|i| s.data.contact(i));
        contact.ok_or_else(|| ProviderError::not_found(format!("contact {id} does not exist")))
    }

    fn get_contacts(&mut self, ids: Vec<String>) -> Result<Vec<Option<Contact>>> {
        check_ids(&ids)?;
        batch::get_many(ids, |id| self.get_contact(id))
    }

    fn get_activities(&mut self, customer_id: String, limit: u32) -> Result<Vec<Activity>> {
        self.state.borrow().activities(&customer_id, limit).ok_or_else(|| no_customer(&customer_id))
    }

    fn get_activities_batch(&mut self, customer_ids: Vec<String>, limit: u32) -> Result<Vec<Option<Vec<Activity>>>> {
        check_ids(&customer_ids)?;
        batch::get_many(customer_ids, |id| self.get_activities(id, limit))
    }
}

impl PimProvider for MockErp {
    fn get_product_details(&mut self, id: String) -> Result<ProductDetails> {
        let s = self.state.borrow();
        s.product(&id).map(|p| s.data.details(p)).ok_or_else(|| no_product(&id))
    }

    fn get_categories(&mut self) -> Result<Vec<Category>> {
        Ok(data::categories())
    }

    fn get_catalog(
        &mut self,
        filter: CatalogFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<CatalogPage> {
        if page_size == 0 || page_size > MAX_PAGE {
            return Err(ProviderError::invalid_input(format!("page size must be 1..={MAX_PAGE}, got {page_size}")));
        }
        let mut scan = self.catalog_scan(filter);
        if let Some(t) = continuation {
            scan.pos = decode_token(&t)?;
        }
        let items = scan.take(page_size as usize);
        let after = scan.pos.clone();
        // Peek one further so the last page carries no token.
        let more = !scan.take(1).is_empty();
        let s = self.state.borrow();
        Ok(CatalogPage {
            items: items.into_iter().map(|p| s.data.details(p)).collect(),
            continuation: if more { encode_token(&after) } else { None },
        })
    }

    fn stream_catalog(&mut self, filter: CatalogFilter) -> Result<Cursor<ProductDetails>> {
        Ok(self.stream(self.catalog_scan(filter), |s, batch| batch.into_iter().map(|p| s.data.details(p)).collect()))
    }
}

export_provider!(MockErp: erp, crm, pim);
