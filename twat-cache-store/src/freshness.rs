//! The freshness rules (`stale_while_revalidate`, `stale_if_error`, `early`, `tti`,
//! `ttl_of`, `force_refresh`) on [`PersistentCache`], once for every store.
//!
//! A cache with any of them writes each entry's payload as a 20-byte
//! [`Stamp`](twat_cache_common::freshness::Stamp) followed by the value's usual payload, under
//! its namespace's `stamped` variant: entries written without stamps (before the rules
//! were set, or by another build) live under the plain namespace and are never read as
//! stamped, nor the other way round. The store itself expires entries at the last stale
//! window's end (see [`Rules::store_ttl`]); the stamp says when they stop being fresh. The
//! logic is [`twat_cache_common::freshness`]'s, reached through [`StampedCache`].

use std::any::Any;
use std::hash::Hash;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_common::freshness::{
    FreshOps, Rules, Stamp, Stamped, StampedCache, get_or_compute, get_or_refresh,
};
use twat_cache_common::lockfile::KeyLock;
use twat_cache_common::stats::{Counters, Problem};
use twat_cache_common::{CacheError, SingleFlight};

use crate::cache::PersistentCache;
use crate::options::Options;
use crate::store::{Found, Payload, Store};
use crate::value::{decode_value, encode_value};

/// The tag of the namespace variant stamped entries are stored under.
pub const STAMPED_NAMESPACE: &str = "stamped1";

pub(crate) use twat_cache_common::freshness::FreshState;

impl Options {
    /// The typed freshness functions (`ttl_of`, `force_refresh`) a builder of
    /// `PersistentCache<_, K, V>` collected; created on first use.
    pub fn rules_mut<K: 'static, V: 'static>(&mut self) -> &mut Rules<K, V> {
        let any = self
            .fresh_fns
            .get_or_insert_with(|| Box::new(Rules::<K, V>::default()));
        if !any.is::<Rules<K, V>>() {
            *any = Box::new(Rules::<K, V>::default());
        }
        any.downcast_mut::<Rules<K, V>>()
            .expect("replaced by the right type just above")
    }

    /// Every freshness rule of these options, typed, with the logical `ttl`.
    pub(crate) fn take_rules<K: 'static, V: 'static>(&mut self) -> Rules<K, V> {
        let mut rules = self
            .fresh_fns
            .take()
            .and_then(|b| (b as Box<dyn Any>).downcast::<Rules<K, V>>().ok())
            .map(|b| *b)
            .unwrap_or_default();
        rules.ttl = self.ttl;
        rules.config = self.freshness;
        rules
    }
}

/// Decodes a stamped payload.
fn decode_stamped<V: DeserializeOwned + 'static>(p: Payload<'_>) -> Option<Stamped<V>> {
    match p {
        Payload::Serialized(s) => {
            let (stamp, rest) = Stamp::decode(s)?;
            let value = decode_value::<V>(Payload::Serialized(rest))?;
            Some(Stamped { stamp, value })
        }
        Payload::Bytes(_) => None,
    }
}

/// A [`PersistentCache`] serving from its store with freshness rules, seen by the shared
/// freshness paths.
pub(crate) struct View<S: Store, K, V>(pub(crate) PersistentCache<S, K, V>);

impl<S: Store, K, V> Clone for View<S, K, V> {
    fn clone(&self) -> Self {
        View(self.0.clone())
    }
}

impl<S, K, V> View<S, K, V>
where
    S: Store,
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn state(&self) -> &FreshState<K, V> {
        self.0
            .fresh_state()
            .expect("a View is made of a cache with rules")
    }

    fn store(&self) -> &S {
        self.0
            .serving_store()
            .expect("a View is made of a cache serving from its store")
    }
}

/// Reads the stamped entry of stored key `sk` (counting expiry and read errors, and
/// recording the read for LRU).
pub(crate) fn read_stamped_at<S, K, V>(
    cache: &PersistentCache<S, K, V>,
    store: &S,
    sk: &[u8],
) -> Option<Stamped<V>>
where
    S: Store,
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    match store.lookup(sk, false, |p, _| decode_stamped::<V>(p)) {
        Found::Hit(s) => {
            cache.record_read_of(sk);
            Some(s)
        }
        Found::Miss => None,
        Found::Expired => {
            cache.counters_ref().expired(1);
            None
        }
        Found::Failed(why) => {
            cache.note_problem(Problem::Read, why);
            None
        }
    }
}

/// Stores `value` with `stamp` under stored key `sk`.
pub(crate) fn write_stamped_at<S, K, V>(
    cache: &PersistentCache<S, K, V>,
    store: &S,
    sk: &[u8],
    value: &V,
    stamp: Stamp,
) where
    S: Store,
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    cache.put_payload(store, sk, |buf| {
        stamp.encode_into(buf);
        encode_value(value, buf).map_err(|e| CacheError::Encode {
            what: "value",
            message: e.to_string(),
        })
    });
}

impl<S, K, V> StampedCache<K, V> for View<S, K, V>
where
    S: Store,
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Claim = KeyLock;

    fn read_stamped(&self, key: &K) -> Option<Stamped<V>> {
        let sk = self.0.stored_key(key)?;
        read_stamped_at(&self.0, self.store(), &sk)
    }

    fn write_stamped(&self, key: &K, value: &V, stamp: Stamp) {
        if let Some(sk) = self.0.stored_key(key) {
            write_stamped_at(&self.0, self.store(), &sk, value, stamp);
        }
    }

    fn remove_dead(&self, key: &K) {
        if let Some(sk) = self.0.stored_key(key) {
            self.store().remove(&sk);
        }
    }

    fn claim(&self, key: &K) -> Option<KeyLock> {
        self.0.claim_key(&self.0.stored_key(key)?)
    }

    fn fresh_state(&self) -> &FreshState<K, V> {
        self.state()
    }

    fn counters(&self) -> &Counters {
        self.0.counters_ref()
    }

    fn flight(&self) -> &SingleFlight<K, V> {
        self.0.flight_ref()
    }

    fn context(&self) -> &str {
        self.0.context()
    }
}

impl<S, K, V> PersistentCache<S, K, V>
where
    S: Store,
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// The freshness path of `try_get_or_insert_with` (`None`: the cache has no rules or
    /// does not serve from its store, and `compute` is handed back).
    pub(crate) fn fresh_view(&self) -> Option<View<S, K, V>> {
        (self.fresh_state().is_some() && self.serving_store().is_some()).then(|| View(self.clone()))
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with), with a body that may run
    /// later: a value within `stale_while_revalidate` (or drawn for early recomputation
    /// by `early`) is returned at once, and `compute` refreshes it on the crate's
    /// background worker, once per key at a time (across processes too with `lock =
    /// true`: the refresh takes the key's lock and skips the work if another process
    /// refreshed it meanwhile). The stale value stays served until the new one is
    /// stored. On a miss, `compute` runs now, in the caller.
    pub fn get_or_refresh_with<F>(&self, key: K, compute: F) -> V
    where
        F: FnOnce() -> V + Send + 'static,
    {
        let Ok(v) =
            self.try_get_or_refresh_with(key, move || Ok::<V, std::convert::Infallible>(compute()));
        v
    }

    /// [`get_or_refresh_with`](Self::get_or_refresh_with) for fallible work: `Ok` values
    /// are stored; with `stale_if_error`, an `Err` while an expired value is within that
    /// window returns the expired value (logged and counted).
    pub fn try_get_or_refresh_with<E, F>(&self, key: K, compute: F) -> Result<V, E>
    where
        E: 'static,
        F: FnOnce() -> Result<V, E> + Send + 'static,
    {
        if let Some(m) = self.memory_fallback() {
            return m.try_get_or_refresh_with(key, compute);
        }
        match self.fresh_view() {
            Some(view) if self.stored_key(&key).is_some() => {
                get_or_refresh(&view, key, false, compute)
            }
            _ => self.try_get_or_insert_with(key, compute),
        }
    }

    /// The freshness paths of this cache, for a caller that drives the body itself
    /// (`AsyncCache`); `None` without rules.
    #[doc(hidden)]
    pub fn __fresh_ops(&self) -> Option<Box<dyn FreshOps<K, V>>> {
        if let Some(m) = self.memory_fallback() {
            return m.__fresh_ops();
        }
        self.fresh_view()
            .map(|v| Box::new(v) as Box<dyn FreshOps<K, V>>)
    }

    /// Runs `compute` now and stores its value over whatever is stored for `key` (what
    /// `force_refresh = <expr>` does when the expression is true).
    pub fn refresh_with(&self, key: K, compute: impl FnOnce() -> V) -> V {
        let Ok(v) = self.try_refresh_with(key, || Ok::<V, std::convert::Infallible>(compute()));
        v
    }

    /// [`refresh_with`](Self::refresh_with) for fallible work: an `Ok` replaces the stored
    /// value; an `Err` is returned and the stored value stays (with `stale_if_error`, the
    /// stored value is returned instead while it is within that window).
    pub fn try_refresh_with<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(m) = self.memory_fallback() {
            return m.try_refresh_with(key, compute);
        }
        match self.fresh_view() {
            Some(view) if self.stored_key(&key).is_some() => {
                get_or_compute(&view, key, true, compute)
            }
            _ => {
                let v = compute()?;
                self.insert(key, v.clone());
                Ok(v)
            }
        }
    }
}

/// `get` on a cache with rules: the fresh value of stored key `sk` (stale and idle
/// entries are misses here; only the `get_or_*` paths serve stale values). Counts a hit
/// or a miss, and records the read for `tti`. Out of line: the plain hit path pays only
/// the branch that leads here.
#[cold]
#[inline(never)]
pub(crate) fn get_fresh<S, K, V>(
    cache: &PersistentCache<S, K, V>,
    store: &S,
    sk: &[u8],
    rules: &Rules<K, V>,
) -> Option<V>
where
    S: Store,
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    use twat_cache_common::freshness::Verdict;
    let counters = cache.counters_ref();
    let Some(Stamped { stamp, value }) = read_stamped_at(cache, store, sk) else {
        counters.miss();
        return None;
    };
    let now = twat_cache_common::clock::unix_millis();
    match rules.judge(&stamp, now) {
        Verdict::Fresh | Verdict::Early => {
            counters.hit();
            if rules.needs_touch(&stamp, now) {
                write_stamped_at(cache, store, sk, &value, rules.touched(&stamp, now));
            }
            Some(value)
        }
        Verdict::Stale { .. } => {
            counters.miss();
            None
        }
        Verdict::Dead => {
            counters.expired(1);
            counters.miss();
            store.remove(sk);
            None
        }
    }
}

/// `insert` on a cache with rules: stamps `value` (run time unknown: 0).
pub(crate) fn insert_fresh<S, K, V>(
    cache: &PersistentCache<S, K, V>,
    store: &S,
    sk: &[u8],
    value: &V,
    rules: &Rules<K, V>,
) where
    S: Store,
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let stamp = rules.stamp(
        value,
        std::time::Duration::ZERO,
        twat_cache_common::clock::unix_millis(),
    );
    write_stamped_at(cache, store, sk, value, stamp);
}
