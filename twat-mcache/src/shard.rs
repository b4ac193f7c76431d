//! The sharded store core: N independently locked maps, chosen by the key's hash.
//!
//! The two memory backends differ only in the map inside each shard ([`ShardMap`]); the
//! hashing, locking, ttl checks and eviction accounting live here once.

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use std::time::Duration;

use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
use twat_cache_common::clock::{deadline, is_expired, now_nanos};
use twat_cache_common::stats::Counters;

use crate::pending::{Pending, Waiters, thread_token};

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
    /// Not there; carries the shard's store count seen (see `Shard::stored`).
    Miss(u64),
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

/// What one lock guards: the shard's map, and the computations of its keys in progress.
pub(crate) struct Shard<K, V, M> {
    pub(crate) map: M,
    pending: Vec<Pending<K, V>>,
    next_id: u64,
    /// How many values were ever stored into `map` (the cache's `inserts`, counted here
    /// under the lock, exactly and without an atomic). Unchanged since a lookup missed
    /// (under this lock), the key is still absent: a miss then skips its re-check.
    stored: u64,
    /// Entries evicted, and expired entries dropped by inserts or the sweeper, counted the
    /// same way.
    evicted: u64,
    expired: u64,
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

/// One shard behind its lock, on cache lines of its own.
type LockedShard<K, V, M> = Padded<RwLock<Shard<K, V, M>>>;

/// N locked shards sharing one hasher.
pub(crate) struct Sharded<K, V, M, S> {
    shards: Box<[LockedShard<K, V, M>]>,
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

impl<K, V, M, S: BuildHasher> Sharded<K, V, M, S> {
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
                .map(|&c| {
                    Padded(RwLock::new(Shard {
                        map: make(c),
                        pending: Vec::new(),
                        next_id: 0,
                        stored: 0,
                        evicted: 0,
                        expired: 0,
                    }))
                })
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

    pub(crate) fn lock(&self, i: usize) -> MappedRwLockReadGuard<'_, M> {
        RwLockReadGuard::map(self.shards[i].read(), |s| &s.map)
    }
}

/// Makes room for one more entry in a locked shard and stores it, counting the insert and
/// what it evicted or dropped as expired. `known_absent`: the caller knows `key` is not in
/// the map.
fn store_locked<K, V, M>(
    shard: &mut Shard<K, V, M>,
    cap: usize,
    hash: u64,
    key: K,
    slot: Slot<V>,
    now: u64,
    known_absent: bool,
) where
    M: ShardMap<K, V>,
    K: Hash + Eq,
{
    let map = &mut shard.map;
    let mut expired = 0;
    // Amortized sweeping: each insert retires up to two expired entries at the
    // policy's end of the queue, so a ttl cache under writes never fills with the dead.
    if now != 0 {
        while expired < 2 && map.drop_expired_victim(now) {
            expired += 1;
        }
    }
    let mut evicted = 0;
    if map.len() >= cap && (known_absent || map.peek(hash, &key).is_none()) {
        while map.len() >= cap && map.evict_one() {
            evicted += 1;
        }
    }
    map.insert(hash, key, slot);
    shard.stored = shard.stored.wrapping_add(1);
    shard.evicted += evicted;
    shard.expired += expired;
}

/// The ttl and counters of the cache a memoized lookup is made for.
pub(crate) struct Memo<'a> {
    pub(crate) ttl: Option<Duration>,
    pub(crate) counters: &'a Counters,
    pub(crate) single_flight: bool,
}

impl Memo<'_> {
    #[inline]
    fn now(&self) -> u64 {
        if self.ttl.is_some() { now_nanos() } else { 0 }
    }
}

/// The leader of a computation: dropping it without [`complete`](Lead::complete) (the
/// body failed or panicked) removes the pending record and wakes the waiters with nothing.
struct Lead<'a, K, V, M, S>
where
    M: ShardMap<K, V>,
    K: Hash + Eq,
    V: Clone,
{
    sharded: &'a Sharded<K, V, M, S>,
    index: usize,
    id: u64,
}

impl<K, V, M, S> Lead<'_, K, V, M, S>
where
    M: ShardMap<K, V>,
    K: Hash + Eq,
    V: Clone,
{
    fn take_pending(&self, shard: &mut Shard<K, V, M>) -> Pending<K, V> {
        let at = shard
            .pending
            .iter()
            .position(|p| p.id == self.id)
            .expect("a leader's pending record stays until it ends");
        shard.pending.swap_remove(at)
    }

    /// Stores `value` under the key being computed and hands a copy to the waiters.
    fn complete(self, value: &V, memo: &Memo<'_>) {
        let now = memo.now();
        let slot = Slot::new(value.clone(), deadline(memo.ttl));
        let sharded = self.sharded;
        let mut shard = sharded.shards[self.index].write();
        let pending = self.take_pending(&mut shard);
        // Nothing stored into this shard since the claim (which found the key absent):
        // it is still absent.
        let known_absent = shard.stored == pending.stored_at_claim;
        store_locked(
            &mut shard,
            sharded.capacity[self.index],
            pending.hash,
            pending.key,
            slot,
            now,
            known_absent,
        );
        drop(shard);
        std::mem::forget(self);
        if let Some(waiters) = pending.waiters {
            waiters.finish(Some(value.clone()));
        }
    }
}

impl<K, V, M, S> Drop for Lead<'_, K, V, M, S>
where
    M: ShardMap<K, V>,
    K: Hash + Eq,
    V: Clone,
{
    fn drop(&mut self) {
        let mut shard = self.sharded.shards[self.index].write();
        let pending = self.take_pending(&mut shard);
        drop(shard);
        if let Some(waiters) = pending.waiters {
            waiters.finish(None);
        }
    }
}

impl<K, V, M, S> Sharded<K, V, M, S>
where
    S: BuildHasher,
    M: ShardMap<K, V>,
    K: Hash + Eq,
    V: Clone,
{
    #[inline]
    pub(crate) fn get<Q>(&self, key: &Q, now: u64) -> Lookup<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let (hash, i) = self.locate(key);
        self.lookup(hash, i, key, now)
    }

    // Always inlined: out of line (LLVM's choice once two callers use it), the hit path
    // pays a second call frame, ~15 instructions of 145.
    #[inline(always)]
    fn lookup<Q>(&self, hash: u64, i: usize, key: &Q, now: u64) -> Lookup<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        if self.mode != ReadMode::Exclusive {
            let guard = self.shards[i].read();
            match guard.map.peek(hash, key) {
                None => return Lookup::Miss(guard.stored),
                Some(slot) if !is_expired(slot.expires, now) => {
                    if self.mode == ReadMode::Mark {
                        slot.mark();
                    }
                    return Lookup::Hit(slot.value.clone());
                }
                Some(_) => {}
            }
        }
        self.lookup_exclusive(hash, i, key, now)
    }

    /// A lookup under the write lock: LFU (every hit updates the map), or an expired entry
    /// to drop (if nobody replaced it since the read lock was let go).
    #[inline(never)]
    fn lookup_exclusive<Q>(&self, hash: u64, i: usize, key: &Q, now: u64) -> Lookup<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let mut guard = self.shards[i].write();
        let found = if self.mode == ReadMode::Exclusive {
            guard.map.get(hash, key).map(|s| &*s)
        } else {
            guard.map.peek(hash, key)
        };
        match found {
            None => Lookup::Miss(guard.stored),
            Some(slot) if !is_expired(slot.expires, now) => Lookup::Hit(slot.value.clone()),
            Some(_) => {
                guard.map.remove(hash, key);
                Lookup::Expired
            }
        }
    }

    /// The memoized call: the value for `key`, or `compute`'s, stored; counts as
    /// [`MemoryCache::get`](crate::MemoryCache::get) and `insert` do. The key is hashed once.
    ///
    /// With single-flight, a miss records a [`Pending`] computation in the shard (under the
    /// write lock that also re-checks the map), computes without any lock, then stores the
    /// value and drops the record under one more write lock. Callers that meet the record
    /// wait for it; the leader's own thread (same-key recursion) computes directly.
    #[inline]
    pub(crate) fn get_or_compute<E>(
        &self,
        key: K,
        memo: &Memo<'_>,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let (hash, i) = self.locate(&key);
        match self.lookup(hash, i, &key, memo.now()) {
            Lookup::Hit(v) => {
                memo.counters.hit();
                Ok(v)
            }
            Lookup::Miss(stored) => {
                memo.counters.miss();
                self.compute_missing(hash, i, key, memo, compute, Some(stored))
            }
            Lookup::Expired => {
                memo.counters.expired(1);
                memo.counters.miss();
                self.compute_missing(hash, i, key, memo, compute, None)
            }
        }
    }

    /// [`get_or_compute`](Self::get_or_compute) after a lookup the caller made (and
    /// counted) itself: single-flight, compute, store.
    pub(crate) fn compute_after_miss<E>(
        &self,
        key: K,
        memo: &Memo<'_>,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let (hash, i) = self.locate(&key);
        self.compute_missing(hash, i, key, memo, compute, None)
    }

    /// The miss path of [`get_or_compute`](Self::get_or_compute), out of line so that the
    /// hit path stays small.
    #[inline(never)]
    fn compute_missing<E>(
        &self,
        hash: u64,
        i: usize,
        key: K,
        memo: &Memo<'_>,
        compute: impl FnOnce() -> Result<V, E>,
        mut seen: Option<u64>,
    ) -> Result<V, E> {
        if !memo.single_flight {
            let v = compute()?;
            self.store(hash, i, key, &v, memo);
            return Ok(v);
        }
        let me = thread_token();
        loop {
            let mut shard = self.shards[i].write();
            // Another caller may have stored the value since our miss (not if nothing was
            // stored into this shard at all since).
            if seen.take() != Some(shard.stored)
                && let Some(slot) = shard.map.peek(hash, &key)
                && !is_expired(slot.expires, memo.now())
            {
                return Ok(slot.value.clone());
            }
            if let Some(p) = shard
                .pending
                .iter_mut()
                .find(|p| p.hash == hash && p.key == key)
            {
                if p.leader == me {
                    // Same-key recursion: this thread is computing it already.
                    drop(shard);
                    let v = compute()?;
                    self.store(hash, i, key, &v, memo);
                    return Ok(v);
                }
                let waiters = p.waiters.get_or_insert_with(Waiters::new).clone();
                drop(shard);
                if let Some(v) = waiters.wait() {
                    return Ok(v);
                }
                // The leader failed or panicked: look again, and perhaps lead.
                continue;
            }
            let id = shard.next_id;
            shard.next_id = id.wrapping_add(1);
            let stored_at_claim = shard.stored;
            shard.pending.push(Pending {
                hash,
                key,
                id,
                leader: me,
                stored_at_claim,
                waiters: None,
            });
            drop(shard);
            let lead = Lead {
                sharded: self,
                index: i,
                id,
            };
            // An Err (or a panic) drops `lead`: the waiters wake, and one of them leads.
            let v = compute()?;
            lead.complete(&v, memo);
            return Ok(v);
        }
    }

    fn store(&self, hash: u64, i: usize, key: K, value: &V, memo: &Memo<'_>) {
        let now = memo.now();
        let slot = Slot::new(value.clone(), deadline(memo.ttl));
        store_locked(
            &mut self.shards[i].write(),
            self.capacity[i],
            hash,
            key,
            slot,
            now,
            false,
        );
    }

    pub(crate) fn peek<Q>(&self, key: &Q, now: u64) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let (hash, i) = self.locate(key);
        let shard = self.shards[i].read();
        shard
            .map
            .peek(hash, key)
            .filter(|s| !is_expired(s.expires, now))
            .map(|s| s.value.clone())
    }

    /// Inserts (counted in the shard).
    pub(crate) fn insert(&self, key: K, slot: Slot<V>, now: u64) {
        let (hash, i) = self.locate(&key);
        store_locked(
            &mut self.shards[i].write(),
            self.capacity[i],
            hash,
            key,
            slot,
            now,
            false,
        )
    }

    pub(crate) fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        let (hash, i) = self.locate(key);
        self.shards[i].write().map.remove(hash, key)
    }

    /// (inserts, evictions, expired dropped by inserts and sweeps) counted in the shards.
    pub(crate) fn tally(&self) -> (u64, u64, u64) {
        self.shards.iter().fold((0, 0, 0), |(i, e, x), s| {
            let s = s.read();
            (i + s.stored, e + s.evicted, x + s.expired)
        })
    }

    pub(crate) fn len(&self) -> usize {
        (0..self.shards.len())
            .map(|i| self.shards[i].read().map.len())
            .sum()
    }

    pub(crate) fn clear(&self) {
        for i in 0..self.shards.len() {
            self.shards[i].write().map.clear();
        }
    }

    pub(crate) fn remove_expired(&self, now: u64) -> u64 {
        // One shard at a time, so callers of other shards are never held up.
        // Counted in the shard under the same lock: stats never lag behind `len`.
        (0..self.shards.len())
            .map(|i| {
                let mut shard = self.shards[i].write();
                let n = shard.map.remove_expired(now);
                shard.expired += n;
                n
            })
            .sum()
    }

    pub(crate) fn keys(&self) -> Vec<K> {
        (0..self.shards.len())
            .flat_map(|i| self.shards[i].read().map.keys())
            .collect()
    }
}
