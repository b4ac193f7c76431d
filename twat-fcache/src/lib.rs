//! `#[fcache]`: memoization into one file per entry, shared by processes, written
//! atomically, optionally lz4-compressed.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # unsafe { std::env::set_var("TWAT_CACHE_DIR", dir.path()) };
//! use twat_fcache::fcache;
//!
//! #[fcache(compress = true, maxsize = 10_000)]
//! fn render_tile(z: u8, x: u32, y: u32) -> Vec<u8> {
//!     vec![z; (x + y) as usize]                // something slow, in real life
//! }
//!
//! assert_eq!(render_tile(3, 2, 1), vec![3, 3, 3]);
//! assert_eq!(render_tile(3, 2, 1), vec![3, 3, 3]);    // read back from its file
//! let stats = render_tile_cache().stats();
//! assert_eq!((stats.hits, stats.misses), (1, 1));
//! # #[cfg(feature = "files")]
//! assert_eq!(render_tile_cache().backend(), twat_fcache::Backend::Files);
//! ```
//!
//! The macro is sugar over [`FileCache`], which works on its own:
//!
//! ```
//! use twat_fcache::FileCache;
//! let dir = tempfile::tempdir().unwrap();
//! let cache = FileCache::<String, String>::builder()
//!     .cache_dir(dir.path())
//!     .folder_name("pages")
//!     .build()
//!     .unwrap();
//! cache.insert("/".into(), "<html>".into());
//! assert_eq!(cache.get("/").as_deref(), Some("<html>"));
//! ```
//!
//! # On disk
//!
//! ```text
//! <root>/<folder_name>/twat-cache.files.json           kind and layout version
//! <root>/<folder_name>/twat-cache.salt                 passphrase salt (feature `encrypt`)
//! <root>/<folder_name>/<namespace>/namespace.json      which function (for the CLI)
//! <root>/<folder_name>/<namespace>/<ab>/<ab…32 hex>    one entry: header, key, payload, checksum
//! <root>/<folder_name>/locks/<32 hex>.lock             lock = true: a key being computed
//! ```
//!
//! `<root>` is `cache_dir` if given, else `$TWAT_CACHE_DIR`, else `~/.cache/twat_cache`
//! (the platform cache directory). The namespace is 16 hex digits of a hash of the
//! function's identity (crate, module, name, `version`, code), so editing a function
//! starts it afresh. Directories are 0700 and files 0600 on Unix.
//!
//! - **Writes** go to `.tmp-*.part` in the entry's directory and are renamed into place:
//!   a reader sees the old entry or the new one, never a part; concurrent writers of one
//!   key are fine (the last rename wins). Temporary files left by a killed writer are
//!   removed by the next open once they are five minutes old.
//! - **Reads** check the length fields, an xxh3 checksum and the full stored key: a
//!   damaged, truncated, empty or foreign file is a miss, and is removed.
//! - **Compression** (`compress = true`): lz4 (pure Rust `lz4_flex`), chosen over zstd for
//!   decode speed (3.2 GB/s vs 2.1 GB/s on 1 MiB of JSON, 1.0 µs vs 10.6 µs for 4 KiB) and
//!   a build without a C compiler, at the price of ratio (4.2× vs 7.1×); see the README.
//!   Payloads that shrink less than 5% are stored raw. The uncompressed length in front of
//!   the block is checked against 255 × the compressed size and 2 GiB before anything is
//!   allocated.
//! - **Bounds** (`maxsize`, `max_bytes`) remove the oldest entries first, and **ttl** is
//!   written into each entry. Both work from an index built by one directory scan at open
//!   and kept up to date by writes; the directory is rescanned at most once a minute.
//! - **Fallback**: a folder that cannot be used (not creatable, not writable, a newer
//!   layout) makes the cache serve from a [`MemoryCache`], with
//!   one `log::warn!`; so does building without the `files` feature (default on).
//! - **Cross-process single-flight** (`lock = true`, off by default): a miss is computed
//!   once across processes: the computing thread takes an exclusive `flock` on
//!   `<folder>/locks/<key digest>.lock`, reads the entry again, and computes only if it
//!   is still missing. A killed holder's lock is released by the kernel. Lock files are
//!   removed after use (see [`twat_cache_common::lockfile`] for why that is race-free).
//!   Hits never touch a lock; a lock that cannot be taken is warned about once and the
//!   call computes without it.
//! - **Absorbed failures**: a write or read that fails while the cache runs (full disk,
//!   read-only or deleted folder, permissions changed) costs the entry, not the call: the
//!   value is returned, the failure counted in `stats().write_errors` /
//!   `stats().read_errors` and described in `stats().last_error`, with one `log::warn!`
//!   per kind per cache. A folder deleted while open is recreated by the next write.
//! - **Refused folders**: a cache folder that is a symbolic link or (on Unix) owned by
//!   another user falls back to memory; `fallback_reason` names it and says why. The
//!   cache *root* may be a symlink (e.g. `~/.cache` moved to another disk).
//!
//! # Encryption at rest (feature `encrypt`)
//!
//! With the `encrypt` feature and a key, every entry's payload is sealed with
//! XChaCha20-Poly1305 (after compression, when that is on). Off unless a key is given:
//! [`FileCacheBuilder`]'s `encryption_key` (32 bytes), its `passphrase` (stretched by
//! Argon2id with a random salt kept in `<folder>/twat-cache.salt`, 0600), or, for a builder
//! given neither and for `#[fcache]`, the environment variable `TWAT_CACHE_KEY` (64 hex
//! digits, base64 of 32 bytes, or `passphrase:...`). A malformed `TWAT_CACHE_KEY` fails
//! [`build`](FileCacheBuilder::build) with a `ConfigError` naming it; a decorated function
//! serves from memory instead (one warning), and never writes in clear.
//!
//! - Each file gets a random 24-byte nonce; the payload is nonce ‖ ciphertext ‖ tag (40
//!   bytes more) and the entry's `ENCRYPTED` flag is set. The associated data is the
//!   entry's version, flags, times and full stored key: a file copied to another key's
//!   name, or with an edited header, does not open.
//! - A wrong key, a tampered byte, a plaintext file read with a key, or an encrypted file
//!   read without one is a miss, and the file is removed (logged at `debug`); the value is
//!   recomputed. Never garbage, never a panic.
//! - Keys are zeroized on drop and never logged. What is *not* hidden: the arguments (each
//!   file keeps its stored key in clear, and the file name is its digest), value sizes,
//!   and times. All processes sharing a folder must use the same key.
//!
//! ```
//! # #[cfg(feature = "encrypt")] {
//! use twat_fcache::FileCache;
//! let dir = tempfile::tempdir().unwrap();
//! let cache = FileCache::<String, String>::builder()
//!     .cache_dir(dir.path())
//!     .compress(true)
//!     .encryption_key([42; 32])
//!     .build()
//!     .unwrap();
//! cache.insert("user:1".into(), "alice@example.com".into());
//! assert_eq!(cache.get("user:1").as_deref(), Some("alice@example.com"));
//! let other = FileCache::<String, String>::builder()
//!     .cache_dir(dir.path())
//!     .encryption_key([7; 32])
//!     .build()
//!     .unwrap();
//! assert_eq!(other.get("user:1"), None, "another key: a miss, not the value");
//! # }
//! ```
//!
//! `lock = true` adds cross-process single-flight: processes missing the same key at the
//! same time compute it once (a lock file per key, released by the kernel if the holder
//! dies).

// Lets code generated by `#[fcache]` name `::twat_fcache` inside this crate's own tests.
#[allow(unused_extern_crates)]
extern crate self as twat_fcache;

mod builder;
mod changes;
#[cfg(feature = "files")]
mod compress;
#[cfg(feature = "files")]
mod entry_file;
#[cfg(feature = "files")]
mod folder;
#[cfg(feature = "files")]
mod index;
pub mod maintenance;
#[cfg(feature = "files")]
mod store;
#[cfg(not(feature = "files"))]
mod unavailable;

pub use builder::FileCacheBuilder;
#[cfg(feature = "files")]
pub use store::FileStore;
#[cfg(not(feature = "files"))]
pub use unavailable::FileStore;

/// Why a cache built without the `files` feature serves from memory.
pub const NO_FILES_FEATURE: &str = "twat-fcache was built without its `files` feature";

/// A persistent cache keeping one file per entry, shared by every process that opens the
/// same folder: the one persistent cache of `twat-cache-store` over [`FileStore`].
/// Cloning is cheap and shares the cache.
///
/// Entries are written to a temporary file and renamed into place, so readers never see a
/// partial file; every entry carries its full key and a checksum, so a damaged, truncated
/// or foreign file is a miss (and is removed), never a wrong value. When the folder cannot
/// be used the cache serves from memory instead (`backend()` says which,
/// `fallback_reason()` why).
///
/// ```
/// # #[cfg(feature = "files")] {
/// use twat_fcache::{Backend, FileCache};
/// let dir = tempfile::tempdir().unwrap();
/// let cache = FileCache::<String, Vec<u32>>::builder()
///     .cache_dir(dir.path())
///     .name("squares")
///     .build()
///     .unwrap();
/// assert_eq!(cache.backend(), Backend::Files);
/// let v = cache.get_or_insert_with("four".to_string(), || (0..4).map(|i| i * i).collect());
/// assert_eq!(v, vec![0, 1, 4, 9]);
/// assert_eq!(cache.get("four"), Some(vec![0, 1, 4, 9]));   // String keys are found by &str
///
/// // Another cache object on the same folder and name (e.g. another process) sees it.
/// let again = FileCache::<String, Vec<u32>>::builder()
///     .cache_dir(dir.path())
///     .name("squares")
///     .build()
///     .unwrap();
/// assert_eq!(again.get("four"), Some(vec![0, 1, 4, 9]));
/// assert!(again.remove("four"));
/// assert_eq!(cache.get("four"), None);
/// # }
/// ```
pub type FileCache<K, V> = twat_cache_store::PersistentCache<FileStore, K, V>;

/// The store a [`FileCache`] is served from, for direct access: see
/// [`FileCache::inner`](twat_cache_store::PersistentCache::inner).
pub type Inner<'a, K, V> = twat_cache_store::Inner<'a, FileStore, K, V>;

/// Facts about the on-disk layout, for tools such as the `twat-cache` CLI.
pub mod layout {
    /// The `kind` the manifest and `stats().kind` name.
    pub const KIND: &str = "files";
}
pub use twat_cache_common::{
    Backend, CacheError, CacheStats, ConfigError, Namespace, Policy, clear_all, get_cache_path,
    stats_all,
};
pub use twat_cache_macros::fcache;
pub use twat_mcache::MemoryCache;

/// Used by the code `#[fcache]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use std::sync::OnceLock;
    pub use std::time::Duration;
    pub use twat_cache_common::env::caching_disabled;
    pub use twat_cache_common::key::code_hash;
    pub use twat_cache_common::macro_support::*;
    pub use twat_cache_common::{Namespace, Policy};
}
