//! The entry: the one record format of every persistent store (LMDB, files, Redis).
//!
//! ```text
//! offset  size  field
//!      0     2  magic "TW"
//!      2     1  format version (1)
//!      3     1  flags: bit 0 compressed (lz4), bit 1 encrypted; other bits must be 0
//!      4     8  created, Unix milliseconds, little-endian
//!     12     8  expires, Unix milliseconds (0 = never)
//!     20     4  key length K
//!     24     4  payload length P
//!     28     K  the stored key (namespace + serialized arguments)
//!   28+K     P  the payload (serialized value, maybe compressed or encrypted)
//! 28+K+P     8  xxh3-64 of every byte before it
//! ```
//!
//! Decoding borrows from the input, allocates nothing, and checks that the lengths add up
//! to exactly the input's length before trusting them. Anything that fails is a miss.

use xxhash_rust::xxh3::xxh3_64;

/// The current format version.
pub const FORMAT_VERSION: u8 = 1;
const MAGIC: [u8; 2] = *b"TW";
/// Bytes of header before the key.
pub const HEADER_LEN: usize = 28;
/// Bytes of header and checksum around key and payload.
pub const OVERHEAD: usize = HEADER_LEN + 8;

/// Entry flags.
pub mod flags {
    /// The payload is lz4-compressed (block format, uncompressed length prepended).
    pub const COMPRESSED: u8 = 1;
    /// The payload is encrypted.
    pub const ENCRYPTED: u8 = 2;
    /// Every flag this version understands.
    pub const KNOWN: u8 = COMPRESSED | ENCRYPTED;
}

/// Why bytes are not a valid entry.
///
/// ```
/// use twat_cache_common::{Entry, EntryError};
/// assert_eq!(Entry::decode(b"TW"), Err(EntryError::Truncated(2)));
/// assert_eq!(Entry::decode(&[0u8; 36]), Err(EntryError::BadMagic));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Shorter than the fixed header and checksum.
    #[error("truncated: {0} bytes is shorter than any entry")]
    Truncated(usize),
    /// Does not start with the magic bytes.
    #[error("not an entry (bad magic)")]
    BadMagic,
    /// Written by a format version this build does not read.
    #[error("format version {0} is not supported (this build reads {FORMAT_VERSION})")]
    Version(u8),
    /// Flags this build does not understand.
    #[error("unknown flags {0:#04x}")]
    Flags(u8),
    /// The length fields do not add up to the input's length.
    #[error("length fields say {expected} bytes, input has {actual}")]
    Length {
        /// What the header claims.
        expected: u64,
        /// What there is.
        actual: usize,
    },
    /// The checksum does not match.
    #[error("checksum mismatch")]
    Checksum,
}

/// One stored value with its metadata, borrowed from the bytes it was decoded from.
///
/// ```
/// use twat_cache_common::Entry;
/// let e = Entry { flags: 0, created_ms: 10, expires_ms: 0, key: b"k", payload: b"value" };
/// let bytes = e.encode();
/// assert_eq!(Entry::decode(&bytes).unwrap(), e);
/// let mut damaged = bytes.clone();
/// damaged[30] ^= 1;
/// assert!(Entry::decode(&damaged).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// See [`flags`].
    pub flags: u8,
    /// When it was stored (Unix ms).
    pub created_ms: u64,
    /// When it expires (Unix ms); 0 = never.
    pub expires_ms: u64,
    /// The full stored key.
    pub key: &'a [u8],
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> Entry<'a> {
    /// The encoded length.
    ///
    /// ```
    /// use twat_cache_common::{Entry, entry::OVERHEAD};
    /// let e = Entry { flags: 0, created_ms: 1, expires_ms: 0, key: b"key", payload: b"abcd" };
    /// assert_eq!(e.encoded_len(), OVERHEAD + 3 + 4);
    /// assert_eq!(e.encoded_len(), e.encode().len());
    /// ```
    pub fn encoded_len(&self) -> usize {
        OVERHEAD + self.key.len() + self.payload.len()
    }

    /// Encodes into a new buffer.
    ///
    /// ```
    /// use twat_cache_common::{Entry, entry::FORMAT_VERSION};
    /// let bytes = Entry { flags: 0, created_ms: 1, expires_ms: 0, key: b"k", payload: b"v" }.encode();
    /// assert_eq!(&bytes[..3], &[b'T', b'W', FORMAT_VERSION]);
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding to `out`.
    ///
    /// ```
    /// use twat_cache_common::Entry;
    /// let e = Entry { flags: 0, created_ms: 1, expires_ms: 0, key: b"k", payload: b"v" };
    /// let mut out = b"prefix".to_vec();
    /// e.encode_into(&mut out);
    /// assert_eq!(&out[6..], &e.encode()[..]);
    /// ```
    ///
    /// # Panics
    /// If the key or payload is 4 GiB or longer (stores refuse such values before this).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.push(self.flags);
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.extend_from_slice(&self.expires_ms.to_le_bytes());
        let klen = u32::try_from(self.key.len()).expect("key shorter than 4 GiB");
        let plen = u32::try_from(self.payload.len()).expect("payload shorter than 4 GiB");
        out.extend_from_slice(&klen.to_le_bytes());
        out.extend_from_slice(&plen.to_le_bytes());
        out.extend_from_slice(self.key);
        out.extend_from_slice(self.payload);
        let sum = xxh3_64(&out[start..]);
        out.extend_from_slice(&sum.to_le_bytes());
    }

    /// Decodes and verifies `bytes`, which must hold exactly one entry.
    ///
    /// ```
    /// use twat_cache_common::{Entry, EntryError};
    /// let mut bytes = Entry { flags: 0, created_ms: 1, expires_ms: 0, key: b"k", payload: b"v" }.encode();
    /// assert_eq!(Entry::decode(&bytes).unwrap().payload, b"v");
    /// let last = bytes.len() - 1;
    /// bytes[last] ^= 1; // damage the checksum
    /// assert_eq!(Entry::decode(&bytes), Err(EntryError::Checksum));
    /// ```
    pub fn decode(bytes: &'a [u8]) -> Result<Self, EntryError> {
        let head = Self::decode_header(bytes)?;
        let body_end = bytes.len() - 8;
        let stored = u64::from_le_bytes(bytes[body_end..].try_into().expect("8 bytes"));
        if xxh3_64(&bytes[..body_end]) != stored {
            return Err(EntryError::Checksum);
        }
        Ok(head)
    }

    /// Decodes the header and slices key and payload without verifying the checksum: for
    /// tools that only need the times (e.g. a sweep reading expiry). Never trust the
    /// payload of an entry read this way.
    ///
    /// ```
    /// use twat_cache_common::Entry;
    /// let mut bytes = Entry { flags: 0, created_ms: 1, expires_ms: 99, key: b"k", payload: b"v" }.encode();
    /// let last = bytes.len() - 1;
    /// bytes[last] ^= 1; // a bad checksum is not looked at
    /// assert_eq!(Entry::decode_header(&bytes).unwrap().expires_ms, 99);
    /// assert!(Entry::decode(&bytes).is_err());
    /// ```
    pub fn decode_header(bytes: &'a [u8]) -> Result<Self, EntryError> {
        if bytes.len() < OVERHEAD {
            return Err(EntryError::Truncated(bytes.len()));
        }
        if bytes[..2] != MAGIC {
            return Err(EntryError::BadMagic);
        }
        if bytes[2] != FORMAT_VERSION {
            return Err(EntryError::Version(bytes[2]));
        }
        let flags = bytes[3];
        if flags & !flags::KNOWN != 0 {
            return Err(EntryError::Flags(flags));
        }
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let klen = u32_at(20) as usize;
        let plen = u32_at(24) as usize;
        let expected = OVERHEAD as u64 + klen as u64 + plen as u64;
        if expected != bytes.len() as u64 {
            return Err(EntryError::Length {
                expected,
                actual: bytes.len(),
            });
        }
        Ok(Entry {
            flags,
            created_ms: u64_at(4),
            expires_ms: u64_at(12),
            key: &bytes[HEADER_LEN..HEADER_LEN + klen],
            payload: &bytes[HEADER_LEN + klen..HEADER_LEN + klen + plen],
        })
    }

    /// Whether the entry has expired at `now_ms` (Unix milliseconds).
    ///
    /// ```
    /// use twat_cache_common::Entry;
    /// let e = Entry { flags: 0, created_ms: 1, expires_ms: 100, key: b"k", payload: b"v" };
    /// assert!(!e.is_expired(99));
    /// assert!(e.is_expired(100));
    /// assert!(!Entry { expires_ms: 0, ..e }.is_expired(u64::MAX)); // 0 = never
    /// ```
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_ms != 0 && self.expires_ms <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        Entry {
            flags: flags::COMPRESSED,
            created_ms: 1,
            expires_ms: 2,
            key: b"ns\0args",
            payload: &[7; 100],
        }
        .encode()
    }

    #[test]
    fn every_truncation_and_bit_flip_is_refused() {
        let good = sample();
        for len in 0..good.len() {
            assert!(Entry::decode(&good[..len]).is_err(), "truncated to {len}");
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert!(Entry::decode(&bad).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn hostile_lengths_are_refused_without_allocating() {
        let mut bad = sample();
        bad[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Entry::decode(&bad),
            Err(EntryError::Length { .. })
        ));
    }

    #[test]
    fn unknown_flags_and_versions_are_refused() {
        let mut bad = sample();
        bad[3] = 0x80;
        assert_eq!(Entry::decode_header(&bad), Err(EntryError::Flags(0x80)));
        let mut bad = sample();
        bad[2] = 9;
        assert_eq!(Entry::decode_header(&bad), Err(EntryError::Version(9)));
    }
}
