//! The quickstart: real work behind each decorator, what hit, what missed, which backend
//! served, and how long each call took. Run it twice: the disk caches survive the process.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use std::time::{Duration, Instant};

use twat_ucache::{CacheStats, mcache};

/// Counts the primes below `n` by trial division: honest CPU work.
#[mcache(maxsize = 64)]
fn primes_below(n: u64) -> usize {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count()
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn show(label: &str, first: Duration, second: Duration) {
    let speedup = first.as_secs_f64() / second.as_secs_f64().max(1e-9);
    println!(
        "  {label:<34} first call {first:>10.2?}   repeat {second:>9.2?}   ({speedup:.0}× faster)"
    );
}

fn row(s: &CacheStats) {
    println!(
        "  {:<34} {:<10} {:>6} {:>6} {:>7} {:>8}  {}",
        s.name.rsplit("::").next().unwrap_or(&s.name),
        s.backend.to_string(),
        s.hits,
        s.misses,
        s.entries,
        s.bytes,
        s.fallback_reason.as_deref().unwrap_or("")
    );
}

fn main() {
    println!(
        "twat-cache quickstart (cache root: {})\n",
        twat_ucache::get_cache_path("quickstart")
            .map(|p| p.display().to_string())
            .unwrap_or_else(|e| e.to_string())
    );

    println!("#[mcache]: process memory");
    let (a, first) = timed(|| primes_below(60_000));
    let (b, second) = timed(|| primes_below(60_000));
    assert_eq!(a, b);
    show(&format!("primes_below(60_000) = {a}"), first, second);
    println!("  backend: {}", primes_below_cache().backend());

    println!("\nstats of every cache in this process (twat_ucache::stats_all()):");
    println!(
        "  {:<34} {:<10} {:>6} {:>6} {:>7} {:>8}  fallback",
        "cache", "backend", "hits", "misses", "entries", "bytes"
    );
    let mut all = twat_ucache::stats_all();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    for s in &all {
        row(s);
    }
}
