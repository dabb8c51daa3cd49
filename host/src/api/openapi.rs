//! The OpenAPI 3.1 document (`GET /openapi.json`), generated from the
//! handlers' `#[utoipa::path]` annotations and the model's schemas, so it
//! cannot drift from the code. A test checks that every route of the router
//! is in the document.

use super::AppState;
use super::model::*;
use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

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

/// `{"ids": [...]}`: 1 to 1000 ids.
#[derive(serde::Serialize, ToSchema)]
pub struct IdsRequestDoc {
    pub ids: Vec<String>,
}

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

/// Every tenant route may answer 429 (the tenant's rate limit, checked
/// when the request is authenticated): documented once here rather than on
/// each route.
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder, header::HeaderBuilder};
        let response = ResponseBuilder::new()
            .description("Over the tenant's request rate limit; retry after Retry-After seconds")
            .header("Retry-After", HeaderBuilder::new().description(Some("Seconds to wait")).build())
            .content(
                "application/problem+json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
            )
            .build();
        for (path, item) in api.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/tenants/") {
                continue;
            }
            for op in [&mut item.get, &mut item.post, &mut item.put, &mut item.delete].into_iter().flatten() {
                op.responses.responses.insert("429".into(), response.clone().into());
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "B2Connect provider host",
        description = "ERP, CRM and PIM providers of B2Connect tenants, run as WebAssembly plugins. Errors are application/problem+json; streams are application/x-ndjson and end with a StreamError line if they fail midway.",
        version = "1.0.0"
    ),
    paths(
        super::erp::get_product, super::erp::get_products, super::erp::stream_products,
        super::erp::get_customer, super::erp::get_customers, super::erp::stream_customers,
        super::erp::create_order, super::erp::create_orders,
        super::erp::sync_products, super::erp::sync_customers, super::erp::bulk_sync,
        super::crm::get_contact, super::crm::get_contacts, super::crm::get_activities, super::crm::get_activities_batch,
        super::pim::get_product_details, super::pim::get_categories, super::pim::get_catalog, super::pim::stream_catalog,
        super::admin::list_plugins, super::admin::show_plugin, super::admin::publish, super::admin::show_version,
        super::admin::download, super::admin::yank, super::admin::unyank,
        super::admin::list_tenants, super::admin::bind, super::admin::show_tenant, super::admin::rollback,
        super::admin::create_key, super::admin::list_keys, super::admin::revoke_key,
        super::admin::invalidate_cache, super::admin::reset_sync, super::admin::audit,
        super::health::healthz, super::health::readyz, super::health::metrics, openapi_json,
    ),
    components(schemas(Problem, StreamError, IdsRequestDoc, ActivitiesBatchRequest)),
    modifiers(&Security, &RateLimited),
    tags(
        (name = "erp", description = "erp-provider: products, customers, orders, sync"),
        (name = "crm", description = "crm-provider: contacts, activities"),
        (name = "pim", description = "pim-provider: product details, categories, catalog"),
        (name = "admin", description = "Operator API: plugins, tenants, keys, audit"),
        (name = "ops", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// The document as pretty JSON (for `b2c-host openapi`).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}
