#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn
//! Memory-cache benchmarks, all on the same precomputed keys, beside the crates users would
//! otherwise pick. `cargo xtask bench` prints them as one table with ratios to `mcache`.
//!
//! - `hit_1t`: u64 → u64, 10k keys warm, random order, one thread (memoized-call path:
//!   `get_or_insert_with` on a hit, or the equivalent of each crate).
//! - `hit_2t`: the same from 2 threads at once; time per op = wall time / total ops, so a
//!   lower number is more total throughput.
//! - `miss_evict`: capacity 1k, every call a new key (a miss that stores and evicts).
//! - `decorator`: a `#[mcache]` function hit vs the cache called by hand vs `#[cached]`.
//! - `hit_threads`: the hit of `hit_1t` from 1, 2, 4 and 8 threads (`<crate>/<threads>`);
//!   time per op = wall time / total ops. Threads beyond the machine's cores share them, so
//!   read those rows on a machine with at least 8.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use parking_lot::Mutex;
use twat_mcache::{MemoryCache, mcache};

const KEYS: u64 = 10_000;

/// 10k lookups of the 10k keys in a fixed pseudo-random order.
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

trait Memo: Sync {
    fn call(&self, k: u64) -> u64;
}

struct Ours(MemoryCache<u64, u64>);
impl Memo for Ours {
    #[inline]
    fn call(&self, k: u64) -> u64 {
        self.0.get_or_insert_with(k, || k.wrapping_mul(3))
    }
}

struct HashMapMutex(Mutex<HashMap<u64, u64>>);
impl Memo for HashMapMutex {
    #[inline]
    fn call(&self, k: u64) -> u64 {
        if let Some(v) = self.0.lock().get(&k) {
            return *v;
        }
        let v = k.wrapping_mul(3);
        self.0.lock().insert(k, v);
        v
    }
}

struct Moka(moka::sync::Cache<u64, u64>);
impl Memo for Moka {
    #[inline]
    fn call(&self, k: u64) -> u64 {
        self.0.get_with(k, || k.wrapping_mul(3))
    }
}

struct Quick(quick_cache::sync::Cache<u64, u64>);
impl Memo for Quick {
    #[inline]
    fn call(&self, k: u64) -> u64 {
        self.0
            .get_or_insert_with(&k, || Ok::<u64, ()>(k.wrapping_mul(3)))
            .unwrap()
    }
}

#[cached::macros::cached(max_size = 20_000)]
fn cached_hit(k: u64) -> u64 {
    k.wrapping_mul(3)
}

#[cached::macros::cached(max_size = 1_000)]
fn cached_miss(k: u64) -> u64 {
    k.wrapping_mul(3)
}

struct Cached;
impl Memo for Cached {
    #[inline]
    fn call(&self, k: u64) -> u64 {
        cached_hit(k)
    }
}

#[mcache(maxsize = 20_000)]
fn mcache_hit(k: u64) -> u64 {
    k.wrapping_mul(3)
}

fn contenders(capacity: u64) -> Vec<(&'static str, Box<dyn Memo>)> {
    vec![
        (
            "mcache",
            Box::new(Ours(
                MemoryCache::builder()
                    .maxsize(capacity as usize)
                    .build()
                    .unwrap(),
            )),
        ),
        (
            "mcache_std",
            Box::new(Ours(
                MemoryCache::builder()
                    .maxsize(capacity as usize)
                    .force_std_backend()
                    .build()
                    .unwrap(),
            )),
        ),
        (
            "hashmap_mutex",
            Box::new(HashMapMutex(Mutex::new(HashMap::new()))),
        ),
        ("moka", Box::new(Moka(moka::sync::Cache::new(capacity)))),
        (
            "quick_cache",
            Box::new(Quick(quick_cache::sync::Cache::new(capacity as usize))),
        ),
    ]
}

fn hits(c: &mut Criterion) {
    let seq = sequence();
    let mut all = contenders(20_000);
    all.push(("cached", Box::new(Cached)));
    for (_, m) in &all {
        for k in 0..KEYS {
            m.call(k);
        }
    }
    let mut one = c.benchmark_group("hit_1t");
    for (name, m) in &all {
        one.bench_function(*name, |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % seq.len();
                black_box(m.call(black_box(seq[i])))
            })
        });
    }
    one.finish();

    let mut two = c.benchmark_group("hit_2t");
    for (name, m) in &all {
        two.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(2);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for t in 0..2 {
                        let (m, seq) = (&**m, &seq);
                        s.spawn(move || {
                            let mut i = t * 5_000;
                            for _ in 0..per_thread {
                                i = (i + 1) % seq.len();
                                black_box(m.call(black_box(seq[i])));
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    two.finish();

    // Thread scaling: ours and the two nearest anchors.
    let mut scaling = c.benchmark_group("hit_threads");
    for (name, m) in all
        .iter()
        .filter(|(n, _)| ["mcache", "quick_cache", "cached"].contains(n))
    {
        for threads in [1u64, 2, 4, 8] {
            scaling.bench_function(format!("{name}/{threads}"), |b| {
                b.iter_custom(|iters| {
                    let per_thread = iters.div_ceil(threads);
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for t in 0..threads {
                            let (m, seq) = (&**m, &seq);
                            s.spawn(move || {
                                let mut i = (t * 1_237) as usize;
                                for _ in 0..per_thread {
                                    i = (i + 1) % seq.len();
                                    black_box(m.call(black_box(seq[i])));
                                }
                            });
                        }
                    });
                    start.elapsed()
                })
            });
        }
    }
    scaling.finish();
}

fn misses(c: &mut Criterion) {
    let mut g = c.benchmark_group("miss_evict");
    let next = AtomicU64::new(1 << 40);
    for (name, m) in contenders(1_000) {
        if name == "hashmap_mutex" {
            continue; // unbounded: not the same work
        }
        g.bench_function(name, |b| {
            b.iter(|| black_box(m.call(next.fetch_add(1, Ordering::Relaxed))))
        });
    }
    g.bench_function("cached", |b| {
        b.iter(|| black_box(cached_miss(next.fetch_add(1, Ordering::Relaxed))))
    });
    g.finish();
}

fn decorator(c: &mut Criterion) {
    let seq = sequence();
    let by_hand = MemoryCache::<u64, u64>::builder()
        .maxsize(20_000)
        .build()
        .unwrap();
    for k in 0..KEYS {
        mcache_hit(k);
        by_hand.get_or_insert_with(k, || k * 3);
        cached_hit(k);
    }
    let mut g = c.benchmark_group("decorator");
    let mut i = 0;
    g.bench_function("mcache_macro", |b| {
        b.iter(|| {
            i = (i + 1) % seq.len();
            black_box(mcache_hit(black_box(seq[i])))
        })
    });
    g.bench_function("mcache_by_hand", |b| {
        b.iter(|| {
            i = (i + 1) % seq.len();
            black_box(by_hand.get_or_insert_with(black_box(seq[i]), || 0))
        })
    });
    g.bench_function("cached_macro", |b| {
        b.iter(|| {
            i = (i + 1) % seq.len();
            black_box(cached_hit(black_box(seq[i])))
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! { name = benches; config = config(); targets = hits, misses, decorator }
criterion_main!(benches);
