//! Freshness rules (DESIGN, "Freshness"), written once for every cache: what a stored
//! value's [`Stamp`] says about it now ([`Rules::judge`]), and the miss/refresh paths
//! ([`get_or_compute`]) that `MemoryCache`, `PersistentCache` (every store) and
//! `AsyncCache` run through the small [`StampedCache`] trait.
//!
//! A cache with any of `stale_while_revalidate`, `stale_if_error`, `early`, `tti` or
//! `ttl_of` keeps a [`Stamp`] beside each value: when it stops being fresh (its own ttl,
//! from `ttl_of` or `ttl`), until when it may idle (`tti`), and how long the body took to
//! compute it (for XFetch). The entry itself is kept until the last stale window closes.
//! A cache with none of them keeps no stamp and never enters this module on its hit path.

use std::any::type_name;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::clock::unix_millis;
use crate::error::ConfigError;
use crate::flight::SingleFlight;
use crate::refresh::{RefreshSet, spawn_refresh};
use crate::stats::{CacheStats, Counters};

/// `ttl_of`: one entry's ttl from its value; `None` uses the cache's `ttl`.
pub type TtlOf<V> = Hook<dyn Fn(&V) -> Option<Duration> + Send + Sync>;
/// `force_refresh` on a builder: when it returns true for a key, the body runs and its
/// result replaces the stored one.
pub type ForceRefresh<K> = Hook<dyn Fn(&K) -> bool + Send + Sync>;

/// A user function a cache keeps (`ttl_of`, `force_refresh`). A panic in it propagates
/// to the caller and leaves no cache state half-changed, so the cache stays
/// `UnwindSafe` whatever the function captures.
pub struct Hook<F: ?Sized>(pub Arc<F>);

impl<F: ?Sized> Clone for Hook<F> {
    fn clone(&self) -> Self {
        Hook(self.0.clone())
    }
}

impl<F: ?Sized> std::ops::Deref for Hook<F> {
    type Target = F;
    fn deref(&self) -> &F {
        &self.0
    }
}

impl<F: ?Sized> std::panic::UnwindSafe for Hook<F> {}
impl<F: ?Sized> std::panic::RefUnwindSafe for Hook<F> {}

/// The untyped freshness settings (durations and β), as builders and attributes give them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FreshnessConfig {
    /// `stale_while_revalidate`: for this long after expiry, serve and refresh behind.
    pub stale_while_revalidate: Option<Duration>,
    /// `stale_if_error`: for this long after expiry, an `Err` from recomputing serves the
    /// expired value instead.
    pub stale_if_error: Option<Duration>,
    /// `early`: XFetch's β (> 0; `early = true` is 1).
    pub early: Option<f64>,
    /// `tti`: an entry not read for this long expires.
    pub tti: Option<Duration>,
    /// Whether `ttl_of` is set (the function itself is typed: [`Rules::ttl_of`]).
    pub ttl_of: bool,
}

impl FreshnessConfig {
    /// Whether any rule that needs a [`Stamp`] beside each value is set.
    pub fn stamped(&self) -> bool {
        self.ttl_of
            || self.stale_while_revalidate.is_some()
            || self.stale_if_error.is_some()
            || self.early.is_some()
            || self.tti.is_some()
    }

    /// Checks the settings: durations positive, β a positive finite number, and the rules
    /// that act "after expiry" or "as expiry nears" given something that expires (`ttl`
    /// or `ttl_of`). The error names the field.
    ///
    /// ```
    /// use std::time::Duration;
    /// use twat_cache_common::freshness::FreshnessConfig;
    /// let ttl = Some(Duration::from_secs(60));
    /// let ok = FreshnessConfig { early: Some(1.0), ..Default::default() };
    /// assert!(ok.check(ttl).is_ok());
    /// let zero = FreshnessConfig { early: Some(0.0), ..Default::default() };
    /// assert_eq!(zero.check(ttl).unwrap_err().field(), "early");
    /// let no_ttl = FreshnessConfig { stale_if_error: Some(Duration::from_secs(5)), ..Default::default() };
    /// assert_eq!(no_ttl.check(None).unwrap_err().field(), "stale_if_error");
    /// ```
    pub fn check(&self, ttl: Option<Duration>) -> Result<(), ConfigError> {
        let expires = ttl.is_some() || self.ttl_of;
        for (field, d) in [
            ("stale_while_revalidate", self.stale_while_revalidate),
            ("stale_if_error", self.stale_if_error),
            ("tti", self.tti),
        ] {
            if let Some(d) = d {
                if d.is_zero() {
                    return Err(ConfigError::invalid(
                        field,
                        "0s",
                        "a positive duration (or leave it unset)",
                    ));
                }
                if field != "tti" && !expires {
                    return Err(ConfigError::invalid(
                        field,
                        format!("{d:?} without a ttl"),
                        "a window after expiry: set `ttl` (or `ttl_of`) too",
                    ));
                }
            }
        }
        if let Some(beta) = self.early {
            if !(beta.is_finite() && beta > 0.0) {
                return Err(ConfigError::invalid(
                    "early",
                    beta,
                    "true, or a β > 0 (1 is the usual; larger recomputes earlier)",
                ));
            }
            if !expires {
                return Err(ConfigError::invalid(
                    "early",
                    format!("{beta} without a ttl"),
                    "recomputation before expiry: set `ttl` (or `ttl_of`) too",
                ));
            }
        }
        Ok(())
    }
}

/// Every freshness setting of one cache, typed: what builders collect and caches judge by.
pub struct Rules<K, V> {
    /// The cache's `ttl` (the default of `ttl_of`).
    pub ttl: Option<Duration>,
    /// The untyped settings.
    pub config: FreshnessConfig,
    /// `ttl_of`.
    pub ttl_of: Option<TtlOf<V>>,
    /// `force_refresh` (builder form: a predicate over the key).
    pub force_refresh: Option<ForceRefresh<K>>,
}

impl<K, V> Default for Rules<K, V> {
    fn default() -> Self {
        Rules {
            ttl: None,
            config: FreshnessConfig::default(),
            ttl_of: None,
            force_refresh: None,
        }
    }
}

impl<K, V> Clone for Rules<K, V> {
    fn clone(&self) -> Self {
        Rules {
            ttl: self.ttl,
            config: self.config,
            ttl_of: self.ttl_of.clone(),
            force_refresh: self.force_refresh.clone(),
        }
    }
}

impl<K, V> fmt::Debug for Rules<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("ttl", &self.ttl)
            .field("config", &self.config)
            .field("ttl_of", &self.ttl_of.is_some())
            .field("force_refresh", &self.force_refresh.is_some())
            .finish()
    }
}

/// A tti entry's idle deadline is its last recorded read + tti + this grace; a read is
/// recorded (the entry rewritten) only when the last record is older than the grace. So a
/// read within tti never lets it idle out, and one unread for tti + 1 s is gone, while a
/// hot entry costs at most one write a second.
pub const TTI_GRACE_MS: u64 = 1000;

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u64::MAX as u128) as u64
}

impl<K, V> Rules<K, V> {
    /// Whether values carry a [`Stamp`].
    pub fn stamped(&self) -> bool {
        self.config.stamped() || self.ttl_of.is_some()
    }

    /// Whether anything at all is set (stamps or `force_refresh`).
    pub fn active(&self) -> bool {
        self.stamped() || self.force_refresh.is_some()
    }

    /// Checks the settings (see [`FreshnessConfig::check`]).
    pub fn check(&self) -> Result<(), ConfigError> {
        self.config.check(self.ttl)
    }

    /// The widest window after expiry during which an entry is still useful.
    fn stale_window_ms(&self) -> u64 {
        let c = &self.config;
        c.stale_while_revalidate.max(c.stale_if_error).map_or(0, ms)
    }

    /// The ttl the store itself enforces for stamped entries (they stay until their last
    /// stale window closes): `ttl` + the widest stale window, or `None` (entries expire by
    /// their stamp only) when `ttl_of` or `tti` make expiry per entry.
    pub fn store_ttl(&self) -> Option<Duration> {
        if self.ttl_of.is_some() || self.config.tti.is_some() {
            return None;
        }
        self.ttl
            .map(|t| t.saturating_add(Duration::from_millis(self.stale_window_ms())))
    }

    /// The stamp of `value`, computed in `took`, stored at `now_ms` (Unix ms).
    pub fn stamp(&self, value: &V, took: Duration, now_ms: u64) -> Stamp {
        let ttl = self.ttl_of.as_ref().and_then(|f| f(value)).or(self.ttl);
        Stamp {
            fresh_until_ms: ttl.map_or(0, |t| now_ms.saturating_add(ms(t)).max(1)),
            idle_until_ms: self.idle_until(now_ms),
            compute_us: took.as_micros().min(u32::MAX as u128) as u32,
        }
    }

    fn idle_until(&self, now_ms: u64) -> u64 {
        self.config.tti.map_or(0, |d| {
            now_ms.saturating_add(ms(d)).saturating_add(TTI_GRACE_MS)
        })
    }

    /// When the entry is of no use any more (Unix ms; 0 = never): its stale horizon, or
    /// its idle deadline if earlier.
    pub fn dead_at(&self, stamp: &Stamp) -> u64 {
        let horizon = match stamp.fresh_until_ms {
            0 => 0,
            f => f.saturating_add(self.stale_window_ms()),
        };
        match (horizon, stamp.idle_until_ms) {
            (0, i) | (i, 0) => i,
            (h, i) => h.min(i),
        }
    }

    /// What the stamp says at `now_ms`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use twat_cache_common::freshness::{Rules, Stamp, Verdict};
    /// let mut rules = Rules::<u32, u32>::default();
    /// rules.ttl = Some(Duration::from_secs(10));
    /// rules.config.stale_if_error = Some(Duration::from_secs(5));
    /// let s = rules.stamp(&1, Duration::ZERO, 1_000);
    /// assert_eq!(rules.judge(&s, 1_000), Verdict::Fresh);
    /// assert_eq!(rules.judge(&s, 12_000), Verdict::Stale { revalidate: false, if_error: true });
    /// assert_eq!(rules.judge(&s, 16_000), Verdict::Dead);
    /// ```
    pub fn judge(&self, stamp: &Stamp, now_ms: u64) -> Verdict {
        if stamp.idle_until_ms != 0 && stamp.idle_until_ms <= now_ms {
            return Verdict::Dead;
        }
        let fresh_until = stamp.fresh_until_ms;
        if fresh_until == 0 || now_ms < fresh_until {
            if let Some(beta) = self.config.early
                && fresh_until != 0
                && xfetch(stamp.compute_us, beta, fresh_until - now_ms)
            {
                return Verdict::Early;
            }
            return Verdict::Fresh;
        }
        let late = now_ms - fresh_until;
        let within = |d: Option<Duration>| d.is_some_and(|d| late < ms(d));
        let revalidate = within(self.config.stale_while_revalidate);
        let if_error = within(self.config.stale_if_error);
        if revalidate || if_error {
            Verdict::Stale {
                revalidate,
                if_error,
            }
        } else {
            Verdict::Dead
        }
    }

    /// Whether a read at `now_ms` should be recorded (the entry rewritten) for `tti`.
    pub fn needs_touch(&self, stamp: &Stamp, now_ms: u64) -> bool {
        self.config.tti.is_some_and(|d| {
            // idle_until = last record + tti + grace: the record is older than the grace.
            stamp.idle_until_ms.saturating_sub(ms(d)) < now_ms
        })
    }

    /// The stamp after a read at `now_ms` was recorded.
    pub fn touched(&self, stamp: &Stamp, now_ms: u64) -> Stamp {
        Stamp {
            idle_until_ms: self.idle_until(now_ms),
            ..*stamp
        }
    }
}

/// XFetch (Vattani, Chierichetti, Lowenstein, VLDB 2015): recompute now when
/// `δ·β·(−ln U) ≥ time left`, with δ the body's run time and U uniform in (0, 1].
fn xfetch(compute_us: u32, beta: f64, left_ms: u64) -> bool {
    let u = 1.0 - fastrand::f64(); // (0, 1]
    let delta_ms = f64::from(compute_us) / 1000.0;
    delta_ms * beta * -u.ln() >= left_ms as f64
}

/// What a stored value is worth now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Fresh,
    /// Serve it, but XFetch drew a recomputation now.
    Early,
    /// Expired, within a stale window: `revalidate` (serve now, refresh behind) and/or
    /// `if_error` (serve if recomputing fails).
    Stale {
        /// Within `stale_while_revalidate`.
        revalidate: bool,
        /// Within `stale_if_error`.
        if_error: bool,
    },
    /// Of no use: a miss.
    Dead,
}

/// What a cache keeps beside a value for the freshness rules. Encoded in
/// [`STAMP_LEN`] bytes in front of a persistent entry's payload.
///
/// ```
/// use twat_cache_common::freshness::Stamp;
/// let s = Stamp { fresh_until_ms: 5, idle_until_ms: 0, compute_us: 7 };
/// let mut buf = Vec::new();
/// s.encode_into(&mut buf);
/// buf.extend_from_slice(b"payload");
/// assert_eq!(Stamp::decode(&buf), Some((s, &b"payload"[..])));
/// assert_eq!(Stamp::decode(&buf[..3]), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stamp {
    /// When the value stops being fresh (Unix ms; 0 = never).
    pub fresh_until_ms: u64,
    /// When it idles out unless read (Unix ms; 0 = no `tti`).
    pub idle_until_ms: u64,
    /// How long the body took to compute it (µs), for XFetch.
    pub compute_us: u32,
}

/// Bytes of an encoded [`Stamp`].
pub const STAMP_LEN: usize = 20;

impl Stamp {
    /// Appends the 20-byte little-endian encoding.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.fresh_until_ms.to_le_bytes());
        out.extend_from_slice(&self.idle_until_ms.to_le_bytes());
        out.extend_from_slice(&self.compute_us.to_le_bytes());
    }

    /// The stamp at the start of `bytes`, and the rest.
    pub fn decode(bytes: &[u8]) -> Option<(Stamp, &[u8])> {
        if bytes.len() < STAMP_LEN {
            return None;
        }
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8"));
        let stamp = Stamp {
            fresh_until_ms: u64_at(0),
            idle_until_ms: u64_at(8),
            compute_us: u32::from_le_bytes(bytes[16..20].try_into().expect("4")),
        };
        Some((stamp, &bytes[STAMP_LEN..]))
    }
}

/// A value and its stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped<V> {
    /// The stamp.
    pub stamp: Stamp,
    /// The value.
    pub value: V,
}

/// The freshness counters of one cache (kept apart from the hit path's [`Counters`]).
#[derive(Debug, Default)]
pub struct FreshCounters {
    stale_served: AtomicU64,
    refreshes: AtomicU64,
    refresh_errors: AtomicU64,
}

impl FreshCounters {
    /// A stale value was returned.
    pub fn stale_served(&self) {
        self.stale_served.fetch_add(1, Relaxed);
    }
    /// A value was recomputed and replaced while an older one was stored.
    pub fn refreshed(&self) {
        self.refreshes.fetch_add(1, Relaxed);
    }
    /// A recomputation failed (returned `Err`/`None` or panicked).
    pub fn refresh_failed(&self) {
        self.refresh_errors.fetch_add(1, Relaxed);
    }
    /// Writes the totals into `stats`.
    pub fn fill(&self, stats: &mut CacheStats) {
        stats.stale_served = self.stale_served.load(Relaxed);
        stats.refreshes = self.refreshes.load(Relaxed);
        stats.refresh_errors = self.refresh_errors.load(Relaxed);
    }
}

/// What every cache with rules keeps besides its entries: the rules, their counters, and
/// the keys being refreshed. Held once by each cache (memory or persistent) and reached
/// through [`StampedCache::fresh_state`].
pub struct FreshState<K, V> {
    /// The rules.
    pub rules: Rules<K, V>,
    /// `stale_served`, `refreshes`, `refresh_errors`.
    pub counters: FreshCounters,
    /// Keys being refreshed in the background or early.
    pub refreshing: RefreshSet<K>,
}

impl<K, V> FreshState<K, V> {
    /// The state of a cache with `rules`, before any call.
    pub fn new(rules: Rules<K, V>) -> Self {
        FreshState {
            rules,
            counters: FreshCounters::default(),
            refreshing: RefreshSet::default(),
        }
    }
}

/// What the freshness paths need of a cache: raw stamped reads and writes, and its
/// shared parts. Implemented by `MemoryCache` and `PersistentCache` (for every store);
/// cheap to clone (an `Arc`), so a background refresh can own one.
pub trait StampedCache<K, V>: Clone + Send + Sync + 'static {
    /// A cross-process claim held while recomputing (`lock = true`), or `()`.
    type Claim;
    /// The stamped value of `key`, if physically present (no counting, no judging).
    fn read_stamped(&self, key: &K) -> Option<Stamped<V>>;
    /// Stores `value` with `stamp` (counted as an insert).
    fn write_stamped(&self, key: &K, value: &V, stamp: Stamp);
    /// Records a read of `key` for `tti`: `stamp` is the entry's stamp with its new idle
    /// deadline (by default the entry is rewritten).
    fn touch(&self, key: &K, value: &V, stamp: Stamp) {
        self.write_stamped(key, value, stamp);
    }
    /// Removes the entry of `key` (it is of no use any more).
    fn remove_dead(&self, key: &K);
    /// `lock = true`: the cross-process claim of `key` (may block).
    fn claim(&self, key: &K) -> Option<Self::Claim>;
    /// The rules, their counters and the keys being refreshed.
    fn fresh_state(&self) -> &FreshState<K, V>;
    /// The rules.
    fn rules<'a>(&'a self) -> &'a Rules<K, V>
    where
        K: 'a,
        V: 'a,
    {
        &self.fresh_state().rules
    }
    /// Hit/miss counters.
    fn counters(&self) -> &Counters;
    /// Freshness counters.
    fn fresh_counters<'a>(&'a self) -> &'a FreshCounters
    where
        K: 'a,
        V: 'a,
    {
        &self.fresh_state().counters
    }
    /// The in-process single-flight of misses.
    fn flight(&self) -> &SingleFlight<K, V>;
    /// Keys being refreshed in the background or early.
    fn refreshing<'a>(&'a self) -> &'a RefreshSet<K>
    where
        K: 'a,
        V: 'a,
    {
        &self.fresh_state().refreshing
    }
    /// The log-line prefix.
    fn context(&self) -> &str;
}

/// Where a stamped lookup leaves a call.
#[derive(Debug)]
pub enum Plan<V> {
    /// Return this value.
    Serve(V),
    /// Return this value and refresh it behind (stale_while_revalidate, or XFetch when a
    /// background body is available).
    ServeAndRefresh(V),
    /// Recompute now, outside single-flight (forced or XFetch): `old` is served if that
    /// fails while it is still usable.
    Recompute {
        /// The stored value, and whether it is still usable (not past every window).
        old: Option<(V, bool)>,
    },
    /// A miss: compute through single-flight; `stale` (within `stale_if_error`) is served
    /// if that fails.
    Miss {
        /// The expired value within `stale_if_error`.
        stale: Option<V>,
    },
}

/// Where a lookup of `key` leaves the call: judges the stored stamp, counts hits and
/// misses, records `tti` reads, drops dead entries.
pub fn plan<K: Hash + Eq + Clone, V: Clone, C: StampedCache<K, V>>(
    cache: &C,
    key: &K,
    force: bool,
    background: bool,
) -> Plan<V> {
    let rules = cache.rules();
    let force = force || rules.force_refresh.as_ref().is_some_and(|f| f(key));
    let now = unix_millis();
    let found = cache.read_stamped(key);
    let counters = cache.counters();
    if force {
        counters.miss();
        return Plan::Recompute {
            old: found.map(|s| {
                let usable = !matches!(rules.judge(&s.stamp, now), Verdict::Dead);
                (s.value, usable)
            }),
        };
    }
    let Some(Stamped { stamp, value }) = found else {
        counters.miss();
        return Plan::Miss { stale: None };
    };
    match rules.judge(&stamp, now) {
        Verdict::Fresh => {
            counters.hit();
            if rules.needs_touch(&stamp, now) {
                cache.touch(key, &value, rules.touched(&stamp, now));
            }
            Plan::Serve(value)
        }
        Verdict::Early => {
            if cache.refreshing().contains(key) {
                counters.hit();
                Plan::Serve(value)
            } else if background {
                counters.hit();
                Plan::ServeAndRefresh(value)
            } else {
                counters.miss();
                Plan::Recompute {
                    old: Some((value, true)),
                }
            }
        }
        Verdict::Stale {
            revalidate,
            if_error,
        } => {
            if revalidate && background {
                counters.hit();
                cache.fresh_counters().stale_served();
                return Plan::ServeAndRefresh(value);
            }
            counters.miss();
            counters.expired(1);
            Plan::Miss {
                stale: if_error.then_some(value),
            }
        }
        Verdict::Dead => {
            counters.expired(1);
            counters.miss();
            cache.remove_dead(key);
            Plan::Miss { stale: None }
        }
    }
}

/// Runs `compute`, timing it.
fn timed<V, E>(compute: impl FnOnce() -> Result<V, E>) -> (Result<V, E>, Duration) {
    let t0 = Instant::now();
    let r = compute();
    (r, t0.elapsed())
}

fn store<K, V, C: StampedCache<K, V>>(cache: &C, key: &K, value: &V, took: Duration) {
    let stamp = cache.rules().stamp(value, took, unix_millis());
    cache.write_stamped(key, value, stamp);
}

fn served_after_error<K, V, C: StampedCache<K, V>, E>(cache: &C, stale: V) -> V {
    after_error(cache.fresh_counters(), cache.context(), type_name::<E>());
    stale
}

fn after_error(fc: &FreshCounters, context: &str, error_type: &str) {
    fc.refresh_failed();
    fc.stale_served();
    log::warn!(
        "{context}: recomputing failed (an `Err` of type {error_type}); serving the expired \
         value (stale_if_error)"
    );
}

/// The freshness paths seen through an object-safe face, for callers that drive the
/// computation themselves (`AsyncCache` awaits its body between these steps).
pub trait FreshOps<K: Hash + Eq, V>: Send + Sync {
    /// Where a lookup of `key` leaves the call (counts hits and misses).
    fn plan(&self, key: &K, force: bool, background: bool) -> Plan<V>;
    /// The stored value of `key` if fresh (for single-flight rechecks; not counted).
    fn fresh(&self, key: &K) -> Option<V>;
    /// Stores a value the body computed in `took`.
    fn store(&self, key: &K, value: &V, took: Duration);
    /// Whether `stale_if_error` is set.
    fn stale_if_error(&self) -> bool;
    /// Counts (and logs) a failed recomputation answered with the stale value.
    fn served_stale_after_error(&self, error_type: &str);
    /// Counts a stored refresh.
    fn refreshed(&self);
    /// Counts a failed refresh.
    fn refresh_failed(&self);
    /// The ticket for refreshing `key` outside single-flight, if none is out.
    fn begin_refresh(&self, key: &K) -> Option<crate::refresh::Ticket<K>>;
}

impl<K, V, C> FreshOps<K, V> for C
where
    K: Hash + Eq + Clone,
    V: Clone,
    C: StampedCache<K, V>,
{
    fn plan(&self, key: &K, force: bool, background: bool) -> Plan<V> {
        plan(self, key, force, background)
    }
    fn fresh(&self, key: &K) -> Option<V> {
        let s = self.read_stamped(key)?;
        matches!(self.rules().judge(&s.stamp, unix_millis()), Verdict::Fresh).then_some(s.value)
    }
    fn store(&self, key: &K, value: &V, took: Duration) {
        store(self, key, value, took);
    }
    fn stale_if_error(&self) -> bool {
        self.rules().config.stale_if_error.is_some()
    }
    fn served_stale_after_error(&self, error_type: &str) {
        after_error(self.fresh_counters(), self.context(), error_type);
    }
    fn refreshed(&self) {
        self.fresh_counters().refreshed();
    }
    fn refresh_failed(&self) {
        self.fresh_counters().refresh_failed();
    }
    fn begin_refresh(&self, key: &K) -> Option<crate::refresh::Ticket<K>> {
        self.refreshing().begin(key)
    }
}

/// The value for `key`: stored and fresh, or computed by `compute` (through
/// single-flight) and stored, by every rule of [`Rules`]. `force`: recompute and replace
/// whatever is stored (`force_refresh`). Synchronous: `compute` never outlives the call,
/// so a value within `stale_while_revalidate` only is recomputed now.
pub fn get_or_compute<K, V, C, E>(
    cache: &C,
    key: K,
    force: bool,
    compute: impl FnOnce() -> Result<V, E>,
) -> Result<V, E>
where
    K: Hash + Eq + Clone,
    V: Clone,
    C: StampedCache<K, V>,
{
    match plan(cache, &key, force, false) {
        Plan::Serve(v) | Plan::ServeAndRefresh(v) => Ok(v),
        Plan::Recompute { old } => recompute(cache, &key, old, compute),
        Plan::Miss { stale } => miss(cache, key, stale, compute),
    }
}

/// [`get_or_compute`] with a body that may run later, on the refresh worker: a value
/// within `stale_while_revalidate` (or drawn by XFetch) is returned at once and
/// `compute` refreshes it behind, once per key at a time. `spawn` hands the job to a
/// runner (`None`: [`spawn_refresh`], the crate's worker).
pub fn get_or_refresh<K, V, C, E, F>(cache: &C, key: K, force: bool, compute: F) -> Result<V, E>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
    C: StampedCache<K, V>,
    E: 'static,
    F: FnOnce() -> Result<V, E> + Send + 'static,
{
    match plan(cache, &key, force, true) {
        Plan::Serve(v) => Ok(v),
        Plan::ServeAndRefresh(v) => {
            if let Some(job) = refresh_job(cache, key, compute) {
                spawn_refresh(job);
            }
            Ok(v)
        }
        Plan::Recompute { old } => recompute(cache, &key, old, compute),
        Plan::Miss { stale } => miss(cache, key, stale, compute),
    }
}

/// The background refresh of `key` by `compute`, or `None` if one is already running
/// for it. The job holds the key's refresh ticket (and, with `lock = true`, the
/// cross-process claim), skips the work if another process refreshed the value
/// meanwhile, and stores the new value over the stale one (which stays served until
/// then).
pub fn refresh_job<K, V, C, E, F>(cache: &C, key: K, compute: F) -> Option<Box<dyn FnOnce() + Send>>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + 'static,
    C: StampedCache<K, V>,
    E: 'static,
    F: FnOnce() -> Result<V, E> + Send + 'static,
{
    let ticket = cache.refreshing().begin(&key)?;
    let seen = cache.read_stamped(&key).map(|s| s.stamp);
    let cache = cache.clone();
    Some(Box::new(move || {
        let _ticket = ticket;
        let claim = cache.claim(&key);
        if claim.is_some()
            && let Some(now) = cache.read_stamped(&key)
            && Some(now.stamp) != seen
            && matches!(
                cache.rules().judge(&now.stamp, unix_millis()),
                Verdict::Fresh
            )
        {
            return; // another process refreshed it while we waited for the claim
        }
        match timed(compute) {
            (Ok(v), took) => {
                store(&cache, &key, &v, took);
                cache.fresh_counters().refreshed();
            }
            (Err(_), _) => {
                cache.fresh_counters().refresh_failed();
                log::warn!(
                    "{}: background refresh failed (an `Err` of type {}); the stored value \
                     stays until its stale window closes",
                    cache.context(),
                    type_name::<E>()
                );
            }
        }
        drop(claim);
    }))
}

fn recompute<K, V, C, E>(
    cache: &C,
    key: &K,
    old: Option<(V, bool)>,
    compute: impl FnOnce() -> Result<V, E>,
) -> Result<V, E>
where
    K: Hash + Eq + Clone,
    V: Clone,
    C: StampedCache<K, V>,
{
    let ticket = cache.refreshing().begin(key);
    let (r, took) = timed(compute);
    drop(ticket);
    match r {
        Ok(v) => {
            store(cache, key, &v, took);
            if old.is_some() {
                cache.fresh_counters().refreshed();
            }
            Ok(v)
        }
        Err(e) => match old {
            Some((v, true)) if cache.rules().config.stale_if_error.is_some() => {
                Ok(served_after_error::<K, V, C, E>(cache, v))
            }
            _ => {
                if old.is_some() {
                    cache.fresh_counters().refresh_failed();
                }
                Err(e)
            }
        },
    }
}

fn miss<K, V, C, E>(
    cache: &C,
    key: K,
    stale: Option<V>,
    compute: impl FnOnce() -> Result<V, E>,
) -> Result<V, E>
where
    K: Hash + Eq + Clone,
    V: Clone,
    C: StampedCache<K, V>,
{
    let recheck = || {
        let s = cache.read_stamped(&key)?;
        matches!(cache.rules().judge(&s.stamp, unix_millis()), Verdict::Fresh).then_some(s.value)
    };
    let took = std::cell::Cell::new(Duration::ZERO);
    let had_stale = stale.is_some();
    let r = cache.flight().run_claimed(
        &key,
        recheck,
        || cache.claim(&key),
        || {
            let (r, t) = timed(compute);
            took.set(t);
            r
        },
        |v| store(cache, &key, v, took.get()),
    );
    match (r, stale) {
        (Ok(v), _) => {
            if had_stale {
                cache.fresh_counters().refreshed();
            }
            Ok(v)
        }
        (Err(_), Some(old)) => Ok(served_after_error::<K, V, C, E>(cache, old)),
        (Err(e), None) => Err(e),
    }
}

/// The freshness setters every builder shares, named after the decorator attributes.
/// Expand inside `impl<K, V> XBuilder<K, V>` (with `K`, `V` the cache's types):
/// `config` is a place of type [`FreshnessConfig`], `rules` one of type [`Rules<K, V>`],
/// both written in terms of `this` (`&mut` the builder).
#[doc(hidden)]
#[macro_export]
macro_rules! freshness_builder_methods {
    ($this:ident => config: $config:expr, rules: $rules:expr) => {
        /// For this long after an entry expires (its `ttl`), a lookup whose body can run
        /// later (`get_or_refresh_with`, what the decorators use) returns
        /// the expired value at once and recomputes it on a background worker: once per
        /// key at a time, the old value served until the new one is stored (RFC 5861's
        /// `stale-while-revalidate`). Needs a `ttl` (or `ttl_of`); zero is refused.
        ///
        /// ```
        /// # use std::time::Duration;
        /// # type Cache = twat_mcache::MemoryCache<String, u64>;
        /// let cache = Cache::builder()
        ///     .ttl(Duration::from_secs(30))
        ///     .stale_while_revalidate(Duration::from_secs(300))
        ///     .build()
        ///     .unwrap();
        /// # let _ = cache;
        /// ```
        pub fn stale_while_revalidate(mut self, window: ::std::time::Duration) -> Self {
            {
                let $this = &mut self;
                $config.stale_while_revalidate = Some(window);
            }
            self
        }

        /// For this long after an entry expires, a recomputation that returns `Err`
        /// (or `None` from a decorated `Option` fn) returns the expired value instead;
        /// the error is logged and counted (`stats().refresh_errors`). A panic still
        /// propagates. Needs a `ttl` (or `ttl_of`); zero is refused.
        ///
        /// ```
        /// # use std::time::Duration;
        /// # type Cache = twat_mcache::MemoryCache<String, u64>;
        /// let cache = Cache::builder()
        ///     .ttl(Duration::from_secs(60))
        ///     .stale_if_error(Duration::from_secs(3600))
        ///     .build()
        ///     .unwrap();
        /// # let _ = cache;
        /// ```
        pub fn stale_if_error(mut self, window: ::std::time::Duration) -> Self {
            {
                let $this = &mut self;
                $config.stale_if_error = Some(window);
            }
            self
        }

        /// Probabilistic early recomputation (XFetch, Vattani et al., VLDB 2015) with
        /// this β (`1.0` is `early = true`; larger recomputes earlier): as expiry nears,
        /// a lookup recomputes before it with a probability that rises with the body's
        /// measured run time (stored with the entry), so callers sharing the cache do not
        /// all miss at once. β must be > 0; needs a `ttl` (or `ttl_of`).
        ///
        /// ```
        /// # use std::time::Duration;
        /// # type Cache = twat_mcache::MemoryCache<String, u64>;
        /// let cache = Cache::builder().ttl(Duration::from_secs(60)).early(1.0).build().unwrap();
        /// # let _ = cache;
        /// assert!(Cache::builder().ttl(Duration::from_secs(60)).early(0.0).build().is_err());
        /// ```
        pub fn early(mut self, beta: f64) -> Self {
            {
                let $this = &mut self;
                $config.early = Some(beta);
            }
            self
        }

        /// Time to idle: an entry not read for this long expires; every hit restarts its
        /// clock. A read within the last `tti` never lets it idle out; an entry unread for
        /// `tti` + 1 s is gone (reads are recorded at most once a second per entry).
        ///
        /// ```
        /// # use std::time::Duration;
        /// # type Cache = twat_mcache::MemoryCache<String, u64>;
        /// let cache = Cache::builder().tti(Duration::from_secs(600)).build().unwrap();
        /// # let _ = cache;
        /// ```
        pub fn tti(mut self, idle: ::std::time::Duration) -> Self {
            {
                let $this = &mut self;
                $config.tti = Some(idle);
            }
            self
        }

        /// One entry's ttl, from its value (e.g. an HTTP response's `max-age`); `None`
        /// uses [`ttl`](Self::ttl). For a fallible body it sees the `Ok` value.
        ///
        /// ```
        /// # use std::time::Duration;
        /// # type Cache = twat_mcache::MemoryCache<String, (String, u64)>;
        /// // The value carries its own max-age in seconds.
        /// let cache = Cache::builder()
        ///     .ttl_of(|(_, max_age): &(String, u64)| Some(Duration::from_secs(*max_age)))
        ///     .build()
        ///     .unwrap();
        /// # let _ = cache;
        /// ```
        pub fn ttl_of(
            mut self,
            ttl_of: impl Fn(&V) -> Option<::std::time::Duration> + Send + Sync + 'static,
        ) -> Self {
            {
                let $this = &mut self;
                $config.ttl_of = true;
                $rules.ttl_of = Some($crate::freshness::Hook(::std::sync::Arc::new(ttl_of)));
            }
            self
        }

        /// When this returns true for a key, a lookup runs the body and stores its result
        /// over the stored one (the builder form of `force_refresh = <expr>`).
        ///
        /// ```
        /// # type Cache = twat_mcache::MemoryCache<u32, u32>;
        /// let cache = Cache::builder().force_refresh(|k: &u32| *k == 0).build().unwrap();
        /// assert_eq!(cache.get_or_insert_with(0, || 1), 1);
        /// assert_eq!(cache.get_or_insert_with(0, || 2), 2, "key 0 is always recomputed");
        /// assert_eq!(cache.get_or_insert_with(5, || 1), 1);
        /// assert_eq!(cache.get_or_insert_with(5, || 2), 1);
        /// ```
        pub fn force_refresh(mut self, when: impl Fn(&K) -> bool + Send + Sync + 'static) -> Self {
            {
                let $this = &mut self;
                $rules.force_refresh = Some($crate::freshness::Hook(::std::sync::Arc::new(when)));
            }
            self
        }
    };
}
