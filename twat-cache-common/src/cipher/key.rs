//! Key material: [`CacheKey`] (32 bytes, zeroized, never printed), its text forms (hex,
//! base64), and Argon2id stretching of passphrases, memoized per process.

use std::fmt;
use std::io;

use parking_lot::Mutex;
use zeroize::{Zeroize, Zeroizing};

use crate::ConfigError;

/// Bytes in a key.
pub const KEY_LEN: usize = 32;

/// Argon2id parameters of passphrase stretching: memory in KiB, passes, lanes.
pub const ARGON2_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

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

type Derived = (Vec<u8>, Zeroizing<String>, CacheKey);

/// Argon2id once per (passphrase, salt) per process: many caches share one folder.
pub(super) fn derive_once(
    passphrase: &Zeroizing<String>,
    salt: &[u8],
) -> Result<CacheKey, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
