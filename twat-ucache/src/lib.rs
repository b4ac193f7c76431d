//! twat-cache in one crate: every decorator, the shared names, and `#[ucache]`, which picks
//! the cache that fits the function.
//!
//! ```
//! use twat_ucache::ucache;
//!
//! // No persistence asked for: served from memory.
//! #[ucache(maxsize = 100)]
//! fn square(x: u64) -> u64 { x * x }
//!
//! assert_eq!(square(12), 144);
//! assert_eq!(square(12), 144);
//! let stats = square_cache().stats();
//! assert_eq!((stats.hits, stats.misses), (1, 1));
//! assert_eq!(stats.kind, "memory");
//! assert_eq!(stats.selection.as_deref(), Some("no persistence asked for → memory"));
//! assert!(twat_ucache::stats_all().iter().any(|s| s.name.ends_with("::square")));
//! ```
//!
//! # Selection
//!
//! `#[ucache]` decides at compile time, from the function and its attributes:
//!
//! | the function / attributes | engine | cache type |
//! |---|---|---|
//! | `async fn` | acache (memory, or `preferred_engine`'s backend) | [`AsyncCache`] |
//! | `preferred_engine = "memory"` | mcache | [`MemoryCache`] |
//! | `preferred_engine = "lmdb"` | bcache | [`LmdbCache`] |
//! | `preferred_engine = "files"` | fcache | [`FileCache`] |
//! | `preferred_engine = "redis"` on a plain fn | acache's Redis store, synchronous | [`RedisCache`] |
//! | `compress = true` | fcache | [`FileCache`] |
//! | `folder_name = ".."` or `persist = true` | bcache | [`LmdbCache`] |
//! | none of these | mcache | [`MemoryCache`] |
//!
//! `use_async` is accepted for parity with the Python library: only an `async fn` can be
//! served by acache, so on a plain function it changes nothing. The chosen engine's own
//! backend chain then applies at run time (LMDB that cannot open its folder serves from
//! memory, and so on). `stats().selection` says which engine was picked and why;
//! `stats().backend` and `stats().fallback_reason` say what actually serves.
//!
//! An engine whose Cargo feature is off (`lmdb`, `files`, `redis`) is skipped: the
//! function is served from memory, the compiler warns at the attribute (a deprecation
//! warning naming the missing feature), and the cache's `fallback_reason` says why. An
//! `async fn` needs the `async` feature (on by default); without it `#[ucache]` on an
//! `async fn` is a compile error that says so.
//!
//! ```
//! use twat_ucache::ucache;
//! # let dir = tempfile::tempdir().unwrap();
//! # unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
//!
//! // Persistence asked for: LMDB (the `lmdb` feature is on by default).
//! #[ucache(folder_name = "ucache-doc", maxsize = 10_000)]
//! fn cube(x: u64) -> u64 { x * x * x }
//!
//! assert_eq!(cube(3), 27);
//! let stats = cube_cache().stats();
//! assert_eq!(stats.kind, "lmdb");
//! assert!(stats.selection.unwrap().contains("lmdb"));
//! ```
//!
//! # Features
//!
//! | feature | default | what it compiles in |
//! |---|---|---|
//! | `schnellru` | yes | the schnellru LRU behind [`MemoryCache`] (else the std-only map) |
//! | `lmdb` | yes | LMDB (heed) behind [`LmdbCache`] and acache's `"lmdb"` backend |
//! | `files` | yes | the file store behind [`FileCache`] and acache's `"files"` backend |
//! | `async` | yes | [`AsyncCache`], `#[acache]`, and `#[ucache]` on `async fn`s |
//! | `redis` | no | Redis and Redis Cluster: [`RedisCache`] and the Redis backend of [`AsyncCache`] (pulls tokio and the redis crate) |
//! | `encrypt` | no | encryption at rest of LMDB, file and Redis entries (key from the builders or `TWAT_CACHE_KEY`) |
//! | `cli` | no | the `twat-cache` command |
//!
//! Memory caching is always there: every other engine falls back to it.

/// The in-memory cache (`twat-mcache`): `MemoryCache`, and the `#[mcache]` attribute.
///
/// ```
/// use twat_ucache::mcache::{MemoryCache, Policy};
/// let cache = MemoryCache::<u32, u32>::builder().policy(Policy::Lfu).maxsize(10).build().unwrap();
/// assert_eq!(cache.get_or_insert_with(2, || 4), 4);
/// ```
pub mod mcache {
    pub use twat_mcache::*;
}

/// The LMDB cache (`twat-bcache`): `LmdbCache`, and the `#[bcache]` attribute. Without the
/// `lmdb` feature it serves from memory.
///
/// ```
/// use twat_ucache::bcache::LmdbCache;
/// let dir = tempfile::tempdir().unwrap();
/// let cache = LmdbCache::<u32, String>::builder()
///     .cache_dir(dir.path())
///     .folder_name("doc")
///     .build()
///     .unwrap();
/// assert_eq!(cache.get_or_insert_with(1, || "one".into()), "one");
/// ```
pub mod bcache {
    pub use twat_bcache::*;
}

/// The file cache (`twat-fcache`): `FileCache`, and the `#[fcache]` attribute. Without the
/// `files` feature it serves from memory.
///
/// ```
/// use twat_ucache::fcache::FileCache;
/// let dir = tempfile::tempdir().unwrap();
/// let cache = FileCache::<u32, Vec<u8>>::builder()
///     .cache_dir(dir.path())
///     .folder_name("doc")
///     .compress(true)
///     .build()
///     .unwrap();
/// assert_eq!(cache.get_or_insert_with(1, || vec![7; 1000]).len(), 1000);
/// ```
pub mod fcache {
    pub use twat_fcache::*;
}

/// The async cache (`twat-acache`, feature `async`): `AsyncCache`, and the `#[acache]`
/// attribute.
///
/// ```
/// use twat_ucache::acache::AsyncCache;
/// let cache = AsyncCache::<u32, u32>::builder().maxsize(100).build().unwrap();
/// futures_executor::block_on(async {
///     assert_eq!(cache.get_or_insert_with(3, async { 9 }).await, 9);
/// });
/// ```
#[cfg(feature = "async")]
pub mod acache {
    pub use twat_acache::*;
}

#[cfg(feature = "async")]
pub use twat_acache::{AsyncCache, RedisCache, RedisCacheBuilder, acache};
pub use twat_bcache::{LmdbCache, bcache};
pub use twat_cache_common::{
    Backend, CacheError, CacheStats, ConfigError, Namespace, Policy, clear_all, get_cache_path,
    stats_all,
};
pub use twat_cache_macros::ucache;
pub use twat_fcache::{FileCache, fcache};
pub use twat_mcache::{MemoryCache, mcache};

/// The environment variables every cache reads.
///
/// ```
/// assert_eq!(twat_ucache::env::DIR_VAR, "TWAT_CACHE_DIR");
/// assert_eq!(twat_ucache::env::DISABLE_VAR, "TWAT_CACHE_DISABLE");
/// ```
pub mod env {
    pub use twat_cache_common::env::{DIR_VAR, DISABLE_VAR, caching_disabled};
}

/// Used by the code `#[ucache]` generates: one constant per engine, deprecated when the
/// engine's feature is off so that the compiler warns at the attribute that picked it.
/// Not a public API.
#[doc(hidden)]
pub mod __engines {
    /// Holds the constants. Generic so that a constant that fails to evaluate (`ASYNC`
    /// without the `async` feature) fails only where a function uses it.
    pub struct Engine<T>(std::marker::PhantomData<T>);

    impl<T> Engine<T> {
        /// The memory engine is always compiled in.
        pub const MEMORY: () = ();

        /// LMDB is compiled in.
        #[cfg(feature = "lmdb")]
        pub const LMDB: () = ();
        /// LMDB is compiled out.
        #[cfg(not(feature = "lmdb"))]
        #[deprecated(
            note = "#[ucache] picked LMDB, but twat-ucache's `lmdb` feature is off: this function is cached in memory"
        )]
        pub const LMDB: () = ();

        /// The file store is compiled in.
        #[cfg(feature = "files")]
        pub const FILES: () = ();
        /// The file store is compiled out.
        #[cfg(not(feature = "files"))]
        #[deprecated(
            note = "#[ucache] picked the file cache, but twat-ucache's `files` feature is off: this function is cached in memory"
        )]
        pub const FILES: () = ();

        /// acache is compiled in.
        #[cfg(feature = "async")]
        pub const ASYNC: () = ();
        /// acache is compiled out: `#[ucache]` cannot serve an `async fn`.
        #[cfg(not(feature = "async"))]
        pub const ASYNC: () = panic!(
            "#[ucache] on an `async fn` needs twat-ucache's `async` feature (on by default)"
        );

        /// Redis is compiled in.
        #[cfg(feature = "redis")]
        pub const REDIS: () = ();
        /// Redis is compiled out, and with it acache, which holds `RedisCache`.
        #[cfg(not(feature = "async"))]
        pub const REDIS: () =
            panic!("#[ucache(preferred_engine = \"redis\")] needs twat-ucache's `redis` feature");
        /// Redis is compiled out.
        #[cfg(all(feature = "async", not(feature = "redis")))]
        #[deprecated(
            note = "#[ucache] picked Redis, but twat-ucache's `redis` feature is off: this function is cached in memory"
        )]
        pub const REDIS: () = ();
    }
}
