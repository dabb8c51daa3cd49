//! The OpenAPI 3.1 document (`GET /openapi.json`). Its paths come from the
//! router itself: every route is registered through `utoipa_axum::routes!`
//! from its handler's `#[utoipa::path]`, so a route cannot be served without
//! being documented, and the metrics' operation names are the declarations'
//! `operation_id`s. This module adds the header, the shared schemas and the
//! security schemes.

use super::AppState;
use super::model::*;
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::OnceLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// An RFC 9457 problem document: the body of every non-2xx answer, and of
/// the trailing `{"error": …}` line of a stream that failed midway.
#[derive(serde::Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier, `urn:b2connect:problem:<slug>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary (the HTTP reason phrase).
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Human-readable explanation of this occurrence.
    pub detail: String,
}

/// The trailing line of an NDJSON stream that failed after it started.
#[derive(serde::Serialize, ToSchema)]
pub struct StreamError {
    pub error: Problem,
}

/// `{"ids": [...]}`: up to 1000 ids, answered in order.
#[derive(serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdsRequestDoc {
    #[schema(value_type = Vec<IdDoc>, max_items = 1000)]
    pub ids: Vec<String>,
}

/// JSON array bodies whose length the handler checks, documented with
/// that range: `name`, item type, min and max items.
macro_rules! array_body {
    ($(#[$doc:meta])* $name:ident, $item:ty, $min:expr, $max:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(utoipa::openapi::Ref::from_schema_name(<$item as ToSchema>::name()))
                    .min_items(Some($min))
                    .max_items(Some($max))
                    .into()
            }
        }
        impl ToSchema for $name {
            fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
                schemas.push((<$item as ToSchema>::name().into(), <$item as utoipa::PartialSchema>::schema()));
                <$item as ToSchema>::schemas(schemas);
            }
        }
    };
}

array_body!(
    /// `POST …/erp/orders/batch`: 1 to 1000 orders.
    OrdersBatchBody, OrderRequest, 1, super::MAX_BATCH_ORDERS
);
array_body!(
    /// `POST …/erp/sync/products` as a JSON array: up to 10000 products.
    ProductsSyncBody, Product, 0, super::MAX_SYNC_RECORDS
);
array_body!(
    /// `POST …/erp/sync/customers` as a JSON array: up to 10000 customers.
    CustomersSyncBody, Customer, 0, super::MAX_SYNC_RECORDS
);

/// The body of a publish: the component's bytes (`application/wasm`).
pub struct WasmBody;

impl utoipa::PartialSchema for WasmBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("A WebAssembly component built against the contract's WIT"))
            .into()
    }
}
impl ToSchema for WasmBody {}

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "tenantKey",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("A tenant API key")).build(),
            ),
        );
        c.add_security_scheme(
            "adminToken",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("The operator token")).build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "B2Connect provider host",
        description = "ERP, CRM and PIM providers of B2Connect tenants, run as WebAssembly plugins. Errors are application/problem+json; streams are application/x-ndjson and end with a StreamError line if they fail midway.",
        version = "1.0.0"
    ),
    components(schemas(Problem, StreamError, IdsRequestDoc, ActivitiesBatchRequest)),
    modifiers(&Security),
    tags(
        (name = "erp", description = "erp-provider: products, customers, orders, sync"),
        (name = "crm", description = "crm-provider: contacts, activities"),
        (name = "pim", description = "pim-provider: product details, categories, catalog"),
        (name = "admin", description = "Operator API: plugins, tenants, keys, audit"),
        (name = "ops", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// The documents the host serves: this OpenAPI document and the provider
/// contract, declared like every other route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json)).routes(routes!(contract_wit))
}

/// The provider contract plugin authors build against: the WIT package
/// this host implements, as one document (also `b2c-host wit`), so an
/// author needs no clone of the host's repository. Public, like this
/// document.
#[utoipa::path(get, path = "/api/v1/contract", tag = "ops", summary = "The provider contract (WIT package) this host implements", responses((status = 200, description = "The WIT package `b2connect:provider` at the host's contract version, as one document; the version is also in `X-Contract-Version`", content_type = "text/plain; charset=utf-8", body = String)))]
pub async fn contract_wit() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::HeaderName::from_static("x-contract-version"), crate::bindings::CONTRACT_VERSION),
        ],
        crate::bindings::CONTRACT_WIT,
    )
        .into_response()
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| serde_json::to_string(document()).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], body.as_str()).into_response()
}

/// The document: the header above plus every route's declaration,
/// collected once from the same router the server runs.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| super::routes().into_openapi())
}

/// The operation id of a tenant route (method and matched path), for
/// metrics and logs: read from the route's declaration, not a second table.
pub fn operation(method: &Method, route: &str) -> Option<&'static str> {
    // Keyed by path so a request looks it up with the matched path as it
    // is (no allocation per request), then picks its method.
    static OPS: OnceLock<HashMap<String, Vec<(Method, String)>>> = OnceLock::new();
    let ops = OPS.get_or_init(|| {
        let mut ops = HashMap::new();
        for (path, item) in document().paths.paths.iter().filter(|(p, _)| p.starts_with(TENANT_PREFIX)) {
            let methods = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::DELETE, &item.delete),
            ];
            let ids: Vec<(Method, String)> =
                methods.into_iter().filter_map(|(m, op)| Some((m, op.as_ref()?.operation_id.clone()?))).collect();
            ops.insert(path.clone(), ids);
        }
        ops
    });
    ops.get(route)?.iter().find(|(m, _)| m == method).map(|(_, id)| id.as_str())
}

/// The prefix of every tenant route (metrics and rate limits are per tenant).
pub const TENANT_PREFIX: &str = "/api/v1/tenants/";

/// The document as pretty JSON (for `b2c-host openapi`).
pub fn pretty() -> String {
    document().to_pretty_json().unwrap_or_default()
}
