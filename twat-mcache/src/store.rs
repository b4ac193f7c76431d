//! [`MemoryStore`]: the sharded map behind a [`MemoryCache`](crate::MemoryCache), reached
//! through [`MemoryCache::inner`](crate::MemoryCache::inner).

use std::borrow::Borrow;
use std::hash::Hash;

use twat_cache_common::{Backend, Policy};

use crate::hasher::KeyHasher;
#[cfg(feature = "schnellru")]
use crate::lru::LruShard;
use crate::shard::{Lookup, Memo, ReadMode, Sharded, Slot};
use crate::std_map::StdShard;

enum Shards<K, V> {
    #[cfg(feature = "schnellru")]
    Lru(Sharded<K, V, LruShard<K, V>, KeyHasher>),
    Std(Sharded<K, V, StdShard<K, V>, KeyHasher>),
}

/// The store behind a [`MemoryCache`](crate::MemoryCache): shards of `schnellru` LRU maps
/// (feature `schnellru`, policy LRU) or of the std-only map (LFU, FIFO, or the feature off),
/// each behind its own `parking_lot` mutex.
///
/// Direct access bypasses the cache's stats and single-flight:
///
/// ```
/// use twat_mcache::MemoryCache;
/// let cache = MemoryCache::<u32, &str>::builder().maxsize(100).build().unwrap();
/// cache.insert(1, "one");
/// let store = cache.inner();
/// assert_eq!(store.peek(&1), Some("one"));
/// assert_eq!(store.keys(), vec![1]);
/// assert!(store.shard_count() >= 1);
/// ```
pub struct MemoryStore<K, V> {
    shards: Shards<K, V>,
    backend: Backend,
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match &$self.shards {
            #[cfg(feature = "schnellru")]
            Shards::Lru($s) => $e,
            Shards::Std($s) => $e,
        }
    };
}

impl<K, V> MemoryStore<K, V> {
    /// The backend: [`Backend::Schnellru`] or [`Backend::Std`].
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl<K: Hash + Eq + Clone, V: Clone> MemoryStore<K, V> {
    #[cfg_attr(not(feature = "schnellru"), allow(unused_variables))]
    pub(crate) fn new(policy: Policy, maxsize: Option<usize>, force_std: bool) -> Self {
        #[cfg(feature = "schnellru")]
        if policy == Policy::Lru && !force_std {
            let hasher = KeyHasher::new();
            return MemoryStore {
                shards: Shards::Lru(Sharded::new(
                    maxsize,
                    ReadMode::Mark,
                    hasher.clone(),
                    |_| LruShard::new(hasher.clone()),
                )),
                backend: Backend::Schnellru,
            };
        }
        let hasher = KeyHasher::new();
        let mode = match policy {
            Policy::Lru => ReadMode::Mark,
            Policy::Fifo => ReadMode::Plain,
            Policy::Lfu => ReadMode::Exclusive,
        };
        MemoryStore {
            shards: Shards::Std(Sharded::new(maxsize, mode, hasher.clone(), |_| {
                StdShard::new(policy, hasher.clone())
            })),
            backend: Backend::Std,
        }
    }

    /// How many independently locked shards the store has.
    pub fn shard_count(&self) -> usize {
        each!(self, s => s.shard_len())
    }

    /// The value for `key` if present and fresh, without touching recency or stats.
    pub fn peek<Q: ?Sized + Hash + Eq>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let now = twat_cache_common::clock::now_nanos();
        each!(self, s => s.peek(key, now))
    }

    /// A snapshot of the keys (fresh or not yet swept).
    pub fn keys(&self) -> Vec<K> {
        each!(self, s => s.keys())
    }

    /// Number of entries, including expired ones not yet swept.
    pub fn len(&self) -> usize {
        each!(self, s => s.len())
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub(crate) fn get<Q: ?Sized + Hash + Eq>(&self, key: &Q, now: u64) -> Lookup<V>
    where
        K: Borrow<Q>,
    {
        each!(self, s => s.get(key, now))
    }

    /// The memoized call (see `Sharded::get_or_compute`).
    #[inline]
    pub(crate) fn get_or_compute<E>(
        &self,
        key: K,
        memo: &Memo<'_>,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        each!(self, s => s.get_or_compute(key, memo, compute))
    }

    /// The miss path alone (see `Sharded::compute_after_miss`).
    pub(crate) fn compute_after_miss<E>(
        &self,
        key: K,
        memo: &Memo<'_>,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        each!(self, s => s.compute_after_miss(key, memo, compute))
    }

    pub(crate) fn insert(&self, key: K, slot: Slot<V>, now: u64) {
        each!(self, s => s.insert(key, slot, now))
    }

    pub(crate) fn remove<Q: ?Sized + Hash + Eq>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        each!(self, s => s.remove(key))
    }

    /// (inserts, evictions, expired dropped by inserts and sweeps) counted in the shards.
    pub(crate) fn tally(&self) -> (u64, u64, u64) {
        each!(self, s => s.tally())
    }

    pub(crate) fn clear(&self) {
        each!(self, s => s.clear())
    }

    pub(crate) fn remove_expired(&self, now: u64) -> u64 {
        each!(self, s => s.remove_expired(now))
    }

    /// Runs `f` on each shard's entry count under its lock: for tests of the hard bound.
    #[doc(hidden)]
    pub fn shard_lens(&self) -> Vec<usize> {
        each!(self, s => (0..s.shard_len()).map(|i| {
            use crate::shard::ShardMap;
            ShardMap::<K, V>::len(&*s.lock(i))
        }).collect())
    }
}
