//! [`Options`]: the settings every persistent builder shares, and the setters that fill
//! them ([`shared_builder_methods!`](crate::shared_builder_methods)), written once.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(feature = "encrypt")]
use twat_cache_common::cipher::{KeySource, Plan};
use twat_cache_common::freshness::FreshnessConfig;
use twat_cache_common::paths::validate_folder_name;
use twat_cache_common::{ConfigError, Namespace, Policy};

/// What a store seals entries with (feature `encrypt`).
#[cfg(feature = "encrypt")]
pub type Cipher = twat_cache_common::cipher::EntryCipher;
/// Without the `encrypt` feature there is no cipher.
#[cfg(not(feature = "encrypt"))]
pub type Cipher = std::convert::Infallible;

/// The settings shared by every persistent builder (`LmdbCacheBuilder`,
/// `FileCacheBuilder`, ...). Each builder holds one in its `options` field and adds only
/// what its store needs; the setters are [`shared_builder_methods!`](crate::shared_builder_methods).
///
/// ```
/// let o = twat_cache_store::Options::default();
/// assert_eq!(o.folder_name(), "default");
/// assert!(o.single_flight && o.register && !o.lock);
/// ```
#[derive(Debug)]
pub struct Options {
    /// `maxsize`: at most this many entries.
    pub maxsize: Option<usize>,
    /// `ttl`: entries expire this long after they are stored.
    pub ttl: Option<Duration>,
    /// `policy`: which entry goes first when a bound is reached (default LRU).
    pub policy: Option<Policy>,
    /// `name`: the name in stats and the CLI, and the default namespace.
    pub name: Option<String>,
    /// Which entries of the folder are this cache's.
    pub namespace: Option<Namespace>,
    /// `folder_name`: the folder under the root (default `"default"`).
    pub folder: Option<String>,
    /// `cache_dir`: overrides the root.
    pub cache_dir: Option<PathBuf>,
    /// `max_bytes`: at most this many bytes of entries.
    pub max_bytes: Option<u64>,
    /// `l1`: keep this many most recently used entries in process memory too.
    pub l1: Option<usize>,
    /// `lock`: cross-process single-flight.
    pub lock: bool,
    /// In-process single-flight (default on).
    pub single_flight: bool,
    /// Whether the cache joins the registry (default on).
    pub register: bool,
    /// `#[ucache]`: why this engine was chosen.
    pub selection: Option<String>,
    /// The key (or passphrase) given to the builder (feature `encrypt`).
    #[cfg(feature = "encrypt")]
    pub key: Option<KeySource>,
    /// What `check` settled on: explicit key, `TWAT_CACHE_KEY`, or nothing.
    #[cfg(feature = "encrypt")]
    pub plan: Plan,
    /// A malformed `TWAT_CACHE_KEY` makes a memory cache instead of an error.
    pub env_key_fallback: bool,
    /// The freshness settings (`stale_while_revalidate`, `stale_if_error`, `early`,
    /// `tti`; whether `ttl_of` is set).
    pub freshness: FreshnessConfig,
    /// The typed freshness functions (`ttl_of`, `force_refresh`): a
    /// `twat_cache_common::freshness::Rules<K, V>`, see [`Options::rules_mut`].
    pub fresh_fns: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            maxsize: None,
            ttl: None,
            policy: None,
            name: None,
            namespace: None,
            folder: None,
            cache_dir: None,
            max_bytes: None,
            l1: None,
            lock: false,
            single_flight: true,
            register: true,
            selection: None,
            #[cfg(feature = "encrypt")]
            key: None,
            #[cfg(feature = "encrypt")]
            plan: Plan::Plain,
            env_key_fallback: false,
            freshness: FreshnessConfig::default(),
            fresh_fns: None,
        }
    }
}

impl Options {
    /// The folder name (`"default"` unless set).
    pub fn folder_name(&self) -> &str {
        self.folder.as_deref().unwrap_or("default")
    }

    /// Checks every shared setting (`crate` names the calling crate in warnings) and
    /// settles the encryption plan. `policies` are those the store honours.
    ///
    /// ```
    /// use twat_cache_store::Options;
    /// use twat_cache_common::Policy;
    /// let mut o = Options { policy: Some(Policy::Lfu), ..Options::default() };
    /// let e = o.check("doc", &[Policy::Lru, Policy::Fifo]).unwrap_err();
    /// assert_eq!(e.field(), "policy");
    /// ```
    pub fn check(&mut self, krate: &'static str, policies: &[Policy]) -> Result<(), ConfigError> {
        ConfigError::check_bounds(self.maxsize, self.max_bytes, self.ttl)?;
        self.freshness.check(self.ttl)?;
        if let Some(p) = self.policy
            && !policies.contains(&p)
        {
            return Err(ConfigError::invalid(
                "policy",
                format!("{p:?}"),
                "\"lru\" or \"fifo\" (persistent stores do not count uses, so no \"lfu\")",
            ));
        }
        if let Some(f) = &self.folder {
            validate_folder_name(f)?;
        }
        if self.l1 == Some(0) {
            return Err(ConfigError::invalid(
                "l1",
                "0",
                "a number of entries > 0 (leave it unset for no memory tier)",
            ));
        }
        #[cfg(feature = "encrypt")]
        {
            self.plan = twat_cache_common::cipher::plan(self.key.take(), self.env_key_fallback)?;
        }
        #[cfg(not(feature = "encrypt"))]
        twat_cache_common::env::warn_if_key_ignored(krate);
        let _ = krate;
        Ok(())
    }

    /// The cipher for a store in `folder` (which exists): `Ok(None)` for plain entries;
    /// `Err` (why) makes the cache fall back to memory rather than store in clear what it
    /// was asked to encrypt.
    pub fn cipher_for(&self, folder: &Path) -> Result<Option<Cipher>, String> {
        #[cfg(feature = "encrypt")]
        {
            self.plan.cipher_for_folder(folder)
        }
        #[cfg(not(feature = "encrypt"))]
        {
            let _ = folder;
            Ok(None)
        }
    }
}

/// What every persistent builder is, seen generically: its shared [`Options`] and the
/// cache it builds. Lets code written once (the conformance suite, `twat-ucache`) build any
/// store's cache.
pub trait StoreBuilder: Default + Sized {
    /// The store the cache is over.
    type Store: crate::Store;
    /// The cache's key type.
    type Key;
    /// The cache's value type.
    type Value;
    /// The shared settings.
    fn options_mut(&mut self) -> &mut Options;
    /// Checks the settings and builds the cache (the builder's own `build`).
    fn build_cache(self) -> Result<BuiltBy<Self>, ConfigError>;
}

/// The cache a [`StoreBuilder`] builds.
pub type BuiltBy<B> = crate::PersistentCache<
    <B as StoreBuilder>::Store,
    <B as StoreBuilder>::Key,
    <B as StoreBuilder>::Value,
>;

/// What a store is opened with: the folder and the settings it enforces itself.
#[derive(Debug)]
pub struct Opening<'a> {
    /// The cache folder (`root/folder_name`); may not exist yet. Empty for a store
    /// without a folder ([`Store::HAS_FOLDER`](crate::Store::HAS_FOLDER) false).
    pub folder: &'a Path,
    /// This cache's namespace.
    pub namespace: &'a Namespace,
    /// The cache's name (for log lines).
    pub name: &'a str,
    /// Entries expire this long after they are stored.
    pub ttl: Option<Duration>,
    /// At most this many entries.
    pub maxsize: Option<u64>,
    /// At most this many bytes.
    pub max_bytes: Option<u64>,
    /// Which entry goes first.
    pub policy: Policy,
    pub(crate) options: &'a Options,
}

impl<'a> Opening<'a> {
    /// What a store in `folder` for `namespace` is opened with, under `options` (already
    /// checked).
    ///
    /// ```
    /// use std::path::Path;
    /// use twat_cache_common::{Namespace, Policy};
    /// use twat_cache_store::{Opening, Options};
    /// let options = Options { maxsize: Some(3), ..Options::default() };
    /// let ns = Namespace::named("doc");
    /// let o = Opening::new(Path::new("/tmp/x"), &ns, &options);
    /// assert_eq!((o.maxsize, o.policy, o.name), (Some(3), Policy::Lru, "unnamed"));
    /// ```
    pub fn new(folder: &'a Path, namespace: &'a Namespace, options: &'a Options) -> Self {
        Opening {
            folder,
            namespace,
            name: options.name.as_deref().unwrap_or("unnamed"),
            ttl: options.ttl,
            maxsize: options.maxsize.map(|m| m as u64),
            max_bytes: options.max_bytes,
            policy: options.policy.unwrap_or(Policy::Lru),
            options,
        }
    }

    /// The cipher for this store, once its folder exists (see [`Options::cipher_for`]).
    pub fn cipher(&self) -> Result<Option<Cipher>, String> {
        self.options.cipher_for(self.folder)
    }

    /// The cipher for a store without a folder ([`Store::HAS_FOLDER`](crate::Store::HAS_FOLDER)
    /// false: Redis): the raw key, or the passphrase stretched with the fixed public
    /// `SHARED_SALT` (there is no folder to keep a random salt in). `Ok(None)`: plain.
    ///
    /// ```
    /// use std::path::Path;
    /// use twat_cache_common::Namespace;
    /// use twat_cache_store::{Opening, Options};
    /// let options = Options::default();
    /// let ns = Namespace::named("doc");
    /// assert!(Opening::new(Path::new(""), &ns, &options).cipher_without_folder().unwrap().is_none());
    /// ```
    pub fn cipher_without_folder(&self) -> Result<Option<Cipher>, String> {
        #[cfg(feature = "encrypt")]
        {
            use twat_cache_common::cipher::EntryCipher;
            match &self.options.plan {
                Plan::Plain => Ok(None),
                Plan::Encrypt(source) => source
                    .key_without_folder()
                    .map(|key| Some(EntryCipher::new(&key)))
                    .map_err(|e| e.to_string()),
                Plan::Unusable(why) => Err(why.clone()),
            }
        }
        #[cfg(not(feature = "encrypt"))]
        {
            Ok(None)
        }
    }
}

/// The setters every persistent builder shares, named after the decorator attributes.
/// Expand it inside `impl<K, V> XBuilder<K, V>` of a builder with an `options:
/// twat_cache_store::Options` field.
#[macro_export]
macro_rules! shared_builder_methods {
    () => {
        /// Keeps the `entries` most recently used entries in process memory as well: a hit
        /// there costs about what an `#[mcache]` hit costs. Store hits are promoted with
        /// their remaining ttl; this process's writes update both tiers; writes, removals
        /// and clears by other processes (and the CLI) empty the memory tier within a
        /// second. 0 is refused; unset (the default) means no memory tier.
        pub fn l1(mut self, entries: usize) -> Self {
            self.options.l1 = Some(entries);
            self
        }

        /// At most this many entries in this cache's namespace (a hard bound, counted
        /// across every process sharing the store); the [`policy`](Self::policy) picks
        /// which go first. Unbounded if never set; 0 is refused.
        pub fn maxsize(mut self, maxsize: usize) -> Self {
            self.options.maxsize = Some(maxsize);
            self
        }

        /// Entries expire this long after they are stored (wall-clock time, so the ttl
        /// holds across processes and restarts). A zero ttl is refused.
        pub fn ttl(mut self, ttl: ::std::time::Duration) -> Self {
            self.options.ttl = Some(ttl);
            self
        }

        /// Which entries go first when a bound is reached: `Policy::Lru` (the default:
        /// least recently read or written; reads are recorded in batches, so no hit pays
        /// a write) or `Policy::Fifo` (oldest written first). `Policy::Lfu` is refused by
        /// `build` with a `ConfigError` naming `policy`.
        pub fn policy(mut self, policy: $crate::__Policy) -> Self {
            self.options.policy = Some(policy);
            self
        }

        /// The name shown in stats and the CLI. Also the default namespace: two builder
        /// caches with the same name on the same folder share their entries (across
        /// processes too), so give caches of different key or value types different names.
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.options.name = Some(name.into());
            self
        }

        /// Which entries in the shared folder belong to this cache. Defaults to
        /// `Namespace::named(name)`; the decorators pass the function's namespace (crate,
        /// module, function, `version`, hash of its tokens).
        pub fn namespace(mut self, namespace: $crate::__Namespace) -> Self {
            self.options.namespace = Some(namespace);
            self
        }

        /// The folder under the cache root (or under [`cache_dir`](Self::cache_dir)).
        /// Default: `"default"`. Must be one plain path component.
        pub fn folder_name(mut self, folder_name: impl Into<String>) -> Self {
            self.options.folder = Some(folder_name.into());
            self
        }

        /// Overrides the cache root: the cache goes in `dir/<folder_name>`.
        pub fn cache_dir(mut self, dir: impl Into<::std::path::PathBuf>) -> Self {
            self.options.cache_dir = Some(dir.into());
            self
        }

        /// At most this many bytes of stored entries in this namespace; the
        /// [`policy`](Self::policy) picks which go first. A single value larger than the
        /// budget is returned but not stored. 0 is refused.
        pub fn max_bytes(mut self, max_bytes: u64) -> Self {
            self.options.max_bytes = Some(max_bytes);
            self
        }

        /// Cross-process single-flight (default: off). On a miss, after the in-process
        /// single-flight, the computing thread takes an exclusive lock on
        /// `<folder>/locks/<key digest>.lock` (`flock`), looks the key up again (another
        /// process may have just stored it), and only then computes and stores; so
        /// processes missing the same key at the same time compute it once. The kernel
        /// releases the lock of a process that dies, so a killed computation never wedges
        /// the others. Hits never touch the lock. If the lock file cannot be made, the
        /// cache computes without it, warns once, and reports it in `stats().last_error`.
        pub fn lock(mut self, lock: bool) -> Self {
            self.options.lock = lock;
            self
        }

        /// Whether concurrent misses on one key in this process wait for one computation
        /// (default: true).
        pub fn single_flight(mut self, on: bool) -> Self {
            self.options.single_flight = on;
            self
        }

        /// Encrypts every entry with this 256-bit key (feature `encrypt`):
        /// XChaCha20-Poly1305, a random nonce per entry, the entry's header and full
        /// stored key as associated data. Overrides `TWAT_CACHE_KEY`. Entries written
        /// without this key (or unencrypted) are misses, and are deleted.
        #[cfg(feature = "encrypt")]
        pub fn encryption_key(mut self, key: [u8; 32]) -> Self {
            self.options.key = Some($crate::__cipher::KeySource::Key(
                $crate::__cipher::CacheKey::from_bytes(key),
            ));
            self
        }

        /// Encrypts every entry with a key stretched from `passphrase` by Argon2id
        /// (feature `encrypt`), salted with 16 random bytes kept in the folder's
        /// `twat-cache.salt` (created 0600 on first use). Overrides `TWAT_CACHE_KEY`; an
        /// empty passphrase fails `build`.
        #[cfg(feature = "encrypt")]
        pub fn passphrase(mut self, passphrase: impl Into<String>) -> Self {
            self.options.key = Some($crate::__cipher::KeySource::Passphrase(
                $crate::__cipher::Zeroizing::new(passphrase.into()),
            ));
            self
        }

        /// How a malformed `TWAT_CACHE_KEY` is handled: `false` (the default) fails
        /// `build` with a `ConfigError` naming it; `true` (what the decorators ask for,
        /// since their cache is built on first call) makes the cache serve from memory
        /// with one warning. Either way nothing is stored unencrypted.
        #[doc(hidden)]
        pub fn env_key_fallback(mut self, on: bool) -> Self {
            self.options.env_key_fallback = on;
            self
        }

        /// Whether the cache joins the process registry behind `clear_all()` /
        /// `stats_all()` (default: true).
        #[doc(hidden)]
        pub fn register(mut self, on: bool) -> Self {
            self.options.register = on;
            self
        }

        $crate::__freshness_builder_methods!(
            this => config: this.options.freshness, rules: *this.options.rules_mut::<K, V>()
        );

        /// For `#[ucache]`: why this engine was chosen (shown in stats).
        #[doc(hidden)]
        pub fn selection(mut self, why: impl Into<String>) -> Self {
            self.options.selection = Some(why.into());
            self
        }
    };
}
