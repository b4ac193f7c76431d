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
//! Run by `cargo bench` without arguments, it says so and exits.

use std::hint::black_box;

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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
