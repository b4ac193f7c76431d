//! [`LmdbCacheBuilder`]: every method is named after the `#[bcache]` attribute it mirrors.

use std::hash::Hash;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
#[cfg(feature = "encrypt")]
use twat_cache_common::cipher::{CacheKey, KeySource, Plan, Zeroizing};
use twat_cache_common::paths::validate_folder_name;
use twat_cache_common::{ConfigError, Namespace};

use crate::LmdbCache;

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
///     assert!(dir.path().join("pages/twat-cache.json").is_file());
/// }
/// assert!(LmdbCache::<u8, u8>::builder().maxsize(0).build().is_err());
/// assert!(LmdbCache::<u8, u8>::builder().folder_name("../up").build().is_err());
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `.build()`"]
pub struct LmdbCacheBuilder<K, V> {
    pub(crate) maxsize: Option<usize>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<Namespace>,
    pub(crate) folder_name: Option<String>,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) max_bytes: Option<u64>,
    pub(crate) durable: bool,
    pub(crate) map_size: Option<usize>,
    pub(crate) max_map_size: Option<usize>,
    pub(crate) lock: bool,
    pub(crate) single_flight: bool,
    pub(crate) register: bool,
    pub(crate) selection: Option<String>,
    /// The key (or passphrase) given to the builder (feature `encrypt`).
    #[cfg(feature = "encrypt")]
    pub(crate) key: Option<KeySource>,
    /// What `build` settled on: explicit key, `TWAT_CACHE_KEY`, or nothing.
    #[cfg(feature = "encrypt")]
    pub(crate) plan: Plan,
    pub(crate) env_key_fallback: bool,
    _types: PhantomData<fn(K) -> V>,
}

impl<K, V> Default for LmdbCacheBuilder<K, V> {
    fn default() -> Self {
        LmdbCacheBuilder {
            maxsize: None,
            ttl: None,
            name: None,
            namespace: None,
            folder_name: None,
            cache_dir: None,
            max_bytes: None,
            durable: false,
            map_size: None,
            max_map_size: None,
            lock: false,
            single_flight: true,
            register: true,
            selection: None,
            #[cfg(feature = "encrypt")]
            key: None,
            #[cfg(feature = "encrypt")]
            plan: Plan::Plain,
            env_key_fallback: false,
            _types: PhantomData,
        }
    }
}

impl<K, V> LmdbCacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Serialize + Send + Sync + 'static,
    V: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// At most this many entries in this cache's namespace (a hard bound, counted across
    /// every process sharing the folder); the oldest go first. Unbounded if never set;
    /// 0 is refused.
    pub fn maxsize(mut self, maxsize: usize) -> Self {
        self.maxsize = Some(maxsize);
        self
    }

    /// Entries expire this long after they are stored (wall-clock time, so the ttl holds
    /// across processes and restarts). A zero ttl is refused.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The name shown in stats and the CLI. Also the default namespace: two builder caches
    /// with the same name on the same folder share their entries (across processes too),
    /// so give caches of different key or value types different names.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Which entries in the shared folder belong to this cache. Defaults to
    /// `Namespace::named(name)`; `#[bcache]` passes the function's namespace (crate, module,
    /// function, `version`, hash of its tokens).
    pub fn namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = Some(namespace);
        self
    }

    /// The folder under the cache root (or under [`cache_dir`](Self::cache_dir)). Default:
    /// `"default"`. Must be one plain path component.
    pub fn folder_name(mut self, folder_name: impl Into<String>) -> Self {
        self.folder_name = Some(folder_name.into());
        self
    }

    /// Overrides the cache root: the cache goes in `dir/<folder_name>`.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// At most this many bytes of encoded entries in this namespace; the oldest go first.
    /// A single value larger than the budget is returned but not stored. 0 is refused.
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = Some(max_bytes);
        self
    }

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
    /// When the map is full at this size, a store first evicts this cache's oldest
    /// entries; if that does not make room the value is returned but not stored (counted
    /// in `stats().write_errors`). Rounded up to 64 KiB, at least 256 KiB; only the first
    /// cache to open a folder in a process sets it. 0 is refused.
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

    /// Cross-process single-flight (default: off). On a miss, after the in-process
    /// single-flight, the computing thread takes an exclusive lock on
    /// `<folder>/locks/<key digest>.lock` (std `File::lock`, i.e. `flock`), looks the key
    /// up again (another process may have just stored it), and only then computes and
    /// stores; so processes missing the same key at the same time compute it once. The
    /// kernel releases the lock of a process that dies, so a killed computation never
    /// wedges the others. Hits never touch the lock. If the lock file cannot be made
    /// (read-only folder, ...), the cache computes without it, warns once, and reports it
    /// in `stats().last_error`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let cache = twat_bcache::LmdbCache::<u32, u32>::builder()
    ///     .cache_dir(dir.path())
    ///     .lock(true)
    ///     .build()?;
    /// assert!(cache.lock());
    /// assert_eq!(cache.get_or_insert_with(1, || 2), 2);
    /// # Ok(()) }
    /// ```
    pub fn lock(mut self, lock: bool) -> Self {
        self.lock = lock;
        self
    }

    /// Whether concurrent misses on one key in this process wait for one computation
    /// (default: true).
    pub fn single_flight(mut self, on: bool) -> Self {
        self.single_flight = on;
        self
    }

    /// Encrypts every entry with this 256-bit key (feature `encrypt`): XChaCha20-Poly1305,
    /// a random nonce per entry, the entry's header and full stored key as associated data.
    /// Overrides `TWAT_CACHE_KEY`. Entries written without this key (or unencrypted) are
    /// misses, and are deleted. See the crate docs, "Encryption at rest".
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use twat_bcache::LmdbCache;
    /// let dir = tempfile::tempdir()?;
    /// let cache = LmdbCache::<u32, String>::builder()
    ///     .cache_dir(dir.path())
    ///     .encryption_key([7; 32])     // in real life: 32 random bytes from a secret store
    ///     .build()?;
    /// cache.insert(1, "secret".into());
    /// assert_eq!(cache.get(&1).as_deref(), Some("secret"));
    /// assert_eq!(cache.encrypted(), cfg!(feature = "lmdb"));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "encrypt")]
    pub fn encryption_key(mut self, key: [u8; 32]) -> Self {
        self.key = Some(KeySource::Key(CacheKey::from_bytes(key)));
        self
    }

    /// Encrypts every entry with a key stretched from `passphrase` by Argon2id (feature
    /// `encrypt`), salted with 16 random bytes kept in the folder's `twat-cache.salt`
    /// (created 0600 on first use). Stretching takes tens of milliseconds, once per process
    /// and folder. Overrides `TWAT_CACHE_KEY`; an empty passphrase fails `build`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use twat_bcache::LmdbCache;
    /// let dir = tempfile::tempdir()?;
    /// let cache = LmdbCache::<u32, u32>::builder()
    ///     .cache_dir(dir.path())
    ///     .passphrase("correct horse battery staple")
    ///     .build()?;
    /// assert_eq!(cache.get_or_insert_with(2, || 4), 4);
    /// if cfg!(feature = "lmdb") {
    ///     assert!(dir.path().join("default/twat-cache.salt").is_file());
    /// }
    /// assert!(LmdbCache::<u8, u8>::builder().passphrase("").build().is_err());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "encrypt")]
    pub fn passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.key = Some(KeySource::Passphrase(Zeroizing::new(passphrase.into())));
        self
    }

    /// How a malformed `TWAT_CACHE_KEY` is handled: `false` (the default) fails
    /// [`build`](Self::build) with a `ConfigError` naming it; `true` (what `#[bcache]`
    /// asks for, since its cache is built on first call) makes the cache serve from memory
    /// with one warning. Either way nothing is stored unencrypted.
    #[doc(hidden)]
    pub fn env_key_fallback(mut self, on: bool) -> Self {
        self.env_key_fallback = on;
        self
    }

    /// Whether the cache joins the process registry behind `clear_all()`/`stats_all()`
    /// (default: true).
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

    /// Checks the settings and builds the cache. Errors only for settings that can never
    /// work (`maxsize = 0`, a zero ttl, a bad folder name, an empty passphrase, a malformed
    /// `TWAT_CACHE_KEY` with feature `encrypt`, ...); a folder or LMDB that
    /// cannot be used makes a memory-backed cache, with one `log::warn!` and
    /// `stats().fallback_reason` saying why.
    pub fn build(self) -> Result<LmdbCache<K, V>, ConfigError> {
        ConfigError::check_bounds(self.maxsize, self.max_bytes, self.ttl)?;
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
        if let Some(f) = &self.folder_name {
            validate_folder_name(f)?;
        }
        #[cfg_attr(not(feature = "encrypt"), allow(unused_mut))]
        let mut b = self;
        #[cfg(feature = "encrypt")]
        {
            b.plan = twat_cache_common::cipher::plan(b.key.take(), b.env_key_fallback)?;
        }
        #[cfg(not(feature = "encrypt"))]
        twat_cache_common::env::warn_if_key_ignored("twat-bcache");
        Ok(LmdbCache::from_builder(b))
    }
}
