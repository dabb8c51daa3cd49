//! Delta sync: only records whose content changed since their last
//! successful sync to this tenant's ERP (durable in the registry) reach the
//! plugin; the rest count as unchanged. The plugin's result is mapped back
//! onto the request's positions, and what succeeded is recorded.

use super::{Ctx, Result, ServiceError};
use crate::actor::{CallError, Provider};
use crate::bindings::types::{self as wit, BulkSyncRequest, BulkSyncResult, SyncResult};
use crate::cache::DataClass;
use serde::Serialize;
use std::future::Future;

/// A record a sync route accepts: its content (hashed as JSON to detect
/// changes), its id, and the contract record it becomes.
pub trait Synced: Serialize + Into<Self::Wit> {
    type Wit;
    /// The delta state's entity name.
    const ENTITY: &'static str;
    /// What syncing such records changes in the response cache.
    const WRITES: &'static [DataClass];
    fn id(&self) -> String;
}

/// The records of one entity that changed, and how to map the plugin's
/// answer back onto the request.
struct Delta<W> {
    send: Vec<W>,
    /// Position in the request of each sent record.
    positions: Vec<usize>,
    /// (id, content hash) of each sent record.
    keys: Vec<(String, String)>,
    total: usize,
    entity: &'static str,
}

fn provider_name(p: &Provider) -> &str {
    &p.handle.spec().plugin.name
}

fn empty_result() -> SyncResult {
    SyncResult { received: 0, created: 0, updated: 0, unchanged: 0, failed: 0, failures: Vec::new() }
}

impl<W> Delta<W> {
    fn plan<T: Synced<Wit = W>>(ctx: Ctx<'_>, tenant: &str, p: &Provider, records: Vec<T>) -> Result<Self> {
        let keys: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                let bytes = serde_json::to_vec(r).map_err(|e| ServiceError::Internal(e.to_string()))?;
                Ok((r.id(), crate::util::sha256_hex(&bytes)))
            })
            .collect::<Result<_>>()?;
        let changed = ctx.registry.sync_changed(tenant, provider_name(p), T::ENTITY, &keys)?;
        let total = records.len();
        let mut d = Delta { send: Vec::new(), positions: Vec::new(), keys: Vec::new(), total, entity: T::ENTITY };
        for (i, ((r, k), c)) in records.into_iter().zip(keys).zip(changed).enumerate() {
            if c {
                d.send.push(r.into());
                d.positions.push(i);
                d.keys.push(k);
            }
        }
        Ok(d)
    }

    /// Takes the records to send, leaving the bookkeeping.
    fn take(&mut self) -> Vec<W> {
        std::mem::take(&mut self.send)
    }

    /// Maps the plugin's result back onto the request and records what was
    /// synced successfully.
    fn finish(self, ctx: Ctx<'_>, tenant: &str, p: &Provider, mut r: SyncResult) -> Result<SyncResult> {
        let mut failed = vec![false; self.keys.len()];
        for f in &mut r.failures {
            let i = f.index as usize;
            let Some(&pos) = self.positions.get(i) else {
                return Err(ServiceError::ProviderBroke(
                    "the plugin reported a failure for a record it was not sent".into(),
                ));
            };
            failed[i] = true;
            f.index = pos as u32;
        }
        let ok: Vec<(String, String)> = self.keys.into_iter().zip(failed).filter(|(_, f)| !f).map(|(k, _)| k).collect();
        ctx.registry.sync_mark(tenant, provider_name(p), self.entity, &ok)?;
        r.unchanged += (self.total - self.positions.len()) as u32;
        r.received = self.total as u32;
        Ok(r)
    }
}

/// Syncs `records` of one entity through `call` (the plugin operation),
/// sending only what changed; no call at all when nothing did.
pub async fn records<T, C, Fut>(
    ctx: Ctx<'_>,
    tenant: &str,
    p: &Provider,
    records: Vec<T>,
    call: C,
) -> Result<SyncResult>
where
    T: Synced,
    C: FnOnce(Vec<T::Wit>) -> Fut,
    Fut: Future<Output = Result<SyncResult, CallError>>,
{
    let mut delta = Delta::plan(ctx, tenant, p, records)?;
    let sent = delta.take();
    let r = if sent.is_empty() { empty_result() } else { call(sent).await? };
    let r = delta.finish(ctx, tenant, p, r)?;
    ctx.cache.invalidate(tenant, T::WRITES);
    Ok(r)
}

/// Products and customers in one plugin call, each planned and recorded as
/// in [`records`].
pub async fn bulk<P, C>(
    ctx: Ctx<'_>,
    tenant: &str,
    p: &Provider,
    products: Vec<P>,
    customers: Vec<C>,
) -> Result<BulkSyncResult>
where
    P: Synced<Wit = wit::Product>,
    C: Synced<Wit = wit::Customer>,
{
    let mut products = Delta::plan(ctx, tenant, p, products)?;
    let mut customers = Delta::plan(ctx, tenant, p, customers)?;
    let request = BulkSyncRequest { products: products.take(), customers: customers.take() };
    let r = if request.products.is_empty() && request.customers.is_empty() {
        BulkSyncResult { products: empty_result(), customers: empty_result() }
    } else {
        p.bulk_sync(request).await?
    };
    let r = BulkSyncResult {
        products: products.finish(ctx, tenant, p, r.products)?,
        customers: customers.finish(ctx, tenant, p, r.customers)?,
    };
    ctx.cache.invalidate(tenant, P::WRITES);
    ctx.cache.invalidate(tenant, C::WRITES);
    Ok(r)
}
