//! Redis (feature `redis`; without it the cache serves from memory): [`RedisStore`], the [`Store`](twat_cache_store::Store) on a
//! Redis server or Redis Cluster, and [`RedisCache`], the one persistent cache over it,
//! synchronous, for plain functions. `AsyncCache`'s `backend("redis")` is the same cache,
//! its calls moved off the caller's executor.
//!
//! | module | what |
//! |---|---|
//! | `connection` | the url (one server, or several nodes comma separated: a cluster), a pool of synchronous connections, what counts as unreachable |
//! | `scripts` | the Lua scripts keeping entries, the eviction order and the sizes of one namespace in step |
//! | `store` | [`RedisStore`]: lookups, writes, bounds, `OOM`, the memory fallback while down |
//! | `builder` | [`RedisCacheBuilder`]: the shared setters plus `url` |

mod builder;
#[cfg(feature = "redis")]
mod connection;
#[cfg(feature = "redis")]
mod scripts;
#[cfg(feature = "redis")]
mod store;
#[cfg(not(feature = "redis"))]
mod unavailable;

pub use builder::RedisCacheBuilder;
#[cfg(feature = "redis")]
pub use store::RedisStore;
#[cfg(not(feature = "redis"))]
pub use unavailable::RedisStore;

/// Why a Redis cache serves from memory when the `redis` feature is off.
#[cfg_attr(feature = "redis", allow(dead_code))]
pub(crate) const NO_REDIS_FEATURE: &str =
    "twat-acache was built without its `redis` feature; serving from memory";

/// A synchronous cache on a Redis server or a Redis Cluster: the one persistent cache
/// (`twat_cache_store::PersistentCache`) over [`RedisStore`], with the same methods as
/// `LmdbCache` and `FileCache`. See [`RedisCacheBuilder`] for the settings, and the
/// crate docs for what happens when the server is down.
///
/// ```
/// # #[cfg(feature = "redis")] {
/// use twat_acache::{Backend, RedisCache};
/// // Nothing listens on port 1: the cache serves from memory, says why, and keeps
/// // trying the server (at most every 500 ms).
/// let cache = RedisCache::<String, usize>::builder()
///     .url("redis://127.0.0.1:1")
///     .name("lengths")
///     .build()
///     .unwrap();
/// assert_eq!(cache.get_or_insert_with("four".to_string(), || 4), 4);
/// assert_eq!(cache.get("four"), Some(4));
/// assert!(cache.backend().is_memory());
/// assert!(cache.stats().fallback_reason.unwrap().contains("unreachable"));
/// # }
/// ```
pub type RedisCache<K, V> = twat_cache_store::PersistentCache<RedisStore, K, V>;
