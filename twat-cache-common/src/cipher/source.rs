//! Where a key comes from: [`KeySource`] (raw bytes or a passphrase), the forms
//! `TWAT_CACHE_KEY` takes, and the key a source gives for a folder or for Redis.

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use super::key::derive_once;
use super::{CacheKey, KEY_VAR, SALT_FILE, SHARED_SALT, folder_salt};
use crate::ConfigError;

const FIELD: &str = "TWAT_CACHE_KEY";
const KEY_FORMS: &str =
    "64 hex digits, base64 of 32 bytes, or `passphrase:` followed by a passphrase";

/// Where a cache's key comes from: raw bytes, or a passphrase to stretch with the salt of
/// the place the entries live. Cloning copies the secret (both copies zeroize on drop);
/// `Debug` does not show it.
///
/// ```
/// use twat_cache_common::cipher::KeySource;
/// assert!(matches!(KeySource::parse(&"0f".repeat(32)), Ok(KeySource::Key(_))));
/// assert!(matches!(KeySource::parse("passphrase:correct horse"), Ok(KeySource::Passphrase(_))));
/// let err = KeySource::parse("0f0f").unwrap_err();
/// assert_eq!(err.field(), "TWAT_CACHE_KEY");
/// assert!(!err.to_string().contains("0f0f"), "the value is not repeated");
/// ```
#[derive(Clone)]
pub enum KeySource {
    /// 32 raw key bytes.
    Key(CacheKey),
    /// A passphrase, stretched with Argon2id.
    Passphrase(Zeroizing<String>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Key(_) => f.write_str("KeySource::Key(<redacted>)"),
            KeySource::Passphrase(_) => f.write_str("KeySource::Passphrase(<redacted>)"),
        }
    }
}

impl KeySource {
    /// A passphrase (refused when empty; `field` names the setting in the error).
    ///
    /// ```
    /// use twat_cache_common::cipher::KeySource;
    /// assert!(matches!(KeySource::passphrase("s3cret", "passphrase"), Ok(KeySource::Passphrase(_))));
    /// assert_eq!(KeySource::passphrase("", "passphrase").unwrap_err().field(), "passphrase");
    /// ```
    pub fn passphrase(text: impl Into<String>, field: &'static str) -> Result<Self, ConfigError> {
        let text = Zeroizing::new(text.into());
        if text.is_empty() {
            return Err(ConfigError::invalid(
                field,
                "\"\"",
                "a non-empty passphrase",
            ));
        }
        Ok(KeySource::Passphrase(text))
    }

    /// Parses the value of `TWAT_CACHE_KEY`:
    ///
    /// - 64 hex digits: the key;
    /// - base64 (standard or URL-safe, padding optional) of exactly 32 bytes: the key;
    /// - `passphrase:` followed by a non-empty passphrase (taken verbatim): stretched with
    ///   Argon2id;
    /// - anything else, including an empty value, is a [`ConfigError`] whose field is
    ///   `TWAT_CACHE_KEY` (and which shows the value's length only, never the value).
    ///
    /// Hex and base64 values may have surrounding whitespace. Mistyped keys are refused
    /// rather than taken as passphrases, so a typo cannot silently change the key.
    ///
    /// ```
    /// use twat_cache_common::cipher::{CacheKey, KeySource};
    /// let Ok(KeySource::Key(k)) = KeySource::parse(&format!("  {}\n", "01".repeat(32))) else { panic!() };
    /// assert_eq!(k, CacheKey::from_bytes([1; 32]));
    /// let Ok(KeySource::Passphrase(p)) = KeySource::parse("passphrase: spaces kept ") else { panic!() };
    /// assert_eq!(p.as_str(), " spaces kept ");
    /// assert!(KeySource::parse("passphrase:").is_err());
    /// assert!(KeySource::parse("").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if let Some(p) = text.strip_prefix("passphrase:") {
            return KeySource::passphrase(p, FIELD);
        }
        CacheKey::parse(text).map(KeySource::Key).ok_or_else(|| {
            let what = if text.trim().is_empty() {
                "an empty value".to_owned()
            } else {
                format!("a value of {} characters (not shown)", text.chars().count())
            };
            ConfigError::invalid(FIELD, what, KEY_FORMS)
        })
    }

    /// Reads `TWAT_CACHE_KEY`: `Ok(None)` when unset, the parsed source when set, a
    /// [`ConfigError`] naming `TWAT_CACHE_KEY` when set to something [`parse`](Self::parse)
    /// refuses (or to bytes that are not UTF-8).
    ///
    /// ```
    /// use twat_cache_common::cipher::{KEY_VAR, KeySource};
    /// // SAFETY: each doc test runs in a process of its own, and this one has no other threads.
    /// unsafe { std::env::remove_var(KEY_VAR) };
    /// assert!(KeySource::from_env().unwrap().is_none());
    /// unsafe { std::env::set_var(KEY_VAR, "passphrase:from the environment") };
    /// assert!(matches!(KeySource::from_env(), Ok(Some(KeySource::Passphrase(_)))));
    /// unsafe { std::env::set_var(KEY_VAR, "typo") };
    /// assert_eq!(KeySource::from_env().unwrap_err().field(), "TWAT_CACHE_KEY");
    /// ```
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        match std::env::var(KEY_VAR) {
            Ok(v) => {
                let v = Zeroizing::new(v);
                KeySource::parse(&v).map(Some)
            }
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::invalid(
                FIELD,
                "a value that is not UTF-8 (not shown)",
                KEY_FORMS,
            )),
        }
    }

    /// The key for a cache whose entries live in `folder` (which must exist): the raw key,
    /// or the passphrase stretched with the folder's salt ([`folder_salt`]). The error says
    /// why, for the cache's fallback warning.
    ///
    /// ```
    /// use twat_cache_common::cipher::{CacheKey, KeySource, SALT_FILE};
    /// let dir = tempfile::tempdir().unwrap();
    /// let raw = KeySource::Key(CacheKey::from_bytes([4; 32]));
    /// assert_eq!(raw.key_for_folder(dir.path()).unwrap(), CacheKey::from_bytes([4; 32]));
    /// assert!(!dir.path().join(SALT_FILE).exists(), "a raw key needs no salt");
    /// let pass = KeySource::passphrase("s3cret", "passphrase").unwrap();
    /// let k = pass.key_for_folder(dir.path()).unwrap(); // stretched once per process
    /// assert!(dir.path().join(SALT_FILE).is_file());
    /// assert_eq!(pass.key_for_folder(dir.path()).unwrap(), k);
    /// ```
    pub fn key_for_folder(&self, folder: &Path) -> Result<CacheKey, String> {
        match self {
            KeySource::Key(k) => Ok(k.clone()),
            KeySource::Passphrase(p) => {
                let salt = folder_salt(folder).map_err(|e| {
                    format!(
                        "cannot read or create the salt file {}: {e}",
                        folder.join(SALT_FILE).display()
                    )
                })?;
                derive_once(p, &salt).map_err(|e| e.to_string())
            }
        }
    }

    /// The key for a store without a folder (Redis): the raw key, or the passphrase
    /// stretched with [`SHARED_SALT`].
    ///
    /// ```
    /// use twat_cache_common::cipher::{CacheKey, KeySource, SHARED_SALT};
    /// let pass = KeySource::passphrase("s3cret", "passphrase").unwrap();
    /// assert_eq!(pass.key_without_folder().unwrap(), CacheKey::derive("s3cret", SHARED_SALT).unwrap());
    /// ```
    pub fn key_without_folder(&self) -> Result<CacheKey, ConfigError> {
        match self {
            KeySource::Key(k) => Ok(k.clone()),
            KeySource::Passphrase(p) => derive_once(p, SHARED_SALT),
        }
    }
}

/// The explicit key source of a builder, else `TWAT_CACHE_KEY`. `Ok(None)`: no encryption.
///
/// ```
/// use twat_cache_common::cipher::{CacheKey, KeySource, resolve};
/// let given = KeySource::Key(CacheKey::from_bytes([1; 32]));
/// assert!(resolve(Some(given)).unwrap().is_some(), "an explicit key wins over the variable");
/// ```
pub fn resolve(explicit: Option<KeySource>) -> Result<Option<KeySource>, ConfigError> {
    match explicit {
        Some(s) => Ok(Some(s)),
        None => KeySource::from_env(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_value_forms_and_errors() {
        assert!(matches!(
            KeySource::parse(&"a".repeat(64)),
            Ok(KeySource::Key(_))
        ));
        match KeySource::parse("passphrase: spaces kept ") {
            Ok(KeySource::Passphrase(p)) => assert_eq!(p.as_str(), " spaces kept "),
            other => panic!("{other:?}"),
        }
        for bad in ["", "   ", "passphrase:", "hunter2", &"a".repeat(63)] {
            let e = KeySource::parse(bad).unwrap_err();
            assert_eq!(e.field(), "TWAT_CACHE_KEY");
            let msg = e.to_string();
            assert!(msg.contains("TWAT_CACHE_KEY"), "{msg}");
            if bad.len() > 3 && !bad.starts_with("passphrase") {
                assert!(!msg.contains(bad), "value leaked: {msg}");
            }
        }
    }

    #[test]
    fn passphrases_derive_per_salt_and_are_memoized() {
        let p = KeySource::passphrase("open sesame", "passphrase").unwrap();
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ka = p.key_for_folder(a.path()).unwrap();
        assert_eq!(p.key_for_folder(a.path()).unwrap(), ka);
        assert_ne!(
            p.key_for_folder(b.path()).unwrap(),
            ka,
            "another folder, another salt"
        );
        assert_eq!(
            p.key_without_folder().unwrap(),
            CacheKey::derive("open sesame", SHARED_SALT).unwrap()
        );
        assert!(KeySource::passphrase("", "passphrase").is_err());
        let raw = KeySource::Key(CacheKey::from_bytes([4; 32]));
        assert_eq!(
            raw.key_for_folder(a.path()).unwrap(),
            CacheKey::from_bytes([4; 32])
        );
        assert_eq!(format!("{raw:?}"), "KeySource::Key(<redacted>)");
        assert_eq!(format!("{p:?}"), "KeySource::Passphrase(<redacted>)");
    }
}
