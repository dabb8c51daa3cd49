//! Creating orders at most once (DESIGN decision 13). Every order reaches
//! the ERP with an external reference: the client's `externalRef`, else the
//! `Idempotency-Key`, else a key the host makes up and records before the
//! call. A retry after a lost answer then finds the first order instead of
//! creating another, and the recorded answer is replayed.

use super::{Ctx, ServiceError};
use crate::actor::Provider;
use crate::bindings::types::{BatchResult, ErpOrder, OrderRequest};
use crate::cache::DataClass::{self, Activities, Products};
use b2c_registry::{IdempotencyBegin, IdempotencyLimits};
use bytes::Bytes;
use std::future::Future;

/// The idempotency store's operation name for single orders.
const OPERATION: &str = "create-order";
/// What an order changes: the customer's activities and product stock.
const ORDER_WRITES: &[DataClass] = &[Activities, Products];

/// What `create` answers: a new order's rendered answer, or the answer
/// recorded for an earlier request with the same key and body.
pub enum Created {
    New(String),
    Replayed { status: u16, body: String },
}

/// How a single order is deduplicated: the client's key (if any), the
/// request's fingerprint (a digest of its canonical JSON), and what the
/// store keeps of answers.
pub struct Idempotency {
    pub key: Option<String>,
    pub fingerprint: String,
    pub limits: IdempotencyLimits,
}

/// A key the host makes up for an order whose client sent none: unique, so
/// it only ever names this one call's order.
fn derived_key() -> String {
    let bytes: [u8; 16] = rand::random();
    format!("b2c-{}", hex::encode(bytes))
}

/// `order` as sent to the plugin: without a client `externalRef`, `key` is
/// the ERP's external reference.
fn with_external_ref(mut order: OrderRequest, key: &str) -> OrderRequest {
    if order.external_ref.as_deref().is_none_or(str::is_empty) {
        order.external_ref = Some(key.to_string());
    }
    order
}

/// Creates one order under the idempotency protocol: the same key with the
/// same body answers the first result again; with another body, or while
/// the first is still running, it is a conflict. `render` turns the ERP's
/// order into the answer recorded and returned (generic over the caller's
/// error so rendering keeps its own failures).
pub async fn create<E, R, Fut>(
    ctx: Ctx<'_>,
    tenant: &str,
    p: &Provider,
    order: OrderRequest,
    idem: Idempotency,
    render: R,
) -> Result<Created, E>
where
    E: From<ServiceError>,
    R: FnOnce(ErpOrder) -> Fut,
    Fut: Future<Output = Result<Bytes, E>>,
{
    // A derived key is recorded like a client's before the call, so the
    // reference an ERP order may carry is known even if the host dies
    // before the answer.
    let key = idem.key.unwrap_or_else(derived_key);
    let store = ctx.registry;
    let begun = store.idempotency_begin(tenant, OPERATION, &key, &idem.fingerprint).map_err(ServiceError::from)?;
    match begun {
        IdempotencyBegin::Replay { status, body } => Ok(Created::Replayed { status, body }),
        IdempotencyBegin::Mismatch => Err(ServiceError::conflict(format!(
            "Idempotency-Key {key:?} was already used with a different request body"
        ))
        .into()),
        IdempotencyBegin::InProgress => Err(ServiceError::Conflict {
            detail: format!("a request with Idempotency-Key {key:?} is still in progress"),
            retry_after: Some(1),
        }
        .into()),
        IdempotencyBegin::Omitted { status } => Err(ServiceError::conflict(format!(
            "the request with Idempotency-Key {key:?} already succeeded (status {status}), but its answer was too \
             large to keep for replays; the order exists, do not send it again"
        ))
        .into()),
        IdempotencyBegin::New => match p.create_order(with_external_ref(order, &key)).await {
            Ok(o) => {
                ctx.cache.invalidate(tenant, ORDER_WRITES);
                let body = match render(o).await {
                    Ok(json) => String::from_utf8(json.to_vec()).map_err(|e| ServiceError::Internal(e.to_string())),
                    Err(e) => {
                        // The order exists but its answer is unusable: the
                        // key must not allow a second order.
                        store.idempotency_omit(tenant, OPERATION, &key, 201).map_err(ServiceError::from)?;
                        return Err(e);
                    }
                }?;
                store
                    .idempotency_finish(tenant, OPERATION, &key, 201, &body, idem.limits)
                    .map_err(ServiceError::from)?;
                Ok(Created::New(body))
            }
            Err(e) => {
                // Failures are not remembered: the caller may retry, and the
                // plugin finds an order that was committed after all.
                store.idempotency_abort(tenant, OPERATION, &key).map_err(ServiceError::from)?;
                Err(ServiceError::from(e).into())
            }
        },
    }
}

/// Creates a batch, each order on its own. Order `i` without `externalRef`
/// gets `KEY#i` from the client's key (a resent batch then finds its
/// orders), else a derived key.
pub async fn create_batch(
    ctx: Ctx<'_>,
    tenant: &str,
    p: &Provider,
    orders: Vec<OrderRequest>,
    key: Option<&str>,
) -> Result<BatchResult, ServiceError> {
    let orders = orders
        .into_iter()
        .enumerate()
        .map(|(i, o)| with_external_ref(o, &key.map_or_else(derived_key, |k| format!("{k}#{i}"))))
        .collect();
    let r = p.create_orders(orders).await?;
    // The actor checked that the counts match the items (`answers.rs`).
    ctx.cache.invalidate(tenant, ORDER_WRITES);
    Ok(r)
}
