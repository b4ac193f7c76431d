//! One face for the persistent caches (`LmdbCache`, `FileCache`), so that a scenario is
//! written once and run against each of them.
//!
//! The testkit cannot depend on the crates it tests (a dev-dependency cycle would build
//! them twice, with types that do not match), and a test crate may not implement these
//! traits for another crate's type. So each test file declares its cache with
//! [`tested_cache!`](crate::tested_cache), which defines two local wrappers, `Tested<V>`
//! and `TestedBuilder<V>`, that pass every call through to the real cache and builder.
//! Keys are `u64` throughout.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use twat_cache_common::{Backend, CacheStats, ConfigError};

/// What a cached value must be (what `LmdbCache` and `FileCache` ask of one).
pub trait Value: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static> Value for T {}

/// A persistent cache from `u64` to `V`: the calls the shared scenarios make.
pub trait PersistentCache<V: Value>: Clone + Send + Sync + 'static {
    /// Its builder.
    type Builder: PersistentBuilder<Cache = Self>;
    /// The backend it reports when its folder is usable (`Lmdb`, `Files`).
    const BACKEND: Backend;
    /// A builder with the defaults.
    fn builder() -> Self::Builder;
    /// The cached value of `key`, if any.
    fn get(&self, key: &u64) -> Option<V>;
    /// Stores `value` under `key`.
    fn insert(&self, key: u64, value: V);
    /// The cached value of `key`, or `compute()` stored and returned.
    fn get_or_insert_with(&self, key: u64, compute: impl FnOnce() -> V) -> V;
    /// Its statistics.
    fn stats(&self) -> CacheStats;
    /// Where it stores now (a memory backend after a fallback).
    fn backend(&self) -> Backend;
    /// Whether its entries are encrypted.
    fn encrypted(&self) -> bool;
}

/// The builder of a [`PersistentCache`]: the settings the shared scenarios use.
pub trait PersistentBuilder: Sized {
    /// What it builds.
    type Cache;
    /// The cache root.
    fn cache_dir(self, dir: &Path) -> Self;
    /// The folder under the root.
    fn folder_name(self, folder_name: &str) -> Self;
    /// The namespace name.
    fn name(self, name: &str) -> Self;
    /// Cross-process single-flight (`lock = true`).
    fn lock(self, on: bool) -> Self;
    /// In-process single-flight.
    fn single_flight(self, on: bool) -> Self;
    /// Whether the cache joins the process registry.
    fn register(self, on: bool) -> Self;
    /// A malformed `TWAT_CACHE_KEY` makes a memory cache instead of an error.
    fn env_key_fallback(self, on: bool) -> Self;
    /// Checks the settings and builds the cache.
    fn build(self) -> Result<Self::Cache, ConfigError>;
}

/// The key settings of a [`PersistentBuilder`] (feature `encrypt` of the tested crate).
pub trait EncryptingBuilder: PersistentBuilder {
    /// A raw 256-bit key.
    fn encryption_key(self, key: [u8; 32]) -> Self;
    /// A passphrase, stretched with the folder's salt.
    fn passphrase(self, passphrase: &str) -> Self;
}

/// Defines `Tested<V>` and `TestedBuilder<V>` in the calling test file: the named cache
/// and builder types of the named crate (keys `u64`), implementing [`PersistentCache`]
/// and [`PersistentBuilder`], and [`EncryptingBuilder`] when the calling crate's feature
/// `encrypt` is on.
///
/// ```ignore
/// twat_cache_testkit::tested_cache!(twat_bcache::LmdbCache, LmdbCacheBuilder, Backend::Lmdb);
/// ```
#[macro_export]
macro_rules! tested_cache {
    ($krate:ident :: $cache:ident, $builder:ident, Backend :: $backend:ident) => {
        /// The cache under test, for the testkit's shared scenarios.
        #[derive(Clone)]
        pub struct Tested<V>(pub $krate::$cache<u64, V>);

        /// The builder of [`Tested`].
        pub struct TestedBuilder<V>(pub $krate::$builder<u64, V>);

        impl<V: $crate::cache::Value> $crate::cache::PersistentCache<V> for Tested<V> {
            type Builder = TestedBuilder<V>;
            const BACKEND: $crate::cache::Backend = $krate::Backend::$backend;
            fn builder() -> TestedBuilder<V> {
                TestedBuilder($krate::$cache::<u64, V>::builder())
            }
            fn get(&self, key: &u64) -> Option<V> {
                self.0.get(key)
            }
            fn insert(&self, key: u64, value: V) {
                self.0.insert(key, value)
            }
            fn get_or_insert_with(&self, key: u64, compute: impl FnOnce() -> V) -> V {
                self.0.get_or_insert_with(key, compute)
            }
            fn stats(&self) -> $crate::cache::CacheStats {
                self.0.stats()
            }
            fn backend(&self) -> $crate::cache::Backend {
                self.0.backend()
            }
            fn encrypted(&self) -> bool {
                self.0.encrypted()
            }
        }

        impl<V: $crate::cache::Value> $crate::cache::PersistentBuilder for TestedBuilder<V> {
            type Cache = Tested<V>;
            fn cache_dir(self, dir: &::std::path::Path) -> Self {
                TestedBuilder(self.0.cache_dir(dir))
            }
            fn folder_name(self, folder_name: &str) -> Self {
                TestedBuilder(self.0.folder_name(folder_name))
            }
            fn name(self, name: &str) -> Self {
                TestedBuilder(self.0.name(name))
            }
            fn lock(self, on: bool) -> Self {
                TestedBuilder(self.0.lock(on))
            }
            fn single_flight(self, on: bool) -> Self {
                TestedBuilder(self.0.single_flight(on))
            }
            fn register(self, on: bool) -> Self {
                TestedBuilder(self.0.register(on))
            }
            fn env_key_fallback(self, on: bool) -> Self {
                TestedBuilder(self.0.env_key_fallback(on))
            }
            fn build(self) -> Result<Tested<V>, $crate::cache::ConfigError> {
                self.0.build().map(Tested)
            }
        }

        #[cfg(feature = "encrypt")]
        impl<V: $crate::cache::Value> $crate::cache::EncryptingBuilder for TestedBuilder<V> {
            fn encryption_key(self, key: [u8; 32]) -> Self {
                TestedBuilder(self.0.encryption_key(key))
            }
            fn passphrase(self, passphrase: &str) -> Self {
                TestedBuilder(self.0.passphrase(passphrase))
            }
        }
    };
}
