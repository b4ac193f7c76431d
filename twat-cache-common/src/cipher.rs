//! Encryption at rest (feature `encrypt`): the one implementation bcache, fcache and the
//! Redis backend of acache share.
//!
//! - **Cipher**: XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`) with a fresh random
//!   24-byte nonce per entry from the operating system's generator. An encrypted entry sets
//!   [`flags::ENCRYPTED`] and its payload is `nonce (24) ‖ ciphertext ‖ tag (16)`: 40 bytes
//!   more than the plaintext. Compression, where a store does it, happens before encryption.
//! - **Associated data**: the entry's format version, flags, created and expiry times, and the
//!   full stored key (namespace id, NUL, serialized arguments). An entry copied under another
//!   key, or whose header was edited (flags, expiry), does not open.
//! - **Failures**: a wrong key, a tampered byte, a plaintext entry read by a cache that has a
//!   key, or an encrypted entry read by a cache without one all fail to open: the stores treat
//!   that as a damaged entry (a miss, and the entry is deleted), never as a value.
//! - **Keys** ([`KeySource`]): 32 raw bytes, or a passphrase stretched with Argon2id
//!   (m = 19 MiB, t = 2, p = 1, the `argon2` crate's defaults) into 32 bytes. The salt of a
//!   folder cache is 16 random bytes kept in [`SALT_FILE`] in the folder (created 0600 the
//!   first time, shared by every process and cache on the folder); Redis has no folder, so
//!   its passphrases use the fixed, public [`SHARED_SALT`]. A passphrase is stretched once
//!   per process and salt, not per entry.
//! - **Environment**: [`TWAT_CACHE_KEY`](KEY_VAR) supplies the key when a builder got none;
//!   see [`KeySource::parse`] for its forms.
//! - Key material is zeroized on drop ([`CacheKey`], passphrases, and the cipher's own copy)
//!   and never printed: `Debug` shows `<redacted>`, errors give lengths, not values.
//!
//! ```
//! use twat_cache_common::cipher::{CacheKey, EntryCipher};
//! use twat_cache_common::Entry;
//! let cipher = EntryCipher::new(&CacheKey::from_bytes([7; 32]));
//! let header = Entry { flags: 0, created_ms: 1, expires_ms: 0, key: b"ns\0args", payload: b"" };
//! let sealed = cipher.seal(&header, b"the value").unwrap();
//! let entry = Entry { flags: header.flags | cipher.flag(), payload: &sealed, ..header };
//! let bytes = entry.encode();
//! assert!(!bytes.windows(9).any(|w| w == b"the value"), "no plaintext on disk");
//! let back = Entry::decode(&bytes).unwrap();
//! assert_eq!(cipher.open(&back).unwrap(), b"the value");
//!
//! // The same ciphertext under another key does not open.
//! let moved = Entry { key: b"ns\0other", ..back };
//! assert!(cipher.open(&moved).is_err());
//! ```

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use parking_lot::Mutex;
use zeroize::Zeroize;
pub use zeroize::Zeroizing;

use crate::ConfigError;
use crate::entry::{Entry, FORMAT_VERSION, flags};
pub use crate::env::KEY_VAR;
pub use crate::paths::SALT_FILE;

/// Bytes in a key.
pub const KEY_LEN: usize = 32;
/// Bytes of nonce in front of every ciphertext.
pub const NONCE_LEN: usize = 24;
/// Bytes of authentication tag after every ciphertext.
pub const TAG_LEN: usize = 16;
/// What encryption adds to a payload: nonce and tag.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Bytes of random salt in a folder's [`SALT_FILE`].
pub const SALT_LEN: usize = 16;
/// The salt of passphrases where there is no folder to keep a random one (Redis). Public
/// and fixed, so equal passphrases give equal keys on every machine: prefer a random
/// 32-byte key for Redis.
pub const SHARED_SALT: &[u8] = b"twat-cache shared passphrase salt v1";

/// Argon2id parameters of passphrase stretching: memory in KiB, passes, lanes.
pub const ARGON2_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

const FIELD: &str = "TWAT_CACHE_KEY";
const KEY_FORMS: &str =
    "64 hex digits, base64 of 32 bytes, or `passphrase:` followed by a passphrase";

/// A 256-bit key. Zeroized when dropped; `Debug` does not show it.
///
/// ```
/// use twat_cache_common::cipher::CacheKey;
/// let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// let a = CacheKey::parse(hex).unwrap();
/// assert_eq!(a.as_bytes()[1], 0x11);
/// assert_eq!(format!("{a:?}"), "CacheKey(<redacted>)");
/// assert!(CacheKey::parse("not a key").is_none());
/// let salt = [1u8; 16];
/// assert_eq!(CacheKey::derive("pass", &salt).unwrap(), CacheKey::derive("pass", &salt).unwrap());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct CacheKey(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CacheKey(<redacted>)")
    }
}

impl CacheKey {
    /// A key from its 32 bytes. The array is moved in; a copy the caller kept is its own to
    /// zeroize.
    ///
    /// ```
    /// use twat_cache_common::cipher::CacheKey;
    /// let k = CacheKey::from_bytes([0xab; 32]);
    /// assert_eq!(k, CacheKey::parse(&"ab".repeat(32)).unwrap());
    /// ```
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        CacheKey(Zeroizing::new(bytes))
    }

    /// A random key from the operating system's generator.
    ///
    /// ```
    /// use twat_cache_common::cipher::CacheKey;
    /// assert_ne!(CacheKey::random().unwrap(), CacheKey::random().unwrap());
    /// ```
    pub fn random() -> io::Result<Self> {
        let mut k = CacheKey::from_bytes([0; KEY_LEN]);
        getrandom::fill(&mut k.0[..]).map_err(io::Error::other)?;
        Ok(k)
    }

    /// Parses 64 hex digits, or base64 (standard or URL-safe alphabet, padding optional) of
    /// exactly 32 bytes. Surrounding whitespace is ignored. `None` for anything else.
    ///
    /// ```
    /// use twat_cache_common::cipher::CacheKey;
    /// let from_hex = CacheKey::parse(&"ab".repeat(32)).unwrap();
    /// let from_b64 = CacheKey::parse("q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=").unwrap();
    /// assert_eq!(from_hex, from_b64);
    /// assert!(CacheKey::parse(&"ab".repeat(31)).is_none(), "31 bytes");
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        parse_hex(t).or_else(|| parse_base64(t)).map(CacheKey)
    }

    /// Stretches `passphrase` with Argon2id ([`ARGON2_PARAMS`]) and `salt` (at least 8
    /// bytes) into a key. Takes tens of milliseconds by design: do it once, not per entry.
    ///
    /// ```
    /// use twat_cache_common::cipher::CacheKey;
    /// let k = CacheKey::derive("correct horse", b"16 bytes of salt").unwrap();
    /// assert_ne!(k.as_bytes(), &[0; 32]);
    /// // A salt shorter than 8 bytes is refused, without showing the passphrase.
    /// let err = CacheKey::derive("correct horse", b"short").unwrap_err();
    /// assert_eq!(err.field(), "passphrase");
    /// assert!(!err.to_string().contains("horse"));
    /// ```
    pub fn derive(passphrase: &str, salt: &[u8]) -> Result<Self, ConfigError> {
        let (m, t, p) = ARGON2_PARAMS;
        let params = argon2::Params::new(m, t, p, Some(KEY_LEN)).expect("valid Argon2 params");
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut k = CacheKey::from_bytes([0; KEY_LEN]);
        argon
            .hash_password_into(passphrase.as_bytes(), salt, &mut k.0[..])
            .map_err(|e| ConfigError::invalid("passphrase", "(not shown)", argon_allowed(e)))?;
        Ok(k)
    }

    /// The key's bytes.
    ///
    /// ```
    /// use twat_cache_common::cipher::CacheKey;
    /// assert_eq!(CacheKey::from_bytes([9; 32]).as_bytes(), &[9; 32]);
    /// ```
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key as 64 lowercase hex digits (the form `TWAT_CACHE_KEY` takes), zeroized
    /// when dropped.
    ///
    /// ```
    /// use twat_cache_common::cipher::CacheKey;
    /// let k = CacheKey::random().unwrap();
    /// assert_eq!(CacheKey::parse(&k.to_hex()).unwrap(), k);
    /// ```
    pub fn to_hex(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(2 * KEY_LEN));
        for b in self.0.iter() {
            s.push(char::from_digit(u32::from(b >> 4), 16).expect("nibble"));
            s.push(char::from_digit(u32::from(b & 0xf), 16).expect("nibble"));
        }
        s
    }
}

fn argon_allowed(e: argon2::Error) -> &'static str {
    match e {
        argon2::Error::SaltTooShort => "a salt of at least 8 bytes",
        argon2::Error::PwdTooLong => "a passphrase shorter than 4 GiB",
        _ => "a passphrase Argon2id accepts",
    }
}

fn parse_hex(t: &str) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    let b = t.as_bytes();
    if b.len() != 2 * KEY_LEN {
        return None;
    }
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi << 4 | lo) as u8;
    }
    Some(out)
}

fn b64_value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// Base64 of exactly 32 bytes: 43 symbols, then an optional `=`. The last symbol's two
/// unused bits must be zero (one spelling per key).
fn parse_base64(t: &str) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    let t = t.strip_suffix('=').unwrap_or(t).as_bytes();
    if t.len() != 43 {
        return None;
    }
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut n = 0;
    for &c in t {
        acc = (acc << 6) | b64_value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out[n] = (acc >> bits) as u8;
            n += 1;
            acc &= (1 << bits) - 1;
        }
    }
    let canonical = n == KEY_LEN && bits == 2 && acc == 0;
    acc.zeroize();
    canonical.then_some(out)
}

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

type Derived = (Vec<u8>, Zeroizing<String>, CacheKey);

/// Argon2id once per (passphrase, salt) per process: many caches share one folder.
fn derive_once(passphrase: &Zeroizing<String>, salt: &[u8]) -> Result<CacheKey, ConfigError> {
    static DONE: Mutex<Vec<Derived>> = Mutex::new(Vec::new());
    let mut done = DONE.lock();
    if let Some((_, _, k)) = done
        .iter()
        .find(|(s, p, _)| s.as_slice() == salt && p.as_bytes() == passphrase.as_bytes())
    {
        return Ok(k.clone());
    }
    let k = CacheKey::derive(passphrase, salt)?;
    done.push((salt.to_vec(), passphrase.clone(), k.clone()));
    Ok(k)
}

/// The folder's passphrase salt: read from [`SALT_FILE`] (32 hex digits and a newline),
/// or created there with 16 random bytes, mode 0600, when missing. Concurrent creators
/// agree: each writes a temporary file and links it into place only if no salt exists
/// yet, then everyone reads the one that won. A damaged salt file is an error (deleting
/// it starts afresh; entries sealed under the old salt become misses).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let a = twat_cache_common::cipher::folder_salt(dir.path()).unwrap();
/// let b = twat_cache_common::cipher::folder_salt(dir.path()).unwrap();
/// assert_eq!(a, b, "created once, then read");
/// ```
pub fn folder_salt(folder: &Path) -> io::Result<[u8; SALT_LEN]> {
    let path = folder.join(SALT_FILE);
    match read_salt(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(io::Error::other)?;
    let mut text = String::with_capacity(2 * SALT_LEN + 1);
    for b in salt {
        text.push_str(&format!("{b:02x}"));
    }
    text.push('\n');
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(io::Error::other)?;
    let tmp = folder.join(format!(
        ".{SALT_FILE}.{}.{:016x}",
        std::process::id(),
        u64::from_le_bytes(nonce)
    ));
    write_new_private(&tmp, text.as_bytes())?;
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        // A file system without hard links: create the file in place (a reader racing
        // this may see it empty, and then falls back to memory once).
        Err(_) => match write_new_private(&path, text.as_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        },
    }
    read_salt(&path)
}

fn write_new_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    crate::paths::make_private_file(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn read_salt(path: &Path) -> io::Result<[u8; SALT_LEN]> {
    let text = fs::read_to_string(path)?;
    let t = text.trim_end();
    let damaged = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "damaged salt file (expected 32 hex digits); delete it to start afresh",
        )
    };
    if t.len() != 2 * SALT_LEN {
        return Err(damaged());
    }
    let mut salt = [0u8; SALT_LEN];
    for (i, pair) in t.as_bytes().chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16).ok_or_else(damaged)?;
        let lo = (pair[1] as char).to_digit(16).ok_or_else(damaged)?;
        salt[i] = (hi << 4 | lo) as u8;
    }
    Ok(salt)
}

/// Why an entry's payload did not open. The texts name the likely cause, never the key.
///
/// ```
/// use twat_cache_common::cipher::{CacheKey, EntryCipher, OpenError, payload};
/// use twat_cache_common::{Entry, entry::flags};
/// let c = EntryCipher::new(&CacheKey::from_bytes([1; 32]));
/// let short = Entry { flags: flags::ENCRYPTED, created_ms: 0, expires_ms: 0, key: b"k", payload: b"tiny" };
/// assert_eq!(c.open(&short), Err(OpenError::Short(4)));
/// assert_eq!(payload(None, &short), Err(OpenError::NoKey));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The entry is not encrypted, and this cache requires encryption.
    #[error("entry is not encrypted, and this cache encrypts: refused")]
    NotEncrypted,
    /// The entry is encrypted, and this cache has no key.
    #[error("entry is encrypted, and this cache has no key (set TWAT_CACHE_KEY or a builder key)")]
    NoKey,
    /// Shorter than a nonce and a tag.
    #[error("encrypted payload of {0} bytes is shorter than nonce and tag")]
    Short(usize),
    /// Authentication failed: another key, a tampered byte, or an entry moved under
    /// another stored key.
    #[error("entry does not decrypt (wrong key, tampered, or moved under another key)")]
    Failed,
}

/// Why a payload could not be sealed (the store then does not store it).
///
/// Neither happens in practice (it takes a broken random generator or a 256 GiB value);
/// the messages say what went wrong:
///
/// ```
/// use twat_cache_common::cipher::SealError;
/// assert_eq!(SealError::TooLong(7).to_string(), "7 bytes is too long to encrypt");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The operating system's random generator failed.
    #[error("no nonce: the OS random generator failed: {0}")]
    Random(String),
    /// Longer than XChaCha20-Poly1305 encrypts.
    #[error("{0} bytes is too long to encrypt")]
    TooLong(usize),
}

/// Seals and opens entry payloads with one key. Cheap to clone; the key is zeroized when
/// the last copy drops. `Debug` does not show the key.
///
/// ```
/// use twat_cache_common::cipher::{CacheKey, EntryCipher};
/// let c = EntryCipher::new(&CacheKey::from_bytes([2; 32]));
/// assert_eq!(format!("{c:?}"), "EntryCipher(XChaCha20-Poly1305, <redacted>)");
/// ```
#[derive(Clone)]
pub struct EntryCipher {
    aead: XChaCha20Poly1305,
}

impl fmt::Debug for EntryCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EntryCipher(XChaCha20-Poly1305, <redacted>)")
    }
}

/// The associated data: format version, flags (with [`flags::ENCRYPTED`]), created and
/// expiry times, and the stored key. Everything in the header but the lengths (implied by
/// the key and the ciphertext) and the checksum.
fn associated_data(e: &Entry<'_>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(18 + e.key.len());
    aad.push(FORMAT_VERSION);
    aad.push(e.flags | flags::ENCRYPTED);
    aad.extend_from_slice(&e.created_ms.to_le_bytes());
    aad.extend_from_slice(&e.expires_ms.to_le_bytes());
    aad.extend_from_slice(e.key);
    aad
}

impl EntryCipher {
    /// A cipher with `key`.
    ///
    /// ```
    /// use twat_cache_common::cipher::{CacheKey, EntryCipher, OpenError};
    /// use twat_cache_common::Entry;
    /// let (a, b) = (EntryCipher::new(&CacheKey::from_bytes([1; 32])), EntryCipher::new(&CacheKey::from_bytes([2; 32])));
    /// let header = Entry { flags: 0, created_ms: 0, expires_ms: 0, key: b"k", payload: b"" };
    /// let sealed = a.seal(&header, b"v").unwrap();
    /// let e = Entry { flags: a.flag(), payload: &sealed, ..header };
    /// assert_eq!(b.open(&e), Err(OpenError::Failed)); // another key
    /// ```
    pub fn new(key: &CacheKey) -> Self {
        // Borrowed, not copied: the only copies are the CacheKey's and the cipher's own,
        // and both are zeroized on drop.
        let k: &Key = key.as_bytes().into();
        EntryCipher {
            aead: XChaCha20Poly1305::new(k),
        }
    }

    /// The flag an entry sealed by this cipher carries: [`flags::ENCRYPTED`].
    ///
    /// ```
    /// use twat_cache_common::cipher::{CacheKey, EntryCipher};
    /// use twat_cache_common::entry::flags;
    /// assert_eq!(EntryCipher::new(&CacheKey::from_bytes([1; 32])).flag(), flags::ENCRYPTED);
    /// ```
    pub fn flag(&self) -> u8 {
        flags::ENCRYPTED
    }

    /// Encrypts `plaintext` for the entry described by `header` (its `flags`, times and
    /// `key`; its `payload` is ignored). Returns `nonce ‖ ciphertext ‖ tag`, the payload of
    /// an entry with those header fields and `flags | ENCRYPTED`.
    ///
    /// ```
    /// use twat_cache_common::cipher::{CacheKey, EntryCipher, OVERHEAD};
    /// use twat_cache_common::Entry;
    /// let c = EntryCipher::new(&CacheKey::from_bytes([1; 32]));
    /// let header = Entry { flags: 0, created_ms: 0, expires_ms: 0, key: b"k", payload: b"" };
    /// let a = c.seal(&header, b"value").unwrap();
    /// assert_eq!(a.len(), 5 + OVERHEAD);
    /// assert_ne!(a, c.seal(&header, b"value").unwrap(), "a fresh nonce each time");
    /// ```
    pub fn seal(&self, header: &Entry<'_>, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        self.seal_into(header, plaintext, &mut out)?;
        Ok(out)
    }

    /// Like [`seal`](Self::seal), appending to `out` (left as it was on error). Fails only
    /// if the operating system's random generator does, or for a plaintext longer than
    /// XChaCha20 can encrypt (256 GiB); stores then skip the value, as for any value they
    /// cannot store.
    ///
    /// ```
    /// use twat_cache_common::cipher::{CacheKey, EntryCipher, OVERHEAD};
    /// use twat_cache_common::Entry;
    /// let c = EntryCipher::new(&CacheKey::from_bytes([1; 32]));
    /// let header = Entry { flags: 0, created_ms: 0, expires_ms: 0, key: b"k", payload: b"" };
    /// let mut out = b"kept".to_vec();
    /// c.seal_into(&header, b"value", &mut out).unwrap();
    /// assert_eq!((&out[..4], out.len()), (&b"kept"[..], 4 + 5 + OVERHEAD));
    /// ```
    pub fn seal_into(
        &self,
        header: &Entry<'_>,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
        let aad = associated_data(header);
        let start = out.len();
        out.reserve(plaintext.len() + OVERHEAD);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let sealed = self.aead.encrypt_inout_detached(
            &XNonce::from(nonce),
            &aad,
            (&mut out[start + NONCE_LEN..]).into(),
        );
        match sealed {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            Err(_) => {
                out[start..].zeroize();
                out.truncate(start);
                Err(SealError::TooLong(plaintext.len()))
            }
        }
    }

    /// Decrypts and authenticates `entry`'s payload with its header as associated data.
    /// The caller handles the other flags (e.g. decompresses the result).
    ///
    /// ```
    /// use twat_cache_common::cipher::{CacheKey, EntryCipher, OpenError};
    /// use twat_cache_common::Entry;
    /// let c = EntryCipher::new(&CacheKey::from_bytes([1; 32]));
    /// let header = Entry { flags: 0, created_ms: 0, expires_ms: 0, key: b"k", payload: b"" };
    /// let sealed = c.seal(&header, b"value").unwrap();
    /// let e = Entry { flags: c.flag(), payload: &sealed, ..header };
    /// assert_eq!(c.open(&e).unwrap(), b"value");
    /// // The header is authenticated too: a later expiry does not open.
    /// assert_eq!(c.open(&Entry { expires_ms: 1, ..e }), Err(OpenError::Failed));
    /// ```
    pub fn open(&self, entry: &Entry<'_>) -> Result<Vec<u8>, OpenError> {
        if entry.flags & flags::ENCRYPTED == 0 {
            return Err(OpenError::NotEncrypted);
        }
        let p = entry.payload;
        if p.len() < OVERHEAD {
            return Err(OpenError::Short(p.len()));
        }
        let (nonce, rest) = p.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| OpenError::Failed)?;
        let tag = chacha20poly1305::Tag::try_from(tag).map_err(|_| OpenError::Failed)?;
        let mut out = ct.to_vec();
        let aad = associated_data(entry);
        match self
            .aead
            .decrypt_inout_detached(&nonce, &aad, (&mut out[..]).into(), &tag)
        {
            Ok(()) => Ok(out),
            Err(_) => {
                out.zeroize();
                Err(OpenError::Failed)
            }
        }
    }
}

/// The plaintext payload of `entry` for a cache with or without a cipher: a cache with a
/// cipher opens encrypted entries and refuses plain ones; a cache without one refuses
/// encrypted entries. The other flags are left to the caller.
///
/// ```
/// use twat_cache_common::cipher::{CacheKey, EntryCipher, OpenError, payload};
/// use twat_cache_common::Entry;
/// let plain = Entry { flags: 0, created_ms: 0, expires_ms: 0, key: b"k", payload: b"v" };
/// assert_eq!(payload(None, &plain).unwrap().as_ref(), b"v");
/// let c = EntryCipher::new(&CacheKey::from_bytes([3; 32]));
/// assert_eq!(payload(Some(&c), &plain).unwrap_err(), OpenError::NotEncrypted);
/// ```
pub fn payload<'e>(
    cipher: Option<&EntryCipher>,
    entry: &Entry<'e>,
) -> Result<std::borrow::Cow<'e, [u8]>, OpenError> {
    match cipher {
        Some(c) => c.open(entry).map(std::borrow::Cow::Owned),
        None if entry.flags & flags::ENCRYPTED != 0 => Err(OpenError::NoKey),
        None => Ok(std::borrow::Cow::Borrowed(entry.payload)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(key: &[u8]) -> Entry<'_> {
        Entry {
            flags: 0,
            created_ms: 5,
            expires_ms: 9,
            key,
            payload: b"",
        }
    }

    fn sealed_entry(c: &EntryCipher, key: &[u8], plain: &[u8]) -> Vec<u8> {
        let h = header(key);
        let p = c.seal(&h, plain).unwrap();
        Entry {
            flags: flags::ENCRYPTED,
            payload: &p,
            ..h
        }
        .encode()
    }

    #[test]
    fn every_flipped_bit_of_the_payload_or_bound_header_fails() {
        let c = EntryCipher::new(&CacheKey::from_bytes([9; 32]));
        let bytes = sealed_entry(&c, b"ns\0k", b"hello world");
        let e = Entry::decode(&bytes).unwrap();
        assert_eq!(c.open(&e).unwrap(), b"hello world");
        for i in 0..e.payload.len() {
            let mut p = e.payload.to_vec();
            p[i] ^= 1;
            let bad = Entry { payload: &p, ..e };
            assert_eq!(c.open(&bad), Err(OpenError::Failed), "payload byte {i}");
        }
        for bad in [
            Entry {
                flags: e.flags | flags::COMPRESSED,
                ..e
            },
            Entry { created_ms: 6, ..e },
            Entry { expires_ms: 0, ..e },
            Entry { key: b"ns\0j", ..e },
        ] {
            assert_eq!(c.open(&bad), Err(OpenError::Failed));
        }
        let other = EntryCipher::new(&CacheKey::from_bytes([8; 32]));
        assert_eq!(other.open(&e), Err(OpenError::Failed));
        let short = Entry {
            payload: &e.payload[..39],
            ..e
        };
        assert_eq!(c.open(&short), Err(OpenError::Short(39)));
    }

    #[test]
    fn nonces_differ_per_seal() {
        let c = EntryCipher::new(&CacheKey::from_bytes([1; 32]));
        let h = header(b"k");
        assert_ne!(
            c.seal(&h, b"same").unwrap()[..NONCE_LEN],
            c.seal(&h, b"same").unwrap()[..NONCE_LEN]
        );
        assert_eq!(c.seal(&h, b"").unwrap().len(), OVERHEAD);
    }

    #[test]
    fn key_forms() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 7 + 3) as u8);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let k = CacheKey::from_bytes(bytes);
        assert_eq!(CacheKey::parse(&hex).unwrap(), k);
        assert_eq!(CacheKey::parse(&hex.to_uppercase()).unwrap(), k);
        assert_eq!(CacheKey::parse(&format!("  {hex}\n")).unwrap(), k);
        // base64 of the same bytes, standard and URL-safe, padded or not (computed by hand
        // with the alphabet, checked against the decoder both ways).
        let std_b64 = encode_b64(&bytes);
        assert_eq!(std_b64.len(), 44);
        assert_eq!(CacheKey::parse(&std_b64).unwrap(), k);
        assert_eq!(CacheKey::parse(std_b64.trim_end_matches('=')).unwrap(), k);
        let url = std_b64.replace('+', "-").replace('/', "_");
        assert_eq!(CacheKey::parse(&url).unwrap(), k);
        // Non-canonical last symbol (unused bits set) is refused.
        let mut bad = std_b64.clone().into_bytes();
        let last = bad[42];
        bad[42] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            [(b64_value(last).unwrap() | 1) as usize];
        assert!(CacheKey::parse(std::str::from_utf8(&bad).unwrap()).is_none());
        for bad in [
            "",
            "zz",
            &hex[..62],
            &format!("{hex}00"),
            &std_b64[..40],
            "passphrase",
        ] {
            assert!(CacheKey::parse(bad).is_none(), "{bad:?}");
        }
        assert_eq!(k.to_hex().as_str(), hex);
    }

    fn encode_b64(b: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for chunk in b.chunks(3) {
            let n = chunk.len();
            let v = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= n {
                    s.push(A[(v >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    }

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
    fn salt_file_is_private_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let s = folder_salt(dir.path()).unwrap();
        assert_eq!(folder_salt(dir.path()).unwrap(), s);
        let path = dir.path().join(SALT_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
        fs::write(&path, "nonsense\n").unwrap();
        assert_eq!(
            folder_salt(dir.path()).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn concurrent_salt_creation_agrees() {
        let dir = tempfile::tempdir().unwrap();
        let salts: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| folder_salt(dir.path()).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(salts.windows(2).all(|w| w[0] == w[1]));
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

    #[test]
    fn payload_refuses_mismatched_modes() {
        let c = EntryCipher::new(&CacheKey::from_bytes([2; 32]));
        let bytes = sealed_entry(&c, b"k", b"v");
        let e = Entry::decode(&bytes).unwrap();
        assert_eq!(payload(None, &e).unwrap_err(), OpenError::NoKey);
        assert_eq!(payload(Some(&c), &e).unwrap().as_ref(), b"v");
    }
}
