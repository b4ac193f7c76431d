//! Time: deadlines on a process-wide monotonic clock, and wall-clock milliseconds for
//! entries that outlive the process.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the process-wide epoch (monotonic). Never returns 0, which
/// [`deadline`] uses for "no expiry".
///
/// ```
/// let a = twat_cache_common::clock::now_nanos();
/// let b = twat_cache_common::clock::now_nanos();
/// assert!(a >= 1 && b >= a);
/// ```
pub fn now_nanos() -> u64 {
    epoch().elapsed().as_nanos() as u64 + 1
}

/// The monotonic deadline `ttl` from now, or 0 ("never") without a ttl.
///
/// ```
/// use std::time::Duration;
/// use twat_cache_common::clock::{deadline, now_nanos};
/// assert_eq!(deadline(None), 0);
/// assert!(deadline(Some(Duration::from_secs(1))) > now_nanos());
/// ```
#[inline]
pub fn deadline(ttl: Option<Duration>) -> u64 {
    match ttl {
        None => 0,
        Some(ttl) => now_nanos().saturating_add(ttl.as_nanos().min(u64::MAX as u128) as u64),
    }
}

/// Whether a deadline from [`deadline`] has passed at `now` (from [`now_nanos`]).
///
/// ```
/// use twat_cache_common::clock::is_expired;
/// assert!(is_expired(5, 5));
/// assert!(!is_expired(5, 4));
/// assert!(!is_expired(0, u64::MAX)); // 0 = never expires
/// ```
#[inline]
pub fn is_expired(deadline: u64, now: u64) -> bool {
    deadline != 0 && deadline <= now
}

/// Milliseconds since the Unix epoch: the clock of entries stored on disk or in Redis.
///
/// ```
/// assert!(twat_cache_common::clock::unix_millis() > 1_700_000_000_000);
/// ```
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}
