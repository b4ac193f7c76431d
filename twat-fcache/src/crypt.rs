//! The encryption a builder settled on, turned into the store's cipher once the folder
//! exists (a passphrase needs the folder's salt).

use std::path::Path;

/// What the store seals entries with (feature `encrypt`).
#[cfg(feature = "encrypt")]
pub(crate) type Cipher = twat_cache_common::cipher::EntryCipher;
/// Without the `encrypt` feature there is no cipher.
#[cfg(not(feature = "encrypt"))]
pub(crate) type Cipher = std::convert::Infallible;

/// The builder's encryption plan (feature `encrypt`); `None` stores plain entries.
#[cfg(feature = "encrypt")]
pub(crate) type Encryption = twat_cache_common::cipher::Plan;
/// Without the `encrypt` feature there is nothing to plan.
#[cfg(not(feature = "encrypt"))]
pub(crate) type Encryption = std::convert::Infallible;

/// The cipher for a store in `folder` (which exists): `Ok(None)` for plain entries; `Err`
/// (why) makes the cache fall back to memory rather than store in clear what it was asked
/// to encrypt.
#[cfg(feature = "encrypt")]
pub(crate) fn cipher_for(
    plan: Option<&Encryption>,
    folder: &Path,
) -> Result<Option<Cipher>, String> {
    plan.map_or(Ok(None), |p| p.cipher_for_folder(folder))
}

#[cfg(not(feature = "encrypt"))]
pub(crate) fn cipher_for(
    _plan: Option<&Encryption>,
    _folder: &Path,
) -> Result<Option<Cipher>, String> {
    Ok(None)
}
