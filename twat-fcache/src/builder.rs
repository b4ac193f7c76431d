//! [`FileCacheBuilder`]: every method is named after the `#[fcache]` attribute it mirrors.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
#[cfg(feature = "encrypt")]
use twat_cache_common::cipher::{CacheKey, KeySource, Plan, Zeroizing};
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
    /// The key (or passphrase) given to the builder (feature `encrypt`).
    #[cfg(feature = "encrypt")]
    pub(crate) key: Option<KeySource>,
    /// What `build` settled on: explicit key, `TWAT_CACHE_KEY`, or nothing.
    #[cfg(feature = "encrypt")]
    pub(crate) plan: Plan,
    pub(crate) env_key_fallback: bool,
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
            #[cfg(feature = "encrypt")]
            key: None,
            #[cfg(feature = "encrypt")]
            plan: Plan::Plain,
            env_key_fallback: false,
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

    /// Encrypts every entry with this 256-bit key (feature `encrypt`): XChaCha20-Poly1305,
    /// a random nonce per entry, the entry's header and full stored key as associated data;
    /// compression (if on) happens first. Overrides `TWAT_CACHE_KEY`. Files written without
    /// this key (or unencrypted) are misses, and are removed. See the crate docs,
    /// "Encryption at rest".
    ///
    /// ```
    /// use twat_fcache::FileCache;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = FileCache::<u32, String>::builder()
    ///     .cache_dir(dir.path())
    ///     .encryption_key([7; 32])     // in real life: 32 random bytes from a secret store
    ///     .build()
    ///     .unwrap();
    /// cache.insert(1, "secret".into());
    /// assert_eq!(cache.get(&1).as_deref(), Some("secret"));
    /// assert_eq!(cache.encrypted(), cfg!(feature = "files"));
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
    /// use twat_fcache::FileCache;
    /// let dir = tempfile::tempdir().unwrap();
    /// let cache = FileCache::<u32, u32>::builder()
    ///     .cache_dir(dir.path())
    ///     .passphrase("correct horse battery staple")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cache.get_or_insert_with(2, || 4), 4);
    /// if cfg!(feature = "files") {
    ///     assert!(dir.path().join("default/twat-cache.salt").is_file());
    /// }
    /// assert!(FileCache::<u8, u8>::builder().passphrase("").build().is_err());
    /// ```
    #[cfg(feature = "encrypt")]
    pub fn passphrase(mut self, passphrase: impl Into<String>) -> Self {
        self.key = Some(KeySource::Passphrase(Zeroizing::new(passphrase.into())));
        self
    }

    /// How a malformed `TWAT_CACHE_KEY` is handled: `false` (the default) fails
    /// [`build`](Self::build) with a `ConfigError` naming it; `true` (what `#[fcache]`
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

    /// Why `#[ucache]` picked this engine (reported in stats).
    #[doc(hidden)]
    pub fn selection(mut self, why: impl Into<String>) -> Self {
        self.selection = Some(why.into());
        self
    }

    /// Checks the settings and opens the cache. `Err` only for settings that can never
    /// work (including an empty passphrase, and a malformed `TWAT_CACHE_KEY` with feature
    /// `encrypt`); an unusable folder falls back to memory with one `log::warn!`.
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
        #[cfg_attr(not(feature = "encrypt"), allow(unused_mut))]
        let mut b = self;
        #[cfg(feature = "encrypt")]
        {
            b.plan = twat_cache_common::cipher::plan(b.key.take(), b.env_key_fallback)?;
        }
        #[cfg(not(feature = "encrypt"))]
        twat_cache_common::env::warn_if_key_ignored("twat-fcache");
        Ok(FileCache::from_builder(b))
    }
}
