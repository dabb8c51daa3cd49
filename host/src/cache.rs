//! Per-tenant response cache for read operations.
//!
//! Entries are keyed by (tenant, data class, class generation, operation,
//! argument), so no tenant can ever be served another tenant's record, and
//! invalidation is a generation bump: after a write through the host (an
//! order, a sync) or a binding change, the affected classes of that tenant
//! get a new generation and their old entries are never read again (they
//! age out under the size bound). TTLs are per data class: master data for
//! minutes, transactional data for seconds.
//!
//! The store is `quick_cache` (sharded, amortised O(1) eviction, no
//! background or inline housekeeping); an entry carries its insertion time
//! and expires lazily on read.
//!
//! Entries are serialized JSON (`RawValue`): a hit is copied into the answer
//! as it is, and a batch answer splices cached records in without parsing
//! or re-serializing them.

use quick_cache::sync::Cache;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What kind of data an entry holds; decides its TTL and which writes
/// invalidate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataClass {
    Products,
    Customers,
    Contacts,
    Categories,
    Catalog,
    Activities,
}

impl DataClass {
    pub const ALL: [DataClass; 6] = [
        DataClass::Products,
        DataClass::Customers,
        DataClass::Contacts,
        DataClass::Categories,
        DataClass::Catalog,
        DataClass::Activities,
    ];

    fn transactional(self) -> bool {
        matches!(self, DataClass::Activities)
    }
}

#[derive(Clone, Debug)]
pub struct CacheSettings {
    /// TTL of master data (products, customers, contacts, categories, catalog).
    pub master_ttl: Duration,
    /// TTL of transactional data (activities).
    pub transactional_ttl: Duration,
    /// Entries kept at most, over all tenants.
    pub max_entries: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self { master_ttl: Duration::from_secs(300), transactional_ttl: Duration::from_secs(30), max_entries: 100_000 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    tenant: Arc<str>,
    class: DataClass,
    generation: u64,
    op: &'static str,
    arg: String,
}

/// Hit and miss counts of one tenant.
#[derive(Default, Clone, Copy, Debug, PartialEq)]
pub struct CacheCounts {
    pub hits: u64,
    pub misses: u64,
}

pub struct ResponseCache {
    entries: Cache<Key, (Instant, Arc<RawValue>)>,
    master_ttl: Duration,
    transactional_ttl: Duration,
    generations: std::sync::RwLock<HashMap<(Arc<str>, DataClass), u64>>,
    counts: Mutex<HashMap<Arc<str>, CacheCounts>>,
    enabled: bool,
}

impl ResponseCache {
    pub fn new(settings: &CacheSettings) -> Self {
        Self {
            entries: Cache::new(settings.max_entries.max(1) as usize),
            master_ttl: settings.master_ttl,
            transactional_ttl: settings.transactional_ttl,
            generations: Default::default(),
            counts: Mutex::new(HashMap::new()),
            enabled: settings.max_entries > 0 && !settings.master_ttl.is_zero(),
        }
    }

    fn key(&self, tenant: &str, class: DataClass, op: &'static str, arg: &str) -> Key {
        let tenant: Arc<str> = Arc::from(tenant);
        let generation = *self.generations.read().expect("cache lock").get(&(tenant.clone(), class)).unwrap_or(&0);
        Key { tenant, class, generation, op, arg: arg.to_string() }
    }

    fn count(&self, tenant: &str, hit: bool) {
        let mut c = self.counts.lock().expect("cache lock");
        let e = c.entry(Arc::from(tenant)).or_default();
        if hit {
            e.hits += 1;
        } else {
            e.misses += 1;
        }
    }

    /// A cached value, counting the hit or miss.
    pub fn get(&self, tenant: &str, class: DataClass, op: &'static str, arg: &str) -> Option<Arc<RawValue>> {
        if !self.enabled {
            return None;
        }
        let key = self.key(tenant, class, op, arg);
        let ttl = if class.transactional() { self.transactional_ttl } else { self.master_ttl };
        let v = match self.entries.get(&key) {
            Some((at, v)) if at.elapsed() < ttl => Some(v),
            Some(_) => {
                self.entries.remove(&key);
                None
            }
            None => None,
        };
        self.count(tenant, v.is_some());
        v
    }

    pub fn put(&self, tenant: &str, class: DataClass, op: &'static str, arg: &str, value: Arc<RawValue>) {
        if self.enabled {
            self.entries.insert(self.key(tenant, class, op, arg), (Instant::now(), value));
        }
    }

    /// Makes every cached entry of these classes of `tenant` unreachable.
    pub fn invalidate(&self, tenant: &str, classes: &[DataClass]) {
        let mut g = self.generations.write().expect("cache lock");
        for class in classes {
            *g.entry((Arc::from(tenant), *class)).or_default() += 1;
        }
    }

    pub fn invalidate_tenant(&self, tenant: &str) {
        self.invalidate(tenant, &DataClass::ALL);
    }

    /// Hit/miss counts per tenant, by tenant id.
    pub fn counts(&self) -> Vec<(String, CacheCounts)> {
        let mut v: Vec<_> = self.counts.lock().expect("cache lock").iter().map(|(t, c)| (t.to_string(), *c)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: serde_json::Value) -> Arc<RawValue> {
        Arc::from(serde_json::value::to_raw_value(&v).unwrap())
    }

    #[test]
    fn tenants_never_share_entries_and_invalidation_is_per_class() {
        let c = ResponseCache::new(&CacheSettings::default());
        c.put("a", DataClass::Products, "get-product", "P1", raw(json!({"id": "P1", "t": "a"})));
        assert!(c.get("b", DataClass::Products, "get-product", "P1").is_none());
        assert_eq!(c.get("a", DataClass::Products, "get-product", "P1").unwrap().get(), r#"{"id":"P1","t":"a"}"#);
        c.put("a", DataClass::Activities, "get-activities", "C1", raw(json!([])));
        c.invalidate("a", &[DataClass::Activities]);
        assert!(c.get("a", DataClass::Activities, "get-activities", "C1").is_none());
        assert!(c.get("a", DataClass::Products, "get-product", "P1").is_some());
        c.invalidate_tenant("a");
        assert!(c.get("a", DataClass::Products, "get-product", "P1").is_none());
        let counts: HashMap<_, _> = c.counts().into_iter().collect();
        assert_eq!(counts["a"], CacheCounts { hits: 2, misses: 2 });
        assert_eq!(counts["b"], CacheCounts { hits: 0, misses: 1 });
    }
}
