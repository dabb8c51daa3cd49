//! TEST FIXTURE for `b2c-host plugin check`: a correct provider of all
//! three kinds over 30 products, 12 customers and one contact, which
//! breaks exactly one rule of the contract when its `break` setting names
//! it (values below). Each broken rule is one the SDK and the host's
//! per-answer checks cannot catch on their own, or one whose breach the
//! host reports as a contract error; `host/tests/conformance.rs` checks
//! that each value fails exactly its rule.

use b2connect_provider::types::*;
use b2connect_provider::{Context, CrmProvider, Cursor, ErpProvider, PimProvider, Provider, ProviderError, Synced};

pub struct Sloppy {
    broken: String,
    products: Vec<Product>,
    customers: Vec<Customer>,
}

impl Sloppy {
    fn breaks(&self, rule: &str) -> bool {
        self.broken == rule
    }
}

/// The break used when the `break` setting is unset: none. A test patches
/// the underscores in the built component's bytes (same length, so the
/// component stays valid) to get a variant that is broken with no settings
/// at all, as publish runs it (`serve --require-conformance`).
const DEFAULT_BREAK: &str = "SLOPPY-DEFAULT-BREAK:________________________________";

fn default_break() -> String {
    // black_box: the bytes must stay in the data segment, not be folded.
    let marked = std::hint::black_box(DEFAULT_BREAK);
    marked.trim_start_matches("SLOPPY-DEFAULT-BREAK:").trim_end_matches('_').to_string()
}

impl Provider for Sloppy {
    /// `break=init-panic`: panics in `lifecycle.init` (no conformance rule;
    /// a bind must be refused with the panic message).
    fn new(ctx: &Context) -> Result<Self, ProviderError> {
        if ctx.get("break").as_deref() == Some("init-panic") {
            panic!("sloppy refuses to start: break=init-panic");
        }
        Ok(Sloppy {
            broken: ctx.get("break").unwrap_or_else(default_break),
            products: (1..=30).map(product).collect(),
            customers: (1..=12).map(customer).collect(),
        })
    }

    /// `break=shutdown-hang`: never returns from `lifecycle.shutdown` (no
    /// conformance rule; the host's shutdown limit must end it).
    fn shutdown(&mut self) {
        while self.breaks("shutdown-hang") {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

fn product(i: u32) -> Product {
    Product {
        id: format!("P{i:02}"),
        sku: format!("SKU-{i}"),
        name: format!("Widget {i}"),
        description: String::new(),
        category_id: "C1".into(),
        price: Money { amount_minor: 100 * i as i64, currency: "EUR".into() },
        stock: i as i64,
        unit: "pcs".into(),
        // Every third product cannot be ordered: `active-only` selects.
        active: !i.is_multiple_of(3),
        modified_at: 1_700_000_000_000 + i as i64 * 1000,
    }
}

fn customer(i: u32) -> Customer {
    Customer {
        id: format!("C{i:02}"),
        number: format!("{i}"),
        name: format!("Customer {i}"),
        email: String::new(),
        phone: String::new(),
        address: Address {
            street: String::new(),
            postal_code: String::new(),
            city: String::new(),
            country: if i.is_multiple_of(2) { "DE".into() } else { "AT".into() },
        },
        credit_limit: Money { amount_minor: 0, currency: "EUR".into() },
        active: true,
        modified_at: 1_700_000_000_000 + i as i64 * 1000,
    }
}

fn details(p: &Product) -> ProductDetails {
    ProductDetails {
        product: p.clone(),
        long_description: format!("About {}", p.name),
        attributes: Vec::new(),
        images: Vec::new(),
        category_path: vec!["C1".into()],
    }
}

fn not_found(id: &str) -> ProviderError {
    ProviderError::not_found(format!("no record {id}"))
}

impl ErpProvider for Sloppy {
    fn get_product(&mut self, id: String) -> Result<Product, ProviderError> {
        if self.breaks("slow") {
            // Inside any call timeout, but a check's ~20 single gets add up:
            // the check's own deadline is what stops it.
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
        if self.breaks("slower") {
            // Over a short call timeout: each get times out.
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        if self.breaks("stall") {
            // One get that takes 20 s, inside the default call timeout of 30:
            // what a check stopped at its deadline must not wait for.
            std::thread::sleep(std::time::Duration::from_secs(20));
        }
        if self.breaks("unknown-not-found") && !id.starts_with('P') {
            return Err(ProviderError::internal("lookup failed"));
        }
        let mut p = self.products.iter().find(|p| p.id == id).cloned().ok_or_else(|| not_found(&id))?;
        if self.breaks("stream-equals-get") {
            p.stock += 1;
        }
        Ok(p)
    }

    fn get_products(&mut self, ids: Vec<String>) -> Result<Vec<Option<Product>>, ProviderError> {
        let mut found: Vec<Option<Product>> =
            ids.iter().map(|id| self.products.iter().find(|p| &p.id == id).cloned()).collect();
        if self.breaks("batch-order") {
            found.reverse();
        }
        Ok(found)
    }

    fn stream_products(&mut self, filter: ProductFilter) -> Result<Cursor<Product>, ProviderError> {
        let mut hits: Vec<Product> = if self.breaks("stream-filter") {
            self.products.clone()
        } else if self.breaks("stream-filter-drops") && filter.name_contains.is_some() {
            // Keeps nothing it was asked to: no record it hands out is
            // wrong, the wrong is in what it leaves out.
            Vec::new()
        } else {
            self.products.iter().filter(|p| filter.matches(p)).cloned().collect()
        };
        if self.breaks("stream-duplicates") && !hits.is_empty() {
            hits.push(hits[0].clone());
        }
        Ok(Cursor::from_iter(hits))
    }

    fn get_customer(&mut self, id: String) -> Result<Customer, ProviderError> {
        self.customers.iter().find(|c| c.id == id).cloned().ok_or_else(|| not_found(&id))
    }

    fn stream_customers(&mut self, filter: CustomerFilter) -> Result<Cursor<Customer>, ProviderError> {
        Ok(Cursor::from_iter(self.customers.iter().filter(|c| filter.matches(c)).cloned().collect::<Vec<_>>()))
    }

    fn create_order(&mut self, order: OrderRequest) -> Result<ErpOrder, ProviderError> {
        let line = order.lines.first().ok_or_else(|| ProviderError::invalid_input("an order needs a line"))?;
        let p = self.products.iter().find(|p| p.id == line.product_id).ok_or_else(|| not_found(&line.product_id))?;
        let total = Money { amount_minor: p.price.amount_minor * line.quantity as i64, currency: "EUR".into() };
        Ok(ErpOrder {
            id: format!("O-{}", order.external_ref.clone().unwrap_or_default()),
            customer_id: order.customer_id,
            lines: vec![OrderLine {
                product_id: p.id.clone(),
                sku: p.sku.clone(),
                quantity: line.quantity,
                unit_price: p.price.clone(),
                line_total: total.clone(),
            }],
            total,
            status: OrderStatus::Created,
            external_ref: order.external_ref,
            note: order.note,
            created_at: 1_700_000_000_000,
        })
    }

    fn create_orders(&mut self, orders: Vec<OrderRequest>) -> Result<BatchResult, ProviderError> {
        let mut r = b2connect_provider::batch::create_each(orders, |o| self.create_order(o))?;
        if self.breaks("orders-miscount") {
            r.succeeded += 1;
        }
        Ok(r)
    }

    fn sync_product(&mut self, product: Product) -> Result<Synced, ProviderError> {
        if self.breaks("sync-not-idempotent") {
            return Ok(Synced::Updated);
        }
        match self.products.iter_mut().find(|p| p.id == product.id) {
            Some(p) if *p == product => Ok(Synced::Unchanged),
            Some(p) => {
                *p = product;
                Ok(Synced::Updated)
            }
            None => {
                self.products.push(product);
                Ok(Synced::Created)
            }
        }
    }
}

impl CrmProvider for Sloppy {
    fn get_contact(&mut self, id: String) -> Result<Contact, ProviderError> {
        if self.breaks("contact-unknown") {
            return Err(ProviderError::unavailable("directory down"));
        }
        Err(not_found(&id))
    }

    fn get_activities(&mut self, customer_id: String, _limit: u32) -> Result<Vec<Activity>, ProviderError> {
        if self.customers.iter().any(|c| c.id == customer_id) || self.breaks("activities-unknown") {
            return Ok(Vec::new());
        }
        Err(not_found(&customer_id))
    }
}

impl PimProvider for Sloppy {
    fn get_product_details(&mut self, id: String) -> Result<ProductDetails, ProviderError> {
        if self.breaks("slow-details") {
            // As `slow`, for the PIM rules: the deadline falls among them.
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
        let p = self.products.iter().find(|p| p.id == id).ok_or_else(|| not_found(&id))?;
        let mut d = details(p);
        if self.breaks("details-differ") {
            d.long_description.push('!');
        }
        Ok(d)
    }

    fn get_categories(&mut self) -> Result<Vec<Category>, ProviderError> {
        Ok(vec![Category { id: "C1".into(), name: "All".into(), parent_id: None, path: "All".into() }])
    }

    fn get_catalog(
        &mut self,
        _filter: CatalogFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<CatalogPage, ProviderError> {
        let start: usize = match continuation.as_deref() {
            None => 0,
            Some(t) => match t.strip_prefix("at:").and_then(|n| n.parse().ok()) {
                Some(n) => n,
                None if self.breaks("foreign-token") => 0,
                None => return Err(ProviderError::invalid_input(format!("not a token of this catalog: {t}"))),
            },
        };
        let size = page_size.max(1) as usize;
        let mut end = (start + size).min(self.products.len());
        // Pages that leave out the last product: they no longer cover the stream.
        if self.breaks("pages-short") {
            end = end.min(self.products.len() - 1);
        }
        let items = self.products[start..end].iter().map(details).collect();
        let next = if self.breaks("pages-overlap") { end.saturating_sub(1) } else { end };
        let continuation = if self.breaks("pages-endless") {
            Some(format!("at:{start}"))
        } else if end < self.products.len() && !(self.breaks("pages-short") && end + 1 >= self.products.len()) {
            Some(format!("at:{next}"))
        } else {
            None
        };
        Ok(CatalogPage { items, continuation })
    }

    fn stream_catalog(&mut self, _filter: CatalogFilter) -> Result<Cursor<ProductDetails>, ProviderError> {
        Ok(Cursor::from_iter(self.products.iter().map(details).collect::<Vec<_>>()))
    }
}

b2connect_provider::export_provider!(Sloppy: erp, crm, pim);
