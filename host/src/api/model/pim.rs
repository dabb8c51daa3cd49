//! The PIM shapes: categories, product details, the catalog.

use super::*;

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
impl From<wit::CatalogPage> for CatalogPage {
    fn from(p: wit::CatalogPage) -> Self {
        Self { items: p.items.into_iter().map(Into::into).collect(), continuation: p.continuation }
    }
}
