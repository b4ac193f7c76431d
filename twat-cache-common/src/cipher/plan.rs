//! What a persistent cache's builder settles on for encryption ([`Plan`]), and the cipher
//! that plan gives a store once its folder is known.

use std::path::Path;

use super::{EntryCipher, KeySource, resolve};
use crate::ConfigError;

/// What a persistent cache's builder settled on for encryption.
///
/// ```
/// use twat_cache_common::cipher::{KEY_VAR, Plan, plan};
/// // SAFETY: each doc test runs in a process of its own, and this one has no other threads.
/// unsafe { std::env::remove_var(KEY_VAR) };
/// assert!(matches!(plan(None, false), Ok(Plan::Plain)));
/// unsafe { std::env::set_var(KEY_VAR, "hunter2") };
/// assert!(plan(None, false).is_err());
/// let Ok(Plan::Unusable(why)) = plan(None, true) else { panic!() };
/// assert!(why.contains("TWAT_CACHE_KEY") && !why.contains("hunter2"));
/// ```
#[derive(Debug, Clone)]
pub enum Plan {
    /// No key given and `TWAT_CACHE_KEY` unset: entries are stored unencrypted.
    Plain,
    /// Encrypt with this key (or passphrase, stretched once the folder is known).
    Encrypt(KeySource),
    /// `TWAT_CACHE_KEY` is malformed and the builder was told to fall back rather than
    /// fail (what the macros do): the cache serves from memory, for this reason.
    Unusable(String),
}

impl Plan {
    /// The cipher for a store in `folder` (which exists; a passphrase needs its salt):
    /// `Ok(None)` for plain entries, `Err` (why) when the cache must serve from memory
    /// rather than store in clear what it was asked to encrypt.
    ///
    /// ```
    /// use twat_cache_common::cipher::{CacheKey, KeySource, Plan};
    /// let dir = tempfile::tempdir().unwrap();
    /// assert!(Plan::Plain.cipher_for_folder(dir.path()).unwrap().is_none());
    /// let key = KeySource::Key(CacheKey::from_bytes([7; 32]));
    /// assert!(Plan::Encrypt(key).cipher_for_folder(dir.path()).unwrap().is_some());
    /// assert!(Plan::Unusable("bad key".into()).cipher_for_folder(dir.path()).is_err());
    /// ```
    pub fn cipher_for_folder(&self, folder: &Path) -> Result<Option<EntryCipher>, String> {
        match self {
            Plan::Plain => Ok(None),
            Plan::Encrypt(source) => Ok(Some(EntryCipher::new(&source.key_for_folder(folder)?))),
            Plan::Unusable(why) => Err(why.clone()),
        }
    }
}

/// Settles a builder's encryption: its explicit key source, else `TWAT_CACHE_KEY`. A
/// malformed variable is an `Err` naming `TWAT_CACHE_KEY`, or with `lenient` a
/// [`Plan::Unusable`] (so a decorated function keeps working, from memory, instead of
/// panicking; nothing is written unencrypted). An empty explicit passphrase is an `Err`
/// naming `passphrase`.
///
/// ```
/// use twat_cache_common::cipher::{plan, KeySource, Plan};
/// use twat_cache_common::cipher::Zeroizing;
/// let empty = KeySource::Passphrase(Zeroizing::new(String::new()));
/// assert_eq!(plan(Some(empty), false).unwrap_err().field(), "passphrase");
/// let p = KeySource::Passphrase(Zeroizing::new("s3cret".into()));
/// assert!(matches!(plan(Some(p), false), Ok(Plan::Encrypt(_))));
/// ```
pub fn plan(explicit: Option<KeySource>, lenient: bool) -> Result<Plan, ConfigError> {
    if let Some(KeySource::Passphrase(p)) = &explicit
        && p.is_empty()
    {
        return Err(ConfigError::invalid(
            "passphrase",
            "\"\"",
            "a non-empty passphrase",
        ));
    }
    match resolve(explicit) {
        Ok(None) => Ok(Plan::Plain),
        Ok(Some(s)) => Ok(Plan::Encrypt(s)),
        Err(e) if lenient => Ok(Plan::Unusable(format!(
            "{e}; not storing entries unencrypted"
        ))),
        Err(e) => Err(e),
    }
}
