//! [`FileCacheBuilder`]: every method is named after the `#[fcache]` attribute it mirrors.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_common::ConfigError;
use twat_cache_store::{Options, PersistentCache, Store, StoreBuilder};

use crate::{FileCache, FileStore};

/// Builds a [`FileCache`]. Settings are checked in [`build`](Self::build): a bad setting is
/// a [`ConfigError`]; a folder that cannot be used is not an error but a fallback to memory
/// (see `FileCache::fallback_reason`).
///
/// ```
/// use std::time::Duration;
/// use twat_fcache::FileCache;
/// let dir = tempfile::tempdir().unwrap();
/// let cache = FileCache::<String, Vec<u8>>::builder()
///     .cache_dir(dir.path())          // else $TWAT_CACHE_DIR or ~/.cache/twat_cache
///     .folder_name("tiles")           // default: "default"
///     .name("tiles")
///     .maxsize(10_000)
///     .max_bytes(1 << 30)
///     .ttl(Duration::from_secs(3600))
///     .compress(true)
///     .build()
///     .unwrap();
/// assert_eq!(cache.folder(), Some(dir.path().join("tiles").as_path()));
/// assert!(FileCache::<u8, u8>::builder().folder_name("../up").build().is_err());
/// assert!(FileCache::<u8, u8>::builder().maxsize(0).build().is_err());
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct FileCacheBuilder<K, V> {
    /// The settings every persistent cache shares.
    options: Options,
    compress: bool,
    compression_level: Option<i32>,
    _types: PhantomData<fn(K) -> V>,
}

impl<K, V> Default for FileCacheBuilder<K, V> {
    fn default() -> Self {
        FileCacheBuilder {
            options: Options::default(),
            compress: false,
            compression_level: None,
            _types: PhantomData,
        }
    }
}

impl<K, V> FileCacheBuilder<K, V>
where
    K: std::hash::Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    twat_cache_store::shared_builder_methods!();

    /// Compress payloads with lz4 (default: off). A payload that shrinks by less than 5%
    /// (floats, already-compressed data) is stored raw. Entries of either kind are read
    /// whatever this says.
    ///
    /// ```
    /// use twat_fcache::FileCache;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = FileCache::<u32, String>::builder()
    ///     .cache_dir(dir.path())
    ///     .compress(true)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cache.get_or_insert_with(1, || "a".repeat(1000)).len(), 1000);
    /// ```
    pub fn compress(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }

    /// Accepted for parity with the Python library; lz4 has no levels, so it changes
    /// nothing. Must be in `-7..=22` (zstd's range) should a leveled codec come later.
    pub fn compression_level(mut self, level: i32) -> Self {
        self.compression_level = Some(level);
        self
    }

    /// Checks the settings and opens the cache. `Err` only for settings that can never
    /// work (`maxsize = 0`, a zero ttl, `Policy::Lfu`, a bad folder name, an empty
    /// passphrase, a malformed `TWAT_CACHE_KEY` with feature `encrypt`); an unusable
    /// folder falls back to memory with one `log::warn!`.
    pub fn build(mut self) -> Result<FileCache<K, V>, ConfigError> {
        self.options.check("twat-fcache", FileStore::POLICIES)?;
        if let Some(l) = self.compression_level
            && !(-7..=22).contains(&l)
        {
            return Err(ConfigError::invalid(
                "compression_level",
                l,
                "an integer in -7..=22",
            ));
        }
        let compress = self.compress;
        Ok(PersistentCache::open(
            self.options,
            "twat-fcache",
            crate::layout::KIND,
            |o| {
                #[cfg(feature = "files")]
                return FileStore::open(o, compress);
                #[cfg(not(feature = "files"))]
                {
                    let _ = (o, compress);
                    FileStore::open()
                }
            },
        ))
    }
}

impl<K, V> StoreBuilder for FileCacheBuilder<K, V>
where
    K: std::hash::Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Store = FileStore;
    type Key = K;
    type Value = V;
    fn options_mut(&mut self) -> &mut Options {
        &mut self.options
    }
    fn build_cache(self) -> Result<PersistentCache<FileStore, K, V>, ConfigError> {
        self.build()
    }
}
