//! The ERP shapes: products, customers, orders, sync.

use super::*;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub category_id: String,
    pub price: Money,
    #[serde(deserialize_with = "int::i64")]
    pub stock: i64,
    pub unit: String,
    pub active: bool,
    #[serde(with = "ts")]
    #[schema(schema_with = timestamp_schema)]
    pub modified_at: i64,
}
impl From<wit::Product> for Product {
    fn from(p: wit::Product) -> Self {
        Self {
            id: p.id,
            sku: p.sku,
            name: p.name,
            description: p.description,
            category_id: p.category_id,
            price: p.price.into(),
            stock: p.stock,
            unit: p.unit,
            active: p.active,
            modified_at: p.modified_at,
        }
    }
}
impl From<Product> for wit::Product {
    fn from(p: Product) -> Self {
        Self {
            id: p.id,
            sku: p.sku,
            name: p.name,
            description: p.description,
            category_id: p.category_id,
            price: p.price.into(),
            stock: p.stock,
            unit: p.unit,
            active: p.active,
            modified_at: p.modified_at,
        }
    }
}
/// Filter of `GET …/erp/products/stream`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductStreamQuery {
    /// Only records modified at or after this time.
    #[param(schema_with = timestamp_schema)]
    pub modified_since: Option<String>,
    pub category_id: Option<String>,
    pub name_contains: Option<String>,
    #[serde(default)]
    pub active_only: bool,
    /// Records per pull from the plugin (default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub batch_size: Option<u32>,
}
impl ProductStreamQuery {
    pub fn filter(&self) -> Result<wit::ProductFilter, ApiError> {
        Ok(wit::ProductFilter {
            modified_since: self.modified_since.as_deref().map(|s| parse_ts("modifiedSince", s)).transpose()?,
            category_id: self.category_id.clone(),
            name_contains: self.name_contains.clone(),
            active_only: self.active_only,
        })
    }
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Address {
    pub street: String,
    pub postal_code: String,
    pub city: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Customer {
    pub id: String,
    pub number: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub address: Address,
    pub credit_limit: Money,
    pub active: bool,
    #[serde(with = "ts")]
    #[schema(schema_with = timestamp_schema)]
    pub modified_at: i64,
}
impl From<wit::Customer> for Customer {
    fn from(c: wit::Customer) -> Self {
        Self {
            id: c.id,
            number: c.number,
            name: c.name,
            email: c.email,
            phone: c.phone,
            address: Address {
                street: c.address.street,
                postal_code: c.address.postal_code,
                city: c.address.city,
                country: c.address.country,
            },
            credit_limit: c.credit_limit.into(),
            active: c.active,
            modified_at: c.modified_at,
        }
    }
}
impl From<Customer> for wit::Customer {
    fn from(c: Customer) -> Self {
        Self {
            id: c.id,
            number: c.number,
            name: c.name,
            email: c.email,
            phone: c.phone,
            address: wit::Address {
                street: c.address.street,
                postal_code: c.address.postal_code,
                city: c.address.city,
                country: c.address.country,
            },
            credit_limit: c.credit_limit.into(),
            active: c.active,
            modified_at: c.modified_at,
        }
    }
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderLineRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub product_id: String,
    #[serde(deserialize_with = "int::u32")]
    #[schema(value_type = i64, minimum = 1, maximum = 4294967295_i64)]
    pub quantity: u32,
}
/// `POST …/erp/orders` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub customer_id: String,
    #[schema(min_items = 1, max_items = 1000)]
    pub lines: Vec<OrderLineRequest>,
    #[serde(default)]
    pub external_ref: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}
impl From<OrderRequest> for wit::OrderRequest {
    fn from(o: OrderRequest) -> Self {
        Self {
            customer_id: o.customer_id,
            lines: o
                .lines
                .into_iter()
                .map(|l| wit::OrderLineRequest { product_id: l.product_id, quantity: l.quantity })
                .collect(),
            external_ref: o.external_ref,
            note: o.note,
        }
    }
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub product_id: String,
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Money,
    pub line_total: Money,
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    /// created, confirmed, shipped or cancelled.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(with = "ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}
impl From<wit::ErpOrder> for Order {
    fn from(o: wit::ErpOrder) -> Self {
        use wit::OrderStatus::*;
        Self {
            id: o.id,
            customer_id: o.customer_id,
            lines: o
                .lines
                .into_iter()
                .map(|l| OrderLine {
                    product_id: l.product_id,
                    sku: l.sku,
                    quantity: l.quantity,
                    unit_price: l.unit_price.into(),
                    line_total: l.line_total.into(),
                })
                .collect(),
            total: o.total.into(),
            status: match o.status {
                Created => "created",
                Confirmed => "confirmed",
                Shipped => "shipped",
                Cancelled => "cancelled",
            }
            .to_string(),
            external_ref: o.external_ref,
            note: o.note,
            created_at: o.created_at,
        }
    }
}
/// One order of a batch, in request order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderBatchItem {
    pub index: usize,
    /// The HTTP status this order alone would have got (201 or an error).
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::api::openapi::Problem>)]
    pub error: Option<serde_json::Value>,
}
/// `POST …/erp/orders/batch` answer (BatchResult).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderBatchResult {
    pub items: Vec<OrderBatchItem>,
    pub succeeded: u32,
    pub failed: u32,
}
impl From<wit::BatchResult> for OrderBatchResult {
    fn from(b: wit::BatchResult) -> Self {
        let items = b
            .items
            .into_iter()
            .enumerate()
            .map(|(index, r)| match r {
                Ok(o) => OrderBatchItem { index, status: 201, order: Some(o.into()), error: None },
                Err(e) => {
                    let problem = item_problem(e);
                    let status = problem["status"].as_u64().unwrap_or(500) as u16;
                    OrderBatchItem { index, status, order: None, error: Some(problem) }
                }
            })
            .collect();
        Self { items, succeeded: b.succeeded, failed: b.failed }
    }
}
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncFailure {
    pub index: u32,
    pub id: String,
    #[schema(value_type = crate::api::openapi::Problem)]
    pub error: serde_json::Value,
}
/// Outcome of a sync (SyncResult).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    pub received: u32,
    pub created: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub failed: u32,
    pub failures: Vec<SyncFailure>,
}
impl From<wit::SyncResult> for SyncResult {
    fn from(r: wit::SyncResult) -> Self {
        Self {
            received: r.received,
            created: r.created,
            updated: r.updated,
            unchanged: r.unchanged,
            failed: r.failed,
            failures: r
                .failures
                .into_iter()
                .map(|f| SyncFailure { index: f.index, id: f.id, error: item_problem(f.error) })
                .collect(),
        }
    }
}
/// `POST …/erp/sync/bulk` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkSyncRequest {
    /// Products and customers together: at most 10000 records.
    #[serde(default)]
    #[schema(max_items = 10000)]
    pub products: Vec<Product>,
    #[serde(default)]
    #[schema(max_items = 10000)]
    pub customers: Vec<Customer>,
}
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkSyncResult {
    pub products: SyncResult,
    pub customers: SyncResult,
}
/// Filter of `GET …/erp/customers/stream`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerStreamQuery {
    /// Only records modified at or after this time.
    #[param(schema_with = timestamp_schema)]
    pub modified_since: Option<String>,
    pub name_contains: Option<String>,
    pub country: Option<String>,
    /// Records per pull from the plugin (default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub batch_size: Option<u32>,
}
impl CustomerStreamQuery {
    pub fn filter(&self) -> Result<wit::CustomerFilter, ApiError> {
        Ok(wit::CustomerFilter {
            modified_since: self.modified_since.as_deref().map(|s| parse_ts("modifiedSince", s)).transpose()?,
            name_contains: self.name_contains.clone(),
            country: self.country.clone(),
        })
    }
}

impl crate::service::sync::Synced for Product {
    type Wit = wit::Product;
    const ENTITY: &'static str = "product";
    /// Products and everything built on them.
    const WRITES: &'static [crate::cache::DataClass] =
        &[crate::cache::DataClass::Products, crate::cache::DataClass::Catalog];
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl crate::service::sync::Synced for Customer {
    type Wit = wit::Customer;
    const ENTITY: &'static str = "customer";
    const WRITES: &'static [crate::cache::DataClass] = &[crate::cache::DataClass::Customers];
    fn id(&self) -> String {
        self.id.clone()
    }
}
