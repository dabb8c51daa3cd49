//! Batch helpers that keep the contract's batch rules for the author:
//! answers in request order with one entry per id, `none` for unknown ids,
//! and result tallies that count what was sent.

use crate::bindings::b2connect::provider::types::{BatchResult, ErpOrder, ProviderError, SyncFailure, SyncResult};

/// Looks each id up with `get`: same length and order as `ids`; an id
/// `get` answers `not-found` for is `None`; any other error fails the whole
/// batch (the contract has no per-id error in a batch get).
pub fn get_many<T>(
    ids: Vec<String>,
    mut get: impl FnMut(String) -> Result<T, ProviderError>,
) -> Result<Vec<Option<T>>, ProviderError> {
    ids.into_iter()
        .map(|id| match get(id) {
            Ok(v) => Ok(Some(v)),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        })
        .collect()
}

/// [`get_many`] for a lookup that answers `None` for an unknown id (no
/// error to build per miss); an error still fails the whole batch.
pub fn find_many<T>(
    ids: Vec<String>,
    mut find: impl FnMut(&str) -> Result<Option<T>, ProviderError>,
) -> Result<Vec<Option<T>>, ProviderError> {
    ids.iter().map(|id| find(id)).collect()
}

/// What syncing one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    Created,
    Updated,
    /// The record was already exactly so; nothing was written.
    Unchanged,
}

/// Syncs each record with `sync` and tallies a `SyncResult`: `received`
/// is the number sent, a failure names the record's index and id. If
/// `sync` answers `unsupported` the whole call is `unsupported` (the
/// provider does not sync at all; that is not a per-record failure).
pub fn sync_each<T>(
    records: Vec<T>,
    id: impl Fn(&T) -> String,
    mut sync: impl FnMut(T) -> Result<Synced, ProviderError>,
) -> Result<SyncResult, ProviderError> {
    let mut result = SyncResult { received: 0, created: 0, updated: 0, unchanged: 0, failed: 0, failures: Vec::new() };
    for (index, record) in records.into_iter().enumerate() {
        result.received += 1;
        let record_id = id(&record);
        match sync(record) {
            Ok(Synced::Created) => result.created += 1,
            Ok(Synced::Updated) => result.updated += 1,
            Ok(Synced::Unchanged) => result.unchanged += 1,
            Err(e @ ProviderError::Unsupported(_)) => return Err(e),
            Err(error) => {
                result.failed += 1;
                result.failures.push(SyncFailure { index: index as u32, id: record_id, error });
            }
        }
    }
    Ok(result)
}

/// Creates each order with `create` on its own and tallies a
/// `BatchResult`: one item per order sent, in order. `unsupported` fails
/// the whole call, as in [`sync_each`].
pub fn create_each<T>(
    orders: Vec<T>,
    mut create: impl FnMut(T) -> Result<ErpOrder, ProviderError>,
) -> Result<BatchResult, ProviderError> {
    let mut result = BatchResult { items: Vec::with_capacity(orders.len()), succeeded: 0, failed: 0 };
    for order in orders {
        match create(order) {
            Ok(o) => {
                result.succeeded += 1;
                result.items.push(Ok(o));
            }
            Err(e @ ProviderError::Unsupported(_)) => return Err(e),
            Err(e) => {
                result.failed += 1;
                result.items.push(Err(e));
            }
        }
    }
    Ok(result)
}
