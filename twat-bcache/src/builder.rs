//! [`LmdbCacheBuilder`]: every method is named after the `#[bcache]` attribute it mirrors.

use std::hash::Hash;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_common::ConfigError;
use twat_cache_store::{Options, PersistentCache, Store, StoreBuilder};

use crate::{LmdbCache, LmdbStore};

/// Builds an [`LmdbCache`]. Settings are checked in [`build`](Self::build); a folder that
/// cannot be used is not an error but a fallback to memory (see the crate docs).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use twat_bcache::{Backend, LmdbCache};
/// let dir = tempfile::tempdir()?;
/// let cache = LmdbCache::<String, Vec<u8>>::builder()
///     .cache_dir(dir.path())          // the cache lives in <dir>/pages
///     .folder_name("pages")
///     .name("pages")
///     .maxsize(10_000)
///     .max_bytes(64 << 20)
///     .ttl(Duration::from_secs(3600))
///     .build()?;
/// if cfg!(feature = "lmdb") {
///     assert_eq!(cache.backend(), Backend::Lmdb);
///     assert!(dir.path().join("pages/twat-cache.lmdb.json").is_file());
/// }
/// assert!(LmdbCache::<u8, u8>::builder().maxsize(0).build().is_err());
/// assert!(LmdbCache::<u8, u8>::builder().folder_name("../up").build().is_err());
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct LmdbCacheBuilder<K, V> {
    /// The settings every persistent cache shares.
    options: Options,
    durable: bool,
    map_size: Option<usize>,
    max_map_size: Option<usize>,
    _types: PhantomData<fn(K) -> V>,
}

impl<K, V> Default for LmdbCacheBuilder<K, V> {
    fn default() -> Self {
        LmdbCacheBuilder {
            options: Options::default(),
            durable: false,
            map_size: None,
            max_map_size: None,
            _types: PhantomData,
        }
    }
}

impl<K, V> LmdbCacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    twat_cache_store::shared_builder_methods!();

    /// `fsync` after every commit (default: off). Off, commits reach the disk within about
    /// a second (a background flusher syncs); a process crash loses nothing, a system crash
    /// may lose the newest entries, and never yields a wrong value.
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// The initial LMDB map size in bytes (default 1 GiB of address space on Unix, 64 MiB
    /// on Windows). The map doubles on demand when full, so this is a starting point, not
    /// a bound. Rounded up to 64 KiB, at least 256 KiB. Only the first cache to open a
    /// folder in a process sets it. 0 is refused.
    pub fn map_size(mut self, map_size: usize) -> Self {
        self.map_size = Some(map_size);
        self
    }

    /// The most the LMDB map may grow to, in bytes (default: 1 TiB on 64-bit targets).
    /// When the map (or the disk) is full, a store first evicts this cache's oldest
    /// entries and tries again; if that does not make room the value is returned but not
    /// stored (counted in `stats().write_errors`). Rounded up to 64 KiB, at least 256 KiB;
    /// only the first cache to open a folder in a process sets it. 0 is refused.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let cache = twat_bcache::LmdbCache::<u32, u32>::builder()
    ///     .cache_dir(dir.path())
    ///     .map_size(1 << 20)
    ///     .max_map_size(64 << 20)      // this folder never takes more than 64 MiB
    ///     .build()?;
    /// assert_eq!(cache.get_or_insert_with(1, || 2), 2);
    /// # Ok(()) }
    /// ```
    pub fn max_map_size(mut self, max_map_size: usize) -> Self {
        self.max_map_size = Some(max_map_size);
        self
    }

    /// Checks the settings and builds the cache. Errors only for settings that can never
    /// work (`maxsize = 0`, a zero ttl, `Policy::Lfu`, a bad folder name, an empty
    /// passphrase, a malformed `TWAT_CACHE_KEY` with feature `encrypt`, ...); a folder or
    /// LMDB that cannot be used makes a memory-backed cache, with one `log::warn!` and
    /// `stats().fallback_reason` saying why.
    pub fn build(mut self) -> Result<LmdbCache<K, V>, ConfigError> {
        self.options.check("twat-bcache", LmdbStore::POLICIES)?;
        if self.max_map_size == Some(0) {
            return Err(ConfigError::invalid(
                "max_map_size",
                0,
                "a positive number of bytes (or no max_map_size for 1 TiB)",
            ));
        }
        if self.map_size == Some(0) {
            return Err(ConfigError::invalid(
                "map_size",
                0,
                "a positive number of bytes (it grows on demand)",
            ));
        }
        let (durable, map_size, max_map_size) = (self.durable, self.map_size, self.max_map_size);
        Ok(PersistentCache::open(
            self.options,
            "twat-bcache",
            crate::layout::KIND,
            |o| {
                #[cfg(feature = "lmdb")]
                return LmdbStore::open(o, durable, map_size, max_map_size);
                #[cfg(not(feature = "lmdb"))]
                {
                    let _ = (o, durable, map_size, max_map_size);
                    LmdbStore::open()
                }
            },
        ))
    }
}

impl<K, V> StoreBuilder for LmdbCacheBuilder<K, V>
where
    K: std::hash::Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Store = LmdbStore;
    type Key = K;
    type Value = V;
    fn options_mut(&mut self) -> &mut Options {
        &mut self.options
    }
    fn build_cache(self) -> Result<PersistentCache<LmdbStore, K, V>, ConfigError> {
        self.build()
    }
}
