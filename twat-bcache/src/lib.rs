//! `#[bcache]`: not built yet; see the issue tracker. Re-exports the shared names meanwhile.
//!
//! ```
//! let _ = twat_bcache::Policy::Lru;
//! ```
pub use twat_cache_common::{
    Backend, CacheError, CacheStats, ConfigError, Policy, clear_all, get_cache_path, stats_all,
};
