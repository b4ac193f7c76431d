//! [`AsyncCacheBuilder`]: every method is named after the `#[acache]` attribute it mirrors.

use std::hash::Hash;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
#[cfg(feature = "encrypt")]
use twat_cache_common::cipher::{CacheKey, KeySource, Zeroizing};
use twat_cache_common::{ConfigError, Namespace, Policy};

use crate::AsyncCache;

/// What a persistent backend needs from the key and value types, captured by
/// [`AsyncCacheBuilder::backend`] (the one method with serde bounds).
pub(crate) struct Persist<K, V> {
    /// The key and value types (every opener below may be compiled out).
    _types: PhantomData<fn(K) -> V>,
    #[cfg(feature = "redis")]
    pub(crate) redis: crate::blocking::Opener<K, V>,
    #[cfg(feature = "lmdb")]
    pub(crate) lmdb: crate::blocking::Opener<K, V>,
    #[cfg(feature = "files")]
    pub(crate) files: crate::blocking::Opener<K, V>,
}

/// Builds an [`AsyncCache`]. Building is synchronous and never connects: a Redis cache
/// connects on first use. Settings are checked in [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// use twat_acache::{AsyncCache, Policy};
/// let cache = AsyncCache::<String, Vec<u8>>::builder()
///     .maxsize(10_000)
///     .ttl(Duration::from_secs(60))
///     .policy(Policy::Lru)
///     .name("pages")
///     .build()
///     .unwrap();
/// assert_eq!(cache.stats().name, "pages");
/// assert_eq!(cache.stats().kind, "memory");
/// assert!(AsyncCache::<u8, u8>::builder().maxsize(0).build().is_err());
/// ```
#[must_use = "a builder does nothing until `.build()`"]
pub struct AsyncCacheBuilder<K, V> {
    pub(crate) maxsize: Option<usize>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) policy: Policy,
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<Namespace>,
    pub(crate) folder_name: Option<String>,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) backend: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) l1: Option<usize>,
    pub(crate) selection: Option<String>,
    pub(crate) single_flight: bool,
    pub(crate) register: bool,
    pub(crate) persist: Option<Persist<K, V>>,
    /// The key (or passphrase) given to the builder (feature `encrypt`).
    #[cfg(feature = "encrypt")]
    pub(crate) key: Option<KeySource>,
    pub(crate) env_key_fallback: bool,
    /// Freshness rules (`stale_while_revalidate`, `ttl_of`, ...).
    pub(crate) rules: twat_cache_common::freshness::Rules<K, V>,
    _types: PhantomData<fn(K) -> V>,
}

impl<K, V> std::fmt::Debug for AsyncCacheBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncCacheBuilder")
            .field("maxsize", &self.maxsize)
            .field("ttl", &self.ttl)
            .field("policy", &self.policy)
            .field("name", &self.name)
            .field("backend", &self.backend)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl<K, V> Default for AsyncCacheBuilder<K, V> {
    fn default() -> Self {
        AsyncCacheBuilder {
            maxsize: None,
            ttl: None,
            policy: Policy::Lru,
            name: None,
            namespace: None,
            folder_name: None,
            cache_dir: None,
            backend: None,
            url: None,
            l1: None,
            selection: None,
            single_flight: true,
            register: true,
            persist: None,
            #[cfg(feature = "encrypt")]
            key: None,
            env_key_fallback: false,
            rules: Default::default(),
            _types: PhantomData,
        }
    }
}

impl<K, V> AsyncCacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// At most this many entries (a hard bound for the memory backend; Redis relies on
    /// the server's own `maxmemory` policy). Unbounded if never set; 0 is refused.
    ///
    /// ```
    /// let c = twat_acache::AsyncCache::<u8, u8>::builder().maxsize(2).build().unwrap();
    /// assert_eq!(c.stats().maxsize, Some(2));
    /// ```
    pub fn maxsize(mut self, maxsize: usize) -> Self {
        self.maxsize = Some(maxsize);
        self
    }

    /// Entries expire this long after they are stored (Redis: `SET .. PX`). Zero is refused.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = twat_acache::AsyncCache::<u8, u8>::builder().ttl(Duration::from_secs(2)).build().unwrap();
    /// assert_eq!(c.stats().ttl_secs, Some(2.0));
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Which entry the memory backend evicts when full (default LRU).
    ///
    /// ```
    /// use twat_acache::{AsyncCache, Policy};
    /// let c = AsyncCache::<u8, u8>::builder().policy(Policy::Fifo).build().unwrap();
    /// assert_eq!(c.policy(), Policy::Fifo);
    /// ```
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The name shown in stats and the CLI (and, for Redis without a namespace, the
    /// namespace).
    ///
    /// ```
    /// let c = twat_acache::AsyncCache::<u8, u8>::builder().name("users").build().unwrap();
    /// assert_eq!(c.name(), "users");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Who owns the entries in a shared store (Redis, LMDB, files). `#[acache]` passes the
    /// function's namespace; builders default to [`Namespace::named`] of the name.
    ///
    /// ```
    /// use twat_acache::{AsyncCache, Namespace};
    /// let c = AsyncCache::<u8, u8>::builder().namespace(Namespace::named("geo")).build().unwrap();
    /// assert_eq!(c.namespace().id(), "geo");
    /// ```
    pub fn namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// The cache folder for `backend("lmdb")` / `backend("files")` (ignored by memory and
    /// Redis). Checked in [`build`](Self::build) when one of those backends is used.
    ///
    /// ```
    /// let c = twat_acache::AsyncCache::<u8, u8>::builder().folder_name("geo").build().unwrap();
    /// assert!(c.backend().is_memory());
    /// ```
    pub fn folder_name(mut self, folder_name: impl Into<String>) -> Self {
        self.folder_name = Some(folder_name.into());
        self
    }

    /// Overrides the root folder for `backend("lmdb")` / `backend("files")`: the cache lives
    /// in `dir/<folder_name>`.
    ///
    /// ```
    /// let c = twat_acache::AsyncCache::<u8, u8>::builder().cache_dir("/tmp").build().unwrap();
    /// assert!(c.backend().is_memory());
    /// ```
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The Redis server, e.g. `"redis://127.0.0.1:6379/0"`. Without it:
    /// `$TWAT_CACHE_REDIS_URL`, else [`DEFAULT_REDIS_URL`](crate::DEFAULT_REDIS_URL).
    ///
    /// ```
    /// let c = twat_acache::AsyncCache::<u8, u8>::builder().url("redis://127.0.0.1:1").build().unwrap();
    /// assert!(c.backend().is_memory(), "the url matters only with backend(\"redis\")");
    /// ```
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// With a persistent backend (`"lmdb"`, `"files"`, `"redis"`): keep the `entries` most
    /// recently used entries in process memory as well (a memory tier: see
    /// `docs/tiers.md`). Ignored by the memory backend; 0 is refused.
    ///
    /// ```
    /// let c = twat_acache::AsyncCache::<u8, u8>::builder().l1(100).build().unwrap();
    /// assert!(c.backend().is_memory(), "memory needs no tier");
    /// let err = twat_acache::AsyncCache::<u8, u8>::builder().l1(0).build().unwrap_err();
    /// assert_eq!(err.field(), "l1");
    /// ```
    pub fn l1(mut self, entries: usize) -> Self {
        self.l1 = Some(entries);
        self
    }

    /// Whether concurrent misses on one key await one computation (default: true).
    ///
    /// ```
    /// let c = twat_acache::AsyncCache::<u8, u8>::builder().single_flight(false).build().unwrap();
    /// assert!(c.is_empty());
    /// ```
    pub fn single_flight(mut self, on: bool) -> Self {
        self.single_flight = on;
        self
    }

    /// Encrypts every entry a persistent backend stores with this 256-bit key (feature
    /// `encrypt`): XChaCha20-Poly1305, a random nonce per entry, the entry's header and full
    /// stored key as associated data. Applies to `"redis"`, and is handed to twat-bcache /
    /// twat-fcache for `"lmdb"` / `"files"`; the memory backend stores nothing outside the
    /// process and ignores it. Overrides `TWAT_CACHE_KEY`.
    ///
    /// ```
    /// let c = twat_acache::AsyncCache::<u8, String>::builder()
    ///     .backend("memory")
    ///     .encryption_key([7; 32])
    ///     .build()
    ///     .unwrap();
    /// assert!(!c.encrypted(), "memory is never encrypted: nothing leaves the process");
    /// ```
    #[cfg(feature = "encrypt")]
    pub fn encryption_key(mut self, key: [u8; 32]) -> Self {
        self.key = Some(KeySource::Key(CacheKey::from_bytes(key)));
        self
    }

    /// Encrypts with a key stretched from `passphrase` by Argon2id (feature `encrypt`).
    /// For `"lmdb"`/`"files"` the salt is random and kept in the cache folder; Redis has no
    /// folder, so its salt is fixed and public (`cipher::SHARED_SALT`): equal passphrases
    /// give equal keys everywhere, and a random [`encryption_key`](Self::encryption_key)
    /// is the better choice there. An empty passphrase fails [`build`](Self::build).
    ///
    /// ```
    /// let err = twat_acache::AsyncCache::<u8, u8>::builder().passphrase("").build().unwrap_err();
    /// assert_eq!(err.field(), "passphrase");
    /// ```
    #[cfg(feature = "encrypt")]
    pub fn passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.key = Some(KeySource::Passphrase(Zeroizing::new(passphrase.into())));
        self
    }

    /// How a malformed `TWAT_CACHE_KEY` is handled by a persistent backend: `false` (the
    /// default) fails [`build`](Self::build) with a `ConfigError` naming it; `true` (what
    /// `#[acache]` asks for) serves from memory with one warning. Either way nothing is
    /// stored unencrypted.
    #[doc(hidden)]
    pub fn env_key_fallback(mut self, on: bool) -> Self {
        self.env_key_fallback = on;
        self
    }

    /// Whether the cache joins the registry behind `clear_all()`/`stats_all()` (default true).
    #[doc(hidden)]
    pub fn register(mut self, on: bool) -> Self {
        self.register = on;
        self
    }

    /// For `#[ucache]`: why this engine was chosen (shown in stats).
    #[doc(hidden)]
    pub fn selection(mut self, why: impl Into<String>) -> Self {
        self.selection = Some(why.into());
        self
    }

    /// Checks the settings and builds the cache. Never connects anywhere: a Redis cache
    /// connects on first use, and serves from memory while it cannot.
    ///
    /// ```
    /// use twat_acache::AsyncCache;
    /// let err = AsyncCache::<u8, u8>::builder().ttl(std::time::Duration::ZERO).build().unwrap_err();
    /// assert_eq!(err.field(), "ttl");
    /// ```
    pub fn build(self) -> Result<AsyncCache<K, V>, ConfigError> {
        AsyncCache::from_builder(self)
    }

    twat_cache_common::freshness_builder_methods!(
        this => config: this.rules.config, rules: this.rules
    );
}

impl<K, V> AsyncCacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Where entries live: `"memory"` (the default), `"redis"` (feature `redis`),
    /// `"lmdb"` (feature `lmdb`) or `"files"` (feature `files`). Only this method needs the
    /// serde bounds. An unknown name is an error in [`build`](Self::build); a backend that is
    /// compiled out serves from memory and says so in `stats().fallback_reason`.
    ///
    /// ```
    /// use twat_acache::AsyncCache;
    /// let c = AsyncCache::<u32, String>::builder().backend("memory").build().unwrap();
    /// assert!(c.backend().is_memory());
    /// let err = AsyncCache::<u32, String>::builder().backend("mongo").build().unwrap_err();
    /// assert_eq!(err.field(), "backend");
    /// ```
    pub fn backend(mut self, backend: impl Into<String>) -> Self {
        self.backend = Some(backend.into());
        self.persist = Some(Persist {
            _types: PhantomData,
            #[cfg(feature = "redis")]
            redis: crate::blocking::open_redis::<K, V>,
            #[cfg(feature = "lmdb")]
            lmdb: crate::blocking::open_lmdb::<K, V>,
            #[cfg(feature = "files")]
            files: crate::blocking::open_files::<K, V>,
        });
        self
    }
}
