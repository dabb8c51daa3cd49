//! ERP routes (`erp-provider`): products, customers, orders, sync.

use super::contract::{TenantBodyErrors, TenantErrors};
use super::extract::{Json, Query, RawBody, RecordId, TenantProvider, check_id, check_ids, kind};
use super::model::*;
use super::problem::ApiError;
use super::stream::{self, ndjson};
use super::{AppState, MAX_BATCH_ORDERS, MAX_SYNC_RECORDS, cached};
use crate::actor::Provider;
use crate::cache::DataClass::{Customers, Products};
use crate::service::{orders, sync};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this module; each is declared once, by its handler's
/// `#[utoipa::path]` (path, method, operation id, parameters, answers).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_product))
        .routes(routes!(get_products))
        .routes(routes!(stream_products))
        .routes(routes!(get_customer))
        .routes(routes!(get_customers))
        .routes(routes!(stream_customers))
        .routes(routes!(create_order))
        .routes(routes!(create_orders))
        .routes(routes!(sync_products))
        .routes(routes!(sync_customers))
        .routes(routes!(bulk_sync))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/erp/products/{id}", tag = "erp", operation_id = "GetProduct", summary = "GetProduct", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Record id", min_length = 1, max_length = 256)), responses(TenantErrors, (status = 200, body = Product)))]
pub async fn get_product(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Erp>,
    RecordId(id): RecordId,
) -> Result<Response, ApiError> {
    cached::one::<_, Product, _, _>(&state, &p, &tenant, Products, "get-product", &id.clone(), || p.get_product(id))
        .await
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/erp/products/batch-get", tag = "erp", operation_id = "GetProducts", summary = "GetProducts: up to 1000 ids, answered in order", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), request_body(content = super::openapi::IdsRequestDoc, content_type = "application/json"), responses(TenantBodyErrors, (status = 200, body = BatchGetResponse<Product>)))]
pub async fn get_products(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Erp>,
    Json(req): Json<IdsRequest>,
) -> Result<Response, ApiError> {
    check_ids(&req.ids)?;
    cached::batch::<_, Product, _, _>(&state, &p, &tenant, Products, "get-product", "", req.ids, |ids| {
        p.get_products(ids)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/erp/products/stream", tag = "erp", operation_id = "StreamProducts", summary = "StreamProducts (NDJSON)", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ProductStreamQuery), responses(TenantErrors, (status = 200, description = "One Product per line; a StreamError line if it fails midway", body = Product, content_type = "application/x-ndjson")))]
pub async fn stream_products(
    TenantProvider { provider: p, .. }: TenantProvider<kind::Erp>,
    Query(q): Query<ProductStreamQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    let batch = stream::batch_size(q.batch_size)?;
    let cursor = p.open_products(filter).await?;
    Ok(ndjson(
        p,
        cursor,
        batch,
        |p: Provider, c, n| Box::pin(async move { p.next_products(c, n).await }),
        Product::from,
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/erp/customers/{id}", tag = "erp", operation_id = "GetCustomer", summary = "GetCustomer", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("id" = String, Path, description = "Record id", min_length = 1, max_length = 256)), responses(TenantErrors, (status = 200, body = Customer)))]
pub async fn get_customer(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Erp>,
    RecordId(id): RecordId,
) -> Result<Response, ApiError> {
    cached::one::<_, Customer, _, _>(&state, &p, &tenant, Customers, "get-customer", &id.clone(), || p.get_customer(id))
        .await
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/erp/customers/batch-get", tag = "erp", operation_id = "GetCustomers", summary = "GetCustomers", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), request_body(content = super::openapi::IdsRequestDoc, content_type = "application/json"), responses(TenantBodyErrors, (status = 200, body = BatchGetResponse<Customer>)))]
pub async fn get_customers(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Erp>,
    Json(req): Json<IdsRequest>,
) -> Result<Response, ApiError> {
    check_ids(&req.ids)?;
    cached::batch::<_, Customer, _, _>(&state, &p, &tenant, Customers, "get-customer", "", req.ids, |ids| {
        p.get_customers(ids)
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/tenants/{tenant}/erp/customers/stream", tag = "erp", operation_id = "StreamCustomers", summary = "StreamCustomers (NDJSON)", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), CustomerStreamQuery), responses(TenantErrors, (status = 200, description = "One Customer per line", body = Customer, content_type = "application/x-ndjson")))]
pub async fn stream_customers(
    TenantProvider { provider: p, .. }: TenantProvider<kind::Erp>,
    Query(q): Query<CustomerStreamQuery>,
) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    let batch = stream::batch_size(q.batch_size)?;
    let cursor = p.open_customers(filter).await?;
    Ok(ndjson(
        p,
        cursor,
        batch,
        |p: Provider, c, n| Box::pin(async move { p.next_customers(c, n).await }),
        Customer::from,
    ))
}

fn check_order(o: &OrderRequest, at: &str) -> Result<(), ApiError> {
    if o.lines.is_empty() || o.lines.len() > 1000 {
        return Err(ApiError::invalid(format!("{at}lines: an order has 1 to 1000 lines")));
    }
    check_id(&o.customer_id).map_err(|_| ApiError::invalid(format!("{at}customerId must be 1 to 256 characters")))?;
    for (i, l) in o.lines.iter().enumerate() {
        check_id(&l.product_id)
            .map_err(|_| ApiError::invalid(format!("{at}lines[{i}].productId must be 1 to 256 characters")))?;
        if l.quantity == 0 {
            return Err(ApiError::invalid(format!("{at}lines[{i}].quantity must be at least 1")));
        }
    }
    Ok(())
}

/// The `Idempotency-Key` header, if any, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let k = v
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters"))?;
            Ok(Some(k.to_string()))
        }
    }
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/erp/orders", tag = "erp", operation_id = "CreateOrder", summary = "CreateOrder (honours Idempotency-Key)", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Same key and body: the same order again; same key, other body: 409. Without externalRef the key travels to the ERP as the order's external reference, so a retry after a lost answer finds the first order instead of creating another")), request_body(content = OrderRequest, content_type = "application/json"), responses(TenantBodyErrors, (status = 201, body = Order), (status = 200, description = "Replay of an earlier request with the same Idempotency-Key", body = Order), (status = 409, description = "Conflict (ERP rule, or Idempotency-Key reused with another body)", body = super::openapi::Problem, content_type = "application/problem+json")))]
pub async fn create_order(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Erp>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let order: OrderRequest = parse_json_body(&headers, &body)?;
    check_order(&order, "")?;
    let idem = orders::Idempotency {
        key: idempotency_key(&headers)?,
        fingerprint: crate::util::sha256_hex(
            &serde_json::to_vec(&order).map_err(|e| ApiError::internal(e.to_string()))?,
        ),
        limits: state.limits.idempotency,
    };
    let render = |o| cached::answer_json(&p, o, Order::from);
    let (status, body, replayed) = match orders::create(state.ctx(), &tenant, &p, order.into(), idem, render).await? {
        orders::Created::New(body) => (StatusCode::CREATED, body, false),
        orders::Created::Replayed { status, body } => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body, true)
        }
    };
    let mut res = (status, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    if replayed {
        res.headers_mut().insert("idempotent-replayed", header::HeaderValue::from_static("true"));
    }
    Ok(res)
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/erp/orders/batch", tag = "erp", operation_id = "CreateOrders", summary = "CreateOrders: each order succeeds or fails on its own", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id"), ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Order i without externalRef gets `KEY#i` as its ERP external reference: resending the batch with the same key returns the orders already created instead of creating them again")), request_body(content = super::openapi::OrdersBatchBody, content_type = "application/json"), responses(TenantBodyErrors, (status = 200, body = OrderBatchResult)))]
pub async fn create_orders(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Erp>,
    headers: HeaderMap,
    Json(orders): Json<Vec<OrderRequest>>,
) -> Result<Response, ApiError> {
    if orders.is_empty() || orders.len() > MAX_BATCH_ORDERS {
        return Err(ApiError::invalid(format!("a batch has 1 to {MAX_BATCH_ORDERS} orders, got {}", orders.len())));
    }
    for (i, o) in orders.iter().enumerate() {
        check_order(o, &format!("[{i}]."))?;
    }
    let key = idempotency_key(&headers)?;
    let orders = orders.into_iter().map(Into::into).collect();
    let r = orders::create_batch(state.ctx(), &tenant, &p, orders, key.as_deref()).await?;
    Ok(cached::json_response(cached::answer_json(&p, r, OrderBatchResult::from).await?))
}

/// A JSON body, checking the content type ourselves (the body was taken as
/// bytes to fingerprint or to accept NDJSON too).
fn parse_json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    match content_type(headers) {
        "application/json" => {}
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!("expected Content-Type: application/json, got {other:?}"),
            ));
        }
    }
    parse_json(body, "the body")
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("")
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            ApiError::bad_request(format!("{what} is not valid JSON: {e}"))
        } else {
            ApiError::invalid(format!("{what} does not match the expected shape: {e}"))
        }
    })
}

/// Records of a sync body: a JSON array (`application/json`) or one record
/// per line (`application/x-ndjson`).
fn sync_records<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<Vec<T>, ApiError> {
    let records: Vec<T> = match content_type(headers) {
        "application/json" => parse_json(body, "the body")?,
        "application/x-ndjson" => {
            let mut out = Vec::new();
            for (n, line) in body.split(|b| *b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if out.len() == MAX_SYNC_RECORDS {
                    return Err(ApiError::invalid(format!("at most {MAX_SYNC_RECORDS} records per request")));
                }
                out.push(parse_json(line, &format!("line {}", n + 1))?);
            }
            out
        }
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!("expected application/json (array) or application/x-ndjson, got {other:?}"),
            ));
        }
    };
    if records.len() > MAX_SYNC_RECORDS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_SYNC_RECORDS} records per request, got {}",
            records.len()
        )));
    }
    Ok(records)
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/erp/sync/products", tag = "erp", operation_id = "SyncProducts", summary = "SyncProducts: JSON array or NDJSON, up to 10000", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), request_body(content = super::openapi::ProductsSyncBody, content_type = "application/json"), responses(TenantBodyErrors, (status = 200, body = SyncResult)))]
pub async fn sync_products(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Erp>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let records: Vec<Product> = sync_records(&headers, &body)?;
    let r = sync::records(state.ctx(), &tenant, &p, records, |v| p.sync_products(v)).await?;
    Ok(cached::json_response(cached::answer_json(&p, r, SyncResult::from).await?))
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/erp/sync/customers", tag = "erp", operation_id = "SyncCustomers", summary = "SyncCustomers: JSON array or NDJSON, up to 10000", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), request_body(content = super::openapi::CustomersSyncBody, content_type = "application/json"), responses(TenantBodyErrors, (status = 200, body = SyncResult)))]
pub async fn sync_customers(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Erp>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let records: Vec<Customer> = sync_records(&headers, &body)?;
    let r = sync::records(state.ctx(), &tenant, &p, records, |v| p.sync_customers(v)).await?;
    Ok(cached::json_response(cached::answer_json(&p, r, SyncResult::from).await?))
}

#[utoipa::path(post, path = "/api/v1/tenants/{tenant}/erp/sync/bulk", tag = "erp", operation_id = "BulkSync", summary = "BulkSync", security(("tenantKey" = [])), params(("tenant" = String, Path, description = "Tenant id")), request_body(content = BulkSyncRequest, content_type = "application/json"), responses(TenantBodyErrors, (status = 200, body = BulkSyncResult)))]
pub async fn bulk_sync(
    State(state): State<AppState>,
    TenantProvider { tenant, provider: p, .. }: TenantProvider<kind::Erp>,
    Json(req): Json<BulkSyncRequest>,
) -> Result<Response, ApiError> {
    if req.products.len() + req.customers.len() > MAX_SYNC_RECORDS {
        return Err(ApiError::invalid(format!("at most {MAX_SYNC_RECORDS} records per request")));
    }
    let r = sync::bulk(state.ctx(), &tenant, &p, req.products, req.customers).await?;
    Ok(cached::json_response(
        cached::answer_json(&p, r, |r| BulkSyncResult { products: r.products.into(), customers: r.customers.into() })
            .await?,
    ))
}
