//! LmdbCache hit / miss+store, beside a raw heed get + postcard decode of the same data;
//! the hit also with a memory tier (`l1`), beside a `MemoryCache` hit.
//!
//! `cargo bench -p twat-bcache --bench lmdb`. The large-N hit uses 200 000 entries by
//! default (filling 1 000 000 one commit at a time takes minutes on a small machine); set
//! `BCACHE_BENCH_BIG=1000000` for the full size.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use twat_bcache::LmdbCache;
use twat_bcache::heed::types::Bytes;
use twat_bcache::heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions};
use twat_cache_common::codec;

fn value(k: u64) -> Vec<u8> {
    vec![k as u8; 100]
}

/// A cheap deterministic sequence of keys in `0..n`.
struct Keys(u64);
impl Keys {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn filled_cache(dir: &std::path::Path, n: u64) -> LmdbCache<u64, Vec<u8>> {
    let c = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(dir)
        .folder_name(format!("bench-{n}"))
        .name("bench")
        .build()
        .unwrap();
    if c.len() < n as usize {
        for k in 0..n {
            c.insert(k, value(k));
        }
    }
    c
}

fn raw_env(dir: &std::path::Path, n: u64) -> (Env, Database<'static, Bytes, Bytes>) {
    let path = dir.join(format!("raw-{n}"));
    std::fs::create_dir_all(&path).unwrap();
    let mut o = EnvOpenOptions::new();
    o.map_size(1 << 30).max_dbs(1);
    unsafe { o.flags(EnvFlags::NO_SYNC | EnvFlags::NO_READ_AHEAD) };
    let env = unsafe { o.open(&path) }.unwrap();
    let wtxn = env.write_txn().unwrap();
    let db = env
        .create_databases_and_commit(wtxn, |dbo, wtxn| {
            dbo.create_database::<Bytes, Bytes>(wtxn, Some("raw"))
                .map(CommitOrAbort::<_, ()>::Commit)
        })
        .unwrap()
        .unwrap_commit();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut wtxn = env.write_txn().unwrap();
        for &k in chunk {
            let v = codec::encode("value", &value(k)).unwrap();
            db.put(&mut wtxn, &k.to_be_bytes(), &v).unwrap();
        }
        wtxn.commit().unwrap();
    }
    (env, db)
}

fn hits(c: &mut Criterion, n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let cache = filled_cache(dir.path(), n);
    let (env, db) = raw_env(dir.path(), n);
    let mut g = c.benchmark_group(format!("hit_{n}"));
    g.measurement_time(Duration::from_secs(3));
    let mut keys = Keys(0x9e37_79b9_7f4a_7c15);
    g.bench_function(BenchmarkId::new("bcache", n), |b| {
        b.iter(|| {
            let k = keys.next(n);
            black_box(cache.get(&k).unwrap())
        })
    });
    // The same store with a memory tier holding every key, beside a plain memory cache:
    // an L1 hit should cost about what an `#[mcache]` hit costs. Both are bounded per
    // shard, so twice the keys leaves room for all of them.
    let tiered = LmdbCache::<u64, Vec<u8>>::builder()
        .cache_dir(dir.path())
        .folder_name(format!("bench-{n}"))
        .name("bench")
        .l1(2 * n as usize)
        .build()
        .unwrap();
    let memory = twat_mcache::MemoryCache::<u64, Vec<u8>>::builder()
        .maxsize(2 * n as usize)
        .build()
        .unwrap();
    for k in 0..n {
        tiered.get_or_insert_with(k, || value(k)); // promoted from the store
        memory.insert(k, value(k));
    }
    g.bench_function(BenchmarkId::new("bcache_l1", n), |b| {
        b.iter(|| {
            let k = keys.next(n);
            black_box(tiered.get(&k).unwrap())
        })
    });
    g.bench_function(BenchmarkId::new("mcache", n), |b| {
        b.iter(|| {
            let k = keys.next(n);
            black_box(memory.get(&k).unwrap())
        })
    });
    g.bench_function(BenchmarkId::new("raw_heed_get_decode", n), |b| {
        b.iter(|| {
            let k = keys.next(n);
            let rtxn = env.read_txn().unwrap();
            let bytes = db.get(&rtxn, &k.to_be_bytes()).unwrap().unwrap();
            let v: Vec<u8> = codec::decode(bytes).unwrap();
            drop(rtxn);
            black_box(v)
        })
    });
    g.finish();
}

fn hit_10k(c: &mut Criterion) {
    hits(c, 10_000);
}

fn hit_big(c: &mut Criterion) {
    let n = std::env::var("BCACHE_BENCH_BIG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    hits(c, n);
}

fn miss_store(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("miss_store_10k");
    g.measurement_time(Duration::from_secs(3));
    for durable in [false, true] {
        let cache = LmdbCache::<u64, Vec<u8>>::builder()
            .cache_dir(dir.path())
            .folder_name(format!("miss-{durable}"))
            .name("miss")
            .durable(durable)
            .build()
            .unwrap();
        for k in 0..10_000 {
            cache.insert(k, value(k));
        }
        if durable {
            g.sample_size(10);
        }
        let mut next = 1u64 << 40;
        let id = if durable { "bcache_durable" } else { "bcache" };
        g.bench_function(id, |b| {
            b.iter(|| {
                next += 1;
                black_box(cache.get_or_insert_with(next, || value(next)))
            })
        });
    }
    g.finish();
}

/// Hit with and without encryption (feature `encrypt`): 1 000 entries of 100 B and of
/// 4 KiB each, the same settings but for the key. `twat_bcache` (plain) is each group's
/// reference row. `cargo bench -p twat-bcache --features encrypt --bench lmdb -- encrypt_hit`.
#[cfg(feature = "encrypt")]
fn encrypt_hit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let n = 1_000u64;
    for (label, size) in [("100B", 100usize), ("4KiB", 4096)] {
        let mut g = c.benchmark_group(format!("encrypt_hit_{label}"));
        g.measurement_time(Duration::from_secs(3));
        for encrypted in [false, true] {
            let mut b = LmdbCache::<u64, Vec<u8>>::builder()
                .cache_dir(dir.path())
                .folder_name(format!("enc-{label}-{encrypted}"))
                .name("enc");
            if encrypted {
                b = b.encryption_key([7; 32]);
            }
            let cache = b.build().unwrap();
            assert_eq!(cache.encrypted(), encrypted);
            for k in 0..n {
                cache.insert(k, vec![k as u8; size]);
            }
            let mut keys = Keys(0x9e37_79b9_7f4a_7c15);
            let id = if encrypted {
                "twat_bcache_encrypted"
            } else {
                "twat_bcache"
            };
            g.bench_function(id, |b| {
                b.iter(|| {
                    let k = keys.next(n);
                    black_box(cache.get(&k).unwrap())
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, hit_10k, miss_store, hit_big);
#[cfg(feature = "encrypt")]
criterion_group!(encrypt, encrypt_hit);
#[cfg(not(feature = "encrypt"))]
criterion_main!(benches);
#[cfg(feature = "encrypt")]
criterion_main!(benches, encrypt);
