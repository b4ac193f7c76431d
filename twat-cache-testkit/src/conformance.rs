//! The contract every store keeps, written once: each scenario runs on any
//! `PersistentCache<S, u64, V>` through the public API, against the real store (a temp
//! folder, real child processes). A store joins the suite with one line in its test
//! file: [`conformance_tests!`](crate::conformance_tests).
//!
//! Scenarios: round trip (get, insert, remove, clear, len, a second cache object on the
//! same store), bounds under `Policy::Lru` and `Policy::Fifo` (which key survives),
//! `Policy::Lfu` refused naming `policy`, ttl, the memory fallback, many processes writing
//! one store at once, a writer killed with SIGKILL mid-run (nothing reads back wrong), and
//! reads recorded by one process ordering the evictions of the next; a memory tier (`l1`)
//! in front of the store: served from memory, promoted with the remaining ttl, emptied
//! when another process writes or clears.

use std::path::Path;
use std::time::{Duration, Instant};

use twat_cache_common::Policy;

use crate::cache::{PersistentBuilder, PersistentCache};
use crate::child::{as_child, child, in_child, run};

/// The value every scenario stores under `k`: some bytes that depend on `k`.
pub fn value_of(k: u64) -> Vec<u8> {
    (0..64 + k % 64).map(|i| (i ^ k) as u8).collect()
}

/// A cache on `dir/folder`, namespace `name`, outside the registry.
pub fn open<C: PersistentCache<Vec<u8>>>(dir: &Path, folder: &str, name: &str) -> C {
    builder::<C>(dir, folder, name).build().unwrap()
}

/// The builder of [`open`], for more settings.
///
/// Each scenario works in a fresh temp dir, which makes a fresh store of a store with a
/// folder. A store without one (Redis: one server for the whole run) is made fresh the
/// same way by scoping the namespace to the temp dir: `name@<dir's name>` (the child
/// processes of a scenario get the same dir, hence the same namespace).
pub fn builder<C: PersistentCache<Vec<u8>>>(dir: &Path, folder: &str, name: &str) -> C::Builder {
    let scoped;
    let name = if C::HAS_FOLDER {
        name
    } else {
        let run = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        scoped = format!("{name}@{}", run.unwrap_or_default());
        &scoped
    };
    C::builder()
        .cache_dir(dir)
        .folder_name(folder)
        .name(name)
        .register(false)
}

fn served<C: PersistentCache<Vec<u8>>>(c: &C) {
    assert_eq!(c.backend(), C::BACKEND, "{:?}", c.fallback_reason());
}

/// get, insert, remove, clear, len; `get_or_insert_with` computes once; another cache
/// object on the same store and name sees the entries; counters add up.
pub fn round_trip<C: PersistentCache<Vec<u8>>>() {
    let dir = tempfile::tempdir().unwrap();
    let c: C = open(dir.path(), "rt", "rt");
    served(&c);
    assert_eq!(c.get(&1), None);
    let mut runs = 0;
    for _ in 0..3 {
        let v = c.get_or_insert_with(1, || {
            runs += 1;
            value_of(1)
        });
        assert_eq!(v, value_of(1));
    }
    assert_eq!(runs, 1, "computed once");
    c.insert(2, value_of(2));
    c.insert(2, value_of(22));
    assert_eq!(c.get(&2), Some(value_of(22)), "the last write wins");
    assert_eq!(c.len(), 2);
    let again: C = open(dir.path(), "rt", "rt");
    assert_eq!(again.get(&1), Some(value_of(1)), "another object sees it");
    let other: C = open(dir.path(), "rt", "other-name");
    assert_eq!(other.get(&1), None, "another namespace does not");
    assert!(again.remove(&1));
    assert!(!again.remove(&1));
    assert_eq!(c.get(&1), None);
    c.clear();
    assert_eq!(c.len(), 0);
    assert_eq!(c.get(&2), None);
    let s = c.stats();
    assert_eq!((s.hits, s.inserts), (3, 3), "{s:?}");
    assert!(s.misses >= 3, "{s:?}");
}

/// `maxsize = 3`: inserting a fourth key evicts one; under LRU the one read least
/// recently, under FIFO the one written first.
pub fn bounds_follow_the_policy<C: PersistentCache<Vec<u8>>>() {
    for (policy, survivor, victim) in [(Policy::Lru, 1, 2), (Policy::Fifo, 2, 1)] {
        let dir = tempfile::tempdir().unwrap();
        let c: C = builder::<C>(dir.path(), "bounds", "bounds")
            .maxsize(3)
            .policy(policy)
            .build()
            .unwrap();
        served(&c);
        for k in 1..=3 {
            c.insert(k, value_of(k));
            // Distinct times for every write and read, whatever the store's clock grain.
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(c.get(&1), Some(value_of(1)));
        std::thread::sleep(Duration::from_millis(5));
        c.insert(4, value_of(4));
        assert_eq!(c.len(), 3, "{policy}: maxsize is a hard bound");
        assert_eq!(
            c.get(&survivor),
            Some(value_of(survivor)),
            "{policy} keeps {survivor}"
        );
        assert_eq!(c.get(&victim), None, "{policy} evicts {victim}");
        assert_eq!(c.get(&4), Some(value_of(4)));
        assert_eq!(c.stats().evictions, 1, "{policy}");
    }
}

/// `Policy::Lfu` cannot be honoured by a store that does not count uses: a `ConfigError`
/// naming `policy` and the allowed values.
pub fn lfu_is_refused_naming_policy<C: PersistentCache<Vec<u8>>>() {
    let dir = tempfile::tempdir().unwrap();
    let Err(e) = builder::<C>(dir.path(), "lfu", "lfu")
        .policy(Policy::Lfu)
        .build()
    else {
        panic!("Lfu accepted")
    };
    assert_eq!(e.field(), "policy");
    assert!(
        e.to_string().contains("lru") && e.to_string().contains("fifo"),
        "{e}"
    );
}

/// An expired entry is a miss, counted as expired, and recomputed.
pub fn ttl_expires<C: PersistentCache<Vec<u8>>>() {
    let dir = tempfile::tempdir().unwrap();
    let c: C = builder::<C>(dir.path(), "ttl", "ttl")
        .ttl(Duration::from_millis(300))
        .build()
        .unwrap();
    c.insert(1, value_of(1));
    assert_eq!(c.get(&1), Some(value_of(1)));
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(c.get(&1), None, "expired");
    assert!(c.stats().expired >= 1);
    assert_eq!(c.get_or_insert_with(1, || value_of(1)), value_of(1));
    assert_eq!(c.get(&1), Some(value_of(1)), "stored again");
}

/// A store that cannot open (its root is a regular file) serves from memory, says why,
/// and still returns right values.
///
/// Only for stores with a folder: a store without one has no folder to break (Redis
/// tests its own fallback, a server down at start or killed mid-run, in its crate).
pub fn unusable_store_falls_back_to_memory<C: PersistentCache<Vec<u8>>>() {
    if !C::HAS_FOLDER {
        crate::child::skip(
            "unusable_store_falls_back_to_memory",
            "the store has no folder (its server-down fallback is tested by its crate)",
        );
        return;
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    let c: C = open(file.path(), "x", "fallback");
    assert!(c.backend().is_memory(), "{:?}", c.backend());
    assert!(c.fallback_reason().is_some());
    assert_eq!(c.stats().fallback_reason, c.fallback_reason());
    let mut runs = 0;
    for _ in 0..2 {
        assert_eq!(
            c.get_or_insert_with(7, || {
                runs += 1;
                value_of(7)
            }),
            value_of(7)
        );
    }
    assert_eq!(runs, 1, "cached in memory");
}

/// Child `many_writers_child`: writes its own 200 keys (and 50 shared ones) to the store.
pub fn many_writers_child<C: PersistentCache<Vec<u8>>>() {
    let Some(dir) = as_child("many_writers_child") else {
        return;
    };
    let me: u64 = std::env::var("WRITER").unwrap().parse().unwrap();
    let c: C = open(&dir, "many", "many");
    served(&c);
    for i in 0..200 {
        let k = me * 1000 + i;
        c.insert(k, value_of(k));
        let shared = i % 50;
        assert_eq!(
            c.get_or_insert_with(shared, || value_of(shared)),
            value_of(shared)
        );
    }
}

/// Three processes write one store at once; afterwards every key reads back right.
pub fn many_processes_share_one_store<C: PersistentCache<Vec<u8>>>() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let writers: Vec<_> = (1..=3u64)
        .map(|w| {
            let mut cmd = child("many_writers_child", dir.path());
            cmd.env("WRITER", w.to_string());
            (w, cmd.output().unwrap())
        })
        .collect();
    for (w, out) in &writers {
        crate::child::echo(&format!("writer {w}"), out);
        assert!(out.status.success(), "writer {w} failed");
    }
    let c: C = open(dir.path(), "many", "many");
    for w in 1..=3u64 {
        for i in 0..200 {
            let k = w * 1000 + i;
            assert_eq!(c.get(&k), Some(value_of(k)), "key {k}");
        }
    }
    for k in 0..50 {
        assert_eq!(c.get(&k), Some(value_of(k)), "shared key {k}");
    }
    assert_eq!(c.len(), 650);
}

/// Child `killed_writer_child`: writes keys as fast as it can until it is killed.
pub fn killed_writer_child<C: PersistentCache<Vec<u8>>>() {
    let Some(dir) = as_child("killed_writer_child") else {
        return;
    };
    let c: C = open(&dir, "killed", "killed");
    let ready = dir.join("ready");
    for k in 0.. {
        c.insert(k % 5000, value_of(k % 5000));
        if k == 100 {
            std::fs::write(&ready, b"1").unwrap();
        }
    }
}

/// A writer killed with SIGKILL at an arbitrary instant leaves no entry that reads back
/// wrong, and the store keeps working.
pub fn a_writer_killed_mid_run_leaves_nothing_wrong<C: PersistentCache<Vec<u8>>>() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let _ = std::fs::remove_file(dir.path().join("ready"));
        let mut writer = child("killed_writer_child", dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while !dir.path().join("ready").exists() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the writer never started"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(20 + 15 * round));
        writer.kill().unwrap(); // SIGKILL on Unix
        writer.wait().unwrap();
        let c: C = open(dir.path(), "killed", "killed");
        served(&c);
        let mut found = 0;
        for k in 0..5000 {
            if let Some(v) = c.get(&k) {
                assert_eq!(v, value_of(k), "key {k} after kill {round}");
                found += 1;
            }
        }
        assert!(found > 0, "what was written before the kill is there");
        c.insert(9999, value_of(9999));
        assert_eq!(c.get(&9999), Some(value_of(9999)), "the store still works");
    }
}

/// Child `lru_reader_child`: reads key 1 of the bounded store, then exits (its recorded
/// reads reach the store when the cache is dropped).
pub fn lru_reader_child<C: PersistentCache<Vec<u8>>>() {
    let Some(dir) = as_child("lru_reader_child") else {
        return;
    };
    let c: C = builder::<C>(&dir, "lru-x", "lru-x")
        .maxsize(3)
        .build()
        .unwrap();
    assert_eq!(c.get(&1), Some(value_of(1)));
}

/// Reads recorded (in a batch) by one process order the evictions of another: after a
/// child read key 1, this process's next insert evicts key 2, not key 1.
pub fn reads_in_another_process_count_for_lru<C: PersistentCache<Vec<u8>>>() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    {
        let c: C = builder::<C>(dir.path(), "lru-x", "lru-x")
            .maxsize(3)
            .build()
            .unwrap();
        served(&c);
        for k in 1..=3 {
            c.insert(k, value_of(k));
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    std::thread::sleep(Duration::from_millis(5));
    run(child("lru_reader_child", dir.path()), "LRU reader");
    std::thread::sleep(Duration::from_millis(5));
    let c: C = builder::<C>(dir.path(), "lru-x", "lru-x")
        .maxsize(3)
        .build()
        .unwrap();
    c.insert(4, value_of(4));
    assert_eq!(
        c.get(&1),
        Some(value_of(1)),
        "read by the other process: kept"
    );
    assert_eq!(c.get(&2), None, "least recently used: evicted");
}

/// `l1`: the second call is served from memory (`l1_hits`, and counted in `hits`); this
/// process's writes, removals and clears reach both tiers; `l1 = 0` is refused naming it.
pub fn l1_serves_from_memory<C: PersistentCache<Vec<u8>>>() {
    let dir = tempfile::tempdir().unwrap();
    let c: C = builder::<C>(dir.path(), "l1", "l1").l1(8).build().unwrap();
    served(&c);
    let mut runs = 0;
    for _ in 0..3 {
        let v = c.get_or_insert_with(1, || {
            runs += 1;
            value_of(1)
        });
        assert_eq!(v, value_of(1));
    }
    let s = c.stats();
    assert_eq!((runs, s.l1_hits, s.hits, s.misses), (1, 2, 2, 1), "{s:?}");
    let plain: C = open(dir.path(), "l1", "l1");
    assert_eq!(plain.get(&1), Some(value_of(1)), "stored too");
    c.insert(1, value_of(11));
    assert_eq!(c.get(&1), Some(value_of(11)), "both tiers updated");
    assert_eq!(plain.get(&1), Some(value_of(11)));
    assert!(c.remove(&1));
    assert_eq!(c.get(&1), None, "removed from both tiers");
    c.insert(2, value_of(2));
    assert_eq!(c.get(&2), Some(value_of(2)));
    c.clear();
    assert_eq!(c.get(&2), None, "cleared in both tiers");
    let Err(e) = builder::<C>(dir.path(), "l1", "l1").l1(0).build() else {
        panic!("l1 = 0 accepted")
    };
    assert_eq!(e.field(), "l1", "{e}");
}

/// Writes by this process (this cache, and another cache on the same folder) do not
/// empty the memory tier: only other processes' changes do.
pub fn l1_keeps_its_entries_across_own_writes<C: PersistentCache<Vec<u8>>>() {
    let dir = tempfile::tempdir().unwrap();
    let c: C = builder::<C>(dir.path(), "l1own", "l1own")
        .l1(256)
        .build()
        .unwrap();
    let neighbour: C = open(dir.path(), "l1own", "neighbour");
    c.insert(1, value_of(1));
    for k in 0..20 {
        c.insert(100 + k, value_of(k));
        neighbour.insert(k, value_of(k));
        neighbour.get(&k); // LRU reads, handed to the store later
    }
    // Past the sweeper's next visits (every 100 ms with a tier, every second for LRU).
    std::thread::sleep(Duration::from_millis(1300));
    let before = c.stats().l1_hits;
    assert_eq!(c.get(&1), Some(value_of(1)));
    assert_eq!(
        c.stats().l1_hits,
        before + 1,
        "still in memory: {:?}",
        c.stats()
    );
}

/// A store hit is promoted with what is left of its ttl, not a fresh one.
pub fn l1_keeps_the_remaining_ttl<C: PersistentCache<Vec<u8>>>() {
    let dir = tempfile::tempdir().unwrap();
    let ttl = Duration::from_millis(1200);
    let writer: C = builder::<C>(dir.path(), "l1ttl", "l1ttl")
        .ttl(ttl)
        .build()
        .unwrap();
    writer.insert(1, value_of(1));
    let written = Instant::now();
    std::thread::sleep(Duration::from_millis(600));
    let reader: C = builder::<C>(dir.path(), "l1ttl", "l1ttl")
        .ttl(ttl)
        .l1(8)
        .build()
        .unwrap();
    let mut runs = 0;
    let mut call = || {
        reader.get_or_insert_with(1, || {
            runs += 1;
            value_of(1)
        })
    };
    call(); // from the store, promoted
    call(); // from memory
    assert_eq!(reader.stats().l1_hits, 1);
    std::thread::sleep(
        (written + ttl + Duration::from_millis(200)).saturating_duration_since(Instant::now()),
    );
    call(); // expired in both tiers, though promoted less than a ttl ago
    assert_eq!(runs, 1, "{:?}", reader.stats());
}

/// Child `l1_writer_child`: replaces key 1, then (once told) clears the cache.
pub fn l1_writer_child<C: PersistentCache<Vec<u8>>>() {
    let Some(dir) = as_child("l1_writer_child") else {
        return;
    };
    let c: C = open(&dir, "l1x", "l1x");
    match std::env::var("L1_STEP").unwrap().as_str() {
        "replace" => c.insert(1, value_of(101)),
        _ => c.clear(),
    }
}

/// Another process replacing an entry, then clearing the cache: this process's memory
/// tier follows within about a second (polled here for up to 10 s on a loaded machine).
pub fn l1_follows_other_processes<C: PersistentCache<Vec<u8>>>() {
    if in_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let c: C = builder::<C>(dir.path(), "l1x", "l1x")
        .l1(8)
        .build()
        .unwrap();
    c.insert(1, value_of(1));
    assert_eq!(c.get(&1), Some(value_of(1)));
    assert_eq!(c.stats().l1_hits, 1);
    for (step, want) in [("replace", Some(value_of(101))), ("clear", None)] {
        // Held in memory: promoted, then served from there.
        let before = c.stats().l1_hits;
        let held = c.get_or_insert_with(1, || unreachable!("stored"));
        assert_eq!(c.get_or_insert_with(1, || unreachable!("stored")), held);
        assert!(c.stats().l1_hits > before, "{:?}", c.stats());
        let mut cmd = child("l1_writer_child", dir.path());
        cmd.env("L1_STEP", step);
        let out = cmd.output().unwrap();
        crate::child::echo(step, &out);
        assert!(out.status.success(), "child {step} failed");
        let done = Instant::now();
        while c.get(&1) != want && done.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(c.get(&1), want, "after {step} in another process");
        eprintln!("l1 followed `{step}` after {:?}", done.elapsed());
    }
}

/// child tests the multi-process ones run), on the given cache type with `u64` keys and
/// Expands to the conformance suite for one store: a `#[test]` per scenario (and the
/// child tests the multi-process ones run), on the given cache type with `u64` keys and
/// `Vec<u8>` values. Invoke it at the crate root of a test file. With `setup = f`, every
/// test first calls `f(test name) -> bool` (e.g. [`crate::redis::shared_server`], which
/// starts the server the store talks to) and is skipped when it says false.
///
/// ```ignore
/// twat_cache_testkit::conformance_tests!(twat_bcache::LmdbCache<u64, Vec<u8>>);
/// twat_cache_testkit::conformance_tests!(
///     twat_acache::RedisCache<u64, Vec<u8>>,
///     setup = twat_cache_testkit::redis::shared_server
/// );
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($cache:ty) => {
        $crate::conformance_tests!($cache, setup = |_: &str| true);
    };
    ($cache:ty, setup = $setup:expr) => {
        $crate::conformance_tests!(@tests $cache, $setup, [
            round_trip,
            bounds_follow_the_policy,
            lfu_is_refused_naming_policy,
            ttl_expires,
            unusable_store_falls_back_to_memory,
            many_processes_share_one_store,
            many_writers_child,
            a_writer_killed_mid_run_leaves_nothing_wrong,
            killed_writer_child,
            reads_in_another_process_count_for_lru,
            lru_reader_child,
            l1_serves_from_memory,
            l1_keeps_its_entries_across_own_writes,
            l1_keeps_the_remaining_ttl,
            l1_follows_other_processes,
            l1_writer_child,
        ]);
    };
    (@tests $cache:ty, $setup:expr, [$($scenario:ident),* $(,)?]) => {
        $(
            #[test]
            fn $scenario() {
                let setup: fn(&str) -> bool = $setup;
                if setup(stringify!($scenario)) {
                    $crate::conformance::$scenario::<$cache>();
                }
            }
        )*
    };
}
