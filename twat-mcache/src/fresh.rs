//! The freshness side of a [`MemoryCache`](crate::MemoryCache): when any freshness rule is
//! set (`stale_while_revalidate`, `stale_if_error`, `early`, `tti`, `ttl_of`,
//! `force_refresh`), entries live here, each with its [`Stamp`], and the rules of
//! [`twat_cache_common::freshness`] decide what a lookup serves. A cache without them
//! never reaches this module.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use twat_cache_common::clock::{deadline, now_nanos, unix_millis};
use twat_cache_common::freshness::{FreshState, Rules, Stamp, Stamped, StampedCache, Verdict};
use twat_cache_common::stats::Counters;
use twat_cache_common::{CacheStats, Policy, SingleFlight};

use crate::MemoryCache;
use crate::shard::{Lookup, Slot};
use crate::store::MemoryStore;

/// A value with its stamp. The idle deadline (`tti`) is shared by every clone of the
/// entry, so a hit records itself with one atomic store, without rewriting the entry.
#[derive(Clone)]
pub(crate) struct Kept<V> {
    value: V,
    stamp: Stamp,
    idle_until: Option<Arc<AtomicU64>>,
}

impl<V> Kept<V> {
    fn stamp(&self) -> Stamp {
        Stamp {
            idle_until_ms: self.idle_until.as_ref().map_or(0, |a| a.load(Relaxed)),
            ..self.stamp
        }
    }
}

/// The entries and state of a cache with freshness rules.
pub(crate) struct FreshSide<K, V> {
    store: MemoryStore<K, Kept<V>>,
    pub(crate) state: FreshState<K, V>,
}

impl<K: Hash + Eq + Clone, V: Clone> FreshSide<K, V> {
    pub(crate) fn new(
        rules: Rules<K, V>,
        policy: Policy,
        maxsize: Option<usize>,
        force_std: bool,
    ) -> Self {
        FreshSide {
            store: MemoryStore::new(policy, maxsize, force_std),
            state: FreshState::new(rules),
        }
    }

    /// The fresh value of `key` (counted by the caller): expired, stale or idle entries
    /// are misses here (only the `get_or_*` paths serve stale values). Kept out of line:
    /// the plain hit path pays only the branch that leads here.
    #[cold]
    #[inline(never)]
    pub(crate) fn get<Q: ?Sized + Hash + Eq>(&self, key: &Q, counters: &Counters) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let kept = match self.store.get(key, now_nanos()) {
            Lookup::Hit(k) => k,
            Lookup::Miss(_) => {
                counters.miss();
                return None;
            }
            Lookup::Expired => {
                counters.expired(1);
                counters.miss();
                return None;
            }
        };
        let now = unix_millis();
        let stamp = kept.stamp();
        match self.state.rules.judge(&stamp, now) {
            Verdict::Fresh | Verdict::Early => {
                counters.hit();
                self.touch(&kept, &stamp, now);
                Some(kept.value)
            }
            Verdict::Stale { .. } => {
                counters.miss();
                None
            }
            Verdict::Dead => {
                counters.expired(1);
                counters.miss();
                self.store.remove(key);
                None
            }
        }
    }

    fn touch(&self, kept: &Kept<V>, stamp: &Stamp, now: u64) {
        if let Some(idle) = &kept.idle_until
            && self.state.rules.needs_touch(stamp, now)
        {
            idle.store(self.state.rules.touched(stamp, now).idle_until_ms, Relaxed);
        }
    }

    /// Stores `value` with `stamp` (inserts and evictions are counted in the shards).
    pub(crate) fn insert(&self, key: K, value: V, stamp: Stamp) {
        let horizon = self.state.rules.dead_at(&Stamp {
            idle_until_ms: 0,
            ..stamp
        });
        let expires = match horizon {
            0 => 0,
            h => deadline(Some(Duration::from_millis(
                h.saturating_sub(unix_millis()).max(1),
            ))),
        };
        let kept = Kept {
            value,
            stamp,
            idle_until: (stamp.idle_until_ms != 0)
                .then(|| Arc::new(AtomicU64::new(stamp.idle_until_ms))),
        };
        self.store
            .insert(key, Slot::new(kept, expires), now_nanos())
    }

    /// The stamp a value inserted directly (`insert`) gets.
    pub(crate) fn stamp_now(&self, value: &V) -> Stamp {
        self.state.rules.stamp(value, Duration::ZERO, unix_millis())
    }

    pub(crate) fn remove<Q: ?Sized + Hash + Eq>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.store.remove(key)
    }

    pub(crate) fn clear(&self) {
        self.store.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }

    pub(crate) fn remove_expired(&self) -> u64 {
        self.store.remove_expired(now_nanos())
    }

    pub(crate) fn fill(&self, stats: &mut CacheStats) {
        self.state.counters.fill(stats);
        let (inserts, evictions, expired) = self.store.tally();
        stats.inserts += inserts;
        stats.evictions += evictions;
        stats.expired += expired;
    }
}

/// A [`MemoryCache`] with a freshness side, seen by the shared freshness paths.
#[derive(Clone)]
pub(crate) struct Fresh<K, V>(pub(crate) MemoryCache<K, V>);

impl<K, V> Fresh<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn side(&self) -> &FreshSide<K, V> {
        self.0
            .fresh_side()
            .expect("a Fresh view is made of a cache with rules")
    }
}

impl<K, V> StampedCache<K, V> for Fresh<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    type Claim = ();

    fn read_stamped(&self, key: &K) -> Option<Stamped<V>> {
        match self.side().store.get(key, now_nanos()) {
            Lookup::Hit(k) => Some(Stamped {
                stamp: k.stamp(),
                value: k.value,
            }),
            Lookup::Expired => {
                self.0.counters().expired(1);
                None
            }
            Lookup::Miss(_) => None,
        }
    }

    fn write_stamped(&self, key: &K, value: &V, stamp: Stamp) {
        self.0.insert_stamped(key.clone(), value.clone(), stamp);
    }

    fn touch(&self, key: &K, _value: &V, stamp: Stamp) {
        let side = self.side();
        if let Some(kept) = side.store.peek(key)
            && let Some(idle) = &kept.idle_until
        {
            idle.store(stamp.idle_until_ms, Relaxed);
        }
    }

    fn remove_dead(&self, key: &K) {
        self.side().store.remove(key);
    }

    fn claim(&self, _key: &K) -> Option<()> {
        None
    }

    fn fresh_state(&self) -> &FreshState<K, V> {
        &self.side().state
    }

    fn counters(&self) -> &Counters {
        self.0.counters()
    }

    fn flight(&self) -> &SingleFlight<K, V> {
        self.0.flight()
    }

    fn context(&self) -> &str {
        self.0.name()
    }
}
