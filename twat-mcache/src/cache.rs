//! [`MemoryCache`]: the in-memory cache behind `#[mcache]`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use twat_cache_common::clock::{deadline, now_nanos};
use twat_cache_common::metrics;
use twat_cache_common::registry::{self, ManagedCache};
use twat_cache_common::stats::Counters;
use twat_cache_common::{Backend, CacheStats, Policy, SingleFlight};

use crate::MemoryCacheBuilder;
use crate::fresh::{Fresh, FreshSide};
use crate::shard::{Lookup, Memo, Slot};
use crate::store::MemoryStore;

struct Core<K, V> {
    store: MemoryStore<K, V>,
    counters: Counters,
    ttl: Option<Duration>,
    maxsize: Option<usize>,
    policy: Policy,
    name: String,
    kind: &'static str,
    single_flight: bool,
    selection: Option<String>,
    /// Single-flight for the freshness paths (without rules it lives in the shards).
    flight: SingleFlight<K, V>,
    /// Freshness rules (`stale_while_revalidate`, `ttl_of`, ...): entries then live in
    /// this side store instead of `store`. `None` for a cache without them (the hit path
    /// pays one branch).
    fresh: Option<Box<FreshSide<K, V>>>,
}

/// An in-memory cache: sharded, bounded, with ttl and single-flight. Cloning is cheap and
/// shares the cache.
///
/// ```
/// use twat_mcache::MemoryCache;
/// let cache = MemoryCache::<String, usize>::builder().maxsize(1_000).build().unwrap();
/// let len = cache.get_or_insert_with("hello".to_string(), || "hello".len());
/// assert_eq!(len, 5);
/// assert_eq!(cache.get("hello"), Some(5));          // String keys are found by &str
/// assert_eq!(cache.stats().misses, 1);
/// assert!(cache.remove("hello"));
/// assert!(cache.is_empty());
/// ```
pub struct MemoryCache<K, V> {
    core: Arc<Core<K, V>>,
}

impl<K, V> Clone for MemoryCache<K, V> {
    fn clone(&self) -> Self {
        MemoryCache {
            core: self.core.clone(),
        }
    }
}

impl<K, V> fmt::Debug for MemoryCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("name", &self.core.name)
            .field("backend", &self.core.store.backend())
            .field("maxsize", &self.core.maxsize)
            .field("ttl", &self.core.ttl)
            .finish_non_exhaustive()
    }
}

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder with the defaults: unbounded, no ttl, LRU, single-flight on.
    pub fn builder() -> MemoryCacheBuilder<K, V> {
        MemoryCacheBuilder::default()
    }

    pub(crate) fn from_builder(b: MemoryCacheBuilder<K, V>) -> Self {
        let mut rules = b.rules;
        rules.ttl = b.ttl;
        let fresh = rules
            .active()
            .then(|| Box::new(FreshSide::new(rules, b.policy, b.maxsize, b.force_std)));
        let core = Arc::new(Core {
            store: MemoryStore::new(b.policy, b.maxsize, b.force_std),
            counters: Counters::default(),
            ttl: b.ttl,
            maxsize: b.maxsize,
            policy: b.policy,
            name: b.name.unwrap_or_else(|| "unnamed".to_owned()),
            kind: b.kind,
            single_flight: b.single_flight,
            selection: b.selection,
            flight: SingleFlight::default(),
            fresh,
        });
        if b.register {
            let managed: Arc<dyn ManagedCache> = core.clone();
            registry::register(&managed);
        }
        MemoryCache { core }
    }

    pub(crate) fn fresh_side(&self) -> Option<&FreshSide<K, V>> {
        self.core.fresh.as_deref()
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.core.counters
    }

    pub(crate) fn flight(&self) -> &SingleFlight<K, V> {
        &self.core.flight
    }

    /// Stores a value with its freshness stamp (caches with rules only).
    pub(crate) fn insert_stamped(
        &self,
        key: K,
        value: V,
        stamp: twat_cache_common::freshness::Stamp,
    ) {
        let core = &*self.core;
        let Some(f) = &core.fresh else {
            return self.insert(key, value);
        };
        f.insert(key, value, stamp);
    }

    #[inline]
    fn now(&self) -> u64 {
        // Reading the clock costs ~25 ns: only caches with a ttl pay it.
        if self.core.ttl.is_some() {
            now_nanos()
        } else {
            0
        }
    }

    /// The stored value for `key`, if present and not expired. Counts a hit or a miss.
    #[inline]
    pub fn get<Q: ?Sized + Hash + Eq>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let core = &*self.core;
        if let Some(f) = &core.fresh {
            return f.get(key, &core.counters);
        }
        match core.store.get(key, self.now()) {
            Lookup::Hit(v) => {
                core.counters.hit();
                Some(v)
            }
            Lookup::Miss(_) => {
                core.counters.miss();
                None
            }
            Lookup::Expired => {
                core.counters.expired(1);
                core.counters.miss();
                None
            }
        }
    }

    /// Stores `value` under `key`, replacing any previous value; evicts per the policy when
    /// the cache is full.
    pub fn insert(&self, key: K, value: V) {
        let core = &*self.core;
        if let Some(f) = &core.fresh {
            let stamp = f.stamp_now(&value);
            return self.insert_stamped(key, value, stamp);
        }
        let now = self.now();
        let slot = Slot::new(value, deadline(core.ttl));
        core.store.insert(key, slot, now);
    }

    /// Stores `value` under `key` until `deadline` (from
    /// [`clock::deadline`](twat_cache_common::clock::deadline); 0 = the cache's own ttl),
    /// for a tier in front of a store that promotes entries with their remaining ttl. Only
    /// a cache built with a ttl checks deadlines on reads, so `deadline` must not be later
    /// than the cache's ttl from now.
    #[doc(hidden)]
    pub fn insert_until(&self, key: K, value: V, deadline_nanos: u64) {
        let core = &*self.core;
        let deadline_nanos = match deadline_nanos {
            0 => deadline(core.ttl),
            d => d,
        };
        core.store
            .insert(key, Slot::new(value, deadline_nanos), self.now());
    }

    /// Removes `key`; true if it was present.
    pub fn remove<Q: ?Sized + Hash + Eq>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        match &self.core.fresh {
            Some(f) => f.remove(key),
            None => self.core.store.remove(key),
        }
    }

    /// Removes every entry.
    pub fn clear(&self) {
        self.core.clear();
    }

    /// Number of entries (expired entries count until they are swept).
    pub fn len(&self) -> usize {
        match &self.core.fresh {
            Some(f) => f.len(),
            None => self.core.store.len(),
        }
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The backend serving: [`Backend::Schnellru`] or [`Backend::Std`].
    pub fn backend(&self) -> Backend {
        self.core.store.backend()
    }

    /// The eviction policy.
    pub fn policy(&self) -> Policy {
        self.core.policy
    }

    /// The configured ttl.
    pub fn ttl(&self) -> Option<Duration> {
        self.core.ttl
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> CacheStats {
        self.core.stats()
    }

    /// Direct access to the sharded store (no stats, no single-flight). A cache with
    /// freshness rules (`stale_while_revalidate`, `ttl_of`, ...) keeps its entries, with
    /// their stamps, elsewhere: its `inner()` is empty.
    pub fn inner(&self) -> &MemoryStore<K, V> {
        &self.core.store
    }

    /// Drops every expired entry now; returns how many. The background sweeper calls this
    /// for caches with a ttl, so an idle cache does not keep dead entries.
    pub fn sweep_expired(&self) -> u64 {
        self.core.sweep_expired()
    }

    /// The value for `key`, computing and storing it with `compute` on a miss.
    ///
    /// Single-flight: concurrent callers missing on the same key wait for one computation.
    /// A `compute` that panics wakes the waiters, one of which computes in its place; the
    /// cache is not poisoned. A `compute` that calls back into this cache with the same key
    /// on the same thread computes directly instead of deadlocking.
    pub fn get_or_insert_with(&self, key: K, compute: impl FnOnce() -> V) -> V {
        match self.try_get_or_insert_with(key, || Ok::<V, std::convert::Infallible>(compute())) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) for fallible work: `Ok` values
    /// are stored and returned, an `Err` is returned and nothing is stored.
    ///
    /// ```
    /// use twat_mcache::MemoryCache;
    /// let cache = MemoryCache::<u32, u32>::builder().build().unwrap();
    /// let r: Result<u32, String> = cache.try_get_or_insert_with(1, || Err("down".into()));
    /// assert!(r.is_err());
    /// assert!(cache.is_empty(), "errors are not stored");
    /// ```
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if self.core.fresh.is_some() {
            return self.fresh_get_or_compute(key, compute);
        }
        let compute = || self.timed(compute);
        self.core.store.get_or_compute(key, &self.memo(), compute)
    }

    /// The miss half of [`try_get_or_insert_with`](Self::try_get_or_insert_with), for a
    /// caller that already looked `key` up with [`get`](Self::get) (and so counted the
    /// miss): single-flight, then `compute`, then store. A binding that must release a
    /// lock of its own (Python's GIL) between its lookup and the wait calls this.
    #[doc(hidden)]
    pub fn compute_after_miss<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if self.core.fresh.is_some() {
            return self.fresh_get_or_compute(key, compute);
        }
        let compute = || self.timed(compute);
        self.core
            .store
            .compute_after_miss(key, &self.memo(), compute)
    }

    /// What the shards' memoized paths need of the cache.
    fn memo(&self) -> Memo<'_> {
        Memo {
            ttl: self.core.ttl,
            counters: &self.core.counters,
            single_flight: self.core.single_flight,
        }
    }

    /// Runs the body, its run time published with feature `metrics`.
    fn timed<T>(&self, body: impl FnOnce() -> T) -> T {
        let core = &*self.core;
        metrics::timed(&core.name, core.kind, core.store.backend(), body)
    }
}

impl<K, V> MemoryCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// `try_get_or_insert_with` under freshness rules, out of line so that the plain path
    /// pays only the branch that leads here.
    #[cold]
    #[inline(never)]
    fn fresh_get_or_compute<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        twat_cache_common::freshness::get_or_compute(&Fresh(self.clone()), key, false, compute)
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static, V: Clone + Send + Sync + 'static> Core<K, V> {
    fn stats(&self) -> CacheStats {
        let mut s = CacheStats::new(self.name.clone(), self.store.backend());
        s.kind = self.kind.to_owned();
        self.counters.fill(&mut s);
        // Inserts and evictions are counted in the shards, under their write locks.
        let (inserts, evictions, expired) = self.store.tally();
        s.inserts += inserts;
        s.evictions += evictions;
        s.expired += expired;
        s.entries = match &self.fresh {
            Some(f) => {
                f.fill(&mut s);
                f.len() as u64
            }
            None => self.store.len() as u64,
        };
        s.maxsize = self.maxsize.map(|m| m as u64);
        s.ttl_secs = self.ttl.map(|t| t.as_secs_f64());
        s.selection = self.selection.clone();
        s
    }

    fn clear(&self) {
        match &self.fresh {
            Some(f) => f.clear(),
            None => self.store.clear(),
        }
    }

    fn sweep_expired(&self) -> u64 {
        if let Some(f) = &self.fresh {
            let n = f.remove_expired();
            self.counters.expired(n);
            return n;
        }
        if self.ttl.is_none() {
            return 0;
        }
        // Counted in the shards.
        self.store.remove_expired(now_nanos())
    }
}

impl<K, V> ManagedCache for Core<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn stats(&self) -> CacheStats {
        Core::stats(self)
    }
    fn clear(&self) {
        Core::clear(self);
    }
    fn sweep_expired(&self) -> u64 {
        Core::sweep_expired(self)
    }
    fn sweep_interval(&self) -> Option<Duration> {
        let ttl = match &self.fresh {
            // Stamped entries are kept until their stale window closes.
            Some(f) => f.state.rules.store_ttl().or(self.ttl),
            None => self.ttl,
        };
        ttl.map(registry::sweep_interval_for)
    }
}
