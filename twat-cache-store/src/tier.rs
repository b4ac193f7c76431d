//! [`MemoryTier`]: the `l1` memory tier in front of a store.
//!
//! It is a [`MemoryCache`] (so an L1 hit costs what an `#[mcache]` hit costs) plus what
//! keeps it from ever serving a value the store no longer holds:
//!
//! - **Other processes** (and the CLI) change the store without telling us: the cache's
//!   sweeper visit reads the store's [`generation`](crate::Store::generation) at least ten
//!   times a second and empties the tier when it moved.
//! - **Races in this process**: a value read from the store (or written to it) just
//!   before a clear or a removal must not land in the tier after it. Every clear and
//!   removal bumps an epoch first; a fill notes the epoch before it touches the store and
//!   takes its value back out if the epoch moved meanwhile.
//!
//! Written here rather than taken from a crate: no cache crate offers a tier that another
//! process can invalidate, and the rule above is the whole of it.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use parking_lot::Mutex;
use twat_cache_common::clock::{now_nanos, unix_millis};
use twat_mcache::MemoryCache;

/// How often, at most, the sweeper visits a cache with a memory tier (which then reads
/// its store's generation): well within the promised second.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(100);

pub(crate) struct MemoryTier<K, V> {
    memory: MemoryCache<K, V>,
    /// Bumped before every clear and removal (see the module docs).
    epoch: AtomicU64,
    /// The store's generation when last looked at.
    seen: Mutex<Option<u64>>,
}

impl<K, V> MemoryTier<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A tier of at most `entries`, whose promoted entries expire no later than the
    /// store's (`ttl` is the cache's). `generation` is the store's now.
    pub(crate) fn new(
        name: &str,
        entries: usize,
        ttl: Option<Duration>,
        generation: Option<u64>,
    ) -> Self {
        let mut b = MemoryCache::builder()
            .name(format!("{name} (l1)"))
            .maxsize(entries)
            .register(false)
            .single_flight(false);
        if let Some(t) = ttl {
            b = b.ttl(t);
        }
        MemoryTier {
            memory: b
                .build()
                .expect("l1 > 0 and ttl were checked by Options::check"),
            epoch: AtomicU64::new(0),
            seen: Mutex::new(generation),
        }
    }

    /// The value held for `key`, if any (counted as an L1 hit).
    #[inline]
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.memory.get(key)
    }

    /// The epoch to hand to [`fill`](Self::fill), read before the store is.
    #[inline]
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(SeqCst)
    }

    /// Keeps `value` for `key` until `expires_ms` (wall-clock Unix ms; 0: the cache's ttl
    /// from now, or never without one), unless a clear or removal happened since `epoch`.
    pub(crate) fn fill(&self, key: &K, value: &V, expires_ms: u64, epoch: u64) {
        let deadline = match expires_ms {
            0 => 0,
            at => match at.checked_sub(unix_millis()) {
                None | Some(0) => return, // expired on the way
                Some(left) => now_nanos().saturating_add(left.saturating_mul(1_000_000)),
            },
        };
        if self.epoch() != epoch {
            return;
        }
        self.memory
            .insert_until(key.clone(), value.clone(), deadline);
        if self.epoch() != epoch {
            self.memory.remove(key);
        }
    }

    /// Forgets `key` (after the store removed it).
    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: ?Sized + Hash + Eq,
    {
        self.epoch.fetch_add(1, SeqCst);
        self.memory.remove(key);
    }

    /// Forgets everything (after the store was cleared, or changed elsewhere).
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, SeqCst);
        self.memory.clear();
    }

    /// Empties the tier if the store's generation moved since the last look.
    pub(crate) fn check(&self, generation: Option<u64>) {
        let mut seen = self.seen.lock();
        if *seen != generation {
            self.clear();
            *seen = generation;
        }
    }

    /// Hits served so far.
    pub(crate) fn hits(&self) -> u64 {
        self.memory.stats().hits
    }
}
