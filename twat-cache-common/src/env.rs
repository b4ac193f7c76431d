//! Environment variables: `TWAT_CACHE_DISABLE`, `TWAT_CACHE_DIR`.

/// The variable that turns every decorator into a plain call (`TWAT_CACHE_DISABLE=1`).
pub const DISABLE_VAR: &str = "TWAT_CACHE_DISABLE";
/// The variable that sets the cache root folder.
pub const DIR_VAR: &str = "TWAT_CACHE_DIR";

/// Whether `TWAT_CACHE_DISABLE` is set to a true value (`1`, `true`, `yes`, `on`).
///
/// Read once per process: decorated functions check it on every call, so it must be cheap.
///
/// ```
/// // Unset in doc tests, so decorators cache.
/// assert!(!twat_cache_common::env::caching_disabled() || std::env::var("TWAT_CACHE_DISABLE").is_ok());
/// ```
#[inline]
pub fn caching_disabled() -> bool {
    use std::sync::OnceLock;
    static DISABLED: OnceLock<bool> = OnceLock::new();
    *DISABLED.get_or_init(|| {
        std::env::var(DISABLE_VAR)
            .map(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "on"
                )
            })
            .unwrap_or(false)
    })
}
