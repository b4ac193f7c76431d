//! `#[bcache]`: persistent memoization in an LMDB database on disk, shared by threads and
//! processes, falling back to memory when LMDB is compiled out or cannot start.
//!
//! ```
//! use twat_bcache::bcache;
//! # let dir = tempfile::tempdir().unwrap();
//! # unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
//!
//! #[bcache(folder_name = "doc-squares", ttl = "1h", maxsize = 100_000)]
//! fn square(n: u64) -> u64 {
//!     n * n // imagine something slow
//! }
//!
//! assert_eq!(square(12), 144);   // computed and stored in $TWAT_CACHE_DIR/doc-squares
//! assert_eq!(square(12), 144);   // read back (also by the next run of the program)
//! assert_eq!(square_cache().stats().hits, 1);
//! # if cfg!(feature = "lmdb") {
//! assert_eq!(square_cache().backend(), twat_bcache::Backend::Lmdb);
//! # }
//! ```
//!
//! `Result` functions store only `Ok`, `Option` functions only `Some`. The macro is sugar
//! over [`LmdbCache`], which works on its own:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use twat_bcache::LmdbCache;
//! let dir = tempfile::tempdir()?;
//! let cache = LmdbCache::<String, Vec<u8>>::builder()
//!     .cache_dir(dir.path())
//!     .folder_name("pages")
//!     .name("pages")
//!     .maxsize(10_000)
//!     .ttl(Duration::from_secs(60))
//!     .build()?;
//! let page = cache.get_or_insert_with("https://example.com".into(), || b"<html>".to_vec());
//! assert_eq!(cache.get("https://example.com"), Some(page));
//! # Ok(()) }
//! ```
//!
//! # How it stores
//!
//! - One LMDB environment per folder (`<root>/<folder_name>`; the root is
//!   `$TWAT_CACHE_DIR` or the platform cache directory + `twat_cache`, or
//!   [`cache_dir`](LmdbCacheBuilder::cache_dir)), opened once per process and shared by
//!   every cache and function using the folder. The folder holds `data.mdb`, `lock.mdb` and
//!   a manifest `twat-cache.lmdb.json` (`{"kind": "lmdb", "format_version": 2, ...}`), and with
//!   `lock = true` a `locks/` folder. Folders are created 0700, files 0600.
//! - Each cache owns a namespace (for `#[bcache]`: crate, module, function, `version` and a
//!   hash of the function's tokens, so editing the body invalidates old results). Entries
//!   are keyed by the namespace's 64-bit hash and a 128-bit digest of the stored key; the
//!   value is the shared checksummed [`Entry`](twat_cache_common::Entry) holding the full
//!   stored key, which is compared on read. Anything that does not decode is a miss, and is
//!   deleted. See [`LmdbStore`] for the four databases.
//! - `maxsize` (entries) and `max_bytes` are hard bounds per namespace, counted across
//!   processes; the oldest entries go first. `ttl` uses wall-clock time, so it holds across
//!   restarts; expired entries are misses, and a background sweeper deletes them in write
//!   transactions of at most 1000 deletes.
//! - Commits are not `fsync`ed one by one (`NO_SYNC`); a background thread syncs every
//!   second. A killed process loses nothing; a system crash may lose the newest entries.
//!   [`durable(true)`](LmdbCacheBuilder::durable) syncs every commit.
//! - The map starts at 1 GiB of address space (64 MiB on Windows, or
//!   [`map_size`](LmdbCacheBuilder::map_size)) and doubles when full, never under a live
//!   transaction of this process; other processes adopt the new size. Reader slots of
//!   dead processes are cleared at open and on every sweep.
//!
//! # Fallback
//!
//! - **Compile time**: without the `lmdb` feature (default on), [`LmdbCache`] is a
//!   [`MemoryCache`](twat_mcache::MemoryCache) underneath, and
//!   `stats().fallback_reason` is `"built without the `lmdb` feature"`.
//! - **Run time**: a folder that cannot be created or used (not a directory, not
//!   writable, holding another kind of cache, LMDB refusing to open it) makes the cache
//!   serve from memory, with one `log::warn!` naming the folder and why, and
//!   [`backend()`](LmdbCache::backend) reporting the memory backend. A folder that is ours
//!   but damaged is wiped and recreated.
//!
//! A cache never makes a call fail that would succeed without it: every store error is a
//! miss (and is logged at `debug`).
//!
//! # Encryption at rest (feature `encrypt`)
//!
//! With the `encrypt` feature and a key, every value is sealed with XChaCha20-Poly1305
//! before it reaches LMDB. Off unless a key is given: [`LmdbCacheBuilder`]'s
//! `encryption_key` (32 bytes), its `passphrase` (stretched by Argon2id with a random salt kept in the folder's
//! `twat-cache.salt`, 0600), or, for a builder given neither and for `#[bcache]`, the
//! environment variable `TWAT_CACHE_KEY` (64 hex digits, base64 of 32 bytes, or
//! `passphrase:...`). A malformed `TWAT_CACHE_KEY` fails [`build`] with a `ConfigError`
//! naming it; a decorated function serves from memory instead (one warning), and never
//! stores in clear.
//!
//! - Each entry gets a random 24-byte nonce; its payload is nonce ‖ ciphertext ‖ tag (40
//!   bytes more) and the entry's `ENCRYPTED` flag is set. The associated data is the
//!   entry's version, flags, times and full stored key, so an entry moved under another
//!   key or with an edited header does not open.
//! - A wrong key, a tampered byte, a plaintext entry read with a key, or an encrypted entry
//!   read without one is a miss, and the entry is deleted (logged at `debug`); the value is
//!   recomputed. Never garbage, never a panic.
//! - Keys are zeroized on drop and never logged. What is *not* hidden: the arguments (the
//!   stored key is kept in clear in each entry, and its digest is the LMDB key), value
//!   sizes, and times. All processes sharing a folder must use the same key.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "encrypt")] {
//! use twat_bcache::LmdbCache;
//! let dir = tempfile::tempdir()?;
//! let cache = LmdbCache::<String, String>::builder()
//!     .cache_dir(dir.path())
//!     .encryption_key([42; 32])
//!     .build()?;
//! cache.insert("user:1".into(), "alice@example.com".into());
//! assert_eq!(cache.get("user:1").as_deref(), Some("alice@example.com"));
//! // Another key sees a miss, not the value.
//! let other = LmdbCache::<String, String>::builder()
//!     .cache_dir(dir.path())
//!     .encryption_key([7; 32])
//!     .build()?;
//! assert_eq!(other.get("user:1"), None);
//! # }
//! # Ok(()) }
//! ```
//!
//! [`build`]: LmdbCacheBuilder::build
//!
//! # Cross-process single-flight (`lock = true`)
//!
//! Off by default. With [`lock(true)`](LmdbCacheBuilder::lock) (or `#[bcache(lock =
//! true)]`), a miss is computed once across processes, not only across threads: the
//! thread that computes for this process (in-process single-flight first) takes an
//! exclusive `flock` on `<folder>/locks/<key digest>.lock`, looks the key up again, and
//! computes and stores only if it is still missing. A process killed while computing
//! releases the lock with its death; the next waiter computes. Lock files are removed
//! after use (see [`twat_cache_common::lockfile`] for why that is race-free and why not
//! lock stripes). Hits never touch a lock. If the lock cannot be taken (read-only folder,
//! a file system without `flock`), the call computes without it and the cache warns once.
//!
//! # Absorbed failures
//!
//! A store that fails while the cache runs (full disk, a full map that may not grow past
//! [`max_map_size`](LmdbCacheBuilder::max_map_size), a folder made read-only) costs the
//! entry, not the call: the value is returned, the failure is counted in
//! `stats().write_errors` / `stats().read_errors`, described in `stats().last_error`, and
//! warned about once per cache. A folder deleted while open is noticed within about a
//! second (warned once, `stats().last_error`); this process then keeps its open, deleted
//! database until it exits, because LMDB cannot reopen a path that is still open.
//!
//! # Refused folders
//!
//! A cache folder that is a symbolic link, or (on Unix) owned by another user, is not
//! used: the cache serves from memory and `stats().fallback_reason` names the folder and
//! says why. The cache *root* may be a symlink (e.g. `~/.cache` moved to another disk).

// Lets code generated by `#[bcache]` name `::twat_bcache` inside this crate's own tests.
#[allow(unused_extern_crates)]
extern crate self as twat_bcache;

mod builder;
#[cfg(feature = "lmdb")]
mod env;
#[cfg(feature = "lmdb")]
mod folder;
pub mod maintenance;
#[cfg(feature = "lmdb")]
mod store;
#[cfg(not(feature = "lmdb"))]
mod unavailable;

pub use builder::LmdbCacheBuilder;
/// The heed crate this build uses, for direct access through [`LmdbCache::inner`].
#[cfg(feature = "lmdb")]
pub use heed;
#[cfg(feature = "lmdb")]
pub use store::LmdbStore;
#[cfg(not(feature = "lmdb"))]
pub use unavailable::LmdbStore;

/// Why a cache built without the `lmdb` feature serves from memory.
pub const NO_LMDB_FEATURE: &str = "built without the `lmdb` feature";

/// A persistent cache in an LMDB environment, shared by every thread and every process
/// that uses the same folder: the one persistent cache of `twat-cache-store` over
/// [`LmdbStore`]. Falls back to a memory cache when LMDB is compiled out (feature `lmdb`)
/// or cannot open the folder. Cloning is cheap and shares the cache.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use twat_bcache::LmdbCache;
/// let dir = tempfile::tempdir()?;
/// let cache = LmdbCache::<String, usize>::builder().cache_dir(dir.path()).build()?;
/// let len = cache.get_or_insert_with("hello".to_string(), || "hello".len());
/// assert_eq!(len, 5);
/// assert_eq!(cache.get("hello"), Some(5));          // String keys are found by &str
/// assert_eq!(cache.stats().misses, 1);
/// assert!(cache.remove("hello"));
/// assert!(cache.is_empty());
/// # Ok(()) }
/// ```
pub type LmdbCache<K, V> = twat_cache_store::PersistentCache<LmdbStore, K, V>;

/// The store a [`LmdbCache`] is served from, for direct access: see
/// [`LmdbCache::inner`](twat_cache_store::PersistentCache::inner).
pub type Inner<'a, K, V> = twat_cache_store::Inner<'a, LmdbStore, K, V>;
pub use twat_cache_common::{
    Backend, CacheError, CacheStats, ConfigError, Namespace, Policy, clear_all, get_cache_path,
    stats_all,
};
pub use twat_cache_macros::bcache;

/// Facts about the on-disk layout, for tools such as the `twat-cache` CLI.
pub mod layout {
    /// The manifest's file name inside a cache folder (see
    /// `twat_cache_common::manifest`).
    pub const MANIFEST: &str = "twat-cache.lmdb.json";
    /// The `kind` the manifest and `stats().kind` name.
    pub const KIND: &str = "lmdb";
    /// The folder format version written in the manifest. 2 added the `recency`
    /// database (LRU) and the shared manifest schema; format 1 folders are adopted in place.
    pub const FORMAT_VERSION: u32 = 2;
    /// Named LMDB databases: entries, eviction order, namespace names, counts, reads (LRU).
    pub const DATABASES: [&str; 5] = ["entries", "order", "namespaces", "counts", "recency"];
}

/// Used by the code `#[bcache]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use std::sync::OnceLock;
    pub use std::time::Duration;
    pub use twat_cache_common::env::caching_disabled;
    pub use twat_cache_common::key::code_hash;
    pub use twat_cache_common::macro_support::*;
    pub use twat_cache_common::{Namespace, Policy};
}
