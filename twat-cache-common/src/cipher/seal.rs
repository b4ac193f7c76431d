//! Sealing and opening entry payloads: [`EntryCipher`] (XChaCha20-Poly1305, the entry's
//! header as associated data), [`payload`], and why either can fail.

use std::fmt;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use zeroize::Zeroize;

use super::CacheKey;
use crate::entry::{Entry, FORMAT_VERSION, flags};

/// Bytes of nonce in front of every ciphertext.
pub const NONCE_LEN: usize = 24;
/// Bytes of authentication tag after every ciphertext.
pub const TAG_LEN: usize = 16;
/// What encryption adds to a payload: nonce and tag.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

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
    fn payload_refuses_mismatched_modes() {
        let c = EntryCipher::new(&CacheKey::from_bytes([2; 32]));
        let bytes = sealed_entry(&c, b"k", b"v");
        let e = Entry::decode(&bytes).unwrap();
        assert_eq!(payload(None, &e).unwrap_err(), OpenError::NoKey);
        assert_eq!(payload(Some(&c), &e).unwrap().as_ref(), b"v");
    }
}
