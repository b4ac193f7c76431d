//! MemoryCache through its public API: bounds, policies, ttl, single-flight, panics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use twat_mcache::{Backend, MemoryCache, Policy};

fn cache(policy: Policy, maxsize: usize) -> MemoryCache<u64, u64> {
    MemoryCache::builder()
        .maxsize(maxsize)
        .policy(policy)
        .build()
        .unwrap()
}

#[test]
fn maxsize_is_a_hard_bound_for_every_policy() {
    for policy in [Policy::Lru, Policy::Lfu, Policy::Fifo] {
        for maxsize in [1, 7, 100, 1000, 5000] {
            let c = cache(policy, maxsize);
            for k in 0..(maxsize as u64 * 3) {
                c.insert(k, k);
                assert!(c.len() <= maxsize, "{policy} {maxsize}: len {}", c.len());
            }
            assert_eq!(c.len(), maxsize, "{policy} {maxsize} fills up");
            let s = c.stats();
            assert_eq!(s.evictions, maxsize as u64 * 2, "{policy} {maxsize}");
            assert_eq!(s.inserts, maxsize as u64 * 3);
        }
    }
}

#[test]
fn lru_keeps_the_recently_used_and_fifo_does_not() {
    // maxsize < 128 gives one shard, so the order is global.
    let lru = cache(Policy::Lru, 3);
    let fifo = cache(Policy::Fifo, 3);
    for c in [&lru, &fifo] {
        c.insert(1, 1);
        c.insert(2, 2);
        c.insert(3, 3);
        assert_eq!(c.get(&1), Some(1)); // touch the oldest
        c.insert(4, 4);
    }
    assert_eq!(lru.get(&1), Some(1), "LRU kept the entry just used");
    assert_eq!(lru.get(&2), None, "LRU evicted the least recently used");
    assert_eq!(fifo.get(&1), None, "FIFO evicted the first in, used or not");
    assert_eq!(fifo.get(&2), Some(2));
}

#[test]
fn lfu_evicts_the_least_used() {
    let c = cache(Policy::Lfu, 3);
    c.insert(1, 1);
    c.insert(2, 2);
    c.insert(3, 3);
    for _ in 0..3 {
        c.get(&1);
        c.get(&3);
    }
    c.get(&2);
    c.get(&1);
    c.insert(4, 4);
    assert_eq!(c.get(&2), None, "2 had the fewest hits");
    assert_eq!(c.get(&1), Some(1));
    assert_eq!(c.get(&3), Some(3));
    assert_eq!(c.backend(), Backend::Std, "LFU is served by the std map");
}

#[test]
fn backend_reports_what_serves() {
    let lru = cache(Policy::Lru, 10);
    #[cfg(feature = "schnellru")]
    assert_eq!(lru.backend(), Backend::Schnellru);
    #[cfg(not(feature = "schnellru"))]
    assert_eq!(lru.backend(), Backend::Std);
    assert_eq!(lru.stats().backend, lru.backend());
}

#[test]
fn an_expired_value_is_never_returned() {
    let c = MemoryCache::<u32, u32>::builder()
        .ttl(Duration::from_millis(50))
        .build()
        .unwrap();
    c.insert(1, 10);
    assert_eq!(c.get(&1), Some(10));
    thread::sleep(Duration::from_millis(80));
    assert_eq!(c.get(&1), None);
    let s = c.stats();
    assert_eq!(s.expired, 1);
    assert_eq!(s.hits, 1);
    assert_eq!(s.misses, 1);
}

#[test]
fn an_idle_cache_sheds_expired_entries_without_being_touched() {
    let c = MemoryCache::<u32, u32>::builder()
        .ttl(Duration::from_millis(100))
        .build()
        .unwrap();
    for k in 0..1000 {
        c.insert(k, k);
    }
    assert_eq!(c.len(), 1000);
    // The background sweeper runs every ttl/2 (at least 50 ms); give it a generous margin
    // on a loaded machine. This asserts the outcome, not a timing.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !c.is_empty() && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.len(), 0, "the sweeper dropped every expired entry");
    assert_eq!(c.stats().expired, 1000);
}

#[test]
fn string_keys_are_found_by_str() {
    let c = MemoryCache::<String, usize>::builder().build().unwrap();
    c.insert("abc".to_string(), 3);
    assert_eq!(c.get("abc"), Some(3));
    assert!(c.remove("abc"));
    assert!(!c.remove("abc"));
}

#[test]
fn bad_settings_are_config_errors_naming_the_field() {
    let e = MemoryCache::<u8, u8>::builder()
        .maxsize(0)
        .build()
        .unwrap_err();
    assert_eq!(e.field(), "maxsize");
    let e = MemoryCache::<u8, u8>::builder()
        .ttl(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.field(), "ttl");
    let e = "often".parse::<Policy>().unwrap_err();
    assert!(e.to_string().contains("policy"), "{e}");
}

#[test]
fn eight_threads_missing_one_key_run_the_body_once() {
    let c = MemoryCache::<u32, u32>::builder().build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (c, runs, barrier) = (c.clone(), runs.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                c.get_or_insert_with(7, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(200));
                    49
                })
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 49);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_body_wakes_its_waiters_and_exactly_one_recomputes() {
    let c = MemoryCache::<u32, u32>::builder().build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Barrier::new(2));
    let leader = {
        let (c, runs, started) = (c.clone(), runs.clone(), started.clone());
        thread::spawn(move || {
            c.get_or_insert_with(1, || {
                runs.fetch_add(1, Ordering::SeqCst);
                started.wait();
                thread::sleep(Duration::from_millis(300));
                panic!("the body fails");
            })
        })
    };
    started.wait();
    // These callers arrive while the leader computes, so they wait on its flight.
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let (c, runs) = (c.clone(), runs.clone());
            thread::spawn(move || {
                c.get_or_insert_with(1, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(100));
                    11
                })
            })
        })
        .collect();
    assert!(
        leader.join().is_err(),
        "the leader's panic reaches its caller"
    );
    for w in waiters {
        assert_eq!(w.join().unwrap(), 11);
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the panicking run and one recompute"
    );
    assert_eq!(c.get(&1), Some(11));
    // The cache is not poisoned: it keeps working.
    assert_eq!(c.get_or_insert_with(2, || 22), 22);
}

#[test]
fn an_error_is_returned_and_not_stored() {
    let c = MemoryCache::<u32, u32>::builder().build().unwrap();
    let r: Result<u32, &str> = c.try_get_or_insert_with(1, || Err("nope"));
    assert_eq!(r, Err("nope"));
    assert_eq!(c.get(&1), None);
    let r: Result<u32, &str> = c.try_get_or_insert_with(1, || Ok(5));
    assert_eq!(r, Ok(5));
    assert_eq!(c.get(&1), Some(5));
}

#[test]
fn same_key_recursion_on_one_thread_does_not_deadlock() {
    static C: std::sync::OnceLock<MemoryCache<u32, u32>> = std::sync::OnceLock::new();
    fn f(n: u32, depth: u32) -> u32 {
        let c = C.get_or_init(|| MemoryCache::builder().build().unwrap());
        c.get_or_insert_with(n, || if depth == 0 { n } else { f(n, depth - 1) + 1 })
    }
    assert_eq!(f(3, 2), 5);
}

#[test]
fn many_threads_hammering_a_bounded_cache_keep_it_consistent() {
    let c = MemoryCache::<u64, u64>::builder()
        .maxsize(500)
        .build()
        .unwrap();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let c = c.clone();
            thread::spawn(move || {
                for i in 0..20_000u64 {
                    let k = (i * 7 + t) % 2000;
                    let v = c.get_or_insert_with(k, || k * 2);
                    assert_eq!(v, k * 2);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(c.len() <= 500);
    let lens = c.inner().shard_lens();
    assert_eq!(lens.iter().sum::<usize>(), c.len());
}

#[test]
fn lru_keeps_a_hot_key_through_churn() {
    for c in [
        cache(Policy::Lru, 100),
        MemoryCache::builder()
            .maxsize(100)
            .force_std_backend()
            .build()
            .unwrap(),
    ] {
        c.insert(u64::MAX, 1);
        for k in 0..10_000 {
            assert_eq!(
                c.get(&u64::MAX),
                Some(1),
                "hot key lost at {k} ({})",
                c.backend()
            );
            c.insert(k, k);
        }
        assert_eq!(c.len(), 100);
    }
}

#[test]
fn an_error_wakes_the_waiters_and_one_of_them_computes() {
    let c = MemoryCache::<u32, u32>::builder().build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Barrier::new(2));
    let leader = {
        let (c, runs, started) = (c.clone(), runs.clone(), started.clone());
        thread::spawn(move || {
            c.try_get_or_insert_with(1, || {
                runs.fetch_add(1, Ordering::SeqCst);
                started.wait();
                thread::sleep(Duration::from_millis(300));
                Err("down")
            })
        })
    };
    started.wait();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (c, runs) = (c.clone(), runs.clone());
            thread::spawn(move || {
                c.try_get_or_insert_with(1, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok::<u32, &str>(7)
                })
            })
        })
        .collect();
    assert_eq!(leader.join().unwrap(), Err("down"));
    for w in waiters {
        assert_eq!(w.join().unwrap(), Ok(7));
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the failed run and one retry"
    );
    assert_eq!(c.stats().inserts, 1);
}

#[test]
fn misses_on_different_keys_of_one_shard_compute_at_the_same_time() {
    // maxsize < 128: one shard, so all four computations are pending in it together. Each
    // body waits for the other three: if one waited for another's key, this would hang.
    let c = cache(Policy::Lru, 50);
    assert_eq!(c.inner().shard_count(), 1);
    let all_in = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4u64)
        .map(|k| {
            let (c, all_in) = (c.clone(), all_in.clone());
            thread::spawn(move || {
                c.get_or_insert_with(k, || {
                    all_in.wait();
                    k * 10
                })
            })
        })
        .collect();
    for (k, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), k as u64 * 10);
    }
    let s = c.stats();
    assert_eq!((s.misses, s.inserts, s.entries), (4, 4, 4));
}

#[test]
fn memoized_calls_count_exactly_with_and_without_single_flight() {
    for single_flight in [true, false] {
        let c = MemoryCache::<u64, u64>::builder()
            .maxsize(10)
            .single_flight(single_flight)
            .build()
            .unwrap();
        for k in 0..30 {
            assert_eq!(c.get_or_insert_with(k, || k + 1), k + 1);
            assert_eq!(c.get_or_insert_with(k, || unreachable!("stored")), k + 1);
        }
        let s = c.stats();
        assert_eq!(
            (s.hits, s.misses, s.inserts, s.evictions, s.entries),
            (30, 30, 30, 20, 10),
            "single_flight = {single_flight}"
        );
    }
}

#[test]
fn many_threads_on_few_keys_compute_each_key_once_through_panics() {
    // 8 threads call 64 keys (one shard: several computations pending in it at once). The
    // first computation of every key divisible by 5 panics; its waiters must wake, one of
    // them computes, and every other key's body runs exactly once.
    for c in [
        MemoryCache::<u64, u64>::builder()
            .maxsize(100)
            .build()
            .unwrap(),
        MemoryCache::builder()
            .maxsize(100)
            .force_std_backend()
            .build()
            .unwrap(),
    ] {
        each_key_once_through_panics(c);
    }
}

fn each_key_once_through_panics(c: MemoryCache<u64, u64>) {
    assert_eq!(c.inner().shard_count(), 1);
    let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..64).map(|_| AtomicUsize::new(0)).collect());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let (c, runs, barrier) = (c.clone(), runs.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                for i in 0..2_000u64 {
                    let k = (i * 7 + t * 13) % 64;
                    let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        c.get_or_insert_with(k, || {
                            let n = runs[k as usize].fetch_add(1, Ordering::SeqCst);
                            thread::yield_now();
                            if k % 5 == 0 && n == 0 {
                                panic!("first computation of {k} fails");
                            }
                            k * 3
                        })
                    }));
                    if let Ok(v) = got {
                        assert_eq!(v, k * 3);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for k in 0..64u64 {
        let expected = if k % 5 == 0 { 2 } else { 1 };
        assert_eq!(runs[k as usize].load(Ordering::SeqCst), expected, "key {k}");
        assert_eq!(c.get(&k), Some(k * 3));
    }
    assert_eq!(c.stats().inserts, 64);
    assert_eq!(c.len(), 64);
}
