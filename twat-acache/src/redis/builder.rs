//! [`RedisCacheBuilder`]: the settings every persistent cache shares, plus `url`.

use std::hash::Hash;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_common::ConfigError;
use twat_cache_store::{Options, PersistentCache, Store, StoreBuilder};

#[cfg(feature = "redis")]
use super::connection::Target;
use super::{RedisCache, RedisStore};

/// Builds a [`RedisCache`]. Settings are checked in [`build`](Self::build), which never
/// connects: a server that is down at start is a fallback to memory until it answers.
///
/// ```
/// use std::time::Duration;
/// use twat_acache::{Policy, RedisCache};
/// let cache = RedisCache::<String, Vec<u8>>::builder()
///     .url("redis://127.0.0.1:6379/0")
///     .name("pages")
///     .maxsize(10_000)
///     .ttl(Duration::from_secs(3600))
///     .policy(Policy::Lru)
///     .build()
///     .unwrap();
/// assert_eq!(cache.name(), "pages");
/// # #[cfg(feature = "redis")] {
/// let err = RedisCache::<u8, u8>::builder().url("not a url").build().unwrap_err();
/// assert_eq!(err.field(), "url");
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct RedisCacheBuilder<K, V> {
    /// The settings every persistent cache shares.
    options: Options,
    url: Option<String>,
    _types: PhantomData<fn(K) -> V>,
}

impl<K, V> Default for RedisCacheBuilder<K, V> {
    fn default() -> Self {
        RedisCacheBuilder {
            options: Options::default(),
            url: None,
            _types: PhantomData,
        }
    }
}

impl<K, V> RedisCacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    twat_cache_store::shared_builder_methods!();

    /// The server: `redis://host:port/db` (`rediss://` for TLS, `unix:///path` for a
    /// socket), or, for a **Redis Cluster**, several nodes separated by commas
    /// (`redis://10.0.0.1:7000,redis://10.0.0.2:7000`): the cluster protocol then finds
    /// every node and follows moved slots. Without it: `$TWAT_CACHE_REDIS_URL`, else
    /// [`DEFAULT_REDIS_URL`](crate::DEFAULT_REDIS_URL). A url that does not parse fails
    /// [`build`](Self::build) with a `ConfigError` naming `url` (feature `redis`; without
    /// it the cache serves from memory and the url is not read).
    ///
    /// Every key of one cache carries its namespace as a cluster hash tag
    /// (`twat:{<namespace hex>}:...`), so one cache's entries live in one slot: its bounds
    /// and eviction are atomic there, and a node lost takes down only the caches whose
    /// slot it held.
    ///
    /// ```
    /// use twat_acache::RedisCache;
    /// let nodes = "redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002";
    /// let cache = RedisCache::<u32, u32>::builder().url(nodes).build().unwrap();
    /// assert_eq!(cache.get_or_insert_with(1, || 2), 2); // from Redis, or memory if none runs
    /// ```
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Checks the settings and builds the cache. Errors only for settings that can never
    /// work (`maxsize = 0`, a zero ttl, `Policy::Lfu`, a url that does not parse, an
    /// empty passphrase, a malformed `TWAT_CACHE_KEY`, ...). Never connects.
    pub fn build(mut self) -> Result<RedisCache<K, V>, ConfigError> {
        self.options.check("twat-acache", RedisStore::POLICIES)?;
        let url = self
            .url
            .or_else(|| std::env::var(crate::REDIS_URL_VAR).ok())
            .unwrap_or_else(|| crate::DEFAULT_REDIS_URL.to_owned());
        #[cfg(feature = "redis")]
        {
            let target = Target::parse(&url)?;
            Ok(PersistentCache::open(
                self.options,
                "twat-acache",
                "redis",
                |o| RedisStore::open(o, target, &url),
            ))
        }
        #[cfg(not(feature = "redis"))]
        {
            let _ = url;
            Ok(PersistentCache::open(
                self.options,
                "twat-acache",
                "redis",
                |_| RedisStore::open(),
            ))
        }
    }
}

impl<K, V> StoreBuilder for RedisCacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Store = RedisStore;
    type Key = K;
    type Value = V;
    fn options_mut(&mut self) -> &mut Options {
        &mut self.options
    }
    fn build_cache(self) -> Result<RedisCache<K, V>, ConfigError> {
        self.build()
    }
}
