//! The contract enforced on every plugin answer, before it leaves the actor.
//!
//! WIT types say what shape an answer has; the doc comments of `wit/` say
//! more (a batch answer has the requested length and order, a cursor gives
//! at most `max`, activities at most `limit`, categories parents before
//! children, counts that add up). A plugin that breaks one of these rules
//! would otherwise make the host serve wrong data (another product under the
//! requested id, cached for minutes), answer nonsense, or panic on an
//! overflow. Each check here turns such an answer into
//! [`CallError::Contract`](crate::actor::CallError::Contract): the caller
//! gets a 502, nothing is cached, and the instance is discarded.
//!
//! Sizes are bounded elsewhere: what a plugin can make the host lift is
//! capped by wasmtime's hostcall fuel (`limits.maxAnswerMib`), and the JSON
//! written from it by the serializer's byte limit (`api/cached.rs`).

use crate::bindings::types::{
    Activity, BatchResult, Category, Contact, Customer, ErpOrder, Product, ProductDetails, SyncResult,
};
use std::collections::{HashMap, HashSet};

/// Why an answer breaks the contract, for the log and the problem detail.
pub type Violation = String;

/// Longest continuation token a plugin may hand out: the same bound the
/// REST surface puts on the token a client sends back.
pub const MAX_CONTINUATION: usize = 1024;

/// Earliest and latest timestamp (ms since the epoch) that RFC 3339 can
/// write: 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
const MIN_TS: i64 = -62_167_219_200_000;
const MAX_TS: i64 = 253_402_300_799_999;

/// A plugin-supplied string, quoted and cut short for a violation message.
fn short(s: &str) -> String {
    format!("\"{}\"", crate::untrusted::sanitize_to(s, 64))
}

fn ts(field: &str, ms: i64) -> Result<(), Violation> {
    if (MIN_TS..=MAX_TS).contains(&ms) {
        Ok(())
    } else {
        Err(format!("{field} = {ms} ms is not representable as an RFC 3339 timestamp (years 0000-9999)"))
    }
}

/// A record of an answer: its id (where batch answers are matched by id)
/// and the rules every instance of it must satisfy on its own.
pub trait Record {
    fn id(&self) -> &str;
    fn check(&self) -> Result<(), Violation>;
}

impl Record for Product {
    fn id(&self) -> &str {
        &self.id
    }
    fn check(&self) -> Result<(), Violation> {
        ts("product.modifiedAt", self.modified_at)
    }
}

impl Record for Customer {
    fn id(&self) -> &str {
        &self.id
    }
    fn check(&self) -> Result<(), Violation> {
        ts("customer.modifiedAt", self.modified_at)
    }
}

impl Record for Contact {
    fn id(&self) -> &str {
        &self.id
    }
    fn check(&self) -> Result<(), Violation> {
        ts("contact.modifiedAt", self.modified_at)
    }
}

impl Record for ProductDetails {
    fn id(&self) -> &str {
        &self.product.id
    }
    fn check(&self) -> Result<(), Violation> {
        self.product.check()
    }
}

impl Record for Activity {
    fn id(&self) -> &str {
        &self.id
    }
    fn check(&self) -> Result<(), Violation> {
        ts("activity.occurredAt", self.occurred_at)
    }
}

impl Record for ErpOrder {
    fn id(&self) -> &str {
        &self.id
    }
    fn check(&self) -> Result<(), Violation> {
        ts("order.createdAt", self.created_at)
    }
}

/// A single get: the record must be the one asked for.
pub fn one<T: Record>(requested: &str, r: T) -> Result<T, Violation> {
    if r.id() != requested {
        return Err(format!("asked for id {requested:?}, the plugin answered a record with id {}", short(r.id())));
    }
    r.check()?;
    Ok(r)
}

/// A batch get: same length and order as `requested`, each item either
/// `none` or the record with the requested id.
pub fn batch<T: Record>(requested: &[String], found: Vec<Option<T>>) -> Result<Vec<Option<T>>, Violation> {
    if found.len() != requested.len() {
        return Err(format!("asked for {} ids, the plugin answered {} entries", requested.len(), found.len()));
    }
    for (i, (id, item)) in requested.iter().zip(&found).enumerate() {
        if let Some(r) = item {
            if r.id() != id {
                return Err(format!("entry {i}: asked for id {id:?}, the plugin answered id {}", short(r.id())));
            }
            r.check()?;
        }
    }
    Ok(found)
}

/// A cursor's batch: at most `max` records.
pub fn pulled<T: Record>(max: u32, items: Vec<T>) -> Result<Vec<T>, Violation> {
    if items.len() > max as usize {
        return Err(format!("a cursor asked for at most {max} records answered {}", items.len()));
    }
    for r in &items {
        r.check()?;
    }
    Ok(items)
}

/// One customer's activities: at most `limit`, all of that customer.
pub fn activities(customer: &str, limit: u32, items: &[Activity]) -> Result<(), Violation> {
    if items.len() > limit as usize {
        return Err(format!(
            "asked for at most {limit} activities of {customer:?}, the plugin answered {}",
            items.len()
        ));
    }
    for a in items {
        if a.customer_id != customer {
            return Err(format!(
                "an activity of customer {} was answered for customer {customer:?}",
                short(&a.customer_id)
            ));
        }
        a.check()?;
    }
    Ok(())
}

/// A batch of activities: one entry per requested customer, each checked.
pub fn activities_batch(
    customers: &[String],
    limit: u32,
    found: Vec<Option<Vec<Activity>>>,
) -> Result<Vec<Option<Vec<Activity>>>, Violation> {
    if found.len() != customers.len() {
        return Err(format!("asked for {} customers, the plugin answered {} entries", customers.len(), found.len()));
    }
    for (c, items) in customers.iter().zip(&found) {
        if let Some(items) = items {
            activities(c, limit, items)?;
        }
    }
    Ok(found)
}

/// A catalog page: at most `page_size` items, a bounded continuation token.
pub fn catalog_page(page_size: u32, items: &[ProductDetails], continuation: Option<&str>) -> Result<(), Violation> {
    if items.len() > page_size as usize {
        return Err(format!("asked for a page of at most {page_size}, the plugin answered {}", items.len()));
    }
    if let Some(c) = continuation
        && (c.is_empty() || c.len() > MAX_CONTINUATION)
    {
        return Err(format!(
            "a continuation token must be 1 to {MAX_CONTINUATION} bytes, the plugin answered {} bytes",
            c.len()
        ));
    }
    items.iter().try_for_each(Record::check)
}

/// The category tree: unique ids, and every parent listed before its
/// children (which also rules out cycles and dangling parents).
pub fn categories(items: &[Category]) -> Result<(), Violation> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(items.len());
    for c in items {
        if let Some(p) = &c.parent_id
            && !seen.contains(p.as_str())
        {
            return Err(format!(
                "category {} names parent {}, which is not listed before it (unknown parent or a cycle)",
                short(&c.id),
                short(p)
            ));
        }
        if !seen.insert(&c.id) {
            return Err(format!("category {} is listed twice", short(&c.id)));
        }
    }
    Ok(())
}

/// A create-orders result: one item per order sent, counts that match the
/// items.
pub fn batch_result(sent: usize, r: &BatchResult) -> Result<(), Violation> {
    if r.items.len() != sent {
        return Err(format!("{sent} orders were sent, the plugin answered {} results", r.items.len()));
    }
    let ok = r.items.iter().filter(|i| i.is_ok()).count();
    if r.succeeded as usize != ok || r.failed as usize != sent - ok {
        return Err(format!(
            "the plugin counted {} succeeded and {} failed, its items say {ok} and {}",
            r.succeeded,
            r.failed,
            sent - ok
        ));
    }
    for o in r.items.iter().flatten() {
        o.check()?;
    }
    Ok(())
}

/// A sync result: counts of what was sent, failures pointing at distinct
/// records that were sent, with the ids they were sent with.
pub fn sync_result(sent_ids: &[&str], r: &SyncResult) -> Result<(), Violation> {
    let n = sent_ids.len() as u64;
    if u64::from(r.received) != n {
        return Err(format!("{n} records were sent, the plugin says it received {}", r.received));
    }
    let total = u64::from(r.created) + u64::from(r.updated) + u64::from(r.unchanged) + u64::from(r.failed);
    if total != n {
        return Err(format!(
            "created {} + updated {} + unchanged {} + failed {} = {total}, but {n} records were sent",
            r.created, r.updated, r.unchanged, r.failed
        ));
    }
    if r.failures.len() as u64 != u64::from(r.failed) {
        return Err(format!("the plugin counted {} failed but listed {} failures", r.failed, r.failures.len()));
    }
    let mut seen: HashMap<u32, ()> = HashMap::with_capacity(r.failures.len());
    for f in &r.failures {
        let Some(id) = sent_ids.get(f.index as usize) else {
            return Err(format!("a failure names record {} of {n} sent", f.index));
        };
        if seen.insert(f.index, ()).is_some() {
            return Err(format!("record {} is listed as failed twice", f.index));
        }
        if f.id != *id {
            return Err(format!(
                "failure {} names id {}, record {} was sent as {id:?}",
                f.index,
                short(&f.id),
                f.index
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{ActivityKind, Money, ProviderError, SyncFailure};

    fn product(id: &str) -> Product {
        Product {
            id: id.into(),
            sku: "S".into(),
            name: "N".into(),
            description: String::new(),
            category_id: "C".into(),
            price: Money { amount_minor: 1, currency: "EUR".into() },
            stock: 1,
            unit: "pcs".into(),
            active: true,
            modified_at: 0,
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn batch_answers_must_match_the_requested_ids_in_order() {
        let req = ids(&["A", "B", "C"]);
        assert!(batch(&req, vec![Some(product("A")), None, Some(product("C"))]).is_ok());
        let e = batch(&req, vec![Some(product("B")), Some(product("A")), None]).unwrap_err();
        assert!(e.contains("entry 0: asked for id \"A\""), "{e}");
        assert!(
            batch::<Product>(&req, vec![None, None]).unwrap_err().contains("asked for 3 ids, the plugin answered 2")
        );
        assert!(one("A", product("B")).is_err());
        let mut late = product("A");
        late.modified_at = i64::MAX;
        assert!(one("A", late).unwrap_err().contains("RFC 3339"));
        let mut early = product("A");
        early.modified_at = MIN_TS;
        assert!(one("A", early).is_ok());
    }

    #[test]
    fn cursors_pages_and_activities_respect_their_bounds() {
        assert!(pulled(2, vec![product("A"), product("B")]).is_ok());
        assert!(pulled(1, vec![product("A"), product("B")]).is_err());
        let act = |c: &str| Activity {
            id: "X".into(),
            customer_id: c.into(),
            contact_id: None,
            kind: ActivityKind::Call,
            subject: String::new(),
            occurred_at: 0,
        };
        assert!(activities("C1", 1, &[act("C1")]).is_ok());
        assert!(activities("C1", 1, &[act("C1"), act("C1")]).is_err());
        assert!(activities("C1", 5, &[act("C2")]).unwrap_err().contains("customer \"C2\""));
        assert!(activities_batch(&ids(&["C1", "C2"]), 5, vec![Some(vec![act("C2")]), None]).is_err());
        assert!(catalog_page(10, &[], Some(&"x".repeat(MAX_CONTINUATION))).is_ok());
        assert!(catalog_page(10, &[], Some(&"x".repeat(MAX_CONTINUATION + 1))).is_err());
        assert!(catalog_page(10, &[], Some("")).is_err());
    }

    #[test]
    fn category_trees_are_ordered_and_acyclic() {
        let cat = |id: &str, parent: Option<&str>| Category {
            id: id.into(),
            name: id.into(),
            parent_id: parent.map(Into::into),
            path: id.into(),
        };
        assert!(categories(&[cat("A", None), cat("B", Some("A")), cat("C", Some("B"))]).is_ok());
        assert!(categories(&[cat("A", Some("B")), cat("B", Some("A"))]).unwrap_err().contains("cycle"));
        assert!(categories(&[cat("A", None), cat("B", Some("Z"))]).is_err());
        assert!(categories(&[cat("A", None), cat("A", None)]).unwrap_err().contains("twice"));
    }

    #[test]
    fn counts_must_add_up_without_overflow() {
        let sr = |received, created, updated, unchanged, failed, failures: Vec<(u32, &str)>| SyncResult {
            received,
            created,
            updated,
            unchanged,
            failed,
            failures: failures
                .into_iter()
                .map(|(index, id)| SyncFailure { index, id: id.into(), error: ProviderError::Internal("x".into()) })
                .collect(),
        };
        let sent = ["A", "B"];
        assert!(sync_result(&sent, &sr(2, 1, 0, 0, 1, vec![(1, "B")])).is_ok());
        let max = u32::MAX;
        assert!(sync_result(&sent, &sr(max, max, max, max, max, vec![])).is_err());
        assert!(sync_result(&sent, &sr(2, max, 1, 0, 0, vec![])).unwrap_err().contains("4294967296"));
        assert!(sync_result(&sent, &sr(2, 0, 0, 0, 2, vec![(1, "B"), (1, "B")])).unwrap_err().contains("twice"));
        assert!(sync_result(&sent, &sr(2, 1, 0, 0, 1, vec![(7, "B")])).unwrap_err().contains("record 7 of 2"));
        assert!(sync_result(&sent, &sr(2, 1, 0, 0, 1, vec![(0, "B")])).unwrap_err().contains("sent as \"A\""));
        let order = ErpOrder {
            id: "O1".into(),
            customer_id: "C".into(),
            lines: vec![],
            total: Money { amount_minor: 0, currency: "EUR".into() },
            status: crate::bindings::types::OrderStatus::Created,
            external_ref: None,
            note: None,
            created_at: 0,
        };
        let br =
            |items: Vec<Result<ErpOrder, ProviderError>>, succeeded, failed| BatchResult { items, succeeded, failed };
        assert!(batch_result(2, &br(vec![Ok(order.clone()), Err(ProviderError::Conflict("c".into()))], 1, 1)).is_ok());
        assert!(batch_result(2, &br(vec![Ok(order.clone()), Ok(order.clone())], max, max)).is_err());
        assert!(batch_result(1, &br(vec![Ok(order.clone()), Ok(order)], 2, 0)).is_err());
    }
}
