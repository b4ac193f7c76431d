//! The `schnellru` shard: an `LruMap` per shard (feature `schnellru`, the default for LRU).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use schnellru::{ByLength, LruMap};
use twat_cache_common::clock::is_expired;

use crate::hasher::KeyHasher;
use crate::shard::{ShardMap, Slot};

/// One shard: a schnellru map that never evicts by itself (the store makes room first, so
/// that evictions are counted).
pub(crate) struct LruShard<K, V> {
    map: LruMap<K, Slot<V>, ByLength, KeyHasher>,
}

impl<K: Hash + Eq, V> LruShard<K, V> {
    pub(crate) fn new(hasher: KeyHasher) -> Self {
        LruShard {
            map: LruMap::with_hasher(ByLength::new(u32::MAX), hasher),
        }
    }
}

/// Lets schnellru find a `K` by a borrowed `&Q` (`String` by `&str`).
struct ByBorrow<'a, Q: ?Sized, K>(&'a Q, PhantomData<K>);

impl<Q: ?Sized + Hash, K> Hash for ByBorrow<'_, Q, K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<Q: ?Sized + Eq, K: Borrow<Q>> PartialEq<K> for ByBorrow<'_, Q, K> {
    fn eq(&self, other: &K) -> bool {
        self.0 == other.borrow()
    }
}

impl<K: Hash + Eq + Clone, V> ShardMap<K, V> for LruShard<K, V> {
    #[inline]
    fn get<Q: ?Sized + Hash + Eq>(&mut self, hash: u64, key: &Q) -> Option<&mut Slot<V>>
    where
        K: Borrow<Q>,
    {
        self.map.get_by_hash(hash, |k, _| k.borrow() == key)
    }

    fn peek<Q: ?Sized + Hash + Eq>(&self, hash: u64, key: &Q) -> Option<&Slot<V>>
    where
        K: Borrow<Q>,
    {
        self.map.peek_by_hash(hash, |k, _| k.borrow() == key)
    }

    fn remove<Q: ?Sized + Hash + Eq>(&mut self, _hash: u64, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map
            .remove(&ByBorrow::<Q, K>(key, PhantomData))
            .is_some()
    }

    fn insert(&mut self, _hash: u64, key: K, slot: Slot<V>) {
        self.map.insert(key, slot);
    }

    fn evict_one(&mut self) -> bool {
        // Second chance: an entry hit since it was last here goes back to the young end.
        // After one pass every mark is cleared, so this ends within len + 1 steps.
        for _ in 0..=self.map.len() {
            let Some((key, mut slot)) = self.map.pop_oldest() else {
                return false;
            };
            if *slot.accessed.get_mut() {
                *slot.accessed.get_mut() = false;
                self.map.insert(key, slot);
                continue;
            }
            return true;
        }
        self.map.pop_oldest().is_some()
    }

    fn drop_expired_victim(&mut self, now: u64) -> bool {
        match self.map.peek_oldest() {
            Some((_, slot)) if is_expired(slot.expires, now) => self.map.pop_oldest().is_some(),
            _ => false,
        }
    }

    fn remove_expired(&mut self, now: u64) -> u64 {
        let dead: Vec<K> = self
            .map
            .iter()
            .filter(|(_, s)| is_expired(s.expires, now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &dead {
            self.map.remove(k);
        }
        dead.len() as u64
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn clear(&mut self) {
        self.map.clear();
    }

    fn keys(&self) -> Vec<K> {
        self.map.iter().map(|(k, _)| k.clone()).collect()
    }
}
