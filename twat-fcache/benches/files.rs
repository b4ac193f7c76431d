#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn
//! File-cache benchmarks beside raw `std::fs` work on the same bytes. `cargo xtask bench`
//! prints them as one table; the `twat_fcache` row of each group is the reference.
//!
//! - `fcache_hit_100KiB`: `get` of a 100 KiB `Vec<u8>` (read, checksum, key compare,
//!   deserialize) vs `std::fs::read` of the very same entry file.
//!   `std_fs_read_then_xxh3` adds the checksum every entry read verifies: the floor.
//! - `fcache_hit_1KiB`: the same at 1 KiB (target: at most 15 µs).
//! - `fcache_read_1MiB`, `fcache_read_64MiB`: uncompressed reads; criterion prints the
//!   throughput (target at 64 MiB: 1 GB/s or more).
//! - `fcache_write_100KiB`: `insert` replacing an existing entry vs a raw tempfile write +
//!   rename of the same bytes.
//!
//! cacache is not compared: it would add its async runtime and ~40 crates to every build of
//! this crate's dev-dependencies for one row.

use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use twat_fcache::{FileCache, Inner};

fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    cache: FileCache<u32, Vec<u8>>,
    path: PathBuf,
}

fn fixture(size: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cache: FileCache<u32, Vec<u8>> = FileCache::builder()
        .cache_dir(dir.path())
        .name("bench")
        .register(false)
        .build()
        .unwrap();
    cache.insert(1, noise(size));
    let Inner::Store(store) = cache.inner() else {
        panic!("files backend expected")
    };
    let path = store.entry_path(&cache.stored_key(&1).unwrap());
    Fixture {
        _dir: dir,
        cache,
        path,
    }
}

fn hits(c: &mut Criterion) {
    for (label, size) in [("1KiB", 1usize << 10), ("100KiB", 100 << 10)] {
        let f = fixture(size);
        let mut g = c.benchmark_group(format!("fcache_hit_{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function("twat_fcache", |b| {
            b.iter(|| black_box(f.cache.get(black_box(&1)).unwrap()))
        });
        g.bench_function("std_fs_read", |b| {
            b.iter(|| black_box(std::fs::read(black_box(&f.path)).unwrap()))
        });
        // The same entry with a memory tier in front (`l1`), beside a plain memory cache
        // holding the same value: an L1 hit costs about an `#[mcache]` hit.
        let tiered: FileCache<u32, Vec<u8>> = FileCache::builder()
            .cache_dir(f._dir.path())
            .name("bench")
            .l1(16)
            .register(false)
            .build()
            .unwrap();
        tiered.get_or_insert_with(1, || unreachable!("stored by the fixture"));
        let memory = twat_mcache::MemoryCache::<u32, Vec<u8>>::builder()
            .maxsize(16)
            .build()
            .unwrap();
        memory.insert(1, noise(size));
        g.bench_function("twat_fcache_l1", |b| {
            b.iter(|| black_box(tiered.get(black_box(&1)).unwrap()))
        });
        g.bench_function("mcache", |b| {
            b.iter(|| black_box(memory.get(black_box(&1)).unwrap()))
        });
        // The floor for any read that verifies a checksum over the whole entry.
        g.bench_function("std_fs_read_then_xxh3", |b| {
            b.iter(|| {
                let bytes = std::fs::read(black_box(&f.path)).unwrap();
                black_box(xxhash_rust::xxh3::xxh3_64(&bytes))
            })
        });
        g.finish();
    }
}

fn large_reads(c: &mut Criterion) {
    for (label, size) in [("1MiB", 1usize << 20), ("64MiB", 64 << 20)] {
        let f = fixture(size);
        let mut g = c.benchmark_group(format!("fcache_read_{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        if size > 1 << 20 {
            g.sample_size(10).measurement_time(Duration::from_secs(8));
        }
        g.bench_function("twat_fcache", |b| {
            b.iter(|| black_box(f.cache.get(black_box(&1)).unwrap()))
        });
        g.bench_function("std_fs_read", |b| {
            b.iter(|| black_box(std::fs::read(black_box(&f.path)).unwrap()))
        });
        g.finish();
    }
}

fn writes(c: &mut Criterion) {
    let f = fixture(100 << 10);
    let value = noise(100 << 10);
    let bytes = std::fs::read(&f.path).unwrap();
    let fan = f.path.parent().unwrap().to_path_buf();
    let mut g = c.benchmark_group("fcache_write_100KiB");
    g.throughput(Throughput::Bytes(value.len() as u64));
    g.bench_function("twat_fcache", |b| {
        b.iter(|| f.cache.insert(1, black_box(value.clone())))
    });
    let raw = fan.join("raw-target");
    g.bench_function("std_fs_tempfile_rename", |b| {
        b.iter(|| {
            let mut t = tempfile::NamedTempFile::new_in(&fan).unwrap();
            t.write_all(black_box(&bytes)).unwrap();
            t.persist(&raw).unwrap();
        })
    });
    g.finish();
}

/// Hit with and without encryption (feature `encrypt`) on the same value: the plain
/// `twat_fcache` row is each group's reference.
/// `cargo bench -p twat-fcache --features encrypt --bench files -- fcache_encrypt_hit`.
#[cfg(feature = "encrypt")]
fn encrypt_hits(c: &mut Criterion) {
    for (label, size) in [("1KiB", 1usize << 10), ("100KiB", 100 << 10)] {
        let plain = fixture(size);
        let dir = tempfile::tempdir().unwrap();
        let sealed: FileCache<u32, Vec<u8>> = FileCache::builder()
            .cache_dir(dir.path())
            .name("bench")
            .register(false)
            .encryption_key([7; 32])
            .build()
            .unwrap();
        assert!(sealed.encrypted());
        sealed.insert(1, noise(size));
        let mut g = c.benchmark_group(format!("fcache_encrypt_hit_{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function("twat_fcache", |b| {
            b.iter(|| black_box(plain.cache.get(black_box(&1)).unwrap()))
        });
        g.bench_function("twat_fcache_encrypted", |b| {
            b.iter(|| black_box(sealed.get(black_box(&1)).unwrap()))
        });
        g.finish();
    }
}

#[cfg(feature = "encrypt")]
criterion_group! {
    name = encrypt;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = encrypt_hits
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = hits, large_reads, writes
}
#[cfg(not(feature = "encrypt"))]
criterion_main!(benches);
#[cfg(feature = "encrypt")]
criterion_main!(benches, encrypt);
