//! The storage engine that is actually serving a cache.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Which backend is serving a cache right now.
///
/// A cache that fell back (LMDB could not open, Redis was unreachable) reports the memory
/// backend it fell back to, and [`CacheStats::fallback_reason`](crate::CacheStats) says why.
///
/// ```
/// use twat_cache_common::Backend;
/// assert_eq!("lmdb".parse::<Backend>().unwrap(), Backend::Lmdb);
/// assert_eq!(Backend::Schnellru.to_string(), "schnellru");
/// assert!(Backend::Std.is_memory());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// In memory: sharded `schnellru` LRU maps (feature `schnellru`).
    Schnellru,
    /// In memory: the std-only implementation (LRU, LFU and FIFO).
    Std,
    /// On disk: an LMDB environment shared by processes.
    Lmdb,
    /// On disk: one file per entry.
    Files,
    /// A Redis server.
    Redis,
}

impl Backend {
    /// Every backend, in the order of the design's table.
    ///
    /// ```
    /// use twat_cache_common::Backend;
    /// assert_eq!(Backend::ALL.len(), 5);
    /// assert!(Backend::ALL.iter().all(|b| b.as_str().parse::<Backend>().unwrap() == *b));
    /// ```
    pub const ALL: [Backend; 5] = [
        Backend::Schnellru,
        Backend::Std,
        Backend::Lmdb,
        Backend::Files,
        Backend::Redis,
    ];

    /// The lowercase name.
    ///
    /// ```
    /// use twat_cache_common::Backend;
    /// assert_eq!(Backend::Files.as_str(), "files");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Schnellru => "schnellru",
            Backend::Std => "std",
            Backend::Lmdb => "lmdb",
            Backend::Files => "files",
            Backend::Redis => "redis",
        }
    }

    /// Whether this backend keeps entries in process memory.
    ///
    /// ```
    /// use twat_cache_common::Backend;
    /// assert!(Backend::Schnellru.is_memory());
    /// assert!(!Backend::Redis.is_memory());
    /// ```
    pub fn is_memory(self) -> bool {
        matches!(self, Backend::Schnellru | Backend::Std)
    }

    /// Whether entries survive the process (and are shared with other processes).
    ///
    /// ```
    /// use twat_cache_common::Backend;
    /// assert!(Backend::Lmdb.is_persistent());
    /// assert!(!Backend::Std.is_persistent());
    /// ```
    pub fn is_persistent(self) -> bool {
        !self.is_memory()
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Backend::ALL
            .into_iter()
            .find(|b| b.as_str() == lower)
            .ok_or_else(|| {
                ConfigError::invalid(
                    "backend",
                    s,
                    "\"schnellru\", \"std\", \"lmdb\", \"files\" or \"redis\"",
                )
            })
    }
}
