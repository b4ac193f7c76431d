//! [`AsyncCache`]: the cache behind `#[acache]`.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use twat_cache_common::registry::{self, ManagedCache};
use twat_cache_common::{Backend, CacheStats, Claim, ConfigError, Namespace, Policy, SingleFlight};
use twat_mcache::{MemoryCache, MemoryStore};

use crate::AsyncCacheBuilder;

/// Where a cache's entries live.
#[allow(clippy::large_enum_variant)] // one per cache, never moved after build
pub(crate) enum Store<K, V> {
    /// In [`Core::memory`].
    Memory,
    /// A [`RedisCache`](crate::RedisCache) (which serves from its own memory while the
    /// server is unreachable), its calls offloaded from the caller's executor.
    #[cfg(feature = "redis")]
    Redis(Arc<dyn crate::blocking::BlockingStore<K, V>>),
    /// twat-bcache or twat-fcache, called directly (their reads and writes are short).
    #[cfg(any(feature = "lmdb", feature = "files"))]
    Blocking(Box<dyn crate::blocking::BlockingStore<K, V>>),
    #[allow(dead_code)]
    #[doc(hidden)]
    _Never(
        std::convert::Infallible,
        std::marker::PhantomData<fn(K) -> V>,
    ),
}

pub(crate) struct Core<K, V> {
    /// The memory store; for Redis, the fallback.
    memory: MemoryCache<K, V>,
    store: Store<K, V>,
    pub(crate) flight: SingleFlight<K, V>,
    pub(crate) single_flight: bool,
    namespace: Namespace,
    /// Why the configured backend is not serving, decided at build time (compiled out,
    /// cannot open).
    fallback_reason: Option<String>,
    selection: Option<String>,
    /// Freshness rules, served by the memory or persistent cache underneath (`fresh.rs`);
    /// `None` without them.
    pub(crate) fresh: Option<Box<dyn twat_cache_common::freshness::FreshOps<K, V>>>,
}

/// Direct access to the store under an [`AsyncCache`] (no stats, no single-flight).
///
/// ```
/// use twat_acache::{AsyncCache, Inner};
/// let cache = AsyncCache::<u8, u8>::builder().build().unwrap();
/// futures_executor::block_on(cache.insert(1, 2));
/// match cache.inner() {
///     Inner::Memory(store) => assert_eq!(store.peek(&1), Some(2)),
///     _ => unreachable!("a memory cache"),
/// }
/// ```
#[non_exhaustive]
pub enum Inner<'a, K, V> {
    /// The in-memory store (also what a fallen-back cache serves from).
    Memory(&'a MemoryStore<K, V>),
    /// The Redis cache (feature `redis`): the same [`RedisCache`](crate::RedisCache) plain
    /// functions use; its `inner()` reaches the [`RedisStore`](crate::RedisStore).
    #[cfg(feature = "redis")]
    Redis(&'a crate::RedisCache<K, V>),
    /// The LMDB cache (feature `lmdb`).
    #[cfg(feature = "lmdb")]
    Lmdb(&'a twat_bcache::LmdbCache<K, V>),
    /// The file cache (feature `files`).
    #[cfg(feature = "files")]
    Files(&'a twat_fcache::FileCache<K, V>),
}

impl<K, V> fmt::Debug for Inner<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Inner::Memory(_) => "Inner::Memory",
            #[cfg(feature = "redis")]
            Inner::Redis(_) => "Inner::Redis",
            #[cfg(feature = "lmdb")]
            Inner::Lmdb(_) => "Inner::Lmdb",
            #[cfg(feature = "files")]
            Inner::Files(_) => "Inner::Files",
        })
    }
}

/// An async cache: single-flight across tasks, in memory or on a Redis server. Cloning is
/// cheap and shares the cache. Every method's future is `Send` when `K`, `V` (and the
/// computing future) are; the memory backend needs no particular runtime.
///
/// ```
/// use twat_acache::AsyncCache;
/// let cache = AsyncCache::<String, usize>::builder().maxsize(1_000).build().unwrap();
/// futures_executor::block_on(async {
///     let len = cache.get_or_insert_with("hello".to_string(), async { 5 }).await;
///     assert_eq!(len, 5);
///     assert_eq!(cache.get(&"hello".to_string()).await, Some(5));
///     assert_eq!(cache.stats().misses, 1);
///     assert!(cache.remove(&"hello".to_string()).await);
///     assert!(cache.is_empty());
/// });
/// ```
pub struct AsyncCache<K, V> {
    pub(crate) core: Arc<Core<K, V>>,
}

impl<K, V> Clone for AsyncCache<K, V> {
    fn clone(&self) -> Self {
        AsyncCache {
            core: self.core.clone(),
        }
    }
}

impl<K, V> fmt::Debug for AsyncCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncCache")
            .field("memory", &self.core.memory)
            .field("namespace", &self.core.namespace.id())
            .field("fallback_reason", &self.core.fallback_reason)
            .finish_non_exhaustive()
    }
}

fn warn_fallback(name: &str, wanted: &str, reason: &str) -> String {
    let text = format!("{wanted} backend unavailable: {reason}; serving from memory");
    log::warn!("twat-acache `{name}`: {text}");
    text
}

impl<K, V> AsyncCache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder with the defaults: memory backend, unbounded, no ttl, LRU, single-flight.
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u64, u64>::builder().build().unwrap();
    /// assert!(cache.backend().is_memory());
    /// ```
    pub fn builder() -> AsyncCacheBuilder<K, V> {
        AsyncCacheBuilder::default()
    }

    pub(crate) fn from_builder(b: AsyncCacheBuilder<K, V>) -> Result<Self, ConfigError> {
        // An empty passphrase is a bad setting whatever the backend.
        #[cfg(feature = "encrypt")]
        if let Some(twat_cache_common::cipher::KeySource::Passphrase(p)) = &b.key
            && p.is_empty()
        {
            return Err(ConfigError::invalid(
                "passphrase",
                "\"\"",
                "a non-empty passphrase",
            ));
        }
        if b.l1 == Some(0) {
            return Err(ConfigError::invalid(
                "l1",
                "0",
                "a number of entries > 0 (leave it unset for no memory tier)",
            ));
        }
        let name = b.name.clone().unwrap_or_else(|| "unnamed".to_owned());
        let mut mb = MemoryCache::<K, V>::builder()
            .policy(b.policy)
            .name(name.clone())
            .kind("memory")
            .single_flight(false)
            .register(false);
        if let Some(m) = b.maxsize {
            mb = mb.maxsize(m);
        }
        if let Some(t) = b.ttl {
            mb = mb.ttl(t);
        }
        let mut rules = b.rules.clone();
        rules.ttl = b.ttl;
        rules.check()?;
        if rules.active() {
            mb = mb.freshness_rules(rules.clone());
        }
        let memory = mb.build()?;
        let namespace = b
            .namespace
            .clone()
            .unwrap_or_else(|| Namespace::named(&name));
        let mut fallback_reason = None;
        let wanted = b
            .backend
            .as_deref()
            .unwrap_or("memory")
            .to_ascii_lowercase();
        #[allow(unused_mut)]
        let mut store = Store::Memory;
        match wanted.as_str() {
            "memory" | "schnellru" | "std" => {}
            "redis" => {
                #[cfg(feature = "redis")]
                {
                    let persist = b.persist.as_ref().expect("backend() sets persist");
                    let opened = (persist.redis)(&crate::blocking::Settings::of(
                        &b,
                        &name,
                        &namespace,
                        rules.clone(),
                    ))?;
                    store = Store::Redis(Arc::from(opened));
                }
                #[cfg(not(feature = "redis"))]
                {
                    fallback_reason = Some(warn_fallback(
                        &name,
                        "redis",
                        "twat-acache was built without its `redis` feature",
                    ));
                }
            }
            "lmdb" | "files" => {
                // Written out per feature (clippy folds a `match` over two `cfg!`s into a
                // `matches!` differently in each feature combination).
                let (lmdb_on, files_on) = (cfg!(feature = "lmdb"), cfg!(feature = "files"));
                let feature_on = (wanted == "lmdb" && lmdb_on) || (wanted != "lmdb" && files_on);
                if feature_on {
                    #[cfg(any(feature = "lmdb", feature = "files"))]
                    {
                        let persist = b.persist.as_ref().expect("backend() sets persist");
                        let opener = match wanted.as_str() {
                            #[cfg(feature = "lmdb")]
                            "lmdb" => persist.lmdb,
                            #[cfg(feature = "files")]
                            "files" => persist.files,
                            _ => unreachable!("feature checked above"),
                        };
                        let settings =
                            crate::blocking::Settings::of(&b, &name, &namespace, rules.clone());
                        let opened = opener(&settings)?;
                        store = Store::Blocking(opened);
                    }
                } else {
                    fallback_reason = Some(warn_fallback(
                        &name,
                        &wanted,
                        &format!("twat-acache was built without its `{wanted}` feature"),
                    ));
                }
            }
            _ => {
                return Err(ConfigError::invalid(
                    "backend",
                    &wanted,
                    "\"memory\", \"redis\", \"lmdb\" or \"files\"",
                ));
            }
        }
        #[cfg(feature = "redis")]
        if rules.active() && matches!(store, Store::Redis(_)) {
            return Err(ConfigError::invalid(
                "backend",
                "\"redis\" with freshness rules",
                "\"memory\", \"lmdb\" or \"files\" for stale_while_revalidate, stale_if_error, \
                 early, tti, ttl_of and force_refresh (Redis gets them when it moves onto the \
                 shared persistent cache)",
            ));
        }
        let fresh = match &store {
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.fresh_ops(),
            _ => memory.__fresh_ops(),
        };
        let core = Arc::new(Core {
            fresh,
            memory,
            store,
            flight: SingleFlight::default(),
            single_flight: b.single_flight,
            namespace,
            fallback_reason,
            selection: b.selection,
        });
        if b.register {
            let managed: Arc<dyn ManagedCache> = core.clone();
            registry::register(&managed);
        }
        Ok(AsyncCache { core })
    }

    /// Looks `key` up; `count` says whether it shows in hits/misses.
    async fn lookup(&self, key: &K, count: bool) -> Option<V> {
        let core = &*self.core;
        match &core.store {
            Store::Memory => {
                if count {
                    core.memory.get(key)
                } else {
                    core.memory.inner().peek(key)
                }
            }
            #[cfg(feature = "redis")]
            Store::Redis(r) => {
                let (r, key) = (r.clone(), key.clone());
                crate::blocking::offload(move || r.get(&key)).await
            }
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.get(key),
            Store::_Never(never, _) => match *never {},
        }
    }

    /// The stored value for `key`, if present and not expired. Counts a hit or a miss.
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u8, &'static str>::builder().build().unwrap();
    /// futures_executor::block_on(async {
    ///     assert_eq!(cache.get(&1).await, None);
    ///     cache.insert(1, "one").await;
    ///     assert_eq!(cache.get(&1).await, Some("one"));
    /// });
    /// ```
    #[inline]
    pub async fn get(&self, key: &K) -> Option<V> {
        if let Store::Memory = self.core.store {
            return self.core.memory.get(key);
        }
        self.lookup(key, true).await
    }

    /// Stores `value` under `key`, replacing any previous value.
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u8, u8>::builder().maxsize(1).build().unwrap();
    /// futures_executor::block_on(async {
    ///     cache.insert(1, 10).await;
    ///     cache.insert(2, 20).await;
    ///     assert_eq!(cache.len(), 1, "maxsize is a hard bound");
    /// });
    /// ```
    pub async fn insert(&self, key: K, value: V) {
        let core = &*self.core;
        match &core.store {
            Store::Memory => core.memory.insert(key, value),
            #[cfg(feature = "redis")]
            Store::Redis(r) => {
                let r = r.clone();
                crate::blocking::offload(move || r.insert(key, value)).await
            }
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.insert(key, value),
            Store::_Never(never, _) => match *never {},
        }
    }

    /// Removes `key`; true if it was present.
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u8, u8>::builder().build().unwrap();
    /// futures_executor::block_on(async {
    ///     cache.insert(1, 10).await;
    ///     assert!(cache.remove(&1).await);
    ///     assert!(!cache.remove(&1).await);
    /// });
    /// ```
    pub async fn remove(&self, key: &K) -> bool {
        let core = &*self.core;
        match &core.store {
            Store::Memory => core.memory.remove(key),
            #[cfg(feature = "redis")]
            Store::Redis(r) => {
                let (r, key) = (r.clone(), key.clone());
                crate::blocking::offload(move || r.remove(&key)).await
            }
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.remove(key),
            Store::_Never(never, _) => match *never {},
        }
    }

    /// Removes every entry of this cache (for Redis: `SCAN` + `DEL` over this cache's
    /// namespace only; other caches' keys on the same server are left alone).
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u8, u8>::builder().build().unwrap();
    /// futures_executor::block_on(async {
    ///     cache.insert(1, 10).await;
    ///     cache.clear().await;
    ///     assert!(cache.is_empty());
    /// });
    /// ```
    pub async fn clear(&self) {
        let core = &*self.core;
        core.memory.clear();
        match &core.store {
            Store::Memory => {}
            #[cfg(feature = "redis")]
            Store::Redis(r) => {
                let r = r.clone();
                crate::blocking::offload(move || r.clear()).await
            }
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.clear(),
            Store::_Never(never, _) => match *never {},
        }
    }

    /// Number of entries. For Redis this counts the namespace's keys with `SCAN` (a round
    /// trip per 1000 keys, waited for synchronously), plus any held in the memory fallback.
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u8, u8>::builder().build().unwrap();
    /// assert_eq!(cache.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether the cache holds no entry.
    ///
    /// ```
    /// assert!(twat_acache::AsyncCache::<u8, u8>::builder().build().unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The backend serving now: [`Backend::Redis`] while the server answers, the memory
    /// backend ([`Backend::Schnellru`] or [`Backend::Std`]) for memory caches and for caches
    /// that fell back.
    ///
    /// ```
    /// use twat_acache::{AsyncCache, Backend};
    /// assert_eq!(AsyncCache::<u8, u8>::builder().build().unwrap().backend(), Backend::Schnellru);
    /// ```
    pub fn backend(&self) -> Backend {
        self.core.backend()
    }

    /// Whether a persistent backend encrypts what it stores (feature `encrypt` and a key
    /// from the builder or `TWAT_CACHE_KEY`). Always false for memory, which keeps nothing
    /// outside the process (a Redis cache serving from memory while its server is down
    /// still reports its Redis setting).
    ///
    /// ```
    /// assert!(!twat_acache::AsyncCache::<u8, u8>::builder().build().unwrap().encrypted());
    /// ```
    pub fn encrypted(&self) -> bool {
        match &self.core.store {
            #[cfg(feature = "redis")]
            Store::Redis(r) => r.encrypted(),
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.encrypted(),
            _ => false,
        }
    }

    /// The memory backend's eviction policy.
    ///
    /// ```
    /// use twat_acache::{AsyncCache, Policy};
    /// assert_eq!(AsyncCache::<u8, u8>::builder().build().unwrap().policy(), Policy::Lru);
    /// ```
    pub fn policy(&self) -> Policy {
        self.core.memory.policy()
    }

    /// The configured ttl.
    ///
    /// ```
    /// assert_eq!(twat_acache::AsyncCache::<u8, u8>::builder().build().unwrap().ttl(), None);
    /// ```
    pub fn ttl(&self) -> Option<Duration> {
        self.core.memory.ttl()
    }

    /// The cache's name.
    ///
    /// ```
    /// assert_eq!(twat_acache::AsyncCache::<u8, u8>::builder().build().unwrap().name(), "unnamed");
    /// ```
    pub fn name(&self) -> &str {
        self.core.memory.name()
    }

    /// The namespace that owns this cache's entries in a shared store.
    ///
    /// ```
    /// let c = twat_acache::AsyncCache::<u8, u8>::builder().name("n").build().unwrap();
    /// assert_eq!(c.namespace().id(), "n");
    /// ```
    pub fn namespace(&self) -> &Namespace {
        &self.core.namespace
    }

    /// A snapshot of the counters, the backend serving, and why it fell back if it did.
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u8, u8>::builder().name("s").build().unwrap();
    /// futures_executor::block_on(cache.get(&1));
    /// let s = cache.stats();
    /// assert_eq!((s.name.as_str(), s.kind.as_str(), s.misses), ("s", "memory", 1));
    /// assert_eq!(s.fallback_reason, None);
    /// ```
    pub fn stats(&self) -> CacheStats {
        self.core.stats()
    }

    /// Direct access to the underlying store (no stats, no single-flight).
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u8, u8>::builder().build().unwrap();
    /// assert!(matches!(cache.inner(), twat_acache::Inner::Memory(_)));
    /// ```
    pub fn inner(&self) -> Inner<'_, K, V> {
        let core = &*self.core;
        match &core.store {
            Store::Memory => Inner::Memory(core.memory.inner()),
            #[cfg(feature = "redis")]
            Store::Redis(r) => r.inner(),
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.inner(),
            Store::_Never(never, _) => match *never {},
        }
    }

    /// Drops expired entries held in memory now; returns how many. The background sweeper
    /// calls this for caches with a ttl (Redis expires its keys itself).
    ///
    /// ```
    /// assert_eq!(twat_acache::AsyncCache::<u8, u8>::builder().build().unwrap().sweep_expired(), 0);
    /// ```
    pub fn sweep_expired(&self) -> u64 {
        self.core.sweep_expired()
    }

    /// The value for `key`, awaiting `compute` and storing its output on a miss.
    ///
    /// Single-flight: concurrent callers missing on the same key await one computation.
    /// If the computing caller's future is dropped or panics, the waiters wake and one of
    /// them computes instead; the cache is not poisoned. `compute` need not be `'static`.
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u64, u64>::builder().build().unwrap();
    /// let base = 10; // borrowed by the future: no 'static needed
    /// futures_executor::block_on(async {
    ///     assert_eq!(cache.get_or_insert_with(2, async { base * 2 }).await, 20);
    ///     assert_eq!(cache.get_or_insert_with(2, async { unreachable!() }).await, 20);
    /// });
    /// ```
    #[inline]
    pub async fn get_or_insert_with(&self, key: K, compute: impl Future<Output = V>) -> V {
        if self.core.fresh.is_some() {
            let r = self.try_get_or_insert_with(key, async {
                Ok::<V, std::convert::Infallible>(compute.await)
            });
            let Ok(v) = r.await;
            return v;
        }
        if let Some(v) = self.get(&key).await {
            return v;
        }
        match self
            .compute(key, async {
                Ok::<V, std::convert::Infallible>(compute.await)
            })
            .await
        {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) for fallible work: `Ok` values
    /// are stored and returned, an `Err` is returned and nothing is stored (a waiter then
    /// computes for itself).
    ///
    /// ```
    /// let cache = twat_acache::AsyncCache::<u32, u32>::builder().build().unwrap();
    /// futures_executor::block_on(async {
    ///     let r: Result<u32, String> = cache.try_get_or_insert_with(1, async { Err("down".into()) }).await;
    ///     assert!(r.is_err());
    ///     assert!(cache.is_empty(), "errors are not stored");
    ///     let r: Result<u32, String> = cache.try_get_or_insert_with(1, async { Ok(7) }).await;
    ///     assert_eq!(r, Ok(7));
    /// });
    /// ```
    #[inline]
    pub async fn try_get_or_insert_with<E>(
        &self,
        key: K,
        compute: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        if let Some(ops) = self.core.fresh.as_deref() {
            let plan = ops.plan(&key, false, false);
            return self.finish_fresh(ops, key, plan, compute).await;
        }
        if let Some(v) = self.get(&key).await {
            return Ok(v);
        }
        self.compute(key, compute).await
    }

    /// The miss path: single-flight, compute, store.
    async fn compute<E>(
        &self,
        key: K,
        compute: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        if !self.core.single_flight {
            let v = compute.await?;
            self.insert(key, v.clone()).await;
            return Ok(v);
        }
        let mut compute = Some(compute);
        loop {
            match self.core.flight.claim_async(key.clone()) {
                Claim::Leader(leader) => {
                    // Another leader may have stored it between our miss and our claim.
                    if let Some(v) = self.lookup(&key, false).await {
                        leader.complete(v.clone());
                        return Ok(v);
                    }
                    let compute = compute.take().expect("the leader computes once");
                    // An Err, a panic or a drop of this future drops `leader`: the waiters
                    // wake with nothing and one of them takes over.
                    let v = compute.await?;
                    self.insert(key, v.clone()).await;
                    leader.complete(v.clone());
                    return Ok(v);
                }
                Claim::Waiter(flight) => {
                    if let Some(v) = flight.wait_async().await {
                        return Ok(v);
                    }
                    // The leader failed, panicked or was cancelled: try again.
                    if let Some(v) = self.lookup(&key, false).await {
                        return Ok(v);
                    }
                }
                Claim::Reentrant => {
                    // claim_async never reports reentrancy; compute directly to be safe.
                    let compute = compute.take().expect("computed once");
                    let v = compute.await?;
                    self.insert(key, v.clone()).await;
                    return Ok(v);
                }
            }
        }
    }
}

impl<K, V> Core<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn backend(&self) -> Backend {
        match &self.store {
            Store::Memory => self.memory.backend(),
            #[cfg(feature = "redis")]
            Store::Redis(r) => r.backend(),
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.backend(),
            Store::_Never(never, _) => match *never {},
        }
    }

    fn len(&self) -> usize {
        match &self.store {
            Store::Memory => self.memory.len(),
            #[cfg(feature = "redis")]
            Store::Redis(r) => r.len(),
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.len(),
            Store::_Never(never, _) => match *never {},
        }
    }

    fn stats(&self) -> CacheStats {
        let mut s = match &self.store {
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => {
                let mut s = b.stats();
                s.name = self.memory.name().to_owned();
                s
            }
            #[cfg(feature = "redis")]
            Store::Redis(b) => {
                let mut s = b.stats();
                s.name = self.memory.name().to_owned();
                s
            }
            _ => self.memory.stats(),
        };
        // The one vocabulary of kinds: the engine holding the entries.
        s.kind = match &self.store {
            #[cfg(feature = "redis")]
            Store::Redis(_) => s.kind,
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(_) => s.kind,
            _ => "memory".to_owned(),
        };
        s.backend = self.backend();
        if self.fallback_reason.is_some() {
            s.fallback_reason = self.fallback_reason.clone();
        }
        s.selection = self.selection.clone();
        s
    }

    fn sweep_expired(&self) -> u64 {
        let n = self.memory.sweep_expired();
        match &self.store {
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => n + b.sweep_expired(),
            #[cfg(feature = "redis")]
            Store::Redis(r) => n + r.sweep_expired(),
            _ => n,
        }
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
        self.memory.clear();
        match &self.store {
            #[cfg(feature = "redis")]
            Store::Redis(r) => r.clear(),
            #[cfg(any(feature = "lmdb", feature = "files"))]
            Store::Blocking(b) => b.clear(),
            _ => {}
        }
    }
    fn sweep_expired(&self) -> u64 {
        Core::sweep_expired(self)
    }
    fn sweep_interval(&self) -> Option<Duration> {
        let ttl = self.memory.ttl().map(registry::sweep_interval_for);
        #[cfg(feature = "redis")]
        if let Store::Redis(_) = &self.store {
            // LRU reads recorded by the Redis cache go to the server on this visit.
            let second = Duration::from_secs(1);
            return Some(ttl.map_or(second, |t| t.min(second)));
        }
        ttl
    }
}
