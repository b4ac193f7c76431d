//! The Redis backend against a real `redis-server` started by the test (skipped, loudly,
//! where none is installed).
#![cfg(feature = "redis")]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::RedisServer;
use twat_acache::{AsyncCache, Backend, Namespace};

fn cache(server: &RedisServer, name: &str) -> AsyncCache<(String, u32), Vec<u64>> {
    AsyncCache::builder()
        .name(name)
        .backend("redis")
        .url(server.url())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_key_format_ttl_and_namespaced_clear() {
    let Some(server) = RedisServer::start("round_trip") else {
        return;
    };
    let a = cache(&server, "a");
    let b = cache(&server, "b");
    let key = ("x".to_string(), 1);
    assert_eq!(a.get(&key).await, None);
    a.insert(key.clone(), vec![1, 2, 3]).await;
    b.insert(key.clone(), vec![9]).await;
    assert_eq!(a.backend(), Backend::Redis);
    assert_eq!(a.get(&key).await, Some(vec![1, 2, 3]));
    assert_eq!(b.get(&key).await, Some(vec![9]), "namespaces do not mix");

    let mut raw = support::raw(&server);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut raw).unwrap();
    let prefix = format!("twat:{{{}}}:", Namespace::named("a").hex());
    let ours = support::entry_keys(&mut raw, &Namespace::named("a").hex());
    assert!(
        keys.iter()
            .all(|k| !k.starts_with("twat:") || k.starts_with("twat:{")),
        "{keys:?}"
    );
    assert_eq!(ours.len(), 1, "{keys:?}");
    assert_eq!(ours[0].len(), prefix.len() + 32, "digest as 32 hex digits");
    let ttl: i64 = redis::cmd("PTTL").arg(&ours[0]).query(&mut raw).unwrap();
    assert_eq!(ttl, -1, "no ttl configured: no expiry");

    let _: () = redis::cmd("SET")
        .arg("someone:else")
        .arg("x")
        .query(&mut raw)
        .unwrap();
    assert_eq!(a.len(), 1);
    a.clear().await;
    assert_eq!(a.get(&key).await, None);
    assert_eq!(
        b.get(&key).await,
        Some(vec![9]),
        "clear touches only its namespace"
    );
    let other: Option<String> = redis::cmd("GET")
        .arg("someone:else")
        .query(&mut raw)
        .unwrap();
    assert_eq!(other.as_deref(), Some("x"));

    assert!(b.remove(&key).await);
    assert!(!b.remove(&key).await);
    let s = a.stats();
    assert_eq!(s.backend, Backend::Redis);
    assert!(s.hits >= 1 && s.misses >= 2 && s.inserts == 1, "{s:?}");
    assert_eq!(s.fallback_reason, None);
}

#[tokio::test]
async fn ttl_is_set_with_px_and_expired_entries_miss() {
    let Some(server) = RedisServer::start("ttl") else {
        return;
    };
    let c = AsyncCache::<u32, String>::builder()
        .name("ttl")
        .ttl(Duration::from_millis(300))
        .backend("redis")
        .url(server.url())
        .build()
        .unwrap();
    c.insert(1, "one".into()).await;
    let mut raw = support::raw(&server);
    let keys = support::all_entry_keys(&mut raw);
    let pttl: i64 = redis::cmd("PTTL").arg(&keys[0]).query(&mut raw).unwrap();
    assert!(pttl > 0 && pttl <= 300, "PTTL {pttl}");
    assert_eq!(c.get(&1).await.as_deref(), Some("one"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(c.get(&1).await, None);
}

#[tokio::test]
async fn damaged_and_foreign_entries_are_misses() {
    let Some(server) = RedisServer::start("damaged") else {
        return;
    };
    let c = AsyncCache::<u32, u32>::builder()
        .name("damaged")
        .backend("redis")
        .url(server.url())
        .build()
        .unwrap();
    c.insert(1, 10).await;
    c.insert(2, 20).await;
    let mut raw = support::raw(&server);
    let mut keys = support::all_entry_keys(&mut raw);
    keys.sort();
    let (k1, k2) = (keys[0].clone(), keys[1].clone());
    let v1: Vec<u8> = redis::cmd("GET").arg(&k1).query(&mut raw).unwrap();
    // Another call's (valid) entry under this key: its stored key differs, so it is a miss.
    let _: () = redis::cmd("SET").arg(&k2).arg(&v1).query(&mut raw).unwrap();
    // And garbage under the other.
    let _: () = redis::cmd("SET")
        .arg(&k1)
        .arg("garbage")
        .query(&mut raw)
        .unwrap();
    assert_eq!(c.get(&1).await, None);
    assert_eq!(c.get(&2).await, None);
    assert_eq!(c.get_or_insert_with(1, async { 11 }).await, 11);
    assert_eq!(c.get(&1).await, Some(11));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_tasks_one_computation_on_redis() {
    let Some(server) = RedisServer::start("single_flight") else {
        return;
    };
    let c = AsyncCache::<u32, u32>::builder()
        .name("sf")
        .backend("redis")
        .url(server.url())
        .build()
        .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (c, runs) = (c.clone(), runs.clone());
            tokio::spawn(async move {
                c.get_or_insert_with(3, async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    9
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 9);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn down_at_start_serves_from_memory_and_works_under_block_on() {
    let Some(server) = RedisServer::start("down_at_start") else {
        return;
    };
    let port = server.port;
    drop(server); // nothing listens there now
    let c = AsyncCache::<u32, u32>::builder()
        .name("down")
        .backend("redis")
        .url(format!("redis://127.0.0.1:{port}"))
        .build()
        .unwrap();
    futures_executor::block_on(async {
        assert_eq!(c.get_or_insert_with(1, async { 5 }).await, 5);
        assert_eq!(c.get_or_insert_with(1, async { unreachable!() }).await, 5);
    });
    assert!(c.backend().is_memory());
    let reason = c.stats().fallback_reason.expect("says why");
    assert!(reason.contains("unreachable"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_run_falls_back_then_reconnects() {
    let Some(mut server) = RedisServer::start("kill_restart") else {
        return;
    };
    let c = AsyncCache::<u32, u32>::builder()
        .name("kill")
        .backend("redis")
        .url(server.url())
        .build()
        .unwrap();
    assert_eq!(c.get_or_insert_with(1, async { 10 }).await, 10);
    assert_eq!(c.backend(), Backend::Redis);

    server.kill();
    for i in 2..20u32 {
        assert_eq!(c.get_or_insert_with(i, async move { i * 10 }).await, i * 10);
    }
    assert!(
        c.backend().is_memory(),
        "fell back while the server is gone"
    );
    assert!(c.stats().fallback_reason.is_some());
    assert_eq!(
        c.get_or_insert_with(2, async { unreachable!() }).await,
        20,
        "memory serves"
    );

    server.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 100;
    while c.backend() != Backend::Redis {
        assert!(Instant::now() < deadline, "did not reconnect");
        assert_eq!(c.get_or_insert_with(i, async move { i + 1 }).await, i + 1);
        i += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(c.get_or_insert_with(7777, async { 1 }).await, 1);
    assert_eq!(c.get(&7777).await, Some(1));
    assert_eq!(c.stats().fallback_reason, None);
    let mut raw = support::raw(&server);
    let n: usize = redis::cmd("DBSIZE").query(&mut raw).unwrap();
    assert!(n >= 1, "values go to Redis again");
}

#[tokio::test]
async fn a_bad_url_is_a_config_error() {
    let err = AsyncCache::<u8, u8>::builder()
        .backend("redis")
        .url("not a url")
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "url");
}
