#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn
//! Async-cache benchmarks on the same precomputed u64 keys, beside what users would
//! otherwise pick. Each memory measurement runs a batch of 10k lookups (all hits) inside one
//! `block_on`, so the numbers are per lookup (criterion reports elements/s; time per batch
//! / 10k = time per hit).
//!
//! - `memory_hit/acache`: `AsyncCache::get_or_insert_with` on a hit (the `#[acache]` path);
//! - `memory_hit/acache_macro`: a `#[acache]` async fn hit;
//! - `memory_hit/mcache`: `twat_mcache::MemoryCache::get` (sync);
//! - `memory_hit/moka_future`: `moka::future::Cache::get_with`;
//! - `memory_hit/cached_async`: a `#[cached(max_size = ..)] async fn` hit;
//! - `redis_hit/acache` vs `redis_hit/raw_get`: one hit through the Redis backend vs one raw
//!   `GET` on a multiplexed connection, against a `redis-server` this bench starts on a free
//!   loopback port (skipped when there is none, or without the `redis` feature).
//! - `redis_sync_hit/twat_redis_cache` vs `redis_sync_hit/raw_get`: one hit through the
//!   synchronous `RedisCache` (what a plain fn with `#[ucache(preferred_engine = "redis")]`
//!   calls) vs one raw `GET` on the same kind of connection (a synchronous
//!   `redis::Connection`), against the same server.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_executor::block_on;
use twat_acache::{AsyncCache, acache};
use twat_mcache::MemoryCache;

const KEYS: u64 = 10_000;

fn sequence() -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..KEYS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % KEYS
        })
        .collect()
}

#[acache(maxsize = 20_000)]
async fn ours_macro(k: u64) -> u64 {
    k.wrapping_mul(3)
}

#[cached::proc_macro::cached(max_size = 20_000)]
async fn theirs_cached(k: u64) -> u64 {
    k.wrapping_mul(3)
}

fn memory(c: &mut Criterion) {
    let keys = sequence();
    let mut g = c.benchmark_group("memory_hit");
    g.throughput(Throughput::Elements(KEYS));

    let acache = AsyncCache::<u64, u64>::builder()
        .maxsize(20_000)
        .build()
        .unwrap();
    let mcache = MemoryCache::<u64, u64>::builder()
        .maxsize(20_000)
        .build()
        .unwrap();
    let moka = moka::future::Cache::<u64, u64>::new(20_000);
    block_on(async {
        for k in 0..KEYS {
            acache.insert(k, k * 3).await;
            mcache.insert(k, k * 3);
            moka.insert(k, k * 3).await;
            ours_macro(k).await;
            theirs_cached(k).await;
        }
    });

    g.bench_function("acache", |b| {
        b.iter(|| {
            block_on(async {
                for &k in &keys {
                    black_box(acache.get_or_insert_with(k, async move { k * 3 }).await);
                }
            })
        })
    });
    g.bench_function("acache_macro", |b| {
        b.iter(|| {
            block_on(async {
                for &k in &keys {
                    black_box(ours_macro(k).await);
                }
            })
        })
    });
    g.bench_function("mcache", |b| {
        b.iter(|| {
            for &k in &keys {
                black_box(mcache.get(&k));
            }
        })
    });
    g.bench_function("moka_future", |b| {
        b.iter(|| {
            block_on(async {
                for &k in &keys {
                    black_box(moka.get_with(k, async move { k * 3 }).await);
                }
            })
        })
    });
    g.bench_function("cached_async", |b| {
        b.iter(|| {
            block_on(async {
                for &k in &keys {
                    black_box(theirs_cached(k).await);
                }
            })
        })
    });
    g.finish();
}

#[cfg(feature = "redis")]
fn redis(c: &mut Criterion) {
    use std::net::TcpListener;
    use std::process::{Command, Stdio};

    let Ok(port) = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) else {
        return;
    };
    let port = port.port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("\n!!!!! redis benches SKIPPED: no `redis-server` on PATH !!!!!\n");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}");
    let client = redis::Client::open(url.as_str()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut conn = None;
    for _ in 0..200 {
        if let Ok(c) = rt.block_on(client.get_multiplexed_async_connection()) {
            conn = Some(c);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let conn = conn.expect("redis-server answers");

    let cache = AsyncCache::<u64, u64>::builder()
        .name("bench")
        .backend("redis")
        .url(url.as_str())
        .build()
        .unwrap();
    rt.block_on(async {
        for k in 0..100 {
            cache.insert(k, k * 3).await;
        }
        let mut c = conn.clone();
        let v = vec![7u8; 60]; // about the size of an acache entry for a u64
        for k in 0..100u64 {
            let _: () = redis::cmd("SET")
                .arg(format!("raw:{k}"))
                .arg(&v)
                .query_async(&mut c)
                .await
                .unwrap();
        }
    });
    assert_eq!(cache.backend(), twat_acache::Backend::Redis);

    let mut g = c.benchmark_group("redis_hit");
    let mut i = 0u64;
    g.bench_function("acache", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % 100;
            let k = i;
            let cache = &cache;
            async move { black_box(cache.get_or_insert_with(k, async move { k * 3 }).await) }
        })
    });
    let mut j = 0u64;
    g.bench_function("raw_get", |b| {
        b.to_async(&rt).iter(|| {
            j = (j + 1) % 100;
            let key = format!("raw:{j}");
            let mut c = conn.clone();
            async move {
                let v: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                black_box(v)
            }
        })
    });
    g.finish();
    redis_sync(c, &url);
    let _ = child.kill();
    let _ = child.wait();
}

/// The synchronous `RedisCache` hit beside a raw `GET` on a synchronous connection.
#[cfg(feature = "redis")]
fn redis_sync(c: &mut Criterion, url: &str) {
    let cache = twat_acache::RedisCache::<u64, u64>::builder()
        .name("bench-sync")
        .url(url)
        .register(false)
        .build()
        .unwrap();
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let v = vec![7u8; 60]; // about the size of an entry for a u64
    for k in 0..100u64 {
        cache.insert(k, k * 3);
        let _: () = redis::cmd("SET")
            .arg(format!("raw:{k}"))
            .arg(&v)
            .query(&mut conn)
            .unwrap();
    }
    assert_eq!(cache.backend(), twat_acache::Backend::Redis);
    let mut g = c.benchmark_group("redis_sync_hit");
    let mut i = 0u64;
    g.bench_function("twat_redis_cache", |b| {
        b.iter(|| {
            i = (i + 1) % 100;
            black_box(cache.get_or_insert_with(i, || i * 3))
        })
    });
    // The same store with a memory tier in front (`l1`), beside a plain memory cache.
    let tiered = twat_acache::RedisCache::<u64, u64>::builder()
        .name("bench-sync")
        .url(url)
        .l1(256)
        .register(false)
        .build()
        .unwrap();
    let memory = MemoryCache::<u64, u64>::builder()
        .maxsize(256)
        .build()
        .unwrap();
    for k in 0..100u64 {
        tiered.get_or_insert_with(k, || unreachable!("stored above"));
        memory.insert(k, k * 3);
    }
    let mut t = 0u64;
    g.bench_function("twat_redis_cache_l1", |b| {
        b.iter(|| {
            t = (t + 1) % 100;
            black_box(tiered.get_or_insert_with(t, || t * 3))
        })
    });
    let mut m = 0u64;
    g.bench_function("mcache", |b| {
        b.iter(|| {
            m = (m + 1) % 100;
            black_box(memory.get_or_insert_with(m, || m * 3))
        })
    });
    let mut j = 0u64;
    g.bench_function("raw_get", |b| {
        b.iter(|| {
            j = (j + 1) % 100;
            let v: Option<Vec<u8>> = redis::cmd("GET")
                .arg(format!("raw:{j}"))
                .query(&mut conn)
                .unwrap();
            black_box(v)
        })
    });
    g.finish();
}

#[cfg(not(feature = "redis"))]
fn redis(_: &mut Criterion) {
    eprintln!("redis benches need `--features redis`");
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = memory, redis
}
criterion_main!(benches);
