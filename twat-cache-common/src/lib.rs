//! The shared core of the twat-cache decorators.
//!
//! Every decorator crate (`twat-mcache`, `twat-bcache`, `twat-fcache`, `twat-acache`,
//! `twat-ucache`) re-exports the public names of this crate, so users rarely depend on it
//! directly.
//!
//! ```
//! use twat_cache_common::{Policy, parse_ttl};
//! use std::time::Duration;
//! assert_eq!("lru".parse::<Policy>().unwrap(), Policy::Lru);
//! assert_eq!(parse_ttl("1h30m").unwrap(), Duration::from_secs(5400));
//! ```
//!
//! # Public API vs internal
//!
//! The public API of this crate is the set of names every decorator crate shares, and
//! nothing else:
//!
//! | item | what it is |
//! |---|---|
//! | [`Policy`] | which entry a full cache evicts: `"lru"`, `"lfu"`, `"fifo"` |
//! | [`Backend`] | which storage engine is actually serving a cache |
//! | [`CacheStats`] | a snapshot of one cache's counters and state (serde-serializable) |
//! | [`ConfigError`] | a setting that cannot be used; names the field at fault |
//! | [`CacheError`] | a store that failed at run time |
//! | [`Namespace`] | who owns a set of entries in a shared store (a builder's `.namespace(..)`) |
//! | [`get_cache_path`] | the folder of a named cache under the cache root, created private |
//! | [`clear_all`], [`stats_all`] | every cache of this process: clear them, or list their stats |
//! | [`parse_ttl`] | a `ttl` from seconds or a duration string (`"90s"`, `"1h30m"`, `"1.5"`) |
//!
//! Everything else this crate makes `pub` (its modules `backend`, `cipher`, `clock`,
//! `codec`, `entry`, `env`, `error`, `flight`, `key`, `lockfile`, `macro_support`, `maintenance`, `manifest`, `paths`,
//! `policy`, `registry`, `stats`, `ttl`, the re-exports `Entry`, `EntryError`,
//! `SingleFlight`, `Claim`, `cache_root`, and a few methods of the types above) is
//! **internal**: public only because the sibling crates of this workspace (the decorator
//! crates, the macros, the CLI) are separate crates and share it. It is hidden from these
//! docs with `#[doc(hidden)]` and is not covered by semver: it changes whenever the
//! workspace needs it to, in any release. Reach the caches through the decorator crates,
//! which re-export what users need of it (for example the maintenance reports of
//! `twat_bcache::maintenance`); the internal modules are described in the repository's
//! `ARCHITECTURE.md`.

// Internal modules: `pub` for the sibling crates, hidden from the docs (see the crate
// documentation, "Public API vs internal"). The public items defined in them are
// re-exported below.
#[doc(hidden)]
pub mod backend;
#[cfg(feature = "encrypt")]
#[doc(hidden)]
pub mod cipher;
#[doc(hidden)]
pub mod clock;
#[doc(hidden)]
pub mod codec;
#[doc(hidden)]
pub mod entry;
#[doc(hidden)]
pub mod env;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod flight;
#[doc(hidden)]
pub mod freshness;
#[doc(hidden)]
pub mod key;
#[doc(hidden)]
pub mod lockfile;
#[doc(hidden)]
pub mod macro_support;
#[doc(hidden)]
pub mod maintenance;
#[doc(hidden)]
pub mod manifest;
#[doc(hidden)]
pub mod metrics;
#[doc(hidden)]
pub mod paths;
#[doc(hidden)]
pub mod policy;
#[doc(hidden)]
pub mod refresh;
#[doc(hidden)]
pub mod registry;
#[doc(hidden)]
pub mod stats;
#[doc(hidden)]
pub mod ttl;

// The public API.
pub use backend::Backend;
pub use error::{CacheError, ConfigError};
pub use key::Namespace;
pub use paths::get_cache_path;
pub use policy::Policy;
pub use registry::{clear_all, stats_all};
pub use stats::CacheStats;
pub use ttl::parse_ttl;

// Internal shortcuts used by the sibling crates.
#[doc(hidden)]
pub use entry::{Entry, EntryError};
#[doc(hidden)]
pub use flight::{Claim, SingleFlight};
#[doc(hidden)]
pub use paths::cache_root;
