//! The freshness rules on Redis: the testkit's store scenarios (the ones LMDB and files run),
//! against one `redis-server` this test binary starts (skipped, loudly, without one).
#![cfg(all(unix, feature = "redis"))]
#![allow(missing_docs)]

use twat_acache::RedisCacheBuilder;
use twat_cache_testkit::freshness;
use twat_cache_testkit::redis::shared_server;

type OnRedis = RedisCacheBuilder<u64, u64>;

macro_rules! on_redis {
    ($($scenario:ident),* $(,)?) => {
        $(
            #[test]
            fn $scenario() {
                if shared_server(stringify!($scenario)) {
                    freshness::$scenario::<OnRedis>();
                }
            }
        )*
    };
}

// `stale_while_revalidate_once_across_caches_with_lock` is left out: `lock = true` takes
// lock files, and a Redis cache has no folder for them.
on_redis!(
    stale_if_error,
    stale_while_revalidate,
    ttl_of,
    force_refresh,
    tti,
    early,
    stamped_and_plain_entries_do_not_mix,
    bad_settings_name_the_field,
);
