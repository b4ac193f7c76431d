//! The sharded store core: N independently locked maps, chosen by the key's hash.
//!
//! The two memory backends differ only in the map inside each shard ([`ShardMap`]); the
//! hashing, locking, ttl checks and eviction accounting live here once.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use parking_lot::RwLock;
use twat_cache_common::clock::is_expired;

/// A stored value, its deadline (see [`twat_cache_common::clock`]; 0 = never), and whether
/// it was hit since it last reached the old end of an LRU queue.
#[derive(Debug)]
pub struct Slot<V> {
    /// The value.
    pub value: V,
    /// Monotonic deadline in nanoseconds; 0 = never expires.
    pub expires: u64,
    /// Set by a hit under the read lock; an LRU eviction that finds it set clears it and
    /// moves the entry to the young end instead (lazy promotion, "second chance").
    pub accessed: AtomicBool,
}

impl<V> Slot<V> {
    pub(crate) fn new(value: V, expires: u64) -> Self {
        Slot {
            value,
            expires,
            accessed: AtomicBool::new(false),
        }
    }

    #[inline]
    fn mark(&self) {
        // Only write when it changes, so repeated hits do not dirty the cache line.
        if !self.accessed.load(Relaxed) {
            self.accessed.store(true, Relaxed);
        }
    }
}

/// How a shard serves a lookup.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadMode {
    /// Read lock, and mark the entry (LRU with lazy promotion).
    Mark,
    /// Read lock, no bookkeeping (FIFO).
    Plain,
    /// Write lock: the lookup updates the map (LFU counts).
    Exclusive,
}

/// What a lookup found.
pub(crate) enum Lookup<V> {
    Hit(V),
    Miss,
    Expired,
}

/// One shard's map. `hash` is always computed by the store's shared hasher from the key.
pub(crate) trait ShardMap<K, V> {
    fn get<Q: ?Sized + Hash + Eq>(&mut self, hash: u64, key: &Q) -> Option<&mut Slot<V>>
    where
        K: Borrow<Q>;
    fn peek<Q: ?Sized + Hash + Eq>(&self, hash: u64, key: &Q) -> Option<&Slot<V>>
    where
        K: Borrow<Q>;
    fn remove<Q: ?Sized + Hash + Eq>(&mut self, hash: u64, key: &Q) -> bool
    where
        K: Borrow<Q>;
    /// Inserts or replaces; the caller has made room.
    fn insert(&mut self, hash: u64, key: K, slot: Slot<V>);
    /// Drops the entry the policy picks; false when empty.
    fn evict_one(&mut self) -> bool;
    /// The entry the policy would evict next, if it has expired at `now`, is dropped.
    fn drop_expired_victim(&mut self, now: u64) -> bool;
    /// Drops every entry expired at `now`; returns how many.
    fn remove_expired(&mut self, now: u64) -> u64;
    fn len(&self) -> usize;
    fn clear(&mut self);
    fn keys(&self) -> Vec<K>;
}

/// One shard's lock on a cache line of its own, so that threads working on different
/// shards never bounce each other's lock word (false sharing).
#[repr(align(128))]
pub(crate) struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// N locked shards sharing one hasher.
pub(crate) struct Sharded<M, S> {
    shards: Box<[Padded<RwLock<M>>]>,
    mode: ReadMode,
    capacity: Box<[usize]>,
    hasher: S,
    shift: u32,
}

/// How many shards for `maxsize` entries: enough to spread threads, never so many that a
/// shard holds fewer than 64 entries (which would make the per-shard policy crude).
pub(crate) fn shard_count(maxsize: Option<usize>) -> usize {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
    let wanted = (threads * 8).next_power_of_two().clamp(8, 128);
    match maxsize {
        None => wanted,
        Some(m) => {
            let by_size = (m / 64).max(1);
            let pow2 = if by_size.is_power_of_two() {
                by_size
            } else {
                by_size.next_power_of_two() / 2
            };
            wanted.min(pow2).max(1)
        }
    }
}

impl<M, S: BuildHasher> Sharded<M, S> {
    pub(crate) fn new(
        maxsize: Option<usize>,
        mode: ReadMode,
        hasher: S,
        mut make: impl FnMut(usize) -> M,
    ) -> Self {
        let n = shard_count(maxsize);
        // The per-shard capacities add up to exactly `maxsize`: it is a hard bound.
        let capacity: Box<[usize]> = (0..n)
            .map(|i| match maxsize {
                None => usize::MAX,
                Some(m) => m / n + usize::from(i < m % n),
            })
            .collect();
        Sharded {
            shards: capacity
                .iter()
                .map(|&c| Padded(RwLock::new(make(c))))
                .collect(),
            mode,
            capacity,
            hasher,
            shift: 64 - n.trailing_zeros(),
        }
    }

    #[inline]
    fn locate<Q: ?Sized + Hash>(&self, key: &Q) -> (u64, usize) {
        let hash = self.hasher.hash_one(key);
        // High bits pick the shard; the map inside uses all of them.
        let index = if self.shards.len() == 1 {
            0
        } else {
            (hash >> self.shift) as usize
        };
        (hash, index)
    }

    pub(crate) fn shard_len(&self) -> usize {
        self.shards.len()
    }

    pub(crate) fn lock(&self, i: usize) -> parking_lot::RwLockReadGuard<'_, M> {
        self.shards[i].read()
    }
}

impl<M, S> Sharded<M, S>
where
    S: BuildHasher,
{
    #[inline]
    pub(crate) fn get<K, V, Q>(&self, key: &Q, now: u64) -> Lookup<V>
    where
        M: ShardMap<K, V>,
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
        V: Clone,
    {
        let (hash, i) = self.locate(key);
        let shard = &self.shards[i];
        if self.mode != ReadMode::Exclusive {
            let map = shard.read();
            match map.peek(hash, key) {
                None => return Lookup::Miss,
                Some(slot) if !is_expired(slot.expires, now) => {
                    if self.mode == ReadMode::Mark {
                        slot.mark();
                    }
                    return Lookup::Hit(slot.value.clone());
                }
                Some(_) => {}
            }
            drop(map);
            // Expired: take the write lock to drop it (if nobody replaced it meanwhile).
            let mut map = shard.write();
            return match map.peek(hash, key) {
                Some(slot) if !is_expired(slot.expires, now) => Lookup::Hit(slot.value.clone()),
                Some(_) => {
                    map.remove(hash, key);
                    Lookup::Expired
                }
                None => Lookup::Miss,
            };
        }
        let mut map = shard.write();
        match map.get(hash, key) {
            None => Lookup::Miss,
            Some(slot) if !is_expired(slot.expires, now) => Lookup::Hit(slot.value.clone()),
            Some(_) => {
                map.remove(hash, key);
                Lookup::Expired
            }
        }
    }

    pub(crate) fn peek<K, V, Q>(&self, key: &Q, now: u64) -> Option<V>
    where
        M: ShardMap<K, V>,
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
        V: Clone,
    {
        let (hash, i) = self.locate(key);
        let map = self.shards[i].read();
        map.peek(hash, key)
            .filter(|s| !is_expired(s.expires, now))
            .map(|s| s.value.clone())
    }

    /// Inserts; returns (evicted, expired) counts.
    pub(crate) fn insert<K, V>(&self, key: K, slot: Slot<V>, now: u64) -> (u64, u64)
    where
        M: ShardMap<K, V>,
        K: Hash + Eq,
    {
        let (hash, i) = self.locate(&key);
        let cap = self.capacity[i];
        let mut map = self.shards[i].write();
        let mut expired = 0;
        // Amortized sweeping: each insert retires up to two expired entries at the
        // policy's end of the queue, so a ttl cache under writes never fills with the dead.
        if now != 0 {
            while expired < 2 && map.drop_expired_victim(now) {
                expired += 1;
            }
        }
        let mut evicted = 0;
        if map.len() >= cap && map.peek(hash, &key).is_none() {
            while map.len() >= cap && map.evict_one() {
                evicted += 1;
            }
        }
        map.insert(hash, key, slot);
        (evicted, expired)
    }

    pub(crate) fn remove<K, V, Q>(&self, key: &Q) -> bool
    where
        M: ShardMap<K, V>,
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let (hash, i) = self.locate(key);
        self.shards[i].write().remove(hash, key)
    }

    pub(crate) fn len<K, V>(&self) -> usize
    where
        M: ShardMap<K, V>,
    {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    pub(crate) fn clear<K, V>(&self)
    where
        M: ShardMap<K, V>,
    {
        for s in self.shards.iter() {
            s.write().clear();
        }
    }

    pub(crate) fn remove_expired<K, V>(&self, now: u64) -> u64
    where
        M: ShardMap<K, V>,
    {
        // One shard at a time, so callers of other shards are never held up.
        self.shards
            .iter()
            .map(|s| s.write().remove_expired(now))
            .sum()
    }

    pub(crate) fn keys<K, V>(&self) -> Vec<K>
    where
        M: ShardMap<K, V>,
    {
        self.shards.iter().flat_map(|s| s.read().keys()).collect()
    }
}
