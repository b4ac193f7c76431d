//! The process-wide registry of caches: behind [`clear_all`], [`stats_all`], and the
//! background sweeper that keeps expired entries from piling up in idle caches.

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::CacheStats;

/// What the registry needs from a cache. Implemented by every cache type; users rarely
/// implement it, but may, to have their own caches reached by [`clear_all`].
///
/// ```
/// use std::sync::Arc;
/// use twat_cache_common::{Backend, CacheStats, registry::{self, ManagedCache}};
/// struct Nothing;
/// impl ManagedCache for Nothing {
///     fn stats(&self) -> CacheStats { CacheStats::new("nothing", Backend::Std) }
///     fn clear(&self) {}
/// }
/// let cache: Arc<dyn ManagedCache> = Arc::new(Nothing);
/// registry::register(&cache);
/// assert!(twat_cache_common::stats_all().iter().any(|s| s.name == "nothing"));
/// ```
pub trait ManagedCache: Send + Sync {
    /// A snapshot of the cache's stats.
    ///
    /// ```
    /// use twat_cache_common::{Backend, CacheStats, registry::ManagedCache};
    /// struct Fixed;
    /// impl ManagedCache for Fixed {
    ///     fn stats(&self) -> CacheStats {
    ///         let mut s = CacheStats::new("fixed", Backend::Std);
    ///         s.entries = 3;
    ///         s
    ///     }
    ///     fn clear(&self) {}
    /// }
    /// assert_eq!(Fixed.stats().entries, 3);
    /// ```
    fn stats(&self) -> CacheStats;
    /// Drops every entry of this cache (for a shared store: of this cache's namespace).
    ///
    /// [`clear_all`] calls it on every registered cache:
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicBool, Ordering}};
    /// use twat_cache_common::{Backend, CacheStats, registry::{self, ManagedCache}};
    /// struct Flag(AtomicBool);
    /// impl ManagedCache for Flag {
    ///     fn stats(&self) -> CacheStats { CacheStats::new("flag", Backend::Std) }
    ///     fn clear(&self) { self.0.store(true, Ordering::SeqCst) }
    /// }
    /// let flag = Arc::new(Flag(AtomicBool::new(false)));
    /// registry::register(&(flag.clone() as Arc<dyn ManagedCache>));
    /// twat_cache_common::clear_all();
    /// assert!(flag.0.load(Ordering::SeqCst));
    /// ```
    fn clear(&self);
    /// Drops expired entries; returns how many. Called by the background sweeper.
    ///
    /// The default drops nothing (a cache without a ttl has nothing to expire):
    ///
    /// ```
    /// use twat_cache_common::{Backend, CacheStats, registry::ManagedCache};
    /// struct NoTtl;
    /// impl ManagedCache for NoTtl {
    ///     fn stats(&self) -> CacheStats { CacheStats::new("no-ttl", Backend::Std) }
    ///     fn clear(&self) {}
    /// }
    /// assert_eq!(NoTtl.sweep_expired(), 0);
    /// ```
    fn sweep_expired(&self) -> u64 {
        0
    }
    /// How often the sweeper should call [`sweep_expired`](Self::sweep_expired); `None`
    /// (the default) for caches without a ttl.
    ///
    /// ```
    /// use std::time::Duration;
    /// use twat_cache_common::{Backend, CacheStats, registry::{ManagedCache, sweep_interval_for}};
    /// struct Ttl;
    /// impl ManagedCache for Ttl {
    ///     fn stats(&self) -> CacheStats { CacheStats::new("ttl", Backend::Std) }
    ///     fn clear(&self) {}
    ///     fn sweep_interval(&self) -> Option<Duration> { Some(sweep_interval_for(Duration::from_secs(10))) }
    /// }
    /// assert_eq!(Ttl.sweep_interval(), Some(Duration::from_secs(5)));
    /// ```
    fn sweep_interval(&self) -> Option<Duration> {
        None
    }
}

struct Registered {
    cache: Weak<dyn ManagedCache>,
    next_sweep: Option<Instant>,
    /// Whether `clear_all` and `stats_all` see it (false: visited by the sweeper only).
    listed: bool,
}

fn caches() -> &'static Mutex<Vec<Registered>> {
    static CACHES: OnceLock<Mutex<Vec<Registered>>> = OnceLock::new();
    CACHES.get_or_init(Default::default)
}

/// Wakes the sweeper when a cache registers, so a short interval takes effect at once.
static WAKE: Condvar = Condvar::new();

/// Adds a cache to the registry. The registry holds a weak reference: a dropped cache
/// disappears from it. Caches with a [`sweep_interval`](ManagedCache::sweep_interval)
/// start the background sweeper thread (one per process, started on first need).
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicU64, Ordering}};
/// use std::time::{Duration, Instant};
/// use twat_cache_common::{Backend, CacheStats, registry::{self, ManagedCache}};
/// struct Swept(AtomicU64);
/// impl ManagedCache for Swept {
///     fn stats(&self) -> CacheStats { CacheStats::new("swept", Backend::Std) }
///     fn clear(&self) {}
///     fn sweep_expired(&self) -> u64 { self.0.fetch_add(1, Ordering::SeqCst); 0 }
///     fn sweep_interval(&self) -> Option<Duration> { Some(Duration::from_millis(50)) }
/// }
/// let cache = Arc::new(Swept(AtomicU64::new(0)));
/// let dyn_cache: Arc<dyn ManagedCache> = cache.clone();
/// registry::register(&dyn_cache);
/// assert!(twat_cache_common::stats_all().iter().any(|s| s.name == "swept"));
/// // The background sweeper calls it soon.
/// let give_up = Instant::now() + Duration::from_secs(30);
/// while cache.0.load(Ordering::SeqCst) == 0 && Instant::now() < give_up {
///     std::thread::sleep(Duration::from_millis(10));
/// }
/// assert!(cache.0.load(Ordering::SeqCst) > 0);
/// // The registry holds it weakly: once dropped (and any sweep in progress has ended),
/// // it is gone.
/// drop((cache, dyn_cache));
/// let listed = || twat_cache_common::stats_all().iter().any(|s| s.name == "swept");
/// while listed() && Instant::now() < give_up {
///     std::thread::sleep(Duration::from_millis(10));
/// }
/// assert!(!listed());
/// ```
pub fn register(cache: &Arc<dyn ManagedCache>) {
    add(cache, true);
}

/// Has the background sweeper visit a cache that [`clear_all`] and [`stats_all`] must not
/// see (one built with `register(false)` that still needs its visits, e.g. to keep a
/// memory tier in step with its store).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use twat_cache_common::{Backend, CacheStats, registry::{self, ManagedCache}};
/// struct Quiet;
/// impl ManagedCache for Quiet {
///     fn stats(&self) -> CacheStats { CacheStats::new("quiet", Backend::Std) }
///     fn clear(&self) {}
///     fn sweep_interval(&self) -> Option<Duration> { Some(Duration::from_secs(1)) }
/// }
/// let cache: Arc<dyn ManagedCache> = Arc::new(Quiet);
/// registry::register_unlisted(&cache);
/// assert!(!twat_cache_common::stats_all().iter().any(|s| s.name == "quiet"));
/// ```
pub fn register_unlisted(cache: &Arc<dyn ManagedCache>) {
    add(cache, false);
}

fn add(cache: &Arc<dyn ManagedCache>, listed: bool) {
    let interval = cache.sweep_interval();
    let mut list = caches().lock();
    list.retain(|r| r.cache.strong_count() > 0);
    list.push(Registered {
        cache: Arc::downgrade(cache),
        next_sweep: interval.map(|i| Instant::now() + i),
        listed,
    });
    drop(list);
    // With feature `metrics` the sweeper also publishes every cache's counters.
    if interval.is_some() || cfg!(feature = "metrics") {
        start_sweeper();
        WAKE.notify_all();
    }
}

fn live() -> Vec<Arc<dyn ManagedCache>> {
    caches()
        .lock()
        .iter()
        .filter(|r| r.listed)
        .filter_map(|r| r.cache.upgrade())
        .collect()
}

/// Drops every entry of every registered cache in this process (the Python `clear_cache()`).
/// On-disk caches drop their own namespace's entries, on disk too.
///
/// ```
/// twat_cache_common::clear_all();
/// ```
pub fn clear_all() {
    for cache in live() {
        cache.clear();
    }
}

/// The stats of every registered cache in this process (the Python `get_stats()`).
///
/// ```
/// let all = twat_cache_common::stats_all();
/// let json = serde_json::to_string(&all).unwrap();
/// assert!(json.starts_with('['));
/// ```
pub fn stats_all() -> Vec<CacheStats> {
    let all: Vec<CacheStats> = live().iter().map(|c| c.stats()).collect();
    all.iter().for_each(crate::metrics::publish);
    all
}

/// With feature `metrics`, every listed cache's counters reach the recorder this often.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

const MIN_SWEEP: Duration = Duration::from_millis(50);
const MAX_SWEEP: Duration = Duration::from_secs(60);

/// Clamps a ttl-derived sweep interval to something sane (50 ms ..= 60 s).
///
/// Half the ttl, within those bounds:
///
/// ```
/// use std::time::Duration;
/// use twat_cache_common::registry::sweep_interval_for;
/// assert_eq!(sweep_interval_for(Duration::from_secs(10)), Duration::from_secs(5));
/// assert_eq!(sweep_interval_for(Duration::from_millis(1)), Duration::from_millis(50));
/// assert_eq!(sweep_interval_for(Duration::from_secs(3600)), Duration::from_secs(60));
/// ```
pub fn sweep_interval_for(ttl: Duration) -> Duration {
    (ttl / 2).clamp(MIN_SWEEP, MAX_SWEEP)
}

fn start_sweeper() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("twat-cache-sweeper".into())
            .spawn(sweeper_loop);
        if let Err(e) = spawned {
            log::warn!("twat-cache: no background sweeper ({e}); expired entries go when touched");
        }
    });
}

fn sweeper_loop() {
    let mut next_publish = Instant::now();
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        let mut next = now + MAX_SWEEP;
        if cfg!(feature = "metrics") {
            if next_publish <= now {
                stats_all(); // publishes
                next_publish = now + PUBLISH_EVERY;
            }
            next = next.min(next_publish);
        }
        {
            let mut list = caches().lock();
            list.retain(|r| r.cache.strong_count() > 0);
            for r in list.iter_mut() {
                let Some(at) = r.next_sweep else { continue };
                if at <= now {
                    if let Some(c) = r.cache.upgrade() {
                        let interval = c.sweep_interval().unwrap_or(MAX_SWEEP);
                        r.next_sweep = Some(now + interval);
                        next = next.min(now + interval);
                        due.push(c);
                    }
                } else {
                    next = next.min(at);
                }
            }
        }
        for cache in due {
            // A panicking sweep must not kill the sweeper for every other cache.
            let _ =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cache.sweep_expired()));
        }
        let mut list = caches().lock();
        let until = next.max(Instant::now() + MIN_SWEEP);
        let _ = WAKE.wait_until(&mut list, until);
    }
}
