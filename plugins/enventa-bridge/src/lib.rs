//! enventa-bridge: the provider for enventa Trade ERP.
//!
//! It implements the provider interfaces by speaking the enventa wire
//! protocol (`proto/enventa.proto`, `docs/enventa-protocol.md`) to the
//! tenant's .NET container through the host's `socket` capability.
//!
//! - `session.rs`: connection, Hello/Login, one request at a time, reconnect.
//! - this file: the operations and the mapping between enventa records and
//!   the contract's types.
//!
//! What the ERP data can serve: every ERP operation; for CRM, contacts
//! (the ERP's customer contact persons); for PIM, product details, catalog
//! pages and streams (from articles) and categories (article groups).
//! CRM activities are not kept in the ERP tables this protocol exposes:
//! `get-activities` and `get-activities-batch` answer `unsupported`, so a
//! tenant that needs them binds CRM to another plugin.
//!
//! Settings (binding `config`): `enventaUser`, `enventaPassword`,
//! `enventaMandant`, `syncBatchSize` (records per Upsert, default 1000,
//! at most 1000).

mod session;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

wit_bindgen::generate!({
    world: "full-provider",
    path: "../../wit",
});

use b2connect::provider::config;
use b2connect::provider::types::*;
use enventa_proto::v1::{self, Entity, condition, request, response};
use exports::b2connect::provider::{crm_provider, erp_provider, pim_provider};
use session::Session;

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::new());
}

fn with_session<R>(f: impl FnOnce(&mut Session) -> Result<R, ProviderError>) -> Result<R, ProviderError> {
    SESSION.with(|s| f(&mut s.borrow_mut()))
}

fn unexpected<T>(what: &str) -> Result<T, ProviderError> {
    Err(ProviderError::Internal(format!("unexpected answer to {what}")))
}

fn field<'a>(r: &'a v1::Record, k: &str) -> &'a str {
    r.fields.get(k).map(String::as_str).unwrap_or("")
}

fn num(r: &v1::Record, k: &str) -> i64 {
    field(r, k).parse().unwrap_or(0)
}

// ---- mapping -----------------------------------------------------------------

fn product(r: &v1::Record) -> Product {
    Product {
        id: r.id.clone(),
        sku: field(r, "sku").into(),
        name: field(r, "name").into(),
        description: field(r, "description").into(),
        category_id: format!("G{}", field(r, "group")),
        price: Money { amount_minor: num(r, "price_minor"), currency: field(r, "currency").into() },
        stock: num(r, "stock"),
        unit: field(r, "unit").into(),
        active: field(r, "active") != "false",
        modified_at: r.modified_at,
    }
}

fn article(p: &Product) -> v1::Record {
    let mut f = BTreeMap::new();
    f.insert("sku".into(), p.sku.clone());
    f.insert("name".into(), p.name.clone());
    f.insert("description".into(), p.description.clone());
    f.insert("group".into(), p.category_id.strip_prefix('G').unwrap_or(&p.category_id).to_string());
    f.insert("price_minor".into(), p.price.amount_minor.to_string());
    f.insert("currency".into(), p.price.currency.clone());
    f.insert("stock".into(), p.stock.to_string());
    f.insert("unit".into(), p.unit.clone());
    f.insert("active".into(), p.active.to_string());
    v1::Record { id: p.id.clone(), row_version: 0, modified_at: 0, fields: f }
}

fn customer(r: &v1::Record) -> Customer {
    Customer {
        id: r.id.clone(),
        number: field(r, "number").into(),
        name: field(r, "name").into(),
        email: field(r, "email").into(),
        phone: field(r, "phone").into(),
        address: Address {
            street: field(r, "street").into(),
            postal_code: field(r, "postal_code").into(),
            city: field(r, "city").into(),
            country: field(r, "country").into(),
        },
        credit_limit: Money { amount_minor: num(r, "credit_limit_minor"), currency: field(r, "currency").into() },
        active: field(r, "active") != "false",
        modified_at: r.modified_at,
    }
}

fn customer_record(c: &Customer) -> v1::Record {
    let mut f = BTreeMap::new();
    f.insert("number".into(), c.number.clone());
    f.insert("name".into(), c.name.clone());
    f.insert("email".into(), c.email.clone());
    f.insert("phone".into(), c.phone.clone());
    f.insert("street".into(), c.address.street.clone());
    f.insert("postal_code".into(), c.address.postal_code.clone());
    f.insert("city".into(), c.address.city.clone());
    f.insert("country".into(), c.address.country.clone());
    f.insert("credit_limit_minor".into(), c.credit_limit.amount_minor.to_string());
    f.insert("currency".into(), c.credit_limit.currency.clone());
    f.insert("active".into(), c.active.to_string());
    v1::Record { id: c.id.clone(), row_version: 0, modified_at: 0, fields: f }
}

fn details(p: Product, r: &v1::Record) -> ProductDetails {
    ProductDetails {
        long_description: format!("{} ({})", p.description, field(r, "group_name")),
        attributes: r
            .fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "name" | "description" | "sku" | "price_minor" | "currency"))
            .map(|(k, v)| Attribute { name: k.clone(), value: v.clone() })
            .collect(),
        images: Vec::new(),
        category_path: vec![field(r, "group_name").to_string()],
        product: p,
    }
}

fn cond(field: &str, op: condition::Op) -> v1::Condition {
    v1::Condition { field: field.into(), op: Some(op) }
}

fn product_conditions(f: &ProductFilter) -> Vec<v1::Condition> {
    let mut c = Vec::new();
    if let Some(s) = f.modified_since {
        c.push(cond("modified_at", condition::Op::Range(v1::Range { from: s.to_string(), to: String::new() })));
    }
    if let Some(cat) = &f.category_id {
        c.push(cond("group", condition::Op::Eq(cat.strip_prefix('G').unwrap_or(cat).to_string())));
    }
    if let Some(n) = &f.name_contains {
        c.push(cond("name", condition::Op::Like(format!("%{n}%"))));
    }
    if f.active_only {
        c.push(cond("active", condition::Op::Eq("true".into())));
    }
    c
}

// ---- reads -------------------------------------------------------------------

/// Records by id in request order, `None` for missing ids; asks in chunks
/// of the server's limit (1000 for enventa).
fn get_by_ids(entity: Entity, ids: &[String]) -> Result<Vec<Option<v1::Record>>, ProviderError> {
    with_session(|s| {
        let mut found: HashMap<String, v1::Record> = HashMap::new();
        let mut unique: Vec<String> = ids.to_vec();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(s.max_ids) {
            let body = request::Body::GetByIds(v1::GetByIds { entity: entity as i32, ids: chunk.to_vec() });
            match s.call(body, true)? {
                response::Body::Records(r) => found.extend(r.records.into_iter().map(|r| (r.id.clone(), r))),
                _ => return unexpected("GetByIds"),
            }
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    })
}

fn get_one(entity: Entity, id: &str) -> Result<v1::Record, ProviderError> {
    get_by_ids(entity, &[id.to_string()])?.pop().flatten().ok_or_else(|| {
        ProviderError::NotFound(format!(
            "{} {id} does not exist",
            if entity == Entity::Article { "article" } else { "customer" }
        ))
    })
}

/// One page of a query.
fn query(
    entity: Entity,
    conditions: &[v1::Condition],
    page: u32,
    continuation: &str,
) -> Result<(Vec<v1::Record>, String), ProviderError> {
    with_session(|s| {
        let body = request::Body::Query(v1::Query {
            entity: entity as i32,
            conditions: conditions.to_vec(),
            page_size: page.clamp(1, s.max_page),
            continuation: continuation.to_string(),
            since_row_version: 0,
        });
        match s.call(body, true)? {
            response::Body::Page(p) => Ok((p.records, p.continuation)),
            _ => unexpected("Query"),
        }
    })
}

/// A pull cursor over a query: pages through the container until it has
/// records or the query is exhausted (an empty list then ends the stream).
pub struct QueryCursor {
    entity: Entity,
    conditions: Vec<v1::Condition>,
    continuation: RefCell<Option<String>>,
}

impl QueryCursor {
    fn new(entity: Entity, conditions: Vec<v1::Condition>) -> Self {
        Self { entity, conditions, continuation: RefCell::new(Some(String::new())) }
    }

    fn pull(&self, max: u32) -> Result<Vec<v1::Record>, ProviderError> {
        loop {
            let Some(token) = self.continuation.borrow().clone() else { return Ok(Vec::new()) };
            let (records, next) = query(self.entity, &self.conditions, max, &token)?;
            *self.continuation.borrow_mut() = (!next.is_empty()).then_some(next);
            if !records.is_empty() || self.continuation.borrow().is_none() {
                return Ok(records);
            }
        }
    }
}

impl erp_provider::GuestProductCursor for QueryCursor {
    fn next(&self, max: u32) -> Result<Vec<Product>, ProviderError> {
        Ok(self.pull(max)?.iter().map(product).collect())
    }
}

impl erp_provider::GuestCustomerCursor for QueryCursor {
    fn next(&self, max: u32) -> Result<Vec<Customer>, ProviderError> {
        Ok(self.pull(max)?.iter().map(customer).collect())
    }
}

impl pim_provider::GuestCatalogCursor for QueryCursor {
    fn next(&self, max: u32) -> Result<Vec<ProductDetails>, ProviderError> {
        Ok(self.pull(max)?.iter().map(|r| details(product(r), r)).collect())
    }
}

// ---- writes ------------------------------------------------------------------

fn sync_batch_size() -> usize {
    config::get("syncBatchSize").and_then(|v| v.parse().ok()).unwrap_or(1000).clamp(1, enventa_proto::MAX_IDS)
}

/// Upserts in batches of `syncBatchSize`, each committed by the ERP on its
/// own; per-item failures are reported, not fatal.
fn upsert(entity: Entity, records: Vec<(String, v1::Record)>) -> Result<SyncResult, ProviderError> {
    let mut r = SyncResult {
        received: records.len() as u32,
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        failures: Vec::new(),
    };
    let batch = sync_batch_size();
    let mut index = 0u32;
    for chunk in records.chunks(batch) {
        let body = request::Body::Upsert(v1::Upsert {
            entity: entity as i32,
            records: chunk.iter().map(|(_, rec)| rec.clone()).collect(),
            check_row_version: false,
        });
        let result = match with_session(|s| s.call(body, false))? {
            response::Body::UpsertResult(u) => u,
            _ => return unexpected("Upsert"),
        };
        if result.items.len() != chunk.len() {
            return Err(ProviderError::Internal(format!(
                "Upsert answered {} items for {}",
                result.items.len(),
                chunk.len()
            )));
        }
        for item in result.items {
            if item.ok {
                if item.unchanged {
                    r.unchanged += 1;
                } else if item.created {
                    r.created += 1;
                } else {
                    r.updated += 1;
                }
            } else {
                r.failed += 1;
                let error =
                    item.error.map(session::protocol_error).unwrap_or_else(|| ProviderError::Internal("failed".into()));
                r.failures.push(SyncFailure { index, id: item.id, error });
            }
            index += 1;
        }
    }
    Ok(r)
}

fn create_order(o: &OrderRequest) -> Result<ErpOrder, ProviderError> {
    let body = request::Body::CreateOrder(v1::CreateOrder {
        customer_id: o.customer_id.clone(),
        lines: o
            .lines
            .iter()
            .map(|l| v1::OrderLine { article_id: l.product_id.clone(), quantity: l.quantity })
            .collect(),
        external_ref: o.external_ref.clone().unwrap_or_default(),
        note: o.note.clone().unwrap_or_default(),
    });
    let order = match with_session(|s| s.call(body, false))? {
        response::Body::Order(o) => o,
        _ => return unexpected("CreateOrder"),
    };
    let rec = order.record.ok_or_else(|| ProviderError::Internal("order without record".into()))?;
    let currency = field(&rec, "currency").to_string();
    let money = |m: i64| Money { amount_minor: m, currency: currency.clone() };
    Ok(ErpOrder {
        id: rec.id.clone(),
        customer_id: field(&rec, "customer_id").into(),
        lines: order
            .lines
            .iter()
            .map(|l| OrderLine {
                product_id: field(l, "article_id").into(),
                sku: field(l, "sku").into(),
                quantity: num(l, "quantity") as u32,
                unit_price: money(num(l, "unit_price_minor")),
                line_total: money(num(l, "line_total_minor")),
            })
            .collect(),
        total: money(num(&rec, "total_minor")),
        status: OrderStatus::Created,
        external_ref: Some(field(&rec, "external_ref")).filter(|s| !s.is_empty()).map(str::to_string),
        note: Some(field(&rec, "note")).filter(|s| !s.is_empty()).map(str::to_string),
        created_at: rec.modified_at,
    })
}

// ---- exports -----------------------------------------------------------------

struct Bridge;

impl erp_provider::Guest for Bridge {
    type ProductCursor = QueryCursor;
    type CustomerCursor = QueryCursor;

    fn get_product(id: String) -> Result<Product, ProviderError> {
        Ok(product(&get_one(Entity::Article, &id)?))
    }
    fn get_products(ids: Vec<String>) -> Result<Vec<Option<Product>>, ProviderError> {
        Ok(get_by_ids(Entity::Article, &ids)?.iter().map(|r| r.as_ref().map(product)).collect())
    }
    fn stream_products(filter: ProductFilter) -> Result<erp_provider::ProductCursor, ProviderError> {
        Ok(erp_provider::ProductCursor::new(QueryCursor::new(Entity::Article, product_conditions(&filter))))
    }
    fn get_customer(id: String) -> Result<Customer, ProviderError> {
        Ok(customer(&get_one(Entity::Customer, &id)?))
    }
    fn get_customers(ids: Vec<String>) -> Result<Vec<Option<Customer>>, ProviderError> {
        Ok(get_by_ids(Entity::Customer, &ids)?.iter().map(|r| r.as_ref().map(customer)).collect())
    }
    fn stream_customers(filter: CustomerFilter) -> Result<erp_provider::CustomerCursor, ProviderError> {
        let mut c = Vec::new();
        if let Some(s) = filter.modified_since {
            c.push(cond("modified_at", condition::Op::Range(v1::Range { from: s.to_string(), to: String::new() })));
        }
        if let Some(n) = &filter.name_contains {
            c.push(cond("name", condition::Op::Like(format!("%{n}%"))));
        }
        if let Some(k) = &filter.country {
            c.push(cond("country", condition::Op::Eq(k.to_uppercase())));
        }
        Ok(erp_provider::CustomerCursor::new(QueryCursor::new(Entity::Customer, c)))
    }
    fn create_order(order: OrderRequest) -> Result<ErpOrder, ProviderError> {
        create_order(&order)
    }
    fn create_orders(orders: Vec<OrderRequest>) -> Result<BatchResult, ProviderError> {
        let items: Vec<_> = orders.iter().map(create_order).collect();
        let succeeded = items.iter().filter(|r| r.is_ok()).count() as u32;
        Ok(BatchResult { failed: items.len() as u32 - succeeded, succeeded, items })
    }
    fn sync_products(products: Vec<Product>) -> Result<SyncResult, ProviderError> {
        upsert(Entity::Article, products.iter().map(|p| (p.id.clone(), article(p))).collect())
    }
    fn sync_customers(customers: Vec<Customer>) -> Result<SyncResult, ProviderError> {
        upsert(Entity::Customer, customers.iter().map(|c| (c.id.clone(), customer_record(c))).collect())
    }
    fn bulk_sync(request: BulkSyncRequest) -> Result<BulkSyncResult, ProviderError> {
        Ok(BulkSyncResult {
            products: Self::sync_products(request.products)?,
            customers: Self::sync_customers(request.customers)?,
        })
    }
}

fn contact(r: &v1::Record) -> Contact {
    Contact {
        id: r.id.clone(),
        customer_id: field(r, "customer_id").into(),
        first_name: field(r, "first_name").into(),
        last_name: field(r, "last_name").into(),
        email: field(r, "email").into(),
        phone: field(r, "phone").into(),
        role: field(r, "role").into(),
        modified_at: r.modified_at,
    }
}

impl crm_provider::Guest for Bridge {
    fn get_contact(id: String) -> Result<Contact, ProviderError> {
        let r = get_by_ids(Entity::Contact, std::slice::from_ref(&id))?
            .pop()
            .flatten()
            .ok_or_else(|| ProviderError::NotFound(format!("contact {id} does not exist")))?;
        Ok(contact(&r))
    }
    fn get_contacts(ids: Vec<String>) -> Result<Vec<Option<Contact>>, ProviderError> {
        Ok(get_by_ids(Entity::Contact, &ids)?.iter().map(|r| r.as_ref().map(contact)).collect())
    }
    fn get_activities(_: String, _: u32) -> Result<Vec<Activity>, ProviderError> {
        unsupported("crm get-activities")
    }
    fn get_activities_batch(_: Vec<String>, _: u32) -> Result<Vec<Option<Vec<Activity>>>, ProviderError> {
        unsupported("crm get-activities-batch")
    }
}

fn unsupported<T>(op: &str) -> Result<T, ProviderError> {
    Err(ProviderError::Unsupported(format!(
        "enventa-bridge does not serve {op}: enventa keeps this data outside the tables the bridge protocol exposes"
    )))
}

impl pim_provider::Guest for Bridge {
    type CatalogCursor = QueryCursor;

    fn get_product_details(id: String) -> Result<ProductDetails, ProviderError> {
        let r = get_one(Entity::Article, &id)?;
        Ok(details(product(&r), &r))
    }
    fn get_categories() -> Result<Vec<Category>, ProviderError> {
        let cursor = QueryCursor::new(Entity::ArticleGroup, Vec::new());
        let mut out = Vec::new();
        loop {
            let batch = cursor.pull(1000)?;
            if batch.is_empty() {
                return Ok(out);
            }
            out.extend(batch.iter().map(|r| Category {
                id: r.id.clone(),
                name: field(r, "name").into(),
                parent_id: Some(field(r, "parent_id")).filter(|p| !p.is_empty()).map(str::to_string),
                path: field(r, "path").into(),
            }));
        }
    }
    fn get_catalog(
        filter: CatalogFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<CatalogPage, ProviderError> {
        if page_size == 0 || page_size > 1000 {
            return Err(ProviderError::InvalidInput(format!("page size must be 1..=1000, got {page_size}")));
        }
        let conditions = product_conditions(&ProductFilter {
            modified_since: filter.modified_since,
            category_id: filter.category_id,
            name_contains: filter.search,
            active_only: false,
        });
        // The container's continuation is the last id of a page: opaque to
        // callers and valid across restarts of the host and the container.
        let (records, next) = query(Entity::Article, &conditions, page_size, continuation.as_deref().unwrap_or(""))?;
        Ok(CatalogPage {
            items: records.iter().map(|r| details(product(r), r)).collect(),
            continuation: (!next.is_empty()).then_some(next),
        })
    }
    fn stream_catalog(filter: CatalogFilter) -> Result<pim_provider::CatalogCursor, ProviderError> {
        let conditions = product_conditions(&ProductFilter {
            modified_since: filter.modified_since,
            category_id: filter.category_id,
            name_contains: filter.search,
            active_only: false,
        });
        Ok(pim_provider::CatalogCursor::new(QueryCursor::new(Entity::Article, conditions)))
    }
}

export!(Bridge);
