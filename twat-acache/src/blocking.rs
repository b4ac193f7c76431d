//! `backend = "lmdb"`, `"files"` and `"redis"`: twat-bcache's `LmdbCache`, twat-fcache's
//! `FileCache` and this crate's `RedisCache`, behind one object-safe face. An LMDB read is
//! a memory-mapped lookup (well under a microsecond) and a write a short transaction; a
//! file-cache hit is one small file read. Both are shorter than a hop to a blocking pool
//! would be, so they run inline. A Redis call waits for the network, so `AsyncCache` runs
//! it on a small blocking pool of its own ([`offload`]). Their single-flight is off (the
//! async layer's single-flight serves instead).

use std::path::PathBuf;
use std::time::Duration;

use twat_cache_common::{Backend, CacheStats, ConfigError, Namespace};

use crate::Inner;

/// What the async cache needs from a synchronous store.
pub(crate) trait BlockingStore<K, V>: Send + Sync {
    fn get(&self, key: &K) -> Option<V>;
    fn insert(&self, key: K, value: V);
    fn remove(&self, key: &K) -> bool;
    fn clear(&self);
    fn len(&self) -> usize;
    fn stats(&self) -> CacheStats;
    fn backend(&self) -> Backend;
    fn sweep_expired(&self) -> u64;
    fn inner(&self) -> Inner<'_, K, V>;
    fn encrypted(&self) -> bool;
    fn fresh_ops(&self) -> Option<Box<dyn twat_cache_common::freshness::FreshOps<K, V>>>;
}

/// The builder settings a persistent store takes.
pub(crate) struct Settings<K, V> {
    pub(crate) maxsize: Option<usize>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) name: String,
    pub(crate) namespace: Namespace,
    pub(crate) folder_name: Option<String>,
    pub(crate) cache_dir: Option<PathBuf>,
    /// The Redis url (`None`: `TWAT_CACHE_REDIS_URL`, else the default).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) url: Option<String>,
    /// `l1`: a memory tier in front of the store.
    pub(crate) l1: Option<usize>,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) policy: twat_cache_common::Policy,
    /// The builder's key (feature `encrypt`); `None`: the store reads `TWAT_CACHE_KEY`.
    #[cfg(feature = "encrypt")]
    pub(crate) key: Option<twat_cache_common::cipher::KeySource>,
    pub(crate) env_key_fallback: bool,
    pub(crate) rules: twat_cache_common::freshness::Rules<K, V>,
}

impl<K, V> Settings<K, V> {
    /// What the builder `b` says, for the cache `name` in `namespace`, with its rules.
    pub(crate) fn of(
        b: &crate::AsyncCacheBuilder<K, V>,
        name: &str,
        namespace: &Namespace,
        rules: twat_cache_common::freshness::Rules<K, V>,
    ) -> Self {
        Settings {
            maxsize: b.maxsize,
            ttl: b.ttl,
            name: name.to_owned(),
            namespace: namespace.clone(),
            folder_name: b.folder_name.clone(),
            cache_dir: b.cache_dir.clone(),
            url: b.url.clone(),
            l1: b.l1,
            policy: b.policy,
            #[cfg(feature = "encrypt")]
            key: b.key.clone(),
            env_key_fallback: b.env_key_fallback,
            rules,
        }
    }
}

pub(crate) type Opener<K, V> =
    fn(&Settings<K, V>) -> Result<Box<dyn BlockingStore<K, V>>, ConfigError>;

macro_rules! blocking_store {
    ($feature:literal, $open:ident, $ty:ty, $variant:ident, $configure:expr) => {
        #[cfg(feature = $feature)]
        impl<K, V> BlockingStore<K, V> for $ty
        where
            K: std::hash::Hash + Eq + Clone + serde::Serialize + Send + Sync + 'static,
            V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
        {
            fn get(&self, key: &K) -> Option<V> {
                <$ty>::get_promoting(self, key)
            }
            fn insert(&self, key: K, value: V) {
                <$ty>::insert(self, key, value)
            }
            fn remove(&self, key: &K) -> bool {
                <$ty>::remove(self, key)
            }
            fn clear(&self) {
                <$ty>::clear(self)
            }
            fn len(&self) -> usize {
                <$ty>::len(self)
            }
            fn stats(&self) -> CacheStats {
                <$ty>::stats(self)
            }
            fn backend(&self) -> Backend {
                <$ty>::backend(self)
            }
            fn sweep_expired(&self) -> u64 {
                <$ty>::sweep_expired(self)
            }
            fn inner(&self) -> Inner<'_, K, V> {
                Inner::$variant(self)
            }
            fn encrypted(&self) -> bool {
                <$ty>::encrypted(self)
            }
            fn fresh_ops(&self) -> Option<Box<dyn twat_cache_common::freshness::FreshOps<K, V>>> {
                <$ty>::__fresh_ops(self)
            }
        }

        #[cfg(feature = $feature)]
        pub(crate) fn $open<K, V>(
            s: &Settings<K, V>,
        ) -> Result<Box<dyn BlockingStore<K, V>>, ConfigError>
        where
            K: std::hash::Hash + Eq + Clone + serde::Serialize + Send + Sync + 'static,
            V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
        {
            let mut b = <$ty>::builder()
                .name(s.name.clone())
                .namespace(s.namespace.clone())
                .single_flight(false)
                .register(false);
            if let Some(m) = s.maxsize {
                b = b.maxsize(m);
            }
            if let Some(t) = s.ttl {
                b = b.ttl(t);
            }
            if let Some(f) = &s.folder_name {
                b = b.folder_name(f.clone());
            }
            if let Some(d) = &s.cache_dir {
                b = b.cache_dir(d.clone());
            }
            #[cfg(feature = "encrypt")]
            {
                use twat_cache_common::cipher::KeySource;
                b = match &s.key {
                    Some(KeySource::Key(k)) => b.encryption_key(*k.as_bytes()),
                    Some(KeySource::Passphrase(p)) => b.passphrase(p.as_str()),
                    None => b,
                };
            }
            b = b.env_key_fallback(s.env_key_fallback);
            if let Some(n) = s.l1 {
                b = b.l1(n);
            }
            let r = &s.rules;
            if let Some(d) = r.config.stale_while_revalidate {
                b = b.stale_while_revalidate(d);
            }
            if let Some(d) = r.config.stale_if_error {
                b = b.stale_if_error(d);
            }
            if let Some(beta) = r.config.early {
                b = b.early(beta);
            }
            if let Some(d) = r.config.tti {
                b = b.tti(d);
            }
            if let Some(f) = r.ttl_of.clone() {
                b = b.ttl_of(move |v: &V| f(v));
            }
            if let Some(f) = r.force_refresh.clone() {
                b = b.force_refresh(move |k: &K| f(k));
            }
            let configure: fn(_, &Settings<K, V>) -> _ = $configure;
            Ok(Box::new(configure(b, s).build()?))
        }
    };
}

blocking_store!("lmdb", open_lmdb, twat_bcache::LmdbCache<K, V>, Lmdb, |b, _| b);
blocking_store!("files", open_files, twat_fcache::FileCache<K, V>, Files, |b, _| b);
blocking_store!("redis", open_redis, crate::RedisCache<K, V>, Redis, |b: crate::RedisCacheBuilder<K, V>, s: &Settings<K, V>| {
    let b = b.policy(s.policy);
    match &s.url {
        Some(url) => b.url(url.clone()),
        None => b,
    }
});

/// Runs a blocking call (a Redis round trip) on a small pool of threads owned by this
/// crate, and awaits it from any executor (tokio, smol, `block_on`): the caller's thread
/// is never held by the network. Inline if that pool cannot start.
#[cfg(feature = "redis")]
pub(crate) async fn offload<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    use std::sync::OnceLock;
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(64)
            .thread_name("twat-acache-redis")
            .build()
            .map_err(|e| log::warn!("twat-acache: no Redis I/O pool ({e}); calls run inline"))
            .ok()
    });
    match rt {
        Some(rt) => match rt.spawn_blocking(work).await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        },
        None => work(),
    }
}
