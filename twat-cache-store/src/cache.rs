//! [`PersistentCache`]: the one cache over every [`Store`].

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_common::key::digest;
use twat_cache_common::lockfile::{KeyLock, KeyLocks};
use twat_cache_common::registry::{self, ManagedCache};
use twat_cache_common::stats::{Counters, Problem, StoreErrors};
use twat_cache_common::{Backend, CacheError, CacheStats, Namespace, Policy, SingleFlight};
use twat_mcache::MemoryCache;

use crate::freshness::{FreshState, View};
use crate::options::{Opening, Options};
use crate::store::{Digest, Found, Store};
use crate::tier::{CHECK_EVERY, MemoryTier};
use crate::value::{decode_value, encode_value, is_bytes};

/// Reads recorded for [`Policy::Lru`] wait in memory for the next write of this process
/// (which hands them to the store in its own transaction) or the sweeper's visit (at least
/// once a second): no hit pays a write. At most this many wait; reads beyond it before the
/// next hand-over are not recorded (LRU order is then approximate, never wrong).
pub const TOUCH_BATCH: usize = 4096;

/// The store a cache is served from, for direct access: see [`PersistentCache::inner`].
#[non_exhaustive]
pub enum Inner<'a, S, K, V> {
    /// The store (its folder was usable).
    Store(&'a S),
    /// The in-memory fallback.
    Memory(&'a MemoryCache<K, V>),
}

impl<S: fmt::Debug, K, V> fmt::Debug for Inner<'_, S, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inner::Store(s) => f.debug_tuple("Store").field(s).finish(),
            Inner::Memory(_) => f.write_str("Memory(..)"),
        }
    }
}

enum Engine<S: Store, K, V> {
    Store(S),
    Memory(MemoryCache<K, V>),
}

struct Core<S: Store, K, V> {
    engine: Engine<S, K, V>,
    flight: SingleFlight<K, V>,
    counters: Counters,
    /// Store failures absorbed (write/read errors, lock problems), for `stats()`.
    errors: StoreErrors,
    /// `lock = true` on a store with a folder: the per-key lock files.
    locks: Option<KeyLocks>,
    namespace: Namespace,
    /// `namespace.stored_key(&[])`: the id and a NUL, which every stored key starts with.
    key_prefix: Vec<u8>,
    name: String,
    /// "lmdb", "files", "redis": the kind in stats and manifests.
    kind: &'static str,
    /// The log-line prefix: `<crate>: cache `<name>``.
    context: String,
    ttl: Option<Duration>,
    maxsize: Option<usize>,
    policy: Policy,
    lock: bool,
    single_flight: bool,
    folder: Option<PathBuf>,
    fallback_reason: Option<String>,
    selection: Option<String>,
    /// LRU: digests of entries read since the last batch went to the store.
    touched: Option<Mutex<Vec<Digest>>>,
    /// `l1`: the memory tier in front of the store.
    l1: Option<MemoryTier<K, V>>,
    /// When the sweeper's visit may next scan the store for expired entries (visits come
    /// more often than that for LRU hand-overs and the memory tier's checks).
    next_ttl_sweep: Mutex<Instant>,
    /// Freshness rules (`freshness.rs`); `None` without them (one branch on the hit path).
    fresh: Option<Box<FreshState<K, V>>>,
}

/// A persistent cache over a [`Store`]: `LmdbCache` (LMDB), `FileCache` (one file per
/// entry) and the Redis cache are this type over their store. Falls back to a
/// [`MemoryCache`] when the store cannot open (one warning; [`backend`](Self::backend)
/// says which serves, [`fallback_reason`](Self::fallback_reason) why). Cloning is cheap
/// and shares the cache.
pub struct PersistentCache<S: Store, K, V> {
    core: Arc<Core<S, K, V>>,
}

impl<S: Store, K, V> Clone for PersistentCache<S, K, V> {
    fn clone(&self) -> Self {
        PersistentCache {
            core: self.core.clone(),
        }
    }
}

impl<S: Store, K, V> fmt::Debug for PersistentCache<S, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match &self.core.engine {
            Engine::Store(_) => self.core.kind,
            Engine::Memory(_) => "memory",
        };
        f.debug_struct("PersistentCache")
            .field("name", &self.core.name)
            .field("kind", &self.core.kind)
            .field("backend", &backend)
            .field("folder", &self.core.folder)
            .field("maxsize", &self.core.maxsize)
            .field("ttl", &self.core.ttl)
            .field("fallback_reason", &self.core.fallback_reason)
            .finish_non_exhaustive()
    }
}

impl<S, K, V> PersistentCache<S, K, V>
where
    S: Store,
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A builder with the defaults: folder `default` under the cache root, unbounded, no
    /// ttl, LRU, single-flight on.
    pub fn builder() -> S::Builder<K, V> {
        S::Builder::default()
    }

    /// Builds the cache from checked `options` (see [`Options::check`]): `open` opens the
    /// store, or says why it cannot (the cache then serves from memory, with one warning
    /// unless `compiled_out`). `krate` and `kind` name the cache in logs and stats.
    #[doc(hidden)]
    pub fn open(
        mut options: Options,
        krate: &'static str,
        kind: &'static str,
        open: impl FnOnce(&Opening<'_>) -> Result<S, String>,
    ) -> Self {
        let name = options.name.clone().unwrap_or_else(|| "unnamed".to_owned());
        let mut namespace = options
            .namespace
            .clone()
            .unwrap_or_else(|| Namespace::named(&name));
        let logical_ttl = options.ttl;
        let rules = options.take_rules::<K, V>();
        if rules.stamped() {
            // Stamped entries: their own namespace, kept by the store until the last
            // stale window closes (see freshness.rs).
            namespace = namespace.variant(crate::freshness::STAMPED_NAMESPACE);
            options.ttl = rules.store_ttl();
        }
        let policy = options.policy.unwrap_or(Policy::Lru);
        let root = match &options.cache_dir {
            Some(d) => Ok(d.clone()),
            None => twat_cache_common::cache_root().map_err(|e| e.to_string()),
        };
        let (folder, opened) = match root {
            // A store without a folder (Redis) needs no cache root.
            _ if !S::HAS_FOLDER => (
                None,
                open(&Opening::new(Path::new(""), &namespace, &options)),
            ),
            Ok(root) => {
                let folder = root.join(options.folder_name());
                let opened = open(&Opening::new(&folder, &namespace, &options));
                (Some(folder), opened)
            }
            Err(e) => (None, Err(e)),
        };
        let context = format!("{krate}: cache `{name}`");
        let (engine, fallback_reason) = match opened {
            Ok(store) => (Engine::Store(store), None),
            Err(why) => {
                let mut mb = MemoryCache::<K, V>::builder()
                    .name(name.clone())
                    .kind(kind)
                    .policy(policy)
                    .register(false)
                    .single_flight(options.single_flight);
                if let Some(m) = options.maxsize {
                    mb = mb.maxsize(m);
                }
                if let Some(t) = logical_ttl {
                    mb = mb.ttl(t);
                }
                if rules.active() {
                    mb = mb.freshness_rules(rules.clone());
                }
                let memory = mb
                    .build()
                    .expect("maxsize and ttl were checked by Options::check");
                if S::AVAILABLE {
                    let at = match &folder {
                        Some(f) => f.display().to_string(),
                        None if S::HAS_FOLDER => "<no cache root>".to_owned(),
                        None => "its server".to_owned(),
                    };
                    log::warn!(
                        "{context}: the {kind} store cannot use {at}: {why}; falling back to \
                         the in-memory {} backend (results are not persisted)",
                        memory.backend()
                    );
                } else {
                    log::debug!("{context}: {why}; serving from memory");
                }
                (Engine::Memory(memory), Some(why))
            }
        };
        let locks = match &engine {
            Engine::Store(store) if options.lock => store.folder().map(|f| {
                let locks = KeyLocks::new(f);
                locks.sweep(); // lock files left by killed holders
                locks
            }),
            _ => None,
        };
        let touched = (policy == Policy::Lru && matches!(engine, Engine::Store(_)))
            .then(|| Mutex::new(Vec::new()));
        let l1 = match (&engine, options.l1) {
            // Freshness rules decide per read (stale, early, idle): a tier that answered
            // before them would skip them, so a cache with rules has none.
            (Engine::Store(_), Some(_)) if rules.active() => {
                log::warn!(
                    "{context}: `l1` is ignored with freshness rules (stale_while_revalidate, \
                     stale_if_error, early, tti, ttl_of, force_refresh): each read must see \
                     the stored stamp"
                );
                None
            }
            (Engine::Store(store), Some(entries)) => match S::TRACKS_CHANGES {
                true => Some(MemoryTier::new(
                    &name,
                    entries,
                    options.ttl,
                    store.generation(),
                )),
                false => {
                    log::warn!(
                        "{context}: the {kind} store cannot tell when other processes change \
                         it, so `l1` is ignored (no memory tier that could serve stale values)"
                    );
                    None
                }
            },
            _ => None,
        };
        let core = Arc::new(Core {
            engine,
            flight: SingleFlight::default(),
            counters: Counters::default(),
            errors: StoreErrors::default(),
            locks,
            key_prefix: namespace.stored_key(&[]),
            namespace,
            name,
            kind,
            context,
            ttl: logical_ttl,
            maxsize: options.maxsize,
            policy,
            lock: options.lock,
            single_flight: options.single_flight,
            folder,
            fallback_reason,
            selection: options.selection,
            touched,
            l1,
            next_ttl_sweep: Mutex::new(Instant::now()),
            fresh: rules.active().then(|| Box::new(FreshState::new(rules))),
        });
        let managed: Arc<dyn ManagedCache> = core.clone();
        if options.register {
            registry::register(&managed);
        } else if core.l1.is_some() {
            // The memory tier needs the sweeper's visits even when the cache is unlisted.
            registry::register_unlisted(&managed);
        }
        PersistentCache { core }
    }

    /// The stored key for `key`: the namespace id, a NUL, and the postcard-serialized key.
    /// `None` if the key does not serialize (such calls are not cached).
    pub fn stored_key<Q: ?Sized + Serialize>(&self, key: &Q) -> Option<Vec<u8>>
    where
        K: Borrow<Q>,
    {
        let prefix = &self.core.key_prefix;
        let mut buf = Vec::with_capacity(prefix.len() + 24);
        buf.extend_from_slice(prefix);
        match crate::value::encode_into(key, &mut buf) {
            Ok(()) => Some(buf),
            Err(e) => {
                log::debug!(
                    "{}: key does not serialize ({e}); not cached",
                    self.core.context
                );
                None
            }
        }
    }

    /// Looks a stored key up without counting: the value and its expiry (Unix ms, 0 for
    /// never).
    fn peek(&self, store: &S, sk: &[u8]) -> Found<(V, u64)> {
        store.lookup(sk, is_bytes::<V>(), |p, expires_ms| {
            decode_value::<V>(p).map(|v| (v, expires_ms))
        })
    }

    /// Looks a stored key up, counts a hit or a miss, and records the read for LRU.
    fn get_stored(&self, store: &S, sk: &[u8]) -> Option<(V, u64)> {
        let core = &*self.core;
        let c = &core.counters;
        match self.peek(store, sk) {
            Found::Hit(v) => {
                c.hit();
                if let Some(t) = &core.touched {
                    self.record_read(t, sk);
                }
                Some(v)
            }
            Found::Miss => {
                c.miss();
                None
            }
            Found::Expired => {
                c.expired(1);
                c.miss();
                None
            }
            Found::Failed(why) => {
                c.miss();
                core.errors.record(Problem::Read, &core.context, why);
                None
            }
        }
    }

    /// LRU: remembers that `sk` was read (see [`TOUCH_BATCH`]).
    fn record_read(&self, touched: &Mutex<Vec<Digest>>, sk: &[u8]) {
        let d = digest(sk);
        let mut t = touched.lock();
        if t.len() < TOUCH_BATCH {
            t.push(d);
        }
    }

    fn take_touched(&self) -> Vec<Digest> {
        self.core
            .touched
            .as_ref()
            .map(|t| std::mem::take(&mut *t.lock()))
            .unwrap_or_default()
    }

    fn store_value(&self, store: &S, sk: &[u8], value: &V) {
        self.put_payload(store, sk, |buf| {
            encode_value(value, buf).map_err(|e| CacheError::Encode {
                what: "value",
                message: e.to_string(),
            })
        });
    }

    /// Stores the payload `fill` writes under `sk`, counting and absorbing failures.
    pub(crate) fn put_payload(
        &self,
        store: &S,
        sk: &[u8],
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), CacheError>,
    ) {
        let core = &*self.core;
        let touched = self.take_touched();
        let written = store.put(sk, &touched, fill);
        match written {
            Ok(s) => {
                core.counters.insert();
                core.counters.evicted(s.evicted);
                core.counters.expired(s.expired);
                if let Some(note) = s.note {
                    core.errors.record(Problem::Other, &core.context, note);
                }
            }
            // Too large, or does not serialize: a property of the value, not a store fault.
            Err(e @ CacheError::Encode { .. }) => {
                log::debug!("{}: value not stored: {e}", core.context)
            }
            Err(e) => core.errors.record(Problem::Write, &core.context, e),
        }
    }

    /// `lock = true`: takes the cross-process lock of `sk`'s key. `None` when locking is
    /// off, this thread already holds it, or it cannot be taken (reported once; the
    /// caller computes without it: a cache never fails a call).
    fn claim(&self, sk: &[u8]) -> Option<KeyLock> {
        let locks = self.core.locks.as_ref()?;
        locks.claim(&digest(sk), &self.core.errors, &self.core.context)
    }

    /// The stored value for `key`, if present, intact and not expired. Counts a hit or a
    /// miss. An entry that does not decode is a miss, and is deleted.
    ///
    /// `key` may be any borrowed form of `K` that serializes like `K` (`&str` for
    /// `String`, `&[T]` for `Vec<T>`).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq + Serialize,
    {
        match &self.core.engine {
            Engine::Store(store) => {
                if let Some(v) = self.core.l1.as_ref().and_then(|t| t.get(key)) {
                    return Some(v);
                }
                let Some(sk) = self.stored_key(key) else {
                    self.core.counters.miss();
                    return None;
                };
                if let Some(f) = &self.core.fresh {
                    return crate::freshness::get_fresh(self, store, &sk, &f.rules);
                }
                // Not promoted: `get` borrows its key, and the tier needs an owned one.
                self.get_stored(store, &sk).map(|(v, _)| v)
            }
            Engine::Memory(m) => m.get(key),
        }
    }

    /// [`get`](Self::get) for an owned key type: a store hit is also promoted into the
    /// memory tier (`l1`), which `get` cannot do with a borrowed key.
    pub fn get_promoting(&self, key: &K) -> Option<V> {
        let (Engine::Store(store), Some(t), None) =
            (&self.core.engine, &self.core.l1, &self.core.fresh)
        else {
            return self.get(key);
        };
        if let Some(v) = t.get(key) {
            return Some(v);
        }
        let epoch = t.epoch();
        let Some(sk) = self.stored_key(key) else {
            self.core.counters.miss();
            return None;
        };
        let (v, expires_ms) = self.get_stored(store, &sk)?;
        t.fill(key, &v, expires_ms, epoch);
        Some(v)
    }

    /// Stores `value` under `key`, replacing any previous value (in every process: the
    /// last write wins); evicts per the policy beyond `maxsize` / `max_bytes`. A value that
    /// cannot be stored (does not serialize, too large, disk full) is logged and dropped:
    /// the cache costs speed, never correctness.
    pub fn insert(&self, key: K, value: V) {
        match &self.core.engine {
            Engine::Store(store) => {
                let epoch = self.core.l1.as_ref().map(MemoryTier::epoch);
                if let Some(sk) = self.stored_key(&key) {
                    match &self.core.fresh {
                        Some(f) => {
                            crate::freshness::insert_fresh(self, store, &sk, &value, &f.rules)
                        }
                        None => self.store_value(store, &sk, &value),
                    }
                }
                if let (Some(t), Some(e)) = (&self.core.l1, epoch) {
                    t.fill(&key, &value, 0, e);
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
            Engine::Store(store) => {
                let removed = self.stored_key(key).is_some_and(|sk| store.remove(&sk));
                if let Some(t) = &self.core.l1 {
                    t.remove(key);
                }
                removed
            }
            Engine::Memory(m) => m.remove(key),
        }
    }

    /// Removes every entry of this cache (its namespace only: other functions sharing the
    /// folder keep theirs).
    pub fn clear(&self) {
        ManagedCache::clear(&*self.core);
    }

    /// Number of entries in this cache's namespace, stored by any process, as far as the
    /// store knows (expired entries count until they are swept).
    pub fn len(&self) -> usize {
        match &self.core.engine {
            Engine::Store(store) => store.len(),
            Engine::Memory(m) => m.len(),
        }
    }

    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The backend serving: the store's ([`Backend::Lmdb`], [`Backend::Files`],
    /// [`Backend::Redis`]), or the memory backend it fell back to ([`Backend::Schnellru`]
    /// or [`Backend::Std`]; `stats().fallback_reason` says why), for good when the store
    /// could not open, or for a time while its server is unreachable ([`Store::fallback`]).
    pub fn backend(&self) -> Backend {
        match &self.core.engine {
            Engine::Store(store) => store.fallback().map_or(S::BACKEND, |(memory, _)| memory),
            Engine::Memory(m) => m.backend(),
        }
    }

    /// Why the cache serves from memory instead of its store, if it does (now: a Redis
    /// cache whose server is back says `None` again).
    pub fn fallback_reason(&self) -> Option<String> {
        match &self.core.engine {
            Engine::Store(store) => store.fallback().map(|(_, why)| why),
            Engine::Memory(_) => self.core.fallback_reason.clone(),
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

    /// The eviction policy in force.
    pub fn policy(&self) -> Policy {
        self.core.policy
    }

    /// The folder the cache lives (or would live) in.
    pub fn folder(&self) -> Option<&Path> {
        self.core.folder.as_deref()
    }

    /// Whether entries are encrypted (feature `encrypt`, a key from the builder or
    /// `TWAT_CACHE_KEY`, and the store serving; the memory fallback keeps nothing on
    /// disk).
    pub fn encrypted(&self) -> bool {
        match &self.core.engine {
            Engine::Store(store) => store.encrypted(),
            Engine::Memory(_) => false,
        }
    }

    /// Whether cross-process single-flight was asked for (`lock`; it applies while a
    /// store with a folder serves).
    pub fn lock(&self) -> bool {
        self.core.lock
    }

    /// A snapshot of the counters (this process's hits, misses, inserts, ...) and of the
    /// namespace's size in the store (all processes).
    pub fn stats(&self) -> CacheStats {
        ManagedCache::stats(&*self.core)
    }

    /// Direct access to the store ([`Inner::Store`]) or the memory fallback
    /// ([`Inner::Memory`]). No stats, no single-flight.
    pub fn inner(&self) -> Inner<'_, S, K, V> {
        match &self.core.engine {
            Engine::Store(store) => Inner::Store(store),
            Engine::Memory(m) => Inner::Memory(m),
        }
    }

    /// Drops every expired entry of this namespace now; returns how many. The background
    /// sweeper calls this for caches with a ttl.
    pub fn sweep_expired(&self) -> u64 {
        self.core.sweep_now()
    }

    /// The value for `key`, computing and storing it with `compute` on a miss.
    ///
    /// Single-flight within the process: concurrent callers missing on the same key wait
    /// for one computation. A `compute` that panics wakes the waiters, one of which
    /// computes in its place. A `compute` that calls back into this cache with the same key
    /// on the same thread computes directly instead of deadlocking.
    pub fn get_or_insert_with(&self, key: K, compute: impl FnOnce() -> V) -> V {
        let Ok(v) =
            self.try_get_or_insert_with(key, || Ok::<V, std::convert::Infallible>(compute()));
        v
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) for fallible work: `Ok` values
    /// are stored and returned, an `Err` is returned and nothing is stored.
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let store = match &self.core.engine {
            Engine::Store(store) => store,
            Engine::Memory(m) => return m.try_get_or_insert_with(key, compute),
        };
        let l1 = self.core.l1.as_ref();
        if let Some(v) = l1.and_then(|t| t.get(&key)) {
            return Ok(v);
        }
        let epoch = l1.map_or(0, MemoryTier::epoch);
        let Some(sk) = self.stored_key(&key) else {
            self.core.counters.miss();
            return compute(); // unkeyable: call straight through
        };
        if self.core.fresh.is_some() {
            return twat_cache_common::freshness::get_or_compute(
                &View(self.clone()),
                key,
                false,
                compute,
            );
        }
        let core = &*self.core;
        let compute =
            || twat_cache_common::metrics::timed(&core.name, core.kind, S::BACKEND, compute);
        if let Some((v, expires_ms)) = self.get_stored(store, &sk) {
            if let Some(t) = l1 {
                t.fill(&key, &v, expires_ms, epoch);
            }
            return Ok(v);
        }
        let recheck = || match self.peek(store, &sk) {
            Found::Hit((v, _)) => Some(v),
            _ => None,
        };
        let store_value = |v: &V| {
            self.store_value(store, &sk, v);
            if let Some(t) = l1 {
                t.fill(&key, v, 0, epoch);
            }
        };
        if !self.core.single_flight {
            let held = self.claim(&sk);
            if held.is_some()
                && let Some(v) = recheck()
            {
                return Ok(v);
            }
            let v = compute()?;
            store_value(&v);
            drop(held);
            return Ok(v);
        }
        // Another leader (or process) may have stored it since our miss: `recheck`, and
        // again under the cross-process lock (`lock = true`) once we hold it.
        self.core
            .flight
            .run_claimed(&key, recheck, || self.claim(&sk), compute, store_value)
    }
}

impl<S: Store, K, V> Core<S, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Drops the store's expired entries now; returns how many.
    fn sweep_now(&self) -> u64 {
        let Engine::Store(store) = &self.engine else {
            let Engine::Memory(m) = &self.engine else {
                unreachable!()
            };
            return m.sweep_expired();
        };
        self.flush_touched();
        if self.ttl.is_none() {
            return 0;
        }
        let n = store.sweep_expired();
        self.counters.expired(n);
        n
    }

    /// How often a ttl sweep may scan the store.
    fn ttl_sweep_every(&self) -> Option<Duration> {
        self.ttl
            .map(|t| registry::sweep_interval_for(t).max(S::MIN_SWEEP_INTERVAL))
    }
}

/// What the freshness module (`freshness.rs`) reaches of the cache.
impl<S, K, V> PersistentCache<S, K, V>
where
    S: Store,
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    pub(crate) fn fresh_state(&self) -> Option<&FreshState<K, V>> {
        self.core.fresh.as_deref()
    }

    pub(crate) fn serving_store(&self) -> Option<&S> {
        match &self.core.engine {
            Engine::Store(store) => Some(store),
            Engine::Memory(_) => None,
        }
    }

    pub(crate) fn memory_fallback(&self) -> Option<&MemoryCache<K, V>> {
        match &self.core.engine {
            Engine::Store(_) => None,
            Engine::Memory(m) => Some(m),
        }
    }

    pub(crate) fn record_read_of(&self, sk: &[u8]) {
        if let Some(t) = &self.core.touched {
            self.record_read(t, sk);
        }
    }

    pub(crate) fn counters_ref(&self) -> &Counters {
        &self.core.counters
    }

    pub(crate) fn flight_ref(&self) -> &SingleFlight<K, V> {
        &self.core.flight
    }

    pub(crate) fn note_problem(&self, problem: Problem, why: String) {
        self.core.errors.record(problem, &self.core.context, why);
    }

    pub(crate) fn claim_key(&self, sk: &[u8]) -> Option<KeyLock> {
        self.claim(sk)
    }

    pub(crate) fn context(&self) -> &str {
        &self.core.context
    }
}

impl<S: Store, K, V> Core<S, K, V> {
    /// Hands the reads recorded for LRU to the store.
    fn flush_touched(&self) {
        if let (Engine::Store(store), Some(t)) = (&self.engine, &self.touched) {
            let batch = std::mem::take(&mut *t.lock());
            if !batch.is_empty() {
                store.touch(&batch);
            }
        }
    }
}

impl<S: Store, K, V> Drop for Core<S, K, V> {
    fn drop(&mut self) {
        // Reads recorded but not yet handed over: the LRU order outlives the process.
        self.flush_touched();
    }
}

impl<S: Store, K, V> ManagedCache for Core<S, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn stats(&self) -> CacheStats {
        let mut s = match &self.engine {
            Engine::Store(store) => {
                let mut s = CacheStats::new(self.name.clone(), S::BACKEND);
                self.counters.fill(&mut s);
                if let Some(t) = &self.l1 {
                    s.l1_hits = t.hits();
                    s.hits += s.l1_hits;
                }
                s.entries = store.len() as u64;
                s.bytes = store.bytes();
                s
            }
            Engine::Memory(m) => m.stats(),
        };
        s.name = self.name.clone();
        s.kind = self.kind.to_owned();
        s.maxsize = self.maxsize.map(|m| m as u64);
        s.ttl_secs = self.ttl.map(|t| t.as_secs_f64());
        s.folder = self.folder.clone();
        s.fallback_reason = self.fallback_reason.clone();
        if let Engine::Store(store) = &self.engine
            && let Some((memory, why)) = store.fallback()
        {
            s.backend = memory;
            s.fallback_reason = Some(why);
        }
        s.selection = self.selection.clone();
        if let (Engine::Store(_), Some(f)) = (&self.engine, &self.fresh) {
            f.counters.fill(&mut s);
        }
        self.errors.fill(&mut s);
        if let Engine::Store(store) = &self.engine
            && let Some(why) = store.problem()
        {
            s.last_error = Some(why);
        }
        s
    }

    fn clear(&self) {
        match &self.engine {
            Engine::Store(store) => {
                if let Some(t) = &self.touched {
                    t.lock().clear();
                }
                store.clear();
                if let Some(t) = &self.l1 {
                    t.clear();
                }
            }
            Engine::Memory(m) => m.clear(),
        }
    }

    /// The sweeper's visit: hands recorded reads to the store, keeps the memory tier in
    /// step with it, and scans for expired entries when that is due.
    fn sweep_expired(&self) -> u64 {
        if let (Engine::Store(store), Some(t)) = (&self.engine, &self.l1) {
            t.check(store.generation());
        }
        let due = match (self.ttl_sweep_every(), &self.engine) {
            (Some(every), Engine::Store(_)) => {
                let mut next = self.next_ttl_sweep.lock();
                let now = Instant::now();
                let due = *next <= now;
                if due {
                    *next = now + every;
                }
                due
            }
            _ => true,
        };
        if due {
            self.sweep_now()
        } else {
            self.flush_touched();
            0
        }
    }

    fn sweep_interval(&self) -> Option<Duration> {
        [
            self.ttl_sweep_every(),
            // LRU caches are visited at least once a second, to hand over recorded reads.
            self.touched.is_some().then_some(Duration::from_secs(1)),
            self.l1.is_some().then_some(CHECK_EVERY),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
