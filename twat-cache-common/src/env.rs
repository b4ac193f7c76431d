//! Environment variables: `TWAT_CACHE_DISABLE`, `TWAT_CACHE_DIR`, `TWAT_CACHE_KEY`.

/// The variable that turns every decorator into a plain call (`TWAT_CACHE_DISABLE=1`).
pub const DISABLE_VAR: &str = "TWAT_CACHE_DISABLE";
/// The variable that sets the cache root folder.
pub const DIR_VAR: &str = "TWAT_CACHE_DIR";
/// The variable holding the key (or `passphrase:...`) that persistent caches encrypt their
/// entries with, when they are built with the `encrypt` feature and given no key of their
/// own. See `cipher::KeySource::parse` (feature `encrypt`) for the accepted forms.
pub const KEY_VAR: &str = "TWAT_CACHE_KEY";

/// Whether `TWAT_CACHE_KEY` is set (to anything). Builds without the `encrypt` feature use
/// this to warn that the variable is ignored.
///
/// ```
/// let set = twat_cache_common::env::key_var_set();
/// assert_eq!(set, std::env::var_os("TWAT_CACHE_KEY").is_some());
/// ```
pub fn key_var_set() -> bool {
    std::env::var_os(KEY_VAR).is_some()
}

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

/// Logs one warning per crate and process when `TWAT_CACHE_KEY` is set but `krate` was
/// built without its `encrypt` feature, so its entries are stored unencrypted.
///
/// ```
/// twat_cache_common::env::warn_if_key_ignored("doc-crate"); // silent unless the variable is set
/// ```
pub fn warn_if_key_ignored(krate: &'static str) {
    if !key_var_set() {
        return;
    }
    static WARNED: parking_lot::Mutex<Vec<&'static str>> = parking_lot::Mutex::new(Vec::new());
    let mut warned = WARNED.lock();
    if !warned.contains(&krate) {
        warned.push(krate);
        log::warn!(
            "{krate}: {KEY_VAR} is set, but {krate} was built without its `encrypt` feature: \
             entries are stored unencrypted"
        );
    }
}
