//! Freshness rules on `AsyncCache` (memory, and LMDB/files where compiled in), through
//! the builder, observed with call counters. Time is waited for only where it is the
//! subject (a ttl passing).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use twat_acache::AsyncCache;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never happened: {what}"
        );
        tokio::time::sleep(ms(5)).await;
    }
}

fn counted(calls: &Arc<AtomicUsize>, v: u32) -> impl Future<Output = u32> + Send + 'static {
    let calls = calls.clone();
    async move {
        calls.fetch_add(1, SeqCst);
        v
    }
}

#[tokio::test]
async fn stale_if_error_serves_the_expired_value() {
    let cache = AsyncCache::<u32, u32>::builder()
        .ttl(ms(40))
        .stale_if_error(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert_eq!(
        cache
            .try_get_or_insert_with(1, async { Ok::<_, ()>(1) })
            .await,
        Ok(1)
    );
    tokio::time::sleep(ms(70)).await;
    let r = cache
        .try_get_or_insert_with(1, async { Err::<u32, _>("down") })
        .await;
    assert_eq!(r, Ok(1));
    let s = cache.stats();
    assert_eq!((s.stale_served, s.refresh_errors), (1, 1), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_while_revalidate_refreshes_on_the_callers_runtime() {
    let cache = AsyncCache::<u32, u32>::builder()
        .ttl(ms(40))
        .stale_while_revalidate(Duration::from_secs(3600))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    assert_eq!(cache.get_or_refresh_with(1, counted(&calls, 1)).await, 1);
    tokio::time::sleep(ms(70)).await;
    // The refresh needs tokio's timer: it runs on this runtime.
    let slow = {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, SeqCst);
            tokio::time::sleep(ms(50)).await;
            2
        }
    };
    assert_eq!(
        cache.get_or_refresh_with(1, slow).await,
        1,
        "stale, at once"
    );
    for _ in 0..10 {
        assert_eq!(cache.get_or_refresh_with(1, counted(&calls, 3)).await, 1);
    }
    eventually("the refresh stored", || cache.stats().refreshes == 1).await;
    assert_eq!(cache.get(&1).await, Some(2));
    assert_eq!(calls.load(SeqCst), 2, "one refresh for the stale calls");
    assert_eq!(cache.stats().stale_served, 11);
}

#[test]
fn stale_while_revalidate_without_a_runtime_uses_the_worker() {
    let cache = AsyncCache::<u32, u32>::builder()
        .ttl(ms(30))
        .stale_while_revalidate(Duration::from_secs(3600))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    futures_executor::block_on(async {
        cache.get_or_refresh_with(1, counted(&calls, 1)).await;
        std::thread::sleep(ms(50));
        assert_eq!(cache.get_or_refresh_with(1, counted(&calls, 2)).await, 1);
    });
    let start = Instant::now();
    while cache.stats().refreshes != 1 {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(ms(5));
    }
    assert_eq!(futures_executor::block_on(cache.get(&1)), Some(2));
}

#[tokio::test]
async fn ttl_of_force_refresh_and_tti() {
    let cache = AsyncCache::<u32, u32>::builder()
        .ttl(Duration::from_secs(3600))
        .ttl_of(|v: &u32| (*v >= 100).then(|| ms(30)))
        .force_refresh(|k: &u32| *k == 7)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    cache.get_or_insert_with(1, counted(&calls, 100)).await;
    cache.get_or_insert_with(2, counted(&calls, 1)).await;
    tokio::time::sleep(ms(60)).await;
    cache.get_or_insert_with(1, counted(&calls, 100)).await; // its own 30 ms: expired
    cache.get_or_insert_with(2, counted(&calls, 1)).await; // the hour: a hit
    assert_eq!(calls.load(SeqCst), 3);
    cache.get_or_insert_with(7, counted(&calls, 1)).await;
    cache.get_or_insert_with(7, counted(&calls, 1)).await;
    assert_eq!(calls.load(SeqCst), 5, "key 7 is always recomputed");

    let idle = AsyncCache::<u32, u32>::builder()
        .tti(ms(200))
        .build()
        .unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    idle.get_or_insert_with(1, counted(&n, 1)).await;
    for _ in 0..15 {
        tokio::time::sleep(ms(100)).await;
        idle.get_or_insert_with(1, counted(&n, 1)).await;
    }
    assert_eq!(n.load(SeqCst), 1, "read within tti: kept");
    tokio::time::sleep(ms(1300)).await;
    assert_eq!(idle.get(&1).await, None, "unread for tti + 1 s: gone");
}

#[tokio::test]
async fn early_recomputes_a_slow_bodys_entry_before_expiry() {
    let cache = AsyncCache::<u32, u32>::builder()
        .ttl(Duration::from_secs(3600))
        .early(1e9)
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let slow = |v| {
        let calls = calls.clone();
        async move {
            tokio::time::sleep(ms(50)).await;
            calls.fetch_add(1, SeqCst);
            v
        }
    };
    assert_eq!(cache.get_or_insert_with(1, slow(1)).await, 1);
    assert_eq!(
        cache.get_or_insert_with(1, slow(2)).await,
        2,
        "recomputed early"
    );
    assert_eq!(cache.stats().refreshes, 1);
}

#[test]
fn bad_settings_are_config_errors_naming_the_field() {
    let b = || AsyncCache::<u32, u32>::builder().ttl(Duration::from_secs(1));
    assert_eq!(b().early(0.0).build().unwrap_err().field(), "early");
    assert_eq!(
        AsyncCache::<u32, u32>::builder()
            .stale_if_error(ms(5))
            .build()
            .unwrap_err()
            .field(),
        "stale_if_error"
    );
}

#[cfg(feature = "lmdb")]
#[tokio::test]
async fn stale_if_error_on_lmdb() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AsyncCache::<u32, u32>::builder()
        .backend("lmdb")
        .cache_dir(dir.path())
        .register(false)
        .ttl(ms(40))
        .stale_if_error(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert_eq!(cache.backend(), twat_acache::Backend::Lmdb);
    assert_eq!(
        cache
            .try_get_or_insert_with(1, async { Ok::<_, ()>(1) })
            .await,
        Ok(1)
    );
    tokio::time::sleep(ms(70)).await;
    let r = cache
        .try_get_or_insert_with(1, async { Err::<u32, _>("down") })
        .await;
    assert_eq!(r, Ok(1));
    assert_eq!(cache.stats().stale_served, 1);
}

#[cfg(feature = "files")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_while_revalidate_on_files() {
    let dir = tempfile::tempdir().unwrap();
    let cache = AsyncCache::<u32, u32>::builder()
        .backend("files")
        .cache_dir(dir.path())
        .register(false)
        .ttl(ms(40))
        .stale_while_revalidate(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert_eq!(cache.backend(), twat_acache::Backend::Files);
    let calls = Arc::new(AtomicUsize::new(0));
    cache.get_or_refresh_with(1, counted(&calls, 1)).await;
    tokio::time::sleep(ms(70)).await;
    assert_eq!(cache.get_or_refresh_with(1, counted(&calls, 2)).await, 1);
    eventually("the refresh stored", || cache.stats().refreshes == 1).await;
    assert_eq!(cache.get(&1).await, Some(2));
}
