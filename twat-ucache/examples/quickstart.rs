//! The quickstart: real work behind each decorator, what hit, what missed, which backend
//! served, and how long each call took. Run it twice: the disk caches survive the process.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use twat_ucache::{CacheStats, acache, bcache, fcache, mcache, ucache};

/// Counts the primes below `n` by trial division: honest CPU work.
#[mcache(maxsize = 64)]
fn primes_below(n: u64) -> usize {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count()
}

/// The start below `limit` with the longest Collatz chain, and its length. Stored in LMDB,
/// shared with every other process using the `quickstart` folder.
#[bcache(folder_name = "quickstart", ttl = "1h", maxsize = 10_000)]
fn longest_collatz(limit: u64) -> (u64, u32) {
    (1..limit)
        .map(|start| {
            let (mut n, mut steps) = (start, 0u32);
            while n != 1 {
                n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
                steps += 1;
            }
            (start, steps)
        })
        .max_by_key(|&(_, steps)| steps)
        .unwrap_or((1, 0))
}

/// The same answer through a second LMDB cache with a memory tier (`l1`) in front: repeat
/// calls are served from process memory, and the tier follows changes other processes
/// make to the folder within a second. (Its body asks the cache above, so nothing is
/// computed twice.)
#[bcache(folder_name = "quickstart", ttl = "1h", l1 = 1_000)]
fn longest_collatz_l1(limit: u64) -> (u64, u32) {
    longest_collatz(limit)
}

/// A 256×256 grey-scale Mandelbrot tile: 64 KiB, stored compressed, one file per tile.
#[fcache(folder_name = "quickstart", compress = true)]
fn render_tile(zoom: u8, x: u32, y: u32) -> Vec<u8> {
    let scale = 3.0 / f64::from(256u32 << zoom);
    let mut pixels = Vec::with_capacity(256 * 256);
    for py in 0..256u32 {
        for px in 0..256u32 {
            let cr = -2.0 + f64::from(x * 256 + px) * scale;
            let ci = -1.5 + f64::from(y * 256 + py) * scale;
            let (mut zr, mut zi, mut i) = (0.0f64, 0.0f64, 0u8);
            while zr * zr + zi * zi < 4.0 && i < 255 {
                (zr, zi) = (zr * zr - zi * zi + cr, 2.0 * zr * zi + ci);
                i += 1;
            }
            pixels.push(i);
        }
    }
    pixels
}

/// The `n`-th prime (1-based). `#[ucache]` picks the engine: `folder_name` asks for
/// persistence, so this one is served by LMDB, and its stats say why.
#[ucache(folder_name = "quickstart")]
fn nth_prime(n: u64) -> u64 {
    (2u64..)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .nth(n as usize - 1)
        .unwrap_or(2)
}

/// The most frequent identifiers in the Rust sources under `dir`: the files are read on a
/// worker thread while the async caller awaits them (the way an async service hands blocking
/// I/O off its executor). `#[acache]` keeps the answer in memory for a minute.
#[acache(ttl = 60, maxsize = 16)]
async fn top_identifiers(dir: PathBuf, n: usize) -> Vec<(String, usize)> {
    let (tx, rx) = futures_channel::oneshot::channel();
    std::thread::spawn(move || {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in rust_sources(&dir) {
            for word in text.split(|c: char| !c.is_alphanumeric() && c != '_') {
                if word.len() > 3 && !word.starts_with(|c: char| c.is_ascii_digit()) {
                    *counts.entry(word.to_owned()).or_default() += 1;
                }
            }
        }
        let mut top: Vec<_> = counts.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(n);
        let _ = tx.send(top);
    });
    rx.await.unwrap_or_default()
}

/// Whether the (pretend) rates service is down.
static RATES_DOWN: AtomicBool = AtomicBool::new(false);

/// An exchange rate from a flaky upstream: fresh for 100 ms, and for an hour after that
/// an error from the service returns the last good rate instead (`stale_if_error`,
/// logged and counted in `stats().stale_served`).
#[mcache(ttl = "100ms", stale_if_error = "1h")]
fn exchange_rate(currency: &str) -> Result<f64, String> {
    if RATES_DOWN.load(Ordering::SeqCst) {
        return Err(format!("rates service down, no rate for {currency}"));
    }
    Ok(if currency == "EUR" { 1.08 } else { 1.0 })
}

/// The text of every `.rs` file under `dir`, skipping build output.
fn rust_sources(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && !name.to_string_lossy().starts_with('.') {
            out.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.extend(std::fs::read_to_string(&path));
        }
    }
    out
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

fn show(label: &str, origin: &str, first: Duration, second: Duration) {
    println!("  {label}");
    let repeat = if origin.starts_with("miss") {
        let speedup = first.as_secs_f64() / second.as_secs_f64().max(1e-9);
        format!("hit, {speedup:.0}× faster")
    } else {
        "hit".to_owned()
    };
    println!("    first call {first:>10.2?} ({origin})   repeat {second:>9.2?} ({repeat})");
}

fn origin(was_stored: bool) -> &'static str {
    if was_stored {
        "hit: stored by an earlier run"
    } else {
        "miss: computed"
    }
}

fn row(s: &CacheStats) {
    println!(
        "  {:<18} {:<7} {:<10} {:>5} {:>7} {:>8} {:>9}  {}",
        s.name.rsplit("::").next().unwrap_or(&s.name),
        s.kind,
        s.backend.to_string(),
        s.hits,
        s.misses,
        s.entries,
        s.bytes,
        s.fallback_reason.as_deref().unwrap_or("-")
    );
}

fn main() {
    let root = twat_ucache::get_cache_path("quickstart")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| e.to_string());
    println!("twat-cache quickstart; disk caches in {root}");
    if cfg!(debug_assertions) {
        // Hot dependencies are optimised even here ([profile.dev.package] in the workspace's
        // Cargo.toml); our own crates are not, so timings are a few times a release build's.
        println!(
            "debug build: times are a few times a release build's; \
             `cargo run --release --example quickstart` shows release numbers"
        );
    }
    println!();

    println!("#[mcache]: process memory (gone when the process exits)");
    let (a, first) = timed(|| primes_below(60_000));
    let (b, second) = timed(|| primes_below(60_000));
    assert_eq!(a, b);
    show(
        &format!("primes_below(60_000) = {a}"),
        origin(false),
        first,
        second,
    );
    println!("    served by: {}\n", primes_below_cache().backend());

    println!("#[bcache]: LMDB on disk, shared by processes");
    let (a, first) = timed(|| longest_collatz(300_000));
    let stored = longest_collatz_cache().stats().hits == 1; // the first lookup hit: on disk
    let (b, second) = timed(|| longest_collatz(300_000));
    assert_eq!(a, b);
    show(
        &format!("longest_collatz(300_000) = {a:?}"),
        origin(stored),
        first,
        second,
    );
    println!("    served by: {}\n", longest_collatz_cache().backend());

    println!("#[bcache(l1 = 1_000)]: the same store with a memory tier in front");
    longest_collatz_l1(300_000); // from the store (or computed), then kept in memory too
    let average = |f: &dyn Fn() -> (u64, u32)| {
        let t = Instant::now();
        for _ in 0..10_000 {
            std::hint::black_box(f());
        }
        t.elapsed() / 10_000
    };
    let disk = average(&|| longest_collatz(300_000));
    let tier = average(&|| longest_collatz_l1(300_000));
    println!(
        "  repeat hit, average of 10 000: LMDB {disk:.2?}, l1 {tier:.2?} ({:.0}× faster; \
         l1 hits so far: {})\n",
        disk.as_secs_f64() / tier.as_secs_f64().max(1e-12),
        longest_collatz_l1_cache().stats().l1_hits
    );

    println!("#[fcache]: one compressed file per entry");
    let (a, first) = timed(|| render_tile(2, 1, 1));
    let stored = render_tile_cache().stats().hits == 1;
    let (b, second) = timed(|| render_tile(2, 1, 1));
    assert_eq!(a, b);
    show(
        &format!("render_tile(2, 1, 1) = {} bytes", a.len()),
        origin(stored),
        first,
        second,
    );
    println!("    served by: {}\n", render_tile_cache().backend());

    println!("#[acache]: an async fn, single-flight across tasks, memory");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let (a, first) = timed(|| futures_executor::block_on(top_identifiers(workspace.clone(), 3)));
    let (b, second) = timed(|| futures_executor::block_on(top_identifiers(workspace.clone(), 3)));
    assert_eq!(a, b);
    show(
        &format!("top_identifiers(<this repository>, 3) = {a:?}"),
        origin(false),
        first,
        second,
    );
    println!("    served by: {}\n", top_identifiers_cache().backend());

    println!("#[ucache]: picks the engine from the function and its attributes");
    let (a, first) = timed(|| nth_prime(20_000));
    let stored = nth_prime_cache().stats().hits == 1;
    let (b, second) = timed(|| nth_prime(20_000));
    assert_eq!(a, b);
    show(
        &format!("nth_prime(20_000) = {a}"),
        origin(stored),
        first,
        second,
    );
    let s = nth_prime_cache().stats();
    println!(
        "    picked: {} ({}), served by: {}\n",
        s.kind,
        s.selection.as_deref().unwrap_or("-"),
        s.backend
    );

    println!("freshness: stale_if_error keeps a flaky upstream's last good answer");
    let fresh = exchange_rate("EUR");
    RATES_DOWN.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(150)); // the rate expires; the service fails
    let stale = exchange_rate("EUR");
    assert_eq!(fresh, stale);
    let s = exchange_rate_cache().stats();
    println!(
        "  exchange_rate(\"EUR\") = {stale:?} after the service failed ({} stale answer served, \
         {} refresh error)\n",
        s.stale_served, s.refresh_errors
    );

    println!("every cache in this process (twat_ucache::stats_all()):");
    println!(
        "  {:<18} {:<7} {:<10} {:>5} {:>7} {:>8} {:>9}  fallback",
        "cache", "kind", "backend", "hits", "misses", "entries", "bytes"
    );
    let mut all = twat_ucache::stats_all();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    for s in &all {
        row(s);
    }
    println!(
        "\nRun it again: the bcache, fcache and ucache (LMDB) first calls become hits from disk."
    );
}
