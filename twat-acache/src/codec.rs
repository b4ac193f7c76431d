//! Type-erased serialization for the persistent backends, so that only caches that use one
//! need `K: Serialize` and `V: Serialize + DeserializeOwned`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use twat_cache_common::{CacheError, codec};

/// Encoders and decoder for one `K`/`V` pair, as plain function pointers.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Codec<K, V> {
    pub(crate) key: fn(&K) -> Result<Vec<u8>, CacheError>,
    pub(crate) value: fn(&V) -> Result<Vec<u8>, CacheError>,
    pub(crate) decode: fn(&[u8]) -> Result<V, String>,
}

impl<K, V> Clone for Codec<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for Codec<K, V> {}

impl<K: Serialize, V: Serialize + DeserializeOwned> Codec<K, V> {
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn new() -> Self {
        Codec {
            key: |k| codec::encode("key", k),
            value: |v| codec::encode("value", v),
            decode: |b| codec::decode(b),
        }
    }
}
