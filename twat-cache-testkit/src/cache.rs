//! One face for the persistent caches, so that a scenario is written once and run against
//! every store.
//!
//! Every persistent cache is `twat_cache_store::PersistentCache<S, K, V>` over some
//! store `S` (`LmdbCache`, `FileCache`, the Redis cache), and every builder is a
//! [`StoreBuilder`]: the traits below are implemented for all of them here, once. A test
//! file names the cache it runs a scenario on (`twat_bcache::LmdbCache<u64, V>`). Keys are
//! `u64` throughout.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use twat_cache_common::{Backend, CacheStats, ConfigError};
use twat_cache_store::{Store, StoreBuilder};

/// What a cached value must be (what `LmdbCache` and `FileCache` ask of one).
pub trait Value: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static> Value for T {}

/// A persistent cache from `u64` to `V`: the calls the shared scenarios make.
#[allow(clippy::len_without_is_empty)] // the scenarios need only `len`
pub trait PersistentCache<V: Value>: Clone + Send + Sync + 'static {
    /// Its builder.
    type Builder: PersistentBuilder<Cache = Self>;
    /// The backend it reports when its folder is usable (`Lmdb`, `Files`).
    const BACKEND: Backend;
    /// Whether its store keeps a folder (`Store::HAS_FOLDER`; false for Redis).
    const HAS_FOLDER: bool;
    /// A builder with the defaults.
    fn builder() -> Self::Builder;
    /// The cached value of `key`, if any.
    fn get(&self, key: &u64) -> Option<V>;
    /// Stores `value` under `key`.
    fn insert(&self, key: u64, value: V);
    /// Removes `key`; true if it was there.
    fn remove(&self, key: &u64) -> bool;
    /// Removes every entry of the cache.
    fn clear(&self);
    /// Entries in the cache.
    fn len(&self) -> usize;
    /// Why it serves from memory, if it does.
    fn fallback_reason(&self) -> Option<String>;
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
    /// At most this many entries.
    fn maxsize(self, maxsize: usize) -> Self;
    /// Entries expire this long after they are stored.
    fn ttl(self, ttl: std::time::Duration) -> Self;
    /// Which entry goes first.
    fn policy(self, policy: twat_cache_common::Policy) -> Self;
    /// A memory tier of this many entries in front of the store.
    fn l1(self, entries: usize) -> Self;
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

impl<S, V> PersistentCache<V> for twat_cache_store::PersistentCache<S, u64, V>
where
    S: Store,
    V: Value,
    S::Builder<u64, V>: StoreBuilder<Store = S, Key = u64, Value = V>,
{
    type Builder = S::Builder<u64, V>;
    const BACKEND: Backend = S::BACKEND;
    const HAS_FOLDER: bool = S::HAS_FOLDER;
    fn builder() -> Self::Builder {
        Self::Builder::default()
    }
    fn get(&self, key: &u64) -> Option<V> {
        twat_cache_store::PersistentCache::get(self, key)
    }
    fn insert(&self, key: u64, value: V) {
        twat_cache_store::PersistentCache::insert(self, key, value)
    }
    fn remove(&self, key: &u64) -> bool {
        twat_cache_store::PersistentCache::remove(self, key)
    }
    fn clear(&self) {
        twat_cache_store::PersistentCache::clear(self)
    }
    fn len(&self) -> usize {
        twat_cache_store::PersistentCache::len(self)
    }
    fn fallback_reason(&self) -> Option<String> {
        twat_cache_store::PersistentCache::fallback_reason(self)
    }
    fn get_or_insert_with(&self, key: u64, compute: impl FnOnce() -> V) -> V {
        twat_cache_store::PersistentCache::get_or_insert_with(self, key, compute)
    }
    fn stats(&self) -> CacheStats {
        twat_cache_store::PersistentCache::stats(self)
    }
    fn backend(&self) -> Backend {
        twat_cache_store::PersistentCache::backend(self)
    }
    fn encrypted(&self) -> bool {
        twat_cache_store::PersistentCache::encrypted(self)
    }
}

impl<B> PersistentBuilder for B
where
    B: StoreBuilder<Key = u64>,
    B::Value: Value,
{
    type Cache = twat_cache_store::PersistentCache<B::Store, u64, B::Value>;
    fn cache_dir(mut self, dir: &Path) -> Self {
        self.options_mut().cache_dir = Some(dir.to_path_buf());
        self
    }
    fn folder_name(mut self, folder_name: &str) -> Self {
        self.options_mut().folder = Some(folder_name.to_owned());
        self
    }
    fn name(mut self, name: &str) -> Self {
        self.options_mut().name = Some(name.to_owned());
        self
    }
    fn lock(mut self, on: bool) -> Self {
        self.options_mut().lock = on;
        self
    }
    fn single_flight(mut self, on: bool) -> Self {
        self.options_mut().single_flight = on;
        self
    }
    fn register(mut self, on: bool) -> Self {
        self.options_mut().register = on;
        self
    }
    fn env_key_fallback(mut self, on: bool) -> Self {
        self.options_mut().env_key_fallback = on;
        self
    }
    fn maxsize(mut self, maxsize: usize) -> Self {
        self.options_mut().maxsize = Some(maxsize);
        self
    }
    fn ttl(mut self, ttl: std::time::Duration) -> Self {
        self.options_mut().ttl = Some(ttl);
        self
    }
    fn policy(mut self, policy: twat_cache_common::Policy) -> Self {
        self.options_mut().policy = Some(policy);
        self
    }
    fn l1(mut self, entries: usize) -> Self {
        self.options_mut().l1 = Some(entries);
        self
    }
    fn build(self) -> Result<Self::Cache, ConfigError> {
        self.build_cache()
    }
}

#[cfg(feature = "encrypt")]
impl<B> EncryptingBuilder for B
where
    B: StoreBuilder<Key = u64>,
    B::Value: Value,
{
    fn encryption_key(mut self, key: [u8; 32]) -> Self {
        use twat_cache_common::cipher::{CacheKey, KeySource};
        self.options_mut().key = Some(KeySource::Key(CacheKey::from_bytes(key)));
        self
    }
    fn passphrase(mut self, passphrase: &str) -> Self {
        use twat_cache_common::cipher::{KeySource, Zeroizing};
        self.options_mut().key = Some(KeySource::Passphrase(Zeroizing::new(passphrase.to_owned())));
        self
    }
}
