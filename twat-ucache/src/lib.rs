//! twat-cache in one crate: every decorator and the shared names (`#[ucache]` and the CLI
//! are still to come).
//!
//! ```
//! use twat_ucache::mcache;
//!
//! #[mcache(maxsize = 100)]
//! fn square(x: u64) -> u64 { x * x }
//!
//! assert_eq!(square(12), 144);
//! assert_eq!(square_cache().len(), 1);
//! assert_eq!(twat_ucache::stats_all().iter().filter(|s| s.name.ends_with("::square")).count(), 1);
//! ```

/// The in-memory cache (`twat-mcache`): `MemoryCache`, and the `#[mcache]` attribute.
pub mod mcache {
    pub use twat_mcache::*;
}

/// The LMDB cache (`twat-bcache`): `LmdbCache`, and the `#[bcache]` attribute.
pub mod bcache {
    pub use twat_bcache::*;
}

/// The file cache (`twat-fcache`): `FileCache`, and the `#[fcache]` attribute.
pub mod fcache {
    pub use twat_fcache::*;
}

pub use twat_bcache::{LmdbCache, bcache};
pub use twat_cache_common::{
    Backend, CacheError, CacheStats, ConfigError, Policy, clear_all, get_cache_path, stats_all,
};
pub use twat_fcache::{FileCache, fcache};
pub use twat_mcache::{MemoryCache, mcache};
