//! `RedisCache`: the synchronous Redis cache for plain functions, against a real
//! `redis-server` started by the test (skipped, loudly, where none is installed).
#![cfg(all(unix, feature = "redis"))]

mod support;

use std::time::{Duration, Instant};

use support::{RedisServer, entry_keys, raw};
use twat_acache::{AsyncCache, Backend, Namespace, Policy, RedisCache};

fn cache(server: &RedisServer, name: &str) -> RedisCache<String, Vec<u64>> {
    RedisCache::builder()
        .url(server.url())
        .name(name)
        .register(false)
        .build()
        .unwrap()
}

fn score(conn: &mut redis::Connection, name: &str, member_of: &str) -> Option<f64> {
    let ns = Namespace::named(name);
    let sk = ns.stored_key(&twat_cache_common::codec::encode("key", &member_of).unwrap());
    let d: String = twat_cache_common::key::digest(&sk)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    redis::cmd("ZSCORE")
        .arg(format!("twat:{{{}}}:order", ns.hex()))
        .arg(d)
        .query(conn)
        .unwrap()
}

#[test]
fn plain_function_round_trip_with_hash_tagged_keys() {
    let Some(server) = RedisServer::start("redis_sync::round_trip") else {
        return;
    };
    let c = cache(&server, "plain");
    let mut runs = 0;
    for _ in 0..3 {
        let v = c.get_or_insert_with("a".into(), || {
            runs += 1;
            vec![1, 2, 3]
        });
        assert_eq!(v, vec![1, 2, 3]);
    }
    assert_eq!(runs, 1, "computed once, then served by Redis");
    assert_eq!(c.backend(), Backend::Redis);
    assert_eq!(c.folder(), None, "Redis has no folder");
    c.insert("b".into(), vec![4]);
    assert_eq!(c.len(), 2);
    let mut conn = raw(&server);
    let keys = entry_keys(&mut conn, &Namespace::named("plain").hex());
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[0].starts_with(&format!("twat:{{{}}}:", Namespace::named("plain").hex())));

    let again = cache(&server, "plain");
    assert_eq!(
        again.get("a"),
        Some(vec![1, 2, 3]),
        "another object sees it"
    );
    assert!(again.remove("a"));
    assert!(!again.remove("a"));
    assert_eq!(c.get("a"), None);
    let s = c.stats();
    assert_eq!((s.kind.as_str(), s.backend), ("redis", Backend::Redis));
    assert_eq!((s.hits, s.inserts, s.entries), (2, 2, 1), "{s:?}");
    assert!(s.bytes > 0, "{s:?}");
    assert_eq!(s.fallback_reason, None);
    c.clear();
    assert_eq!(c.len(), 0);
    let left: Vec<String> = redis::cmd("KEYS").arg("twat:*").query(&mut conn).unwrap();
    assert!(
        left.is_empty(),
        "clear removes entries, order and sizes: {left:?}"
    );
}

#[test]
fn a_url_that_does_not_parse_names_url() {
    for bad in ["not a url", "redis://127.0.0.1:1,mongo://x"] {
        let err = RedisCache::<u8, u8>::builder()
            .url(bad)
            .build()
            .unwrap_err();
        assert_eq!(err.field(), "url", "{bad}");
        assert!(
            err.to_string().contains("not a url") || err.to_string().contains("mongo"),
            "{err}"
        );
    }
    let err = RedisCache::<u8, u8>::builder()
        .url("redis://127.0.0.1:1")
        .policy(Policy::Lfu)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "policy");
}

#[test]
fn lru_reads_reach_redis_in_batches_not_per_hit() {
    let Some(server) = RedisServer::start("redis_sync::lru_batches") else {
        return;
    };
    let c = RedisCache::<String, u32>::builder()
        .url(server.url())
        .name("lru")
        .maxsize(10)
        .register(false)
        .build()
        .unwrap();
    c.insert("a".into(), 1);
    let mut conn = raw(&server);
    let written = score(&mut conn, "lru", "a").expect("in the order");
    std::thread::sleep(Duration::from_millis(5));
    for _ in 0..50 {
        assert_eq!(c.get("a"), Some(1));
    }
    assert_eq!(
        score(&mut conn, "lru", "a"),
        Some(written),
        "no write per hit"
    );
    c.insert("b".into(), 2); // the next write carries the recorded reads
    let read = score(&mut conn, "lru", "a").unwrap();
    assert!(read > written, "{read} > {written}");
}

#[test]
fn fifo_reads_never_reorder() {
    let Some(server) = RedisServer::start("redis_sync::fifo") else {
        return;
    };
    let c = RedisCache::<String, u32>::builder()
        .url(server.url())
        .name("fifo")
        .maxsize(2)
        .policy(Policy::Fifo)
        .register(false)
        .build()
        .unwrap();
    c.insert("a".into(), 1);
    std::thread::sleep(Duration::from_millis(5));
    c.insert("b".into(), 2);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(c.get("a"), Some(1));
    c.insert("c".into(), 3);
    assert_eq!(c.get("a"), None, "first written, first out");
    assert_eq!(c.get("b"), Some(2));
    assert_eq!(c.len(), 2);
    assert_eq!(c.stats().evictions, 1);
}

#[test]
fn max_bytes_bounds_the_namespace() {
    let Some(server) = RedisServer::start("redis_sync::max_bytes") else {
        return;
    };
    let c = RedisCache::<u32, Vec<u8>>::builder()
        .url(server.url())
        .name("bytes")
        .max_bytes(10_000)
        .register(false)
        .build()
        .unwrap();
    for k in 0..50u32 {
        c.insert(k, vec![k as u8; 1000]);
    }
    let s = c.stats();
    assert!(s.bytes <= 10_000, "{s:?}");
    assert!(s.evictions >= 40, "{s:?}");
    assert_eq!(c.get(&49), Some(vec![49; 1000]), "the newest stays");
    c.insert(99, vec![0; 20_000]);
    assert_eq!(c.get(&99), None, "larger than the budget: not stored");
    assert_eq!(
        c.get(&49),
        Some(vec![49; 1000]),
        "and nothing evicted for it"
    );
}

#[test]
fn the_entry_just_written_is_never_its_own_victim_when_scores_tie() {
    // Writes within one millisecond tie on score, and Redis then orders them by member:
    // the entry just written may sort first. Put every older entry after it (a score in
    // the future) so it surely does; the bound must still be kept by evicting the others.
    let Some(server) = RedisServer::start("redis_sync::tie") else {
        return;
    };
    let c = RedisCache::<u32, Vec<u8>>::builder()
        .url(server.url())
        .name("tie")
        .max_bytes(3_500)
        .register(false)
        .build()
        .unwrap();
    for k in 0..3u32 {
        c.insert(k, vec![k as u8; 1000]);
    }
    let mut conn = raw(&server);
    let order = format!("twat:{{{}}}:order", Namespace::named("tie").hex());
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(&order)
        .arg(0)
        .arg(-1)
        .query(&mut conn)
        .unwrap();
    assert_eq!(members.len(), 3);
    for m in &members {
        let _: () = redis::cmd("ZADD")
            .arg(&order)
            .arg(1e15)
            .arg(m)
            .query(&mut conn)
            .unwrap();
    }
    c.insert(3, vec![3; 1000]);
    let s = c.stats();
    assert!(s.bytes <= 3_500, "{s:?}");
    assert_eq!(s.evictions, 1, "{s:?}");
    assert_eq!(
        c.get(&3),
        Some(vec![3; 1000]),
        "the entry just written stays"
    );
}

#[test]
fn maxmemory_full_evicts_oldest_and_keeps_caching() {
    let Some(server) = RedisServer::start("redis_sync::maxmemory") else {
        return;
    };
    let mut conn = raw(&server);
    let used: String = redis::cmd("INFO").arg("memory").query(&mut conn).unwrap();
    let used: u64 = used
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used + (2 << 20))
        .query(&mut conn)
        .unwrap();
    let c = RedisCache::<u32, Vec<u8>>::builder()
        .url(server.url())
        .name("full")
        .register(false)
        .build()
        .unwrap();
    for k in 0..2000u32 {
        let v = c.get_or_insert_with(k, || vec![k as u8; 4096]);
        assert_eq!(v, vec![k as u8; 4096]);
    }
    let s = c.stats();
    assert!(s.evictions > 0, "made room: {s:?}");
    let why = s.last_error.expect("the full server shows in stats");
    assert!(why.contains("maxmemory"), "{why}");
    assert_eq!(
        c.get(&1999),
        Some(vec![1999u32 as u8; 4096]),
        "still caching"
    );
    assert_eq!(c.get(&0), None, "the oldest went first");
}

#[test]
fn down_at_start_then_up_reconnects() {
    let Some(mut server) = RedisServer::start("redis_sync::down_at_start") else {
        return;
    };
    server.kill();
    let c = RedisCache::<u32, u32>::builder()
        .url(server.url())
        .name("late")
        .register(false)
        .build()
        .unwrap();
    let mut runs = 0;
    for _ in 0..2 {
        assert_eq!(
            c.get_or_insert_with(1, || {
                runs += 1;
                10
            }),
            10
        );
    }
    assert_eq!(runs, 1, "cached in memory meanwhile");
    assert!(c.backend().is_memory());
    let why = c.fallback_reason().expect("says why");
    assert!(
        why.contains("unreachable") && why.contains(&server.url()),
        "{why}"
    );
    assert_eq!(c.stats().fallback_reason.as_deref(), Some(why.as_str()));

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut k = 100;
    while c.backend() != Backend::Redis {
        assert!(Instant::now() < deadline, "did not reconnect");
        assert_eq!(c.get_or_insert_with(k, || k + 1), k + 1);
        k += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.fallback_reason(), None);
    c.insert(7, 70);
    let mut conn = raw(&server);
    let keys = entry_keys(&mut conn, &Namespace::named("late").hex());
    assert!(!keys.is_empty(), "values go to Redis again");
    assert_eq!(c.get(&7), Some(70));
}

#[test]
fn killed_mid_run_values_stay_right_then_reconnects() {
    let Some(mut server) = RedisServer::start("redis_sync::killed") else {
        return;
    };
    let c = RedisCache::<u32, u32>::builder()
        .url(server.url())
        .name("killed")
        .register(false)
        .build()
        .unwrap();
    assert_eq!(c.get_or_insert_with(1, || 10), 10);
    server.kill();
    for i in 1..20u32 {
        assert_eq!(c.get_or_insert_with(i, || i * 10), i * 10);
    }
    assert!(c.backend().is_memory());
    assert!(c.stats().fallback_reason.unwrap().contains("unreachable"));
    assert_eq!(
        c.get_or_insert_with(2, || unreachable!()),
        20,
        "memory serves"
    );
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.backend() != Backend::Redis {
        assert!(Instant::now() < deadline, "did not reconnect");
        let _ = c.get(&1);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        c.get_or_insert_with(2, || 21),
        21,
        "the restarted server is empty"
    );
    assert_eq!(c.get(&2), Some(21));
    assert_eq!(c.stats().fallback_reason, None);
}

#[test]
fn async_and_sync_caches_share_one_store() {
    let Some(server) = RedisServer::start("redis_sync::shared") else {
        return;
    };
    let sync = RedisCache::<u32, String>::builder()
        .url(server.url())
        .name("both")
        .register(false)
        .build()
        .unwrap();
    let asynchronous = AsyncCache::<u32, String>::builder()
        .url(server.url())
        .name("both")
        .backend("redis")
        .register(false)
        .build()
        .unwrap();
    sync.insert(1, "from a plain fn".into());
    futures_executor::block_on(async {
        assert_eq!(
            asynchronous.get(&1).await.as_deref(),
            Some("from a plain fn")
        );
        asynchronous.insert(2, "from an async fn".into()).await;
    });
    assert_eq!(sync.get(&2).as_deref(), Some("from an async fn"));
    assert!(matches!(asynchronous.inner(), twat_acache::Inner::Redis(_)));
}

#[test]
fn expired_entries_leave_the_order_when_swept() {
    let Some(server) = RedisServer::start("redis_sync::sweep") else {
        return;
    };
    let c = RedisCache::<u32, u32>::builder()
        .url(server.url())
        .name("sweep")
        .ttl(Duration::from_millis(200))
        .register(false)
        .build()
        .unwrap();
    for k in 0..5 {
        c.insert(k, k);
    }
    assert_eq!(c.len(), 5);
    std::thread::sleep(Duration::from_millis(400));
    c.insert(9, 9); // written after: kept by the sweep
    assert_eq!(
        c.len(),
        6,
        "Redis expired the keys; the order still lists them"
    );
    assert_eq!(c.sweep_expired(), 5);
    assert_eq!(c.len(), 1);
    let bytes = c.stats().bytes;
    assert!(
        bytes > 0 && bytes < 100,
        "only key 9's entry is counted: {bytes}"
    );
    assert_eq!(c.get(&9), Some(9));
}
