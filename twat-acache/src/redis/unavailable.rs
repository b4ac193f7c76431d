//! The stand-in for [`RedisStore`] when the `redis` feature is off: every cache over it
//! serves from memory (the compile-time fallback), and neither tokio nor redis is built.

use twat_cache_common::Backend;
use twat_cache_store::unavailable::{Missing, Unavailable};

/// The `redis` feature is off.
#[derive(Debug)]
pub struct NoRedis;

impl Missing for NoRedis {
    type Builder<K, V> = crate::RedisCacheBuilder<K, V>;
    const BACKEND: Backend = Backend::Redis;
    const REASON: &'static str = super::NO_REDIS_FEATURE;
    const HAS_FOLDER: bool = false;
}

/// No store: compiled out by the `redis` feature.
pub type RedisStore = Unavailable<NoRedis>;
