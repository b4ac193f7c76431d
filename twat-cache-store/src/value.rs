//! Values to payloads and back: postcard, with a fast path for `Vec<u8>` values (their
//! bytes are copied once instead of going through serde a byte at a time; the stored bytes
//! are exactly postcard's).

use std::any::{Any, TypeId};

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_common::codec;

use crate::store::Payload;

/// Whether `V` is `Vec<u8>` (stores may then read its bytes straight into the vector).
pub fn is_bytes<V: 'static>() -> bool {
    TypeId::of::<V>() == TypeId::of::<Vec<u8>>()
}

/// Reads a postcard varint (LEB128, at most 10 bytes) from the start of `bytes`:
/// (value, its length in bytes).
///
/// ```
/// use twat_cache_store::value::{read_varint, write_varint};
/// let mut out = Vec::new();
/// write_varint(300, &mut out);
/// assert_eq!(read_varint(&out), Some((300, 2)));
/// ```
pub fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().take(10).enumerate() {
        v |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Appends `v` as a postcard varint.
pub fn write_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct VecFlavor<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for VecFlavor<'_> {
    type Output = ();
    #[inline]
    fn try_push(&mut self, b: u8) -> postcard::Result<()> {
        self.0.push(b);
        Ok(())
    }
    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }
    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends the postcard encoding of `value` to `out` (no intermediate buffer).
///
/// ```
/// let mut out = b"ns\0".to_vec();
/// twat_cache_store::value::encode_into(&7u8, &mut out).unwrap();
/// assert_eq!(out, b"ns\0\x07");
/// ```
pub fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    postcard::serialize_with_flavor(value, VecFlavor(out))
}

/// Appends the payload of `value` to `buf`.
pub fn encode_value<V: Serialize + 'static>(
    value: &V,
    buf: &mut Vec<u8>,
) -> Result<(), postcard::Error> {
    if let Some(bytes) = (value as &dyn Any).downcast_ref::<Vec<u8>>() {
        write_varint(bytes.len() as u64, buf);
        buf.extend_from_slice(bytes);
        return Ok(());
    }
    encode_into(value, buf)
}

/// The value of a payload, or `None` if it does not decode as a `V`.
pub fn decode_value<V: DeserializeOwned + 'static>(payload: Payload<'_>) -> Option<V> {
    if is_bytes::<V>() {
        let bytes = match payload {
            Payload::Bytes(b) => b,
            Payload::Serialized(s) => {
                let (n, vlen) = read_varint(s)?;
                let rest = &s[vlen..];
                if rest.len() as u64 != n {
                    return None;
                }
                rest.to_vec()
            }
        };
        let mut slot = Some(bytes);
        return (&mut slot as &mut dyn Any)
            .downcast_mut::<Option<V>>()?
            .take();
    }
    match payload {
        Payload::Serialized(s) => codec::decode::<V>(s).ok(),
        Payload::Bytes(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_postcard() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut ours = Vec::new();
            write_varint(v, &mut ours);
            assert_eq!(ours, postcard::to_allocvec(&v).unwrap(), "{v}");
            assert_eq!(read_varint(&ours), Some((v, ours.len())));
        }
    }

    #[test]
    fn byte_values_are_encoded_as_postcard_would() {
        let v: Vec<u8> = (0..200).collect();
        let mut fast = Vec::new();
        encode_value(&v, &mut fast).unwrap();
        assert_eq!(fast, postcard::to_allocvec(&v).unwrap());
        assert_eq!(decode_value::<Vec<u8>>(Payload::Serialized(&fast)), Some(v));
        assert_eq!(decode_value::<Vec<u8>>(Payload::Serialized(&[5, 1])), None);
    }
}
