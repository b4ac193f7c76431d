//! The shared core of the twat-cache decorators.
//!
//! Every decorator crate (`twat-mcache`, `twat-bcache`, `twat-fcache`, `twat-acache`,
//! `twat-ucache`) re-exports the public names of this crate, so users rarely depend on it
//! directly. One module per concept:
//!
//! | module | concept |
//! |---|---|
//! | [`policy`] | [`Policy`]: which entry a full cache evicts |
//! | [`backend`] | [`Backend`]: which storage engine is actually serving |
//! | [`error`] | [`ConfigError`] (bad settings) and [`CacheError`] (a store that failed) |
//! | [`ttl`] | parsing `ttl` values: seconds, or strings like `"1h30m"` |
//! | [`stats`] | [`CacheStats`] and the contention-free counters behind it |
//! | [`paths`] | [`get_cache_path`], folder-name validation, private directories |
//! | [`registry`] | the process-wide list behind [`clear_all`] and [`stats_all`] |
//! | [`flight`] | [`SingleFlight`]: concurrent misses on one key compute once |
//! | [`key`] | [`Namespace`] and stored keys for persistent caches |
//! | [`lockfile`] | per-key lock files: cross-process single-flight (`lock = true`) |
//! | [`entry`] | [`Entry`]: the checksummed on-disk record shared by bcache, fcache and Redis |
//! | [`codec`] | postcard encoding of keys and values |
//! | [`clock`] | deadlines as nanoseconds on a process-wide monotonic clock |
//! | [`mod@env`] | `TWAT_CACHE_DISABLE`, `TWAT_CACHE_KEY` and friends |
//! | [`maintenance`] | reports of `summary`/`clear`/`prune`/`verify` on cache folders (the CLI) |
//! | `cipher` | encryption at rest (feature `encrypt`): XChaCha20-Poly1305 entries, keys, `TWAT_CACHE_KEY` |
//!
//! ```
//! use twat_cache_common::{Policy, parse_ttl};
//! use std::time::Duration;
//! assert_eq!("lru".parse::<Policy>().unwrap(), Policy::Lru);
//! assert_eq!(parse_ttl("1h30m").unwrap(), Duration::from_secs(5400));
//! ```

pub mod backend;
#[cfg(feature = "encrypt")]
pub mod cipher;
pub mod clock;
pub mod codec;
pub mod entry;
pub mod env;
pub mod error;
pub mod flight;
#[doc(hidden)]
pub mod fuzzing;
pub mod key;
pub mod lockfile;
#[doc(hidden)]
pub mod macro_support;
pub mod maintenance;
pub mod paths;
pub mod policy;
pub mod registry;
pub mod stats;
pub mod ttl;

pub use backend::Backend;
pub use entry::{Entry, EntryError};
pub use error::{CacheError, ConfigError};
pub use flight::{Claim, SingleFlight};
pub use key::Namespace;
pub use paths::{cache_root, get_cache_path};
pub use policy::Policy;
pub use registry::{clear_all, stats_all};
pub use stats::CacheStats;
pub use ttl::parse_ttl;
