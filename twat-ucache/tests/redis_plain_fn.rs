//! `#[ucache(preferred_engine = "redis")]` on plain functions, against a real
//! `redis-server` started by the test (skipped, loudly, where none is installed). The
//! server is named through `TWAT_CACHE_REDIS_URL`, which is process-global: one test.
#![cfg(all(unix, feature = "redis"))]
#![allow(missing_docs)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use twat_cache_testkit::redis::RedisServer;
use twat_ucache::{Backend, RedisCache, ucache};

static SQUARES: AtomicUsize = AtomicUsize::new(0);
static BUCKETS: AtomicUsize = AtomicUsize::new(0);
static PARSES: AtomicUsize = AtomicUsize::new(0);
static TIERED: AtomicUsize = AtomicUsize::new(0);
static UPSTREAM_DOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static QUOTES: AtomicUsize = AtomicUsize::new(0);

#[ucache(preferred_engine = "redis", ttl = "50ms", stale_if_error = "1h")]
fn quote(symbol: &str) -> Result<String, String> {
    QUOTES.fetch_add(1, Ordering::SeqCst);
    if UPSTREAM_DOWN.load(Ordering::SeqCst) {
        Err("upstream down".into())
    } else {
        Ok(format!("{symbol}: 42"))
    }
}

#[ucache(preferred_engine = "redis", l1 = 100)]
fn tiered(x: u64) -> u64 {
    TIERED.fetch_add(1, Ordering::SeqCst);
    x + 1
}

#[ucache(preferred_engine = "redis", ttl = 60, maxsize = 100)]
fn slow_square(x: u64) -> u64 {
    SQUARES.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[ucache(preferred_engine = "redis", key = x % 10)]
fn bucket(x: u64) -> u64 {
    BUCKETS.fetch_add(1, Ordering::SeqCst);
    x % 10
}

#[ucache(preferred_engine = "redis", policy = "fifo")]
fn parse(text: &str) -> Result<u32, String> {
    PARSES.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|e| format!("{e}"))
}

#[test]
fn plain_fns_on_redis_through_the_macro() {
    let Some(mut server) = RedisServer::start("redis_plain_fn") else {
        return;
    };
    // SAFETY: the only test in this binary, set before any cache reads it.
    unsafe { std::env::set_var("TWAT_CACHE_REDIS_URL", server.url()) };

    assert_eq!(slow_square(12), 144);
    assert_eq!(slow_square(12), 144);
    assert_eq!(SQUARES.load(Ordering::SeqCst), 1);
    let cache: &RedisCache<u64, u64> = slow_square_cache();
    assert_eq!(
        cache.backend(),
        Backend::Redis,
        "{:?}",
        cache.fallback_reason()
    );
    let s = cache.stats();
    assert_eq!(s.kind, "redis");
    assert_eq!(s.selection.as_deref(), Some("preferred_engine = \"redis\""));
    assert_eq!((s.hits, s.misses, s.entries), (1, 1, 1), "{s:?}");
    assert_eq!(s.ttl_secs, Some(60.0));

    // A memory tier in front of Redis: repeat calls never reach the server.
    for _ in 0..3 {
        assert_eq!(tiered(1), 2);
    }
    assert_eq!(TIERED.load(Ordering::SeqCst), 1);
    let s = tiered_cache().stats();
    assert_eq!((s.hits, s.l1_hits), (2, 2), "{s:?}");

    // A freshness rule on Redis through the macro: an expired value stands in for an error.
    assert_eq!(quote("ACME").as_deref(), Ok("ACME: 42"));
    UPSTREAM_DOWN.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(120)); // past the ttl
    assert_eq!(
        quote("ACME").as_deref(),
        Ok("ACME: 42"),
        "stale, not the error"
    );
    assert_eq!(QUOTES.load(Ordering::SeqCst), 2, "the body ran and failed");
    let s = quote_cache().stats();
    assert_eq!((s.stale_served, s.refresh_errors), (1, 1), "{s:?}");
    UPSTREAM_DOWN.store(false, Ordering::SeqCst);

    assert_eq!(bucket(3), 3);
    assert_eq!(bucket(13), 3, "same key, cached value");
    assert_eq!(BUCKETS.load(Ordering::SeqCst), 1);

    assert_eq!(parse("x"), Err("invalid digit found in string".into()));
    assert_eq!(parse("x").map_err(|_| ()), Err(()));
    assert_eq!(PARSES.load(Ordering::SeqCst), 2, "errors are not stored");
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(PARSES.load(Ordering::SeqCst), 3);
    assert_eq!(parse_cache().policy(), twat_ucache::Policy::Fifo);

    // The registry reaches Redis caches.
    assert!(
        twat_ucache::stats_all()
            .iter()
            .any(|s| s.kind == "redis" && s.name.ends_with("::slow_square"))
    );
    twat_ucache::clear_all();
    assert_eq!(slow_square_cache().len(), 0);
    assert_eq!(slow_square(12), 144);
    assert_eq!(SQUARES.load(Ordering::SeqCst), 2, "cleared: computed again");

    // The server goes away: values stay right, from memory; then it comes back.
    server.kill();
    for x in 0..5 {
        assert_eq!(slow_square(x), x * x);
        assert_eq!(slow_square(x), x * x);
    }
    assert!(slow_square_cache().backend().is_memory());
    assert!(
        slow_square_cache()
            .fallback_reason()
            .unwrap()
            .contains("unreachable")
    );
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while slow_square_cache().backend() != Backend::Redis {
        assert!(Instant::now() < deadline, "did not reconnect");
        assert_eq!(slow_square(9), 81);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(slow_square(11), 121);
    assert_eq!(
        slow_square_cache().get(&11),
        Some(121),
        "in the restarted server"
    );
    assert_eq!(
        slow_square_cache().get(&3),
        None,
        "what memory held meanwhile is dropped"
    );
    assert_eq!(slow_square_cache().stats().fallback_reason, None);
}
