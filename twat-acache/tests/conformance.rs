//! The store contract every persistent cache keeps, run on Redis (the scenarios are in
//! `twat_cache_testkit::conformance`), against one real `redis-server` per run of this
//! binary, started by the testkit on a free loopback port.
#![cfg(all(unix, feature = "redis"))]

twat_cache_testkit::conformance_tests!(
    twat_acache::RedisCache<u64, Vec<u8>>,
    setup = twat_cache_testkit::redis::shared_server
);
