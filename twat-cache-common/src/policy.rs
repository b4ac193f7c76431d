//! Eviction policies.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Which entry a full cache drops to make room.
///
/// Parsed from the strings the Python library uses (`"lru"`, `"lfu"`, `"fifo"`, any case).
///
/// ```
/// use twat_cache_common::Policy;
/// let p: Policy = "FIFO".parse().unwrap();
/// assert_eq!(p, Policy::Fifo);
/// assert_eq!(p.to_string(), "fifo");
/// assert!("mru".parse::<Policy>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Least recently used: a hit makes an entry young again.
    #[default]
    Lru,
    /// Least frequently used: the entry with the fewest hits goes first (ties: the oldest).
    Lfu,
    /// First in, first out: hits do not change the order.
    Fifo,
}

impl Policy {
    /// The names accepted by [`FromStr`], for error messages. Internal, for the macros and
    /// builders.
    ///
    /// ```
    /// use twat_cache_common::Policy;
    /// assert!(Policy::ALLOWED.contains("\"fifo\""));
    /// ```
    #[doc(hidden)]
    pub const ALLOWED: &'static str = "\"lru\", \"lfu\" or \"fifo\"";

    /// The lowercase name of the policy.
    ///
    /// ```
    /// use twat_cache_common::Policy;
    /// assert_eq!(Policy::Lfu.as_str(), "lfu");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Lru => "lru",
            Policy::Lfu => "lfu",
            Policy::Fifo => "fifo",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Policy {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "lru" => Ok(Policy::Lru),
            "lfu" => Ok(Policy::Lfu),
            "fifo" => Ok(Policy::Fifo),
            _ => Err(ConfigError::invalid("policy", s, Policy::ALLOWED)),
        }
    }
}
