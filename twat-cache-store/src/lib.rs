//! Internal crate of twat-cache: the [`Store`] contract and [`PersistentCache`], the one
//! persistent cache over it.
//!
//! Users reach this through `twat-bcache` (`LmdbCache` = `PersistentCache<LmdbStore, K,
//! V>`), `twat-fcache` (`FileCache` = `PersistentCache<FileStore, K, V>`) and the crates
//! above them; nothing here is a stable API of its own.
//!
//! | module | concept |
//! |---|---|
//! | [`store`] | [`Store`]: where bytes live (lookup, put, touch, remove, clear, len/bytes, sweep) |
//! | [`cache`] | [`PersistentCache`]: typed values, single-flight, counting, the memory fallback, locks, LRU reads, the registry |
//! | [`options`] | [`Options`]: the settings every persistent builder shares, and their setters |
//! | [`freshness`] | the freshness rules (stale-while-revalidate, stale-if-error, XFetch, tti, ttl_of, force_refresh) over any store: stamped payloads, the hooks of [`PersistentCache`] |
//! | [`crypt`] | sealing and opening payloads with the store's cipher (no `cfg` in stores) |
//! | [`unavailable`] | the stand-in for a store compiled out by its feature |
//! | [`value`] | values to payloads and back (postcard; a fast path for `Vec<u8>`) |
//!
//! A store is one module implementing [`Store`], plus its line in the conformance suite
//! of `twat-cache-testkit`, which runs the same scenarios against every store.
//!
//! ```
//! use twat_cache_store::{Options, Store};
//! use twat_cache_common::Policy;
//! let mut options = Options { maxsize: Some(10), ..Options::default() };
//! assert!(options.check("doc", &[Policy::Lru, Policy::Fifo]).is_ok());
//! ```

pub mod cache;
pub mod crypt;
pub mod freshness;
pub mod options;
pub mod store;
mod tier;
pub mod unavailable;
pub mod value;

pub use cache::{Inner, PersistentCache};
pub use options::{Cipher, Opening, Options, StoreBuilder};
pub use store::{Digest, Found, Payload, Store, Stored};

// Paths the `shared_builder_methods!` expansion names, so that callers need no imports.
#[doc(hidden)]
pub use twat_cache_common::Namespace as __Namespace;
#[doc(hidden)]
pub use twat_cache_common::Policy as __Policy;
#[cfg(feature = "encrypt")]
#[doc(hidden)]
pub use twat_cache_common::cipher as __cipher;
#[doc(hidden)]
pub use twat_cache_common::freshness_builder_methods as __freshness_builder_methods;
