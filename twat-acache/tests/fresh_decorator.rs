//! The freshness attributes on `#[acache]`, observed with call counters.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use twat_acache::acache;

static DOWN: AtomicBool = AtomicBool::new(false);
static FETCH_CALLS: AtomicUsize = AtomicUsize::new(0);

#[acache(ttl = "50ms", stale_if_error = "1h")]
async fn fetch(url: String) -> Result<String, String> {
    FETCH_CALLS.fetch_add(1, SeqCst);
    if DOWN.load(SeqCst) {
        Err("down".into())
    } else {
        Ok(format!("body of {url}"))
    }
}

#[tokio::test]
async fn stale_if_error() {
    assert_eq!(fetch("a".into()).await.unwrap(), "body of a");
    DOWN.store(true, SeqCst);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(fetch("a".into()).await.unwrap(), "body of a");
    assert_eq!(FETCH_CALLS.load(SeqCst), 2);
    assert_eq!(fetch_cache().stats().stale_served, 1);
}

static BOARD_CALLS: AtomicUsize = AtomicUsize::new(0);

#[acache(ttl = "50ms", stale_while_revalidate = "1h", force_refresh = name == "live")]
async fn board(name: &str) -> usize {
    tokio::time::sleep(Duration::from_millis(10)).await; // needs the caller's runtime
    let _ = name;
    BOARD_CALLS.fetch_add(1, SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_while_revalidate_and_force_refresh() {
    assert_eq!(board("sales").await, 0);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(board("sales").await, 0, "stale, at once");
    let start = Instant::now();
    while board_cache().stats().refreshes != 1 {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(board("sales").await, 1);
    let live = board("live").await;
    assert_eq!(board("live").await, live + 1, "forced every time");
}
