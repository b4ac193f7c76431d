//! Serialization of keys and values: postcard over serde.
//!
//! Decoding reads from a slice that holds the whole entry, so a length field can never make
//! us read past it, and serde's cautious pre-allocation keeps a forged length from
//! allocating more than the input could hold.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::CacheError;

/// Serializes `value` with postcard. `what` ("key" or "value") goes into the error.
///
/// ```
/// let bytes = twat_cache_common::codec::encode("key", &(1u8, "a")).unwrap();
/// let back: (u8, String) = twat_cache_common::codec::decode(&bytes).unwrap();
/// assert_eq!(back, (1, "a".to_string()));
/// ```
pub fn encode<T: Serialize + ?Sized>(what: &'static str, value: &T) -> Result<Vec<u8>, CacheError> {
    postcard::to_allocvec(value).map_err(|e| CacheError::Encode {
        what,
        message: e.to_string(),
    })
}

/// Deserializes a value that must use every byte of `bytes`.
///
/// ```
/// use twat_cache_common::codec::decode;
/// assert!(decode::<u8>(&[1, 2]).is_err(), "trailing bytes are refused");
/// // A forged length of 2^62 elements fails quickly instead of allocating.
/// assert!(decode::<Vec<u64>>(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]).is_err());
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(format!("{} trailing bytes", rest.len())),
        Err(e) => Err(e.to_string()),
    }
}
