//! [`MemoryCacheBuilder`]: every method is named after the `#[mcache]` attribute it mirrors.

use std::marker::PhantomData;
use std::time::Duration;

use twat_cache_common::freshness::Rules;
use twat_cache_common::{ConfigError, Policy};

use crate::MemoryCache;

/// Builds a [`MemoryCache`]. Settings are checked in [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// use twat_mcache::{MemoryCache, Policy};
/// let cache = MemoryCache::<String, Vec<u8>>::builder()
///     .maxsize(10_000)
///     .ttl(Duration::from_secs(60))
///     .policy(Policy::Lru)
///     .name("pages")
///     .build()
///     .unwrap();
/// assert_eq!(cache.stats().name, "pages");
/// assert!(MemoryCache::<u8, u8>::builder().maxsize(0).build().is_err());
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct MemoryCacheBuilder<K, V> {
    pub(crate) maxsize: Option<usize>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) policy: Policy,
    pub(crate) name: Option<String>,
    pub(crate) kind: &'static str,
    pub(crate) single_flight: bool,
    pub(crate) register: bool,
    pub(crate) force_std: bool,
    pub(crate) selection: Option<String>,
    pub(crate) rules: Rules<K, V>,
    _types: PhantomData<fn(K) -> V>,
}

impl<K, V> Default for MemoryCacheBuilder<K, V> {
    fn default() -> Self {
        MemoryCacheBuilder {
            maxsize: None,
            ttl: None,
            policy: Policy::Lru,
            name: None,
            kind: "memory",
            single_flight: true,
            register: true,
            force_std: false,
            selection: None,
            rules: Rules::default(),
            _types: PhantomData,
        }
    }
}

impl<K, V> MemoryCacheBuilder<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// At most this many entries (a hard bound); unbounded if never set. 0 is refused.
    pub fn maxsize(mut self, maxsize: usize) -> Self {
        self.maxsize = Some(maxsize);
        self
    }

    /// Entries expire this long after they are stored. A zero ttl is refused.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Which entry to evict when full. LRU is served by schnellru (feature `schnellru`);
    /// LFU and FIFO by the std implementation.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The name shown in stats and the CLI.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Whether concurrent misses on one key wait for one computation (default: true).
    pub fn single_flight(mut self, on: bool) -> Self {
        self.single_flight = on;
        self
    }

    /// Whether the cache joins the process registry behind `clear_all()`/`stats_all()`
    /// (default: true). Caches used as another cache's fallback do not.
    #[doc(hidden)]
    pub fn register(mut self, on: bool) -> Self {
        self.register = on;
        self
    }

    /// Serves from the std-only map even when `schnellru` is compiled in: lets benchmarks
    /// measure the compile-time fallback beside the default in one run.
    #[doc(hidden)]
    pub fn force_std_backend(mut self) -> Self {
        self.force_std = true;
        self
    }

    /// The kind reported in stats (`"memory"` unless another crate builds on this one: one vocabulary of kinds, the engine holding the entries: `memory`, `lmdb`, `files`, `redis`).
    #[doc(hidden)]
    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    /// Every freshness rule at once (a persistent cache's memory fallback takes its
    /// store's).
    #[doc(hidden)]
    pub fn freshness_rules(mut self, rules: Rules<K, V>) -> Self {
        self.rules = rules;
        self
    }

    /// For `#[ucache]`: why this engine was chosen (shown in `stats().selection`).
    #[doc(hidden)]
    pub fn selection(mut self, why: impl Into<String>) -> Self {
        self.selection = Some(why.into());
        self
    }

    twat_cache_common::freshness_builder_methods!(this => config: this.rules.config, rules: this.rules);

    /// Checks the settings and builds the cache.
    pub fn build(self) -> Result<MemoryCache<K, V>, ConfigError> {
        ConfigError::check_bounds(self.maxsize, None, self.ttl)?;
        self.rules.config.check(self.ttl)?;
        Ok(MemoryCache::from_builder(self))
    }
}
