//! Per-tenant response cache for read operations, bounded by bytes.
//!
//! Entries are keyed by (tenant, data class, class generation, operation,
//! argument), so no tenant can ever be served another tenant's record, and
//! invalidation is a generation bump: after a write through the host (an
//! order, a sync) or a binding change, the affected classes of that tenant
//! get a new generation and their old entries are never read again. TTLs are
//! per data class: master data for minutes, transactional data for seconds.
//!
//! What a plugin answers decides how big an entry is, so the cache is
//! bounded by bytes, not entries:
//! - the store (`quick_cache`) weighs each entry by its size and evicts to
//!   stay under the host-wide `max_bytes`;
//! - each tenant may hold at most `tenant_max_bytes` (its entries carry a
//!   [`Charge`] on the tenant's counter, given back whenever the store drops
//!   the entry, for whatever reason); a put over that is refused, as is one
//!   entry larger than `entry_max_bytes`;
//! - a sweeper thread drops expired and invalidated entries without waiting
//!   for a read, so memory comes back after a TTL or a write; an operator's
//!   invalidation of a tenant drops its entries at once.
//!
//! Entries are serialized JSON in shared [`Bytes`]: a hit hands out the same
//! allocation (a reference count, never a copy), and a batch answer splices
//! cached records in without parsing or re-serializing them.

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
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
    /// Entries the store is sized for (0 turns the cache off); the bound
    /// that holds is `max_bytes`.
    pub max_entries: u64,
    /// Bytes all entries may hold together (keys and JSON).
    pub max_bytes: u64,
    /// Bytes one tenant's entries may hold together.
    pub tenant_max_bytes: u64,
    /// Largest single entry; bigger answers are served but not cached.
    pub entry_max_bytes: u64,
    /// How often expired and invalidated entries are dropped unread.
    pub sweep_every: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            master_ttl: Duration::from_secs(300),
            transactional_ttl: Duration::from_secs(30),
            max_entries: 100_000,
            max_bytes: 256 << 20,
            tenant_max_bytes: 64 << 20,
            entry_max_bytes: 1 << 20,
            sweep_every: Duration::from_secs(1),
        }
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

/// Bytes an entry holds on its tenant's counter, given back on drop: the
/// store drops entries on eviction, replacement, removal and sweeping
/// alike, so the counter is exact whichever way an entry goes.
#[derive(Debug)]
struct Charge {
    tenant: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.tenant.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Entry {
    at: Instant,
    json: Bytes,
    weight: u64,
    _charge: Charge,
}

/// Fixed per-entry overhead (key and entry structs, the store's slot).
const ENTRY_OVERHEAD: u64 = 160;

#[derive(Clone)]
struct BySize;

impl Weighter<Key, Arc<Entry>> for BySize {
    fn weight(&self, _key: &Key, val: &Arc<Entry>) -> u64 {
        val.weight
    }
}

/// Hit and miss counts of one tenant.
#[derive(Default, Clone, Copy, Debug, PartialEq)]
pub struct CacheCounts {
    pub hits: u64,
    pub misses: u64,
}

pub struct ResponseCache {
    entries: Cache<Key, Arc<Entry>, BySize>,
    master_ttl: Duration,
    transactional_ttl: Duration,
    tenant_max_bytes: usize,
    entry_max_bytes: usize,
    generations: std::sync::RwLock<HashMap<(Arc<str>, DataClass), u64>>,
    counts: Mutex<HashMap<Arc<str>, CacheCounts>>,
    tenant_bytes: Mutex<HashMap<Arc<str>, Arc<AtomicUsize>>>,
    /// Puts refused (entry too big, or its tenant at its share).
    pub refused: AtomicU64,
    enabled: bool,
}

impl ResponseCache {
    /// A cache with `settings`, and its sweeper thread (which ends when
    /// the cache is dropped).
    pub fn new(settings: &CacheSettings) -> Arc<Self> {
        let cache = Arc::new(Self {
            entries: Cache::with_weighter(settings.max_entries.max(1) as usize, settings.max_bytes.max(1), BySize),
            master_ttl: settings.master_ttl,
            transactional_ttl: settings.transactional_ttl,
            tenant_max_bytes: settings.tenant_max_bytes as usize,
            entry_max_bytes: settings.entry_max_bytes as usize,
            generations: Default::default(),
            counts: Mutex::new(HashMap::new()),
            tenant_bytes: Default::default(),
            refused: AtomicU64::new(0),
            enabled: settings.max_entries > 0 && settings.max_bytes > 0 && !settings.master_ttl.is_zero(),
        });
        if cache.enabled {
            let weak = Arc::downgrade(&cache);
            let every = settings.sweep_every.max(Duration::from_millis(10));
            let _ = std::thread::Builder::new().name("cache-sweeper".into()).spawn(move || sweeper(weak, every));
        }
        cache
    }

    fn generation(&self, tenant: &Arc<str>, class: DataClass) -> u64 {
        *self.generations.read().expect("cache lock").get(&(tenant.clone(), class)).unwrap_or(&0)
    }

    fn key(&self, tenant: &str, class: DataClass, op: &'static str, arg: &str) -> Key {
        let tenant: Arc<str> = Arc::from(tenant);
        let generation = self.generation(&tenant, class);
        Key { tenant, class, generation, op, arg: arg.to_string() }
    }

    fn ttl(&self, class: DataClass) -> Duration {
        if class.transactional() { self.transactional_ttl } else { self.master_ttl }
    }

    fn count(&self, tenant: &str, hit: bool) {
        let mut c = self.counts.lock().expect("cache lock");
        let e = match c.get_mut(tenant) {
            Some(e) => e,
            None => c.entry(Arc::from(tenant)).or_default(),
        };
        if hit {
            e.hits += 1;
        } else {
            e.misses += 1;
        }
    }

    /// A cached answer (shared bytes, not a copy), counting the hit or miss.
    pub fn get(&self, tenant: &str, class: DataClass, op: &'static str, arg: &str) -> Option<Bytes> {
        if !self.enabled {
            return None;
        }
        let key = self.key(tenant, class, op, arg);
        let v = match self.entries.get(&key) {
            Some(e) if e.at.elapsed() < self.ttl(class) => Some(e.json.clone()),
            Some(_) => {
                self.entries.remove(&key);
                None
            }
            None => None,
        };
        self.count(tenant, v.is_some());
        v
    }

    /// Caches `json`, unless it is larger than one entry may be or its
    /// tenant already holds its share (then it is simply not cached).
    pub fn put(&self, tenant: &str, class: DataClass, op: &'static str, arg: &str, json: Bytes) {
        if !self.enabled {
            return;
        }
        let key = self.key(tenant, class, op, arg);
        let weight = json.len() + key.arg.len() + ENTRY_OVERHEAD as usize;
        if json.len() > self.entry_max_bytes {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let counter = self.tenant_counter(&key.tenant);
        // Reserve first, then check: concurrent puts cannot both slip in.
        if counter.fetch_add(weight, Ordering::Relaxed) + weight > self.tenant_max_bytes {
            counter.fetch_sub(weight, Ordering::Relaxed);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let entry = Entry {
            at: Instant::now(),
            json,
            weight: weight as u64,
            _charge: Charge { tenant: counter, bytes: weight },
        };
        self.entries.insert(key, Arc::new(entry));
    }

    fn tenant_counter(&self, tenant: &Arc<str>) -> Arc<AtomicUsize> {
        self.tenant_bytes.lock().expect("cache lock").entry(tenant.clone()).or_default().clone()
    }

    /// Makes every cached entry of these classes of `tenant` unreachable;
    /// the sweeper frees them within `sweep_every`.
    pub fn invalidate(&self, tenant: &str, classes: &[DataClass]) {
        let mut g = self.generations.write().expect("cache lock");
        for class in classes {
            *g.entry((Arc::from(tenant), *class)).or_default() += 1;
        }
    }

    /// Invalidates all of `tenant`'s entries and frees them now (an
    /// operator's explicit invalidation, a rebind).
    pub fn invalidate_tenant(&self, tenant: &str) {
        self.invalidate(tenant, &DataClass::ALL);
        self.entries.retain(|k, _| &*k.tenant != tenant);
    }

    /// Drops expired entries and entries of an old generation.
    pub fn sweep(&self) {
        let generations = self.generations.read().expect("cache lock").clone();
        let (master, transactional) = (self.master_ttl, self.transactional_ttl);
        self.entries.retain(|k, e| {
            let ttl = if k.class.transactional() { transactional } else { master };
            let current = generations.get(&(k.tenant.clone(), k.class)).copied().unwrap_or(0);
            k.generation == current && e.at.elapsed() < ttl
        });
    }

    /// Bytes held by all entries (keys, JSON, overhead).
    pub fn bytes(&self) -> u64 {
        self.entries.weight()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held by each tenant's entries, by tenant id.
    pub fn tenant_bytes(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self
            .tenant_bytes
            .lock()
            .expect("cache lock")
            .iter()
            .map(|(t, b)| (t.to_string(), b.load(Ordering::Relaxed) as u64))
            .collect();
        v.sort();
        v
    }

    /// Hit/miss counts per tenant, by tenant id.
    pub fn counts(&self) -> Vec<(String, CacheCounts)> {
        let mut v: Vec<_> = self.counts.lock().expect("cache lock").iter().map(|(t, c)| (t.to_string(), *c)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

fn sweeper(cache: Weak<ResponseCache>, every: Duration) {
    loop {
        std::thread::sleep(every);
        match cache.upgrade() {
            Some(c) => c.sweep(),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: serde_json::Value) -> Bytes {
        Bytes::from(v.to_string())
    }

    #[test]
    fn tenants_never_share_entries_and_invalidation_is_per_class() {
        let c = ResponseCache::new(&CacheSettings::default());
        c.put("a", DataClass::Products, "get-product", "P1", raw(json!({"id": "P1", "t": "a"})));
        assert!(c.get("b", DataClass::Products, "get-product", "P1").is_none());
        assert_eq!(&c.get("a", DataClass::Products, "get-product", "P1").unwrap()[..], br#"{"id":"P1","t":"a"}"#);
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

#[cfg(test)]
mod bounds {
    use super::*;

    fn settings() -> CacheSettings {
        CacheSettings {
            max_bytes: 100_000,
            tenant_max_bytes: 30_000,
            entry_max_bytes: 5_000,
            sweep_every: Duration::from_secs(3600),
            ..CacheSettings::default()
        }
    }

    #[test]
    fn entries_over_the_entry_or_tenant_limit_are_refused() {
        // Room enough in the store that quick_cache never evicts here: its
        // capacity is split over shards, so at 100 000 bytes one shard could
        // fill and evict an entry of `a`, whose bytes would then let one
        // more put in (13 refusals instead of 14; seen flaking).
        let c = ResponseCache::new(&CacheSettings { max_bytes: 10_000_000, ..settings() });
        c.put("a", DataClass::Products, "get-product", "big", Bytes::from(vec![b'x'; 5_001]));
        assert!(c.get("a", DataClass::Products, "get-product", "big").is_none());
        for i in 0..20 {
            c.put("a", DataClass::Products, "get-product", &format!("P{i}"), Bytes::from(vec![b'x'; 4_000]));
        }
        let a = c.tenant_bytes().into_iter().find(|(t, _)| t == "a").unwrap().1;
        assert!(a <= 30_000, "tenant a holds {a} bytes");
        // 4 000 + 2 + 160 bytes each: 7 fit in 30 000.
        assert_eq!(a, 7 * (4_000 + 2 + ENTRY_OVERHEAD));
        assert_eq!(c.refused.load(Ordering::Relaxed), 1 + 13);
        // Another tenant still has its own share.
        c.put("b", DataClass::Products, "get-product", "P1", Bytes::from(vec![b'y'; 4_000]));
        assert!(c.get("b", DataClass::Products, "get-product", "P1").is_some());
    }

    #[test]
    fn the_store_stays_under_max_bytes_and_counters_follow_evictions() {
        let c = ResponseCache::new(&CacheSettings { tenant_max_bytes: 1 << 30, ..settings() });
        for i in 0..1_000 {
            c.put("a", DataClass::Products, "get-product", &format!("P{i}"), Bytes::from(vec![b'x'; 1_000]));
        }
        assert!(c.bytes() <= 100_000, "{}", c.bytes());
        // The tenant counter equals what the store holds: evictions gave
        // their bytes back.
        assert_eq!(c.tenant_bytes()[0].1, c.bytes());
    }

    #[test]
    fn hits_share_the_cached_bytes() {
        let c = ResponseCache::new(&settings());
        c.put("a", DataClass::Products, "get-product", "P1", Bytes::from(vec![b'x'; 4_000]));
        let one = c.get("a", DataClass::Products, "get-product", "P1").unwrap();
        let two = c.get("a", DataClass::Products, "get-product", "P1").unwrap();
        assert_eq!(one.as_ptr(), two.as_ptr(), "a hit must not copy the entry");
    }

    #[test]
    fn sweeping_frees_invalidated_and_expired_entries_unread() {
        let c = ResponseCache::new(&CacheSettings { transactional_ttl: Duration::from_millis(1), ..settings() });
        c.put("a", DataClass::Products, "get-product", "P1", Bytes::from_static(b"{}"));
        c.put("a", DataClass::Activities, "get-activities", "C1", Bytes::from_static(b"[]"));
        c.put("b", DataClass::Products, "get-product", "P1", Bytes::from_static(b"{}"));
        assert_eq!(c.len(), 3);
        std::thread::sleep(Duration::from_millis(5));
        c.invalidate("a", &[DataClass::Products]);
        c.sweep();
        // a's product was invalidated, a's activity expired; b's stays.
        assert_eq!(c.len(), 1);
        assert_eq!(c.tenant_bytes(), vec![("a".to_string(), 0), ("b".to_string(), 2 + 2 + ENTRY_OVERHEAD)]);
        c.invalidate_tenant("b");
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }
}
