//! [`CacheStats`], and [`Counters`]: hit/miss counting that does not make threads contend.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

use serde::{Deserialize, Serialize};

use crate::Backend;

/// A snapshot of one cache's counters and state.
///
/// ```
/// use twat_cache_common::{Backend, CacheStats};
/// let s = CacheStats::new("geo", Backend::Lmdb);
/// assert_eq!(s.hit_ratio(), 0.0);
/// let json = serde_json::to_string(&s).unwrap();
/// assert!(json.contains("\"backend\":\"lmdb\""));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CacheStats {
    /// The cache's name (the decorated function's path, or the builder's `name`).
    pub name: String,
    /// The kind of cache: the engine that holds its entries, `"memory"`, `"lmdb"`, `"files"` or `"redis"` (one vocabulary in stats, manifests, the CLI and the docs).
    pub kind: String,
    /// The backend actually serving.
    pub backend: Backend,
    /// Lookups that returned a stored value (including callers that waited for another
    /// caller's computation).
    pub hits: u64,
    /// Lookups that found nothing usable.
    pub misses: u64,
    /// Values stored.
    pub inserts: u64,
    /// Entries dropped to respect `maxsize` / `max_bytes`.
    pub evictions: u64,
    /// Entries dropped because their ttl had passed.
    pub expired: u64,
    /// Entries stored now (for shared stores: in this cache's namespace, as far as known).
    pub entries: u64,
    /// Bytes stored (0 where the backend does not measure it).
    pub bytes: u64,
    /// The configured entry bound.
    pub maxsize: Option<u64>,
    /// The configured ttl in seconds.
    pub ttl_secs: Option<f64>,
    /// The folder of a persistent cache.
    pub folder: Option<PathBuf>,
    /// Why this cache serves from a fallback backend, if it does.
    pub fallback_reason: Option<String>,
    /// For `#[ucache]`: which engine was chosen and why.
    pub selection: Option<String>,
    /// Values that were computed (and returned) but could not be stored: full disk,
    /// read-only or deleted folder, full LMDB map, ... (0 for memory caches).
    #[serde(default)]
    pub write_errors: u64,
    /// Lookups that failed for a reason other than "not there" (permission denied, I/O
    /// error) and were served as misses.
    #[serde(default)]
    pub read_errors: u64,
    /// The most recent store problem the cache absorbed (a write or read error, a
    /// cross-process lock it could not take, its folder deleted while open), for humans.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Of the `hits`, those served by the memory tier in front of a store (`l1`).
    #[serde(default)]
    pub l1_hits: u64,
    /// Calls answered with an expired value (`stale_while_revalidate`, or
    /// `stale_if_error` after a failed recomputation).
    #[serde(default)]
    pub stale_served: u64,
    /// Stored values recomputed and replaced (in the background, early by XFetch, forced,
    /// or after expiry while a stale value was kept).
    #[serde(default)]
    pub refreshes: u64,
    /// Recomputations of a stored value that failed (`Err`/`None`, or a panic in the
    /// background).
    #[serde(default)]
    pub refresh_errors: u64,
}

impl CacheStats {
    /// Empty stats for a cache called `name` served by `backend`.
    ///
    /// ```
    /// use twat_cache_common::{Backend, CacheStats};
    /// let s = CacheStats::new("geo", Backend::Files);
    /// assert_eq!((s.name.as_str(), s.backend, s.hits, s.entries), ("geo", Backend::Files, 0, 0));
    /// assert!(s.kind.is_empty() && s.folder.is_none() && s.fallback_reason.is_none());
    /// ```
    pub fn new(name: impl Into<String>, backend: Backend) -> Self {
        CacheStats {
            name: name.into(),
            kind: String::new(),
            backend,
            hits: 0,
            misses: 0,
            inserts: 0,
            evictions: 0,
            expired: 0,
            entries: 0,
            bytes: 0,
            maxsize: None,
            ttl_secs: None,
            folder: None,
            fallback_reason: None,
            selection: None,
            write_errors: 0,
            read_errors: 0,
            last_error: None,
            l1_hits: 0,
            stale_served: 0,
            refreshes: 0,
            refresh_errors: 0,
        }
    }

    /// hits / (hits + misses), or 0 before the first lookup.
    ///
    /// ```
    /// use twat_cache_common::{Backend, CacheStats};
    /// let mut s = CacheStats::new("geo", Backend::Std);
    /// assert_eq!(s.hit_ratio(), 0.0);
    /// (s.hits, s.misses) = (3, 1);
    /// assert_eq!(s.hit_ratio(), 0.75);
    /// ```
    pub fn hit_ratio(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

const SLOTS: usize = 16;
const _: () = assert!(SLOTS.is_power_of_two(), "slot() masks with SLOTS - 1");

/// One cache line of counters, so that two threads in different slots never share a line.
#[derive(Default)]
#[repr(align(128))]
struct Slot {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    expired: AtomicU64,
}

/// Striped event counters: each thread increments its own cache line, and [`snapshot`]
/// adds them up. No single shared atomic is touched by every hit.
///
/// Written here rather than taken from a crate because it is twenty lines and the hit path
/// depends on it staying this small.
///
/// [`snapshot`]: Counters::snapshot
///
/// ```
/// use twat_cache_common::stats::Counters;
/// let c = Counters::default();
/// c.hit();
/// c.hit();
/// c.miss();
/// let s = c.snapshot();
/// assert_eq!((s.hits, s.misses), (2, 1));
/// ```
#[derive(Default)]
pub struct Counters {
    slots: Box<[Slot; SLOTS]>,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters")
            .field("totals", &self.snapshot())
            .finish()
    }
}

/// Totals read from [`Counters`].
///
/// ```
/// use twat_cache_common::stats::{Counters, Totals};
/// let c = Counters::default();
/// assert_eq!(c.snapshot(), Totals::default());
/// c.insert();
/// assert_eq!(c.snapshot(), Totals { inserts: 1, ..Totals::default() });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// See [`CacheStats::hits`].
    pub hits: u64,
    /// See [`CacheStats::misses`].
    pub misses: u64,
    /// See [`CacheStats::inserts`].
    pub inserts: u64,
    /// See [`CacheStats::evictions`].
    pub evictions: u64,
    /// See [`CacheStats::expired`].
    pub expired: u64,
}

#[inline]
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

#[inline]
fn slot_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    INDEX.with(|i| {
        let mut v = i.get();
        if v == usize::MAX {
            v = NEXT.fetch_add(1, Relaxed) % SLOTS;
            i.set(v);
        }
        v
    })
}

impl Counters {
    #[inline]
    fn slot(&self) -> &Slot {
        // The mask tells the compiler the index is in bounds (slot_index() < SLOTS).
        &self.slots[slot_index() & (SLOTS - 1)]
    }
    /// Counts a hit.
    ///
    /// A plain load and store, not a locked read-modify-write: the first 16 threads each own
    /// a slot, so nothing races; past 16 threads two may share a slot and a count can
    /// occasionally be lost. Stats are a measurement, and the hit path is worth more.
    ///
    /// ```
    /// let c = twat_cache_common::stats::Counters::default();
    /// c.hit();
    /// assert_eq!(c.snapshot().hits, 1);
    /// ```
    #[inline]
    pub fn hit(&self) {
        bump(&self.slot().hits, 1);
    }
    /// Counts a miss (same approximation as [`hit`](Self::hit) past 16 threads).
    ///
    /// ```
    /// let c = twat_cache_common::stats::Counters::default();
    /// c.miss();
    /// c.miss();
    /// assert_eq!((c.snapshot().misses, c.snapshot().hits), (2, 0));
    /// ```
    #[inline]
    pub fn miss(&self) {
        bump(&self.slot().misses, 1);
    }
    /// Counts a stored value.
    ///
    /// ```
    /// let c = twat_cache_common::stats::Counters::default();
    /// // Counted exactly, from any number of threads.
    /// std::thread::scope(|s| for _ in 0..4 { s.spawn(|| for _ in 0..100 { c.insert() }); });
    /// assert_eq!(c.snapshot().inserts, 400);
    /// ```
    #[inline]
    pub fn insert(&self) {
        self.slot().inserts.fetch_add(1, Relaxed);
    }
    /// Counts `n` evictions.
    ///
    /// ```
    /// let c = twat_cache_common::stats::Counters::default();
    /// c.evicted(3);
    /// c.evicted(0);
    /// assert_eq!(c.snapshot().evictions, 3);
    /// ```
    #[inline]
    pub fn evicted(&self, n: u64) {
        if n > 0 {
            self.slot().evictions.fetch_add(n, Relaxed);
        }
    }
    /// Counts `n` expired entries dropped.
    ///
    /// ```
    /// let c = twat_cache_common::stats::Counters::default();
    /// c.expired(2);
    /// assert_eq!(c.snapshot().expired, 2);
    /// ```
    #[inline]
    pub fn expired(&self, n: u64) {
        if n > 0 {
            self.slot().expired.fetch_add(n, Relaxed);
        }
    }
    /// Adds up every slot.
    ///
    /// ```
    /// let c = twat_cache_common::stats::Counters::default();
    /// c.hit(); // this thread's slot
    /// std::thread::scope(|s| { s.spawn(|| c.hit()); }); // another thread's
    /// assert_eq!(c.snapshot().hits, 2);
    /// ```
    pub fn snapshot(&self) -> Totals {
        let mut t = Totals::default();
        for s in self.slots.iter() {
            t.hits += s.hits.load(Relaxed);
            t.misses += s.misses.load(Relaxed);
            t.inserts += s.inserts.load(Relaxed);
            t.evictions += s.evictions.load(Relaxed);
            t.expired += s.expired.load(Relaxed);
        }
        t
    }
    /// Writes the totals into `stats`.
    ///
    /// ```
    /// use twat_cache_common::{Backend, CacheStats, stats::Counters};
    /// let c = Counters::default();
    /// c.hit();
    /// c.miss();
    /// c.insert();
    /// let mut s = CacheStats::new("geo", Backend::Std);
    /// c.fill(&mut s);
    /// assert_eq!((s.hits, s.misses, s.inserts, s.evictions), (1, 1, 1, 0));
    /// ```
    pub fn fill(&self, stats: &mut CacheStats) {
        let t = self.snapshot();
        stats.hits = t.hits;
        stats.misses = t.misses;
        stats.inserts = t.inserts;
        stats.evictions = t.evictions;
        stats.expired = t.expired;
    }
}

/// What kind of store problem [`StoreErrors::record`] is told about.
///
/// ```
/// use twat_cache_common::{Backend, CacheStats, stats::{Problem, StoreErrors}};
/// let errors = StoreErrors::default();
/// errors.record(Problem::Read, "demo", "permission denied");
/// errors.record(Problem::Other, "demo", "lock file refused"); // message only, not counted
/// let mut s = CacheStats::new("demo", Backend::Files);
/// errors.fill(&mut s);
/// assert_eq!((s.write_errors, s.read_errors), (0, 1));
/// assert_eq!(s.last_error.as_deref(), Some("lock file refused"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A computed value could not be stored (counted in [`CacheStats::write_errors`]).
    Write,
    /// A lookup failed with an error other than "not there" (counted in
    /// [`CacheStats::read_errors`]).
    Read,
    /// Anything else worth reporting: the cross-process lock could not be taken, the
    /// folder vanished, ... (only [`CacheStats::last_error`]).
    Other,
}

/// The store problems a persistent cache absorbed instead of failing the call: counts for
/// [`CacheStats::write_errors`] / [`CacheStats::read_errors`], the last message for
/// [`CacheStats::last_error`], and one `log::warn!` per kind of problem per cache (later
/// ones go to `log::debug!`), so a broken disk is visible without flooding the log.
///
/// Touched only when something failed: hits and successful stores never reach it.
///
/// ```
/// use twat_cache_common::stats::{Problem, StoreErrors};
/// use twat_cache_common::{Backend, CacheStats};
/// let errors = StoreErrors::default();
/// errors.record(Problem::Write, "twat-fcache: cache `t`", "cannot write /x: No space left on device");
/// errors.record(Problem::Write, "twat-fcache: cache `t`", "cannot write /y: No space left on device");
/// let mut s = CacheStats::new("t", Backend::Files);
/// errors.fill(&mut s);
/// assert_eq!((s.write_errors, s.read_errors), (2, 0));
/// assert!(s.last_error.unwrap().contains("/y"));
/// ```
#[derive(Debug, Default)]
pub struct StoreErrors {
    writes: AtomicU64,
    reads: AtomicU64,
    warned: [AtomicBool; 3],
    last: Mutex<Option<String>>,
}

impl StoreErrors {
    /// Counts a problem of `kind`, remembers `message`, and logs it: `log::warn!` the
    /// first time this kind happens (prefixed by `context`, e.g. `"twat-bcache: cache
    /// `geo`"`), `log::debug!` afterwards.
    ///
    /// ```
    /// use twat_cache_common::{Backend, CacheStats, stats::{Problem, StoreErrors}};
    /// let errors = StoreErrors::default();
    /// errors.record(Problem::Write, "twat-bcache: cache `geo`", format_args!("map full ({} pages)", 10));
    /// let mut s = CacheStats::new("geo", Backend::Lmdb);
    /// errors.fill(&mut s);
    /// assert_eq!(s.write_errors, 1);
    /// assert_eq!(s.last_error.as_deref(), Some("map full (10 pages)"));
    /// ```
    pub fn record(&self, kind: Problem, context: &str, message: impl std::fmt::Display) {
        let message = message.to_string();
        let (slot, what) = match kind {
            Problem::Write => {
                self.writes.fetch_add(1, Relaxed);
                (0, "value not stored")
            }
            Problem::Read => {
                self.reads.fetch_add(1, Relaxed);
                (1, "lookup failed, served as a miss")
            }
            Problem::Other => (2, "store problem"),
        };
        if !self.warned[slot].swap(true, Relaxed) {
            log::warn!(
                "{context}: {what}: {message} (results stay right; further problems of this \
                 kind are logged at debug level and counted in stats())"
            );
        } else {
            log::debug!("{context}: {what}: {message}");
        }
        *self.last.lock() = Some(message);
    }

    /// Writes the counts and the last message into `stats`.
    ///
    /// ```
    /// use twat_cache_common::{Backend, CacheStats, stats::StoreErrors};
    /// let mut s = CacheStats::new("geo", Backend::Files);
    /// StoreErrors::default().fill(&mut s); // nothing went wrong
    /// assert_eq!((s.write_errors, s.read_errors, s.last_error), (0, 0, None));
    /// ```
    pub fn fill(&self, stats: &mut CacheStats) {
        stats.write_errors = self.writes.load(Relaxed);
        stats.read_errors = self.reads.load(Relaxed);
        stats.last_error = self.last.lock().clone();
    }
}
