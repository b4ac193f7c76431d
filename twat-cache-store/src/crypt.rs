//! Sealing and opening entry payloads with a store's [`Cipher`], written so that stores
//! need no `cfg` of their own: whether entries are encrypted follows from whether
//! [`Opening::cipher`](crate::Opening::cipher) gave a cipher, in every feature combination.

use std::borrow::Cow;

use twat_cache_common::Entry;
use twat_cache_common::entry::flags;

use crate::options::Cipher;

/// The plaintext payload of `entry`: opened with `cipher` when there is one (a plain
/// entry is then refused: it was not written under this key), refused when the entry is
/// encrypted and there is none. `other_flags` are the flags the store itself uses
/// (e.g. `COMPRESSED`); any other flag is refused.
///
/// ```
/// use twat_cache_common::Entry;
/// let e = Entry { flags: 0, created_ms: 1, expires_ms: 0, key: b"k", payload: b"p" };
/// assert_eq!(&*twat_cache_store::crypt::open(None, &e, 0).unwrap(), b"p");
/// let sealed = Entry { flags: twat_cache_common::entry::flags::ENCRYPTED, ..e };
/// assert!(twat_cache_store::crypt::open(None, &sealed, 0).is_err());
/// ```
pub fn open<'e>(
    cipher: Option<&Cipher>,
    entry: &Entry<'e>,
    other_flags: u8,
) -> Result<Cow<'e, [u8]>, String> {
    if entry.flags & !(flags::ENCRYPTED | other_flags) != 0 {
        return Err(format!("unexpected flags {:#04x}", entry.flags));
    }
    #[cfg(feature = "encrypt")]
    {
        twat_cache_common::cipher::payload(cipher, entry).map_err(|e| e.to_string())
    }
    #[cfg(not(feature = "encrypt"))]
    {
        if let Some(never) = cipher {
            match *never {}
        }
        if entry.flags & flags::ENCRYPTED != 0 {
            return Err("entry is encrypted, and this build has no `encrypt` feature".into());
        }
        Ok(Cow::Borrowed(entry.payload))
    }
}

/// Appends the sealed `plaintext` of the entry described by `header` to `out`; returns
/// the flag to add to the entry's flags.
pub fn seal_into(
    cipher: &Cipher,
    header: &Entry<'_>,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<u8, String> {
    #[cfg(feature = "encrypt")]
    {
        cipher
            .seal_into(header, plaintext, out)
            .map_err(|e| e.to_string())?;
        Ok(cipher.flag())
    }
    #[cfg(not(feature = "encrypt"))]
    {
        let _ = (header, plaintext, out);
        match *cipher {}
    }
}
