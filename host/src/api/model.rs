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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Money {
    /// Amount in minor units (cents).
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub category_id: String,
    pub price: Money,
    pub stock: i64,
    pub unit: String,
    pub active: bool,
    #[serde(with = "ts")]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdsRequest {
    pub ids: Vec<String>,
}

/// One entry of a batch-get answer, in request order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem<T> {
    pub id: String,
    pub found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<T>,
}

/// A batch-get answer: one entry per requested id, same order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetResponse<T> {
    pub items: Vec<BatchItem<T>>,
    pub found: usize,
    pub missing: usize,
}

impl<T> BatchGetResponse<T> {
    pub fn new<W: Into<T>>(ids: Vec<String>, found: Vec<Option<W>>) -> Result<Self, ApiError> {
        if ids.len() != found.len() {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                "provider-error",
                format!("the plugin answered {} entries for {} ids", found.len(), ids.len()),
            ));
        }
        let items: Vec<BatchItem<T>> = ids
            .into_iter()
            .zip(found)
            .map(|(id, f)| BatchItem { id, found: f.is_some(), item: f.map(Into::into) })
            .collect();
        let found = items.iter().filter(|i| i.found).count();
        Ok(Self { missing: items.len() - found, found, items })
    }
}

/// Filter of `GET …/erp/products/stream`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductStreamQuery {
    pub modified_since: Option<String>,
    pub category_id: Option<String>,
    pub name_contains: Option<String>,
    #[serde(default)]
    pub active_only: bool,
    /// Records per pull from the plugin (1–10000, default 1000).
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
