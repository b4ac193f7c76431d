//! Serialization of keys and values: postcard over serde.
//!
//! Decoding is bounded, so a damaged or hostile entry costs a miss, never the process:
//!
//! - it reads from a slice that holds the whole payload, so a length field can never make
//!   it read past the end;
//! - a collection's pre-allocation is capped by the input's length: serde's cautious
//!   pre-allocation alone still lets a forged map length of a few bytes reserve megabytes
//!   (postcard passes a map's length through unchecked);
//! - nesting is limited to [`MAX_DEPTH`] levels: postcard recurses once per level, so a
//!   recursive type (a tree, an AST) could otherwise be fed enough levels to overflow the
//!   stack, which aborts the process.

use std::cell::Cell;
use std::fmt;

use serde::Serialize;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use crate::CacheError;

/// How deep values may nest when decoded: every struct, tuple, enum, option, sequence and
/// map is one level. A value nested deeper encodes but never decodes (every read of it
/// is a miss).
pub const MAX_DEPTH: usize = 256;

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
/// use std::collections::HashMap;
/// use twat_cache_common::codec::decode;
/// assert!(decode::<u8>(&[1, 2]).is_err(), "trailing bytes are refused");
/// // A forged length of 2^62 elements fails quickly instead of allocating.
/// assert!(decode::<Vec<u64>>(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f]).is_err());
/// assert!(decode::<HashMap<String, u64>>(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let limits = Limits {
        max_len: bytes.len(),
        depth: Cell::new(0),
        too_deep: Cell::new(false),
    };
    let mut de = postcard::Deserializer::from_bytes(bytes);
    let value = T::deserialize(Bounded {
        inner: &mut de,
        limits: &limits,
    });
    if limits.too_deep.get() {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    match (value, de.finalize()) {
        (Ok(v), Ok([])) => Ok(v),
        (Ok(_), Ok(rest)) => Err(format!("{} trailing bytes", rest.len())),
        (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
    }
}

/// What [`Bounded`] enforces for one [`decode`].
struct Limits {
    /// No collection may pre-allocate for more elements than the input has bytes.
    max_len: usize,
    /// Levels entered now.
    depth: Cell<usize>,
    /// Set when [`MAX_DEPTH`] stopped the decode, for a clear message.
    too_deep: Cell<bool>,
}

impl Limits {
    fn enter<E: de::Error>(&self) -> Result<Level<'_>, E> {
        let depth = self.depth.get() + 1;
        if depth > MAX_DEPTH {
            self.too_deep.set(true);
            return Err(E::custom(format_args!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        self.depth.set(depth);
        Ok(Level(self))
    }

    fn cap(&self, hint: Option<usize>) -> Option<usize> {
        hint.map(|n| n.min(self.max_len))
    }
}

/// One level of nesting, left when dropped.
struct Level<'a>(&'a Limits);

impl Drop for Level<'_> {
    fn drop(&mut self) {
        self.0.depth.set(self.0.depth.get() - 1);
    }
}

/// A deserializer that forwards to `inner`, counting nesting and capping size hints. The
/// adapters below wrap every visitor, access and seed it hands out, so the limits hold at
/// every level.
struct Bounded<'l, D> {
    inner: D,
    limits: &'l Limits,
}

impl<'l, D> Bounded<'l, D> {
    fn wrap<X>(&self, inner: X) -> Bounded<'l, X> {
        Bounded {
            inner,
            limits: self.limits,
        }
    }
}

/// Forwards scalar `deserialize_*` methods unchanged except for the wrapped visitor.
macro_rules! forward_flat {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            let visitor = self.wrap(visitor);
            self.inner.$method(visitor)
        }
    )*};
}

/// Forwards nesting `deserialize_*` methods, one level deeper.
macro_rules! forward_nested {
    ($($method:ident($($arg:ident: $ty:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            let _level = self.limits.enter::<D::Error>()?;
            let visitor = self.wrap(visitor);
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Bounded<'_, D> {
    type Error = D::Error;

    forward_flat! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_identifier
    }

    forward_nested! {
        deserialize_any()
        deserialize_ignored_any()
        deserialize_option()
        deserialize_seq()
        deserialize_map()
        deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str)
        deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Forwards `visit_*` methods that carry no deserializer.
macro_rules! forward_visits {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Bounded<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visits! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str)
        visit_borrowed_str(&'de str) visit_string(String) visit_bytes(&[u8])
        visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let d = self.wrap(d);
        self.inner.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let d = self.wrap(d);
        self.inner.visit_newtype_struct(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let seq = self.wrap(seq);
        self.inner.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let map = self.wrap(map);
        self.inner.visit_map(map)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        let data = self.wrap(data);
        self.inner.visit_enum(data)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Bounded<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let d = self.wrap(d);
        self.inner.deserialize(d)
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Bounded<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.limits.cap(self.inner.size_hint())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Bounded<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.limits.cap(self.inner.size_hint())
    }
}

impl<'de, 'l, A: EnumAccess<'de>> EnumAccess<'de> for Bounded<'l, A> {
    type Error = A::Error;
    type Variant = Bounded<'l, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let limits = self.limits;
        let seed = self.wrap(seed);
        let (value, variant) = self.inner.variant_seed(seed)?;
        Ok((
            value,
            Bounded {
                inner: variant,
                limits,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Bounded<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        let seed = self.wrap(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = self.wrap(visitor);
        self.inner.struct_variant(fields, visitor)
    }
}
