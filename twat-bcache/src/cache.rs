//! [`LmdbCache`]: the persistent cache behind `#[bcache]`.

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
#[cfg(feature = "lmdb")]
use twat_cache_common::codec;
#[cfg(feature = "lmdb")]
use twat_cache_common::key::digest;
#[cfg(feature = "lmdb")]
use twat_cache_common::lockfile::{KeyLock, KeyLocks};
use twat_cache_common::registry::{self, ManagedCache};
#[cfg(feature = "lmdb")]
use twat_cache_common::stats::Problem;
use twat_cache_common::stats::{Counters, StoreErrors};
use twat_cache_common::{Backend, CacheStats, Namespace, SingleFlight, cache_root};
use twat_mcache::MemoryCache;

use crate::LmdbCacheBuilder;
#[cfg(feature = "lmdb")]
use crate::store::{LmdbStore, Lookup};

/// Why a cache built without the `lmdb` feature serves from memory.
pub const NO_LMDB_FEATURE: &str = "built without the `lmdb` feature";

/// The store a cache is served from, for direct access: see [`LmdbCache::inner`].
#[non_exhaustive]
pub enum Inner<'a, K, V> {
    /// The LMDB namespace (feature `lmdb`, when the folder could be opened).
    #[cfg(feature = "lmdb")]
    Lmdb(&'a LmdbStore),
    /// The in-memory fallback.
    Memory(&'a MemoryCache<K, V>),
}

impl<K, V> fmt::Debug for Inner<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "lmdb")]
            Inner::Lmdb(s) => f.debug_tuple("Lmdb").field(s).finish(),
            Inner::Memory(_) => f.write_str("Memory(..)"),
        }
    }
}

enum Engine<K, V> {
    #[cfg(feature = "lmdb")]
    Lmdb(LmdbStore),
    Memory(MemoryCache<K, V>),
}

#[cfg_attr(not(feature = "lmdb"), allow(dead_code))]
struct Core<K, V> {
    engine: Engine<K, V>,
    flight: SingleFlight<K, V>,
    counters: Counters,
    /// Store failures absorbed (write/read errors, lock problems), for `stats()`.
    errors: StoreErrors,
    /// `lock = true` on the LMDB backend: the per-key lock files of the folder.
    #[cfg(feature = "lmdb")]
    locks: Option<KeyLocks>,
    namespace: Namespace,
    /// `namespace.stored_key(&[])`: the id and a NUL, which every stored key starts with.
    key_prefix: Vec<u8>,
    name: String,
    ttl: Option<Duration>,
    maxsize: Option<usize>,
    max_bytes: Option<u64>,
    durable: bool,
    lock: bool,
    single_flight: bool,
    folder: Option<PathBuf>,
    fallback_reason: Option<String>,
    selection: Option<String>,
}

/// A persistent cache in an LMDB environment, shared by every thread and every process
/// that uses the same folder. Falls back to [`MemoryCache`] when LMDB is compiled out
/// (feature `lmdb`) or cannot open the folder. Cloning is cheap and shares the cache.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use twat_bcache::LmdbCache;
/// let dir = tempfile::tempdir()?;
/// let cache = LmdbCache::<String, usize>::builder().cache_dir(dir.path()).build()?;
/// let len = cache.get_or_insert_with("hello".to_string(), || "hello".len());
/// assert_eq!(len, 5);
/// assert_eq!(cache.get("hello"), Some(5));          // String keys are found by &str
/// assert_eq!(cache.stats().misses, 1);
/// assert!(cache.remove("hello"));
/// assert!(cache.is_empty());
/// # Ok(()) }
/// ```
pub struct LmdbCache<K, V> {
    core: Arc<Core<K, V>>,
}

impl<K, V> Clone for LmdbCache<K, V> {
    fn clone(&self) -> Self {
        LmdbCache {
            core: self.core.clone(),
        }
    }
}

impl<K, V> fmt::Debug for LmdbCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.core.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(_) => "lmdb",
            Engine::Memory(_) => "memory",
        };
        f.debug_struct("LmdbCache")
            .field("name", &self.core.name)
            .field("backend", &backend)
            .field("folder", &self.core.folder)
            .field("maxsize", &self.core.maxsize)
            .field("ttl", &self.core.ttl)
            .field("fallback_reason", &self.core.fallback_reason)
            .finish_non_exhaustive()
    }
}

impl<K, V> LmdbCache<K, V>
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A builder with the defaults: folder `default` under the cache root, unbounded, no
    /// ttl, not durable, single-flight on.
    pub fn builder() -> LmdbCacheBuilder<K, V> {
        LmdbCacheBuilder::default()
    }

    pub(crate) fn from_builder(b: LmdbCacheBuilder<K, V>) -> Self {
        let name = b.name.clone().unwrap_or_else(|| "unnamed".to_owned());
        let namespace = b
            .namespace
            .clone()
            .unwrap_or_else(|| Namespace::named(&name));
        let folder_name = b
            .folder_name
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let root = match &b.cache_dir {
            Some(d) => Ok(d.clone()),
            None => cache_root().map_err(|e| e.to_string()),
        };
        let folder = root.as_ref().ok().map(|r| r.join(&folder_name));

        #[cfg(feature = "lmdb")]
        let opened: Result<LmdbStore, String> = match (&root, &folder) {
            (Err(e), _) => Err(e.clone()),
            (Ok(_), None) => Err("no cache folder".to_owned()),
            (Ok(_), Some(folder)) => crate::env::open_with(folder, b.map_size, b.max_map_size)
                .and_then(|shared| {
                    let cipher = crate::crypt::cipher_for(&b, folder)?;
                    Ok(LmdbStore::new(
                        shared,
                        namespace.clone(),
                        b.ttl,
                        b.maxsize.map(|m| m as u64),
                        b.max_bytes,
                        b.durable,
                        cipher,
                    ))
                }),
        };
        #[cfg(not(feature = "lmdb"))]
        let opened: Result<std::convert::Infallible, String> = Err(NO_LMDB_FEATURE.to_owned());

        let (engine, fallback_reason) = match opened {
            #[cfg(feature = "lmdb")]
            Ok(store) => (Engine::Lmdb(store), None),
            #[cfg(not(feature = "lmdb"))]
            Ok(never) => match never {},
            Err(why) => {
                let mut mb = MemoryCache::<K, V>::builder()
                    .name(name.clone())
                    .kind("bcache")
                    .register(false)
                    .single_flight(b.single_flight);
                if let Some(m) = b.maxsize {
                    mb = mb.maxsize(m);
                }
                if let Some(t) = b.ttl {
                    mb = mb.ttl(t);
                }
                let memory = mb
                    .build()
                    .expect("maxsize and ttl were checked by LmdbCacheBuilder::build");
                if cfg!(feature = "lmdb") {
                    let at = folder
                        .as_ref()
                        .map_or_else(|| "<no cache root>".to_owned(), |f| f.display().to_string());
                    log::warn!(
                        "twat-bcache: cache `{name}`: the lmdb backend cannot use {at}: {why}; \
                         falling back to the in-memory {} backend",
                        memory.backend()
                    );
                } else {
                    log::debug!("twat-bcache: cache `{name}`: {why}; serving from memory");
                }
                (Engine::Memory(memory), Some(why))
            }
        };
        #[cfg(feature = "lmdb")]
        let locks = match &engine {
            Engine::Lmdb(store) if b.lock => {
                let locks = KeyLocks::new(store.path());
                locks.sweep(); // lock files left by killed holders
                Some(locks)
            }
            _ => None,
        };
        let core = Arc::new(Core {
            engine,
            flight: SingleFlight::default(),
            counters: Counters::default(),
            errors: StoreErrors::default(),
            #[cfg(feature = "lmdb")]
            locks,
            key_prefix: namespace.stored_key(&[]),
            namespace,
            name,
            ttl: b.ttl,
            maxsize: b.maxsize,
            max_bytes: b.max_bytes,
            durable: b.durable,
            lock: b.lock,
            single_flight: b.single_flight,
            folder,
            fallback_reason,
            selection: b.selection,
        });
        if b.register {
            let managed: Arc<dyn ManagedCache> = core.clone();
            registry::register(&managed);
        }
        LmdbCache { core }
    }

    /// The stored key (namespace + serialized arguments), or `None` if the key does not
    /// serialize (then nothing is cached for it).
    #[cfg(feature = "lmdb")]
    fn stored_key<Q: ?Sized + Serialize>(&self, key: &Q) -> Option<Vec<u8>> {
        // Same bytes as `namespace.stored_key(&codec::encode(key))`, in one allocation.
        let prefix = &self.core.key_prefix;
        let mut buf = Vec::with_capacity(prefix.len() + 24);
        buf.extend_from_slice(prefix);
        match postcard::to_extend(key, buf) {
            Ok(sk) => Some(sk),
            Err(e) => {
                log::debug!("twat-bcache: cache `{}`: {e}; not cached", self.core.name);
                None
            }
        }
    }

    /// Looks up without counting; deletes unusable entries.
    #[cfg(feature = "lmdb")]
    fn lookup(&self, store: &LmdbStore, sk: &[u8]) -> Lookup<V> {
        let found = store.lookup::<V>(sk);
        match &found {
            Lookup::Expired => store.delete_unusable(sk, None),
            Lookup::Corrupt(why, seen) => {
                log::debug!(
                    "twat-bcache: cache `{}`: damaged entry in {} ({why}); deleted",
                    self.core.name,
                    store.path().display()
                );
                store.delete_unusable(sk, *seen);
            }
            Lookup::Failed(why) => self.core.errors.record(
                Problem::Read,
                &self.context(),
                format_args!("reading {}: {why}", store.path().display()),
            ),
            _ => {}
        }
        found
    }

    /// The prefix of this cache's log lines.
    #[cfg(feature = "lmdb")]
    fn context(&self) -> String {
        format!("twat-bcache: cache `{}`", self.core.name)
    }

    /// `lock = true`: takes the cross-process lock of `sk`'s key. `None` when locking is
    /// off, this thread already holds it, or it cannot be taken (reported once; the
    /// caller computes without it: a cache never fails a call).
    #[cfg(feature = "lmdb")]
    fn claim(&self, sk: &[u8]) -> Option<KeyLock> {
        let locks = self.core.locks.as_ref()?;
        locks.claim(&digest(sk), &self.core.errors, &self.context())
    }

    #[cfg(feature = "lmdb")]
    fn count(&self, found: Lookup<V>) -> Option<V> {
        let c = &self.core.counters;
        match found {
            Lookup::Hit(v) => {
                c.hit();
                Some(v)
            }
            Lookup::Expired => {
                c.expired(1);
                c.miss();
                None
            }
            Lookup::Miss | Lookup::Corrupt(..) | Lookup::Failed(_) => {
                c.miss();
                None
            }
        }
    }

    #[cfg(feature = "lmdb")]
    fn store_value(&self, store: &LmdbStore, sk: &[u8], value: &V) {
        let payload = match codec::encode("value", value) {
            Ok(p) => p,
            Err(e) => {
                log::debug!("twat-bcache: cache `{}`: {e}; not cached", self.core.name);
                return;
            }
        };
        match store.put(sk, &payload) {
            Ok(out) => {
                let c = &self.core.counters;
                c.insert();
                c.evicted(out.evicted);
                c.expired(out.expired);
            }
            Err(e) => self.core.errors.record(
                Problem::Write,
                &self.context(),
                format_args!("cannot store in {}: {e}", store.path().display()),
            ),
        }
    }

    /// The stored value for `key`, if present, intact and not expired. Counts a hit or a
    /// miss. An entry that does not decode is a miss, and is deleted.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq + Serialize,
    {
        match &self.core.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(store) => {
                let Some(sk) = self.stored_key(key) else {
                    self.core.counters.miss();
                    return None;
                };
                self.count(self.lookup(store, &sk))
            }
            Engine::Memory(m) => m.get(key),
        }
    }

    /// Stores `value` under `key`, replacing any previous value; evicts the oldest entries
    /// beyond `maxsize` / `max_bytes`. A store that fails (full disk, ...) is logged and
    /// ignored: the cache costs speed, never correctness.
    pub fn insert(&self, key: K, value: V) {
        match &self.core.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(store) => {
                if let Some(sk) = self.stored_key(&key) {
                    self.store_value(store, &sk, &value);
                }
            }
            Engine::Memory(m) => m.insert(key, value),
        }
    }

    /// Removes `key`; true if it was present.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq + Serialize,
    {
        match &self.core.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(store) => self.stored_key(key).is_some_and(|sk| store.remove(&sk)),
            Engine::Memory(m) => m.remove(key),
        }
    }

    /// Removes every entry of this cache (its namespace only: other functions sharing the
    /// folder keep theirs), in write transactions of at most 1000 deletes.
    pub fn clear(&self) {
        self.core.clear();
    }

    /// Number of entries in this cache's namespace, stored by any process (expired entries
    /// count until they are swept).
    pub fn len(&self) -> usize {
        match &self.core.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(store) => store.len(),
            Engine::Memory(m) => m.len(),
        }
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The backend serving: [`Backend::Lmdb`], or the memory backend it fell back to
    /// ([`Backend::Schnellru`] or [`Backend::Std`]; `stats().fallback_reason` says why).
    pub fn backend(&self) -> Backend {
        match &self.core.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(_) => Backend::Lmdb,
            Engine::Memory(m) => m.backend(),
        }
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The namespace its entries are stored under.
    pub fn namespace(&self) -> &Namespace {
        &self.core.namespace
    }

    /// The configured ttl.
    pub fn ttl(&self) -> Option<Duration> {
        self.core.ttl
    }

    /// The folder the cache lives (or would live) in.
    pub fn folder(&self) -> Option<&std::path::Path> {
        self.core.folder.as_deref()
    }

    /// Whether entries are encrypted (feature `encrypt`, a key from the builder or
    /// `TWAT_CACHE_KEY`, and the LMDB backend serving; the memory fallback keeps nothing
    /// on disk).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let plain = twat_bcache::LmdbCache::<u8, u8>::builder().cache_dir(dir.path()).build()?;
    /// assert_eq!(plain.encrypted(), std::env::var_os("TWAT_CACHE_KEY").is_some()
    ///     && cfg!(all(feature = "encrypt", feature = "lmdb")));
    /// # Ok(()) }
    /// ```
    pub fn encrypted(&self) -> bool {
        match &self.core.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(store) => store.encrypted(),
            Engine::Memory(_) => false,
        }
    }

    /// Whether every commit is synced to disk.
    pub fn durable(&self) -> bool {
        self.core.durable
    }

    /// Whether cross-process single-flight was asked for (see [`LmdbCacheBuilder::lock`];
    /// it applies while the LMDB backend serves).
    pub fn lock(&self) -> bool {
        self.core.lock
    }

    /// A snapshot of the counters (this process's hits, misses, inserts, ...) and of the
    /// namespace's size on disk (all processes).
    pub fn stats(&self) -> CacheStats {
        self.core.stats()
    }

    /// Direct access to the store: the LMDB namespace ([`Inner::Lmdb`], with the heed
    /// environment) or the memory fallback ([`Inner::Memory`]).
    pub fn inner(&self) -> Inner<'_, K, V> {
        match &self.core.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(store) => Inner::Lmdb(store),
            Engine::Memory(m) => Inner::Memory(m),
        }
    }

    /// Drops every expired entry of this namespace now; returns how many. The background
    /// sweeper calls this for caches with a ttl.
    pub fn sweep_expired(&self) -> u64 {
        self.core.sweep_expired()
    }

    /// The value for `key`, computing and storing it with `compute` on a miss.
    ///
    /// Single-flight within the process: concurrent callers missing on the same key wait
    /// for one computation. A `compute` that panics wakes the waiters, one of which
    /// computes in its place. A `compute` that calls back into this cache with the same key
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
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use twat_bcache::LmdbCache;
    /// let dir = tempfile::tempdir()?;
    /// let cache = LmdbCache::<u32, u32>::builder().cache_dir(dir.path()).build()?;
    /// let r: Result<u32, String> = cache.try_get_or_insert_with(1, || Err("down".into()));
    /// assert!(r.is_err());
    /// assert!(cache.is_empty(), "errors are not stored");
    /// assert_eq!(cache.try_get_or_insert_with(1, || Ok::<_, String>(7)), Ok(7));
    /// assert_eq!(cache.get(&1), Some(7));
    /// # Ok(()) }
    /// ```
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        #[cfg(feature = "lmdb")]
        {
            let store = match &self.core.engine {
                Engine::Lmdb(store) => store,
                Engine::Memory(m) => return m.try_get_or_insert_with(key, compute),
            };
            let Some(sk) = self.stored_key(&key) else {
                self.core.counters.miss();
                return compute();
            };
            if let Some(v) = self.count(self.lookup(store, &sk)) {
                return Ok(v);
            }
            let recheck = || match self.lookup(store, &sk) {
                Lookup::Hit(v) => Some(v),
                _ => None,
            };
            if !self.core.single_flight {
                let held = self.claim(&sk);
                if held.is_some()
                    && let Some(v) = recheck()
                {
                    return Ok(v);
                }
                let v = compute()?;
                self.store_value(store, &sk, &v);
                drop(held);
                return Ok(v);
            }
            // Another leader (or process) may have stored it since our miss: `recheck`,
            // and again under the cross-process lock (`lock = true`) once we hold it.
            self.core.flight.run_claimed(
                &key,
                recheck,
                || self.claim(&sk),
                compute,
                |v| self.store_value(store, &sk, v),
            )
        }
        #[cfg(not(feature = "lmdb"))]
        match &self.core.engine {
            Engine::Memory(m) => m.try_get_or_insert_with(key, compute),
        }
    }
}

impl<K, V> Core<K, V>
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn stats(&self) -> CacheStats {
        let mut s = match &self.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(store) => {
                let mut s = CacheStats::new(self.name.clone(), Backend::Lmdb);
                self.counters.fill(&mut s);
                s.entries = store.len() as u64;
                s.bytes = store.bytes();
                s
            }
            Engine::Memory(m) => m.stats(),
        };
        s.name = self.name.clone();
        s.kind = "bcache".to_owned();
        s.maxsize = self.maxsize.map(|m| m as u64);
        s.ttl_secs = self.ttl.map(|t| t.as_secs_f64());
        s.folder = self.folder.clone();
        s.fallback_reason = self.fallback_reason.clone();
        s.selection = self.selection.clone();
        self.errors.fill(&mut s);
        #[cfg(feature = "lmdb")]
        if let Engine::Lmdb(store) = &self.engine
            && let Some(why) = store.orphaned()
        {
            s.last_error = Some(why.to_owned());
        }
        let _ = self.max_bytes;
        s
    }

    fn clear(&self) {
        match &self.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(store) => store.clear(),
            Engine::Memory(m) => m.clear(),
        }
    }

    fn sweep_expired(&self) -> u64 {
        match &self.engine {
            #[cfg(feature = "lmdb")]
            Engine::Lmdb(store) => {
                let n = store.sweep_expired();
                self.counters.expired(n);
                n
            }
            Engine::Memory(m) => m.sweep_expired(),
        }
    }
}

impl<K, V> ManagedCache for Core<K, V>
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
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
        // A disk sweep scans an index: not more than once a second.
        self.ttl
            .map(|t| registry::sweep_interval_for(t).max(Duration::from_secs(1)))
    }
}

#[cfg(all(test, feature = "lmdb"))]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_match_the_shared_definition() {
        let dir = tempfile::tempdir().unwrap();
        let ns = Namespace::function("c", "c::m", "f", 3, 0xabc);
        let cache = LmdbCache::<(String, u64), u8>::builder()
            .cache_dir(dir.path())
            .namespace(ns.clone())
            .register(false)
            .build()
            .unwrap();
        let key = ("k\u{e9}y".to_string(), 1u64 << 40);
        let expected = ns.stored_key(&codec::encode("key", &key).unwrap());
        assert_eq!(cache.stored_key(&key), Some(expected));
    }
}
