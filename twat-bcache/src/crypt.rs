//! The encryption settings a builder settled on, turned into the store's cipher once the
//! folder exists (a passphrase needs the folder's salt).

use std::path::Path;

use crate::LmdbCacheBuilder;

/// The cipher the store seals with: `Ok(None)` for plain entries; `Err` (why) makes the
/// cache fall back to memory rather than store entries it was asked to encrypt in clear.
#[cfg(feature = "encrypt")]
pub(crate) type Cipher = twat_cache_common::cipher::EntryCipher;
/// Without the `encrypt` feature there is no cipher.
#[cfg(not(feature = "encrypt"))]
pub(crate) type Cipher = std::convert::Infallible;

#[cfg(feature = "encrypt")]
pub(crate) fn cipher_for<K, V>(
    b: &LmdbCacheBuilder<K, V>,
    folder: &Path,
) -> Result<Option<Cipher>, String> {
    b.plan.cipher_for_folder(folder)
}

#[cfg(not(feature = "encrypt"))]
pub(crate) fn cipher_for<K, V>(
    _b: &LmdbCacheBuilder<K, V>,
    _folder: &Path,
) -> Result<Option<Cipher>, String> {
    Ok(None)
}
