//! [`FileCacheBuilder`]: every method is named after the `#[fcache]` attribute it mirrors.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_common::paths::validate_folder_name;
use twat_cache_common::{ConfigError, Namespace};

use crate::FileCache;

/// Builds a [`FileCache`]. Settings are checked in [`build`](Self::build): a bad setting is
/// a [`ConfigError`]; a folder that cannot be used is not an error but a fallback to memory
/// (see [`FileCache::fallback_reason`]).
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
    pub(crate) maxsize: Option<usize>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<Namespace>,
    pub(crate) folder_name: String,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) compress: bool,
    pub(crate) compression_level: Option<i32>,
    pub(crate) lock: bool,
    pub(crate) single_flight: bool,
    pub(crate) register: bool,
    pub(crate) selection: Option<String>,
    _types: PhantomData<fn(K) -> V>,
}

impl<K, V> Default for FileCacheBuilder<K, V> {
    fn default() -> Self {
        FileCacheBuilder {
            maxsize: None,
            ttl: None,
            max_bytes: None,
            name: None,
            namespace: None,
            folder_name: "default".to_owned(),
            cache_dir: None,
            compress: false,
            compression_level: None,
            lock: false,
            single_flight: true,
            register: true,
            selection: None,
            _types: PhantomData,
        }
    }
}

impl<K, V> FileCacheBuilder<K, V>
where
    K: std::hash::Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// At most this many entries in this cache's namespace; the oldest are removed first.
    /// Unbounded if never set; 0 is refused.
    pub fn maxsize(mut self, maxsize: usize) -> Self {
        self.maxsize = Some(maxsize);
        self
    }

    /// At most this many bytes of entry files in this cache's namespace; the oldest are
    /// removed first, and a single value larger than this is not stored. 0 is refused.
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

    /// Entries expire this long after they are stored (the expiry is written in the entry,
    /// so every process agrees on it). A zero ttl is refused.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The name shown in stats and the CLI. Also names the namespace unless
    /// [`namespace`](Self::namespace) is given.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Whose entries these are in a shared folder. Default: `Namespace::named(name)`.
    /// `#[fcache]` passes the function's namespace (crate, module, function, `version`,
    /// code hash), so editing the function invalidates its old entries.
    pub fn namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// The folder below the cache root (default `"default"`). One path component: no
    /// separators, no `..`, no NUL, at most 255 bytes; anything else fails `build`.
    pub fn folder_name(mut self, folder_name: impl Into<String>) -> Self {
        self.folder_name = folder_name.into();
        self
    }

    /// Puts the cache in `dir/<folder_name>` instead of below `$TWAT_CACHE_DIR` or the
    /// platform cache directory.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Compress payloads with lz4 (default: off). A payload that shrinks by less than 5%
    /// (floats, already-compressed data) is stored raw. Entries of either kind are read
    /// whatever this says.
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

    /// Cross-process single-flight (default: off): concurrent misses of one key in several
    /// processes compute it once. After the in-process single-flight, the computing thread
    /// takes an exclusive lock on `<folder>/locks/<key digest>.lock` (std `File::lock`,
    /// i.e. `flock`), reads the entry again (another process may have just written it),
    /// and only then computes and writes. The kernel releases the lock of a process that
    /// dies, so a killed computation never wedges the others. Hits never touch the lock.
    /// If the lock file cannot be made (read-only folder, ...), the cache computes without
    /// it, warns once, and reports it in `stats().last_error`.
    ///
    /// ```
    /// use twat_fcache::FileCache;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = FileCache::<u32, u32>::builder().cache_dir(dir.path()).lock(true).build().unwrap();
    /// assert_eq!(cache.get_or_insert_with(1, || 2), 2);
    /// assert_eq!(cache.get_or_insert_with(1, || unreachable!()), 2);
    /// ```
    pub fn lock(mut self, on: bool) -> Self {
        self.lock = on;
        self
    }

    /// Whether concurrent misses on one key in this process wait for one computation
    /// (default: true).
    pub fn single_flight(mut self, on: bool) -> Self {
        self.single_flight = on;
        self
    }

    /// Whether the cache joins the process registry behind `clear_all()`/`stats_all()`
    /// (default: true).
    #[doc(hidden)]
    pub fn register(mut self, on: bool) -> Self {
        self.register = on;
        self
    }

    /// Why `#[ucache]` picked this engine (reported in stats).
    #[doc(hidden)]
    pub fn selection(mut self, why: impl Into<String>) -> Self {
        self.selection = Some(why.into());
        self
    }

    /// Checks the settings and opens the cache. `Err` only for settings that can never
    /// work; an unusable folder falls back to memory with one `log::warn!`.
    pub fn build(self) -> Result<FileCache<K, V>, ConfigError> {
        ConfigError::check_bounds(self.maxsize, self.max_bytes, self.ttl)?;
        if let Some(l) = self.compression_level
            && !(-7..=22).contains(&l)
        {
            return Err(ConfigError::invalid(
                "compression_level",
                l,
                "an integer in -7..=22",
            ));
        }
        validate_folder_name(&self.folder_name)?;
        Ok(FileCache::from_builder(self))
    }
}
