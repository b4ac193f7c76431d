//! The std-only shard: a `HashMap` into a slab of nodes on an intrusive list, serving LRU,
//! FIFO and LFU. It is the only implementation of LFU and FIFO, and the LRU fallback when
//! the `schnellru` feature is off.
//!
//! LRU and FIFO are O(1); LRU hits only mark the entry (under the shard's read lock) and
//! eviction gives marked entries a second chance, as the schnellru shard does. LFU keeps a `BTreeMap` ordered by (hits, age), so its hits and
//! inserts are O(log n); it evicts the entry with the fewest hits, the oldest first.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use twat_cache_common::Policy;
use twat_cache_common::clock::is_expired;

use crate::hasher::KeyHasher;
use crate::shard::{ShardMap, Slot};

const NIL: u32 = u32::MAX;

struct Node<K, V> {
    key: K,
    slot: Slot<V>,
    prev: u32,
    next: u32,
    /// LFU: (hits, sequence) — the node's key in `by_use`.
    rank: (u64, u64),
}

/// One std shard.
pub(crate) struct StdShard<K, V> {
    policy: Policy,
    index: HashMap<K, u32, KeyHasher>,
    nodes: Vec<Option<Node<K, V>>>,
    free: Vec<u32>,
    /// Oldest end of the list (next to evict for LRU/FIFO).
    head: u32,
    /// Newest end.
    tail: u32,
    by_use: BTreeMap<(u64, u64), u32>,
    seq: u64,
}

impl<K: Hash + Eq + Clone, V> StdShard<K, V> {
    pub(crate) fn new(policy: Policy, hasher: KeyHasher) -> Self {
        StdShard {
            policy,
            index: HashMap::with_hasher(hasher),
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            by_use: BTreeMap::new(),
            seq: 0,
        }
    }

    fn node(&self, i: u32) -> &Node<K, V> {
        self.nodes[i as usize].as_ref().expect("linked node exists")
    }

    fn node_mut(&mut self, i: u32) -> &mut Node<K, V> {
        self.nodes[i as usize].as_mut().expect("linked node exists")
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let n = self.node(i);
            (n.prev, n.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
    }

    fn push_back(&mut self, i: u32) {
        let tail = self.tail;
        {
            let n = self.node_mut(i);
            n.prev = tail;
            n.next = NIL;
        }
        if tail == NIL {
            self.head = i;
        } else {
            self.node_mut(tail).next = i;
        }
        self.tail = i;
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn touch(&mut self, i: u32) {
        match self.policy {
            Policy::Fifo => {}
            Policy::Lru => {
                if self.tail != i {
                    self.unlink(i);
                    self.push_back(i);
                }
            }
            Policy::Lfu => {
                let seq = self.next_seq();
                let old = self.node(i).rank;
                let new = (old.0 + 1, seq);
                self.by_use.remove(&old);
                self.by_use.insert(new, i);
                self.node_mut(i).rank = new;
            }
        }
    }

    fn take(&mut self, i: u32) -> Node<K, V> {
        self.unlink(i);
        let node = self.nodes[i as usize].take().expect("linked node exists");
        self.free.push(i);
        if self.policy == Policy::Lfu {
            self.by_use.remove(&node.rank);
        }
        self.index.remove(&node.key);
        node
    }

    fn victim(&mut self) -> Option<u32> {
        match self.policy {
            Policy::Lfu => self.by_use.values().next().copied(),
            Policy::Fifo => (self.head != NIL).then_some(self.head),
            Policy::Lru => {
                // Second chance for entries hit under the read lock since they were last here.
                for _ in 0..=self.index.len() {
                    let h = self.head;
                    if h == NIL {
                        return None;
                    }
                    let accessed = self.node_mut(h).slot.accessed.get_mut();
                    if !*accessed {
                        return Some(h);
                    }
                    *accessed = false;
                    self.unlink(h);
                    self.push_back(h);
                }
                (self.head != NIL).then_some(self.head)
            }
        }
    }
}

impl<K: Hash + Eq + Clone, V> ShardMap<K, V> for StdShard<K, V> {
    #[inline]
    fn get<Q: ?Sized + Hash + Eq>(&mut self, _hash: u64, key: &Q) -> Option<&mut Slot<V>>
    where
        K: Borrow<Q>,
    {
        let i = *self.index.get(key)?;
        self.touch(i);
        Some(&mut self.node_mut(i).slot)
    }

    fn peek<Q: ?Sized + Hash + Eq>(&self, _hash: u64, key: &Q) -> Option<&Slot<V>>
    where
        K: Borrow<Q>,
    {
        let i = *self.index.get(key)?;
        Some(&self.node(i).slot)
    }

    fn remove<Q: ?Sized + Hash + Eq>(&mut self, _hash: u64, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        match self.index.get(key) {
            Some(&i) => {
                self.take(i);
                true
            }
            None => false,
        }
    }

    fn insert(&mut self, _hash: u64, key: K, slot: Slot<V>) {
        if let Some(&i) = self.index.get(&key) {
            self.node_mut(i).slot = slot;
            self.touch(i);
            return;
        }
        let seq = self.next_seq();
        let node = Node {
            key: key.clone(),
            slot,
            prev: NIL,
            next: NIL,
            rank: (0, seq),
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = Some(node);
                i
            }
            None => {
                self.nodes.push(Some(node));
                u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 entries per shard")
            }
        };
        self.push_back(i);
        if self.policy == Policy::Lfu {
            self.by_use.insert((0, seq), i);
        }
        self.index.insert(key, i);
    }

    fn evict_one(&mut self) -> bool {
        match self.victim() {
            Some(i) => {
                self.take(i);
                true
            }
            None => false,
        }
    }

    fn drop_expired_victim(&mut self, now: u64) -> bool {
        // The oldest insert/use is the most likely to have expired, whatever the policy.
        if self.head != NIL && is_expired(self.node(self.head).slot.expires, now) {
            self.take(self.head);
            return true;
        }
        false
    }

    fn remove_expired(&mut self, now: u64) -> u64 {
        let dead: Vec<u32> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                n.as_ref()
                    .filter(|n| is_expired(n.slot.expires, now))
                    .map(|_| i as u32)
            })
            .collect();
        for &i in &dead {
            self.take(i);
        }
        dead.len() as u64
    }

    fn len(&self) -> usize {
        self.index.len()
    }

    fn clear(&mut self) {
        self.index.clear();
        self.nodes.clear();
        self.free.clear();
        self.by_use.clear();
        self.head = NIL;
        self.tail = NIL;
    }

    fn keys(&self) -> Vec<K> {
        self.index.keys().cloned().collect()
    }
}
