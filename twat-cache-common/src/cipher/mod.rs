//! Encryption at rest (feature `encrypt`): the one implementation bcache, fcache and the
//! Redis backend of acache share.
//!
//! - **Cipher**: XChaCha20-Poly1305 (RustCrypto `chacha20poly1305`) with a fresh random
//!   24-byte nonce per entry from the operating system's generator. An encrypted entry sets
//!   [`flags::ENCRYPTED`](crate::entry::flags::ENCRYPTED) and its payload is
//!   `nonce (24) ‖ ciphertext ‖ tag (16)`: 40 bytes more than the plaintext. Compression,
//!   where a store does it, happens before encryption.
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
//! One file per concept:
//!
//! | file | concept |
//! |---|---|
//! | `key.rs` | [`CacheKey`]: key material, its text forms, Argon2id stretching |
//! | `source.rs` | [`KeySource`]: raw key or passphrase, `TWAT_CACHE_KEY` parsing, [`resolve`] |
//! | `salt.rs` | the per-folder salt ([`folder_salt`], [`SALT_FILE`]) and [`SHARED_SALT`] |
//! | `seal.rs` | [`EntryCipher`]: sealing and opening payloads, [`payload`], [`OpenError`], [`SealError`] |
//! | `plan.rs` | [`Plan`]: what a builder settled on, and the cipher for a folder |
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

mod key;
mod plan;
mod salt;
mod seal;
mod source;

pub use zeroize::Zeroizing;

pub use crate::env::KEY_VAR;
pub use crate::paths::SALT_FILE;
pub use key::{ARGON2_PARAMS, CacheKey, KEY_LEN};
pub use plan::{Plan, plan};
pub use salt::{SALT_LEN, SHARED_SALT, folder_salt};
pub use seal::{EntryCipher, NONCE_LEN, OVERHEAD, OpenError, SealError, TAG_LEN, payload};
pub use source::{KeySource, resolve};
