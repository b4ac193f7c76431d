//! `backend = "lmdb"` and `"files"`: twat-bcache's `LmdbCache` and twat-fcache's
//! `FileCache`, called directly from the async methods. An LMDB read is a memory-mapped
//! lookup (well under a microsecond) and a write a short transaction; a file-cache hit is
//! one small file read. Both are shorter than a hop to a blocking pool would be, so they
//! run inline; their single-flight is off (the async layer's single-flight serves instead).

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
    /// The builder's key (feature `encrypt`); `None`: the store reads `TWAT_CACHE_KEY`.
    #[cfg(feature = "encrypt")]
    pub(crate) key: Option<twat_cache_common::cipher::KeySource>,
    pub(crate) env_key_fallback: bool,
    pub(crate) rules: twat_cache_common::freshness::Rules<K, V>,
}

pub(crate) type Opener<K, V> =
    fn(&Settings<K, V>) -> Result<Box<dyn BlockingStore<K, V>>, ConfigError>;

macro_rules! blocking_store {
    ($feature:literal, $open:ident, $ty:ty, $variant:ident) => {
        #[cfg(feature = $feature)]
        impl<K, V> BlockingStore<K, V> for $ty
        where
            K: std::hash::Hash + Eq + Clone + serde::Serialize + Send + Sync + 'static,
            V: Clone + serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
        {
            fn get(&self, key: &K) -> Option<V> {
                <$ty>::get(self, key)
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
            Ok(Box::new(b.build()?))
        }
    };
}

blocking_store!("lmdb", open_lmdb, twat_bcache::LmdbCache<K, V>, Lmdb);
blocking_store!("files", open_files, twat_fcache::FileCache<K, V>, Files);
