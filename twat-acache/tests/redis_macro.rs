//! `#[acache(backend = "redis")]`, its URL from `TWAT_CACHE_REDIS_URL`.
#![cfg(feature = "redis")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use twat_acache::{Backend, acache};

static CALLS: AtomicUsize = AtomicUsize::new(0);

#[acache(backend = "redis", ttl = 60, version = 2)]
async fn area(w: u32, h: u32) -> u64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    u64::from(w) * u64::from(h)
}

#[tokio::test]
async fn decorated_fn_on_redis() {
    let Some(server) = support::RedisServer::start("redis_macro") else {
        return;
    };
    // SAFETY: the only test in this binary, and set before any thread reads it.
    unsafe { std::env::set_var(twat_acache::REDIS_URL_VAR, server.url()) };
    assert_eq!(area(3, 4).await, 12);
    assert_eq!(area(3, 4).await, 12);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    assert_eq!(area_cache().backend(), Backend::Redis);
    assert_eq!(area_cache().get(&(3, 4)).await, Some(12));
    let mut raw = support::raw(&server);
    let keys = support::all_entry_keys(&mut raw);
    assert_eq!(keys.len(), 1);
    twat_acache::clear_all();
    assert_eq!(area_cache().len(), 0);
}
