#![allow(missing_docs)]
//! The memory hit and miss paths as a fixed number of operations, for counting instructions
//! under `valgrind --tool=callgrind` (`cargo xtask bench --instructions`): unlike a time, an
//! instruction count does not move with whatever else the machine is doing, so a regression
//! of a few instructions shows up in one run.
//!
//! `instructions <contender> <workload> <ops>`: `contender` is `mcache`, `mcache_std`,
//! `quick_cache` or `cached`; `workload` is `hit` (u64 → u64, 10k keys stored, looked up in
//! a fixed pseudo-random order through the memoized-call path) or `miss` (capacity 1k,
//! every call a new key: a miss that computes, stores and evicts). The setup is the same
//! whatever `ops` is, so xtask runs two counts and divides the difference by the difference
//! of `ops`: what is left is the cost of one operation.
//!
//! `instructions interleaved [rounds]` times instead (`cargo xtask bench --interleaved`):
//! every contender of a workload runs a short burst in turn, round after round, and the
//! fastest and the median of its bursts are reported. Load from other processes then falls
//! on every contender alike, and the fastest burst is the one least disturbed by it (noise
//! only ever adds time), so the ratios hold on a shared, noisy machine where criterion's
//! one-after-another groups drift.
//!
//! Run by `cargo bench` without arguments, it says so and exits.

use std::hint::black_box;
use std::time::Instant;

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

#[cached::macros::cached(max_size = 20_000)]
fn cached_hit(k: u64) -> u64 {
    k.wrapping_mul(3)
}

#[cached::macros::cached(max_size = 1_000)]
fn cached_miss(k: u64) -> u64 {
    k.wrapping_mul(3)
}

fn memo(contender: &str, capacity: usize) -> Option<Box<dyn Fn(u64) -> u64>> {
    Some(match contender {
        "mcache" | "mcache_std" => {
            let mut b = MemoryCache::<u64, u64>::builder().maxsize(capacity);
            if contender == "mcache_std" {
                b = b.force_std_backend();
            }
            let c = b.build().unwrap();
            Box::new(move |k| c.get_or_insert_with(k, || k.wrapping_mul(3)))
        }
        "quick_cache" => {
            let c = quick_cache::sync::Cache::<u64, u64>::new(capacity);
            Box::new(move |k| {
                c.get_or_insert_with(&k, || Ok::<u64, ()>(k.wrapping_mul(3)))
                    .unwrap()
            })
        }
        "cached" if capacity > KEYS as usize => Box::new(cached_hit),
        "cached" => Box::new(cached_miss),
        _ => return None,
    })
}

type Memo = Box<dyn Fn(u64) -> u64 + Sync>;

fn memo_sync(contender: &str, capacity: usize) -> Memo {
    match contender {
        "mcache" | "mcache_std" => {
            let mut b = MemoryCache::<u64, u64>::builder().maxsize(capacity);
            if contender == "mcache_std" {
                b = b.force_std_backend();
            }
            let c = b.build().unwrap();
            Box::new(move |k| c.get_or_insert_with(k, || k.wrapping_mul(3)))
        }
        "quick_cache" => {
            let c = quick_cache::sync::Cache::<u64, u64>::new(capacity);
            Box::new(move |k| {
                c.get_or_insert_with(&k, || Ok::<u64, ()>(k.wrapping_mul(3)))
                    .unwrap()
            })
        }
        "moka" => {
            let c = moka::sync::Cache::<u64, u64>::new(capacity as u64);
            Box::new(move |k| c.get_with(k, || k.wrapping_mul(3)))
        }
        "cached" if capacity > KEYS as usize => Box::new(cached_hit),
        "cached" => Box::new(cached_miss),
        other => panic!("unknown contender {other:?}"),
    }
}

/// One burst: `ops` calls from `threads` threads; nanoseconds per call (wall time / calls).
fn burst(m: &Memo, seq: &[u64], hit: bool, threads: usize, ops: usize, next: &mut u64) -> f64 {
    let per_thread = ops / threads;
    let base = *next;
    *next += ops as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut i = t * 1_237;
                for n in 0..per_thread {
                    let k = if hit {
                        i = (i + 1) % seq.len();
                        seq[i]
                    } else {
                        base + (t * per_thread + n) as u64
                    };
                    black_box(m(black_box(k)));
                }
            });
        }
    });
    start.elapsed().as_nanos() as f64 / (per_thread * threads) as f64
}

fn interleaved(rounds: usize) {
    let seq = sequence();
    // (workload, threads, capacity, ops per burst, contenders)
    let workloads: &[(&str, usize, usize, usize, &[&str])] = &[
        (
            "hit",
            1,
            20_000,
            40_000,
            &["mcache", "mcache_std", "quick_cache", "cached", "moka"],
        ),
        (
            "hit",
            2,
            20_000,
            80_000,
            &["mcache", "mcache_std", "quick_cache", "cached"],
        ),
        (
            "hit",
            4,
            20_000,
            80_000,
            &["mcache", "quick_cache", "cached"],
        ),
        (
            "hit",
            8,
            20_000,
            80_000,
            &["mcache", "quick_cache", "cached"],
        ),
        (
            "miss_evict",
            1,
            1_000,
            10_000,
            &["mcache", "mcache_std", "quick_cache", "cached"],
        ),
    ];
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "| workload | threads | contender | fastest ns/op | ratio to mcache | median ns/op | ratio |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
    for &(workload, threads, capacity, ops, names) in workloads {
        let hit = workload == "hit";
        let memos: Vec<Memo> = names.iter().map(|n| memo_sync(n, capacity)).collect();
        let mut next = 1u64 << 40;
        for m in &memos {
            if hit {
                for k in 0..KEYS {
                    m(k);
                }
            }
            // A warm-up burst (fills the miss caches past capacity).
            burst(m, &seq, hit, threads, ops / 4, &mut next);
        }
        let mut times = vec![Vec::with_capacity(rounds); memos.len()];
        for _ in 0..rounds {
            for (m, t) in memos.iter().zip(&mut times) {
                t.push(burst(m, &seq, hit, threads, ops, &mut next));
            }
        }
        let (fastest, medians): (Vec<f64>, Vec<f64>) = times
            .iter_mut()
            .map(|t| {
                t.sort_by(f64::total_cmp);
                (t[0], t[t.len() / 2])
            })
            .unzip();
        for ((name, min), med) in names.iter().zip(&fastest).zip(&medians) {
            println!(
                "| {workload} | {threads} | {name} | {min:.1} | {:.2}× | {med:.1} | {:.2}× |",
                min / fastest[0],
                med / medians[0]
            );
        }
    }
    println!(
        "\n{rounds} interleaved bursts per contender, {cores} cores; ratio = this \
         row's time / mcache's in the same workload and thread count (above 1: mcache is faster)."
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("interleaved") {
        interleaved(args.get(1).and_then(|n| n.parse().ok()).unwrap_or(41));
        return;
    }
    let (Some(contender), Some(workload), Some(ops)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!(
            "instructions: run by `cargo xtask bench --instructions` \
             (usage: instructions <mcache|mcache_std|quick_cache|cached> <hit|miss> <ops>)"
        );
        return;
    };
    let hit = match workload.as_str() {
        "hit" => true,
        "miss" => false,
        other => panic!("unknown workload {other:?}: hit or miss"),
    };
    let capacity = if hit { 2 * KEYS as usize } else { 1_000 };
    let call =
        memo(contender, capacity).unwrap_or_else(|| panic!("unknown contender {contender:?}"));
    if hit {
        let seq = sequence();
        for k in 0..KEYS {
            call(k);
        }
        // One pass first: every key's path is warm before the counted calls.
        for &k in &seq {
            black_box(call(black_box(k)));
        }
        for i in 0..ops {
            black_box(call(black_box(seq[(i % KEYS) as usize])));
        }
    } else {
        // Fill past capacity first, so every counted call evicts.
        let mut next = 1u64 << 40;
        for _ in 0..3 * capacity {
            black_box(call(black_box(next)));
            next += 1;
        }
        for _ in 0..ops {
            black_box(call(black_box(next)));
            next += 1;
        }
    }
}
