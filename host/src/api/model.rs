//! The REST data model (camelCase JSON) and its mapping to the WIT types.
//!
//! The REST shapes are their own public contract (B2Connect's .NET core
//! reads them), so they are spelled out here instead of serializing the
//! generated WIT types directly: timestamps become RFC 3339, names follow
//! JSON conventions, and a WIT change cannot silently change the API.

use super::problem::ApiError;
use crate::bindings::types as wit;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formats a WIT timestamp (ms since epoch) as RFC 3339 UTC.
pub fn format_ts(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Parses RFC 3339 or integer milliseconds into a WIT timestamp.
pub fn parse_ts(field: &str, s: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    OffsetDateTime::parse(s, &Rfc3339).map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64).map_err(|_| {
        ApiError::invalid(format!(
            "{field}: {s:?} is not an RFC 3339 timestamp (e.g. 2026-01-31T00:00:00Z) or milliseconds since the epoch"
        ))
    })
}

/// Integers in request bodies: JSON has one number type, and JSON Schema's
/// `integer` is any number without a fraction, so `691.0` is accepted as
/// 691 (clients in languages with only doubles send it), while `691.5` or a
/// value out of range is rejected with the field named by serde.
mod int {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};

    fn integral<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        if let Some(i) = n.as_i64() {
            return Ok(i.into());
        }
        if let Some(u) = n.as_u64() {
            return Ok(u.into());
        }
        // Only where a double holds every integer exactly (|f| <= 2^53): a
        // larger literal such as -9223372036854775809 was rounded on parsing.
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => Ok(f as i128),
            _ => Err(D::Error::custom(format!("{n} is not an integer"))),
        }
    }
    pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let v = integral(d)?;
        i64::try_from(v).map_err(|_| D::Error::custom(format!("{v} is out of range for a 64-bit integer")))
    }
    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let v = integral(d)?;
        u32::try_from(v).map_err(|_| D::Error::custom(format!("{v} is out of range 0..=4294967295")))
    }
    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match Option::<serde_json::Number>::deserialize(d)? {
            None => Ok(None),
            Some(n) => u32(n).map(Some).map_err(D::Error::custom),
        }
    }
}

/// The schema of a timestamp the API accepts: RFC 3339 (`2026-01-31T00:00:00Z`)
/// or integer milliseconds since the epoch.
pub fn timestamp_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^-?[0-9]{1,15}$")))
        .description(Some("RFC 3339 date-time, or milliseconds since the epoch"))
        .build()
        .into()
}

mod ts {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_ts(*ms))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_ts("timestamp", &s).map_err(|e| serde::de::Error::custom(e.detail))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Money {
    /// Amount in minor units (cents).
    #[serde(deserialize_with = "int::i64")]
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl From<wit::Money> for Money {
    fn from(m: wit::Money) -> Self {
        Self { amount_minor: m.amount_minor, currency: m.currency }
    }
}
impl From<Money> for wit::Money {
    fn from(m: Money) -> Self {
        Self { amount_minor: m.amount_minor, currency: m.currency }
    }
}

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

/// `{"ids": [...]}` for the batch-get routes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsRequest {
    pub ids: Vec<String>,
}

/// One entry of a batch-get answer, in request order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem<T> {
    pub id: String,
    pub found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<T>,
}

/// A batch-get answer: one entry per requested id, same order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetResponse<T> {
    pub items: Vec<BatchItem<T>>,
    pub found: usize,
    pub missing: usize,
}

impl<T> BatchGetResponse<T> {
    /// One entry per id, in order; `None` entries are reported as missing.
    pub fn from_lookups(lookups: impl IntoIterator<Item = (String, Option<T>)>) -> Self {
        let items: Vec<BatchItem<T>> =
            lookups.into_iter().map(|(id, item)| BatchItem { id, found: item.is_some(), item }).collect();
        let found = items.iter().filter(|i| i.found).count();
        Self { missing: items.len() - found, found, items }
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

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    pub customer_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub role: String,
    #[serde(with = "ts")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_at: i64,
}

impl From<wit::Contact> for Contact {
    fn from(c: wit::Contact) -> Self {
        Self {
            id: c.id,
            customer_id: c.customer_id,
            first_name: c.first_name,
            last_name: c.last_name,
            email: c.email,
            phone: c.phone,
            role: c.role,
            modified_at: c.modified_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub id: String,
    pub customer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// call, email, meeting, note or order.
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub subject: String,
    #[serde(with = "ts")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: i64,
}

impl From<wit::Activity> for Activity {
    fn from(a: wit::Activity) -> Self {
        use wit::ActivityKind::*;
        Self {
            id: a.id,
            customer_id: a.customer_id,
            contact_id: a.contact_id,
            kind: match a.kind {
                Call => "call",
                Email => "email",
                Meeting => "meeting",
                Note => "note",
                Order => "order",
            },
            subject: a.subject,
            occurred_at: a.occurred_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Category {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub path: String,
}

impl From<wit::Category> for Category {
    fn from(c: wit::Category) -> Self {
        Self { id: c.id, name: c.name, parent_id: c.parent_id, path: c.path }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductDetails {
    pub product: Product,
    pub long_description: String,
    pub attributes: Vec<Attribute>,
    pub images: Vec<String>,
    pub category_path: Vec<String>,
}

impl From<wit::ProductDetails> for ProductDetails {
    fn from(d: wit::ProductDetails) -> Self {
        Self {
            product: d.product.into(),
            long_description: d.long_description,
            attributes: d.attributes.into_iter().map(|a| Attribute { name: a.name, value: a.value }).collect(),
            images: d.images,
            category_path: d.category_path,
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

/// The problem document of one failed item inside a batch answer.
pub fn item_problem(e: wit::ProviderError) -> serde_json::Value {
    ApiError::from(e).body()
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
    #[schema(value_type = Option<super::openapi::Problem>)]
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
    #[schema(value_type = super::openapi::Problem)]
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

/// Filter and paging of `GET …/pim/catalog` (one page).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogQuery {
    pub category_id: Option<String>,
    /// Only entries modified at or after this time.
    #[param(schema_with = timestamp_schema)]
    pub modified_since: Option<String>,
    pub search: Option<String>,
    /// Entries per page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u32>,
    /// Token from the previous page, opaque.
    #[param(min_length = 1, max_length = 1024)]
    pub continuation: Option<String>,
}

/// Filter of `GET …/pim/catalog/stream`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogStreamQuery {
    pub category_id: Option<String>,
    /// Only entries modified at or after this time.
    #[param(schema_with = timestamp_schema)]
    pub modified_since: Option<String>,
    pub search: Option<String>,
    /// Records per pull from the plugin (default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub batch_size: Option<u32>,
}

/// The catalog filter of both catalog routes.
pub fn catalog_filter(
    category_id: &Option<String>,
    modified_since: &Option<String>,
    search: &Option<String>,
) -> Result<wit::CatalogFilter, ApiError> {
    Ok(wit::CatalogFilter {
        category_id: category_id.clone(),
        modified_since: modified_since.as_deref().map(|s| parse_ts("modifiedSince", s)).transpose()?,
        search: search.clone(),
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPage {
    pub items: Vec<ProductDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation: Option<String>,
}

/// `GET …/crm/customers/{id}/activities` query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivitiesQuery {
    /// Most recent activities to return (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// `POST …/crm/activities/batch-get` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivitiesBatchRequest {
    /// Up to 1000 customer ids, each 1–256 characters.
    #[schema(value_type = Vec<IdDoc>, max_items = 1000)]
    pub customer_ids: Vec<String>,
    /// Most recent activities per customer (default 50).
    #[serde(default, deserialize_with = "int::opt_u32")]
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A record id: 1 to 256 characters.
pub struct IdDoc;

impl utoipa::PartialSchema for IdDoc {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(256)).into()
    }
}
impl utoipa::ToSchema for IdDoc {}

pub fn activity_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!("limit must be 1..=1000, got {n}"))),
    }
}

impl From<wit::CatalogPage> for CatalogPage {
    fn from(p: wit::CatalogPage) -> Self {
        Self { items: p.items.into_iter().map(Into::into).collect(), continuation: p.continuation }
    }
}
